/* SPDX-License-Identifier: MIT
 * pop3-client.c: the client side of POP3 (RFC 1939 §3-§7; RFC 2449 §5,
 * §6.6, §8; RFC 2595 §4; RFC 3206; RFC 5034 §4), with a trace annotated
 * from the catalog in pop3-proto.c, so --trace says what mw-trace says.
 */
#include "pop3-client.h"

#include <string.h>

#include "mail-auth.h"
#include "mail-line.h"
#include "mail-net.h"

/* RFC 2449 §4 allows 512 octets per response line; some servers write
 * longer greetings, and a few more octets cost nothing. */
#define POP3_CLIENT_MAX_LINE 2048

GQuark
pop3_client_error_quark (void)
{
  return g_quark_from_static_string ("pop3-client-error-quark");
}

/* A command whose response has not been read yet. */
typedef struct
{
  char *verb;
  gboolean has_argument;
} Pop3Pending;

struct _Pop3Client
{
  MailStream *stream;
  char *host;
  GPtrArray *capabilities; /* CAPA lines, as sent */
  GQueue pending;          /* of Pop3Pending, oldest first */
  /* --trace */
  Pop3ClientTraceFunc trace;
  gpointer trace_data;
  gssize mask_keep; /* >= 0: the next line sent is a credential; show
                     * only its first mask_keep octets, then "***" */
};

static void
pop3_pending_free (Pop3Pending *pending)
{
  g_free (pending->verb);
  g_free (pending);
}

void
pop3_reply_free (Pop3Reply *reply)
{
  if (reply == NULL)
    return;
  g_free (reply->verb);
  pop3_response_clear (&reply->response);
  if (reply->body != NULL)
    g_string_free (reply->body, TRUE);
  g_free (reply);
}

void
pop3_client_free (Pop3Client *client)
{
  if (client == NULL)
    return;
  g_clear_pointer (&client->stream, mail_stream_free);
  g_queue_clear_full (&client->pending, (GDestroyNotify) pop3_pending_free);
  g_ptr_array_unref (client->capabilities);
  g_free (client->host);
  g_free (client);
}

/* ---- trace ---------------------------------------------------------- */

/* "positive reply to STAT (RFC 1939 §5)", or the meaning of the
 * response code when there is one (RFC 2449 §8). */
static char *
pop3_client_describe_received (Pop3Client *client, const char *line)
{
  Pop3Pending *pending = g_queue_peek_head (&client->pending);
  Pop3Response response = { 0 };
  const MailCatalogEntry *status = NULL;
  const MailCatalogEntry *command = NULL;
  char *meaning = NULL;

  if (!pop3_proto_parse_response (line, &response, NULL))
    return NULL;
  if (response.code != NULL)
    meaning = mail_catalog_describe (
        mail_catalog_find (pop3_catalog_response_codes, response.code));
  if (meaning == NULL)
    {
      status = &pop3_catalog_status[response.status == POP3_STATUS_OK    ? 0
                                    : response.status == POP3_STATUS_ERR ? 1
                                                                         : 2];
      command = pending
                    ? mail_catalog_find (pop3_catalog_commands, pending->verb)
                    : NULL;
      if (command != NULL && response.status != POP3_STATUS_CONTINUATION)
        meaning = g_strdup_printf (
            "%s reply to %s (%s)",
            response.status == POP3_STATUS_OK ? "positive" : "negative",
            command->name, command->rfc);
      else if (pending == NULL)
        meaning = g_strdup ("greeting: the server is ready (RFC 1939 §4)");
      else
        meaning = mail_catalog_describe (status);
    }
  pop3_response_clear (&response);
  return meaning;
}

static char *
pop3_client_describe_sent (const char *line)
{
  g_autofree char *verb = NULL;
  g_autofree char *argument = NULL;

  if (!pop3_proto_split_command (line, &verb, &argument, NULL))
    return NULL;
  return mail_catalog_describe (
      mail_catalog_find (pop3_catalog_commands, verb));
}

