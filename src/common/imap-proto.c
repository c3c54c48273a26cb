/* SPDX-License-Identifier: MIT
 * imap-proto.c: IMAP vocabulary (catalog) and line grammar (RFC 9051).
 */
#include "imap-proto.h"

#include <string.h>

const MailCatalogEntry imap_proto_commands[] = {
  /* any state, RFC 9051 §6.1 */
  { "CAPABILITY", "asks which capabilities the server has", "RFC 9051 §6.1.1" },
  { "NOOP", "does nothing; lets the server report news (EXISTS, EXPUNGE)",
    "RFC 9051 §6.1.2" },
  { "LOGOUT", "ends the session; the server says BYE first",
    "RFC 9051 §6.1.3" },
  /* not authenticated, §6.2 */
  { "STARTTLS", "starts TLS on this connection before logging in",
    "RFC 9051 §6.2.1" },
  { "AUTHENTICATE", "logs in with a SASL mechanism", "RFC 9051 §6.2.2" },
  { "LOGIN", "logs in with a user name and a plaintext password",
    "RFC 9051 §6.2.3" },
  /* authenticated, §6.3 */
  { "ENABLE", "turns on extensions the client understands", "RFC 9051 §6.3.1" },
  { "SELECT", "opens a mailbox read-write", "RFC 9051 §6.3.2" },
  { "EXAMINE", "opens a mailbox read-only", "RFC 9051 §6.3.3" },
  { "CREATE", "creates a mailbox", "RFC 9051 §6.3.4" },
  { "DELETE", "deletes a mailbox", "RFC 9051 §6.3.5" },
  { "RENAME", "renames a mailbox", "RFC 9051 §6.3.6" },
  { "SUBSCRIBE", "adds a mailbox to the subscribed list", "RFC 9051 §6.3.7" },
  { "UNSUBSCRIBE", "removes a mailbox from the subscribed list",
    "RFC 9051 §6.3.8" },
  { "LIST", "lists mailboxes matching a pattern", "RFC 9051 §6.3.9" },
  { "NAMESPACE", "asks for the personal, shared and other namespaces",
    "RFC 9051 §6.3.10" },
  { "STATUS", "asks for counters of a mailbox without opening it",
    "RFC 9051 §6.3.11" },
  { "APPEND", "uploads a message into a mailbox (as a literal)",
    "RFC 9051 §6.3.12" },
  { "IDLE", "waits for the server to push news until DONE",
    "RFC 9051 §6.3.13" },
  { "DONE", "ends IDLE", "RFC 9051 §6.3.13" },
  { "LSUB", "lists subscribed mailboxes (IMAP4rev1)", "RFC 3501 §6.3.9" },
  /* selected, §6.4 */
  { "CLOSE", "closes the mailbox, expunging deleted messages",
    "RFC 9051 §6.4.1" },
  { "UNSELECT", "closes the mailbox without expunging", "RFC 9051 §6.4.2" },
  { "EXPUNGE", "removes messages flagged \\Deleted", "RFC 9051 §6.4.3" },
  { "SEARCH", "finds messages matching criteria", "RFC 9051 §6.4.4" },
  { "FETCH", "retrieves data of messages (flags, headers, bodies)",
    "RFC 9051 §6.4.5" },
  { "STORE", "changes the flags of messages", "RFC 9051 §6.4.6" },
  { "COPY", "copies messages to another mailbox", "RFC 9051 §6.4.7" },
  { "MOVE", "moves messages to another mailbox", "RFC 9051 §6.4.8" },
  { "UID", "the next command uses UIDs instead of sequence numbers",
    "RFC 9051 §6.4.9" },
  { "CHECK", "asks for a checkpoint of the mailbox (IMAP4rev1)",
    "RFC 3501 §6.4.1" },
  { "ID", "exchanges client and server identification", "RFC 2971 §3.1" },
  { NULL },
};

const MailCatalogEntry imap_proto_statuses[] = {
  { "OK", "success", "RFC 9051 §7.1.1" },
  { "NO", "the command failed (operational error)", "RFC 9051 §7.1.2" },
  { "BAD", "the command was not understood (protocol error)",
    "RFC 9051 §7.1.3" },
  { "PREAUTH", "greeting: already authenticated", "RFC 9051 §7.1.4" },
  { "BYE", "the server is closing the connection", "RFC 9051 §7.1.5" },
  { "+", "continuation request: the server is ready for more",
    "RFC 9051 §7.5" },
  { NULL },
};

