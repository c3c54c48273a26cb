/* SPDX-License-Identifier: MIT
 * trace-journey.h: the journey of a message across the sessions of one
 * capture (issue 12 part 2): pushed by a client, relayed from MTA to MTA,
 * pulled over POP3 or IMAP, pushed to a client in IDLE. The decoders tell
 * the journey what they already know (the reply to the message text, the
 * message they summarised, a pull, an IDLE push); the sessions tell it
 * their endpoints, times, octets and TLS state. When the capture has
 * ended, the sightings are linked into one journey per message:
 *   - the same Message-ID (RFC 5322 §3.6.4) in DATA/BDAT, RETR or FETCH;
 *   - the queue id a server gave in its 250 to the text, found again in
 *     a Received: field downstream (RFC 5321 §4.4: "with ... id X");
 *   - the recipient's local part and the user of a POP3/IMAP session;
 *   - for an encrypted session without keys, only time and Received:
 *     such a hop is "inferred" and says so.
 * The ladder prints a "journeys" section after the sessions, JSON one
 * {"kind":"journey"} event per message (docs/trace-json.md), and --svg
 * draws each journey as a thread through the lanes.
 */
#pragma once

#include <stdio.h>

#include "trace-session.h"

G_BEGIN_DECLS

typedef struct _TraceMessage TraceMessage; /* trace-message.h */

/* ---- the read API (stable: trace-svg.c draws from it) ---------------- */

typedef enum
{
  TRACE_HOP_PUSH,      /* a client handed it to a server (SMTP) */
  TRACE_HOP_RELAY,     /* a server handed it on to the next (SMTP) */
  TRACE_HOP_PULL,      /* a client downloaded it (POP3 RETR, IMAP FETCH) */
  TRACE_HOP_IDLE_PUSH, /* the server told a client in IDLE (EXISTS) */
} TraceHopKind;

/* One hop of a journey. Strings belong to the journey. */
typedef struct
{
  guint stream;       /* tcp.stream of the session: TcpFlow id, the [N] */
  TraceHopKind kind;  /* what happened */
  gint64 time_us;     /* the 250 to the text, the end of RETR/FETCH, the
                       * pushed EXISTS; capture time, microseconds */
  gboolean inferred;  /* encrypted and not decrypted: linked by time */
  const char *label;  /* short: "250 queued as X", "RETR 1, then DELE" */
  const char *linked; /* what the link rests on: "Message-ID", ... */
} TraceJourneyHop;

typedef struct _TraceJourney TraceJourney; /* one message */
/* TraceJourneys (trace-session.h): all of them, in the order of their
 * first hop. */

/* The journeys are complete once trace_journeys_finish () has run:
 * tracer.c calls it after the last session closed, before
 * trace_svg_write (). Before that, trace_journeys_count () is 0. */
guint trace_journeys_count (const TraceJourneys *journeys);
/* (transfer none) */
const TraceJourney *trace_journeys_get (const TraceJourneys *journeys,
                                        guint index);
/* The Message-ID with its angle brackets, or NULL if none was seen. */
const char *trace_journey_message_id (const TraceJourney *journey);
/* The Subject, or NULL. */
const char *trace_journey_subject (const TraceJourney *journey);
/* Hops in time order. */
guint trace_journey_hop_count (const TraceJourney *journey);
const TraceJourneyHop *trace_journey_hop (const TraceJourney *journey,
                                          guint index);
/* "push", "relay", "pull", "idle-push" (the JSON names). */
const char *trace_hop_kind_name (TraceHopKind kind);

/* ---- building (tracer.c, trace-session.c) ----------------------------- */

/* (transfer full): free with trace_journeys_free (). */
TraceJourneys *trace_journeys_new (void);
void trace_journeys_free (TraceJourneys *journeys);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TraceJourneys, trace_journeys_free)

/* A session ends (trace_session_close ()): its endpoints, times, octets
 * and TLS state are kept for linking. */
void trace_journey_session_closed (TraceSession *session);
/* Links what was seen; call once, when the capture has ended. */
void trace_journeys_finish (TraceJourneys *journeys);
/* The ladder's "journeys" section (nothing when there is no journey). */
void trace_journeys_print (const TraceJourneys *journeys, FILE *out);
/* One {"kind":"journey"} line per message. */
void trace_journeys_print_json (const TraceJourneys *journeys, FILE *out);

/* ---- what decoders report (one call each) ----------------------------- */

/* SMTP (decode-smtp.c): a complete reply to @verb @argument (NULL: the
 * greeting, or a reply to nothing), before the reply changes the
 * transaction. A BDAT's @argument says if it was the last chunk (RFC 3030
 * §2: pipelined chunks are answered one by one, after the last was
 * sent); @message: the text's summary so far (may be NULL). @helo, @user (NULL
 * unless authenticated), @mail_from and @recipients are the session's
 * and transaction's, as the decoder knows them. */
void trace_journey_smtp_reply (TraceSession *session,
                               const char *verb,
                               guint code,
                               const char *text,
                               const char *argument,
                               TraceMessage *message,
                               const char *helo,
                               const char *user,
                               const char *mail_from,
                               GPtrArray *recipients);
/* POP3 (decode-pop3.c): a response to @verb @argument; @user as given
 * with USER (or NULL). */
void trace_journey_pop3_response (TraceSession *session,
                                  const char *verb,
                                  const char *argument,
                                  gboolean ok,
                                  const char *user);
/* POP3 RETR/TOP or IMAP FETCH: the message a server sent, whole
 * (@message summarised it); @user the session's login, or NULL. */
void trace_journey_pulled (TraceSession *session,
                           TraceDirection direction,
                           TraceMessage *message,
                           const char *user);
/* IMAP (decode-imap.c): an untagged "* N @keyword" from the server;
 * @idle: the session was in IDLE (RFC 9051 §6.3.13). */
void trace_journey_imap_untagged (TraceSession *session,
                                  const char *keyword,
                                  guint32 number,
                                  gboolean idle,
                                  const char *user);

/* IMAP (decode-imap-message.c): a whole "* N FETCH" response, @args its
 * data parsed with the shared grammar (RFC 9051 §7.5.2: one list of
 * item names and values): the number, UID and size of the message its
 * literal held, or, with no body literal, the Message-ID of its ENVELOPE
 * (a sighting of its own). */
void trace_journey_imap_fetch (TraceSession *session,
                               guint32 number,
                               GPtrArray *args,
                               const char *user);

G_END_DECLS
