/* SPDX-License-Identifier: MIT
 * test-mail-store.c: unit tests of the Maildir++ store (maildir(5),
 * Maildir++ folders, RFC 9051 §2.3.1.1 UIDs and §2.3.2 flags, RFC 1939 §8
 * maildrop lock). Every test works in its own g_dir_make_tmp () directory.
 */
#define _GNU_SOURCE /* nftw (), unshare () */

#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mail-folder-private.h" /* maildir_scan_count () */
#include "mail-store.h"

#define MESSAGE_TEXT                                                           \
  "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\n"      \
  "Hello Bob.\r\n"

typedef struct
{
  char *root; /* temporary Maildir++ root */
  MailStore *store;
} StoreFixture;

static int
remove_entry (const char *path,
              const struct stat *st,
              int flag,
              struct FTW *ftw)
{
  return remove (path);
}

static void
fixture_set_up (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->root = g_dir_make_tmp ("mw-store-XXXXXX", &error);
  g_assert_no_error (error);
  f->store = mail_store_open (f->root, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (StoreFixture *f, gconstpointer data)
{
  mail_store_free (f->store);
  g_assert_cmpint (nftw (f->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS), ==,
                   0);
  g_free (f->root);
}

/* ---- helpers ------------------------------------------------------------ */

static char *
deliver (StoreFixture *f, const char *folder, const char *text)
{
  g_autoptr (GError) error = NULL;
  char *name = NULL;

  g_assert_true (mail_maildir_deliver (f->root, folder, text, strlen (text),
                                       &name, &error));
  g_assert_no_error (error);
  return name;
}

static MailFolder *
open_folder (StoreFixture *f, const char *name)
{
  g_autoptr (GError) error = NULL;
  MailFolder *folder = mail_folder_open (f->store, name, &error);

  g_assert_no_error (error);
  return folder;
}

static void
sync_folder (MailFolder *folder, guint expect_added, guint expect_removed)
{
  g_autoptr (GError) error = NULL;
  guint added = 99;
  guint removed = 99;

  g_assert_true (mail_folder_sync (folder, &added, &removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (added, ==, expect_added);
  g_assert_cmpuint (removed, ==, expect_removed);
}

static void
assert_message_text (MailFolder *folder, guint index, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = mail_folder_read_message (folder, index, &error);

  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                   text, strlen (text));
}

static void
set_flags (MailFolder *folder,
           guint index,
           MailFlags flags,
           const char *const *keywords)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (
      mail_folder_set_flags (folder, index, flags, keywords, &error));
  g_assert_no_error (error);
}

static guint
count_files (const char *root, const char *sub)
{
  g_autofree char *path = g_build_filename (root, sub, NULL);
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  guint count = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    count++;
  return count;
}

static char *
read_file (const char *root, const char *name)
{
  g_autofree char *path = g_build_filename (root, name, NULL);
  g_autoptr (GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

static void
assert_folders (MailStore *store, const char *const *expected)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) folders = mail_store_list_folders (store, &error);

  g_assert_no_error (error);
  g_assert_cmpstrv (folders, expected);
}

/* The exit status of forked child @pid (128 if it did not exit). */
static int
wait_child (pid_t pid)
{
  int status = 0;

  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128;
}

/* ---- flags <-> info letters: case table --------------------------------- */

typedef struct
{
  const char *info;
  MailFlags flags;
  gboolean round_trips; /* mail_flags_to_info (flags) gives info back */
} FlagCase;

static const FlagCase flag_cases[] = {
  /* VALID: maildir(5) letters in ASCII order */
  { "", 0, TRUE },
  { "S", MAIL_FLAG_SEEN, TRUE },
  { "FS", MAIL_FLAG_FLAGGED | MAIL_FLAG_SEEN, TRUE },
  { "DT", MAIL_FLAG_DRAFT | MAIL_FLAG_DELETED, TRUE },
  { "DFRST",
    MAIL_FLAG_DRAFT | MAIL_FLAG_FLAGGED | MAIL_FLAG_ANSWERED | MAIL_FLAG_SEEN |
        MAIL_FLAG_DELETED,
    TRUE },
  /* RECOVERABLE: written by someone else, still read */
  { "SF", MAIL_FLAG_FLAGGED | MAIL_FLAG_SEEN, FALSE },
  { "Sab", MAIL_FLAG_SEEN, FALSE }, /* keyword letters are not flags */
  { "P", 0, FALSE },                /* "passed" has no IMAP flag */
  { "1.M2P3Q4.host,S=5:2,RS", MAIL_FLAG_ANSWERED | MAIL_FLAG_SEEN, FALSE },
};

static void
test_flags_info (gconstpointer data)
{
  const FlagCase *c = data;
  g_autofree char *info = mail_flags_to_info (c->flags);

  g_assert_cmpint (mail_flags_from_info (c->info), ==, c->flags);
  if (c->round_trips)
    g_assert_cmpstr (info, ==, c->info);
}

/* ---- delivery ----------------------------------------------------------- */

/* Messages are stored as received: CRLF and any octet, NUL included. */
static void
test_deliver_read_byte_exact (StoreFixture *f, gconstpointer data)
{
  static const char text[] = "Subject: bin\r\n\r\na\0b\r\n\xff\r\n";
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL;
  g_autoptr (MailFolder) folder = NULL;
  g_autoptr (GBytes) bytes = NULL;
  const MailMessage *message;

  g_assert_true (mail_maildir_deliver (f->root, NULL, text, sizeof text - 1,
                                       &name, &error));
  g_assert_no_error (error);
  folder = open_folder (f, "INBOX");
  g_assert_cmpuint (mail_folder_get_count (folder), ==, 1);
  message = mail_folder_get_message (folder, 0);
  g_assert_cmpuint (message->uid, ==, 1);
  g_assert_cmpstr (message->name, ==, name);
  g_assert_cmpuint (message->size, ==, sizeof text - 1);
  g_assert_cmpint (message->flags, ==, 0);
  g_assert_null (message->keywords);
  g_assert_true (message->recent);
  g_assert_cmpint (ABS (message->mtime - g_get_real_time () / G_USEC_PER_SEC),
                   <, 60);
  bytes = mail_folder_read_message (folder, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                   text, sizeof text - 1);
}

/* maildir(5): <time>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<CRLF size>,
 * unique per call. */
static void
test_deliver_name_format (StoreFixture *f, gconstpointer data)
{
  g_autofree char *first = deliver (f, NULL, MESSAGE_TEXT);
  g_autofree char *second = deliver (f, NULL, MESSAGE_TEXT);
  g_autofree char *pattern = g_strdup_printf (
      "^[0-9]+\\.M[0-9]+P%ldQ[0-9]+\\.[^/:]+,S=%zu,W=%zu$", (long) getpid (),
      strlen (MESSAGE_TEXT), strlen (MESSAGE_TEXT));

  g_assert_true (g_regex_match_simple (pattern, first, 0, 0));
  g_assert_true (g_regex_match_simple (pattern, second, 0, 0));
  g_assert_cmpstr (first, !=, second);
  g_assert_cmpuint (count_files (f->root, "new"), ==, 2);
  g_assert_cmpuint (count_files (f->root, "tmp"), ==, 0);
}

/* maildir(5): a file still in tmp/ was never delivered. */
static void
test_deliver_crash_in_tmp_invisible (StoreFixture *f, gconstpointer data)
{
  g_autofree char *crashed =
      g_build_filename (f->root, "tmp", "1700000000.M1P99999Q1.host,S=5", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (MailFolder) folder = NULL;
  g_autofree char *name = NULL;

  g_file_set_contents (crashed, "half", -1, &error);
  g_assert_no_error (error);
  folder = open_folder (f, NULL);
  g_assert_cmpuint (mail_folder_get_count (folder), ==, 0);
  name = deliver (f, NULL, MESSAGE_TEXT);
  sync_folder (folder, 1, 0);
  g_assert_cmpstr (mail_folder_get_message (folder, 0)->name, ==, name);
  g_assert_true (g_file_test (crashed, G_FILE_TEST_EXISTS));
}

/* A write that fails (here: the file size limit) leaves no file at all. */
static void
test_deliver_failure_leaves_nothing (StoreFixture *f, gconstpointer data)
{
  pid_t pid = fork ();

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      struct rlimit limit = { 8, 8 };
      g_autoptr (GError) error = NULL;
      gboolean ok;

      signal (SIGXFSZ, SIG_IGN); /* write () then fails with EFBIG */
      setrlimit (RLIMIT_FSIZE, &limit);
      ok = mail_maildir_deliver (f->root, NULL, MESSAGE_TEXT,
                                 strlen (MESSAGE_TEXT), NULL, &error);
      _exit (!ok && g_error_matches (error, MAIL_STORE_ERROR,
                                     MAIL_STORE_ERROR_FAILED)
                 ? 0
                 : 1);
    }
  g_assert_cmpint (wait_child (pid), ==, 0);
  g_assert_cmpuint (count_files (f->root, "tmp"), ==, 0);
  g_assert_cmpuint (count_files (f->root, "new"), ==, 0);
}

#define CHILD_CANNOT_MOUNT 77

/* In a child with its own mount namespace, delivers 64 KiB into a 16 KiB
 * tmpfs: exits 0 if that gave NO_SPACE and left tmp/ empty. */
static int
no_space_child (const char *root)
{
  g_autofree char *full = g_build_filename (root, "full", NULL);
  g_autofree char *big = g_malloc0 (64 * 1024);
  g_autoptr (GError) error = NULL;

  if (mkdir (full, 0700) != 0)
    return 3;
  if (unshare (CLONE_NEWNS) != 0 ||
      mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      mount ("tmpfs", full, "tmpfs", 0, "size=16k") != 0)
    return CHILD_CANNOT_MOUNT;
  if (mail_maildir_deliver (full, NULL, big, 64 * 1024, NULL, &error) ||
      !g_error_matches (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_NO_SPACE))
    return 1;
  return count_files (full, "tmp") + count_files (full, "new") == 0 ? 0 : 2;
}

/* ENOSPC must reach the SMTP server as NO_SPACE (it answers 452,
 * RFC 5321 §4.2.2) and leave no partial file behind. */
static void
test_deliver_no_space (StoreFixture *f, gconstpointer data)
{
  pid_t pid = fork ();
  int status;

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (no_space_child (f->root));
  status = wait_child (pid);
  if (status == CHILD_CANNOT_MOUNT)
    {
      /* the reasons ./run test cannot fix; they say which */
      g_test_skip (geteuid () != 0
                       ? "not root: mounting a 16 KiB tmpfs needs "
                         "CAP_SYS_ADMIN"
                       : "no CAP_SYS_ADMIN: root, but mounting a 16 KiB "
                         "tmpfs was refused (a container without it)");
      return;
    }
  g_assert_cmpint (status, ==, 0);
}

static void
test_deliver_creates_maildir_and_folder (StoreFixture *f, gconstpointer data)
{
  g_autofree char *root = g_build_filename (f->root, "fresh", NULL);
  g_autofree char *marker =
      g_build_filename (root, ".Lists.GLib", "maildirfolder", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (MailStore) store = NULL;
  g_autoptr (MailFolder) folder = NULL;
  const char *const expected[] = { "INBOX", "Lists/GLib", NULL };

  g_assert_true (mail_maildir_deliver (root, "Lists/GLib", MESSAGE_TEXT,
                                       strlen (MESSAGE_TEXT), NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (marker, G_FILE_TEST_IS_REGULAR));
  store = mail_store_open (root, &error);
  g_assert_no_error (error);
  assert_folders (store, expected);
  folder = mail_folder_open (store, "Lists/GLib", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mail_folder_get_count (folder), ==, 1);
  assert_message_text (folder, 0, MESSAGE_TEXT);
}

/* ---- UIDs (RFC 9051 §2.3.1.1) -------------------------------------------- */

static void
test_uid_stable_across_reopen (StoreFixture *f, gconstpointer data)
{
  char *names[4] = { NULL };
  MailFolder *folder;
  guint32 uidvalidity;

  for (guint i = 0; i < 3; i++)
    names[i] = deliver (f, NULL, MESSAGE_TEXT);
  folder = open_folder (f, NULL);
  uidvalidity = mail_folder_get_uidvalidity (folder);
  g_assert_cmpuint (uidvalidity, >, 0);
  g_assert_cmpuint (mail_folder_get_uidnext (folder), ==, 4);
  mail_folder_free (folder);
  names[3] = deliver (f, NULL, MESSAGE_TEXT);
  folder = open_folder (f, NULL);
  g_assert_cmpuint (mail_folder_get_uidvalidity (folder), ==, uidvalidity);
  g_assert_cmpuint (mail_folder_get_uidnext (folder), ==, 5);
  g_assert_cmpuint (mail_folder_get_count (folder), ==, 4);
  for (guint i = 0; i < 4; i++)
    {
      g_assert_cmpuint (mail_folder_get_message (folder, i)->uid, ==, i + 1);
      g_assert_cmpstr (mail_folder_get_message (folder, i)->name, ==, names[i]);
      g_assert_cmpint (mail_folder_find_uid (folder, i + 1), ==, i);
    }
  g_assert_cmpint (mail_folder_find_uid (folder, 5), ==, -1);
  mail_folder_free (folder);
  for (guint i = 0; i < 4; i++)
    g_free (names[i]);
}

/* Many deliveries in one microsecond range still sort by Q counter. */
static void
test_uid_follow_delivery_order (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (MailFolder) folder = NULL;

  for (guint i = 0; i < 25; i++)
    g_ptr_array_add (names, deliver (f, NULL, MESSAGE_TEXT));
  folder = open_folder (f, NULL);
  g_assert_cmpuint (mail_folder_get_count (folder), ==, names->len);
  for (guint i = 0; i < names->len; i++)
    g_assert_cmpstr (mail_folder_get_message (folder, i)->name, ==,
                     names->pdata[i]);
}

/* The header documents "3 V<uidvalidity> N<uidnext> R<first recent>
 * M<highest modseq> T<new/ mtime>:<cur/ mtime>:<scan time>", then
 * "<uid> <modseq> <size> <mtime> new|cur/<file name>" lines. */
static void
test_uid_uidlist_format (StoreFixture *f, gconstpointer data)
{
  g_autofree char *name = deliver (f, NULL, MESSAGE_TEXT);
  g_autoptr (MailFolder) folder = open_folder (f, NULL);
  g_autofree char *contents = read_file (f->root, "mailwire-uidlist");
  g_auto (GStrv) lines = g_strsplit (contents, "\n", -1);
  g_autofree char *header = g_strdup_printf (
      "3 V%u N2 R1 M2 T", mail_folder_get_uidvalidity (folder));
  g_autofree char *entry = g_strdup_printf (
      "1 2 %zu %" G_GINT64_FORMAT " new/%s", strlen (MESSAGE_TEXT),
      mail_folder_get_message (folder, 0)->mtime, name);

  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_assert_true (g_str_has_prefix (lines[0], header));
  g_assert_cmpstr (lines[1], ==, entry);
  g_assert_cmpstr (lines[2], ==, "");
}

static void
test_uid_vanished_files_dropped (StoreFixture *f, gconstpointer data)
{
  g_autofree char *first = deliver (f, NULL, MESSAGE_TEXT);
  g_autofree char *second = deliver (f, NULL, MESSAGE_TEXT);
  g_autofree char *path = g_build_filename (f->root, "new", first, NULL);
  g_autofree char *contents = NULL;
  g_autoptr (MailFolder) folder = open_folder (f, NULL);

  g_assert_cmpint (unlink (path), ==, 0);
  g_clear_pointer (&folder, mail_folder_free);
  folder = open_folder (f, NULL);
  g_assert_cmpuint (mail_folder_get_count (folder), ==, 1);
  g_assert_cmpuint (mail_folder_get_message (folder, 0)->uid, ==, 2);
  g_assert_cmpuint (mail_folder_get_uidnext (folder), ==, 3);
  contents = read_file (f->root, "mailwire-uidlist");
  g_assert_null (strstr (contents, first));
  g_assert_nonnull (strstr (contents, second));
}

#define RACE_CHILDREN 6
#define RACE_MESSAGES 15

/* One racing process: delivers and opens INBOX RACE_MESSAGES times and
 * logs every "<uid> <name>" it was shown. */
static int
race_child (const char *root, int start_fd, guint child)
{
  g_autofree char *log_path = g_strdup_printf ("%s/race-%u.log", root, child);
  g_autoptr (GString) log = g_string_new (NULL);
  g_autoptr (MailStore) store = mail_store_open (root, NULL);
  char byte;

  if (store == NULL || read (start_fd, &byte, 1) != 0) /* wait for EOF */
    return 1;
  for (guint i = 0; i < RACE_MESSAGES; i++)
    {
      g_autoptr (MailFolder) folder = NULL;

      if (!mail_maildir_deliver (root, NULL, MESSAGE_TEXT,
                                 strlen (MESSAGE_TEXT), NULL, NULL))
        return 2;
      folder = mail_folder_open (store, NULL, NULL);
      if (folder == NULL)
        return 3;
      for (guint m = 0; m < mail_folder_get_count (folder); m++)
        g_string_append_printf (log, "%u %s\n",
                                mail_folder_get_message (folder, m)->uid,
                                mail_folder_get_message (folder, m)->name);
    }
  return g_file_set_contents (log_path, log->str, log->len, NULL) ? 0 : 4;
}

/* Every "<uid> <name>" a child saw must agree with the final view. */
static void
assert_race_log_agrees (const char *root, guint child, MailFolder *folder)
{
  g_autofree char *name = g_strdup_printf ("race-%u.log", child);
  g_autofree char *contents = read_file (root, name);
  g_auto (GStrv) lines = g_strsplit (contents, "\n", -1);

  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      char *end = NULL;
      guint64 uid = g_ascii_strtoull (lines[i], &end, 10);
      gint index = mail_folder_find_uid (folder, (guint32) uid);

      g_assert_cmpint (index, >=, 0);
      g_assert_cmpstr (mail_folder_get_message (folder, index)->name, ==,
                       end + 1);
    }
}

static void
test_uid_unique_across_processes (StoreFixture *f, gconstpointer data)
{
  pid_t pids[RACE_CHILDREN];
  int start[2];
  g_autoptr (MailFolder) folder = NULL;
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);

  g_assert_cmpint (pipe (start), ==, 0);
  for (guint c = 0; c < RACE_CHILDREN; c++)
    {
      pids[c] = fork ();
      g_assert_cmpint (pids[c], >=, 0);
      if (pids[c] == 0)
        {
          close (start[1]);
          _exit (race_child (f->root, start[0], c));
        }
    }
  close (start[0]);
  close (start[1]); /* all children start at once */
  for (guint c = 0; c < RACE_CHILDREN; c++)
    g_assert_cmpint (wait_child (pids[c]), ==, 0);
  folder = open_folder (f, NULL);
  g_assert_cmpuint (mail_folder_get_count (folder), ==,
                    RACE_CHILDREN * RACE_MESSAGES);
  for (guint i = 0; i < mail_folder_get_count (folder); i++)
    {
      const MailMessage *message = mail_folder_get_message (folder, i);

      g_assert_cmpuint (message->uid, ==, i + 1); /* distinct, no gaps */
      g_assert_true (g_hash_table_add (names, message->name));
    }
  for (guint c = 0; c < RACE_CHILDREN; c++)
    assert_race_log_agrees (f->root, c, folder);
}

/* ---- flags, keywords, \Recent -------------------------------------------- */

static void
test_flags_survive_reopen (StoreFixture *f, gconstpointer data)
{
  g_autofree char *name = deliver (f, NULL, MESSAGE_TEXT);
  g_autofree char *expected = g_strdup_printf ("%s/cur/%s:2,FS", f->root, name);
  g_autofree char *cleared = g_strdup_printf ("%s/cur/%s:2,", f->root, name);
  MailFolder *folder = open_folder (f, NULL);

  set_flags (folder, 0, MAIL_FLAG_SEEN | MAIL_FLAG_FLAGGED, NULL);
  g_assert_cmpstr (mail_folder_get_message (folder, 0)->path, ==, expected);
  g_assert_true (g_file_test (expected, G_FILE_TEST_IS_REGULAR));
  mail_folder_free (folder);
  folder = open_folder (f, NULL);
  g_assert_cmpint (mail_folder_get_message (folder, 0)->flags, ==,
                   MAIL_FLAG_SEEN | MAIL_FLAG_FLAGGED);
  g_assert_cmpuint (mail_folder_get_message (folder, 0)->uid, ==, 1);
  set_flags (folder, 0, 0, NULL);
  g_assert_true (g_file_test (cleared, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (count_files (f->root, "cur"), ==, 1);
  assert_message_text (folder, 0, MESSAGE_TEXT);
  mail_folder_free (folder);
}

/* Keyword letters a..z are indexes into dovecot-keywords, as Dovecot
 * writes them; flags then keywords, in ASCII order. */
static void
test_flags_keywords_round_trip (StoreFixture *f, gconstpointer data)
{
  const char *const both[] = { "work", "$Junk", NULL };
  const char *const one[] = { "$junk", NULL }; /* case-insensitive */
  const char *const expected_both[] = { "work", "$Junk", NULL };
  g_autofree char *first = deliver (f, NULL, MESSAGE_TEXT);
  g_autofree char *second = deliver (f, NULL, MESSAGE_TEXT);
  g_autofree char *keywords = NULL;
  MailFolder *folder = open_folder (f, NULL);

  set_flags (folder, 0, MAIL_FLAG_SEEN, both);
  set_flags (folder, 1, MAIL_FLAG_ANSWERED, one);
  g_assert_true (
      g_str_has_suffix (mail_folder_get_message (folder, 0)->path, ":2,Sab"));
  g_assert_true (
      g_str_has_suffix (mail_folder_get_message (folder, 1)->path, ":2,Rb"));
  keywords = read_file (f->root, "dovecot-keywords");
  g_assert_cmpstr (keywords, ==, "0 work\n1 $Junk\n");
  mail_folder_free (folder);
  folder = open_folder (f, NULL);
  g_assert_cmpstrv (mail_folder_get_message (folder, 0)->keywords,
                    expected_both);
  g_assert_cmpstr (mail_folder_get_message (folder, 1)->keywords[0], ==,
                   "$Junk");
  g_assert_null (mail_folder_get_message (folder, 1)->keywords[1]);
  set_flags (folder, 0, MAIL_FLAG_SEEN, NULL);
  g_assert_null (mail_folder_get_message (folder, 0)->keywords);
  mail_folder_free (folder);
}

static void
test_flags_keyword_limits (StoreFixture *f, gconstpointer data)
{
  const char *const invalid[] = { "two words", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *name = deliver (f, NULL, MESSAGE_TEXT);
  g_autoptr (MailFolder) folder = open_folder (f, NULL);
  g_autoptr (GPtrArray) many = g_ptr_array_new_with_free_func (g_free);

  g_assert_false (mail_folder_set_flags (folder, 0, 0, invalid, &error));
  g_assert_error (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_INVALID);
  g_clear_error (&error);
  for (guint i = 0; i < 26; i++)
    g_ptr_array_add (many, g_strdup_printf ("k%u", i));
  g_ptr_array_add (many, NULL);
  set_flags (folder, 0, 0, (const char *const *) many->pdata);
  g_assert_cmpuint (
      g_strv_length (mail_folder_get_message (folder, 0)->keywords), ==, 26);
  g_ptr_array_insert (many, 0, g_strdup ("one-too-many"));
  g_assert_false (mail_folder_set_flags (
      folder, 0, 0, (const char *const *) many->pdata, &error));
  g_assert_error (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_FAILED);
}

/* RFC 3501 §2.3.2: \Recent belongs to the first claiming handle (IMAP
 * SELECT) to see a message, and stays with it; others see it no more,
 * while handles that only look (EXAMINE, POP3) see it until it is
 * claimed. */
static void
test_recent_claimed_once (StoreFixture *f, gconstpointer data)
{
  g_autofree char *name = deliver (f, NULL, MESSAGE_TEXT);
  g_autoptr (MailFolder) looker = open_folder (f, NULL);
  g_autoptr (MailFolder) first = NULL;
  g_autoptr (MailFolder) second = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (mail_folder_get_message (looker, 0)->recent);
  first =
      mail_folder_open_full (f->store, NULL, MAIL_FOLDER_CLAIM_RECENT, &error);
  g_assert_no_error (error);
  g_assert_true (mail_folder_get_message (first, 0)->recent);
  set_flags (first, 0, MAIL_FLAG_SEEN, NULL);
  g_assert_cmpuint (count_files (f->root, "new"), ==, 0);
  sync_folder (first, 0, 0);
  g_assert_true (mail_folder_get_message (first, 0)->recent);
  second =
      mail_folder_open_full (f->store, NULL, MAIL_FOLDER_CLAIM_RECENT, &error);
  g_assert_false (mail_folder_get_message (second, 0)->recent);
  g_clear_pointer (&name, g_free);
  name = deliver (f, NULL, MESSAGE_TEXT);
  sync_folder (second, 1, 0);
  sync_folder (first, 1, 0);
  g_assert_true (mail_folder_get_message (second, 1)->recent);
  g_assert_false (mail_folder_get_message (first, 1)->recent);
}

/* ---- folders ------------------------------------------------------------ */

static void
create_folder (StoreFixture *f, const char *name)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (mail_store_create_folder (f->store, name, &error));
  g_assert_no_error (error);
}

static void
test_folder_lifecycle (StoreFixture *f, gconstpointer data)
{
  const char *const created[] = { "INBOX", "Archive", "Lists", "Lists/GLib",
                                  NULL };
  const char *const renamed[] = { "INBOX", "Archive", "Mail", "Mail/GLib",
                                  NULL };
  const char *const deleted[] = { "INBOX", "Mail", "Mail/GLib", NULL };
  g_autofree char *marker =
      g_build_filename (f->root, ".Lists.GLib", "maildirfolder", NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL;
  g_autoptr (MailFolder) folder = NULL;
  guint32 uidvalidity;

  create_folder (f, "Lists");
  create_folder (f, "Archive");
  create_folder (f, "Lists/GLib");
  assert_folders (f->store, created);
  g_assert_true (g_file_test (marker, G_FILE_TEST_IS_REGULAR));
  name = deliver (f, "Lists/GLib", MESSAGE_TEXT);
  folder = open_folder (f, "Lists/GLib");
  uidvalidity = mail_folder_get_uidvalidity (folder);
  g_clear_pointer (&folder, mail_folder_free);
  /* RFC 9051 §6.3.6: inferior names move along */
  g_assert_true (mail_store_rename_folder (f->store, "Lists", "Mail", &error));
  g_assert_no_error (error);
  assert_folders (f->store, renamed);
  folder = open_folder (f, "Mail/GLib");
  g_assert_cmpuint (mail_folder_get_uidvalidity (folder), ==, uidvalidity);
  g_assert_cmpstr (mail_folder_get_message (folder, 0)->name, ==, name);
  assert_message_text (folder, 0, MESSAGE_TEXT);
  g_assert_true (mail_store_delete_folder (f->store, "Archive", &error));
  g_assert_no_error (error);
  assert_folders (f->store, deleted);
  /* no trash left: the folders, the lock, the last UIDVALIDITY */
  g_assert_cmpuint (count_files (f->root, ""), ==, 7);
}

/* Sets the modification time of ROOT/@sub to @seconds ago. */
static void
age_directory (StoreFixture *f, const char *sub, gint64 seconds)
{
  g_autofree char *path = g_build_filename (f->root, sub, NULL);
  struct timespec times[2] = { { time (NULL) - seconds, 0 },
                               { time (NULL) - seconds, 0 } };

  g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);
}

/* The uidlist stands for new/ and cur/ while their time stamps are the
 * ones its scan saw (and old enough to trust): opening a big folder then
 * reads one file, not every directory entry. A file slipped in behind the
 * time stamps' back is not seen; any real change of the directory is. */
static void
test_uid_unchanged_dirs_are_not_rescanned (StoreFixture *f, gconstpointer data)
{
  g_autofree char *first = deliver (f, NULL, MESSAGE_TEXT);
  g_autofree char *hidden = NULL;
  g_autoptr (MailFolder) folder = NULL;

  age_directory (f, "new", 10);
  age_directory (f, "cur", 10);
  g_clear_pointer (&folder, mail_folder_free);
  folder = open_folder (f, NULL); /* scans, and notes the time stamps */
  g_assert_cmpuint (mail_folder_get_count (folder), ==, 1);
  hidden = deliver (f, NULL, MESSAGE_TEXT);
  age_directory (f, "new", 10); /* as if nothing had happened */
  g_clear_pointer (&folder, mail_folder_free);
  folder = open_folder (f, NULL);
  g_assert_cmpuint (mail_folder_get_count (folder), ==, 1);
  g_assert_cmpuint (mail_folder_get_message (folder, 0)->size, ==,
                    strlen (MESSAGE_TEXT));
  age_directory (f, "new", 5); /* a real change moves the time stamp */
  g_clear_pointer (&folder, mail_folder_free);
  folder = open_folder (f, NULL);
  g_assert_cmpuint (mail_folder_get_count (folder), ==, 2);
}

/* The identity of ROOT/mailwire-uidlist: a rewrite renames a new file
 * into place, so another inode or time stamp means it was rewritten. */
typedef struct
{
  ino_t inode;
  gint64 mtime_ns;
} FileStamp;

static FileStamp
uidlist_stamp (StoreFixture *f)
{
  g_autofree char *path = g_build_filename (f->root, "mailwire-uidlist", NULL);
  struct stat st;

  g_assert_cmpint (stat (path, &st), ==, 0);
  return (FileStamp){ st.st_ino,
                      st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) +
                          st.st_mtim.tv_nsec };
}

static gint64
directory_mtime_ns (StoreFixture *f, const char *sub)
{
  g_autofree char *path = g_build_filename (f->root, sub, NULL);
  struct stat st;

  g_assert_cmpint (stat (path, &st), ==, 0);
  return st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) +
         st.st_mtim.tv_nsec;
}

/* Waits (at most 3 s) until no change can get the time stamps new/ and
 * cur/ have now: the kernel's coarse clock, which stamps directories, is
 * past them (a whole second past, for a file system that keeps only
 * seconds). That is what "the change has settled" means to the store. */
static void
wait_until_directories_settle (StoreFixture *f)
{
  gint64 newest =
      MAX (directory_mtime_ns (f, "new"), directory_mtime_ns (f, "cur"));
  gint64 past = newest % G_GINT64_CONSTANT (1000000000) == 0
                    ? newest + G_GINT64_CONSTANT (1000000000)
                    : newest + 1;
  struct timespec now;

  for (int i = 0; i < 3000; i++)
    {
      g_assert_cmpint (clock_gettime (CLOCK_REALTIME_COARSE, &now), ==, 0);
      if (now.tv_sec * G_GINT64_CONSTANT (1000000000) + now.tv_nsec > past)
        return;
      g_usleep (1000);
    }
  g_assert_not_reached ();
}

/* Once a change has settled, one open's scan is trusted by every later
 * open: they read the uidlist and neither list new/ and cur/ again nor
 * rewrite the list (a 10,000-message folder's is 800 KB). Before, a scan
 * less than a second after the change was trusted by nobody, and every
 * open in that second, and the first after it, scanned and rewrote. */
static void
test_uid_settled_folder_is_read_not_rescanned (StoreFixture *f,
                                               gconstpointer data)
{
  g_autofree char *first = deliver (f, NULL, MESSAGE_TEXT);
  g_autofree char *second = NULL;
  g_autoptr (MailFolder) folder = open_folder (f, NULL);
  FileStamp before;
  FileStamp after;
  guint scans;

  wait_until_directories_settle (f);
  g_clear_pointer (&folder, mail_folder_free);
  folder = open_folder (f, NULL); /* scans once more: the first was early */
  before = uidlist_stamp (f);
  scans = maildir_scan_count ();
  for (int i = 0; i < 3; i++)
    {
      g_clear_pointer (&folder, mail_folder_free);
      folder = open_folder (f, NULL);
      g_assert_cmpuint (mail_folder_get_count (folder), ==, 1);
    }
  after = uidlist_stamp (f);
  g_assert_cmpuint (after.inode, ==, before.inode);
  g_assert_cmpint (after.mtime_ns, ==, before.mtime_ns);
  g_assert_cmpuint (maildir_scan_count (), ==, scans);
  /* and a message another program delivers meanwhile is seen at once */
  second = deliver (f, NULL, MESSAGE_TEXT);
  g_clear_pointer (&folder, mail_folder_free);
  folder = open_folder (f, NULL);
  g_assert_cmpuint (mail_folder_get_count (folder), ==, 2);
}

/* Sets the modification time of ROOT/@sub to @ns (nanoseconds). */
static void
stamp_directory (StoreFixture *f, const char *sub, gint64 ns)
{
  g_autofree char *path = g_build_filename (f->root, sub, NULL);
  struct timespec times[2];

  times[0].tv_sec = times[1].tv_sec = ns / G_GINT64_CONSTANT (1000000000);
  times[0].tv_nsec = times[1].tv_nsec = ns % G_GINT64_CONSTANT (1000000000);
  g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);
}

/* A delivery in the same clock tick as a scan (or, where a file system
 * keeps whole seconds, the same second) leaves new/'s time stamp as the
 * scan saw it. Such a stamp is never trusted: the second message is seen.
 * @stamp_ns: the stamp new/ is given, as the tick of "now" would. */
static void
assert_same_tick_delivery_is_seen (StoreFixture *f, gint64 stamp_ns)
{
  g_autofree char *first = deliver (f, NULL, MESSAGE_TEXT);
  g_autofree char *second = NULL;
  g_autoptr (MailFolder) folder = NULL;
  guint before = 0;

  stamp_directory (f, "new", stamp_ns);
  folder = open_folder (f, NULL);
  before = mail_folder_get_count (folder);
  second = deliver (f, NULL, MESSAGE_TEXT);
  stamp_directory (f, "new", stamp_ns); /* the same tick: no change seen */
  g_clear_pointer (&folder, mail_folder_free);
  folder = open_folder (f, NULL);
  g_assert_cmpuint (mail_folder_get_count (folder), ==, before + 1);
}

static void
test_uid_same_tick_delivery_is_seen (StoreFixture *f, gconstpointer data)
{
  struct timespec now;

  g_assert_cmpint (clock_gettime (CLOCK_REALTIME_COARSE, &now), ==, 0);
  /* a stamp not older than the scan: the scan's own tick, or later (a
   * minute ahead, so that a loaded machine cannot make it the past) */
  assert_same_tick_delivery_is_seen (
      f, (now.tv_sec + 60) * G_GINT64_CONSTANT (1000000000) + 1);
}

static void
test_uid_same_second_delivery_is_seen (StoreFixture *f, gconstpointer data)
{
  struct timespec now;
  struct timespec after;

  /* The premise: the scans and the deliveries all fall in the second the
   * stamp names, as on a file system that keeps seconds. A loaded machine
   * may take longer than that second; then what was tested is not the
   * premise, so it is run again (a stamp of a past second is trusted by
   * design: a real delivery then would have stamped a later second). */
  for (int attempt = 0; attempt < 5; attempt++)
    {
      /* early in a second, so the test runs within it */
      for (int i = 0; i < 1000; i++)
        {
          g_assert_cmpint (clock_gettime (CLOCK_REALTIME, &now), ==, 0);
          if (now.tv_nsec < 500000000)
            break;
          g_usleep (1000);
        }
      /* what a file system that keeps seconds stamps a change made now with */
      assert_same_tick_delivery_is_seen (f, now.tv_sec *
                                                G_GINT64_CONSTANT (1000000000));
      g_assert_cmpint (clock_gettime (CLOCK_REALTIME_COARSE, &after), ==, 0);
      if (after.tv_sec == now.tv_sec)
        return;
      g_test_message ("attempt %d did not fit in its second: again", attempt);
    }
  g_test_incomplete ("five attempts in a row did not fit in one second "
                     "(a loaded machine)");
}

/* A uidlist written by older code has no coarse scan time ("T" with
 * three numbers): it is trusted only with the second's margin that code
 * had, so a delivery that left new/'s stamp as that scan saw it, less
 * than a second after, is still seen. */
static void
test_uid_older_list_keeps_its_rule (StoreFixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->root, "mailwire-uidlist", NULL);
  g_autofree char *first = deliver (f, NULL, MESSAGE_TEXT);
  g_autofree char *second = NULL;
  g_autofree char *contents = NULL;
  g_autoptr (MailFolder) folder = open_folder (f, NULL);
  g_autoptr (GString) older = NULL;
  gint64 stamps[4] = { 0, 0, 0, 0 };
  const char *field = NULL;
  gint64 newest = 0;

  contents = read_file (f->root, "mailwire-uidlist");
  field = strstr (contents, " T");
  g_assert_nonnull (field);
  g_assert_cmpint (sscanf (field,
                           " T%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT
                           ":%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT,
                           &stamps[0], &stamps[1], &stamps[2], &stamps[3]),
                   ==, 4);
  newest = MAX (stamps[0], stamps[1]);
  /* as older code wrote it: its scan half a second after the stamps */
  older = g_string_new_len (contents, field - contents);
  g_string_append_printf (
      older,
      " T%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT "%s",
      stamps[0], stamps[1], newest + G_GINT64_CONSTANT (500000000),
      strchr (field, '\n'));
  g_assert_true (g_file_set_contents (path, older->str, -1, NULL));
  second = deliver (f, NULL, MESSAGE_TEXT);
  stamp_directory (f, "new", stamps[0]); /* the same tick: no change seen */
  g_clear_pointer (&folder, mail_folder_free);
  folder = open_folder (f, NULL);
  g_assert_cmpuint (mail_folder_get_count (folder), ==, 2);
}

