/* SPDX-License-Identifier: MIT
 * smtp-session-envelope.c: the envelope commands of the SMTP server
 * session, MAIL and RCPT (RFC 5321 §4.1.1.2, §4.1.1.3, §3.3), with their
 * parameters: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), and
 * RET, ENVID, NOTIFY, ORCPT (RFC 3461 §4, DSN). The state machine that
 * calls them is smtp-session.c.
 */
#include <string.h>

#include "smtp-session-private.h"

gboolean
smtp_session_offers_dsn (SmtpSession *session)
{
  return session->context->enqueue != NULL;
}

/* ---- MAIL ---------------------------------------------------------------- */

/* RFC 3461 §4.3, §4.4: RET and ENVID, when DSN is offered; their values
 * are the grammar's to check. */
static gboolean
smtp_session_is_dsn_mail_keyword (SmtpSession *session, const char *keyword)
{
  return smtp_session_offers_dsn (session) &&
         (g_str_equal (keyword, "RET") || g_str_equal (keyword, "ENVID"));
}

/* RFC 1870 §6, RFC 6152 §2, RFC 4954 §5, RFC 6531 §3.4: the MAIL
 * parameters we know.
 * Replies and returns FALSE for one we refuse. */
static gboolean
smtp_session_check_mail_parameters (SmtpSession *session, const SmtpPath *path)
{
  guint64 max_size = session->config->smtp_max_size;

  for (guint i = 0; i < path->parameters->len; i++)
    {
      const SmtpParameter *p =
          &g_array_index (path->parameters, SmtpParameter, i);
      guint64 size = 0;

      if (g_str_equal (p->keyword, "SIZE") &&
          (p->value == NULL || !g_ascii_string_to_unsigned (
                                   p->value, 10, 0, G_MAXUINT64, &size, NULL)))
        smtp_reply (session, SMTP_REPLY_PARAMETER_SYNTAX_ERROR,
                    SMTP_ENHANCED_INVALID_ARGUMENTS,
                    "SIZE=<octets> expected (RFC 1870 §3)");
      else if (g_str_equal (p->keyword, "SIZE") && max_size > 0 &&
               size > max_size)
        smtp_reply (session, SMTP_REPLY_EXCEEDED_STORAGE,
                    SMTP_ENHANCED_MESSAGE_TOO_BIG,
                    "message size exceeds the limit of %" G_GUINT64_FORMAT
                    " octets (RFC 1870 §6)",
                    max_size);
      else if (g_str_equal (p->keyword, "BODY") &&
               (p->value == NULL ||
                (g_ascii_strcasecmp (p->value, "7BIT") != 0 &&
                 g_ascii_strcasecmp (p->value, "8BITMIME") != 0)))
        smtp_reply (session, SMTP_REPLY_PARAMETER_SYNTAX_ERROR,
                    SMTP_ENHANCED_INVALID_ARGUMENTS,
                    "BODY=7BIT or BODY=8BITMIME (RFC 6152 §2)");
      else if (g_str_equal (p->keyword, "SMTPUTF8") && p->value != NULL)
        smtp_reply (session, SMTP_REPLY_PARAMETER_SYNTAX_ERROR,
                    SMTP_ENHANCED_INVALID_ARGUMENTS,
                    "SMTPUTF8 takes no value (RFC 6531 §3.4)");
      else if (!g_str_equal (p->keyword, "SIZE") &&
               !g_str_equal (p->keyword, "BODY") &&
               !g_str_equal (p->keyword, "AUTH") &&
               !g_str_equal (p->keyword, "SMTPUTF8") &&
               !smtp_session_is_dsn_mail_keyword (session, p->keyword))
        smtp_reply (session, SMTP_REPLY_PARAMETERS_NOT_RECOGNIZED,
                    SMTP_ENHANCED_INVALID_ARGUMENTS,
                    "MAIL parameter %s not supported (RFC 5321 §4.1.1.11)",
                    p->keyword);
      else
        continue;
      return FALSE;
    }
  return TRUE;
}

/* With sender_must_match_login, an authenticated user may only send as an
 * address that is delivered to that same user. */
static gboolean
smtp_session_sender_allowed (SmtpSession *session, const SmtpPath *path)
{
  const MailUser *owner = NULL;

  if (!session->flags.authenticated ||
      !session->config->sender_must_match_login)
    return TRUE;
  if (path->domain == NULL)
    return FALSE;
  owner = mail_users_lookup_address (smtp_context_get_users (session->context),
                                     session->config, path->mailbox);
  return owner != NULL && g_str_equal (owner->name, session->user);
}

static void
smtp_session_reply_path_error (SmtpSession *session, const GError *error)
{
  /* RFC 5321 §4.5.3.1.10: "501 Path too long" */
  smtp_reply (session, SMTP_REPLY_PARAMETER_SYNTAX_ERROR,
              error->code == SMTP_PROTO_ERROR_PARAMETER
                  ? SMTP_ENHANCED_INVALID_ARGUMENTS
                  : SMTP_ENHANCED_BAD_DEST_SYNTAX,
              "%s", error->message);
}

