/* SPDX-License-Identifier: MIT
 * mw-pop3: downloads a POP3 maildrop into a local Maildir or mbox file
 * (RFC 1939), or lists it (--list). A message is deleted on the server
 * only after its local copy is durable (fsynced), and deletions happen
 * only when QUIT succeeds (RFC 1939 §6), so a crash at any point loses no
 * mail: at worst a message is downloaded twice.
 *
 * --keep leaves the mail on the server (a mail program's "leave a copy
 * on the server") and remembers the UIDLs (RFC 1939 §7) it already has
 * in a state file next to the destination:
 *   Maildir DIR  ->  DIR/.mw-pop3-uidls
 *   mbox FILE    ->  FILE.mw-pop3-uidls
 * one unique id per line. Without --keep, a message whose UIDL is in the
 * state file is already safe locally, so it is deleted without being
 * downloaded again.
 *
 * The Maildir copy is byte-exact: what RETR sent, un-stuffed, CRLF line
 * ends. The mbox copy is mboxrd: a "From " line, LF line ends, and
 * ">From " quoting with one more ">" on any line matching /^>*From /.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "mail-cli.h"
#include "mail-config.h"
#include "mail-net.h"
#include "mail-store.h"
#include "mail-tls.h"
#include "pop3-client.h"

#define MW_POP3_TIMEOUT 120
#define MW_POP3_STATE_SUFFIX ".mw-pop3-uidls"

typedef struct
{
  char *server;
  gboolean stls;
  gboolean tls;
  char *ca_file;
  gboolean insecure;
  char *user;
  char *password;
  char *password_file;
  char *auth;
  char *maildir;
  char *mbox;
  gboolean keep;
  gboolean list;
  gboolean trace;
} MwPop3Options;

/* One message of the maildrop (RFC 1939 §5 scan listing + §7 UIDL). */
typedef struct
{
  guint32 number;
  guint64 size;
  char *uidl; /* NULL if the server has no UIDL */
} MwPop3Message;

static void
mw_pop3_options_clear (MwPop3Options *o)
{
  g_free (o->server);
  g_free (o->ca_file);
  g_free (o->user);
  if (o->password != NULL)
    explicit_bzero (o->password, strlen (o->password));
  g_free (o->password);
  g_free (o->password_file);
  g_free (o->auth);
  g_free (o->maildir);
  g_free (o->mbox);
}

static void
mw_pop3_message_clear (gpointer data)
{
  MwPop3Message *message = data;

  g_free (message->uidl);
}

/* ---- trace ---------------------------------------------------------- */

/* ---- the maildrop listing ------------------------------------------ */

/* RFC 1939 §5: the body of LIST, "msg-number SP size" lines. */
static GArray *
mw_pop3_parse_scan_listing (const GString *body, GError **error)
{
  g_autoptr (GArray) messages =
      g_array_new (FALSE, TRUE, sizeof (MwPop3Message));
  g_auto (GStrv) lines = g_strsplit (body->str, "\r\n", -1);

  g_array_set_clear_func (messages, mw_pop3_message_clear);
  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      MwPop3Message message = { 0 };
      g_autofree char *size = NULL;

      if (!pop3_proto_parse_listing (lines[i], &message.number, &size, error) ||
          !g_ascii_string_to_unsigned (size, 10, 0, G_MAXUINT64, &message.size,
                                       error))
        return NULL;
      g_array_append_val (messages, message);
    }
  return g_steal_pointer (&messages);
}

/* RFC 1939 §7: the body of UIDL, "msg-number SP unique-id" lines. */
static gboolean
mw_pop3_apply_uidl (GArray *messages, const GString *body, GError **error)
{
  g_auto (GStrv) lines = g_strsplit (body->str, "\r\n", -1);

  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      guint32 number = 0;
      g_autofree char *id = NULL;

      if (!pop3_proto_parse_listing (lines[i], &number, &id, error))
        return FALSE;
      for (guint j = 0; j < messages->len; j++)
        {
          MwPop3Message *m = &g_array_index (messages, MwPop3Message, j);

          if (m->number == number)
            {
              g_free (m->uidl);
              m->uidl = g_strdup (id);
            }
        }
    }
  return TRUE;
}

/* LIST and UIDL (in one write when the server allows PIPELINING) into
 * an array of MwPop3Message in message-number order. A server without
 * UIDL leaves every uidl NULL. */
