/* SPDX-License-Identifier: MIT
 * test-mw-admin.c: the mw-admin program run for real: users added, listed,
 * changed and deleted in the users file the servers read; certificates
 * that load; exit codes 0 (ok), 1 (failure) and 2 (usage).
 */
#include <glib/gstdio.h>
#include <string.h>

#include "mail-auth.h"
#include "mail-tls.h"

typedef struct
{
  char *dir;
  char *config; /* DIR/mailwire.conf, state in DIR/state */
  char *users;  /* DIR/state/users */
} AdminFixture;

typedef struct
{
  int status;
  char *out;
  char *err;
} AdminRun;

static void
admin_run_clear (AdminRun *run)
{
  g_free (run->out);
  g_free (run->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (AdminRun, admin_run_clear)

static void
fixture_set_up (AdminFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("test-mw-admin-XXXXXX", NULL);
  fixture->config = g_build_filename (fixture->dir, "mailwire.conf", NULL);
  fixture->users = g_build_filename (fixture->dir, "state", "users", NULL);
  g_file_set_contents (fixture->config,
                       "[general]\nstate_dir = state\n"
                       "domains = example.test\n",
                       -1, &error);
  g_assert_no_error (error);
}

/* Removes what the tests may have created, no more. */
static void
fixture_tear_down (AdminFixture *fixture, gconstpointer data)
{
  const char *const files[] = { "state/users", "cert.pem", "key.pem", "pw",
                                "mailwire.conf" };
  g_autofree char *state = g_build_filename (fixture->dir, "state", NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_build_filename (fixture->dir, files[i], NULL);
      g_unlink (path);
    }
  g_rmdir (state);
  g_rmdir (fixture->dir);
  g_free (fixture->users);
  g_free (fixture->config);
  g_free (fixture->dir);
}

static char *
admin_program (void)
{
  const char *root = g_getenv ("MW_BUILD_ROOT");

  g_assert_nonnull (root); /* set by tests/meson.build */
  return g_build_filename (root, "src", "tools", "mw-admin", NULL);
}

/* Runs mw-admin with @args (NULL-terminated) and @input on stdin, from
 * the fixture's directory. */
static void
admin_run (AdminFixture *fixture,
           const char *input,
           AdminRun *run,
           const char *first,
           ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
      G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GError) error = NULL;
  va_list args;

  g_ptr_array_add (argv, admin_program ());
  va_start (args, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (args);
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_set_cwd (launcher, fixture->dir);
  process = g_subprocess_launcher_spawnv (
      launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, input, NULL, &run->out, &run->err,
                                 &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  run->status = g_subprocess_get_exit_status (process);
  g_test_message ("exit %d, stdout: %s, stderr: %s", run->status, run->out,
                  run->err);
}

static MailUsers *
load_users (AdminFixture *fixture)
{
  g_autoptr (GError) error = NULL;
  MailUsers *users = mail_users_load (fixture->users, &error);

  g_assert_no_error (error);
  return users;
}

static void
test_user_life_cycle (AdminFixture *fixture, gconstpointer data)
{
  g_auto (AdminRun) add = { 0 };
  g_auto (AdminRun) add_bob = { 0 };
  g_auto (AdminRun) list = { 0 };
  g_auto (AdminRun) passwd = { 0 };
  g_auto (AdminRun) del = { 0 };
  g_autoptr (MailUsers) users = NULL;
  g_autoptr (MailUsers) after = NULL;
  g_autofree char *pw = g_build_filename (fixture->dir, "pw", NULL);
  GStatBuf st;

  admin_run (fixture, "alice-secret\n", &add, "--config", fixture->config,
             "user", "add", "alice", NULL);
  g_assert_cmpint (add.status, ==, 0);
  g_assert_nonnull (strstr (add.out, "alice"));
  g_file_set_contents (pw, "bob-secret\r\nignored\n", -1, NULL);
  admin_run (fixture, NULL, &add_bob, "user", "add", "bob", "--maildir",
             "/srv/bob", "--password-file", "pw", "--config", fixture->config,
             NULL);
  g_assert_cmpint (add_bob.status, ==, 0);

  users = load_users (fixture);
  g_assert_true (mail_users_verify (users, "alice", "alice-secret"));
  g_assert_true (mail_users_verify (users, "bob", "bob-secret"));
  g_assert_cmpint (g_stat (fixture->users, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  admin_run (fixture, NULL, &list, "--config", fixture->config, "user", "list",
             NULL);
  g_assert_cmpint (list.status, ==, 0);
  g_assert_nonnull (strstr (list.out, "/state/mail/alice/Maildir\n"));
  g_assert_nonnull (strstr (list.out, "bob\t/srv/bob\n"));

  admin_run (fixture, "new-secret", &passwd, "--config", fixture->config,
             "user", "passwd", "alice", NULL);
  g_assert_cmpint (passwd.status, ==, 0);
  admin_run (fixture, NULL, &del, "--config", fixture->config, "user", "del",
             "bob", NULL);
  g_assert_cmpint (del.status, ==, 0);

  after = load_users (fixture);
  g_assert_true (mail_users_verify (after, "alice", "new-secret"));
  g_assert_false (mail_users_verify (after, "alice", "alice-secret"));
  g_assert_null (mail_users_lookup (after, "bob"));
}

/* Failures exit 1 and say what failed. */
static void
test_user_failures (AdminFixture *fixture, gconstpointer data)
{
  g_auto (AdminRun) first = { 0 };
  g_auto (AdminRun) again = { 0 };
  g_auto (AdminRun) missing = { 0 };
  g_auto (AdminRun) empty = { 0 };
  g_auto (AdminRun) bad_config = { 0 };

  admin_run (fixture, "pw", &first, "--config", fixture->config, "user", "add",
             "alice", NULL);
  g_assert_cmpint (first.status, ==, 0);
  admin_run (fixture, "pw", &again, "--config", fixture->config, "user", "add",
             "alice", NULL);
  g_assert_cmpint (again.status, ==, 1);
  g_assert_nonnull (strstr (again.err, "already exists"));
  admin_run (fixture, "pw", &missing, "--config", fixture->config, "user",
             "passwd", "carol", NULL);
  g_assert_cmpint (missing.status, ==, 1);
  g_assert_nonnull (strstr (missing.err, "carol"));
  admin_run (fixture, "\n", &empty, "--config", fixture->config, "user", "add",
             "dave", NULL);
  g_assert_cmpint (empty.status, ==, 1);
  g_assert_nonnull (strstr (empty.err, "empty password"));
  admin_run (fixture, NULL, &bad_config, "--config", "missing.conf", "user",
             "list", NULL);
  g_assert_cmpint (bad_config.status, ==, 1);
  g_assert_nonnull (strstr (bad_config.err, "missing.conf"));
}

typedef struct
{
  const char *name;
  const char *args[8];
} UsageCase;

static const UsageCase usage_cases[] = {
  /* INVALID: exit 2 */
  { "no-command", { NULL } },
  { "unknown-command", { "frobnicate", NULL } },
  { "unknown-option", { "--frob", "user", "list", NULL } },
  { "user-without-action", { "user", NULL } },
  { "user-unknown-action", { "user", "rename", "alice", NULL } },
  { "user-add-without-name", { "user", "add", NULL } },
  { "user-add-two-names", { "user", "add", "a", "b", NULL } },
  { "user-list-with-name", { "user", "list", "alice", NULL } },
  { "cert-without-key", { "cert", "--out", "c.pem", "localhost", NULL } },
  { "cert-without-names",
    { "cert", "--out", "c.pem", "--key", "k.pem", NULL } },
  { "cert-days-without-value",
    { "cert", "--out", "c", "--key", "k", "--days", NULL } },
  { "cert-zero-days",
    { "cert", "--out", "c", "--key", "k", "--days", "0", "localhost" } },
};

static void
test_usage (gconstpointer data)
{
  const UsageCase *row = data;
  AdminFixture fixture;
  g_auto (AdminRun) run = { 0 };

  fixture_set_up (&fixture, NULL);
  admin_run (&fixture, NULL, &run, row->args[0], row->args[1], row->args[2],
             row->args[3], row->args[4], row->args[5], row->args[6],
             row->args[7], NULL);
  g_assert_cmpint (run.status, ==, 2);
  g_assert_true (g_str_has_prefix (run.err, "mw-admin: "));
  fixture_tear_down (&fixture, NULL);
}

static void
test_cert (AdminFixture *fixture, gconstpointer data)
{
  g_auto (AdminRun) run = { 0 };
  g_autofree char *cert = g_build_filename (fixture->dir, "cert.pem", NULL);
  g_autofree char *key = g_build_filename (fixture->dir, "key.pem", NULL);
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) ips = NULL;
  GStatBuf st;

  admin_run (fixture, NULL, &run, "cert", "--out", "cert.pem", "--key",
             "key.pem", "--days", "7", "mail.example.test", "127.0.0.1", NULL);
  g_assert_cmpint (run.status, ==, 0);
  certificate = mail_tls_load_certificate (cert, key, &error);
  g_assert_no_error (error);
  g_object_get (certificate, "ip-addresses", &ips, NULL);
  g_assert_cmpuint (ips->len, ==, 1);
  g_assert_cmpint (g_stat (key, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
}

static void
add_fixture_test (const char *path,
                  void (*func) (AdminFixture *, gconstpointer))
{
  g_test_add (path, AdminFixture, NULL, fixture_set_up, func,
              fixture_tear_down);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  add_fixture_test ("/mw-admin/user/add-list-passwd-del", test_user_life_cycle);
  add_fixture_test ("/mw-admin/user/failures-exit-1", test_user_failures);
  add_fixture_test ("/mw-admin/cert/writes-loadable-cert", test_cert);
  for (gsize i = 0; i < G_N_ELEMENTS (usage_cases); i++)
    {
      g_autofree char *path =
          g_strdup_printf ("/mw-admin/usage-exits-2/%s", usage_cases[i].name);
      g_test_add_data_func (path, &usage_cases[i], test_usage);
    }
  return g_test_run ();
}
