/* SPDX-License-Identifier: MIT
 * decode-imap.h: the IMAP decoder's state, shared by decode-imap.c (the
 * line-by-line state machine) and decode-imap-message.c (whole commands
 * and responses read with the shared grammar of imap-parser.h: RFC 9051
 * §4 data formats, §9 syntax). Private to the tracer.
 */
#pragma once

#include "imap-parser.h"
#include "imap-proto.h"
#include "trace-message.h"
#include "trace-output.h"

G_BEGIN_DECLS

/* A literal longer than this is not kept for parsing: it stands in the
 * assembled message as an empty literal, and only its size and summary
 * are remembered (bodies are summarised by TraceMessage as they pass). */
#define IMAP_TRACE_KEEP_LITERAL 4096
/* A command or response past this size (lines and kept literals) is shown
 * line by line but not parsed. */
#define IMAP_TRACE_MAX_MESSAGE (1024 * 1024)

typedef enum
{
  IMAP_FLOW_COMMANDS,
  IMAP_FLOW_SASL, /* AUTHENTICATE exchange (RFC 9051 §6.2.2) */
  IMAP_FLOW_IDLE, /* between "+ idling" and DONE (§6.3.13) */
  IMAP_FLOW_TLS,
} ImapFlow;

typedef struct
{
  char *tag;
  char *verb;         /* "FETCH", or "UID FETCH" */
  char *mailbox;      /* SELECT/EXAMINE: the name as a person reads it */
  gboolean condstore; /* a CONDSTORE enabling command (RFC 7162 §3.1) */
} ImapPending;

/* A literal of a message, in wire order. */
typedef struct
{
  guint64 size;
  char *subject; /* of the RFC 5322 message it holds, or NULL */
} ImapTraceLiteral;

/* One direction's command or response, assembled from its lines and
 * literals by the shared ImapAssembler (RFC 9051 §4.3), then parsed. */
typedef struct
{
  ImapAssembler assembler;
  gsize args_offset;  /* where the arguments begin in the message */
  GArray *literals;   /* ImapTraceLiteral */
  GByteArray *octets; /* the literal being received, when kept */
  gboolean keep;      /* that literal is kept for parsing */
  gboolean broken;    /* too big, or a gap: not parsed */
  gboolean linted;    /* its framing was linted already */
} ImapTraceMessage;

typedef struct
{
  ImapFlow flow;
  GHashTable *pending;   /* tag -> ImapPending */
  GHashTable *tags_seen; /* every tag used, for the reuse lint */
  gboolean greeted;
  gboolean continuing[2];   /* the next line continues a literal line */
  gboolean check_after[2];  /* check the octet after a literal */
  TraceMessage *literal[2]; /* the literal being received, summarised */
  guint64 literal_size[2];
  ImapTraceMessage message[2];
  char *client_tag;      /* the command being assembled */
  gboolean literal_wait; /* its synchronising literal awaits "+" */
  /* the untagged data response being assembled */
  char *data_keyword;
  guint32 data_number;
  gboolean data_has_number; /* "* 3 VANISHED": linted, not read */
  GString *fetch_summary;
  gboolean fetch_summary_shown; /* FALSE under -q: no note is made */
  char *sasl_tag;
  char *idle_tag;
  gboolean utf8_names;     /* ENABLE IMAP4rev2 or UTF8=ACCEPT (RFC 6855) */
  gboolean mid_session;    /* begun mid-session: what was enabled is unknown */
  gboolean condstore;      /* a CONDSTORE enabling command succeeded */
  gboolean qresync;        /* ENABLED QRESYNC (RFC 7162 §3.2.3) */
  gboolean qresync_server; /* QRESYNC advertised (RFC 7162 §3.2.4) */
  gboolean nomodseq;       /* the selected mailbox said NOMODSEQ */
  /* the pull, for the summary */
  char *user;
  GPtrArray *folders; /* opened, in order */
  guint fetches;
  guint bodies;
  guint64 body_bytes;
  guint headers;
  guint stores;
  guint appends;
  guint expunges;         /* messages expunged: EXPUNGE or VANISHED */
  guint vanished;         /* of those, told by VANISHED (RFC 7162 §3.2.10.2) */
  guint vanished_earlier; /* VANISHED (EARLIER) responses */
  guint pushes;           /* untagged data pushed during IDLE */
  gboolean idled;
  gboolean tls;
  gboolean logged_in;
  char *client_verb; /* the command the client's literals belong to */
} ImapTrace;

/* ---- assembling (decode-imap-message.c) ----------------------------- */

void imap_trace_message_init (ImapTraceMessage *message);
void imap_trace_message_clear (ImapTraceMessage *message);
/* Starts a message with its first line; its arguments begin at
 * @args_offset of the line. TRUE if the line completes it. */
gboolean imap_trace_message_begin (ImapTraceMessage *message,
                                   const char *line,
                                   gsize length,
                                   gsize args_offset);
/* The line after a literal. TRUE if it completes the message. */
gboolean imap_trace_message_add_line (ImapTraceMessage *message,
                                      const char *line,
                                      gsize length);
/* The octets of the literal the last line announced, then its end with
 * the summary of what it held. */
void imap_trace_message_literal_data (ImapTraceMessage *message,
                                      const guint8 *data,
                                      gsize length);
void imap_trace_message_literal_end (ImapTraceMessage *message,
                                     TraceMessage *summary);
/* The literal announced by the last line is not coming (refused, or the
 * stream has a gap): the message cannot be parsed. */
void imap_trace_message_abandon (ImapTraceMessage *message);
/* The arguments of the whole message (transfer full), or NULL: not
 * parsed (*error NULL) or not the grammar (*error set). A @response is
 * read as mw-imap reads it (imap_parse_response_args ()), a command as
 * mw-imapd does (imap_parse_args ()). */
GPtrArray *imap_trace_message_parse (ImapTraceMessage *message,
                                     gboolean response,
                                     GError **error);

/* ---- reading parsed messages (decode-imap-message.c) ---------------- */

/* What a whole command means beyond its verb: mailbox names decoded,
 * sequence sets and FETCH sections checked, CONDSTORE/QRESYNC parameters
 * and modifiers read (RFC 7162). Sets pending->mailbox and
 * pending->condstore. */
void imap_trace_command (TraceSession *session,
                         ImapTrace *imap,
                         TraceEvent *event,
                         ImapPending *pending,
                         GPtrArray *args);
/* The same for an untagged data response; a FETCH response fills
 * imap->fetch_summary, VANISHED is counted (RFC 7162 §3.2.10). */
void imap_trace_data (TraceSession *session,
                      ImapTrace *imap,
                      TraceEvent *event,
                      GPtrArray *args);
/* The arguments of a response code: APPENDUID, COPYUID (RFC 4315 §3);
 * NOMODSEQ is remembered (RFC 7162 §3.1.2.2). */
void imap_trace_response_code (TraceSession *session,
                               ImapTrace *imap,
                               TraceEvent *event,
                               const ImapResponse *response);

G_END_DECLS
