/* SPDX-License-Identifier: MIT
 * trace-svg.c: sessions as an SVG sequence diagram (--svg FILE), for
 * slides. One lifeline per client and per server, one arrow per line on
 * the wire, every drawn session on one timeline (time on the left), the
 * catalog's meaning and RFC section under each arrow. Push (SMTP) and pull
 * (POP3, IMAP) are coloured apart; what an IMAP server sends unasked
 * during IDLE (RFC 9051 §6.3.13) is marked; STARTTLS (RFC 3207 §4, RFC
 * 2595 §4, RFC 9051 §6.2.1) is drawn as the line where the readable part
 * ends. --svg-compact folds multi-line replies, listings and TLS records
 * into one arrow each, so a session fits a slide. With --body, a message
 * line that is only "." but did not end the text (the line ends around
 * it were not CRLF and CRLF: an end-of-data look-alike, SMTP smuggling,
 * RFC 5321 §4.1.1.4) is marked. Bounded to TRACE_SVG_MAX rows.
 */
#include <stdio.h>
#include <string.h>

#include "trace-output.h"
#include "trace-packet.h"

#define TRACE_SVG_MAX 400
#define TRACE_SVG_MAX_SESSIONS 8
#define TOP 96         /* first row's y, below title, legend and names */
#define TIME_WIDTH 64  /* the time column */
#define MARGIN 96      /* from the time column to the first lifeline */
#define MONO_RATIO 0.6 /* DejaVu Sans Mono: advance = 0.6 em */

#define COLOR_PUSH "#e65100"       /* SMTP */
#define COLOR_PULL "#1565c0"       /* POP3, IMAP */
#define COLOR_IDLE "#ad1457"       /* pushed unasked during IDLE */
#define COLOR_TLS "#9e9e9e"        /* records nobody on the path can read */
#define COLOR_LOOK_ALIKE "#fff3e0" /* behind an end-of-data look-alike */

typedef enum
{
  SVG_ROW_LINE,      /* a command, reply or data line */
  SVG_ROW_TLS,       /* a TLS record */
  SVG_ROW_TLS_START, /* the marker: readable up to here */
} SvgRowKind;

struct _TraceSvgSession
{
  guint stream; /* tcp.stream */
  int order;    /* place in --svg-session */
  char *client; /* lane names */
  char *server;
  char *server_key; /* address and port: sessions to one server share it */
  const char *protocol;
  gboolean push; /* SMTP */
  gboolean implicit_tls;
  gboolean tls_seen;
  guint tls_rows; /* TLS rows drawn: compact folds from the third on */
  gint64 first_us;
};

typedef struct
{
  SvgRowKind kind;
  TraceSvgSession *session;
  int direction;
  gboolean pushed; /* server push during IDLE */
  gboolean both_ways;
  gint64 time_us;
  char *text;
  char *meaning;
  TraceTone tone;
  guint folded;        /* lines folded into this one (--svg-compact) */
  gboolean continued;  /* SMTP "250-": more lines of this reply follow */
  gboolean data;       /* a listing or message line */
  gboolean look_alike; /* a "." message line that did not end the text */
} SvgRow;

struct _TraceSvg
{
  TraceSvgOptions options;
  GPtrArray *sessions; /* of TraceSvgSession, in the order drawn */
  GArray *rows;        /* of SvgRow */
  guint dropped;
  gboolean started;     /* --svg-from's line was seen */
  guint skipped;        /* lines before it */
  int to_direction;     /* --svg-to's line was seen, from this side (else -1) */
  gboolean stopped;     /* and answered: nothing more is drawn */
  guint after;          /* lines after that */
  gboolean look_alikes; /* a row is one: the legend says what it means */
};

/* The geometry of one diagram. */
typedef struct
{
  int row;  /* row height */
  int gap;  /* between lifelines */
  int text; /* font sizes, px */
  int small;
  int width;
  int height;
  int skip;         /* room for the "earlier lines" note */
  GPtrArray *lanes; /* lane keys (client or server names), left to right */
} SvgLayout;

