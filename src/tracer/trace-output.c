/* SPDX-License-Identifier: MIT
 * trace-output.c: the ladder (plain or coloured) and the JSON lines
 * renderer for trace events (schema in docs/trace-json.md).
 */
#include "trace-output.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#define COLOR_RESET "\033[0m"
#define COLOR_DIM "\033[2m"
#define COLOR_CLIENT "\033[36m"  /* cyan: what the client said */
#define COLOR_OK "\033[32m"      /* green */
#define COLOR_MIDDLE "\033[34m"  /* blue: go on */
#define COLOR_ERROR "\033[31m"   /* red */
#define COLOR_WARNING "\033[33m" /* yellow: lint, gaps */
#define COLOR_BOLD "\033[1m"

struct _TraceEvent
{
  TraceSession *session;
  int direction;
  const char *kind;
  /* Nothing of this event will be shown (-q hides it and no SVG draws
   * it), so the setters skip their work: -q is a fast summary mode. */
  gboolean muted;
  gboolean always_shown; /* lint, summary, gap: shown even under -q */
  gboolean has_text;
  GString *text;
  GString *meaning;
  const char *rfc;
  TraceTone tone;
  gboolean pushed;    /* sent unasked during IDLE */
  gboolean decrypted; /* it travelled inside TLS (--keylog) */
  GString *fields;    /* JSON members, each already ,"name":value */
};

/* A decoder builds and emits one event per wire line, hundreds of
 * thousands per capture. Events are built one at a time, so the last
 * one emitted is kept and reused: its buffers are already grown and no
 * allocation is made per line. */
static TraceEvent *spare_event;

/* The rendered events not written yet: reading a file, they are written
 * TRACE_OUTPUT_BATCH octets at a time, one fwrite () where there was one
 * per event, and one bigger than the FILE's buffer, which glibc writes
 * without copying; live, each event at once. trace_output_flush () writes
 * what is left before anything else is written to the output. */
static GString *output;

#define TRACE_OUTPUT_BATCH (1024 * 1024)

/* GLib 2.74's g_string_append () is a call into g_string_insert_len ()
 * and its checks; rendering makes millions of small appends, so they copy
 * straight in when the buffer has room. */
static inline void
put_len (GString *out, const char *text, gsize length)
{
  if (out->len + length < out->allocated_len)
    {
      memcpy (out->str + out->len, text, length);
      out->len += length;
      out->str[out->len] = '\0';
    }
  else
    g_string_append_len (out, text, (gssize) length);
}

static inline void
put (GString *out, const char *text)
{
  put_len (out, text, strlen (text));
}

/* g_string_truncate (out, 0) without the call and its checks: every
 * event empties four buffers. */
static inline void
clear (GString *out)
{
  out->len = 0;
  out->str[0] = '\0';
}

/* Asked for every event: the first letter decides before strcmp () is
 * called, as no other kind begins with l, s or g. */
static gboolean
kind_always_shown (const char *kind)
{
  return (kind[0] == 'l' && strcmp (kind, "lint") == 0) ||
         (kind[0] == 's' && strcmp (kind, "summary") == 0) ||
         (kind[0] == 'g' && strcmp (kind, "gap") == 0);
}

static gboolean
event_is_muted (TraceSession *session, gboolean always_shown)
{
  const TraceOptions *options = session->options;

  return !options->json && options->quiet && session->svg == NULL &&
         !always_shown;
}

TraceEvent *
trace_event_new (TraceSession *session, int direction, const char *kind)
{
  TraceEvent *event = g_steal_pointer (&spare_event);

  if (event == NULL)
    {
      event = g_new0 (TraceEvent, 1);
      event->text = g_string_new (NULL);
      event->meaning = g_string_new (NULL);
      event->fields = g_string_new (NULL);
    }
  event->session = session;
  event->direction = direction;
  event->kind = kind;
  event->always_shown = kind_always_shown (kind);
  event->muted = event_is_muted (session, event->always_shown);
  event->has_text = FALSE;
  event->rfc = NULL;
  event->tone = TRACE_TONE_PLAIN;
  event->pushed = FALSE;
  event->decrypted = session->decrypting;
  if (event->muted)
    return event; /* its buffers are neither written nor read */
  clear (event->text);
  clear (event->meaning);
  clear (event->fields);
  return event;
}

