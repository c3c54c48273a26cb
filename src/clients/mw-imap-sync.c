/* SPDX-License-Identifier: MIT
 * mw-imap-sync.c: `mw-imap sync --maildir DIR [FOLDER...]`, a two-way
 * sync of a local Maildir with the account, the way mbsync does it: new
 * messages, flag changes and deletions go both ways, folder by folder.
 *
 * The state of each folder (mw-imap-sync.h) pairs the server's UIDs with
 * the local ones and remembers the flags both had at the last sync, so
 * the next sync can tell who changed what:
 *   - a pair whose server message is gone was expunged there: delete it
 *     here; whose local message is gone was deleted here: expunge it
 *     there (UID EXPUNGE, RFC 4315 §2.1);
 *   - flags are merged three ways against the remembered ones
 *     (mw_sync_flags_merge ());
 *   - server messages in no pair are downloaded, local ones uploaded.
 * A pair is written only once both copies are durable (the local store
 * fsyncs, the server said OK to APPEND), so a message in a pair that is
 * missing on one side was really deleted there. A crash between a copy
 * and the state write leaves a copy on each side in no pair; before
 * anything is copied, such messages are paired by Message-ID, so the
 * resumed sync neither duplicates nor loses them. The same matching
 * handles a UIDVALIDITY change (RFC 9051 §2.3.1.1: every UID is new):
 * nothing is deleted that time, and flags are joined.
 *
 * With QRESYNC (RFC 7162 §3.2.5) SELECT itself reports what changed on
 * the server since the remembered HIGHESTMODSEQ (VANISHED (EARLIER) and
 * FETCH FLAGS), so a sync with no change costs one command per folder.
 * Without it, UID FETCH 1:* (FLAGS) lists the server's state whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "mw-imap-sync-run.h"

/* ---- the server's side ---------------------------------------------- */

static void
mw_sync_remote_put (MwSyncFolder *f, const ImapReply *reply)
{
  guint64 uid = 0;
  const ImapArg *flags = imap_reply_fetch_item (reply, "FLAGS");
  g_autofree char *joined = NULL;

  if (flags == NULL || !imap_reply_fetch_number (reply, "UID", &uid))
    return;
  joined = imap_arg_join_atoms (flags);
  g_hash_table_insert (f->remote_now, GUINT_TO_POINTER (uid),
                       mw_sync_flags_normalize (joined));
}

static void
mw_sync_remote_put_all (MwSyncFolder *f, GPtrArray *replies)
{
  for (guint i = 0; i < replies->len; i++)
    mw_sync_remote_put (f, g_ptr_array_index (replies, i));
}

/* QRESYNC: the server's state is the last one, minus VANISHED (EARLIER),
 * with the FETCHes of SELECT on top (RFC 7162 §3.2.5.1). */
static void
mw_sync_remote_from_state (MwSyncFolder *f, GPtrArray *select_replies)
{
  for (guint i = 0; i < f->state->pairs->len; i++)
    {
      const MwSyncPair *pair = &g_array_index (f->state->pairs, MwSyncPair, i);

      g_hash_table_insert (f->remote_now, GUINT_TO_POINTER (pair->remote_uid),
                           g_strdup (pair->flags));
    }
  for (guint i = 0; i < select_replies->len; i++)
    {
      const ImapReply *reply = g_ptr_array_index (select_replies, i);
      const ImapArg *set_arg = NULL;
      g_autoptr (ImapSeqSet) set = NULL;
      GHashTableIter iter;
      gpointer uid = NULL;

      if (!imap_reply_is (reply, "VANISHED") || reply->args->len != 2)
        continue;
      set_arg = g_ptr_array_index (reply->args, 1);
      set = imap_seqset_parse (set_arg->data, NULL);
      g_hash_table_iter_init (&iter, f->remote_now);
      while (set != NULL && g_hash_table_iter_next (&iter, &uid, NULL))
        if (imap_seqset_contains (set, GPOINTER_TO_UINT (uid), G_MAXUINT32))
          g_hash_table_iter_remove (&iter);
    }
  mw_sync_remote_put_all (f, select_replies);
}