static void
svg_session_free (gpointer data)
{
  TraceSvgSession *session = data;

  g_free (session->client);
  g_free (session->server);
  g_free (session->server_key);
  g_free (session);
}

static void
svg_row_clear (gpointer data)
{
  SvgRow *row = data;

  g_free (row->text);
  g_free (row->meaning);
}

TraceSvg *
trace_svg_new (const TraceSvgOptions *options)
{
  TraceSvg *svg = g_new0 (TraceSvg, 1);

  svg->options = *options;
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

/* The place of @stream in --svg-session, or -1 when it is not drawn;
 * without --svg-session the first mail session is drawn. */
static int
selection_index (TraceSvg *svg, guint stream)
{
  if (svg->options.n_streams == 0)
    return svg->sessions->len == 0 ? 0 : -1;
  for (guint i = 0; i < svg->options.n_streams; i++)
    if (svg->options.streams[i] == stream)
      return (int) i;
  return -1;
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
  lane->stream = flow->id;
  lane->order = index;
  lane->protocol = session->decoder->name;
  lane->push = session->protocol == TRACE_PROTO_SMTP;
  lane->implicit_tls = session->implicit_tls;
  lane->first_us = flow->first_us;
  lane->server_key = g_strdup_printf ("%s:%u", server, flow->server_port);
  lane->server =
      g_strdup_printf ("%s server :%u", lane->protocol, flow->server_port);
  if (svg->options.labels != NULL &&
      (guint) index < g_strv_length (svg->options.labels))
    lane->client = g_strdup (svg->options.labels[index]);
  else
    lane->client = g_strdup_printf ("client :%u", flow->client_port);
  g_ptr_array_add (svg->sessions, lane);
  return lane;
}

/* The first line of @text, markup-escaped, at most @max characters. */
static char *
shorten (const char *text, glong max)
{
  g_autofree char *first = g_strndup (text, strcspn (text, "\r\n"));
  g_autofree char *cut = NULL;

  if (max < 2)
    max = 2;
  if (g_utf8_strlen (first, -1) > max)
    {
      cut = g_utf8_substring (first, 0, max - 1);
      return g_markup_printf_escaped ("%s…", cut);
    }
  return g_markup_escape_text (first, -1);
}

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
folds_into (TraceSvg *svg, TraceSvgSession *session, const TraceSvgLine *line)
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
      last->pushed != line->pushed)
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
      return;
    }
  g_array_append_val (svg->rows, *row);
}

