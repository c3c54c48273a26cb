/* SPDX-License-Identifier: MIT
 * test-imap-message.c: a stored message as FETCH and SEARCH see it:
 * ENVELOPE, BODY and BODYSTRUCTURE (RFC 9051 §7.5.2), BODY[section]
 * (§6.4.5), BINARY[section] (RFC 3516 §4.2) and the decoded text SEARCH
 * reads (§6.4.4).
 *
 * The messages are the .eml files in tests/imap/files. The answers are
 * Dovecot 2.3.19's (dovecot-imapd from Debian 12, /usr/lib/dovecot/imap
 * run on a Maildir holding the file: see files/ask-dovecot.sh), compared
 * as IMAP data, so a quoted string and a literal of the same octets are
 * equal. The few rows where mw-imapd answers otherwise on purpose say so.
 */
#include <string.h>

#include "imap-message-private.h"
#include "imap-parser.h"

/* The octets of tests/imap/files/@name.eml (transfer full). */
static GBytes *
load_octets (const char *name)
{
  g_autofree char *file = g_strdup_printf ("%s.eml", name);
  g_autofree char *path =
      g_test_build_filename (G_TEST_DIST, "imap", "files", file, NULL);
  char *contents = NULL;
  gsize length = 0;
  g_autoptr (GError) error = NULL;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (contents, length);
}

static ImapMessage *
load_message (const char *name)
{
  g_autoptr (GBytes) data = load_octets (name);

  return imap_message_new (data);
}

/* ---- IMAP data equality ---------------------------------------------- */

/* The next token of IMAP data at *p (RFC 9051 §4): "(", ")", or a string
 * as its octets (atom, NIL, number, quoted or literal), with a tag byte
 * so NIL and "NIL" differ. Addresses and body parts follow each other
 * with no space between them (RFC 9051 §9 env-from, body-type-mpart), so
 * this reads them token by token instead of with imap_parse_args (). */
static char *
next_token (const char **p)
{
  GString *token = g_string_new (NULL);
  const char *s = *p;
  guint64 length = 0;

  while (*s == ' ')
    s++;
  if (*s == '(' || *s == ')')
    g_string_append_c (token, *s++);
  else if (*s == '"')
    {
      g_string_append_c (token, 's');
      for (s++; *s != '"'; s++)
        g_string_append_c (token, *s == '\\' ? *++s : *s);
      s++;
    }
  else if (*s == '{' || *s == '~')
    {
      s += *s == '~' ? 2 : 1;
      length = g_ascii_strtoull (s, (char **) &s, 10);
      g_assert_true (g_str_has_prefix (s, "}\r\n"));
      g_string_append_c (token, 's');
      g_string_append_len (token, s + 3, length);
      s += 3 + length;
    }
  else
    {
      g_string_append_c (token, strncmp (s, "NIL", 3) == 0 ? 'n' : 's');
      while (*s != '\0' && *s != ' ' && *s != '(' && *s != ')')
        g_string_append_c (token, *s++);
    }
  *p = s;
  return g_string_free (token, FALSE);
}

/* @ours and @expected are the same IMAP data: strings compare by their
 * octets, however they are written. */
static void
assert_same_data (const GString *ours, const char *expected)
{
  const char *a = ours->str;
  const char *b = expected;

  g_test_message ("ours:     %s", ours->str);
  g_test_message ("expected: %s", expected);
  while (*a != '\0' || *b != '\0')
    {
      g_autofree char *token_a = next_token (&a);
      g_autofree char *token_b = next_token (&b);

      g_assert_cmpstr (token_a, ==, token_b);
    }
}

/* ---- ENVELOPE, BODY, BODYSTRUCTURE (RFC 9051 §7.5.2) ------------------ */

typedef struct
{
  const char *file;
  const char *envelope;
  const char *bodystructure;
  const char *body;
} StructureCase;

