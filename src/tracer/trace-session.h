/* SPDX-License-Identifier: MIT
 * trace-session.h: one TCP connection as the tracer sees it. The session
 * takes each direction's reassembled octets, finds the protocol (by port,
 * then by the server's greeting), frames lines with the servers' own
 * framer (mail-line.h), hands lines, literal and chunk octets to the
 * protocol decoder, switches to the TLS record decoder after STARTTLS,
 * and resynchronises at the next line after a gap.
 *
 * Decoders report through trace_event_* (trace-output.h); they never print.
 */
#pragma once

#include <stdio.h>

#include "mail-catalog.h"
#include "mail-line.h"
#include "tcp-flow.h"

G_BEGIN_DECLS

typedef enum
{
  TRACE_PROTO_UNKNOWN,
  TRACE_PROTO_SMTP,
  TRACE_PROTO_POP3,
  TRACE_PROTO_IMAP,
} TraceProtocol;

typedef struct _TraceSvg TraceSvg;
typedef struct _TraceKeylog TraceKeylog;
typedef struct _TlsDecrypt TlsDecrypt;
typedef struct _TraceJourneys TraceJourneys;

typedef struct
{
  FILE *out;
  gboolean json;           /* JSON lines instead of the ladder */
  gboolean color;          /* ANSI colours (a terminal) */
  gboolean body;           /* show message text, not only its summary */
  gboolean show_secrets;   /* do not mask passwords */
  gboolean quiet;          /* summaries and lint only */
  TraceSvg *svg;           /* --svg FILE: the diagram being drawn, or NULL */
  const guint64 *frame;    /* number of the packet being decoded, from 1 */
  TraceKeylog *keylog;     /* --keylog FILE...: decrypt TLS, or NULL */
  gboolean live;           /* capturing: key log lines may come late */
  TraceJourneys *journeys; /* what the decoders saw of each message, or
                            * NULL (trace-journey.h) */
} TraceOptions;

typedef struct _TraceSession TraceSession;
typedef struct _TraceTls TraceTls;

/* A protocol decoder: a verb list, a reply classifier and a flow state
 * (STYLE.md §1), fed one line at a time. */
typedef struct
{
  const char *name;      /* "SMTP" */
  const char *json_name; /* "smtp" */
  gpointer (*state_new) (TraceSession *session);
  void (*state_free) (gpointer state);
  /* One line without its terminator; @flags as the framer reported. */
  void (*line) (TraceSession *session,
                gpointer state,
                TraceDirection direction,
                const char *line,
                gsize length,
                MailLineFlags flags);
  /* Octets announced with trace_session_expect_raw () (literal, BDAT). */
  void (*raw) (TraceSession *session,
               gpointer state,
               TraceDirection direction,
               const guint8 *data,
               gsize length,
               gboolean last);
  /* Optional: whole lines the decoder reads itself, without the framer
   * and ->line, because none of them is printed (message text when
   * nothing shows it line by line). @data starts a line; returns the
   * octets taken, whole lines only: 0 sends the next line to ->line. */
  gsize (*scan) (TraceSession *session,
                 gpointer state,
                 TraceDirection direction,
                 const guint8 *data,
                 gsize length);
  /* A hole in the stream; the session resyncs at the next line. */
  void (*gap) (TraceSession *session,
               gpointer state,
               TraceDirection direction,
               guint64 missing);
  /* The connection ended: emit the push/pull summary. */
  void (*finish) (TraceSession *session, gpointer state);
  /* TLS is being decrypted (--keylog): what follows STARTTLS, or the
   * whole of an implicit TLS session, is decoded as clear text from the
   * next line on, as a fresh session is (RFC 3207 §4.2, RFC 2595 §4,
   * RFC 9051 §6.2.1: what was known before TLS is forgotten). */
  void (*tls_readable) (TraceSession *session, gpointer state);
} TraceDecoder;

extern const TraceDecoder trace_decoder_smtp;
extern const TraceDecoder trace_decoder_pop3;
extern const TraceDecoder trace_decoder_imap;

