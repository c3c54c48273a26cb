/* SPDX-License-Identifier: MIT
 * imap-client-session.c: the commands of the IMAP client that have a
 * shape of their own: login (RFC 9051 §6.2.2 AUTHENTICATE with RFC 4959
 * SASL-IR, §6.2.3 LOGIN), ENABLE (RFC 5161), SELECT/EXAMINE (§6.3.2,
 * §6.3.3; RFC 7162 §3.2.5), APPEND (§6.3.12; RFC 4315 §3), IDLE (RFC
 * 2177), LOGOUT (§6.1.3), and reading FETCH responses (§7.5.2).
 */
#include <string.h>

#include "imap-client-private.h"
#include "mail-auth.h"

/* ---- login ---------------------------------------------------------- */

static gboolean
imap_client_offers_sasl (ImapClient *client, const char *mechanism)
{
  g_autofree char *name = g_strconcat ("AUTH=", mechanism, NULL);

  return imap_client_has_capability (client, name);
}

/* After a login the capabilities change (RFC 9051 §6.2.2): take them
 * from the tagged OK's [CAPABILITY] or ask. */
static gboolean
imap_client_logged_in (ImapClient *client,
                       const ImapReply *reply,
                       GError **error)
{
  /* AUTHENTICATE's tagged reply is read here, not by wait_tagged ():
   * its [CAPABILITY] must be taken here too */
  if (imap_client_take_capability_code (client, reply))
    return TRUE;
  return imap_client_capability (client, error);
}

static gboolean
imap_client_refused_login (const ImapReply *reply, GError **error)
{
  g_autoptr (GError) refused = NULL;

  if (imap_client_check_ok (reply, &refused))
    return FALSE;
  g_set_error (error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_AUTH,
               "login refused: %s", refused->message);
  return TRUE;
}

/* RFC 9051 §6.2.2: "AUTHENTICATE" SP auth-type [SP initial-resp], then
 * one base64 line per "+" challenge, "*" to cancel when we have none. */
static gboolean
imap_client_authenticate (ImapClient *client,
                          const char *mechanism,
                          const char *initial,
                          const char *const *responses,
                          GError **error)
{
  g_autofree char *command =
      g_strdup_printf ("AUTHENTICATE %s%s%s", mechanism, initial ? " " : "",
                       initial ? initial : "");
  g_autofree char *line = NULL;

  line = g_strdup_printf ("%s %s", imap_client_new_tag (client, "AUTHENTICATE"),
                          command);
  client->mask_after =
      initial ? strlen ("AUTHENTICATE ") + strlen (mechanism) + 1 : 0;
  mail_stream_write_line (client->stream, line);
  client->mask_after = 0;
  explicit_bzero (line, strlen (line));
  explicit_bzero (command, strlen (command));
  for (;;)
    {
      g_autoptr (ImapReply) reply = NULL;

      if (!mail_stream_flush (client->stream, NULL, error))
        return FALSE;
      reply = imap_client_read_reply (client, NULL, error);
      if (reply == NULL)
        return FALSE;
      if (reply->response.kind == IMAP_RESPONSE_TAGGED)
        return !imap_client_refused_login (reply, error) &&
               imap_client_logged_in (client, reply, error);
      if (reply->response.kind != IMAP_RESPONSE_CONTINUATION)
        continue;
      client->mask_line = TRUE;
      mail_stream_write_line (client->stream,
                              *responses != NULL ? *responses++ : "*");
    }
}

/* RFC 4616: one message "\0user\0password", sent at once with SASL-IR. */
static gboolean
imap_client_login_plain (ImapClient *client,
                         const char *user,
                         const char *password,
                         GError **error)
{
  g_autofree char *response = mail_sasl_plain_encode (NULL, user, password);
  const char *responses[] = { response, NULL };
  gboolean ir = imap_client_has_capability (client, "SASL-IR");
  gboolean ok =
      imap_client_authenticate (client, "PLAIN", ir ? response : NULL,
                                ir ? responses + 1 : responses, error);

  explicit_bzero (response, strlen (response));
  return ok;
}

/* LOGIN: the user name, then the password, each base64 after a "+" */
static gboolean
imap_client_login_sasl_login (ImapClient *client,
                              const char *user,
                              const char *password,
                              GError **error)
{
  g_autofree char *user64 =
      g_base64_encode ((const guchar *) user, strlen (user));
  g_autofree char *password64 =
      g_base64_encode ((const guchar *) password, strlen (password));
  const char *responses[] = { user64, password64, NULL };
  gboolean ok =
      imap_client_authenticate (client, "LOGIN", NULL, responses, error);

  explicit_bzero (password64, strlen (password64));
  return ok;
}

