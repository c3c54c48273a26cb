/* SPDX-License-Identifier: MIT
 * pop3-session.c: server side of one POP3 connection (RFC 1939 §3-§7;
 * RFC 2449 CAPA and response codes; RFC 2595 §4 STLS; RFC 3206 [SYS] and
 * [AUTH]; RFC 5034 AUTH PLAIN/LOGIN).
 *
 * The maildrop is the user's INBOX. It is locked when the user logs in
 * and its list of messages is read once, then held fixed: numbers and
 * sizes do not change during the session even if mail arrives (RFC 1939
 * §5, "message-numbers ... fixed for the session"). Sizes are file
 * sizes, since the store keeps messages with CRLF exactly as RETR sends
 * them (before dot-stuffing).
 *
 * UIDL (RFC 1939 §7) is "<UIDVALIDITY>.<UID>", e.g. "1732240000.17": the
 * IMAP UID of the same message (RFC 9051 §2.3.1.1), prefixed by the
 * folder's UIDVALIDITY so that ids never repeat even if the uidlist is
 * ever rebuilt with new UIDs. It is stable across sessions.
 *
 * The AUTHORIZATION commands (USER, PASS, AUTH, STLS) live in
 * pop3-login.c; the command table below lists them all.
 */
#include <string.h>

#include "mail-catalog.h"
#include "mail-net.h"
#include "mail-tls.h"
#include "pop3-session-private.h"

/* ---- replies (RFC 1939 §3) ----------------------------------------- */

void
pop3_reply_ok (Pop3Session *session, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  mail_stream_printf (session->stream, "%s %s", POP3_OK, text);
}

/* RFC 2449 §8: "-ERR [CODE] text" when there is a code. */
void
pop3_reply_err (Pop3Session *session,
                Pop3ResponseCode code,
                const char *format,
                ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  if (code == POP3_CODE_NONE)
    mail_stream_printf (session->stream, "%s %s", POP3_ERR, text);
  else
    mail_stream_printf (session->stream, "%s [%s] %s", POP3_ERR,
                        pop3_response_code_name (code), text);
}

/* One line of a multi-line body that is not message text (a listing or a
 * capability). None of them starts with ".", so none needs stuffing. */
static void
pop3_reply_line (Pop3Session *session, const char *line)
{
  g_assert (line[0] != '.');
  mail_stream_write_line (session->stream, line);
}

/* RFC 1939 §3: a multi-line response ends with "." alone. */
static void
pop3_reply_end (Pop3Session *session)
{
  mail_stream_write_line (session->stream, ".");
}

/* RFC 5034 §4: continue-req = "+" SP [base64] CRLF */
void
pop3_reply_continue (Pop3Session *session, const char *base64)
{
  mail_stream_printf (session->stream, "%s %s", POP3_CONTINUATION, base64);
}

/* ---- state --------------------------------------------------------- */

static const char *
pop3_state_name (Pop3State state)
{
  switch (state)
    {
    case POP3_STATE_AUTHORIZATION:
      return "AUTHORIZATION";
    case POP3_STATE_TRANSACTION:
      return "TRANSACTION";
    case POP3_STATE_UPDATE:
      return "UPDATE";
    default:
      g_assert_not_reached ();
    }
}

void
pop3_session_enter_state (Pop3Session *session, Pop3State state)
{
  g_debug ("%s: %s -> %s", session->peer, pop3_state_name (session->state),
           pop3_state_name (state));
  session->state = state;
}

/* RFC 2595 §2.3, RFC 4616 §6: passwords in the clear only over TLS,
 * unless the configuration allows it (loopback by default, for labs). */
gboolean
pop3_session_plaintext_allowed (Pop3Session *session)
{
  switch (session->context->config->pop3_plaintext_auth)
    {
    case MAIL_PLAINTEXT_AUTH_ALWAYS:
      return TRUE;
    case MAIL_PLAINTEXT_AUTH_LOOPBACK:
      return session->flags.tls || session->loopback;
    case MAIL_PLAINTEXT_AUTH_NEVER:
      return session->flags.tls;
    default:
      g_assert_not_reached ();
    }
}

gboolean
pop3_session_can_stls (Pop3Session *session)
{
  return session->context->certificate != NULL && !session->flags.tls;
}

