/* SPDX-License-Identifier: MIT
 * trace-svg-layout.c: where --svg puts things. One lane per endpoint: a
 * server is an address and port, a client a host (on loopback, where
 * every client is one host, a session; --svg-label names and merges
 * them), and a relaying MTA's client is that MTA's own lane, found by its
 * EHLO name being the host of another server's greeting (RFC 5321
 * §4.1.1.1, §4.2). Lanes are named by the role the sessions show: "MSA
 * :2587" (AUTH, RFC 4954; or a submission port, RFC 6409 §3.1, RFC 8314
 * §3.3), "MTA", "next MTA", "POP3 server", "IMAP server", "alice's
 * client", "bob's device 1". Rows are in the order the lines crossed the
 * wire; a pause of TRACE_SVG_BREAK_US or more is a break row. Fitted to a
 * slide (1280x720 user units, text 11 px or more), long runs of one
 * session are folded in the middle until the rows fit.
 */
#include <string.h>

#include "trace-svg-private.h"

#define TIME_WIDTH 64 /* the time column */
#define MARGIN 96     /* from the time column to the first lifeline */
#define SLIDE_WIDTH 1280
#define SLIDE_HEIGHT 720
#define SLIDE_MARGIN 84
#define SLIDE_TOP 104   /* below title, legend and lane names */
#define SLIDE_FOOTER 30 /* the notes under the rows */
#define SLIDE_MIN_ROW 15
#define SLIDE_MAX_ROW 30 /* as --svg-compact draws them */
#define SLIDE_MIN_GAP 120

static void
lane_free (gpointer data)
{
  SvgLane *lane = data;

  g_free (lane->key);
  g_free (lane->name);
  g_free (lane->role);
  g_free (lane);
}

static int
lane_index (const SvgLayout *layout, const char *key)
{
  for (guint i = 0; i < layout->lanes->len; i++)
    if (strcmp (((SvgLane *) g_ptr_array_index (layout->lanes, i))->key, key) ==
        0)
      return (int) i;
  return -1;
}

static void
add_lane (SvgLayout *layout, const char *key, gboolean push)
{
  SvgLane *lane = g_new0 (SvgLane, 1);

  lane->key = g_strdup (key);
  lane->push = push;
  g_ptr_array_add (layout->lanes, lane);
}

/* The server whose greeting named the host @session's client said EHLO
 * as: the client is that MTA, relaying. */
static const TraceSvgSession *
relaying_server (TraceSvg *svg, const TraceSvgSession *session)
{
  if (!session->push || session->helo == NULL)
    return NULL;
  for (guint i = 0; i < svg->sessions->len; i++)
    {
      const TraceSvgSession *other = g_ptr_array_index (svg->sessions, i);
      if (other->push && other->greeting_host != NULL &&
          strcmp (other->server_key, session->server_key) != 0 &&
          g_ascii_strcasecmp (other->greeting_host, session->helo) == 0)
        return other;
    }
  return NULL;
}

static char *
client_key (TraceSvg *svg, const TraceSvgSession *session)
{
  const TraceSvgSession *relay = relaying_server (svg, session);

  if (session->label != NULL)
    return g_strdup_printf ("label %s", session->label);
  if (relay != NULL)
    return g_strdup (relay->server_key);
  if (!session->client_loopback)
    return g_strdup_printf ("host %s", session->client_host);
  /* on loopback every client is one host: one lane per user who pushes,
   * one per session that pulls (each may be another device) */
  if (session->push && session->user != NULL)
    return g_strdup_printf ("user %s", session->user);
  return g_strdup_printf ("c%u", session->stream);
}

/* Lifelines left to right: the first client, its server, then each new
 * server followed by its client; a client of a server already drawn
 * goes to the right end (phone | IMAP server | laptop). */
static void
place_lanes (TraceSvg *svg, SvgLayout *layout)
{
  for (guint i = 0; i < svg->sessions->len; i++)
    {
      TraceSvgSession *session = g_ptr_array_index (svg->sessions, i);
      g_autofree char *client = client_key (svg, session);
      gboolean new_server = lane_index (layout, session->server_key) < 0;
      gboolean new_client = lane_index (layout, client) < 0;

      if (new_server && layout->lanes->len == 0)
        {
          add_lane (layout, client, session->push);
          add_lane (layout, session->server_key, session->push);
        }
      else if (new_server)
        {
          add_lane (layout, session->server_key, session->push);
          if (new_client)
            add_lane (layout, client, session->push);
        }
      else if (new_client)
        add_lane (layout, client, session->push);
      session->client_lane = lane_index (layout, client);
      session->server_lane = lane_index (layout, session->server_key);
    }
}

