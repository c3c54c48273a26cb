/* SPDX-License-Identifier: MIT
 * test-relay-dsn.c: delivery status notifications (RFC 3461 DSN, RFC
 * 3464 reports) between real mw-smtpd processes on loopback (suite
 * integration): organisation A (a.test) relays to B (b.test) through a
 * static route; alice@a.test asks for notices with mw-send. Every notice
 * is read with Python's email package (dsn-fields.py), field by field.
 *
 * Waiting on another process has no callback to hook, so the waits poll
 * the Maildir or the queue directory every 100 ms, bounded.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "mw-harness.h"

#define WAIT_STEPS 300 /* of 100 ms: 30 s at most */

typedef struct
{
  MwHarness *a;
  MwHarness *b;
} Orgs;

/* A port nobody listens on, for a next hop that is down. */
static guint16
free_port (void)
{
  g_autoptr (GSocket) socket = g_socket_new (
      G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) loopback =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (socket, any, FALSE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* B (b.test) runs unless @b_port is given (then A's route points at a
 * closed port); A gets @a_extra. B's notices to a.test wait in its
 * queue: its route there is a closed port. */
static void
orgs_start (Orgs *o, guint16 b_port, const char *a_extra)
{
  g_autofree char *a_config = NULL;
  g_autofree char *b_config = g_strdup_printf (
      "[general]\nhostname = mx.b.test\ndomains = b.test;localhost\n"
      "[routes]\na.test = 127.0.0.1:%u\n",
      free_port ());

  o->b = mw_harness_new (b_config);
  if (b_port == 0)
    {
      mw_harness_start (o->b, "mw-smtpd", NULL);
      b_port = mw_harness_port (o->b, "smtp");
    }
  a_config = g_strdup_printf (
      "[general]\nhostname = mx.a.test\ndomains = a.test;localhost\n"
      "[routes]\nb.test = 127.0.0.1:%u\n%s",
      b_port, a_extra ? a_extra : "");
  o->a = mw_harness_new (a_config);
  mw_harness_start (o->a, "mw-smtpd", NULL);
}

static void
orgs_set_up (Orgs *o, gconstpointer data)
{
  orgs_start (o, 0, NULL);
}

static void
orgs_tear_down (Orgs *o, gconstpointer data)
{
  g_clear_pointer (&o->a, mw_harness_free);
  g_clear_pointer (&o->b, mw_harness_free);
}

/* alice@a.test submits @body to @to through A (STARTTLS, AUTH), with the
 * DSN options @dsn_options (NULL-terminated, may be empty). */
static void
send_from_alice (MwHarness *a,
                 const char *to,
                 const char *body,
                 const char *const *dsn_options)
{
  mw_harness_submit (a, "alice", "alice-secret", "alice@a.test", to, "dsn test",
                     body, dsn_options);
}

/* The queue directory's entries (ID.env files) of @h. */
static guint
count_queued (MwHarness *h)
{
  g_autofree char *dir = g_build_filename (mw_harness_dir (h), "queue", NULL);
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  const char *name;
  guint count = 0;

  while (listing != NULL && (name = g_dir_read_name (listing)) != NULL)
    if (g_str_has_suffix (name, ".env"))
      count++;
  return count;
}

static void
wait_for_empty_queue (MwHarness *h)
{
  for (guint i = 0; i < WAIT_STEPS && count_queued (h) > 0; i++)
    g_usleep (100 * 1000);
  g_assert_cmpuint (count_queued (h), ==, 0);
}

/* The fields of the notice in @path, as dsn-fields.py reads them
 * (transfer full: name -> value). @marker: a text to look for in the
 * returned part. Fails the test if it is not a DSN. */
static GHashTable *
read_dsn_file (MwHarness *h, const char *path, const char *marker)
{
  g_autofree char *script =
      g_test_build_filename (G_TEST_DIST, "smtp", "dsn-fields.py", NULL);
  const char *argv[] = { "python3", script, path, marker, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto (GStrv) lines = NULL;
  GHashTable *fields =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  if (mw_harness_run (h, argv, NULL, &out, &err) != 0)
    g_error ("%s is not a DSN: %s", path, err);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *equals = strchr (lines[i], '=');

      if (equals != NULL)
        g_hash_table_insert (fields, g_strndup (lines[i], equals - lines[i]),
                             g_strdup (equals + 1));
    }
  return fields;
}

/* The one message in @user's INBOX on @h, read as a DSN. */
static GHashTable *
read_dsn (MwHarness *h, const char *user, const char *marker)
{
  g_auto (GStrv) files = mw_harness_list_messages (h, user, NULL);

  g_assert_cmpuint (g_strv_length (files), ==, 1);
  return read_dsn_file (h, files[0], marker);
}

static void
assert_field (GHashTable *fields, const char *name, const char *want)
{
  const char *got = g_hash_table_lookup (fields, name);

  if (g_strcmp0 (got, want) != 0)
    g_error ("%s: want \"%s\", got \"%s\"", name, want, got ? got : "(none)");
}

static void
assert_field_prefix (GHashTable *fields, const char *name, const char *want)
{
  const char *got = g_hash_table_lookup (fields, name);

  if (got == NULL || !g_str_has_prefix (got, want))
    g_error ("%s: want \"%s...\", got \"%s\"", name, want,
             got ? got : "(none)");
}

/* RFC 3461 §5.2.3, RFC 3464 §2.3.3: NOTIFY=SUCCESS for a local mailbox
 * gets a "delivered" notice with the ENVID, once the copy is stored. */
static void
test_local_success (Orgs *o, gconstpointer data)
{
  g_autoptr (GHashTable) dsn = NULL;

  send_from_alice (o->a, "bob@a.test", "for bob, with a receipt",
                   (const char *const[]){ "--notify", "SUCCESS", "--envid",
                                          "QQ 314159+", NULL });
  mw_harness_wait_for_messages (o->a, "bob", 1);
  mw_harness_wait_for_messages (o->a, "alice", 1);
  dsn = read_dsn (o->a, "alice", "for bob");
  assert_field (dsn, "header.To", "<alice@a.test>");
  assert_field (dsn, "header.Auto-Submitted", "auto-replied");
  assert_field (dsn, "message.Original-Envelope-Id", "QQ 314159+");
  assert_field (dsn, "message.Reporting-MTA", "dns; mx.a.test");
  assert_field (dsn, "recipients", "1");
  assert_field (dsn, "recipient.0.Final-Recipient", "rfc822; bob@a.test");
  assert_field (dsn, "recipient.0.Action", "delivered");
  assert_field (dsn, "recipient.0.Status", "2.0.0");
  g_assert_nonnull (g_hash_table_lookup (dsn, "recipient.0.Last-Attempt-Date"));
  /* a success returns the headers only (RFC 3461 §4.3) */
  assert_field (dsn, "returned.type", "text/rfc822-headers");
  assert_field (dsn, "returned.has-marker", "no");
  wait_for_empty_queue (o->a);
}

/* RFC 3461 §4.1, §4.2: NOTIFY=FAILURE and a 550 from the next hop: a
 * bounce with Action failed naming the ORCPT and the next hop. */
static void
test_failure_with_orcpt (Orgs *o, gconstpointer data)
{
  g_autoptr (GHashTable) dsn = NULL;

  send_from_alice (o->a, "nobody@b.test", "to no one",
                   (const char *const[]){ "--notify", "FAILURE", "--orcpt",
                                          "old+name@b.test", NULL });
  mw_harness_wait_for_messages (o->a, "alice", 1);
  dsn = read_dsn (o->a, "alice", "to no one");
  assert_field (dsn, "header.Subject", "Undelivered Mail Returned to Sender");
  assert_field (dsn, "recipient.0.Original-Recipient",
                "rfc822; old+name@b.test");
  assert_field (dsn, "recipient.0.Final-Recipient", "rfc822; nobody@b.test");
  assert_field (dsn, "recipient.0.Action", "failed");
  assert_field (dsn, "recipient.0.Status", "5.1.1");
  assert_field (dsn, "recipient.0.Remote-MTA", "dns; 127.0.0.1");
  assert_field_prefix (dsn, "recipient.0.Diagnostic-Code", "smtp; 550 5.1.1");
  /* no RET: the headers, as before DSN (RFC 3461 §4.3 lets us choose) */
  assert_field (dsn, "returned.type", "text/rfc822-headers");
  assert_field (dsn, "returned.has-marker", "no");
  wait_for_empty_queue (o->a);
}

/* RFC 3461 §4.3: RET=HDRS returns the header section only, RET=FULL the
 * whole message as message/rfc822. */
static void
test_ret_shapes_bounce (Orgs *o, gconstpointer data)
{
  g_auto (GStrv) files = NULL;
  g_autoptr (GHashTable) first = NULL;
  g_autoptr (GHashTable) second = NULL;

  send_from_alice (
      o->a, "nobody@b.test", "body one",
      (const char *const[]){ "--ret", "HDRS", "--envid", "hdrs", NULL });
  send_from_alice (
      o->a, "nobody@b.test", "body two",
      (const char *const[]){ "--ret", "FULL", "--envid", "full", NULL });
  mw_harness_wait_for_messages (o->a, "alice", 2);
  files = mw_harness_list_messages (o->a, "alice", NULL);
  first = read_dsn_file (o->a, files[0], "body ");
  second = read_dsn_file (o->a, files[1], "body ");
  if (g_str_equal (g_hash_table_lookup (first, "message.Original-Envelope-Id"),
                   "full"))
    {
      GHashTable *swap = first;

      first = second;
      second = swap;
    }
  assert_field (first, "message.Original-Envelope-Id", "hdrs");
  assert_field (first, "returned.type", "text/rfc822-headers");
  assert_field (first, "returned.has-marker", "no");
  assert_field (second, "message.Original-Envelope-Id", "full");
  assert_field (second, "returned.type", "message/rfc822");
  assert_field (second, "returned.has-marker", "yes");
  assert_field (second, "recipient.0.Action", "failed");
}

/* RFC 3461 §4.1: NOTIFY=NEVER: the 550 ends the recipient, and no
 * notice of any kind comes back. */
static void
test_never_no_bounce (Orgs *o, gconstpointer data)
{
  send_from_alice (o->a, "nobody@b.test", "silently",
                   (const char *const[]){ "--notify", "NEVER", NULL });
  /* A notice is queued before its message leaves the queue, and then
   * delivered to alice's local mailbox by the same queue: once the queue
   * is empty any notice would be in her INBOX. */
  wait_for_empty_queue (o->a);
  g_assert_cmpuint (mw_harness_count_messages (o->a, "alice"), ==, 0);
}

/* Waits until the one entry in @h's queue was tried @count times (its
 * envelope's "attempts", smtp-queue.h). */
static void
wait_for_attempts (MwHarness *h, guint count)
{
  g_autofree char *dir = g_build_filename (mw_harness_dir (h), "queue", NULL);

  for (guint i = 0; i < WAIT_STEPS; i++)
    {
      g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
      const char *name;

      while (listing != NULL && (name = g_dir_read_name (listing)) != NULL)
        {
          g_autofree char *path = g_build_filename (dir, name, NULL);
          g_autoptr (GKeyFile) envelope = g_key_file_new ();

          if (g_str_has_suffix (name, ".env") &&
              g_key_file_load_from_file (envelope, path, 0, NULL) &&
              g_key_file_get_uint64 (envelope, "envelope", "attempts", NULL) >=
                  count)
            return;
        }
      g_usleep (100 * 1000);
    }
  g_error ("the queue of %s never reached %u attempts", mw_harness_dir (h),
           count);
}

/* RFC 3464 §2.3.3 "delayed": with the next hop down, a message older than
 * [relay] delay_notice gets one notice (default NOTIFY, RFC 3461 §4.1)
 * and keeps waiting. */
static void
test_delay_notice (void)
{
  Orgs o = { 0 };
  g_autoptr (GHashTable) dsn = NULL;

  orgs_start (&o, free_port (), "[relay]\ndelay_notice = 1\n");
  send_from_alice (o.a, "bob@b.test", "waits a while",
                   (const char *const[]){ NULL });
  mw_harness_wait_for_messages (o.a, "alice", 1);
  dsn = read_dsn (o.a, "alice", "waits");
  assert_field (dsn, "header.Subject", "Delayed Mail (still being retried)");
  assert_field (dsn, "recipient.0.Final-Recipient", "rfc822; bob@b.test");
  assert_field (dsn, "recipient.0.Action", "delayed");
  assert_field_prefix (dsn, "recipient.0.Status", "4.");
  g_assert_nonnull (g_hash_table_lookup (dsn, "recipient.0.Will-Retry-Until"));
  assert_field (dsn, "returned.type", "text/rfc822-headers");
  /* Still queued, and retried (every second) without a second notice. */
  wait_for_attempts (o.a, 4);
  g_assert_cmpuint (count_queued (o.a), ==, 1);
  g_assert_cmpuint (mw_harness_count_messages (o.a, "alice"), ==, 1);
  orgs_tear_down (&o, NULL);
}

/* Whether the queue entry @env is a notice: its sender is the null
 * reverse-path (RFC 3461 §6.2). Mail for a local user also passes
 * through the queue on its way to the mailbox, and is gone once
 * delivered. */
static gboolean
is_queued_notice (const char *env)
{
  g_autoptr (GKeyFile) key_file = g_key_file_new ();
  g_autofree char *sender = NULL;

  if (!g_key_file_load_from_file (key_file, env, G_KEY_FILE_NONE, NULL))
    return FALSE;
  sender = g_key_file_get_string (key_file, "envelope", "sender", NULL);
  return sender != NULL && sender[0] == '\0';
}

/* The first notice's .msg in @h's queue (transfer full), waiting for
 * one. */
static char *
wait_for_queued_notice (MwHarness *h)
{
  g_autofree char *dir = g_build_filename (mw_harness_dir (h), "queue", NULL);

  for (guint i = 0; i < WAIT_STEPS; i++)
    {
      g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
      const char *name;

      while (listing != NULL && (name = g_dir_read_name (listing)) != NULL)
        {
          g_autofree char *env = NULL;
          g_autofree char *id = g_strndup (name, strcspn (name, "."));

          if (!g_str_has_suffix (name, ".msg"))
            continue;
          env = g_strdup_printf ("%s/%s.env", dir, id);
          if (is_queued_notice (env))
            return g_build_filename (dir, name, NULL);
        }
      g_usleep (100 * 1000);
    }
  g_error ("no notice was queued in %s", dir);
}

/* RFC 3461 §5.2.1: A relays to B, which offers DSN, with NOTIFY, ENVID
 * and ORCPT; B, the last hop, delivers to bob and sends the "delivered"
 * notice back with them. It waits in B's queue (B has no route back to
 * a.test), where it is read. A sends no notice itself: B reports. */
static void
test_envid_orcpt_across_relay (Orgs *o, gconstpointer data)
{
  g_autofree char *notice = NULL;
  g_autoptr (GHashTable) dsn = NULL;

  send_from_alice (o->a, "bob@b.test", "across two servers",
                   (const char *const[]){ "--notify", "SUCCESS,FAILURE",
                                          "--envid", "E-2", "--orcpt",
                                          "robert@b.test", NULL });
  mw_harness_wait_for_messages (o->b, "bob", 1);
  notice = wait_for_queued_notice (o->b);
  dsn = read_dsn_file (o->b, notice, "across");
  assert_field (dsn, "header.To", "<alice@a.test>");
  assert_field (dsn, "message.Original-Envelope-Id", "E-2");
  assert_field (dsn, "message.Reporting-MTA", "dns; mx.b.test");
  assert_field (dsn, "recipient.0.Original-Recipient", "rfc822; robert@b.test");
  assert_field (dsn, "recipient.0.Final-Recipient", "rfc822; bob@b.test");
  assert_field (dsn, "recipient.0.Action", "delivered");
  wait_for_empty_queue (o->a);
  g_assert_cmpuint (mw_harness_count_messages (o->a, "alice"), ==, 0);
}

/* RFC 3461 §5.2.2: a next hop without DSN (Python's smtpd) cannot report
 * further, so NOTIFY=SUCCESS gets a "relayed" notice from A. */
static void
test_relayed_to_next_hop_without_dsn (void)
{
  g_autoptr (MwHarness) probe = mw_harness_new (NULL);
  g_autofree char *got_path =
      g_build_filename (mw_harness_dir (probe), "got", NULL);
  g_autoptr (GSubprocess) python = NULL;
  g_autofree char *routes = NULL;
  g_autoptr (GHashTable) dsn = NULL;
  Orgs o = { 0 };
  guint16 port = 0;

  python = mw_harness_python_smtpd (probe, got_path, &port);
  if (python == NULL)
    return;
  routes = g_strdup_printf ("[routes]\nc.test = 127.0.0.1:%u\n", port);
  orgs_start (&o, free_port (), routes);
  send_from_alice (o.a, "carol@c.test", "to a plain server",
                   (const char *const[]){ "--notify", "SUCCESS", NULL });
  mw_harness_wait_for_messages (o.a, "alice", 1);
  dsn = read_dsn (o.a, "alice", NULL);
  assert_field (dsn, "recipient.0.Final-Recipient", "rfc822; carol@c.test");
  assert_field (dsn, "recipient.0.Action", "relayed");
  assert_field_prefix (dsn, "recipient.0.Status", "2.");
  assert_field (dsn, "recipient.0.Remote-MTA", "dns; 127.0.0.1");
  g_assert_true (g_file_test (got_path, G_FILE_TEST_EXISTS));
  g_subprocess_force_exit (python);
  orgs_tear_down (&o, NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/relay/dsn/local-success-is-delivered-notice", Orgs, NULL,
              orgs_set_up, test_local_success, orgs_tear_down);
  g_test_add ("/relay/dsn/failure-550-bounce-names-orcpt", Orgs, NULL,
              orgs_set_up, test_failure_with_orcpt, orgs_tear_down);
  g_test_add ("/relay/dsn/ret-shapes-the-bounce", Orgs, NULL, orgs_set_up,
              test_ret_shapes_bounce, orgs_tear_down);
  g_test_add ("/relay/dsn/never-means-no-bounce", Orgs, NULL, orgs_set_up,
              test_never_no_bounce, orgs_tear_down);
  g_test_add_func ("/relay/dsn/delay-notice-once-then-waits",
                   test_delay_notice);
  g_test_add ("/relay/dsn/envid-orcpt-across-relay", Orgs, NULL, orgs_set_up,
              test_envid_orcpt_across_relay, orgs_tear_down);
  g_test_add_func ("/relay/dsn/relayed-to-next-hop-without-dsn",
                   test_relayed_to_next_hop_without_dsn);
  return g_test_run ();
}
