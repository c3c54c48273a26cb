/* SPDX-License-Identifier: MIT
 * test-tracer.c: mw-trace end to end (suite "tracer").
 *   /tracer/crosscheck/<capture>  the reference captures of Postfix and
 *       Dovecot in tests/tracer/captures: per flow, the commands and
 *       replies mw-trace decodes equal tshark's, up to the known and
 *       RFC-justified differences listed in crosscheck.py
 *   /tracer/crosscheck/tls-<protocol>  the same for the TLS captures of
 *       mailwire's servers (tests/tracer/tls-*.pcap), mw-trace --keylog
 *       against tshark -o tls.keylog_file: with the same key log
 *   /tracer/golden/<case>  tests/tracer/<name>.pcap -> <name>.out, cases
 *       listed in cases.txt (tcpdump's own test style)
 *   /tracer/tls/keylogs-agree/<capture>  the key log the servers wrote
 *       (GnuTLS), the one the clients wrote (OpenSSL, GnuTLS) and both
 *       given together decrypt the same
 *   /tracer/tls/resegmented/{split,batch}  tls-smtp.pcap cut again by
 *       resegment.py, into 7-octet segments (records split across
 *       segments) or one segment per turn (several records per segment),
 *       decodes to the same lines
 *   /tracer/live/lo  a live capture on lo of an SMTP exchange (root only)
 *   /tracer/live/write-*  -w FILE holds the whole session: as soon as
 *       mw-trace has shown its end, and when mw-trace is stopped by SIGINT
 *       while it lags behind the traffic (root only)
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static char *
tracer_path (void)
{
  return g_build_filename (g_getenv ("MW_BUILD_ROOT"), "src", "tracer",
                           "mw-trace", NULL);
}

/* Runs @argv; returns stdout (transfer full), asserts exit status 0. */
static char *
run (const char *const *argv, char **out_stderr)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) process = NULL;
  char *out = NULL;

  process = g_subprocess_newv (
      argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
      &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, out_stderr, &error);
  g_assert_no_error (error);
  return out;
}

/* ---- cross-check against tshark ---------------------------------------- */

