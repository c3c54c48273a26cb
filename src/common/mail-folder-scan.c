/* SPDX-License-Identifier: MIT
 * mail-folder-scan.c: scanning a folder's new/ and cur/ (maildir(5)) and
 * bringing its uidlist in line with what is there: new files get the
 * next UIDs in delivery order (RFC 9051 §2.3.1.1), vanished ones are
 * expunged and flag changes made by other programs get a new MODSEQ
 * (RFC 7162 §3.1.4, §3.2.10).
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

/* ---- scanning new/ and cur/ ------------------------------------------ */

/* Adds every message file of @dir/@sub to @found, keyed by base name. */
static gboolean
scan_subdir (const char *dir,
             const char *sub,
             GHashTable *found,
             GError **error)
{
  g_autofree char *path = g_build_filename (dir, sub, NULL);
  GError *local_error = NULL;
  g_autoptr (GDir) listing = g_dir_open (path, 0, &local_error);
  gboolean in_new = strcmp (sub, "new") == 0;
  const char *file;

  if (listing == NULL)
    return mail_store_fail_gerror (error, local_error);
  while ((file = g_dir_read_name (listing)) != NULL)
    {
      /* the base name runs up to ":2,", the one info maildir(5) defines
       * and the rule the uidlist reads names back with: a file named
       * "msg:1,x" keeps its UID across opens */
      const char *colon = strstr (file, ":2,");
      gsize length = strlen (file);
      gsize base_length = colon ? (gsize) (colon - file) : length;
      ScanEntry *entry;
      char *base;

      /* maildir(5): readers skip dot files; a line break would also
       * break the uidlist's one-name-per-line format. */
      if (file[0] == '.' || strpbrk (file, "\r\n") != NULL)
        continue;
      entry = g_malloc (sizeof (ScanEntry) + length + 1 + base_length + 1);
      memcpy (entry->file, file, length + 1);
      base = entry->file + length + 1;
      memcpy (base, file, base_length);
      base[base_length] = '\0';
      entry->base = base;
      entry->in_new = in_new;
      entry->info =
          colon ? entry->file + (colon - file) + 3 : entry->file + length;
      /* replace, not insert: the key lives in the entry it replaces */
      g_hash_table_replace (found, base, entry);
    }
  return TRUE;
}

/* new/ before cur/: a message moved from new/ to cur/ meanwhile is still
 * seen at least once, and cur/ wins when it is seen twice. Adds to @found,
 * so a second scan only ever adds to the first. */
static gboolean
maildir_scan_into (const char *dir, GHashTable *found, GError **error)
{
  return scan_subdir (dir, "new", found, error) &&
         scan_subdir (dir, "cur", found, error);
}

static gint scan_count; /* atomic */

guint
maildir_scan_count (void)
{
  return (guint) g_atomic_int_get (&scan_count);
}

/* Base name -> ScanEntry (transfer full). */
GHashTable *
maildir_scan (const char *dir, GError **error)
{
  g_autoptr (GHashTable) found =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);

  g_atomic_int_inc (&scan_count);
  if (!maildir_scan_into (dir, found, error))
    return NULL;
  return g_steal_pointer (&found);
}

/* (transfer full) DIR/new/FILE or DIR/cur/FILE */
char *
scan_entry_path (const char *dir, const ScanEntry *scan)
{
  return g_strconcat (dir, scan->in_new ? "/new/" : "/cur/", scan->file, NULL);
}

static gboolean
uidlist_misses_files (const UidList *list, GHashTable *found)
{
  for (guint i = 0; i < list->entries->len; i++)
    {
      if (!g_hash_table_contains (
              found, g_array_index (list->entries, UidEntry, i).name))
        return TRUE;
    }
  return FALSE;
}

/* Delivery order: strverscmp () compares "<time>.M<usec>P<pid>Q<n>" field
 * by field as numbers; other agents' names still sort stably. It walks
 * the start two names share octet by octet, which is most of a big sort,
 * so that start is skipped back to where its last number begins: the
 * order depends only on what follows (checked against strverscmp () on
 * 20 million random pairs of digits, dots and letters). */
static gint
delivery_order (gconstpointer a, gconstpointer b)
{
  const char *x = *(const char *const *) a;
  const char *y = *(const char *const *) b;
  gsize same = 0;

  while (x[same] != '\0' && x[same] == y[same])
    same++;
  while (same > 0 && g_ascii_isdigit (x[same - 1]))
    same--;
  return strverscmp (x + same, y + same);
}

static gint
scan_entry_delivery_order (gconstpointer a, gconstpointer b)
{
  return delivery_order (&(*(ScanEntry *const *) a)->base,
                         &(*(ScanEntry *const *) b)->base);
}

/* Keeps the expunged list bounded: merges the two neighbours whose
 * MODSEQs are lowest, so the oldest news gets coarser first. */
