/* SPDX-License-Identifier: MIT
 * smtp-queue-notify.c: which delivery status notifications the queue
 * sends after an attempt, and to whom (RFC 3461 §4.1 NOTIFY, §5.2 what a
 * relay and a final delivery report, §6.1 the envelope of a DSN; RFC
 * 5321 §6.2 never to the null sender). The text is smtp-bounce.c.
 */
#include "smtp-bounce.h"
#include "smtp-queue-private.h"

/* One notice about @recipients, queued durably. RFC 3461 §6.1 / RFC
 * 5321 §6.2: from the null sender, and never for a message that had the
 * null sender itself (a bounce), or two servers could mail each other
 * forever. */
static gboolean
smtp_queue_send_notice (SmtpQueue *queue,
                        const SmtpQueueEntry *e,
                        SmtpDsnAction action,
                        GPtrArray *recipients,
                        const char *data,
                        gsize length,
                        GError **error)
{
  const MailConfig *config = smtp_queue_get_config (queue);
  g_autoptr (GString) report = NULL;
  const char *to[] = { e->sender, NULL };

  if (recipients->len == 0)
    return TRUE;
  if (e->sender[0] == '\0')
    {
      g_message ("%s: a notice about a notice; dropped (RFC 5321 §6.2)", e->id);
      return TRUE;
    }
  report = smtp_bounce_compose (config->hostname, e, action, recipients, data,
                                length, e->arrival + config->queue_lifetime);
  /* The notice goes to the sender, whose address may need SMTPUTF8 on
   * its way back (RFC 6531 §3.3). */
  return smtp_queue_enqueue (queue, "", to, report->str, report->len,
                             !g_str_is_ascii (e->sender), NULL, NULL, error);
}

/* RFC 3461 §5.2.2, §5.2.3: a success notice when the message reached a
 * local mailbox, or a next hop that will not report further; a next hop
 * with DSN got NOTIFY=SUCCESS and reports itself. */
static gboolean
smtp_queue_success_action (const SmtpQueueRecipient *r, SmtpDsnAction *out)
{
  if (!smtp_dsn_wants (&r->dsn, SMTP_DSN_NOTIFY_SUCCESS))
    return FALSE;
  if (r->hop == SMTP_QUEUE_HOP_LOCAL)
    *out = SMTP_DSN_ACTION_DELIVERED;
  else if (r->hop == SMTP_QUEUE_HOP_PLAIN)
    *out = SMTP_DSN_ACTION_RELAYED;
  else
    return FALSE;
  return TRUE;
}

static gboolean
smtp_queue_is_delayed (SmtpQueue *queue,
                       const SmtpQueueEntry *e,
                       const SmtpQueueRecipient *r,
                       gint64 now)
{
  return r->state == SMTP_QUEUE_WAITING && !r->delay_notified &&
         now - e->arrival >= smtp_queue_get_config (queue)->delay_notice &&
         smtp_dsn_wants (&r->dsn, SMTP_DSN_NOTIFY_DELAY);
}

/* Sorts @tried by the notice each needs (one list per SmtpDsnAction). */
static void
smtp_queue_sort_notices (SmtpQueue *queue,
                         const SmtpQueueEntry *e,
                         GPtrArray *tried,
                         gint64 now,
                         GPtrArray **lists)
{
  for (guint i = 0; i < tried->len; i++)
    {
      SmtpQueueRecipient *r = g_ptr_array_index (tried, i);
      SmtpDsnAction action;

      if (r->state == SMTP_QUEUE_BOUNCED &&
          smtp_dsn_wants (&r->dsn, SMTP_DSN_NOTIFY_FAILURE))
        g_ptr_array_add (lists[SMTP_DSN_ACTION_FAILED], r);
      else if (r->state == SMTP_QUEUE_DELIVERED &&
               smtp_queue_success_action (r, &action))
        g_ptr_array_add (lists[action], r);
      else if (smtp_queue_is_delayed (queue, e, r, now))
        g_ptr_array_add (lists[SMTP_DSN_ACTION_DELAYED], r);
    }
}

void
smtp_queue_notify (SmtpQueue *queue,
                   SmtpQueueEntry *e,
                   GPtrArray *tried,
                   const char *data,
                   gsize length,
                   gint64 now)
{
  GPtrArray *lists[SMTP_DSN_ACTION_RELAYED + 1];

  for (guint a = 0; a < G_N_ELEMENTS (lists); a++)
    lists[a] = g_ptr_array_new ();
  smtp_queue_sort_notices (queue, e, tried, now, lists);
  for (guint a = 0; a < G_N_ELEMENTS (lists); a++)
    {
      g_autoptr (GError) error = NULL;
      gboolean sent =
          smtp_queue_send_notice (queue, e, a, lists[a], data, length, &error);

      if (!sent)
        g_warning ("%s: notice not queued: %s", e->id, error->message);
      for (guint i = 0; i < lists[a]->len; i++)
        {
          SmtpQueueRecipient *r = g_ptr_array_index (lists[a], i);

          /* A bounce not queued keeps its recipient waiting, so it is
           * tried again next time; a lost success notice cannot undo the
           * delivery. */
          if (!sent && a == SMTP_DSN_ACTION_FAILED)
            r->state = SMTP_QUEUE_WAITING;
          if (sent && a == SMTP_DSN_ACTION_DELAYED)
            r->delay_notified = TRUE;
        }
      g_ptr_array_unref (lists[a]);
    }
}