static void
on_stream_line (MailStreamDirection direction,
                const char *line,
                gpointer user_data)
{
  Pop3Client *client = user_data;
  g_autofree char *meaning = NULL;
  g_autofree char *shown = NULL;

  if (client->trace == NULL)
    return;
  if (direction == MAIL_STREAM_RECEIVED)
    {
      meaning = pop3_client_describe_received (client, line);
      client->trace (TRUE, line, meaning, client->trace_data);
      return;
    }
  if (client->mask_keep > 0)
    {
      /* "PASS ***", "AUTH PLAIN ***" */
      shown = g_strdup_printf ("%.*s ***", (int) client->mask_keep, line);
      meaning = pop3_client_describe_sent (line);
    }
  else if (client->mask_keep == 0)
    {
      shown = g_strdup ("***");
      meaning = g_strdup ("SASL response, base64 (RFC 5034 §4)");
    }
  else
    meaning = pop3_client_describe_sent (line);
  client->mask_keep = -1;
  client->trace (FALSE, shown ? shown : line, meaning, client->trace_data);
}

/* One note of our own for what is not a protocol line (message text). */
static void
pop3_client_note (Pop3Client *client, const char *note)
{
  if (client->trace != NULL)
    client->trace (TRUE, note, NULL, client->trace_data);
}

/* Body lines of listings (CAPA, LIST, UIDL) are short and worth seeing;
 * RETR and TOP bodies are message text and get one note. */
static void
pop3_client_trace_body (Pop3Client *client, const Pop3Reply *reply)
{
  g_auto (GStrv) lines = NULL;
  g_autofree char *note = NULL;

  if (client->trace == NULL || reply->body == NULL)
    return;
  if (strcmp (reply->verb, "RETR") == 0 || strcmp (reply->verb, "TOP") == 0)
    {
      note = g_strdup_printf ("(%" G_GSIZE_FORMAT " octets of message text, "
                              "dot-stuffed, then \".\")",
                              reply->body->len);
      pop3_client_note (client, note);
      return;
    }
  lines = g_strsplit (reply->body->str, "\r\n", -1);
  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
    {
      g_autofree char *word = g_strdup (lines[i]);
      g_autofree char *meaning = NULL;

      if (strchr (word, ' ') != NULL)
        *strchr (word, ' ') = '\0';
      if (strcmp (reply->verb, "CAPA") == 0)
        meaning = mail_catalog_describe (
            mail_catalog_find (pop3_catalog_capabilities, word));
      client->trace (TRUE, lines[i], meaning, client->trace_data);
    }
  client->trace (TRUE, ".", "end of the multi-line response (RFC 1939 §3)",
                 client->trace_data);
}

/* ---- commands and responses ---------------------------------------- */

void
pop3_client_send (Pop3Client *client, const char *verb, const char *argument)
{
  Pop3Pending *pending = g_new0 (Pop3Pending, 1);

  g_return_if_fail (client != NULL);
  g_return_if_fail (verb != NULL);

  pending->verb = g_ascii_strup (verb, -1);
  pending->has_argument = argument != NULL;
  g_queue_push_tail (&client->pending, pending);
  if (argument != NULL)
    mail_stream_printf (client->stream, "%s %s", verb, argument);
  else
    mail_stream_write_line (client->stream, verb);
}

guint
pop3_client_outstanding (Pop3Client *client)
{
  return g_queue_get_length (&client->pending);
}

/* Reads one status line and parses it. */
static gboolean
pop3_client_read_status (Pop3Client *client,
                         Pop3Response *out_response,
                         GError **error)
{
  g_autofree char *line = NULL;
  gsize length = 0;
  MailLineFlags flags = MAIL_LINE_CRLF;
  g_autoptr (GError) local_error = NULL;

  if (!mail_stream_read_line (client->stream, &line, &length, &flags, NULL,
                              error))
    return FALSE;
  if (!pop3_proto_parse_response (line, out_response, &local_error))
    {
      g_set_error (error, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_PROTOCOL,
                   "bad response \"%.80s\": %s", line, local_error->message);
      return FALSE;
    }
  return TRUE;
}

