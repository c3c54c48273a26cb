/* SPDX-License-Identifier: MIT
 * imap-client.c: the connection half of the IMAP client: reading whole
 * responses with the shared grammar (RFC 9051 §2.2.2, §7), keeping the
 * view of the selected mailbox (§7.4 EXISTS, §7.5.1 EXPUNGE, RFC 7162
 * §3.2.10 VANISHED), sending commands with their literals (§4.3, §7.5;
 * RFC 7888), and the trace annotated from the catalog in imap-proto.c.
 */
#include <string.h>

#include "imap-client-private.h"
#include "mail-net.h"

/* RFC 7888 §5: LITERAL- allows non-synchronising literals up to 4096. */
#define IMAP_CLIENT_LITERAL_MINUS_MAX 4096

GQuark
imap_client_error_quark (void)
{
  return g_quark_from_static_string ("imap-client-error-quark");
}

void
imap_reply_free (ImapReply *reply)
{
  if (reply == NULL)
    return;
  imap_response_clear (&reply->response);
  g_clear_pointer (&reply->args, g_ptr_array_unref);
  g_free (reply->message);
  g_free (reply);
}

void
imap_mailbox_free (ImapMailbox *mailbox)
{
  if (mailbox == NULL)
    return;
  g_free (mailbox->name);
  g_strfreev (mailbox->flags);
  g_strfreev (mailbox->permanent_flags);
  g_array_unref (mailbox->uids);
  g_free (mailbox);
}

void
imap_client_free (ImapClient *client)
{
  if (client == NULL)
    return;
  g_clear_pointer (&client->stream, mail_stream_free);
  imap_assembler_clear (&client->assembler);
  g_ptr_array_unref (client->capabilities);
  g_ptr_array_unref (client->enabled);
  g_clear_pointer (&client->mailbox, imap_mailbox_free);
  g_free (client->host);
  g_free (client->tag);
  g_free (client->verb);
  g_free (client->bye);
  g_free (client);
}

void
imap_client_set_untagged_handler (ImapClient *client,
                                  ImapClientUntaggedFunc func,
                                  gpointer user_data)
{
  client->untagged = func;
  client->untagged_data = user_data;
}

/* ---- trace ---------------------------------------------------------- */

/* "tells the client the mailbox's UIDVALIDITY (RFC 9051 §7.1)", "reply
 * to SELECT: ..." for a tagged status, the data meaning otherwise. */
static char *
imap_client_describe_received (ImapClient *client, const char *line)
{
  ImapResponse response = { 0 };
  const MailCatalogEntry *entry = NULL;
  g_autofree char *meaning = NULL;

  if (!imap_proto_parse_response (line, &response))
    return NULL;
  if (response.kind == IMAP_RESPONSE_CONTINUATION)
    entry = imap_proto_status_info ("+");
  else if (response.code != NULL)
    entry = imap_proto_response_code_info (response.code);
  if (entry == NULL && response.status != IMAP_STATUS_NONE)
    entry = imap_proto_status_info (imap_proto_status_name (response.status));
  if (entry == NULL && response.keyword != NULL)
    entry = imap_proto_data_info (response.keyword);
  meaning = mail_catalog_describe (entry);
  if (meaning != NULL && response.kind == IMAP_RESPONSE_TAGGED &&
      client->verb != NULL)
    {
      char *answer = g_strdup_printf ("reply to %s: %s", client->verb, meaning);

      g_free (meaning);
      meaning = answer;
    }
  imap_response_clear (&response);
  return g_steal_pointer (&meaning);
}

