/* SPDX-License-Identifier: MIT
 * smtp-client.c: client side of one SMTP connection, for mw-send and the
 * relay (RFC 5321 §3.3, §4.1, §4.2, §4.5.2; RFC 2920 §3; RFC 1870 §6;
 * RFC 6152 §3; RFC 3207 §4; RFC 4954 §4; RFC 2034).
 *
 * Replies are parsed with the shared grammar (smtp-proto.h) and explained
 * with the shared catalog, so --trace says what mw-trace says.
 */
#include "smtp-client.h"

#include <string.h>

#include "mail-auth.h"
#include "mail-net.h"
#include "mail-tls.h"
#include "smtp-proto.h"

/* DISCONNECTED --connect--> GREETED --EHLO/HELO--> READY
 *                               READY --STARTTLS--> GREETED (EHLO again)
 *                               READY --MAIL..DATA..--> READY
 * any --QUIT / connection lost--> DISCONNECTED */
typedef enum
{
  SMTP_CLIENT_DISCONNECTED, /* no connection */
  SMTP_CLIENT_GREETED,      /* 220 read, EHLO not yet accepted */
  SMTP_CLIENT_READY,        /* EHLO accepted; no transaction open */
} SmtpClientState;

/* Which part of the next sent line the trace must hide. */
typedef enum
{
  SMTP_MASK_NONE,
  SMTP_MASK_ARGUMENT, /* "AUTH PLAIN ***": the initial response */
  SMTP_MASK_LINE,     /* a whole SASL response line */
} SmtpMask;

/* Be liberal in what we read (RFC 5321 §4.5.3.1.5 says 512, but real
 * servers send longer texts) and bound the number of lines of a reply. */
#define SMTP_CLIENT_MAX_REPLY_LINE MAIL_LINE_MAX_SMTP_TEXT
#define SMTP_CLIENT_MAX_REPLY_LINES 100

struct _SmtpClient
{
  SmtpClientState state;
  MailStream *stream;
  GCancellable *cancellable; /* from connect: stops every later wait */
  SmtpExtensions extensions;
  guint64 max_size;
  gboolean auth_plain;
  gboolean auth_login;
  /* the last reply read */
  guint reply_code;
  GString *reply_text;    /* every line with its code, joined by "\n" */
  GPtrArray *reply_lines; /* the text of each line, without the code */
  /* --trace */
  SmtpClientTraceFunc trace;
  gpointer trace_data;
  SmtpMask mask;
  gboolean in_sasl;  /* sent lines are SASL responses */
  gboolean in_ehlo;  /* received continuation lines are extensions */
  guint line_number; /* of the reply line being read, from 0 */
};

G_DEFINE_QUARK (smtp - client - error - quark, smtp_client_error)

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
static void
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
static gboolean
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
static void
smtp_client_set_refused (SmtpClient *c,
                         SmtpClientError step,
                         const char *what,
                         GError **error)
{
  g_set_error (error, SMTP_CLIENT_ERROR, step, "%s: server replied: %s", what,
               c->reply_text->str);
}

/* Reads a reply and checks its first digit with @accept. */
static gboolean
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

/* ---- the mail transaction (RFC 5321 §3.3) ------------------------------ */

static void
smtp_recipient_result_free (SmtpRecipientResult *r)
{
  g_free (r->address);
  g_free (r->reply);
  g_free (r);
}

static gboolean
smtp_client_has_8bit (const guchar *data, gsize length)
{
  for (gsize i = 0; i < length; i++)
    if (data[i] >= 0x80)
      return TRUE;
  return FALSE;
}

/* RFC 5321 §4.1.1.2: "MAIL FROM:" Reverse-path [SP Mail-parameters] */
static void
smtp_client_write_mail (SmtpClient *c,
                        const char *reverse_path,
                        const void *data,
                        gsize length)
{
  g_autoptr (GString) line = g_string_new (NULL);

  g_string_printf (line, "MAIL FROM:<%s>", reverse_path);
  if (c->extensions & SMTP_EXT_SIZE) /* RFC 1870 §6 */
    g_string_append_printf (line, " SIZE=%" G_GSIZE_FORMAT, length);
  /* RFC 6152 §3. Without 8BITMIME the text goes as is: mw-send makes
   * 7-bit messages, and most servers take 8-bit octets anyway. */
  if ((c->extensions & SMTP_EXT_8BITMIME) &&
      smtp_client_has_8bit (data, length))
    g_string_append (line, " BODY=8BITMIME");
  mail_stream_write_line (c->stream, line->str);
}

/* A transaction as it goes: results and the MAIL reply, kept because in a
 * pipelined batch later replies overwrite the client's last reply. */
typedef struct
{
  GPtrArray *results;
  guint accepted;
  guint mail_code;
  char *mail_reply;
} SmtpTransaction;

