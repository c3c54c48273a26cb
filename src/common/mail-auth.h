/* SPDX-License-Identifier: MIT
 * mail-auth.h: users, passwords and SASL, shared by the three servers and
 * the three clients (RFC 4616 PLAIN, draft-murchison-sasl-login LOGIN,
 * RFC 4648 base64, RFC 8018 PBKDF2).
 *
 * The users file has one line per user, colon separated:
 *   name:$pbkdf2-sha256$ITERATIONS$SALT_B64$HASH_B64:MAILDIR
 * MAILDIR may be empty (then the config's mail_root/NAME/Maildir is used).
 * Lines starting with '#' are comments.
 */
#pragma once

#include <glib.h>

#include "mail-config.h"

G_BEGIN_DECLS

#define MAIL_AUTH_ERROR (mail_auth_error_quark ())
typedef enum
{
  MAIL_AUTH_ERROR_PARSE,   /* users file or SASL data malformed */
  MAIL_AUTH_ERROR_NO_USER, /* no such user */
  MAIL_AUTH_ERROR_EXISTS,  /* user already exists */
  MAIL_AUTH_ERROR_FAILED,
} MailAuthError;
GQuark mail_auth_error_quark (void);

#define MAIL_PASSWORD_ITERATIONS 100000 /* PBKDF2-SHA256, OWASP 2023 order */

typedef struct
{
  char *name;    /* login name: "alice" or "alice@example.test" */
  char *hash;    /* "$pbkdf2-sha256$..." */
  char *maildir; /* absolute path, or NULL for the default */
} MailUser;

typedef struct _MailUsers MailUsers;

/* Loads @path; a missing file is an empty list, so "user add" can create
 * it. Errors name the file and line. */
MailUsers *mail_users_load (const char *path, GError **error);
void mail_users_free (MailUsers *users);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailUsers, mail_users_free)
/* Writes the file atomically (temporary file, fsync, rename), mode 0600. */
gboolean mail_users_save (MailUsers *users, GError **error);

/* (transfer none) NULL if absent. */
const MailUser *mail_users_lookup (MailUsers *users, const char *name);
/* The user who receives mail for @address ("bob@example.test"): the
 * user named by the whole address, else, when the domain is local, the
 * user named by the local part (case-insensitive). (transfer none) */
const MailUser *mail_users_lookup_address (MailUsers *users,
                                           const MailConfig *config,
                                           const char *address);
/* (transfer none) array of users in file order. */
const GPtrArray *mail_users_list (MailUsers *users);
/* Adds a user or, with @replace, changes the password and maildir (a user
 * who does not exist yet is added; a NULL @maildir keeps the old one, ""
 * resets it to the default). */
gboolean mail_users_set (MailUsers *users,
                         const char *name,
                         const char *password,
                         const char *maildir,
                         gboolean replace,
                         GError **error);
gboolean mail_users_remove (MailUsers *users, const char *name, GError **error);
/* TRUE if @name exists and @password is right. Takes the same time for an
 * unknown user (a dummy hash is checked) and compares in constant time.
 * The caller sleeps with mail_auth_failure_delay () after a failure. */
gboolean
mail_users_verify (MailUsers *users, const char *name, const char *password);

/* "$pbkdf2-sha256$..." for @password with a random salt (transfer full). */
char *mail_password_hash (const char *password, guint iterations);
gboolean mail_password_verify (const char *password, const char *encoded);
/* A hash of a random password, verified in the place of an unknown
 * user's, so that "no such user" takes as long as "wrong password". */
const char *mail_password_dummy_hash (void);
/* Constant-time equality of two buffers of the same length. */
gboolean mail_auth_equal (const void *a, const void *b, gsize length);
/* Sleeps after the @failures-th failed attempt: 1 s, 2 s, 4 s ... 8 s max,
 * which slows password guessing without locking anyone out. The
 * environment variable MW_AUTH_DELAY_MS replaces the 1 s base (tests set
 * it low). */
void mail_auth_failure_delay (guint failures);

/* The users file as a server sees it, shared by its session threads:
 * loaded at the first login and reloaded whenever its modification time
 * or size changes, so "mw-admin user add" needs no restart. A file that
 * fails to load keeps the old list (with a warning) rather than lock
 * everyone out. Thread-safe; the PBKDF2 of one login does not hold up the
 * others. A login verified with PBKDF2 is remembered for an hour (as
 * Dovecot's auth cache does): the same user with the same password, and
 * the same hash in the file, is let in again without PBKDF2. Mail
 * clients log in again and again (each sync, each folder, each device),
 * and 100,000 PBKDF2 rounds are 12 ms of CPU a time. What is kept is a
 * keyed HMAC of the password, under a key made at random by this process:
 * never the password, and nothing a wrong password could match. */
typedef struct _MailUsersCache MailUsersCache;

/* @config (transfer none) must outlive the cache. */
MailUsersCache *mail_users_cache_new (const MailConfig *config);
void mail_users_cache_free (MailUsersCache *cache);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailUsersCache, mail_users_cache_free)
/* Checks a password (mail_users_verify ()) and returns the user's
 * Maildir (transfer full), or NULL if the name or password is wrong. */
char *mail_users_cache_check_login (MailUsersCache *cache,
                                    const char *name,
                                    const char *password);
/* How many logins this cache checked with PBKDF2 so far (the others were
 * answered from the logins verified lately): for tests and statistics. */
guint mail_users_cache_pbkdf2_runs (MailUsersCache *cache);

/* ---- SASL ------------------------------------------------------------- */

/* RFC 4616 §2: message = [authzid] NUL authcid NUL passwd, base64 encoded.
 * Rejects bad base64, a wrong number of NULs and empty authcid/passwd.
 * Out strings are transfer full; the password should be wiped with
 * explicit_bzero () and freed. *out_authzid is NULL when absent. */
gboolean mail_sasl_plain_decode (const char *base64,
                                 char **out_authzid,
                                 char **out_authcid,
                                 char **out_password,
                                 GError **error);
char *mail_sasl_plain_encode (const char *authzid,
                              const char *authcid,
                              const char *password);
/* LOGIN: each step is one base64 string (user name, then password); NULs
 * inside are refused. */
gboolean
mail_sasl_login_decode (const char *base64, char **out_text, GError **error);
/* The server challenges of LOGIN, already base64: "VXNlcm5hbWU6" and
 * "UGFzc3dvcmQ6" ("Username:", "Password:"). */
#define MAIL_SASL_LOGIN_USER_CHALLENGE "VXNlcm5hbWU6"
#define MAIL_SASL_LOGIN_PASSWORD_CHALLENGE "UGFzc3dvcmQ6"

G_END_DECLS
