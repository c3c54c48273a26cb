/* SPDX-License-Identifier: MIT
 * decode-smtp-private.h: what the two files of the SMTP decoder share:
 * decode-smtp.c (commands, replies, SASL, the session) and
 * decode-smtp-data.c (the message text).
 */
#pragma once

#include "mail-line.h"
#include "trace-message.h"
#include "trace-output.h"

G_BEGIN_DECLS

#define SMTP_TRACE_MAX_HELD 4096 /* lines held while DATA awaits its reply */
#define SMTP_TRACE_MAX_SHOWN 200 /* octets of a text line a lint shows */

typedef enum
{
  SMTP_TRACE_COMMANDS, /* the client sends commands */
  SMTP_TRACE_DATA,     /* message text up to "." (RFC 5321 §4.1.1.4) */
  SMTP_TRACE_SASL,     /* the client answers 334 challenges (RFC 4954 §4) */
  SMTP_TRACE_TLS,      /* after STARTTLS: records only */
} SmtpTraceState;

/* A command still waiting for its reply. */
typedef struct
{
  char *verb;     /* "MAIL"; "." for the end of data; "SASL" */
  char *argument; /* as sent (masked for AUTH) */
  /* BDAT ... LAST: the message its chunks made, sent whole and delivered
   * by this reply; the next transaction may already be on its way (RFC
   * 3030 §4, pipelining). NULL for any other command. */
  TraceMessage *message;
} SmtpPending;

typedef struct
{
  char *line;
  gsize length;
  MailLineFlags flags;
  gint64 time_us;
} SmtpHeld;

typedef struct
{
  SmtpTraceState state;
  GQueue pending; /* of SmtpPending, oldest first */
  GQueue held;    /* of SmtpHeld: client lines behind a DATA in flight */
  gboolean greeted;
  gboolean reply_open; /* inside a multi-line reply */
  /* the transaction (RFC 5321 §3.3) */
  gboolean mail_sent; /* the client's view: MAIL sent, the text not ended */
  char *mail_from;
  GPtrArray *recipients; /* accepted */
  guint refused;
  TraceMessage *message;
  gboolean previous_crlf; /* the last DATA line ended in CRLF, not bare LF */
  guint bare_line_ends;
  gboolean bdat_last; /* the chunk being sent is the LAST one */
  /* SASL */
  char *mechanism;
  char *challenge;
  char *user;
  /* the session, for the summary */
  char *helo;
  gboolean tls;
  gboolean midstream; /* the capture began inside the session */
  gboolean authenticated;
  guint accepted;
  guint64 accepted_bytes;
  GString *deliveries;
} SmtpTrace;

/* A command now waits for its reply ("." for the end of data). */
void smtp_trace_push_pending (SmtpTrace *smtp,
                              const char *verb,
                              const char *argument);

/* decode-smtp-data.c: the end of the data (the "." line, or @how it was
 * cut short), and one line of message text. */
void
smtp_trace_data_end (TraceSession *session, SmtpTrace *smtp, const char *how);
void smtp_trace_data_line (TraceSession *session,
                           SmtpTrace *smtp,
                           const char *line,
                           gsize length,
                           MailLineFlags flags);
/* TraceDecoder.scan: the plain lines of the text, when none is shown. */
gsize smtp_trace_scan (TraceSession *session,
                       gpointer state,
                       TraceDirection direction,
                       const guint8 *data,
                       gsize length);

G_END_DECLS
