/* SPDX-License-Identifier: MIT
 * smtp-client-private.h: what the two files of the SMTP client library
 * share: smtp-client.c (connection, EHLO, STARTTLS, AUTH, replies, trace)
 * and smtp-client-send.c (the mail transaction). Not for callers.
 */
#pragma once

#include "mail-line.h"
#include "smtp-client.h"

G_BEGIN_DECLS

/* DISCONNECTED --connect--> GREETED --EHLO/HELO--> READY
 *                               READY --STARTTLS--> GREETED (EHLO again)
 *                               READY --MAIL..DATA..--> READY
 * any --QUIT / connection lost--> DISCONNECTED */
typedef enum
{
  SMTP_CLIENT_DISCONNECTED, /* no connection */
  SMTP_CLIENT_GREETED,      /* 220 read, EHLO not yet accepted */
  SMTP_CLIENT_READY,        /* EHLO accepted; no transaction open */
} SmtpClientState;

/* Which part of the next sent line the trace must hide. */
typedef enum
{
  SMTP_MASK_NONE,
  SMTP_MASK_ARGUMENT, /* "AUTH PLAIN ***": the initial response */
  SMTP_MASK_LINE,     /* a whole SASL response line */
} SmtpMask;

/* Be liberal in what we read (RFC 5321 §4.5.3.1.5 says 512, but real
 * servers send longer texts) and bound the number of lines of a reply. */
#define SMTP_CLIENT_MAX_REPLY_LINE MAIL_LINE_MAX_SMTP_TEXT
#define SMTP_CLIENT_MAX_REPLY_LINES 100

struct _SmtpClient
{
  SmtpClientState state;
  MailStream *stream;
  GCancellable *cancellable; /* from connect: stops every later wait */
  SmtpExtensions extensions;
  guint64 max_size;
  gboolean auth_plain;
  gboolean auth_login;
  gboolean chunking;   /* BDAT when CHUNKING is offered */
  gboolean smtputf8;   /* MAIL ... SMTPUTF8 even for ASCII addresses */
  SmtpDsnEnvelope dsn; /* RFC 3461 request for the next transaction */
  /* the last reply read */
  guint reply_code;
  GString *reply_text;    /* every line with its code, joined by "\n" */
  GPtrArray *reply_lines; /* the text of each line, without the code */
  /* --trace */
  SmtpClientTraceFunc trace;
  gpointer trace_data;
  SmtpMask mask;
  gboolean in_sasl;  /* sent lines are SASL responses */
  gboolean in_ehlo;  /* received continuation lines are extensions */
  guint line_number; /* of the reply line being read, from 0 */
};

/* Reads one reply into c->reply_code/reply_text/reply_lines. A failure
 * to read one drops the connection (reply code 0); the error has code
 * @step and names @what ("MAIL FROM"). */
gboolean smtp_client_read_reply (SmtpClient *c,
                                 SmtpClientError step,
                                 const char *what,
                                 GError **error);
/* Sets @error: @what was refused with the last reply. */
void smtp_client_set_refused (SmtpClient *c,
                              SmtpClientError step,
                              const char *what,
                              GError **error);
/* Reads a reply and accepts it if @accept says so (a smtp_reply_is_*
 * helper of smtp-proto.h); otherwise smtp_client_set_refused (). */
gboolean smtp_client_expect (SmtpClient *c,
                             SmtpClientError step,
                             const char *what,
                             gboolean (*accept) (guint code),
                             GError **error);
/* A line of our own in the trace, for what is not a protocol line. */
void smtp_client_note (SmtpClient *c, const char *note);

G_END_DECLS
