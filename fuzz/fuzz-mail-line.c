/* SPDX-License-Identifier: MIT
 * fuzz-mail-line.c: the CRLF framer (mail_line_framer_*) and
 * dot-stuffing (RFC 5321 §2.3.8, §4.5.2, §4.5.3.1).
 * Input: one octet choosing the line limit, one the chunk size, one the
 * size of a raw take (an IMAP literal), then the stream.
 * Invariants: a line and its terminator fit in max_line; what is left
 * pending stays under max_line; the stream gives the same lines whole
 * and in chunks (Dovecot's trickle rule); dot-stuffing then framing and
 * unstuffing gives back the text (with CRLF line ends).
 */
#include "fuzz.h"
#include "mail-line.h"

static const gsize line_limits[] = {
  MAIL_LINE_MAX_SMTP_COMMAND,
  MAIL_LINE_MAX_SMTP_TEXT,
  MAIL_LINE_MAX_IMAP,
  1,
  2,
  3,
  8,
  64,
};

/* Frames @data pushed @chunk octets at a time (0: whole) and writes
 * what came out, line by line, to @record. */
static void
frame_stream (const guint8 *data,
              gsize size,
              gsize max_line,
              gsize chunk,
              gsize raw,
              GString *record)
{
  MailLineFramer framer;
  gsize done = 0;

  mail_line_framer_init (&framer, max_line);
  while (done < size)
    {
      gsize step = chunk == 0 ? size - done : MIN (chunk, size - done);
      MailLineStatus status;

      mail_line_framer_push (&framer, data + done, step);
      done += step;
      do
        {
          char *line = NULL;
          gsize length = 0;
          MailLineFlags flags = 0;

          status = mail_line_framer_take (&framer, &line, &length, &flags);
          if (status == MAIL_LINE_COMPLETE)
            {
              g_assert_cmpuint (length + 1, <=, max_line);
              g_assert_cmpint (line[length], ==, '\0');
              g_string_append_printf (record, "L%x:%" G_GSIZE_FORMAT ":", flags,
                                      length);
              g_string_append_len (record, line, length);
              g_free (line);
            }
          else if (status == MAIL_LINE_OVERLONG)
            g_string_append (record, "O");
        }
      while (status != MAIL_LINE_NEED_MORE);
      g_assert_cmpuint (mail_line_framer_get_pending (&framer), <, max_line);
    }
  /* what is left may be taken raw, as a literal is */
  if (raw > 0)
    {
      GBytes *bytes = mail_line_framer_take_bytes (&framer, raw);

      if (bytes != NULL)
        g_assert_cmpuint (g_bytes_get_size (bytes), ==, raw);
      g_clear_pointer (&bytes, g_bytes_unref);
    }
  mail_line_framer_clear (&framer);
}

/* dot-stuff, then frame and unstuff as mail_stream_read_dot_text () does */
static void
check_dot_round_trip (const guint8 *data, gsize size)
{
  g_autoptr (GString) text = mail_line_to_crlf ((const char *) data, size);
  g_autoptr (GString) stuffed = g_string_new (NULL);
  g_autoptr (GString) back = g_string_new (NULL);
  MailLineFramer framer;
  gboolean ended = FALSE;

  mail_dot_stuff (stuffed, text->str, text->len);
  if (text->len > 0 && !(text->len >= 2 && text->str[text->len - 2] == '\r' &&
                         text->str[text->len - 1] == '\n'))
    g_string_append (text, "\r\n");
  mail_line_framer_init (&framer, stuffed->len + 1);
  mail_line_framer_push (&framer, stuffed->str, stuffed->len);
  while (!ended)
    {
      g_autofree char *line = NULL;
      gsize length = 0;
      MailLineFlags flags = 0;
      const char *cursor;

      g_assert_cmpint (mail_line_framer_take (&framer, &line, &length, &flags),
                       ==, MAIL_LINE_COMPLETE);
      cursor = line;
      ended = mail_dot_unstuff (&cursor, &length);
      if (!ended)
        {
          g_string_append_len (back, cursor, length);
          g_string_append (back, "\r\n");
        }
    }
  g_assert_cmpuint (mail_line_framer_get_pending (&framer), ==, 0);
  fuzz_assert_same (back, text);
  mail_line_framer_clear (&framer);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  gsize max_line;
  gsize chunk;
  gsize raw;
  g_autoptr (GString) whole = g_string_new (NULL);
  g_autoptr (GString) trickle = g_string_new (NULL);

  fuzz_init ();
  max_line = line_limits[fuzz_byte (&data, &size) % G_N_ELEMENTS (line_limits)];
  chunk = fuzz_byte (&data, &size) % 17 + 1;
  raw = fuzz_byte (&data, &size);
  frame_stream (data, size, max_line, 0, raw, whole);
  frame_stream (data, size, max_line, chunk, raw, trickle);
  fuzz_assert_same (whole, trickle);
  check_dot_round_trip (data, size);
  return 0;
}
