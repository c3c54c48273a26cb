/* SPDX-License-Identifier: MIT
 * mail-store-spool-sync.c: grouped fsync for deliveries that finish at
 * about the same time (RFC 5321 §6.1 "durable before yes", for many
 * sessions at once).
 *
 * Every delivery needs two waits on the disk: its file's fsync, before the
 * rename makes it visible, and then the fsync of new/, which makes the
 * rename itself durable. On a journalling filesystem each fsync that finds
 * its change uncommitted costs a journal commit and a cache flush, a few
 * milliseconds, and that is the whole price of a small message. Sessions
 * therefore do not call fsync themselves: they hand their request to one
 * syncer thread and sleep. While the syncer works on one batch, the
 * requests of other sessions queue up, and it takes them all as the next
 * batch: it starts the writing of every file of the batch before it waits
 * for any, so one commit carries all their data, then fsyncs each file
 * (the commit is done already for all but the first: cheap) and each
 * distinct directory once, however many renames into it the batch holds.
 * A session is woken only when its own requests are done, so no 250 is
 * ever sent before its message is durable; a failed fsync is that
 * request's error alone.
 */
#define _GNU_SOURCE /* sync_file_range () */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "mail-store-private.h"

static GMutex sync_lock;
static GCond sync_done;                  /* the syncer finished a batch */
static GCond sync_pending;               /* a session queued a request */
static GQueue sync_queue = G_QUEUE_INIT; /* MailSyncRequest *, not taken */

/* A directory of a batch, fsynced once for every request naming it. */
static int
sync_directory (GHashTable *done, const char *path)
{
  gpointer cached;
  int fd;
  int result = 0;

  if (g_hash_table_lookup_extended (done, path, NULL, &cached))
    return GPOINTER_TO_INT (cached);
  fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync (fd) != 0)
    result = errno;
  if (fd >= 0)
    close (fd);
  g_hash_table_insert (done, (gpointer) path, GINT_TO_POINTER (result));
  return result;
}

static void
sync_batch (GPtrArray *batch)
{
  g_autoptr (GHashTable) directories =
      g_hash_table_new (g_str_hash, g_str_equal);

#ifdef SYNC_FILE_RANGE_WRITE
  /* Start writing every file's data before waiting for any: the blocks are
   * then allocated in the same journal transaction, and the first fsync's
   * commit makes them all durable (Linux; elsewhere each fsync does it). */
  for (guint i = 0; i < batch->len; i++)
    {
      MailSyncRequest *request = g_ptr_array_index (batch, i);

      if (request->fd >= 0)
        sync_file_range (request->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    }
#endif
  for (guint i = 0; i < batch->len; i++)
    {
      MailSyncRequest *request = g_ptr_array_index (batch, i);

      if (request->fd >= 0)
        request->error = fsync (request->fd) == 0 ? 0 : errno;
      else
        request->error = sync_directory (directories, request->directory);
    }
}

static gpointer
sync_thread (gpointer unused)
{
  g_autoptr (GPtrArray) batch = g_ptr_array_new ();

  (void) unused;
  g_mutex_lock (&sync_lock);
  for (;;)
    {
      while (g_queue_is_empty (&sync_queue))
        g_cond_wait (&sync_pending, &sync_lock);
      /* everything queued so far is this batch; later requests wait */
      while (!g_queue_is_empty (&sync_queue))
        g_ptr_array_add (batch, g_queue_pop_head (&sync_queue));
      g_mutex_unlock (&sync_lock);
      sync_batch (batch);
      g_mutex_lock (&sync_lock);
      for (guint i = 0; i < batch->len; i++)
        ((MailSyncRequest *) g_ptr_array_index (batch, i))->done = TRUE;
      g_ptr_array_set_size (batch, 0);
      g_cond_broadcast (&sync_done);
    }
  return NULL;
}

static gpointer
sync_thread_start (gpointer unused)
{
  (void) unused;
  /* lives as long as the process; it holds no resources between batches */
  g_thread_unref (g_thread_new ("mail-sync", sync_thread, NULL));
  return NULL;
}

void
mail_sync_requests (MailSyncRequest *requests, guint n)
{
  static GOnce started = G_ONCE_INIT;

  g_once (&started, sync_thread_start, NULL);
  g_mutex_lock (&sync_lock);
  for (guint i = 0; i < n; i++)
    {
      requests[i].done = FALSE;
      g_queue_push_tail (&sync_queue, &requests[i]);
    }
  g_cond_signal (&sync_pending);
  for (guint i = 0; i < n; i++)
    while (!requests[i].done)
      g_cond_wait (&sync_done, &sync_lock);
  g_mutex_unlock (&sync_lock);
}
