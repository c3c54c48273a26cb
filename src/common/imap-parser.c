/* SPDX-License-Identifier: MIT
 * imap-parser.c: the IMAP grammar below the line level: the cursor over
 * untrusted octets, arguments, the message assembler, reading a message
 * from a connection, and string output (RFC 9051 §4, §9; RFC 7888 §3,
 * §4; RFC 3516 §4.2 literal8). Sequence sets and sections are in
 * imap-seqset.c; dates, modified UTF-7 and writing strings in imap-text.c;
 * the memory of parsed arguments in imap-arena.c (imap-parser-private.h).
 */
#include <string.h>

#include "imap-parser-private.h"
#include "imap-proto.h"

G_DEFINE_QUARK (imap_parser_error, imap_parser_error)

/* ---- a cursor over untrusted octets ------------------------------------ */

/* Every grammar reads through the cursor (ImapParser, in
 * imap-parser-private.h): it knows the length (the data may hold NUL) and
 * says where an error is. */

void
parser_init (ImapParser *p, const char *data, gsize length)
{
  p->data = data;
  p->length = length;
  p->pos = 0;
  p->depth = 0;
  p->lists_touch = FALSE;
  p->arena = NULL;
  p->stack = NULL;
}

/* The octet at the cursor, or -1 at the end. */
int
parser_peek (const ImapParser *p)
{
  return p->pos < p->length ? (guchar) p->data[p->pos] : -1;
}

gboolean
parser_skip (ImapParser *p, int c)
{
  if (parser_peek (p) != c)
    return FALSE;
  p->pos++;
  return TRUE;
}

/* "the end", "SP", "NUL", "octet 0x85" or "'x'": for error messages. */
static char *
describe_octet (int c)
{
  if (c < 0)
    return g_strdup ("the end");
  if (c == ' ')
    return g_strdup ("SP");
  if (c == '\0')
    return g_strdup ("NUL");
  if (c == '\r')
    return g_strdup ("CR");
  if (c == '\n')
    return g_strdup ("LF");
  if (c < 0x20 || c >= 0x7f)
    return g_strdup_printf ("octet 0x%02x", (guint) c);
  return g_strdup_printf ("'%c'", c);
}

/* Sets "offset N: expected @expected, found X" and returns FALSE. */
gboolean
parser_fail (const ImapParser *p, GError **error, const char *expected)
{
  g_autofree char *found = describe_octet (parser_peek (p));

  g_set_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX,
               "offset %" G_GSIZE_FORMAT ": expected %s, found %s", p->pos,
               expected, found);
  return FALSE;
}

/* Sets "offset N: @message" at the cursor and returns FALSE. */
gboolean
parser_fail_with (const ImapParser *p, GError **error, const char *message)
{
  g_set_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX,
               "offset %" G_GSIZE_FORMAT ": %s", p->pos, message);
  return FALSE;
}

/* Skips @c, or fails saying @expected. */
gboolean
parser_expect (ImapParser *p, int c, const char *expected, GError **error)
{
  return parser_skip (p, c) || parser_fail (p, error, expected);
}

/* The same as parser_fail (), for functions returning a pointer. */
gpointer
parser_fail_null (const ImapParser *p, GError **error, const char *expected)
{
  parser_fail (p, error, expected);
  return NULL;
}

/* RFC 9051 §9: number64 = 1*DIGIT, at most 2^63-1. */
gboolean
parse_number64 (ImapParser *p, guint64 *out, GError **error)
{
  gsize start = p->pos;
  guint64 value = 0;

  while (g_ascii_isdigit (parser_peek (p)))
    {
      guint digit = (guint) (parser_peek (p) - '0');

      if (value > ((guint64) G_MAXINT64 - digit) / 10)
        {
          p->pos = start;
          return parser_fail (p, error, "a number below 2^63");
        }
      value = value * 10 + digit;
      p->pos++;
    }
  if (p->pos == start)
    return parser_fail (p, error, "a number");
  *out = value;
  return TRUE;
}

/* RFC 9051 §9: nz-number = digit-nz *DIGIT, below 2^32. */
gboolean
parse_nz_number (ImapParser *p, guint32 *out, GError **error)
{
  gsize start = p->pos;
  guint64 value = 0;

  if (parser_peek (p) < '1' || parser_peek (p) > '9')
    return parser_fail (p, error, "a number from 1 to 4294967295");
  while (g_ascii_isdigit (parser_peek (p)))
    {
      value = value * 10 + (guint64) (parser_peek (p) - '0');
      if (value > G_MAXUINT32)
        {
          p->pos = start;
          return parser_fail (p, error, "a number from 1 to 4294967295");
        }
      p->pos++;
    }
  *out = (guint32) value;
  return TRUE;
}

