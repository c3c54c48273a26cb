/* SPDX-License-Identifier: MIT
 * mail-tls.c: TLS through GIO (GTlsConnection, GnuTLS backend from
 * glib-networking) for implicit TLS (RFC 8314 §3.3) and STARTTLS
 * (RFC 3207 §4), and self-signed X.509 certificates (RFC 5280) written
 * with GnuTLS for labs and tests.
 */
#include "mail-tls.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>
#include <unistd.h>

G_DEFINE_QUARK (mail_tls_error, mail_tls_error)

#define MAIL_TLS_RSA_BITS 2048
#define MAIL_TLS_SERIAL_LENGTH 16     /* RFC 5280 §4.1.2.2: at most 20 */
#define MAIL_TLS_CLOCK_SKEW (60 * 60) /* valid from an hour ago */

/* GIO loads its TLS backend from glib-networking at run time; without it
 * every TLS call fails with a message that does not say why. */
static gboolean
tls_check_backend (GError **error)
{
  if (g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    return TRUE;
  g_set_error_literal (error, MAIL_TLS_ERROR, MAIL_TLS_ERROR_NO_BACKEND,
                       "GIO has no TLS backend: install glib-networking");
  return FALSE;
}

GTlsCertificate *
mail_tls_load_certificate (const char *cert_file,
                           const char *key_file,
                           GError **error)
{
  GTlsCertificate *certificate = NULL;

  g_return_val_if_fail (cert_file != NULL && key_file != NULL, NULL);

  if (!tls_check_backend (error))
    return NULL;
  certificate = g_tls_certificate_new_from_files (cert_file, key_file, error);
  if (certificate == NULL)
    g_prefix_error (error, "loading %s and %s: ", cert_file, key_file);
  return certificate;
}

static gboolean
tls_handshake (GIOStream *tls, GCancellable *cancellable, GError **error)
{
  if (g_tls_connection_handshake (G_TLS_CONNECTION (tls), cancellable, error))
    return TRUE;
  g_prefix_error (error, "TLS handshake: ");
  return FALSE;
}

/* Mail protocols end with QUIT/LOGOUT and dot-terminated data, so a peer
 * that closes TCP without a TLS close_notify cannot truncate anything
 * unnoticed; many real clients do close that way. */
static void
tls_relax_close_notify (GIOStream *tls)
{
  g_tls_connection_set_require_close_notify (G_TLS_CONNECTION (tls), FALSE);
}

GIOStream *
mail_tls_server_wrap (GIOStream *base,
                      GTlsCertificate *certificate,
                      GCancellable *cancellable,
                      GError **error)
{
  g_autoptr (GIOStream) tls = NULL;

  g_return_val_if_fail (G_IS_IO_STREAM (base), NULL);
  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);

  if (!tls_check_backend (error))
    return NULL;
  tls = g_tls_server_connection_new (base, certificate, error);
  if (tls == NULL)
    return NULL;
  tls_relax_close_notify (tls);
  if (!tls_handshake (tls, cancellable, error))
    return NULL;
  return g_steal_pointer (&tls);
}

static gboolean
on_accept_certificate (GTlsConnection *connection,
                       GTlsCertificate *certificate,
                       GTlsCertificateFlags errors,
                       gpointer user_data)
{
  return TRUE; /* --insecure: the user asked us not to check */
}

/* Trust @ca_file instead of the system store (labs use self-signed
 * certificates). */
static gboolean
tls_use_ca_file (GIOStream *tls, const char *ca_file, GError **error)
{
  /* GTlsFileDatabase wants an absolute path; users give relative ones. */
  g_autofree char *absolute = g_canonicalize_filename (ca_file, NULL);
  g_autoptr (GTlsDatabase) database = g_tls_file_database_new (absolute, error);

  if (database == NULL)
    {
      g_prefix_error (error, "loading CA file %s: ", ca_file);
      return FALSE;
    }
  g_tls_connection_set_database (G_TLS_CONNECTION (tls), database);
  return TRUE;
}

