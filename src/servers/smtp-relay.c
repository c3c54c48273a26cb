/* SPDX-License-Identifier: MIT
 * smtp-relay.c: one delivery attempt from the queue to the next hop of a
 * domain, over the SMTP client library (RFC 5321 §5.1 next hop, §4.5.4
 * retries; RFC 7435 opportunistic TLS; RFC 3461 §5.2 DSN passed on).
 */
#include "smtp-relay.h"

#include <string.h>

#include "mail-net.h"
#include "smtp-client.h"
#include "smtp-dns.h"
#include "smtp-proto.h"

#define SMTP_RELAY_PORT 25 /* RFC 5321 §4.5.4.2, for routes without one */

typedef struct
{
  char *host; /* what we connect to: a name or an address literal */
  char *name; /* the MX (or route) name, for TLS and the log */
  guint16 port;
} SmtpHop;

static void
smtp_hop_free (SmtpHop *hop)
{
  g_free (hop->host);
  g_free (hop->name);
  g_free (hop);
}

static void
smtp_relay_add_hop (GPtrArray *hops,
                    const char *host,
                    const char *name,
                    guint16 port)
{
  SmtpHop *hop = g_new0 (SmtpHop, 1);

  hop->host = g_strdup (host);
  hop->name = g_strdup (name);
  hop->port = port;
  g_ptr_array_add (hops, hop);
}

/* Is @address (an IP literal) one where our smtp listener would answer a
 * connection on mx_port? The listener's own address, or for a wildcard
 * listener any address of this host: one we can bind to. The port
 * matters: in a lab several MTAs share 127.0.0.1, each on a port of
 * its own, and only the one on mx_port is reached through an MX. */
static gboolean
smtp_relay_address_is_self (const MailConfig *config, const char *address)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (address);
  g_autoptr (GInetAddress) listen = NULL;
  g_autoptr (GSocket) probe = NULL;
  g_autoptr (GSocketAddress) local = NULL;

  if (inet == NULL || config->smtp.port != config->mx_port)
    return FALSE;
  listen = g_inet_address_new_from_string (config->smtp.listen);
  if (listen == NULL)
    return FALSE;
  if (!g_inet_address_get_is_any (listen))
    return g_inet_address_equal (inet, listen);
  if (g_inet_address_get_family (inet) != g_inet_address_get_family (listen))
    return FALSE;
  probe = g_socket_new (g_inet_address_get_family (inet),
                        G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  local = g_inet_socket_address_new (inet, 0);
  return probe != NULL && g_socket_bind (probe, local, FALSE, NULL);
}

/* Is @host this server: named as our [general] hostname, or reaching us
 * at one of its addresses? */
static gboolean
smtp_relay_host_is_self (const MailConfig *config, const SmtpDnsHost *host)
{
  if (config->hostname != NULL &&
      g_ascii_strcasecmp (host->name, config->hostname) == 0)
    return TRUE;
  for (guint i = 0; host->addresses[i] != NULL; i++)
    if (smtp_relay_address_is_self (config, host->addresses[i]))
      return TRUE;
  return FALSE;
}

/* RFC 5321 §5.1: the relay looks in the MX list (@hosts, sorted by
 * preference) for "any of the names or addresses by which it might be
 * known"; if one is found, "all records at that preference level and
 * higher-numbered ones MUST be discarded". We only ever hand mail to a
 * better MX, never to ourselves or to a backup behind us, which would
 * hand it back. "If there are no records left at that point, ... the
 * message MUST be returned as undeliverable": Postfix's "mail for ...
 * loops back to myself". */
static gboolean
smtp_relay_drop_self (const MailConfig *config,
                      const char *domain,
                      GPtrArray *hosts,
                      GError **error)
{
  guint better = 0; /* hosts before the first that is us */

  while (better < hosts->len &&
         !smtp_relay_host_is_self (config, g_ptr_array_index (hosts, better)))
    better++;
  if (better == hosts->len)
    return TRUE; /* we are not an MX of @domain */
  /* an MX of the same preference as ours is no better than we are */
  while (better > 0 &&
         ((SmtpDnsHost *) g_ptr_array_index (hosts, better - 1))->preference ==
             ((SmtpDnsHost *) g_ptr_array_index (hosts, better))->preference)
    better--;
  g_ptr_array_set_size (hosts, better);
  if (better > 0)
    return TRUE;
  g_set_error (error, SMTP_DNS_ERROR, SMTP_DNS_ERROR_LOOPS_BACK,
               "mail for %s loops back to myself: %s is its best MX", domain,
               config->hostname);
  return FALSE;
}

