/* SPDX-License-Identifier: MIT
 * test-pop3-proto.c: the POP3 grammar and catalog shared by mw-pop3d,
 * mw-pop3 and mw-trace (RFC 1939 §3, §5, §7; RFC 2449 §8; RFC 5034 §4).
 * Every line case runs whole and trickled byte by byte through the
 * shared framer, as the tracer and the servers receive it.
 */
#include <string.h>

#include "mail-line.h"
#include "pop3-proto.h"

/* Frames @input (which ends in CRLF) whole or byte by byte; returns the
 * one line it holds. */
static char *
frame_line (const char *input, gboolean trickle)
{
  MailLineFramer framer;
  char *line = NULL;
  gsize length = 0;
  MailLineFlags flags = MAIL_LINE_CRLF;
  MailLineStatus status = MAIL_LINE_NEED_MORE;

  mail_line_framer_init (&framer, MAIL_LINE_MAX_POP3);
  if (!trickle)
    {
      mail_line_framer_push (&framer, input, strlen (input));
      status = mail_line_framer_take (&framer, &line, &length, &flags);
    }
  for (const char *p = input; trickle && *p != '\0' && line == NULL; p++)
    {
      mail_line_framer_push (&framer, p, 1);
      status = mail_line_framer_take (&framer, &line, &length, &flags);
    }
  g_assert_cmpint (status, ==, MAIL_LINE_COMPLETE);
  g_assert_cmpint (flags, ==, MAIL_LINE_CRLF);
  mail_line_framer_clear (&framer);
  return line;
}

/* ---- commands (RFC 1939 §3) ---------------------------------------- */

typedef struct
{
  const char *input; /* with CRLF */
  const char *verb;  /* NULL: syntax error expected */
  const char *argument;
} CommandCase;

static const CommandCase command_cases[] = {
  /* VALID */
  { "STAT\r\n", "STAT", NULL },
  { "stat\r\n", "STAT", NULL },
  { "Retr 1\r\n", "RETR", "1" },
  { "TOP 3 10\r\n", "TOP", "3 10" },
  { "PASS secret with spaces\r\n", "PASS", "secret with spaces" },
  { "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", "AUTH",
    "PLAIN AGFsaWNlAHNlY3JldA==" },
  { "LIST \r\n", "LIST", "" },
  /* INVALID */
  { "\r\n", NULL, NULL },
  { " STAT\r\n", NULL, NULL },
  { "ST\r\n", NULL, NULL },
  { "STATUS\r\n", NULL, NULL },
  { "RETR:1\r\n", NULL, NULL },
};

static void
test_command (gconstpointer data)
{
  const CommandCase *c = data;

  for (int trickle = 0; trickle <= 1; trickle++)
    {
      g_autofree char *line = frame_line (c->input, trickle);
      g_autofree char *verb = NULL;
      g_autofree char *argument = NULL;
      g_autoptr (GError) error = NULL;
      gboolean ok = pop3_proto_split_command (line, &verb, &argument, &error);

      if (c->verb == NULL)
        {
          g_assert_false (ok);
          g_assert_error (error, POP3_PROTO_ERROR, POP3_PROTO_ERROR_SYNTAX);
          continue;
        }
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpstr (verb, ==, c->verb);
      g_assert_cmpstr (argument, ==, c->argument);
    }
}

/* ---- responses (RFC 1939 §3, RFC 2449 §8, RFC 5034 §4) -------------- */

typedef struct
{
  const char *input;
  gboolean valid;
  Pop3Status status;
  const char *code;
  const char *text;
} ResponseCase;