GIOStream *
mail_tls_client_wrap (GIOStream *base,
                      const char *server_name,
                      const char *ca_file,
                      gboolean insecure,
                      GCancellable *cancellable,
                      GError **error)
{
  g_autoptr (GSocketConnectable) identity = NULL;
  g_autoptr (GIOStream) tls = NULL;

  g_return_val_if_fail (G_IS_IO_STREAM (base), NULL);

  if (!tls_check_backend (error))
    return NULL;
  /* The identity is both the SNI name sent (RFC 6066 §3) and the name the
   * certificate must carry (RFC 6125 §6). */
  if (server_name != NULL)
    identity = g_network_address_new (server_name, 0);
  tls = g_tls_client_connection_new (base, identity, error);
  if (tls == NULL)
    return NULL;
  tls_relax_close_notify (tls);
  if (ca_file != NULL && !tls_use_ca_file (tls, ca_file, error))
    return NULL;
  if (insecure)
    g_signal_connect (tls, "accept-certificate",
                      G_CALLBACK (on_accept_certificate), NULL);
  if (!tls_handshake (tls, cancellable, error))
    return NULL;
  return g_steal_pointer (&tls);
}

static const char *
tls_protocol_name (GTlsProtocolVersion version)
{
  switch (version)
    {
    case G_TLS_PROTOCOL_VERSION_SSL_3_0:
      return "SSLv3";
    case G_TLS_PROTOCOL_VERSION_TLS_1_0:
      return "TLSv1.0";
    case G_TLS_PROTOCOL_VERSION_TLS_1_1:
      return "TLSv1.1";
    case G_TLS_PROTOCOL_VERSION_TLS_1_2:
      return "TLSv1.2";
    case G_TLS_PROTOCOL_VERSION_TLS_1_3:
      return "TLSv1.3";
    case G_TLS_PROTOCOL_VERSION_DTLS_1_0:
      return "DTLSv1.0";
    case G_TLS_PROTOCOL_VERSION_DTLS_1_2:
      return "DTLSv1.2";
    case G_TLS_PROTOCOL_VERSION_UNKNOWN:
    default:
      return "TLS";
    }
}

gboolean
mail_tls_set_keylog (const char *path, GError **error)
{
  int fd;

  if (path == NULL)
    return TRUE;
  /* Opened here once so that a wrong path is said at start, not
   * silently ignored by GnuTLS at the first handshake; 0600: the file
   * unlocks every session. */
  fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      g_set_error (error, MAIL_TLS_ERROR, MAIL_TLS_ERROR_FAILED,
                   "key log %s: %s", path, g_strerror (errno));
      return FALSE;
    }
  close (fd);
  g_setenv ("SSLKEYLOGFILE", path, TRUE);
  return TRUE;
}

char *
mail_tls_describe (GIOStream *tls)
{
  GTlsConnection *connection = NULL;
  g_autofree char *cipher = NULL;

  g_return_val_if_fail (G_IS_TLS_CONNECTION (tls), NULL);

  connection = G_TLS_CONNECTION (tls);
  cipher = g_tls_connection_get_ciphersuite_name (connection);
  return g_strdup_printf (
      "%s %s",
      tls_protocol_name (g_tls_connection_get_protocol_version (connection)),
      cipher != NULL ? cipher : "(unknown cipher)");
}

/* ---- self-signed certificates ----------------------------------------- */

static gboolean
tls_gnutls_ok (int status, const char *what, GError **error)
{
  if (status >= 0)
    return TRUE;
  g_set_error (error, MAIL_TLS_ERROR, MAIL_TLS_ERROR_FAILED, "%s: %s", what,
               gnutls_strerror (status));
  return FALSE;
}

/* RFC 5280 §4.2.1.6: addresses go in iPAddress (4 or 16 bytes), names in
 * dNSName; clients match IP literals only against the former. */
static gboolean
tls_add_names (gnutls_x509_crt_t crt, const char *const *names, GError **error)
{
  for (gsize i = 0; names[i] != NULL; i++)
    {
      g_autoptr (GInetAddress) address =
          g_inet_address_new_from_string (names[i]);
      int status = 0;

      if (address != NULL)
        status = gnutls_x509_crt_set_subject_alt_name (
            crt, GNUTLS_SAN_IPADDRESS, g_inet_address_to_bytes (address),
            g_inet_address_get_native_size (address), GNUTLS_FSAN_APPEND);
      else
        status = gnutls_x509_crt_set_subject_alt_name (
            crt, GNUTLS_SAN_DNSNAME, names[i], strlen (names[i]),
            GNUTLS_FSAN_APPEND);
      if (!tls_gnutls_ok (status, "subjectAltName", error))
        return FALSE;
    }
  return TRUE;
}

/* A server certificate (CA:FALSE, serverAuth) that clients can still name
 * as their CA file: GnuTLS and OpenSSL trust a certificate that is itself
 * in the trust list. */
