/* SPDX-License-Identifier: MIT
 * mail-tls.h: TLS for servers and clients through GIO's TLS (the GnuTLS
 * backend of glib-networking), and self-signed certificates written with
 * GnuTLS for labs and tests (RFC 8314 implicit TLS, RFC 3207 STARTTLS).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MAIL_TLS_ERROR (mail_tls_error_quark ())
typedef enum
{
  MAIL_TLS_ERROR_NO_BACKEND, /* glib-networking is not installed */
  MAIL_TLS_ERROR_FAILED,
} MailTlsError;
GQuark mail_tls_error_quark (void);

/* Loads a PEM certificate (chain) and its private key. */
GTlsCertificate *mail_tls_load_certificate (const char *cert_file,
                                            const char *key_file,
                                            GError **error);

/* Wraps @base in a server-side TLS connection and runs the handshake.
 * (transfer full) */
GIOStream *mail_tls_server_wrap (GIOStream *base,
                                 GTlsCertificate *certificate,
                                 GCancellable *cancellable,
                                 GError **error);
/* Client side: verifies @server_name against the system trust store, or
 * against @ca_file when given; @insecure accepts any certificate.
 * (transfer full) */
GIOStream *mail_tls_client_wrap (GIOStream *base,
                                 const char *server_name,
                                 const char *ca_file,
                                 gboolean insecure,
                                 GCancellable *cancellable,
                                 GError **error);

/* --keylog FILE / tls_keylog: from now on the secrets of every TLS
 * session of this program are appended to @path in the NSS key log
 * format, for mw-trace --keylog and Wireshark (docs/tls-keylog.md). It
 * is what SSLKEYLOGFILE does, made explicit: GnuTLS reads that variable
 * at its first handshake, so this must come before any TLS connection.
 * @path NULL changes nothing. FALSE (error set) if @path cannot be
 * opened for appending. Anyone who can read the file can read every
 * session: for labs and debugging only. */
gboolean mail_tls_set_keylog (const char *path, GError **error);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" for logs and --trace (transfer full). */
char *mail_tls_describe (GIOStream *tls);

/* Writes a self-signed certificate valid for @names (DNS names or IP
 * addresses; the first is the subject CN) and its RSA key, PEM, key file
 * mode 0600. */
gboolean mail_tls_write_self_signed (const char *cert_file,
                                     const char *key_file,
                                     const char *const *names,
                                     guint days,
                                     GError **error);

G_END_DECLS
