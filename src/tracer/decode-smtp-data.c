/* SPDX-License-Identifier: MIT
 * decode-smtp-data.c: the message text of an SMTP session as the tracer
 * sees it (RFC 5321 §4.1.1.4 DATA, §4.5.2 dot-stuffing, §2.3.8 line
 * ends): each text line, the end of the data, and the lint for what only
 * looks like the end (SMTP smuggling, CVE-2023-51764). The rest of SMTP
 * is in decode-smtp.c.
 */
#include <string.h>

#include "decode-smtp-private.h"

/* ---- message text (RFC 5321 §4.1.1.4, §4.5.2) -------------------------- */

void
smtp_trace_data_end (TraceSession *session, SmtpTrace *smtp, const char *how)
{
  TraceEvent *event = trace_event_new (session, TRACE_CLIENT_TO_SERVER, "data");

  trace_event_text (event, how);
  trace_event_explain (event, "end of the message text");
  trace_message_describe (smtp->message, event);
  trace_event_rfc (event, "RFC 5321 §4.1.1.4");
  trace_event_emit (event);
  if (smtp->bare_line_ends > 0)
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 5321 §2.3.8",
                        "%u lines of the message end in a bare LF or hold a "
                        "bare CR",
                        smtp->bare_line_ends);
  smtp->bare_line_ends = 0;
  smtp->state = SMTP_TRACE_COMMANDS;
  /* the client's transaction is over: RFC 2920 §3.1 lets it send the
   * next MAIL right behind the "." */
  smtp->mail_sent = FALSE;
  smtp_trace_push_pending (smtp, ".", NULL);
}

/* --body: one text line as sent, stuffed dot and all; mw.text is the
 * line the message holds (RFC 5321 §4.5.2). */
static void
text_line_event (TraceSession *session, const char *line)
{
  TraceEvent *event = trace_event_new (session, TRACE_CLIENT_TO_SERVER, "data");
  const char *text = line[0] == '.' ? line + 1 : line;

  trace_event_text (event, line);
  if (text != line)
    {
      trace_event_explain (event, "a stuffed dot: the text line is \"%s\"",
                           text);
      trace_event_rfc (event, "RFC 5321 §4.5.2");
    }
  trace_event_field (event, "mw.text", text);
  trace_event_emit (event);
}

/* @line as sent, with CR, LF and other control octets as C escapes and
 * @end (already escaped, or NULL) after it; at most SMTP_TRACE_MAX_SHOWN
 * octets of the line (transfer full). */
static char *
escape_line (const char *line, gsize length, const char *end)
{
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < MIN (length, SMTP_TRACE_MAX_SHOWN); i++)
    {
      guchar c = (guchar) line[i];
      if (c == '\r')
        g_string_append (out, "\\r");
      else if (c == '\n')
        g_string_append (out, "\\n");
      else if (c == '\\' || c == '"')
        g_string_append_printf (out, "\\%c", c);
      else if (c < 0x20 || c == 0x7f)
        g_string_append_printf (out, "\\x%02x", c);
      else
        g_string_append_c (out, (char) c);
    }
  if (length > SMTP_TRACE_MAX_SHOWN)
    g_string_append (out, "...");
  if (end != NULL)
    g_string_append (out, end);
  return g_string_free (out, FALSE);
}

/* Finds a "." that stands between two line ends, each a bare CR, a bare
 * LF or CRLF, but not CRLF on both sides: where a server lenient about
 * line ends stops reading the text. @previous_crlf: the line before
 * ended in CRLF; @crlf: this one does. Sets *out_look_alike to the
 * sequence, escaped ("\r\n.\r"); FALSE if @line holds none. */
