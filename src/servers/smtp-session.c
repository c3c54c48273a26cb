/* SPDX-License-Identifier: MIT
 * smtp-session.c: server side of one SMTP connection (RFC 5321 §3, §4.1,
 * §4.4; RFC 1870 SIZE; RFC 2034 enhanced codes; RFC 2920 PIPELINING;
 * RFC 3030 CHUNKING; RFC 3207 STARTTLS; RFC 3848 Received "with"; RFC
 * 4954 AUTH; RFC 6152 8BITMIME; RFC 6409 submission; RFC 8314 implicit TLS).
 *
 * GREETED --EHLO/HELO--> READY --MAIL--> MAIL --RCPT--> RCPT --DATA--> DATA
 *    ^                     ^-------- RSET (§4.1.1.5) / "." ends DATA ---+
 *    |                     ^                              +--BDAT--> BDAT
 *    |                     +------ RSET / BDAT ... LAST ends BDAT ------+
 *    +------- STARTTLS (RFC 3207 §4.2: forget everything) ---+
 * QUIT, a vanished client, a timeout or too many errors: CLOSED.
 */
#include <string.h>

#include "mail-tls.h"
#include "smtp-session-private.h"

/* Postfix's smtpd_hard_error_limit: a client that keeps sending nonsense
 * is dropped, which also bounds the session loop. */
#define SMTP_MAX_ERRORS 20

typedef void (*SmtpHandler) (SmtpSession *session, const char *arguments);

typedef struct
{
  const char *verb;
  guint allowed; /* SmtpState bits in which the verb is accepted */
  SmtpHandler handler;
  const char *rfc; /* where the command is specified */
} SmtpCommand;

static void smtp_cmd_ehlo (SmtpSession *session, const char *arguments);
static void smtp_cmd_helo (SmtpSession *session, const char *arguments);
static void smtp_cmd_rset (SmtpSession *session, const char *arguments);
static void smtp_cmd_noop (SmtpSession *session, const char *arguments);
static void smtp_cmd_quit (SmtpSession *session, const char *arguments);
static void smtp_cmd_vrfy (SmtpSession *session, const char *arguments);
static void smtp_cmd_expn (SmtpSession *session, const char *arguments);
static void smtp_cmd_help (SmtpSession *session, const char *arguments);

/* clang-format off */
static const SmtpCommand smtp_commands[] = {
  /* verb       allowed in           handler            where */
  { "EHLO",     SMTP_IN_ANY,         smtp_cmd_ehlo,     "RFC 5321 §4.1.1.1" },
  { "HELO",     SMTP_IN_ANY,         smtp_cmd_helo,     "RFC 5321 §4.1.1.1" },
  { "MAIL",     SMTP_STATE_READY,    smtp_cmd_mail,     "RFC 5321 §4.1.1.2" },
  { "RCPT",     SMTP_IN_TRANSACTION, smtp_cmd_rcpt,     "RFC 5321 §4.1.1.3" },
  { "DATA",     SMTP_STATE_RCPT,     smtp_cmd_data,     "RFC 5321 §4.1.1.4" },
  /* BDAT checks the state itself: its octets must be read even when it
   * is refused, or they would be taken for commands (RFC 3030 §2) */
  { "BDAT",     SMTP_IN_ANY,         smtp_cmd_bdat,     "RFC 3030 §2" },
  { "RSET",     SMTP_IN_ANY,         smtp_cmd_rset,     "RFC 5321 §4.1.1.5" },
  { "VRFY",     SMTP_IN_ANY,         smtp_cmd_vrfy,     "RFC 5321 §4.1.1.6" },
  { "EXPN",     SMTP_IN_ANY,         smtp_cmd_expn,     "RFC 5321 §4.1.1.7" },
  { "HELP",     SMTP_IN_ANY,         smtp_cmd_help,     "RFC 5321 §4.1.1.8" },
  { "NOOP",     SMTP_IN_ANY,         smtp_cmd_noop,     "RFC 5321 §4.1.1.9" },
  { "QUIT",     SMTP_IN_ANY,         smtp_cmd_quit,     "RFC 5321 §4.1.1.10" },
  { "STARTTLS", SMTP_BEFORE_MAIL,    smtp_cmd_starttls, "RFC 3207 §4" },
  { "AUTH",     SMTP_STATE_READY,    smtp_cmd_auth,     "RFC 4954 §4" },
  { NULL },
};
/* clang-format on */

