/* SPDX-License-Identifier: MIT
 * test-imaptest.c: Dovecot's imaptest (MIT licence, vendored as
 * imaptest-release-2.3.tar.gz beside this file) against mw-imapd, started
 * from a private harness on an ephemeral port.
 *
 *   /conformance/imaptest/scripted  imaptest's scripted tests (test=DIR):
 *       passes only when its summary says 0 failed groups and 0 failed
 *       commands, base protocol (RFC 3501) and extensions alike; tests
 *       whose capabilities the server does not announce are skipped by
 *       imaptest itself. excluded.txt lists the tests left out, with why.
 *   /conformance/imaptest/stress    30 s of random commands from 5 clients
 *       with state tracking (mbox=default.mbox): passes only if imaptest
 *       logs no error (its exit status is 0 even when it does).
 *
 * imaptest is built once per build directory by build-imaptest.sh, into
 * $MW_BUILD_ROOT/imaptest. The scripted tests log in as alice, the stress
 * run as bob. Against another server on 127.0.0.1 (Dovecot, to check the
 * driver), mw-imapd is not started: MW_IMAPTEST_PORT=143, with
 * MW_IMAPTEST_USER/_PASS (scripted) and MW_IMAPTEST_STRESS_USER/_PASS
 * (stress) when the accounts are not alice and bob of the harness.
 * MW_IMAPTEST_SEED, MW_IMAPTEST_SECS and MW_IMAPTEST_CLIENTS change the
 * stress run.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "mw-harness.h"

/* one account each: run at once against one server (meson runs tests in
 * parallel), they must not meet (Dovecot then fails the scripted DELETE +
 * CREATE of "imaptest" now and then) */
typedef struct
{
  const char *user, *pass;
  const char *user_env, *pass_env;
} Account;

static const Account scripted_account = { "alice", "alice-secret",
                                          "MW_IMAPTEST_USER",
                                          "MW_IMAPTEST_PASS" };
static const Account stress_account = { "bob", "bob-secret",
                                        "MW_IMAPTEST_STRESS_USER",
                                        "MW_IMAPTEST_STRESS_PASS" };

typedef struct
{
  MwHarness *harness; /* NULL against an external server */
  char *scratch;      /* where the test keeps its files */
  guint16 port;
  const char *user;
  const char *pass;
} Target;

/* ---- running programs --------------------------------------------- */

static void
die_with_parent (gpointer user_data)
{
  /* coreutils' timeout passes SIGTERM on to imaptest */
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/* Runs argv under `timeout -k5 SECONDS`; returns the exit status, -1 if
 * killed by a signal, 124 if the time ran out. */
static int
run_bounded (const char *const *argv,
             const char *cwd,
             guint seconds,
             char **out_stdout,
             char **out_stderr)
{
  g_autoptr (GPtrArray) full = g_ptr_array_new_with_free_func (g_free);
  /* stdin is /dev/null */
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GSubprocess) child = NULL;
  g_autoptr (GError) error = NULL;

  g_ptr_array_add (full, g_strdup ("timeout"));
  g_ptr_array_add (full, g_strdup ("-k5"));
  g_ptr_array_add (full, g_strdup_printf ("%u", seconds));
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (full, g_strdup (argv[i]));
  g_ptr_array_add (full, NULL);
  g_subprocess_launcher_set_cwd (launcher, cwd);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  child = g_subprocess_launcher_spawnv (
      launcher, (const char *const *) full->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (child, NULL, NULL, out_stdout, out_stderr,
                                 &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_if_exited (child))
    return -1;
  return g_subprocess_get_exit_status (child);
}

/* MW_SOURCE_ROOT or MW_BUILD_ROOT, from tests/meson.build */
static const char *
meson_dir (const char *name)
{
  const char *dir = g_getenv (name);

  if (dir == NULL)
    g_error ("%s is not set: run this through meson test", name);
  return dir;
}

/* build-imaptest.sh $MW_BUILD_ROOT/imaptest: prints the binary, then the
 * directory of the scripted tests. FALSE (test failed) if it could not. */
static gboolean
build_imaptest (char **out_binary, char **out_tests)
{
  g_autofree char *script =
      g_build_filename (meson_dir ("MW_SOURCE_ROOT"), "tests", "conformance",
                        "build-imaptest.sh", NULL);
  g_autofree char *dir =
      g_build_filename (meson_dir ("MW_BUILD_ROOT"), "imaptest", NULL);
  const char *argv[] = { script, dir, NULL };
  g_autofree char *output = NULL;
  g_autofree char *errors = NULL;
  g_auto (GStrv) lines = NULL;
  int status;

  /* the first build installs Debian packages and compiles: minutes */
  status = run_bounded (argv, "/", 600, &output, &errors);
  if (errors[0] != '\0')
    g_test_message ("%s", errors);
  lines = g_strsplit (output, "\n", -1);
  if (status != 0 || g_strv_length (lines) < 2 ||
      !g_file_test (lines[0], G_FILE_TEST_IS_EXECUTABLE) ||
      !g_file_test (lines[1], G_FILE_TEST_IS_DIR))
    {
      g_test_fail_printf ("%s failed (exit %d): %s", script, status, errors);
      return FALSE;
    }
  *out_binary = g_strdup (lines[0]);
  *out_tests = g_strdup (lines[1]);
  return TRUE;
}

/* ---- the server under test ---------------------------------------- */

static void
target_free (Target *t)
{
  if (t->harness != NULL)
    mw_harness_free (t->harness); /* stops mw-imapd, removes scratch */
  else
    {
      const char *argv[] = { "rm", "-rf", t->scratch, NULL };

      if (g_getenv ("MW_KEEP_TEST_DIR") == NULL)
        g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                      NULL, NULL, NULL, NULL, NULL);
      else
        g_test_message ("kept %s", t->scratch);
      g_free (t->scratch);
    }
  g_free (t);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Target, target_free)