/* Did SELECT (QRESYNC) say that nothing changed on the server since the
 * last sync asked? The same UIDVALIDITY, HIGHESTMODSEQ (every change
 * raises it, RFC 7162 §3.1.2.1) and UIDNEXT, and nothing VANISHED or
 * FETCHed (RFC 7162 §3.2.5.1). */
static gboolean
mw_sync_remote_unchanged (const MwSyncState *state,
                          const ImapMailbox *mailbox,
                          GPtrArray *replies)
{
  if (mailbox->uidvalidity != state->uidvalidity ||
      mailbox->highest_modseq != state->highest_modseq ||
      mailbox->uidnext != state->uidnext)
    return FALSE;
  for (guint i = 0; i < replies->len; i++)
    {
      const ImapReply *reply = g_ptr_array_index (replies, i);

      if (imap_reply_is (reply, "VANISHED") || imap_reply_is (reply, "FETCH"))
        return FALSE;
    }
  return TRUE;
}

/* SELECT, and the server's UIDs and flags. */
static gboolean
mw_sync_remote_load (MwSyncFolder *f, GError **error)
{
  ImapClient *client = f->sync->client;
  const MwSyncState *state = f->state;
  gboolean qresync = imap_client_is_enabled (client, "QRESYNC") &&
                     state->highest_modseq > 0 && state->pairs->len > 0;
  g_autofree char *parameters =
      qresync ? g_strdup_printf ("QRESYNC (%u %" G_GUINT64_FORMAT ")",
                                 state->uidvalidity, state->highest_modseq)
              : NULL;
  g_autoptr (GPtrArray) replies = NULL;
  g_autoptr (ImapReply) tagged = NULL;
  const ImapMailbox *mailbox = NULL;

  if (!imap_client_select (client, f->remote, FALSE, parameters, &replies,
                           error))
    return FALSE;
  mailbox = imap_client_get_mailbox (client);
  /* what the next sync asks from: the server as SELECT found it, before
   * this sync's own changes (they come back then, and change nothing) */
  f->next->uidvalidity = mailbox->uidvalidity;
  f->select_modseq = mailbox->highest_modseq;
  f->select_uidnext = mailbox->uidnext;
  f->qresync = qresync;
  if (qresync && f->unchanged_here &&
      mw_sync_remote_unchanged (state, mailbox, replies))
    {
      f->unchanged = TRUE;
      return TRUE;
    }
  if (state->pairs->len > 0 && mailbox->uidvalidity != state->uidvalidity)
    {
      g_printerr ("mw-imap: %s: UIDVALIDITY changed (%u, was %u): every "
                  "server UID is new; matching by Message-ID, deleting "
                  "nothing this time\n",
                  f->remote, mailbox->uidvalidity, state->uidvalidity);
      f->first_contact = TRUE;
      qresync = f->qresync = FALSE;
    }
  if (qresync)
    {
      mw_sync_remote_from_state (f, replies);
      /* new mail has a higher MODSEQ and came as FETCH already; ask for
       * what is past the old UIDNEXT too, in case */
      if (mailbox->uidnext <= state->uidnext)
        return TRUE;
      g_clear_pointer (&replies, g_ptr_array_unref);
      tagged = imap_client_run (client, &replies, error,
                                "UID FETCH %u:* (UID FLAGS)", state->uidnext);
    }
  else if (mailbox->exists > 0)
    {
      g_clear_pointer (&replies, g_ptr_array_unref);
      tagged = imap_client_run (client, &replies, error,
                                "UID FETCH 1:* (UID FLAGS)");
    }
  else
    return TRUE;
  if (tagged == NULL)
    return FALSE;
  mw_sync_remote_put_all (f, replies);
  return TRUE;
}

/* ---- the local side ------------------------------------------------- */