/* The first record after STARTTLS gets the marker row above it. */
static void
mark_tls_start (TraceSvg *svg, TraceSvgSession *session, gint64 time_us)
{
  SvgRow marker = { SVG_ROW_TLS_START, session, -1 };

  session->tls_seen = TRUE;
  marker.time_us = time_us;
  marker.text = g_strdup (session->implicit_tls
                              ? "implicit TLS: nothing on the wire is readable"
                              : "STARTTLS: readable up to here; from here on "
                                "only TLS records");
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

/* --svg-from, --svg-to: a command (client line) holding @text */
static gboolean
is_command_with (const TraceSvgLine *line, const char *text)
{
  return line->direction == TRACE_CLIENT_TO_SERVER &&
         strstr (line->text, text) != NULL;
}

void
trace_svg_add (TraceSvg *svg,
               TraceSvgSession *session,
               const TraceSvgLine *line)
{
  gboolean tls = strcmp (line->kind, "tls") == 0;
  SvgRow row = { tls ? SVG_ROW_TLS : SVG_ROW_LINE, session, line->direction };

  if (!svg->started && svg->options.from != NULL &&
      !is_command_with (line, svg->options.from))
    {
      svg->skipped++;
      session->tls_seen = session->tls_seen || tls;
      return;
    }
  svg->started = TRUE;
  if (svg->stopped)
    {
      svg->after++;
      return;
    }
  if (svg->to_direction >= 0 && line->direction != svg->to_direction)
    svg->stopped = TRUE; /* the answer to --svg-to's line is the last */
  else if (svg->options.to != NULL && is_command_with (line, svg->options.to))
    svg->to_direction = line->direction;
  if (tls && !session->tls_seen)
    mark_tls_start (svg, session, line->time_us);
  if (folds_into (svg, session, line))
    {
      fold (&g_array_index (svg->rows, SvgRow, svg->rows->len - 1), line);
      return;
    }
  row.pushed = line->pushed;
  row.time_us = line->time_us;
  row.tone = line->tone;
  row.continued = !tls && is_smtp_continuation (line->text);
  row.data = strcmp (line->kind, "data") == 0;
  if (tls)
    session->tls_rows++;
  /* the whole line is kept; it is cut to the arrow's width when drawn */
  row.text = g_strndup (line->text, strcspn (line->text, "\r\n"));
  if (line->rfc != NULL && line->meaning[0] != '\0')
    row.meaning = g_strdup_printf ("%s (%s)", line->meaning, line->rfc);
  else if (line->rfc != NULL)
    row.meaning = g_strdup_printf ("(%s)", line->rfc);
  else
    row.meaning = g_strdup (line->meaning);
  if (is_end_look_alike (session, line))
    mark_look_alike (svg, &row);
  append_row (svg, &row);
}

/* ---- layout -------------------------------------------------------- */

static int
lane_index (const SvgLayout *layout, const char *key)
{
  for (guint i = 0; i < layout->lanes->len; i++)
    if (strcmp (g_ptr_array_index (layout->lanes, i), key) == 0)
      return (int) i;
  return -1;
}

static int
lane_x (const SvgLayout *layout, const char *key)
{
  return TIME_WIDTH + MARGIN + lane_index (layout, key) * layout->gap;
}

/* Lifelines left to right: the first client, its server, then each new
 * server followed by its client; a client of a server already drawn
 * goes to the right end (phone | IMAP server | laptop). Clients are
 * keyed by their stream, servers by address and port. */
static void
layout_lanes (TraceSvg *svg, SvgLayout *layout)
{
  for (guint i = 0; i < svg->sessions->len; i++)
    {
      TraceSvgSession *session = g_ptr_array_index (svg->sessions, i);
      char *client = g_strdup_printf ("c%u", session->stream);
      gboolean new_server = lane_index (layout, session->server_key) < 0;

      if (new_server && layout->lanes->len == 0)
        {
          g_ptr_array_add (layout->lanes, client);
          g_ptr_array_add (layout->lanes, g_strdup (session->server_key));
        }
      else if (new_server)
        {
          g_ptr_array_add (layout->lanes, g_strdup (session->server_key));
          g_ptr_array_add (layout->lanes, client);
        }
      else
        g_ptr_array_add (layout->lanes, client);
    }
}

static void
layout_init (TraceSvg *svg, SvgLayout *layout)
{
  gboolean compact = svg->options.compact;
  gboolean one = svg->sessions->len <= 1;

  layout->row = compact ? 30 : 36;
  layout->text = compact ? 12 : 13;
  layout->small = 10;
  layout->gap = one ? (compact ? 560 : 580) : (compact ? 340 : 440);
  layout->skip = svg->skipped > 0 ? layout->row / 2 : 0;
  layout->lanes = g_ptr_array_new_with_free_func (g_free);
  layout_lanes (svg, layout);
  layout->width = TIME_WIDTH + 2 * MARGIN +
                  MAX (1, (int) layout->lanes->len - 1) * layout->gap;
  layout->height = TOP + 40 + (int) svg->rows->len * layout->row +
                   (svg->skipped > 0 ? layout->row / 2 : 0) +
                   (svg->after > 0 ? layout->row / 2 : 0);
}

/* ---- drawing ------------------------------------------------------- */

static const char *
tone_fill (TraceTone tone, int direction)
{
  switch (tone)
    {
    case TRACE_TONE_OK:
      return "#2e7d32";
    case TRACE_TONE_INTERMEDIATE:
      return "#6d4c41";
    case TRACE_TONE_ERROR:
      return "#c62828";
    case TRACE_TONE_WARNING:
      return "#ef6c00";
    case TRACE_TONE_PLAIN:
    default:
      return direction == TRACE_CLIENT_TO_SERVER ? "#263238" : "#424242";
    }
}

static const char *
row_stroke (const SvgRow *row)
{
  if (row->kind == SVG_ROW_TLS)
    return COLOR_TLS;
  if (row->pushed)
    return COLOR_IDLE;
  return row->session->push ? COLOR_PUSH : COLOR_PULL;
}

/* "x1 x2" of the arrow, pointing the way the line went. */
static void
row_ends (const SvgLayout *layout, const SvgRow *row, int *out_x1, int *out_x2)
{
  g_autofree char *client = g_strdup_printf ("c%u", row->session->stream);
  int c = lane_x (layout, client);
  int s = lane_x (layout, row->session->server_key);

  *out_x1 = row->direction == TRACE_CLIENT_TO_SERVER ? c : s;
  *out_x2 = row->direction == TRACE_CLIENT_TO_SERVER ? s : c;
}

static void
write_tls_start (GString *out,
                 const SvgLayout *layout,
                 const SvgRow *row,
                 int y)
{
  int x1;
  int x2;
  g_autofree char *text = NULL;

  row_ends (layout, row, &x1, &x2);
  text = shorten (row->text,
                  (ABS (x2 - x1) + 120) / (glong) (layout->small * MONO_RATIO));
  g_string_append_printf (out,
                          "<g class=\"tls-start\"><line x1=\"%d\" y1=\"%d\" "
                          "x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
                          "stroke-width=\"3\" stroke-dasharray=\"8,4\"/>\n"
                          "<text x=\"%d\" y=\"%d\" class=\"m\" "
                          "font-weight=\"bold\">%s</text></g>\n",
                          MIN (x1, x2) - 60, y, MAX (x1, x2) + 60, y, COLOR_TLS,
                          MIN (x1, x2) - 60, y - 6, text);
}

static void
write_label (GString *out,
             const SvgLayout *layout,
             const SvgRow *row,
             int x,
             int y,
             int span)
{
  g_autofree char *text = NULL;
  g_autofree char *meaning = NULL;
  g_autofree char *folded = NULL;
  glong room = (span - 16) / (glong) (layout->text * MONO_RATIO);

  if (row->folded > 0)
    folded = g_strdup_printf (row->kind == SVG_ROW_TLS ? " (+%u more records)"
                                                       : " (+%u lines)",
                              row->folded);
  text = shorten (row->text, room - (folded ? (glong) strlen (folded) : 0));
  meaning = shorten (row->meaning,
                     (span - 16) / (glong) (layout->small * MONO_RATIO));
  g_string_append_printf (out,
                          "<text x=\"%d\" y=\"%d\" class=\"l\" fill=\"%s\">"
                          "%s%s</text>\n",
                          x, y - 5, tone_fill (row->tone, row->direction), text,
                          folded ? folded : "");
  if (meaning[0] != '\0')
    g_string_append_printf (out,
                            "<text x=\"%d\" y=\"%d\" class=\"m\">%s</text>\n",
                            x, y + layout->small + 2, meaning);
}

static void
write_row (GString *out,
           const SvgLayout *layout,
           const SvgRow *row,
           guint index,
           gint64 base_us)
{
  int y = TOP + 24 + layout->skip + (int) index * layout->row;
  const char *stroke = row_stroke (row);
  int x1;
  int x2;

  if (row->kind == SVG_ROW_TLS_START)
    {
      write_tls_start (out, layout, row, y);
      return;
    }
  row_ends (layout, row, &x1, &x2);
  g_string_append_printf (out, "<g class=\"%s\">\n",
                          row->pushed                ? "idle-push"
                          : row->kind == SVG_ROW_TLS ? "tls"
                          : row->session->push       ? "push"
                                                     : "pull");
  if (row->pushed || row->look_alike)
    g_string_append_printf (out,
                            "<rect x=\"%d\" y=\"%d\" width=\"%d\" "
                            "height=\"%d\" fill=\"%s\"/>\n",
                            MIN (x1, x2), y - layout->row / 2 - 4,
                            ABS (x2 - x1), layout->row - 2,
                            row->pushed ? "#fce4ec" : COLOR_LOOK_ALIKE);
  g_string_append_printf (out,
                          "<text x=\"8\" y=\"%d\" class=\"t\">%.3f s</text>\n",
                          y, (row->time_us - base_us) / 1e6);
  g_string_append_printf (
      out,
      "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
      "stroke-width=\"%s\"%s%s marker-end=\"url(#a)\"/>\n",
      x1 + (x1 < x2 ? 2 : -2), y, x2 + (x1 < x2 ? -4 : 4), y, stroke,
      row->pushed ? "2.5" : "1.5",
      row->kind == SVG_ROW_TLS ? " stroke-dasharray=\"3,3\"" : "",
      row->both_ways ? " marker-start=\"url(#b)\"" : "");
  write_label (out, layout, row, MIN (x1, x2) + 10, y, ABS (x2 - x1));
  g_string_append (out, "</g>\n");
}

static void
write_legend (GString *out, int y, int width, gboolean look_alikes)
{
  static const struct
  {
    const char *color;
    const char *text;
  } items[] = {
    { COLOR_PUSH, "push: SMTP" },
    { COLOR_PULL, "pull: POP3, IMAP" },
    { COLOR_IDLE, "pushed by the server during IDLE" },
    { COLOR_TLS, "TLS: records only" },
  };
  int x = 10;

  for (gsize i = 0; i < G_N_ELEMENTS (items); i++)
    {
      g_string_append_printf (out,
                              "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                              "stroke=\"%s\" stroke-width=\"3\"/>"
                              "<text x=\"%d\" y=\"%d\" class=\"m\">%s</text>\n",
                              x, y - 4, x + 24, y - 4, items[i].color, x + 30,
                              y, items[i].text);
      x += 30 + (int) (strlen (items[i].text) * 6.5) + 24;
    }
  if (!look_alikes) /* so the diagrams without one stay as they were */
    return;
  if (x + 200 > width) /* on a line of its own */
    {
      x = 10;
      y += 14;
    }
  g_string_append_printf (out,
                          "<rect x=\"%d\" y=\"%d\" width=\"24\" "
                          "height=\"12\" fill=\"%s\" stroke=\"%s\"/>"
                          "<text x=\"%d\" y=\"%d\" class=\"m\">"
                          "end-of-data look-alike</text>\n",
                          x, y - 10, COLOR_LOOK_ALIKE,
                          tone_fill (TRACE_TONE_WARNING, 0), x + 30, y);
}

static void
write_lifeline (GString *out,
                const SvgLayout *layout,
                const char *name,
                const char *role,
                const char *color,
                int x)
{
  g_autofree char *title = shorten (name, 30);
  g_autofree char *subtitle = shorten (role, 40);

  g_string_append_printf (out,
                          "<text x=\"%d\" y=\"%d\" class=\"h\" "
                          "text-anchor=\"middle\">%s</text>\n"
                          "<text x=\"%d\" y=\"%d\" class=\"m\" "
                          "text-anchor=\"middle\">%s</text>\n"
                          "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                          "stroke=\"%s\" stroke-width=\"2\" "
                          "stroke-opacity=\"0.5\"/>\n",
                          x, TOP - 22, title, x, TOP - 9, subtitle, x, TOP, x,
                          layout->height - 16, color);
}

static void
write_lifelines (GString *out, TraceSvg *svg, const SvgLayout *layout)
{
  g_autoptr (GHashTable) drawn = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < svg->sessions->len; i++)
    {
      TraceSvgSession *session = g_ptr_array_index (svg->sessions, i);
      g_autofree char *client = g_strdup_printf ("c%u", session->stream);
      g_autofree char *role = g_strdup_printf (
          "%s client: %s", session->protocol, session->push ? "push" : "pull");
      const char *color = session->push ? COLOR_PUSH : COLOR_PULL;

      write_lifeline (out, layout, session->client, role, color,
                      lane_x (layout, client));
      if (g_hash_table_add (drawn, session->server_key))
        write_lifeline (out, layout, session->server,
                        session->push ? "receives mail" : "holds the mailbox",
                        color, lane_x (layout, session->server_key));
    }
}

