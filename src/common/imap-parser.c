/* SPDX-License-Identifier: MIT
 * imap-parser.c: the IMAP grammar below the line level: arguments, the
 * message assembler, sequence sets, FETCH sections, dates, modified UTF-7
 * and string output (RFC 9051 §4, §6.4.5, §9; RFC 7888 §3, §4; RFC 3516
 * §4.2; RFC 5182; RFC 3501 §5.1.3; RFC 6855 §3).
 */
#include "imap-parser.h"

#include <string.h>

#include "imap-proto.h"

G_DEFINE_QUARK (imap_parser_error, imap_parser_error)

/* ---- a cursor over untrusted octets ------------------------------------ */

/* Every grammar here reads through this: it knows the length (the data may
 * hold NUL) and says where an error is. */
typedef struct
{
  const char *data;
  gsize length;
  gsize pos;
  guint depth;          /* lists open around pos */
  gboolean lists_touch; /* "(a)(b)" is two lists (a server's data) */
} ImapParser;

static void
parser_init (ImapParser *p, const char *data, gsize length)
{
  p->data = data;
  p->length = length;
  p->pos = 0;
  p->depth = 0;
  p->lists_touch = FALSE;
}

/* The octet at the cursor, or -1 at the end. */
static int
parser_peek (const ImapParser *p)
{
  return p->pos < p->length ? (guchar) p->data[p->pos] : -1;
}

static gboolean
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
static gboolean
parser_fail (const ImapParser *p, GError **error, const char *expected)
{
  g_autofree char *found = describe_octet (parser_peek (p));

  g_set_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX,
               "offset %" G_GSIZE_FORMAT ": expected %s, found %s", p->pos,
               expected, found);
  return FALSE;
}

/* Sets "offset N: @message" at the cursor and returns FALSE. */
static gboolean
parser_fail_with (const ImapParser *p, GError **error, const char *message)
{
  g_set_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX,
               "offset %" G_GSIZE_FORMAT ": %s", p->pos, message);
  return FALSE;
}

/* Skips @c, or fails saying @expected. */
static gboolean
parser_expect (ImapParser *p, int c, const char *expected, GError **error)
{
  return parser_skip (p, c) || parser_fail (p, error, expected);
}

/* The same as parser_fail (), for functions returning a pointer. */
static gpointer
parser_fail_null (const ImapParser *p, GError **error, const char *expected)
{
  parser_fail (p, error, expected);
  return NULL;
}

/* RFC 9051 §9: number64 = 1*DIGIT, at most 2^63-1. */
static gboolean
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
static gboolean
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

static ImapArg *
arg_new (ImapArgType type, char *data, gsize length)
{
  ImapArg *arg = g_new0 (ImapArg, 1);

  arg->type = type;
  arg->data = data;
  arg->length = length;
  return arg;
}

void
imap_arg_free (ImapArg *arg)
{
  if (arg == NULL)
    return;
  g_free (arg->data);
  g_clear_pointer (&arg->list, g_ptr_array_unref);
  g_free (arg);
}

static GPtrArray *
arg_list_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) imap_arg_free);
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
  if (memchr (arg->data, '\0', arg->length) != NULL)
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

/* RFC 9051 §9 ATOM-CHAR: any CHAR except atom-specials
 * "(" ")" "{" SP CTL list-wildcards quoted-specials resp-specials. */
static gboolean
is_strict_atom_char (int c)
{
  return c > 0x20 && c < 0x7f && strchr ("(){%*\"\\]", c) == NULL;
}

/* ATOM-CHAR widened by list-wildcards "%" "*" (LIST patterns, 1:*) and
 * resp-specials "]" (ASTRING-CHAR); "[" opens a section, see
 * scan_brackets (). */
static gboolean
is_atom_char (int c)
{
  return c > 0x20 && c < 0x7f && strchr ("(){\"\\[", c) == NULL;
}

/* RFC 9051 §9: quoted = DQUOTE *QUOTED-CHAR DQUOTE; QUOTED-CHAR = <any
 * TEXT-CHAR except quoted-specials> / "\" quoted-specials / UTF8-2..4.
 * Returns the unescaped text, or NULL. */