/* RFC 5321 §5.1: every address of every MX host, in order of preference
 * (or of the domain itself, the implicit MX), all on [relay] mx_port;
 * none of ours, nor any behind us. */
static gboolean
smtp_relay_add_dns_hops (const MailConfig *config,
                         const char *domain,
                         GPtrArray *hops,
                         GCancellable *cancellable,
                         GError **error)
{
  g_autoptr (GPtrArray) hosts = smtp_dns_lookup_mx (
      config->dns_server, config->dns_timeout, domain, cancellable, error);

  if (hosts == NULL || !smtp_relay_drop_self (config, domain, hosts, error))
    return FALSE;
  for (guint i = 0; i < hosts->len; i++)
    {
      const SmtpDnsHost *host = g_ptr_array_index (hosts, i);

      for (guint j = 0; host->addresses[j] != NULL; j++)
        smtp_relay_add_hop (hops, host->addresses[j], host->name,
                            (guint16) config->mx_port);
    }
  return TRUE;
}

/* RFC 5321 §5.1: the static route if there is one, else what DNS says.
 * NULL with the error when there is nowhere to go now. */
static GPtrArray *
smtp_relay_next_hops (const MailConfig *config,
                      const char *domain,
                      GCancellable *cancellable,
                      GError **error)
{
  g_autoptr (GPtrArray) hops =
      g_ptr_array_new_with_free_func ((GDestroyNotify) smtp_hop_free);
  const char *route = g_hash_table_lookup (config->routes, domain);
  g_autofree char *host = NULL;
  guint16 port = 0;

  if (route == NULL)
    return smtp_relay_add_dns_hops (config, domain, hops, cancellable, error)
               ? g_steal_pointer (&hops)
               : NULL;
  if (!mail_net_parse_host_port (route, SMTP_RELAY_PORT, &host, &port, error))
    return NULL;
  smtp_relay_add_hop (hops, host, host, port);
  return g_steal_pointer (&hops);
}

/* What the queue records when DNS alone decides, as a reply line so that
 * the bounce takes its Status from it: RFC 7505 §4.2 (null MX: 556
 * 5.1.10, RFC 7504 §3), RFC 3463 §3.2 (5.1.2 bad destination system),
 * §3.5 (5.4.4 unable to route, 4.4.3 directory server failure, 5.4.6
 * routing loop detected) and §3.4 (4.3.5 system incorrectly configured).
 * Transfer full. */
static char *
smtp_relay_dns_reason (const GError *error, guint *out_code)
{
  static const struct
  {
    SmtpDnsError error;
    SmtpReplyCode code;
    const char *enhanced;
  } reasons[] = {
    { SMTP_DNS_ERROR_NULL_MX, SMTP_REPLY_DOMAIN_NO_MAIL, "5.1.10" },
    { SMTP_DNS_ERROR_NO_DOMAIN, SMTP_REPLY_MAILBOX_UNAVAILABLE, "5.1.2" },
    { SMTP_DNS_ERROR_NO_ADDRESS, SMTP_REPLY_MAILBOX_UNAVAILABLE, "5.4.4" },
    { SMTP_DNS_ERROR_TEMPORARY, SMTP_REPLY_LOCAL_ERROR, "4.4.3" },
    { SMTP_DNS_ERROR_CONFIG, SMTP_REPLY_LOCAL_ERROR, "4.3.5" },
    { SMTP_DNS_ERROR_LOOPS_BACK, SMTP_REPLY_TRANSACTION_FAILED, "5.4.6" },
  };

  g_return_val_if_fail (error->domain == SMTP_DNS_ERROR, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (reasons); i++)
    if (reasons[i].error == (SmtpDnsError) error->code)
      {
        *out_code = reasons[i].code;
        return g_strdup_printf ("%u %s %s", *out_code, reasons[i].enhanced,
                                error->message);
      }
  g_assert_not_reached ();
}

