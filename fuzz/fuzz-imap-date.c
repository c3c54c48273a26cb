/* SPDX-License-Identifier: MIT
 * fuzz-imap-date.c: dates and date-times (RFC 9051 §9 date, date-time):
 * imap_date_parse (), imap_datetime_parse (), imap_datetime_format ().
 * Invariants: a parsed date-time written in UTC parses to the same
 * instant with zone +0000; its day is the day of that instant's date.
 */
#include "fuzz.h"
#include "imap-parser.h"

/* 0001-01-01 and 9999-12-31 23:59:59 UTC, the writer's range */
#define FIRST_TIME G_GINT64_CONSTANT (-62135596800)
#define LAST_TIME G_GINT64_CONSTANT (253402300799)

static void
check_datetime (const char *text)
{
  gint64 time = 0;
  gint64 again = 0;
  gint64 day = 0;
  int zone = 0;
  g_autofree char *written = NULL;
  g_autofree char *date = NULL;
  g_autoptr (GError) error = NULL;

  if (!imap_datetime_parse (text, &time, &zone, &error))
    {
      g_assert_nonnull (error);
      return;
    }
  if (time < FIRST_TIME || time > LAST_TIME)
    return;
  written = imap_datetime_format (time);
  g_assert_true (imap_datetime_parse (written, &again, &zone, &error));
  g_assert_no_error (error);
  g_assert_cmpint (again, ==, time);
  g_assert_cmpint (zone, ==, 0);
  date = g_strndup (written, strcspn (written, " "));
  g_assert_true (imap_date_parse (date, &day, &error));
  g_assert_no_error (error);
  g_assert_cmpint (day, ==, (time >= 0 ? time : time - 86399) / 86400);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  gint64 day = 0;

  fuzz_init ();
  text = fuzz_strndup (data, size);
  if (!imap_date_parse (text, &day, &error))
    g_assert_nonnull (error);
  check_datetime (text);
  return 0;
}
