/* SPDX-License-Identifier: MIT
 * smtp-proto.c: the SMTP catalog (commands, replies, enhanced status codes,
 * EHLO keywords) and grammar (reply lines, commands, paths, parameters)
 * shared by mw-smtpd, the SMTP client and mw-trace (RFC 5321 §4.1, §4.2,
 * §4.5.3.1; RFC 3463; RFC 2034; RFC 5248).
 */
#include "smtp-proto.h"

#include <string.h>

G_DEFINE_QUARK (smtp_proto_error, smtp_proto_error)

/* ---- catalog ---------------------------------------------------------- */

const MailCatalogEntry smtp_proto_commands[] = {
  { "EHLO", "extended hello: client names itself, server lists extensions",
    "RFC 5321 §4.1.1.1" },
  { "HELO", "hello: client names itself, no extensions", "RFC 5321 §4.1.1.1" },
  { "LHLO", "LMTP hello, used instead of EHLO", "RFC 2033 §4.1" },
  { "MAIL", "start a mail transaction and give the reverse-path (sender)",
    "RFC 5321 §4.1.1.2" },
  { "RCPT", "add one recipient (forward-path) to the transaction",
    "RFC 5321 §4.1.1.3" },
  { "DATA", "send the message text, ended by a line holding only \".\"",
    "RFC 5321 §4.1.1.4" },
  { "BDAT", "send a chunk of the message of a given size (CHUNKING)",
    "RFC 3030 §2" },
  { "RSET", "abort the current mail transaction", "RFC 5321 §4.1.1.5" },
  { "VRFY", "ask whether a user or mailbox exists", "RFC 5321 §4.1.1.6" },
  { "EXPN", "ask for the members of a mailing list", "RFC 5321 §4.1.1.7" },
  { "HELP", "ask the server for help", "RFC 5321 §4.1.1.8" },
  { "NOOP", "do nothing; the server answers 250", "RFC 5321 §4.1.1.9" },
  { "QUIT", "end the session; the server answers 221 and closes",
    "RFC 5321 §4.1.1.10" },
  { "STARTTLS", "switch this connection to TLS", "RFC 3207 §4" },
  { "AUTH", "authenticate with a SASL mechanism", "RFC 4954 §4" },
  { "ETRN", "ask the server to start delivering its queue for a domain",
    "RFC 1985 §5" },
  { "ATRN", "authenticated turn: reverse the roles for on-demand relay",
    "RFC 2645 §4" },
  { "BURL", "send the message from a URL (IMAP URLAUTH)", "RFC 4468 §3" },
  { "TURN", "reverse the roles (obsolete, insecure)", "RFC 5321 §4.1.1" },
  { "SEND", "deliver to a terminal (obsolete)", "RFC 5321 Appendix F.6" },
  { "SOML", "send or mail (obsolete)", "RFC 5321 Appendix F.6" },
  { "SAML", "send and mail (obsolete)", "RFC 5321 Appendix F.6" },
  { NULL },
};

const MailCatalogEntry smtp_proto_replies[] = {
  { "211", "system status, or system help reply", "RFC 5321 §4.2.2" },
  { "214", "help message for a human reader", "RFC 5321 §4.2.2" },
  { "220", "service ready", "RFC 5321 §4.2.2" },
  { "221", "service closing transmission channel", "RFC 5321 §4.2.2" },
  { "235", "authentication succeeded", "RFC 4954 §6" },
  { "250", "requested mail action okay, completed", "RFC 5321 §4.2.2" },
  { "251", "user not local; will forward", "RFC 5321 §4.2.2" },
  { "252", "cannot verify the user, but will accept the message and try",
    "RFC 5321 §4.2.2" },
  { "334", "authentication continues: base64 server challenge", "RFC 4954 §4" },
  { "354", "start mail input; end with <CRLF>.<CRLF>", "RFC 5321 §4.1.1.4" },
  { "421", "service not available, closing transmission channel",
    "RFC 5321 §4.2.2" },
  { "432", "a password transition is needed", "RFC 4954 §6" },
  { "450", "mailbox unavailable (busy or blocked); try again later",
    "RFC 5321 §4.2.2" },
  { "451", "local error in processing; try again later", "RFC 5321 §4.2.2" },
  { "452", "insufficient system storage (or too many recipients)",
    "RFC 5321 §4.2.2" },
  { "454", "temporary failure: authentication or TLS not available now",
    "RFC 4954 §6, RFC 3207 §4" },
  { "455", "server unable to accommodate parameters", "RFC 5321 §4.2.2" },
  { "500", "syntax error, command unrecognized (or line too long)",
    "RFC 5321 §4.2.2" },
  { "501", "syntax error in parameters or arguments", "RFC 5321 §4.2.2" },
  { "502", "command not implemented", "RFC 5321 §4.2.2" },
  { "503", "bad sequence of commands", "RFC 5321 §4.2.2" },
  { "504", "command parameter not implemented", "RFC 5321 §4.2.2" },
  { "521", "host does not accept mail", "RFC 7504 §3" },
  { "530", "authentication required", "RFC 4954 §6" },
  { "534", "authentication mechanism is too weak", "RFC 4954 §6" },
  { "535", "authentication credentials invalid", "RFC 4954 §6" },
  { "538", "encryption required for requested authentication mechanism",
    "RFC 4954 §6" },
  { "550", "mailbox unavailable (not found, no access, or policy)",
    "RFC 5321 §4.2.2" },
  { "551", "user not local; please try the given path", "RFC 5321 §4.2.2" },
  { "552", "exceeded storage allocation (message too big)",
    "RFC 5321 §4.2.2, RFC 1870 §6" },
  { "553", "mailbox name not allowed (syntax)", "RFC 5321 §4.2.2" },
  { "554", "transaction failed (or no SMTP service here)", "RFC 5321 §4.2.2" },
  { "555", "MAIL FROM/RCPT TO parameters not recognized or not implemented",
    "RFC 5321 §4.2.2" },
  { "556", "domain does not accept mail", "RFC 7504 §3" },
  { NULL },
};

