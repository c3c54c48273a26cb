/* SPDX-License-Identifier: MIT
 * tls-decrypt.c: the key log reader, the TLS 1.3 and TLS 1.2 key
 * schedules and AEAD record decryption (RFC 8446 §5.2-§5.3, §7.1-§7.3;
 * RFC 5246 §5, §6.2.3.3, §6.3; RFC 5288 §3; RFC 7905 §2), on GnuTLS's
 * HKDF, HMAC and AEAD functions.
 */
#include "tls-decrypt.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <string.h>

#define TLS_RANDOM 32
#define TLS_MAX_SECRET 64 /* SHA-384's 48, with room */
#define TLS_NONCE 12      /* RFC 8446 §5.3, RFC 5288 §3, RFC 7905 §2 */
#define TLS_TAG 16
#define TLS12_EXPLICIT_NONCE 8 /* RFC 5288 §3: GCMNonce.nonce_explicit */
#define TLS_MAX_KEYLOG_LINE 1024

G_DEFINE_QUARK (tls_decrypt_error, tls_decrypt_error)

/* ---- the key log: NSS key log format ------------------------------------
 * One line per secret: LABEL SP hex(ClientHello.random) SP hex(secret).
 * Only the labels a decryption needs are kept. */

typedef enum
{
  KEYLOG_CLIENT_RANDOM, /* TLS 1.2: the 48-octet master secret */
  KEYLOG_CLIENT_HANDSHAKE,
  KEYLOG_SERVER_HANDSHAKE,
  KEYLOG_CLIENT_TRAFFIC_0,
  KEYLOG_SERVER_TRAFFIC_0,
  KEYLOG_LABELS,
} KeylogLabel;

static const char *const keylog_labels[KEYLOG_LABELS] = {
  "CLIENT_RANDOM",
  "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
  "SERVER_HANDSHAKE_TRAFFIC_SECRET",
  "CLIENT_TRAFFIC_SECRET_0",
  "SERVER_TRAFFIC_SECRET_0",
};

typedef struct
{
  GBytes *secret[KEYLOG_LABELS];
} KeylogEntry;

typedef struct
{
  char *path;
  gint64 offset;   /* octets read so far */
  GString *unread; /* a last line not yet ended by LF */
} KeylogFile;

struct _TraceKeylog
{
  GPtrArray *files;    /* KeylogFile */
  GHashTable *entries; /* 32-octet random (GBytes) -> KeylogEntry */
  char *description;
  guint count;
};

static void
keylog_entry_free (gpointer data)
{
  KeylogEntry *entry = data;

  for (int i = 0; i < KEYLOG_LABELS; i++)
    g_clear_pointer (&entry->secret[i], g_bytes_unref);
  g_free (entry);
}

static void
keylog_file_free (gpointer data)
{
  KeylogFile *file = data;

  g_free (file->path);
  g_string_free (file->unread, TRUE);
  g_free (file);
}

TraceKeylog *
trace_keylog_new (void)
{
  TraceKeylog *keylog = g_new0 (TraceKeylog, 1);

  keylog->files = g_ptr_array_new_with_free_func (keylog_file_free);
  keylog->entries =
      g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                             (GDestroyNotify) g_bytes_unref, keylog_entry_free);
  keylog->description = g_strdup ("");
  return keylog;
}

void
trace_keylog_free (TraceKeylog *keylog)
{
  if (keylog == NULL)
    return;
  g_ptr_array_unref (keylog->files);
  g_hash_table_unref (keylog->entries);
  g_free (keylog->description);
  g_free (keylog);
}

/* Hex to octets; FALSE unless @hex is exactly 2 * @size hex digits. */
static gboolean
parse_hex (const char *hex, gsize hex_length, guint8 *out, gsize size)
{
  if (hex_length != 2 * size)
    return FALSE;
  for (gsize i = 0; i < size; i++)
    {
      int high = g_ascii_xdigit_value (hex[2 * i]);
      int low = g_ascii_xdigit_value (hex[2 * i + 1]);
      if (high < 0 || low < 0)
        return FALSE;
      out[i] = (guint8) (high << 4 | low);
    }
  return TRUE;
}

