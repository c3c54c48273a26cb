/* SPDX-License-Identifier: MIT
 * mw-harness.c: private mail systems for integration and interop tests.
 */
#define _GNU_SOURCE /* unshare (), CLONE_NEWNS */

#include "mw-harness.h"

#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "mail-auth.h"
#include "mail-store.h"
#include "mail-tls.h"

struct _MwHarness
{
  char *dir;
  char *config;
  char *cert;
  GPtrArray *servers; /* GSubprocess, started here */
  GHashTable *ports;  /* label -> port */
  GStrv wrapper;      /* argv before each server's, e.g. valgrind; or NULL */
};

static const char *const harness_users[][2] = {
  { "alice", "alice-secret" },
  { "bob", "bob-secret" },
};

static void
write_users (MwHarness *harness)
{
  g_autofree char *path = g_build_filename (harness->dir, "users", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (MailUsers) users = mail_users_load (path, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (harness_users); i++)
    {
      mail_users_set (users, harness_users[i][0], harness_users[i][1], NULL,
                      FALSE, &error);
      g_assert_no_error (error);
    }
  mail_users_save (users, &error);
  g_assert_no_error (error);
}

static void
write_config (MwHarness *harness, const char *extra_config)
{
  g_autofree char *text = g_strdup_printf (
      "# written by the test harness: every listener on an ephemeral port\n"
      "[general]\n"
      "hostname = mx.%s\n"
      "domains = %s;localhost\n"
      "state_dir = %s\n"
      "tls_cert = cert.pem\n"
      "tls_key = key.pem\n"
      "timeout = 30\n"
      "[smtp]\n"
      "listen = 127.0.0.1\nport = 0\nsubmission_port = 0\nsmtps_port = 0\n"
      "[queue]\n"
      "retry_min = 1\nretry_max = 2\nlifetime = 60\n"
      "[pop3]\n"
      "listen = 127.0.0.1\nport = 0\npop3s_port = 0\n"
      "[imap]\n"
      "listen = 127.0.0.1\nport = 0\nimaps_port = 0\n"
      "%s\n",
      MW_HARNESS_DOMAIN, MW_HARNESS_DOMAIN, harness->dir,
      extra_config ? extra_config : "");
  g_autoptr (GError) error = NULL;

  g_file_set_contents (harness->config, text, -1, &error);
  g_assert_no_error (error);
}

MwHarness *
mw_harness_new (const char *extra_config)
{
  MwHarness *harness = g_new0 (MwHarness, 1);
  g_autofree char *key = NULL;
  const char *names[] = { "localhost", "127.0.0.1", "::1", NULL };
  g_autoptr (GError) error = NULL;

  harness->dir = g_dir_make_tmp ("mw-test-XXXXXX", &error);
  g_assert_no_error (error);
  harness->config = g_build_filename (harness->dir, "mailwire.conf", NULL);
  harness->cert = g_build_filename (harness->dir, "cert.pem", NULL);
  key = g_build_filename (harness->dir, "key.pem", NULL);
  harness->servers = g_ptr_array_new_with_free_func (g_object_unref);
  harness->ports =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  mail_tls_write_self_signed (harness->cert, key, names, 30, &error);
  g_assert_no_error (error);
  write_users (harness);
  write_config (harness, extra_config);
  return harness;
}

/* How a server ended, for a test's log; NULL if it exited with status 0. */
static char *
describe_end (GSubprocess *server)
{
  if (g_subprocess_get_if_signaled (server))
    return g_strdup_printf ("killed by signal %d",
                            g_subprocess_get_term_sig (server));
  if (g_subprocess_get_exit_status (server) != 0)
    return g_strdup_printf ("exit status %d",
                            g_subprocess_get_exit_status (server));
  return NULL;
}

/* SIGTERM, then SIGKILL if the server is still there after 5 s. GLib's
 * worker thread reaps the child and clears its identifier. Returns why
 * the server did not end well, or NULL: a server that had ended before
 * (a crash: servers the test stopped itself are no longer listed), that
 * needed the SIGKILL, or that exited with an error (what AddressSanitizer
 * and valgrind's --error-exitcode do after a report) fails the test. */
static char *
stop_server (GSubprocess *server)
{
  g_autofree char *how = NULL;

  if (g_subprocess_get_identifier (server) == NULL)
    {
      g_subprocess_wait (server, NULL, NULL);
      how = describe_end (server);
      return g_strdup_printf ("ended before the test stopped it (%s)",
                              how != NULL ? how : "exit status 0");
    }
  g_subprocess_send_signal (server, SIGTERM);
  for (guint i = 0; i < 50 && g_subprocess_get_identifier (server); i++)
    g_usleep (100 * 1000);
  if (g_subprocess_get_identifier (server) != NULL)
    {
      g_subprocess_force_exit (server);
      g_subprocess_wait (server, NULL, NULL);
      return g_strdup ("still running 5 s after SIGTERM");
    }
  g_subprocess_wait (server, NULL, NULL);
  how = describe_end (server);
  return how != NULL ? g_strdup_printf ("on SIGTERM: %s", how) : NULL;
}

gboolean
mw_harness_remove_tree (const char *path)
{
  const char *argv[] = { "rm", "-rf", path, NULL };

  return g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                       NULL, NULL, NULL, NULL, NULL);
}

