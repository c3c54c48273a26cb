/* SPDX-License-Identifier: MIT
 * test-imap-parser.c: the IMAP grammar shared by mw-imapd, mw-imap and
 * mw-trace: arguments, the assembler, reading a message off a connection,
 * sequence sets, sections, dates, modified UTF-7 and string output
 * (RFC 9051 §4, §6.4.5, §9; RFC 7888; RFC 3516 §4.2; RFC 5182; RFC 3501
 * §5.1.3). Every argument case also runs through the shared framer and
 * the assembler, whole and trickled byte by byte.
 */
#include <string.h>
#include <sys/socket.h>

#include "imap-parser.h"
#include "imap-proto.h"
#include "mail-line.h"

/* A string literal and its length, for test data that holds NUL. */
#define WITH_LENGTH(literal) literal, sizeof (literal) - 1

/* ---- arguments (RFC 9051 §4, §9) ------------------------------------- */

typedef struct
{
  const char *claim; /* the last part of the test path */
  const char *input;
  gsize length;     /* 0: strlen (input) */
  const char *tree; /* see dump_args (); NULL: an error is expected */
  ImapParserError error;
} ArgsCase;

static const ArgsCase args_cases[] = {
  /* VALID */
  { "nothing-is-an-empty-list", "", 0, "", 0 },
  { "atoms-are-split-on-sp", "INBOX a.b c", 0, "A<INBOX> A<a.b> A<c>", 0 },
  { "quoted-keeps-spaces", "\"hello world\"", 0, "Q<hello world>", 0 },
  { "quoted-unescapes-backslash-and-dquote", "\"a\\\\b\\\"c\"", 0, "Q<a\\b\"c>",
    0 },
  { "empty-quoted-is-a-string", "\"\"", 0, "Q<>", 0 },
  { "quoted-may-hold-utf8", "\"caf\xc3\xa9\"", 0, "Q<caf\xc3\xa9>", 0 },
  { "literal-holds-its-octets", "{5}\r\nhello", 0, "L<hello>", 0 },
  { "literal-may-hold-crlf", "{4}\r\na\r\nb x", 0, "L<a\r\nb> A<x>", 0 },
  { "empty-literal", "{0}\r\n", 0, "L<>", 0 },
  { "literal-plus-is-a-literal", "{5+}\r\nhello", 0, "L<hello>", 0 },
  { "literal8-may-hold-nul", WITH_LENGTH ("~{3}\r\na\0b"), "L8<a\\0b>", 0 },
  { "literal-looking-like-a-list-is-a-literal", "({2}\r\n()) x", 0,
    "(L<()>) A<x>", 0 },
  { "literals-between-atoms", "x {3}\r\nabc y", 0, "A<x> L<abc> A<y>", 0 },
  { "nil-is-case-insensitive", "NIL nil Nil", 0, "NIL<NIL> NIL<nil> NIL<Nil>",
    0 },
  { "quoted-nil-is-a-string", "\"NIL\" NILS", 0, "Q<NIL> A<NILS>", 0 },
  { "lists-nest", "(a (b (c)) ())", 0, "(A<a> (A<b> (A<c>)) ())", 0 },
  { "flags-are-atoms", "(\\Seen \\Deleted) \\*", 0,
    "(A<\\Seen> A<\\Deleted>) A<\\*>", 0 },
  { "list-wildcards-are-atoms", "\"\" * foo% %", 0, "Q<> A<*> A<foo%> A<%>",
    0 },
  { "sequence-sets-are-atoms", "1:* 2,4:7 $", 0, "A<1:*> A<2,4:7> A<$>", 0 },
  { "bracket-atom-keeps-spaces-and-parens",
    "BODY.PEEK[HEADER.FIELDS (From To)]<0.2048>", 0,
    "A<BODY.PEEK[HEADER.FIELDS (From To)]<0.2048>>", 0 },
  { "bracket-atom-in-a-list", "(FLAGS BODY[] BODY[1.TEXT] UID)", 0,
    "(A<FLAGS> A<BODY[]> A<BODY[1.TEXT]> A<UID>)", 0 },
  { "bracket-atom-may-quote-a-bracket", "BODY[HEADER.FIELDS (\"X]\")]", 0,
    "A<BODY[HEADER.FIELDS (\"X]\")]>", 0 },
  { "response-code-is-one-atom", "[UIDVALIDITY 3857529045] ok", 0,
    "A<[UIDVALIDITY 3857529045]> A<ok>", 0 },
  { "astring-may-hold-close-bracket", "a]b ~peter", 0, "A<a]b> A<~peter>", 0 },
  /* INVALID */
  { "unclosed-list-is-an-error", "(a b", 0, NULL, IMAP_PARSER_ERROR_SYNTAX },
  { "close-without-open-is-an-error", "a)", 0, NULL, IMAP_PARSER_ERROR_SYNTAX },
  { "trailing-sp-is-an-error", "a ", 0, NULL, IMAP_PARSER_ERROR_SYNTAX },
  { "leading-sp-is-an-error", " a", 0, NULL, IMAP_PARSER_ERROR_SYNTAX },
  { "two-sp-are-an-error", "a  b", 0, NULL, IMAP_PARSER_ERROR_SYNTAX },
  { "sp-before-close-is-an-error", "(a )", 0, NULL, IMAP_PARSER_ERROR_SYNTAX },
  { "nul-in-an-atom-is-an-error", WITH_LENGTH ("a\0b"), NULL,
    IMAP_PARSER_ERROR_SYNTAX },
  { "bare-cr-is-an-error", "a\rb", 0, NULL, IMAP_PARSER_ERROR_SYNTAX },
  { "ctl-in-an-atom-is-an-error", "a\001b", 0, NULL, IMAP_PARSER_ERROR_SYNTAX },
  { "8-bit-in-an-atom-is-an-error", "caf\xc3\xa9", 0, NULL,
    IMAP_PARSER_ERROR_SYNTAX },
  { "cr-in-quoted-is-an-error", "\"a\rb\"", 0, NULL, IMAP_PARSER_ERROR_SYNTAX },
  { "lf-in-quoted-is-an-error", "\"a\nb\"", 0, NULL, IMAP_PARSER_ERROR_SYNTAX },
  { "nul-in-quoted-is-an-error", WITH_LENGTH ("\"a\0b\""), NULL,
    IMAP_PARSER_ERROR_SYNTAX },
  { "unclosed-quoted-is-an-error", "\"abc", 0, NULL, IMAP_PARSER_ERROR_SYNTAX },
  { "unknown-escape-is-an-error", "\"a\\b\"", 0, NULL,
    IMAP_PARSER_ERROR_SYNTAX },
  { "quoted-not-utf8-is-an-error", "\"\xff\"", 0, NULL,
    IMAP_PARSER_ERROR_SYNTAX },
  { "short-literal-is-an-error", "{5}\r\nabc", 0, NULL,
    IMAP_PARSER_ERROR_SYNTAX },
  { "huge-literal-announcement-is-an-error", "{4294967295}\r\nab", 0, NULL,
    IMAP_PARSER_ERROR_SYNTAX },
  { "literal-needs-crlf", "{3}abc", 0, NULL, IMAP_PARSER_ERROR_SYNTAX },
  { "literal-needs-a-length", "{}\r\n", 0, NULL, IMAP_PARSER_ERROR_SYNTAX },
  { "literal-length-over-2^63-is-an-error", "{99999999999999999999}\r\n", 0,
    NULL, IMAP_PARSER_ERROR_SYNTAX },
  { "nul-in-a-plain-literal-is-an-error", WITH_LENGTH ("{3}\r\na\0b"), NULL,
    IMAP_PARSER_ERROR_SYNTAX },
  { "literal-longer-than-announced-is-an-error", "{3}\r\nabcd", 0, NULL,
    IMAP_PARSER_ERROR_SYNTAX },
  /* RFC 9051 §9: "[" is an ATOM-CHAR; the FETCH item parser refuses it */
  { "unclosed-bracket-is-a-plain-atom-char", "BODY[HEADER", 0, "A<BODY[HEADER>",
    0 },
  { "mailbox-with-unclosed-bracket-is-an-atom", "a[}", 0, "A<a[}>", 0 },
  { "brace-in-an-atom-is-an-error", "a{3}", 0, NULL, IMAP_PARSER_ERROR_SYNTAX },
  { "lone-backslash-is-an-error", "\\", 0, NULL, IMAP_PARSER_ERROR_SYNTAX },
  { "backslash-inside-an-atom-is-an-error", "a\\b", 0, NULL,
    IMAP_PARSER_ERROR_SYNTAX },
  { "quoted-glued-to-an-atom-is-an-error", "a\"b\"", 0, NULL,
    IMAP_PARSER_ERROR_SYNTAX },
};

