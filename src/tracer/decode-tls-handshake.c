/* SPDX-License-Identifier: MIT
 * decode-tls-handshake.c: the TLS handshake as a class needs to see it:
 * ClientHello and ServerHello in clear (RFC 8446 §4.1.2-§4.1.3, §4.2.1
 * supported_versions; RFC 5246 §7.4 for TLS 1.2; RFC 6066 §3
 * server_name), and, once decrypted (--keylog), the messages after them
 * named: EncryptedExtensions, Certificate with the server's subject and
 * subjectAltName (RFC 5280 §4.1.2.6, §4.2.1.6), CertificateVerify,
 * Finished, NewSessionTicket, KeyUpdate (RFC 8446 §4.3-§4.6); alerts
 * (RFC 8446 §6).
 */
#include <arpa/inet.h>
#include <gnutls/x509.h>
#include <string.h>

#include "decode-tls-private.h"

typedef struct
{
  guint16 id;
  const char *name;
} TlsName;

/* IANA "TLS Cipher Suites": the ones a mail server meets. */
static const TlsName tls_suites[] = {
  { 0x1301, "TLS_AES_128_GCM_SHA256" },
  { 0x1302, "TLS_AES_256_GCM_SHA384" },
  { 0x1303, "TLS_CHACHA20_POLY1305_SHA256" },
  { 0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" },
  { 0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" },
  { 0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" },
  { 0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" },
  { 0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" },
  { 0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" },
  { 0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256" },
  { 0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384" },
  { 0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256" },
  { 0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384" },
  { 0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA" },
  { 0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA" },
  { 0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA" },
  { 0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA" },
  { 0, NULL },
};

/* RFC 8446 §4: handshake message types. */
static const TlsName tls_handshakes[] = {
  { 1, "ClientHello" },         { 2, "ServerHello" },
  { 4, "NewSessionTicket" },    { 8, "EncryptedExtensions" },
  { 11, "Certificate" },        { 12, "ServerKeyExchange" },
  { 13, "CertificateRequest" }, { 14, "ServerHelloDone" },
  { 15, "CertificateVerify" },  { 16, "ClientKeyExchange" },
  { 20, "Finished" },           { 5, "EndOfEarlyData" },
  { 24, "KeyUpdate" },          { 0, NULL },
};

/* RFC 8446 §6.2 (and §6.1 close_notify): alert descriptions. */
static const TlsName tls_alerts[] = {
  { 0, "close_notify" },
  { 10, "unexpected_message" },
  { 20, "bad_record_mac" },
  { 22, "record_overflow" },
  { 40, "handshake_failure" },
  { 42, "bad_certificate" },
  { 43, "unsupported_certificate" },
  { 44, "certificate_revoked" },
  { 45, "certificate_expired" },
  { 46, "certificate_unknown" },
  { 47, "illegal_parameter" },
  { 48, "unknown_ca" },
  { 49, "access_denied" },
  { 50, "decode_error" },
  { 51, "decrypt_error" },
  { 70, "protocol_version" },
  { 71, "insufficient_security" },
  { 80, "internal_error" },
  { 86, "inappropriate_fallback" },
  { 90, "user_canceled" },
  { 109, "missing_extension" },
  { 110, "unsupported_extension" },
  { 112, "unrecognized_name" },
  { 116, "certificate_required" },
  { 120, "no_application_protocol" },
  { 0, NULL },
};

static const char *
tls_name (const TlsName *table, guint16 id)
{
  for (gsize i = 0; table[i].name != NULL; i++)
    if (table[i].id == id)
      return table[i].name;
  return NULL;
}

static char *
tls_version_name (guint16 version)
{
  if (version == 0x0300)
    return g_strdup ("SSL 3.0");
  if (version >= 0x0301 && version <= 0x0304)
    return g_strdup_printf ("TLS 1.%d", version - 0x0301);
  if ((version & 0x0f0f) == 0x0a0a)
    return g_strdup ("GREASE"); /* RFC 8701 */
  return g_strdup_printf ("0x%04x", version);
}

/* A bounded reader over one handshake message. */
typedef struct
{
  const guint8 *p;
  gsize left;
  gboolean ok;
} Reader;

static guint
read_n (Reader *r, gsize n)
{
  guint value = 0;

  if (!r->ok || r->left < n)
    {
      r->ok = FALSE;
      return 0;
    }
  for (gsize i = 0; i < n; i++)
    value = (value << 8) | r->p[i];
  r->p += n;
  r->left -= n;
  return value;
}

static Reader
read_sub (Reader *r, gsize length_size)
{
  gsize length = read_n (r, length_size);
  Reader sub = { r->p, length, r->ok && r->left >= length };

  if (sub.ok)
    {
      r->p += length;
      r->left -= length;
    }
  else
    r->ok = FALSE;
  return sub;
}

/* RFC 6066 §3: server_name list, host_name (0) entries. */
static void
explain_sni (Reader ext, GString *out)
{
  Reader list = read_sub (&ext, 2);

  while (list.ok && list.left > 0)
    {
      guint type = read_n (&list, 1);
      Reader name = read_sub (&list, 2);
      if (name.ok && type == 0)
        g_string_append_printf (out, ", SNI %.*s", (int) name.left, name.p);
    }
}

/* RFC 8446 §4.2.1: ClientHello lists versions, ServerHello picks one. */
static void
explain_versions (Reader ext, gboolean client, GString *out)
{
  Reader list = client ? read_sub (&ext, 1) : ext;
  const char *separator = client ? ", offers " : ", chooses ";

  while (list.ok && list.left >= 2)
    {
      g_autofree char *name = tls_version_name (read_n (&list, 2));
      if (strcmp (name, "GREASE") == 0)
        continue;
      g_string_append_printf (out, "%s%s", separator, name);
      separator = " ";
      if (!client)
        break;
    }
}

static void
explain_extensions (Reader *r, gboolean client, GString *out, guint *version)
{
  Reader extensions = read_sub (r, 2);

  while (extensions.ok && extensions.left >= 4)
    {
      guint type = read_n (&extensions, 2);
      Reader ext = read_sub (&extensions, 2);
      if (!ext.ok)
        break;
      if (type == 0 && client)
        explain_sni (ext, out);
      else if (type == 43) /* supported_versions */
        {
          explain_versions (ext, client, out);
          if (!client && ext.left >= 2)
            *version = (ext.p[0] << 8) | ext.p[1];
        }
    }
}

/* The session's decryption state, made at its ClientHello when mw-trace
 * was given a key log; NULL otherwise. */
static TlsDecrypt *
session_decrypt (TraceSession *session)
{
  if (session->tls_decrypt == NULL && session->options->keylog != NULL)
    session->tls_decrypt = tls_decrypt_new (session->options->keylog);
  return session->tls_decrypt;
}

/* RFC 8446 §4.1.2 / RFC 5246 §7.4.1.2. */
static void
explain_client_hello (TraceSession *session, Reader r, GString *out)
{
  g_autofree char *legacy = NULL;
  Reader suites;
  guint version = read_n (&r, 2);
  guint unused = 0;
  const guint8 *random = r.p;

  legacy = tls_version_name (version);
  g_string_append_printf (out, "ClientHello: record version %s", legacy);
  read_n (&r, 32); /* random: the key log's index */
  if (r.ok && session_decrypt (session) != NULL)
    tls_decrypt_client_hello (session->tls_decrypt, random);
  read_sub (&r, 1); /* legacy_session_id */
  suites = read_sub (&r, 2);
  read_sub (&r, 1); /* legacy_compression_methods */
  if (suites.ok)
    g_string_append_printf (out, ", %" G_GSIZE_FORMAT " cipher suites",
                            suites.left / 2);
  if (r.ok && r.left > 0)
    explain_extensions (&r, TRUE, out, &unused);
}

/* RFC 8446 §4.1.3: a ServerHello with this random is a
 * HelloRetryRequest (SHA-256 of "HelloRetryRequest"). */
static const guint8 tls_retry_random[32] = {
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
  0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
  0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/* The session can be decrypted from here: TLS 1.3 encrypts both ways
 * after the ServerHello (RFC 8446 §2), TLS 1.2 each side after its
 * ChangeCipherSpec (RFC 5246 §7.1). */
void
trace_tls_want_keys (TraceSession *session, TraceDirection direction)
{
  TraceTls *tls = session->tls_half[direction];

  if (session->tls_decrypt == NULL)
    return;
  if (tls == NULL)
    tls = session->tls_half[direction] = trace_tls_new ();
  if (tls->keys == TLS_KEYS_NONE)
    tls->keys = TLS_KEYS_WANTED;
}

/* RFC 8446 §4.1.3: the chosen suite, and version via supported_versions.
 * TRUE when the rest of this side is encrypted (TLS 1.3). */
static gboolean
explain_server_hello (TraceSession *session, Reader r, GString *out)
{
  guint version = read_n (&r, 2);
  guint suite;
  g_autofree char *name = NULL;
  const char *suite_name;
  const guint8 *random = r.p;
  gboolean retry;
  GString *extras = g_string_new (NULL);

  read_n (&r, 32);
  retry = r.ok && memcmp (random, tls_retry_random, 32) == 0;
  read_sub (&r, 1);
  suite = read_n (&r, 2);
  read_n (&r, 1);
  if (r.ok && r.left > 0)
    explain_extensions (&r, FALSE, extras, &version);
  name = tls_version_name (version);
  suite_name = tls_name (tls_suites, suite);
  g_string_append_printf (out, "%s: %s, cipher suite ",
                          retry ? "HelloRetryRequest" : "ServerHello", name);
  if (suite_name != NULL)
    g_string_append (out, suite_name);
  else
    g_string_append_printf (out, "0x%04x", suite);
  g_string_free (extras, TRUE);
  if (retry)
    return FALSE; /* a second ClientHello and ServerHello follow, in clear */
  session->tls_version = version;
  if (r.ok && session_decrypt (session) != NULL)
    tls_decrypt_server_hello (session->tls_decrypt, random, version, suite);
  if (version != 0x0304)
    return FALSE;
  trace_tls_want_keys (session, TRACE_CLIENT_TO_SERVER);
  trace_tls_want_keys (session, TRACE_SERVER_TO_CLIENT);
  return TRUE; /* TLS 1.3 encrypts everything after this */
}

/* "DNS:mx.example.test" or "IP:127.0.0.1" for one subjectAltName. */
static void
append_san (GString *out, int type, const char *value, size_t size)
{
  char address[INET6_ADDRSTRLEN] = "?";

  if (type == GNUTLS_SAN_DNSNAME)
    g_string_append_printf (out, " DNS:%.*s", (int) size, value);
  else if (type == GNUTLS_SAN_IPADDRESS)
    {
      inet_ntop (size == 16 ? AF_INET6 : AF_INET, value, address,
                 sizeof address);
      g_string_append_printf (out, " IP:%s", address);
    }
  else if (type == GNUTLS_SAN_RFC822NAME)
    g_string_append_printf (out, " email:%.*s", (int) size, value);
}

/* The subject (RFC 5280 §4.1.2.6) and subjectAltName (§4.2.1.6) of the
 * DER certificate @der: what the client checks the server name against
 * (RFC 6125 §6). */
static void
explain_certificate (const guint8 *der, gsize length, GString *out)
{
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t datum = { (unsigned char *) der, (unsigned) length };
  gnutls_datum_t dn = { NULL, 0 };
  char san[256];

  if (gnutls_x509_crt_init (&crt) < 0)
    return;
  if (gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_DER) < 0)
    {
      g_string_append (out, "; not a readable X.509 certificate");
      gnutls_x509_crt_deinit (crt);
      return;
    }
  if (gnutls_x509_crt_get_dn3 (crt, &dn, 0) >= 0)
    g_string_append_printf (out, "; subject %s", dn.data);
  gnutls_free (dn.data);
  for (unsigned i = 0; i < 16; i++)
    {
      size_t size = sizeof san;
      int type =
          gnutls_x509_crt_get_subject_alt_name (crt, i, san, &size, NULL);
      if (type < 0)
        break;
      g_string_append (out, i == 0 ? "; SAN" : "");
      append_san (out, type, san, size);
    }
  gnutls_x509_crt_deinit (crt);
}

/* RFC 8446 §4.4.2 (TLS 1.3: a context, then entries with extensions) and
 * RFC 5246 §7.4.2 (TLS 1.2: a list of certificates). */
static void
explain_certificates (Reader r, gboolean tls13, GString *out)
{
  g_autoptr (GString) first = g_string_new (NULL);
  Reader list;
  guint count = 0;

  if (tls13)
    read_sub (&r, 1); /* certificate_request_context */
  list = read_sub (&r, 3);
  while (list.ok && list.left > 0)
    {
      Reader der = read_sub (&list, 3);
      if (!der.ok)
        break;
      if (count++ == 0)
        explain_certificate (der.p, der.left, first);
      if (tls13)
        read_sub (&list, 2); /* the entry's extensions */
    }
  g_string_append_printf (out, ", %u certificate%s%s", count,
                          count == 1 ? "" : "s (the server's first)",
                          first->str);
}

void
trace_tls_emit (TraceSession *session,
                TraceDirection direction,
                const char *what,
                const char *rfc,
                gsize length)
{
  TraceEvent *event = trace_event_new (session, direction, "tls");

  trace_event_text (event, what);
  trace_event_rfc (event, rfc);
  trace_event_field (event, "tls.record", what);
  trace_event_field_int (event, "tls.record.length", (gint64) length);
  trace_event_emit (event);
}

/* What decryption could not do, said once per session in plain words;
 * the session's records are then shown as encrypted. */
void
trace_tls_emit_problem (TraceSession *session,
                        TraceDirection direction,
                        const char *message)
{
  TraceEvent *event = trace_event_new (session, direction, "tls");

  trace_event_text (event, message);
  trace_event_rfc (event, "RFC 8446 §5.2");
  trace_event_tone (event, TRACE_TONE_WARNING);
  trace_event_field (event, "tls.error", message);
  trace_event_emit (event);
}

static const char *
handshake_rfc (guint type)
{
  switch (type)
    {
    case 1:
    case 2:
      return "RFC 8446 §4.1";
    case 4:
      return "RFC 8446 §4.6.1";
    case 8:
      return "RFC 8446 §4.3.1";
    case 11:
      return "RFC 8446 §4.4.2";
    case 15:
      return "RFC 8446 §4.4.3";
    case 20:
      return "RFC 8446 §4.4.4";
    case 24:
      return "RFC 8446 §4.6.3";
    default:
      return "RFC 8446 §4";
    }
}

/* A handshake message seen inside TLS 1.3 that changes this side's keys
 * (Finished: the application traffic secret; KeyUpdate: the next one).
 * A secret not in the key log (yet) is looked up at the next record. */
static void
follow_key_change (TraceSession *session, TraceDirection direction, guint type)
{
  TraceTls *tls = session->tls_half[direction];
  TlsDecrypt *decrypt = session->tls_decrypt;
  g_autoptr (GError) error = NULL;
  gboolean ok = TRUE;

  if (decrypt == NULL || tls->keys != TLS_KEYS_READY ||
      session->tls_version != 0x0304)
    return;
  if (type == 20 && !tls->application)
    {
      tls->application = TRUE;
      ok = tls_decrypt_application_keys (decrypt, direction, &error);
    }
  else if (type == 24)
    ok = tls_decrypt_key_update (decrypt, direction, &error);
  if (ok)
    return;
  if (g_error_matches (error, TLS_DECRYPT_ERROR, TLS_DECRYPT_ERROR_NO_KEY))
    {
      tls->keys = TLS_KEYS_WANTED;
      tls->key_tries = 0;
      return;
    }
  tls->keys = TLS_KEYS_FAILED;
  trace_tls_emit_problem (session, direction, error->message);
}

static void
explain_message (TraceSession *session,
                 TraceDirection direction,
                 Reader body,
                 guint type,
                 GString *text)
{
  TraceTls *tls = session->tls_half[direction];
  const char *name = tls_name (tls_handshakes, type);

  if (type == 1)
    explain_client_hello (session, body, text);
  else if (type == 2)
    {
      if (explain_server_hello (session, body, text))
        tls->encrypted = TRUE;
    }
  else
    {
      g_string_append_printf (text, "%s, %" G_GSIZE_FORMAT " bytes",
                              name != NULL ? name : "handshake", body.left);
      if (type == 11)
        explain_certificates (body, session->tls_version == 0x0304, text);
    }
}

/* Explains every whole handshake message held for @direction. */
void
trace_tls_explain_handshake (TraceSession *session, TraceDirection direction)
{
  TraceTls *tls = session->tls_half[direction];

  while (tls->handshake->len >= 4)
    {
      const guint8 *p = tls->handshake->data;
      gsize length = ((gsize) p[1] << 16) | ((gsize) p[2] << 8) | p[3];
      Reader body = { p + 4, length, TRUE };
      g_autoptr (GString) text = g_string_new (NULL);
      guint type = p[0];
      gboolean was_encrypted = tls->encrypted;

      if (tls->handshake->len < 4 + length)
        return;
      explain_message (session, direction, body, type, text);
      trace_tls_emit (session, direction, text->str, handshake_rfc (type),
                      length);
      g_byte_array_remove_range (tls->handshake, 0, 4 + length);
      if (tls->encrypted && !was_encrypted)
        g_byte_array_set_size (tls->handshake, 0);
      follow_key_change (session, direction, type);
    }
}

/* RFC 8446 §6: level and description. */
void
trace_tls_explain_alert (TraceSession *session,
                         TraceDirection direction,
                         const guint8 *data,
                         gsize length)
{
  g_autofree char *text = NULL;
  const char *name;

  if (length < 2)
    {
      trace_tls_emit (session, direction, "alert, too short", "RFC 8446 §6",
                      length);
      return;
    }
  name = tls_name (tls_alerts, data[1]);
  if (name != NULL)
    text = g_strdup_printf ("alert: %s (%s)", name,
                            data[0] == 2 ? "fatal" : "warning");
  else
    text = g_strdup_printf ("alert: %u (%s)", data[1],
                            data[0] == 2 ? "fatal" : "warning");
  trace_tls_emit (session, direction, text,
                  data[1] == 0 ? "RFC 8446 §6.1" : "RFC 8446 §6.2", length);
}
