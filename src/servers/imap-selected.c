/* SPDX-License-Identifier: MIT
 * imap-selected.c: the selected state of an IMAP server session (RFC
 * 9051 §6.4: CLOSE, UNSELECT, EXPUNGE, STORE, COPY, MOVE, the UID forms;
 * §2.3.2 flags; §9 sequence sets; RFC 3501 §6.4.1 CHECK; RFC 4315
 * UIDPLUS; RFC 6851 MOVE; RFC 7162 §3.1 CONDSTORE).
 *
 * The client's view of the mailbox is the MailFolder's message list:
 * sequence number n is index n - 1. It changes only in
 * imap_session_report_news () (imap-idle.c, with IDLE, which pushes the
 * same news), so numbers never shift under the client's feet. SEARCH is
 * in imap-search-cmd.c, FETCH in imap-fetch.c.
 */
#include <string.h>

#include "imap-session-private.h"

/* ---- flags (RFC 9051 §2.3.2) ------------------------------------------ */

static const struct
{
  const char *name;
  MailFlags flag;
} imap_system_flags[] = {
  { "\\Seen", MAIL_FLAG_SEEN },       { "\\Answered", MAIL_FLAG_ANSWERED },
  { "\\Flagged", MAIL_FLAG_FLAGGED }, { "\\Deleted", MAIL_FLAG_DELETED },
  { "\\Draft", MAIL_FLAG_DRAFT },
};

char *
imap_session_flags_string (ImapSession *session, const MailMessage *message)
{
  g_autoptr (GString) out = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (imap_system_flags); i++)
    if (message->flags & imap_system_flags[i].flag)
      g_string_append_printf (out, "%s%s", out->len ? " " : "",
                              imap_system_flags[i].name);
  for (guint i = 0; message->keywords && message->keywords[i]; i++)
    g_string_append_printf (out, "%s%s", out->len ? " " : "",
                            message->keywords[i]);
  /* RFC 3501 §2.3.2: IMAP4rev1 still has \Recent; rev2 dropped it */
  if (message->recent && !session->flags.rev2)
    g_string_append_printf (out, "%s\\Recent", out->len ? " " : "");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
imap_session_flag_list (ImapSession *session, gboolean permanent)
{
  g_autoptr (GString) out =
      g_string_new ("\\Answered \\Flagged \\Deleted \\Seen \\Draft");
  g_autofree const char **words =
      (const char **) g_hash_table_get_keys_as_array (session->keywords, NULL);

  for (guint i = 0; words[i] != NULL; i++)
    g_string_append_printf (out, " %s", words[i]);
  /* \* : the client may make new keywords (up to the 26 Maildir letters) */
  if (permanent)
    g_string_append (out, " \\*");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

void
imap_session_announce_keywords (ImapSession *session,
                                const MailMessage *message)
{
  gboolean fresh = FALSE;
  g_autofree char *flags = NULL;
  g_autofree char *permanent = NULL;

  for (guint i = 0; message->keywords && message->keywords[i]; i++)
    if (!g_hash_table_contains (session->keywords, message->keywords[i]))
      fresh |=
          g_hash_table_add (session->keywords, g_strdup (message->keywords[i]));
  if (!fresh)
    return;
  flags = imap_session_flag_list (session, FALSE);
  permanent = imap_session_flag_list (session, TRUE);
  imap_reply_untagged (session, "FLAGS (%s)", flags);
  g_free (flags);
  flags = g_strdup_printf ("(%s)", session->flags.read_only ? "" : permanent);
  imap_reply_status (session, IMAP_STATUS_OK, IMAP_CODE_PERMANENTFLAGS, flags,
                     "flags that stay");
}

/* One flag: a system flag into *inout_flags, else a keyword. */
static gboolean
imap_parse_flag (const ImapArg *arg,
                 MailFlags *inout_flags,
                 GStrvBuilder *keywords,
                 GError **error)
{
  /* the atom NIL is a keyword like any other (§9 flag-keyword) */
  if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL)
    {
      g_set_error_literal (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX,
                           "flags are atoms");
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (imap_system_flags); i++)
    {
      if (g_ascii_strcasecmp (arg->data, imap_system_flags[i].name) == 0)
        {
          *inout_flags |= imap_system_flags[i].flag;
          return TRUE;
        }
    }
  /* §2.3.2: \Recent is the server's; other "\" flags are not defined */
  if (arg->data[0] == '\\')
    {
      g_set_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX,
                   "%s cannot be set", arg->data);
      return FALSE;
    }
  g_strv_builder_add (keywords, arg->data);
  return TRUE;
}