static void
trace_event_free (TraceEvent *event)
{
  if (spare_event == NULL)
    {
      spare_event = event; /* kept for the next trace_event_new () */
      return;
    }
  g_string_free (event->text, TRUE);
  g_string_free (event->meaning, TRUE);
  g_string_free (event->fields, TRUE);
  g_free (event);
}

void
trace_event_text (TraceEvent *event, const char *text)
{
  if (event->muted || text == NULL)
    return;
  event->has_text = TRUE;
  /* g_string_assign () is a truncate and an append through GLib's
   * checks: every line has its text set */
  clear (event->text);
  put (event->text, text);
}

void
trace_event_meaning (TraceEvent *event, const MailCatalogEntry *entry)
{
  if (entry == NULL || event->muted)
    return;
  if (event->meaning->len > 0)
    put (event->meaning, "; ");
  put (event->meaning, entry->meaning);
  if (event->rfc == NULL)
    event->rfc = entry->rfc;
}

/* The length of the simple conversion at @p (just after its '%'): "s",
 * "u", "lu" or "llu" (G_GUINT64_FORMAT, G_GSIZE_FORMAT), ".3f" (every
 * summary's seconds) or "%"; 0 for any other. */
static gsize
simple_conversion (const char *p)
{
  if (p[0] == 's' || p[0] == 'u' || p[0] == '%')
    return 1;
  if (p[0] == '.' && p[1] == '3' && p[2] == 'f')
    return 3;
  if (p[0] == 'l' && p[1] == 'u')
    return 2;
  if (p[0] == 'l' && p[1] == 'l' && p[2] == 'u')
    return 3;
  return 0;
}

static void append_uint (GString *out, guint64 value);

/* @value as "%.3f" prints it, when that is sure without printf: printf
 * rounds the exact binary value to thousandths, and value * 1000 is
 * within 2^-12 of it below 1e9, so away from a tie (0.499 of a
 * thousandth) its nearest integer is printf's. FALSE, nothing written,
 * for negative, huge, NaN and near-tie values. */
static gboolean
append_thousandths (GString *out, double value)
{
  double scaled = value * 1000;
  char fraction[4] = ".";
  guint64 units;

  if (!(value >= 0 && value < 1e9) || signbit (value))
    return FALSE;
  units = (guint64) (scaled + 0.5);
  if (fabs (scaled - (double) units) > 0.499)
    return FALSE;
  append_uint (out, units / 1000);
  for (int i = 3; i > 0; i--, units /= 10)
    fraction[i] = (char) ('0' + units % 10);
  put_len (out, fraction, 4);
  return TRUE;
}

/* @format as printf would write it, without printf, while its
 * conversions are simple (simple_conversion ()): most explanations are a
 * word or a number put into a sentence, and vsnprintf () cost more than
 * everything else in making them. At any other conversion, what was
 * written is taken back and FALSE returned: vsnprintf () does it all. */
static gboolean
append_simple_vprintf (GString *out, const char *format, va_list args)
{
  gsize start = out->len;
  const char *p = format;
  const char *percent;

  while ((percent = strchr (p, '%')) != NULL)
    {
      gsize length = simple_conversion (percent + 1);

      if (length == 0)
        {
          g_string_truncate (out, start);
          return FALSE;
        }
      put_len (out, p, (gsize) (percent - p));
      if (percent[1] == 's')
        {
          const char *text = va_arg (args, const char *);
          put (out, text != NULL ? text : "(null)"); /* as glibc's printf */
        }
      else if (percent[1] == 'u')
        append_uint (out, va_arg (args, unsigned int));
      else if (percent[1] == '.')
        {
          if (!append_thousandths (out, va_arg (args, double)))
            {
              g_string_truncate (out, start);
              return FALSE;
            }
        }
      else if (length == 2)
        append_uint (out, va_arg (args, unsigned long));
      else if (length == 3)
        append_uint (out, va_arg (args, unsigned long long));
      else
        put_len (out, "%", 1);
      p = percent + 1 + length;
    }
  put (out, p);
  return TRUE;
}

