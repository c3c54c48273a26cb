/* SPDX-License-Identifier: MIT
 * test-smtp-session.c: the server session of smtp-session.c driven over a
 * real loopback connection in-process (RFC 5321 §4.1 state machine,
 * §4.5.2 DATA framing, §4.5.3.1 limits; RFC 3207; RFC 4954).
 *
 * Each test starts one session in a thread on 127.0.0.1 port 0 and talks
 * to it with a client MailStream. The queue is replaced by a recording
 * SmtpEnqueueFunc (smtp-session.h), which can also be told to fail.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "mail-auth.h"
#include "mail-store.h"
#include "mail-tls.h"
#include "mw-harness.h"
#include "smtp-proto.h"
#include "smtp-session.h"

typedef struct
{
  const char *label;        /* "smtp", "submission", "smtps" */
  const char *extra_config; /* appended to mailwire.conf */
  gboolean silent;          /* connect, but do not start TLS on smtps */
} SessionSetup;

typedef struct
{
  MwHarness *harness;
  MailConfig *config;
  SmtpContext *context;
  GSocketListener *listener;
  MailServerListener info;
  GThread *server;
  GSocketConnection *connection;
  MailStream *stream;
  GPtrArray *enqueued; /* "sender -> rcpt,rcpt" per call */
  GString *last_enqueued_message;
  gboolean enqueue_fails;
  gboolean enqueue_full; /* fail as a full disk would */
  gboolean silent;
} Fixture;

/* " [RET=FULL ENVID=x; b@c NOTIFY=SUCCESS ORCPT=rfc822;d@e]", in the
 * queue's terms, or "" when nothing was asked (RFC 3461 §4). */
static char *
describe_dsn (const SmtpDsnEnvelope *dsn, const char *const *recipients)
{
  g_autoptr (GString) out = g_string_new (NULL);

  if (dsn->ret != SMTP_DSN_RET_DEFAULT)
    g_string_append (out,
                     dsn->ret == SMTP_DSN_RET_FULL ? " RET=FULL" : " RET=HDRS");
  if (dsn->envid != NULL)
    g_string_append_printf (out, " ENVID=%s", dsn->envid);
  for (guint i = 0; recipients[i] != NULL; i++)
    {
      const SmtpDsnRecipient *r = smtp_dsn_envelope_recipient (dsn, i);
      g_autofree char *notify =
          r != NULL ? smtp_dsn_notify_to_string (r->notify) : NULL;

      g_assert_nonnull (r); /* one per recipient, in order */
      if (notify == NULL && r->orcpt == NULL)
        continue;
      g_string_append_printf (out, "; %s", recipients[i]);
      if (notify != NULL)
        g_string_append_printf (out, " NOTIFY=%s", notify);
      if (r->orcpt != NULL)
        g_string_append_printf (out, " ORCPT=%s;%s", r->orcpt_type, r->orcpt);
    }
  if (out->len == 0)
    return g_strdup ("");
  return g_strdup_printf (" [%s]", out->str + (out->str[0] == ';' ? 2 : 1));
}

static gboolean
on_enqueue (gpointer user_data,
            const char *reverse_path,
            const char *const *recipients,
            const void *data,
            gsize length,
            SmtpEnqueueFlags flags,
            const SmtpDsnEnvelope *dsn,
            char **out_id,
            GError **error)
{
  Fixture *f = user_data;
  g_autofree char *joined = g_strjoinv (",", (char **) recipients);
  g_autofree char *asked = describe_dsn (dsn, recipients);

  if (f->enqueue_full)
    {
      g_set_error_literal (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_NO_SPACE,
                           "no space left on device (test)");
      return FALSE;
    }
  if (f->enqueue_fails)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           "queue disk on fire (test)");
      return FALSE;
    }
  g_ptr_array_add (
      f->enqueued,
      g_strdup_printf ("%s -> %s%s%s", reverse_path, joined,
                       (flags & SMTP_ENQUEUE_SMTPUTF8) ? " (SMTPUTF8)" : "",
                       asked));
  g_string_assign (f->last_enqueued_message, "");
  g_string_append_len (f->last_enqueued_message, data, length);
  return TRUE;
}

static gpointer
run_one_session (gpointer data)
{
  Fixture *f = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) connection =
      g_socket_listener_accept (f->listener, NULL, NULL, &error);

  g_assert_no_error (error);
  smtp_session_run (connection, &f->info, f->context);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  return NULL;
}

static void
fixture_connect (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketClient) client = g_socket_client_new ();

  f->connection = g_socket_client_connect_to_host (client, "127.0.0.1",
                                                   f->info.port, NULL, &error);
  g_assert_no_error (error);
  if (f->info.implicit_tls && !f->silent)
    {
      g_autoptr (GIOStream) tls = mail_tls_client_wrap (
          G_IO_STREAM (f->connection), "localhost",
          mw_harness_cert (f->harness), FALSE, NULL, &error);
      g_assert_no_error (error);
      f->stream = mail_stream_new (tls, MAIL_LINE_MAX_SMTP_REPLY);
    }
  else
    f->stream =
        mail_stream_new (G_IO_STREAM (f->connection), MAIL_LINE_MAX_SMTP_REPLY);
  mail_stream_set_timeout (f->stream, 20);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  const SessionSetup *setup = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) loopback =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  f->harness = mw_harness_new (setup->extra_config);
  f->config = mail_config_load (mw_harness_config (f->harness), &error);
  g_assert_no_error (error);
  f->context = smtp_context_new (f->config, &error);
  g_assert_no_error (error);
  f->enqueued = g_ptr_array_new_with_free_func (g_free);
  f->last_enqueued_message = g_string_new (NULL);
  smtp_context_set_enqueue (f->context, on_enqueue, f);
  f->listener = g_socket_listener_new ();
  g_socket_listener_add_address (f->listener, address, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  f->info.label = setup->label;
  f->info.implicit_tls = g_str_equal (setup->label, "smtps");
  f->silent = setup->silent;
  f->info.port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  f->server = g_thread_new ("session", run_one_session, f);
  fixture_connect (f);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->stream, mail_stream_free);
  if (f->connection != NULL)
    g_io_stream_close (G_IO_STREAM (f->connection), NULL, NULL);
  g_clear_object (&f->connection);
  if (f->server != NULL) /* the session ends when we hang up */
    g_thread_join (f->server);
  g_socket_listener_close (f->listener);
  g_clear_object (&f->listener);
  g_clear_pointer (&f->context, smtp_context_free);
  g_clear_pointer (&f->config, mail_config_free);
  g_clear_pointer (&f->enqueued, g_ptr_array_unref);
  g_string_free (f->last_enqueued_message, TRUE);
  g_clear_pointer (&f->harness, mw_harness_free);
}

/* ---- client helpers ---------------------------------------------------- */

static void
send_raw (Fixture *f, const char *data, gsize length)
{
  g_autoptr (GError) error = NULL;

  mail_stream_write (f->stream, data, length);
  mail_stream_flush (f->stream, NULL, &error);
  g_assert_no_error (error);
}

static void
send_text (Fixture *f, const char *text)
{
  send_raw (f, text, strlen (text));
}

/* Dovecot's trickle: one octet per write, so every read of the server
 * ends at a different place. */
static void
send_trickle (Fixture *f, const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    send_raw (f, p, 1);
}

/* Reads one whole reply, asserts its code, returns all its lines' texts
 * joined by "\n" (transfer full). */
