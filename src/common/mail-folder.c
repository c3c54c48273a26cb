/* SPDX-License-Identifier: MIT
 * mail-folder.c: one open folder of the Maildir++ store: scanning new/
 * and cur/, persistent UIDs in mailwire-uidlist (RFC 9051 §2.3.1.1),
 * reading, flagging, deleting and copying messages, and watching for
 * changes (maildir(5); RFC 9051 §2.3.2 flags, §6.4.7 COPY).
 */
#define _GNU_SOURCE /* strverscmp () */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail-line.h"
#include "mail-store-private.h"

#define UIDLIST_NAME "mailwire-uidlist"
#define UIDVALIDITY_NAME "mailwire-uidvalidity"
#define RELOCATE_ATTEMPTS 3 /* rescans when another process renames */
/* A directory's time stamp comes from a coarse kernel clock: a change in
 * the same tick as our scan leaves it as it was. So an mtime less than a
 * second older than the scan proves nothing, and we rescan. */
#define MTIME_TRUST_NS G_GINT64_CONSTANT (1000000000)

/* One message as this handle sees it. */
typedef struct
{
  MailMessage message;
  gboolean deleted; /* unlinked through this handle: gone at next sync */
} FolderEntry;

struct _MailFolder
{
  MailStore *store; /* not owned: outlives the folder */
  char *dir;        /* ROOT or ROOT/.A.B */
  guint32 uidvalidity;
  guint32 uidnext;
  GPtrArray *entries;     /* FolderEntry, ascending UID */
  GPtrArray *keywords;    /* index -> keyword or NULL (dovecot-keywords) */
  gboolean claims_recent; /* MAIL_FOLDER_CLAIM_RECENT */
  guint64 highest_modseq; /* at the last scan, or raised by our changes */
  GArray *expunged;       /* ExpungedRange, from the last scan */
  struct _UidList *batch; /* between begin_changes and end_changes */
  int batch_lock;         /* the store lock held for the batch, or -1 */
  gboolean batch_dirty;   /* the batch changed the uidlist */
  gint64 dir_mtime[2];    /* new/, cur/ at the last scan, nanoseconds */
  gint64 scan_time;       /* when that scan began, nanoseconds */
};

/* A file found by scanning new/ and cur/, keyed by its base name. */
typedef struct
{
  char *path;
  char *info; /* letters after ":2,", "" if none */
  gboolean in_new;
} ScanEntry;

typedef struct
{
  guint32 uid;
  char *name;     /* base name */
  guint64 modseq; /* RFC 7162 §3.1.4: changed last at this MODSEQ */
  char *info;     /* flag letters when modseq was given; NULL: unknown */
  char *file;     /* "new/NAME" or "cur/NAME:2,INFO" at the last scan */
  guint64 size;   /* octets and date of the file: they never change */
  gint64 mtime;
} UidEntry;

/* UIDs removed at a MODSEQ, for QRESYNC's VANISHED (RFC 7162 §3.2.10). */
typedef struct
{
  guint32 first, last;
  guint64 modseq;
} ExpungedRange;

#define MAX_EXPUNGED_RANGES                                                    \
  1000 /* then neighbours merge, keeping the                                   \
        * higher MODSEQ: more VANISHED, never less */

/* The mailwire-uidlist of one folder. */
typedef struct _UidList
{
  guint32 uidvalidity;
  guint32 uidnext;
  guint32 first_recent;   /* lowest UID no session has seen as \Recent */
  guint64 highest_modseq; /* RFC 7162 §3.1.2.1 HIGHESTMODSEQ */
  gint64 scanned[3];      /* new/ and cur/ mtimes seen by the scan that wrote
                           * the list, and when it began (ns); 0: unknown */
  GArray *entries;        /* UidEntry, ascending UID */
  GArray *expunged;       /* ExpungedRange, ascending MODSEQ */
  gboolean created;       /* no (readable) file yet: must be written */
} UidList;