static const StructureCase structure_cases[] = {
  {
      "address-edge-cases",
      "(NIL {14}\r\n"
      "lead and trail ((\"John Doe\" NIL \"jdoe\" \"example.org\")) ((NIL "
      "\"@route1,@route2\" \"user\" \"host\")) ((NIL NIL \"broken\" "
      "\"MISSING_DOMAIN\")(NIL NIL \"Quoted Name\" \"example.com\")) "
      "((NIL NIL \"undisclosed\" \"MISSING_DOMAIN\")) ((\"Pete\" NIL "
      "\"pete\" \"silly.test\")) ((NIL NIL \"empty\" \"name.test\")"
      "(\"Multi Space Name\" NIL \"ms\" \"x.test\")) \"<a@b> <c@d>\" "
      "\"<x@y>\")",
      "(\"TEXT\" \"Html\" (\"charset\" \"us-ascii\") NIL NIL \"BASE64\" "
      "14 1 NIL (\"INLINE\" NIL) NIL NIL)",
      "(\"TEXT\" \"Html\" (\"charset\" \"us-ascii\") NIL NIL \"BASE64\" "
      "14 1)",
  },
  /* Two Subject fields: the first is the one (Dovecot takes the last,
   * "two folded"). */
  {
      "header-fields-quoted-printable",
      "(NIL \"one\" ((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"a\" \"b.c\")) "
      "((NIL NIL \"a\" \"b.c\")) NIL NIL NIL NIL NIL)",
      "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL "
      "\"quoted-printable\" 19 2 NIL NIL (\"en\") NIL)",
      "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL "
      "\"quoted-printable\" 19 2)",
  },
  {
      "headers-8bit-encoded-words",
      "(\"Thu, 13 Feb 1969 23:32:54 -0330\" {37}\r\n"
      "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= und Caf\303\251 "
      "((\"=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=\" NIL \"keld\" "
      "\"dkuug.example\")) ((NIL NIL \"secretary\" \"example.com\")) "
      "((\"=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=\" NIL \"keld\" "
      "\"dkuug.example\")) ((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL "
      "\"c\" \"a.test\")(NIL NIL \"joe\" \"where.test\")(\"John\" NIL "
      "\"jdoe\" \"one.test\")(NIL NIL NIL NIL)(NIL NIL "
      "\"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
      "((\"=?UTF-8?B?SsO8cmdlbg==?=\" NIL \"juergen\" \"example.de\")) "
      "(({16}\r\n"
      "\303\234n\303\257c\303\266d\303\251 Name NIL \"uni\" "
      "\"example.com\")) NIL \" <folded@example.com>\")",
      "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 35 2 "
      "NIL NIL NIL NIL)",
      "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 35 2)",
  },
  {
      "missing-content-type",
      "(\"1 Jan 2000 00:00:00 GMT\" \"no MIME here\" ((NIL NIL \"plain\" "
      "\"example.com\")) ((NIL NIL \"plain\" \"example.com\")) ((NIL NIL "
      "\"plain\" \"example.com\")) NIL NIL NIL NIL NIL)",
      "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 49 "
      "2 NIL NIL NIL NIL)",
      "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 49 "
      "2)",
  },
  {
      "mixed-headerless-part",
      "(NIL \"hi\" ((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"a\" \"b.c\")) "
      "((NIL NIL \"a\" \"b.c\")) NIL NIL NIL NIL NIL)",
      "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
      "12 1 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\")"
      " NIL NIL \"7bit\" 10 0 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL "
      "NIL NIL \"7bit\" 28 (NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL)"
      " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
      "10 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL) \"mixed\" (\"boundary\" "
      "\"XX\") NIL NIL NIL)",
      "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
      "12 1)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
      "\"7bit\" 10 0)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 28 (NIL "
      "\"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
      "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0) 2) \"mixed\")",
  },
  {
      "multipart-alternative",
      "(\"Tue, 1 Jul 2003 10:52:37 +0200\" \"Two versions\" ((\"Joe Q. "
      "Public\" NIL \"john.q.public\" \"example.com\")) ((\"Joe Q. "
      "Public\" NIL \"john.q.public\" \"example.com\")) ((\"Joe Q. "
      "Public\" NIL \"john.q.public\" \"example.com\")) ((\"Mary Smith\" "
      "NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")"
      "(\"Who?\" NIL \"one\" \"y.test\")) ((NIL NIL \"boss\" \"nil.test\")"
      "({16}\r\n"
      "Giant; \"Big\" Box NIL \"sysservices\" \"example.net\")) NIL "
      "\"<1234@local.machine.example>\" "
      "\"<5678.21-Nov-1997@example.com>\")",
      "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
      "19 0 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" "
      "\"ISO-8859-1\") NIL NIL \"8bit\" 36 2 NIL NIL NIL NIL) "
      "\"alternative\" (\"boundary\" \"alt\" \"charset\" \"us-ascii\") "
      "NIL NIL NIL)",
      "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
      "19 0)(\"text\" \"html\" (\"charset\" \"ISO-8859-1\") NIL NIL "
      "\"8bit\" 36 2) \"alternative\")",
  },
  {
      "multipart-digest",
      "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
      "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 26 (NIL \"in "
      "digest\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
      "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0 NIL NIL NIL NIL) 2 "
      "NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
      "NIL \"7bit\" 5 0 NIL NIL NIL NIL) \"digest\" (\"boundary\" \"d\") "
      "NIL NIL NIL)",
      "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 26 (NIL \"in "
      "digest\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
      "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0) 2)(\"text\" "
      "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0) "
      "\"digest\")",
  },
  {
      /* the boundary's quoted string is folded: unfolded, "foo bar" */
      "multipart-folded-boundary",
      "(NIL \"folded boundary\" ((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"a\" "
      "\"b.c\")) ((NIL NIL \"a\" \"b.c\")) NIL NIL NIL NIL NIL)",
      "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
      "3 0 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") "
      "NIL NIL \"7bit\" 10 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" "
      "\"foo bar\") NIL NIL NIL)",
      "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
      "3 0)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL "
      "\"7bit\" 10 0) \"mixed\")",
  },
  {
      "multipart-in-multipart",
      "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
      "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
      "1 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
      "NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"alternative\" "
      "(\"boundary\" \"c\") NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") "
      "NIL NIL NIL)",
      "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
      "1 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
      "\"7bit\" 1 0) \"alternative\") \"mixed\")",
  },
  {
      "multipart-mixed-with-attachment",
      "(\"Mon, 7 Feb 1994 21:52:25 -0800\" \"afternoon meeting\" ((\"Fred "
      "Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) ((\"Fred "
      "Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) ((\"Fred "
      "Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) ((NIL NIL "
      "\"mooch\" \"owatagu.example\")) NIL NIL NIL "
      "\"<B27397-0100000@Blurdybloop.example>\")",
      "((\"text\" \"plain\" (\"charset\" \"UTF-8\" \"format\" \"flowed\") "
      "NIL NIL \"quoted-printable\" 78 1 NIL NIL NIL NIL)(\"application\" "
      "\"pdf\" (\"name\" \"agenda.pdf\") \"<part2@Blurdybloop.example>\" "
      "\"The agenda\" \"base64\" 20 NIL (\"attachment\" (\"filename\" "
      "\"agenda.pdf\" \"size\" \"12\")) (\"en\" \"fr\") "
      "\"http://example.com/agenda.pdf\") \"mixed\" (\"boundary\" "
      "\"=_b1\") NIL NIL NIL)",
      "((\"text\" \"plain\" (\"charset\" \"UTF-8\" \"format\" \"flowed\") "
      "NIL NIL \"quoted-printable\" 78 1)(\"application\" \"pdf\" "
      "(\"name\" \"agenda.pdf\") \"<part2@Blurdybloop.example>\" \"The "
      "agenda\" \"base64\" 20) \"mixed\")",
  },
  {
      "multipart-without-parts",
      "(NIL \"\" NIL NIL NIL NIL NIL NIL NIL NIL)",
      "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
      "0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)",
      "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
      "0) \"mixed\")",
  },
  {
      "nested-rfc822",
      "(\"Wed, 2 Jul 2003 08:00:00 +0000\" \"Fwd: inner\" ((NIL NIL "
      "\"outer\" \"example.com\")) ((NIL NIL \"outer\" \"example.com\")) "
      "((NIL NIL \"outer\" \"example.com\")) ((NIL NIL \"someone\" "
      "\"example.com\")) NIL NIL NIL NIL)",
      "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
      "26 0 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" "
      "299 (\"Tue, 1 Jul 2003 07:00:00 -0500\" \"inner\" ((NIL NIL "
      "\"inner\" \"example.com\")) ((NIL NIL \"inner\" \"example.com\")) "
      "((NIL NIL \"inner\" \"example.com\")) ((NIL NIL \"outer\" "
      "\"example.com\")) NIL NIL NIL NIL) ((\"text\" \"plain\" "
      "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 0 NIL NIL NIL NIL)"
      "(\"text\" \"enriched\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
      "18 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"inner\") NIL "
      "NIL NIL) 16 NIL (\"inline\" NIL) NIL NIL)(\"message\" \"rfc822\" "
      "NIL NIL NIL \"7bit\" 64 (NIL \"simple\" ((\"Simple\" NIL "
      "\"simple\" \"example.com\")) ((\"Simple\" NIL \"simple\" "
      "\"example.com\")) ((\"Simple\" NIL \"simple\" \"example.com\")) "
      "NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\")"
      " NIL NIL \"7bit\" 10 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL) "
      "\"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)",
      "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
      "26 0)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 299 (\"Tue, 1 "
      "Jul 2003 07:00:00 -0500\" \"inner\" ((NIL NIL \"inner\" "
      "\"example.com\")) ((NIL NIL \"inner\" \"example.com\")) ((NIL NIL "
      "\"inner\" \"example.com\")) ((NIL NIL \"outer\" \"example.com\")) "
      "NIL NIL NIL NIL) ((\"text\" \"plain\" (\"charset\" \"us-ascii\") "
      "NIL NIL \"7bit\" 11 0)(\"text\" \"enriched\" (\"charset\" "
      "\"us-ascii\") NIL NIL \"7bit\" 18 0) \"alternative\") 16)"
      "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 64 (NIL \"simple\" "
      "((\"Simple\" NIL \"simple\" \"example.com\")) ((\"Simple\" NIL "
      "\"simple\" \"example.com\")) ((\"Simple\" NIL \"simple\" "
      "\"example.com\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
      "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0) 3) \"mixed\")",
  },
  {
      "no-body",
      "(NIL \"only headers\" ((NIL NIL \"headers\" \"example.com\")) "
      "((NIL NIL \"headers\" \"example.com\")) ((NIL NIL \"headers\" "
      "\"example.com\")) NIL NIL NIL NIL NIL)",
      "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
      "0 NIL NIL NIL NIL)",
      "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
      "0)",
  },
  {
      "search-latin1-base64",
      "(\"Sat, 31 Dec 2022 23:30:00 -0500\" "
      "\"=?UTF-8?B?UsOpdW5pb24gZGUgZmluIGQnYW5uw6ll?=\" "
      "((\"=?ISO-8859-1?Q?Andr=E9?=\" NIL \"andre\" \"example.fr\")) "
      "((\"=?ISO-8859-1?Q?Andr=E9?=\" NIL \"andre\" \"example.fr\")) "
      "((\"=?ISO-8859-1?Q?Andr=E9?=\" NIL \"andre\" \"example.fr\")) "
      "((\"Bob\" NIL \"bob\" \"example.com\")) NIL NIL NIL NIL)",
      "((\"text\" \"plain\" (\"charset\" \"ISO-8859-1\") NIL NIL "
      "\"base64\" 40 0 NIL NIL NIL NIL)(\"application\" \"octet-stream\" "
      "NIL NIL NIL \"base64\" 36 NIL NIL NIL NIL) \"mixed\" (\"boundary\" "
      "\"s\") NIL NIL NIL)",
      "((\"text\" \"plain\" (\"charset\" \"ISO-8859-1\") NIL NIL "
      "\"base64\" 40 0)(\"application\" \"octet-stream\" NIL NIL NIL "
      "\"base64\" 36) \"mixed\")",
  },
  {
      "text-params-without-charset",
      "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
      "(\"text\" \"plain\" (\"format\" \"flowed\" \"charset\" "
      "\"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)",
      "(\"text\" \"plain\" (\"format\" \"flowed\" \"charset\" "
      "\"us-ascii\") NIL NIL \"7bit\" 3 1)",
  },
  /* Dovecot gives "To: ,,a@b.c," two (MISSING_MAILBOX MISSING_DOMAIN)
   * addresses for the empty elements, which are skipped here; and GMime
   * decodes the RFC 2231 and RFC 2047 parameters that Dovecot sends as
   * they are: ("x" "=?utf-8?q?caf=C3=A9?=" "name*" "utf-8''%E2%82%AC.pdf"). */
  {
      "unknown-cte-rfc2231-params",
      "(NIL NIL NIL NIL NIL ((NIL NIL \"a\" \"b.c\")) NIL NIL NIL NIL)",
      "(\"application\" \"octet-stream\" (\"name\" \"\342\202\254.pdf\" "
      "\"x\" \"caf\303\251\") NIL NIL \"x-uuencode\" 7 NIL NIL NIL NIL)",
      "(\"application\" \"octet-stream\" (\"name\" \"\342\202\254.pdf\" "
      "\"x\" \"caf\303\251\") NIL NIL \"x-uuencode\" 7)",
  },
};

