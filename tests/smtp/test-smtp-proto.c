/* SPDX-License-Identifier: MIT
 * test-smtp-proto.c: the SMTP grammar and catalog of smtp-proto.c (RFC 5321
 * §4.1.2 paths, §4.2 replies; RFC 3463 enhanced codes), as case tables.
 */
#include "smtp-proto.h"

/* ---- reply lines (RFC 5321 §4.2) --------------------------------------- */

typedef struct
{
  const char *line;
  gboolean valid;
  guint code;
  gboolean is_last;
  const char *text;
} ReplyCase;

static const ReplyCase reply_cases[] = {
  /* VALID */
  { "250 OK", TRUE, 250, TRUE, "OK" },
  { "250-SIZE 1000", TRUE, 250, FALSE, "SIZE 1000" },
  { "354", TRUE, 354, TRUE, "" },
  { "220 ", TRUE, 220, TRUE, "" },
  { "250-", TRUE, 250, FALSE, "" },
  { "554 5.6.0 refused", TRUE, 554, TRUE, "5.6.0 refused" },
  /* INVALID */
  { "", FALSE },
  { "25 OK", FALSE },
  { "2500 OK", FALSE },
  { "250_OK", FALSE },
  { "650 nope", FALSE },
  { "160 nope", FALSE },
  { "260 second digit over 5", FALSE },
  { "25a x", FALSE },
  { "+OK pop3", FALSE },
};

static void
test_reply_line (gconstpointer data)
{
  const ReplyCase *c = data;
  guint code = 0;
  gboolean is_last = FALSE;
  const char *text = NULL;
  gboolean ok = smtp_proto_parse_reply_line (c->line, &code, &is_last, &text);

  g_assert_cmpint (ok, ==, c->valid);
  if (!c->valid)
    return;
  g_assert_cmpuint (code, ==, c->code);
  g_assert_cmpint (is_last, ==, c->is_last);
  g_assert_cmpstr (text, ==, c->text);
}

/* ---- enhanced codes (RFC 3463 §2, RFC 2034 §4) ------------------------- */

typedef struct
{
  const char *text;
  const char *code; /* NULL: no code */
  const char *rest;
} EnhancedCase;

static const EnhancedCase enhanced_cases[] = {
  /* VALID */
  { "5.7.1 relaying denied", "5.7.1", "relaying denied" },
  { "2.0.0", "2.0.0", "" },
  { "5.7.11 encryption", "5.7.11", "encryption" },
  { "4.123.456 x", "4.123.456", "x" },
  /* INVALID */
  { "3.0.0 no such class", NULL },
  { "5.7 short", NULL },
  { "5.1234.1 long", NULL },
  { "5.7.1x", NULL },
  { "OK", NULL },
  { "", NULL },
};

static void
test_enhanced (gconstpointer data)
{
  const EnhancedCase *c = data;
  g_autofree char *code = NULL;
  const char *rest = NULL;
  gboolean ok = smtp_proto_split_enhanced (c->text, &code, &rest);

  g_assert_cmpint (ok, ==, c->code != NULL);
  g_assert_cmpstr (code, ==, c->code);
  if (ok)
    g_assert_cmpstr (rest, ==, c->rest);
}

/* ---- commands (RFC 5321 §4.1.1) ---------------------------------------- */

typedef struct
{
  const char *line;
  const char *verb; /* NULL: refused */
  const char *arguments;
} CommandCase;

static const CommandCase command_cases[] = {
  /* VALID */
  { "MAIL FROM:<a@b.example>", "MAIL", "FROM:<a@b.example>" },
  { "ehlo client.example", "EHLO", "client.example" },
  { "QUIT", "QUIT", "" },
  { "StartTLS", "STARTTLS", "" },
  /* RECOVERABLE: extra spaces after the verb */
  { "RCPT  TO:<x@y.example>", "RCPT", "TO:<x@y.example>" },
  { "DATA ", "DATA", "" },
  /* INVALID */
  { "", NULL },
  { " MAIL FROM:<a@b>", NULL },
  { "MA1L FROM:<a@b>", NULL },
  { "MAIL:FROM", NULL },
};

static void
test_command (gconstpointer data)
{
  const CommandCase *c = data;
  g_autofree char *verb = NULL;
  const char *arguments = NULL;
  gboolean ok = smtp_proto_split_command (c->line, &verb, &arguments);

  g_assert_cmpint (ok, ==, c->verb != NULL);
  g_assert_cmpstr (verb, ==, c->verb);
  if (ok)
    g_assert_cmpstr (arguments, ==, c->arguments);
}

/* ---- paths (RFC 5321 §4.1.2, §4.5.3.1) --------------------------------- */