/* mw-imapd from a private harness, or the server MW_IMAPTEST_PORT names.
 * NULL (test failed) while mw-imapd is not built: the suite is there to
 * fail until the server passes it. */
static Target *
target_new (const Account *account)
{
  Target *t = g_new0 (Target, 1);
  const char *port = g_getenv ("MW_IMAPTEST_PORT");
  g_autofree char *program = NULL;
  g_autoptr (GError) error = NULL;

  t->user = account->user;
  t->pass = account->pass;
  if (port != NULL)
    {
      t->port = atoi (port);
      g_assert_cmpuint (t->port, >, 0);
      if (g_getenv (account->user_env) != NULL)
        t->user = g_getenv (account->user_env);
      if (g_getenv (account->pass_env) != NULL)
        t->pass = g_getenv (account->pass_env);
      t->scratch = g_dir_make_tmp ("mw-imaptest-XXXXXX", &error);
      g_assert_no_error (error);
      g_test_message ("against the server on 127.0.0.1:%u as %s", t->port,
                      t->user);
      return t;
    }
  program = mw_harness_program ("mw-imapd");
  if (program == NULL)
    {
      g_test_fail_printf ("mw-imapd is not built (no %s/src/servers/mw-imapd)",
                          g_getenv ("MW_BUILD_ROOT"));
      g_free (t);
      return NULL;
    }
  t->harness = mw_harness_new (NULL);
  t->scratch = (char *) mw_harness_dir (t->harness);
  mw_harness_start (t->harness, "mw-imapd", NULL);
  t->port = mw_harness_port (t->harness, "imap");
  g_test_message ("mw-imapd on 127.0.0.1:%u, state in %s", t->port, t->scratch);
  return t;
}

static int
run_imaptest (Target *t,
              const char *binary,
              const char *const *args,
              guint seconds,
              char **out_stdout,
              char **out_stderr)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *line = NULL;
  int status;

  g_ptr_array_add (argv, g_strdup (binary));
  g_ptr_array_add (argv, g_strdup ("host=127.0.0.1"));
  g_ptr_array_add (argv, g_strdup_printf ("port=%u", t->port));
  g_ptr_array_add (argv, g_strdup_printf ("user=%s", t->user));
  g_ptr_array_add (argv, g_strdup_printf ("pass=%s", t->pass));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);
  line = g_strjoinv (" ", (char **) argv->pdata);
  g_test_message ("%s", line);
  status = run_bounded ((const char *const *) argv->pdata, t->scratch, seconds,
                        out_stdout, out_stderr);
  g_test_message ("imaptest: exit %d\n--- stdout\n%s--- stderr\n%s", status,
                  *out_stdout, *out_stderr);
  return status;
}

