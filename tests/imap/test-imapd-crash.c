/* SPDX-License-Identifier: MIT
 * test-imapd-crash.c: mw-imapd killed with SIGKILL in the middle of
 * APPEND, COPY and MOVE, then started again: no message is lost, none is
 * left half-written where a reader looks (new/, cur/), a MOVE never
 * leaves one in both folders, and the server serves again (RFC 9051
 * §6.3.12, §6.4.7, §6.4.8; RFC 6851 §3.3).
 */
#include <signal.h>
#include <string.h>

#include "mail-line.h"
#include "mail-net.h"
#include "mail-store.h"
#include "mw-harness.h"

#define MESSAGES 200

typedef struct
{
  MwHarness *harness;
  char *maildir; /* alice's */
  GPid pid;      /* mw-imapd */
} Fixture;

static char *
message_text (guint i)
{
  return g_strdup_printf ("From: bob@example.test\r\nSubject: number %u\r\n"
                          "\r\nbody of message %u\r\n",
                          i, i);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->harness = mw_harness_new (NULL);
  f->maildir = mw_harness_maildir (f->harness, "alice");
  for (guint i = 0; i < MESSAGES; i++)
    {
      g_autofree char *text = message_text (i);

      mw_harness_deliver (f->harness, "alice", text);
    }
  f->pid = mw_harness_start (f->harness, "mw-imapd", NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_free (f->maildir);
  mw_harness_free (f->harness);
}

static gboolean
read_line (MailStream *stream, char **out_line, GError **error)
{
  gsize length = 0;
  MailLineFlags flags = 0;

  return mail_stream_read_line (stream, out_line, &length, &flags, NULL, error);
}

static MailStream *
connect_and_login (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  MailStream *stream = mail_net_connect (
      "127.0.0.1", mw_harness_port (f->harness, "imap"), FALSE, NULL, FALSE,
      MAIL_LINE_MAX_IMAP, 30, NULL, &error);

  g_assert_no_error (error);
  g_assert_true (read_line (stream, &line, &error));
  mail_stream_printf (stream, "a LOGIN alice alice-secret");
  mail_stream_printf (stream, "b SELECT INBOX");
  g_assert_true (mail_stream_flush (stream, NULL, &error));
  for (;;)
    {
      g_clear_pointer (&line, g_free);
      g_assert_true (read_line (stream, &line, &error));
      if (g_str_has_prefix (line, "b "))
        break;
    }
  g_assert_true (g_str_has_prefix (line, "b OK"));
  return stream;
}

/* The texts of every message in @folder (NULL: INBOX), counted. */
static GHashTable *
count_texts (Fixture *f, const char *folder)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailStore) store = mail_store_open (f->maildir, &error);
  g_autoptr (MailFolder) open = NULL;
  GHashTable *texts =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  g_assert_no_error (error);
  open = mail_folder_open (store, folder, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < mail_folder_get_count (open); i++)
    {
      g_autoptr (GBytes) data = mail_folder_read_message (open, i, &error);
      char *text = NULL;

      g_assert_no_error (error);
      text = g_strndup (g_bytes_get_data (data, NULL), g_bytes_get_size (data));
      g_hash_table_insert (
          texts, text,
          GUINT_TO_POINTER (
              GPOINTER_TO_UINT (g_hash_table_lookup (texts, text)) + 1));
    }
  return texts;
}

/* Waits until @folder of alice holds at least @count files (at most 20 s:
 * the server is then slow, not wrong, and the kill comes anyway). */
static void
wait_for_files (Fixture *f, const char *folder, guint count)
{
  for (guint tries = 0; tries < 2000; tries++)
    {
      g_auto (GStrv) files =
          mw_harness_list_messages (f->harness, "alice", folder);

      if (g_strv_length (files) >= count)
        return;
      g_usleep (10 * 1000);
    }
}

/* Kills the server, starts it again, and checks that every message is in
 * INBOX or in @target (NULL: none) once or twice, and that the server
 * works. */
