/* SPDX-License-Identifier: MIT
 * trace-svg.c: sessions as an SVG sequence diagram (--svg FILE), for
 * slides and print; this part collects what is drawn. Every mail session
 * of the capture is drawn on one timeline (or those --session names), one
 * arrow per line on the wire, the catalog's meaning and RFC section under
 * each. Push (SMTP) and pull (POP3, IMAP) are told apart; what a server
 * sends unasked (during IDLE, RFC 9051 §6.3.13, or any untagged response
 * no command asked for, §7) is marked; STARTTLS (RFC 3207 §4, RFC 2595
 * §4, RFC 9051 §6.2.1) starts a TLS section, encrypted or, with
 * --keylog, decrypted; lint findings sit on the line they are about.
 * --svg-compact folds multi-line replies, listings and TLS records into
 * one arrow each. With --body, a message line that is only "." but did
 * not end the text (an end-of-data look-alike, SMTP smuggling, RFC 5321
 * §4.1.1.4) is marked. Bounded to TRACE_SVG_MAX rows. The lanes and rows
 * are placed by trace-svg-layout.c and drawn by trace-svg-write.c.
 */
#include <stdio.h>
#include <string.h>

#include "trace-packet.h"
#include "trace-svg-private.h"

static void
svg_session_free (gpointer data)
{
  TraceSvgSession *session = data;

  g_free (session->label);
  g_free (session->client_port_name);
  g_free (session->client_host);
  g_free (session->server_key);
  g_free (session->user);
  g_free (session->helo);
  g_free (session->greeting_host);
  g_free (session->pending_lint);
  g_hash_table_unref (session->open_tags);
  g_free (session);
}

static void
svg_row_clear (gpointer data)
{
  SvgRow *row = data;

  g_free (row->text);
  g_free (row->meaning);
  g_free (row->lint);
}

TraceSvg *
trace_svg_new (const TraceSvgOptions *options)
{
  TraceSvg *svg = g_new0 (TraceSvg, 1);

  svg->options = *options;
  /* a slide has no room for every line of a listing */
  if (options->size == TRACE_SVG_SIZE_SLIDE ||
      (options->size == TRACE_SVG_SIZE_AUTO && options->n_streams == 0))
    svg->options.compact = TRUE;
  svg->sessions = g_ptr_array_new_with_free_func (svg_session_free);
  svg->to_direction = -1;
  svg->rows = g_array_new (FALSE, TRUE, sizeof (SvgRow));
  g_array_set_clear_func (svg->rows, svg_row_clear);
  return svg;
}

void
trace_svg_free (TraceSvg *svg)
{
  if (svg == NULL)
    return;
  g_array_unref (svg->rows);
  g_ptr_array_unref (svg->sessions);
  g_free (svg);
}

/* The place of @stream in --session, or -1 when it is not drawn; without
 * --session every session is, in the order they begin. */
static int
selection_index (TraceSvg *svg, guint stream)
{
  if (svg->options.n_streams == 0)
    return (int) svg->sessions->len;
  for (guint i = 0; i < svg->options.n_streams; i++)
    if (svg->options.streams[i] == stream)
      return (int) i;
  return -1;
}

static gboolean
is_loopback (int family, const guint8 *address)
{
  static const guint8 loopback6[16] = { [15] = 1 };

  return family == 4 ? address[0] == 127
                     : memcmp (address, loopback6, sizeof loopback6) == 0;
}

TraceSvgSession *
trace_svg_claim (TraceSvg *svg, TraceSession *session)
{
  TcpFlow *flow = session->flow;
  int index = selection_index (svg, flow->id);
  g_autofree char *server = NULL;
  TraceSvgSession *lane;

  if (index < 0 || svg->sessions->len >= TRACE_SVG_MAX_SESSIONS)
    return NULL;
  lane = g_new0 (TraceSvgSession, 1);
  server = trace_packet_address_to_string (flow->family, flow->server_address);
  svg->journeys = session->options->journeys;
  lane->stream = flow->id;
  lane->order = index;
  lane->protocol = session->decoder->name;
  lane->push = session->protocol == TRACE_PROTO_SMTP;
  lane->implicit_tls = session->implicit_tls;
  lane->first_us = flow->first_us;
  lane->server_key = g_strdup_printf ("%s:%u", server, flow->server_port);
  lane->server_port = flow->server_port;
  lane->client_host =
      trace_packet_address_to_string (flow->family, flow->client_address);
  lane->client_loopback = is_loopback (flow->family, flow->client_address);
  lane->client_port_name = g_strdup_printf ("client :%u", flow->client_port);
  lane->open_tags =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (svg->options.labels != NULL &&
      (guint) index < g_strv_length (svg->options.labels))
    lane->label = g_strdup (svg->options.labels[index]);
  g_ptr_array_add (svg->sessions, lane);
  return lane;
}

