/* SPDX-License-Identifier: MIT
 * decode-smtp.c: SMTP as the tracer sees it, both directions (RFC 5321
 * §4.1 commands, §4.2 replies, §4.5.2 dot-stuffing, §3.3 transactions;
 * RFC 2920 pipelining; RFC 3030 BDAT; RFC 4954 AUTH; RFC 4616 PLAIN;
 * RFC 3207 STARTTLS; RFC 2034 enhanced codes). Vocabulary and grammar
 * come from smtp-proto.h, the same the server and the client use.
 *
 * Flow state, from the client's side of the wire:
 *   COMMANDS --DATA + 354--> DATA --"." CRLF--> COMMANDS
 *   COMMANDS --AUTH + 334--> SASL --235/5xx--> COMMANDS
 *   COMMANDS --STARTTLS + 220--> TLS (records from then on)
 * Replies are matched to commands in the order the commands were sent
 * (RFC 2920 §3.1), so a pipelined batch reads as pairs.
 */
#include <string.h>

#include "decode-smtp-private.h"
#include "smtp-proto.h"

static void
pending_free (gpointer data)
{
  SmtpPending *pending = data;

  g_free (pending->verb);
  g_free (pending->argument);
  trace_message_free (pending->message);
  g_free (pending);
}

static void
held_free (gpointer data)
{
  SmtpHeld *held = data;

  g_free (held->line);
  g_free (held);
}

static gpointer
smtp_trace_new (TraceSession *session)
{
  SmtpTrace *smtp = g_new0 (SmtpTrace, 1);

  g_queue_init (&smtp->pending);
  g_queue_init (&smtp->held);
  smtp->recipients = g_ptr_array_new_with_free_func (g_free);
  smtp->deliveries = g_string_new (NULL);
  smtp->previous_crlf = TRUE;
  if (session->tls)
    smtp->state = SMTP_TRACE_TLS;
  if (!session->flow->saw_syn)
    {
      /* Begun mid-session: the greeting and the commands before are
       * unknown, so replies to them are expected and order is not
       * judged until the next transaction. */
      smtp->greeted = TRUE;
      smtp->midstream = TRUE;
      smtp->mail_sent = TRUE;
      smtp->helo = g_strdup ("(before the capture)");
    }
  return smtp;
}

static void
smtp_trace_free (gpointer state)
{
  SmtpTrace *smtp = state;

  g_queue_clear_full (&smtp->pending, pending_free);
  g_queue_clear_full (&smtp->held, held_free);
  g_ptr_array_unref (smtp->recipients);
  g_string_free (smtp->deliveries, TRUE);
  trace_message_free (smtp->message);
  g_free (smtp->mail_from);
  g_free (smtp->mechanism);
  g_free (smtp->challenge);
  g_free (smtp->user);
  g_free (smtp->helo);
  g_free (smtp);
}

void
smtp_trace_push_pending (SmtpTrace *smtp,
                         const char *verb,
                         const char *argument)
{
  SmtpPending *pending = g_new0 (SmtpPending, 1);

  pending->verb = g_strdup (verb);
  pending->argument = g_strdup (argument);
  g_queue_push_tail (&smtp->pending, pending);
}

static gboolean
pending_has (SmtpTrace *smtp, const char *verb)
{
  for (GList *l = smtp->pending.head; l != NULL; l = l->next)
    if (strcmp (((SmtpPending *) l->data)->verb, verb) == 0)
      return TRUE;
  return FALSE;
}

/* What the replies made of the transaction: its sender and recipients. */
static void
transaction_reset_replies (SmtpTrace *smtp)
{
  g_clear_pointer (&smtp->mail_from, g_free);
  g_ptr_array_set_size (smtp->recipients, 0);
}

static void
transaction_reset (SmtpTrace *smtp)
{
  smtp->mail_sent = FALSE;
  transaction_reset_replies (smtp);
  g_clear_pointer (&smtp->message, trace_message_free);
  smtp->bdat_last = FALSE;
}

/* The LAST chunk has been sent whole (RFC 3030 §2): for the client the
 * transaction is over. Its message waits for the reply with its BDAT
 * command, the newest one pending, so that a next transaction pipelined
 * behind it (RFC 3030 §4) starts a message of its own. */