static gboolean
mw_sync_local_open (MwSyncFolder *f, GError **error)
{
  g_autoptr (GError) exists = NULL;

  if (strcmp (f->local, "INBOX") != 0 &&
      !mail_store_create_folder (f->sync->store, f->local, &exists) &&
      !g_error_matches (exists, MAIL_STORE_ERROR, MAIL_STORE_ERROR_EXISTS))
    {
      g_propagate_error (error, g_steal_pointer (&exists));
      return FALSE;
    }
  f->folder = mail_folder_open (f->sync->store, f->local, error);
  if (f->folder == NULL)
    return FALSE;
  f->next->local_uidvalidity = mail_folder_get_uidvalidity (f->folder);
  /* the folder as read now, which local_now is made of: whatever
   * changes after (this sync's own changes too) raises one of them, so
   * the next sync looks at every message again, and only then trusts */
  f->next->local_highest_modseq = mail_folder_get_highest_modseq (f->folder);
  f->next->local_uidnext = mail_folder_get_uidnext (f->folder);
  if (f->state->pairs->len > 0 &&
      f->state->local_uidvalidity != f->next->local_uidvalidity)
    {
      g_printerr ("mw-imap: %s: the local UIDs were renumbered: matching "
                  "by Message-ID, deleting nothing this time\n",
                  f->local);
      f->first_contact = TRUE;
    }
  for (guint i = 0; i < mail_folder_get_count (f->folder); i++)
    {
      const MailMessage *message = mail_folder_get_message (f->folder, i);

      g_hash_table_insert (f->local_now, GUINT_TO_POINTER (message->uid),
                           mw_sync_local_flags (message));
    }
  return TRUE;
}

gboolean
mw_sync_local_set_flags (MwSyncFolder *f,
                         guint32 local_uid,
                         const char *flags,
                         GError **error)
{
  gint index = mail_folder_find_uid (f->folder, local_uid);
  g_auto (GStrv) keywords = NULL;
  MailFlags system = 0;

  if (index < 0)
    return TRUE;
  /* one uidlist write for all of them (mw_sync_local_commit ()) */
  if (!f->changing && !mail_folder_begin_changes (f->folder, error))
    return FALSE;
  f->changing = TRUE;
  mw_sync_flags_to_local (flags, &system, &keywords);
  f->counts.flags_here++;
  return mail_folder_set_flags (f->folder, (guint) index, system,
                                (const char *const *) keywords, error);
}

/* Ends the batch of local flag changes, if one was begun. */
static gboolean
mw_sync_local_commit (MwSyncFolder *f, GError **error)
{
  if (!f->changing)
    return TRUE;
  f->changing = FALSE;
  return mail_folder_end_changes (f->folder, error);
}

static gboolean
mw_sync_local_delete (MwSyncFolder *f, guint32 local_uid, GError **error)
{
  gint index = mail_folder_find_uid (f->folder, local_uid);

  if (index < 0)
    return TRUE;
  f->counts.deleted_here++;
  return mail_folder_delete_message (f->folder, (guint) index, error);
}

/* Is the local folder as the last sync read it? Its uidlist says so
 * without a scan (the same UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ, and
 * new/ and cur/ untouched since): then no message of it need be read. */
static gboolean
mw_sync_local_unchanged (MwSyncFolder *f)
{
  guint32 uidvalidity = 0;
  guint32 uidnext = 0;
  guint64 highest_modseq = 0;

  return f->state->local_highest_modseq != 0 &&
         mail_store_peek_folder (f->sync->store, f->local, &uidvalidity,
                                 &uidnext, &highest_modseq) &&
         uidvalidity == f->state->local_uidvalidity &&
         uidnext == f->state->local_uidnext &&
         highest_modseq == f->state->local_highest_modseq;
}

/* ---- changes to send to the server ---------------------------------- */

/* UID STORE for each distinct change: "+\\Seen" on 3,7,9 is one command. */
typedef struct
{
  GHashTable *stores; /* "+FLAGS.SILENT (\\Seen)" -> GArray of UIDs */
  GArray *expunge;    /* UIDs deleted here */
} MwSyncOutbox;

