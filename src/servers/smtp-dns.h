/* SPDX-License-Identifier: MIT
 * smtp-dns.h: the DNS half of choosing a next hop: the MX hosts of a
 * domain in order of preference, each with its addresses, or the domain
 * itself as the implicit MX (RFC 5321 §5.1; RFC 7505 null MX). Blocking,
 * on the libc resolver (libresolv), one query at a time; safe to call
 * from several threads at once (each call has its own resolver state).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define SMTP_DNS_ERROR (smtp_dns_error_quark ())
typedef enum
{
  SMTP_DNS_ERROR_NULL_MX,    /* RFC 7505 §3: the domain takes no mail */
  SMTP_DNS_ERROR_NO_DOMAIN,  /* NXDOMAIN, or neither MX nor address */
  SMTP_DNS_ERROR_NO_ADDRESS, /* MX hosts, none of them with an address */
  SMTP_DNS_ERROR_TEMPORARY,  /* SERVFAIL, timeout, no server answered */
  SMTP_DNS_ERROR_CONFIG,     /* a dns_server we cannot use */
  SMTP_DNS_ERROR_LOOPS_BACK, /* we are the best MX: nowhere better to go */
} SmtpDnsError;
GQuark smtp_dns_error_quark (void);

/* The most MX hosts we try for one domain (Postfix tries 5 addresses);
 * the rest of a longer list is dropped. */
#define SMTP_DNS_MAX_HOSTS 10

typedef struct
{
  char *name;         /* MX host, or the domain itself (implicit MX) */
  guint16 preference; /* 0 for the implicit MX */
  GStrv addresses;    /* IP literals: A records first, then AAAA */
} SmtpDnsHost;

void smtp_dns_host_free (SmtpDnsHost *host);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmtpDnsHost, smtp_dns_host_free)

/* Looks up where mail for @domain goes, asking @server ("ADDRESS" or
 * "ADDRESS:PORT", IPv4 only; NULL: the servers of /etc/resolv.conf),
 * waiting @timeout seconds (0: libc's default) for each answer; once
 * @cancellable (may be NULL) is cancelled no further query is sent.
 * Returns (transfer full) an array of SmtpDnsHost, each with at least
 * one address, sorted by preference; equal preferences keep the order
 * of the DNS answer, so that a given answer always gives the same
 * order. MX hosts without an address are left out. Untrusted data: the
 * names are what the DNS server said, expanded by dn_expand ().
 * NULL with an SmtpDnsError whose message names the query and what went
 * wrong; only SMTP_DNS_ERROR_TEMPORARY and _CONFIG are worth a retry. */
GPtrArray *smtp_dns_lookup_mx (const char *server,
                               guint timeout,
                               const char *domain,
                               GCancellable *cancellable,
                               GError **error);

G_END_DECLS