static void
bdat_message_sent (SmtpTrace *smtp)
{
  SmtpPending *pending = g_queue_peek_tail (&smtp->pending);

  smtp->bdat_last = FALSE;
  smtp->mail_sent = FALSE;
  if (pending == NULL || strcmp (pending->verb, "BDAT") != 0)
    return;
  trace_message_free (pending->message);
  pending->message = g_steal_pointer (&smtp->message);
}

/* ---- SASL (RFC 4954 §4, RFC 4616 PLAIN, LOGIN) ------------------------ */

static char *
decode_base64_text (const char *text)
{
  gsize length = 0;
  guchar *raw = NULL;
  char *out;

  if (text == NULL || *text == '\0' || strcmp (text, "=") == 0)
    return g_strdup ("");
  raw = g_base64_decode (text, &length);
  out = g_strndup ((const char *) raw, length);
  explicit_bzero (raw, length);
  g_free (raw);
  return out;
}

/* RFC 4616 §2: [authzid] NUL authcid NUL passwd */
static void
explain_plain (TraceSession *session,
               SmtpTrace *smtp,
               TraceEvent *event,
               const char *base64)
{
  gsize length = 0;
  g_autofree guchar *raw = g_base64_decode (base64, &length);
  const char *authzid = (const char *) raw;
  const char *user;
  const char *password;

  if (raw == NULL || length == 0 || memchr (raw, '\0', length) == NULL)
    {
      trace_event_explain (event, "not a PLAIN response (RFC 4616 §2)");
      return;
    }
  user = memchr (raw, '\0', length);
  user++;
  password = memchr (user, '\0', length - (user - authzid));
  if (password == NULL)
    {
      trace_event_explain (event, "PLAIN response without a password");
      return;
    }
  password++;
  g_free (smtp->user);
  smtp->user = g_strndup (user, password - 1 - user);
  trace_event_explain (event,
                       "PLAIN credentials, only base64 (RFC 4616 §2): user "
                       "\"%s\", password %s%.*s%s",
                       smtp->user, session->options->show_secrets ? "\"" : "",
                       session->options->show_secrets
                           ? (int) (length - (password - authzid))
                           : 3,
                       session->options->show_secrets ? password : "***",
                       session->options->show_secrets ? "\"" : "");
  trace_event_field (event, "smtp.auth.username", smtp->user);
  if (session->options->show_secrets)
    trace_event_field (event, "smtp.auth.password", password);
  explicit_bzero (raw, length);
}

static void
sasl_response (TraceSession *session, SmtpTrace *smtp, const char *line)
{
  TraceEvent *event =
      trace_event_new (session, TRACE_CLIENT_TO_SERVER, "command");
  gboolean secret =
      smtp->challenge != NULL && g_strrstr (smtp->challenge, "assword") != NULL;
  gboolean plain = g_ascii_strcasecmp (smtp->mechanism, "PLAIN") == 0;
  gboolean show = session->options->show_secrets;

  smtp_trace_push_pending (smtp, "SASL", NULL);
  trace_event_rfc (event, "RFC 4954 §4");
  if (strcmp (line, "*") == 0)
    {
      trace_event_text (event, line);
      trace_event_explain (event, "the client cancels the authentication");
    }
  else if (plain)
    {
      trace_event_text (event, show ? line : "***");
      explain_plain (session, smtp, event, line);
    }
  else
    {
      g_autofree char *decoded = decode_base64_text (line);
      trace_event_text (event, show || !secret ? line : "***");
      trace_event_explain (event, "SASL response, base64 of %s%s%s",
                           secret && !show ? "" : "\"",
                           secret && !show ? "the password (masked)" : decoded,
                           secret && !show ? "" : "\"");
      if (!secret)
        {
          g_free (smtp->user);
          smtp->user = g_strdup (decoded);
          trace_event_field (event, "smtp.auth.username", decoded);
        }
      else if (show)
        trace_event_field (event, "smtp.auth.password", decoded);
      explicit_bzero (decoded, strlen (decoded));
    }
  trace_event_emit (event);
}

/* ---- commands ---------------------------------------------------------- */

