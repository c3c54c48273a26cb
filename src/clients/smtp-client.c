/* SPDX-License-Identifier: MIT
 * smtp-client.c: client side of one SMTP connection, for mw-send and the
 * relay: greeting, EHLO and its extensions, STARTTLS, AUTH, reading
 * replies, --trace (RFC 5321 §4.1.1.1, §4.2, §4.3.1; RFC 3207 §4;
 * RFC 4954 §4; RFC 2034). The mail transaction is smtp-client-send.c.
 *
 * Replies are parsed with the shared grammar (smtp-proto.h) and explained
 * with the shared catalog, so --trace says what mw-trace says.
 */
#include "smtp-client.h"

#include <string.h>

#include "mail-auth.h"
#include "mail-net.h"
#include "mail-tls.h"
#include "smtp-client-private.h"
#include "smtp-proto.h"

GQuark
smtp_client_error_quark (void)
{
  return g_quark_from_static_string ("smtp-client-error-quark");
}

static const char *const smtp_client_state_names[] = {
  "DISCONNECTED",
  "GREETED",
  "READY",
};

static void
smtp_client_enter_state (SmtpClient *c, SmtpClientState state)
{
  g_debug ("state %s -> %s", smtp_client_state_names[c->state],
           smtp_client_state_names[state]);
  c->state = state;
}

SmtpClient *
smtp_client_new (void)
{
  SmtpClient *c = g_new0 (SmtpClient, 1);

  c->reply_text = g_string_new (NULL);
  c->reply_lines = g_ptr_array_new_with_free_func (g_free);
  return c;
}

void
smtp_client_free (SmtpClient *c)
{
  if (c == NULL)
    return;
  g_clear_pointer (&c->stream, mail_stream_free);
  g_clear_object (&c->cancellable);
  g_string_free (c->reply_text, TRUE);
  g_ptr_array_unref (c->reply_lines);
  smtp_dsn_envelope_clear (&c->dsn);
  g_free (c);
}

/* ---- trace ------------------------------------------------------------ */

static char *
smtp_client_describe_sent (SmtpClient *c, const char *line)
{
  g_autofree char *verb = NULL;
  const char *arguments = NULL;

  if (c->in_sasl)
    return g_strdup ("SASL response, base64 (RFC 4954 §4)");
  if (!smtp_proto_split_command (line, &verb, &arguments))
    return NULL;
  return mail_catalog_describe (smtp_proto_command_info (verb));
}

/* RFC 4954 §4: a 334 carries a base64 challenge; show it decoded when it
 * is text, so "VXNlcm5hbWU6" reads as "Username:". */
static char *
smtp_client_describe_challenge (guint code, const char *text)
{
  g_autofree char *meaning = smtp_proto_describe_reply (code, NULL, NULL);
  gsize length = 0;
  g_autofree guchar *decoded = g_base64_decode (text, &length);

  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isprint (decoded[i]))
      return g_steal_pointer (&meaning);
  if (length == 0)
    return g_steal_pointer (&meaning);
  return g_strdup_printf ("%s; challenge \"%.*s\"",
                          meaning ? meaning : "server challenge", (int) length,
                          (const char *) decoded);
}

static char *
smtp_client_describe_received (SmtpClient *c, const char *line)
{
  guint code = 0;
  gboolean last = FALSE;
  const char *text = NULL;
  g_autofree char *keyword = NULL;
  const char *params = NULL;

  if (!smtp_proto_parse_reply_line (line, &code, &last, &text))
    return NULL;
  /* RFC 5321 §4.1.1.1: after the first line, an EHLO reply lists the
   * service extensions, one keyword per line. */
  if (c->in_ehlo && c->line_number > 0 &&
      smtp_proto_parse_ehlo_line (text, &keyword, &params))
    return mail_catalog_describe (smtp_proto_extension_info (keyword));
  if (c->line_number > 0)
    return NULL;
  if (code == SMTP_REPLY_AUTH_CONTINUE)
    return smtp_client_describe_challenge (code, text);
  return smtp_proto_describe_reply (code, NULL, text);
}