/* RFC 9051 §7.5.1: a sync during FETCH keeps a message another session
 * removed (MAIL_FOLDER_SYNC_KEEP); the next command that may tell of
 * expunges must sync again to drop it, though the directories have not
 * changed since: may_have_changed says so. */
static void
test_sync_kept_removal_is_still_news (StoreFixture *f, gconstpointer data)
{
  g_autofree char *first = deliver (f, NULL, MESSAGE_TEXT);
  g_autofree char *second = deliver (f, NULL, MESSAGE_TEXT);
  g_autoptr (MailFolder) viewer = open_folder (f, NULL);
  g_autoptr (MailFolder) other = open_folder (f, NULL);
  g_autoptr (GError) error = NULL;
  guint added = 0;
  guint removed = 0;

  g_assert_true (mail_folder_delete_message (other, 0, &error));
  g_assert_no_error (error);
  g_assert_true (mail_folder_sync_full (viewer, MAIL_FOLDER_SYNC_KEEP, &added,
                                        &removed, &error));
  g_assert_cmpuint (mail_folder_get_count (viewer), ==, 2); /* kept, gone */
  wait_until_directories_settle (f);
  g_assert_true (mail_folder_may_have_changed (viewer));
  sync_folder (viewer, 0, 1);
  wait_until_directories_settle (f);
  g_assert_false (mail_folder_may_have_changed (viewer));
}