/* g_string_append_vprintf () allocates a new string every call; most
 * explanations are short enough for a buffer on the stack. */
static void
append_vprintf (GString *out, const char *format, va_list args)
{
  char buffer[512];
  va_list copy;
  gboolean simple;
  int length;

  va_copy (copy, args);
  simple = append_simple_vprintf (out, format, copy);
  va_end (copy);
  if (simple)
    return;
  va_copy (copy, args);
  length = g_vsnprintf (buffer, sizeof buffer, format, copy);
  va_end (copy);
  if (length >= 0 && (gsize) length < sizeof buffer)
    put_len (out, buffer, length);
  else
    g_string_append_vprintf (out, format, args);
}

void
trace_string_append_vprintf (GString *out, const char *format, va_list args)
{
  append_vprintf (out, format, args);
}

void
trace_string_append_printf (GString *out, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  append_vprintf (out, format, args);
  va_end (args);
}

char *
trace_strdup_printf (const char *format, ...)
{
  GString *out = g_string_sized_new (64);
  va_list args;

  va_start (args, format);
  append_vprintf (out, format, args);
  va_end (args);
  return g_string_free (out, FALSE);
}

void
trace_event_explain (TraceEvent *event, const char *format, ...)
{
  va_list args;

  if (event->muted)
    return;
  if (event->meaning->len > 0)
    put (event->meaning, "; ");
  if (strchr (format, '%') == NULL)
    {
      put (event->meaning, format); /* most explanations are fixed text */
      return;
    }
  va_start (args, format);
  append_vprintf (event->meaning, format, args);
  va_end (args);
}

void
trace_event_rfc (TraceEvent *event, const char *rfc)
{
  event->rfc = rfc;
}

void
trace_event_tone (TraceEvent *event, TraceTone tone)
{
  event->tone = tone;
}

void
trace_event_mark_push (TraceEvent *event)
{
  event->pushed = TRUE;
}

gboolean
trace_event_shown (TraceEvent *event)
{
  return !event->muted;
}

gboolean
trace_session_shows (TraceSession *session, const char *kind)
{
  return !event_is_muted (session, kind_always_shown (kind));
}

/* "00" to "99", for writing numbers two digits at a time. */
static const char two_digits[] = "00010203040506070809101112131415161718192021"
                                 "22232425262728293031323334353637383940414243"
                                 "44454647484950515253545556575859606162636465"
                                 "66676869707172737475767778798081828384858687"
                                 "888990919293949596979899";

#define UINT_DIGITS 20 /* G_MAXUINT64 has 20 */

/* The decimal digits of @value, right-aligned in @digits; returns where
 * they start (no printf: it is called for every event). */
static gsize
format_uint (char digits[UINT_DIGITS], guint64 value)
{
  gsize n = UINT_DIGITS;

  for (; value >= 100; value /= 100)
    {
      n -= 2;
      memcpy (digits + n, two_digits + 2 * (value % 100), 2);
    }
  if (value >= 10)
    {
      n -= 2;
      memcpy (digits + n, two_digits + 2 * value, 2);
    }
  else
    digits[--n] = (char) ('0' + value);
  return n;
}

static void
append_uint (GString *out, guint64 value)
{
  char digits[UINT_DIGITS];
  gsize n = format_uint (digits, value);

  put_len (out, digits + n, UINT_DIGITS - n);
}

static void
append_int (GString *out, gint64 value)
{
  if (value < 0)
    {
      g_string_append_c (out, '-');
      append_uint (out, -(guint64) value);
    }
  else
    append_uint (out, (guint64) value);
}

/* ,"name": -- member names are the decoders' own literals, plain ASCII
 * (trace-output.h), so they are written as they are. */
static void
append_member_name (GString *out, const char *name)
{
  put_len (out, ",\"", 2);
  put (out, name);
  put_len (out, "\":", 2);
}

void
trace_event_field (TraceEvent *event, const char *name, const char *value)
{
  if (value == NULL || !event->session->options->json)
    return; /* only JSON shows fields: the ladder need not build them */
  append_member_name (event->fields, name);
  trace_json_append_string (event->fields, value);
}