static void
kill_restart_and_check (Fixture *f, const char *target, guint *out_twice)
{
  g_autoptr (GHashTable) inbox = NULL;
  g_autoptr (GHashTable) other = NULL;
  g_autoptr (MailStream) stream = NULL;

  mw_harness_signal (f->harness, f->pid, SIGKILL);
  f->pid = mw_harness_start (f->harness, "mw-imapd", NULL);
  inbox = count_texts (f, NULL);
  other = target ? count_texts (f, target)
                 : g_hash_table_new (g_str_hash, g_str_equal);
  *out_twice = 0;
  for (guint i = 0; i < MESSAGES; i++)
    {
      g_autofree char *text = message_text (i);
      guint copies = GPOINTER_TO_UINT (g_hash_table_lookup (inbox, text)) +
                     GPOINTER_TO_UINT (g_hash_table_lookup (other, text));

      g_assert_cmpuint (copies, >=, 1);
      g_assert_cmpuint (copies, <=, 2);
      *out_twice += copies == 2;
    }
  stream = connect_and_login (f); /* the restarted server serves */
}

/* RFC 6851 §3.3: killed anywhere in a MOVE, every message is in exactly
 * one of the two folders */
static void
test_move_killed (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = connect_and_login (f);
  g_autoptr (GError) error = NULL;
  guint twice = 0;

  mail_stream_printf (stream, "c CREATE Archive");
  mail_stream_printf (stream, "d MOVE 1:* Archive");
  g_assert_true (mail_stream_flush (stream, NULL, &error));
  wait_for_files (f, "Archive", MESSAGES / 2);
  kill_restart_and_check (f, "Archive", &twice);
  /* each message moved with one rename: never in both */
  g_assert_cmpuint (twice, ==, 0);
}

/* §6.4.7: COPY killed midway leaves the source whole */
static void
test_copy_killed (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = connect_and_login (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) inbox = NULL;
  guint twice = 0;

  mail_stream_printf (stream, "c CREATE Archive");
  mail_stream_printf (stream, "d COPY 1:* Archive");
  g_assert_true (mail_stream_flush (stream, NULL, &error));
  wait_for_files (f, "Archive", MESSAGES / 2);
  kill_restart_and_check (f, "Archive", &twice);
  inbox = count_texts (f, NULL);
  g_assert_cmpuint (g_hash_table_size (inbox), ==, MESSAGES);
}

/* §6.3.12: an APPEND cut off in its literal stores nothing, and the
 * next APPEND gets the next UID */
static void
test_append_killed (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = connect_and_login (f);
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  g_autoptr (GHashTable) inbox = NULL;
  g_autofree char *half = g_strnfill (50000, 'x');
  guint twice = 0;

  mail_stream_printf (stream, "c APPEND INBOX {100000}");
  g_assert_true (mail_stream_flush (stream, NULL, &error));
  g_assert_true (read_line (stream, &line, &error));
  g_assert_true (g_str_has_prefix (line, "+"));
  mail_stream_write (stream, half, 50000);
  g_assert_true (mail_stream_flush (stream, NULL, &error));
  kill_restart_and_check (f, NULL, &twice);
  inbox = count_texts (f, NULL);
  g_assert_cmpuint (g_hash_table_size (inbox), ==, MESSAGES);
}

/* Reads up to the tagged response of @tag; returns it (transfer full). */
static char *
read_until_tagged (MailStream *stream, const char *tag)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *prefix = g_strconcat (tag, " ", NULL);

  for (;;)
    {
      g_autofree char *line = NULL;

      g_assert_true (read_line (stream, &line, &error));
      if (g_str_has_prefix (line, prefix))
        return g_steal_pointer (&line);
    }
}

/* Waits (at most 20 s) until INBOX holds at most @count files. */
static void
wait_for_fewer_files (Fixture *f, guint count)
{
  for (guint tries = 0; tries < 2000; tries++)
    {
      g_auto (GStrv) files =
          mw_harness_list_messages (f->harness, "alice", NULL);

      if (g_strv_length (files) <= count)
        return;
      g_usleep (10 * 1000);
    }
}

/* §6.4.3: killed in the middle of an EXPUNGE, only messages marked
 * \Deleted are gone; the others stay, once, with their UIDs, and no UID
 * is given again (§2.3.1.1) */
