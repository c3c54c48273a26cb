/* SPDX-License-Identifier: MIT
 * test-mail-line.c: the framer, dot-stuffing and MailStream
 * (RFC 5321 §2.3.8, §4.5.2, §4.5.3.1; RFC 3207 §4).
 */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>

#include "mail-line.h"
#include "mail-tls.h"

/* ---- framer case table ---------------------------------------------- */

typedef struct
{
  const char *input; /* bytes pushed (whole, then one by one) */
  gsize max_line;
  MailLineStatus status; /* what the first take returns */
  const char *line;      /* expected line when COMPLETE */
  MailLineFlags flags;
} FramerCase;

static const FramerCase framer_cases[] = {
  /* VALID */
  { "EHLO a\r\n", 512, MAIL_LINE_COMPLETE, "EHLO a", MAIL_LINE_CRLF },
  { "\r\n", 512, MAIL_LINE_COMPLETE, "", MAIL_LINE_CRLF },
  /* at the bound: 510 octets + CRLF = 512 (RFC 5321 §4.5.3.1.4) */
  { NULL, 512, MAIL_LINE_COMPLETE, NULL, MAIL_LINE_CRLF },
  /* RECOVERABLE: reported, line still delivered */
  { "NOOP\n", 512, MAIL_LINE_COMPLETE, "NOOP", MAIL_LINE_BARE_LF },
  { "a\rb\r\n", 512, MAIL_LINE_COMPLETE, "a\rb", MAIL_LINE_BARE_CR },
  { "\n", 512, MAIL_LINE_COMPLETE, "", MAIL_LINE_BARE_LF },
  /* INVALID: one octet over the bound is consumed and reported */
  { NULL, 511, MAIL_LINE_OVERLONG, NULL, 0 },
  { "no end yet", 512, MAIL_LINE_NEED_MORE, NULL, 0 },
};

static char *
bound_line (void)
{
  g_autofree char *body = g_strnfill (510, 'x');

  return g_strconcat (body, "\r\n", NULL);
}

static MailLineStatus
take_trickled (const char *input,
               gsize length,
               gsize max_line,
               gboolean byte_by_byte,
               char **line,
               MailLineFlags *flags)
{
  MailLineFramer framer;
  MailLineStatus status = MAIL_LINE_NEED_MORE;
  gsize line_length;
  gsize step = byte_by_byte ? 1 : length;

  mail_line_framer_init (&framer, max_line);
  for (gsize i = 0; i < length && status == MAIL_LINE_NEED_MORE; i += step)
    {
      mail_line_framer_push (&framer, input + i, MIN (step, length - i));
      status = mail_line_framer_take (&framer, line, &line_length, flags);
    }
  mail_line_framer_clear (&framer);
  return status;
}

static void
test_framer_case (gconstpointer data)
{
  const FramerCase *c = data;
  g_autofree char *generated = c->input ? NULL : bound_line ();
  const char *input = c->input ? c->input : generated;

  for (int trickle = 0; trickle < 2; trickle++)
    {
      g_autofree char *line = NULL;
      MailLineFlags flags = 0;
      MailLineStatus status = take_trickled (input, strlen (input), c->max_line,
                                             trickle, &line, &flags);

      g_assert_cmpint (status, ==, c->status);
      if (status != MAIL_LINE_COMPLETE)
        continue;
      if (c->line != NULL)
        g_assert_cmpstr (line, ==, c->line);
      else
        g_assert_cmpuint (strlen (line), ==, 510);
      g_assert_cmpint (flags, ==, c->flags);
    }
}

/* After an overlong line the next line is read normally: the session goes
 * on (RFC 5321 §4.5.3.1: reply 500 and continue). */
