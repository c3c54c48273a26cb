/* SPDX-License-Identifier: MIT
 * mw-imap-sync-copy.c: the messages of `mw-imap sync` that are in no
 * pair yet: copies on both sides paired by Message-ID (after a crash or
 * a UIDVALIDITY change), then downloads (UID FETCH BODY.PEEK[], RFC 9051
 * §6.4.5, stored durably by a few writer threads) and uploads (APPEND
 * with APPENDUID, RFC 4315 §3). See mw-imap-sync.c for the whole sync.
 */
#include <string.h>

#include "mw-imap-sync-run.h"

/* ---- messages in no pair -------------------------------------------- */

static GArray *
mw_sync_keys (GHashTable *table)
{
  GArray *uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  GHashTableIter iter;
  gpointer key = NULL;

  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      guint32 uid = GPOINTER_TO_UINT (key);

      g_array_append_val (uids, uid);
    }
  g_array_sort (uids, mw_sync_compare_uids);
  return uids;
}

/* A pair found by Message-ID: both keep the flags either had. */
static gboolean
mw_sync_pair_matched (MwSyncFolder *f,
                      guint32 remote_uid,
                      guint32 local_uid,
                      GError **error)
{
  gpointer remote_key = GUINT_TO_POINTER (remote_uid);
  gpointer local_key = GUINT_TO_POINTER (local_uid);
  const char *remote = g_hash_table_lookup (f->remote_now, remote_key);
  const char *local = g_hash_table_lookup (f->local_now, local_key);
  g_autofree char *merged = mw_sync_flags_merge (NULL, remote, local, TRUE);
  g_autofree char *added = mw_sync_flags_minus (merged, remote);
  g_autoptr (ImapReply) reply = NULL;

  if (strcmp (merged, local) != 0 &&
      !mw_sync_local_set_flags (f, local_uid, merged, error))
    return FALSE;
  if (added[0] != '\0')
    {
      reply = imap_client_run (f->sync->client, NULL, error,
                               "UID STORE %u +FLAGS.SILENT (%s)", remote_uid,
                               added);
      if (reply == NULL)
        return FALSE;
    }
  mw_sync_state_add (f->next, remote_uid, local_uid, merged);
  g_hash_table_remove (f->remote_now, remote_key);
  g_hash_table_remove (f->local_now, local_key);
  f->counts.matched++;
  return TRUE;
}

/* Message-ID -> server UID of the server's messages in no pair. */
static GHashTable *
mw_sync_remote_ids (MwSyncFolder *f, GError **error)
{
  g_autoptr (GArray) uids = mw_sync_keys (f->remote_now);
  g_autofree char *set = mw_sync_uid_set (uids);
  g_autoptr (GPtrArray) replies = NULL;
  g_autoptr (ImapReply) tagged = imap_client_run (
      f->sync->client, &replies, error,
      "UID FETCH %s (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])", set);
  GHashTable *ids = NULL;

  if (tagged == NULL)
    return NULL;
  ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < replies->len; i++)
    {
      const ImapReply *reply = g_ptr_array_index (replies, i);
      const ImapArg *header = imap_reply_fetch_item (reply, "BODY[");
      guint64 uid = 0;
      char *id = NULL;

      if (header == NULL || header->data == NULL ||
          !imap_reply_fetch_number (reply, "UID", &uid))
        continue;
      id = mw_sync_message_id (header->data, header->length);
      if (id != NULL && !g_hash_table_contains (ids, id))
        g_hash_table_insert (ids, id, GUINT_TO_POINTER (uid));
      else
        g_free (id);
    }
  return ids;
}

/* Copies on both sides in no pair (a crash before the state was written,
 * a UIDVALIDITY change) are the same message when their Message-IDs are:
 * pair them instead of copying them again. */
