/* SPDX-License-Identifier: MIT
 * mail-store.c: the Maildir++ store: durable delivery, folders, persistent
 * UIDs, flags and keywords in file names, and the POP3 maildrop lock
 * (maildir(5) and cr.yp.to/proto/maildir.html; Maildir++ folders as
 * Courier and Dovecot lay them out; RFC 9051 §2.3.1.1 UIDs, §2.3.2 flags;
 * RFC 1939 §8 maildrop lock).
 *
 * Locking: delivery needs no lock (unique names and rename() do the work).
 * The uidlist and dovecot-keywords of every folder are read-modify-written
 * only while ROOT/mailwire.lock is flock()ed, so two processes that open a
 * folder at once never hand out the same UID.
 */
#define _GNU_SOURCE /* strverscmp () */

#include "mail-store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

G_DEFINE_QUARK (mail_store_error, mail_store_error)

#define UIDLIST_NAME "mailwire-uidlist"
#define KEYWORDS_NAME "dovecot-keywords"
#define STORE_LOCK_NAME "mailwire.lock"
#define MAILDROP_LOCK_NAME "mailwire-pop3.lock"
#define MAX_KEYWORDS 26      /* one file name letter each: a..z */
#define MAX_FOLDER_NAME 200  /* ".A.B" must fit a 255-byte file name */
#define DELIVERY_ATTEMPTS 10 /* fresh names tried when tmp/NAME exists */
#define RELOCATE_ATTEMPTS 3  /* rescans when another process renames */
#define TREE_DEPTH 3         /* folder dir, tmp/new/cur, files */

struct _MailStore
{
  char *root;
  int maildrop_fd; /* flock()ed mailwire-pop3.lock, or -1 */
};

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
  GPtrArray *entries;  /* FolderEntry, ascending UID */
  GPtrArray *keywords; /* index -> keyword or NULL (dovecot-keywords) */
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
  char *name;
} UidEntry;

/* The mailwire-uidlist of one folder. */
typedef struct
{
  guint32 uidvalidity;
  guint32 uidnext;
  GArray *entries;  /* UidEntry, ascending UID */
  gboolean created; /* no (readable) file yet: must be written */
} UidList;

/* ---- errors and files ---------------------------------------------- */

static gboolean
store_fail_errno (GError **error,
                  int saved_errno,
                  const char *action,
                  const char *path)
{
  MailStoreError code = MAIL_STORE_ERROR_FAILED;

  if (saved_errno == ENOSPC || saved_errno == EDQUOT)
    code = MAIL_STORE_ERROR_NO_SPACE;
  else if (saved_errno == ENOENT)
    code = MAIL_STORE_ERROR_NOT_FOUND;
  else if (saved_errno == EEXIST)
    code = MAIL_STORE_ERROR_EXISTS;
  g_set_error (error, MAIL_STORE_ERROR, code, "%s %s: %s", action, path,
               g_strerror (saved_errno));
  return FALSE;
}

/* Re-files a GLib file error in our domain, keeping its message. */
static gboolean
store_fail_gerror (GError **error, GError *file_error)
{
  MailStoreError code = MAIL_STORE_ERROR_FAILED;

  if (g_error_matches (file_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    code = MAIL_STORE_ERROR_NOT_FOUND;
  else if (g_error_matches (file_error, G_FILE_ERROR, G_FILE_ERROR_NOSPC))
    code = MAIL_STORE_ERROR_NO_SPACE;
  g_set_error_literal (error, MAIL_STORE_ERROR, code, file_error->message);
  g_error_free (file_error);
  return FALSE;
}

static gboolean
write_all (int fd, const guint8 *data, gsize length)
{
  while (length > 0)
    {
      ssize_t written = write (fd, data, length);

      if (written < 0 && errno == EINTR)
        continue;
      if (written < 0)
        return FALSE;
      data += written;
      length -= written;
    }
  return TRUE;
}

/* mtime is what IMAP shows as INTERNALDATE; 0 leaves it "now". */
static gboolean
set_mtime (int fd, gint64 mtime)
{
  struct timespec times[2] = { { mtime, 0 }, { mtime, 0 } };

  return mtime <= 0 || futimens (fd, times) == 0;
}

/* Creates @path (which must not exist yet), writes, fsyncs and closes it;
 * on any failure the file is removed again. */
static gboolean
file_create_durable (const char *path,
                     const void *data,
                     gsize length,
                     gint64 mtime,
                     GError **error)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  int saved_errno;

  if (fd < 0)
    return store_fail_errno (error, errno, "create", path);
  if (write_all (fd, data, length) && set_mtime (fd, mtime) && fsync (fd) == 0)
    {
      if (close (fd) == 0) /* NFS may report a failed write only here */
        return TRUE;
      saved_errno = errno;
    }
  else
    {
      saved_errno = errno;
      close (fd);
    }
  unlink (path);
  return store_fail_errno (error, saved_errno, "write", path);
}

gboolean
mail_fsync_directory (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved_errno;

  g_return_val_if_fail (path != NULL, FALSE);
  if (fd < 0)
    return store_fail_errno (error, errno, "open directory", path);
  if (fsync (fd) == 0)
    {
      close (fd);
      return TRUE;
    }
  saved_errno = errno;
  close (fd);
  return store_fail_errno (error, saved_errno, "fsync", path);
}

/* Replaces @dir/@name atomically and durably: temp file, fsync, rename,
 * fsync the directory. Callers hold the store lock, so the fixed temp name
 * is theirs; one that exists is left over from a crash. */
static gboolean
file_replace_durable (const char *dir,
                      const char *name,
                      const GString *contents,
                      GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);

  unlink (tmp);
  if (!file_create_durable (tmp, contents->str, contents->len, 0, error))
    return FALSE;
  if (rename (tmp, path) != 0)
    {
      int saved_errno = errno;

      unlink (tmp);
      return store_fail_errno (error, saved_errno, "rename", tmp);
    }
  return mail_fsync_directory (dir, error);
}

