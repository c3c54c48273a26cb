/* SPDX-License-Identifier: MIT
 * smtp-session.c: server side of one SMTP connection (RFC 5321 §3, §4.1,
 * §4.4; RFC 1870 SIZE; RFC 2034 enhanced codes; RFC 2920 PIPELINING;
 * RFC 3207 STARTTLS; RFC 3848 Received "with"; RFC 4954 AUTH; RFC 6152
 * 8BITMIME; RFC 6409 submission; RFC 8314 implicit TLS).
 *
 * GREETED --EHLO/HELO--> READY --MAIL--> MAIL --RCPT--> RCPT --DATA--> DATA
 *    ^                     ^-------- RSET (§4.1.1.5) / "." ends DATA ---+
 *    +------- STARTTLS (RFC 3207 §4.2: forget everything) ---+
 * QUIT, a vanished client, a timeout or too many errors: CLOSED.
 */
#include "smtp-session.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mail-store.h"
#include "mail-tls.h"
#include "smtp-proto.h"

/* Postfix's smtpd_hard_error_limit: a client that keeps sending nonsense
 * is dropped, which also bounds the session loop. */
#define SMTP_MAX_ERRORS 20
/* RFC 4954 §4: an AUTH exchange line may be up to 12288 octets. */
#define SMTP_MAX_AUTH_LINE 12288

typedef enum
{
  SMTP_STATE_GREETED = 1 << 0, /* banner sent, waiting for EHLO/HELO */
  SMTP_STATE_READY = 1 << 1,   /* no transaction open */
  SMTP_STATE_MAIL = 1 << 2,    /* MAIL accepted, need RCPT */
  SMTP_STATE_RCPT = 1 << 3,    /* at least one RCPT accepted */
  SMTP_STATE_DATA = 1 << 4,    /* reading message text (§4.5.2) */
  SMTP_STATE_CLOSED = 1 << 5,  /* QUIT or connection gone */
} SmtpState;

#define SMTP_IN_ANY                                                            \
  (SMTP_STATE_GREETED | SMTP_STATE_READY | SMTP_STATE_MAIL | SMTP_STATE_RCPT)
#define SMTP_IN_SESSION (SMTP_STATE_READY | SMTP_STATE_MAIL | SMTP_STATE_RCPT)

typedef struct
{
  guint esmtp : 1;         /* greeted with EHLO, not HELO */
  guint tls : 1;           /* the connection is TLS now */
  guint authenticated : 1; /* AUTH succeeded */
  guint submission : 1;    /* submission rules (RFC 6409) */
} SmtpSessionFlags;

/* RFC 5321 §3.3: one mail transaction, from MAIL to the end of DATA. */
typedef struct
{
  char *reverse_path;           /* "" for the null path <> */
  GPtrArray *recipients;        /* every accepted mailbox, for Received */
  GPtrArray *local_maildirs;    /* one per local mailbox, no duplicates */
  GPtrArray *remote_recipients; /* mailboxes for the queue */
} SmtpTransaction;

struct _SmtpContext
{
  const MailConfig *config;
  GTlsCertificate *certificate;
  SmtpEnqueueFunc enqueue;
  gpointer enqueue_data;
  gboolean protocol_log;
  GMutex lock;        /* guards the users fields below */
  MailUsers *users;   /* the current version */
  GPtrArray *retired; /* older versions, kept for sessions using them */
  struct stat users_stat;
};

typedef struct
{
  SmtpContext *context;
  const MailConfig *config;
  GSocketConnection *connection;
  MailStream *stream;
  char *peer;    /* "127.0.0.1:40000", for logs */
  char *peer_ip; /* "127.0.0.1" or "IPv6:::1", for Received */
  char *helo;    /* what the client called itself */
  char *user;    /* the authenticated login */
  SmtpState state;
  SmtpSessionFlags flags;
  SmtpTransaction transaction;
  guint errors;
  guint auth_failures;
} SmtpSession;

typedef void (*SmtpHandler) (SmtpSession *session, const char *arguments);

