/* SPDX-License-Identifier: MIT
 * fuzz-imap-section.c: FETCH sections (RFC 9051 §6.4.5, §9 section;
 * RFC 3516 BINARY), imap_section_parse () on what follows "BODY[".
 * Invariants: MIME only after a part number; field names exactly for
 * HEADER.FIELDS (.NOT); part numbers are nz-numbers.
 */
#include "fuzz.h"
#include "imap-parser.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  ImapSection section = { 0 };

  fuzz_init ();
  text = fuzz_strndup (data, size);
  if (!imap_section_parse (text, &section, &error))
    {
      g_assert_nonnull (error);
      return 0;
    }
  g_assert_no_error (error);
  g_assert_nonnull (section.parts);
  for (guint i = 0; i < section.parts->len; i++)
    g_assert_cmpuint (g_array_index (section.parts, guint32, i), >, 0);
  if (section.kind == IMAP_SECTION_MIME)
    g_assert_cmpuint (section.parts->len, >, 0);
  g_assert_cmpint (section.fields != NULL, ==,
                   section.kind == IMAP_SECTION_HEADER_FIELDS ||
                       section.kind == IMAP_SECTION_HEADER_FIELDS_NOT);
  if (!section.has_partial)
    g_assert_cmpuint (section.offset, ==, 0);
  imap_section_clear (&section);
  return 0;
}