static void
mw_sync_outbox_store (MwSyncOutbox *out,
                      char sign,
                      const char *flags,
                      guint32 uid)
{
  g_autofree char *key = NULL;
  GArray *uids = NULL;

  if (flags[0] == '\0')
    return;
  key = g_strdup_printf ("%cFLAGS.SILENT (%s)", sign, flags);
  uids = g_hash_table_lookup (out->stores, key);
  if (uids == NULL)
    {
      uids = g_array_new (FALSE, FALSE, sizeof (guint32));
      g_hash_table_insert (out->stores, g_steal_pointer (&key), uids);
    }
  g_array_append_val (uids, uid);
}

int
mw_sync_compare_uids (gconstpointer a, gconstpointer b)
{
  guint32 x = *(const guint32 *) a;
  guint32 y = *(const guint32 *) b;

  return x < y ? -1 : x > y;
}

char *
mw_sync_uid_set (GArray *uids)
{
  g_array_sort (uids, mw_sync_compare_uids);
  return imap_seqset_format ((const guint32 *) uids->data, uids->len);
}

static gboolean
mw_sync_outbox_send (MwSyncFolder *f, MwSyncOutbox *out, GError **error)
{
  ImapClient *client = f->sync->client;
  GHashTableIter iter;
  gpointer key = NULL;
  gpointer value = NULL;
  g_autofree char *set = NULL;
  g_autoptr (ImapReply) reply = NULL;

  g_hash_table_iter_init (&iter, out->stores);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_autofree char *uids = mw_sync_uid_set (value);
      g_autoptr (ImapReply) stored = imap_client_run (
          client, NULL, error, "UID STORE %s %s", uids, (char *) key);

      if (stored == NULL)
        return FALSE;
    }
  if (out->expunge->len == 0)
    return TRUE;
  set = mw_sync_uid_set (out->expunge);
  reply = imap_client_run (client, NULL, error,
                           "UID STORE %s +FLAGS.SILENT (\\Deleted)", set);
  if (reply == NULL)
    return FALSE;
  g_clear_pointer (&reply, imap_reply_free);
  /* without UIDPLUS an EXPUNGE would take other \Deleted messages too:
   * those stay marked, for the user's own mail program to expunge */
  if (!imap_client_has_capability (client, "UIDPLUS"))
    return TRUE;
  reply = imap_client_run (client, NULL, error, "UID EXPUNGE %s", set);
  return reply != NULL;
}

/* ---- the pairs: deletions and flags --------------------------------- */

/* One pair of the last sync, against both sides now. */
static gboolean
mw_sync_pair (MwSyncFolder *f,
              const MwSyncPair *pair,
              MwSyncOutbox *out,
              GError **error)
{
  gpointer remote_key = GUINT_TO_POINTER (pair->remote_uid);
  gpointer local_key = GUINT_TO_POINTER (pair->local_uid);
  const char *remote = g_hash_table_lookup (f->remote_now, remote_key);
  const char *local = g_hash_table_lookup (f->local_now, local_key);
  g_autofree char *merged = NULL;
  g_autofree char *added = NULL;
  g_autofree char *removed = NULL;

  if (remote == NULL && local != NULL &&
      !mw_sync_local_delete (f, pair->local_uid, error))
    return FALSE;
  if (remote != NULL && local == NULL)
    {
      g_array_append_val (out->expunge, pair->remote_uid);
      f->counts.deleted_there++;
    }
  if (remote == NULL || local == NULL)
    return TRUE; /* the pair is gone with them */
  /* the common case: nobody changed anything */
  if (strcmp (pair->flags, remote) == 0 && strcmp (pair->flags, local) == 0)
    {
      mw_sync_state_add (f->next, pair->remote_uid, pair->local_uid,
                         pair->flags);
      return TRUE;
    }
  merged = mw_sync_flags_merge (pair->flags, remote, local, FALSE);
  if (strcmp (merged, local) != 0 &&
      !mw_sync_local_set_flags (f, pair->local_uid, merged, error))
    return FALSE;
  added = mw_sync_flags_minus (merged, remote);
  removed = mw_sync_flags_minus (remote, merged);
  mw_sync_outbox_store (out, '+', added, pair->remote_uid);
  mw_sync_outbox_store (out, '-', removed, pair->remote_uid);
  f->counts.flags_there += added[0] != '\0' || removed[0] != '\0';
  mw_sync_state_add (f->next, pair->remote_uid, pair->local_uid, merged);
  return TRUE;
}

