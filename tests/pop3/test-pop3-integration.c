/* SPDX-License-Identifier: MIT
 * test-pop3-integration.c: mw-pop3d and mw-pop3 as real processes on
 * loopback (RFC 1939): byte-exact download, --keep without duplicates,
 * a killed client deletes nothing (§6), the maildrop lock ([IN-USE],
 * RFC 2449 §8.1.2), and mail that arrives during a session (§5).
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "mail-line.h"
#include "mail-net.h"
#include "mail-store.h"
#include "mw-harness.h"

typedef struct
{
  MwHarness *harness;
  char *maildir; /* bob's, on the server */
  char *out;     /* a local destination under the harness dir */
  guint16 port;
} Fixture;

static const char *const messages[] = {
  "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: first\r\n"
  "\r\nHello Bob.\r\n.\r\n.. two dots\r\nFrom the start of a line\r\n",
  "From: alice@example.test\r\nSubject: second\r\n\r\n"
  "caf\xc3\xa9 8-bit text\r\n\r\n\r\ntrailing blank lines\r\n\r\n",
  "Subject: third\r\n\r\n\r\n",
};

static void
deliver (Fixture *f, const char *text)
{
  mw_harness_deliver (f->harness, "bob", text);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->harness = mw_harness_new (NULL);
  f->maildir = mw_harness_maildir (f->harness, "bob");
  f->out = g_build_filename (mw_harness_dir (f->harness), "bob-laptop", NULL);
  mw_harness_start (f->harness, "mw-pop3d", NULL);
  f->port = mw_harness_port (f->harness, "pop3");
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    deliver (f, messages[i]);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_free (f->out);
  g_free (f->maildir);
  mw_harness_free (f->harness);
}

/* Runs mw-pop3 for bob with @extra options (NULL-terminated list of at
 * most 8); returns the exit status. */
static int
run_pop3 (Fixture *f, const char *const *extra, char **out_stderr)
{
  g_autofree char *server = g_strdup_printf ("127.0.0.1:%u", f->port);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *output = NULL;
  g_autofree char *errors = NULL;
  int status = 0;
  const char *base[] = { "mw-pop3", "--server",   server,      "--user",
                         "bob",     "--password", "bob-secret" };

  for (guint i = 0; i < G_N_ELEMENTS (base); i++)
    g_ptr_array_add (argv, (gpointer) base[i]);
  for (guint i = 0; extra[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) extra[i]);
  g_ptr_array_add (argv, NULL);
  status = mw_harness_run (f->harness, (const char *const *) argv->pdata, NULL,
                           &output, &errors);
  g_test_message ("mw-pop3 exit %d\n%s%s", status, output, errors);
  if (out_stderr != NULL)
    *out_stderr = g_steal_pointer (&errors);
  return status;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The contents of every message file of the Maildir @root, sorted. */
static GPtrArray *
read_maildir (const char *root)
{
  GPtrArray *contents = g_ptr_array_new_with_free_func (g_free);
  const char *subdirs[] = { "new", "cur" };

  for (guint s = 0; s < G_N_ELEMENTS (subdirs); s++)
    {
      g_autofree char *path = g_build_filename (root, subdirs[s], NULL);
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name = NULL;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *file = g_build_filename (path, name, NULL);
          char *text = NULL;

          g_assert_true (g_file_get_contents (file, &text, NULL, NULL));
          g_ptr_array_add (contents, text);
        }
    }
  g_ptr_array_sort (contents, compare_strings);
  return contents;
}

static void
assert_same_messages (GPtrArray *got, GPtrArray *expected)
{
  g_assert_cmpuint (got->len, ==, expected->len);
  for (guint i = 0; i < got->len; i++)
    g_assert_cmpstr (g_ptr_array_index (got, i), ==,
                     g_ptr_array_index (expected, i));
}

/* ---- a raw POP3 session (what a crashing client leaves behind) ------ */

