/* SPDX-License-Identifier: MIT
 * smtp-dns.c: MX hosts and their addresses for the relay, on the libc
 * resolver (res_nquery, ns_parserr) asking a configurable server
 * (RFC 5321 §5.1 MX and implicit MX; RFC 7505 null MX; RFC 1035 §4.1
 * messages, §3.3.9 MX RDATA).
 */
#include "smtp-dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>

#include "mail-net.h"

G_DEFINE_QUARK (smtp_dns_error, smtp_dns_error)

#define SMTP_DNS_PORT 53 /* RFC 1035 §4.2 */

/* What one query came back with, from the resolver's h_errno. */
typedef enum
{
  SMTP_DNS_ANSWER,   /* records came back */
  SMTP_DNS_NODATA,   /* the name exists, without records of that type */
  SMTP_DNS_NXDOMAIN, /* RFC 1035 §4.1.1 RCODE 3: no such name */
  SMTP_DNS_AGAIN,    /* SERVFAIL, a timeout, nobody listening */
  SMTP_DNS_REFUSED,  /* FORMERR, NOTIMP or REFUSED (RCODE 1, 4, 5) */
} SmtpDnsStatus;

/* One lookup's resolver state, and what the messages name it. */
typedef struct
{
  struct __res_state state;
  const char *server;        /* as configured, or NULL */
  GCancellable *cancellable; /* checked before each query */
  int last_errno;            /* errno after the last failed query */
} SmtpDnsResolver;

void
smtp_dns_host_free (SmtpDnsHost *host)
{
  if (host == NULL)
    return;
  g_free (host->name);
  g_strfreev (host->addresses);
  g_free (host);
}

/* ---- the resolver ----------------------------------------------------- */

/* res_ninit () reads /etc/resolv.conf; a configured server then replaces
 * its name servers. One try per query with @timeout, so that the wait is
 * the configured one and not glibc's doubling retries. */
static gboolean
smtp_dns_open (SmtpDnsResolver *resolver,
               const char *server,
               guint timeout,
               GError **error)
{
  g_autofree char *host = NULL;
  guint16 port = 0;
  struct in_addr address;

  memset (resolver, 0, sizeof *resolver);
  resolver->server = server;
  if (res_ninit (&resolver->state) != 0)
    {
      g_set_error_literal (error, SMTP_DNS_ERROR, SMTP_DNS_ERROR_CONFIG,
                           "DNS: cannot set up the resolver (res_ninit)");
      return FALSE;
    }
  if (timeout > 0)
    {
      resolver->state.retrans = (int) timeout;
      resolver->state.retry = 1;
    }
  if (server == NULL)
    return TRUE;
  if (!mail_net_parse_host_port (server, SMTP_DNS_PORT, &host, &port, NULL) ||
      inet_pton (AF_INET, host, &address) != 1)
    {
      res_nclose (&resolver->state);
      g_set_error (error, SMTP_DNS_ERROR, SMTP_DNS_ERROR_CONFIG,
                   "DNS: [relay] dns_server '%s' is not an IPv4 address "
                   "with an optional :PORT",
                   server);
      return FALSE;
    }
  memset (&resolver->state.nsaddr_list[0], 0, sizeof (struct sockaddr_in));
  resolver->state.nsaddr_list[0].sin_family = AF_INET;
  resolver->state.nsaddr_list[0].sin_port = htons (port);
  resolver->state.nsaddr_list[0].sin_addr = address;
  resolver->state.nscount = 1;
  return TRUE;
}

/* Asks for the @type records of @name, as given (no search list).
 * *out_answer (transfer full) is the whole reply on SMTP_DNS_ANSWER. */