/* The pairs of the last sync; what is left in remote_now and local_now
 * afterwards is in no pair: new on that side. */
static gboolean
mw_sync_pairs (MwSyncFolder *f, GError **error)
{
  MwSyncOutbox out = {
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                           (GDestroyNotify) g_array_unref),
    g_array_new (FALSE, FALSE, sizeof (guint32)),
  };
  gboolean ok = TRUE;

  for (guint i = 0; ok && !f->first_contact && i < f->state->pairs->len; i++)
    {
      const MwSyncPair *pair = &g_array_index (f->state->pairs, MwSyncPair, i);

      ok = mw_sync_pair (f, pair, &out, error);
      g_hash_table_remove (f->remote_now, GUINT_TO_POINTER (pair->remote_uid));
      g_hash_table_remove (f->local_now, GUINT_TO_POINTER (pair->local_uid));
    }
  if (ok)
    ok = mw_sync_local_commit (f, error);
  else
    mw_sync_local_commit (f, NULL);
  ok = ok && mw_sync_outbox_send (f, &out, error);
  g_hash_table_unref (out.stores);
  g_array_unref (out.expunge);
  return ok;
}

/* ---- one folder ----------------------------------------------------- */

static void
mw_sync_folder_clear (MwSyncFolder *f)
{
  g_clear_pointer (&f->folder, mail_folder_free);
  g_clear_pointer (&f->state, mw_sync_state_free);
  g_clear_pointer (&f->next, mw_sync_state_free);
  g_clear_pointer (&f->remote_now, g_hash_table_unref);
  g_clear_pointer (&f->local_now, g_hash_table_unref);
  g_clear_pointer (&f->stored, g_hash_table_unref);
  g_free (f->state_path);
}

static char *
mw_sync_state_path (MwSync *sync, const char *local)
{
  g_autofree char *escaped = g_uri_escape_string (local, NULL, FALSE);
  g_autofree char *file = g_strconcat (escaped, ".state", NULL);

  return g_build_filename (sync->state_dir, file, NULL);
}

static void
mw_sync_say (MwSyncFolder *f, guint commands)
{
  const MwSyncCounts *c = &f->counts;

  printf ("%s: %u downloaded, %u uploaded, %u paired by Message-ID; flags "
          "changed %u here, %u there; deleted %u here, %u there "
          "(%u command%s%s)%s\n",
          f->local, c->downloaded, c->uploaded, c->matched, c->flags_here,
          c->flags_there, c->deleted_here, c->deleted_there, commands,
          commands == 1 ? "" : "s", f->qresync ? ", QRESYNC" : "",
          f->unchanged ? ", unchanged on both sides: no message looked at"
                       : "");
  fflush (stdout);
}

/* Does the new state differ from the old one? A sync that changed
 * nothing leaves the file alone (no rewrite, no fsync). */
static gboolean
mw_sync_changed (const MwSyncFolder *f)
{
  const MwSyncCounts *c = &f->counts;

  return c->downloaded || c->uploaded || c->matched || c->flags_here ||
         c->flags_there || c->deleted_here || c->deleted_there ||
         f->next->pairs->len != f->state->pairs->len ||
         f->next->uidvalidity != f->state->uidvalidity ||
         f->next->highest_modseq != f->state->highest_modseq ||
         f->next->uidnext != f->state->uidnext ||
         f->next->local_uidvalidity != f->state->local_uidvalidity ||
         f->next->local_highest_modseq != f->state->local_highest_modseq ||
         f->next->local_uidnext != f->state->local_uidnext;
}

