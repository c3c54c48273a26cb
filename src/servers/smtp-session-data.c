/* SPDX-License-Identifier: MIT
 * smtp-session-data.c: DATA for the SMTP server session: reading the text
 * (RFC 5321 §4.1.1.4, §4.5.2; RFC 1870 SIZE while reading), the trace
 * fields (§4.4; RFC 3848), refusing smuggling-prone text, and durable,
 * all-or-nothing delivery (§6.1) to Maildirs and the queue.
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "mail-store.h"
#include "mail-tls.h"
#include "smtp-session-private.h"

/* ---- DATA ---------------------------------------------------------------- */

/* RFC 5322 §3.3 date-time, in English whatever the locale. */
static char *
smtp_format_date (GDateTime *now)
{
  static const char *const days[] = { "Mon", "Tue", "Wed", "Thu",
                                      "Fri", "Sat", "Sun" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
                                        "May", "Jun", "Jul", "Aug",
                                        "Sep", "Oct", "Nov", "Dec" };
  g_autofree char *zone = g_date_time_format (now, "%z");
  g_autofree char *clock = g_date_time_format (now, "%H:%M:%S");

  return g_strdup_printf ("%s, %d %s %d %s %s",
                          days[g_date_time_get_day_of_week (now) - 1],
                          g_date_time_get_day_of_month (now),
                          months[g_date_time_get_month (now) - 1],
                          g_date_time_get_year (now), clock, zone);
}

/* RFC 3848 §1 and RFC 6531 §4.3: the "with" protocol names. */
static const char *
smtp_session_protocol_name (SmtpSession *session)
{
  static const char *const utf8[] = { "UTF8SMTP", "UTF8SMTPA", "UTF8SMTPS",
                                      "UTF8SMTPSA" };

  if (!session->flags.esmtp)
    return "SMTP";
  if (session->transaction.utf8)
    return utf8[(session->flags.tls ? 2 : 0) +
                (session->flags.authenticated ? 1 : 0)];
  if (session->flags.tls && session->flags.authenticated)
    return "ESMTPSA";
  if (session->flags.tls)
    return "ESMTPS";
  if (session->flags.authenticated)
    return "ESMTPA";
  return "ESMTP";
}

/* RFC 5321 §4.4: the time stamp line every SMTP server adds at the top.
 * Return-Path goes before it, for final delivery only (see
 * smtp_session_store ()). */
static void
smtp_session_add_trace_headers (SmtpSession *session,
                                GString *out,
                                const char *id)
{
  SmtpTransaction *transaction = &session->transaction;
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *date = smtp_format_date (now);
  g_autofree char *tls = NULL;

  g_string_append_printf (out,
                          "Received: from %s ([%s])\r\n\tby %s "
                          "(mailwire) with %s id %s",
                          session->helo, session->peer_ip,
                          session->config->hostname,
                          smtp_session_protocol_name (session), id);
  if (session->flags.tls)
    {
      /* A comment (RFC 5322 §3.2.2), as Postfix and Exim write it. */
      tls = mail_tls_describe (mail_stream_get_io (session->stream));
      g_string_append_printf (out, "\r\n\t(%s)", tls);
    }
  /* "for" only with one recipient: more would show each recipient the
   * others, including Bcc ones (RFC 5321 §7.2). */
  if (transaction->recipients->len == 1)
    g_string_append_printf (
        out, "\r\n\tfor <%s>",
        (char *) g_ptr_array_index (transaction->recipients, 0));
  g_string_append_printf (out, "; %s\r\n", date);
}

/* Removes the copies already delivered when a later step failed, so a
 * message is either everywhere or nowhere. */
static void
smtp_session_undeliver (GPtrArray *delivered)
{
  for (guint i = 0; i < delivered->len; i++)
    {
      const char *path = g_ptr_array_index (delivered, i);
      g_autofree char *directory = g_path_get_dirname (path);

      if (g_unlink (path) != 0)
        g_warning ("cannot remove %s: %s", path, g_strerror (errno));
      mail_fsync_directory (directory, NULL);
    }
}

/* Durable before yes (RFC 5321 §6.1): every local copy is fsynced
 * (mail_spool_deliver ()) and remote recipients are in the queue before
 * this returns TRUE. The spool starts with the Return-Path line, which
 * only final delivery keeps (RFC 5321 §4.4): a relay must not add it, so
 * the queued copy starts @relay_offset octets in, and the next hop adds
 * its own. */
