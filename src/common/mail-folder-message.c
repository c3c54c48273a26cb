/* SPDX-License-Identifier: MIT
 * mail-folder-message.c: one message of an open folder: reading it,
 * following renames by other processes, flagging (RFC 9051 §2.3.2),
 * deleting, copying (§6.4.7), moving (RFC 6851 §3.3) and appending
 * (§6.3.12) (maildir(5)).
 */
#define _GNU_SOURCE /* strverscmp (), openat (), pread () */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail-folder-private.h"
#include "mail-line.h"

/* ---- one message ----------------------------------------------------- */

static FolderEntry *
folder_get_entry (MailFolder *folder, guint index, GError **error)
{
  FolderEntry *entry = folder->entries->pdata[index];

  if (entry->deleted)
    {
      g_set_error_literal (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_NOT_FOUND,
                           "message was deleted");
      return NULL;
    }
  return entry;
}

/* Another process may have renamed the file (a flag change) since we
 * listed it: find its base name again in new/ and cur/. */
static gboolean
entry_relocate (MailFolder *folder, FolderEntry *entry, GError **error)
{
  g_autoptr (GHashTable) found = maildir_scan (folder->dir, error);
  ScanEntry *scan;

  if (found == NULL)
    return FALSE;
  scan = g_hash_table_lookup (found, entry->message.name);
  if (scan == NULL)
    {
      g_set_error_literal (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_NOT_FOUND,
                           "message was removed by another session");
      return FALSE;
    }
  folder_entry_set_path (entry, scan_entry_path (folder->dir, scan));
  mail_message_set_info (&entry->message, folder->keywords, scan->info);
  return TRUE;
}

/* Takes @data (a whole file): as it is when @wire_size (the size its
 * name or first look gave) is its length, with CRLF for every bare LF
 * when another program wrote it that way (mail_wire_size ()). */
static GBytes *
message_with_crlf (char *data, gsize length, guint64 wire_size)
{
  GString *crlf = NULL;

  if (wire_size == length || mail_wire_size (data, length) != wire_size)
    return g_bytes_new_take (data, length);
  crlf = mail_line_to_crlf (data, length);
  g_free (data);
  return g_string_free_to_bytes (crlf);
}

GBytes *
mail_folder_read_message (MailFolder *folder, guint index, GError **error)
{
  FolderEntry *entry;

  g_return_val_if_fail (folder != NULL, NULL);
  g_return_val_if_fail (index < folder->entries->len, NULL);
  entry = folder_get_entry (folder, index, error);
  if (entry != NULL)
    folder_entry_learn_facts (folder, entry); /* the size tells the form */
  for (int attempt = 1; entry != NULL; attempt++)
    {
      GError *local_error = NULL;
      char *data = NULL;
      gsize length = 0;

      if (g_file_get_contents (entry->message.path, &data, &length,
                               &local_error))
        return message_with_crlf (data, length, entry->message.size);
      if (attempt == RELOCATE_ATTEMPTS ||
          !g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          mail_store_fail_gerror (error, local_error);
          return NULL;
        }
      g_error_free (local_error);
      if (!entry_relocate (folder, entry, error))
        return NULL;
    }
  return NULL;
}

gboolean
mail_folder_refresh_flags (MailFolder *folder, guint index, GError **error)
{
  FolderEntry *entry;

  g_return_val_if_fail (folder != NULL, FALSE);
  g_return_val_if_fail (index < folder->entries->len, FALSE);
  entry = folder_get_entry (folder, index, error);
  if (entry == NULL)
    return FALSE;
  /* the name holds the flags: if it is still there, they are current */
  if (g_file_test (entry->message.path, G_FILE_TEST_EXISTS))
    return TRUE;
  return entry_relocate (folder, entry, error);
}

/* Renames the message file to @target, following a rename by another
 * process, and fsyncs the directories involved. */
static gboolean
entry_rename (MailFolder *folder,
              FolderEntry *entry,
              const char *target,
              GError **error)
{
  g_autofree char *target_dir = g_path_get_dirname (target);
  g_autofree char *source_dir = NULL;

  for (int attempt = 1; strcmp (entry->message.path, target) != 0; attempt++)
    {
      if (rename (entry->message.path, target) == 0)
        break;
      if (errno != ENOENT || attempt == RELOCATE_ATTEMPTS)
        return mail_store_fail_errno (error, errno, "rename",
                                      entry->message.path);
      if (!entry_relocate (folder, entry, error))
        return FALSE;
    }
  source_dir = g_path_get_dirname (entry->message.path);
  folder_entry_set_path (entry, g_strdup (target));
  if (strcmp (source_dir, target_dir) != 0 &&
      !mail_fsync_directory (source_dir, error))
    return FALSE;
  return mail_fsync_directory (target_dir, error);
}

gboolean
mail_folder_set_flags (MailFolder *folder,
                       guint index,
                       MailFlags flags,
                       const char *const *keywords,
                       GError **error)
{
  FolderEntry *entry;
  g_autofree char *info = NULL;
  g_autofree char *target = NULL;
  gboolean own_batch;
  gboolean ok;

  g_return_val_if_fail (folder != NULL, FALSE);
  g_return_val_if_fail (index < folder->entries->len, FALSE);
  own_batch = folder->batch == NULL;
  if (own_batch && !mail_folder_begin_changes (folder, error))
    return FALSE;
  entry = folder_get_entry (folder, index, error);
  ok = entry != NULL && mail_keywords_ensure_locked (
                            folder->dir, &folder->keywords, keywords, error);
  if (ok)
    {
      info = mail_info_from_flags (folder->keywords, flags, keywords);
      target = g_strdup_printf ("%s/cur/%s:2,%s", folder->dir,
                                entry->message.name, info);
      ok = entry_rename (folder, entry, target, error);
    }
  if (ok)
    {
      mail_message_set_info (&entry->message, folder->keywords, info);
      batch_note_change (folder, &entry->message, info);
    }
  if (own_batch && !mail_folder_end_changes (folder, ok ? error : NULL))
    ok = FALSE;
  return ok;
}

