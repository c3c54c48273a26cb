/* SPDX-License-Identifier: MIT
 * trace-svg.c: one session as an SVG sequence diagram (--svg FILE), for
 * slides: two lifelines, one arrow per line on the wire, time on the left,
 * the catalog's meaning under each arrow. Bounded to TRACE_SVG_MAX rows.
 */
#include <stdio.h>
#include <string.h>

#include "trace-output.h"

#define TRACE_SVG_MAX 400
#define ROW 34
#define WIDTH 900
#define LEFT 160  /* client lifeline x */
#define RIGHT 740 /* server lifeline x */
#define TOP 70

typedef struct
{
  int direction;
  double seconds;
  char *text;
  char *meaning;
  TraceTone tone;
} SvgRow;

struct _TraceSvg
{
  char *title;
  GArray *rows; /* of SvgRow */
  guint dropped;
};

static void
svg_row_clear (gpointer data)
{
  SvgRow *row = data;

  g_free (row->text);
  g_free (row->meaning);
}

TraceSvg *
trace_svg_new (TraceSession *session)
{
  TraceSvg *svg = g_new0 (TraceSvg, 1);
  TcpFlow *flow = session->flow;

  svg->title = g_strdup_printf ("%s session, client port %u -> server port %u",
                                session->decoder->name, flow->client_port,
                                flow->server_port);
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
  g_free (svg->title);
  g_free (svg);
}

static char *
shorten (const char *text, gsize max)
{
  g_autofree char *first = g_strndup (text, strcspn (text, "\r\n"));
  g_autofree char *cut = NULL;

  if (g_utf8_strlen (first, -1) > (glong) max)
    {
      cut = g_utf8_substring (first, 0, max - 1);
      return g_markup_printf_escaped ("%s…", cut);
    }
  return g_markup_escape_text (first, -1);
}

void
trace_svg_add (TraceSvg *svg,
               int direction,
               double seconds,
               const char *text,
               const char *meaning,
               TraceTone tone)
{
  SvgRow row = { direction, seconds, NULL, NULL, tone };

  if (svg->rows->len >= TRACE_SVG_MAX)
    {
      svg->dropped++;
      return;
    }
  row.text = shorten (text, 70);
  row.meaning = shorten (meaning != NULL ? meaning : "", 95);
  g_array_append_val (svg->rows, row);
}

static const char *
tone_stroke (TraceTone tone, int direction)
{
  switch (tone)
    {
    case TRACE_TONE_OK:
      return "#2e7d32";
    case TRACE_TONE_INTERMEDIATE:
      return "#1565c0";
    case TRACE_TONE_ERROR:
      return "#c62828";
    case TRACE_TONE_WARNING:
      return "#ef6c00";
    case TRACE_TONE_PLAIN:
    default:
      return direction == TRACE_CLIENT_TO_SERVER ? "#00838f" : "#424242";
    }
}

static void
write_row (GString *out, const SvgRow *row, guint index)
{
  int y = TOP + 30 + (int) index * ROW;
  gboolean to_server = row->direction == TRACE_CLIENT_TO_SERVER;
  const char *stroke = tone_stroke (row->tone, row->direction);

  g_string_append_printf (out,
                          "<text x=\"10\" y=\"%d\" class=\"t\">%.3f s</text>\n",
                          y, row->seconds);
  g_string_append_printf (out,
                          "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                          "stroke=\"%s\" stroke-width=\"1.5\" "
                          "marker-end=\"url(#a)\"/>\n",
                          to_server ? LEFT : RIGHT, y,
                          to_server ? RIGHT - 4 : LEFT + 4, y, stroke);
  g_string_append_printf (out,
                          "<text x=\"%d\" y=\"%d\" class=\"l\" fill=\"%s\">"
                          "%s</text>\n",
                          LEFT + 12, y - 5, stroke, row->text);
  g_string_append_printf (out,
                          "<text x=\"%d\" y=\"%d\" class=\"m\">%s</text>\n",
                          LEFT + 12, y + 13, row->meaning);
}

gboolean
trace_svg_write (TraceSvg *svg, const char *path, GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);
  int height = TOP + 60 + (int) svg->rows->len * ROW;
  g_autofree char *title = g_markup_escape_text (svg->title, -1);

  g_string_append_printf (
      out,
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans Mono, monospace\">\n"
      "<style>.t{font-size:11px;fill:#757575}.l{font-size:13px}"
      ".m{font-size:10px;fill:#616161}.h{font-size:16px;font-weight:bold}"
      "</style>\n"
      "<defs><marker id=\"a\" markerWidth=\"8\" markerHeight=\"8\" refX=\"7\" "
      "refY=\"4\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" "
      "fill=\"#424242\"/></marker></defs>\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"10\" y=\"24\" class=\"h\">%s</text>\n"
      "<text x=\"%d\" y=\"%d\" class=\"h\" "
      "text-anchor=\"middle\">client</text>\n"
      "<text x=\"%d\" y=\"%d\" class=\"h\" "
      "text-anchor=\"middle\">server</text>\n"
      "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#9e9e9e\"/>\n"
      "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#9e9e9e\"/>\n",
      WIDTH, height, WIDTH, height, title, LEFT, TOP - 10, RIGHT, TOP - 10,
      LEFT, TOP, LEFT, height - 20, RIGHT, TOP, RIGHT, height - 20);
  for (guint i = 0; i < svg->rows->len; i++)
    write_row (out, &g_array_index (svg->rows, SvgRow, i), i);
  if (svg->dropped > 0)
    g_string_append_printf (out,
                            "<text x=\"10\" y=\"%d\" class=\"m\">(%u more "
                            "lines not drawn)</text>\n",
                            height - 5, svg->dropped);
  g_string_append (out, "</svg>\n");
  return g_file_set_contents (path, out->str, (gssize) out->len, error);
}