static void
test_envelope (gconstpointer data)
{
  const StructureCase *c = data;
  g_autoptr (ImapMessage) message = load_message (c->file);
  g_autoptr (GString) out = g_string_new (NULL);

  imap_message_append_envelope (message, out);
  assert_same_data (out, c->envelope);
}

static void
test_bodystructure (gconstpointer data)
{
  const StructureCase *c = data;
  g_autoptr (ImapMessage) message = load_message (c->file);
  g_autoptr (GString) out = g_string_new (NULL);

  imap_message_append_bodystructure (message, out, TRUE);
  assert_same_data (out, c->bodystructure);
}

static void
test_body (gconstpointer data)
{
  const StructureCase *c = data;
  g_autoptr (ImapMessage) message = load_message (c->file);
  g_autoptr (GString) out = g_string_new (NULL);

  imap_message_append_bodystructure (message, out, FALSE);
  assert_same_data (out, c->body);
}

/* RFC 9051 §4.3: 8-bit text goes as a literal to a client that has not
 * enabled UTF-8; quoted strings escape DQUOTE and backslash. */
static void
test_envelope_quoting (void)
{
  g_autoptr (ImapMessage) eight_bit =
      load_message ("headers-8bit-encoded-words");
  g_autoptr (ImapMessage) quotes = load_message ("multipart-alternative");
  g_autoptr (GString) out = g_string_new (NULL);

  imap_message_append_envelope (eight_bit, out);
  g_assert_nonnull (strstr (out->str, "{37}\r\n=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= und "
                                      "Caf\303\251 (("));
  g_string_truncate (out, 0);
  imap_message_append_envelope (quotes, out);
  g_assert_nonnull (strstr (out->str, "(\"Giant; \\\"Big\\\" Box\" NIL "));
}

/* ---- BODY[section] (RFC 9051 §6.4.5) ----------------------------------- */

typedef struct
{
  const char *name;
  const char *file;
  const char *section; /* what follows "BODY[" */
  const char *expected;
} SectionCase;

static const SectionCase section_cases[] = {
  { "header-ends-with-the-empty-line", "multipart-mixed-with-attachment",
    "HEADER",
    "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    "From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
    "Subject: afternoon meeting\r\n"
    "To: mooch@owatagu.example\r\n"
    "Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"=_b1\"\r\n"
    "\r\n" },
  { "text-is-the-body-with-preamble", "multipart-mixed-with-attachment", "TEXT",
    "This is a multi-part message in MIME format.\r\n"
    "--=_b1\r\n"
    "Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Hello Joe, do you think we can meet at 3:30 tomorrow? Caf=C3=A9?\r\n"
    "Second line.\r\n"
    "--=_b1\r\n"
    "Content-Type: application/pdf; name=\"agenda.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"agenda.pdf\"; "
    "size=12\r\n"
    "Content-ID: <part2@Blurdybloop.example>\r\n"
    "Content-Description: The agenda\r\n"
    "Content-Language: en, fr\r\n"
    "Content-Location: http://example.com/agenda.pdf\r\n"
    "\r\n"
    "JVBERi0xLjQKJeLjz9MK\r\n"
    "--=_b1--\r\n" },
  { "part-is-its-body-without-the-crlf-before-the-delimiter",
    "multipart-mixed-with-attachment", "1",
    "Hello Joe, do you think we can meet at 3:30 tomorrow? Caf=C3=A9?\r\n"
    "Second line." },
  { "part-mime-is-its-header", "multipart-mixed-with-attachment", "2.MIME",
    "Content-Type: application/pdf; name=\"agenda.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"agenda.pdf\"; "
    "size=12\r\n"
    "Content-ID: <part2@Blurdybloop.example>\r\n"
    "Content-Description: The agenda\r\n"
    "Content-Language: en, fr\r\n"
    "Content-Location: http://example.com/agenda.pdf\r\n"
    "\r\n" },
  { "header-fields-in-message-order", "multipart-mixed-with-attachment",
    "HEADER.FIELDS (from TO Message-ID)",
    "From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
    "To: mooch@owatagu.example\r\n"
    "Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
    "\r\n" },
  { "header-fields-not", "multipart-mixed-with-attachment",
    "HEADER.FIELDS.NOT (Date From Subject To Message-Id)",
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"=_b1\"\r\n"
    "\r\n" },
  { "nonexistent-part-is-empty", "multipart-mixed-with-attachment", "3", "" },
  { "header-fields-keep-duplicates-and-folding",
    "header-fields-quoted-printable", "HEADER.FIELDS (Subject x-b)",
    "Subject: one\r\n"
    "subject: two\r\n"
    "  folded\r\n"
    "\r\n" },
  { "header-fields-none-match-is-the-empty-line",
    "header-fields-quoted-printable", "HEADER.FIELDS (X-Nope)", "\r\n" },
  { "header-fields-not-is-case-insensitive", "header-fields-quoted-printable",
    "HEADER.FIELDS.NOT (subject From)",
    "X-A: 1\r\n"
    "Content-Type: text/html\r\n"
    "Content-Language: en\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n" },
  { "single-part-1-is-the-body", "header-fields-quoted-printable", "1",
    "Caf=C3=A9 =\r\n"
    "soft\r\n" },
  { "single-part-1-mime-is-the-message-header",
    "header-fields-quoted-printable", "1.MIME",
    "Subject: one\r\n"
    "X-A: 1\r\n"
    "subject: two\r\n"
    "  folded\r\n"
    "From: a@b.c\r\n"
    "Content-Type: text/html\r\n"
    "Content-Language: en\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n" },
  { "header-of-a-non-message-part-is-empty", "header-fields-quoted-printable",
    "1.HEADER", "" },
  { "single-part-2-is-empty", "header-fields-quoted-printable", "2", "" },
  { "headerless-part-mime-is-the-empty-line", "mixed-headerless-part", "2.MIME",
    "\r\n" },
  { "headerless-part-body", "mixed-headerless-part", "2", "no headers" },
  { "rfc822-part-is-the-whole-embedded-message", "mixed-headerless-part", "3",
    "Subject: inner\r\n"
    "\r\n"
    "inner body" },
  { "rfc822-part-header", "mixed-headerless-part", "3.HEADER",
    "Subject: inner\r\n"
    "\r\n" },
  { "rfc822-part-text", "mixed-headerless-part", "3.TEXT", "inner body" },
  { "rfc822-single-part-1-is-its-body", "mixed-headerless-part", "3.1",
    "inner body" },
  { "rfc822-single-part-1-mime-is-its-header", "mixed-headerless-part",
    "3.1.MIME",
    "Subject: inner\r\n"
    "\r\n" },
  { "rfc822-single-part-2-is-empty", "mixed-headerless-part", "3.2", "" },
  { "rfc822-multipart-first-part", "nested-rfc822", "2.1", "inner plain" },
  { "rfc822-multipart-second-part-mime", "nested-rfc822", "2.2.MIME",
    "Content-Type: text/enriched\r\n"
    "\r\n" },
  { "rfc822-part-header-fields", "nested-rfc822", "2.HEADER.FIELDS (subject)",
    "Subject: inner\r\n"
    "\r\n" },
  { "rfc822-multipart-text", "nested-rfc822", "2.TEXT",
    "--inner\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "inner plain\r\n"
    "--inner\r\n"
    "Content-Type: text/enriched\r\n"
    "\r\n"
    "<bold>inner</bold>\r\n"
    "--inner--\r\n" },
  { "second-rfc822-part-body", "nested-rfc822", "3.1", "Just text." },
  { "inner-multipart-body-keeps-delimiters-and-epilogue",
    "multipart-in-multipart", "1",
    "--c\r\n"
    "\r\n"
    "A\r\n"
    "--c\r\n"
    "\r\n"
    "B\r\n"
    "--c--\r\n"
    "epi" },
  { "inner-multipart-mime", "multipart-in-multipart", "1.MIME",
    "Content-Type: multipart/alternative; boundary=c\r\n"
    "\r\n" },
  { "inner-multipart-second-part", "multipart-in-multipart", "1.2", "B" },
  { "inner-multipart-third-part-is-empty", "multipart-in-multipart", "1.3",
    "" },
  { "digest-part-defaults-to-rfc822", "multipart-digest", "1",
    "Subject: in digest\r\n"
    "\r\n"
    "body" },
  { "digest-message-body", "multipart-digest", "1.1", "body" },
  { "multipart-without-parts-has-an-empty-part-1", "multipart-without-parts",
    "1", "" },
  { "multipart-without-parts-text", "multipart-without-parts", "TEXT",
    "no delimiters here\r\n" },
  { "no-body-header-is-everything", "no-body", "HEADER",
    "From: headers@example.com\r\n"
    "Subject: only headers\r\n" },
  { "no-body-text-is-empty", "no-body", "TEXT", "" },
  { "no-body-header-fields-add-the-empty-line", "no-body",
    "HEADER.FIELDS (subject)",
    "Subject: only headers\r\n"
    "\r\n" },
  /* Dovecot answers part 1 again: a part that is not a message or a
   * multipart has no parts of its own. */
  { "parts-of-a-leaf-part-are-empty", "mixed-headerless-part", "1.1", "" },
  /* RFC 9051 §6.4.5: a message that is not multipart has a part 1, its
   * body, even when that body is a message: 1.1 is then the first part
   * of the message inside. */
  { "top-level-rfc822-part-1-is-the-embedded-message", "top-level-rfc822", "1",
    "From: inner@example.com\r\n"
    "Subject: inner\r\n"
    "Content-Type: multipart/mixed; boundary=zz\r\n"
    "\r\n"
    "--zz\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "one\r\n"
    "--zz\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "two\r\n"
    "--zz--\r\n" },
  { "top-level-rfc822-part-1-mime-is-the-message-header", "top-level-rfc822",
    "1.MIME",
    "From: outer@example.com\r\n"
    "Subject: the whole message is message/rfc822\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n" },
  { "top-level-rfc822-part-1-header-is-the-embedded-header", "top-level-rfc822",
    "1.HEADER",
    "From: inner@example.com\r\n"
    "Subject: inner\r\n"
    "Content-Type: multipart/mixed; boundary=zz\r\n"
    "\r\n" },
  { "top-level-rfc822-part-1-text-is-the-embedded-body", "top-level-rfc822",
    "1.TEXT",
    "--zz\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "one\r\n"
    "--zz\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "two\r\n"
    "--zz--\r\n" },
  { "top-level-rfc822-part-1-1-is-the-embedded-first-part", "top-level-rfc822",
    "1.1", "one" },
  { "top-level-rfc822-part-1-2-mime", "top-level-rfc822", "1.2.MIME",
    "Content-Type: text/plain\r\n"
    "\r\n" },
  { "top-level-rfc822-part-2-is-empty", "top-level-rfc822", "2", "" },
};

