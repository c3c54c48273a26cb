/* SPDX-License-Identifier: MIT
 * smtp-proto.h: the SMTP vocabulary and grammar, written once for the
 * server (mw-smtpd), the client library (mw-send, the relay) and the
 * tracer (RFC 5321 §4.1 commands, §4.2 replies, §4.5.3.1 limits; RFC 3463
 * and RFC 5248 enhanced status codes; RFC 2034; RFC 1870; RFC 3207;
 * RFC 4954; RFC 7504; RFC 3461 DSN parameters).
 *
 * Everything here is pure: strings in, values out, no I/O. Strings from the
 * peer are untrusted: every parser bounds what it accepts and says why it
 * refused through SMTP_PROTO_ERROR.
 */
#pragma once

#include <glib.h>

#include "mail-catalog.h"

G_BEGIN_DECLS

/* ---- reply codes (RFC 5321 §4.2.2, §4.2.3 and the extensions) ------- */

typedef enum
{
  /* 2yz positive completion */
  SMTP_REPLY_SYSTEM_STATUS = 211,  /* RFC 5321 §4.2.2 */
  SMTP_REPLY_HELP = 214,           /* RFC 5321 §4.2.2 */
  SMTP_REPLY_SERVICE_READY = 220,  /* greeting; also STARTTLS go-ahead */
  SMTP_REPLY_CLOSING = 221,        /* answer to QUIT */
  SMTP_REPLY_AUTH_SUCCEEDED = 235, /* RFC 4954 §6 */
  SMTP_REPLY_OK = 250,             /* requested action completed */
  SMTP_REPLY_USER_NOT_LOCAL_WILL_FORWARD = 251, /* RFC 5321 §3.4 */
  SMTP_REPLY_CANNOT_VERIFY = 252, /* VRFY without enumeration, §3.5.3 */
  /* 3yz positive intermediate */
  SMTP_REPLY_AUTH_CONTINUE = 334,    /* RFC 4954 §4: base64 challenge */
  SMTP_REPLY_START_MAIL_INPUT = 354, /* RFC 5321 §4.1.1.4 */
  /* 4yz transient negative */
  SMTP_REPLY_SERVICE_NOT_AVAILABLE = 421, /* closing the channel */
  SMTP_REPLY_PASSWORD_TRANSITION = 432,   /* RFC 4954 §6 */
  SMTP_REPLY_MAILBOX_BUSY = 450,
  SMTP_REPLY_LOCAL_ERROR = 451,
  SMTP_REPLY_INSUFFICIENT_STORAGE = 452,   /* also "too many recipients" */
  SMTP_REPLY_TEMPORARY_FAILURE = 454,      /* RFC 4954 §6 AUTH, RFC 3207 §4 */
  SMTP_REPLY_TLS_NOT_AVAILABLE = 454,      /* RFC 3207 §4, same number */
  SMTP_REPLY_PARAMETERS_UNAVAILABLE = 455, /* RFC 5321 §4.2.2 */
  /* 5yz permanent negative */
  SMTP_REPLY_SYNTAX_ERROR = 500, /* command unrecognized */
  SMTP_REPLY_PARAMETER_SYNTAX_ERROR = 501,
  SMTP_REPLY_NOT_IMPLEMENTED = 502,
  SMTP_REPLY_BAD_SEQUENCE = 503,
  SMTP_REPLY_PARAMETER_NOT_IMPLEMENTED = 504,
  SMTP_REPLY_NO_MAIL_SERVICE = 521,     /* RFC 7504 §3 */
  SMTP_REPLY_AUTH_REQUIRED = 530,       /* RFC 4954 §6 */
  SMTP_REPLY_AUTH_TOO_WEAK = 534,       /* RFC 4954 §6 */
  SMTP_REPLY_AUTH_INVALID = 535,        /* RFC 4954 §6 */
  SMTP_REPLY_ENCRYPTION_REQUIRED = 538, /* RFC 4954 §6 */
  SMTP_REPLY_MAILBOX_UNAVAILABLE = 550,
  SMTP_REPLY_USER_NOT_LOCAL = 551,
  SMTP_REPLY_EXCEEDED_STORAGE = 552, /* RFC 1870 §6 message too big */
  SMTP_REPLY_MAILBOX_NAME_NOT_ALLOWED = 553,
  SMTP_REPLY_TRANSACTION_FAILED = 554,
  SMTP_REPLY_PARAMETERS_NOT_RECOGNIZED = 555,
  SMTP_REPLY_DOMAIN_NO_MAIL = 556, /* RFC 7504 §3 */
} SmtpReplyCode;

