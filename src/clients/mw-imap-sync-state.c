/* SPDX-License-Identifier: MIT
 * mw-imap-sync-state.c: the state file of `mw-imap sync`, flag sets
 * (RFC 9051 §2.3.2) and their merge, and Message-ID (RFC 5322 §3.6.4).
 * See mw-imap-sync.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mw-imap-sync.h"

#define MW_SYNC_STATE_MAGIC "mw-imap-sync 1"

/* ---- the state file ------------------------------------------------- */

static void
mw_sync_pair_clear (gpointer data)
{
  MwSyncPair *pair = data;

  g_free (pair->flags);
}

MwSyncState *
mw_sync_state_new (void)
{
  MwSyncState *state = g_new0 (MwSyncState, 1);

  state->pairs = g_array_new (FALSE, TRUE, sizeof (MwSyncPair));
  g_array_set_clear_func (state->pairs, mw_sync_pair_clear);
  return state;
}

void
mw_sync_state_free (MwSyncState *state)
{
  if (state == NULL)
    return;
  g_array_unref (state->pairs);
  g_free (state);
}

void
mw_sync_state_add (MwSyncState *state,
                   guint32 remote_uid,
                   guint32 local_uid,
                   const char *flags)
{
  MwSyncPair pair = { remote_uid, local_uid, g_strdup (flags) };

  g_array_append_val (state->pairs, pair);
}

static gboolean
mw_sync_state_bad (const char *path, guint line, GError **error)
{
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
               "%s: line %u is not a sync state line", path, line + 1);
  return FALSE;
}

/* A decimal number at *@at, then one space or the end of the line;
 * moves *@at past them. */
static gboolean
mw_sync_state_number (const char **at, guint64 max, guint64 *out_number)
{
  const char *p = *at;
  guint64 number = 0;

  if (!g_ascii_isdigit (*p))
    return FALSE;
  for (; g_ascii_isdigit (*p); p++)
    {
      if (number > (max - (guint64) (*p - '0')) / 10)
        return FALSE;
      number = number * 10 + (guint64) (*p - '0');
    }
  if (*p == ' ')
    p++;
  else if (*p != '\0')
    return FALSE;
  *at = p;
  *out_number = number;
  return TRUE;
}

/* "server UIDVALIDITY HIGHESTMODSEQ UIDNEXT" and "local UIDVALIDITY
 * [HIGHESTMODSEQ UIDNEXT]" (the last two came later: a state without
 * them is read, and the next sync writes them). Returns 0, or the index
 * of the line that is wrong. */
static guint
mw_sync_state_parse_header (MwSyncState *state, char **lines)
{
  const char *at = NULL;
  guint64 n[3] = { 0, 0, 0 };

  if (lines[1] == NULL || !g_str_has_prefix (lines[1], "server "))
    return 1;
  at = lines[1] + 7;
  if (!mw_sync_state_number (&at, G_MAXUINT32, &n[0]) ||
      !mw_sync_state_number (&at, G_MAXUINT64, &n[1]) ||
      !mw_sync_state_number (&at, G_MAXUINT32, &n[2]) || *at != '\0')
    return 1;
  state->uidvalidity = (guint32) n[0];
  state->highest_modseq = n[1];
  state->uidnext = (guint32) n[2];
  if (lines[2] == NULL || !g_str_has_prefix (lines[2], "local "))
    return 2;
  at = lines[2] + 6;
  if (!mw_sync_state_number (&at, G_MAXUINT32, &n[0]))
    return 2;
  state->local_uidvalidity = (guint32) n[0];
  if (*at != '\0' && mw_sync_state_number (&at, G_MAXUINT64, &n[1]) &&
      mw_sync_state_number (&at, G_MAXUINT32, &n[2]) && *at == '\0')
    {
      state->local_highest_modseq = n[1];
      state->local_uidnext = (guint32) n[2];
    }
  return 0;
}

/* The lines of @text, split in place (their ends become NULs): a big
 * folder's state has a line per message, read on every sync. */