static void
parse_section (const char *text, ImapSection *out)
{
  g_autofree char *spec = g_strdup_printf ("%s]", text);
  g_autoptr (GError) error = NULL;

  g_assert_true (imap_section_parse (spec, out, &error));
  g_assert_no_error (error);
}

static void
test_section (gconstpointer data)
{
  const SectionCase *c = data;
  g_autoptr (ImapMessage) message = load_message (c->file);
  ImapSection section = { 0 };
  g_autoptr (GBytes) octets = NULL;

  parse_section (c->section, &section);
  octets = imap_message_get_section (message, &section);
  g_assert_cmpmem (g_bytes_get_data (octets, NULL), g_bytes_get_size (octets),
                   c->expected, strlen (c->expected));
  imap_section_clear (&section);
}

static void
test_section_whole (void)
{
  g_autoptr (ImapMessage) message =
      load_message ("multipart-mixed-with-attachment");
  ImapSection section = { 0 };
  g_autoptr (GBytes) octets = NULL;

  parse_section ("", &section);
  octets = imap_message_get_section (message, &section);
  g_assert_true (g_bytes_equal (octets, imap_message_get_data (message)));
  imap_section_clear (&section);
}

/* ---- BINARY[section] (RFC 3516 §4.2) ----------------------------------- */

typedef struct
{
  const char *name;
  const char *file;
  const char *section;  /* what follows "BINARY[" */
  const char *expected; /* NULL: NO [UNKNOWN-CTE] */
} BinaryCase;

static const BinaryCase binary_cases[] = {
  { "quoted-printable-is-decoded", "multipart-mixed-with-attachment", "1",
    "Hello Joe, do you think we can meet at 3:30 tomorrow? "
    "Caf\303\251?\r\n"
    "Second line." },
  { "base64-is-decoded", "multipart-mixed-with-attachment", "2",
    "%PDF-1.4\n"
    "%\342\343\317\323\n" },
  { "nonexistent-part-is-empty", "multipart-mixed-with-attachment", "3", "" },
  { "single-part-message-says-binary-in-its-header",
    "header-fields-quoted-printable", "",
    "Subject: one\r\n"
    "X-A: 1\r\n"
    "subject: two\r\n"
    "  folded\r\n"
    "From: a@b.c\r\n"
    "Content-Type: text/html\r\n"
    "Content-Language: en\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "\r\n"
    "Caf\303\251 soft\r\n" },
  { "single-part-body-is-decoded", "header-fields-quoted-printable", "1",
    "Caf\303\251 soft\r\n" },
  { "rfc822-inner-part-7bit-as-is", "nested-rfc822", "2.1", "inner plain" },
  { "base64-text-keeps-its-charset", "search-latin1-base64", "1",
    "Le caf\351 est pr\352t.\r\n"
    "\300 bient\364t\r\n" },
  { "7bit-message-is-as-is", "missing-content-type", "",
    "From: plain@example.com\r\n"
    "Subject: no MIME here\r\n"
    "Date: 1 Jan 2000 00:00:00 GMT\r\n"
    "\r\n"
    "Just a plain RFC 5322 message.\r\n"
    "With two lines.\r\n" },
  /* RFC 2045 §6.7 rule 3: blanks before a line end are padding, also
   * after the "=" of a soft line break (GMime keeps them) */
  { "quoted-printable-trailing-blanks-are-padding", "quoted-printable-padding",
    "1",
    "trailing blanks go\r\n"
    "soft\r\n"
    "break\tkeeps the tab\r\n"
    "padding\t \tAfter a soft break\r\n"
    "blank and tab padding\r\n"
    "hex=" },
  { "rfc822-part-is-as-stored", "top-level-rfc822", "1.2", "two" },
  { "x-uuencode-is-unknown-cte", "unknown-cte-rfc2231-params", "1", NULL },
  { "whole-x-uuencode-message-is-unknown-cte", "unknown-cte-rfc2231-params", "",
    NULL },
};