/* One line: "LABEL random secret"; anything else is skipped. */
static void
keylog_add_line (TraceKeylog *keylog, const char *line)
{
  g_auto (GStrv) words = g_strsplit (line, " ", 4);
  guint8 random[TLS_RANDOM];
  guint8 secret[TLS_MAX_SECRET];
  gsize secret_length;
  g_autoptr (GBytes) key = NULL;
  KeylogEntry *entry;
  int label = -1;

  if (g_strv_length (words) != 3)
    return;
  for (int i = 0; i < KEYLOG_LABELS; i++)
    if (strcmp (words[0], keylog_labels[i]) == 0)
      label = i;
  secret_length = strlen (words[2]) / 2;
  if (label < 0 ||
      !parse_hex (words[1], strlen (words[1]), random, TLS_RANDOM) ||
      secret_length > TLS_MAX_SECRET ||
      !parse_hex (words[2], strlen (words[2]), secret, secret_length))
    return;
  key = g_bytes_new (random, TLS_RANDOM);
  entry = g_hash_table_lookup (keylog->entries, key);
  if (entry == NULL)
    {
      entry = g_new0 (KeylogEntry, 1);
      g_hash_table_insert (keylog->entries, g_bytes_ref (key), entry);
    }
  g_clear_pointer (&entry->secret[label], g_bytes_unref);
  entry->secret[label] = g_bytes_new (secret, secret_length);
  keylog->count++;
  explicit_bzero (secret, sizeof secret);
}

/* Reads what @file gained since last time; whole lines only. */
static gboolean
keylog_file_read (TraceKeylog *keylog, KeylogFile *file, GError **error)
{
  FILE *stream = fopen (file->path, "rb");
  char buffer[4096];
  gsize got;

  if (stream == NULL)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "%s: %s", file->path, g_strerror (errno));
      return FALSE;
    }
  /* A key log written again from the start (a new run) is re-read. */
  if (fseek (stream, 0, SEEK_END) == 0 && ftell (stream) < file->offset)
    {
      file->offset = 0;
      g_string_truncate (file->unread, 0);
    }
  fseek (stream, (long) file->offset, SEEK_SET);
  while ((got = fread (buffer, 1, sizeof buffer, stream)) > 0)
    {
      file->offset += (gint64) got;
      for (gsize i = 0; i < got; i++)
        {
          if (buffer[i] != '\n')
            {
              if (file->unread->len < TLS_MAX_KEYLOG_LINE)
                g_string_append_c (file->unread, buffer[i]);
              continue;
            }
          if (file->unread->len > 0 &&
              file->unread->str[file->unread->len - 1] == '\r')
            g_string_truncate (file->unread, file->unread->len - 1);
          keylog_add_line (keylog, file->unread->str);
          g_string_truncate (file->unread, 0);
        }
    }
  fclose (stream);
  return TRUE;
}