guint64
pop3_session_total_size (Pop3Session *session, guint *out_count)
{
  guint64 total = 0;

  *out_count = 0;
  for (guint i = 0; i < session->count; i++)
    if (!session->deleted[i])
      {
        total += mail_folder_get_message (session->folder, i)->size;
        (*out_count)++;
      }
  return total;
}

/* ---- commands: AUTHORIZATION (RFC 1939 §4, §7; RFC 2595; RFC 5034) -- */

/* RFC 2449 §5: the capability list, shaped by what is allowed now. */
static void
pop3_cmd_capa (Pop3Session *session, const char *argument)
{
  gboolean plaintext = pop3_session_plaintext_allowed (session);

  pop3_reply_ok (session, "capability list follows");
  pop3_reply_line (session, "IMPLEMENTATION mailwire");
  pop3_reply_line (session, "RESP-CODES");
  pop3_reply_line (session, "AUTH-RESP-CODE");
  pop3_reply_line (session, "PIPELINING");
  pop3_reply_line (session, "TOP");
  pop3_reply_line (session, "UIDL");
  /* RFC 2449 §6.7: we never delete on our own */
  pop3_reply_line (session, "EXPIRE NEVER");
  if (session->state == POP3_STATE_AUTHORIZATION && plaintext)
    {
      pop3_reply_line (session, "USER");
      pop3_reply_line (session, "SASL PLAIN LOGIN");
    }
  if (session->state == POP3_STATE_AUTHORIZATION &&
      pop3_session_can_stls (session))
    pop3_reply_line (session, "STLS");
  pop3_reply_end (session);
}

/* RFC 1939 §4 (before login) and §6 (after): QUIT */
static void
pop3_cmd_quit (Pop3Session *session, const char *argument)
{
  guint failed = 0;
  guint removed = 0;

  session->flags.done = TRUE;
  if (session->state == POP3_STATE_AUTHORIZATION)
    {
      pop3_reply_ok (session, "mailwire POP3 server signing off");
      return;
    }
  pop3_session_enter_state (session, POP3_STATE_UPDATE);
  for (guint i = 0; i < session->count; i++)
    {
      g_autoptr (GError) error = NULL;

      if (!session->deleted[i])
        continue;
      if (mail_folder_delete_message (session->folder, i, &error))
        removed++;
      else if (g_error_matches (error, MAIL_STORE_ERROR,
                                MAIL_STORE_ERROR_NOT_FOUND))
        removed++; /* already gone (IMAP expunged it): the goal holds */
      else
        {
          g_warning ("%s: %s", session->peer, error->message);
          failed++;
        }
    }
  /* RFC 1939 §6 releases the lock after the reply; released before it,
   * a client that logs in again at once (poplib, fetchmail's next poll)
   * never finds the maildrop still "in use" by the session it ended.
   * The deletions above are done: nothing is left to guard. */
  mail_store_unlock_maildrop (session->store);
  if (failed > 0)
    pop3_reply_err (session, POP3_CODE_SYS_TEMP,
                    "%u marked messages could not be deleted", failed);
  else
    pop3_reply_ok (session, "%u messages deleted, signing off", removed);
}

/* ---- commands: TRANSACTION (RFC 1939 §5, §7) ------------------------ */

/* Finds the message named by @argument (RFC 1939 §5: "may NOT refer to a
 * message marked as deleted"). Replies -ERR and returns FALSE if there
 * is none. */
static gboolean
pop3_session_find_message (Pop3Session *session,
                           const char *argument,
                           guint *out_index)
{
  g_autoptr (GError) error = NULL;
  guint32 number = 0;

  if (argument == NULL || !pop3_proto_parse_number (argument, &number, &error))
    {
      pop3_reply_err (session, POP3_CODE_NONE, "%s",
                      error ? error->message : "a message number is needed");
      return FALSE;
    }
  if (number > session->count)
    {
      pop3_reply_err (session, POP3_CODE_NONE,
                      "no message %u: the maildrop has %u", number,
                      session->count);
      return FALSE;
    }
  if (session->deleted[number - 1])
    {
      pop3_reply_err (session, POP3_CODE_NONE,
                      "message %u is marked as deleted", number);
      return FALSE;
    }
  *out_index = number - 1;
  return TRUE;
}

