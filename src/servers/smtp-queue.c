/* SPDX-License-Identifier: MIT
 * smtp-queue.c: the mail queue of mw-smtpd and its delivery agent
 * (RFC 5321 §4.5.4 retries, §5.1 next hop, §6.1 reliable delivery, §6.2
 * loop-free bounces; RFC 3464 delivery status notifications; RFC 7435
 * opportunistic TLS; RFC 7505 null MX).
 *
 * One agent thread works through due entries one at a time, holding
 * SMTP_QUEUE_LOCK_FILE while it does, so mw-admin can delete an entry
 * without racing a delivery. Delivered exactly once? Almost: an entry's
 * recipient is marked delivered only after the next hop's 250 to the
 * text, so a crash between that 250 and the envelope update sends the
 * message again after restart. RFC 5321 §6.1 prefers a duplicate to a
 * loss, and so do we.
 */
#include "smtp-queue.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "mail-net.h"
#include "mail-store.h"
#include "smtp-client.h"
#include "smtp-proto.h"

#define SMTP_QUEUE_LOCK_FILE "lock"
#define SMTP_QUEUE_POLL_US G_USEC_PER_SEC /* how often "flush" is looked for   \
                                           */
#define SMTP_QUEUE_SMTP_PORT 25           /* RFC 5321 §4.5.4.2 */
#define SMTP_QUEUE_MAX_HEADERS 65536      /* returned in a bounce */

struct _SmtpQueue
{
  const MailConfig *config;
  MailUsers *users;
  char *dir;
  GMutex mutex; /* guards wake, flush, stop */
  GCond cond;
  gboolean wake;
  gboolean flush;
  gboolean stop;
  GThread *thread;
};

/* ---- entries on disk -------------------------------------------------- */

static const char *const smtp_queue_state_names[] = {
  "waiting",
  "delivered",
  "bounced",
};

static void
smtp_queue_recipient_free (SmtpQueueRecipient *r)
{
  g_free (r->address);
  g_free (r->reason);
  g_free (r);
}

void
smtp_queue_entry_free (SmtpQueueEntry *e)
{
  if (e == NULL)
    return;
  g_free (e->id);
  g_free (e->sender);
  g_free (e->last_error);
  g_clear_pointer (&e->recipients, g_ptr_array_unref);
  g_free (e);
}

static char *
smtp_queue_path (const char *dir, const char *id, const char *suffix)
{
  g_autofree char *name = g_strconcat (id, suffix, NULL);

  return g_build_filename (dir, name, NULL);
}

/* Temporary file, fsync, rename (g_file_set_contents_full), then fsync of
 * the directory so the rename itself survives a crash. A full disk
 * becomes MAIL_STORE_ERROR_NO_SPACE, which the session answers with 452. */
static gboolean
smtp_queue_write_durably (const char *dir,
                          const char *path,
                          const void *data,
                          gsize length,
                          GError **error)
{
  g_autoptr (GError) local = NULL;

  if (!g_file_set_contents_full (path, data, length,
                                 G_FILE_SET_CONTENTS_CONSISTENT |
                                     G_FILE_SET_CONTENTS_DURABLE,
                                 0600, &local))
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOSPC))
        g_set_error (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_NO_SPACE,
                     "queue: %s", local->message);
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  return mail_fsync_directory (dir, error);
}

