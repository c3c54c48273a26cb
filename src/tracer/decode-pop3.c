/* SPDX-License-Identifier: MIT
 * decode-pop3.c: POP3 as the tracer sees it (RFC 1939 §3 states and
 * multi-line responses, §4-§7 commands; RFC 2449 CAPA, pipelining and
 * response codes; RFC 5034 AUTH; RFC 2595 §4 STLS). Vocabulary and
 * grammar come from pop3-proto.h, the same the server and client use.
 *
 * Session states (RFC 1939 §3):
 *   AUTHORIZATION --USER/PASS, APOP or AUTH +OK--> TRANSACTION
 *   TRANSACTION --QUIT +OK--> UPDATE (deletions happen only here)
 * Flow state, per response:
 *   COMMANDS --+OK to RETR/TOP/CAPA/LIST/UIDL--> MULTILINE --"."--> COMMANDS
 *   COMMANDS --AUTH + "+ "--> SASL;  COMMANDS --STLS +OK--> TLS
 */
#include <string.h>

#include "pop3-proto.h"
#include "trace-message.h"
#include "trace-output.h"

typedef enum
{
  POP3_TRACE_AUTHORIZATION, /* RFC 1939 §4 */
  POP3_TRACE_TRANSACTION,   /* RFC 1939 §5 */
  POP3_TRACE_UPDATE,        /* RFC 1939 §6 */
} Pop3TraceState;

typedef enum
{
  POP3_FLOW_COMMANDS,
  POP3_FLOW_MULTILINE, /* a multi-line response, up to "." */
  POP3_FLOW_SASL,      /* the client answers "+ " challenges */
  POP3_FLOW_TLS,
} Pop3Flow;

typedef struct
{
  char *verb;
  char *argument;
} Pop3Pending;

typedef struct
{
  Pop3TraceState state;
  Pop3Flow flow;
  GQueue pending; /* RFC 2449 §6.6: pipelined commands, answered in order */
  gboolean greeted;
  char *multiline_verb; /* the command whose multi-line body this is */
  guint multiline_lines;
  gboolean previous_crlf;
  TraceMessage *message; /* RETR/TOP body */
  char *user;
  /* the pull, for the summary */
  guint retrieved;
  guint64 retrieved_bytes;
  guint headers;       /* TOP */
  GHashTable *deleted; /* message numbers marked */
  guint undone;        /* marks cleared by RSET */
  gboolean committed;  /* QUIT +OK in TRANSACTION: UPDATE ran */
  gboolean tls;
} Pop3Trace;

static void
pending_free (gpointer data)
{
  Pop3Pending *pending = data;

  g_free (pending->verb);
  g_free (pending->argument);
  g_free (pending);
}

static gpointer
pop3_trace_new (TraceSession *session)
{
  Pop3Trace *pop3 = g_new0 (Pop3Trace, 1);

  g_queue_init (&pop3->pending);
  pop3->deleted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  pop3->previous_crlf = TRUE;
  pop3->greeted = !session->flow->saw_syn; /* begun mid-session */
  if (session->tls)
    pop3->flow = POP3_FLOW_TLS;
  return pop3;
}

static void
pop3_trace_free (gpointer state)
{
  Pop3Trace *pop3 = state;

  g_queue_clear_full (&pop3->pending, pending_free);
  g_hash_table_unref (pop3->deleted);
  trace_message_free (pop3->message);
  g_free (pop3->multiline_verb);
  g_free (pop3->user);
  g_free (pop3);
}

/* ---- client -------------------------------------------------------------- */

static gboolean
verb_in (const char *verb, const char *const *list)
{
  for (gsize i = 0; list[i] != NULL; i++)
    if (strcmp (verb, list[i]) == 0)
      return TRUE;
  return FALSE;
}

/* RFC 1939 §3: which commands each state allows. */
static void
lint_state (TraceSession *session, Pop3Trace *pop3, const char *verb)
{
  static const char *const transaction_only[] = { "STAT", "LIST", "RETR",
                                                  "DELE", "NOOP", "RSET",
                                                  "TOP",  "UIDL", NULL };
  static const char *const authorization_only[] = { "USER", "PASS", "APOP",
                                                    "AUTH", "STLS", NULL };

  if (pop3->state == POP3_TRACE_AUTHORIZATION &&
      verb_in (verb, transaction_only))
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 1939 §3",
                        "%s before logging in (AUTHORIZATION state)", verb);
  else if (pop3->state == POP3_TRACE_TRANSACTION &&
           verb_in (verb, authorization_only))
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 1939 §3",
                        "%s after logging in (TRANSACTION state)", verb);
}