/* RFC 6851: a move is one rename: flags, keywords (with the target's
 * letters) and date go along, and the source no longer has the file */
static void
test_folder_move_message (StoreFixture *f, gconstpointer data)
{
  const char *keywords[] = { "$Work", NULL };
  g_autofree char *name = deliver (f, NULL, MESSAGE_TEXT);
  g_autofree char *moved = NULL;
  g_autoptr (MailFolder) inbox = open_folder (f, NULL);
  g_autoptr (MailFolder) archive = NULL;
  g_autoptr (GError) error = NULL;
  gint64 mtime = mail_folder_get_message (inbox, 0)->mtime;

  g_assert_true (mail_store_create_folder (f->store, "Archive", &error));
  set_flags (inbox, 0, MAIL_FLAG_FLAGGED, keywords);
  g_assert_true (
      mail_folder_move_message (inbox, 0, "Archive", &moved, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (moved, ==, name);
  sync_folder (inbox, 0, 1);
  archive = open_folder (f, "Archive");
  g_assert_cmpuint (mail_folder_get_count (archive), ==, 1);
  g_assert_cmpint (mail_folder_get_message (archive, 0)->flags, ==,
                   MAIL_FLAG_FLAGGED);
  g_assert_cmpstrv (mail_folder_get_message (archive, 0)->keywords, keywords);
  g_assert_cmpint (mail_folder_get_message (archive, 0)->mtime, ==, mtime);
  assert_message_text (archive, 0, MESSAGE_TEXT);
}

/* A file another program wrote with bare LF (mutt does) is counted and
 * read with CRLF, as POP3 and IMAP must send it (RFC 5322 §2.1). */
static void
test_deliver_bare_lf_file_reads_as_crlf (StoreFixture *f, gconstpointer data)
{
  const char *lf = "Subject: from mutt\n\nline one\nline two\n";
  const char *crlf = "Subject: from mutt\r\n\r\nline one\r\nline two\r\n";
  g_autofree char *path =
      g_build_filename (f->root, "new", "1700000000.mutt.host", NULL);
  g_autoptr (MailFolder) folder = NULL;

  g_assert_true (g_file_set_contents (path, lf, -1, NULL));
  folder = open_folder (f, NULL);
  g_assert_cmpuint (mail_folder_get_message (folder, 0)->size, ==,
                    strlen (crlf));
  assert_message_text (folder, 0, crlf);
}

/* A version 1 uidlist (before MODSEQ) keeps its UIDs. */
static void
test_uid_reads_version_1 (StoreFixture *f, gconstpointer data)
{
  g_autofree char *name = deliver (f, NULL, MESSAGE_TEXT);
  g_autofree char *path = g_build_filename (f->root, "mailwire-uidlist", NULL);
  g_autofree char *v1 = g_strdup_printf ("1 V4242 N8\n7 %s\n", name);
  g_autoptr (MailFolder) folder = NULL;

  g_assert_true (g_file_set_contents (path, v1, -1, NULL));
  folder = open_folder (f, NULL);
  g_assert_cmpuint (mail_folder_get_uidvalidity (folder), ==, 4242);
  g_assert_cmpuint (mail_folder_get_message (folder, 0)->uid, ==, 7);
  g_assert_cmpuint (mail_folder_get_uidnext (folder), ==, 8);
}

/* RFC 7162 §3.1: every change gets a higher MODSEQ: our STORE, another
 * program's rename, an expunge (remembered for VANISHED) */
static void
test_modseq_grows (StoreFixture *f, gconstpointer data)
{
  g_autofree char *first = deliver (f, NULL, MESSAGE_TEXT);
  g_autofree char *second = deliver (f, NULL, MESSAGE_TEXT);
  g_autoptr (MailFolder) folder = open_folder (f, NULL);
  g_autoptr (MailFolder) other = open_folder (f, NULL);
  g_autoptr (GArray) gone = NULL;
  guint64 start = mail_folder_get_highest_modseq (folder);
  guint64 stored;

  set_flags (folder, 0, MAIL_FLAG_SEEN, NULL);
  stored = mail_folder_get_message (folder, 0)->modseq;
  g_assert_cmpuint (stored, >, start);
  g_assert_cmpuint (mail_folder_get_highest_modseq (folder), ==, stored);
  set_flags (folder, 0, MAIL_FLAG_SEEN, NULL); /* no change: same MODSEQ */
  g_assert_cmpuint (mail_folder_get_message (folder, 0)->modseq, ==, stored);
  set_flags (other, 1, MAIL_FLAG_FLAGGED, NULL);
  sync_folder (folder, 0, 0);
  g_assert_cmpuint (mail_folder_get_message (folder, 1)->modseq, >, stored);
  g_assert_true (mail_folder_delete_message (folder, 0, NULL));
  sync_folder (folder, 0, 1);
  gone = mail_folder_expunged_since (folder, stored);
  g_assert_cmpuint (gone->len, ==, 1);
  g_assert_cmpuint (g_array_index (gone, MailUidRange, 0).first, ==, 1);
  g_clear_pointer (&gone, g_array_unref);
  gone = mail_folder_expunged_since (folder,
                                     mail_folder_get_highest_modseq (folder));
  g_assert_cmpuint (gone->len, ==, 0);
}

/* RFC 9051 §2.3.1.1: a folder deleted and made again in the same second
 * gets another UIDVALIDITY, so clients drop what they cached. */
static void
test_folder_recreated_new_uidvalidity (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailFolder) first = NULL;
  g_autoptr (MailFolder) second = NULL;

  g_assert_true (mail_store_create_folder (f->store, "Again", &error));
  first = open_folder (f, "Again");
  g_assert_true (mail_store_delete_folder (f->store, "Again", &error));
  g_assert_true (mail_store_create_folder (f->store, "Again", &error));
  g_assert_no_error (error);
  second = open_folder (f, "Again");
  g_assert_cmpuint (mail_folder_get_uidvalidity (second), >,
                    mail_folder_get_uidvalidity (first));
}

/* ---- UIDVALIDITY when a uidlist is lost (RFC 9051 §2.3.1.1) -------------- */

/* The UIDs of @folder, "1 2 3" (transfer full). */
static char *
uids_of (MailFolder *folder)
{
  g_autoptr (GString) uids = g_string_new (NULL);

  for (guint i = 0; i < mail_folder_get_count (folder); i++)
    g_string_append_printf (uids, "%s%u", i ? " " : "",
                            mail_folder_get_message (folder, i)->uid);
  return g_string_free (g_steal_pointer (&uids), FALSE);
}

/* A uidlist removed (by hand, or by a program that got it wrong) gives
 * the folder a new UIDVALIDITY, in the same second too: its UIDs are
 * handed out again, from 1. */
static void
test_uidvalidity_removed_uidlist_is_new (StoreFixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->root, "mailwire-uidlist", NULL);
  g_autoptr (MailFolder) folder = NULL;
  guint32 before;

  g_free (deliver (f, NULL, MESSAGE_TEXT));
  folder = open_folder (f, NULL);
  before = mail_folder_get_uidvalidity (folder);
  g_assert_cmpint (unlink (path), ==, 0);
  g_clear_pointer (&folder, mail_folder_free);
  folder = open_folder (f, NULL);
  g_assert_cmpuint (mail_folder_get_uidvalidity (folder), >, before);
}