static gboolean
smtp_queue_save_envelope (const char *dir,
                          const SmtpQueueEntry *e,
                          GError **error)
{
  g_autoptr (GKeyFile) key_file = g_key_file_new ();
  g_autofree char *path = smtp_queue_path (dir, e->id, ".env");
  g_autofree char *text = NULL;
  gsize length = 0;

  g_key_file_set_string (key_file, "envelope", "sender", e->sender);
  g_key_file_set_int64 (key_file, "envelope", "arrival", e->arrival);
  g_key_file_set_uint64 (key_file, "envelope", "attempts", e->attempts);
  g_key_file_set_int64 (key_file, "envelope", "next_attempt", e->next_attempt);
  if (e->last_error != NULL)
    g_key_file_set_string (key_file, "envelope", "last_error", e->last_error);
  for (guint i = 0; i < e->recipients->len; i++)
    {
      SmtpQueueRecipient *r = g_ptr_array_index (e->recipients, i);
      g_autofree char *group = g_strdup_printf ("recipient %u", i);

      g_key_file_set_string (key_file, group, "address", r->address);
      g_key_file_set_string (key_file, group, "state",
                             smtp_queue_state_names[r->state]);
      if (r->reason != NULL)
        g_key_file_set_string (key_file, group, "reason", r->reason);
    }
  text = g_key_file_to_data (key_file, &length, NULL);
  return smtp_queue_write_durably (dir, path, text, length, error);
}

static SmtpQueueRecipientState
smtp_queue_parse_state (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (smtp_queue_state_names); i++)
    if (g_strcmp0 (name, smtp_queue_state_names[i]) == 0)
      return i;
  return SMTP_QUEUE_WAITING;
}

static gboolean
smtp_queue_load_recipients (GKeyFile *key_file,
                            SmtpQueueEntry *e,
                            GError **error)
{
  for (guint i = 0;; i++)
    {
      g_autofree char *group = g_strdup_printf ("recipient %u", i);
      g_autofree char *state = NULL;
      SmtpQueueRecipient *r;

      if (!g_key_file_has_group (key_file, group))
        return e->recipients->len > 0 ||
               (g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                             "envelope %s has no recipients", e->id),
                FALSE);
      r = g_new0 (SmtpQueueRecipient, 1);
      g_ptr_array_add (e->recipients, r);
      r->address = g_key_file_get_string (key_file, group, "address", error);
      if (r->address == NULL)
        return FALSE;
      state = g_key_file_get_string (key_file, group, "state", NULL);
      r->state = smtp_queue_parse_state (state);
      r->reason = g_key_file_get_string (key_file, group, "reason", NULL);
    }
}

static SmtpQueueEntry *
smtp_queue_load_entry (const char *dir, const char *id, GError **error)
{
  g_autoptr (GKeyFile) key_file = g_key_file_new ();
  g_autoptr (SmtpQueueEntry) e = g_new0 (SmtpQueueEntry, 1);
  g_autofree char *env_path = smtp_queue_path (dir, id, ".env");
  g_autofree char *msg_path = smtp_queue_path (dir, id, ".msg");
  GStatBuf st;

  if (!g_key_file_load_from_file (key_file, env_path, G_KEY_FILE_NONE, error))
    return NULL;
  e->id = g_strdup (id);
  e->recipients = g_ptr_array_new_with_free_func (
      (GDestroyNotify) smtp_queue_recipient_free);
  e->sender = g_key_file_get_string (key_file, "envelope", "sender", error);
  if (e->sender == NULL)
    return NULL;
  e->arrival = g_key_file_get_int64 (key_file, "envelope", "arrival", NULL);
  e->attempts = g_key_file_get_uint64 (key_file, "envelope", "attempts", NULL);
  e->next_attempt =
      g_key_file_get_int64 (key_file, "envelope", "next_attempt", NULL);
  e->last_error =
      g_key_file_get_string (key_file, "envelope", "last_error", NULL);
  if (g_stat (msg_path, &st) == 0)
    e->size = st.st_size;
  if (!smtp_queue_load_recipients (key_file, e, error))
    return NULL;
  return g_steal_pointer (&e);
}

/* Envelope first, so a crash in between leaves a lone .msg, which the
 * next scan removes: the entry is gone the moment its envelope is. */
