/* SPDX-License-Identifier: MIT
 * test-pop3-interop.c: real POP3 clients, unchanged, against mw-pop3d:
 * Python's poplib (interop-poplib.py), curl pop3:// and pop3s://, and
 * fetchmail in keep and flush modes (RFC 1939, RFC 2449, RFC 2595).
 */
#include <string.h>
#include <sys/stat.h>

#include "mail-store.h"
#include "mw-harness.h"

typedef struct
{
  MwHarness *harness;
  char *maildir; /* bob's, on the server */
  guint16 port;
  guint16 pop3s_port;
} Fixture;

static const char *const messages[] = {
  "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: first\r\n"
  "\r\nHello Bob.\r\n.\r\n.. two dots\r\nFrom the start of a line\r\n",
  "From: alice@example.test\r\nSubject: second\r\n\r\n"
  "caf\xc3\xa9 8-bit text\r\n\r\n\r\ntrailing blank lines\r\n\r\n",
  "From: carol@example.org\r\nSubject: third\r\n\r\n.\r\n",
};

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->harness = mw_harness_new (NULL);
  f->maildir = mw_harness_maildir (f->harness, "bob");
  mw_harness_start (f->harness, "mw-pop3d", NULL);
  f->port = mw_harness_port (f->harness, "pop3");
  f->pop3s_port = mw_harness_port (f->harness, "pop3s");
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_true (mail_maildir_deliver (f->maildir, NULL, messages[i],
                                           strlen (messages[i]), NULL, &error));
      g_assert_no_error (error);
    }
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_free (f->maildir);
  mw_harness_free (f->harness);
}

static guint
count_messages (Fixture *f)
{
  g_auto (GStrv) names = mw_harness_list_messages (f->harness, "bob", NULL);

  return g_strv_length (names);
}

static int
run (Fixture *f, const char *const *argv, char **out_stdout)
{
  g_autofree char *output = NULL;
  g_autofree char *errors = NULL;
  int status = mw_harness_run (f->harness, argv, NULL, &output, &errors);

  g_test_message ("%s: exit %d\n%s", argv[0], status, errors);
  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&output);
  return status;
}

/* ---- Python poplib -------------------------------------------------- */

static void
test_poplib (Fixture *f, gconstpointer data)
{
  g_autofree char *script = g_build_filename (
      g_getenv ("MW_SOURCE_ROOT"), "tests", "pop3", "interop-poplib.py", NULL);
  g_autofree char *port = g_strdup_printf ("%u", f->port);
  g_autofree char *pop3s_port = g_strdup_printf ("%u", f->pop3s_port);
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *output = NULL;

  if (!mw_harness_require ("python3", "python3"))
    return;
  g_ptr_array_add (argv, g_strdup ("python3"));
  g_ptr_array_add (argv, g_strdup (script));
  g_ptr_array_add (argv, g_strdup (port));
  g_ptr_array_add (argv, g_strdup (pop3s_port));
  g_ptr_array_add (argv, g_strdup (mw_harness_cert (f->harness)));
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      char *path = g_strdup_printf ("%s/expected-%u.eml",
                                    mw_harness_dir (f->harness), i + 1);

      g_assert_true (g_file_set_contents (path, messages[i], -1, NULL));
      g_ptr_array_add (argv, path);
    }
  g_ptr_array_add (argv, NULL);
  g_assert_cmpint (run (f, (const char *const *) argv->pdata, &output), ==, 0);
  g_assert_cmpstr (output, ==, "poplib: all checks passed\n");
  g_assert_cmpuint (count_messages (f), ==, G_N_ELEMENTS (messages) - 1);
}

/* ---- curl ----------------------------------------------------------- */

