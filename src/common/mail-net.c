/* SPDX-License-Identifier: MIT
 * mail-net.c: listeners and connections for every server and client.
 * One thread per session keeps each session readable top to bottom. The
 * threads take turns at accepting (leader and followers): one thread of
 * the pool waits for the next connection, hands the waiting on to another
 * and serves the connection itself. The main thread waits for a signal.
 */
#include "mail-net.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail-cli.h"
#include "mail-tls.h"

/* Pending connections the kernel queues per listener (somaxconn caps it). */
#define MAIL_SERVER_BACKLOG 1024

struct _MailServer
{
  char *program;
  GPtrArray *sockets;     /* every listening GSocket, non-blocking */
  GCancellable *stopping; /* cancels the accept when the server stops */
  guint max_sessions;
  char *busy_reply; /* said to a client refused when full, or NULL */
  MailServerSessionFunc func;
  gpointer user_data;
  GMainLoop *loop;
  GHashTable *listeners; /* listening GSocket -> MailServerListener */
  GThreadPool *pool;     /* the acceptor and up to max_sessions sessions */
  gint sessions;         /* running now (atomic) */
};

/* On SIGTERM, how long sessions get to finish before the process ends
 * under them. */
#define MAIL_SERVER_STOP_GRACE_MS 2000

/* Session threads kept idle for the next sessions (see mail_server_new). */
#define MAIL_SERVER_IDLE_THREADS 16

/* One session, in the pool thread that accepted it; takes @connection. */
static void
session_run (MailServer *server,
             GSocketConnection *connection,
             const MailServerListener *listener)
{
  server->func (connection, listener, server->user_data);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  g_object_unref (connection);
  g_atomic_int_dec_and_test (&server->sessions);
}

/* Full: the client hears so at once (SMTP 421, POP3 -ERR [SYS/TEMP],
 * IMAP BYE [UNAVAILABLE]) instead of waiting, unanswered, for a free
 * thread; over implicit TLS there is no clear text to say it in. */
static void
refuse (MailServer *server,
        GSocketConnection *connection,
        const MailServerListener *listener)
{
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_autofree char *line = server->busy_reply
                              ? g_strconcat (server->busy_reply, "\r\n", NULL)
                              : NULL;

  g_message ("%s: %u sessions already: refused a %s connection",
             server->program, server->max_sessions, listener->label);
  /* a fresh socket's buffer takes a line; never wait on this client */
  g_socket_set_timeout (socket, 1);
  if (line != NULL && !listener->implicit_tls)
    g_output_stream_write_all (
        g_io_stream_get_output_stream (G_IO_STREAM (connection)), line,
        strlen (line), NULL, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
}

/* How long an acceptor rests after accept () failed for a reason other
 * than stopping (out of descriptors, say), so it does not spin. */
#define MAIL_SERVER_ACCEPT_PAUSE_US (100 * 1000)

static void accept_and_serve (gpointer job, gpointer user_data);

/* Gives the waiting for the next connection to a thread of the pool (an
 * idle one, or a new one). Exactly one such job is ever outstanding. */
static void
pass_on_accepting (MailServer *server)
{
  g_thread_pool_push (server->pool, GINT_TO_POINTER (1), NULL);
}

/* Takes the connection waiting on the listener @i, if it is still there
 * (a client may leave between poll () and accept ()). FALSE on an error
 * that is not that. */
static gboolean
take_connection (MailServer *server,
                 guint i,
                 GSocketConnection **out_connection,
                 const MailServerListener **out_listener,
                 GError **error)
{
  GSocket *listening = g_ptr_array_index (server->sockets, i);
  g_autoptr (GError) failed = NULL;
  g_autoptr (GSocket) accepted = g_socket_accept (listening, NULL, &failed);

  if (accepted == NULL)
    {
      if (g_error_matches (failed, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&failed));
      return FALSE;
    }
  *out_connection = g_socket_connection_factory_create_connection (accepted);
  *out_listener = g_hash_table_lookup (server->listeners, listening);
  return TRUE;
}

/* Waits for a connection on any listener and takes it, or for the server
 * to stop (NULL with G_IO_ERROR_CANCELLED): one poll () over every
 * listening socket and the stop's file descriptor. */
static GSocketConnection *
accept_next (MailServer *server,
             const MailServerListener **out_listener,
             GError **error)
{
  guint n = server->sockets->len;
  g_autofree GPollFD *fds = g_new0 (GPollFD, n + 1);
  GSocketConnection *connection = NULL;
  gboolean ok = TRUE;

  g_cancellable_make_pollfd (server->stopping, &fds[n]);
  while (ok && connection == NULL)
    {
      for (guint i = 0; i < n; i++)
        fds[i] =
            (GPollFD){ g_socket_get_fd (g_ptr_array_index (server->sockets, i)),
                       G_IO_IN, 0 };
      if (g_poll (fds, n + 1, -1) < 0 && errno != EINTR)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                       "poll: %s", g_strerror (errno));
          ok = FALSE;
        }
      else if (g_cancellable_set_error_if_cancelled (server->stopping, error))
        ok = FALSE;
      for (guint i = 0; ok && i < n && connection == NULL; i++)
        if (fds[i].revents & G_IO_IN)
          ok = take_connection (server, i, &connection, out_listener, error);
    }
  g_cancellable_release_fd (server->stopping);
  return connection;
}