static gboolean
smtp_queue_remove_files (const char *dir, const char *id, GError **error)
{
  g_autofree char *env_path = smtp_queue_path (dir, id, ".env");
  g_autofree char *msg_path = smtp_queue_path (dir, id, ".msg");

  if (g_unlink (env_path) != 0 && errno != ENOENT)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "remove %s: %s", env_path, g_strerror (saved));
      return FALSE;
    }
  g_unlink (msg_path);
  return mail_fsync_directory (dir, error);
}

static gint
smtp_queue_compare_arrival (gconstpointer a, gconstpointer b)
{
  const SmtpQueueEntry *x = *(SmtpQueueEntry *const *) a;
  const SmtpQueueEntry *y = *(SmtpQueueEntry *const *) b;

  if (x->arrival != y->arrival)
    return x->arrival < y->arrival ? -1 : 1;
  return g_strcmp0 (x->id, y->id);
}

/* Every name ending in ".env" is an entry. */
GPtrArray *
smtp_queue_list (const char *dir, GError **error)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, error);
  g_autoptr (GPtrArray) entries =
      g_ptr_array_new_with_free_func ((GDestroyNotify) smtp_queue_entry_free);
  const char *name;

  if (d == NULL)
    return NULL;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *id = NULL;
      g_autoptr (GError) local = NULL;
      SmtpQueueEntry *e;

      if (!g_str_has_suffix (name, ".env"))
        continue;
      id = g_strndup (name, strlen (name) - 4);
      e = smtp_queue_load_entry (dir, id, &local);
      if (e == NULL)
        g_warning ("queue entry %s unreadable: %s", id, local->message);
      else
        g_ptr_array_add (entries, e);
    }
  g_ptr_array_sort (entries, smtp_queue_compare_arrival);
  return g_steal_pointer (&entries);
}

/* ---- the lock shared with mw-admin ------------------------------------ */

