/* SPDX-License-Identifier: MIT
 * test-imapd-interop.c: real IMAP clients, unchanged, against mw-imapd
 * (RFC 9051, RFC 3501): Python's imaplib (interop-imaplib.py, one test per
 * check), curl imap:// and imaps://, fetchmail over IMAP (keep, then
 * flush), mbsync from Debian's isync (pull an account, push a flag, upload
 * a message), mutt through a pseudo-terminal (interop-pty.py: read a
 * message, save it to another folder) and s-nail in batch mode.
 * mw-imapd runs with --protocol-log: the test log holds every C:/S: line.
 */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mail-store.h"
#include "mw-harness.h"

typedef struct
{
  MwHarness *harness;
  char *maildir; /* alice's, on the server */
  guint16 port;
  guint16 imaps_port;
} Fixture;

/* alice's INBOX, in this order (interop-imaplib.py knows what they say) */
static const char *const messages[] = {
  "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\n"
  "Subject: first\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n"
  "Message-ID: <one@example.test>\r\n\r\nHello Alice.\r\n",
  "From: carol@example.test\r\nTo: alice@example.test\r\n"
  "Subject: second\r\nDate: Tue, 1 Dec 2026 11:00:00 +0000\r\n"
  "Message-ID: <two@example.test>\r\n\r\nSecond body, about lunch.\r\n",
  "From: Dave <dave@example.org>\r\nTo: alice@example.test\r\n"
  "Subject: report with attachment\r\n"
  "Date: Wed, 2 Dec 2026 09:30:00 +0100\r\n"
  "Message-ID: <three@example.org>\r\nMIME-Version: 1.0\r\n"
  "Content-Type: multipart/mixed; boundary=\"mw-boundary\"\r\n\r\n"
  "This is a multi-part message in MIME format.\r\n"
  "--mw-boundary\r\nContent-Type: text/plain; charset=utf-8\r\n"
  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
  "The report is attached. Caf=C3=A9.\r\n\r\n"
  "--mw-boundary\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n"
  "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
  "Content-Transfer-Encoding: base64\r\n\r\n"
  "JVBERi0xLjQKJcOkw7zDtsOfCg==\r\n\r\n"
  "--mw-boundary--\r\n",
};

static void
deliver (Fixture *f, const char *text)
{
  mw_harness_deliver (f->harness, "alice", text);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->harness = mw_harness_new (NULL);
  f->maildir = mw_harness_maildir (f->harness, "alice");
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    deliver (f, messages[i]);
  mw_harness_start (f->harness, "mw-imapd", "--protocol-log", NULL);
  f->port = mw_harness_port (f->harness, "imap");
  f->imaps_port = mw_harness_port (f->harness, "imaps");
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_free (f->maildir);
  mw_harness_free (f->harness);
}

static int
run (Fixture *f,
     const char *const *argv,
     const char *stdin_text,
     char **out_stdout)
{
  g_autofree char *output = NULL;
  g_autofree char *errors = NULL;
  int status = mw_harness_run (f->harness, argv, stdin_text, &output, &errors);

  g_test_message ("%s: exit %d\n%s", argv[0], status, errors);
  if (out_stdout != NULL)
    *out_stdout = g_steal_pointer (&output);
  return status;
}

/* "<harness>/name" (transfer full) */
static char *
harness_path (Fixture *f, const char *name)
{
  return g_build_filename (mw_harness_dir (f->harness), name, NULL);
}

static char *
write_file (Fixture *f, const char *name, const char *text)
{
  g_autofree char *path = harness_path (f, name);

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return g_steal_pointer (&path);
}

static guint
count_messages (Fixture *f, const char *folder)
{
  g_auto (GStrv) names = mw_harness_list_messages (f->harness, "alice", folder);

  return g_strv_length (names);
}

/* The Maildir file of @folder whose text contains @needle (transfer full),
 * or NULL. */
static char *
find_message (Fixture *f, const char *folder, const char *needle)
{
  g_auto (GStrv) names = mw_harness_list_messages (f->harness, "alice", folder);

  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autofree char *text = NULL;

      if (g_file_get_contents (names[i], &text, NULL, NULL) &&
          strstr (text, needle) != NULL)
        return g_strdup (names[i]);
    }
  return NULL;
}

/* The flag letters of a Maildir file name ("…:2,FS" -> "FS"). */
static const char *
maildir_flags (const char *path)
{
  const char *info = strstr (path, ":2,");

  return info ? info + 3 : "";
}

static guint
count_substrings (const char *text, const char *needle)
{
  guint count = 0;

  for (const char *p = text; p && (p = strstr (p, needle));
       p += strlen (needle))
    count++;
  return count;
}

