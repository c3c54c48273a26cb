/* SPDX-License-Identifier: MIT
 * smtp-queue.c: the mail queue of mw-smtpd and its delivery agent
 * (RFC 5321 §4.5.4 retries, §6.1 reliable delivery, §6.2 loop-free
 * bounces). The push to the next hop is smtp-relay.c; entries on disk
 * smtp-queue-envelope.c; which notices go back (RFC 3461) is
 * smtp-queue-notify.c and their text (RFC 3464) smtp-bounce.c.
 *
 * One agent thread finds the due entries and hands each to a pool of
 * worker threads, [relay] max_connections at once and at most
 * max_per_destination to one next-hop domain, so a slow domain holds
 * only its own mail; entries to one destination start in order of
 * arrival. A worker holds the entry's lock file (ID.lock) while it works
 * on it, so mw-admin can delete an entry without racing a delivery.
 * Delivered exactly once? Almost: an entry's
 * recipient is marked delivered only after the next hop's 250 to the
 * text, so a crash between that 250 and the envelope update sends the
 * message again after restart. RFC 5321 §6.1 prefers a duplicate to a
 * loss, and so do we.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "mail-store.h"
#include "smtp-client.h"
#include "smtp-queue-private.h"
#include "smtp-relay.h"

#define SMTP_QUEUE_LOCK_FILE "lock" /* before ID.lock; still left alone */
/* How often the agent looks for the flush file. */
#define SMTP_QUEUE_POLL_US G_USEC_PER_SEC

struct _SmtpQueue
{
  const MailConfig *config;
  SmtpQueueUsersFunc users_func; /* the current users, for bounces */
  gpointer users_data;
  char *dir;
  GMutex mutex; /* guards wake, flush, stop */
  GCond cond;
  gboolean wake;
  gboolean flush;
  gboolean stop;
  GThread *thread;
  GCancellable *cancellable; /* cancelled by smtp_queue_free () */
  /* The workers; the mutex also guards what they hold: */
  GThreadPool *workers;
  GHashTable *busy;            /* ids being worked on */
  GHashTable *per_destination; /* domain -> deliveries to it now */
  guint active;                /* deliveries now */
  GHashTable *flush_pending;   /* ids a flush found busy or over a limit */
};

/* ---- the lock shared with mw-admin ------------------------------------ */

/* ID.lock, taken by a worker for the time it works on entry @id and by
 * mw-admin to delete it; removed with the entry. */
static int
smtp_queue_lock (const char *dir, const char *id, GError **error)
{
  g_autofree char *path = smtp_queue_path (dir, id, ".lock");
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

  if (fd < 0 || flock (fd, LOCK_EX) != 0)
    {
      int saved = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "lock %s: %s", path, g_strerror (saved));
      return -1;
    }
  return fd;
}

/* @gone: the entry no longer exists, so its lock file goes too (after
 * its envelope: whoever opens the file next finds no entry). */
static void
smtp_queue_unlock (const char *dir, const char *id, int fd, gboolean gone)
{
  g_autofree char *path = smtp_queue_path (dir, id, ".lock");

  if (gone)
    g_unlink (path);
  if (fd >= 0)
    close (fd); /* releases the flock */
}

gboolean
smtp_queue_delete (const char *dir, const char *id, GError **error)
{
  g_autofree char *env_path = smtp_queue_path (dir, id, ".env");
  int fd;
  gboolean ok;

  if (strchr (id, '/') != NULL || !g_file_test (env_path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no queue entry %s",
                   id);
      return FALSE;
    }
  fd = smtp_queue_lock (dir, id, error);
  if (fd < 0)
    return FALSE;
  ok = smtp_queue_remove_files (dir, id, error);
  smtp_queue_unlock (dir, id, fd, ok);
  return ok;
}

gboolean
smtp_queue_request_flush (const char *dir, GError **error)
{
  g_autofree char *path = g_build_filename (dir, SMTP_QUEUE_FLUSH_FILE, NULL);

  return g_file_set_contents (path, "", 0, error);
}

/* ---- enqueue ---------------------------------------------------------- */

