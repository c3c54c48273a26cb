/* SPDX-License-Identifier: MIT
 * capability-proxy.c: see the header.
 */
#define _GNU_SOURCE /* memmem () */
#include "capability-proxy.h"

#include <string.h>
#include <sys/socket.h>

struct _CapabilityProxy
{
  GSocket *listener;
  guint16 port;
  guint16 upstream_port;
  GStrv hidden;
  GStrv added;
  GThread *acceptor;
  GMutex lock;
  GPtrArray *sockets; /* GSocket: both ends of every connection */
  GPtrArray *threads; /* GThread: two per connection */
  gboolean stopping;
  GPtrArray *log; /* LogRun: the wire, in the order received */
};

typedef struct
{
  gboolean from_server;
  GByteArray *data;
} LogRun;

typedef struct
{
  CapabilityProxy *proxy;
  GSocket *from;
  GSocket *to;
  gboolean filter; /* server -> client: rewrite capability lists */
} ProxyPipe;

static void log_chunk (CapabilityProxy *proxy,
                       gboolean from_server,
                       const char *data,
                       gsize length);

/* The added words at the end of the list that starts at @start: before
 * the "]" of a response code, or before the line's end. */
static void
add_words (CapabilityProxy *proxy, GString *line, gsize start)
{
  gsize end = start + strcspn (line->str + start, "]\r\n");

  for (guint i = 0; proxy->added != NULL && proxy->added[i] != NULL; i++)
    {
      g_string_insert (line, end, proxy->added[i]);
      g_string_insert_c (line, end, ' ');
      end += 1 + strlen (proxy->added[i]);
    }
}

/* "* OK [CAPABILITY IMAP4rev1 LITERAL+ ...]" without the hidden words */
static void
filter_line (CapabilityProxy *proxy, GString *line)
{
  const char *start = strstr (line->str, "CAPABILITY ");

  if (start == NULL ||
      !(g_str_has_prefix (line->str, "* ") || g_ascii_isalnum (line->str[0])) ||
      start - line->str > 40)
    return;
  for (guint i = 0; proxy->hidden != NULL && proxy->hidden[i] != NULL; i++)
    {
      gsize length = strlen (proxy->hidden[i]);
      char *at = line->str + (start - line->str);

      while ((at = strstr (at, proxy->hidden[i])) != NULL)
        {
          gboolean word =
              at[-1] == ' ' && (at[length] == ' ' || at[length] == ']' ||
                                at[length] == '\r' || at[length] == '\n');

          if (!word)
            {
              at += length;
              continue;
            }
          g_string_erase (line, at - 1 - line->str, length + 1);
          at = line->str + (start - line->str);
        }
    }
  add_words (proxy, line, start - line->str);
}

/* Written down before it is sent on: see the header. */
static void
log_chunk (CapabilityProxy *proxy,
           gboolean from_server,
           const char *data,
           gsize length)
{
  LogRun *last = NULL;

  g_mutex_lock (&proxy->lock);
  if (proxy->log->len > 0)
    last = g_ptr_array_index (proxy->log, proxy->log->len - 1);
  if (last == NULL || last->from_server != from_server)
    {
      last = g_new0 (LogRun, 1);
      last->from_server = from_server;
      last->data = g_byte_array_new ();
      g_ptr_array_add (proxy->log, last);
    }
  g_byte_array_append (last->data, (const guint8 *) data, length);
  g_mutex_unlock (&proxy->lock);
}

static void
log_run_free (gpointer data)
{
  LogRun *run = data;

  g_byte_array_unref (run->data);
  g_free (run);
}

static void
proxy_run_free (gpointer data)
{
  CapabilityProxyRun *run = data;

  g_bytes_unref (run->data);
  g_free (run);
}

GPtrArray *
capability_proxy_get_runs (CapabilityProxy *proxy)
{
  GPtrArray *runs = g_ptr_array_new_with_free_func (proxy_run_free);

  g_mutex_lock (&proxy->lock);
  for (guint i = 0; i < proxy->log->len; i++)
    {
      const LogRun *run = g_ptr_array_index (proxy->log, i);
      CapabilityProxyRun *copy = g_new0 (CapabilityProxyRun, 1);

      copy->from_server = run->from_server;
      copy->data = g_bytes_new (run->data->data, run->data->len);
      g_ptr_array_add (runs, copy);
    }
  g_mutex_unlock (&proxy->lock);
  return runs;
}

