/* SPDX-License-Identifier: MIT
 * test-pop3-session.c: the mw-pop3d state machine, in process, over a
 * real loopback connection (RFC 1939 §3-§7; RFC 2449 §5, §8; RFC 2595
 * §4; RFC 3206; RFC 5034 §4). The server side is pop3_session_run () in
 * a thread; the test speaks POP3 through a MailStream.
 */
#include <string.h>

#include "mail-auth.h"
#include "mail-config.h"
#include "mail-line.h"
#include "mail-store.h"
#include "mail-tls.h"
#include "pop3-session.h"

typedef struct
{
  char *dir;
  char *cert_file;
  MailConfig *config;
  GTlsCertificate *certificate;
  Pop3Context *context;
  GSocketListener *listener;
  guint16 port;
  char *maildir;
  GPtrArray *threads; /* server session threads, joined at teardown */
} Fixture;

static const char message_one[] =
    "From: alice@example.test\r\nSubject: one\r\n\r\nfirst line\r\n"
    ".dot line\r\n..two dots\r\nlast line\r\n";
static const char message_two[] =
    "From: bob@example.test\r\nSubject: two\r\n\r\nbody of two\r\n";

static char *
write_config (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "mailwire.conf", NULL);
  const char *text = "[general]\n"
                     "users_file = users\n"
                     "mail_root = mail\n"
                     "tls_cert = cert.pem\n"
                     "tls_key = key.pem\n"
                     "timeout = 30\n"
                     "[pop3]\n"
                     "plaintext_auth = loopback\n";

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return g_steal_pointer (&path);
}

static void
write_users (const MailConfig *config)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailUsers) users = mail_users_load (config->users_file, &error);

  g_assert_no_error (error);
  g_assert_true (
      mail_users_set (users, "alice", "alice-secret", NULL, FALSE, &error));
  g_assert_no_error (error);
  g_assert_true (mail_users_save (users, &error));
  g_assert_no_error (error);
}

static void
deliver (Fixture *f, const char *text)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (mail_maildir_deliver (f->maildir, NULL, text, strlen (text),
                                       NULL, &error));
  g_assert_no_error (error);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *key_file = NULL;
  g_autoptr (GInetAddress) loopback =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  const char *names[] = { "localhost", "127.0.0.1", NULL };

  f->dir = g_dir_make_tmp ("test-pop3-session-XXXXXX", &error);
  g_assert_no_error (error);
  f->cert_file = g_build_filename (f->dir, "cert.pem", NULL);
  key_file = g_build_filename (f->dir, "key.pem", NULL);
  g_assert_true (
      mail_tls_write_self_signed (f->cert_file, key_file, names, 2, &error));
  g_assert_no_error (error);
  config_path = write_config (f->dir);
  f->config = mail_config_load (config_path, &error);
  g_assert_no_error (error);
  write_users (f->config);
  f->maildir = mail_config_user_maildir (f->config, "alice", NULL);
  f->certificate = mail_tls_load_certificate (f->cert_file, key_file, &error);
  g_assert_no_error (error);
  f->context = mail_server_context_new (f->config, f->certificate);
  f->listener = g_socket_listener_new ();
  g_assert_true (g_socket_listener_add_address (
      f->listener, address, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
      &bound, &error));
  g_assert_no_error (error);
  f->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  f->threads = g_ptr_array_new ();
  deliver (f, message_one);
  deliver (f, message_two);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < f->threads->len; i++)
    g_thread_join (g_ptr_array_index (f->threads, i));
  g_ptr_array_unref (f->threads);
  g_socket_listener_close (f->listener);
  g_object_unref (f->listener);
  mail_server_context_free (f->context);
  g_object_unref (f->certificate);
  mail_config_free (f->config);
  g_free (f->maildir);
  g_free (f->cert_file);
  /* the test directory is left to the system's tmp cleaning only if the
   * removal below fails */
  {
    g_autofree char *command = g_strdup_printf ("rm -rf '%s'", f->dir);
    g_assert_cmpint (system (command), ==, 0);
  }
  g_free (f->dir);
}

/* ---- one server session per connection ----------------------------- */

typedef struct
{
  Fixture *fixture;
  GSocketConnection *connection;
} Accepted;

static gpointer
serve_one (gpointer data)
{
  Accepted *accepted = data;

  pop3_session_run (accepted->fixture->context, accepted->connection, FALSE);
  g_io_stream_close (G_IO_STREAM (accepted->connection), NULL, NULL);
  g_object_unref (accepted->connection);
  g_free (accepted);
  return NULL;
}