SmtpQueue *
smtp_queue_new (const MailConfig *config,
                SmtpQueueUsersFunc users_func,
                gpointer users_data,
                GError **error)
{
  SmtpQueue *queue;

  if (g_mkdir_with_parents (config->queue_dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "queue directory %s: %s", config->queue_dir,
                   g_strerror (saved));
      return NULL;
    }
  queue = g_new0 (SmtpQueue, 1);
  queue->config = config;
  queue->users_func = users_func;
  queue->users_data = users_data;
  queue->dir = g_strdup (config->queue_dir);
  queue->cancellable = g_cancellable_new ();
  g_mutex_init (&queue->mutex);
  g_cond_init (&queue->cond);
  queue->busy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  queue->per_destination =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  queue->flush_pending =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return queue;
}

const MailConfig *
smtp_queue_get_config (SmtpQueue *queue)
{
  return queue->config;
}

static void
smtp_queue_wake (SmtpQueue *queue, gboolean flush)
{
  g_mutex_lock (&queue->mutex);
  queue->wake = TRUE;
  queue->flush |= flush;
  g_cond_signal (&queue->cond);
  g_mutex_unlock (&queue->mutex);
}

void
smtp_queue_flush (SmtpQueue *queue)
{
  smtp_queue_wake (queue, TRUE);
}

/* Unique without coordination: time, a counter and randomness. */
static char *
smtp_queue_new_id (void)
{
  static gint counter;

  return g_strdup_printf ("%" G_GINT64_MODIFIER "X%04X%08X", g_get_real_time (),
                          (guint) g_atomic_int_add (&counter, 1) & 0xffff,
                          g_random_int ());
}

gboolean
smtp_queue_enqueue (SmtpQueue *queue,
                    const char *reverse_path,
                    const char *const *recipients,
                    const void *data,
                    gsize length,
                    gboolean smtputf8,
                    const SmtpDsnEnvelope *dsn,
                    char **out_id,
                    GError **error)
{
  g_autoptr (SmtpQueueEntry) e = g_new0 (SmtpQueueEntry, 1);
  g_autofree char *msg_path = NULL;

  g_return_val_if_fail (recipients != NULL && recipients[0] != NULL, FALSE);
  e->id = smtp_queue_new_id ();
  e->sender = g_strdup (reverse_path);
  e->arrival = g_get_real_time () / G_USEC_PER_SEC;
  e->next_attempt = e->arrival;
  e->smtputf8 = smtputf8;
  e->ret = dsn != NULL ? dsn->ret : SMTP_DSN_RET_DEFAULT;
  e->envid = dsn != NULL ? g_strdup (dsn->envid) : NULL;
  e->recipients = g_ptr_array_new_with_free_func (
      (GDestroyNotify) smtp_queue_recipient_free);
  for (guint i = 0; recipients[i] != NULL; i++)
    {
      SmtpQueueRecipient *r = g_new0 (SmtpQueueRecipient, 1);
      const SmtpDsnRecipient *asked = smtp_dsn_envelope_recipient (dsn, i);

      r->address = g_strdup (recipients[i]);
      if (asked != NULL)
        {
          r->dsn.notify = asked->notify;
          r->dsn.orcpt_type = g_strdup (asked->orcpt_type);
          r->dsn.orcpt = g_strdup (asked->orcpt);
        }
      g_ptr_array_add (e->recipients, r);
    }
  /* The text first, then the envelope that commits the entry. */
  msg_path = smtp_queue_path (queue->dir, e->id, ".msg");
  if (!smtp_queue_write_durably (queue->dir, msg_path, data, length, error) ||
      !smtp_queue_save_envelope (queue->dir, e, error))
    {
      smtp_queue_remove_files (queue->dir, e->id, NULL);
      return FALSE;
    }
  g_debug ("queued %s from <%s>", e->id, reverse_path);
  if (out_id != NULL)
    *out_id = g_strdup (e->id);
  smtp_queue_wake (queue, FALSE);
  return TRUE;
}

/* ---- delivery --------------------------------------------------------- */

static const char *
smtp_queue_domain_of (const char *address)
{
  const char *at = strrchr (address, '@');

  return at != NULL ? at + 1 : "";
}

