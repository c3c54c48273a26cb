/* SPDX-License-Identifier: MIT
 * smtp-queue-envelope.c: the queue's entries on disk: ID.msg and its
 * envelope ID.env (smtp-queue.h says what they hold), written durably
 * (RFC 5321 §6.1) and read back, also when an older mw-smtpd wrote them.
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "mail-store.h"
#include "smtp-queue-private.h"

/* ---- entries on disk -------------------------------------------------- */

const char *const smtp_queue_state_names[] = {
  "waiting",
  "delivered",
  "bounced",
};

void
smtp_queue_recipient_free (SmtpQueueRecipient *r)
{
  g_free (r->address);
  g_free (r->reason);
  g_free (r->dsn.orcpt_type);
  g_free (r->dsn.orcpt);
  g_free (r->remote_mta);
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
  g_free (e->envid);
  g_clear_pointer (&e->recipients, g_ptr_array_unref);
  g_free (e);
}

char *
smtp_queue_path (const char *dir, const char *id, const char *suffix)
{
  g_autofree char *name = g_strconcat (id, suffix, NULL);

  return g_build_filename (dir, name, NULL);
}

/* Temporary file, fsync, rename (g_file_set_contents_full), then fsync of
 * the directory so the rename itself survives a crash. A full disk
 * becomes MAIL_STORE_ERROR_NO_SPACE, which the session answers with 452. */
gboolean
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

/* RFC 3461 §4.3 RET on disk; "" for the default, never written. */
static const char *const smtp_queue_ret_names[] = { "", "full", "hdrs" };

static void
smtp_queue_save_recipient (GKeyFile *key_file,
                           guint index,
                           const SmtpQueueRecipient *r)
{
  g_autofree char *group = g_strdup_printf ("recipient %u", index);
  g_autofree char *notify = smtp_dsn_notify_to_string (r->dsn.notify);

  g_key_file_set_string (key_file, group, "address", r->address);
  g_key_file_set_string (key_file, group, "state",
                         smtp_queue_state_names[r->state]);
  if (r->reason != NULL)
    g_key_file_set_string (key_file, group, "reason", r->reason);
  if (notify != NULL)
    g_key_file_set_string (key_file, group, "notify", notify);
  if (r->dsn.orcpt != NULL)
    {
      g_autofree char *orcpt =
          g_strconcat (r->dsn.orcpt_type, ";", r->dsn.orcpt, NULL);

      g_key_file_set_string (key_file, group, "orcpt", orcpt);
    }
  if (r->delay_notified)
    g_key_file_set_boolean (key_file, group, "delay_notified", TRUE);
}

/* The DSN keys of a recipient; each optional (older envelopes). */
static void
smtp_queue_load_recipient_dsn (GKeyFile *key_file,
                               const char *group,
                               SmtpQueueRecipient *r)
{
  g_autofree char *notify =
      g_key_file_get_string (key_file, group, "notify", NULL);
  g_autofree char *orcpt =
      g_key_file_get_string (key_file, group, "orcpt", NULL);
  const char *semicolon = orcpt != NULL ? strchr (orcpt, ';') : NULL;

  r->dsn.notify = smtp_dsn_notify_from_string (notify);
  if (semicolon != NULL)
    {
      r->dsn.orcpt_type = g_strndup (orcpt, semicolon - orcpt);
      r->dsn.orcpt = g_strdup (semicolon + 1);
    }
  r->delay_notified =
      g_key_file_get_boolean (key_file, group, "delay_notified", NULL);
}

static SmtpDsnRet
smtp_queue_parse_ret (const char *name)
{
  for (guint i = 1; i < G_N_ELEMENTS (smtp_queue_ret_names); i++)
    if (g_strcmp0 (name, smtp_queue_ret_names[i]) == 0)
      return i;
  return SMTP_DSN_RET_DEFAULT;
}

gboolean
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
  if (e->smtputf8)
    g_key_file_set_boolean (key_file, "envelope", "smtputf8", TRUE);
  if (e->ret != SMTP_DSN_RET_DEFAULT)
    g_key_file_set_string (key_file, "envelope", "ret",
                           smtp_queue_ret_names[e->ret]);
  if (e->envid != NULL)
    g_key_file_set_string (key_file, "envelope", "envid", e->envid);
  for (guint i = 0; i < e->recipients->len; i++)
    smtp_queue_save_recipient (key_file, i,
                               g_ptr_array_index (e->recipients, i));
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
      smtp_queue_load_recipient_dsn (key_file, group, r);
    }
}

SmtpQueueEntry *
smtp_queue_load_entry (const char *dir, const char *id, GError **error)
{
  g_autoptr (GKeyFile) key_file = g_key_file_new ();
  g_autoptr (SmtpQueueEntry) e = g_new0 (SmtpQueueEntry, 1);
  g_autofree char *env_path = smtp_queue_path (dir, id, ".env");
  g_autofree char *msg_path = smtp_queue_path (dir, id, ".msg");
  g_autofree char *ret = NULL;
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
  e->smtputf8 = g_key_file_get_boolean (key_file, "envelope", "smtputf8", NULL);
  ret = g_key_file_get_string (key_file, "envelope", "ret", NULL);
  e->ret = smtp_queue_parse_ret (ret);
  e->envid = g_key_file_get_string (key_file, "envelope", "envid", NULL);
  if (g_stat (msg_path, &st) == 0)
    e->size = st.st_size;
  if (!smtp_queue_load_recipients (key_file, e, error))
    return NULL;
  return g_steal_pointer (&e);
}

/* Envelope first, so a crash in between leaves a lone .msg, which the
 * next scan removes: the entry is gone the moment its envelope is. */
gboolean
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