static void
on_stream_line (MailStreamDirection direction,
                const char *line,
                gpointer user_data)
{
  SmtpClient *c = user_data;
  g_autofree char *shown = NULL;
  g_autofree char *meaning = NULL;

  if (c->trace == NULL)
    return;
  if (direction == MAIL_STREAM_RECEIVED)
    {
      meaning = smtp_client_describe_received (c, line);
      c->trace (TRUE, line, meaning, c->trace_data);
      return;
    }
  meaning = smtp_client_describe_sent (c, line);
  if (c->mask == SMTP_MASK_LINE)
    shown = g_strdup ("***");
  else if (c->mask == SMTP_MASK_ARGUMENT)
    {
      const char *last_space = strrchr (line, ' ');
      int keep = last_space != NULL ? (int) (last_space - line) : 0;

      shown = g_strdup_printf ("%.*s ***", keep, line);
    }
  c->mask = SMTP_MASK_NONE;
  c->trace (FALSE, shown != NULL ? shown : line, meaning, c->trace_data);
}

/* A line of our own in the trace, for what is not a protocol line. */
void
smtp_client_note (SmtpClient *c, const char *note)
{
  if (c->trace != NULL)
    c->trace (FALSE, note, NULL, c->trace_data);
}

void
smtp_client_set_trace (SmtpClient *c,
                       SmtpClientTraceFunc func,
                       gpointer user_data)
{
  c->trace = func;
  c->trace_data = user_data;
}

/* ---- replies ---------------------------------------------------------- */

static void
smtp_client_drop (SmtpClient *c)
{
  g_clear_pointer (&c->stream, mail_stream_free);
  smtp_client_enter_state (c, SMTP_CLIENT_DISCONNECTED);
}

/* Reads one reply (RFC 5321 §4.2.1: all lines but the last have "-" after
 * the code, and every line carries the same code). Failing to read one is
 * fatal to the connection: the reply code becomes 0. @what names the step
 * in the error ("MAIL FROM:<a@b>"). */
gboolean
smtp_client_read_reply (SmtpClient *c,
                        SmtpClientError step,
                        const char *what,
                        GError **error)
{
  c->reply_code = 0;
  g_string_truncate (c->reply_text, 0);
  g_ptr_array_set_size (c->reply_lines, 0);
  for (c->line_number = 0; c->line_number < SMTP_CLIENT_MAX_REPLY_LINES;
       c->line_number++)
    {
      g_autofree char *line = NULL;
      g_autoptr (GError) local = NULL;
      gsize length = 0;
      MailLineFlags flags = 0;
      guint code = 0;
      gboolean last = FALSE;
      const char *text = NULL;

      if (!mail_stream_read_line (c->stream, &line, &length, &flags,
                                  c->cancellable, &local))
        {
          c->reply_code = 0;
          g_set_error (error, SMTP_CLIENT_ERROR, step,
                       "%s: no reply from the server: %s", what,
                       local->message);
          smtp_client_drop (c);
          return FALSE;
        }
      if (!smtp_proto_parse_reply_line (line, &code, &last, &text) ||
          (c->line_number > 0 && code != c->reply_code))
        {
          c->reply_code = 0;
          g_set_error (error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_PROTOCOL,
                       "%s: malformed reply line \"%s\" (RFC 5321 §4.2)", what,
                       line);
          smtp_client_drop (c);
          return FALSE;
        }
      c->reply_code = code;
      if (c->reply_text->len > 0)
        g_string_append_c (c->reply_text, '\n');
      g_string_append (c->reply_text, line);
      g_ptr_array_add (c->reply_lines, g_strdup (text));
      if (last)
        return TRUE;
    }
  g_set_error (error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_PROTOCOL,
               "%s: reply longer than %d lines", what,
               SMTP_CLIENT_MAX_REPLY_LINES);
  smtp_client_drop (c);
  return FALSE;
}

/* The reply was read but refused the step. */
void
smtp_client_set_refused (SmtpClient *c,
                         SmtpClientError step,
                         const char *what,
                         GError **error)
{
  g_set_error (error, SMTP_CLIENT_ERROR, step, "%s: server replied: %s", what,
               c->reply_text->str);
}