/* One turn of a pool thread: wait for the next connection on any
 * listener, pass the waiting on, and serve the connection here, each
 * session to a thread of its own, up to max_sessions at once. The thread
 * that accepted a connection greets it: between the client's SYN and the
 * greeting no other thread has to be woken, which a client that connects
 * once per message (smtp-source does, and so do many MTAs) would pay for
 * every message. The threads come from a pool and go back to it. */
static void
accept_and_serve (gpointer job, gpointer user_data)
{
  MailServer *server = user_data;
  const MailServerListener *listener = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) connection =
      accept_next (server, &listener, &error);

  (void) job;
  if (connection == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return; /* stopping: nobody accepts any more */
      g_message ("%s: accept: %s", server->program, error->message);
      g_usleep (MAIL_SERVER_ACCEPT_PAUSE_US);
      pass_on_accepting (server);
      return;
    }
  if ((guint) g_atomic_int_add (&server->sessions, 1) >= server->max_sessions)
    {
      g_atomic_int_dec_and_test (&server->sessions);
      pass_on_accepting (server);
      refuse (server, connection, listener);
      return;
    }
  pass_on_accepting (server);
  session_run (server, g_steal_pointer (&connection), listener);
}

static void
listener_free (gpointer data)
{
  MailServerListener *listener = data;

  g_free ((char *) listener->label);
  g_free (listener);
}

MailServer *
mail_server_new (const char *program,
                 guint max_sessions,
                 MailServerSessionFunc func,
                 gpointer user_data)
{
  MailServer *server = g_new0 (MailServer, 1);

  server->program = g_strdup (program);
  server->max_sessions = max_sessions;
  /* Nothing accepts before mail_server_run () starts the first acceptor,
   * and then one poll covers every listener. */
  server->sockets = g_ptr_array_new_with_free_func (g_object_unref);
  server->stopping = g_cancellable_new ();
  server->func = func;
  server->user_data = user_data;
  /* max_sessions sessions and the one thread waiting to accept. Not
   * exclusive: a thread is made when a job finds none idle, and up to
   * MAIL_SERVER_IDLE_THREADS idle ones wait for the next sessions (GLib
   * keeps 2; one burst of clients should not make each next burst pay
   * again). */
  server->pool = g_thread_pool_new (accept_and_serve, server,
                                    (gint) max_sessions + 1, FALSE, NULL);
  g_thread_pool_set_max_unused_threads (MAIL_SERVER_IDLE_THREADS);
  server->loop = g_main_loop_new (NULL, FALSE);
  server->listeners = g_hash_table_new_full (NULL, NULL, NULL, listener_free);
  return server;
}

void
mail_server_set_busy_reply (MailServer *server, const char *line)
{
  g_free (server->busy_reply);
  server->busy_reply = g_strdup (line);
}