/* RFC 5321 §4.4: the final delivery adds Return-Path with the sender. */
static void
smtp_queue_deliver_local (SmtpQueue *queue,
                          const SmtpQueueEntry *e,
                          SmtpQueueRecipient *r,
                          const char *data,
                          gsize length)
{
  MailUsers *users =
      queue->users_func ? queue->users_func (queue->users_data) : NULL;
  const MailUser *user =
      users ? mail_users_lookup_address (users, queue->config, r->address)
            : NULL;
  g_autoptr (GString) text = NULL;
  g_autofree char *maildir = NULL;
  g_autoptr (GError) error = NULL;

  g_free (r->reason);
  if (user == NULL)
    {
      r->reason = g_strdup ("550 5.1.1 no such local user");
      r->state = SMTP_QUEUE_BOUNCED;
      return;
    }
  text = g_string_new (NULL);
  g_string_printf (text, "Return-Path: <%s>\r\n", e->sender);
  g_string_append_len (text, data, length);
  maildir = mail_config_user_maildir (queue->config, user->name, user->maildir);
  if (mail_maildir_deliver (maildir, NULL, text->str, text->len, NULL, &error))
    {
      r->reason = g_strdup ("delivered to the local mailbox");
      r->state = SMTP_QUEUE_DELIVERED;
      r->hop = SMTP_QUEUE_HOP_LOCAL;
      return;
    }
  r->reason =
      g_strdup_printf ("451 4.3.0 local delivery failed: %s", error->message);
}

/* RFC 5321 §4.5.4.1: retry_min, doubled per attempt, at most retry_max. */
static gint64
smtp_queue_backoff (SmtpQueue *queue, guint attempts)
{
  guint64 delay = queue->config->retry_min;

  for (guint i = 1; i < attempts && delay < queue->config->retry_max; i++)
    delay *= 2;
  return MIN (delay, queue->config->retry_max);
}

static void
smtp_queue_group_add (GHashTable *groups,
                      const char *domain,
                      SmtpQueueRecipient *r)
{
  GPtrArray *members = g_hash_table_lookup (groups, domain);

  if (members == NULL)
    {
      members = g_ptr_array_new ();
      g_hash_table_insert (groups, g_strdup (domain), members);
    }
  g_ptr_array_add (members, r);
}

/* Local recipients (bounces coming home) go to their Maildir; the others
 * are grouped by domain, one SMTP transaction per domain. */
static void
smtp_queue_attempt (SmtpQueue *queue,
                    SmtpQueueEntry *e,
                    const char *data,
                    gsize length)
{
  g_autoptr (GHashTable) groups = g_hash_table_new_full (
      g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  GHashTableIter iter;
  gpointer domain;
  gpointer group;

  for (guint i = 0; i < e->recipients->len; i++)
    {
      SmtpQueueRecipient *r = g_ptr_array_index (e->recipients, i);
      g_autofree char *lower =
          g_ascii_strdown (smtp_queue_domain_of (r->address), -1);

      if (r->state != SMTP_QUEUE_WAITING)
        continue;
      if (mail_config_is_local_domain (queue->config, lower))
        smtp_queue_deliver_local (queue, e, r, data, length);
      else
        smtp_queue_group_add (groups, lower, r);
    }
  g_hash_table_iter_init (&iter, groups);
  while (g_hash_table_iter_next (&iter, &domain, &group))
    smtp_relay_deliver (queue->config, e, domain, group, data, length,
                        queue->cancellable);
}

/* After an attempt: recipients still waiting past the lifetime give up
 * (RFC 5321 §4.5.4.1 "give up" time), the rest get their next time. */
static void
smtp_queue_schedule (SmtpQueue *queue, SmtpQueueEntry *e, gint64 now)
{
  gboolean expired = now - e->arrival >= queue->config->queue_lifetime;

  e->attempts++;
  e->next_attempt = now + smtp_queue_backoff (queue, e->attempts);
  g_clear_pointer (&e->last_error, g_free);
  for (guint i = 0; i < e->recipients->len; i++)
    {
      SmtpQueueRecipient *r = g_ptr_array_index (e->recipients, i);

      if (r->state != SMTP_QUEUE_WAITING)
        continue;
      if (e->last_error == NULL && r->reason != NULL)
        e->last_error = g_strdup (r->reason);
      if (!expired)
        continue;
      g_autofree char *last = r->reason;
      r->reason = g_strdup_printf ("4.4.7 message expired after %u "
                                   "attempts; last: %s",
                                   e->attempts, last ? last : "none");
      r->state = SMTP_QUEUE_BOUNCED;
    }
}

static gboolean
smtp_queue_all_done (const SmtpQueueEntry *e)
{
  for (guint i = 0; i < e->recipients->len; i++)
    if (((SmtpQueueRecipient *) e->recipients->pdata[i])->state ==
        SMTP_QUEUE_WAITING)
      return FALSE;
  return TRUE;
}

/* Works on one due entry: attempt, send the notices asked for (a bounce
 * queued durably before the envelope says so), then rewrite or remove
 * it. */
static void
smtp_queue_process (SmtpQueue *queue, SmtpQueueEntry *e, gint64 now)
{
  g_autofree char *msg_path = smtp_queue_path (queue->dir, e->id, ".msg");
  g_autofree char *data = NULL;
  gsize length = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) tried = g_ptr_array_new ();

  if (!g_file_get_contents (msg_path, &data, &length, &error))
    {
      g_warning ("%s: %s", e->id, error->message);
      return;
    }
  /* Recipients bounced earlier already had their bounce queued. */
  for (guint i = 0; i < e->recipients->len; i++)
    {
      SmtpQueueRecipient *r = g_ptr_array_index (e->recipients, i);

      if (r->state == SMTP_QUEUE_WAITING)
        g_ptr_array_add (tried, r);
    }
  smtp_queue_attempt (queue, e, data, length);
  smtp_queue_schedule (queue, e, now);
  for (guint i = 0; i < tried->len; i++)
    {
      SmtpQueueRecipient *r = g_ptr_array_index (tried, i);

      g_message ("%s: <%s> %s: %s", e->id, r->address,
                 smtp_queue_state_names[r->state], r->reason);
    }
  smtp_queue_notify (queue, e, tried, data, length, now);
  if (smtp_queue_all_done (e))
    smtp_queue_remove_files (queue->dir, e->id, &error);
  else
    smtp_queue_save_envelope (queue->dir, e, &error);
  if (error != NULL)
    g_warning ("%s: %s", e->id, error->message);
}