/* A process killed right after its open answered (kill -9 loses nothing
 * it wrote: the page cache keeps it) leaves the UIDVALIDITY and UIDs it
 * showed, or another UIDVALIDITY: never that one with other UIDs. */
static void
test_uidvalidity_kill_after_first_open (StoreFixture *f, gconstpointer data)
{
  g_autoptr (MailFolder) folder = NULL;
  g_autofree char *listed = NULL;
  g_autofree char *uids = NULL;
  char shown[128] = "";
  int fds[2];
  int status = 0;
  pid_t child;

  g_free (deliver (f, NULL, MESSAGE_TEXT));
  g_free (deliver (f, NULL, MESSAGE_TEXT));
  g_assert_cmpint (pipe (fds), ==, 0);
  child = fork ();
  if (child == 0)
    {
      g_autoptr (MailStore) store = mail_store_open (f->root, NULL);
      MailFolder *open = mail_folder_open (store, NULL, NULL);
      g_autofree char *held = uids_of (open);
      g_autofree char *seen =
          g_strdup_printf ("%u %s", mail_folder_get_uidvalidity (open), held);

      if (write (fds[1], seen, strlen (seen)) < 0)
        _exit (1);
      raise (SIGKILL);
    }
  close (fds[1]);
  g_assert_cmpint (read (fds[0], shown, sizeof shown - 1), >, 0);
  close (fds[0]);
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  g_assert_true (WIFSIGNALED (status));
  folder = open_folder (f, NULL);
  listed = uids_of (folder);
  uids =
      g_strdup_printf ("%u %s", mail_folder_get_uidvalidity (folder), listed);
  if (g_ascii_strtoull (shown, NULL, 10) ==
      mail_folder_get_uidvalidity (folder))
    g_assert_cmpstr (uids, ==, shown);
}

