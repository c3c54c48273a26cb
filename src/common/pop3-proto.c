/* SPDX-License-Identifier: MIT
 * pop3-proto.c: the POP3 catalog of meanings and the grammar shared by
 * mw-pop3d, mw-pop3 and mw-trace (RFC 1939 §3-§7; RFC 2449 §5, §6, §8;
 * RFC 2595 §4; RFC 3206; RFC 5034 §3-§4; RFC 6856 §2-§3).
 */
#include "pop3-proto.h"

#include <string.h>

GQuark
pop3_proto_error_quark (void)
{
  return g_quark_from_static_string ("pop3-proto-error-quark");
}

/* ---- catalog -------------------------------------------------------- */

const MailCatalogEntry pop3_catalog_commands[] = {
  { "USER", "names the mailbox to log in to; PASS must follow", "RFC 1939 §7" },
  { "PASS", "gives the password for the USER just named", "RFC 1939 §7" },
  { "APOP", "logs in with a name and an MD5 digest of a shared secret",
    "RFC 1939 §7" },
  { "QUIT",
    "ends the session; after login the server first deletes the messages "
    "marked with DELE (UPDATE state)",
    "RFC 1939 §6" },
  { "STAT", "asks for the number of messages and their total size",
    "RFC 1939 §5" },
  { "LIST", "asks for the size of one message, or of every message",
    "RFC 1939 §5" },
  { "RETR", "asks for the whole of one message, dot-stuffed", "RFC 1939 §5" },
  { "DELE", "marks a message for deletion when the session ends with QUIT",
    "RFC 1939 §5" },
  { "NOOP", "does nothing; the server just answers +OK", "RFC 1939 §5" },
  { "RSET", "unmarks every message marked with DELE", "RFC 1939 §5" },
  { "TOP", "asks for the header and the first n body lines of a message",
    "RFC 1939 §7" },
  { "UIDL", "asks for the unique id of one message, or of every message",
    "RFC 1939 §7" },
  { "CAPA", "asks which extensions the server supports", "RFC 2449 §5" },
  { "STLS", "asks to start TLS on this connection now", "RFC 2595 §4" },
  { "AUTH", "logs in with a SASL mechanism, such as PLAIN or LOGIN",
    "RFC 5034 §4" },
  { "UTF8", "turns on UTF-8 in names, passwords and messages", "RFC 6856 §2" },
  { "LANG", "chooses the language of the server's response texts",
    "RFC 6856 §3" },
  { NULL, NULL, NULL },
};

const MailCatalogEntry pop3_catalog_status[] = {
  { "+OK", "positive: the command worked", "RFC 1939 §3" },
  { "-ERR", "negative: the command failed, the text says why", "RFC 1939 §3" },
  { "+", "SASL challenge: the server waits for the client's next response",
    "RFC 5034 §4" },
  { NULL, NULL, NULL },
};

const MailCatalogEntry pop3_catalog_response_codes[] = {
  { "IN-USE", "the maildrop is locked by another session; try again later",
    "RFC 2449 §8.1.2" },
  { "LOGIN-DELAY", "logged in too recently; wait before logging in again",
    "RFC 2449 §8.1.1" },
  { "SYS/TEMP", "a temporary system failure; trying again may work",
    "RFC 3206 §4" },
  { "SYS/PERM", "a permanent system failure; trying again will not help",
    "RFC 3206 §4" },
  { "SYS", "a system failure, not a problem with the credentials",
    "RFC 3206 §4" },
  { "AUTH", "the credentials were wrong or not allowed here", "RFC 3206 §5" },
  { "UTF8", "the command needs UTF8 mode to be on first", "RFC 6856 §2" },
  { NULL, NULL, NULL },
};

