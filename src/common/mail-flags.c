/* SPDX-License-Identifier: MIT
 * mail-flags.c: flags and keywords in Maildir file names: the "2," info
 * letters of maildir(5) for the system flags of RFC 9051 §2.3.2, and
 * keyword letters a..z mapped through dovecot-keywords as Dovecot does.
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

#define KEYWORDS_NAME "dovecot-keywords"

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
GPtrArray *
mail_keywords_read (const char *dir, GError **error)
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
      mail_store_fail_gerror (error, local_error);
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
  return mail_store_replace_file (dir, KEYWORDS_NAME, text, error);
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

static gboolean
keywords_all_valid (const char *const *keywords, GError **error)
{
  for (gsize i = 0; keywords != NULL && keywords[i] != NULL; i++)
    {
      if (!keyword_is_valid (keywords[i]))
        {
          g_set_error_literal (error, MAIL_STORE_ERROR,
                               MAIL_STORE_ERROR_INVALID, "invalid keyword");
          return FALSE;
        }
    }
  return TRUE;
}

/* Makes sure the keywords of @dir's table *@inout_table include all of
 * @keywords: re-reads, extends and writes dovecot-keywords under the store
 * lock, as another process may be adding keywords too. */
gboolean
mail_keywords_ensure (MailStore *store,
                      const char *dir,
                      GPtrArray **inout_table,
                      const char *const *keywords,
                      GError **error)
{
  gboolean ok;
  int lock;

  if (!keywords_all_valid (keywords, error))
    return FALSE;
  if (keywords_all_known (*inout_table, keywords))
    return TRUE;
  lock = mail_store_lock (store, error);
  if (lock < 0)
    return FALSE;
  ok = mail_keywords_ensure_locked (dir, inout_table, keywords, error);
  mail_store_unlock (lock);
  return ok;
}

gboolean
mail_keywords_ensure_locked (const char *dir,
                             GPtrArray **inout_table,
                             const char *const *keywords,
                             GError **error)
{
  g_autoptr (GPtrArray) table = NULL;

  if (!keywords_all_valid (keywords, error))
    return FALSE;
  if (keywords_all_known (*inout_table, keywords))
    return TRUE;
  table = mail_keywords_read (dir, error);
  if (table == NULL || (!keywords_all_known (table, keywords) &&
                        (!keywords_add (table, keywords, error) ||
                         !keywords_write (dir, table, error))))
    return FALSE;
  g_ptr_array_unref (*inout_table);
  *inout_table = g_steal_pointer (&table);
  return TRUE;
}

/* The ":2," letters for @flags and @keywords; ASCII order, since every
 * flag letter is upper case and every keyword letter lower case. */
char *
mail_info_from_flags (GPtrArray *table,
                      MailFlags flags,
                      const char *const *keywords)
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
void
mail_message_set_info (MailMessage *message, GPtrArray *table, const char *info)
{
  g_autoptr (GStrvBuilder) keywords = NULL;
  gboolean any = FALSE;

  message->flags = mail_flags_from_info (info);
  g_clear_pointer (&message->keywords, g_strfreev);
  /* most messages have no keyword letter: no builder for them */
  if (strpbrk (info, "abcdefghijklmnopqrstuvwxyz") == NULL)
    return;
  keywords = g_strv_builder_new ();
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
  if (any)
    message->keywords = g_strv_builder_end (keywords);
}
