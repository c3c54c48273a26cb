/* SPDX-License-Identifier: MIT
 * imap-text.c: the IMAP grammar of values written as text: dates and
 * date-times (RFC 9051 §9 date, date-time, as SEARCH and APPEND take
 * them and INTERNALDATE shows them) and modified UTF-7 mailbox names
 * (RFC 3501 §5.1.3; RFC 9051 §5.1 and RFC 6855 §3 for UTF-8 instead),
 * and astrings written the way a peer reads them back (RFC 9051 §4.3).
 */
#include <string.h>

#include "imap-parser-private.h"

/* ---- dates (RFC 9051 §9 date, date-time) ------------------------------- */

/* RFC 9051 §9: date-month; always English, whatever the locale. */
static const char *const month_names[] = {
  "Jan", "Feb", "Mar", "Apr", "May", "Jun",
  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Exactly @count digits. */
static gboolean
parse_digits (
    ImapParser *p, int count, int *out, const char *what, GError **error)
{
  int value = 0;

  for (int i = 0; i < count; i++)
    {
      if (!g_ascii_isdigit (parser_peek (p)))
        return parser_fail (p, error, what);
      value = value * 10 + (parser_peek (p) - '0');
      p->pos++;
    }
  *out = value;
  return TRUE;
}

/* RFC 9051 §9: date-day = 1*2DIGIT; date-day-fixed = (SP DIGIT) / 2DIGIT */
static gboolean
parse_day (ImapParser *p, gboolean fixed, int *out, GError **error)
{
  gboolean two_digits =
      p->pos + 1 < p->length && g_ascii_isdigit (p->data[p->pos + 1]);

  if (fixed && parser_skip (p, ' '))
    return parse_digits (p, 1, out, "the day's digit after SP", error);
  if (fixed)
    return parse_digits (p, 2, out, "the day (two digits, or SP and one)",
                         error);
  return parse_digits (p, two_digits ? 2 : 1, out, "the day of the month",
                       error);
}

static gboolean
parse_month (ImapParser *p, int *out, GError **error)
{
  for (int i = 0; i < 12; i++)
    if (p->length - p->pos >= 3 &&
        g_ascii_strncasecmp (p->data + p->pos, month_names[i], 3) == 0)
      {
        p->pos += 3;
        *out = i + 1;
        return TRUE;
      }
  return parser_fail (p, error, "a month name (Jan to Dec)");
}

/* RFC 9051 §9: date-text = date-day "-" date-month "-" date-year, read
 * as midnight UTC of that day (transfer full, NULL with an error). */
static GDateTime *
parse_date_text (ImapParser *p, gboolean fixed, GError **error)
{
  int day = 0;
  int month = 0;
  int year = 0;
  gsize start = p->pos;
  GDateTime *date;

  if (!parse_day (p, fixed, &day, error) ||
      !parser_expect (p, '-', "'-'", error) ||
      !parse_month (p, &month, error) ||
      !parser_expect (p, '-', "'-'", error) ||
      !parse_digits (p, 4, &year, "a year of four digits", error))
    return NULL;
  date = g_date_time_new_utc (year, month, day, 0, 0, 0);
  if (date == NULL)
    {
      p->pos = start;
      return parser_fail_null (p, error, "a day that exists");
    }
  return date;
}

/* Both DQUOTEs or neither: the caller may pass the quoted text. */
static gboolean
parse_closing_quote (ImapParser *p, gboolean quoted, GError **error)
{
  if (quoted && !parser_skip (p, '"'))
    return parser_fail (p, error, "the closing '\"'");
  if (parser_peek (p) >= 0)
    return parser_fail (p, error, "the end of the date");
  return TRUE;
}

gboolean
imap_date_parse (const char *text, gint64 *out_day, GError **error)
{
  g_autoptr (GDateTime) date = NULL;
  gboolean quoted;
  ImapParser p;

  g_return_val_if_fail (text != NULL && out_day != NULL, FALSE);
  parser_init (&p, text, strlen (text));
  quoted = parser_skip (&p, '"');
  date = parse_date_text (&p, FALSE, error);
  if (date == NULL || !parse_closing_quote (&p, quoted, error))
    return FALSE;
  *out_day = g_date_time_to_unix (date) / 86400;
  return TRUE;
}

/* RFC 9051 §9: time = 2DIGIT ":" 2DIGIT ":" 2DIGIT, in seconds. */
static gboolean
parse_time (ImapParser *p, int *out_seconds, GError **error)
{
  int hour = 0;
  int minute = 0;
  int second = 0;
  gsize start = p->pos;

  if (!parse_digits (p, 2, &hour, "the hour (two digits)", error) ||
      !parser_expect (p, ':', "':'", error) ||
      !parse_digits (p, 2, &minute, "the minutes (two digits)", error) ||
      !parser_expect (p, ':', "':'", error) ||
      !parse_digits (p, 2, &second, "the seconds (two digits)", error))
    return FALSE;
  if (hour > 23 || minute > 59 || second > 60)
    {
      p->pos = start;
      return parser_fail (p, error, "a time of day");
    }
  *out_seconds = hour * 3600 + minute * 60 + second;
  return TRUE;
}

/* RFC 9051 §9: zone = ("+" / "-") 4DIGIT, hours and minutes east of UTC */
static gboolean
parse_zone (ImapParser *p, int *out_minutes, GError **error)
{
  int sign = parser_peek (p) == '-' ? -1 : 1;
  int hhmm = 0;
  gsize start = p->pos;

  if (!parser_skip (p, '+') && !parser_skip (p, '-'))
    return parser_fail (p, error, "'+' or '-' starting the zone");
  if (!parse_digits (p, 4, &hhmm, "a zone of four digits", error))
    return FALSE;
  if (hhmm / 100 > 23 || hhmm % 100 > 59)
    {
      p->pos = start;
      return parser_fail (p, error, "a zone of hours and minutes");
    }
  *out_minutes = sign * (hhmm / 100 * 60 + hhmm % 100);
  return TRUE;
}

/* RFC 9051 §9: date-time = DQUOTE date-day-fixed "-" date-month "-"
 * date-year SP time SP zone DQUOTE */
gboolean
imap_datetime_parse (const char *text,
                     gint64 *out_time,
                     int *out_zone_minutes,
                     GError **error)
{
  g_autoptr (GDateTime) date = NULL;
  int seconds = 0;
  int zone = 0;
  gboolean quoted;
  ImapParser p;

  g_return_val_if_fail (text != NULL && out_time != NULL, FALSE);
  parser_init (&p, text, strlen (text));
  quoted = parser_skip (&p, '"');
  date = parse_date_text (&p, TRUE, error);
  if (date == NULL || !parser_expect (&p, ' ', "SP", error) ||
      !parse_time (&p, &seconds, error) ||
      !parser_expect (&p, ' ', "SP", error) || !parse_zone (&p, &zone, error) ||
      !parse_closing_quote (&p, quoted, error))
    return FALSE;
  *out_time = g_date_time_to_unix (date) + seconds - zone * 60;
  if (out_zone_minutes != NULL)
    *out_zone_minutes = zone;
  return TRUE;
}

char *
imap_datetime_format (gint64 time)
{
  g_autoptr (GDateTime) date = g_date_time_new_from_unix_utc (time);

  g_return_val_if_fail (date != NULL, NULL);
  return g_strdup_printf (
      "%02d-%s-%04d %02d:%02d:%02d +0000", g_date_time_get_day_of_month (date),
      month_names[g_date_time_get_month (date) - 1],
      g_date_time_get_year (date), g_date_time_get_hour (date),
      g_date_time_get_minute (date), g_date_time_get_second (date));
}

/* ---- modified UTF-7 (RFC 3501 §5.1.3) ---------------------------------- */

/* RFC 3501 §5.1.3: modified BASE64 is RFC 2045 BASE64 with "," for "/" */
static const char mbase64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
mbase64_value (int c)
{
  const char *at = c > 0 ? strchr (mbase64_alphabet, c) : NULL;

  return at != NULL ? (int) (at - mbase64_alphabet) : -1;
}

/* RFC 3501 §5.1.3: printable US-ASCII "represent themselves" */
static gboolean
is_mutf7_direct (gunichar c)
{
  return c >= 0x20 && c <= 0x7e;
}

/* One UTF-16 code unit of a BASE64 run; @inout_high holds a high
 * surrogate until its low half comes. */
static gboolean
add_utf16_unit (ImapParser *p,
                GString *out,
                gunichar2 unit,
                gunichar2 *inout_high,
                GError **error)
{
  gboolean low = unit >= 0xdc00 && unit <= 0xdfff;

  if (*inout_high != 0 && !low)
    return parser_fail_with (p, error, "a UTF-16 high surrogate alone");
  if (*inout_high != 0)
    {
      g_string_append_unichar (out, 0x10000 + ((*inout_high - 0xd800) << 10) +
                                        (unit - 0xdc00));
      *inout_high = 0;
      return TRUE;
    }
  if (low)
    return parser_fail_with (p, error, "a UTF-16 low surrogate alone");
  if (unit >= 0xd800 && unit <= 0xdbff)
    *inout_high = unit;
  else if (unit == 0)
    return parser_fail_with (p, error, "NUL in a mailbox name");
  else if (is_mutf7_direct (unit))
    return parser_fail_with (p, error,
                             "printable ASCII in BASE64 (it must "
                             "stand for itself)");
  else
    g_string_append_unichar (out, unit);
  return TRUE;
}

/* RFC 3501 §5.1.3: "&" modified-BASE64 of UTF-16BE "-", the cursor after
 * the "&". The bits left over after the last code unit must be fewer than
 * six and all zero, or the run is not the shortest form. */
static gboolean
decode_mbase64_run (ImapParser *p, GString *out, GError **error)
{
  gsize open = p->pos - 1;
  guint32 bits = 0;
  int count = 0; /* bits not yet used */
  gunichar2 high = 0;

  while (!parser_skip (p, '-'))
    {
      int value = mbase64_value (parser_peek (p));

      if (value < 0)
        {
          g_autofree char *expected =
              g_strdup_printf ("modified BASE64 or the '-' closing the '&' at "
                               "offset %" G_GSIZE_FORMAT,
                               open);
          return parser_fail (p, error, expected);
        }
      bits = (bits << 6 | (guint32) value) & 0x3fffff;
      count += 6;
      p->pos++;
      if (count < 16)
        continue;
      count -= 16;
      if (!add_utf16_unit (p, out, (gunichar2) (bits >> count), &high, error))
        return FALSE;
    }
  if (count >= 6 || (bits & ((1u << count) - 1)) != 0 || high != 0)
    {
      p->pos = open;
      return parser_fail_with (p, error,
                               "this BASE64 run does not end "
                               "with a whole UTF-16 character "
                               "and zero bits");
    }
  return TRUE;
}

char *
imap_mutf7_to_utf8 (const char *mutf7, GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);
  gboolean after_run = FALSE;
  ImapParser p;

  g_return_val_if_fail (mutf7 != NULL, NULL);
  parser_init (&p, mutf7, strlen (mutf7));
  while (parser_peek (&p) >= 0)
    {
      int c = parser_peek (&p);

      if (!is_mutf7_direct ((gunichar) c))
        return parser_fail_null (&p, error, "printable US-ASCII");
      if (c == '&' && after_run && p.pos + 1 < p.length &&
          p.data[p.pos + 1] != '-')
        {
          parser_fail_with (&p, error,
                            "two BASE64 runs in a row (the null "
                            "shift \"-&\" is not allowed)");
          return NULL;
        }
      p.pos++;
      after_run = FALSE;
      if (c != '&')
        g_string_append_c (out, (char) c);
      else if (parser_skip (&p, '-'))
        g_string_append_c (out, '&');
      else if (decode_mbase64_run (&p, out, error))
        after_run = TRUE;
      else
        return NULL;
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Appends @unit (UTF-16BE) to @bits, emitting each whole sextet. */
static void
encode_utf16_unit (GString *out, gunichar2 unit, guint32 *bits, int *count)
{
  *bits = (*bits << 16 | unit) & 0x3fffff;
  *count += 16;
  while (*count >= 6)
    {
      *count -= 6;
      g_string_append_c (out, mbase64_alphabet[(*bits >> *count) & 0x3f]);
    }
}

/* One BASE64 run for the characters from @utf8 that cannot stand for
 * themselves; returns where the run stopped. */
static const char *
encode_mbase64_run (GString *out, const char *utf8)
{
  guint32 bits = 0;
  int count = 0;

  g_string_append_c (out, '&');
  for (; *utf8 != '\0' && !is_mutf7_direct (g_utf8_get_char (utf8));
       utf8 = g_utf8_next_char (utf8))
    {
      gunichar c = g_utf8_get_char (utf8);

      if (c < 0x10000)
        {
          encode_utf16_unit (out, (gunichar2) c, &bits, &count);
          continue;
        }
      encode_utf16_unit (out, (gunichar2) (0xd800 + ((c - 0x10000) >> 10)),
                         &bits, &count);
      encode_utf16_unit (out, (gunichar2) (0xdc00 + ((c - 0x10000) & 0x3ff)),
                         &bits, &count);
    }
  if (count > 0)
    g_string_append_c (out, mbase64_alphabet[(bits << (6 - count)) & 0x3f]);
  g_string_append_c (out, '-');
  return utf8;
}

char *
imap_utf8_to_mutf7 (const char *utf8)
{
  GString *out;

  g_return_val_if_fail (utf8 != NULL, NULL);
  g_return_val_if_fail (g_utf8_validate (utf8, -1, NULL), NULL);
  out = g_string_new (NULL);
  while (*utf8 != '\0')
    {
      if (!is_mutf7_direct ((guchar) *utf8))
        {
          utf8 = encode_mbase64_run (out, utf8);
          continue;
        }
      g_string_append_c (out, *utf8);
      if (*utf8++ == '&')
        g_string_append_c (out, '-'); /* RFC 3501 §5.1.3: "&" is "&-" */
    }
  return g_string_free (out, FALSE);
}

/* ---- writing strings (RFC 9051 §4.3) ----------------------------------- */

/* An atom a strict peer reads back as this text, and not as NIL. */
static gboolean
can_be_atom (const char *text, gsize length)
{
  if (length == 0 || (length == 3 && g_ascii_strncasecmp (text, "NIL", 3) == 0))
    return FALSE;
  for (gsize i = 0; i < length; i++)
    if (!is_strict_atom_char ((guchar) text[i]))
      return FALSE;
  return TRUE;
}

/* RFC 9051 §9 quoted: no CR, LF or NUL; 8-bit only as UTF-8, and only to
 * a peer that accepts it (RFC 6855 §3). */
static gboolean
can_be_quoted (const char *text, gsize length, gboolean utf8)
{
  gboolean eight_bit = FALSE;

  for (gsize i = 0; i < length; i++)
    {
      guchar c = (guchar) text[i];

      if (c == '\0' || c == '\r' || c == '\n')
        return FALSE;
      eight_bit |= c >= 0x80;
    }
  return !eight_bit || (utf8 && g_utf8_validate_len (text, length, NULL));
}

void
imap_append_string (GString *out,
                    const char *text,
                    gsize length,
                    gboolean allow_atom,
                    gboolean utf8)
{
  g_return_if_fail (out != NULL);
  if (text == NULL)
    g_string_append (out, "NIL");
  else if (allow_atom && can_be_atom (text, length))
    g_string_append_len (out, text, length);
  else if (can_be_quoted (text, length, utf8))
    {
      g_string_append_c (out, '"');
      for (gsize i = 0; i < length; i++)
        {
          if (text[i] == '"' || text[i] == '\\')
            g_string_append_c (out, '\\');
          g_string_append_c (out, text[i]);
        }
      g_string_append_c (out, '"');
    }
  else
    {
      /* RFC 3516 §4.2: only a literal8 may carry NUL */
      g_string_append_printf (out, "%s{%" G_GSIZE_FORMAT "}\r\n",
                              memchr (text, '\0', length) != NULL ? "~" : "",
                              length);
      g_string_append_len (out, text, length);
    }
}
