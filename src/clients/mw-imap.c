/* SPDX-License-Identifier: MIT
 * mw-imap: an IMAP client that shows what pull with state on the server
 * means (RFC 9051). Mail stays on the server; folders, flags and
 * deletions live there too, and every session sees them:
 *
 *   mw-imap [OPTIONS] list                      folders, special use, counts
 *   mw-imap [OPTIONS] fetch FOLDER [UIDS]       summaries, or whole messages
 *   mw-imap [OPTIONS] search FOLDER KEYS...     UIDs matching SEARCH keys
 *   mw-imap [OPTIONS] flag FOLDER UIDS +\Seen -\Flagged ...
 *   mw-imap [OPTIONS] move FOLDER UIDS TO       MOVE (RFC 6851) or COPY+EXPUNGE
 *   mw-imap [OPTIONS] append FOLDER FILE        upload a message (APPEND)
 *   mw-imap [OPTIONS] watch [FOLDER]            IDLE: print every push
 *   mw-imap [OPTIONS] --maildir DIR sync [FOLDER...]   two-way sync
 *
 * This file holds main (), the connection and the one-shot subcommands.
 */
#include "mw-imap.h"

#include <gmime/gmime.h>
#include <stdio.h>
#include <string.h>

#include "mail-cli.h"
#include "mail-config.h"
#include "mail-net.h"
#include "mail-tls.h"

/* ---- connection ----------------------------------------------------- */

static gboolean
mw_imap_parse_auth (const char *text,
                    ImapAuthMethod *out_method,
                    GError **error)
{
  if (text == NULL)
    *out_method = IMAP_AUTH_AUTO;
  else if (g_ascii_strcasecmp (text, "plain") == 0)
    *out_method = IMAP_AUTH_PLAIN;
  else if (g_ascii_strcasecmp (text, "login") == 0)
    *out_method = IMAP_AUTH_LOGIN;
  else if (g_ascii_strcasecmp (text, "command") == 0)
    *out_method = IMAP_AUTH_LOGIN_COMMAND;
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--auth must be plain, login or command");
      return FALSE;
    }
  return TRUE;
}

ImapClient *
mw_imap_open (const MwImapOptions *o, GError **error)
{
  static const char *const extensions[] = { "QRESYNC", "CONDSTORE",
                                            "UTF8=ACCEPT", NULL };
  g_autofree char *host = NULL;
  guint16 port = 0;
  ImapAuthMethod method = IMAP_AUTH_AUTO;
  g_autoptr (ImapClient) client = NULL;

  if (!mw_imap_parse_auth (o->auth, &method, error) ||
      !mail_net_parse_host_port (o->server ? o->server : "127.0.0.1",
                                 o->tls ? MAIL_DEFAULT_IMAPS_PORT
                                        : MAIL_DEFAULT_IMAP_PORT,
                                 &host, &port, error))
    return NULL;
  client = imap_client_connect (
      host, port, o->tls, o->ca_file, o->insecure, MW_IMAP_TIMEOUT,
      o->trace ? mail_cli_print_trace : NULL, NULL, error);
  if (client == NULL)
    return NULL;
  if (o->insecure)
    g_printerr ("mw-imap: warning: --insecure: the server certificate is "
                "not checked\n");
  if (o->starttls &&
      !imap_client_starttls (client, o->ca_file, o->insecure, error))
    return NULL;
  if (!imap_client_login (client, method, o->user, o->password, error))
    return NULL;
  if (!o->no_qresync && !imap_client_enable (client, extensions, error))
    return NULL;
  return g_steal_pointer (&client);
}

gboolean
mw_imap_check_uid_set (const char *text, GError **error)
{
  g_autoptr (ImapSeqSet) set = NULL;
  g_autoptr (GError) local_error = NULL;

  if (text != NULL && strcmp (text, "$") != 0)
    set = imap_seqset_parse (text, &local_error);
  if (set == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "\"%s\" is not a set of UIDs (like 7, 1:4,9 or 5:*)",
                   text ? text : "");
      return FALSE;
    }
  return TRUE;
}

/* ---- printing ------------------------------------------------------- */