/* RFC 9051 §6.2.3: LOGIN SP userid SP password (astrings) */
static gboolean
imap_client_login_command (ImapClient *client,
                           const char *user,
                           const char *password,
                           GError **error)
{
  g_autoptr (GString) command = g_string_new ("LOGIN ");
  g_autoptr (ImapReply) reply = NULL;

  imap_append_string (command, user, strlen (user), TRUE, FALSE);
  g_string_append_c (command, ' ');
  imap_append_string (command, password, strlen (password), TRUE, FALSE);
  client->mask_after = strlen ("LOGIN ");
  reply = imap_client_command (client, command->str, command->len, NULL, error);
  explicit_bzero (command->str, command->len);
  if (reply == NULL)
    return FALSE;
  return !imap_client_refused_login (reply, error) &&
         imap_client_logged_in (client, reply, error);
}

static gboolean
imap_client_choose_method (ImapClient *client,
                           ImapAuthMethod *inout_method,
                           GError **error)
{
  gboolean login_allowed =
      !imap_client_has_capability (client, "LOGINDISABLED");

  if (*inout_method == IMAP_AUTH_AUTO)
    *inout_method = imap_client_offers_sasl (client, "PLAIN")
                        ? IMAP_AUTH_PLAIN
                        : IMAP_AUTH_LOGIN_COMMAND;
  if ((*inout_method == IMAP_AUTH_PLAIN &&
       !imap_client_offers_sasl (client, "PLAIN")) ||
      (*inout_method == IMAP_AUTH_LOGIN &&
       !imap_client_offers_sasl (client, "LOGIN")) ||
      (*inout_method == IMAP_AUTH_LOGIN_COMMAND && !login_allowed))
    {
      g_set_error (error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_UNSUPPORTED,
                   "the server does not offer this login here%s",
                   imap_client_is_tls (client)
                       ? ""
                       : " (LOGINDISABLED: use --starttls or --tls)");
      return FALSE;
    }
  return TRUE;
}

gboolean
imap_client_login (ImapClient *client,
                   ImapAuthMethod method,
                   const char *user,
                   const char *password,
                   GError **error)
{
  g_return_val_if_fail (user != NULL && password != NULL, FALSE);

  /* RFC 9051 §7.1.4: PREAUTH, the connection is authenticated already */
  if (client->preauth)
    return TRUE;
  if (!imap_client_choose_method (client, &method, error))
    return FALSE;
  switch (method)
    {
    case IMAP_AUTH_PLAIN:
      return imap_client_login_plain (client, user, password, error);
    case IMAP_AUTH_LOGIN:
      return imap_client_login_sasl_login (client, user, password, error);
    case IMAP_AUTH_LOGIN_COMMAND:
      return imap_client_login_command (client, user, password, error);
    case IMAP_AUTH_AUTO:
    default:
      g_assert_not_reached ();
    }
}

/* ---- ENABLE (RFC 5161 §3.1) ----------------------------------------- */

gboolean
imap_client_enable (ImapClient *client,
                    const char *const *extensions,
                    GError **error)
{
  g_autoptr (GString) command = g_string_new ("ENABLE");
  g_autoptr (ImapReply) reply = NULL;

  if (!imap_client_has_capability (client, "ENABLE"))
    return TRUE;
  for (guint i = 0; extensions[i] != NULL; i++)
    if (imap_client_has_capability (client, extensions[i]))
      g_string_append_printf (command, " %s", extensions[i]);
  if (strchr (command->str, ' ') == NULL)
    return TRUE;
  reply =
      imap_client_command_ok (client, command->str, command->len, NULL, error);
  return reply != NULL;
}

/* ---- mailbox names (RFC 3501 §5.1.3, RFC 6855 §3) ------------------- */

void
imap_client_append_mailbox (ImapClient *client, GString *out, const char *name)
{
  g_autofree char *mutf7 = NULL;

  if (imap_client_is_enabled (client, "UTF8=ACCEPT"))
    {
      imap_append_string (out, name, strlen (name), TRUE, TRUE);
      return;
    }
  mutf7 = imap_utf8_to_mutf7 (name);
  imap_append_string (out, mutf7, strlen (mutf7), TRUE, FALSE);
}

char *
imap_client_decode_mailbox (ImapClient *client, const char *name)
{
  char *utf8 = NULL;

  if (imap_client_is_enabled (client, "UTF8=ACCEPT"))
    return g_strdup (name);
  utf8 = imap_mutf7_to_utf8 (name, NULL);
  return utf8 != NULL ? utf8 : g_strdup (name);
}

/* ---- SELECT and the view -------------------------------------------- */