static void
test_binary (gconstpointer data)
{
  const BinaryCase *c = data;
  g_autoptr (ImapMessage) message = load_message (c->file);
  ImapSection section = { 0 };
  g_autoptr (GBytes) octets = NULL;
  g_autoptr (GError) error = NULL;
  guint64 size = 0;

  parse_section (c->section, &section);
  octets = imap_message_get_binary (message, &section, &error);
  if (c->expected == NULL)
    {
      g_assert_null (octets);
      g_assert_error (error, IMAP_MESSAGE_ERROR,
                      IMAP_MESSAGE_ERROR_UNKNOWN_CTE);
      g_clear_error (&error);
      g_assert_false (
          imap_message_get_binary_size (message, &section, &size, &error));
      g_assert_error (error, IMAP_MESSAGE_ERROR,
                      IMAP_MESSAGE_ERROR_UNKNOWN_CTE);
      imap_section_clear (&section);
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (octets, NULL), g_bytes_get_size (octets),
                   c->expected, strlen (c->expected));
  /* BINARY.SIZE (RFC 3516 §4.2) */
  g_assert_true (
      imap_message_get_binary_size (message, &section, &size, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (size, ==, strlen (c->expected));
  imap_section_clear (&section);
}

/* A multipart's own encoding is 7bit, 8bit or binary (RFC 2045 §6.4), so
 * BINARY[] of one is the message as stored. Dovecot also decodes the
 * parts inside and rewrites their headers. */
static void
test_binary_multipart (void)
{
  g_autoptr (ImapMessage) message =
      load_message ("multipart-mixed-with-attachment");
  ImapSection section = { 0 };
  g_autoptr (GBytes) octets = NULL;
  g_autoptr (GError) error = NULL;

  parse_section ("", &section);
  octets = imap_message_get_binary (message, &section, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (octets, imap_message_get_data (message)));
  imap_section_clear (&section);
}

/* RFC 2045 §6.7, one body at a time: the rows Dovecot also decodes are
 * its answers; where Dovecot answers NO [PARSE] (or fails), the text is
 * kept, as §6.7 suggests of a robust decoder. */
typedef struct
{
  const char *name;
  const char *encoded;
  const char *decoded;
} QuotedPrintableCase;

static const QuotedPrintableCase quoted_printable_cases[] = {
  /* VALID */
  { "hex-digits-either-case", "lower =c3=a9 upper =C3=A9\r\nx",
    "lower \303\251 upper \303\251\r\nx" },
  { "blanks-before-a-line-end-go", "tab\t \r\nx", "tab\r\nx" },
  { "bare-lf-is-a-line-end", "bare lf  \nx", "bare lf\r\nx" },
  { "soft-break-on-the-last-line", "a=\r\n", "a" },
  { "soft-break-after-padding", "a= \t \r\nb", "ab" },
  { "blanks-before-a-soft-break-stay", "a \t=\r\nb", "a \tb" },
  { "equals-sign-encoded", "1 =3D 1", "1 = 1" },
  /* RECOVERABLE */
  { "equals-without-hex-is-kept", "bad =ZZ and =4", "bad =ZZ and =4" },
  { "soft-break-at-the-very-end", "end=", "end" },
};

static void
test_quoted_printable (gconstpointer data)
{
  const QuotedPrintableCase *c = data;
  g_autofree char *text =
      g_strdup_printf ("Content-Type: text/plain\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n"
                       "\r\n%s",
                       c->encoded);
  g_autoptr (GBytes) stored = g_bytes_new (text, strlen (text));
  g_autoptr (ImapMessage) message = imap_message_new (stored);
  ImapSection section = { 0 };
  g_autoptr (GBytes) octets = NULL;
  g_autoptr (GError) error = NULL;

  parse_section ("1", &section);
  octets = imap_message_get_binary (message, &section, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (octets, NULL), g_bytes_get_size (octets),
                   c->decoded, strlen (c->decoded));
  imap_section_clear (&section);
}

/* ---- NUL octets (RFC 9051 §6.4.5, RFC 3516 §4.2) ---------------------- */

/* As imaptest's append-binary APPENDs it in a literal8. */
static const char nul_single[] = "From: a@b.c\r\n"
                                 "Content-Type: application/octet-stream\r\n"
                                 "Content-Transfer-Encoding: binary\r\n"
                                 "\r\n"
                                 "\0-\344\n\r\n\n";
static const char nul_multipart[] =
    "From: a@b.c\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "plain text\r\n"
    "--b\r\n"
    "Content-Type: image/x-raw\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "\r\n"
    "\0\1\2\0\r\n"
    "--b--\r\n";
static const char nul_header[] = "Subject: a\0b\r\n"
                                 "\r\n"
                                 "body\r\n";

typedef enum
{
  NUL_BODY,          /* BODY[section] */
  NUL_BINARY,        /* BINARY[section] */
  NUL_BODYSTRUCTURE, /* BODYSTRUCTURE, compared as IMAP data */
  NUL_APPENDED,      /* imap_message_encode_binary (): what APPEND stores */
} NulFetch;

typedef struct
{
  const char *name;
  const char *message;
  gsize message_length;
  NulFetch fetch;
  const char *section;
  const char *expected;
  gsize expected_length;
} NulCase;

#define NUL_MESSAGE(m) m, sizeof (m) - 1
#define NUL_TEXT(t) t, sizeof (t) - 1

/* BODY[] and its sections are the stored octets, NUL and all (RFC 9051
 * §6.4.5; FETCH sends a NUL as 0x80); BODYSTRUCTURE describes them as
 * stored; only BINARY decodes (RFC 3516 §4.2). What APPEND stores of a
 * message that holds NUL has its binary parts in base64 (RFC 3516
 * §4.4). */
static const NulCase nul_cases[] = {
  { "body-part-is-as-stored", NUL_MESSAGE (nul_single), NUL_BODY, "1",
    NUL_TEXT ("\0-\344\n\r\n\n") },
  { "body-mime-is-as-stored", NUL_MESSAGE (nul_single), NUL_BODY, "1.MIME",
    NUL_TEXT ("From: a@b.c\r\n"
              "Content-Type: application/octet-stream\r\n"
              "Content-Transfer-Encoding: binary\r\n"
              "\r\n") },
  { "whole-message-is-as-stored", NUL_MESSAGE (nul_single), NUL_BODY, "",
    NUL_TEXT ("From: a@b.c\r\n"
              "Content-Type: application/octet-stream\r\n"
              "Content-Transfer-Encoding: binary\r\n"
              "\r\n"
              "\0-\344\n\r\n\n") },
  { "bodystructure-says-binary", NUL_MESSAGE (nul_single), NUL_BODYSTRUCTURE,
    NULL,
    NUL_TEXT ("(\"application\" \"octet-stream\" NIL NIL NIL \"binary\" 7 "
              "NIL NIL NIL NIL)") },
  { "binary-is-the-stored-content", NUL_MESSAGE (nul_single), NUL_BINARY, "1",
    NUL_TEXT ("\0-\344\n\r\n\n") },
  { "binary-whole-message-says-binary", NUL_MESSAGE (nul_single), NUL_BINARY,
    "",
    NUL_TEXT ("From: a@b.c\r\n"
              "Content-Type: application/octet-stream\r\n"
              "Content-Transfer-Encoding: binary\r\n"
              "\r\n"
              "\0-\344\n\r\n\n") },
  { "other-parts-are-as-stored", NUL_MESSAGE (nul_multipart), NUL_BODY, "1",
    NUL_TEXT ("plain text") },
  { "the-part-with-nul-is-as-stored", NUL_MESSAGE (nul_multipart), NUL_BODY,
    "2", NUL_TEXT ("\0\1\2\0") },
  { "multipart-bodystructure", NUL_MESSAGE (nul_multipart), NUL_BODYSTRUCTURE,
    NULL,
    NUL_TEXT ("((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
              "\"7bit\" 10 0 NIL NIL NIL NIL)(\"image\" \"x-raw\" NIL NIL NIL "
              "\"binary\" 4 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") "
              "NIL NIL NIL)") },
  { "multipart-binary-part", NUL_MESSAGE (nul_multipart), NUL_BINARY, "2",
    NUL_TEXT ("\0\1\2\0") },
  { "appended-part-goes-base64", NUL_MESSAGE (nul_single), NUL_APPENDED, NULL,
    NUL_TEXT ("From: a@b.c\r\n"
              "Content-Type: application/octet-stream\r\n"
              "Content-Transfer-Encoding: base64\r\n"
              "\r\n"
              "AC3kCg0KCg==") },
  { "appended-only-the-part-with-nul-goes-base64", NUL_MESSAGE (nul_multipart),
    NUL_APPENDED, NULL,
    NUL_TEXT ("From: a@b.c\r\n"
              "Content-Type: multipart/mixed; boundary=b\r\n"
              "\r\n"
              "--b\r\n"
              "Content-Type: text/plain\r\n"
              "\r\n"
              "plain text\r\n"
              "--b\r\n"
              "Content-Type: image/x-raw\r\n"
              "Content-Transfer-Encoding: base64\r\n"
              "\r\n"
              "AAECAA==\r\n"
              "--b--\r\n") },
  /* no encoding can hold it: stored as sent */
  { "appended-nul-in-a-header-stays", NUL_MESSAGE (nul_header), NUL_APPENDED,
    NULL, NUL_MESSAGE (nul_header) },
  { "nul-in-a-header-is-as-stored", NUL_MESSAGE (nul_header), NUL_BODY,
    "HEADER",
    NUL_TEXT ("Subject: a\0b\r\n"
              "\r\n") },
};

static void
test_nul (gconstpointer data)
{
  const NulCase *c = data;
  g_autoptr (GBytes) stored = g_bytes_new (c->message, c->message_length);
  g_autoptr (ImapMessage) message = imap_message_new (stored);
  g_autoptr (GString) out = g_string_new (NULL);
  ImapSection section = { 0 };
  g_autoptr (GBytes) octets = NULL;
  g_autoptr (GError) error = NULL;
  gsize length = 0;
  const char *got = NULL;

  if (c->fetch == NUL_BODYSTRUCTURE)
    {
      imap_message_append_bodystructure (message, out, TRUE);
      assert_same_data (out, c->expected);
      return;
    }
  if (c->fetch == NUL_APPENDED)
    {
      octets = imap_message_encode_binary (message);
      g_assert_nonnull (octets);
      g_assert_cmpmem (g_bytes_get_data (octets, NULL),
                       g_bytes_get_size (octets), c->expected,
                       c->expected_length);
      return;
    }
  parse_section (c->section, &section);
  if (c->fetch == NUL_BODY)
    octets = imap_message_get_section (message, &section);
  else
    octets = imap_message_get_binary (message, &section, &error);
  g_assert_no_error (error);
  got = g_bytes_get_data (octets, &length);
  g_assert_cmpmem (got, length, c->expected, c->expected_length);
  imap_section_clear (&section);
}

/* ---- SEARCH text (RFC 9051 §6.4.4) ------------------------------------- */

typedef struct
{
  const char *file;
  const char *field;
  const char *expected; /* NULL: no such field */
} HeaderTextCase;

static const HeaderTextCase header_text_cases[] = {
  /* VALID: RFC 2047 words decoded, folding undone, 8-bit UTF-8 kept */
  { "search-latin1-base64", "Subject", "R\303\251union de fin d'ann\303\251e" },
  { "search-latin1-base64", "from", "Andr\303\251 <andre@example.fr>" },
  { "search-latin1-base64", "X-Tag", "first\nsecond" },
  { "headers-8bit-encoded-words", "Subject",
    "Gr\303\274\303\237e und Caf\303\251" },
  { "headers-8bit-encoded-words", "Bcc",
    "\303\234n\303\257c\303\266d\303\251 Name <uni@example.com>" },
  { "headers-8bit-encoded-words", "Reply-To", "" },
  { "multipart-mixed-with-attachment", "Content-Type",
    "multipart/mixed; boundary=\"=_b1\"" },
  /* INVALID: absent, or only in a part's header */
  { "search-latin1-base64", "Cc", NULL },
  { "mixed-headerless-part", "Content-Transfer-Encoding", NULL },
};

static void
test_header_text (gconstpointer data)
{
  const HeaderTextCase *c = data;
  g_autoptr (ImapMessage) message = load_message (c->file);
  g_autofree char *text = imap_message_get_header_text (message, c->field);

  g_assert_cmpstr (text, ==, c->expected);
}

typedef struct
{
  const char *file;
  const char *needle;
  gboolean include_headers; /* SEARCH TEXT, not BODY */
  gboolean expected;
} ContainsCase;

/* Each row is what Dovecot's SEARCH BODY or TEXT answers. */
static const ContainsCase contains_cases[] = {
  /* base64, ISO-8859-1, case-insensitive (g_utf8_casefold) */
  { "search-latin1-base64", "caf\303\251 est", FALSE, TRUE },
  { "search-latin1-base64", "CAF\303\211 EST", FALSE, TRUE },
  { "search-latin1-base64", "\303\240 bient\303\264t", FALSE, TRUE },
  { "search-latin1-base64", "", FALSE, TRUE },
  /* only text parts are text */
  { "search-latin1-base64", "secret-word", FALSE, FALSE },
  { "search-latin1-base64", "secret-word", TRUE, FALSE },
  /* headers, decoded, are in TEXT only */
  { "search-latin1-base64", "R\303\251union de", FALSE, FALSE },
  { "search-latin1-base64", "R\303\211UNION DE", TRUE, TRUE },
  { "search-latin1-base64", "X-Tag: second", TRUE, TRUE },
  { "search-latin1-base64", "content-type: text/plain", TRUE, TRUE },
  { "search-latin1-base64", "content-type: text/plain", FALSE, FALSE },
  /* quoted-printable is decoded, and the preamble is not a part */
  { "multipart-mixed-with-attachment", "Caf\303\251?", FALSE, TRUE },
  { "multipart-mixed-with-attachment", "=C3=A9", FALSE, FALSE },
  { "multipart-mixed-with-attachment", "multi-part message", FALSE, FALSE },
  { "multipart-mixed-with-attachment", "agenda.pdf", TRUE, TRUE },
  { "multipart-mixed-with-attachment", "agenda.pdf", FALSE, FALSE },
  /* text/html is text; an embedded message's header is a header */
  { "multipart-alternative", "html VERSION", FALSE, TRUE },
  { "headers-8bit-encoded-words", "K\303\226LN", FALSE, TRUE },
  { "nested-rfc822", "inner plain", FALSE, TRUE },
  { "nested-rfc822", "Subject: simple", FALSE, FALSE },
  { "nested-rfc822", "Subject: simple", TRUE, TRUE },
};

static void
test_contains (gconstpointer data)
{
  const ContainsCase *c = data;
  g_autoptr (ImapMessage) message = load_message (c->file);

  g_assert_cmpint (
      imap_message_body_contains (message, c->needle, c->include_headers), ==,
      c->expected);
}

/* SEARCH FROM, TO, CC and BCC match the addresses, not the raw field
 * (RFC 9051 §6.4.4: "the envelope structure's FROM field"), as Dovecot
 * does: imaptest's search-addresses finds <user (x)@ (y) domain.org>
 * with "user@domain.org". */
typedef struct
{
  const char *name;
  const char *header; /* the message's header */
  const char *expected;
} AddressTextCase;

static const AddressTextCase address_text_cases[] = {
  /* VALID */
  { "bare-addr-spec", "From: user@example.org\r\n", "user@example.org" },
  { "comments-in-an-addr-spec-go",
    "From: <user (comment)@ (comment) example.org>\r\n", "user@example.org" },
  { "comment-after-an-addr-spec-is-the-name",
    "From: user@example.org (Real Name)\r\n", "Real Name <user@example.org>" },
  { "quoted-display-name-unquoted", "From: \"Doe, John\" <j@d.example>\r\n",
    "Doe, John <j@d.example>" },
  { "encoded-word-name-is-decoded",
    "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.fr>\r\n",
    "Andr\303\251 <andre@example.fr>" },
  { "list-is-comma-separated", "To: a@b.example, Cee <c@d.example>\r\n",
    "a@b.example, Cee <c@d.example>" },
  { "groups-list-their-members",
    "To: team: a@b.example, c@d.example;,\r\n  other: e@f.example;\r\n",
    "team: a@b.example, c@d.example;, other: e@f.example;" },
  { "empty-group-keeps-its-name", "To: undisclosed:;\r\n", "undisclosed:;" },
  { "folded-over-lines", "To: Name\r\n <a@b.example>,\r\n\tc@d.example\r\n",
    "Name <a@b.example>, c@d.example" },
  { "every-field-on-its-line", "To: a@b.example\r\nTo: c@d.example\r\n",
    "a@b.example\nc@d.example" },
  { "route-is-kept", "To: <@relay.example:a@b.example>\r\n",
    "<@relay.example:a@b.example>" },
  /* RECOVERABLE */
  { "empty-field-is-empty", "To:\r\n", "" },
  /* INVALID */
  { "absent-field-is-null", "Cc: a@b.example\r\n", NULL },
};

static void
test_address_text (gconstpointer data)
{
  const AddressTextCase *c = data;
  g_autofree char *text = g_strdup_printf ("%s\r\nbody\r\n", c->header);
  g_autoptr (GBytes) stored = g_bytes_new (text, strlen (text));
  g_autoptr (ImapMessage) message = imap_message_new (stored);
  const char *field = g_str_has_prefix (c->header, "From") ? "From" : "To";
  g_autofree char *addresses = imap_message_get_address_text (message, field);

  g_assert_cmpstr (addresses, ==, c->expected);
}

typedef struct
{
  const char *file;
  const char *expected; /* YYYY-MM-DD, NULL: no date */
} SentDayCase;

static const SentDayCase sent_day_cases[] = {
  /* the sender's day: 2023-01-01 04:30 in UTC */
  { "search-latin1-base64", "2022-12-31" },
  /* Dovecot matches no SENTON for dates before 1970 */
  { "headers-8bit-encoded-words", "1969-02-13" },
  { "missing-content-type", "2000-01-01" },
  { "no-body", NULL },
};

static void
test_sent_day (gconstpointer data)
{
  const SentDayCase *c = data;
  g_autoptr (ImapMessage) message = load_message (c->file);
  gint64 day = 0;
  g_autoptr (GDateTime) date = NULL;
  g_autofree char *text = NULL;

  if (c->expected == NULL)
    {
      g_assert_false (imap_message_get_sent_day (message, &day));
      return;
    }
  g_assert_true (imap_message_get_sent_day (message, &day));
  date = g_date_time_new_from_unix_utc (day * 24 * 60 * 60);
  text = g_date_time_format (date, "%Y-%m-%d");
  g_assert_cmpstr (text, ==, c->expected);
}

/* ---- what each query reads (imap-message.h) ---------------------------- */

/* The queries that need only the top-level header, or only the octets,
 * asked of a fresh message (which must then have built no MIME tree) and
 * of one whose tree is built, with byte-identical answers. Every row runs
 * over every .eml file of tests/imap/files and the NUL messages, which
 * read no further than the others. */
typedef enum
{
  FAST_SECTION,      /* BODY[@arg] */
  FAST_ENVELOPE,     /* ENVELOPE */
  FAST_HEADER_TEXT,  /* imap_message_get_header_text (@arg) */
  FAST_ADDRESS_TEXT, /* imap_message_get_address_text (@arg) */
  FAST_SENT_DAY,     /* imap_message_get_sent_day () */
} FastQuery;

typedef struct
{
  const char *name;
  FastQuery query;
  const char *arg;
} FastCase;

static const FastCase fast_cases[] = {
  { "body", FAST_SECTION, "" },
  { "header", FAST_SECTION, "HEADER" },
  { "text", FAST_SECTION, "TEXT" },
  { "header-fields", FAST_SECTION,
    "HEADER.FIELDS (From To Subject Content-Type X-Nope)" },
  { "header-fields-not", FAST_SECTION, "HEADER.FIELDS.NOT (Subject Date)" },
  { "envelope", FAST_ENVELOPE, NULL },
  { "subject-text", FAST_HEADER_TEXT, "Subject" },
  { "content-type-text", FAST_HEADER_TEXT, "Content-Type" },
  { "x-tag-text", FAST_HEADER_TEXT, "X-Tag" },
  { "from-addresses", FAST_ADDRESS_TEXT, "From" },
  { "to-addresses", FAST_ADDRESS_TEXT, "To" },
  { "cc-addresses", FAST_ADDRESS_TEXT, "Cc" },
  { "bcc-addresses", FAST_ADDRESS_TEXT, "Bcc" },
  { "sent-day", FAST_SENT_DAY, NULL },
};

typedef struct
{
  GBytes *stored;
  const FastCase *query;
} FastRow;

static void
fast_row_free (gpointer data)
{
  FastRow *row = data;

  g_bytes_unref (row->stored);
  g_free (row);
}

/* The answer to @c as octets; NULL for "no such field", "no date". */
static GBytes *
ask (ImapMessage *message, const FastCase *c)
{
  ImapSection section = { 0 };
  GBytes *octets = NULL;
  GString *out = NULL;
  char *text = NULL;
  gint64 day = 0;

  switch (c->query)
    {
    case FAST_SECTION:
      parse_section (c->arg, &section);
      octets = imap_message_get_section (message, &section);
      imap_section_clear (&section);
      return octets;
    case FAST_ENVELOPE:
      out = g_string_new (NULL);
      imap_message_append_envelope (message, out);
      return g_string_free_to_bytes (out);
    case FAST_HEADER_TEXT:
    case FAST_ADDRESS_TEXT:
      text = c->query == FAST_HEADER_TEXT
                 ? imap_message_get_header_text (message, c->arg)
                 : imap_message_get_address_text (message, c->arg);
      return text != NULL ? g_bytes_new_take (text, strlen (text)) : NULL;
    case FAST_SENT_DAY:
      if (!imap_message_get_sent_day (message, &day))
        return NULL;
      text = g_strdup_printf ("%" G_GINT64_FORMAT, day);
      return g_bytes_new_take (text, strlen (text));
    default:
      g_assert_not_reached ();
    }
}

static void
test_fast_path (gconstpointer data)
{
  const FastRow *row = data;
  g_autoptr (ImapMessage) fast = imap_message_new (row->stored);
  g_autoptr (ImapMessage) full = imap_message_new (row->stored);
  g_autoptr (GString) scratch = g_string_new (NULL);
  g_autoptr (GBytes) got = NULL;
  g_autoptr (GBytes) expected = NULL;

  imap_message_append_bodystructure (full, scratch, TRUE);
  g_assert_cmpint (full->stage, ==, IMAP_MESSAGE_PARSED);
  expected = ask (full, row->query);
  got = ask (fast, row->query);
  if (expected == NULL || got == NULL)
    g_assert_true (expected == got);
  else
    g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got),
                     g_bytes_get_data (expected, NULL),
                     g_bytes_get_size (expected));
  /* BODY[] reads nothing, the others only the header */
  g_assert_cmpint (fast->stage, ==,
                   row->query->query == FAST_SECTION &&
                           row->query->arg[0] == '\0'
                       ? IMAP_MESSAGE_STORED
                       : IMAP_MESSAGE_SPLIT);
}

