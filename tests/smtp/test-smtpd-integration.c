/* SPDX-License-Identifier: MIT
 * test-smtpd-integration.c: the real mw-smtpd process on loopback, started
 * by the harness: byte-exact delivery to Maildir, durability around
 * kill -9 (RFC 5321 §6.1: no 250 before the message is safe), DATA
 * written to disk while it is read (whatever the cuts between the
 * client's writes), one file hard-linked for several recipients, hostile
 * input that must not hurt the server, many sessions at once.
 */
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "mail-net.h"
#include "mw-harness.h"
#include "smtp-proto.h"

typedef struct
{
  MwHarness *harness;
  GPid server;
  guint16 port;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->harness = mw_harness_new (NULL);
  f->server = mw_harness_start (f->harness, "mw-smtpd", NULL);
  f->port = mw_harness_port (f->harness, "smtp");
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->harness, mw_harness_free);
}

static MailStream *
client_connect (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  MailStream *stream =
      mail_net_connect ("127.0.0.1", f->port, FALSE, NULL, FALSE,
                        MAIL_LINE_MAX_SMTP_REPLY, 20, NULL, &error);

  g_assert_no_error (error);
  return stream;
}

static void
send_text (MailStream *stream, const char *text)
{
  g_autoptr (GError) error = NULL;

  mail_stream_write (stream, text, strlen (text));
  mail_stream_flush (stream, NULL, &error);
  g_assert_no_error (error);
}

