/* SPDX-License-Identifier: MIT
 * mail-line.h: the one line reader and writer of mailwire, for every
 * protocol and both sides of a connection (RFC 5321 §2.3.8, §4.5.2,
 * §4.5.3.1; RFC 1939 §3; RFC 9051 §4.3 literals; RFC 3207 STARTTLS).
 *
 * Two layers:
 *   MailLineFramer  pure: bytes in, lines out. No I/O, so the tracer and
 *                   the trickle tests use exactly the code the servers use.
 *   MailStream      the framer over a GIOStream (plain TCP or TLS), with
 *                   buffered writes, timeouts and the STARTTLS swap.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MAIL_LINE_ERROR (mail_line_error_quark ())
typedef enum
{
  MAIL_LINE_ERROR_TOO_LONG, /* line over the limit: it was consumed whole,
                             * reply with an error and go on */
  MAIL_LINE_ERROR_CLOSED,   /* the peer closed the connection */
  MAIL_LINE_ERROR_TOO_BIG,  /* literal or message over the caller's cap */
  MAIL_LINE_ERROR_PLAINTEXT_AFTER_STARTTLS, /* bytes followed STARTTLS
                                             * (CVE-2011-0411 class) */
  MAIL_LINE_ERROR_FAILED,
} MailLineError;
GQuark mail_line_error_quark (void);

/* How a line ended and what odd bytes it held. RFC 5321 §2.3.8: lines end
 * in CRLF; a bare LF still ends a line here (so one bad client cannot wedge
 * a session) but is reported, and a CR not followed by LF stays in the line
 * and is reported. The caller decides: SMTP DATA refuses both. */
typedef enum
{
  MAIL_LINE_CRLF = 0,         /* ended by CR LF */
  MAIL_LINE_BARE_LF = 1 << 0, /* ended by LF alone */
  MAIL_LINE_BARE_CR = 1 << 1, /* holds a CR not followed by LF */
  MAIL_LINE_HAS_NUL = 1 << 2, /* holds a NUL octet */
} MailLineFlags;

/* Line lengths count the CRLF, as RFC 5321 §4.5.3.1.4-6 does. */
#define MAIL_LINE_MAX_SMTP_COMMAND 512 /* RFC 5321 §4.5.3.1.4 */
#define MAIL_LINE_MAX_SMTP_REPLY 512   /* RFC 5321 §4.5.3.1.5 */
#define MAIL_LINE_MAX_SMTP_TEXT 1000   /* RFC 5321 §4.5.3.1.6 */
#define MAIL_LINE_MAX_POP3 512         /* RFC 2449 §4: 255 + margin */
#define MAIL_LINE_MAX_IMAP 65536       /* RFC 9051 §4: "reasonable" */

/* ---- pure framer --------------------------------------------------- */

typedef enum
{
  MAIL_LINE_NEED_MORE, /* no complete line buffered yet */
  MAIL_LINE_COMPLETE,  /* one line taken */
  MAIL_LINE_OVERLONG,  /* an overlong line was consumed up to its LF */
} MailLineStatus;

typedef struct
{
  GByteArray *pending; /* bytes received; those before start are taken */
  gsize start;         /* taking a line moves start, not the bytes */
  gsize max_line;      /* longest line accepted, terminator included */
  gboolean discarding; /* inside an overlong line, dropping to its LF */
} MailLineFramer;

void mail_line_framer_init (MailLineFramer *framer, gsize max_line);
void mail_line_framer_clear (MailLineFramer *framer);
void
mail_line_framer_push (MailLineFramer *framer, const void *data, gsize length);
/* Takes one line off the front. On MAIL_LINE_COMPLETE *out_line (transfer
 * full, NUL-terminated, terminator removed; may hold NULs, see
 * *out_length) and *out_flags are set. Memory stays bounded by max_line
 * whatever the peer sends. */
MailLineStatus mail_line_framer_take (MailLineFramer *framer,
                                      char **out_line,
                                      gsize *out_length,
                                      MailLineFlags *out_flags);
/* As mail_line_framer_take (), without a copy: *out_line (transfer none)
 * points into the framer's buffer, NUL-terminated there, and is valid
 * only until the next push, take or clear of @framer (a push may move
 * or overwrite the buffer). For a reader that is done with each line
 * before it feeds the framer again (mw-trace frames millions of lines). */
