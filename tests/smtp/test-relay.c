/* SPDX-License-Identifier: MIT
 * test-relay.c: two mw-smtpd instances on loopback, organisation A
 * (a.test) relaying to organisation B (b.test) through a static route
 * (suite integration). The queue's retry, bounce and mw-admin queue are
 * seen from outside, as an administrator would see them.
 *
 * Waiting on another process has no callback to hook, so the waits here
 * poll the Maildir or "mw-admin queue list" every 100 ms, bounded.
 */
#include <signal.h>
#include <string.h>

#include "mw-harness.h"

#define WAIT_STEPS 300 /* of 100 ms: 30 s at most */

typedef struct
{
  MwHarness *a;
  MwHarness *b;
  guint16 b_port;
} Relay;

/* A socket bound to a free loopback port (not listening). */
static GSocket *
bound_socket (guint16 *out_port)
{
  g_autoptr (GSocket) socket = g_socket_new (
      G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) loopback =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;

  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  *out_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  return g_steal_pointer (&socket);
}

/* A port nobody listens on now, for a B that starts later. */
static guint16
free_port (void)
{
  guint16 port = 0;
  g_autoptr (GSocket) socket = bound_socket (&port);

  return port;
}

/* B is b.test on @port (0: any) and is not started here. @a_extra is
 * more config for A. */
static void
relay_set_up_with (Relay *r,
                   guint16 port,
                   const char *a_extra,
                   const char *b_extra)
{
  g_autofree char *b_config = g_strdup_printf (
      "[general]\nhostname = mx.b.test\ndomains = b.test;localhost\n"
      "[smtp]\nport = %u\n%s",
      port, b_extra);
  g_autofree char *a_config = NULL;

  r->b = mw_harness_new (b_config);
  if (port == 0)
    {
      mw_harness_start (r->b, "mw-smtpd", NULL);
      port = mw_harness_port (r->b, "smtp");
    }
  r->b_port = port;
  a_config = g_strdup_printf (
      "[general]\nhostname = mx.a.test\ndomains = a.test;localhost\n"
      "[routes]\nb.test = 127.0.0.1:%u\n%s",
      port, a_extra);
  r->a = mw_harness_new (a_config);
  mw_harness_start (r->a, "mw-smtpd", NULL);
}

static void
relay_set_up (Relay *r, guint16 port)
{
  relay_set_up_with (r, port, "", "");
}

/* A gives up after 2 s (and retries every second). */
static void
relay_set_up_short_lifetime (Relay *r, gconstpointer data)
{
  relay_set_up_with (r, free_port (), "[queue]\nlifetime = 2\n", "");
}

/* B takes messages of at most 2000 octets (RFC 1870 SIZE). */
static void
relay_set_up_b_small (Relay *r, gconstpointer data)
{
  relay_set_up_with (r, 0, "", "[smtp]\nmax_size = 2000\n");
}

static void
relay_set_up_b_running (Relay *r, gconstpointer data)
{
  relay_set_up (r, 0);
}

static void
relay_set_up_b_down (Relay *r, gconstpointer data)
{
  relay_set_up (r, free_port ());
}

static void
relay_tear_down (Relay *r, gconstpointer data)
{
  mw_harness_free (r->a);
  mw_harness_free (r->b);
}

/* alice@a.test submits to A (STARTTLS + AUTH), as a mail program would. */
static void
send_from_alice (Relay *r, const char *to, const char *body)
{
  g_autofree char *server =
      g_strdup_printf ("127.0.0.1:%u", mw_harness_port (r->a, "submission"));
  const char *argv[] = { "mw-send",    "--server",
                         server,       "--starttls",
                         "--cafile",   mw_harness_cert (r->a),
                         "--user",     "alice",
                         "--password", "alice-secret",
                         "--from",     "alice@a.test",
                         "--to",       to,
                         "--subject",  "relay",
                         "--body",     body,
                         NULL };
  g_autofree char *err = NULL;
  int status = mw_harness_run (r->a, argv, NULL, NULL, &err);

  if (status != 0)
    g_error ("mw-send exited %d: %s", status, err);
}

static char *
queue_list (MwHarness *h)
{
  const char *argv[] = { "mw-admin", "--config", mw_harness_config (h),
                         "queue",    "list",     NULL };
  char *out = NULL;

  g_assert_cmpint (mw_harness_run (h, argv, NULL, &out, NULL), ==, 0);
  return out;
}

static guint
count_messages (MwHarness *h, const char *user)
{
  g_auto (GStrv) files = mw_harness_list_messages (h, user, NULL);

  return g_strv_length (files);
}

static void
wait_for_messages (MwHarness *h, const char *user, guint count)
{
  for (guint i = 0; i < WAIT_STEPS && count_messages (h, user) < count; i++)
    g_usleep (100 * 1000);
  g_assert_cmpuint (count_messages (h, user), ==, count);
}

