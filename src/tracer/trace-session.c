/* SPDX-License-Identifier: MIT
 * trace-session.c: from a connection's byte streams to protocol lines:
 * protocol detection (port, then greeting: RFC 5321 §4.2 "220", RFC 1939
 * §4 "+OK", RFC 9051 §7.1 "* OK"), framing with mail-line, literal and
 * BDAT octets, the STARTTLS switch to TLS records, resynchronisation.
 */
#include "trace-session.h"

#include <string.h>

#include "tls-decrypt.h"
#include "trace-journey.h"
#include "trace-output.h"

/* The tracer frames every protocol with IMAP's generous limit, so lines
 * that break a protocol's own limit are still seen (and linted). */
#define TRACE_MAX_LINE MAIL_LINE_MAX_IMAP

typedef struct
{
  guint16 port;
  TraceProtocol protocol;
  gboolean tls;
} PortRow;

/* RFC 6409 §3.1 (587), RFC 8314 §7.3 (465, 995, 993), RFC 1939 (110),
 * RFC 9051 (143), and mailwire's unprivileged defaults (DESIGN.md). */
static const PortRow trace_ports[] = {
  { 25, TRACE_PROTO_SMTP, FALSE },   { 587, TRACE_PROTO_SMTP, FALSE },
  { 465, TRACE_PROTO_SMTP, TRUE },   { 110, TRACE_PROTO_POP3, FALSE },
  { 995, TRACE_PROTO_POP3, TRUE },   { 143, TRACE_PROTO_IMAP, FALSE },
  { 993, TRACE_PROTO_IMAP, TRUE },   { 2525, TRACE_PROTO_SMTP, FALSE },
  { 2587, TRACE_PROTO_SMTP, FALSE }, { 2465, TRACE_PROTO_SMTP, TRUE },
  { 2110, TRACE_PROTO_POP3, FALSE }, { 2995, TRACE_PROTO_POP3, TRUE },
  { 2143, TRACE_PROTO_IMAP, FALSE }, { 2993, TRACE_PROTO_IMAP, TRUE },
};

TraceProtocol
trace_protocol_for_port (guint16 port, gboolean *out_tls)
{
  *out_tls = FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (trace_ports); i++)
    if (trace_ports[i].port == port)
      {
        *out_tls = trace_ports[i].tls;
        return trace_ports[i].protocol;
      }
  return TRACE_PROTO_UNKNOWN;
}

static const TraceDecoder *
decoder_for (TraceProtocol protocol)
{
  switch (protocol)
    {
    case TRACE_PROTO_SMTP:
      return &trace_decoder_smtp;
    case TRACE_PROTO_POP3:
      return &trace_decoder_pop3;
    case TRACE_PROTO_IMAP:
      return &trace_decoder_imap;
    case TRACE_PROTO_UNKNOWN:
    default:
      return NULL;
    }
}

/* ---- implicit TLS on a port mw-trace does not know ---------------------
 * The first octets 0x16 0x03 (a handshake record, RFC 8446 §5.1) say TLS;
 * which protocol runs inside is known only once it is decrypted (by its
 * greeting). Until then the session is "TLS" and only its records are
 * shown. */

static gpointer
tls_only_new (TraceSession *session)
{
  return NULL;
}

static void
tls_only_free (gpointer state)
{
}

static void
tls_only_finish (TraceSession *session, gpointer state)
{
}

static const TraceDecoder trace_decoder_tls_only = {
  .name = "TLS",
  .json_name = "tls",
  .state_new = tls_only_new,
  .state_free = tls_only_free,
  .finish = tls_only_finish,
};

static gboolean
looks_like_tls (const guint8 *data, gsize length)
{
  return length >= 2 && data[0] == 0x16 && data[1] == 0x03;
}