static MailStream *
raw_connect (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  MailStream *stream = mail_net_connect ("127.0.0.1", f->port, FALSE, NULL,
                                         FALSE, 4096, 30, NULL, &error);
  g_autofree char *greeting = NULL;
  gsize length = 0;
  MailLineFlags flags = 0;

  g_assert_no_error (error);
  g_assert_true (
      mail_stream_read_line (stream, &greeting, &length, &flags, NULL, &error));
  g_assert_true (g_str_has_prefix (greeting, "+OK"));
  return stream;
}

static char *
raw_command (MailStream *stream, const char *line)
{
  g_autoptr (GError) error = NULL;
  char *reply = NULL;
  gsize length = 0;
  MailLineFlags flags = 0;

  mail_stream_write_line (stream, line);
  g_assert_true (
      mail_stream_read_line (stream, &reply, &length, &flags, NULL, &error));
  g_assert_no_error (error);
  return reply;
}

static void
raw_expect (MailStream *stream, const char *line, const char *prefix)
{
  g_autofree char *reply = raw_command (stream, line);

  g_test_message ("C: %s  S: %s", line, reply);
  g_assert_true (g_str_has_prefix (reply, prefix));
}

static void
raw_login (MailStream *stream)
{
  raw_expect (stream, "USER bob", "+OK");
  raw_expect (stream, "PASS bob-secret", "+OK");
}

/* ---- tests ---------------------------------------------------------- */

/* What RETR sends, un-stuffed, is what was delivered, byte for byte; by
 * default the server copy goes once it is safe locally (RFC 1939 §6). */
static void
test_download_byte_exact (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) expected = read_maildir (f->maildir);
  g_autoptr (GPtrArray) got = NULL;
  g_autoptr (GPtrArray) left = NULL;
  const char *extra[] = { "--maildir", f->out, NULL };

  g_assert_cmpuint (expected->len, ==, G_N_ELEMENTS (messages));
  g_assert_cmpint (run_pop3 (f, extra, NULL), ==, 0);
  got = read_maildir (f->out);
  assert_same_messages (got, expected);
  left = read_maildir (f->maildir);
  g_assert_cmpuint (left->len, ==, 0);
}

/* --keep twice: the second run downloads nothing, the server keeps all;
 * a later run without --keep deletes them without downloading again. */
static void
test_keep_twice (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) expected = read_maildir (f->maildir);
  g_autoptr (GPtrArray) got = NULL;
  g_autoptr (GPtrArray) left = NULL;
  g_autofree char *errors = NULL;
  const char *keep[] = { "--maildir", f->out, "--keep", NULL };
  const char *flush[] = { "--maildir", f->out, NULL };

  g_assert_cmpint (run_pop3 (f, keep, NULL), ==, 0);
  g_assert_cmpint (run_pop3 (f, keep, &errors), ==, 0);
  g_assert_nonnull (strstr (errors, "0 downloaded"));
  got = read_maildir (f->out);
  assert_same_messages (got, expected);
  left = read_maildir (f->maildir);
  assert_same_messages (left, expected);

  g_clear_pointer (&errors, g_free);
  g_assert_cmpint (run_pop3 (f, flush, &errors), ==, 0);
  g_assert_nonnull (strstr (errors, "0 downloaded, 3 deleted"));
  g_clear_pointer (&got, g_ptr_array_unref);
  got = read_maildir (f->out);
  assert_same_messages (got, expected);
  g_clear_pointer (&left, g_ptr_array_unref);
  left = read_maildir (f->maildir);
  g_assert_cmpuint (left->len, ==, 0);
}

/* A client killed with SIGKILL after RETR and DELE, before QUIT:
 * RFC 1939 §6, nothing is deleted. */