/* ---- scanning new/ and cur/ ------------------------------------------ */

static void
scan_entry_free (gpointer data)
{
  ScanEntry *entry = data;

  g_free (entry->path);
  g_free (entry->info);
  g_free (entry);
}

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
  const char *file;

  if (listing == NULL)
    return mail_store_fail_gerror (error, local_error);
  while ((file = g_dir_read_name (listing)) != NULL)
    {
      const char *colon = strchr (file, ':');
      ScanEntry *entry;

      /* maildir(5): readers skip dot files; a line break would also
       * break the uidlist's one-name-per-line format. */
      if (file[0] == '.' || strpbrk (file, "\r\n") != NULL)
        continue;
      entry = g_new0 (ScanEntry, 1);
      entry->path = g_build_filename (path, file, NULL);
      entry->info =
          g_strdup (colon && g_str_has_prefix (colon, ":2,") ? colon + 3 : "");
      entry->in_new = strcmp (sub, "new") == 0;
      g_hash_table_replace (
          found, colon ? g_strndup (file, colon - file) : g_strdup (file),
          entry);
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

static GHashTable *
maildir_scan (const char *dir, GError **error)
{
  g_autoptr (GHashTable) found =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, scan_entry_free);

  if (!maildir_scan_into (dir, found, error))
    return NULL;
  return g_steal_pointer (&found);
}

/* ---- the uidlist ----------------------------------------------------- */

static void
uid_entry_clear (gpointer data)
{
  g_free (((UidEntry *) data)->name);
  g_free (((UidEntry *) data)->info);
  g_free (((UidEntry *) data)->file);
}