void
mail_server_free (MailServer *server)
{
  if (server == NULL)
    return;
  /* no session is left (mail_server_run () waited for them), and an
   * acceptor still to start finds the server stopping */
  g_cancellable_cancel (server->stopping);
  if (server->pool != NULL)
    g_thread_pool_free (server->pool, FALSE, TRUE);
  for (guint i = 0; i < server->sockets->len; i++)
    g_socket_close (g_ptr_array_index (server->sockets, i), NULL);
  g_clear_pointer (&server->sockets, g_ptr_array_unref);
  g_clear_object (&server->stopping);
  g_clear_pointer (&server->loop, g_main_loop_unref);
  g_clear_pointer (&server->listeners, g_hash_table_unref);
  g_free (server->busy_reply);
  g_free (server->program);
  g_free (server);
}

/* A TCP socket bound to @wanted and listening, non-blocking (the acceptor
 * polls first; a connection gone before accept () is no error). */
static GSocket *
listen_on (GSocketAddress *wanted, GError **error)
{
  g_autoptr (GSocket) socket =
      g_socket_new (g_socket_address_get_family (wanted), G_SOCKET_TYPE_STREAM,
                    G_SOCKET_PROTOCOL_TCP, error);

  if (socket == NULL)
    return NULL;
  /* GLib's default backlog is 10: a burst of clients beyond it would sit
   * in SYN retransmission (1 s, 3 s, 7 s ...) before being accepted. */
  g_socket_set_listen_backlog (socket, MAIL_SERVER_BACKLOG);
  /* SO_REUSEADDR: a restarted server binds while old connections linger
   * in TIME_WAIT */
  if (!g_socket_bind (socket, wanted, TRUE, error) ||
      !g_socket_listen (socket, error))
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  return g_steal_pointer (&socket);
}

gboolean
mail_server_add_listener (MailServer *server,
                          const char *label,
                          const MailListen *listen,
                          gboolean implicit_tls,
                          GError **error)
{
  g_autoptr (GInetAddress) inet = NULL;
  g_autoptr (GSocketAddress) wanted = NULL;
  g_autoptr (GSocketAddress) bound = NULL;
  g_autofree char *address = NULL;
  MailServerListener *listener;
  GSocket *socket;

  if (listen->port < 0)
    return TRUE; /* this listener is switched off in the config */
  inet = g_inet_address_new_from_string (listen->listen);
  if (inet == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s: listen address '%s' is not an IP address", label,
                   listen->listen);
      return FALSE;
    }
  wanted = g_inet_socket_address_new (inet, listen->port);
  socket = listen_on (wanted, error);
  bound = socket ? g_socket_get_local_address (socket, error) : NULL;
  if (bound == NULL)
    {
      g_prefix_error (error, "%s on %s:%d: ", label, listen->listen,
                      listen->port);
      g_clear_object (&socket);
      return FALSE;
    }
  listener = g_new0 (MailServerListener, 1);
  listener->label = g_strdup (label);
  listener->implicit_tls = implicit_tls;
  listener->port =
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_ptr_array_add (server->sockets, socket);
  g_hash_table_insert (server->listeners, socket, listener);
  address = g_inet_address_to_string (inet);
  /* Scripts and tests read this line to learn an ephemeral port. */
  printf ("%s: %s listening on %s%s%s:%u\n", server->program, label,
          strchr (address, ':') ? "[" : "", address,
          strchr (address, ':') ? "]" : "", listener->port);
  fflush (stdout);
  return TRUE;
}

static gboolean
on_stop_signal (gpointer user_data)
{
  MailServer *server = user_data;

  g_message ("%s: stopping", server->program);
  g_main_loop_quit (server->loop);
  return G_SOURCE_CONTINUE;
}

