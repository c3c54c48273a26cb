/* SPDX-License-Identifier: MIT
 * mw-imap-watch.c: `mw-imap watch [FOLDER]`, the server push inside a
 * pull protocol. The client selects the folder and says IDLE (RFC 2177,
 * RFC 9051 §6.3.13); from then on the server speaks first: new mail as
 * EXISTS (§7.4.1), expunges as EXPUNGE (§7.5.1) or VANISHED (RFC 7162
 * §3.2.10), flag changes made by other sessions as FETCH FLAGS (§7.5.2).
 * Each is printed as it arrives. New messages are described after DONE
 * (no command may run inside IDLE), then IDLE goes on; it is renewed
 * before the server's 30-minute timeout (§5.4). Ctrl-C sends DONE and
 * LOGOUT.
 */
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>

#include "mw-imap.h"

typedef struct
{
  ImapClient *client;
  GHashTable *flags;  /* UID -> "\\Seen \\Flagged": what we last saw */
  guint32 last_uid;   /* the highest UID described */
  gboolean new_mail;  /* an EXISTS grew the folder: describe it after DONE */
  gboolean own_fetch; /* our FETCH runs: its answers are not pushes */
  guint events;
} MwImapWatch;

/* ---- Ctrl-C: a cancellable fired from a signal source ----------------- */

typedef struct
{
  GMainContext *context;
  GCancellable *cancellable;
  GThread *thread;
} MwImapSignals;

static gboolean
on_signal (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_CONTINUE;
}

/* The blocking reads of the session cannot see a signal; this thread
 * turns SIGINT and SIGTERM into the cancellation of the IDLE read. */
static gpointer
mw_imap_signal_thread (gpointer user_data)
{
  MwImapSignals *signals = user_data;

  while (!g_cancellable_is_cancelled (signals->cancellable))
    g_main_context_iteration (signals->context, TRUE);
  return NULL;
}

static void
mw_imap_signals_start (MwImapSignals *signals)
{
  const int numbers[] = { SIGINT, SIGTERM };

  signals->context = g_main_context_new ();
  signals->cancellable = g_cancellable_new ();
  for (guint i = 0; i < G_N_ELEMENTS (numbers); i++)
    {
      g_autoptr (GSource) source = g_unix_signal_source_new (numbers[i]);

      g_source_set_callback (source, on_signal, signals->cancellable, NULL);
      g_source_attach (source, signals->context);
    }
  signals->thread =
      g_thread_new ("mw-imap-signals", mw_imap_signal_thread, signals);
}

static void
mw_imap_signals_stop (MwImapSignals *signals)
{
  g_cancellable_cancel (signals->cancellable);
  g_main_context_wakeup (signals->context);
  g_thread_join (signals->thread);
  g_object_unref (signals->cancellable);
  g_main_context_unref (signals->context);
}

/* ---- what the server pushes ----------------------------------------- */

static void mw_imap_watch_say (MwImapWatch *watch, const char *format, ...)
    G_GNUC_PRINTF (2, 3);

static void
mw_imap_watch_say (MwImapWatch *watch, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  vprintf (format, args);
  va_end (args);
  printf ("\n");
  fflush (stdout);
  watch->events++;
}

/* "message 12 flagged \Seen by another session" for each flag that came
 * or went since we last saw the message. */
static void
mw_imap_watch_flags_changed (MwImapWatch *watch, guint32 uid, char *now)
{
  const char *before =
      g_hash_table_lookup (watch->flags, GUINT_TO_POINTER (uid));
  g_auto (GStrv) old_flags = g_strsplit (before ? before : "", " ", -1);
  g_auto (GStrv) new_flags = g_strsplit (now, " ", -1);

  for (guint i = 0; new_flags[i] != NULL; i++)
    if (new_flags[i][0] != '\0' &&
        !g_strv_contains ((const char *const *) old_flags, new_flags[i]))
      mw_imap_watch_say (watch, "message %u flagged %s by another session", uid,
                         new_flags[i]);
  for (guint i = 0; old_flags[i] != NULL; i++)
    if (old_flags[i][0] != '\0' &&
        !g_strv_contains ((const char *const *) new_flags, old_flags[i]))
      mw_imap_watch_say (watch, "message %u unflagged %s by another session",
                         uid, old_flags[i]);
  g_hash_table_insert (watch->flags, GUINT_TO_POINTER (uid), now);
}

static void
mw_imap_watch_fetch (MwImapWatch *watch, const ImapReply *reply)
{
  guint64 uid = 0;
  const ImapArg *flags = imap_reply_fetch_item (reply, "FLAGS");

  if (flags == NULL)
    return;
  if (!imap_reply_fetch_number (reply, "UID", &uid))
    uid = imap_client_uid_of (watch->client, reply->response.number);
  if (uid != 0)
    mw_imap_watch_flags_changed (watch, (guint32) uid,
                                 imap_arg_join_atoms (flags));
}

