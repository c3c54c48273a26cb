/* SPDX-License-Identifier: MIT
 * trace-output.h: what the tracer says. A decoder builds one TraceEvent
 * per wire line (or TLS record, gap, lint finding, summary) and emits it;
 * the event is rendered as a ladder line (colour on a terminal) or as one
 * JSON object per line (docs/trace-json.md, schema "mw-trace/1", with
 * Wireshark's field names where Wireshark has one).
 */
#pragma once

#include "trace-session.h"

G_BEGIN_DECLS

#define TRACE_JSON_SCHEMA "mw-trace/1"

typedef enum
{
  TRACE_TONE_PLAIN,
  TRACE_TONE_OK,           /* 2xx, +OK, OK */
  TRACE_TONE_INTERMEDIATE, /* 3xx, "+ " continuation */
  TRACE_TONE_ERROR,        /* 4xx, 5xx, -ERR, NO, BAD */
  TRACE_TONE_WARNING,      /* lint, gaps */
} TraceTone;

typedef struct _TraceEvent TraceEvent;

/* @direction is a TraceDirection, or -1 for events about the session.
 * @kind: "open", "command", "reply", "data", "tls", "gap", "lint",
 * "info", "summary", "close" (the "kind" member in JSON). */
TraceEvent *
trace_event_new (TraceSession *session, int direction, const char *kind);
/* The line as sent (the caller masks secrets first). */
void trace_event_text (TraceEvent *event, const char *text);
/* The catalog's sentence and RFC section; NULL is ignored. */
void trace_event_meaning (TraceEvent *event, const MailCatalogEntry *entry);
/* More explanation, appended to the meaning ("; " between parts). */
void trace_event_explain (TraceEvent *event, const char *format, ...)
    G_GNUC_PRINTF (2, 3);
/* The RFC section, when no catalog entry gives it. */
void trace_event_rfc (TraceEvent *event, const char *rfc);
void trace_event_tone (TraceEvent *event, TraceTone tone);
/* FALSE when nothing of @event will be printed (-q hides it): a decoder
 * may then skip building a costly explanation. */
gboolean trace_event_shown (TraceEvent *event);
/* FALSE when no event of @kind of @session will be printed (-q hides
 * it): a decoder may then skip what it gathers only for such an event. */
gboolean trace_session_shows (TraceSession *session, const char *kind);
/* A JSON member, e.g. "smtp.req.command": "MAIL". NULL values are
 * skipped. @name is written as it is, unescaped: a literal of plain ASCII
 * letters, digits, '.' and '_'. */
void trace_event_field (TraceEvent *event, const char *name, const char *value);
void trace_event_field_int (TraceEvent *event, const char *name, gint64 value);
/* Renders and frees @event. */
void trace_event_emit (TraceEvent *event);
/* Writes the rendered events still held (reading a file, they are
 * written in batches) to options->out: before anything else is. */
void trace_output_flush (const TraceOptions *options);

/* A lint finding: @rule is the RFC section the peer broke. */
void trace_session_lint (TraceSession *session,
                         int direction,
                         const char *rule,
                         const char *format,
                         ...) G_GNUC_PRINTF (4, 5);

/* Appends @text to @out as a JSON string, quotes included; invalid UTF-8
 * is replaced, control characters escaped. */
void trace_json_append_string (GString *out, const char *text);
/* Appends @text as a terminal or an SVG may show it: control characters
 * and octets that are not UTF-8 written as \xHH, the rest as it is. */
void trace_string_append_shown (GString *out, const char *text);
/* The same for @text[0..@length), which holds no NUL. */
void
trace_string_append_shown_len (GString *out, const char *text, gsize length);
/* g_string_append_printf () for text made for every line or message:
 * %s, %u, %lu, %llu and %.3f are written without printf (which costs more
 * than all else in making such text), any other conversion by it. */
void trace_string_append_printf (GString *out, const char *format, ...)
    G_GNUC_PRINTF (2, 3);
void
trace_string_append_vprintf (GString *out, const char *format, va_list args);
/* @value in decimal, and a time as seconds with six decimals ("%ld.%06d"),
 * without printf. */
void trace_string_append_uint (GString *out, guint64 value);
void trace_string_append_seconds (GString *out, gint64 us);
/* g_strdup_printf () the same way (transfer full). */
char *trace_strdup_printf (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* The line is what the server sent unasked during IDLE (RFC 9051
 * §6.3.13): --svg marks it. */
void trace_event_mark_push (TraceEvent *event);

/* ---- SVG sequence diagram (trace-svg.c) ------------------------------ */

/* --svg-size: a whole story is fitted to a 16:9 slide (1280x720 user
 * units), chosen sessions are drawn a row per line; either can be asked. */
typedef enum
{
  TRACE_SVG_SIZE_AUTO,  /* slide without --session, else full */
  TRACE_SVG_SIZE_SLIDE, /* fold and compress to 1280x720 */
  TRACE_SVG_SIZE_FULL,  /* a row per line, as long as it takes */
} TraceSvgSize;

/* --svg FILE and the options that shape it. */
typedef struct
{
  const char *path;     /* "-": standard output (and no ladder) */
  const guint *streams; /* --session: tcp.stream ids, in lane order */
  guint n_streams;      /* 0: every mail session of the capture */
  char **labels;        /* --svg-label: client names, in that order */
  const char *title;    /* --svg-title, or NULL */
  gboolean compact;     /* --svg-compact: fold listings, fit a slide */
  const char *from;     /* --svg-from: start at the first line holding it */
  const char *to;       /* --svg-to: end at the answer to the line holding it */
  TraceSvgSize size;    /* --svg-size */
  gboolean print;       /* --svg-print: black on white, no meaning in colour */
} TraceSvgOptions;

typedef struct _TraceSvgSession TraceSvgSession;

/* One line on the wire, as drawn; a lint finding is kind "lint", its
 * message the meaning, with an empty text. */
typedef struct
{
  int direction;
  gint64 time_us;
  const char *kind; /* the event's kind: "command", "reply", "data", "tls" */
  const char *text;
  const char *meaning; /* never NULL; may be "" */
  const char *rfc;     /* or NULL */
  TraceTone tone;
  gboolean pushed; /* trace_event_mark_push () */
} TraceSvgLine;

/* (transfer full): free with trace_svg_free (); @options' strings and
 * arrays must outlive it. */
TraceSvg *trace_svg_new (const TraceSvgOptions *options);
/* The lifelines of @session when it is one of those drawn, else NULL
 * (transfer none: the diagram owns it and outlives the session). */
TraceSvgSession *trace_svg_claim (TraceSvg *svg, TraceSession *session);
void trace_svg_add (TraceSvg *svg,
                    TraceSvgSession *session,
                    const TraceSvgLine *line);
/* Writes the diagram of every claimed session to options->path; FALSE
 * (error set) if it cannot. Called once, when the capture has ended. */
gboolean trace_svg_write (TraceSvg *svg, GError **error);
void trace_svg_free (TraceSvg *svg);

G_END_DECLS
