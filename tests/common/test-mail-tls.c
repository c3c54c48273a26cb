/* SPDX-License-Identifier: MIT
 * test-mail-tls.c: a self-signed certificate written by mail-tls, used in
 * real TLS handshakes over loopback, trusted only when named as the CA
 * file (or with --insecure), and only for the names it holds
 * (RFC 6125 §6).
 */
#include <glib/gstdio.h>
#include <string.h>

#include "mail-tls.h"

#define TEST_TIMEOUT 10 /* seconds; bounds every blocking read */

typedef struct
{
  char *dir;
  char *cert_file;
  char *key_file;
  GTlsCertificate *certificate;
} TlsFixture;

static void
fixture_set_up (TlsFixture *fixture, gconstpointer data)
{
  const char *const names[] = { "localhost", "127.0.0.1", "::1", NULL };
  g_autoptr (GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("test-mail-tls-XXXXXX", NULL);
  fixture->cert_file = g_build_filename (fixture->dir, "cert.pem", NULL);
  fixture->key_file = g_build_filename (fixture->dir, "key.pem", NULL);
  g_assert_true (mail_tls_write_self_signed (
      fixture->cert_file, fixture->key_file, names, 30, &error));
  g_assert_no_error (error);
  fixture->certificate =
      mail_tls_load_certificate (fixture->cert_file, fixture->key_file, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (TlsFixture *fixture, gconstpointer data)
{
  g_clear_object (&fixture->certificate);
  g_unlink (fixture->cert_file);
  g_unlink (fixture->key_file);
  g_rmdir (fixture->dir);
  g_free (fixture->cert_file);
  g_free (fixture->key_file);
  g_free (fixture->dir);
}

/* ---- the certificate itself ------------------------------------------ */

static void
test_files_and_modes (TlsFixture *fixture, gconstpointer data)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (fixture->key_file, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600); /* the key is secret */
  g_assert_cmpint (g_stat (fixture->cert_file, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0644);
}

/* RFC 5280 §4.2.1.6: IP literals as iPAddress, names as dNSName. */
static void
test_subject_alt_names (TlsFixture *fixture, gconstpointer data)
{
  g_autoptr (GPtrArray) dns = NULL;
  g_autoptr (GPtrArray) ips = NULL;
  g_autofree char *subject = NULL;
  g_autoptr (GInetAddress) loopback4 =
      g_inet_address_new_from_string ("127.0.0.1");
  g_autoptr (GInetAddress) loopback6 = g_inet_address_new_from_string ("::1");

  g_object_get (fixture->certificate, "dns-names", &dns, "ip-addresses", &ips,
                "subject-name", &subject, NULL);
  g_assert_cmpuint (dns->len, ==, 1);
  g_assert_cmpmem (g_bytes_get_data (dns->pdata[0], NULL),
                   g_bytes_get_size (dns->pdata[0]), "localhost", 9);
  g_assert_cmpuint (ips->len, ==, 2);
  g_assert_true (g_inet_address_equal (ips->pdata[0], loopback4));
  g_assert_true (g_inet_address_equal (ips->pdata[1], loopback6));
  g_assert_nonnull (strstr (subject, "CN=localhost"));
}

static void
test_load_missing_files (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsCertificate) certificate = mail_tls_load_certificate (
      "/nonexistent/cert.pem", "/nonexistent/key.pem", &error);

  g_assert_null (certificate);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "/nonexistent/cert.pem"));
}

/* ---- handshakes over loopback ---------------------------------------- */

/* One TLS server connection on 127.0.0.1, port chosen by the kernel. */
typedef struct
{
  GSocketListener *listener;
  GTlsCertificate *certificate;
  guint16 port;
  GError *error; /* of the server side, set by the thread */
} TestServer;

static void
test_server_start (TestServer *server, GTlsCertificate *certificate)
{
  g_autoptr (GInetAddress) loopback =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;

  memset (server, 0, sizeof *server);
  server->listener = g_socket_listener_new ();
  server->certificate = certificate;
  g_socket_listener_add_address (server->listener, address,
                                 G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, &bound, &error);
  g_assert_no_error (error);
  server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* Accepts one connection, shakes hands and echoes one line back. */
static gpointer
test_server_run (gpointer data)
{
  TestServer *server = data;
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GIOStream) tls = NULL;
  char buffer[64] = "";
  gssize got = 0;

  connection =
      g_socket_listener_accept (server->listener, NULL, NULL, &server->error);
  if (connection == NULL)
    return NULL;
  g_socket_set_timeout (g_socket_connection_get_socket (connection),
                        TEST_TIMEOUT);
  tls = mail_tls_server_wrap (G_IO_STREAM (connection), server->certificate,
                              NULL, &server->error);
  if (tls == NULL)
    return NULL;
  got = g_input_stream_read (g_io_stream_get_input_stream (tls), buffer,
                             sizeof buffer, NULL, &server->error);
  if (got > 0)
    g_output_stream_write_all (g_io_stream_get_output_stream (tls), buffer, got,
                               NULL, NULL, &server->error);
  return NULL;
}