static void
uidlist_compact_expunged (UidList *list)
{
  while (list->expunged->len > MAX_EXPUNGED_RANGES)
    {
      ExpungedRange *a = &g_array_index (list->expunged, ExpungedRange, 0);
      ExpungedRange *b = &g_array_index (list->expunged, ExpungedRange, 1);

      b->first = MIN (a->first, b->first);
      b->last = MAX (a->last, b->last);
      g_array_remove_index (list->expunged, 0);
    }
}

/* Drops entries whose file is gone, recording them as expunged at a new
 * MODSEQ (RFC 7162 §3.2.10); returns TRUE if any was. */
static gboolean
uidlist_drop_vanished (UidList *list, GHashTable *found)
{
  guint before = list->entries->len;
  guint64 modseq = list->highest_modseq + 1;

  for (guint i = list->entries->len; i > 0; i--)
    {
      guint32 uid = g_array_index (list->entries, UidEntry, i - 1).uid;
      ExpungedRange range = { uid, uid, modseq };

      if (g_hash_table_contains (
              found, g_array_index (list->entries, UidEntry, i - 1).name))
        continue;
      g_array_remove_index (list->entries, i - 1);
      g_array_append_val (list->expunged, range);
    }
  if (list->entries->len == before)
    return FALSE;
  list->highest_modseq = modseq;
  uidlist_compact_expunged (list);
  return TRUE;
}

/* Gives a new MODSEQ to each entry whose flags changed on disk since the
 * last look (another program renamed the file: mutt, Dovecot, a second
 * mw-imapd); returns TRUE if any had. */
static gboolean
uidlist_note_flag_changes (UidList *list, GHashTable *found)
{
  gboolean changed = FALSE;

  for (guint i = 0; i < list->entries->len; i++)
    {
      UidEntry *entry = &g_array_index (list->entries, UidEntry, i);
      const ScanEntry *scan = g_hash_table_lookup (found, entry->name);

      if (scan == NULL || g_strcmp0 (entry->info, scan->info) == 0)
        continue;
      /* a version 1 list knew no flags: take them as they are */
      if (entry->info != NULL)
        entry->modseq = ++list->highest_modseq;
      entry->info = uidlist_keep (list, scan->info, -1);
      changed = TRUE;
    }
  return changed;
}

/* new/ and cur/ of the folder, open while a scan's files are looked at:
 * stat () and open () relative to them walk no path. */
typedef struct
{
  int new_fd;
  int cur_fd;
} ScanDirs;

