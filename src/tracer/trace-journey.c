/* SPDX-License-Identifier: MIT
 * trace-journey.c: what the decoders and sessions tell the journey of a
 * message (issue 12 part 2), kept as sightings until the capture ends,
 * and the read API over the linked journeys. The linking is in
 * trace-journey-link.c.
 */
#include <string.h>

#include "imap-parser.h"
#include "smtp-proto.h"
#include "trace-journey-private.h"
#include "trace-message.h"

/* ---- records -------------------------------------------------------- */

static void
session_free (gpointer data)
{
  JourneySession *session = data;

  g_free (session->server_name);
  g_free (session->helo);
  g_free (session->retr);
  g_ptr_array_unref (session->sightings);
  g_free (session);
}

static void
sighting_free (gpointer data)
{
  Sighting *sighting = data;

  g_free (sighting->message_id);
  g_free (sighting->subject);
  g_ptr_array_unref (sighting->received_ids);
  g_ptr_array_unref (sighting->received_by);
  g_free (sighting->queue_id);
  g_free (sighting->helo);
  g_free (sighting->user);
  g_free (sighting->mail_from);
  g_ptr_array_unref (sighting->recipients);
  g_free (sighting->how);
  g_free (sighting->linked);
  g_free (sighting);
}

static void
refusal_free (gpointer data)
{
  SmtpRefusal *refusal = data;

  g_free (refusal->mail_from);
  g_free (refusal);
}

static void
push_free (gpointer data)
{
  IdlePush *push = data;

  g_free (push->user);
  g_free (push);
}

static void
journey_free (gpointer data)
{
  TraceJourney *journey = data;

  for (guint i = 0; i < journey->hops->len; i++)
    {
      TraceJourneyHop *hop = &g_array_index (journey->hops, TraceJourneyHop, i);
      g_free ((char *) hop->label);
      g_free ((char *) hop->linked);
    }
  g_array_unref (journey->hops);
  g_string_free (journey->story, TRUE);
  g_free (journey->message_id);
  g_free (journey->subject);
  g_free (journey);
}

TraceJourneys *
trace_journeys_new (void)
{
  TraceJourneys *journeys = g_new0 (TraceJourneys, 1);

  journeys->sessions = g_ptr_array_new_with_free_func (session_free);
  journeys->sightings = g_ptr_array_new_with_free_func (sighting_free);
  journeys->refusals = g_ptr_array_new_with_free_func (refusal_free);
  journeys->pushes = g_ptr_array_new_with_free_func (push_free);
  journeys->journeys = g_ptr_array_new_with_free_func (journey_free);
  return journeys;
}

void
trace_journeys_free (TraceJourneys *journeys)
{
  if (journeys == NULL)
    return;
  g_ptr_array_unref (journeys->journeys);
  g_ptr_array_unref (journeys->pushes);
  g_ptr_array_unref (journeys->refusals);
  g_ptr_array_unref (journeys->sightings);
  g_ptr_array_unref (journeys->sessions);
  g_free (journeys);
}

JourneySession *
trace_journey_session_get (TraceJourneys *journeys, TraceSession *session)
{
  JourneySession *record = session->journey;

  if (record == NULL)
    {
      record = g_new0 (JourneySession, 1);
      record->stream = session->flow->id;
      record->first_us = session->flow->first_us;
      record->server_port = session->flow->server_port;
      record->sightings = g_ptr_array_new ();
      g_ptr_array_add (journeys->sessions, record);
      session->journey = record;
    }
  record->protocol = session->protocol;
  record->last_us = session->now_us;
  return record;
}

void
trace_journey_session_closed (TraceSession *session)
{
  TraceJourneys *journeys = session->options->journeys;
  JourneySession *record;

  if (journeys == NULL)
    return;
  record = trace_journey_session_get (journeys, session);
  record->octets = session->octets[0] + session->octets[1];
  record->encrypted = session->tls && !session->decrypted;
}

/* ---- what decoders report -------------------------------------------- */

#define RECEIVED_SPACE " \t\r\n;"

/* RFC 5321 §4.4: "Received: from X by HOST ... id ID ...; date": the
 * word after @keyword ("by", "id"), or "" (transfer full). Received
 * fields are not parsed further; a comment that holds the keyword would
 * fool this, and mailwire's and Postfix's fields have none. */