/* RFC 5321 §4.1.4 and §3.3: the order a transaction must follow. */
static void
lint_order (TraceSession *session, SmtpTrace *smtp, const char *verb)
{
  if (strcmp (verb, "MAIL") == 0 && smtp->helo == NULL &&
      !pending_has (smtp, "EHLO") && !pending_has (smtp, "HELO"))
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 5321 §4.1.4",
                        "MAIL before EHLO/HELO");
  else if (strcmp (verb, "MAIL") == 0 && smtp->mail_sent)
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 5321 §4.1.1.2",
                        "MAIL inside a transaction that is still open");
  else if (strcmp (verb, "RCPT") == 0 && !smtp->mail_sent)
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 5321 §4.1.4",
                        "RCPT before MAIL: the server must answer 503");
  else if ((strcmp (verb, "DATA") == 0 || strcmp (verb, "BDAT") == 0) &&
           (!smtp->mail_sent ||
            (smtp->recipients->len == 0 && !pending_has (smtp, "RCPT"))))
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 5321 §4.1.4",
                        "%s without an accepted MAIL and RCPT", verb);
}

static void
lint_command_line (TraceSession *session,
                   SmtpTrace *smtp,
                   gsize length,
                   MailLineFlags flags)
{
  if ((flags & MAIL_LINE_BARE_LF) != 0)
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 5321 §2.3.8",
                        "command ended by a bare LF, not CRLF");
  if ((flags & MAIL_LINE_BARE_CR) != 0)
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 5321 §2.3.8",
                        "a bare CR inside a command");
  if (length + 2 > MAIL_LINE_MAX_SMTP_COMMAND)
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 5321 §4.5.3.1.4",
                        "command line of %" G_GSIZE_FORMAT
                        " octets (limit 512 with CRLF)",
                        length + 2);
  if (pending_has (smtp, "STARTTLS"))
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 3207 §4",
                        "command sent after STARTTLS before its reply: it "
                        "travels in plaintext (RFC 2920 §3.1: STARTTLS ends "
                        "a pipelined group)");
}

/* What the line looks like on the ladder: AUTH arguments are masked
 * (transfer full); NULL when nothing is, and the line is shown as sent
 * (most lines: not copied). */
static char *
masked_command (TraceSession *session,
                const char *line,
                const char *verb,
                const char *arguments)
{
  g_auto (GStrv) words = NULL;

  if (strcmp (verb, "AUTH") != 0 || session->options->show_secrets)
    return NULL;
  words = g_strsplit (arguments, " ", 2);
  if (words[0] == NULL || words[1] == NULL)
    return NULL;
  return g_strdup_printf ("%.*s%s ***", (int) (arguments - line), line,
                          words[0]);
}

static void
command_effects (TraceSession *session,
                 SmtpTrace *smtp,
                 TraceEvent *event,
                 const char *verb,
                 const char *arguments)
{
  if (strcmp (verb, "MAIL") == 0)
    smtp->mail_sent = TRUE;
  else if (strcmp (verb, "AUTH") == 0)
    {
      g_auto (GStrv) words = g_strsplit (arguments, " ", 2);
      g_free (smtp->mechanism);
      smtp->mechanism = g_strdup (words[0] != NULL ? words[0] : "");
      g_clear_pointer (&smtp->challenge, g_free);
      if (words[0] != NULL && words[1] != NULL &&
          g_ascii_strcasecmp (words[0], "PLAIN") == 0)
        explain_plain (session, smtp, event, words[1]);
    }
  else if (strcmp (verb, "BDAT") == 0)
    {
      /* RFC 3030 §2: BDAT chunk-size [SP "LAST"]; the octets follow. The
       * grammar is mw-smtpd's (smtp_proto_parse_bdat ()). */
      guint64 size = 0;
      gboolean last = FALSE;

      if (!smtp_proto_parse_bdat (arguments, &size, &last))
        {
          trace_event_explain (event, "not BDAT <octets> [LAST] (RFC 3030 §2): "
                                      "nobody can tell where its octets end");
          return;
        }
      smtp->bdat_last = last;
      if (smtp->message == NULL)
        smtp->message = trace_message_new (session->options->body);
      trace_event_explain (event, "%" G_GUINT64_FORMAT " octets follow%s", size,
                           smtp->bdat_last ? ", the last chunk" : "");
      trace_session_expect_raw (session, TRACE_CLIENT_TO_SERVER, size);
    }
}

