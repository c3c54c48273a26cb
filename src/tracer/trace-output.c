/* SPDX-License-Identifier: MIT
 * trace-output.c: the ladder (plain or coloured) and the JSON lines
 * renderer for trace events (schema in docs/trace-json.md).
 */
#include "trace-output.h"

#include <stdarg.h>
#include <string.h>

#define COLOR_RESET "\033[0m"
#define COLOR_DIM "\033[2m"
#define COLOR_CLIENT "\033[36m"  /* cyan: what the client said */
#define COLOR_OK "\033[32m"      /* green */
#define COLOR_MIDDLE "\033[34m"  /* blue: go on */
#define COLOR_ERROR "\033[31m"   /* red */
#define COLOR_WARNING "\033[33m" /* yellow: lint, gaps */
#define COLOR_BOLD "\033[1m"

typedef struct
{
  char *name;
  char *value; /* already JSON: a quoted string or a number */
} Field;

struct _TraceEvent
{
  TraceSession *session;
  int direction;
  const char *kind;
  char *text;
  GString *meaning;
  const char *rfc;
  TraceTone tone;
  GArray *fields; /* of Field */
};

TraceEvent *
trace_event_new (TraceSession *session, int direction, const char *kind)
{
  TraceEvent *event = g_new0 (TraceEvent, 1);

  event->session = session;
  event->direction = direction;
  event->kind = kind;
  event->meaning = g_string_new (NULL);
  event->fields = g_array_new (FALSE, FALSE, sizeof (Field));
  return event;
}

static void
trace_event_free (TraceEvent *event)
{
  for (guint i = 0; i < event->fields->len; i++)
    {
      Field *field = &g_array_index (event->fields, Field, i);
      g_free (field->name);
      g_free (field->value);
    }
  g_array_unref (event->fields);
  g_string_free (event->meaning, TRUE);
  g_free (event->text);
  g_free (event);
}

void
trace_event_text (TraceEvent *event, const char *text)
{
  g_free (event->text);
  event->text = g_strdup (text);
}

void
trace_event_meaning (TraceEvent *event, const MailCatalogEntry *entry)
{
  if (entry == NULL)
    return;
  if (event->meaning->len > 0)
    g_string_append (event->meaning, "; ");
  g_string_append (event->meaning, entry->meaning);
  if (event->rfc == NULL)
    event->rfc = entry->rfc;
}

void
trace_event_explain (TraceEvent *event, const char *format, ...)
{
  va_list args;

  if (event->meaning->len > 0)
    g_string_append (event->meaning, "; ");
  va_start (args, format);
  g_string_append_vprintf (event->meaning, format, args);
  va_end (args);
}

void
trace_event_rfc (TraceEvent *event, const char *rfc)
{
  event->rfc = rfc;
}

void
trace_event_tone (TraceEvent *event, TraceTone tone)
{
  event->tone = tone;
}

static void
add_field (TraceEvent *event, const char *name, char *json_value)
{
  Field field = { g_strdup (name), json_value };

  g_array_append_val (event->fields, field);
}

void
trace_event_field (TraceEvent *event, const char *name, const char *value)
{
  GString *json;

  if (value == NULL || !event->session->options->json)
    return; /* only JSON shows fields: the ladder need not build them */
  json = g_string_new (NULL);
  trace_json_append_string (json, value);
  add_field (event, name, g_string_free (json, FALSE));
}

void
trace_event_field_int (TraceEvent *event, const char *name, gint64 value)
{
  if (event->session->options->json)
    add_field (event, name, g_strdup_printf ("%" G_GINT64_FORMAT, value));
}

void
trace_json_append_string (GString *out, const char *text)
{
  g_autofree char *repaired = NULL;
  const char *p = text;

  if (!g_utf8_validate (text, -1, NULL))
    p = repaired = g_utf8_make_valid (text, -1);
  g_string_append_c (out, '"');
  while (*p != '\0')
    {
      gsize plain = 0;
      guchar c;

      /* copy runs that need no escaping in one go */
      while (p[plain] != '\0' && p[plain] != '"' && p[plain] != '\\' &&
             (guchar) p[plain] >= 0x20 && p[plain] != 0x7f)
        plain++;
      g_string_append_len (out, p, (gssize) plain);
      p += plain;
      if (*p == '\0')
        break;
      c = (guchar) *p++;
      if (c == '"' || c == '\\')
        g_string_append_printf (out, "\\%c", c);
      else if (c == '\n')
        g_string_append (out, "\\n");
      else if (c == '\r')
        g_string_append (out, "\\r");
      else if (c == '\t')
        g_string_append (out, "\\t");
      else
        g_string_append_printf (out, "\\u%04x", c);
    }
  g_string_append_c (out, '"');
}

static const char *
direction_name (int direction)
{
  return direction == TRACE_CLIENT_TO_SERVER   ? "C->S"
         : direction == TRACE_SERVER_TO_CLIENT ? "S->C"
                                               : "";
}

