/* SPDX-License-Identifier: MIT
 * test-pop3d-crash.c: mw-pop3d killed with SIGKILL around the UPDATE
 * state (RFC 1939 §6: DELE only marks; QUIT removes), round after round,
 * at random moments: a message never marked is never lost, a marked one
 * is gone once QUIT said +OK, nothing is half-written, and the maildrop
 * lock (§8) does not outlive the process. And a client that pipelines
 * RETR (RFC 2449 §6.6) and never reads: the server's memory stays
 * bounded, and other clients are served. And a thousand clients that
 * connect and never speak: the ones past mw-pop3d's limit are refused
 * with -ERR [SYS/TEMP] (RFC 3206 §4), the server stays up and serves the
 * next client.
 */
#include <signal.h>
#include <string.h>

#include "mail-line.h"
#include "mail-net.h"
#include "mw-harness.h"

#define MESSAGES 60
#define ROUNDS 6

static char *
message_text (guint round, guint i)
{
  return g_strdup_printf ("Subject: r%u m%u\r\n\r\nbody of r%u m%u\r\n", round,
                          i, round, i);
}

static gboolean
read_status (MailStream *stream, char **out_line)
{
  gsize length = 0;
  MailLineFlags flags = 0;

  return mail_stream_read_line (stream, out_line, &length, &flags, NULL, NULL);
}

/* Sends @line and reads the status line; TRUE for +OK. */
static gboolean
command_ok (MailStream *stream, const char *line)
{
  g_autofree char *reply = NULL;

  mail_stream_write_line (stream, line);
  return mail_stream_flush (stream, NULL, NULL) &&
         read_status (stream, &reply) && g_str_has_prefix (reply, "+OK");
}

static MailStream *
login (MwHarness *harness)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *greeting = NULL;
  MailStream *stream =
      mail_net_connect ("127.0.0.1", mw_harness_port (harness, "pop3"), FALSE,
                        NULL, FALSE, MAIL_LINE_MAX_POP3, 30, NULL, &error);

  g_assert_no_error (error);
  g_assert_true (read_status (stream, &greeting));
  g_assert_true (command_ok (stream, "USER alice"));
  /* the lock of the killed session is gone with it (RFC 1939 §8) */
  g_assert_true (command_ok (stream, "PASS alice-secret"));
  return stream;
}

/* Subjects of alice's messages, each whole ("body of" line last). */
static GHashTable *
subjects (MwHarness *harness)
{
  g_auto (GStrv) files = mw_harness_list_messages (harness, "alice", NULL);
  GHashTable *found =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; files[i] != NULL; i++)
    {
      g_autofree char *text = NULL;
      char *subject = NULL;

      g_assert_true (g_file_get_contents (files[i], &text, NULL, NULL));
      g_assert_true (g_str_has_prefix (text, "Subject: "));
      subject = g_strndup (text + 9, strcspn (text + 9, "\r\n"));
      g_assert_true (g_str_has_suffix (text, "\r\n"));
      g_assert_nonnull (strstr (text, "body of "));
      g_assert_false (g_hash_table_contains (found, subject));
      g_hash_table_add (found, subject);
    }
  return found;
}

/* One round: MESSAGES new messages; the even ones are marked and QUIT
 * sent; the server dies at a random moment around it. */
static void
kill_round (MwHarness *harness, GPid *inout_pid, guint round)
{
  g_autoptr (MailStream) stream = NULL;
  g_autofree char *reply = NULL;
  g_autoptr (GHashTable) left = NULL;
  gboolean quit_ok = FALSE;

  for (guint i = 0; i < MESSAGES; i++)
    {
      g_autofree char *text = message_text (round, i);

      mw_harness_deliver (harness, "alice", text);
    }
  stream = login (harness);
  /* the maildrop lists this round's messages after any left before */
  for (guint i = 0; i < MESSAGES; i += 2)
    {
      g_autofree char *dele = g_strdup_printf ("DELE %u", i + 1);

      g_assert_true (command_ok (stream, dele));
    }
  mail_stream_write_line (stream, "QUIT");
  g_assert_true (mail_stream_flush (stream, NULL, NULL));
  /* a random moment: before, during or after the UPDATE state */
  g_usleep (g_random_int_range (0, 400) * 1000);
  mw_harness_signal (harness, *inout_pid, SIGKILL);
  quit_ok = read_status (stream, &reply) && g_str_has_prefix (reply, "+OK");
  *inout_pid = mw_harness_start (harness, "mw-pop3d", NULL);
  left = subjects (harness);
  g_test_message ("round %u: QUIT %s; %u messages left", round,
                  quit_ok ? "answered +OK" : "not answered",
                  g_hash_table_size (left));
  for (guint i = 0; i < MESSAGES; i++)
    {
      g_autofree char *subject = g_strdup_printf ("r%u m%u", round, i);

      if (i % 2 == 1) /* never marked: never lost */
        g_assert_true (g_hash_table_contains (left, subject));
      else if (quit_ok) /* +OK to QUIT: the marked ones are gone */
        g_assert_false (g_hash_table_contains (left, subject));
    }
}