/* ---- what the lines say about the endpoints ------------------------ */

/* The first word of @text after @prefix (matched without case), or
 * NULL. */
static char *
word_after (const char *text, const char *prefix)
{
  gsize length = strlen (prefix);
  const char *p = text + length;

  if (g_ascii_strncasecmp (text, prefix, length) != 0)
    return NULL;
  while (*p == ' ' || *p == '<' || *p == '"')
    p++;
  length = strcspn (p, " >\"@");
  return length > 0 ? g_strndup (p, length) : NULL;
}

/* An implicit TLS session on a port mw-trace does not know, decrypted:
 * its greeting tells the protocol (RFC 5321 §4.2 "220", RFC 1939 §4
 * "+OK", RFC 9051 §7.1 "* OK"). */
static void
learn_protocol (TraceSvgSession *session, const TraceSvgLine *line)
{
  if (g_str_has_prefix (line->text, "220"))
    session->protocol = "SMTP";
  else if (g_str_has_prefix (line->text, "+OK"))
    session->protocol = "POP3";
  else if (g_str_has_prefix (line->text, "* "))
    session->protocol = "IMAP";
  session->push = strcmp (session->protocol, "SMTP") == 0;
}

/* RFC 5321 §4.1.1.1 EHLO, §4.1.1.2 MAIL FROM:<alice@...>, §4.1.1 the
 * "220 host" greeting; RFC 1939 §7 USER; RFC 9051 §6.2.3 "tag LOGIN
 * user". The user names the client's lane ("alice's client"). */
static void
learn_endpoints (TraceSvgSession *session, const TraceSvgLine *line)
{
  const char *text = line->text;
  const char *login = NULL;
  char *found = NULL;

  if (strcmp (line->kind, "tls") == 0)
    return; /* records say nothing of this */
  if (line->direction == TRACE_SERVER_TO_CLIENT)
    {
      if (!session->greeted && strcmp (session->protocol, "TLS") == 0)
        learn_protocol (session, line);
      if (!session->greeted && session->push)
        session->greeting_host = word_after (text, "220");
      session->greeted = TRUE;
      return;
    }
  if (session->helo == NULL)
    session->helo = word_after (text, "EHLO");
  if (session->helo == NULL)
    session->helo = word_after (text, "HELO");
  if (g_ascii_strncasecmp (text, "AUTH ", 5) == 0)
    session->auth = TRUE;
  login = strstr (text, " LOGIN ");
  if (session->user != NULL)
    return;
  found = word_after (text, "MAIL FROM:");
  if (found == NULL)
    found = word_after (text, "USER");
  if (found == NULL && login != NULL && !session->push)
    found = word_after (login, " LOGIN");
  if (found != NULL && found[0] == '{') /* a literal (RFC 9051 §4.3) */
    g_clear_pointer (&found, g_free);
  session->user = found;
}

/* RFC 9051 §7: an untagged response answers a command in progress or
 * tells news; news while no command is in progress (and not the
 * greeting) is pushed by the server unasked. Tags of commands are kept
 * until their tagged reply. */
