/* SPDX-License-Identifier: MIT
 * smtp-context.c: what every SMTP session of mw-smtpd shares: config,
 * certificate, the queue hook and the users file, re-read when it changes
 * so that "mw-admin user add" needs no restart.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "mail-tls.h"
#include "smtp-session-private.h"

/* ---- context ----------------------------------------------------------- */

SmtpContext *
smtp_context_new (const MailConfig *config, GError **error)
{
  g_autoptr (SmtpContext) context = g_new0 (SmtpContext, 1);

  g_return_val_if_fail (config != NULL, NULL);

  context->config = config;
  context->protocol_log = config->protocol_log;
  context->retired =
      g_ptr_array_new_with_free_func ((GDestroyNotify) mail_users_free);
  g_mutex_init (&context->lock);
  if (g_stat (config->users_file, &context->users_stat) != 0)
    memset (&context->users_stat, 0, sizeof context->users_stat);
  context->users = mail_users_load (config->users_file, error);
  if (context->users == NULL)
    return NULL;
  if (config->tls_cert != NULL)
    {
      context->certificate =
          mail_tls_load_certificate (config->tls_cert, config->tls_key, error);
      if (context->certificate == NULL)
        return NULL;
    }
  return g_steal_pointer (&context);
}

void
smtp_context_free (SmtpContext *context)
{
  if (context == NULL)
    return;
  g_clear_pointer (&context->users, mail_users_free);
  g_clear_pointer (&context->retired, g_ptr_array_unref);
  g_clear_object (&context->certificate);
  g_mutex_clear (&context->lock);
  g_free (context);
}

void
smtp_context_set_enqueue (SmtpContext *context,
                          SmtpEnqueueFunc func,
                          gpointer user_data)
{
  context->enqueue = func;
  context->enqueue_data = user_data;
}

void
smtp_context_set_protocol_log (SmtpContext *context, gboolean enabled)
{
  context->protocol_log = enabled;
}

GTlsCertificate *
smtp_context_get_certificate (SmtpContext *context)
{
  return context->certificate;
}

static gboolean
smtp_stat_changed (const struct stat *a, const struct stat *b)
{
  return a->st_ino != b->st_ino || a->st_size != b->st_size ||
         a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
         a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

MailUsers *
smtp_context_get_users (SmtpContext *context)
{
  g_autoptr (GError) error = NULL;
  struct stat now;
  MailUsers *fresh = NULL;
  MailUsers *users = NULL;

  g_mutex_lock (&context->lock);
  /* "mw-admin user add" rewrites the file (rename): a new inode or mtime
   * tells us to read it again, without restarting the server. */
  if (g_stat (context->config->users_file, &now) != 0)
    memset (&now, 0, sizeof now);
  if (smtp_stat_changed (&now, &context->users_stat))
    {
      fresh = mail_users_load (context->config->users_file, &error);
      if (fresh == NULL)
        g_warning ("keeping the old users: %s", error->message);
      else
        {
          g_ptr_array_add (context->retired, context->users);
          context->users = fresh;
          g_message ("reloaded users from %s", context->config->users_file);
        }
      context->users_stat = now;
    }
  users = context->users;
  g_mutex_unlock (&context->lock);
  return users;
}