static void
client_command (TraceSession *session,
                SmtpTrace *smtp,
                const char *line,
                gsize length,
                MailLineFlags flags)
{
  g_autofree char *verb = NULL;
  g_autofree char *masked = NULL;
  const char *shown = line;
  g_autofree char *as_sent = g_strndup (line, strcspn (line, " "));
  const char *arguments = "";
  const MailCatalogEntry *info;
  TraceEvent *event;

  lint_command_line (session, smtp, length, flags);
  if (!smtp_proto_split_command (line, &verb, &arguments))
    {
      event = trace_event_new (session, TRACE_CLIENT_TO_SERVER, "command");
      trace_event_text (event, line);
      trace_event_explain (event, "not an SMTP command");
      trace_event_rfc (event, "RFC 5321 §4.1.1");
      trace_event_emit (event);
      smtp_trace_push_pending (smtp, "?", line);
      return;
    }
  lint_order (session, smtp, verb);
  masked = masked_command (session, line, verb, arguments);
  if (masked != NULL)
    shown = masked;
  event = trace_event_new (session, TRACE_CLIENT_TO_SERVER, "command");
  trace_event_text (event, shown);
  info = smtp_proto_command_info (verb);
  if (info != NULL)
    trace_event_meaning (event, info);
  else
    trace_event_explain (event, "a command this tracer does not know");
  /* Wireshark keeps the verb as sent (smtp.req.command) */
  trace_event_field (event, "smtp.req.command", as_sent);
  if (*arguments != '\0')
    trace_event_field (event, "smtp.req.parameter", shown + (arguments - line));
  command_effects (session, smtp, event, verb, arguments);
  smtp_trace_push_pending (smtp, verb, arguments);
  trace_event_emit (event);
  /* BDAT 0 LAST: no octets follow, so smtp_raw () will not say it */
  if (strcmp (verb, "BDAT") == 0 && smtp->bdat_last &&
      session->raw_remaining[TRACE_CLIENT_TO_SERVER] == 0)
    bdat_message_sent (smtp);
}

/* ---- client lines -------------------------------------------------------- */

static void
smtp_client_line (TraceSession *session,
                  SmtpTrace *smtp,
                  const char *line,
                  gsize length,
                  MailLineFlags flags)
{
  switch (smtp->state)
    {
    case SMTP_TRACE_DATA:
      smtp_trace_data_line (session, smtp, line, length, flags);
      return;
    case SMTP_TRACE_SASL:
      sasl_response (session, smtp, line);
      return;
    case SMTP_TRACE_TLS:
      return;
    case SMTP_TRACE_COMMANDS:
    default:
      break;
    }
  /* Behind a DATA in flight a line is text or a command depending on the
   * reply (354 or not), so it waits for that reply. */
  if (pending_has (smtp, "DATA") &&
      g_queue_get_length (&smtp->held) < SMTP_TRACE_MAX_HELD)
    {
      SmtpHeld *held = g_new0 (SmtpHeld, 1);
      held->line = g_memdup2 (line, length + 1);
      held->length = length;
      held->flags = flags;
      held->time_us = session->now_us;
      g_queue_push_tail (&smtp->held, held);
      return;
    }
  client_command (session, smtp, line, length, flags);
}

static void
release_held (TraceSession *session, SmtpTrace *smtp)
{
  gint64 now = session->now_us;
  GQueue waiting = smtp->held;
  SmtpHeld *held;

  /* Take the lines held so far. Behind a second pipelined DATA a line
   * must wait again: it is held anew, for that DATA's reply, and not
   * taken again here (before, it went round this loop forever). */
  g_queue_init (&smtp->held);
  while ((held = g_queue_pop_head (&waiting)) != NULL)
    {
      session->now_us = held->time_us;
      smtp_client_line (session, smtp, held->line, held->length, held->flags);
      held_free (held);
    }
  session->now_us = now;
}

/* ---- replies (RFC 5321 §4.2) --------------------------------------------- */

static TraceTone
reply_tone (guint code)
{
  if (smtp_reply_is_positive (code))
    return TRACE_TONE_OK;
  if (smtp_reply_is_intermediate (code))
    return TRACE_TONE_INTERMEDIATE;
  return TRACE_TONE_ERROR;
}

static void
remember_delivery (SmtpTrace *smtp, TraceMessage *message)
{
  guint64 size = message != NULL ? trace_message_size (message) : 0;

  smtp->accepted++;
  smtp->accepted_bytes += size;
  trace_string_append_printf (smtp->deliveries, "%s%s -> ",
                              smtp->deliveries->len > 0 ? "; " : "",
                              smtp->mail_from != NULL ? smtp->mail_from : "?");
  for (guint i = 0; i < smtp->recipients->len; i++)
    trace_string_append_printf (smtp->deliveries, "%s%s", i > 0 ? ", " : "",
                                (char *) smtp->recipients->pdata[i]);
  trace_string_append_printf (smtp->deliveries,
                              " (%" G_GUINT64_FORMAT " bytes)", size);
}