/* RFC 5321 §4.2.1: the first digit says how the command went. These take
 * any 3-digit number, also codes not in the enum. */
gboolean smtp_reply_is_positive (guint code);     /* 2yz */
gboolean smtp_reply_is_intermediate (guint code); /* 3yz */
gboolean smtp_reply_is_transient (guint code);    /* 4yz: try again later */
gboolean smtp_reply_is_permanent (guint code);    /* 5yz: do not repeat */

/* ---- enhanced status codes (RFC 3463, RFC 2034, RFC 5248) ----------- */
/* The ones the server and the client name in code; the catalog holds all
 * of RFC 3463 §3 and the common ones of the RFC 5248 registry. */
#define SMTP_ENHANCED_OK "2.0.0"                  /* RFC 3463 §3.1 */
#define SMTP_ENHANCED_ADDRESS_OK "2.1.0"          /* RFC 3463 §3.2 */
#define SMTP_ENHANCED_DESTINATION_OK "2.1.5"      /* RFC 3463 §3.2 */
#define SMTP_ENHANCED_CONTENT_OK "2.6.0"          /* RFC 3463 §3.7 */
#define SMTP_ENHANCED_AUTH_OK "2.7.0"             /* RFC 4954 §6 */
#define SMTP_ENHANCED_SYSTEM_FULL "4.3.1"         /* RFC 3463 §3.4 */
#define SMTP_ENHANCED_SYSTEM_ERROR "4.3.0"        /* RFC 3463 §3.4 */
#define SMTP_ENHANCED_SHUTDOWN "4.3.2"            /* RFC 3463 §3.4 */
#define SMTP_ENHANCED_BAD_CONNECTION "4.4.2"      /* RFC 3463 §3.5 */
#define SMTP_ENHANCED_TOO_MANY_RECIPIENTS "4.5.3" /* RFC 3463 §3.6 */
#define SMTP_ENHANCED_TEMP_SECURITY "4.7.0"       /* RFC 3463 §3.8 */
#define SMTP_ENHANCED_BAD_MAILBOX "5.1.1"         /* RFC 3463 §3.2 */
#define SMTP_ENHANCED_BAD_DEST_SYNTAX "5.1.3"     /* RFC 3463 §3.2 */
#define SMTP_ENHANCED_BAD_SENDER "5.1.7"          /* RFC 3463 §3.2 */
#define SMTP_ENHANCED_MESSAGE_TOO_BIG "5.3.4"     /* RFC 3463 §3.4 */
#define SMTP_ENHANCED_INVALID_COMMAND "5.5.1"     /* RFC 3463 §3.6 */
#define SMTP_ENHANCED_SYNTAX_ERROR "5.5.2"        /* RFC 3463 §3.6 */
#define SMTP_ENHANCED_INVALID_ARGUMENTS "5.5.4"   /* RFC 3463 §3.6 */
#define SMTP_ENHANCED_LINE_TOO_LONG "5.5.6"       /* RFC 5248 registry */
#define SMTP_ENHANCED_BAD_CONTENT "5.6.0"         /* RFC 3463 §3.7 */
#define SMTP_ENHANCED_NON_ASCII_ADDRESS "5.6.7"   /* RFC 6531 §3.7.4 */
#define SMTP_ENHANCED_SECURITY "5.7.0"            /* RFC 3463 §3.8 */
#define SMTP_ENHANCED_NOT_AUTHORIZED "5.7.1"      /* RFC 3463 §3.8 */
#define SMTP_ENHANCED_AUTH_INVALID "5.7.8"        /* RFC 4954 §6 */
#define SMTP_ENHANCED_ENCRYPTION_NEEDED "5.7.11"  /* RFC 5248, RFC 4954 */

/* ---- limits (RFC 5321 §4.5.3.1) -------------------------------------- */
#define SMTP_MAX_LOCAL_PART 64  /* §4.5.3.1.1 */
#define SMTP_MAX_DOMAIN 255     /* §4.5.3.1.2 */
#define SMTP_MAX_PATH 256       /* §4.5.3.1.3, angle brackets included */
#define SMTP_MIN_RECIPIENTS 100 /* §4.5.3.1.8: must accept at least */

