/* SPDX-License-Identifier: MIT
 * imap-session.c: server side of one IMAP connection (RFC 9051 §2.2
 * commands and responses, §3 states, §5.4 autologout, §6.1 any-state
 * commands, §7 responses; RFC 3501 for IMAP4rev1 clients; RFC 5161
 * ENABLE; RFC 2971 ID; RFC 7888 LITERAL+ / LITERAL-).
 *
 * A command is read whole, literals included (imap-parser.h), then split
 * into tag, verb and arguments, looked up in the command table below and
 * run if the state allows it. The handlers live in the files named in
 * imap-session-private.h; each ends the command with one tagged reply.
 */
#include <string.h>

#include "imap-session-private.h"
#include "imap-sort.h"
#include "mail-catalog.h"
#include "mail-net.h"
#include "mail-tls.h"

/* ---- replies (RFC 9051 §7) ------------------------------------------ */

static void
imap_append_status (GString *out,
                    ImapStatus status,
                    ImapCode code,
                    const char *code_args,
                    const char *text)
{
  g_string_append (out, imap_proto_status_name (status));
  if (code != IMAP_CODE_NONE)
    {
      g_string_append_printf (out, " [%s", imap_proto_code_name (code));
      if (code_args != NULL)
        g_string_append_printf (out, " %s", code_args);
      g_string_append_c (out, ']');
    }
  /* §9: resp-text needs text after a code; say something */
  g_string_append_printf (out, " %s", text[0] != '\0' ? text : "done");
}

void
imap_reply_tagged (ImapSession *session,
                   ImapStatus status,
                   ImapCode code,
                   const char *code_args,
                   const char *format,
                   ...)
{
  g_autofree char *text = NULL;
  g_autoptr (GString) line = g_string_new (session->tag);
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_string_append_c (line, ' ');
  imap_append_status (line, status, code, code_args, text);
  mail_stream_write_line (session->stream, line->str);
}

void
imap_reply_status (ImapSession *session,
                   ImapStatus status,
                   ImapCode code,
                   const char *code_args,
                   const char *text)
{
  g_autoptr (GString) line = g_string_new ("* ");

  imap_append_status (line, status, code, code_args, text);
  mail_stream_write_line (session->stream, line->str);
}

void
imap_reply_untagged (ImapSession *session, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  mail_stream_printf (session->stream, "* %s", text);
}

void
imap_reply_continue (ImapSession *session, const char *text)
{
  mail_stream_printf (session->stream, "+ %s", text);
}

void
imap_reply_write (ImapSession *session, const void *data, gsize length)
{
  mail_stream_write (session->stream, data, length);
}

/* §7.5.1: no EXPUNGE during FETCH, STORE or SEARCH by sequence number,
 * nor SORT and THREAD, which answer like SEARCH (RFC 5256 §4). */
static gboolean
imap_session_may_expunge (ImapSession *session)
{
  static const char *const keep_numbers[] = { "FETCH", "STORE",  "SEARCH",
                                              "SORT",  "THREAD", NULL };

  return session->uid || !g_strv_contains (keep_numbers, session->verb);
}

/* Ends a command that worked: the news first, then "tag OK VERB
 * completed". */
void
imap_reply_completed (ImapSession *session)
{
  if (session->state == IMAP_STATE_SELECTED)
    imap_session_report_news (session, imap_session_may_expunge (session),
                              FALSE);
  imap_reply_ok (session, "%s%s completed", session->uid ? "UID " : "",
                 session->verb);
}

/* RFC 5530 codes for what the store says. */
/* The store's own sentences ("no such folder") are for the client; a
 * system error names files of the server, which stay in the log. */
static const char *
imap_store_error_text (ImapSession *session, const GError *error, ImapCode code)
{
  const char *root =
      session->store != NULL ? mail_store_get_root (session->store) : NULL;

  if (root == NULL || strstr (error->message, root) == NULL)
    return error->message;
  switch (code)
    {
    case IMAP_CODE_NONEXISTENT:
      return "no such mailbox or message";
    case IMAP_CODE_ALREADYEXISTS:
      return "it exists already";
    case IMAP_CODE_OVERQUOTA:
      return "no space left for it on the server";
    default:
      return "the server could not do it (its log says why)";
    }
}