#define NO_ERROR -1

typedef struct
{
  SmtpPathKind kind;
  const char *arguments;
  int error; /* SmtpProtoError or NO_ERROR */
  const char *mailbox;
  const char *local_part;
  const char *domain;
  guint parameters;
  gboolean utf8; /* RFC 6531: the path holds UTF-8 */
} PathCase;

#define LOCAL64                                                                \
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LABEL63                                                                \
  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DOMAIN255 LABEL63 "." LABEL63 "." LABEL63 "." LABEL63
#define FROM SMTP_PATH_REVERSE
#define TO SMTP_PATH_FORWARD

static const PathCase path_cases[] = {
  /* VALID */
  { FROM, "FROM:<alice@example.test>", NO_ERROR, "alice@example.test", "alice",
    "example.test", 0 },
  { FROM, "from:<Alice@Example.Test>", NO_ERROR, "Alice@Example.Test", "Alice",
    "Example.Test", 0 },
  { FROM, "FROM:<>", NO_ERROR, "", NULL, NULL, 0 },
  { FROM, "FROM:<> SIZE=100 BODY=8BITMIME", NO_ERROR, "", NULL, NULL, 2 },
  { FROM, "FROM:<a.b+tag@sub-domain.example.org>", NO_ERROR,
    "a.b+tag@sub-domain.example.org", "a.b+tag", "sub-domain.example.org", 0 },
  { FROM, "FROM:<a@b.example> AUTH=<>", NO_ERROR, "a@b.example", "a",
    "b.example", 1 },
  { TO, "TO:<@relay.example,@r2.example:bob@example.test>", NO_ERROR,
    "bob@example.test", "bob", "example.test", 0 },
  { TO, "TO:<\"john doe\"@example.test>", NO_ERROR, "\"john doe\"@example.test",
    "\"john doe\"", "example.test", 0 },
  { TO, "TO:<\"a\\\"b\"@x.test>", NO_ERROR, "\"a\\\"b\"@x.test", "\"a\\\"b\"",
    "x.test", 0 },
  { TO, "TO:<Postmaster>", NO_ERROR, "Postmaster", "Postmaster", NULL, 0 },
  { TO, "TO:<postmaster@example.test>", NO_ERROR, "postmaster@example.test",
    "postmaster", "example.test", 0 },
  { TO, "TO:<user@[127.0.0.1]>", NO_ERROR, "user@[127.0.0.1]", "user",
    "[127.0.0.1]", 0 },
  { TO, "TO:<user@[IPv6:::1]>", NO_ERROR, "user@[IPv6:::1]", "user",
    "[IPv6:::1]", 0 },
  { FROM, "FROM:<" LOCAL64 "@x.test>", NO_ERROR, LOCAL64 "@x.test", LOCAL64,
    "x.test", 0 },
  /* VALID with SMTPUTF8 only (RFC 6531 §3.3): flagged as UTF-8 */
  { FROM,
    "FROM:<j\xc3\xb6"
    "e@c.example> SMTPUTF8",
    NO_ERROR,
    "j\xc3\xb6"
    "e@c.example",
    "j\xc3\xb6"
    "e",
    "c.example", 1, TRUE },
  { TO,
    "TO:<\"j\xc3\xb6"
    " e\"@x.test>",
    NO_ERROR,
    "\"j\xc3\xb6"
    " e\"@x.test",
    "\"j\xc3\xb6"
    " e\"",
    "x.test", 0, TRUE },
  { TO,
    "TO:<user@b\xc3\xbc"
    "cher.example>",
    NO_ERROR,
    "user@b\xc3\xbc"
    "cher.example",
    "user",
    "b\xc3\xbc"
    "cher.example",
    0, TRUE },
  /* RECOVERABLE: spaces old clients put after the colon and at the end */
  { FROM, "FROM: <a@b.example>", NO_ERROR, "a@b.example", "a", "b.example", 0 },
  { TO, "TO:<a@b.example>  ", NO_ERROR, "a@b.example", "a", "b.example", 0 },
  /* INVALID */
  { FROM, "FROM:a@b.example", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM<a@b.example>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "TO:<a@b.example>", SMTP_PROTO_ERROR_SYNTAX },
  { TO, "TO:<>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<a@b.example", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<a@>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<@b.example>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<a>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<a..b@c.example>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<.a@c.example>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<a@-b.example>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<a@b-.example>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<a@b..example>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<a@[300.1.1.1]>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<a@[127.0.0.1>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<a b@c.example>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<\"open@c.example>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<j\xc3\xb6@c.example>\xc3", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<j\xc3(@c.example>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<j\xff@c.example>", SMTP_PROTO_ERROR_SYNTAX },
  { TO, "TO:<a@b\xc3\xbc-.example>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<a@b.example>x", SMTP_PROTO_ERROR_SYNTAX },
  { TO, "TO:<@relay.example:>", SMTP_PROTO_ERROR_SYNTAX },
  { TO, "TO:<@relay.example bob@x.test>", SMTP_PROTO_ERROR_SYNTAX },
  { FROM, "FROM:<a@b.example> SIZE=", SMTP_PROTO_ERROR_PARAMETER },
  { FROM, "FROM:<a@b.example> =x", SMTP_PROTO_ERROR_PARAMETER },
  { FROM, "FROM:<a@b.example> SIZE=1=2", SMTP_PROTO_ERROR_PARAMETER },
  { FROM, "FROM:<a" LOCAL64 "@x.test>", SMTP_PROTO_ERROR_TOO_LONG },
  { FROM, "FROM:<a@" DOMAIN255 "c>", SMTP_PROTO_ERROR_TOO_LONG },
  { FROM, "FROM:<" LOCAL64 "@" LABEL63 "." LABEL63 "." LABEL63 ">",
    SMTP_PROTO_ERROR_TOO_LONG },
};

static void
test_path (gconstpointer data)
{
  const PathCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (SmtpPath) path =
      smtp_proto_parse_path (c->arguments, c->kind, &error);

  if (c->error != NO_ERROR)
    {
      g_assert_error (error, SMTP_PROTO_ERROR, c->error);
      g_assert_null (path);
      return;
    }
  g_assert_no_error (error);
  g_assert_nonnull (path);
  g_assert_cmpstr (path->mailbox, ==, c->mailbox);
  g_assert_cmpstr (path->local_part, ==, c->local_part);
  g_assert_cmpstr (path->domain, ==, c->domain);
  g_assert_cmpuint (path->parameters->len, ==, c->parameters);
  g_assert_cmpint (path->utf8, ==, c->utf8);
}

static void
test_path_parameters (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SmtpPath) path = smtp_proto_parse_path (
      "FROM:<a@b.example> size=1234 BODY=8BITMIME SMTPUTF8", SMTP_PATH_REVERSE,
      &error);
  const char *value = NULL;

  g_assert_no_error (error);
  g_assert_true (smtp_path_get_parameter (path, "SIZE", &value));
  g_assert_cmpstr (value, ==, "1234");
  g_assert_true (smtp_path_get_parameter (path, "body", &value));
  g_assert_cmpstr (value, ==, "8BITMIME");
  /* A keyword without "=" has no value. */
  g_assert_true (smtp_path_get_parameter (path, "SMTPUTF8", &value));
  g_assert_null (value);
  g_assert_false (smtp_path_get_parameter (path, "RET", NULL));
}

/* ---- EHLO lines (RFC 5321 §4.1.1.1) ------------------------------------- */

static void
test_ehlo_line (void)
{
  static const struct
  {
    const char *text, *keyword, *params;
  } cases[] = {
    { "SIZE 10485760", "SIZE", "10485760" },
    { "pipelining", "PIPELINING", "" },
    { "AUTH PLAIN LOGIN", "AUTH", "PLAIN LOGIN" },
    { "AUTH=LOGIN", "AUTH", "LOGIN" }, /* RECOVERABLE: old spelling */
    { "8BITMIME", "8BITMIME", "" },
    { "-BAD", NULL, NULL }, /* INVALID */
    { "", NULL, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *keyword = NULL;
      const char *params = NULL;
      gboolean ok =
          smtp_proto_parse_ehlo_line (cases[i].text, &keyword, &params);

      g_assert_cmpint (ok, ==, cases[i].keyword != NULL);
      g_assert_cmpstr (keyword, ==, cases[i].keyword);
      g_assert_cmpstr (params, ==, cases[i].params);
    }
}

/* ---- BDAT arguments (RFC 3030 §2) ---------------------------------------- */

static void
test_bdat (void)
{
  static const struct
  {
    const char *arguments;
    gboolean ok;
    guint64 size;
    gboolean last;
  } cases[] = {
    { "1024", TRUE, 1024, FALSE },
    { "0 LAST", TRUE, 0, TRUE },
    { "42 last", TRUE, 42, TRUE }, /* keywords are case-insensitive */
    { "18446744073709551615 LAST", TRUE, G_MAXUINT64, TRUE },
    { "18446744073709551616", FALSE }, /* past 2^64-1 */
    { "", FALSE },
    { "LAST", FALSE },
    { "-1", FALSE },
    { "12 LAST x", FALSE },
    { "12 FIRST", FALSE },
    { "12  LAST", FALSE },
    { "12x", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint64 size = 7;
      gboolean last = FALSE;
      gboolean ok = smtp_proto_parse_bdat (cases[i].arguments, &size, &last);

      g_assert_cmpint (ok, ==, cases[i].ok);
      if (!ok)
        continue;
      g_assert_cmpuint (size, ==, cases[i].size);
      g_assert_cmpint (last, ==, cases[i].last);
    }
}

/* ---- reply formatting (RFC 5321 §4.2.1, RFC 2034 §3) ------------------- */

static void
test_format_reply (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  const char *const one[] = { "OK", NULL };
  const char *const many[] = { "mx greets you", "PIPELINING", "SIZE 10", NULL };
  const char *const empty[] = { "", NULL };

  smtp_proto_format_reply (out, SMTP_REPLY_OK, SMTP_ENHANCED_OK, one);
  g_assert_cmpstr (out->str, ==, "250 2.0.0 OK\r\n");
  g_string_truncate (out, 0);
  smtp_proto_format_reply (out, SMTP_REPLY_OK, NULL, many);
  g_assert_cmpstr (out->str, ==,
                   "250-mx greets you\r\n250-PIPELINING\r\n250 SIZE 10\r\n");
  g_string_truncate (out, 0);
  smtp_proto_format_reply (out, SMTP_REPLY_HELP, "2.0.0", many);
  g_assert_cmpstr (out->str, ==,
                   "214-2.0.0 mx greets you\r\n214-2.0.0 PIPELINING\r\n"
                   "214 2.0.0 SIZE 10\r\n");
  g_string_truncate (out, 0);
  smtp_proto_format_reply (out, SMTP_REPLY_AUTH_CONTINUE, NULL, empty);
  g_assert_cmpstr (out->str, ==, "334\r\n");
}

/* Every formatted reply parses back to what was formatted. */
static void
test_format_parses_back (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  const char *const lines[] = { "first", "second", NULL };
  g_auto (GStrv) split = NULL;
  guint code = 0;
  gboolean is_last = FALSE;
  const char *text = NULL;

  smtp_proto_format_reply (out, SMTP_REPLY_MAILBOX_UNAVAILABLE, "5.1.1", lines);
  split = g_strsplit (out->str, "\r\n", -1);
  g_assert_cmpuint (g_strv_length (split), ==, 3);
  g_assert_true (
      smtp_proto_parse_reply_line (split[0], &code, &is_last, &text));
  g_assert_cmpuint (code, ==, 550);
  g_assert_false (is_last);
  g_assert_cmpstr (text, ==, "5.1.1 first");
  g_assert_true (
      smtp_proto_parse_reply_line (split[1], &code, &is_last, &text));
  g_assert_true (is_last);
  g_assert_cmpstr (text, ==, "5.1.1 second");
}

/* ---- classes and catalog ------------------------------------------------ */

static void
test_classes (void)
{
  /* RFC 5321 §4.2.1 */
  g_assert_true (smtp_reply_is_positive (SMTP_REPLY_OK));
  g_assert_true (smtp_reply_is_positive (SMTP_REPLY_CANNOT_VERIFY));
  g_assert_false (smtp_reply_is_positive (SMTP_REPLY_START_MAIL_INPUT));
  g_assert_true (smtp_reply_is_intermediate (SMTP_REPLY_START_MAIL_INPUT));
  g_assert_true (smtp_reply_is_intermediate (SMTP_REPLY_AUTH_CONTINUE));
  g_assert_true (smtp_reply_is_transient (SMTP_REPLY_LOCAL_ERROR));
  g_assert_false (smtp_reply_is_permanent (SMTP_REPLY_LOCAL_ERROR));
  g_assert_true (smtp_reply_is_permanent (SMTP_REPLY_MAILBOX_UNAVAILABLE));
  g_assert_false (smtp_reply_is_transient (599));
  g_assert_false (smtp_reply_is_positive (199));
}

/* Every named code has a meaning and an RFC section in the catalog. */
static void
test_catalog_replies (void)
{
  static const SmtpReplyCode codes[] = {
    SMTP_REPLY_SYSTEM_STATUS,
    SMTP_REPLY_HELP,
    SMTP_REPLY_SERVICE_READY,
    SMTP_REPLY_CLOSING,
    SMTP_REPLY_AUTH_SUCCEEDED,
    SMTP_REPLY_OK,
    SMTP_REPLY_USER_NOT_LOCAL_WILL_FORWARD,
    SMTP_REPLY_CANNOT_VERIFY,
    SMTP_REPLY_AUTH_CONTINUE,
    SMTP_REPLY_START_MAIL_INPUT,
    SMTP_REPLY_SERVICE_NOT_AVAILABLE,
    SMTP_REPLY_PASSWORD_TRANSITION,
    SMTP_REPLY_MAILBOX_BUSY,
    SMTP_REPLY_LOCAL_ERROR,
    SMTP_REPLY_INSUFFICIENT_STORAGE,
    SMTP_REPLY_TEMPORARY_FAILURE,
    SMTP_REPLY_TLS_NOT_AVAILABLE,
    SMTP_REPLY_PARAMETERS_UNAVAILABLE,
    SMTP_REPLY_SYNTAX_ERROR,
    SMTP_REPLY_PARAMETER_SYNTAX_ERROR,
    SMTP_REPLY_NOT_IMPLEMENTED,
    SMTP_REPLY_BAD_SEQUENCE,
    SMTP_REPLY_PARAMETER_NOT_IMPLEMENTED,
    SMTP_REPLY_NO_MAIL_SERVICE,
    SMTP_REPLY_AUTH_REQUIRED,
    SMTP_REPLY_AUTH_TOO_WEAK,
    SMTP_REPLY_AUTH_INVALID,
    SMTP_REPLY_ENCRYPTION_REQUIRED,
    SMTP_REPLY_MAILBOX_UNAVAILABLE,
    SMTP_REPLY_USER_NOT_LOCAL,
    SMTP_REPLY_EXCEEDED_STORAGE,
    SMTP_REPLY_MAILBOX_NAME_NOT_ALLOWED,
    SMTP_REPLY_TRANSACTION_FAILED,
    SMTP_REPLY_PARAMETERS_NOT_RECOGNIZED,
    SMTP_REPLY_DOMAIN_NO_MAIL,
  };

  for (guint i = 0; i < G_N_ELEMENTS (codes); i++)
    {
      const MailCatalogEntry *entry = smtp_proto_reply_info (codes[i]);

      g_assert_nonnull (entry);
      g_assert_cmpstr (entry->meaning, !=, "");
      g_assert_true (g_str_has_prefix (entry->rfc, "RFC "));
    }
  g_assert_cmpstr (smtp_proto_reply_info (354)->meaning, ==,
                   "start mail input; end with <CRLF>.<CRLF>");
  g_assert_cmpstr (smtp_proto_reply_info (354)->rfc, ==, "RFC 5321 §4.1.1.4");
  g_assert_null (smtp_proto_reply_info (299));
}

static void
test_catalog_lookups (void)
{
  const char *const verbs[] = { "EHLO", "helo", "MAIL", "RCPT",
                                "DATA", "RSET", "NOOP", "QUIT",
                                "VRFY", "EXPN", "HELP", "STARTTLS",
                                "AUTH", "BDAT", "ETRN", NULL };
  const char *const keywords[] = { "PIPELINING", "SIZE",
                                   "8BITMIME",   "ENHANCEDSTATUSCODES",
                                   "STARTTLS",   "AUTH",
                                   "SMTPUTF8",   "CHUNKING",
                                   "DSN",        NULL };
  const char *const codes[] = { "2.0.0",  "2.1.0", "2.1.5", "2.6.0", "4.2.2",
                                "4.3.0",  "4.4.1", "4.4.2", "4.7.0", "5.1.1",
                                "5.1.3",  "5.2.2", "5.3.4", "5.5.1", "5.5.2",
                                "5.5.4",  "5.6.0", "5.7.0", "5.7.1", "5.7.8",
                                "5.7.11", NULL };

  for (guint i = 0; verbs[i] != NULL; i++)
    g_assert_nonnull (smtp_proto_command_info (verbs[i]));
  for (guint i = 0; keywords[i] != NULL; i++)
    g_assert_nonnull (smtp_proto_extension_info (keywords[i]));
  for (guint i = 0; codes[i] != NULL; i++)
    g_assert_nonnull (smtp_proto_enhanced_info (codes[i]));
  g_assert_null (smtp_proto_command_info ("FROB"));
  g_assert_cmpstr (smtp_proto_enhanced_info ("5.7.1")->meaning, ==,
                   "delivery not authorized, message refused");
  /* An unknown detail falls back to its class (RFC 3463 §3.1). */
  g_assert_cmpstr (smtp_proto_enhanced_info ("4.9.99")->name, ==, "4.X.X");
  g_assert_null (smtp_proto_enhanced_info ("9.9.9"));
}

static void
test_describe_reply (void)
{
  g_autofree char *plain = smtp_proto_describe_reply (354, NULL, "go on");
  g_autofree char *found =
      smtp_proto_describe_reply (550, NULL, "5.7.1 relaying denied");
  g_autofree char *given = smtp_proto_describe_reply (250, "2.1.5", NULL);

  g_assert_cmpstr (plain, ==,
                   "start mail input; end with <CRLF>.<CRLF> "
                   "(RFC 5321 §4.1.1.4)");
  g_assert_cmpstr (found, ==,
                   "mailbox unavailable (not found, no access, or policy) "
                   "(RFC 5321 §4.2.2); 5.7.1 delivery not authorized, "
                   "message refused (RFC 3463 §3.8)");
  g_assert_true (g_str_has_suffix (given, "2.1.5 destination address valid "
                                          "(RFC 3463 §3.2)"));
  g_assert_null (smtp_proto_describe_reply (299, NULL, NULL));
}

/* ---- DSN parameters (RFC 3461 §4) -------------------------------------- */

typedef struct
{
  const char *arguments;
  gboolean valid;
  SmtpDsnRet ret;
  const char *envid;
} DsnMailCase;

#define ENVID100                                                               \
  "0123456789012345678901234567890123456789012345678901234567890123456789"     \
  "012345678901234567890123456789"

static const DsnMailCase dsn_mail_cases[] = {
  /* VALID */
  { "FROM:<a@b.test>", TRUE, SMTP_DSN_RET_DEFAULT, NULL },
  { "FROM:<a@b.test> RET=FULL", TRUE, SMTP_DSN_RET_FULL, NULL },
  { "FROM:<a@b.test> ret=hdrs", TRUE, SMTP_DSN_RET_HDRS, NULL },
  { "FROM:<a@b.test> RET=HDRS ENVID=QQ314159", TRUE, SMTP_DSN_RET_HDRS,
    "QQ314159" },
  { "FROM:<a@b.test> ENVID=a+2Bb+3Dc+20d", TRUE, SMTP_DSN_RET_DEFAULT,
    "a+b=c d" },
  { "FROM:<a@b.test> ENVID=" ENVID100, TRUE, SMTP_DSN_RET_DEFAULT, ENVID100 },
  { "FROM:<> RET=FULL SIZE=10", TRUE, SMTP_DSN_RET_FULL, NULL },
  /* INVALID */
  { "FROM:<a@b.test> RET=ALL", FALSE },
  { "FROM:<a@b.test> RET", FALSE },
  { "FROM:<a@b.test> RET=FULL RET=HDRS", FALSE },   /* §4: once */
  { "FROM:<a@b.test> ENVID=x ENVID=y", FALSE },     /* §4: once */
  { "FROM:<a@b.test> ENVID", FALSE },               /* no value */
  { "FROM:<a@b.test> ENVID=a+2bb", FALSE },         /* lower-case hex */
  { "FROM:<a@b.test> ENVID=a+2", FALSE },           /* one digit */
  { "FROM:<a@b.test> ENVID=a+0Ab", FALSE },         /* LF: not printable */
  { "FROM:<a@b.test> ENVID=" ENVID100 "x", FALSE }, /* §4.4: 100 */
};

static void
test_dsn_mail (gconstpointer data)
{
  const DsnMailCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (SmtpPath) path =
      smtp_proto_parse_path (c->arguments, SMTP_PATH_REVERSE, &error);
  g_autofree char *envid = NULL;
  SmtpDsnRet ret = SMTP_DSN_RET_DEFAULT;
  gboolean ok;

  if (path == NULL && !c->valid)
    {
      g_assert_error (error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_PARAMETER);
      return;
    }
  g_assert_no_error (error);
  ok = smtp_proto_parse_dsn_mail (path, &ret, &envid, &error);
  if (!c->valid)
    {
      g_assert_error (error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_PARAMETER);
      g_assert_false (ok);
      return;
    }
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpint (ret, ==, c->ret);
  g_assert_cmpstr (envid, ==, c->envid);
}

typedef struct
{
  const char *arguments;
  gboolean valid;
  SmtpDsnNotify notify;
  const char *orcpt_type;
  const char *orcpt;
  const char *formatted; /* smtp_dsn_recipient_format_orcpt () */
} DsnRcptCase;

#define S SMTP_DSN_NOTIFY_SUCCESS
#define F SMTP_DSN_NOTIFY_FAILURE
#define D SMTP_DSN_NOTIFY_DELAY
#define N SMTP_DSN_NOTIFY_NEVER

static const DsnRcptCase dsn_rcpt_cases[] = {
  /* VALID */
  { "TO:<c@d.test>", TRUE, SMTP_DSN_NOTIFY_DEFAULT, NULL, NULL, "" },
  { "TO:<c@d.test> NOTIFY=NEVER", TRUE, N, NULL, NULL, "" },
  { "TO:<c@d.test> NOTIFY=SUCCESS", TRUE, S, NULL, NULL, "" },
  { "TO:<c@d.test> NOTIFY=success,Failure,DELAY", TRUE, S | F | D, NULL, NULL,
    "" },
  { "TO:<c@d.test> NOTIFY=DELAY,FAILURE ORCPT=rfc822;c@d.test", TRUE, F | D,
    "rfc822", "c@d.test", " ORCPT=rfc822;c@d.test" },
  { "TO:<c@d.test> ORCPT=rfc822;a+2Bb@x.test", TRUE, SMTP_DSN_NOTIFY_DEFAULT,
    "rfc822", "a+b@x.test", " ORCPT=rfc822;a+2Bb@x.test" },
  { "TO:<c@d.test> ORCPT=utf-8;j\\x{F6}rg@x.test", TRUE,
    SMTP_DSN_NOTIFY_DEFAULT, "utf-8", "j\xc3\xb6rg@x.test",
    " ORCPT=utf-8;j\\x{F6}rg@x.test" },
  { "TO:<c@d.test> ORCPT=x-local;postmaster", TRUE, SMTP_DSN_NOTIFY_DEFAULT,
    "x-local", "postmaster", " ORCPT=x-local;postmaster" },
  /* INVALID */
  { "TO:<c@d.test> NOTIFY=", FALSE },
  { "TO:<c@d.test> NOTIFY", FALSE },
  { "TO:<c@d.test> NOTIFY=ALWAYS", FALSE },
  { "TO:<c@d.test> NOTIFY=NEVER,SUCCESS", FALSE }, /* §4.1: alone */
  { "TO:<c@d.test> NOTIFY=SUCCESS,SUCCESS", FALSE },
  { "TO:<c@d.test> NOTIFY=SUCCESS,", FALSE },
  { "TO:<c@d.test> NOTIFY=SUCCESS NOTIFY=FAILURE", FALSE }, /* §4: once */
  { "TO:<c@d.test> ORCPT=rfc822;a@b ORCPT=rfc822;a@b", FALSE },
  { "TO:<c@d.test> ORCPT=c@d.test", FALSE }, /* no type */
  { "TO:<c@d.test> ORCPT=;c@d.test", FALSE },
  { "TO:<c@d.test> ORCPT=rfc822;", FALSE },
  { "TO:<c@d.test> ORCPT=rfc(822;c@d", FALSE }, /* not an atom */
  { "TO:<c@d.test> ORCPT=rfc822;a+zzb", FALSE },
  { "TO:<c@d.test> ORCPT=rfc822;a+00b@c", FALSE }, /* a NUL: found by fuzzing */
  { "TO:<c@d.test> ORCPT=utf-8;a\\x{+41}b", FALSE }, /* HEXPOINT: digits */
  { "TO:<c@d.test> ORCPT=utf-8;a+2Bb", FALSE },      /* "+" is not QCHAR */
  { "TO:<c@d.test> ORCPT=utf-8;a\\x{}b", FALSE },    /* RFC 6533 §3 */
  { "TO:<c@d.test> ORCPT=utf-8;a\\x{D800}", FALSE }, /* a surrogate */
};

static void
test_dsn_rcpt (gconstpointer data)
{
  const DsnRcptCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (SmtpPath) path =
      smtp_proto_parse_path (c->arguments, SMTP_PATH_FORWARD, &error);
  g_autoptr (SmtpDsnRecipient) recipient = NULL;
  g_autofree char *formatted = NULL;

  /* An empty value is already refused as an esmtp-value: 501 too. */
  if (path == NULL && !c->valid)
    {
      g_assert_error (error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_PARAMETER);
      return;
    }
  g_assert_no_error (error);
  recipient = smtp_proto_parse_dsn_rcpt (path, &error);
  if (!c->valid)
    {
      g_assert_error (error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_PARAMETER);
      g_assert_null (recipient);
      return;
    }
  g_assert_no_error (error);
  g_assert_nonnull (recipient);
  g_assert_cmpint (recipient->notify, ==, c->notify);
  g_assert_cmpstr (recipient->orcpt_type, ==, c->orcpt_type);
  g_assert_cmpstr (recipient->orcpt, ==, c->orcpt);
  formatted = smtp_dsn_recipient_format_orcpt (recipient);
  g_assert_cmpstr (formatted, ==, c->formatted);
}

/* What the relay sends on is what the next hop parses back. */
static void
test_dsn_xtext_round_trip (void)
{
  static const char *const texts[] = {
    "plain", "a+b=c", "sp ace", "\x01\x7f\xc3\xa9", "+++", "", NULL,
  };

  for (guint i = 0; texts[i] != NULL; i++)
    {
      g_autofree char *xtext = smtp_proto_xtext_encode (texts[i]);
      g_autofree char *back = smtp_proto_xtext_decode (xtext, NULL);

      g_assert_null (strpbrk (xtext, " =\x01\x7f"));
      g_assert_cmpstr (back, ==, texts[i]);
    }
}

/* The catalog explains every parameter the server takes. */
static void
test_dsn_parameter_catalog (void)
{
  static const char *const keywords[] = { "SIZE",   "BODY",  "SMTPUTF8",
                                          "AUTH",   "RET",   "ENVID",
                                          "NOTIFY", "ORCPT", NULL };

  for (guint i = 0; keywords[i] != NULL; i++)
    g_assert_nonnull (smtp_proto_parameter_info (keywords[i]));
  g_assert_cmpstr (smtp_proto_parameter_info ("notify")->rfc, ==,
                   "RFC 3461 §4.1");
  g_assert_null (smtp_proto_parameter_info ("XFOO"));
}

static void
test_dsn_notify_strings (void)
{
  g_autofree char *all = smtp_dsn_notify_to_string (S | F | D);
  g_autofree char *never = smtp_dsn_notify_to_string (N);

  g_assert_cmpstr (all, ==, "SUCCESS,FAILURE,DELAY");
  g_assert_cmpstr (never, ==, "NEVER");
  g_assert_null (smtp_dsn_notify_to_string (SMTP_DSN_NOTIFY_DEFAULT));
  g_assert_cmpint (smtp_dsn_notify_from_string (all), ==, S | F | D);
  g_assert_cmpint (smtp_dsn_notify_from_string ("junk"), ==,
                   SMTP_DSN_NOTIFY_DEFAULT);
  /* RFC 3461 §4.1: no NOTIFY means FAILURE, and DELAY as we choose. */
  g_assert_true (smtp_dsn_wants (NULL, F));
  g_assert_true (smtp_dsn_wants (NULL, D));
  g_assert_false (smtp_dsn_wants (NULL, S));
  g_assert_false (smtp_dsn_wants (&(SmtpDsnRecipient){ .notify = N }, F));
  g_assert_true (smtp_dsn_wants (&(SmtpDsnRecipient){ .notify = S }, S));
  g_assert_false (smtp_dsn_wants (&(SmtpDsnRecipient){ .notify = S }, F));
}

#undef S
#undef F
#undef D
#undef N

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (reply_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/smtp/proto/reply-line/%u", i);
      g_test_add_data_func (name, &reply_cases[i], test_reply_line);
    }
  for (guint i = 0; i < G_N_ELEMENTS (enhanced_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/smtp/proto/enhanced/%u", i);
      g_test_add_data_func (name, &enhanced_cases[i], test_enhanced);
    }
  for (guint i = 0; i < G_N_ELEMENTS (command_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/smtp/proto/command/%u", i);
      g_test_add_data_func (name, &command_cases[i], test_command);
    }
  for (guint i = 0; i < G_N_ELEMENTS (path_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/smtp/proto/path/%u", i);
      g_test_add_data_func (name, &path_cases[i], test_path);
    }
  g_test_add_func ("/smtp/proto/path/parameters-by-keyword",
                   test_path_parameters);
  g_test_add_func ("/smtp/proto/ehlo-line", test_ehlo_line);
  g_test_add_func ("/smtp/proto/bdat", test_bdat);
  g_test_add_func ("/smtp/proto/format-reply", test_format_reply);
  g_test_add_func ("/smtp/proto/format-reply-parses-back",
                   test_format_parses_back);
  g_test_add_func ("/smtp/proto/reply-classes", test_classes);
  g_test_add_func ("/smtp/proto/catalog/every-named-code",
                   test_catalog_replies);
  g_test_add_func ("/smtp/proto/catalog/lookups", test_catalog_lookups);
  g_test_add_func ("/smtp/proto/describe-reply", test_describe_reply);
  for (guint i = 0; i < G_N_ELEMENTS (dsn_mail_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/smtp/proto/dsn/mail/%u", i);
      g_test_add_data_func (name, &dsn_mail_cases[i], test_dsn_mail);
    }
  for (guint i = 0; i < G_N_ELEMENTS (dsn_rcpt_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/smtp/proto/dsn/rcpt/%u", i);
      g_test_add_data_func (name, &dsn_rcpt_cases[i], test_dsn_rcpt);
    }
  g_test_add_func ("/smtp/proto/dsn/xtext-round-trip",
                   test_dsn_xtext_round_trip);
  g_test_add_func ("/smtp/proto/dsn/notify-strings", test_dsn_notify_strings);
  g_test_add_func ("/smtp/proto/catalog/parameters",
                   test_dsn_parameter_catalog);
  return g_test_run ();
}