void
trace_event_field_int (TraceEvent *event, const char *name, gint64 value)
{
  if (!event->session->options->json)
    return;
  append_member_name (event->fields, name);
  append_int (event->fields, value);
}

/* What JSON does with each octet of a string (RFC 8259 §7). */
enum
{
  JSON_ESCAPED, /* control characters, DEL, the quote and the backslash */
  JSON_PLAIN,   /* the rest of ASCII: written as it is */
  JSON_WIDE,    /* part of a UTF-8 sequence: written as it is once valid */
};

/* A table, not comparisons, because every octet of every string of every
 * event is looked at (0 JSON_ESCAPED, 1 JSON_PLAIN, 2 JSON_WIDE). */
static const guint8 json_octet[256] = {
  /* 0x00 - 0x1f: control characters */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
  /* 0x20 - 0x7f: printable, but for '"' (0x22), '\\' (0x5c) and DEL */
  1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 */
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50 */
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x70 */
  /* 0x80 - 0xff: UTF-8 */
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x80 */
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x90 */
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xa0 */
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xb0 */
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xc0 */
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xd0 */
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xe0 */
  2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xf0 */
};

/* One JSON_ESCAPED octet, as RFC 8259 §7 escapes it. */
static void
json_append_escape (GString *out, guchar c)
{
  static const char hex[] = "0123456789abcdef";
  char escape[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf] };

  if (c == '"' || c == '\\')
    {
      escape[1] = (char) c;
      put_len (out, escape, 2);
    }
  else if (c == '\n')
    put_len (out, "\\n", 2);
  else if (c == '\r')
    put_len (out, "\\r", 2);
  else if (c == '\t')
    put_len (out, "\\t", 2);
  else
    put_len (out, escape, 6);
}

/* Length of the UTF-8 character at @p, 0 when it is not valid. A
 * two-octet one (U+0080 to U+07FF, like the sections' '§') is checked
 * here: a lead octet 0xc2 to 0xdf and one continuation octet (RFC 3629
 * §4); GLib checks the rest. */
static gsize
utf8_valid_length (const char *p)
{
  guchar lead = (guchar) p[0];
  gunichar c;

  if (lead >= 0xc2 && lead <= 0xdf)
    return ((guchar) p[1] & 0xc0) == 0x80 ? 2 : 0;
  c = g_utf8_get_char_validated (p, -1);
  return c == (gunichar) -1 || c == (gunichar) -2 ? 0 : g_utf8_skip[lead];
}

/* @text escaped: runs of plain ASCII and valid UTF-8 copied, escapes
 * written. The terminating NUL is JSON_ESCAPED, so a run also stops at
 * the end. At the first invalid UTF-8, what it wrote is taken back and
 * FALSE returned. Each character is checked as it comes, rather than the
 * whole string first: most strings hold one, a '§'. */
static gboolean
json_append_escaped (GString *out, const char *text)
{
  gsize start = out->len;
  const char *p = text;

  while (*p != '\0')
    {
      const char *run = p;

      for (;;)
        {
          gsize wide;

          while (json_octet[(guchar) *p] == JSON_PLAIN)
            p++;
          if (json_octet[(guchar) *p] != JSON_WIDE)
            break;
          wide = utf8_valid_length (p);
          if (wide == 0)
            {
              g_string_truncate (out, start);
              return FALSE;
            }
          p += wide;
        }
      put_len (out, run, (gsize) (p - run));
      if (*p != '\0')
        json_append_escape (out, (guchar) *p++);
    }
  return TRUE;
}

/* @text when it is not valid UTF-8: a copy with each invalid octet as
 * U+FFFD (g_utf8_make_valid ()). */
static char *
json_repaired (const char *text)
{
  const char *invalid;
  GString *fixed;
  g_autofree char *valid = NULL;

  g_utf8_validate (text, -1, &invalid);
  /* what comes before the first invalid octet is valid as it is */
  fixed = g_string_new_len (text, invalid - text);
  valid = g_utf8_make_valid (invalid, -1);
  g_string_append (fixed, valid);
  return g_string_free (fixed, FALSE);
}