static char *
mw_imap_decode_text (const ImapArg *arg)
{
  const char *text = imap_arg_string (arg);

  /* RFC 2047 encoded words, as the server sends them in ENVELOPE */
  return text ? g_mime_utils_header_decode_text (NULL, text) : NULL;
}

/* address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")" */
static char *
mw_imap_describe_address (const ImapArg *addresses)
{
  const ImapArg *address = NULL;
  g_autofree char *name = NULL;
  const char *mailbox = NULL;
  const char *host = NULL;

  if (addresses == NULL || addresses->type != IMAP_ARG_LIST ||
      addresses->list->len == 0)
    return g_strdup ("(nobody)");
  address = g_ptr_array_index (addresses->list, 0);
  if (address->type != IMAP_ARG_LIST || address->list->len != 4)
    return g_strdup ("(?)");
  name = mw_imap_decode_text (g_ptr_array_index (address->list, 0));
  mailbox = imap_arg_string (g_ptr_array_index (address->list, 2));
  host = imap_arg_string (g_ptr_array_index (address->list, 3));
  if (name != NULL && name[0] != '\0')
    return g_strdup (name);
  return g_strdup_printf ("%s@%s", mailbox ? mailbox : "?", host ? host : "?");
}

char *
mw_imap_describe_envelope (const ImapArg *envelope)
{
  g_autofree char *from = NULL;
  g_autofree char *subject = NULL;

  /* envelope = "(" date SP subject SP from SP sender ... ")" (§9) */
  if (envelope == NULL || envelope->type != IMAP_ARG_LIST ||
      envelope->list->len < 3)
    return g_strdup ("(no envelope)");
  from = mw_imap_describe_address (g_ptr_array_index (envelope->list, 2));
  subject = mw_imap_decode_text (g_ptr_array_index (envelope->list, 1));
  return g_strdup_printf ("from %s: %s", from,
                          subject ? subject : "(no subject)");
}

/* ---- list ----------------------------------------------------------- */

/* "\\HasNoChildren \\Sent" -> "\\Sent": the special use (RFC 6154 §2) */
static const char *
mw_imap_special_use (const ImapArg *attributes)
{
  static const char *const uses[] = { "\\All",     "\\Archive", "\\Drafts",
                                      "\\Flagged", "\\Junk",    "\\Sent",
                                      "\\Trash",   NULL };

  for (guint i = 0; attributes && i < attributes->list->len; i++)
    {
      const ImapArg *attribute = g_ptr_array_index (attributes->list, i);

      for (guint u = 0; uses[u] != NULL; u++)
        if (imap_arg_is_atom (attribute, uses[u]))
          return uses[u];
    }
  return "";
}

static gboolean
mw_imap_has_attribute (const ImapArg *attributes, const char *name)
{
  for (guint i = 0; attributes && i < attributes->list->len; i++)
    if (imap_arg_is_atom (g_ptr_array_index (attributes->list, i), name))
      return TRUE;
  return FALSE;
}

/* STATUS (MESSAGES 3 UNSEEN 1): the value after @name */
static guint64
mw_imap_status_value (const ImapReply *status, const char *name)
{
  const ImapArg *items = NULL;

  if (status == NULL || status->args->len < 2)
    return 0;
  items = g_ptr_array_index (status->args, 1);
  for (guint i = 0; items->type == IMAP_ARG_LIST && i + 1 < items->list->len;
       i += 2)
    if (imap_arg_is_atom (g_ptr_array_index (items->list, i), name))
      return g_ascii_strtoull (
          ((ImapArg *) g_ptr_array_index (items->list, i + 1))->data, NULL, 10);
  return 0;
}

/* The STATUS response for @name among @replies (LIST-STATUS, RFC 5819
 * §2), or one asked for now and added to @replies (transfer none). */