static void
add_fast_rows (const char *message_name, GBytes *stored)
{
  for (gsize i = 0; i < G_N_ELEMENTS (fast_cases); i++)
    {
      FastRow *row = g_new0 (FastRow, 1);
      g_autofree char *path = g_strdup_printf (
          "/imap/message/fast-path/%s/%s", message_name, fast_cases[i].name);

      row->stored = g_bytes_ref (stored);
      row->query = &fast_cases[i];
      g_test_add_data_func_full (path, row, test_fast_path, fast_row_free);
    }
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* One row per query for each .eml file of tests/imap/files, in name order, and
 * for each NUL message. */
static void
add_fast_cases (void)
{
  g_autofree char *dir =
      g_test_build_filename (G_TEST_DIST, "imap", "files", NULL);
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name = NULL;

  g_assert_nonnull (listing);
  while ((name = g_dir_read_name (listing)) != NULL)
    if (g_str_has_suffix (name, ".eml"))
      g_ptr_array_add (names, g_strndup (name, strlen (name) - 4));
  g_ptr_array_sort (names, compare_names);
  g_assert_cmpuint (names->len, >, 0);
  for (guint i = 0; i < names->len; i++)
    {
      g_autoptr (GBytes) stored = load_octets (names->pdata[i]);

      add_fast_rows (names->pdata[i], stored);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (nul_cases); i++)
    if (i == 0 || nul_cases[i].message != nul_cases[i - 1].message)
      {
        g_autoptr (GBytes) stored = g_bytes_new_static (
            nul_cases[i].message, nul_cases[i].message_length);
        g_autofree char *nul_name =
            g_strdup_printf ("nul-%s", nul_cases[i].name);

        add_fast_rows (nul_name, stored);
      }
}

/* BODY[] of a message without NUL is the stored octets, and TEXT a part
 * of them: references, not copies. */
static void
test_section_is_not_a_copy (void)
{
  g_autoptr (GBytes) stored = load_octets ("multipart-mixed-with-attachment");
  g_autoptr (ImapMessage) message = imap_message_new (stored);
  const char *octets = g_bytes_get_data (stored, NULL);
  ImapSection section = { 0 };
  g_autoptr (GBytes) whole = NULL;
  g_autoptr (GBytes) text = NULL;

  parse_section ("", &section);
  whole = imap_message_get_section (message, &section);
  imap_section_clear (&section);
  g_assert_true (g_bytes_get_data (whole, NULL) == (gconstpointer) octets);
  parse_section ("TEXT", &section);
  text = imap_message_get_section (message, &section);
  imap_section_clear (&section);
  g_assert_true (g_bytes_get_data (text, NULL) ==
                 (gconstpointer) (octets + message->header_end));
}

/* APPEND stores a message without NUL as it was sent, without parsing
 * it. */
static void
test_appended_without_nul_is_as_sent (void)
{
  g_autoptr (GBytes) stored = load_octets ("multipart-mixed-with-attachment");
  g_autoptr (ImapMessage) message = imap_message_new (stored);
  g_autoptr (GBytes) encoded = imap_message_encode_binary (message);

  g_assert_null (encoded);
  g_assert_cmpint (message->stage, ==, IMAP_MESSAGE_STORED);
}

/* ---- whatever arrives (RFC 2045 §5.2, RFC 2046 §5.1.1) ---------------- */

typedef struct
{
  const char *name;
  const char *message;
  const char *bodystructure;
} MalformedCase;

static const MalformedCase malformed_cases[] = {
  /* RECOVERABLE */
  { "empty-message", "",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 "
    "NIL NIL NIL NIL)" },
  { "no-header-at-all", "just text\r\n",
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 "
    "NIL NIL NIL NIL)" },
  { "bare-lf-line-ends",
    "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 "
    "NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)" },
  { "no-close-delimiter",
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nab\r\n",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1 "
    "NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)" },
  /* RFC 2046 §5.1.1: "--bb" is not a delimiter of "b" (Dovecot takes
   * it for one and answers two parts). */
  { "boundary-that-is-a-prefix",
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n"
    "--bb\r\n--b--\r\n",
    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0 "
    "NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)" },
  { "rfc822-part-that-is-empty", "Content-Type: message/rfc822\r\n\r\n",
    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL "
    "NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") "
    "NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 0 NIL NIL NIL NIL)" },
};

