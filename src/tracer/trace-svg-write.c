/* SPDX-License-Identifier: MIT
 * trace-svg-write.c: draws the diagram trace-svg-layout.c placed. Push
 * (SMTP) and pull (POP3, IMAP) differ by colour and, on a slide or in
 * print, by dash too; a server push (RFC 9051 §6.3.13, §7) carries a
 * lightning mark; a TLS section (RFC 8446) is a shaded band, "encrypted
 * (N bytes)" or "decrypted" (--keylog), its decrypted lines drawn double
 * (the ladder's "==>"); a lint finding is a warning mark on its row.
 * --svg-print draws black on white: every meaning has a shape as well.
 */
#include <string.h>

#include "trace-svg-private.h"

/* What each thing is drawn with; the print palette is black on white. */
typedef struct
{
  const char *push;       /* SMTP */
  const char *pull;       /* POP3, IMAP */
  const char *idle;       /* pushed by the server, unasked */
  const char *idle_fill;  /* behind it */
  const char *tls;        /* records nobody on the path can read */
  const char *band;       /* behind a TLS section */
  const char *band_read;  /* behind one decrypted with the key log */
  const char *look_alike; /* behind an end-of-data look-alike */
  const char *warning;    /* lint */
} SvgPalette;

static const SvgPalette colour_palette = {
  "#e65100", "#1565c0", "#ad1457", "#fce4ec", "#9e9e9e",
  "#eceff1", "#e8f5e9", "#fff3e0", "#ef6c00",
};

static const SvgPalette print_palette = {
  "#000000", "#000000", "#000000", "#eeeeee", "#616161",
  "#eeeeee", "#ffffff", "#e0e0e0", "#000000",
};

static const SvgPalette *
palette (const SvgLayout *layout)
{
  return layout->print ? &print_palette : &colour_palette;
}

/* Pull is dashed where colour cannot be relied on alone. */
static const char *
pull_dash (const SvgLayout *layout)
{
  return layout->slide || layout->print ? " stroke-dasharray=\"7,3\"" : "";
}

/* The first line of @text, markup-escaped, at most @max characters; its
 * control characters and octets that are not UTF-8 shown as \xHH (XML
 * allows neither: trace_string_append_shown ()). */
char *
svg_shorten (const char *text, glong max)
{
  g_autofree char *line = g_strndup (text, strcspn (text, "\r\n"));
  g_autoptr (GString) shown = g_string_new (NULL);
  const char *first = NULL;
  g_autofree char *cut = NULL;

  trace_string_append_shown (shown, line);
  first = shown->str;

  if (max < 2)
    max = 2;
  if (g_utf8_strlen (first, -1) > max)
    {
      cut = g_utf8_substring (first, 0, max - 1);
      return g_markup_printf_escaped ("%s…", cut);
    }
  return g_markup_escape_text (first, -1);
}

/* How many characters of size @font fit in @width. The full-size
 * diagrams keep the rounded advance they were drawn with; a slide, which
 * must keep every text inside its box, uses the true one. */
static glong
chars_in (const SvgLayout *layout, int width, int font)
{
  if (layout->slide)
    return (glong) (width / (font * TRACE_SVG_MONO_RATIO));
  return width / (glong) (font * TRACE_SVG_MONO_RATIO);
}