/* Most strings are plain ASCII to their end: they are copied in one
 * scan, which stops at the NUL (not JSON_PLAIN) without a strlen ().
 * Only a string with more in it is escaped, and repaired first if it
 * is not valid UTF-8. */
void
trace_json_append_string (GString *out, const char *text)
{
  const char *p = text;

  while (json_octet[(guchar) *p] == JSON_PLAIN)
    p++;
  put_len (out, "\"", 1);
  put_len (out, text, (gsize) (p - text));
  if (*p != '\0' && !json_append_escaped (out, p))
    {
      g_autofree char *repaired = json_repaired (p);

      json_append_escaped (out, repaired); /* valid now: TRUE */
    }
  put_len (out, "\"", 1);
}

/* One octet as "\\xHH" (trace_string_append_shown ()). */
static void
append_hex_octet (GString *out, guchar c)
{
  static const char hex[] = "0123456789abcdef";
  char shown[4] = { '\\', 'x', hex[c >> 4], hex[c & 0xf] };

  put_len (out, shown, sizeof shown);
}

/* Eight octets at once: TRUE when all are printable ASCII (0x20 to 0x7e).
 * w - 0x20 sets the high bit of an octet below 0x20, w + 1 that of DEL,
 * w itself that of one from 0x80; a borrow or carry between octets comes
 * only from an octet already caught, so the answer for the word is
 * exact. Most of what the ladder shows is such words. */
static inline gboolean
word_is_printable_ascii (const char *p)
{
  const guint64 ones = G_GUINT64_CONSTANT (0x0101010101010101);
  guint64 w;

  memcpy (&w, p, sizeof w); /* any alignment */
  return (((w - 0x20 * ones) | w | (w + ones)) & (0x80 * ones)) == 0;
}

/* How many octets at @p are shown as they are: 1 for printable ASCII, the
 * tab and LF, 2 for CR LF, the size of a printable UTF-8 character (from
 * U+00A0); 0 for what is shown as \xHH. */
static gsize
shown_as_is (const char *p, const char *end)
{
  guchar c = (guchar) *p;
  gunichar wide;

  if ((guchar) (c - 0x20) < 0x5f || c == '\t' || c == '\n')
    return 1;
  if (c == '\r')
    return p + 1 < end && p[1] == '\n' ? 2 : 0;
  if (c < 0x80)
    return 0; /* C0 and DEL */
  wide = g_utf8_get_char_validated (p, end - p);
  if (wide == (gunichar) -1 || wide == (gunichar) -2 || wide < 0xa0)
    return 0; /* not UTF-8, or C1 */
  return (gsize) g_utf8_skip[c];
}

/* A terminal runs the control characters it is sent: ESC [ 2 J clears
 * it, ESC ] 0 ; retitles it, a lone CR writes over the line, and a peer
 * on the wire chooses what a line holds. So what the ladder, the
 * journeys and the drawing show of it (the drawing: XML forbids them,
 * XML 1.0 §2.2) has its control characters (C0 but the tab and the line
 * ends, DEL, C1) and the octets that are not UTF-8 (RFC 3629 §3) written
 * as \xHH, and the rest of UTF-8 as it is: runs of what is shown as it
 * is are copied at once. JSON escapes its own way
 * (trace_json_append_string ()). */
void
trace_string_append_shown_len (GString *out, const char *text, gsize length)
{
  const char *p = text;
  const char *end = text + length;
  const char *run = p;

  while (p < end)
    {
      gsize size;

      if (end - p >= 8 && word_is_printable_ascii (p))
        {
          p += 8;
          continue;
        }
      size = shown_as_is (p, end);
      if (size > 0)
        {
          p += size;
          continue;
        }
      put_len (out, run, (gsize) (p - run));
      /* a C1 character is two octets of UTF-8, both shown */
      if ((guchar) p[0] == 0xc2 && p + 1 < end && (guchar) p[1] >= 0x80 &&
          (guchar) p[1] < 0xa0)
        append_hex_octet (out, (guchar) *p++);
      append_hex_octet (out, (guchar) *p++); /* C0, DEL, not UTF-8 */
      run = p;
    }
  put_len (out, run, (gsize) (p - run));
}

