/* SPDX-License-Identifier: MIT
 * test-smtpd-crash.c: mw-smtpd under the failures a real server meets,
 * for real (no mocked store): killed with SIGKILL while several clients
 * send, at random moments, round after round (RFC 5321 §6.1: once the
 * 250 is sent the message must not be lost); a disk that fills up (452
 * 4.3.1, RFC 3463 §3.4; nothing half-written; mail flows again once
 * there is room); a client that pipelines and never reads (RFC 2920:
 * the server's memory stays bounded); and a thousand connections opened
 * and left idle (the server refuses what it will not serve, and serves
 * the next client).
 */
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mail-auth.h"
#include "mail-line.h"
#include "mail-net.h"
#include "mw-harness.h"
#include "smtp-proto.h"

#define SENDERS 6        /* clients sending at once */
#define ROUNDS 5         /* kill -9 rounds */
#define MESSAGES_EACH 40 /* at most, per client and round */

/* ---- a small SMTP client that survives its server's death --------- */

/* One whole reply's code, or 0 if the connection failed. */
static guint
reply_code (MailStream *stream)
{
  for (guint lines = 0; lines < 100; lines++)
    {
      g_autofree char *line = NULL;
      gsize length = 0;
      MailLineFlags flags = 0;
      guint code = 0;
      gboolean last = FALSE;
      const char *text = NULL;

      if (!mail_stream_read_line (stream, &line, &length, &flags, NULL, NULL) ||
          !smtp_proto_parse_reply_line (line, &code, &last, &text))
        return 0;
      if (last)
        return code;
    }
  return 0;
}

static guint
command (MailStream *stream, const char *line)
{
  mail_stream_write_line (stream, line);
  return mail_stream_flush (stream, NULL, NULL) ? reply_code (stream) : 0;
}

/* A message of about @padding octets more, in lines of 78 (RFC 5322
 * §2.1.1), ending in a line that says whose end it is. */
