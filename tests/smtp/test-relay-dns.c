/* SPDX-License-Identifier: MIT
 * test-relay-dns.c: mw-smtpd A routes mail by DNS (RFC 5321 §5.1, RFC 7505)
 * asking a real DNS server, dnsmasq, that the test starts on loopback
 * (suite integration). The next hops are mw-smtpd B on 127.0.0.2 and C on
 * 127.0.0.3, on the same ephemeral port, which is A's [relay] mx_port;
 * 127.0.0.4 has nobody on it (an MX that is down).
 *
 *   pref.test    MX 10 mx1.pref.test (B), MX 20 mx2.pref.test (C)
 *   down.test    MX 10 mx1.down.test (127.0.0.4), MX 20 mx2.down.test (C)
 *   nomx.test    no MX; A 127.0.0.3 (C): the implicit MX
 *   nullmx.test  MX 0 "." (RFC 7505 null MX), and an A record all the same
 *   noaddr.test  MX 10 mx.noaddr.test, a name with no address
 *   missing.test no such name (dnsmasq is authoritative for .test)
 *   backup.test  MX 10 mx1.down.test (127.0.0.4), MX 20 mx.a.test (A),
 *                MX 30 mx2.pref.test (C): A is a backup MX
 *   self.test    MX 10 mx.a.test (A), MX 20 mx2.pref.test (C)
 *   tie.test     MX 10 mx1.pref.test (B), MX 10 mx.a.test (A)
 *   alias.test   MX 10 mx.alias.test (127.0.0.1), MX 20 mx2.pref.test (C):
 *                A by its address, when A listens on 127.0.0.1:mx_port
 *
 * Waiting on other processes has no callback to hook, so the waits poll
 * the Maildir or "mw-admin queue list" every 100 ms, bounded.
 */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "mw-harness.h"

#define WAIT_STEPS 300 /* of 100 ms: 30 s at most */
#define NEXT_HOP_DOMAINS "pref.test;down.test;nomx.test;localhost"

typedef struct
{
  MwHarness *a;
  MwHarness *b; /* 127.0.0.2 */
  MwHarness *c; /* 127.0.0.3 */
  GSubprocess *dnsmasq;
  GSubprocess *slow; /* slow-dns.py, when a test starts one */
  guint16 dns_port;
  guint16 mx_port;
  char *dns_log;
  char *dnsmasq_path;
} DnsRelay;

/* ---- free ports ------------------------------------------------------- */

/* Binds a socket of @type to @address:@port (0: any) and returns the
 * port it got, or 0 when that one is taken. */