static gboolean
send_all (GSocket *socket, const char *data, gsize length)
{
  while (length > 0)
    {
      gssize sent = g_socket_send (socket, data, length, NULL, NULL);

      if (sent <= 0)
        return FALSE;
      data += sent;
      length -= sent;
    }
  return TRUE;
}

/* Sends the whole lines of @pending (filtered) and keeps the rest. */
static gboolean
forward_lines (CapabilityProxy *proxy, GString *pending, GSocket *to)
{
  char *newline = NULL;

  while ((newline = memchr (pending->str, '\n', pending->len)) != NULL)
    {
      gsize length = newline - pending->str + 1;
      g_autoptr (GString) line = g_string_new_len (pending->str, length);

      g_string_erase (pending, 0, length);
      filter_line (proxy, line);
      log_chunk (proxy, TRUE, line->str, line->len);
      if (!send_all (to, line->str, line->len))
        return FALSE;
    }
  return TRUE;
}

static gpointer
pipe_thread (gpointer user_data)
{
  ProxyPipe *pipe = user_data;
  g_autoptr (GString) pending = g_string_new (NULL);
  char buffer[16384];

  for (;;)
    {
      gssize got =
          g_socket_receive (pipe->from, buffer, sizeof buffer, NULL, NULL);

      if (got <= 0)
        break;
      if (!pipe->filter)
        {
          log_chunk (pipe->proxy, FALSE, buffer, got);
          if (!send_all (pipe->to, buffer, got))
            break;
          continue;
        }
      g_string_append_len (pending, buffer, got);
      if (!forward_lines (pipe->proxy, pending, pipe->to))
        break;
    }
  /* the other side learns of the end; the other thread ends too */
  g_socket_shutdown (pipe->to, FALSE, TRUE, NULL);
  g_free (pipe);
  return NULL;
}

static void
start_pipe (CapabilityProxy *proxy, GSocket *from, GSocket *to, gboolean filter)
{
  ProxyPipe *pipe = g_new0 (ProxyPipe, 1);

  pipe->proxy = proxy;
  pipe->from = from;
  pipe->to = to;
  pipe->filter = filter;
  g_ptr_array_add (proxy->threads,
                   g_thread_new ("capability-proxy", pipe_thread, pipe));
}

static GSocket *
connect_upstream (CapabilityProxy *proxy)
{
  g_autoptr (GInetAddress) loopback =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address =
      g_inet_socket_address_new (loopback, proxy->upstream_port);
  g_autoptr (GSocket) socket = g_socket_new (
      G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);

  if (socket == NULL || !g_socket_connect (socket, address, NULL, NULL))
    return NULL;
  return g_steal_pointer (&socket);
}

static gpointer
accept_thread (gpointer user_data)
{
  CapabilityProxy *proxy = user_data;

  for (;;)
    {
      GSocket *client = g_socket_accept (proxy->listener, NULL, NULL);
      GSocket *server = NULL;

      if (client == NULL)
        return NULL; /* the listener was shut down */
      server = connect_upstream (proxy);
      g_mutex_lock (&proxy->lock);
      g_ptr_array_add (proxy->sockets, client);
      if (server != NULL && !proxy->stopping)
        {
          g_ptr_array_add (proxy->sockets, server);
          start_pipe (proxy, client, server, FALSE);
          start_pipe (proxy, server, client, TRUE);
        }
      else if (server != NULL)
        g_object_unref (server);
      g_mutex_unlock (&proxy->lock);
      if (server == NULL)
        g_socket_shutdown (client, TRUE, TRUE, NULL);
    }
}

CapabilityProxy *
capability_proxy_new (guint16 upstream_port, const char *const *hidden)
{
  return capability_proxy_new_full (upstream_port, hidden, NULL);
}

