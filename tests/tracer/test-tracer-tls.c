/* SPDX-License-Identifier: MIT
 * test-tracer-tls.c: key logs end to end (suite "tracer", issue 12).
 *   /tracer/tls/keylog/smtpd-and-mw-send  mw-smtpd's tls_keylog and
 *       mw-send --keylog both log the session's secrets, the same lines
 *   /tracer/tls/keylog/pop3-and-imap-clients  mw-pop3 --keylog (implicit
 *       TLS) and mw-imap --keylog (STARTTLS) log theirs
 *   /tracer/tls/keylog/bad-path  a key log that cannot be written is a
 *       usage error, said at start
 *   /tracer/live/keylog  mw-trace -i lo --keylog FILE decrypts a STARTTLS
 *       session whose secrets mw-smtpd writes to FILE while mw-trace runs
 *       (the file read again as it grows; root only)
 */
#include <gio/gio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mw-harness.h"

/* The lines of @path, asserting that it has some (transfer full). */
static GStrv
read_lines (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (text, !=, "");
  return g_strsplit (g_strchomp (text), "\n", -1);
}

/* RFC 8446 §7.1: a TLS 1.3 session logs its application secrets. */
static void
assert_traffic_secrets (GStrv lines)
{
  gboolean client = FALSE;
  gboolean server = FALSE;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      client |= g_str_has_prefix (lines[i], "CLIENT_TRAFFIC_SECRET_0 ");
      server |= g_str_has_prefix (lines[i], "SERVER_TRAFFIC_SECRET_0 ");
    }
  g_assert_true (client);
  g_assert_true (server);
}

static char *
send_over_tls (MwHarness *harness, const char *keylog)
{
  g_autofree char *port =
      g_strdup_printf ("127.0.0.1:%u", mw_harness_port (harness, "submission"));
  const char *argv[] = { "mw-send",    "--server",
                         port,         "--starttls",
                         "--cafile",   mw_harness_cert (harness),
                         "--user",     "alice",
                         "--password", "alice-secret",
                         "--from",     "alice@" MW_HARNESS_DOMAIN,
                         "--to",       "bob@" MW_HARNESS_DOMAIN,
                         "--subject",  "over TLS",
                         "--body",     "Hello.",
                         "--keylog",   keylog,
                         NULL };
  g_autofree char *err = NULL;
  int status = mw_harness_run (harness, argv, NULL, NULL, &err);

  g_test_message ("mw-send: %s", err);
  g_assert_cmpint (status, ==, 0);
  return g_strdup (keylog);
}

static void
test_smtpd_and_mw_send (void)
{
  g_autoptr (MwHarness) harness =
      mw_harness_new ("[general]\ntls_keylog = server.keylog\n");
  g_autofree char *server_log =
      g_build_filename (mw_harness_dir (harness), "server.keylog", NULL);
  g_autofree char *client_log =
      g_build_filename (mw_harness_dir (harness), "client.keylog", NULL);
  g_auto (GStrv) server = NULL;
  g_auto (GStrv) client = NULL;

  mw_harness_start (harness, "mw-smtpd", NULL);
  g_free (send_over_tls (harness, client_log));
  server = read_lines (server_log);
  client = read_lines (client_log);
  assert_traffic_secrets (client);
  /* both ends derive the same secrets for the same ClientHello.random */
  for (guint i = 0; client[i] != NULL; i++)
    g_assert_true (g_strv_contains ((const char *const *) server, client[i]));
}