static GArray *
mw_pop3_list (Pop3Client *client, GError **error)
{
  gboolean pipeline = pop3_client_can_pipeline (client);
  g_autoptr (GArray) messages = NULL;
  g_autoptr (Pop3Reply) list = NULL;
  g_autoptr (Pop3Reply) uidl = NULL;

  pop3_client_send (client, "LIST", NULL);
  if (pipeline)
    pop3_client_send (client, "UIDL", NULL);
  list = pop3_client_receive_ok (client, error);
  if (list == NULL)
    return NULL;
  messages = mw_pop3_parse_scan_listing (list->body, error);
  if (messages == NULL)
    return NULL;
  if (!pipeline)
    pop3_client_send (client, "UIDL", NULL);
  uidl = pop3_client_receive (client, error);
  if (uidl == NULL)
    return NULL;
  if (uidl->body != NULL && !mw_pop3_apply_uidl (messages, uidl->body, error))
    return NULL;
  return g_steal_pointer (&messages);
}

/* The value of header @name in the header block @text (unfolded, RFC
 * 5322 §2.2.3), or "" (transfer full). */
static char *
mw_pop3_header (const char *text, const char *name)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr (GString) value = NULL;
  gsize length = strlen (name);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_strchomp (lines[i]);
      if (value != NULL && (lines[i][0] == ' ' || lines[i][0] == '\t'))
        g_string_append (value, lines[i]);
      else if (value != NULL || lines[i][0] == '\0')
        break;
      else if (g_ascii_strncasecmp (lines[i], name, length) == 0 &&
               lines[i][length] == ':')
        value = g_string_new (g_strstrip (lines[i] + length + 1));
    }
  return value ? g_string_free (g_steal_pointer (&value), FALSE)
               : g_strdup ("");
}

/* --list: LIST + UIDL, then TOP n 0 for the headers (RFC 1939 §7),
 * pipelined when the server allows it. */
static gboolean
mw_pop3_show_list (Pop3Client *client, GError **error)
{
  g_autoptr (GArray) messages = mw_pop3_list (client, error);
  gboolean pipeline = pop3_client_can_pipeline (client);
  guint received = 0;

  if (messages == NULL)
    return FALSE;
  printf ("%u messages\n", messages->len);
  printf ("%4s %9s  %-24s %-24s %-30s %s\n", "#", "size", "uidl", "from",
          "subject", "date");
  for (guint i = 0; i < messages->len; i++)
    {
      const MwPop3Message *m = &g_array_index (messages, MwPop3Message, i);
      g_autofree char *argument = g_strdup_printf ("%u 0", m->number);

      pop3_client_send (client, "TOP", argument);
      /* without PIPELINING, one command at a time (RFC 2449 §6.6) */
      while (pop3_client_outstanding (client) > (pipeline ? 16u : 0u) ||
             (i + 1 == messages->len && pop3_client_outstanding (client) > 0))
        {
          const MwPop3Message *r =
              &g_array_index (messages, MwPop3Message, received++);
          g_autoptr (Pop3Reply) top = pop3_client_receive_ok (client, error);
          g_autofree char *from = NULL;
          g_autofree char *subject = NULL;
          g_autofree char *date = NULL;

          if (top == NULL)
            return FALSE;
          from = mw_pop3_header (top->body->str, "From");
          subject = mw_pop3_header (top->body->str, "Subject");
          date = mw_pop3_header (top->body->str, "Date");
          printf ("%4u %9" G_GUINT64_FORMAT "  %-24.24s %-24.24s %-30.30s %s\n",
                  r->number, r->size, r->uidl ? r->uidl : "-", from, subject,
                  date);
        }
    }
  return pop3_client_quit (client, error);
}

/* ---- the UIDL state file (--keep) ---------------------------------- */

static char *
mw_pop3_state_path (const MwPop3Options *o)
{
  if (o->maildir != NULL)
    return g_build_filename (o->maildir, MW_POP3_STATE_SUFFIX, NULL);
  return g_strconcat (o->mbox, MW_POP3_STATE_SUFFIX, NULL);
}

/* The set of UIDLs already downloaded; a missing file is an empty set. */
static GHashTable *
mw_pop3_state_load (const char *path, GError **error)
{
  g_autoptr (GHashTable) seen =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) local_error = NULL;

  if (!g_file_get_contents (path, &contents, NULL, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_steal_pointer (&seen);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '\0')
      g_hash_table_add (seen, g_strdup (lines[i]));
  return g_steal_pointer (&seen);
}

