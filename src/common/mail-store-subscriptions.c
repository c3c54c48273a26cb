/* SPDX-License-Identifier: MIT
 * mail-store-subscriptions.c: the special-use folders a new user gets
 * (RFC 6154 §2) and the subscriptions file (RFC 9051 §6.3.7,
 * §6.3.8), one folder name a line in modified UTF-7 (RFC 3501 §5.1.3),
 * as Dovecot's Maildir++ layout keeps it.
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