/* ---- arguments (RFC 9051 §4, §9) --------------------------------------- */

/* An argument and its @length octets (copied from @octets when not NULL,
 * NUL-terminated) in one piece of the parser's arena (imap-arena.c). */
static ImapArg *
arg_new (ImapParser *p, ImapArgType type, const char *octets, gsize length)
{
  gsize room = type == IMAP_ARG_LIST ? 0 : length + 1;
  ImapArg *arg = imap_arena_alloc (p->arena, sizeof (ImapArg) + room);

  memset (arg, 0, sizeof *arg);
  arg->type = type;
  arg->arena = p->arena;
  if (type == IMAP_ARG_LIST)
    return arg;
  arg->data = (char *) (arg + 1);
  arg->length = length;
  if (octets != NULL)
    memcpy (arg->data, octets, length);
  arg->data[length] = '\0';
  return arg;
}

void
imap_arg_free (ImapArg *arg)
{
  if (arg != NULL && arg->arena != NULL)
    imap_arena_unref (arg->arena);
}

const char *
imap_arg_string (const ImapArg *arg)
{
  g_return_val_if_fail (arg != NULL, NULL);
  if (arg->type == IMAP_ARG_NIL)
    return NULL;
  return imap_arg_astring (arg);
}

const char *
imap_arg_astring (const ImapArg *arg)
{
  g_return_val_if_fail (arg != NULL, NULL);
  if (arg->type == IMAP_ARG_LIST)
    return NULL;
  /* only a literal8 may hold NUL (parse_literal ()) */
  if (arg->literal8 && memchr (arg->data, '\0', arg->length) != NULL)
    return NULL;
  return arg->data;
}

gboolean
imap_arg_is_atom (const ImapArg *arg, const char *word)
{
  g_return_val_if_fail (arg != NULL && word != NULL, FALSE);
  return arg->type == IMAP_ARG_ATOM &&
         g_ascii_strcasecmp (arg->data, word) == 0;
}

/* RFC 9051 §9 atom-specials other than SP and CTL: "(" ")" "{"
 * list-wildcards quoted-specials resp-specials. A switch, not strchr ():
 * this runs for every octet of every atom. */
static gboolean
is_atom_special (int c)
{
  switch (c)
    {
    case '(':
    case ')':
    case '{':
    case '%':
    case '*':
    case '"':
    case '\\':
    case ']':
      return TRUE;
    default:
      return FALSE;
    }
}

/* RFC 9051 §9 ATOM-CHAR: any CHAR except atom-specials. */
gboolean
is_strict_atom_char (int c)
{
  return c > 0x20 && c < 0x7f && !is_atom_special (c);
}

/* ATOM-CHAR widened by list-wildcards "%" "*" (LIST patterns, 1:*) and
 * resp-specials "]" (ASTRING-CHAR); "[" opens a section, see
 * scan_brackets (). */
static gboolean
is_atom_char (int c)
{
  if (c == '%' || c == '*' || c == ']')
    return TRUE;
  return is_strict_atom_char (c) && c != '[';
}

/* A QUOTED-CHAR that is neither an escape nor the closing DQUOTE, nor
 * what a quoted string may not hold (NUL, CR, LF). */
static inline gboolean
is_plain_quoted_char (char c)
{
  return c != '"' && c != '\\' && c != '\0' && c != '\r' && c != '\n';
}

/* RFC 9051 §9: quoted = DQUOTE *QUOTED-CHAR DQUOTE; QUOTED-CHAR = <any
 * TEXT-CHAR except quoted-specials> / "\" quoted-specials / UTF8-2..4.
 * The escapes are ASCII and escape ASCII, so the text is UTF-8 exactly
 * when its escaped form is: that is what gets checked. */