/* Reads a reply and checks its first digit with @accept. */
gboolean
smtp_client_expect (SmtpClient *c,
                    SmtpClientError step,
                    const char *what,
                    gboolean (*accept) (guint code),
                    GError **error)
{
  if (!smtp_client_read_reply (c, step, what, error))
    return FALSE;
  if (accept (c->reply_code))
    return TRUE;
  smtp_client_set_refused (c, step, what, error);
  return FALSE;
}

guint
smtp_client_get_reply_code (SmtpClient *c)
{
  return c->reply_code;
}

const char *
smtp_client_get_reply_text (SmtpClient *c)
{
  return c->reply_text->len > 0 ? c->reply_text->str : NULL;
}

gboolean
smtp_client_error_is_temporary (guint reply_code)
{
  return reply_code == 0 || smtp_reply_is_transient (reply_code);
}

/* ---- connect, EHLO, STARTTLS ------------------------------------------ */

gboolean
smtp_client_connect (SmtpClient *c,
                     const char *host,
                     guint16 port,
                     gboolean implicit_tls,
                     const char *ca_file,
                     gboolean insecure,
                     guint timeout,
                     GCancellable *cancellable,
                     GError **error)
{
  g_autoptr (GError) local = NULL;

  g_return_val_if_fail (c->state == SMTP_CLIENT_DISCONNECTED, FALSE);
  c->reply_code = 0;
  g_string_truncate (c->reply_text, 0);
  g_set_object (&c->cancellable, cancellable);
  c->stream = mail_net_connect (host, port, implicit_tls, ca_file, insecure,
                                SMTP_CLIENT_MAX_REPLY_LINE, timeout,
                                cancellable, &local);
  if (c->stream == NULL)
    {
      gboolean tls =
          local->domain == G_TLS_ERROR || local->domain == MAIL_TLS_ERROR;

      g_set_error (error, SMTP_CLIENT_ERROR,
                   tls ? SMTP_CLIENT_ERROR_TLS : SMTP_CLIENT_ERROR_CONNECT,
                   "%s", local->message);
      return FALSE;
    }
  mail_stream_set_trace (c->stream, on_stream_line, c);
  smtp_client_enter_state (c, SMTP_CLIENT_GREETED);
  /* RFC 5321 §4.3.1: 220 greets; 554 means "no service here". */
  if (!smtp_client_expect (c, SMTP_CLIENT_ERROR_CONNECT, "greeting",
                           smtp_reply_is_positive, error))
    {
      smtp_client_quit (c);
      return FALSE;
    }
  return TRUE;
}

/* One EHLO line after the first: keyword and parameters (RFC 5321
 * §4.1.1.1). Keywords we do not use are ignored, as §4.1.1.1 asks. */
static void
smtp_client_parse_extension (SmtpClient *c, const char *text)
{
  g_autofree char *keyword = NULL;
  const char *params = NULL;

  if (!smtp_proto_parse_ehlo_line (text, &keyword, &params))
    return;
  if (g_str_equal (keyword, "PIPELINING"))
    c->extensions |= SMTP_EXT_PIPELINING;
  else if (g_str_equal (keyword, "8BITMIME"))
    c->extensions |= SMTP_EXT_8BITMIME;
  else if (g_str_equal (keyword, "STARTTLS"))
    c->extensions |= SMTP_EXT_STARTTLS;
  else if (g_str_equal (keyword, "ENHANCEDSTATUSCODES"))
    c->extensions |= SMTP_EXT_ENHANCEDSTATUS;
  else if (g_str_equal (keyword, "SMTPUTF8"))
    c->extensions |= SMTP_EXT_SMTPUTF8;
  else if (g_str_equal (keyword, "CHUNKING"))
    c->extensions |= SMTP_EXT_CHUNKING;
  else if (g_str_equal (keyword, "DSN"))
    c->extensions |= SMTP_EXT_DSN;
  else if (g_str_equal (keyword, "SIZE"))
    {
      /* RFC 1870 §4: "SIZE" [SP number]; 0 or absent: no fixed limit. */
      c->extensions |= SMTP_EXT_SIZE;
      c->max_size = g_ascii_strtoull (params, NULL, 10);
    }
  else if (g_str_equal (keyword, "AUTH"))
    {
      g_auto (GStrv) mechanisms = g_strsplit (params, " ", -1);

      c->extensions |= SMTP_EXT_AUTH;
      for (guint i = 0; mechanisms[i] != NULL; i++)
        {
          if (g_ascii_strcasecmp (mechanisms[i], "PLAIN") == 0)
            c->auth_plain = TRUE;
          if (g_ascii_strcasecmp (mechanisms[i], "LOGIN") == 0)
            c->auth_login = TRUE;
        }
    }
}