static char *
message_text (const char *token, gsize padding)
{
  g_autoptr (GString) text = g_string_new (NULL);

  g_string_printf (text, "Subject: %s\r\nMessage-ID: <%s@example.test>\r\n\r\n",
                   token, token);
  for (gsize done = 0; done < padding; done += 78)
    g_string_append (text, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n");
  g_string_append_printf (text, "end of %s\r\n", token);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* MAIL, RCPT, DATA, the text: TRUE only when the text got its 250. */
static gboolean
send_one (MailStream *stream,
          const char *sender,
          const char *recipient,
          const char *token,
          gsize padding)
{
  g_autofree char *mail = g_strdup_printf ("MAIL FROM:<%s>", sender);
  g_autofree char *rcpt = g_strdup_printf ("RCPT TO:<%s>", recipient);
  g_autofree char *text = message_text (token, padding);
  g_autoptr (GString) stuffed = g_string_new (NULL);

  if (command (stream, mail) != 250 || command (stream, rcpt) != 250 ||
      command (stream, "DATA") != 354)
    return FALSE;
  mail_dot_stuff (stuffed, text, strlen (text)); /* and the "." line */
  mail_stream_write (stream, stuffed->str, stuffed->len);
  return mail_stream_flush (stream, NULL, NULL) && reply_code (stream) == 250;
}

static MailStream *
connect_ehlo (guint16 port)
{
  MailStream *stream =
      mail_net_connect ("127.0.0.1", port, FALSE, NULL, FALSE,
                        MAIL_LINE_MAX_SMTP_REPLY, 20, NULL, NULL);

  if (stream != NULL &&
      (reply_code (stream) != 220 || command (stream, "EHLO c.example") != 250))
    g_clear_pointer (&stream, mail_stream_free);
  return stream;
}

/* Submission (RFC 6409): STARTTLS, then AUTH PLAIN as alice, so that
 * mail for another domain is taken for the queue. */
static MailStream *
connect_submission (guint16 port, const char *ca_file)
{
  g_autofree char *plain =
      mail_sasl_plain_encode (NULL, "alice", "alice-secret");
  g_autofree char *auth = g_strdup_printf ("AUTH PLAIN %s", plain);
  MailStream *stream = connect_ehlo (port);

  if (stream != NULL && (command (stream, "STARTTLS") != 220 ||
                         !mail_stream_start_tls_client (
                             stream, "localhost", ca_file, FALSE, NULL, NULL) ||
                         command (stream, "EHLO c.example") != 250 ||
                         command (stream, auth) != 235))
    g_clear_pointer (&stream, mail_stream_free);
  return stream;
}

/* ---- kill -9 while many clients send -------------------------------- */

typedef struct
{
  guint16 port;            /* smtp: mail for alice */
  guint16 submission_port; /* for the queue */
  const char *ca_file;
  guint round;
  guint sender;
  GMutex *lock;
  GHashTable *acknowledged; /* token -> recipient: got 250 */
} Sender;

/* Sends until the server dies (or MESSAGES_EACH): odd senders to alice
 * on port 25, even ones through submission to another domain (the
 * queue). */
static gpointer
sender_run (gpointer data)
{
  Sender *s = data;
  gboolean local = s->sender % 2 == 1;
  g_autoptr (MailStream) stream =
      local ? connect_ehlo (s->port)
            : connect_submission (s->submission_port, s->ca_file);
  const char *to = local ? "alice@example.test" : "carol@remote.example";

  for (guint i = 0; stream != NULL && i < MESSAGES_EACH; i++)
    {
      g_autofree char *token =
          g_strdup_printf ("r%us%um%u", s->round, s->sender, i);

      /* submission: alice sends as herself */
      if (!send_one (stream,
                     local ? "sender@remote.example" : "alice@example.test", to,
                     token, 512 + 97 * i))
        break;
      g_mutex_lock (s->lock);
      g_hash_table_insert (s->acknowledged, g_steal_pointer (&token),
                           (gpointer) to);
      g_mutex_unlock (s->lock);
    }
  return NULL;
}

/* token -> how many complete copies; a file that does not end with its
 * own "end of" line (half-written) fails the test. */
static void
count_tokens (GHashTable *copies, const char *path)
{
  g_autofree char *text = NULL;
  g_autofree char *token = NULL;
  g_autofree char *end = NULL;
  const char *subject = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  subject = strstr (text, "Subject: ");
  g_assert_nonnull (subject);
  token = g_strndup (subject + 9, strcspn (subject + 9, "\r\n"));
  end = g_strdup_printf ("end of %s\r\n", token);
  if (!g_str_has_suffix (text, end))
    g_error ("%s is not whole", path);
  g_hash_table_insert (
      copies, g_strdup (token),
      GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (copies, token)) +
                        1));
}

/* The copies in alice's new/ and cur/, and in the queue (entries are
 * the .msg files that have their .env: RFC 5321 §4.5.4). */
static GHashTable *
collect_copies (MwHarness *harness)
{
  GHashTable *copies =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto (GStrv) files = mw_harness_list_messages (harness, "alice", NULL);
  g_autofree char *queue =
      g_build_filename (mw_harness_dir (harness), "queue", NULL);
  g_autoptr (GDir) dir = g_dir_open (queue, 0, NULL);
  const char *name = NULL;

  for (guint i = 0; files[i] != NULL; i++)
    count_tokens (copies, files[i]);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (queue, name, NULL);
      g_autofree char *envelope = NULL;

      if (!g_str_has_suffix (name, ".msg"))
        continue;
      envelope = g_strdup (path);
      strcpy (envelope + strlen (envelope) - 4, ".env");
      if (g_file_test (envelope, G_FILE_TEST_EXISTS))
        count_tokens (copies, path);
    }
  return copies;
}

static gboolean
acknowledged_to (GHashTable *acknowledged, const char *recipient)
{
  GHashTableIter iter;
  gpointer to = NULL;

  g_hash_table_iter_init (&iter, acknowledged);
  while (g_hash_table_iter_next (&iter, NULL, &to))
    if (strcmp (to, recipient) == 0)
      return TRUE;
  return FALSE;
}

/* Has this round's mail for alice and for the queue got 250s yet? */
static gboolean
round_flows (GHashTable *acknowledged, guint round)
{
  g_autofree char *prefix = g_strdup_printf ("r%us", round);
  gboolean local = FALSE;
  gboolean queued = FALSE;
  GHashTableIter iter;
  gpointer token = NULL;
  gpointer to = NULL;

  g_hash_table_iter_init (&iter, acknowledged);
  while (g_hash_table_iter_next (&iter, &token, &to))
    if (g_str_has_prefix (token, prefix))
      {
        local = local || strcmp (to, "alice@example.test") == 0;
        queued = queued || strcmp (to, "carol@remote.example") == 0;
      }
  return local && queued;
}