static void
test_malformed (gconstpointer data)
{
  const MalformedCase *c = data;
  g_autoptr (GBytes) octets =
      g_bytes_new_static (c->message, strlen (c->message));
  g_autoptr (ImapMessage) message = imap_message_new (octets);
  g_autoptr (GString) out = g_string_new (NULL);

  imap_message_append_bodystructure (message, out, TRUE);
  assert_same_data (out, c->bodystructure);
  g_string_truncate (out, 0);
  imap_message_append_envelope (message, out);
  assert_same_data (out, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
}

/* Nesting past IMAP_MESSAGE_MAX_DEPTH is not looked into: the deepest
 * multipart looked at is one opaque part. */
static void
test_deep_nesting (void)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GBytes) octets = NULL;
  g_autoptr (ImapMessage) message = NULL;
  g_autoptr (GString) out = g_string_new (NULL);
  guint depth = 0;

  for (guint i = 0; i < 1000; i++)
    g_string_append_printf (text,
                            "Content-Type: multipart/mixed; boundary=b%u\r\n"
                            "\r\n--b%u\r\n",
                            i, i);
  g_string_append (text, "\r\nleaf\r\n");
  octets = g_bytes_new (text->str, text->len);
  message = imap_message_new (octets);
  imap_message_append_bodystructure (message, out, TRUE);
  while (out->str[depth] == '(')
    depth++;
  g_assert_cmpuint (depth, ==, 101);
  g_assert_nonnull (strstr (out->str, "(\"multipart\" \"mixed\" "));
}

