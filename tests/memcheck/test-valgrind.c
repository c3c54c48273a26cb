/* SPDX-License-Identifier: MIT
 * test-valgrind.c: each server under valgrind's memcheck for a whole
 * session of real clients, clear text and TLS, with the error paths a
 * client that vanishes takes: no invalid read or write, no use of an
 * uninitialised value, and no memory definitely or indirectly lost when
 * the server stops (DEVELOPERS.md: "valgrind finds no leaks in a server
 * session"). AddressSanitizer checks the same under ./run test --sanitize
 * (where this program is not built: valgrind cannot run ASan binaries).
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mw-harness.h"

typedef struct
{
  MwHarness *harness;
  char *log;
  GPid pid;
} Memcheck;

/* Starts @program under memcheck, its report going to a file. */
static void
memcheck_start (Memcheck *m, const char *program)
{
  g_autofree char *log_option = NULL;

  m->harness = mw_harness_new (NULL);
  m->log = g_build_filename (mw_harness_dir (m->harness), "valgrind.log", NULL);
  log_option = g_strdup_printf ("--log-file=%s", m->log);
  {
    /* possibly lost and still reachable blocks are GLib's and GnuTLS's
     * caches, alive until exit: not leaks */
    const char *const wrapper[] = { "valgrind",
                                    "--leak-check=full",
                                    "--show-leak-kinds=definite,indirect",
                                    "--errors-for-leak-kinds=definite,indirect",
                                    "--num-callers=30",
                                    log_option,
                                    NULL };

    mw_harness_set_wrapper (m->harness, wrapper);
  }
  /* GLib 2.74's slice allocator would hide leaks from valgrind */
  g_setenv ("G_SLICE", "always-malloc", TRUE);
  m->pid = mw_harness_start (m->harness, program, NULL);
}

/* Stops the server (SIGTERM: its orderly shutdown) and asserts that
 * valgrind's report counts no error, leaks included. */
static void
memcheck_stop_and_check (Memcheck *m)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *report = NULL;

  mw_harness_signal (m->harness, m->pid, SIGTERM);
  g_assert_true (g_file_get_contents (m->log, &report, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("%s", report);
  /* the summary is there only if memcheck saw the process end */
  g_assert_nonnull (strstr (report, "HEAP SUMMARY"));
  g_assert_nonnull (strstr (report, "ERROR SUMMARY: 0 errors"));
  mw_harness_free (m->harness);
  g_free (m->log);
}

/* Runs a client to its end; asserts its exit status. */
static void
client (Memcheck *m, int status, const char *const *argv)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  int got = mw_harness_run (m->harness, argv, NULL, &out, &err);

  if (got != status)
    {
      g_autofree char *line = g_strjoinv (" ", (char **) argv);

      g_test_message ("%s: exit %d\n%s%s", line, got, out, err);
    }
  g_assert_cmpint (got, ==, status);
}

static char *
server_of (Memcheck *m, const char *label)
{
  return g_strdup_printf ("localhost:%u", mw_harness_port (m->harness, label));
}

/* Connects, reads the greeting (not on an implicit TLS port, where the
 * client speaks first), says @text and goes away without a goodbye. */
static void
vanish_after (Memcheck *m, const char *label, const char *text)
{
  int fd = mw_harness_raw_connect (mw_harness_port (m->harness, label));

  if (!g_str_has_suffix (label, "s"))
    g_free (mw_harness_raw_first_line (fd));
  g_assert_cmpint (write (fd, text, strlen (text)), ==, (gssize) strlen (text));
  g_usleep (G_USEC_PER_SEC / 2);
  close (fd);
}

static void
test_smtpd (void)
{
  Memcheck m = { 0 };
  g_autofree char *smtp = NULL;
  g_autofree char *submission = NULL;
  g_autofree char *smtps = NULL;

  memcheck_start (&m, "mw-smtpd");
  smtp = server_of (&m, "smtp");
  submission = server_of (&m, "submission");
  smtps = server_of (&m, "smtps");
  {
    const char *const to_bob[] = {
      "mw-send", "--server",         smtp,     "--from", "alice@example.test",
      "--to",    "bob@example.test", "--body", "one",    NULL
    };
    const char *const submitted[] = { "mw-send",    "--server",
                                      submission,   "--starttls",
                                      "--cafile",   mw_harness_cert (m.harness),
                                      "--user",     "alice",
                                      "--password", "alice-secret",
                                      "--from",     "alice@example.test",
                                      "--to",       "bob@example.test",
                                      "--to",       "carol@example.org",
                                      "--body",     "two",
                                      "--chunking", NULL };
    const char *const implicit[] = { "mw-send",    "--server",
                                     smtps,        "--tls",
                                     "--cafile",   mw_harness_cert (m.harness),
                                     "--user",     "alice",
                                     "--password", "alice-secret",
                                     "--from",     "alice@example.test",
                                     "--to",       "bob@example.test",
                                     "--body",     "three",
                                     NULL };
    const char *const wrong_password[] = {
      "mw-send",    "--server",
      submission,   "--starttls",
      "--cafile",   mw_harness_cert (m.harness),
      "--user",     "alice",
      "--password", "nope",
      "--from",     "alice@example.test",
      "--to",       "bob@example.test",
      "--body",     "four",
      NULL
    };

    client (&m, 0, to_bob);
    client (&m, 0, submitted); /* carol's copy waits in the queue */
    client (&m, 0, implicit);
    client (&m, 5, wrong_password);
  }
  vanish_after (&m, "smtp",
                "EHLO x\r\nMAIL FROM:<alice@example.test>\r\n"
                "RCPT TO:<bob@example.test>\r\nDATA\r\nSubject: half\r\n");
  vanish_after (&m, "smtp", "EHLO x\r\nBDAT 100\r\nonly part");
  vanish_after (&m, "smtps", "\x16\x03\x01 garbage, not a ClientHello");
  memcheck_stop_and_check (&m);
}