/* ---- state, replies ----------------------------------------------------- */

static const char *
smtp_state_name (SmtpState state)
{
  switch (state)
    {
    case SMTP_STATE_GREETED:
      return "GREETED";
    case SMTP_STATE_READY:
      return "READY";
    case SMTP_STATE_MAIL:
      return "MAIL";
    case SMTP_STATE_RCPT:
      return "RCPT";
    case SMTP_STATE_DATA:
      return "DATA";
    case SMTP_STATE_BDAT:
      return "BDAT";
    case SMTP_STATE_CLOSED:
      return "CLOSED";
    default:
      g_assert_not_reached ();
    }
}

void
smtp_session_enter_state (SmtpSession *session, SmtpState state)
{
  if (session->state == state)
    return;
  g_debug ("%s: %s -> %s", session->peer, smtp_state_name (session->state),
           smtp_state_name (state));
  session->state = state;
}

/* The end of the text under [faults] (mail-faults.h): the message is
 * stored by now; the reply may be replaced, or never sent. FALSE when
 * the connection was dropped instead. */
static gboolean
smtp_session_fault_end_of_data (SmtpSession *session, SmtpReplyCode *code)
{
  const char *fault = NULL;

  mail_fault_session_command (session->faults, ".");
  if (mail_fault_session_drop (session->faults, FALSE))
    {
      mail_fault_session_hang_up (session->faults, session->stream);
      smtp_session_enter_state (session, SMTP_STATE_CLOSED);
      return FALSE;
    }
  fault = mail_fault_session_reply (session->faults);
  if (fault != NULL)
    *code = (SmtpReplyCode) g_ascii_strtoull (fault, NULL, 10);
  return TRUE;
}

/* RFC 2920 §3.1: without PIPELINING the client waits for every reply,
 * and even with it DATA ends a group, so no text may come before the 354.
 * We can see that only when the reply is late on purpose (a [faults]
 * delay) or when PIPELINING is off; the octets would otherwise be read
 * as if all were well, so we refuse them and hang up. */
static gboolean
smtp_session_sent_too_early (SmtpSession *session,
                             gboolean delayed,
                             gboolean before_354)
{
  if (!delayed && mail_faults_pipelining (session->config->faults))
    return FALSE;
  if (!mail_fault_session_input_waiting (session->faults, session->stream))
    return FALSE;
  mail_stream_write_line (
      session->stream,
      before_354 ? "554 5.5.0 message text sent before the 354 reply: "
                   "wait for it (RFC 2920 §3.1, RFC 5321 §4.1.1.4)"
                 : "554 5.5.0 command sent before the reply to the previous "
                   "one, and PIPELINING is not offered (RFC 2920 §3.1)");
  mail_fault_session_hang_up (session->faults, session->stream);
  /* smtp_cmd_data () sees CLOSED and reads and stores nothing */
  smtp_session_enter_state (session, SMTP_STATE_CLOSED);
  if (before_354)
    g_message ("%s: fault: text before the 354, the transaction is void",
               session->peer);
  return TRUE;
}

/* Writes a reply, one line per element of @lines (RFC 5321 §4.2.1). It is
 * buffered: mail_stream_read_line () flushes before waiting, so pipelined
 * commands get their replies in one write (RFC 2920 §3.2). [faults] may
 * change the code, delay it, or add a second line. */
void
smtp_reply_lines (SmtpSession *session,
                  SmtpReplyCode code,
                  const char *enhanced,
                  const char *const *lines)
{
  g_autoptr (GString) wire = g_string_new (NULL);
  g_auto (GStrv) split = NULL;
  const char *two_lines[] = { lines[0],
                              "(a second line: any reply may have "
                              "several, RFC 5321 §4.2.1)",
                              NULL };
  SmtpReplyCode original = code;
  gboolean delayed = FALSE;

  if (session->faults != NULL && session->state == SMTP_STATE_DATA &&
      !smtp_session_fault_end_of_data (session, &code))
    return;
  if (code != original)
    enhanced = NULL;
  delayed = mail_fault_session_delay (session->faults, session->stream);
  if (code == SMTP_REPLY_START_MAIL_INPUT && session->faults != NULL &&
      smtp_session_sent_too_early (session, delayed, TRUE))
    return;
  if (mail_faults_multiline (session->config->faults) && lines[1] == NULL)
    lines = two_lines;
  smtp_proto_format_reply (wire, code, enhanced, lines);
  g_string_truncate (wire, wire->len - 2); /* the last CRLF */
  split = g_strsplit (wire->str, "\r\n", -1);
  for (guint i = 0; split[i] != NULL; i++)
    mail_stream_write_line (session->stream, split[i]);
  if (smtp_reply_is_permanent (code))
    session->errors++;
}