typedef struct
{
  const char *verb;
  guint allowed; /* SmtpState bits in which the verb is accepted */
  SmtpHandler handler;
} SmtpCommand;

static void smtp_cmd_ehlo (SmtpSession *session, const char *arguments);
static void smtp_cmd_helo (SmtpSession *session, const char *arguments);
static void smtp_cmd_mail (SmtpSession *session, const char *arguments);
static void smtp_cmd_rcpt (SmtpSession *session, const char *arguments);
static void smtp_cmd_data (SmtpSession *session, const char *arguments);
static void smtp_cmd_rset (SmtpSession *session, const char *arguments);
static void smtp_cmd_noop (SmtpSession *session, const char *arguments);
static void smtp_cmd_quit (SmtpSession *session, const char *arguments);
static void smtp_cmd_vrfy (SmtpSession *session, const char *arguments);
static void smtp_cmd_expn (SmtpSession *session, const char *arguments);
static void smtp_cmd_help (SmtpSession *session, const char *arguments);
static void smtp_cmd_starttls (SmtpSession *session, const char *arguments);
static void smtp_cmd_auth (SmtpSession *session, const char *arguments);

static const SmtpCommand smtp_commands[] = {
  /* verb  allowed in                             handler     RFC */
  { "EHLO", SMTP_IN_ANY, smtp_cmd_ehlo },      /* 5321 §4.1.1.1 */
  { "HELO", SMTP_IN_ANY, smtp_cmd_helo },      /* 5321 §4.1.1.1 */
  { "MAIL", SMTP_STATE_READY, smtp_cmd_mail }, /* 5321 §4.1.1.2 */
  { "RCPT", SMTP_STATE_MAIL | SMTP_STATE_RCPT,
    smtp_cmd_rcpt },                          /* 5321 §4.1.1.3 */
  { "DATA", SMTP_STATE_RCPT, smtp_cmd_data }, /* 5321 §4.1.1.4 */
  { "RSET", SMTP_IN_ANY, smtp_cmd_rset },     /* 5321 §4.1.1.5 */
  { "VRFY", SMTP_IN_ANY, smtp_cmd_vrfy },     /* 5321 §4.1.1.6 */
  { "EXPN", SMTP_IN_ANY, smtp_cmd_expn },     /* 5321 §4.1.1.7 */
  { "HELP", SMTP_IN_ANY, smtp_cmd_help },     /* 5321 §4.1.1.8 */
  { "NOOP", SMTP_IN_ANY, smtp_cmd_noop },     /* 5321 §4.1.1.9 */
  { "QUIT", SMTP_IN_ANY, smtp_cmd_quit },     /* 5321 §4.1.1.10 */
  { "STARTTLS", SMTP_STATE_GREETED | SMTP_STATE_READY,
    smtp_cmd_starttls },                       /* 3207 §4 */
  { "AUTH", SMTP_STATE_READY, smtp_cmd_auth }, /* 4954 §4 */
  { NULL },
};

/* ---- context ----------------------------------------------------------- */

SmtpContext *
smtp_context_new (const MailConfig *config, GError **error)
{
  g_autoptr (SmtpContext) context = g_new0 (SmtpContext, 1);

  g_return_val_if_fail (config != NULL, NULL);

  context->config = config;
  context->protocol_log = config->protocol_log;
  context->retired =
      g_ptr_array_new_with_free_func ((GDestroyNotify) mail_users_free);
  g_mutex_init (&context->lock);
  if (g_stat (config->users_file, &context->users_stat) != 0)
    memset (&context->users_stat, 0, sizeof context->users_stat);
  context->users = mail_users_load (config->users_file, error);
  if (context->users == NULL)
    return NULL;
  if (config->tls_cert != NULL)
    {
      context->certificate =
          mail_tls_load_certificate (config->tls_cert, config->tls_key, error);
      if (context->certificate == NULL)
        return NULL;
    }
  return g_steal_pointer (&context);
}

