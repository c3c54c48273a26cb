/* SPDX-License-Identifier: MIT
 * mail-uidlist.c: a folder's mailwire-uidlist, the file that keeps its
 * persistent UIDs, UIDVALIDITY and UIDNEXT (RFC 9051 §2.3.1.1), MODSEQs
 * and expunged UIDs (RFC 7162 §3.1, §3.2.10) and what the last scan
 * found: reading, writing, and sharing one parsed list among the
 * handles of a process. Format (version 3):
 *   3 V<uidvalidity> N<uidnext> R<first recent> M<highestmodseq>
 *     T<new/ mtime>:<cur/ mtime>:<scan time>[:<scan time, coarse clock>]
 *   <uid> <modseq> <size> <mtime> new/<file> | cur/<file>:2,<info>
 *   X <first>:<last> <modseq>
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

#define UIDVALIDITY_NAME "mailwire-uidvalidity"

/* ---- the uidlist ----------------------------------------------------- */

UidList *
uidlist_ref (UidList *list)
{
  g_atomic_ref_count_inc (&list->ref);
  return list;
}

void
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
const char *
uidlist_keep (UidList *list, const char *text, gssize length)
{
  return g_string_chunk_insert_len (list->strings, text, length);
}

/* "DIR/@file" kept with the list's entries (transfer none). */
const char *
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
 * next is the time, or one more than that. Under the store lock.
 *
 * What must never happen is that a client sees one UIDVALIDITY with
 * two different sets of UIDs. The UIDs of a folder's first uidlist are
 * all new, so that list need not be durable (folder_load_list ()) IF
 * losing it always brings another UIDVALIDITY: then a client that saw
 * the lost UIDs throws them away, as after any UIDVALIDITY change. Only
 * a crash of the machine loses a write that was not fsynced (a killed
 * process loses nothing that it wrote); the machine comes back in a
 * later second, and picks the time then, or more. So a UIDVALIDITY that
 * is the time now is made with no fsync at all; one that runs ahead of
 * the clock (a second folder made in the same second) must be kept
 * durably, or after the crash the clock could catch up with it and hand
 * it out again. That leaves a clock set back across a crash, which the
 * durable counter alone never guarded against either. */
static guint32
store_next_uidvalidity (MailStore *store)
{
  const char *root = mail_store_get_root (store);
  g_autofree char *path = g_build_filename (root, UIDVALIDITY_NAME, NULL);
  g_autofree char *contents = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  guint32 now = (guint32) time (NULL);
  guint32 next = now;
  guint64 last = 0;

  if (g_file_get_contents (path, &contents, NULL, NULL))
    last = g_ascii_strtoull (contents, NULL, 10);
  if (last >= next && last < G_MAXUINT32)
    next = (guint32) last + 1;
  g_string_printf (text, "%u\n", next);
  if (next > now)
    mail_store_replace_file (root, UIDVALIDITY_NAME, text, NULL);
  else
    mail_store_replace_file_quickly (root, UIDVALIDITY_NAME, text, NULL);
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
gboolean
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

/* A list that names one file twice (written by a program that got it
 * wrong) would give that file one UID at this open and another at the
 * next: the first, lowest UID keeps it, and the others are expunged
 * (RFC 9051 §2.3.1.1: a UID names one message, and stays). */
static void
uidlist_drop_repeated_names (UidList *list)
{
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < list->entries->len;)
    {
      const UidEntry *entry = &g_array_index (list->entries, UidEntry, i);
      ExpungedRange range = { entry->uid, entry->uid, list->highest_modseq };

      if (g_hash_table_add (names, (gpointer) entry->name))
        {
          i++;
          continue;
        }
      g_array_append_val (list->expunged, range);
      g_array_remove_index (list->entries, i);
    }
}

/* One field of the header line "3 V1234 N57 R50 M90 T...": the version
 * (@key '\0', the first word) or the word starting with @key, strictly
 * decimal and at most @max: "N-3" is no UIDNEXT (sscanf's %u would take
 * it for 4294967293, and UIDs would wrap). */
static gboolean
uidlist_header_field (const char *contents,
                      char key,
                      guint64 max,
                      guint64 *out_number)
{
  g_autofree char *line = g_strndup (contents, strcspn (contents, "\n"));
  g_auto (GStrv) words = g_strsplit (line, " ", -1);

  if (key == '\0')
    return words[0] != NULL &&
           g_ascii_string_to_unsigned (words[0], 10, 0, max, out_number, NULL);
  for (guint i = 1; words[0] != NULL && words[i] != NULL; i++)
    if (words[i][0] == key)
      return g_ascii_string_to_unsigned (words[i] + 1, 10, 0, max, out_number,
                                         NULL);
  return FALSE;
}

/* The " T" field of the header line that ends at @header_end (NULL: at
 * the end): what the writing scan saw, or zeros. The coarse scan time
 * came later: older code reads the first three numbers and ignores it,
 * and a list without it is read with their rule. */