static gboolean
find_end_look_alike (const char *line,
                     gsize length,
                     gboolean previous_crlf,
                     gboolean crlf,
                     char **out_look_alike)
{
  for (gsize i = 0; i < length; i++)
    {
      const char *before;
      const char *after;
      /* a CR inside a line is a bare CR: the framer took CRLF off */
      if (line[i] != '.' || (i > 0 && line[i - 1] != '\r') ||
          (i + 1 < length && line[i + 1] != '\r'))
        continue;
      before = i > 0 ? "\\r" : previous_crlf ? "\\r\\n" : "\\n";
      after = i + 1 < length ? "\\r" : crlf ? "\\r\\n" : "\\n";
      if (strcmp (before, "\\r\\n") == 0 && strcmp (after, "\\r\\n") == 0)
        continue; /* CRLF . CRLF: the end itself, never inside a line */
      *out_look_alike = g_strconcat (before, ".", after, NULL);
      return TRUE;
    }
  return FALSE;
}

/* CVE-2023-51764: servers that end the data at a look-alike and those
 * that do not see two different mail streams; mailwire's reader, as the
 * RFC, ends it at CRLF . CRLF only. */
static gboolean
lint_end_look_alike (TraceSession *session,
                     SmtpTrace *smtp,
                     const char *line,
                     gsize length,
                     gboolean crlf)
{
  g_autofree char *look_alike = NULL;
  g_autofree char *shown = NULL;

  if (!find_end_look_alike (line, length, smtp->previous_crlf, crlf,
                            &look_alike))
    return FALSE;
  shown = escape_line (line, length, crlf ? "\\r\\n" : "\\n");
  trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 5321 §4.1.1.4",
                      "end-of-data look-alike \"%s\": only CRLF . CRLF ends "
                      "the data (SMTP smuggling, CVE-2023-51764); the line "
                      "as sent: \"%s\"",
                      look_alike, shown);
  return TRUE;
}

void
smtp_trace_data_line (TraceSession *session,
                      SmtpTrace *smtp,
                      const char *line,
                      gsize length,
                      MailLineFlags flags)
{
  /* how the line ended; a bare CR inside it does not move the end */
  gboolean crlf = (flags & MAIL_LINE_BARE_LF) == 0;

  if (length == 1 && line[0] == '.' && crlf && smtp->previous_crlf)
    {
      smtp_trace_data_end (session, smtp, ".");
      return;
    }
  if (!lint_end_look_alike (session, smtp, line, length, crlf) &&
      line[0] == '.' && line[1] != '.')
    {
      g_autofree char *shown = escape_line (line, length, NULL);
      trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 5321 §4.5.2",
                          "line starts with one \".\": the server drops it; "
                          "the client forgot to dot-stuff \"%s\"",
                          shown);
    }
  if ((flags & (MAIL_LINE_BARE_LF | MAIL_LINE_BARE_CR)) != 0)
    smtp->bare_line_ends++;
  smtp->previous_crlf = crlf;
  if (session->options->body)
    text_line_event (session, line);
  if (line[0] == '.') /* RFC 5321 §4.5.2: the message holds it un-stuffed */
    trace_message_feed_line (smtp->message, line + 1, length - 1);
  else
    trace_message_feed_line (smtp->message, line, length);
}

/* TraceDecoder.scan: without --body no text line is an event, so the
 * plain ones (decode-text.h) are read here straight from the segment,
 * for the message's summary only, exactly as smtp_trace_data_line ()
 * reads them; the others are left to it. */
gsize
smtp_trace_scan (TraceSession *session,
                 gpointer state,
                 TraceDirection direction,
                 const guint8 *data,
                 gsize length)
{
  SmtpTrace *smtp = state;
  guint lines = 0;
  gsize used;

  if (direction != TRACE_CLIENT_TO_SERVER || smtp->state != SMTP_TRACE_DATA ||
      session->options->body)
    return 0;
  used = trace_message_feed_text (smtp->message, data, length, &lines);
  session->lines[direction] += lines;
  if (used > 0)
    smtp->previous_crlf = TRUE;
  return used;
}