static const ImapReply *
mw_imap_find_status (ImapClient *client, GPtrArray *replies, const char *name)
{
  g_autoptr (GString) command = g_string_new ("STATUS ");
  g_autoptr (GPtrArray) untagged = NULL;
  g_autoptr (ImapReply) tagged = NULL;

  for (guint i = 0; i < replies->len; i++)
    {
      const ImapReply *reply = g_ptr_array_index (replies, i);
      g_autofree char *mailbox = NULL;

      if (!imap_reply_is (reply, "STATUS") || reply->args->len < 2)
        continue;
      mailbox = imap_client_decode_mailbox (
          client, imap_arg_astring (g_ptr_array_index (reply->args, 0)));
      if (g_strcmp0 (mailbox, name) == 0)
        return reply;
    }
  /* no LIST-STATUS: one STATUS per folder (RFC 9051 §6.3.11) */
  imap_client_append_mailbox (client, command, name);
  g_string_append (command, " (MESSAGES UNSEEN)");
  tagged = imap_client_command_ok (client, command->str, command->len,
                                   &untagged, NULL);
  if (tagged == NULL)
    return NULL;
  for (guint i = 0; i < untagged->len; i++)
    if (imap_reply_is (g_ptr_array_index (untagged, i), "STATUS"))
      {
        g_ptr_array_add (replies, g_steal_pointer (&untagged->pdata[i]));
        return g_ptr_array_index (replies, replies->len - 1);
      }
  return NULL;
}

static gboolean
mw_imap_list (ImapClient *client, GError **error)
{
  gboolean extended = imap_client_has_capability (client, "LIST-EXTENDED");
  gboolean with_status = imap_client_has_capability (client, "LIST-STATUS");
  g_autoptr (GPtrArray) replies = NULL;
  guint listed = 0;
  g_autoptr (ImapReply) tagged = imap_client_run (
      client, &replies, error, "LIST \"\" \"*\"%s%s%s",
      extended ? " RETURN (SPECIAL-USE" : "",
      extended && with_status ? " STATUS (MESSAGES UNSEEN)" : "",
      extended ? ")" : "");

  if (tagged == NULL)
    return FALSE;
  printf ("%-24s %-9s %8s %8s\n", "folder", "use", "messages", "unseen");
  /* STATUS replies asked for on the way are added after these */
  listed = replies->len;
  for (guint i = 0; i < listed; i++)
    {
      ImapReply *reply = g_ptr_array_index (replies, i);
      const ImapArg *attributes = NULL;
      g_autofree char *name = NULL;
      const ImapReply *status = NULL;

      /* mailbox-list = "(" [mbx-list-flags] ")" SP delimiter SP mailbox */
      if (!imap_reply_is (reply, "LIST") || reply->args->len < 3)
        continue;
      attributes = g_ptr_array_index (reply->args, 0);
      name = imap_client_decode_mailbox (
          client, imap_arg_astring (g_ptr_array_index (reply->args, 2)));
      if (mw_imap_has_attribute (attributes, "\\Noselect") ||
          mw_imap_has_attribute (attributes, "\\NonExistent"))
        {
          printf ("%-24s %-9s %8s %8s\n", name, "", "-", "-");
          continue;
        }
      status = mw_imap_find_status (client, replies, name);
      printf ("%-24s %-9s %8" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT "\n",
              name, mw_imap_special_use (attributes),
              mw_imap_status_value (status, "MESSAGES"),
              mw_imap_status_value (status, "UNSEEN"));
    }
  return TRUE;
}

/* ---- fetch ---------------------------------------------------------- */

static gboolean
mw_imap_fetch_summaries (ImapClient *client, GError **error)
{
  g_autoptr (GPtrArray) replies = NULL;
  g_autoptr (ImapReply) tagged = NULL;

  if (imap_client_get_mailbox (client)->exists == 0)
    return TRUE;
  tagged = imap_client_run (client, &replies, error,
                            "UID FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)");
  if (tagged == NULL)
    return FALSE;
  for (guint i = 0; i < replies->len; i++)
    {
      ImapReply *reply = g_ptr_array_index (replies, i);
      guint64 uid = 0;
      guint64 size = 0;
      g_autofree char *flags = NULL;
      g_autofree char *what = NULL;

      if (!imap_reply_fetch_number (reply, "UID", &uid))
        continue;
      imap_reply_fetch_number (reply, "RFC822.SIZE", &size);
      flags = imap_arg_join_atoms (imap_reply_fetch_item (reply, "FLAGS"));
      what =
          mw_imap_describe_envelope (imap_reply_fetch_item (reply, "ENVELOPE"));
      printf ("%6" G_GUINT64_FORMAT "  %-18s %8" G_GUINT64_FORMAT "  %s\n", uid,
              flags, size, what);
    }
  return TRUE;
}