/* Called before the client applies the response to its view. */
static void
on_untagged (ImapClient *client, const ImapReply *reply, gpointer user_data)
{
  MwImapWatch *watch = user_data;
  const ImapMailbox *mailbox = imap_client_get_mailbox (client);

  if (watch->own_fetch || mailbox == NULL)
    return;
  if (imap_reply_is (reply, "EXISTS") &&
      reply->response.number > mailbox->exists)
    watch->new_mail = TRUE;
  else if (imap_reply_is (reply, "EXPUNGE"))
    mw_imap_watch_say (watch, "message %u expunged",
                       imap_client_uid_of (client, reply->response.number));
  else if (imap_reply_is (reply, "VANISHED") && reply->args->len == 1)
    mw_imap_watch_say (watch, "messages %s expunged",
                       ((ImapArg *) reply->args->pdata[0])->data);
  else if (imap_reply_is (reply, "FETCH"))
    mw_imap_watch_fetch (watch, reply);
}

/* ---- the loop ------------------------------------------------------- */

/* UID FETCH of what is new since @last_uid: the flags we now know, and
 * with @describe one line per message. */
static gboolean
mw_imap_watch_fetch_since (MwImapWatch *watch,
                           gboolean describe,
                           GError **error)
{
  g_autoptr (GPtrArray) replies = NULL;
  g_autoptr (ImapReply) tagged = NULL;

  if (imap_client_get_mailbox (watch->client)->exists == 0)
    return TRUE;
  watch->own_fetch = TRUE;
  tagged = imap_client_run (watch->client, &replies, error,
                            "UID FETCH %u:* (UID FLAGS%s)", watch->last_uid + 1,
                            describe ? " ENVELOPE" : "");
  watch->own_fetch = FALSE;
  if (tagged == NULL)
    return FALSE;
  for (guint i = 0; i < replies->len; i++)
    {
      ImapReply *reply = g_ptr_array_index (replies, i);
      guint64 uid = 0;
      g_autofree char *what = NULL;

      /* "n:*" names the last message even when its UID is below n */
      if (!imap_reply_fetch_number (reply, "UID", &uid) ||
          uid <= watch->last_uid)
        continue;
      watch->last_uid = (guint32) uid;
      g_hash_table_insert (
          watch->flags, GUINT_TO_POINTER (uid),
          imap_arg_join_atoms (imap_reply_fetch_item (reply, "FLAGS")));
      if (!describe)
        continue;
      what =
          mw_imap_describe_envelope (imap_reply_fetch_item (reply, "ENVELOPE"));
      mw_imap_watch_say (watch, "new message %u %s", (guint32) uid, what);
    }
  return TRUE;
}

/* One IDLE, until a push needs a command, the renewal time, Ctrl-C or
 * the last event wanted. *out_stop: the user is done. */
static gboolean
mw_imap_watch_idle (MwImapWatch *watch,
                    const MwImapOptions *o,
                    GCancellable *cancellable,
                    gboolean *out_stop,
                    GError **error)
{
  ImapIdleResult result = IMAP_IDLE_PUSHED;

  if (!imap_client_idle_start (watch->client, error))
    return FALSE;
  for (;;)
    {
      result = imap_client_idle_wait (watch->client, o->idle_renew, cancellable,
                                      error);
      if (result == IMAP_IDLE_FAILED)
        return FALSE;
      *out_stop = result == IMAP_IDLE_CANCELLED ||
                  (o->max_events > 0 && watch->events >= o->max_events);
      if (*out_stop || result == IMAP_IDLE_TIMEOUT || watch->new_mail)
        break;
    }
  if (!imap_client_idle_done (watch->client, error))
    return FALSE;
  if (watch->new_mail)
    {
      watch->new_mail = FALSE;
      if (!mw_imap_watch_fetch_since (watch, TRUE, error))
        return FALSE;
    }
  *out_stop = *out_stop || g_cancellable_is_cancelled (cancellable) ||
              (o->max_events > 0 && watch->events >= o->max_events);
  return TRUE;
}

gboolean
mw_imap_watch (const MwImapOptions *o, char **args, GError **error)
{
  const char *folder = args[0] ? args[0] : "INBOX";
  g_autoptr (ImapClient) client = mw_imap_open (o, error);
  g_autoptr (GHashTable) flags =
      g_hash_table_new_full (NULL, NULL, NULL, g_free);
  MwImapWatch watch = { client, flags, 0, FALSE, FALSE, 0 };
  MwImapSignals signals = { 0 };
  gboolean stop = FALSE;
  gboolean ok = TRUE;

  if (client == NULL ||
      !imap_client_select (client, folder, FALSE, NULL, NULL, error) ||
      !imap_client_load_uids (client, error) ||
      !mw_imap_watch_fetch_since (&watch, FALSE, error))
    return FALSE;
  imap_client_set_untagged_handler (client, on_untagged, &watch);
  /* before the line that says Ctrl-C works: a SIGINT sent as soon as it
   * is read must find the handler, not kill the process */
  mw_imap_signals_start (&signals);
  printf ("watching %s: %u messages; the server will push what changes "
          "(IDLE). Ctrl-C stops.\n",
          folder, imap_client_get_mailbox (client)->exists);
  fflush (stdout);
  while (ok && !stop)
    ok = mw_imap_watch_idle (&watch, o, signals.cancellable, &stop, error);
  mw_imap_signals_stop (&signals);
  imap_client_set_untagged_handler (client, NULL, NULL);
  return ok && imap_client_logout (client, error);
}