static gboolean
is_unsolicited (TraceSvgSession *session, const TraceSvgLine *line)
{
  const char *text = line->text;
  gsize tag = strcspn (text, " ");

  if (strcmp (session->protocol, "IMAP") != 0 || tag == 0 ||
      strcmp (line->kind, "tls") == 0)
    return FALSE;
  if (line->direction == TRACE_CLIENT_TO_SERVER)
    {
      if (strcmp (line->kind, "command") == 0 &&
          g_ascii_strcasecmp (text, "DONE") != 0)
        g_hash_table_add (session->open_tags, g_strndup (text, tag));
      return FALSE;
    }
  if (g_str_has_prefix (text, "* "))
    return session->greeted && g_hash_table_size (session->open_tags) == 0;
  if (!g_str_has_prefix (text, "+"))
    {
      g_autofree char *key = g_strndup (text, tag);
      g_hash_table_remove (session->open_tags, key);
    }
  return FALSE;
}

/* ---- folding (--svg-compact) ---------------------------------------- */

static gboolean
is_smtp_continuation (const char *text)
{
  /* RFC 5321 §4.2.1: "250-" says more lines of this reply follow */
  return strlen (text) >= 4 && g_ascii_isdigit (text[0]) &&
         g_ascii_isdigit (text[1]) && g_ascii_isdigit (text[2]) &&
         text[3] == '-';
}

/* The response's name in an IMAP untagged line ("* 3 FETCH" -> "FETCH",
 * RFC 9051 §7), or NULL. */
static char *
untagged_name (const char *text)
{
  const char *p = text + 2;

  if (!g_str_has_prefix (text, "* "))
    return NULL;
  while (g_ascii_isdigit (*p))
    p++;
  while (*p == ' ')
    p++;
  return g_strndup (p, strcspn (p, " ["));
}

static gboolean
same_untagged (const char *last, const char *text)
{
  g_autofree char *a = untagged_name (last);
  g_autofree char *b = untagged_name (text);

  return a != NULL && b != NULL && a[0] != '\0' && strcmp (a, b) == 0 &&
         strcmp (a, "OK") != 0; /* each response code tells its own */
}

/* --svg-compact: does @line belong to the row drawn last? Listings and
 * message lines ("data"), the rest of a multi-line SMTP reply, the line
 * after an IMAP literal (RFC 9051 §4.3), a run of untagged responses of
 * one name, and TLS records after the handshake's first two are
 * folded. */
static gboolean
folds_into (TraceSvg *svg,
            TraceSvgSession *session,
            const TraceSvgLine *line,
            gboolean unsolicited)
{
  SvgRow *last;

  if (!svg->options.compact || svg->rows->len == 0)
    return FALSE;
  last = &g_array_index (svg->rows, SvgRow, svg->rows->len - 1);
  if (last->session != session)
    return FALSE;
  if (strcmp (line->kind, "tls") == 0)
    return last->kind == SVG_ROW_TLS && session->tls_rows >= 3;
  if (last->kind != SVG_ROW_LINE || last->direction != line->direction ||
      last->pushed != line->pushed || last->unsolicited != unsolicited)
    return FALSE;
  return last->continued || (last->data && strcmp (line->kind, "data") == 0) ||
         g_str_has_suffix (last->text, "}") ||
         same_untagged (last->text, line->text);
}

static void
append_row (TraceSvg *svg, const SvgRow *row)
{
  if (svg->rows->len >= TRACE_SVG_MAX)
    {
      svg->dropped++;
      g_free (row->text);
      g_free (row->meaning);
      g_free (row->lint);
      return;
    }
  g_array_append_val (svg->rows, *row);
}

/* The first record after STARTTLS gets the marker row above it; its text
 * is written when the diagram is, once it is known whether the records
 * were decrypted. */
static void
mark_tls_start (TraceSvg *svg, TraceSvgSession *session, gint64 time_us)
{
  SvgRow marker = { SVG_ROW_TLS_START, session, -1 };

  session->tls_seen = TRUE;
  marker.time_us = time_us;
  marker.text = g_strdup ("");
  marker.meaning = g_strdup ("");
  append_row (svg, &marker);
}

static void
fold (SvgRow *last, const TraceSvgLine *line)
{
  last->folded++;
  if (last->direction != line->direction)
    last->both_ways = TRUE;
  last->continued =
      last->kind == SVG_ROW_LINE && is_smtp_continuation (line->text);
  if (last->kind == SVG_ROW_LINE && last->tone == TRACE_TONE_PLAIN)
    last->tone = line->tone; /* the reply's last line carries the tone */
}