void
smtp_reply (SmtpSession *session,
            SmtpReplyCode code,
            const char *enhanced,
            const char *format,
            ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  smtp_reply_lines (session, code, enhanced,
                    (const char *const[]){ text, NULL });
}

/* ---- the transaction (RFC 5321 §3.3) ----------------------------------- */

void
smtp_transaction_clear (SmtpTransaction *transaction)
{
  g_clear_pointer (&transaction->reverse_path, g_free);
  g_clear_pointer (&transaction->recipients, g_ptr_array_unref);
  g_clear_pointer (&transaction->local_maildirs, g_ptr_array_unref);
  g_clear_pointer (&transaction->remote_recipients, g_ptr_array_unref);
  smtp_dsn_envelope_clear (&transaction->dsn);
  transaction->utf8 = FALSE;
  g_clear_pointer (&transaction->spool, mail_spool_free);
  g_clear_pointer (&transaction->id, g_free);
  transaction->relay_offset = 0;
  transaction->chunked = 0;
  transaction->chunks = 0;
  transaction->seen = MAIL_LINE_CRLF;
  transaction->after_cr = FALSE;
}

void
smtp_transaction_begin (SmtpTransaction *transaction, const char *reverse)
{
  smtp_transaction_clear (transaction);
  transaction->reverse_path = g_strdup (reverse);
  transaction->recipients = g_ptr_array_new_with_free_func (g_free);
  transaction->local_maildirs = g_ptr_array_new_with_free_func (g_free);
  transaction->remote_recipients = g_ptr_array_new_with_free_func (g_free);
}

/* Ends any transaction; back to READY unless not yet greeted. */
void
smtp_session_reset (SmtpSession *session)
{
  smtp_transaction_clear (&session->transaction);
  if (session->state != SMTP_STATE_GREETED)
    smtp_session_enter_state (session, SMTP_STATE_READY);
}

/* ---- EHLO, HELO, RSET, NOOP, QUIT, VRFY, EXPN, HELP ----------------- */

gboolean
smtp_session_offers_auth (SmtpSession *session)
{
  /* RFC 6409 §4.3 / RFC 4954 §4: only on submission, and only over TLS so
   * that passwords never cross the network in clear. */
  return session->flags.submission && session->flags.tls;
}

gboolean
smtp_session_offers_starttls (SmtpSession *session)
{
  return session->context->certificate != NULL && !session->flags.tls;
}

static gboolean
smtp_session_greet (SmtpSession *session, const char *arguments)
{
  /* RFC 5321 §4.1.1.1: "EHLO" SP ( Domain / address-literal ) */
  if (arguments[0] == '\0' || strchr (arguments, ' ') != NULL)
    {
      smtp_reply (session, SMTP_REPLY_PARAMETER_SYNTAX_ERROR,
                  SMTP_ENHANCED_INVALID_ARGUMENTS,
                  "give your domain name: EHLO client.example "
                  "(RFC 5321 §4.1.1.1)");
      return FALSE;
    }
  g_free (session->helo);
  session->helo = g_strdup (arguments);
  /* §4.1.4: EHLO in the middle of a session resets it like RSET. */
  smtp_transaction_clear (&session->transaction);
  smtp_session_enter_state (session, SMTP_STATE_READY);
  return TRUE;
}