static void
test_pop3_and_imap_clients (void)
{
  g_autoptr (MwHarness) harness = mw_harness_new (NULL);
  g_autofree char *pop3_log =
      g_build_filename (mw_harness_dir (harness), "pop3.keylog", NULL);
  g_autofree char *imap_log =
      g_build_filename (mw_harness_dir (harness), "imap.keylog", NULL);
  g_autofree char *pop3s = NULL;
  g_autofree char *imap = NULL;
  g_auto (GStrv) pop3_lines = NULL;
  g_auto (GStrv) imap_lines = NULL;

  mw_harness_start (harness, "mw-pop3d", NULL);
  mw_harness_start (harness, "mw-imapd", NULL);
  pop3s = g_strdup_printf ("127.0.0.1:%u", mw_harness_port (harness, "pop3s"));
  imap = g_strdup_printf ("127.0.0.1:%u", mw_harness_port (harness, "imap"));
  {
    const char *pop3[] = { "mw-pop3",    "--server", pop3s,
                           "--tls",      "--cafile", mw_harness_cert (harness),
                           "--user",     "bob",      "--password",
                           "bob-secret", "--list",   "--keylog",
                           pop3_log,     NULL };
    const char *imap_argv[] = { "mw-imap",    "--server",
                                imap,         "--starttls",
                                "--cafile",   mw_harness_cert (harness),
                                "--user",     "bob",
                                "--password", "bob-secret",
                                "--keylog",   imap_log,
                                "list",       NULL };
    g_assert_cmpint (mw_harness_run (harness, pop3, NULL, NULL, NULL), ==, 0);
    g_assert_cmpint (mw_harness_run (harness, imap_argv, NULL, NULL, NULL), ==,
                     0);
  }
  pop3_lines = read_lines (pop3_log);
  imap_lines = read_lines (imap_log);
  assert_traffic_secrets (pop3_lines);
  assert_traffic_secrets (imap_lines);
}

/* The server's key log holds every secret the client's does: both ends
 * derive the same secrets for the same ClientHello.random. */
static void
assert_same_secrets (const char *server_log, const char *client_log)
{
  g_auto (GStrv) server = read_lines (server_log);
  g_auto (GStrv) client = read_lines (client_log);

  assert_traffic_secrets (server);
  for (guint i = 0; client[i] != NULL; i++)
    g_assert_true (g_strv_contains ((const char *const *) server, client[i]));
}

/* mw-pop3d takes tls_keylog from the configuration, mw-imapd --keylog
 * (mail_server_main ()): each logs the secrets its client logged. */
static void
test_pop3d_and_imapd (void)
{
  g_autoptr (MwHarness) harness =
      mw_harness_new ("[general]\ntls_keylog = pop3d.keylog\n");
  g_autofree char *pop3d_log =
      g_build_filename (mw_harness_dir (harness), "pop3d.keylog", NULL);
  g_autofree char *imapd_log =
      g_build_filename (mw_harness_dir (harness), "imapd.keylog", NULL);
  g_autofree char *pop3_log =
      g_build_filename (mw_harness_dir (harness), "pop3.keylog", NULL);
  g_autofree char *imap_log =
      g_build_filename (mw_harness_dir (harness), "imap.keylog", NULL);
  g_autofree char *pop3s = NULL;
  g_autofree char *imaps = NULL;

  mw_harness_start (harness, "mw-pop3d", NULL);
  mw_harness_start (harness, "mw-imapd", "--keylog", imapd_log, NULL);
  pop3s = g_strdup_printf ("127.0.0.1:%u", mw_harness_port (harness, "pop3s"));
  imaps = g_strdup_printf ("127.0.0.1:%u", mw_harness_port (harness, "imaps"));
  {
    const char *pop3[] = { "mw-pop3",    "--server", pop3s,
                           "--tls",      "--cafile", mw_harness_cert (harness),
                           "--user",     "bob",      "--password",
                           "bob-secret", "--list",   "--keylog",
                           pop3_log,     NULL };
    const char *imap[] = { "mw-imap",    "--server", imaps,
                           "--tls",      "--cafile", mw_harness_cert (harness),
                           "--user",     "bob",      "--password",
                           "bob-secret", "--keylog", imap_log,
                           "list",       NULL };
    g_assert_cmpint (mw_harness_run (harness, pop3, NULL, NULL, NULL), ==, 0);
    g_assert_cmpint (mw_harness_run (harness, imap, NULL, NULL, NULL), ==, 0);
  }
  assert_same_secrets (pop3d_log, pop3_log);
  assert_same_secrets (imapd_log, imap_log);
}