/* Waits until the queue listing of @h contains @text (NULL: is empty);
 * returns the listing. */
static char *
wait_for_queue (MwHarness *h, const char *text)
{
  const char *want = text != NULL ? text : "Mail queue is empty";

  for (guint i = 0; i < WAIT_STEPS; i++)
    {
      g_autofree char *out = queue_list (h);

      if (strstr (out, want) != NULL)
        return g_steal_pointer (&out);
      g_usleep (100 * 1000);
    }
  g_error ("queue never showed \"%s\":\n%s", want, queue_list (h));
}

static char *
read_only_message (MwHarness *h, const char *user)
{
  g_auto (GStrv) files = mw_harness_list_messages (h, user, NULL);
  char *text = NULL;

  g_assert_cmpuint (g_strv_length (files), ==, 1);
  g_assert_true (g_file_get_contents (files[0], &text, NULL, NULL));
  return text;
}

/* RFC 5321 §3.7.2 and §4.4: A pushes to B; both add a Received field. */
static void
test_a_to_b (Relay *r, gconstpointer data)
{
  g_autofree char *text = NULL;
  g_autofree char *listing = NULL;

  send_from_alice (r, "bob@b.test", "pushed twice");
  wait_for_messages (r->b, "bob", 1);
  text = read_only_message (r->b, "bob");
  g_assert_nonnull (strstr (text, "pushed twice"));
  g_assert_nonnull (strstr (text, "From: alice@a.test"));
  g_assert_nonnull (strstr (text, "by mx.b.test"));
  g_assert_nonnull (strstr (text, "by mx.a.test"));
  listing = wait_for_queue (r->a, NULL);
  g_assert_cmpuint (count_messages (r->a, "bob"), ==, 0);
}

/* RFC 5321 §4.5.4.1: B refuses connections, so the message waits in A's
 * queue with the reason shown; once B is up it arrives, exactly once. */
static void
test_b_down_then_up (Relay *r, gconstpointer data)
{
  g_autofree char *listing = NULL;
  g_autofree char *after = NULL;

  send_from_alice (r, "bob@b.test", "patience");
  listing = wait_for_queue (r->a, "connect to 127.0.0.1");
  g_assert_nonnull (strstr (listing, "<alice@a.test>"));
  g_assert_nonnull (strstr (listing, "        <bob@b.test>"));
  g_assert_nonnull (strstr (listing, "1 message."));

  mw_harness_start (r->b, "mw-smtpd", NULL);
  wait_for_messages (r->b, "bob", 1);
  after = wait_for_queue (r->a, NULL);
  /* Longer than retry_max (2 s): no second copy turns up. */
  g_usleep (3 * G_USEC_PER_SEC);
  g_assert_cmpuint (count_messages (r->b, "bob"), ==, 1);
}

/* RFC 3464: B answers 550 5.1.1, so A returns a delivery status
 * notification from MAILER-DAEMON, with the null sender, to alice. */
static void
test_550_bounces (Relay *r, gconstpointer data)
{
  g_autofree char *bounce = NULL;
  g_autofree char *listing = NULL;

  send_from_alice (r, "nobody@b.test", "to no one");
  wait_for_messages (r->a, "alice", 1);
  bounce = read_only_message (r->a, "alice");
  for (const char *const *want =
           (const char *const[]){
               "Return-Path: <>",
               "From: Mail Delivery System <MAILER-DAEMON@mx.a.test>",
               "To: <alice@a.test>",
               "multipart/report; report-type=delivery-status",
               "Content-Type: message/delivery-status",
               "Reporting-MTA: dns; mx.a.test",
               "Final-Recipient: rfc822; nobody@b.test", "Action: failed",
               "Status: 5.1.1", "Diagnostic-Code: smtp; 550 5.1.1",
               "Content-Type: text/rfc822-headers", "Subject: relay", NULL };
       *want != NULL; want++)
    if (strstr (bounce, *want) == NULL)
      g_error ("\"%s\" missing from the bounce:\n%s", *want, bounce);
  g_assert_null (strstr (bounce, "to no one")); /* headers only */
  listing = wait_for_queue (r->a, NULL);
}

/* RFC 1870 §6: A declares SIZE= in MAIL FROM, B refuses it there with
 * 552, and the bounce carries B's enhanced code. */
static void
test_size_refused_bounces (Relay *r, gconstpointer data)
{
  g_autofree char *body = g_strnfill (5000, 'x');
  g_autofree char *bounce = NULL;
  g_autofree char *listing = NULL;

  send_from_alice (r, "bob@b.test", body);
  wait_for_messages (r->a, "alice", 1);
  bounce = read_only_message (r->a, "alice");
  if (strstr (bounce, "Diagnostic-Code: smtp; 552") == NULL ||
      strstr (bounce, "Status: 5.3.4") == NULL)
    g_error ("not a 552 5.3.4 bounce:\n%s", bounce);
  g_assert_cmpuint (count_messages (r->b, "bob"), ==, 0);
  listing = wait_for_queue (r->a, NULL);
}