void
mw_harness_free (MwHarness *harness)
{
  if (harness == NULL)
    return;
  for (guint i = 0; i < harness->servers->len; i++)
    {
      g_autofree char *why = stop_server (harness->servers->pdata[i]);

      if (why != NULL)
        {
          g_test_message ("server %u of this test: %s", i + 1, why);
          g_test_fail ();
        }
    }
  g_ptr_array_unref (harness->servers);
  g_hash_table_unref (harness->ports);
  g_strfreev (harness->wrapper);
  if (g_getenv ("MW_KEEP_TEST_DIR") == NULL)
    mw_harness_remove_tree (harness->dir);
  else
    g_test_message ("kept %s", harness->dir);
  g_free (harness->dir);
  g_free (harness->config);
  g_free (harness->cert);
  g_free (harness);
}

const char *
mw_harness_dir (MwHarness *harness)
{
  return harness->dir;
}

const char *
mw_harness_config (MwHarness *harness)
{
  return harness->config;
}

const char *
mw_harness_cert (MwHarness *harness)
{
  return harness->cert;
}

char *
mw_harness_maildir (MwHarness *harness, const char *user)
{
  /* the default of mail-config.h: mail_root = state_dir/mail */
  return g_build_filename (harness->dir, "mail", user, "Maildir", NULL);
}

void
mw_harness_deliver (MwHarness *harness, const char *user, const char *text)
{
  g_autofree char *maildir = mw_harness_maildir (harness, user);
  g_autoptr (GError) error = NULL;

  g_assert_true (
      mail_maildir_deliver (maildir, NULL, text, strlen (text), NULL, &error));
  g_assert_no_error (error);
}

