/* SPDX-License-Identifier: MIT
 * imap-login.c: the not-authenticated state of an IMAP server session
 * (RFC 9051 §6.2: STARTTLS, AUTHENTICATE, LOGIN; RFC 4959 SASL-IR;
 * RFC 4616 PLAIN; draft-murchison-sasl-login LOGIN; RFC 5530 response
 * codes).
 */
#include <string.h>

#include "imap-session-private.h"
#include "mail-tls.h"

/* ---- logging in ------------------------------------------------------ */

static void
imap_session_auth_failed (ImapSession *session)
{
  session->auth_failures++;
  /* sleeps before answering, so guessing is slow (mail-auth.h) */
  mail_auth_failure_delay (session->auth_failures);
  imap_reply_no (session, IMAP_CODE_AUTHENTICATIONFAILED,
                 "wrong user name or password");
  if (session->auth_failures >= IMAP_MAX_AUTH_FAILURES)
    {
      imap_reply_status (session, IMAP_STATUS_BYE, IMAP_CODE_NONE, NULL,
                         "too many failed logins");
      session->flags.done = TRUE;
    }
}

/* Common end of LOGIN and AUTHENTICATE. @password is wiped by the caller.
 * RFC 9051 §6.2.3: a successful login may carry the new capabilities. */
static void
imap_session_login (ImapSession *session,
                    const char *name,
                    const char *password)
{
  g_autofree char *maildir =
      mail_users_cache_check_login (session->context->users, name, password);
  g_autoptr (GError) error = NULL;
  g_autofree char *capabilities = NULL;

  if (maildir == NULL)
    {
      g_message ("%s: failed login for \"%s\"", session->peer, name);
      imap_session_auth_failed (session);
      return;
    }
  session->store = mail_store_open (maildir, &error);
  if (session->store == NULL)
    {
      g_warning ("%s: %s", session->peer, error->message);
      imap_reply_no (session, IMAP_CODE_UNAVAILABLE,
                     "cannot open the mailboxes");
      return;
    }
  session->login = g_strdup (name);
  g_message ("%s: %s logged in", session->peer, name);
  imap_session_enter_state (session, IMAP_STATE_AUTHENTICATED);
  capabilities = imap_session_capabilities (session);
  imap_reply_tagged (session, IMAP_STATUS_OK, IMAP_CODE_CAPABILITY,
                     capabilities, "%s logged in", name);
}

/* RFC 9051 §6.2.3: LOGINDISABLED means LOGIN is refused without TLS. */
static gboolean
imap_session_check_plaintext (ImapSession *session)
{
  if (imap_session_plaintext_allowed (session))
    return TRUE;
  imap_reply_no (session, IMAP_CODE_PRIVACYREQUIRED,
                 "passwords are accepted only over TLS: send STARTTLS first");
  return FALSE;
}

/* §6.2.3: LOGIN userid password (both astrings) */
void
imap_cmd_login (ImapSession *session, GPtrArray *args)
{
  const char *user = args->len == 2 ? imap_arg_astring (args->pdata[0]) : NULL;
  const char *password =
      args->len == 2 ? imap_arg_astring (args->pdata[1]) : NULL;

  if (user == NULL || password == NULL)
    {
      imap_reply_bad (session, "LOGIN takes a user name and a password");
      return;
    }
  if (imap_session_check_plaintext (session))
    imap_session_login (session, user, password);
  /* the argument tree holds the password: wipe it */
  explicit_bzero ((char *) password, strlen (password));
}

/* ---- AUTHENTICATE (§6.2.2) ------------------------------------------ */

/* Gets one SASL response: the initial response from the command (RFC
 * 4959: "=" is an empty one) or a line after "+ challenge". NULL after
 * replying (cancelled with "*", broken connection). */
static char *
imap_session_sasl_step (ImapSession *session,
                        const char *initial,
                        const char *challenge)
{
  g_autoptr (GError) error = NULL;
  char *line = NULL;
  gsize length = 0;
  MailLineFlags flags = MAIL_LINE_CRLF;

  if (initial != NULL)
    return g_strdup (strcmp (initial, "=") == 0 ? "" : initial);
  imap_reply_continue (session, challenge);
  mail_stream_mask_next_line (session->stream);
  if (!mail_stream_read_line (session->stream, &line, &length, &flags, NULL,
                              &error))
    {
      g_debug ("%s: %s", session->peer, error->message);
      if (g_error_matches (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_TOO_LONG))
        imap_reply_bad (session, "SASL response too long");
      else
        session->flags.done = TRUE;
      return NULL;
    }
  /* §6.2.2: "*" cancels the exchange */
  if (strcmp (line, "*") == 0)
    {
      g_free (line);
      imap_reply_bad (session, "authentication cancelled");
      return NULL;
    }
  return line;
}