/* ---- Python imaplib (interop-imaplib.py CHECK ...) ------------------ */

static void
test_imaplib (Fixture *f, gconstpointer data)
{
  const char *check = data;
  g_autofree char *script = g_build_filename (
      g_getenv ("MW_SOURCE_ROOT"), "tests", "imap", "interop-imaplib.py", NULL);
  g_autofree char *expected_output =
      g_strdup_printf ("imaplib: %s passed\n", check);
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *output = NULL;

  if (!mw_harness_require ("python3", "python3"))
    return;
  g_ptr_array_add (argv, g_strdup ("python3"));
  g_ptr_array_add (argv, g_strdup (script));
  g_ptr_array_add (argv, g_strdup (check));
  g_ptr_array_add (argv, g_strdup_printf ("%u", f->port));
  g_ptr_array_add (argv, g_strdup_printf ("%u", f->imaps_port));
  g_ptr_array_add (argv, g_strdup (mw_harness_cert (f->harness)));
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      g_autofree char *name = g_strdup_printf ("expected-%u.eml", i + 1);

      g_ptr_array_add (argv, write_file (f, name, messages[i]));
    }
  g_ptr_array_add (argv, NULL);
  g_assert_cmpint (run (f, (const char *const *) argv->pdata, NULL, &output),
                   ==, 0);
  g_assert_cmpstr (output, ==, expected_output);
}

/* ---- curl ----------------------------------------------------------- */

/* curl -q -sS --user alice:alice-secret [@extra...] @url: its exit status,
 * and what it printed in *out. */
static int
curl (Fixture *f, const char *url, const char *const *extra, char **out)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();

  g_ptr_array_add (argv, (char *) "curl");
  g_ptr_array_add (argv, (char *) "-q"); /* first: no ~/.curlrc */
  g_ptr_array_add (argv, (char *) "-sS");
  g_ptr_array_add (argv, (char *) "--max-time");
  g_ptr_array_add (argv, (char *) "30");
  g_ptr_array_add (argv, (char *) "--user");
  g_ptr_array_add (argv, (char *) "alice:alice-secret");
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) extra[i]);
  g_ptr_array_add (argv, (char *) url);
  g_ptr_array_add (argv, NULL);
  return run (f, (const char *const *) argv->pdata, NULL, out);
}