char *
mw_harness_program (const char *name)
{
  static const char *const dirs[] = { "src/servers", "src/clients", "src/tools",
                                      "src/tracer", NULL };
  const char *root = g_getenv ("MW_BUILD_ROOT");

  g_assert_nonnull (root);
  for (guint i = 0; dirs[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (root, dirs[i], name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
        return g_steal_pointer (&path);
    }
  return NULL;
}

/* "mw-smtpd: smtp listening on 127.0.0.1:43121" -> ports["smtp"] */
static void
record_port (MwHarness *harness, const char *line)
{
  const char *listening = strstr (line, " listening on ");
  const char *label = strstr (line, ": ");
  const char *colon = strrchr (line, ':');

  if (listening == NULL || label == NULL || colon < listening)
    return;
  g_hash_table_replace (harness->ports,
                        g_strndup (label + 2, listening - label - 2),
                        GUINT_TO_POINTER (atoi (colon + 1)));
}

/* Reads the server's stdout up to "<program>: ready"; FALSE if it ended
 * first (the server exited). */
static gboolean
wait_until_ready_or_exit (MwHarness *harness,
                          GSubprocess *server,
                          const char *name)
{
  g_autoptr (GDataInputStream) out =
      g_data_input_stream_new (g_subprocess_get_stdout_pipe (server));
  g_autofree char *ready = g_strdup_printf ("%s: ready", name);

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *line =
          g_data_input_stream_read_line (out, NULL, NULL, &error);

      g_assert_no_error (error);
      if (line == NULL)
        return FALSE;
      record_port (harness, line);
      if (strcmp (line, ready) == 0)
        return TRUE;
    }
}

static void
wait_until_ready (MwHarness *harness, GSubprocess *server, const char *name)
{
  if (!wait_until_ready_or_exit (harness, server, name))
    g_error ("%s exited before it was ready", name);
}

static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* "mw-smtpd --config <conf>" (transfer full) */
static GPtrArray *
server_argv (MwHarness *harness, const char *program)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; harness->wrapper != NULL && harness->wrapper[i]; i++)
    g_ptr_array_add (argv, g_strdup (harness->wrapper[i]));
  g_ptr_array_add (argv, mw_harness_program (program));
  g_assert_nonnull (argv->pdata[0]);
  g_ptr_array_add (argv, g_strdup ("--config"));
  g_ptr_array_add (argv, g_strdup (harness->config));
  return argv;
}

/* Spawns the server with @setup run in the child before exec. */
static GSubprocess *
server_spawn (MwHarness *harness,
              GPtrArray *argv,
              GSpawnChildSetupFunc setup,
              gpointer setup_data)
{
  g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GError) error = NULL;
  GSubprocess *server = NULL;

  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_set_child_setup (launcher, setup, setup_data, NULL);
  server = g_subprocess_launcher_spawnv (
      launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_ptr_array_add (harness->servers, server);
  return server;
}

GPid
mw_harness_start (MwHarness *harness, const char *program, ...)
{
  g_autoptr (GPtrArray) argv = server_argv (harness, program);
  GSubprocess *server;
  const char *arg;
  va_list args;

  va_start (args, program);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (args);
  /* A test that fails an assertion aborts without freeing the harness;
   * its servers must not outlive it (they would hold meson's pipe open). */
  server = server_spawn (harness, argv, die_with_parent, NULL);
  wait_until_ready (harness, server, program);
  return atoi (g_subprocess_get_identifier (server));
}

/* ---- a server on a small disk of its own ----------------------------- */

/* What the child mounts; made before the fork (the child may only make
 * system calls: async-signal-safe). */
typedef struct
{
  char *mount_point;
  char *options; /* "size=2m,mode=0700" */
} TmpfsSetup;

#define MW_HARNESS_NO_PRIVILEGE_EXIT 77

static void
mount_tmpfs_then_die_with_parent (gpointer user_data)
{
  const TmpfsSetup *setup = user_data;

  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (unshare (CLONE_NEWNS) != 0 ||
      mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      mount ("mw-test", setup->mount_point, "tmpfs", 0, setup->options) != 0)
    _exit (errno == EPERM ? MW_HARNESS_NO_PRIVILEGE_EXIT : 78);
}