int
mail_server_run (MailServer *server)
{
  guint sigint = g_unix_signal_add (SIGINT, on_stop_signal, server);
  guint sigterm = g_unix_signal_add (SIGTERM, on_stop_signal, server);

  pass_on_accepting (server); /* the first acceptor */
  printf ("%s: ready\n", server->program);
  fflush (stdout);
  g_main_loop_run (server->loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  /* The acceptor's wait ends; one that accepted just now passes on to a
   * job that ends at once. Then no connection is taken any more. */
  g_cancellable_cancel (server->stopping);
  /* Sessions still running use what main () is about to free (the
   * context, the configuration): let them end, or end with them. */
  for (guint waited = 0; g_atomic_int_get (&server->sessions) > 0 &&
                         waited < MAIL_SERVER_STOP_GRACE_MS;
       waited += 10)
    g_usleep (10 * 1000);
  if (g_atomic_int_get (&server->sessions) > 0)
    {
      g_message ("%s: %d session(s) still open, closing them", server->program,
                 g_atomic_int_get (&server->sessions));
      exit (0);
    }
  return 0;
}

MailStream *
mail_server_open_stream (GSocketConnection *connection,
                         gboolean implicit_tls,
                         GTlsCertificate *certificate,
                         gsize max_line,
                         GError **error)
{
  g_autoptr (GIOStream) io = NULL;

  if (!implicit_tls)
    return mail_stream_new (G_IO_STREAM (connection), max_line);
  io =
      mail_tls_server_wrap (G_IO_STREAM (connection), certificate, NULL, error);
  return io ? mail_stream_new (io, max_line) : NULL;
}

MailServerContext *
mail_server_context_new (const MailConfig *config, GTlsCertificate *certificate)
{
  MailServerContext *context = g_new0 (MailServerContext, 1);

  context->config = config;
  context->certificate = certificate ? g_object_ref (certificate) : NULL;
  context->users = mail_users_cache_new (config);
  return context;
}

void
mail_server_context_free (MailServerContext *context)
{
  if (context == NULL)
    return;
  g_clear_object (&context->certificate);
  g_clear_pointer (&context->users, mail_users_cache_free);
  g_free (context);
}

/* ---- a server's main () ------------------------------------------------ */

/* The certificate, or NULL when none is configured (then no TLS). */
static gboolean
load_certificate (const MailConfig *config,
                  GTlsCertificate **out_certificate,
                  GError **error)
{
  *out_certificate = NULL;
  if (config->tls_cert == NULL)
    return TRUE;
  *out_certificate =
      mail_tls_load_certificate (config->tls_cert, config->tls_key, error);
  return *out_certificate != NULL;
}

static gboolean
add_listeners (const MailServerMain *info,
               MailServer *server,
               const MailConfig *config,
               gboolean have_tls,
               GError **error)
{
  if (!mail_server_add_listener (
          server, info->label, info->get_listen (config, FALSE), FALSE, error))
    return FALSE;
  if (!have_tls)
    {
      if (info->get_listen (config, TRUE)->port >= 0)
        g_message ("no tls_cert configured: %s listener is off",
                   info->tls_label);
      return TRUE;
    }
  return mail_server_add_listener (
      server, info->tls_label, info->get_listen (config, TRUE), TRUE, error);
}

int
mail_server_main (const MailServerMain *info, int argc, char **argv)
{
  g_autofree char *config_path = NULL;
  g_autofree char *keylog = NULL;
  gboolean protocol_log = FALSE;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      "configuration file (mailwire.conf)", "FILE" },
    { "protocol-log", 0, 0, G_OPTION_ARG_NONE, &protocol_log,
      "log every command and response (passwords masked)", NULL },
    { "keylog", 0, 0, G_OPTION_ARG_FILENAME, &keylog,
      "append the TLS secrets to FILE (config tls_keylog; mw-trace --keylog)",
      "FILE" },
    { NULL },
  };
  g_autoptr (GOptionContext) options = g_option_context_new (info->description);
  g_autoptr (GError) error = NULL;
  g_autoptr (MailConfig) config = NULL;
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autoptr (MailServer) server = NULL;
  g_autoptr (MailServerContext) context = NULL;
  int status = 1;

  mail_cli_init_locale ();
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) ||
      (config = mail_config_load (config_path, &error)) == NULL ||
      !mail_tls_set_keylog (keylog != NULL ? keylog : config->tls_keylog,
                            &error) ||
      !load_certificate (config, &certificate, &error))
    {
      fprintf (stderr, "%s: %s\n", info->program, error->message);
      return 2;
    }
  config->protocol_log |= protocol_log;
  context = mail_server_context_new (config, certificate);
  server = mail_server_new (info->program, info->max_sessions,
                            info->session_run, context);
  mail_server_set_busy_reply (server, info->busy_reply);
  if (add_listeners (info, server, config, certificate != NULL, &error))
    status = mail_server_run (server);
  else
    fprintf (stderr, "%s: %s\n", info->program, error->message);
  g_clear_pointer (&server, mail_server_free); /* before the context */
  return status;
}

