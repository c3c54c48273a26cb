/* SPDX-License-Identifier: MIT
 * mw-admin-user.c: "mw-admin user add|passwd|del|list": the users file
 * of mail-auth.h, edited and saved atomically.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "mail-auth.h"
#include "mail-store.h"
#include "mw-admin.h"

#define USER_PASSWORD_MAX 1024 /* bytes read for one password */

typedef struct
{
  MwAdmin *admin;
  MailConfig *config;
  MailUsers *users;
  const char *name;          /* NULL for "list" */
  const char *maildir;       /* --maildir */
  const char *password_file; /* --password-file */
} UserRequest;

typedef int (*UserActionFunc) (UserRequest *request);

typedef struct
{
  const char *verb;
  gboolean needs_name;
  UserActionFunc run;
  const char *help;
} UserAction;

/* ---- reading a password ----------------------------------------------- */

/* Keeps the first line of @text (without its line end). */
static void
user_cut_first_line (char *text)
{
  text[strcspn (text, "\r\n")] = '\0';
}

/* Reads stdin (a pipe or file) up to USER_PASSWORD_MAX bytes. */
static char *
user_read_stdin (void)
{
  char *buffer = g_malloc0 (USER_PASSWORD_MAX + 1);
  gsize length = 0;

  while (length < USER_PASSWORD_MAX)
    {
      gssize got =
          read (STDIN_FILENO, buffer + length, USER_PASSWORD_MAX - length);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        break;
      length += got;
    }
  user_cut_first_line (buffer);
  return buffer;
}

/* Prompts on the terminal with echo off; NULL on end of input. */
static char *
user_prompt_no_echo (const char *prompt)
{
  struct termios saved;
  struct termios quiet;
  char *buffer = g_malloc0 (USER_PASSWORD_MAX + 1);
  gboolean got = FALSE;

  fputs (prompt, stderr);
  fflush (stderr);
  tcgetattr (STDIN_FILENO, &saved);
  quiet = saved;
  quiet.c_lflag &= ~ECHO;
  tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
  got = fgets (buffer, USER_PASSWORD_MAX + 1, stdin) != NULL;
  tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
  fputs ("\n", stderr);
  if (!got)
    {
      g_free (buffer);
      return NULL;
    }
  user_cut_first_line (buffer);
  return buffer;
}

static void
user_wipe_free (char *password)
{
  if (password == NULL)
    return;
  explicit_bzero (password, strlen (password));
  g_free (password);
}
/* A password string, wiped before it is freed. */
typedef char *UserSecret;
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (UserSecret, user_wipe_free, NULL)

/* Twice, as passwd(1) does, since nobody sees what was typed. */
static char *
user_prompt_twice (void)
{
  g_auto (UserSecret) first = user_prompt_no_echo ("New password: ");
  g_auto (UserSecret) second = NULL;

  if (first == NULL)
    return NULL;
  second = user_prompt_no_echo ("Retype new password: ");
  if (second == NULL || strcmp (first, second) != 0)
    {
      g_printerr ("mw-admin: the passwords do not match\n");
      return NULL;
    }
  return g_steal_pointer (&first);
}

/* --password-file, else stdin when it is not a terminal (scripts), else
 * the terminal. NULL after printing why. */
static char *
user_get_password (const UserRequest *request)
{
  g_autoptr (GError) error = NULL;
  char *password = NULL;

  if (request->password_file != NULL)
    {
      if (!g_file_get_contents (request->password_file, &password, NULL,
                                &error))
        {
          mw_admin_fail ("%s", error->message);
          return NULL;
        }
      user_cut_first_line (password);
    }
  else if (!isatty (STDIN_FILENO))
    password = user_read_stdin ();
  else
    password = user_prompt_twice ();
  if (password != NULL && password[0] == '\0')
    {
      mw_admin_fail ("empty password for user %s", request->name);
      user_wipe_free (g_steal_pointer (&password));
    }
  return password;
}

/* ---- the actions ------------------------------------------------------ */

/* The state directory may not exist yet on a fresh install. */
static int
user_save (UserRequest *request)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_path_get_dirname (request->config->users_file);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    return mw_admin_fail ("cannot create %s: %s", dir, g_strerror (errno));
  if (!mail_users_save (request->users, &error))
    return mw_admin_fail ("%s", error->message);
  return MW_ADMIN_EXIT_OK;
}

/* "add" refuses an existing user and "passwd" a missing one. */
static int
user_set_password (UserRequest *request, gboolean replace)
{
  g_autoptr (GError) error = NULL;
  g_auto (UserSecret) password = NULL;

  if (replace && mail_users_lookup (request->users, request->name) == NULL)
    return mw_admin_fail ("no user %s in %s", request->name,
                          request->config->users_file);
  if (!replace && mail_users_lookup (request->users, request->name) != NULL)
    return mw_admin_fail ("user %s already exists in %s", request->name,
                          request->config->users_file);
  password = user_get_password (request);
  if (password == NULL)
    return MW_ADMIN_EXIT_FAILURE;
  if (!mail_users_set (request->users, request->name, password,
                       request->maildir, replace, &error))
    return mw_admin_fail ("%s", error->message);
  return user_save (request);
}