GPid
mw_harness_start_on_tmpfs (MwHarness *harness,
                           const char *program,
                           const char *mount_point,
                           const char *size)
{
  g_autoptr (GPtrArray) argv = server_argv (harness, program);
  TmpfsSetup setup = { g_strdup (mount_point),
                       g_strdup_printf ("size=%s,mode=0700", size) };
  g_autoptr (GError) error = NULL;
  GSubprocess *server = NULL;

  g_assert_cmpint (g_mkdir_with_parents (mount_point, 0700), ==, 0);
  server =
      server_spawn (harness, argv, mount_tmpfs_then_die_with_parent, &setup);
  /* the child has exec'd or exited: the strings are no longer used */
  g_free (setup.mount_point);
  g_free (setup.options);
  if (wait_until_ready_or_exit (harness, server, program))
    return atoi (g_subprocess_get_identifier (server));
  g_assert_true (g_subprocess_wait (server, NULL, &error));
  g_assert_true (g_subprocess_get_if_exited (server));
  g_assert_cmpint (g_subprocess_get_exit_status (server), ==,
                   MW_HARNESS_NO_PRIVILEGE_EXIT);
  g_ptr_array_remove (harness->servers, server); /* its end was foreseen */
  return 0;
}

void
mw_harness_measure_memory (void)
{
  const char *asan = g_getenv ("ASAN_OPTIONS");
  g_autofree char *options = g_strdup_printf (
      "%s%squarantine_size_mb=1", asan ? asan : "", asan && *asan ? ":" : "");

  g_setenv ("ASAN_OPTIONS", options, TRUE);
}

guint64
mw_harness_rss_kib (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *status = NULL;
  const char *line = NULL;

  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  line = strstr (status, "VmRSS:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("VmRSS:"), NULL, 10);
}

guint64
mw_harness_peak_rss_kib (GPid pid, guint seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_USEC_PER_SEC;
  guint64 peak = 0;

  while (g_get_monotonic_time () < deadline)
    {
      peak = MAX (peak, mw_harness_rss_kib (pid));
      g_usleep (20 * 1000); /* sampling, not waiting for an event */
    }
  return peak;
}

guint16
mw_harness_port (MwHarness *harness, const char *label)
{
  gpointer port = g_hash_table_lookup (harness->ports, label);

  g_assert_nonnull (port);
  return GPOINTER_TO_UINT (port);
}

void
mw_harness_set_wrapper (MwHarness *harness, const char *const *wrapper)
{
  g_strfreev (harness->wrapper);
  harness->wrapper = g_strdupv ((char **) wrapper);
}

void
mw_harness_signal (MwHarness *harness, GPid pid, int signal)
{
  for (guint i = 0; i < harness->servers->len; i++)
    {
      GSubprocess *server = harness->servers->pdata[i];
      const char *id = g_subprocess_get_identifier (server);

      if (id == NULL || atoi (id) != pid)
        continue;
      g_subprocess_send_signal (server, signal);
      /* ended on purpose: no longer the harness's to judge */
      if (signal == SIGKILL || signal == SIGTERM)
        {
          g_subprocess_wait (server, NULL, NULL);
          g_ptr_array_remove_index (harness->servers, i);
        }
      return;
    }
  g_error ("pid %d was not started by this harness", pid);
}

static char *
resolve_program (const char *name)
{
  char *built;

  if (g_path_is_absolute (name))
    return g_strdup (name);
  built = mw_harness_program (name);
  return built ? built : g_find_program_in_path (name);
}

int
mw_harness_run (MwHarness *harness,
                const char *const *argv,
                const char *stdin_text,
                char **out_stdout,
                char **out_stderr)
{
  g_autoptr (GPtrArray) full = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
      G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GSubprocess) child = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *program = resolve_program (argv[0]);

  g_assert_nonnull (program);
  /* coreutils' timeout bounds a client that hangs (60 s, then KILL) */
  g_ptr_array_add (full, g_strdup ("timeout"));
  g_ptr_array_add (full, g_strdup ("-k5"));
  g_ptr_array_add (full, g_strdup ("60"));
  g_ptr_array_add (full, g_steal_pointer (&program));
  for (guint i = 1; argv[i] != NULL; i++)
    g_ptr_array_add (full, g_strdup (argv[i]));
  g_ptr_array_add (full, NULL);
  g_subprocess_launcher_set_cwd (launcher, harness ? harness->dir : "/");
  child = g_subprocess_launcher_spawnv (
      launcher, (const char *const *) full->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (child, stdin_text ? stdin_text : "", NULL,
                                 out_stdout, out_stderr, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_if_exited (child))
    return -1;
  return g_subprocess_get_exit_status (child);
}

gboolean
mw_harness_have (const char *program)
{
  g_autofree char *path = g_find_program_in_path (program);

  return path != NULL;
}

gboolean
mw_harness_require (const char *program, const char *package)
{
  if (mw_harness_have (program))
    return TRUE;
  g_test_message ("%s is not installed: ./run test installs it (or "
                  "apt-get install %s)",
                  program, package);
  g_test_fail ();
  return FALSE;
}

static void
add_files (GPtrArray *names, const char *dir)
{
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  const char *name;

  if (listing == NULL)
    return;
  while ((name = g_dir_read_name (listing)) != NULL)
    g_ptr_array_add (names, g_build_filename (dir, name, NULL));
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char **) a, *(char **) b);
}