static char *
path_of (const char *arguments, SmtpPathKind kind)
{
  g_autoptr (SmtpPath) path = smtp_proto_parse_path (arguments, kind, NULL);

  if (path == NULL)
    return g_strdup (arguments);
  return trace_strdup_printf ("<%s>", path->mailbox);
}

/* What a complete reply does to the flow state. */
static void
reply_effects (TraceSession *session,
               SmtpTrace *smtp,
               SmtpPending *answered,
               guint code,
               const char *text)
{
  const char *verb = answered != NULL ? answered->verb : "";
  gboolean ok = smtp_reply_is_positive (code);

  if (strcmp (verb, "EHLO") == 0 || strcmp (verb, "HELO") == 0)
    {
      transaction_reset (smtp);
      if (ok)
        {
          g_free (smtp->helo);
          smtp->helo = g_strdup (answered->argument);
        }
    }
  else if (strcmp (verb, "MAIL") == 0)
    {
      smtp->mail_sent = ok;
      /* a second MAIL the server took anyway replaces the first */
      if (ok)
        {
          g_free (smtp->mail_from);
          smtp->mail_from = path_of (answered->argument, SMTP_PATH_REVERSE);
        }
    }
  else if (strcmp (verb, "RCPT") == 0)
    {
      if (ok)
        g_ptr_array_add (smtp->recipients,
                         path_of (answered->argument, SMTP_PATH_FORWARD));
      else
        smtp->refused++;
    }
  else if (strcmp (verb, "DATA") == 0)
    {
      if (code == SMTP_REPLY_START_MAIL_INPUT)
        {
          smtp->state = SMTP_TRACE_DATA;
          smtp->previous_crlf = TRUE;
          trace_message_free (smtp->message);
          smtp->message = trace_message_new (session->options->body);
        }
      release_held (session, smtp);
    }
  else if (strcmp (verb, "BDAT") == 0 && answered->message != NULL)
    {
      /* the reply to a LAST chunk: what the client sends since is not
       * this transaction's */
      if (ok)
        remember_delivery (smtp, answered->message);
      transaction_reset_replies (smtp);
    }
  else if (strcmp (verb, ".") == 0)
    {
      /* mail_sent stays: a MAIL pipelined behind the "." set it anew */
      if (ok)
        remember_delivery (smtp, smtp->message);
      transaction_reset_replies (smtp);
      g_clear_pointer (&smtp->message, trace_message_free);
    }
  else if (strcmp (verb, "BDAT") == 0 && !ok)
    transaction_reset (smtp);
  else if (strcmp (verb, "RSET") == 0)
    transaction_reset (smtp);
  else if (strcmp (verb, "AUTH") == 0 || strcmp (verb, "SASL") == 0)
    {
      smtp->state = code == SMTP_REPLY_AUTH_CONTINUE ? SMTP_TRACE_SASL
                                                     : SMTP_TRACE_COMMANDS;
      smtp->authenticated = code == SMTP_REPLY_AUTH_SUCCEEDED;
      g_free (smtp->challenge);
      smtp->challenge = decode_base64_text (text);
    }
  else if (strcmp (verb, "STARTTLS") == 0 && code == SMTP_REPLY_SERVICE_READY)
    {
      smtp->state = SMTP_TRACE_TLS;
      smtp->tls = TRUE;
      trace_session_start_tls (session);
    }
}

static void
explain_reply (TraceSession *session,
               SmtpTrace *smtp,
               TraceEvent *event,
               guint code,
               const char *text,
               SmtpPending *answered)
{
  g_autofree char *meaning = NULL;
  g_autofree char *enhanced = NULL;
  const char *rest = NULL;

  if (!trace_event_shown (event))
    return; /* -q: the catalog look-ups would be thrown away */
  meaning = smtp_proto_describe_reply (code, NULL, text);
  if (answered != NULL)
    trace_event_explain (event, "answers %s",
                         strcmp (answered->verb, ".") == 0 ? "the message text"
                                                           : answered->verb);
  else if (!smtp->greeted)
    trace_event_explain (event, "the greeting");
  trace_event_explain (event, "%s",
                       meaning != NULL ? meaning : "an unknown reply code");
  if (smtp_proto_split_enhanced (text, &enhanced, &rest))
    trace_event_field (event, "mw.smtp.enhanced", enhanced);
  if (code == SMTP_REPLY_AUTH_CONTINUE && *text != '\0')
    {
      g_autofree char *challenge = decode_base64_text (text);
      g_autofree char *printable = g_strescape (challenge, NULL);
      trace_event_explain (event, "challenge \"%s\"", printable);
    }
}