/* RFC 5321 §4.5.4.1: past the lifetime the queue gives up and bounces
 * with RFC 3463 4.4.7 (delivery time expired). */
static void
test_expired_bounces (Relay *r, gconstpointer data)
{
  g_autofree char *bounce = NULL;
  g_autofree char *listing = NULL;

  send_from_alice (r, "bob@b.test", "too late");
  wait_for_messages (r->a, "alice", 1);
  bounce = read_only_message (r->a, "alice");
  g_assert_nonnull (strstr (bounce, "Final-Recipient: rfc822; bob@b.test"));
  g_assert_nonnull (strstr (bounce, "Status: 4.4.7"));
  g_assert_nonnull (strstr (bounce, "Connection refused"));
  listing = wait_for_queue (r->a, NULL);
}

/* A next hop that accepts the TCP connection and then says nothing: the
 * client waits for a greeting that never comes. SIGTERM must still stop
 * A at once (the agent's wait is cancelled), and the message must still
 * be in the queue afterwards (RFC 5321 §6.1). */
static void
test_stop_during_delivery (Relay *r, gconstpointer data)
{
  guint16 port = 0;
  g_autoptr (GSocket) silent = bound_socket (&port);
  g_autoptr (GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *listing = NULL;
  GPid pid;
  gint64 start;

  /* Listening, never accepting: the kernel completes the handshake. */
  g_socket_listen (silent, &error);
  g_assert_no_error (error);
  mw_harness_free (r->a);
  config = g_strdup_printf ("[general]\nhostname = mx.a.test\n"
                            "domains = a.test;localhost\n"
                            "[routes]\nb.test = 127.0.0.1:%u\n",
                            port);
  r->a = mw_harness_new (config);
  pid = mw_harness_start (r->a, "mw-smtpd", NULL);
  send_from_alice (r, "bob@b.test", "stuck");
  g_usleep (G_USEC_PER_SEC / 2); /* the agent is now waiting for 220 */
  start = g_get_monotonic_time ();
  mw_harness_signal (r->a, pid, SIGTERM);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
  listing = queue_list (r->a);
  g_assert_nonnull (strstr (listing, "<bob@b.test>"));
}

/* mw-admin queue delete: the entry is gone and never delivered. */
static void
test_queue_delete (Relay *r, gconstpointer data)
{
  g_autofree char *listing = NULL;
  g_autofree char *id = NULL;
  g_autofree char *empty = NULL;
  const char *delete[] = { "mw-admin", "--config", mw_harness_config (r->a),
                           "queue",    "delete",   NULL,
                           NULL };
  const char *flush[] = { "mw-admin", "--config", mw_harness_config (r->a),
                          "queue",    "flush",    NULL };

  send_from_alice (r, "bob@b.test", "never mind");
  listing = wait_for_queue (r->a, "connect to 127.0.0.1");
  g_assert_cmpint (mw_harness_run (r->a, flush, NULL, NULL, NULL), ==, 0);
  id = g_strndup (listing, strcspn (listing, " "));
  delete[5] = id;
  g_assert_cmpint (mw_harness_run (r->a, delete, NULL, NULL, NULL), ==, 0);
  empty = wait_for_queue (r->a, NULL);
  /* Deleting again: no such entry. */
  g_assert_cmpint (mw_harness_run (r->a, delete, NULL, NULL, NULL), ==, 1);
  mw_harness_start (r->b, "mw-smtpd", NULL);
  g_usleep (3 * G_USEC_PER_SEC);
  g_assert_cmpuint (count_messages (r->b, "bob"), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/relay/a-to-b", Relay, NULL, relay_set_up_b_running, test_a_to_b,
              relay_tear_down);
  g_test_add ("/relay/b-down-then-up-delivers-once", Relay, NULL,
              relay_set_up_b_down, test_b_down_then_up, relay_tear_down);
  g_test_add ("/relay/550-bounces-to-sender", Relay, NULL,
              relay_set_up_b_running, test_550_bounces, relay_tear_down);
  g_test_add ("/relay/size-refused-at-mail-bounces", Relay, NULL,
              relay_set_up_b_small, test_size_refused_bounces, relay_tear_down);
  g_test_add ("/relay/expired-bounces", Relay, NULL,
              relay_set_up_short_lifetime, test_expired_bounces,
              relay_tear_down);
  g_test_add ("/relay/stop-during-delivery-is-prompt-and-keeps-mail", Relay,
              NULL, relay_set_up_b_down, test_stop_during_delivery,
              relay_tear_down);
  g_test_add ("/relay/queue-delete", Relay, NULL, relay_set_up_b_down,
              test_queue_delete, relay_tear_down);
  return g_test_run ();
}