static guint16
try_bind (const char *address, GSocketType type, guint16 port)
{
  g_autoptr (GSocket) socket =
      g_socket_new (G_SOCKET_FAMILY_IPV4, type,
                    type == G_SOCKET_TYPE_STREAM ? G_SOCKET_PROTOCOL_TCP
                                                 : G_SOCKET_PROTOCOL_UDP,
                    NULL);
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (address);
  g_autoptr (GSocketAddress) wanted = g_inet_socket_address_new (inet, port);
  g_autoptr (GSocketAddress) bound = NULL;

  if (!g_socket_bind (socket, wanted, FALSE, NULL))
    return 0;
  bound = g_socket_get_local_address (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* A TCP port the kernel gave us on 127.0.0.2 that is free on 127.0.0.3,
 * 127.0.0.4 and 127.0.0.1 too, for B, C, the MX that is down and A when
 * it is an MX itself. */
static guint16
free_mx_port (void)
{
  for (guint i = 0; i < 50; i++)
    {
      guint16 port = try_bind ("127.0.0.2", G_SOCKET_TYPE_STREAM, 0);

      if (try_bind ("127.0.0.3", G_SOCKET_TYPE_STREAM, port) == port &&
          try_bind ("127.0.0.4", G_SOCKET_TYPE_STREAM, port) == port &&
          try_bind ("127.0.0.1", G_SOCKET_TYPE_STREAM, port) == port)
        return port;
    }
  g_error ("no port free on 127.0.0.1 to .4 at once in 50 tries");
}

/* A port free for both UDP and TCP on 127.0.0.1, as dnsmasq serves both. */
static guint16
free_dns_port (void)
{
  for (guint i = 0; i < 50; i++)
    {
      guint16 port = try_bind ("127.0.0.1", G_SOCKET_TYPE_DATAGRAM, 0);

      if (try_bind ("127.0.0.1", G_SOCKET_TYPE_STREAM, port) == port)
        return port;
    }
  g_error ("no port free for UDP and TCP at once in 50 tries");
}

/* ---- helper processes ------------------------------------------------- */

/* SIGTERM, which timeout(1) passes on to its command (SIGKILL would
 * leave that command behind). */
static void
die_with_test (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/* Starts @argv (argv[0] a path or a program in PATH) so that it gets
 * SIGTERM if the test dies first: a failed assertion aborts before any
 * tear-down, and nothing must be left listening behind it. */
static GSubprocess *
spawn_helper (const char *const *argv, GSubprocessFlags flags)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr (GError) error = NULL;
  GSubprocess *process = NULL;

  g_subprocess_launcher_set_child_setup (launcher, die_with_test, NULL, NULL);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  return process;
}

/* ---- dnsmasq ---------------------------------------------------------- */

static char *
read_file_or_empty (const char *path)
{
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return g_strdup ("");
  return text;
}

/* dnsmasq with only the records of the table above, authoritative for
 * .test (--local), logging every query to r->dns_log; it has bound its
 * port once it logs "started". */
static void
dns_start (DnsRelay *r)
{
  g_autofree char *port = g_strdup_printf ("--port=%u", r->dns_port);
  g_autofree char *log = g_strdup_printf ("--log-facility=%s", r->dns_log);
  g_autofree char *user = g_strdup_printf ("--user=%s", g_get_user_name ());
  /* dnsmasq drops its capabilities, which clears the parent-death
   * signal: timeout(1) keeps it, passes SIGTERM on and bounds dnsmasq's
   * life in any case. */
  const char *argv[] = { "timeout",
                         "120",
                         "dnsmasq",
                         "--keep-in-foreground",
                         "--conf-file=/dev/null",
                         "--no-resolv",
                         "--no-hosts",
                         "--bind-interfaces",
                         "--listen-address=127.0.0.1",
                         port,
                         "--pid-file=",
                         user,
                         "--local=/test/",
                         "--mx-host=pref.test,mx2.pref.test,20",
                         "--mx-host=pref.test,mx1.pref.test,10",
                         "--host-record=mx1.pref.test,127.0.0.2",
                         "--host-record=mx2.pref.test,127.0.0.3",
                         "--mx-host=down.test,mx1.down.test,10",
                         "--mx-host=down.test,mx2.down.test,20",
                         "--host-record=mx1.down.test,127.0.0.4",
                         "--host-record=mx2.down.test,127.0.0.3",
                         "--host-record=nomx.test,127.0.0.3",
                         "--mx-host=nullmx.test,.,0",
                         "--mx-host=noaddr.test,mx.noaddr.test,10",
                         "--host-record=nullmx.test,127.0.0.2",
                         "--mx-host=backup.test,mx1.down.test,10",
                         "--mx-host=backup.test,mx.a.test,20",
                         "--mx-host=backup.test,mx2.pref.test,30",
                         "--host-record=mx.a.test,127.0.0.1",
                         "--mx-host=self.test,mx.a.test,10",
                         "--mx-host=self.test,mx2.pref.test,20",
                         "--mx-host=tie.test,mx1.pref.test,10",
                         "--mx-host=tie.test,mx.a.test,10",
                         "--mx-host=alias.test,mx.alias.test,10",
                         "--mx-host=alias.test,mx2.pref.test,20",
                         "--host-record=mx.alias.test,127.0.0.1",
                         "--log-queries",
                         log,
                         NULL };
  g_autofree char *text = NULL;

  argv[2] = r->dnsmasq_path;
  g_assert_null (r->dnsmasq);
  g_unlink (r->dns_log);
  r->dnsmasq = spawn_helper (argv, G_SUBPROCESS_FLAGS_NONE);
  for (guint i = 0; i < WAIT_STEPS; i++)
    {
      g_free (text);
      text = read_file_or_empty (r->dns_log);
      if (strstr (text, "started") != NULL)
        return;
      g_assert_nonnull (g_subprocess_get_identifier (r->dnsmasq));
      g_usleep (100 * 1000);
    }
  g_error ("dnsmasq did not start:\n%s", text);
}

static void
stop (GSubprocess **process)
{
  if (*process == NULL)
    return;
  g_subprocess_send_signal (*process, SIGTERM);
  g_subprocess_wait (*process, NULL, NULL);
  g_clear_object (process);
}

/* slow-dns.py in front of dnsmasq, answering @delay seconds late;
 * returns the port it listens on. */
static guint16
slow_start (DnsRelay *r, const char *delay, const char *log)
{
  g_autofree char *upstream = g_strdup_printf ("%u", r->dns_port);
  const char *argv[] = { "python3", MW_SLOW_DNS, upstream, delay, log, NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autofree char *line = NULL;
  guint64 port = 0;

  r->slow = spawn_helper (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (r->slow));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "listening "));
  g_assert_true (g_ascii_string_to_unsigned (line + strlen ("listening "), 10,
                                             1, 65535, &port, NULL));
  return (guint16) port;
}

/* ---- the servers ------------------------------------------------------ */

/* A next hop on @address:r->mx_port taking mail for every test domain. */
static MwHarness *
next_hop_start (DnsRelay *r, const char *address, const char *hostname)
{
  g_autofree char *config = g_strdup_printf (
      "[general]\nhostname = %s\ndomains = " NEXT_HOP_DOMAINS "\n"
      "[smtp]\nlisten = %s\nport = %u\n",
      hostname, address, r->mx_port);
  MwHarness *h = mw_harness_new (config);

  mw_harness_start (h, "mw-smtpd", NULL);
  return h;
}

/* A (a.test) asks the DNS server on @dns_port, with @timeout seconds per
 * query, and relays to MX hosts on r->mx_port; with @on_mx_port, A's own
 * port 25 is 127.0.0.1:mx_port, where an MX host could reach it. */
static void
a_start_with (DnsRelay *r, guint16 dns_port, guint timeout, gboolean on_mx_port)
{
  g_autofree char *smtp =
      on_mx_port ? g_strdup_printf ("[smtp]\nport = %u\n", r->mx_port)
                 : g_strdup ("");
  g_autofree char *config = g_strdup_printf (
      "[general]\nhostname = mx.a.test\ndomains = a.test;localhost\n"
      "[relay]\ndns_server = 127.0.0.1:%u\ndns_timeout = %u\nmx_port = %u\n%s",
      dns_port, timeout, r->mx_port, smtp);

  r->a = mw_harness_new (config);
  mw_harness_start (r->a, "mw-smtpd", NULL);
}

static void
a_start (DnsRelay *r, guint16 dns_port, guint timeout)
{
  a_start_with (r, dns_port, timeout, FALSE);
}

static void
a_start_on_mx_port (DnsRelay *r, guint16 dns_port, guint timeout)
{
  a_start_with (r, dns_port, timeout, TRUE);
}

/* B, C and the DNS server up; A not yet started. */
static void
dns_relay_set_up_hops (DnsRelay *r, gconstpointer data)
{
  /* /usr/sbin, which is not in every user's PATH */
  r->dnsmasq_path = g_find_program_in_path ("dnsmasq");
  if (r->dnsmasq_path == NULL &&
      g_file_test ("/usr/sbin/dnsmasq", G_FILE_TEST_IS_EXECUTABLE))
    r->dnsmasq_path = g_strdup ("/usr/sbin/dnsmasq");
  if (r->dnsmasq_path == NULL &&
      !mw_harness_require ("dnsmasq", "dnsmasq-base"))
    return;
  r->mx_port = free_mx_port ();
  r->dns_port = free_dns_port ();
  r->b = next_hop_start (r, "127.0.0.2", "mx1.pref.test");
  r->c = next_hop_start (r, "127.0.0.3", "mx2.pref.test");
  r->dns_log = g_build_filename (mw_harness_dir (r->b), "dnsmasq.log", NULL);
  dns_start (r);
}

/* Everything up, A asking dnsmasq directly. */
static void
dns_relay_set_up (DnsRelay *r, gconstpointer data)
{
  dns_relay_set_up_hops (r, data);
  if (r->dnsmasq != NULL)
    a_start (r, r->dns_port, 5);
}

/* Everything up, A's port 25 on mx_port. */
static void
dns_relay_set_up_a_on_mx_port (DnsRelay *r, gconstpointer data)
{
  dns_relay_set_up_hops (r, data);
  if (r->dnsmasq != NULL)
    a_start_on_mx_port (r, r->dns_port, 5);
}

static void
dns_relay_tear_down (DnsRelay *r, gconstpointer data)
{
  stop (&r->slow);
  stop (&r->dnsmasq);
  g_clear_pointer (&r->a, mw_harness_free);
  g_clear_pointer (&r->b, mw_harness_free);
  g_clear_pointer (&r->c, mw_harness_free);
  g_free (r->dns_log);
  g_free (r->dnsmasq_path);
}

/* ---- what A's users and queue see ------------------------------------- */

/* alice@a.test submits to A (STARTTLS + AUTH), as a mail program would. */
static void
send_from_alice (DnsRelay *r, const char *to, const char *body)
{
  mw_harness_submit (r->a, "alice", "alice-secret", "alice@a.test", to,
                     "by dns", body, NULL);
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

/* Waits for one message in @user's INBOX at @h and returns its text. */
static char *
wait_for_message (MwHarness *h, const char *user)
{
  g_auto (GStrv) files = NULL;
  char *text = NULL;

  for (guint i = 0; i < WAIT_STEPS && mw_harness_count_messages (h, user) == 0;
       i++)
    g_usleep (100 * 1000);
  files = mw_harness_list_messages (h, user, NULL);
  g_assert_cmpuint (g_strv_length (files), ==, 1);
  g_assert_true (g_file_get_contents (files[0], &text, NULL, NULL));
  return text;
}

/* Mail to @to reaches bob at @hop, and nowhere else; A's queue empties. */
static void
assert_delivered_to (DnsRelay *r, const char *to, MwHarness *hop)
{
  g_autofree char *text = NULL;
  MwHarness *other = hop == r->b ? r->c : r->b;

  send_from_alice (r, to, "routed by dns");
  text = wait_for_message (hop, "bob");
  g_assert_nonnull (strstr (text, "routed by dns"));
  g_assert_nonnull (strstr (text, "by mx.a.test"));
  g_free (wait_for_queue (r->a, NULL));
  g_assert_cmpuint (mw_harness_count_messages (other, "bob"), ==, 0);
}

/* alice gets one bounce for @to with @status and @diagnostic in it. */
static void
assert_bounced (DnsRelay *r,
                const char *to,
                const char *status,
                const char *diagnostic)
{
  g_autofree char *final = g_strdup_printf ("Final-Recipient: rfc822; %s", to);
  g_autofree char *status_line = g_strdup_printf ("Status: %s\r\n", status);
  g_autofree char *bounce = NULL;

  send_from_alice (r, to, "nowhere to go");
  bounce = wait_for_message (r->a, "alice");
  if (strstr (bounce, final) == NULL || strstr (bounce, status_line) == NULL ||
      strstr (bounce, "Action: failed") == NULL ||
      strstr (bounce, diagnostic) == NULL)
    g_error ("not a %s bounce for %s saying \"%s\":\n%s", status, to,
             diagnostic, bounce);
  g_free (wait_for_queue (r->a, NULL));
  g_assert_cmpuint (mw_harness_count_messages (r->b, "bob"), ==, 0);
  g_assert_cmpuint (mw_harness_count_messages (r->c, "bob"), ==, 0);
}

/* ---- the cases -------------------------------------------------------- */

/* RFC 5321 §5.1: the MX with the lower preference gets the mail, and A
 * found it by asking dnsmasq (its log shows the MX query), although
 * dnsmasq lists it second. */
static void
test_preference_order (DnsRelay *r, gconstpointer data)
{
  g_autofree char *log = NULL;

  if (r->dnsmasq == NULL)
    return;
  assert_delivered_to (r, "bob@pref.test", r->b);
  log = read_file_or_empty (r->dns_log);
  g_assert_nonnull (strstr (log, "query[MX] pref.test from 127.0.0.1"));
  g_assert_nonnull (strstr (log, "query[A] mx1.pref.test from 127.0.0.1"));
}

/* RFC 5321 §5.1: the first MX refuses connections, so the second gets
 * the mail in the same attempt. */
static void
test_first_mx_down (DnsRelay *r, gconstpointer data)
{
  if (r->dnsmasq == NULL)
    return;
  assert_delivered_to (r, "bob@down.test", r->c);
}

/* RFC 5321 §5.1: no MX records, so the domain's own A record is the
 * implicit MX. */
static void
test_implicit_mx (DnsRelay *r, gconstpointer data)
{
  g_autofree char *log = NULL;

  if (r->dnsmasq == NULL)
    return;
  assert_delivered_to (r, "bob@nomx.test", r->c);
  log = read_file_or_empty (r->dns_log);
  g_assert_nonnull (strstr (log, "query[MX] nomx.test"));
  g_assert_nonnull (strstr (log, "query[A] nomx.test"));
}

/* RFC 7505 §4.2: a null MX returns the mail at once with 556 5.1.10
 * (RFC 7504 §3), although the domain has an A record: no connection is
 * tried, and the bounce comes on the first attempt, long before the
 * queue's 60 s lifetime could make it a 4.4.7. */
static void
test_null_mx_bounces (DnsRelay *r, gconstpointer data)
{
  g_autofree char *log = NULL;

  if (r->dnsmasq == NULL)
    return;
  assert_bounced (r, "bob@nullmx.test", "5.1.10", "556 5.1.10");
  log = read_file_or_empty (r->dns_log);
  g_assert_null (strstr (log, "query[A] nullmx.test"));
}

/* RFC 3463 §3.2: a domain that does not exist (NXDOMAIN) is a bad
 * destination system, 5.1.2, and bounces at once. */
static void
test_missing_domain_bounces (DnsRelay *r, gconstpointer data)
{
  if (r->dnsmasq == NULL)
    return;
  assert_bounced (r, "bob@missing.test", "5.1.2", "NXDOMAIN");
}

/* RFC 5321 §5.1: an MX list none of whose hosts has an address is an
 * error, not a reason to try the domain's address: 5.4.4 (RFC 3463
 * §3.5, unable to route), at once. */
static void
test_mx_without_address_bounces (DnsRelay *r, gconstpointer data)
{
  g_autofree char *log = NULL;

  if (r->dnsmasq == NULL)
    return;
  assert_bounced (r, "bob@noaddr.test", "5.4.4", "no MX host of noaddr.test");
  log = read_file_or_empty (r->dns_log);
  g_assert_nonnull (strstr (log, "query[A] mx.noaddr.test"));
  g_assert_null (strstr (log, "query[A] noaddr.test"));
}

/* RFC 5321 §5.1 and §4.5.4.1: with no DNS server answering, the mail is
 * not sent to a guessed address: it waits, the queue says DNS is why,
 * and once dnsmasq is up (on the port A was told) the retry delivers. */
static void
test_dns_down_then_up (DnsRelay *r, gconstpointer data)
{
  g_autofree char *listing = NULL;
  g_autofree char *text = NULL;

  if (r->dnsmasq == NULL)
    return;
  stop (&r->dnsmasq);
  a_start (r, r->dns_port, 1);
  send_from_alice (r, "bob@pref.test", "after the outage");
  listing = wait_for_queue (r->a, "DNS: no usable answer to MX pref.test");
  g_assert_nonnull (strstr (listing, "        <bob@pref.test>"));
  g_assert_cmpuint (mw_harness_count_messages (r->a, "alice"), ==,
                    0); /* no bounce */
  dns_start (r);
  text = wait_for_message (r->b, "bob");
  g_assert_nonnull (strstr (text, "after the outage"));
  g_free (wait_for_queue (r->a, NULL));
  g_assert_cmpuint (mw_harness_count_messages (r->c, "bob"), ==, 0);
  g_assert_cmpuint (mw_harness_count_messages (r->a, "alice"), ==, 0);
}

/* Slow records: every answer comes 1 s late through slow-dns.py, well
 * within A's 5 s per query; the mail goes where the MX says, and every
 * answer A used came through the proxy. */
static void
test_slow_answers_within_timeout (DnsRelay *r, gconstpointer data)
{
  g_autofree char *proxy_log = NULL;
  g_autofree char *log = NULL;
  guint16 port = 0;

  if (r->dnsmasq == NULL)
    return;
  proxy_log = g_build_filename (mw_harness_dir (r->c), "slow.log", NULL);
  port = slow_start (r, "1", proxy_log);
  a_start (r, port, 5);
  assert_delivered_to (r, "bob@pref.test", r->b);
  log = read_file_or_empty (proxy_log);
  g_assert_nonnull (strstr (log, "delayed "));
}

/* The same proxy, 3 s late against a 1 s timeout: A gives up on each
 * query, keeps the mail and says the DNS query timed out. */
static void
test_too_slow_waits (DnsRelay *r, gconstpointer data)
{
  g_autofree char *proxy_log = NULL;
  g_autofree char *listing = NULL;
  guint16 port = 0;

  if (r->dnsmasq == NULL)
    return;
  proxy_log = g_build_filename (mw_harness_dir (r->c), "slow.log", NULL);
  port = slow_start (r, "3", proxy_log);
  a_start (r, port, 1);
  send_from_alice (r, "bob@pref.test", "too slow");
  listing = wait_for_queue (r->a, "timed out");
  g_assert_nonnull (strstr (listing, "DNS: no usable answer to MX pref.test"));
  g_assert_cmpuint (mw_harness_count_messages (r->b, "bob"), ==, 0);
  g_assert_cmpuint (mw_harness_count_messages (r->a, "alice"), ==, 0);
}

/* RFC 5321 §5.1: A finds its own name at preference 20 and discards
 * itself and everything behind it: only the MX at 10 is left, which is
 * down, so the mail waits in A's queue. Without the rule A would have
 * tried itself and then handed the mail to C at 30 in the same attempt,
 * the backup behind it. */
static void
test_backup_mx_only_hands_to_better (DnsRelay *r, gconstpointer data)
{
  g_autofree char *listing = NULL;
  g_autofree char *log = NULL;

  if (r->dnsmasq == NULL)
    return;
  send_from_alice (r, "bob@backup.test", "for the primary only");
  listing = wait_for_queue (r->a, "127.0.0.4");
  g_assert_nonnull (strstr (listing, "        <bob@backup.test>"));
  log = read_file_or_empty (r->dns_log);
  g_assert_nonnull (strstr (log, "query[MX] backup.test"));
  g_assert_cmpuint (mw_harness_count_messages (r->c, "bob"), ==, 0);
  g_assert_cmpuint (mw_harness_count_messages (r->b, "bob"), ==, 0);
  g_assert_cmpuint (mw_harness_count_messages (r->a, "alice"), ==,
                    0); /* no bounce: the primary may come back */
}

/* A mail to @to that bounces at once, with @status and @diagnostic. */
typedef struct
{
  const char *path;
  const char *to;
  const char *status;
  const char *diagnostic;
  gboolean a_on_mx_port; /* A's port 25 is 127.0.0.1:mx_port */
} BounceCase;

/* RFC 5321 §5.1: "all records at that preference level and
 * higher-numbered ones MUST be discarded", and "if there are no records
 * left at that point ... the message MUST be returned as undeliverable":
 * 5.4.6, routing loop (RFC 3463 §3.5), and no other MX gets the mail. */
static const BounceCase self_mx_cases[] = {
  /* A is the best MX: C at 20 is behind it */
  { "/relay/dns/best-mx-bounces-5.4.6-loop", "bob@self.test", "5.4.6",
    "loops back to myself", FALSE },
  /* B shares A's preference 10, so it is no better than A */
  { "/relay/dns/equal-preference-is-no-better", "bob@tie.test", "5.4.6",
    "loops back to myself", FALSE },
  /* "names or addresses": mx.alias.test is not A's name, but its address
   * is where A listens on mx_port */
  { "/relay/dns/self-found-by-address", "bob@alias.test", "5.4.6",
    "loops back to myself", TRUE },
};

static void
test_bounces (DnsRelay *r, gconstpointer data)
{
  const BounceCase *c = data;

  if (r->dnsmasq == NULL)
    return;
  assert_bounced (r, c->to, c->status, c->diagnostic);
}

/* Waits until the file at @path contains @text. */
static void
wait_for_file_text (const char *path, const char *text)
{
  for (guint i = 0; i < WAIT_STEPS; i++)
    {
      g_autofree char *content = read_file_or_empty (path);

      if (strstr (content, text) != NULL)
        return;
      g_usleep (100 * 1000);
    }
  g_error ("%s never held \"%s\"", path, text);
}

static guint
count_lines_with (const char *text, const char *prefix)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint count = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    count += g_str_has_prefix (lines[i], prefix);
  return count;
}

/* SIGTERM while the MX answer is late: A lets the query under way end
 * and asks nothing more (one query reached the proxy, not the A and
 * AAAA queries that would follow), and the mail is still in its queue
 * (RFC 5321 §6.1). */
static void
test_stop_during_dns (DnsRelay *r, gconstpointer data)
{
  g_autofree char *proxy_log = NULL;
  g_autofree char *config = NULL;
  g_autofree char *listing = NULL;
  g_autofree char *log = NULL;
  GPid pid = 0;

  if (r->dnsmasq == NULL)
    return;
  proxy_log = g_build_filename (mw_harness_dir (r->c), "slow.log", NULL);
  config = g_strdup_printf (
      "[general]\nhostname = mx.a.test\ndomains = a.test;localhost\n"
      "[relay]\ndns_server = 127.0.0.1:%u\ndns_timeout = 10\nmx_port = %u\n",
      slow_start (r, "2", proxy_log), r->mx_port);
  r->a = mw_harness_new (config);
  pid = mw_harness_start (r->a, "mw-smtpd", NULL);
  send_from_alice (r, "bob@pref.test", "stopped while asking");
  wait_for_file_text (proxy_log, "got ");
  mw_harness_signal (r->a, pid, SIGTERM);
  listing = queue_list (r->a);
  g_assert_nonnull (strstr (listing, "<bob@pref.test>"));
  wait_for_file_text (proxy_log, "delayed ");
  log = read_file_or_empty (proxy_log);
  g_assert_cmpuint (count_lines_with (log, "got "), ==, 1);
  g_assert_cmpuint (mw_harness_count_messages (r->b, "bob"), ==, 0);
}

/* RFC 5321 §5.1: a static route still comes first: pref.test routed to
 * C by [routes] goes to C although its MX says B. */
static void
test_static_route_first (DnsRelay *r, gconstpointer data)
{
  g_autofree char *config = NULL;

  if (r->dnsmasq == NULL)
    return;
  config = g_strdup_printf (
      "[general]\nhostname = mx.a.test\ndomains = a.test;localhost\n"
      "[relay]\ndns_server = 127.0.0.1:%u\nmx_port = %u\n"
      "[routes]\npref.test = 127.0.0.3:%u\n",
      r->dns_port, r->mx_port, r->mx_port);
  r->a = mw_harness_new (config);
  mw_harness_start (r->a, "mw-smtpd", NULL);
  assert_delivered_to (r, "bob@pref.test", r->c);
}

/* ---- [relay] values refused at start ---------------------------------- */

typedef struct
{
  const char *name;   /* of the test path */
  const char *config; /* the [relay] lines */
  const char *error;  /* what mw-smtpd's message must say */
} BadRelayKey;

static const BadRelayKey bad_relay_keys[] = {
  /* INVALID */
  { "dns-server-name", "dns_server = localhost:53",
    "[relay] dns_server: expected an IPv4" },
  { "dns-server-ipv6", "dns_server = ::1",
    "[relay] dns_server: expected an IPv4" },
  { "dns-server-port-0", "dns_server = 127.0.0.1:0",
    "[relay] dns_server: expected an IPv4" },
  { "dns-server-port-text", "dns_server = 127.0.0.1:53x",
    "[relay] dns_server: expected an IPv4" },
  { "dns-server-empty",
    "dns_server =", "[relay] dns_server: expected a non-empty word" },
  { "dns-timeout-0", "dns_timeout = 0",
    "[relay] dns_timeout: expected a positive number" },
  { "mx-port-0", "mx_port = 0",
    "[relay] mx_port: expected a port number 1-65535" },
  { "mx-port-off", "mx_port = -1",
    "[relay] mx_port: expected a port number 1-65535" },
};

/* A [relay] typo is an error at start that names the key and its line,
 * not a relay that quietly asks no DNS server. */
static void
test_bad_relay_key (gconstpointer data)
{
  const BadRelayKey *row = data;
  g_autofree char *extra = g_strdup_printf ("[relay]\n%s\n", row->config);
  g_autoptr (MwHarness) h = mw_harness_new (extra);
  const char *argv[] = { "mw-smtpd", "--config", mw_harness_config (h), NULL };
  g_autofree char *err = NULL;
  g_autofree char *where = g_strdup_printf ("%s:", mw_harness_config (h));

  g_assert_cmpint (mw_harness_run (h, argv, NULL, NULL, &err), !=, 0);
  if (strstr (err, row->error) == NULL || strstr (err, where) == NULL)
    g_error ("'%s': expected \"%s\" naming the file, got: %s", row->config,
             row->error, err);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/relay/dns/lower-preference-gets-the-mail", DnsRelay, NULL,
              dns_relay_set_up, test_preference_order, dns_relay_tear_down);
  g_test_add ("/relay/dns/first-mx-down-second-gets-it", DnsRelay, NULL,
              dns_relay_set_up, test_first_mx_down, dns_relay_tear_down);
  g_test_add ("/relay/dns/no-mx-uses-the-address", DnsRelay, NULL,
              dns_relay_set_up, test_implicit_mx, dns_relay_tear_down);
  g_test_add ("/relay/dns/null-mx-bounces-5.1.10-at-once", DnsRelay, NULL,
              dns_relay_set_up, test_null_mx_bounces, dns_relay_tear_down);
  g_test_add ("/relay/dns/nxdomain-bounces-5.1.2", DnsRelay, NULL,
              dns_relay_set_up, test_missing_domain_bounces,
              dns_relay_tear_down);
  g_test_add ("/relay/dns/mx-without-address-bounces-5.4.4", DnsRelay, NULL,
              dns_relay_set_up, test_mx_without_address_bounces,
              dns_relay_tear_down);
  g_test_add ("/relay/dns/dns-down-waits-then-delivers", DnsRelay, NULL,
              dns_relay_set_up_hops, test_dns_down_then_up,
              dns_relay_tear_down);
  g_test_add ("/relay/dns/slow-answers-within-timeout", DnsRelay, NULL,
              dns_relay_set_up_hops, test_slow_answers_within_timeout,
              dns_relay_tear_down);
  g_test_add ("/relay/dns/answers-past-timeout-wait", DnsRelay, NULL,
              dns_relay_set_up_hops, test_too_slow_waits, dns_relay_tear_down);
  g_test_add ("/relay/dns/stop-during-dns-asks-no-more-keeps-mail", DnsRelay,
              NULL, dns_relay_set_up_hops, test_stop_during_dns,
              dns_relay_tear_down);
  g_test_add ("/relay/dns/static-route-comes-first", DnsRelay, NULL,
              dns_relay_set_up_hops, test_static_route_first,
              dns_relay_tear_down);
  g_test_add ("/relay/dns/backup-mx-hands-only-to-a-better-one", DnsRelay, NULL,
              dns_relay_set_up, test_backup_mx_only_hands_to_better,
              dns_relay_tear_down);
  for (gsize i = 0; i < G_N_ELEMENTS (self_mx_cases); i++)
    g_test_add (self_mx_cases[i].path, DnsRelay, &self_mx_cases[i],
                self_mx_cases[i].a_on_mx_port ? dns_relay_set_up_a_on_mx_port
                                              : dns_relay_set_up,
                test_bounces, dns_relay_tear_down);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_relay_keys); i++)
    {
      g_autofree char *path = g_strdup_printf ("/relay/dns/config/refused/%s",
                                               bad_relay_keys[i].name);

      g_test_add_data_func (path, &bad_relay_keys[i], test_bad_relay_key);
    }
  return g_test_run ();
}
