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
 */
#include "pop3-session.h"

#include <string.h>
#include <sys/stat.h>

#include "mail-auth.h"
#include "mail-catalog.h"
#include "mail-line.h"
#include "mail-net.h"
#include "mail-store.h"
#include "mail-tls.h"
#include "pop3-proto.h"

/* AUTHORIZATION --USER+PASS / AUTH--> TRANSACTION --QUIT--> UPDATE
 *   |  STLS (RFC 2595 §4) keeps the state     | DELE, RSET, RETR ...
 *   +--QUIT: bye, nothing changes              +-- dropped: nothing deleted
 * (RFC 1939 §3) */
typedef enum
{
  POP3_STATE_AUTHORIZATION = 1 << 0, /* greeted, not logged in (§4) */
  POP3_STATE_TRANSACTION = 1 << 1,   /* logged in, maildrop locked (§5) */
  POP3_STATE_UPDATE = 1 << 2,        /* QUIT received: deleting (§6) */
} Pop3State;

#define POP3_IN_ANY (POP3_STATE_AUTHORIZATION | POP3_STATE_TRANSACTION)

/* Failed logins before we hang up; each one already costs a delay. */
#define POP3_MAX_AUTH_FAILURES 5
/* RFC 1939 §3: the autologout timer is at least 10 minutes. */
#define POP3_DEFAULT_TIMEOUT 600

struct _Pop3Context
{
  const MailConfig *config;
  GTlsCertificate *certificate; /* NULL: no TLS */
  GMutex users_lock;            /* guards the three members below */
  MailUsers *users;
  gint64 users_mtime; /* microseconds; -1: never loaded */
  gint64 users_size;
};

typedef struct
{
  Pop3Context *context;
  MailStream *stream;
  char *peer;
  gboolean loopback;
  Pop3State state;
  struct
  {
    guint tls : 1;  /* the connection is TLS (implicit or after STLS) */
    guint done : 1; /* stop reading commands */
  } flags;
  guint auth_failures;
  char *user;  /* USER given, waiting for PASS (RFC 1939 §7) */
  char *login; /* who logged in */
  MailStore *store;
  MailFolder *folder;  /* INBOX, never synced after login */
  gboolean *deleted;   /* one mark per message (DELE) */
  guint count;         /* messages in the fixed list */
  guint32 uidvalidity; /* for UIDL */
} Pop3Session;

typedef void (*Pop3Handler) (Pop3Session *session, const char *argument);

typedef struct
{
  const char *verb;
  guint allowed; /* Pop3State mask */
  Pop3Handler handler;
} Pop3Command;

/* ---- context ------------------------------------------------------- */

Pop3Context *
pop3_context_new (const MailConfig *config, GTlsCertificate *certificate)
{
  Pop3Context *context = g_new0 (Pop3Context, 1);

  context->config = config;
  context->certificate = certificate ? g_object_ref (certificate) : NULL;
  g_mutex_init (&context->users_lock);
  context->users_mtime = -1;
  return context;
}

void
pop3_context_free (Pop3Context *context)
{
  if (context == NULL)
    return;
  g_clear_object (&context->certificate);
  g_clear_pointer (&context->users, mail_users_free);
  g_mutex_clear (&context->users_lock);
  g_free (context);
}

/* Reloads the users file if it changed; call with users_lock held. */
static void
pop3_context_refresh_users (Pop3Context *context)
{
  struct stat st;
  gint64 mtime = -1;
  gint64 size = -1;
  g_autoptr (GError) error = NULL;
  MailUsers *users = NULL;

  if (stat (context->config->users_file, &st) == 0)
    {
      mtime = (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC +
              st.st_mtim.tv_nsec / 1000;
      size = st.st_size;
    }
  if (context->users != NULL && mtime == context->users_mtime &&
      size == context->users_size)
    return;
  users = mail_users_load (context->config->users_file, &error);
  if (users == NULL)
    {
      /* keep the old list rather than lock everyone out */
      g_warning ("users file: %s", error->message);
      return;
    }
  g_clear_pointer (&context->users, mail_users_free);
  context->users = users;
  context->users_mtime = mtime;
  context->users_size = size;
}

/* Checks a password and finds the user's Maildir. Returns the Maildir
 * (transfer full) or NULL if the name or password is wrong. */
static char *
pop3_context_check_login (Pop3Context *context,
                          const char *name,
                          const char *password)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&context->users_lock);
  const MailUser *user = NULL;

  pop3_context_refresh_users (context);
  if (context->users == NULL ||
      !mail_users_verify (context->users, name, password))
    return NULL;
  user = mail_users_lookup (context->users, name);
  if (user == NULL)
    return NULL;
  return mail_config_user_maildir (context->config, user->name, user->maildir);
}

