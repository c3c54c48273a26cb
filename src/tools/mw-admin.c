/* SPDX-License-Identifier: MIT
 * mw-admin.c: the administration tool's entry point: global options, the
 * command table, and the helpers every command file uses (mw-admin.h).
 *
 *   mw-admin [--config FILE] user add|passwd|del|list [NAME] [--maildir D]
 *   mw-admin [--config FILE] cert --out CERT --key KEY [--days N] NAME...
 *   mw-admin [--config FILE] queue list|flush|delete ID
 */
#include "mw-admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail-cli.h"

#define MW_ADMIN_PROGRAM "mw-admin"

typedef struct
{
  const char *name;
  MwAdminCommandFunc run;
  const char *synopsis; /* for the usage text */
} MwAdminCommand;

/* One row per command; each command lives in mw-admin-<name>.c. */
static const MwAdminCommand mw_admin_commands[] = {
  /* name   handler            synopsis */
  { "user", mw_admin_cmd_user,
    "user add|passwd|del|list [NAME] [--maildir PATH] "
    "[--password-file FILE]" },
  { "cert", mw_admin_cmd_cert, "cert --out CERT --key KEY [--days N] NAME..." },
  { "queue", mw_admin_cmd_queue, "queue list|flush|delete ID" },
};

static void
mw_admin_print_usage (FILE *out)
{
  fprintf (out, "Usage: " MW_ADMIN_PROGRAM " [--config FILE] COMMAND ...\n");
  for (gsize i = 0; i < G_N_ELEMENTS (mw_admin_commands); i++)
    fprintf (out, "  " MW_ADMIN_PROGRAM " %s\n", mw_admin_commands[i].synopsis);
  fprintf (out, "Run '" MW_ADMIN_PROGRAM " COMMAND --help' for details.\n");
}

static int
mw_admin_vprint (int code, const char *format, va_list args)
{
  g_autofree char *message = g_strdup_vprintf (format, args);

  g_printerr (MW_ADMIN_PROGRAM ": %s\n", message);
  return code;
}

int
mw_admin_fail (const char *format, ...)
{
  va_list args;
  int code = 0;

  va_start (args, format);
  code = mw_admin_vprint (MW_ADMIN_EXIT_FAILURE, format, args);
  va_end (args);
  return code;
}

int
mw_admin_usage (const char *format, ...)
{
  va_list args;
  int code = 0;

  va_start (args, format);
  code = mw_admin_vprint (MW_ADMIN_EXIT_USAGE, format, args);
  va_end (args);
  mw_admin_print_usage (stderr);
  return code;
}

MailConfig *
mw_admin_load_config (MwAdmin *admin)
{
  g_autoptr (GError) error = NULL;
  MailConfig *config = mail_config_load (admin->config_path, &error);

  if (config == NULL)
    mw_admin_fail ("%s", error->message);
  return config;
}

gboolean
mw_admin_parse_options (MwAdmin *admin,
                        const GOptionEntry *entries,
                        const char *parameter_string,
                        const char *description,
                        int *argc,
                        char ***argv)
{
  const GOptionEntry config_entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &admin->config_path,
      "Read FILE instead of the built-in defaults", "FILE" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) context = g_option_context_new (parameter_string);
  g_autoptr (GError) error = NULL;
  g_autofree char *program =
      g_strdup_printf (MW_ADMIN_PROGRAM " %s", (*argv)[0]);

  g_set_prgname (program); /* "Usage: mw-admin user ..." in --help */
  g_option_context_add_main_entries (context, config_entries, NULL);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context, description);
  if (g_option_context_parse (context, argc, argv, &error))
    return TRUE;
  g_printerr (MW_ADMIN_PROGRAM ": %s\n", error->message);
  g_printerr ("Run '" MW_ADMIN_PROGRAM " %s --help' for details.\n",
              (*argv)[0]);
  return FALSE;
}

static const MwAdminCommand *
mw_admin_find_command (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (mw_admin_commands); i++)
    if (strcmp (mw_admin_commands[i].name, name) == 0)
      return &mw_admin_commands[i];
  return NULL;
}

/* Global options stop at the command name (strict POSIX order), so each
 * command parses its own options, wherever they are. */
static gboolean
mw_admin_parse_global (MwAdmin *admin, int *argc, char ***argv)
{
  gboolean help = FALSE;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &admin->config_path,
      "Read FILE instead of the built-in defaults", "FILE" },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &help, "Show this help", NULL },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;

  g_option_context_set_help_enabled (context, FALSE);
  g_option_context_set_strict_posix (context, TRUE);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      mw_admin_usage ("%s", error->message);
      return FALSE;
    }
  if (help)
    {
      mw_admin_print_usage (stdout);
      exit (MW_ADMIN_EXIT_OK);
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  MwAdmin admin = { NULL };
  const MwAdminCommand *command = NULL;
  int status = 0;

  mail_cli_init_locale ();
  if (!mw_admin_parse_global (&admin, &argc, &argv))
    return MW_ADMIN_EXIT_USAGE;
  if (argc < 2)
    return mw_admin_usage ("which command?");
  command = mw_admin_find_command (argv[1]);
  if (command == NULL)
    return mw_admin_usage ("unknown command '%s'", argv[1]);
  status = command->run (&admin, argc - 1, argv + 1);
  g_free (admin.config_path);
  return status;
}
