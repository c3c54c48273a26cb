/* SPDX-License-Identifier: MIT
 * mail-store-spool.c: a message written into a Maildir's tmp/ while it
 * arrives, then delivered to every local recipient (maildir(5): tmp/,
 * fsync, rename into new/, fsync new/; RFC 5321 §6.1 "durable before
 * yes"). The server never holds the whole message: lines go through a
 * small buffer into the file. One file serves every recipient: the first
 * gets it by a link from the unnamed file (or a rename from tmp/), the
 * others by hard links into their new/ (a copy where a link cannot be
 * made: another filesystem).
 */
#define _GNU_SOURCE /* O_TMPFILE, linkat (), pread () */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mail-store-private.h"

#define SPOOL_ATTEMPTS 10        /* fresh names tried when tmp/NAME exists */
#define SPOOL_BUFFER (64 * 1024) /* written to the file in pieces this big */

struct _MailSpool
{
  char *maildir;   /* whose tmp/ holds the file; NULL: in memory */
  char *base;      /* the unique base name, in tmp/ and then in new/ */
  char *tmp_path;  /* tmp/NAME; NULL: unnamed, or renamed into new/ */
  int fd;          /* the file, read and write; -1 in memory */
  GString *buffer; /* not written yet; in memory: the whole message */
  gsize size;      /* octets given so far */
  GError *error;   /* the first write that failed */
};

/* open (@path, @flags) for a file in @maildir, making the Maildir's
 * tmp/, new/ and cur/ only when the open finds them missing (ENOENT), not
 * before every message: they exist for every message but a user's first,
 * and making them each time cost three failing mkdir () and three stat ()
 * calls per message (strace). A Maildir removed while the server runs is
 * made again the same way. -1 with errno, or with @made_error set when
 * the Maildir could not be made. */
static int
spool_open_making (const char *maildir,
                   const char *path,
                   int flags,
                   GError **made_error)
{
  int fd = open (path, flags, 0600);

  if (fd >= 0 || errno != ENOENT)
    return fd;
  if (!maildir_make (maildir, FALSE, made_error))
    return -1;
  return open (path, flags, 0600);
}

/* The file has no name until it is delivered (Linux O_TMPFILE, in tmp/
 * so it is on the Maildir's filesystem): a session that dies, even by
 * kill -9, leaves nothing behind, as the kernel frees an unnamed inode
 * with its last descriptor. Where the filesystem cannot do that, a named
 * tmp/ file as maildir(5) has it, removed on every failure we live to
 * see. */
static gboolean
spool_open (MailSpool *spool, GError **error)
{
  g_autofree char *tmp = g_build_filename (spool->maildir, "tmp", NULL);
  GError *made_error = NULL;

#ifdef O_TMPFILE
  spool->fd = spool_open_making (spool->maildir, tmp,
                                 O_TMPFILE | O_RDWR | O_CLOEXEC, &made_error);
  if (made_error != NULL)
    {
      g_propagate_error (error, made_error);
      return FALSE;
    }
  if (spool->fd >= 0)
    return TRUE;
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
    return mail_store_fail_errno (error, errno, "create in", tmp);
#endif
  for (int attempt = 1;; attempt++)
    {
      g_autofree char *path = g_build_filename (tmp, spool->base, NULL);

      spool->fd = spool_open_making (spool->maildir, path,
                                     O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                                     &made_error);
      if (made_error != NULL)
        {
          g_propagate_error (error, made_error);
          return FALSE;
        }
      if (spool->fd >= 0)
        {
          spool->tmp_path = g_steal_pointer (&path);
          return TRUE;
        }
      if (errno != EEXIST || attempt == SPOOL_ATTEMPTS)
        return mail_store_fail_errno (error, errno, "create", path);
      g_free (spool->base);
      spool->base = maildir_unique_base ();
    }
}

MailSpool *
mail_spool_new (const char *maildir, GError **error)
{
  g_autoptr (MailSpool) spool = g_new0 (MailSpool, 1);

  spool->fd = -1;
  spool->buffer = g_string_sized_new (maildir ? SPOOL_BUFFER : 4096);
  if (maildir == NULL)
    return g_steal_pointer (&spool);
  spool->maildir = g_strdup (maildir);
  spool->base = maildir_unique_base ();
  if (!spool_open (spool, error))
    return NULL;
  return g_steal_pointer (&spool);
}