static gboolean
smtp_session_store (SmtpSession *session,
                    MailSpool *spool,
                    gsize relay_offset,
                    GError **error)
{
  SmtpTransaction *transaction = &session->transaction;
  g_autoptr (GPtrArray) delivered = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GBytes) queued = NULL;
  SmtpContext *context = session->context;
  GPtrArray *maildirs = transaction->local_maildirs;

  if (maildirs->len > 0)
    {
      g_autofree const char **list = g_new0 (const char *, maildirs->len + 1);

      memcpy (list, maildirs->pdata, maildirs->len * sizeof (char *));
      if (!mail_spool_deliver (spool, list, delivered, error))
        return FALSE;
    }
  /* The queue comes last: a queued message cannot be taken back. It takes
   * the message in memory, so it is read back from the delivered file. */
  if (transaction->remote_recipients->len > 0)
    {
      queued = mail_spool_read (spool, relay_offset, error);
      g_ptr_array_add (transaction->remote_recipients, NULL);
      if (queued == NULL ||
          !context->enqueue (
              context->enqueue_data, transaction->reverse_path,
              (const char *const *) transaction->remote_recipients->pdata,
              g_bytes_get_data (queued, NULL), g_bytes_get_size (queued),
              transaction->utf8 ? SMTP_ENQUEUE_SMTPUTF8 : SMTP_ENQUEUE_NONE,
              &transaction->dsn, NULL, error))
        {
          smtp_session_undeliver (delivered);
          return FALSE;
        }
    }
  return TRUE;
}

void
smtp_session_reply_not_stored (SmtpSession *session,
                               const char *id,
                               const GError *error)
{
  gboolean full =
      g_error_matches (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_NO_SPACE);

  g_warning ("%s: message %s not stored: %s", session->peer, id,
             error->message);
  smtp_reply (session,
              full ? SMTP_REPLY_INSUFFICIENT_STORAGE : SMTP_REPLY_LOCAL_ERROR,
              full ? SMTP_ENHANCED_SYSTEM_FULL : SMTP_ENHANCED_SYSTEM_ERROR,
              "message not stored, try again later");
}

/* Answers the end of DATA (or BDAT LAST) once the text has been read to
 * its real end. */
void
smtp_session_finish_message (SmtpSession *session,
                             MailSpool *spool,
                             gsize relay_offset,
                             MailLineFlags seen,
                             const char *id,
                             const char *how)
{
  g_autoptr (GError) error = NULL;

  /* SMTP smuggling (CVE-2023-51764 family): a bare LF or CR lets a
   * sender hide "<LF>.<LF>" in a message that a next hop with a laxer
   * idea of the end of DATA would split into a second, forged message.
   * Like Postfix's smtpd_forbid_bare_newline we refuse such a message
   * outright instead of repairing it, and a NUL too (RFC 5321 §4.5.2
   * text is US-ASCII or 8BITMIME text, never NUL). 554 5.6.0: the
   * transaction failed because of the content; as the text was read to
   * the real CRLF.CRLF, the session stays in step and goes on. What was
   * written of it goes with the spool. */
  if (seen & (MAIL_LINE_BARE_LF | MAIL_LINE_BARE_CR | MAIL_LINE_HAS_NUL))
    {
      smtp_reply (session, SMTP_REPLY_TRANSACTION_FAILED,
                  SMTP_ENHANCED_BAD_CONTENT,
                  "message refused: bare LF, bare CR or NUL in the text; "
                  "lines must end in CRLF (RFC 5321 §2.3.8)");
      return;
    }
  if (!smtp_session_store (session, spool, relay_offset, &error))
    {
      smtp_session_reply_not_stored (session, id, error);
      return;
    }
  g_message ("%s: message %s from <%s> accepted for %u recipient(s)",
             session->peer, id, session->transaction.reverse_path,
             session->transaction.recipients->len);
  smtp_reply (session, SMTP_REPLY_OK, SMTP_ENHANCED_OK,
              "message %s accepted%s%s", id, how != NULL ? " " : "",
              how != NULL ? how : "");
}