static void
smtp_cmd_ehlo (SmtpSession *session, const char *arguments)
{
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  guint64 max_size = session->config->smtp_max_size;

  if (!smtp_session_greet (session, arguments))
    return;
  session->flags.esmtp = TRUE;
  g_ptr_array_add (lines,
                   g_strdup_printf ("%s greets %s", session->config->hostname,
                                    session->helo));
  /* Each keyword only when the code behind it works (RFC 5321 §4.1.1.1). */
  if (mail_faults_pipelining (session->config->faults))
    g_ptr_array_add (lines, g_strdup ("PIPELINING"));
  g_ptr_array_add (lines,
                   max_size > 0
                       ? g_strdup_printf ("SIZE %" G_GUINT64_FORMAT, max_size)
                       : g_strdup ("SIZE"));
  g_ptr_array_add (lines, g_strdup ("8BITMIME"));
  g_ptr_array_add (lines, g_strdup ("ENHANCEDSTATUSCODES"));
  g_ptr_array_add (lines, g_strdup ("SMTPUTF8"));
  g_ptr_array_add (lines, g_strdup ("CHUNKING"));
  if (smtp_session_offers_dsn (session)) /* RFC 3461 §4: needs the queue */
    g_ptr_array_add (lines, g_strdup ("DSN"));
  if (smtp_session_offers_starttls (session))
    g_ptr_array_add (lines, g_strdup ("STARTTLS"));
  if (smtp_session_offers_auth (session))
    g_ptr_array_add (lines, g_strdup ("AUTH PLAIN LOGIN"));
  g_ptr_array_add (lines, g_strdup ("HELP"));
  g_ptr_array_add (lines, NULL);
  /* RFC 2034 §3: no enhanced code on the EHLO reply. */
  smtp_reply_lines (session, SMTP_REPLY_OK, NULL,
                    (const char *const *) lines->pdata);
}

static void
smtp_cmd_helo (SmtpSession *session, const char *arguments)
{
  if (!smtp_session_greet (session, arguments))
    return;
  session->flags.esmtp = FALSE;
  smtp_reply (session, SMTP_REPLY_OK, NULL, "%s", session->config->hostname);
}

static void
smtp_cmd_rset (SmtpSession *session, const char *arguments)
{
  smtp_session_reset (session);
  smtp_reply (session, SMTP_REPLY_OK, SMTP_ENHANCED_OK, "reset");
}

static void
smtp_cmd_noop (SmtpSession *session, const char *arguments)
{
  smtp_reply (session, SMTP_REPLY_OK, SMTP_ENHANCED_OK, "OK");
}

static void
smtp_cmd_quit (SmtpSession *session, const char *arguments)
{
  smtp_reply (session, SMTP_REPLY_CLOSING, SMTP_ENHANCED_OK, "%s closing",
              session->config->hostname);
  smtp_session_enter_state (session, SMTP_STATE_CLOSED);
}

static void
smtp_cmd_vrfy (SmtpSession *session, const char *arguments)
{
  if (arguments[0] == '\0')
    {
      smtp_reply (session, SMTP_REPLY_PARAMETER_SYNTAX_ERROR,
                  SMTP_ENHANCED_INVALID_ARGUMENTS, "VRFY needs an address");
      return;
    }
  /* RFC 5321 §3.5.3, §7.3: 252 says neither yes nor no, so VRFY cannot
   * be used to list our users. */
  smtp_reply (session, SMTP_REPLY_CANNOT_VERIFY, SMTP_ENHANCED_OK,
              "cannot VRFY user, but will accept the message and try");
}

static void
smtp_cmd_expn (SmtpSession *session, const char *arguments)
{
  /* RFC 5321 §3.5.2, §7.3: EXPN may be refused; we have no lists. */
  smtp_reply (session, SMTP_REPLY_NOT_IMPLEMENTED,
              SMTP_ENHANCED_INVALID_COMMAND, "EXPN is not available here");
}

static void
smtp_cmd_help (SmtpSession *session, const char *arguments)
{
  static const char *const lines[] = {
    "mailwire SMTP: commands are EHLO HELO MAIL RCPT DATA BDAT RSET",
    "NOOP QUIT VRFY HELP STARTTLS AUTH (RFC 5321 §4.1.1, RFC 3030 §2)",
    "a message: MAIL FROM:<you@x> RCPT TO:<them@y> DATA ... \".\"",
    NULL,
  };

  smtp_reply_lines (session, SMTP_REPLY_HELP, SMTP_ENHANCED_OK, lines);
}

/* ---- the session loop ---------------------------------------------------- */

static const SmtpCommand *
smtp_command_find (const char *verb)
{
  for (const SmtpCommand *command = smtp_commands; command->verb != NULL;
       command++)
    if (g_str_equal (command->verb, verb))
      return command;
  return NULL;
}

/* [faults] before the command runs: drop, refuse out-of-step commands
 * when PIPELINING is off, or answer a given code. TRUE if the command
 * must not run. */