static void
smtp_client_forget_extensions (SmtpClient *c)
{
  c->extensions = 0;
  c->max_size = 0;
  c->auth_plain = FALSE;
  c->auth_login = FALSE;
}

gboolean
smtp_client_ehlo (SmtpClient *c, const char *helo_name, GError **error)
{
  gboolean ok;

  g_return_val_if_fail (c->state == SMTP_CLIENT_GREETED, FALSE);
  smtp_client_forget_extensions (c);
  /* RFC 5321 §4.1.1.1 */
  mail_stream_printf (c->stream, "EHLO %s", helo_name);
  c->in_ehlo = TRUE;
  ok = smtp_client_read_reply (c, SMTP_CLIENT_ERROR_EHLO, "EHLO", error);
  c->in_ehlo = FALSE;
  if (!ok)
    return FALSE;
  if (smtp_reply_is_positive (c->reply_code))
    {
      for (guint i = 1; i < c->reply_lines->len; i++)
        smtp_client_parse_extension (c, c->reply_lines->pdata[i]);
      smtp_client_enter_state (c, SMTP_CLIENT_READY);
      return TRUE;
    }
  if (!smtp_reply_is_permanent (c->reply_code))
    {
      smtp_client_set_refused (c, SMTP_CLIENT_ERROR_EHLO, "EHLO", error);
      return FALSE;
    }
  /* RFC 5321 §3.2: a server that does not know EHLO answers 5xx; fall
   * back to HELO, with no extensions. */
  mail_stream_printf (c->stream, "HELO %s", helo_name);
  if (!smtp_client_expect (c, SMTP_CLIENT_ERROR_EHLO, "HELO",
                           smtp_reply_is_positive, error))
    return FALSE;
  smtp_client_enter_state (c, SMTP_CLIENT_READY);
  return TRUE;
}

SmtpExtensions
smtp_client_get_extensions (SmtpClient *c)
{
  return c->extensions;
}

guint64
smtp_client_get_max_size (SmtpClient *c)
{
  return c->max_size;
}

gboolean
smtp_client_offers_auth (SmtpClient *c, SmtpAuthMechanism mechanism)
{
  return mechanism == SMTP_AUTH_PLAIN ? c->auth_plain : c->auth_login;
}

gboolean
smtp_client_is_tls (SmtpClient *c)
{
  return c->stream != NULL && mail_stream_is_tls (c->stream);
}

gboolean
smtp_client_starttls (SmtpClient *c,
                      const char *server_name,
                      const char *ca_file,
                      gboolean insecure,
                      const char *helo_name,
                      GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *description = NULL;

  g_return_val_if_fail (c->state == SMTP_CLIENT_READY, FALSE);
  if ((c->extensions & SMTP_EXT_STARTTLS) == 0)
    {
      g_set_error_literal (error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_TLS,
                           "STARTTLS: the server does not offer it");
      return FALSE;
    }
  /* RFC 3207 §4 */
  mail_stream_write_line (c->stream, "STARTTLS");
  if (!smtp_client_expect (c, SMTP_CLIENT_ERROR_TLS, "STARTTLS",
                           smtp_reply_is_positive, error))
    return FALSE;
  if (!mail_stream_start_tls_client (c->stream, server_name, ca_file, insecure,
                                     c->cancellable, &local))
    {
      g_set_error (error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_TLS,
                   "STARTTLS: TLS handshake with %s: %s", server_name,
                   local->message);
      smtp_client_drop (c);
      return FALSE;
    }
  description = mail_tls_describe (mail_stream_get_io (c->stream));
  if (c->trace != NULL)
    {
      g_autofree char *note =
          g_strdup_printf ("[TLS established: %s]", description);
      smtp_client_note (c, note);
    }
  /* RFC 3207 §4.2: forget everything learnt in clear and ask again. */
  smtp_client_forget_extensions (c);
  smtp_client_enter_state (c, SMTP_CLIENT_GREETED);
  return smtp_client_ehlo (c, helo_name, error);
}