/* Connects and says EHLO, with STARTTLS when offered. The certificate is
 * not verified: MX hosts rarely have one for the name we looked up, and
 * RFC 7435 (opportunistic security) says some encryption beats none.
 * If the TLS handshake fails we try once more in clear, as Postfix's
 * "may" level does. */
static SmtpClient *
smtp_relay_open (const MailConfig *config,
                 const SmtpHop *hop,
                 GCancellable *cancellable,
                 GError **error)
{
  guint timeout = config->timeout ? config->timeout : 300;

  for (guint try = 0; try < 2; try++)
    {
      g_autoptr (SmtpClient) client = smtp_client_new ();
      g_autoptr (GError) local = NULL;

      /* As Postfix does: BDAT whenever the next hop offers it, so the
       * text goes as it is, without dot-stuffing (RFC 3030 §2). */
      smtp_client_set_chunking (client, TRUE);
      if (!smtp_client_connect (client, hop->host, hop->port, FALSE, NULL,
                                FALSE, timeout, cancellable, error) ||
          !smtp_client_ehlo (client, config->hostname, error))
        return NULL;
      if (try > 0 ||
          (smtp_client_get_extensions (client) & SMTP_EXT_STARTTLS) == 0)
        return g_steal_pointer (&client);
      if (smtp_client_starttls (client, hop->name, NULL, TRUE, config->hostname,
                                &local))
        return g_steal_pointer (&client);
      g_message ("%s [%s]:%u: %s; retrying without TLS", hop->name, hop->host,
                 hop->port, local->message);
    }
  g_assert_not_reached ();
}

/* RFC 3461 §5.2.1: what we were asked goes on to the next hop, and a
 * recipient without ORCPT gets one, the address the sender gave us, so
 * that the final report still names it after rewriting. Transfer full. */
static SmtpDsnEnvelope *
smtp_relay_dsn_of (const SmtpQueueEntry *e, GPtrArray *group)
{
  SmtpDsnEnvelope *dsn = g_new0 (SmtpDsnEnvelope, 1);

  dsn->ret = e->ret;
  dsn->envid = g_strdup (e->envid);
  dsn->recipients =
      g_ptr_array_new_with_free_func ((GDestroyNotify) smtp_dsn_recipient_free);
  for (guint i = 0; i < group->len; i++)
    {
      const SmtpQueueRecipient *r = g_ptr_array_index (group, i);
      SmtpDsnRecipient *asked = smtp_dsn_recipient_copy (&r->dsn);

      if (asked->orcpt == NULL)
        {
          asked->orcpt_type =
              g_strdup (g_str_is_ascii (r->address) ? "rfc822" : "utf-8");
          asked->orcpt = g_strdup (r->address);
        }
      g_ptr_array_add (dsn->recipients, asked);
    }
  return dsn;
}

static void
smtp_relay_dsn_free (SmtpDsnEnvelope *dsn)
{
  smtp_dsn_envelope_clear (dsn);
  g_free (dsn);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmtpDsnEnvelope, smtp_relay_dsn_free)

/* Which hop a delivered recipient reached, for its success notice: one
 * with DSN reports further itself (RFC 3461 §5.2.1), one without cannot
 * (§5.2.2: we say "relayed"). */
static void
smtp_relay_record_hop (GPtrArray *group, SmtpClient *client, const char *name)
{
  gboolean dsn = (smtp_client_get_extensions (client) & SMTP_EXT_DSN) != 0;

  for (guint i = 0; i < group->len; i++)
    {
      SmtpQueueRecipient *r = g_ptr_array_index (group, i);

      g_free (r->remote_mta);
      r->remote_mta = g_strdup (name);
      r->hop = r->state != SMTP_QUEUE_DELIVERED ? SMTP_QUEUE_HOP_NONE
               : dsn                            ? SMTP_QUEUE_HOP_DSN
                                                : SMTP_QUEUE_HOP_PLAIN;
    }
}