static void
test_crosscheck (gconstpointer data)
{
  const char *name = data;
  gboolean tls = g_str_has_prefix (name, "tls-");
  g_autofree char *captures = g_test_build_filename (
      G_TEST_DIST, "tracer", tls ? "." : "captures", NULL);
  g_autofree char *pcap = g_strdup_printf ("%s/%s.pcap", captures, name);
  g_autofree char *tsv = g_strdup_printf ("%s/%s.tsv", captures, name);
  g_autofree char *keylog =
      tls ? g_strdup_printf ("%s/%s.server.keylog", captures, name) : NULL;
  const char *kind = tls ? name + strlen ("tls-") : name;
  g_autofree char *script =
      g_test_build_filename (G_TEST_DIST, "tracer", "crosscheck.py", NULL);
  g_autofree char *tracer = tracer_path ();
  g_autofree char *err = NULL;
  g_autofree char *out = NULL;
  const char *protocol = g_str_has_prefix (kind, "smtp")   ? "smtp"
                         : g_str_has_prefix (kind, "pop3") ? "pop"
                                                           : "imap";
  const char *argv[] = {
    "python3", script, tracer, pcap, tsv, protocol, keylog /* or NULL */, NULL
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) process = NULL;

  if (!g_file_test (pcap, G_FILE_TEST_EXISTS) ||
      !g_file_test (tsv, G_FILE_TEST_EXISTS))
    {
      g_test_message ("the reference captures are missing: expected %s and "
                      "%s (tests/tracer/captures/ in the source tree)",
                      pcap, tsv);
      g_test_fail ();
      return;
    }
  process = g_subprocess_newv (
      argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE,
      &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_test_message ("%s", out);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
}

/* ---- golden outputs -------------------------------------------------------
 */

/* "--keylog=NAME" in cases.txt names a file beside the captures; a path
 * made for it is kept in @owned. */
static char *
keylog_beside (GPtrArray *owned, char *word)
{
  g_autofree char *path = NULL;
  char *option;

  if (!g_str_has_prefix (word, "--keylog="))
    return word;
  path = g_test_build_filename (G_TEST_DIST, "tracer",
                                word + strlen ("--keylog="), NULL);
  option = g_strconcat ("--keylog=", path, NULL);
  g_ptr_array_add (owned, option);
  return option;
}

static void
test_golden (gconstpointer data)
{
  /* "output-name [options...]" from cases.txt; the capture is the
   * output name up to its first "." (smtp-x.json -> smtp-x.pcap). */
  const char *line = data;
  g_auto (GStrv) words = g_strsplit (line, " ", -1);
  g_autofree char *capture = g_strndup (words[0], strcspn (words[0], "."));
  g_autofree char *base =
      g_test_build_filename (G_TEST_DIST, "tracer", capture, NULL);
  g_autofree char *pcap = g_strconcat (base, ".pcap", NULL);
  g_autofree char *output =
      g_test_build_filename (G_TEST_DIST, "tracer", words[0], NULL);
  g_autofree char *expected_path = g_strconcat (output, ".out", NULL);
  g_autofree char *expected = NULL;
  g_autofree char *tracer = tracer_path ();
  g_autofree char *out = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;

  if (!g_file_test (pcap, G_FILE_TEST_EXISTS))
    {
      g_free (pcap); /* the same capture in pcapng form */
      pcap = g_strconcat (base, ".pcapng", NULL);
    }
  g_ptr_array_add (argv, tracer);
  g_ptr_array_add (argv, "--color=never");
  g_ptr_array_add (argv, "-r");
  g_ptr_array_add (argv, pcap);
  for (guint i = 1; words[i] != NULL; i++)
    g_ptr_array_add (argv, keylog_beside (owned, words[i]));
  g_ptr_array_add (argv, NULL);
  out = run ((const char *const *) argv->pdata, NULL);
  g_file_get_contents (expected_path, &expected, NULL, &error);
  g_assert_no_error (error);
  if (g_strcmp0 (out, expected) != 0)
    g_test_message ("mw-trace output for %s:\n%s", line, out);
  g_assert_cmpstr (out, ==, expected);
}

/* ---- key logs ------------------------------------------------------------ */

/* mw-trace --json -r tests/tracer/@capture.pcap --keylog each of @keylogs
 * (names beside it) (transfer full). */
static char *
decrypt_with (const char *capture, const char *const *keylogs)
{
  g_autofree char *tracer = tracer_path ();
  g_autofree char *base =
      g_test_build_filename (G_TEST_DIST, "tracer", capture, NULL);
  g_autofree char *pcap = g_strconcat (base, ".pcap", NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (argv, g_strdup (tracer));
  g_ptr_array_add (argv, g_strdup ("--json"));
  g_ptr_array_add (argv, g_strdup ("-r"));
  g_ptr_array_add (argv, g_strdup (pcap));
  for (guint i = 0; keylogs[i] != NULL; i++)
    g_ptr_array_add (argv,
                     g_strdup_printf ("--keylog=%s.%s", base, keylogs[i]));
  g_ptr_array_add (argv, NULL);
  return run ((const char *const *) argv->pdata, NULL);
}

/* GnuTLS (the servers, mailwire's clients) and OpenSSL (curl, Python)
 * log the same secrets; several --keylog files are all read. */
static void
test_keylogs_agree (gconstpointer data)
{
  const char *capture = data;
  const char *const server[] = { "server.keylog", NULL };
  const char *const client[] = { "client.keylog", NULL };
  const char *const both[] = { "client.keylog", "server.keylog", NULL };
  g_autofree char *with_server = decrypt_with (capture, server);
  g_autofree char *with_client = decrypt_with (capture, client);
  g_autofree char *with_both = decrypt_with (capture, both);

  g_assert_nonnull (strstr (with_server, "\"tls.decrypted\":true"));
  g_assert_cmpstr (with_client, ==, with_server);
  g_assert_cmpstr (with_both, ==, with_server);
}

/* Every "dir ... line" of mw-trace's JSON events, in order, one a line
 * (transfer full): what was said, without frame numbers and times. */
static char *
said_lines (const char *json)
{
  g_autoptr (GRegex) regex = g_regex_new (
      "\"dir\":\"[^\"]*\",\"proto\":\"[a-z]*\",\"kind\":\"[a-z]*\","
      "\"line\":\"([^\"\\\\]|\\\\.)*\"",
      0, 0, NULL);
  g_autoptr (GMatchInfo) match = NULL;
  GString *lines = g_string_new (NULL);

  g_regex_match (regex, json, 0, &match);
  while (g_match_info_matches (match))
    {
      g_autofree char *line = g_match_info_fetch (match, 0);
      g_string_append_printf (lines, "%s\n", line);
      g_match_info_next (match, NULL);
    }
  return g_string_free (lines, FALSE);
}

/* RFC 8446 §5.1: records are a byte stream over TCP; how the octets were
 * cut into segments must not change what is decrypted. */
static void
test_resegmented (gconstpointer data)
{
  const char *how = data;
  g_autofree char *script =
      g_test_build_filename (G_TEST_DIST, "tracer", "resegment.py", NULL);
  g_autofree char *source =
      g_test_build_filename (G_TEST_DIST, "tracer", "tls-smtp.pcap", NULL);
  g_autofree char *keylog = g_test_build_filename (
      G_TEST_DIST, "tracer", "tls-smtp.server.keylog", NULL);
  g_autofree char *target = NULL;
  g_autofree char *tracer = tracer_path ();
  g_autoptr (GError) error = NULL;
  g_autofree char *made = NULL;
  g_autofree char *original = NULL;
  g_autofree char *cut = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *got = NULL;

  g_close (g_file_open_tmp ("tls-XXXXXX.pcap", &target, &error), NULL);
  g_assert_no_error (error);
  {
    const char *argv[] = { "python3", script, source, target, how, NULL };
    const char *original_argv[] = { tracer,     "--json", "-r", source,
                                    "--keylog", keylog,   NULL };
    const char *cut_argv[] = { tracer,     "--json", "-r", target,
                               "--keylog", keylog,   NULL };
    made = run (argv, NULL);
    original = run (original_argv, NULL);
    cut = run (cut_argv, NULL);
  }
  g_unlink (target);
  expected = said_lines (original);
  got = said_lines (cut);
  g_assert_nonnull (strstr (original, "\"tls.decrypted\":true"));
  g_assert_cmpuint (strlen (expected), >, 1000);
  g_assert_cmpstr (got, ==, expected);
}

/* ---- files read in place (trace-file.h) or by libpcap ---------------------
 */

/* A capture written again as pcapng by to-pcapng.py: with one interface
 * mw-trace reads it in place, with a second one described halfway it
 * stops there and libpcap reads the file, passing over the packets
 * decoded already. Either way the decoding is the original's, byte for
 * byte, whole and under -c (which counts the packets passed over too). */
static void
test_repacked (gconstpointer data)
{
  g_auto (GStrv) words = g_strsplit (data, " ", 2);
  g_autofree char *script =
      g_test_build_filename (G_TEST_DIST, "tracer", "to-pcapng.py", NULL);
  g_autofree char *name = g_strdup_printf ("%s.pcap", words[0]);
  g_autofree char *source =
      g_test_build_filename (G_TEST_DIST, "tracer", "captures", name, NULL);
  g_autofree char *tracer = tracer_path ();
  g_autofree char *target = NULL;
  g_autoptr (GError) error = NULL;

  g_close (g_file_open_tmp ("repacked-XXXXXX.pcapng", &target, &error), NULL);
  g_assert_no_error (error);
  {
    const char *argv[] = { "python3", script, source, target, words[1], NULL };
    g_free (run (argv, NULL));
  }
  for (guint i = 0; i < 2; i++)
    {
      const char *count = i == 0 ? "-1" : "100";
      const char *original_argv[] = { tracer, "--json", "-r", source,
                                      "-c",   count,    NULL };
      const char *repacked_argv[] = { tracer, "--json", "-r", target,
                                      "-c",   count,    NULL };
      g_autofree char *original = run (original_argv, NULL);
      g_autofree char *repacked = run (repacked_argv, NULL);

      g_assert_cmpuint (strlen (original), >, 1000);
      g_assert_cmpstr (repacked, ==, original);
    }
  g_unlink (target);
}

/* ---- live capture on lo ------------------------------------------------- */

/* A four-line SMTP server for one connection (runs in a thread). */
static gpointer
fake_smtp_server (gpointer data)
{
  GSocketListener *listener = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) connection =
      g_socket_listener_accept (listener, NULL, NULL, &error);
  g_autoptr (GDataInputStream) in = NULL;
  GOutputStream *out;
  static const char *const replies[] = { "250 live.test\r\n",
                                         "221 2.0.0 Bye\r\n" };

  g_assert_no_error (error);
  in = g_data_input_stream_new (
      g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  g_output_stream_write_all (out, "220 live.test ESMTP\r\n", 21, NULL, NULL,
                             &error);
  for (guint i = 0; i < G_N_ELEMENTS (replies) && error == NULL; i++)
    {
      g_autofree char *line =
          g_data_input_stream_read_line (in, NULL, NULL, &error);
      if (line == NULL)
        break;
      g_output_stream_write_all (out, replies[i], strlen (replies[i]), NULL,
                                 NULL, &error);
    }
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  return NULL;
}

static void
smtp_client (guint16 port)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) connection =
      g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_autoptr (GDataInputStream) in = NULL;
  GOutputStream *out;
  static const char *const commands[] = { "EHLO client.test\r\n", "QUIT\r\n" };

  g_assert_no_error (error);
  in = g_data_input_stream_new (
      g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  for (guint i = 0; i <= G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *line =
          g_data_input_stream_read_line (in, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (i < G_N_ELEMENTS (commands))
        g_output_stream_write_all (out, commands[i], strlen (commands[i]), NULL,
                                   NULL, &error);
    }
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
}

static void
test_live (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GDataInputStream) err = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autoptr (GString) json = g_string_new (NULL);
  g_autofree char *tracer = tracer_path ();
  g_autofree char *port_text = NULL;
  g_autofree char *ready = NULL;
  GThread *server;
  guint16 port;

  if (geteuid () != 0)
    {
      g_test_skip ("not root: a live capture on lo needs root (the "
                   "offline tests cover decoding)");
      return;
    }
  port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  g_assert_no_error (error);
  port_text = g_strdup_printf ("%u", port);
  process = g_subprocess_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
      tracer, "-i", "lo", "-p", port_text, "--json", "-c", "200", NULL);
  g_assert_no_error (error);
  err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (process));
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  ready = g_data_input_stream_read_line (err, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ready);
  g_assert_true (strstr (ready, "capturing") != NULL);
  server = g_thread_new ("fake-smtp", fake_smtp_server, listener);
  smtp_client (port);
  g_thread_join (server);
  /* The session ends with FIN both ways: mw-trace prints "close". */
  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *line =
          g_data_input_stream_read_line (out, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (line);
      g_string_append_printf (json, "%s\n", line);
      if (strstr (line, "\"kind\":\"close\"") != NULL)
        break;
    }
  g_subprocess_send_signal (process, SIGINT);
  g_subprocess_wait (process, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("%s", json->str);
  g_assert_true (strstr (json->str, "\"smtp.req.command\":\"EHLO\"") != NULL);
  g_assert_true (strstr (json->str, "\"smtp.response.code\":221") != NULL);
  g_assert_true (strstr (json->str, "\"mw.session\":\"push\"") != NULL);
}

