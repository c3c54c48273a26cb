/* SPDX-License-Identifier: MIT
 * test-relay-parallel.c: the queue delivers to several destinations at
 * once (suite integration). Organisation A (a.test) relays to B (b.test,
 * a real mw-smtpd) and to slow.test, a next hop that accepts TCP at once
 * and greets only when the test releases it (slow-smtp.py, which logs
 * each connection and delivery). The claims are about the order of
 * events and the number of connections open at once, never about
 * durations.
 */
#include <string.h>

#include "mw-harness.h"

#define WAIT_STEPS 400 /* of 100 ms: 40 s at most */
#define SLOW_MESSAGES 4
#define PER_DESTINATION 2

typedef struct
{
  MwHarness *a;
  MwHarness *b;
  GSubprocess *slow;
  char *slow_log;
  char *slow_release; /* created: slow.test greets at last */
} Parallel;

/* slow-smtp.py, silent until p->slow_release exists; its port. */
static guint16
slow_start (Parallel *p)
{
  g_autofree char *script =
      g_test_build_filename (G_TEST_DIST, "smtp", "slow-smtp.py", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autofree char *line = NULL;

  p->slow_log = g_build_filename (mw_harness_dir (p->b), "slow.log", NULL);
  p->slow_release =
      g_build_filename (mw_harness_dir (p->b), "slow.release", NULL);
  p->slow = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "python3",
                              script, p->slow_release, p->slow_log, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (p->slow));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  return (guint16) g_ascii_strtoull (line, NULL, 10);
}

static void
parallel_set_up (Parallel *p, gconstpointer data)
{
  g_autofree char *a_config = NULL;
  guint16 slow_port;

  p->b = mw_harness_new ("[general]\nhostname = mx.b.test\n"
                         "domains = b.test;localhost\n");
  mw_harness_start (p->b, "mw-smtpd", NULL);
  slow_port = slow_start (p); /* its files in B's directory */
  a_config = g_strdup_printf (
      "[general]\nhostname = mx.a.test\ndomains = a.test;localhost\n"
      "[routes]\nb.test = 127.0.0.1:%u\nslow.test = 127.0.0.1:%u\n"
      "[relay]\nmax_connections = 6\nmax_per_destination = %u\n",
      mw_harness_port (p->b, "smtp"), slow_port, PER_DESTINATION);
  p->a = mw_harness_new (a_config);
  mw_harness_start (p->a, "mw-smtpd", NULL);
}

static void
parallel_tear_down (Parallel *p, gconstpointer data)
{
  if (p->slow != NULL)
    g_subprocess_force_exit (p->slow);
  g_clear_object (&p->slow);
  g_clear_pointer (&p->a, mw_harness_free);
  g_clear_pointer (&p->b, mw_harness_free);
  g_free (p->slow_log);
  g_free (p->slow_release);
}

static void
send_from_alice (Parallel *p, const char *to, const char *body)
{
  mw_harness_submit (p->a, "alice", "alice-secret", "alice@a.test", to,
                     "parallel", body, NULL);
}

/* The slow server's log so far: how many "delivered", and the most
 * connections it had open at once. */
static guint
slow_events (Parallel *p, guint *out_most_open)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  guint delivered = 0;

  *out_most_open = 0;
  if (!g_file_get_contents (p->slow_log, &text, NULL, NULL))
    return 0;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_equal (lines[i], "delivered"))
      delivered++;
    else if (g_str_has_prefix (lines[i], "open "))
      *out_most_open = MAX (*out_most_open,
                            (guint) g_ascii_strtoull (lines[i] + 5, NULL, 10));
  return delivered;
}

/* Mail to b.test is not held behind mail to a slow domain submitted
 * before it: bob has his message while slow.test has taken none of its
 * own, with as many connections to slow.test open as the limit allows
 * and no more. */
static void
test_slow_domain_holds_only_itself (Parallel *p, gconstpointer data)
{
  guint most_open = 0;
  guint delivered = 0;

  for (guint i = 0; i < SLOW_MESSAGES; i++)
    {
      g_autofree char *body = g_strdup_printf ("slow %u", i);

      send_from_alice (p, "carol@slow.test", body);
    }
  send_from_alice (p, "bob@b.test", "fast");
  for (guint i = 0;
       i < WAIT_STEPS && (mw_harness_count_messages (p->b, "bob") == 0 ||
                          most_open < PER_DESTINATION);
       i++)
    {
      g_usleep (100 * 1000);
      slow_events (p, &most_open);
    }
  g_assert_cmpuint (mw_harness_count_messages (p->b, "bob"), ==, 1);
  delivered = slow_events (p, &most_open);
  g_assert_cmpuint (delivered, ==, 0); /* the slow ones still waiting */
  g_assert_cmpuint (most_open, ==, PER_DESTINATION);
  /* Released, every slow message arrives, never more than the limit at
   * once: the other two go as the first two finish. */
  g_assert_true (g_file_set_contents (p->slow_release, "", 0, NULL));
  for (guint i = 0; i < WAIT_STEPS && delivered < SLOW_MESSAGES; i++)
    {
      g_usleep (100 * 1000);
      delivered = slow_events (p, &most_open);
    }
  g_assert_cmpuint (delivered, ==, SLOW_MESSAGES);
  g_assert_cmpuint (most_open, ==, PER_DESTINATION);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/relay/parallel/slow-domain-holds-only-itself", Parallel, NULL,
              parallel_set_up, test_slow_domain_holds_only_itself,
              parallel_tear_down);
  return g_test_run ();
}
