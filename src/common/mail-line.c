/* SPDX-License-Identifier: MIT
 * mail-line.c: the CRLF framer, dot-stuffing and the MailStream glue
 * (RFC 5321 §2.3.8, §4.5.2, §4.5.3.1; RFC 1939 §3; RFC 3207 §4).
 */
#include "mail-line.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "mail-tls.h"

G_DEFINE_QUARK (mail_line_error, mail_line_error)

/* ---- pure framer --------------------------------------------------- */

void
mail_line_framer_init (MailLineFramer *framer, gsize max_line)
{
  framer->pending = g_byte_array_new ();
  framer->start = 0;
  framer->max_line = max_line;
  framer->discarding = FALSE;
}

void
mail_line_framer_clear (MailLineFramer *framer)
{
  g_clear_pointer (&framer->pending, g_byte_array_unref);
}

gsize
mail_line_framer_get_pending (const MailLineFramer *framer)
{
  return framer->pending->len - framer->start;
}

/* Forgets the taken octets: one memmove per push, not one per line. */
static void
framer_compact (MailLineFramer *framer)
{
  if (framer->start == 0)
    return;
  g_byte_array_remove_range (framer->pending, 0, framer->start);
  framer->start = 0;
}

/* Drops everything buffered, taken or not. */
static void
framer_reset (MailLineFramer *framer)
{
  g_byte_array_set_size (framer->pending, 0);
  framer->start = 0;
}

void
mail_line_framer_push (MailLineFramer *framer, const void *data, gsize length)
{
  framer_compact (framer);
  g_byte_array_append (framer->pending, data, length);
}

/* Flags for the line held in data[0..length), which excludes the LF.
 * memchr () rather than a loop: it is vectorised, and most lines hold
 * neither a stray CR nor a NUL. */
static MailLineFlags
line_flags (const guint8 *data, gsize length)
{
  MailLineFlags flags = MAIL_LINE_CRLF;
  gsize body = length; /* the line without the CR of its CRLF */

  if (length > 0 && data[length - 1] == '\r')
    body--;
  else
    flags |= MAIL_LINE_BARE_LF;
  if (body > 0 && memchr (data, '\r', body) != NULL)
    flags |= MAIL_LINE_BARE_CR;
  if (body > 0 && memchr (data, '\0', body) != NULL)
    flags |= MAIL_LINE_HAS_NUL;
  return flags;
}

/* Drops an overlong line. Memory stays bounded: without an LF in sight
 * everything buffered is dropped and we keep discarding. */
/* The unread octets; NULL when there are none (an empty GByteArray has
 * no buffer, and NULL + 0 is undefined, C11 §6.5.6). */
static const guint8 *
framer_unread (const MailLineFramer *framer)
{
  return mail_line_framer_get_pending (framer) > 0
             ? framer->pending->data + framer->start
             : NULL;
}

static MailLineStatus
framer_discard (MailLineFramer *framer)
{
  const guint8 *data = framer_unread (framer);
  gsize available = mail_line_framer_get_pending (framer);
  const guint8 *lf = available > 0 ? memchr (data, '\n', available) : NULL;

  if (lf == NULL)
    {
      framer_reset (framer);
      return MAIL_LINE_NEED_MORE;
    }
  framer->start += lf - data + 1;
  framer->discarding = FALSE;
  return MAIL_LINE_OVERLONG;
}

/* Finds the next line in place: *out_data points into the buffer (valid
 * until the next push), the terminator excluded. The line is taken. */
static MailLineStatus
framer_next_line (MailLineFramer *framer,
                  const guint8 **out_data,
                  gsize *out_length,
                  MailLineFlags *out_flags)
{
  const guint8 *data = framer_unread (framer);
  gsize available = mail_line_framer_get_pending (framer);
  const guint8 *lf;
  gsize length;

  if (framer->discarding)
    return framer_discard (framer);
  if (available == 0)
    return MAIL_LINE_NEED_MORE; /* data may be NULL: no memchr on it */

  lf = memchr (data, '\n', MIN (available, framer->max_line));
  if (lf == NULL)
    {
      if (available < framer->max_line)
        return MAIL_LINE_NEED_MORE;
      framer->discarding = TRUE;
      return framer_discard (framer);
    }

  length = lf - data;
  *out_flags = line_flags (data, length);
  if ((*out_flags & MAIL_LINE_BARE_LF) == 0)
    length--; /* drop the CR of CRLF */
  *out_data = data;
  *out_length = length;
  framer->start += lf - data + 1;
  return MAIL_LINE_COMPLETE;
}