static SmtpDnsStatus
smtp_dns_query (SmtpDnsResolver *resolver,
                const char *name,
                int type,
                GBytes **out_answer)
{
  guchar *buffer = NULL;
  int length = 0;

  /* res_nquery () cannot be interrupted: a stop of mw-smtpd waits for
   * the query under way, at most dns_timeout, not for the whole list. */
  if (g_cancellable_is_cancelled (resolver->cancellable))
    {
      resolver->last_errno = ECANCELED;
      return SMTP_DNS_AGAIN;
    }
  buffer = g_malloc (NS_MAXMSG);
  errno = 0;
  length =
      res_nquery (&resolver->state, name, ns_c_in, type, buffer, NS_MAXMSG);
  if (length >= 0)
    {
      *out_answer = g_bytes_new_take (buffer, length);
      return SMTP_DNS_ANSWER;
    }
  resolver->last_errno = errno;
  g_free (buffer);
  switch (resolver->state.res_h_errno)
    {
    case HOST_NOT_FOUND:
      return SMTP_DNS_NXDOMAIN;
    case NO_DATA:
      return SMTP_DNS_NODATA;
    case NO_RECOVERY:
      return SMTP_DNS_REFUSED;
    default: /* TRY_AGAIN, NETDB_INTERNAL */
      return SMTP_DNS_AGAIN;
    }
}

/* Says which query failed, how, and whom we asked. */
static void
smtp_dns_set_error (GError **error,
                    const SmtpDnsResolver *resolver,
                    SmtpDnsStatus status,
                    const char *type,
                    const char *name)
{
  const char *server =
      resolver->server != NULL ? resolver->server : "/etc/resolv.conf";
  const char *why = resolver->last_errno == ETIMEDOUT      ? ": timed out"
                    : resolver->last_errno == ECONNREFUSED ? ": refused"
                    : resolver->last_errno == ECANCELED    ? ": cancelled"
                                                           : "";

  if (status == SMTP_DNS_NXDOMAIN)
    g_set_error (error, SMTP_DNS_ERROR, SMTP_DNS_ERROR_NO_DOMAIN,
                 "DNS: %s does not exist (NXDOMAIN from %s)", name, server);
  else
    g_set_error (error, SMTP_DNS_ERROR, SMTP_DNS_ERROR_TEMPORARY,
                 "DNS: no usable answer to %s %s from %s%s (%s); will retry",
                 type, name, server, why,
                 status == SMTP_DNS_REFUSED ? "refused or not understood"
                                            : "SERVFAIL, timeout or no "
                                              "server");
}

/* ---- reading answers -------------------------------------------------- */

/* Each answer record of @type in @answer, in order; FALSE if @answer
 * does not parse. */
static gboolean
smtp_dns_records (GBytes *answer,
                  ns_type type,
                  ns_msg *out_msg,
                  GArray *records)
{
  gsize size = 0;
  const guchar *data = g_bytes_get_data (answer, &size);

  if (ns_initparse (data, (int) size, out_msg) < 0)
    return FALSE;
  for (int i = 0; i < ns_msg_count (*out_msg, ns_s_an); i++)
    {
      ns_rr rr;

      if (ns_parserr (out_msg, ns_s_an, i, &rr) < 0)
        return FALSE;
      if (ns_rr_type (rr) == type)
        g_array_append_val (records, rr);
    }
  return TRUE;
}

/* RFC 1035 §3.3.9: MX RDATA is PREFERENCE (16 bits) then EXCHANGE, a
 * possibly compressed name. An EXCHANGE of "." (the root, expanded to
 * "") is RFC 7505's null MX: it sets *out_null_mx and adds no host, so
 * that a "." beside real MX hosts (which RFC 7505 §3 forbids) is only
 * skipped. */
static GPtrArray *
smtp_dns_parse_mx (GBytes *answer, gboolean *out_null_mx)
{
  GPtrArray *hosts =
      g_ptr_array_new_with_free_func ((GDestroyNotify) smtp_dns_host_free);
  g_autoptr (GArray) records = g_array_new (FALSE, FALSE, sizeof (ns_rr));
  ns_msg msg;

  if (!smtp_dns_records (answer, ns_t_mx, &msg, records))
    return hosts;
  for (guint i = 0; i < records->len && hosts->len < SMTP_DNS_MAX_HOSTS; i++)
    {
      ns_rr *rr = &g_array_index (records, ns_rr, i);
      char name[NS_MAXDNAME];
      SmtpDnsHost *host = NULL;

      if (ns_rr_rdlen (*rr) < 3 ||
          dn_expand (ns_msg_base (msg), ns_msg_end (msg), ns_rr_rdata (*rr) + 2,
                     name, sizeof name) < 0)
        continue;
      if (name[0] == '\0')
        {
          *out_null_mx = TRUE;
          continue;
        }
      host = g_new0 (SmtpDnsHost, 1);
      host->name = g_strdup (name);
      host->preference = ns_get16 (ns_rr_rdata (*rr));
      g_ptr_array_add (hosts, host);
    }
  return hosts;
}