static gboolean
mw_sync_state_parse (MwSyncState *state,
                     const char *path,
                     char *text,
                     GError **error)
{
  char *lines[4] = { NULL, NULL, NULL, NULL };
  char *rest = text;
  guint number = 0;
  guint bad = 0;

  for (guint i = 0; i < 3 && rest != NULL; i++)
    {
      lines[i] = rest;
      rest = strchr (rest, '\n');
      if (rest != NULL)
        *rest++ = '\0';
    }
  if (lines[0] == NULL || strcmp (lines[0], MW_SYNC_STATE_MAGIC) != 0)
    return mw_sync_state_bad (path, 0, error);
  if ((bad = mw_sync_state_parse_header (state, lines)) != 0)
    return mw_sync_state_bad (path, bad, error);
  for (number = 3; rest != NULL && *rest != '\0' && *rest != '\n'; number++)
    {
      char *line = rest;
      const char *at = line;
      guint64 remote_uid = 0;
      guint64 local_uid = 0;

      rest = strchr (rest, '\n');
      if (rest != NULL)
        *rest++ = '\0';
      if (!mw_sync_state_number (&at, G_MAXUINT32, &remote_uid) ||
          !mw_sync_state_number (&at, G_MAXUINT32, &local_uid) ||
          remote_uid == 0 || local_uid == 0)
        return mw_sync_state_bad (path, number, error);
      mw_sync_state_add (state, (guint32) remote_uid, (guint32) local_uid,
                         g_strstrip ((char *) at));
    }
  return TRUE;
}