/* RFC 3463 §3: class.subject.detail. Classes are keyed "2.X.X"; a subject
 * and detail "X.1.1" means the same in every class. */
const MailCatalogEntry smtp_proto_enhanced_codes[] = {
  { "2.X.X", "success", "RFC 3463 §3.1" },
  { "4.X.X", "persistent transient failure: may succeed if retried",
    "RFC 3463 §3.1" },
  { "5.X.X", "permanent failure: will not succeed if resent as is",
    "RFC 3463 §3.1" },
  { "X.0.0", "other undefined status", "RFC 3463 §3.1" },
  { "X.1.0", "other address status", "RFC 3463 §3.2" },
  { "X.1.1", "bad destination mailbox address", "RFC 3463 §3.2" },
  { "X.1.2", "bad destination system address", "RFC 3463 §3.2" },
  { "X.1.3", "bad destination mailbox address syntax", "RFC 3463 §3.2" },
  { "X.1.4", "destination mailbox address ambiguous", "RFC 3463 §3.2" },
  { "X.1.5", "destination address valid", "RFC 3463 §3.2" },
  { "X.1.6", "destination mailbox has moved, no forwarding address",
    "RFC 3463 §3.2" },
  { "X.1.7", "bad sender's mailbox address syntax", "RFC 3463 §3.2" },
  { "X.1.8", "bad sender's system address", "RFC 3463 §3.2" },
  { "X.1.9", "message relayed to non-compliant mailer", "RFC 3886 §4.4" },
  { "X.1.10", "recipient address has null MX", "RFC 7505 §4.2" },
  { "X.2.0", "other or undefined mailbox status", "RFC 3463 §3.3" },
  { "X.2.1", "mailbox disabled, not accepting messages", "RFC 3463 §3.3" },
  { "X.2.2", "mailbox full", "RFC 3463 §3.3" },
  { "X.2.3", "message length exceeds administrative limit", "RFC 3463 §3.3" },
  { "X.2.4", "mailing list expansion problem", "RFC 3463 §3.3" },
  { "X.3.0", "other or undefined mail system status", "RFC 3463 §3.4" },
  { "X.3.1", "mail system full", "RFC 3463 §3.4" },
  { "X.3.2", "system not accepting network messages", "RFC 3463 §3.4" },
  { "X.3.3", "system not capable of selected features", "RFC 3463 §3.4" },
  { "X.3.4", "message too big for system", "RFC 3463 §3.4" },
  { "X.3.5", "system incorrectly configured", "RFC 3463 §3.4" },
  { "X.4.0", "other or undefined network or routing status", "RFC 3463 §3.5" },
  { "X.4.1", "no answer from host", "RFC 3463 §3.5" },
  { "X.4.2", "bad connection", "RFC 3463 §3.5" },
  { "X.4.3", "directory server failure", "RFC 3463 §3.5" },
  { "X.4.4", "unable to route", "RFC 3463 §3.5" },
  { "X.4.5", "mail system congestion", "RFC 3463 §3.5" },
  { "X.4.6", "routing loop detected", "RFC 3463 §3.5" },
  { "X.4.7", "delivery time expired", "RFC 3463 §3.5" },
  { "X.5.0", "other or undefined protocol status", "RFC 3463 §3.6" },
  { "X.5.1", "invalid command", "RFC 3463 §3.6" },
  { "X.5.2", "syntax error", "RFC 3463 §3.6" },
  { "X.5.3", "too many recipients", "RFC 3463 §3.6" },
  { "X.5.4", "invalid command arguments", "RFC 3463 §3.6" },
  { "X.5.5", "wrong protocol version", "RFC 3463 §3.6" },
  { "X.5.6", "line too long (registered for AUTH exchange lines)",
    "RFC 4954 §6, RFC 5248" },
  { "X.6.0", "other or undefined media error", "RFC 3463 §3.7" },
  { "X.6.1", "media not supported", "RFC 3463 §3.7" },
  { "X.6.2", "conversion required and prohibited", "RFC 3463 §3.7" },
  { "X.6.3", "conversion required but not supported", "RFC 3463 §3.7" },
  { "X.6.4", "conversion with loss performed", "RFC 3463 §3.7" },
  { "X.6.5", "conversion failed", "RFC 3463 §3.7" },
  { "X.6.6", "message content not available", "RFC 4468 §7" },
  { "X.6.7", "non-ASCII addresses not permitted", "RFC 6531 §3.7.4" },
  { "X.6.8", "UTF-8 reply required but not permitted by the client",
    "RFC 6531 §3.7.4" },
  { "X.6.9", "UTF-8 header cannot be transferred to a recipient",
    "RFC 6531 §3.7.4" },
  { "X.7.0", "other or undefined security status", "RFC 3463 §3.8" },
  { "X.7.1", "delivery not authorized, message refused", "RFC 3463 §3.8" },
  { "X.7.2", "mailing list expansion prohibited", "RFC 3463 §3.8" },
  { "X.7.3", "security conversion required but not possible", "RFC 3463 §3.8" },
  { "X.7.4", "security features not supported", "RFC 3463 §3.8" },
  { "X.7.5", "cryptographic failure", "RFC 3463 §3.8" },
  { "X.7.6", "cryptographic algorithm not supported", "RFC 3463 §3.8" },
  { "X.7.7", "message integrity failure", "RFC 3463 §3.8" },
  { "X.7.8", "authentication credentials invalid", "RFC 4954 §6" },
  { "X.7.9", "authentication mechanism is too weak", "RFC 4954 §6" },
  { "X.7.10", "encryption needed", "RFC 5248 §2.4" },
  { "X.7.11", "encryption required for requested authentication mechanism",
    "RFC 4954 §6" },
  { "X.7.12", "a password transition is needed", "RFC 4954 §6" },
  { "X.7.13", "user account disabled", "RFC 5248 §2.4" },
  { "X.7.14", "trust relationship required", "RFC 5248 §2.4" },
  { "X.7.15", "priority level is too low", "RFC 6710 §8" },
  { "X.7.16", "message is too big for the specified priority", "RFC 6710 §8" },
  { "X.7.17", "mailbox owner has changed", "RFC 7293 §7" },
  { "X.7.18", "domain owner has changed", "RFC 7293 §7" },
  { "X.7.19", "RRVS test cannot be completed", "RFC 7293 §7" },
  { "X.7.20", "no passing DKIM signature found", "RFC 7372 §3.1" },
  { "X.7.21", "no acceptable DKIM signature found", "RFC 7372 §3.1" },
  { "X.7.22", "no valid author-matched DKIM signature found", "RFC 7372 §3.1" },
  { "X.7.23", "SPF validation failed", "RFC 7372 §3.2" },
  { "X.7.24", "SPF validation error", "RFC 7372 §3.2" },
  { "X.7.25", "reverse DNS validation failed", "RFC 7372 §3.3" },
  { "X.7.26", "multiple authentication checks failed", "RFC 7372 §3.4" },
  { "X.7.27", "sender address has null MX", "RFC 7505 §4.2" },
  { NULL },
};

