/* SPDX-License-Identifier: MIT
 * mail-folder.c: one open folder of the Maildir++ store: its messages in
 * UID order (RFC 9051 §2.3.1.1), loading and syncing them from the
 * uidlist (mail-uidlist.c) and the scan of new/ and cur/
 * (mail-folder-scan.c), \Recent (RFC 3501 §2.3.2), and flag changes in
 * batches with their MODSEQs (RFC 7162 §3.1). One message's operations
 * are mail-folder-message.c; watching, mail-folder-monitor.c.
 */
#define _GNU_SOURCE /* strverscmp (), openat (), pread () */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "mail-folder-private.h"

/* ---- folders --------------------------------------------------------- */

static void
folder_entry_free (gpointer data)
{
  FolderEntry *entry = data;

  if (entry->own_name)
    g_free (entry->message.name);
  if (entry->own_path)
    g_free (entry->message.path);
  g_strfreev (entry->message.keywords);
  if (entry->alone)
    g_free (entry);
}

/* Takes @path (transfer full) as the message's current path. */
void
folder_entry_set_path (FolderEntry *entry, char *path)
{
  if (entry->own_path)
    g_free (entry->message.path);
  entry->message.path = path;
  entry->own_path = TRUE;
}

/* A copy of @entry that outlives its load and its list: it takes what
 * @entry owned, and copies what the list did (transfer full). */
static FolderEntry *
folder_entry_take_alone (FolderEntry *entry)
{
  FolderEntry *alone = g_memdup2 (entry, sizeof *entry);

  entry->message.keywords = NULL;
  entry->own_name = entry->own_path = FALSE;
  alone->alone = TRUE;
  if (!alone->own_name)
    alone->message.name = g_strdup (alone->message.name);
  if (!alone->own_path)
    alone->message.path = g_strdup (alone->message.path);
  alone->own_name = alone->own_path = TRUE;
  return alone;
}

static void
folder_entry_init (FolderEntry *entry,
                   MailFolder *folder,
                   const UidEntry *listed,
                   guint32 first_recent)
{
  MailMessage *message = &entry->message;

  message->uid = listed->uid;
  /* the list's, which the folder keeps while the entry lives */
  message->name = (char *) listed->name;
  message->path = (char *) listed->path;
  message->recent = listed->uid >= first_recent;
  message->modseq = listed->modseq;
  message->size = listed->size;
  message->mtime = listed->mtime;
  if (listed->info != NULL && listed->info[0] != '\0')
    mail_message_set_info (message, folder->keywords, listed->info);
}

/* Modification times of @dir's new/ and cur/ in nanoseconds (0 if
 * missing). */
static void
dir_note_mtimes (const char *dir, gint64 out_mtime[2])
{
  static const char *const subdirs[2] = { "new", "cur" };

  for (int i = 0; i < 2; i++)
    {
      g_autofree char *path = g_build_filename (dir, subdirs[i], NULL);
      struct stat st;

      out_mtime[i] = 0;
      if (stat (path, &st) == 0)
        out_mtime[i] =
            (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) +
            st.st_mtim.tv_nsec;
    }
}

/* RFC 3501 §2.3.2: a message is \Recent in one session only, the first
 * to see it. Returns the lowest UID that is recent for this handle; a
 * claiming handle then moves the folder's mark past every UID, so no
 * other session sees them recent (TRUE in *inout_durable). */
static guint32
folder_claim_recent (MailFolder *folder, UidList *list, gboolean *inout_durable)
{
  guint32 first_recent = list->first_recent;

  if (folder->claims_recent && list->first_recent != list->uidnext)
    {
      list->first_recent = list->uidnext;
      *inout_durable = TRUE;
    }
  return first_recent;
}

/* Does this kernel's clock stamp @dir's directories? On the local file
 * systems a Maildir lives on, yes; on a network file system the server
 * stamps them with its own clock, which may lag ours: there only the
 * second's margin of older code holds. */
static gboolean
dir_stamped_by_our_clock (const char *dir)
{
  static const unsigned long local[] = {
    0xEF53,     /* ext2, ext3, ext4 */
    0x58465342, /* xfs */
    0x9123683E, /* btrfs */
    0x01021994, /* tmpfs */
    0xF2F52010, /* f2fs */
  };
  struct statfs fs;

  if (statfs (dir, &fs) != 0)
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (local); i++)
    if ((unsigned long) fs.f_type == local[i])
      return TRUE;
  return FALSE;
}

