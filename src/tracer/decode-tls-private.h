/* SPDX-License-Identifier: MIT
 * decode-tls-private.h: what the two halves of mw-trace's TLS decoder
 * share: decode-tls.c (the record layer and the decryption hook) and
 * decode-tls-handshake.c (the handshake messages and alerts explained).
 */
#pragma once

#include "tls-decrypt.h"
#include "trace-output.h"

#define TLS_RECORD_HEADER 5
#define TLS_MAX_RECORD (16384 + 2048) /* RFC 8446 §5.2 */
#define TLS_MAX_HANDSHAKE 65536       /* what we hold of handshake messages */

enum
{
  TLS_CHANGE_CIPHER_SPEC = 20,
  TLS_ALERT = 21,
  TLS_HANDSHAKE = 22,
  TLS_APPLICATION_DATA = 23,
};

/* Where a direction's decryption stands (--keylog). */
typedef enum
{
  TLS_KEYS_NONE,   /* still in clear, or no key log given */
  TLS_KEYS_WANTED, /* encrypted from here: keys not looked up yet */
  TLS_KEYS_READY,
  TLS_KEYS_FAILED, /* said why once; the rest is "encrypted, N bytes" */
} TlsKeysState;

/* Live, the key log line may be written a little after the first records
 * pass (a client logs the secret when it reads the ServerHello): so many
 * records are shown encrypted while the key is looked for again. */
#define TLS_KEY_TRIES_LIVE 8
/* After a gap that lost the record framing, at most this many sequence
 * numbers are tried on the next record (RFC 8446 §5.3: the nonce holds
 * it, so only the right one authenticates). */
#define TLS_MAX_SKIPPED 256

struct _TraceTls
{
  guint8 header[TLS_RECORD_HEADER];
  gsize header_length;
  gsize body_remaining; /* octets of the current record still to come */
  gsize body_length;
  GByteArray *handshake; /* handshake octets (clear or decrypted), bounded */
  gboolean encrypted;    /* a ChangeCipherSpec or TLS 1.3 hello passed */
  gboolean broken;       /* not TLS: stop parsing */
  gboolean seen_record;
  /* decryption */
  TlsKeysState keys;
  guint key_tries;
  gboolean application; /* TLS 1.3: past this side's Finished */
  GByteArray *record;   /* the body of the record being received */
  gboolean record_cut;  /* octets of it are missing (a gap) */
  guint skipped;        /* records lost to gaps since the last one read */
  gboolean hunting;     /* framing lost: looking for a record header */
  GByteArray *plain;    /* decrypted content (reused) */
  GQueue held;          /* GBytes: records waiting for their key (live) */
};

/* Explains every whole handshake message held in @direction's buffer;
 * TLS 1.3 Finished and KeyUpdate switch that side's keys. */
void trace_tls_explain_handshake (TraceSession *session,
                                  TraceDirection direction);
/* RFC 8446 §6: a decrypted (or clear) alert. */
void trace_tls_explain_alert (TraceSession *session,
                              TraceDirection direction,
                              const guint8 *data,
                              gsize length);
/* A "tls" event: @what the record or message, @rfc its section. */
void trace_tls_emit (TraceSession *session,
                     TraceDirection direction,
                     const char *what,
                     const char *rfc,
                     gsize length);
/* A "tls" event saying what decryption could not do (tls.error). */
void trace_tls_emit_problem (TraceSession *session,
                             TraceDirection direction,
                             const char *message);
/* @direction is encrypted from its next record: its keys are wanted. */
void trace_tls_want_keys (TraceSession *session, TraceDirection direction);
