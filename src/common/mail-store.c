/* SPDX-License-Identifier: MIT
 * mail-store.c: the Maildir++ store as directories and files: durable
 * delivery, folders, the store lock and the POP3 maildrop lock
 * (maildir(5) and cr.yp.to/proto/maildir.html; Maildir++ folders as
 * Courier and Dovecot lay them out; RFC 9051 §6.3.4-§6.3.6 folder
 * semantics; RFC 1939 §8 maildrop lock). One open folder (UIDs, messages)
 * is mail-folder.c; flag letters and keywords are mail-flags.c.
 *
 * Folder names are UTF-8 in the API and modified UTF-7 on disk (RFC 3501
 * §5.1.3), in directory names and the subscriptions file alike, as
 * Dovecot's Maildir++ layout keeps them; the UTF-8 directory names and
 * subscription lines of earlier mailwire are still read.
 *
 * Locking: delivery needs no lock (unique names and rename() do the work).
 * The uidlist and dovecot-keywords of every folder are read-modify-written
 * only while ROOT/mailwire.lock is flock()ed, so two processes that open a
 * folder at once never hand out the same UID.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imap-parser.h"
#include "mail-store-private.h"

G_DEFINE_QUARK (mail_store_error, mail_store_error)

#define STORE_LOCK_NAME "mailwire.lock"
#define MAILDROP_LOCK_NAME "mailwire-pop3.lock"
#define MAX_FOLDER_NAME 200  /* octets of UTF-8 */
#define MAX_FOLDER_ENTRY 255 /* NAME_MAX: ".A.B" in modified UTF-7 */
#define DELIVERY_ATTEMPTS 10 /* fresh names tried when tmp/NAME exists */
#define TREE_DEPTH 3         /* folder dir, tmp/new/cur, files */

struct _MailStore
{
  char *root;
  int maildrop_fd; /* flock()ed mailwire-pop3.lock, or -1 */
};

/* ---- errors and files ---------------------------------------------- */

gboolean
mail_store_fail_errno (GError **error,
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
gboolean
mail_store_fail_gerror (GError **error, GError *file_error)
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
    return mail_store_fail_errno (error, errno, "create", path);
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
  return mail_store_fail_errno (error, saved_errno, "write", path);
}

gboolean
mail_fsync_directory (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved_errno;

  g_return_val_if_fail (path != NULL, FALSE);
  if (fd < 0)
    return mail_store_fail_errno (error, errno, "open directory", path);
  if (fsync (fd) == 0)
    {
      close (fd);
      return TRUE;
    }
  saved_errno = errno;
  close (fd);
  return mail_store_fail_errno (error, saved_errno, "fsync", path);
}

/* Replaces @dir/@name atomically and durably: temp file, fsync, rename,
 * fsync the directory. Callers hold the store lock, so the fixed temp name
 * is theirs; one that exists is left over from a crash. */
gboolean
mail_store_replace_file_quickly (const char *dir,
                                 const char *name,
                                 const GString *contents,
                                 GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
  GError *local_error = NULL;

  unlink (tmp);
  /* rename() keeps it whole for readers; only a crash may lose it */
  if (!g_file_set_contents_full (tmp, contents->str, contents->len,
                                 G_FILE_SET_CONTENTS_NONE, 0600, &local_error))
    return mail_store_fail_gerror (error, local_error);
  if (rename (tmp, path) != 0)
    {
      int saved_errno = errno;

      unlink (tmp);
      return mail_store_fail_errno (error, saved_errno, "rename", tmp);
    }
  return TRUE;
}

gboolean
mail_store_replace_file (const char *dir,
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
      return mail_store_fail_errno (error, saved_errno, "rename", tmp);
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
        return mail_store_fail_errno (error, errno, "remove", child);
    }
  if (rmdir (path) != 0)
    return mail_store_fail_errno (error, errno, "remove", path);
  return TRUE;
}

/* ---- the store lock ------------------------------------------------- */

/* Returns a descriptor holding flock(LOCK_EX) on ROOT/mailwire.lock, or
 * -1. Each call opens the file anew: flock() locks belong to the open file
 * description, so threads and handles of one process exclude each other
 * as well as other processes. */