static void
test_curl (Fixture *f, gconstpointer data)
{
  const char *cert = mw_harness_cert (f->harness);
  g_autofree char *base = g_strdup_printf ("imap://127.0.0.1:%u/", f->port);
  g_autofree char *inbox = g_strconcat (base, "INBOX", NULL);
  g_autofree char *uid1 = g_strconcat (base, "INBOX;UID=1", NULL);
  g_autofree char *uid2 = g_strconcat (base, "INBOX;UID=2", NULL);
  g_autofree char *part = g_strconcat (base, "INBOX;UID=3;SECTION=1", NULL);
  g_autofree char *query = g_strconcat (base, "INBOX?SUBJECT%20report", NULL);
  g_autofree char *imaps =
      g_strdup_printf ("imaps://127.0.0.1:%u/INBOX;UID=3", f->imaps_port);
  g_autofree char *upload = NULL;
  g_autofree char *uploaded = NULL;
  g_autofree char *out = NULL;
  const char *upload_text =
      "From: alice@example.test\r\nTo: bob@example.test\r\n"
      "Subject: uploaded by curl\r\n\r\nAPPEND me.\r\n";

  if (!mw_harness_require ("curl", "curl"))
    return;
  /* a custom command on the server's root URL */
  {
    const char *extra[] = { "-X", "CREATE Projects", NULL };
    g_assert_cmpint (curl (f, base, extra, NULL), ==, 0);
  }
  /* the root URL lists the mailboxes (LIST "" *) */
  g_assert_cmpint (curl (f, base, NULL, &out), ==, 0);
  g_assert_nonnull (
      strstr (out, "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"));
  g_assert_nonnull (
      strstr (out, "* LIST (\\HasNoChildren) \"/\" \"Projects\"\r\n"));
  g_assert_cmpuint (count_substrings (out, "* LIST "), ==, 2);
  g_clear_pointer (&out, g_free);
  /* ;UID= fetches one message, byte for byte (RFC 5092) */
  g_assert_cmpint (curl (f, uid1, NULL, &out), ==, 0);
  g_assert_cmpstr (out, ==, messages[0]);
  g_clear_pointer (&out, g_free);
  /* ;SECTION=1 is BODY[1], the first part of the multipart */
  g_assert_cmpint (curl (f, part, NULL, &out), ==, 0);
  g_assert_cmpstr (out, ==, "The report is attached. Caf=C3=A9.\r\n");
  g_clear_pointer (&out, g_free);
  /* ;PARTIAL=6.12 is BODY[]<6.12> (RFC 5092 §5) */
  {
    g_autofree char *url = g_strconcat (base, "INBOX;UID=1;PARTIAL=6.12", NULL);

    g_assert_cmpint (curl (f, url, NULL, &out), ==, 0);
    g_assert_cmpstr (out, ==, "Bob <bob@exa");
    g_clear_pointer (&out, g_free);
  }
  /* ;UIDVALIDITY= must match what SELECT said, or curl gives up (78) */
  {
    const char *extra[] = { "-X", "STATUS INBOX (UIDVALIDITY)", NULL };
    g_autofree char *right = NULL;
    g_autofree char *wrong = NULL;
    const char *value;

    g_assert_cmpint (curl (f, base, extra, &out), ==, 0);
    value = strstr (out, "(UIDVALIDITY ");
    g_assert_nonnull (value);
    value += strlen ("(UIDVALIDITY ");
    right = g_strdup_printf ("%sINBOX;UIDVALIDITY=%u/;UID=2;SECTION=TEXT", base,
                             (guint) g_ascii_strtoull (value, NULL, 10));
    wrong = g_strdup_printf ("%sINBOX;UIDVALIDITY=%u/;UID=2;SECTION=TEXT", base,
                             (guint) g_ascii_strtoull (value, NULL, 10) + 1);
    g_clear_pointer (&out, g_free);
    g_assert_cmpint (curl (f, right, NULL, &out), ==, 0);
    g_assert_cmpstr (out, ==, "Second body, about lunch.\r\n");
    g_clear_pointer (&out, g_free);
    g_assert_cmpint (curl (f, wrong, NULL, NULL), ==, 78);
  }
  /* ?criteria is SEARCH */
  g_assert_cmpint (curl (f, query, NULL, &out), ==, 0);
  g_assert_cmpstr (out, ==, "* SEARCH 3\r\n");
  g_clear_pointer (&out, g_free);
  {
    const char *extra[] = { "-X", "UID SEARCH FROM carol", NULL };
    g_assert_cmpint (curl (f, inbox, extra, &out), ==, 0);
  }
  g_assert_cmpstr (out, ==, "* SEARCH 2\r\n");
  g_clear_pointer (&out, g_free);
  /* --ssl-reqd on imap:// makes curl use STARTTLS (RFC 9051 §6.2.1) */
  {
    const char *extra[] = { "--ssl-reqd", "--cacert", cert, NULL };
    g_assert_cmpint (curl (f, uid2, extra, &out), ==, 0);
  }
  g_assert_cmpstr (out, ==, messages[1]);
  g_clear_pointer (&out, g_free);
  /* imaps:// is TLS from the first byte (RFC 8314) */
  {
    const char *extra[] = { "--cacert", cert, NULL };
    g_assert_cmpint (curl (f, imaps, extra, &out), ==, 0);
  }
  g_assert_cmpstr (out, ==, messages[2]);
  g_clear_pointer (&out, g_free);
  /* curl refuses a server whose certificate it cannot verify */
  {
    const char *extra[] = { "--cacert", "/dev/null", NULL };
    g_assert_cmpint (curl (f, imaps, extra, NULL), !=, 0);
  }
  /* -T uploads with APPEND */
  upload = write_file (f, "upload.eml", upload_text);
  {
    const char *extra[] = {
      "--ssl-reqd", "--cacert", cert, "-T", upload, NULL
    };
    g_assert_cmpint (curl (f, inbox, extra, NULL), ==, 0);
  }
  g_assert_cmpuint (count_messages (f, NULL), ==, G_N_ELEMENTS (messages) + 1);
  uploaded = find_message (f, NULL, "Subject: uploaded by curl");
  g_assert_nonnull (uploaded);
  {
    g_autofree char *text = NULL;

    g_assert_true (g_file_get_contents (uploaded, &text, NULL, NULL));
    g_assert_cmpstr (text, ==, upload_text);
  }
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
  g_autofree char *text = g_strdup_printf (
      "set no bouncemail\n"
      "set no syslog\n"
      "poll 127.0.0.1 with proto IMAP port %u timeout 30:\n"
      "  user \"alice\" there with password \"alice-secret\" is \"root\" here\n"
      "  %s\n"
      "  sslcommonname localhost sslcertck sslcertfile \"%s\"\n"
      "  mda \"/bin/sh -c 'cat >> %s'\"\n",
      port, options, mw_harness_cert (f->harness), out);
  char *path = write_file (f, name, text);

  g_assert_cmpint (chmod (path, 0600), ==, 0);
  return path;
}