/* The line with its secret masked (transfer full), or NULL when it
 * holds none to mask and is shown as sent: most lines, not copied. */
static char *
masked_line (TraceSession *session,
             const char *line,
             const char *verb,
             const char *argument)
{
  if (session->options->show_secrets || argument == NULL)
    return NULL;
  if (strcmp (verb, "PASS") == 0)
    return g_strdup_printf ("%.*s ***", (int) strcspn (line, " "), line);
  if (strcmp (verb, "AUTH") == 0 && strchr (argument, ' ') != NULL)
    {
      /* "AUTH PLAIN <initial response>": keep the mechanism */
      const char *mechanism = strchr (line, ' ') + 1;
      return g_strdup_printf ("%.*s ***",
                              (int) (strchr (mechanism, ' ') - line), line);
    }
  return NULL;
}

static void
push_pending (Pop3Trace *pop3, const char *verb, const char *argument)
{
  Pop3Pending *pending = g_new0 (Pop3Pending, 1);

  pending->verb = g_strdup (verb);
  pending->argument = g_strdup (argument);
  g_queue_push_tail (&pop3->pending, pending);
}

static void
sasl_line (TraceSession *session, Pop3Trace *pop3, const char *line)
{
  TraceEvent *event =
      trace_event_new (session, TRACE_CLIENT_TO_SERVER, "command");

  trace_event_text (
      event,
      session->options->show_secrets || strcmp (line, "*") == 0 ? line : "***");
  trace_event_explain (event, strcmp (line, "*") == 0
                                  ? "the client cancels the authentication"
                                  : "SASL response (base64, masked)");
  trace_event_rfc (event, "RFC 5034 §4");
  trace_event_emit (event);
  push_pending (pop3, "SASL", NULL);
}

static void
pop3_client_line (TraceSession *session,
                  Pop3Trace *pop3,
                  const char *line,
                  MailLineFlags flags)
{
  g_autofree char *verb = NULL;
  g_autofree char *argument = NULL;
  g_autofree char *masked = NULL;
  const char *shown = line;
  TraceEvent *event;

  if (pop3->flow == POP3_FLOW_TLS)
    return;
  if (pop3->flow == POP3_FLOW_SASL)
    {
      sasl_line (session, pop3, line);
      return;
    }
  if ((flags & MAIL_LINE_BARE_LF) != 0)
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 1939 §3",
                        "command ended by a bare LF, not CRLF");
  event = trace_event_new (session, TRACE_CLIENT_TO_SERVER, "command");
  if (!pop3_proto_split_command (line, &verb, &argument, NULL))
    {
      trace_event_text (event, line);
      trace_event_explain (event, "not a POP3 command");
      trace_event_rfc (event, "RFC 1939 §3");
      trace_event_emit (event);
      push_pending (pop3, "?", NULL);
      return;
    }
  lint_state (session, pop3, verb);
  masked = masked_line (session, line, verb, argument);
  if (masked != NULL)
    shown = masked;
  trace_event_text (event, shown);
  if (trace_event_shown (event)) /* -q: no meaning is shown */
    trace_event_meaning (event,
                         mail_catalog_find (pop3_catalog_commands, verb));
  trace_event_field (event, "pop.request.command", verb);
  if (argument != NULL)
    trace_event_field (event, "pop.request.parameter",
                       shown + strcspn (shown, " ") + 1);
  if (strcmp (verb, "USER") == 0)
    {
      g_free (pop3->user);
      pop3->user = g_strdup (argument);
    }
  if (strcmp (verb, "PASS") == 0 || strcmp (verb, "USER") == 0)
    trace_event_explain (event, "sent in plaintext unless under TLS");
  push_pending (pop3, verb, argument);
  trace_event_emit (event);
}

/* ---- server ---------------------------------------------------------------
 */