const MailCatalogEntry smtp_proto_extensions[] = {
  { "PIPELINING", "commands may be sent in batches without waiting",
    "RFC 2920 §3" },
  { "SIZE",
    "largest message accepted; MAIL FROM may declare SIZE=", "RFC 1870 §4" },
  { "8BITMIME", "8-bit message bodies accepted (MAIL FROM BODY=8BITMIME)",
    "RFC 6152 §2" },
  { "ENHANCEDSTATUSCODES", "replies carry RFC 3463 codes like 5.7.1",
    "RFC 2034 §3" },
  { "STARTTLS", "the connection can be switched to TLS", "RFC 3207 §4" },
  { "AUTH", "SASL authentication with the mechanisms listed", "RFC 4954 §3" },
  { "SMTPUTF8", "UTF-8 addresses and headers accepted", "RFC 6531 §3.1" },
  { "CHUNKING", "BDAT may be used instead of DATA", "RFC 3030 §2" },
  { "BINARYMIME", "binary message bodies accepted with BDAT", "RFC 3030 §3" },
  { "DSN", "delivery status notifications can be requested (NOTIFY, RET)",
    "RFC 3461 §4" },
  { "ETRN", "remote queue start (ETRN) is available", "RFC 1985 §4" },
  { "ATRN", "authenticated TURN is available", "RFC 2645 §3" },
  { "DELIVERBY", "a delivery deadline may be given (BY=)", "RFC 2852 §4" },
  { "VRFY", "the VRFY command is available", "RFC 5321 §4.1.1.6" },
  { "EXPN", "the EXPN command is available", "RFC 5321 §4.1.1.7" },
  { "HELP", "the HELP command is available", "RFC 5321 §4.1.1.8" },
  { "BURL", "messages may be sent from IMAP URLs", "RFC 4468 §3" },
  { "REQUIRETLS", "the sender may require TLS on every hop", "RFC 8689 §2" },
  { "MT-PRIORITY", "messages may carry a priority", "RFC 6710 §3" },
  { "NO-SOLICITING", "the server does not want solicitations", "RFC 3865 §3" },
  { "FUTURERELEASE", "messages may be held for later release", "RFC 4865 §3" },
  { "LIMITS", "the server announces its limits (RCPTMAX, MAILMAX)",
    "RFC 9422 §3" },
  { "RRVS", "require-recipient-valid-since checks", "RFC 7293 §3" },
  { NULL },
};