const MailCatalogEntry pop3_catalog_capabilities[] = {
  { "TOP", "the TOP command is supported", "RFC 2449 §6.1" },
  { "USER", "USER and PASS are supported", "RFC 2449 §6.2" },
  { "SASL", "AUTH is supported with the SASL mechanisms listed",
    "RFC 2449 §6.3" },
  { "RESP-CODES", "-ERR texts may start with a [CODE]", "RFC 2449 §6.4" },
  { "LOGIN-DELAY", "the minimum seconds between logins", "RFC 2449 §6.5" },
  { "PIPELINING", "the client may send commands without waiting",
    "RFC 2449 §6.6" },
  { "EXPIRE", "how many days messages stay on the server (NEVER: kept)",
    "RFC 2449 §6.7" },
  { "UIDL", "the UIDL command is supported", "RFC 2449 §6.8" },
  { "IMPLEMENTATION", "the name of the server software", "RFC 2449 §6.9" },
  { "STLS", "the STLS command is supported", "RFC 2595 §4" },
  { "AUTH-RESP-CODE", "failed logins say [AUTH] or [SYS/...]", "RFC 3206 §6" },
  { "UTF8", "the UTF8 command is supported", "RFC 6856 §2" },
  { "LANG", "the LANG command is supported", "RFC 6856 §3" },
  { NULL, NULL, NULL },
};

/* ---- response codes ------------------------------------------------- */

static const char *const pop3_code_names[] = {
  [POP3_CODE_NONE] = NULL,
  [POP3_CODE_IN_USE] = "IN-USE",
  [POP3_CODE_LOGIN_DELAY] = "LOGIN-DELAY",
  [POP3_CODE_SYS_TEMP] = "SYS/TEMP",
  [POP3_CODE_SYS_PERM] = "SYS/PERM",
  [POP3_CODE_AUTH] = "AUTH",
  [POP3_CODE_UTF8] = "UTF8",
};

const char *
pop3_response_code_name (Pop3ResponseCode code)
{
  g_return_val_if_fail (code <= POP3_CODE_UTF8, NULL);
  return pop3_code_names[code];
}

Pop3ResponseCode
pop3_response_code_from_name (const char *name)
{
  if (name == NULL)
    return POP3_CODE_NONE;
  for (guint i = 1; i < G_N_ELEMENTS (pop3_code_names); i++)
    if (g_ascii_strcasecmp (name, pop3_code_names[i]) == 0)
      return (Pop3ResponseCode) i;
  return POP3_CODE_NONE;
}

/* ---- responses ------------------------------------------------------ */

void
pop3_response_clear (Pop3Response *response)
{
  g_clear_pointer (&response->code, g_free);
  g_clear_pointer (&response->text, g_free);
}

/* RFC 2449 §8: resp-code = "[" resp-level *("/" resp-level) "]", with
 * resp-level = 1*<any CHAR except "/", SP, "[" and "]">. Returns the
 * code and points *inout_text past it and one space, or returns NULL and
 * leaves the text alone (then the brackets were just text). */
static char *
pop3_proto_take_code (const char **inout_text)
{
  const char *text = *inout_text;
  const char *end = NULL;

  if (text[0] != '[')
    return NULL;
  for (end = text + 1; *end != ']'; end++)
    if (*end == '\0' || *end == ' ' || *end == '[' || (guchar) *end < 0x21 ||
        (guchar) *end > 0x7e)
      return NULL;
  /* an empty level ("[]", "[A//B]", "[/A]") is not a code */
  if (end == text + 1 || text[1] == '/' || end[-1] == '/' ||
      g_strstr_len (text, end - text, "//") != NULL)
    return NULL;
  *inout_text = end + 1;
  if (**inout_text == ' ')
    (*inout_text)++;
  return g_strndup (text + 1, end - text - 1);
}

