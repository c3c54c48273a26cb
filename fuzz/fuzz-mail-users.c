/* SPDX-License-Identifier: MIT
 * fuzz-mail-users.c: the users file (mail-auth.h), "name:$pbkdf2-sha256$
 * ITERATIONS$SALT$HASH:MAILDIR" lines and comments, read by
 * mail_users_load (); then every user looked up by name and by address,
 * and a password checked where the file asks for few enough PBKDF2
 * iterations to be quick (RFC 8018 §5.2).
 * Invariants: every listed user is found by its name; a file that fails
 * says why in a MAIL_AUTH_ERROR.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "mail-auth.h"

#define CHEAP_ITERATIONS 16

static gboolean
is_cheap (const char *hash)
{
  const char *scheme = "$pbkdf2-sha256$";

  return g_str_has_prefix (hash, scheme) &&
         g_ascii_isdigit (hash[strlen (scheme)]) &&
         strtoull (hash + strlen (scheme), NULL, 10) <= CHEAP_ITERATIONS;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static MailConfig *config;
  g_autofree char *path = NULL;
  g_autoptr (MailUsers) users = NULL;
  g_autoptr (GError) error = NULL;
  const GPtrArray *list;

  fuzz_init ();
  if (config == NULL)
    config = mail_config_load (NULL, NULL);
  path = fuzz_write_file (NULL, "users", data, size);
  users = mail_users_load (path, &error);
  if (users == NULL)
    {
      g_assert_nonnull (error);
      g_assert_cmpuint (error->domain, ==, MAIL_AUTH_ERROR);
      return 0;
    }
  g_assert_no_error (error);
  list = mail_users_list (users);
  for (guint i = 0; i < list->len; i++)
    {
      const MailUser *user = g_ptr_array_index (list, i);
      g_autofree char *address = g_strdup_printf ("%s@localhost", user->name);
      g_autofree char *maildir =
          mail_config_user_maildir (config, user->name, user->maildir);

      g_assert_nonnull (mail_users_lookup (users, user->name));
      mail_users_lookup_address (users, config, user->name);
      mail_users_lookup_address (users, config, address);
      g_assert_nonnull (maildir);
      if (is_cheap (user->hash))
        mail_users_verify (users, user->name, "secret");
    }
  return 0;
}