const MailCatalogEntry *
smtp_proto_command_info (const char *verb)
{
  return mail_catalog_find (smtp_proto_commands, verb);
}

const MailCatalogEntry *
smtp_proto_reply_info (guint code)
{
  char name[16];

  /* a reply code has three digits (RFC 5321 §4.2): written without
   * printf, as the tracer looks one up for every reply line */
  if (code >= 100 && code <= 999)
    {
      name[0] = (char) ('0' + code / 100);
      name[1] = (char) ('0' + code / 10 % 10);
      name[2] = (char) ('0' + code % 10);
      name[3] = '\0';
    }
  else
    g_snprintf (name, sizeof name, "%u", code);
  return mail_catalog_find (smtp_proto_replies, name);
}

/* "5.999.999" and its NUL: the longest code enhanced_code_end () takes */
#define ENHANCED_CODE_SIZE 10

static gboolean copy_enhanced_code (const char *text,
                                    char code[ENHANCED_CODE_SIZE]);

const MailCatalogEntry *
smtp_proto_enhanced_info (const char *code)
{
  const MailCatalogEntry *entry = NULL;
  char generic[ENHANCED_CODE_SIZE];
  char class_name[] = "0.X.X";

  g_return_val_if_fail (code != NULL, NULL);
  if (!copy_enhanced_code (code, generic))
    return NULL;
  /* "5.7.1" -> "X.7.1": RFC 3463 §3 gives subject.detail one meaning in
   * every class. */
  generic[0] = 'X';
  entry = mail_catalog_find (smtp_proto_enhanced_codes, generic);
  if (entry != NULL)
    return entry;
  class_name[0] = code[0];
  return mail_catalog_find (smtp_proto_enhanced_codes, class_name);
}

const MailCatalogEntry *
smtp_proto_extension_info (const char *keyword)
{
  return mail_catalog_find (smtp_proto_extensions, keyword);
}

char *
smtp_proto_describe_reply (guint code, const char *enhanced, const char *text)
{
  const MailCatalogEntry *reply = smtp_proto_reply_info (code);
  const MailCatalogEntry *detail = NULL;
  char found[ENHANCED_CODE_SIZE];

  if (reply == NULL)
    return NULL;
  if (enhanced == NULL && text != NULL && copy_enhanced_code (text, found))
    enhanced = found;
  if (enhanced != NULL)
    detail = smtp_proto_enhanced_info (enhanced);
  /* g_strconcat (), not printf: the tracer describes every reply line.
   * The catalog's meanings and sections are never NULL. */
  if (detail == NULL)
    return g_strconcat (reply->meaning, " (", reply->rfc, ")", NULL);
  return g_strconcat (reply->meaning, " (", reply->rfc, "); ", enhanced, " ",
                      detail->meaning, " (", detail->rfc, ")", NULL);
}

/* ---- reply classes (RFC 5321 §4.2.1) ---------------------------------- */

gboolean
smtp_reply_is_positive (guint code)
{
  return code >= 200 && code <= 299;
}

gboolean
smtp_reply_is_intermediate (guint code)
{
  return code >= 300 && code <= 399;
}