static void
emit_open (TraceSession *session)
{
  TcpFlow *flow = session->flow;
  TraceEvent *event = trace_event_new (session, -1, "open");
  g_autofree char *client = NULL;
  g_autofree char *server = NULL;

  if (!trace_event_shown (event))
    {
      trace_event_emit (event); /* -q: the addresses would not be shown */
      return;
    }
  client = trace_packet_address_to_string (flow->family, flow->client_address);
  server = trace_packet_address_to_string (flow->family, flow->server_address);
  trace_event_explain (event, "%s connection %s%s%s:%u -> %s%s%s:%u%s%s",
                       session->decoder->name, flow->family == 6 ? "[" : "",
                       client, flow->family == 6 ? "]" : "", flow->client_port,
                       flow->family == 6 ? "[" : "", server,
                       flow->family == 6 ? "]" : "", flow->server_port,
                       session->implicit_tls ? ", implicit TLS" : "",
                       flow->saw_syn ? "" : " (capture began mid-session)");
  trace_event_field (event, "ip.src", client);
  trace_event_field (event, "ip.dst", server);
  trace_event_field_int (event, "tcp.srcport", flow->client_port);
  trace_event_field_int (event, "tcp.dstport", flow->server_port);
  trace_event_field (event, "mw.protocol", session->decoder->json_name);
  trace_event_emit (event);
}

static void
set_protocol (TraceSession *session, TraceProtocol protocol)
{
  session->protocol = protocol;
  session->decoder = protocol == TRACE_PROTO_UNKNOWN ? &trace_decoder_tls_only
                                                     : decoder_for (protocol);
  session->state = session->decoder->state_new (session);

  if (session->options->svg != NULL)
    session->svg = trace_svg_claim (session->options->svg, session);
  emit_open (session);
}

TraceSession *
trace_session_new (TcpFlow *flow, const TraceOptions *options, gint64 time_us)
{
  TraceSession *session = g_new0 (TraceSession, 1);
  gboolean tls = FALSE;
  TraceProtocol protocol = trace_protocol_for_port (flow->server_port, &tls);

  session->flow = flow;
  session->options = options;
  session->now_us = time_us;
  mail_line_framer_init (&session->framer[0], TRACE_MAX_LINE);
  mail_line_framer_init (&session->framer[1], TRACE_MAX_LINE);
  if (protocol != TRACE_PROTO_UNKNOWN)
    {
      session->implicit_tls = tls;
      session->tls = tls;
      set_protocol (session, protocol);
    }
  return session;
}

void
trace_session_free (TraceSession *session)
{
  if (session == NULL)
    return;
  if (session->decoder != NULL)
    session->decoder->state_free (session->state);
  mail_line_framer_clear (&session->framer[0]);
  mail_line_framer_clear (&session->framer[1]);
  g_clear_pointer (&session->tls_half[0], trace_tls_free);
  g_clear_pointer (&session->tls_half[1], trace_tls_free);
  g_clear_pointer (&session->tls_decrypt, tls_decrypt_free);
  g_free (session);
}

double
trace_session_elapsed (TraceSession *session)
{
  return (session->now_us - session->flow->first_us) / 1e6;
}

/* A line that says which protocol this is, when the port did not. */
static TraceProtocol
detect (TraceDirection direction, const char *line)
{
  static const char *const smtp_verbs[] = { "EHLO ", "HELO ",
                                            "MAIL FROM:", "RCPT TO:", NULL };
  static const char *const pop3_verbs[] = { "USER ", "PASS ", "STAT",  "UIDL",
                                            "RETR ", "CAPA",  "APOP ", NULL };

  if (direction == TRACE_SERVER_TO_CLIENT)
    {
      if (g_ascii_isdigit (line[0]) && g_ascii_isdigit (line[1]) &&
          g_ascii_isdigit (line[2]) &&
          (line[3] == ' ' || line[3] == '-' || line[3] == '\0'))
        return TRACE_PROTO_SMTP; /* RFC 5321 §4.2 */
      if (g_str_has_prefix (line, "+OK") || g_str_has_prefix (line, "-ERR"))
        return TRACE_PROTO_POP3; /* RFC 1939 §3 */
      if (g_str_has_prefix (line, "* "))
        return TRACE_PROTO_IMAP; /* RFC 9051 §7 */
      return TRACE_PROTO_UNKNOWN;
    }
  for (gsize i = 0; smtp_verbs[i] != NULL; i++)
    if (g_ascii_strncasecmp (line, smtp_verbs[i], strlen (smtp_verbs[i])) == 0)
      return TRACE_PROTO_SMTP;
  for (gsize i = 0; pop3_verbs[i] != NULL; i++)
    if (g_ascii_strncasecmp (line, pop3_verbs[i], strlen (pop3_verbs[i])) == 0)
      return TRACE_PROTO_POP3;
  return TRACE_PROTO_UNKNOWN;
}

