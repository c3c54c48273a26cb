/* SPDX-License-Identifier: MIT
 * mail-auth-cache.c: the users file of a running server (MailUsersCache,
 * mail-auth.h), reloaded when it changes, and the logins it verified
 * lately, let in again without PBKDF2.
 */
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>
#include <sys/stat.h>

#include "mail-auth.h"

/* Dovecot's auth_cache_ttl default; after it the password is checked
 * with PBKDF2 again, whatever happened. */
#define MAIL_LOGIN_REMEMBER_SECONDS 3600
/* Memory is bounded: past this many users the remembered logins are
 * forgotten, all at once (the next logins pay PBKDF2 again). */
#define MAIL_LOGIN_REMEMBER_MAX 10000
#define MAIL_LOGIN_PROOF_LENGTH 32 /* HMAC-SHA256 */

/* A login PBKDF2 said yes to. */
typedef struct
{
  char *hash; /* the users file's hash then: a new password forgets it */
  guint8 proof[MAIL_LOGIN_PROOF_LENGTH]; /* login_proof () of the password */
  gint64 expires;                        /* g_get_monotonic_time () */
} VerifiedLogin;

struct _MailUsersCache
{
  const MailConfig *config;
  guint8 key[MAIL_LOGIN_PROOF_LENGTH]; /* random, this process's own */
  GMutex lock;                         /* guards the members below */
  MailUsers *users;
  gint64 mtime; /* of the file loaded, microseconds; -1: never loaded */
  gint64 size;
  GHashTable *verified; /* user name -> VerifiedLogin */
  guint pbkdf2_runs;
};

static void
verified_login_free (gpointer data)
{
  VerifiedLogin *login = data;

  g_free (login->hash);
  explicit_bzero (login->proof, sizeof login->proof);
  g_free (login);
}

MailUsersCache *
mail_users_cache_new (const MailConfig *config)
{
  MailUsersCache *cache = g_new0 (MailUsersCache, 1);

  cache->config = config;
  if (gnutls_rnd (GNUTLS_RND_KEY, cache->key, sizeof cache->key) != 0)
    g_error ("gnutls_rnd failed");
  g_mutex_init (&cache->lock);
  cache->mtime = -1;
  cache->verified = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           verified_login_free);
  return cache;
}

void
mail_users_cache_free (MailUsersCache *cache)
{
  if (cache == NULL)
    return;
  g_clear_pointer (&cache->users, mail_users_free);
  g_hash_table_unref (cache->verified);
  explicit_bzero (cache->key, sizeof cache->key);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}

/* Reloads the users file if it changed; call with the lock held. */
static void
mail_users_cache_refresh (MailUsersCache *cache)
{
  struct stat st;
  gint64 mtime = -1;
  gint64 size = -1;
  g_autoptr (GError) error = NULL;
  MailUsers *users = NULL;

  if (stat (cache->config->users_file, &st) == 0)
    {
      mtime = (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC +
              st.st_mtim.tv_nsec / 1000;
      size = st.st_size;
    }
  if (cache->users != NULL && mtime == cache->mtime && size == cache->size)
    return;
  users = mail_users_load (cache->config->users_file, &error);
  if (users == NULL)
    {
      g_warning ("users file: %s", error->message);
      return;
    }
  g_clear_pointer (&cache->users, mail_users_free);
  cache->users = users;
  cache->mtime = mtime;
  cache->size = size;
}

/* HMAC-SHA256 under the cache's key of "NAME NUL PASSWORD": what is kept
 * of a login, which without the key tells nothing of the password. */
static void
login_proof (MailUsersCache *cache,
             const char *name,
             const char *password,
             guint8 out_proof[MAIL_LOGIN_PROOF_LENGTH])
{
  g_autoptr (GHmac) hmac =
      g_hmac_new (G_CHECKSUM_SHA256, cache->key, sizeof cache->key);
  gsize length = MAIL_LOGIN_PROOF_LENGTH;

  g_hmac_update (hmac, (const guchar *) name, strlen (name) + 1);
  g_hmac_update (hmac, (const guchar *) password, strlen (password));
  g_hmac_get_digest (hmac, out_proof, &length);
}

/* With the lock held: did PBKDF2 let this very login in lately? */
static gboolean
verified_lately (MailUsersCache *cache,
                 const MailUser *user,
                 const guint8 proof[MAIL_LOGIN_PROOF_LENGTH])
{
  const VerifiedLogin *login =
      g_hash_table_lookup (cache->verified, user->name);

  return login != NULL && strcmp (login->hash, user->hash) == 0 &&
         g_get_monotonic_time () < login->expires &&
         mail_auth_equal (login->proof, proof, MAIL_LOGIN_PROOF_LENGTH);
}

/* With the lock held: remembers a login PBKDF2 let in. */
static void
remember_login (MailUsersCache *cache,
                const char *name,
                const char *hash,
                const guint8 proof[MAIL_LOGIN_PROOF_LENGTH])
{
  VerifiedLogin *login = g_new0 (VerifiedLogin, 1);

  if (g_hash_table_size (cache->verified) >= MAIL_LOGIN_REMEMBER_MAX)
    g_hash_table_remove_all (cache->verified);
  login->hash = g_strdup (hash);
  memcpy (login->proof, proof, MAIL_LOGIN_PROOF_LENGTH);
  login->expires = g_get_monotonic_time () +
                   (gint64) MAIL_LOGIN_REMEMBER_SECONDS * G_USEC_PER_SEC;
  g_hash_table_replace (cache->verified, g_strdup (name), login);
}

char *
mail_users_cache_check_login (MailUsersCache *cache,
                              const char *name,
                              const char *password)
{
  guint8 proof[MAIL_LOGIN_PROOF_LENGTH];
  g_autofree char *hash = NULL;
  g_autofree char *maildir = NULL;
  gboolean lately = FALSE;
  gboolean ok = FALSE;

  g_return_val_if_fail (cache != NULL, NULL);
  g_return_val_if_fail (name != NULL && password != NULL, NULL);
  login_proof (cache, name, password, proof);
  g_mutex_lock (&cache->lock);
  mail_users_cache_refresh (cache);
  {
    const MailUser *user =
        cache->users != NULL ? mail_users_lookup (cache->users, name) : NULL;

    if (user != NULL)
      {
        hash = g_strdup (user->hash);
        maildir =
            mail_config_user_maildir (cache->config, user->name, user->maildir);
        lately = verified_lately (cache, user, proof);
      }
    if (!lately)
      cache->pbkdf2_runs++;
  }
  g_mutex_unlock (&cache->lock);
  /* PBKDF2 outside the lock: the other sessions' logins go on meanwhile.
   * An unknown user costs the same time as a wrong password. */
  ok = lately ||
       mail_password_verify (password,
                             hash != NULL ? hash : mail_password_dummy_hash ());
  if (ok && hash != NULL && !lately)
    {
      g_mutex_lock (&cache->lock);
      remember_login (cache, name, hash, proof);
      g_mutex_unlock (&cache->lock);
    }
  explicit_bzero (proof, sizeof proof);
  return ok && hash != NULL ? g_steal_pointer (&maildir) : NULL;
}

guint
mail_users_cache_pbkdf2_runs (MailUsersCache *cache)
{
  g_autoptr (GMutexLocker) locker = NULL;

  g_return_val_if_fail (cache != NULL, 0);
  locker = g_mutex_locker_new (&cache->lock);
  return cache->pbkdf2_runs;
}
