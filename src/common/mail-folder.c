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

/* One message as this handle sees it. Its name and path are the
 * strings of the folder's uidlist (MailFolder.list) until it gets its
 * own: a path of its own after a rename, both when it outlives that list
 * (MAIL_FOLDER_SYNC_KEEP). The entries of one load are one allocation
 * (MailFolder.block); one that outlives its load is a copy, alone. */
typedef struct
{
  MailMessage message;
  guint deleted : 1;  /* unlinked through this handle: gone at next sync */
  guint own_name : 1; /* message.name is the entry's to free, not the list's */
  guint own_path : 1; /* message.path likewise */
  guint alone : 1;    /* allocated by itself */
} FolderEntry;

struct _MailFolder
{
  MailStore *store; /* not owned: outlives the folder */
  char *dir;        /* ROOT or ROOT/.A.B */
  guint32 uidvalidity;
  guint32 uidnext;
  GPtrArray *entries;     /* FolderEntry, ascending UID */
  struct _UidList *list;  /* (shared) the list they were made from */
  FolderEntry *block;     /* the entries of the last load */
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

/* A file found by scanning new/ and cur/, keyed by its base name. One
 * allocation: the file name, then the base name (the hash key). */
typedef struct
{
  gboolean in_new;
  const char *info; /* letters after ":2,", "" if none */
  const char *base; /* the file name up to ":" */
  char file[];      /* the file name in new/ or cur/ */
} ScanEntry;

typedef struct
{
  guint32 uid;
  guint64 modseq;   /* RFC 7162 §3.1.4: changed last at this MODSEQ */
  guint64 size;     /* octets and date of the file: they never change */
  gint64 mtime;     /* 0: not looked at yet */
  const char *name; /* base name */
  const char *info; /* flag letters when modseq was given; NULL: unknown */
  const char *path; /* DIR/new/NAME or DIR/cur/NAME:2,INFO at the last
                     * scan; NULL: not seen yet */
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

/* Which file a list was read from or written to: the uidlist is only
 * ever replaced by rename (), so another inode means another file. */
typedef struct
{
  dev_t device;
  ino_t inode;
  off_t size;
  gint64 mtime_ns;
} UidListFileId;

/* The mailwire-uidlist of one folder. A list that is shared
 * (uidlist_share ()) is never changed again: handles read it, and copy
 * nothing from it but what they change. */
typedef struct _UidList
{
  gatomicrefcount ref;
  guint32 uidvalidity;
  guint32 uidnext;
  guint32 first_recent;   /* lowest UID no session has seen as \Recent */
  guint64 highest_modseq; /* RFC 7162 §3.1.2.1 HIGHESTMODSEQ */
  gint64 scanned[3];      /* new/ and cur/ mtimes seen by the scan that wrote
                           * the list, and when it began (ns); 0: unknown */
  GArray *entries;        /* UidEntry, ascending UID */
  GArray *expunged;       /* ExpungedRange, ascending MODSEQ */
  gboolean created;       /* no (readable) file yet: must be written */
  GStringChunk *strings;  /* every string of the entries */
  char *dir;              /* the folder's directory */
  gsize dir_length;
  GString *scratch;   /* "DIR/" and room to build a path after it */
  UidListFileId file; /* the file it was read from or written to */
  char *header;       /* that file's first line */
} UidList;

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
      const char *colon = strchr (file, ':');
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
      entry->info = colon && g_str_has_prefix (colon, ":2,")
                        ? entry->file + (colon - file) + 3
                        : entry->file + length;
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

/* Base name -> ScanEntry (transfer full). */
static GHashTable *
maildir_scan (const char *dir, GError **error)
{
  g_autoptr (GHashTable) found =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);

  if (!maildir_scan_into (dir, found, error))
    return NULL;
  return g_steal_pointer (&found);
}

/* (transfer full) DIR/new/FILE or DIR/cur/FILE */
static char *
scan_entry_path (const char *dir, const ScanEntry *scan)
{
  return g_strconcat (dir, scan->in_new ? "/new/" : "/cur/", scan->file, NULL);
}

/* ---- the uidlist ----------------------------------------------------- */

static UidList *
uidlist_ref (UidList *list)
{
  g_atomic_ref_count_inc (&list->ref);
  return list;
}

static void
uidlist_unref (UidList *list)
{
  if (!g_atomic_ref_count_dec (&list->ref))
    return;
  g_array_unref (list->entries);
  g_array_unref (list->expunged);
  g_string_chunk_free (list->strings);
  g_free (list->dir);
  g_free (list->header);
  g_string_free (list->scratch, TRUE);
  g_free (list);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (UidList, uidlist_unref)

static UidList *
uidlist_new (const char *dir, guint32 uidvalidity, guint32 uidnext)
{
  UidList *list = g_new0 (UidList, 1);

  g_atomic_ref_count_init (&list->ref);
  list->uidvalidity = uidvalidity;
  list->uidnext = uidnext;
  list->first_recent = uidnext;
  list->highest_modseq = 1;
  list->entries = g_array_new (FALSE, FALSE, sizeof (UidEntry));
  list->expunged = g_array_new (FALSE, FALSE, sizeof (ExpungedRange));
  list->strings = g_string_chunk_new (64 * 1024);
  list->dir = g_strdup (dir);
  list->dir_length = strlen (dir);
  list->scratch = g_string_new (dir);
  g_string_append_c (list->scratch, '/');
  return list;
}

/* A copy of @text kept with the list's entries (transfer none). */
static const char *
uidlist_keep (UidList *list, const char *text, gssize length)
{
  return g_string_chunk_insert_len (list->strings, text, length);
}

/* "DIR/@file" kept with the list's entries (transfer none). */
static const char *
uidlist_keep_path (UidList *list, const char *file, gsize length)
{
  g_string_truncate (list->scratch, list->dir_length + 1);
  g_string_append_len (list->scratch, file, length);
  return g_string_chunk_insert_len (list->strings, list->scratch->str,
                                    list->scratch->len);
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
uidlist_parse_v3 (UidList *list, UidEntry *entry, char *rest)
{
  char *end = NULL;
  const char *file = NULL;
  const char *base = NULL;
  const char *info = NULL;

  entry->modseq = g_ascii_strtoull (rest, &end, 10);
  entry->size = g_ascii_strtoull (end, &end, 10);
  entry->mtime = g_ascii_strtoll (end, &end, 10);
  file = end + 1;
  if (*end != ' ' || entry->modseq == 0 ||
      (strncmp (file, "new/", 4) != 0 && strncmp (file, "cur/", 4) != 0))
    return FALSE;
  entry->path = uidlist_keep_path (list, file, strlen (file));
  base = entry->path + list->dir_length + 5;
  info = strstr (base, ":2,");
  entry->name = uidlist_keep (list, base, info ? info - base : -1);
  /* the letters end the path: they need no copy of their own */
  entry->info = info ? info + 3 : base + strlen (base);
  return TRUE;
}

/* Version 1 "<uid> <base name>", version 2 "<uid> <modseq> <base
 * name>:2,<info>", version 3 above: kept only in ascending UID order
 * below UIDNEXT. */
static void
uidlist_parse_line (UidList *list, char *line, int version)
{
  char *end = NULL;
  guint64 uid = g_ascii_strtoull (line, &end, 10);
  guint32 last =
      list->entries->len == 0
          ? 0
          : g_array_index (list->entries, UidEntry, list->entries->len - 1).uid;
  UidEntry entry = { 0, 1, 0, 0, NULL, NULL, NULL };
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
  if (version == 3 && !uidlist_parse_v3 (list, &entry, end + 1))
    return;
  if (version == 2)
    {
      entry.modseq = g_ascii_strtoull (end + 1, &end, 10);
      info = strstr (end, ":2,");
      if (*end != ' ' || info == NULL || entry.modseq == 0)
        return;
    }
  if (version < 3)
    {
      entry.name = uidlist_keep (list, end + 1, info ? info - (end + 1) : -1);
      entry.info = info ? uidlist_keep (list, info + 3, -1) : NULL;
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

static void
uidlist_file_id (const struct stat *st, UidListFileId *out_id)
{
  out_id->device = st->st_dev;
  out_id->inode = st->st_ino;
  out_id->size = st->st_size;
  out_id->mtime_ns =
      (gint64) st->st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) +
      st->st_mtim.tv_nsec;
}

static gboolean
uidlist_file_id_equal (const UidListFileId *a, const UidListFileId *b)
{
  return a->device == b->device && a->inode == b->inode && a->size == b->size &&
         a->mtime_ns == b->mtime_ns;
}

/* Reads all of @fd, @size octets as fstat () says, NUL-terminated
 * (transfer full); NULL and errno if it cannot. */
static char *
uidlist_read_fd (int fd, gsize size)
{
  g_autofree char *data = g_malloc (size + 1);
  gsize done = 0;

  while (done < size)
    {
      gssize got = read (fd, data + done, size - done);

      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0)
        return NULL;
      if (got == 0)
        break;
      done += (gsize) got;
    }
  data[done] = '\0';
  return g_steal_pointer (&data);
}

/* The uidlist file of @dir: its identity and octets (transfer full), or
 * NULL and no error when it does not exist. */
static char *
uidlist_load_file (const char *dir, UidListFileId *out_id, GError **error)
{
  g_autofree char *path = g_build_filename (dir, UIDLIST_NAME, NULL);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  char *contents = NULL;
  struct stat st;

  if (fd < 0 && errno == ENOENT)
    return NULL;
  if (fd < 0)
    {
      mail_store_fail_errno (error, errno, "open", path);
      return NULL;
    }
  if (fstat (fd, &st) == 0)
    {
      uidlist_file_id (&st, out_id);
      contents = uidlist_read_fd (fd, (gsize) st.st_size);
    }
  if (contents == NULL)
    mail_store_fail_errno (error, errno, "read", path);
  close (fd);
  return contents;
}

/* The identity and first line (transfer full) of @dir's uidlist, without
 * reading the rest: enough to tell whether a list read before still is
 * the file. FALSE if there is none. */
static gboolean
uidlist_peek (const char *dir, UidListFileId *out_id, char **out_header)
{
  g_autofree char *path = g_build_filename (dir, UIDLIST_NAME, NULL);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  char head[256];
  gssize got = -1;
  struct stat st;
  const char *lf = NULL;

  if (fd < 0)
    return FALSE;
  if (fstat (fd, &st) == 0)
    {
      uidlist_file_id (&st, out_id);
      got = pread (fd, head, sizeof head, 0);
    }
  close (fd);
  if (got <= 0 || (lf = memchr (head, '\n', (gsize) got)) == NULL)
    return FALSE;
  *out_header = g_strndup (head, lf - head);
  return TRUE;
}

static UidList *
uidlist_read (MailStore *store, const char *dir, GError **error)
{
  GError *local_error = NULL;
  UidListFileId id = { 0 };
  g_autofree char *contents = uidlist_load_file (dir, &id, &local_error);
  unsigned int uidvalidity = 0;
  unsigned int uidnext = 0;
  unsigned int first_recent = 0;
  guint64 highest = 0;
  int version = 0;
  char *header_end = NULL;
  const char *scanned = NULL;
  UidList *list;

  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return NULL;
    }
  if (contents == NULL ||
      sscanf (contents, "%d V%u N%u", &version, &uidvalidity, &uidnext) != 3 ||
      version < 1 || version > 3 || uidvalidity == 0 || uidnext == 0)
    {
      list = uidlist_new (dir, store_next_uidvalidity (store), 1);
      list->created = TRUE;
      return list;
    }
  list = uidlist_new (dir, uidvalidity, uidnext);
  list->file = id;
  if (sscanf (contents, "%*d V%*u N%*u R%u", &first_recent) == 1 &&
      first_recent <= uidnext)
    list->first_recent = first_recent;
  if (sscanf (contents, "%*d V%*u N%*u R%*u M%" G_GUINT64_FORMAT, &highest) ==
          1 &&
      highest > 0)
    list->highest_modseq = highest;
  header_end = strchr (contents, '\n');
  list->header = header_end ? g_strndup (contents, header_end - contents)
                            : g_strdup (contents);
  scanned = strstr (contents, " T");
  if (scanned == NULL || (header_end != NULL && scanned > header_end) ||
      sscanf (scanned,
              " T%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT,
              &list->scanned[0], &list->scanned[1], &list->scanned[2]) != 3)
    memset (list->scanned, 0, sizeof list->scanned);
  /* line by line in place: a big folder's list is read on every open */
  for (char *line = header_end; line != NULL;)
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
 * scan can find again, and a crash may lose it. Notes which file the
 * list now is, and its first line: every write changes that line (a new
 * UIDNEXT, MODSEQ, recent mark or scan time), so a handle can tell the
 * list it read from the file of another writer. */
static gboolean
uidlist_write (const char *dir, UidList *list, gboolean durable, GError **error)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autofree char *path = g_build_filename (dir, UIDLIST_NAME, NULL);
  gsize header_length;
  struct stat st;

  g_string_append_printf (text,
                          "3 V%u N%u R%u M%" G_GUINT64_FORMAT
                          " T%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT
                          ":%" G_GINT64_FORMAT "\n",
                          list->uidvalidity, list->uidnext, list->first_recent,
                          list->highest_modseq, list->scanned[0],
                          list->scanned[1], list->scanned[2]);
  header_length = text->len - 1;
  for (guint i = 0; i < list->entries->len; i++)
    {
      const UidEntry *entry = &g_array_index (list->entries, UidEntry, i);

      g_string_append_printf (text,
                              "%u %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                              " %" G_GINT64_FORMAT " ",
                              entry->uid, entry->modseq, entry->size,
                              entry->mtime);
      /* only a list read from an older version lacks the path: its
       * next scan puts it right */
      if (entry->path != NULL)
        g_string_append (text, entry->path + list->dir_length + 1);
      else
        g_string_append_printf (text, "new/%s", entry->name);
      g_string_append_c (text, '\n');
    }
  for (guint i = 0; i < list->expunged->len; i++)
    {
      const ExpungedRange *range =
          &g_array_index (list->expunged, ExpungedRange, i);

      g_string_append_printf (text, "X %u:%u %" G_GUINT64_FORMAT "\n",
                              range->first, range->last, range->modseq);
    }
  if (!(durable
            ? mail_store_replace_file (dir, UIDLIST_NAME, text, error)
            : mail_store_replace_file_quickly (dir, UIDLIST_NAME, text, error)))
    return FALSE;
  /* under the store lock: the file is still the one just written */
  memset (&list->file, 0, sizeof list->file);
  if (stat (path, &st) == 0)
    uidlist_file_id (&st, &list->file);
  g_free (list->header);
  list->header = g_strndup (text->str, header_length);
  list->created = FALSE;
  return TRUE;
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

/* Records where the scan found @entry's file, and its size and date the
 * first time (they never change: a message file is never rewritten);
 * TRUE if anything changed. */
static gboolean
uid_entry_note_file (UidList *list,
                     UidEntry *entry,
                     const ScanEntry *scan,
                     const ScanDirs *dirs)
{
  if (uid_entry_is_at (list, entry, scan) && entry->mtime != 0)
    return FALSE;
  if (!uid_entry_is_at (list, entry, scan))
    {
      g_string_truncate (list->scratch, list->dir_length + 1);
      g_string_append (list->scratch, scan->in_new ? "new/" : "cur/");
      g_string_append (list->scratch, scan->file);
      entry->path = g_string_chunk_insert_len (
          list->strings, list->scratch->str, list->scratch->len);
    }
  if (entry->mtime == 0)
    message_file_facts (dirs, scan, &entry->size, &entry->mtime);
  return TRUE;
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

  for (guint i = 0; i < list->entries->len; i++)
    g_hash_table_add (
        listed, (gpointer) g_array_index (list->entries, UidEntry, i).name);
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
                         ++list->highest_modseq,
                         0,
                         0,
                         uidlist_keep (list, scan->base, -1),
                         uidlist_keep (list, scan->info, -1),
                         NULL };

      uid_entry_note_file (list, &entry, scan, dirs);
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
  ScanDirs dirs;
  gboolean durable;

  if (uidlist_misses_files (list, found) &&
      !maildir_scan_into (dir, found, error))
    return FALSE;
  scan_dirs_open (&dirs, dir);
  durable = uidlist_drop_vanished (list, found);
  durable = uidlist_note_flag_changes (list, found) || durable;
  durable = uidlist_append_new (list, found, &dirs) || durable;
  for (guint i = 0; i < list->entries->len; i++)
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

/* ---- lists shared by the handles of this process --------------------- */

/* Every session that opens a big folder would read and parse the same
 * uidlist, and keep its own copy of every name and path. So a list read
 * or written here is shared, read-only, by the handles that open the
 * folder while the file stays the same (the same inode, size, time and
 * first line): their messages point into it. At most this many lists are
 * kept when no handle uses them, the most recently used. */
#define SHARED_LISTS_MAX 16

static GMutex shared_lists_lock;
static GQueue shared_lists = G_QUEUE_INIT; /* UidList, most recent first */

/* The list of @dir if one read or written in this process still is the
 * file (transfer full), or NULL. */
static UidList *
uidlist_shared_lookup (const char *dir)
{
  UidListFileId id = { 0 };
  g_autofree char *header = NULL;
  UidList *found = NULL;

  if (!uidlist_peek (dir, &id, &header))
    return NULL;
  g_mutex_lock (&shared_lists_lock);
  for (GList *link = shared_lists.head; link != NULL; link = link->next)
    {
      UidList *list = link->data;

      if (strcmp (list->dir, dir) != 0)
        continue;
      if (uidlist_file_id_equal (&list->file, &id) &&
          g_strcmp0 (list->header, header) == 0)
        {
          found = uidlist_ref (list);
          g_queue_unlink (&shared_lists, link);
          g_queue_push_head_link (&shared_lists, link);
        }
      break;
    }
  g_mutex_unlock (&shared_lists_lock);
  return found;
}

/* Makes @list the one shared for its folder: from now on nobody changes
 * it. */
static void
uidlist_share (UidList *list)
{
  g_mutex_lock (&shared_lists_lock);
  for (GList *link = shared_lists.head; link != NULL; link = link->next)
    {
      UidList *old = link->data;

      if (strcmp (old->dir, list->dir) == 0)
        {
          g_queue_delete_link (&shared_lists, link);
          uidlist_unref (old);
          break;
        }
    }
  g_queue_push_head (&shared_lists, uidlist_ref (list));
  while (shared_lists.length > SHARED_LISTS_MAX)
    uidlist_unref (g_queue_pop_tail (&shared_lists));
  g_mutex_unlock (&shared_lists_lock);
}

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
static void
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
 * that changed anything; then shared (transfer full, never to be
 * changed). *out_first_recent as folder_claim_recent (). */
static UidList *
folder_load_list (MailFolder *folder, guint32 *out_first_recent, GError **error)
{
  g_autoptr (UidList) list = NULL;
  g_autoptr (GHashTable) found = NULL;
  gboolean durable = FALSE;
  gboolean files = FALSE;

  folder_note_mtimes (folder, folder->dir_mtime);
  folder->scan_time = g_get_real_time () * 1000;
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
      files = TRUE;
    }
  *out_first_recent = folder_claim_recent (folder, list, &durable);
  if ((durable || files) && !uidlist_write (folder->dir, list, durable, error))
    return NULL;
  if (list->file.inode != 0)
    uidlist_share (list);
  return g_steal_pointer (&list);
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
 * freed by the caller. */
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
      /* its load and list go with @old */
      g_ptr_array_insert (fresh, (gint) at++, folder_entry_take_alone (entry));
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
  if (flags & MAIL_FOLDER_SYNC_KEEP)
    {
      entries_keep_removed (fresh, folder->entries);
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
