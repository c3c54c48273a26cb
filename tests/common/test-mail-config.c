/* SPDX-License-Identifier: MIT
 * test-mail-config.c: mailwire.conf defaults, every key, relative paths,
 * [routes], and errors that name the file, line and key.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "mail-config.h"

typedef struct
{
  char *dir;
  char *path; /* DIR/mailwire.conf */
} ConfigFixture;

static void
fixture_set_up (ConfigFixture *fixture, gconstpointer data)
{
  fixture->dir = g_dir_make_tmp ("test-mail-config-XXXXXX", NULL);
  g_assert_nonnull (fixture->dir);
  fixture->path = g_build_filename (fixture->dir, "mailwire.conf", NULL);
}

static void
fixture_tear_down (ConfigFixture *fixture, gconstpointer data)
{
  g_unlink (fixture->path);
  g_rmdir (fixture->dir);
  g_free (fixture->path);
  g_free (fixture->dir);
}

static MailConfig *
load_text (ConfigFixture *fixture, const char *text, GError **error)
{
  g_autoptr (GError) write_error = NULL;

  g_file_set_contents (fixture->path, text, -1, &write_error);
  g_assert_no_error (write_error);
  return mail_config_load (fixture->path, error);
}

static void
assert_listen (const MailListen *listen, const char *address, int port)
{
  g_assert_cmpstr (listen->listen, ==, address);
  g_assert_cmpint (listen->port, ==, port);
}

/* The built-in defaults of mail-config.h: loopback, DESIGN.md ports. */
static void
assert_defaults (const MailConfig *config, const char *base_dir)
{
  g_autofree char *state = g_build_filename (base_dir, "mailwire-state", NULL);
  g_autofree char *users = g_build_filename (state, "users", NULL);
  g_autofree char *mail = g_build_filename (state, "mail", NULL);
  g_autofree char *queue = g_build_filename (state, "queue", NULL);

  g_assert_cmpstr (config->state_dir, ==, state);
  g_assert_cmpstr (config->users_file, ==, users);
  g_assert_cmpstr (config->mail_root, ==, mail);
  g_assert_cmpstr (config->queue_dir, ==, queue);
  g_assert_nonnull (config->hostname);
  g_assert_cmpuint (g_strv_length (config->domains), ==, 1);
  g_assert_cmpstr (config->domains[0], ==, "localhost");
  g_assert_null (config->tls_cert);
  g_assert_null (config->tls_key);
  g_assert_false (config->protocol_log);
  g_assert_cmpuint (config->timeout, ==, 300);
  assert_listen (&config->smtp, "127.0.0.1", MAIL_DEFAULT_SMTP_PORT);
  assert_listen (&config->submission, "127.0.0.1",
                 MAIL_DEFAULT_SUBMISSION_PORT);
  assert_listen (&config->smtps, "127.0.0.1", MAIL_DEFAULT_SMTPS_PORT);
  assert_listen (&config->pop3, "127.0.0.1", MAIL_DEFAULT_POP3_PORT);
  assert_listen (&config->pop3s, "127.0.0.1", MAIL_DEFAULT_POP3S_PORT);
  assert_listen (&config->imap, "127.0.0.1", MAIL_DEFAULT_IMAP_PORT);
  assert_listen (&config->imaps, "127.0.0.1", MAIL_DEFAULT_IMAPS_PORT);
  g_assert_cmpuint (config->smtp_max_size, ==, 50 * 1024 * 1024);
  g_assert_cmpuint (config->smtp_max_recipients, ==, 100);
  g_assert_true (config->sender_must_match_login);
  g_assert_cmpuint (config->retry_min, ==, 60);
  g_assert_cmpuint (config->retry_max, ==, 3600);
  g_assert_cmpuint (config->queue_lifetime, ==, 5 * 24 * 3600);
  g_assert_cmpuint (config->delay_notice, ==, 4 * 3600); /* RFC 3461 */
  g_assert_cmpuint (config->max_connections, ==, 10);
  g_assert_cmpuint (config->max_per_destination, ==, 2);
  g_assert_cmpuint (g_hash_table_size (config->routes), ==, 0);
  g_assert_cmpint (config->pop3_plaintext_auth, ==,
                   MAIL_PLAINTEXT_AUTH_LOOPBACK);
}

