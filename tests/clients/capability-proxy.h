/* SPDX-License-Identifier: MIT
 * capability-proxy.h: a TCP proxy on 127.0.0.1 in front of an IMAP
 * server that takes words out of every capability list the server sends
 * ("* CAPABILITY ...", "[CAPABILITY ...]"), so that a client meets a
 * server without LITERAL+ or SASL-IR although mw-imapd always offers
 * them. Everything else passes as it is, both ways; cleartext only (it
 * reads the server's lines). Each connection has two threads; freeing
 * the proxy shuts every connection down and joins them.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _CapabilityProxy CapabilityProxy;

/* @hidden: the capability words to take out (NULL-terminated). */
CapabilityProxy *capability_proxy_new (guint16 upstream_port,
                                       const char *const *hidden);
guint16 capability_proxy_port (CapabilityProxy *proxy);
void capability_proxy_free (CapabilityProxy *proxy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CapabilityProxy, capability_proxy_free)

G_END_DECLS