/* RFC 6531 §3.4: a UTF-8 address only in a transaction that asked for
 * SMTPUTF8 on MAIL. */
static void
smtp_session_refuse_non_ascii (SmtpSession *session, const char *mailbox)
{
  smtp_reply (session, SMTP_REPLY_MAILBOX_NAME_NOT_ALLOWED,
              SMTP_ENHANCED_NON_ASCII_ADDRESS,
              "<%s>: non-ASCII address without MAIL FROM ... SMTPUTF8 "
              "(RFC 6531 §3.4)",
              mailbox);
}

void
smtp_cmd_mail (SmtpSession *session, const char *arguments)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SmtpPath) path = NULL;
  g_autofree char *envid = NULL;
  SmtpDsnRet ret = SMTP_DSN_RET_DEFAULT;

  /* RFC 6409 §4.3, RFC 4954 §6: submission wants to know who sends. */
  if (session->flags.submission && !session->flags.authenticated)
    {
      smtp_reply (session, SMTP_REPLY_AUTH_REQUIRED, SMTP_ENHANCED_SECURITY,
                  "authentication required%s",
                  session->flags.tls ? "" : " (STARTTLS first)");
      return;
    }
  /* RFC 5321 §4.1.1.2: "MAIL FROM:" Reverse-path [SP Mail-parameters] */
  path = smtp_proto_parse_path (arguments, SMTP_PATH_REVERSE, &error);
  if (path == NULL)
    {
      smtp_session_reply_path_error (session, error);
      return;
    }
  if (!smtp_session_check_mail_parameters (session, path))
    return;
  /* RFC 3461 §4.3, §4.4: "501 5.5.4" for a bad or repeated RET/ENVID */
  if (!smtp_proto_parse_dsn_mail (path, &ret, &envid, &error))
    {
      smtp_session_reply_path_error (session, error);
      return;
    }
  if (path->utf8 && !smtp_path_get_parameter (path, "SMTPUTF8", NULL))
    {
      smtp_session_refuse_non_ascii (session, path->mailbox);
      return;
    }
  if (!smtp_session_sender_allowed (session, path))
    {
      smtp_reply (session, SMTP_REPLY_MAILBOX_NAME_NOT_ALLOWED,
                  SMTP_ENHANCED_NOT_AUTHORIZED, "<%s> does not belong to %s",
                  path->mailbox, session->user);
      return;
    }
  smtp_transaction_begin (&session->transaction, path->mailbox);
  session->transaction.utf8 = smtp_path_get_parameter (path, "SMTPUTF8", NULL);
  session->transaction.dsn.ret = ret;
  session->transaction.dsn.envid = g_steal_pointer (&envid);
  smtp_session_enter_state (session, SMTP_STATE_MAIL);
  smtp_reply (session, SMTP_REPLY_OK, SMTP_ENHANCED_ADDRESS_OK,
              "sender <%s> OK", path->mailbox);
}

/* ---- RCPT ---------------------------------------------------------------- */

static gboolean
smtp_add_unique (GPtrArray *array, const char *text)
{
  for (guint i = 0; i < array->len; i++)
    if (g_str_equal (g_ptr_array_index (array, i), text))
      return FALSE;
  g_ptr_array_add (array, g_strdup (text));
  return TRUE;
}

/* For the queue: @mailbox and its DSN request, side by side (the same
 * mailbox twice goes once, with the first request). */
static void
smtp_session_add_queued (SmtpSession *session,
                         const char *mailbox,
                         SmtpDsnRecipient *dsn)
{
  SmtpTransaction *transaction = &session->transaction;

  if (transaction->dsn.recipients == NULL)
    transaction->dsn.recipients = g_ptr_array_new_with_free_func (
        (GDestroyNotify) smtp_dsn_recipient_free);
  if (smtp_add_unique (transaction->remote_recipients, mailbox))
    g_ptr_array_add (transaction->dsn.recipients, g_steal_pointer (&dsn));
  smtp_dsn_recipient_free (dsn);
}

/* A local recipient: the maildir of the user, or 550 5.1.1. One that
 * asked for a success notice (RFC 3461 §5.2.3) goes through the queue,
 * which delivers it and sends the notice once the copy is durable. */
