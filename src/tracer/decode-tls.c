/* SPDX-License-Identifier: MIT
 * decode-tls.c: the TLS record layer as a class needs to see it (RFC 8446
 * §4.1.2 ClientHello, §4.1.3 ServerHello, §4.2.1 supported_versions,
 * §5.1 records; RFC 5246 §7.4 for TLS 1.2; RFC 6066 §3 server_name).
 * The handshake is explained up to the point where it is encrypted; after
 * that each record is "encrypted, N bytes": this is where plaintext stops.
 */
#include <string.h>

#include "trace-output.h"

#define TLS_RECORD_HEADER 5
#define TLS_MAX_RECORD (16384 + 2048) /* RFC 8446 §5.2 */
#define TLS_MAX_HANDSHAKE 65536       /* what we hold to read hellos */

enum
{
  TLS_CHANGE_CIPHER_SPEC = 20,
  TLS_ALERT = 21,
  TLS_HANDSHAKE = 22,
  TLS_APPLICATION_DATA = 23,
};

struct _TraceTls
{
  guint8 header[TLS_RECORD_HEADER];
  gsize header_length;
  gsize body_remaining; /* octets of the current record still to come */
  gsize body_length;
  GByteArray *handshake; /* plaintext handshake octets, bounded */
  gboolean encrypted;    /* a ChangeCipherSpec or TLS 1.3 hello passed */
  gboolean broken;       /* not TLS: stop parsing */
  gboolean seen_record;
};

TraceTls *
trace_tls_new (void)
{
  TraceTls *tls = g_new0 (TraceTls, 1);

  tls->handshake = g_byte_array_new ();
  return tls;
}

void
trace_tls_free (TraceTls *tls)
{
  g_byte_array_unref (tls->handshake);
  g_free (tls);
}

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
  { 20, "Finished" },           { 0, NULL },
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

/* RFC 8446 §4.1.2 / RFC 5246 §7.4.1.2. */
static void
explain_client_hello (Reader r, GString *out)
{
  g_autofree char *legacy = NULL;
  Reader suites;
  guint version = read_n (&r, 2);
  guint unused = 0;

  legacy = tls_version_name (version);
  g_string_append_printf (out, "ClientHello: record version %s", legacy);
  read_n (&r, 32);  /* random */
  read_sub (&r, 1); /* legacy_session_id */
  suites = read_sub (&r, 2);
  read_sub (&r, 1); /* legacy_compression_methods */
  if (suites.ok)
    g_string_append_printf (out, ", %" G_GSIZE_FORMAT " cipher suites",
                            suites.left / 2);
  if (r.ok && r.left > 0)
    explain_extensions (&r, TRUE, out, &unused);
}

/* RFC 8446 §4.1.3: the chosen suite, and version via supported_versions. */
static gboolean
explain_server_hello (Reader r, GString *out)
{
  guint version = read_n (&r, 2);
  guint suite;
  g_autofree char *name = NULL;
  const char *suite_name;
  GString *extras = g_string_new (NULL);

  read_n (&r, 32);
  read_sub (&r, 1);
  suite = read_n (&r, 2);
  read_n (&r, 1);
  if (r.ok && r.left > 0)
    explain_extensions (&r, FALSE, extras, &version);
  name = tls_version_name (version);
  suite_name = tls_name (tls_suites, suite);
  g_string_append_printf (out, "ServerHello: %s, cipher suite ", name);
  if (suite_name != NULL)
    g_string_append (out, suite_name);
  else
    g_string_append_printf (out, "0x%04x", suite);
  g_string_free (extras, TRUE);
  return version == 0x0304; /* TLS 1.3 encrypts everything after this */
}