gboolean
mw_sync_match (MwSyncFolder *f, GError **error)
{
  g_autoptr (GHashTable) ids = NULL;
  g_autoptr (GArray) local = NULL;

  if (g_hash_table_size (f->remote_now) == 0 ||
      g_hash_table_size (f->local_now) == 0)
    return TRUE;
  ids = mw_sync_remote_ids (f, error);
  if (ids == NULL)
    return FALSE;
  local = mw_sync_keys (f->local_now);
  for (guint i = 0; i < local->len; i++)
    {
      guint32 local_uid = g_array_index (local, guint32, i);
      gint index = mail_folder_find_uid (f->folder, local_uid);
      g_autoptr (GBytes) data = NULL;
      g_autofree char *id = NULL;
      gpointer remote_uid = NULL;

      if (index < 0)
        continue;
      data = mail_folder_read_message (f->folder, (guint) index, NULL);
      if (data != NULL)
        id = mw_sync_message_id (g_bytes_get_data (data, NULL),
                                 g_bytes_get_size (data));
      /* each server copy pairs once: taken out of the table (its key
       * freed with it) */
      if (id == NULL ||
          !g_hash_table_lookup_extended (ids, id, NULL, &remote_uid))
        continue;
      g_hash_table_remove (ids, id);
      if (!mw_sync_pair_matched (f, GPOINTER_TO_UINT (remote_uid), local_uid,
                                 error))
        return FALSE;
    }
  return TRUE;
}

/* Writes the state so far: the pairs made, with the old HIGHESTMODSEQ
 * and UIDNEXT (what this sync has not finished must be asked again). */
static gboolean
mw_sync_checkpoint (MwSyncFolder *f, GError **error)
{
  /* after a UIDVALIDITY change the old numbers mean nothing */
  gboolean same = f->next->uidvalidity == f->state->uidvalidity;

  f->next->highest_modseq = same ? f->state->highest_modseq : 0;
  f->next->uidnext = same ? f->state->uidnext : 1;
  return mw_sync_state_save (f->next, f->state_path, error);
}

/* The downloaded files get their local UIDs (one rescan of the local
 * folder for all of them), become pairs, and the state is written. */
static gboolean
mw_sync_pair_stored (MwSyncFolder *f, GError **error)
{
  if (g_hash_table_size (f->stored) == 0)
    return TRUE;
  if (!mail_folder_sync (f->folder, NULL, NULL, error))
    return FALSE;
  for (guint i = 0; i < mail_folder_get_count (f->folder); i++)
    {
      const MailMessage *message = mail_folder_get_message (f->folder, i);
      gpointer uid = g_hash_table_lookup (f->stored, message->name);

      if (uid == NULL)
        continue;
      mw_sync_state_add (f->next, GPOINTER_TO_UINT (uid), message->uid,
                         g_hash_table_lookup (f->remote_now, uid));
      f->counts.downloaded++;
    }
  g_hash_table_remove_all (f->stored);
  return mw_sync_checkpoint (f, error);
}

/* ---- downloads: stored by a few threads at once --------------------- */

/* Each download is stored durably by mail_store_append () (the file and
 * its directory fsynced) before it may be paired: that is the rule that
 * makes a pair missing on one side a deletion. On a disk an fsync costs
 * milliseconds, almost all of it waiting for the journal to commit, and
 * one commit serves every fsync waiting at that moment. So a few writer
 * threads store messages side by side (each still durable on its own
 * before it counts), while the main thread goes on reading the next
 * batch from the server. Nothing is paired before every write handed out
 * has returned (mw_sync_writer_drain ()). */
#define MW_SYNC_WRITERS 4
/* messages handed out and not yet stored, at most (memory) */
#define MW_SYNC_IN_FLIGHT 256

typedef struct
{
  MwSyncFolder *f;
  GThreadPool *pool;
  GMutex lock; /* guards the rest, and f->stored */
  GCond changed;
  guint pending;
  GError *error; /* the first failure; no more writes once set */
} MwSyncWriter;

/* One message to store: its FETCH response holds the octets. */
typedef struct
{
  ImapReply *reply;
  const ImapArg *body;
  guint32 uid;
  MailFlags flags;
  GStrv keywords;
  gint64 time;
} MwSyncWrite;

static void
mw_sync_write_free (MwSyncWrite *write)
{
  imap_reply_free (write->reply);
  g_strfreev (write->keywords);
  g_free (write);
}