gboolean
imap_parse_flag_list (const ImapArg *arg,
                      MailFlags *out_flags,
                      GStrv *out_keywords,
                      GError **error)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) keywords = NULL;
  gboolean many = arg->type == IMAP_ARG_LIST;
  guint count = many ? arg->list->len : 1;

  *out_flags = 0;
  for (guint i = 0; i < count; i++)
    if (!imap_parse_flag (many ? arg->list->pdata[i] : arg, out_flags, builder,
                          error))
      return FALSE;
  keywords = g_strv_builder_end (builder);
  *out_keywords = NULL;
  if (keywords[0] != NULL)
    *out_keywords = g_steal_pointer (&keywords);
  return TRUE;
}

/* ---- message sets (RFC 9051 §9 sequence-set, §6.4.9 UIDs) ------------- */

GArray *
imap_session_resolve_set (ImapSession *session,
                          const ImapArg *arg,
                          gboolean uid)
{
  MailFolder *folder = session->folder;
  guint count = mail_folder_get_count (folder);
  g_autoptr (GError) error = NULL;
  g_autoptr (ImapSeqSet) set = NULL;
  g_autoptr (GArray) indexes = g_array_new (FALSE, FALSE, sizeof (guint));
  guint32 star = 0;

  set =
      arg->type == IMAP_ARG_ATOM ? imap_seqset_parse (arg->data, &error) : NULL;
  if (set == NULL || set->saved)
    {
      imap_reply_bad (session, "bad sequence set: %s",
                      error ? error->message : "$ is not supported");
      return NULL;
    }
  if (count > 0)
    star = uid ? mail_folder_peek_message (folder, count - 1)->uid : count;
  /* §6.4.5: sequence numbers past the last message are an error; UIDs
   * that do not exist are simply not there */
  for (guint i = 0; !uid && i < set->ranges->len; i++)
    {
      const ImapSeqRange *range = &g_array_index (set->ranges, ImapSeqRange, i);

      gboolean starred =
          range->first == IMAP_SEQ_STAR || range->last == IMAP_SEQ_STAR;

      /* "1:*" in an empty mailbox is an empty set: clients send it */
      if (starred && count == 0)
        continue;
      if ((range->first != IMAP_SEQ_STAR && range->first > count) ||
          (range->last != IMAP_SEQ_STAR && range->last > count))
        {
          imap_reply_bad (session, "no message %u: the mailbox has %u",
                          MAX (range->first, range->last), count);
          return NULL;
        }
    }
  for (guint i = 0; i < count; i++)
    {
      guint32 number = uid ? mail_folder_peek_message (folder, i)->uid : i + 1;

      if (imap_seqset_contains (set, number, star))
        g_array_append_val (indexes, i);
    }
  return g_steal_pointer (&indexes);
}

/* ---- CONDSTORE (RFC 7162 §3.1) -------------------------------------- */

void
imap_session_enable_condstore (ImapSession *session)
{
  g_autofree char *highest = NULL;

  if (session->flags.condstore)
    return;
  session->flags.condstore = TRUE;
  if (session->state != IMAP_STATE_SELECTED)
    return;
  highest = g_strdup_printf ("%" G_GUINT64_FORMAT,
                             mail_folder_get_highest_modseq (session->folder));
  imap_reply_status (session, IMAP_STATUS_OK, IMAP_CODE_HIGHESTMODSEQ, highest,
                     "CONDSTORE is on");
}

static gint
imap_compare_uids (gconstpointer a, gconstpointer b)
{
  guint32 x = *(const guint32 *) a;
  guint32 y = *(const guint32 *) b;

  return x < y ? -1 : x > y;
}

gboolean
imap_append_uid_ranges (GString *out, GArray *ranges, const ImapSeqSet *within)
{
  g_autoptr (GArray) uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autofree char *set = NULL;
  guint kept = 0;

  for (guint i = 0; i < ranges->len; i++)
    {
      const MailUidRange *range = &g_array_index (ranges, MailUidRange, i);

      for (guint64 uid = range->first; uid <= range->last; uid++)
        {
          guint32 number = (guint32) uid;

          if (within == NULL ||
              imap_seqset_contains (within, number, G_MAXUINT32))
            g_array_append_val (uids, number);
        }
    }
  g_array_sort (uids, imap_compare_uids);
  for (guint i = 0; i < uids->len; i++)
    if (kept == 0 || g_array_index (uids, guint32, kept - 1) !=
                         g_array_index (uids, guint32, i))
      g_array_index (uids, guint32, kept++) = g_array_index (uids, guint32, i);
  if (kept == 0)
    return FALSE;
  set = imap_seqset_format ((const guint32 *) uids->data, kept);
  g_string_append (out, set);
  return TRUE;
}