void
trace_string_append_shown (GString *out, const char *text)
{
  trace_string_append_shown_len (out, text, strlen (text));
}

static const char *
direction_name (int direction)
{
  return direction == TRACE_CLIENT_TO_SERVER   ? "C->S"
         : direction == TRACE_SERVER_TO_CLIENT ? "S->C"
                                               : "";
}

/* The whole seconds of a clock, as last written: events come in time
 * order, so most share the seconds of the event before. */
typedef struct
{
  gint64 seconds; /* -1: nothing written yet */
  char digits[UINT_DIGITS];
  gsize start; /* where they begin in digits */
} SecondsCache;

/* Seconds with six decimals, as "%" G_GINT64_FORMAT ".%06d" would print
 * them, without printf. */
static void
append_json_seconds (GString *out, SecondsCache *cache, gint64 us)
{
  char fraction[7] = ".";
  gint64 micro = us % G_USEC_PER_SEC;

  if (us < 0)
    {
      /* never on a sane capture; printf keeps its odd form exact */
      g_string_append_printf (out, "%" G_GINT64_FORMAT ".%06d",
                              us / G_USEC_PER_SEC, (int) micro);
      return;
    }
  if (cache->seconds != us / G_USEC_PER_SEC)
    {
      cache->seconds = us / G_USEC_PER_SEC;
      cache->start = format_uint (cache->digits, (guint64) cache->seconds);
    }
  put_len (out, cache->digits + cache->start, UINT_DIGITS - cache->start);
  for (int i = 5; i > 0; i -= 2, micro /= 100)
    memcpy (fraction + i, two_digits + 2 * (micro % 100), 2);
  put_len (out, fraction, 7);
}

void
trace_string_append_uint (GString *out, guint64 value)
{
  append_uint (out, value);
}

void
trace_string_append_seconds (GString *out, gint64 us)
{
  SecondsCache cache = { -1 };

  append_json_seconds (out, &cache, us);
}

/* The start of a JSON line, up to its "rel" member, as last written:
 * half the events share it with the one before (the lines of one
 * packet), and copying it is cheaper than writing four numbers again. */
typedef struct
{
  guint stream;
  guint64 frame;
  gint64 now_us;
  gint64 first_us;
  GString *text; /* NULL: nothing written yet */
} JsonLineStart;

static void
append_json_line_start (GString *out,
                        JsonLineStart *last,
                        TraceSession *session,
                        guint64 frame)
{
  static SecondsCache time_cache = { -1 };
  static SecondsCache rel_cache = { -1 };
  GString *text = last->text;

  if (text != NULL && last->stream == session->flow->id &&
      last->frame == frame && last->now_us == session->now_us &&
      last->first_us == session->flow->first_us)
    {
      put_len (out, text->str, text->len);
      return;
    }
  if (text == NULL)
    text = last->text = g_string_sized_new (128);
  last->stream = session->flow->id;
  last->frame = frame;
  last->now_us = session->now_us;
  last->first_us = session->flow->first_us;
  /* integer arithmetic and plain appends: printf was the slow part */
  clear (text);
  put (text, "{\"schema\":\"" TRACE_JSON_SCHEMA "\",\"tcp.stream\":");
  append_uint (text, session->flow->id);
  put (text, ",\"frame.number\":");
  append_uint (text, frame);
  put (text, ",\"time\":");
  append_json_seconds (text, &time_cache, session->now_us);
  put (text, ",\"rel\":");
  append_json_seconds (text, &rel_cache,
                       session->now_us - session->flow->first_us);
  put_len (out, text->str, text->len);
}

/* What comes after "rel", up to the "line" member, as last written in
 * the same direction: most events are of few kinds (a command one way, a
 * reply the other), and copying the members is cheaper than writing them
 * again. */
typedef struct
{
  int direction;
  const char *proto; /* a decoder's json_name, "tcp" */
  const char *kind;  /* the literal the event was made with */
  GString *text;     /* NULL: nothing written yet */
} JsonLineKind;