gboolean
smtp_reply_is_transient (guint code)
{
  return code >= 400 && code <= 499;
}

gboolean
smtp_reply_is_permanent (guint code)
{
  return code >= 500 && code <= 599;
}

/* ---- replies ------------------------------------------------------------ */

gboolean
smtp_proto_parse_reply_line (const char *line,
                             guint *out_code,
                             gboolean *out_is_last,
                             const char **out_text)
{
  g_return_val_if_fail (line != NULL, FALSE);

  /* RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39 */
  if (line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' ||
      !g_ascii_isdigit (line[2]))
    return FALSE;
  if (line[3] != '\0' && line[3] != ' ' && line[3] != '-')
    return FALSE;
  *out_code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  *out_is_last = line[3] != '-';
  *out_text = line[3] == '\0' ? line + 3 : line + 4;
  return TRUE;
}

/* Reads 1 to 3 digits; returns the position after them or NULL. */
static const char *
smtp_proto_skip_number (const char *p)
{
  int digits = 0;

  while (g_ascii_isdigit (*p) && digits < 4)
    {
      p++;
      digits++;
    }
  return digits >= 1 && digits <= 3 ? p : NULL;
}

/* The end of the enhanced status code that starts @text, followed by its
 * end or a space; NULL if none does. */
static const char *
enhanced_code_end (const char *text)
{
  const char *p = text;

  /* RFC 3463 §2: status-code = class "." subject "." detail */
  if (*p != '2' && *p != '4' && *p != '5')
    return NULL;
  if (*++p != '.')
    return NULL;
  p = smtp_proto_skip_number (p + 1);
  if (p == NULL || *p != '.')
    return NULL;
  p = smtp_proto_skip_number (p + 1);
  if (p == NULL || (*p != '\0' && *p != ' '))
    return NULL;
  return p;
}

/* The enhanced status code that starts @text copied into @code, as
 * smtp_proto_split_enhanced () finds it, but on the stack: it is at most
 * "5.999.999", and mw-trace looks one up for every reply line. */
static gboolean
copy_enhanced_code (const char *text, char code[ENHANCED_CODE_SIZE])
{
  const char *end = enhanced_code_end (text);

  if (end == NULL)
    return FALSE;
  memcpy (code, text, (gsize) (end - text));
  code[end - text] = '\0';
  return TRUE;
}

gboolean
smtp_proto_split_enhanced (const char *text,
                           char **out_code,
                           const char **out_rest)
{
  const char *p;

  g_return_val_if_fail (text != NULL, FALSE);

  p = enhanced_code_end (text);
  if (p == NULL)
    return FALSE;
  *out_code = g_strndup (text, p - text);
  *out_rest = *p == ' ' ? p + 1 : p;
  return TRUE;
}

void
smtp_proto_format_reply (GString *out,
                         guint code,
                         const char *enhanced,
                         const char *const *lines)
{
  g_return_if_fail (lines != NULL && lines[0] != NULL);
  g_return_if_fail (code >= 200 && code <= 599);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      gboolean last = lines[i + 1] == NULL;

      g_return_if_fail (strpbrk (lines[i], "\r\n") == NULL);
      /* RFC 5321 §4.2.1: "250-" on every line but the last, "250 " on the
       * last; RFC 2034 §3: the enhanced code starts every line's text. */
      g_string_append_printf (out, "%03u", code);
      if (enhanced == NULL && lines[i][0] == '\0' && last)
        {
          g_string_append (out, "\r\n");
          continue;
        }
      g_string_append_c (out, last ? ' ' : '-');
      if (enhanced != NULL)
        g_string_append_printf (out, "%s%s", enhanced,
                                lines[i][0] != '\0' ? " " : "");
      g_string_append_printf (out, "%s\r\n", lines[i]);
    }
}

/* ---- commands --------------------------------------------------------- */

gboolean
smtp_proto_split_command (const char *line,
                          char **out_verb,
                          const char **out_arguments)
{
  const char *end = line;
  const char *arguments = NULL;

  g_return_val_if_fail (line != NULL, FALSE);

  while (g_ascii_isalpha (*end))
    end++;
  if (end == line || (*end != '\0' && *end != ' '))
    return FALSE;
  /* RFC 5321 §4.1.1: verb SP arguments; several spaces are tolerated. */
  arguments = end;
  while (*arguments == ' ')
    arguments++;
  *out_verb = g_ascii_strup (line, end - line);
  *out_arguments = arguments;
  return TRUE;
}