Pop3Reply *
pop3_client_receive (Pop3Client *client, GError **error)
{
  g_autoptr (Pop3Reply) reply = g_new0 (Pop3Reply, 1);
  Pop3Pending *pending = g_queue_peek_head (&client->pending);
  MailLineFlags seen = MAIL_LINE_CRLF;
  gboolean ok = FALSE;

  g_return_val_if_fail (pending != NULL, NULL);

  reply->verb = g_strdup (pending->verb);
  if (!pop3_client_read_status (client, &reply->response, error))
    return NULL;
  ok = reply->response.status == POP3_STATUS_OK;
  if (pop3_proto_is_multiline (pending->verb, pending->has_argument, ok))
    {
      reply->body = g_string_new (NULL);
      if (!mail_stream_read_dot_text (client->stream, reply->body,
                                      POP3_CLIENT_MAX_MESSAGE, &seen, NULL,
                                      error))
        return NULL;
    }
  /* a "+ " challenge belongs to AUTH, which is still going on */
  if (reply->response.status != POP3_STATUS_CONTINUATION)
    pop3_pending_free (g_queue_pop_head (&client->pending));
  pop3_client_trace_body (client, reply);
  return g_steal_pointer (&reply);
}

/* Maps a -ERR to an error, by response code (RFC 2449 §8, RFC 3206). */
static void
pop3_client_set_rejected (const Pop3Reply *reply, GError **error)
{
  Pop3ClientError code = POP3_CLIENT_ERROR_REJECTED;

  switch (pop3_response_code_from_name (reply->response.code))
    {
    case POP3_CODE_IN_USE:
      code = POP3_CLIENT_ERROR_IN_USE;
      break;
    case POP3_CODE_AUTH:
      code = POP3_CLIENT_ERROR_AUTH;
      break;
    default:
      break;
    }
  g_set_error (error, POP3_CLIENT_ERROR, code, "%s refused: -ERR %s%s%s%s",
               reply->verb, reply->response.code ? "[" : "",
               reply->response.code ? reply->response.code : "",
               reply->response.code ? "] " : "", reply->response.text);
}

Pop3Reply *
pop3_client_receive_ok (Pop3Client *client, GError **error)
{
  g_autoptr (Pop3Reply) reply = pop3_client_receive (client, error);

  if (reply == NULL)
    return NULL;
  if (reply->response.status != POP3_STATUS_OK)
    {
      pop3_client_set_rejected (reply, error);
      return NULL;
    }
  return g_steal_pointer (&reply);
}

Pop3Reply *
pop3_client_command (Pop3Client *client,
                     const char *verb,
                     const char *argument,
                     GError **error)
{
  pop3_client_send (client, verb, argument);
  return pop3_client_receive_ok (client, error);
}

/* ---- capabilities (RFC 2449 §5) ------------------------------------ */