/* ---- -w FILE: the packets saved ---------------------------------------- */

#define SESSION_TEXT_LINES 2000 /* with --body, far more than a pipe holds */

/* An SMTP server for one connection (runs in a thread): 354 to DATA, 250
 * to the text's ".", 221 to QUIT, 250 to anything else. */
static gpointer
session_server (gpointer data)
{
  GSocketListener *listener = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) connection =
      g_socket_listener_accept (listener, NULL, NULL, &error);
  g_autoptr (GDataInputStream) in = NULL;
  GOutputStream *out;
  gboolean in_text = FALSE;
  gboolean quit = FALSE;

  g_assert_no_error (error);
  in = g_data_input_stream_new (
      g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  g_output_stream_write_all (out, "220 w.test ESMTP\r\n", 18, NULL, NULL,
                             &error);
  while (error == NULL && !quit)
    {
      g_autofree char *line =
          g_data_input_stream_read_line (in, NULL, NULL, &error);
      const char *reply = "250 ok\r\n";
      if (line == NULL)
        break;
      g_strchomp (line);
      if (in_text && strcmp (line, ".") != 0)
        continue;
      if (!in_text && g_ascii_strcasecmp (line, "DATA") == 0)
        reply = "354 go ahead\r\n";
      quit = !in_text && g_ascii_strcasecmp (line, "QUIT") == 0;
      if (quit)
        reply = "221 2.0.0 Bye\r\n";
      in_text = strcmp (reply, "354 go ahead\r\n") == 0;
      g_output_stream_write_all (out, reply, strlen (reply), NULL, NULL,
                                 &error);
    }
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  return NULL;
}

