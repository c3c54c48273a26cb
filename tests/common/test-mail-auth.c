/* SPDX-License-Identifier: MIT
 * test-mail-auth.c: password hashes (RFC 8018 PBKDF2), the users file and
 * SASL PLAIN (RFC 4616) / LOGIN decoding.
 */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mail-auth.h"

/* Few iterations keep the tests fast; the format is the same. */
#define TEST_ITERATIONS 1000

/* ---- passwords -------------------------------------------------------- */

static void
test_password_verify_right (void)
{
  g_autofree char *encoded = mail_password_hash ("s3cret", TEST_ITERATIONS);

  g_assert_true (g_str_has_prefix (encoded, "$pbkdf2-sha256$1000$"));
  g_assert_true (mail_password_verify ("s3cret", encoded));
}

static void
test_password_reject_wrong (void)
{
  g_autofree char *encoded = mail_password_hash ("s3cret", TEST_ITERATIONS);

  g_assert_false (mail_password_verify ("s3cret ", encoded));
  g_assert_false (mail_password_verify ("S3cret", encoded));
  g_assert_false (mail_password_verify ("", encoded));
}

/* "$pbkdf2-sha256$ITER$SALT$HASH": 16 random salt bytes, 32 hash bytes. */
static void
test_password_format (void)
{
  g_autofree char *first = mail_password_hash ("same", TEST_ITERATIONS);
  g_autofree char *second = mail_password_hash ("same", TEST_ITERATIONS);
  g_auto (GStrv) parts = g_strsplit (first, "$", -1);
  g_autofree guchar *salt = NULL;
  g_autofree guchar *hash = NULL;
  gsize length = 0;

  g_assert_cmpuint (g_strv_length (parts), ==, 5);
  g_assert_cmpstr (parts[0], ==, "");
  g_assert_cmpstr (parts[1], ==, "pbkdf2-sha256");
  g_assert_cmpstr (parts[2], ==, "1000");
  salt = g_base64_decode (parts[3], &length);
  g_assert_cmpuint (length, ==, 16);
  hash = g_base64_decode (parts[4], &length);
  g_assert_cmpuint (length, ==, 32);
  g_assert_cmpstr (first, !=, second); /* fresh salt each time */
}

/* RFC 7914 §11: PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1); the
 * first 32 of its 64 output bytes, since PBKDF2 blocks are independent. */
static void
test_password_known_answer (void)
{
  static const guint8 expected[32] = {
    0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f, 0xec, 0x16, 0x91,
    0xc2, 0x25, 0x44, 0xb6, 0x05, 0xf9, 0x41, 0x85, 0x21, 0x6d, 0xde,
    0x04, 0x65, 0xe6, 0x8b, 0x9d, 0x57, 0xc2, 0x0d, 0xac, 0xbc,
  };
  g_autofree char *hash = g_base64_encode (expected, sizeof expected);
  g_autofree char *encoded =
      g_strdup_printf ("$pbkdf2-sha256$1$c2FsdA==$%s", hash);

  g_assert_true (mail_password_verify ("passwd", encoded));
  g_assert_false (mail_password_verify ("passwd!", encoded));
}

typedef struct
{
  const char *name;
  const char *encoded; /* "%s" is replaced by a valid hash of "pw" */
} MalformedCase;