static int
user_add (UserRequest *request)
{
  int status = user_set_password (request, FALSE);
  const MailUser *user = mail_users_lookup (request->users, request->name);
  g_autofree char *maildir = NULL;
  g_autoptr (MailStore) store = NULL;
  g_autoptr (GError) error = NULL;

  if (status != MW_ADMIN_EXIT_OK)
    return status;
  maildir =
      mail_config_user_maildir (request->config, user->name, user->maildir);
  /* RFC 6154: the folders mail programs look for (Sent, Trash ...) */
  store = mail_store_open (maildir, &error);
  if (store == NULL || !mail_store_create_special_folders (store, &error))
    return mw_admin_fail ("%s", error->message);
  g_print ("added user %s, mail in %s\n", user->name, maildir);
  return status;
}

static int
user_passwd (UserRequest *request)
{
  int status = user_set_password (request, TRUE);

  if (status == MW_ADMIN_EXIT_OK)
    g_print ("changed the password of %s\n", request->name);
  return status;
}

/* The mail stays: deleting a mailbox is a separate, deliberate act. */
static int
user_del (UserRequest *request)
{
  g_autoptr (GError) error = NULL;
  int status = MW_ADMIN_EXIT_OK;

  if (!mail_users_remove (request->users, request->name, &error))
    return mw_admin_fail ("%s", error->message);
  status = user_save (request);
  if (status == MW_ADMIN_EXIT_OK)
    g_print ("deleted user %s (the mail is kept)\n", request->name);
  return status;
}

/* "NAME<TAB>MAILDIR" lines, in file order, for people and scripts. */
static int
user_list (UserRequest *request)
{
  const GPtrArray *users = mail_users_list (request->users);

  for (guint i = 0; i < users->len; i++)
    {
      const MailUser *user = g_ptr_array_index (users, i);
      g_autofree char *maildir =
          mail_config_user_maildir (request->config, user->name, user->maildir);
      g_print ("%s\t%s\n", user->name, maildir);
    }
  return MW_ADMIN_EXIT_OK;
}

static const UserAction user_actions[] = {
  /* verb     NAME?  handler      help */
  { "add", TRUE, user_add, "add NAME: new user; password asked for" },
  { "passwd", TRUE, user_passwd, "passwd NAME: change the password" },
  { "del", TRUE, user_del, "del NAME: remove the user (mail is kept)" },
  { "list", FALSE, user_list, "list: one 'NAME<TAB>MAILDIR' line per user" },
};

static const UserAction *
user_find_action (const char *verb)
{
  for (gsize i = 0; i < G_N_ELEMENTS (user_actions); i++)
    if (strcmp (user_actions[i].verb, verb) == 0)
      return &user_actions[i];
  return NULL;
}

/* Checks the operands against the action; prints the usage if wrong. */
static const UserAction *
user_check_operands (int argc, char **argv)
{
  const UserAction *action = argc >= 2 ? user_find_action (argv[1]) : NULL;

  if (action == NULL)
    {
      mw_admin_usage ("user: expected add, passwd, del or list");
      return NULL;
    }
  if (argc != (action->needs_name ? 3 : 2))
    {
      mw_admin_usage ("user %s", action->help);
      return NULL;
    }
  return action;
}

int
mw_admin_cmd_user (MwAdmin *admin, int argc, char **argv)
{
  g_autofree char *maildir = NULL;
  g_autofree char *password_file = NULL;
  const GOptionEntry entries[] = {
    { "maildir", 'm', 0, G_OPTION_ARG_FILENAME, &maildir,
      "Deliver to PATH instead of mail_root/NAME/Maildir", "PATH" },
    { "password-file", 'p', 0, G_OPTION_ARG_FILENAME, &password_file,
      "Read the password from the first line of FILE", "FILE" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (MailConfig) config = NULL;
  g_autoptr (MailUsers) users = NULL;
  g_autoptr (GError) error = NULL;
  const UserAction *action = NULL;
  UserRequest request = { admin };

  if (!mw_admin_parse_options (admin, entries, "add|passwd|del|list [NAME]",
                               "Edits the users file named by the config "
                               "(general/users_file).",
                               &argc, &argv))
    return MW_ADMIN_EXIT_USAGE;
  action = user_check_operands (argc, argv);
  if (action == NULL)
    return MW_ADMIN_EXIT_USAGE;
  config = mw_admin_load_config (admin);
  if (config == NULL)
    return MW_ADMIN_EXIT_FAILURE;
  users = mail_users_load (config->users_file, &error);
  if (users == NULL)
    return mw_admin_fail ("%s", error->message);
  request.config = config;
  request.users = users;
  request.name = action->needs_name ? argv[2] : NULL;
  request.maildir = maildir;
  request.password_file = password_file;
  return action->run (&request);
}