static int
run_fetchmail (Fixture *f, const char *rcfile)
{
  g_autofree char *home =
      g_strdup_printf ("FETCHMAILHOME=%s", mw_harness_dir (f->harness));
  const char *argv[] = { "env", home,   "fetchmail", "--nodetach",
                         "-f",  rcfile, NULL };

  return run (f, argv, NULL, NULL);
}

static char *
read_or_empty (const char *path)
{
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return g_strdup ("");
  return text;
}

/* keep over imaps twice: the first run fetches all three and leaves them
 * \Seen on the server, the second finds no new mail; then a new message
 * and flush over STARTTLS: the three old ones are deleted, the new one
 * fetched and deleted too. */
static void
test_fetchmail (Fixture *f, gconstpointer data)
{
  g_autofree char *kept = harness_path (f, "fetchmail-keep.out");
  g_autofree char *flushed = harness_path (f, "fetchmail-flush.out");
  g_autofree char *keep_rc = NULL;
  g_autofree char *flush_rc = NULL;
  g_autofree char *text = NULL;
  g_auto (GStrv) names = NULL;

  if (!mw_harness_require ("fetchmail", "fetchmail"))
    return;
  keep_rc = write_fetchmail_rc (f, "keep.rc", "keep ssl", f->imaps_port, kept);
  flush_rc = write_fetchmail_rc (f, "flush.rc", "flush sslproto tls1.2+",
                                 f->port, flushed);
  g_assert_cmpint (run_fetchmail (f, keep_rc), ==, 0);
  text = read_or_empty (kept);
  g_assert_cmpuint (count_substrings (text, "\nSubject: "), ==,
                    G_N_ELEMENTS (messages));
  g_assert_nonnull (strstr (text, "Hello Alice."));
  g_assert_nonnull (strstr (text, "JVBERi0xLjQKJcOkw7zDtsOfCg=="));
  names = mw_harness_list_messages (f->harness, "alice", NULL);
  g_assert_cmpuint (g_strv_length (names), ==, G_N_ELEMENTS (messages));
  for (guint i = 0; names[i] != NULL; i++)
    g_assert_nonnull (strchr (maildir_flags (names[i]), 'S'));
  /* fetchmail exits 1 for "no new mail" */
  g_assert_cmpint (run_fetchmail (f, keep_rc), ==, 1);
  g_clear_pointer (&text, g_free);
  text = read_or_empty (kept);
  g_assert_cmpuint (count_substrings (text, "\nSubject: "), ==,
                    G_N_ELEMENTS (messages));
  g_assert_cmpuint (count_messages (f, NULL), ==, G_N_ELEMENTS (messages));

  deliver (f, "From: erin@example.test\r\nTo: alice@example.test\r\n"
              "Subject: fourth, after the keep\r\n\r\nNew.\r\n");
  g_assert_cmpint (run_fetchmail (f, flush_rc), ==, 0);
  g_clear_pointer (&text, g_free);
  text = read_or_empty (flushed);
  g_assert_cmpuint (count_substrings (text, "\nSubject: "), ==, 1);
  g_assert_nonnull (strstr (text, "\nSubject: fourth, after the keep"));
  g_assert_cmpuint (count_messages (f, NULL), ==, 0);
}

/* ---- mbsync (isync) ------------------------------------------------- */

/* The message files in new/ and cur/ of the Maildir @dir (transfer full,
 * sorted). */