static void
test_framer_overlong_then_next (void)
{
  MailLineFramer framer;
  g_autofree char *huge = g_strnfill (100000, 'A');
  g_autofree char *line = NULL;
  gsize length;
  MailLineFlags flags;

  mail_line_framer_init (&framer, 512);
  mail_line_framer_push (&framer, huge, strlen (huge));
  g_assert_cmpint (mail_line_framer_take (&framer, &line, &length, &flags), ==,
                   MAIL_LINE_NEED_MORE);
  /* memory stays bounded while the peer keeps sending */
  g_assert_cmpuint (framer.pending->len, <=, 512);
  g_assert_cmpuint (mail_line_framer_get_pending (&framer), <=, 512);
  mail_line_framer_push (&framer, "AAA\r\nQUIT\r\n", 11);
  g_assert_cmpint (mail_line_framer_take (&framer, &line, &length, &flags), ==,
                   MAIL_LINE_OVERLONG);
  g_assert_cmpint (mail_line_framer_take (&framer, &line, &length, &flags), ==,
                   MAIL_LINE_COMPLETE);
  g_assert_cmpstr (line, ==, "QUIT");
  mail_line_framer_clear (&framer);
}

static void
test_framer_nul_kept (void)
{
  MailLineFramer framer;
  g_autofree char *line = NULL;
  gsize length;
  MailLineFlags flags;

  mail_line_framer_init (&framer, 512);
  mail_line_framer_push (&framer, "a\0b\r\n", 5);
  g_assert_cmpint (mail_line_framer_take (&framer, &line, &length, &flags), ==,
                   MAIL_LINE_COMPLETE);
  g_assert_cmpuint (length, ==, 3);
  g_assert_cmpmem (line, length, "a\0b", 3);
  g_assert_cmpint (flags, ==, MAIL_LINE_HAS_NUL);
  mail_line_framer_clear (&framer);
}

/* mail_line_framer_take_view (), mw-trace's take: the same lines, lengths
 * and flags as the copying take, each NUL-terminated where it lies, and
 * writing that NUL over a line's end leaves the next line whole. */
static void
test_framer_view_matches_take (void)
{
  static const char input[] = "EHLO a\r\nNOOP\na\rb\r\n\r\nx\0y\nQUIT\r\nrest";
  MailLineFramer copying;
  MailLineFramer viewing;
  guint lines = 0;

  mail_line_framer_init (&copying, 512);
  mail_line_framer_init (&viewing, 512);
  mail_line_framer_push (&copying, input, sizeof input - 1);
  mail_line_framer_push (&viewing, input, sizeof input - 1);
  for (;;)
    {
      g_autofree char *copy = NULL;
      const char *view = NULL;
      gsize copy_length = 0, view_length = 0;
      MailLineFlags copy_flags = 0, view_flags = 0;
      MailLineStatus copied =
          mail_line_framer_take (&copying, &copy, &copy_length, &copy_flags);
      MailLineStatus viewed = mail_line_framer_take_view (
          &viewing, &view, &view_length, &view_flags);

      g_assert_cmpint (viewed, ==, copied);
      if (copied != MAIL_LINE_COMPLETE)
        break;
      g_assert_cmpmem (view, view_length, copy, copy_length);
      g_assert_cmpint (view[view_length], ==, '\0');
      g_assert_cmpint (view_flags, ==, copy_flags);
      lines++;
    }
  g_assert_cmpuint (lines, ==, 6);
  /* the unterminated "rest" is still pending, in both */
  g_assert_cmpuint (mail_line_framer_get_pending (&viewing), ==, 4);
  g_assert_cmpuint (mail_line_framer_get_pending (&copying), ==, 4);
  mail_line_framer_clear (&copying);
  mail_line_framer_clear (&viewing);
}

/* ---- dot-stuffing (RFC 5321 §4.5.2) ---------------------------------- */

typedef struct
{
  const char *text;    /* message text */
  const char *stuffed; /* as it goes on the wire */
} DotCase;

static const DotCase dot_cases[] = {
  { "hello\r\n", "hello\r\n.\r\n" },
  { ".\r\n", "..\r\n.\r\n" },     /* a line that is only "." */
  { "..x\r\n", "...x\r\n.\r\n" }, /* starts with ".." */
  { "a\r\n.b\r\nc\r\n", "a\r\n..b\r\nc\r\n.\r\n" },
  { "no final newline", "no final newline\r\n.\r\n" },
  { "", ".\r\n" },
};

