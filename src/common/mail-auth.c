/* SPDX-License-Identifier: MIT
 * mail-auth.c: the users file, PBKDF2 password hashes (RFC 8018 §5.2) and
 * the SASL PLAIN (RFC 4616 §2) and LOGIN messages, in strict base64
 * (RFC 4648 §4). What a running server keeps of them: mail-auth-cache.c.
 */
#include "mail-auth.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK (mail_auth_error, mail_auth_error)

#define MAIL_PASSWORD_SCHEME "$pbkdf2-sha256$"
#define MAIL_PASSWORD_SALT_LENGTH 16
#define MAIL_PASSWORD_HASH_LENGTH 32 /* SHA-256 output */
/* Hashes from a file are untrusted: bound the work they can ask for. */
#define MAIL_PASSWORD_MAX_ITERATIONS 10000000
/* mail_auth_failure_delay (): 1 s, doubling, at most 8 times that. */
#define MAIL_AUTH_DELAY_MS 1000
#define MAIL_AUTH_DELAY_MAX_DOUBLINGS 3

struct _MailUsers
{
  char *path;
  GPtrArray *users; /* of MailUser, in file order */
};

static void
mail_user_free (MailUser *user)
{
  g_free (user->name);
  g_free (user->hash);
  g_free (user->maildir);
  g_free (user);
}

/* ---- strict base64 (RFC 4648 §4) -------------------------------------- */

static int
base64_value (char c)
{
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const char *p = c != '\0' ? strchr (alphabet, c) : NULL;

  return p != NULL ? (int) (p - alphabet) : -1;
}

/* g_base64_decode () skips characters it does not know and guesses at
 * padding, so we check first: whole 4-character quanta, only alphabet
 * characters, '=' only as the last one or two, and zero pad bits
 * (RFC 4648 §3.5 lets a decoder refuse the rest, and SASL peers never
 * send them). */
static gboolean
base64_is_strict (const char *text)
{
  gsize length = strlen (text);
  gsize padding = 0;
  int last = 0;

  if (length % 4 != 0)
    return FALSE;
  if (length > 0 && text[length - 1] == '=')
    padding = (length > 1 && text[length - 2] == '=') ? 2 : 1;
  for (gsize i = 0; i < length - padding; i++)
    if ((last = base64_value (text[i])) < 0)
      return FALSE;
  /* The last data character carries 4 (one '=') or 2 (two '=') pad bits. */
  if (padding == 1)
    return (last & 0x03) == 0;
  if (padding == 2)
    return (last & 0x0f) == 0;
  return TRUE;
}

/* (transfer full) the decoded bytes plus a NUL, so text can be used as a
 * string once checked for embedded NULs. */
static guint8 *
base64_decode_strict (const char *text, gsize *out_length, GError **error)
{
  guint8 *data = NULL;
  gsize length = 0;

  if (!base64_is_strict (text))
    {
      g_set_error_literal (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_PARSE,
                           "invalid base64");
      return NULL;
    }
  data = g_base64_decode (text, &length);
  data = g_realloc (data, length + 1);
  data[length] = '\0';
  *out_length = length;
  return data;
}

/* ---- passwords (RFC 8018 §5.2 PBKDF2) --------------------------------- */

static gboolean
password_derive (const char *password,
                 const guint8 *salt,
                 gsize salt_length,
                 guint iterations,
                 guint8 *out_key,
                 gsize key_length)
{
  gnutls_datum_t key = { (unsigned char *) password, strlen (password) };
  gnutls_datum_t salt_datum = { (unsigned char *) salt, salt_length };

  return gnutls_pbkdf2 (GNUTLS_MAC_SHA256, &key, &salt_datum, iterations,
                        out_key, key_length) == 0;
}