gboolean
scan_quoted_span (ImapParser *p,
                  const char **out_text,
                  gsize *out_length,
                  gsize *out_escapes,
                  GError **error)
{
  gsize open = p->pos++;
  gsize escapes = 0;
  gsize length;

  for (;;)
    {
      /* the octets that need no second look, read where they lie: every
       * quoted string of every FETCH response comes through here */
      while (p->pos < p->length && is_plain_quoted_char (p->data[p->pos]))
        p->pos++;
      if (parser_skip (p, '"'))
        break;
      if (parser_skip (p, '\\'))
        {
          int c = parser_peek (p);

          if (c != '\\' && c != '"')
            return parser_fail (p, error, "'\\' or '\"' after '\\'");
          escapes++;
          p->pos++;
          continue;
        }
      /* the end, NUL, CR or LF */
      g_autofree char *expected = g_strdup_printf (
          "'\"' closing the string at offset %" G_GSIZE_FORMAT, open);
      return parser_fail (p, error, expected);
    }
  length = p->pos - open - 2;
  if (!g_utf8_validate_len (p->data + open + 1, length, NULL))
    {
      p->pos = open;
      return parser_fail_with (p, error, "this quoted string is not UTF-8");
    }
  *out_text = p->data + open + 1;
  *out_length = length;
  *out_escapes = escapes;
  return TRUE;
}

/* Copies the quoted text @text (@length octets, still escaped) to @out
 * without its escapes; @out has room for the result and a NUL. */
static void
unescape_quoted (char *out, const char *text, gsize length)
{
  for (gsize i = 0; i < length; i++)
    {
      if (text[i] == '\\')
        i++;
      *out++ = text[i];
    }
  *out = '\0';
}

GString *
scan_quoted (ImapParser *p, GError **error)
{
  const char *text;
  gsize length;
  gsize escapes;
  GString *out;

  if (!scan_quoted_span (p, &text, &length, &escapes, error))
    return NULL;
  out = g_string_sized_new (length - escapes);
  unescape_quoted (out->str, text, length);
  out->len = length - escapes;
  return out;
}

/* RFC 9051 §6.4.5: section = "[" [section-spec] "]"; inside may be SP,
 * parentheses and quoted header-fld-names (an astring). */
static gboolean
scan_brackets (ImapParser *p, GError **error)
{
  gsize open = p->pos++;

  while (!parser_skip (p, ']'))
    {
      int c = parser_peek (p);

      if (c == '"')
        {
          const char *text;
          gsize length;
          gsize escapes;

          if (!scan_quoted_span (p, &text, &length, &escapes, error))
            return FALSE;
          continue;
        }
      if (c < 0x20 || c >= 0x7f || c == '[' || c == '{')
        {
          g_autofree char *expected = g_strdup_printf (
              "']' closing the '[' at offset %" G_GSIZE_FORMAT, open);
          return parser_fail (p, error, expected);
        }
      p->pos++;
    }
  return TRUE;
}

/* RFC 9051 §9: atom = 1*ATOM-CHAR (widened, see is_atom_char ());
 * flag = "\" atom, flag-perm = "\*"; nil = "NIL". */
static ImapArg *
parse_atom (ImapParser *p, GError **error)
{
  gsize start = p->pos;
  gboolean flag = parser_skip (p, '\\');
  gsize length;

  for (;;)
    {
      gsize bracket;

      /* the atom's plain octets, read where they lie (an atom is most of
       * what a message holds) */
      while (p->pos < p->length && is_atom_char ((guchar) p->data[p->pos]))
        p->pos++;
      bracket = p->pos;
      if (parser_peek (p) != '[')
        break;
      if (scan_brackets (p, NULL))
        continue;
      /* §9: "[" is an ATOM-CHAR too (a mailbox may be "a[}"), so one
       * that is never closed is just a character */
      p->pos = bracket + 1;
    }
  length = p->pos - start;
  if (length == (flag ? 1 : 0))
    return parser_fail_null (p, error,
                             flag ? "a flag name after '\\'"
                                  : "an atom, string, literal or list");
  if (length == 3 && g_ascii_strncasecmp (p->data + start, "NIL", 3) == 0)
    return arg_new (p, IMAP_ARG_NIL, p->data + start, 3);
  return arg_new (p, IMAP_ARG_ATOM, p->data + start, length);
}

static ImapArg *
parse_quoted (ImapParser *p, GError **error)
{
  const char *text;
  gsize length;
  gsize escapes;
  ImapArg *arg;

  if (!scan_quoted_span (p, &text, &length, &escapes, error))
    return NULL;
  arg = arg_new (p, IMAP_ARG_QUOTED, NULL, length - escapes);
  unescape_quoted (arg->data, text, length);
  return arg;
}

/* RFC 9051 §9: literal = "{" number64 ["+"] "}" CRLF *CHAR8 (no NUL);
 * RFC 7888 §3: "+" for a non-synchronising literal; RFC 3516 §4.2:
 * literal8 = "~{" number64 "}" CRLF *OCTET. */
