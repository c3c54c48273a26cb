/* SPDX-License-Identifier: MIT
 * imap-idle.c: the news, and IDLE, which pushes it (RFC 9051 §7.4.1
 * EXISTS, §7.5.1 EXPUNGE, §7.5.2 FETCH FLAGS; RFC 7162 §3.2.10 VANISHED;
 * §6.3.13 and RFC 2177 IDLE).
 *
 * The news is what changed in the selected mailbox since the client last
 * heard: the folder is rescanned and the difference told, after a command
 * (imap_session_report_news ()) or, in IDLE, the moment it happens: the
 * client says IDLE, the server answers "+" and from then on tells of new
 * mail, expunges and flag changes until the client sends DONE.
 *
 * The session thread waits on two things at once in a main context of
 * its own: the connection becoming readable (the DONE), and the store's
 * inotify monitor on the selected mailbox (mail_folder_monitor ()). A
 * delivery by mw-smtpd renames a file into new/, inotify wakes us, and
 * the news goes out at once.
 */
#include <string.h>

#include "imap-session-private.h"

/* ---- news for the client (§7.4.1, §7.5.1, §7.5.2) ---------------------- */

/* What the client knew of one message before a rescan. */
typedef struct
{
  guint32 uid;
  MailFlags flags;
  char *keywords; /* space-separated, NULL if none */
} ImapKnown;

static void
imap_known_clear (gpointer data)
{
  g_free (((ImapKnown *) data)->keywords);
}

static char *
imap_keywords_join (const MailMessage *message)
{
  return message->keywords ? g_strjoinv (" ", message->keywords) : NULL;
}

static GArray *
imap_session_snapshot (ImapSession *session)
{
  guint count = mail_folder_get_count (session->folder);
  GArray *known = g_array_sized_new (FALSE, FALSE, sizeof (ImapKnown), count);

  g_array_set_clear_func (known, imap_known_clear);
  for (guint i = 0; i < count; i++)
    {
      const MailMessage *message =
          mail_folder_peek_message (session->folder, i);
      ImapKnown entry = { message->uid, message->flags,
                          imap_keywords_join (message) };

      g_array_append_val (known, entry);
    }
  return known;
}

/* "* n EXPUNGE" for each message gone, numbered as the client counts
 * while it applies them one by one (§7.5.1); under QRESYNC one
 * "* VANISHED uids" instead (RFC 7162 §3.2.10). Returns how many. */
static guint
imap_report_expunges (ImapSession *session, GArray *known)
{
  g_autoptr (GArray) gone = g_array_new (FALSE, FALSE, sizeof (guint32));

  for (guint i = 0; i < known->len; i++)
    {
      const ImapKnown *entry = &g_array_index (known, ImapKnown, i);

      if (mail_folder_find_uid (session->folder, entry->uid) >= 0)
        continue;
      if (!session->flags.qresync)
        imap_reply_untagged (session, "%u EXPUNGE", i + 1 - gone->len);
      g_array_append_val (gone, entry->uid);
    }
  if (session->flags.qresync && gone->len > 0)
    {
      g_autofree char *set =
          imap_seqset_format ((const guint32 *) gone->data, gone->len);

      imap_reply_untagged (session, "VANISHED %s", set);
    }
  return gone->len;
}

/* "* n FETCH (FLAGS (...) [UID u] [MODSEQ (m)])": what the flags of one
 * message are now (§7.5.2; RFC 7162 §3.1.4 adds MODSEQ under CONDSTORE). */
void
imap_reply_flags (ImapSession *session,
                  guint index,
                  const MailMessage *message,
                  gboolean with_uid)
{
  g_autofree char *flags = imap_session_flags_string (session, message);
  g_autoptr (GString) line = g_string_new (NULL);

  g_string_printf (line, "%u FETCH (FLAGS (%s)", index + 1, flags);
  if (with_uid)
    g_string_append_printf (line, " UID %u", message->uid);
  if (session->flags.condstore)
    g_string_append_printf (line, " MODSEQ (%" G_GUINT64_FORMAT ")",
                            message->modseq);
  g_string_append_c (line, ')');
  imap_reply_untagged (session, "%s", line->str);
}
/* "* n FETCH (FLAGS (...) UID u)" for flags another session changed. */
static void
imap_report_flag_changes (ImapSession *session, GArray *known)
{
  guint count = mail_folder_get_count (session->folder);
  guint k = 0;

  for (guint i = 0; i < count; i++)
    {
      const MailMessage *message =
          mail_folder_peek_message (session->folder, i);
      g_autofree char *keywords = NULL;
      g_autofree char *text = NULL;
      const ImapKnown *entry = NULL;

      while (k < known->len &&
             g_array_index (known, ImapKnown, k).uid < message->uid)
        k++;
      if (k == known->len)
        return; /* the rest are new: EXISTS told of them */
      entry = &g_array_index (known, ImapKnown, k);
      if (entry->uid != message->uid)
        continue;
      keywords = imap_keywords_join (message);
      if (entry->flags == message->flags &&
          g_strcmp0 (entry->keywords, keywords) == 0)
        continue;
      imap_session_announce_keywords (session, message);
      imap_reply_flags (session, i, message, TRUE);
    }
}