char *
mail_password_hash (const char *password, guint iterations)
{
  guint8 salt[MAIL_PASSWORD_SALT_LENGTH];
  guint8 key[MAIL_PASSWORD_HASH_LENGTH];
  g_autofree char *salt_text = NULL;
  g_autofree char *key_text = NULL;

  g_return_val_if_fail (password != NULL, NULL);

  if (iterations == 0)
    iterations = MAIL_PASSWORD_ITERATIONS;
  if (gnutls_rnd (GNUTLS_RND_RANDOM, salt, sizeof salt) != 0)
    g_error ("gnutls_rnd failed: no randomness for a password salt");
  if (!password_derive (password, salt, sizeof salt, iterations, key,
                        sizeof key))
    g_error ("gnutls_pbkdf2 failed");
  salt_text = g_base64_encode (salt, sizeof salt);
  key_text = g_base64_encode (key, sizeof key);
  explicit_bzero (key, sizeof key);
  return g_strdup_printf (MAIL_PASSWORD_SCHEME "%u$%s$%s", iterations,
                          salt_text, key_text);
}

/* Splits "$pbkdf2-sha256$ITER$SALT$HASH"; FALSE if it is not one. */
static gboolean
password_parse (const char *encoded,
                guint *out_iterations,
                GBytes **out_salt,
                GBytes **out_hash)
{
  g_auto (GStrv) parts = NULL;
  guint64 iterations = 0;
  guint8 *salt = NULL;
  guint8 *hash = NULL;
  gsize salt_length = 0;
  gsize hash_length = 0;

  if (!g_str_has_prefix (encoded, MAIL_PASSWORD_SCHEME))
    return FALSE;
  parts = g_strsplit (encoded + strlen (MAIL_PASSWORD_SCHEME), "$", -1);
  if (g_strv_length (parts) != 3 ||
      !g_ascii_string_to_unsigned (
          parts[0], 10, 1, MAIL_PASSWORD_MAX_ITERATIONS, &iterations, NULL))
    return FALSE;
  salt = base64_decode_strict (parts[1], &salt_length, NULL);
  hash = base64_decode_strict (parts[2], &hash_length, NULL);
  if (salt == NULL || hash == NULL || salt_length == 0 ||
      hash_length != MAIL_PASSWORD_HASH_LENGTH)
    {
      g_free (salt);
      g_free (hash);
      return FALSE;
    }
  *out_iterations = (guint) iterations;
  *out_salt = g_bytes_new_take (salt, salt_length);
  *out_hash = g_bytes_new_take (hash, hash_length);
  return TRUE;
}

gboolean
mail_password_verify (const char *password, const char *encoded)
{
  g_autoptr (GBytes) salt = NULL;
  g_autoptr (GBytes) hash = NULL;
  guint iterations = 0;
  guint8 key[MAIL_PASSWORD_HASH_LENGTH];
  gboolean ok = FALSE;

  g_return_val_if_fail (password != NULL, FALSE);
  g_return_val_if_fail (encoded != NULL, FALSE);

  if (!password_parse (encoded, &iterations, &salt, &hash))
    return FALSE;
  if (password_derive (password, g_bytes_get_data (salt, NULL),
                       g_bytes_get_size (salt), iterations, key, sizeof key))
    ok = mail_auth_equal (key, g_bytes_get_data (hash, NULL), sizeof key);
  explicit_bzero (key, sizeof key);
  return ok;
}

/* Looks at every byte whatever the data, so the time taken does not tell
 * an attacker how many leading bytes were right. */
gboolean
mail_auth_equal (const void *a, const void *b, gsize length)
{
  const volatile guint8 *x = a;
  const volatile guint8 *y = b;
  guint8 difference = 0;

  for (gsize i = 0; i < length; i++)
    difference |= x[i] ^ y[i];
  return difference == 0;
}

/* MW_AUTH_DELAY_MS, when set to a number, replaces the 1 s base delay so
 * that tests of failed logins run fast. */
void
mail_auth_failure_delay (guint failures)
{
  const char *override = g_getenv ("MW_AUTH_DELAY_MS");
  guint64 base_ms = MAIL_AUTH_DELAY_MS;
  guint doublings = 0;

  if (failures == 0)
    return;
  doublings = MIN (failures - 1, MAIL_AUTH_DELAY_MAX_DOUBLINGS);
  if (override != NULL &&
      !g_ascii_string_to_unsigned (override, 10, 0, 60000, &base_ms, NULL))
    base_ms = MAIL_AUTH_DELAY_MS;
  g_usleep ((base_ms << doublings) * 1000);
}

/* ---- the users file --------------------------------------------------- */

/* Login names become directory names under mail_root and fields of a
 * colon-separated file, so they may not hold '/', ':', spaces or control
 * characters, nor start with a dot. */