static void
server_reply_line (TraceSession *session,
                   SmtpTrace *smtp,
                   const char *line,
                   guint code,
                   gboolean last,
                   const char *text)
{
  TraceEvent *event =
      trace_event_new (session, TRACE_SERVER_TO_CLIENT, "reply");
  SmtpPending *answered = NULL;
  gboolean first = !smtp->reply_open;

  trace_event_text (event, line);
  trace_event_tone (event, reply_tone (code));
  trace_event_field_int (event, "smtp.response.code", code);
  trace_event_field (event, "smtp.rsp.parameter", text);
  smtp->reply_open = !last;
  if (!last)
    {
      g_autofree char *keyword = NULL;
      const char *params = NULL;
      /* -q: the extension's meaning would not be shown, so not sought */
      if (!first && trace_event_shown (event) &&
          smtp_proto_parse_ehlo_line (text, &keyword, &params))
        trace_event_meaning (event, smtp_proto_extension_info (keyword));
      else if (first)
        trace_event_explain (event, "first line of a multi-line reply");
      trace_event_emit (event);
      return;
    }
  if (smtp->greeted)
    answered = g_queue_pop_head (&smtp->pending);
  if (answered == NULL && smtp->midstream)
    trace_event_explain (event, "answers a command sent before the capture "
                                "began");
  else if (answered == NULL && smtp->greeted && code != 421)
    trace_session_lint (session, TRACE_SERVER_TO_CLIENT, "RFC 5321 §4.2",
                        "a reply to no command");
  explain_reply (session, smtp, event, code, text, answered);
  smtp->greeted = TRUE;
  trace_event_field_int (event, "mw.last", 1);
  if (answered != NULL)
    trace_event_field (event, "mw.answers", answered->verb);
  trace_event_emit (event);
  trace_journey_smtp_reply (
      session, answered != NULL ? answered->verb : NULL, code, text,
      answered != NULL ? answered->argument : NULL,
      answered != NULL && answered->message != NULL ? answered->message
                                                    : smtp->message,
      smtp->helo, smtp->authenticated ? smtp->user : NULL, smtp->mail_from,
      smtp->recipients);
  reply_effects (session, smtp, answered, code, text);
  if (answered != NULL)
    pending_free (answered);
}

static void
smtp_server_line (TraceSession *session,
                  SmtpTrace *smtp,
                  const char *line,
                  MailLineFlags flags)
{
  guint code = 0;
  gboolean last = TRUE;
  const char *text = "";

  if (smtp->state == SMTP_TRACE_DATA)
    {
      /* The server answered before "." CRLF: it ended (or gave up on)
       * the data where we did not. */
      trace_session_lint (session, TRACE_SERVER_TO_CLIENT, "RFC 5321 §4.1.1.4",
                          "server replied before the end of the data");
      smtp_trace_data_end (session, smtp, "(end of data not seen)");
    }
  if ((flags & MAIL_LINE_BARE_LF) != 0)
    trace_session_lint (session, TRACE_SERVER_TO_CLIENT, "RFC 5321 §2.3.8",
                        "reply ended by a bare LF");
  if (!smtp_proto_parse_reply_line (line, &code, &last, &text))
    {
      TraceEvent *event =
          trace_event_new (session, TRACE_SERVER_TO_CLIENT, "reply");
      trace_event_text (event, line);
      trace_event_explain (event, "not an SMTP reply line");
      trace_event_rfc (event, "RFC 5321 §4.2");
      trace_event_tone (event, TRACE_TONE_ERROR);
      trace_event_emit (event);
      return;
    }
  server_reply_line (session, smtp, line, code, last, text);
}

static void
smtp_line (TraceSession *session,
           gpointer state,
           TraceDirection direction,
           const char *line,
           gsize length,
           MailLineFlags flags)
{
  if (direction == TRACE_CLIENT_TO_SERVER)
    smtp_client_line (session, state, line, length, flags);
  else
    smtp_server_line (session, state, line, flags);
}