/* ---- replies (RFC 1939 §3) ----------------------------------------- */

static void pop3_reply_ok (Pop3Session *session, const char *format, ...)
    G_GNUC_PRINTF (2, 3);
static void pop3_reply_err (Pop3Session *session,
                            Pop3ResponseCode code,
                            const char *format,
                            ...) G_GNUC_PRINTF (3, 4);

static void
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
static void
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
static void
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

static void
pop3_session_enter_state (Pop3Session *session, Pop3State state)
{
  g_debug ("%s: %s -> %s", session->peer, pop3_state_name (session->state),
           pop3_state_name (state));
  session->state = state;
}

/* RFC 2595 §2.3, RFC 4616 §6: passwords in the clear only over TLS,
 * unless the configuration allows it (loopback by default, for labs). */
static gboolean
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

static gboolean
pop3_session_can_stls (Pop3Session *session)
{
  return session->context->certificate != NULL && !session->flags.tls;
}

/* ---- login --------------------------------------------------------- */

static void
pop3_session_auth_failed (Pop3Session *session)
{
  session->auth_failures++;
  /* sleeps before answering, so guessing is slow (mail-auth.h) */
  mail_auth_failure_delay (session->auth_failures);
  pop3_reply_err (session, POP3_CODE_AUTH, "wrong user name or password");
  if (session->auth_failures >= POP3_MAX_AUTH_FAILURES)
    {
      pop3_reply_err (session, POP3_CODE_AUTH,
                      "too many failed logins, closing the connection");
      session->flags.done = TRUE;
    }
}

/* Opens, locks and reads the maildrop of a user who gave the right
 * password. RFC 1939 §4: on failure the session stays in AUTHORIZATION. */
static gboolean
pop3_session_open_maildrop (Pop3Session *session, const char *maildir)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailStore) store = mail_store_open (maildir, &error);

  if (store == NULL)
    {
      g_warning ("%s: %s", session->peer, error->message);
      pop3_reply_err (session, POP3_CODE_SYS_TEMP, "cannot open the maildrop");
      return FALSE;
    }
  /* RFC 1939 §8, RFC 2449 §8.1.2: one session per maildrop */
  if (!mail_store_lock_maildrop (store, &error))
    {
      if (g_error_matches (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_IN_USE))
        pop3_reply_err (session, POP3_CODE_IN_USE,
                        "the maildrop is in use by another session");
      else
        pop3_reply_err (session, POP3_CODE_SYS_TEMP, "cannot lock: %s",
                        error->message);
      return FALSE;
    }
  session->folder = mail_folder_open (store, "INBOX", &error);
  if (session->folder == NULL)
    {
      g_warning ("%s: %s", session->peer, error->message);
      mail_store_unlock_maildrop (store);
      pop3_reply_err (session, POP3_CODE_SYS_TEMP, "cannot read the maildrop");
      return FALSE;
    }
  session->store = g_steal_pointer (&store);
  session->count = mail_folder_get_count (session->folder);
  session->uidvalidity = mail_folder_get_uidvalidity (session->folder);
  session->deleted = g_new0 (gboolean, session->count + 1);
  return TRUE;
}

static guint64
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

/* Common end of PASS and AUTH. @password is wiped by the caller. */
static void
pop3_session_login (Pop3Session *session,
                    const char *name,
                    const char *password)
{
  g_autofree char *maildir =
      pop3_context_check_login (session->context, name, password);
  guint count = 0;
  guint64 size = 0;

  if (maildir == NULL)
    {
      g_message ("%s: failed login for \"%s\"", session->peer, name);
      pop3_session_auth_failed (session);
      return;
    }
  if (!pop3_session_open_maildrop (session, maildir))
    return;
  session->login = g_strdup (name);
  g_message ("%s: %s logged in, %u messages", session->peer, name,
             session->count);
  pop3_session_enter_state (session, POP3_STATE_TRANSACTION);
  size = pop3_session_total_size (session, &count);
  pop3_reply_ok (session, "%s has %u messages (%" G_GUINT64_FORMAT " octets)",
                 name, count, size);
}

/* ---- reading during a command (SASL) ------------------------------- */

/* Reads one SASL response line, masked in logs. NULL if the connection
 * failed (the session ends). */