static void
multiline_end (TraceSession *session, Pop3Trace *pop3)
{
  TraceEvent *event = trace_event_new (session, TRACE_SERVER_TO_CLIENT, "data");

  trace_event_text (event, ".");
  trace_event_explain (event, "end of the %s listing, %u lines",
                       pop3->multiline_verb, pop3->multiline_lines);
  if (pop3->message != NULL)
    {

      trace_message_describe (pop3->message, event);
      if (strcmp (pop3->multiline_verb, "RETR") == 0)
        {
          pop3->retrieved++;
          pop3->retrieved_bytes += trace_message_size (pop3->message);
        }
      else
        pop3->headers++;
    }
  trace_event_rfc (event, "RFC 1939 §3");
  trace_event_emit (event);
  trace_journey_pulled (session, TRACE_SERVER_TO_CLIENT, pop3->message,
                        pop3->user);
  g_clear_pointer (&pop3->message, trace_message_free);
  pop3->flow = POP3_FLOW_COMMANDS;
}

static void
multiline_line (TraceSession *session,
                Pop3Trace *pop3,
                const char *line,
                gsize length,
                MailLineFlags flags)
{
  gboolean crlf = (flags & (MAIL_LINE_BARE_LF | MAIL_LINE_BARE_CR)) == 0;
  const char *text = line;
  gsize text_length = length;

  if (strcmp (line, ".") == 0 && crlf && pop3->previous_crlf)
    {
      multiline_end (session, pop3);
      return;
    }
  if (!crlf)
    trace_session_lint (session, TRACE_SERVER_TO_CLIENT, "RFC 1939 §3",
                        "a line of the %s response ends in a bare LF or "
                        "holds a bare CR",
                        pop3->multiline_verb);
  else if (line[0] == '.' && line[1] != '.' && line[1] != '\0')
    trace_session_lint (session, TRACE_SERVER_TO_CLIENT, "RFC 1939 §3",
                        "line starts with one \".\": not dot-stuffed");
  pop3->previous_crlf = crlf;
  pop3->multiline_lines++;
  if (line[0] == '.') /* byte-stuffed: RFC 1939 §3 */
    {
      text++;
      text_length--;
    }
  if (pop3->message != NULL)
    trace_message_feed_line (pop3->message, text, text_length);
  if (pop3->message == NULL || session->options->body)
    {
      /* the line as sent; mw.text is the line without its stuffed dot */
      TraceEvent *event =
          trace_event_new (session, TRACE_SERVER_TO_CLIENT, "data");
      trace_event_text (event, line);
      if (text != line)
        {
          trace_event_explain (event, "a stuffed dot: the line is \"%s\"",
                               text);
          trace_event_rfc (event, "RFC 1939 §3");
        }
      if (strcmp (pop3->multiline_verb, "CAPA") == 0 &&
          trace_event_shown (event))
        {
          g_autofree char *tag = g_strndup (text, strcspn (text, " "));
          trace_event_meaning (
              event, mail_catalog_find (pop3_catalog_capabilities, tag));
        }
      trace_event_field (event, "mw.text", text);
      trace_event_emit (event);
    }
}

static void
response_effects (TraceSession *session,
                  Pop3Trace *pop3,
                  Pop3Pending *answered,
                  const Pop3Response *response)
{
  const char *verb = answered != NULL ? answered->verb : "";
  gboolean ok = response->status == POP3_STATUS_OK;

  trace_journey_pop3_response (session, verb,
                               answered != NULL ? answered->argument : NULL, ok,
                               pop3->user);
  if (response->status == POP3_STATUS_CONTINUATION)
    {
      pop3->flow = POP3_FLOW_SASL;
      return;
    }
  if (pop3->flow == POP3_FLOW_SASL)
    pop3->flow = POP3_FLOW_COMMANDS;
  if (ok && (strcmp (verb, "PASS") == 0 || strcmp (verb, "APOP") == 0 ||
             strcmp (verb, "AUTH") == 0 || strcmp (verb, "SASL") == 0))
    pop3->state = POP3_TRACE_TRANSACTION;
  else if (ok && strcmp (verb, "DELE") == 0 && answered->argument != NULL)
    /* a DELE without its number the server took anyway: nothing to count
     * (RFC 1939 §5 requires one; the lint says so elsewhere) */
    g_hash_table_add (pop3->deleted, g_strdup (answered->argument));
  else if (ok && strcmp (verb, "RSET") == 0)
    {
      pop3->undone += g_hash_table_size (pop3->deleted);
      g_hash_table_remove_all (pop3->deleted);
    }
  else if (ok && strcmp (verb, "QUIT") == 0 &&
           pop3->state == POP3_TRACE_TRANSACTION)
    {
      pop3->state = POP3_TRACE_UPDATE;
      pop3->committed = TRUE;
    }
  else if (ok && strcmp (verb, "STLS") == 0)
    {
      pop3->flow = POP3_FLOW_TLS;
      pop3->tls = TRUE;
      trace_session_start_tls (session);
      return;
    }
  /* A command lost from the capture: "+OK <n> octets" is how servers
   * answer RETR (RFC 1939 §5 example), so read the body that follows. */
  if (answered != NULL && strcmp (verb, "?") == 0 && ok &&
      g_str_has_suffix (response->text, " octets"))
    {
      g_free (answered->verb);
      answered->verb = g_strdup ("RETR");
      answered->argument = g_strdup ("?");
      verb = answered->verb;
    }
  if (answered != NULL &&
      pop3_proto_is_multiline (verb, answered->argument != NULL, ok))
    {
      pop3->flow = POP3_FLOW_MULTILINE;
      pop3->multiline_lines = 0;
      pop3->previous_crlf = TRUE;
      g_free (pop3->multiline_verb);
      pop3->multiline_verb = g_strdup (verb);
      if (strcmp (verb, "RETR") == 0 || strcmp (verb, "TOP") == 0)
        pop3->message = trace_message_new (session->options->body);
    }
}