/* Appends the A or AAAA (@type) addresses of @name to @addresses. */
static SmtpDnsStatus
smtp_dns_add_addresses (SmtpDnsResolver *resolver,
                        const char *name,
                        ns_type type,
                        GPtrArray *addresses)
{
  g_autoptr (GBytes) answer = NULL;
  g_autoptr (GArray) records = g_array_new (FALSE, FALSE, sizeof (ns_rr));
  SmtpDnsStatus status = smtp_dns_query (resolver, name, type, &answer);
  int family = type == ns_t_a ? AF_INET : AF_INET6;
  guint size = type == ns_t_a ? NS_INADDRSZ : NS_IN6ADDRSZ;
  ns_msg msg;

  if (status != SMTP_DNS_ANSWER)
    return status;
  if (!smtp_dns_records (answer, type, &msg, records))
    return SMTP_DNS_REFUSED;
  for (guint i = 0; i < records->len; i++)
    {
      ns_rr *rr = &g_array_index (records, ns_rr, i);
      char text[INET6_ADDRSTRLEN];

      if (ns_rr_rdlen (*rr) == size &&
          inet_ntop (family, ns_rr_rdata (*rr), text, sizeof text) != NULL)
        g_ptr_array_add (addresses, g_strdup (text));
    }
  return records->len > 0 ? SMTP_DNS_ANSWER : SMTP_DNS_NODATA;
}

/* Fills in the addresses of @host, A first, then AAAA: a fixed order, so
 * that every attempt (and every reader of the log) sees the same. Returns
 * ANSWER if it has any, else the more hopeful of the two failures: a
 * retry may find what a SERVFAIL hid. */
static SmtpDnsStatus
smtp_dns_resolve_host (SmtpDnsResolver *resolver, SmtpDnsHost *host)
{
  g_autoptr (GPtrArray) addresses = g_ptr_array_new_with_free_func (g_free);
  SmtpDnsStatus a =
      smtp_dns_add_addresses (resolver, host->name, ns_t_a, addresses);
  SmtpDnsStatus aaaa =
      smtp_dns_add_addresses (resolver, host->name, ns_t_aaaa, addresses);

  g_ptr_array_add (addresses, NULL);
  host->addresses =
      (GStrv) g_ptr_array_free (g_steal_pointer (&addresses), FALSE);
  if (host->addresses[0] != NULL)
    return SMTP_DNS_ANSWER;
  if (a == SMTP_DNS_AGAIN || aaaa == SMTP_DNS_AGAIN)
    return SMTP_DNS_AGAIN;
  if (a == SMTP_DNS_REFUSED || aaaa == SMTP_DNS_REFUSED)
    return SMTP_DNS_REFUSED;
  return a == SMTP_DNS_NXDOMAIN ? SMTP_DNS_NXDOMAIN : SMTP_DNS_NODATA;
}

/* ---- the lookup ------------------------------------------------------- */

static gint
smtp_dns_compare_preference (gconstpointer a, gconstpointer b)
{
  const SmtpDnsHost *ha = *(SmtpDnsHost *const *) a;
  const SmtpDnsHost *hb = *(SmtpDnsHost *const *) b;

  return (gint) ha->preference - (gint) hb->preference;
}

/* Keeps the hosts of @hosts that have an address. With none left, the
 * error is temporary if any lookup may succeed later (RFC 5321 §5.1:
 * an unusable MX list is an error, reported, not guessed around). */
