/* SPDX-License-Identifier: MIT
 * fuzz-imap-mutf7.c: mailbox names in modified UTF-7 (RFC 3501 §5.1.3,
 * RFC 9051 §5.1): imap_mutf7_to_utf8 () and imap_utf8_to_mutf7 ().
 * Invariants: on valid UTF-8 (a NUL ends it), encoding then decoding is
 * the identity; a name the decoder accepts is the one the encoder
 * writes for what it decodes to (RFC 3501 §5.1.3 allows one form only:
 * printable US-ASCII as itself, "&" as "&-", shortest base64).
 */
#include "fuzz.h"
#include "imap-parser.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;
  g_autofree char *decoded = NULL;
  g_autoptr (GError) error = NULL;

  fuzz_init ();
  text = fuzz_strndup (data, size);
  if (g_utf8_validate (text, -1, NULL))
    {
      g_autofree char *encoded = imap_utf8_to_mutf7 (text);
      g_autofree char *back = NULL;

      for (const char *p = encoded; *p != '\0'; p++)
        g_assert_true (*p >= 0x20 && *p <= 0x7e);
      back = imap_mutf7_to_utf8 (encoded, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (back, ==, text);
    }
  decoded = imap_mutf7_to_utf8 (text, &error);
  if (decoded == NULL)
    {
      g_assert_nonnull (error);
      return 0;
    }
  g_assert_true (g_utf8_validate (decoded, -1, NULL));
  {
    g_autofree char *canonical = imap_utf8_to_mutf7 (decoded);

    g_assert_cmpstr (canonical, ==, text);
  }
  return 0;
}
