/* SPDX-License-Identifier: MIT
 * mw-dovecot.c: a private Dovecot IMAP server for the tests (see the
 * header). The config follows bench/peers.sh, with ports handed over as
 * inherited sockets instead of fixed numbers.
 */
#include "mw-dovecot.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define MW_DOVECOT_PROGRAM "/usr/sbin/dovecot"
/* the first fd systemd hands over (sd_listen_fds (3)) */
#define MW_DOVECOT_LISTEN_FDS_START 3
#define MW_DOVECOT_START_TIMEOUT 10
#define MW_DOVECOT_STOP_TIMEOUT 10

/* Dovecot 2.3's own list (imap-common.h CAPABILITY_STRING, and LITERAL+
 * from its banner), which imap_capability replaces when a flag takes
 * something out. */
static const char *const dovecot_capabilities[] = {
  "IMAP4rev1",
  "SASL-IR",
  "LOGIN-REFERRALS",
  "ID",
  "ENABLE",
  "IDLE",
  "SORT",
  "SORT=DISPLAY",
  "THREAD=REFERENCES",
  "THREAD=REFS",
  "THREAD=ORDEREDSUBJECT",
  "MULTIAPPEND",
  "URL-PARTIAL",
  "CATENATE",
  "UNSELECT",
  "CHILDREN",
  "NAMESPACE",
  "UIDPLUS",
  "LIST-EXTENDED",
  "I18NLEVEL=1",
  "CONDSTORE",
  "QRESYNC",
  "ESEARCH",
  "ESORT",
  "SEARCHRES",
  "WITHIN",
  "CONTEXT=SEARCH",
  "LIST-STATUS",
  "BINARY",
  "MOVE",
  "SNIPPET=FUZZY",
  "PREVIEW=FUZZY",
  "PREVIEW",
  "STATUS=SIZE",
  "SAVEDATE",
  "LITERAL+",
  "NOTIFY",
  "SPECIAL-USE",
  NULL,
};

/* the same users and passwords as mw-harness.c writes for mailwire */
static const char *const dovecot_users[][2] = {
  { "alice", "alice-secret" },
  { "bob", "bob-secret" },
};

struct _MwDovecot
{
  MwHarness *harness; /* (transfer none): it outlives us */
  MwDovecotFlags flags;
  char *dir;  /* <harness dir>/dovecot */
  char *mail; /* <dir>/mail: <user>/Maildir */
  char *log;
  GSubprocess *master;
  guint16 imap_port;
  guint16 imaps_port;
  uid_t mail_uid;
  gid_t mail_gid;
  guint delivered;
};

gboolean
mw_dovecot_available (const char **out_reason)
{
  if (geteuid () != 0)
    {
      *out_reason = "Dovecot drops privileges to its own users and needs "
                    "root to start (run the tests as root, as ./run does)";
      return FALSE;
    }
  if (!g_file_test (MW_DOVECOT_PROGRAM, G_FILE_TEST_IS_EXECUTABLE))
    {
      *out_reason = MW_DOVECOT_PROGRAM " is missing (./run test installs "
                                       "dovecot-imapd)";
      return FALSE;
    }
  return TRUE;
}

static char *
capability_setting (MwDovecotFlags flags)
{
  g_autoptr (GString) list = g_string_new (NULL);

  /* with imap_literal_minus alone Dovecot's own list says LITERAL- */
  if ((flags & ~MW_DOVECOT_LITERAL_MINUS) == 0)
    return g_strdup ("");
  for (guint i = 0; dovecot_capabilities[i] != NULL; i++)
    {
      const char *name = dovecot_capabilities[i];

      if ((flags & MW_DOVECOT_LITERAL_MINUS) && strcmp (name, "LITERAL+") == 0)
        name = "LITERAL-";

      if (((flags & MW_DOVECOT_NO_LITERAL_PLUS) &&
           strcmp (name, "LITERAL+") == 0) ||
          ((flags & MW_DOVECOT_NO_SASL_IR) && strcmp (name, "SASL-IR") == 0) ||
          ((flags & MW_DOVECOT_NO_CONDSTORE) &&
           (strcmp (name, "CONDSTORE") == 0 || strcmp (name, "QRESYNC") == 0)))
        continue;
      g_string_append_printf (list, "%s%s", list->len ? " " : "", name);
    }
  return g_string_free (g_steal_pointer (&list), FALSE);
}

