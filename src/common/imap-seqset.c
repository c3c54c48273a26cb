/* SPDX-License-Identifier: MIT
 * imap-seqset.c: the IMAP grammar of message numbers and message parts:
 * sequence sets with "*" and "$", and FETCH sections with their partial
 * ranges (RFC 9051 §6.4.5, §9 sequence-set, section, partial; RFC 5182
 * §2; RFC 3516 §4.2 section-binary).
 */
#include <string.h>

#include "imap-parser-private.h"

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