/* A NUL-terminated copy of a line that may hold NULs itself (which is why
 * this is not g_strndup (), which would stop at the first). */
static char *
copy_line (const guint8 *data, gsize length)
{
  char *line = g_malloc (length + 1);

  memcpy (line, data, length);
  line[length] = '\0';
  return line;
}

/* The next line, left where it lies: its terminator (already taken) is
 * overwritten with the NUL, so no copy and no allocation is made. */
MailLineStatus
mail_line_framer_take_view (MailLineFramer *framer,
                            const char **out_line,
                            gsize *out_length,
                            MailLineFlags *out_flags)
{
  const guint8 *data;
  MailLineStatus status =
      framer_next_line (framer, &data, out_length, out_flags);

  if (status == MAIL_LINE_COMPLETE)
    {
      framer->pending->data[(data - framer->pending->data) + *out_length] =
          '\0';
      *out_line = (const char *) data;
    }
  return status;
}

/* The same line, copied out of the framer. */
MailLineStatus
mail_line_framer_take (MailLineFramer *framer,
                       char **out_line,
                       gsize *out_length,
                       MailLineFlags *out_flags)
{
  const char *view;
  MailLineStatus status =
      mail_line_framer_take_view (framer, &view, out_length, out_flags);

  if (status == MAIL_LINE_COMPLETE)
    *out_line = copy_line ((const guint8 *) view, *out_length);
  return status;
}

GBytes *
mail_line_framer_take_bytes (MailLineFramer *framer, gsize length)
{
  GBytes *bytes;

  if (mail_line_framer_get_pending (framer) < length)
    return NULL;
  if (length == 0)
    return g_bytes_new (NULL, 0);
  bytes = g_bytes_new (framer_unread (framer), length);
  framer->start += length;
  return bytes;
}

/* ---- dot-stuffing -------------------------------------------------- */

void
mail_dot_stuff (GString *out, const char *data, gsize length)
{
  gsize start = 0;

  /* RFC 5321 §4.5.2: a line that starts with "." gets one more. Whole
   * lines are copied at once: only line starts need looking at. */
  while (start < length)
    {
      const char *newline = memchr (data + start, '\n', length - start);
      gsize end = newline ? (gsize) (newline - data) + 1 : length;

      if (data[start] == '.')
        g_string_append_c (out, '.');
      g_string_append_len (out, data + start, end - start);
      start = end;
    }
  if (length > 0 &&
      !(length >= 2 && data[length - 2] == '\r' && data[length - 1] == '\n'))
    g_string_append (out, "\r\n");
  g_string_append (out, ".\r\n");
}

gboolean
mail_dot_unstuff (const char **inout_line, gsize *inout_length)
{
  if (*inout_length == 1 && (*inout_line)[0] == '.')
    return TRUE;
  if (*inout_length > 0 && (*inout_line)[0] == '.')
    {
      (*inout_line)++;
      (*inout_length)--;
    }
  return FALSE;
}

GString *
mail_line_to_crlf (const char *data, gsize length)
{
  GString *out = g_string_sized_new (length + length / 32 + 2);

  for (gsize i = 0; i < length; i++)
    {
      if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
        g_string_append_c (out, '\r');
      g_string_append_c (out, data[i]);
    }
  return out;
}

/* ---- MailStream ---------------------------------------------------- */

#define MAIL_STREAM_READ_CHUNK 16384
/* Past this much unsent output, a read sends it before taking even a
 * line that is already buffered (see mail_stream_read_line ()). */
#define MAIL_STREAM_MAX_OUTPUT_PENDING (256 * 1024)

struct _MailStream
{
  GIOStream *io;         /* plain socket connection, or TLS over it */
  GSocket *socket;       /* NULL if not over a socket */
  MailLineFramer framer; /* received octets not yet taken */
  GString *output;       /* replies not yet flushed */
  gboolean eof;          /* the peer closed its side */
  gboolean mask_next;    /* hide the next received line from the trace */
  MailStreamTraceFunc trace;
  gpointer trace_data;
};

static GSocket *
socket_of (GIOStream *io)
{
  GIOStream *base = io;

  GSocket *socket = NULL;

  if (G_IS_TLS_CONNECTION (io))
    g_object_get (io, "base-io-stream", &base, NULL);
  else
    g_object_ref (base);
  if (G_IS_SOCKET_CONNECTION (base))
    socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (base));
  g_object_unref (base); /* the connection (and so the socket) is kept by io */
  return socket;
}