void
smtp_context_free (SmtpContext *context)
{
  if (context == NULL)
    return;
  g_clear_pointer (&context->users, mail_users_free);
  g_clear_pointer (&context->retired, g_ptr_array_unref);
  g_clear_object (&context->certificate);
  g_mutex_clear (&context->lock);
  g_free (context);
}

void
smtp_context_set_enqueue (SmtpContext *context,
                          SmtpEnqueueFunc func,
                          gpointer user_data)
{
  context->enqueue = func;
  context->enqueue_data = user_data;
}

void
smtp_context_set_protocol_log (SmtpContext *context, gboolean enabled)
{
  context->protocol_log = enabled;
}

GTlsCertificate *
smtp_context_get_certificate (SmtpContext *context)
{
  return context->certificate;
}

static gboolean
smtp_stat_changed (const struct stat *a, const struct stat *b)
{
  return a->st_ino != b->st_ino || a->st_size != b->st_size ||
         a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
         a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

MailUsers *
smtp_context_get_users (SmtpContext *context)
{
  g_autoptr (GError) error = NULL;
  struct stat now;
  MailUsers *fresh = NULL;
  MailUsers *users = NULL;

  g_mutex_lock (&context->lock);
  /* "mw-admin user add" rewrites the file (rename): a new inode or mtime
   * tells us to read it again, without restarting the server. */
  if (g_stat (context->config->users_file, &now) != 0)
    memset (&now, 0, sizeof now);
  if (smtp_stat_changed (&now, &context->users_stat))
    {
      fresh = mail_users_load (context->config->users_file, &error);
      if (fresh == NULL)
        g_warning ("keeping the old users: %s", error->message);
      else
        {
          g_ptr_array_add (context->retired, context->users);
          context->users = fresh;
          g_message ("reloaded users from %s", context->config->users_file);
        }
      context->users_stat = now;
    }
  users = context->users;
  g_mutex_unlock (&context->lock);
  return users;
}

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
    case SMTP_STATE_CLOSED:
      return "CLOSED";
    default:
      g_assert_not_reached ();
    }
}

static void
smtp_session_enter_state (SmtpSession *session, SmtpState state)
{
  if (session->state == state)
    return;
  g_debug ("%s: %s -> %s", session->peer, smtp_state_name (session->state),
           smtp_state_name (state));
  session->state = state;
}

/* Writes a reply, one line per element of @lines (RFC 5321 §4.2.1). It is
 * buffered: mail_stream_read_line () flushes before waiting, so pipelined
 * commands get their replies in one write (RFC 2920 §3.2). */
static void
smtp_reply_lines (SmtpSession *session,
                  SmtpReplyCode code,
                  const char *enhanced,
                  const char *const *lines)
{
  g_autoptr (GString) wire = g_string_new (NULL);
  g_auto (GStrv) split = NULL;

  smtp_proto_format_reply (wire, code, enhanced, lines);
  g_string_truncate (wire, wire->len - 2); /* the last CRLF */
  split = g_strsplit (wire->str, "\r\n", -1);
  for (guint i = 0; split[i] != NULL; i++)
    mail_stream_write_line (session->stream, split[i]);
  if (smtp_reply_is_permanent (code))
    session->errors++;
}

static void smtp_reply (SmtpSession *session,
                        SmtpReplyCode code,
                        const char *enhanced,
                        const char *format,
                        ...) G_GNUC_PRINTF (4, 5);

static void
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

static void
smtp_transaction_clear (SmtpTransaction *transaction)
{
  g_clear_pointer (&transaction->reverse_path, g_free);
  g_clear_pointer (&transaction->recipients, g_ptr_array_unref);
  g_clear_pointer (&transaction->local_maildirs, g_ptr_array_unref);
  g_clear_pointer (&transaction->remote_recipients, g_ptr_array_unref);
}

static void
smtp_transaction_begin (SmtpTransaction *transaction, const char *reverse)
{
  smtp_transaction_clear (transaction);
  transaction->reverse_path = g_strdup (reverse);
  transaction->recipients = g_ptr_array_new_with_free_func (g_free);
  transaction->local_maildirs = g_ptr_array_new_with_free_func (g_free);
  transaction->remote_recipients = g_ptr_array_new_with_free_func (g_free);
}