static void
smtp_transaction_clear (SmtpTransaction *t)
{
  g_clear_pointer (&t->results, g_ptr_array_unref);
  g_clear_pointer (&t->mail_reply, g_free);
}

static gboolean
smtp_client_read_mail_reply (SmtpClient *c, SmtpTransaction *t, GError **error)
{
  if (!smtp_client_read_reply (c, SMTP_CLIENT_ERROR_MAIL, "MAIL FROM", error))
    return FALSE;
  t->mail_code = c->reply_code;
  t->mail_reply = g_strdup (c->reply_text->str);
  return TRUE;
}

/* RFC 5321 §4.1.1.3: each recipient gets its own verdict (250/251 yes,
 * 4xx try later, 5xx no). */
static gboolean
smtp_client_read_rcpt_reply (SmtpClient *c,
                             SmtpRecipientResult *r,
                             GError **error)
{
  g_autofree char *what = g_strdup_printf ("RCPT TO:<%s>", r->address);

  if (!smtp_client_read_reply (c, SMTP_CLIENT_ERROR_RCPT, what, error))
    return FALSE;
  r->code = c->reply_code;
  r->reply = g_strdup (c->reply_text->str);
  return TRUE;
}

static gboolean
smtp_client_read_rcpt_replies (SmtpClient *c,
                               SmtpTransaction *t,
                               GError **error)
{
  for (guint i = 0; i < t->results->len; i++)
    {
      SmtpRecipientResult *r = g_ptr_array_index (t->results, i);

      if (!smtp_client_read_rcpt_reply (c, r, error))
        return FALSE;
      if (smtp_reply_is_positive (r->code))
        t->accepted++;
    }
  return TRUE;
}

/* Makes the failure of MAIL the client's last reply again, for callers
 * that look at smtp_client_get_reply_code (). In a pipelined batch the
 * RCPT replies that followed (503 "need MAIL") say nothing about the
 * recipients, so they are forgotten: code 0, as if never sent. */
static void
smtp_client_fail_mail (SmtpClient *c, SmtpTransaction *t, GError **error)
{
  for (guint i = 0; i < t->results->len; i++)
    {
      SmtpRecipientResult *r = g_ptr_array_index (t->results, i);

      r->code = 0;
      g_clear_pointer (&r->reply, g_free);
    }
  c->reply_code = t->mail_code;
  g_string_assign (c->reply_text, t->mail_reply);
  smtp_client_set_refused (c, SMTP_CLIENT_ERROR_MAIL, "MAIL FROM", error);
}

/* Every recipient was refused: the error quotes the first refusal and
 * carries its code (a 4xx among 5xx makes the whole temporary). */
static void
smtp_client_fail_recipients (SmtpClient *c, SmtpTransaction *t, GError **error)
{
  SmtpRecipientResult *first = g_ptr_array_index (t->results, 0);

  c->reply_code = first->code;
  for (guint i = 0; i < t->results->len; i++)
    {
      SmtpRecipientResult *r = g_ptr_array_index (t->results, i);

      if (smtp_reply_is_transient (r->code))
        c->reply_code = r->code;
    }
  g_string_assign (c->reply_text, first->reply ? first->reply : "");
  g_set_error (error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_RCPT,
               "RCPT TO:<%s>: server replied: %s%s", first->address,
               c->reply_text->str,
               t->results->len > 1 ? " (and every other recipient was "
                                     "refused too)"
                                   : "");
}

/* After 354: the text, dot-stuffed (RFC 5321 §4.5.2) and ended by
 * CRLF "." CRLF, then the verdict on the whole message. */
static gboolean
smtp_client_write_text (SmtpClient *c,
                        const void *data,
                        gsize length,
                        GError **error)
{
  g_autoptr (GString) stuffed = g_string_sized_new (length + length / 64 + 8);

  mail_dot_stuff (stuffed, data, length);
  if (c->trace != NULL)
    {
      g_autofree char *note = g_strdup_printf ("[message text: %" G_GSIZE_FORMAT
                                               " octets, dot-stuffed, then "
                                               "\".\" alone ends it]",
                                               length);
      smtp_client_note (c, note);
    }
  mail_stream_write (c->stream, stuffed->str, stuffed->len);
  return smtp_client_expect (c, SMTP_CLIENT_ERROR_DATA, "end of DATA",
                             smtp_reply_is_positive, error);
}

/* The DATA reply, then the text or, when no recipient was accepted but
 * the server still said 354, a lone "." (RFC 2920 §3.1). */
