/* SPDX-License-Identifier: MIT
 * mw-send: composes a message with GMime (or takes an existing .eml) and
 * pushes it to an SMTP server with the SMTP client library (RFC 5321;
 * RFC 5322 message format; RFC 2045/2046 MIME; RFC 3207 STARTTLS; RFC 8314
 * implicit TLS; RFC 4954 AUTH).
 *
 * Exit status: 0 sent; 1 usage or local error (reading a file);
 * 2 connect, 3 EHLO, 4 TLS, 5 AUTH, 6 MAIL, 7 RCPT (some or all recipients
 * refused), 8 DATA, 9 protocol error. The message on stderr names the
 * step and quotes the server's reply.
 */
#include <gmime/gmime.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mail-cli.h"
#include "mail-line.h"
#include "mail-net.h"
#include "mail-tls.h"
#include "smtp-client.h"
#include "smtp-proto.h"

/* GMime 3.2 defines no autoptr cleanups; its types are GObjects. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeMessage, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeObject, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeStream, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeDataWrapper, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (InternetAddressList, g_object_unref)

#define MW_SEND_EXIT_USAGE 1
#define MW_SEND_EXIT_STEP_BASE 2 /* + SmtpClientError */

typedef struct
{
  char *server;
  int port;
  gboolean starttls;
  gboolean implicit_tls;
  char *ca_file;
  char *keylog; /* --keylog FILE: the TLS secrets, for mw-trace */
  gboolean insecure;
  char *user;
  char *password;
  char *password_file;
  char *auth;
  char *from;
  GStrv to;
  GStrv cc;
  GStrv bcc;
  char *subject;
  char *body;
  char *body_file;
  GStrv attach;
  char *eml;
  char *helo;
  gboolean trace;
  gboolean chunking; /* BDAT when offered (RFC 3030) */
  gboolean smtputf8; /* MAIL ... SMTPUTF8 (RFC 6531) */
  char *notify;      /* RFC 3461 §4.1 NOTIFY, for every recipient */
  char *ret;         /* RFC 3461 §4.3 RET */
  char *envid;       /* RFC 3461 §4.4 ENVID, as text (sent as xtext) */
  GStrv orcpt;       /* RFC 3461 §4.2: the Nth for the Nth recipient */
} MwSendOptions;

static void
mw_send_options_clear (MwSendOptions *o)
{
  g_free (o->server);
  g_free (o->ca_file);
  g_free (o->keylog);
  g_free (o->user);
  if (o->password != NULL)
    explicit_bzero (o->password, strlen (o->password));
  g_free (o->password);
  g_free (o->password_file);
  g_free (o->auth);
  g_free (o->from);
  g_free (o->notify);
  g_free (o->ret);
  g_free (o->envid);
  g_strfreev (o->orcpt);
  g_strfreev (o->to);
  g_strfreev (o->cc);
  g_strfreev (o->bcc);
  g_free (o->subject);
  g_free (o->body);
  g_free (o->body_file);
  g_strfreev (o->attach);
  g_free (o->eml);
  g_free (o->helo);
}

/* ---- addresses ------------------------------------------------------- */

/* Appends the addr-spec of every mailbox in @text ("Bob <bob@x>, c@y") to
 * @out, for the envelope (RFC 5321 §4.1.2 paths carry no display name). */
static gboolean
mw_send_collect_addresses (const char *text, GPtrArray *out, GError **error)
{
  g_autoptr (InternetAddressList) list =
      internet_address_list_parse (NULL, text);
  int n = list != NULL ? internet_address_list_length (list) : 0;

  if (n == 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "not an address: %s", text);
      return FALSE;
    }
  for (int i = 0; i < n; i++)
    {
      InternetAddress *a = internet_address_list_get_address (list, i);

      if (!INTERNET_ADDRESS_IS_MAILBOX (a))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "groups are not supported: %s", text);
          return FALSE;
        }
      g_ptr_array_add (out, g_strdup (internet_address_mailbox_get_addr (
                                INTERNET_ADDRESS_MAILBOX (a))));
    }
  return TRUE;
}