static void dump_list (GString *out, const ImapArgList *list);

static void
dump_arg (GString *out, const ImapArg *arg)
{
  static const char *const names[] = { [IMAP_ARG_ATOM] = "A",
                                       [IMAP_ARG_QUOTED] = "Q",
                                       [IMAP_ARG_LITERAL] = "L",
                                       [IMAP_ARG_NIL] = "NIL" };

  if (arg->type == IMAP_ARG_LIST)
    {
      g_string_append_c (out, '(');
      dump_list (out, arg->list);
      g_string_append_c (out, ')');
      return;
    }
  g_string_append (out, names[arg->type]);
  g_string_append (out, arg->literal8 ? "8<" : "<");
  for (gsize i = 0; i < arg->length; i++)
    if (arg->data[i] == '\0')
      g_string_append (out, "\\0");
    else
      g_string_append_c (out, arg->data[i]);
  g_string_append_c (out, '>');
}

/* "A<atom> Q<quoted> L<literal> L8<literal8> NIL<nil> (A<in a list>)" */
static void
dump_list (GString *out, const ImapArgList *list)
{
  for (guint i = 0; i < list->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, ' ');
      dump_arg (out, list->pdata[i]);
    }
}

/* The same for the top-level arguments imap_parse_args () returns. */
static void
dump_args (GString *out, GPtrArray *args)
{
  ImapArgList view = imap_arg_list_view (args);

  dump_list (out, &view);
}

static char *
parse_to_tree (const char *data, gsize length, GError **error)
{
  g_autoptr (GPtrArray) args = imap_parse_args (data, length, error);
  GString *tree;

  if (args == NULL)
    return NULL;
  tree = g_string_new (NULL);
  dump_args (tree, args);
  return g_string_free (tree, FALSE);
}

typedef enum
{
  FRAMED_NEED_MORE,
  FRAMED_WHOLE,
  FRAMED_REFUSED, /* the assembler refused an announcement: for good */
} FramedStatus;

/* Feeds what the framer holds to the assembler: lines, and the literal
 * each one announces. */
static FramedStatus
assemble_pending (MailLineFramer *framer,
                  ImapAssembler *assembler,
                  gboolean *inout_in_literal)
{
  for (;;)
    {
      g_autofree char *line = NULL;
      g_autoptr (GError) error = NULL;
      ImapAssembleStatus status = IMAP_ASSEMBLE_COMPLETE;
      MailLineFlags flags;
      gsize length;

      if (*inout_in_literal)
        {
          g_autoptr (GBytes) octets =
              mail_line_framer_take_bytes (framer, assembler->literal);

          if (octets == NULL)
            return FRAMED_NEED_MORE;
          imap_assembler_add_literal (assembler,
                                      g_bytes_get_data (octets, NULL),
                                      g_bytes_get_size (octets));
          *inout_in_literal = FALSE;
        }
      if (mail_line_framer_take (framer, &line, &length, &flags) !=
          MAIL_LINE_COMPLETE)
        return FRAMED_NEED_MORE;
      if (!imap_assembler_add_line (assembler, line, length, &status, &error))
        return FRAMED_REFUSED;
      if (status == IMAP_ASSEMBLE_COMPLETE)
        return FRAMED_WHOLE;
      *inout_in_literal = TRUE;
    }
}

/* @input and CRLF through the framer and the assembler, whole or byte by
 * byte; the assembled message, or NULL if it never became whole (it
 * needs more octets, or announced a literal over the limit). */
static GByteArray *
assemble_trickled (const char *input, gsize length, gboolean trickle)
{
  g_autoptr (GByteArray) wire = g_byte_array_new ();
  MailLineFramer framer;
  ImapAssembler assembler;
  gboolean in_literal = FALSE;
  FramedStatus status = FRAMED_NEED_MORE;
  GByteArray *message = NULL;
  gsize step;

  g_byte_array_append (wire, (const guint8 *) input, length);
  g_byte_array_append (wire, (const guint8 *) "\r\n", 2);
  step = trickle ? 1 : wire->len;
  mail_line_framer_init (&framer, MAIL_LINE_MAX_IMAP);
  imap_assembler_init (&assembler, 1 << 20);
  for (gsize i = 0; i < wire->len && status == FRAMED_NEED_MORE; i += step)
    {
      mail_line_framer_push (&framer, wire->data + i,
                             MIN (step, wire->len - i));
      status = assemble_pending (&framer, &assembler, &in_literal);
    }
  if (status == FRAMED_WHOLE)
    message = g_byte_array_ref (assembler.message);
  imap_assembler_clear (&assembler);
  mail_line_framer_clear (&framer);
  return message;
}

static void
test_args_case (gconstpointer data)
{
  const ArgsCase *c = data;
  gsize length = c->length ? c->length : strlen (c->input);
  g_autoptr (GError) error = NULL;
  g_autofree char *tree = parse_to_tree (c->input, length, &error);

  g_assert_cmpstr (tree, ==, c->tree);
  if (c->tree == NULL)
    g_assert_error (error, IMAP_PARSER_ERROR, (gint) c->error);
  else
    g_assert_no_error (error);
  for (int trickle = 0; trickle <= 1; trickle++)
    {
      g_autoptr (GByteArray) message =
          assemble_trickled (c->input, length, trickle);
      g_autoptr (GError) framed_error = NULL;
      g_autofree char *framed = NULL;

      /* an invalid case may never become a whole message (a short
       * literal): a server would wait for the rest */
      if (c->tree == NULL && message == NULL)
        continue;
      g_assert_nonnull (message);
      if (c->tree != NULL)
        g_assert_cmpmem (message->data, message->len, c->input, length);
      framed = parse_to_tree ((const char *) message->data, message->len,
                              &framed_error);
      g_assert_cmpstr (framed, ==, c->tree);
      if (c->tree == NULL)
        g_assert_error (framed_error, IMAP_PARSER_ERROR, (gint) c->error);
    }
}

/* Errors say where and what was expected (RFC 9051 §7.1.3: the BAD text
 * is for a human). */
static void
test_args_error_says_where (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) args = imap_parse_args ("(a b", 4, &error);

  g_assert_null (args);
  g_assert_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX);
  g_assert_cmpstr (error->message, ==,
                   "offset 4: expected SP or ')' closing the '(' at offset 0, "
                   "found the end");
  g_clear_error (&error);
  args = imap_parse_args ("a\rb", 3, &error);
  g_assert_cmpstr (error->message, ==,
                   "offset 1: expected SP or the end, found CR");
}