static void
test_dot_stuff_case (gconstpointer data)
{
  const DotCase *c = data;
  g_autoptr (GString) out = g_string_new (NULL);

  mail_dot_stuff (out, c->text, strlen (c->text));
  g_assert_cmpstr (out->str, ==, c->stuffed);
}

static void
test_dot_unstuff (void)
{
  const char *line = "..x";
  gsize length = 3;
  const char *end = ".";
  gsize end_length = 1;

  g_assert_false (mail_dot_unstuff (&line, &length));
  g_assert_cmpmem (line, length, ".x", 2);
  g_assert_true (mail_dot_unstuff (&end, &end_length));
}

static void
test_to_crlf (void)
{
  g_autoptr (GString) out = mail_line_to_crlf ("a\nb\r\nc\n", 7);

  g_assert_cmpstr (out->str, ==, "a\r\nb\r\nc\r\n");
}

/* ---- MailStream over a socket pair ----------------------------------- */

typedef struct
{
  GSocketConnection *server; /* side under test */
  GSocketConnection *client; /* the peer, written to directly */
  MailStream *stream;
} StreamFixture;

static GSocketConnection *
connection_from_fd (int fd)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return g_socket_connection_factory_create_connection (socket);
}

static void
stream_setup (StreamFixture *f, gconstpointer data)
{
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  f->server = connection_from_fd (fds[0]);
  f->client = connection_from_fd (fds[1]);
  f->stream = mail_stream_new (G_IO_STREAM (f->server), 512);
  mail_stream_set_timeout (f->stream, 10);
}

static void
stream_teardown (StreamFixture *f, gconstpointer data)
{
  mail_stream_free (f->stream);
  g_clear_object (&f->server);
  g_clear_object (&f->client);
}

static void
peer_send (StreamFixture *f, const char *data, gsize length)
{
  g_autoptr (GError) error = NULL;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (f->client));

  g_output_stream_write_all (out, data, length, NULL, NULL, &error);
  g_assert_no_error (error);
}

static void
peer_close (StreamFixture *f)
{
  g_socket_shutdown (g_socket_connection_get_socket (f->client), FALSE, TRUE,
                     NULL);
}

static void
test_stream_lines_and_eof (StreamFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  gsize length;
  MailLineFlags flags;

  peer_send (f, "NOOP\r\n", 6);
  peer_close (f);
  g_assert_true (
      mail_stream_read_line (f->stream, &line, &length, &flags, NULL, &error));
  g_assert_cmpstr (line, ==, "NOOP");
  g_assert_false (
      mail_stream_read_line (f->stream, &line, &length, &flags, NULL, &error));
  g_assert_error (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_CLOSED);
}

static void
test_stream_literal_cap (StreamFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) literal = NULL;

  peer_send (f, "0123456789", 10);
  /* over the cap: refused before anything is read or allocated */
  literal =
      mail_stream_read_exact (f->stream, G_MAXSIZE / 2, 1 << 20, NULL, &error);
  g_assert_error (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_TOO_BIG);
  g_assert_null (literal);
  g_clear_error (&error);
  literal = mail_stream_read_exact (f->stream, 10, 10, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (literal, NULL), g_bytes_get_size (literal),
                   "0123456789", 10);
}

typedef struct
{
  const char *wire; /* after DATA's 354 */
  gsize max_size;
  const char *text;   /* kept text, NULL if refused */
  MailLineFlags seen; /* union of line flags */
  int error_code;     /* -1: none */
  const char *after;  /* next command line read after the text */
} DotTextCase;