/* Implicit TLS on an unknown port, decrypted: the greeting inside
 * names the protocol, whose decoder takes over from here. */
static void
reveal_protocol (TraceSession *session, TraceProtocol protocol)
{
  TraceEvent *event;

  session->decoder->state_free (session->state);
  session->protocol = protocol;
  session->decoder = decoder_for (protocol);
  session->state = session->decoder->state_new (session);
  session->decoder->tls_readable (session, session->state);
  event = trace_event_new (session, -1, "info");
  trace_event_explain (event, "%s inside TLS (known by its first line)",
                       session->decoder->name);
  trace_event_field (event, "mw.protocol", session->decoder->json_name);
  trace_event_emit (event);
}

/* No line of the three protocols may hold a NUL: SMTP's are ASCII or
 * 8BITMIME text (RFC 5321 §2.4; RFC 6152's 8bit is RFC 2045 §2.8's, with
 * no NUL), POP3's ASCII (RFC 1939 §3), IMAP's CHAR8 (RFC 9051 §9; only a
 * literal8 may). mw-smtpd refuses such a message, mw-pop3d and mw-imapd
 * such a command; the line is shown up to the NUL. */
static void
lint_nul (TraceSession *session, TraceDirection direction, const char *line)
{
  const char *rule = session->protocol == TRACE_PROTO_POP3   ? "RFC 1939 §3"
                     : session->protocol == TRACE_PROTO_IMAP ? "RFC 9051 §9"
                                                             : "RFC 5321 §2.4";

  trace_session_lint (session, direction, rule,
                      "a NUL octet in the line, after %" G_GSIZE_FORMAT
                      " octets (shown up to it)",
                      strlen (line));
}

static void
handle_line (TraceSession *session,
             TraceDirection direction,
             const char *line,
             gsize length,
             MailLineFlags flags)
{
  if (session->protocol == TRACE_PROTO_UNKNOWN)
    {
      TraceProtocol protocol = detect (direction, line);
      if (protocol == TRACE_PROTO_UNKNOWN)
        return; /* not mail (yet): stay quiet */
      if (session->decoder != NULL)
        reveal_protocol (session, protocol);
      else
        set_protocol (session, protocol);
    }
  session->lines[direction]++;
  if ((flags & MAIL_LINE_HAS_NUL) != 0)
    lint_nul (session, direction, line);
  session->decoder->line (session, session->state, direction, line, length,
                          flags);
}

/* Octets owed to the decoder as data (literal, BDAT chunk). */
static gsize
feed_raw (TraceSession *session,
          TraceDirection direction,
          const guint8 *data,
          gsize length)
{
  gsize take = MIN (length, session->raw_remaining[direction]);

  session->raw_remaining[direction] -= take;
  session->decoder->raw (session, session->state, direction, data, take,
                         session->raw_remaining[direction] == 0);
  return take;
}

/* A capture that begins mid-session usually begins at a segment, and
 * segments usually begin lines; these are the shapes of a line start:
 * a reply code (RFC 5321 §4.2), a POP3 status (RFC 1939 §3), an IMAP
 * untagged or continuation response (RFC 9051 §7), a 3-4 letter verb, or
 * an IMAP tag and command. Anything else is the tail of a line. */