static char *
nested_lists (guint depth)
{
  g_autofree char *open = g_strnfill (depth, '(');
  g_autofree char *close = g_strnfill (depth, ')');

  return g_strconcat (open, close, NULL);
}

static void
test_args_depth_limit_holds (void)
{
  g_autofree char *deepest = nested_lists (IMAP_PARSER_MAX_DEPTH);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) args =
      imap_parse_args (deepest, strlen (deepest), &error);

  g_assert_no_error (error);
  g_assert_cmpuint (args->len, ==, 1);
}

static void
test_args_too_deep_is_refused (void)
{
  /* far past the limit: refused at the limit, without recursing further */
  for (guint depth = IMAP_PARSER_MAX_DEPTH + 1; depth <= 100000; depth *= 50)
    {
      g_autofree char *deep = nested_lists (depth);
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) args =
          imap_parse_args (deep, strlen (deep), &error);

      g_assert_null (args);
      g_assert_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_TOO_DEEP);
    }
}

/* Elements wait on the parser's stack until their list closes
 * (imap-parser.c, ImapArgStack): lists of hundreds of elements, nested
 * inside each other and after an error, come out whole and in order. */
static void
test_args_long_lists_keep_their_order (void)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GString) dumped = g_string_new (NULL);
  g_autoptr (GString) expected = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) args = NULL;

  /* "a0 (b0 ... b199 (c0 ... c199) b200 ... b299) a1 ... a99" */
  for (guint i = 0; i < 100; i++)
    {
      g_string_append_printf (text, "%sa%u", i > 0 ? " " : "", i);
      for (guint j = 0; i == 0 && j < 300; j++)
        {
          g_string_append_printf (text, "%sb%u", j > 0 ? " " : " (", j);
          for (guint k = 0; j == 199 && k < 200; k++)
            g_string_append_printf (text, "%sc%u", k > 0 ? " " : " (", k);
          if (j == 199)
            g_string_append_c (text, ')');
        }
      if (i == 0)
        g_string_append_c (text, ')');
    }
  /* as dump_args () writes it: each atom as A<atom> */
  for (const char *c = text->str; *c != '\0'; c++)
    if (g_ascii_isalnum (*c) && (c == text->str || !g_ascii_isalnum (c[-1])))
      g_string_append_printf (expected, "A<%c", *c);
    else if (g_ascii_isalnum (*c) && !g_ascii_isalnum (c[1]))
      g_string_append_printf (expected, "%c>", *c);
    else
      g_string_append_c (expected, *c);
  args = imap_parse_args (text->str, text->len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (args->len, ==, 101);
  dump_args (dumped, args);
  g_assert_cmpstr (dumped->str, ==, expected->str);

  /* the same with an error at the end: nothing is kept, nothing leaks */
  g_string_append (text, " (x \"");
  g_clear_pointer (&args, g_ptr_array_unref);
  args = imap_parse_args (text->str, text->len, &error);
  g_assert_null (args);
  g_assert_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX);
}

/* RFC 9051 §9 body-type-mpart = 1*body SP media-subtype, env-from = "("
 * 1*address ")": in a server's data two lists may touch inside a list,
 * in a command they may not; an atom still needs its SP. */
static void
test_response_args_lists_may_touch (void)
{
  static const char data[] =
      "(BODYSTRUCTURE ((\"text\" \"plain\")(\"image\" \"png\") \"mixed\"))";
  static const char envelope_from[] =
      "((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\"))";
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) args =
      imap_parse_response_args (data, strlen (data), &error);
  g_autoptr (GPtrArray) strict = NULL;
  g_autoptr (GPtrArray) atom = NULL;
  g_autoptr (GPtrArray) top = NULL;
  g_autoptr (GPtrArray) addresses = NULL;
  g_autoptr (GString) tree = g_string_new (NULL);

  g_assert_no_error (error);
  dump_args (tree, args);
  g_assert_cmpstr (tree->str, ==,
                   "(A<BODYSTRUCTURE> ((Q<text> Q<plain>) (Q<image> Q<png>) "
                   "Q<mixed>))");
  strict = imap_parse_args (data, strlen (data), &error);
  g_assert_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX);
  g_assert_null (strict);
  g_clear_error (&error);
  atom = imap_parse_response_args ("(a)b", 4, &error);
  g_assert_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX);
  g_assert_null (atom);
  g_clear_error (&error);
  /* the arguments themselves still need their SP */
  top = imap_parse_response_args ("(a)(b)", 6, &error);
  g_assert_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX);
  g_assert_null (top);
  g_clear_error (&error);
  addresses =
      imap_parse_response_args (envelope_from, strlen (envelope_from), &error);
  g_assert_no_error (error);
  g_string_truncate (tree, 0);
  dump_args (tree, addresses);
  g_assert_cmpstr (
      tree->str, ==,
      "((NIL<NIL> NIL<NIL> Q<a> Q<b>) (NIL<NIL> NIL<NIL> Q<c> Q<d>))");
}

/* RFC 9051 §9: astring and nstring read the same octets differently. */
static void
test_args_string_views (void)
{
  static const char input[] = "nil \"x\" {2}\r\nab ~{3}\r\na\0b (y) z";
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) args =
      imap_parse_args (input, sizeof input - 1, &error);
  ImapArg *const *arg;

  g_assert_no_error (error);
  g_assert_cmpuint (args->len, ==, 6);
  arg = (ImapArg *const *) args->pdata;
  g_assert_null (imap_arg_string (arg[0]));
  g_assert_cmpstr (imap_arg_astring (arg[0]), ==, "nil");
  g_assert_cmpstr (imap_arg_string (arg[1]), ==, "x");
  g_assert_cmpstr (imap_arg_string (arg[2]), ==, "ab");
  g_assert_null (imap_arg_string (arg[3])); /* holds NUL */
  g_assert_null (imap_arg_astring (arg[4]));
  g_assert_cmpstr (imap_arg_string (arg[5]), ==, "z");
  g_assert_true (imap_arg_is_atom (arg[5], "Z"));
  g_assert_false (imap_arg_is_atom (arg[1], "x")); /* quoted, not an atom */
  g_assert_false (imap_arg_is_atom (arg[0], "nil"));
}

/* ---- the assembler (RFC 9051 §4.3, RFC 7888 §3, §4) ------------------ */