/* Right password "pw", broken encodings: never TRUE, never a crash. */
static const MalformedCase malformed_cases[] = {
  /* INVALID */
  { "empty", "" },
  { "scheme-only", "$pbkdf2-sha256$" },
  { "other-scheme", "$pbkdf2-sha1$1000$c2FsdA==$AAAA" },
  { "plaintext", "pw" },
  { "iterations-not-a-number", "$pbkdf2-sha256$lots$c2FsdA==$AAAA" },
  { "iterations-zero", "$pbkdf2-sha256$0$c2FsdA==$AAAA" },
  { "iterations-huge", "$pbkdf2-sha256$99999999999$c2FsdA==$AAAA" },
  { "missing-hash", "$pbkdf2-sha256$1000$c2FsdA==" },
  { "extra-field", "%s$AAAA" },
  { "salt-bad-base64", "$pbkdf2-sha256$1000$c2F*dA==$"
                       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" },
  { "hash-too-short", "$pbkdf2-sha256$1000$c2FsdA==$AAAA" },
  { "tampered", "%s" }, /* one hash character changed below */
};

static void
test_password_malformed (gconstpointer data)
{
  const MalformedCase *row = data;
  g_autofree char *valid = mail_password_hash ("pw", TEST_ITERATIONS);
  g_autofree char *encoded = NULL;

  if (strcmp (row->encoded, "%s") == 0)
    {
      gsize at = strlen (valid) - 5; /* inside the hash, before padding */
      encoded = g_strdup (valid);
      encoded[at] = encoded[at] == 'A' ? 'B' : 'A';
    }
  else if (strstr (row->encoded, "%s") != NULL)
    encoded = g_strdup_printf ("%s$AAAA", valid);
  else
    encoded = g_strdup (row->encoded);
  g_assert_false (mail_password_verify ("pw", encoded));
}

static void
test_auth_equal (void)
{
  g_assert_true (mail_auth_equal ("abcdef", "abcdef", 6));
  g_assert_false (mail_auth_equal ("abcdef", "abcdeF", 6));
  g_assert_false (mail_auth_equal ("Xbcdef", "abcdef", 6));
  g_assert_true (mail_auth_equal ("a", "b", 0));
}

/* 1, 2, 4, 8, 8 ... times the base, which MW_AUTH_DELAY_MS sets. */
static void
test_failure_delay_doubles_and_caps (void)
{
  static const guint expected_units[] = { 0, 1, 2, 4, 8, 8, 8 };

  g_setenv ("MW_AUTH_DELAY_MS", "10", TRUE);
  for (guint failures = 0; failures < G_N_ELEMENTS (expected_units); failures++)
    {
      gint64 start = g_get_monotonic_time ();
      gint64 elapsed_ms = 0;

      mail_auth_failure_delay (failures);
      elapsed_ms = (g_get_monotonic_time () - start) / 1000;
      g_assert_cmpint (elapsed_ms, >=, expected_units[failures] * 10);
      /* generous upper bound: a loaded machine oversleeps, never less */
      g_assert_cmpint (elapsed_ms, <, expected_units[failures] * 10 + 500);
    }
  g_unsetenv ("MW_AUTH_DELAY_MS");
}

/* ---- the users file --------------------------------------------------- */

typedef struct
{
  char *dir;
  char *path; /* DIR/users, absent at first */
} UsersFixture;

static void
users_fixture_set_up (UsersFixture *fixture, gconstpointer data)
{
  fixture->dir = g_dir_make_tmp ("test-mail-auth-XXXXXX", NULL);
  g_assert_nonnull (fixture->dir);
  fixture->path = g_build_filename (fixture->dir, "users", NULL);
}

static void
users_fixture_tear_down (UsersFixture *fixture, gconstpointer data)
{
  g_unlink (fixture->path);
  g_rmdir (fixture->dir);
  g_free (fixture->path);
  g_free (fixture->dir);
}

static void
write_file (const char *path, const char *text)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

/* A missing file is an empty list, so "mw-admin user add" can create it. */
static void
test_users_missing_file_is_empty (UsersFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailUsers) users = mail_users_load (fixture->path, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (mail_users_list (users)->len, ==, 0);
  g_assert_null (mail_users_lookup (users, "alice"));
}

static void
test_users_round_trip (UsersFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailUsers) users = mail_users_load (fixture->path, &error);
  g_autoptr (MailUsers) again = NULL;
  const MailUser *bob = NULL;
  GStatBuf st;

  g_assert_no_error (error);
  g_assert_true (
      mail_users_set (users, "alice", "alice-secret", NULL, FALSE, &error));
  g_assert_true (mail_users_set (users, "bob@example.test", "bob-secret",
                                 "/srv/mail/bob", FALSE, &error));
  g_assert_true (mail_users_save (users, &error));
  g_assert_no_error (error);

  g_assert_cmpint (g_stat (fixture->path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600); /* hashes stay private */

  again = mail_users_load (fixture->path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mail_users_list (again)->len, ==, 2);
  g_assert_cmpstr (((MailUser *) mail_users_list (again)->pdata[0])->name, ==,
                   "alice");
  g_assert_null (mail_users_lookup (again, "alice")->maildir);
  bob = mail_users_lookup (again, "bob@example.test");
  g_assert_nonnull (bob);
  g_assert_cmpstr (bob->maildir, ==, "/srv/mail/bob");
  g_assert_cmpstr (bob->hash, ==,
                   mail_users_lookup (users, "bob@example.test")->hash);
  g_assert_true (mail_users_verify (again, "alice", "alice-secret"));
  g_assert_true (mail_users_verify (again, "BOB@example.test", "bob-secret"));
  g_assert_false (mail_users_verify (again, "alice", "bob-secret"));
  g_assert_false (mail_users_verify (again, "carol", "alice-secret"));
}

static void
test_users_set_replace_remove (UsersFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailUsers) users = mail_users_load (fixture->path, &error);

  g_assert_true (
      mail_users_set (users, "alice", "one", "/srv/alice", FALSE, &error));
  g_assert_false (mail_users_set (users, "Alice", "two", NULL, FALSE, &error));
  g_assert_error (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_EXISTS);
  g_clear_error (&error);

  /* passwd: new password, maildir kept when NULL */
  g_assert_true (mail_users_set (users, "alice", "two", NULL, TRUE, &error));
  g_assert_true (mail_users_verify (users, "alice", "two"));
  g_assert_false (mail_users_verify (users, "alice", "one"));
  g_assert_cmpstr (mail_users_lookup (users, "alice")->maildir, ==,
                   "/srv/alice");

  g_assert_true (mail_users_remove (users, "alice", &error));
  g_assert_null (mail_users_lookup (users, "alice"));
  g_assert_false (mail_users_remove (users, "alice", &error));
  g_assert_error (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_NO_USER);
}

