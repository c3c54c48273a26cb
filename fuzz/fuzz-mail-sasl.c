/* SPDX-License-Identifier: MIT
 * fuzz-mail-sasl.c: the SASL decoders of mail-auth.h on what a client
 * sends after AUTH: PLAIN (RFC 4616 §2) and LOGIN, base64 (RFC 4648 §4).
 * Invariants: decoded PLAIN credentials hold no NUL and a non-empty
 * authcid and password, and encoding them again decodes to the same;
 * a decoded LOGIN step holds no NUL.
 */
#include "fuzz.h"
#include "mail-auth.h"

static void
fuzz_plain (const char *base64)
{
  g_autofree char *authzid = NULL;
  g_autofree char *authcid = NULL;
  g_autofree char *password = NULL;
  g_autofree char *encoded = NULL;
  g_autofree char *authzid_again = NULL;
  g_autofree char *authcid_again = NULL;
  g_autofree char *password_again = NULL;
  g_autoptr (GError) error = NULL;

  if (!mail_sasl_plain_decode (base64, &authzid, &authcid, &password, &error))
    {
      g_assert_nonnull (error);
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (authcid), >, 0);
  g_assert_cmpuint (strlen (password), >, 0);
  encoded = mail_sasl_plain_encode (authzid, authcid, password);
  g_assert_true (mail_sasl_plain_decode (
      encoded, &authzid_again, &authcid_again, &password_again, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (authzid_again, ==, authzid);
  g_assert_cmpstr (authcid_again, ==, authcid);
  g_assert_cmpstr (password_again, ==, password);
}

static void
fuzz_login (const char *base64)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;

  if (!mail_sasl_login_decode (base64, &text, &error))
    {
      g_assert_nonnull (error);
      return;
    }
  g_assert_no_error (error);
  g_assert_nonnull (text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *base64 = NULL;
  g_autofree char *raw = NULL;

  fuzz_init ();
  base64 = fuzz_strndup (data, size);
  fuzz_plain (base64);
  fuzz_login (base64);
  /* the same octets as what a client meant, so the decoder gets past base64 */
  raw = g_base64_encode (data, size);
  fuzz_plain (raw);
  fuzz_login (raw);
  return 0;
}