void
imap_session_report_news (ImapSession *session,
                          gboolean allow_expunge,
                          gboolean force)
{
  g_autoptr (GArray) known = NULL;
  g_autoptr (GError) error = NULL;
  guint32 uidvalidity;
  guint removed;
  guint added = 0;

  if (session->state != IMAP_STATE_SELECTED ||
      (!force && !mail_folder_may_have_changed (session->folder)))
    return;
  known = imap_session_snapshot (session);
  uidvalidity = mail_folder_get_uidvalidity (session->folder);
  /* §7.5.1: during FETCH, STORE, SEARCH new mail and flags may be told,
   * expunges wait: those messages stay in the view, gone */
  if (!mail_folder_sync_full (session->folder,
                              allow_expunge ? 0 : MAIL_FOLDER_SYNC_KEEP, &added,
                              NULL, &error))
    {
      g_warning ("%s: %s", session->peer, error->message);
      return;
    }
  if (mail_folder_get_uidvalidity (session->folder) != uidvalidity)
    {
      /* RFC 9051 §2.3.1.1: the UIDs the client holds are void */
      imap_reply_status (session, IMAP_STATUS_BYE, IMAP_CODE_NONE, NULL,
                         "UIDVALIDITY changed: reconnect and resynchronise");
      session->flags.done = TRUE;
      return;
    }
  removed = imap_report_expunges (session, known);
  if (added > 0 || removed > 0)
    imap_reply_untagged (session, "%u EXISTS",
                         mail_folder_get_count (session->folder));
  if (added > 0 && !session->flags.rev2)
    {
      guint recent = 0;

      for (guint i = 0; i < mail_folder_get_count (session->folder); i++)
        recent += mail_folder_peek_message (session->folder, i)->recent;
      imap_reply_untagged (session, "%u RECENT", recent);
    }
  imap_report_flag_changes (session, known);
}

/* ---- IDLE (§6.3.13, RFC 2177) ------------------------------------------ */

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

/* A command in place of DONE is not run, so a synchronising literal in
 * it is not asked for ("+"); a non-synchronising one is on its way and is
 * read, so that its octets are not taken for the next command. */
static gboolean
on_idle_literal (guint64 size, gboolean non_sync, gpointer user_data)
{
  return non_sync;
}

/* Reads what ends IDLE, whole (a command with its literals), and answers
 * it with IDLE's tag: OK for DONE, BAD for anything else (RFC 2177 §3:
 * DONE is all a client may send; Dovecot answers the same). Either way
 * IDLE is over and the next line is a command. */
static void
imap_idle_finish (ImapSession *session)
{
  ImapAssembler *assembler = &session->assembler;
  g_autoptr (GError) error = NULL;
  g_autofree char *first = NULL;
  gboolean ok = FALSE;

  ok = imap_read_message (session->stream, assembler, on_idle_literal, NULL,
                          &first, NULL, NULL, &error);
  if (ok && assembler->message->len == strlen ("DONE") &&
      g_ascii_strcasecmp (first, "DONE") == 0)
    {
      imap_reply_completed (session);
      return;
    }
  if (!ok &&
      !g_error_matches (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_TOO_BIG) &&
      !g_error_matches (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_TOO_LONG))
    {
      g_debug ("%s: IDLE: %s", session->peer, error->message);
      session->flags.done = TRUE;
      return;
    }
  imap_reply_bad (session, "IDLE ends with DONE (RFC 2177 §3): what came "
                           "instead was not run, and IDLE is over");
  /* RFC 7888 §4: octets of a literal too large to read are coming, and
   * cannot be told apart from commands */
  if (!ok && assembler->literal > 0 && assembler->non_sync)
    {
      imap_reply_status (session, IMAP_STATUS_BYE, IMAP_CODE_TOOBIG, NULL,
                         "literal too large, closing the connection");
      session->flags.done = TRUE;
    }
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