static void
deliver_three (Memcheck *m)
{
  for (guint i = 1; i <= 3; i++)
    {
      g_autofree char *text = g_strdup_printf (
          "From: alice@example.test\r\nTo: bob@example.test\r\n"
          "Subject: message %u\r\nMessage-ID: <m%u@example.test>\r\n\r\n"
          "body %u\r\n",
          i, i, i);

      mw_harness_deliver (m->harness, "bob", text);
    }
}

static void
test_pop3d (void)
{
  Memcheck m = { 0 };
  g_autofree char *pop3 = NULL;
  g_autofree char *pop3s = NULL;
  g_autofree char *out = NULL;

  memcheck_start (&m, "mw-pop3d");
  deliver_three (&m);
  pop3 = server_of (&m, "pop3");
  pop3s = server_of (&m, "pop3s");
  out = g_build_filename (mw_harness_dir (m.harness), "downloaded", NULL);
  {
    const char *const list[] = { "mw-pop3",    "--server",
                                 pop3,         "--stls",
                                 "--cafile",   mw_harness_cert (m.harness),
                                 "--user",     "bob",
                                 "--password", "bob-secret",
                                 "--list",     NULL };
    const char *const keep[] = { "mw-pop3",    "--server",
                                 pop3s,        "--tls",
                                 "--cafile",   mw_harness_cert (m.harness),
                                 "--user",     "bob",
                                 "--password", "bob-secret",
                                 "--maildir",  out,
                                 "--keep",     NULL };
    const char *const take[] = { "mw-pop3",    "--server",
                                 pop3s,        "--tls",
                                 "--cafile",   mw_harness_cert (m.harness),
                                 "--user",     "bob",
                                 "--password", "bob-secret",
                                 "--maildir",  out,
                                 NULL };

    client (&m, 0, list);
    client (&m, 0, keep);
    client (&m, 0, take); /* RETR, DELE, QUIT: the UPDATE state */
  }
  vanish_after (&m, "pop3", "USER bob\r\nPASS bob-secret\r\nRETR 1\r\n");
  vanish_after (&m, "pop3", "CAPA\r\nAUTH PLAIN\r\n");
  memcheck_stop_and_check (&m);
}

static void
test_imapd (void)
{
  Memcheck m = { 0 };
  g_autofree char *imap = NULL;
  g_autofree char *imaps = NULL;
  g_autofree char *file = NULL;
  g_autofree char *password = NULL;

  memcheck_start (&m, "mw-imapd");
  deliver_three (&m);
  imap = server_of (&m, "imap");
  imaps = server_of (&m, "imaps");
  file = g_build_filename (mw_harness_dir (m.harness), "new.eml", NULL);
  password = g_build_filename (mw_harness_dir (m.harness), "bob.pw", NULL);
  g_assert_true (g_file_set_contents (
      file, "Subject: appended\r\n\r\nappended body\r\n", -1, NULL));
  g_assert_true (g_file_set_contents (password, "bob-secret\n", -1, NULL));
  /* a Maildir++ folder for MOVE (the harness's users have only INBOX) */
  for (guint i = 0; i < 3; i++)
    {
      const char *sub[] = { "cur", "new", "tmp" };
      g_autofree char *maildir = mw_harness_maildir (m.harness, "bob");
      g_autofree char *dir =
          g_build_filename (maildir, ".Archive", sub[i], NULL);

      g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
    }
  {
#define IMAPS                                                                  \
  "mw-imap", "--server", imaps, "--tls", "--cafile",                           \
      mw_harness_cert (m.harness), "--user", "bob", "--password-file",         \
      password
    const char *const list[] = { IMAPS, "list", NULL };
    const char *const fetch[] = { IMAPS, "fetch", "INBOX", NULL };
    const char *const flag[] = {
      IMAPS, "flag", "INBOX", "1", "+\\Flagged", NULL
    };
    const char *const search[] = { IMAPS,  "search", "INBOX",
                                   "FROM", "alice",  NULL };
    const char *const move[] = { IMAPS, "move", "INBOX", "2", "Archive", NULL };
    const char *const append[] = { IMAPS, "append", "INBOX", file, NULL };
    const char *const starttls[] = {
      "mw-imap",    "--server",  imap,
      "--starttls", "--cafile",  mw_harness_cert (m.harness),
      "--user",     "bob",       "--password-file",
      password,     "--headers", "fetch",
      "INBOX",      NULL
    };
#undef IMAPS

    client (&m, 0, list);
    client (&m, 0, fetch);
    client (&m, 0, flag);
    client (&m, 0, search);
    client (&m, 0, move);
    client (&m, 0, append);
    client (&m, 0, starttls);
  }
  vanish_after (&m, "imap", "a STARTTLS\r\n");
  vanish_after (&m, "imap", "a CAPABILITY\r\nb APPEND INBOX {4294967295}\r\n");
  memcheck_stop_and_check (&m);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (!mw_harness_have ("valgrind"))
    g_error ("valgrind is not installed: ./run test installs it");
  g_test_add_func ("/memcheck/mw-smtpd-session", test_smtpd);
  g_test_add_func ("/memcheck/mw-pop3d-session", test_pop3d);
  g_test_add_func ("/memcheck/mw-imapd-session", test_imapd);
  return g_test_run ();
}