static GStrv
list_local (const char *dir)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  const char *const subdirs[] = { "new", "cur" };

  for (guint i = 0; i < G_N_ELEMENTS (subdirs); i++)
    {
      g_autofree char *path = g_build_filename (dir, subdirs[i], NULL);
      g_autoptr (GDir) listing = g_dir_open (path, 0, NULL);
      const char *name;

      while (listing && (name = g_dir_read_name (listing)) != NULL)
        g_ptr_array_add (names, g_build_filename (path, name, NULL));
    }
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  g_ptr_array_add (names, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

/* @text with LF line ends and without mbsync's X-TUID header line
 * (transfer full) */
static char *
normalise (const char *text)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      gsize length = strlen (lines[i]);

      if (g_str_has_prefix (lines[i], "X-TUID: "))
        continue;
      if (length > 0 && lines[i][length - 1] == '\r')
        lines[i][length - 1] = '\0';
      g_string_append (out, lines[i]);
      if (lines[i + 1] != NULL)
        g_string_append_c (out, '\n');
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static char *
write_mbsyncrc (Fixture *f,
                const char *name,
                const char *ssl_type,
                guint16 port)
{
  g_autofree char *local = harness_path (f, "local");
  g_autofree char *text = g_strdup_printf (
      "IMAPAccount mw\n"
      "Host 127.0.0.1\nPort %u\n"
      "User alice\nPass alice-secret\n"
      "SSLType %s\nCertificateFile %s\n"
      "Timeout 20\n"
      "\n"
      "IMAPStore remote\nAccount mw\n"
      "\n"
      "MaildirStore local\nPath %s/\nInbox %s/INBOX\nSubFolders Verbatim\n"
      "\n"
      "Channel mw\nFar :remote:\nNear :local:\nPatterns *\n"
      "Create Both\nSyncState *\nSync All\nExpunge Both\n",
      port, ssl_type, mw_harness_cert (f->harness), local, local);
  char *path = write_file (f, name, text);

  g_assert_cmpint (chmod (path, 0600), ==, 0);
  return path;
}

static int
run_mbsync (Fixture *f, const char *rcfile)
{
  const char *argv[] = { "mbsync", "-V", "-c", rcfile, "-a", NULL };

  return run (f, argv, NULL, NULL);
}

/* The local file of @dir whose text holds @needle (transfer full). */
static char *
find_local (const char *dir, const char *needle)
{
  g_auto (GStrv) names = list_local (dir);

  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autofree char *text = NULL;

      if (g_file_get_contents (names[i], &text, NULL, NULL) &&
          strstr (text, needle) != NULL)
        return g_strdup (names[i]);
    }
  return NULL;
}

/* Pull over STARTTLS: the whole account (INBOX and Archive) lands in a
 * local Maildir; then, locally, message 1 gets \Flagged, message 2 is
 * deleted, a new message and a new folder Lab with a message appear; a
 * push over IMAPS sends the flag (UID STORE), the deletion (\Deleted,
 * then expunged), the message (APPEND) and the folder (CREATE) up; a
 * third run in clear text on loopback finds nothing more to do. */