static gboolean
tls_fill_certificate (gnutls_x509_crt_t crt,
                      gnutls_x509_privkey_t key,
                      const char *const *names,
                      guint days,
                      GError **error)
{
  guint8 serial[MAIL_TLS_SERIAL_LENGTH];
  time_t now = time (NULL);

  gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial);
  serial[0] &= 0x7f; /* RFC 5280 §4.1.2.2: a positive integer */
  return tls_gnutls_ok (gnutls_x509_crt_set_version (crt, 3), "version",
                        error) &&
         tls_gnutls_ok (gnutls_x509_crt_set_serial (crt, serial, sizeof serial),
                        "serial", error) &&
         tls_gnutls_ok (gnutls_x509_crt_set_activation_time (
                            crt, now - MAIL_TLS_CLOCK_SKEW),
                        "validity", error) &&
         tls_gnutls_ok (gnutls_x509_crt_set_expiration_time (
                            crt, now + (time_t) days * 24 * 3600),
                        "validity", error) &&
         tls_gnutls_ok (
             gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                            names[0], strlen (names[0])),
             "subject", error) &&
         tls_add_names (crt, names, error) &&
         tls_gnutls_ok (gnutls_x509_crt_set_key (crt, key), "key", error) &&
         tls_gnutls_ok (gnutls_x509_crt_set_basic_constraints (crt, 0, -1),
                        "basicConstraints", error) &&
         tls_gnutls_ok (gnutls_x509_crt_set_key_usage (
                            crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
                                     GNUTLS_KEY_KEY_ENCIPHERMENT),
                        "keyUsage", error) &&
         tls_gnutls_ok (gnutls_x509_crt_set_key_purpose_oid (
                            crt, GNUTLS_KP_TLS_WWW_SERVER, 0),
                        "extKeyUsage", error) &&
         tls_gnutls_ok (
             gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0),
             "signing", error);
}

/* Both files are replaced atomically; the key is readable by its owner
 * only. */
static gboolean
tls_write_pem (const char *path,
               const gnutls_datum_t *pem,
               int mode,
               GError **error)
{
  if (g_file_set_contents_full (path, (const char *) pem->data, pem->size,
                                G_FILE_SET_CONTENTS_CONSISTENT, mode, error))
    return TRUE;
  g_prefix_error (error, "writing %s: ", path);
  return FALSE;
}

static gboolean
tls_export (gnutls_x509_crt_t crt,
            gnutls_x509_privkey_t key,
            const char *cert_file,
            const char *key_file,
            GError **error)
{
  gnutls_datum_t cert_pem = { NULL, 0 };
  gnutls_datum_t key_pem = { NULL, 0 };
  gboolean ok = FALSE;

  ok = tls_gnutls_ok (
           gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &cert_pem),
           "exporting certificate", error) &&
       tls_gnutls_ok (
           gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL,
                                              GNUTLS_PKCS_PLAIN, &key_pem),
           "exporting key", error) &&
       tls_write_pem (key_file, &key_pem, 0600, error) &&
       tls_write_pem (cert_file, &cert_pem, 0644, error);
  if (key_pem.data != NULL)
    explicit_bzero (key_pem.data, key_pem.size);
  gnutls_free (key_pem.data);
  gnutls_free (cert_pem.data);
  return ok;
}

gboolean
mail_tls_write_self_signed (const char *cert_file,
                            const char *key_file,
                            const char *const *names,
                            guint days,
                            GError **error)
{
  gnutls_x509_crt_t crt = NULL;
  gnutls_x509_privkey_t key = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (cert_file != NULL && key_file != NULL, FALSE);
  g_return_val_if_fail (names != NULL && names[0] != NULL, FALSE);
  g_return_val_if_fail (days > 0, FALSE);

  ok = tls_gnutls_ok (gnutls_x509_privkey_init (&key), "key", error) &&
       tls_gnutls_ok (gnutls_x509_privkey_generate (key, GNUTLS_PK_RSA,
                                                    MAIL_TLS_RSA_BITS, 0),
                      "generating RSA key", error) &&
       tls_gnutls_ok (gnutls_x509_crt_init (&crt), "certificate", error) &&
       tls_fill_certificate (crt, key, names, days, error) &&
       tls_export (crt, key, cert_file, key_file, error);
  if (crt != NULL)
    gnutls_x509_crt_deinit (crt);
  if (key != NULL)
    gnutls_x509_privkey_deinit (key);
  return ok;
}
