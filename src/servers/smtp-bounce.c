/* SPDX-License-Identifier: MIT
 * smtp-bounce.c: the delivery status notifications the queue sends back:
 * bounces, delay notices and success notices (RFC 3464 delivery-status
 * inside an RFC 6522 multipart/report; RFC 3461 §6 what they hold;
 * RFC 3834 Auto-Submitted; RFC 6533 §3 utf-8 addresses).
 */
#include "smtp-bounce.h"

#include <string.h>

#include "smtp-proto.h"

#define SMTP_BOUNCE_MAX_HEADERS 65536 /* of the original, returned */

/* What each kind of notice says to a person, and the class of Status it
 * falls back to when the reason has none (RFC 3463 §3.1). */
static const struct
{
  const char *action; /* RFC 3464 §2.3.3 */
  const char *subject;
  const char *text;
  const char *default_status;
  const char *id_tag; /* Message-ID: <ENTRY.TAG@host>; lab 6 reads "bounce" */
} smtp_bounce_kinds[] = {
  [SMTP_DSN_ACTION_FAILED] = { "failed", "Undelivered Mail Returned to Sender",
                               "Your message could not be delivered to one "
                               "or more recipients.",
                               "5.0.0", "bounce" },
  [SMTP_DSN_ACTION_DELAYED] = { "delayed", "Delayed Mail (still being retried)",
                                "Your message has not been delivered yet to "
                                "the recipients below. The mail system "
                                "keeps\r\n"
                                "trying; you need not send it again.",
                                "4.0.0", "delay" },
  [SMTP_DSN_ACTION_DELIVERED] = { "delivered",
                                  "Successful Mail Delivery Report",
                                  "Your message was delivered to the "
                                  "mailboxes below.",
                                  "2.0.0", "delivered" },
  [SMTP_DSN_ACTION_RELAYED] = { "relayed", "Relayed Mail Delivery Report",
                                "Your message was passed on to a mail system "
                                "that sends no delivery notices:\r\nthis is "
                                "the last notice you will get about these "
                                "recipients.",
                                "2.0.0", "relayed" },
};

static char *
smtp_bounce_format_date (gint64 unix_seconds)
{
  g_autoptr (GDateTime) when = g_date_time_new_from_unix_local (unix_seconds);

  /* RFC 3464 §2.1.1 date-time is RFC 5322's */
  return g_date_time_format (when, "%a, %d %b %Y %T %z");
}

/* The header section of the original message, for text/rfc822-headers
 * (RFC 6522 §4): enough for the sender to recognise it. */
static void
smtp_bounce_append_headers (GString *out, const char *data, gsize length)
{
  const char *end =
      g_strstr_len (data, MIN (length, SMTP_BOUNCE_MAX_HEADERS), "\r\n\r\n");
  gsize keep = end != NULL ? (gsize) (end - data) + 2
                           : MIN (length, SMTP_BOUNCE_MAX_HEADERS);

  g_string_append_len (out, data, keep);
}

/* RFC 3464 §2.3.4: Status is the enhanced code of the reply, else the
 * class of @action alone ("5.0.0"). A code of another class than the
 * action's (a 5yz reason of a delayed recipient) is not its status. */
static char *
smtp_bounce_status_of (const char *reason, SmtpDsnAction action)
{
  const char *fallback = smtp_bounce_kinds[action].default_status;
  guint code = 0;
  gboolean last = FALSE;
  const char *text = NULL;
  char *enhanced = NULL;
  const char *rest = NULL;

  if (reason != NULL &&
      smtp_proto_parse_reply_line (reason, &code, &last, &text))
    smtp_proto_split_enhanced (text, &enhanced, &rest);
  /* Our own reasons start with the enhanced code ("4.4.7 expired"). */
  else if (reason != NULL)
    smtp_proto_split_enhanced (reason, &enhanced, &rest);
  if (enhanced != NULL &&
      (action == SMTP_DSN_ACTION_FAILED ? enhanced[0] != '2'
                                        : enhanced[0] == fallback[0]))
    return enhanced;
  g_free (enhanced);
  if (action == SMTP_DSN_ACTION_FAILED && smtp_reply_is_transient (code))
    return g_strdup ("4.0.0"); /* a 4yz that expired */
  return g_strdup (fallback);
}

/* RFC 3464 §2.3.1, §2.3.2: "rfc822" for ASCII, "utf-8" (RFC 6533 §3)
 * otherwise. */
static const char *
smtp_bounce_address_type (const char *address)
{
  return g_str_is_ascii (address) ? "rfc822" : "utf-8";
}

static void
smtp_bounce_append_diagnostic (GString *out,
                               const SmtpQueueRecipient *r,
                               SmtpDsnAction action)
{
  g_autofree char *diagnostic = g_strdup (r->reason ? r->reason : "");
  guint code = 0;
  gboolean last = FALSE;
  const char *text = NULL;

  /* RFC 3464 §2.3.6: the remote reply; a failure always has one line,
   * our own reason when no server gave one (lab 6 reads it). */
  if (action != SMTP_DSN_ACTION_FAILED &&
      (r->reason == NULL ||
       !smtp_proto_parse_reply_line (r->reason, &code, &last, &text)))
    return;
  g_strdelimit (diagnostic, "\r\n", ' ');
  g_string_append_printf (out, "Diagnostic-Code: smtp; %s\r\n", diagnostic);
}