static gboolean
smtp_session_fault_before (SmtpSession *session, const char *verb)
{
  g_autofree char *upper = g_ascii_strup (verb, -1);
  const char *fault = NULL;
  SmtpReplyCode code;

  mail_fault_session_command (session->faults, upper);
  if (mail_fault_session_drop (session->faults, FALSE))
    {
      mail_fault_session_hang_up (session->faults, session->stream);
      smtp_session_enter_state (session, SMTP_STATE_CLOSED);
      return TRUE;
    }
  /* BDAT's chunk follows its command line at once, by design; and a
   * reply put in its place would leave the chunk to be read as commands,
   * so [faults] never answers for BDAT (RFC 3030 §2). */
  if (g_str_equal (upper, "BDAT"))
    return FALSE;
  if (!g_str_equal (upper, "DATA") &&
      smtp_session_sent_too_early (session, FALSE, FALSE))
    return TRUE;
  fault = mail_fault_session_reply (session->faults);
  if (fault == NULL)
    return FALSE;
  code = (SmtpReplyCode) g_ascii_strtoull (fault, NULL, 10);
  smtp_reply (session, code, NULL,
              "fault injected for this lab: %s instead "
              "of running %s",
              fault, upper);
  /* RFC 5321 §3.8: 421 closes the transmission channel */
  if (code == SMTP_REPLY_SERVICE_NOT_AVAILABLE)
    smtp_session_enter_state (session, SMTP_STATE_CLOSED);
  return TRUE;
}

static void
smtp_session_dispatch (SmtpSession *session,
                       const char *line,
                       MailLineFlags flags)
{
  g_autofree char *verb = NULL;
  const char *arguments = NULL;
  const SmtpCommand *command = NULL;

  if ((flags & (MAIL_LINE_HAS_NUL | MAIL_LINE_BARE_CR)) ||
      !smtp_proto_split_command (line, &verb, &arguments))
    {
      smtp_reply (session, SMTP_REPLY_SYNTAX_ERROR, SMTP_ENHANCED_SYNTAX_ERROR,
                  "syntax error");
      return;
    }
  if (session->faults != NULL && smtp_session_fault_before (session, verb))
    return;
  command = smtp_command_find (verb);
  if (command == NULL)
    {
      smtp_reply (session, SMTP_REPLY_SYNTAX_ERROR, SMTP_ENHANCED_SYNTAX_ERROR,
                  "command %s not recognized", verb);
      return;
    }
  /* RFC 5321 §4.1.4: commands out of order get 503. */
  if ((command->allowed & session->state) == 0)
    {
      smtp_reply (session, SMTP_REPLY_BAD_SEQUENCE,
                  SMTP_ENHANCED_INVALID_COMMAND,
                  "bad sequence of commands: %s not allowed in state %s "
                  "(%s)",
                  verb, smtp_state_name (session->state), command->rfc);
      return;
    }
  command->handler (session, arguments);
  if (session->state != SMTP_STATE_CLOSED &&
      mail_fault_session_drop (session->faults, TRUE))
    {
      mail_fault_session_hang_up (session->faults, session->stream);
      smtp_session_enter_state (session, SMTP_STATE_CLOSED);
    }
}

/* Reads and handles one command; FALSE once the session is over. */
static gboolean
smtp_session_step (SmtpSession *session)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  gsize length = 0;
  MailLineFlags flags = MAIL_LINE_CRLF;

  if (mail_stream_read_line (session->stream, &line, &length, &flags, NULL,
                             &error))
    smtp_session_dispatch (session, line, flags);
  else if (g_error_matches (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_TOO_LONG))
    /* RFC 5321 §4.5.3.1.10: "500 Line too long"; the line was consumed
     * whole, so the session goes on. */
    smtp_reply (session, SMTP_REPLY_SYNTAX_ERROR, SMTP_ENHANCED_LINE_TOO_LONG,
                "line too long (512 octets at most, RFC 5321 §4.5.3.1.4)");
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      smtp_reply (session, SMTP_REPLY_SERVICE_NOT_AVAILABLE,
                  SMTP_ENHANCED_BAD_CONNECTION, "timeout, closing connection");
      smtp_session_enter_state (session, SMTP_STATE_CLOSED);
    }
  else
    {
      g_debug ("%s: %s", session->peer, error->message);
      smtp_session_enter_state (session, SMTP_STATE_CLOSED);
    }
  if (session->errors >= SMTP_MAX_ERRORS && session->state != SMTP_STATE_CLOSED)
    {
      smtp_reply (session, SMTP_REPLY_SERVICE_NOT_AVAILABLE,
                  SMTP_ENHANCED_TEMP_SECURITY,
                  "too many errors, closing connection");
      smtp_session_enter_state (session, SMTP_STATE_CLOSED);
    }
  return session->state != SMTP_STATE_CLOSED;
}