/* BDAT chunk octets (RFC 3030 §2): no dot-stuffing, no end marker. */
static void
smtp_raw (TraceSession *session,
          gpointer state,
          TraceDirection direction,
          const guint8 *data,
          gsize length,
          gboolean last)
{
  SmtpTrace *smtp = state;
  TraceEvent *event;

  if (smtp->message != NULL)
    trace_message_feed (smtp->message, data, length);
  if (!last)
    return;
  event = trace_event_new (session, direction, "data");
  trace_event_explain (event, "BDAT chunk received");
  if (smtp->bdat_last && smtp->message != NULL)
    {
      trace_event_explain (event, "message complete");
      trace_message_describe (smtp->message, event);
    }
  trace_event_rfc (event, "RFC 3030 §2");
  trace_event_emit (event);
  if (smtp->bdat_last)
    bdat_message_sent (smtp);
}

static void
smtp_gap (TraceSession *session,
          gpointer state,
          TraceDirection direction,
          guint64 missing)
{
  SmtpTrace *smtp = state;

  /* A gap in the message text only makes its summary short. A lost
   * command still gets a reply: keep the pairing in step. A gap in the
   * replies would shift every later pairing, so it starts again. */
  if (direction == TRACE_CLIENT_TO_SERVER && smtp->state == SMTP_TRACE_COMMANDS)
    smtp_trace_push_pending (smtp, "?", NULL);
  if (direction == TRACE_SERVER_TO_CLIENT)
    {
      g_queue_clear_full (&smtp->pending, pending_free);
      smtp->reply_open = FALSE;
    }
}

static void
smtp_finish (TraceSession *session, gpointer state)
{
  SmtpTrace *smtp = state;
  TraceEvent *event = trace_event_new (session, -1, "summary");
  g_autofree char *client = trace_packet_address_to_string (
      session->flow->family, session->flow->client_address);
  g_autofree char *server = trace_packet_address_to_string (
      session->flow->family, session->flow->server_address);

  if (smtp->state == SMTP_TRACE_DATA)
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 5321 §4.1.1.4",
                        "the connection ended inside the message text "
                        "(no CRLF . CRLF)");
  trace_event_explain (event,
                       "push: the client %s (HELO/EHLO \"%s\") handed %u "
                       "message%s (%" G_GUINT64_FORMAT " bytes) to the "
                       "server %s:%u",
                       client, smtp->helo != NULL ? smtp->helo : "-",
                       smtp->accepted, smtp->accepted == 1 ? "" : "s",
                       smtp->accepted_bytes, server,
                       session->flow->server_port);
  if (smtp->deliveries->len > 0)
    trace_event_explain (event, "%s", smtp->deliveries->str);
  if (smtp->refused > 0)
    trace_event_explain (event, "%u recipient%s refused", smtp->refused,
                         smtp->refused == 1 ? "" : "s");
  if (smtp->tls && session->decrypted)
    trace_event_explain (event, "STARTTLS: what followed was decrypted "
                                "with the key log");
  else if (smtp->tls)
    trace_event_explain (event, "STARTTLS: what followed is encrypted, so "
                                "messages sent after it are not counted");
  if (smtp->authenticated)
    trace_event_explain (event, "authenticated as \"%s\"",
                         smtp->user != NULL ? smtp->user : "?");
  trace_event_explain (event, "%.3f s", trace_session_elapsed (session));
  if (session->lint_count > 0)
    trace_event_explain (event, "%u lint findings", session->lint_count);
  trace_event_field (event, "mw.session", "push");
  trace_event_field_int (event, "mw.messages", smtp->accepted);
  trace_event_field_int (event, "mw.bytes", (gint64) smtp->accepted_bytes);
  trace_event_field_int (event, "mw.lint", session->lint_count);
  trace_event_emit (event);
}

/* RFC 3207 §4.2: after TLS the client starts again with EHLO. */
static void
smtp_tls_readable (TraceSession *session, gpointer state)
{
  SmtpTrace *smtp = state;

  smtp->state = SMTP_TRACE_COMMANDS;
}

const TraceDecoder trace_decoder_smtp = {
  .name = "SMTP",
  .json_name = "smtp",
  .state_new = smtp_trace_new,
  .state_free = smtp_trace_free,
  .line = smtp_line,
  .raw = smtp_raw,
  .scan = smtp_trace_scan,
  .gap = smtp_gap,
  .finish = smtp_finish,
  .tls_readable = smtp_tls_readable,
};