/* Records what the next hop said about each recipient of @group. */
static void
smtp_relay_record_results (GPtrArray *group,
                           GPtrArray *results,
                           const char *accepted,
                           guint code,
                           const char *error_text)
{
  for (guint i = 0; i < group->len; i++)
    {
      SmtpQueueRecipient *r = g_ptr_array_index (group, i);
      SmtpRecipientResult *result =
          results && i < results->len ? g_ptr_array_index (results, i) : NULL;
      guint rcpt_code = result != NULL ? result->code : 0;

      g_free (r->reason);
      if (rcpt_code != 0 && !smtp_reply_is_positive (rcpt_code))
        {
          /* Refused at RCPT: its own verdict, whatever came after. */
          r->reason = g_strdup (result->reply);
          r->state = smtp_reply_is_permanent (rcpt_code) ? SMTP_QUEUE_BOUNCED
                                                         : SMTP_QUEUE_WAITING;
          continue;
        }
      if (accepted != NULL)
        {
          r->reason = g_strdup (accepted);
          r->state = SMTP_QUEUE_DELIVERED;
          continue;
        }
      r->reason = g_strdup (error_text);
      r->state = smtp_client_error_is_temporary (code) ? SMTP_QUEUE_WAITING
                                                       : SMTP_QUEUE_BOUNCED;
    }
}

void
smtp_relay_deliver (const MailConfig *config,
                    const SmtpQueueEntry *entry,
                    const char *domain,
                    GPtrArray *recipients,
                    const char *data,
                    gsize length,
                    GCancellable *cancellable)
{
  const char *sender = entry->sender;
  gboolean smtputf8 = entry->smtputf8;
  g_autoptr (SmtpDsnEnvelope) dsn = smtp_relay_dsn_of (entry, recipients);
  const SmtpHop *hop = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) hops =
      smtp_relay_next_hops (config, domain, cancellable, &error);
  g_autoptr (GPtrArray) addresses = g_ptr_array_new ();
  g_autoptr (GPtrArray) results = NULL;
  g_autoptr (SmtpClient) client = NULL;
  g_autofree char *accepted = NULL;
  guint code = 0;
  const char *why = NULL;
  gboolean sent = FALSE;

  if (hops == NULL && error->domain == SMTP_DNS_ERROR)
    {
      g_autofree char *reason = smtp_relay_dns_reason (error, &code);

      smtp_relay_record_results (recipients, NULL, NULL, code, reason);
      return;
    }
  for (guint i = 0; i < recipients->len; i++)
    g_ptr_array_add (addresses,
                     ((SmtpQueueRecipient *) recipients->pdata[i])->address);
  g_ptr_array_add (addresses, NULL);
  /* RFC 5321 §5.1: try each hop in turn until one answers. */
  for (guint i = 0; hops != NULL && i < hops->len && client == NULL; i++)
    {
      g_clear_error (&error);
      hop = g_ptr_array_index (hops, i);
      client = smtp_relay_open (config, hop, cancellable, &error);
    }
  if (client != NULL && smtputf8 &&
      (smtp_client_get_extensions (client) & SMTP_EXT_SMTPUTF8) == 0)
    {
      /* RFC 6531 §3.5: a message that needs SMTPUTF8 is not downgraded
       * here; it is returned with 5.6.7. */
      smtp_client_quit (client);
      smtp_relay_record_results (
          recipients, NULL, NULL, SMTP_REPLY_MAILBOX_NAME_NOT_ALLOWED,
          "553 5.6.7 the next hop does not offer SMTPUTF8, which this "
          "message needs (RFC 6531 §3.5)");
      return;
    }
  if (client != NULL)
    {
      smtp_client_set_smtputf8 (client, smtputf8);
      smtp_client_set_dsn (client, dsn);
      sent = smtp_client_send (client, sender,
                               (const char *const *) addresses->pdata, data,
                               length, &results, &error);
      if (sent)
        accepted = g_strdup (smtp_client_get_reply_text (client));
      smtp_client_quit (client);
    }
  /* A refusal is quoted as the server said it ("552 5.3.4 ..."), so the
   * bounce can take its RFC 3463 code; anything else (no connection, a
   * dropped one) as our error message. */
  why = error != NULL ? error->message : "no next hop";
  if (client != NULL && smtp_client_get_reply_code (client) != 0)
    {
      code = smtp_client_get_reply_code (client);
      why = smtp_client_get_reply_text (client);
    }
  smtp_relay_record_results (recipients, results, accepted, code, why);
  if (client != NULL)
    smtp_relay_record_hop (recipients, client, hop->name);
}