static gboolean
looks_like_line_start (const guint8 *data, gsize length)
{
  gsize word = 0;

  if (length >= 4 && g_ascii_isdigit (data[0]) && g_ascii_isdigit (data[1]) &&
      g_ascii_isdigit (data[2]) && (data[3] == ' ' || data[3] == '-'))
    return TRUE;
  if ((length >= 3 && memcmp (data, "+OK", 3) == 0) ||
      (length >= 4 && memcmp (data, "-ERR", 4) == 0) ||
      (length >= 2 && (data[0] == '*' || data[0] == '+') && data[1] == ' '))
    return TRUE;
  while (word < length && g_ascii_isalpha (data[word]))
    word++;
  if ((word == 3 || word == 4) && word < length &&
      (data[word] == ' ' || data[word] == '\r'))
    return TRUE;
  word = 0;
  while (word < length && word < 32 && g_ascii_isalnum (data[word]))
    word++;
  return word > 0 && word + 1 < length && data[word] == ' ' &&
         g_ascii_isalpha (data[word + 1]);
}

/* After a gap or a mid-session start: skip to just past the next LF. */
static gsize
skip_to_line (TraceSession *session,
              TraceDirection direction,
              const guint8 *data,
              gsize length)
{
  const guint8 *lf = memchr (data, '\n', length);
  gsize skipped = lf != NULL ? (gsize) (lf - data) + 1 : length;

  if (lf != NULL)
    {
      TraceEvent *event;

      session->resync[direction] = FALSE;
      if (session->decoder != NULL && skipped > 0)
        {
          event = trace_event_new (session, direction, "info");
          trace_event_explain (event,
                               "resynchronised: skipped %" G_GSIZE_FORMAT
                               " octets to the start of the next line",
                               skipped);
          trace_event_emit (event);
        }
    }
  return skipped;
}

/* TRUE while octets are lines (clear text, or decrypted TLS). */
static gboolean
reading_lines (TraceSession *session)
{
  return !session->tls || session->decrypting;
}

/* Takes every complete line out of the framer; stops early when a line
 * switched the stream to raw octets or to TLS. Each line is handed over
 * where it lies in the framer (a view, not a copy: a malloc () and a
 * free () saved per line). That is safe because nothing pushes into
 * this framer while the decoder handles the line: only frame_line ()
 * pushes, for this direction's octets, which arrive after this line;
 * STARTTLS in a line takes the framer's pending octets, and there are
 * none, since frame_line () pushes one line at a time. */
static void
drain_lines (TraceSession *session, TraceDirection direction)
{
  MailLineFramer *framer = &session->framer[direction];

  for (;;)
    {
      const char *line = NULL;
      gsize length = 0;
      MailLineFlags flags = 0;
      MailLineStatus status;

      if (!reading_lines (session) || session->raw_remaining[direction] > 0)
        return;
      status = mail_line_framer_take_view (framer, &line, &length, &flags);
      if (status == MAIL_LINE_NEED_MORE)
        return;
      if (status == MAIL_LINE_OVERLONG)
        {
          if (session->decoder != NULL)
            trace_session_lint (session, direction, "RFC 5321 §4.5.3.1",
                                "a line longer than %d octets", TRACE_MAX_LINE);
          continue;
        }
      session->in_line[direction] = TRUE;
      handle_line (session, direction, line, length, flags);
      session->in_line[direction] = FALSE;
    }
}

/* Octets already framed but now owed as raw data or TLS. */
static void
drain_framer_pending (TraceSession *session, TraceDirection direction)
{
  MailLineFramer *framer = &session->framer[direction];

  while (mail_line_framer_get_pending (framer) > 0 && reading_lines (session) &&
         session->raw_remaining[direction] > 0)
    {
      gsize take = MIN (mail_line_framer_get_pending (framer),
                        session->raw_remaining[direction]);
      g_autoptr (GBytes) bytes = mail_line_framer_take_bytes (framer, take);
      gsize size = 0;
      const guint8 *data = g_bytes_get_data (bytes, &size);

      feed_raw (session, direction, data, size);
      drain_lines (session, direction);
    }
}

