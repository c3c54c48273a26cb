/* SPDX-License-Identifier: MIT
 * tls-decrypt.h: reading TLS records whose keys you have. Three parts:
 *   - the key log (NSS key log format, what GnuTLS and OpenSSL write when
 *     SSLKEYLOGFILE is set): secrets by ClientHello.random, re-read as the
 *     file grows, for live capture;
 *   - the key schedule: TLS 1.3 traffic keys from the logged traffic
 *     secrets (RFC 8446 §7.1, §7.3), TLS 1.2 key blocks from the logged
 *     master secret (RFC 5246 §5, §6.3);
 *   - record decryption: AES-GCM and ChaCha20-Poly1305, the nonce and the
 *     additional data of RFC 8446 §5.2-§5.3, RFC 5288 §3 and RFC 7905 §2.
 * Every cipher, HMAC and HKDF is GnuTLS's; nothing here is cryptography
 * written by hand, only the TLS rules for feeding it.
 */
#pragma once

#include <glib.h>

#include "tcp-flow.h"

G_BEGIN_DECLS

#define TLS_DECRYPT_ERROR (tls_decrypt_error_quark ())
typedef enum
{
  TLS_DECRYPT_ERROR_NO_KEY,        /* the key log has no line for it */
  TLS_DECRYPT_ERROR_UNSUPPORTED,   /* a cipher suite not covered */
  TLS_DECRYPT_ERROR_NOT_AUTHENTIC, /* the AEAD tag did not verify */
  TLS_DECRYPT_ERROR_MALFORMED,     /* too short to be a record */
} TlsDecryptError;
GQuark tls_decrypt_error_quark (void);

/* ---- the key log ------------------------------------------------------ */

typedef struct _TraceKeylog TraceKeylog;

TraceKeylog *trace_keylog_new (void);
void trace_keylog_free (TraceKeylog *keylog);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TraceKeylog, trace_keylog_free)

/* Adds @path and reads what it holds. With @must_exist FALSE (a live
 * capture) a file that is not there yet is read once it appears. FALSE
 * (error set) when it cannot be read. Lines that are not key log lines
 * (comments, other labels) are skipped, as NSS does. */
gboolean trace_keylog_add_file (TraceKeylog *keylog,
                                const char *path,
                                gboolean must_exist,
                                GError **error);
/* "keys.log" or "a.log, b.log", for messages (transfer none). */
const char *trace_keylog_describe (TraceKeylog *keylog);
/* Secrets read so far (for tests and messages). */
guint trace_keylog_count (TraceKeylog *keylog);

/* ---- one connection --------------------------------------------------- */

typedef struct _TlsDecrypt TlsDecrypt;

/* @keylog must outlive it. (transfer full): free with tls_decrypt_free. */
TlsDecrypt *tls_decrypt_new (TraceKeylog *keylog);
void tls_decrypt_free (TlsDecrypt *decrypt);

/* What the hellos said (RFC 8446 §4.1.2-§4.1.3; the version is the one
 * supported_versions chose, or legacy_version for TLS 1.2). */
void tls_decrypt_client_hello (TlsDecrypt *decrypt, const guint8 random[32]);
void tls_decrypt_server_hello (TlsDecrypt *decrypt,
                               const guint8 random[32],
                               guint16 version,
                               guint16 suite);
/* TLS 1.3 (after ServerHello, both ways) or TLS 1.2 (at that side's
 * ChangeCipherSpec): @direction encrypts from its next record. Finds the
 * secret in the key log and derives the keys; FALSE (error set: NO_KEY,
 * UNSUPPORTED) when it cannot. */
gboolean tls_decrypt_start (TlsDecrypt *decrypt,
                            TraceDirection direction,
                            GError **error);
/* TLS 1.3: @direction sent its Finished: the application traffic secret
 * takes over, sequence number 0 (RFC 8446 §7.1, §5.3). */
gboolean tls_decrypt_application_keys (TlsDecrypt *decrypt,
                                       TraceDirection direction,
                                       GError **error);
/* TLS 1.3 KeyUpdate from @direction (RFC 8446 §4.6.3, §7.2). */
gboolean tls_decrypt_key_update (TlsDecrypt *decrypt,
                                 TraceDirection direction,
                                 GError **error);
/* TRUE when @direction has keys (tls_decrypt_start succeeded). */
gboolean tls_decrypt_ready (TlsDecrypt *decrypt, TraceDirection direction);
/* The suite's name for messages, e.g. "TLS_AES_128_GCM_SHA256", or
 * "0x1234" (transfer none; valid until the next call). */
const char *tls_decrypt_suite_name (TlsDecrypt *decrypt);

/* Decrypts one record of @direction: @header is its 5 octets (RFC 8446
 * §5.1), @body its @length octets. On success @out_plain holds the
 * content and @out_type its real type (TLS 1.3: the inner type of
 * TLSInnerPlaintext, padding removed). @skipped tells how many records
 * went by unseen (a gap in the capture); then up to that many following
 * sequence numbers are tried, and the one that authenticates is kept.
 * FALSE (error set: NOT_AUTHENTIC, MALFORMED) otherwise. Untrusted data. */
gboolean tls_decrypt_record (TlsDecrypt *decrypt,
                             TraceDirection direction,
                             const guint8 *header,
                             const guint8 *body,
                             gsize length,
                             guint skipped,
                             GByteArray *out_plain,
                             guint8 *out_type,
                             GError **error);

G_END_DECLS