static const char *
tone_fill (const SvgLayout *layout, TraceTone tone, int direction)
{
  if (layout->print)
    return "#000000";
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

static gboolean
is_server_push (const SvgRow *row)
{
  return row->pushed || row->unsolicited;
}

static const char *
row_stroke (const SvgLayout *layout, const SvgRow *row)
{
  const SvgPalette *colors = palette (layout);

  if (row->kind == SVG_ROW_TLS)
    return colors->tls;
  if (is_server_push (row))
    return colors->idle;
  return row->session->push ? colors->push : colors->pull;
}

static const char *
row_dash (const SvgLayout *layout, const SvgRow *row)
{
  if (row->kind == SVG_ROW_TLS)
    return " stroke-dasharray=\"3,3\"";
  return row->session->push ? "" : pull_dash (layout);
}

/* "x1 x2" of the arrow, pointing the way the line went. */
static void
row_ends (const SvgLayout *layout, const SvgRow *row, int *out_x1, int *out_x2)
{
  int c = svg_layout_client_lane (layout, row->session)->x;
  int s = svg_layout_server_lane (layout, row->session)->x;

  *out_x1 = row->direction == TRACE_CLIENT_TO_SERVER ? c : s;
  *out_x2 = row->direction == TRACE_CLIENT_TO_SERVER ? s : c;
}

static void
session_span (const SvgLayout *layout,
              const TraceSvgSession *session,
              int *out_left,
              int *out_right)
{
  int c = svg_layout_client_lane (layout, session)->x;
  int s = svg_layout_server_lane (layout, session)->x;

  *out_left = MIN (c, s);
  *out_right = MAX (c, s);
}

/* The marker where a TLS section begins says what the band below it
 * holds. */
static char *
tls_start_text (const TraceSvgSession *session)
{
  g_autofree char *secret = NULL;

  if (session->decrypted)
    return g_strdup_printf ("%s: decrypted with the key log (its lines drawn "
                            "double)",
                            session->implicit_tls ? "implicit TLS"
                                                  : "STARTTLS, then TLS");
  secret = session->tls_bytes > 0
               ? g_strdup_printf ("encrypted (%" G_GUINT64_FORMAT " bytes)",
                                  session->tls_bytes)
               : g_strdup ("encrypted");
  return session->implicit_tls
             ? g_strdup_printf ("implicit TLS: nothing on the wire is "
                                "readable, %s",
                                secret)
             : g_strdup_printf ("STARTTLS: readable up to here; then only TLS "
                                "records, %s",
                                secret);
}

static void
write_tls_start (GString *out,
                 const SvgLayout *layout,
                 const SvgRow *row,
                 int y)
{
  int left;
  int right;
  g_autofree char *said = tls_start_text (row->session);
  g_autofree char *text = NULL;

  session_span (layout, row->session, &left, &right);
  text =
      svg_shorten (said, chars_in (layout, right - left + 120, layout->small));
  g_string_append_printf (out,
                          "<g class=\"tls-start\"><line x1=\"%d\" y1=\"%d\" "
                          "x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
                          "stroke-width=\"3\" stroke-dasharray=\"8,4\"/>\n"
                          "<text x=\"%d\" y=\"%d\" class=\"m\" "
                          "font-weight=\"bold\">%s</text></g>\n",
                          left - 60, y, right + 60, y, palette (layout)->tls,
                          left - 60, y - 6, text);
}

/* A warning triangle with "!" at (@x, @y): lint. */
static void
write_warning_mark (GString *out, const SvgLayout *layout, int x, int y)
{
  g_string_append_printf (out,
                          "<path class=\"lint-mark\" d=\"M%d,%d l6,-11 l6,11 "
                          "z\" fill=\"%s\" stroke=\"#000000\" "
                          "stroke-width=\"0.8\"/><text x=\"%d\" y=\"%d\" "
                          "font-size=\"9px\" font-weight=\"bold\" "
                          "fill=\"%s\">!</text>\n",
                          x, y, layout->print ? "#ffffff" : "#ffb300", x + 4,
                          y - 1, "#000000");
}

/* A lightning bolt at (@x, @y): the server sent this unasked. */
static void
write_push_mark (GString *out, const SvgLayout *layout, int x, int y)
{
  g_string_append_printf (out,
                          "<path class=\"push-mark\" d=\"M%d,%d l-5,8 h4 "
                          "l-3,7 l8,-10 h-4 l3,-5 z\" fill=\"%s\"/>\n",
                          x + 4, y - 8, palette (layout)->idle);
}

/* The line above its arrow, and under it the meaning; a lint finding
 * (bold) takes the meaning's place, except on an end-of-data look-alike,
 * whose meaning already says what the finding does. */
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
  glong room = chars_in (layout, span - 16, layout->text);
  const char *below =
      row->lint != NULL && !row->look_alike ? row->lint : row->meaning;

  if (row->folded > 0)
    folded = g_strdup_printf (row->kind == SVG_ROW_TLS ? " (+%u more records)"
                                                       : " (+%u lines)",
                              row->folded);
  text = svg_shorten (row->text, room - (folded ? (glong) strlen (folded) : 0));
  meaning = svg_shorten (below, chars_in (layout, span - 16, layout->small));
  g_string_append_printf (out,
                          "<text x=\"%d\" y=\"%d\" class=\"l\" fill=\"%s\">"
                          "%s%s</text>\n",
                          x, y - 5,
                          tone_fill (layout, row->tone, row->direction), text,
                          folded ? folded : "");
  if (meaning[0] != '\0' && layout->meaning)
    g_string_append_printf (
        out, "<text x=\"%d\" y=\"%d\" class=\"m\"%s>%s</text>\n", x,
        y + layout->small + 2,
        below == row->lint ? " font-weight=\"bold\"" : "", meaning);
}