static const DotTextCase dot_text_cases[] = {
  /* VALID */
  { "a\r\n..b\r\n.\r\nQUIT\r\n", 0, "a\r\n.b\r\n", 0, -1, "QUIT" },
  { ".\r\nQUIT\r\n", 0, "", 0, -1, "QUIT" },
  /* SMUGGLING: a "." next to a bare LF or CR does not end the text */
  { "a\n.\nMAIL FROM:<x>\r\n.\r\nQUIT\r\n", 0, "a\n.\nMAIL FROM:<x>\r\n",
    MAIL_LINE_BARE_LF, -1, "QUIT" },
  { "a\n.\r\nRSET\r\n.\r\nQUIT\r\n", 0, "a\n.\r\nRSET\r\n", MAIL_LINE_BARE_LF,
    -1, "QUIT" },
  { "a\r.\r\nRSET\r\n.\r\nQUIT\r\n", 0, "a\r.\r\nRSET\r\n", MAIL_LINE_BARE_CR,
    -1, "QUIT" },
  /* INVALID: over the size, read to its end, nothing kept */
  { "0123456789\r\n0123456789\r\n.\r\nQUIT\r\n", 20, NULL, 0,
    MAIL_LINE_ERROR_TOO_BIG, "QUIT" },
};

static void
test_stream_dot_text (StreamFixture *f, gconstpointer data)
{
  const DotTextCase *c = data;
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  MailLineFlags seen;
  MailLineFlags flags;
  gsize length;
  gboolean ok;

  /* byte by byte: split reads must not change the result */
  for (const char *p = c->wire; *p != '\0'; p++)
    peer_send (f, p, 1);
  ok = mail_stream_read_dot_text (f->stream, text, c->max_size, &seen, NULL,
                                  &error);
  if (c->error_code >= 0)
    {
      g_assert_false (ok);
      g_assert_error (error, MAIL_LINE_ERROR, c->error_code);
      g_assert_cmpuint (text->len, ==, 0);
    }
  else
    {
      g_assert_no_error (error);
      g_assert_cmpstr (text->str, ==, c->text);
      g_assert_cmpint (seen, ==, c->seen);
    }
  g_clear_error (&error);
  g_assert_true (
      mail_stream_read_line (f->stream, &line, &length, &flags, NULL, &error));
  g_assert_cmpstr (line, ==, c->after);
}

/* Replies are held until a read must wait: a pipelined batch of commands
 * gets its replies in one write (RFC 2920 §3.2). */
static void
test_stream_batches_replies (StreamFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (f->client));
  char buffer[64] = "";
  g_autofree char *line = NULL;
  gsize length;
  MailLineFlags flags;
  gssize n;

  peer_send (f, "A\r\nB\r\n", 6);
  g_assert_true (
      mail_stream_read_line (f->stream, &line, &length, &flags, NULL, &error));
  mail_stream_write_line (f->stream, "250 a");
  g_clear_pointer (&line, g_free);
  /* B is already buffered: no flush needed, nothing sent yet */
  g_assert_true (
      mail_stream_read_line (f->stream, &line, &length, &flags, NULL, &error));
  mail_stream_write_line (f->stream, "250 b");
  g_assert_true (
      g_socket_condition_timed_wait (g_socket_connection_get_socket (f->client),
                                     G_IO_IN, 0, NULL, NULL) == FALSE);
  g_assert_true (mail_stream_flush (f->stream, NULL, &error));
  n = g_input_stream_read (in, buffer, sizeof buffer - 1, NULL, &error);
  g_assert_cmpint (n, ==, 14);
  g_assert_cmpstr (buffer, ==, "250 a\r\n250 b\r\n");
}

/* RFC 3207 §4 / CVE-2011-0411: commands pipelined after STARTTLS in
 * plaintext are discarded, never executed after the handshake. */
static void
test_stream_starttls_pipelined_plaintext (StreamFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  gsize length;
  MailLineFlags flags;

  peer_send (f, "STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n", 40);
  g_assert_true (
      mail_stream_read_line (f->stream, &line, &length, &flags, NULL, &error));
  g_assert_cmpstr (line, ==, "STARTTLS");
  mail_stream_write_line (f->stream, "220 2.0.0 Ready to start TLS");
  g_assert_false (mail_stream_start_tls_server (f->stream, NULL, NULL, &error));
  g_assert_error (error, MAIL_LINE_ERROR,
                  MAIL_LINE_ERROR_PLAINTEXT_AFTER_STARTTLS);
  g_assert_cmpuint (mail_stream_get_pending (f->stream), ==, 0);
  g_assert_false (mail_stream_is_tls (f->stream));
}