static void
uidlist_parse_scanned (const char *contents,
                       const char *header_end,
                       gint64 out_scanned[4])
{
  const char *field = strstr (contents, " T");

  out_scanned[3] = 0;
  if (field == NULL || (header_end != NULL && field > header_end) ||
      sscanf (field,
              " T%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT
              ":%" G_GINT64_FORMAT,
              &out_scanned[0], &out_scanned[1], &out_scanned[2],
              &out_scanned[3]) < 3)
    memset (out_scanned, 0, 4 * sizeof out_scanned[0]);
}

gboolean
uidlist_parse_header (const char *header,
                      guint32 *out_uidvalidity,
                      guint32 *out_uidnext,
                      guint64 *out_highest_modseq,
                      gint64 out_scanned[4])
{
  guint64 version = 0;
  guint64 uidvalidity = 0;
  guint64 uidnext = 0;
  guint64 highest = 0;

  if (!uidlist_header_field (header, '\0', 3, &version) || version < 3 ||
      !uidlist_header_field (header, 'V', G_MAXUINT32, &uidvalidity) ||
      uidvalidity == 0 ||
      !uidlist_header_field (header, 'N', G_MAXUINT32, &uidnext) ||
      uidnext == 0 ||
      !uidlist_header_field (header, 'M', G_MAXUINT64, &highest) ||
      highest == 0)
    return FALSE;
  *out_uidvalidity = (guint32) uidvalidity;
  *out_uidnext = (guint32) uidnext;
  *out_highest_modseq = highest;
  uidlist_parse_scanned (header, NULL, out_scanned);
  return TRUE;
}

UidList *
uidlist_read (MailStore *store, const char *dir, GError **error)
{
  GError *local_error = NULL;
  UidListFileId id = { 0 };
  g_autofree char *contents = uidlist_load_file (dir, &id, &local_error);
  unsigned int uidvalidity = 0;
  unsigned int uidnext = 0;
  guint64 number = 0;
  guint64 highest = 0;
  int version = 0;
  char *header_end = NULL;
  UidList *list;

  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return NULL;
    }
  if (contents == NULL || !uidlist_header_field (contents, '\0', 3, &number) ||
      (version = (int) number) < 1 ||
      !uidlist_header_field (contents, 'V', G_MAXUINT32, &number) ||
      (uidvalidity = (unsigned int) number) == 0 ||
      !uidlist_header_field (contents, 'N', G_MAXUINT32, &number) ||
      (uidnext = (unsigned int) number) == 0)
    {
      list = uidlist_new (dir, store_next_uidvalidity (store), 1);
      list->created = TRUE;
      return list;
    }
  list = uidlist_new (dir, uidvalidity, uidnext);
  list->file = id;
  if (uidlist_header_field (contents, 'R', uidnext, &number))
    list->first_recent = (unsigned int) number;
  if (uidlist_header_field (contents, 'M', G_MAXUINT64, &highest) &&
      highest > 0)
    list->highest_modseq = highest;
  header_end = strchr (contents, '\n');
  list->header = header_end ? g_strndup (contents, header_end - contents)
                            : g_strdup (contents);
  uidlist_parse_scanned (contents, header_end, list->scanned);
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
  uidlist_drop_repeated_names (list);
  return list;
}

/* Appends @value in decimal and @after: as printf () would, at a
 * fraction of its cost over the 40,000 numbers of a big folder. */
static void
uidlist_append_number (GString *out, guint64 value, char after)
{
  char digits[24];
  int n = 0;

  do
    digits[n++] = (char) ('0' + value % 10);
  while ((value /= 10) != 0);
  while (n > 0)
    g_string_append_c (out, digits[--n]);
  g_string_append_c (out, after);
}

/* Writes the list (version 3). @durable: it holds new UIDs, MODSEQs or
 * the recent mark, so it is fsynced; otherwise only what a scan found
 * (file names, sizes, the scan's time stamps) changed, which the next
 * scan can find again, and a crash may lose it. Notes which file the
 * list now is (a new inode: every write renames a new file into place)
 * and its first line. Every write also changes that line (a new UIDNEXT,
 * MODSEQ, recent mark or scan time) or makes the file longer (sizes and
 * dates read since, where "0 0" stood), so even a reused inode does not
 * pass for the list a handle read before. */
gboolean
uidlist_write (const char *dir, UidList *list, gboolean durable, GError **error)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autofree char *path = g_build_filename (dir, UIDLIST_NAME, NULL);
  gsize header_length;
  struct stat st;

  g_string_append_printf (text,
                          "3 V%u N%u R%u M%" G_GUINT64_FORMAT
                          " T%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT
                          ":%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT "\n",
                          list->uidvalidity, list->uidnext, list->first_recent,
                          list->highest_modseq, list->scanned[0],
                          list->scanned[1], list->scanned[2], list->scanned[3]);
  header_length = text->len - 1;
  for (guint i = 0; i < list->entries->len; i++)
    {
      const UidEntry *entry = &g_array_index (list->entries, UidEntry, i);

      uidlist_append_number (text, entry->uid, ' ');
      uidlist_append_number (text, entry->modseq, ' ');
      uidlist_append_number (text, entry->size, ' ');
      if (entry->mtime >= 0)
        uidlist_append_number (text, (guint64) entry->mtime, ' ');
      else
        g_string_append_printf (text, "%" G_GINT64_FORMAT " ", entry->mtime);
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
UidList *
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
void
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