/* ---- the workers ------------------------------------------------------ */

/* One entry handed to a worker, with the destinations it counts
 * against. */
typedef struct
{
  char *id;
  GPtrArray *destinations; /* of char *, the next-hop domains */
} SmtpQueueJob;

static void
smtp_queue_job_free (SmtpQueueJob *job)
{
  g_free (job->id);
  g_ptr_array_unref (job->destinations);
  g_free (job);
}

/* RFC 5321 §5.1: the next hop is found per domain, so a domain is a
 * destination; local recipients (notices coming home) need none. */
static GPtrArray *
smtp_queue_destinations (SmtpQueue *queue, const SmtpQueueEntry *e)
{
  GPtrArray *domains = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < e->recipients->len; i++)
    {
      const SmtpQueueRecipient *r = g_ptr_array_index (e->recipients, i);
      g_autofree char *domain =
          g_ascii_strdown (smtp_queue_domain_of (r->address), -1);
      gboolean known = FALSE;

      if (r->state != SMTP_QUEUE_WAITING ||
          mail_config_is_local_domain (queue->config, domain))
        continue;
      for (guint j = 0; j < domains->len && !known; j++)
        known = g_str_equal (domains->pdata[j], domain);
      if (!known)
        g_ptr_array_add (domains, g_steal_pointer (&domain));
    }
  return domains;
}

/* Under the mutex: may @destinations take one more delivery each? */
static gboolean
smtp_queue_has_room (SmtpQueue *queue, GPtrArray *destinations)
{
  if (queue->active >= queue->config->max_connections)
    return FALSE;
  for (guint i = 0; i < destinations->len; i++)
    if (GPOINTER_TO_UINT (g_hash_table_lookup (queue->per_destination,
                                               destinations->pdata[i])) >=
        queue->config->max_per_destination)
      return FALSE;
  return TRUE;
}

/* Under the mutex: counts the job's delivery in (@step 1) or out (-1). */
static void
smtp_queue_count (SmtpQueue *queue, SmtpQueueJob *job, int step)
{
  queue->active += step;
  for (guint i = 0; i < job->destinations->len; i++)
    {
      const char *domain = job->destinations->pdata[i];
      guint now = GPOINTER_TO_UINT (
                      g_hash_table_lookup (queue->per_destination, domain)) +
                  step;

      if (now == 0)
        g_hash_table_remove (queue->per_destination, domain);
      else
        g_hash_table_insert (queue->per_destination, g_strdup (domain),
                             GUINT_TO_POINTER (now));
    }
  if (step > 0)
    g_hash_table_add (queue->busy, g_strdup (job->id));
  else
    g_hash_table_remove (queue->busy, job->id);
}