static const char *
row_class (const SvgRow *row)
{
  if (row->pushed)
    return "idle-push";
  if (row->unsolicited)
    return "server-push";
  if (row->kind == SVG_ROW_TLS)
    return "tls";
  return row->session->push ? "push" : "pull";
}

/* The arrow; a decrypted line is drawn double, as the ladder's "==>". */
static void
write_arrow (GString *out,
             const SvgLayout *layout,
             const SvgRow *row,
             int x1,
             int x2,
             int y)
{
  int from = x1 + (x1 < x2 ? 2 : -2);
  int to = x2 + (x1 < x2 ? -4 : 4);

  g_string_append_printf (
      out,
      "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
      "stroke-width=\"%s\"%s%s marker-end=\"url(#a)\"/>\n",
      from, y, to, y, row_stroke (layout, row),
      is_server_push (row) ? "2.5" : "1.5", row_dash (layout, row),
      row->both_ways ? " marker-start=\"url(#b)\"" : "");
  if (row->decrypted)
    g_string_append_printf (out,
                            "<line class=\"decrypted\" x1=\"%d\" y1=\"%d\" "
                            "x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
                            "stroke-width=\"1.5\"%s/>\n",
                            from, y + 3, to + (x1 < x2 ? -4 : 4), y + 3,
                            row_stroke (layout, row), row_dash (layout, row));
}

static void
write_lint_row (GString *out, const SvgLayout *layout, const SvgRow *row, int y)
{
  int left;
  int right;
  g_autofree char *text = NULL;

  session_span (layout, row->session, &left, &right);
  text = svg_shorten (row->lint,
                      chars_in (layout, right - left - 24, layout->small));
  g_string_append (out, "<g class=\"lint\">\n");
  write_warning_mark (out, layout, left + 4, y + 4);
  g_string_append_printf (out,
                          "<text x=\"%d\" y=\"%d\" class=\"m\" "
                          "font-weight=\"bold\">%s</text>\n</g>\n",
                          left + 22, y + 3, text);
}

static void
write_row (GString *out,
           const SvgLayout *layout,
           const SvgRow *row,
           int y,
           gint64 base_us)
{
  int x1;
  int x2;

  if (row->kind == SVG_ROW_TLS_START)
    {
      write_tls_start (out, layout, row, y);
      return;
    }
  if (row->kind == SVG_ROW_LINT)
    {
      write_lint_row (out, layout, row, y);
      return;
    }
  row_ends (layout, row, &x1, &x2);
  g_string_append_printf (out, "<g class=\"%s\">\n", row_class (row));
  if (is_server_push (row) || row->look_alike)
    g_string_append_printf (
        out,
        "<rect x=\"%d\" y=\"%d\" width=\"%d\" "
        "height=\"%d\" fill=\"%s\"/>\n",
        MIN (x1, x2), y - layout->row / 2 - 4, ABS (x2 - x1), layout->row - 2,
        is_server_push (row) ? palette (layout)->idle_fill
                             : palette (layout)->look_alike);
  g_string_append_printf (out,
                          "<text x=\"8\" y=\"%d\" class=\"t\">%.3f s</text>\n",
                          y, (row->time_us - base_us) / 1e6);
  write_arrow (out, layout, row, x1, x2, y);
  if (row->unsolicited || (row->pushed && (layout->slide || layout->print)))
    write_push_mark (out, layout, x1 + (x1 < x2 ? 6 : -14), y);
  if (row->lint != NULL)
    write_warning_mark (out, layout, MAX (x1, x2) + 8, y + 5);
  write_label (out, layout, row, MIN (x1, x2) + 10, y, ABS (x2 - x1));
  g_string_append (out, "</g>\n");
}