/* In a writer thread: the store calls are each on their own paths and
 * files (mail-store.h), so they may run side by side. */
static void
mw_sync_write_run (gpointer data, gpointer user_data)
{
  MwSyncWrite *write = data;
  MwSyncWriter *writer = user_data;
  MwSyncFolder *f = writer->f;
  GError *error = NULL;
  char *name = NULL;
  gboolean ok = mail_store_append (f->sync->store, f->local, write->body->data,
                                   write->body->length, write->flags,
                                   (const char *const *) write->keywords,
                                   write->time, &name, &error);

  g_mutex_lock (&writer->lock);
  if (ok)
    g_hash_table_insert (f->stored, name, GUINT_TO_POINTER (write->uid));
  else if (writer->error == NULL)
    writer->error = error;
  else
    g_error_free (error);
  writer->pending--;
  g_cond_broadcast (&writer->changed);
  g_mutex_unlock (&writer->lock);
  mw_sync_write_free (write);
}

static void
mw_sync_writer_init (MwSyncWriter *writer, MwSyncFolder *f)
{
  writer->f = f;
  g_mutex_init (&writer->lock);
  g_cond_init (&writer->changed);
  writer->pool = g_thread_pool_new (mw_sync_write_run, writer, MW_SYNC_WRITERS,
                                    FALSE, NULL);
}

/* Waits until at most @limit writes are pending (or, unless @all, one
 * failed); FALSE with the first failure, if one came. */
static gboolean
mw_sync_writer_wait (MwSyncWriter *writer,
                     guint limit,
                     gboolean all,
                     GError **error)
{
  gboolean ok = FALSE;

  g_mutex_lock (&writer->lock);
  while (writer->pending > limit && (all || writer->error == NULL))
    g_cond_wait (&writer->changed, &writer->lock);
  ok = writer->error == NULL;
  if (!ok)
    g_propagate_error (error, g_error_copy (writer->error));
  g_mutex_unlock (&writer->lock);
  return ok;
}

/* Every write handed out has returned: f->stored is the main thread's
 * again, and holds only durable messages. */
static gboolean
mw_sync_writer_drain (MwSyncWriter *writer, GError **error)
{
  return mw_sync_writer_wait (writer, 0, TRUE, error);
}

static void
mw_sync_writer_clear (MwSyncWriter *writer)
{
  /* waits for what is queued: no thread outlives the folder */
  g_thread_pool_free (writer->pool, FALSE, TRUE);
  g_clear_error (&writer->error);
  g_cond_clear (&writer->changed);
  g_mutex_clear (&writer->lock);
}

/* Hands one message of a UID FETCH to the writers (taking @reply), with
 * the server's flags and INTERNALDATE. */
static gboolean
mw_sync_writer_push (MwSyncWriter *writer, ImapReply *reply, GError **error)
{
  g_autofree MwSyncWrite *write = g_new0 (MwSyncWrite, 1);
  const ImapArg *date = imap_reply_fetch_item (reply, "INTERNALDATE");
  const char *flags = NULL;
  guint64 uid = 0;
  int zone = 0;

  write->reply = reply;
  write->body = imap_reply_fetch_item (reply, "BODY[");
  if (write->body == NULL || write->body->data == NULL ||
      !imap_reply_fetch_number (reply, "UID", &uid))
    {
      imap_reply_free (reply);
      return TRUE;
    }
  write->uid = (guint32) uid;
  flags = g_hash_table_lookup (writer->f->remote_now, GUINT_TO_POINTER (uid));
  mw_sync_flags_to_local (flags, &write->flags, &write->keywords);
  if (date == NULL || imap_arg_string (date) == NULL ||
      !imap_datetime_parse (imap_arg_string (date), &write->time, &zone, NULL))
    write->time = 0;
  if (!mw_sync_writer_wait (writer, MW_SYNC_IN_FLIGHT, FALSE, error))
    {
      mw_sync_write_free (g_steal_pointer (&write));
      return FALSE;
    }
  g_mutex_lock (&writer->lock);
  writer->pending++;
  g_mutex_unlock (&writer->lock);
  return g_thread_pool_push (writer->pool, g_steal_pointer (&write), error);
}