static int
smtp_queue_lock (const char *dir, GError **error)
{
  g_autofree char *path = g_build_filename (dir, SMTP_QUEUE_LOCK_FILE, NULL);
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

static void
smtp_queue_unlock (int fd)
{
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
  fd = smtp_queue_lock (dir, error);
  if (fd < 0)
    return FALSE;
  ok = smtp_queue_remove_files (dir, id, error);
  smtp_queue_unlock (fd);
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
smtp_queue_new (const MailConfig *config, MailUsers *users, GError **error)
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
  queue->users = users;
  queue->dir = g_strdup (config->queue_dir);
  g_mutex_init (&queue->mutex);
  g_cond_init (&queue->cond);
  return queue;
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
  e->recipients = g_ptr_array_new_with_free_func (
      (GDestroyNotify) smtp_queue_recipient_free);
  for (guint i = 0; recipients[i] != NULL; i++)
    {
      SmtpQueueRecipient *r = g_new0 (SmtpQueueRecipient, 1);

      r->address = g_strdup (recipients[i]);
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

/* ---- bounces (RFC 3464) ----------------------------------------------- */

/* The header section of the original message, for text/rfc822-headers
 * (RFC 6522 §4): enough for the sender to recognise it. */
static void
smtp_queue_append_headers (GString *out, const char *data, gsize length)
{
  const char *end =
      g_strstr_len (data, MIN (length, SMTP_QUEUE_MAX_HEADERS), "\r\n\r\n");
  gsize keep = end != NULL ? (gsize) (end - data) + 2
                           : MIN (length, SMTP_QUEUE_MAX_HEADERS);

  g_string_append_len (out, data, keep);
}

/* RFC 3464 §2.3.4: Status is the enhanced code of the reply, else the
 * class alone ("5.0.0"). */
static char *
smtp_queue_status_of (const char *reason)
{
  guint code = 0;
  gboolean last = FALSE;
  const char *text = NULL;
  char *enhanced = NULL;
  const char *rest = NULL;

  if (reason != NULL &&
      smtp_proto_parse_reply_line (reason, &code, &last, &text) &&
      smtp_proto_split_enhanced (text, &enhanced, &rest))
    return enhanced;
  /* Our own reasons start with the enhanced code ("4.4.7 expired"). */
  if (reason != NULL && smtp_proto_split_enhanced (reason, &enhanced, &rest))
    return enhanced;
  return g_strdup (code >= 400 && code < 500 ? "4.0.0" : "5.0.0");
}

static void
smtp_queue_append_recipient_status (GString *out, const SmtpQueueRecipient *r)
{
  g_autofree char *status = smtp_queue_status_of (r->reason);
  g_autofree char *diagnostic = g_strdup (r->reason ? r->reason : "");

  g_strdelimit (diagnostic, "\r\n", ' ');
  /* RFC 3464 §2.3: per-recipient fields. */
  g_string_append_printf (out,
                          "\r\nFinal-Recipient: rfc822; %s\r\n"
                          "Action: failed\r\n"
                          "Status: %s\r\n"
                          "Diagnostic-Code: smtp; %s\r\n",
                          r->address, status, diagnostic);
}

/* A multipart/report (RFC 6522) of report-type delivery-status (RFC 3464)
 * from MAILER-DAEMON, listing the recipients in @failed. */
static GString *
smtp_queue_compose_bounce (SmtpQueue *queue,
                           const SmtpQueueEntry *e,
                           GPtrArray *failed,
                           const char *data,
                           gsize length)
{
  const char *host = queue->config->hostname;
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autoptr (GDateTime) arrived = g_date_time_new_from_unix_local (e->arrival);
  g_autofree char *date = g_date_time_format (now, "%a, %d %b %Y %T %z");
  g_autofree char *arrival = g_date_time_format (arrived, "%a, %d %b %Y %T %z");
  g_autofree char *boundary = g_strdup_printf ("%s/%s", e->id, host);
  GString *out = g_string_new (NULL);

  g_string_append_printf (
      out,
      "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
      "To: <%s>\r\n"
      "Subject: Undelivered Mail Returned to Sender\r\n"
      "Date: %s\r\n"
      "Message-ID: <%s.bounce@%s>\r\n"
      "Auto-Submitted: auto-replied\r\n" /* RFC 3834 §5 */
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/report; report-type=delivery-status;\r\n"
      "\tboundary=\"%s\"\r\n\r\n"
      "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
      "This is the mail system at host %s.\r\n\r\n"
      "Your message could not be delivered to one or more recipients.\r\n\r\n",
      host, e->sender, date, e->id, host, boundary, boundary, host);
  for (guint i = 0; i < failed->len; i++)
    {
      SmtpQueueRecipient *r = g_ptr_array_index (failed, i);

      g_string_append_printf (out, "<%s>: %s\r\n", r->address,
                              r->reason ? r->reason : "failed");
    }
  g_string_append_printf (out,
                          "\r\n--%s\r\nContent-Type: message/delivery-status"
                          "\r\n\r\nReporting-MTA: dns; %s\r\n"
                          "Arrival-Date: %s\r\n",
                          boundary, host, arrival);
  for (guint i = 0; i < failed->len; i++)
    smtp_queue_append_recipient_status (out, g_ptr_array_index (failed, i));
  g_string_append_printf (
      out, "\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary);
  smtp_queue_append_headers (out, data, length);
  g_string_append_printf (out, "\r\n--%s--\r\n", boundary);
  return out;
}

/* Queues the bounce for @failed, durably, before the caller marks them
 * bounced. RFC 5321 §6.2: never bounce a bounce (null sender), or two
 * servers could mail each other forever. */
static gboolean
smtp_queue_bounce (SmtpQueue *queue,
                   const SmtpQueueEntry *e,
                   GPtrArray *failed,
                   const char *data,
                   gsize length,
                   GError **error)
{
  g_autoptr (GString) report = NULL;
  const char *to[] = { e->sender, NULL };

  if (failed->len == 0)
    return TRUE;
  if (e->sender[0] == '\0')
    {
      g_message ("%s: a bounce failed too; dropped (RFC 5321 §6.2)", e->id);
      return TRUE;
    }
  report = smtp_queue_compose_bounce (queue, e, failed, data, length);
  return smtp_queue_enqueue (queue, "", to, report->str, report->len, NULL,
                             error);
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
  const MailUser *user =
      mail_users_lookup_address (queue->users, queue->config, r->address);
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
      return;
    }
  r->reason =
      g_strdup_printf ("451 4.3.0 local delivery failed: %s", error->message);
}

typedef struct
{
  char *host;
  guint16 port;
} SmtpHop;

static void
smtp_hop_free (SmtpHop *hop)
{
  g_free (hop->host);
  g_free (hop);
}

static gint
smtp_queue_compare_mx (gconstpointer a, gconstpointer b)
{
  guint16 pa = 0;
  guint16 pb = 0;

  g_variant_get ((GVariant *) a, "(q&s)", &pa, NULL);
  g_variant_get ((GVariant *) b, "(q&s)", &pb, NULL);
  return (gint) pa - (gint) pb;
}

/* RFC 5321 §5.1: the static route if there is one, else the MX hosts in
 * order of preference, else the domain's own address (implicit MX). */
static GPtrArray *
smtp_queue_next_hops (SmtpQueue *queue, const char *domain, GError **error)
{
  g_autoptr (GPtrArray) hops =
      g_ptr_array_new_with_free_func ((GDestroyNotify) smtp_hop_free);
  const char *route = g_hash_table_lookup (queue->config->routes, domain);
  g_autoptr (GResolver) resolver = NULL;
  GList *records = NULL;
  SmtpHop *hop = g_new0 (SmtpHop, 1);

  g_ptr_array_add (hops, hop);
  if (route != NULL)
    {
      if (!mail_net_parse_host_port (route, SMTP_QUEUE_SMTP_PORT, &hop->host,
                                     &hop->port, error))
        return NULL;
      return g_steal_pointer (&hops);
    }
  g_ptr_array_set_size (hops, 0);
  resolver = g_resolver_get_default ();
  records = g_resolver_lookup_records (resolver, domain, G_RESOLVER_RECORD_MX,
                                       NULL, NULL);
  records = g_list_sort (records, smtp_queue_compare_mx);
  for (GList *l = records; l != NULL; l = l->next)
    {
      const char *name = NULL;

      g_variant_get (l->data, "(q&s)", NULL, &name);
      hop = g_new0 (SmtpHop, 1);
      hop->host = g_strdup (name);
      hop->port = SMTP_QUEUE_SMTP_PORT;
      g_ptr_array_add (hops, hop);
    }
  g_list_free_full (records, (GDestroyNotify) g_variant_unref);
  if (hops->len == 0)
    {
      hop = g_new0 (SmtpHop, 1);
      hop->host = g_strdup (domain);
      hop->port = SMTP_QUEUE_SMTP_PORT;
      g_ptr_array_add (hops, hop);
    }
  return g_steal_pointer (&hops);
}

/* Connects and says EHLO, with STARTTLS when offered. The certificate is
 * not verified: MX hosts rarely have one for the name we looked up, and
 * RFC 7435 (opportunistic security) says some encryption beats none.
 * If the TLS handshake fails we try once more in clear, as Postfix's
 * "may" level does. */
static SmtpClient *
smtp_queue_open (SmtpQueue *queue, const SmtpHop *hop, GError **error)
{
  guint timeout = queue->config->timeout ? queue->config->timeout : 300;

  for (guint try = 0; try < 2; try++)
    {
      g_autoptr (SmtpClient) client = smtp_client_new ();
      g_autoptr (GError) local = NULL;

      if (!smtp_client_connect (client, hop->host, hop->port, FALSE, NULL,
                                FALSE, timeout, NULL, error) ||
          !smtp_client_ehlo (client, queue->config->hostname, error))
        return NULL;
      if (try > 0 ||
          (smtp_client_get_extensions (client) & SMTP_EXT_STARTTLS) == 0)
        return g_steal_pointer (&client);
      if (smtp_client_starttls (client, hop->host, NULL, TRUE,
                                queue->config->hostname, &local))
        return g_steal_pointer (&client);
      g_message ("%s:%u: %s; retrying without TLS", hop->host, hop->port,
                 local->message);
    }
  g_assert_not_reached ();
}

/* Records what the next hop said about each recipient of @group. */
static void
smtp_queue_record_results (GPtrArray *group,
                           GPtrArray *results,
                           gboolean sent,
                           guint code,
                           const char *error_text)
{
  for (guint i = 0; i < group->len; i++)
    {
      SmtpQueueRecipient *r = g_ptr_array_index (group, i);
      SmtpRecipientResult *result =
          results && i < results->len ? g_ptr_array_index (results, i) : NULL;
      guint rcpt_code = result != NULL ? result->code : 0;

      g_free (r->reason);
      if (rcpt_code != 0 && !smtp_reply_is_positive (rcpt_code))
        {
          /* Refused at RCPT: its own verdict, whatever came after. */
          r->reason = g_strdup (result->reply);
          r->state = smtp_reply_is_permanent (rcpt_code) ? SMTP_QUEUE_BOUNCED
                                                         : SMTP_QUEUE_WAITING;
          continue;
        }
      if (sent)
        {
          r->reason = g_strdup ("delivered");
          r->state = SMTP_QUEUE_DELIVERED;
          continue;
        }
      r->reason = g_strdup (error_text);
      r->state = smtp_client_error_is_temporary (code) ? SMTP_QUEUE_WAITING
                                                       : SMTP_QUEUE_BOUNCED;
    }
}

/* One attempt for the recipients of one domain, trying each hop until
 * one answers (RFC 5321 §5.1). */
static void
smtp_queue_deliver_remote (SmtpQueue *queue,
                           const SmtpQueueEntry *e,
                           const char *domain,
                           GPtrArray *group,
                           const char *data,
                           gsize length)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) hops = smtp_queue_next_hops (queue, domain, &error);
  g_autoptr (GPtrArray) addresses = g_ptr_array_new ();
  g_autoptr (GPtrArray) results = NULL;
  g_autoptr (SmtpClient) client = NULL;
  gboolean sent = FALSE;

  for (guint i = 0; i < group->len; i++)
    g_ptr_array_add (addresses,
                     ((SmtpQueueRecipient *) group->pdata[i])->address);
  g_ptr_array_add (addresses, NULL);
  for (guint i = 0; hops != NULL && i < hops->len && client == NULL; i++)
    {
      g_clear_error (&error);
      client = smtp_queue_open (queue, g_ptr_array_index (hops, i), &error);
    }
  if (client != NULL)
    {
      sent = smtp_client_send (client, e->sender,
                               (const char *const *) addresses->pdata, data,
                               length, &results, &error);
      smtp_client_quit (client);
    }
  smtp_queue_record_results (group, results, sent,
                             client ? smtp_client_get_reply_code (client) : 0,
                             error ? error->message : NULL);
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

/* Groups the waiting recipients by domain and tries each group. */
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
      char *key = g_ascii_strdown (smtp_queue_domain_of (r->address), -1);
      GPtrArray *members;

      if (r->state != SMTP_QUEUE_WAITING)
        {
          g_free (key);
          continue;
        }
      if (mail_config_is_local_domain (queue->config, key))
        {
          smtp_queue_deliver_local (queue, e, r, data, length);
          g_free (key);
          continue;
        }
      members = g_hash_table_lookup (groups, key);
      if (members == NULL)
        {
          members = g_ptr_array_new ();
          g_hash_table_insert (groups, key, members);
        }
      else
        g_free (key);
      g_ptr_array_add (members, r);
    }
  g_hash_table_iter_init (&iter, groups);
  while (g_hash_table_iter_next (&iter, &domain, &group))
    smtp_queue_deliver_remote (queue, e, domain, group, data, length);
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

/* Works on one due entry: attempt, bounce what failed for good (queued
 * durably before the envelope says so), then rewrite or remove it. */
static void
smtp_queue_process (SmtpQueue *queue, SmtpQueueEntry *e, gint64 now)
{
  g_autofree char *msg_path = smtp_queue_path (queue->dir, e->id, ".msg");
  g_autofree char *data = NULL;
  gsize length = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) failed = g_ptr_array_new ();
  g_autoptr (GArray) was_bounced = g_array_new (FALSE, TRUE, sizeof (gboolean));

  if (!g_file_get_contents (msg_path, &data, &length, &error))
    {
      g_warning ("%s: %s", e->id, error->message);
      return;
    }
  for (guint i = 0; i < e->recipients->len; i++)
    {
      gboolean b = ((SmtpQueueRecipient *) e->recipients->pdata[i])->state ==
                   SMTP_QUEUE_BOUNCED;
      g_array_append_val (was_bounced, b);
    }
  smtp_queue_attempt (queue, e, data, length);
  smtp_queue_schedule (queue, e, now);
  for (guint i = 0; i < e->recipients->len; i++)
    {
      SmtpQueueRecipient *r = g_ptr_array_index (e->recipients, i);

      g_message ("%s: <%s> %s: %s", e->id, r->address,
                 smtp_queue_state_names[r->state], r->reason);
      if (r->state == SMTP_QUEUE_BOUNCED &&
          !g_array_index (was_bounced, gboolean, i))
        g_ptr_array_add (failed, r);
    }
  if (!smtp_queue_bounce (queue, e, failed, data, length, &error))
    {
      /* Keep them waiting: the bounce is tried again next time. */
      g_warning ("%s: bounce not queued: %s", e->id, error->message);
      for (guint i = 0; i < failed->len; i++)
        ((SmtpQueueRecipient *) failed->pdata[i])->state = SMTP_QUEUE_WAITING;
      g_clear_error (&error);
    }
  if (smtp_queue_all_done (e))
    smtp_queue_remove_files (queue->dir, e->id, &error);
  else
    smtp_queue_save_envelope (queue->dir, e, &error);
  if (error != NULL)
    g_warning ("%s: %s", e->id, error->message);
}