typedef struct
{
  const char *name;
  const char *password;
} BadSetCase;

static const BadSetCase bad_set_cases[] = {
  /* INVALID */
  { "", "pw" },           { "with space", "pw" }, { "a/b", "pw" },
  { "a:b", "pw" },        { ".hidden", "pw" },    { "ok", "" },
  { "ok", "two\nlines" },
};

static void
test_users_set_rejects (UsersFixture *fixture, gconstpointer data)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_set_cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MailUsers) users = mail_users_load (fixture->path, &error);

      g_assert_false (mail_users_set (users, bad_set_cases[i].name,
                                      bad_set_cases[i].password, NULL, FALSE,
                                      &error));
      g_assert_error (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_PARSE);
    }
}

/* "Takes the same time for an unknown user": loosely checked (a quarter)
 * so that a busy machine does not make the test flaky, yet it fails if
 * the dummy hash check were skipped (then it would be ~1000 times
 * faster). */
static void
test_users_unknown_user_takes_as_long (UsersFixture *fixture,
                                       gconstpointer data)
{
  g_autoptr (MailUsers) users = mail_users_load (fixture->path, NULL);
  gint64 known = 0;
  gint64 unknown = 0;
  gint64 start = 0;

  g_assert_true (mail_users_set (users, "alice", "pw", NULL, FALSE, NULL));
  mail_users_verify (users, "nobody", "pw"); /* computes the dummy once */
  start = g_get_monotonic_time ();
  g_assert_false (mail_users_verify (users, "alice", "wrong"));
  known = g_get_monotonic_time () - start;
  start = g_get_monotonic_time ();
  g_assert_false (mail_users_verify (users, "nobody", "wrong"));
  unknown = g_get_monotonic_time () - start;
  g_assert_cmpint (unknown, >, known / 4);
}