void
mail_spool_free (MailSpool *spool)
{
  if (spool == NULL)
    return;
  if (spool->fd >= 0)
    close (spool->fd);
  /* not delivered: a named half-written file goes (no fsync needed, tmp/
   * is never read as mail); an unnamed one goes with its descriptor */
  if (spool->tmp_path != NULL)
    unlink (spool->tmp_path);
  g_free (spool->maildir);
  g_free (spool->base);
  g_free (spool->tmp_path);
  g_string_free (spool->buffer, TRUE);
  g_clear_error (&spool->error);
  g_free (spool);
}

/* Writes out the buffer; a failure is kept for mail_spool_deliver (). */
static gboolean
spool_flush (MailSpool *spool)
{
  const char *data = spool->buffer->str;
  gsize left = spool->buffer->len;

  while (spool->error == NULL && left > 0)
    {
      ssize_t written = write (spool->fd, data, left);

      if (written < 0 && errno == EINTR)
        continue;
      if (written < 0)
        mail_store_fail_errno (&spool->error, errno, "write", spool->base);
      else
        data += written, left -= written;
    }
  g_string_truncate (spool->buffer, 0);
  return spool->error == NULL;
}

void
mail_spool_write (MailSpool *spool, const void *data, gsize length)
{
  g_return_if_fail (spool != NULL);
  spool->size += length;
  if (spool->error != NULL)
    return; /* the message is lost anyway; read on without keeping it */
  g_string_append_len (spool->buffer, data, length);
  if (spool->fd >= 0 && spool->buffer->len >= SPOOL_BUFFER)
    spool_flush (spool);
}

GBytes *
mail_spool_read (MailSpool *spool, gsize offset, GError **error)
{
  g_autofree char *data = NULL;
  gsize length;

  g_return_val_if_fail (offset <= spool->size, NULL);
  if (spool->fd < 0)
    return g_bytes_new (spool->buffer->str + offset, spool->size - offset);
  if (!spool_flush (spool))
    {
      g_propagate_error (error, g_error_copy (spool->error));
      return NULL;
    }
  length = spool->size - offset;
  data = g_malloc (length + 1);
  for (gsize done = 0; done < length;)
    {
      ssize_t got = pread (spool->fd, data + done, length - done,
                           (off_t) (offset + done));

      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        {
          mail_store_fail_errno (error, got < 0 ? errno : EIO, "read",
                                 spool->base);
          return NULL;
        }
      done += got;
    }
  return g_bytes_new_take (g_steal_pointer (&data), length);
}

/* Removes the copies made so far (a later one failed): everywhere or
 * nowhere. Each directory is fsynced so a crash cannot bring one back. */
static void
spool_undo (GPtrArray *paths)
{
  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = g_ptr_array_index (paths, i);
      g_autofree char *directory = g_path_get_dirname (path);

      if (unlink (path) != 0)
        g_warning ("cannot remove %s: %s", path, g_strerror (errno));
      mail_fsync_directory (directory, NULL);
    }
  g_ptr_array_set_size (paths, 0);
}

/* link (), making @maildir when the link finds its new/ missing (as
 * spool_open_making ()). */
static int
spool_link_making (const char *maildir,
                   const char *first,
                   const char *path,
                   GError **made_error)
{
  if (link (first, path) == 0)
    return 0;
  if (errno != ENOENT)
    return -1;
  if (!maildir_make (maildir, FALSE, made_error))
    return -1;
  return link (first, path);
}

/* A recipient's copy of the message whose first copy is @first: a hard
 * link (same file, no second write, no second file fsync), or where the
 * filesystem cannot link there, a copy delivered durably on its own. */