/* ---- AUTH (RFC 4954 §4) ------------------------------------------------ */

static gboolean
smtp_client_auth_plain (SmtpClient *c,
                        const char *user,
                        const char *password,
                        GError **error)
{
  g_autofree char *response = mail_sasl_plain_encode (NULL, user, password);

  /* RFC 4954 §4: the initial response saves a round trip. */
  c->mask = SMTP_MASK_ARGUMENT;
  mail_stream_printf (c->stream, "AUTH PLAIN %s", response);
  explicit_bzero (response, strlen (response));
  return smtp_client_expect (c, SMTP_CLIENT_ERROR_AUTH, "AUTH PLAIN",
                             smtp_reply_is_positive, error);
}

/* One step of LOGIN: the server's 334 challenge, then our answer. */
static gboolean
smtp_client_login_step (SmtpClient *c,
                        const char *answer,
                        gboolean secret,
                        GError **error)
{
  g_autofree char *encoded = NULL;

  if (!smtp_client_expect (c, SMTP_CLIENT_ERROR_AUTH, "AUTH LOGIN",
                           smtp_reply_is_intermediate, error))
    return FALSE;
  encoded = g_base64_encode ((const guchar *) answer, strlen (answer));
  c->in_sasl = TRUE;
  c->mask = secret ? SMTP_MASK_LINE : SMTP_MASK_NONE;
  mail_stream_write_line (c->stream, encoded);
  c->in_sasl = FALSE;
  explicit_bzero (encoded, strlen (encoded));
  return TRUE;
}

static gboolean
smtp_client_auth_login (SmtpClient *c,
                        const char *user,
                        const char *password,
                        GError **error)
{
  mail_stream_write_line (c->stream, "AUTH LOGIN");
  if (!smtp_client_login_step (c, user, FALSE, error) ||
      !smtp_client_login_step (c, password, TRUE, error))
    return FALSE;
  return smtp_client_expect (c, SMTP_CLIENT_ERROR_AUTH, "AUTH LOGIN",
                             smtp_reply_is_positive, error);
}

gboolean
smtp_client_auth (SmtpClient *c,
                  SmtpAuthMechanism mechanism,
                  const char *user,
                  const char *password,
                  GError **error)
{
  const char *name = mechanism == SMTP_AUTH_PLAIN ? "PLAIN" : "LOGIN";

  g_return_val_if_fail (c->state == SMTP_CLIENT_READY, FALSE);
  if (!smtp_client_offers_auth (c, mechanism))
    {
      /* RFC 4954 §4: only mechanisms the EHLO reply lists. Submission
       * servers offer AUTH only after STARTTLS (RFC 8314 §3.3). */
      g_set_error (error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_AUTH,
                   "AUTH: the server does not offer %s%s", name,
                   smtp_client_is_tls (c) ? "" : " (try --starttls)");
      return FALSE;
    }
  if (mechanism == SMTP_AUTH_PLAIN)
    return smtp_client_auth_plain (c, user, password, error);
  return smtp_client_auth_login (c, user, password, error);
}

void
smtp_client_quit (SmtpClient *c)
{
  guint code = c->reply_code;
  g_autofree char *text = g_strdup (c->reply_text->str);

  if (c->stream == NULL)
    return;
  /* RFC 5321 §4.1.1.10. The reply does not matter, but reading it lets
   * the server close first (§3.8) and keeps the trace complete. */
  mail_stream_write_line (c->stream, "QUIT");
  smtp_client_read_reply (c, SMTP_CLIENT_ERROR_PROTOCOL, "QUIT", NULL);
  smtp_client_drop (c);
  /* Callers ask about the reply that failed, not about QUIT's. */
  c->reply_code = code;
  g_string_assign (c->reply_text, text);
}
