/* SPDX-License-Identifier: MIT
 * smtp-session-auth.c: STARTTLS (RFC 3207) and AUTH PLAIN/LOGIN (RFC 4954,
 * RFC 4616) for the SMTP server session.
 */
#include <string.h>

#include "mail-auth.h"
#include "smtp-session-private.h"

/* RFC 4954 §4: an AUTH exchange line may be up to 12288 octets. */
#define SMTP_MAX_AUTH_LINE 12288

/* ---- STARTTLS (RFC 3207) ----------------------------------------------- */

void
smtp_cmd_starttls (SmtpSession *session, const char *arguments)
{
  g_autoptr (GError) error = NULL;

  if (arguments[0] != '\0')
    {
      smtp_reply (session, SMTP_REPLY_PARAMETER_SYNTAX_ERROR,
                  SMTP_ENHANCED_INVALID_ARGUMENTS,
                  "STARTTLS takes no argument (RFC 3207 §4)");
      return;
    }
  if (session->flags.tls)
    {
      smtp_reply (session, SMTP_REPLY_BAD_SEQUENCE,
                  SMTP_ENHANCED_INVALID_COMMAND, "TLS is already active");
      return;
    }
  if (session->context->certificate == NULL)
    {
      smtp_reply (session, SMTP_REPLY_TLS_NOT_AVAILABLE,
                  SMTP_ENHANCED_TEMP_SECURITY,
                  "TLS not available: no certificate configured");
      return;
    }
  smtp_reply (session, SMTP_REPLY_SERVICE_READY, SMTP_ENHANCED_OK,
              "ready to start TLS");
  if (!mail_stream_flush (session->stream, NULL, &error) ||
      !mail_stream_start_tls_server (
          session->stream, session->context->certificate, NULL, &error))
    {
      /* Includes plaintext pipelined after STARTTLS (CVE-2011-0411):
       * those octets were never read as commands; we hang up. */
      g_message ("%s: STARTTLS failed: %s", session->peer, error->message);
      smtp_session_enter_state (session, SMTP_STATE_CLOSED);
      return;
    }
  /* RFC 3207 §4.2: forget all that was learnt in plaintext. */
  session->flags.tls = TRUE;
  session->flags.esmtp = FALSE;
  g_clear_pointer (&session->helo, g_free);
  smtp_transaction_clear (&session->transaction);
  smtp_session_enter_state (session, SMTP_STATE_GREETED);
}

/* ---- AUTH (RFC 4954) ----------------------------------------------------- */

/* Sends a 334 challenge and reads the client's answer (masked in logs).
 * NULL when the exchange ended: cancelled with "*" (501, RFC 4954 §4),
 * line too long, or connection gone (state CLOSED). "" stays "". */
static char *
smtp_session_sasl_step (SmtpSession *session, const char *challenge)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  gsize length = 0;
  MailLineFlags flags = MAIL_LINE_CRLF;
  gboolean ok;

  smtp_reply (session, SMTP_REPLY_AUTH_CONTINUE, NULL, "%s", challenge);
  mail_stream_mask_next_line (session->stream);
  mail_stream_set_max_line (session->stream, SMTP_MAX_AUTH_LINE);
  ok = mail_stream_read_line (session->stream, &line, &length, &flags, NULL,
                              &error);
  mail_stream_set_max_line (session->stream, MAIL_LINE_MAX_SMTP_COMMAND);
  if (!ok && g_error_matches (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_TOO_LONG))
    smtp_reply (session, SMTP_REPLY_SYNTAX_ERROR, SMTP_ENHANCED_LINE_TOO_LONG,
                "authentication exchange line is too long");
  else if (!ok)
    smtp_session_enter_state (session, SMTP_STATE_CLOSED);
  else if (g_str_equal (line, "*"))
    smtp_reply (session, SMTP_REPLY_PARAMETER_SYNTAX_ERROR,
                SMTP_ENHANCED_SYNTAX_ERROR, "authentication cancelled");
  else
    return g_steal_pointer (&line);
  return NULL;
}

/* RFC 4954 §4: an initial response of "=" stands for an empty one. */
static char *
smtp_session_initial_or_step (SmtpSession *session,
                              const char *initial,
                              const char *challenge)
{
  if (initial == NULL)
    return smtp_session_sasl_step (session, challenge);
  return g_strdup (g_str_equal (initial, "=") ? "" : initial);
}

static void
smtp_session_check_password (SmtpSession *session,
                             const char *user,
                             char *password)
{
  MailUsers *users = smtp_context_get_users (session->context);
  gboolean ok = mail_users_verify (users, user, password);

  explicit_bzero (password, strlen (password));
  if (!ok)
    {
      session->auth_failures++;
      g_message ("%s: AUTH failed for %s", session->peer, user);
      mail_auth_failure_delay (session->auth_failures);
      smtp_reply (session, SMTP_REPLY_AUTH_INVALID, SMTP_ENHANCED_AUTH_INVALID,
                  "authentication credentials invalid");
      return;
    }
  session->flags.authenticated = TRUE;
  session->user = g_strdup (user);
  g_message ("%s: authenticated as %s", session->peer, user);
  smtp_reply (session, SMTP_REPLY_AUTH_SUCCEEDED, SMTP_ENHANCED_AUTH_OK,
              "authentication succeeded");
}