/* Connects, lets a server thread take the connection, reads the +OK
 * greeting (RFC 1939 §4). */
static MailStream *
open_session (Fixture *f)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GError) error = NULL;
  Accepted *accepted = g_new0 (Accepted, 1);
  MailStream *stream = NULL;
  g_autofree char *greeting = NULL;
  gsize length = 0;
  MailLineFlags flags = 0;

  connection = g_socket_client_connect_to_host (client, "127.0.0.1", f->port,
                                                NULL, &error);
  g_assert_no_error (error);
  accepted->fixture = f;
  accepted->connection =
      g_socket_listener_accept (f->listener, NULL, NULL, &error);
  g_assert_no_error (error);
  g_ptr_array_add (f->threads, g_thread_new ("pop3", serve_one, accepted));
  stream = mail_stream_new (G_IO_STREAM (connection), MAIL_LINE_MAX_POP3);
  mail_stream_set_timeout (stream, 30);
  g_assert_true (
      mail_stream_read_line (stream, &greeting, &length, &flags, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (greeting, "+OK "));
  return stream;
}

static char *
read_line (MailStream *stream)
{
  g_autoptr (GError) error = NULL;
  char *line = NULL;
  gsize length = 0;
  MailLineFlags flags = 0;

  g_assert_true (
      mail_stream_read_line (stream, &line, &length, &flags, NULL, &error));
  g_assert_no_error (error);
  return line;
}

/* Sends one command line and returns the status line of the response. */
static char *
command (MailStream *stream, const char *line)
{
  mail_stream_write_line (stream, line);
  return read_line (stream);
}

static void
assert_reply (MailStream *stream, const char *line, const char *prefix)
{
  g_autofree char *reply = command (stream, line);

  g_test_message ("C: %s  S: %s", line, reply);
  g_assert_true (g_str_has_prefix (reply, prefix));
}

/* The multi-line body after a +OK, un-stuffed (RFC 1939 §3). */
static GString *
read_body (MailStream *stream)
{
  g_autoptr (GError) error = NULL;
  GString *body = g_string_new (NULL);
  MailLineFlags seen = 0;

  g_assert_true (
      mail_stream_read_dot_text (stream, body, 0, &seen, NULL, &error));
  g_assert_no_error (error);
  return body;
}

static void
login (MailStream *stream)
{
  assert_reply (stream, "USER alice", "+OK");
  assert_reply (stream, "PASS alice-secret", "+OK alice has 2 messages");
}

static guint
count_messages (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailStore) store = mail_store_open (f->maildir, &error);
  g_autoptr (MailFolder) folder = NULL;

  g_assert_no_error (error);
  folder = mail_folder_open (store, "INBOX", &error);
  g_assert_no_error (error);
  return mail_folder_get_count (folder);
}

/* ---- tests ---------------------------------------------------------- */

/* RFC 1939 §3: commands of the wrong state, unknown ones, bad syntax get
 * -ERR and the session goes on. */
static void
test_authorization_state (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = open_session (f);
  g_autoptr (GString) capa = NULL;

  assert_reply (stream, "STAT",
                "-ERR STAT is not allowed in the "
                "AUTHORIZATION state");
  assert_reply (stream, "RETR 1", "-ERR");
  assert_reply (stream, "XYZZ", "-ERR unknown command XYZZ");
  assert_reply (stream, "", "-ERR");
  assert_reply (stream, "PASS alice-secret", "-ERR send USER before PASS");
  assert_reply (stream, "CAPA", "+OK");
  capa = read_body (stream);
  /* RFC 2449 §6: USER only where plaintext passwords are allowed (here:
   * loopback), STLS because a certificate is configured */
  g_assert_nonnull (strstr (capa->str, "USER\r\n"));
  g_assert_nonnull (strstr (capa->str, "STLS\r\n"));
  g_assert_nonnull (strstr (capa->str, "PIPELINING\r\n"));
  g_assert_nonnull (strstr (capa->str, "RESP-CODES\r\n"));
  g_assert_nonnull (strstr (capa->str, "SASL PLAIN LOGIN\r\n"));
  assert_reply (stream, "QUIT", "+OK");
}