/* Notes when a scan begins, on both clocks (nanoseconds), and then the
 * time stamps of new/ and cur/: in that order, so that a change after
 * the clocks were read can only be stamped later than they say. The
 * coarse clock stays 0 where it does not stamp the directories. */
static void
folder_note_scan_start (MailFolder *folder)
{
  struct timespec coarse = { 0, 0 };

  clock_gettime (CLOCK_REALTIME_COARSE, &coarse);
  folder->scan_coarse = dir_stamped_by_our_clock (folder->dir)
                            ? coarse.tv_sec * NS_PER_SECOND + coarse.tv_nsec
                            : 0;
  folder->scan_time = g_get_real_time () * 1000;
  dir_note_mtimes (folder->dir, folder->dir_mtime);
}

/* Does a directory stamped @mtime when a scan began prove that nothing
 * changed in it since, as long as the stamp stays the same? Every change
 * after the scan began is stamped at least @coarse (the kernel's coarse
 * clock then, which stamps directories), so a stamp older than @coarse
 * can never come back. A stamp of whole seconds is from a file system
 * that keeps only seconds (or the rare tick that falls on one): then the
 * second after it must have begun. A list by older code knew only the
 * fine clock (@coarse 0): a second's margin, as that code had. */
static gboolean
mtime_settled (gint64 mtime, gint64 coarse, gint64 fine)
{
  if (coarse == 0)
    return mtime < fine - MTIME_TRUST_NS;
  if (mtime % NS_PER_SECOND == 0)
    return mtime + NS_PER_SECOND <= coarse;
  return mtime < coarse;
}

/* Can the uidlist stand for new/ and cur/ without reading them? When
 * their time stamps are those the writing scan saw, and had settled
 * when it began. Any delivery, rename or unlink since has changed them. */
static gboolean
scanned_describes_dirs (const gint64 scanned[4], const gint64 mtime[2])
{
  return scanned[2] != 0 && scanned[0] == mtime[0] && scanned[1] == mtime[1] &&
         mtime_settled (mtime[0], scanned[3], scanned[2]) &&
         mtime_settled (mtime[1], scanned[3], scanned[2]);
}

static gboolean
uidlist_describes_dirs (const UidList *list, const gint64 mtime[2])
{
  return scanned_describes_dirs (list->scanned, mtime);
}

gboolean
mail_store_peek_folder (MailStore *store,
                        const char *name,
                        guint32 *out_uidvalidity,
                        guint32 *out_uidnext,
                        guint64 *out_highest_modseq)
{
  g_autofree char *dir = mail_store_folder_dir (store, name, NULL);
  g_autofree char *header = NULL;
  UidListFileId id;
  gint64 scanned[4] = { 0, 0, 0, 0 };
  gint64 mtime[2];

  g_return_val_if_fail (store != NULL, FALSE);
  /* the list first: one written after it can only hold later stamps */
  if (dir == NULL || !uidlist_peek (dir, &id, &header) ||
      !uidlist_parse_header (header, out_uidvalidity, out_uidnext,
                             out_highest_modseq, scanned))
    return FALSE;
  dir_note_mtimes (dir, mtime);
  return scanned_describes_dirs (scanned, mtime);
}

/* Under the store lock: the uidlist, brought up to date by a scan of
 * new/ and cur/ unless it still describes them, and written back when
 * that changed anything; then shared (transfer full, never to be
 * changed). *out_first_recent as folder_claim_recent (). */