static void
test_killed_client_deletes_nothing (Fixture *f, gconstpointer data)
{
  g_autofree char *script = g_strdup_printf (
      "import socket, sys, time\n"
      "s = socket.create_connection(('127.0.0.1', %u))\n"
      "f = s.makefile('rwb')\n"
      "def cmd(c):\n"
      "    f.write(c + b'\\r\\n'); f.flush(); return f.readline()\n"
      "f.readline()\n"
      "assert cmd(b'USER bob').startswith(b'+OK')\n"
      "assert cmd(b'PASS bob-secret').startswith(b'+OK')\n"
      "assert cmd(b'RETR 1').startswith(b'+OK')\n"
      "while f.readline() != b'.\\r\\n': pass\n"
      "assert cmd(b'DELE 1').startswith(b'+OK')\n"
      "assert cmd(b'DELE 2').startswith(b'+OK')\n"
      "print('ready', flush=True)\n"
      "time.sleep(60)\n",
      f->port);
  const char *argv[] = { "python3", "-c", script, NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) client =
      g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_autoptr (GDataInputStream) output = NULL;
  g_autofree char *ready = NULL;
  g_autoptr (MailStream) stream = NULL;

  g_assert_no_error (error);
  output = g_data_input_stream_new (g_subprocess_get_stdout_pipe (client));
  ready = g_data_input_stream_read_line (output, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ready, ==, "ready");
  g_subprocess_send_signal (client, SIGKILL);
  g_subprocess_wait (client, NULL, &error);
  g_assert_no_error (error);

  /* the server sees the connection drop and lets the maildrop go; the
   * next session proves both that and that nothing was deleted */
  stream = raw_connect (f);
  raw_expect (stream, "USER bob", "+OK");
  for (guint tries = 0; tries < 50; tries++)
    {
      g_autofree char *reply = raw_command (stream, "PASS bob-secret");

      if (!g_str_has_prefix (reply, "-ERR [IN-USE]"))
        {
          g_assert_true (g_str_has_prefix (reply, "+OK bob has 3 messages"));
          break;
        }
      g_usleep (100 * 1000); /* the server thread has not seen EOF yet */
      raw_expect (stream, "USER bob", "+OK");
    }
  raw_expect (stream, "QUIT", "+OK");
  {
    g_autoptr (GPtrArray) left = read_maildir (f->maildir);
    g_assert_cmpuint (left->len, ==, 3);
  }
}

/* RFC 2449 §8.1.2: while one session holds the maildrop, mw-pop3 is
 * refused with [IN-USE] and says so. */
static void
test_second_session_in_use (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) first = raw_connect (f);
  g_autofree char *errors = NULL;
  const char *extra[] = { "--maildir", f->out, NULL };

  raw_login (first);
  g_assert_cmpint (run_pop3 (f, extra, &errors), ==, 1);
  g_assert_nonnull (strstr (errors, "[IN-USE]"));
  raw_expect (first, "QUIT", "+OK");
  {
    g_autoptr (GPtrArray) left = read_maildir (f->maildir);
    g_assert_cmpuint (left->len, ==, 3);
  }
}

/* RFC 1939 §5: numbering is fixed for the session; a message delivered
 * meanwhile is listed by the next session. */
static void
test_mail_during_session (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) first = raw_connect (f);
  g_autoptr (MailStream) next = NULL;

  raw_login (first);
  deliver (f, "Subject: late\r\n\r\narrived during the session\r\n");
  raw_expect (first, "STAT", "+OK 3 ");
  raw_expect (first, "LIST 4", "-ERR");
  raw_expect (first, "QUIT", "+OK");
  next = raw_connect (f);
  raw_login (next);
  raw_expect (next, "STAT", "+OK 4 ");
  raw_expect (next, "QUIT", "+OK");
}

/* mboxrd output: a From_ line per message, ">From " quoting, LF ends. */
static void
test_mbox (Fixture *f, gconstpointer data)
{
  g_autofree char *mbox =
      g_build_filename (mw_harness_dir (f->harness), "bob.mbox", NULL);
  g_autofree char *text = NULL;
  const char *extra[] = { "--mbox", mbox, "--auth", "login", NULL };
  g_auto (GStrv) separators = NULL;

  g_assert_cmpint (run_pop3 (f, extra, NULL), ==, 0);
  g_assert_true (g_file_get_contents (mbox, &text, NULL, NULL));
  g_assert_null (strchr (text, '\r'));
  g_assert_true (g_str_has_prefix (text, "From "));
  g_assert_nonnull (strstr (text, "\n>From the start of a line\n"));
  g_assert_nonnull (strstr (text, "\n.. two dots\n"));
  separators = g_regex_split_simple ("\n\nFrom ", text, 0, 0);
  g_assert_cmpuint (g_strv_length (separators), ==, 3);
}