const MailCatalogEntry imap_proto_response_codes[] = {
  { "ALERT", "a message the user must see", "RFC 9051 §7.1" },
  { "ALREADYEXISTS", "the mailbox already exists", "RFC 9051 §7.1" },
  { "APPENDUID", "UIDVALIDITY and UID of the appended message",
    "RFC 9051 §7.1" },
  { "AUTHENTICATIONFAILED", "wrong credentials", "RFC 9051 §7.1" },
  { "AUTHORIZATIONFAILED", "authenticated, but not allowed to act as that user",
    "RFC 9051 §7.1" },
  { "BADCHARSET", "the search charset is not supported", "RFC 9051 §7.1" },
  { "CANNOT", "the operation can never succeed", "RFC 9051 §7.1" },
  { "CAPABILITY", "the server's capabilities, saving a CAPABILITY command",
    "RFC 9051 §7.1" },
  { "CLIENTBUG", "the server thinks the client is wrong", "RFC 9051 §7.1" },
  { "CLOSED", "the previous mailbox is now closed", "RFC 9051 §7.1" },
  { "CONTACTADMIN", "ask the administrator", "RFC 9051 §7.1" },
  { "COPYUID", "UIDs of the copied messages in the target mailbox",
    "RFC 9051 §7.1" },
  { "CORRUPTION", "the server found corrupted data", "RFC 9051 §7.1" },
  { "EXPIRED", "the credentials have expired", "RFC 9051 §7.1" },
  { "EXPUNGEISSUED", "another session expunged messages", "RFC 9051 §7.1" },
  { "HASCHILDREN", "the mailbox has children", "RFC 9051 §7.1" },
  { "INUSE", "the resource is busy", "RFC 9051 §7.1" },
  { "LIMIT", "a server limit was hit", "RFC 9051 §7.1" },
  { "NONEXISTENT", "no such mailbox", "RFC 9051 §7.1" },
  { "NOPERM", "no permission", "RFC 9051 §7.1" },
  { "OVERQUOTA", "over quota", "RFC 9051 §7.1" },
  { "PARSE", "a message could not be parsed", "RFC 9051 §7.1" },
  { "PERMANENTFLAGS", "flags the client can change for good", "RFC 9051 §7.1" },
  { "PRIVACYREQUIRED", "needs TLS first", "RFC 9051 §7.1" },
  { "READ-ONLY", "the mailbox is open read-only", "RFC 9051 §7.1" },
  { "READ-WRITE", "the mailbox is open read-write", "RFC 9051 §7.1" },
  { "SERVERBUG", "the server failed", "RFC 9051 §7.1" },
  { "TRYCREATE", "the target mailbox does not exist; CREATE may help",
    "RFC 9051 §7.1" },
  { "UIDNEXT", "the UID the next message will get", "RFC 9051 §7.1" },
  { "UIDNOTSTICKY", "UIDs will not persist", "RFC 9051 §7.1" },
  { "UIDVALIDITY", "UIDs stay valid while this number stays the same",
    "RFC 9051 §7.1" },
  { "UNAVAILABLE", "temporarily unavailable", "RFC 9051 §7.1" },
  { "UNKNOWN-CTE", "unknown content transfer encoding", "RFC 9051 §7.1" },
  { "UNSEEN", "the first unseen message (IMAP4rev1)", "RFC 3501 §7.1" },
  { "TOOBIG", "the literal or message is larger than the server accepts",
    "RFC 7888 §4" },
  { "HIGHESTMODSEQ", "the highest modification sequence of the mailbox",
    "RFC 7162 §3.1.2.1" },
  { "NOMODSEQ", "the mailbox does not keep modification sequences",
    "RFC 7162 §3.1.2.2" },
  { "MODIFIED",
    "these messages changed since UNCHANGEDSINCE, so STORE left them alone",
    "RFC 7162 §3.1.3" },
  { NULL },
};

const MailCatalogEntry imap_proto_data_responses[] = {
  { "CAPABILITY", "the server's capabilities", "RFC 9051 §7.2.2" },
  { "ENABLED", "extensions now enabled", "RFC 9051 §7.2.1" },
  { "ID", "server identification", "RFC 2971 §3.2" },
  { "LIST", "one mailbox: attributes, delimiter, name", "RFC 9051 §7.3.1" },
  { "LSUB", "one subscribed mailbox", "RFC 3501 §7.2.3" },
  { "NAMESPACE", "the namespaces", "RFC 9051 §7.3.2" },
  { "STATUS", "counters of a mailbox", "RFC 9051 §7.3.3" },
  { "ESEARCH", "search results", "RFC 9051 §7.3.4" },
  { "SEARCH", "search results (IMAP4rev1)", "RFC 3501 §7.2.5" },
  { "FLAGS", "the flags defined in this mailbox", "RFC 9051 §7.3.5" },
  { "EXISTS", "the number of messages in the mailbox", "RFC 9051 §7.4.1" },
  { "RECENT", "messages new since the last session (IMAP4rev1)",
    "RFC 3501 §7.3.2" },
  { "EXPUNGE", "a message was removed; later numbers shift down",
    "RFC 9051 §7.5.1" },
  { "VANISHED",
    "messages were removed, named by UID, not by message number (QRESYNC)",
    "RFC 7162 §3.2.10" },
  { "FETCH", "data about one message", "RFC 9051 §7.5.2" },
  { NULL },
};