gboolean
smtp_proto_parse_bdat (const char *arguments,
                       guint64 *out_size,
                       gboolean *out_last)
{
  const char *end = arguments;
  g_autofree char *digits = NULL;
  guint64 size = 0;

  g_return_val_if_fail (arguments != NULL, FALSE);

  while (g_ascii_isdigit (*end))
    end++;
  if (end == arguments)
    return FALSE;
  digits = g_strndup (arguments, end - arguments);
  if (!g_ascii_string_to_unsigned (digits, 10, 0, G_MAXUINT64, &size, NULL))
    return FALSE;
  if (*end == ' ' && g_ascii_strcasecmp (end + 1, "LAST") == 0)
    *out_last = TRUE;
  else if (*end == '\0')
    *out_last = FALSE;
  else
    return FALSE;
  *out_size = size;
  return TRUE;
}

gboolean
smtp_proto_parse_ehlo_line (const char *text,
                            char **out_keyword,
                            const char **out_params)
{
  const char *end = text;

  g_return_val_if_fail (text != NULL, FALSE);

  /* RFC 5321 §4.1.1.1: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT /
   * "-") */
  if (!g_ascii_isalnum (*end))
    return FALSE;
  while (g_ascii_isalnum (*end) || *end == '-')
    end++;
  if (*end != '\0' && *end != ' ' && *end != '=')
    return FALSE;
  *out_keyword = g_ascii_strup (text, end - text);
  /* "AUTH=LOGIN" is an old, pre-standard spelling some servers still
   * send; treat "=" like the space. */
  while (*end == ' ' || *end == '=')
    end++;
  *out_params = end;
  return TRUE;
}

/* ---- paths (RFC 5321 §4.1.2) ----------------------------------------- */

void
smtp_path_free (SmtpPath *path)
{
  if (path == NULL)
    return;
  g_free (path->mailbox);
  g_free (path->local_part);
  g_free (path->domain);
  g_clear_pointer (&path->parameters, g_array_unref);
  g_free (path);
}

static void
smtp_parameter_clear (gpointer data)
{
  SmtpParameter *parameter = data;

  g_free (parameter->keyword);
  g_free (parameter->value);
}

gboolean
smtp_path_get_parameter (const SmtpPath *path,
                         const char *keyword,
                         const char **out_value)
{
  g_return_val_if_fail (path != NULL && keyword != NULL, FALSE);

  for (guint i = 0; i < path->parameters->len; i++)
    {
      const SmtpParameter *parameter =
          &g_array_index (path->parameters, SmtpParameter, i);

      if (g_ascii_strcasecmp (parameter->keyword, keyword) != 0)
        continue;
      if (out_value != NULL)
        *out_value = parameter->value;
      return TRUE;
    }
  return FALSE;
}

static gboolean
smtp_proto_fail (GError **error, SmtpProtoError code, const char *message)
{
  g_set_error_literal (error, SMTP_PROTO_ERROR, code, message);
  return FALSE;
}

/* The same for functions that return a position. */
static const char *
smtp_proto_refuse (GError **error, SmtpProtoError code, const char *message)
{
  g_set_error_literal (error, SMTP_PROTO_ERROR, code, message);
  return NULL;
}

/* RFC 5321 §4.1.2: atext of RFC 5322 §3.2.3; RFC 6531 §3.3 adds
 * UTF8-non-ascii (checked to be valid UTF-8 once the path is read). */