static GString *
scan_quoted (ImapParser *p, GError **error)
{
  g_autoptr (GString) text = g_string_new (NULL);
  gsize open = p->pos++;

  while (!parser_skip (p, '"'))
    {
      int c = parser_peek (p);

      if (c == '\\')
        {
          p->pos++;
          c = parser_peek (p);
          if (c != '\\' && c != '"')
            return parser_fail_null (p, error, "'\\' or '\"' after '\\'");
        }
      else if (c <= 0 || c == '\r' || c == '\n')
        {
          g_autofree char *expected = g_strdup_printf (
              "'\"' closing the string at offset %" G_GSIZE_FORMAT, open);
          return parser_fail_null (p, error, expected);
        }
      g_string_append_c (text, (char) c);
      p->pos++;
    }
  if (!g_utf8_validate_len (text->str, text->len, NULL))
    {
      p->pos = open;
      parser_fail_with (p, error, "this quoted string is not UTF-8");
      return NULL;
    }
  return g_steal_pointer (&text);
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
          g_autoptr (GString) quoted = scan_quoted (p, error);

          if (quoted == NULL)
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

  while (is_atom_char (parser_peek (p)) || parser_peek (p) == '[')
    {
      gsize bracket = p->pos;

      if (parser_peek (p) == '[' && scan_brackets (p, NULL))
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
    return arg_new (IMAP_ARG_NIL, g_strndup (p->data + start, 3), 3);
  return arg_new (IMAP_ARG_ATOM, g_strndup (p->data + start, length), length);
}

static ImapArg *
parse_quoted (ImapParser *p, GError **error)
{
  GString *text = scan_quoted (p, error);
  gsize length;

  if (text == NULL)
    return NULL;
  length = text->len;
  return arg_new (IMAP_ARG_QUOTED, g_string_free (text, FALSE), length);
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
  arg = arg_new (IMAP_ARG_LITERAL, g_malloc (size + 1), size);
  memcpy (arg->data, p->data + p->pos, size);
  arg->data[size] = '\0';
  arg->literal8 = literal8;
  p->pos += size;
  return arg;
}

static gboolean
parse_elements (ImapParser *p, GPtrArray *into, gssize open, GError **error);

/* RFC 9051 §4.4: "(" [element *(SP element)] ")". */
static ImapArg *
parse_list (ImapParser *p, GError **error)
{
  g_autoptr (ImapArg) arg = arg_new (IMAP_ARG_LIST, NULL, 0);
  gsize open = p->pos;
  gboolean ok;

  if (p->depth == IMAP_PARSER_MAX_DEPTH)
    {
      g_set_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_TOO_DEEP,
                   "offset %" G_GSIZE_FORMAT ": lists nested deeper than %d",
                   p->pos, IMAP_PARSER_MAX_DEPTH);
      return NULL;
    }
  arg->list = arg_list_new ();
  p->depth++;
  p->pos++;
  ok = parse_elements (p, arg->list, (gssize) open, error);
  p->depth--;
  return ok ? g_steal_pointer (&arg) : NULL;
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
 * of the "(") is not negative, else up to the end. */