MailLineStatus mail_line_framer_take_view (MailLineFramer *framer,
                                           const char **out_line,
                                           gsize *out_length,
                                           MailLineFlags *out_flags);
/* Octets received and not taken yet. */
gsize mail_line_framer_get_pending (const MailLineFramer *framer);
/* Takes exactly @length raw octets if that many are buffered (literals). */
GBytes *mail_line_framer_take_bytes (MailLineFramer *framer, gsize length);

/* ---- dot-stuffing (RFC 5321 §4.5.2, RFC 1939 §3) ------------------- */

/* Appends @data to @out with every line that starts with "." given one
 * more "."; adds CRLF if @data does not end in one, then ".\r\n".
 * @data should already use CRLF (see mail_line_to_crlf ()). */
void mail_dot_stuff (GString *out, const char *data, gsize length);
/* For one received line: TRUE if it is the lone "." that ends the text;
 * otherwise the line and its length are advanced past a stuffed dot. */
gboolean mail_dot_unstuff (const char **inout_line, gsize *inout_length);
/* Returns @data with every bare LF turned into CRLF (transfer full). */
GString *mail_line_to_crlf (const char *data, gsize length);

/* ---- MailStream: the framer over a connection ----------------------- */

typedef struct _MailStream MailStream;

typedef enum
{
  MAIL_STREAM_RECEIVED, /* the peer sent this line */
  MAIL_STREAM_SENT,     /* we sent this line */
} MailStreamDirection;

/* Called for every line read or written (without CRLF); for protocol logs
 * and clients' --trace. Not called for literal/body bytes. */
typedef void (*MailStreamTraceFunc) (MailStreamDirection direction,
                                     const char *line,
                                     gpointer user_data);

/* Takes a reference on @base (a GSocketConnection or a GTlsConnection).
 * Sets TCP_NODELAY on the socket: replies are batched by us, not Nagle. */
MailStream *mail_stream_new (GIOStream *base, gsize max_line);
void mail_stream_free (MailStream *stream);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailStream, mail_stream_free)

void mail_stream_set_max_line (MailStream *stream, gsize max_line);
/* Read and write timeout in seconds (0: none). RFC 5321 §4.5.3.2 wants at
 * least 5 minutes for commands and 10 minutes between DATA blocks. */
void mail_stream_set_timeout (MailStream *stream, guint seconds);
void mail_stream_set_trace (MailStream *stream,
                            MailStreamTraceFunc func,
                            gpointer user_data);
/* The next line received is passed to the trace function as "***": the
 * caller is about to read a SASL response or a password. */
void mail_stream_mask_next_line (MailStream *stream);
/* (transfer none) the stream read and written now; a GTlsConnection after
 * STARTTLS. */
GIOStream *mail_stream_get_io (MailStream *stream);
/* (transfer none) NULL if the connection is not over a socket. */
GSocket *mail_stream_get_socket (MailStream *stream);
gboolean mail_stream_is_tls (MailStream *stream);

/* Reads one line. Pending output is flushed first whenever it must wait
 * for the network, so a pipelined batch of commands gets its replies in
 * one write (RFC 2920 §3.2), and whenever more than 256 KiB of it waits,
 * so a peer that pipelines and never reads is not read further until it
 * does: what is held for it stays bounded. Errors: MAIL_LINE_ERROR_TOO_LONG
 * (the line was consumed; the session may go on), MAIL_LINE_ERROR_CLOSED,
 * G_IO_ERROR_TIMED_OUT, other G_IO_ERRORs. */
gboolean mail_stream_read_line (MailStream *stream,
                                char **out_line,
                                gsize *out_length,
                                MailLineFlags *out_flags,
                                GCancellable *cancellable,
                                GError **error);
/* Reads exactly @length octets (an IMAP literal). Over @cap it fails with
 * MAIL_LINE_ERROR_TOO_BIG before reading or allocating anything. */
GBytes *mail_stream_read_exact (MailStream *stream,
                                gsize length,
                                gsize cap,
                                GCancellable *cancellable,
                                GError **error);