static gboolean
smtp_client_finish_data (SmtpClient *c,
                         SmtpTransaction *t,
                         const void *data,
                         gsize length,
                         GError **error)
{
  if (!smtp_client_read_reply (c, SMTP_CLIENT_ERROR_DATA, "DATA", error))
    return FALSE;
  if (!smtp_reply_is_intermediate (c->reply_code))
    {
      if (t->mail_code != 0 && !smtp_reply_is_positive (t->mail_code))
        smtp_client_fail_mail (c, t, error);
      else if (t->accepted == 0)
        smtp_client_fail_recipients (c, t, error);
      else
        smtp_client_set_refused (c, SMTP_CLIENT_ERROR_DATA, "DATA", error);
      return FALSE;
    }
  if (t->accepted == 0 || !smtp_reply_is_positive (t->mail_code))
    {
      mail_stream_write_line (c->stream, ".");
      if (!smtp_client_read_reply (c, SMTP_CLIENT_ERROR_DATA, "DATA", error))
        return FALSE;
      if (!smtp_reply_is_positive (t->mail_code))
        smtp_client_fail_mail (c, t, error);
      else
        smtp_client_fail_recipients (c, t, error);
      return FALSE;
    }
  return smtp_client_write_text (c, data, length, error);
}

/* Without PIPELINING: one command, one reply, and stop at the first
 * failure that leaves nothing to send. */
static gboolean
smtp_client_send_in_lockstep (SmtpClient *c,
                              SmtpTransaction *t,
                              const char *reverse_path,
                              const void *data,
                              gsize length,
                              GError **error)
{
  smtp_client_write_mail (c, reverse_path, data, length);
  if (!smtp_client_read_mail_reply (c, t, error))
    return FALSE;
  if (!smtp_reply_is_positive (t->mail_code))
    {
      smtp_client_fail_mail (c, t, error);
      return FALSE;
    }
  for (guint i = 0; i < t->results->len; i++)
    {
      SmtpRecipientResult *r = g_ptr_array_index (t->results, i);

      mail_stream_printf (c->stream, "RCPT TO:<%s>", r->address);
      if (!smtp_client_read_rcpt_reply (c, r, error))
        return FALSE;
      if (smtp_reply_is_positive (r->code))
        t->accepted++;
    }
  if (t->accepted == 0)
    {
      smtp_client_fail_recipients (c, t, error);
      return FALSE;
    }
  mail_stream_write_line (c->stream, "DATA");
  return smtp_client_finish_data (c, t, data, length, error);
}

/* RFC 2920 §3.1: MAIL, the RCPTs and DATA go out in one write (the stream
 * buffers until the first read), DATA last in the group; then the replies
 * come back in the same order. */
static gboolean
smtp_client_send_pipelined (SmtpClient *c,
                            SmtpTransaction *t,
                            const char *reverse_path,
                            const void *data,
                            gsize length,
                            GError **error)
{
  smtp_client_write_mail (c, reverse_path, data, length);
  for (guint i = 0; i < t->results->len; i++)
    {
      SmtpRecipientResult *r = g_ptr_array_index (t->results, i);

      mail_stream_printf (c->stream, "RCPT TO:<%s>", r->address);
    }
  mail_stream_write_line (c->stream, "DATA");
  if (!smtp_client_read_mail_reply (c, t, error) ||
      !smtp_client_read_rcpt_replies (c, t, error))
    return FALSE;
  return smtp_client_finish_data (c, t, data, length, error);
}

gboolean
smtp_client_send (SmtpClient *c,
                  const char *reverse_path,
                  const char *const *recipients,
                  const void *data,
                  gsize length,
                  GPtrArray **out_results,
                  GError **error)
{
  SmtpTransaction t = { 0 };
  gboolean ok;

  g_return_val_if_fail (c->state == SMTP_CLIENT_READY, FALSE);
  g_return_val_if_fail (recipients != NULL && recipients[0] != NULL, FALSE);
  t.results = g_ptr_array_new_with_free_func (
      (GDestroyNotify) smtp_recipient_result_free);
  for (guint i = 0; recipients[i] != NULL; i++)
    {
      SmtpRecipientResult *r = g_new0 (SmtpRecipientResult, 1);

      r->address = g_strdup (recipients[i]);
      g_ptr_array_add (t.results, r);
    }
  if (c->extensions & SMTP_EXT_PIPELINING)
    ok = smtp_client_send_pipelined (c, &t, reverse_path, data, length, error);
  else
    ok =
        smtp_client_send_in_lockstep (c, &t, reverse_path, data, length, error);
  if (out_results != NULL)
    *out_results = g_steal_pointer (&t.results);
  smtp_transaction_clear (&t);
  return ok;
}

gboolean
smtp_client_rset (SmtpClient *c, GError **error)
{
  g_return_val_if_fail (c->state == SMTP_CLIENT_READY, FALSE);
  mail_stream_write_line (c->stream, "RSET");
  return smtp_client_expect (c, SMTP_CLIENT_ERROR_PROTOCOL, "RSET",
                             smtp_reply_is_positive, error);
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