static const ResponseCase response_cases[] = {
  /* VALID */
  { "+OK 2 320\r\n", TRUE, POP3_STATUS_OK, NULL, "2 320" },
  { "+OK\r\n", TRUE, POP3_STATUS_OK, NULL, "" },
  { "-ERR no such message\r\n", TRUE, POP3_STATUS_ERR, NULL,
    "no such message" },
  { "-ERR [IN-USE] maildrop locked\r\n", TRUE, POP3_STATUS_ERR, "IN-USE",
    "maildrop locked" },
  { "-ERR [SYS/TEMP] try later\r\n", TRUE, POP3_STATUS_ERR, "SYS/TEMP",
    "try later" },
  { "-ERR [AUTH]\r\n", TRUE, POP3_STATUS_ERR, "AUTH", "" },
  { "+ VXNlcm5hbWU6\r\n", TRUE, POP3_STATUS_CONTINUATION, NULL,
    "VXNlcm5hbWU6" },
  { "+ \r\n", TRUE, POP3_STATUS_CONTINUATION, NULL, "" },
  /* RECOVERABLE: brackets that are not a code stay text */
  { "-ERR [] empty\r\n", TRUE, POP3_STATUS_ERR, NULL, "[] empty" },
  { "-ERR [A B] spaced\r\n", TRUE, POP3_STATUS_ERR, NULL, "[A B] spaced" },
  { "-ERR [SYS//X] x\r\n", TRUE, POP3_STATUS_ERR, NULL, "[SYS//X] x" },
  { "+OK [unclosed\r\n", TRUE, POP3_STATUS_OK, NULL, "[unclosed" },
  /* INVALID */
  { "OK fine\r\n", FALSE, 0, NULL, NULL },
  { "+OKAY\r\n", FALSE, 0, NULL, NULL },
  { "-ERROR x\r\n", FALSE, 0, NULL, NULL },
  { "* 1 EXISTS\r\n", FALSE, 0, NULL, NULL },
};