/* Whole messages (BODY[] marks them \Seen, as reading does, RFC 9051
 * §6.4.5; --peek does not) or their headers. */
static gboolean
mw_imap_fetch_messages (ImapClient *client,
                        const MwImapOptions *o,
                        const char *uids,
                        GError **error)
{
  const char *item = o->headers ? "BODY.PEEK[HEADER]"
                     : o->peek  ? "BODY.PEEK[]"
                                : "BODY[]";
  g_autoptr (GPtrArray) replies = NULL;
  g_autoptr (ImapReply) tagged = imap_client_run (
      client, &replies, error, "UID FETCH %s (UID %s)", uids, item);

  if (tagged == NULL)
    return FALSE;
  for (guint i = 0; i < replies->len; i++)
    {
      ImapReply *reply = g_ptr_array_index (replies, i);
      const ImapArg *body = imap_reply_fetch_item (reply, "BODY[");
      guint64 uid = 0;

      if (body == NULL || !imap_reply_fetch_number (reply, "UID", &uid))
        continue;
      printf ("==> message %" G_GUINT64_FORMAT " (%" G_GSIZE_FORMAT
              " octets) <==\n",
              uid, body->length);
      fwrite (body->data ? body->data : "", 1, body->length, stdout);
      printf ("\n");
    }
  return TRUE;
}

/* ---- search --------------------------------------------------------- */

/* Each word as the shell gave it: SEARCH keys and parentheses as they
 * are, other text (a subject with spaces, 8-bit) quoted. */
static void
mw_imap_append_search_word (GString *out, const char *word)
{
  gboolean plain = word[0] != '\0';

  for (const char *p = word; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("():*,.-_\\$<>@+", *p) == NULL)
      plain = FALSE;
  if (plain)
    g_string_append (out, word);
  else
    imap_append_string (out, word, strlen (word), FALSE, TRUE);
}

static void
mw_imap_print_search (const ImapReply *reply)
{
  /* "* SEARCH 1 2 3" (RFC 3501 §7.2.5) or "* ESEARCH (TAG "A3") UID ALL
   * 1:3" (RFC 9051 §7.3.4) */
  for (guint i = 0; i < reply->args->len; i++)
    {
      const ImapArg *arg = g_ptr_array_index (reply->args, i);

      if (imap_reply_is (reply, "SEARCH") && arg->type == IMAP_ARG_ATOM)
        printf ("%s\n", arg->data);
      else if (imap_arg_is_atom (arg, "ALL") && i + 1 < reply->args->len)
        printf ("%s\n",
                ((ImapArg *) g_ptr_array_index (reply->args, i + 1))->data);
    }
}

static gboolean
mw_imap_search (ImapClient *client, char **keys, GError **error)
{
  g_autoptr (GString) command = g_string_new ("UID SEARCH CHARSET UTF-8");
  g_autoptr (GPtrArray) replies = NULL;
  g_autoptr (ImapReply) tagged = NULL;

  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_string_append_c (command, ' ');
      mw_imap_append_search_word (command, keys[i]);
    }
  /* rev2 servers answer ESEARCH; the keys may hold literals */
  tagged = imap_client_command_ok (client, command->str, command->len, &replies,
                                   error);
  if (tagged == NULL)
    return FALSE;
  for (guint i = 0; i < replies->len; i++)
    mw_imap_print_search (g_ptr_array_index (replies, i));
  return TRUE;
}

/* ---- flag ----------------------------------------------------------- */