static void
test_mbsync (Fixture *f, gconstpointer data)
{
  g_autofree char *local = harness_path (f, "local");
  g_autofree char *local_inbox = g_build_filename (local, "INBOX", NULL);
  g_autofree char *local_archive = g_build_filename (local, "Archive", NULL);
  g_autofree char *local_lab = g_build_filename (local, "Lab", NULL);
  g_autofree char *pull_rc = NULL;
  g_autofree char *push_rc = NULL;
  g_autofree char *plain_rc = NULL;
  g_autofree char *first = NULL;
  g_autofree char *flagged = NULL;
  g_autofree char *on_server = NULL;
  g_autofree char *text = NULL;
  g_auto (GStrv) names = NULL;
  const char *offline =
      "From: alice@example.test\nTo: bob@example.test\n"
      "Subject: written offline\nMessage-ID: <offline@example.test>\n"
      "\nUploaded by mbsync.\n";

  if (!mw_harness_require ("mbsync", "isync"))
    return;
  /* a second folder on the server, with one message */
  {
    g_autoptr (GError) error = NULL;
    const char *archived = "From: bob@example.test\r\nSubject: archived\r\n"
                           "\r\nOld news.\r\n";

    g_assert_true (mail_maildir_deliver (f->maildir, "Archive", archived,
                                         strlen (archived), NULL, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpint (g_mkdir (local, 0700), ==, 0);
  pull_rc = write_mbsyncrc (f, "pull.mbsyncrc", "STARTTLS", f->port);
  push_rc = write_mbsyncrc (f, "push.mbsyncrc", "IMAPS", f->imaps_port);
  plain_rc = write_mbsyncrc (f, "plain.mbsyncrc", "None", f->port);

  g_assert_cmpint (run_mbsync (f, pull_rc), ==, 0);
  names = list_local (local_inbox);
  g_assert_cmpuint (g_strv_length (names), ==, G_N_ELEMENTS (messages));
  /* each message as the server has it (UID i + 1), in LF form */
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      g_autofree char *uid = g_strdup_printf (",U=%u", i + 1);
      g_autofree char *want = normalise (messages[i]);
      guint found = 0;

      for (guint j = 0; names[j] != NULL; j++)
        {
          g_autofree char *got = NULL;
          g_autofree char *base = g_path_get_basename (names[j]);
          char *end = strstr (base, uid);

          if (end == NULL || g_ascii_isdigit (end[strlen (uid)]))
            continue;
          found++;
          g_assert_true (g_file_get_contents (names[j], &got, NULL, NULL));
          {
            g_autofree char *normal = normalise (got);

            g_assert_cmpstr (normal, ==, want);
          }
        }
      g_assert_cmpuint (found, ==, 1);
    }
  g_clear_pointer (&names, g_strfreev);
  names = list_local (local_archive);
  g_assert_cmpuint (g_strv_length (names), ==, 1);
  g_clear_pointer (&names, g_strfreev);

  /* a MUA's changes, made in the local Maildir */
  first = find_local (local_inbox, "Subject: first");
  g_assert_nonnull (first);
  {
    g_autofree char *base = g_path_get_basename (first);
    char *info = strstr (base, ":2,");

    if (info != NULL)
      *info = '\0';
    flagged = g_strdup_printf ("%s/cur/%s:2,F", local_inbox, base);
  }
  g_assert_cmpint (g_rename (first, flagged), ==, 0);
  /* message 2 deleted locally (T): UID STORE \Deleted and an expunge */
  {
    g_autofree char *second = find_local (local_inbox, "Subject: second");
    g_autofree char *base = NULL;
    g_autofree char *trashed = NULL;
    char *info;

    g_assert_nonnull (second);
    base = g_path_get_basename (second);
    if ((info = strstr (base, ":2,")) != NULL)
      *info = '\0';
    trashed = g_strdup_printf ("%s/cur/%s:2,T", local_inbox, base);
    g_assert_cmpint (g_rename (second, trashed), ==, 0);
  }
  {
    g_autofree char *path =
        g_strdup_printf ("%s/new/1800000000.offline.vm", local_inbox);

    g_assert_true (g_file_set_contents (path, offline, -1, NULL));
  }
  {
    g_autofree char *path =
        g_strdup_printf ("%s/cur/1800000001.lab.vm:2,S", local_lab);

    g_assert_cmpint (g_mkdir_with_parents (local_lab, 0700), ==, 0);
    for (guint i = 0; i < 3; i++)
      {
        const char *sub[] = { "cur", "new", "tmp" };
        g_autofree char *dir = g_build_filename (local_lab, sub[i], NULL);

        g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
      }
    g_assert_true (g_file_set_contents (path,
                                        "From: alice@example.test\n"
                                        "Subject: lab note\n\nA note.\n",
                                        -1, NULL));
  }

  g_assert_cmpint (run_mbsync (f, push_rc), ==, 0);
  /* the flag: the server's file of message 1 now carries F */
  on_server = find_message (f, NULL, "Subject: first");
  g_assert_nonnull (on_server);
  g_assert_nonnull (strchr (maildir_flags (on_server), 'F'));
  /* message 2 is gone (EXPUNGE or CLOSE); the new message is there, with
   * CRLFs again */
  g_assert_null (find_message (f, NULL, "Subject: second"));
  g_assert_cmpuint (count_messages (f, NULL), ==, G_N_ELEMENTS (messages));
  g_clear_pointer (&on_server, g_free);
  on_server = find_message (f, NULL, "Subject: written offline");
  g_assert_nonnull (on_server);
  g_assert_true (g_file_get_contents (on_server, &text, NULL, NULL));
  {
    g_autofree char *got = normalise (text);

    g_assert_cmpstr (got, ==, offline);
  }
  g_assert_nonnull (strstr (text, "\r\n\r\nUploaded by mbsync.\r\n"));
  /* the new folder and its \Seen message */
  g_clear_pointer (&on_server, g_free);
  on_server = find_message (f, "Lab", "Subject: lab note");
  g_assert_nonnull (on_server);
  g_assert_nonnull (strchr (maildir_flags (on_server), 'S'));
  /* the uploaded message got its UID from APPENDUID (RFC 4315) */
  {
    g_autofree char *uploaded =
        find_local (local_inbox, "Subject: written offline");

    g_assert_nonnull (uploaded);
    g_assert_nonnull (strstr (uploaded, ",U=4"));
  }

  g_assert_cmpint (run_mbsync (f, plain_rc), ==, 0);
  g_assert_cmpuint (count_messages (f, NULL), ==, G_N_ELEMENTS (messages));
  g_assert_cmpuint (count_messages (f, "Lab"), ==, 1);
  g_assert_cmpuint (count_messages (f, "Archive"), ==, 1);
  names = list_local (local_inbox);
  g_assert_cmpuint (g_strv_length (names), ==, G_N_ELEMENTS (messages));
  g_assert_null (find_local (local_inbox, "Subject: second"));
}

/* ---- mutt, through a pseudo-terminal -------------------------------- */

/* mutt opens alice's INBOX over STARTTLS (certificate checked), shows
 * message 1 in its pager, saves it to =Archive (a new folder: COPY, then
 * \Deleted and EXPUNGE on quit), and, in IDLE, shows a message that curl
 * APPENDs meanwhile. The server's Maildir then holds the other two and
 * the new one in INBOX and message 1, \Seen, in .Archive. */
static void
test_mutt (Fixture *f, gconstpointer data)
{
  const char *cert = mw_harness_cert (f->harness);
  g_autofree char *driver = g_build_filename (
      g_getenv ("MW_SOURCE_ROOT"), "tests", "imap", "interop-pty.py", NULL);
  g_autofree char *muttrc_text = g_strdup_printf (
      "set folder=\"imap://alice@127.0.0.1:%u/\"\n"
      "set spoolfile=\"+INBOX\"\n"
      "set imap_user=\"alice\"\nset imap_pass=\"alice-secret\"\n"
      "set ssl_starttls=yes\nset ssl_force_tls=yes\n"
      "set ssl_ca_certificates_file=\"%s\"\nset certificate_file=\"%s\"\n"
      "set header_cache=\"\"\nset message_cachedir=\"\"\n"
      "set imap_check_subscribed=no\n"
      "set confirmcreate=no\nset confirmappend=no\n"
      "set delete=yes\nset quit=yes\nset move=no\nset mark_old=no\n"
      "set wait_key=no\nset record=\"\"\nset sleep_time=0\n"
      "set sort=date\nset charset=\"utf-8\"\n"
      "set imap_idle=yes\nset timeout=1\nset mail_check=1\n",
      f->port, cert, cert);
  g_autofree char *pushed =
      write_file (f, "pushed.eml",
                  "From: erin@example.test\r\nTo: alice@example.test\r\n"
                  "Subject: pushed while mutt idles\r\n\r\nNew.\r\n");
  /* 1 Enter: jump to message 1 (sorted by Date: it is the first);
   * Enter: the pager; i: back to the index; s, ^U, =Archive: save; then
   * curl APPENDs a message and mutt, in IDLE, shows it */
  g_autofree char *script =
      g_strdup_printf ("expect first\n"
                       "expect second\n"
                       "expect report with attachment\n"
                       "send 1\\r\n"
                       "send \\r\n"
                       "expect Hello Alice.\n"
                       "send i\n"
                       "send s\n"
                       "expect Save to mailbox\n"
                       "send \\x15=Archive\\r\n"
                       "shell curl -q -sS --user alice:alice-secret -T %s "
                       "imap://127.0.0.1:%u/INBOX\n"
                       "expect pushed while mutt idles\n"
                       "send q\n"
                       "exit\n",
                       pushed, f->port);
  g_autofree char *muttrc = write_file (f, "muttrc", muttrc_text);
  g_autofree char *steps = write_file (f, "mutt.steps", script);
  g_autofree char *home =
      g_strdup_printf ("HOME=%s", mw_harness_dir (f->harness));
  g_autofree char *saved = NULL;
  g_autofree char *text = NULL;

  if (!mw_harness_require ("mutt", "mutt") ||
      !mw_harness_require ("python3", "python3"))
    return;
  {
    const char *argv[] = { "env",  home, "python3", driver, steps, "--",
                           "mutt", "-n", "-F",      muttrc, NULL };

    g_assert_cmpint (run (f, argv, NULL, NULL), ==, 0);
  }
  g_assert_cmpuint (count_messages (f, NULL), ==, G_N_ELEMENTS (messages));
  g_assert_null (find_message (f, NULL, "Subject: first"));
  {
    g_autofree char *path =
        find_message (f, NULL, "Subject: pushed while mutt idles");

    g_assert_nonnull (path);
  }
  g_assert_cmpuint (count_messages (f, "Archive"), ==, 1);
  saved = find_message (f, "Archive", "Subject: first");
  g_assert_nonnull (saved);
  g_assert_true (g_file_get_contents (saved, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, messages[0]);
  g_assert_nonnull (strchr (maildir_flags (saved), 'S'));
  /* the other two were not read */
  for (guint i = 1; i < G_N_ELEMENTS (messages); i++)
    {
      g_autofree char *subject =
          g_strndup (strstr (messages[i], "Subject: "),
                     strstr (strstr (messages[i], "Subject: "), "\r\n") -
                         strstr (messages[i], "Subject: "));
      g_autofree char *path = find_message (f, NULL, subject);

      g_assert_nonnull (path);
      g_assert_null (strchr (maildir_flags (path), 'S'));
    }
}

/* ---- s-nail, in batch mode ------------------------------------------ */

/* s-nail -# (batch mode, RFC 3501 client code of BSD Mail lineage): the
 * headers of INBOX and message 2 over imaps; then over imap:// with
 * STARTTLS, message 3 copied to Archive. Its TLS checks host names only
 * against DNS names, so it connects to "localhost". */
static void
test_s_nail (Fixture *f, gconstpointer data)
{
  const char *cert = mw_harness_cert (f->harness);
  g_autofree char *home =
      g_strdup_printf ("HOME=%s", mw_harness_dir (f->harness));
  g_autofree char *imaps_password = g_strdup_printf (
      "password-alice@localhost:%u=alice-secret", f->imaps_port);
  g_autofree char *imap_password =
      g_strdup_printf ("password-alice@localhost:%u=alice-secret", f->port);
  g_autofree char *imaps_inbox =
      g_strdup_printf ("imaps://alice@localhost:%u/INBOX", f->imaps_port);
  g_autofree char *folder =
      g_strdup_printf ("folder=imap://alice@localhost:%u", f->port);
  g_autofree char *ca = g_strdup_printf ("tls-ca-file=%s", cert);
  g_autofree char *out = NULL;
  g_autofree char *copied = NULL;
  g_autofree char *text = NULL;

  if (!mw_harness_require ("s-nail", "s-nail"))
    return;
  {
    const char *argv[] = { "env",
                           home,
                           "s-nail",
                           "-n",
                           "-#",
                           "-S",
                           "v15-compat",
                           "-S",
                           imaps_password,
                           "-S",
                           ca,
                           "-S",
                           "tls-ca-no-defaults",
                           "-Y",
                           "headers",
                           "-Y",
                           "print 2",
                           "-Y",
                           "quit",
                           "-f",
                           imaps_inbox,
                           NULL };

    g_assert_cmpint (run (f, argv, "", &out), ==, 0);
  }
  g_test_message ("s-nail said:\n%s", out);
  g_assert_nonnull (strstr (out, " 1 bob@example.test "));
  g_assert_nonnull (strstr (out, " 2 carol@example.test "));
  g_assert_nonnull (strstr (out, " 3 dave@example.org "));
  g_assert_nonnull (strstr (out, " first "));
  g_assert_nonnull (strstr (out, " report with attachment"));
  g_assert_nonnull (strstr (out, "\nSubject: second\n"));
  g_assert_nonnull (strstr (out, "\nSecond body, about lunch.\n"));
  g_clear_pointer (&out, g_free);
  {
    const char *argv[] = { "env",
                           home,
                           "s-nail",
                           "-n",
                           "-#",
                           "-S",
                           "v15-compat",
                           "-S",
                           imap_password,
                           "-S",
                           "imap-use-starttls",
                           "-S",
                           ca,
                           "-S",
                           "tls-ca-no-defaults",
                           "-S",
                           folder,
                           "-Y",
                           "copy 3 +Archive",
                           "-Y",
                           "quit",
                           "-f",
                           "+INBOX",
                           NULL };

    g_assert_cmpint (run (f, argv, "", &out), ==, 0);
  }
  copied = find_message (f, "Archive", "Subject: report with attachment");
  g_assert_nonnull (copied);
  g_assert_true (g_file_get_contents (copied, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, messages[2]);
  g_assert_cmpuint (count_messages (f, NULL), ==, G_N_ELEMENTS (messages));
}

int
main (int argc, char **argv)
{
  static const char *const imaplib_checks[] = {
    "login-capability-list",
    "select-fetch",
    "uid-search",
    "store-copy-move-expunge",
    "append-flags-date",
    "idle-exists",
    "starttls",
    "imaps",
  };

  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (imaplib_checks); i++)
    {
      g_autofree char *path = g_strdup_printf (
          "/imap/interop/python-imaplib/%s", imaplib_checks[i]);

      g_test_add (path, Fixture, imaplib_checks[i], fixture_set_up,
                  test_imaplib, fixture_tear_down);
    }
#define ADD(path, func)                                                        \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/imap/interop/curl-imap-starttls-and-imaps", test_curl);
  ADD ("/imap/interop/fetchmail-keep-and-flush", test_fetchmail);
  ADD ("/imap/interop/mbsync-pull-push-upload", test_mbsync);
  ADD ("/imap/interop/mutt-read-and-save", test_mutt);
  ADD ("/imap/interop/s-nail-batch", test_s_nail);
#undef ADD
  return g_test_run ();
}
