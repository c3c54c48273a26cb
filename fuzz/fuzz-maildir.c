/* SPDX-License-Identifier: MIT
 * fuzz-maildir.c: the files of a Maildir that other programs write too
 * (mail-store.h): mailwire-uidlist (versions 1-3: header, "<uid> <name>"
 * lines, X expunge lines), dovecot-keywords ("<index> <keyword>") and
 * the message file names of maildir(5) (",S=", ",W=", ":2,<letters>").
 * There is no pure entry point for them (the readers are static in
 * mail-uidlist.c and mail-flags.c, behind files), so this target writes
 * a fresh Maildir on /dev/shm and opens it through the public API,
 * mail_folder_open (), twice.
 * Input: uidlist text, "\n%%\n", keywords text, "\n%%\n", then file
 * names, one a line (up to 8; with ":2," they go to cur/, else new/).
 * Invariants: UIDs ascend and stay below UIDNEXT; every message reads;
 * a second open (over the uidlist the first one wrote) keeps
 * UIDVALIDITY and gives every message the same UID.
 */
#include "fuzz.h"
#include "mail-store.h"

#define MAX_FILES 8

static const char message_text[] = "From: a@example.test\r\n"
                                   "Subject: fuzz\r\n\r\nhello\r\n";

static void
write_messages (const char *root, char *names)
{
  g_auto (GStrv) lines = g_strsplit (names, "\n", MAX_FILES + 1);

  for (guint i = 0; lines[i] != NULL && i < MAX_FILES; i++)
    {
      g_autofree char *sub = NULL;
      g_autofree char *path = NULL;
      const char *name = lines[i];

      if (*name == '\0' || strchr (name, '/') != NULL ||
          strcmp (name, ".") == 0 || strcmp (name, "..") == 0 ||
          strlen (name) > 200)
        continue;
      sub = g_build_filename (root, strstr (name, ":2,") ? "cur" : "new", NULL);
      path = g_build_filename (sub, name, NULL);
      g_file_set_contents (path, message_text, sizeof message_text - 1, NULL);
    }
}

/* Opens INBOX; the UIDs in order go to @uids (name -> uid) when it is
 * not NULL, and are checked against it otherwise. */
static MailFolder *
open_inbox (MailStore *store, GHashTable *uids, guint32 *inout_uidvalidity)
{
  g_autoptr (GError) error = NULL;
  MailFolder *folder = mail_folder_open (store, NULL, &error);
  guint32 last = 0;

  if (folder == NULL)
    {
      g_assert_nonnull (error);
      return NULL;
    }
  if (*inout_uidvalidity != 0)
    g_assert_cmpuint (mail_folder_get_uidvalidity (folder), ==,
                      *inout_uidvalidity);
  *inout_uidvalidity = mail_folder_get_uidvalidity (folder);
  for (guint i = 0; i < mail_folder_get_count (folder); i++)
    {
      const MailMessage *message = mail_folder_get_message (folder, i);
      g_autoptr (GBytes) octets = NULL;
      gpointer seen = NULL;

      g_assert_cmpuint (message->uid, >, last);
      g_assert_cmpuint (message->uid, <, mail_folder_get_uidnext (folder));
      g_assert_cmpint (mail_folder_find_uid (folder, message->uid), ==, i);
      last = message->uid;
      octets = mail_folder_read_message (folder, i, &error);
      g_assert_no_error (error);
      if (g_hash_table_lookup_extended (uids, message->name, NULL, &seen))
        g_assert_cmpuint (GPOINTER_TO_UINT (seen), ==, message->uid);
      else
        g_hash_table_insert (uids, g_strdup (message->name),
                             GUINT_TO_POINTER (message->uid));
    }
  return folder;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static guint run;
  g_autofree char *root = NULL;
  g_autofree char *uidlist = NULL;
  g_autofree char *keywords = NULL;
  g_autofree char *names = NULL;
  g_autofree char *path = NULL;
  g_autoptr (GHashTable) uids =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (MailStore) store = NULL;
  g_autoptr (GError) error = NULL;
  guint32 uidvalidity = 0;

  fuzz_init ();
  uidlist = fuzz_split (&data, &size, "\n%%\n");
  keywords = fuzz_split (&data, &size, "\n%%\n");
  names = fuzz_strndup (data, size);
  /* a new directory each run: no list cached from an earlier one */
  root = g_strdup_printf ("%s/maildir-%u", fuzz_temp_dir (), run++);
  store = mail_store_open (root, &error);
  g_assert_no_error (error);
  g_free (
      fuzz_write_file (root, "mailwire-uidlist", uidlist, strlen (uidlist)));
  g_free (
      fuzz_write_file (root, "dovecot-keywords", keywords, strlen (keywords)));
  write_messages (root, names);
  for (int pass = 0; pass < 2; pass++)
    {
      g_autoptr (MailFolder) folder = open_inbox (store, uids, &uidvalidity);

      if (folder == NULL)
        break;
    }
  g_clear_pointer (&store, mail_store_free);
  fuzz_remove_tree (root);
  return 0;
}