/* The command's meaning; "UID FETCH" is FETCH's, done by UID. */
static char *
imap_client_describe_sent (const char *line)
{
  g_autofree char *tag = NULL;
  g_autofree char *verb = NULL;
  const char *arguments = NULL;
  g_autofree char *second = NULL;

  if (g_ascii_strcasecmp (line, "DONE") == 0)
    return mail_catalog_describe (imap_proto_command_info ("DONE"));
  if (!imap_proto_split_command (line, &tag, &verb, &arguments))
    return NULL;
  if (strcmp (verb, "UID") == 0)
    {
      second = g_strndup (arguments, strcspn (arguments, " "));
      return mail_catalog_describe (imap_proto_command_info (second));
    }
  return mail_catalog_describe (imap_proto_command_info (verb));
}

static void
on_stream_line (MailStreamDirection direction,
                const char *line,
                gpointer user_data)
{
  ImapClient *client = user_data;
  g_autofree char *meaning = NULL;
  g_autofree char *shown = NULL;

  if (client->trace == NULL)
    return;
  if (direction == MAIL_STREAM_RECEIVED)
    {
      meaning = imap_client_describe_received (client, line);
      client->trace (TRUE, line, meaning, client->trace_data);
      return;
    }
  meaning = imap_client_describe_sent (line);
  if (client->mask_line)
    {
      shown = g_strdup ("***");
      g_clear_pointer (&meaning, g_free);
      meaning = g_strdup ("SASL response, base64 (RFC 9051 §6.2.2)");
      client->mask_line = FALSE;
    }
  else if (client->mask_after > 0)
    {
      /* "A1 LOGIN ***": the tag, then mask_after octets of the command */
      gsize keep = strcspn (line, " ") + 1 + client->mask_after;

      shown = keep < strlen (line)
                  ? g_strdup_printf ("%.*s***", (int) keep, line)
                  : g_strdup ("***");
    }
  client->trace (FALSE, shown ? shown : line, meaning, client->trace_data);
}

/* ---- responses ------------------------------------------------------ */

gboolean
imap_reply_has_code (const ImapReply *reply, ImapCode code)
{
  return reply->response.code != NULL &&
         g_ascii_strcasecmp (reply->response.code,
                             imap_proto_code_name (code)) == 0;
}

gboolean
imap_reply_is (const ImapReply *reply, const char *keyword)
{
  return reply->response.kind == IMAP_RESPONSE_UNTAGGED &&
         reply->response.keyword != NULL &&
         g_ascii_strcasecmp (reply->response.keyword, keyword) == 0;
}

/* Parses the message the assembler holds into a reply. */
static ImapReply *
imap_client_parse_reply (ImapClient *client, GError **error)
{
  g_autoptr (ImapReply) reply = g_new0 (ImapReply, 1);
  GByteArray *message = client->assembler.message;
  g_autoptr (GError) local_error = NULL;
  gsize offset = 0;

  reply->length = message->len;
  reply->message = g_malloc (message->len + 1);
  memcpy (reply->message, message->data, message->len);
  reply->message[message->len] = '\0';
  if (!imap_proto_parse_response (reply->message, &reply->response))
    {
      g_set_error (error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_PROTOCOL,
                   "not an IMAP response: \"%.80s\"", reply->message);
      return NULL;
    }
  if (reply->response.kind != IMAP_RESPONSE_UNTAGGED ||
      reply->response.status != IMAP_STATUS_NONE)
    {
      reply->args = g_ptr_array_new ();
      return g_steal_pointer (&reply);
    }
  /* data: "* 3 FETCH (...)", "* LIST (...) "/" INBOX" (RFC 9051 §7) */
  offset = reply->response.text - reply->message;
  reply->args = imap_parse_response_args (reply->response.text,
                                          reply->length - offset, &local_error);
  if (reply->args == NULL)
    {
      g_set_error (error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_PROTOCOL,
                   "bad %s response: %s", reply->response.keyword,
                   local_error->message);
      return NULL;
    }
  return g_steal_pointer (&reply);
}