static char *
expect_reply (Fixture *f, guint expected_code)
{
  g_autoptr (GString) texts = g_string_new (NULL);

  for (guint lines = 0; lines < 200; lines++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *line = NULL;
      gsize length = 0;
      MailLineFlags flags = 0;
      guint code = 0;
      gboolean is_last = FALSE;
      const char *text = NULL;

      mail_stream_read_line (f->stream, &line, &length, &flags, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (
          smtp_proto_parse_reply_line (line, &code, &is_last, &text));
      if (code != expected_code)
        g_error ("expected %u, got \"%s\"", expected_code, line);
      g_string_append_printf (texts, "%s%s", lines > 0 ? "\n" : "", text);
      if (is_last)
        return g_string_free (g_steal_pointer (&texts), FALSE);
    }
  g_assert_not_reached ();
}

static void
expect (Fixture *f, guint code)
{
  g_free (expect_reply (f, code));
}

/* Asserts the reply's first line starts with the enhanced code. */
static void
expect_enhanced (Fixture *f, guint code, const char *enhanced)
{
  g_autofree char *text = expect_reply (f, code);

  g_assert_true (g_str_has_prefix (text, enhanced));
}

static void
command (Fixture *f, const char *line, guint code)
{
  g_autofree char *with_crlf = g_strconcat (line, "\r\n", NULL);

  send_text (f, with_crlf);
  expect (f, code);
}

static void
greet (Fixture *f)
{
  expect (f, SMTP_REPLY_SERVICE_READY);
  command (f, "EHLO client.example", SMTP_REPLY_OK);
}

static void
expect_closed (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  gsize length = 0;
  MailLineFlags flags = 0;

  g_assert_false (
      mail_stream_read_line (f->stream, &line, &length, &flags, NULL, &error));
  g_assert_nonnull (error);
}

static guint
count_messages (Fixture *f, const char *user)
{
  g_auto (GStrv) names = mw_harness_list_messages (f->harness, user, NULL);

  return g_strv_length (names);
}

/* The one message of @user, read whole (transfer full). */
static char *
read_only_message (Fixture *f, const char *user, gsize *out_length)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = mw_harness_list_messages (f->harness, user, NULL);
  char *contents = NULL;

  g_assert_cmpuint (g_strv_length (names), ==, 1);
  g_file_get_contents (names[0], &contents, out_length, &error);
  g_assert_no_error (error);
  return contents;
}

/* The text after our Return-Path and Received: header. */
static const char *
skip_trace_headers (const char *message)
{
  const char *received = NULL;
  const char *end = NULL;

  g_assert_true (g_str_has_prefix (message, "Return-Path: <"));
  received = strstr (message, "\r\nReceived: from ");
  g_assert_nonnull (received);
  /* The Received field ends at the first CRLF not followed by a tab. */
  for (end = strstr (received + 2, "\r\n"); end != NULL && end[2] == '\t';
       end = strstr (end + 2, "\r\n"))
    ;
  g_assert_nonnull (end);
  return end + 2;
}

static void
authenticate (Fixture *f, const char *user, const char *password)
{
  g_autofree char *plain = mail_sasl_plain_encode (NULL, user, password);
  g_autofree char *line = g_strdup_printf ("AUTH PLAIN %s", plain);

  command (f, line, SMTP_REPLY_AUTH_SUCCEEDED);
}

static void
start_tls (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  command (f, "STARTTLS", SMTP_REPLY_SERVICE_READY);
  mail_stream_start_tls_client (f->stream, "localhost",
                                mw_harness_cert (f->harness), FALSE, NULL,
                                &error);
  g_assert_no_error (error);
}

/* ---- the tests ---------------------------------------------------------- */

static const SessionSetup mta = { "smtp", NULL };
static const SessionSetup submission = { "submission", NULL };
/* the log is on from the start: the session reads it when it begins */
static const SessionSetup submission_logged = {
  "submission", "[general]\nprotocol_log = true\n"
};
static const SessionSetup smtps = { "smtps", NULL };
static const SessionSetup smtps_silent = { "smtps", "[general]\ntimeout = 1\n",
                                           TRUE };
static const SessionSetup small = { "smtp", "[smtp]\nmax_size = 1000\n"
                                            "max_recipients = 3\n" };

/* RFC 5321 §4.1.1.1; extensions offered only when they work. */
static void
test_ehlo_on_mta (Fixture *f, gconstpointer data)
{
  g_autofree char *ehlo = NULL;

  expect (f, SMTP_REPLY_SERVICE_READY);
  send_text (f, "EHLO client.example\r\n");
  ehlo = expect_reply (f, SMTP_REPLY_OK);
  g_assert_nonnull (strstr (ehlo, "\nPIPELINING\n"));
  g_assert_nonnull (strstr (ehlo, "\nSIZE "));
  g_assert_nonnull (strstr (ehlo, "\n8BITMIME\n"));
  g_assert_nonnull (strstr (ehlo, "\nENHANCEDSTATUSCODES\n"));
  g_assert_nonnull (strstr (ehlo, "\nSTARTTLS\n"));
  /* No AUTH on the MTA port: it is not for users (RFC 6409 §3.1). */
  g_assert_null (strstr (ehlo, "AUTH"));
  command (
      f, "AUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==", SMTP_REPLY_NOT_IMPLEMENTED);
  command (f, "QUIT", SMTP_REPLY_CLOSING);
  expect_closed (f);
}

/* RFC 5321 §4.1.4: commands out of order get 503 5.5.1. */
static void
test_out_of_order_is_503 (Fixture *f, gconstpointer data)
{
  expect (f, SMTP_REPLY_SERVICE_READY);
  send_text (f, "MAIL FROM:<a@b.example>\r\n");
  expect_enhanced (f, SMTP_REPLY_BAD_SEQUENCE, "5.5.1");
  command (f, "HELO client.example", SMTP_REPLY_OK);
  command (f, "RCPT TO:<alice@example.test>", SMTP_REPLY_BAD_SEQUENCE);
  command (f, "DATA", SMTP_REPLY_BAD_SEQUENCE);
  command (f, "MAIL FROM:<a@b.example>", SMTP_REPLY_OK);
  command (f, "DATA", SMTP_REPLY_BAD_SEQUENCE);
  command (f, "MAIL FROM:<a@b.example>", SMTP_REPLY_BAD_SEQUENCE);
  command (f, "RSET", SMTP_REPLY_OK);
  command (f, "RCPT TO:<alice@example.test>", SMTP_REPLY_BAD_SEQUENCE);
}

/* Bad input gets an error and the session goes on (RFC 5321 §4.2.2,
 * §4.5.3.1.4). */
static void
test_bad_input_keeps_session (Fixture *f, gconstpointer data)
{
  g_autofree char *overlong = g_strnfill (600, 'A');
  g_autofree char *overlong_line = g_strconcat (overlong, "\r\n", NULL);

  greet (f);
  send_text (f, "FROB\r\n");
  expect_enhanced (f, SMTP_REPLY_SYNTAX_ERROR, "5.5.2");
  send_text (f, "\r\n");
  expect_enhanced (f, SMTP_REPLY_SYNTAX_ERROR, "5.5.2");
  send_raw (f, "NO\0OP\r\n", 7);
  expect_enhanced (f, SMTP_REPLY_SYNTAX_ERROR, "5.5.2");
  send_text (f, overlong_line);
  expect_enhanced (f, SMTP_REPLY_SYNTAX_ERROR, "5.5.6");
  send_text (f, "MAIL FROM:alice@example.test\r\n");
  expect_enhanced (f, SMTP_REPLY_PARAMETER_SYNTAX_ERROR, "5.1.3");
  send_text (f, "MAIL FROM:<a@b.example> FROB=1\r\n");
  expect_enhanced (f, SMTP_REPLY_PARAMETERS_NOT_RECOGNIZED, "5.5.4");
  command (f, "EHLO", SMTP_REPLY_PARAMETER_SYNTAX_ERROR);
  command (f, "VRFY alice", SMTP_REPLY_CANNOT_VERIFY);
  command (f, "EXPN staff", SMTP_REPLY_NOT_IMPLEMENTED);
  command (f, "HELP", SMTP_REPLY_HELP);
  /* A command ended by a bare LF is still understood (§2.3.8 is about
   * DATA smuggling; commands are not forwarded). */
  send_text (f, "NOOP\n");
  expect (f, SMTP_REPLY_OK);
}

/* Postfix's hard error limit: a client sending only junk is dropped. */
static void
test_too_many_errors_closes (Fixture *f, gconstpointer data)
{
  greet (f);
  for (guint i = 0; i < 19; i++)
    command (f, "FROB", SMTP_REPLY_SYNTAX_ERROR);
  send_text (f, "FROB\r\n");
  expect (f, SMTP_REPLY_SYNTAX_ERROR);
  expect (f, SMTP_REPLY_SERVICE_NOT_AVAILABLE);
  expect_closed (f);
}