/* ---- scripted tests ------------------------------------------------ */

/* excluded.txt: "<test> <reason>" per line, '#' comments; the reason
 * (which RFC says the server may differ, and how) is required. */
static GHashTable *
read_excluded (const char *tests)
{
  g_autofree char *path =
      g_build_filename (meson_dir ("MW_SOURCE_ROOT"), "tests", "conformance",
                        "excluded.txt", NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) error = NULL;
  GHashTable *excluded =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);
      g_autofree char *file = NULL;
      size_t name_len;

      if (line[0] == '\0' || line[0] == '#')
        continue;
      name_len = strcspn (line, " \t");
      if (line[name_len] == '\0')
        g_error ("%s:%u: \"%s\" has no reason", path, i + 1, line);
      line[name_len] = '\0';
      file = g_build_filename (tests, line, NULL);
      if (!g_file_test (file, G_FILE_TEST_IS_REGULAR))
        g_error ("%s:%u: imaptest has no test \"%s\"", path, i + 1, line);
      g_hash_table_insert (excluded, g_strdup (line),
                           g_strdup (g_strchug (line + name_len + 1)));
    }
  return excluded;
}

/* Copies imaptest's tests (and their .mbox files, default.mbox among them)
 * into @dest, less the excluded ones; returns how many tests it copied. */
static guint
copy_tests (const char *tests, const char *dest, GHashTable *excluded)
{
  g_autoptr (GDir) dir = g_dir_open (tests, 0, NULL);
  g_autoptr (GError) error = NULL;
  const char *name;
  guint count = 0;

  g_assert_nonnull (dir);
  g_assert_cmpint (g_mkdir_with_parents (dest, 0700), ==, 0);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *from = g_build_filename (tests, name, NULL);
      g_autofree char *to = g_build_filename (dest, name, NULL);
      g_autofree char *test = NULL;
      g_autofree char *contents = NULL;
      gsize length;

      if (!g_file_test (from, G_FILE_TEST_IS_REGULAR))
        continue; /* broken/: tests imaptest itself does not run */
      test = g_str_has_suffix (name, ".mbox")
                 ? g_strndup (name, strlen (name) - strlen (".mbox"))
                 : g_strdup (name);
      if (g_hash_table_contains (excluded, test))
        continue;
      g_file_get_contents (from, &contents, &length, &error);
      g_assert_no_error (error);
      g_file_set_contents (to, contents, length, &error);
      g_assert_no_error (error);
      if (!g_str_has_suffix (name, ".mbox"))
        count++;
    }
  return count;
}

/* "*** Test <name> ..." lines of stderr: the groups that failed. */
static char *
failed_groups (const char *errors)
{
  g_autoptr (GString) names = g_string_new (NULL);
  g_auto (GStrv) lines = g_strsplit (errors, "\n", -1);
  g_autofree char *last = NULL;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *name = lines[i] + strlen ("*** Test ");

      if (!g_str_has_prefix (lines[i], "*** Test "))
        continue;
      if (last != NULL && strncmp (name, last, strlen (last)) == 0 &&
          name[strlen (last)] == ' ')
        continue; /* another failure of the same group */
      g_free (last);
      last = g_strndup (name, strcspn (name, " "));
      g_string_append_printf (names, "%s%s", names->len ? " " : "", last);
    }
  return g_string_free (g_steal_pointer (&names), FALSE);
}

static guint
fetch_uint (GMatchInfo *match, int group)
{
  g_autofree char *text = g_match_info_fetch (match, group);

  return (guint) atoi (text);
}