/* The command's verb: its first word, after the tag in IMAP (RFC 9051
 * §2.2.1). */
static char *
command_verb (const SvgRow *row)
{
  const char *text = row->text;

  if (strcmp (row->session->protocol, "IMAP") == 0 && strchr (text, ' '))
    text = strchr (text, ' ') + 1;
  return g_strndup (text, strcspn (text, " "));
}

/* "⋮ 14 lines: EHLO, MAIL, RCPT, …" between the session's lanes. */
static void
write_fold (GString *out, const SvgLayout *layout, const SvgItem *item, int y)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GPtrArray) verbs = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *shown = NULL;
  guint lines = 0;
  int left;
  int right;

  for (guint i = 0; i < item->n_rows; i++)
    {
      const SvgRow *row = item->row + i;
      g_autofree char *verb = command_verb (row);
      lines += 1 + row->folded;
      if (row->kind == SVG_ROW_LINE &&
          row->direction == TRACE_CLIENT_TO_SERVER && !row->data &&
          verb[0] != '\0' &&
          !g_ptr_array_find_with_equal_func (verbs, verb, g_str_equal, NULL))
        g_ptr_array_add (verbs, g_steal_pointer (&verb));
    }
  g_string_printf (text, "⋮ %u lines folded", lines);
  for (guint i = 0; i < verbs->len && i < 5; i++)
    g_string_append_printf (text, "%s%s", i == 0 ? ": " : ", ",
                            (char *) g_ptr_array_index (verbs, i));
  if (verbs->len > 5)
    g_string_append (text, ", …");
  session_span (layout, item->row->session, &left, &right);
  shown = svg_shorten (text->str,
                       chars_in (layout, right - left - 16, layout->small));
  g_string_append_printf (out,
                          "<g class=\"fold\"><line x1=\"%d\" y1=\"%d\" "
                          "x2=\"%d\" y2=\"%d\" stroke=\"#9e9e9e\" "
                          "stroke-dasharray=\"1,3\"/>\n<text x=\"%d\" "
                          "y=\"%d\" class=\"m\">%s</text></g>\n",
                          left + 2, y + 2, right - 2, y + 2, left + 10, y - 2,
                          shown);
}

/* A zigzag across the picture: nothing happened for @pause_us. */
static void
write_break (GString *out, const SvgLayout *layout, gint64 pause_us, int y)
{
  double seconds = pause_us / 1e6;
  g_autofree char *text = seconds < 60
                              ? g_strdup_printf ("… %.1f s …", seconds)
                              : g_strdup_printf ("… %.1f min …", seconds / 60);
  int middle = layout->width / 2;

  g_string_append (out, "<g class=\"break\"><path d=\"");
  for (int x = 8; x < layout->width - 8; x += 16)
    g_string_append_printf (out, "%s%d,%d L%d,%d ", x == 8 ? "M" : "L", x, y,
                            x + 8, y - 4);
  g_string_append_printf (out,
                          "\" fill=\"none\" stroke=\"#9e9e9e\"/>\n"
                          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                          "fill=\"#ffffff\"/><text x=\"%d\" y=\"%d\" "
                          "class=\"m\" text-anchor=\"middle\">%s</text></g>\n",
                          middle - 60, y - 9, 120, 14, middle, y + 2, text);
}

/* The shaded band behind each TLS section: from its marker to the
 * session's last row drawn. */