gboolean
mail_folder_delete_message (MailFolder *folder, guint index, GError **error)
{
  FolderEntry *entry;
  g_autofree char *dir = NULL;
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (folder != NULL, FALSE);
  g_return_val_if_fail (index < folder->entries->len, FALSE);
  entry = folder->entries->pdata[index];
  for (int attempt = 1; !entry->deleted; attempt++)
    {
      if (unlink (entry->message.path) == 0)
        break;
      if (errno != ENOENT || attempt == RELOCATE_ATTEMPTS)
        return mail_store_fail_errno (error, errno, "remove",
                                      entry->message.path);
      if (entry_relocate (folder, entry, &local_error))
        continue;
      if (!g_error_matches (local_error, MAIL_STORE_ERROR,
                            MAIL_STORE_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      break; /* already removed by another session: same outcome */
    }
  entry->deleted = TRUE;
  folder->keeps_removed = TRUE;
  dir = g_path_get_dirname (entry->message.path);
  return mail_fsync_directory (dir, error);
}

gboolean
mail_folder_move_message (MailFolder *folder,
                          guint index,
                          const char *to_folder,
                          char **out_name,
                          GError **error)
{
  FolderEntry *entry;
  g_autofree char *dir = NULL;
  g_autoptr (GPtrArray) table = NULL;
  g_autofree char *info = NULL;
  g_autofree char *target = NULL;
  const char *const *keywords;

  g_return_val_if_fail (folder != NULL, FALSE);
  g_return_val_if_fail (index < folder->entries->len, FALSE);
  entry = folder_get_entry (folder, index, error);
  if (entry == NULL)
    return FALSE;
  dir = mail_store_folder_dir (folder->store, to_folder, error);
  if (dir != NULL && strcmp (dir, folder->dir) == 0)
    {
      /* into itself: the message must come back as a new one (a new
       * UID), so a durable copy first, then the original goes */
      return mail_folder_copy_message (folder, index, to_folder, out_name,
                                       error) &&
             mail_folder_delete_message (folder, index, error);
    }
  table = dir ? mail_keywords_read (dir, error) : NULL;
  keywords = (const char *const *) entry->message.keywords;
  if (table == NULL ||
      !mail_keywords_ensure (folder->store, dir, &table, keywords, error))
    return FALSE;
  /* the keyword letters are the target folder's, not ours */
  info = mail_info_from_flags (table, entry->message.flags, keywords);
  target = g_strdup_printf ("%s/cur/%s:2,%s", dir, entry->message.name, info);
  if (!entry_rename (folder, entry, target, error))
    return FALSE;
  entry->deleted = TRUE; /* it lives in the other folder now */
  folder->keeps_removed = TRUE;
  if (out_name != NULL)
    *out_name = g_strdup (entry->message.name);
  return TRUE;
}

/* Delivers into the existing folder directory @dir straight to cur/ with
 * the info letters of @flags and @keywords (keyword letters are @dir's,
 * added to its dovecot-keywords when new). */
static gboolean
deliver_with_flags (MailStore *store,
                    const char *dir,
                    GBytes *data,
                    MailFlags flags,
                    const char *const *keywords,
                    gint64 mtime,
                    char **out_name,
                    GError **error)
{
  g_autoptr (GPtrArray) table = mail_keywords_read (dir, error);
  g_autofree char *info = NULL;

  if (table == NULL ||
      !mail_keywords_ensure (store, dir, &table, keywords, error))
    return FALSE;
  info = mail_info_from_flags (table, flags, keywords);
  return mail_maildir_deliver_into (dir, g_bytes_get_data (data, NULL),
                                    g_bytes_get_size (data), info, mtime,
                                    out_name, error);
}

gboolean
mail_folder_copy_message (MailFolder *folder,
                          guint index,
                          const char *to_folder,
                          char **out_name,
                          GError **error)
{
  const MailMessage *message;
  g_autofree char *dir = NULL;
  g_autoptr (GBytes) data = NULL;

  g_return_val_if_fail (folder != NULL, FALSE);
  g_return_val_if_fail (index < folder->entries->len, FALSE);
  message = mail_folder_get_message (folder, index);
  dir = mail_store_folder_dir (folder->store, to_folder, error);
  data = dir ? mail_folder_read_message (folder, index, error) : NULL;
  if (data == NULL)
    return FALSE;
  return deliver_with_flags (folder->store, dir, data, message->flags,
                             (const char *const *) message->keywords,
                             message->mtime, out_name, error);
}

gboolean
mail_store_append (MailStore *store,
                   const char *name,
                   const void *data,
                   gsize length,
                   MailFlags flags,
                   const char *const *keywords,
                   gint64 internaldate,
                   char **out_name,
                   GError **error)
{
  g_autofree char *dir = NULL;
  g_autoptr (GBytes) bytes = NULL;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  dir = mail_store_folder_dir (store, name, error);
  if (dir == NULL)
    return FALSE;
  bytes = g_bytes_new_static (data, length);
  return deliver_with_flags (store, dir, bytes, flags, keywords, internaldate,
                             out_name, error);
}