const MailCatalogEntry imap_proto_fetch_items[] = {
  { "UID", "the message's unique identifier", "RFC 9051 §7.5.2" },
  { "FLAGS", "the message's flags", "RFC 9051 §7.5.2" },
  { "ENVELOPE", "parsed header fields (date, subject, addresses)",
    "RFC 9051 §7.5.2" },
  { "BODYSTRUCTURE", "the MIME structure of the message", "RFC 9051 §7.5.2" },
  { "BODY", "the MIME structure without extensions", "RFC 9051 §7.5.2" },
  { "BODY[]", "message content, or one section of it", "RFC 9051 §7.5.2" },
  { "BINARY[]", "a section, decoded", "RFC 9051 §7.5.2" },
  { "RFC822.SIZE", "the message size in octets", "RFC 9051 §7.5.2" },
  { "INTERNALDATE", "when the server received the message", "RFC 9051 §7.5.2" },
  { "RFC822", "the whole message (IMAP4rev1)", "RFC 3501 §7.4.2" },
  { "RFC822.HEADER", "the header (IMAP4rev1)", "RFC 3501 §7.4.2" },
  { "RFC822.TEXT", "the body (IMAP4rev1)", "RFC 3501 §7.4.2" },
  { "MODSEQ", "the modification sequence of the message's last change",
    "RFC 7162 §3.1.4.2" },
  { NULL },
};

const char *
imap_proto_code_name (ImapCode code)
{
  static const char *const names[] = {
    [IMAP_CODE_ALERT] = "ALERT",
    [IMAP_CODE_ALREADYEXISTS] = "ALREADYEXISTS",
    [IMAP_CODE_APPENDUID] = "APPENDUID",
    [IMAP_CODE_AUTHENTICATIONFAILED] = "AUTHENTICATIONFAILED",
    [IMAP_CODE_BADCHARSET] = "BADCHARSET",
    [IMAP_CODE_CANNOT] = "CANNOT",
    [IMAP_CODE_CAPABILITY] = "CAPABILITY",
    [IMAP_CODE_CLIENTBUG] = "CLIENTBUG",
    [IMAP_CODE_CLOSED] = "CLOSED",
    [IMAP_CODE_COPYUID] = "COPYUID",
    [IMAP_CODE_EXPUNGEISSUED] = "EXPUNGEISSUED",
    [IMAP_CODE_INUSE] = "INUSE",
    [IMAP_CODE_LIMIT] = "LIMIT",
    [IMAP_CODE_NONEXISTENT] = "NONEXISTENT",
    [IMAP_CODE_NOPERM] = "NOPERM",
    [IMAP_CODE_OVERQUOTA] = "OVERQUOTA",
    [IMAP_CODE_PARSE] = "PARSE",
    [IMAP_CODE_PERMANENTFLAGS] = "PERMANENTFLAGS",
    [IMAP_CODE_PRIVACYREQUIRED] = "PRIVACYREQUIRED",
    [IMAP_CODE_READ_ONLY] = "READ-ONLY",
    [IMAP_CODE_READ_WRITE] = "READ-WRITE",
    [IMAP_CODE_SERVERBUG] = "SERVERBUG",
    [IMAP_CODE_TOOBIG] = "TOOBIG",
    [IMAP_CODE_TRYCREATE] = "TRYCREATE",
    [IMAP_CODE_UIDNEXT] = "UIDNEXT",
    [IMAP_CODE_UIDVALIDITY] = "UIDVALIDITY",
    [IMAP_CODE_UNAVAILABLE] = "UNAVAILABLE",
    [IMAP_CODE_UNKNOWN_CTE] = "UNKNOWN-CTE",
    [IMAP_CODE_UNSEEN] = "UNSEEN",
    [IMAP_CODE_HIGHESTMODSEQ] = "HIGHESTMODSEQ",
    [IMAP_CODE_NOMODSEQ] = "NOMODSEQ",
    [IMAP_CODE_MODIFIED] = "MODIFIED",
  };

  g_return_val_if_fail ((guint) code < G_N_ELEMENTS (names), NULL);
  return names[code];
}