/* A read failed: after a BYE the close is the server's, say so. */
static void
imap_client_read_failed (ImapClient *client, GError **error, GError *cause)
{
  if (client->bye != NULL && !client->logging_out)
    g_set_error (error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_BYE,
                 "the server closed the connection: BYE %s", client->bye);
  else
    g_propagate_error (error, cause);
}

/* ---- capabilities (RFC 9051 §6.1.1, §7.2.2) ------------------------- */

static void
imap_client_set_capabilities (ImapClient *client, GPtrArray *atoms)
{
  g_ptr_array_set_size (client->capabilities, 0);
  for (guint i = 0; i < atoms->len; i++)
    {
      const ImapArg *atom = g_ptr_array_index (atoms, i);

      if (atom->type == IMAP_ARG_ATOM)
        g_ptr_array_add (client->capabilities, g_strdup (atom->data));
    }
}

gboolean
imap_client_take_capability_code (ImapClient *client, const ImapReply *reply)
{
  g_autoptr (GPtrArray) atoms = NULL;

  if (!imap_reply_has_code (reply, IMAP_CODE_CAPABILITY) ||
      reply->response.code_args == NULL)
    return FALSE;
  atoms = imap_parse_response_args (reply->response.code_args,
                                    strlen (reply->response.code_args), NULL);
  if (atoms == NULL)
    return FALSE;
  imap_client_set_capabilities (client, atoms);
  return TRUE;
}

static gboolean
imap_strings_have (GPtrArray *strings, const char *name)
{
  for (guint i = 0; i < strings->len; i++)
    if (g_ascii_strcasecmp (g_ptr_array_index (strings, i), name) == 0)
      return TRUE;
  return FALSE;
}

gboolean
imap_client_has_capability (ImapClient *client, const char *name)
{
  return imap_strings_have (client->capabilities, name);
}

gboolean
imap_client_is_enabled (ImapClient *client, const char *name)
{
  return imap_strings_have (client->enabled, name);
}

/* ---- handling untagged responses ------------------------------------ */

static void
imap_client_handle_untagged (ImapClient *client, const ImapReply *reply)
{
  if (reply->response.status == IMAP_STATUS_BYE)
    {
      g_free (client->bye);
      client->bye = g_strdup (reply->response.text);
    }
  imap_client_take_capability_code (client, reply);
  if (client->untagged != NULL)
    client->untagged (client, reply, client->untagged_data);
  if (imap_reply_is (reply, "CAPABILITY"))
    imap_client_set_capabilities (client, reply->args);
  else if (imap_reply_is (reply, "ENABLED"))
    for (guint i = 0; i < reply->args->len; i++)
      {
        const ImapArg *name = g_ptr_array_index (reply->args, i);

        if (name->data != NULL && !imap_client_is_enabled (client, name->data))
          g_ptr_array_add (client->enabled, g_strdup (name->data));
      }
  if (client->mailbox == NULL)
    return;
  if (reply->response.status != IMAP_STATUS_NONE)
    imap_mailbox_apply_code (client->mailbox, reply);
  else
    imap_mailbox_apply_data (client->mailbox, reply);
}

ImapReply *
imap_client_read_reply (ImapClient *client,
                        GCancellable *cancellable,
                        GError **error)
{
  g_autoptr (ImapReply) reply = NULL;
  GError *local_error = NULL;

  if (!imap_read_message (client->stream, &client->assembler, NULL, NULL, NULL,
                          NULL, cancellable, &local_error))
    {
      imap_client_read_failed (client, error, local_error);
      return NULL;
    }
  reply = imap_client_parse_reply (client, error);
  if (reply == NULL)
    return NULL;
  if (reply->response.kind == IMAP_RESPONSE_UNTAGGED)
    imap_client_handle_untagged (client, reply);
  return g_steal_pointer (&reply);
}

/* ---- commands ------------------------------------------------------- */