static gboolean
is_directory (const char *dir, const char *sub)
{
  g_autofree char *path = g_build_filename (dir, sub, NULL);

  return g_file_test (path, G_FILE_TEST_IS_DIR);
}

/* Removes a folder tree; depth-bounded, and never follows symlinks. */
static gboolean
remove_tree (const char *path, int depth, GError **error)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      struct stat st;

      if (lstat (child, &st) == 0 && S_ISDIR (st.st_mode) && depth > 0)
        {
          if (!remove_tree (child, depth - 1, error))
            return FALSE;
        }
      else if (unlink (child) != 0 && errno != ENOENT)
        return store_fail_errno (error, errno, "remove", child);
    }
  if (rmdir (path) != 0)
    return store_fail_errno (error, errno, "remove", path);
  return TRUE;
}

/* ---- the store lock ------------------------------------------------- */

/* Returns a descriptor holding flock(LOCK_EX) on ROOT/mailwire.lock, or
 * -1. Each call opens the file anew: flock() locks belong to the open file
 * description, so threads and handles of one process exclude each other
 * as well as other processes. */
static int
store_lock (MailStore *store, GError **error)
{
  g_autofree char *path = g_build_filename (store->root, STORE_LOCK_NAME, NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

  if (fd < 0)
    {
      store_fail_errno (error, errno, "open", path);
      return -1;
    }
  while (flock (fd, LOCK_EX) != 0)
    {
      if (errno != EINTR)
        {
          store_fail_errno (error, errno, "lock", path);
          close (fd);
          return -1;
        }
    }
  return fd;
}

static void
store_unlock (int fd)
{
  close (fd); /* releases the flock() */
}

/* ---- folder names ---------------------------------------------------- */

static gboolean
folder_is_inbox (const char *name)
{
  return name == NULL || g_ascii_strcasecmp (name, "INBOX") == 0;
}

/* Maildir++ keeps "A/B" in ROOT/.A.B, so '.' cannot be part of a name and
 * '/' may only separate non-empty levels. */
static gboolean
folder_name_is_valid (const char *name)
{
  gsize length = strlen (name);

  if (length == 0 || length > MAX_FOLDER_NAME ||
      !g_utf8_validate (name, -1, NULL))
    return FALSE;
  if (name[0] == '/' || name[length - 1] == '/' || strstr (name, "//"))
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    {
      if (*p == '.' || (guchar) *p < 0x20 || *p == 0x7f)
        return FALSE;
    }
  return TRUE;
}

/* (transfer full) the directory of folder @name, or NULL and INVALID. */
static char *
folder_dir (const char *root, const char *name, GError **error)
{
  g_autofree char *base = NULL;

  if (folder_is_inbox (name))
    return g_strdup (root);
  if (!folder_name_is_valid (name))
    {
      g_set_error_literal (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_INVALID,
                           "invalid folder name");
      return NULL;
    }
  base = g_strconcat (".", name, NULL);
  g_strdelimit (base, "/", '.');
  return g_build_filename (root, base, NULL);
}

/* (transfer full) the directory of existing folder @name, or NULL and
 * INVALID or NOT_FOUND. */
static char *
folder_existing_dir (MailStore *store, const char *name, GError **error)
{
  g_autofree char *dir = folder_dir (store->root, name, error);

  if (dir != NULL && !is_directory (dir, "cur"))
    {
      g_set_error_literal (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_NOT_FOUND,
                           "no such folder");
      return NULL;
    }
  return g_steal_pointer (&dir);
}

/* ".A.B" -> "A/B" if that entry of @root is a folder, else NULL. */
static char *
folder_name_from_entry (const char *root, const char *entry)
{
  g_autofree char *name = NULL;
  g_autofree char *dir = NULL;

  if (entry[0] != '.')
    return NULL;
  name = g_strdelimit (g_strdup (entry + 1), ".", '/');
  dir = g_build_filename (root, entry, NULL);
  if (!folder_name_is_valid (name) || !is_directory (dir, "cur"))
    return NULL;
  return g_steal_pointer (&name);
}

/* Creates tmp/, new/ and cur/ (and, for a Maildir++ folder, the empty
 * "maildirfolder" file that marks it as one). Existing ones are fine. */
static gboolean
maildir_make (const char *dir, gboolean is_folder, GError **error)
{
  static const char *const subdirs[] = { "tmp", "new", "cur" };
  g_autofree char *marker = NULL;
  int fd;

  for (gsize i = 0; i < G_N_ELEMENTS (subdirs); i++)
    {
      g_autofree char *path = g_build_filename (dir, subdirs[i], NULL);

      if (g_mkdir_with_parents (path, 0700) != 0)
        return store_fail_errno (error, errno, "create", path);
    }
  if (!is_folder)
    return TRUE;
  marker = g_build_filename (dir, "maildirfolder", NULL);
  fd = open (marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return store_fail_errno (error, errno, "create", marker);
  close (fd);
  return TRUE;
}

/* ---- delivery -------------------------------------------------------- */

/* maildir(5): '/' and ':' in the host name become "\057" and "\072". */
static char *
hostname_escaped (void)
{
  char host[256] = "";
  GString *escaped = g_string_new (NULL);

  if (gethostname (host, sizeof host - 1) != 0 || host[0] == '\0')
    g_strlcpy (host, "localhost", sizeof host);
  for (const char *p = host; *p != '\0'; p++)
    {
      if (*p == '/')
        g_string_append (escaped, "\\057");
      else if (*p == ':')
        g_string_append (escaped, "\\072");
      else
        g_string_append_c (escaped, *p);
    }
  return g_string_free (escaped, FALSE);
}

/* <time>.M<usec>P<pid>Q<n>.<host>,S=<size>: unique because one process
 * counts its deliveries and no two live processes share a pid. */
static char *
maildir_unique_name (gsize size)
{
  static gint counter = 0;
  gint64 now = g_get_real_time ();
  guint n = (guint) g_atomic_int_add (&counter, 1) + 1;
  g_autofree char *host = hostname_escaped ();

  return g_strdup_printf ("%" G_GINT64_FORMAT ".M%" G_GINT64_FORMAT
                          "P%ldQ%u.%s,S=%" G_GSIZE_FORMAT,
                          now / G_USEC_PER_SEC, now % G_USEC_PER_SEC,
                          (long) getpid (), n, host, size);
}

/* Writes tmp/NAME durably under a fresh unique name. */
static gboolean
maildir_write_tmp (const char *dir,
                   const void *data,
                   gsize length,
                   gint64 mtime,
                   char **out_name,
                   GError **error)
{
  for (int attempt = 1;; attempt++)
    {
      g_autofree char *name = maildir_unique_name (length);
      g_autofree char *path = g_build_filename (dir, "tmp", name, NULL);
      g_autoptr (GError) local_error = NULL;

      if (file_create_durable (path, data, length, mtime, &local_error))
        {
          *out_name = g_steal_pointer (&name);
          return TRUE;
        }
      if (attempt == DELIVERY_ATTEMPTS ||
          !g_error_matches (local_error, MAIL_STORE_ERROR,
                            MAIL_STORE_ERROR_EXISTS))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
    }
}

/* maildir(5): write tmp/NAME, fsync it, rename it to new/NAME (or, for a
 * copy keeping its flags, to cur/NAME:2,INFO), fsync that directory. Only
 * the rename makes it visible, and every failure removes the file. */
static gboolean
maildir_deliver_into (const char *dir,
                      const void *data,
                      gsize length,
                      const char *info,
                      gint64 mtime,
                      char **out_name,
                      GError **error)
{
  g_autofree char *name = NULL;
  g_autofree char *tmp_path = NULL;
  g_autofree char *final_dir =
      g_build_filename (dir, info ? "cur" : "new", NULL);
  g_autofree char *final_path = NULL;

  if (!maildir_write_tmp (dir, data, length, mtime, &name, error))
    return FALSE;
  tmp_path = g_build_filename (dir, "tmp", name, NULL);
  final_path = info ? g_strdup_printf ("%s/%s:2,%s", final_dir, name, info)
                    : g_build_filename (final_dir, name, NULL);
  if (rename (tmp_path, final_path) != 0)
    {
      int saved_errno = errno;

      unlink (tmp_path);
      return store_fail_errno (error, saved_errno, "rename", tmp_path);
    }
  if (!mail_fsync_directory (final_dir, error))
    {
      unlink (final_path); /* not durable: the sender must retry */
      return FALSE;
    }
  if (out_name != NULL)
    *out_name = g_steal_pointer (&name);
  return TRUE;
}

gboolean
mail_maildir_deliver (const char *maildir,
                      const char *folder,
                      const void *data,
                      gsize length,
                      char **out_name,
                      GError **error)
{
  g_autofree char *dir = NULL;

  g_return_val_if_fail (maildir != NULL, FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  dir = folder_dir (maildir, folder, error);
  if (dir == NULL || !maildir_make (maildir, FALSE, error))
    return FALSE;
  if (!folder_is_inbox (folder) && !maildir_make (dir, TRUE, error))
    return FALSE;
  return maildir_deliver_into (dir, data, length, NULL, 0, out_name, error);
}

/* ---- flags and keywords ---------------------------------------------- */

/* maildir(5) info "2,": one letter per flag, in ASCII order. */
static const struct
{
  MailFlags flag;
  char letter;
} info_letters[] = {
  { MAIL_FLAG_DRAFT, 'D' },    { MAIL_FLAG_FLAGGED, 'F' },
  { MAIL_FLAG_ANSWERED, 'R' }, { MAIL_FLAG_SEEN, 'S' },
  { MAIL_FLAG_DELETED, 'T' },
};

char *
mail_flags_to_info (MailFlags flags)
{
  GString *info = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (info_letters); i++)
    {
      if (flags & info_letters[i].flag)
        g_string_append_c (info, info_letters[i].letter);
    }
  return g_string_free (info, FALSE);
}

MailFlags
mail_flags_from_info (const char *info)
{
  const char *marker;
  MailFlags flags = 0;

  g_return_val_if_fail (info != NULL, 0);
  marker = strstr (info, ":2,"); /* a whole file name works too */
  for (const char *p = marker ? marker + 3 : info; *p != '\0'; p++)
    {
      for (gsize i = 0; i < G_N_ELEMENTS (info_letters); i++)
        {
          if (*p == info_letters[i].letter)
            flags |= info_letters[i].flag;
        }
    }
  return flags;
}

/* dovecot-keywords: "<index> <keyword>" per line; index 0 is letter 'a'.
 * A missing file is an empty table. */
static GPtrArray *
keywords_read (const char *dir, GError **error)
{
  g_autofree char *path = g_build_filename (dir, KEYWORDS_NAME, NULL);
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;
  GPtrArray *table = g_ptr_array_new_with_free_func (g_free);
  GError *local_error = NULL;

  if (!g_file_get_contents (path, &contents, NULL, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_error_free (local_error);
          return table;
        }
      g_ptr_array_unref (table);
      store_fail_gerror (error, local_error);
      return NULL;
    }
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *end = NULL;
      guint64 index = g_ascii_strtoull (lines[i], &end, 10);

      if (end == lines[i] || *end != ' ' || end[1] == '\0' ||
          index >= MAX_KEYWORDS)
        continue; /* not ours to repair; skip it */
      if (table->len <= index)
        g_ptr_array_set_size (table, index + 1);
      g_free (table->pdata[index]);
      table->pdata[index] = g_strdup (end + 1);
    }
  return table;
}

static gboolean
keywords_write (const char *dir, GPtrArray *table, GError **error)
{
  g_autoptr (GString) text = g_string_new (NULL);

  for (guint i = 0; i < table->len; i++)
    {
      if (table->pdata[i] != NULL)
        g_string_append_printf (text, "%u %s\n", i,
                                (const char *) table->pdata[i]);
    }
  return file_replace_durable (dir, KEYWORDS_NAME, text, error);
}

/* Keywords are atoms (RFC 9051 §2.3.2, §9 flag-keyword); the file format
 * needs at least: no space, no control character, not empty. */
static gboolean
keyword_is_valid (const char *keyword)
{
  if (keyword[0] == '\0' || keyword[0] == '\\')
    return FALSE;
  for (const char *p = keyword; *p != '\0'; p++)
    {
      if ((guchar) *p <= 0x20 || *p == 0x7f)
        return FALSE;
    }
  return TRUE;
}

/* Index of @keyword in @table (keywords compare case-insensitively,
 * RFC 9051 §2.3.2), or -1. */
static int
keywords_find (GPtrArray *table, const char *keyword)
{
  for (guint i = 0; i < table->len; i++)
    {
      if (table->pdata[i] != NULL &&
          g_ascii_strcasecmp (table->pdata[i], keyword) == 0)
        return (int) i;
    }
  return -1;
}

static gboolean
keywords_all_known (GPtrArray *table, const char *const *keywords)
{
  for (gsize i = 0; keywords != NULL && keywords[i] != NULL; i++)
    {
      if (keywords_find (table, keywords[i]) < 0)
        return FALSE;
    }
  return TRUE;
}

/* Gives each unknown keyword the first free letter. */
static gboolean
keywords_add (GPtrArray *table, const char *const *keywords, GError **error)
{
  for (gsize i = 0; keywords != NULL && keywords[i] != NULL; i++)
    {
      guint slot = 0;

      if (keywords_find (table, keywords[i]) >= 0)
        continue;
      while (slot < table->len && table->pdata[slot] != NULL)
        slot++;
      if (slot >= MAX_KEYWORDS)
        {
          g_set_error (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_FAILED,
                       "more than %d keywords in one folder", MAX_KEYWORDS);
          return FALSE;
        }
      if (slot == table->len)
        g_ptr_array_add (table, NULL);
      table->pdata[slot] = g_strdup (keywords[i]);
    }
  return TRUE;
}

/* Makes sure the keywords of @dir's table *@inout_table include all of
 * @keywords: re-reads, extends and writes dovecot-keywords under the store
 * lock, as another process may be adding keywords too. */
static gboolean
keywords_ensure (MailStore *store,
                 const char *dir,
                 GPtrArray **inout_table,
                 const char *const *keywords,
                 GError **error)
{
  g_autoptr (GPtrArray) table = NULL;
  gboolean ok;
  int lock;

  for (gsize i = 0; keywords != NULL && keywords[i] != NULL; i++)
    {
      if (!keyword_is_valid (keywords[i]))
        {
          g_set_error_literal (error, MAIL_STORE_ERROR,
                               MAIL_STORE_ERROR_INVALID, "invalid keyword");
          return FALSE;
        }
    }
  if (keywords_all_known (*inout_table, keywords))
    return TRUE;
  lock = store_lock (store, error);
  if (lock < 0)
    return FALSE;
  table = keywords_read (dir, error);
  ok = table != NULL && (keywords_all_known (table, keywords) ||
                         (keywords_add (table, keywords, error) &&
                          keywords_write (dir, table, error)));
  store_unlock (lock);
  if (ok)
    {
      g_ptr_array_unref (*inout_table);
      *inout_table = g_steal_pointer (&table);
    }
  return ok;
}

/* The ":2," letters for @flags and @keywords; ASCII order, since every
 * flag letter is upper case and every keyword letter lower case. */
static char *
info_from_flags (GPtrArray *table, MailFlags flags, const char *const *keywords)
{
  g_autofree char *system = mail_flags_to_info (flags);
  char letters[MAX_KEYWORDS + 1] = "";
  gsize n = 0;

  for (guint i = 0; i < table->len && i < MAX_KEYWORDS; i++)
    {
      for (gsize k = 0; table->pdata[i] && keywords && keywords[k]; k++)
        {
          if (g_ascii_strcasecmp (table->pdata[i], keywords[k]) == 0)
            {
              letters[n++] = 'a' + i;
              break;
            }
        }
    }
  letters[n] = '\0';
  return g_strconcat (system, letters, NULL);
}

/* Sets flags and keywords of @message from its info letters. */
static void
message_set_info (MailMessage *message, GPtrArray *table, const char *info)
{
  g_autoptr (GStrvBuilder) keywords = g_strv_builder_new ();
  gboolean any = FALSE;

  message->flags = mail_flags_from_info (info);
  for (const char *p = info; *p != '\0'; p++)
    {
      guint index = (guint) (*p - 'a');

      if (*p >= 'a' && *p <= 'z' && index < table->len &&
          table->pdata[index] != NULL)
        {
          g_strv_builder_add (keywords, table->pdata[index]);
          any = TRUE;
        }
    }
  g_clear_pointer (&message->keywords, g_strfreev);
  if (any)
    message->keywords = g_strv_builder_end (keywords);
}

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
    return store_fail_gerror (error, local_error);
  while ((file = g_dir_read_name (listing)) != NULL)
    {
      const char *colon = strchr (file, ':');
      ScanEntry *entry;

      if (file[0] == '.') /* maildir(5): readers skip dot files */
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
}

static void
uidlist_free (UidList *list)
{
  g_array_unref (list->entries);
  g_free (list);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (UidList, uidlist_free)

static UidList *
uidlist_new (guint32 uidvalidity, guint32 uidnext)
{
  UidList *list = g_new0 (UidList, 1);

  list->uidvalidity = uidvalidity;
  list->uidnext = uidnext;
  list->entries = g_array_new (FALSE, FALSE, sizeof (UidEntry));
  g_array_set_clear_func (list->entries, uid_entry_clear);
  return list;
}

/* "<uid> <base name>": kept only in ascending UID order below UIDNEXT. */
static void
uidlist_parse_line (UidList *list, const char *line)
{
  char *end = NULL;
  guint64 uid = g_ascii_strtoull (line, &end, 10);
  guint32 last =
      list->entries->len == 0
          ? 0
          : g_array_index (list->entries, UidEntry, list->entries->len - 1).uid;
  UidEntry entry;

  if (end == line || *end != ' ' || end[1] == '\0' || uid <= last ||
      uid >= list->uidnext)
    return;
  entry.uid = (guint32) uid;
  entry.name = g_strdup (end + 1);
  g_array_append_val (list->entries, entry);
}

/* Header "1 V<uidvalidity> N<uidnext>". A missing or unparsable file
 * starts afresh with UIDVALIDITY = now, which tells IMAP clients to drop
 * cached UIDs (RFC 9051 §2.3.1.1); an unreadable one is an error, so UIDs
 * are never reset by an I/O failure. */
static UidList *
uidlist_read (const char *dir, GError **error)
{
  g_autofree char *path = g_build_filename (dir, UIDLIST_NAME, NULL);
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;
  GError *local_error = NULL;
  unsigned int uidvalidity = 0;
  unsigned int uidnext = 0;
  UidList *list;

  if (!g_file_get_contents (path, &contents, NULL, &local_error) &&
      !g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      store_fail_gerror (error, local_error);
      return NULL;
    }
  g_clear_error (&local_error);
  if (contents == NULL ||
      sscanf (contents, "1 V%u N%u", &uidvalidity, &uidnext) != 2 ||
      uidvalidity == 0 || uidnext == 0)
    {
      list = uidlist_new ((guint32) time (NULL), 1);
      list->created = TRUE;
      return list;
    }
  list = uidlist_new (uidvalidity, uidnext);
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++)
    uidlist_parse_line (list, lines[i]);
  return list;
}

static gboolean
uidlist_write (const char *dir, const UidList *list, GError **error)
{
  g_autoptr (GString) text = g_string_new (NULL);

  g_string_append_printf (text, "1 V%u N%u\n", list->uidvalidity,
                          list->uidnext);
  for (guint i = 0; i < list->entries->len; i++)
    {
      const UidEntry *entry = &g_array_index (list->entries, UidEntry, i);

      g_string_append_printf (text, "%u %s\n", entry->uid, entry->name);
    }
  return file_replace_durable (dir, UIDLIST_NAME, text, error);
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

/* Drops entries whose file is gone; returns TRUE if any was. */
static gboolean
uidlist_drop_vanished (UidList *list, GHashTable *found)
{
  guint before = list->entries->len;

  for (guint i = list->entries->len; i > 0; i--)
    {
      if (!g_hash_table_contains (
              found, g_array_index (list->entries, UidEntry, i - 1).name))
        g_array_remove_index (list->entries, i - 1);
    }
  return list->entries->len != before;
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
      UidEntry entry = { list->uidnext++, g_strdup (fresh->pdata[i]) };

      g_array_append_val (list->entries, entry);
    }
  return fresh->len > 0;
}

/* Under the store lock: brings the uidlist in line with the files. A
 * listed file missing from the scan is looked for once more before its
 * UID is dropped, since a rename during readdir () can hide it. */
static gboolean
uidlist_update (const char *dir,
                UidList *list,
                GHashTable *found,
                GError **error)
{
  gboolean changed;

  if (uidlist_misses_files (list, found) &&
      !maildir_scan_into (dir, found, error))
    return FALSE;
  changed = uidlist_drop_vanished (list, found);
  changed = uidlist_append_new (list, found) || changed;
  if (!changed && !list->created)
    return TRUE;
  return uidlist_write (dir, list, error);
}

/* ---- folders --------------------------------------------------------- */

static void
folder_entry_free (gpointer data)
{
  FolderEntry *entry = data;

  g_free (entry->message.name);
  g_free (entry->message.path);
  g_strfreev (entry->message.keywords);
  g_free (entry);
}

/* Size and date from the file; if it was renamed meanwhile, from the
 * name (",S=" and the leading delivery time). */
static void
message_stat (MailMessage *message)
{
  const char *size = strstr (message->name, ",S=");
  struct stat st;

  if (stat (message->path, &st) == 0)
    {
      message->size = (guint64) st.st_size;
      message->mtime = st.st_mtime;
      return;
    }
  message->size = size ? g_ascii_strtoull (size + 3, NULL, 10) : 0;
  message->mtime = g_ascii_strtoll (message->name, NULL, 10);
}

static FolderEntry *
folder_entry_new (MailFolder *folder,
                  const UidEntry *listed,
                  const ScanEntry *scan)
{
  FolderEntry *entry = g_new0 (FolderEntry, 1);
  MailMessage *message = &entry->message;

  message->uid = listed->uid;
  message->name = g_strdup (listed->name);
  message->path = g_strdup (scan->path);
  message->recent = scan->in_new;
  message_set_info (message, folder->keywords, scan->info);
  message_stat (message);
  return entry;
}

/* Takes the store lock, reads and updates the uidlist from a fresh scan,
 * and returns the folder's messages in UID order (transfer full). */
static GPtrArray *
folder_load (MailFolder *folder, GError **error)
{
  g_autoptr (UidList) list = NULL;
  g_autoptr (GHashTable) found = NULL;
  g_autoptr (GPtrArray) keywords = NULL;
  GPtrArray *entries;
  int lock = store_lock (folder->store, error);

  if (lock < 0)
    return NULL;
  list = uidlist_read (folder->dir, error);
  found = list ? maildir_scan (folder->dir, error) : NULL;
  if (found && uidlist_update (folder->dir, list, found, error))
    keywords = keywords_read (folder->dir, error);
  store_unlock (lock);
  if (keywords == NULL)
    return NULL;
  g_ptr_array_unref (folder->keywords);
  folder->keywords = g_steal_pointer (&keywords);
  folder->uidvalidity = list->uidvalidity;
  folder->uidnext = list->uidnext;
  entries = g_ptr_array_new_with_free_func (folder_entry_free);
  for (guint i = 0; i < list->entries->len; i++)
    {
      const UidEntry *listed = &g_array_index (list->entries, UidEntry, i);

      g_ptr_array_add (entries, folder_entry_new (
                                    folder, listed,
                                    g_hash_table_lookup (found, listed->name)));
    }
  return entries;
}

MailFolder *
mail_folder_open (MailStore *store, const char *name, GError **error)
{
  g_autoptr (MailFolder) folder = NULL;
  g_autofree char *dir = NULL;

  g_return_val_if_fail (store != NULL, NULL);
  dir = folder_existing_dir (store, name, error);
  if (dir == NULL)
    return NULL;
  folder = g_new0 (MailFolder, 1);
  folder->store = store;
  folder->dir = g_steal_pointer (&dir);
  folder->keywords = g_ptr_array_new_with_free_func (g_free);
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
  g_clear_pointer (&folder->entries, g_ptr_array_unref);
  g_clear_pointer (&folder->keywords, g_ptr_array_unref);
  g_free (folder->dir);
  g_free (folder);
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

gboolean
mail_folder_sync (MailFolder *folder,
                  guint *out_added,
                  guint *out_removed,
                  GError **error)
{
  GPtrArray *fresh;
  guint kept = 0;

  g_return_val_if_fail (folder != NULL, FALSE);
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
  g_ptr_array_unref (folder->entries);
  folder->entries = fresh;
  return TRUE;
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
  message_set_info (&entry->message, folder->keywords, scan->info);
  return TRUE;
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
        return g_bytes_new_take (data, length);
      if (attempt == RELOCATE_ATTEMPTS ||
          !g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          store_fail_gerror (error, local_error);
          return NULL;
        }
      g_error_free (local_error);
      if (!entry_relocate (folder, entry, error))
        return NULL;
    }
  return NULL;
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
        return store_fail_errno (error, errno, "rename", entry->message.path);
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

  g_return_val_if_fail (folder != NULL, FALSE);
  g_return_val_if_fail (index < folder->entries->len, FALSE);
  entry = folder_get_entry (folder, index, error);
  if (entry == NULL || !keywords_ensure (folder->store, folder->dir,
                                         &folder->keywords, keywords, error))
    return FALSE;
  info = info_from_flags (folder->keywords, flags, keywords);
  target = g_strdup_printf ("%s/cur/%s:2,%s", folder->dir, entry->message.name,
                            info);
  if (!entry_rename (folder, entry, target, error))
    return FALSE;
  message_set_info (&entry->message, folder->keywords, info);
  return TRUE;
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
        return store_fail_errno (error, errno, "remove", entry->message.path);
      if (!entry_relocate (folder, entry, &local_error))
        break; /* already removed by another session: same outcome */
    }
  entry->deleted = TRUE;
  dir = g_path_get_dirname (entry->message.path);
  return mail_fsync_directory (dir, error);
}