/* ---- leaving the mailbox (§6.4.1, §6.4.2) ------------------------------ */

void
imap_session_close_mailbox (ImapSession *session)
{
  g_clear_pointer (&session->folder, mail_folder_free);
  g_clear_pointer (&session->folder_name, g_free);
  g_clear_pointer (&session->keywords, g_hash_table_unref);
  g_clear_pointer (&session->cache, imap_cache_free);
  session->flags.read_only = FALSE;
  if (session->state == IMAP_STATE_SELECTED)
    imap_session_enter_state (session, IMAP_STATE_AUTHENTICATED);
}

/* Removes the \Deleted messages among @indexes (all when NULL); FALSE
 * and @error if one could not be removed. */
static gboolean
imap_session_remove_deleted (ImapSession *session,
                             GArray *indexes,
                             GError **error)
{
  guint count =
      indexes ? indexes->len : mail_folder_get_count (session->folder);

  for (guint i = 0; i < count; i++)
    {
      guint index = indexes ? g_array_index (indexes, guint, i) : i;
      const MailMessage *message =
          mail_folder_peek_message (session->folder, index);

      if ((message->flags & MAIL_FLAG_DELETED) &&
          !mail_folder_delete_message (session->folder, index, error))
        return FALSE;
    }
  return TRUE;
}

/* RFC 3501 §6.4.1: CHECK is a NOOP for a Maildir (every change is
 * already durable when it is answered). */
void
imap_cmd_check (ImapSession *session, GPtrArray *args)
{
  imap_reply_completed (session);
}

/* §6.4.1: CLOSE expunges silently (no EXPUNGE responses) */
void
imap_cmd_close (ImapSession *session, GPtrArray *args)
{
  g_autoptr (GError) error = NULL;

  if (!session->flags.read_only &&
      !imap_session_remove_deleted (session, NULL, &error))
    g_warning ("%s: CLOSE: %s", session->peer, error->message);
  imap_session_close_mailbox (session);
  imap_reply_completed (session);
}

/* §6.4.2 (RFC 3691) */
void
imap_cmd_unselect (ImapSession *session, GPtrArray *args)
{
  imap_session_close_mailbox (session);
  imap_reply_completed (session);
}

/* §6.4.3 EXPUNGE; RFC 4315 §2.1 UID EXPUNGE set */
void
imap_cmd_expunge (ImapSession *session, GPtrArray *args)
{
  g_autoptr (GArray) indexes = NULL;
  g_autoptr (GError) error = NULL;

  if (args->len != (session->uid ? 1 : 0))
    {
      imap_reply_bad (session, session->uid ? "UID EXPUNGE takes a UID set"
                                            : "EXPUNGE takes no arguments");
      return;
    }
  if (session->uid && (indexes = imap_session_resolve_set (
                           session, args->pdata[0], TRUE)) == NULL)
    return;
  if (session->flags.read_only)
    {
      imap_reply_no (session, IMAP_CODE_READ_ONLY, "the mailbox is read-only");
      return;
    }
  if (!imap_session_remove_deleted (session, indexes, &error))
    {
      imap_session_report_news (session, TRUE, TRUE);
      imap_reply_store_error (session, error);
      return;
    }
  imap_session_report_news (session, TRUE, TRUE);
  imap_reply_completed (session);
}

/* ---- STORE (§6.4.6) ----------------------------------------------------- */

typedef enum
{
  IMAP_STORE_REPLACE, /* FLAGS */
  IMAP_STORE_ADD,     /* +FLAGS */
  IMAP_STORE_REMOVE,  /* -FLAGS */
} ImapStoreMode;

/* The keywords of @message changed by @mode with @keywords. */
static GStrv
imap_store_keywords (const MailMessage *message,
                     ImapStoreMode mode,
                     GStrv keywords)
{
  g_autoptr (GStrvBuilder) out = g_strv_builder_new ();
  const char *const *have = (const char *const *) message->keywords;

  if (mode == IMAP_STORE_REPLACE)
    return g_strdupv (keywords);
  for (guint i = 0; have && have[i]; i++)
    if (mode == IMAP_STORE_ADD || !keywords ||
        !g_strv_contains ((const char *const *) keywords, have[i]))
      g_strv_builder_add (out, have[i]);
  for (guint i = 0; mode == IMAP_STORE_ADD && keywords && keywords[i]; i++)
    if (!have || !g_strv_contains (have, keywords[i]))
      g_strv_builder_add (out, keywords[i]);
  return g_strv_builder_end (out);
}