static guint64
pop3_session_size (Pop3Session *session, guint index)
{
  return mail_folder_get_message (session->folder, index)->size;
}

/* RFC 1939 §5: STAT -> "+OK nn mm" (drop listing) */
static void
pop3_cmd_stat (Pop3Session *session, const char *argument)
{
  guint count = 0;
  guint64 size = pop3_session_total_size (session, &count);

  pop3_reply_ok (session, "%u %" G_GUINT64_FORMAT, count, size);
}

/* RFC 1939 §5: LIST [msg] -> scan listings "nn size" */
static void
pop3_cmd_list (Pop3Session *session, const char *argument)
{
  guint index = 0;
  guint count = 0;
  guint64 size = 0;

  if (argument != NULL)
    {
      if (pop3_session_find_message (session, argument, &index))
        pop3_reply_ok (session, "%u %" G_GUINT64_FORMAT, index + 1,
                       pop3_session_size (session, index));
      return;
    }
  size = pop3_session_total_size (session, &count);
  pop3_reply_ok (session, "%u messages (%" G_GUINT64_FORMAT " octets)", count,
                 size);
  for (guint i = 0; i < session->count; i++)
    {
      g_autofree char *line = NULL;

      if (session->deleted[i])
        continue;
      line = g_strdup_printf ("%u %" G_GUINT64_FORMAT, i + 1,
                              pop3_session_size (session, i));
      pop3_reply_line (session, line);
    }
  pop3_reply_end (session);
}

/* RFC 1939 §7: unique-id = "<UIDVALIDITY>.<UID>" (see the file header) */
static char *
pop3_session_unique_id (Pop3Session *session, guint index)
{
  return g_strdup_printf (
      "%u %u.%u", index + 1, session->uidvalidity,
      mail_folder_get_message (session->folder, index)->uid);
}

/* RFC 1939 §7: UIDL [msg] */
static void
pop3_cmd_uidl (Pop3Session *session, const char *argument)
{
  guint index = 0;

  if (argument != NULL)
    {
      if (pop3_session_find_message (session, argument, &index))
        {
          g_autofree char *listing = pop3_session_unique_id (session, index);
          pop3_reply_ok (session, "%s", listing);
        }
      return;
    }
  pop3_reply_ok (session, "unique-id listing follows");
  for (guint i = 0; i < session->count; i++)
    {
      g_autofree char *listing = NULL;

      if (session->deleted[i])
        continue;
      listing = pop3_session_unique_id (session, i);
      pop3_reply_line (session, listing);
    }
  pop3_reply_end (session);
}

/* Reads message @index, or replies -ERR (it may have been removed by an
 * IMAP session since we listed it). */
static GBytes *
pop3_session_read_message (Pop3Session *session, guint index)
{
  g_autoptr (GError) error = NULL;
  GBytes *data = mail_folder_read_message (session->folder, index, &error);

  if (data != NULL)
    return data;
  g_warning ("%s: message %u: %s", session->peer, index + 1, error->message);
  if (g_error_matches (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_NOT_FOUND))
    pop3_reply_err (session, POP3_CODE_NONE,
                    "message %u has been removed by another client", index + 1);
  else
    pop3_reply_err (session, POP3_CODE_SYS_TEMP, "cannot read message %u",
                    index + 1);
  return NULL;
}

/* Sends @length octets of @data dot-stuffed and ended by "." (RFC 1939
 * §3), then flushes, so a large message is not held twice in memory
 * longer than needed. */
static void
pop3_session_send_text (Pop3Session *session, const char *data, gsize length)
{
  g_autoptr (GString) stuffed = g_string_sized_new (length + length / 64 + 8);
  g_autoptr (GError) error = NULL;

  mail_dot_stuff (stuffed, data, length);
  mail_stream_write (session->stream, stuffed->str, stuffed->len);
  if (!mail_stream_flush (session->stream, NULL, &error))
    {
      g_debug ("%s: %s", session->peer, error->message);
      session->flags.done = TRUE;
    }
}

/* RFC 1939 §5: RETR msg */
static void
pop3_cmd_retr (Pop3Session *session, const char *argument)
{
  guint index = 0;
  g_autoptr (GBytes) data = NULL;
  gsize length = 0;
  const char *text = NULL;

  if (!pop3_session_find_message (session, argument, &index))
    return;
  data = pop3_session_read_message (session, index);
  if (data == NULL)
    return;
  text = g_bytes_get_data (data, &length);
  pop3_reply_ok (session, "%" G_GSIZE_FORMAT " octets", length);
  pop3_session_send_text (session, text, length);
}

