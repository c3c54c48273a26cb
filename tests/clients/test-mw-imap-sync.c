/* SPDX-License-Identifier: MIT
 * test-mw-imap-sync.c: `mw-imap sync` between mw-imapd and local
 * Maildirs, as a user runs it (the program, real processes on loopback).
 * The facts are read from the disks, the server's Maildir and the local
 * ones, with the store: which messages (by Message-ID) each side holds,
 * once each, and with which flags:
 *   - the first sync copies everything; a resync with no change costs
 *     one command per folder under QRESYNC (RFC 7162 §3.2.5);
 *   - two devices: flags, deletions, local new mail and a move on the
 *     server reach the other device, with and without QRESYNC;
 *   - a flag changed on both sides is merged flag by flag;
 *   - a sync killed mid-download and run again neither loses nor
 *     duplicates a message; nor does a UIDVALIDITY change (RFC 9051
 *     §2.3.1.1) on the server (mw-imapd losing its UID list, Dovecot
 *     its index and dovecot-uidlist).
 * The same stories run against a private Dovecot (tests/harness/
 * mw-dovecot.h), a server we did not write.
 */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mail-store.h"
#include "mw-dovecot.h"
#include "mw-harness.h"

typedef enum
{
  SERVER_MW_IMAPD,
  SERVER_DOVECOT,
} Server;

typedef struct
{
  MwHarness *harness;
  MwDovecot *dovecot; /* NULL: the server is mw-imapd */
  guint16 port;
  char *server;   /* "127.0.0.1:PORT" */
  char *password; /* bob's password file */
  char *phone;    /* two local Maildirs of bob */
  char *laptop;
} Fixture;

static char *
server_root (Fixture *f)
{
  return f->dovecot ? mw_dovecot_maildir (f->dovecot, "bob")
                    : mw_harness_maildir (f->harness, "bob");
}

/* Drafts, Sent, Trash, Junk, Archive, as `mw-admin user add` makes;
 * Dovecot's mail processes run as nobody, who must own them. */
static void
create_special_folders (Fixture *f)
{
  g_autofree char *root = server_root (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (MailStore) store = mail_store_open (root, &error);
  const char *chown[] = { "chown", "-R", "nobody:nogroup", root, NULL };

  g_assert_no_error (error);
  g_assert_true (mail_store_create_special_folders (store, &error));
  g_assert_no_error (error);
  if (f->dovecot != NULL)
    g_assert_cmpint (mw_harness_run (f->harness, chown, NULL, NULL, NULL), ==,
                     0);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->harness = mw_harness_new (NULL);
  if (GPOINTER_TO_INT (data) == SERVER_DOVECOT)
    {
      /* mw_dovecot_available () fails only without root: CI has it */
      f->dovecot = mw_dovecot_start (f->harness, MW_DOVECOT_DEFAULT);
      f->port = mw_dovecot_port (f->dovecot, "imap");
    }
  else
    {
      mw_harness_start (f->harness, "mw-imapd", NULL);
      f->port = mw_harness_port (f->harness, "imap");
    }
  f->server = g_strdup_printf ("127.0.0.1:%u", f->port);
  f->password = g_build_filename (mw_harness_dir (f->harness), "bob.pw", NULL);
  g_assert_true (g_file_set_contents (f->password, "bob-secret\n", -1, NULL));
  f->phone = g_build_filename (mw_harness_dir (f->harness), "phone", NULL);
  f->laptop = g_build_filename (mw_harness_dir (f->harness), "laptop", NULL);
  create_special_folders (f);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  (void) data;
  g_clear_pointer (&f->dovecot, mw_dovecot_free);
  mw_harness_free (f->harness);
  g_free (f->server);
  g_free (f->password);
  g_free (f->phone);
  g_free (f->laptop);
}

/* ---- facts from the disk ------------------------------------------- */

static char *
message_id_of (GBytes *data)
{
  gsize length = 0;
  const char *text = g_bytes_get_data (data, &length);
  g_autofree char *copy = g_strndup (text, length);
  const char *field = strstr (copy, "Message-ID: ");

  g_assert_nonnull (field);
  return g_strndup (field + 12, strcspn (field + 12, "\r\n"));
}

/* "<id>" -> "FS" (Maildir letters) for every message of @folder in the
 * Maildir @root; a Message-ID twice fails the test (a duplicate). */
static GHashTable *
holdings (const char *root, const char *folder)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailStore) store = mail_store_open (root, &error);
  g_autoptr (MailFolder) open = NULL;
  GHashTable *held =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_assert_no_error (error);
  open = mail_folder_open (store, folder, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < mail_folder_get_count (open); i++)
    {
      const MailMessage *message = mail_folder_get_message (open, i);
      g_autoptr (GBytes) data = mail_folder_read_message (open, i, &error);
      char *id = NULL;

      g_assert_no_error (error);
      id = message_id_of (data);
      g_assert_false (g_hash_table_contains (held, id));
      g_hash_table_insert (held, id, mail_flags_to_info (message->flags));
    }
  return held;
}