GStrv
mw_harness_list_messages (MwHarness *harness,
                          const char *user,
                          const char *folder)
{
  g_autofree char *root = mw_harness_maildir (harness, user);
  g_autofree char *dot = folder ? g_strconcat (".", folder, NULL) : NULL;
  g_autofree char *base = g_build_filename (root, dot, NULL);
  g_autofree char *new_dir = g_build_filename (base, "new", NULL);
  g_autofree char *cur_dir = g_build_filename (base, "cur", NULL);
  GPtrArray *names = g_ptr_array_new ();

  add_files (names, new_dir);
  add_files (names, cur_dir);
  g_ptr_array_sort (names, compare_strings);
  g_ptr_array_add (names, NULL);
  return (GStrv) g_ptr_array_free (names, FALSE);
}

/* Bounded: asyncore.loop returns after 30 one-second rounds. */
static const char python_smtpd_script[] =
    "import smtpd, asyncore, sys\n"
    "class S (smtpd.SMTPServer):\n"
    "  def process_message (self, peer, mailfrom, rcpttos, data, **kw):\n"
    "    open (sys.argv[1], 'wb').write (mailfrom.encode () + b'|'\n"
    "      + ','.join (rcpttos).encode () + b'|' + data)\n"
    "    self.close ()\n"
    "s = S (('127.0.0.1', 0), None, decode_data=False)\n"
    "print (s.socket.getsockname ()[1], flush=True)\n"
    "asyncore.loop (timeout=1, count=30)\n";

GSubprocess *
mw_harness_python_smtpd (MwHarness *harness,
                         const char *got_path,
                         guint16 *out_port)
{
  const char *check[] = {
    "python3", "-W", "ignore", "-c", "import smtpd", NULL
  };
  g_autoptr (GSubprocess) server = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *port = NULL;

  if (mw_harness_run (harness, check, NULL, NULL, NULL) != 0)
    {
      g_test_skip ("this python3 has no smtpd module (removed in 3.12; "
                   "Debian 12's python3 3.11 has it)");
      return NULL;
    }
  server =
      g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, "python3", "-W",
                        "ignore", "-c", python_smtpd_script, got_path, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server));
  port = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (port);
  *out_port = (guint16) g_ascii_strtoull (port, NULL, 10);
  return g_steal_pointer (&server);
}

/* ---- clients that never speak --------------------------------------- */

int
mw_harness_raw_connect (guint16 port)
{
  struct sockaddr_in address = { .sin_family = AF_INET,
                                 .sin_port = htons (port) };
  struct timeval timeout = { .tv_sec = 10 };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (
      setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout), ==,
      0);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &address, sizeof address),
                   ==, 0);
  return fd;
}

char *
mw_harness_raw_first_line (int fd)
{
  char line[512];
  gsize used = 0;

  while (used < sizeof line - 1 && recv (fd, line + used, 1, 0) == 1)
    if (line[used++] == '\n')
      break;
  line[used] = '\0';
  return g_strchomp (g_strdup (line));
}

