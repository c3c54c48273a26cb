/* SPDX-License-Identifier: MIT
 * trace-journey-story.c: the journey of each message in words (the
 * ladder's paragraph: "pushed by alice's client to mx.example.test:2587
 * (session 0, 250 queued as X, 12:00:01.204 UTC); ..."), the journeys
 * section after the sessions, and the {"kind":"journey"} JSON events
 * (docs/trace-json.md). The linking is in trace-journey-link.c.
 */
#include <string.h>

#include "trace-journey-private.h"
#include "trace-output.h"

/* The stories are written for every message of a capture, even under -q,
 * so their numbers are written without printf () where that is exact. */

/* @value in decimal, at least @width digits (zero-padded), at @out;
 * returns the end. */
static char *
put_number (char *out, guint64 value, guint width)
{
  char digits[20];
  guint count = 0;

  do
    {
      digits[count++] = (char) ('0' + value % 10);
      value /= 10;
    }
  while (value > 0);
  for (; width > count; width--)
    *out++ = '0';
  while (count > 0)
    *out++ = digits[--count];
  return out;
}

/* "12:00:01.204 UTC", the capture's clock, into @out (32 octets) */
static void
clock_of (char *out, gint64 time_us)
{
  gint64 seconds = time_us / G_USEC_PER_SEC;
  char *p = out;

  if (time_us < 0)
    {
      /* as printf () writes a negative time (C division truncates) */
      g_snprintf (out, 32, "%02d:%02d:%02d.%03d UTC",
                  (int) (seconds / 3600 % 24), (int) (seconds / 60 % 60),
                  (int) (seconds % 60),
                  (int) (time_us % G_USEC_PER_SEC / 1000));
      return;
    }
  p = put_number (p, (guint64) (seconds / 3600 % 24), 2);
  *p++ = ':';
  p = put_number (p, (guint64) (seconds / 60 % 60), 2);
  *p++ = ':';
  p = put_number (p, (guint64) (seconds % 60), 2);
  *p++ = '.';
  p = put_number (p, (guint64) (time_us % G_USEC_PER_SEC / 1000), 3);
  strcpy (p, " UTC");
}

/* "0.123 s later" (milliseconds below a second, else tenths), into @out
 * (48 octets). %.3f and %.1f round the binary double: a delay that
 * falls half-way between two roundings is left to printf (), which
 * alone knows which side the double lies on; every other delay rounds
 * to the nearest in whole numbers alike. */
static void
delay_of (char *out, gint64 us)
{
  double seconds = us / (double) G_USEC_PER_SEC;
  gint64 unit = seconds < 1 ? 1000 : 100000; /* a millisecond, a tenth */
  guint64 rounded;
  char *p = out;

  if (us < 0 || us % unit == unit / 2)
    {
      g_snprintf (out, 48, seconds < 1 ? "%.3f s later" : "%.1f s later",
                  seconds);
      return;
    }
  rounded = (guint64) ((us + unit / 2) / unit);
  p = put_number (p, rounded / (G_USEC_PER_SEC / unit), 1);
  *p++ = '.';
  p = put_number (p, rounded % (G_USEC_PER_SEC / unit), unit == 1000 ? 3 : 1);
  strcpy (p, " s later");
}

/* The words of a clause, one after the other (without printf: above). */
static void
put_words (GString *story, const char *const *words)
{
  for (; *words != NULL; words++)
    g_string_append (story, *words);
}

/* One clause of the story: "pushed by alice's client to
 * mx.example.test:2587 (session 0, 250 queued as X, 12:00:01.204 UTC)". */
static void
tell_hop (GString *story, const Hop *hop, const Hop *previous)
{
  char when[48];

  if (previous == NULL)
    clock_of (when, hop->time_us);
  else
    delay_of (when, hop->time_us - previous->time_us);

  if (previous != NULL)
    g_string_append (story, "; ");
  if (hop->kind == TRACE_HOP_PUSH || hop->kind == TRACE_HOP_RELAY)
    put_words (story, (const char *const[]){ "pushed by ", hop->actor, " to ",
                                             hop->target, NULL });
  else if (hop->kind == TRACE_HOP_PULL)
    put_words (story, (const char *const[]){
                          strcmp (hop->target, "POP3") == 0 ? "pulled by "
                                                            : "fetched by ",
                          hop->actor, " over ", hop->target, NULL });
  else
    put_words (story, (const char *const[]){ "seen over IMAP by ", hop->actor,
                                             " during IDLE", NULL });
  g_string_append (story, " (session ");
  trace_string_append_uint (story, hop->session->stream);
  put_words (story, (const char *const[]){ ", ", hop->label, NULL });
  if (hop->kind != TRACE_HOP_IDLE_PUSH)
    put_words (story, (const char *const[]){ ", ", when, NULL });
  if (hop->linked != NULL)
    put_words (story,
               (const char *const[]){ "; linked by ", hop->linked, NULL });
  g_string_append_c (story, ')');
}