/* Appends @text to @path and fsyncs it, with the file flock()ed
 * meanwhile, as mail readers expect of an mbox. */
static gboolean
mw_pop3_append_durably (const char *path,
                        const char *text,
                        gsize length,
                        GError **error)
{
  int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  gsize done = 0;
  gboolean ok = fd >= 0 && flock (fd, LOCK_EX) == 0;

  while (ok && done < length)
    {
      ssize_t n = write (fd, text + done, length - done);

      if (n < 0 && errno == EINTR)
        continue;
      ok = n > 0;
      done += ok ? (gsize) n : 0;
    }
  ok = ok && fsync (fd) == 0;
  if (!ok)
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "%s: %s",
                 path, g_strerror (errno));
  if (fd >= 0)
    close (fd);
  return ok;
}

/* ---- saving --------------------------------------------------------- */

/* "From <sender> <asctime>" (the mbox separator; sender from
 * Return-Path when there is one). */
static char *
mw_pop3_from_line (const char *text)
{
  g_autofree char *return_path = mw_pop3_header (text, "Return-Path");
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *date = g_date_time_format (now, "%a %b %e %H:%M:%S %Y");

  g_strdelimit (return_path, "<> \t", ' ');
  g_strstrip (return_path);
  return g_strdup_printf (
      "From %s %s\n", return_path[0] != '\0' ? return_path : "MAILER-DAEMON",
      date);
}

/* mboxrd: LF line ends, ">" added to lines matching /^>*From /, and an
 * empty line after the message. */
static GString *
mw_pop3_to_mboxrd (const char *text, gsize length)
{
  g_autofree char *from_line = mw_pop3_from_line (text);
  GString *out = g_string_sized_new (length + 128);
  gsize start = 0;

  g_string_append (out, from_line);
  while (start < length)
    {
      const char *newline = memchr (text + start, '\n', length - start);
      gsize end = newline ? (gsize) (newline - text) : length;
      gsize line_end = end > start && text[end - 1] == '\r' ? end - 1 : end;
      gsize quotes = start;

      while (quotes < line_end && text[quotes] == '>')
        quotes++;
      if (line_end - quotes >= 5 && memcmp (text + quotes, "From ", 5) == 0)
        g_string_append_c (out, '>');
      g_string_append_len (out, text + start, line_end - start);
      g_string_append_c (out, '\n');
      start = end + 1;
    }
  g_string_append_c (out, '\n');
  return out;
}

static gboolean
mw_pop3_save (const MwPop3Options *o, const GString *text, GError **error)
{
  g_autoptr (GString) mbox = NULL;

  if (o->maildir != NULL)
    return mail_maildir_deliver (o->maildir, NULL, text->str, text->len, NULL,
                                 error);
  mbox = mw_pop3_to_mboxrd (text->str, text->len);
  return mw_pop3_append_durably (o->mbox, mbox->str, mbox->len, error);
}

/* ---- downloading ---------------------------------------------------- */

typedef struct
{
  const MwPop3Options *options;
  Pop3Client *client;
  GHashTable *seen; /* UIDLs already here (from the state file) */
  char *state_path;
  guint downloaded;
  guint deleted;
} MwPop3Run;

/* Marks message @number for deletion. With PIPELINING the +OK is read
 * later, together with the next command's response. */
static gboolean
mw_pop3_delete (MwPop3Run *run, guint32 number, GError **error)
{
  g_autofree char *argument = g_strdup_printf ("%u", number);

  pop3_client_send (run->client, "DELE", argument);
  run->deleted++;
  if (pop3_client_can_pipeline (run->client))
    return TRUE;
  return pop3_client_receive_ok (run->client, error) != NULL;
}

/* Receives the responses still outstanding (pipelined DELEs) before the
 * response of the command just sent. */
static gboolean
mw_pop3_drain (MwPop3Run *run, GError **error)
{
  while (pop3_client_outstanding (run->client) > 1)
    {
      g_autoptr (Pop3Reply) reply = pop3_client_receive_ok (run->client, error);

      if (reply == NULL)
        return FALSE;
    }
  return TRUE;
}