static gboolean
mw_sync_download_batch (MwSyncFolder *f,
                        MwSyncWriter *writer,
                        GArray *uids,
                        guint *inout_unpaired,
                        GError **error)
{
  g_autofree char *set = mw_sync_uid_set (uids);
  g_autoptr (GPtrArray) replies = NULL;
  g_autoptr (ImapReply) tagged = imap_client_run (
      f->sync->client, &replies, error,
      "UID FETCH %s (UID FLAGS INTERNALDATE BODY.PEEK[])", set);

  if (tagged == NULL)
    return FALSE;
  /* each reply goes to a writer, which frees it */
  g_ptr_array_set_free_func (replies, NULL);
  for (guint i = 0; i < replies->len; i++)
    if (!mw_sync_writer_push (writer, g_steal_pointer (&replies->pdata[i]),
                              error))
      {
        g_ptr_array_set_free_func (replies, (GDestroyNotify) imap_reply_free);
        return FALSE;
      }
  *inout_unpaired += uids->len;
  if (*inout_unpaired < MW_SYNC_RESCAN)
    return TRUE;
  *inout_unpaired = 0;
  return mw_sync_writer_drain (writer, error) && mw_sync_pair_stored (f, error);
}

gboolean
mw_sync_download (MwSyncFolder *f, GError **error)
{
  g_autoptr (GArray) uids = mw_sync_keys (f->remote_now);
  MwSyncWriter writer = { 0 };
  guint unpaired = 0;
  gboolean ok = TRUE;

  if (uids->len == 0)
    return TRUE;
  mw_sync_writer_init (&writer, f);
  for (guint start = 0; ok && start < uids->len; start += MW_SYNC_BATCH)
    {
      guint count = MIN (MW_SYNC_BATCH, uids->len - start);
      g_autoptr (GArray) batch = g_array_new (FALSE, FALSE, sizeof (guint32));

      g_array_append_vals (batch, &g_array_index (uids, guint32, start), count);
      ok = mw_sync_download_batch (f, &writer, batch, &unpaired, error);
    }
  /* what was stored before a failure is durable: it is paired too */
  if (!ok)
    {
      mw_sync_writer_drain (&writer, NULL);
      mw_sync_pair_stored (f, NULL);
    }
  ok = ok && mw_sync_writer_drain (&writer, error) &&
       mw_sync_pair_stored (f, error);
  mw_sync_writer_clear (&writer);
  return ok;
}

/* APPEND each local message in no pair; APPENDUID (RFC 4315 §3) names
 * its server UID. Without UIDPLUS the pair is made by Message-ID on the
 * next sync. */
gboolean
mw_sync_upload (MwSyncFolder *f, GError **error)
{
  g_autoptr (GArray) uids = mw_sync_keys (f->local_now);

  for (guint i = 0; i < uids->len; i++)
    {
      guint32 local_uid = g_array_index (uids, guint32, i);
      gint index = mail_folder_find_uid (f->folder, local_uid);
      const char *flags =
          g_hash_table_lookup (f->local_now, GUINT_TO_POINTER (local_uid));
      g_autoptr (GBytes) data = NULL;
      g_autoptr (GBytes) message = NULL;
      guint32 uidvalidity = 0;
      guint32 remote_uid = 0;

      if (index < 0)
        continue;
      data = mail_folder_read_message (f->folder, (guint) index, error);
      if (data == NULL)
        return FALSE;
      message =
          mw_imap_crlf (g_bytes_get_data (data, NULL), g_bytes_get_size (data));
      if (!imap_client_append (
              f->sync->client, f->remote, flags,
              mail_folder_get_message (f->folder, (guint) index)->mtime,
              message, &uidvalidity, &remote_uid, error))
        return FALSE;
      f->counts.uploaded++;
      if (remote_uid != 0 && uidvalidity == f->next->uidvalidity)
        mw_sync_state_add (f->next, remote_uid, local_uid, flags);
      if ((i + 1) % MW_SYNC_RESCAN == 0 && !mw_sync_checkpoint (f, error))
        return FALSE;
    }
  return TRUE;
}
