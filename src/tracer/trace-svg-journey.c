/* SPDX-License-Identifier: MIT
 * trace-svg-journey.c: the journey of each message (trace-journey.h) as
 * a thread through the diagram: a coloured polyline from hop to hop
 * (pushed to a server, relayed to the next, pulled by a client, pushed to
 * a client in IDLE), a dot on each hop (hollow when the hop was inferred
 * from time alone, inside TLS without keys), labelled with the message's
 * subject or the short form of its Message-ID (RFC 5322 §3.6.4).
 */
#include <string.h>

#include "trace-journey.h"
#include "trace-svg-private.h"

#define SVG_MAX_THREADS 6

static const char *const thread_colors[SVG_MAX_THREADS] = {
  "#6a1b9a", "#00838f", "#558b2f", "#c62828", "#4527a0", "#f9a825",
};

/* In print each thread is black, told apart by its dash. */
static const char *const thread_dashes[SVG_MAX_THREADS] = {
  "", "8,3", "2,2", "8,3,2,3", "12,4", "4,4",
};

static const TraceSvgSession *
drawn_session (TraceSvg *svg, guint stream)
{
  for (guint i = 0; i < svg->sessions->len; i++)
    {
      const TraceSvgSession *session = g_ptr_array_index (svg->sessions, i);
      if (session->stream == stream)
        return session;
    }
  return NULL;
}

/* The row of @session at the hop's time: the last one that began by
 * then; or its first row, when the hop came after the connection began
 * but before any line (an inferred hop has the session's time) and the
 * diagram starts with the session (no --svg-from); -1 when the hop is
 * outside what is drawn. */
static int
hop_item (TraceSvg *svg,
          const SvgLayout *layout,
          const TraceSvgSession *session,
          gint64 time_us)
{
  gboolean early = svg->skipped == 0 && time_us >= session->first_us;
  int found = -1;

  for (guint i = 0; i < layout->items->len; i++)
    {
      const SvgItem *item = &g_array_index (layout->items, SvgItem, i);
      if (item->row == NULL || item->row->session != session)
        continue;
      if (item->row->time_us > time_us)
        return found >= 0 || !early ? found : (int) i;
      found = (int) i;
    }
  return found;
}

/* A push or relay ends at the server that took the message; a pull or
 * an IDLE push at the client that was told. */
static int
hop_x (const SvgLayout *layout,
       const TraceSvgSession *session,
       TraceHopKind kind)
{
  if (kind == TRACE_HOP_PUSH || kind == TRACE_HOP_RELAY)
    return svg_layout_server_lane (layout, session)->x;
  return svg_layout_client_lane (layout, session)->x;
}

/* The subject, or the Message-ID's part before "@". */
static char *
thread_name (const TraceJourney *journey)
{
  const char *subject = trace_journey_subject (journey);
  const char *id = trace_journey_message_id (journey);

  if (subject != NULL && subject[0] != '\0')
    return g_strdup_printf ("\"%s\"", subject);
  if (id != NULL)
    return g_strndup (id + (id[0] == '<'), strcspn (id + (id[0] == '<'), "@>"));
  return g_strdup ("a message");
}

static void
write_thread (GString *out,
              TraceSvg *svg,
              const SvgLayout *layout,
              const TraceJourney *journey,
              guint index)
{
  const char *color = layout->print ? "#000000" : thread_colors[index];
  g_autoptr (GString) points = g_string_new (NULL);
  g_autoptr (GString) dots = g_string_new (NULL);
  g_autofree char *name = thread_name (journey);
  g_autofree char *shown = NULL;
  int first_x = -1;
  int first_y = 0;
  guint n = 0;

  for (guint i = 0; i < trace_journey_hop_count (journey); i++)
    {
      const TraceJourneyHop *hop = trace_journey_hop (journey, i);
      const TraceSvgSession *session = drawn_session (svg, hop->stream);
      int item =
          session != NULL ? hop_item (svg, layout, session, hop->time_us) : -1;
      int x;
      int y;

      if (item < 0)
        continue;
      x = hop_x (layout, session, hop->kind) + (int) index * 4 - 10;
      y = svg_layout_item_y (layout, (guint) item) + 4;
      g_string_append_printf (points, "%s%d,%d", n > 0 ? " " : "", x, y);
      g_string_append_printf (dots,
                              "<circle cx=\"%d\" cy=\"%d\" r=\"4\" "
                              "fill=\"%s\" stroke=\"%s\" stroke-width=\"1.5\">"
                              "<title>%s</title></circle>\n",
                              x, y, hop->inferred ? "#ffffff" : color, color,
                              trace_hop_kind_name (hop->kind));
      if (n++ == 0)
        {
          first_x = x;
          first_y = y;
        }
    }
  if (n == 0)
    return;
  shown = svg_shorten (name, 24);
  g_string_append_printf (
      out,
      "<g class=\"journey\"><polyline points=\"%s\" "
      "fill=\"none\" stroke=\"%s\" stroke-width=\"3\" "
      "stroke-opacity=\"0.55\" stroke-linejoin=\"round\"%s"
      "%s%s/>\n%s<text x=\"%d\" y=\"%d\" class=\"m\" "
      "fill=\"%s\" font-weight=\"bold\" stroke=\"#ffffff\" "
      "stroke-width=\"3\" paint-order=\"stroke\" "
      "text-anchor=\"%s\">%s</text></g>\n",
      points->str, color,
      layout->print && index > 0 ? " stroke-dasharray=\"" : "",
      layout->print && index > 0 ? thread_dashes[index] : "",
      layout->print && index > 0 ? "\"" : "", dots->str, first_x - 8,
      first_y - 7, color, first_x > layout->width / 2 ? "end" : "start", shown);
}

/* Is a thread drawn: does a journey (of the first SVG_MAX_THREADS) have a
 * hop on a row drawn? */
gboolean
svg_has_journeys (TraceSvg *svg, const SvgLayout *layout)
{
  guint count = svg->journeys ? trace_journeys_count (svg->journeys) : 0;

  for (guint i = 0; i < count && i < SVG_MAX_THREADS; i++)
    {
      const TraceJourney *journey = trace_journeys_get (svg->journeys, i);
      for (guint j = 0; j < trace_journey_hop_count (journey); j++)
        {
          const TraceJourneyHop *hop = trace_journey_hop (journey, j);
          const TraceSvgSession *session = drawn_session (svg, hop->stream);
          if (session != NULL &&
              hop_item (svg, layout, session, hop->time_us) >= 0)
            return TRUE;
        }
    }
  return FALSE;
}

void
svg_write_journeys (GString *out, TraceSvg *svg, const SvgLayout *layout)
{
  guint count;

  if (!svg_has_journeys (svg, layout))
    return;
  count = trace_journeys_count (svg->journeys);
  for (guint i = 0; i < count && i < SVG_MAX_THREADS; i++)
    write_thread (out, svg, layout, trace_journeys_get (svg->journeys, i), i);
  if (count > SVG_MAX_THREADS)
    g_string_append_printf (out,
                            "<text x=\"10\" y=\"%d\" class=\"m\">(%u more "
                            "journeys not drawn)</text>\n",
                            layout->height - 18, count - SVG_MAX_THREADS);
}