gboolean
pop3_proto_parse_response (const char *line, Pop3Response *out, GError **error)
{
  const char *rest = NULL;

  g_return_val_if_fail (line != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  memset (out, 0, sizeof *out);
  /* RFC 1939 §3: "+OK" or "-ERR", then SP and text (text optional in
   * practice). "+OKAY" is not "+OK". */
  if (g_str_has_prefix (line, POP3_OK) && (line[3] == ' ' || line[3] == '\0'))
    {
      out->status = POP3_STATUS_OK;
      rest = line + 3;
    }
  else if (g_str_has_prefix (line, POP3_ERR) &&
           (line[4] == ' ' || line[4] == '\0'))
    {
      out->status = POP3_STATUS_ERR;
      rest = line + 4;
    }
  else if (line[0] == '+' && (line[1] == ' ' || line[1] == '\0'))
    {
      /* RFC 5034 §4: continue-req = "+" SP [base64] CRLF; some servers
       * send a lone "+" for an empty challenge. */
      out->status = POP3_STATUS_CONTINUATION;
      out->text = g_strdup (line[1] == ' ' ? line + 2 : "");
      return TRUE;
    }
  else
    {
      g_set_error (error, POP3_PROTO_ERROR, POP3_PROTO_ERROR_SYNTAX,
                   "response starts with neither +OK nor -ERR");
      return FALSE;
    }

  if (*rest == ' ')
    rest++;
  out->code = pop3_proto_take_code (&rest);
  out->text = g_strdup (rest);
  return TRUE;
}

/* ---- commands ------------------------------------------------------- */

gboolean
pop3_proto_split_command (const char *line,
                          char **out_verb,
                          char **out_argument,
                          GError **error)
{
  gsize length = 0;

  g_return_val_if_fail (line != NULL, FALSE);
  g_return_val_if_fail (out_verb != NULL, FALSE);
  g_return_val_if_fail (out_argument != NULL, FALSE);

  /* RFC 1939 §3: keyword [SP arg ...]; keywords are 3-4 printable
   * characters (letters and digits in every command defined so far). */
  while (g_ascii_isalnum (line[length]))
    length++;
  if (length < 3 || length > POP3_MAX_KEYWORD ||
      (line[length] != ' ' && line[length] != '\0'))
    {
      g_set_error (error, POP3_PROTO_ERROR, POP3_PROTO_ERROR_SYNTAX,
                   line[0] == '\0' ? "empty command line"
                                   : "a command is a keyword of 3 or 4 "
                                     "letters, then a space and arguments");
      return FALSE;
    }

  *out_verb = g_ascii_strup (line, length);
  *out_argument = line[length] == ' ' ? g_strdup (line + length + 1) : NULL;
  return TRUE;
}

gboolean
pop3_proto_parse_number (const char *text, guint32 *out_number, GError **error)
{
  guint64 value = 0;
  gsize digits = 0;

  g_return_val_if_fail (text != NULL, FALSE);

  /* only the first 11 digits are summed: enough to know it is too big */
  for (; g_ascii_isdigit (text[digits]); digits++)
    if (digits <= 10)
      value = value * 10 + (guint64) (text[digits] - '0');
  if (digits == 0 || text[digits] != '\0')
    {
      g_set_error (error, POP3_PROTO_ERROR, POP3_PROTO_ERROR_SYNTAX,
                   "\"%.40s\" is not a message number", text);
      return FALSE;
    }
  if (value == 0 || value > G_MAXUINT32 || digits > 10)
    {
      g_set_error (error, POP3_PROTO_ERROR, POP3_PROTO_ERROR_RANGE,
                   "message number %.40s is out of range", text);
      return FALSE;
    }
  *out_number = (guint32) value;
  return TRUE;
}

gboolean
pop3_proto_parse_listing (const char *line,
                          guint32 *out_number,
                          char **out_rest,
                          GError **error)
{
  const char *space = NULL;
  g_autofree char *number = NULL;

  g_return_val_if_fail (line != NULL, FALSE);

  /* RFC 1939 §5: scan listing = msg-number SP size; §7: unique-id listing
   * = msg-number SP unique-id (1-70 characters 0x21-0x7E). */
  space = strchr (line, ' ');
  if (space == NULL || space[1] == '\0')
    {
      g_set_error (error, POP3_PROTO_ERROR, POP3_PROTO_ERROR_SYNTAX,
                   "listing is not \"number SP value\"");
      return FALSE;
    }
  number = g_strndup (line, space - line);
  if (!pop3_proto_parse_number (number, out_number, error))
    return FALSE;
  *out_rest = g_strdup (space + 1);
  return TRUE;
}

gboolean
pop3_proto_is_multiline (const char *verb, gboolean has_argument, gboolean ok)
{
  g_return_val_if_fail (verb != NULL, FALSE);

  /* RFC 1939 §3: only +OK responses of these commands are multi-line;
   * LIST and UIDL with an argument answer on one line (§5, §7). */
  if (!ok)
    return FALSE;
  if (g_ascii_strcasecmp (verb, "RETR") == 0 ||
      g_ascii_strcasecmp (verb, "TOP") == 0 ||
      g_ascii_strcasecmp (verb, "CAPA") == 0)
    return TRUE;
  if (g_ascii_strcasecmp (verb, "LIST") == 0 ||
      g_ascii_strcasecmp (verb, "UIDL") == 0)
    return !has_argument;
  return FALSE;
}