static const char simple_body[] = "From: a@b.example\r\n"
                                  "Subject: hello\r\n"
                                  "\r\n"
                                  "..a line that starts with a dot\r\n"
                                  "last line\r\n";
static const char simple_stored[] = "From: a@b.example\r\n"
                                    "Subject: hello\r\n"
                                    "\r\n"
                                    ".a line that starts with a dot\r\n"
                                    "last line\r\n";

/* RFC 5321 §4.1.1.4, §4.4, §4.5.2: stored byte for byte after our trace
 * headers, dot-stuffing removed. */
static void
test_deliver_local (Fixture *f, gconstpointer data)
{
  g_autofree char *message = NULL;
  gsize length = 0;

  greet (f);
  command (f, "MAIL FROM:<sender@b.example>", SMTP_REPLY_OK);
  send_text (f, "RCPT TO:<alice@example.test>\r\n");
  expect_enhanced (f, SMTP_REPLY_OK, "2.1.5");
  command (f, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  send_text (f, simple_body);
  send_text (f, ".\r\n");
  expect_enhanced (f, SMTP_REPLY_OK, "2.0.0");
  message = read_only_message (f, "alice", &length);
  g_assert_true (g_str_has_prefix (message,
                                   "Return-Path: <sender@b.example>\r\n"
                                   "Received: from client.example "
                                   "([127.0.0.1])\r\n\tby mx.example.test "
                                   "(mailwire) with ESMTP id "));
  g_assert_nonnull (strstr (message, "\tfor <alice@example.test>; "));
  g_assert_cmpstr (skip_trace_headers (message), ==, simple_stored);
  g_assert_cmpuint (count_messages (f, "bob"), ==, 0);
  /* The session is ready for the next transaction. */
  command (f, "MAIL FROM:<> BODY=8BITMIME", SMTP_REPLY_OK);
}

/* One message from sender@b.example to @recipients (NULL-terminated),
 * answered 250 2.0.0. */
static void
deliver_simple (Fixture *f, const char *const *recipients)
{
  command (f, "MAIL FROM:<sender@b.example>", SMTP_REPLY_OK);
  for (guint i = 0; recipients[i] != NULL; i++)
    {
      g_autofree char *rcpt = g_strdup_printf ("RCPT TO:<%s>", recipients[i]);

      command (f, rcpt, SMTP_REPLY_OK);
    }
  command (f, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  send_text (f, simple_body);
  send_text (f, ".\r\n");
  expect_enhanced (f, SMTP_REPLY_OK, "2.0.0");
}

/* The Maildirs are made when delivery finds them missing, not before
 * every message: a user's Maildir removed between two messages (and
 * another recipient's, which gets a hard link) is made again, and both
 * get the second message. */
static void
test_deliver_remakes_missing_maildirs (Fixture *f, gconstpointer data)
{
  g_autofree char *alice = mw_harness_maildir (f->harness, "alice");
  g_autofree char *bob = mw_harness_maildir (f->harness, "bob");

  greet (f);
  deliver_simple (f, (const char *const[]){ "alice@example.test", NULL });
  g_assert_cmpuint (count_messages (f, "alice"), ==, 1);
  g_assert_true (mw_harness_remove_tree (alice));
  g_assert_true (mw_harness_remove_tree (bob));
  g_assert_false (g_file_test (alice, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (bob, G_FILE_TEST_EXISTS));
  deliver_simple (f, (const char *const[]){ "alice@example.test",
                                            "bob@example.test", NULL });
  g_assert_cmpuint (count_messages (f, "alice"), ==, 1);
  g_assert_cmpuint (count_messages (f, "bob"), ==, 1);
  for (guint i = 0; i < 2; i++)
    for (guint j = 0; j < 3; j++)
      {
        static const char *const subdirs[] = { "tmp", "new", "cur" };
        g_autofree char *path =
            g_build_filename (i == 0 ? alice : bob, subdirs[j], NULL);

        g_assert_true (g_file_test (path, G_FILE_TEST_IS_DIR));
      }
}

/* The same transaction, every octet in its own write (split reads). */
static void
test_deliver_trickle (Fixture *f, gconstpointer data)
{
  g_autofree char *message = NULL;
  gsize length = 0;

  expect (f, SMTP_REPLY_SERVICE_READY);
  send_trickle (f, "EHLO client.example\r\n");
  expect (f, SMTP_REPLY_OK);
  send_trickle (f, "MAIL FROM:<sender@b.example>\r\n");
  expect (f, SMTP_REPLY_OK);
  send_trickle (f, "RCPT TO:<alice@example.test>\r\n");
  expect (f, SMTP_REPLY_OK);
  send_trickle (f, "DATA\r\n");
  expect (f, SMTP_REPLY_START_MAIL_INPUT);
  send_trickle (f, simple_body);
  send_trickle (f, ".\r\n");
  expect (f, SMTP_REPLY_OK);
  message = read_only_message (f, "alice", &length);
  g_assert_cmpstr (skip_trace_headers (message), ==, simple_stored);
}

/* RFC 2920 §3.1: a whole transaction in one write, replies in order. */
static void
test_pipelining (Fixture *f, gconstpointer data)
{
  greet (f);
  send_text (f, "MAIL FROM:<>\r\n"
                "RCPT TO:<alice@example.test>\r\n"
                "RCPT TO:<nobody@example.test>\r\n"
                "RCPT TO:<bob@example.test>\r\n"
                "DATA\r\n");
  /* RFC 5321 §4.5.5: the null reverse-path is accepted. */
  expect (f, SMTP_REPLY_OK);
  expect (f, SMTP_REPLY_OK);
  expect_enhanced (f, SMTP_REPLY_MAILBOX_UNAVAILABLE, "5.1.1");
  expect (f, SMTP_REPLY_OK);
  expect (f, SMTP_REPLY_START_MAIL_INPUT);
  send_text (f, "Subject: bounce\r\n\r\nbody\r\n.\r\nQUIT\r\n");
  expect (f, SMTP_REPLY_OK);
  expect (f, SMTP_REPLY_CLOSING);
  g_assert_cmpuint (count_messages (f, "alice"), ==, 1);
  g_assert_cmpuint (count_messages (f, "bob"), ==, 1);
}

/* No open relay (RFC 5321 §7.1): without AUTH, only local domains. */
static void
test_relay_denied (Fixture *f, gconstpointer data)
{
  greet (f);
  command (f, "MAIL FROM:<a@b.example>", SMTP_REPLY_OK);
  send_text (f, "RCPT TO:<someone@elsewhere.example>\r\n");
  expect_enhanced (f, SMTP_REPLY_MAILBOX_UNAVAILABLE, "5.7.1");
  send_text (f, "RCPT TO:<nobody@example.test>\r\n");
  expect_enhanced (f, SMTP_REPLY_MAILBOX_UNAVAILABLE, "5.1.1");
  command (f, "DATA", SMTP_REPLY_BAD_SEQUENCE);
  g_assert_cmpuint (f->enqueued->len, ==, 0);
}

/* RFC 5321 §4.5.3.1.10: "452 Too many recipients". */
static void
test_too_many_recipients (Fixture *f, gconstpointer data)
{
  greet (f);
  command (f, "MAIL FROM:<a@b.example>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<alice@example.test>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<bob@example.test>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<ALICE@example.test>", SMTP_REPLY_OK);
  send_text (f, "RCPT TO:<bob@example.test>\r\n");
  expect_enhanced (f, SMTP_REPLY_INSUFFICIENT_STORAGE, "4.5.3");
}

/* RFC 1870 §6: SIZE checked at MAIL and enforced while reading DATA. */
static void
test_size_limit (Fixture *f, gconstpointer data)
{
  g_autofree char *ehlo = NULL;
  g_autofree char *line = g_strnfill (98, 'x');
  g_autoptr (GString) body = g_string_new (NULL);

  expect (f, SMTP_REPLY_SERVICE_READY);
  send_text (f, "EHLO client.example\r\n");
  ehlo = expect_reply (f, SMTP_REPLY_OK);
  g_assert_nonnull (strstr (ehlo, "\nSIZE 1000\n"));
  send_text (f, "MAIL FROM:<a@b.example> SIZE=1001\r\n");
  expect_enhanced (f, SMTP_REPLY_EXCEEDED_STORAGE, "5.3.4");
  command (f, "MAIL FROM:<a@b.example> SIZE=x",
           SMTP_REPLY_PARAMETER_SYNTAX_ERROR);
  command (f, "MAIL FROM:<a@b.example> SIZE=900", SMTP_REPLY_OK);
  command (f, "RCPT TO:<alice@example.test>", SMTP_REPLY_OK);
  command (f, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  for (guint i = 0; i < 20; i++)
    g_string_append_printf (body, "%s\r\n", line);
  g_string_append (body, ".\r\n");
  send_text (f, body->str);
  expect_enhanced (f, SMTP_REPLY_EXCEEDED_STORAGE, "5.3.4");
  g_assert_cmpuint (count_messages (f, "alice"), ==, 0);
  command (f, "NOOP", SMTP_REPLY_OK);
}

/* SMTP smuggling (CVE-2023-51764): a lone "." next to a bare LF or CR
 * does not end DATA; the message holding it is refused, and what
 * followed it is never run as commands. */
static const char *const smuggling_sequences[] = {
  "\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\r\n.\r",
};

static void
test_smuggling (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < G_N_ELEMENTS (smuggling_sequences); i++)
    {
      g_autofree char *attack =
          g_strconcat ("Subject: innocent\r\n\r\nhello", smuggling_sequences[i],
                       "MAIL FROM:<evil@b.example>\r\n"
                       "RCPT TO:<bob@example.test>\r\n"
                       "DATA\r\n"
                       "Subject: forged\r\n\r\n.\r\n"
                       "NOOP\r\n",
                       NULL);

      if (i == 0)
        greet (f);
      command (f, "MAIL FROM:<a@b.example>", SMTP_REPLY_OK);
      command (f, "RCPT TO:<alice@example.test>", SMTP_REPLY_OK);
      command (f, "DATA", SMTP_REPLY_START_MAIL_INPUT);
      send_text (f, attack);
      expect_enhanced (f, SMTP_REPLY_TRANSACTION_FAILED, "5.6.0");
      /* The next reply answers NOOP, not the smuggled MAIL. */
      expect_enhanced (f, SMTP_REPLY_OK, "2.0.0");
      g_assert_cmpuint (count_messages (f, "alice"), ==, 0);
      g_assert_cmpuint (count_messages (f, "bob"), ==, 0);
    }
}

/* RFC 5321 §4.5.2: NUL is not text. */
static void
test_nul_in_data_refused (Fixture *f, gconstpointer data)
{
  static const char body[] = "Subject: x\r\n\r\nnul \0 here\r\n.\r\n";

  greet (f);
  command (f, "MAIL FROM:<a@b.example>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<alice@example.test>", SMTP_REPLY_OK);
  command (f, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  send_raw (f, body, sizeof body - 1);
  expect_enhanced (f, SMTP_REPLY_TRANSACTION_FAILED, "5.6.0");
  g_assert_cmpuint (count_messages (f, "alice"), ==, 0);
}

/* The client hangs up in the middle of a message: once the session has
 * ended, alice has no message and nothing is left in tmp/ either. */
static void
vanish_and_check_nothing_kept (Fixture *f)
{
  g_autofree char *maildir = mw_harness_maildir (f->harness, "alice");
  g_autofree char *tmp = g_build_filename (maildir, "tmp", NULL);
  g_autoptr (GDir) listing = NULL;

  g_clear_pointer (&f->stream, mail_stream_free);
  g_io_stream_close (G_IO_STREAM (f->connection), NULL, NULL);
  g_clear_object (&f->connection);
  g_thread_join (g_steal_pointer (&f->server));
  g_assert_cmpuint (count_messages (f, "alice"), ==, 0);
  listing = g_dir_open (tmp, 0, NULL);
  g_assert_true (listing == NULL || g_dir_read_name (listing) == NULL);
}

/* A client that vanishes mid-DATA leaves nothing behind. */
static void
test_vanish_mid_data (Fixture *f, gconstpointer data)
{
  greet (f);
  command (f, "MAIL FROM:<a@b.example>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<alice@example.test>", SMTP_REPLY_OK);
  command (f, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  send_text (f, "Subject: half\r\n\r\nhalf a message");
  vanish_and_check_nothing_kept (f);
}

/* Durable before yes, all or nothing: when bob's copy cannot be stored,
 * alice's copy is taken back and the client hears 451 4.3.0. */
static void
test_store_failure_rolls_back (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *bob = mw_harness_maildir (f->harness, "bob");
  g_autofree char *parent = g_path_get_dirname (bob);

  /* A plain file where bob's Maildir should be: delivery must fail. */
  g_mkdir_with_parents (parent, 0700);
  g_file_set_contents (bob, "not a directory", -1, &error);
  g_assert_no_error (error);
  greet (f);
  command (f, "MAIL FROM:<a@b.example>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<alice@example.test>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<bob@example.test>", SMTP_REPLY_OK);
  command (f, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  g_test_expect_message ("mw-smtpd", G_LOG_LEVEL_WARNING, "*not stored*");
  send_text (f, "Subject: x\r\n\r\nbody\r\n.\r\n");
  expect_enhanced (f, SMTP_REPLY_LOCAL_ERROR, "4.3.0");
  g_test_assert_expected_messages ();
  g_assert_cmpuint (count_messages (f, "alice"), ==, 0);
  command (f, "NOOP", SMTP_REPLY_OK);
}

/* RFC 6409 §4.3, RFC 4954: submission wants TLS, then AUTH, then MAIL. */
static void
test_submission_flow (Fixture *f, gconstpointer data)
{
  g_autofree char *ehlo = NULL;

  greet (f);
  send_text (f, "MAIL FROM:<alice@example.test>\r\n");
  expect_enhanced (f, SMTP_REPLY_AUTH_REQUIRED, "5.7.0");
  send_text (f, "AUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==\r\n");
  expect_enhanced (f, SMTP_REPLY_ENCRYPTION_REQUIRED, "5.7.11");
  start_tls (f);
  /* RFC 3207 §4.2: the session starts over, EHLO first. */
  command (f, "MAIL FROM:<alice@example.test>", SMTP_REPLY_BAD_SEQUENCE);
  send_text (f, "EHLO client.example\r\n");
  ehlo = expect_reply (f, SMTP_REPLY_OK);
  g_assert_nonnull (strstr (ehlo, "\nAUTH PLAIN LOGIN\n"));
  g_assert_null (strstr (ehlo, "STARTTLS"));
  command (f, "STARTTLS", SMTP_REPLY_BAD_SEQUENCE);
  authenticate (f, "alice", "alice-secret");
  command (f,
           "AUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==", SMTP_REPLY_BAD_SEQUENCE);
  /* sender_must_match_login: alice may not send as bob. */
  send_text (f, "MAIL FROM:<bob@example.test>\r\n");
  expect_enhanced (f, SMTP_REPLY_MAILBOX_NAME_NOT_ALLOWED, "5.7.1");
  command (f, "MAIL FROM:<alice@example.test>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<carol@remote.example>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<bob@example.test>", SMTP_REPLY_OK);
  command (f, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  send_text (f, "Subject: relayed\r\n\r\nhi\r\n.\r\n");
  expect (f, SMTP_REPLY_OK);
  g_assert_cmpuint (f->enqueued->len, ==, 1);
  g_assert_cmpstr (f->enqueued->pdata[0], ==,
                   "alice@example.test -> carol@remote.example");
  /* RFC 3848: TLS and AUTH both show in the Received line. */
  g_assert_nonnull (strstr (f->last_enqueued_message->str, "with ESMTPSA id "));
  g_assert_cmpuint (count_messages (f, "bob"), ==, 1);
}

/* A submission with a local and a remote recipient whose queueing fails:
 * the local copy is taken back too (no half delivery) and the client is
 * told to try again later with @reply and @enhanced. */
static void
check_queue_failure (Fixture *f, SmtpReplyCode reply, const char *enhanced)
{
  greet (f);
  start_tls (f);
  command (f, "EHLO client.example", SMTP_REPLY_OK);
  authenticate (f, "alice", "alice-secret");
  command (f, "MAIL FROM:<alice@example.test>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<bob@example.test>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<carol@remote.example>", SMTP_REPLY_OK);
  command (f, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  g_test_expect_message ("mw-smtpd", G_LOG_LEVEL_WARNING, "*not stored*");
  send_text (f, "Subject: x\r\n\r\nhi\r\n.\r\n");
  expect_enhanced (f, reply, enhanced);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (count_messages (f, "bob"), ==, 0);
}

static void
test_queue_failure_rolls_back (Fixture *f, gconstpointer data)
{
  f->enqueue_fails = TRUE;
  check_queue_failure (f, SMTP_REPLY_LOCAL_ERROR, "4.3.0");
}

/* RFC 4954 §4: challenges, "=" and "*", LOGIN, wrong passwords. */
static void
test_auth_exchanges (Fixture *f, gconstpointer data)
{
  g_autofree char *user = g_base64_encode ((const guchar *) "bob", 3);
  g_autofree char *password =
      g_base64_encode ((const guchar *) "bob-secret", 10);
  g_autofree char *challenge = NULL;

  greet (f);
  start_tls (f);
  command (f, "EHLO client.example", SMTP_REPLY_OK);
  command (f, "AUTH CRAM-MD5", SMTP_REPLY_PARAMETER_NOT_IMPLEMENTED);
  /* PLAIN without initial response: an empty challenge, then cancel. */
  send_text (f, "AUTH PLAIN\r\n");
  challenge = expect_reply (f, SMTP_REPLY_AUTH_CONTINUE);
  g_assert_cmpstr (challenge, ==, "");
  command (f, "*", SMTP_REPLY_PARAMETER_SYNTAX_ERROR);
  /* "=" is an empty initial response, which PLAIN refuses. */
  command (f, "AUTH PLAIN =", SMTP_REPLY_PARAMETER_SYNTAX_ERROR);
  command (f, "AUTH PLAIN !!notbase64", SMTP_REPLY_PARAMETER_SYNTAX_ERROR);
  send_text (f, "AUTH PLAIN AGJvYgB3cm9uZw==\r\n"); /* bob / wrong */
  expect_enhanced (f, SMTP_REPLY_AUTH_INVALID, "5.7.8");
  /* LOGIN: user name and password, each after its 334 prompt. */
  send_text (f, "AUTH LOGIN\r\n");
  g_free (challenge);
  challenge = expect_reply (f, SMTP_REPLY_AUTH_CONTINUE);
  g_assert_cmpstr (challenge, ==, MAIL_SASL_LOGIN_USER_CHALLENGE);
  send_text (f, user);
  send_text (f, "\r\n");
  g_free (challenge);
  challenge = expect_reply (f, SMTP_REPLY_AUTH_CONTINUE);
  g_assert_cmpstr (challenge, ==, MAIL_SASL_LOGIN_PASSWORD_CHALLENGE);
  send_text (f, password);
  send_text (f, "\r\n");
  expect_enhanced (f, SMTP_REPLY_AUTH_SUCCEEDED, "2.7.0");
  command (f, "MAIL FROM:<bob@example.test>", SMTP_REPLY_OK);
}

/* RFC 8314 §3.3: TLS from the first byte; AUTH at once, no STARTTLS. */
static void
test_implicit_tls (Fixture *f, gconstpointer data)
{
  g_autofree char *ehlo = NULL;

  expect (f, SMTP_REPLY_SERVICE_READY);
  send_text (f, "EHLO client.example\r\n");
  ehlo = expect_reply (f, SMTP_REPLY_OK);
  g_assert_nonnull (strstr (ehlo, "\nAUTH PLAIN LOGIN\n"));
  g_assert_null (strstr (ehlo, "STARTTLS"));
  authenticate (f, "alice", "alice-secret");
}

/* RFC 3207 §4, CVE-2011-0411: commands pipelined after STARTTLS were sent
 * in clear; the server must not run them, and drops the connection. */
static void
test_plaintext_after_starttls (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  greet (f);
  send_text (f, "STARTTLS\r\nRSET\r\n");
  expect (f, SMTP_REPLY_SERVICE_READY);
  g_assert_false (mail_stream_start_tls_client (f->stream, "localhost",
                                                mw_harness_cert (f->harness),
                                                FALSE, NULL, &error));
  g_assert_nonnull (error);
}

/* "mw-admin user add" takes effect without a restart. */
static void
test_users_reload (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailUsers) users = NULL;

  greet (f);
  command (f, "MAIL FROM:<a@b.example>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<carol@example.test>", SMTP_REPLY_MAILBOX_UNAVAILABLE);
  users = mail_users_load (f->config->users_file, &error);
  g_assert_no_error (error);
  mail_users_set (users, "carol", "carol-secret", NULL, FALSE, &error);
  g_assert_no_error (error);
  mail_users_save (users, &error);
  g_assert_no_error (error);
  command (f, "RCPT TO:<carol@example.test>", SMTP_REPLY_OK);
}

/* --protocol-log: every line logged, no secret among them (STYLE §4:
 * never log AUTH payloads). */
typedef struct
{
  GMutex lock;
  GString *text;
} LogCapture;

static void
on_log (const char *domain,
        GLogLevelFlags level,
        const char *message,
        gpointer user_data)
{
  LogCapture *capture = user_data;

  g_mutex_lock (&capture->lock);
  g_string_append_printf (capture->text, "%s\n", message);
  g_mutex_unlock (&capture->lock);
}

static void
test_protocol_log_masks_secrets (Fixture *f, gconstpointer data)
{
  g_autofree char *user = g_base64_encode ((const guchar *) "bob", 3);
  g_autofree char *password =
      g_base64_encode ((const guchar *) "bob-secret", 10);
  g_autofree char *plain = mail_sasl_plain_encode (NULL, "bob", "bob-secret");
  LogCapture capture = { .text = g_string_new (NULL) };
  guint handler = 0;

  g_mutex_init (&capture.lock);
  handler =
      g_log_set_handler ("mw-smtpd", G_LOG_LEVEL_MESSAGE, on_log, &capture);
  greet (f);
  start_tls (f);
  command (f, "EHLO client.example", SMTP_REPLY_OK);
  command (f, "AUTH LOGIN", SMTP_REPLY_AUTH_CONTINUE);
  command (f, user, SMTP_REPLY_AUTH_CONTINUE);
  command (f, password, SMTP_REPLY_AUTH_SUCCEEDED);
  command (f, "QUIT", SMTP_REPLY_CLOSING);
  expect_closed (f);
  g_thread_join (g_steal_pointer (&f->server)); /* all lines logged */
  g_log_remove_handler ("mw-smtpd", handler);
  g_assert_nonnull (strstr (capture.text->str, "C: AUTH "));
  g_assert_nonnull (strstr (capture.text->str, "S: 235 2.7.0 "));
  g_assert_nonnull (strstr (capture.text->str, "C: ***\n"));
  g_assert_null (strstr (capture.text->str, user));
  g_assert_null (strstr (capture.text->str, password));
  g_assert_null (strstr (capture.text->str, plain));
  g_assert_null (strstr (capture.text->str, "bob-secret"));
  g_string_free (capture.text, TRUE);
  g_mutex_clear (&capture.lock);
}

/* RFC 5321 §4.5.3.2: timeouts hold from the first byte, also while the
 * server waits for an implicit TLS handshake that never comes. */
static void
test_silent_tls_client_times_out (Fixture *f, gconstpointer data)
{
  gint64 start = g_get_monotonic_time ();

  g_test_expect_message ("mw-smtpd", G_LOG_LEVEL_MESSAGE,
                         "*TLS handshake failed*");
  expect_closed (f); /* the server hangs up; our own timeout is 20 s */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  g_thread_join (g_steal_pointer (&f->server));
  g_test_assert_expected_messages ();
}

/* RFC 6531: UTF-8 addresses only with SMTPUTF8, trace "with UTF8SMTP". */
static void
test_smtputf8 (Fixture *f, gconstpointer data)
{
  g_autofree char *ehlo = NULL;
  g_autofree char *message = NULL;
  gsize length = 0;

  expect (f, SMTP_REPLY_SERVICE_READY);
  send_text (f, "EHLO client.example\r\n");
  ehlo = expect_reply (f, SMTP_REPLY_OK);
  g_assert_nonnull (strstr (ehlo, "\nSMTPUTF8\n"));
  send_text (f, "MAIL FROM:<j\xc3\xb6rg@b.example>\r\n");
  expect_enhanced (f, SMTP_REPLY_MAILBOX_NAME_NOT_ALLOWED, "5.6.7");
  command (f, "MAIL FROM:<a@b.example>", SMTP_REPLY_OK);
  send_text (f, "RCPT TO:<j\xc3\xb6rg@example.test>\r\n");
  expect_enhanced (f, SMTP_REPLY_MAILBOX_NAME_NOT_ALLOWED, "5.6.7");
  command (f, "RSET", SMTP_REPLY_OK);
  command (f, "MAIL FROM:<j\xc3\xb6rg@b.example> SMTPUTF8 BODY=8BITMIME",
           SMTP_REPLY_OK);
  send_text (f, "RCPT TO:<j\xc3\xb6rg@example.test>\r\n");
  expect_enhanced (f, SMTP_REPLY_MAILBOX_UNAVAILABLE, "5.1.1");
  command (f, "RCPT TO:<alice@example.test>", SMTP_REPLY_OK);
  command (f, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  send_text (f, "Subject: gr\xc3\xbc\xc3\x9f"
                "e\r\n\r\nhi\r\n.\r\n");
  expect (f, SMTP_REPLY_OK);
  message = read_only_message (f, "alice", &length);
  g_assert_true (
      g_str_has_prefix (message, "Return-Path: <j\xc3\xb6rg@b.example>\r\n"));
  g_assert_nonnull (strstr (message, " with UTF8SMTP id "));
  g_assert_cmpstr (skip_trace_headers (message), ==,
                   "Subject: gr\xc3\xbc\xc3\x9f"
                   "e\r\n\r\nhi\r\n");
  /* The next transaction is plain again. */
  command (f, "MAIL FROM:<a@b.example>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<j\xc3\xb6rg@example.test>",
           SMTP_REPLY_MAILBOX_NAME_NOT_ALLOWED);
}

/* RFC 6531 §3.5: SMTPUTF8 mail for a remote mailbox is queued with its
 * mark, so the relay asks the next hop for SMTPUTF8 too; plain mail is
 * queued without it. */
static void
test_smtputf8_queued_with_mark (Fixture *f, gconstpointer data)
{
  expect (f, SMTP_REPLY_SERVICE_READY);
  command (f, "EHLO client.example", SMTP_REPLY_OK);
  start_tls (f);
  command (f, "EHLO client.example", SMTP_REPLY_OK);
  authenticate (f, "alice", "alice-secret");
  command (f, "MAIL FROM:<alice@example.test> SMTPUTF8", SMTP_REPLY_OK);
  command (f, "RCPT TO:<j\xc3\xb6rg@elsewhere.example>", SMTP_REPLY_OK);
  command (f, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  send_text (f, "Subject: gr\xc3\xbc\xc3\x9f"
                "e\r\n\r\nhi\r\n.\r\n");
  expect (f, SMTP_REPLY_OK);
  command (f, "MAIL FROM:<alice@example.test>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<carol@elsewhere.example>", SMTP_REPLY_OK);
  command (f, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  send_text (f, "Subject: plain\r\n\r\nhi\r\n.\r\n");
  expect (f, SMTP_REPLY_OK);
  g_assert_cmpuint (f->enqueued->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (f->enqueued, 0), ==,
                   "alice@example.test -> j\xc3\xb6rg@elsewhere.example "
                   "(SMTPUTF8)");
  g_assert_cmpstr (g_ptr_array_index (f->enqueued, 1), ==,
                   "alice@example.test -> carol@elsewhere.example");
}

/* A full disk is a transient failure the sender retries: 452 4.3.1, not a
 * lost message (RFC 3463 §3.4 "mail system full"). */
static void
test_full_disk_is_452 (Fixture *f, gconstpointer data)
{
  f->enqueue_full = TRUE;
  check_queue_failure (f, SMTP_REPLY_INSUFFICIENT_STORAGE, "4.3.1");
}

/* ---- BDAT (RFC 3030 CHUNKING) ----------------------------------------- */

/* Sends "BDAT <size>[ LAST]" and the chunk in one write. */
static void
send_chunk (Fixture *f, const char *chunk, gsize length, gboolean last)
{
  g_autofree char *line =
      g_strdup_printf ("BDAT %zu%s\r\n", length, last ? " LAST" : "");

  mail_stream_write (f->stream, line, strlen (line));
  send_raw (f, chunk, length);
}

static void
open_transaction (Fixture *f)
{
  command (f, "MAIL FROM:<sender@b.example>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<alice@example.test>", SMTP_REPLY_OK);
}

/* Chunks are stored as sent: no dot-stuffing, and a "." line or CRLF . CRLF
 * inside a chunk is text like any other (RFC 3030 §2). */
static void
test_bdat_stores_chunks_as_sent (Fixture *f, gconstpointer data)
{
  static const char first[] = "From: a@b.example\r\nSubject: chunks\r\n\r\n"
                              ".a line that starts with a dot\r\n.\r\n";
  static const char second[] = "..two dots stay two\r\nlast line\r\n";
  g_autofree char *ehlo = NULL;
  g_autofree char *received = NULL;
  g_autofree char *accepted = NULL;
  g_autofree char *message = NULL;
  g_autofree char *expected = g_strconcat (first, second, NULL);
  g_autofree char *how = NULL;
  gsize length = 0;

  expect (f, SMTP_REPLY_SERVICE_READY);
  send_text (f, "EHLO client.example\r\n");
  ehlo = expect_reply (f, SMTP_REPLY_OK);
  g_assert_nonnull (strstr (ehlo, "\nCHUNKING\n"));
  g_assert_null (strstr (ehlo, "BINARYMIME")); /* not offered, not faked */
  open_transaction (f);
  send_chunk (f, first, strlen (first), FALSE);
  received = expect_reply (f, SMTP_REPLY_OK);
  g_assert_true (g_str_has_prefix (received, "2.0.0 "));
  g_assert_nonnull (strstr (received, "octets received"));
  g_assert_cmpuint (count_messages (f, "alice"), ==, 0); /* not before LAST */
  send_chunk (f, second, strlen (second), TRUE);
  accepted = expect_reply (f, SMTP_REPLY_OK);
  how = g_strdup_printf ("accepted (%zu octets in 2 BDAT chunks)",
                         strlen (expected));
  g_assert_true (g_str_has_suffix (accepted, how));
  message = read_only_message (f, "alice", &length);
  g_assert_true (g_str_has_prefix (message,
                                   "Return-Path: <sender@b.example>\r\n"
                                   "Received: from client.example "));
  g_assert_cmpstr (skip_trace_headers (message), ==, expected);
  /* The session is ready for the next transaction, by DATA too. */
  open_transaction (f);
  command (f, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  send_text (f, "Subject: after\r\n\r\nx\r\n.\r\n");
  expect (f, SMTP_REPLY_OK);
  g_assert_cmpuint (count_messages (f, "alice"), ==, 2);
}

/* The whole transaction in one write, then one octet per write, and an
 * empty last chunk (RFC 3030 §2: "BDAT 0 LAST"). */
static void
test_bdat_pipelined_and_trickled (Fixture *f, gconstpointer data)
{
  static const char text[] = "Subject: p\r\n\r\none\r\n";
  g_autofree char *batch = g_strdup_printf (
      "MAIL FROM:<sender@b.example>\r\nRCPT TO:<alice@example.test>\r\n"
      "BDAT %zu\r\n%sBDAT 0 LAST\r\nNOOP\r\n",
      strlen (text), text);

  greet (f);
  send_text (f, batch);
  expect (f, SMTP_REPLY_OK); /* MAIL */
  expect (f, SMTP_REPLY_OK); /* RCPT */
  expect (f, SMTP_REPLY_OK); /* the chunk */
  expect (f, SMTP_REPLY_OK); /* LAST: stored */
  expect (f, SMTP_REPLY_OK); /* NOOP */
  send_trickle (f, batch);
  for (guint i = 0; i < 5; i++)
    expect (f, SMTP_REPLY_OK);
  g_assert_cmpuint (count_messages (f, "alice"), ==, 2);
}

/* A refused BDAT still has its octets read: the commands hidden in them
 * are never run (RFC 3030 §2). */
static void
test_bdat_refused_chunk_is_read (Fixture *f, gconstpointer data)
{
  static const char hidden[] = "MAIL FROM:<evil@b.example>\r\n";

  greet (f);
  send_chunk (f, hidden, strlen (hidden), TRUE); /* no MAIL yet */
  expect_enhanced (f, SMTP_REPLY_BAD_SEQUENCE, "5.5.1");
  command (f, "NOOP", SMTP_REPLY_OK);
  command (f, "MAIL FROM:<sender@b.example>", SMTP_REPLY_OK);
  send_chunk (f, hidden, strlen (hidden), FALSE); /* no RCPT yet */
  expect_enhanced (f, SMTP_REPLY_BAD_SEQUENCE, "5.5.1");
  command (f, "RCPT TO:<alice@example.test>", SMTP_REPLY_OK);
  send_chunk (f, "Subject: x\r\n", 12, FALSE);
  expect (f, SMTP_REPLY_OK);
  /* Inside BDAT: no DATA, no more recipients, no new MAIL. */
  command (f, "DATA", SMTP_REPLY_BAD_SEQUENCE);
  command (f, "RCPT TO:<bob@example.test>", SMTP_REPLY_BAD_SEQUENCE);
  command (f, "MAIL FROM:<x@b.example>", SMTP_REPLY_BAD_SEQUENCE);
  /* RSET drops the chunks taken so far. */
  command (f, "RSET", SMTP_REPLY_OK);
  send_chunk (f, hidden, strlen (hidden), TRUE);
  expect_enhanced (f, SMTP_REPLY_BAD_SEQUENCE, "5.5.1");
  command (f, "NOOP", SMTP_REPLY_OK);
  g_assert_cmpuint (count_messages (f, "alice"), ==, 0);
}

/* RFC 1870 §6 per chunk: the chunk that passes the limit is read and
 * dropped, and so is the message; the client's next chunks, already on
 * the way, are read and refused too. A chunk far bigger than the limit
 * is read in pieces, never held whole. */
static void
test_bdat_size_limit (Fixture *f, gconstpointer data)
{
  g_autofree char *six_hundred = g_strnfill (600, 'x');
  g_autofree char *big = g_strnfill (4 * 1024 * 1024, 'y');

  greet (f);
  open_transaction (f);
  send_chunk (f, six_hundred, 600, FALSE);
  expect (f, SMTP_REPLY_OK);
  send_chunk (f, six_hundred, 600, FALSE);
  expect_enhanced (f, SMTP_REPLY_EXCEEDED_STORAGE, "5.3.4");
  send_chunk (f, six_hundred, 600, TRUE);
  expect_enhanced (f, SMTP_REPLY_BAD_SEQUENCE, "5.5.1");
  open_transaction (f);
  send_chunk (f, big, strlen (big), TRUE);
  expect_enhanced (f, SMTP_REPLY_EXCEEDED_STORAGE, "5.3.4");
  command (f, "NOOP", SMTP_REPLY_OK);
  g_assert_cmpuint (count_messages (f, "alice"), ==, 0);
}

/* BDAT has no end marker to smuggle, but the text goes on to next hops
 * by DATA: bare LF, bare CR and NUL are refused as in DATA. A CRLF split
 * between two chunks is a CRLF. */
static void
test_bdat_line_ends (Fixture *f, gconstpointer data)
{
  static const char smuggle[] = "Subject: s\r\n\r\nhi\n.\nMAIL FROM:<e@b>\r\n";
  static const char nul[] = "Subject: n\r\n\r\nnul \0 here\r\n";
  static const char split[] = "Subject: split\r\n\r\nline\r";

  greet (f);
  open_transaction (f);
  send_chunk (f, smuggle, strlen (smuggle), TRUE);
  expect_enhanced (f, SMTP_REPLY_TRANSACTION_FAILED, "5.6.0");
  open_transaction (f);
  send_chunk (f, nul, sizeof nul - 1, TRUE);
  expect_enhanced (f, SMTP_REPLY_TRANSACTION_FAILED, "5.6.0");
  g_assert_cmpuint (count_messages (f, "alice"), ==, 0);
  open_transaction (f);
  send_chunk (f, split, strlen (split), FALSE);
  expect (f, SMTP_REPLY_OK);
  send_chunk (f, "\n", 1, TRUE);
  expect_enhanced (f, SMTP_REPLY_OK, "2.0.0");
  g_assert_cmpuint (count_messages (f, "alice"), ==, 1);
}

/* Without a valid size the end of the chunk cannot be found: 501, and
 * the connection is closed rather than read the text as commands. */
static void
test_bdat_bad_size_closes (Fixture *f, gconstpointer data)
{
  greet (f);
  open_transaction (f);
  send_text (f, "BDAT lots\r\nMAIL FROM:<evil@b.example>\r\n");
  expect_enhanced (f, SMTP_REPLY_PARAMETER_SYNTAX_ERROR, "5.5.4");
  expect_closed (f);
  g_assert_cmpuint (count_messages (f, "alice"), ==, 0);
}

/* A client that vanishes in the middle of a chunk leaves nothing. */
static void
test_bdat_vanish_mid_chunk (Fixture *f, gconstpointer data)
{
  greet (f);
  open_transaction (f);
  send_chunk (f, "Subject: one\r\n", 14, FALSE);
  expect (f, SMTP_REPLY_OK);
  send_text (f, "BDAT 100 LAST\r\nSubject: half");
  vanish_and_check_nothing_kept (f);
}

/* Remote recipients of a chunked message go to the queue, without our
 * Return-Path (RFC 5321 §4.4), exactly as DATA sends them. */
static void
test_bdat_relayed_through_queue (Fixture *f, gconstpointer data)
{
  static const char text[] = "Subject: out\r\n\r\n.dot\r\n";

  expect (f, SMTP_REPLY_SERVICE_READY);
  command (f, "EHLO client.example", SMTP_REPLY_OK);
  start_tls (f);
  command (f, "EHLO client.example", SMTP_REPLY_OK);
  authenticate (f, "alice", "alice-secret");
  command (f, "MAIL FROM:<alice@example.test>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<carol@elsewhere.example>", SMTP_REPLY_OK);
  send_chunk (f, text, strlen (text), TRUE);
  expect (f, SMTP_REPLY_OK);
  g_assert_cmpuint (f->enqueued->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->enqueued, 0), ==,
                   "alice@example.test -> carol@elsewhere.example");
  g_assert_true (
      g_str_has_prefix (f->last_enqueued_message->str, "Received: from "));
  g_assert_true (g_str_has_suffix (f->last_enqueued_message->str, text));
}

static void
add (const char *path,
     const SessionSetup *setup,
     void (*func) (Fixture *, gconstpointer))
{
  g_test_add (path, Fixture, setup, fixture_set_up, func, fixture_tear_down);
}

/* ---- DSN (RFC 3461) ---------------------------------------------------- */

/* RFC 3461 §4: RET, ENVID, NOTIFY and ORCPT reach the queue decoded, one
 * request per recipient in order; a recipient that asked nothing has
 * nothing. */
static void
test_dsn_params_reach_the_queue (Fixture *f, gconstpointer data)
{
  g_autofree char *ehlo = NULL;

  expect (f, SMTP_REPLY_SERVICE_READY);
  command (f, "EHLO client.example", SMTP_REPLY_OK);
  start_tls (f);
  send_text (f, "EHLO client.example\r\n");
  ehlo = expect_reply (f, SMTP_REPLY_OK);
  g_assert_nonnull (strstr (ehlo, "\nDSN\n"));
  authenticate (f, "alice", "alice-secret");
  command (f, "MAIL FROM:<alice@example.test> RET=HDRS ENVID=QQ+2B1",
           SMTP_REPLY_OK);
  command (f,
           "RCPT TO:<carol@remote.example> NOTIFY=SUCCESS,FAILURE "
           "ORCPT=rfc822;carol+2Bold@remote.example",
           SMTP_REPLY_OK);
  command (f, "RCPT TO:<dave@remote.example>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<erin@remote.example> NOTIFY=NEVER", SMTP_REPLY_OK);
  command (f, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  send_text (f, "Subject: dsn\r\n\r\nhi\r\n.\r\n");
  expect (f, SMTP_REPLY_OK);
  g_assert_cmpuint (f->enqueued->len, ==, 1);
  g_assert_cmpstr (f->enqueued->pdata[0], ==,
                   "alice@example.test -> carol@remote.example,"
                   "dave@remote.example,erin@remote.example [RET=HDRS "
                   "ENVID=QQ+1; carol@remote.example NOTIFY=SUCCESS,FAILURE "
                   "ORCPT=rfc822;carol+old@remote.example; "
                   "erin@remote.example NOTIFY=NEVER]");
}

/* RFC 3461 §5.2.3: a local recipient with NOTIFY=SUCCESS goes through the
 * queue, which delivers it and sends the notice; the others of the same
 * transaction are delivered at once. */
static void
test_dsn_local_success_through_queue (Fixture *f, gconstpointer data)
{
  greet (f);
  command (f, "MAIL FROM:<sender@b.example>", SMTP_REPLY_OK);
  command (f, "RCPT TO:<bob@example.test> NOTIFY=SUCCESS", SMTP_REPLY_OK);
  command (f, "RCPT TO:<alice@example.test> NOTIFY=FAILURE", SMTP_REPLY_OK);
  command (f, "DATA", SMTP_REPLY_START_MAIL_INPUT);
  send_text (f, "Subject: x\r\n\r\nhi\r\n.\r\n");
  expect (f, SMTP_REPLY_OK);
  g_assert_cmpuint (f->enqueued->len, ==, 1);
  g_assert_cmpstr (f->enqueued->pdata[0], ==,
                   "sender@b.example -> bob@example.test [bob@example.test "
                   "NOTIFY=SUCCESS]");
  g_assert_cmpuint (count_messages (f, "bob"), ==, 0);
  g_assert_cmpuint (count_messages (f, "alice"), ==, 1);
}

/* RFC 3461 §4: bad or repeated DSN parameters are 501 5.5.4; unknown
 * RCPT parameters 555 (RFC 5321 §4.1.1.11); the session goes on. */
static void
test_dsn_bad_params (Fixture *f, gconstpointer data)
{
  greet (f);
  send_text (f, "MAIL FROM:<a@b.example> RET=FULL RET=HDRS\r\n");
  expect_enhanced (f, SMTP_REPLY_PARAMETER_SYNTAX_ERROR, "5.5.4");
  send_text (f, "MAIL FROM:<a@b.example> RET=SOME\r\n");
  expect_enhanced (f, SMTP_REPLY_PARAMETER_SYNTAX_ERROR, "5.5.4");
  send_text (f, "MAIL FROM:<a@b.example> ENVID=a+2\r\n");
  expect_enhanced (f, SMTP_REPLY_PARAMETER_SYNTAX_ERROR, "5.5.4");
  command (f, "MAIL FROM:<a@b.example> ENVID=ok", SMTP_REPLY_OK);
  send_text (f, "RCPT TO:<alice@example.test> NOTIFY=NEVER,DELAY\r\n");
  expect_enhanced (f, SMTP_REPLY_PARAMETER_SYNTAX_ERROR, "5.5.4");
  send_text (f, "RCPT TO:<alice@example.test> ORCPT=alice@example.test\r\n");
  expect_enhanced (f, SMTP_REPLY_PARAMETER_SYNTAX_ERROR, "5.5.4");
  send_text (f, "RCPT TO:<alice@example.test> NOTIFY=DELAY NOTIFY=DELAY\r\n");
  expect_enhanced (f, SMTP_REPLY_PARAMETER_SYNTAX_ERROR, "5.5.4");
  send_text (f, "RCPT TO:<alice@example.test> FOO=1\r\n");
  expect_enhanced (f, SMTP_REPLY_PARAMETERS_NOT_RECOGNIZED, "5.5.4");
  command (f, "RCPT TO:<alice@example.test> NOTIFY=DELAY", SMTP_REPLY_OK);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  add ("/smtp/session/ehlo-on-mta-offers-no-auth", &mta, test_ehlo_on_mta);
  add ("/smtp/session/out-of-order-is-503", &mta, test_out_of_order_is_503);
  add ("/smtp/session/bad-input-keeps-session", &mta,
       test_bad_input_keeps_session);
  add ("/smtp/session/too-many-errors-closes", &mta,
       test_too_many_errors_closes);
  add ("/smtp/session/deliver-local-byte-exact", &mta, test_deliver_local);
  add ("/smtp/session/deliver-trickle", &mta, test_deliver_trickle);
  add ("/smtp/session/deliver-remakes-missing-maildirs", &mta,
       test_deliver_remakes_missing_maildirs);
  add ("/smtp/session/pipelining-and-null-sender", &mta, test_pipelining);
  add ("/smtp/session/relay-denied-is-550-5.7.1", &mta, test_relay_denied);
  add ("/smtp/session/too-many-recipients-is-452", &small,
       test_too_many_recipients);
  add ("/smtp/session/size-enforced-while-reading", &small, test_size_limit);
  add ("/smtp/session/smuggling-sequences-refused", &mta, test_smuggling);
  add ("/smtp/session/nul-in-data-refused", &mta, test_nul_in_data_refused);
  add ("/smtp/session/vanish-mid-data-leaves-nothing", &mta,
       test_vanish_mid_data);
  add ("/smtp/session/store-failure-rolls-back", &mta,
       test_store_failure_rolls_back);
  add ("/smtp/session/submission-tls-auth-mail", &submission,
       test_submission_flow);
  add ("/smtp/session/queue-failure-rolls-back", &submission,
       test_queue_failure_rolls_back);
  add ("/smtp/session/full-disk-is-452", &submission, test_full_disk_is_452);
  add ("/smtp/session/auth-exchanges", &submission, test_auth_exchanges);
  add ("/smtp/session/implicit-tls", &smtps, test_implicit_tls);
  add ("/smtp/session/silent-tls-client-times-out", &smtps_silent,
       test_silent_tls_client_times_out);
  add ("/smtp/session/plaintext-after-starttls-dropped", &mta,
       test_plaintext_after_starttls);
  add ("/smtp/session/users-file-reloaded", &mta, test_users_reload);
  add ("/smtp/session/smtputf8", &mta, test_smtputf8);
  add ("/smtp/session/smtputf8-queued-with-mark", &submission,
       test_smtputf8_queued_with_mark);
  add ("/smtp/session/protocol-log-masks-secrets", &submission_logged,
       test_protocol_log_masks_secrets);
  add ("/smtp/session/bdat/stores-chunks-as-sent", &mta,
       test_bdat_stores_chunks_as_sent);
  add ("/smtp/session/bdat/pipelined-and-trickled", &mta,
       test_bdat_pipelined_and_trickled);
  add ("/smtp/session/bdat/refused-chunk-is-read", &mta,
       test_bdat_refused_chunk_is_read);
  add ("/smtp/session/bdat/size-limit-per-chunk", &small, test_bdat_size_limit);
  add ("/smtp/session/bdat/line-ends", &mta, test_bdat_line_ends);
  add ("/smtp/session/bdat/bad-size-closes", &mta, test_bdat_bad_size_closes);
  add ("/smtp/session/bdat/vanish-mid-chunk-leaves-nothing", &mta,
       test_bdat_vanish_mid_chunk);
  add ("/smtp/session/bdat/relayed-through-queue", &submission,
       test_bdat_relayed_through_queue);
  add ("/smtp/session/dsn/params-reach-the-queue", &submission,
       test_dsn_params_reach_the_queue);
  add ("/smtp/session/dsn/local-success-through-queue", &mta,
       test_dsn_local_success_through_queue);
  add ("/smtp/session/dsn/bad-params-501", &mta, test_dsn_bad_params);
  return g_test_run ();
}