static void
add_line_ok (ImapAssembler *assembler,
             const char *line,
             ImapAssembleStatus expected)
{
  g_autoptr (GError) error = NULL;
  ImapAssembleStatus status = IMAP_ASSEMBLE_COMPLETE;

  g_assert_true (imap_assembler_add_line (assembler, line, strlen (line),
                                          &status, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, expected);
}

static void
test_assembler_lines_and_literals (void)
{
  const char *expected = "A1 LOGIN {5}\r\nalice {6+}\r\nsecret";
  ImapAssembler assembler;

  imap_assembler_init (&assembler, 4096);
  add_line_ok (&assembler, "A1 LOGIN {5}", IMAP_ASSEMBLE_LITERAL);
  g_assert_cmpuint (assembler.literal, ==, 5);
  g_assert_false (assembler.non_sync);
  imap_assembler_add_literal (&assembler, "alice", 5);
  add_line_ok (&assembler, " {6+}", IMAP_ASSEMBLE_LITERAL);
  g_assert_cmpuint (assembler.literal, ==, 6);
  g_assert_true (assembler.non_sync);
  imap_assembler_add_literal (&assembler, "secret", 6);
  add_line_ok (&assembler, "", IMAP_ASSEMBLE_COMPLETE);
  g_assert_cmpmem (assembler.message->data, assembler.message->len, expected,
                   strlen (expected));
  imap_assembler_clear (&assembler);
}

/* RFC 3516 §4.2 */
static void
test_assembler_literal8_is_reported (void)
{
  ImapAssembler assembler;

  imap_assembler_init (&assembler, 4096);
  add_line_ok (&assembler, "A1 APPEND INBOX ~{3}", IMAP_ASSEMBLE_LITERAL);
  g_assert_cmpuint (assembler.literal, ==, 3);
  g_assert_true (assembler.literal8);
  imap_assembler_add_literal (&assembler, "a\0b", 3);
  g_assert_false (assembler.literal8);
  add_line_ok (&assembler, "", IMAP_ASSEMBLE_COMPLETE);
  g_assert_cmpuint (assembler.message->len, ==, 25);
  imap_assembler_clear (&assembler);
}

/* RFC 7888 §4: the refusal comes on the announcement, nothing is added,
 * and a {4294967295} announcement allocates nothing. */
static void
test_assembler_literal_over_limit_is_refused (void)
{
  g_autoptr (GError) error = NULL;
  ImapAssembleStatus status = IMAP_ASSEMBLE_COMPLETE;
  const char *line = "A1 APPEND INBOX {4294967295+}";
  ImapAssembler assembler;

  imap_assembler_init (&assembler, 100);
  g_assert_false (imap_assembler_add_line (&assembler, line, strlen (line),
                                           &status, &error));
  g_assert_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_TOO_BIG);
  g_assert_cmpuint (assembler.message->len, ==, 0);
  g_assert_cmpuint (assembler.literal, ==, 4294967295u);
  g_assert_true (assembler.non_sync); /* its octets are coming anyway */
  imap_assembler_clear (&assembler);
}

/* A literal that ends exactly at max_size fits; one octet more does not. */
static void
test_assembler_limit_is_inclusive (void)
{
  g_autoptr (GError) error = NULL;
  ImapAssembleStatus status = IMAP_ASSEMBLE_COMPLETE;
  ImapAssembler assembler;

  imap_assembler_init (&assembler, 11); /* "x {4}" CRLF "abcd" */
  add_line_ok (&assembler, "x {4}", IMAP_ASSEMBLE_LITERAL);
  imap_assembler_add_literal (&assembler, "abcd", 4);
  add_line_ok (&assembler, "", IMAP_ASSEMBLE_COMPLETE);
  g_assert_cmpuint (assembler.message->len, ==, 11);
  imap_assembler_reset (&assembler);
  g_assert_cmpuint (assembler.message->len, ==, 0);
  g_assert_cmpuint (assembler.max_size, ==, 11);
  g_assert_false (
      imap_assembler_add_line (&assembler, "x {5}", 5, &status, &error));
  g_assert_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_TOO_BIG);
  g_clear_error (&error);
  g_assert_false (imap_assembler_add_line (&assembler, "0123456789ab", 12,
                                           &status, &error));
  g_assert_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_TOO_BIG);
  g_assert_cmpuint (assembler.message->len, ==, 0);
  imap_assembler_clear (&assembler);
}

/* ---- imap_read_message () over a socket pair ------------------------- */

typedef enum
{
  READ_OK,
  READ_TOO_BIG, /* IMAP_PARSER_ERROR_TOO_BIG */
  READ_CLOSED,  /* MAIL_LINE_ERROR_CLOSED */
} ReadOutcome;

typedef struct
{
  const char *claim;
  const char *wire;  /* what the client sends */
  gsize wire_length; /* 0: strlen (wire) */
  gboolean close;    /* the client closes after sending */
  gsize max_size;
  guint64 refuse_over; /* on_literal refuses literals larger than this */
  ReadOutcome outcome;
  const char *message; /* assembled, when READ_OK */
  gsize message_length;
  const char *first_line;
  guint literals_asked;
  MailLineFlags flags;
  const char *next_line; /* read after the message: where the read stopped */
} ReadCase;

#define NO_REFUSAL G_MAXUINT64

static const ReadCase read_cases[] = {
  /* VALID */
  { "two-literals-make-one-message",
    "A1 LOGIN {5}\r\nalice {6+}\r\nsecret\r\nA2 NOOP\r\n", 0, FALSE, 4096,
    NO_REFUSAL, READ_OK, "A1 LOGIN {5}\r\nalice {6+}\r\nsecret", 0,
    "A1 LOGIN {5}", 2, 0, "A2 NOOP" },
  { "literal8-may-hold-nul",
    WITH_LENGTH ("A3 APPEND INBOX ~{3}\r\na\0b\r\nA4 NOOP\r\n"), FALSE, 4096,
    NO_REFUSAL, READ_OK, WITH_LENGTH ("A3 APPEND INBOX ~{3}\r\na\0b"),
    "A3 APPEND INBOX ~{3}", 1, 0, "A4 NOOP" },
  { "crlf-inside-a-literal-ends-no-line",
    "A5 APPEND INBOX {6}\r\na\r\nb\r\n\r\nA6 NOOP\r\n", 0, FALSE, 4096,
    NO_REFUSAL, READ_OK, "A5 APPEND INBOX {6}\r\na\r\nb\r\n", 0,
    "A5 APPEND INBOX {6}", 1, 0, "A6 NOOP" },
  { "pipelined-commands-are-read-one-at-a-time", "B2 NOOP\r\nB3 NOOP\r\n", 0,
    FALSE, 4096, NO_REFUSAL, READ_OK, "B2 NOOP", 0, "B2 NOOP", 0, 0,
    "B3 NOOP" },
  /* RECOVERABLE: odd line ends are reported, the message still read */
  { "flags-of-every-line-are-joined", "B5 X\rY {1}\r\na\nB6 NOOP\r\n", 0, FALSE,
    4096, NO_REFUSAL, READ_OK, "B5 X\rY {1}\r\na", 0, "B5 X\rY {1}", 1,
    MAIL_LINE_BARE_CR | MAIL_LINE_BARE_LF, "B6 NOOP" },
  /* INVALID: refused before any octet of the literal is read */
  { "refused-literal-is-never-read", "A7 APPEND INBOX {20}\r\nA8 NOOP\r\n", 0,
    FALSE, 4096, 10, READ_TOO_BIG, NULL, 0, "A7 APPEND INBOX {20}", 1, 0,
    "A8 NOOP" },
  { "literal-over-max-size-is-refused-unasked",
    "A9 APPEND INBOX {4294967295}\r\nB1 NOOP\r\n", 0, FALSE, 4096, NO_REFUSAL,
    READ_TOO_BIG, NULL, 0, "A9 APPEND INBOX {4294967295}", 0, 0, "B1 NOOP" },
  { "peer-closing-inside-a-literal-is-closed", "B4 LOGIN {5}\r\nab", 0, TRUE,
    4096, NO_REFUSAL, READ_CLOSED, NULL, 0, "B4 LOGIN {5}", 1, 0, NULL },
};

typedef struct
{
  GSocketConnection *server;
  GSocketConnection *client;
  MailStream *stream;
  const ReadCase *c;
  gboolean trickle; /* the client writes one octet per write */
  guint literals_asked;
} ReadRun;

static GSocketConnection *
connection_from_fd (int fd)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = g_socket_new_from_fd (fd, &error);

  g_assert_no_error (error);
  return g_socket_connection_factory_create_connection (socket);
}

/* The client, in its own thread so that the reads and the writes
 * interleave as they do on a network. */