static void
append_json_line_kind (GString *out,
                       JsonLineKind *last,
                       int direction,
                       const char *proto,
                       const char *kind)
{
  GString *text = last->text;

  if (text != NULL && last->direction == direction && last->proto == proto &&
      last->kind == kind)
    {
      put_len (out, text->str, text->len);
      return;
    }
  if (text == NULL)
    text = last->text = g_string_sized_new (64);
  last->direction = direction;
  last->proto = proto;
  last->kind = kind;
  clear (text);
  g_string_append_c (text, ',');
  if (direction >= 0)
    {
      put (text, "\"dir\":\"");
      put (text, direction_name (direction));
      put (text, "\",");
    }
  put (text, "\"proto\":\"");
  put (text, proto);
  put (text, "\",\"kind\":\"");
  put (text, kind);
  g_string_append_c (text, '"');
  put_len (out, text->str, text->len);
}

static void
render_json (TraceEvent *event, GString *out)
{
  static JsonLineStart line_start;
  static JsonLineKind line_kind[3]; /* by direction: none, C->S, S->C */
  TraceSession *session = event->session;
  const char *proto =
      session->decoder != NULL ? session->decoder->json_name : "tcp";
  guint64 frame =
      session->options->frame != NULL ? *session->options->frame : 0;

  append_json_line_start (out, &line_start, session, frame);
  append_json_line_kind (out, &line_kind[CLAMP (event->direction, -1, 1) + 1],
                         event->direction, proto, event->kind);
  if (event->has_text)
    {
      put (out, ",\"line\":");
      trace_json_append_string (out, event->text->str);
    }
  if (event->meaning->len > 0)
    {
      put (out, ",\"meaning\":");
      trace_json_append_string (out, event->meaning->str);
    }
  if (event->rfc != NULL)
    {
      put (out, ",\"rfc\":");
      trace_json_append_string (out, event->rfc);
    }
  put_len (out, event->fields->str, event->fields->len);
  if (event->decrypted)
    put (out, ",\"tls.decrypted\":true");
  put (out, "}\n");
}

static const char *
tone_color (TraceTone tone, int direction)
{
  switch (tone)
    {
    case TRACE_TONE_OK:
      return COLOR_OK;
    case TRACE_TONE_INTERMEDIATE:
      return COLOR_MIDDLE;
    case TRACE_TONE_ERROR:
      return COLOR_ERROR;
    case TRACE_TONE_WARNING:
      return COLOR_WARNING COLOR_BOLD;
    case TRACE_TONE_PLAIN:
    default:
      return direction == TRACE_CLIENT_TO_SERVER ? COLOR_CLIENT : "";
    }
}

/* The session's clock, "%8.3f" of the seconds, without printf (it is on
 * every ladder line). printf rounds the double us / 1e6 exactly; away
 * from a tie (x.xxx500) that is the decimal rounding done here, because
 * the double is within 1e-16 of the true value and a tie is 1e-6 away.
 * Ties, negative and absurd values are left to printf. */
static void
format_elapsed (char *buffer, gsize size, gint64 us)
{
  char digits[32];
  gsize n = sizeof digits;
  gsize length;
  gint64 ms;

  if (us < 0 || us % 1000 == 500 || us > G_GINT64_CONSTANT (1000000000000000))
    {
      g_snprintf (buffer, size, "%8.3f", us / 1e6);
      return;
    }
  ms = (us + 500) / 1000; /* to the nearest millisecond */
  for (int i = 0; i < 3; i++, ms /= 10)
    digits[--n] = (char) ('0' + ms % 10);
  digits[--n] = '.';
  do
    {
      digits[--n] = (char) ('0' + ms % 10);
      ms /= 10;
    }
  while (ms > 0);
  while (sizeof digits - n < 8) /* right-aligned in 8 columns */
    digits[--n] = ' ';
  length = MIN (sizeof digits - n, size - 1);
  memcpy (buffer, digits + n, length);
  buffer[length] = '\0';
}

/* The ladder: client lines lean left, server lines lean right, so the
 * conversation reads like a sequence diagram:
 *   [0]   0.003  C --> S  EHLO client.test
 *                         = the client says who it is ... (RFC 5321 §4.1.1.1)
 * What travelled inside TLS and was decrypted (--keylog) has double
 * arrows, "C ==> S" and "C <== S": nobody on the path could read it.
 */