char *
mail_net_peer_string (GSocketConnection *connection)
{
  g_autoptr (GSocketAddress) remote =
      g_socket_connection_get_remote_address (connection, NULL);
  g_autofree char *address = NULL;
  guint16 port;

  if (!G_IS_INET_SOCKET_ADDRESS (remote))
    return g_strdup ("local");
  address = g_inet_address_to_string (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (remote));
  if (strchr (address, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", address, port);
  return g_strdup_printf ("%s:%u", address, port);
}

gboolean
mail_net_peer_is_loopback (GSocketConnection *connection)
{
  g_autoptr (GSocketAddress) remote =
      g_socket_connection_get_remote_address (connection, NULL);

  if (!G_IS_INET_SOCKET_ADDRESS (remote))
    return FALSE;
  return g_inet_address_get_is_loopback (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
}

MailStream *
mail_net_connect (const char *host,
                  guint16 port,
                  gboolean implicit_tls,
                  const char *ca_file,
                  gboolean insecure,
                  gsize max_line,
                  guint timeout,
                  GCancellable *cancellable,
                  GError **error)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GIOStream) tls = NULL;
  MailStream *stream;

  g_socket_client_set_timeout (client, timeout);
  /* Mail goes straight to its server: HTTP proxy settings do not apply. */
  g_socket_client_set_enable_proxy (client, FALSE);
  connection =
      g_socket_client_connect_to_host (client, host, port, cancellable, error);
  if (connection == NULL)
    {
      g_prefix_error (error, "connect to %s port %u: ", host, port);
      return NULL;
    }
  if (!implicit_tls)
    {
      stream = mail_stream_new (G_IO_STREAM (connection), max_line);
      mail_stream_set_timeout (stream, timeout);
      return stream;
    }
  tls = mail_tls_client_wrap (G_IO_STREAM (connection), host, ca_file, insecure,
                              cancellable, error);
  if (tls == NULL)
    {
      g_prefix_error (error, "TLS with %s port %u: ", host, port);
      return NULL;
    }
  stream = mail_stream_new (tls, max_line);
  mail_stream_set_timeout (stream, timeout);
  return stream;
}

gboolean
mail_net_parse_host_port (const char *text,
                          guint16 default_port,
                          char **out_host,
                          guint16 *out_port,
                          GError **error)
{
  g_autofree char *host = NULL;
  const char *port_text = NULL;
  guint64 port = default_port;

  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');

      if (close == NULL || (close[1] != '\0' && close[1] != ':'))
        goto bad;
      host = g_strndup (text + 1, close - text - 1);
      port_text = close[1] == ':' ? close + 2 : NULL;
    }
  else if (strchr (text, ':') != NULL &&
           strchr (text, ':') == strrchr (text, ':'))
    {
      host = g_strndup (text, strchr (text, ':') - text);
      port_text = strchr (text, ':') + 1;
    }
  else
    host = g_strdup (text); /* a name, or an IPv6 literal without port */
  if (host[0] == '\0')
    goto bad;
  if (port_text != NULL &&
      !g_ascii_string_to_unsigned (port_text, 10, 1, 65535, &port, NULL))
    goto bad;
  *out_host = g_steal_pointer (&host);
  *out_port = port;
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "'%s' is not HOST, HOST:PORT or [ADDRESS]:PORT", text);
  return FALSE;
}
