/* SPDX-License-Identifier: MIT
 * mail-store-deliver.c: durable delivery into a Maildir (maildir(5) and
 * cr.yp.to/proto/maildir.html: unique names, tmp/ then rename into new/
 * or cur/, fsync; RFC 5321 §6.1 "durable before yes"), and the size of a
 * message as sent (RFC 5322 §2.1 CRLF lines).
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

#include "mail-store-private.h"

#define DELIVERY_ATTEMPTS 10 /* fresh names tried when tmp/NAME exists */

/* ---- delivery -------------------------------------------------------- */

/* maildir(5): '/' and ':' in the host name become "\057" and "\072". */
static char *
hostname_escape (void)
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

/* The host part of every unique name, found once per process: asking
 * the kernel (uname) and escaping it for each message was work repeated
 * per delivery for a name that does not change while the server runs. */
static const char *
hostname_escaped (void)
{
  static gsize once = 0;
  static const char *host = NULL;

  if (g_once_init_enter (&once))
    {
      host = hostname_escape ();
      g_once_init_leave (&once, 1);
    }
  return host;
}

/* <time>.M<usec>P<pid>Q<n>.<host>: unique because one process counts
 * its deliveries and no two live processes share a pid. */
char *
maildir_unique_base (void)
{
  static gint counter = 0;
  gint64 now = g_get_real_time ();
  guint n = (guint) g_atomic_int_add (&counter, 1) + 1;
  const char *host = hostname_escaped ();

  return g_strdup_printf (
      "%" G_GINT64_FORMAT ".M%" G_GINT64_FORMAT "P%ldQ%u.%s",
      now / G_USEC_PER_SEC, now % G_USEC_PER_SEC, (long) getpid (), n, host);
}

/* The unique base name and its sizes: <base>,S=<size>,W=<size as sent>
 * (",W=": the size with CRLF line ends, as Dovecot names its files). */
static char *
maildir_unique_name (gsize size, gsize wire_size)
{
  g_autofree char *base = maildir_unique_base ();

  return g_strdup_printf ("%s,S=%" G_GSIZE_FORMAT ",W=%" G_GSIZE_FORMAT, base,
                          size, wire_size);
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
