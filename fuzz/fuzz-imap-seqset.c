/* SPDX-License-Identifier: MIT
 * fuzz-imap-seqset.c: sequence sets (RFC 9051 §9 sequence-set, RFC 5182
 * "$"): imap_seqset_parse (), _contains () and _format ().
 * Input: the set as text; its octets are also read, 4 at a time, as
 * numbers for the writer.
 * Invariants: the members of a parsed set up to a small "*", written by
 * imap_seqset_format (), parse to a set with the same members there;
 * any sorted list of numbers, written and parsed again, holds exactly
 * those numbers (up to 2^32-1, which stays a number, not "*").
 */
#include "fuzz.h"
#include "imap-parser.h"

#define STAR 200 /* the "*" of the parsed set: members 1..STAR are compared */

static void
check_members (const ImapSeqSet *set)
{
  g_autoptr (GArray) members = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (ImapSeqSet) again = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  for (guint32 n = 1; n <= STAR; n++)
    if (imap_seqset_contains (set, n, STAR))
      g_array_append_val (members, n);
  if (members->len == 0)
    return;
  text = imap_seqset_format ((const guint32 *) members->data, members->len);
  again = imap_seqset_parse (text, &error);
  g_assert_no_error (error);
  for (guint32 n = 1; n <= STAR; n++)
    g_assert_cmpint (imap_seqset_contains (again, n, STAR), ==,
                     imap_seqset_contains (set, n, STAR));
}

static gint
compare_numbers (gconstpointer a, gconstpointer b)
{
  guint32 x = *(const guint32 *) a;
  guint32 y = *(const guint32 *) b;

  return x < y ? -1 : x > y;
}

static void
check_format (const uint8_t *data, size_t size)
{
  g_autoptr (GArray) numbers = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (ImapSeqSet) set = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  guint64 count = 0;
  guint n = 0;

  for (gsize i = 0; i + 4 <= size; i += 4)
    {
      guint32 number;

      memcpy (&number, data + i, 4);
      /* small steps make runs ("5:9"), the high bits reach 2^32-1 */
      number = (number & 0x80000000u) ? number : number % 64;
      if (number != 0)
        g_array_append_val (numbers, number);
    }
  g_array_sort (numbers, compare_numbers);
  for (guint i = 0; i < numbers->len; i++)
    if (n == 0 || g_array_index (numbers, guint32, n - 1) !=
                      g_array_index (numbers, guint32, i))
      g_array_index (numbers, guint32, n++) =
          g_array_index (numbers, guint32, i);
  g_array_set_size (numbers, n);
  if (n == 0)
    return;
  text = imap_seqset_format ((const guint32 *) numbers->data, n);
  set = imap_seqset_parse (text, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    g_assert_true (
        imap_seqset_contains (set, g_array_index (numbers, guint32, i), 1));
  for (guint i = 0; i < set->ranges->len; i++)
    {
      const ImapSeqRange *range = &g_array_index (set->ranges, ImapSeqRange, i);

      g_assert_cmpuint (range->first, !=, IMAP_SEQ_STAR);
      g_assert_cmpuint (range->first, <=, range->last);
      count += (guint64) range->last - range->first + 1;
    }
  g_assert_cmpuint (count, ==, n);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;
  g_autoptr (ImapSeqSet) set = NULL;
  g_autoptr (GError) error = NULL;

  fuzz_init ();
  text = fuzz_strndup (data, size);
  set = imap_seqset_parse (text, &error);
  if (set == NULL)
    g_assert_nonnull (error);
  else if (!set->saved)
    {
      g_assert_cmpuint (set->ranges->len, >, 0);
      check_members (set);
    }
  check_format (data, size);
  return 0;
}