static void
write_file (const char *path, const char *text, int mode)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (chmod (path, mode), ==, 0);
}

static void
write_config (MwDovecot *dovecot, MwHarness *harness, MwDovecotFlags flags)
{
  g_autofree char *capabilities = capability_setting (flags);
  g_autofree char *users = g_build_filename (dovecot->dir, "users", NULL);
  g_autofree char *conf = g_build_filename (dovecot->dir, "dovecot.conf", NULL);
  g_autofree char *text = NULL;
  g_autoptr (GString) passwd = g_string_new (NULL);
  g_autofree char *key =
      g_build_filename (mw_harness_dir (harness), "key.pem", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (dovecot_users); i++)
    g_string_append_printf (passwd, "%s:{PLAIN}%s::::::\n", dovecot_users[i][0],
                            dovecot_users[i][1]);
  /* read by the auth process, which runs as the user dovecot */
  write_file (users, passwd->str, 0644);
  text = g_strdup_printf (
      "# written by tests/harness/mw-dovecot.c: private, loopback only\n"
      "base_dir = %s/run\n"
      "state_dir = %s/state\n"
      "instance_name = mw-test-dovecot-%d\n"
      "protocols = imap\n"
      "listen = 127.0.0.1\n"
      "log_path = %s\n"
      "ssl = yes\n"
      "ssl_cert = <%s\n"
      "ssl_key = <%s\n"
      "disable_plaintext_auth = no\n"
      "auth_mechanisms = plain login\n"
      "first_valid_uid = 1\n"
      "mail_location = maildir:~/Maildir\n"
      "mailbox_idle_check_interval = 1 secs\n"
      "imap_capability = %s\n"
      "imap_literal_minus = %s\n"
      "passdb {\n"
      "  driver = passwd-file\n"
      "  args = scheme=PLAIN username_format=%%n %s\n"
      "}\n"
      "userdb {\n"
      "  driver = static\n"
      "  args = uid=%u gid=%u home=%s/%%n\n"
      "}\n"
      "namespace inbox {\n"
      "  inbox = yes\n"
      "  separator = /\n"
      "  mailbox Drafts {\n    special_use = \\Drafts\n    auto = create\n  }\n"
      "  mailbox Sent {\n    special_use = \\Sent\n    auto = create\n  }\n"
      "  mailbox Trash {\n    special_use = \\Trash\n    auto = create\n  }\n"
      "}\n"
      "service imap-login {\n"
      "  inet_listener imap {\n    address = 127.0.0.1\n    port = %u\n  }\n"
      "  inet_listener imaps {\n    address = 127.0.0.1\n    port = %u\n"
      "    ssl = yes\n  }\n"
      "}\n",
      dovecot->dir, dovecot->dir, (int) getpid (), dovecot->log,
      mw_harness_cert (harness), key, capabilities,
      (flags & MW_DOVECOT_LITERAL_MINUS) ? "yes" : "no", users,
      (guint) dovecot->mail_uid, (guint) dovecot->mail_gid, dovecot->mail,
      dovecot->imap_port, dovecot->imaps_port);
  write_file (conf, text, 0644);
}

/* <mail>/<user>/Maildir/{cur,new,tmp}, owned by the mail user */
static void
make_maildirs (MwDovecot *dovecot)
{
  static const char *const parts[] = {
    "", "Maildir", "Maildir/cur", "Maildir/new", "Maildir/tmp", NULL
  };

  g_assert_cmpint (g_mkdir_with_parents (dovecot->mail, 0755), ==, 0);
  for (guint u = 0; u < G_N_ELEMENTS (dovecot_users); u++)
    for (guint i = 0; parts[i] != NULL; i++)
      {
        g_autofree char *path = g_build_filename (
            dovecot->mail, dovecot_users[u][0], parts[i], NULL);

        g_assert_cmpint (g_mkdir_with_parents (path, 0700), ==, 0);
        g_assert_cmpint (chown (path, dovecot->mail_uid, dovecot->mail_gid), ==,
                         0);
      }
}

/* A socket listening on 127.0.0.1 at a port the kernel picked. */
static GSocket *
listen_loopback (guint16 *out_port)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket =
      g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                    G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr (GInetAddress) loopback =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, any, TRUE, &error));
  g_assert_true (g_socket_listen (socket, &error));
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  *out_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  return g_steal_pointer (&socket);
}