gboolean
imap_client_select (ImapClient *client,
                    const char *name,
                    gboolean read_only,
                    const char *parameters,
                    GPtrArray **out_untagged,
                    GError **error)
{
  g_autoptr (GString) command =
      g_string_new (read_only ? "EXAMINE " : "SELECT ");
  g_autoptr (ImapReply) reply = NULL;

  imap_client_append_mailbox (client, command, name);
  if (parameters != NULL)
    g_string_append_printf (command, " (%s)", parameters);
  g_clear_pointer (&client->mailbox, imap_mailbox_free);
  client->mailbox = g_new0 (ImapMailbox, 1);
  client->mailbox->name = g_strdup (name);
  client->mailbox->read_only = read_only;
  client->mailbox->uids = g_array_new (FALSE, TRUE, sizeof (guint32));
  reply = imap_client_command_ok (client, command->str, command->len,
                                  out_untagged, error);
  /* RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected */
  if (reply == NULL)
    g_clear_pointer (&client->mailbox, imap_mailbox_free);
  return reply != NULL;
}

const ImapMailbox *
imap_client_get_mailbox (ImapClient *client)
{
  return client->mailbox;
}

gboolean
imap_client_load_uids (ImapClient *client, GError **error)
{
  g_autoptr (ImapReply) reply = NULL;

  g_return_val_if_fail (client->mailbox != NULL, FALSE);
  if (client->mailbox->exists == 0)
    return TRUE;
  reply = imap_client_run (client, NULL, error, "FETCH 1:* (UID)");
  return reply != NULL;
}

guint32
imap_client_uid_of (ImapClient *client, guint32 seq)
{
  if (client->mailbox == NULL || seq == 0 || seq > client->mailbox->uids->len)
    return 0;
  return g_array_index (client->mailbox->uids, guint32, seq - 1);
}

/* ---- APPEND (RFC 9051 §6.3.12, RFC 4315 §3, RFC 3516 §4.4) ---------- */

gboolean
imap_client_append (ImapClient *client,
                    const char *mailbox,
                    const char *flags,
                    gint64 internal_date,
                    GBytes *message,
                    guint32 *out_uidvalidity,
                    guint32 *out_uid,
                    GError **error)
{
  g_autoptr (GString) command = g_string_new ("APPEND ");
  g_autoptr (ImapReply) reply = NULL;
  gsize size = 0;
  const char *data = g_bytes_get_data (message, &size);
  g_autofree char *date = NULL;
  guint64 numbers[2] = { 0, 0 };

  imap_client_append_mailbox (client, command, mailbox);
  if (flags != NULL && flags[0] != '\0')
    g_string_append_printf (command, " (%s)", flags);
  if (internal_date != 0)
    {
      date = imap_datetime_format (internal_date);
      g_string_append_printf (command, " \"%s\"", date);
    }
  /* NUL octets travel only in a literal8, which BINARY allows */
  g_string_append_printf (command, " %s{%" G_GSIZE_FORMAT "}\r\n",
                          memchr (data, '\0', size) != NULL &&
                                  imap_client_has_capability (client, "BINARY")
                              ? "~"
                              : "",
                          size);
  g_string_append_len (command, data, size);
  reply =
      imap_client_command_ok (client, command->str, command->len, NULL, error);
  if (reply == NULL)
    return FALSE;
  if (imap_reply_has_code (reply, IMAP_CODE_APPENDUID) &&
      reply->response.code_args != NULL)
    {
      /* resp-code-apnd = "APPENDUID" SP nz-number SP append-uid */
      char *end = NULL;

      numbers[0] = g_ascii_strtoull (reply->response.code_args, &end, 10);
      numbers[1] = g_ascii_strtoull (end, NULL, 10);
    }
  if (out_uidvalidity != NULL)
    *out_uidvalidity = (guint32) numbers[0];
  if (out_uid != NULL)
    *out_uid = (guint32) numbers[1];
  return TRUE;
}

/* ---- IDLE (RFC 2177, RFC 9051 §6.3.13) ------------------------------ */

gboolean
imap_client_idle_start (ImapClient *client, GError **error)
{
  g_autofree char *line = NULL;

  if (!imap_client_has_capability (client, "IDLE"))
    {
      g_set_error (error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_UNSUPPORTED,
                   "the server does not offer IDLE");
      return FALSE;
    }
  line = g_strdup_printf ("%s IDLE", imap_client_new_tag (client, "IDLE"));
  mail_stream_write_line (client->stream, line);
  if (!mail_stream_flush (client->stream, NULL, error))
    return FALSE;
  for (;;)
    {
      g_autoptr (ImapReply) reply =
          imap_client_read_reply (client, NULL, error);

      if (reply == NULL)
        return FALSE;
      if (reply->response.kind == IMAP_RESPONSE_CONTINUATION)
        return TRUE;
      if (reply->response.kind == IMAP_RESPONSE_TAGGED)
        {
          if (imap_client_check_ok (reply, error))
            g_set_error (error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_PROTOCOL,
                         "IDLE ended before it began");
          return FALSE;
        }
    }
}