static gpointer
client_thread (gpointer data)
{
  ReadRun *run = data;
  const ReadCase *c = run->c;
  gsize length = c->wire_length ? c->wire_length : strlen (c->wire);
  gsize step = run->trickle ? 1 : length;
  GOutputStream *out =
      g_io_stream_get_output_stream (G_IO_STREAM (run->client));

  for (gsize i = 0; i < length; i += step)
    {
      g_autoptr (GError) error = NULL;

      if (!g_output_stream_write_all (out, c->wire + i, MIN (step, length - i),
                                      NULL, NULL, &error))
        break;
    }
  if (c->close)
    g_socket_shutdown (g_socket_connection_get_socket (run->client), FALSE,
                       TRUE, NULL);
  return NULL;
}

/* The server's side of RFC 9051 §4.3: "+" for a literal it accepts. */
static gboolean
on_literal (guint64 size, gboolean non_sync, gpointer user_data)
{
  ReadRun *run = user_data;

  run->literals_asked++;
  if (size > run->c->refuse_over)
    return FALSE;
  if (!non_sync)
    mail_stream_write_line (run->stream, "+ Ready");
  return TRUE;
}

static void
check_read_outcome (const ReadCase *c,
                    const ImapAssembler *assembler,
                    gboolean ok,
                    const GError *error)
{
  gsize length = c->message_length ? c->message_length
                 : c->message      ? strlen (c->message)
                                   : 0;

  if (c->outcome == READ_OK)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpmem (assembler->message->data, assembler->message->len,
                       c->message, length);
      return;
    }
  g_assert_false (ok);
  if (c->outcome == READ_TOO_BIG)
    g_assert_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_TOO_BIG);
  else
    g_assert_error (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_CLOSED);
}

static void
read_once (const ReadCase *c, gboolean trickle)
{
  ReadRun run = { .c = c, .trickle = trickle };
  g_autoptr (GError) error = NULL;
  g_autofree char *first_line = NULL;
  g_autofree char *next = NULL;
  MailLineFlags flags = MAIL_LINE_CRLF;
  ImapAssembler assembler;
  GThread *client;
  int fds[2];
  gboolean ok;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  run.server = connection_from_fd (fds[0]);
  run.client = connection_from_fd (fds[1]);
  run.stream = mail_stream_new (G_IO_STREAM (run.server), MAIL_LINE_MAX_IMAP);
  mail_stream_set_timeout (run.stream, 10);
  imap_assembler_init (&assembler, c->max_size);
  client = g_thread_new ("imap-client", client_thread, &run);
  ok = imap_read_message (run.stream, &assembler, on_literal, &run, &first_line,
                          &flags, NULL, &error);
  check_read_outcome (c, &assembler, ok, error);
  g_assert_cmpstr (first_line, ==, c->first_line);
  g_assert_cmpuint (run.literals_asked, ==, c->literals_asked);
  g_assert_cmpint (flags, ==, c->flags);
  if (c->next_line != NULL)
    {
      gsize length;

      g_clear_error (&error);
      g_assert_true (mail_stream_read_line (run.stream, &next, &length, &flags,
                                            NULL, &error));
      g_assert_cmpstr (next, ==, c->next_line);
    }
  g_thread_join (client);
  imap_assembler_clear (&assembler);
  mail_stream_free (run.stream);
  g_object_unref (run.server);
  g_object_unref (run.client);
}

static void
test_read_case (gconstpointer data)
{
  read_once (data, FALSE);
  read_once (data, TRUE);
}

/* ---- sequence sets (RFC 9051 §9, RFC 5182) ---------------------------- */

typedef struct
{
  const char *claim;
  const char *text;
  const char *ranges; /* "first:last,...", "*" for IMAP_SEQ_STAR; NULL:
                       * invalid */
} SeqsetCase;

static const SeqsetCase seqset_cases[] = {
  /* VALID */
  { "one-number", "1", "1:1" },
  { "a-range", "1:3", "1:3" },
  { "ranges-and-numbers", "1:3,5,7:*", "1:3,5:5,7:*" },
  { "star-alone", "*", "*:*" },
  { "star-first-is-kept-as-written", "*:3", "*:3" },
  { "reversed-range-is-kept-as-written", "5:3", "5:3" },
  { "largest-number", "4294967294", "4294967294:4294967294" },
  { "saved-result-is-dollar", "$", "$" },
  /* INVALID */
  { "empty-is-invalid", "", NULL },
  { "zero-is-invalid", "0", NULL },
  { "zero-in-a-range-is-invalid", "0:3", NULL },
  { "trailing-comma-is-invalid", "1,", NULL },
  { "leading-comma-is-invalid", ",1", NULL },
  { "empty-element-is-invalid", "1,,2", NULL },
  { "open-range-is-invalid", "1:", NULL },
  { "range-without-start-is-invalid", ":1", NULL },
  { "three-part-range-is-invalid", "1:2:3", NULL },
  { "leading-zero-is-invalid", "01", NULL },
  { "over-32-bits-is-invalid", "4294967296", NULL },
  { "words-are-invalid", "abc", NULL },
  { "sp-is-invalid", "1 2", NULL },
  { "dollar-in-a-list-is-invalid", "$,1", NULL },
  { "negative-is-invalid", "-1", NULL },
};

static void
test_seqset_case (gconstpointer data)
{
  const SeqsetCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (ImapSeqSet) set = imap_seqset_parse (c->text, &error);
  g_autoptr (GString) dump = g_string_new (NULL);

  if (c->ranges == NULL)
    {
      g_assert_null (set);
      g_assert_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX);
      return;
    }
  g_assert_no_error (error);
  if (set->saved)
    g_string_append (dump, "$");
  for (guint i = 0; i < set->ranges->len; i++)
    {
      ImapSeqRange *range = &g_array_index (set->ranges, ImapSeqRange, i);

      if (i > 0)
        g_string_append_c (dump, ',');
      if (range->first == IMAP_SEQ_STAR)
        g_string_append (dump, "*");
      else
        g_string_append_printf (dump, "%u", range->first);
      if (range->last == IMAP_SEQ_STAR)
        g_string_append (dump, ":*");
      else
        g_string_append_printf (dump, ":%u", range->last);
    }
  g_assert_cmpstr (dump->str, ==, c->ranges);
}

static gboolean
seqset_contains (const char *text, guint32 number, guint32 star)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ImapSeqSet) set = imap_seqset_parse (text, &error);

  g_assert_no_error (error);
  return imap_seqset_contains (set, number, star);
}

/* RFC 9051 §9: "*:3" is "3:*"; "*" is the largest number in use. */
static void
test_seqset_contains (void)
{
  g_assert_true (seqset_contains ("*:3", 3, 10));
  g_assert_true (seqset_contains ("*:3", 10, 10));
  g_assert_true (seqset_contains ("*:3", 7, 10));
  g_assert_false (seqset_contains ("*:3", 2, 10));
  g_assert_false (seqset_contains ("*:3", 11, 10));
  g_assert_true (seqset_contains ("5:3", 4, 10));
  g_assert_true (seqset_contains ("1:3,7", 7, 10));
  g_assert_false (seqset_contains ("1:3,7", 5, 10));
  g_assert_true (seqset_contains ("*", 10, 10));
  g_assert_false (seqset_contains ("*", 9, 10));
  /* RFC 9051 §6.4.9: 559:* holds the last UID even below 559 */
  g_assert_true (seqset_contains ("559:*", 20, 20));
  g_assert_false (seqset_contains ("3:5", 6, 10));
}

typedef struct
{
  const char *claim;
  guint32 numbers[8];
  gsize count;
  const char *text;
} FormatCase;