/* Ends any transaction; back to READY unless not yet greeted. */
static void
smtp_session_reset (SmtpSession *session)
{
  smtp_transaction_clear (&session->transaction);
  if (session->state != SMTP_STATE_GREETED)
    smtp_session_enter_state (session, SMTP_STATE_READY);
}

/* ---- EHLO, HELO, RSET, NOOP, QUIT, VRFY, EXPN, HELP ----------------- */

static gboolean
smtp_session_offers_auth (SmtpSession *session)
{
  /* RFC 6409 §4.3 / RFC 4954 §4: only on submission, and only over TLS so
   * that passwords never cross the network in clear. */
  return session->flags.submission && session->flags.tls;
}

static gboolean
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
  g_ptr_array_add (lines, g_strdup ("PIPELINING"));
  g_ptr_array_add (lines,
                   max_size > 0
                       ? g_strdup_printf ("SIZE %" G_GUINT64_FORMAT, max_size)
                       : g_strdup ("SIZE"));
  g_ptr_array_add (lines, g_strdup ("8BITMIME"));
  g_ptr_array_add (lines, g_strdup ("ENHANCEDSTATUSCODES"));
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
    "mailwire SMTP: commands are EHLO HELO MAIL RCPT DATA RSET",
    "NOOP QUIT VRFY HELP STARTTLS AUTH (RFC 5321 §4.1.1)",
    "a message: MAIL FROM:<you@x> RCPT TO:<them@y> DATA ... \".\"",
    NULL,
  };

  smtp_reply_lines (session, SMTP_REPLY_HELP, SMTP_ENHANCED_OK, lines);
}

/* ---- MAIL ---------------------------------------------------------------- */

/* RFC 1870 §6, RFC 6152 §2, RFC 4954 §5: the MAIL parameters we know.
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
      else if (!g_str_equal (p->keyword, "SIZE") &&
               !g_str_equal (p->keyword, "BODY") &&
               !g_str_equal (p->keyword, "AUTH"))
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

static void
smtp_cmd_mail (SmtpSession *session, const char *arguments)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SmtpPath) path = NULL;

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
  if (!smtp_session_sender_allowed (session, path))
    {
      smtp_reply (session, SMTP_REPLY_MAILBOX_NAME_NOT_ALLOWED,
                  SMTP_ENHANCED_NOT_AUTHORIZED, "<%s> does not belong to %s",
                  path->mailbox, session->user);
      return;
    }
  smtp_transaction_begin (&session->transaction, path->mailbox);
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

/* A local recipient: the maildir of the user, or 550 5.1.1. */
static void
smtp_session_accept_local (SmtpSession *session, const char *mailbox)
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
      return;
    }
  maildir =
      mail_config_user_maildir (session->config, user->name, user->maildir);
  /* The same user named twice gets the message once. */
  smtp_add_unique (transaction->local_maildirs, maildir);
  g_ptr_array_add (transaction->recipients, g_strdup (mailbox));
  smtp_session_enter_state (session, SMTP_STATE_RCPT);
  smtp_reply (session, SMTP_REPLY_OK, SMTP_ENHANCED_DESTINATION_OK,
              "recipient <%s> OK", mailbox);
}

/* A remote recipient: relayed only for authenticated users (no open
 * relay, RFC 5321 §7.1), through the queue. */
static void
smtp_session_accept_remote (SmtpSession *session, const char *mailbox)
{
  SmtpTransaction *transaction = &session->transaction;

  if (!session->flags.authenticated || session->context->enqueue == NULL)
    {
      smtp_reply (session, SMTP_REPLY_MAILBOX_UNAVAILABLE,
                  SMTP_ENHANCED_NOT_AUTHORIZED,
                  "<%s>: relaying denied, not a local domain", mailbox);
      return;
    }
  smtp_add_unique (transaction->remote_recipients, mailbox);
  g_ptr_array_add (transaction->recipients, g_strdup (mailbox));
  smtp_session_enter_state (session, SMTP_STATE_RCPT);
  smtp_reply (session, SMTP_REPLY_OK, SMTP_ENHANCED_DESTINATION_OK,
              "recipient <%s> OK, will relay", mailbox);
}