static gboolean
users_name_is_valid (const char *name)
{
  if (name[0] == '\0' || name[0] == '.' || strlen (name) > 255)
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if ((guchar) *p <= ' ' || *p == '/' || *p == ':' || *p == 0x7f)
      return FALSE;
  return g_utf8_validate (name, -1, NULL);
}

static gboolean
users_maildir_is_valid (const char *maildir)
{
  return strpbrk (maildir, "\n\r") == NULL;
}

static MailUser *
users_find (MailUsers *users, const char *name, guint *out_index)
{
  for (guint i = 0; i < users->users->len; i++)
    {
      MailUser *user = g_ptr_array_index (users->users, i);
      if (g_ascii_strcasecmp (user->name, name) == 0)
        {
          if (out_index != NULL)
            *out_index = i;
          return user;
        }
    }
  return NULL;
}

/* One "name:hash:maildir" line; the maildir may itself hold colons. */
static gboolean
users_parse_line (MailUsers *users,
                  const char *line,
                  guint number,
                  GError **error)
{
  g_auto (GStrv) fields = g_strsplit (line, ":", 3);
  const char *problem = NULL;
  g_autoptr (GBytes) salt = NULL;
  g_autoptr (GBytes) hash = NULL;
  guint iterations = 0;
  MailUser *user = NULL;

  if (g_strv_length (fields) != 3)
    problem = "expected name:hash:maildir";
  else if (!users_name_is_valid (fields[0]))
    problem = "bad user name";
  else if (users_find (users, fields[0], NULL) != NULL)
    problem = "user listed twice";
  else if (!password_parse (fields[1], &iterations, &salt, &hash))
    problem = "expected a $pbkdf2-sha256$ITERATIONS$SALT$HASH password";
  if (problem != NULL)
    {
      g_set_error (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_PARSE, "%s:%u: %s",
                   users->path, number, problem);
      return FALSE;
    }
  user = g_new0 (MailUser, 1);
  user->name = g_strdup (fields[0]);
  user->hash = g_strdup (fields[1]);
  if (fields[2][0] != '\0')
    {
      g_autofree char *dir = g_path_get_dirname (users->path);
      user->maildir = g_canonicalize_filename (fields[2], dir);
    }
  g_ptr_array_add (users->users, user);
  return TRUE;
}

static gboolean
users_parse (MailUsers *users, char *text, GError **error)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = lines[i];
      gsize length = strlen (line);

      if (length > 0 && line[length - 1] == '\r')
        line[length - 1] = '\0';
      if (line[0] == '\0' || line[0] == '#')
        continue;
      if (!users_parse_line (users, line, i + 1, error))
        return FALSE;
    }
  return TRUE;
}