struct _TraceSession
{
  TcpFlow *flow; /* (transfer none) */
  const TraceOptions *options;
  TraceProtocol protocol;
  const TraceDecoder *decoder; /* NULL until the protocol is known */
  gpointer state;
  MailLineFramer framer[2];
  guint64 raw_remaining[2]; /* octets owed to decoder->raw */
  gboolean resync[2];       /* drop octets up to the next LF */
  gboolean in_line[2];      /* the decoder holds a line of framer[d] */
  gboolean started[2];      /* octets of this direction were seen */
  gboolean tls;             /* records from now on, not lines */
  gboolean implicit_tls;    /* TLS from the first octet (port 465 ...) */
  TraceTls *tls_half[2];
  guint16 tls_version;       /* the ServerHello's choice (0x0304: 1.3) */
  TlsDecrypt *tls_decrypt;   /* with --keylog, from the ClientHello on */
  gboolean decrypting;       /* events now come from inside TLS */
  gboolean decrypted;        /* application data was decrypted */
  gboolean tls_problem_said; /* "no key for this session" said once */
  gint64 now_us;             /* time of the segment being decoded */
  guint lines[2];            /* lines seen per direction */
  guint64 octets[2];         /* octets seen per direction, TLS included */
  guint lint_count;
  TcpFlowEnd end;
  gpointer svg;     /* its TraceSvgSession when it is drawn (not owned) */
  gpointer journey; /* what trace-journey.c keeps of it (not owned) */
};

TraceSession *
trace_session_new (TcpFlow *flow, const TraceOptions *options, gint64 time_us);
void trace_session_free (TraceSession *session);
void trace_session_data (TraceSession *session,
                         TraceDirection direction,
                         const guint8 *data,
                         gsize length,
                         gint64 time_us);
void trace_session_gap (TraceSession *session,
                        TraceDirection direction,
                        guint64 missing,
                        gint64 time_us);
void
trace_session_close (TraceSession *session, TcpFlowEnd how, gint64 time_us);

/* The protocol a well-known port carries (and whether it is implicit TLS,
 * RFC 8314 §3). */
TraceProtocol trace_protocol_for_port (guint16 port, gboolean *out_tls);

/* ---- for decoders --------------------------------------------------- */

/* The next @length octets of @direction are data, not lines (an IMAP
 * literal, RFC 9051 §4.3; an SMTP BDAT chunk, RFC 3030 §2). */
void trace_session_expect_raw (TraceSession *session,
                               TraceDirection direction,
                               guint64 length);
/* The STARTTLS/STLS command got its positive reply: from here both
 * directions carry TLS records (RFC 3207 §4, RFC 2595 §4). Octets the
 * client sent after the command and before the handshake are flagged. */
void trace_session_start_tls (TraceSession *session);
/* Octets of @direction received but not yet framed (pipelined input). */
gsize trace_session_pending (TraceSession *session, TraceDirection direction);
/* Seconds since the connection began. */
double trace_session_elapsed (TraceSession *session);

/* Decrypted application data of @direction (decode-tls.c): framed and
 * decoded as clear text, each event marked as decrypted. */
void trace_session_plaintext (TraceSession *session,
                              TraceDirection direction,
                              const guint8 *data,
                              gsize length);

/* ---- TLS record layer (decode-tls.c) -------------------------------- */

TraceTls *trace_tls_new (void);
void trace_tls_free (TraceTls *tls);
/* RFC 8446 §5.1, RFC 5246 §6.2: records; the handshake's ClientHello and
 * ServerHello are explained, later records are "encrypted, N bytes", or
 * decrypted when options->keylog holds the session's secrets. */
void trace_tls_data (TraceSession *session,
                     TraceDirection direction,
                     const guint8 *data,
                     gsize length);
/* @missing octets of @direction were not captured: inside a record that
 * record is lost; across records the next header is searched for. */
void trace_tls_gap (TraceSession *session,
                    TraceDirection direction,
                    guint64 missing);
/* The connection ended: a record cut short is said. */
void trace_tls_finish (TraceSession *session, TraceDirection direction);

G_END_DECLS