static void
render_json (TraceEvent *event, GString *out)
{
  TraceSession *session = event->session;
  const char *proto =
      session->decoder != NULL ? session->decoder->json_name : "tcp";

  gint64 rel = session->now_us - session->flow->first_us;

  /* integer arithmetic: printf's floating point was the slow part */
  g_string_append_printf (
      out,
      "{\"schema\":\"%s\",\"tcp.stream\":%u,"
      "\"frame.number\":%" G_GUINT64_FORMAT ",\"time\":%" G_GINT64_FORMAT
      ".%06d,\"rel\":%" G_GINT64_FORMAT ".%06d,",
      TRACE_JSON_SCHEMA, session->flow->id,
      session->options->frame != NULL ? *session->options->frame : 0,
      session->now_us / G_USEC_PER_SEC,
      (int) (session->now_us % G_USEC_PER_SEC), rel / G_USEC_PER_SEC,
      (int) (rel % G_USEC_PER_SEC));
  if (event->direction >= 0)
    g_string_append_printf (out, "\"dir\":\"%s\",",
                            direction_name (event->direction));
  g_string_append_printf (out, "\"proto\":\"%s\",\"kind\":\"%s\"", proto,
                          event->kind);
  if (event->text != NULL)
    {
      g_string_append (out, ",\"line\":");
      trace_json_append_string (out, event->text);
    }
  if (event->meaning->len > 0)
    {
      g_string_append (out, ",\"meaning\":");
      trace_json_append_string (out, event->meaning->str);
    }
  if (event->rfc != NULL)
    {
      g_string_append (out, ",\"rfc\":");
      trace_json_append_string (out, event->rfc);
    }
  for (guint i = 0; i < event->fields->len; i++)
    {
      Field *field = &g_array_index (event->fields, Field, i);
      g_string_append_c (out, ',');
      trace_json_append_string (out, field->name);
      g_string_append_printf (out, ":%s", field->value);
    }
  g_string_append (out, "}\n");
}

static const char *
tone_color (TraceTone tone, int direction)
{
  switch (tone)
    {
    case TRACE_TONE_OK:
      return COLOR_OK;
    case TRACE_TONE_INTERMEDIATE:
      return COLOR_MIDDLE;
    case TRACE_TONE_ERROR:
      return COLOR_ERROR;
    case TRACE_TONE_WARNING:
      return COLOR_WARNING COLOR_BOLD;
    case TRACE_TONE_PLAIN:
    default:
      return direction == TRACE_CLIENT_TO_SERVER ? COLOR_CLIENT : "";
    }
}

/* The ladder: client lines lean left, server lines lean right, so the
 * conversation reads like a sequence diagram:
 *   [0]   0.003  C --> S  EHLO client.test
 *                         = the client says who it is ... (RFC 5321 §4.1.1.1)
 */
static void
render_ladder (TraceEvent *event, GString *out)
{
  gboolean color = event->session->options->color;
  const char *paint = color ? tone_color (event->tone, event->direction) : "";
  const char *reset = color ? COLOR_RESET : "";
  const char *arrow = event->direction == TRACE_CLIENT_TO_SERVER   ? "C --> S"
                      : event->direction == TRACE_SERVER_TO_CLIENT ? "C <-- S"
                                                                   : "   |   ";
  const char *indent = "                        ";

  if (strcmp (event->kind, "lint") == 0)
    arrow = "  !!!  ";
  g_string_append_printf (
      out, "[%u] %8.3f  %s  %s%s%s\n", event->session->flow->id,
      trace_session_elapsed (event->session), arrow, paint,
      event->text != NULL ? event->text : event->meaning->str, reset);
  if (event->text == NULL || event->meaning->len == 0)
    {
      if (event->text == NULL && event->rfc != NULL)
        g_string_append_printf (out, "%s%s(%s)%s\n", indent,
                                color ? COLOR_DIM : "", event->rfc, reset);
      return;
    }
  g_string_append_printf (out, "%s%s= %s", indent, color ? COLOR_DIM : "",
                          event->meaning->str);
  if (event->rfc != NULL)
    g_string_append_printf (out, " (%s)", event->rfc);
  g_string_append_printf (out, "%s\n", reset);
}

void
trace_event_emit (TraceEvent *event)
{
  TraceSession *session = event->session;
  const TraceOptions *options = session->options;
  gboolean always = strcmp (event->kind, "lint") == 0 ||
                    strcmp (event->kind, "summary") == 0 ||
                    strcmp (event->kind, "gap") == 0;
  g_autoptr (GString) out = g_string_new (NULL);

  if (session->svg != NULL && event->direction >= 0 && event->text != NULL)
    trace_svg_add (session->svg, event->direction,
                   trace_session_elapsed (session), event->text,
                   event->meaning->str, event->tone);
  if (options->json)
    render_json (event, out);
  else if (!options->quiet || always)
    render_ladder (event, out);
  fwrite (out->str, 1, out->len, options->out);
  trace_event_free (event);
}

void
trace_session_lint (TraceSession *session,
                    int direction,
                    const char *rule,
                    const char *format,
                    ...)
{
  TraceEvent *event = trace_event_new (session, direction, "lint");
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  session->lint_count++;
  trace_event_explain (event, "lint: %s", message);
  trace_event_rfc (event, rule);
  trace_event_tone (event, TRACE_TONE_WARNING);
  trace_event_field (event, "lint.rule", rule);
  trace_event_field (event, "lint.message", message);
  trace_event_emit (event);
}
