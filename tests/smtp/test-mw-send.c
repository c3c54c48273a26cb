/* SPDX-License-Identifier: MIT
 * test-mw-send.c: mw-send against a real mw-smtpd on loopback (suite
 * integration): the message lands in the Maildir byte for byte, composing
 * with GMime, STARTTLS + AUTH on submission, implicit TLS, --trace, and
 * exit statuses that name the failed step.
 */
#include <string.h>

#include "mw-harness.h"

typedef struct
{
  MwHarness *harness;
  char *port;   /* the MTA port, as text */
  char *server; /* "127.0.0.1:PORT" */
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->harness = mw_harness_new (NULL);
  mw_harness_start (f->harness, "mw-smtpd", NULL);
  f->port = g_strdup_printf ("%u", mw_harness_port (f->harness, "smtp"));
  f->server = g_strdup_printf ("127.0.0.1:%s", f->port);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  mw_harness_free (f->harness);
  g_free (f->port);
  g_free (f->server);
}

static char *
read_only_message (Fixture *f, const char *user)
{
  g_auto (GStrv) files = mw_harness_list_messages (f->harness, user, NULL);
  char *text = NULL;

  g_assert_cmpuint (g_strv_length (files), ==, 1);
  g_assert_true (g_file_get_contents (files[0], &text, NULL, NULL));
  return text;
}

/* About 1 MiB of 960-octet lines (under the 1000 of RFC 5321 §4.5.3.1.6),
 * every other one starting with a dot that must be stuffed and unstuffed. */
static char *
large_eml (void)
{
  GString *eml = g_string_new ("From: alice@example.test\n"
                               "To: bob@example.test\nSubject: large\n\n");

  for (guint i = 0; i < 1100; i++)
    {
      g_string_append_printf (eml, "%s%06u ", i % 2 ? "." : "", i);
      for (guint j = 0; j < 950; j++)
        g_string_append_c (eml, 'a' + (i + j) % 26);
      g_string_append_c (eml, '\n');
    }
  return g_string_free (eml, FALSE);
}

/* RFC 5321 §4.4: the server only adds trace headers at the top; all the
 * rest is what was sent, byte for byte (with CRLF line ends, §2.3.8).
 * @data: non-NULL for the large message. */
static void
test_eml_byte_exact (Fixture *f, gconstpointer data)
{
  g_autofree char *large = data != NULL ? large_eml () : NULL;
  const char *eml = large != NULL ? large
                                  : "From: Alice <alice@example.test>\n"
                                    "To: bob@example.test\n"
                                    "Subject: byte exact\n"
                                    "\n"
                                    "line one\n"
                                    ".a line that starts with a dot\n"
                                    "..and two dots\n"
                                    ".\n"
                                    "  trailing spaces  \n"
                                    "last line\n";
  g_autofree char *path =
      g_build_filename (mw_harness_dir (f->harness), "message.eml", NULL);
  const char *argv[] = {
    "mw-send", "--server",         f->server, "--from", "alice@example.test",
    "--to",    "bob@example.test", "--eml",   path,     NULL
  };
  g_autofree char *err = NULL;
  g_autofree char *stored = NULL;
  g_autofree char *crlf = NULL;
  g_auto (GStrv) lines = g_strsplit (eml, "\n", -1);
  const char *tail;

  g_assert_true (g_file_set_contents (path, eml, -1, NULL));
  g_assert_cmpint (mw_harness_run (f->harness, argv, NULL, NULL, &err), ==, 0);
  stored = read_only_message (f, "bob");
  crlf = g_strjoinv ("\r\n", lines);
  g_assert_true (g_str_has_suffix (stored, crlf));
  /* What comes before is header fields the server added. */
  tail = stored + strlen (stored) - strlen (crlf);
  g_assert_true (tail > stored);
  g_assert_true (tail[-1] == '\n' && tail[-2] == '\r');
  g_assert_nonnull (strstr (stored, "Received: "));
}

/* RFC 3030 §2: --chunking sends the same large message in BDAT chunks of
 * at most 1 MiB, not dot-stuffed, and it lands byte for byte as by DATA. */