static void
uidlist_free (UidList *list)
{
  g_array_unref (list->entries);
  g_array_unref (list->expunged);
  g_free (list);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (UidList, uidlist_free)

static UidList *
uidlist_new (guint32 uidvalidity, guint32 uidnext)
{
  UidList *list = g_new0 (UidList, 1);

  list->uidvalidity = uidvalidity;
  list->uidnext = uidnext;
  list->first_recent = uidnext;
  list->highest_modseq = 1;
  list->entries = g_array_new (FALSE, FALSE, sizeof (UidEntry));
  g_array_set_clear_func (list->entries, uid_entry_clear);
  list->expunged = g_array_new (FALSE, FALSE, sizeof (ExpungedRange));
  return list;
}

/* Version 2, "X <first>:<last> <modseq>": UIDs expunged at MODSEQ. */
static void
uidlist_parse_expunged (UidList *list, const char *line)
{
  ExpungedRange range = { 0 };
  guint64 modseq = 0;

  if (sscanf (line, "X %u:%u %" G_GUINT64_FORMAT, &range.first, &range.last,
              &modseq) != 3 ||
      range.first == 0 || range.first > range.last)
    return;
  range.modseq = modseq;
  g_array_append_val (list->expunged, range);
}

/* Version 3: "<modseq> <size> <mtime> <subdir>/<file name>" after the
 * UID; the base name and flag letters come from the file name. */
static gboolean
uidlist_parse_v3 (UidEntry *entry, char *rest)
{
  char *end = NULL;
  const char *info = NULL;
  const char *file = NULL;

  entry->modseq = g_ascii_strtoull (rest, &end, 10);
  entry->size = g_ascii_strtoull (end, &end, 10);
  entry->mtime = g_ascii_strtoll (end, &end, 10);
  if (*end != ' ' || entry->modseq == 0 ||
      (!g_str_has_prefix (end + 1, "new/") &&
       !g_str_has_prefix (end + 1, "cur/")))
    return FALSE;
  entry->file = g_strdup (end + 1);
  file = entry->file + 4;
  info = strstr (file, ":2,");
  entry->name = info ? g_strndup (file, info - file) : g_strdup (file);
  entry->info = g_strdup (info ? info + 3 : "");
  return TRUE;
}

/* Version 1 "<uid> <base name>", version 2 "<uid> <modseq> <base
 * name>:2,<info>", version 3 above: kept only in ascending UID order
 * below UIDNEXT. */
static void
uidlist_parse_line (UidList *list, const char *line, int version)
{
  char *end = NULL;
  guint64 uid = g_ascii_strtoull (line, &end, 10);
  guint32 last =
      list->entries->len == 0
          ? 0
          : g_array_index (list->entries, UidEntry, list->entries->len - 1).uid;
  UidEntry entry = { 0, NULL, 1, NULL, NULL, 0, 0 };
  const char *info = NULL;

  if (version >= 2 && line[0] == 'X')
    {
      uidlist_parse_expunged (list, line);
      return;
    }
  if (end == line || *end != ' ' || end[1] == '\0' || uid <= last ||
      uid >= list->uidnext)
    return;
  entry.uid = (guint32) uid;
  if (version == 3 && !uidlist_parse_v3 (&entry, end + 1))
    {
      uid_entry_clear (&entry);
      return;
    }
  if (version == 2)
    {
      entry.modseq = g_ascii_strtoull (end + 1, &end, 10);
      info = strstr (end, ":2,");
      if (*end != ' ' || info == NULL || entry.modseq == 0)
        return;
    }
  if (version < 3)
    {
      entry.name =
          info ? g_strndup (end + 1, info - (end + 1)) : g_strdup (end + 1);
      entry.info = info ? g_strdup (info + 3) : NULL;
    }
  entry.modseq = MIN (entry.modseq, list->highest_modseq);
  g_array_append_val (list->entries, entry);
}

/* RFC 9051 §2.3.1.1: a mailbox deleted and made again (or a lost
 * uidlist) must get a new UIDVALIDITY, even within the same second. The
 * store keeps the last one handed out in ROOT/mailwire-uidvalidity; the
 * next is the time, or one more than that. Under the store lock. */
static guint32
store_next_uidvalidity (MailStore *store)
{
  const char *root = mail_store_get_root (store);
  g_autofree char *path = g_build_filename (root, UIDVALIDITY_NAME, NULL);
  g_autofree char *contents = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  guint32 next = (guint32) time (NULL);
  guint64 last = 0;

  if (g_file_get_contents (path, &contents, NULL, NULL))
    last = g_ascii_strtoull (contents, NULL, 10);
  if (last >= next && last < G_MAXUINT32)
    next = (guint32) last + 1;
  g_string_printf (text, "%u\n", next);
  mail_store_replace_file (root, UIDVALIDITY_NAME, text, NULL);
  return next;
}

static UidList *
uidlist_read (MailStore *store, const char *dir, GError **error)
{
  g_autofree char *path = g_build_filename (dir, UIDLIST_NAME, NULL);
  g_autofree char *contents = NULL;
  GError *local_error = NULL;
  unsigned int uidvalidity = 0;
  unsigned int uidnext = 0;
  unsigned int first_recent = 0;
  guint64 highest = 0;
  int version = 0;
  const char *header_end = NULL;
  const char *scanned = NULL;
  UidList *list;

  if (!g_file_get_contents (path, &contents, NULL, &local_error) &&
      !g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      mail_store_fail_gerror (error, local_error);
      return NULL;
    }
  g_clear_error (&local_error);
  if (contents == NULL ||
      sscanf (contents, "%d V%u N%u", &version, &uidvalidity, &uidnext) != 3 ||
      version < 1 || version > 3 || uidvalidity == 0 || uidnext == 0)
    {
      list = uidlist_new (store_next_uidvalidity (store), 1);
      list->created = TRUE;
      return list;
    }
  list = uidlist_new (uidvalidity, uidnext);
  if (sscanf (contents, "%*d V%*u N%*u R%u", &first_recent) == 1 &&
      first_recent <= uidnext)
    list->first_recent = first_recent;
  if (sscanf (contents, "%*d V%*u N%*u R%*u M%" G_GUINT64_FORMAT, &highest) ==
          1 &&
      highest > 0)
    list->highest_modseq = highest;
  header_end = strchr (contents, '\n');
  scanned = strstr (contents, " T");
  if (scanned == NULL || (header_end != NULL && scanned > header_end) ||
      sscanf (scanned,
              " T%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT,
              &list->scanned[0], &list->scanned[1], &list->scanned[2]) != 3)
    memset (list->scanned, 0, sizeof list->scanned);
  /* line by line in place: a big folder's list is read on every open */
  for (char *line = strchr (contents, '\n'); line != NULL;)
    {
      char *next = strchr (++line, '\n');

      if (next != NULL)
        *next = '\0';
      if (*line != '\0')
        uidlist_parse_line (list, line, version);
      line = next;
    }
  return list;
}

/* Writes the list (version 3). @durable: it holds new UIDs, MODSEQs or
 * the recent mark, so it is fsynced; otherwise only what a scan found
 * (file names, sizes, the scan's time stamps) changed, which the next
 * scan can find again, and a crash may lose it. */
static gboolean
uidlist_write (const char *dir,
               const UidList *list,
               gboolean durable,
               GError **error)
{
  g_autoptr (GString) text = g_string_new (NULL);

  g_string_append_printf (text,
                          "3 V%u N%u R%u M%" G_GUINT64_FORMAT
                          " T%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT
                          ":%" G_GINT64_FORMAT "\n",
                          list->uidvalidity, list->uidnext, list->first_recent,
                          list->highest_modseq, list->scanned[0],
                          list->scanned[1], list->scanned[2]);
  for (guint i = 0; i < list->entries->len; i++)
    {
      const UidEntry *entry = &g_array_index (list->entries, UidEntry, i);

      g_string_append_printf (text,
                              "%u %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                              " %" G_GINT64_FORMAT " %s\n",
                              entry->uid, entry->modseq, entry->size,
                              entry->mtime, entry->file);
    }
  for (guint i = 0; i < list->expunged->len; i++)
    {
      const ExpungedRange *range =
          &g_array_index (list->expunged, ExpungedRange, i);

      g_string_append_printf (text, "X %u:%u %" G_GUINT64_FORMAT "\n",
                              range->first, range->last, range->modseq);
    }
  if (!durable)
    return mail_store_replace_file_quickly (dir, UIDLIST_NAME, text, error);
  return mail_store_replace_file (dir, UIDLIST_NAME, text, error);
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
 * by field as numbers; other agents' names still sort stably. */
static gint
delivery_order (gconstpointer a, gconstpointer b)
{
  return strverscmp (*(const char *const *) a, *(const char *const *) b);
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
      g_free (entry->info);
      entry->info = g_strdup (scan->info);
      changed = TRUE;
    }
  return changed;
}

/* The file name as the uidlist keeps it: "new/NAME" or "cur/NAME:2,..". */
static char *
scan_entry_file (const ScanEntry *scan)
{
  g_autofree char *base = g_path_get_basename (scan->path);

  return g_strconcat (scan->in_new ? "new/" : "cur/", base, NULL);
}

/* The size of a message as sent (CRLF line ends): ",W=" in the name when
 * the writer put it there (mailwire, Dovecot) and its ",S=" is right,
 * else counted once from the file (mutt and others write bare LF). */
static guint64
message_wire_size (const char *name, const char *path, guint64 size)
{
  const char *wire = strstr (name, ",W=");
  const char *stored = strstr (name, ",S=");
  g_autofree char *data = NULL;
  gsize length = 0;

  /* a name is believed only while its S= is the file's real size */
  if (wire != NULL && stored != NULL &&
      g_ascii_strtoull (stored + 3, NULL, 10) == size)
    return g_ascii_strtoull (wire + 3, NULL, 10);
  if (!g_file_get_contents (path, &data, &length, NULL))
    return size;
  return mail_wire_size (data, length);
}

/* Records where the scan found @entry's file, and its size and date the
 * first time (they never change: a message file is never rewritten);
 * TRUE if anything changed. */
static gboolean
uid_entry_note_file (UidEntry *entry, const ScanEntry *scan)
{
  g_autofree char *file = scan_entry_file (scan);
  struct stat st;

  if (g_strcmp0 (entry->file, file) == 0 && entry->mtime != 0)
    return FALSE;
  g_free (entry->file);
  entry->file = g_steal_pointer (&file);
  if (entry->mtime == 0 && stat (scan->path, &st) == 0)
    {
      entry->size =
          message_wire_size (entry->name, scan->path, (guint64) st.st_size);
      entry->mtime = st.st_mtime;
    }
  return TRUE;
}

/* Gives the files not listed yet the next UIDs, in delivery order;
 * returns TRUE if there were any. */
static gboolean
uidlist_append_new (UidList *list, GHashTable *found)
{
  g_autoptr (GHashTable) listed = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) fresh = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer name;

  for (guint i = 0; i < list->entries->len; i++)
    g_hash_table_add (listed, g_array_index (list->entries, UidEntry, i).name);
  g_hash_table_iter_init (&iter, found);
  while (g_hash_table_iter_next (&iter, &name, NULL))
    {
      if (!g_hash_table_contains (listed, name))
        g_ptr_array_add (fresh, name);
    }
  g_ptr_array_sort (fresh, delivery_order);
  for (guint i = 0; i < fresh->len; i++)
    {
      const ScanEntry *scan = g_hash_table_lookup (found, fresh->pdata[i]);
      UidEntry entry = { list->uidnext++,
                         g_strdup (fresh->pdata[i]),
                         ++list->highest_modseq,
                         g_strdup (scan->info),
                         NULL,
                         0,
                         0 };

      uid_entry_note_file (&entry, scan);
      g_array_append_val (list->entries, entry);
    }
  return fresh->len > 0;
}