const MailCatalogEntry *
imap_proto_command_info (const char *verb)
{
  return mail_catalog_find (imap_proto_commands, verb);
}

const MailCatalogEntry *
imap_proto_status_info (const char *status)
{
  return mail_catalog_find (imap_proto_statuses, status);
}

const MailCatalogEntry *
imap_proto_response_code_info (const char *code)
{
  return mail_catalog_find (imap_proto_response_codes, code);
}

const MailCatalogEntry *
imap_proto_data_info (const char *keyword)
{
  return mail_catalog_find (imap_proto_data_responses, keyword);
}

const MailCatalogEntry *
imap_proto_fetch_item_info (const char *item)
{
  g_autofree char *base = NULL;
  const char *bracket;

  if (item == NULL)
    return NULL;
  bracket = strchr (item, '[');
  if (bracket == NULL)
    return mail_catalog_find (imap_proto_fetch_items, item);
  /* BODY.PEEK[...] and BODY[...] <partial> are all "BODY[]" */
  base = g_strndup (item, bracket - item);
  if (g_ascii_strcasecmp (base, "BODY.PEEK") == 0 ||
      g_ascii_strcasecmp (base, "BODY") == 0)
    return mail_catalog_find (imap_proto_fetch_items, "BODY[]");
  if (g_ascii_strncasecmp (base, "BINARY", 6) == 0)
    return mail_catalog_find (imap_proto_fetch_items, "BINARY[]");
  return NULL;
}

const char *
imap_proto_status_name (ImapStatus status)
{
  static const char *const names[] = {
    NULL, "OK", "NO", "BAD", "PREAUTH", "BYE"
  };

  return status <= IMAP_STATUS_BYE ? names[status] : NULL;
}

/* RFC 9051 §9: ASTRING-CHAR = ATOM-CHAR / resp-specials ("]"); ATOM-CHAR
 * excludes "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]". */
static gboolean
is_astring_char (guchar c)
{
  return c > 0x20 && c < 0x7f && strchr ("(){%*\"\\", c) == NULL;
}

gboolean
imap_proto_tag_is_valid (const char *tag, gsize length)
{
  if (length == 0)
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!is_astring_char ((guchar) tag[i]) || tag[i] == '+')
      return FALSE;
  return TRUE;
}

static gboolean
is_atom_char (guchar c)
{
  return is_astring_char (c) && c != ']';
}

gboolean
imap_proto_split_command (const char *line,
                          char **out_tag,
                          char **out_verb,
                          const char **out_arguments)
{
  gsize tag_length = strcspn (line, " ");
  const char *verb = line + tag_length + 1;
  gsize verb_length;

  if (line[tag_length] != ' ' || !imap_proto_tag_is_valid (line, tag_length))
    return FALSE;
  verb_length = 0;
  while (is_atom_char ((guchar) verb[verb_length]))
    verb_length++;
  if (verb_length == 0 ||
      (verb[verb_length] != ' ' && verb[verb_length] != '\0'))
    return FALSE;
  *out_tag = g_strndup (line, tag_length);
  *out_verb = g_ascii_strup (verb, verb_length);
  *out_arguments = verb + verb_length + (verb[verb_length] == ' ' ? 1 : 0);
  return TRUE;
}

/* A copy of @word[0..@length), in upper case if @upper (codes and
 * keywords are compared without case, RFC 9051 §9), in @out's words when
 * it fits, else allocated (a long CAPABILITY code's arguments). */
static char *
response_word (ImapResponse *out,
               const char *word,
               gsize length,
               gboolean upper)
{
  char *copy;

  if (length < sizeof out->words - out->words_used)
    {
      copy = out->words + out->words_used;
      out->words_used += length + 1;
    }
  else
    copy = g_malloc (length + 1);
  memcpy (copy, word, length);
  copy[length] = '\0';
  for (gsize i = 0; upper && i < length; i++)
    if (copy[i] >= 'a' && copy[i] <= 'z')
      copy[i] = (char) (copy[i] - ('a' - 'A'));
  return copy;
}

/* Frees *@word unless it lies in @response's words. */
static void
response_word_clear (ImapResponse *response, char **word)
{
  const char *words = response->words;

  if (*word != NULL &&
      (*word < words || *word >= words + sizeof response->words))
    g_free (*word);
  *word = NULL;
}