/* The flags ("FS") that @root's @folder has for @id; NULL if absent. */
static char *
flags_of (const char *root, const char *folder, const char *id)
{
  g_autoptr (GHashTable) held = holdings (root, folder);

  return g_strdup (g_hash_table_lookup (held, id));
}

static guint
count_of (const char *root, const char *folder)
{
  g_autoptr (GHashTable) held = holdings (root, folder);

  return g_hash_table_size (held);
}

/* Every side holds the same messages with the same flags. */
static void
assert_agree (const char *a, const char *b, const char *folder)
{
  g_autoptr (GHashTable) left = holdings (a, folder);
  g_autoptr (GHashTable) right = holdings (b, folder);
  GHashTableIter iter;
  gpointer id = NULL;
  gpointer flags = NULL;

  g_assert_cmpuint (g_hash_table_size (left), ==, g_hash_table_size (right));
  g_hash_table_iter_init (&iter, left);
  while (g_hash_table_iter_next (&iter, &id, &flags))
    {
      g_test_message ("%s in %s: %s here, %s there", (char *) id, folder,
                      (char *) flags, (char *) g_hash_table_lookup (right, id));
      g_assert_cmpstr (flags, ==, g_hash_table_lookup (right, id));
    }
}

/* ---- acting on the disk and the server ------------------------------ */

static char *
message_text (const char *id, const char *subject)
{
  return g_strdup_printf ("From: alice@example.test\r\nTo: bob@example.test\r\n"
                          "Subject: %s\r\nMessage-ID: %s\r\n\r\n"
                          "About %s.\r\n",
                          subject, id, subject);
}

static void
deliver (Fixture *f, const char *id)
{
  g_autofree char *text = message_text (id, id);

  if (f->dovecot != NULL)
    mw_dovecot_deliver (f->dovecot, "bob", text);
  else
    mw_harness_deliver (f->harness, "bob", text);
}

/* Changes the flags of @id in @root's @folder as a mail program would. */
static void
set_local_flags (const char *root,
                 const char *folder,
                 const char *id,
                 MailFlags flags)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailStore) store = mail_store_open (root, &error);
  g_autoptr (MailFolder) open = mail_folder_open (store, folder, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < mail_folder_get_count (open); i++)
    {
      g_autoptr (GBytes) data = mail_folder_read_message (open, i, &error);
      g_autofree char *found = message_id_of (data);

      if (strcmp (found, id) != 0)
        continue;
      g_assert_true (mail_folder_set_flags (open, i, flags, NULL, &error));
      g_assert_no_error (error);
      return;
    }
  g_assert_not_reached ();
}

static void
delete_local (const char *root, const char *folder, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailStore) store = mail_store_open (root, &error);
  g_autoptr (MailFolder) open = mail_folder_open (store, folder, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < mail_folder_get_count (open); i++)
    {
      g_autoptr (GBytes) data = mail_folder_read_message (open, i, &error);
      g_autofree char *found = message_id_of (data);

      if (strcmp (found, id) != 0)
        continue;
      g_assert_true (mail_folder_delete_message (open, i, &error));
      return;
    }
  g_assert_not_reached ();
}

static void
append_local (const char *root, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailStore) store = mail_store_open (root, &error);
  g_autofree char *text = message_text (id, "written offline");

  g_assert_true (mail_store_append (store, NULL, text, strlen (text),
                                    MAIL_FLAG_SEEN, NULL, 0, NULL, &error));
  g_assert_no_error (error);
}