static gboolean
smtp_dns_resolve_all (SmtpDnsResolver *resolver,
                      const char *domain,
                      GPtrArray *hosts,
                      gboolean implicit,
                      GError **error)
{
  SmtpDnsStatus worst = SMTP_DNS_NODATA;
  const char *failed = NULL;

  for (guint i = 0; i < hosts->len;)
    {
      SmtpDnsHost *host = g_ptr_array_index (hosts, i);
      SmtpDnsStatus status = smtp_dns_resolve_host (resolver, host);

      if (status == SMTP_DNS_ANSWER)
        {
          i++;
          continue;
        }
      if (status == SMTP_DNS_AGAIN || status == SMTP_DNS_REFUSED)
        worst = status;
      g_ptr_array_remove_index (hosts, i);
    }
  if (hosts->len > 0)
    return TRUE;
  failed = implicit ? "A/AAAA" : "A/AAAA of the MX hosts of";
  if (worst != SMTP_DNS_NODATA)
    smtp_dns_set_error (error, resolver, worst, failed, domain);
  else if (implicit)
    g_set_error (error, SMTP_DNS_ERROR, SMTP_DNS_ERROR_NO_DOMAIN,
                 "DNS: %s has neither MX nor address records", domain);
  else
    g_set_error (error, SMTP_DNS_ERROR, SMTP_DNS_ERROR_NO_ADDRESS,
                 "DNS: no MX host of %s has an address", domain);
  return FALSE;
}

/* The MX hosts of @domain, or @domain itself (implicit MX, RFC 5321
 * §5.1) when it has none, still without addresses. */
static GPtrArray *
smtp_dns_find_hosts (SmtpDnsResolver *resolver,
                     const char *domain,
                     gboolean *out_implicit,
                     GError **error)
{
  g_autoptr (GBytes) answer = NULL;
  g_autoptr (GPtrArray) hosts = NULL;
  SmtpDnsStatus status = smtp_dns_query (resolver, domain, ns_t_mx, &answer);
  gboolean null_mx = FALSE;

  if (status != SMTP_DNS_ANSWER && status != SMTP_DNS_NODATA)
    {
      smtp_dns_set_error (error, resolver, status, "MX", domain);
      return NULL;
    }
  hosts = status == SMTP_DNS_ANSWER ? smtp_dns_parse_mx (answer, &null_mx)
                                    : g_ptr_array_new_with_free_func (
                                          (GDestroyNotify) smtp_dns_host_free);
  if (hosts->len == 0 && null_mx)
    {
      g_set_error (error, SMTP_DNS_ERROR, SMTP_DNS_ERROR_NULL_MX,
                   "DNS: %s has a null MX: it accepts no mail (RFC 7505)",
                   domain);
      return NULL;
    }
  *out_implicit = hosts->len == 0;
  if (*out_implicit)
    {
      SmtpDnsHost *self = g_new0 (SmtpDnsHost, 1);

      self->name = g_strdup (domain);
      g_ptr_array_add (hosts, self);
    }
  /* Stable (GLib's merge sort): equal preferences keep the DNS order. */
  g_ptr_array_sort (hosts, smtp_dns_compare_preference);
  return g_steal_pointer (&hosts);
}

GPtrArray *
smtp_dns_lookup_mx (const char *server,
                    guint timeout,
                    const char *domain,
                    GCancellable *cancellable,
                    GError **error)
{
  SmtpDnsResolver resolver;
  g_autoptr (GPtrArray) hosts = NULL;
  gboolean implicit = FALSE;
  gboolean found = FALSE;

  g_return_val_if_fail (domain != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!smtp_dns_open (&resolver, server, timeout, error))
    return NULL;
  resolver.cancellable = cancellable;
  hosts = smtp_dns_find_hosts (&resolver, domain, &implicit, error);
  found = hosts != NULL &&
          smtp_dns_resolve_all (&resolver, domain, hosts, implicit, error);
  res_nclose (&resolver.state);
  return found ? g_steal_pointer (&hosts) : NULL;
}