CapabilityProxy *
capability_proxy_new_full (guint16 upstream_port,
                           const char *const *hidden,
                           const char *const *added)
{
  CapabilityProxy *proxy = g_new0 (CapabilityProxy, 1);
  g_autoptr (GInetAddress) loopback =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;

  proxy->upstream_port = upstream_port;
  proxy->hidden = g_strdupv ((char **) hidden);
  proxy->added = g_strdupv ((char **) added);
  proxy->log = g_ptr_array_new_with_free_func (log_run_free);
  g_mutex_init (&proxy->lock);
  proxy->sockets = g_ptr_array_new_with_free_func (g_object_unref);
  proxy->threads = g_ptr_array_new ();
  proxy->listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                  G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (proxy->listener, any, TRUE, &error));
  g_assert_true (g_socket_listen (proxy->listener, &error));
  bound = g_socket_get_local_address (proxy->listener, &error);
  g_assert_no_error (error);
  proxy->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  proxy->acceptor =
      g_thread_new ("capability-proxy-accept", accept_thread, proxy);
  return proxy;
}

guint16
capability_proxy_port (CapabilityProxy *proxy)
{
  return proxy->port;
}

void
capability_proxy_free (CapabilityProxy *proxy)
{
  if (proxy == NULL)
    return;
  /* shutdown (2) wakes the blocking accept and receives */
  g_mutex_lock (&proxy->lock);
  proxy->stopping = TRUE;
  g_mutex_unlock (&proxy->lock);
  shutdown (g_socket_get_fd (proxy->listener), SHUT_RDWR);
  g_thread_join (proxy->acceptor);
  for (guint i = 0; i < proxy->sockets->len; i++)
    g_socket_shutdown (proxy->sockets->pdata[i], TRUE, TRUE, NULL);
  for (guint i = 0; i < proxy->threads->len; i++)
    g_thread_join (proxy->threads->pdata[i]);
  g_ptr_array_unref (proxy->threads);
  g_ptr_array_unref (proxy->sockets);
  g_object_unref (proxy->listener);
  g_mutex_clear (&proxy->lock);
  g_strfreev (proxy->hidden);
  g_strfreev (proxy->added);
  g_ptr_array_unref (proxy->log);
  g_free (proxy);
}

/* ---- what the log shows ------------------------------------------- */

static gboolean
bytes_contain (GBytes *bytes, const char *needle, gsize length)
{
  gsize size = 0;
  const char *data = g_bytes_get_data (bytes, &size);

  return memmem (data, size, needle, length) != NULL;
}

/* See the header. */
void
capability_proxy_assert_literal (CapabilityProxy *proxy,
                                 const char *announce,
                                 const char *text,
                                 gboolean waited)
{
  g_autoptr (GPtrArray) runs = capability_proxy_get_runs (proxy);
  g_autofree char *line = g_strdup_printf ("%s\r\n", announce);
  g_autofree char *whole = g_strconcat (line, text, NULL);

  for (guint i = 0; i < runs->len; i++)
    {
      const CapabilityProxyRun *run = g_ptr_array_index (runs, i);
      const CapabilityProxyRun *reply = NULL;
      const CapabilityProxyRun *after = NULL;
      gsize size = 0;
      const char *data = g_bytes_get_data (run->data, &size);

      if (run->from_server || !bytes_contain (run->data, line, strlen (line)))
        continue;
      if (!waited)
        {
          g_assert_true (bytes_contain (run->data, whole, strlen (whole)));
          return;
        }
      /* the client said nothing after the announcing line */
      g_assert_cmpuint (size, >=, strlen (line));
      g_assert_cmpmem (data + size - strlen (line), strlen (line), line,
                       strlen (line));
      g_assert_cmpuint (i + 2, <, runs->len);
      reply = g_ptr_array_index (runs, i + 1);
      after = g_ptr_array_index (runs, i + 2);
      g_assert_true (reply->from_server);
      data = g_bytes_get_data (reply->data, &size);
      g_assert_true ((size > 0 && data[0] == '+') ||
                     bytes_contain (reply->data, "\r\n+", 3));
      g_assert_false (after->from_server);
      data = g_bytes_get_data (after->data, &size);
      g_assert_cmpuint (size, >=, strlen (text));
      g_assert_cmpmem (data, strlen (text), text, strlen (text));
      return;
    }
  g_error ("%s never went to the server", announce);
}