static void
emit_tls (TraceSession *session,
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

/* Explains every whole handshake message held for @direction. */
static void
explain_handshake (TraceSession *session, TraceDirection direction)
{
  TraceTls *tls = session->tls_half[direction];

  while (tls->handshake->len >= 4)
    {
      const guint8 *p = tls->handshake->data;
      gsize length = ((gsize) p[1] << 16) | ((gsize) p[2] << 8) | p[3];
      Reader body = { p + 4, length, TRUE };
      g_autoptr (GString) text = g_string_new (NULL);
      const char *name = tls_name (tls_handshakes, p[0]);

      if (tls->handshake->len < 4 + length)
        return;
      if (p[0] == 1)
        explain_client_hello (body, text);
      else if (p[0] == 2)
        {
          if (explain_server_hello (body, text))
            tls->encrypted = TRUE;
        }
      else
        g_string_append_printf (text, "%s, %" G_GSIZE_FORMAT " bytes",
                                name != NULL ? name : "handshake", length);
      emit_tls (session, direction, text->str,
                p[0] <= 2 ? "RFC 8446 §4.1" : "RFC 8446 §4", length);
      g_byte_array_remove_range (tls->handshake, 0, 4 + length);
      if (tls->encrypted)
        g_byte_array_set_size (tls->handshake, 0);
    }
}

static void
record_end (TraceSession *session, TraceDirection direction)
{
  TraceTls *tls = session->tls_half[direction];
  guint8 type = tls->header[0];
  g_autofree char *text = NULL;

  if (type == TLS_HANDSHAKE && !tls->encrypted)
    {
      explain_handshake (session, direction);
      return;
    }
  if (type == TLS_CHANGE_CIPHER_SPEC)
    {
      /* RFC 5246 §7.1: from here this side encrypts (TLS 1.3 sends it
       * only for middlebox compatibility, RFC 8446 §D.4). */
      tls->encrypted = TRUE;
      emit_tls (session, direction, "ChangeCipherSpec: encryption starts",
                "RFC 5246 §7.1", tls->body_length);
      return;
    }
  text = g_strdup_printf ("%s, %" G_GSIZE_FORMAT " bytes",
                          type == TLS_ALERT ? "alert (encrypted or not)"
                                            : "encrypted",
                          tls->body_length);
  emit_tls (session, direction, text, "RFC 8446 §5.2", tls->body_length);
}

/* A record header: type, legacy version, length (RFC 8446 §5.1). */
static gboolean
record_begin (TraceSession *session, TraceDirection direction)
{
  TraceTls *tls = session->tls_half[direction];
  guint8 type = tls->header[0];
  gsize length = ((gsize) tls->header[3] << 8) | tls->header[4];

  if (type < TLS_CHANGE_CIPHER_SPEC || type > TLS_APPLICATION_DATA ||
      tls->header[1] != 3 || length > TLS_MAX_RECORD)
    {
      tls->broken = TRUE;
      trace_session_lint (session, direction, "RFC 8446 §5.1",
                          "%s: not a TLS record (octets 0x%02x 0x%02x)",
                          tls->seen_record ? "TLS stream lost" : "TLS expected",
                          tls->header[0], tls->header[1]);
      return FALSE;
    }
  tls->seen_record = TRUE;
  tls->body_length = length;
  tls->body_remaining = length;
  return TRUE;
}

void
trace_tls_data (TraceSession *session,
                TraceDirection direction,
                const guint8 *data,
                gsize length)
{
  TraceTls *tls = session->tls_half[direction];

  while (length > 0 && !tls->broken)
    {
      gsize take;

      if (tls->header_length < TLS_RECORD_HEADER)
        {
          take = MIN (length, TLS_RECORD_HEADER - tls->header_length);
          memcpy (tls->header + tls->header_length, data, take);
          tls->header_length += take;
          data += take;
          length -= take;
          if (tls->header_length == TLS_RECORD_HEADER &&
              !record_begin (session, direction))
            return;
          if (tls->header_length < TLS_RECORD_HEADER || tls->body_remaining)
            continue;
        }
      take = MIN (length, tls->body_remaining);
      if (tls->header[0] == TLS_HANDSHAKE && !tls->encrypted &&
          tls->handshake->len + take <= TLS_MAX_HANDSHAKE)
        g_byte_array_append (tls->handshake, data, take);
      tls->body_remaining -= take;
      data += take;
      length -= take;
      if (tls->body_remaining == 0)
        {
          record_end (session, direction);
          tls->header_length = 0;
        }
    }
}