static char *
received_word (const char *value, const char *keyword)
{
  gsize length = strlen (keyword);
  const char *p = value;

  while (*p != '\0')
    {
      gsize word;
      p += strspn (p, RECEIVED_SPACE);
      word = strcspn (p, RECEIVED_SPACE);
      if (word == length && g_ascii_strncasecmp (p, keyword, length) == 0)
        {
          p += word;
          p += strspn (p, RECEIVED_SPACE);
          return g_strndup (p, strcspn (p, RECEIVED_SPACE));
        }
      p += word;
    }
  return g_strdup ("");
}

static Sighting *
sighting_new (TraceJourneys *journeys,
              SightingKind kind,
              TraceSession *session,
              TraceMessage *message)
{
  Sighting *sighting = g_new0 (Sighting, 1);

  sighting->kind = kind;
  sighting->session = trace_journey_session_get (journeys, session);
  sighting->time_us = session->now_us;
  sighting->received_ids = g_ptr_array_new_with_free_func (g_free);
  sighting->received_by = g_ptr_array_new_with_free_func (g_free);
  sighting->recipients = g_ptr_array_new_with_free_func (g_free);
  sighting->group = journeys->sightings->len;
  g_ptr_array_add (sighting->session->sightings, sighting);
  if (message != NULL)
    {
      sighting->message_id = g_strdup (trace_message_message_id (message));
      sighting->subject = g_strdup (trace_message_subject (message));
      sighting->size = trace_message_size (message);
      for (guint i = 0; i < trace_message_received_count (message); i++)
        {
          const char *value = trace_message_received (message, i);
          g_ptr_array_add (sighting->received_ids, received_word (value, "id"));
          g_ptr_array_add (sighting->received_by, received_word (value, "by"));
        }
    }
  g_ptr_array_add (journeys->sightings, sighting);
  return sighting;
}

/* The queue id in a 250 to the text: mw-smtpd says "message ID accepted"
 * (smtp-session-data.c), Postfix "Ok: queued as ID". NULL if neither. */
static char *
queue_id_of (const char *text)
{
  const char *p = strstr (text, "queued as ");

  if (p != NULL)
    p += strlen ("queued as ");
  else if ((p = strstr (text, "message ")) != NULL)
    {
      const char *end;
      p += strlen ("message ");
      end = p + strcspn (p, " ");
      if (!g_str_has_prefix (end, " accepted"))
        return NULL;
    }
  else
    return NULL;
  if (*p == '\0' || *p == ' ')
    return NULL;
  return g_strndup (p, strcspn (p, " ;,"));
}

static void
smtp_delivered (TraceSession *session,
                TraceMessage *message,
                const char *text,
                const char *helo,
                const char *user,
                const char *mail_from,
                GPtrArray *recipients)
{
  Sighting *sighting = sighting_new (session->options->journeys, SIGHTING_SMTP,
                                     session, message);

  sighting->queue_id = queue_id_of (text);
  sighting->helo = g_strdup (helo);
  sighting->user = g_strdup (user);
  sighting->mail_from = g_strdup (mail_from);
  for (guint i = 0; recipients != NULL && i < recipients->len; i++)
    g_ptr_array_add (sighting->recipients, g_strdup (recipients->pdata[i]));
}

static void
smtp_refused (TraceSession *session, guint code, const char *mail_from)
{
  TraceJourneys *journeys = session->options->journeys;
  SmtpRefusal *refusal = g_new0 (SmtpRefusal, 1);

  refusal->session = trace_journey_session_get (journeys, session);
  refusal->time_us = session->now_us;
  refusal->code = code;
  refusal->mail_from = g_strdup (mail_from);
  g_ptr_array_add (journeys->refusals, refusal);
}

void
trace_journey_smtp_reply (TraceSession *session,
                          const char *verb,
                          guint code,
                          const char *text,
                          const char *argument,
                          TraceMessage *message,
                          const char *helo,
                          const char *user,
                          const char *mail_from,
                          GPtrArray *recipients)
{
  TraceJourneys *journeys = session->options->journeys;
  JourneySession *record;
  guint64 size = 0;
  gboolean last = FALSE;
  gboolean ends_text;

  if (journeys == NULL)
    return;
  record = trace_journey_session_get (journeys, session);
  if (helo != NULL && g_strcmp0 (record->helo, helo) != 0)
    {
      g_free (record->helo);
      record->helo = g_strdup (helo);
    }
  if (verb == NULL)
    {
      /* RFC 5321 §4.3.1: "220 " domain [SP text] */
      if (code == SMTP_REPLY_SERVICE_READY && record->server_name == NULL)
        record->server_name = g_strndup (text, strcspn (text, " "));
      return;
    }
  if (strcmp (verb, "BDAT") == 0 && argument != NULL)
    smtp_proto_parse_bdat (argument, &size, &last);
  ends_text =
      strcmp (verb, ".") == 0 ||
      (strcmp (verb, "BDAT") == 0 && (last || !smtp_reply_is_positive (code)));
  if (ends_text && smtp_reply_is_positive (code))
    smtp_delivered (session, message, text, helo, user, mail_from, recipients);
  /* RFC 5321 §4.2.1: 4yz, a transient failure: the sender tries again */
  else if (code >= 400 && code < 500 &&
           (ends_text || strcmp (verb, "MAIL") == 0 ||
            strcmp (verb, "RCPT") == 0 || strcmp (verb, "DATA") == 0))
    smtp_refused (session, code, mail_from);
}