static gboolean
parse_elements (ImapParser *p, GPtrArray *into, gssize open, GError **error)
{
  int close = open >= 0 ? ')' : -1;

  if (parser_peek (p) == close)
    return close < 0 || parser_skip (p, close);
  for (;;)
    {
      ImapArg *arg = parse_element (p, error);

      if (arg == NULL)
        return FALSE;
      g_ptr_array_add (into, arg);
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
  g_autoptr (GPtrArray) args = arg_list_new ();
  ImapParser p;

  g_return_val_if_fail (data != NULL || length == 0, NULL);
  parser_init (&p, data, length);
  p.lists_touch = lists_touch;
  if (!parse_elements (&p, args, -1, error))
    return NULL;
  return g_steal_pointer (&args);
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

/* ---- sequence sets (RFC 9051 §9, RFC 5182 §2) -------------------------- */

/* RFC 9051 §9: seq-number = nz-number / "*" */
static gboolean
parse_seq_number (ImapParser *p, guint32 *out, GError **error)
{
  if (parser_skip (p, '*'))
    {
      *out = IMAP_SEQ_STAR;
      return TRUE;
    }
  return parse_nz_number (p, out, error);
}

void
imap_seqset_free (ImapSeqSet *set)
{
  if (set == NULL)
    return;
  g_clear_pointer (&set->ranges, g_array_unref);
  g_free (set);
}

/* RFC 9051 §9: sequence-set = (seq-number / seq-range) ["," sequence-set];
 * seq-range = seq-number ":" seq-number; RFC 5182 §2: / "$". */
ImapSeqSet *
imap_seqset_parse (const char *text, GError **error)
{
  g_autoptr (ImapSeqSet) set = g_new0 (ImapSeqSet, 1);
  ImapParser p;

  g_return_val_if_fail (text != NULL, NULL);
  set->ranges = g_array_new (FALSE, FALSE, sizeof (ImapSeqRange));
  if (strcmp (text, "$") == 0)
    {
      set->saved = TRUE;
      return g_steal_pointer (&set);
    }
  parser_init (&p, text, strlen (text));
  do
    {
      ImapSeqRange range = { 0 };

      if (!parse_seq_number (&p, &range.first, error))
        return NULL;
      range.last = range.first;
      if (parser_skip (&p, ':') && !parse_seq_number (&p, &range.last, error))
        return NULL;
      g_array_append_val (set->ranges, range);
    }
  while (parser_skip (&p, ','));
  if (parser_peek (&p) >= 0)
    return parser_fail_null (&p, error, "',', ':' or the end of the set");
  return g_steal_pointer (&set);
}

gboolean
imap_seqset_contains (const ImapSeqSet *set, guint32 number, guint32 star)
{
  g_return_val_if_fail (set != NULL && !set->saved, FALSE);
  for (guint i = 0; i < set->ranges->len; i++)
    {
      const ImapSeqRange *range = &g_array_index (set->ranges, ImapSeqRange, i);
      guint32 first = range->first == IMAP_SEQ_STAR ? star : range->first;
      guint32 last = range->last == IMAP_SEQ_STAR ? star : range->last;

      if (number >= MIN (first, last) && number <= MAX (first, last))
        return TRUE;
    }
  return FALSE;
}

char *
imap_seqset_format (const guint32 *numbers, gsize count)
{
  GString *out = g_string_new (NULL);
  gsize i = 0;

  while (i < count)
    {
      gsize last = i;

      while (last + 1 < count && numbers[last] < G_MAXUINT32 &&
             numbers[last + 1] == numbers[last] + 1)
        last++;
      if (out->len > 0)
        g_string_append_c (out, ',');
      g_string_append_printf (out, "%" G_GUINT32_FORMAT, numbers[i]);
      if (last > i)
        g_string_append_printf (out, ":%" G_GUINT32_FORMAT, numbers[last]);
      i = last + 1;
    }
  return g_string_free (out, FALSE);
}

/* ---- FETCH sections (RFC 9051 §6.4.5, §9) ------------------------------ */

void
imap_section_clear (ImapSection *section)
{
  g_clear_pointer (&section->parts, g_array_unref);
  g_clear_pointer (&section->fields, g_strfreev);
}

/* RFC 9051 §9: section-part = nz-number *("." nz-number). Stops after a
 * "." that is not followed by a digit: section-text comes next. */
static gboolean
parse_section_parts (ImapParser *p,
                     ImapSection *out,
                     gboolean *out_dot,
                     GError **error)
{
  *out_dot = FALSE;
  while (g_ascii_isdigit (parser_peek (p)))
    {
      guint32 part = 0;

      if (!parse_nz_number (p, &part, error))
        return FALSE;
      g_array_append_val (out->parts, part);
      if (!parser_skip (p, '.'))
        return TRUE;
      *out_dot = !g_ascii_isdigit (parser_peek (p));
    }
  return TRUE;
}

/* RFC 9051 §9: header-fld-name = astring (a literal cannot be inside an
 * atom's brackets, see scan_brackets ()). */
static char *
parse_field_name (ImapParser *p, GError **error)
{
  gsize start = p->pos;

  if (parser_peek (p) == '"')
    {
      GString *quoted = scan_quoted (p, error);

      return quoted != NULL ? g_string_free (quoted, FALSE) : NULL;
    }
  while (is_strict_atom_char (parser_peek (p)))
    p->pos++;
  if (p->pos == start)
    return parser_fail_null (p, error, "a header field name");
  return g_strndup (p->data + start, p->pos - start);
}

/* RFC 9051 §9: header-list = "(" header-fld-name *(SP header-fld-name)
 * ")", after the SP that follows HEADER.FIELDS [.NOT]. */
static gboolean
parse_header_list (ImapParser *p, ImapSection *out, GError **error)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  if (!parser_skip (p, ' ') || !parser_skip (p, '('))
    return parser_fail (p, error, "SP and '(' before the header field names");
  do
    {
      char *name = parse_field_name (p, error);

      if (name == NULL)
        return FALSE;
      g_ptr_array_add (names, name);
    }
  while (parser_skip (p, ' '));
  if (!parser_skip (p, ')'))
    return parser_fail (p, error, "SP or ')' after a header field name");
  g_ptr_array_add (names, NULL);
  out->fields = (GStrv) g_ptr_array_free (g_steal_pointer (&names), FALSE);
  return TRUE;
}

/* RFC 9051 §9: section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP
 * header-list / "TEXT"; section-text = section-msgtext / "MIME". Longest
 * names first, so "HEADER.FIELDS" is not read as "HEADER". */
static const struct
{
  const char *name;
  ImapSectionKind kind;
} section_texts[] = {
  { "HEADER.FIELDS.NOT", IMAP_SECTION_HEADER_FIELDS_NOT },
  { "HEADER.FIELDS", IMAP_SECTION_HEADER_FIELDS },
  { "HEADER", IMAP_SECTION_HEADER },
  { "TEXT", IMAP_SECTION_TEXT },
  { "MIME", IMAP_SECTION_MIME },
};

static gboolean
parse_section_text (ImapParser *p, ImapSection *out, GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (section_texts); i++)
    {
      gsize length = strlen (section_texts[i].name);

      if (p->length - p->pos < length ||
          g_ascii_strncasecmp (p->data + p->pos, section_texts[i].name,
                               length) != 0)
        continue;
      if (section_texts[i].kind == IMAP_SECTION_MIME && out->parts->len == 0)
        return parser_fail (p, error, "a part number before MIME");
      p->pos += length;
      out->kind = section_texts[i].kind;
      if (out->kind == IMAP_SECTION_HEADER_FIELDS ||
          out->kind == IMAP_SECTION_HEADER_FIELDS_NOT)
        return parse_header_list (p, out, error);
      return TRUE;
    }
  return parser_fail (p, error, "HEADER, HEADER.FIELDS, TEXT or MIME");
}