/* Changes one message; answers "* n FETCH (FLAGS ...)" unless silent. */
static gboolean
imap_store_one (ImapSession *session,
                guint index,
                ImapStoreMode mode,
                MailFlags flags,
                GStrv keywords,
                gboolean silent,
                GError **error)
{
  const MailMessage *message = NULL;
  MailFlags now = 0;
  g_auto (GStrv) words = NULL;

  /* another session may have changed them since: start from the disk */
  if (!mail_folder_refresh_flags (session->folder, index, error))
    return FALSE;
  message = mail_folder_peek_message (session->folder, index);
  now = mode == IMAP_STORE_REPLACE ? flags
        : mode == IMAP_STORE_ADD   ? message->flags | flags
                                   : message->flags & ~flags;
  words = imap_store_keywords (message, mode, keywords);
  if (words != NULL && words[0] == NULL)
    g_clear_pointer (&words, g_strfreev);
  if (!mail_folder_set_flags (session->folder, index, now,
                              (const char *const *) words, error))
    return FALSE;
  if (silent)
    return TRUE;
  message = mail_folder_peek_message (session->folder, index);
  imap_session_announce_keywords (session, message);
  /* RFC 7162 §3.2.4: a server offering QRESYNC names the UID in every
   * flag change it tells once CONDSTORE is in use */
  imap_reply_flags (session, index, message,
                    session->uid || session->flags.condstore);
  return TRUE;
}

static gboolean
imap_store_bad (ImapSession *session)
{
  imap_reply_bad (session, "STORE takes a set, optionally (UNCHANGEDSINCE "
                           "modseq), FLAGS, +FLAGS or -FLAGS (.SILENT) and "
                           "flags");
  return FALSE;
}

/* "FLAGS", "+FLAGS.SILENT" ...: FALSE if it is none of them. */
static gboolean
imap_store_mode (const ImapArg *arg,
                 ImapStoreMode *out_mode,
                 gboolean *out_silent)
{
  const char *word = arg->type == IMAP_ARG_ATOM ? arg->data : "";

  *out_mode = IMAP_STORE_REPLACE;
  if (word[0] == '+' || word[0] == '-')
    *out_mode = word[0] == '+' ? IMAP_STORE_ADD : IMAP_STORE_REMOVE;
  word += *out_mode == IMAP_STORE_REPLACE ? 0 : 1;
  *out_silent = g_ascii_strcasecmp (word, "FLAGS.SILENT") == 0;
  return *out_silent || g_ascii_strcasecmp (word, "FLAGS") == 0;
}

/* §6.4.6: STORE set (+|-)FLAGS[.SILENT] (flag-list) / flag... */
/* What one STORE asks. */
typedef struct
{
  ImapStoreMode mode;
  gboolean silent;
  MailFlags flags;
  GStrv keywords;
  guint64 unchangedsince; /* RFC 7162 §3.1.3; 0: none */
} ImapStoreRequest;

static void
imap_store_request_clear (ImapStoreRequest *request)
{
  g_clear_pointer (&request->keywords, g_strfreev);
}

/* set [(UNCHANGEDSINCE n)] (+|-)FLAGS[.SILENT] flags; FALSE after BAD. */
static gboolean
imap_store_parse (ImapSession *session,
                  GPtrArray *args,
                  ImapStoreRequest *request)
{
  ImapArgList flag_items;
  ImapArg flag_list = { .type = IMAP_ARG_LIST, .list = &flag_items };
  g_autoptr (GError) error = NULL;
  const ImapArg *modifiers = args->len > 1 ? args->pdata[1] : NULL;
  guint first = 1;

  if (modifiers != NULL && modifiers->type == IMAP_ARG_LIST)
    {
      if (modifiers->list->len != 2 ||
          !imap_arg_is_atom (modifiers->list->pdata[0], "UNCHANGEDSINCE") ||
          !g_ascii_string_to_unsigned (
              ((ImapArg *) modifiers->list->pdata[1])->data
                  ? ((ImapArg *) modifiers->list->pdata[1])->data
                  : "",
              10, 0, G_MAXUINT64, &request->unchangedsince, NULL))
        return imap_store_bad (session);
      first = 2;
    }
  if (args->len < first + 2 ||
      !imap_store_mode (args->pdata[first], &request->mode, &request->silent))
    return imap_store_bad (session);
  /* flags without parentheses: the rest of the arguments, as one list */
  flag_items.pdata = (ImapArg **) args->pdata + first + 1;
  flag_items.len = args->len - first - 1;
  if (!imap_parse_flag_list (args->len == first + 2 ? args->pdata[first + 1]
                                                    : &flag_list,
                             &request->flags, &request->keywords, &error))
    {
      imap_reply_bad (session, "%s", error->message);
      return FALSE;
    }
  return TRUE;
}