static void
mw_send_add_header_addresses (GMimeMessage *message,
                              GMimeAddressType type,
                              GStrv texts)
{
  InternetAddressList *dest = g_mime_message_get_addresses (message, type);

  for (guint i = 0; texts != NULL && texts[i] != NULL; i++)
    {
      g_autoptr (InternetAddressList) list =
          internet_address_list_parse (NULL, texts[i]);

      if (list != NULL)
        internet_address_list_append (dest, list);
    }
}

/* ---- composing ------------------------------------------------------- */

static char *
mw_send_read_body (const MwSendOptions *o, GError **error)
{
  char *text = NULL;

  if (o->body != NULL)
    return g_strdup (o->body);
  if (o->body_file != NULL)
    return g_file_get_contents (o->body_file, &text, NULL, error) ? text : NULL;
  /* No body given: read it from stdin, like mail(1). */
  g_autoptr (GString) in = g_string_new (NULL);
  char chunk[4096];
  size_t n;

  while ((n = fread (chunk, 1, sizeof chunk, stdin)) > 0)
    g_string_append_len (in, chunk, n);
  return g_string_free (g_steal_pointer (&in), FALSE);
}

static GMimeObject *
mw_send_attachment (const char *path, GError **error)
{
  char *contents = NULL;
  gsize length = 0;

  if (!g_file_get_contents (path, &contents, &length, error))
    return NULL;
  g_autofree char *base = g_path_get_basename (path);
  GMimePart *part = g_mime_part_new_with_type ("application", "octet-stream");
  /* The stream owns the buffer from now on. */
  GByteArray *bytes = g_byte_array_new_take ((guint8 *) contents, length);
  g_autoptr (GMimeStream) stream =
      g_mime_stream_mem_new_with_byte_array (bytes);
  g_autoptr (GMimeDataWrapper) wrapper = g_mime_data_wrapper_new_with_stream (
      stream, GMIME_CONTENT_ENCODING_DEFAULT);

  g_mime_part_set_content (part, wrapper);
  g_mime_part_set_filename (part, base);
  /* RFC 2045 §6.8: base64 carries any octets through 7-bit SMTP. */
  g_mime_part_set_content_encoding (part, GMIME_CONTENT_ENCODING_BASE64);
  return GMIME_OBJECT (part);
}

/* The body part, or multipart/mixed of it and the attachments (RFC 2046
 * §5.1.3). */
static GMimeObject *
mw_send_mime_body (const MwSendOptions *o, GError **error)
{
  g_autofree char *text = mw_send_read_body (o, error);

  if (text == NULL)
    return NULL;
  GMimeTextPart *body = g_mime_text_part_new_with_subtype ("plain");
  g_mime_text_part_set_text (body, text);
  if (o->attach == NULL)
    return GMIME_OBJECT (body);

  GMimeMultipart *mixed = g_mime_multipart_new_with_subtype ("mixed");
  g_mime_multipart_add (mixed, GMIME_OBJECT (body));
  g_object_unref (body);
  for (guint i = 0; o->attach[i] != NULL; i++)
    {
      GMimeObject *part = mw_send_attachment (o->attach[i], error);

      if (part == NULL)
        {
          g_object_unref (mixed);
          return NULL;
        }
      g_mime_multipart_add (mixed, part);
      g_object_unref (part);
    }
  return GMIME_OBJECT (mixed);
}