/* RFC 1939 §5, §7: STAT, LIST, UIDL; sizes are the CRLF sizes. */
static void
test_listings (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = open_session (f);
  g_autoptr (GString) list = NULL;
  g_autoptr (GString) uidl = NULL;
  g_autofree char *expected_list = g_strdup_printf (
      "1 %zu\r\n2 %zu\r\n", strlen (message_one), strlen (message_two));
  g_autofree char *stat = g_strdup_printf (
      "+OK 2 %zu", strlen (message_one) + strlen (message_two));
  g_auto (GStrv) ids = NULL;

  login (stream);
  assert_reply (stream, "STAT", stat);
  assert_reply (stream, "LIST", "+OK 2 messages");
  list = read_body (stream);
  g_assert_cmpstr (list->str, ==, expected_list);
  assert_reply (stream, "LIST 2", "+OK 2 ");
  assert_reply (stream, "UIDL", "+OK");
  uidl = read_body (stream);
  ids = g_strsplit (uidl->str, "\r\n", -1);
  /* "<n> <UIDVALIDITY>.<UID>" */
  g_assert_true (g_regex_match_simple ("^1 [0-9]+\\.1$", ids[0], 0, 0));
  g_assert_true (g_regex_match_simple ("^2 [0-9]+\\.2$", ids[1], 0, 0));
  assert_reply (stream, "UIDL 1", "+OK 1 ");
  assert_reply (stream, "QUIT", "+OK");
}

/* RFC 1939 §3: lines starting with "." go out with one more. */
static void
test_retr_is_dot_stuffed (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = open_session (f);
  g_autoptr (GString) body = NULL;
  const char *raw[] = { "From: alice@example.test",
                        "Subject: one",
                        "",
                        "first line",
                        "..dot line",
                        "...two dots",
                        "last line",
                        "." };

  login (stream);
  assert_reply (stream, "RETR 1", "+OK");
  for (guint i = 0; i < G_N_ELEMENTS (raw); i++)
    {
      g_autofree char *line = read_line (stream);
      g_assert_cmpstr (line, ==, raw[i]);
    }
  assert_reply (stream, "RETR 1", "+OK");
  body = read_body (stream);
  g_assert_cmpstr (body->str, ==, message_one);
  assert_reply (stream, "QUIT", "+OK");
}

/* RFC 1939 §7: TOP msg n: header, blank line, n body lines. */
static void
test_top (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = open_session (f);
  g_autoptr (GString) top0 = NULL;
  g_autoptr (GString) top2 = NULL;
  g_autoptr (GString) top99 = NULL;

  login (stream);
  assert_reply (stream, "TOP 1 0", "+OK");
  top0 = read_body (stream);
  g_assert_cmpstr (top0->str, ==,
                   "From: alice@example.test\r\nSubject: one\r\n\r\n");
  assert_reply (stream, "TOP 1 2", "+OK");
  top2 = read_body (stream);
  g_assert_cmpstr (top2->str, ==,
                   "From: alice@example.test\r\nSubject: one\r\n\r\n"
                   "first line\r\n.dot line\r\n");
  assert_reply (stream, "TOP 1 99", "+OK");
  top99 = read_body (stream);
  g_assert_cmpstr (top99->str, ==, message_one);
  assert_reply (stream, "TOP 1", "-ERR");
  assert_reply (stream, "TOP 1 x", "-ERR");
  assert_reply (stream, "TOP 1 -1", "-ERR");
  assert_reply (stream, "QUIT", "+OK");
}

/* RFC 1939 §5: numbers out of range, not numbers, deleted: -ERR. */
static void
test_bad_numbers (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = open_session (f);

  login (stream);
  assert_reply (stream, "RETR", "-ERR");
  assert_reply (stream, "RETR 0", "-ERR");
  assert_reply (stream, "RETR 3", "-ERR no message 3");
  assert_reply (stream, "RETR abc", "-ERR");
  assert_reply (stream, "RETR 99999999999", "-ERR");
  assert_reply (stream, "LIST -1", "-ERR");
  assert_reply (stream, "DELE 1", "+OK");
  assert_reply (stream, "RETR 1", "-ERR message 1 is marked as deleted");
  assert_reply (stream, "DELE 1", "-ERR message 1 is marked as deleted");
  assert_reply (stream, "LIST 1", "-ERR");
  assert_reply (stream, "NOOP", "+OK");
  assert_reply (stream, "USER alice",
                "-ERR USER is not allowed in the "
                "TRANSACTION state");
  assert_reply (stream, "RSET", "+OK maildrop has 2 messages");
  assert_reply (stream, "QUIT", "+OK 0 messages deleted");
  g_assert_cmpuint (count_messages (f), ==, 2);
}