/* One whole session to @port: a message of SESSION_TEXT_LINES lines, QUIT
 * and its 221, read to the server's close. */
static void
session_client (guint16 port)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) connection =
      g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GDataInputStream) in = NULL;
  GOutputStream *out;
  const char *commands[] = { "EHLO client.test\r\n",
                             "MAIL FROM:<a@w.test>\r\n",
                             "RCPT TO:<b@w.test>\r\n",
                             "DATA\r\n",
                             NULL,
                             "QUIT\r\n" };

  g_assert_no_error (error);
  for (guint i = 0; i < SESSION_TEXT_LINES; i++)
    g_string_append_printf (text, "line %u of a message long enough\r\n", i);
  g_string_append (text, ".\r\n");
  commands[4] = text->str; /* after the 354 */
  in = g_data_input_stream_new (
      g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  for (guint i = 0; i <= G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *line =
          g_data_input_stream_read_line (in, NULL, NULL, &error);
      const char *command = i < G_N_ELEMENTS (commands) ? commands[i] : NULL;
      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (command != NULL)
        g_output_stream_write_all (out, command, strlen (command), NULL, NULL,
                                   &error);
      g_assert_no_error (error);
    }
  g_assert_null (g_data_input_stream_read_line (in, NULL, NULL, &error));
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
}

