/* SPDX-License-Identifier: MIT
 * pop3-login.c: the AUTHORIZATION state of a POP3 server session (RFC
 * 1939 §4, §7 USER/PASS; RFC 5034 §4 AUTH PLAIN and LOGIN; RFC 2595 §4
 * STLS; RFC 3206 §5 [AUTH]; RFC 2449 §8.1.2 [IN-USE]): checking
 * passwords against the users file, then opening and locking the
 * maildrop, which moves the session to TRANSACTION.
 */
#include <string.h>

#include "mail-tls.h"
#include "pop3-session-private.h"

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

/* Common end of PASS and AUTH. @password is wiped by the caller. */
static void
pop3_session_login (Pop3Session *session,
                    const char *name,
                    const char *password)
{
  g_autofree char *maildir =
      mail_users_cache_check_login (session->context->users, name, password);
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
void
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
void
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
void
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
void
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
void
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