static UidList *
folder_load_list (MailFolder *folder, guint32 *out_first_recent, GError **error)
{
  g_autoptr (UidList) list = NULL;
  g_autoptr (GHashTable) found = NULL;
  gboolean durable = FALSE;
  gboolean files = FALSE;

  folder_note_scan_start (folder);
  /* the common case: the file is the one this process read last, and
   * neither it nor the folder has anything to change */
  list = uidlist_shared_lookup (folder->dir);
  if (list != NULL && uidlist_describes_dirs (list, folder->dir_mtime) &&
      (!folder->claims_recent || list->first_recent == list->uidnext))
    {
      *out_first_recent = list->first_recent;
      return g_steal_pointer (&list);
    }
  g_clear_pointer (&list, uidlist_unref);
  list = uidlist_read (folder->store, folder->dir, error);
  if (list == NULL)
    return NULL;
  if (!uidlist_describes_dirs (list, folder->dir_mtime))
    {
      found = maildir_scan (folder->dir, error);
      if (found == NULL ||
          !uidlist_update (folder->dir, list, found, &durable, &files, error))
        return NULL;
      memcpy (list->scanned, folder->dir_mtime, sizeof folder->dir_mtime);
      list->scanned[2] = folder->scan_time;
      list->scanned[3] = folder->scan_coarse;
      /* written for the stamps only when they let the next open trust
       * it: a scan in the tick of a change would be written for nothing
       * (800 KB for 10,000 messages), and the next open scans anyway */
      files = files || uidlist_describes_dirs (list, folder->dir_mtime);
    }
  *out_first_recent = folder_claim_recent (folder, list, &durable);
  /* A folder's first list (or one made again for a lost list) is not
   * fsynced: all its UIDs are new, under a new UIDVALIDITY, and were it
   * lost, the next open would choose yet another UIDVALIDITY
   * (store_next_uidvalidity () says why that holds across a crash), so
   * no client could see this one with other UIDs. A first SELECT then
   * waits for no disk. Every later list that hands out UIDs a client
   * may hold is fsynced before they are told (durable). */
  if (list->created)
    durable = FALSE;
  if ((durable || files || list->created) &&
      !uidlist_write (folder->dir, list, durable, error))
    return NULL;
  if (list->file.inode != 0)
    uidlist_share (list);
  return g_steal_pointer (&list);
}

static gint entries_find_uid (GPtrArray *entries, guint32 uid);

void
folder_entry_learn_facts (MailFolder *folder, FolderEntry *entry)
{
  MailMessage *message = &entry->message;
  g_autoptr (GHashTable) found = NULL;
  const ScanEntry *scan = NULL;
  g_autofree char *path = NULL;

  if (message->mtime != 0 || entry->facts_tried)
    return;
  entry->facts_tried = TRUE;
  if (message_path_facts (message->path, &message->size, &message->mtime))
    {
      folder->facts_learned = TRUE;
      return;
    }
  /* renamed by another process since the scan: read it where it is now,
   * but leave its path and flags to the next sync, which tells the
   * client of the change */
  found = maildir_scan (folder->dir, NULL);
  scan = found ? g_hash_table_lookup (found, message->name) : NULL;
  path = scan ? scan_entry_path (folder->dir, scan) : NULL;
  if (path != NULL &&
      message_path_facts (path, &message->size, &message->mtime))
    folder->facts_learned = TRUE;
}

/* Under the store lock: puts the sizes and dates this handle read from
 * files (folder_entry_learn_facts ()) into the uidlist, so no other
 * handle reads them again. Only what the next scan could find again
 * changes, so it is not fsynced, and a failure only costs speed. */
static void
folder_save_facts (MailFolder *folder)
{
  g_autoptr (UidList) list = NULL;
  g_autofree char *header = NULL;
  UidListFileId id;
  gboolean changed = FALSE;

  if (!folder->facts_learned)
    return;
  folder->facts_learned = FALSE;
  /* a missing list is not made here: only a scan gives out UIDs */
  if (!uidlist_peek (folder->dir, &id, &header) ||
      (list = uidlist_read (folder->store, folder->dir, NULL)) == NULL ||
      list->created)
    return;
  for (guint i = 0; i < list->entries->len; i++)
    {
      UidEntry *listed = &g_array_index (list->entries, UidEntry, i);
      gint at = listed->mtime == 0
                    ? entries_find_uid (folder->entries, listed->uid)
                    : -1;
      const MailMessage *known =
          at < 0 ? NULL
                 : &((FolderEntry *) folder->entries->pdata[at])->message;

      if (known == NULL || known->mtime == 0 ||
          strcmp (known->name, listed->name) != 0)
        continue;
      listed->size = known->size;
      listed->mtime = known->mtime;
      changed = TRUE;
    }
  if (changed && uidlist_write (folder->dir, list, FALSE, NULL) &&
      list->file.inode != 0)
    uidlist_share (list);
}

/* Takes the store lock, loads the uidlist and returns the folder's
 * messages in UID order (transfer full); *out_list is the list whose
 * strings they use (transfer full) and *out_block their memory (transfer
 * full: g_free () it after the array), to keep while they live. */