static void
smtp_cmd_rcpt (SmtpSession *session, const char *arguments)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SmtpPath) path = NULL;
  g_autofree char *postmaster = NULL;

  /* RFC 5321 §4.1.1.3: "RCPT TO:" ( "<Postmaster@" Domain ">" /
   * "<Postmaster>" / Forward-path ) [SP Rcpt-parameters] */
  path = smtp_proto_parse_path (arguments, SMTP_PATH_FORWARD, &error);
  if (path == NULL)
    {
      smtp_session_reply_path_error (session, error);
      return;
    }
  if (path->parameters->len > 0)
    {
      smtp_reply (session, SMTP_REPLY_PARAMETERS_NOT_RECOGNIZED,
                  SMTP_ENHANCED_INVALID_ARGUMENTS,
                  "RCPT parameters not supported (RFC 5321 §4.1.1.11)");
      return;
    }
  /* RFC 5321 §4.5.3.1.8: at least 100 must be accepted; 452 past ours. */
  if (session->transaction.recipients->len >=
      MAX (session->config->smtp_max_recipients, 1))
    {
      smtp_reply (session, SMTP_REPLY_INSUFFICIENT_STORAGE,
                  SMTP_ENHANCED_TOO_MANY_RECIPIENTS, "too many recipients");
      return;
    }
  if (path->domain == NULL && session->config->domains != NULL &&
      session->config->domains[0] != NULL) /* the bare <Postmaster> */
    {
      postmaster =
          g_strdup_printf ("postmaster@%s", session->config->domains[0]);
      smtp_session_accept_local (session, postmaster);
    }
  else if (path->domain == NULL ||
           mail_config_is_local_domain (session->config, path->domain))
    smtp_session_accept_local (session, path->mailbox);
  else
    smtp_session_accept_remote (session, path->mailbox);
}

/* ---- DATA ---------------------------------------------------------------- */

/* RFC 5322 §3.3 date-time, in English whatever the locale. */
static char *
smtp_format_date (GDateTime *now)
{
  static const char *const days[] = { "Mon", "Tue", "Wed", "Thu",
                                      "Fri", "Sat", "Sun" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
                                        "May", "Jun", "Jul", "Aug",
                                        "Sep", "Oct", "Nov", "Dec" };
  g_autofree char *zone = g_date_time_format (now, "%z");
  g_autofree char *clock = g_date_time_format (now, "%H:%M:%S");

  return g_strdup_printf ("%s, %d %s %d %s %s",
                          days[g_date_time_get_day_of_week (now) - 1],
                          g_date_time_get_day_of_month (now),
                          months[g_date_time_get_month (now) - 1],
                          g_date_time_get_year (now), clock, zone);
}

/* RFC 3848 §1: the "with" protocol names. */
static const char *
smtp_session_protocol_name (SmtpSession *session)
{
  if (!session->flags.esmtp)
    return "SMTP";
  if (session->flags.tls && session->flags.authenticated)
    return "ESMTPSA";
  if (session->flags.tls)
    return "ESMTPS";
  if (session->flags.authenticated)
    return "ESMTPA";
  return "ESMTP";
}

/* RFC 5321 §4.4: the trace fields every SMTP server adds at the top:
 * Return-Path (the reverse-path) and a Received: time stamp line. */