static ImapArg *
parse_literal (ImapParser *p, gboolean literal8, GError **error)
{
  guint64 size = 0;
  const char *nul;
  ImapArg *arg;

  p->pos += literal8 ? 2 : 1;
  if (!parse_number64 (p, &size, error))
    return NULL;
  parser_skip (p, '+');
  if (!parser_skip (p, '}'))
    return parser_fail_null (p, error, "'}' ending the literal's length");
  if (!parser_skip (p, '\r') || !parser_skip (p, '\n'))
    return parser_fail_null (p, error, "CRLF after the literal's length");
  if (size > p->length - p->pos)
    {
      g_autofree char *expected =
          g_strdup_printf ("%" G_GUINT64_FORMAT " octets of literal", size);
      p->pos = p->length;
      return parser_fail_null (p, error, expected);
    }
  nul = literal8 ? NULL : memchr (p->data + p->pos, '\0', size);
  if (nul != NULL)
    {
      p->pos = (gsize) (nul - p->data);
      return parser_fail_null (p, error,
                               "CHAR8 in a literal (only a literal8 ~{n} "
                               "may hold NUL, RFC 3516 §4.2)");
    }
  arg = arg_new (p, IMAP_ARG_LITERAL, p->data + p->pos, size);
  arg->literal8 = literal8;
  p->pos += size;
  return arg;
}

static gboolean parse_elements (ImapParser *p, gssize open, GError **error);

/* The elements of the lists being parsed, the innermost list's last. A
 * list's elements gather here and go into an ImapArgList of their number
 * once its ")" is read: a GPtrArray that grows element by element is
 * reallocated at 2, 4, 8 and 16 elements, and those reallocations were a
 * tenth of what parsing a FETCH response cost (mw-trace). */
struct _ImapArgStack
{
  ImapArg **items;
  guint len;
  guint size;
  ImapArg *first[64]; /* enough for most messages: no allocation */
};

static void
stack_push (ImapArgStack *stack, ImapArg *arg)
{
  if (stack->len == stack->size)
    {
      ImapArg **bigger = g_new (ImapArg *, stack->size * 2);

      memcpy (bigger, stack->items, stack->len * sizeof *bigger);
      if (stack->items != stack->first)
        g_free (stack->items);
      stack->items = bigger;
      stack->size *= 2;
    }
  stack->items[stack->len++] = arg;
}

/* RFC 9051 §4.4: "(" [element *(SP element)] ")". */
static ImapArg *
parse_list (ImapParser *p, GError **error)
{
  ImapArg *arg;
  gsize open = p->pos;
  guint base;
  gboolean ok;

  if (p->depth == IMAP_PARSER_MAX_DEPTH)
    {
      g_set_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_TOO_DEEP,
                   "offset %" G_GSIZE_FORMAT ": lists nested deeper than %d",
                   p->pos, IMAP_PARSER_MAX_DEPTH);
      return NULL;
    }
  arg = arg_new (p, IMAP_ARG_LIST, NULL, 0);
  base = p->stack->len;
  p->depth++;
  p->pos++;
  ok = parse_elements (p, (gssize) open, error);
  p->depth--;
  if (ok)
    arg->list = imap_arena_new_list (p->arena, p->stack->items + base,
                                     p->stack->len - base);
  p->stack->len = base;
  return ok ? arg : NULL;
}

static ImapArg *
parse_element (ImapParser *p, GError **error)
{
  int c = parser_peek (p);

  if (c == '(')
    return parse_list (p, error);
  if (c == '"')
    return parse_quoted (p, error);
  if (c == '{')
    return parse_literal (p, FALSE, error);
  if (c == '~' && p->pos + 1 < p->length && p->data[p->pos + 1] == '{')
    return parse_literal (p, TRUE, error);
  return parse_atom (p, error);
}

/* After an element: SP and the next one, or what closes the sequence. */
static gboolean
fail_after_element (ImapParser *p, gssize open, GError **error)
{
  g_autofree char *expected = NULL;

  if (open < 0 && parser_peek (p) == ')')
    return parser_fail (p, error, "SP or the end (this ')' has no '(')");
  if (open < 0)
    return parser_fail (p, error, "SP or the end");
  expected = g_strdup_printf (
      "SP or ')' closing the '(' at offset %" G_GSIZE_FORMAT, (gsize) open);
  return parser_fail (p, error, expected);
}