typedef struct
{
  GSocketConnection *connection;
  const char *cert;
  GError *error;
  char *line;
} TlsPeer;

/* The client half of a STARTTLS exchange, in its own thread. */
static gpointer
tls_client_thread (gpointer data)
{
  TlsPeer *peer = data;
  g_autoptr (MailStream) stream =
      mail_stream_new (G_IO_STREAM (peer->connection), 512);
  gsize length;
  MailLineFlags flags;

  mail_stream_write_line (stream, "STARTTLS");
  if (mail_stream_read_line (stream, &peer->line, &length, &flags, NULL,
                             &peer->error) &&
      mail_stream_start_tls_client (stream, "localhost", peer->cert, FALSE,
                                    NULL, &peer->error))
    {
      mail_stream_write_line (stream, "EHLO over-tls");
      mail_stream_flush (stream, NULL, &peer->error);
    }
  return NULL;
}

static void
test_stream_starttls_handshake (StreamFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mw-line-XXXXXX", &error);
  g_autofree char *cert = g_build_filename (dir, "cert.pem", NULL);
  g_autofree char *key = g_build_filename (dir, "key.pem", NULL);
  const char *names[] = { "localhost", NULL };
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autofree char *line = NULL;
  TlsPeer peer = { f->client, cert, NULL, NULL };
  GThread *thread;
  gsize length;
  MailLineFlags flags;

  g_assert_true (mail_tls_write_self_signed (cert, key, names, 1, &error));
  certificate = mail_tls_load_certificate (cert, key, &error);
  g_assert_no_error (error);
  thread = g_thread_new ("tls-client", tls_client_thread, &peer);
  g_assert_true (
      mail_stream_read_line (f->stream, &line, &length, &flags, NULL, &error));
  g_assert_cmpstr (line, ==, "STARTTLS");
  mail_stream_write_line (f->stream, "220 go ahead");
  g_assert_true (
      mail_stream_start_tls_server (f->stream, certificate, NULL, &error));
  g_assert_true (mail_stream_is_tls (f->stream));
  g_clear_pointer (&line, g_free);
  g_assert_true (
      mail_stream_read_line (f->stream, &line, &length, &flags, NULL, &error));
  g_assert_cmpstr (line, ==, "EHLO over-tls");
  g_thread_join (thread);
  g_assert_no_error (peer.error);
  g_assert_cmpstr (peer.line, ==, "220 go ahead");
  g_free (peer.line);
  g_unlink (cert);
  g_unlink (key);
  g_rmdir (dir);
}

/* ---- closing without a reset ---------------------------------------- */

typedef struct
{
  GSocketListener *listener;
  gboolean graceful;
} CloseServer;

/* Accepts one connection, answers QUIT with 221 and closes. */
static gpointer
close_server_thread (gpointer data)
{
  CloseServer *server = data;
  g_autoptr (GSocketConnection) connection =
      g_socket_listener_accept (server->listener, NULL, NULL, NULL);
  g_autoptr (MailStream) stream =
      mail_stream_new (G_IO_STREAM (connection), 512);
  g_autofree char *line = NULL;
  gsize length;
  MailLineFlags flags;

  mail_stream_read_line (stream, &line, &length, &flags, NULL, NULL);
  mail_stream_write_line (stream, "221 bye");
  if (server->graceful)
    mail_stream_close (stream);
  else
    {
      mail_stream_flush (stream, NULL, NULL);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
    }
  return NULL;
}

/* After the 221 the client still sends (a TLS close_notify does). With
 * mail_stream_close () the server reads and drops it; after a plain close
 * the kernel answers with a reset, and the client's next send fails. */