/* RFC 9051 §9: partial = "<" number64 "." nz-number64 ">". Past 2^32-1
 * both are cut: no stored message is that large, so the same octets are
 * selected. */
static gboolean
parse_partial (ImapParser *p, ImapSection *out, GError **error)
{
  guint64 offset = 0;
  guint64 length = 0;

  if (!parser_skip (p, '<'))
    return TRUE;
  if (!parse_number64 (p, &offset, error))
    return FALSE;
  if (!parser_skip (p, '.'))
    return parser_fail (p, error, "'.' between offset and length");
  if (parser_peek (p) == '0')
    return parser_fail (p, error, "a length of at least 1");
  if (!parse_number64 (p, &length, error))
    return FALSE;
  if (!parser_skip (p, '>'))
    return parser_fail (p, error, "'>' ending the partial range");
  out->has_partial = TRUE;
  out->offset = (guint32) MIN (offset, G_MAXUINT32);
  out->length = (guint32) MIN (length, G_MAXUINT32);
  return TRUE;
}

/* RFC 9051 §9: section-spec = section-msgtext / (section-part ["."
 * section-text]), then "]" and the optional partial. */
static gboolean
parse_section (ImapParser *p, ImapSection *out, GError **error)
{
  gboolean dot = FALSE;

  if (!parse_section_parts (p, out, &dot, error))
    return FALSE;
  if ((out->parts->len == 0 && parser_peek (p) != ']') || dot)
    if (!parse_section_text (p, out, error))
      return FALSE;
  if (!parser_skip (p, ']'))
    return parser_fail (p, error, "']' ending the section");
  if (!parse_partial (p, out, error))
    return FALSE;
  if (parser_peek (p) >= 0)
    return parser_fail (p, error, "the end after the section");
  return TRUE;
}