/* ---- the catalog ----------------------------------------------------- */

/* Tables ended by a { NULL } row, for listings (labs, slides, tests). */
extern const MailCatalogEntry smtp_proto_commands[];
extern const MailCatalogEntry smtp_proto_replies[];
extern const MailCatalogEntry smtp_proto_enhanced_codes[];
extern const MailCatalogEntry smtp_proto_extensions[];
/* MAIL and RCPT parameters (esmtp-keyword, RFC 5321 §4.1.2): "NOTIFY"
 * explained as "RCPT: when to send a delivery status notification ...". */
extern const MailCatalogEntry smtp_proto_parameters[];

/* Lookups, case-insensitive; NULL if unknown. (transfer none) */
const MailCatalogEntry *smtp_proto_command_info (const char *verb);
const MailCatalogEntry *smtp_proto_reply_info (guint code);
/* "5.7.1"; falls back to the class entry ("5.0.0") for an unknown
 * subject.detail of a known class. */
const MailCatalogEntry *smtp_proto_enhanced_info (const char *code);
const MailCatalogEntry *smtp_proto_extension_info (const char *keyword);
const MailCatalogEntry *smtp_proto_parameter_info (const char *keyword);

/* One line of explanation for --trace and mw-trace:
 *   "requested action completed (RFC 5321 §4.2.2); 2.1.5 destination
 *    address valid (RFC 3463 §3.2)"
 * @enhanced and @text may be NULL; when @enhanced is NULL it is looked for
 * at the start of @text. NULL if the code is unknown (transfer full). */
char *
smtp_proto_describe_reply (guint code, const char *enhanced, const char *text);

/* ---- grammar ---------------------------------------------------------- */

#define SMTP_PROTO_ERROR (smtp_proto_error_quark ())
typedef enum
{
  SMTP_PROTO_ERROR_SYNTAX,    /* not the grammar: 501 5.5.4 (5.1.3 paths) */
  SMTP_PROTO_ERROR_TOO_LONG,  /* over a §4.5.3.1 limit: 501 5.1.3 */
  SMTP_PROTO_ERROR_PARAMETER, /* bad esmtp-param: 501 5.5.4 */
} SmtpProtoError;
GQuark smtp_proto_error_quark (void);

/* RFC 5321 §4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *                             Reply-code [ SP textstring ] CRLF
 * Strict: exactly three digits (2-5, 0-5, 0-9), then "-", " " or the end.
 * *out_text points into @line (transfer none), "" when there is none.
 * Returns FALSE for anything else. */
gboolean smtp_proto_parse_reply_line (const char *line,
                                      guint *out_code,
                                      gboolean *out_is_last,
                                      const char **out_text);
/* RFC 2034 §4: status-code SP text at the start of a reply text:
 * class "." subject "." detail (class 2, 4 or 5; 1-3 digits each).
 * *out_code (transfer full) e.g. "5.7.1"; *out_rest points into @text
 * after the code and its space. FALSE (outputs untouched) if absent. */
gboolean smtp_proto_split_enhanced (const char *text,
                                    char **out_code,
                                    const char **out_rest);

/* RFC 5321 §4.1.1: a command is a verb, then optionally SP and arguments.
 * *out_verb (transfer full) is the first word in upper case (verbs are
 * case-insensitive, §2.4); *out_arguments points into @line after the
 * spaces that follow the verb ("" if none). FALSE for an empty line or a
 * verb with characters other than letters (then nothing is set). */
gboolean smtp_proto_split_command (const char *line,
                                   char **out_verb,
                                   const char **out_arguments);

/* RFC 3030 §2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ]
 * chunk-size = 1*DIGIT, end-marker = "LAST" (case-insensitive, as every
 * SMTP keyword). @arguments is what follows the verb. FALSE for anything
 * else, a size past 2^64-1 included: then the caller cannot know how many
 * octets follow. */
gboolean smtp_proto_parse_bdat (const char *arguments,
                                guint64 *out_size,
                                gboolean *out_last);

/* RFC 1869 §4.1.1 / RFC 5321 §4.1.2: esmtp-keyword ["=" esmtp-value] */
typedef struct
{
  char *keyword; /* upper case, e.g. "SIZE" */
  char *value;   /* NULL when the parameter has no "=" */
} SmtpParameter;

