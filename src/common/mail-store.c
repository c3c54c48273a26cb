/* SPDX-License-Identifier: MIT
 * mail-store.c: the Maildir++ store as directories and files: folders,
 * the store lock and the POP3 maildrop lock (maildir(5); Maildir++
 * folders as Courier and Dovecot lay them out; RFC 9051 §6.3.4-§6.3.6
 * folder semantics; RFC 1939 §8 maildrop lock). Delivery is
 * mail-store-deliver.c; special-use folders and subscriptions,
 * mail-store-subscriptions.c; one open folder (UIDs, messages),
 * mail-folder.c; flag letters and keywords, mail-flags.c.
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
#define TREE_DEPTH 3         /* folder dir, tmp/new/cur, files */

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
gboolean
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

gboolean
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
char *
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
char *
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
gboolean
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