gboolean
mail_folder_copy_message (MailFolder *folder,
                          guint index,
                          const char *to_folder,
                          GError **error)
{
  const MailMessage *message;
  g_autofree char *dir = NULL;
  g_autoptr (GBytes) data = NULL;
  g_autoptr (GPtrArray) table = NULL;
  g_autofree char *info = NULL;

  g_return_val_if_fail (folder != NULL, FALSE);
  g_return_val_if_fail (index < folder->entries->len, FALSE);
  message = mail_folder_get_message (folder, index);
  dir = folder_existing_dir (folder->store, to_folder, error);
  data = dir ? mail_folder_read_message (folder, index, error) : NULL;
  table = data ? keywords_read (dir, error) : NULL;
  if (table == NULL ||
      !keywords_ensure (folder->store, dir, &table,
                        (const char *const *) message->keywords, error))
    return FALSE;
  /* The keyword letters are the target folder's, not ours. */
  info = info_from_flags (table, message->flags,
                          (const char *const *) message->keywords);
  return maildir_deliver_into (dir, g_bytes_get_data (data, NULL),
                               g_bytes_get_size (data), info, message->mtime,
                               NULL, error);
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

/* ---- the store and its folders --------------------------------------- */

MailStore *
mail_store_open (const char *root, GError **error)
{
  MailStore *store;

  g_return_val_if_fail (root != NULL, NULL);
  if (!maildir_make (root, FALSE, error))
    return NULL;
  store = g_new0 (MailStore, 1);
  store->root = g_strdup (root);
  store->maildrop_fd = -1;
  return store;
}

void
mail_store_free (MailStore *store)
{
  if (store == NULL)
    return;
  mail_store_unlock_maildrop (store);
  g_free (store->root);
  g_free (store);
}

const char *
mail_store_get_root (MailStore *store)
{
  g_return_val_if_fail (store != NULL, NULL);
  return store->root;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GStrv
mail_store_list_folders (MailStore *store, GError **error)
{
  GError *local_error = NULL;
  g_autoptr (GDir) listing = NULL;
  g_autoptr (GPtrArray) names = NULL;
  const char *entry;

  g_return_val_if_fail (store != NULL, NULL);
  listing = g_dir_open (store->root, 0, &local_error);
  if (listing == NULL)
    {
      store_fail_gerror (error, local_error);
      return NULL;
    }
  names = g_ptr_array_new_with_free_func (g_free);
  while ((entry = g_dir_read_name (listing)) != NULL)
    {
      char *name = folder_name_from_entry (store->root, entry);

      if (name != NULL)
        g_ptr_array_add (names, name);
    }
  g_ptr_array_sort (names, compare_strings);
  g_ptr_array_insert (names, 0, g_strdup ("INBOX"));
  g_ptr_array_add (names, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

gboolean
mail_store_create_folder (MailStore *store, const char *name, GError **error)
{
  g_autofree char *dir = NULL;

  g_return_val_if_fail (store != NULL && name != NULL, FALSE);
  if (folder_is_inbox (name))
    {
      g_set_error_literal (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_EXISTS,
                           "INBOX always exists");
      return FALSE;
    }
  dir = folder_dir (store->root, name, error);
  if (dir == NULL)
    return FALSE;
  if (mkdir (dir, 0700) != 0)
    return store_fail_errno (error, errno, "create", dir);
  if (!maildir_make (dir, TRUE, error))
    {
      remove_tree (dir, TREE_DEPTH, NULL);
      return FALSE;
    }
  return mail_fsync_directory (store->root, error);
}

/* Directory entries ".From.X..." of @from's inferior folders. */
static GPtrArray *
folder_children (const char *root, const char *from_dir)
{
  g_autofree char *prefix =
      g_strconcat (strrchr (from_dir, '/') + 1, ".", NULL);
  g_autoptr (GDir) listing = g_dir_open (root, 0, NULL);
  GPtrArray *children = g_ptr_array_new_with_free_func (g_free);
  const char *entry;

  while (listing != NULL && (entry = g_dir_read_name (listing)) != NULL)
    {
      if (g_str_has_prefix (entry, prefix))
        g_ptr_array_add (children, g_strdup (entry + strlen (prefix)));
    }
  return children;
}

/* Renames @from_dir to @to_dir, and each ".From.X" to ".To.X". */
static gboolean
folder_rename_tree (const char *from_dir,
                    const char *to_dir,
                    GPtrArray *children,
                    GError **error)
{
  if (rename (from_dir, to_dir) != 0)
    return store_fail_errno (error, errno, "rename", from_dir);
  for (guint i = 0; i < children->len; i++)
    {
      g_autofree char *from =
          g_strconcat (from_dir, ".", children->pdata[i], NULL);
      g_autofree char *to = g_strconcat (to_dir, ".", children->pdata[i], NULL);

      if (rename (from, to) != 0)
        return store_fail_errno (error, errno, "rename", from);
    }
  return TRUE;
}

/* RFC 9051 §6.3.6: inferior names are renamed along with the folder. */
gboolean
mail_store_rename_folder (MailStore *store,
                          const char *from,
                          const char *to,
                          GError **error)
{
  g_autofree char *from_dir = NULL;
  g_autofree char *to_dir = NULL;
  g_autofree char *inside = NULL;
  g_autoptr (GPtrArray) children = NULL;

  g_return_val_if_fail (store != NULL && from != NULL && to != NULL, FALSE);
  if (folder_is_inbox (from) || folder_is_inbox (to))
    {
      g_set_error_literal (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_INVALID,
                           "INBOX cannot be renamed or replaced");
      return FALSE;
    }
  from_dir = folder_existing_dir (store, from, error);
  to_dir = from_dir ? folder_dir (store->root, to, error) : NULL;
  if (to_dir == NULL)
    return FALSE;
  inside = g_strconcat (from_dir, ".", NULL);
  if (g_str_has_prefix (to_dir, inside))
    {
      g_set_error_literal (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_INVALID,
                           "cannot rename a folder into itself");
      return FALSE;
    }
  children = folder_children (store->root, from_dir);
  for (guint i = 0; i <= children->len; i++)
    {
      g_autofree char *target =
          i < children->len
              ? g_strconcat (to_dir, ".", children->pdata[i], NULL)
              : g_strdup (to_dir);

      if (g_file_test (target, G_FILE_TEST_EXISTS))
        return store_fail_errno (error, EEXIST, "rename to", target);
    }
  return folder_rename_tree (from_dir, to_dir, children, error) &&
         mail_fsync_directory (store->root, error);
}

/* RFC 9051 §6.3.5: inferior folders stay. The folder is first renamed
 * to a name no listing shows, so it vanishes at once and whole. */
gboolean
mail_store_delete_folder (MailStore *store, const char *name, GError **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *trash = NULL;

  g_return_val_if_fail (store != NULL && name != NULL, FALSE);
  if (folder_is_inbox (name))
    {
      g_set_error_literal (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_INVALID,
                           "INBOX cannot be deleted");
      return FALSE;
    }
  dir = folder_existing_dir (store, name, error);
  if (dir == NULL)
    return FALSE;
  trash = g_strdup_printf ("%s/mailwire-trash.%ld.%08x", store->root,
                           (long) getpid (), g_random_int ());
  if (rename (dir, trash) != 0)
    return store_fail_errno (error, errno, "rename", dir);
  return mail_fsync_directory (store->root, error) &&
         remove_tree (trash, TREE_DEPTH, error);
}

gboolean
mail_store_lock_maildrop (MailStore *store, GError **error)
{
  g_autofree char *path = NULL;
  int fd;

  g_return_val_if_fail (store != NULL, FALSE);
  if (store->maildrop_fd >= 0)
    return TRUE;
  path = g_build_filename (store->root, MAILDROP_LOCK_NAME, NULL);
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return store_fail_errno (error, errno, "open", path);
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      int saved_errno = errno;

      close (fd);
      if (saved_errno != EWOULDBLOCK)
        return store_fail_errno (error, saved_errno, "lock", path);
      g_set_error_literal (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_IN_USE,
                           "maildrop is locked by another session");
      return FALSE;
    }
  store->maildrop_fd = fd;
  return TRUE;
}

void
mail_store_unlock_maildrop (MailStore *store)
{
  g_return_if_fail (store != NULL);
  if (store->maildrop_fd >= 0)
    close (store->maildrop_fd); /* releases the flock() */
  store->maildrop_fd = -1;
}