const char *
imap_client_new_tag (ImapClient *client, const char *verb)
{
  g_free (client->tag);
  g_free (client->verb);
  client->tag = g_strdup_printf ("A%u", ++client->next_tag);
  /* "UID FETCH" is one verb here, as the reader thinks of it */
  client->verb = g_ascii_strncasecmp (verb, "UID ", 4) == 0
                     ? g_strndup (verb, 4 + strcspn (verb + 4, " \r"))
                     : g_strndup (verb, strcspn (verb, " \r"));
  return client->tag;
}

guint
imap_client_get_command_count (ImapClient *client)
{
  return client->next_tag;
}

gboolean
imap_client_check_ok (const ImapReply *reply, GError **error)
{
  if (reply->response.status == IMAP_STATUS_OK)
    return TRUE;
  g_set_error (error, IMAP_CLIENT_ERROR,
               reply->response.status == IMAP_STATUS_BAD ? IMAP_CLIENT_ERROR_BAD
                                                         : IMAP_CLIENT_ERROR_NO,
               "%s%s%s%s %s", imap_proto_status_name (reply->response.status),
               reply->response.code ? " [" : "",
               reply->response.code ? reply->response.code : "",
               reply->response.code ? "]" : "", reply->response.text);
  return FALSE;
}

/* Reads one response while a command runs: *out_reply is the tagged one
 * of the running command or a continuation, else NULL (an untagged one,
 * collected in @untagged when not NULL). */
static gboolean
imap_client_step (ImapClient *client,
                  GPtrArray *untagged,
                  ImapReply **out_reply,
                  GError **error)
{
  ImapReply *reply = imap_client_read_reply (client, NULL, error);

  if (reply == NULL)
    return FALSE;
  if (reply->response.kind == IMAP_RESPONSE_UNTAGGED)
    {
      /* already handled; kept only when the caller collects them */
      if (untagged != NULL)
        g_ptr_array_add (untagged, reply);
      else
        imap_reply_free (reply);
      reply = NULL;
    }
  else if (reply->response.kind == IMAP_RESPONSE_TAGGED &&
           g_strcmp0 (reply->response.tag, client->tag) != 0)
    {
      g_warning ("response to a tag never sent: %s", reply->response.tag);
      g_clear_pointer (&reply, imap_reply_free);
    }
  *out_reply = reply;
  return TRUE;
}

static GPtrArray *
imap_untagged_new (GPtrArray **out_untagged)
{
  if (out_untagged == NULL)
    return NULL;
  *out_untagged = NULL;
  return g_ptr_array_new_with_free_func ((GDestroyNotify) imap_reply_free);
}

ImapReply *
imap_client_wait_tagged (ImapClient *client,
                         GPtrArray **out_untagged,
                         GError **error)
{
  g_autoptr (GPtrArray) untagged = imap_untagged_new (out_untagged);

  for (;;)
    {
      ImapReply *reply = NULL;

      if (!imap_client_step (client, untagged, &reply, error))
        return NULL;
      if (reply == NULL)
        continue;
      if (reply->response.kind == IMAP_RESPONSE_TAGGED)
        {
          if (out_untagged != NULL)
            *out_untagged = g_steal_pointer (&untagged);
          if (!imap_client_take_capability_code (client, reply) &&
              client->mailbox != NULL)
            imap_mailbox_apply_code (client->mailbox, reply);
          return reply;
        }
      /* a "+" nobody asked for: the grammar is broken */
      imap_reply_free (reply);
      g_set_error (error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_PROTOCOL,
                   "continuation request while no literal was announced");
      return NULL;
    }
}

/* Waits for the "+" before a synchronising literal (RFC 9051 §7.5);
 * *out_refused gets the tagged reply if the server refused instead. */
static gboolean
imap_client_wait_continuation (ImapClient *client,
                               GPtrArray *untagged,
                               ImapReply **out_refused,
                               GError **error)
{
  for (;;)
    {
      ImapReply *reply = NULL;

      if (!imap_client_step (client, untagged, &reply, error))
        return FALSE;
      if (reply == NULL)
        continue;
      if (reply->response.kind == IMAP_RESPONSE_TAGGED)
        {
          *out_refused = reply;
          return TRUE;
        }
      imap_reply_free (reply);
      return TRUE;
    }
}