static void
test_eml_chunked (Fixture *f, gconstpointer data)
{
  g_autofree char *eml = large_eml ();
  g_autofree char *path =
      g_build_filename (mw_harness_dir (f->harness), "message.eml", NULL);
  const char *argv[] = { "mw-send",
                         "--server",
                         f->server,
                         "--from",
                         "alice@example.test",
                         "--to",
                         "bob@example.test",
                         "--eml",
                         path,
                         "--chunking",
                         "--trace",
                         NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *stored = NULL;
  g_auto (GStrv) lines = g_strsplit (eml, "\n", -1);
  g_autofree char *crlf = g_strjoinv ("\r\n", lines);

  g_assert_true (g_file_set_contents (path, eml, -1, NULL));
  g_assert_cmpint (mw_harness_run (f->harness, argv, NULL, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "CHUNKING"));
  g_assert_nonnull (strstr (out, "C: BDAT 1048576 "));
  g_assert_nonnull (strstr (out, " LAST "));
  g_assert_null (strstr (out, "C: DATA"));
  g_assert_null (strstr (out, "S: 354"));
  stored = read_only_message (f, "bob");
  g_assert_true (g_str_has_suffix (stored, crlf));
}

/* RFC 5322 §3.6 fields and RFC 2046 §5.1.3 multipart/mixed. */
static void
test_compose_with_attachment (Fixture *f, gconstpointer data)
{
  g_autofree char *path =
      g_build_filename (mw_harness_dir (f->harness), "data.bin", NULL);
  const char *argv[] = { "mw-send",
                         "--server",
                         f->server,
                         "--from",
                         "Alice <alice@example.test>",
                         "--to",
                         "bob@example.test",
                         "--cc",
                         "alice@example.test",
                         "--subject",
                         "report",
                         "--body",
                         "Here it is.",
                         "--attach",
                         path,
                         NULL };
  g_autofree char *bob = NULL;
  g_autofree char *alice = NULL;

  g_assert_true (g_file_set_contents (path, "\x01\x02\xff binary", 10, NULL));
  g_assert_cmpint (mw_harness_run (f->harness, argv, NULL, NULL, NULL), ==, 0);
  bob = read_only_message (f, "bob");
  alice = read_only_message (f, "alice");
  /* Cc is a recipient too. */
  g_assert_nonnull (strstr (alice, "Subject: report"));
  for (const char *const *want =
           (const char *const[]){
               "From: Alice <alice@example.test>", "To: bob@example.test",
               "Cc: alice@example.test", "Date: ", "Message-Id: <",
               "multipart/mixed", "Content-Transfer-Encoding: base64",
               "filename=data.bin", "Here it is.", NULL };
       *want != NULL; want++)
    if (strstr (bob, *want) == NULL && !(g_str_equal (*want, "Message-Id: <") &&
                                         strstr (bob, "Message-ID: <") != NULL))
      g_error ("\"%s\" missing from:\n%s", *want, bob);
  /* base64 ("\x01\x02\xff binary") */
  g_assert_nonnull (strstr (bob, "AQL/IGJpbmFyeQ=="));
}

/* --bcc goes in the envelope only. */
static void
test_bcc_not_in_header (Fixture *f, gconstpointer data)
{
  const char *argv[] = { "mw-send",
                         "--server",
                         f->server,
                         "--from",
                         "alice@example.test",
                         "--to",
                         "alice@example.test",
                         "--bcc",
                         "bob@example.test",
                         "--body",
                         "psst",
                         NULL };
  g_autofree char *bob = NULL;

  g_assert_cmpint (mw_harness_run (f->harness, argv, NULL, NULL, NULL), ==, 0);
  bob = read_only_message (f, "bob");
  g_assert_null (strstr (bob, "bob@example.test\r\nSubject"));
  g_assert_null (strstr (bob, "Bcc"));
  g_assert_nonnull (strstr (bob, "To: alice@example.test"));
}

/* RFC 6409 + RFC 3207 + RFC 4954: submission, STARTTLS, AUTH, with the
 * body on stdin; the trace explains each line and hides the password. */
static void
test_submission_starttls_auth (Fixture *f, gconstpointer data)
{
  g_autofree char *server = g_strdup_printf (
      "127.0.0.1:%u", mw_harness_port (f->harness, "submission"));
  const char *argv[] = { "mw-send",    "--server",
                         server,       "--starttls",
                         "--cafile",   mw_harness_cert (f->harness),
                         "--user",     "alice",
                         "--password", "alice-secret",
                         "--from",     "alice@example.test",
                         "--to",       "bob@example.test",
                         "--subject",  "via submission",
                         "--trace",    NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *bob = NULL;
  int status =
      mw_harness_run (f->harness, argv, "body from stdin\n", &out, &err);

  g_assert_cmpint (status, ==, 0);
  bob = read_only_message (f, "bob");
  g_assert_nonnull (strstr (bob, "body from stdin"));
  g_assert_nonnull (strstr (out, "C: STARTTLS"));
  g_assert_nonnull (strstr (out, "[TLS established: "));
  g_assert_nonnull (strstr (out, "C: AUTH PLAIN ***"));
  g_assert_null (strstr (out, "YWxpY2Ut")); /* base64 of "alice-" */
  g_assert_nonnull (strstr (out, "S: 354 "));
  g_assert_nonnull (strstr (out, "(RFC 5321 §4.1.1.4)"));
}

/* RFC 8314 §3.3: TLS from the first byte, AUTH LOGIN. */
static void
test_implicit_tls_login (Fixture *f, gconstpointer data)
{
  g_autofree char *port =
      g_strdup_printf ("%u", mw_harness_port (f->harness, "smtps"));
  const char *argv[] = { "mw-send",    "--server",
                         "127.0.0.1",  "--port",
                         port,         "--tls",
                         "--cafile",   mw_harness_cert (f->harness),
                         "--user",     "bob",
                         "--password", "bob-secret",
                         "--auth",     "login",
                         "--from",     "bob@example.test",
                         "--to",       "alice@example.test",
                         "--body",     "tls",
                         NULL };
  g_autofree char *alice = NULL;

  g_assert_cmpint (mw_harness_run (f->harness, argv, NULL, NULL, NULL), ==, 0);
  alice = read_only_message (f, "alice");
  g_assert_nonnull (strstr (alice, "tls"));
}

/* Python's smtpd: a third-party server without PIPELINING, so mw-send
 * goes command by command; it un-stuffs the text and joins the lines with
 * LF, which is what we compare. */
static void
test_python_smtpd (void)
{
  g_autoptr (MwHarness) harness = mw_harness_new (NULL);
  g_autofree char *got_path =
      g_build_filename (mw_harness_dir (harness), "got", NULL);
  g_autofree char *eml_path =
      g_build_filename (mw_harness_dir (harness), "m.eml", NULL);
  const char *eml = "Subject: to python\n\n.dot\n..two\nend\n";
  g_autoptr (GSubprocess) server = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *address = NULL;
  g_autofree char *got = NULL;
  guint16 port = 0;

  server = mw_harness_python_smtpd (harness, got_path, &port);
  if (server == NULL)
    return;
  g_assert_true (g_file_set_contents (eml_path, eml, -1, NULL));
  address = g_strdup_printf ("127.0.0.1:%u", port);
  const char *argv[] = { "mw-send",  "--server", address,    "--from",
                         "a@x.test", "--to",     "b@y.test", "--to",
                         "c@y.test", "--eml",    eml_path,   NULL };
  g_assert_cmpint (mw_harness_run (harness, argv, NULL, NULL, NULL), ==, 0);
  g_subprocess_wait (server, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (got_path, &got, NULL, NULL));
  g_assert_cmpstr (got, ==,
                   "a@x.test|b@y.test,c@y.test|Subject: to python\n\n"
                   ".dot\n..two\nend");
}

/* Exit status and message name the failed step. */
typedef struct
{
  const char *path;
  const char *listener; /* "smtp", "submission" or NULL: a closed port */
  const char *const *extra;
  int status;
  const char *message;
} FailureCase;

static const FailureCase failure_cases[] = {
  { "/mw-send/exit/unknown-recipient-is-7-rcpt", "smtp",
    (const char *const[]){ "--to", "nobody@example.test", NULL }, 7,
    "RCPT TO:<nobody@example.test>" },
  { "/mw-send/exit/wrong-password-is-5-auth", "submission",
    (const char *const[]){ "--starttls", "--user", "alice", "--password",
                           "wrong", "--to", "bob@example.test", NULL },
    5, "AUTH PLAIN: server replied: 535" },
  { "/mw-send/exit/tls-without-ca-is-4-tls", "submission",
    (const char *const[]){ "--starttls", "--cafile", "/dev/null", "--to",
                           "bob@example.test", NULL },
    4, "STARTTLS" },
  { "/mw-send/exit/closed-port-is-2-connect", NULL,
    (const char *const[]){ "--to", "bob@example.test", NULL }, 2,
    "connect to 127.0.0.1" },
  { "/mw-send/exit/no-recipient-is-1-usage", "smtp",
    (const char *const[]){ NULL }, 1, "--to" },
  /* RFC 3461 §4: checked with the server's grammar before connecting */
  { "/mw-send/exit/dsn-never-with-success-is-1-usage", "smtp",
    (const char *const[]){ "--to", "bob@example.test", "--notify",
                           "NEVER,SUCCESS", NULL },
    1, "NOTIFY=NEVER stands alone" },
  { "/mw-send/exit/dsn-bad-ret-is-1-usage", "smtp",
    (const char *const[]){ "--to", "bob@example.test", "--ret", "ALL", NULL },
    1, "RET=FULL or RET=HDRS" },
  { "/mw-send/exit/dsn-orcpt-without-recipient-is-1-usage", "smtp",
    (const char *const[]){ "--to", "bob@example.test", "--orcpt", "a@b.test",
                           "--orcpt", "c@d.test", NULL },
    1, "2 --orcpt for 1 recipients" },
};

static void
test_failure (Fixture *f, gconstpointer data)
{
  const FailureCase *tc = data;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *err = NULL;
  guint16 port = 1; /* tcpmux: nothing listens there in a test box */

  if (tc->listener != NULL)
    port = mw_harness_port (f->harness, tc->listener);
  for (const char *const *a =
           (const char *const[]){ "mw-send", "--server", "127.0.0.1", "--from",
                                  "alice@example.test", "--body", "x",
                                  "--cafile", mw_harness_cert (f->harness),
                                  NULL };
       *a != NULL; a++)
    g_ptr_array_add (argv, g_strdup (*a));
  g_ptr_array_add (argv, g_strdup ("--port"));
  g_ptr_array_add (argv, g_strdup_printf ("%u", port));
  for (guint i = 0; tc->extra[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (tc->extra[i]));
  g_ptr_array_add (argv, NULL);
  g_assert_cmpint (mw_harness_run (f->harness,
                                   (const char *const *) argv->pdata, NULL,
                                   NULL, &err),
                   ==, tc->status);
  if (strstr (err, tc->message) == NULL)
    g_error ("\"%s\" not in: %s", tc->message, err);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/mw-send/eml-lands-byte-exact", Fixture, NULL, fixture_set_up,
              test_eml_byte_exact, fixture_tear_down);
  g_test_add ("/mw-send/large-eml-lands-byte-exact", Fixture, "large",
              fixture_set_up, test_eml_byte_exact, fixture_tear_down);
  g_test_add ("/mw-send/chunking-lands-byte-exact", Fixture, NULL,
              fixture_set_up, test_eml_chunked, fixture_tear_down);
  g_test_add ("/mw-send/compose-with-attachment", Fixture, NULL, fixture_set_up,
              test_compose_with_attachment, fixture_tear_down);
  g_test_add ("/mw-send/bcc-only-in-envelope", Fixture, NULL, fixture_set_up,
              test_bcc_not_in_header, fixture_tear_down);
  g_test_add ("/mw-send/submission-starttls-auth-trace", Fixture, NULL,
              fixture_set_up, test_submission_starttls_auth, fixture_tear_down);
  g_test_add ("/mw-send/implicit-tls-auth-login", Fixture, NULL, fixture_set_up,
              test_implicit_tls_login, fixture_tear_down);
  g_test_add_func ("/mw-send/to-python-smtpd-without-pipelining",
                   test_python_smtpd);
  for (guint i = 0; i < G_N_ELEMENTS (failure_cases); i++)
    g_test_add (failure_cases[i].path, Fixture, &failure_cases[i],
                fixture_set_up, test_failure, fixture_tear_down);
  return g_test_run ();
}