MailStream *
mail_stream_new (GIOStream *base, gsize max_line)
{
  MailStream *stream = g_new0 (MailStream, 1);

  stream->io = g_object_ref (base);
  stream->socket = socket_of (base);
  mail_line_framer_init (&stream->framer, max_line);
  stream->output = g_string_new (NULL);
  if (stream->socket != NULL &&
      g_socket_get_family (stream->socket) != G_SOCKET_FAMILY_UNIX)
    /* We batch replies ourselves; Nagle would only hold them back. */
    g_socket_set_option (stream->socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  return stream;
}

void
mail_stream_free (MailStream *stream)
{
  if (stream == NULL)
    return;
  g_clear_object (&stream->io);
  mail_line_framer_clear (&stream->framer);
  g_string_free (stream->output, TRUE);
  g_free (stream);
}

void
mail_stream_set_max_line (MailStream *stream, gsize max_line)
{
  stream->framer.max_line = max_line;
}

void
mail_stream_set_timeout (MailStream *stream, guint seconds)
{
  if (stream->socket != NULL)
    g_socket_set_timeout (stream->socket, seconds);
}

void
mail_stream_set_trace (MailStream *stream,
                       MailStreamTraceFunc func,
                       gpointer user_data)
{
  stream->trace = func;
  stream->trace_data = user_data;
}

void
mail_stream_mask_next_line (MailStream *stream)
{
  stream->mask_next = TRUE;
}

GIOStream *
mail_stream_get_io (MailStream *stream)
{
  return stream->io;
}

GSocket *
mail_stream_get_socket (MailStream *stream)
{
  return stream->socket;
}

gboolean
mail_stream_is_tls (MailStream *stream)
{
  return G_IS_TLS_CONNECTION (stream->io);
}

gsize
mail_stream_get_pending (MailStream *stream)
{
  return mail_line_framer_get_pending (&stream->framer);
}

/* Receives more octets into the framer. Flushes first: if we must wait
 * for the peer, the peer may be waiting for our replies. */
static gboolean
stream_fill (MailStream *stream, GCancellable *cancellable, GError **error)
{
  guint8 buffer[MAIL_STREAM_READ_CHUNK];
  GInputStream *input = g_io_stream_get_input_stream (stream->io);
  gssize n;

  if (!mail_stream_flush (stream, cancellable, error))
    return FALSE;
  if (stream->eof)
    {
      g_set_error_literal (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_CLOSED,
                           "connection closed by peer");
      return FALSE;
    }
  n = g_input_stream_read (input, buffer, sizeof buffer, cancellable, error);
  if (n < 0)
    return FALSE;
  if (n == 0)
    {
      stream->eof = TRUE;
      g_set_error_literal (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_CLOSED,
                           "connection closed by peer");
      return FALSE;
    }
  mail_line_framer_push (&stream->framer, buffer, n);
  return TRUE;
}

static void
trace_line (MailStream *stream, MailStreamDirection direction, const char *line)
{
  if (stream->trace == NULL)
    return;
  if (direction == MAIL_STREAM_RECEIVED && stream->mask_next)
    line = "***";
  stream->trace (direction, line, stream->trace_data);
}

/* Finds the next line in place (see framer_next_line ()), receiving more
 * octets as needed. *out_data is valid until the next read. */
static gboolean
stream_next_line (MailStream *stream,
                  const guint8 **out_data,
                  gsize *out_length,
                  MailLineFlags *out_flags,
                  GCancellable *cancellable,
                  GError **error)
{
  for (;;)
    {
      switch (
          framer_next_line (&stream->framer, out_data, out_length, out_flags))
        {
        case MAIL_LINE_COMPLETE:
          return TRUE;
        case MAIL_LINE_OVERLONG:
          g_set_error (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_TOO_LONG,
                       "line longer than %" G_GSIZE_FORMAT " octets",
                       stream->framer.max_line);
          return FALSE;
        case MAIL_LINE_NEED_MORE:
          if (!stream_fill (stream, cancellable, error))
            return FALSE;
          break;
        default:
          g_assert_not_reached ();
        }
    }
}

gboolean
mail_stream_read_line (MailStream *stream,
                       char **out_line,
                       gsize *out_length,
                       MailLineFlags *out_flags,
                       GCancellable *cancellable,
                       GError **error)
{
  const guint8 *data;

  /* A peer that pipelines commands and never reads the answers: each
   * command taken from what is buffered adds an answer, so past the limit
   * the answers go out first, and the write blocks until the peer reads
   * (or the timeout drops it). Memory stays bounded, whatever it sends. */
  if (stream->output->len > MAIL_STREAM_MAX_OUTPUT_PENDING &&
      !mail_stream_flush (stream, cancellable, error))
    return FALSE;
  if (!stream_next_line (stream, &data, out_length, out_flags, cancellable,
                         error))
    return FALSE;
  *out_line = copy_line (data, *out_length);
  trace_line (stream, MAIL_STREAM_RECEIVED, *out_line);
  stream->mask_next = FALSE;
  return TRUE;
}

GBytes *
mail_stream_read_exact (MailStream *stream,
                        gsize length,
                        gsize cap,
                        GCancellable *cancellable,
                        GError **error)
{
  if (length > cap)
    {
      g_set_error (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_TOO_BIG,
                   "%" G_GSIZE_FORMAT
                   " octets is over the limit of %" G_GSIZE_FORMAT,
                   length, cap);
      return NULL;
    }
  while (mail_line_framer_get_pending (&stream->framer) < length)
    if (!stream_fill (stream, cancellable, error))
      return NULL;
  return mail_line_framer_take_bytes (&stream->framer, length);
}

/* The sink of mail_stream_read_dot_text (): appends to a GString. */
static void
append_text_line (const char *line, gsize length, gpointer out)
{
  g_string_append_len (out, line, length);
}

gboolean
mail_stream_read_dot_text (MailStream *stream,
                           GString *out,
                           gsize max_size,
                           MailLineFlags *out_seen,
                           GCancellable *cancellable,
                           GError **error)
{
  gsize start = out->len;

  if (mail_stream_read_dot_text_to (stream, append_text_line, out, max_size,
                                    out_seen, cancellable, error))
    return TRUE;
  g_string_truncate (out, start); /* never keep half a message */
  return FALSE;
}

gboolean
mail_stream_read_dot_text_to (MailStream *stream,
                              MailTextSink sink,
                              gpointer user_data,
                              gsize max_size,
                              MailLineFlags *out_seen,
                              GCancellable *cancellable,
                              GError **error)
{
  gsize kept = 0;
  gboolean too_big = FALSE;
  gboolean previous_crlf = TRUE; /* the command line ended in CRLF */
  gsize saved_max = stream->framer.max_line;

  *out_seen = MAIL_LINE_CRLF;
  /* RFC 5321 §4.5.3.1.6 limits text lines to 1000 octets, but mail in the
   * wild has longer lines; a body line is only bounded by @max_size. */
  stream->framer.max_line = MAX (saved_max, MAX (max_size, 1 << 20));
  for (;;)
    {
      const guint8 *line;
      const char *text;
      gsize length;
      gsize with_end;
      MailLineFlags flags;

      /* in place: message text is handed on once, never copied per line */
      if (!stream_next_line (stream, &line, &length, &flags, cancellable,
                             error))
        {
          stream->framer.max_line = saved_max;
          return FALSE;
        }
      *out_seen |= flags;
      text = (const char *) line;
      /* Only CRLF "." CRLF ends the text (the SMTP smuggling defence). */
      if (mail_dot_unstuff (&text, &length) && flags == MAIL_LINE_CRLF &&
          previous_crlf)
        break;
      previous_crlf = (flags & MAIL_LINE_BARE_LF) == 0;
      /* the line's own terminator follows it in the buffer: CR LF, or the
       * bare LF */
      with_end = length + ((flags & MAIL_LINE_BARE_LF) ? 1 : 2);
      /* past @max_size the rest is only read, to find the end */
      if (too_big || (max_size > 0 && kept + with_end > max_size))
        {
          too_big = TRUE;
          continue;
        }
      sink (text, with_end, user_data);
      kept += with_end;
    }
  stream->framer.max_line = saved_max;
  if (too_big)
    {
      g_set_error (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_TOO_BIG,
                   "message larger than %" G_GSIZE_FORMAT " octets", max_size);
      return FALSE;
    }
  return TRUE;
}

void
mail_stream_write (MailStream *stream, const void *data, gsize length)
{
  g_string_append_len (stream->output, data, length);
}

void
mail_stream_write_response (MailStream *stream, const char *data, gsize length)
{
  const char *end = memchr (data, '\n', length);
  g_autofree char *first = NULL;

  if (stream->trace != NULL)
    {
      /* the line up to its first literal, then only what it held */
      first = end && end + 1 < data + length
                  ? g_strdup_printf ("%.*s ... (%" G_GSIZE_FORMAT " octets)",
                                     (int) (end - data - 1), data, length)
                  : g_strndup (data, end ? (gsize) (end - data - 1) : length);
      trace_line (stream, MAIL_STREAM_SENT, first);
    }
  g_string_append_len (stream->output, data, length);
}

gsize
mail_stream_get_output_pending (MailStream *stream)
{
  return stream->output->len;
}

void
mail_stream_write_line (MailStream *stream, const char *line)
{
  trace_line (stream, MAIL_STREAM_SENT, line);
  g_string_append (stream->output, line);
  g_string_append (stream->output, "\r\n");
}

void
mail_stream_printf (MailStream *stream, const char *format, ...)
{
  g_autofree char *line = NULL;
  va_list args;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  mail_stream_write_line (stream, line);
}

gboolean
mail_stream_flush (MailStream *stream,
                   GCancellable *cancellable,
                   GError **error)
{
  GOutputStream *output = g_io_stream_get_output_stream (stream->io);
  gboolean ok;

  if (stream->output->len == 0)
    return TRUE;
  ok =
      g_output_stream_write_all (output, stream->output->str,
                                 stream->output->len, NULL, cancellable, error);
  g_string_truncate (stream->output, 0);
  return ok;
}

#define MAIL_STREAM_LINGER_SECONDS 2
#define MAIL_STREAM_LINGER_READS 16

void
mail_stream_close (MailStream *stream)
{
  char discard[4096];

  mail_stream_flush (stream, NULL, NULL);
  if (stream->socket != NULL &&
      g_socket_shutdown (stream->socket, FALSE, TRUE, NULL))
    {
      g_socket_set_timeout (stream->socket, MAIL_STREAM_LINGER_SECONDS);
      for (guint i = 0; i < MAIL_STREAM_LINGER_READS; i++)
        if (g_socket_receive (stream->socket, discard, sizeof discard, NULL,
                              NULL) <= 0)
          break;
    }
  g_io_stream_close (stream->io, NULL, NULL);
}

/* RFC 3207 §4: anything the client sent after STARTTLS, before the TLS
 * handshake, was sent in clear and may have been injected by an attacker
 * (CVE-2011-0411). It is dropped, never read as if it came over TLS. */
static gboolean
refuse_pipelined_plaintext (MailStream *stream, GError **error)
{
  gsize pending = mail_line_framer_get_pending (&stream->framer);

  if (pending == 0)
    return TRUE;
  framer_reset (&stream->framer);
  g_set_error (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_PLAINTEXT_AFTER_STARTTLS,
               "%" G_GSIZE_FORMAT " octets of plaintext followed STARTTLS;"
               " they were discarded",
               pending);
  return FALSE;
}

static void
replace_io (MailStream *stream, GIOStream *tls)
{
  g_clear_object (&stream->io);
  stream->io = tls;
}

gboolean
mail_stream_start_tls_server (MailStream *stream,
                              GTlsCertificate *certificate,
                              GCancellable *cancellable,
                              GError **error)
{
  GIOStream *tls;

  if (!mail_stream_flush (stream, cancellable, error))
    return FALSE;
  if (!refuse_pipelined_plaintext (stream, error))
    return FALSE;
  tls = mail_tls_server_wrap (stream->io, certificate, cancellable, error);
  if (tls == NULL)
    return FALSE;
  replace_io (stream, tls);
  return TRUE;
}

gboolean
mail_stream_start_tls_client (MailStream *stream,
                              const char *server_name,
                              const char *ca_file,
                              gboolean insecure,
                              GCancellable *cancellable,
                              GError **error)
{
  GIOStream *tls;

  if (!mail_stream_flush (stream, cancellable, error))
    return FALSE;
  /* A server must not send anything between its 220 and the handshake. */
  if (!refuse_pipelined_plaintext (stream, error))
    return FALSE;
  tls = mail_tls_client_wrap (stream->io, server_name, ca_file, insecure,
                              cancellable, error);
  if (tls == NULL)
    return FALSE;
  replace_io (stream, tls);
  return TRUE;
}