ImapIdleResult
imap_client_idle_wait (ImapClient *client,
                       guint seconds,
                       GCancellable *cancellable,
                       GError **error)
{
  g_autoptr (ImapReply) reply = NULL;
  g_autoptr (GError) local_error = NULL;

  mail_stream_set_timeout (client->stream, seconds);
  reply = imap_client_read_reply (client, cancellable, &local_error);
  mail_stream_set_timeout (client->stream, client->timeout);
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return IMAP_IDLE_TIMEOUT;
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return IMAP_IDLE_CANCELLED;
  if (reply == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return IMAP_IDLE_FAILED;
    }
  if (reply->response.kind != IMAP_RESPONSE_UNTAGGED)
    {
      g_set_error (error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_PROTOCOL,
                   "the server ended IDLE: %s", reply->message);
      return IMAP_IDLE_FAILED;
    }
  return IMAP_IDLE_PUSHED;
}

gboolean
imap_client_idle_done (ImapClient *client, GError **error)
{
  g_autoptr (ImapReply) reply = NULL;

  mail_stream_write_line (client->stream, "DONE");
  if (!mail_stream_flush (client->stream, NULL, error))
    return FALSE;
  reply = imap_client_wait_tagged (client, NULL, error);
  return reply != NULL && imap_client_check_ok (reply, error);
}

/* ---- LOGOUT (RFC 9051 §6.1.3) --------------------------------------- */

gboolean
imap_client_logout (ImapClient *client, GError **error)
{
  g_autoptr (ImapReply) reply = NULL;
  g_autoptr (GError) local_error = NULL;

  client->logging_out = TRUE;
  reply = imap_client_run (client, NULL, &local_error, "LOGOUT");
  /* the BYE came: a server that closes before its tagged OK lost
   * nothing of ours */
  if (reply == NULL && client->bye == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

/* ---- FETCH responses (RFC 9051 §7.5.2) ------------------------------ */

const ImapArg *
imap_reply_fetch_item (const ImapReply *reply, const char *name)
{
  const ImapArg *items = NULL;
  gsize length = strlen (name);
  gboolean any_section = length > 0 && name[length - 1] == '[';

  if (!imap_reply_is (reply, "FETCH") || reply->args->len == 0)
    return NULL;
  items = g_ptr_array_index (reply->args, 0);
  if (items->type != IMAP_ARG_LIST)
    return NULL;
  /* msg-att = "(" name SP value *(SP name SP value) ")" */
  for (guint i = 0; i + 1 < items->list->len; i += 2)
    {
      const ImapArg *key = g_ptr_array_index (items->list, i);

      if (key->type != IMAP_ARG_ATOM)
        continue;
      if (any_section ? g_ascii_strncasecmp (key->data, name, length) == 0
                      : g_ascii_strcasecmp (key->data, name) == 0)
        return g_ptr_array_index (items->list, i + 1);
    }
  return NULL;
}

gboolean
imap_reply_fetch_number (const ImapReply *reply,
                         const char *name,
                         guint64 *out_number)
{
  const ImapArg *value = imap_reply_fetch_item (reply, name);

  /* "MODSEQ (9)": the number in a list (RFC 7162 §3.1.4.1) */
  if (value != NULL && value->type == IMAP_ARG_LIST && value->list->len == 1)
    value = g_ptr_array_index (value->list, 0);
  if (value == NULL || value->type != IMAP_ARG_ATOM)
    return FALSE;
  return g_ascii_string_to_unsigned (value->data, 10, 0, G_MAXUINT64,
                                     out_number, NULL);
}

char *
imap_arg_join_atoms (const ImapArg *list)
{
  g_autoptr (GString) joined = g_string_new (NULL);

  if (list == NULL || list->type != IMAP_ARG_LIST)
    return g_string_free (g_steal_pointer (&joined), FALSE);
  for (guint i = 0; i < list->list->len; i++)
    {
      const ImapArg *item = g_ptr_array_index (list->list, i);

      if (item->data == NULL)
        continue;
      if (joined->len > 0)
        g_string_append_c (joined, ' ');
      g_string_append (joined, item->data);
    }
  return g_string_free (g_steal_pointer (&joined), FALSE);
}