static GPtrArray *
folder_load (MailFolder *folder,
             UidList **out_list,
             FolderEntry **out_block,
             GError **error)
{
  g_autoptr (UidList) list = NULL;
  g_autoptr (GPtrArray) keywords = NULL;
  guint32 first_recent = 0;
  GPtrArray *entries;
  int lock = mail_store_lock (folder->store, error);

  if (lock < 0)
    return NULL;
  folder_save_facts (folder);
  list = folder_load_list (folder, &first_recent, error);
  if (list != NULL)
    keywords = mail_keywords_read (folder->dir, error);
  mail_store_unlock (lock);
  if (keywords == NULL)
    return NULL;
  g_ptr_array_unref (folder->keywords);
  folder->keywords = g_steal_pointer (&keywords);
  folder->uidvalidity = list->uidvalidity;
  folder->uidnext = list->uidnext;
  folder->highest_modseq = list->highest_modseq;
  g_clear_pointer (&folder->expunged, g_array_unref);
  folder->expunged = g_array_ref (list->expunged);
  entries = g_ptr_array_new_full (list->entries->len, folder_entry_free);
  *out_block = g_new0 (FolderEntry, MAX (list->entries->len, 1));
  for (guint i = 0; i < list->entries->len; i++)
    {
      folder_entry_init (&(*out_block)[i], folder,
                         &g_array_index (list->entries, UidEntry, i),
                         first_recent);
      g_ptr_array_add (entries, &(*out_block)[i]);
    }
  *out_list = g_steal_pointer (&list);
  return entries;
}

MailFolder *
mail_folder_open (MailStore *store, const char *name, GError **error)
{
  return mail_folder_open_full (store, name, 0, error);
}

MailFolder *
mail_folder_open_full (MailStore *store,
                       const char *name,
                       MailFolderOpenFlags flags,
                       GError **error)
{
  g_autoptr (MailFolder) folder = NULL;
  g_autofree char *dir = NULL;

  g_return_val_if_fail (store != NULL, NULL);
  dir = mail_store_folder_dir (store, name, error);
  if (dir == NULL)
    return NULL;
  folder = g_new0 (MailFolder, 1);
  folder->store = store;
  folder->dir = g_steal_pointer (&dir);
  folder->keywords = g_ptr_array_new_with_free_func (g_free);
  folder->claims_recent = (flags & MAIL_FOLDER_CLAIM_RECENT) != 0;
  folder->batch_lock = -1;
  folder->entries = folder_load (folder, &folder->list, &folder->block, error);
  if (folder->entries == NULL)
    return NULL;
  return g_steal_pointer (&folder);
}

void
mail_folder_free (MailFolder *folder)
{
  if (folder == NULL)
    return;
  g_warn_if_fail (folder->batch == NULL);
  if (folder->facts_learned)
    {
      int lock = mail_store_lock (folder->store, NULL);

      if (lock >= 0)
        {
          folder_save_facts (folder);
          mail_store_unlock (lock);
        }
    }
  g_clear_pointer (&folder->entries, g_ptr_array_unref);
  g_clear_pointer (&folder->block, g_free);
  g_clear_pointer (&folder->list, uidlist_unref); /* after the entries */
  g_clear_pointer (&folder->keywords, g_ptr_array_unref);
  g_clear_pointer (&folder->expunged, g_array_unref);
  g_free (folder->dir);
  g_free (folder);
}

guint64
mail_folder_get_highest_modseq (MailFolder *folder)
{
  g_return_val_if_fail (folder != NULL, 0);
  return folder->highest_modseq;
}

GArray *
mail_folder_expunged_since (MailFolder *folder, guint64 modseq)
{
  GArray *out = g_array_new (FALSE, FALSE, sizeof (MailUidRange));

  g_return_val_if_fail (folder != NULL, out);
  for (guint i = 0; folder->expunged && i < folder->expunged->len; i++)
    {
      const ExpungedRange *range =
          &g_array_index (folder->expunged, ExpungedRange, i);
      MailUidRange uids = { range->first, range->last };

      if (range->modseq > modseq)
        g_array_append_val (out, uids);
    }
  return out;
}

/* ---- changing flags in a batch (RFC 7162 MODSEQ) ----------------------- */

/* Another session may have changed messages since our last sync: their
 * MODSEQ as the uidlist has it now (RFC 7162 §3.1.3 UNCHANGEDSINCE
 * compares with this one). Both lists ascend by UID. */