static void
test_curl (Fixture *f, gconstpointer data)
{
  g_autofree char *list_url = g_strdup_printf ("pop3://127.0.0.1:%u/", f->port);
  g_autofree char *retr_url =
      g_strdup_printf ("pop3://127.0.0.1:%u/1", f->port);
  g_autofree char *pop3s_url =
      g_strdup_printf ("pop3s://127.0.0.1:%u/3", f->pop3s_port);
  g_autofree char *listing = NULL;
  g_autofree char *expected_listing = NULL;
  g_autofree char *message = NULL;
  g_autofree char *stls_message = NULL;
  g_autofree char *tls_message = NULL;
  const char *cert = mw_harness_cert (f->harness);

  if (!mw_harness_require ("curl", "curl"))
    return;
  {
    const char *argv[] = { "curl",           "-sS",    "--user",
                           "bob:bob-secret", list_url, NULL };
    g_assert_cmpint (run (f, argv, &listing), ==, 0);
  }
  expected_listing =
      g_strdup_printf ("1 %zu\r\n2 %zu\r\n3 %zu\r\n", strlen (messages[0]),
                       strlen (messages[1]), strlen (messages[2]));
  g_assert_cmpstr (listing, ==, expected_listing);
  {
    const char *argv[] = { "curl",           "-sS",    "--user",
                           "bob:bob-secret", retr_url, NULL };
    g_assert_cmpint (run (f, argv, &message), ==, 0);
  }
  g_assert_cmpstr (message, ==, messages[0]);
  /* --ssl-reqd on pop3:// makes curl use STLS (RFC 2595 §4) */
  {
    const char *argv[] = { "curl",           "-sS",    "--ssl-reqd",
                           "--cacert",       cert,     "--user",
                           "bob:bob-secret", retr_url, NULL };
    g_assert_cmpint (run (f, argv, &stls_message), ==, 0);
  }
  g_assert_cmpstr (stls_message, ==, messages[0]);
  {
    const char *argv[] = { "curl",    "-sS",    "--cacert",
                           cert,      "--user", "bob:bob-secret",
                           pop3s_url, NULL };
    g_assert_cmpint (run (f, argv, &tls_message), ==, 0);
  }
  g_assert_cmpstr (tls_message, ==, messages[2]);
  g_assert_cmpuint (count_messages (f), ==, G_N_ELEMENTS (messages));
}

/* ---- fetchmail ------------------------------------------------------ */

/* Writes a private fetchmail rcfile (fetchmail wants mode 0600) that
 * delivers by MDA into @out. */
static char *
write_fetchmail_rc (Fixture *f,
                    const char *name,
                    const char *options,
                    guint16 port,
                    const char *out)
{
  g_autofree char *path =
      g_build_filename (mw_harness_dir (f->harness), name, NULL);
  g_autofree char *text = g_strdup_printf (
      "set no bouncemail\n"
      "set no syslog\n"
      "poll 127.0.0.1 with proto POP3 port %u uidl:\n"
      "  user \"bob\" there with password \"bob-secret\" is \"root\" here\n"
      "  %s\n"
      "  sslcommonname localhost sslcertck sslcertfile \"%s\"\n"
      "  mda \"/bin/sh -c 'cat >> %s'\"\n",
      port, options, mw_harness_cert (f->harness), out);

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_assert_cmpint (chmod (path, 0600), ==, 0);
  return g_steal_pointer (&path);
}

static int
run_fetchmail (Fixture *f, const char *rcfile)
{
  g_autofree char *home =
      g_strdup_printf ("FETCHMAILHOME=%s", mw_harness_dir (f->harness));
  const char *argv[] = { "env", home,   "fetchmail", "--nodetach",
                         "-f",  rcfile, NULL };

  return run (f, argv, NULL);
}

static guint
count_subjects (const char *path)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) parts = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  parts = g_strsplit (text, "\nSubject: ", -1);
  return g_strv_length (parts) - 1;
}

/* keep over pop3s (implicit TLS) twice: UIDLs make the second run fetch
 * nothing; flush over STLS: everything fetched and deleted. */
static void
test_fetchmail (Fixture *f, gconstpointer data)
{
  g_autofree char *kept = g_build_filename (mw_harness_dir (f->harness),
                                            "fetchmail-keep.out", NULL);
  g_autofree char *flushed = g_build_filename (mw_harness_dir (f->harness),
                                               "fetchmail-flush.out", NULL);
  g_autofree char *keep_rc = NULL;
  g_autofree char *flush_rc = NULL;

  if (!mw_harness_require ("fetchmail", "fetchmail"))
    return;
  keep_rc = write_fetchmail_rc (f, "keep.rc", "keep ssl", f->pop3s_port, kept);
  flush_rc = write_fetchmail_rc (f, "flush.rc", "fetchall sslproto tls1.2+",
                                 f->port, flushed);
  g_assert_cmpint (run_fetchmail (f, keep_rc), ==, 0);
  g_assert_cmpuint (count_subjects (kept), ==, G_N_ELEMENTS (messages));
  /* fetchmail exits 1 for "no new mail" */
  g_assert_cmpint (run_fetchmail (f, keep_rc), ==, 1);
  g_assert_cmpuint (count_subjects (kept), ==, G_N_ELEMENTS (messages));
  g_assert_cmpuint (count_messages (f), ==, G_N_ELEMENTS (messages));

  g_assert_cmpint (run_fetchmail (f, flush_rc), ==, 0);
  g_assert_cmpuint (count_subjects (flushed), ==, G_N_ELEMENTS (messages));
  g_assert_cmpuint (count_messages (f), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func)                                                        \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/pop3/interop/python-poplib", test_poplib);
  ADD ("/pop3/interop/curl-pop3-stls-and-pop3s", test_curl);
  ADD ("/pop3/interop/fetchmail-keep-and-flush", test_fetchmail);
#undef ADD
  return g_test_run ();
}