static void
smtp_session_reply_bad_base64 (SmtpSession *session, const GError *error)
{
  smtp_reply (session, SMTP_REPLY_PARAMETER_SYNTAX_ERROR,
              SMTP_ENHANCED_SYNTAX_ERROR, "cannot decode response: %s",
              error->message);
}

/* RFC 4616: one message, authzid NUL authcid NUL password. */
static void
smtp_session_auth_plain (SmtpSession *session, const char *initial)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *response = NULL;
  g_autofree char *authzid = NULL;
  g_autofree char *authcid = NULL;
  g_autofree char *password = NULL;

  response = smtp_session_initial_or_step (session, initial, "");
  if (response == NULL)
    return;
  if (!mail_sasl_plain_decode (response, &authzid, &authcid, &password, &error))
    {
      smtp_session_reply_bad_base64 (session, error);
      return;
    }
  explicit_bzero (response, strlen (response));
  /* Acting for somebody else (an authzid that is not the authcid) is not
   * something we grant anyone. */
  if (authzid != NULL && !g_str_equal (authzid, authcid))
    {
      explicit_bzero (password, strlen (password));
      smtp_reply (session, SMTP_REPLY_AUTH_INVALID, SMTP_ENHANCED_AUTH_INVALID,
                  "may not act as another user");
      return;
    }
  smtp_session_check_password (session, authcid, password);
}

/* LOGIN: user name, then password, each prompted with a 334. */
static void
smtp_session_auth_login (SmtpSession *session, const char *initial)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *response = NULL;
  g_autofree char *user = NULL;
  g_autofree char *password = NULL;

  response = smtp_session_initial_or_step (session, initial,
                                           MAIL_SASL_LOGIN_USER_CHALLENGE);
  if (response == NULL)
    return;
  if (!mail_sasl_login_decode (response, &user, &error))
    {
      smtp_session_reply_bad_base64 (session, error);
      return;
    }
  g_free (response);
  response =
      smtp_session_sasl_step (session, MAIL_SASL_LOGIN_PASSWORD_CHALLENGE);
  if (response == NULL)
    return;
  if (!mail_sasl_login_decode (response, &password, &error))
    {
      explicit_bzero (response, strlen (response));
      smtp_session_reply_bad_base64 (session, error);
      return;
    }
  explicit_bzero (response, strlen (response));
  smtp_session_check_password (session, user, password);
}

void
smtp_cmd_auth (SmtpSession *session, const char *arguments)
{
  g_auto (GStrv) words = g_strsplit (arguments, " ", 3);
  const char *initial = NULL;

  if (!smtp_session_offers_auth (session))
    {
      if (session->flags.submission)
        smtp_reply (session, SMTP_REPLY_ENCRYPTION_REQUIRED,
                    SMTP_ENHANCED_ENCRYPTION_NEEDED,
                    "STARTTLS first: no passwords in clear");
      else
        smtp_reply (session, SMTP_REPLY_NOT_IMPLEMENTED,
                    SMTP_ENHANCED_INVALID_COMMAND,
                    "AUTH is offered on the submission port only");
      return;
    }
  if (session->flags.authenticated)
    {
      smtp_reply (session, SMTP_REPLY_BAD_SEQUENCE,
                  SMTP_ENHANCED_INVALID_COMMAND, "already authenticated");
      return;
    }
  /* RFC 4954 §4: "AUTH" SP sasl-mech [SP initial-response] */
  if (words[0] == NULL || words[0][0] == '\0' ||
      (words[1] != NULL && words[2] != NULL))
    {
      smtp_reply (session, SMTP_REPLY_PARAMETER_SYNTAX_ERROR,
                  SMTP_ENHANCED_INVALID_ARGUMENTS,
                  "AUTH mechanism [initial-response]");
      return;
    }
  initial = words[1];
  if (g_ascii_strcasecmp (words[0], "PLAIN") == 0)
    smtp_session_auth_plain (session, initial);
  else if (g_ascii_strcasecmp (words[0], "LOGIN") == 0)
    smtp_session_auth_login (session, initial);
  else
    smtp_reply (session, SMTP_REPLY_PARAMETER_NOT_IMPLEMENTED,
                SMTP_ENHANCED_INVALID_ARGUMENTS,
                "mechanism %s not supported; use PLAIN or LOGIN", words[0]);
  if (initial != NULL)
    explicit_bzero (words[1], strlen (words[1]));
}
