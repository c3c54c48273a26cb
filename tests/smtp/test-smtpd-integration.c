/* SPDX-License-Identifier: MIT
 * test-smtpd-integration.c: the real mw-smtpd process on loopback, started
 * by the harness: byte-exact delivery to Maildir, durability around
 * kill -9 (RFC 5321 §6.1: no 250 before the message is safe), hostile
 * input that must not hurt the server, many sessions at once.
 */
#include <signal.h>
#include <string.h>

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
  add ("/smtpd/integration/hostile-input-server-survives", test_hostile_input);
  add ("/smtpd/integration/silent-clients-block-nobody", test_many_sessions);
  add ("/smtpd/integration/user-added-without-restart",
       test_user_added_without_restart);
  return g_test_run ();
}