static void
status_line (TraceSession *session, Pop3Trace *pop3, const char *line)
{
  Pop3Response response = { 0 };
  TraceEvent *event =
      trace_event_new (session, TRACE_SERVER_TO_CLIENT, "reply");
  Pop3Pending *answered = NULL;
  static const char *const indicators[] = { POP3_OK, POP3_ERR, "+" };

  trace_event_text (event, line);
  if (!pop3_proto_parse_response (line, &response, NULL))
    {
      trace_event_explain (event, "not a POP3 status line");
      trace_event_rfc (event, "RFC 1939 §3");
      trace_event_tone (event, TRACE_TONE_ERROR);
      trace_event_emit (event);
      return;
    }
  if (pop3->greeted)
    answered = g_queue_pop_head (&pop3->pending);
  if (answered != NULL)
    trace_event_explain (event, "answers %s", answered->verb);
  else if (!pop3->greeted)
    trace_event_explain (event, "the greeting");
  pop3->greeted = TRUE;
  if (trace_event_shown (event)) /* -q: no meaning is shown */
    {
      trace_event_meaning (
          event,
          mail_catalog_find (pop3_catalog_status, indicators[response.status]));
      trace_event_meaning (
          event,
          mail_catalog_find (pop3_catalog_response_codes, response.code));
    }
  trace_event_tone (event, response.status == POP3_STATUS_OK ? TRACE_TONE_OK
                           : response.status == POP3_STATUS_ERR
                               ? TRACE_TONE_ERROR
                               : TRACE_TONE_INTERMEDIATE);
  trace_event_field (event, "pop.response.indicator",
                     indicators[response.status]);
  trace_event_field (event, "pop.response.description", response.text);
  if (answered != NULL)
    trace_event_field (event, "mw.answers", answered->verb);
  trace_event_emit (event);
  response_effects (session, pop3, answered, &response);
  if (answered != NULL)
    pending_free (answered);
  pop3_response_clear (&response);
}

static void
pop3_line (TraceSession *session,
           gpointer state,
           TraceDirection direction,
           const char *line,
           gsize length,
           MailLineFlags flags)
{
  Pop3Trace *pop3 = state;

  if (direction == TRACE_CLIENT_TO_SERVER)
    pop3_client_line (session, pop3, line, flags);
  else if (pop3->flow == POP3_FLOW_MULTILINE)
    multiline_line (session, pop3, line, length, flags);
  else if (pop3->flow != POP3_FLOW_TLS)
    status_line (session, pop3, line);
}

/* TraceDecoder.scan: the lines of a RETR or TOP message are events only
 * with --body, so without it the plain ones (decode-text.h) are read here
 * straight from the segment, for the message's summary, exactly as
 * multiline_line () reads them; the others are left to it. */