static void
test_stream_close_without_reset (gconstpointer data)
{
  CloseServer server = { g_socket_listener_new (), GPOINTER_TO_INT (data) };
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GError) error = NULL;
  guint16 port =
      g_socket_listener_add_any_inet_port (server.listener, NULL, &error);
  GSocket *socket;
  GThread *thread;
  char buffer[64] = "";
  gssize n;

  g_assert_no_error (error);
  thread = g_thread_new ("close-server", close_server_thread, &server);
  connection =
      g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  socket = g_socket_connection_get_socket (connection);
  g_socket_send (socket, "QUIT\r\n", 6, NULL, &error);
  g_assert_no_error (error);
  n = g_socket_receive (socket, buffer, sizeof buffer - 1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 9);
  g_assert_cmpstr (buffer, ==, "221 bye\r\n");
  if (!server.graceful)
    g_thread_join (thread); /* closed: what follows meets a dead socket */
  g_socket_send (socket, "late\r\n", 6, NULL, &error);
  g_assert_no_error (error);
  g_socket_condition_timed_wait (socket, G_IO_IN, G_USEC_PER_SEC, NULL, NULL);
  g_socket_send (socket, "later\r\n", 7, NULL, &error);
  if (server.graceful)
    {
      g_assert_no_error (error);
      n = g_socket_receive (socket, buffer, sizeof buffer, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (n, ==, 0); /* the server's FIN: a clean end */
      g_socket_close (socket, NULL);
      g_thread_join (thread);
    }
  else
    g_assert_nonnull (error); /* EPIPE or ECONNRESET: the reset */
  g_object_unref (server.listener);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (framer_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/line/framer/case-%u", i);

      g_test_add_data_func (path, &framer_cases[i], test_framer_case);
    }
  g_test_add_func ("/line/framer/overlong-line-is-consumed-then-next-is-read",
                   test_framer_overlong_then_next);
  g_test_add_func ("/line/framer/nul-octets-are-kept-and-flagged",
                   test_framer_nul_kept);
  g_test_add_func ("/line/framer/view-gives-the-lines-take-gives",
                   test_framer_view_matches_take);
  for (guint i = 0; i < G_N_ELEMENTS (dot_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/line/dot/stuff-case-%u", i);

      g_test_add_data_func (path, &dot_cases[i], test_dot_stuff_case);
    }
  g_test_add_func ("/line/dot/unstuff-strips-one-dot-and-finds-end",
                   test_dot_unstuff);
  g_test_add_func ("/line/crlf/bare-lf-becomes-crlf", test_to_crlf);
  g_test_add ("/line/stream/lines-then-closed", StreamFixture, NULL,
              stream_setup, test_stream_lines_and_eof, stream_teardown);
  g_test_add ("/line/stream/literal-over-cap-refused-before-reading",
              StreamFixture, NULL, stream_setup, test_stream_literal_cap,
              stream_teardown);
  for (guint i = 0; i < G_N_ELEMENTS (dot_text_cases); i++)
    {
      g_autofree char *path =
          g_strdup_printf ("/line/stream/dot-text-case-%u", i);

      g_test_add (path, StreamFixture, &dot_text_cases[i], stream_setup,
                  test_stream_dot_text, stream_teardown);
    }
  g_test_add ("/line/stream/pipelined-replies-go-out-in-one-write",
              StreamFixture, NULL, stream_setup, test_stream_batches_replies,
              stream_teardown);
  g_test_add ("/line/stream/starttls-discards-pipelined-plaintext",
              StreamFixture, NULL, stream_setup,
              test_stream_starttls_pipelined_plaintext, stream_teardown);
  g_test_add ("/line/stream/starttls-handshake-then-lines-over-tls",
              StreamFixture, NULL, stream_setup, test_stream_starttls_handshake,
              stream_teardown);
  g_test_add_data_func ("/line/stream/close-drains-the-peer-no-reset",
                        GINT_TO_POINTER (TRUE),
                        test_stream_close_without_reset);
  /* the control: shows the reset that mail_stream_close () avoids */
  g_test_add_data_func ("/line/stream/plain-close-with-unread-data-resets",
                        GINT_TO_POINTER (FALSE),
                        test_stream_close_without_reset);
  return g_test_run ();
}