static void
test_expunge_killed (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = connect_and_login (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) evens = g_string_new (NULL);
  g_autoptr (MailStore) store = NULL;
  g_autoptr (MailFolder) inbox = NULL;
  g_autofree char *stored = NULL;
  g_autofree char *appended = NULL;
  g_autoptr (MailStream) again = NULL;
  g_autofree char *next_uid = g_strdup_printf (" %u]", MESSAGES + 1);
  const char *next = "Subject: next\r\n\r\nnext\r\n";
  guint kept = 0;

  (void) data;
  /* message i (0-based) has UID i + 1: the even UIDs are marked */
  for (guint uid = 2; uid <= MESSAGES; uid += 2)
    g_string_append_printf (evens, "%s%u", evens->len ? "," : "", uid);
  mail_stream_printf (stream, "c UID STORE %s +FLAGS.SILENT (\\Deleted)",
                      evens->str);
  g_assert_true (mail_stream_flush (stream, NULL, &error));
  stored = read_until_tagged (stream, "c");
  g_assert_true (g_str_has_prefix (stored, "c OK"));
  mail_stream_printf (stream, "d EXPUNGE");
  g_assert_true (mail_stream_flush (stream, NULL, &error));
  wait_for_fewer_files (f, MESSAGES - MESSAGES / 4);
  mw_harness_signal (f->harness, f->pid, SIGKILL);
  f->pid = mw_harness_start (f->harness, "mw-imapd", NULL);
  store = mail_store_open (f->maildir, &error);
  inbox = mail_folder_open (store, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < mail_folder_get_count (inbox); i++)
    {
      const MailMessage *message = mail_folder_get_message (inbox, i);
      g_autoptr (GBytes) data = mail_folder_read_message (inbox, i, &error);
      g_autofree char *text = NULL;
      g_autofree char *expected = message_text (message->uid - 1);

      g_assert_no_error (error);
      text = g_strndup (g_bytes_get_data (data, NULL), g_bytes_get_size (data));
      g_assert_cmpstr (text, ==, expected); /* the same UID as before */
      kept += message->uid % 2 == 1;
    }
  g_test_message ("after the kill: %u of %u messages left, %u unmarked",
                  mail_folder_get_count (inbox), MESSAGES, kept);
  g_assert_cmpuint (kept, ==, MESSAGES / 2);
  g_assert_cmpuint (mail_folder_get_count (inbox), <, MESSAGES);
  /* the next message gets a UID never used */
  again = connect_and_login (f);
  mail_stream_printf (again, "e APPEND INBOX {%zu+}", strlen (next));
  mail_stream_write (again, next, strlen (next));
  mail_stream_write (again, "\r\n", 2);
  g_assert_true (mail_stream_flush (again, NULL, &error));
  appended = read_until_tagged (again, "e");
  g_assert_nonnull (strstr (appended, "APPENDUID"));
  g_assert_nonnull (strstr (appended, next_uid));
}

/* A thousand clients that connect and never speak: mw-imapd serves 500
 * at once (imapd.c; clients keep several open), refuses the others with
 * BYE [UNAVAILABLE] (RFC 5530 §3), stays up and serves the next. No
 * fixture: the open-files limit must be raised before the server starts. */
static void
test_thousand_idle (void)
{
  g_autoptr (MwHarness) harness = NULL;
  GPid server = 0;

  if (!mw_harness_raise_open_files (1000 + 200))
    return;
  harness = mw_harness_new (NULL);
  server = mw_harness_start (harness, "mw-imapd", NULL);
  mw_harness_idle_clients (server, mw_harness_port (harness, "imap"), 1000, 500,
                           "* OK ", "* BYE [UNAVAILABLE] ");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func)                                                        \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/imapd/crash/move-killed-midway-loses-and-doubles-nothing",
       test_move_killed);
  ADD ("/imapd/crash/copy-killed-midway-keeps-the-source", test_copy_killed);
  ADD ("/imapd/crash/append-killed-mid-literal-stores-nothing",
       test_append_killed);
  ADD ("/imapd/crash/expunge-killed-midway-removes-only-deleted",
       test_expunge_killed);
  g_test_add_func ("/imapd/load/thousand-idle-past-limit-refused",
                   test_thousand_idle);
#undef ADD
  return g_test_run ();
}