/* Under the store lock: brings the uidlist in line with the files. A
 * listed file missing from the scan is looked for once more before its
 * UID is dropped, since a rename during readdir () can hide it.
 * *out_durable: UIDs or MODSEQs changed; *out_files: only where the
 * files are. */
static gboolean
uidlist_update (const char *dir,
                UidList *list,
                GHashTable *found,
                gboolean *out_durable,
                gboolean *out_files,
                GError **error)
{
  gboolean durable;

  if (uidlist_misses_files (list, found) &&
      !maildir_scan_into (dir, found, error))
    return FALSE;
  durable = uidlist_drop_vanished (list, found);
  durable = uidlist_note_flag_changes (list, found) || durable;
  durable = uidlist_append_new (list, found) || durable;
  for (guint i = 0; i < list->entries->len; i++)
    {
      UidEntry *entry = &g_array_index (list->entries, UidEntry, i);
      const ScanEntry *scan = g_hash_table_lookup (found, entry->name);

      if (scan != NULL && uid_entry_note_file (entry, scan))
        *out_files = TRUE;
    }
  *out_durable = durable || list->created;
  return TRUE;
}

/* ---- folders --------------------------------------------------------- */

static void
folder_entry_free (gpointer data)
{
  FolderEntry *entry = data;

  if (entry == NULL)
    return; /* moved to another list */
  g_free (entry->message.name);
  g_free (entry->message.path);
  g_strfreev (entry->message.keywords);
  g_free (entry);
}

