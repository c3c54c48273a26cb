/* SPDX-License-Identifier: MIT
 * smtp-session-private.h: what the parts of the SMTP server session share
 * (smtp-session.c: the state machine and the envelope commands;
 * smtp-session-data.c: DATA and delivery; smtp-session-bdat.c: BDAT
 * (RFC 3030 CHUNKING); smtp-session-auth.c: STARTTLS and AUTH; smtp-context.c:
 * what all sessions share). Not for other modules: they use smtp-session.h.
 */
#pragma once

#include <sys/stat.h>

#include "mail-faults.h"
#include "mail-store.h"
#include "smtp-proto.h"
#include "smtp-session.h"

G_BEGIN_DECLS

/* The states of one session; the diagram opens smtp-session.c. */
typedef enum
{
  SMTP_STATE_GREETED = 1 << 0, /* banner sent, waiting for EHLO/HELO */
  SMTP_STATE_READY = 1 << 1,   /* no transaction open */
  SMTP_STATE_MAIL = 1 << 2,    /* MAIL accepted, need RCPT */
  SMTP_STATE_RCPT = 1 << 3,    /* at least one RCPT accepted */
  SMTP_STATE_DATA = 1 << 4,    /* reading message text (§4.5.2) */
  SMTP_STATE_CLOSED = 1 << 5,  /* QUIT or connection gone */
  SMTP_STATE_BDAT = 1 << 6,    /* BDAT chunks taken, waiting for LAST */
} SmtpState;

/* A transaction is open: MAIL given (RFC 5321 §3.3). */
#define SMTP_IN_TRANSACTION (SMTP_STATE_MAIL | SMTP_STATE_RCPT)
/* No transaction open: STARTTLS resets the session (RFC 3207 §4.2). */
#define SMTP_BEFORE_MAIL (SMTP_STATE_GREETED | SMTP_STATE_READY)
#define SMTP_IN_ANY                                                            \
  (SMTP_STATE_GREETED | SMTP_STATE_READY | SMTP_STATE_MAIL | SMTP_STATE_RCPT | \
   SMTP_STATE_BDAT)

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
  gboolean utf8;                /* MAIL had SMTPUTF8 (RFC 6531 §3.4) */
  /* RFC 3461: RET, ENVID, and one SmtpDsnRecipient per remote_recipients
   * entry, in the same order; for the queue. */
  SmtpDsnEnvelope dsn;
  /* BDAT (RFC 3030 §2): the message as its chunks come, after our trace
   * fields, written to disk as they come; NULL until the first chunk. */
  MailSpool *spool;
  gsize relay_offset; /* where the queued copy starts (after Return-Path) */
  gsize chunked;      /* octets of the client's chunks so far */
  guint chunks;       /* how many chunks */
  char *id;           /* the message's id, in Received and the 250 */
  MailLineFlags seen; /* bare LF, bare CR, NUL in the chunks so far */
  gboolean after_cr;  /* the last chunk ended in CR: is the next LF? */
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

typedef struct _SmtpSession SmtpSession;

struct _SmtpSession
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
  MailFaultSession *faults; /* [faults] for lab graders; NULL: off */
};

void smtp_session_enter_state (SmtpSession *session, SmtpState state);

/* Reply helpers (RFC 5321 §4.2.1): the only writers of reply codes. Each
 * 5yz counts towards the error limit. @enhanced (RFC 3463) may be NULL. */
void smtp_reply_lines (SmtpSession *session,
                       SmtpReplyCode code,
                       const char *enhanced,
                       const char *const *lines);
void smtp_reply (SmtpSession *session,
                 SmtpReplyCode code,
                 const char *enhanced,
                 const char *format,
                 ...) G_GNUC_PRINTF (4, 5);

void smtp_transaction_clear (SmtpTransaction *transaction);
/* Ends any transaction; back to READY unless not yet greeted. */
void smtp_session_reset (SmtpSession *session);
gboolean smtp_session_offers_auth (SmtpSession *session);
gboolean smtp_session_offers_starttls (SmtpSession *session);

/* The message as DATA and BDAT both begin it (smtp-session-data.c): a
 * spool in the first local recipient's Maildir (in memory when there is
 * none) holding Return-Path and Received, and a new id (transfer full);
 * *out_relay_offset is where the queued copy starts (RFC 5321 §4.4).
 * NULL and @error if the spool cannot be made (a full disk). */
MailSpool *smtp_session_begin_message (SmtpSession *session,
                                       char **out_id,
                                       gsize *out_relay_offset,
                                       GError **error);
/* Refuses smuggling-prone text (@seen, MailLineFlags), or stores the
 * message durably and answers 250 with @id (RFC 5321 §6.1), and @how
 * (NULL, or how it came: "in 3 BDAT chunks") in the reply's text. */
void smtp_session_finish_message (SmtpSession *session,
                                  MailSpool *spool,
                                  gsize relay_offset,
                                  MailLineFlags seen,
                                  const char *id,
                                  const char *how);

/* Logs why message @id was not stored and answers 452 (a full disk) or
 * 451, so the client tries again later. */
void smtp_session_reply_not_stored (SmtpSession *session,
                                    const char *id,
                                    const GError *error);

/* Command handlers that live in their own files. */
void smtp_cmd_mail (SmtpSession *session, const char *arguments);
void smtp_cmd_rcpt (SmtpSession *session, const char *arguments);
/* Opens a transaction from @reverse (MAIL, smtp-session-envelope.c). */
void smtp_transaction_begin (SmtpTransaction *transaction, const char *reverse);
/* RFC 3461: DSN in EHLO, and its parameters taken, only with a queue to
 * send the notices. */
gboolean smtp_session_offers_dsn (SmtpSession *session);
void smtp_cmd_data (SmtpSession *session, const char *arguments);
void smtp_cmd_bdat (SmtpSession *session, const char *arguments);
void smtp_cmd_starttls (SmtpSession *session, const char *arguments);
void smtp_cmd_auth (SmtpSession *session, const char *arguments);

G_END_DECLS