static void
test_kill_rounds (gconstpointer data)
{
  g_autoptr (MwHarness) harness = mw_harness_new (NULL);
  GPid pid = 0;

  (void) data;
  /* an empty maildrop first, so that round r's messages are 1..60 */
  pid = mw_harness_start (harness, "mw-pop3d", NULL);
  for (guint round = 0; round < ROUNDS; round++)
    {
      g_autoptr (MailStream) stream = NULL;
      g_auto (GStrv) files = NULL;

      kill_round (harness, &pid, round);
      /* empty the maildrop for the next round, the normal way */
      stream = login (harness);
      for (guint i = 1; i <= 2 * MESSAGES; i++)
        {
          g_autofree char *dele = g_strdup_printf ("DELE %u", i);

          command_ok (stream, dele);
        }
      g_assert_true (command_ok (stream, "QUIT"));
      files = mw_harness_list_messages (harness, "alice", NULL);
      g_assert_cmpuint (g_strv_length (files), ==, 0);
    }
}

static void
test_never_reads (gconstpointer data)
{
  g_autoptr (MwHarness) harness = mw_harness_new (NULL);
  g_autofree char *body = g_strnfill (1024 * 1024, 'x');
  g_autofree char *text = NULL;
  g_autoptr (MailStream) flood = NULL;
  g_autoptr (MailStream) other = NULL;
  g_autoptr (GString) commands = g_string_new (NULL);
  g_autofree char *greeting = NULL;
  guint64 before = 0;
  guint64 peak = 0;
  GPid pid = 0;

  (void) data;
  /* one 1 MiB message, in lines of 1024 */
  for (guint i = 1023; i < 1024 * 1024; i += 1024)
    body[i] = '\n';
  text = g_strdup_printf ("Subject: big\n\n%s\n", body);
  mw_harness_deliver (harness, "alice", text);
  pid = mw_harness_start (harness, "mw-pop3d", NULL);
  before = peak = mw_harness_rss_kib (pid);
  flood = login (harness);
  /* 200 RETR of 1 MiB each, sent at once, never read */
  for (guint i = 0; i < 200; i++)
    g_string_append (commands, "RETR 1\r\n");
  mail_stream_write (flood, commands->str, commands->len);
  g_assert_true (mail_stream_flush (flood, NULL, NULL));
  for (guint i = 0; i < 60; i++)
    {
      peak = MAX (peak, mw_harness_rss_kib (pid));
      g_usleep (50 * 1000); /* sampling, for 3 s */
    }
  g_test_message ("200 x RETR of 1 MiB never read: VmRSS %" G_GUINT64_FORMAT
                  " -> %" G_GUINT64_FORMAT " KiB at most",
                  before, peak);
  g_assert_cmpuint (peak - before, <, 16 * 1024);
  /* another client is served meanwhile (bob: the flood holds alice's
   * maildrop lock, RFC 1939 §8) */
  other =
      mail_net_connect ("127.0.0.1", mw_harness_port (harness, "pop3"), FALSE,
                        NULL, FALSE, MAIL_LINE_MAX_POP3, 30, NULL, NULL);
  g_assert_nonnull (other);
  g_assert_true (read_status (other, &greeting));
  g_assert_true (g_str_has_prefix (greeting, "+OK"));
  g_assert_true (command_ok (other, "USER bob"));
  g_assert_true (command_ok (other, "PASS bob-secret"));
  g_assert_true (command_ok (other, "STAT"));
}

/* mw-pop3d serves 100 sessions at once (pop3d.c), a thousand try */
static void
test_thousand_idle (gconstpointer data)
{
  g_autoptr (MwHarness) harness = NULL;
  GPid server = 0;

  (void) data;
  if (!mw_harness_raise_open_files (1000 + 200))
    return;
  harness = mw_harness_new (NULL);
  server = mw_harness_start (harness, "mw-pop3d", NULL);
  mw_harness_idle_clients (server, mw_harness_port (harness, "pop3"), 1000, 100,
                           "+OK ", "-ERR [SYS/TEMP] ");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  mw_harness_measure_memory ();
  g_test_add_data_func ("/pop3d/crash/kill-9-around-quit-loses-nothing-kept",
                        NULL, test_kill_rounds);
  g_test_add_data_func ("/pop3d/load/client-that-never-reads-is-bounded", NULL,
                        test_never_reads);
  g_test_add_data_func ("/pop3d/load/thousand-idle-past-limit-refused", NULL,
                        test_thousand_idle);
  return g_test_run ();
}