static void
write_tls_bands (GString *out, TraceSvg *svg, const SvgLayout *layout)
{
  for (guint i = 0; i < svg->sessions->len; i++)
    {
      const TraceSvgSession *session = g_ptr_array_index (svg->sessions, i);
      int first = -1;
      int last = -1;
      int left;
      int right;

      for (guint j = 0; j < layout->items->len; j++)
        {
          const SvgItem *item = &g_array_index (layout->items, SvgItem, j);
          if (item->row == NULL || item->row->session != session)
            continue;
          if (first < 0 && item->row->kind == SVG_ROW_TLS_START)
            first = (int) j;
          last = (int) j;
        }
      if (first < 0)
        continue;
      session_span (layout, session, &left, &right);
      g_string_append_printf (
          out,
          "<rect class=\"tls-band\" x=\"%d\" y=\"%d\" width=\"%d\" "
          "height=\"%d\" fill=\"%s\"%s/>\n",
          left - 50, svg_layout_item_y (layout, (guint) first),
          right - left + 100, (last - first) * layout->row + layout->row / 2,
          session->decrypted ? palette (layout)->band_read
                             : palette (layout)->band,
          layout->print ? " stroke=\"#616161\" stroke-dasharray=\"2,2\"" : "");
    }
}

typedef enum
{
  SVG_KEY_LINE,   /* a stroke as the arrows have it */
  SVG_KEY_RECT,   /* a fill */
  SVG_KEY_PUSH,   /* the lightning mark */
  SVG_KEY_LINT,   /* the warning mark */
  SVG_KEY_DOUBLE, /* a decrypted line */
} SvgKeyKind;

typedef struct
{
  GString *out;
  const SvgLayout *layout;
  int x;
  int y;
} SvgLegend;

static void
legend_key (SvgLegend *legend,
            SvgKeyKind kind,
            const char *color,
            const char *dash,
            const char *text)
{
  GString *out = legend->out;
  int width =
      30 + (int) (g_utf8_strlen (text, -1) * 6.5 * legend->layout->small / 10) +
      24;
  int x;
  int y;

  if (legend->x + width - 24 > legend->layout->width - 10)
    {
      legend->x = 10;
      legend->y += 14;
    }
  x = legend->x;
  y = legend->y;
  if (kind == SVG_KEY_LINE || kind == SVG_KEY_DOUBLE)
    g_string_append_printf (out,
                            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                            "stroke=\"%s\" stroke-width=\"%s\"%s/>",
                            x, y - 4, x + 24, y - 4, color,
                            kind == SVG_KEY_DOUBLE ? "1.5" : "3", dash);
  if (kind == SVG_KEY_DOUBLE)
    g_string_append_printf (out,
                            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                            "stroke=\"%s\" stroke-width=\"1.5\"/>",
                            x, y - 7, x + 24, y - 7, color);
  if (kind == SVG_KEY_RECT)
    g_string_append_printf (out,
                            "<rect x=\"%d\" y=\"%d\" width=\"24\" "
                            "height=\"12\" fill=\"%s\" stroke=\"%s\"/>",
                            x, y - 10, color, dash);
  if (kind == SVG_KEY_PUSH)
    write_push_mark (out, legend->layout, x + 6, y - 2);
  if (kind == SVG_KEY_LINT)
    write_warning_mark (out, legend->layout, x + 6, y + 1);
  g_string_append_printf (
      out, "<text x=\"%d\" y=\"%d\" class=\"m\">%s</text>\n", x + 30, y, text);
  legend->x += width;
}

/* What the diagram uses, and only that beyond the four basic keys. */
typedef struct
{
  gboolean unsolicited;
  gboolean decrypted;
  gboolean lint;
  gboolean folds;
  gboolean breaks;
} SvgUses;

static SvgUses
find_uses (const SvgLayout *layout)
{
  SvgUses uses = { FALSE };

  for (guint i = 0; i < layout->items->len; i++)
    {
      const SvgItem *item = &g_array_index (layout->items, SvgItem, i);
      const SvgRow *row = item->row;
      uses.folds = uses.folds || item->kind == SVG_ITEM_FOLD;
      uses.breaks = uses.breaks || item->kind == SVG_ITEM_BREAK;
      if (row == NULL || item->kind != SVG_ITEM_ROW)
        continue;
      uses.unsolicited = uses.unsolicited || row->unsolicited;
      uses.decrypted = uses.decrypted || row->decrypted;
      uses.lint = uses.lint || row->lint != NULL;
    }
  return uses;
}