static FolderEntry *
folder_entry_new (MailFolder *folder,
                  const UidEntry *listed,
                  guint32 first_recent)
{
  FolderEntry *entry = g_new0 (FolderEntry, 1);
  MailMessage *message = &entry->message;

  message->uid = listed->uid;
  message->name = g_strdup (listed->name);
  message->path = g_strconcat (folder->dir, "/", listed->file, NULL);
  message->recent = listed->uid >= first_recent;
  message->modseq = listed->modseq;
  message->size = listed->size;
  message->mtime = listed->mtime;
  mail_message_set_info (message, folder->keywords,
                         listed->info ? listed->info : "");
  return entry;
}

/* Modification times of new/ and cur/ in nanoseconds (0 if missing). */
static void
folder_note_mtimes (MailFolder *folder, gint64 out_mtime[2])
{
  static const char *const subdirs[2] = { "new", "cur" };

  for (int i = 0; i < 2; i++)
    {
      g_autofree char *path = g_build_filename (folder->dir, subdirs[i], NULL);
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

/* Can the uidlist stand for new/ and cur/ without reading them? When
 * their time stamps are those the writing scan saw, and those were more
 * than a second older than that scan (MTIME_TRUST_NS). Any delivery,
 * rename or unlink since has changed them. */
static gboolean
uidlist_describes_dirs (const UidList *list, const gint64 mtime[2])
{
  return list->scanned[2] != 0 && list->scanned[0] == mtime[0] &&
         list->scanned[1] == mtime[1] &&
         mtime[0] < list->scanned[2] - MTIME_TRUST_NS &&
         mtime[1] < list->scanned[2] - MTIME_TRUST_NS;
}

/* Under the store lock: the uidlist, brought up to date by a scan of
 * new/ and cur/ unless it still describes them, and written back when
 * that changed anything. *out_first_recent as folder_claim_recent (). */
static UidList *
folder_load_list (MailFolder *folder, guint32 *out_first_recent, GError **error)
{
  g_autoptr (UidList) list = NULL;
  g_autoptr (GHashTable) found = NULL;
  gboolean durable = FALSE;
  gboolean files = FALSE;

  folder_note_mtimes (folder, folder->dir_mtime);
  folder->scan_time = g_get_real_time () * 1000;
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
      files = TRUE;
    }
  *out_first_recent = folder_claim_recent (folder, list, &durable);
  if ((durable || files) && !uidlist_write (folder->dir, list, durable, error))
    return NULL;
  return g_steal_pointer (&list);
}

/* Takes the store lock, loads the uidlist and returns the folder's
 * messages in UID order (transfer full). */
static GPtrArray *
folder_load (MailFolder *folder, GError **error)
{
  g_autoptr (UidList) list = NULL;
  g_autoptr (GPtrArray) keywords = NULL;
  guint32 first_recent = 0;
  GPtrArray *entries;
  int lock = mail_store_lock (folder->store, error);

  if (lock < 0)
    return NULL;
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
  entries = g_ptr_array_new_with_free_func (folder_entry_free);
  for (guint i = 0; i < list->entries->len; i++)
    g_ptr_array_add (
        entries,
        folder_entry_new (folder, &g_array_index (list->entries, UidEntry, i),
                          first_recent));
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
  folder->entries = folder_load (folder, error);
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
  g_clear_pointer (&folder->entries, g_ptr_array_unref);
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
  g_clear_pointer (&folder->batch, uidlist_free);
  mail_store_unlock (folder->batch_lock);
  folder->batch_lock = -1;
  return ok;
}

/* Gives @message the next MODSEQ of the batch, for its new @info. */
static void
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
          g_free (entry->info);
          entry->info = g_strdup (info);
          g_free (entry->file);
          entry->file = g_strdup_printf ("cur/%s:2,%s", entry->name, info);
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
 * They leave @old, which the caller frees. */
static void
entries_keep_removed (GPtrArray *fresh, GPtrArray *old)
{
  guint at = 0;

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
      g_ptr_array_insert (fresh, (gint) at++, entry);
      old->pdata[i] = NULL;
    }
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
  guint kept = 0;

  g_return_val_if_fail (folder != NULL, FALSE);
  g_return_val_if_fail (folder->batch == NULL, FALSE); /* holds the lock */
  fresh = folder_load (folder, error);
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
  if (flags & MAIL_FOLDER_SYNC_KEEP)
    {
      entries_keep_removed (fresh, folder->entries);
      if (out_removed != NULL)
        *out_removed = 0;
    }
  g_ptr_array_unref (folder->entries);
  folder->entries = fresh;
  return TRUE;
}