/* A literal may go without waiting under LITERAL+ (any size) or LITERAL-
 * (up to 4096 octets), RFC 7888 §3 and §5. */
static gboolean
imap_client_may_skip_wait (ImapClient *client, guint64 size)
{
  return imap_client_has_capability (client, "LITERAL+") ||
         (imap_client_has_capability (client, "LITERAL-") &&
          size <= IMAP_CLIENT_LITERAL_MINUS_MAX);
}

/* Writes one line of the command that announces a literal, as "{n+}"
 * when allowed. *out_wait: the server's "+" must come first. */
static void
imap_client_write_announcing (ImapClient *client,
                              GString *line,
                              guint64 size,
                              gboolean non_sync,
                              gboolean *out_wait)
{
  *out_wait = FALSE;
  if (!non_sync && imap_client_may_skip_wait (client, size))
    g_string_insert_c (line, line->len - 1, '+');
  else if (!non_sync)
    *out_wait = TRUE;
  mail_stream_write_line (client->stream, line->str);
}

ImapReply *
imap_client_command (ImapClient *client,
                     const char *command,
                     gsize length,
                     GPtrArray **out_untagged,
                     GError **error)
{
  g_autoptr (GPtrArray) untagged = imap_untagged_new (out_untagged);
  g_autoptr (GString) line =
      g_string_new (imap_client_new_tag (client, command));
  const char *p = command;
  const char *end = command + length;
  ImapReply *refused = NULL;

  g_string_append_c (line, ' ');
  for (;;)
    {
      const char *crlf = g_strstr_len (p, end - p, "\r\n");
      guint64 size = 0;
      gboolean non_sync = FALSE;
      gboolean wait = FALSE;

      if (crlf == NULL)
        {
          g_string_append_len (line, p, end - p);
          if (line->len > 0)
            mail_stream_write_line (client->stream, line->str);
          else
            mail_stream_write (client->stream, "\r\n", 2);
          break;
        }
      g_string_append_len (line, p, crlf - p);
      /* the grammar of imap_append_string (): "{n}" CRLF n octets */
      g_return_val_if_fail (
          imap_proto_line_literal (line->str, line->len, &size, &non_sync),
          NULL);
      g_return_val_if_fail (size <= (guint64) (end - crlf - 2), NULL);
      imap_client_write_announcing (client, line, size, non_sync, &wait);
      if (wait &&
          (!mail_stream_flush (client->stream, NULL, error) ||
           !imap_client_wait_continuation (client, untagged, &refused, error)))
        return NULL;
      if (refused != NULL)
        break;
      mail_stream_write (client->stream, crlf + 2, size);
      p = crlf + 2 + size;
      g_string_truncate (line, 0);
    }
  client->mask_after = 0;
  if (refused != NULL)
    {
      if (out_untagged != NULL)
        *out_untagged = g_steal_pointer (&untagged);
      return refused;
    }
  if (!mail_stream_flush (client->stream, NULL, error))
    return NULL;
  if (out_untagged == NULL)
    return imap_client_wait_tagged (client, NULL, error);
  {
    g_autoptr (GPtrArray) rest = NULL;
    ImapReply *tagged = imap_client_wait_tagged (client, &rest, error);

    if (tagged == NULL)
      return NULL;
    g_ptr_array_extend_and_steal (untagged, g_steal_pointer (&rest));
    *out_untagged = g_steal_pointer (&untagged);
    return tagged;
  }
}