/* A folder's first uidlist is not fsynced (mail-uidlist.c,
 * store_next_uidvalidity ()): a crash of the machine may lose it, and the
 * UIDVALIDITY file's update with it. What the crash can lose is undone
 * here by hand; the machine comes back in a later second. The folder
 * must then get another UIDVALIDITY: the messages get their UIDs
 * again, and a client holding the old ones must be told to forget
 * them. */
static void
test_uidvalidity_lost_first_uidlist (StoreFixture *f, gconstpointer data)
{
  g_autofree char *list = g_build_filename (f->root, "mailwire-uidlist", NULL);
  g_autofree char *counter =
      g_build_filename (f->root, "mailwire-uidvalidity", NULL);
  g_autofree char *kept = NULL;
  g_autoptr (MailFolder) folder = NULL;
  guint32 before;

  g_free (deliver (f, NULL, MESSAGE_TEXT));
  g_free (deliver (f, NULL, MESSAGE_TEXT));
  g_file_get_contents (counter, &kept, NULL, NULL); /* may be missing */
  folder = open_folder (f, NULL);
  before = mail_folder_get_uidvalidity (folder);
  g_clear_pointer (&folder, mail_folder_free);
  /* the crash: both writes of the first open lost */
  g_assert_cmpint (unlink (list), ==, 0);
  if (kept != NULL)
    g_assert_true (g_file_set_contents (counter, kept, -1, NULL));
  else
    g_assert_cmpint (unlink (counter), ==, 0);
  while ((guint32) time (NULL) <= before)
    g_usleep (10000); /* bounded: at most a second */
  folder = open_folder (f, NULL);
  g_assert_cmpuint (mail_folder_get_uidvalidity (folder), !=, before);
}