/* mw-trace -i lo -p PORT -w @file ARGS...; returns when it captures. */
static GSubprocess *
start_writer (guint16 port, const char *file, const char *extra)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDataInputStream) err = NULL;
  g_autofree char *tracer = tracer_path ();
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  g_autofree char *ready = NULL;
  GSubprocess *process = g_subprocess_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
      tracer, "-i", "lo", "-p", port_text, "-w", file, "--json", extra, NULL);

  g_assert_no_error (error);
  err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (process));
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (err),
                                               FALSE);
  ready = g_data_input_stream_read_line (err, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ready);
  g_assert_true (strstr (ready, "capturing") != NULL);
  return process;
}

/* What mw-trace -r @file decodes holds the session to its QUIT and 221. */
static void
assert_saved_whole (const char *file)
{
  g_autofree char *tracer = tracer_path ();
  const char *argv[] = { tracer, "--json", "-r", file, NULL };
  g_autofree char *err = NULL;
  g_autofree char *json = run (argv, &err);

  g_test_message ("mw-trace -r %s: %s", file, err);
  g_assert_true (strstr (json, "\"smtp.req.command\":\"QUIT\"") != NULL);
  g_assert_true (strstr (json, "\"smtp.response.code\":221") != NULL);
  g_assert_true (strstr (json, "\"mw.answers\":\"QUIT\"") != NULL);
}

static gboolean
live_setup (GSocketListener *listener, guint16 *out_port, char **out_file)
{
  g_autoptr (GError) error = NULL;

  if (geteuid () != 0)
    {
      g_test_skip ("not root: a live capture on lo needs root");
      return FALSE;
    }
  *out_port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  g_assert_no_error (error);
  g_close (g_file_open_tmp ("test-tracer-XXXXXX.pcap", out_file, &error), NULL);
  g_assert_no_error (error);
  return TRUE;
}

