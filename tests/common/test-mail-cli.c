/* SPDX-License-Identifier: MIT
 * test-mail-cli.c: mail_cli_init_locale (): in an ASCII locale (LANG=C)
 * the programs still take UTF-8 arguments (a body "grüße", an address
 * "jürgen@example.test"), and a UTF-8 locale is kept as it is. Each case
 * runs in a subprocess: the locale is process-wide.
 */
#include <langinfo.h>
#include <locale.h>
#include <stdlib.h>

#include "mail-cli.h"

/* What GOption does with a string option of the programs. */
static gboolean
parse_body (const char *value, char **out_body, GError **error)
{
  char *body = NULL;
  GOptionEntry entries[] = {
    { "body", 0, 0, G_OPTION_ARG_STRING, &body, "", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autofree char *arg = g_strconcat ("--body=", value, NULL);
  char *argv_[] = { (char *) "test", arg, NULL };
  char **argv = argv_;
  int argc = 2;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, error))
    return FALSE;
  *out_body = body;
  return TRUE;
}

static void
take_utf8_in (const char *lang)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *body = NULL;

  g_unsetenv ("LC_ALL");
  g_unsetenv ("LC_CTYPE");
  g_setenv ("LANG", lang, TRUE);
  mail_cli_init_locale ();
  g_assert_true (parse_body ("grüße", &body, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (body, ==, "grüße");
}

static void
test_c_locale_takes_utf8 (void)
{
  if (g_test_subprocess ())
    {
      take_utf8_in ("C");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_unset_locale_takes_utf8 (void)
{
  if (g_test_subprocess ())
    {
      take_utf8_in ("");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_utf8_locale_kept (void)
{
  if (g_test_subprocess ())
    {
      take_utf8_in ("C.UTF-8");
      g_assert_cmpstr (nl_langinfo (CODESET), ==, "UTF-8");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/locale/c-locale-takes-utf8-arguments",
                   test_c_locale_takes_utf8);
  g_test_add_func ("/cli/locale/unset-locale-takes-utf8-arguments",
                   test_unset_locale_takes_utf8);
  g_test_add_func ("/cli/locale/utf8-locale-kept", test_utf8_locale_kept);
  return g_test_run ();
}
