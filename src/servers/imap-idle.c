/* SPDX-License-Identifier: MIT
 * imap-idle.c: IDLE, the push inside the pull protocol (RFC 9051
 * §6.3.13, RFC 2177): the client says IDLE, the server answers "+" and
 * from then on tells of new mail, expunges and flag changes the moment
 * they happen, until the client sends DONE.
 *
 * The session thread waits on two things at once in a main context of
 * its own: the connection becoming readable (the DONE), and the store's
 * inotify monitor on the selected mailbox (mail_folder_monitor ()). A
 * delivery by mw-smtpd renames a file into new/, inotify wakes us, and
 * the news goes out at once.
 */
#include <string.h>

#include "imap-session-private.h"

typedef struct
{
  gboolean readable; /* the client sent something: DONE, we hope */
  gboolean changed;  /* the mailbox changed on disk */
  gboolean expired;  /* RFC 9051 §5.4 autologout */
} ImapIdleWait;

static gboolean
on_readable (GObject *stream, gpointer user_data)
{
  ((ImapIdleWait *) user_data)->readable = TRUE;
  return G_SOURCE_CONTINUE;
}

static void
on_mailbox_changed (GFileMonitor *monitor,
                    GFile *file,
                    GFile *other,
                    GFileMonitorEvent event,
                    gpointer user_data)
{
  ((ImapIdleWait *) user_data)->changed = TRUE;
}

static gboolean
on_expired (gpointer user_data)
{
  ((ImapIdleWait *) user_data)->expired = TRUE;
  return G_SOURCE_REMOVE;
}

/* A source that fires when the client's side can be read: the TLS
 * connection's own input when TLS is on, since it may hold decrypted
 * octets the socket no longer shows. */
static GSource *
imap_idle_input_source (ImapSession *session, ImapIdleWait *wait)
{
  GIOStream *io = mail_stream_get_io (session->stream);
  GInputStream *input = g_io_stream_get_input_stream (io);
  GSource *source = NULL;

  g_return_val_if_fail (G_IS_POLLABLE_INPUT_STREAM (input), NULL);
  source = g_pollable_input_stream_create_source (
      G_POLLABLE_INPUT_STREAM (input), NULL);
  g_source_set_callback (source, G_SOURCE_FUNC (on_readable), wait, NULL);
  return source;
}

/* Waits in @context until the client speaks or the autologout timer
 * fires, telling the news whenever the mailbox changes. */
static void
imap_idle_wait (ImapSession *session, GMainContext *context, ImapIdleWait *wait)
{
  g_autoptr (GSource) input = imap_idle_input_source (session, wait);
  g_autoptr (GSource) timer = g_timeout_source_new_seconds (
      MAX (session->context->config->timeout, IMAP_AUTOLOGOUT_TIMEOUT));

  g_source_set_callback (timer, on_expired, wait, NULL);
  g_source_attach (timer, context);
  if (input != NULL)
    g_source_attach (input, context);
  while (!wait->readable && !wait->expired && !session->flags.done)
    {
      g_main_context_iteration (context, TRUE);
      if (!wait->changed)
        continue;
      wait->changed = FALSE;
      imap_session_report_news (session, TRUE, FALSE);
      if (!mail_stream_flush (session->stream, NULL, NULL))
        session->flags.done = TRUE;
    }
  if (input != NULL)
    g_source_destroy (input);
  g_source_destroy (timer);
}

/* Reads the line that ends IDLE and answers it. */
static void
imap_idle_finish (ImapSession *session)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  gsize length = 0;
  MailLineFlags flags = MAIL_LINE_CRLF;

  if (!mail_stream_read_line (session->stream, &line, &length, &flags, NULL,
                              &error))
    {
      g_debug ("%s: IDLE: %s", session->peer, error->message);
      session->flags.done = TRUE;
      return;
    }
  /* RFC 2177 §3: the only thing a client may send is DONE */
  if (g_ascii_strcasecmp (line, "DONE") != 0)
    imap_reply_bad (session, "expected DONE to end IDLE");
  else
    imap_reply_completed (session);
}

/* §6.3.13: IDLE ... DONE */
void
imap_cmd_idle (ImapSession *session, GPtrArray *args)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GFileMonitor) monitor = NULL;
  g_autoptr (GError) error = NULL;
  ImapIdleWait wait = { FALSE, FALSE, FALSE };

  if (args->len != 0)
    {
      imap_reply_bad (session, "IDLE takes no arguments");
      return;
    }
  g_main_context_push_thread_default (context);
  if (session->state == IMAP_STATE_SELECTED)
    {
      /* watch before telling the news: nothing falls in between */
      monitor = mail_folder_monitor (session->folder, &error);
      if (monitor == NULL)
        g_warning ("%s: IDLE without push: %s", session->peer, error->message);
      else
        g_signal_connect (monitor, "changed", G_CALLBACK (on_mailbox_changed),
                          &wait);
      imap_session_report_news (session, TRUE, FALSE);
    }
  imap_reply_continue (session, "idling, send DONE to stop");
  if (!mail_stream_flush (session->stream, NULL, NULL))
    session->flags.done = TRUE;
  /* a DONE already pipelined behind IDLE needs no waiting */
  if (mail_stream_get_pending (session->stream) == 0)
    imap_idle_wait (session, context, &wait);
  if (monitor != NULL)
    g_file_monitor_cancel (monitor);
  g_clear_object (&monitor);
  g_main_context_pop_thread_default (context);
  if (wait.expired)
    {
      imap_reply_status (session, IMAP_STATUS_BYE, IMAP_CODE_NONE, NULL,
                         "autologout: idle for too long");
      session->flags.done = TRUE;
    }
  else if (!session->flags.done)
    imap_idle_finish (session);
}
