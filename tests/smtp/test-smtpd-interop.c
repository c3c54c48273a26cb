/* SPDX-License-Identifier: MIT
 * test-smtpd-interop.c: real SMTP clients, unchanged, against a real
 * mw-smtpd: Python's smtplib (plain, STARTTLS + AUTH, implicit TLS), curl
 * (smtp://, STARTTLS with --ssl-reqd, smtps://), swaks with
 * --pipeline, and mutt submitting with STARTTLS and AUTH. Each test checks what
 * landed in the Maildirs.
 */
#include <string.h>

#include "mw-harness.h"

typedef struct
{
  MwHarness *harness;
  char *smtp;
  char *submission;
  char *smtps;
  char *eml; /* a small message file for curl and swaks */
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->harness = mw_harness_new (NULL);
  mw_harness_start (f->harness, "mw-smtpd", NULL);
  f->smtp = g_strdup_printf ("%u", mw_harness_port (f->harness, "smtp"));
  f->submission =
      g_strdup_printf ("%u", mw_harness_port (f->harness, "submission"));
  f->smtps = g_strdup_printf ("%u", mw_harness_port (f->harness, "smtps"));
  f->eml = g_build_filename (mw_harness_dir (f->harness), "msg.eml", NULL);
  g_file_set_contents (f->eml,
                       "From: tester@b.example\r\n"
                       "To: alice@example.test\r\n"
                       "Subject: interop\r\n"
                       "\r\n"
                       "hello from a real client\r\n"
                       ".a line starting with a dot\r\n",
                       -1, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->harness, mw_harness_free);
  g_free (f->smtp);
  g_free (f->submission);
  g_free (f->smtps);
  g_free (f->eml);
}

static void
run_ok (Fixture *f, const char *const *argv)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = mw_harness_run (f->harness, argv, NULL, &out, &err);

  if (status != 0)
    g_error ("%s exited %d\nstdout:\n%s\nstderr:\n%s", argv[0], status, out,
             err);
}

static guint
count (Fixture *f, const char *user)
{
  g_auto (GStrv) names = mw_harness_list_messages (f->harness, user, NULL);

  return g_strv_length (names);
}

/* Does any message of @user contain @needle? */
static gboolean
has_message_with (Fixture *f, const char *user, const char *needle)
{
  g_auto (GStrv) names = mw_harness_list_messages (f->harness, user, NULL);

  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autofree char *contents = NULL;

      if (g_file_get_contents (names[i], &contents, NULL, NULL) &&
          strstr (contents, needle) != NULL)
        return TRUE;
    }
  return FALSE;
}

static void
test_python_smtplib (Fixture *f, gconstpointer data)
{
  g_autofree char *script =
      g_test_build_filename (G_TEST_DIST, "smtp", "interop-smtp.py", NULL);
  const char *argv[] = { "python3",
                         script,
                         "--smtp",
                         f->smtp,
                         "--submission",
                         f->submission,
                         "--smtps",
                         f->smtps,
                         "--cafile",
                         mw_harness_cert (f->harness),
                         NULL };

  if (!mw_harness_require ("python3", "python3"))
    return;
  run_ok (f, argv);
  /* plain, UTF-8 sender and null sender to alice; submission, LOGIN and
   * smtps to bob */
  g_assert_cmpuint (count (f, "alice"), ==, 3);
  g_assert_true (has_message_with (f, "alice", "with UTF8SMTP id"));
  g_assert_cmpuint (count (f, "bob"), ==, 3);
  g_assert_true (has_message_with (f, "bob", "with ESMTPSA id"));
  g_assert_true (has_message_with (f, "alice", "Return-Path: <>\r\n"));
}