static void
write_legend (GString *out, TraceSvg *svg, const SvgLayout *layout)
{
  const SvgPalette *colors = palette (layout);
  gboolean marks = layout->slide || layout->print;
  SvgLegend legend = { out, layout, 10, 44 };
  SvgUses uses = find_uses (layout);

  legend_key (&legend, SVG_KEY_LINE, colors->push, "", "push: SMTP");
  legend_key (&legend, SVG_KEY_LINE, colors->pull, pull_dash (layout),
              "pull: POP3, IMAP");
  legend_key (&legend, marks ? SVG_KEY_PUSH : SVG_KEY_LINE, colors->idle, "",
              marks ? "server push: sent unasked"
                    : "pushed by the server during IDLE");
  legend_key (&legend, SVG_KEY_LINE, colors->tls, "", "TLS: records only");
  if (uses.unsolicited && !marks)
    legend_key (&legend, SVG_KEY_PUSH, colors->idle, "",
                "server push: no command asked");
  if (uses.decrypted)
    legend_key (&legend, SVG_KEY_DOUBLE, colors->pull, "",
                "decrypted (--keylog)");
  if (uses.lint)
    legend_key (&legend, SVG_KEY_LINT, NULL, "", "lint finding");
  if (svg_has_journeys (svg, layout))
    legend_key (&legend, SVG_KEY_LINE, layout->print ? "#000000" : "#6a1b9a",
                "", "thread: one message's journey");
  if (uses.folds)
    legend_key (&legend, SVG_KEY_LINE, "#9e9e9e", " stroke-dasharray=\"1,3\"",
                "⋮ lines folded to fit");
  if (!svg->look_alikes) /* so the diagrams without one stay as they were */
    return;
  if (legend.x + 200 > layout->width) /* on a line of its own */
    {
      legend.x = 10;
      legend.y += 14;
    }
  legend_key (&legend, SVG_KEY_RECT, colors->look_alike, colors->warning,
              "end-of-data look-alike");
}

static void
write_lifeline (GString *out, const SvgLayout *layout, const SvgLane *lane)
{
  glong name_room =
      layout->slide ? chars_in (layout, MIN (layout->gap, 160) - 8, 14) : 30;
  glong role_room =
      layout->slide
          ? chars_in (layout, MIN (layout->gap, 160) - 8, layout->small)
          : 40;
  g_autofree char *title = svg_shorten (lane->name, name_room);
  g_autofree char *subtitle = svg_shorten (lane->role, role_room);
  const SvgPalette *colors = palette (layout);

  g_string_append_printf (out,
                          "<text x=\"%d\" y=\"%d\" class=\"h\" "
                          "text-anchor=\"middle\">%s</text>\n"
                          "<text x=\"%d\" y=\"%d\" class=\"m\" "
                          "text-anchor=\"middle\">%s</text>\n"
                          "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                          "stroke=\"%s\" stroke-width=\"2\" "
                          "stroke-opacity=\"0.5\"/>\n",
                          lane->x, layout->top - 22, title, lane->x,
                          layout->top - 9, subtitle, lane->x, layout->top,
                          lane->x, layout->height - 16,
                          lane->push ? colors->push : colors->pull);
}

/* Each session's client, then its server, each lane once. */
static void
write_lifelines (GString *out, TraceSvg *svg, const SvgLayout *layout)
{
  g_autoptr (GHashTable) drawn = g_hash_table_new (NULL, NULL);

  for (guint i = 0; i < svg->sessions->len; i++)
    {
      TraceSvgSession *session = g_ptr_array_index (svg->sessions, i);
      const SvgLane *client = svg_layout_client_lane (layout, session);
      const SvgLane *server = svg_layout_server_lane (layout, session);

      if (g_hash_table_add (drawn, (gpointer) client))
        write_lifeline (out, layout, client);
      if (g_hash_table_add (drawn, (gpointer) server))
        write_lifeline (out, layout, server);
    }
}