static void
smtp_session_add_trace_headers (SmtpSession *session,
                                GString *out,
                                const char *id)
{
  SmtpTransaction *transaction = &session->transaction;
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *date = smtp_format_date (now);
  g_autofree char *tls = NULL;

  g_string_append_printf (out, "Return-Path: <%s>\r\n",
                          transaction->reverse_path);
  g_string_append_printf (out,
                          "Received: from %s ([%s])\r\n\tby %s "
                          "(mailwire) with %s id %s",
                          session->helo, session->peer_ip,
                          session->config->hostname,
                          smtp_session_protocol_name (session), id);
  if (session->flags.tls)
    {
      /* A comment (RFC 5322 §3.2.2), as Postfix and Exim write it. */
      tls = mail_tls_describe (mail_stream_get_io (session->stream));
      g_string_append_printf (out, "\r\n\t(%s)", tls);
    }
  /* "for" only with one recipient: more would show each recipient the
   * others, including Bcc ones (RFC 5321 §7.2). */
  if (transaction->recipients->len == 1)
    g_string_append_printf (
        out, "\r\n\tfor <%s>",
        (char *) g_ptr_array_index (transaction->recipients, 0));
  g_string_append_printf (out, "; %s\r\n", date);
}

/* Removes the copies already delivered when a later one failed, so a
 * message is either everywhere or nowhere. */
static void
smtp_session_undeliver (GPtrArray *delivered)
{
  for (guint i = 0; i < delivered->len; i++)
    {
      const char *path = g_ptr_array_index (delivered, i);
      g_autofree char *directory = g_path_get_dirname (path);

      if (g_unlink (path) != 0)
        g_warning ("cannot remove %s: %s", path, g_strerror (errno));
      mail_fsync_directory (directory, NULL);
    }
}

/* Durable before yes (RFC 5321 §6.1): every local copy is fsynced and
 * remote recipients are in the queue before this returns TRUE. */
static gboolean
smtp_session_store (SmtpSession *session, GString *message, GError **error)
{
  SmtpTransaction *transaction = &session->transaction;
  g_autoptr (GPtrArray) delivered = g_ptr_array_new_with_free_func (g_free);
  SmtpContext *context = session->context;

  for (guint i = 0; i < transaction->local_maildirs->len; i++)
    {
      const char *maildir = g_ptr_array_index (transaction->local_maildirs, i);
      g_autofree char *name = NULL;

      if (!mail_maildir_deliver (maildir, NULL, message->str, message->len,
                                 &name, error))
        {
          smtp_session_undeliver (delivered);
          return FALSE;
        }
      g_ptr_array_add (delivered,
                       g_build_filename (maildir, "new", name, NULL));
    }
  /* The queue comes last: a queued message cannot be taken back. */
  if (transaction->remote_recipients->len > 0)
    {
      g_ptr_array_add (transaction->remote_recipients, NULL);
      if (!context->enqueue (
              context->enqueue_data, transaction->reverse_path,
              (const char *const *) transaction->remote_recipients->pdata,
              message->str, message->len, NULL, error))
        {
          smtp_session_undeliver (delivered);
          return FALSE;
        }
    }
  return TRUE;
}

/* Answers the end of DATA once the text has been read to its real end. */
static void
smtp_session_finish_data (SmtpSession *session,
                          GString *message,
                          MailLineFlags seen,
                          const char *id)
{
  g_autoptr (GError) error = NULL;

  /* SMTP smuggling (CVE-2023-51764 family): a bare LF or CR lets a
   * sender hide "<LF>.<LF>" in a message that a next hop with a laxer
   * idea of the end of DATA would split into a second, forged message.
   * Like Postfix's smtpd_forbid_bare_newline we refuse such a message
   * outright instead of repairing it, and a NUL too (RFC 5321 §4.5.2
   * text is US-ASCII or 8BITMIME text, never NUL). 554 5.6.0: the
   * transaction failed because of the content; as the text was read to
   * the real CRLF.CRLF, the session stays in step and goes on. */
  if (seen & (MAIL_LINE_BARE_LF | MAIL_LINE_BARE_CR | MAIL_LINE_HAS_NUL))
    {
      smtp_reply (session, SMTP_REPLY_TRANSACTION_FAILED,
                  SMTP_ENHANCED_BAD_CONTENT,
                  "message refused: bare LF, bare CR or NUL in the text; "
                  "lines must end in CRLF (RFC 5321 §2.3.8)");
      return;
    }
  if (!smtp_session_store (session, message, &error))
    {
      gboolean full =
          g_error_matches (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_NO_SPACE);

      g_warning ("%s: message %s not stored: %s", session->peer, id,
                 error->message);
      smtp_reply (session,
                  full ? SMTP_REPLY_INSUFFICIENT_STORAGE
                       : SMTP_REPLY_LOCAL_ERROR,
                  full ? SMTP_ENHANCED_SYSTEM_FULL : SMTP_ENHANCED_SYSTEM_ERROR,
                  "message not stored, try again later");
      return;
    }
  g_message ("%s: message %s from <%s> accepted for %u recipient(s)",
             session->peer, id, session->transaction.reverse_path,
             session->transaction.recipients->len);
  smtp_reply (session, SMTP_REPLY_OK, SMTP_ENHANCED_OK, "message %s accepted",
              id);
}