static void
test_defaults_without_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailConfig) config = mail_config_load (NULL, &error);
  g_autofree char *cwd = g_get_current_dir ();

  g_assert_no_error (error);
  g_assert_null (config->path);
  assert_defaults (config, cwd);
}

/* An empty file keeps every default, with the state next to the file. */
static void
test_defaults_empty_file (ConfigFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailConfig) config = load_text (fixture, "# nothing\n", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (config->path, ==, fixture->path);
  assert_defaults (config, fixture->dir);
}

static const char full_config[] = "[general]\n"
                                  "hostname = mx.example.test\n"
                                  "domains = example.test; Other.TEST\n"
                                  "state_dir = state\n"
                                  "users_file = /etc/mailwire/users\n"
                                  "tls_cert = certs/cert.pem\n"
                                  "tls_key = certs/key.pem\n"
                                  "protocol_log = yes\n"
                                  "timeout = 30\n"
                                  "[smtp]\n"
                                  "listen = ::1\n"
                                  "port = 0\n"
                                  "submission_port = -1\n"
                                  "smtps_port = 4650\n"
                                  "max_size = 10M\n"
                                  "max_recipients = 5\n"
                                  "sender_must_match_login = false\n"
                                  "[queue]\n"
                                  "retry_min = 1\n"
                                  "retry_max = 2\n"
                                  "lifetime = 60\n"
                                  "[relay]\n"
                                  "delay_notice = 90\n"
                                  "max_connections = 7\n"
                                  "max_per_destination = 3\n"
                                  "[routes]\n"
                                  "Example.NET = 127.0.0.1:2526\n"
                                  "v6.test = [::1]:25\n"
                                  "bare.test = mx.bare.test\n"
                                  "[pop3]\n"
                                  "port = 0\n"
                                  "pop3s_port = 0\n"
                                  "plaintext_auth = never\n"
                                  "[imap]\n"
                                  "listen = 0.0.0.0\n";

static void
test_every_key (ConfigFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailConfig) config = load_text (fixture, full_config, &error);
  g_autofree char *state = g_build_filename (fixture->dir, "state", NULL);
  g_autofree char *mail = g_build_filename (state, "mail", NULL);
  g_autofree char *cert =
      g_build_filename (fixture->dir, "certs", "cert.pem", NULL);

  g_assert_no_error (error);
  g_assert_cmpstr (config->hostname, ==, "mx.example.test");
  g_assert_cmpuint (g_strv_length (config->domains), ==, 2);
  g_assert_cmpstr (config->domains[1], ==, "other.test");
  g_assert_cmpstr (config->state_dir, ==, state);
  g_assert_cmpstr (config->mail_root, ==, mail); /* default under state */
  g_assert_cmpstr (config->users_file, ==, "/etc/mailwire/users");
  g_assert_cmpstr (config->tls_cert, ==, cert);
  g_assert_true (config->protocol_log);
  g_assert_cmpuint (config->timeout, ==, 30);
  /* one "listen" per server covers its TLS listeners too */
  assert_listen (&config->smtp, "::1", 0);
  assert_listen (&config->submission, "::1", -1);
  assert_listen (&config->smtps, "::1", 4650);
  g_assert_cmpuint (config->smtp_max_size, ==, 10 * 1024 * 1024);
  g_assert_cmpuint (config->smtp_max_recipients, ==, 5);
  g_assert_false (config->sender_must_match_login);
  g_assert_cmpuint (config->retry_min, ==, 1);
  g_assert_cmpuint (config->retry_max, ==, 2);
  g_assert_cmpuint (config->queue_lifetime, ==, 60);
  g_assert_cmpuint (config->delay_notice, ==, 90);
  g_assert_cmpuint (config->max_connections, ==, 7);
  g_assert_cmpuint (config->max_per_destination, ==, 3);
  assert_listen (&config->pop3, "127.0.0.1", 0);
  assert_listen (&config->pop3s, "127.0.0.1", 0);
  g_assert_cmpint (config->pop3_plaintext_auth, ==, MAIL_PLAINTEXT_AUTH_NEVER);
  assert_listen (&config->imap, "0.0.0.0", MAIL_DEFAULT_IMAP_PORT);
  assert_listen (&config->imaps, "0.0.0.0", MAIL_DEFAULT_IMAPS_PORT);
}