static gboolean
is_submission_port (guint16 port)
{
  /* RFC 6409 §3.1 (587), RFC 8314 §3.3 (465), and mailwire's 2587/2465 */
  return port == 587 || port == 465 || port == 2587 || port == 2465;
}

static gboolean
is_server_lane (TraceSvg *svg, int index)
{
  for (guint i = 0; i < svg->sessions->len; i++)
    if (((TraceSvgSession *) g_ptr_array_index (svg->sessions, i))
            ->server_lane == index)
      return TRUE;
  return FALSE;
}

/* "MSA :2587", "MTA :2525", "next MTA :3525" (an MTA's client sends it
 * mail), "POP3 server :2110"; NULL for a client's lane. */
static char *
server_name (TraceSvg *svg, int index)
{
  gboolean submission = FALSE;
  gboolean relayed_to = FALSE;
  const TraceSvgSession *any = NULL;

  for (guint i = 0; i < svg->sessions->len; i++)
    {
      const TraceSvgSession *session = g_ptr_array_index (svg->sessions, i);
      if (session->server_lane != index)
        continue;
      any = session;
      submission = submission || session->auth ||
                   is_submission_port (session->server_port);
      relayed_to = relayed_to || is_server_lane (svg, session->client_lane);
    }
  if (any == NULL)
    return NULL;
  if (!any->push)
    return g_strdup_printf ("%s server :%u", any->protocol, any->server_port);
  return g_strdup_printf ("%s :%u",
                          submission   ? "MSA"
                          : relayed_to ? "next MTA"
                                       : "MTA",
                          any->server_port);
}

static void
name_servers (TraceSvg *svg, SvgLayout *layout)
{
  for (guint i = 0; i < layout->lanes->len; i++)
    {
      SvgLane *lane = g_ptr_array_index (layout->lanes, i);
      gboolean relays = FALSE;
      gboolean mailbox = FALSE;

      for (guint j = 0; j < svg->sessions->len; j++)
        {
          const TraceSvgSession *session = g_ptr_array_index (svg->sessions, j);
          mailbox =
              mailbox || (session->server_lane == (int) i && !session->push);
          relays = relays || session->client_lane == (int) i;
        }
      lane->name = server_name (svg, (int) i);
      if (lane->name != NULL)
        lane->role = g_strdup (mailbox  ? "holds the mailbox"
                               : relays ? "receives mail, relays it"
                                        : "receives mail");
    }
}

/* A client lane's name: its label, "alice's client" for a push,
 * "bob's device 2" for the second device that pulls bob's mail. */
static void
name_clients (TraceSvg *svg, SvgLayout *layout)
{
  g_autoptr (GHashTable) devices = g_hash_table_new (g_str_hash, g_str_equal);
  guint unnamed = 0;

  for (guint i = 0; i < svg->sessions->len; i++)
    {
      TraceSvgSession *session = g_ptr_array_index (svg->sessions, i);
      SvgLane *lane = g_ptr_array_index (layout->lanes, session->client_lane);
      const char *user = session->user;
      guint n;

      if (lane->name != NULL)
        continue;
      lane->role = g_strdup_printf ("%s client: %s", session->protocol,
                                    session->push ? "push" : "pull");
      if (session->label != NULL)
        lane->name = g_strdup (session->label);
      else if (user != NULL && session->push)
        lane->name = g_strdup_printf ("%s's client", user);
      else if (session->push && session->helo != NULL)
        lane->name = g_strdup (session->helo); /* RFC 5321 §4.1.1.1 */
      else if (session->push || strcmp (session->protocol, "TLS") == 0)
        lane->name = g_strdup (session->client_port_name);
      else
        {
          n = GPOINTER_TO_UINT (
                  g_hash_table_lookup (devices, user ? user : "")) +
              1;
          g_hash_table_insert (devices, (gpointer) (user ? user : ""),
                               GUINT_TO_POINTER (n));
          lane->name = user != NULL
                           ? g_strdup_printf ("%s's device %u", user, n)
                           : g_strdup_printf ("device %u", ++unnamed);
        }
    }
}

/* ---- rows ----------------------------------------------------------- */