/* Elements separated by exactly one SP, up to ")" when @open (the offset
 * of the "(") is not negative, else up to the end (the top level), pushed
 * on p->stack. */
static gboolean
parse_elements (ImapParser *p, gssize open, GError **error)
{
  int close = open >= 0 ? ')' : -1;

  if (parser_peek (p) == close)
    return close < 0 || parser_skip (p, close);
  for (;;)
    {
      ImapArg *arg = parse_element (p, error);

      if (arg == NULL)
        return FALSE;
      stack_push (p->stack, arg);
      if (parser_peek (p) == close)
        return close < 0 || parser_skip (p, close);
      /* RFC 9051 §9: "(" 1*address ")", "(" 1*body SP ...: only inside
       * a list */
      if (p->lists_touch && open >= 0 && arg->type == IMAP_ARG_LIST &&
          parser_peek (p) == '(')
        continue;
      if (!parser_skip (p, ' '))
        return fail_after_element (p, open, error);
      if (parser_peek (p) == close || parser_peek (p) == ' ')
        return parser_fail (p, error, "an argument after SP");
    }
}

static GPtrArray *
parse_args (const char *data,
            gsize length,
            gboolean lists_touch,
            GError **error)
{
  GPtrArray *args = NULL;
  ImapArgStack stack;
  ImapParser p;

  g_return_val_if_fail (data != NULL || length == 0, NULL);
  stack.items = stack.first;
  stack.len = 0;
  stack.size = G_N_ELEMENTS (stack.first);
  parser_init (&p, data, length);
  p.lists_touch = lists_touch;
  p.arena = imap_arena_new (length);
  p.stack = &stack;
  if (parse_elements (&p, -1, error))
    {
      /* every top-level argument holds the arena (imap-arena.c) */
      args = g_ptr_array_new_full (stack.len, (GDestroyNotify) imap_arg_free);
      for (guint i = 0; i < stack.len; i++)
        g_ptr_array_add (args, stack.items[i]);
      for (guint i = 0; i < stack.len; i++)
        imap_arena_ref (p.arena);
    }
  if (stack.items != stack.first)
    g_free (stack.items);
  /* the parser's hold: from here the top-level arguments hold the arena,
   * and without them (an empty list, or after an error) it goes now */
  imap_arena_unref (p.arena);
  return args;
}

GPtrArray *
imap_parse_args (const char *data, gsize length, GError **error)
{
  return parse_args (data, length, FALSE, error);
}

GPtrArray *
imap_parse_response_args (const char *data, gsize length, GError **error)
{
  return parse_args (data, length, TRUE, error);
}
/* ---- the assembler (RFC 9051 §4.3, RFC 7888 §3) ------------------------ */

void
imap_assembler_init (ImapAssembler *assembler, gsize max_size)
{
  memset (assembler, 0, sizeof *assembler);
  assembler->message = g_byte_array_new ();
  /* a GByteArray counts in guint */
  assembler->max_size = MIN (max_size, G_MAXUINT);
}

void
imap_assembler_clear (ImapAssembler *assembler)
{
  g_clear_pointer (&assembler->message, g_byte_array_unref);
}

static void
assembler_announce (ImapAssembler *assembler,
                    guint64 size,
                    gboolean non_sync,
                    gboolean literal8)
{
  assembler->literal = size;
  assembler->non_sync = non_sync;
  assembler->literal8 = literal8;
}

void
imap_assembler_reset (ImapAssembler *assembler)
{
  g_byte_array_set_size (assembler->message, 0);
  assembler_announce (assembler, 0, FALSE, FALSE);
}

/* RFC 3516 §4.2: literal8 = "~{" number64 "}": imap_proto_line_literal ()
 * finds the "{n}" or "{n+}", and a "~" before its "{" makes it literal8. */
static gboolean
line_literal (const char *line,
              gsize length,
              guint64 *out_size,
              gboolean *out_non_sync,
              gboolean *out_literal8)
{
  gsize open = length;

  if (!imap_proto_line_literal (line, length, out_size, out_non_sync))
    return FALSE;
  while (line[open - 1] != '{')
    open--;
  *out_literal8 = open >= 2 && line[open - 2] == '~';
  return TRUE;
}