/* Runs the STORE on every message of @indexes in one batch; the ones
 * changed since UNCHANGEDSINCE go to @modified instead (RFC 7162
 * §3.1.3). FALSE and @error for a store failure. */
static gboolean
imap_store_all (ImapSession *session,
                GArray *indexes,
                const ImapStoreRequest *request,
                GArray *modified,
                GError **error)
{
  gboolean ok = mail_folder_begin_changes (session->folder, error);

  for (guint i = 0; ok && i < indexes->len; i++)
    {
      guint index = g_array_index (indexes, guint, i);
      const MailMessage *message =
          mail_folder_peek_message (session->folder, index);
      guint32 number = session->uid ? message->uid : index + 1;

      if (request->unchangedsince > 0 &&
          message->modseq > request->unchangedsince)
        {
          g_array_append_val (modified, number);
          continue;
        }
      ok = imap_store_one (session, index, request->mode, request->flags,
                           request->keywords, request->silent, error);
      /* RFC 2180 §4.2.1: a message another session expunged is skipped;
       * the EXPUNGE comes with the news */
      if (!ok && g_error_matches (*error, MAIL_STORE_ERROR,
                                  MAIL_STORE_ERROR_NOT_FOUND))
        {
          g_clear_error (error);
          ok = TRUE;
        }
    }
  if (!mail_folder_end_changes (session->folder, ok ? error : NULL))
    ok = FALSE;
  return ok;
}

/* §6.4.6: STORE set [(UNCHANGEDSINCE n)] (+|-)FLAGS[.SILENT] flags */
void
imap_cmd_store (ImapSession *session, GPtrArray *args)
{
  g_autoptr (GArray) indexes = NULL;
  g_autoptr (GArray) modified = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (GError) error = NULL;
  g_autofree char *set = NULL;
  ImapStoreRequest request = { 0 };

  if (!imap_store_parse (session, args, &request) ||
      (indexes = imap_session_resolve_set (session, args->pdata[0],
                                           session->uid)) == NULL)
    {
      imap_store_request_clear (&request);
      return;
    }
  if (request.unchangedsince > 0)
    imap_session_enable_condstore (session);
  if (session->flags.read_only)
    imap_reply_no (session, IMAP_CODE_READ_ONLY, "the mailbox is read-only");
  else if (!imap_store_all (session, indexes, &request, modified, &error))
    imap_reply_store_error (session, error);
  else if (modified->len > 0)
    {
      set =
          imap_seqset_format ((const guint32 *) modified->data, modified->len);
      imap_reply_tagged (session, IMAP_STATUS_OK, IMAP_CODE_MODIFIED, set,
                         "%sSTORE completed, except where changed since",
                         session->uid ? "UID " : "");
    }
  else
    imap_reply_completed (session);
  imap_store_request_clear (&request);
}

/* ---- COPY and MOVE (§6.4.7, §6.4.8; RFC 4315 COPYUID) ------------------ */

/* "validity source-uids target-uids" (RFC 4315 §3), or NULL when the
 * copies cannot all be found (removed already by someone else). */
static char *
imap_copy_uids (ImapSession *session,
                const char *target,
                GArray *indexes,
                GPtrArray *names)
{
  g_autoptr (MailFolder) folder =
      mail_folder_open (session->store, target, NULL);
  g_autoptr (GArray) from = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (GArray) to = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autofree char *from_set = NULL;
  g_autofree char *to_set = NULL;

  for (guint i = 0; folder != NULL && i < names->len; i++)
    {
      gint copy = mail_folder_find_name (folder, names->pdata[i]);
      guint index = g_array_index (indexes, guint, i);

      if (copy < 0)
        return NULL;
      g_array_append_val (
          from, mail_folder_peek_message (session->folder, index)->uid);
      g_array_append_val (to, mail_folder_peek_message (folder, copy)->uid);
    }
  if (folder == NULL || names->len == 0)
    return NULL;
  /* both lists ascend: source UIDs do, and copies got UIDs in order */
  from_set = imap_seqset_format ((const guint32 *) from->data, from->len);
  to_set = imap_seqset_format ((const guint32 *) to->data, to->len);
  return g_strdup_printf ("%u %s %s", mail_folder_get_uidvalidity (folder),
                          from_set, to_set);
}

