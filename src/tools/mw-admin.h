/* SPDX-License-Identifier: MIT
 * mw-admin.h: what the command files of mw-admin share. mw-admin is one
 * table of commands (mw-admin.c); each command lives in its own file,
 * mw-admin-<command>.c, and is a function that gets its own argv
 * (argv[0] is the command name) and returns an exit code.
 *
 * Adding a command: write mw-admin-<name>.c with
 *   int mw_admin_cmd_<name> (MwAdmin *admin, int argc, char **argv);
 * declare it below, add the file to src/tools/meson.build and one row to
 * mw_admin_commands[] in mw-admin.c.
 */
#pragma once

#include <glib.h>

#include "mail-config.h"

G_BEGIN_DECLS

/* Exit codes, as in sysexits' spirit but only three. */
typedef enum
{
  MW_ADMIN_EXIT_OK = 0,
  MW_ADMIN_EXIT_FAILURE = 1, /* the message names what failed */
  MW_ADMIN_EXIT_USAGE = 2,   /* bad command line; usage was printed */
} MwAdminExit;

typedef struct
{
  char *config_path; /* --config FILE, or NULL for the built-in defaults */
} MwAdmin;

typedef int (*MwAdminCommandFunc) (MwAdmin *admin, int argc, char **argv);

/* Parses the options of one command in place (GOption: they may come
 * before or after the operands; --config is accepted too). On a usage
 * error prints it with the command's help and returns FALSE. @entries
 * may be NULL. */
gboolean mw_admin_parse_options (MwAdmin *admin,
                                 const GOptionEntry *entries,
                                 const char *parameter_string,
                                 const char *description,
                                 int *argc,
                                 char ***argv);
/* Prints "mw-admin: <message>" on stderr and returns
 * MW_ADMIN_EXIT_FAILURE. */
int mw_admin_fail (const char *format, ...) G_GNUC_PRINTF (1, 2);
/* Prints "mw-admin: <message>" on stderr and returns MW_ADMIN_EXIT_USAGE. */
int mw_admin_usage (const char *format, ...) G_GNUC_PRINTF (1, 2);
/* The config named by --config; NULL after printing why not. */
MailConfig *mw_admin_load_config (MwAdmin *admin);

/* The commands, one file each. */
int mw_admin_cmd_user (MwAdmin *admin, int argc, char **argv);
int mw_admin_cmd_cert (MwAdmin *admin, int argc, char **argv);
/* mw-admin-queue.c: queue list|flush|delete ID */
int mw_admin_cmd_queue (MwAdmin *admin, int argc, char **argv);

G_END_DECLS