static void
on_stream_trace (MailStreamDirection direction,
                 const char *line,
                 gpointer user_data)
{
  SmtpSession *session = user_data;

  mail_catalog_log_line (G_LOG_DOMAIN, session->peer,
                         direction == MAIL_STREAM_RECEIVED, line);
}

static char *
smtp_peer_ip (GSocketConnection *connection)
{
  g_autoptr (GSocketAddress) address =
      g_socket_connection_get_remote_address (connection, NULL);
  g_autofree char *ip = NULL;
  GInetAddress *inet = NULL;

  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return g_strdup ("unknown");
  inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
  ip = g_inet_address_to_string (inet);
  /* RFC 5321 §4.1.3: IPv6 address literals carry the "IPv6:" tag. */
  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("IPv6:%s", ip);
  return g_steal_pointer (&ip);
}

/* Opens the stream, with TLS from the first byte on smtps. */
static gboolean
smtp_session_open (SmtpSession *session, gboolean implicit_tls)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GIOStream) tls = NULL;
  g_autoptr (GIOStream) base = NULL;

  /* RFC 5321 §4.5.3.2 timeouts, from the first byte: a client that opens
   * the smtps port and never starts its TLS handshake must not hold a
   * thread forever. */
  g_socket_set_timeout (g_socket_connection_get_socket (session->connection),
                        session->config->timeout);
  session->faults = mail_fault_session_new (
      session->config->faults,
      g_socket_connection_get_socket (session->connection));
  base = mail_fault_session_wrap (session->faults,
                                  G_IO_STREAM (session->connection));
  if (implicit_tls)
    {
      tls = mail_tls_server_wrap (base, session->context->certificate, NULL,
                                  &error);
      if (tls == NULL)
        {
          g_message ("%s: TLS handshake failed: %s", session->peer,
                     error->message);
          return FALSE;
        }
      g_object_unref (base);
      base = g_steal_pointer (&tls);
      session->flags.tls = TRUE;
    }
  session->stream = mail_stream_new (base, MAIL_LINE_MAX_SMTP_COMMAND);
  mail_stream_set_timeout (session->stream, session->config->timeout);
  if (session->context->protocol_log)
    mail_stream_set_trace (session->stream, on_stream_trace, session);
  return TRUE;
}

static void
smtp_session_close (SmtpSession *session)
{
  g_autoptr (GError) error = NULL;

  if (session->stream != NULL &&
      !mail_stream_flush (session->stream, NULL, &error))
    g_debug ("%s: final flush: %s", session->peer, error->message);
  if (session->stream != NULL)
    mail_stream_close (session->stream);
  smtp_transaction_clear (&session->transaction);
  g_clear_pointer (&session->stream, mail_stream_free);
  g_clear_pointer (&session->peer, g_free);
  g_clear_pointer (&session->peer_ip, g_free);
  g_clear_pointer (&session->helo, g_free);
  g_clear_pointer (&session->user, g_free);
  g_clear_pointer (&session->faults, mail_fault_session_free);
}

void
smtp_session_run (GSocketConnection *connection,
                  const MailServerListener *listener,
                  gpointer context)
{
  SmtpSession session = { 0 };

  session.context = context;
  session.config = session.context->config;
  session.connection = connection;
  session.peer = mail_net_peer_string (connection);
  session.peer_ip = smtp_peer_ip (connection);
  session.state = SMTP_STATE_GREETED;
  /* "smtp" is the MTA port; "submission" and "smtps" are for users. */
  session.flags.submission = g_strcmp0 (listener->label, "smtp") != 0;
  g_debug ("%s: connected on %s", session.peer, listener->label);
  if (smtp_session_open (&session, listener->implicit_tls))
    {
      /* RFC 5321 §4.2: no enhanced code on the greeting (RFC 2034 §3). */
      smtp_reply (&session, SMTP_REPLY_SERVICE_READY, NULL,
                  "%s ESMTP mailwire ready%s", session.config->hostname,
                  session.faults ? " - FAULT INJECTION ON, lab grading" : "");
      while (smtp_session_step (&session))
        ;
    }
  g_debug ("%s: disconnected", session.peer);
  smtp_session_close (&session);
}