/* Copies every message of @indexes into @target, durably. On failure
 * the copies made so far are removed (all or nothing, §6.4.7). */
static gboolean
imap_copy_all (ImapSession *session,
               const char *target,
               GArray *indexes,
               GPtrArray *names,
               GError **error)
{
  for (guint i = 0; i < indexes->len; i++)
    {
      char *name = NULL;

      if (mail_folder_copy_message (session->folder,
                                    g_array_index (indexes, guint, i), target,
                                    &name, error))
        {
          g_ptr_array_add (names, name);
          continue;
        }
      g_autoptr (MailFolder) undo =
          mail_folder_open (session->store, target, NULL);
      for (guint k = 0; undo != NULL && k < names->len; k++)
        {
          gint copy = mail_folder_find_name (undo, names->pdata[k]);

          if (copy >= 0)
            mail_folder_delete_message (undo, (guint) copy, NULL);
        }
      return FALSE;
    }
  return TRUE;
}

/* RFC 6851 §3.3: moves every message of @indexes with one rename each,
 * so a crash leaves each in exactly one folder. @names gets the moved
 * ones, in order; FALSE and @error at the first that cannot move. */
static gboolean
imap_move_all (ImapSession *session,
               const char *target,
               GArray *indexes,
               GPtrArray *names,
               GError **error)
{
  for (guint i = 0; i < indexes->len; i++)
    {
      char *name = NULL;

      if (!mail_folder_move_message (session->folder,
                                     g_array_index (indexes, guint, i), target,
                                     &name, error))
        return FALSE;
      g_ptr_array_add (names, name);
    }
  return TRUE;
}

/* Answers a COPY or MOVE that failed: TRYCREATE for a missing target. */
static void
imap_copy_failed (ImapSession *session, const char *target, const GError *error)
{
  if (g_error_matches (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_NOT_FOUND))
    imap_reply_no (session, IMAP_CODE_TRYCREATE, "no mailbox %s", target);
  else
    imap_reply_store_error (session, error);
}

/* §6.4.7 COPY set mailbox, §6.4.8 MOVE set mailbox (and UID forms). COPY
 * is all or nothing; MOVE renames each message into the target, so no
 * crash loses or doubles one. */
void
imap_cmd_copy (ImapSession *session, GPtrArray *args)
{
  gboolean move = strcmp (session->verb, "MOVE") == 0;
  g_autoptr (GArray) indexes = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_autofree char *target = NULL;
  g_autofree char *copyuid = NULL;

  if (args->len != 2)
    {
      imap_reply_bad (session, "%s takes a set and a mailbox", session->verb);
      return;
    }
  indexes = imap_session_resolve_set (session, args->pdata[0], session->uid);
  target =
      indexes ? imap_session_mailbox_from_wire (session, args->pdata[1]) : NULL;
  if (target == NULL)
    return;
  if (move && session->flags.read_only)
    {
      imap_reply_no (session, IMAP_CODE_READ_ONLY, "the mailbox is read-only");
      return;
    }
  if (!move)
    {
      if (!imap_copy_all (session, target, indexes, names, &error))
        imap_copy_failed (session, target, error);
      else
        {
          copyuid = imap_copy_uids (session, target, indexes, names);
          imap_reply_tagged (session, IMAP_STATUS_OK,
                             copyuid ? IMAP_CODE_COPYUID : IMAP_CODE_NONE,
                             copyuid, "%sCOPY completed",
                             session->uid ? "UID " : "");
        }
      return;
    }
  imap_move_all (session, target, indexes, names, &error);
  /* RFC 6851 §4.3: COPYUID comes untagged, before the EXPUNGEs */
  copyuid = imap_copy_uids (session, target, indexes, names);
  if (copyuid != NULL)
    imap_reply_status (session, IMAP_STATUS_OK, IMAP_CODE_COPYUID, copyuid,
                       "moved");
  imap_session_report_news (session, TRUE, TRUE);
  if (error != NULL)
    imap_copy_failed (session, target, error);
  else
    imap_reply_completed (session);
}