MwSyncState *
mw_sync_state_load (const char *path, GError **error)
{
  g_autoptr (MwSyncState) state = mw_sync_state_new ();
  g_autofree char *text = NULL;
  g_autoptr (GError) local_error = NULL;

  if (!g_file_get_contents (path, &text, NULL, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_steal_pointer (&state);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (!mw_sync_state_parse (state, path, text, error))
    return NULL;
  return g_steal_pointer (&state);
}

static gboolean
mw_sync_write_all (int fd,
                   const GString *text,
                   const char *path,
                   GError **error)
{
  gsize done = 0;

  while (done < text->len)
    {
      ssize_t n = write (fd, text->str + done, text->len - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                       "%s: %s", path, g_strerror (errno));
          return FALSE;
        }
      done += (gsize) n;
    }
  if (fsync (fd) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "fsync %s: %s", path, g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

gboolean
mw_sync_state_save (const MwSyncState *state, const char *path, GError **error)
{
  g_autoptr (GString) text = g_string_new (MW_SYNC_STATE_MAGIC "\n");
  g_autofree char *temporary = g_strconcat (path, ".tmp", NULL);
  g_autofree char *directory = g_path_get_dirname (path);
  int fd = -1;
  gboolean ok = FALSE;

  g_string_append_printf (text, "server %u %" G_GUINT64_FORMAT " %u\n",
                          state->uidvalidity, state->highest_modseq,
                          state->uidnext);
  g_string_append_printf (text, "local %u %" G_GUINT64_FORMAT " %u\n",
                          state->local_uidvalidity, state->local_highest_modseq,
                          state->local_uidnext);
  for (guint i = 0; i < state->pairs->len; i++)
    {
      const MwSyncPair *pair = &g_array_index (state->pairs, MwSyncPair, i);

      g_string_append_printf (text, "%u %u %s\n", pair->remote_uid,
                              pair->local_uid, pair->flags);
    }
  fd = open (temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "%s: %s", temporary, g_strerror (errno));
      return FALSE;
    }
  ok = mw_sync_write_all (fd, text, temporary, error);
  close (fd);
  if (ok && rename (temporary, path) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "rename %s: %s", path, g_strerror (errno));
      ok = FALSE;
    }
  return ok && mail_fsync_directory (directory, error);
}

/* ---- flags ---------------------------------------------------------- */

static const char *const mw_sync_system_flags[] = {
  "\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen", NULL,
};

static int
mw_sync_compare (gconstpointer a, gconstpointer b)
{
  return g_ascii_strcasecmp (*(const char *const *) a,
                             *(const char *const *) b);
}

/* Is @flags already as mw_sync_flags_normalize () writes it? Nearly
 * every message's flags are ("", "\\Seen"): telling so takes one pass
 * and no allocation, where normalising takes several per message. */
static gboolean
mw_sync_flags_are_normal (const char *flags)
{
  const char *previous = NULL;
  gsize previous_length = 0;

  for (const char *word = flags; *word != '\0';)
    {
      gsize length = strcspn (word, " ");
      int order = 0;

      if (length == 0 ||
          (length == 7 && g_ascii_strncasecmp (word, "\\Recent", 7) == 0))
        return FALSE;
      for (guint s = 0; word[0] == '\\' && mw_sync_system_flags[s] != NULL; s++)
        if (strlen (mw_sync_system_flags[s]) == length &&
            g_ascii_strncasecmp (word, mw_sync_system_flags[s], length) == 0 &&
            strncmp (word, mw_sync_system_flags[s], length) != 0)
          return FALSE; /* another spelling of a system flag */
      if (previous != NULL)
        {
          order = g_ascii_strncasecmp (previous, word,
                                       MIN (previous_length, length));
          if (order > 0 || (order == 0 && previous_length >= length))
            return FALSE;
        }
      previous = word;
      previous_length = length;
      word += length;
      if (*word == ' ' && *++word == '\0')
        return FALSE; /* a trailing space */
    }
  return TRUE;
}

char *
mw_sync_flags_normalize (const char *flags)
{
  g_auto (GStrv) words = NULL;
  g_autoptr (GPtrArray) kept = NULL;

  if (flags == NULL || mw_sync_flags_are_normal (flags))
    return g_strdup (flags ? flags : "");
  words = g_strsplit (flags, " ", -1);
  kept = g_ptr_array_new ();
  for (guint i = 0; words[i] != NULL; i++)
    {
      const char *word = words[i];

      if (word[0] == '\0' || g_ascii_strcasecmp (word, "\\Recent") == 0)
        continue;
      for (guint s = 0; mw_sync_system_flags[s] != NULL; s++)
        if (g_ascii_strcasecmp (word, mw_sync_system_flags[s]) == 0)
          word = mw_sync_system_flags[s];
      g_ptr_array_add (kept, (gpointer) word);
    }
  g_ptr_array_sort (kept, mw_sync_compare);
  for (guint i = kept->len; i > 1; i--)
    if (g_ascii_strcasecmp (kept->pdata[i - 1], kept->pdata[i - 2]) == 0)
      g_ptr_array_remove_index (kept, i - 1);
  g_ptr_array_add (kept, NULL);
  return g_strjoinv (" ", (char **) kept->pdata);
}

/* Maildir letters and system flags (mail-store.h MailFlags). */
static const struct
{
  MailFlags flag;
  const char *name;
} mw_sync_local_names[] = {
  { MAIL_FLAG_ANSWERED, "\\Answered" }, { MAIL_FLAG_DELETED, "\\Deleted" },
  { MAIL_FLAG_DRAFT, "\\Draft" },       { MAIL_FLAG_FLAGGED, "\\Flagged" },
  { MAIL_FLAG_SEEN, "\\Seen" },
};

char *
mw_sync_local_flags (const MailMessage *message)
{
  g_autoptr (GString) flags = g_string_sized_new (32);

  /* the system flags in their sorted order, each once: with no keyword
   * that is the normal form already */
  for (guint i = 0; i < G_N_ELEMENTS (mw_sync_local_names); i++)
    if (message->flags & mw_sync_local_names[i].flag)
      {
        if (flags->len > 0)
          g_string_append_c (flags, ' ');
        g_string_append (flags, mw_sync_local_names[i].name);
      }
  if (message->keywords == NULL || message->keywords[0] == NULL)
    return g_string_free (g_steal_pointer (&flags), FALSE);
  for (guint i = 0; message->keywords[i]; i++)
    g_string_append_printf (flags, " %s", message->keywords[i]);
  return mw_sync_flags_normalize (flags->str);
}

void
mw_sync_flags_to_local (const char *flags,
                        MailFlags *out_flags,
                        GStrv *out_keywords)
{
  g_auto (GStrv) words = g_strsplit (flags ? flags : "", " ", -1);
  g_autoptr (GStrvBuilder) keywords = g_strv_builder_new ();
  MailFlags system = 0;

  for (guint i = 0; words[i] != NULL; i++)
    {
      gboolean known = FALSE;

      for (guint n = 0; n < G_N_ELEMENTS (mw_sync_local_names); n++)
        if (g_ascii_strcasecmp (words[i], mw_sync_local_names[n].name) == 0)
          {
            system |= mw_sync_local_names[n].flag;
            known = TRUE;
          }
      if (!known && words[i][0] != '\0' && words[i][0] != '\\')
        g_strv_builder_add (keywords, words[i]);
    }
  *out_flags = system;
  *out_keywords = g_strv_builder_end (keywords);
}

static gboolean
mw_sync_has (char **set, const char *flag)
{
  for (guint i = 0; set[i] != NULL; i++)
    if (g_ascii_strcasecmp (set[i], flag) == 0)
      return TRUE;
  return FALSE;
}

/* Whether @flag ends up set, given whether each side has it. */
static gboolean
mw_sync_merge_one (const char *flag,
                   gboolean in_base,
                   gboolean in_remote,
                   gboolean in_local,
                   gboolean first_contact)
{
  if (first_contact)
    return g_ascii_strcasecmp (flag, "\\Deleted") == 0 ? in_remote && in_local
                                                       : in_remote || in_local;
  /* the side that changed it wins; both changed: both agree */
  return in_remote != in_base ? in_remote : in_local;
}

char *
mw_sync_flags_merge (const char *base,
                     const char *remote,
                     const char *local,
                     gboolean first_contact)
{
  g_auto (GStrv) b = g_strsplit (base ? base : "", " ", -1);
  g_auto (GStrv) r = g_strsplit (remote ? remote : "", " ", -1);
  g_auto (GStrv) l = g_strsplit (local ? local : "", " ", -1);
  g_autofree char *all = g_strjoin (" ", base ? base : "", remote ? remote : "",
                                    local ? local : "", NULL);
  g_autofree char *candidates = mw_sync_flags_normalize (all);
  g_auto (GStrv) each = g_strsplit (candidates, " ", -1);
  g_autoptr (GString) merged = g_string_new (NULL);

  for (guint i = 0; each[i] != NULL; i++)
    if (each[i][0] != '\0' &&
        mw_sync_merge_one (each[i], mw_sync_has (b, each[i]),
                           mw_sync_has (r, each[i]), mw_sync_has (l, each[i]),
                           first_contact))
      g_string_append_printf (merged, "%s%s", merged->len ? " " : "", each[i]);
  return g_string_free (g_steal_pointer (&merged), FALSE);
}

char *
mw_sync_flags_minus (const char *to, const char *from)
{
  g_auto (GStrv) t = g_strsplit (to ? to : "", " ", -1);
  g_auto (GStrv) f = g_strsplit (from ? from : "", " ", -1);
  g_autoptr (GString) rest = g_string_new (NULL);

  for (guint i = 0; t[i] != NULL; i++)
    if (t[i][0] != '\0' && !mw_sync_has (f, t[i]))
      g_string_append_printf (rest, "%s%s", rest->len ? " " : "", t[i]);
  return g_string_free (g_steal_pointer (&rest), FALSE);
}

/* ---- Message-ID (RFC 5322 §3.6.4, §2.2.3 folding) ------------------- */

char *
mw_sync_message_id (const char *data, gsize length)
{
  const char *end = data + length;
  const char *line = data;

  while (line < end && *line != '\r' && *line != '\n')
    {
      const char *eol = memchr (line, '\n', end - line);
      const char *next = eol ? eol + 1 : end;
      g_autoptr (GString) value = NULL;

      if (g_ascii_strncasecmp (line, "Message-ID:", 11) != 0)
        {
          line = next;
          continue;
        }
      value = g_string_new_len (line + 11, (eol ? eol : end) - line - 11);
      /* unfold: continuation lines begin with white space */
      while (next < end && (*next == ' ' || *next == '\t'))
        {
          eol = memchr (next, '\n', end - next);
          g_string_append_len (value, next, (eol ? eol : end) - next);
          next = eol ? eol + 1 : end;
        }
      g_strstrip (g_strdelimit (value->str, "\r\n\t", ' '));
      return value->str[0] ? g_strdup (value->str) : NULL;
    }
  return NULL;
}