void
trace_journey_pop3_response (TraceSession *session,
                             const char *verb,
                             const char *argument,
                             gboolean ok,
                             const char *user)
{
  TraceJourneys *journeys = session->options->journeys;
  JourneySession *record;

  if (journeys == NULL || verb == NULL || !ok || argument == NULL)
    return;
  record = trace_journey_session_get (journeys, session);
  if (strcmp (verb, "RETR") == 0 || strcmp (verb, "TOP") == 0)
    {
      g_free (record->retr);
      record->retr = trace_strdup_printf ("%s %s", verb, argument);
      return;
    }
  if (strcmp (verb, "DELE") != 0)
    return;
  /* RFC 1939 §5: DELE msg; the message RETR msg downloaded */
  for (guint i = 0; i < record->sightings->len; i++)
    {
      Sighting *sighting = record->sightings->pdata[i];
      if (sighting->how != NULL && g_str_has_prefix (sighting->how, "RETR ") &&
          strcmp (sighting->how + strlen ("RETR "), argument) == 0)
        sighting->deleted = TRUE;
    }
}

void
trace_journey_pulled (TraceSession *session,
                      TraceDirection direction,
                      TraceMessage *message,
                      const char *user)
{
  TraceJourneys *journeys = session->options->journeys;
  Sighting *sighting;

  /* a literal with neither (BODY[HEADER.FIELDS (Subject)]) links to
   * nothing and tells no journey */
  if (journeys == NULL || message == NULL ||
      direction != TRACE_SERVER_TO_CLIENT ||
      (trace_message_message_id (message) == NULL &&
       trace_message_received_count (message) == 0))
    return;
  sighting = sighting_new (journeys, SIGHTING_PULL, session, message);
  sighting->user = g_strdup (user);
  if (session->protocol == TRACE_PROTO_POP3 && sighting->session->retr != NULL)
    sighting->how = g_strdup (sighting->session->retr);
  else
    {
      sighting->how = g_strdup ("FETCH");
      sighting->session->fetched = sighting; /* its response goes on */
    }
}

void
trace_journey_imap_untagged (TraceSession *session,
                             const char *keyword,
                             guint32 number,
                             gboolean idle,
                             const char *user)
{
  TraceJourneys *journeys = session->options->journeys;
  IdlePush *push;

  /* RFC 9051 §7.4.1: "* N EXISTS", the mailbox now holds N messages */
  if (journeys == NULL || !idle || g_strcmp0 (keyword, "EXISTS") != 0)
    return;
  push = g_new0 (IdlePush, 1);
  push->session = trace_journey_session_get (journeys, session);
  push->time_us = session->now_us;
  push->number = number;
  push->user = g_strdup (user);
  g_ptr_array_add (journeys->pushes, push);
}

/* The values of a FETCH response's items (RFC 9051 §7.5.2). */
typedef struct
{
  guint64 uid;
  guint64 size;            /* RFC822.SIZE */
  const ImapArg *envelope; /* ENVELOPE (...), or NULL */
  gboolean literal;        /* some value was a literal */
} FetchItems;

static void
fetch_items_read (GPtrArray *args, FetchItems *out)
{
  const ImapArg *items = args->len == 1 ? args->pdata[0] : NULL;

  if (items == NULL || items->type != IMAP_ARG_LIST)
    return;
  for (guint i = 0; i + 1 < items->list->len; i += 2)
    {
      const ImapArg *name = items->list->pdata[i];
      const ImapArg *value = items->list->pdata[i + 1];
      out->literal = out->literal || value->type == IMAP_ARG_LITERAL;
      if (imap_arg_is_atom (name, "UID") && value->type == IMAP_ARG_ATOM)
        out->uid = g_ascii_strtoull (value->data, NULL, 10);
      else if (imap_arg_is_atom (name, "RFC822.SIZE") &&
               value->type == IMAP_ARG_ATOM)
        out->size = g_ascii_strtoull (value->data, NULL, 10);
      else if (imap_arg_is_atom (name, "ENVELOPE") &&
               value->type == IMAP_ARG_LIST && value->list->len >= 10)
        out->envelope = value;
    }
}