/* A worker: the entry under its lock, reread there (mw-admin may have
 * deleted it), then room for the next one and a pass of the agent. */
static void
smtp_queue_work (gpointer data, gpointer user_data)
{
  SmtpQueueJob *job = data;
  SmtpQueue *queue = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (SmtpQueueEntry) fresh = NULL;
  int fd = smtp_queue_lock (queue->dir, job->id, &error);

  if (fd < 0)
    g_warning ("%s", error->message);
  else
    fresh = smtp_queue_load_entry (queue->dir, job->id, NULL);
  if (fresh != NULL)
    smtp_queue_process (queue, fresh, g_get_real_time () / G_USEC_PER_SEC);
  smtp_queue_unlock (queue->dir, job->id, fd,
                     fd >= 0 && (fresh == NULL || smtp_queue_all_done (fresh)));
  g_mutex_lock (&queue->mutex);
  smtp_queue_count (queue, job, -1);
  queue->wake = TRUE;
  g_cond_signal (&queue->cond);
  g_mutex_unlock (&queue->mutex);
  smtp_queue_job_free (job);
}

/* Hands @e to a worker if it is not being worked on and its destinations
 * have room; FALSE if it must wait for a worker to finish. */
static gboolean
smtp_queue_dispatch (SmtpQueue *queue, const SmtpQueueEntry *e)
{
  SmtpQueueJob *job = g_new0 (SmtpQueueJob, 1);
  gboolean room;

  job->id = g_strdup (e->id);
  job->destinations = smtp_queue_destinations (queue, e);
  g_mutex_lock (&queue->mutex);
  room = !g_hash_table_contains (queue->busy, e->id) &&
         smtp_queue_has_room (queue, job->destinations);
  if (room)
    smtp_queue_count (queue, job, 1);
  g_mutex_unlock (&queue->mutex);
  if (!room)
    {
      smtp_queue_job_free (job);
      return FALSE;
    }
  g_thread_pool_push (queue->workers, job, NULL);
  return TRUE;
}

/* ---- the agent thread ------------------------------------------------- */

/* Under the mutex: TRUE once for an entry a flush could not start. */
static gboolean
smtp_queue_take_flush_pending (SmtpQueue *queue, const char *id)
{
  gboolean pending;

  g_mutex_lock (&queue->mutex);
  pending = g_hash_table_remove (queue->flush_pending, id);
  g_mutex_unlock (&queue->mutex);
  return pending;
}

/* Hands every due entry that has room to a worker, oldest first; an
 * entry waiting for room is tried when a worker finishes (it wakes the
 * agent). Returns when the next one falls due (Unix seconds, G_MAXINT64
 * if none). */
static gint64
smtp_queue_run_pass (SmtpQueue *queue, gboolean flush)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = smtp_queue_list (queue->dir, &error);
  gint64 next = G_MAXINT64;

  if (entries == NULL)
    {
      g_warning ("%s", error->message);
      return g_get_real_time () / G_USEC_PER_SEC + queue->config->retry_min;
    }
  for (guint i = 0; i < entries->len && !g_atomic_int_get (&queue->stop); i++)
    {
      SmtpQueueEntry *e = g_ptr_array_index (entries, i);
      gint64 now = g_get_real_time () / G_USEC_PER_SEC;
      gboolean flushed = flush || smtp_queue_take_flush_pending (queue, e->id);

      if (!flushed && e->next_attempt > now)
        next = MIN (next, e->next_attempt);
      else if (!smtp_queue_dispatch (queue, e) && flushed)
        {
          g_mutex_lock (&queue->mutex);
          g_hash_table_add (queue->flush_pending, g_strdup (e->id));
          g_mutex_unlock (&queue->mutex);
        }
    }
  return next;
}

/* A "flush" file in the queue directory (mw-admin queue flush). */
static gboolean
smtp_queue_take_flush_file (SmtpQueue *queue)
{
  g_autofree char *path =
      g_build_filename (queue->dir, SMTP_QUEUE_FLUSH_FILE, NULL);

  return g_unlink (path) == 0;
}

/* Sleeps until woken, the next entry falls due, or a second has passed
 * (to look for the flush file). *out_woken: an enqueue or a flush asked
 * for a pass. Returns FALSE when asked to stop. */