/* RFC 1939 §6: DELE marks, RSET unmarks, QUIT (UPDATE) deletes. */
static void
test_dele_quit_deletes (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = open_session (f);
  g_autoptr (GString) list = NULL;
  g_autofree char *stat = g_strdup_printf ("+OK 1 %zu", strlen (message_two));

  login (stream);
  assert_reply (stream, "DELE 1", "+OK");
  assert_reply (stream, "STAT", stat);
  assert_reply (stream, "LIST", "+OK 1 messages");
  list = read_body (stream);
  g_assert_true (g_str_has_prefix (list->str, "2 "));
  g_assert_cmpuint (count_messages (f), ==, 2); /* nothing deleted yet */
  assert_reply (stream, "QUIT", "+OK 1 messages deleted");
  g_assert_cmpuint (count_messages (f), ==, 1);
}

/* RFC 1939 §6: a connection that ends without QUIT deletes nothing. */
static void
test_drop_deletes_nothing (Fixture *f, gconstpointer data)
{
  MailStream *stream = open_session (f);

  login (stream);
  assert_reply (stream, "DELE 1", "+OK");
  assert_reply (stream, "DELE 2", "+OK");
  mail_stream_free (stream);
  for (guint i = 0; i < f->threads->len; i++)
    g_thread_join (g_ptr_array_index (f->threads, i));
  g_ptr_array_set_size (f->threads, 0);
  g_assert_cmpuint (count_messages (f), ==, 2);
}

/* RFC 2449 §8.1.2: one session per maildrop; RFC 3206 §5: [AUTH]. */
static void
test_in_use_and_auth_codes (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) first = open_session (f);
  g_autoptr (MailStream) second = open_session (f);

  login (first);
  assert_reply (second, "USER alice", "+OK");
  assert_reply (second, "PASS alice-secret", "-ERR [IN-USE]");
  assert_reply (second, "USER alice", "+OK");
  assert_reply (second, "PASS wrong", "-ERR [AUTH]");
  assert_reply (second, "QUIT", "+OK");
  assert_reply (first, "QUIT", "+OK");
}

/* RFC 1939 §5: the message list is fixed for the session; new mail
 * shows in the next one. */
static void
test_new_mail_waits_for_next_session (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) first = open_session (f);
  MailStream *next = NULL;

  login (first);
  deliver (f, "Subject: three\r\n\r\nlate\r\n");
  assert_reply (first, "STAT", "+OK 2 ");
  assert_reply (first, "RETR 3", "-ERR no message 3");
  assert_reply (first, "QUIT", "+OK");
  next = open_session (f);
  assert_reply (next, "USER alice", "+OK");
  assert_reply (next, "PASS alice-secret", "+OK alice has 3 messages");
  assert_reply (next, "QUIT", "+OK");
  mail_stream_free (next);
}

/* RFC 5034 §4: AUTH PLAIN with and without initial response, LOGIN,
 * and "*" cancels. */
static void
test_auth (Fixture *f, gconstpointer data)
{
  g_autofree char *plain =
      mail_sasl_plain_encode (NULL, "alice", "alice-secret");
  g_autofree char *initial = g_strdup_printf ("AUTH PLAIN %s", plain);
  MailStream *stream = open_session (f);

  assert_reply (stream, "AUTH PLAIN", "+ ");
  assert_reply (stream, "*", "-ERR authentication cancelled");
  assert_reply (stream, "AUTH CRAM-MD5", "-ERR unsupported");
  assert_reply (stream, "AUTH", "-ERR");
  assert_reply (stream, initial, "+OK alice has 2 messages");
  assert_reply (stream, "QUIT", "+OK");
  mail_stream_free (stream);

  stream = open_session (f);
  assert_reply (stream, "AUTH LOGIN", "+ VXNlcm5hbWU6");
  assert_reply (stream, "YWxpY2U=", "+ UGFzc3dvcmQ6");
  assert_reply (stream, "YWxpY2Utc2VjcmV0", "+OK alice has 2 messages");
  assert_reply (stream, "QUIT", "+OK");
  mail_stream_free (stream);
}

/* RFC 2449 §4: overlong lines, NUL, bare LF get -ERR; the session goes
 * on. */
static void
test_bad_lines (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = open_session (f);
  g_autofree char *overlong = g_strnfill (300, 'A');
  g_autofree char *huge = g_strnfill (5000, 'B');
  g_autofree char *reply = NULL;

  assert_reply (stream, overlong, "-ERR line too long");
  assert_reply (stream, huge, "-ERR line too long");
  mail_stream_write (stream, "NO\0OP\r\n", 7);
  reply = read_line (stream);
  g_assert_cmpstr (reply, ==, "-ERR command contains a NUL octet");
  g_clear_pointer (&reply, g_free);
  mail_stream_write (stream, "CAPA\n", 5);
  reply = read_line (stream);
  g_assert_true (g_str_has_prefix (reply, "-ERR lines must end in CRLF"));
  assert_reply (stream, "QUIT", "+OK");
}