static void
test_routes (ConfigFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailConfig) config = load_text (fixture, full_config, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (config->routes), ==, 3);
  /* keys are lower case, as domains compare without case */
  g_assert_cmpstr (g_hash_table_lookup (config->routes, "example.net"), ==,
                   "127.0.0.1:2526");
  g_assert_cmpstr (g_hash_table_lookup (config->routes, "v6.test"), ==,
                   "[::1]:25");
  g_assert_cmpstr (g_hash_table_lookup (config->routes, "bare.test"), ==,
                   "mx.bare.test");
}

static void
test_local_domains (ConfigFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailConfig) config = load_text (fixture, full_config, &error);

  g_assert_no_error (error);
  g_assert_true (mail_config_is_local_domain (config, "example.test"));
  g_assert_true (mail_config_is_local_domain (config, "EXAMPLE.Test"));
  g_assert_true (mail_config_is_local_domain (config, "other.test"));
  g_assert_false (mail_config_is_local_domain (config, "example.net"));
  g_assert_false (mail_config_is_local_domain (config, "test"));
}

static void
test_user_maildir (ConfigFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailConfig) config =
      load_text (fixture, "[general]\nmail_root = /var/mail\n", &error);
  g_autofree char *by_default = NULL;
  g_autofree char *absolute = NULL;
  g_autofree char *relative = NULL;
  g_autofree char *expected = NULL;

  g_assert_no_error (error);
  by_default = mail_config_user_maildir (config, "alice", NULL);
  g_assert_cmpstr (by_default, ==, "/var/mail/alice/Maildir");
  g_free (by_default);
  by_default = mail_config_user_maildir (config, "alice", "");
  g_assert_cmpstr (by_default, ==, "/var/mail/alice/Maildir");
  absolute = mail_config_user_maildir (config, "alice", "/srv/alice");
  g_assert_cmpstr (absolute, ==, "/srv/alice");
  /* relative to the users file, which lives in the state directory */
  relative = mail_config_user_maildir (config, "alice", "boxes/alice");
  expected =
      g_build_filename (fixture->dir, "mailwire-state", "boxes", "alice", NULL);
  g_assert_cmpstr (relative, ==, expected);
}

/* ---- errors ----------------------------------------------------------- */

typedef struct
{
  const char *name;
  const char *text;
  int code;            /* MailConfigError */
  const char *where;   /* ":LINE: " expected after the file name */
  const char *mention; /* text the message must also hold */
} ErrorCase;