int
mail_store_lock (MailStore *store, GError **error)
{
  g_autofree char *path = g_build_filename (store->root, STORE_LOCK_NAME, NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

  if (fd < 0)
    {
      mail_store_fail_errno (error, errno, "open", path);
      return -1;
    }
  while (flock (fd, LOCK_EX) != 0)
    {
      if (errno != EINTR)
        {
          mail_store_fail_errno (error, errno, "lock", path);
          close (fd);
          return -1;
        }
    }
  return fd;
}

void
mail_store_unlock (int fd)
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

/* (transfer full) ROOT/.A.B for folder "A/B" (not INBOX), the name in
 * modified UTF-7 (RFC 3501 §5.1.3) as Dovecot's Maildir++ layout writes
 * it ("Entwürfe" is ".Entw&APw-rfe"), or, @legacy, in UTF-8 as earlier
 * mailwire wrote it. NULL if @name is invalid or its entry too long. */
static char *
folder_dir_as (const char *root, const char *name, gboolean legacy)
{
  g_autofree char *encoded = NULL;
  g_autofree char *entry = NULL;

  if (!folder_name_is_valid (name))
    return NULL;
  encoded = legacy ? g_strdup (name) : imap_utf8_to_mutf7 (name);
  entry = g_strdelimit (g_strconcat (".", encoded, NULL), "/", '.');
  if (strlen (entry) > MAX_FOLDER_ENTRY)
    return NULL;
  return g_build_filename (root, entry, NULL);
}

static gboolean
fail_invalid_name (GError **error)
{
  g_set_error_literal (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_INVALID,
                       "invalid folder name");
  return FALSE;
}

/* (transfer full) the directory a new folder @name gets, or NULL and
 * INVALID. */
static char *
folder_dir (const char *root, const char *name, GError **error)
{
  char *dir;

  if (folder_is_inbox (name))
    return g_strdup (root);
  dir = folder_dir_as (root, name, FALSE);
  if (dir == NULL)
    fail_invalid_name (error);
  return dir;
}

/* (transfer full) the directory of existing folder @name: its modified
 * UTF-7 one, else the UTF-8 one of an older mailwire; NULL and INVALID
 * or NOT_FOUND. */
static char *
folder_dir_existing (const char *root, const char *name, GError **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *legacy = NULL;

  if (folder_is_inbox (name))
    dir = g_strdup (root);
  else if (folder_name_is_valid (name))
    {
      dir = folder_dir_as (root, name, FALSE);
      legacy = folder_dir_as (root, name, TRUE);
    }
  else
    {
      fail_invalid_name (error);
      return NULL;
    }
  if (dir != NULL && is_directory (dir, "cur"))
    return g_steal_pointer (&dir);
  if (legacy != NULL && is_directory (legacy, "cur"))
    return g_steal_pointer (&legacy);
  g_set_error_literal (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_NOT_FOUND,
                       "no such folder");
  return NULL;
}

char *
mail_store_folder_dir (MailStore *store, const char *name, GError **error)
{
  return folder_dir_existing (store->root, name, error);
}

/* The folder name of root entry ".A.B": "A/B" decoded from modified
 * UTF-7, or taken as UTF-8 when it is not that (an older mailwire's
 * name); NULL if it can be no folder. The decoded name must encode back
 * to the entry, so that folder_dir_as () finds what the listing shows. */
static char *
folder_name_from_entry (const char *entry)
{
  g_autofree char *text = NULL;
  g_autofree char *name = NULL;
  g_autofree char *again = NULL;

  if (entry[0] != '.')
    return NULL;
  text = g_strdelimit (g_strdup (entry + 1), ".", '/');
  name = imap_mutf7_to_utf8 (text, NULL);
  if (name != NULL && folder_name_is_valid (name))
    {
      again = imap_utf8_to_mutf7 (name);
      if (strcmp (again, text) == 0)
        return g_steal_pointer (&name);
    }
  return folder_name_is_valid (text) ? g_steal_pointer (&text) : NULL;
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
        return mail_store_fail_errno (error, errno, "create", path);
    }
  if (!is_folder)
    return TRUE;
  marker = g_build_filename (dir, "maildirfolder", NULL);
  fd = open (marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return mail_store_fail_errno (error, errno, "create", marker);
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
maildir_unique_name (gsize size, gsize wire_size)
{
  static gint counter = 0;
  gint64 now = g_get_real_time ();
  guint n = (guint) g_atomic_int_add (&counter, 1) + 1;
  g_autofree char *host = hostname_escaped ();

  /* ",W=": the size with CRLF line ends, as Dovecot names its files */
  return g_strdup_printf ("%" G_GINT64_FORMAT ".M%" G_GINT64_FORMAT
                          "P%ldQ%u.%s,S=%" G_GSIZE_FORMAT ",W=%" G_GSIZE_FORMAT,
                          now / G_USEC_PER_SEC, now % G_USEC_PER_SEC,
                          (long) getpid (), n, host, size, wire_size);
}

gsize
mail_wire_size (const void *data, gsize length)
{
  const char *text = data;
  gsize size = length;

  for (const char *lf = memchr (text, '\n', length); lf != NULL;
       lf = memchr (lf + 1, '\n', length - (lf + 1 - text)))
    if (lf == text || lf[-1] != '\r')
      size++;
  return size;
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
      /* served as stored (SMTP gives CRLF; an APPEND literal8 may hold
       * binary octets that no LF-to-CRLF may touch): W= is S= */
      g_autofree char *name = maildir_unique_name (length, length);
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
gboolean
mail_maildir_deliver_into (const char *dir,
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
      return mail_store_fail_errno (error, saved_errno, "rename", tmp_path);
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
  /* a folder that is missing is made, in modified UTF-7 */
  dir = folder_dir_existing (maildir, folder, NULL);
  if (dir == NULL)
    dir = folder_dir (maildir, folder, error);
  if (dir == NULL || !maildir_make (maildir, FALSE, error))
    return FALSE;
  if (!folder_is_inbox (folder) && !maildir_make (dir, TRUE, error))
    return FALSE;
  return mail_maildir_deliver_into (dir, data, length, NULL, 0, out_name,
                                    error);
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
      mail_store_fail_gerror (error, local_error);
      return NULL;
    }
  names = g_ptr_array_new_with_free_func (g_free);
  while ((entry = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *dir = g_build_filename (store->root, entry, NULL);
      char *name = folder_name_from_entry (entry);

      if (name != NULL && is_directory (dir, "cur"))
        g_ptr_array_add (names, name);
      else
        g_free (name);
    }
  g_ptr_array_sort (names, compare_strings);
  /* a folder may have both forms on disk (older mailwire and Dovecot) */
  for (guint i = 1; i < names->len; i++)
    {
      if (strcmp (names->pdata[i - 1], names->pdata[i]) == 0)
        g_ptr_array_remove_index (names, i--);
    }
  g_ptr_array_insert (names, 0, g_strdup ("INBOX"));
  g_ptr_array_add (names, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

/* TRUE if folder @name has a directory in either form, or a file stands
 * where its directory would go. */
static gboolean
folder_name_is_taken (const char *root, const char *name)
{
  for (int legacy = 0; legacy <= 1; legacy++)
    {
      g_autofree char *dir = folder_dir_as (root, name, legacy);

      if (dir != NULL && g_file_test (dir, G_FILE_TEST_EXISTS))
        return TRUE;
    }
  return FALSE;
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
  if (folder_name_is_taken (store->root, name))
    return mail_store_fail_errno (error, EEXIST, "create", dir);
  if (mkdir (dir, 0700) != 0)
    return mail_store_fail_errno (error, errno, "create", dir);
  if (!maildir_make (dir, TRUE, error))
    {
      remove_tree (dir, TREE_DEPTH, NULL);
      return FALSE;
    }
  return mail_fsync_directory (store->root, error);
}

/* Adds the move of one directory to folder @to_name's new directory to
 * @moves (pairs: from, to), or fails INVALID or EXISTS. */
static gboolean
folder_plan_move (GPtrArray *moves,
                  const char *root,
                  char *from_dir,
                  const char *to_name,
                  GError **error)
{
  char *to_dir = folder_dir (root, to_name, error);

  if (to_dir != NULL && folder_name_is_taken (root, to_name))
    {
      mail_store_fail_errno (error, EEXIST, "rename to", to_dir);
      g_clear_pointer (&to_dir, g_free);
    }
  if (to_dir == NULL)
    {
      g_free (from_dir);
      return FALSE;
    }
  g_ptr_array_add (moves, from_dir);
  g_ptr_array_add (moves, to_dir);
  return TRUE;
}

/* The renames that make @from (in @from_dir) and its inferiors "From/X"
 * (RFC 9051 §6.3.6) @to and "To/X", each into modified UTF-7 whatever
 * form it had: pairs of paths, or NULL if a new name is invalid or
 * taken. (transfer full) */
static GPtrArray *
folder_plan_rename (const char *root,
                    const char *from,
                    const char *from_dir,
                    const char *to,
                    GError **error)
{
  g_autoptr (GPtrArray) moves = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) listing = g_dir_open (root, 0, NULL);
  gsize from_length = strlen (from);
  const char *entry;

  if (!folder_plan_move (moves, root, g_strdup (from_dir), to, error))
    return NULL;
  while (listing != NULL && (entry = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *name = folder_name_from_entry (entry);
      g_autofree char *to_name = NULL;

      if (name == NULL || strncmp (name, from, from_length) != 0 ||
          name[from_length] != '/')
        continue;
      to_name = g_strconcat (to, name + from_length, NULL);
      if (!folder_plan_move (moves, root, g_build_filename (root, entry, NULL),
                             to_name, error))
        return NULL;
    }
  return g_steal_pointer (&moves);
}

/* RFC 9051 §6.3.6: inferior names are renamed along with the folder. */
gboolean
mail_store_rename_folder (MailStore *store,
                          const char *from,
                          const char *to,
                          GError **error)
{
  g_autofree char *from_dir = NULL;
  g_autoptr (GPtrArray) moves = NULL;

  g_return_val_if_fail (store != NULL && from != NULL && to != NULL, FALSE);
  if (folder_is_inbox (from) || folder_is_inbox (to))
    {
      g_set_error_literal (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_INVALID,
                           "INBOX cannot be renamed or replaced");
      return FALSE;
    }
  from_dir = mail_store_folder_dir (store, from, error);
  if (from_dir == NULL)
    return FALSE;
  if (g_str_has_prefix (to, from) && to[strlen (from)] == '/')
    {
      g_set_error_literal (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_INVALID,
                           "cannot rename a folder into itself");
      return FALSE;
    }
  moves = folder_plan_rename (store->root, from, from_dir, to, error);
  if (moves == NULL)
    return FALSE;
  for (guint i = 0; i < moves->len; i += 2)
    {
      if (rename (moves->pdata[i], moves->pdata[i + 1]) != 0)
        return mail_store_fail_errno (error, errno, "rename", moves->pdata[i]);
    }
  return mail_fsync_directory (store->root, error);
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
  dir = mail_store_folder_dir (store, name, error);
  if (dir == NULL)
    return FALSE;
  trash = g_strdup_printf ("%s/mailwire-trash.%ld.%08x", store->root,
                           (long) getpid (), g_random_int ());
  if (rename (dir, trash) != 0)
    return mail_store_fail_errno (error, errno, "rename", dir);
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
    return mail_store_fail_errno (error, errno, "open", path);
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      int saved_errno = errno;

      close (fd);
      if (saved_errno != EWOULDBLOCK)
        return mail_store_fail_errno (error, saved_errno, "lock", path);
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

/* ---- special-use folders (RFC 6154) ------------------------------------ */

const char *const mail_store_special_folders[] = {
  "Drafts", "Sent", "Trash", "Junk", "Archive", NULL,
};

gboolean
mail_store_create_special_folders (MailStore *store, GError **error)
{
  for (guint i = 0; mail_store_special_folders[i] != NULL; i++)
    {
      const char *name = mail_store_special_folders[i];
      GError *local_error = NULL;

      if (!mail_store_create_folder (store, name, &local_error))
        {
          if (!g_error_matches (local_error, MAIL_STORE_ERROR,
                                MAIL_STORE_ERROR_EXISTS))
            {
              g_propagate_error (error, local_error);
              return FALSE;
            }
          g_error_free (local_error);
          continue; /* there already, perhaps unsubscribed on purpose */
        }
      if (!mail_store_set_subscribed (store, name, TRUE, error))
        return FALSE;
    }
  return TRUE;
}

/* ---- subscriptions (RFC 9051 §6.3.7) ---------------------------------- */

#define SUBSCRIPTIONS_NAME "subscriptions"
/* Dovecot's version 2 file (which Dovecot 2.3 writes): this line and an
 * empty one, then a name a line, in modified UTF-7 with a tab between
 * levels ("Lists\tEntw&APw-rfe"). Earlier mailwire wrote UTF-8 lines
 * ("Lists/Entwürfe") without the header. */
#define SUBSCRIPTIONS_HEADER "V\t2"

/* A line of the file as a folder name, or NULL if it is none.
 * (transfer full) */
static char *
subscription_from_line (const char *line, gboolean version_2)
{
  g_autofree char *text = g_strdup (line);
  char *name = NULL;

  if (line[0] == '\0')
    return NULL;
  if (version_2)
    {
      g_strdelimit (text, "\t", '/');
      name = imap_mutf7_to_utf8 (text, NULL);
    }
  if (name == NULL && g_utf8_validate (text, -1, NULL))
    name = g_steal_pointer (&text);
  return name;
}

static void
subscription_append_line (GString *contents, const char *name)
{
  g_autofree char *line = imap_utf8_to_mutf7 (name);

  g_string_append_printf (contents, "%s\n", g_strdelimit (line, "/", '\t'));
}

GStrv
mail_store_list_subscriptions (MailStore *store, GError **error)
{
  g_autofree char *path =
      g_build_filename (store->root, SUBSCRIPTIONS_NAME, NULL);
  g_autofree char *contents = NULL;
  GError *local_error = NULL;
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();
  g_auto (GStrv) lines = NULL;
  gboolean version_2;

  if (!g_file_get_contents (path, &contents, NULL, &local_error))
    {
      if (!g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          mail_store_fail_gerror (error, local_error);
          return NULL;
        }
      g_error_free (local_error); /* none yet: no subscriptions */
      return g_strv_builder_end (names);
    }
  lines = g_strsplit (contents, "\n", -1);
  version_2 = strcmp (lines[0], SUBSCRIPTIONS_HEADER) == 0;
  for (guint i = version_2 ? 1 : 0; lines[i] != NULL; i++)
    {
      g_autofree char *name = subscription_from_line (lines[i], version_2);

      if (name != NULL)
        g_strv_builder_add (names, name);
    }
  return g_strv_builder_end (names);
}

gboolean
mail_store_set_subscribed (MailStore *store,
                           const char *name,
                           gboolean subscribed,
                           GError **error)
{
  g_auto (GStrv) names = NULL;
  g_autoptr (GString) contents = g_string_new (NULL);
  gboolean ok;
  int lock;

  g_return_val_if_fail (store != NULL && name != NULL, FALSE);
  if (strchr (name, '\n') != NULL || !g_utf8_validate (name, -1, NULL))
    {
      g_set_error_literal (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_INVALID,
                           "invalid folder name");
      return FALSE;
    }
  lock = mail_store_lock (store, error);
  if (lock < 0)
    return FALSE;
  names = mail_store_list_subscriptions (store, error);
  g_string_append (contents, SUBSCRIPTIONS_HEADER "\n\n");
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      if (strcmp (names[i], name) != 0)
        subscription_append_line (contents, names[i]);
    }
  if (subscribed)
    subscription_append_line (contents, name);
  ok = names != NULL && mail_store_replace_file (
                            store->root, SUBSCRIPTIONS_NAME, contents, error);
  mail_store_unlock (lock);
  return ok;
}