static char *
default_title (TraceSvg *svg)
{
  TraceSvgSession *first = g_ptr_array_index (svg->sessions, 0);
  g_autoptr (GString) title = g_string_new (NULL);

  if (svg->sessions->len == 1)
    return g_strdup_printf ("%s session %u: %s -> %s", first->protocol,
                            first->stream, first->client, first->server);
  g_string_printf (title, "%u sessions:", svg->sessions->len);
  for (guint i = 0; i < svg->sessions->len; i++)
    {
      TraceSvgSession *session = g_ptr_array_index (svg->sessions, i);
      g_string_append_printf (title, "%s %s %u (%s)", i > 0 ? "," : "",
                              session->protocol, session->stream,
                              session->client);
    }
  return g_strdup (title->str);
}

static void
write_header (GString *out, TraceSvg *svg, const SvgLayout *layout)
{
  g_autofree char *title = g_markup_escape_text (
      svg->options.title != NULL ? svg->options.title : "", -1);
  g_autofree char *fallback = NULL;

  if (svg->options.title == NULL && svg->sessions->len > 0)
    {
      fallback = default_title (svg);
      g_free (title);
      title = g_markup_escape_text (fallback, -1);
    }
  g_string_append_printf (
      out,
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans Mono, monospace\">\n"
      "<!-- drawn by mw-trace -->\n"
      "<style>.t{font-size:11px;fill:#757575}.l{font-size:%dpx}"
      ".m{font-size:%dpx;fill:#546e7a}.h{font-size:15px;font-weight:bold}"
      "</style>\n"
      "<defs><marker id=\"a\" markerWidth=\"8\" markerHeight=\"8\" refX=\"7\" "
      "refY=\"4\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" "
      "fill=\"#424242\"/></marker>"
      "<marker id=\"b\" markerWidth=\"8\" markerHeight=\"8\" refX=\"1\" "
      "refY=\"4\" orient=\"auto\"><path d=\"M8,0 L0,4 L8,8 z\" "
      "fill=\"#424242\"/></marker></defs>\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"10\" y=\"22\" class=\"h\">%s</text>\n",
      layout->width, layout->height, layout->width, layout->height,
      layout->text, layout->small, title);
  write_legend (out, 44, layout->width, svg->look_alikes);
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
  g_autoptr (GString) out = g_string_new (NULL);
  SvgLayout layout = { 0 };
  gint64 base_us = G_MAXINT64;
  gboolean written;

  g_ptr_array_sort (svg->sessions, by_order);
  layout_init (svg, &layout);
  for (guint i = 0; i < svg->sessions->len; i++)
    base_us = MIN (
        base_us,
        ((TraceSvgSession *) g_ptr_array_index (svg->sessions, i))->first_us);
  write_header (out, svg, &layout);
  write_lifelines (out, svg, &layout);
  for (guint i = 0; i < svg->rows->len; i++)
    write_row (out, &layout, &g_array_index (svg->rows, SvgRow, i), i, base_us);
  if (svg->skipped > 0)
    g_string_append_printf (out,
                            "<text x=\"8\" y=\"%d\" class=\"m\">(%u earlier "
                            "lines not drawn)</text>\n",
                            TOP + 4, svg->skipped);
  if (svg->after > 0)
    g_string_append_printf (out,
                            "<text x=\"8\" y=\"%d\" class=\"m\">(%u later "
                            "lines not drawn)</text>\n",
                            layout.height - 22, svg->after);
  if (svg->sessions->len == 0)
    g_string_append (out, "<text x=\"10\" y=\"80\" class=\"m\">(no mail "
                          "session to draw)</text>\n");
  if (svg->dropped > 0)
    g_string_append_printf (out,
                            "<text x=\"10\" y=\"%d\" class=\"m\">(%u more "
                            "lines not drawn)</text>\n",
                            layout.height - 5, svg->dropped);
  g_string_append (out, "</svg>\n");
  g_ptr_array_unref (layout.lanes);
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