static void
build_items (TraceSvg *svg, SvgLayout *layout)
{
  for (guint i = 0; i < svg->rows->len; i++)
    {
      SvgRow *row = &g_array_index (svg->rows, SvgRow, i);
      SvgItem item = { SVG_ITEM_ROW, row, 1 };

      if (i > 0)
        {
          gint64 pause = row->time_us - (row - 1)->time_us;
          SvgItem pause_item = { SVG_ITEM_BREAK, NULL, 0, pause };
          if (pause >= TRACE_SVG_BREAK_US)
            g_array_append_val (layout->items, pause_item);
        }
      g_array_append_val (layout->items, item);
    }
}

/* Can @item be folded away into a run of its session's rows? What a
 * reader must see stays: pushes, lint, look-alikes, the start of TLS. */
static gboolean
is_foldable (const SvgItem *item,
             const TraceSvgSession *session,
             gboolean records_only)
{
  const SvgRow *row = item->row;

  if (item->kind == SVG_ITEM_BREAK || row->session != session)
    return FALSE;
  if (records_only)
    return item->kind == SVG_ITEM_FOLD || row->kind == SVG_ROW_TLS;
  if (item->kind == SVG_ITEM_FOLD)
    return TRUE;
  return row->kind != SVG_ROW_TLS_START && row->kind != SVG_ROW_LINT &&
         !row->pushed && !row->unsolicited && !row->look_alike &&
         row->lint == NULL;
}

/* The longest run of foldable items of one session (@records_only: of
 * TLS records): its start and length (0 if none). */
static guint
longest_run (const SvgLayout *layout, gboolean records_only, guint *out_start)
{
  guint best = 0;

  for (guint i = 0; i < layout->items->len;)
    {
      SvgItem *first = &g_array_index (layout->items, SvgItem, i);
      guint n = 0;

      while (i + n < layout->items->len &&
             is_foldable (&g_array_index (layout->items, SvgItem, i + n),
                          first->row ? first->row->session : NULL,
                          records_only))
        n++;
      if (n > best)
        {
          best = n;
          *out_start = i;
        }
      i += MAX (n, 1);
    }
  return best;
}

/* Folds the run of @length items at @start, keeping @keep_first items
 * before the fold and @keep_last after it. */
static void
fold_run (SvgLayout *layout,
          guint start,
          guint length,
          guint keep_first,
          guint keep_last)
{
  guint from = start + keep_first;
  guint n = length - keep_first - keep_last;
  SvgItem *first = &g_array_index (layout->items, SvgItem, from);
  SvgItem *last = &g_array_index (layout->items, SvgItem, from + n - 1);
  SvgItem fold = { SVG_ITEM_FOLD, first->row };
  SvgItem *before = from > 0 ? first - 1 : NULL;

  fold.n_rows = (guint) (last->row - first->row) + last->n_rows;
  if (before != NULL && before->kind == SVG_ITEM_FOLD &&
      before->row + before->n_rows == first->row)
    {
      before->n_rows += fold.n_rows; /* one fold, not two in a row */
      g_array_remove_range (layout->items, from, n);
      return;
    }
  g_array_remove_range (layout->items, from, n);
  g_array_insert_val (layout->items, from, fold);
}

/* Long stories on one slide: TLS records go first (after the first of
 * each run: the handshake's ClientHello), then the middles of the
 * longest runs are folded ("⋮ 14 lines"), first keeping two rows before
 * and one after, then one before; what still does not fit is cut at the
 * end. */
static void
fit_items (SvgLayout *layout, guint capacity)
{
  guint start = 0;
  guint length;

  while (layout->items->len > capacity &&
         (length = longest_run (layout, TRUE, &start)) >= 3)
    fold_run (layout, start, length, 1, 0);
  while (layout->items->len > capacity &&
         (length = longest_run (layout, FALSE, &start)) >= 5)
    fold_run (layout, start, length, 2, 1);
  while (layout->items->len > capacity &&
         (length = longest_run (layout, FALSE, &start)) >= 3)
    fold_run (layout, start, length, 1, 0);
  while (layout->items->len > capacity)
    {
      SvgItem *item =
          &g_array_index (layout->items, SvgItem, layout->items->len - 1);
      layout->cut += item->kind == SVG_ITEM_FOLD  ? item->n_rows
                     : item->kind == SVG_ITEM_ROW ? 1
                                                  : 0;
      g_array_remove_index (layout->items, layout->items->len - 1);
    }
}

/* ---- geometry -------------------------------------------------------- */

/* A row per line, as long as it takes (the diagrams before slides were
 * fitted look the same). */