gboolean
mw_harness_raise_open_files (guint needed)
{
  struct rlimit limit = { 0 };

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  limit.rlim_cur = limit.rlim_max;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  if (limit.rlim_cur < needed)
    {
      g_autofree char *why =
          g_strdup_printf ("the open-files hard limit (%lu) is below %u",
                           (unsigned long) limit.rlim_cur, needed);

      g_test_skip (why);
      return FALSE;
    }
  return TRUE;
}

void
mw_harness_idle_clients (GPid pid,
                         guint16 port,
                         guint clients,
                         guint limit,
                         const char *greeting,
                         const char *refused)
{
  g_autofree int *fds = g_new0 (int, clients);
  g_autofree char *last_refusal = NULL;
  guint64 before = 0;
  int again = -1;

  before = mw_harness_rss_kib (pid);
  for (guint i = 0; i < clients; i++)
    {
      g_autofree char *line = NULL;

      fds[i] = mw_harness_raw_connect (port);
      line = mw_harness_raw_first_line (fds[i]);
      if (i < limit)
        g_assert_true (g_str_has_prefix (line, greeting));
      else
        {
          /* refused clients are let go at once; the server closes too */
          g_assert_true (g_str_has_prefix (line, refused));
          close (fds[i]);
          fds[i] = -1;
          g_free (last_refusal);
          last_refusal = g_steal_pointer (&line);
        }
    }
  g_test_message ("%u clients that never speak, %u served at once: VmRSS "
                  "%" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT
                  " KiB; the others got \"%s\"",
                  clients, MIN (clients, limit), before,
                  mw_harness_rss_kib (pid),
                  last_refusal != NULL ? last_refusal : "(none)");
  close (fds[0]);
  fds[0] = -1;
  /* the freed session ends when the server reads the close: poll */
  for (guint tries = 0; tries < 100 && again < 0; tries++)
    {
      g_autofree char *line = NULL;

      again = mw_harness_raw_connect (port);
      line = mw_harness_raw_first_line (again);
      if (!g_str_has_prefix (line, greeting))
        {
          close (again);
          again = -1;
          g_usleep (50 * 1000);
        }
    }
  g_assert_cmpint (again, >=, 0);
  close (again);
  for (guint i = 0; i < clients; i++)
    if (fds[i] >= 0)
      close (fds[i]);
}

guint
mw_harness_count_messages (MwHarness *harness, const char *user)
{
  g_auto (GStrv) files = mw_harness_list_messages (harness, user, NULL);

  return g_strv_length (files);
}

void
mw_harness_wait_for_messages (MwHarness *harness, const char *user, guint count)
{
  for (guint i = 0;
       i < 300 && mw_harness_count_messages (harness, user) < count; i++)
    g_usleep (100 * 1000);
  g_assert_cmpuint (mw_harness_count_messages (harness, user), ==, count);
}

void
mw_harness_submit (MwHarness *harness,
                   const char *user,
                   const char *password,
                   const char *from,
                   const char *to,
                   const char *subject,
                   const char *body,
                   const char *const *extra)
{
  g_autofree char *server =
      g_strdup_printf ("127.0.0.1:%u", mw_harness_port (harness, "submission"));
  const char *const base[] = {
    "mw-send",    "--server", server,
    "--starttls", "--cafile", mw_harness_cert (harness),
    "--user",     user,       "--password",
    password,     "--from",   from,
    "--to",       to,         "--subject",
    subject,      "--body",   body,
    NULL
  };
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *err = NULL;
  int status;

  for (guint i = 0; base[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) base[i]);
  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) extra[i]);
  g_ptr_array_add (argv, NULL);
  status = mw_harness_run (harness, (const char *const *) argv->pdata, NULL,
                           NULL, &err);
  if (status != 0)
    g_error ("mw-send exited %d: %s", status, err);
}