/* RFC 9051 §6.3.5: deleting a folder leaves its inferiors. */
static void
test_folder_delete_keeps_children (StoreFixture *f, gconstpointer data)
{
  const char *const expected[] = { "INBOX", "A/B", NULL };
  g_autoptr (GError) error = NULL;

  create_folder (f, "A");
  create_folder (f, "A/B");
  g_free (deliver (f, "A", MESSAGE_TEXT));
  g_assert_true (mail_store_delete_folder (f->store, "A", &error));
  g_assert_no_error (error);
  assert_folders (f->store, expected);
}

/* ---- folder names on disk (RFC 3501 §5.1.3 modified UTF-7) ------------- */

/* Makes ROOT/@entry a Maildir++ folder by hand, as Dovecot or an earlier
 * mailwire left it, holding one message. */
static void
make_folder_by_hand (StoreFixture *f, const char *entry)
{
  static const char *const subdirs[] = { "tmp", "new", "cur" };
  g_autofree char *message = g_build_filename (
      f->root, entry, "cur", "1700000000.M1P1.host:2,S", NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (subdirs); i++)
    {
      g_autofree char *path =
          g_build_filename (f->root, entry, subdirs[i], NULL);

      g_assert_cmpint (g_mkdir_with_parents (path, 0700), ==, 0);
    }
  g_assert_true (g_file_set_contents (message, MESSAGE_TEXT, -1, NULL));
}