/* Asks CAPA; a server without it (-ERR) simply has no capabilities. */
static gboolean
pop3_client_capa (Pop3Client *client, GError **error)
{
  g_autoptr (Pop3Reply) reply = NULL;
  g_auto (GStrv) lines = NULL;

  g_ptr_array_set_size (client->capabilities, 0);
  pop3_client_send (client, "CAPA", NULL);
  reply = pop3_client_receive (client, error);
  if (reply == NULL)
    return FALSE;
  if (reply->body == NULL)
    return TRUE;
  lines = g_strsplit (reply->body->str, "\r\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '\0')
      g_ptr_array_add (client->capabilities, g_strdup (lines[i]));
  return TRUE;
}

gboolean
pop3_client_has_capability (Pop3Client *client,
                            const char *tag,
                            const char **out_parameters)
{
  gsize length = strlen (tag);

  for (guint i = 0; i < client->capabilities->len; i++)
    {
      const char *line = g_ptr_array_index (client->capabilities, i);

      if (g_ascii_strncasecmp (line, tag, length) != 0 ||
          (line[length] != '\0' && line[length] != ' '))
        continue;
      if (out_parameters != NULL)
        *out_parameters = line[length] == ' ' ? line + length + 1 : "";
      return TRUE;
    }
  return FALSE;
}

gboolean
pop3_client_can_pipeline (Pop3Client *client)
{
  return pop3_client_has_capability (client, "PIPELINING", NULL);
}

static gboolean
pop3_client_has_sasl (Pop3Client *client, const char *mechanism)
{
  const char *mechanisms = NULL;
  g_auto (GStrv) words = NULL;

  if (!pop3_client_has_capability (client, "SASL", &mechanisms))
    return FALSE;
  words = g_strsplit (mechanisms, " ", -1);
  for (guint i = 0; words[i] != NULL; i++)
    if (g_ascii_strcasecmp (words[i], mechanism) == 0)
      return TRUE;
  return FALSE;
}

/* ---- connection ---------------------------------------------------- */

Pop3Client *
pop3_client_connect (const char *host,
                     guint16 port,
                     gboolean implicit_tls,
                     const char *ca_file,
                     gboolean insecure,
                     guint timeout,
                     Pop3ClientTraceFunc trace,
                     gpointer trace_data,
                     GError **error)
{
  g_autoptr (Pop3Client) client = g_new0 (Pop3Client, 1);
  Pop3Response greeting = { 0 };
  gboolean ok = FALSE;

  client->host = g_strdup (host);
  client->capabilities = g_ptr_array_new_with_free_func (g_free);
  g_queue_init (&client->pending);
  client->trace = trace;
  client->trace_data = trace_data;
  client->mask_keep = -1;
  client->stream =
      mail_net_connect (host, port, implicit_tls, ca_file, insecure,
                        POP3_CLIENT_MAX_LINE, timeout, NULL, error);
  if (client->stream == NULL)
    return NULL;
  mail_stream_set_trace (client->stream, on_stream_line, client);
  /* RFC 1939 §4: the greeting is a +OK */
  if (!pop3_client_read_status (client, &greeting, error))
    return NULL;
  ok = greeting.status == POP3_STATUS_OK;
  if (!ok)
    g_set_error (error, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_REJECTED,
                 "server refused the connection: %s", greeting.text);
  pop3_response_clear (&greeting);
  if (!ok || !pop3_client_capa (client, error))
    return NULL;
  return g_steal_pointer (&client);
}

gboolean
pop3_client_stls (Pop3Client *client,
                  const char *ca_file,
                  gboolean insecure,
                  GError **error)
{
  g_autoptr (Pop3Reply) reply = NULL;

  if (!pop3_client_has_capability (client, "STLS", NULL))
    {
      g_set_error (error, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_UNSUPPORTED,
                   "the server does not offer STLS");
      return FALSE;
    }
  reply = pop3_client_command (client, "STLS", NULL, error);
  if (reply == NULL)
    return FALSE;
  if (!mail_stream_start_tls_client (client->stream, client->host, ca_file,
                                     insecure, NULL, error))
    return FALSE;
  /* RFC 2595 §4: forget what was learnt in clear and ask again */
  return pop3_client_capa (client, error);
}

gboolean
pop3_client_is_tls (Pop3Client *client)
{
  return mail_stream_is_tls (client->stream);
}

/* ---- login --------------------------------------------------------- */

/* Sends a credential line, masked in the trace after @shown_prefix
 * ("PASS", "AUTH PLAIN"); with @verb NULL, a bare SASL response. */
static void
pop3_client_send_secret (Pop3Client *client,
                         const char *verb,
                         const char *argument,
                         const char *shown_prefix)
{
  client->mask_keep = shown_prefix ? (gssize) strlen (shown_prefix) : 0;
  if (verb != NULL)
    pop3_client_send (client, verb, argument);
  else
    mail_stream_write_line (client->stream, argument);
}

/* RFC 1939 §7: USER name, PASS string */
static gboolean
pop3_client_login_user (Pop3Client *client,
                        const char *user,
                        const char *password,
                        GError **error)
{
  g_autoptr (Pop3Reply) reply =
      pop3_client_command (client, "USER", user, error);

  if (reply == NULL)
    return FALSE;
  g_clear_pointer (&reply, pop3_reply_free);
  pop3_client_send_secret (client, "PASS", password, "PASS");
  reply = pop3_client_receive_ok (client, error);
  return reply != NULL;
}

/* Receives a reply in an AUTH exchange: +OK ends it, "+ " asks for the
 * next response (*out_challenge set), -ERR fails. */
static gboolean
pop3_client_auth_step (Pop3Client *client, gboolean *out_done, GError **error)
{
  g_autoptr (Pop3Reply) reply = pop3_client_receive (client, error);

  if (reply == NULL)
    return FALSE;
  *out_done = reply->response.status == POP3_STATUS_OK;
  if (reply->response.status == POP3_STATUS_ERR)
    {
      pop3_client_set_rejected (reply, error);
      return FALSE;
    }
  return TRUE;
}

/* RFC 5034 §4 with an initial response (RFC 4616 §2 message) */
static gboolean
pop3_client_login_plain (Pop3Client *client,
                         const char *user,
                         const char *password,
                         GError **error)
{
  g_autofree char *response = mail_sasl_plain_encode (NULL, user, password);
  g_autofree char *argument = g_strdup_printf ("PLAIN %s", response);
  gboolean done = FALSE;

  pop3_client_send_secret (client, "AUTH", argument, "AUTH PLAIN");
  explicit_bzero (argument, strlen (argument));
  if (!pop3_client_auth_step (client, &done, error))
    return FALSE;
  if (!done)
    {
      /* the server ignored the initial response: send it again */
      pop3_client_send_secret (client, NULL, response, NULL);
      if (!pop3_client_auth_step (client, &done, error))
        return FALSE;
    }
  explicit_bzero (response, strlen (response));
  if (!done)
    g_set_error (error, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_PROTOCOL,
                 "AUTH PLAIN: unexpected challenge");
  return done;
}

/* LOGIN: the user name and the password, each base64, each after a "+" */
static gboolean
pop3_client_login_login (Pop3Client *client,
                         const char *user,
                         const char *password,
                         GError **error)
{
  const char *secrets[] = { user, password };
  gboolean done = FALSE;

  pop3_client_send (client, "AUTH", "LOGIN");
  for (guint i = 0; i < G_N_ELEMENTS (secrets); i++)
    {
      g_autofree char *base64 = NULL;

      if (!pop3_client_auth_step (client, &done, error))
        return FALSE;
      if (done)
        break;
      base64 =
          g_base64_encode ((const guchar *) secrets[i], strlen (secrets[i]));
      pop3_client_send_secret (client, NULL, base64, NULL);
      explicit_bzero (base64, strlen (base64));
    }
  if (!done && !pop3_client_auth_step (client, &done, error))
    return FALSE;
  if (!done)
    g_set_error (error, POP3_CLIENT_ERROR, POP3_CLIENT_ERROR_PROTOCOL,
                 "AUTH LOGIN: unexpected challenge");
  return done;
}

gboolean
pop3_client_login (Pop3Client *client,
                   Pop3AuthMethod method,
                   const char *user,
                   const char *password,
                   GError **error)
{
  g_return_val_if_fail (user != NULL && password != NULL, FALSE);

  if (method == POP3_AUTH_AUTO)
    method = pop3_client_has_sasl (client, "PLAIN") ? POP3_AUTH_PLAIN
                                                    : POP3_AUTH_USER;
  switch (method)
    {
    case POP3_AUTH_PLAIN:
      return pop3_client_login_plain (client, user, password, error);
    case POP3_AUTH_LOGIN:
      return pop3_client_login_login (client, user, password, error);
    case POP3_AUTH_USER:
      return pop3_client_login_user (client, user, password, error);
    case POP3_AUTH_AUTO:
    default:
      g_assert_not_reached ();
    }
}

gboolean
pop3_client_quit (Pop3Client *client, GError **error)
{
  g_autoptr (Pop3Reply) reply = NULL;

  /* responses of pipelined commands come first, in order */
  while (pop3_client_outstanding (client) > 0)
    {
      g_autoptr (Pop3Reply) earlier = pop3_client_receive_ok (client, error);

      if (earlier == NULL)
        return FALSE;
    }
  reply = pop3_client_command (client, "QUIT", NULL, error);
  return reply != NULL;
}