static void
test_bad_path (void)
{
  g_autoptr (MwHarness) harness = mw_harness_new (NULL);
  const char *argv[] = { "mw-send",
                         "--from",
                         "a@" MW_HARNESS_DOMAIN,
                         "--to",
                         "b@" MW_HARNESS_DOMAIN,
                         "--body",
                         "x",
                         "--keylog",
                         "/nonexistent/dir/keys.log",
                         NULL };
  g_autofree char *err = NULL;

  /* 1: usage (mw-send --help), before any connection */
  g_assert_cmpint (mw_harness_run (harness, argv, NULL, NULL, &err), ==, 1);
  g_assert_nonnull (strstr (err, "key log /nonexistent/dir/keys.log"));
}

/* mw-trace -i lo -p @port --json --keylog @keylog, once it captures. */
static GSubprocess *
start_tracer (guint16 port, const char *keylog)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDataInputStream) err = NULL;
  g_autofree char *tracer = mw_harness_program ("mw-trace");
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  g_autofree char *ready = NULL;
  GSubprocess *process = g_subprocess_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
      tracer, "-i", "lo", "-p", port_text, "--json", "--keylog", keylog, NULL);

  g_assert_no_error (error);
  err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (process));
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (err),
                                               FALSE);
  ready = g_data_input_stream_read_line (err, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ready);
  g_assert_nonnull (strstr (ready, "capturing"));
  return process;
}

static void
test_live_keylog (void)
{
  g_autoptr (MwHarness) harness = NULL;
  g_autoptr (GSubprocess) tracer = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autoptr (GString) json = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *server_log = NULL;
  g_autofree char *client_log = NULL;
  gboolean closed = FALSE;

  if (geteuid () != 0)
    {
      g_test_skip ("not root: a live capture on lo needs root (the golden "
                   "TLS captures cover decryption)");
      return;
    }
  harness = mw_harness_new (NULL);
  server_log = g_build_filename (mw_harness_dir (harness), "k.log", NULL);
  client_log = g_build_filename (mw_harness_dir (harness), "c.log", NULL);
  /* mw-smtpd makes the file, empty: its lines come with the session */
  mw_harness_start (harness, "mw-smtpd", "--keylog", server_log, NULL);
  tracer = start_tracer (mw_harness_port (harness, "submission"), server_log);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (tracer));
  g_free (send_over_tls (harness, client_log));
  for (guint i = 0; i < 1000 && !closed; i++)
    {
      g_autofree char *line =
          g_data_input_stream_read_line (out, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (line);
      g_string_append_printf (json, "%s\n", line);
      closed = strstr (line, "\"kind\":\"close\"") != NULL;
    }
  g_subprocess_send_signal (tracer, SIGINT);
  g_subprocess_wait (tracer, NULL, &error);
  g_assert_no_error (error);
  g_test_message ("%s", json->str);
  g_assert_true (closed);
  g_assert_nonnull (strstr (json->str, "\"smtp.req.command\":\"MAIL\","
                                       "\"smtp.req.parameter\":\"FROM:"));
  g_assert_nonnull (strstr (json->str, "\"smtp.response.code\":235"));
  g_assert_nonnull (strstr (json->str, "\"tls.decrypted\":true"));
  g_assert_null (strstr (json->str, "\"tls.error\""));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tracer/tls/keylog/smtpd-and-mw-send",
                   test_smtpd_and_mw_send);
  g_test_add_func ("/tracer/tls/keylog/pop3-and-imap-clients",
                   test_pop3_and_imap_clients);
  g_test_add_func ("/tracer/tls/keylog/pop3d-and-imapd", test_pop3d_and_imapd);
  g_test_add_func ("/tracer/tls/keylog/bad-path", test_bad_path);
  g_test_add_func ("/tracer/live/keylog", test_live_keylog);
  return g_test_run ();
}