static gboolean
spool_add_copy (MailSpool *spool,
                const char *first,
                const char *maildir,
                const char *name,
                GPtrArray *paths,
                GError **error)
{
  g_autofree char *path = g_build_filename (maildir, "new", name, NULL);
  g_autoptr (GBytes) data = NULL;
  g_autofree char *copy_name = NULL;
  gsize length;
  const char *octets;
  GError *made_error = NULL;

  if (spool_link_making (maildir, first, path, &made_error) == 0)
    {
      g_ptr_array_add (paths, g_steal_pointer (&path));
      return TRUE;
    }
  if (made_error != NULL)
    {
      g_propagate_error (error, made_error);
      return FALSE;
    }
  if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != ENOTSUP)
    return mail_store_fail_errno (error, errno, "link", path);
  data = mail_spool_read (spool, 0, error);
  if (data == NULL)
    return FALSE;
  octets = g_bytes_get_data (data, &length);
  if (!mail_maildir_deliver_into (maildir, octets, length, NULL, 0, &copy_name,
                                  error))
    return FALSE;
  g_ptr_array_add (paths, g_build_filename (maildir, "new", copy_name, NULL));
  return TRUE;
}

/* Gives the file its first name, @path in new/: an unnamed file is linked
 * there through /proc (linkat () with AT_EMPTY_PATH would need
 * CAP_DAC_READ_SEARCH), a named one renamed from tmp/. */
static gboolean
spool_name (MailSpool *spool, const char *path, GError **error)
{
  g_autofree char *self = NULL;

  if (spool->tmp_path != NULL)
    {
      if (rename (spool->tmp_path, path) != 0)
        return mail_store_fail_errno (error, errno, "rename", spool->tmp_path);
      g_clear_pointer (&spool->tmp_path, g_free); /* in new/ now */
      return TRUE;
    }
  self = g_strdup_printf ("/proc/self/fd/%d", spool->fd);
  if (linkat (AT_FDCWD, self, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0)
    return mail_store_fail_errno (error, errno, "link", path);
  return TRUE;
}

/* Step 3: the directory entries, one fsync for each recipient's new/.
 * Each session fsyncs for itself: when several finish at once, the
 * journal (ext4's jbd2) commits their fsyncs together anyway. A syncer
 * thread taking every session's fsyncs in batches was tried and measured
 * (bench/smtp_load.sh, 10 and 50 sessions, both builds in turn): twice
 * as slow with the files' fsyncs in it, which it puts in a row, and no
 * faster with only the directories'. */
static gboolean
spool_sync_directories (const char *const *maildirs, GError **error)
{
  for (guint i = 0; maildirs[i] != NULL; i++)
    {
      g_autofree char *directory = g_build_filename (maildirs[i], "new", NULL);

      if (!mail_fsync_directory (directory, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
mail_spool_deliver (MailSpool *spool,
                    const char *const *maildirs,
                    GPtrArray *out_paths,
                    GError **error)
{
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *name = NULL;
  g_autofree char *first = NULL;

  g_return_val_if_fail (spool->fd >= 0, FALSE);
  g_return_val_if_fail (maildirs != NULL && maildirs[0] != NULL, FALSE);
  g_return_val_if_fail (g_strcmp0 (maildirs[0], spool->maildir) == 0, FALSE);
  if (!spool_flush (spool))
    {
      g_propagate_error (error, g_error_copy (spool->error));
      return FALSE;
    }
  /* Step 1: the file's data and inode, before any name in new/ points to
   * it, so a message a reader can list is whole even after a crash. */
  if (fsync (spool->fd) != 0)
    return mail_store_fail_errno (error, errno, "fsync", spool->base);
  /* Step 2: the names. SMTP text has CRLF line ends, so W= is S=. */
  name = g_strdup_printf ("%s,S=%" G_GSIZE_FORMAT ",W=%" G_GSIZE_FORMAT,
                          spool->base, spool->size, spool->size);
  first = g_build_filename (maildirs[0], "new", name, NULL);
  if (!spool_name (spool, first, error))
    return FALSE;
  g_ptr_array_add (paths, g_strdup (first));
  for (guint i = 1; maildirs[i] != NULL; i++)
    if (!spool_add_copy (spool, first, maildirs[i], name, paths, error))
      {
        spool_undo (paths);
        return FALSE;
      }
  /* Step 3: the renames and links themselves. Only now may the server
   * say yes. */
  if (!spool_sync_directories (maildirs, error))
    {
      spool_undo (paths);
      return FALSE;
    }
  if (out_paths != NULL)
    for (guint i = 0; i < paths->len; i++)
      g_ptr_array_add (out_paths, g_strdup (g_ptr_array_index (paths, i)));
  return TRUE;
}