static char *
default_title (TraceSvg *svg, const SvgLayout *layout)
{
  TraceSvgSession *first = g_ptr_array_index (svg->sessions, 0);
  g_autoptr (GString) title = g_string_new (NULL);

  if (svg->sessions->len == 1)
    return g_strdup_printf ("%s session %u: %s -> %s", first->protocol,
                            first->stream,
                            svg_layout_client_lane (layout, first)->name,
                            svg_layout_server_lane (layout, first)->name);
  g_string_printf (title, "%u sessions:", svg->sessions->len);
  for (guint i = 0; i < svg->sessions->len; i++)
    {
      TraceSvgSession *session = g_ptr_array_index (svg->sessions, i);
      g_string_append_printf (title, "%s %s %u (%s)", i > 0 ? "," : "",
                              session->protocol, session->stream,
                              svg_layout_client_lane (layout, session)->name);
    }
  return g_strdup (title->str);
}

static void
write_header (GString *out, TraceSvg *svg, const SvgLayout *layout)
{
  g_autofree char *fallback = NULL;
  g_autofree char *title = NULL;
  const char *said = svg->options.title != NULL ? svg->options.title : "";

  if (svg->options.title == NULL && svg->sessions->len > 0)
    said = fallback = default_title (svg, layout);
  title = layout->slide
              ? svg_shorten (said, chars_in (layout, layout->width - 20, 15))
              : svg_shorten (said, G_MAXLONG);
  g_string_append_printf (
      out,
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans Mono, monospace\">\n"
      "<!-- drawn by mw-trace -->\n"
      "<style>.t{font-size:11px;fill:#757575}.l{font-size:%dpx}"
      ".m{font-size:%dpx;fill:%s}.h{font-size:%dpx;font-weight:bold}"
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
      layout->text, layout->small, layout->print ? "#212121" : "#546e7a",
      layout->slide ? 14 : 15, title);
  write_legend (out, svg, layout);
}

static void
write_items (GString *out, TraceSvg *svg, const SvgLayout *layout)
{
  gint64 base_us = G_MAXINT64;

  for (guint i = 0; i < svg->sessions->len; i++)
    base_us = MIN (
        base_us,
        ((TraceSvgSession *) g_ptr_array_index (svg->sessions, i))->first_us);
  for (guint i = 0; i < layout->items->len; i++)
    {
      const SvgItem *item = &g_array_index (layout->items, SvgItem, i);
      int y = svg_layout_item_y (layout, i);

      if (item->kind == SVG_ITEM_ROW)
        write_row (out, layout, item->row, y, base_us);
      else if (item->kind == SVG_ITEM_FOLD)
        write_fold (out, layout, item, y);
      else
        write_break (out, layout, item->pause_us, y);
    }
}

static void
write_notes (GString *out, TraceSvg *svg, const SvgLayout *layout)
{
  if (svg->skipped > 0)
    g_string_append_printf (out,
                            "<text x=\"8\" y=\"%d\" class=\"m\">(%u earlier "
                            "lines not drawn)</text>\n",
                            layout->top + 4, svg->skipped);
  if (svg->after > 0)
    g_string_append_printf (out,
                            "<text x=\"8\" y=\"%d\" class=\"m\">(%u later "
                            "lines not drawn)</text>\n",
                            layout->height - 22, svg->after);
  if (svg->sessions->len == 0)
    g_string_append (out, "<text x=\"10\" y=\"80\" class=\"m\">(no mail "
                          "session to draw)</text>\n");
  if (svg->dropped > 0)
    g_string_append_printf (out,
                            "<text x=\"10\" y=\"%d\" class=\"m\">(%u more "
                            "lines not drawn)</text>\n",
                            layout->height - 5, svg->dropped);
  if (layout->cut > 0)
    g_string_append_printf (out,
                            "<text x=\"%d\" y=\"%d\" class=\"m\" "
                            "text-anchor=\"end\">(%u more lines did not fit: "
                            "--session N,... draws fewer)</text>\n",
                            layout->width - 10, layout->height - 5,
                            layout->cut);
}

GString *
svg_write_diagram (TraceSvg *svg, const SvgLayout *layout)
{
  GString *out = g_string_new (NULL);

  write_header (out, svg, layout);
  write_tls_bands (out, svg, layout);
  write_lifelines (out, svg, layout);
  write_items (out, svg, layout);
  svg_write_journeys (out, svg, layout);
  write_notes (out, svg, layout);
  g_string_append (out, "</svg>\n");
  return out;
}