/* RFC 2449 §6.6: a pipelined batch gets its responses in order. */
static void
test_pipelining (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = open_session (f);
  const char *expected[] = { "+OK", "+OK", "+OK 2 ", "-ERR", "+OK 1 ", "+OK" };

  mail_stream_write (stream,
                     "USER alice\r\nPASS alice-secret\r\nSTAT\r\nRETR 9\r\n"
                     "LIST 1\r\nNOOP\r\n",
                     59);
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autofree char *line = read_line (stream);
      g_assert_true (g_str_has_prefix (line, expected[i]));
    }
  assert_reply (stream, "QUIT", "+OK");
}

/* RFC 2595 §4: STLS, then the session goes on over TLS in the
 * AUTHORIZATION state and STLS is no longer offered. */
static void
test_stls (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = open_session (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) capa = NULL;

  assert_reply (stream, "STLS", "+OK");
  g_assert_true (mail_stream_start_tls_client (
      stream, "localhost", f->cert_file, FALSE, NULL, &error));
  g_assert_no_error (error);
  assert_reply (stream, "CAPA", "+OK");
  capa = read_body (stream);
  g_assert_null (strstr (capa->str, "STLS"));
  assert_reply (stream, "STLS", "-ERR TLS is already active");
  login (stream);
  assert_reply (stream, "QUIT", "+OK");
}

/* Commands pipelined in clear after STLS could have been injected by a
 * man in the middle (CVE-2011-0411 class): the server hangs up. */
static void
test_stls_with_pipelined_plaintext_drops (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = open_session (f);
  g_autoptr (GError) error = NULL;
  g_autofree char *reply = NULL;
  char *after = NULL;
  gsize length = 0;
  MailLineFlags flags = 0;

  mail_stream_write (stream, "STLS\r\nUSER alice\r\n", 18);
  reply = read_line (stream);
  g_assert_cmpstr (reply, ==, "+OK begin TLS negotiation");
  g_assert_false (
      mail_stream_read_line (stream, &after, &length, &flags, NULL, &error));
  /* closed (FIN), or reset if the close raced our read */
  g_assert_nonnull (error);
}

/* RFC 2595 §2.3: with plaintext_auth = never, no password before TLS. */
static void
test_plaintext_refused (Fixture *f, gconstpointer data)
{
  g_autoptr (MailStream) stream = NULL;
  g_autoptr (GString) capa = NULL;

  f->config->pop3_plaintext_auth = MAIL_PLAINTEXT_AUTH_NEVER;
  stream = open_session (f);
  assert_reply (stream, "CAPA", "+OK");
  capa = read_body (stream);
  g_assert_null (strstr (capa->str, "USER"));
  g_assert_nonnull (strstr (capa->str, "STLS"));
  assert_reply (stream, "USER alice",
                "-ERR [AUTH] passwords are accepted "
                "only over TLS");
  assert_reply (stream,
                "AUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==", "-ERR [AUTH]");
  assert_reply (stream, "QUIT", "+OK");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func)                                                        \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/pop3/session/authorization-refuses-other-commands",
       test_authorization_state);
  ADD ("/pop3/session/stat-list-uidl-give-crlf-sizes-and-stable-ids",
       test_listings);
  ADD ("/pop3/session/retr-is-dot-stuffed", test_retr_is_dot_stuffed);
  ADD ("/pop3/session/top-sends-header-and-n-lines", test_top);
  ADD ("/pop3/session/bad-numbers-are-err-and-session-goes-on",
       test_bad_numbers);
  ADD ("/pop3/session/dele-then-quit-deletes", test_dele_quit_deletes);
  ADD ("/pop3/session/dropped-connection-deletes-nothing",
       test_drop_deletes_nothing);
  ADD ("/pop3/session/second-session-is-in-use-wrong-password-is-auth",
       test_in_use_and_auth_codes);
  ADD ("/pop3/session/new-mail-appears-in-next-session",
       test_new_mail_waits_for_next_session);
  ADD ("/pop3/session/auth-plain-and-login", test_auth);
  ADD ("/pop3/session/bad-lines-are-err", test_bad_lines);
  ADD ("/pop3/session/pipelined-commands-answered-in-order", test_pipelining);
  ADD ("/pop3/session/stls-upgrades-and-stays-in-authorization", test_stls);
  ADD ("/pop3/session/stls-with-pipelined-plaintext-drops-connection",
       test_stls_with_pipelined_plaintext_drops);
  ADD ("/pop3/session/plaintext-refused-before-tls-when-never",
       test_plaintext_refused);
#undef ADD
  return g_test_run ();
}
