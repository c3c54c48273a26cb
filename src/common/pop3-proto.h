/* SPDX-License-Identifier: MIT
 * pop3-proto.h: the vocabulary and grammar of POP3, written once for the
 * server (mw-pop3d), the client (mw-pop3) and the tracer (mw-trace):
 * RFC 1939 §3-§7 (commands, +OK/-ERR, multi-line responses), RFC 2449
 * (CAPA, response codes), RFC 2595 (STLS), RFC 3206 (SYS/AUTH codes),
 * RFC 5034 (AUTH, "+ " continuations), RFC 6856 (UTF8, LANG).
 *
 * Everything here is pure: strings in, strings out, no I/O. Lines are
 * passed without their CRLF. Data parsed here comes from the network and
 * is untrusted: every parser bounds what it accepts.
 */
#pragma once

#include <glib.h>

#include "mail-catalog.h"

G_BEGIN_DECLS

#define POP3_PROTO_ERROR (pop3_proto_error_quark ())
typedef enum
{
  POP3_PROTO_ERROR_SYNTAX, /* the line does not follow the grammar */
  POP3_PROTO_ERROR_RANGE,  /* a number is out of range */
} Pop3ProtoError;
GQuark pop3_proto_error_quark (void);

/* RFC 1939 §3: keywords are 3 or 4 characters; RFC 2449 §4 raises the
 * command line limit to 255 octets including CRLF and the response line
 * limit to 512. mail-line.h's MAIL_LINE_MAX_POP3 is the reader's cap. */
#define POP3_MAX_KEYWORD 4
#define POP3_MAX_COMMAND_LINE 255  /* RFC 2449 §4, CRLF included */
#define POP3_MAX_RESPONSE_LINE 512 /* RFC 2449 §4, CRLF included */

/* ---- status indicators (RFC 1939 §3, RFC 5034 §4) ------------------- */

#define POP3_OK "+OK"
#define POP3_ERR "-ERR"
#define POP3_CONTINUATION "+" /* "+ " base64 challenge, RFC 5034 §4 */
/* RFC 5034 §4: the client cancels an AUTH exchange with a lone "*". */
#define POP3_SASL_CANCEL "*"

typedef enum
{
  POP3_STATUS_OK,           /* "+OK": positive (RFC 1939 §3) */
  POP3_STATUS_ERR,          /* "-ERR": negative (RFC 1939 §3) */
  POP3_STATUS_CONTINUATION, /* "+ ": SASL challenge (RFC 5034 §4) */
} Pop3Status;

/* ---- response codes (RFC 2449 §8, RFC 3206, RFC 6856) --------------- */

/* Named codes: servers write them with pop3_response_code_name (), the
 * client compares parsed codes against them. */
typedef enum
{
  POP3_CODE_NONE = 0,    /* no "[CODE]" in the response */
  POP3_CODE_IN_USE,      /* RFC 2449 §8.1.2: maildrop locked */
  POP3_CODE_LOGIN_DELAY, /* RFC 2449 §8.1.1: logged in too recently */
  POP3_CODE_SYS_TEMP,    /* RFC 3206 §4: temporary system failure */
  POP3_CODE_SYS_PERM,    /* RFC 3206 §4: permanent system failure */
  POP3_CODE_AUTH,        /* RFC 3206 §5: credentials were wrong */
  POP3_CODE_UTF8,        /* RFC 6856 §2: needs UTF8 first */
} Pop3ResponseCode;

/* "IN-USE", "SYS/TEMP" ... ; NULL for POP3_CODE_NONE. */
const char *pop3_response_code_name (Pop3ResponseCode code);
/* Case-insensitive; POP3_CODE_NONE for NULL or a code we do not know
 * (RFC 2449 §8: unknown codes are to be ignored by clients). */
Pop3ResponseCode pop3_response_code_from_name (const char *name);

/* ---- the catalog (mail-catalog.h): meaning + RFC section ------------ */

/* Every command: USER PASS APOP QUIT STAT LIST RETR DELE NOOP RSET TOP
 * UIDL CAPA STLS AUTH UTF8 LANG. Ended by a { NULL } row. */
extern const MailCatalogEntry pop3_catalog_commands[];
/* "+OK", "-ERR", "+" (the SASL continuation). */
extern const MailCatalogEntry pop3_catalog_status[];
/* "IN-USE", "LOGIN-DELAY", "SYS/TEMP", "SYS/PERM", "SYS", "AUTH", "UTF8". */
extern const MailCatalogEntry pop3_catalog_response_codes[];
/* CAPA tags: TOP USER SASL RESP-CODES LOGIN-DELAY PIPELINING EXPIRE UIDL
 * IMPLEMENTATION STLS AUTH-RESP-CODE UTF8 LANG. */
extern const MailCatalogEntry pop3_catalog_capabilities[];

/* ---- responses ------------------------------------------------------ */

/* One parsed status line. RFC 1939 §3: status indicator, then SP and
 * text; RFC 2449 §8: the text may start with "[" resp-code "]". */
typedef struct
{
  Pop3Status status;
  char *code; /* "IN-USE", "SYS/TEMP", or NULL (only for +OK/-ERR) */
  char *text; /* the rest, never NULL, may be ""; for a continuation the
               * base64 challenge */
} Pop3Response;

/* Parses a status line (no CRLF). The indicator is case-sensitive as
 * RFC 1939 §3 writes it, but "+OK"/"-ERR" followed by end of line is
 * accepted (some servers send a bare "+OK"). Errors:
 * POP3_PROTO_ERROR_SYNTAX if the line starts with neither indicator.
 * Fills @out (clear it with pop3_response_clear ()). */
gboolean
pop3_proto_parse_response (const char *line, Pop3Response *out, GError **error);
void pop3_response_clear (Pop3Response *response);

/* ---- commands ------------------------------------------------------- */

/* RFC 1939 §3: keyword [SP argument...] ; keywords are case-insensitive.
 * *out_verb (transfer full) is the keyword in upper case; *out_argument
 * (transfer full) is everything after the first space, or NULL when
 * there is none. Errors: POP3_PROTO_ERROR_SYNTAX for an empty line, a
 * keyword that is not 3-4 letters, a leading space, or a NUL. */
gboolean pop3_proto_split_command (const char *line,
                                   char **out_verb,
                                   char **out_argument,
                                   GError **error);

/* RFC 1939 §3: a message number is a decimal integer >= 1, without sign
 * or spaces, and numbers are at most 10 digits. Errors:
 * POP3_PROTO_ERROR_SYNTAX (not a number), POP3_PROTO_ERROR_RANGE (0 or
 * over G_MAXUINT32). */
gboolean
pop3_proto_parse_number (const char *text, guint32 *out_number, GError **error);

/* One line of a LIST or UIDL listing, or the text of their single-line
 * form (RFC 1939 §5 "scan listing", §7 "unique-id listing"):
 *   msg-number SP rest
 * *out_rest (transfer full) is the size or the unique id. */
gboolean pop3_proto_parse_listing (const char *line,
                                   guint32 *out_number,
                                   char **out_rest,
                                   GError **error);

/* TRUE if a response with status @ok to command @verb is followed by a
 * multi-line body ended by "." (RFC 1939 §3): LIST and UIDL without
 * argument, RETR, TOP, CAPA. Never for -ERR; AUTH has none (its
 * continuations are single "+ " lines). @verb is case-insensitive. */
gboolean
pop3_proto_is_multiline (const char *verb, gboolean has_argument, gboolean ok);

G_END_DECLS