/* Whole lines the decoder takes itself (TraceDecoder.scan), when the
 * framer holds no part of a line: message text nobody prints need not be
 * framed line by line. */
static gsize
scan_lines (TraceSession *session,
            TraceDirection direction,
            const guint8 *data,
            gsize length)
{
  if (session->decoder == NULL || session->decoder->scan == NULL ||
      mail_line_framer_get_pending (&session->framer[direction]) > 0)
    return 0;
  return session->decoder->scan (session, session->state, direction, data,
                                 length);
}

/* One line at a time into the framer, so a line that starts raw octets
 * or TLS stops the framing right behind it. */
static gsize
frame_line (TraceSession *session,
            TraceDirection direction,
            const guint8 *data,
            gsize length)
{
  const guint8 *lf = memchr (data, '\n', length);
  gsize used = lf != NULL ? (gsize) (lf - data) + 1 : length;

  /* a push now would move the line drain_lines () is handing over */
  g_return_val_if_fail (!session->in_line[direction], length);
  mail_line_framer_push (&session->framer[direction], data, used);
  drain_lines (session, direction);
  drain_framer_pending (session, direction);
  return used;
}

/* Clear-text octets (or decrypted ones): lines, raw data, resync. */
static void
feed_clear (TraceSession *session,
            TraceDirection direction,
            const guint8 *data,
            gsize length)
{
  for (guint rounds = 0; length > 0 && rounds < 1000000; rounds++)
    {
      gsize used;

      if (!reading_lines (session))
        {
          if (session->tls_half[direction] == NULL)
            session->tls_half[direction] = trace_tls_new ();
          trace_tls_data (session, direction, data, length);
          return;
        }
      if (session->raw_remaining[direction] > 0 && session->decoder != NULL)
        used = feed_raw (session, direction, data, length);
      else if (session->resync[direction])
        used = skip_to_line (session, direction, data, length);
      else
        {
          used = scan_lines (session, direction, data, length);
          if (used == 0)
            used = frame_line (session, direction, data, length);
        }
      data += used;
      length -= used;
    }
}

void
trace_session_data (TraceSession *session,
                    TraceDirection direction,
                    const guint8 *data,
                    gsize length,
                    gint64 time_us)
{
  session->now_us = time_us;
  session->octets[direction] += length;
  if (!session->started[direction])
    {
      session->started[direction] = TRUE;
      if (session->decoder == NULL && !session->started[!direction] &&
          direction == TRACE_CLIENT_TO_SERVER && looks_like_tls (data, length))
        {
          session->tls = session->implicit_tls = TRUE;
          set_protocol (session, TRACE_PROTO_UNKNOWN);
        }
      /* A capture that began mid-session may begin mid-line. */
      if (session->flow->half[direction].midstream && !session->tls &&
          !looks_like_line_start (data, length))
        session->resync[direction] = TRUE;
    }
  feed_clear (session, direction, data, length);
}

void
trace_session_plaintext (TraceSession *session,
                         TraceDirection direction,
                         const guint8 *data,
                         gsize length)
{
  if (!session->decrypted)
    {
      session->decrypted = TRUE;
      if (session->decoder->tls_readable != NULL)
        session->decoder->tls_readable (session, session->state);
    }
  feed_clear (session, direction, data, length);
}