/* The SMTP decoder cites RFC 5321 §4.1.1.4 for the "." that ends the
 * text, and §4.5.2 (a stuffed dot) for a text line that starts with "."
 * but did not end it. A line of only "." with §4.5.2 is a look-alike: the
 * line ends around it were not CRLF and CRLF, and a real text line "."
 * is sent stuffed, as "..". */
static gboolean
is_end_look_alike (const TraceSvgSession *session, const TraceSvgLine *line)
{
  return session->push && line->direction == TRACE_CLIENT_TO_SERVER &&
         strcmp (line->kind, "data") == 0 && strcmp (line->text, ".") == 0 &&
         line->rfc != NULL && strcmp (line->rfc, "RFC 5321 §4.5.2") == 0;
}

static void
mark_look_alike (TraceSvg *svg, SvgRow *row)
{
  svg->look_alikes = TRUE;
  row->look_alike = TRUE;
  row->tone = TRACE_TONE_WARNING;
  g_free (row->meaning);
  row->meaning = g_strdup ("look-alike of the end: its line ends are not "
                           "CRLF . CRLF (smuggling; RFC 5321 §4.1.1.4)");
}

/* "encrypted, 805 bytes": what nobody on the path could read. */
static void
count_tls_bytes (TraceSvgSession *session, const char *text)
{
  g_autofree char *number = NULL;
  guint64 bytes = 0;

  if (!g_str_has_prefix (text, "encrypted, "))
    return;
  number = g_strndup (text + 11, strcspn (text + 11, " "));
  if (g_ascii_string_to_unsigned (number, 10, 0, G_MAXUINT32, &bytes, NULL))
    session->tls_bytes += bytes;
}

/* "a; b": one more finding for a row. */
static void
add_finding (char **lint, const char *message)
{
  char *joined = *lint == NULL ? g_strdup (message)
                               : g_strconcat (*lint, "; ", message, NULL);

  g_free (*lint);
  *lint = joined;
}

/* A lint finding is said just before the line it is about (the ladder's
 * order), so it waits for the session's next line. */
static void
add_lint (TraceSvgSession *session, const TraceSvgLine *line)
{
  g_autofree char *message =
      line->rfc != NULL ? g_strdup_printf ("%s (%s)", line->meaning, line->rfc)
                        : g_strdup (line->meaning);

  add_finding (&session->pending_lint, message);
  session->lint_us = line->time_us;
}

/* Findings no later line came for sit on the session's last row, or on
 * a row of their own. */
static void
place_pending_lint (TraceSvg *svg, TraceSvgSession *session)
{
  SvgRow row = { SVG_ROW_LINT, session, -1 };

  if (session->pending_lint == NULL)
    return;
  for (guint i = svg->rows->len; i > 0; i--)
    {
      SvgRow *last = &g_array_index (svg->rows, SvgRow, i - 1);
      if (last->session != session || last->kind == SVG_ROW_TLS_START)
        continue;
      add_finding (&last->lint, session->pending_lint);
      g_clear_pointer (&session->pending_lint, g_free);
      return;
    }
  row.time_us = session->lint_us;
  row.tone = TRACE_TONE_WARNING;
  row.text = g_strdup ("");
  row.meaning = g_strdup ("");
  row.lint = g_steal_pointer (&session->pending_lint);
  append_row (svg, &row);
}

/* --svg-from, --svg-to: a command (client line) holding @text */
static gboolean
is_command_with (const TraceSvgLine *line, const char *text)
{
  return line->direction == TRACE_CLIENT_TO_SERVER &&
         strstr (line->text, text) != NULL;
}

/* --svg-from and --svg-to: FALSE when @line is outside what is drawn. */
static gboolean
in_range (TraceSvg *svg, TraceSvgSession *session, const TraceSvgLine *line)
{
  if (!svg->started && svg->options.from != NULL &&
      !is_command_with (line, svg->options.from))
    {
      svg->skipped++;
      session->tls_seen = session->tls_seen || strcmp (line->kind, "tls") == 0;
      return FALSE;
    }
  svg->started = TRUE;
  if (svg->stopped)
    {
      svg->after++;
      return FALSE;
    }
  if (svg->to_direction >= 0 && line->direction != svg->to_direction)
    svg->stopped = TRUE; /* the answer to --svg-to's line is the last */
  else if (svg->options.to != NULL && is_command_with (line, svg->options.to))
    svg->to_direction = line->direction;
  return TRUE;
}