/* Runs mw-imap as bob with @args after the connection options; asserts
 * that it succeeded and returns its standard output (transfer full). */
static char *
mw_imap (Fixture *f, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_ptr_array_add (argv, (gpointer) "mw-imap");
  g_ptr_array_add (argv, (gpointer) "--server");
  g_ptr_array_add (argv, f->server);
  g_ptr_array_add (argv, (gpointer) "--user");
  g_ptr_array_add (argv, (gpointer) "bob");
  g_ptr_array_add (argv, (gpointer) "--password-file");
  g_ptr_array_add (argv, f->password);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  status = mw_harness_run (f->harness, (const char *const *) argv->pdata, NULL,
                           &out, &err);
  g_test_message ("mw-imap ... %s: %s%s",
                  args[g_strv_length ((char **) args) - 1], out, err);
  g_assert_cmpint (status, ==, 0);
  return g_steal_pointer (&out);
}

static char *
sync_device (Fixture *f, const char *device, gboolean qresync)
{
  const char *with[] = { "--maildir", device, "sync", NULL };
  const char *without[] = { "--maildir", device, "--no-qresync", "sync", NULL };

  return mw_imap (f, qresync ? with : without);
}

/* The summary line of @folder in sync's output. */
static char *
summary_of (const char *output, const char *folder)
{
  g_autofree char *prefix = g_strdup_printf ("\n%s: ", folder);
  g_autofree char *text = g_strconcat ("\n", output, NULL);
  const char *line = strstr (text, prefix);

  g_assert_nonnull (line);
  line++;
  return g_strndup (line, strcspn (line, "\n"));
}

/* ---- the tests ------------------------------------------------------- */

/* A first sync copies every message; a resync with nothing new sends
 * one command per folder, the SELECT (QRESYNC) (RFC 7162 §3.2.5). */
static void
test_first_sync_and_resync (Fixture *f, gconstpointer data)
{
  g_autofree char *server = server_root (f);
  g_autofree char *first = NULL;
  g_autofree char *again = NULL;
  g_autofree char *inbox = NULL;

  (void) data;
  deliver (f, "<a1@example.test>");
  deliver (f, "<a2@example.test>");
  deliver (f, "<a3@example.test>");
  first = sync_device (f, f->laptop, TRUE);
  inbox = summary_of (first, "INBOX");
  g_assert_nonnull (strstr (inbox, "3 downloaded"));
  assert_agree (server, f->laptop, "INBOX");
  g_clear_pointer (&inbox, g_free);
  again = sync_device (f, f->laptop, TRUE);
  inbox = summary_of (again, "INBOX");
  g_assert_nonnull (strstr (inbox, "0 downloaded, 0 uploaded"));
  g_assert_nonnull (strstr (inbox, "(1 command, QRESYNC)"));
  assert_agree (server, f->laptop, "INBOX");
}

/* Renames the file of @id in @root's INBOX into cur/ with the Maildir
 * flag letters @info, as mutt does: behind the store's back (no uidlist
 * written, only the directories' time stamps move). */
static void
rename_behind_store (const char *root, const char *id, const char *info)
{
  const char *subs[] = { "new", "cur" };

  for (guint s = 0; s < G_N_ELEMENTS (subs); s++)
    {
      g_autofree char *dir = g_build_filename (root, subs[s], NULL);
      g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
      const char *name = NULL;

      while (listing != NULL && (name = g_dir_read_name (listing)) != NULL)
        {
          g_autofree char *path = g_build_filename (dir, name, NULL);
          g_autofree char *text = NULL;
          g_autofree char *base = g_strndup (name, strcspn (name, ":"));
          g_autofree char *file = g_strdup_printf ("%s:2,%s", base, info);
          g_autofree char *to = g_build_filename (root, "cur", file, NULL);

          g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
          if (strstr (text, id) == NULL)
            continue;
          g_assert_cmpint (rename (path, to), ==, 0);
          return;
        }
    }
  g_assert_not_reached ();
}

/* A resync that finds nothing changed on either side reads no local
 * message (it says so); a change made afterwards on this side, through
 * the store or by another program renaming a file, is still synced. */