/* RETR, save durably, then remember (--keep) or DELE. */
static gboolean
mw_pop3_fetch (MwPop3Run *run, const MwPop3Message *m, GError **error)
{
  g_autofree char *argument = g_strdup_printf ("%u", m->number);
  g_autoptr (Pop3Reply) reply = NULL;
  g_autofree char *line = NULL;

  pop3_client_send (run->client, "RETR", argument);
  if (!mw_pop3_drain (run, error))
    return FALSE;
  reply = pop3_client_receive_ok (run->client, error);
  if (reply == NULL || !mw_pop3_save (run->options, reply->body, error))
    return FALSE;
  run->downloaded++;
  if (!run->options->keep)
    return mw_pop3_delete (run, m->number, error);
  if (m->uidl == NULL)
    return TRUE;
  /* durable before the next message: a crash re-downloads at most one */
  line = g_strconcat (m->uidl, "\n", NULL);
  g_hash_table_add (run->seen, g_strdup (m->uidl));
  return mw_pop3_append_durably (run->state_path, line, strlen (line), error);
}

static gboolean
mw_pop3_download (MwPop3Run *run, GError **error)
{
  g_autoptr (GArray) messages = mw_pop3_list (run->client, error);

  if (messages == NULL)
    return FALSE;
  if (run->options->keep && messages->len > 0 &&
      g_array_index (messages, MwPop3Message, 0).uidl == NULL)
    {
      g_set_error (error, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_UNSUPPORTED,
                   "--keep needs UIDL, which this server lacks");
      return FALSE;
    }
  for (guint i = 0; i < messages->len; i++)
    {
      const MwPop3Message *m = &g_array_index (messages, MwPop3Message, i);
      gboolean have = m->uidl && g_hash_table_contains (run->seen, m->uidl);

      if (have && run->options->keep)
        continue;
      if (have && !mw_pop3_delete (run, m->number, error))
        return FALSE;
      if (!have && !mw_pop3_fetch (run, m, error))
        return FALSE;
    }
  /* RFC 1939 §6: the server deletes only now, in the UPDATE state */
  return pop3_client_quit (run->client, error);
}

/* ---- main ------------------------------------------------------------ */

static gboolean
mw_pop3_check_options (MwPop3Options *o, GError **error)
{
  if (o->user == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "--user is required");
      return FALSE;
    }
  if (!o->list && (o->maildir == NULL) == (o->mbox == NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "give one destination: --maildir DIR or --mbox FILE");
      return FALSE;
    }
  if (o->stls && o->tls)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "--stls and --tls exclude each other");
      return FALSE;
    }
  return mail_cli_take_password (&o->password, o->password_file, error);
}

static gboolean
mw_pop3_parse_auth (const char *text,
                    Pop3AuthMethod *out_method,
                    GError **error)
{
  if (text == NULL)
    *out_method = POP3_AUTH_AUTO;
  else if (g_ascii_strcasecmp (text, "plain") == 0)
    *out_method = POP3_AUTH_PLAIN;
  else if (g_ascii_strcasecmp (text, "login") == 0)
    *out_method = POP3_AUTH_LOGIN;
  else if (g_ascii_strcasecmp (text, "user") == 0)
    *out_method = POP3_AUTH_USER;
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--auth must be plain, login or user");
      return FALSE;
    }
  return TRUE;
}

/* Connects, upgrades with STLS if asked, logs in. */
static Pop3Client *
mw_pop3_open (const MwPop3Options *o, GError **error)
{
  g_autofree char *host = NULL;
  guint16 port = 0;
  Pop3AuthMethod method = POP3_AUTH_AUTO;
  g_autoptr (Pop3Client) client = NULL;

  if (!mw_pop3_parse_auth (o->auth, &method, error) ||
      !mail_net_parse_host_port (o->server ? o->server : "127.0.0.1",
                                 o->tls ? MAIL_DEFAULT_POP3S_PORT
                                        : MAIL_DEFAULT_POP3_PORT,
                                 &host, &port, error))
    return NULL;
  client = pop3_client_connect (
      host, port, o->tls, o->ca_file, o->insecure, MW_POP3_TIMEOUT,
      o->trace ? mail_cli_print_trace : NULL, NULL, error);
  if (client == NULL)
    return NULL;
  if (o->insecure)
    g_printerr ("mw-pop3: warning: --insecure: the server certificate is "
                "not checked\n");
  if (o->stls && !pop3_client_stls (client, o->ca_file, o->insecure, error))
    return NULL;
  if (!pop3_client_login (client, method, o->user, o->password, error))
    return NULL;
  return g_steal_pointer (&client);
}