/* Polls the senders' progress (at most 20 s: a loaded machine fsyncs
 * slowly); the kill comes after both kinds have flowed. */
static void
wait_for_traffic (GMutex *lock, GHashTable *acknowledged, guint round)
{
  gboolean flows = FALSE;

  for (guint tries = 0; tries < 2000 && !flows; tries++)
    {
      g_mutex_lock (lock);
      flows = round_flows (acknowledged, round);
      g_mutex_unlock (lock);
      if (!flows)
        g_usleep (10 * 1000);
    }
  g_assert_true (flows);
}

/* Files left in @user's Maildir/tmp/. */
static guint
count_tmp_files (MwHarness *harness, const char *user)
{
  g_autofree char *maildir = mw_harness_maildir (harness, user);
  g_autofree char *tmp = g_build_filename (maildir, "tmp", NULL);
  g_autoptr (GDir) dir = g_dir_open (tmp, 0, NULL);
  guint count = 0;

  while (dir != NULL && g_dir_read_name (dir) != NULL)
    count++;
  return count;
}

static void
test_kill_9_rounds (gconstpointer data)
{
  g_autoptr (MwHarness) harness =
      mw_harness_new ("[routes]\nremote.example = 127.0.0.1:9\n"
                      "[queue]\nretry_min = 600\nretry_max = 600\n");
  g_autoptr (GHashTable) acknowledged =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) copies = NULL;
  GMutex lock;
  GHashTableIter iter;
  gpointer token = NULL;

  (void) data;
  g_mutex_init (&lock);
  for (guint round = 0; round < ROUNDS; round++)
    {
      GPid server = mw_harness_start (harness, "mw-smtpd", NULL);
      Sender senders[SENDERS];
      GThread *threads[SENDERS];

      for (guint i = 0; i < SENDERS; i++)
        {
          senders[i] = (Sender){ mw_harness_port (harness, "smtp"),
                                 mw_harness_port (harness, "submission"),
                                 mw_harness_cert (harness),
                                 round,
                                 i,
                                 &lock,
                                 acknowledged };
          threads[i] = g_thread_new ("sender", sender_run, &senders[i]);
        }
      /* once both kinds of mail flow (bounded), at a random moment */
      wait_for_traffic (&lock, acknowledged, round);
      g_usleep (g_random_int_range (0, 150) * 1000);
      mw_harness_signal (harness, server, SIGKILL);
      for (guint i = 0; i < SENDERS; i++)
        g_thread_join (threads[i]);
    }
  g_mutex_clear (&lock);
  /* after a restart everything acknowledged is there once, whole */
  mw_harness_start (harness, "mw-smtpd", NULL);
  copies = collect_copies (harness);
  g_test_message ("%u messages got their 250 over %u rounds; %u distinct "
                  "messages stored",
                  g_hash_table_size (acknowledged), ROUNDS,
                  g_hash_table_size (copies));
  g_assert_cmpuint (g_hash_table_size (acknowledged), >, 0);
  g_assert_true (acknowledged_to (acknowledged, "alice@example.test"));
  g_assert_true (acknowledged_to (acknowledged, "carol@remote.example"));
  g_hash_table_iter_init (&iter, acknowledged);
  while (g_hash_table_iter_next (&iter, &token, NULL))
    g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (copies, token)),
                      ==, 1);
  /* and what was stored without its 250 (killed before it), once too */
  g_hash_table_iter_init (&iter, copies);
  while (g_hash_table_iter_next (&iter, &token, NULL))
    g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (copies, token)),
                      ==, 1);
  /* the messages the kills cut off in the middle left no file in tmp/:
   * mw-smtpd writes them there unnamed, so they died with the process */
  g_assert_cmpuint (count_tmp_files (harness, "alice"), ==, 0);
}

/* ---- a full disk ------------------------------------------------------ */

/* Runs @command in @dir inside the mount namespace of @server (its
 * tmpfs is visible only there), with util-linux's nsenter; its output.
 * The directory is named anew in there: a working directory inherited
 * from outside would still be the one under the mount. */