void
trace_journey_write (TraceJourneys *journeys, GPtrArray *group, GPtrArray *hops)
{
  TraceJourney *journey = trace_journey_add (journeys);

  for (guint i = 0; i < group->len; i++)
    {
      const Sighting *sighting = group->pdata[i];
      if (journey->message_id == NULL)
        journey->message_id = g_strdup (sighting->message_id);
      if (journey->subject == NULL)
        journey->subject = g_strdup (sighting->subject);
    }
  if (journey->message_id != NULL)
    g_string_append_printf (journey->story, "message %s", journey->message_id);
  else
    g_string_append (journey->story, "a message without Message-ID");
  if (journey->subject != NULL)
    g_string_append_printf (journey->story, " (\"%s\")", journey->subject);
  g_string_append (journey->story, ": ");
  for (guint i = 0; i < hops->len; i++)
    {
      const Hop *hop = hops->pdata[i];
      tell_hop (journey->story, hop, i > 0 ? hops->pdata[i - 1] : NULL);
      trace_journey_add_hop (journey, hop->session, hop->kind, hop->time_us,
                             hop->inferred, hop->label, hop->linked);
    }
}

/* ---- output ----------------------------------------------------------- */

void
trace_journeys_print (const TraceJourneys *journeys, FILE *out)
{
  guint count = trace_journeys_count (journeys);

  if (count == 0)
    return;
  fprintf (out,
           "mw-trace: the journey of %u message%s across the sessions "
           "(linked by Message-ID, queue id and Received:, user and time):\n",
           count, count == 1 ? "" : "s");
  for (guint i = 0; i < count; i++)
    {
      g_autoptr (GString) shown = g_string_new (NULL);

      /* a subject or a Message-ID is what the sender chose it to be */
      trace_string_append_shown (
          shown, ((TraceJourney *) journeys->journeys->pdata[i])->story->str);
      fprintf (out, "  %s\n", shown->str);
    }
}

static void
append_member (GString *out, const char *name, const char *value)
{
  if (value == NULL)
    return;
  g_string_append_c (out, ',');
  trace_json_append_string (out, name);
  g_string_append_c (out, ':');
  trace_json_append_string (out, value);
}

static void
append_hop_json (GString *out, const TraceJourneyHop *hop)
{
  g_string_append (out, "{\"tcp.stream\":");
  trace_string_append_uint (out, hop->stream);
  put_words (out, (const char *const[]){ ",\"kind\":\"",
                                         trace_hop_kind_name (hop->kind),
                                         "\",\"time\":", NULL });
  trace_string_append_seconds (out, hop->time_us);
  put_words (out,
             (const char *const[]){
                 ",\"inferred\":", hop->inferred ? "true" : "false", NULL });
  append_member (out, "label", hop->label);
  append_member (out, "linked", hop->linked);
  g_string_append_c (out, '}');
}

void
trace_journeys_print_json (const TraceJourneys *journeys, FILE *out)
{
  g_autoptr (GString) line = g_string_new (NULL);

  for (guint i = 0; i < trace_journeys_count (journeys); i++)
    {
      const TraceJourney *journey = journeys->journeys->pdata[i];
      g_string_assign (line, "{\"schema\":\"" TRACE_JSON_SCHEMA "\","
                             "\"kind\":\"journey\"");
      append_member (line, "imf.message_id", journey->message_id);
      append_member (line, "imf.subject", journey->subject);
      append_member (line, "mw.journey", journey->story->str);
      g_string_append (line, ",\"mw.hops\":[");
      for (guint h = 0; h < journey->hops->len; h++)
        {
          if (h > 0)
            g_string_append_c (line, ',');
          append_hop_json (line, trace_journey_hop (journey, h));
        }
      g_string_append (line, "]}\n");
      fwrite (line->str, 1, line->len, out);
    }
}