void
imap_reply_store_error (ImapSession *session, const GError *error)
{
  ImapCode code = IMAP_CODE_SERVERBUG;

  if (error->domain == MAIL_STORE_ERROR)
    {
      switch (error->code)
        {
        case MAIL_STORE_ERROR_NOT_FOUND:
          code = IMAP_CODE_NONEXISTENT;
          break;
        case MAIL_STORE_ERROR_EXISTS:
          code = IMAP_CODE_ALREADYEXISTS;
          break;
        case MAIL_STORE_ERROR_IN_USE:
          code = IMAP_CODE_INUSE;
          break;
        case MAIL_STORE_ERROR_NO_SPACE:
          code = IMAP_CODE_OVERQUOTA;
          break;
        case MAIL_STORE_ERROR_INVALID:
          code = IMAP_CODE_CANNOT;
          break;
        default:
          break;
        }
    }
  if (code == IMAP_CODE_SERVERBUG)
    g_warning ("%s: %s", session->peer, error->message);
  else
    g_message ("%s: %s", session->peer, error->message);
  imap_reply_no (session, code, "%s",
                 imap_store_error_text (session, error, code));
}

/* ---- state ----------------------------------------------------------- */

static const char *
imap_state_name (ImapState state)
{
  switch (state)
    {
    case IMAP_STATE_NOT_AUTHENTICATED:
      return "NOT-AUTHENTICATED";
    case IMAP_STATE_AUTHENTICATED:
      return "AUTHENTICATED";
    case IMAP_STATE_SELECTED:
      return "SELECTED";
    case IMAP_STATE_LOGOUT:
      return "LOGOUT";
    default:
      g_assert_not_reached ();
    }
}

void
imap_session_enter_state (ImapSession *session, ImapState state)
{
  const MailConfig *config = session->context->config;

  g_debug ("%s: %s -> %s", session->peer, imap_state_name (session->state),
           imap_state_name (state));
  session->state = state;
  /* RFC 9051 §5.4: at least 30 minutes once logged in */
  if (state == IMAP_STATE_AUTHENTICATED)
    mail_stream_set_timeout (session->stream,
                             MAX (config->timeout, IMAP_AUTOLOGOUT_TIMEOUT));
}

/* RFC 9051 §11.1, RFC 8314: passwords in the clear only over TLS, unless
 * the configuration allows it (loopback by default, for labs). */