static void
test_response (gconstpointer data)
{
  const ResponseCase *c = data;

  for (int trickle = 0; trickle <= 1; trickle++)
    {
      g_autofree char *line = frame_line (c->input, trickle);
      Pop3Response response = { 0 };
      g_autoptr (GError) error = NULL;
      gboolean ok = pop3_proto_parse_response (line, &response, &error);

      if (!c->valid)
        {
          g_assert_false (ok);
          g_assert_error (error, POP3_PROTO_ERROR, POP3_PROTO_ERROR_SYNTAX);
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpint (response.status, ==, c->status);
      g_assert_cmpstr (response.code, ==, c->code);
      g_assert_cmpstr (response.text, ==, c->text);
      pop3_response_clear (&response);
    }
}

/* ---- numbers and listings (RFC 1939 §3, §5, §7) --------------------- */

typedef struct
{
  const char *input;
  guint32 number; /* 0: error expected */
  int error_code;
} NumberCase;

static const NumberCase number_cases[] = {
  /* VALID */
  { "1", 1, 0 },
  { "42", 42, 0 },
  { "4294967295", G_MAXUINT32, 0 },
  /* INVALID */
  { "0", 0, POP3_PROTO_ERROR_RANGE },
  { "4294967296", 0, POP3_PROTO_ERROR_RANGE },
  { "99999999999999999999", 0, POP3_PROTO_ERROR_RANGE },
  { "", 0, POP3_PROTO_ERROR_SYNTAX },
  { "-1", 0, POP3_PROTO_ERROR_SYNTAX },
  { "+1", 0, POP3_PROTO_ERROR_SYNTAX },
  { "1 ", 0, POP3_PROTO_ERROR_SYNTAX },
  { "abc", 0, POP3_PROTO_ERROR_SYNTAX },
};

static void
test_number (gconstpointer data)
{
  const NumberCase *c = data;
  guint32 number = 0;
  g_autoptr (GError) error = NULL;
  gboolean ok = pop3_proto_parse_number (c->input, &number, &error);

  if (c->number == 0)
    {
      g_assert_false (ok);
      g_assert_error (error, POP3_PROTO_ERROR, c->error_code);
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpuint (number, ==, c->number);
}

static void
test_listing (void)
{
  guint32 number = 0;
  g_autofree char *rest = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (
      pop3_proto_parse_listing ("3 1732240000.17", &number, &rest, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (number, ==, 3);
  g_assert_cmpstr (rest, ==, "1732240000.17");
  g_assert_false (pop3_proto_parse_listing ("3", &number, &rest, &error));
  g_assert_error (error, POP3_PROTO_ERROR, POP3_PROTO_ERROR_SYNTAX);
  g_clear_error (&error);
  g_assert_false (pop3_proto_parse_listing ("x 12", &number, &rest, &error));
  g_assert_error (error, POP3_PROTO_ERROR, POP3_PROTO_ERROR_SYNTAX);
}

/* ---- multi-line responses (RFC 1939 §3) ---------------------------- */

typedef struct
{
  const char *verb;
  gboolean has_argument;
  gboolean ok;
  gboolean multiline;
} MultilineCase;

static const MultilineCase multiline_cases[] = {
  { "LIST", FALSE, TRUE, TRUE },   { "LIST", TRUE, TRUE, FALSE },
  { "uidl", FALSE, TRUE, TRUE },   { "UIDL", TRUE, TRUE, FALSE },
  { "RETR", TRUE, TRUE, TRUE },    { "RETR", TRUE, FALSE, FALSE },
  { "TOP", TRUE, TRUE, TRUE },     { "CAPA", FALSE, TRUE, TRUE },
  { "CAPA", FALSE, FALSE, FALSE }, { "AUTH", TRUE, TRUE, FALSE },
  { "STAT", FALSE, TRUE, FALSE },  { "USER", TRUE, TRUE, FALSE },
  { "QUIT", FALSE, TRUE, FALSE },  { "LIST", FALSE, FALSE, FALSE },
};

static void
test_multiline (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (multiline_cases); i++)
    {
      const MultilineCase *c = &multiline_cases[i];

      g_test_message ("%s has_argument=%d ok=%d", c->verb, c->has_argument,
                      c->ok);
      g_assert_cmpint (
          pop3_proto_is_multiline (c->verb, c->has_argument, c->ok), ==,
          c->multiline);
    }
}

/* A RETR body as the server sends it (mail_dot_stuff) is read back
 * exactly by the client (mail_dot_unstuff), whole and trickled. */
static void
test_dot_stuffing_round_trip (void)
{
  static const char message[] = "Subject: dots\r\n\r\n.\r\n..two\r\n"
                                ".leading\r\nend.\r\n";
  g_autoptr (GString) wire = g_string_new (NULL);

  mail_dot_stuff (wire, message, strlen (message));
  g_assert_cmpstr (wire->str, ==,
                   "Subject: dots\r\n\r\n..\r\n...two\r\n..leading\r\n"
                   "end.\r\n.\r\n");
  for (int trickle = 0; trickle <= 1; trickle++)
    {
      MailLineFramer framer;
      g_autoptr (GString) text = g_string_new (NULL);
      gboolean end = FALSE;

      mail_line_framer_init (&framer, MAIL_LINE_MAX_POP3);
      for (gsize at = 0; at < wire->len && !end;)
        {
          gsize chunk = trickle ? 1 : wire->len;
          char *line = NULL;
          gsize length = 0;
          MailLineFlags flags = MAIL_LINE_CRLF;

          mail_line_framer_push (&framer, wire->str + at, chunk);
          at += chunk;
          while (!end && mail_line_framer_take (&framer, &line, &length,
                                                &flags) == MAIL_LINE_COMPLETE)
            {
              const char *p = line;

              end = mail_dot_unstuff (&p, &length);
              if (!end)
                {
                  g_string_append_len (text, p, length);
                  g_string_append (text, "\r\n");
                }
              g_free (line);
            }
        }
      g_assert_true (end);
      g_assert_cmpstr (text->str, ==, message);
      mail_line_framer_clear (&framer);
    }
}

/* ---- response codes and the catalog -------------------------------- */

static void
test_response_codes (void)
{
  /* RFC 2449 §8.1, RFC 3206 §4-§5, RFC 6856 §2 */
  g_assert_cmpstr (pop3_response_code_name (POP3_CODE_IN_USE), ==, "IN-USE");
  g_assert_cmpstr (pop3_response_code_name (POP3_CODE_SYS_TEMP), ==,
                   "SYS/TEMP");
  g_assert_cmpstr (pop3_response_code_name (POP3_CODE_NONE), ==, NULL);
  g_assert_cmpint (pop3_response_code_from_name ("in-use"), ==,
                   POP3_CODE_IN_USE);
  g_assert_cmpint (pop3_response_code_from_name ("AUTH"), ==, POP3_CODE_AUTH);
  g_assert_cmpint (pop3_response_code_from_name ("X-UNKNOWN"), ==,
                   POP3_CODE_NONE);
  g_assert_cmpint (pop3_response_code_from_name (NULL), ==, POP3_CODE_NONE);
  for (int code = POP3_CODE_IN_USE; code <= POP3_CODE_UTF8; code++)
    g_assert_nonnull (mail_catalog_find (pop3_catalog_response_codes,
                                         pop3_response_code_name (code)));
}

static void
test_catalog (void)
{
  static const char *const verbs[] = { "USER", "PASS", "APOP", "QUIT", "STAT",
                                       "LIST", "RETR", "DELE", "NOOP", "RSET",
                                       "TOP",  "UIDL", "CAPA", "STLS", "AUTH",
                                       "UTF8", "LANG" };
  static const char *const tags[] = {
    "TOP",        "USER",           "SASL",
    "RESP-CODES", "LOGIN-DELAY",    "PIPELINING",
    "EXPIRE",     "UIDL",           "IMPLEMENTATION",
    "STLS",       "AUTH-RESP-CODE", "UTF8",
  };
  const MailCatalogEntry *entry = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (verbs); i++)
    {
      entry = mail_catalog_find (pop3_catalog_commands, verbs[i]);
      g_assert_nonnull (entry);
      g_assert_true (g_str_has_prefix (entry->rfc, "RFC "));
    }
  for (guint i = 0; i < G_N_ELEMENTS (tags); i++)
    g_assert_nonnull (mail_catalog_find (pop3_catalog_capabilities, tags[i]));
  entry = mail_catalog_find (pop3_catalog_commands, "retr");
  g_assert_cmpstr (entry->rfc, ==, "RFC 1939 §5");
  g_assert_nonnull (mail_catalog_find (pop3_catalog_status, "+OK"));
  g_assert_nonnull (mail_catalog_find (pop3_catalog_status, "-ERR"));
  g_assert_nonnull (mail_catalog_find (pop3_catalog_status, "+"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (command_cases); i++)
    {
      g_autofree char *path =
          g_strdup_printf ("/pop3/proto/split-command/%u", i);
      g_test_add_data_func (path, &command_cases[i], test_command);
    }
  for (guint i = 0; i < G_N_ELEMENTS (response_cases); i++)
    {
      g_autofree char *path =
          g_strdup_printf ("/pop3/proto/parse-response/%u", i);
      g_test_add_data_func (path, &response_cases[i], test_response);
    }
  for (guint i = 0; i < G_N_ELEMENTS (number_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/pop3/proto/number/%u", i);
      g_test_add_data_func (path, &number_cases[i], test_number);
    }
  g_test_add_func ("/pop3/proto/listing-is-number-space-value", test_listing);
  g_test_add_func ("/pop3/proto/multiline-only-for-listings-retr-top-capa",
                   test_multiline);
  g_test_add_func ("/pop3/proto/dot-stuffing-round-trips-exactly",
                   test_dot_stuffing_round_trip);
  g_test_add_func ("/pop3/proto/response-codes-are-named", test_response_codes);
  g_test_add_func ("/pop3/proto/catalog-covers-every-verb-and-tag",
                   test_catalog);
  return g_test_run ();
}