static void
add_cases (const char *prefix,
           const void *rows,
           gsize count,
           gsize size,
           const char *(*name) (const void *row),
           GTestDataFunc func)
{
  for (gsize i = 0; i < count; i++)
    {
      const void *row = (const char *) rows + i * size;
      g_autofree char *path = g_strdup_printf ("%s/%s", prefix, name (row));

      g_test_add_data_func (path, row, func);
    }
}

static const char *
structure_name (const void *row)
{
  return ((const StructureCase *) row)->file;
}

static const char *
section_name (const void *row)
{
  return ((const SectionCase *) row)->name;
}

static const char *
binary_name (const void *row)
{
  return ((const BinaryCase *) row)->name;
}

static const char *
quoted_printable_name (const void *row)
{
  return ((const QuotedPrintableCase *) row)->name;
}

static const char *
nul_name (const void *row)
{
  return ((const NulCase *) row)->name;
}

static const char *
address_text_name (const void *row)
{
  return ((const AddressTextCase *) row)->name;
}

static const char *
malformed_name (const void *row)
{
  return ((const MalformedCase *) row)->name;
}

#define ADD_CASES(prefix, rows, name, func)                                    \
  add_cases (prefix, rows, G_N_ELEMENTS (rows), sizeof (rows[0]), name, func)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  ADD_CASES ("/imap/message/envelope", structure_cases, structure_name,
             test_envelope);
  ADD_CASES ("/imap/message/bodystructure", structure_cases, structure_name,
             test_bodystructure);
  ADD_CASES ("/imap/message/body", structure_cases, structure_name, test_body);
  g_test_add_func ("/imap/message/envelope/8-bit-is-a-literal-quotes-escaped",
                   test_envelope_quoting);
  ADD_CASES ("/imap/message/section", section_cases, section_name,
             test_section);
  g_test_add_func ("/imap/message/section/empty-is-the-whole-message",
                   test_section_whole);
  ADD_CASES ("/imap/message/binary", binary_cases, binary_name, test_binary);
  g_test_add_func ("/imap/message/binary/multipart-message-is-as-stored",
                   test_binary_multipart);
  ADD_CASES ("/imap/message/binary/quoted-printable", quoted_printable_cases,
             quoted_printable_name, test_quoted_printable);
  ADD_CASES ("/imap/message/nul", nul_cases, nul_name, test_nul);
  ADD_CASES ("/imap/message/address-text", address_text_cases,
             address_text_name, test_address_text);
  for (guint i = 0; i < G_N_ELEMENTS (header_text_cases); i++)
    {
      g_autofree char *path = g_strdup_printf (
          "/imap/message/header-text/%s/%s", header_text_cases[i].file,
          header_text_cases[i].field);
      g_test_add_data_func (path, &header_text_cases[i], test_header_text);
    }
  for (guint i = 0; i < G_N_ELEMENTS (contains_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/imap/message/contains/%s/%u",
                                               contains_cases[i].file, i);
      g_test_add_data_func (path, &contains_cases[i], test_contains);
    }
  for (guint i = 0; i < G_N_ELEMENTS (sent_day_cases); i++)
    {
      g_autofree char *path =
          g_strdup_printf ("/imap/message/sent-day/%s", sent_day_cases[i].file);
      g_test_add_data_func (path, &sent_day_cases[i], test_sent_day);
    }
  ADD_CASES ("/imap/message/malformed", malformed_cases, malformed_name,
             test_malformed);
  g_test_add_func ("/imap/message/malformed/nesting-stops-at-the-limit",
                   test_deep_nesting);
  add_fast_cases ();
  g_test_add_func ("/imap/message/nul/appended-without-nul-is-as-sent",
                   test_appended_without_nul_is_as_sent);
  g_test_add_func ("/imap/message/fast-path/section-is-not-a-copy",
                   test_section_is_not_a_copy);
  return g_test_run ();
}