static const ErrorCase error_cases[] = {
  /* INVALID: values */
  { "port-not-a-number", "[general]\n\n[smtp]\nport = abc\n",
    MAIL_CONFIG_ERROR_VALUE,
    ":4: ", "[smtp] port: expected a port number 0-65535 or -1, got 'abc'" },
  { "port-too-big", "[pop3]\npop3s_port = 70000\n", MAIL_CONFIG_ERROR_VALUE,
    ":2: ", "[pop3] pop3s_port" },
  { "port-too-small", "[imap]\nport = -2\n", MAIL_CONFIG_ERROR_VALUE,
    ":2: ", "got '-2'" },
  { "bad-boolean", "[general]\nprotocol_log = maybe\n", MAIL_CONFIG_ERROR_VALUE,
    ":2: ", "expected true or false, got 'maybe'" },
  { "bad-plaintext-auth", "[pop3]\nplaintext_auth = sometimes\n",
    MAIL_CONFIG_ERROR_VALUE, ":2: ", "never, loopback or always" },
  { "listen-not-an-address", "[smtp]\nlisten = localhost\n",
    MAIL_CONFIG_ERROR_VALUE, ":2: ", "[smtp] listen" },
  { "bad-size", "[smtp]\nmax_size = 50X\n", MAIL_CONFIG_ERROR_VALUE,
    ":2: ", "[smtp] max_size" },
  { "zero-timeout", "[general]\ntimeout = 0\n", MAIL_CONFIG_ERROR_VALUE,
    ":2: ", "[general] timeout" },
  { "bad-domain", "[general]\ndomains = exa_mple.test\n",
    MAIL_CONFIG_ERROR_VALUE, ":2: ", "[general] domains" },
  { "empty-domains", "[general]\ndomains = ;\n", MAIL_CONFIG_ERROR_VALUE,
    ":2: ", "[general] domains" },
  { "last-definition-counts", "[smtp]\nport = 1\nport = x\n",
    MAIL_CONFIG_ERROR_VALUE, ":3: ", "got 'x'" },
  { "route-bad-port", "[routes]\nexample.net = mx.example.net:smtp\n",
    MAIL_CONFIG_ERROR_VALUE,
    ":2: ", "[routes] example.net: expected HOST:PORT" },
  { "route-port-zero", "[routes]\nexample.net = mx:0\n",
    MAIL_CONFIG_ERROR_VALUE, ":2: ", "[routes] example.net" },
  { "route-v6-unbracketed", "[routes]\nexample.net = ::1:25\n",
    MAIL_CONFIG_ERROR_VALUE, ":2: ", "[routes] example.net" },
  { "delay-notice-zero", "[relay]\ndelay_notice = 0\n", MAIL_CONFIG_ERROR_VALUE,
    ":2: ", "[relay] delay_notice" },
  { "max-connections-zero", "[relay]\nmax_connections = 0\n",
    MAIL_CONFIG_ERROR_VALUE, ":2: ", "[relay] max_connections" },
  { "max-per-destination-text", "[relay]\nmax_per_destination = many\n",
    MAIL_CONFIG_ERROR_VALUE, ":2: ", "[relay] max_per_destination" },
  { "retry-min-above-max", "[queue]\nretry_max = 10\nretry_min = 20\n",
    MAIL_CONFIG_ERROR_VALUE, ":3: ", "retry_min (20)" },
  { "cert-without-key", "[general]\ntls_cert = c.pem\n",
    MAIL_CONFIG_ERROR_VALUE, ": ", "tls_key" },
  /* INVALID: typos */
  { "unknown-key", "[smtp]\nport = 25\nmax_recipient = 5\n",
    MAIL_CONFIG_ERROR_UNKNOWN, ":3: ", "unknown key 'max_recipient'" },
  { "unknown-group", "[general]\n[smpt]\nport = 25\n",
    MAIL_CONFIG_ERROR_UNKNOWN, ":2: ", "unknown group [smpt]" },
  /* INVALID: not a key file */
  { "no-equals", "[general]\nhostname = a\nthis is prose\n",
    MAIL_CONFIG_ERROR_PARSE, ":3: ", "not a key file" },
  { "key-before-group", "# c\nport = 25\n", MAIL_CONFIG_ERROR_PARSE,
    ":2: ", "not a key file" },
};

static void
test_error (gconstpointer data)
{
  const ErrorCase *row = data;
  ConfigFixture fixture;
  g_autoptr (GError) error = NULL;
  g_autoptr (MailConfig) config = NULL;
  g_autofree char *where = NULL;

  fixture_set_up (&fixture, NULL);
  config = load_text (&fixture, row->text, &error);
  where = g_strconcat (fixture.path, row->where, NULL);
  g_assert_null (config);
  g_assert_error (error, MAIL_CONFIG_ERROR, row->code);
  g_test_message ("message: %s", error->message);
  g_assert_true (g_str_has_prefix (error->message, where));
  g_assert_nonnull (strstr (error->message, row->mention));
  fixture_tear_down (&fixture, NULL);
}

static void
test_missing_file (ConfigFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailConfig) config = mail_config_load (fixture->path, &error);

  g_assert_null (config);
  g_assert_error (error, MAIL_CONFIG_ERROR, MAIL_CONFIG_ERROR_PARSE);
  g_assert_true (g_str_has_prefix (error->message, fixture->path));
}

static void
add_fixture_test (const char *path,
                  void (*func) (ConfigFixture *, gconstpointer))
{
  g_test_add (path, ConfigFixture, NULL, fixture_set_up, func,
              fixture_tear_down);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/config/defaults/without-file", test_defaults_without_file);
  add_fixture_test ("/config/defaults/empty-file-keeps-them",
                    test_defaults_empty_file);
  add_fixture_test ("/config/every-key-read", test_every_key);
  add_fixture_test ("/config/routes-keyed-by-lower-case-domain", test_routes);
  add_fixture_test ("/config/local-domains-ignore-case", test_local_domains);
  add_fixture_test ("/config/user-maildir", test_user_maildir);
  add_fixture_test ("/config/missing-file-names-it", test_missing_file);
  for (gsize i = 0; i < G_N_ELEMENTS (error_cases); i++)
    {
      g_autofree char *path = g_strdup_printf (
          "/config/error-names-file-line-key/%s", error_cases[i].name);
      g_test_add_data_func (path, &error_cases[i], test_error);
    }
  return g_test_run ();
}