typedef struct
{
  const char *name;
  const char *text; /* "HASH" is replaced by a valid hash */
  guint line;
} UsersParseCase;

static const UsersParseCase users_parse_cases[] = {
  /* INVALID */
  { "no-colons", "alice\n", 1 },
  { "one-colon", "# comment\nalice:HASH\n", 2 },
  { "bad-name", "\nal ice:HASH:\n", 2 },
  { "empty-name", ":HASH:\n", 1 },
  { "plaintext-password", "alice:HASH:\nbob:bob-secret:\n", 2 },
  { "duplicate", "alice:HASH:\n# x\nALICE:HASH:\n", 3 },
  { "truncated-hash", "alice:$pbkdf2-sha256$1000$c2FsdA==$AAA:\n", 1 },
};

static void
test_users_parse_error (gconstpointer data)
{
  const UsersParseCase *row = data;
  g_autofree char *dir = g_dir_make_tmp ("test-mail-auth-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "users", NULL);
  g_autofree char *hash = mail_password_hash ("pw", TEST_ITERATIONS);
  g_auto (GStrv) pieces = g_strsplit (row->text, "HASH", -1);
  g_autofree char *text = g_strjoinv (hash, pieces);
  g_autofree char *where = g_strdup_printf ("%s:%u: ", path, row->line);
  g_autoptr (GError) error = NULL;
  g_autoptr (MailUsers) users = NULL;

  write_file (path, text);
  users = mail_users_load (path, &error);
  g_assert_null (users);
  g_assert_error (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_PARSE);
  g_assert_true (g_str_has_prefix (error->message, where));
  g_unlink (path);
  g_rmdir (dir);
}

/* Comments, blank lines, CRLF and a maildir holding a colon all parse. */
static void
test_users_parse_tolerates (UsersFixture *fixture, gconstpointer data)
{
  g_autofree char *hash = mail_password_hash ("pw", TEST_ITERATIONS);
  g_autofree char *text = g_strdup_printf (
      "# users\r\n\r\nalice:%s:/srv/a:b\r\nbob:%s:\n", hash, hash);
  g_autoptr (GError) error = NULL;
  g_autoptr (MailUsers) users = NULL;

  write_file (fixture->path, text);
  users = mail_users_load (fixture->path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (mail_users_lookup (users, "alice")->maildir, ==, "/srv/a:b");
  g_assert_null (mail_users_lookup (users, "bob")->maildir);
  g_assert_true (mail_users_verify (users, "bob", "pw"));
}

/* ---- addresses -------------------------------------------------------- */

typedef struct
{
  const char *address;
  const char *user; /* NULL: nobody receives it */
} AddressCase;

static const AddressCase address_cases[] = {
  /* VALID */
  { "alice@example.test", "alice" },
  { "ALICE@Example.TEST", "alice" },
  { "alice", "alice" },
  { "bob@other.test", "bob@other.test" }, /* a user named by the address */
  { "Bob@Other.Test", "bob@other.test" },
  /* INVALID */
  { "alice@elsewhere.test", NULL }, /* not a local domain */
  { "bob@example.test", NULL },     /* bob exists only as bob@other.test */
  { "carol@example.test", NULL },
  { "@example.test", NULL },
  { "", NULL },
};

static void
test_lookup_address (gconstpointer data)
{
  const AddressCase *row = data;
  g_autofree char *dir = g_dir_make_tmp ("test-mail-auth-XXXXXX", NULL);
  g_autofree char *conf = g_build_filename (dir, "mailwire.conf", NULL);
  g_autofree char *path = g_build_filename (dir, "users", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (MailConfig) config = NULL;
  g_autoptr (MailUsers) users = NULL;
  const MailUser *user = NULL;

  write_file (conf, "[general]\ndomains = example.test;localhost\n");
  config = mail_config_load (conf, &error);
  g_assert_no_error (error);
  users = mail_users_load (path, &error);
  g_assert_true (mail_users_set (users, "alice", "pw", NULL, FALSE, &error));
  g_assert_true (
      mail_users_set (users, "bob@other.test", "pw", NULL, FALSE, &error));

  user = mail_users_lookup_address (users, config, row->address);
  g_assert_cmpstr (user != NULL ? user->name : NULL, ==, row->user);
  g_unlink (conf);
  g_rmdir (dir);
}

/* ---- a running server's users (MailUsersCache) ------------------------ */

/* Writes the users file with @name's @password (a fresh hash each time,
 * so a second call changes the file even with the same password). */
static void
set_password (const char *path, const char *name, const char *password)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailUsers) users = mail_users_load (path, &error);

  g_assert_no_error (error);
  g_assert_true (mail_users_set (users, name, password, NULL, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (mail_users_save (users, &error));
  g_assert_no_error (error);
}

static gboolean
logs_in (MailUsersCache *cache, const char *name, const char *password)
{
  g_autofree char *maildir =
      mail_users_cache_check_login (cache, name, password);

  return maildir != NULL;
}

/* A login PBKDF2 let in is let in again without it; a wrong password, an
 * unknown user and a changed password are each checked with PBKDF2, and
 * a password changed in the file takes effect at once. */
static void
test_cache_remembers_verified_logins (void)
{
  g_autofree char *dir = g_dir_make_tmp ("test-mail-auth-XXXXXX", NULL);
  g_autofree char *conf = g_build_filename (dir, "mailwire.conf", NULL);
  g_autofree char *path = g_build_filename (dir, "users", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (MailConfig) config = NULL;
  g_autoptr (MailUsersCache) cache = NULL;

  write_file (conf, "[general]\ndomains = example.test\nusers_file = users\n");
  config = mail_config_load (conf, &error);
  g_assert_no_error (error);
  set_password (path, "alice", "first");
  cache = mail_users_cache_new (config);

  g_assert_true (logs_in (cache, "alice", "first"));
  g_assert_cmpuint (mail_users_cache_pbkdf2_runs (cache), ==, 1);
  g_assert_true (logs_in (cache, "alice", "first"));
  g_assert_true (logs_in (cache, "alice", "first"));
  g_assert_cmpuint (mail_users_cache_pbkdf2_runs (cache), ==, 1);
  /* nothing remembered matches another password, or another user */
  g_assert_false (logs_in (cache, "alice", "firsT"));
  g_assert_false (logs_in (cache, "bob", "first"));
  g_assert_cmpuint (mail_users_cache_pbkdf2_runs (cache), ==, 3);
  /* "mw-admin user passwd": the old password is refused at once */
  set_password (path, "alice", "second");
  g_assert_false (logs_in (cache, "alice", "first"));
  g_assert_true (logs_in (cache, "alice", "second"));
  g_assert_true (logs_in (cache, "alice", "second"));
  g_assert_cmpuint (mail_users_cache_pbkdf2_runs (cache), ==, 5);
  /* the same password hashed anew (another salt) is checked again */
  set_password (path, "alice", "second");
  g_assert_true (logs_in (cache, "alice", "second"));
  g_assert_cmpuint (mail_users_cache_pbkdf2_runs (cache), ==, 6);
  g_unlink (path);
  g_unlink (conf);
  g_rmdir (dir);
}

/* ---- SASL ------------------------------------------------------------- */

typedef struct
{
  const char *name;
  const char *message; /* raw, decoded bytes (may hold NULs) */
  gsize length;
  const char *base64; /* when set, sent as is instead of encoding message */
  gboolean ok;
  const char *authzid;
  const char *authcid;
  const char *password;
} PlainCase;

#define RAW(s) s, sizeof (s) - 1

static const PlainCase plain_cases[] = {
  /* VALID: RFC 4616 §4 examples */
  { "no-authzid", RAW ("\0tim\0tanstaaftanstaaf"), NULL, TRUE, NULL, "tim",
    "tanstaaftanstaaf" },
  { "authzid", RAW ("Ursel\0Kurt\0xipj3plmq"), NULL, TRUE, "Ursel", "Kurt",
    "xipj3plmq" },
  { "utf8", RAW ("\0jos\xc3\xa9\0p\xc3\xa4ss"), NULL, TRUE, NULL, "jos\xc3\xa9",
    "p\xc3\xa4ss" },
  /* INVALID: base64 */
  { "space", NULL, 0, "AHRpbQB0YW5z dGFhZg==", FALSE },
  { "bad-char", NULL, 0, "AHRpbQB0YW5*dGFhZg==", FALSE },
  { "no-padding", NULL, 0, "AHRpbQB0YW5zdGFhZg", FALSE },
  { "short-padding", NULL, 0, "AHRpbQB0YW5zdGFhZg=", FALSE },
  { "padding-inside", NULL, 0, "AHRp=QB0YW5zdGFhZg==", FALSE },
  { "three-pads", NULL, 0, "AHRpbQB0YW5zdGFh====", FALSE },
  { "pad-bits-set", NULL, 0, "AHRpbQB0YW5zdGFhZh==", FALSE },
  { "trailing-newline", NULL, 0, "AHRpbQB0YW5zdGFhZg==\n", FALSE },
  { "empty", NULL, 0, "", FALSE },
  /* INVALID: message */
  { "one-nul", RAW ("tim\0secret"), NULL, FALSE },
  { "no-nul", RAW ("timsecret"), NULL, FALSE },
  { "three-nuls", RAW ("\0tim\0sec\0ret"), NULL, FALSE },
  { "trailing-nul", RAW ("\0tim\0secret\0"), NULL, FALSE },
  { "empty-authcid", RAW ("\0\0secret"), NULL, FALSE },
  { "empty-password", RAW ("\0tim\0"), NULL, FALSE },
  { "not-utf8", RAW ("\0t\xffm\0secret"), NULL, FALSE },
};

static void
test_sasl_plain_decode (gconstpointer data)
{
  const PlainCase *row = data;
  g_autofree char *encoded =
      row->base64 != NULL
          ? g_strdup (row->base64)
          : g_base64_encode ((const guchar *) row->message, row->length);
  g_autofree char *authzid = NULL;
  g_autofree char *authcid = NULL;
  g_autofree char *password = NULL;
  g_autoptr (GError) error = NULL;
  gboolean ok =
      mail_sasl_plain_decode (encoded, &authzid, &authcid, &password, &error);

  if (!row->ok)
    {
      g_assert_false (ok);
      g_assert_error (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_PARSE);
      return;
    }
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpstr (authzid, ==, row->authzid);
  g_assert_cmpstr (authcid, ==, row->authcid);
  g_assert_cmpstr (password, ==, row->password);
}

static void
test_sasl_plain_round_trip (void)
{
  g_autofree char *encoded = mail_sasl_plain_encode (NULL, "alice", "pw");
  g_autofree char *with_authzid =
      mail_sasl_plain_encode ("admin", "alice", "pw");
  g_autofree char *authzid = NULL;
  g_autofree char *authcid = NULL;
  g_autofree char *password = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_cmpstr (encoded, ==, "AGFsaWNlAHB3"); /* "\0alice\0pw" */
  g_assert_true (mail_sasl_plain_decode (with_authzid, &authzid, &authcid,
                                         &password, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (authzid, ==, "admin");
  g_assert_cmpstr (authcid, ==, "alice");
  g_assert_cmpstr (password, ==, "pw");
}

typedef struct
{
  const char *base64;
  const char *text; /* NULL: refused */
} LoginCase;

static const LoginCase login_cases[] = {
  /* VALID */
  { "YWxpY2U=", "alice" },
  { MAIL_SASL_LOGIN_USER_CHALLENGE, "Username:" },
  { MAIL_SASL_LOGIN_PASSWORD_CHALLENGE, "Password:" },
  /* INVALID */
  { "", NULL },          /* empty user name or password */
  { "YWwAaWNl", NULL },  /* "al\0ice" */
  { "AA==", NULL },      /* a lone NUL */
  { "YWxpY2U", NULL },   /* padding missing */
  { "YWxp Y2U=", NULL }, /* space */
  { "YWxpY2U=\r", NULL },
};

static void
test_sasl_login_decode (gconstpointer data)
{
  const LoginCase *row = data;
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  gboolean ok = mail_sasl_login_decode (row->base64, &text, &error);

  if (row->text == NULL)
    {
      g_assert_false (ok);
      g_assert_error (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_PARSE);
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpstr (text, ==, row->text);
}

/* ---- main ------------------------------------------------------------- */

static void
add_users_test (const char *path, void (*func) (UsersFixture *, gconstpointer))
{
  g_test_add (path, UsersFixture, NULL, users_fixture_set_up, func,
              users_fixture_tear_down);
}

static void
add_table_tests (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (malformed_cases); i++)
    {
      g_autofree char *path = g_strdup_printf (
          "/auth/password/malformed-is-rejected/%s", malformed_cases[i].name);
      g_test_add_data_func (path, &malformed_cases[i], test_password_malformed);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (users_parse_cases); i++)
    {
      g_autofree char *path = g_strdup_printf (
          "/auth/users/parse-error-names-line/%s", users_parse_cases[i].name);
      g_test_add_data_func (path, &users_parse_cases[i],
                            test_users_parse_error);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (address_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/auth/lookup-address/%zu-%s", i,
                                               address_cases[i].address);
      g_test_add_data_func (path, &address_cases[i], test_lookup_address);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (plain_cases); i++)
    {
      g_autofree char *path =
          g_strdup_printf ("/auth/sasl/plain/%s", plain_cases[i].name);
      g_test_add_data_func (path, &plain_cases[i], test_sasl_plain_decode);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (login_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/auth/sasl/login/%zu", i);
      g_test_add_data_func (path, &login_cases[i], test_sasl_login_decode);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/auth/password/verify-right", test_password_verify_right);
  g_test_add_func ("/auth/password/reject-wrong", test_password_reject_wrong);
  g_test_add_func ("/auth/password/format-and-fresh-salt",
                   test_password_format);
  g_test_add_func ("/auth/password/rfc7914-known-answer",
                   test_password_known_answer);
  g_test_add_func ("/auth/equal", test_auth_equal);
  g_test_add_func ("/auth/cache/remembers-verified-logins",
                   test_cache_remembers_verified_logins);
  g_test_add_func ("/auth/failure-delay/doubles-and-caps",
                   test_failure_delay_doubles_and_caps);
  add_users_test ("/auth/users/missing-file-is-empty",
                  test_users_missing_file_is_empty);
  add_users_test ("/auth/users/round-trip", test_users_round_trip);
  add_users_test ("/auth/users/set-replace-remove",
                  test_users_set_replace_remove);
  add_users_test ("/auth/users/set-rejects-bad-names", test_users_set_rejects);
  add_users_test ("/auth/users/unknown-user-takes-as-long",
                  test_users_unknown_user_takes_as_long);
  add_users_test ("/auth/users/parse-tolerates-comments-crlf",
                  test_users_parse_tolerates);
  g_test_add_func ("/auth/sasl/plain/round-trip", test_sasl_plain_round_trip);
  add_table_tests ();
  return g_test_run ();
}