/* Length of the header of @text including the empty line that ends it
 * (RFC 5322 §2.1), or all of @text if it has no body. */
static gsize
pop3_header_length (const char *text, gsize length)
{
  const char *end = NULL;

  if (length >= 2 && text[0] == '\r' && text[1] == '\n')
    return 2;
  end = g_strstr_len (text, length, "\r\n\r\n");
  return end ? (gsize) (end - text) + 4 : length;
}

/* Length of the first @lines lines of @text. */
static gsize
pop3_lines_length (const char *text, gsize length, guint64 lines)
{
  gsize at = 0;

  for (guint64 i = 0; i < lines && at < length; i++)
    {
      const char *newline = memchr (text + at, '\n', length - at);
      at = newline ? (gsize) (newline - text) + 1 : length;
    }
  return at;
}

/* RFC 1939 §7: TOP msg n -> the header, the blank line, n body lines */
static void
pop3_cmd_top (Pop3Session *session, const char *argument)
{
  g_auto (GStrv) words = g_strsplit (argument ? argument : "", " ", 3);
  guint index = 0;
  guint64 lines = 0;
  g_autoptr (GBytes) data = NULL;
  gsize length = 0;
  const char *text = NULL;
  gsize header = 0;

  if (words[0] == NULL || words[1] == NULL || words[2] != NULL)
    {
      pop3_reply_err (session, POP3_CODE_NONE,
                      "TOP needs a message number and a number of lines");
      return;
    }
  /* n is a non-negative number: 0 asks for the header alone */
  if (!g_ascii_string_to_unsigned (words[1], 10, 0, G_MAXUINT32, &lines,
                                   NULL) ||
      !g_ascii_isdigit (words[1][0]))
    {
      pop3_reply_err (session, POP3_CODE_NONE,
                      "\"%.20s\" is not a number of lines", words[1]);
      return;
    }
  if (!pop3_session_find_message (session, words[0], &index))
    return;
  data = pop3_session_read_message (session, index);
  if (data == NULL)
    return;
  text = g_bytes_get_data (data, &length);
  header = pop3_header_length (text, length);
  pop3_reply_ok (session, "top of message follows");
  pop3_session_send_text (
      session, text,
      header + pop3_lines_length (text + header, length - header, lines));
}

/* RFC 1939 §5: DELE msg -- only marks; UPDATE removes (§6) */
static void
pop3_cmd_dele (Pop3Session *session, const char *argument)
{
  guint index = 0;

  if (!pop3_session_find_message (session, argument, &index))
    return;
  session->deleted[index] = TRUE;
  pop3_reply_ok (session, "message %u marked for deletion", index + 1);
}

/* RFC 1939 §5: NOOP */
static void
pop3_cmd_noop (Pop3Session *session, const char *argument)
{
  pop3_reply_ok (session, "nothing done");
}

/* RFC 1939 §5: RSET unmarks every message */
static void
pop3_cmd_rset (Pop3Session *session, const char *argument)
{
  guint count = 0;
  guint64 size = 0;

  memset (session->deleted, 0, session->count * sizeof (gboolean));
  size = pop3_session_total_size (session, &count);
  pop3_reply_ok (session,
                 "maildrop has %u messages (%" G_GUINT64_FORMAT " octets)",
                 count, size);
}