gboolean
trace_keylog_add_file (TraceKeylog *keylog,
                       const char *path,
                       gboolean must_exist,
                       GError **error)
{
  KeylogFile *file = g_new0 (KeylogFile, 1);
  g_autoptr (GError) local_error = NULL;
  g_autofree char *name = g_path_get_basename (path);
  char *description;

  file->path = g_strdup (path);
  file->unread = g_string_new (NULL);
  if (!keylog_file_read (keylog, file, &local_error) && must_exist)
    {
      keylog_file_free (file);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_ptr_array_add (keylog->files, file);
  description = g_strconcat (keylog->description,
                             keylog->files->len > 1 ? ", " : "", name, NULL);
  g_free (keylog->description);
  keylog->description = description;
  return TRUE;
}

const char *
trace_keylog_describe (TraceKeylog *keylog)
{
  return keylog->description;
}

guint
trace_keylog_count (TraceKeylog *keylog)
{
  return keylog->count;
}

/* The secret @label of the session that sent @random; on a miss the files
 * are read again (a live capture sees records before the key log line is
 * written). (transfer none) or NULL. */
static GBytes *
keylog_find (TraceKeylog *keylog, const guint8 *random, KeylogLabel label)
{
  g_autoptr (GBytes) key = g_bytes_new_static (random, TLS_RANDOM);
  KeylogEntry *entry = g_hash_table_lookup (keylog->entries, key);

  if (entry != NULL && entry->secret[label] != NULL)
    return entry->secret[label];
  for (guint i = 0; i < keylog->files->len; i++)
    keylog_file_read (keylog, g_ptr_array_index (keylog->files, i), NULL);
  entry = g_hash_table_lookup (keylog->entries, key);
  return entry != NULL ? entry->secret[label] : NULL;
}

/* ---- cipher suites --------------------------------------------------- */

typedef struct
{
  guint16 id;
  const char *name;
  gnutls_cipher_algorithm_t cipher;
  gnutls_mac_algorithm_t hash; /* TLS 1.3 HKDF; TLS 1.2 PRF (§5) */
  gsize key_length;
  gsize iv_length;         /* TLS 1.2: the fixed part from the key block */
  gboolean explicit_nonce; /* TLS 1.2 GCM: 8 octets before the data */
  gboolean tls13;
} TlsSuite;

/* TLS 1.3 (RFC 8446 §B.4); TLS 1.2 AES-GCM (RFC 5288, RFC 5289) and
 * ChaCha20-Poly1305 (RFC 7905); the key log gives the master secret, so
 * the key exchange (ECDHE, DHE or RSA) does not matter. */
static const TlsSuite cipher_suites[] = {
  { 0x1301, "TLS_AES_128_GCM_SHA256", GNUTLS_CIPHER_AES_128_GCM,
    GNUTLS_MAC_SHA256, 16, 12, FALSE, TRUE },
  { 0x1302, "TLS_AES_256_GCM_SHA384", GNUTLS_CIPHER_AES_256_GCM,
    GNUTLS_MAC_SHA384, 32, 12, FALSE, TRUE },
  { 0x1303, "TLS_CHACHA20_POLY1305_SHA256", GNUTLS_CIPHER_CHACHA20_POLY1305,
    GNUTLS_MAC_SHA256, 32, 12, FALSE, TRUE },
  { 0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    GNUTLS_CIPHER_AES_128_GCM, GNUTLS_MAC_SHA256, 16, 4, TRUE, FALSE },
  { 0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    GNUTLS_CIPHER_AES_256_GCM, GNUTLS_MAC_SHA384, 32, 4, TRUE, FALSE },
  { 0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", GNUTLS_CIPHER_AES_128_GCM,
    GNUTLS_MAC_SHA256, 16, 4, TRUE, FALSE },
  { 0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", GNUTLS_CIPHER_AES_256_GCM,
    GNUTLS_MAC_SHA384, 32, 4, TRUE, FALSE },
  { 0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    GNUTLS_CIPHER_CHACHA20_POLY1305, GNUTLS_MAC_SHA256, 32, 12, FALSE, FALSE },
  { 0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    GNUTLS_CIPHER_CHACHA20_POLY1305, GNUTLS_MAC_SHA256, 32, 12, FALSE, FALSE },
  { 0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", GNUTLS_CIPHER_AES_128_GCM,
    GNUTLS_MAC_SHA256, 16, 4, TRUE, FALSE },
  { 0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", GNUTLS_CIPHER_AES_256_GCM,
    GNUTLS_MAC_SHA384, 32, 4, TRUE, FALSE },
  { 0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", GNUTLS_CIPHER_AES_128_GCM,
    GNUTLS_MAC_SHA256, 16, 4, TRUE, FALSE },
  { 0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", GNUTLS_CIPHER_AES_256_GCM,
    GNUTLS_MAC_SHA384, 32, 4, TRUE, FALSE },
};

static const TlsSuite *
suite_find (guint16 id)
{
  for (gsize i = 0; i < G_N_ELEMENTS (cipher_suites); i++)
    if (cipher_suites[i].id == id)
      return &cipher_suites[i];
  return NULL;
}

/* ---- one direction's keys ---------------------------------------------- */

typedef struct
{
  gnutls_aead_cipher_hd_t aead; /* NULL: no keys */
  guint8 iv[TLS_NONCE];
  guint64 sequence; /* the next record's (RFC 8446 §5.3, RFC 5246 §6.1) */
  guint8 secret[TLS_MAX_SECRET]; /* TLS 1.3: this key's traffic secret */
  gsize secret_length;
} TlsKeys;

struct _TlsDecrypt
{
  TraceKeylog *keylog;
  guint8 client_random[TLS_RANDOM];
  guint8 server_random[TLS_RANDOM];
  gboolean have_client_random;
  guint16 version;
  guint16 suite_id;
  const TlsSuite *suite; /* NULL: not covered */
  char suite_name[16];
  TlsKeys keys[2];
};

static void
keys_clear (TlsKeys *keys)
{
  g_clear_pointer (&keys->aead, gnutls_aead_cipher_deinit);
  explicit_bzero (keys, sizeof *keys);
}

TlsDecrypt *
tls_decrypt_new (TraceKeylog *keylog)
{
  TlsDecrypt *decrypt = g_new0 (TlsDecrypt, 1);

  decrypt->keylog = keylog;
  return decrypt;
}

void
tls_decrypt_free (TlsDecrypt *decrypt)
{
  if (decrypt == NULL)
    return;
  keys_clear (&decrypt->keys[0]);
  keys_clear (&decrypt->keys[1]);
  g_free (decrypt);
}

void
tls_decrypt_client_hello (TlsDecrypt *decrypt, const guint8 random[32])
{
  memcpy (decrypt->client_random, random, TLS_RANDOM);
  decrypt->have_client_random = TRUE;
}

void
tls_decrypt_server_hello (TlsDecrypt *decrypt,
                          const guint8 random[32],
                          guint16 version,
                          guint16 suite)
{
  memcpy (decrypt->server_random, random, TLS_RANDOM);
  decrypt->version = version;
  decrypt->suite_id = suite;
  decrypt->suite = suite_find (suite);
}

const char *
tls_decrypt_suite_name (TlsDecrypt *decrypt)
{
  if (decrypt->suite != NULL)
    return decrypt->suite->name;
  g_snprintf (decrypt->suite_name, sizeof decrypt->suite_name, "0x%04x",
              decrypt->suite_id);
  return decrypt->suite_name;
}

gboolean
tls_decrypt_ready (TlsDecrypt *decrypt, TraceDirection direction)
{
  return decrypt->keys[direction].aead != NULL;
}

static gboolean
keys_set (TlsKeys *keys,
          const TlsSuite *suite,
          const guint8 *key,
          const guint8 *iv,
          GError **error)
{
  gnutls_datum_t datum = { (unsigned char *) key,
                           (unsigned) suite->key_length };

  g_clear_pointer (&keys->aead, gnutls_aead_cipher_deinit);
  if (gnutls_aead_cipher_init (&keys->aead, suite->cipher, &datum) < 0)
    {
      keys->aead = NULL;
      g_set_error (error, TLS_DECRYPT_ERROR, TLS_DECRYPT_ERROR_UNSUPPORTED,
                   "cipher %s not supported by this GnuTLS", suite->name);
      return FALSE;
    }
  memset (keys->iv, 0, sizeof keys->iv);
  memcpy (keys->iv, iv, suite->iv_length);
  keys->sequence = 0;
  return TRUE;
}

/* ---- TLS 1.3 key schedule (RFC 8446 §7.1) ----------------------------- */

/* HKDF-Expand-Label (Secret, Label, "", Length): HkdfLabel is uint16
 * length, opaque label<7..255> = "tls13 " + Label, an empty context. */
static gboolean
expand_label (const TlsSuite *suite,
              const guint8 *secret,
              gsize secret_length,
              const char *label,
              guint8 *out,
              gsize length)
{
  guint8 info[2 + 1 + 255 + 1];
  gsize label_length = strlen ("tls13 ") + strlen (label);
  gnutls_datum_t key = { (unsigned char *) secret, (unsigned) secret_length };
  gnutls_datum_t info_datum = { info, (unsigned) (4 + label_length) };

  info[0] = (guint8) (length >> 8);
  info[1] = (guint8) length;
  info[2] = (guint8) label_length;
  memcpy (info + 3, "tls13 ", 6);
  memcpy (info + 9, label, strlen (label));
  info[3 + label_length] = 0; /* context: empty */
  return gnutls_hkdf_expand (suite->hash, &key, &info_datum, out, length) == 0;
}

/* RFC 8446 §7.3: [sender]_write_key and _iv from a traffic secret. */
static gboolean
keys_from_traffic_secret (TlsKeys *keys,
                          const TlsSuite *suite,
                          const guint8 *secret,
                          gsize secret_length,
                          GError **error)
{
  guint8 key[32];
  guint8 iv[TLS_NONCE];
  gboolean ok;

  if (!expand_label (suite, secret, secret_length, "key", key,
                     suite->key_length) ||
      !expand_label (suite, secret, secret_length, "iv", iv, TLS_NONCE))
    {
      g_set_error (error, TLS_DECRYPT_ERROR, TLS_DECRYPT_ERROR_UNSUPPORTED,
                   "HKDF with %s failed", suite->name);
      return FALSE;
    }
  ok = keys_set (keys, suite, key, iv, error);
  memmove (keys->secret, secret, secret_length);
  keys->secret_length = secret_length;
  explicit_bzero (key, sizeof key);
  return ok;
}

static gboolean
keys_from_log (TlsDecrypt *decrypt,
               TraceDirection direction,
               KeylogLabel label,
               GError **error)
{
  GBytes *secret = keylog_find (decrypt->keylog, decrypt->client_random, label);
  gsize length = 0;
  const guint8 *data;

  if (secret == NULL)
    {
      g_set_error (error, TLS_DECRYPT_ERROR, TLS_DECRYPT_ERROR_NO_KEY,
                   "no key for this session in %s (no %s line for its "
                   "ClientHello.random)",
                   trace_keylog_describe (decrypt->keylog),
                   keylog_labels[label]);
      return FALSE;
    }
  data = g_bytes_get_data (secret, &length);
  if (length > TLS_MAX_SECRET)
    length = TLS_MAX_SECRET;
  return keys_from_traffic_secret (&decrypt->keys[direction], decrypt->suite,
                                   data, length, error);
}

gboolean
tls_decrypt_application_keys (TlsDecrypt *decrypt,
                              TraceDirection direction,
                              GError **error)
{
  g_return_val_if_fail (decrypt->suite != NULL && decrypt->suite->tls13, FALSE);
  return keys_from_log (decrypt, direction,
                        direction == TRACE_CLIENT_TO_SERVER
                            ? KEYLOG_CLIENT_TRAFFIC_0
                            : KEYLOG_SERVER_TRAFFIC_0,
                        error);
}

gboolean
tls_decrypt_key_update (TlsDecrypt *decrypt,
                        TraceDirection direction,
                        GError **error)
{
  TlsKeys *keys = &decrypt->keys[direction];
  guint8 next[TLS_MAX_SECRET];
  gsize length = keys->secret_length;
  gboolean ok;

  g_return_val_if_fail (decrypt->suite != NULL && decrypt->suite->tls13, FALSE);
  /* RFC 8446 §7.2: application_traffic_secret_N+1 =
   * HKDF-Expand-Label (application_traffic_secret_N, "traffic upd", "",
   * Hash.length) */
  if (!expand_label (decrypt->suite, keys->secret, length, "traffic upd", next,
                     length))
    {
      g_set_error (error, TLS_DECRYPT_ERROR, TLS_DECRYPT_ERROR_UNSUPPORTED,
                   "HKDF with %s failed", decrypt->suite->name);
      return FALSE;
    }
  ok = keys_from_traffic_secret (keys, decrypt->suite, next, length, error);
  explicit_bzero (next, sizeof next);
  return ok;
}

/* ---- TLS 1.2 key block (RFC 5246 §5, §6.3) ------------------------------ */

/* P_hash (secret, seed) = HMAC (secret, A(1) + seed) + HMAC (secret, A(2)
 * + seed) + ..., A(0) = seed, A(i) = HMAC (secret, A(i-1)). @seed is
 * label + server_random + client_random here. */
static gboolean
p_hash (gnutls_mac_algorithm_t hash,
        GBytes *secret,
        const guint8 *seed,
        gsize seed_length,
        guint8 *out,
        gsize length)
{
  gsize size = gnutls_hmac_get_len (hash);
  gsize secret_length = 0;
  const guint8 *key = g_bytes_get_data (secret, &secret_length);
  guint8 a[TLS_MAX_SECRET];
  guint8 block[TLS_MAX_SECRET];
  g_autoptr (GByteArray) input = g_byte_array_new ();

  if (gnutls_hmac_fast (hash, key, secret_length, seed, seed_length, a) < 0)
    return FALSE;
  for (gsize done = 0; done < length; done += size)
    {
      g_byte_array_set_size (input, 0);
      g_byte_array_append (input, a, size);
      g_byte_array_append (input, seed, seed_length);
      if (gnutls_hmac_fast (hash, key, secret_length, input->data, input->len,
                            block) < 0 ||
          gnutls_hmac_fast (hash, key, secret_length, a, size, a) < 0)
        return FALSE;
      memcpy (out + done, block, MIN (size, length - done));
    }
  explicit_bzero (a, sizeof a);
  explicit_bzero (block, sizeof block);
  return TRUE;
}

/* RFC 5246 §6.3: key_block = PRF (master_secret, "key expansion",
 * server_random + client_random), cut into client_write_key,
 * server_write_key, client_write_IV, server_write_IV (AEAD suites have no
 * MAC keys, RFC 5246 §6.2.3.3). */
static gboolean
tls12_keys (TlsDecrypt *decrypt, TraceDirection direction, GError **error)
{
  const TlsSuite *suite = decrypt->suite;
  GBytes *master = keylog_find (decrypt->keylog, decrypt->client_random,
                                KEYLOG_CLIENT_RANDOM);
  guint8 seed[13 + 2 * TLS_RANDOM];
  guint8 block[2 * 32 + 2 * TLS_NONCE];
  gsize keys = 2 * suite->key_length;
  gsize mine = direction == TRACE_CLIENT_TO_SERVER ? 0 : 1;
  gboolean ok;

  if (master == NULL)
    {
      g_set_error (error, TLS_DECRYPT_ERROR, TLS_DECRYPT_ERROR_NO_KEY,
                   "no key for this session in %s (no CLIENT_RANDOM line "
                   "for its ClientHello.random)",
                   trace_keylog_describe (decrypt->keylog));
      return FALSE;
    }
  memcpy (seed, "key expansion", 13);
  memcpy (seed + 13, decrypt->server_random, TLS_RANDOM);
  memcpy (seed + 13 + TLS_RANDOM, decrypt->client_random, TLS_RANDOM);
  if (!p_hash (suite->hash, master, seed, sizeof seed, block,
               keys + 2 * suite->iv_length))
    {
      g_set_error (error, TLS_DECRYPT_ERROR, TLS_DECRYPT_ERROR_UNSUPPORTED,
                   "the TLS 1.2 PRF with %s failed", suite->name);
      return FALSE;
    }
  ok = keys_set (&decrypt->keys[direction], suite,
                 block + mine * suite->key_length,
                 block + keys + mine * suite->iv_length, error);
  explicit_bzero (block, sizeof block);
  return ok;
}

gboolean
tls_decrypt_start (TlsDecrypt *decrypt,
                   TraceDirection direction,
                   GError **error)
{
  if (!decrypt->have_client_random)
    {
      g_set_error (error, TLS_DECRYPT_ERROR, TLS_DECRYPT_ERROR_NO_KEY,
                   "no key for this session: its ClientHello is not in the "
                   "capture, so its line in %s cannot be found",
                   trace_keylog_describe (decrypt->keylog));
      return FALSE;
    }
  if (decrypt->suite == NULL ||
      decrypt->suite->tls13 != (decrypt->version == 0x0304))
    {
      g_set_error (error, TLS_DECRYPT_ERROR, TLS_DECRYPT_ERROR_UNSUPPORTED,
                   "cipher %s not supported (mw-trace decrypts the AES-GCM "
                   "and ChaCha20-Poly1305 suites of TLS 1.2 and 1.3)",
                   tls_decrypt_suite_name (decrypt));
      return FALSE;
    }
  if (decrypt->suite->tls13)
    return keys_from_log (decrypt, direction,
                          direction == TRACE_CLIENT_TO_SERVER
                              ? KEYLOG_CLIENT_HANDSHAKE
                              : KEYLOG_SERVER_HANDSHAKE,
                          error);
  return tls12_keys (decrypt, direction, error);
}

/* ---- records ----------------------------------------------------------- */

static void
put_uint64 (guint8 *out, guint64 value)
{
  for (int i = 7; i >= 0; i--, value >>= 8)
    out[i] = (guint8) value;
}

/* One try at @sequence; the plaintext in @out_plain on success. */
static gboolean
open_record (TlsDecrypt *decrypt,
             TlsKeys *keys,
             guint64 sequence,
             const guint8 *header,
             const guint8 *body,
             gsize length,
             GByteArray *out_plain)
{
  const TlsSuite *suite = decrypt->suite;
  guint8 nonce[TLS_NONCE];
  guint8 aad[13];
  gsize aad_length = 5;
  gsize explicit_length = suite->explicit_nonce ? TLS12_EXPLICIT_NONCE : 0;
  gsize plain_length = length - explicit_length - TLS_TAG;
  size_t out_length = plain_length;

  memcpy (nonce, keys->iv, TLS_NONCE);
  if (suite->explicit_nonce) /* RFC 5288 §3: salt + nonce_explicit */
    memcpy (nonce + 4, body, TLS12_EXPLICIT_NONCE);
  else /* RFC 8446 §5.3, RFC 7905 §2: iv XOR the padded sequence number */
    for (int i = 0; i < 8; i++)
      nonce[TLS_NONCE - 1 - i] ^= (guint8) (sequence >> (8 * i));
  if (suite->tls13) /* RFC 8446 §5.2: additional_data = the header */
    memcpy (aad, header, 5);
  else /* RFC 5246 §6.2.3.3: seq_num + type + version + length */
    {
      put_uint64 (aad, sequence);
      memcpy (aad + 8, header, 3);
      aad[11] = (guint8) (plain_length >> 8);
      aad[12] = (guint8) plain_length;
      aad_length = 13;
    }
  g_byte_array_set_size (out_plain, plain_length);
  return gnutls_aead_cipher_decrypt (
             keys->aead, nonce, TLS_NONCE, aad, aad_length, TLS_TAG,
             body + explicit_length, length - explicit_length, out_plain->data,
             &out_length) == 0 &&
         out_length == plain_length;
}

/* RFC 8446 §5.4: TLSInnerPlaintext is content, type, zero padding. */
static gboolean
strip_inner_type (GByteArray *plain, guint8 *out_type)
{
  gsize end = plain->len;

  while (end > 0 && plain->data[end - 1] == 0)
    end--;
  if (end == 0)
    return FALSE;
  *out_type = plain->data[end - 1];
  g_byte_array_set_size (plain, end - 1);
  return TRUE;
}

gboolean
tls_decrypt_record (TlsDecrypt *decrypt,
                    TraceDirection direction,
                    const guint8 *header,
                    const guint8 *body,
                    gsize length,
                    guint skipped,
                    GByteArray *out_plain,
                    guint8 *out_type,
                    GError **error)
{
  TlsKeys *keys = &decrypt->keys[direction];
  gsize overhead = TLS_TAG + (decrypt->suite->explicit_nonce ? 8 : 0);

  g_return_val_if_fail (keys->aead != NULL, FALSE);
  if (length < overhead + (decrypt->suite->tls13 ? 1 : 0))
    {
      g_set_error (error, TLS_DECRYPT_ERROR, TLS_DECRYPT_ERROR_MALFORMED,
                   "a %" G_GSIZE_FORMAT "-byte record is too short for %s",
                   length, decrypt->suite->name);
      return FALSE;
    }
  for (guint64 try = 0; try <= skipped; try++)
    {
      guint64 sequence = keys->sequence + try;
      if (!open_record (decrypt, keys, sequence, header, body, length,
                        out_plain))
        continue;
      keys->sequence = sequence + 1;
      if (!decrypt->suite->tls13)
        *out_type = header[0];
      else if (!strip_inner_type (out_plain, out_type))
        break;
      return TRUE;
    }
  g_byte_array_set_size (out_plain, 0);
  g_set_error (error, TLS_DECRYPT_ERROR, TLS_DECRYPT_ERROR_NOT_AUTHENTIC,
               "record does not authenticate with the key from %s (a "
               "wrong key log, or records lost from the capture)",
               trace_keylog_describe (decrypt->keylog));
  return FALSE;
}