/* --list shows headers via TOP; --trace annotates from the catalog;
 * STLS and implicit TLS with the harness certificate. */
static void
test_list_trace_tls (Fixture *f, gconstpointer data)
{
  g_autofree char *server =
      g_strdup_printf ("127.0.0.1:%u", mw_harness_port (f->harness, "pop3s"));
  g_autofree char *output = NULL;
  g_autoptr (GPtrArray) left = NULL;
  const char *stls[] = { "mw-pop3",    "--server", server,
                         "--tls",      "--cafile", mw_harness_cert (f->harness),
                         "--user",     "bob",      "--password",
                         "bob-secret", "--list",   "--trace",
                         NULL };
  const char *extra[] = { "--stls",    "--cafile", mw_harness_cert (f->harness),
                          "--maildir", f->out,     "--keep",
                          NULL };

  g_assert_cmpint (mw_harness_run (f->harness, stls, NULL, &output, NULL), ==,
                   0);
  g_test_message ("%s", output);
  g_assert_nonnull (strstr (output, "first"));
  g_assert_nonnull (strstr (output, "second"));
  g_assert_nonnull (strstr (output, "C: TOP 1 0   ; asks for the header"));
  g_assert_nonnull (strstr (output, "(RFC 1939 §7)"));
  g_assert_nonnull (strstr (output, "C: AUTH PLAIN ***"));
  g_assert_null (strstr (output, "bob-secret"));
  g_assert_cmpint (run_pop3 (f, extra, NULL), ==, 0);
  left = read_maildir (f->out);
  g_assert_cmpuint (left->len, ==, 3);
}

/* The path of the issue: mw-send pushes to mw-smtpd, mw-pop3 pulls. */
static void
test_send_then_download (Fixture *f, gconstpointer data)
{
  g_autofree char *smtp = NULL;
  g_autoptr (GPtrArray) before = NULL;
  g_autoptr (GPtrArray) got = NULL;
  const char *extra[] = { "--maildir", f->out, NULL };
  g_autofree char *smtpd = mw_harness_program ("mw-smtpd");
  g_autofree char *send = mw_harness_program ("mw-send");

  /* the build always makes both: no reason to skip */
  g_assert_nonnull (smtpd);
  g_assert_nonnull (send);
  mw_harness_start (f->harness, "mw-smtpd", NULL);
  smtp = g_strdup_printf ("127.0.0.1:%u", mw_harness_port (f->harness, "smtp"));
  {
    const char *send[] = { "mw-send",
                           "--server",
                           smtp,
                           "--from",
                           "alice@example.test",
                           "--to",
                           "bob@example.test",
                           "--subject",
                           "pushed",
                           "--body",
                           ".leading dot\nFrom here\n",
                           NULL };
    g_assert_cmpint (mw_harness_run (f->harness, send, NULL, NULL, NULL), ==,
                     0);
  }
  before = read_maildir (f->maildir);
  g_assert_cmpuint (before->len, ==, 4);
  g_assert_cmpint (run_pop3 (f, extra, NULL), ==, 0);
  got = read_maildir (f->out);
  assert_same_messages (got, before);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func)                                                        \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/pop3/integration/download-is-byte-exact-and-deletes",
       test_download_byte_exact);
  ADD ("/pop3/integration/keep-twice-downloads-once-and-server-keeps",
       test_keep_twice);
  ADD ("/pop3/integration/killed-client-deletes-nothing",
       test_killed_client_deletes_nothing);
  ADD ("/pop3/integration/second-session-is-in-use",
       test_second_session_in_use);
  ADD ("/pop3/integration/mail-during-session-shows-next-time",
       test_mail_during_session);
  ADD ("/pop3/integration/mbox-is-mboxrd", test_mbox);
  ADD ("/pop3/integration/list-trace-stls-and-implicit-tls",
       test_list_trace_tls);
  ADD ("/pop3/integration/mw-send-then-mw-pop3-byte-exact",
       test_send_then_download);
#undef ADD
  return g_test_run ();
}
