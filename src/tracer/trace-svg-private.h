/* SPDX-License-Identifier: MIT
 * trace-svg-private.h: what the three parts of --svg share. trace-svg.c
 * collects the lines of the sessions drawn (folding, --svg-from/--svg-to,
 * server pushes, TLS, lint); trace-svg-layout.c places them (one lane per
 * endpoint, named by its role; rows, time breaks, folding to fit a 16:9
 * slide); trace-svg-write.c draws the SVG.
 */
#pragma once

#include "trace-output.h"

G_BEGIN_DECLS

#define TRACE_SVG_MAX 400         /* rows kept */
#define TRACE_SVG_MAX_SESSIONS 16 /* sessions drawn */
#define TRACE_SVG_BREAK_US 500000 /* a pause this long is drawn as a break */
#define TRACE_SVG_MONO_RATIO 0.6  /* DejaVu Sans Mono: advance = 0.6 em */

typedef enum
{
  SVG_ROW_LINE,      /* a command, reply or data line */
  SVG_ROW_TLS,       /* a TLS record */
  SVG_ROW_TLS_START, /* the marker: readable up to here */
  SVG_ROW_LINT,      /* a lint finding with no line of its own to sit on */
} SvgRowKind;

struct _TraceSvgSession
{
  guint stream;           /* tcp.stream */
  int order;              /* place in --session, or in the capture */
  char *label;            /* --svg-label, or NULL */
  char *client_port_name; /* "client :46588" */
  char *client_host;      /* the client's address */
  gboolean client_loopback;
  char *server_key; /* address and port: sessions to one server share it */
  guint16 server_port;
  const char *protocol;
  gboolean push; /* SMTP */
  gboolean implicit_tls;
  gboolean tls_seen;
  gboolean decrypted; /* lines were read inside TLS (--keylog) */
  guint64 tls_bytes;  /* of the records nobody could read */
  guint tls_rows;     /* TLS rows drawn: compact folds from the third on */
  gint64 first_us;
  /* what the lines tell about the endpoints, for the lanes' names */
  char *user;            /* MAIL FROM's local part, USER, LOGIN */
  char *helo;            /* the client's EHLO/HELO name */
  char *greeting_host;   /* the first word after "220 " */
  gboolean auth;         /* AUTH was sent: a submission server */
  gboolean greeted;      /* the server's first line was seen */
  GHashTable *open_tags; /* IMAP commands not yet answered */
  char *pending_lint;    /* lint said before its line: for the next row */
  gint64 lint_us;
  int client_lane; /* places in SvgLayout.lanes */
  int server_lane;
};

typedef struct
{
  SvgRowKind kind;
  TraceSvgSession *session;
  int direction;
  gboolean pushed;      /* server push during IDLE */
  gboolean unsolicited; /* an untagged response no command asked for */
  gboolean decrypted;   /* read inside TLS with the key log */
  gboolean both_ways;
  gint64 time_us;
  char *text;
  char *meaning;
  char *lint; /* lint findings about this line, or NULL */
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
  const TraceJourneys *journeys; /* the sessions' (trace-journey.h) */
};

/* One lifeline: a server (address and port) or a client. */
typedef struct
{
  char *key;
  char *name;    /* "MSA :2587", "alice's client" */
  char *role;    /* "SMTP server: receives mail" */
  gboolean push; /* an SMTP lane */
  int x;
} SvgLane;

typedef enum
{
  SVG_ITEM_ROW,   /* one row of svg->rows */
  SVG_ITEM_FOLD,  /* a run of one session's rows, folded to fit */
  SVG_ITEM_BREAK, /* nothing happened for a while: "… 1.8 s …" */
} SvgItemKind;

typedef struct
{
  SvgItemKind kind;
  SvgRow *row;     /* ROW; FOLD: the first row folded */
  guint n_rows;    /* FOLD: rows folded, from @row on in svg->rows */
  gint64 pause_us; /* BREAK */
} SvgItem;

/* The geometry of one diagram. */
typedef struct
{
  gboolean slide; /* fitted to a 1280x720 viewBox */
  gboolean print; /* black on white */
  int row;        /* row height */
  int gap;        /* between lifelines */
  int text;       /* font sizes, px */
  int small;
  int width;
  int height;
  int top;          /* below title, legend and names */
  int first;        /* from there to the first row */
  int skip;         /* room for the "earlier lines" note */
  gboolean meaning; /* room for the meaning under each line */
  GPtrArray *lanes; /* of SvgLane, left to right */
  GArray *items;    /* of SvgItem, top to bottom */
  guint cut;        /* rows not drawn: they did not fit */
} SvgLayout;

/* trace-svg-layout.c */
void svg_layout_init (TraceSvg *svg, SvgLayout *layout);
void svg_layout_clear (SvgLayout *layout);
const SvgLane *svg_layout_client_lane (const SvgLayout *layout,
                                       const TraceSvgSession *session);
const SvgLane *svg_layout_server_lane (const SvgLayout *layout,
                                       const TraceSvgSession *session);
int svg_layout_item_y (const SvgLayout *layout, guint index);

/* trace-svg-journey.c: each message's journey, a thread over the rows */
gboolean svg_has_journeys (TraceSvg *svg, const SvgLayout *layout);
void svg_write_journeys (GString *out, TraceSvg *svg, const SvgLayout *layout);

/* trace-svg-write.c */
char *svg_shorten (const char *text, glong max);
GString *svg_write_diagram (TraceSvg *svg, const SvgLayout *layout);

G_END_DECLS