static void
test_scripted (void)
{
  g_autoptr (Target) t = NULL;
  g_autofree char *binary = NULL;
  g_autofree char *tests = NULL;
  g_autofree char *dest = NULL;
  g_autofree char *test_arg = NULL;
  g_autofree char *output = NULL;
  g_autofree char *errors = NULL;
  g_autofree char *failed = NULL;
  g_autoptr (GHashTable) excluded = NULL;
  g_autoptr (GRegex) groups_re = NULL;
  g_autoptr (GRegex) commands_re = NULL;
  g_autoptr (GMatchInfo) match = NULL;
  guint copied, groups, group_failures, skipped;
  guint failures[2] = { 0, 0 }, commands[2] = { 0, 0 };
  int status;

  if (!build_imaptest (&binary, &tests))
    return;
  if ((t = target_new (&scripted_account)) == NULL)
    return;
  excluded = read_excluded (tests);
  dest = g_build_filename (t->scratch, "imaptest-tests", NULL);
  copied = copy_tests (tests, dest, excluded);
  g_test_message ("%u scripted tests, %u excluded (excluded.txt)", copied,
                  g_hash_table_size (excluded));
  {
    GHashTableIter iter;
    gpointer name, reason;

    g_hash_table_iter_init (&iter, excluded);
    while (g_hash_table_iter_next (&iter, &name, &reason))
      g_test_message ("  excluded %s: %s", (char *) name, (char *) reason);
  }
  test_arg = g_strconcat ("test=", dest, NULL);
  {
    /* the tests work in the folder "imaptest" (imaptest's default with
     * test=), which they delete and create themselves */
    const char *args[] = { test_arg, NULL };
    status = run_imaptest (t, binary, args, 300, &output, &errors);
  }

  /* "71 test groups: 0 failed, 0 skipped due to missing capabilities"
   * "base protocol: 0/457 individual commands failed"
   * "extensions: 0/330 individual commands failed" */
  groups_re = g_regex_new ("^(\\d+) test groups: (\\d+) failed, (\\d+) skipped",
                           G_REGEX_MULTILINE, 0, NULL);
  commands_re = g_regex_new (
      "^(base protocol|extensions): (\\d+)/(\\d+) individual commands failed",
      G_REGEX_MULTILINE, 0, NULL);
  if (!g_regex_match (groups_re, output, 0, &match))
    {
      g_clear_pointer (&t, target_free);
      g_test_fail_printf ("imaptest printed no summary (exit %d)", status);
      return;
    }
  groups = fetch_uint (match, 1);
  group_failures = fetch_uint (match, 2);
  skipped = fetch_uint (match, 3);
  g_clear_pointer (&match, g_match_info_free);
  for (g_regex_match (commands_re, output, 0, &match);
       g_match_info_matches (match); g_match_info_next (match, NULL))
    {
      g_autofree char *kind = g_match_info_fetch (match, 1);
      guint k = strcmp (kind, "extensions") == 0;

      failures[k] = fetch_uint (match, 2);
      commands[k] = fetch_uint (match, 3);
    }
  failed = failed_groups (errors);
  /* stop the server and remove the scratch files before the verdict: a
   * failed assertion aborts */
  g_clear_pointer (&t, target_free);
  g_test_message ("%u groups: %u failed (%s), %u skipped for capabilities; "
                  "base protocol %u/%u and extensions %u/%u commands failed",
                  groups, group_failures, failed, skipped, failures[0],
                  commands[0], failures[1], commands[1]);
  g_assert_cmpuint (groups, ==, copied);
  /* a group that fails to start (login refused, disconnection) counts as
   * one failed command of no commands run: "31/0" */
  g_assert_cmpuint (group_failures, ==, 0);
  g_assert_cmpuint (failures[0], ==, 0);
  g_assert_cmpuint (failures[1], ==, 0);
  g_assert_cmpuint (commands[0], >, 0);
  g_assert_cmpint (status, ==, 0);
}

/* ---- stress --------------------------------------------------------- */

static guint
env_uint (const char *name, guint fallback)
{
  const char *value = g_getenv (name);

  return value != NULL ? (guint) atoi (value) : fallback;
}

/* The totals imaptest prints last: the line of column names after
 * "Totals:", then two lines of probabilities, then the counts. */