static gboolean
smtp_proto_is_atext (char c)
{
  return g_ascii_isalnum (c) || (guchar) c >= 0x80 ||
         (c != '\0' && strchr ("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Local-part = Dot-string / Quoted-string. Returns the end or NULL. */
static const char *
smtp_proto_scan_local_part (const char *p)
{
  if (*p == '"')
    {
      /* Quoted-string = DQUOTE *QcontentSMTP DQUOTE;
       * qtextSMTP = %d32-33 / %d35-91 / %d93-126 / UTF8-non-ascii
       * (RFC 6531 §3.3); quoted-pairSMTP = %d92 %d32-126 */
      for (p++; *p != '"'; p++)
        {
          guchar c = *p;

          if (c == '\\' && p[1] >= 32 && p[1] <= 126)
            p++;
          else if (c < 32 || c == 127 || c == '\\')
            return NULL;
        }
      return p + 1;
    }
  /* Dot-string = Atom *("." Atom) */
  for (;;)
    {
      const char *atom = p;

      while (smtp_proto_is_atext (*p))
        p++;
      if (p == atom)
        return NULL;
      if (*p != '.')
        return p;
      p++;
    }
}

/* address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
 *                   General-address-literal ) "]"   (RFC 5321 §4.1.3) */
static const char *
smtp_proto_scan_address_literal (const char *p)
{
  const char *close = strchr (p, ']');
  g_autofree char *inside = NULL;
  const char *colon = NULL;

  if (close == NULL)
    return NULL;
  inside = g_strndup (p + 1, close - p - 1);
  if (g_ascii_strncasecmp (inside, "IPv6:", 5) == 0)
    return strchr (inside + 5, ':') != NULL &&
                   g_hostname_is_ip_address (inside + 5)
               ? close + 1
               : NULL;
  if (strchr (inside, ':') == NULL)
    return g_hostname_is_ip_address (inside) ? close + 1 : NULL;
  /* General-address-literal = Standardized-tag ":" 1*dcontent; dcontent is
   * %d33-90 / %d94-126. We accept the syntax; routing to one is another
   * matter. */
  colon = strchr (inside, ':');
  for (const char *c = colon + 1; *c != '\0'; c++)
    if (*c < 33 || *c > 126 || *c == '[' || *c == '\\' || *c == ']')
      return NULL;
  return colon > inside && colon[1] != '\0' ? close + 1 : NULL;
}

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str] */
static const char *
smtp_proto_scan_domain (const char *p)
{
  if (*p == '[')
    return smtp_proto_scan_address_literal (p);
  for (;;)
    {
      const char *label = p;

      /* RFC 6531 §3.3: a sub-domain may also be a U-label (UTF-8). */
      while (g_ascii_isalnum (*p) || *p == '-' || (guchar) *p >= 0x80)
        p++;
      /* Ldh-str ends in Let-dig: no label starts or ends with "-". */
      if (p == label || *label == '-' || p[-1] == '-')
        return NULL;
      if (*p != '.')
        return p;
      p++;
    }
}

/* A-d-l = At-domain *( "," At-domain ) ":"  (RFC 5321 §4.1.2). Source
 * routes are obsolete: §4.1.1.3 and Appendix C tell servers to accept
 * and ignore them. Returns the position after ":" or NULL. */
static const char *
smtp_proto_skip_source_route (const char *p)
{
  for (;;)
    {
      if (*p != '@')
        return NULL;
      p = smtp_proto_scan_domain (p + 1);
      if (p == NULL)
        return NULL;
      if (*p == ':')
        return p + 1;
      if (*p != ',')
        return NULL;
      p++;
    }
}

/* Parses "<...>" at @p into @path; returns the position after ">". */
static const char *
smtp_proto_parse_mailbox (const char *p,
                          SmtpPathKind kind,
                          SmtpPath *path,
                          GError **error)
{
  const char *start = p;
  const char *local_end = NULL;
  const char *domain_end = NULL;
  const char *mailbox = NULL;

  if (*p++ != '<')
    return smtp_proto_refuse (error, SMTP_PROTO_ERROR_SYNTAX,
                              "path must be in angle brackets <...> "
                              "(RFC 5321 §4.1.2)");
  if (*p == '>')
    {
      /* RFC 5321 §4.5.5: the null reverse-path, used by bounces. */
      if (kind == SMTP_PATH_FORWARD)
        return smtp_proto_refuse (error, SMTP_PROTO_ERROR_SYNTAX,
                                  "the null path <> is not a recipient "
                                  "(RFC 5321 §4.1.1.3)");
      path->mailbox = g_strdup ("");
      return p + 1;
    }
  if (*p == '@')
    {
      p = smtp_proto_skip_source_route (p);
      if (p == NULL)
        return smtp_proto_refuse (error, SMTP_PROTO_ERROR_SYNTAX,
                                  "bad source route (RFC 5321 §4.1.2)");
    }
  mailbox = p;
  local_end = smtp_proto_scan_local_part (p);
  if (local_end == NULL)
    return smtp_proto_refuse (error, SMTP_PROTO_ERROR_SYNTAX,
                              "bad local part (RFC 5321 §4.1.2)");
  if (local_end - mailbox > SMTP_MAX_LOCAL_PART)
    return smtp_proto_refuse (error, SMTP_PROTO_ERROR_TOO_LONG,
                              "local part longer than 64 octets "
                              "(RFC 5321 §4.5.3.1.1)");
  path->local_part = g_strndup (mailbox, local_end - mailbox);
  /* RFC 5321 §4.1.1.3: "<Postmaster>" without a domain must be accepted. */
  if (*local_end == '>' && kind == SMTP_PATH_FORWARD && p == start + 1 &&
      g_ascii_strcasecmp (path->local_part, "Postmaster") == 0)
    {
      path->mailbox = g_strdup (path->local_part);
      return local_end + 1;
    }
  if (*local_end != '@')
    return smtp_proto_refuse (error, SMTP_PROTO_ERROR_SYNTAX,
                              "address needs local-part@domain "
                              "(RFC 5321 §4.1.2)");
  domain_end = smtp_proto_scan_domain (local_end + 1);
  if (domain_end == NULL || *domain_end != '>')
    return smtp_proto_refuse (error, SMTP_PROTO_ERROR_SYNTAX,
                              "bad domain (RFC 5321 §4.1.2)");
  if (domain_end - (local_end + 1) > SMTP_MAX_DOMAIN)
    return smtp_proto_refuse (error, SMTP_PROTO_ERROR_TOO_LONG,
                              "domain longer than 255 octets "
                              "(RFC 5321 §4.5.3.1.2)");
  if (domain_end + 1 - start > SMTP_MAX_PATH)
    return smtp_proto_refuse (error, SMTP_PROTO_ERROR_TOO_LONG,
                              "path longer than 256 octets "
                              "(RFC 5321 §4.5.3.1.3)");
  path->domain = g_strndup (local_end + 1, domain_end - local_end - 1);
  path->mailbox = g_strndup (mailbox, domain_end - mailbox);
  return domain_end + 1;
}

/* Mail-parameters = esmtp-param *(SP esmtp-param)   (RFC 5321 §4.1.2)
 * esmtp-param = esmtp-keyword ["=" esmtp-value]
 * esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 * esmtp-value = 1*(%d33-60 / %d62-126) */
static gboolean
smtp_proto_parse_parameters (const char *p, GArray *out, GError **error)
{
  while (*p != '\0')
    {
      SmtpParameter parameter = { NULL, NULL };
      const char *keyword = p;
      const char *value = NULL;

      if (!g_ascii_isalnum (*p))
        return smtp_proto_fail (error, SMTP_PROTO_ERROR_PARAMETER,
                                "bad parameter keyword (RFC 5321 §4.1.2)");
      while (g_ascii_isalnum (*p) || *p == '-')
        p++;
      parameter.keyword = g_ascii_strup (keyword, p - keyword);
      if (*p == '=')
        {
          value = ++p;
          while (*p >= 33 && *p <= 126 && *p != '=')
            p++;
          parameter.value = g_strndup (value, p - value);
        }
      g_array_append_val (out, parameter);
      if ((value != NULL && p == value) || (*p != ' ' && *p != '\0'))
        return smtp_proto_fail (error, SMTP_PROTO_ERROR_PARAMETER,
                                "bad parameter value (RFC 5321 §4.1.2)");
      while (*p == ' ')
        p++;
    }
  return TRUE;
}

/* RFC 6531 §3.3: non-ASCII octets in a path must be UTF-8; such a path
 * needs SMTPUTF8, which the caller checks with path->utf8. */
static gboolean
smtp_proto_check_utf8 (SmtpPath *path, GError **error)
{
  for (const char *c = path->mailbox; *c != '\0'; c++)
    if ((guchar) *c >= 0x80)
      path->utf8 = TRUE;
  if (path->utf8 && !g_utf8_validate (path->mailbox, -1, NULL))
    return smtp_proto_fail (error, SMTP_PROTO_ERROR_SYNTAX,
                            "address is not valid UTF-8 (RFC 6531 §3.3)");
  return TRUE;
}

SmtpPath *
smtp_proto_parse_path (const char *arguments, SmtpPathKind kind, GError **error)
{
  g_autoptr (SmtpPath) path = g_new0 (SmtpPath, 1);
  const char *prefix = kind == SMTP_PATH_REVERSE ? "FROM:" : "TO:";
  const char *p = arguments;

  g_return_val_if_fail (arguments != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  path->parameters = g_array_new (FALSE, TRUE, sizeof (SmtpParameter));
  g_array_set_clear_func (path->parameters, smtp_parameter_clear);
  if (g_ascii_strncasecmp (p, prefix, strlen (prefix)) != 0)
    {
      g_set_error (error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_SYNTAX,
                   "expected \"%s\" (RFC 5321 %s)", prefix,
                   kind == SMTP_PATH_REVERSE ? "§4.1.1.2" : "§4.1.1.3");
      return NULL;
    }
  p += strlen (prefix);
  while (*p == ' ')
    p++;
  p = smtp_proto_parse_mailbox (p, kind, path, error);
  if (p == NULL || !smtp_proto_check_utf8 (path, error))
    return NULL;
  if (*p != ' ' && *p != '\0')
    {
      smtp_proto_fail (error, SMTP_PROTO_ERROR_SYNTAX,
                       "expected a space after the path (RFC 5321 §4.1.2)");
      return NULL;
    }
  while (*p == ' ')
    p++;
  if (!smtp_proto_parse_parameters (p, path->parameters, error))
    return NULL;
  return g_steal_pointer (&path);
}