static void
smtp_session_accept_local (SmtpSession *session,
                           const char *mailbox,
                           SmtpDsnRecipient *dsn)
{
  SmtpTransaction *transaction = &session->transaction;
  const MailUser *user = mail_users_lookup_address (
      smtp_context_get_users (session->context), session->config, mailbox);
  g_autofree char *maildir = NULL;

  if (user == NULL)
    {
      smtp_reply (session, SMTP_REPLY_MAILBOX_UNAVAILABLE,
                  SMTP_ENHANCED_BAD_MAILBOX, "<%s>: no such user here",
                  mailbox);
      smtp_dsn_recipient_free (dsn);
      return;
    }
  maildir =
      mail_config_user_maildir (session->config, user->name, user->maildir);
  if (smtp_session_offers_dsn (session) &&
      (dsn->notify & SMTP_DSN_NOTIFY_SUCCESS))
    smtp_session_add_queued (session, mailbox, g_steal_pointer (&dsn));
  else /* the same user named twice gets the message once */
    smtp_add_unique (transaction->local_maildirs, maildir);
  smtp_dsn_recipient_free (dsn);
  g_ptr_array_add (transaction->recipients, g_strdup (mailbox));
  smtp_session_enter_state (session, SMTP_STATE_RCPT);
  smtp_reply (session, SMTP_REPLY_OK, SMTP_ENHANCED_DESTINATION_OK,
              "recipient <%s> OK", mailbox);
}

/* A remote recipient: relayed only for authenticated users (no open
 * relay, RFC 5321 §7.1), through the queue. */
static void
smtp_session_accept_remote (SmtpSession *session,
                            const char *mailbox,
                            SmtpDsnRecipient *dsn)
{
  SmtpTransaction *transaction = &session->transaction;

  if (!session->flags.authenticated || session->context->enqueue == NULL)
    {
      smtp_reply (session, SMTP_REPLY_MAILBOX_UNAVAILABLE,
                  SMTP_ENHANCED_NOT_AUTHORIZED,
                  "<%s>: relaying denied, not a local domain", mailbox);
      smtp_dsn_recipient_free (dsn);
      return;
    }
  smtp_session_add_queued (session, mailbox, dsn);
  g_ptr_array_add (transaction->recipients, g_strdup (mailbox));
  smtp_session_enter_state (session, SMTP_STATE_RCPT);
  smtp_reply (session, SMTP_REPLY_OK, SMTP_ENHANCED_DESTINATION_OK,
              "recipient <%s> OK, will relay", mailbox);
}

/* RFC 3461 §4.1, §4.2: NOTIFY and ORCPT, when DSN is offered; nothing
 * else (RFC 5321 §4.1.1.11: 555). Replies and returns NULL when refused;
 * else (transfer full) what the recipient asked. */
static SmtpDsnRecipient *
smtp_session_check_rcpt_parameters (SmtpSession *session, const SmtpPath *path)
{
  g_autoptr (GError) error = NULL;
  SmtpDsnRecipient *dsn = NULL;

  for (guint i = 0; i < path->parameters->len; i++)
    {
      const char *keyword =
          g_array_index (path->parameters, SmtpParameter, i).keyword;

      if (!smtp_session_offers_dsn (session) ||
          (!g_str_equal (keyword, "NOTIFY") && !g_str_equal (keyword, "ORCPT")))
        {
          smtp_reply (session, SMTP_REPLY_PARAMETERS_NOT_RECOGNIZED,
                      SMTP_ENHANCED_INVALID_ARGUMENTS,
                      "RCPT parameter %s not supported (RFC 5321 §4.1.1.11)",
                      keyword);
          return NULL;
        }
    }
  dsn = smtp_proto_parse_dsn_rcpt (path, &error);
  if (dsn == NULL)
    smtp_session_reply_path_error (session, error);
  return dsn;
}

void
smtp_cmd_rcpt (SmtpSession *session, const char *arguments)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SmtpPath) path = NULL;
  g_autofree char *postmaster = NULL;
  SmtpDsnRecipient *dsn = NULL;

  /* RFC 5321 §4.1.1.3: "RCPT TO:" ( "<Postmaster@" Domain ">" /
   * "<Postmaster>" / Forward-path ) [SP Rcpt-parameters] */
  path = smtp_proto_parse_path (arguments, SMTP_PATH_FORWARD, &error);
  if (path == NULL)
    {
      smtp_session_reply_path_error (session, error);
      return;
    }
  if (path->utf8 && !session->transaction.utf8)
    {
      smtp_session_refuse_non_ascii (session, path->mailbox);
      return;
    }
  dsn = smtp_session_check_rcpt_parameters (session, path);
  if (dsn == NULL)
    return;
  /* RFC 5321 §4.5.3.1.8: at least 100 must be accepted; 452 past ours. */
  if (session->transaction.recipients->len >=
      MAX (session->config->smtp_max_recipients, 1))
    {
      smtp_reply (session, SMTP_REPLY_INSUFFICIENT_STORAGE,
                  SMTP_ENHANCED_TOO_MANY_RECIPIENTS, "too many recipients");
      smtp_dsn_recipient_free (dsn);
      return;
    }
  if (path->domain == NULL && session->config->domains != NULL &&
      session->config->domains[0] != NULL) /* the bare <Postmaster> */
    {
      postmaster =
          g_strdup_printf ("postmaster@%s", session->config->domains[0]);
      smtp_session_accept_local (session, postmaster, dsn);
    }
  else if (path->domain == NULL ||
           mail_config_is_local_domain (session->config, path->domain))
    smtp_session_accept_local (session, path->mailbox, dsn);
  else
    smtp_session_accept_remote (session, path->mailbox, dsn);
}