static GSocketConnection *
test_connect (guint16 port)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GError) error = NULL;
  GSocketConnection *connection = NULL;

  g_socket_client_set_timeout (client, TEST_TIMEOUT);
  g_socket_client_set_enable_proxy (client, FALSE);
  connection =
      g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  return connection;
}

/* Client side of one exchange; returns the client's handshake error
 * (NULL on success, after checking the echo and the description). */
static GError *
test_handshake (TlsFixture *fixture,
                const char *server_name,
                const char *ca_file,
                gboolean insecure)
{
  TestServer server;
  g_autoptr (GThread) thread = NULL;
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GIOStream) tls = NULL;
  g_autofree char *description = NULL;
  GError *error = NULL;
  char echo[8] = "";

  test_server_start (&server, fixture->certificate);
  thread = g_thread_new ("tls-server", test_server_run, &server);
  connection = test_connect (server.port);
  tls = mail_tls_client_wrap (G_IO_STREAM (connection), server_name, ca_file,
                              insecure, NULL, &error);
  if (tls != NULL)
    {
      g_output_stream_write_all (g_io_stream_get_output_stream (tls), "ping", 4,
                                 NULL, NULL, &error);
      g_assert_no_error (error);
      g_input_stream_read_all (g_io_stream_get_input_stream (tls), echo, 4,
                               NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (echo, ==, "ping");
      description = mail_tls_describe (tls);
      g_test_message ("negotiated %s", description);
      g_assert_true (g_str_has_prefix (description, "TLSv1."));
      g_io_stream_close (tls, NULL, NULL);
    }
  else
    g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  g_thread_join (g_steal_pointer (&thread));
  g_object_unref (server.listener);
  if (error == NULL)
    g_assert_no_error (server.error);
  g_clear_error (&server.error);
  return error;
}

/* The certificate is its own CA: a client given it as CA file trusts it. */
static void
test_trusted_as_ca_file (TlsFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error =
      test_handshake (fixture, "localhost", fixture->cert_file, FALSE);

  g_assert_no_error (error);
}

/* RFC 6125 §6.2.1: an IP literal is matched against iPAddress entries. */
static void
test_trusted_by_ip_address (TlsFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error =
      test_handshake (fixture, "127.0.0.1", fixture->cert_file, FALSE);

  g_assert_no_error (error);
}

/* Without the CA file the system store does not know it. */
static void
test_rejected_without_ca_file (TlsFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = test_handshake (fixture, "localhost", NULL, FALSE);

  g_assert_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_assert_true (g_str_has_prefix (error->message, "TLS handshake: "));
}

static void
test_rejected_for_other_name (TlsFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error =
      test_handshake (fixture, "mail.example.test", fixture->cert_file, FALSE);

  g_assert_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
}

/* Another self-signed certificate as CA file does not vouch for ours. */
static void
test_rejected_with_other_ca (TlsFixture *fixture, gconstpointer data)
{
  const char *const names[] = { "localhost", NULL };
  g_autofree char *other_cert = g_build_filename (fixture->dir, "o.pem", NULL);
  g_autofree char *other_key = g_build_filename (fixture->dir, "ok.pem", NULL);
  g_autoptr (GError) error = NULL;

  g_assert_true (
      mail_tls_write_self_signed (other_cert, other_key, names, 1, &error));
  g_clear_error (&error);
  error = test_handshake (fixture, "localhost", other_cert, FALSE);
  g_assert_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_unlink (other_cert);
  g_unlink (other_key);
}

/* --insecure: anything goes, even a wrong name with no CA. */
static void
test_insecure_accepts (TlsFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error =
      test_handshake (fixture, "mail.example.test", NULL, TRUE);

  g_assert_no_error (error);
}

static void
test_missing_ca_file (TlsFixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error =
      test_handshake (fixture, "localhost", "/nonexistent/ca.pem", FALSE);

  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "/nonexistent/ca.pem"));
}

static void
add_fixture_test (const char *path, void (*func) (TlsFixture *, gconstpointer))
{
  g_test_add (path, TlsFixture, NULL, fixture_set_up, func, fixture_tear_down);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_printerr ("no GIO TLS backend: install glib-networking\n");
      return 1;
    }
  add_fixture_test ("/tls/self-signed/files-and-modes", test_files_and_modes);
  add_fixture_test ("/tls/self-signed/subject-alt-names",
                    test_subject_alt_names);
  g_test_add_func ("/tls/load/missing-files-are-named",
                   test_load_missing_files);
  add_fixture_test ("/tls/handshake/trusted-as-its-own-ca-file",
                    test_trusted_as_ca_file);
  add_fixture_test ("/tls/handshake/trusted-by-ip-address",
                    test_trusted_by_ip_address);
  add_fixture_test ("/tls/handshake/rejected-without-ca-file",
                    test_rejected_without_ca_file);
  add_fixture_test ("/tls/handshake/rejected-for-other-name",
                    test_rejected_for_other_name);
  add_fixture_test ("/tls/handshake/rejected-with-other-ca",
                    test_rejected_with_other_ca);
  add_fixture_test ("/tls/handshake/insecure-accepts-anything",
                    test_insecure_accepts);
  add_fixture_test ("/tls/handshake/missing-ca-file-is-named",
                    test_missing_ca_file);
  return g_test_run ();
}