static const FormatCase format_cases[] = {
  { "runs-become-ranges", { 1, 2, 3, 7, 9, 10, 11, 12 }, 8, "1:3,7,9:12" },
  { "nothing-is-empty", { 0 }, 0, "" },
  { "one-number", { 5 }, 1, "5" },
  { "two-apart", { 4, 6 }, 2, "4,6" },
  { "up-to-the-largest-uid",
    { 4294967294u, 4294967295u },
    2,
    "4294967294:4294967295" },
};

static void
test_seqset_format_case (gconstpointer data)
{
  const FormatCase *c = data;
  g_autofree char *text = imap_seqset_format (c->numbers, c->count);

  g_assert_cmpstr (text, ==, c->text);
}

/* ---- sections (RFC 9051 §6.4.5) --------------------------------------- */

typedef struct
{
  const char *claim;
  const char *text; /* after "BODY[" */
  const char *dump; /* NULL: invalid */
} SectionCase;

static const SectionCase section_cases[] = {
  /* VALID */
  { "empty-is-the-whole-message", "]", "parts= ALL" },
  { "part-number", "1]", "parts=1 ALL" },
  { "nested-part-numbers", "1.2.3]", "parts=1.2.3 ALL" },
  { "header", "HEADER]", "parts= HEADER" },
  { "text", "text]", "parts= TEXT" },
  { "header-of-a-part", "1.2.HEADER]", "parts=1.2 HEADER" },
  { "mime-of-a-part", "4.MIME]", "parts=4 MIME" },
  { "header-fields", "HEADER.FIELDS (From To)]",
    "parts= HEADER.FIELDS fields=From,To" },
  { "header-fields-not-any-case", "header.fields.not (X-Spam)]",
    "parts= HEADER.FIELDS.NOT fields=X-Spam" },
  { "quoted-field-names", "2.HEADER.FIELDS (\"Subject\" Date)]",
    "parts=2 HEADER.FIELDS fields=Subject,Date" },
  { "partial", "]<0.100>", "parts= ALL partial=0.100" },
  { "partial-of-a-part", "1.TEXT]<10.5>", "parts=1 TEXT partial=10.5" },
  { "huge-partial-is-cut-to-32-bits", "]<99999999999.99999999999>",
    "parts= ALL partial=4294967295.4294967295" },
  /* INVALID */
  { "no-close-bracket-is-invalid", "", NULL },
  { "mime-without-part-is-invalid", "MIME]", NULL },
  { "part-zero-is-invalid", "0]", NULL },
  { "dot-without-text-is-invalid", "1.]", NULL },
  { "two-dots-are-invalid", "1..2]", NULL },
  { "unclosed-header-is-invalid", "HEADER", NULL },
  { "fields-need-a-list", "HEADER.FIELDS]", NULL },
  { "fields-need-a-name", "HEADER.FIELDS ()]", NULL },
  { "fields-need-a-close-paren", "HEADER.FIELDS (a b]", NULL },
  { "fields-need-one-sp", "HEADER.FIELDS(a)]", NULL },
  { "fields-need-single-sp-between", "HEADER.FIELDS (a  b)]", NULL },
  { "unknown-text-is-invalid", "HEADERS]", NULL },
  { "text-then-mime-is-invalid", "1.TEXT.MIME]", NULL },
  { "zero-length-partial-is-invalid", "]<0.0>", NULL },
  { "partial-needs-a-length", "]<1>", NULL },
  { "partial-needs-numbers", "]<a.1>", NULL },
  { "nothing-may-follow", "]x", NULL },
};