gboolean
imap_session_plaintext_allowed (ImapSession *session)
{
  switch (session->context->config->imap_plaintext_auth)
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
imap_session_can_starttls (ImapSession *session)
{
  return session->context->certificate != NULL && !session->flags.tls;
}

/* ---- any state (RFC 9051 §6.1) ---------------------------------------- */

/* What every state offers; login-related words only before login. */
static const char *const imap_capabilities[] = {
  "IMAP4rev1",
  "IMAP4rev2",
  "LITERAL+",
  "ENABLE",
  "ID",
  "IDLE",
  "NAMESPACE",
  "UNSELECT",
  "UIDPLUS",
  "MOVE",
  "CHILDREN",
  "SPECIAL-USE",
  "LIST-EXTENDED",
  "LIST-STATUS",
  "ESEARCH",
  "SASL-IR",
  "BINARY",
  "MULTIAPPEND",
  "UTF8=ACCEPT",
  "STATUS=SIZE",
  "CONDSTORE",
  "QRESYNC",
  "SORT",
  "THREAD=ORDEREDSUBJECT",
  "THREAD=REFERENCES",
  NULL,
};

char *
imap_session_capabilities (ImapSession *session)
{
  g_autoptr (GString) out = g_string_new (NULL);

  for (guint i = 0; imap_capabilities[i] != NULL; i++)
    g_string_append_printf (out, "%s%s", i ? " " : "", imap_capabilities[i]);
  /* RFC 7889: the largest message APPEND takes */
  g_string_append_printf (out, " APPENDLIMIT=%" G_GUINT64_FORMAT,
                          session->context->config->smtp_max_size);
  if (session->state != IMAP_STATE_NOT_AUTHENTICATED)
    return g_string_free (g_steal_pointer (&out), FALSE);
  if (imap_session_can_starttls (session))
    g_string_append (out, " STARTTLS");
  /* RFC 9051 §6.2.3, §7.2.2: no plaintext login offered where refused */
  if (imap_session_plaintext_allowed (session))
    g_string_append (out, " AUTH=PLAIN AUTH=LOGIN");
  else
    g_string_append (out, " LOGINDISABLED");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* §6.1.1 CAPABILITY */
static void
imap_cmd_capability (ImapSession *session, GPtrArray *args)
{
  g_autofree char *list = imap_session_capabilities (session);

  imap_reply_untagged (session, "CAPABILITY %s", list);
  imap_reply_completed (session);
}

/* §6.1.2 NOOP: the news is told after every command (see dispatch). */
static void
imap_cmd_noop (ImapSession *session, GPtrArray *args)
{
  imap_reply_completed (session);
}

/* §6.1.3 LOGOUT */
static void
imap_cmd_logout (ImapSession *session, GPtrArray *args)
{
  imap_reply_status (session, IMAP_STATUS_BYE, IMAP_CODE_NONE, NULL,
                     "mailwire IMAP server logging out");
  imap_session_enter_state (session, IMAP_STATE_LOGOUT);
  imap_reply_ok (session, "LOGOUT completed");
  session->flags.done = TRUE;
}

/* RFC 9051 §6.3.1, RFC 5161: ENABLE capability... */
static void
imap_cmd_enable (ImapSession *session, GPtrArray *args)
{
  g_autoptr (GString) enabled = g_string_new ("ENABLED");

  for (guint i = 0; i < args->len; i++)
    {
      const ImapArg *arg = args->pdata[i];

      if (arg->type != IMAP_ARG_ATOM)
        {
          imap_reply_bad (session, "ENABLE takes capability names");
          return;
        }
      /* RFC 5161 §3.1: only what was not enabled before is listed */
      if (imap_arg_is_atom (arg, "IMAP4rev2") && !session->flags.rev2)
        {
          session->flags.rev2 = TRUE;
          g_string_append (enabled, " IMAP4rev2");
        }
      else if (imap_arg_is_atom (arg, "UTF8=ACCEPT") && !session->flags.utf8)
        {
          session->flags.utf8 = TRUE;
          g_string_append (enabled, " UTF8=ACCEPT");
        }
      /* RFC 7162 §3.2.3: QRESYNC implies CONDSTORE */
      else if (imap_arg_is_atom (arg, "QRESYNC") && !session->flags.qresync)
        {
          if (!session->flags.condstore)
            g_string_append (enabled, " CONDSTORE");
          session->flags.qresync = TRUE;
          imap_session_enable_condstore (session);
          g_string_append (enabled, " QRESYNC");
        }
      else if (imap_arg_is_atom (arg, "CONDSTORE") && !session->flags.condstore)
        {
          imap_session_enable_condstore (session);
          g_string_append (enabled, " CONDSTORE");
        }
    }
  imap_reply_untagged (session, "%s", enabled->str);
  imap_reply_completed (session);
}

/* RFC 2971 §3.1: ID ("name" "value" ...) / NIL */
static void
imap_cmd_id (ImapSession *session, GPtrArray *args)
{
  const ImapArg *arg = args->len == 1 ? args->pdata[0] : NULL;

  if (arg == NULL || (arg->type != IMAP_ARG_NIL && arg->type != IMAP_ARG_LIST))
    {
      imap_reply_bad (session, "ID takes a list of field-value pairs or NIL");
      return;
    }
  imap_reply_untagged (session, "ID (\"name\" \"mailwire\" \"version\" \"%s\")",
                       PACKAGE_VERSION);
  imap_reply_completed (session);
}

/* ---- the command table ------------------------------------------------ */

static void imap_cmd_uid (ImapSession *session, GPtrArray *args);

static const ImapCommand imap_commands[] = {
  /* verb           allowed in                      handler     RFC 9051 */
  { "CAPABILITY", IMAP_IN_ANY, imap_cmd_capability },              /* §6.1.1 */
  { "NOOP", IMAP_IN_ANY, imap_cmd_noop },                          /* §6.1.2 */
  { "LOGOUT", IMAP_IN_ANY, imap_cmd_logout },                      /* §6.1.3 */
  { "ID", IMAP_IN_ANY, imap_cmd_id },                              /* 2971 */
  { "STARTTLS", IMAP_STATE_NOT_AUTHENTICATED, imap_cmd_starttls }, /* §6.2.1 */
  { "AUTHENTICATE", IMAP_STATE_NOT_AUTHENTICATED,
    imap_cmd_authenticate },                                 /* §6.2.2 */
  { "LOGIN", IMAP_STATE_NOT_AUTHENTICATED, imap_cmd_login }, /* §6.2.3 */
  { "ENABLE", IMAP_IN_AUTH, imap_cmd_enable },               /* §6.3.1 */
  { "SELECT", IMAP_IN_AUTH, imap_cmd_select },               /* §6.3.2 */
  { "EXAMINE", IMAP_IN_AUTH, imap_cmd_select },              /* §6.3.3 */
  { "CREATE", IMAP_IN_AUTH, imap_cmd_create },               /* §6.3.4 */
  { "DELETE", IMAP_IN_AUTH, imap_cmd_delete },               /* §6.3.5 */
  { "RENAME", IMAP_IN_AUTH, imap_cmd_rename },               /* §6.3.6 */
  { "SUBSCRIBE", IMAP_IN_AUTH, imap_cmd_subscribe },         /* §6.3.7 */
  { "UNSUBSCRIBE", IMAP_IN_AUTH, imap_cmd_subscribe },       /* §6.3.8 */
  { "LIST", IMAP_IN_AUTH, imap_cmd_list },                   /* §6.3.9 */
  { "LSUB", IMAP_IN_AUTH, imap_cmd_list },                   /* 3501 */
  { "NAMESPACE", IMAP_IN_AUTH, imap_cmd_namespace },         /* §6.3.10 */
  { "STATUS", IMAP_IN_AUTH, imap_cmd_status },               /* §6.3.11 */
  { "APPEND", IMAP_IN_AUTH, imap_cmd_append },               /* §6.3.12 */
  { "IDLE", IMAP_IN_AUTH, imap_cmd_idle },                   /* §6.3.13 */
  { "CHECK", IMAP_STATE_SELECTED, imap_cmd_check },          /* 3501 */
  { "CLOSE", IMAP_STATE_SELECTED, imap_cmd_close },          /* §6.4.1 */
  { "UNSELECT", IMAP_STATE_SELECTED, imap_cmd_unselect },    /* §6.4.2 */
  { "EXPUNGE", IMAP_STATE_SELECTED, imap_cmd_expunge },      /* §6.4.3 */
  { "SEARCH", IMAP_STATE_SELECTED, imap_cmd_search },        /* §6.4.4 */
  { "FETCH", IMAP_STATE_SELECTED, imap_cmd_fetch },          /* §6.4.5 */
  { "STORE", IMAP_STATE_SELECTED, imap_cmd_store },          /* §6.4.6 */
  { "COPY", IMAP_STATE_SELECTED, imap_cmd_copy },            /* §6.4.7 */
  { "MOVE", IMAP_STATE_SELECTED, imap_cmd_copy },            /* §6.4.8 */
  { "UID", IMAP_STATE_SELECTED, imap_cmd_uid },              /* §6.4.9 */
  { "SORT", IMAP_STATE_SELECTED, imap_cmd_sort },            /* 5256 §3 */
  { "THREAD", IMAP_STATE_SELECTED, imap_cmd_thread },        /* 5256 §3 */
};

/* The commands that may follow "UID" (§6.4.9, RFC 4315 §2.1). */
static const char *const imap_uid_verbs[] = {
  "FETCH",   "STORE", "COPY",   "MOVE", "SEARCH",
  "EXPUNGE", "SORT",  "THREAD", NULL, /* RFC 5256 §3: UID SORT, UID THREAD */
};

static const ImapCommand *
imap_command_find (const char *verb)
{
  for (guint i = 0; i < G_N_ELEMENTS (imap_commands); i++)
    if (g_ascii_strcasecmp (imap_commands[i].verb, verb) == 0)
      return &imap_commands[i];
  return NULL;
}

/* §6.4.9: UID FETCH / STORE / COPY / MOVE / SEARCH / EXPUNGE */
static void
imap_cmd_uid (ImapSession *session, GPtrArray *args)
{
  const ImapArg *verb = args->len > 0 ? args->pdata[0] : NULL;

  for (guint i = 0; verb != NULL && imap_uid_verbs[i] != NULL; i++)
    {
      if (imap_arg_is_atom (verb, imap_uid_verbs[i]))
        {
          g_autoptr (GPtrArray) rest = g_ptr_array_new ();

          for (guint k = 1; k < args->len; k++)
            g_ptr_array_add (rest, args->pdata[k]);
          session->uid = TRUE;
          session->verb = imap_uid_verbs[i];
          imap_session_report_news (session, TRUE, FALSE);
          imap_command_find (imap_uid_verbs[i])->handler (session, rest);
          return;
        }
    }
  imap_reply_bad (session, "UID must be followed by FETCH, STORE, COPY, "
                           "MOVE, SEARCH, EXPUNGE, SORT or THREAD");
}

/* Runs one parsed command; the only place the state mask is checked. */
static void
imap_session_dispatch (ImapSession *session,
                       const char *verb,
                       const char *arguments,
                       gsize length)
{
  const ImapCommand *command = imap_command_find (verb);
  g_autoptr (GPtrArray) args = NULL;
  g_autoptr (GError) error = NULL;

  if (command == NULL)
    {
      imap_reply_bad (session, "unknown command %s", verb);
      return;
    }
  if ((command->allowed & session->state) == 0)
    {
      imap_reply_bad (session, "%s is not allowed in the %s state", verb,
                      imap_state_name (session->state));
      return;
    }
  args = imap_parse_args (arguments, length, &error);
  if (args == NULL)
    {
      imap_reply_bad (session, "%s", error->message);
      return;
    }
  session->verb = command->verb;
  session->uid = FALSE;
  /* a command works on the mailbox as it is now: tell the news first
   * (UID decides once it knows the verb that follows) */
  if (session->state == IMAP_STATE_SELECTED && command->handler != imap_cmd_uid)
    imap_session_report_news (session, imap_session_may_expunge (session),
                              FALSE);
  command->handler (session, args);
}

/* ---- reading commands -------------------------------------------------- */

/* RFC 9051 §4.3: the go-ahead for a synchronising literal. Literals over
 * the limit never get here: the assembler refuses them first. */
static gboolean
on_literal (guint64 size, gboolean non_sync, gpointer user_data)
{
  ImapSession *session = user_data;

  if (!non_sync)
    {
      imap_reply_continue (session, "ready for the literal");
      mail_stream_flush (session->stream, NULL, NULL);
    }
  return TRUE;
}

/* RFC 7888 §4: a command or literal over the limit, refused before any
 * of the literal is read. */
static void
imap_session_refuse_literal (ImapSession *session)
{
  const ImapAssembler *assembler = &session->assembler;

  if (assembler->literal == 0)
    imap_reply_bad (session, "command too long");
  else if (!assembler->non_sync)
    imap_reply_no (session, IMAP_CODE_TOOBIG,
                   "literal of %" G_GUINT64_FORMAT " octets is too large",
                   assembler->literal);
  else
    {
      /* the octets are on their way and cannot be told apart from
       * commands: RFC 7888 §4 lets us hang up */
      imap_reply_status (session, IMAP_STATUS_BYE, IMAP_CODE_TOOBIG, NULL,
                         "literal too large, closing the connection");
      session->flags.done = TRUE;
    }
}

/* Replies to a command that could not be read whole; FALSE: hang up. */
static gboolean
imap_session_read_failed (ImapSession *session, GError *error)
{
  if (g_error_matches (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_TOO_BIG))
    {
      imap_session_refuse_literal (session);
      return !session->flags.done;
    }
  if (g_error_matches (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_TOO_LONG))
    {
      imap_reply_bad (session, "command line too long");
      return TRUE;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      imap_reply_status (session, IMAP_STATUS_BYE, IMAP_CODE_NONE, NULL,
                         "autologout: idle for too long");
      mail_stream_flush (session->stream, NULL, NULL);
    }
  g_debug ("%s: %s", session->peer, error->message);
  return FALSE;
}

/* The tag of a line that is not a command, for the BAD reply; "*" if
 * there is none (§7.1.3 allows an untagged BAD). */
static char *
imap_guess_tag (const char *line)
{
  gsize length = strcspn (line, " ");

  if (length > 0 && imap_proto_tag_is_valid (line, length))
    return g_strndup (line, length);
  return g_strdup ("*");
}

/* Reads and handles one command; FALSE when the session must end. */
static gboolean
imap_session_step (ImapSession *session)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *first = NULL;
  g_autofree char *verb = NULL;
  const char *arguments = NULL;
  const char *data = NULL;
  MailLineFlags flags = MAIL_LINE_CRLF;
  gboolean ok;

  g_clear_pointer (&session->tag, g_free);
  session->assembler.max_size =
      session->state == IMAP_STATE_NOT_AUTHENTICATED
          ? MAIL_LINE_MAX_IMAP
          : session->context->config->smtp_max_size + IMAP_MAX_COMMAND_SIZE;
  ok = imap_read_message (session->stream, &session->assembler, on_literal,
                          session, &first, &flags, NULL, &error);
  if (first != NULL &&
      !imap_proto_split_command (first, &session->tag, &verb, &arguments))
    session->tag = imap_guess_tag (first);
  if (!ok)
    {
      if (session->tag == NULL)
        session->tag = g_strdup ("*");
      return imap_session_read_failed (session, error);
    }
  if (flags & (MAIL_LINE_HAS_NUL | MAIL_LINE_BARE_LF | MAIL_LINE_BARE_CR))
    imap_reply_bad (session, "commands end in CRLF and hold no NUL or bare CR"
                             " (RFC 9051 §2.2)");
  else if (verb == NULL)
    imap_reply_bad (session, "expected: tag SP command (RFC 9051 §2.2.1)");
  else
    {
      data = (const char *) session->assembler.message->data;
      imap_session_dispatch (session, verb, data + (arguments - first),
                             session->assembler.message->len -
                                 (arguments - first));
    }
  return !session->flags.done;
}

/* ---- the session ------------------------------------------------------ */

static void
on_trace (MailStreamDirection direction, const char *line, gpointer user_data)
{
  ImapSession *session = user_data;

  mail_catalog_log_line (G_LOG_DOMAIN, session->peer,
                         direction == MAIL_STREAM_RECEIVED, line);
}

/* Makes the MailStream, with the TLS handshake first for port 993. */
static gboolean
imap_session_open_stream (ImapSession *session,
                          GSocketConnection *connection,
                          gboolean implicit_tls)
{
  const MailConfig *config = session->context->config;
  g_autoptr (GError) error = NULL;

  session->stream = mail_server_open_stream (connection, implicit_tls,
                                             session->context->certificate,
                                             MAIL_LINE_MAX_IMAP, &error);
  if (session->stream == NULL)
    {
      g_message ("%s: TLS handshake failed: %s", session->peer, error->message);
      return FALSE;
    }
  session->flags.tls = implicit_tls;
  mail_stream_set_timeout (session->stream, IMAP_LOGIN_TIMEOUT);
  if (config->protocol_log)
    mail_stream_set_trace (session->stream, on_trace, session);
  return TRUE;
}

static void
imap_session_clear (ImapSession *session)
{
  imap_session_close_mailbox (session);
  g_clear_pointer (&session->store, mail_store_free);
  if (session->stream != NULL)
    mail_stream_close (session->stream);
  g_clear_pointer (&session->stream, mail_stream_free);
  imap_assembler_clear (&session->assembler);
  g_clear_pointer (&session->tag, g_free);
  g_clear_pointer (&session->login, g_free);
  g_clear_pointer (&session->peer, g_free);
}

/* RFC 9051 §7.1.1: the greeting, with the capabilities (saves a trip). */
static void
imap_session_greet (ImapSession *session)
{
  g_autofree char *capabilities = imap_session_capabilities (session);

  imap_reply_status (session, IMAP_STATUS_OK, IMAP_CODE_CAPABILITY,
                     capabilities, "mailwire IMAP server ready");
}

void
imap_session_run (ImapContext *context,
                  GSocketConnection *connection,
                  gboolean implicit_tls)
{
  ImapSession session = { 0 };
  g_autoptr (GError) error = NULL;

  g_return_if_fail (context != NULL);
  g_return_if_fail (G_IS_SOCKET_CONNECTION (connection));

  session.context = context;
  session.peer = mail_net_peer_string (connection);
  session.loopback = mail_net_peer_is_loopback (connection);
  session.state = IMAP_STATE_NOT_AUTHENTICATED;
  imap_assembler_init (&session.assembler, MAIL_LINE_MAX_IMAP);
  g_debug ("%s: connected", session.peer);
  if (imap_session_open_stream (&session, connection, implicit_tls))
    {
      imap_session_greet (&session);
      while (imap_session_step (&session))
        ;
      if (!mail_stream_flush (session.stream, NULL, &error))
        g_debug ("%s: %s", session.peer, error->message);
    }
  g_debug ("%s: disconnected", session.peer);
  imap_session_clear (&session);
}