static gboolean
mw_sync_folder_run (MwSyncFolder *f, GError **error)
{
  guint before = imap_client_get_command_count (f->sync->client);

  f->state = mw_sync_state_load (f->state_path, error);
  if (f->state == NULL)
    return FALSE;
  f->next = mw_sync_state_new ();
  f->first_contact = f->state->pairs->len == 0;
  f->remote_now = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  f->local_now = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  f->stored = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  f->unchanged_here = mw_sync_local_unchanged (f);
  if (!mw_sync_remote_load (f, error))
    return FALSE;
  /* the common case of a resync: one SELECT, and no message looked at */
  if (f->unchanged)
    {
      mw_sync_say (f, imap_client_get_command_count (f->sync->client) - before);
      return TRUE;
    }
  if (!mw_sync_local_open (f, error) || !mw_sync_pairs (f, error) ||
      !mw_sync_match (f, error) || !mw_sync_local_commit (f, error) ||
      !mw_sync_download (f, error) || !mw_sync_upload (f, error))
    return FALSE;
  /* done: the next sync asks the server from where this one began */
  f->next->highest_modseq = f->select_modseq;
  f->next->uidnext = f->select_uidnext;
  if (mw_sync_changed (f) &&
      !mw_sync_state_save (f->next, f->state_path, error))
    return FALSE;
  mw_sync_say (f, imap_client_get_command_count (f->sync->client) - before);
  return TRUE;
}

static gboolean
mw_sync_folder (MwSync *sync,
                const char *remote,
                const char *local,
                GError **error)
{
  MwSyncFolder f = { .sync = sync, .remote = remote, .local = local };
  gboolean ok = FALSE;

  f.state_path = mw_sync_state_path (sync, local);
  ok = mw_sync_folder_run (&f, error);
  if (!ok)
    g_prefix_error (error, "%s: ", remote);
  mw_sync_folder_clear (&f);
  return ok;
}

/* ---- the account ---------------------------------------------------- */

/* The server's selectable folders: server name -> local name (the
 * server's hierarchy delimiter turned into the store's "/"). */
static GHashTable *
mw_sync_remote_folders (MwSync *sync, char **only, GError **error)
{
  g_autoptr (GPtrArray) replies = NULL;
  g_autoptr (ImapReply) tagged =
      imap_client_run (sync->client, &replies, error, "LIST \"\" \"*\"");
  GHashTable *folders = NULL;

  if (tagged == NULL)
    return NULL;
  folders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; i < replies->len; i++)
    {
      const ImapReply *reply = g_ptr_array_index (replies, i);
      const ImapArg *attributes = NULL;
      const char *delimiter = NULL;
      char *name = NULL;
      char *local = NULL;

      if (!imap_reply_is (reply, "LIST") || reply->args->len < 3)
        continue;
      attributes = g_ptr_array_index (reply->args, 0);
      delimiter = imap_arg_string (g_ptr_array_index (reply->args, 1));
      name = imap_client_decode_mailbox (
          sync->client, imap_arg_astring (g_ptr_array_index (reply->args, 2)));
      for (guint a = 0; a < attributes->list->len; a++)
        if (imap_arg_is_atom (g_ptr_array_index (attributes->list, a),
                              "\\Noselect") ||
            imap_arg_is_atom (g_ptr_array_index (attributes->list, a),
                              "\\NonExistent"))
          g_clear_pointer (&name, g_free);
      if (name == NULL || (only[0] != NULL &&
                           !g_strv_contains ((const char *const *) only, name)))
        {
          g_free (name);
          continue;
        }
      local = g_strdup (name);
      if (delimiter != NULL && delimiter[0] != '\0')
        sync->delimiter = delimiter[0];
      if (delimiter != NULL && delimiter[0] != '\0' && delimiter[0] != '/')
        g_strdelimit (local, delimiter, '/');
      g_hash_table_insert (folders, name, local);
    }
  return folders;
}