/* RFC 3464 §2.3: the per-recipient fields, in its order. */
static void
smtp_bounce_append_recipient_status (GString *out,
                                     const SmtpQueueRecipient *r,
                                     SmtpDsnAction action,
                                     const char *now,
                                     const char *retry_until)
{
  g_autofree char *status = smtp_bounce_status_of (r->reason, action);

  g_string_append (out, "\r\n");
  if (r->dsn.orcpt != NULL) /* RFC 3461 §6.3: ORCPT, decoded */
    g_string_append_printf (out, "Original-Recipient: %s; %s\r\n",
                            r->dsn.orcpt_type, r->dsn.orcpt);
  g_string_append_printf (out,
                          "Final-Recipient: %s; %s\r\n"
                          "Action: %s\r\n"
                          "Status: %s\r\n",
                          smtp_bounce_address_type (r->address), r->address,
                          smtp_bounce_kinds[action].action, status);
  if (r->remote_mta != NULL)
    g_string_append_printf (out, "Remote-MTA: dns; %s\r\n", r->remote_mta);
  smtp_bounce_append_diagnostic (out, r, action);
  g_string_append_printf (out, "Last-Attempt-Date: %s\r\n", now);
  if (action == SMTP_DSN_ACTION_DELAYED)
    g_string_append_printf (out, "Will-Retry-Until: %s\r\n", retry_until);
}

/* The first part, for people. */
static void
smtp_bounce_append_text (GString *out,
                         const char *host,
                         SmtpDsnAction action,
                         GPtrArray *recipients)
{
  g_string_append_printf (out,
                          "This is the mail system at host %s.\r\n\r\n"
                          "%s\r\n\r\n",
                          host, smtp_bounce_kinds[action].text);
  for (guint i = 0; i < recipients->len; i++)
    {
      SmtpQueueRecipient *r = g_ptr_array_index (recipients, i);

      g_string_append_printf (out, "<%s>: %s\r\n", r->address,
                              r->reason ? r->reason : "no reply yet");
    }
}

/* The third part (RFC 6522 §3): the whole message only for a failure
 * with RET=FULL (RFC 3461 §4.3); a success or a delay never needs more
 * than the headers to be recognised. */
static void
smtp_bounce_append_original (GString *out,
                             const SmtpQueueEntry *e,
                             SmtpDsnAction action,
                             const char *data,
                             gsize length)
{
  if (action != SMTP_DSN_ACTION_FAILED || e->ret != SMTP_DSN_RET_FULL)
    {
      g_string_append (out, "Content-Type: text/rfc822-headers\r\n\r\n");
      smtp_bounce_append_headers (out, data, length);
      return;
    }
  g_string_append (out, "Content-Type: message/rfc822\r\n\r\n");
  g_string_append_len (out, data, length);
  if (length < 2 || data[length - 2] != '\r' || data[length - 1] != '\n')
    g_string_append (out, "\r\n");
}

/* A multipart/report (RFC 6522) of report-type delivery-status (RFC 3464)
 * from MAILER-DAEMON about @recipients. */
GString *
smtp_bounce_compose (const char *host,
                     const SmtpQueueEntry *e,
                     SmtpDsnAction action,
                     GPtrArray *recipients,
                     const char *data,
                     gsize length,
                     gint64 retry_until)
{
  g_autofree char *date =
      smtp_bounce_format_date (g_get_real_time () / G_USEC_PER_SEC);
  g_autofree char *arrival = smtp_bounce_format_date (e->arrival);
  g_autofree char *until = smtp_bounce_format_date (retry_until);
  g_autofree char *boundary = g_strdup_printf ("%s/%s", e->id, host);
  GString *out = g_string_new (NULL);

  g_string_append_printf (
      out,
      "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
      "To: <%s>\r\n"
      "Subject: %s\r\n"
      "Date: %s\r\n"
      "Message-ID: <%s.%s@%s>\r\n"
      "Auto-Submitted: auto-replied\r\n" /* RFC 3834 §5 */
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/report; report-type=delivery-status;\r\n"
      "\tboundary=\"%s\"\r\n\r\n"
      "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
      host, e->sender, smtp_bounce_kinds[action].subject, date, e->id,
      smtp_bounce_kinds[action].id_tag, host, boundary, boundary);
  smtp_bounce_append_text (out, host, action, recipients);
  g_string_append_printf (out,
                          "\r\n--%s\r\nContent-Type: message/delivery-status"
                          "\r\n\r\n",
                          boundary);
  /* RFC 3464 §2.2: the per-message fields; RFC 3461 §6.3: ENVID. */
  if (e->envid != NULL)
    g_string_append_printf (out, "Original-Envelope-Id: %s\r\n", e->envid);
  g_string_append_printf (out, "Reporting-MTA: dns; %s\r\nArrival-Date: %s\r\n",
                          host, arrival);
  for (guint i = 0; i < recipients->len; i++)
    smtp_bounce_append_recipient_status (out, g_ptr_array_index (recipients, i),
                                         action, date, until);
  g_string_append_printf (out, "\r\n--%s\r\n", boundary);
  smtp_bounce_append_original (out, e, action, data, length);
  g_string_append_printf (out, "\r\n--%s--\r\n", boundary);
  return out;
}