/* Reads one whole reply and asserts its code. */
static void
expect (MailStream *stream, guint expected)
{
  for (guint lines = 0; lines < 100; lines++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *line = NULL;
      gsize length = 0;
      MailLineFlags flags = 0;
      guint code = 0;
      gboolean last = FALSE;
      const char *text = NULL;

      mail_stream_read_line (stream, &line, &length, &flags, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (smtp_proto_parse_reply_line (line, &code, &last, &text));
      if (code != expected)
        g_error ("expected %u, got \"%s\"", expected, line);
      if (last)
        return;
    }
  g_assert_not_reached ();
}

static void
command (MailStream *stream, const char *line, guint code)
{
  g_autofree char *with_crlf = g_strconcat (line, "\r\n", NULL);

  send_text (stream, with_crlf);
  expect (stream, code);
}

/* Greeting, EHLO, MAIL, RCPT alice, DATA: ready for the text. */
static MailStream *
open_transaction (Fixture *f)
{
  MailStream *stream = client_connect (f);

  expect (stream, SMTP_REPLY_SERVICE_READY);
  command (stream, "EHLO client.example", SMTP_REPLY_OK);
  command (stream, "MAIL FROM:<sender@b.example> BODY=8BITMIME", SMTP_REPLY_OK);
  command (stream, "RCPT TO:<alice@example.test>", SMTP_REPLY_OK);
  command (stream, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  return stream;
}

static guint
count_files (const char *directory)
{
  g_autoptr (GDir) listing = g_dir_open (directory, 0, NULL);
  guint count = 0;

  while (listing != NULL && g_dir_read_name (listing) != NULL)
    count++;
  return count;
}

/* Messages anywhere in alice's Maildir: new/, cur/ and tmp/. */
static guint
count_alice_files (Fixture *f, const char *subdir)
{
  g_autofree char *maildir = mw_harness_maildir (f->harness, "alice");
  g_autofree char *directory = g_build_filename (maildir, subdir, NULL);

  return count_files (directory);
}

/* The body after Return-Path and the Received field (transfer full). */
static char *
read_alice_body (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = mw_harness_list_messages (f->harness, "alice", NULL);
  g_autofree char *contents = NULL;
  const char *end = NULL;

  g_assert_cmpuint (g_strv_length (names), ==, 1);
  g_file_get_contents (names[0], &contents, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (contents, "Return-Path: <"));
  end = strstr (contents, "\r\nReceived: ");
  g_assert_nonnull (end);
  for (end = strstr (end + 2, "\r\n"); end != NULL && end[2] == '\t';
       end = strstr (end + 2, "\r\n"))
    ;
  g_assert_nonnull (end);
  return g_strdup (end + 2);
}

/* RFC 5321 §4.5.2, RFC 6152: what was sent is what is stored, octet for
 * octet, 8-bit text and long lines included. */
static void
test_deliver_byte_exact (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = open_transaction (f);
  g_autofree char *long_line = g_strnfill (990, 'L');
  g_autofree char *body = g_strdup_printf ("From: Sender <sender@b.example>\r\n"
                                           "To: alice@example.test\r\n"
                                           "Subject: =?UTF-8?Q?caf=C3=A9?=\r\n"
                                           "\r\n"
                                           "caf\xc3\xa9 8-bit text\r\n"
                                           "%s\r\n"
                                           "\r\n"
                                           ". a dot line\r\n"
                                           "\t tabs and trailing spaces   \r\n",
                                           long_line);
  g_autoptr (GString) stuffed = g_string_new (NULL);
  g_autofree char *stored = NULL;

  mail_dot_stuff (stuffed, body, strlen (body));
  send_text (stream, stuffed->str);
  expect (stream, SMTP_REPLY_OK);
  command (stream, "QUIT", SMTP_REPLY_CLOSING);
  stored = read_alice_body (f);
  g_assert_cmpstr (stored, ==, body);
}

/* kill -9 in the middle of DATA: no trace of the message anywhere. */
static void
test_kill_during_data (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = open_transaction (f);

  send_text (stream, "Subject: never\r\n\r\nhalf of a message\r\n");
  mw_harness_signal (f->harness, f->server, SIGKILL);
  g_assert_cmpuint (count_alice_files (f, "new"), ==, 0);
  g_assert_cmpuint (count_alice_files (f, "cur"), ==, 0);
  g_assert_cmpuint (count_alice_files (f, "tmp"), ==, 0);
}

/* kill -9 right after 250: the message is there (durable before yes). */
static void
test_kill_after_250 (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = open_transaction (f);
  g_autofree char *stored = NULL;

  send_text (stream, "Subject: durable\r\n\r\nkept\r\n.\r\n");
  expect (stream, SMTP_REPLY_OK);
  mw_harness_signal (f->harness, f->server, SIGKILL);
  stored = read_alice_body (f);
  g_assert_cmpstr (stored, ==, "Subject: durable\r\n\r\nkept\r\n");
}

/* Sends @text in writes of the sizes in @cuts (cycled), each flushed on
 * its own, so the server's reads end anywhere: between CR and LF, inside
 * "\r\n.\r\n", after a stuffed dot. */
static void
send_in_pieces (MailStream *stream,
                const char *text,
                gsize length,
                const gsize *cuts,
                guint n_cuts)
{
  for (gsize done = 0, i = 0; done < length; i++)
    {
      gsize piece = MIN (cuts[i % n_cuts], length - done);
      g_autoptr (GError) error = NULL;

      mail_stream_write (stream, text + done, piece);
      mail_stream_flush (stream, NULL, &error);
      g_assert_no_error (error);
      done += piece;
    }
}

/* A body of about @size octets whose lines start with dots, hold lone
 * dots, ".." and ". ", and are of many lengths up to 993. */
static char *
dotty_body (gsize size)
{
  GString *body = g_string_new ("Subject: dots\r\n\r\n");
  static const char *const starts[] = { ".", "..", ". ", "", "x.", "...." };

  for (guint i = 0; body->len < size; i++)
    {
      g_string_append (body, starts[i % G_N_ELEMENTS (starts)]);
      for (guint k = 0; k < (i * 37) % 990; k++)
        g_string_append_c (body, (char) ('a' + (i + k) % 26));
      g_string_append (body, "\r\n");
    }
  return g_string_free (body, FALSE);
}

/* Streamed DATA, byte for byte: 1 MiB of dot-stuffed lines sent in
 * writes of odd sizes (so CRLFs and stuffed dots fall across the
 * server's reads and across its 64 KiB writes to the file). */
static void
test_streamed_big_byte_exact (Fixture *f, gconstpointer data)
{
  static const gsize cuts[] = { 1, 2, 3, 4093, 65537, 7, 511, 131071 };
  g_autoptr (MailStream) stream = open_transaction (f);
  g_autofree char *body = dotty_body (1 << 20);
  g_autoptr (GString) stuffed = g_string_new (NULL);
  g_autofree char *stored = NULL;

  mail_dot_stuff (stuffed, body, strlen (body));
  send_in_pieces (stream, stuffed->str, stuffed->len, cuts,
                  G_N_ELEMENTS (cuts));
  expect (stream, SMTP_REPLY_OK);
  command (stream, "QUIT", SMTP_REPLY_CLOSING);
  stored = read_alice_body (f);
  g_assert_cmpuint (strlen (stored), ==, strlen (body));
  g_assert_true (strcmp (stored, body) == 0);
  g_assert_cmpuint (count_alice_files (f, "tmp"), ==, 0);
}

/* Trickled: one octet per write, the end of DATA too. A "." line that
 * is not at the end, and a CR whose LF comes in the next write. */
static void
test_streamed_trickle (Fixture *f, gconstpointer data)
{
  static const gsize one[] = { 1 };
  static const char body[] = "Subject: trickle\r\n\r\n"
                             "line\r\n"
                             ".\r\n"
                             "..\r\n"
                             ".. x\r\n"
                             "last\r\n";
  g_autoptr (MailStream) stream = open_transaction (f);
  g_autoptr (GString) stuffed = g_string_new (NULL);
  g_autofree char *stored = NULL;

  mail_dot_stuff (stuffed, body, strlen (body));
  send_in_pieces (stream, stuffed->str, stuffed->len, one, 1);
  expect (stream, SMTP_REPLY_OK);
  stored = read_alice_body (f);
  g_assert_cmpstr (stored, ==, body);
}

/* kill -9 with 300 KiB of the text already written to disk: no message,
 * and no half-written file in tmp/ either (it has no name until it is
 * delivered, so the kernel frees it with the process). */
static void
test_kill_during_big_data (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = open_transaction (f);
  g_autofree char *body = dotty_body (300 * 1024);
  g_autoptr (GString) stuffed = g_string_new (NULL);

  mail_dot_stuff (stuffed, body, strlen (body));
  g_string_truncate (stuffed, stuffed->len - 3); /* no end of DATA */
  send_text (stream, stuffed->str);
  /* time to read it and write most of it to the file (64 KiB at a time) */
  g_usleep (300 * 1000);
  mw_harness_signal (f->harness, f->server, SIGKILL);
  g_assert_cmpuint (count_alice_files (f, "new"), ==, 0);
  g_assert_cmpuint (count_alice_files (f, "cur"), ==, 0);
  g_assert_cmpuint (count_alice_files (f, "tmp"), ==, 0);
}

/* One message to alice and bob: one file, two names (a hard link, no
 * second copy to write and fsync), the same octets for both. */
static void
test_recipients_share_one_file (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = client_connect (f);
  g_auto (GStrv) alice = NULL;
  g_auto (GStrv) bob = NULL;
  g_autofree char *alice_text = NULL;
  g_autofree char *bob_text = NULL;
  struct stat a, b;

  expect (stream, SMTP_REPLY_SERVICE_READY);
  command (stream, "EHLO client.example", SMTP_REPLY_OK);
  command (stream, "MAIL FROM:<sender@b.example>", SMTP_REPLY_OK);
  command (stream, "RCPT TO:<alice@example.test>", SMTP_REPLY_OK);
  command (stream, "RCPT TO:<bob@example.test>", SMTP_REPLY_OK);
  command (stream, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  send_text (stream, "Subject: both\r\n\r\nfor two\r\n.\r\n");
  expect (stream, SMTP_REPLY_OK);
  alice = mw_harness_list_messages (f->harness, "alice", NULL);
  bob = mw_harness_list_messages (f->harness, "bob", NULL);
  g_assert_cmpuint (g_strv_length (alice), ==, 1);
  g_assert_cmpuint (g_strv_length (bob), ==, 1);
  g_assert_cmpint (stat (alice[0], &a), ==, 0);
  g_assert_cmpint (stat (bob[0], &b), ==, 0);
  g_assert_true (a.st_dev == b.st_dev && a.st_ino == b.st_ino);
  g_assert_cmpuint (a.st_nlink, ==, 2);
  g_assert_true (g_file_get_contents (alice[0], &alice_text, NULL, NULL));
  g_assert_true (g_file_get_contents (bob[0], &bob_text, NULL, NULL));
  g_assert_cmpstr (alice_text, ==, bob_text);
  g_assert_nonnull (strstr (alice_text, "\r\n\r\nfor two\r\n"));
}

/* Greeting, EHLO, MAIL, RCPT alice: ready for BDAT chunks. */
static MailStream *
open_chunks (Fixture *f)
{
  MailStream *stream = client_connect (f);

  expect (stream, SMTP_REPLY_SERVICE_READY);
  command (stream, "EHLO client.example", SMTP_REPLY_OK);
  command (stream, "MAIL FROM:<sender@b.example>", SMTP_REPLY_OK);
  command (stream, "RCPT TO:<alice@example.test>", SMTP_REPLY_OK);
  return stream;
}

/* One BDAT chunk (RFC 3030 §2) of @octets, LAST or not. */
static void
send_chunk (MailStream *stream, const char *octets, gboolean last)
{
  g_autofree char *line =
      g_strdup_printf ("BDAT %zu%s\r\n", strlen (octets), last ? " LAST" : "");

  mail_stream_write (stream, line, strlen (line));
  send_text (stream, octets);
}

/* BDAT chunks are checked as they are written to disk, so the check
 * carries from one chunk to the next: a CR that ends a chunk is fine when
 * the next begins with LF, and a bare CR when it does not, or when it
 * ends the message (RFC 5321 §2.3.8). */
static void
test_chunks_checked_across_boundaries (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) good = open_chunks (f);
  g_autoptr (MailStream) split = NULL;
  g_autoptr (MailStream) end = NULL;
  g_autofree char *stored = NULL;

  send_chunk (good, "Subject: cr\r\n\r\nab\r", FALSE);
  expect (good, SMTP_REPLY_OK);
  send_chunk (good, "\ncd\r\n", TRUE);
  expect (good, SMTP_REPLY_OK);
  stored = read_alice_body (f);
  g_assert_cmpstr (stored, ==, "Subject: cr\r\n\r\nab\r\ncd\r\n");
  split = open_chunks (f);
  send_chunk (split, "Subject: cr\r\n\r\nab\r", FALSE);
  expect (split, SMTP_REPLY_OK);
  send_chunk (split, "x\r\n", TRUE);
  expect (split, SMTP_REPLY_TRANSACTION_FAILED);
  end = open_chunks (f);
  send_chunk (end, "Subject: cr\r\n\r\nab\r", TRUE);
  expect (end, SMTP_REPLY_TRANSACTION_FAILED);
  g_assert_cmpuint (count_alice_files (f, "new"), ==, 1);
  g_assert_cmpuint (count_alice_files (f, "tmp"), ==, 0);
}

/* Sends raw octets on a fresh connection, then hangs up. */
static void
hostile_connection (Fixture *f, const void *data, gsize length)
{
  g_autoptr (MailStream) stream = client_connect (f);
  g_autoptr (GError) error = NULL;

  mail_stream_write (stream, data, length);
  mail_stream_flush (stream, NULL, &error);
  /* The server may already have hung up: that is allowed. */
}

/* Bad input gets errors or a hang-up, never a dead server. */
static void
test_hostile_input (Fixture *f, gconstpointer data)
{
  g_autofree char *huge = g_strnfill (200000, 'A');
  static const char nul_and_binary[] = "EHLO x\r\n\0\0\xff\xfe\x01\r\nMAIL\r\n";
  static const char tls_hello[] = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03";
  g_autoptr (MailStream) stream = NULL;
  g_autofree char *stored = NULL;

  hostile_connection (f, huge, strlen (huge));
  hostile_connection (f, nul_and_binary, sizeof nul_and_binary - 1);
  hostile_connection (f, tls_hello, sizeof tls_hello - 1);
  hostile_connection (f, "EHLO x\r\nMAIL FROM:<a@b.example>\r\nDA", 36);
  hostile_connection (f, "", 0);
  /* Still serving: a whole transaction goes through. */
  stream = open_transaction (f);
  send_text (stream, "Subject: after\r\n\r\nstill here\r\n.\r\n");
  expect (stream, SMTP_REPLY_OK);
  stored = read_alice_body (f);
  g_assert_cmpstr (stored, ==, "Subject: after\r\n\r\nstill here\r\n");
}

/* One silent client does not hold up others; many sessions at once. */
static void
test_many_sessions (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) idle =
      g_ptr_array_new_with_free_func ((GDestroyNotify) mail_stream_free);
  g_autoptr (MailStream) stream = NULL;

  for (guint i = 0; i < 200; i++)
    g_ptr_array_add (idle, client_connect (f));
  stream = open_transaction (f);
  send_text (stream, "Subject: busy\r\n\r\nbody\r\n.\r\n");
  expect (stream, SMTP_REPLY_OK);
  for (guint i = 0; i < idle->len; i++)
    expect (idle->pdata[i], SMTP_REPLY_SERVICE_READY);
  g_assert_cmpuint (count_alice_files (f, "new"), ==, 1);
}

/* "mw-admin user add" while mw-smtpd runs: the new user receives mail at
 * once, no restart (the users file is re-read when it changes). */
static void
test_user_added_without_restart (Fixture *f, gconstpointer data)
{
  const char *argv[] = { "mw-admin", "--config", mw_harness_config (f->harness),
                         "user",     "add",      "carol",
                         NULL };
  g_autoptr (MailStream) stream = client_connect (f);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto (GStrv) names = NULL;

  expect (stream, SMTP_REPLY_SERVICE_READY);
  command (stream, "EHLO client.example", SMTP_REPLY_OK);
  command (stream, "MAIL FROM:<sender@b.example>", SMTP_REPLY_OK);
  command (stream, "RCPT TO:<carol@example.test>",
           SMTP_REPLY_MAILBOX_UNAVAILABLE);
  g_assert_cmpint (
      mw_harness_run (f->harness, argv, "carol-secret\n", &out, &err), ==, 0);
  command (stream, "RCPT TO:<carol@example.test>", SMTP_REPLY_OK);
  command (stream, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  send_text (stream, "Subject: welcome\r\n\r\nhello carol\r\n.\r\n");
  expect (stream, SMTP_REPLY_OK);
  names = mw_harness_list_messages (f->harness, "carol", NULL);
  g_assert_cmpuint (g_strv_length (names), ==, 1);
}

static void
add (const char *path, void (*func) (Fixture *, gconstpointer))
{
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  add ("/smtpd/integration/deliver-byte-exact", test_deliver_byte_exact);
  add ("/smtpd/integration/kill-9-during-data-leaves-nothing",
       test_kill_during_data);
  add ("/smtpd/integration/kill-9-after-250-keeps-message",
       test_kill_after_250);
  add ("/smtpd/integration/streamed/1-mib-dot-stuffed-odd-writes",
       test_streamed_big_byte_exact);
  add ("/smtpd/integration/streamed/trickled-one-octet-per-write",
       test_streamed_trickle);
  add ("/smtpd/integration/streamed/kill-9-mid-big-data-leaves-nothing",
       test_kill_during_big_data);
  add ("/smtpd/integration/streamed/bdat-checked-across-chunks",
       test_chunks_checked_across_boundaries);
  add ("/smtpd/integration/recipients-share-one-hard-linked-file",
       test_recipients_share_one_file);
  add ("/smtpd/integration/hostile-input-server-survives", test_hostile_input);
  add ("/smtpd/integration/silent-clients-block-nobody", test_many_sessions);
  add ("/smtpd/integration/user-added-without-restart",
       test_user_added_without_restart);
  return g_test_run ();
}