static gsize
pop3_scan (TraceSession *session,
           gpointer state,
           TraceDirection direction,
           const guint8 *data,
           gsize length)
{
  Pop3Trace *pop3 = state;
  guint lines = 0;
  gsize used;

  if (direction != TRACE_SERVER_TO_CLIENT ||
      pop3->flow != POP3_FLOW_MULTILINE || pop3->message == NULL ||
      session->options->body)
    return 0;
  used = trace_message_feed_text (pop3->message, data, length, &lines);
  pop3->multiline_lines += lines;
  session->lines[direction] += lines;
  if (used > 0)
    pop3->previous_crlf = TRUE;
  return used;
}

static void
pop3_raw (TraceSession *session,
          gpointer state,
          TraceDirection direction,
          const guint8 *data,
          gsize length,
          gboolean last)
{
  /* POP3 has no counted data: every body is dot-terminated. */
}

static void
pop3_gap (TraceSession *session,
          gpointer state,
          TraceDirection direction,
          guint64 missing)
{
  Pop3Trace *pop3 = state;

  if (direction == TRACE_SERVER_TO_CLIENT && pop3->flow != POP3_FLOW_MULTILINE)
    g_queue_clear_full (&pop3->pending, pending_free);
  /* A lost command still gets a response: keep the pairing in step. */
  if (direction == TRACE_CLIENT_TO_SERVER && pop3->flow != POP3_FLOW_SASL &&
      pop3->flow != POP3_FLOW_TLS)
    push_pending (pop3, "?", NULL);
}

static void
pop3_finish (TraceSession *session, gpointer state)
{
  Pop3Trace *pop3 = state;
  TraceEvent *event = trace_event_new (session, -1, "summary");
  guint deleted = g_hash_table_size (pop3->deleted);

  if (pop3->flow == POP3_FLOW_MULTILINE)
    trace_session_lint (session, TRACE_SERVER_TO_CLIENT, "RFC 1939 §3",
                        "the %s multi-line response was not ended by a "
                        "lone \".\"",
                        pop3->multiline_verb);
  trace_event_explain (
      event,
      "pull: user \"%s\" %s; downloaded %u message%s "
      "(%" G_GUINT64_FORMAT " bytes) with RETR",
      pop3->user != NULL ? pop3->user : "-",
      pop3->state != POP3_TRACE_AUTHORIZATION ? "logged in" : "did not log in",
      pop3->retrieved, pop3->retrieved == 1 ? "" : "s", pop3->retrieved_bytes);
  if (pop3->headers > 0)
    trace_event_explain (event, "%u headers with TOP", pop3->headers);
  if (pop3->committed)
    trace_event_explain (event,
                         "%u deleted at QUIT (UPDATE), the rest kept "
                         "on the server",
                         deleted);
  else
    trace_event_explain (event, "no UPDATE state: %s",
                         deleted > 0 ? "marked deletions were not made"
                                     : "all messages kept");
  if (pop3->undone > 0)
    trace_event_explain (event, "%u deletion%s undone by RSET", pop3->undone,
                         pop3->undone == 1 ? "" : "s");
  if (pop3->tls && session->decrypted)
    trace_event_explain (event, "STLS: the rest was decrypted with the key "
                                "log");
  else if (pop3->tls)
    trace_event_explain (event, "STLS: the rest is encrypted");
  trace_event_explain (event, "%.3f s", trace_session_elapsed (session));
  if (session->lint_count > 0)
    trace_event_explain (event, "%u lint findings", session->lint_count);
  trace_event_field (event, "mw.session", "pull");
  trace_event_field_int (event, "mw.messages", pop3->retrieved);
  trace_event_field_int (event, "mw.bytes", (gint64) pop3->retrieved_bytes);
  trace_event_field_int (event, "mw.deleted", pop3->committed ? deleted : 0);
  trace_event_field_int (event, "mw.lint", session->lint_count);
  trace_event_emit (event);
}

/* RFC 2595 §4: after STLS the session goes on in the AUTHORIZATION
 * state, its commands now inside TLS. */
static void
pop3_tls_readable (TraceSession *session, gpointer state)
{
  Pop3Trace *pop3 = state;

  pop3->flow = POP3_FLOW_COMMANDS;
}

const TraceDecoder trace_decoder_pop3 = {
  .name = "POP3",
  .json_name = "pop",
  .state_new = pop3_trace_new,
  .state_free = pop3_trace_free,
  .line = pop3_line,
  .raw = pop3_raw,
  .scan = pop3_scan,
  .gap = pop3_gap,
  .finish = pop3_finish,
  .tls_readable = pop3_tls_readable,
};