/* A failed read of the text: reply if the session can go on. */
static void
smtp_session_data_failed (SmtpSession *session, const GError *error)
{
  if (g_error_matches (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_TOO_BIG))
    {
      /* RFC 1870 §6: the text was read to its end, nothing was kept. */
      smtp_reply (session, SMTP_REPLY_EXCEEDED_STORAGE,
                  SMTP_ENHANCED_MESSAGE_TOO_BIG,
                  "message exceeds the limit of %" G_GUINT64_FORMAT " octets",
                  session->config->smtp_max_size);
      return;
    }
  if (g_error_matches (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_TOO_LONG))
    /* One line longer than the whole size limit: the message is too big
     * anyway, and we can no longer find the end of the text safely, so
     * refuse it and hang up rather than read its rest as commands. */
    smtp_reply (session, SMTP_REPLY_EXCEEDED_STORAGE,
                SMTP_ENHANCED_MESSAGE_TOO_BIG,
                "line in message text too long; closing connection");
  else
    g_message ("%s: connection lost during DATA: %s", session->peer,
               error->message);
  smtp_session_enter_state (session, SMTP_STATE_CLOSED);
}

MailSpool *
smtp_session_begin_message (SmtpSession *session,
                            char **out_id,
                            gsize *out_relay_offset,
                            GError **error)
{
  GPtrArray *maildirs = session->transaction.local_maildirs;
  g_autoptr (GString) head = g_string_new (NULL);
  g_autofree char *id =
      g_strdup_printf ("%08X%08X", g_random_int (), g_random_int ());
  /* the file goes where its first copy will be, so that copy is a rename */
  MailSpool *spool = mail_spool_new (
      maildirs->len > 0 ? g_ptr_array_index (maildirs, 0) : NULL, error);

  if (spool == NULL)
    return NULL;
  g_string_append_printf (head, "Return-Path: <%s>\r\n",
                          session->transaction.reverse_path);
  *out_relay_offset = head->len;
  smtp_session_add_trace_headers (session, head, id);
  mail_spool_write (spool, head->str, head->len);
  *out_id = g_steal_pointer (&id);
  return spool;
}

/* DATA's lines, each with its line end, go to the spool as they are read
 * (mail_stream_read_dot_text_to ()). */
static void
smtp_data_write_line (const char *line, gsize length, gpointer spool)
{
  mail_spool_write (spool, line, length);
}

void
smtp_cmd_data (SmtpSession *session, const char *arguments)
{
  g_autoptr (MailSpool) spool = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  MailLineFlags seen = MAIL_LINE_CRLF;
  gsize relay_offset;

  if (arguments[0] != '\0')
    {
      smtp_reply (session, SMTP_REPLY_PARAMETER_SYNTAX_ERROR,
                  SMTP_ENHANCED_INVALID_ARGUMENTS, "DATA takes no argument");
      return;
    }
  /* Before the 354: a disk too full for even an empty file is said now
   * (RFC 5321 §4.3.2 allows 451 and 452 to DATA), not after the text. */
  spool = smtp_session_begin_message (session, &id, &relay_offset, &error);
  if (spool == NULL)
    {
      smtp_session_reply_not_stored (session, "(not begun)", error);
      smtp_session_reset (session);
      return;
    }
  smtp_reply (session, SMTP_REPLY_START_MAIL_INPUT, NULL,
              "start mail input; end with <CRLF>.<CRLF>");
  /* [faults] may have hung up instead (text sent before the 354): then
   * nothing of what came is read, and nothing stored (the spool's file
   * goes with it) */
  if (session->state == SMTP_STATE_CLOSED)
    return;
  smtp_session_enter_state (session, SMTP_STATE_DATA);
  /* Written to disk while read, so no session holds a whole message.
   * SIZE is enforced while reading (RFC 1870 §6): past the limit the rest
   * is read and dropped, and so is the spool. */
  if (!mail_stream_read_dot_text_to (session->stream, smtp_data_write_line,
                                     spool, session->config->smtp_max_size,
                                     &seen, NULL, &error))
    smtp_session_data_failed (session, error);
  else
    smtp_session_finish_message (session, spool, relay_offset, seen, id, NULL);
  if (session->state != SMTP_STATE_CLOSED)
    smtp_session_reset (session);
}