typedef enum
{
  SMTP_PATH_REVERSE, /* MAIL FROM: Reverse-path, "<>" allowed */
  SMTP_PATH_FORWARD, /* RCPT TO: Forward-path, "<Postmaster>" allowed */
} SmtpPathKind;

/* A parsed MAIL FROM or RCPT TO argument (RFC 5321 §4.1.2). */
typedef struct
{
  char *mailbox;      /* "local@domain" as sent, source route dropped;
                       * "" for the null path <>, "Postmaster" alone */
  char *local_part;   /* as sent, quotes kept: "\"john doe\"" */
  char *domain;       /* "example.org" or "[127.0.0.1]"; NULL for <> and
                       * the bare <Postmaster> */
  GArray *parameters; /* of SmtpParameter, in order */
  gboolean utf8;      /* holds non-ASCII (valid UTF-8): allowed only with
                       * SMTPUTF8 (RFC 6531 §3.3, §3.4) */
} SmtpPath;

void smtp_path_free (SmtpPath *path);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmtpPath, smtp_path_free)

/* Parses the arguments of MAIL ("FROM:<a@b> SIZE=10") or RCPT
 * ("TO:<c@d>"), the "FROM:"/"TO:" prefix included, case-insensitive:
 *   "FROM:" Reverse-path [SP Mail-parameters]   (§4.1.1.2)
 *   "TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path )
 *         [SP Rcpt-parameters]                   (§4.1.1.3)
 * A source route ("<@a,@b:user@c>") is accepted and ignored (§4.1.1.3,
 * Appendix C). Spaces between the colon and "<" are tolerated, as most
 * servers do, because some old clients send them. Quoted local parts keep
 * their quotes; domains may be address literals ("[127.0.0.1]",
 * "[IPv6:::1]"). Enforces the lengths of §4.5.3.1.1-3. UTF-8 local parts
 * and domains (RFC 6531 §3.3) are parsed and flagged in path->utf8; it is
 * the caller's to refuse them without SMTPUTF8.
 * (transfer full) NULL with SMTP_PROTO_ERROR on failure. */
SmtpPath *smtp_proto_parse_path (const char *arguments,
                                 SmtpPathKind kind,
                                 GError **error);
/* TRUE if @path carries @keyword (case-insensitive); *out_value
 * (optional, transfer none) is its value or NULL. */
gboolean smtp_path_get_parameter (const SmtpPath *path,
                                  const char *keyword,
                                  const char **out_value);

/* ---- DSN parameters (RFC 3461 §4) ------------------------------------ */
/* Grammar in smtp-proto-dsn.c. Values are checked where they are parsed,
 * so the session, the queue and the client hold them decoded. */

/* RFC 3461 §4.1: NOTIFY="NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ).
 * SMTP_DSN_NOTIFY_DEFAULT is "no NOTIFY given": FAILURE, and DELAY at
 * our discretion (we send it), §4.1. */
typedef enum
{
  SMTP_DSN_NOTIFY_DEFAULT = 0,
  SMTP_DSN_NOTIFY_NEVER = 1 << 0,
  SMTP_DSN_NOTIFY_SUCCESS = 1 << 1,
  SMTP_DSN_NOTIFY_FAILURE = 1 << 2,
  SMTP_DSN_NOTIFY_DELAY = 1 << 3,
} SmtpDsnNotify;

/* RFC 3461 §4.3: RET="FULL" / "HDRS"; DEFAULT when MAIL had none. */
typedef enum
{
  SMTP_DSN_RET_DEFAULT = 0,
  SMTP_DSN_RET_FULL,
  SMTP_DSN_RET_HDRS,
} SmtpDsnRet;

#define SMTP_DSN_MAX_ENVID 100 /* RFC 3461 §4.4, decoded */
#define SMTP_DSN_MAX_ORCPT 500 /* RFC 3461 §4.2, address-type included */

/* One recipient's DSN request (RCPT NOTIFY= and ORCPT=). */
typedef struct
{
  SmtpDsnNotify notify;
  char *orcpt_type; /* "rfc822", "utf-8"...; NULL without ORCPT */
  char *orcpt;      /* the original address, decoded from xtext */
} SmtpDsnRecipient;