static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* Reads the greeting on "imap": Dovecot adopted the sockets and works. */
static void
wait_for_greeting (MwDovecot *dovecot)
{
  g_autoptr (GSocketClient) connector = g_socket_client_new ();
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GDataInputStream) in = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  g_autofree char *log = NULL;

  g_socket_client_set_timeout (connector, MW_DOVECOT_START_TIMEOUT);
  connection = g_socket_client_connect_to_host (
      connector, "127.0.0.1", dovecot->imap_port, NULL, &error);
  if (connection != NULL)
    {
      in = g_data_input_stream_new (
          g_io_stream_get_input_stream (G_IO_STREAM (connection)));
      line = g_data_input_stream_read_line (in, NULL, NULL, &error);
    }
  if (line != NULL && g_str_has_prefix (line, "* OK "))
    return;
  log = mw_dovecot_log (dovecot);
  g_error ("Dovecot did not greet on 127.0.0.1:%u (%s); its log:\n%s",
           dovecot->imap_port, error ? error->message : line, log);
}

static void
spawn_master (MwDovecot *dovecot, GSocket *imap, GSocket *imaps)
{
  g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autofree char *conf = g_build_filename (dovecot->dir, "dovecot.conf", NULL);
  g_autoptr (GError) error = NULL;
  /* sd_listen_fds () believes LISTEN_FDS only in the process named by
   * LISTEN_PID: the shell's own pid, which exec gives to Dovecot */
  const char *const argv[] = {
    "/bin/sh",
    "-c",
    "LISTEN_PID=$$ LISTEN_FDS=2 exec " MW_DOVECOT_PROGRAM " -F -c \"$0\"",
    conf,
    NULL,
  };

  g_subprocess_launcher_take_fd (launcher, dup (g_socket_get_fd (imap)),
                                 MW_DOVECOT_LISTEN_FDS_START);
  g_subprocess_launcher_take_fd (launcher, dup (g_socket_get_fd (imaps)),
                                 MW_DOVECOT_LISTEN_FDS_START + 1);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  dovecot->master = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
}

/* Fresh listening sockets, the config naming their ports, the master;
 * returns once it greets. */
static void
launch (MwDovecot *dovecot)
{
  g_autoptr (GSocket) imap = listen_loopback (&dovecot->imap_port);
  g_autoptr (GSocket) imaps = listen_loopback (&dovecot->imaps_port);

  write_config (dovecot, dovecot->harness, dovecot->flags);
  spawn_master (dovecot, imap, imaps);
  /* from here on only Dovecot holds the listening sockets */
  g_socket_close (imap, NULL);
  g_socket_close (imaps, NULL);
  wait_for_greeting (dovecot);
}

MwDovecot *
mw_dovecot_start (MwHarness *harness, MwDovecotFlags flags)
{
  MwDovecot *dovecot = g_new0 (MwDovecot, 1);
  const struct passwd *nobody = getpwnam ("nobody");
  const char *reason = NULL;
  g_autofree char *run = NULL;
  g_autofree char *state = NULL;

  if (!mw_dovecot_available (&reason))
    g_error ("%s", reason);
  g_assert_nonnull (nobody);
  dovecot->mail_uid = nobody->pw_uid;
  dovecot->mail_gid = nobody->pw_gid;
  dovecot->dir = g_build_filename (mw_harness_dir (harness), "dovecot", NULL);
  dovecot->mail = g_build_filename (dovecot->dir, "mail", NULL);
  dovecot->log = g_build_filename (dovecot->dir, "dovecot.log", NULL);
  run = g_build_filename (dovecot->dir, "run", NULL);
  state = g_build_filename (dovecot->dir, "state", NULL);
  /* Dovecot's unprivileged processes must reach the users file and the
   * Maildirs: the harness dir is 0700, traversing it is enough */
  g_assert_cmpint (chmod (mw_harness_dir (harness), 0711), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (run, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (state, 0755), ==, 0);
  g_assert_cmpint (chmod (dovecot->dir, 0755), ==, 0);
  make_maildirs (dovecot);
  dovecot->harness = harness;
  dovecot->flags = flags;
  launch (dovecot);
  return dovecot;
}

void
mw_dovecot_restart (MwDovecot *dovecot)
{
  g_assert_null (dovecot->master);
  launch (dovecot);
}

static void
on_master_exited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  gboolean *exited = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *exited = TRUE;
}

