/* SPDX-License-Identifier: MIT
 * mail-cli.h: what the command-line programs (mw-send, mw-pop3, mw-imap,
 * mw-admin, the servers) share beyond their protocol: the locale, the
 * --trace printer and password files.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* setlocale (LC_ALL, "") for the user's language, but where the locale's
 * character set is plain ASCII (LANG=C or unset, Debian's default in
 * containers and under cron) LC_CTYPE becomes C.UTF-8. GOption converts
 * every string argument from the locale's character set to UTF-8; in an
 * ASCII locale `--body "grüße"` or a UTF-8 address (RFC 6531) would be
 * refused as "Invalid byte sequence". Call it first thing in main (). */
void mail_cli_init_locale (void);

/* Prints one traced line as "S: line   ; meaning" (or "C: ..."), flushed
 * at once so the dialogue interleaves with other output. Matches the
 * trace callbacks of smtp-client.h and pop3-client.h; @user_data unused. */
void mail_cli_print_trace (gboolean from_server,
                           const char *line,
                           const char *meaning,
                           gpointer user_data);

/* Reads the first line of @path as a password (transfer full; wipe with
 * explicit_bzero () before freeing). Keeps secrets out of argv and ps. */
char *mail_cli_read_password_file (const char *path, GError **error);

/* The password of --password, or else the first line of --password-file
 * (@password_file, may be NULL) into *inout_password; an error naming
 * both options when there is neither. */
gboolean mail_cli_take_password (char **inout_password,
                                 const char *password_file,
                                 GError **error);

G_END_DECLS