static void
size_full (TraceSvg *svg, SvgLayout *layout)
{
  gboolean compact = svg->options.compact;
  gboolean one = svg->sessions->len <= 1;
  int lanes = (int) layout->lanes->len;

  layout->row = compact ? 30 : 36;
  layout->text = compact ? 12 : 13;
  layout->small = 10;
  layout->meaning = TRUE;
  layout->gap = one ? (compact ? 560 : 580) : (compact ? 340 : 440);
  layout->top = 96;
  layout->first = 24;
  layout->skip = svg->skipped > 0 ? layout->row / 2 : 0;
  layout->width = TIME_WIDTH + 2 * MARGIN + MAX (1, lanes - 1) * layout->gap;
  layout->height = layout->top + 40 + (int) layout->items->len * layout->row +
                   layout->skip + (svg->after > 0 ? layout->row / 2 : 0);
  for (int i = 0; i < lanes; i++)
    ((SvgLane *) g_ptr_array_index (layout->lanes, i))->x =
        TIME_WIDTH + MARGIN + i * layout->gap;
}

/* 1280x720 at most: rows between 15 and 30 units high, the meaning under
 * a line only when there is room for it; fewer rows make a shorter
 * picture, more lanes than fit a wider one (its room for rows still 720,
 * its height at most 16:9 of its width). */
static void
size_slide (TraceSvg *svg, SvgLayout *layout)
{
  int lanes = MAX (2, (int) layout->lanes->len);
  int room = SLIDE_HEIGHT - SLIDE_TOP - SLIDE_FOOTER;
  int n;

  layout->skip = svg->skipped > 0 ? SLIDE_MIN_ROW : 0;
  room -= layout->skip;
  fit_items (layout, (guint) (room / SLIDE_MIN_ROW));
  n = MAX (1, (int) layout->items->len);
  layout->row = CLAMP (room / n, SLIDE_MIN_ROW, SLIDE_MAX_ROW);
  layout->meaning = layout->row >= 28;
  layout->text = layout->row >= 20 ? 12 : 11;
  layout->small = 11;
  layout->top = SLIDE_TOP;
  layout->first = layout->row / 2 + 4;
  layout->gap =
      MAX (SLIDE_MIN_GAP,
           (SLIDE_WIDTH - TIME_WIDTH - 2 * SLIDE_MARGIN) / (lanes - 1));
  layout->width = MAX (SLIDE_WIDTH, TIME_WIDTH + 2 * SLIDE_MARGIN +
                                        (lanes - 1) * layout->gap);
  /* at most 16:9; a short story is no taller than its rows */
  layout->height =
      MIN (layout->width * 9 / 16,
           SLIDE_TOP + layout->skip + n * layout->row + SLIDE_FOOTER);
  for (guint i = 0; i < layout->lanes->len; i++)
    ((SvgLane *) g_ptr_array_index (layout->lanes, i))->x =
        TIME_WIDTH + SLIDE_MARGIN + (int) i * layout->gap;
}

void
svg_layout_init (TraceSvg *svg, SvgLayout *layout)
{
  TraceSvgSize size = svg->options.size;

  layout->slide = size == TRACE_SVG_SIZE_SLIDE ||
                  (size == TRACE_SVG_SIZE_AUTO && svg->options.n_streams == 0);
  layout->print = svg->options.print;
  layout->lanes = g_ptr_array_new_with_free_func (lane_free);
  layout->items = g_array_new (FALSE, TRUE, sizeof (SvgItem));
  place_lanes (svg, layout);
  name_servers (svg, layout);
  name_clients (svg, layout);
  build_items (svg, layout);
  if (layout->slide)
    size_slide (svg, layout);
  else
    size_full (svg, layout);
}

void
svg_layout_clear (SvgLayout *layout)
{
  g_clear_pointer (&layout->lanes, g_ptr_array_unref);
  g_clear_pointer (&layout->items, g_array_unref);
}

const SvgLane *
svg_layout_client_lane (const SvgLayout *layout, const TraceSvgSession *session)
{
  return g_ptr_array_index (layout->lanes, session->client_lane);
}

const SvgLane *
svg_layout_server_lane (const SvgLayout *layout, const TraceSvgSession *session)
{
  return g_ptr_array_index (layout->lanes, session->server_lane);
}

int
svg_layout_item_y (const SvgLayout *layout, guint index)
{
  return layout->top + layout->first + layout->skip + (int) index * layout->row;
}