/* RFC 5322 §3.6: Date and From are required; Message-ID should be there. */
static GString *
mw_send_compose (const MwSendOptions *o, GError **error)
{
  g_autoptr (GMimeMessage) message = g_mime_message_new (TRUE);
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  const char *at = strrchr (o->from, '@');
  g_autofree char *id =
      g_mime_utils_generate_message_id (at != NULL ? at + 1 : "localhost");
  g_autoptr (GMimeObject) body = mw_send_mime_body (o, error);

  if (body == NULL)
    return NULL;
  char *from[] = { o->from, NULL };
  mw_send_add_header_addresses (message, GMIME_ADDRESS_TYPE_FROM, from);
  mw_send_add_header_addresses (message, GMIME_ADDRESS_TYPE_TO, o->to);
  mw_send_add_header_addresses (message, GMIME_ADDRESS_TYPE_CC, o->cc);
  g_mime_message_set_subject (message, o->subject ? o->subject : "", "utf-8");
  g_mime_message_set_date (message, now);
  g_mime_message_set_message_id (message, id);
  g_mime_message_set_mime_part (message, body);
  /* Pick quoted-printable or base64 where the text needs it, so the
   * message is 7-bit and any server takes it (RFC 6152 §3 otherwise). */
  g_mime_object_encode (GMIME_OBJECT (message), GMIME_ENCODING_CONSTRAINT_7BIT);

  GMimeFormatOptions *format = g_mime_format_options_new ();
  g_mime_format_options_set_newline_format (format, GMIME_NEWLINE_FORMAT_DOS);
  g_autofree char *text =
      g_mime_object_to_string (GMIME_OBJECT (message), format);
  g_mime_format_options_free (format);
  return mail_line_to_crlf (text, strlen (text));
}

static GString *
mw_send_message_text (const MwSendOptions *o, GError **error)
{
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (o->eml == NULL)
    return mw_send_compose (o, error);
  /* "As is": only line ends change, RFC 5321 §2.3.8 wants CRLF. */
  if (!g_file_get_contents (o->eml, &contents, &length, error))
    return NULL;
  return mail_line_to_crlf (contents, length);
}

/* ---- sending --------------------------------------------------------- */

static gboolean
mw_send_login (SmtpClient *client, const MwSendOptions *o, GError **error)
{
  SmtpAuthMechanism mechanism = SMTP_AUTH_PLAIN;

  if (o->auth != NULL && g_ascii_strcasecmp (o->auth, "login") == 0)
    mechanism = SMTP_AUTH_LOGIN;
  else if (o->auth == NULL &&
           !smtp_client_offers_auth (client, SMTP_AUTH_PLAIN))
    mechanism = SMTP_AUTH_LOGIN;
  return smtp_client_auth (client, mechanism, o->user, o->password, error);
}

static gboolean
mw_send_open (SmtpClient *client,
              const MwSendOptions *o,
              const char *host,
              guint16 port,
              GError **error)
{
  if (!smtp_client_connect (client, host, port, o->implicit_tls, o->ca_file,
                            o->insecure, 60, NULL, error))
    return FALSE;
  if (!smtp_client_ehlo (client, o->helo, error))
    return FALSE;
  if (o->starttls && !smtp_client_starttls (client, host, o->ca_file,
                                            o->insecure, o->helo, error))
    return FALSE;
  if (o->user != NULL && !mw_send_login (client, o, error))
    return FALSE;
  return TRUE;
}

/* Prints each refused recipient; TRUE if all were accepted. */
static gboolean
mw_send_report_recipients (GPtrArray *results)
{
  gboolean all = TRUE;

  for (guint i = 0; results != NULL && i < results->len; i++)
    {
      SmtpRecipientResult *r = g_ptr_array_index (results, i);

      if (smtp_reply_is_positive (r->code))
        continue;
      all = FALSE;
      g_printerr ("mw-send: RCPT TO:<%s> refused: %s\n", r->address,
                  r->reply != NULL ? r->reply : "(no reply)");
    }
  return all;
}

/* The DSN request of --notify, --ret, --envid and --orcpt, checked with
 * the grammar the server uses (RFC 3461 §4): the values are put in the
 * parameters they will be sent as and parsed back. NULL with @error for
 * a bad one; an empty request when none was given. */