gboolean
mail_folder_may_have_changed (MailFolder *folder)
{
  gint64 now[2];

  g_return_val_if_fail (folder != NULL, TRUE);
  folder_note_mtimes (folder, now);
  for (int i = 0; i < 2; i++)
    {
      if (now[i] != folder->dir_mtime[i] ||
          now[i] > folder->scan_time - MTIME_TRUST_NS)
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
  g_free (entry->message.path);
  entry->message.path = g_strdup (scan->path);
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
  g_free (entry->message.path);
  entry->message.path = g_strdup (target);
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

/* ---- watching a folder ----------------------------------------------- */

/* A GFileMonitor watches one directory, but new mail appears in new/ while
 * flag changes and expunges happen in cur/. So this monitor owns one
 * child monitor for each and re-emits their "changed" signals as its own;
 * cancelling or freeing it stops both. */
#define MAIL_TYPE_DIR_MONITOR (mail_dir_monitor_get_type ())
G_DECLARE_FINAL_TYPE (
    MailDirMonitor, mail_dir_monitor, MAIL, DIR_MONITOR, GFileMonitor)

struct _MailDirMonitor
{
  GFileMonitor parent_instance;
  GFileMonitor *children[2]; /* new/, cur/ */
};

G_DEFINE_TYPE (MailDirMonitor, mail_dir_monitor, G_TYPE_FILE_MONITOR)

static void
on_child_changed (GFileMonitor *child,
                  GFile *file,
                  GFile *other_file,
                  GFileMonitorEvent event,
                  gpointer user_data)
{
  GFileMonitor *self = user_data;

  if (!g_file_monitor_is_cancelled (self))
    g_signal_emit_by_name (self, "changed", file, other_file, event);
}

static gboolean
mail_dir_monitor_cancel (GFileMonitor *monitor)
{
  MailDirMonitor *self = MAIL_DIR_MONITOR (monitor);

  for (gsize i = 0; i < G_N_ELEMENTS (self->children); i++)
    {
      if (self->children[i] != NULL)
        g_file_monitor_cancel (self->children[i]);
    }
  return TRUE;
}

static void
mail_dir_monitor_dispose (GObject *object)
{
  MailDirMonitor *self = MAIL_DIR_MONITOR (object);

  for (gsize i = 0; i < G_N_ELEMENTS (self->children); i++)
    {
      if (self->children[i] != NULL)
        g_signal_handlers_disconnect_by_data (self->children[i], self);
      g_clear_object (&self->children[i]);
    }
  G_OBJECT_CLASS (mail_dir_monitor_parent_class)->dispose (object);
}

static void
mail_dir_monitor_class_init (MailDirMonitorClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = mail_dir_monitor_dispose;
  G_FILE_MONITOR_CLASS (klass)->cancel = mail_dir_monitor_cancel;
}

static void
mail_dir_monitor_init (MailDirMonitor *self)
{
}

GFileMonitor *
mail_folder_monitor (MailFolder *folder, GError **error)
{
  static const char *const subdirs[] = { "new", "cur" };
  g_autoptr (MailDirMonitor) self = NULL;

  g_return_val_if_fail (folder != NULL, NULL);
  self = g_object_new (MAIL_TYPE_DIR_MONITOR, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (subdirs); i++)
    {
      g_autofree char *path = g_build_filename (folder->dir, subdirs[i], NULL);
      g_autoptr (GFile) file = g_file_new_for_path (path);
      GError *local_error = NULL;

      self->children[i] = g_file_monitor_directory (file, G_FILE_MONITOR_NONE,
                                                    NULL, &local_error);
      if (self->children[i] == NULL)
        {
          g_set_error (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_FAILED,
                       "watch %s: %s", path, local_error->message);
          g_error_free (local_error);
          return NULL;
        }
      g_signal_connect (self->children[i], "changed",
                        G_CALLBACK (on_child_changed), self);
    }
  return G_FILE_MONITOR (g_steal_pointer (&self));
}