/* Local folders the server lacks: new here (no state: never synced) are
 * created there; synced before, they were deleted there, and stay. */
static gboolean
mw_sync_create_remote (MwSync *sync, GHashTable *folders, GError **error)
{
  g_auto (GStrv) local = mail_store_list_folders (sync->store, error);
  g_autoptr (GHashTable) known = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer value = NULL;

  if (local == NULL)
    return FALSE;
  g_hash_table_iter_init (&iter, folders);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_hash_table_add (known, value);
  for (guint i = 0; local[i] != NULL; i++)
    {
      g_autofree char *state = mw_sync_state_path (sync, local[i]);
      g_autofree char *remote = g_strdup (local[i]);
      g_autoptr (GString) command = g_string_new ("CREATE ");
      g_autoptr (ImapReply) reply = NULL;

      if (g_hash_table_contains (known, local[i]))
        continue;
      if (g_file_test (state, G_FILE_TEST_EXISTS))
        {
          g_printerr ("mw-imap: %s is gone from the server; the local copy "
                      "stays\n",
                      local[i]);
          continue;
        }
      g_strdelimit (remote, "/", sync->delimiter ? sync->delimiter : '/');
      imap_client_append_mailbox (sync->client, command, remote);
      reply = imap_client_command_ok (sync->client, command->str, command->len,
                                      NULL, error);
      if (reply == NULL)
        return FALSE;
      g_hash_table_insert (folders, g_steal_pointer (&remote),
                           g_strdup (local[i]));
    }
  return TRUE;
}

/* One sync at a time per Maildir: the state files are ours alone. */
static int
mw_sync_lock (const char *state_dir, GError **error)
{
  g_autofree char *path = g_build_filename (state_dir, "lock", NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

  if (fd >= 0 && flock (fd, LOCK_EX | LOCK_NB) == 0)
    return fd;
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "%s: %s",
               path,
               errno == EWOULDBLOCK ? "another mw-imap sync is running"
                                    : g_strerror (errno));
  if (fd >= 0)
    close (fd);
  return -1;
}

static gboolean
mw_sync_account (MwSync *sync, char **only, GError **error)
{
  g_autoptr (GHashTable) folders = mw_sync_remote_folders (sync, only, error);
  g_autoptr (GList) names = NULL;

  if (folders == NULL ||
      (only[0] == NULL && !mw_sync_create_remote (sync, folders, error)))
    return FALSE;
  names =
      g_list_sort (g_hash_table_get_keys (folders), (GCompareFunc) g_strcmp0);
  for (GList *name = names; name != NULL; name = name->next)
    if (!mw_sync_folder (sync, name->data,
                         g_hash_table_lookup (folders, name->data), error))
      return FALSE;
  return TRUE;
}

gboolean
mw_imap_sync (const MwImapOptions *o, char **args, GError **error)
{
  g_autoptr (MailStore) store = NULL;
  g_autoptr (ImapClient) client = NULL;
  g_autofree char *state_dir = NULL;
  MwSync sync = { o, NULL, NULL, NULL, 0 };
  gboolean ok = FALSE;
  int lock = -1;

  if (o->maildir == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "sync needs --maildir DIR");
      return FALSE;
    }
  store = mail_store_open (o->maildir, error);
  state_dir = g_build_filename (o->maildir, "mw-imap-sync", NULL);
  if (store == NULL || g_mkdir_with_parents (state_dir, 0700) != 0)
    {
      if (store != NULL)
        g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                     "%s: %s", state_dir, g_strerror (errno));
      return FALSE;
    }
  lock = mw_sync_lock (state_dir, error);
  if (lock < 0)
    return FALSE;
  client = mw_imap_open (o, error);
  sync = (MwSync){ o, client, store, state_dir, 0 };
  ok = client != NULL && mw_sync_account (&sync, args, error) &&
       imap_client_logout (client, error);
  close (lock);
  return ok;
}