static const char *
ladder_arrow (TraceEvent *event)
{
  if (strcmp (event->kind, "lint") == 0)
    return "  !!!  ";
  if (event->direction == TRACE_CLIENT_TO_SERVER)
    return event->decrypted ? "C ==> S" : "C --> S";
  if (event->direction == TRACE_SERVER_TO_CLIENT)
    return event->decrypted ? "C <== S" : "C <-- S";
  return "   |   ";
}

static void
render_ladder (TraceEvent *event, GString *out)
{
  gboolean color = event->session->options->color;
  const char *paint = color ? tone_color (event->tone, event->direction) : "";
  const char *reset = color ? COLOR_RESET : "";
  const char *dim = color ? COLOR_DIM : "";
  const char *arrow = ladder_arrow (event);
  const char *indent = "                        ";
  char elapsed[40];

  /* "[%u] %8.3f  %s  %s%s%s\n", written piece by piece */
  g_string_append_c (out, '[');
  append_uint (out, event->session->flow->id);
  put (out, "] ");
  format_elapsed (elapsed, sizeof elapsed,
                  event->session->now_us - event->session->flow->first_us);
  put (out, elapsed);
  put (out, "  ");
  put (out, arrow);
  put (out, "  ");
  put (out, paint);
  if (event->has_text)
    trace_string_append_shown_len (out, event->text->str, event->text->len);
  else
    trace_string_append_shown_len (out, event->meaning->str,
                                   event->meaning->len);
  put (out, reset);
  g_string_append_c (out, '\n');
  if (!event->has_text || event->meaning->len == 0)
    {
      if (!event->has_text && event->rfc != NULL)
        {
          /* "%s%s(%s)%s\n" */
          put (out, indent);
          put (out, dim);
          g_string_append_c (out, '(');
          put (out, event->rfc);
          g_string_append_c (out, ')');
          put (out, reset);
          g_string_append_c (out, '\n');
        }
      return;
    }
  put (out, indent);
  put (out, dim);
  put (out, "= ");
  trace_string_append_shown_len (out, event->meaning->str, event->meaning->len);
  if (event->rfc != NULL)
    {
      put (out, " (");
      put (out, event->rfc);
      g_string_append_c (out, ')');
    }
  put (out, reset);
  g_string_append_c (out, '\n');
}

/* @event drawn (--svg) and printed, as the options say. */
static void
show (TraceEvent *event)
{
  TraceSession *session = event->session;
  const TraceOptions *options = session->options;

  if (output == NULL)
    output = g_string_sized_new (TRACE_OUTPUT_BATCH + 4096);
  /* --svg draws the lines, and lint findings as marks on them */
  if (session->svg != NULL && ((event->direction >= 0 && event->has_text) ||
                               strcmp (event->kind, "lint") == 0))
    {
      TraceSvgLine line = { event->direction, session->now_us,     event->kind,
                            event->text->str, event->meaning->str, event->rfc,
                            event->tone,      event->pushed };
      trace_svg_add (options->svg, session->svg, &line);
    }
  if (options->json)
    render_json (event, output);
  else if (!options->quiet || event->always_shown)
    render_ladder (event, output);
  if (output->len >= TRACE_OUTPUT_BATCH || options->live)
    trace_output_flush (options);
}

void
trace_output_flush (const TraceOptions *options)
{
  if (output == NULL || output->len == 0)
    return;
  fwrite (output->str, 1, output->len, options->out);
  clear (output);
}

void
trace_event_emit (TraceEvent *event)
{
  if (!event->muted) /* -q: nothing of a muted event is drawn or printed */
    show (event);
  trace_event_free (event);
}

void
trace_session_lint (TraceSession *session,
                    int direction,
                    const char *rule,
                    const char *format,
                    ...)
{
  TraceEvent *event = trace_event_new (session, direction, "lint");
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  session->lint_count++;
  trace_event_explain (event, "lint: %s", message);
  trace_event_rfc (event, rule);
  trace_event_tone (event, TRACE_TONE_WARNING);
  trace_event_field (event, "lint.rule", rule);
  trace_event_field (event, "lint.message", message);
  trace_event_emit (event);
}