/* RFC 4616 §2: [authzid] NUL authcid NUL passwd */
static void
imap_session_auth_plain (ImapSession *session, const char *initial)
{
  g_autofree char *response = imap_session_sasl_step (session, initial, "");
  g_autofree char *authzid = NULL;
  g_autofree char *authcid = NULL;
  char *password = NULL;
  g_autoptr (GError) error = NULL;

  if (response == NULL)
    return;
  if (!mail_sasl_plain_decode (response, &authzid, &authcid, &password, &error))
    {
      imap_reply_bad (session, "bad PLAIN response: %s", error->message);
      return;
    }
  /* we let nobody act for somebody else */
  if (authzid != NULL && *authzid != '\0' && strcmp (authzid, authcid) != 0)
    imap_session_auth_failed (session);
  else
    imap_session_login (session, authcid, password);
  explicit_bzero (response, strlen (response));
  explicit_bzero (password, strlen (password));
  g_free (password);
}

/* draft-murchison-sasl-login: "Username:" then "Password:" */
static void
imap_session_auth_login (ImapSession *session, const char *initial)
{
  g_autofree char *response = NULL;
  g_autofree char *user = NULL;
  char *password = NULL;
  g_autoptr (GError) error = NULL;

  response =
      imap_session_sasl_step (session, initial, MAIL_SASL_LOGIN_USER_CHALLENGE);
  if (response == NULL)
    return;
  if (!mail_sasl_login_decode (response, &user, &error))
    {
      imap_reply_bad (session, "bad LOGIN response: %s", error->message);
      return;
    }
  g_clear_pointer (&response, g_free);
  response = imap_session_sasl_step (session, NULL,
                                     MAIL_SASL_LOGIN_PASSWORD_CHALLENGE);
  if (response == NULL)
    return;
  if (!mail_sasl_login_decode (response, &password, &error))
    {
      imap_reply_bad (session, "bad LOGIN response: %s", error->message);
      return;
    }
  explicit_bzero (response, strlen (response));
  imap_session_login (session, user, password);
  explicit_bzero (password, strlen (password));
  g_free (password);
}

/* §6.2.2: AUTHENTICATE mechanism [SP initial-response] (RFC 4959) */
void
imap_cmd_authenticate (ImapSession *session, GPtrArray *args)
{
  const ImapArg *mechanism = args->len > 0 ? args->pdata[0] : NULL;
  const char *initial =
      args->len == 2 ? imap_arg_string (args->pdata[1]) : NULL;

  if (mechanism == NULL || mechanism->type != IMAP_ARG_ATOM || args->len > 2 ||
      (args->len == 2 && initial == NULL))
    {
      imap_reply_bad (session, "AUTHENTICATE takes a mechanism and at most "
                               "one initial response");
      return;
    }
  if (!imap_session_check_plaintext (session))
    return;
  if (imap_arg_is_atom (mechanism, "PLAIN"))
    imap_session_auth_plain (session, initial);
  else if (imap_arg_is_atom (mechanism, "LOGIN"))
    imap_session_auth_login (session, initial);
  else
    imap_reply_no (session, IMAP_CODE_CANNOT,
                   "unsupported SASL mechanism; use PLAIN or LOGIN");
}

/* §6.2.1: STARTTLS, then the handshake; the client asks CAPABILITY again
 * (the list changes: LOGINDISABLED goes, AUTH= comes). */
void
imap_cmd_starttls (ImapSession *session, GPtrArray *args)
{
  g_autoptr (GError) error = NULL;

  if (!imap_session_can_starttls (session))
    {
      imap_reply_bad (session, session->flags.tls ? "TLS is already active"
                                                  : "TLS is not configured");
      return;
    }
  imap_reply_ok (session, "begin TLS negotiation now");
  if (!mail_stream_start_tls_server (
          session->stream, session->context->certificate, NULL, &error))
    {
      /* includes MAIL_LINE_ERROR_PLAINTEXT_AFTER_STARTTLS: commands
       * pipelined in clear after STARTTLS could be an injection */
      g_message ("%s: STARTTLS failed: %s", session->peer, error->message);
      session->flags.done = TRUE;
      return;
    }
  session->flags.tls = TRUE;
}
