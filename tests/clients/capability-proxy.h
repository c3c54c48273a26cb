/* SPDX-License-Identifier: MIT
 * capability-proxy.h: a TCP proxy on 127.0.0.1 in front of an IMAP
 * server that takes words out of every capability list the server sends
 * ("* CAPABILITY ...", "[CAPABILITY ...]"), so that a client meets a
 * server without LITERAL+ or SASL-IR although mw-imapd always offers
 * them, and may add words of its own (LITERAL- in LITERAL+'s place, RFC
 * 7888 §5). Everything else passes as it is, both ways; cleartext only
 * (it reads the server's lines). Each connection has two threads;
 * freeing the proxy shuts every connection down and joins them.
 *
 * The proxy also keeps a log of the wire: every chunk it passes on, in
 * the order it received them, written down before it is sent on. Since
 * a client can answer only what it has received, the log's order is the
 * causal order: a literal that waited for the server's "+" comes after
 * the "+" in the log (what a test of RFC 9051 §7.5 needs to see).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _CapabilityProxy CapabilityProxy;

/* @hidden: the capability words to take out (NULL-terminated). */
CapabilityProxy *capability_proxy_new (guint16 upstream_port,
                                       const char *const *hidden);
/* The same, with @added (NULL-terminated, or NULL) appended to every
 * capability list once the hidden words are out. */
CapabilityProxy *capability_proxy_new_full (guint16 upstream_port,
                                            const char *const *hidden,
                                            const char *const *added);

/* One stretch of the wire in one direction: the chunks of that
 * direction the proxy passed on between two of the other's, joined. */
typedef struct
{
  gboolean from_server;
  GBytes *data;
} CapabilityProxyRun;

/* The log so far, as a GPtrArray of CapabilityProxyRun (transfer full:
 * g_ptr_array_unref () frees the runs). */
GPtrArray *capability_proxy_get_runs (CapabilityProxy *proxy);

/* On the wire (the log, in causal order): @announce ("{4096+}"),
 * then the message. With @waited, the client stopped after the
 * announcing line, the server's next words held the "+" continuation
 * (RFC 9051 §7.5), and only then came the octets; without it, the octets
 * followed the line at once, with no word from the server between. */
void capability_proxy_assert_literal (CapabilityProxy *proxy,
                                      const char *announce,
                                      const char *text,
                                      gboolean waited);
guint16 capability_proxy_port (CapabilityProxy *proxy);
void capability_proxy_free (CapabilityProxy *proxy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CapabilityProxy, capability_proxy_free)

G_END_DECLS