static gboolean
entry_exists (StoreFixture *f, const char *entry)
{
  g_autofree char *path = g_build_filename (f->root, entry, NULL);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* As Dovecot's Maildir++ layout: "Entwürfe" is ROOT/.Entw&APw-rfe, "&"
 * is "&-"; the API keeps UTF-8. */
static void
test_folder_name_mutf7_on_disk (StoreFixture *f, gconstpointer data)
{
  const char *const expected[] = { "INBOX", "A&B", "Entwürfe", "Lists/Entwürfe",
                                   NULL };
  g_autoptr (MailFolder) folder = NULL;

  create_folder (f, "Entwürfe");
  create_folder (f, "Lists/Entwürfe");
  create_folder (f, "A&B");
  g_assert_true (entry_exists (f, ".Entw&APw-rfe"));
  g_assert_true (entry_exists (f, ".Lists.Entw&APw-rfe"));
  g_assert_true (entry_exists (f, ".A&-B"));
  g_assert_false (entry_exists (f, ".Entwürfe"));
  assert_folders (f->store, expected);
  g_free (deliver (f, "Lists/Entwürfe", MESSAGE_TEXT));
  g_assert_cmpuint (count_files (f->root, ".Lists.Entw&APw-rfe/new"), ==, 1);
  folder = open_folder (f, "Lists/Entwürfe");
  assert_message_text (folder, 0, MESSAGE_TEXT);
}

/* A folder Dovecot made is listed by its UTF-8 name; delivery and a
 * second create find it. */
static void
test_folder_name_made_by_dovecot (StoreFixture *f, gconstpointer data)
{
  const char *const expected[] = { "INBOX", "Entwürfe", "☺", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (MailFolder) folder = NULL;

  make_folder_by_hand (f, ".Entw&APw-rfe");
  make_folder_by_hand (f, ".&Jjo-");
  assert_folders (f->store, expected);
  g_assert_false (mail_store_create_folder (f->store, "Entwürfe", &error));
  g_assert_error (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_EXISTS);
  g_free (deliver (f, "☺", MESSAGE_TEXT));
  g_assert_cmpuint (count_files (f->root, ".&Jjo-/new"), ==, 1);
  folder = open_folder (f, "Entwürfe");
  g_assert_cmpuint (mail_folder_get_count (folder), ==, 1);
  assert_message_text (folder, 0, MESSAGE_TEXT);
}

/* A folder an earlier mailwire made in UTF-8 (".Entwürfe", or ".A&B",
 * which is no modified UTF-7) is still listed, opened, delivered to,
 * renamed (into modified UTF-7, with its inferiors and UIDVALIDITY) and
 * deleted; create does not make it twice. */
static void
test_folder_name_legacy_utf8 (StoreFixture *f, gconstpointer data)
{
  const char *const before[] = { "INBOX", "A&B", "Entwürfe", "Entwürfe/Föö",
                                 NULL };
  const char *const after[] = { "INBOX", "A&B", "Älter", "Älter/Föö", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (MailFolder) folder = NULL;
  guint32 uidvalidity;

  make_folder_by_hand (f, ".Entwürfe");
  make_folder_by_hand (f, ".Entwürfe.Föö");
  make_folder_by_hand (f, ".A&B");
  assert_folders (f->store, before);
  g_assert_false (mail_store_create_folder (f->store, "Entwürfe", &error));
  g_assert_error (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_EXISTS);
  g_clear_error (&error);
  g_free (deliver (f, "Entwürfe", MESSAGE_TEXT));
  g_assert_cmpuint (count_files (f->root, ".Entwürfe/new"), ==, 1);
  g_assert_false (entry_exists (f, ".Entw&APw-rfe"));
  folder = open_folder (f, "Entwürfe");
  g_assert_cmpuint (mail_folder_get_count (folder), ==, 2);
  uidvalidity = mail_folder_get_uidvalidity (folder);
  g_clear_pointer (&folder, mail_folder_free);
  folder = open_folder (f, "A&B");
  assert_message_text (folder, 0, MESSAGE_TEXT);
  g_clear_pointer (&folder, mail_folder_free);
  g_assert_true (
      mail_store_rename_folder (f->store, "Entwürfe", "Älter", &error));
  g_assert_no_error (error);
  g_assert_true (entry_exists (f, ".&AMQ-lter"));
  g_assert_true (entry_exists (f, ".&AMQ-lter.F&APYA9g-"));
  g_assert_false (entry_exists (f, ".Entwürfe.Föö"));
  assert_folders (f->store, after);
  folder = open_folder (f, "Älter");
  g_assert_cmpuint (mail_folder_get_uidvalidity (folder), ==, uidvalidity);
  g_assert_true (mail_store_delete_folder (f->store, "A&B", &error));
  g_assert_no_error (error);
  g_assert_false (entry_exists (f, ".A&B"));
}

/* Both forms of one name (Dovecot's and an earlier mailwire's): listed
 * once, and opened in the modified UTF-7 form. */
static void
test_folder_name_both_forms (StoreFixture *f, gconstpointer data)
{
  const char *const expected[] = { "INBOX", "Entwürfe", NULL };
  g_autoptr (MailFolder) folder = NULL;

  make_folder_by_hand (f, ".Entwürfe");
  make_folder_by_hand (f, ".Entw&APw-rfe");
  g_free (deliver (f, "Entwürfe", MESSAGE_TEXT));
  assert_folders (f->store, expected);
  g_assert_cmpuint (count_files (f->root, ".Entw&APw-rfe/new"), ==, 1);
  g_assert_cmpuint (count_files (f->root, ".Entwürfe/new"), ==, 0);
}

/* 100 × "ü" is 200 octets of UTF-8 but 269 of modified UTF-7: more than
 * a file name may hold. */
static void
test_folder_name_too_long_encoded (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GString) name = g_string_new (NULL);
  g_autoptr (GError) error = NULL;

  for (int i = 0; i < 100; i++)
    g_string_append (name, "ü");
  g_assert_false (mail_store_create_folder (f->store, name->str, &error));
  g_assert_error (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_string_truncate (name, 80); /* 40 × "ü": 109 octets on disk */
  create_folder (f, name->str);
}

/* RFC 9051 §6.3.7: the subscriptions file is Dovecot's version 2 file
 * (modified UTF-7, a tab between levels); an earlier mailwire's UTF-8
 * file is read, and rewritten in version 2 at the next change. */
static void
test_subscriptions_dovecot_format (StoreFixture *f, gconstpointer data)
{
  const char *const old[] = { "Entwürfe", "Lists/GLib", NULL };
  const char *const now[] = { "Lists/GLib", "Sent", "Lists/Entwürfe", NULL };
  g_autofree char *path = g_build_filename (f->root, "subscriptions", NULL);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = NULL;
  g_autofree char *contents = NULL;

  g_assert_true (
      g_file_set_contents (path, "Entwürfe\nLists/GLib\n", -1, NULL));
  names = mail_store_list_subscriptions (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (names, old);
  g_clear_pointer (&names, g_strfreev);
  g_assert_true (mail_store_set_subscribed (f->store, "Entwürfe", FALSE, NULL));
  g_assert_true (mail_store_set_subscribed (f->store, "Sent", TRUE, NULL));
  g_assert_true (
      mail_store_set_subscribed (f->store, "Lists/Entwürfe", TRUE, NULL));
  contents = read_file (f->root, "subscriptions");
  g_assert_cmpstr (contents, ==,
                   "V\t2\n\nLists\tGLib\nSent\nLists\tEntw&APw-rfe\n");
  names = mail_store_list_subscriptions (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpstrv (names, now);
}

/* Names that cannot map onto Maildir++ directories; every entry point
 * refuses them. */
static const char *const invalid_names[] = {
  /* INVALID */
  "",
  ".",
  "..",
  "a.b",
  ".hidden",
  "/a",
  "a/",
  "a//b",
  "../etc",
  "a/../b",
  "line\nbreak",
  "tab\there",
  "del\x7f",
  "bad\xff"
  "utf8",
};

/* Takes and frees *@error, which must say INVALID. */
static void
assert_invalid (gboolean ok, GError **error)
{
  g_assert_false (ok);
  g_assert_error (*error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_INVALID);
  g_clear_error (error);
}

static void
test_folder_invalid_name (gconstpointer data)
{
  const char *name = data;
  StoreFixture f = { NULL };
  GError *error = NULL;
  MailFolder *folder;
  gboolean ok;

  fixture_set_up (&f, NULL);
  create_folder (&f, "Real");
  ok = mail_store_create_folder (f.store, name, &error);
  assert_invalid (ok, &error);
  folder = mail_folder_open (f.store, name, &error);
  assert_invalid (folder != NULL, &error);
  ok = mail_store_delete_folder (f.store, name, &error);
  assert_invalid (ok, &error);
  ok = mail_store_rename_folder (f.store, "Real", name, &error);
  assert_invalid (ok, &error);
  ok = mail_store_rename_folder (f.store, name, "Real", &error);
  assert_invalid (ok, &error);
  ok = mail_maildir_deliver (f.root, name, "x", 1, NULL, &error);
  assert_invalid (ok, &error);
  g_assert_cmpuint (count_files (f.root, ""), ==, 4); /* tmp new cur .Real */
  fixture_tear_down (&f, NULL);
}

typedef enum
{
  FOLDER_CREATE,
  FOLDER_OPEN,
  FOLDER_RENAME,
  FOLDER_DELETE,
} FolderOp;

typedef struct
{
  FolderOp op;
  const char *name;
  const char *to; /* rename target */
  MailStoreError error;
} FolderErrorCase;

static const FolderErrorCase folder_error_cases[] = {
  /* Existing folders: INBOX and "Sent" */
  { FOLDER_CREATE, "INBOX", NULL, MAIL_STORE_ERROR_EXISTS },
  { FOLDER_CREATE, "inbox", NULL, MAIL_STORE_ERROR_EXISTS },
  { FOLDER_CREATE, "Sent", NULL, MAIL_STORE_ERROR_EXISTS },
  { FOLDER_OPEN, "Missing", NULL, MAIL_STORE_ERROR_NOT_FOUND },
  { FOLDER_DELETE, "Missing", NULL, MAIL_STORE_ERROR_NOT_FOUND },
  { FOLDER_DELETE, "INBOX", NULL, MAIL_STORE_ERROR_INVALID },
  { FOLDER_RENAME, "Missing", "Other", MAIL_STORE_ERROR_NOT_FOUND },
  { FOLDER_RENAME, "Sent", "Sent", MAIL_STORE_ERROR_EXISTS },
  { FOLDER_RENAME, "Sent", "Sent/Old", MAIL_STORE_ERROR_INVALID },
  { FOLDER_RENAME, "Sent", "INBOX", MAIL_STORE_ERROR_INVALID },
  { FOLDER_RENAME, "INBOX", "Old", MAIL_STORE_ERROR_INVALID },
};

static gboolean
folder_op_run (MailStore *store, const FolderErrorCase *c, GError **error)
{
  g_autoptr (MailFolder) folder = NULL;

  switch (c->op)
    {
    case FOLDER_CREATE:
      return mail_store_create_folder (store, c->name, error);
    case FOLDER_OPEN:
      folder = mail_folder_open (store, c->name, error);
      return folder != NULL;
    case FOLDER_RENAME:
      return mail_store_rename_folder (store, c->name, c->to, error);
    case FOLDER_DELETE:
      return mail_store_delete_folder (store, c->name, error);
    default:
      g_assert_not_reached ();
    }
  return FALSE;
}

static void
test_folder_error (gconstpointer data)
{
  const FolderErrorCase *c = data;
  const char *const expected[] = { "INBOX", "Sent", NULL };
  StoreFixture f = { NULL };
  g_autoptr (GError) error = NULL;

  fixture_set_up (&f, NULL);
  create_folder (&f, "Sent");
  g_assert_false (folder_op_run (f.store, c, &error));
  g_assert_error (error, MAIL_STORE_ERROR, (gint) c->error);
  assert_folders (f.store, expected);
  fixture_tear_down (&f, NULL);
}

/* ---- maildrop lock (RFC 1939 §8) ------------------------------------------
 */

static void
test_maildrop_second_store_in_use (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailStore) other = mail_store_open (f->root, &error);

  g_assert_no_error (error);
  g_assert_true (mail_store_lock_maildrop (f->store, &error));
  g_assert_no_error (error);
  g_assert_false (mail_store_lock_maildrop (other, &error));
  g_assert_error (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_IN_USE);
  g_clear_error (&error);
  mail_store_unlock_maildrop (f->store);
  g_assert_true (mail_store_lock_maildrop (other, &error));
  g_assert_no_error (error);
  g_clear_pointer (&other, mail_store_free); /* freeing releases it */
  g_assert_true (mail_store_lock_maildrop (f->store, &error));
  g_assert_no_error (error);
}

/* ---- deleting, copying, syncing ------------------------------------------ */

static void
test_message_delete_keeps_index (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailFolder) folder = NULL;
  g_autoptr (GBytes) bytes = NULL;

  for (guint i = 0; i < 3; i++)
    g_free (deliver (f, NULL, MESSAGE_TEXT));
  folder = open_folder (f, NULL);
  g_assert_true (mail_folder_delete_message (folder, 1, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_files (f->root, "new"), ==, 2);
  g_assert_cmpuint (mail_folder_get_count (folder), ==, 3);
  bytes = mail_folder_read_message (folder, 1, &error);
  g_assert_null (bytes);
  g_assert_error (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_NOT_FOUND);
  assert_message_text (folder, 2, MESSAGE_TEXT);
  sync_folder (folder, 0, 1);
  g_assert_cmpuint (mail_folder_get_count (folder), ==, 2);
  g_assert_cmpuint (mail_folder_get_message (folder, 1)->uid, ==, 3);
}

/* IMAP COPY (RFC 9051 §6.4.7): same octets, flags, keywords and date. */
static void
test_message_copy_keeps_everything (StoreFixture *f, gconstpointer data)
{
  const char *const keywords[] = { "work", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *name = deliver (f, NULL, MESSAGE_TEXT);
  g_autoptr (MailFolder) inbox = open_folder (f, NULL);
  g_autoptr (MailFolder) archive = NULL;
  const MailMessage *copy;

  create_folder (f, "Archive");
  set_flags (inbox, 0, MAIL_FLAG_SEEN | MAIL_FLAG_ANSWERED, keywords);
  g_assert_true (mail_folder_copy_message (inbox, 0, "Archive", NULL, &error));
  g_assert_no_error (error);
  archive = open_folder (f, "Archive");
  g_assert_cmpuint (mail_folder_get_count (archive), ==, 1);
  copy = mail_folder_get_message (archive, 0);
  g_assert_cmpint (copy->flags, ==, MAIL_FLAG_SEEN | MAIL_FLAG_ANSWERED);
  g_assert_cmpstrv (copy->keywords, keywords);
  g_assert_cmpint (copy->mtime, ==, mail_folder_get_message (inbox, 0)->mtime);
  g_assert_true (copy->recent); /* RFC 9051 §6.4.7: new to the target */
  assert_message_text (archive, 0, MESSAGE_TEXT);
  g_assert_false (mail_folder_copy_message (inbox, 0, "Missing", NULL, &error));
  g_assert_error (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_NOT_FOUND);
}

/* The list changes only in sync, so POP3 numbering holds (RFC 1939 §4). */
static void
test_sync_sees_new_mail_and_removals (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailFolder) folder = open_folder (f, NULL);
  g_autoptr (MailFolder) other = NULL;

  g_free (deliver (f, NULL, MESSAGE_TEXT));
  g_free (deliver (f, NULL, MESSAGE_TEXT));
  g_assert_cmpuint (mail_folder_get_count (folder), ==, 0);
  sync_folder (folder, 2, 0);
  g_assert_cmpuint (mail_folder_get_uidnext (folder), ==, 3);
  other = open_folder (f, NULL);
  g_assert_true (mail_folder_delete_message (other, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (mail_folder_get_count (folder), ==, 2);
  sync_folder (folder, 0, 1);
  g_assert_cmpuint (mail_folder_get_message (folder, 0)->uid, ==, 2);
  sync_folder (folder, 0, 0);
}

/* Another handle's flag change renames the file; this handle follows. */
static void
test_message_renamed_elsewhere_readable (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = deliver (f, NULL, MESSAGE_TEXT);
  g_autoptr (MailFolder) mine = open_folder (f, NULL);
  g_autoptr (MailFolder) theirs = open_folder (f, NULL);
  g_autofree char *stale = g_strdup (mail_folder_get_message (mine, 0)->path);

  set_flags (theirs, 0, MAIL_FLAG_SEEN, NULL);
  g_assert_false (g_file_test (stale, G_FILE_TEST_EXISTS));
  assert_message_text (mine, 0, MESSAGE_TEXT);
  g_assert_cmpstr (mail_folder_get_message (mine, 0)->path, ==,
                   mail_folder_get_message (theirs, 0)->path);
  set_flags (theirs, 0, MAIL_FLAG_DELETED, NULL);
  set_flags (mine, 0, MAIL_FLAG_FLAGGED, NULL); /* follows again */
  g_assert_true (
      g_str_has_suffix (mail_folder_get_message (mine, 0)->path, ":2,F"));
  g_assert_cmpuint (count_files (f->root, "cur"), ==, 1);
  set_flags (theirs, 0, MAIL_FLAG_SEEN, NULL);
  g_assert_true (mail_folder_delete_message (mine, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_files (f->root, "cur"), ==, 0);
}

/* ---- monitor ------------------------------------------------------------- */

typedef struct
{
  GMainLoop *loop;
  char *directory; /* "new" or "cur": the event we wait for */
  gboolean seen;
  guint timeout_id;
} MonitorWait;

static void
on_folder_changed (GFileMonitor *monitor,
                   GFile *file,
                   GFile *other_file,
                   GFileMonitorEvent event,
                   gpointer user_data)
{
  MonitorWait *wait = user_data;
  g_autoptr (GFile) parent = g_file_get_parent (file);
  g_autofree char *base = g_file_get_basename (parent);

  if (event == G_FILE_MONITOR_EVENT_CREATED &&
      g_strcmp0 (base, wait->directory) == 0)
    {
      wait->seen = TRUE;
      g_main_loop_quit (wait->loop);
    }
}

static gboolean
on_monitor_timeout (gpointer user_data)
{
  MonitorWait *wait = user_data;

  wait->timeout_id = 0;
  g_main_loop_quit (wait->loop);
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until the awaited event, or fails after 10 s. */
static void
wait_for_event (MonitorWait *wait, const char *directory)
{
  g_free (wait->directory);
  wait->directory = g_strdup (directory);
  wait->seen = FALSE;
  wait->timeout_id = g_timeout_add_seconds (10, on_monitor_timeout, wait);
  g_main_loop_run (wait->loop);
  g_clear_handle_id (&wait->timeout_id, g_source_remove);
  g_assert_true (wait->seen);
}

/* New mail shows in new/, a flag change in cur/: one monitor sees both. */
static void
test_monitor_reports_new_and_cur (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailFolder) folder = open_folder (f, NULL);
  g_autoptr (GFileMonitor) monitor = mail_folder_monitor (folder, &error);
  MonitorWait wait = { g_main_loop_new (NULL, FALSE), NULL, FALSE, 0 };

  g_assert_no_error (error);
  g_signal_connect (monitor, "changed", G_CALLBACK (on_folder_changed), &wait);
  g_free (deliver (f, NULL, MESSAGE_TEXT));
  wait_for_event (&wait, "new");
  sync_folder (folder, 1, 0);
  set_flags (folder, 0, MAIL_FLAG_SEEN, NULL);
  wait_for_event (&wait, "cur");
  g_file_monitor_cancel (monitor);
  g_main_loop_unref (wait.loop);
  g_free (wait.directory);
}

/* ---- main ---------------------------------------------------------------- */

static void
add_store_test (const char *path, void (*test) (StoreFixture *, gconstpointer))
{
  g_test_add (path, StoreFixture, NULL, fixture_set_up, test,
              fixture_tear_down);
}

static void
add_case_tests (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (flag_cases); i++)
    {
      g_autofree char *path = g_strdup_printf (
          "/store/flags/info-letters/%zu-\"%s\"", i, flag_cases[i].info);

      g_test_add_data_func (path, &flag_cases[i], test_flags_info);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (invalid_names); i++)
    {
      g_autofree char *path = g_strdup_printf (
          "/store/folder/invalid-name-is-rejected-everywhere/%zu", i);

      g_test_add_data_func (path, invalid_names[i], test_folder_invalid_name);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (folder_error_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/store/folder/error/%zu-%s", i,
                                               folder_error_cases[i].name);

      g_test_add_data_func (path, &folder_error_cases[i], test_folder_error);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  add_case_tests ();
  add_store_test ("/store/deliver/message-is-listed-and-read-byte-exact",
                  test_deliver_read_byte_exact);
  add_store_test ("/store/deliver/name-has-time-usec-pid-counter-host-size",
                  test_deliver_name_format);
  add_store_test ("/store/deliver/crashed-delivery-in-tmp-is-never-listed",
                  test_deliver_crash_in_tmp_invisible);
  add_store_test ("/store/deliver/failed-write-leaves-no-file",
                  test_deliver_failure_leaves_nothing);
  add_store_test ("/store/deliver/disk-full-is-no-space-and-leaves-no-file",
                  test_deliver_no_space);
  add_store_test ("/store/deliver/creates-missing-maildir-and-folder",
                  test_deliver_creates_maildir_and_folder);
  add_store_test ("/store/uid/uids-and-uidvalidity-are-stable-across-reopen",
                  test_uid_stable_across_reopen);
  add_store_test ("/store/uid/new-mail-gets-uids-in-delivery-order",
                  test_uid_follow_delivery_order);
  add_store_test ("/store/uid/uidlist-file-has-documented-format",
                  test_uid_uidlist_format);
  add_store_test ("/store/uid/vanished-files-are-dropped-from-uidlist",
                  test_uid_vanished_files_dropped);
  add_store_test ("/store/uid/concurrent-processes-never-share-a-uid",
                  test_uid_unique_across_processes);
  add_store_test ("/store/flags/set-flags-renames-into-cur-and-survives-reopen",
                  test_flags_survive_reopen);
  add_store_test ("/store/flags/keywords-round-trip-through-dovecot-keywords",
                  test_flags_keywords_round_trip);
  add_store_test ("/store/flags/bad-keyword-and-27th-keyword-are-refused",
                  test_flags_keyword_limits);
  add_store_test ("/store/uid/unchanged-directories-are-not-rescanned",
                  test_uid_unchanged_dirs_are_not_rescanned);
  add_store_test ("/store/uid/settled-folder-is-read-not-rescanned",
                  test_uid_settled_folder_is_read_not_rescanned);
  add_store_test ("/store/uid/delivery-in-the-scan's-tick-is-seen",
                  test_uid_same_tick_delivery_is_seen);
  add_store_test ("/store/uid/delivery-in-the-scan's-second-is-seen",
                  test_uid_same_second_delivery_is_seen);
  add_store_test ("/store/uid/list-by-older-code-keeps-its-one-second-rule",
                  test_uid_older_list_keeps_its_rule);
  add_store_test ("/store/sync/kept-removal-is-still-news",
                  test_sync_kept_removal_is_still_news);
  add_store_test ("/store/folder/move-is-one-rename-keeping-flags",
                  test_folder_move_message);
  add_store_test ("/store/deliver/bare-lf-file-is-read-with-crlf",
                  test_deliver_bare_lf_file_reads_as_crlf);
  add_store_test ("/store/uid/version-1-uidlist-keeps-its-uids",
                  test_uid_reads_version_1);
  add_store_test ("/store/modseq/every-change-and-expunge-gets-a-higher-one",
                  test_modseq_grows);
  add_store_test ("/store/folder/recreated-gets-new-uidvalidity",
                  test_folder_recreated_new_uidvalidity);
  add_store_test ("/store/uidvalidity/removed-uidlist-gets-a-new-one",
                  test_uidvalidity_removed_uidlist_is_new);
  add_store_test ("/store/uidvalidity/kill-9-after-first-open-keeps-its-uids",
                  test_uidvalidity_kill_after_first_open);
  add_store_test (
      "/store/uidvalidity/first-uidlist-lost-in-a-crash-gets-a-new-one",
      test_uidvalidity_lost_first_uidlist);
  add_store_test ("/store/recent/claimed-by-the-first-select-only",
                  test_recent_claimed_once);
  add_store_test ("/store/folder/create-list-rename-delete",
                  test_folder_lifecycle);
  add_store_test ("/store/folder/delete-keeps-inferior-folders",
                  test_folder_delete_keeps_children);
  add_store_test ("/store/folder/name/non-ascii-is-modified-utf7-on-disk",
                  test_folder_name_mutf7_on_disk);
  add_store_test ("/store/folder/name/made-by-dovecot-is-listed-and-used",
                  test_folder_name_made_by_dovecot);
  add_store_test ("/store/folder/name/utf8-of-earlier-mailwire-still-works",
                  test_folder_name_legacy_utf8);
  add_store_test ("/store/folder/name/both-forms-are-one-folder",
                  test_folder_name_both_forms);
  add_store_test ("/store/folder/name/too-long-in-modified-utf7-is-invalid",
                  test_folder_name_too_long_encoded);
  add_store_test ("/store/subscriptions/dovecot-version-2-file",
                  test_subscriptions_dovecot_format);
  add_store_test ("/store/maildrop/second-store-gets-in-use",
                  test_maildrop_second_store_in_use);
  add_store_test ("/store/message/delete-keeps-index-until-sync",
                  test_message_delete_keeps_index);
  add_store_test ("/store/message/copy-keeps-octets-flags-keywords-date",
                  test_message_copy_keeps_everything);
  add_store_test ("/store/sync/sees-new-mail-and-removals",
                  test_sync_sees_new_mail_and_removals);
  add_store_test ("/store/message/renamed-by-another-handle-is-still-readable",
                  test_message_renamed_elsewhere_readable);
  add_store_test ("/store/monitor/reports-new-mail-and-flag-changes",
                  test_monitor_reports_new_and_cur);
  return g_test_run ();
}