gboolean
imap_assembler_add_line (ImapAssembler *assembler,
                         const char *line,
                         gsize length,
                         ImapAssembleStatus *out_status,
                         GError **error)
{
  gsize room = assembler->max_size - assembler->message->len;
  guint64 size = 0;
  gboolean non_sync = FALSE;
  gboolean literal8 = FALSE;
  gboolean announces = line_literal (line, length, &size, &non_sync, &literal8);

  assembler_announce (assembler, size, non_sync, literal8);
  if (length > room)
    {
      g_set_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_TOO_BIG,
                   "the command is over %" G_GSIZE_FORMAT " octets",
                   assembler->max_size);
      return FALSE;
    }
  room -= length;
  /* RFC 7888 §4: refuse on the announcement, before the octets come */
  if (announces && (room < 2 || size > room - 2))
    {
      g_set_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_TOO_BIG,
                   "a literal of %" G_GUINT64_FORMAT
                   " octets takes the command over %" G_GSIZE_FORMAT " octets",
                   size, assembler->max_size);
      return FALSE;
    }
  g_byte_array_append (assembler->message, (const guint8 *) line, length);
  if (announces)
    g_byte_array_append (assembler->message, (const guint8 *) "\r\n", 2);
  *out_status = announces ? IMAP_ASSEMBLE_LITERAL : IMAP_ASSEMBLE_COMPLETE;
  return TRUE;
}

void
imap_assembler_add_literal (ImapAssembler *assembler,
                            const void *data,
                            gsize length)
{
  g_return_if_fail (length == assembler->literal);
  g_byte_array_append (assembler->message, data, length);
  assembler_announce (assembler, 0, FALSE, FALSE);
}

/* ---- reading a message from a connection ------------------------------- */

static gboolean
read_message_line (MailStream *stream,
                   ImapAssembler *assembler,
                   char **out_first_line,
                   MailLineFlags *inout_flags,
                   ImapAssembleStatus *out_status,
                   GCancellable *cancellable,
                   GError **error)
{
  g_autofree char *line = NULL;
  gsize length = 0;
  MailLineFlags flags = MAIL_LINE_CRLF;

  if (!mail_stream_read_line (stream, &line, &length, &flags, cancellable,
                              error))
    return FALSE;
  *inout_flags |= flags;
  if (out_first_line != NULL)
    *out_first_line = g_strdup (line);
  return imap_assembler_add_line (assembler, line, length, out_status, error);
}

static gboolean
read_message_literal (MailStream *stream,
                      ImapAssembler *assembler,
                      ImapLiteralFunc on_literal,
                      gpointer user_data,
                      GCancellable *cancellable,
                      GError **error)
{
  g_autoptr (GBytes) octets = NULL;
  gsize room = assembler->max_size - assembler->message->len;

  /* RFC 9051 §4.3: the server says "+" (or refuses) before the client
   * sends a synchronising literal */
  if (on_literal != NULL &&
      !on_literal (assembler->literal, assembler->non_sync, user_data))
    {
      g_set_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_TOO_BIG,
                   "the literal of %" G_GUINT64_FORMAT " octets was refused",
                   assembler->literal);
      return FALSE;
    }
  octets = mail_stream_read_exact (stream, (gsize) assembler->literal, room,
                                   cancellable, error);
  if (octets == NULL)
    return FALSE;
  imap_assembler_add_literal (assembler, g_bytes_get_data (octets, NULL),
                              g_bytes_get_size (octets));
  return TRUE;
}

gboolean
imap_read_message (MailStream *stream,
                   ImapAssembler *assembler,
                   ImapLiteralFunc on_literal,
                   gpointer user_data,
                   char **out_first_line,
                   MailLineFlags *out_flags,
                   GCancellable *cancellable,
                   GError **error)
{
  ImapAssembleStatus status = IMAP_ASSEMBLE_LITERAL;
  MailLineFlags flags = MAIL_LINE_CRLF;
  gboolean first = TRUE;
  gboolean ok = TRUE;

  g_return_val_if_fail (stream != NULL && assembler != NULL, FALSE);
  imap_assembler_reset (assembler);
  if (out_first_line != NULL)
    *out_first_line = NULL;
  while (ok && status == IMAP_ASSEMBLE_LITERAL)
    {
      ok = read_message_line (stream, assembler, first ? out_first_line : NULL,
                              &flags, &status, cancellable, error);
      first = FALSE;
      if (ok && status == IMAP_ASSEMBLE_LITERAL)
        ok = read_message_literal (stream, assembler, on_literal, user_data,
                                   cancellable, error);
    }
  if (out_flags != NULL)
    *out_flags = flags;
  return ok;
}