static const Pop3Command pop3_commands[] = {
  /* verb   allowed in                handler          RFC */
  { "CAPA", POP3_IN_ANY, pop3_cmd_capa },              /* 2449 §5 */
  { "STLS", POP3_STATE_AUTHORIZATION, pop3_cmd_stls }, /* 2595 §4 */
  { "USER", POP3_STATE_AUTHORIZATION, pop3_cmd_user }, /* 1939 §7 */
  { "PASS", POP3_STATE_AUTHORIZATION, pop3_cmd_pass }, /* 1939 §7 */
  { "APOP", POP3_STATE_AUTHORIZATION, pop3_cmd_apop }, /* 1939 §7 */
  { "AUTH", POP3_STATE_AUTHORIZATION, pop3_cmd_auth }, /* 5034 §4 */
  { "QUIT", POP3_IN_ANY, pop3_cmd_quit },              /* 1939 §4, §6 */
  { "STAT", POP3_STATE_TRANSACTION, pop3_cmd_stat },   /* 1939 §5 */
  { "LIST", POP3_STATE_TRANSACTION, pop3_cmd_list },   /* 1939 §5 */
  { "RETR", POP3_STATE_TRANSACTION, pop3_cmd_retr },   /* 1939 §5 */
  { "DELE", POP3_STATE_TRANSACTION, pop3_cmd_dele },   /* 1939 §5 */
  { "NOOP", POP3_STATE_TRANSACTION, pop3_cmd_noop },   /* 1939 §5 */
  { "RSET", POP3_STATE_TRANSACTION, pop3_cmd_rset },   /* 1939 §5 */
  { "TOP", POP3_STATE_TRANSACTION, pop3_cmd_top },     /* 1939 §7 */
  { "UIDL", POP3_STATE_TRANSACTION, pop3_cmd_uidl },   /* 1939 §7 */
};

/* ---- the session loop ---------------------------------------------- */

/* [faults] before the command runs (mail-faults.h): drop the connection,
 * or answer -ERR instead. TRUE if the command must not run. */
static gboolean
pop3_session_fault_before (Pop3Session *session, const char *verb)
{
  mail_fault_session_command (session->faults, verb);
  if (mail_fault_session_drop (session->faults, FALSE))
    {
      mail_fault_session_hang_up (session->faults, session->stream);
      session->flags.done = TRUE;
      return TRUE;
    }
  mail_fault_session_delay (session->faults, session->stream);
  if (mail_fault_session_reply (session->faults) == NULL)
    return FALSE;
  pop3_reply_err (session, POP3_CODE_NONE,
                  "fault injected for this lab: -ERR instead of running %s",
                  verb);
  return TRUE;
}

static void
pop3_session_run_command (Pop3Session *session,
                          const Pop3Command *command,
                          const char *argument)
{
  if ((command->allowed & session->state) == 0)
    {
      pop3_reply_err (
          session, POP3_CODE_NONE, "%s is not allowed in the %s state%s",
          command->verb, pop3_state_name (session->state),
          session->state == POP3_STATE_AUTHORIZATION ? ": log in first" : "");
      return;
    }
  command->handler (session, argument);
  /* e.g. "after RETR": the client has the whole message, not the QUIT */
  if (!session->flags.done && mail_fault_session_drop (session->faults, TRUE))
    {
      mail_fault_session_hang_up (session->faults, session->stream);
      session->flags.done = TRUE;
    }
}

/* Looks up the verb and checks the state; the only place that does. */
static void
pop3_session_dispatch (Pop3Session *session, const char *line)
{
  g_autofree char *verb = NULL;
  g_autofree char *argument = NULL;
  g_autoptr (GError) error = NULL;

  if (!pop3_proto_split_command (line, &verb, &argument, &error))
    {
      pop3_reply_err (session, POP3_CODE_NONE, "%s", error->message);
      return;
    }
  if (session->faults != NULL && pop3_session_fault_before (session, verb))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (pop3_commands); i++)
    if (strcmp (pop3_commands[i].verb, verb) == 0)
      {
        pop3_session_run_command (session, &pop3_commands[i], argument);
        return;
      }
  pop3_reply_err (session, POP3_CODE_NONE, "unknown command %s", verb);
}

/* Reads and handles one command line; FALSE when the session must end. */
static gboolean
pop3_session_step (Pop3Session *session)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  gsize length = 0;
  MailLineFlags flags = MAIL_LINE_CRLF;

  if (!mail_stream_read_line (session->stream, &line, &length, &flags, NULL,
                              &error))
    {
      if (g_error_matches (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_TOO_LONG))
        {
          pop3_reply_err (session, POP3_CODE_NONE,
                          "line too long (RFC 2449 §4: 255 octets at most)");
          return TRUE;
        }
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        {
          pop3_reply_err (session, POP3_CODE_NONE, "autologout: idle too long");
          mail_stream_flush (session->stream, NULL, NULL);
        }
      g_debug ("%s: %s", session->peer, error->message);
      return FALSE;
    }
  if (flags & MAIL_LINE_HAS_NUL)
    pop3_reply_err (session, POP3_CODE_NONE, "command contains a NUL octet");
  else if (flags & (MAIL_LINE_BARE_LF | MAIL_LINE_BARE_CR))
    pop3_reply_err (session, POP3_CODE_NONE,
                    "lines must end in CRLF (RFC 1939 §3)");
  else if (length + 2 > POP3_MAX_COMMAND_LINE)
    pop3_reply_err (session, POP3_CODE_NONE,
                    "line too long (RFC 2449 §4: 255 octets at most)");
  else
    pop3_session_dispatch (session, line);
  return !session->flags.done;
}