static gboolean
smtp_queue_wait (SmtpQueue *queue,
                 gint64 next_due,
                 gboolean *out_woken,
                 gboolean *out_flush)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 deadline = g_get_monotonic_time () + SMTP_QUEUE_POLL_US;
  gboolean running;

  g_mutex_lock (&queue->mutex);
  while (!queue->wake && !queue->stop && next_due > now &&
         g_cond_wait_until (&queue->cond, &queue->mutex, deadline))
    ;
  running = !queue->stop;
  *out_woken = queue->wake;
  *out_flush = queue->flush;
  queue->wake = FALSE;
  queue->flush = FALSE;
  g_mutex_unlock (&queue->mutex);
  if (smtp_queue_take_flush_file (queue))
    *out_flush = TRUE;
  *out_woken |= *out_flush;
  return running;
}

/* What a crash can leave behind: a .msg whose envelope was never written
 * (its sender never got a 250), the .lock of an entry that is gone, and
 * temporary files of g_file_set_contents (). Only old ones: a session
 * may be writing now. */
static void
smtp_queue_remove_leftovers (SmtpQueue *queue)
{
  g_autoptr (GDir) d = g_dir_open (queue->dir, 0, NULL);
  gint64 old = g_get_real_time () / G_USEC_PER_SEC - 600;
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (queue->dir, name, NULL);
      g_autofree char *id = g_strndup (name, strcspn (name, "."));
      g_autofree char *env_path = smtp_queue_path (queue->dir, id, ".env");
      GStatBuf st;

      if (g_str_has_suffix (name, ".env") ||
          g_str_equal (name, SMTP_QUEUE_LOCK_FILE) ||
          g_str_equal (name, SMTP_QUEUE_FLUSH_FILE) ||
          ((g_str_has_suffix (name, ".msg") ||
            g_str_has_suffix (name, ".lock")) &&
           g_file_test (env_path, G_FILE_TEST_EXISTS)))
        continue;
      if (g_stat (path, &st) == 0 && st.st_mtime < old)
        {
          g_message ("removing leftover %s", name);
          g_unlink (path);
        }
    }
}

static gpointer
smtp_queue_agent (gpointer data)
{
  SmtpQueue *queue = data;
  gint64 next_due = 0; /* the first pass runs at once */
  gboolean woken = FALSE;
  gboolean flush = FALSE;

  smtp_queue_remove_leftovers (queue);
  while (smtp_queue_wait (queue, next_due, &woken, &flush))
    {
      gint64 now = g_get_real_time () / G_USEC_PER_SEC;

      if (woken || next_due <= now)
        next_due = smtp_queue_run_pass (queue, flush);
    }
  return NULL;
}

void
smtp_queue_start (SmtpQueue *queue)
{
  g_autoptr (GError) error = NULL;

  g_return_if_fail (queue->thread == NULL);
  queue->workers = g_thread_pool_new_full (
      smtp_queue_work, queue, (GDestroyNotify) smtp_queue_job_free,
      (int) queue->config->max_connections, FALSE, &error);
  g_assert_no_error (error); /* only fails for exclusive pools */
  queue->thread = g_thread_new ("smtp-queue", smtp_queue_agent, queue);
}

void
smtp_queue_free (SmtpQueue *queue)
{
  if (queue == NULL)
    return;
  if (queue->thread != NULL)
    {
      g_mutex_lock (&queue->mutex);
      g_atomic_int_set (&queue->stop, TRUE);
      /* A delivery in progress gives up now, not at its timeout. */
      g_cancellable_cancel (queue->cancellable);
      g_cond_signal (&queue->cond);
      g_mutex_unlock (&queue->mutex);
      g_thread_join (queue->thread);
      /* Every delivery in progress was cancelled: wait for them. */
      g_thread_pool_free (queue->workers, TRUE, TRUE);
    }
  g_clear_pointer (&queue->busy, g_hash_table_unref);
  g_clear_pointer (&queue->per_destination, g_hash_table_unref);
  g_clear_pointer (&queue->flush_pending, g_hash_table_unref);
  g_mutex_clear (&queue->mutex);
  g_cond_clear (&queue->cond);
  g_clear_object (&queue->cancellable);
  g_free (queue->dir);
  g_free (queue);
}