static SmtpDsnEnvelope *
mw_send_dsn_request (const MwSendOptions *o, guint recipients, GError **error)
{
  g_autofree SmtpDsnEnvelope *dsn = g_new0 (SmtpDsnEnvelope, 1);
  g_autofree char *envid = o->envid ? smtp_proto_xtext_encode (o->envid) : NULL;
  g_autofree char *mail = g_strdup_printf (
      "FROM:<>%s%s%s%s", o->ret ? " RET=" : "", o->ret ? o->ret : "",
      envid ? " ENVID=" : "", envid ? envid : "");
  g_autoptr (SmtpPath) path =
      smtp_proto_parse_path (mail, SMTP_PATH_REVERSE, error);

  if (path == NULL ||
      !smtp_proto_parse_dsn_mail (path, &dsn->ret, &dsn->envid, error))
    return NULL;
  if (o->orcpt != NULL && g_strv_length (o->orcpt) > recipients)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%u --orcpt for %u recipients", g_strv_length (o->orcpt),
                   recipients);
      smtp_dsn_envelope_clear (dsn);
      return NULL;
    }
  dsn->recipients =
      g_ptr_array_new_with_free_func ((GDestroyNotify) smtp_dsn_recipient_free);
  for (guint i = 0; i < recipients; i++)
    {
      const char *orcpt =
          o->orcpt != NULL && i < g_strv_length (o->orcpt) ? o->orcpt[i] : NULL;
      g_autofree char *encoded = orcpt ? smtp_proto_xtext_encode (orcpt) : NULL;
      g_autofree char *rcpt = g_strdup_printf (
          "TO:<x@x.invalid>%s%s%s%s", o->notify ? " NOTIFY=" : "",
          o->notify ? o->notify : "", encoded ? " ORCPT=rfc822;" : "",
          encoded ? encoded : "");
      g_autoptr (SmtpPath) rpath =
          smtp_proto_parse_path (rcpt, SMTP_PATH_FORWARD, error);
      SmtpDsnRecipient *asked =
          rpath ? smtp_proto_parse_dsn_rcpt (rpath, error) : NULL;

      if (asked == NULL)
        {
          smtp_dsn_envelope_clear (dsn);
          return NULL;
        }
      g_ptr_array_add (dsn->recipients, asked);
    }
  return g_steal_pointer (&dsn);
}

static gboolean
mw_send_wants_dsn (const MwSendOptions *o)
{
  return o->notify != NULL || o->ret != NULL || o->envid != NULL ||
         o->orcpt != NULL;
}

static void
mw_send_dsn_free (SmtpDsnEnvelope *dsn)
{
  if (dsn == NULL)
    return;
  smtp_dsn_envelope_clear (dsn);
  g_free (dsn);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmtpDsnEnvelope, mw_send_dsn_free)

static int
mw_send_run (const MwSendOptions *o, GPtrArray *recipients, GString *text)
{
  g_autoptr (SmtpClient) client = smtp_client_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) results = NULL;
  g_autofree char *host = NULL;
  guint16 port = 0;
  g_autoptr (GPtrArray) from = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (SmtpDsnEnvelope) dsn = NULL;

  if (!mail_net_parse_host_port (o->server, o->implicit_tls ? 2465 : 2525,
                                 &host, &port, &error) ||
      !mw_send_collect_addresses (o->from, from, &error))
    {
      g_printerr ("mw-send: %s\n", error->message);
      return MW_SEND_EXIT_USAGE;
    }
  if (o->port > 0)
    port = o->port;
  if (o->trace)
    smtp_client_set_trace (client, mail_cli_print_trace, NULL);
  smtp_client_set_chunking (client, o->chunking);
  smtp_client_set_smtputf8 (client, o->smtputf8);
  dsn = mw_send_dsn_request (o, recipients->len, &error);
  if (dsn == NULL)
    {
      g_printerr ("mw-send: %s\n", error->message);
      return MW_SEND_EXIT_USAGE;
    }
  smtp_client_set_dsn (client, dsn);
  g_ptr_array_add (recipients, NULL);
  if (mw_send_open (client, o, host, port, &error) && mw_send_wants_dsn (o) &&
      (smtp_client_get_extensions (client) & SMTP_EXT_DSN) == 0)
    g_printerr ("mw-send: warning: the server does not offer DSN (RFC "
                "3461): sending without --notify, --ret, --envid, --orcpt\n");
  if (error != NULL ||
      !smtp_client_send (client, g_ptr_array_index (from, 0),
                         (const char *const *) recipients->pdata, text->str,
                         text->len, &results, &error))
    {
      /* One refused recipient is the error itself; list several. After
       * another failure the recipients' replies mean nothing. */
      if (error->code == SMTP_CLIENT_ERROR_RCPT && results != NULL &&
          results->len > 1)
        mw_send_report_recipients (results);
      g_printerr ("mw-send: %s\n", error->message);
      smtp_client_quit (client);
      return MW_SEND_EXIT_STEP_BASE + error->code;
    }
  smtp_client_quit (client);
  if (!mw_send_report_recipients (results))
    return MW_SEND_EXIT_STEP_BASE + SMTP_CLIENT_ERROR_RCPT;
  return 0;
}