ImapReply *
imap_client_command_ok (ImapClient *client,
                        const char *command,
                        gsize length,
                        GPtrArray **out_untagged,
                        GError **error)
{
  g_autoptr (ImapReply) reply =
      imap_client_command (client, command, length, out_untagged, error);

  if (reply == NULL || !imap_client_check_ok (reply, error))
    {
      if (out_untagged != NULL)
        g_clear_pointer (out_untagged, g_ptr_array_unref);
      return NULL;
    }
  return g_steal_pointer (&reply);
}

ImapReply *
imap_client_run (ImapClient *client,
                 GPtrArray **out_untagged,
                 GError **error,
                 const char *format,
                 ...)
{
  g_autofree char *command = NULL;
  va_list args;

  va_start (args, format);
  command = g_strdup_vprintf (format, args);
  va_end (args);
  return imap_client_command_ok (client, command, strlen (command),
                                 out_untagged, error);
}

gboolean
imap_client_capability (ImapClient *client, GError **error)
{
  g_autoptr (ImapReply) reply =
      imap_client_run (client, NULL, error, "CAPABILITY");

  return reply != NULL;
}

/* ---- connection ----------------------------------------------------- */

/* RFC 9051 §7.1.1/§7.1.4/§7.1.5: OK or PREAUTH, or BYE (go away). */
static gboolean
imap_client_read_greeting (ImapClient *client, GError **error)
{
  g_autoptr (ImapReply) greeting = imap_client_read_reply (client, NULL, error);

  if (greeting == NULL)
    return FALSE;
  if (greeting->response.status != IMAP_STATUS_OK &&
      greeting->response.status != IMAP_STATUS_PREAUTH)
    {
      g_set_error (error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_BYE,
                   "the server refused the connection: %s",
                   greeting->response.text);
      return FALSE;
    }
  client->preauth = greeting->response.status == IMAP_STATUS_PREAUTH;
  return client->capabilities->len > 0 ||
         imap_client_capability (client, error);
}

ImapClient *
imap_client_connect (const char *host,
                     guint16 port,
                     gboolean implicit_tls,
                     const char *ca_file,
                     gboolean insecure,
                     guint timeout,
                     ImapClientTraceFunc trace,
                     gpointer trace_data,
                     GError **error)
{
  g_autoptr (ImapClient) client = g_new0 (ImapClient, 1);

  client->host = g_strdup (host);
  client->timeout = timeout;
  client->capabilities = g_ptr_array_new_with_free_func (g_free);
  client->enabled = g_ptr_array_new_with_free_func (g_free);
  client->trace = trace;
  client->trace_data = trace_data;
  imap_assembler_init (&client->assembler, IMAP_CLIENT_MAX_RESPONSE);
  client->stream =
      mail_net_connect (host, port, implicit_tls, ca_file, insecure,
                        MAIL_LINE_MAX_IMAP, timeout, NULL, error);
  if (client->stream == NULL)
    return NULL;
  mail_stream_set_trace (client->stream, on_stream_line, client);
  if (!imap_client_read_greeting (client, error))
    return NULL;
  return g_steal_pointer (&client);
}

gboolean
imap_client_starttls (ImapClient *client,
                      const char *ca_file,
                      gboolean insecure,
                      GError **error)
{
  g_autoptr (ImapReply) reply = NULL;

  if (!imap_client_has_capability (client, "STARTTLS"))
    {
      g_set_error (error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_UNSUPPORTED,
                   "the server does not offer STARTTLS");
      return FALSE;
    }
  reply = imap_client_run (client, NULL, error, "STARTTLS");
  if (reply == NULL ||
      !mail_stream_start_tls_client (client->stream, client->host, ca_file,
                                     insecure, NULL, error))
    return FALSE;
  /* RFC 9051 §6.2.1: what was learnt in clear may have been forged */
  g_ptr_array_set_size (client->capabilities, 0);
  return imap_client_capability (client, error);
}

gboolean
imap_client_is_tls (ImapClient *client)
{
  return mail_stream_is_tls (client->stream);
}