MailUsers *
mail_users_load (const char *path, GError **error)
{
  g_autoptr (MailUsers) users = g_new0 (MailUsers, 1);
  g_autoptr (GError) local_error = NULL;
  g_autofree char *text = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  users->path = g_strdup (path);
  users->users =
      g_ptr_array_new_with_free_func ((GDestroyNotify) mail_user_free);
  if (!g_file_get_contents (path, &text, NULL, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_steal_pointer (&users);
      g_set_error (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_FAILED,
                   "%s: cannot read: %s", path, local_error->message);
      return NULL;
    }
  if (!users_parse (users, text, error))
    return NULL;
  return g_steal_pointer (&users);
}

void
mail_users_free (MailUsers *users)
{
  if (users == NULL)
    return;
  g_free (users->path);
  g_clear_pointer (&users->users, g_ptr_array_unref);
  g_free (users);
}

/* The rename is recorded in the directory, which GLib does not fsync. */
static gboolean
users_sync_directory (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  gboolean ok = fd >= 0 && fsync (fd) == 0;
  int saved_errno = errno;

  if (fd >= 0)
    close (fd);
  if (!ok)
    g_set_error (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_FAILED,
                 "%s: cannot sync its directory: %s", path,
                 g_strerror (saved_errno));
  return ok;
}

/* Replaced whole, never edited in place: a reader sees the old file or
 * the new one, and after a crash the new one is on disk
 * (g_file_set_contents_full writes a temporary file, fsyncs and renames;
 * mode 0600 because the hashes can be attacked offline). */
gboolean
mail_users_save (MailUsers *users, GError **error)
{
  g_autoptr (GString) text = g_string_new (
      "# mailwire users: name:$pbkdf2-sha256$...:maildir (see mw-admin)\n");
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (users != NULL, FALSE);

  for (guint i = 0; i < users->users->len; i++)
    {
      const MailUser *user = g_ptr_array_index (users->users, i);
      g_string_append_printf (text, "%s:%s:%s\n", user->name, user->hash,
                              user->maildir != NULL ? user->maildir : "");
    }
  if (!g_file_set_contents_full (users->path, text->str, text->len,
                                 G_FILE_SET_CONTENTS_CONSISTENT |
                                     G_FILE_SET_CONTENTS_DURABLE,
                                 0600, &local_error))
    {
      g_set_error (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_FAILED,
                   "%s: cannot save: %s", users->path, local_error->message);
      return FALSE;
    }
  return users_sync_directory (users->path, error);
}

/* Login names are compared without regard to ASCII case, as mail
 * addresses' domains are and as most servers treat local parts. */
const MailUser *
mail_users_lookup (MailUsers *users, const char *name)
{
  g_return_val_if_fail (users != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  return users_find (users, name, NULL);
}

const MailUser *
mail_users_lookup_address (MailUsers *users,
                           const MailConfig *config,
                           const char *address)
{
  const MailUser *user = NULL;
  const char *at = NULL;
  g_autofree char *local_part = NULL;

  g_return_val_if_fail (users != NULL, NULL);
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (address != NULL, NULL);

  user = users_find (users, address, NULL);
  at = strrchr (address, '@');
  if (user != NULL || at == NULL || at == address)
    return user;
  if (!mail_config_is_local_domain (config, at + 1))
    return NULL;
  local_part = g_strndup (address, at - address);
  return users_find (users, local_part, NULL);
}

const GPtrArray *
mail_users_list (MailUsers *users)
{
  g_return_val_if_fail (users != NULL, NULL);

  return users->users;
}

/* With @replace, a NULL @maildir keeps the user's maildir, and "" goes
 * back to the default. */
gboolean
mail_users_set (MailUsers *users,
                const char *name,
                const char *password,
                const char *maildir,
                gboolean replace,
                GError **error)
{
  MailUser *user = NULL;

  g_return_val_if_fail (users != NULL, FALSE);
  g_return_val_if_fail (name != NULL && password != NULL, FALSE);

  if (!users_name_is_valid (name))
    {
      g_set_error (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_PARSE,
                   "bad user name '%s': no spaces, '/' or ':', no leading '.'",
                   name);
      return FALSE;
    }
  if (password[0] == '\0' || strpbrk (password, "\r\n") != NULL)
    {
      g_set_error_literal (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_PARSE,
                           "a password must be one non-empty line");
      return FALSE;
    }
  if (maildir != NULL && !users_maildir_is_valid (maildir))
    {
      g_set_error_literal (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_PARSE,
                           "a maildir may not hold line breaks");
      return FALSE;
    }
  user = users_find (users, name, NULL);
  if (user != NULL && !replace)
    {
      g_set_error (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_EXISTS,
                   "user '%s' already exists", user->name);
      return FALSE;
    }
  if (user == NULL)
    {
      user = g_new0 (MailUser, 1);
      user->name = g_strdup (name);
      g_ptr_array_add (users->users, user);
    }
  g_free (user->hash);
  user->hash = mail_password_hash (password, MAIL_PASSWORD_ITERATIONS);
  if (maildir != NULL)
    {
      g_free (user->maildir);
      user->maildir =
          maildir[0] != '\0' ? g_canonicalize_filename (maildir, NULL) : NULL;
    }
  return TRUE;
}

gboolean
mail_users_remove (MailUsers *users, const char *name, GError **error)
{
  guint index = 0;

  g_return_val_if_fail (users != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  if (users_find (users, name, &index) == NULL)
    {
      g_set_error (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_NO_USER,
                   "no user '%s' in %s", name, users->path);
      return FALSE;
    }
  g_ptr_array_remove_index (users->users, index);
  return TRUE;
}

const char *
mail_password_dummy_hash (void)
{
  static char *dummy = NULL;

  if (g_once_init_enter (&dummy))
    {
      guint8 random[MAIL_PASSWORD_SALT_LENGTH];
      g_autofree char *password = NULL;

      gnutls_rnd (GNUTLS_RND_NONCE, random, sizeof random);
      password = g_base64_encode (random, sizeof random);
      g_once_init_leave (&dummy, mail_password_hash (password, 0));
    }
  return dummy;
}

gboolean
mail_users_verify (MailUsers *users, const char *name, const char *password)
{
  const MailUser *user = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (users != NULL, FALSE);
  g_return_val_if_fail (name != NULL && password != NULL, FALSE);

  user = users_find (users, name, NULL);
  ok = mail_password_verify (
      password, user != NULL ? user->hash : mail_password_dummy_hash ());
  return user != NULL && ok;
}

/* ---- SASL ------------------------------------------------------------- */

/* Wipes the decoded message, which may hold a password, and fails. */
static gboolean
sasl_fail_wiped (guint8 *data,
                 gsize length,
                 GError **error,
                 const char *message)
{
  explicit_bzero (data, length);
  g_set_error_literal (error, MAIL_AUTH_ERROR, MAIL_AUTH_ERROR_PARSE, message);
  return FALSE;
}

static gsize
sasl_count_nuls (const guint8 *data, gsize length)
{
  gsize count = 0;

  for (gsize i = 0; i < length; i++)
    count += data[i] == '\0';
  return count;
}

/* RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd */
gboolean
mail_sasl_plain_decode (const char *base64,
                        char **out_authzid,
                        char **out_authcid,
                        char **out_password,
                        GError **error)
{
  g_autofree guint8 *data = NULL;
  gsize length = 0;
  const char *authzid = NULL;
  const char *authcid = NULL;
  const char *password = NULL;

  g_return_val_if_fail (base64 != NULL, FALSE);

  data = base64_decode_strict (base64, &length, error);
  if (data == NULL)
    return FALSE;
  authzid = (const char *) data;
  if (sasl_count_nuls (data, length) != 2)
    return sasl_fail_wiped (data, length, error,
                            "PLAIN needs authzid NUL authcid NUL password");
  authcid = authzid + strlen (authzid) + 1;
  password = authcid + strlen (authcid) + 1;
  /* g_utf8_validate () stops at a NUL, so each part is checked alone. */
  if (!g_utf8_validate (authzid, -1, NULL) ||
      !g_utf8_validate (authcid, -1, NULL) ||
      !g_utf8_validate (password, -1, NULL))
    return sasl_fail_wiped (data, length, error, "PLAIN message is not UTF-8");
  if (authcid[0] == '\0' || password[0] == '\0')
    return sasl_fail_wiped (data, length, error,
                            "PLAIN user name or password is empty");
  *out_authzid = authzid[0] != '\0' ? g_strdup (authzid) : NULL;
  *out_authcid = g_strdup (authcid);
  *out_password = g_strdup (password);
  explicit_bzero (data, length);
  return TRUE;
}

char *
mail_sasl_plain_encode (const char *authzid,
                        const char *authcid,
                        const char *password)
{
  g_autoptr (GString) message = g_string_new (authzid);
  char *encoded = NULL;

  g_return_val_if_fail (authcid != NULL && password != NULL, NULL);

  g_string_append_c (message, '\0');
  g_string_append (message, authcid);
  g_string_append_c (message, '\0');
  g_string_append (message, password);
  encoded = g_base64_encode ((const guchar *) message->str, message->len);
  explicit_bzero (message->str, message->len);
  return encoded;
}

gboolean
mail_sasl_login_decode (const char *base64, char **out_text, GError **error)
{
  g_autofree guint8 *data = NULL;
  gsize length = 0;

  g_return_val_if_fail (base64 != NULL, FALSE);

  data = base64_decode_strict (base64, &length, error);
  if (data == NULL)
    return FALSE;
  if (length == 0)
    return sasl_fail_wiped (data, length, error,
                            "LOGIN user name or password is empty");
  if (memchr (data, '\0', length) != NULL)
    return sasl_fail_wiped (data, length, error, "LOGIN text holds a NUL");
  *out_text = g_strdup ((const char *) data);
  explicit_bzero (data, length);
  return TRUE;
}