static gboolean
mw_pop3_main (MwPop3Options *o, GError **error)
{
  g_autoptr (Pop3Client) client = NULL;
  g_autoptr (GHashTable) seen = NULL;
  g_autofree char *state_path = NULL;
  MwPop3Run run = { 0 };

  if (!mw_pop3_check_options (o, error))
    return FALSE;
  if (!o->list)
    {
      state_path = mw_pop3_state_path (o);
      seen = mw_pop3_state_load (state_path, error);
      if (seen == NULL)
        return FALSE;
      /* make the destination before talking to the server */
      if (o->maildir != NULL && g_mkdir_with_parents (o->maildir, 0700) != 0)
        {
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                       "%s: %s", o->maildir, g_strerror (errno));
          return FALSE;
        }
    }
  client = mw_pop3_open (o, error);
  if (client == NULL)
    return FALSE;
  if (o->list)
    return mw_pop3_show_list (client, error);
  run = (MwPop3Run){ o, client, seen, state_path, 0, 0 };
  if (!mw_pop3_download (&run, error))
    return FALSE;
  g_printerr ("mw-pop3: %u downloaded, %u deleted on the server%s\n",
              run.downloaded, o->keep ? 0 : run.deleted,
              o->keep ? " (--keep)" : "");
  return TRUE;
}

int
main (int argc, char **argv)
{
  MwPop3Options o = { 0 };
  g_autofree char *keylog = NULL;
  const GOptionEntry entries[] = {
    { "server", 's', 0, G_OPTION_ARG_STRING, &o.server,
      "POP3 server (default 127.0.0.1:2110, or :2995 with --tls)",
      "HOST[:PORT]" },
    { "stls", 0, 0, G_OPTION_ARG_NONE, &o.stls,
      "upgrade to TLS with STLS (RFC 2595)", NULL },
    { "tls", 0, 0, G_OPTION_ARG_NONE, &o.tls,
      "TLS from the first byte (port 995 style)", NULL },
    { "cafile", 0, 0, G_OPTION_ARG_FILENAME, &o.ca_file,
      "trust this CA (PEM) instead of the system store", "FILE" },
    { "insecure", 0, 0, G_OPTION_ARG_NONE, &o.insecure,
      "do not check the server certificate", NULL },
    { "user", 'u', 0, G_OPTION_ARG_STRING, &o.user, "login name", "NAME" },
    { "password", 'p', 0, G_OPTION_ARG_STRING, &o.password, "password",
      "SECRET" },
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &o.password_file,
      "read the password from the first line of FILE", "FILE" },
    { "auth", 0, 0, G_OPTION_ARG_STRING, &o.auth,
      "plain, login or user (default: AUTH PLAIN if offered, else USER)",
      "METHOD" },
    { "maildir", 0, 0, G_OPTION_ARG_FILENAME, &o.maildir,
      "save into this Maildir (created if missing)", "DIR" },
    { "mbox", 0, 0, G_OPTION_ARG_FILENAME, &o.mbox,
      "append to this mbox file (mboxrd)", "FILE" },
    { "keep", 'k', 0, G_OPTION_ARG_NONE, &o.keep,
      "leave messages on the server; skip those already downloaded", NULL },
    { "list", 'l', 0, G_OPTION_ARG_NONE, &o.list,
      "list the maildrop (LIST, UIDL, TOP 0) without downloading", NULL },
    { "trace", 't', 0, G_OPTION_ARG_NONE, &o.trace,
      "print every line, annotated with its meaning and RFC", NULL },
    { "keylog", 0, 0, G_OPTION_ARG_FILENAME, &keylog,
      "append the TLS secrets to FILE (for mw-trace --keylog)", "FILE" },
    { NULL },
  };
  g_autoptr (GOptionContext) options =
      g_option_context_new ("- download mail with POP3");
  g_autoptr (GError) error = NULL;
  int status = 0;

  mail_cli_init_locale ();
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) ||
      !mail_tls_set_keylog (keylog, &error))
    status = 2;
  else if (!mw_pop3_main (&o, &error))
    status = 1;
  if (status != 0)
    g_printerr ("mw-pop3: %s\n", error->message);
  mw_pop3_options_clear (&o);
  return status;
}
