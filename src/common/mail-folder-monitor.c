/* SPDX-License-Identifier: MIT
 * mail-folder-monitor.c: watching a folder's new/ and cur/ for changes
 * (inotify through GFileMonitor), so IDLE (RFC 2177) and open sessions
 * learn of new mail, flag changes and expunges (maildir(5)).
 */
#include "mail-folder-private.h"

/* ---- watching a folder ----------------------------------------------- */

/* A GFileMonitor watches one directory, but new mail appears in new/ while
 * flag changes and expunges happen in cur/. So this monitor owns one
 * child monitor for each and re-emits their "changed" signals as its own;
 * cancelling or freeing it stops both. */
#define MAIL_TYPE_DIR_MONITOR (mail_dir_monitor_get_type ())
G_DECLARE_FINAL_TYPE (
    MailDirMonitor, mail_dir_monitor, MAIL, DIR_MONITOR, GFileMonitor)

struct _MailDirMonitor
{
  GFileMonitor parent_instance;
  GFileMonitor *children[2]; /* new/, cur/ */
};

G_DEFINE_TYPE (MailDirMonitor, mail_dir_monitor, G_TYPE_FILE_MONITOR)

static void
on_child_changed (GFileMonitor *child,
                  GFile *file,
                  GFile *other_file,
                  GFileMonitorEvent event,
                  gpointer user_data)
{
  GFileMonitor *self = user_data;

  if (!g_file_monitor_is_cancelled (self))
    g_signal_emit_by_name (self, "changed", file, other_file, event);
}

static gboolean
mail_dir_monitor_cancel (GFileMonitor *monitor)
{
  MailDirMonitor *self = MAIL_DIR_MONITOR (monitor);

  for (gsize i = 0; i < G_N_ELEMENTS (self->children); i++)
    {
      if (self->children[i] != NULL)
        g_file_monitor_cancel (self->children[i]);
    }
  return TRUE;
}

static void
mail_dir_monitor_dispose (GObject *object)
{
  MailDirMonitor *self = MAIL_DIR_MONITOR (object);

  for (gsize i = 0; i < G_N_ELEMENTS (self->children); i++)
    {
      if (self->children[i] != NULL)
        g_signal_handlers_disconnect_by_data (self->children[i], self);
      g_clear_object (&self->children[i]);
    }
  G_OBJECT_CLASS (mail_dir_monitor_parent_class)->dispose (object);
}

static void
mail_dir_monitor_class_init (MailDirMonitorClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = mail_dir_monitor_dispose;
  G_FILE_MONITOR_CLASS (klass)->cancel = mail_dir_monitor_cancel;
}

static void
mail_dir_monitor_init (MailDirMonitor *self)
{
}

GFileMonitor *
mail_folder_monitor (MailFolder *folder, GError **error)
{
  static const char *const subdirs[] = { "new", "cur" };
  g_autoptr (MailDirMonitor) self = NULL;

  g_return_val_if_fail (folder != NULL, NULL);
  self = g_object_new (MAIL_TYPE_DIR_MONITOR, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (subdirs); i++)
    {
      g_autofree char *path = g_build_filename (folder->dir, subdirs[i], NULL);
      g_autoptr (GFile) file = g_file_new_for_path (path);
      GError *local_error = NULL;

      self->children[i] = g_file_monitor_directory (file, G_FILE_MONITOR_NONE,
                                                    NULL, &local_error);
      if (self->children[i] == NULL)
        {
          g_set_error (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_FAILED,
                       "watch %s: %s", path, local_error->message);
          g_error_free (local_error);
          return NULL;
        }
      g_signal_connect (self->children[i], "changed",
                        G_CALLBACK (on_child_changed), self);
    }
  return G_FILE_MONITOR (g_steal_pointer (&self));
}