static void
test_curl (Fixture *f, gconstpointer data)
{
  g_autofree char *plain = g_strdup_printf ("smtp://127.0.0.1:%s", f->smtp);
  g_autofree char *starttls =
      g_strdup_printf ("smtp://127.0.0.1:%s", f->submission);
  g_autofree char *implicit =
      g_strdup_printf ("smtps://127.0.0.1:%s", f->smtps);
  const char *cert = mw_harness_cert (f->harness);
  const char *plain_argv[] = { "curl",
                               "-sS",
                               "--url",
                               plain,
                               "--mail-from",
                               "tester@b.example",
                               "--mail-rcpt",
                               "alice@example.test",
                               "--upload-file",
                               f->eml,
                               NULL };
  const char *starttls_argv[] = { "curl",
                                  "-sS",
                                  "--url",
                                  starttls,
                                  "--ssl-reqd",
                                  "--cacert",
                                  cert,
                                  "--user",
                                  "alice:alice-secret",
                                  "--mail-from",
                                  "alice@example.test",
                                  "--mail-rcpt",
                                  "bob@example.test",
                                  "--upload-file",
                                  f->eml,
                                  NULL };
  const char *implicit_argv[] = { "curl",
                                  "-sS",
                                  "--url",
                                  implicit,
                                  "--cacert",
                                  cert,
                                  "--user",
                                  "bob:bob-secret",
                                  "--mail-from",
                                  "bob@example.test",
                                  "--mail-rcpt",
                                  "alice@example.test",
                                  "--upload-file",
                                  f->eml,
                                  NULL };

  if (!mw_harness_require ("curl", "curl"))
    return;
  run_ok (f, plain_argv);
  run_ok (f, starttls_argv);
  run_ok (f, implicit_argv);
  g_assert_cmpuint (count (f, "alice"), ==, 2);
  g_assert_cmpuint (count (f, "bob"), ==, 1);
  /* curl dot-stuffs; we un-stuff: the line is back as it was. */
  g_assert_true (
      has_message_with (f, "bob", "\r\n.a line starting with a dot\r\n"));
}

static void
test_swaks (Fixture *f, gconstpointer data)
{
  g_autofree char *data_arg = g_strdup_printf ("@%s", f->eml);
  const char *pipelined[] = {
    "swaks",     "--server",
    "127.0.0.1", "--port",
    f->smtp,     "--pipeline",
    "--from",    "tester@b.example",
    "--to",      "alice@example.test,bob@example.test",
    "--data",    data_arg,
    "--helo",    "swaks.example",
    NULL
  };
  const char *authenticated[] = { "swaks",
                                  "--server",
                                  "127.0.0.1",
                                  "--port",
                                  f->submission,
                                  "--tls",
                                  "--auth",
                                  "LOGIN",
                                  "--auth-user",
                                  "bob",
                                  "--auth-password",
                                  "bob-secret",
                                  "--from",
                                  "bob@example.test",
                                  "--to",
                                  "alice@example.test",
                                  "--helo",
                                  "swaks.example",
                                  NULL };

  if (!mw_harness_require ("swaks", "swaks"))
    return;
  run_ok (f, pipelined);
  run_ok (f, authenticated);
  g_assert_cmpuint (count (f, "alice"), ==, 2);
  g_assert_cmpuint (count (f, "bob"), ==, 1);
}

/* mutt submits as a mail program does: STARTTLS on the submission port,
 * the harness certificate as its CA, AUTH as alice (RFC 6409). */
static void
test_mutt (Fixture *f, gconstpointer data)
{
  g_autofree char *muttrc =
      g_build_filename (mw_harness_dir (f->harness), "muttrc", NULL);
  g_autofree char *settings =
      g_strdup_printf ("set from = \"alice@example.test\"\n"
                       "set smtp_url = \"smtp://alice@127.0.0.1:%s/\"\n"
                       "set smtp_pass = \"alice-secret\"\n"
                       "set ssl_starttls = yes\n"
                       "set ssl_force_tls = yes\n"
                       "set ssl_ca_certificates_file = \"%s\"\n"
                       "set record = \"\"\n",
                       f->submission, mw_harness_cert (f->harness));
  const char *argv[] = {
    "mutt", "-n", "-F", muttrc, "-s", "via mutt", "bob@example.test", NULL
  };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr (GError) error = NULL;

  if (!mw_harness_require ("mutt", "mutt"))
    return;
  g_file_set_contents (muttrc, settings, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (mw_harness_run (f->harness, argv,
                                   "hello from mutt\n.a dot line\n", &out,
                                   &err),
                   ==, 0);
  g_assert_cmpuint (count (f, "bob"), ==, 1);
  g_assert_true (has_message_with (f, "bob", "Subject: via mutt\r\n"));
  g_assert_true (has_message_with (f, "bob", "\r\n.a dot line\r\n"));
  g_assert_true (has_message_with (f, "bob", "with ESMTPSA"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/smtpd/interop/python-smtplib", Fixture, NULL, fixture_set_up,
              test_python_smtplib, fixture_tear_down);
  g_test_add ("/smtpd/interop/curl", Fixture, NULL, fixture_set_up, test_curl,
              fixture_tear_down);
  g_test_add ("/smtpd/interop/swaks-pipelining-and-auth", Fixture, NULL,
              fixture_set_up, test_swaks, fixture_tear_down);
  g_test_add ("/smtpd/interop/mutt-submission-starttls-auth", Fixture, NULL,
              fixture_set_up, test_mutt, fixture_tear_down);
  return g_test_run ();
}