static void
test_section_case (gconstpointer data)
{
  static const char *const kinds[] = {
    [IMAP_SECTION_ALL] = "ALL",
    [IMAP_SECTION_HEADER] = "HEADER",
    [IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
    [IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
    [IMAP_SECTION_TEXT] = "TEXT",
    [IMAP_SECTION_MIME] = "MIME",
  };
  const SectionCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) dump = g_string_new ("parts=");
  ImapSection section;

  if (c->dump == NULL)
    {
      g_assert_false (imap_section_parse (c->text, &section, &error));
      g_assert_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX);
      return;
    }
  g_assert_true (imap_section_parse (c->text, &section, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < section.parts->len; i++)
    g_string_append_printf (dump, i > 0 ? ".%u" : "%u",
                            g_array_index (section.parts, guint32, i));
  g_string_append_printf (dump, " %s", kinds[section.kind]);
  if (section.fields != NULL)
    {
      g_autofree char *fields = g_strjoinv (",", section.fields);

      g_string_append_printf (dump, " fields=%s", fields);
    }
  if (section.has_partial)
    g_string_append_printf (dump, " partial=%u.%u", section.offset,
                            section.length);
  g_assert_cmpstr (dump->str, ==, c->dump);
  imap_section_clear (&section);
}

/* ---- dates (RFC 9051 §9 date, date-time) ------------------------------ */

typedef struct
{
  const char *claim;
  const char *text;
  gboolean valid;
  gint64 day; /* days since 1970-01-01 */
} DateCase;

static const DateCase date_cases[] = {
  /* VALID */
  { "one-digit-day", "1-Feb-1994", TRUE, 8797 },
  { "two-digit-day-any-case", "01-feb-1994", TRUE, 8797 },
  { "quoted", "\"1-Feb-1994\"", TRUE, 8797 },
  { "leap-day", "29-Feb-2000", TRUE, 11016 },
  { "before-1970", "31-Dec-1969", TRUE, -1 },
  /* INVALID */
  { "empty-is-invalid", "", FALSE, 0 },
  { "no-leap-day-in-1900", "29-Feb-1900", FALSE, 0 },
  { "day-32-is-invalid", "32-Jan-2000", FALSE, 0 },
  { "day-0-is-invalid", "0-Jan-2000", FALSE, 0 },
  { "unknown-month-is-invalid", "1-Foo-2000", FALSE, 0 },
  { "two-digit-year-is-invalid", "1-Feb-94", FALSE, 0 },
  { "three-digit-day-is-invalid", "123-Feb-1994", FALSE, 0 },
  { "trailing-sp-is-invalid", "1-Feb-1994 ", FALSE, 0 },
  { "one-dquote-is-invalid", "\"1-Feb-1994", FALSE, 0 },
  { "spaces-for-dashes-are-invalid", "1 Feb 1994", FALSE, 0 },
};

static void
test_date_case (gconstpointer data)
{
  const DateCase *c = data;
  g_autoptr (GError) error = NULL;
  gint64 day = 0;
  gboolean ok = imap_date_parse (c->text, &day, &error);

  g_assert_cmpint (ok, ==, c->valid);
  if (!c->valid)
    {
      g_assert_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX);
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpint (day, ==, c->day);
}

typedef struct
{
  const char *claim;
  const char *text;
  gboolean valid;
  gint64 time; /* Unix seconds */
  int zone;    /* minutes east of UTC */
} DateTimeCase;

static const DateTimeCase datetime_cases[] = {
  /* VALID */
  { "rfc-9051-example", "17-Jul-1996 02:44:25 -0700", TRUE, 837596665, -420 },
  { "quoted", "\"17-Jul-1996 02:44:25 -0700\"", TRUE, 837596665, -420 },
  { "sp-then-one-digit-day", " 7-Jul-1996 02:44:25 +0000", TRUE, 836707465, 0 },
  { "zero-then-one-digit-day-any-case", "07-jul-1996 02:44:25 +0000", TRUE,
    836707465, 0 },
  { "half-hour-zone", "17-Jul-1996 02:44:25 +0530", TRUE, 837551665, 330 },
  { "leap-day", "29-Feb-2024 12:00:00 +0100", TRUE, 1709204400, 60 },
  { "before-1970", "31-Dec-1969 23:59:59 +0000", TRUE, -1, 0 },
  /* INVALID */
  { "one-digit-day-needs-sp", "7-Jul-1996 02:44:25 +0000", FALSE, 0, 0 },
  { "hour-24-is-invalid", "17-Jul-1996 24:00:00 +0000", FALSE, 0, 0 },
  { "minute-60-is-invalid", "17-Jul-1996 02:60:00 +0000", FALSE, 0, 0 },
  { "one-digit-hour-is-invalid", "17-Jul-1996 2:44:25 +0000", FALSE, 0, 0 },
  { "zone-is-needed", "17-Jul-1996 02:44:25", FALSE, 0, 0 },
  { "zone-needs-a-sign", "17-Jul-1996 02:44:25 0700", FALSE, 0, 0 },
  { "zone-needs-four-digits", "17-Jul-1996 02:44:25 +07", FALSE, 0, 0 },
  { "zone-minute-60-is-invalid", "17-Jul-1996 02:44:25 +0760", FALSE, 0, 0 },
  { "two-sp-are-invalid", "17-Jul-1996  02:44:25 +0000", FALSE, 0, 0 },
  { "february-30-is-invalid", "30-Feb-1996 02:44:25 +0000", FALSE, 0, 0 },
  { "one-dquote-is-invalid", "\"17-Jul-1996 02:44:25 +0000", FALSE, 0, 0 },
};

static void
test_datetime_case (gconstpointer data)
{
  const DateTimeCase *c = data;
  g_autoptr (GError) error = NULL;
  gint64 time = 0;
  int zone = 0;
  gboolean ok = imap_datetime_parse (c->text, &time, &zone, &error);

  g_assert_cmpint (ok, ==, c->valid);
  if (!c->valid)
    {
      g_assert_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX);
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpint (time, ==, c->time);
  g_assert_cmpint (zone, ==, c->zone);
}

/* INTERNALDATE goes out in UTC and reads back to the same second. */
static void
test_datetime_format (void)
{
  static const struct
  {
    gint64 time;
    const char *text;
  } cases[] = {
    { 837596665, "17-Jul-1996 09:44:25 +0000" },
    { 0, "01-Jan-1970 00:00:00 +0000" },
    { -1, "31-Dec-1969 23:59:59 +0000" },
    { 1709204400, "29-Feb-2024 11:00:00 +0000" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = imap_datetime_format (cases[i].time);
      g_autoptr (GError) error = NULL;
      gint64 back = 0;
      int zone = 1;

      g_assert_cmpstr (text, ==, cases[i].text);
      g_assert_true (imap_datetime_parse (text, &back, &zone, &error));
      g_assert_no_error (error);
      g_assert_cmpint (back, ==, cases[i].time);
      g_assert_cmpint (zone, ==, 0);
    }
}

/* ---- modified UTF-7 (RFC 3501 §5.1.3) --------------------------------- */

typedef struct
{
  const char *claim;
  const char *mutf7;
  const char *utf8; /* NULL: @mutf7 is invalid */
} Mutf7Case;

static const Mutf7Case mutf7_cases[] = {
  /* VALID: both ways */
  { "ascii-stands-for-itself", "INBOX", "INBOX" },
  { "empty", "", "" },
  { "ampersand-is-ampersand-dash", "&-", "&" },
  { "ampersands-among-ascii", "a&-b&-&-", "a&b&&" },
  { "rfc-3501-example", "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
  { "one-accented-letter", "Entw&APw-rfe",
    "Entw\xc3\xbc"
    "rfe" },
  { "runs-between-ascii", "&AOk-t&AOk-", "\xc3\xa9t\xc3\xa9" },
  { "ampersand-right-after-a-run", "&AOk-&-", "\xc3\xa9&" },
  { "astral-plane-is-a-surrogate-pair", "&2D3eAA-", "\xf0\x9f\x98\x80" },
  { "control-characters-are-encoded", "a&AAE-b", "a\001b" },
  /* INVALID */
  { "lone-ampersand-is-invalid", "&", NULL },
  { "unterminated-run-is-invalid", "&U,BTFw", NULL },
  { "unit-cut-in-the-middle-is-invalid", "&U,BTF-", NULL },
  { "nonzero-leftover-bits-are-invalid", "&AOl-", NULL },
  { "encoded-printable-ascii-is-not-shortest", "&AGE-", NULL },
  { "encoded-ampersand-is-not-shortest", "&ACY-", NULL },
  { "two-adjacent-runs-are-a-null-shift", "&U,BTFw-&ZeVnLIqe-", NULL },
  { "slash-is-not-modified-base64", "&U/BTFw-", NULL },
  { "padding-is-invalid", "&U,BTFw=-", NULL },
  { "lone-high-surrogate-is-invalid", "&2D0-", NULL },
  { "lone-low-surrogate-is-invalid", "&3gA-", NULL },
  { "nul-is-invalid", "&AAA-", NULL },
  { "8-bit-is-invalid", "caf\xc3\xa9", NULL },
  { "raw-control-character-is-invalid", "a\tb", NULL },
};

static void
test_mutf7_case (gconstpointer data)
{
  const Mutf7Case *c = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *utf8 = imap_mutf7_to_utf8 (c->mutf7, &error);
  g_autofree char *mutf7 = NULL;

  g_assert_cmpstr (utf8, ==, c->utf8);
  if (c->utf8 == NULL)
    {
      g_assert_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX);
      return;
    }
  g_assert_no_error (error);
  mutf7 = imap_utf8_to_mutf7 (c->utf8);
  g_assert_cmpstr (mutf7, ==, c->mutf7);
}

/* ---- writing strings (RFC 9051 §4.3) ---------------------------------- */

typedef struct
{
  const char *claim;
  const char *text; /* NULL: NIL */
  gsize length;     /* 0: strlen (text) */
  gboolean allow_atom;
  gboolean utf8;
  const char *wire;
  gsize wire_length; /* 0: strlen (wire) */
} AppendCase;

static const AppendCase append_cases[] = {
  { "null-is-nil", NULL, 0, TRUE, FALSE, "NIL", 0 },
  { "atom-when-allowed", "INBOX", 0, TRUE, FALSE, "INBOX", 0 },
  { "quoted-when-atoms-are-not-allowed", "INBOX", 0, FALSE, FALSE, "\"INBOX\"",
    0 },
  { "the-word-nil-is-quoted", "nil", 0, TRUE, FALSE, "\"nil\"", 0 },
  { "empty-is-quoted", "", 0, TRUE, FALSE, "\"\"", 0 },
  { "sp-needs-quotes", "a b", 0, TRUE, FALSE, "\"a b\"", 0 },
  { "wildcards-need-quotes", "1:*", 0, TRUE, FALSE, "\"1:*\"", 0 },
  { "backslash-and-dquote-are-escaped", "a\"b\\c", 0, TRUE, FALSE,
    "\"a\\\"b\\\\c\"", 0 },
  { "crlf-needs-a-literal", "a\r\nb", 0, TRUE, FALSE, "{4}\r\na\r\nb", 0 },
  { "8-bit-needs-a-literal", "caf\xc3\xa9", 0, TRUE, FALSE,
    "{5}\r\ncaf\xc3\xa9", 0 },
  { "utf8-may-be-quoted", "caf\xc3\xa9", 0, TRUE, TRUE, "\"caf\xc3\xa9\"", 0 },
  { "invalid-utf8-needs-a-literal", "\xff", 0, TRUE, TRUE, "{1}\r\n\xff", 0 },
  { "nul-needs-a-literal8", WITH_LENGTH ("a\0b"), TRUE, FALSE,
    WITH_LENGTH ("~{3}\r\na\0b") },
};

/* What was written parses back to the same string. */
static void
test_append_case (gconstpointer data)
{
  const AppendCase *c = data;
  gsize length = c->length ? c->length : c->text ? strlen (c->text) : 0;
  gsize wire_length = c->wire_length ? c->wire_length : strlen (c->wire);
  g_autoptr (GString) out = g_string_new ("x");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) args = NULL;
  ImapArg *arg;

  imap_append_string (out, c->text, length, c->allow_atom, c->utf8);
  g_assert_cmpmem (out->str + 1, out->len - 1, c->wire, wire_length);
  args = imap_parse_args (out->str + 1, out->len - 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (args->len, ==, 1);
  arg = g_ptr_array_index (args, 0);
  if (c->text == NULL)
    {
      g_assert_cmpint (arg->type, ==, IMAP_ARG_NIL);
      return;
    }
  g_assert_cmpint (arg->type, !=, IMAP_ARG_NIL);
  g_assert_cmpmem (arg->data, arg->length, c->text, length);
}

/* ---- main ------------------------------------------------------------- */

/* Every table row starts with its claim: the last part of its path. */
static void
add_cases (const char *prefix,
           const void *table,
           gsize row_size,
           gsize count,
           GTestDataFunc func)
{
  for (gsize i = 0; i < count; i++)
    {
      const char *row = (const char *) table + i * row_size;
      g_autofree char *path =
          g_strdup_printf ("%s/%s", prefix, *(const char *const *) row);

      g_test_add_data_func (path, row, func);
    }
}

/* ---- responses (imap-proto.h, RFC 9051 §7) ---------------------------- */

static void
test_response_tagged_with_code (void)
{
  ImapResponse response = { 0 };

  g_assert_true (imap_proto_parse_response (
      "a1 ok [uidvalidity 3857529045] UIDs valid", &response));
  g_assert_cmpint (response.kind, ==, IMAP_RESPONSE_TAGGED);
  g_assert_cmpstr (response.tag, ==, "a1"); /* a tag keeps its case */
  g_assert_cmpint (response.status, ==, IMAP_STATUS_OK);
  g_assert_cmpstr (response.code, ==, "UIDVALIDITY");
  g_assert_cmpstr (response.code_args, ==, "3857529045");
  g_assert_cmpstr (response.text, ==, "UIDs valid");
  imap_response_clear (&response);
  g_assert_null (response.tag);
  g_assert_null (response.code);
}

static void
test_response_untagged_keyword (void)
{
  ImapResponse response = { 0 };

  g_assert_true (imap_proto_parse_response ("* 23 exists", &response));
  g_assert_cmpint (response.kind, ==, IMAP_RESPONSE_UNTAGGED);
  g_assert_cmpstr (response.keyword, ==, "EXISTS");
  g_assert_true (response.has_number);
  g_assert_cmpuint (response.number, ==, 23);
  imap_response_clear (&response);
}

/* The words are kept in the response while they fit, and allocated when
 * they do not (a long [CAPABILITY ...]); clearing frees only those, and
 * the same response parses the next line as well. */
static void
test_response_long_code_args (void)
{
  ImapResponse response = { 0 };
  g_autoptr (GString) capabilities = g_string_new ("IMAP4rev1");
  g_autofree char *line = NULL;

  while (capabilities->len < 3 * sizeof response.words)
    g_string_append (capabilities, " AUTH=PLAIN X-LONG-EXTENSION");
  line = g_strdup_printf ("* OK [CAPABILITY %s] ready", capabilities->str);
  g_assert_true (imap_proto_parse_response (line, &response));
  g_assert_cmpstr (response.code, ==, "CAPABILITY");
  g_assert_cmpstr (response.code_args, ==, capabilities->str);
  g_assert_cmpstr (response.text, ==, "ready");
  imap_response_clear (&response);
  g_assert_true (imap_proto_parse_response ("t2 NO [ALERT] full", &response));
  g_assert_cmpstr (response.tag, ==, "t2");
  g_assert_cmpstr (response.code, ==, "ALERT");
  g_assert_null (response.code_args);
  imap_response_clear (&response);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  add_cases ("/imap/parser/args", args_cases, sizeof args_cases[0],
             G_N_ELEMENTS (args_cases), test_args_case);
  g_test_add_func ("/imap/parser/args/error-says-offset-and-expectation",
                   test_args_error_says_where);
  g_test_add_func ("/imap/parser/args/lists-nest-up-to-the-depth-limit",
                   test_args_depth_limit_holds);
  g_test_add_func ("/imap/parser/args/lists-past-the-depth-limit-are-refused",
                   test_args_too_deep_is_refused);
  g_test_add_func ("/imap/parser/args/astring-nstring-and-atom-views",
                   test_args_string_views);
  g_test_add_func ("/imap/parser/args/long-lists-keep-their-order",
                   test_args_long_lists_keep_their_order);
  g_test_add_func ("/imap/parser/response-args/lists-may-touch",
                   test_response_args_lists_may_touch);
  g_test_add_func ("/imap/parser/assembler/lines-and-literals-make-a-message",
                   test_assembler_lines_and_literals);
  g_test_add_func ("/imap/parser/assembler/literal8-is-reported",
                   test_assembler_literal8_is_reported);
  g_test_add_func ("/imap/parser/assembler/literal-over-limit-is-refused",
                   test_assembler_literal_over_limit_is_refused);
  g_test_add_func ("/imap/parser/assembler/limit-is-inclusive",
                   test_assembler_limit_is_inclusive);
  add_cases ("/imap/parser/read", read_cases, sizeof read_cases[0],
             G_N_ELEMENTS (read_cases), test_read_case);
  add_cases ("/imap/parser/seqset", seqset_cases, sizeof seqset_cases[0],
             G_N_ELEMENTS (seqset_cases), test_seqset_case);
  g_test_add_func ("/imap/parser/seqset/contains-treats-star-as-largest",
                   test_seqset_contains);
  add_cases ("/imap/parser/seqset/format", format_cases, sizeof format_cases[0],
             G_N_ELEMENTS (format_cases), test_seqset_format_case);
  add_cases ("/imap/parser/section", section_cases, sizeof section_cases[0],
             G_N_ELEMENTS (section_cases), test_section_case);
  add_cases ("/imap/parser/date", date_cases, sizeof date_cases[0],
             G_N_ELEMENTS (date_cases), test_date_case);
  add_cases ("/imap/parser/date-time", datetime_cases, sizeof datetime_cases[0],
             G_N_ELEMENTS (datetime_cases), test_datetime_case);
  g_test_add_func ("/imap/parser/date-time/format-is-utc-and-reads-back",
                   test_datetime_format);
  g_test_add_func ("/imap/proto/response/tagged-with-code",
                   test_response_tagged_with_code);
  g_test_add_func ("/imap/proto/response/untagged-keyword-in-upper-case",
                   test_response_untagged_keyword);
  g_test_add_func ("/imap/proto/response/long-code-args-are-allocated",
                   test_response_long_code_args);
  add_cases ("/imap/parser/mutf7", mutf7_cases, sizeof mutf7_cases[0],
             G_N_ELEMENTS (mutf7_cases), test_mutf7_case);
  add_cases ("/imap/parser/append-string", append_cases, sizeof append_cases[0],
             G_N_ELEMENTS (append_cases), test_append_case);
  return g_test_run ();
}