static gboolean
mw_imap_flag (ImapClient *client,
              const char *uids,
              char **changes,
              GError **error)
{
  for (guint i = 0; changes[i] != NULL; i++)
    {
      g_autoptr (GPtrArray) replies = NULL;
      g_autoptr (ImapReply) tagged = NULL;
      char sign = changes[i][0];

      if ((sign != '+' && sign != '-') || changes[i][1] == '\0')
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "\"%s\": write +FLAG or -FLAG (+\\Seen, -\\Flagged)",
                       changes[i]);
          return FALSE;
        }
      /* RFC 9051 §6.4.6: UID STORE set +FLAGS (flag) answers FETCH FLAGS */
      tagged =
          imap_client_run (client, &replies, error, "UID STORE %s %cFLAGS (%s)",
                           uids, sign, changes[i] + 1);
      if (tagged == NULL)
        return FALSE;
      for (guint r = 0; r < replies->len; r++)
        {
          ImapReply *reply = g_ptr_array_index (replies, r);
          guint64 uid = 0;
          g_autofree char *flags =
              imap_arg_join_atoms (imap_reply_fetch_item (reply, "FLAGS"));

          if (imap_reply_fetch_number (reply, "UID", &uid))
            printf ("message %" G_GUINT64_FORMAT ": flags now (%s)\n", uid,
                    flags);
        }
    }
  return TRUE;
}

/* ---- move ----------------------------------------------------------- */

/* "[COPYUID 38505 304,319 3956:3957]" (RFC 4315 §3): in COPY's tagged
 * OK, or in an untagged OK before MOVE's (RFC 6851 §4.3). */
static const char *
mw_imap_find_copyuid (const ImapReply *tagged, GPtrArray *untagged)
{
  if (imap_reply_has_code (tagged, IMAP_CODE_COPYUID))
    return tagged->response.code_args;
  for (guint i = 0; i < untagged->len; i++)
    if (imap_reply_has_code (g_ptr_array_index (untagged, i),
                             IMAP_CODE_COPYUID))
      return ((ImapReply *) g_ptr_array_index (untagged, i))
          ->response.code_args;
  return NULL;
}

static gboolean
mw_imap_move (ImapClient *client,
              const char *uids,
              const char *target,
              GError **error)
{
  g_autoptr (GString) command = g_string_new (NULL);
  g_autoptr (GPtrArray) untagged = NULL;
  g_autoptr (ImapReply) moved = NULL;
  g_autoptr (ImapReply) reply = NULL;
  const char *copyuid = NULL;
  gboolean has_move = imap_client_has_capability (client, "MOVE");

  g_string_printf (command, "UID %s %s ", has_move ? "MOVE" : "COPY", uids);
  imap_client_append_mailbox (client, command, target);
  moved = imap_client_command_ok (client, command->str, command->len, &untagged,
                                  error);
  if (moved == NULL)
    return FALSE;
  copyuid = mw_imap_find_copyuid (moved, untagged);
  /* without MOVE (RFC 6851 §3.3): the copy is durable once COPY said OK;
   * only then are the originals marked and expunged */
  if (!has_move)
    {
      reply = imap_client_run (client, NULL, error,
                               "UID STORE %s +FLAGS.SILENT (\\Deleted)", uids);
      if (reply == NULL)
        return FALSE;
      g_clear_pointer (&reply, imap_reply_free);
      reply =
          imap_client_has_capability (client, "UIDPLUS")
              ? imap_client_run (client, NULL, error, "UID EXPUNGE %s", uids)
              : imap_client_run (client, NULL, error, "EXPUNGE");
      if (reply == NULL)
        return FALSE;
    }
  printf ("moved %s to %s%s%s\n", uids, target,
          copyuid ? " (COPYUID: UIDVALIDITY, old UIDs, new UIDs) " : "",
          copyuid ? copyuid : "");
  return TRUE;
}

/* ---- append --------------------------------------------------------- */

GBytes *
mw_imap_crlf (const char *data, gsize length)
{
  g_autoptr (GString) crlf = g_string_sized_new (length + length / 32);

  for (gsize i = 0; i < length; i++)
    {
      if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
        g_string_append_c (crlf, '\r');
      g_string_append_c (crlf, data[i]);
    }
  return g_string_free_to_bytes (g_steal_pointer (&crlf));
}

/* A message file; LF line ends get CRLF, since mw-imapd stores what
 * APPEND sends. */
static GBytes *
mw_imap_read_message (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (!g_file_get_contents (path, &contents, &length, error))
    return NULL;
  return mw_imap_crlf (contents, length);
}