static void
batch_refresh_modseqs (MailFolder *folder)
{
  GArray *listed = folder->batch->entries;
  guint k = 0;

  for (guint i = 0; i < folder->entries->len; i++)
    {
      MailMessage *message =
          &((FolderEntry *) folder->entries->pdata[i])->message;

      while (k < listed->len &&
             g_array_index (listed, UidEntry, k).uid < message->uid)
        k++;
      if (k < listed->len &&
          g_array_index (listed, UidEntry, k).uid == message->uid)
        message->modseq =
            MAX (message->modseq, g_array_index (listed, UidEntry, k).modseq);
    }
}

gboolean
mail_folder_begin_changes (MailFolder *folder, GError **error)
{
  g_return_val_if_fail (folder != NULL && folder->batch == NULL, FALSE);
  folder->batch_lock = mail_store_lock (folder->store, error);
  if (folder->batch_lock < 0)
    return FALSE;
  folder->batch = uidlist_read (folder->store, folder->dir, error);
  folder->batch_dirty = FALSE;
  if (folder->batch != NULL)
    {
      batch_refresh_modseqs (folder);
      return TRUE;
    }
  mail_store_unlock (folder->batch_lock);
  folder->batch_lock = -1;
  return FALSE;
}

gboolean
mail_folder_end_changes (MailFolder *folder, GError **error)
{
  gboolean ok = TRUE;

  g_return_val_if_fail (folder != NULL && folder->batch != NULL, FALSE);
  /* a list made up because the file is missing is never written here:
   * only a real scan may give out UIDs */
  if (folder->batch_dirty && !folder->batch->created)
    ok = uidlist_write (folder->dir, folder->batch, TRUE, error);
  /* the next handle to open the folder need not read it again */
  if (ok && folder->batch_dirty && folder->batch->file.inode != 0)
    uidlist_share (folder->batch);
  g_clear_pointer (&folder->batch, uidlist_unref);
  mail_store_unlock (folder->batch_lock);
  folder->batch_lock = -1;
  return ok;
}

/* Gives @message the next MODSEQ of the batch, for its new @info. */
void
batch_note_change (MailFolder *folder, MailMessage *message, const char *info)
{
  UidList *list = folder->batch;
  guint low = 0;
  guint high = list->entries->len;

  while (low < high)
    {
      guint middle = low + (high - low) / 2;
      UidEntry *entry = &g_array_index (list->entries, UidEntry, middle);

      if (entry->uid == message->uid)
        {
          if (g_strcmp0 (entry->info, info) == 0)
            return; /* the flags did not change: neither does MODSEQ */
          g_autofree char *file =
              g_strdup_printf ("cur/%s:2,%s", entry->name, info);

          entry->path = uidlist_keep_path (list, file, strlen (file));
          entry->info = strstr (entry->path + list->dir_length, ":2,") + 3;
          entry->modseq = ++list->highest_modseq;
          message->modseq = entry->modseq;
          folder->highest_modseq =
              MAX (folder->highest_modseq, list->highest_modseq);
          folder->batch_dirty = TRUE;
          return;
        }
      if (entry->uid < message->uid)
        low = middle + 1;
      else
        high = middle;
    }
}

guint32
mail_folder_get_uidvalidity (MailFolder *folder)
{
  g_return_val_if_fail (folder != NULL, 0);
  return folder->uidvalidity;
}

guint32
mail_folder_get_uidnext (MailFolder *folder)
{
  g_return_val_if_fail (folder != NULL, 0);
  return folder->uidnext;
}

guint
mail_folder_get_count (MailFolder *folder)
{
  g_return_val_if_fail (folder != NULL, 0);
  return folder->entries->len;
}

const MailMessage *
mail_folder_get_message (MailFolder *folder, guint index)
{
  FolderEntry *entry;

  g_return_val_if_fail (folder != NULL, NULL);
  g_return_val_if_fail (index < folder->entries->len, NULL);
  entry = folder->entries->pdata[index];
  folder_entry_learn_facts (folder, entry);
  return &entry->message;
}

const MailMessage *
mail_folder_peek_message (MailFolder *folder, guint index)
{
  g_return_val_if_fail (folder != NULL, NULL);
  g_return_val_if_fail (index < folder->entries->len, NULL);
  return &((FolderEntry *) folder->entries->pdata[index])->message;
}