/* Reads dot-stuffed text up to the line "." (SMTP DATA, POP3 multi-line)
 * and appends it, un-stuffed, with each line's own terminator, to @out.
 * Only CRLF "." CRLF ends the text: a "." line next to a bare LF does not,
 * which is what defeats SMTP smuggling (CVE-2023-51764). *out_seen is the
 * union of the flags of every line. Past @max_size octets (0: no limit)
 * the text is still read to its end but no longer kept, and the call
 * fails with MAIL_LINE_ERROR_TOO_BIG once the end has been read, so the
 * session can reply and go on. */
gboolean mail_stream_read_dot_text (MailStream *stream,
                                    GString *out,
                                    gsize max_size,
                                    MailLineFlags *out_seen,
                                    GCancellable *cancellable,
                                    GError **error);

/* The same, handing each un-stuffed line to @sink as it comes instead of
 * keeping the text: @line is @length octets with its own terminator
 * ("\r\n", or "\n" after a bare LF), not NUL-terminated, valid only
 * during the call (it lies in the stream's buffer: one write per line, no
 * copy). Past @max_size nothing more is handed on, and the call fails with
 * MAIL_LINE_ERROR_TOO_BIG once the end has been read; what @sink was given
 * by then is the caller's to drop. So a server can write the text to disk
 * while it reads it (mw-smtpd's DATA). */
typedef void (*MailTextSink) (const char *line,
                              gsize length,
                              gpointer user_data);
gboolean mail_stream_read_dot_text_to (MailStream *stream,
                                       MailTextSink sink,
                                       gpointer user_data,
                                       gsize max_size,
                                       MailLineFlags *out_seen,
                                       GCancellable *cancellable,
                                       GError **error);

/* Number of received octets not taken yet (pipelined input). */
gsize mail_stream_get_pending (MailStream *stream);

/* Buffered writes: nothing is sent until mail_stream_flush () or a read
 * that has to wait. The trace callback sees each line written. */
void mail_stream_write (MailStream *stream, const void *data, gsize length);
void mail_stream_write_line (MailStream *stream, const char *line);
void mail_stream_printf (MailStream *stream, const char *format, ...)
    G_GNUC_PRINTF (2, 3);
/* Writes one whole response that ends in CRLF and may hold literals
 * (IMAP FETCH): the trace function sees its first line, and the size of
 * the rest, not the literal octets. */
void
mail_stream_write_response (MailStream *stream, const char *data, gsize length);
/* Octets written and not flushed yet: a long answer (IMAP FETCH 1:*)
 * flushes when this grows, so it is not held whole in memory. */
gsize mail_stream_get_output_pending (MailStream *stream);
gboolean mail_stream_flush (MailStream *stream,
                            GCancellable *cancellable,
                            GError **error);

/* Ends the conversation (a server after its last reply): flushes, sends
 * FIN, then reads and drops whatever the peer still sends (a TLS
 * close_notify, a stray CRLF) until it closes too, for at most 2 s, and
 * closes. Closing with those octets unread would make the kernel send a
 * TCP reset, which can destroy the last reply before the peer reads it
 * (RFC 1122 §4.2.2.13). Free the stream afterwards. */
void mail_stream_close (MailStream *stream);

/* STARTTLS (RFC 3207 §4, RFC 2595 §4): after the positive reply has been
 * flushed, replace the connection with TLS in place and run the
 * handshake. Octets the client pipelined after the command were sent in
 * plaintext and must never be read as if they came over TLS: they are
 * discarded, and the call fails with
 * MAIL_LINE_ERROR_PLAINTEXT_AFTER_STARTTLS (the caller drops the
 * connection). */
gboolean mail_stream_start_tls_server (MailStream *stream,
                                       GTlsCertificate *certificate,
                                       GCancellable *cancellable,
                                       GError **error);
/* Client side: @server_name for SNI and verification; @ca_file NULL for
 * the system store; @insecure accepts any certificate (said out loud by
 * the caller). */
gboolean mail_stream_start_tls_client (MailStream *stream,
                                       const char *server_name,
                                       const char *ca_file,
                                       gboolean insecure,
                                       GCancellable *cancellable,
                                       GError **error);

G_END_DECLS