static gboolean
mw_imap_append (ImapClient *client,
                const MwImapOptions *o,
                const char *folder,
                const char *path,
                GError **error)
{
  g_autoptr (GBytes) message = mw_imap_read_message (path, error);
  guint32 uidvalidity = 0;
  guint32 uid = 0;

  if (message == NULL ||
      !imap_client_append (client, folder, o->flags, 0, message, &uidvalidity,
                           &uid, error))
    return FALSE;
  if (uid != 0)
    printf ("appended to %s as UID %u (UIDVALIDITY %u)\n", folder, uid,
            uidvalidity);
  else
    printf ("appended to %s\n", folder);
  return TRUE;
}

/* ---- main ----------------------------------------------------------- */

static gboolean
mw_imap_need (char **args, guint count, const char *usage, GError **error)
{
  if (g_strv_length (args) >= count)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "usage: %s",
               usage);
  return FALSE;
}

/* The subcommands that select one folder and do one thing. */
static gboolean
mw_imap_one_shot (ImapClient *client,
                  const MwImapOptions *o,
                  const char *command,
                  char **args,
                  GError **error)
{
  gboolean read_only = strcmp (command, "fetch") == 0 && o->peek;

  if (!imap_client_select (client, args[0], read_only, NULL, NULL, error))
    return FALSE;
  if (strcmp (command, "fetch") == 0)
    return args[1] == NULL
               ? mw_imap_fetch_summaries (client, error)
               : mw_imap_check_uid_set (args[1], error) &&
                     mw_imap_fetch_messages (client, o, args[1], error);
  if (strcmp (command, "search") == 0)
    return mw_imap_search (client, args + 1, error);
  if (!mw_imap_check_uid_set (args[1], error))
    return FALSE;
  if (strcmp (command, "flag") == 0)
    return mw_imap_flag (client, args[1], args + 2, error);
  return mw_imap_move (client, args[1], args[2], error);
}

/* [command, minimum arguments, usage] */
static const struct
{
  const char *name;
  guint minimum;
  const char *usage;
} mw_imap_commands[] = {
  { "list", 0, "mw-imap list" },
  { "fetch", 1, "mw-imap fetch FOLDER [UIDS]" },
  { "search", 2, "mw-imap search FOLDER KEY..." },
  { "flag", 3, "mw-imap flag FOLDER UIDS +FLAG|-FLAG..." },
  { "move", 3, "mw-imap move FOLDER UIDS TO-FOLDER" },
  { "append", 2, "mw-imap append FOLDER FILE" },
  { "watch", 0, "mw-imap watch [FOLDER]" },
  { "sync", 0, "mw-imap --maildir DIR sync [FOLDER...]" },
};

static gboolean
mw_imap_dispatch (const MwImapOptions *o, char **argv, GError **error)
{
  const char *command = argv[0];
  char **args = argv + 1;
  g_autoptr (ImapClient) client = NULL;
  gboolean ok = FALSE;
  guint i = 0;

  for (i = 0; i < G_N_ELEMENTS (mw_imap_commands); i++)
    if (g_strcmp0 (command, mw_imap_commands[i].name) == 0)
      break;
  if (i == G_N_ELEMENTS (mw_imap_commands))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "give a command: list, fetch, search, flag, move, append, "
                   "watch or sync (see --help)");
      return FALSE;
    }
  if (!mw_imap_need (args, mw_imap_commands[i].minimum,
                     mw_imap_commands[i].usage, error))
    return FALSE;
  if (strcmp (command, "watch") == 0)
    return mw_imap_watch (o, args, error);
  if (strcmp (command, "sync") == 0)
    return mw_imap_sync (o, args, error);
  client = mw_imap_open (o, error);
  if (client == NULL)
    return FALSE;
  if (strcmp (command, "list") == 0)
    ok = mw_imap_list (client, error);
  else if (strcmp (command, "append") == 0)
    ok = mw_imap_append (client, o, args[0], args[1], error);
  else
    ok = mw_imap_one_shot (client, o, command, args, error);
  return ok && imap_client_logout (client, error);
}

static gboolean
mw_imap_check_options (MwImapOptions *o, GError **error)
{
  if (o->user == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "--user is required");
      return FALSE;
    }
  if (o->starttls && o->tls)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "--starttls and --tls exclude each other");
      return FALSE;
    }
  return mail_cli_take_password (&o->password, o->password_file, error);
}