/* Binary search: entries are in ascending UID order. */
static gint
entries_find_uid (GPtrArray *entries, guint32 uid)
{
  guint low = 0;
  guint high = entries->len;

  while (low < high)
    {
      guint middle = low + (high - low) / 2;
      guint32 found = ((FolderEntry *) entries->pdata[middle])->message.uid;

      if (found == uid)
        return (gint) middle;
      if (found < uid)
        low = middle + 1;
      else
        high = middle;
    }
  return -1;
}

gint
mail_folder_find_uid (MailFolder *folder, guint32 uid)
{
  g_return_val_if_fail (folder != NULL, -1);
  return entries_find_uid (folder->entries, uid);
}

/* Puts the entries of @old that @fresh lacks back into @fresh, in UID
 * order, as deleted: the caller's numbering holds (MAIL_FOLDER_SYNC_KEEP).
 * What goes into @fresh are copies, as @old and its block and list are
 * freed by the caller. TRUE if there were any. */
static gboolean
entries_keep_removed (GPtrArray *fresh, GPtrArray *old)
{
  guint at = 0;
  gboolean kept = FALSE;

  for (guint i = 0; i < old->len; i++)
    {
      FolderEntry *entry = old->pdata[i];

      while (at < fresh->len &&
             ((FolderEntry *) fresh->pdata[at])->message.uid <
                 entry->message.uid)
        at++;
      if (at < fresh->len &&
          ((FolderEntry *) fresh->pdata[at])->message.uid == entry->message.uid)
        continue;
      entry->deleted = TRUE;
      kept = TRUE;
      /* its load and list go with @old */
      g_ptr_array_insert (fresh, (gint) at++, folder_entry_take_alone (entry));
    }
  return kept;
}

gboolean
mail_folder_sync (MailFolder *folder,
                  guint *out_added,
                  guint *out_removed,
                  GError **error)
{
  return mail_folder_sync_full (folder, 0, out_added, out_removed, error);
}

gboolean
mail_folder_sync_full (MailFolder *folder,
                       MailFolderSyncFlags flags,
                       guint *out_added,
                       guint *out_removed,
                       GError **error)
{
  GPtrArray *fresh;
  UidList *list = NULL;
  FolderEntry *block = NULL;
  guint kept = 0;

  g_return_val_if_fail (folder != NULL, FALSE);
  g_return_val_if_fail (folder->batch == NULL, FALSE); /* holds the lock */
  fresh = folder_load (folder, &list, &block, error);
  if (fresh == NULL)
    return FALSE;
  /* \Recent belongs to the handle that first saw the message. */
  for (guint i = 0; i < fresh->len; i++)
    {
      MailMessage *message = &((FolderEntry *) fresh->pdata[i])->message;
      gint old = entries_find_uid (folder->entries, message->uid);

      if (old < 0)
        continue;
      message->recent =
          ((FolderEntry *) folder->entries->pdata[old])->message.recent;
      kept++;
    }
  if (out_added != NULL)
    *out_added = fresh->len - kept;
  if (out_removed != NULL)
    *out_removed = folder->entries->len - kept;
  folder->keeps_removed = FALSE;
  if (flags & MAIL_FOLDER_SYNC_KEEP)
    {
      folder->keeps_removed = entries_keep_removed (fresh, folder->entries);
      if (out_removed != NULL)
        *out_removed = 0;
    }
  g_ptr_array_unref (folder->entries);
  folder->entries = fresh;
  g_free (folder->block);
  folder->block = block;
  uidlist_unref (folder->list); /* after the entries that used it */
  folder->list = list;
  return TRUE;
}

gboolean
mail_folder_may_have_changed (MailFolder *folder)
{
  gint64 now[2];

  g_return_val_if_fail (folder != NULL, TRUE);
  /* a sync would drop what this handle still shows as gone */
  if (folder->keeps_removed)
    return TRUE;
  dir_note_mtimes (folder->dir, now);
  for (int i = 0; i < 2; i++)
    {
      if (now[i] != folder->dir_mtime[i] ||
          !mtime_settled (now[i], folder->scan_coarse, folder->scan_time))
        return TRUE;
    }
  return FALSE;
}

gint
mail_folder_find_name (MailFolder *folder, const char *name)
{
  g_return_val_if_fail (folder != NULL && name != NULL, -1);
  for (guint i = 0; i < folder->entries->len; i++)
    {
      const FolderEntry *entry = folder->entries->pdata[i];

      if (strcmp (entry->message.name, name) == 0)
        return (gint) i;
    }
  return -1;
}