static char *
pop3_session_read_response (Pop3Session *session)
{
  g_autoptr (GError) error = NULL;
  char *line = NULL;
  gsize length = 0;
  MailLineFlags flags = MAIL_LINE_CRLF;

  mail_stream_mask_next_line (session->stream);
  if (!mail_stream_read_line (session->stream, &line, &length, &flags, NULL,
                              &error))
    {
      g_debug ("%s: %s", session->peer, error->message);
      if (!g_error_matches (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_TOO_LONG))
        session->flags.done = TRUE;
      return NULL;
    }
  return line;
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

/* Refuses a password in the clear when policy says so (RFC 2595 §2.3).
 * RFC 3206 §5 lists "violation of policy" under [AUTH]. */
static gboolean
pop3_session_check_plaintext (Pop3Session *session)
{
  if (pop3_session_plaintext_allowed (session))
    return TRUE;
  pop3_reply_err (session, POP3_CODE_AUTH,
                  "passwords are accepted only over TLS: send STLS first");
  return FALSE;
}

/* RFC 1939 §7: USER name */
static void
pop3_cmd_user (Pop3Session *session, const char *argument)
{
  if (!pop3_session_check_plaintext (session))
    return;
  if (argument == NULL || *argument == '\0')
    {
      pop3_reply_err (session, POP3_CODE_NONE, "USER needs a user name");
      return;
    }
  g_free (session->user);
  session->user = g_strdup (argument);
  pop3_reply_ok (session, "send PASS");
}

/* RFC 1939 §7: PASS string (the rest of the line: spaces allowed) */
static void
pop3_cmd_pass (Pop3Session *session, const char *argument)
{
  g_autofree char *user = g_steal_pointer (&session->user);

  if (!pop3_session_check_plaintext (session))
    return;
  if (user == NULL)
    {
      pop3_reply_err (session, POP3_CODE_NONE, "send USER before PASS");
      return;
    }
  pop3_session_login (session, user, argument ? argument : "");
}

/* RFC 1939 §7: APOP needs the password in the clear on the server; we
 * keep only PBKDF2 hashes (mail-auth.h), so we cannot offer it. */
static void
pop3_cmd_apop (Pop3Session *session, const char *argument)
{
  pop3_reply_err (session, POP3_CODE_NONE,
                  "APOP is not supported (passwords are stored hashed); "
                  "use USER/PASS or AUTH over TLS");
}

/* Gets a SASL response: the initial response from the command line
 * (RFC 5034 §4: "=" means empty) or after a "+ challenge". Returns NULL
 * after replying -ERR (cancelled, broken connection). */
static char *
pop3_session_sasl_step (Pop3Session *session,
                        const char *initial,
                        const char *challenge)
{
  char *response = NULL;

  if (initial != NULL)
    return g_strdup (strcmp (initial, "=") == 0 ? "" : initial);
  pop3_reply_continue (session, challenge);
  response = pop3_session_read_response (session);
  if (response == NULL)
    {
      if (!session->flags.done)
        pop3_reply_err (session, POP3_CODE_NONE, "SASL response too long");
      return NULL;
    }
  if (strcmp (response, POP3_SASL_CANCEL) == 0)
    {
      g_free (response);
      pop3_reply_err (session, POP3_CODE_NONE, "authentication cancelled");
      return NULL;
    }
  return response;
}

/* RFC 4616 §2: [authzid] NUL authcid NUL passwd */
static void
pop3_session_auth_plain (Pop3Session *session, const char *initial)
{
  g_autofree char *response = pop3_session_sasl_step (session, initial, "");
  g_autofree char *authzid = NULL;
  g_autofree char *authcid = NULL;
  char *password = NULL;
  g_autoptr (GError) error = NULL;

  if (response == NULL)
    return;
  if (!mail_sasl_plain_decode (response, &authzid, &authcid, &password, &error))
    {
      pop3_reply_err (session, POP3_CODE_NONE, "bad PLAIN response: %s",
                      error->message);
      return;
    }
  /* we let nobody act for somebody else */
  if (authzid != NULL && *authzid != '\0' && strcmp (authzid, authcid) != 0)
    pop3_session_auth_failed (session);
  else
    pop3_session_login (session, authcid, password);
  explicit_bzero (password, strlen (password));
  g_free (password);
}

/* draft-murchison-sasl-login: "Username:" then "Password:" */
static void
pop3_session_auth_login (Pop3Session *session, const char *initial)
{
  g_autofree char *response = NULL;
  g_autofree char *user = NULL;
  char *password = NULL;
  g_autoptr (GError) error = NULL;

  response =
      pop3_session_sasl_step (session, initial, MAIL_SASL_LOGIN_USER_CHALLENGE);
  if (response == NULL)
    return;
  if (!mail_sasl_login_decode (response, &user, &error))
    {
      pop3_reply_err (session, POP3_CODE_NONE, "bad LOGIN response: %s",
                      error->message);
      return;
    }
  g_clear_pointer (&response, g_free);
  response = pop3_session_sasl_step (session, NULL,
                                     MAIL_SASL_LOGIN_PASSWORD_CHALLENGE);
  if (response == NULL)
    return;
  if (!mail_sasl_login_decode (response, &password, &error))
    {
      pop3_reply_err (session, POP3_CODE_NONE, "bad LOGIN response: %s",
                      error->message);
      return;
    }
  explicit_bzero (response, strlen (response));
  pop3_session_login (session, user, password);
  explicit_bzero (password, strlen (password));
  g_free (password);
}

/* RFC 5034 §4: AUTH mechanism [initial-response] */
static void
pop3_cmd_auth (Pop3Session *session, const char *argument)
{
  g_auto (GStrv) words = NULL;

  if (argument == NULL || *argument == '\0')
    {
      pop3_reply_err (session, POP3_CODE_NONE,
                      "AUTH needs a mechanism; CAPA lists them (SASL line)");
      return;
    }
  if (!pop3_session_check_plaintext (session))
    return;
  words = g_strsplit (argument, " ", 3);
  if (words[1] != NULL && words[2] != NULL)
    pop3_reply_err (session, POP3_CODE_NONE,
                    "AUTH takes a mechanism and at most one response");
  else if (g_ascii_strcasecmp (words[0], "PLAIN") == 0)
    pop3_session_auth_plain (session, words[1]);
  else if (g_ascii_strcasecmp (words[0], "LOGIN") == 0)
    pop3_session_auth_login (session, words[1]);
  else
    pop3_reply_err (session, POP3_CODE_NONE,
                    "unsupported SASL mechanism; use PLAIN or LOGIN");
}

/* RFC 2595 §4: STLS, then the TLS handshake; the state stays
 * AUTHORIZATION and the client must ask CAPA again. */
static void
pop3_cmd_stls (Pop3Session *session, const char *argument)
{
  g_autoptr (GError) error = NULL;

  if (!pop3_session_can_stls (session))
    {
      pop3_reply_err (session, POP3_CODE_NONE,
                      session->flags.tls ? "TLS is already active"
                                         : "TLS is not configured here");
      return;
    }
  pop3_reply_ok (session, "begin TLS negotiation");
  if (!mail_stream_start_tls_server (
          session->stream, session->context->certificate, NULL, &error))
    {
      /* includes MAIL_LINE_ERROR_PLAINTEXT_AFTER_STARTTLS: commands
       * pipelined in clear after STLS could be an injection, so we drop */
      g_message ("%s: STLS failed: %s", session->peer, error->message);
      session->flags.done = TRUE;
      return;
    }
  session->flags.tls = TRUE;
  g_clear_pointer (&session->user, g_free);
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
  for (guint i = 0; i < G_N_ELEMENTS (pop3_commands); i++)
    {
      const Pop3Command *command = &pop3_commands[i];

      if (strcmp (command->verb, verb) != 0)
        continue;
      if ((command->allowed & session->state) == 0)
        pop3_reply_err (
            session, POP3_CODE_NONE, "%s is not allowed in the %s state%s",
            verb, pop3_state_name (session->state),
            session->state == POP3_STATE_AUTHORIZATION ? ": log in first" : "");
      else
        command->handler (session, argument);
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
  g_autoptr (GIOStream) io = g_object_ref (G_IO_STREAM (connection));
  g_autoptr (GError) error = NULL;

  if (implicit_tls)
    {
      g_clear_object (&io);
      io = mail_tls_server_wrap (G_IO_STREAM (connection),
                                 session->context->certificate, NULL, &error);
      if (io == NULL)
        {
          g_message ("%s: TLS handshake failed: %s", session->peer,
                     error->message);
          return FALSE;
        }
      session->flags.tls = TRUE;
    }
  session->stream = mail_stream_new (io, MAIL_LINE_MAX_POP3);
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
  g_clear_pointer (&session->stream, mail_stream_free);
  g_clear_pointer (&session->user, g_free);
  g_clear_pointer (&session->login, g_free);
  g_clear_pointer (&session->peer, g_free);
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
      pop3_reply_ok (&session, "mailwire POP3 server ready");
      while (pop3_session_step (&session))
        ;
      if (!mail_stream_flush (session.stream, NULL, &error))
        g_debug ("%s: %s", session.peer, error->message);
    }
  g_debug ("%s: disconnected", session.peer);
  pop3_session_clear (&session);
}