/* ---- the agent thread ------------------------------------------------- */

/* Tries every due entry; returns when the next one falls due (Unix
 * seconds, G_MAXINT64 if the queue is empty). */
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
      g_autoptr (SmtpQueueEntry) fresh = NULL;
      int fd;

      if (!flush && e->next_attempt > now)
        {
          next = MIN (next, e->next_attempt);
          continue;
        }
      fd = smtp_queue_lock (queue->dir, &error);
      /* Reread under the lock: mw-admin may have deleted it. */
      fresh = smtp_queue_load_entry (queue->dir, e->id, NULL);
      if (fresh != NULL)
        {
          smtp_queue_process (queue, fresh, now);
          if (!smtp_queue_all_done (fresh))
            next = MIN (next, fresh->next_attempt);
        }
      smtp_queue_unlock (fd);
      g_clear_error (&error);
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
 * (its sender never got a 250) and temporary files of
 * g_file_set_contents (). Only old ones: a session may be writing now. */
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

      if (g_str_has_suffix (name, ".env") || g_str_equal (name, "lock") ||
          g_str_equal (name, SMTP_QUEUE_FLUSH_FILE) ||
          (g_str_has_suffix (name, ".msg") &&
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
  g_return_if_fail (queue->thread == NULL);
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
      g_cond_signal (&queue->cond);
      g_mutex_unlock (&queue->mutex);
      g_thread_join (queue->thread);
    }
  g_mutex_clear (&queue->mutex);
  g_cond_clear (&queue->cond);
  g_free (queue->dir);
  g_free (queue);
}