static GHashTable *
parse_totals (const char *output)
{
  const char *totals = strstr (output, "\nTotals:\n");
  g_auto (GStrv) lines = NULL;
  g_auto (GStrv) names = NULL;
  g_auto (GStrv) counts = NULL;
  GHashTable *table =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  if (totals == NULL)
    return table;
  lines = g_strsplit (totals + strlen ("\nTotals:\n"), "\n", -1);
  if (g_strv_length (lines) < 4)
    return table;
  names = g_strsplit_set (g_strstrip (lines[0]), " ", -1);
  counts = g_strsplit_set (g_strstrip (lines[3]), " ", -1);
  for (guint i = 0, j = 0; names[i] != NULL; i++)
    {
      if (names[i][0] == '\0')
        continue;
      while (counts[j] != NULL && counts[j][0] == '\0')
        j++;
      if (counts[j] == NULL)
        break;
      g_hash_table_insert (table, g_strdup (names[i]),
                           GUINT_TO_POINTER (atoi (counts[j++])));
    }
  return table;
}

static void
test_stress (void)
{
  g_autoptr (Target) t = NULL;
  g_autofree char *binary = NULL;
  g_autofree char *tests = NULL;
  g_autofree char *mbox = NULL;
  g_autofree char *seed = NULL;
  g_autofree char *secs = NULL;
  g_autofree char *clients = NULL;
  g_autofree char *output = NULL;
  g_autofree char *errors = NULL;
  g_autoptr (GString) logged = g_string_new (NULL);
  g_autoptr (GHashTable) totals = NULL;
  g_auto (GStrv) lines = NULL;
  guint n_secs = env_uint ("MW_IMAPTEST_SECS", 30);
  guint n_errors = 0;
  int status;

  if (!build_imaptest (&binary, &tests))
    return;
  if ((t = target_new (&stress_account)) == NULL)
    return;
  mbox = g_strconcat ("mbox=", tests, "/default.mbox", NULL);
  seed =
      g_strdup_printf ("seed=%u", env_uint ("MW_IMAPTEST_SEED",
                                            g_random_int_range (1, 1000000)));
  secs = g_strdup_printf ("secs=%u", n_secs);
  clients = g_strdup_printf ("clients=%u", env_uint ("MW_IMAPTEST_CLIENTS", 5));
  {
    /* box= is left at INBOX: imaptest does not create its box in this
     * mode, and the harness user's INBOX is a scratch one anyway. After
     * secs it waits up to 30 s more for the clients to log out. */
    const char *args[] = { mbox, secs, clients, seed, NULL };
    status = run_imaptest (t, binary, args, n_secs + 60, &output, &errors);
  }

  /* libdovecot's log lines, on stderr: "Error: user[n]: ...", "Panic: ",
   * "Fatal: " (stdout too, to be sure) */
  {
    g_autofree char *both = g_strconcat (errors, "\n", output, NULL);
    lines = g_strsplit (both, "\n", -1);
  }
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "Error: ") ||
        g_str_has_prefix (lines[i], "Panic: ") ||
        g_str_has_prefix (lines[i], "Fatal: "))
      {
        if (n_errors++ < 20)
          g_string_append_printf (logged, "%s\n", lines[i]);
      }
  totals = parse_totals (output);
  g_clear_pointer (&t, target_free); /* before the verdict, as above */
  g_test_message ("%u logins, %u selects, %u appends, %u fetches; "
                  "%u errors logged%s%s",
                  GPOINTER_TO_UINT (g_hash_table_lookup (totals, "Logi")),
                  GPOINTER_TO_UINT (g_hash_table_lookup (totals, "Sele")),
                  GPOINTER_TO_UINT (g_hash_table_lookup (totals, "Appe")),
                  GPOINTER_TO_UINT (g_hash_table_lookup (totals, "Fetc")),
                  n_errors, n_errors ? ", the first:\n" : "", logged->str);
  g_assert_cmpuint (n_errors, ==, 0);
  g_assert_cmpint (status, ==, 0);
  /* it did work: clients logged in, selected and appended */
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (totals, "Logi")), >,
                    0);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (totals, "Sele")), >,
                    0);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (totals, "Appe")), >,
                    0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/conformance/imaptest/scripted", test_scripted);
  g_test_add_func ("/conformance/imaptest/stress", test_stress);
  return g_test_run ();
}