static void
on_trace (MailStreamDirection direction, const char *line, gpointer user_data)
{
  Pop3Session *session = user_data;

  mail_catalog_log_line (G_LOG_DOMAIN, session->peer,
                         direction == MAIL_STREAM_RECEIVED, line);
}

/* Makes the MailStream, with the TLS handshake first for port 995. */
static gboolean
pop3_session_open_stream (Pop3Session *session,
                          GSocketConnection *connection,
                          gboolean implicit_tls)
{
  const MailConfig *config = session->context->config;
  g_autoptr (GError) error = NULL;

  session->faults = mail_fault_session_new (
      config->faults, g_socket_connection_get_socket (connection));
  if (session->faults != NULL && !implicit_tls)
    {
      /* [faults] trickle: the stream writes through a filter */
      g_autoptr (GIOStream) io =
          mail_fault_session_wrap (session->faults, G_IO_STREAM (connection));
      session->stream = mail_stream_new (io, MAIL_LINE_MAX_POP3);
    }
  else
    session->stream = mail_server_open_stream (connection, implicit_tls,
                                               session->context->certificate,
                                               MAIL_LINE_MAX_POP3, &error);
  if (session->stream == NULL)
    {
      g_message ("%s: TLS handshake failed: %s", session->peer, error->message);
      return FALSE;
    }
  session->flags.tls = implicit_tls;
  mail_stream_set_timeout (session->stream, config->timeout > 0
                                                ? config->timeout
                                                : POP3_DEFAULT_TIMEOUT);
  if (config->protocol_log)
    mail_stream_set_trace (session->stream, on_trace, session);
  return TRUE;
}

static void
pop3_session_clear (Pop3Session *session)
{
  /* a dropped connection lands here too: nothing was deleted */
  if (session->store != NULL)
    mail_store_unlock_maildrop (session->store);
  g_clear_pointer (&session->folder, mail_folder_free);
  g_clear_pointer (&session->store, mail_store_free);
  g_clear_pointer (&session->deleted, g_free);
  if (session->stream != NULL)
    mail_stream_close (session->stream); /* after the unlock: never linger
                                          * holding the maildrop */
  g_clear_pointer (&session->stream, mail_stream_free);
  g_clear_pointer (&session->user, g_free);
  g_clear_pointer (&session->login, g_free);
  g_clear_pointer (&session->peer, g_free);
  g_clear_pointer (&session->faults, mail_fault_session_free);
}

void
pop3_session_run (Pop3Context *context,
                  GSocketConnection *connection,
                  gboolean implicit_tls)
{
  Pop3Session session = { 0 };
  g_autoptr (GError) error = NULL;

  g_return_if_fail (context != NULL);
  g_return_if_fail (G_IS_SOCKET_CONNECTION (connection));

  session.context = context;
  session.peer = mail_net_peer_string (connection);
  session.loopback = mail_net_peer_is_loopback (connection);
  session.state = POP3_STATE_AUTHORIZATION;
  g_debug ("%s: connected", session.peer);
  if (pop3_session_open_stream (&session, connection, implicit_tls))
    {
      /* RFC 1939 §4: the greeting */
      pop3_reply_ok (&session, "mailwire POP3 server ready%s",
                     session.faults ? " - FAULT INJECTION ON, lab grading"
                                    : "");
      while (pop3_session_step (&session))
        ;
      if (!mail_stream_flush (session.stream, NULL, &error))
        g_debug ("%s: %s", session.peer, error->message);
    }
  g_debug ("%s: disconnected", session.peer);
  pop3_session_clear (&session);
}