static char *
in_server_namespace (MwHarness *harness,
                     GPid server,
                     const char *dir,
                     const char *command)
{
  g_autofree char *target = g_strdup_printf ("%d", server);
  g_autofree char *script = g_strdup_printf ("cd '%s' && %s", dir, command);
  const char *argv[] = {
    "nsenter", "-t", target, "-m", "sh", "-c", script, NULL
  };
  g_autofree char *err = NULL;
  char *out = NULL;

  g_assert_cmpint (mw_harness_run (harness, argv, NULL, &out, &err), ==, 0);
  return out;
}

/* Sends one 100 KiB message; the code of the reply to its text. */
static guint
send_big (MailStream *stream, guint i)
{
  g_autofree char *token = g_strdup_printf ("full%u", i);
  g_autofree char *text = message_text (token, 100 * 1024);
  g_autoptr (GString) stuffed = g_string_new (NULL);

  g_assert_cmpuint (command (stream, "MAIL FROM:<s@remote.example>"), ==, 250);
  g_assert_cmpuint (command (stream, "RCPT TO:<alice@example.test>"), ==, 250);
  g_assert_cmpuint (command (stream, "DATA"), ==, 354);
  mail_dot_stuff (stuffed, text, strlen (text)); /* and the "." line */
  mail_stream_write (stream, stuffed->str, stuffed->len);
  g_assert_true (mail_stream_flush (stream, NULL, NULL));
  return reply_code (stream);
}

/* A real full disk: 452 4.3.1 (RFC 3463 §3.4, a transient failure),
 * nothing half-written, the session goes on, and once there is room
 * again the next message is taken. */
static void
test_full_disk (gconstpointer data)
{
  g_autoptr (MwHarness) harness = mw_harness_new (NULL);
  g_autofree char *root =
      g_build_filename (mw_harness_dir (harness), "small", NULL);
  g_autofree char *extra =
      g_strdup_printf ("[general]\nmail_root = %s\n", root);
  g_autofree char *config = NULL;
  g_autofree char *whole = NULL;
  g_autofree char *listing = NULL;
  g_autofree char *left = NULL;
  g_autofree char *freed = NULL;
  g_autoptr (MailStream) stream = NULL;
  guint accepted = 0;
  guint code = 0;
  GPid server = 0;

  (void) data;
  /* a group given again overrides the generated keys (GKeyFile) */
  g_assert_true (
      g_file_get_contents (mw_harness_config (harness), &config, NULL, NULL));
  whole = g_strconcat (config, extra, NULL);
  g_assert_true (
      g_file_set_contents (mw_harness_config (harness), whole, -1, NULL));
  if (!mw_harness_require ("nsenter", "util-linux"))
    return;
  server = mw_harness_start_on_tmpfs (harness, "mw-smtpd", root, "1m");
  if (server == 0)
    {
      g_test_skip ("no CAP_SYS_ADMIN: cannot mount a tmpfs in a private "
                   "mount namespace");
      return;
    }
  stream = connect_ehlo (mw_harness_port (harness, "smtp"));
  g_assert_nonnull (stream);
  while (accepted < 40 && (code = send_big (stream, accepted)) == 250)
    accepted++;
  g_test_message ("%u x 100 KiB taken on a 1 MiB disk, then %u", accepted,
                  code);
  g_assert_cmpuint (code, ==, SMTP_REPLY_INSUFFICIENT_STORAGE);
  g_assert_cmpuint (accepted, >, 0);
  /* nothing half-written: as many files as 250s, and tmp/ empty */
  listing = in_server_namespace (harness, server, root,
                                 "ls -A alice/Maildir/new | wc -l");
  g_assert_cmpuint (g_ascii_strtoull (listing, NULL, 10), ==, accepted);
  left = in_server_namespace (harness, server, root,
                              "ls -A alice/Maildir/tmp | wc -l");
  g_assert_cmpuint (g_ascii_strtoull (left, NULL, 10), ==, 0);
  g_assert_cmpuint (command (stream, "NOOP"), ==, 250);
  /* room again: the next message is taken */
  freed = in_server_namespace (harness, server, root,
                               "rm alice/Maildir/new/* && echo freed");
  g_assert_nonnull (strstr (freed, "freed"));
  g_assert_cmpuint (send_big (stream, 99), ==, 250);
}