/* A failed read of the text: reply if the session can go on. */
static void
smtp_session_data_failed (SmtpSession *session, const GError *error)
{
  if (g_error_matches (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_TOO_BIG))
    {
      /* RFC 1870 §6: the text was read to its end, nothing was kept. */
      smtp_reply (session, SMTP_REPLY_EXCEEDED_STORAGE,
                  SMTP_ENHANCED_MESSAGE_TOO_BIG,
                  "message exceeds the limit of %" G_GUINT64_FORMAT " octets",
                  session->config->smtp_max_size);
      return;
    }
  if (g_error_matches (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_TOO_LONG))
    /* One line longer than the whole size limit: the message is too big
     * anyway, and we can no longer find the end of the text safely, so
     * refuse it and hang up rather than read its rest as commands. */
    smtp_reply (session, SMTP_REPLY_EXCEEDED_STORAGE,
                SMTP_ENHANCED_MESSAGE_TOO_BIG,
                "line in message text too long; closing connection");
  else
    g_message ("%s: connection lost during DATA: %s", session->peer,
               error->message);
  smtp_session_enter_state (session, SMTP_STATE_CLOSED);
}

static void
smtp_cmd_data (SmtpSession *session, const char *arguments)
{
  g_autoptr (GString) message = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *id =
      g_strdup_printf ("%08X%08X", g_random_int (), g_random_int ());
  MailLineFlags seen = MAIL_LINE_CRLF;

  if (arguments[0] != '\0')
    {
      smtp_reply (session, SMTP_REPLY_PARAMETER_SYNTAX_ERROR,
                  SMTP_ENHANCED_INVALID_ARGUMENTS, "DATA takes no argument");
      return;
    }
  smtp_session_add_trace_headers (session, message, id);
  smtp_reply (session, SMTP_REPLY_START_MAIL_INPUT, NULL,
              "start mail input; end with <CRLF>.<CRLF>");
  smtp_session_enter_state (session, SMTP_STATE_DATA);
  /* SIZE is enforced while reading (RFC 1870 §6): past the limit the rest
   * is read and dropped, never stored. */
  if (!mail_stream_read_dot_text (session->stream, message,
                                  session->config->smtp_max_size, &seen, NULL,
                                  &error))
    smtp_session_data_failed (session, error);
  else
    smtp_session_finish_data (session, message, seen, id);
  if (session->state != SMTP_STATE_CLOSED)
    smtp_session_reset (session);
}

/* ---- STARTTLS (RFC 3207) ----------------------------------------------- */

static void
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

static void
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
                  "bad sequence of commands: %s not allowed in state %s", verb,
                  smtp_state_name (session->state));
      return;
    }
  command->handler (session, arguments);
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
  GIOStream *base = G_IO_STREAM (session->connection);

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
      base = tls;
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
  smtp_transaction_clear (&session->transaction);
  g_clear_pointer (&session->stream, mail_stream_free);
  g_clear_pointer (&session->peer, g_free);
  g_clear_pointer (&session->peer_ip, g_free);
  g_clear_pointer (&session->helo, g_free);
  g_clear_pointer (&session->user, g_free);
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
                  "%s ESMTP mailwire ready", session.config->hostname);
      while (smtp_session_step (&session))
        ;
    }
  g_debug ("%s: disconnected", session.peer);
  smtp_session_close (&session);
}