static void
test_unchanged_resync_then_local_changes (Fixture *f, gconstpointer data)
{
  g_autofree char *server = server_root (f);
  g_autofree char *out = NULL;
  g_autofree char *inbox = NULL;
  g_autofree char *flags = NULL;

  (void) data;
  deliver (f, "<u1@example.test>");
  deliver (f, "<u2@example.test>");
  g_free (sync_device (f, f->laptop, TRUE));
  g_free (sync_device (f, f->laptop, TRUE)); /* reads the folder it made */
  out = sync_device (f, f->laptop, TRUE);
  inbox = summary_of (out, "INBOX");
  g_assert_nonnull (strstr (inbox, "unchanged on both sides"));
  set_local_flags (f->laptop, "INBOX", "<u1@example.test>", MAIL_FLAG_FLAGGED);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&inbox, g_free);
  out = sync_device (f, f->laptop, TRUE);
  inbox = summary_of (out, "INBOX");
  g_assert_nonnull (strstr (inbox, "flags changed 0 here, 1 there"));
  flags = flags_of (server, "INBOX", "<u1@example.test>");
  g_assert_cmpstr (flags, ==, "F");
  g_free (sync_device (f, f->laptop, TRUE));
  rename_behind_store (f->laptop, "<u2@example.test>", "S");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&inbox, g_free);
  out = sync_device (f, f->laptop, TRUE);
  inbox = summary_of (out, "INBOX");
  g_assert_nonnull (strstr (inbox, "flags changed 0 here, 1 there"));
  g_clear_pointer (&flags, g_free);
  flags = flags_of (server, "INBOX", "<u2@example.test>");
  g_assert_cmpstr (flags, ==, "S");
  assert_agree (server, f->laptop, "INBOX");
}

/* Read on the laptop, seen on the phone; deleted on the phone, gone on
 * the laptop; written offline on the laptop, on the phone after; moved
 * on the server, moved on both. */
static void
two_devices (Fixture *f, gboolean qresync)
{
  g_autofree char *server = server_root (f);
  const char *move[] = { "move", "INBOX", "1", "Archive", NULL };
  g_autofree char *flags = NULL;

  deliver (f, "<m1@example.test>");
  deliver (f, "<m2@example.test>");
  deliver (f, "<m3@example.test>");
  g_free (sync_device (f, f->phone, qresync));
  g_free (sync_device (f, f->laptop, qresync));
  set_local_flags (f->laptop, "INBOX", "<m2@example.test>",
                   MAIL_FLAG_SEEN | MAIL_FLAG_FLAGGED);
  delete_local (f->phone, "INBOX", "<m3@example.test>");
  append_local (f->laptop, "<offline@example.test>");
  g_free (sync_device (f, f->laptop, qresync));
  g_free (sync_device (f, f->phone, qresync));
  g_free (sync_device (f, f->laptop, qresync));
  flags = flags_of (f->phone, "INBOX", "<m2@example.test>");
  g_assert_cmpstr (flags, ==, "FS");
  g_assert_null (flags_of (f->laptop, "INBOX", "<m3@example.test>"));
  g_assert_null (flags_of (server, "INBOX", "<m3@example.test>"));
  g_clear_pointer (&flags, g_free);
  flags = flags_of (f->phone, "INBOX", "<offline@example.test>");
  g_assert_cmpstr (flags, ==, "S");
  assert_agree (server, f->laptop, "INBOX");
  assert_agree (server, f->phone, "INBOX");
  /* UID 1 is <m1>: moved on the server, it leaves INBOX on both */
  g_free (mw_imap (f, move));
  g_free (sync_device (f, f->phone, qresync));
  g_free (sync_device (f, f->laptop, qresync));
  g_assert_null (flags_of (f->phone, "INBOX", "<m1@example.test>"));
  g_clear_pointer (&flags, g_free);
  flags = flags_of (f->laptop, "Archive", "<m1@example.test>");
  g_assert_nonnull (flags);
  assert_agree (server, f->phone, "Archive");
  assert_agree (server, f->laptop, "INBOX");
}

static void
test_two_devices (Fixture *f, gconstpointer data)
{
  (void) data;
  two_devices (f, TRUE);
}

/* Without CONDSTORE/QRESYNC the same story, by UID FETCH 1:* (FLAGS). */
static void
test_two_devices_no_qresync (Fixture *f, gconstpointer data)
{
  (void) data;
  two_devices (f, FALSE);
}

