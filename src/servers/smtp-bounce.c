/* SPDX-License-Identifier: MIT
 * smtp-bounce.c: the delivery status notification the queue sends back
 * when it gives up on recipients (RFC 3464 delivery-status inside an
 * RFC 6522 multipart/report; RFC 3834 Auto-Submitted).
 */
#include "smtp-bounce.h"

#include <string.h>

#include "smtp-proto.h"

#define SMTP_BOUNCE_MAX_HEADERS 65536 /* of the original, returned */

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
 * class alone ("5.0.0"). */
static char *
smtp_bounce_status_of (const char *reason)
{
  guint code = 0;
  gboolean last = FALSE;
  const char *text = NULL;
  char *enhanced = NULL;
  const char *rest = NULL;

  if (reason != NULL &&
      smtp_proto_parse_reply_line (reason, &code, &last, &text) &&
      smtp_proto_split_enhanced (text, &enhanced, &rest))
    return enhanced;
  /* Our own reasons start with the enhanced code ("4.4.7 expired"). */
  if (reason != NULL && smtp_proto_split_enhanced (reason, &enhanced, &rest))
    return enhanced;
  return g_strdup (smtp_reply_is_transient (code) ? "4.0.0" : "5.0.0");
}

static void
smtp_bounce_append_recipient_status (GString *out, const SmtpQueueRecipient *r)
{
  g_autofree char *status = smtp_bounce_status_of (r->reason);
  g_autofree char *diagnostic = g_strdup (r->reason ? r->reason : "");

  g_strdelimit (diagnostic, "\r\n", ' ');
  /* RFC 3464 §2.3: per-recipient fields. */
  g_string_append_printf (out,
                          "\r\nFinal-Recipient: rfc822; %s\r\n"
                          "Action: failed\r\n"
                          "Status: %s\r\n"
                          "Diagnostic-Code: smtp; %s\r\n",
                          r->address, status, diagnostic);
}

/* A multipart/report (RFC 6522) of report-type delivery-status (RFC 3464)
 * from MAILER-DAEMON, listing the recipients in @failed. */
GString *
smtp_bounce_compose (const char *host,
                     const SmtpQueueEntry *e,
                     GPtrArray *failed,
                     const char *data,
                     gsize length)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autoptr (GDateTime) arrived = g_date_time_new_from_unix_local (e->arrival);
  g_autofree char *date = g_date_time_format (now, "%a, %d %b %Y %T %z");
  g_autofree char *arrival = g_date_time_format (arrived, "%a, %d %b %Y %T %z");
  g_autofree char *boundary = g_strdup_printf ("%s/%s", e->id, host);
  GString *out = g_string_new (NULL);

  g_string_append_printf (
      out,
      "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
      "To: <%s>\r\n"
      "Subject: Undelivered Mail Returned to Sender\r\n"
      "Date: %s\r\n"
      "Message-ID: <%s.bounce@%s>\r\n"
      "Auto-Submitted: auto-replied\r\n" /* RFC 3834 §5 */
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/report; report-type=delivery-status;\r\n"
      "\tboundary=\"%s\"\r\n\r\n"
      "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
      "This is the mail system at host %s.\r\n\r\n"
      "Your message could not be delivered to one or more recipients.\r\n\r\n",
      host, e->sender, date, e->id, host, boundary, boundary, host);
  for (guint i = 0; i < failed->len; i++)
    {
      SmtpQueueRecipient *r = g_ptr_array_index (failed, i);

      g_string_append_printf (out, "<%s>: %s\r\n", r->address,
                              r->reason ? r->reason : "failed");
    }
  g_string_append_printf (out,
                          "\r\n--%s\r\nContent-Type: message/delivery-status"
                          "\r\n\r\nReporting-MTA: dns; %s\r\n"
                          "Arrival-Date: %s\r\n",
                          boundary, host, arrival);
  for (guint i = 0; i < failed->len; i++)
    smtp_bounce_append_recipient_status (out, g_ptr_array_index (failed, i));
  g_string_append_printf (
      out, "\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary);
  smtp_bounce_append_headers (out, data, length);
  g_string_append_printf (out, "\r\n--%s--\r\n", boundary);
  return out;
}
