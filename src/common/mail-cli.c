/* SPDX-License-Identifier: MIT
 * mail-cli.c: shared pieces of the command-line clients.
 */
#include "mail-cli.h"

#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

void
mail_cli_init_locale (void)
{
  const char *codeset;

  setlocale (LC_ALL, "");
  codeset = nl_langinfo (CODESET);
  /* only an ASCII locale is overridden: a Latin-1 terminal's arguments
   * are Latin-1, and GOption converts them correctly */
  if (g_strcmp0 (codeset, "ANSI_X3.4-1968") == 0 ||
      g_strcmp0 (codeset, "ASCII") == 0)
    setlocale (LC_CTYPE, "C.UTF-8");
}

void
mail_cli_print_trace (gboolean from_server,
                      const char *line,
                      const char *meaning,
                      gpointer user_data)
{
  const char *who = from_server ? "S:" : "C:";

  if (meaning != NULL)
    printf ("%s %s   ; %s\n", who, line, meaning);
  else
    printf ("%s %s\n", who, line);
  fflush (stdout);
}

char *
mail_cli_read_password_file (const char *path, GError **error)
{
  char *contents = NULL;
  gsize length = 0;

  if (!g_file_get_contents (path, &contents, &length, error))
    return NULL;
  contents[strcspn (contents, "\r\n")] = '\0';
  return contents;
}

gboolean
mail_cli_take_password (char **inout_password,
                        const char *password_file,
                        GError **error)
{
  if (*inout_password == NULL && password_file != NULL)
    {
      *inout_password = mail_cli_read_password_file (password_file, error);
      return *inout_password != NULL;
    }
  if (*inout_password == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "give --password or --password-file");
      return FALSE;
    }
  return TRUE;
}