/* The laptop clears \Seen while the server gets \Flagged: each change
 * wins on its own flag (mw-imap-sync.h: the three-way merge). */
static void
test_merge_flag_by_flag (Fixture *f, gconstpointer data)
{
  g_autofree char *server = server_root (f);
  const char *seen[] = { "flag", "INBOX", "1", "+\\Seen", NULL };
  const char *flag[] = { "flag", "INBOX", "1", "+\\Flagged", NULL };
  g_autofree char *flags = NULL;

  (void) data;
  deliver (f, "<c1@example.test>");
  g_free (mw_imap (f, seen));
  g_free (sync_device (f, f->laptop, TRUE));
  set_local_flags (f->laptop, "INBOX", "<c1@example.test>", 0);
  g_free (mw_imap (f, flag));
  g_free (sync_device (f, f->laptop, TRUE));
  flags = flags_of (f->laptop, "INBOX", "<c1@example.test>");
  g_assert_cmpstr (flags, ==, "F");
  assert_agree (server, f->laptop, "INBOX");
}

/* Killed in the middle of the download, the next sync pairs what it had
 * already stored (by Message-ID) and fetches the rest: every message
 * once on each side. */
static void
test_crash_during_sync (Fixture *f, gconstpointer data)
{
  g_autofree char *server = server_root (f);
  g_autofree char *program = mw_harness_program ("mw-imap");
  g_autofree char *cur = g_build_filename (f->laptop, "cur", NULL);
  const char *argv[] = { program,     "--server",  f->server,
                         "--user",    "bob",       "--password-file",
                         f->password, "--maildir", f->laptop,
                         "sync",      "INBOX",     NULL };
  g_autoptr (GError) error = NULL;
  GPid pid = 0;
  guint stored = 0;
  int status = 0;

  (void) data;
  for (guint i = 0; i < 400; i++)
    {
      g_autofree char *id = g_strdup_printf ("<bulk%u@example.test>", i);

      deliver (f, id);
    }
  g_assert_true (
      g_spawn_async (NULL, (char **) argv, NULL,
                     G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, &pid, &error));
  g_assert_no_error (error);
  /* wait (bounded) until some messages are stored, then kill -9 */
  for (guint tries = 0; tries < 2000 && stored < 100; tries++)
    {
      g_autoptr (GDir) dir = g_dir_open (cur, 0, NULL);

      stored = 0;
      while (dir != NULL && g_dir_read_name (dir) != NULL)
        stored++;
      g_usleep (5000);
    }
  kill (pid, SIGKILL);
  waitpid (pid, &status, 0);
  g_spawn_close_pid (pid);
  g_test_message ("killed after %u messages were stored", stored);
  g_assert_cmpuint (stored, >=, 100);
  g_assert_cmpuint (count_of (f->laptop, "INBOX"), <, 400);
  g_free (sync_device (f, f->laptop, TRUE));
  g_assert_cmpuint (count_of (f->laptop, "INBOX"), ==, 400);
  g_assert_cmpuint (count_of (server, "INBOX"), ==, 400);
  assert_agree (server, f->laptop, "INBOX");
}

/* The UIDVALIDITY in @device's state of INBOX ("server V MODSEQ NEXT"). */
static guint32
state_uidvalidity (const char *device)
{
  g_autofree char *path =
      g_build_filename (device, "mw-imap-sync", "INBOX.state", NULL);
  g_autofree char *text = NULL;
  const char *line = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  line = strstr (text, "\nserver ");
  g_assert_nonnull (line);
  return (guint32) g_ascii_strtoull (line + 8, NULL, 10);
}

/* The server loses what numbered its messages, as a lost or rebuilt
 * index does: mw-imapd its mailwire-uidlist; Dovecot, stopped, its
 * index files and dovecot-uidlist (started again, on new ports). Both
 * then give every message a new UID under a new UIDVALIDITY. */
static void
forget_server_uids (Fixture *f)
{
  g_autofree char *server = server_root (f);
  g_autofree char *uidlist =
      g_build_filename (server, "mailwire-uidlist", NULL);

  if (f->dovecot == NULL)
    {
      g_assert_cmpint (g_unlink (uidlist), ==, 0);
      return;
    }
  mw_dovecot_stop (f->dovecot);
  mw_dovecot_forget_uids (f->dovecot, "bob");
  mw_dovecot_restart (f->dovecot);
  f->port = mw_dovecot_port (f->dovecot, "imap");
  g_free (f->server);
  f->server = g_strdup_printf ("127.0.0.1:%u", f->port);
}