static char *
row_meaning (const TraceSvgLine *line, gboolean unsolicited)
{
  const char *push =
      unsolicited ? "server push: not an answer to a command" : NULL;
  const char *meaning = line->meaning;

  if (push != NULL && meaning[0] != '\0')
    return line->rfc != NULL
               ? g_strdup_printf ("%s; %s (%s)", push, meaning, line->rfc)
               : g_strdup_printf ("%s; %s", push, meaning);
  if (push != NULL)
    meaning = push;
  if (line->rfc != NULL && meaning[0] != '\0')
    return g_strdup_printf ("%s (%s)", meaning, line->rfc);
  if (line->rfc != NULL)
    return g_strdup_printf ("(%s)", line->rfc);
  return g_strdup (meaning);
}

void
trace_svg_add (TraceSvg *svg,
               TraceSvgSession *session,
               const TraceSvgLine *line)
{
  gboolean tls = strcmp (line->kind, "tls") == 0;
  SvgRow row = { tls ? SVG_ROW_TLS : SVG_ROW_LINE, session, line->direction };
  gboolean unsolicited;

  if (strcmp (line->kind, "lint") == 0)
    {
      add_lint (session, line);
      return;
    }
  unsolicited = is_unsolicited (session, line) && !line->pushed;
  learn_endpoints (session, line);
  if (tls)
    count_tls_bytes (session, line->text);
  else if (session->tls_seen)
    session->decrypted = TRUE; /* a line inside TLS: --keylog read it */
  if (!in_range (svg, session, line))
    {
      g_clear_pointer (&session->pending_lint, g_free); /* not drawn */
      return;
    }
  if (tls && !session->tls_seen)
    mark_tls_start (svg, session, line->time_us);
  if (folds_into (svg, session, line, unsolicited))
    {
      SvgRow *last = &g_array_index (svg->rows, SvgRow, svg->rows->len - 1);
      fold (last, line);
      if (session->pending_lint != NULL)
        add_finding (&last->lint, session->pending_lint);
      g_clear_pointer (&session->pending_lint, g_free);
      return;
    }
  row.pushed = line->pushed;
  row.unsolicited = unsolicited;
  row.decrypted = !tls && session->tls_seen;
  row.time_us = line->time_us;
  row.tone = line->tone;
  row.continued = !tls && is_smtp_continuation (line->text);
  row.data = strcmp (line->kind, "data") == 0;
  if (tls)
    session->tls_rows++;
  /* the whole line is kept; it is cut to the arrow's width when drawn */
  row.text = g_strndup (line->text, strcspn (line->text, "\r\n"));
  row.meaning = row_meaning (line, unsolicited);
  if (is_end_look_alike (session, line))
    mark_look_alike (svg, &row);
  row.lint = g_steal_pointer (&session->pending_lint);
  append_row (svg, &row);
}

static int
by_order (gconstpointer a, gconstpointer b)
{
  const TraceSvgSession *x = *(TraceSvgSession *const *) a;
  const TraceSvgSession *y = *(TraceSvgSession *const *) b;

  return x->order - y->order;
}

gboolean
trace_svg_write (TraceSvg *svg, GError **error)
{
  g_autoptr (GString) out = NULL;
  SvgLayout layout = { 0 };
  gboolean written;

  for (guint i = 0; i < svg->sessions->len; i++)
    place_pending_lint (svg, g_ptr_array_index (svg->sessions, i));
  g_ptr_array_sort (svg->sessions, by_order);
  svg_layout_init (svg, &layout);
  out = svg_write_diagram (svg, &layout);
  svg_layout_clear (&layout);
  if (strcmp (svg->options.path, "-") == 0)
    {
      written = fwrite (out->str, 1, out->len, stdout) == out->len;
      if (!written)
        g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_IO,
                             "cannot write the SVG to standard output");
      return written;
    }
  return g_file_set_contents (svg->options.path, out->str, (gssize) out->len,
                              error);
}