static void
scan_dirs_open (ScanDirs *dirs, const char *dir)
{
  g_autofree char *new_path = g_build_filename (dir, "new", NULL);
  g_autofree char *cur_path = g_build_filename (dir, "cur", NULL);

  dirs->new_fd = open (new_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  dirs->cur_fd = open (cur_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void
scan_dirs_close (ScanDirs *dirs)
{
  if (dirs->new_fd >= 0)
    close (dirs->new_fd);
  if (dirs->cur_fd >= 0)
    close (dirs->cur_fd);
}

/* Counts the size as sent of the open file @fd of @size octets; the size
 * itself if it cannot be read. */
static guint64
message_count_wire_size (int fd, guint64 size)
{
  g_autofree char *data = g_try_malloc (size + 1);
  gsize done = 0;

  while (data != NULL && done < size)
    {
      gssize got = read (fd, data + done, size - done);

      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        break;
      done += (gsize) got;
    }
  if (data == NULL || done != size)
    return size;
  return mail_wire_size (data, done);
}

gboolean
message_path_facts (const char *path, guint64 *out_size, gint64 *out_mtime)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct stat st;

  if (fd < 0)
    return FALSE;
  if (fstat (fd, &st) != 0)
    {
      close (fd);
      return FALSE;
    }
  *out_mtime = st.st_mtime;
  *out_size = message_count_wire_size (fd, (guint64) st.st_size);
  close (fd);
  return TRUE;
}

/* The size as sent (CRLF line ends) and the date of a message file:
 * ",W=" in the name when the writer put it there (mailwire, Dovecot) and
 * its ",S=" is right, else counted once from the file (mutt and others
 * write bare LF). FALSE if the file is gone. */
static gboolean
message_file_facts (const ScanDirs *dirs,
                    const ScanEntry *scan,
                    guint64 *out_size,
                    gint64 *out_mtime)
{
  int dir_fd = scan->in_new ? dirs->new_fd : dirs->cur_fd;
  const char *wire = strstr (scan->base, ",W=");
  const char *stored = strstr (scan->base, ",S=");
  struct stat st;
  int fd;

  if (dir_fd < 0)
    return FALSE;
  /* a name is believed only while its S= is the file's real size */
  if (wire != NULL && stored != NULL)
    {
      if (fstatat (dir_fd, scan->file, &st, 0) != 0)
        return FALSE;
      *out_mtime = st.st_mtime;
      *out_size = (guint64) st.st_size;
      if (g_ascii_strtoull (stored + 3, NULL, 10) == *out_size)
        {
          *out_size = g_ascii_strtoull (wire + 3, NULL, 10);
          return TRUE;
        }
    }
  fd = openat (dir_fd, scan->file, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  if (fstat (fd, &st) != 0)
    {
      close (fd);
      return FALSE;
    }
  *out_mtime = st.st_mtime;
  *out_size = message_count_wire_size (fd, (guint64) st.st_size);
  close (fd);
  return TRUE;
}

/* Is @entry's path the file @scan found? */
static gboolean
uid_entry_is_at (const UidList *list,
                 const UidEntry *entry,
                 const ScanEntry *scan)
{
  const char *file = entry->path ? entry->path + list->dir_length + 1 : NULL;

  return file != NULL &&
         strncmp (file, scan->in_new ? "new/" : "cur/", 4) == 0 &&
         strcmp (file + 4, scan->file) == 0;
}

/* Records where the scan found @entry's file and, the first time, its
 * size and date when the name tells the size (they never change: a
 * message file is never rewritten). Any other file's size must be
 * counted from its octets: that waits until a handle needs it
 * (mail_folder_get_message ()), so that opening a folder of such files
 * reads none of them. TRUE if anything changed. */
static gboolean
uid_entry_note_file (UidList *list,
                     UidEntry *entry,
                     const ScanEntry *scan,
                     const ScanDirs *dirs)
{
  gboolean changed = FALSE;

  if (!uid_entry_is_at (list, entry, scan))
    {
      g_string_truncate (list->scratch, list->dir_length + 1);
      g_string_append (list->scratch, scan->in_new ? "new/" : "cur/");
      g_string_append (list->scratch, scan->file);
      entry->path = g_string_chunk_insert_len (
          list->strings, list->scratch->str, list->scratch->len);
      changed = TRUE;
    }
  if (entry->mtime == 0 && strstr (scan->base, ",W=") != NULL &&
      strstr (scan->base, ",S=") != NULL)
    changed =
        message_file_facts (dirs, scan, &entry->size, &entry->mtime) || changed;
  return changed;
}

/* Gives the files not listed yet the next UIDs, in delivery order;
 * returns TRUE if there were any. */
static gboolean
uidlist_append_new (UidList *list, GHashTable *found, const ScanDirs *dirs)
{
  g_autoptr (GHashTable) listed = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) fresh = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer name;
  gpointer scan;

  for (guint i = 0; i < list->entries->len; i++)
    g_hash_table_add (
        listed, (gpointer) g_array_index (list->entries, UidEntry, i).name);
  g_hash_table_iter_init (&iter, found);
  while (g_hash_table_iter_next (&iter, &name, &scan))
    {
      if (list->entries->len == 0 || !g_hash_table_contains (listed, name))
        g_ptr_array_add (fresh, scan);
    }
  g_ptr_array_sort (fresh, scan_entry_delivery_order);
  for (guint i = 0; i < fresh->len; i++)
    {
      const ScanEntry *entry_scan = fresh->pdata[i];
      UidEntry entry = { list->uidnext++,
                         ++list->highest_modseq,
                         0,
                         0,
                         uidlist_keep (list, entry_scan->base, -1),
                         uidlist_keep (list, entry_scan->info, -1),
                         NULL };

      uid_entry_note_file (list, &entry, entry_scan, dirs);
      g_array_append_val (list->entries, entry);
    }
  return fresh->len > 0;
}

/* Under the store lock: brings the uidlist in line with the files. A
 * listed file missing from the scan is looked for once more before its
 * UID is dropped, since a rename during readdir () can hide it.
 * *out_durable: UIDs or MODSEQs changed; *out_files: only where the
 * files are. */
gboolean
uidlist_update (const char *dir,
                UidList *list,
                GHashTable *found,
                gboolean *out_durable,
                gboolean *out_files,
                GError **error)
{
  ScanDirs dirs;
  gboolean durable;
  guint listed;

  if (uidlist_misses_files (list, found) &&
      !maildir_scan_into (dir, found, error))
    return FALSE;
  scan_dirs_open (&dirs, dir);
  durable = uidlist_drop_vanished (list, found);
  durable = uidlist_note_flag_changes (list, found) || durable;
  listed = list->entries->len; /* the new ones are noted as they come */
  durable = uidlist_append_new (list, found, &dirs) || durable;
  for (guint i = 0; i < listed; i++)
    {
      UidEntry *entry = &g_array_index (list->entries, UidEntry, i);
      const ScanEntry *scan = g_hash_table_lookup (found, entry->name);

      if (scan != NULL && uid_entry_note_file (list, entry, scan, &dirs))
        *out_files = TRUE;
    }
  scan_dirs_close (&dirs);
  *out_durable = durable || list->created;
  return TRUE;
}