/* The server's UIDs all change (RFC 9051 §2.3.1.1): the sync says so,
 * pairs the messages again by Message-ID, deletes nothing, keeps a flag
 * set here meanwhile, uploads only what the server really lacks, and
 * starts its state over from the new UIDVALIDITY: the sync after it has
 * nothing to do and resumes QRESYNC. */
static void
test_uidvalidity_change (Fixture *f, gconstpointer data)
{
  g_autofree char *server = server_root (f);
  g_autofree char *output = NULL;
  g_autofree char *inbox = NULL;
  g_autofree char *flags = NULL;
  guint32 before = 0;

  (void) data;
  deliver (f, "<u1@example.test>");
  deliver (f, "<u2@example.test>");
  g_free (sync_device (f, f->laptop, TRUE));
  before = state_uidvalidity (f->laptop);
  append_local (f->laptop, "<u3@example.test>");
  set_local_flags (f->laptop, "INBOX", "<u1@example.test>", MAIL_FLAG_FLAGGED);
  forget_server_uids (f);
  output = sync_device (f, f->laptop, TRUE);
  inbox = summary_of (output, "INBOX");
  g_assert_nonnull (strstr (inbox, "2 paired by Message-ID"));
  g_assert_nonnull (strstr (inbox, "1 uploaded"));
  g_assert_nonnull (strstr (inbox, "deleted 0 here, 0 there"));
  g_assert_cmpuint (count_of (server, "INBOX"), ==, 3);
  g_assert_cmpuint (count_of (f->laptop, "INBOX"), ==, 3);
  flags = flags_of (server, "INBOX", "<u1@example.test>");
  g_assert_cmpstr (flags, ==, "F");
  assert_agree (server, f->laptop, "INBOX");
  g_assert_cmpuint (state_uidvalidity (f->laptop), !=, before);
  g_clear_pointer (&output, g_free);
  g_clear_pointer (&inbox, g_free);
  output = sync_device (f, f->laptop, TRUE);
  inbox = summary_of (output, "INBOX");
  g_assert_nonnull (strstr (inbox, "0 downloaded, 0 uploaded, 0 paired"));
  g_assert_nonnull (strstr (inbox, "deleted 0 here, 0 there"));
  /* QRESYNC from the new UIDVALIDITY; the upload's UID is past the
   * UIDNEXT that SELECT gave, so it is asked for once more */
  g_assert_nonnull (strstr (inbox, ", QRESYNC)"));
  assert_agree (server, f->laptop, "INBOX");
}

/* One test path per story and server; Dovecot's need root (it drops
 * privileges), and skip, saying so, without it. */
typedef void (*Story) (Fixture *f, gconstpointer data);

static void
add (const char *story, Story func, gboolean with_dovecot)
{
  g_autofree char *ours = g_strdup_printf ("/mw-imap-sync/mw-imapd/%s", story);
  g_autofree char *theirs = g_strdup_printf ("/mw-imap-sync/dovecot/%s", story);
  const char *reason = NULL;

  g_test_add (ours, Fixture, GINT_TO_POINTER (SERVER_MW_IMAPD), fixture_set_up,
              func, fixture_tear_down);
  if (!with_dovecot)
    return;
  if (mw_dovecot_available (&reason))
    g_test_add (theirs, Fixture, GINT_TO_POINTER (SERVER_DOVECOT),
                fixture_set_up, func, fixture_tear_down);
  else
    g_test_add_data_func (theirs, reason, (GTestDataFunc) g_test_skip);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  add ("first-sync-and-resync", test_first_sync_and_resync, TRUE);
  add ("unchanged-resync-then-local-changes",
       test_unchanged_resync_then_local_changes, TRUE);
  add ("two-devices", test_two_devices, TRUE);
  add ("two-devices-without-qresync", test_two_devices_no_qresync, TRUE);
  add ("merge-flag-by-flag", test_merge_flag_by_flag, TRUE);
  add ("crash-during-sync", test_crash_during_sync, TRUE);
  add ("uidvalidity-change", test_uidvalidity_change, TRUE);
  return g_test_run ();
}
