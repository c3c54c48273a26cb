/* SPDX-License-Identifier: MIT
 * mw-admin-queue.c: "mw-admin queue list|flush|delete ID", the mail queue
 * of mw-smtpd seen and steered from outside, like Postfix's mailq and
 * postqueue (the queue's format is in src/servers/smtp-queue.h).
 *
 *   list         every entry: id, size, arrival, sender, and each
 *                recipient still waiting with the reason it waits
 *   flush        asks the running server to try every entry now (a
 *                "flush" file the delivery agent looks for every second)
 *   delete ID    removes one entry without delivering or bouncing it
 */
#include <stdio.h>

#include "mw-admin.h"
#include "smtp-queue.h"

static void
mw_admin_queue_print_entry (const SmtpQueueEntry *e)
{
  g_autoptr (GDateTime) arrived = g_date_time_new_from_unix_local (e->arrival);
  g_autofree char *when = g_date_time_format (arrived, "%a %b %d %H:%M:%S");
  g_autoptr (GDateTime) next =
      g_date_time_new_from_unix_local (e->next_attempt);
  g_autofree char *next_text = g_date_time_format (next, "%H:%M:%S");

  /* Postfix mailq's layout: one header line, then the recipients. */
  printf ("%-24s %8" G_GUINT64_FORMAT " %s  <%s>\n", e->id, e->size, when,
          e->sender);
  printf ("    attempts: %u, next attempt at %s\n", e->attempts, next_text);
  for (guint i = 0; i < e->recipients->len; i++)
    {
      const SmtpQueueRecipient *r = g_ptr_array_index (e->recipients, i);

      if (r->state != SMTP_QUEUE_WAITING)
        continue;
      printf ("    (%s)\n", r->reason ? r->reason : "not tried yet");
      printf ("        <%s>\n", r->address);
    }
}

static int
mw_admin_queue_list (const MailConfig *config)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = smtp_queue_list (config->queue_dir, &error);
  guint64 total = 0;

  if (entries == NULL)
    return mw_admin_fail ("queue list: %s", error->message);
  if (entries->len == 0)
    {
      printf ("Mail queue is empty\n");
      return MW_ADMIN_EXIT_OK;
    }
  for (guint i = 0; i < entries->len; i++)
    {
      const SmtpQueueEntry *e = g_ptr_array_index (entries, i);

      mw_admin_queue_print_entry (e);
      total += e->size;
    }
  printf ("-- %" G_GUINT64_FORMAT " octets in %u message%s.\n", total,
          entries->len, entries->len == 1 ? "" : "s");
  return MW_ADMIN_EXIT_OK;
}

int
mw_admin_cmd_queue (MwAdmin *admin, int argc, char **argv)
{
  g_autoptr (MailConfig) config = NULL;
  g_autoptr (GError) error = NULL;
  const char *action;

  if (!mw_admin_parse_options (admin, NULL, "list|flush|delete ID",
                               "Shows and steers the queue of mw-smtpd.", &argc,
                               &argv))
    return MW_ADMIN_EXIT_USAGE;
  if (argc < 2)
    return mw_admin_usage ("queue: say list, flush or delete ID");
  action = argv[1];
  config = mw_admin_load_config (admin);
  if (config == NULL)
    return MW_ADMIN_EXIT_FAILURE;
  if (g_str_equal (action, "list") && argc == 2)
    return mw_admin_queue_list (config);
  if (g_str_equal (action, "flush") && argc == 2)
    {
      if (!smtp_queue_request_flush (config->queue_dir, &error))
        return mw_admin_fail ("queue flush: %s", error->message);
      printf ("flush requested; a running mw-smtpd acts on it within a "
              "second\n");
      return MW_ADMIN_EXIT_OK;
    }
  if (g_str_equal (action, "delete") && argc == 3)
    {
      if (!smtp_queue_delete (config->queue_dir, argv[2], &error))
        return mw_admin_fail ("queue delete: %s", error->message);
      printf ("%s: deleted\n", argv[2]);
      return MW_ADMIN_EXIT_OK;
    }
  return mw_admin_usage ("queue: say list, flush or delete ID");
}