void
trace_session_gap (TraceSession *session,
                   TraceDirection direction,
                   guint64 missing,
                   gint64 time_us)
{
  TraceEvent *event;

  session->now_us = time_us;
  if (session->decoder == NULL)
    return;
  event = trace_event_new (session, direction, "gap");
  trace_event_explain (event,
                       "%" G_GUINT64_FORMAT
                       " bytes missing from the capture (lost or not "
                       "captured)",
                       missing);
  trace_event_tone (event, TRACE_TONE_WARNING);
  trace_event_field_int (event, "mw.missing", (gint64) missing);
  trace_event_emit (event);
  if (session->decoder->gap != NULL)
    session->decoder->gap (session, session->state, direction, missing);
  if (session->tls)
    {
      trace_tls_gap (session, direction, missing);
      if (!session->decrypted)
        return;
      /* The decrypted text lost an unknown number of octets. */
      session->raw_remaining[direction] = 0;
      mail_line_framer_clear (&session->framer[direction]);
      mail_line_framer_init (&session->framer[direction], TRACE_MAX_LINE);
      session->resync[direction] = TRUE;
      return;
    }
  if (session->raw_remaining[direction] > missing)
    {
      /* Inside a literal or chunk: the line structure is intact. */
      session->raw_remaining[direction] -= missing;
      return;
    }
  session->raw_remaining[direction] = 0;
  /* A gap after a whole line most likely lost whole lines (segments
   * carry whole commands), so the next octet starts a line; a gap in
   * the middle of a line leaves only its tail, skipped to the next LF. */
  if (mail_line_framer_get_pending (&session->framer[direction]) == 0)
    return;
  mail_line_framer_clear (&session->framer[direction]);
  mail_line_framer_init (&session->framer[direction], TRACE_MAX_LINE);
  session->resync[direction] = TRUE;
}

void
trace_session_close (TraceSession *session, TcpFlowEnd how, gint64 time_us)
{
  TraceEvent *event;
  static const char *const ends[] = { "closed (FIN both ways)", "reset (RST)",
                                      "still open when the capture ended" };

  session->now_us = time_us;
  session->end = how;
  if (session->decoder == NULL)
    return;
  for (int d = 0; d < 2; d++)
    {
      gsize left = mail_line_framer_get_pending (&session->framer[d]);
      if (left > 0 && (!session->tls || session->decrypted))
        trace_session_lint (
            session, d, "RFC 5321 §2.3.8",
            "%" G_GSIZE_FORMAT " octets at the end without a line end", left);
      if (session->tls)
        trace_tls_finish (session, d);
    }
  session->decoder->finish (session, session->state);
  trace_journey_session_closed (session);
  event = trace_event_new (session, -1, "close");
  trace_event_explain (event, "connection %s after %.3f s", ends[how],
                       trace_session_elapsed (session));
  if (session->flow->retransmissions > 0 || session->flow->out_of_order > 0)
    trace_event_explain (event, "%u retransmitted and %u out-of-order segments",
                         session->flow->retransmissions,
                         session->flow->out_of_order);
  trace_event_field_int (event, "mw.duration_us",
                         session->now_us - session->flow->first_us);
  trace_event_emit (event);
}

void
trace_session_expect_raw (TraceSession *session,
                          TraceDirection direction,
                          guint64 length)
{
  session->raw_remaining[direction] = length;
}

gsize
trace_session_pending (TraceSession *session, TraceDirection direction)
{
  return mail_line_framer_get_pending (&session->framer[direction]);
}

void
trace_session_start_tls (TraceSession *session)
{
  if (session->tls)
    return; /* a STARTTLS inside TLS (decrypted) starts nothing new */
  session->tls = TRUE;
  for (int d = 0; d < 2; d++)
    {
      MailLineFramer *framer = &session->framer[d];
      gsize pending = mail_line_framer_get_pending (framer);
      g_autoptr (GBytes) bytes = NULL;
      const guint8 *data;

      if (session->tls_half[d] == NULL)
        session->tls_half[d] = trace_tls_new ();
      if (pending == 0)
        continue;
      bytes = mail_line_framer_take_bytes (framer, pending);
      data = g_bytes_get_data (bytes, NULL);
      if (data[0] != 0x16) /* not a TLS handshake record */
        trace_session_lint (session, d, "RFC 3207 §4",
                            "%" G_GSIZE_FORMAT " octets of plaintext sent "
                            "after STARTTLS, before the TLS handshake "
                            "(command injection, CVE-2011-0411)",
                            pending);
      trace_tls_data (session, d, data, pending);
    }
}