/* RFC 9051 §7.5.2: envelope = "(" date SP subject SP from SP sender SP
 * reply-to SP to SP cc SP bcc SP in-reply-to SP message-id ")" */
static void
envelope_sighting (TraceSession *session,
                   guint32 number,
                   const FetchItems *items,
                   const char *user)
{
  const char *message_id = imap_arg_string (items->envelope->list->pdata[9]);
  const char *subject = imap_arg_string (items->envelope->list->pdata[1]);
  Sighting *sighting;

  if (message_id == NULL || *message_id == '\0')
    return;
  sighting =
      sighting_new (session->options->journeys, SIGHTING_PULL, session, NULL);
  sighting->message_id = g_strdup (message_id);
  sighting->subject = g_strdup (subject);
  sighting->size = items->size;
  sighting->user = g_strdup (user);
  sighting->number = number;
  sighting->how = items->uid > 0
                      ? trace_strdup_printf ("FETCH %u (UID %" G_GUINT64_FORMAT
                                             ") ENVELOPE",
                                             number, items->uid)
                      : trace_strdup_printf ("FETCH %u ENVELOPE", number);
}

void
trace_journey_imap_fetch (TraceSession *session,
                          guint32 number,
                          GPtrArray *args,
                          const char *user)
{
  TraceJourneys *journeys = session->options->journeys;
  JourneySession *record;
  Sighting *body;
  FetchItems items = { 0 };

  if (journeys == NULL)
    return;
  record = trace_journey_session_get (journeys, session);
  fetch_items_read (args, &items);
  /* a response whose literal was too big to parse is not this one */
  body = items.literal ? g_steal_pointer (&record->fetched) : NULL;
  if (body == NULL)
    {
      if (items.envelope != NULL)
        envelope_sighting (session, number, &items, user);
      return;
    }
  /* the literal of this very response held the message */
  body->number = number;
  g_free (body->how);
  if (items.uid > 0)
    body->how = trace_strdup_printf ("FETCH %u (UID %" G_GUINT64_FORMAT ")",
                                     number, items.uid);
  else
    body->how = trace_strdup_printf ("FETCH %u", number);
}

/* ---- the read API ----------------------------------------------------- */

TraceJourney *
trace_journey_add (TraceJourneys *journeys)
{
  TraceJourney *journey = g_new0 (TraceJourney, 1);

  journey->hops = g_array_new (FALSE, TRUE, sizeof (TraceJourneyHop));
  journey->story = g_string_new (NULL);
  g_ptr_array_add (journeys->journeys, journey);
  return journey;
}

void
trace_journey_add_hop (TraceJourney *journey,
                       const JourneySession *session,
                       TraceHopKind kind,
                       gint64 time_us,
                       gboolean inferred,
                       const char *label,
                       const char *linked)
{
  TraceJourneyHop hop = { session->stream,  kind,
                          time_us,          inferred,
                          g_strdup (label), g_strdup (linked) };

  g_array_append_val (journey->hops, hop);
}

guint
trace_journeys_count (const TraceJourneys *journeys)
{
  return journeys->finished ? journeys->journeys->len : 0;
}

const TraceJourney *
trace_journeys_get (const TraceJourneys *journeys, guint index)
{
  g_return_val_if_fail (index < trace_journeys_count (journeys), NULL);
  return journeys->journeys->pdata[index];
}

const char *
trace_journey_message_id (const TraceJourney *journey)
{
  return journey->message_id;
}

const char *
trace_journey_subject (const TraceJourney *journey)
{
  return journey->subject;
}

guint
trace_journey_hop_count (const TraceJourney *journey)
{
  return journey->hops->len;
}

const TraceJourneyHop *
trace_journey_hop (const TraceJourney *journey, guint index)
{
  g_return_val_if_fail (index < journey->hops->len, NULL);
  return &g_array_index (journey->hops, TraceJourneyHop, index);
}

const char *
trace_hop_kind_name (TraceHopKind kind)
{
  switch (kind)
    {
    case TRACE_HOP_PUSH:
      return "push";
    case TRACE_HOP_RELAY:
      return "relay";
    case TRACE_HOP_PULL:
      return "pull";
    case TRACE_HOP_IDLE_PUSH:
      return "idle-push";
    default:
      g_assert_not_reached ();
    }
}