static gboolean
on_stop_timeout (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* SIGTERM (Dovecot's clean shutdown), then SIGKILL after 10 s. */
static void
stop_master (GSubprocess *master)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GSource) timeout = NULL;
  gboolean exited = FALSE;
  gboolean timed_out = FALSE;

  if (g_subprocess_get_identifier (master) == NULL)
    return;
  g_main_context_push_thread_default (context);
  g_subprocess_send_signal (master, SIGTERM);
  g_subprocess_wait_async (master, NULL, on_master_exited, &exited);
  timeout = g_timeout_source_new_seconds (MW_DOVECOT_STOP_TIMEOUT);
  g_source_set_callback (timeout, on_stop_timeout, &timed_out, NULL);
  g_source_attach (timeout, context);
  while (!exited && !timed_out)
    g_main_context_iteration (context, TRUE);
  if (!exited)
    {
      g_subprocess_force_exit (master);
      while (!exited)
        g_main_context_iteration (context, TRUE);
    }
  g_source_destroy (timeout);
  g_main_context_pop_thread_default (context);
}

void
mw_dovecot_stop (MwDovecot *dovecot)
{
  if (dovecot->master != NULL)
    stop_master (dovecot->master);
  g_clear_object (&dovecot->master);
}

void
mw_dovecot_free (MwDovecot *dovecot)
{
  if (dovecot == NULL)
    return;
  mw_dovecot_stop (dovecot);
  g_free (dovecot->dir);
  g_free (dovecot->mail);
  g_free (dovecot->log);
  g_free (dovecot);
}

guint16
mw_dovecot_port (MwDovecot *dovecot, const char *label)
{
  if (strcmp (label, "imap") == 0)
    return dovecot->imap_port;
  if (strcmp (label, "imaps") == 0)
    return dovecot->imaps_port;
  g_error ("Dovecot has no listener \"%s\"", label);
}

GPid
mw_dovecot_pid (MwDovecot *dovecot)
{
  const char *id = dovecot->master != NULL
                       ? g_subprocess_get_identifier (dovecot->master)
                       : NULL;

  return id ? atoi (id) : 0;
}

char *
mw_dovecot_maildir (MwDovecot *dovecot, const char *user)
{
  return g_build_filename (dovecot->mail, user, "Maildir", NULL);
}

void
mw_dovecot_deliver (MwDovecot *dovecot, const char *user, const char *text)
{
  g_autofree char *maildir = mw_dovecot_maildir (dovecot, user);
  g_autofree char *name =
      g_strdup_printf ("%" G_GINT64_FORMAT ".M%uP%d.mw-test",
                       g_get_real_time () / G_USEC_PER_SEC,
                       ++dovecot->delivered, (int) getpid ());
  g_autofree char *tmp = g_build_filename (maildir, "tmp", name, NULL);
  g_autofree char *new = g_build_filename (maildir, "new", name, NULL);

  write_file (tmp, text, 0600);
  g_assert_cmpint (chown (tmp, dovecot->mail_uid, dovecot->mail_gid), ==, 0);
  /* the rename is the delivery: the message appears whole (Maildir) */
  g_assert_cmpint (rename (tmp, new), ==, 0);
}

/* Dovecot's files at the top of a Maildir++ root (INBOX's own and the
 * mailbox list index's); the messages and dovecot-uidvalidity (the
 * source of the next UIDVALIDITY) stay */
static gboolean
is_index_file (const char *name)
{
  return g_str_has_prefix (name, "dovecot.index") ||
         g_str_has_prefix (name, "dovecot.list.index") ||
         strcmp (name, "dovecot-uidlist") == 0;
}

void
mw_dovecot_forget_uids (MwDovecot *dovecot, const char *user)
{
  g_autofree char *maildir = mw_dovecot_maildir (dovecot, user);
  g_autoptr (GDir) dir = g_dir_open (maildir, 0, NULL);
  const char *name = NULL;
  guint removed = 0;

  g_assert_null (dovecot->master);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (maildir, name, NULL);

      if (!is_index_file (name))
        continue;
      g_assert_cmpint (unlink (path), ==, 0);
      removed += strcmp (name, "dovecot-uidlist") == 0;
    }
  /* no uidlist removed: nothing was forgotten, the test would prove
   * nothing */
  g_assert_cmpuint (removed, ==, 1);
}

char *
mw_dovecot_log (MwDovecot *dovecot)
{
  char *text = NULL;

  if (!g_file_get_contents (dovecot->log, &text, NULL, NULL))
    return g_strdup ("(no log)");
  return text;
}