static ImapStatus
status_from (const char *word, gsize length)
{
  for (ImapStatus s = IMAP_STATUS_OK; s <= IMAP_STATUS_BYE; s++)
    if (strlen (imap_proto_status_name (s)) == length &&
        g_ascii_strncasecmp (word, imap_proto_status_name (s), length) == 0)
      return s;
  return IMAP_STATUS_NONE;
}

/* resp-text = ["[" resp-text-code "]" SP] [text]  (RFC 9051 §9) */
static void
parse_resp_text (const char *text, ImapResponse *out)
{
  const char *close;
  gsize name_length;

  out->text = text;
  if (text[0] != '[' || (close = strchr (text, ']')) == NULL)
    return;
  name_length = strcspn (text + 1, " ]");
  out->code = response_word (out, text + 1, name_length, TRUE);
  if (text[1 + name_length] == ' ')
    out->code_args =
        response_word (out, text + 2 + name_length,
                       (gsize) (close - (text + 2 + name_length)), FALSE);
  out->text = close[1] == ' ' ? close + 2 : close + 1;
}

/* "* " after the star: a status, a number then a keyword, or a keyword. */
static void
parse_untagged (const char *rest, ImapResponse *out)
{
  gsize word = strcspn (rest, " ");
  ImapStatus status = status_from (rest, word);

  if (status != IMAP_STATUS_NONE)
    {
      out->status = status;
      parse_resp_text (rest[word] == ' ' ? rest + word + 1 : rest + word, out);
      return;
    }
  if (g_ascii_isdigit (rest[0]))
    {
      guint64 number = g_ascii_strtoull (rest, NULL, 10);
      out->has_number = TRUE;
      out->number = (guint32) MIN (number, G_MAXUINT32);
      rest += word + (rest[word] == ' ' ? 1 : 0);
      word = strcspn (rest, " ");
    }
  out->keyword = response_word (out, rest, word, TRUE);
  out->text = rest + word + (rest[word] == ' ' ? 1 : 0);
}

gboolean
imap_proto_parse_response (const char *line, ImapResponse *out)
{
  gsize tag_length = strcspn (line, " ");
  gsize word;

  memset (out, 0, sizeof *out);
  if (line[0] == '+' && (line[1] == ' ' || line[1] == '\0'))
    {
      out->kind = IMAP_RESPONSE_CONTINUATION;
      out->text = line[1] == ' ' ? line + 2 : line + 1;
      return TRUE;
    }
  if (line[0] == '*' && line[1] == ' ')
    {
      out->kind = IMAP_RESPONSE_UNTAGGED;
      parse_untagged (line + 2, out);
      return TRUE;
    }
  if (line[tag_length] != ' ' || !imap_proto_tag_is_valid (line, tag_length))
    return FALSE;
  word = strcspn (line + tag_length + 1, " ");
  out->status = status_from (line + tag_length + 1, word);
  if (out->status < IMAP_STATUS_OK || out->status > IMAP_STATUS_BAD)
    {
      out->status = IMAP_STATUS_NONE;
      return FALSE; /* §7.1: tagged responses are OK, NO or BAD */
    }
  out->kind = IMAP_RESPONSE_TAGGED;
  out->tag = response_word (out, line, tag_length, FALSE);
  line += tag_length + 1 + word;
  parse_resp_text (*line == ' ' ? line + 1 : line, out);
  return TRUE;
}

void
imap_response_clear (ImapResponse *response)
{
  response_word_clear (response, &response->tag);
  response_word_clear (response, &response->code);
  response_word_clear (response, &response->code_args);
  response_word_clear (response, &response->keyword);
  response->words_used = 0;
}

gboolean
imap_proto_line_literal (const char *line,
                         gsize length,
                         guint64 *out_size,
                         gboolean *out_non_sync)
{
  gsize end = length;
  gsize digits = 0;
  gboolean non_sync = FALSE;
  guint64 size = 0;

  /* literal = "{" number64 ["+"] "}" CRLF *CHAR8 (RFC 9051 §9) */
  if (end < 3 || line[end - 1] != '}')
    return FALSE;
  end--;
  if (line[end - 1] == '+')
    {
      non_sync = TRUE;
      end--;
    }
  while (end > 0 && g_ascii_isdigit (line[end - 1]) && digits < 20)
    {
      end--;
      digits++;
    }
  if (digits == 0 || end == 0 || line[end - 1] != '{')
    return FALSE;
  for (gsize i = end; i < end + digits; i++)
    {
      if (size > (G_MAXUINT64 - 9) / 10)
        return FALSE;
      size = size * 10 + (guint64) (line[i] - '0');
    }
  *out_size = size;
  *out_non_sync = non_sync;
  return TRUE;
}