/* ---- clients that never read, and clients that never speak --------- */

typedef struct
{
  int fd;
  gsize sent;
} Flood;

/* Pipelines NOOPs and never reads the replies (RFC 2920 §3.1 allows a
 * client to send ahead; it must read some time). Ends when the socket
 * is shut down under it, or after 24 MB. */
static gpointer
flood_run (gpointer data)
{
  Flood *flood = data;
  g_autofree char *chunk = g_strnfill (64 * 1024, ' ');

  for (gsize i = 0; i + 6 <= 64 * 1024; i += 6)
    memcpy (chunk + i, "NOOP\r\n", 6);
  while (flood->sent < 24u << 20)
    {
      ssize_t n =
          send (flood->fd, chunk, 64 * 1024 - (64 * 1024) % 6, MSG_NOSIGNAL);

      if (n <= 0)
        break;
      flood->sent += (gsize) n;
    }
  return NULL;
}

/* The server stops reading a client that does not read its replies:
 * its memory stays bounded, and other clients are served meanwhile. */
static void
test_never_reads (gconstpointer data)
{
  g_autoptr (MwHarness) harness = mw_harness_new (NULL);
  GPid server = mw_harness_start (harness, "mw-smtpd", NULL);
  guint16 port = mw_harness_port (harness, "smtp");
  guint64 before = mw_harness_rss_kib (server);
  guint64 peak = before;
  Flood flood = { mw_harness_raw_connect (port), 0 };
  g_autofree char *greeting = mw_harness_raw_first_line (flood.fd);
  GThread *thread = g_thread_new ("flood", flood_run, &flood);
  g_autoptr (MailStream) other = NULL;

  (void) data;
  g_assert_true (g_str_has_prefix (greeting, "220 "));
  for (guint i = 0; i < 60; i++)
    {
      peak = MAX (peak, mw_harness_rss_kib (server));
      g_usleep (50 * 1000); /* sampling, for 3 s */
    }
  other = connect_ehlo (port);
  g_assert_nonnull (other);
  g_assert_cmpuint (command (other, "NOOP"), ==, 250);
  shutdown (flood.fd, SHUT_RDWR);
  g_thread_join (thread);
  close (flood.fd);
  g_test_message ("flooded with %" G_GSIZE_FORMAT " octets of NOOP never "
                  "read: VmRSS %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT
                  " KiB at most",
                  flood.sent, before, peak);
  g_assert_cmpuint (flood.sent, <, 24u << 20);
  g_assert_cmpuint (peak - before, <, 16 * 1024);
}

#define IDLE_CLIENTS 1000 /* as many as mw-smtpd serves at once */

/* A thousand connections that never speak: each is greeted and holds a
 * session; the next one is told 421 4.3.2 at once (RFC 5321 §3.1), not
 * left waiting; one idle client gone, a new one is served. */
static void
test_thousand_idle (gconstpointer data)
{
  g_autoptr (MwHarness) harness = NULL;
  GPid server = 0;

  (void) data;
  if (!mw_harness_raise_open_files (IDLE_CLIENTS + 200))
    return;
  harness = mw_harness_new (NULL);
  server = mw_harness_start (harness, "mw-smtpd", NULL);
  /* one more than mw-smtpd serves at once: 421 (RFC 5321 §3.8) */
  mw_harness_idle_clients (server, mw_harness_port (harness, "smtp"),
                           IDLE_CLIENTS + 1, IDLE_CLIENTS, "220 ",
                           "421 4.3.2 ");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  mw_harness_measure_memory ();
  g_test_add_data_func ("/smtpd/crash/kill-9-rounds-lose-nothing-acknowledged",
                        NULL, test_kill_9_rounds);
  g_test_add_data_func ("/smtpd/disk/full-is-452-and-mail-flows-again", NULL,
                        test_full_disk);
  g_test_add_data_func ("/smtpd/load/client-that-never-reads-is-bounded", NULL,
                        test_never_reads);
  g_test_add_data_func ("/smtpd/load/thousand-idle-then-421", NULL,
                        test_thousand_idle);
  return g_test_run ();
}