/* A lab stops the capture when mw-trace has shown the last session's
 * end: by then the file must hold it, mw-trace still running. */
static void
test_write_at_close (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autofree char *file = NULL;
  gboolean closed = FALSE;
  GThread *server;
  guint16 port;

  if (!live_setup (listener, &port, &file))
    return;
  process = start_writer (port, file, NULL);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  server = g_thread_new ("session", session_server, listener);
  session_client (port);
  g_thread_join (server);
  for (guint i = 0; i < 200 && !closed; i++)
    {
      g_autofree char *line =
          g_data_input_stream_read_line (out, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (line);
      closed = strstr (line, "\"kind\":\"close\"") != NULL;
    }
  g_assert_true (closed);
  assert_saved_whole (file);
  g_subprocess_send_signal (process, SIGINT);
  g_subprocess_wait (process, NULL, &error);
  g_assert_no_error (error);
  g_unlink (file);
}

/* Stopped while it lags behind (its stdout not read: --body fills the
 * pipe and mw-trace waits on it), mw-trace still saves what libpcap had
 * buffered when SIGINT came. */
static void
test_write_at_sigint (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GSubprocess) process = NULL;
  g_autofree char *file = NULL;
  g_autofree char *json = NULL;
  GThread *server;
  guint16 port;

  if (!live_setup (listener, &port, &file))
    return;
  process = start_writer (port, file, "--body");
  server = g_thread_new ("session", session_server, listener);
  session_client (port);
  g_thread_join (server);
  g_subprocess_send_signal (process, SIGINT);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &json, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  assert_saved_whole (file);
  g_unlink (file);
}

int
main (int argc, char **argv)
{
  static const char *const captures[] = {
    "smtp-postfix", "pop3-dovecot", "imap-dovecot",  "tls-smtp",     "tls-pop3",
    "tls-imap",     "tls-lint",     "tls-smtp-mutt", "tls-imap-mutt"
  };
  g_autofree char *cases_path = NULL;
  g_autofree char *cases = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (captures); i++)
    {
      g_autofree char *path =
          g_strdup_printf ("/tracer/crosscheck/%s", captures[i]);
      g_test_add_data_func (path, captures[i], test_crosscheck);
    }
  cases_path = g_test_build_filename (G_TEST_DIST, "tracer", "cases.txt", NULL);
  g_file_get_contents (cases_path, &cases, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (cases, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *path = NULL;
      g_auto (GStrv) words = NULL;
      if (lines[i][0] == '\0' || lines[i][0] == '#')
        continue;
      words = g_strsplit (lines[i], " ", 2);
      path = g_strdup_printf ("/tracer/golden/%s", words[0]);
      g_test_add_data_func (path, lines[i], test_golden);
    }
  for (gsize i = 3; i < G_N_ELEMENTS (captures); i++)
    {
      g_autofree char *path =
          g_strdup_printf ("/tracer/tls/keylogs-agree/%s", captures[i]);
      g_test_add_data_func (path, captures[i], test_keylogs_agree);
    }
  g_test_add_data_func ("/tracer/tls/resegmented/split", "split",
                        test_resegmented);
  g_test_add_data_func ("/tracer/tls/resegmented/batch", "batch",
                        test_resegmented);
  for (gsize i = 0; i < 3; i++)
    for (guint how = 0; how < 2; how++)
      {
        const char *hows[] = { "plain", "second-interface" };
        char *spec = g_strdup_printf ("%s %s", captures[i], hows[how]);
        g_autofree char *path = g_strdup_printf ("/tracer/file/pcapng-%s/%s",
                                                 hows[how], captures[i]);
        /* the spec lives as long as the test run */
        g_test_add_data_func_full (path, spec, test_repacked, g_free);
      }
  g_test_add_func ("/tracer/live/lo", test_live);
  g_test_add_func ("/tracer/live/write-file-whole-at-close",
                   test_write_at_close);
  g_test_add_func ("/tracer/live/write-file-whole-after-sigint",
                   test_write_at_sigint);
  return g_test_run ();
}
