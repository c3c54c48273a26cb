/* SPDX-License-Identifier: MIT
 * fuzz-tls-decrypt.c: mw-trace's key log reader and record decryption
 * (tls-decrypt.h), the part of the tracer that reads a file the user
 * names (the NSS key log) and records an attacker sends.
 *
 * The input is: one octet choosing the TLS version and cipher suite, one
 * octet N, N octets of key log text (appended to a valid key log for the
 * connection, so both the parser and the key schedule are reached), then
 * records, each one octet of direction and gap, two of length and the
 * body. Invariants: a record is either decrypted (no longer than it came)
 * or refused with a TLS_DECRYPT_ERROR; nothing else happens.
 */
#include "fuzz.h"
#include "tls-decrypt.h"

static const struct
{
  guint16 version;
  guint16 suite;
} suites[] = {
  { 0x0304, 0x1301 }, /* TLS_AES_128_GCM_SHA256 */
  { 0x0304, 0x1302 }, /* TLS_AES_256_GCM_SHA384 */
  { 0x0304, 0x1303 }, /* TLS_CHACHA20_POLY1305_SHA256 */
  { 0x0303, 0xc02f }, /* ECDHE_RSA_WITH_AES_128_GCM_SHA256 */
  { 0x0303, 0xc030 }, /* ECDHE_RSA_WITH_AES_256_GCM_SHA384 */
  { 0x0303, 0xcca8 }, /* ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 */
  { 0x0303, 0x009c }, /* RSA_WITH_AES_128_GCM_SHA256: not covered */
};

/* The key log lines for @random: 48 octets of secret each (hex). */
static void
append_keylog (GString *out, const guint8 random[32])
{
  static const char *const labels[] = {
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
    "CLIENT_RANDOM",
  };

  for (guint i = 0; i < G_N_ELEMENTS (labels); i++)
    {
      g_string_append_printf (out, "%s ", labels[i]);
      for (guint j = 0; j < 32; j++)
        g_string_append_printf (out, "%02x", random[j]);
      g_string_append_c (out, ' ');
      for (guint j = 0; j < 48; j++)
        g_string_append_printf (out, "%02x", (guint8) (i * 48 + j));
      g_string_append_c (out, '\n');
    }
}

/* @tls13: the suite is TLS 1.3, where a Finished switches to the
 * application traffic keys (RFC 8446 §7.1); mw-trace asks for them only
 * then, and so do we. */
static void
feed_records (TlsDecrypt *decrypt,
              gboolean tls13,
              const uint8_t *data,
              size_t size)
{
  g_autoptr (GByteArray) plain = g_byte_array_new ();

  while (size >= 3)
    {
      TraceDirection direction =
          (data[0] & 1) ? TRACE_SERVER_TO_CLIENT : TRACE_CLIENT_TO_SERVER;
      guint skipped = (data[0] >> 1) & 3;
      gsize length = MIN ((gsize) (data[1] << 8 | data[2]), size - 3);
      guint8 header[5] = { 23, 3, 3, length >> 8, length & 0xff };
      g_autoptr (GError) error = NULL;
      guint8 type = 0;

      g_byte_array_set_size (plain, 0);
      if (tls_decrypt_ready (decrypt, direction))
        {
          if (tls_decrypt_record (decrypt, direction, header, data + 3, length,
                                  skipped, plain, &type, &error))
            g_assert_cmpuint (plain->len, <=, length);
          else
            g_assert_true (error != NULL && error->domain == TLS_DECRYPT_ERROR);
        }
      if ((data[0] & 8) && tls13 && tls_decrypt_ready (decrypt, direction))
        tls_decrypt_application_keys (decrypt, direction, NULL);
      data += 3 + length;
      size -= 3 + length;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const guint8 random[32] = { 0x5a, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (TraceKeylog) keylog = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  TlsDecrypt *decrypt = NULL;
  gsize extra = 0;
  guint which = 0;

  fuzz_init ();
  if (size < 2)
    return 0;
  which = data[0] % G_N_ELEMENTS (suites);
  extra = MIN ((gsize) data[1], size - 2);
  append_keylog (text, random);
  g_string_append_len (text, (const char *) data + 2, extra);
  path = fuzz_write_file (NULL, "keys.log", text->str, text->len);
  keylog = trace_keylog_new ();
  if (!trace_keylog_add_file (keylog, path, TRUE, &error))
    {
      g_assert_nonnull (error);
      return 0;
    }
  decrypt = tls_decrypt_new (keylog);
  tls_decrypt_client_hello (decrypt, random);
  tls_decrypt_server_hello (decrypt, random, suites[which].version,
                            suites[which].suite);
  for (guint d = 0; d < 2; d++)
    {
      g_autoptr (GError) local = NULL;
      TraceDirection direction =
          d == 0 ? TRACE_CLIENT_TO_SERVER : TRACE_SERVER_TO_CLIENT;

      if (!tls_decrypt_start (decrypt, direction, &local))
        g_assert_true (local != NULL && local->domain == TLS_DECRYPT_ERROR);
    }
  tls_decrypt_suite_name (decrypt);
  feed_records (decrypt, suites[which].version == 0x0304, data + 2 + extra,
                size - 2 - extra);
  tls_decrypt_free (decrypt);
  return 0;
}