gboolean
imap_section_parse (const char *text, ImapSection *out, GError **error)
{
  ImapParser p;

  g_return_val_if_fail (text != NULL && out != NULL, FALSE);
  memset (out, 0, sizeof *out);
  out->kind = IMAP_SECTION_ALL;
  out->parts = g_array_new (FALSE, FALSE, sizeof (guint32));
  parser_init (&p, text, strlen (text));
  if (parse_section (&p, out, error))
    return TRUE;
  imap_section_clear (out);
  return FALSE;
}

/* ---- dates (RFC 9051 §9 date, date-time) ------------------------------- */

/* RFC 9051 §9: date-month; always English, whatever the locale. */
static const char *const month_names[] = {
  "Jan", "Feb", "Mar", "Apr", "May", "Jun",
  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Exactly @count digits. */
static gboolean
parse_digits (
    ImapParser *p, int count, int *out, const char *what, GError **error)
{
  int value = 0;

  for (int i = 0; i < count; i++)
    {
      if (!g_ascii_isdigit (parser_peek (p)))
        return parser_fail (p, error, what);
      value = value * 10 + (parser_peek (p) - '0');
      p->pos++;
    }
  *out = value;
  return TRUE;
}

/* RFC 9051 §9: date-day = 1*2DIGIT; date-day-fixed = (SP DIGIT) / 2DIGIT */
static gboolean
parse_day (ImapParser *p, gboolean fixed, int *out, GError **error)
{
  gboolean two_digits =
      p->pos + 1 < p->length && g_ascii_isdigit (p->data[p->pos + 1]);

  if (fixed && parser_skip (p, ' '))
    return parse_digits (p, 1, out, "the day's digit after SP", error);
  if (fixed)
    return parse_digits (p, 2, out, "the day (two digits, or SP and one)",
                         error);
  return parse_digits (p, two_digits ? 2 : 1, out, "the day of the month",
                       error);
}

static gboolean
parse_month (ImapParser *p, int *out, GError **error)
{
  for (int i = 0; i < 12; i++)
    if (p->length - p->pos >= 3 &&
        g_ascii_strncasecmp (p->data + p->pos, month_names[i], 3) == 0)
      {
        p->pos += 3;
        *out = i + 1;
        return TRUE;
      }
  return parser_fail (p, error, "a month name (Jan to Dec)");
}

/* RFC 9051 §9: date-text = date-day "-" date-month "-" date-year, read
 * as midnight UTC of that day (transfer full, NULL with an error). */
static GDateTime *
parse_date_text (ImapParser *p, gboolean fixed, GError **error)
{
  int day = 0;
  int month = 0;
  int year = 0;
  gsize start = p->pos;
  GDateTime *date;

  if (!parse_day (p, fixed, &day, error) ||
      !parser_expect (p, '-', "'-'", error) ||
      !parse_month (p, &month, error) ||
      !parser_expect (p, '-', "'-'", error) ||
      !parse_digits (p, 4, &year, "a year of four digits", error))
    return NULL;
  date = g_date_time_new_utc (year, month, day, 0, 0, 0);
  if (date == NULL)
    {
      p->pos = start;
      return parser_fail_null (p, error, "a day that exists");
    }
  return date;
}

/* Both DQUOTEs or neither: the caller may pass the quoted text. */
static gboolean
parse_closing_quote (ImapParser *p, gboolean quoted, GError **error)
{
  if (quoted && !parser_skip (p, '"'))
    return parser_fail (p, error, "the closing '\"'");
  if (parser_peek (p) >= 0)
    return parser_fail (p, error, "the end of the date");
  return TRUE;
}

gboolean
imap_date_parse (const char *text, gint64 *out_day, GError **error)
{
  g_autoptr (GDateTime) date = NULL;
  gboolean quoted;
  ImapParser p;

  g_return_val_if_fail (text != NULL && out_day != NULL, FALSE);
  parser_init (&p, text, strlen (text));
  quoted = parser_skip (&p, '"');
  date = parse_date_text (&p, FALSE, error);
  if (date == NULL || !parse_closing_quote (&p, quoted, error))
    return FALSE;
  *out_day = g_date_time_to_unix (date) / 86400;
  return TRUE;
}

/* RFC 9051 §9: time = 2DIGIT ":" 2DIGIT ":" 2DIGIT, in seconds. */
static gboolean
parse_time (ImapParser *p, int *out_seconds, GError **error)
{
  int hour = 0;
  int minute = 0;
  int second = 0;
  gsize start = p->pos;

  if (!parse_digits (p, 2, &hour, "the hour (two digits)", error) ||
      !parser_expect (p, ':', "':'", error) ||
      !parse_digits (p, 2, &minute, "the minutes (two digits)", error) ||
      !parser_expect (p, ':', "':'", error) ||
      !parse_digits (p, 2, &second, "the seconds (two digits)", error))
    return FALSE;
  if (hour > 23 || minute > 59 || second > 60)
    {
      p->pos = start;
      return parser_fail (p, error, "a time of day");
    }
  *out_seconds = hour * 3600 + minute * 60 + second;
  return TRUE;
}

/* RFC 9051 §9: zone = ("+" / "-") 4DIGIT, hours and minutes east of UTC */
static gboolean
parse_zone (ImapParser *p, int *out_minutes, GError **error)
{
  int sign = parser_peek (p) == '-' ? -1 : 1;
  int hhmm = 0;
  gsize start = p->pos;

  if (!parser_skip (p, '+') && !parser_skip (p, '-'))
    return parser_fail (p, error, "'+' or '-' starting the zone");
  if (!parse_digits (p, 4, &hhmm, "a zone of four digits", error))
    return FALSE;
  if (hhmm / 100 > 23 || hhmm % 100 > 59)
    {
      p->pos = start;
      return parser_fail (p, error, "a zone of hours and minutes");
    }
  *out_minutes = sign * (hhmm / 100 * 60 + hhmm % 100);
  return TRUE;
}

/* RFC 9051 §9: date-time = DQUOTE date-day-fixed "-" date-month "-"
 * date-year SP time SP zone DQUOTE */
gboolean
imap_datetime_parse (const char *text,
                     gint64 *out_time,
                     int *out_zone_minutes,
                     GError **error)
{
  g_autoptr (GDateTime) date = NULL;
  int seconds = 0;
  int zone = 0;
  gboolean quoted;
  ImapParser p;

  g_return_val_if_fail (text != NULL && out_time != NULL, FALSE);
  parser_init (&p, text, strlen (text));
  quoted = parser_skip (&p, '"');
  date = parse_date_text (&p, TRUE, error);
  if (date == NULL || !parser_expect (&p, ' ', "SP", error) ||
      !parse_time (&p, &seconds, error) ||
      !parser_expect (&p, ' ', "SP", error) || !parse_zone (&p, &zone, error) ||
      !parse_closing_quote (&p, quoted, error))
    return FALSE;
  *out_time = g_date_time_to_unix (date) + seconds - zone * 60;
  if (out_zone_minutes != NULL)
    *out_zone_minutes = zone;
  return TRUE;
}

char *
imap_datetime_format (gint64 time)
{
  g_autoptr (GDateTime) date = g_date_time_new_from_unix_utc (time);

  g_return_val_if_fail (date != NULL, NULL);
  return g_strdup_printf (
      "%02d-%s-%04d %02d:%02d:%02d +0000", g_date_time_get_day_of_month (date),
      month_names[g_date_time_get_month (date) - 1],
      g_date_time_get_year (date), g_date_time_get_hour (date),
      g_date_time_get_minute (date), g_date_time_get_second (date));
}

/* ---- modified UTF-7 (RFC 3501 §5.1.3) ---------------------------------- */

/* RFC 3501 §5.1.3: modified BASE64 is RFC 2045 BASE64 with "," for "/" */
static const char mbase64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
mbase64_value (int c)
{
  const char *at = c > 0 ? strchr (mbase64_alphabet, c) : NULL;

  return at != NULL ? (int) (at - mbase64_alphabet) : -1;
}

/* RFC 3501 §5.1.3: printable US-ASCII "represent themselves" */
static gboolean
is_mutf7_direct (gunichar c)
{
  return c >= 0x20 && c <= 0x7e;
}

/* One UTF-16 code unit of a BASE64 run; @inout_high holds a high
 * surrogate until its low half comes. */
static gboolean
add_utf16_unit (ImapParser *p,
                GString *out,
                gunichar2 unit,
                gunichar2 *inout_high,
                GError **error)
{
  gboolean low = unit >= 0xdc00 && unit <= 0xdfff;

  if (*inout_high != 0 && !low)
    return parser_fail_with (p, error, "a UTF-16 high surrogate alone");
  if (*inout_high != 0)
    {
      g_string_append_unichar (out, 0x10000 + ((*inout_high - 0xd800) << 10) +
                                        (unit - 0xdc00));
      *inout_high = 0;
      return TRUE;
    }
  if (low)
    return parser_fail_with (p, error, "a UTF-16 low surrogate alone");
  if (unit >= 0xd800 && unit <= 0xdbff)
    *inout_high = unit;
  else if (unit == 0)
    return parser_fail_with (p, error, "NUL in a mailbox name");
  else if (is_mutf7_direct (unit))
    return parser_fail_with (p, error,
                             "printable ASCII in BASE64 (it must "
                             "stand for itself)");
  else
    g_string_append_unichar (out, unit);
  return TRUE;
}

/* RFC 3501 §5.1.3: "&" modified-BASE64 of UTF-16BE "-", the cursor after
 * the "&". The bits left over after the last code unit must be fewer than
 * six and all zero, or the run is not the shortest form. */
static gboolean
decode_mbase64_run (ImapParser *p, GString *out, GError **error)
{
  gsize open = p->pos - 1;
  guint32 bits = 0;
  int count = 0; /* bits not yet used */
  gunichar2 high = 0;

  while (!parser_skip (p, '-'))
    {
      int value = mbase64_value (parser_peek (p));

      if (value < 0)
        {
          g_autofree char *expected =
              g_strdup_printf ("modified BASE64 or the '-' closing the '&' at "
                               "offset %" G_GSIZE_FORMAT,
                               open);
          return parser_fail (p, error, expected);
        }
      bits = (bits << 6 | (guint32) value) & 0x3fffff;
      count += 6;
      p->pos++;
      if (count < 16)
        continue;
      count -= 16;
      if (!add_utf16_unit (p, out, (gunichar2) (bits >> count), &high, error))
        return FALSE;
    }
  if (count >= 6 || (bits & ((1u << count) - 1)) != 0 || high != 0)
    {
      p->pos = open;
      return parser_fail_with (p, error,
                               "this BASE64 run does not end "
                               "with a whole UTF-16 character "
                               "and zero bits");
    }
  return TRUE;
}

char *
imap_mutf7_to_utf8 (const char *mutf7, GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);
  gboolean after_run = FALSE;
  ImapParser p;

  g_return_val_if_fail (mutf7 != NULL, NULL);
  parser_init (&p, mutf7, strlen (mutf7));
  while (parser_peek (&p) >= 0)
    {
      int c = parser_peek (&p);

      if (!is_mutf7_direct ((gunichar) c))
        return parser_fail_null (&p, error, "printable US-ASCII");
      if (c == '&' && after_run && p.pos + 1 < p.length &&
          p.data[p.pos + 1] != '-')
        {
          parser_fail_with (&p, error,
                            "two BASE64 runs in a row (the null "
                            "shift \"-&\" is not allowed)");
          return NULL;
        }
      p.pos++;
      after_run = FALSE;
      if (c != '&')
        g_string_append_c (out, (char) c);
      else if (parser_skip (&p, '-'))
        g_string_append_c (out, '&');
      else if (decode_mbase64_run (&p, out, error))
        after_run = TRUE;
      else
        return NULL;
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Appends @unit (UTF-16BE) to @bits, emitting each whole sextet. */
static void
encode_utf16_unit (GString *out, gunichar2 unit, guint32 *bits, int *count)
{
  *bits = (*bits << 16 | unit) & 0x3fffff;
  *count += 16;
  while (*count >= 6)
    {
      *count -= 6;
      g_string_append_c (out, mbase64_alphabet[(*bits >> *count) & 0x3f]);
    }
}

/* One BASE64 run for the characters from @utf8 that cannot stand for
 * themselves; returns where the run stopped. */
static const char *
encode_mbase64_run (GString *out, const char *utf8)
{
  guint32 bits = 0;
  int count = 0;

  g_string_append_c (out, '&');
  for (; *utf8 != '\0' && !is_mutf7_direct (g_utf8_get_char (utf8));
       utf8 = g_utf8_next_char (utf8))
    {
      gunichar c = g_utf8_get_char (utf8);

      if (c < 0x10000)
        {
          encode_utf16_unit (out, (gunichar2) c, &bits, &count);
          continue;
        }
      encode_utf16_unit (out, (gunichar2) (0xd800 + ((c - 0x10000) >> 10)),
                         &bits, &count);
      encode_utf16_unit (out, (gunichar2) (0xdc00 + ((c - 0x10000) & 0x3ff)),
                         &bits, &count);
    }
  if (count > 0)
    g_string_append_c (out, mbase64_alphabet[(bits << (6 - count)) & 0x3f]);
  g_string_append_c (out, '-');
  return utf8;
}

char *
imap_utf8_to_mutf7 (const char *utf8)
{
  GString *out;

  g_return_val_if_fail (utf8 != NULL, NULL);
  g_return_val_if_fail (g_utf8_validate (utf8, -1, NULL), NULL);
  out = g_string_new (NULL);
  while (*utf8 != '\0')
    {
      if (!is_mutf7_direct ((guchar) *utf8))
        {
          utf8 = encode_mbase64_run (out, utf8);
          continue;
        }
      g_string_append_c (out, *utf8);
      if (*utf8++ == '&')
        g_string_append_c (out, '-'); /* RFC 3501 §5.1.3: "&" is "&-" */
    }
  return g_string_free (out, FALSE);
}

/* ---- writing strings (RFC 9051 §4.3) ----------------------------------- */

/* An atom a strict peer reads back as this text, and not as NIL. */
static gboolean
can_be_atom (const char *text, gsize length)
{
  if (length == 0 || (length == 3 && g_ascii_strncasecmp (text, "NIL", 3) == 0))
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!is_strict_atom_char ((guchar) text[i]))
      return FALSE;
  return TRUE;
}

/* RFC 9051 §9 quoted: no CR, LF or NUL; 8-bit only as UTF-8, and only to
 * a peer that accepts it (RFC 6855 §3). */
static gboolean
can_be_quoted (const char *text, gsize length, gboolean utf8)
{
  gboolean eight_bit = FALSE;

  for (gsize i = 0; i < length; i++)
    {
      guchar c = (guchar) text[i];

      if (c == '\0' || c == '\r' || c == '\n')
        return FALSE;
      eight_bit |= c >= 0x80;
    }
  return !eight_bit || (utf8 && g_utf8_validate_len (text, length, NULL));
}

void
imap_append_string (GString *out,
                    const char *text,
                    gsize length,
                    gboolean allow_atom,
                    gboolean utf8)
{
  g_return_if_fail (out != NULL);
  if (text == NULL)
    g_string_append (out, "NIL");
  else if (allow_atom && can_be_atom (text, length))
    g_string_append_len (out, text, length);
  else if (can_be_quoted (text, length, utf8))
    {
      g_string_append_c (out, '"');
      for (gsize i = 0; i < length; i++)
        {
          if (text[i] == '"' || text[i] == '\\')
            g_string_append_c (out, '\\');
          g_string_append_c (out, text[i]);
        }
      g_string_append_c (out, '"');
    }
  else
    {
      /* RFC 3516 §4.2: only a literal8 may carry NUL */
      g_string_append_printf (out, "%s{%" G_GSIZE_FORMAT "}\r\n",
                              memchr (text, '\0', length) != NULL ? "~" : "",
                              length);
      g_string_append_len (out, text, length);
    }
}