/* ---- options --------------------------------------------------------- */

static gboolean
mw_send_check_options (MwSendOptions *o, GPtrArray *recipients, GError **error)
{
  GStrv lists[] = { o->to, o->cc, o->bcc };

  if (o->from == NULL)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           "--from is required");
      return FALSE;
    }
  for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
    for (guint i = 0; lists[l] != NULL && lists[l][i] != NULL; i++)
      if (!mw_send_collect_addresses (lists[l][i], recipients, error))
        return FALSE;
  if (recipients->len == 0)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           "give at least one --to, --cc or --bcc");
      return FALSE;
    }
  if (o->password_file != NULL)
    {
      o->password = mail_cli_read_password_file (o->password_file, error);
      if (o->password == NULL)
        return FALSE;
    }
  if (o->user != NULL && o->password == NULL)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           "--user needs --password or --password-file");
      return FALSE;
    }
  if (o->auth != NULL && g_ascii_strcasecmp (o->auth, "plain") != 0 &&
      g_ascii_strcasecmp (o->auth, "login") != 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--auth must be plain or login, not %s", o->auth);
      return FALSE;
    }
  return TRUE;
}

static gboolean
mw_send_parse_options (MwSendOptions *o,
                       int *argc,
                       char ***argv,
                       GError **error)
{
  const GOptionEntry entries[] = {
    { "server", 's', 0, G_OPTION_ARG_STRING, &o->server,
      "SMTP server (default 127.0.0.1:2525)", "HOST[:PORT]" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &o->port, "Port", "PORT" },
    { "starttls", 0, 0, G_OPTION_ARG_NONE, &o->starttls,
      "Upgrade to TLS with STARTTLS (RFC 3207)", NULL },
    { "tls", 0, 0, G_OPTION_ARG_NONE, &o->implicit_tls,
      "TLS from the first byte (RFC 8314; default port 2465)", NULL },
    { "cafile", 0, 0, G_OPTION_ARG_FILENAME, &o->ca_file,
      "Trust the CA certificates in FILE", "FILE" },
    { "insecure", 0, 0, G_OPTION_ARG_NONE, &o->insecure,
      "Accept any server certificate (tests only)", NULL },
    { "user", 'u', 0, G_OPTION_ARG_STRING, &o->user, "AUTH as USER", "USER" },
    { "password", 0, 0, G_OPTION_ARG_STRING, &o->password, "Password",
      "PASSWORD" },
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &o->password_file,
      "Read the password from FILE", "FILE" },
    { "auth", 0, 0, G_OPTION_ARG_STRING, &o->auth,
      "SASL mechanism: plain or login", "MECH" },
    { "from", 'f', 0, G_OPTION_ARG_STRING, &o->from, "Sender", "ADDRESS" },
    { "to", 't', 0, G_OPTION_ARG_STRING_ARRAY, &o->to, "Recipient (repeatable)",
      "ADDRESS" },
    { "cc", 'c', 0, G_OPTION_ARG_STRING_ARRAY, &o->cc,
      "Copy recipient (repeatable)", "ADDRESS" },
    { "bcc", 'b', 0, G_OPTION_ARG_STRING_ARRAY, &o->bcc,
      "Blind copy: envelope only, no header (repeatable)", "ADDRESS" },
    { "subject", 'S', 0, G_OPTION_ARG_STRING, &o->subject, "Subject", "TEXT" },
    { "body", 0, 0, G_OPTION_ARG_STRING, &o->body,
      "Body text (default: read stdin)", "TEXT" },
    { "body-file", 0, 0, G_OPTION_ARG_FILENAME, &o->body_file,
      "Read the body from FILE", "FILE" },
    { "attach", 'a', 0, G_OPTION_ARG_FILENAME_ARRAY, &o->attach,
      "Attach FILE (repeatable)", "FILE" },
    { "eml", 0, 0, G_OPTION_ARG_FILENAME, &o->eml,
      "Send FILE as is instead of composing", "FILE" },
    { "helo", 0, 0, G_OPTION_ARG_STRING, &o->helo,
      "Name given in EHLO (default: this host's name)", "NAME" },
    { "trace", 0, 0, G_OPTION_ARG_NONE, &o->trace,
      "Print the dialogue, each line explained", NULL },
    { "keylog", 0, 0, G_OPTION_ARG_FILENAME, &o->keylog,
      "Append the TLS secrets to FILE (for mw-trace --keylog)", "FILE" },
    { "chunking", 0, 0, G_OPTION_ARG_NONE, &o->chunking,
      "Send the message in BDAT chunks when the server offers CHUNKING "
      "(RFC 3030) instead of DATA",
      NULL },
    { "smtputf8", 0, 0, G_OPTION_ARG_NONE, &o->smtputf8,
      "Ask for SMTPUTF8 (RFC 6531) on MAIL, for UTF-8 header fields; it is "
      "asked for anyway when an address is not ASCII",
      NULL },
    { "notify", 0, 0, G_OPTION_ARG_STRING, &o->notify,
      "Ask for delivery status notifications (RFC 3461 DSN): NEVER, or a "
      "list of SUCCESS,FAILURE,DELAY, for every recipient",
      "LIST" },
    { "ret", 0, 0, G_OPTION_ARG_STRING, &o->ret,
      "A bounce returns the FULL message or only its HDRS (RFC 3461 §4.3)",
      "FULL|HDRS" },
    { "envid", 0, 0, G_OPTION_ARG_STRING, &o->envid,
      "An id of yours, quoted back in every notice (RFC 3461 §4.4)", "ID" },
    { "orcpt", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->orcpt,
      "The original address of the Nth recipient, quoted back in notices "
      "(RFC 3461 §4.2; repeatable)",
      "ADDRESS" },
    { NULL },
  };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("- send one message over SMTP");

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (
      context, "Exit status: 0 sent; 1 usage; 2 connect; 3 EHLO; 4 TLS; "
               "5 AUTH;\n6 MAIL; 7 RCPT; 8 DATA; 9 protocol error.\n");
  return g_option_context_parse (context, argc, argv, error);
}

int
main (int argc, char **argv)
{
  MwSendOptions o = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) recipients = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) text = NULL;
  int status;

  mail_cli_init_locale ();
  g_mime_init ();
  if (!mw_send_parse_options (&o, &argc, &argv, &error) ||
      !mw_send_check_options (&o, recipients, &error) ||
      !mail_tls_set_keylog (o.keylog, &error))
    {
      g_printerr ("mw-send: %s (see --help)\n", error->message);
      mw_send_options_clear (&o);
      return MW_SEND_EXIT_USAGE;
    }
  if (o.server == NULL)
    o.server = g_strdup ("127.0.0.1");
  if (o.helo == NULL)
    o.helo = g_strdup (g_get_host_name ());
  if (o.insecure)
    g_printerr ("mw-send: warning: --insecure: the server's certificate is "
                "not checked; anyone in the path can read the password\n");
  text = mw_send_message_text (&o, &error);
  if (text == NULL)
    {
      g_printerr ("mw-send: %s\n", error->message);
      mw_send_options_clear (&o);
      return MW_SEND_EXIT_USAGE;
    }
  status = mw_send_run (&o, recipients, text);
  mw_send_options_clear (&o);
  g_mime_shutdown ();
  return status;
}
