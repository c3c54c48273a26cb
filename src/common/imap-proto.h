/* SPDX-License-Identifier: MIT
 * imap-proto.h: the IMAP vocabulary and the line-level grammar, written
 * once for the server, the client and the tracer (RFC 9051 §2.2 tags and
 * responses, §4.3 literals, §6 commands, §7 responses, §7.1 status
 * responses, §7.1 response codes; RFC 7888 LITERAL+; RFC 2177 IDLE).
 *
 * Pure: strings in, values out, no I/O. Lines are passed without CRLF and
 * are untrusted: parsers bound what they accept.
 */
#pragma once

#include <glib.h>

#include "mail-catalog.h"

G_BEGIN_DECLS

/* RFC 9051 §7.1: status conditions. */
typedef enum
{
  IMAP_STATUS_NONE = 0, /* not a status response (data, continuation) */
  IMAP_STATUS_OK,
  IMAP_STATUS_NO,
  IMAP_STATUS_BAD,
  IMAP_STATUS_PREAUTH,
  IMAP_STATUS_BYE,
} ImapStatus;

typedef enum
{
  IMAP_RESPONSE_TAGGED,       /* tag SP status SP text (§7.1) */
  IMAP_RESPONSE_UNTAGGED,     /* "*" SP ... (§7) */
  IMAP_RESPONSE_CONTINUATION, /* "+" [SP text] (§7.5) */
} ImapResponseKind;

/* RFC 9051 §7.1 response codes (and those of the extensions we speak), in
 * the order of imap_proto_response_codes[]. Named, never spelled out. */
typedef enum
{
  IMAP_CODE_NONE = 0,
  IMAP_CODE_ALERT,
  IMAP_CODE_ALREADYEXISTS,
  IMAP_CODE_APPENDUID, /* RFC 4315 §3 */
  IMAP_CODE_AUTHENTICATIONFAILED,
  IMAP_CODE_BADCHARSET,
  IMAP_CODE_CANNOT,
  IMAP_CODE_CAPABILITY,
  IMAP_CODE_CLIENTBUG,
  IMAP_CODE_CLOSED,
  IMAP_CODE_COPYUID, /* RFC 4315 §3 */
  IMAP_CODE_EXPUNGEISSUED,
  IMAP_CODE_INUSE,
  IMAP_CODE_LIMIT,
  IMAP_CODE_NONEXISTENT,
  IMAP_CODE_NOPERM,
  IMAP_CODE_OVERQUOTA,
  IMAP_CODE_PARSE,
  IMAP_CODE_PERMANENTFLAGS,
  IMAP_CODE_PRIVACYREQUIRED,
  IMAP_CODE_READ_ONLY,
  IMAP_CODE_READ_WRITE,
  IMAP_CODE_SERVERBUG,
  IMAP_CODE_TOOBIG, /* RFC 7888 §4, RFC 4469 */
  IMAP_CODE_TRYCREATE,
  IMAP_CODE_UIDNEXT,
  IMAP_CODE_UIDVALIDITY,
  IMAP_CODE_UNAVAILABLE,
  IMAP_CODE_UNKNOWN_CTE,   /* RFC 3516 §4.3 */
  IMAP_CODE_UNSEEN,        /* RFC 3501 §7.1 */
  IMAP_CODE_HIGHESTMODSEQ, /* RFC 7162 §3.1.2.1 */
  IMAP_CODE_NOMODSEQ,      /* RFC 7162 §3.1.2.2 */
  IMAP_CODE_MODIFIED,      /* RFC 7162 §3.1.3 */
} ImapCode;

/* "TRYCREATE", "READ-ONLY" ... (transfer none); NULL for IMAP_CODE_NONE. */
const char *imap_proto_code_name (ImapCode code);

/* ---- the catalog (mail-catalog.h) ----------------------------------- */

/* Every command of RFC 9051 §6 plus IDLE, ID, MOVE, NAMESPACE, UNSELECT,
 * ENABLE, LSUB and the client's "DONE" (ends IDLE). */
extern const MailCatalogEntry imap_proto_commands[];
/* "OK" "NO" "BAD" "PREAUTH" "BYE" and "+" (continuation request). */
extern const MailCatalogEntry imap_proto_statuses[];
/* Response codes in brackets: ALERT, CAPABILITY, UIDVALIDITY ... */
extern const MailCatalogEntry imap_proto_response_codes[];
/* Untagged data responses: CAPABILITY, LIST, EXISTS, FETCH, SEARCH ... */
extern const MailCatalogEntry imap_proto_data_responses[];
/* FETCH data items: UID, FLAGS, ENVELOPE, BODY[], RFC822.SIZE ... */
extern const MailCatalogEntry imap_proto_fetch_items[];

/* Case-insensitive lookups; NULL if unknown (transfer none). */
const MailCatalogEntry *imap_proto_command_info (const char *verb);
const MailCatalogEntry *imap_proto_status_info (const char *status);
const MailCatalogEntry *imap_proto_response_code_info (const char *code);
const MailCatalogEntry *imap_proto_data_info (const char *keyword);
/* "BODY.PEEK[HEADER]" -> the BODY[<section>] entry, etc. */
const MailCatalogEntry *imap_proto_fetch_item_info (const char *item);

/* ---- grammar -------------------------------------------------------- */

/* RFC 9051 §9: tag = 1*<any ASTRING-CHAR except "+">. */
gboolean imap_proto_tag_is_valid (const char *tag, gsize length);

/* Splits "tag SP command [SP arguments]". *out_tag and *out_verb
 * (transfer full; the verb in upper case); *out_arguments points into
 * @line ("" if none). "UID FETCH ..." keeps "UID" as the verb and the
 * rest in arguments. FALSE (nothing set) if the line is not a command. */
gboolean imap_proto_split_command (const char *line,
                                   char **out_tag,
                                   char **out_verb,
                                   const char **out_arguments);

typedef struct
{
  ImapResponseKind kind;
  char *tag;         /* tagged only, else NULL */
  ImapStatus status; /* IMAP_STATUS_NONE for data and continuations */
  char *code;        /* "UIDVALIDITY" from "[UIDVALIDITY 3857529045]" */
  char *code_args;   /* "3857529045", or NULL */
  char *keyword;     /* data: "EXISTS", "FETCH", "CAPABILITY" (upper) */
  guint32 number;    /* data: "* 23 EXISTS" -> 23; else 0 */
  gboolean has_number;
  const char *text; /* points into the line: what follows the status,
                     * code, keyword (and number) */
  /* private: tag, code, code_args and keyword are kept here when they
   * fit, not allocated each (mw-trace parses every response) */
  char words[160];
  gsize words_used;
} ImapResponse;

/* Parses one response line (the part before any literal). FALSE for a
 * line that is none of the three kinds (out untouched). Clear with
 * imap_response_clear (). */
gboolean imap_proto_parse_response (const char *line, ImapResponse *out);
void imap_response_clear (ImapResponse *response);

/* RFC 9051 §4.3, RFC 7888 §3: does the line end in a literal announcement
 * "{" number ["+"] "}"? Then *out_size is the octet count and
 * *out_non_sync is TRUE for "{n+}" (the sender does not wait for "+"). */
gboolean imap_proto_line_literal (const char *line,
                                  gsize length,
                                  guint64 *out_size,
                                  gboolean *out_non_sync);

const char *imap_proto_status_name (ImapStatus status);

G_END_DECLS