static void
mw_imap_options_clear (MwImapOptions *o)
{
  g_free (o->server);
  g_free (o->ca_file);
  g_free (o->user);
  if (o->password != NULL)
    explicit_bzero (o->password, strlen (o->password));
  g_free (o->password);
  g_free (o->password_file);
  g_free (o->auth);
  g_free (o->flags);
  g_free (o->maildir);
}

int
main (int argc, char **argv)
{
  MwImapOptions o = { .idle_renew = 25 * 60 };
  g_autofree char *keylog = NULL;
  const GOptionEntry entries[] = {
    { "server", 's', 0, G_OPTION_ARG_STRING, &o.server,
      "IMAP server (default 127.0.0.1:2143, or :2993 with --tls)",
      "HOST[:PORT]" },
    { "starttls", 0, 0, G_OPTION_ARG_NONE, &o.starttls,
      "upgrade to TLS with STARTTLS (RFC 9051 §6.2.1)", NULL },
    { "tls", 0, 0, G_OPTION_ARG_NONE, &o.tls,
      "TLS from the first byte (port 993 style, RFC 8314)", NULL },
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
      "plain, login or command (default: AUTHENTICATE PLAIN if offered, "
      "else LOGIN)",
      "METHOD" },
    { "trace", 't', 0, G_OPTION_ARG_NONE, &o.trace,
      "print every line, annotated with its meaning and RFC", NULL },
    { "headers", 0, 0, G_OPTION_ARG_NONE, &o.headers,
      "fetch: only the header of each message", NULL },
    { "peek", 0, 0, G_OPTION_ARG_NONE, &o.peek,
      "fetch: do not mark the messages \\Seen (BODY.PEEK)", NULL },
    { "flags", 0, 0, G_OPTION_ARG_STRING, &o.flags,
      "append: the flags of the new message (\"\\Seen \\Flagged\")", "FLAGS" },
    { "idle-renew", 0, 0, G_OPTION_ARG_INT, &o.idle_renew,
      "watch: renew IDLE after this many seconds (default 1500; RFC 9051 "
      "§5.4 servers wait 30 min at least)",
      "SECONDS" },
    { "max-events", 0, 0, G_OPTION_ARG_INT, &o.max_events,
      "watch: stop after this many pushes (default: at Ctrl-C)", "N" },
    { "maildir", 0, 0, G_OPTION_ARG_FILENAME, &o.maildir,
      "sync: the local Maildir (created if missing)", "DIR" },
    { "no-qresync", 0, 0, G_OPTION_ARG_NONE, &o.no_qresync,
      "do not ENABLE CONDSTORE/QRESYNC (shows the slower fallback)", NULL },
    { "keylog", 0, 0, G_OPTION_ARG_FILENAME, &keylog,
      "append the TLS secrets to FILE (for mw-trace --keylog)", "FILE" },
    { NULL },
  };
  g_autoptr (GOptionContext) options =
      g_option_context_new ("COMMAND [ARGS] - IMAP client");
  g_autoptr (GError) error = NULL;
  int status = 0;

  mail_cli_init_locale ();
  g_mime_init ();
  g_option_context_add_main_entries (options, entries, NULL);
  /* options end at the command: "flag INBOX 3 -\\Seen" is no option */
  g_option_context_set_strict_posix (options, TRUE);
  g_option_context_set_description (
      options, "Commands: list | fetch FOLDER [UIDS] | search FOLDER KEYS... "
               "| flag FOLDER UIDS +\\Seen -\\Flagged ... | move FOLDER UIDS "
               "TO | append FOLDER FILE | watch [FOLDER] | --maildir DIR sync "
               "[FOLDER...]\n"
               "Options go before the command (flags such as -\\Seen "
               "follow it).\n");
  if (!g_option_context_parse (options, &argc, &argv, &error) ||
      !mail_tls_set_keylog (keylog, &error))
    status = 2;
  else if (!mw_imap_check_options (&o, &error) ||
           !mw_imap_dispatch (&o, argv + 1, &error))
    status = 1;
  if (status != 0)
    g_printerr ("mw-imap: %s\n", error->message);
  mw_imap_options_clear (&o);
  g_mime_shutdown ();
  return status;
}