void smtp_dsn_recipient_free (SmtpDsnRecipient *recipient);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmtpDsnRecipient, smtp_dsn_recipient_free)
/* (transfer full) a copy; @recipient may be NULL (then the default). */
SmtpDsnRecipient *smtp_dsn_recipient_copy (const SmtpDsnRecipient *recipient);

/* A transaction's DSN request (MAIL RET= and ENVID=) and its recipients'
 * (of SmtpDsnRecipient, one per recipient in order; NULL or shorter:
 * the rest asked nothing). */
typedef struct
{
  SmtpDsnRet ret;
  char *envid; /* decoded; NULL without ENVID */
  GPtrArray *recipients;
} SmtpDsnEnvelope;

/* Frees what @envelope holds and zeroes it (it is often embedded). */
void smtp_dsn_envelope_clear (SmtpDsnEnvelope *envelope);
/* (transfer none) recipient @index of @envelope, or NULL (the default). */
const SmtpDsnRecipient *
smtp_dsn_envelope_recipient (const SmtpDsnEnvelope *envelope, guint index);

/* RFC 3461 §4: xtext = *( xchar / hexchar ), xchar = "!".."~" except "+"
 * and "=", hexchar = "+" 2(upper-case HEXDIG). Decoded (transfer full),
 * or NULL with SMTP_PROTO_ERROR_PARAMETER. */
char *smtp_proto_xtext_decode (const char *xtext, GError **error);
/* The xtext of @text (transfer full): "+" "=", controls, space and
 * octets past 126 as "+HH". */
char *smtp_proto_xtext_encode (const char *text);

/* The DSN parameters of MAIL (RET, ENVID) in @path. Others are left to
 * the caller. A bad value or a second RET or ENVID (§4: each at most
 * once) fails with SMTP_PROTO_ERROR_PARAMETER: 501 5.5.4. *out_envid
 * (transfer full) NULL when absent. */
gboolean smtp_proto_parse_dsn_mail (const SmtpPath *path,
                                    SmtpDsnRet *out_ret,
                                    char **out_envid,
                                    GError **error);
/* The DSN parameters of RCPT (NOTIFY, ORCPT) in @path, the same way.
 * ORCPT=addr-type ";" xtext (§4.2); with addr-type "utf-8" the value is
 * RFC 6533 §3 utf-8-addr-xtext ("\x{HEX}" for a code point) or
 * utf-8-addr-unitext (UTF-8 as it is). (transfer full) */
SmtpDsnRecipient *smtp_proto_parse_dsn_rcpt (const SmtpPath *path,
                                             GError **error);
/* "SUCCESS,FAILURE" / "NEVER"; NULL for SMTP_DSN_NOTIFY_DEFAULT
 * (transfer full). */
char *smtp_dsn_notify_to_string (SmtpDsnNotify notify);
/* The inverse, for the queue's envelope: DEFAULT for NULL or junk. */
SmtpDsnNotify smtp_dsn_notify_from_string (const char *text);
/* " ORCPT=rfc822;b+2Bx@y" in xtext (utf-8: RFC 6533 utf-8-addr-xtext),
 * for RCPT; "" without ORCPT (transfer full). */
char *smtp_dsn_recipient_format_orcpt (const SmtpDsnRecipient *recipient);
/* Does @recipient want a notice of this kind? DEFAULT means FAILURE and
 * DELAY (RFC 3461 §4.1), NEVER none. */
gboolean smtp_dsn_wants (const SmtpDsnRecipient *recipient, SmtpDsnNotify kind);

/* An EHLO reply line after the first: ehlo-keyword *( SP ehlo-param )
 * (RFC 5321 §4.1.1.1). *out_keyword (transfer full) in upper case;
 * *out_params points into @text ("" if none). FALSE if not a keyword. */
gboolean smtp_proto_parse_ehlo_line (const char *text,
                                     char **out_keyword,
                                     const char **out_params);

/* Appends a reply to @out in wire form (RFC 5321 §4.2.1): every line but
 * the last as "CODE-", the last as "CODE ", each with the enhanced code
 * (RFC 2034 §3) when @enhanced is not NULL, each ending in CRLF. @lines
 * is NULL-terminated and holds at least one line. Lines must not hold CR
 * or LF (checked with g_return_if_fail). */
void smtp_proto_format_reply (GString *out,
                              guint code,
                              const char *enhanced,
                              const char *const *lines);

G_END_DECLS
