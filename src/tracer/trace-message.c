/* SPDX-License-Identifier: MIT
 * trace-message.c: streaming summary of an RFC 5322 message.
 */
#include "trace-message.h"

#include <string.h>

#include "decode-text.h"

#define MAX_FIELD 998 /* RFC 5322 §2.1.1 line limit, enough for a summary */
/* Received: fields kept for the journey (trace-journey.c); a message that
 * went through more servers than this is a loop (RFC 5321 §6.3 counts
 * about 100 to detect one), and the newest fields are the useful ones. */
#define MAX_RECEIVED 16

struct _TraceMessage
{
  guint64 size;
  guint lines;
  gboolean in_body;
  GString *line;  /* the current line, bounded */
  GString *field; /* the current header field, unfolded, bounded */
  char *from;
  char *to;
  char *subject;
  char *message_id;
  char *boundary; /* RFC 2046 §5.1.1 */
  guint parts;
  GPtrArray *received; /* Received: values, newest (topmost) first */
  GString *body;       /* NULL unless --body */
};

TraceMessage *
trace_message_new (gboolean keep_body)
{
  TraceMessage *message = g_new0 (TraceMessage, 1);

  message->line = g_string_new (NULL);
  message->field = g_string_new (NULL);
  message->received = g_ptr_array_new_with_free_func (g_free);
  if (keep_body)
    message->body = g_string_new (NULL);
  return message;
}

void
trace_message_free (TraceMessage *message)
{
  if (message == NULL)
    return;
  g_string_free (message->line, TRUE);
  g_string_free (message->field, TRUE);
  if (message->body != NULL)
    g_string_free (message->body, TRUE);
  g_free (message->from);
  g_free (message->to);
  g_free (message->subject);
  g_free (message->message_id);
  g_free (message->boundary);
  g_ptr_array_unref (message->received);
  g_free (message);
}

/* Content-Type: multipart/...; boundary="b1" -> b1 */
static char *
find_boundary (const char *value)
{
  const char *p = strstr (value, "boundary=");
  const char *end;

  if (p == NULL)
    {
      p = strstr (value, "BOUNDARY=");
      if (p == NULL)
        return NULL;
    }
  p += strlen ("boundary=");
  if (*p == '"')
    {
      p++;
      end = strchr (p, '"');
    }
  else
    end = p + strcspn (p, "; \t");
  return end != NULL ? g_strndup (p, end - p) : NULL;
}

/* TRUE if the field name @name (@length octets, up to the colon) is
 * @wanted: RFC 5322 §1.2.2, field names are compared without case. The
 * name is compared where it lies, not copied: every field of every
 * header comes here. */
static gboolean
field_is (const char *name, gsize length, const char *wanted)
{
  return length == strlen (wanted) &&
         g_ascii_strncasecmp (name, wanted, length) == 0;
}

static void
take_field (TraceMessage *message)
{
  const char *name = message->field->str;
  const char *colon = strchr (name, ':');
  char **slot = NULL;
  gsize length;

  if (colon == NULL)
    return;
  length = (gsize) (colon - name);
  if (field_is (name, length, "From"))
    slot = &message->from;
  else if (field_is (name, length, "To"))
    slot = &message->to;
  else if (field_is (name, length, "Subject"))
    slot = &message->subject;
  else if (field_is (name, length, "Message-ID"))
    slot = &message->message_id;
  else if (field_is (name, length, "Received") &&
           message->received->len < MAX_RECEIVED)
    g_ptr_array_add (message->received, g_strstrip (g_strdup (colon + 1)));
  else if (field_is (name, length, "Content-Type") && message->boundary == NULL)
    message->boundary = find_boundary (colon + 1);
  if (slot != NULL && *slot == NULL)
    *slot = g_strstrip (g_strdup (colon + 1));
}

/* A message of headers only (TOP n 0, BODY[HEADER]) ends inside its last
 * field: take it, once. */
static void
take_last_field (TraceMessage *message)
{
  if (message->in_body)
    return;
  take_field (message);
  g_string_truncate (message->field, 0);
}

/* One whole line (without CRLF). RFC 5322 §2.2.3: a line that starts with
 * white space continues the previous field. */
static void
take_line (TraceMessage *message, const char *line)
{
  message->lines++;
  if (!message->in_body)
    {
      if (line[0] == ' ' || line[0] == '\t')
        {
          if (message->field->len + strlen (line) < MAX_FIELD)
            g_string_append (message->field, line);
          return;
        }
      take_field (message);
      g_string_assign (message->field, line);
      if (line[0] == '\0')
        message->in_body = TRUE; /* RFC 5322 §2.1: an empty line */
      return;
    }
  if (message->boundary != NULL && line[0] == '-' && line[1] == '-' &&
      g_str_has_prefix (line + 2, message->boundary) &&
      !g_str_has_prefix (line + 2 + strlen (message->boundary), "--"))
    message->parts++;
}

/* How much of a line must be kept: header lines whole (up to the limit),
 * body lines only as far as a MIME boundary could reach, else nothing. */
static gsize
line_room (TraceMessage *message)
{
  if (!message->in_body)
    return MAX_FIELD;
  if (message->boundary != NULL)
    return strlen (message->boundary) + 4;
  return 0;
}

/* For trace_message_feed (): TRUE when the rest of the body is only
 * counted, whatever it holds: no MIME boundary is looked for (take_line
 * ()), so nothing of its lines is kept. */
static gboolean
rest_is_only_counted (TraceMessage *message)
{
  return message->in_body && message->boundary == NULL;
}

/* The lines that end in @data: its LFs. */
static guint
count_line_ends (const guint8 *data, gsize length)
{
  const guint8 *end;
  guint lines = 0;

  if (length == 0)
    return 0; /* data may be NULL then: no memchr on it */
  end = data + length;
  for (const guint8 *p = data; (p = memchr (p, '\n', end - p)) != NULL; p++)
    lines++;
  return lines;
}

void
trace_message_feed (TraceMessage *message, const guint8 *data, gsize length)
{
  message->size += length;
  if (message->body != NULL && message->body->len < TRACE_MESSAGE_MAX_BODY)
    g_string_append_len (
        message->body, (const char *) data,
        MIN (length, TRACE_MESSAGE_MAX_BODY - message->body->len));
  while (length > 0 && !rest_is_only_counted (message))
    {
      const guint8 *lf = memchr (data, '\n', length);
      gsize chunk = lf != NULL ? (gsize) (lf - data) + 1 : length;
      gsize room = line_room (message);
      gsize keep = lf != NULL ? chunk - 1 : chunk;

      if (message->line->len < room)
        g_string_append_len (message->line, (const char *) data,
                             MIN (keep, room - message->line->len));
      if (lf != NULL)
        {
          if (message->line->len > 0 &&
              message->line->str[message->line->len - 1] == '\r')
            g_string_truncate (message->line, message->line->len - 1);
          take_line (message, message->line->str);
          g_string_truncate (message->line, 0);
        }
      data += chunk;
      length -= chunk;
    }
  /* The rest of the body (a literal's, RFC 9051 §4.3; a BDAT chunk's) is
   * skipped, not split in lines. */
  message->lines += count_line_ends (data, length);
}

void
trace_message_feed_line (TraceMessage *message, const char *line, gsize length)
{
  gsize room = line_room (message);
  gsize keep = MIN (length, room);

  /* Only a line that starts a fresh line buffer and holds no LF takes the
   * short way; anything else goes through trace_message_feed (). */
  if (message->line->len > 0 || message->body != NULL ||
      memchr (line, '\n', length) != NULL)
    {
      trace_message_feed (message, (const guint8 *) line, length);
      trace_message_feed (message, (const guint8 *) "\r\n", 2);
      return;
    }
  message->size += length + 2;
  if (room == 0 ||
      (message->in_body && (length < 2 || line[0] != '-' || line[1] != '-')))
    {
      /* A body line that is not a MIME boundary: only counted. */
      take_line (message, "");
      return;
    }
  /* As trace_message_feed () would: the kept part of the line, with the
   * CR of its CRLF dropped when the CR still fitted in the room. */
  g_string_append_len (message->line, line, (gssize) keep);
  if (keep == room && keep > 0 && line[keep - 1] == '\r')
    g_string_truncate (message->line, keep - 1);
  take_line (message, message->line->str);
  g_string_truncate (message->line, 0);
}

/* For trace_message_feed_text (): TRUE when trace_message_feed_line ()
 * would only count @line: a body line that cannot be a MIME boundary
 * (RFC 2046 §5.1.1: it starts "--"), with nothing of it to keep. */
static gboolean
line_is_only_counted (TraceMessage *message, const guint8 *line)
{
  return message->in_body && message->line->len == 0 && message->body == NULL &&
         (message->boundary == NULL || line[0] != '-');
}

/* For count_body_lines (): how many octets of @data[0..@length) are plain
 * lines (decode-text.h) that are only counted (line_is_only_counted ()),
 * and in *out_lines how many lines. A line that may be a MIME boundary
 * (RFC 2046 §5.1.1: it starts "--") ends them. */
static gsize
counted_extent (TraceMessage *message,
                const guint8 *data,
                gsize length,
                guint *out_lines)
{
  const guint8 *line = data;
  const guint8 *end = data + length;

  *out_lines = 0;
  while (line < end)
    {
      gsize size = trace_text_plain_line (line, (gsize) (end - line));

      if (size == 0 || (line[0] == '-' && message->boundary != NULL))
        break;
      (*out_lines)++;
      line += size;
    }
  return (gsize) (line - data);
}

/* For trace_message_feed_text (): the lines at the start of @data that are
 * only counted, in the body, the most of most messages: each line is
 * looked for its LF and a bare CR, and counted, with nothing else done
 * per line; then all of them for a NUL at once, and if one is there only
 * the lines before it are counted (the caller frames the rest). Returns
 * the octets counted and adds their lines to *inout_lines. */
static gsize
count_body_lines (TraceMessage *message,
                  const guint8 *data,
                  gsize length,
                  guint *inout_lines)
{
  guint lines = 0;
  gsize size;
  const guint8 *nul;

  if (!message->in_body || message->line->len > 0 || message->body != NULL)
    return 0;
  size = counted_extent (message, data, length, &lines);
  nul = size > 0 ? memchr (data, '\0', size) : NULL;
  if (nul != NULL)
    size = counted_extent (message, data, (gsize) (nul - data), &lines);
  message->size += size;
  message->lines += lines;
  *inout_lines += lines;
  return size;
}

gsize
trace_message_feed_text (TraceMessage *message,
                         const guint8 *data,
                         gsize length,
                         guint *out_lines)
{
  gsize used = 0;
  gsize size;

  *out_lines = 0;
  for (;;)
    {
      used += count_body_lines (message, data + used, length - used, out_lines);
      size = trace_text_plain_line (data + used, length - used);
      if (size == 0 || memchr (data + used, '\0', size) != NULL)
        return used; /* a NUL: the framer flags it */
      if (line_is_only_counted (message, data + used))
        {
          message->size += size;
          message->lines++;
        }
      else
        trace_message_feed_line (message, (const char *) data + used, size - 2);
      (*out_lines)++;
      used += size;
    }
}

guint64
trace_message_size (TraceMessage *message)
{
  return message->size;
}

const char *
trace_message_subject (TraceMessage *message)
{
  return message->subject;
}

const char *
trace_message_message_id (TraceMessage *message)
{
  take_last_field (message);
  return message->message_id;
}

guint
trace_message_received_count (TraceMessage *message)
{
  return message->received->len;
}

const char *
trace_message_received (TraceMessage *message, guint index)
{
  g_return_val_if_fail (index < message->received->len, NULL);
  return message->received->pdata[index];
}

const char *
trace_message_body (TraceMessage *message)
{
  return message->body != NULL ? message->body->str : NULL;
}

void
trace_message_describe (TraceMessage *message, TraceEvent *event)
{
  take_last_field (message);
  trace_event_explain (event, "%" G_GUINT64_FORMAT " bytes, %u lines",
                       message->size, message->lines);
  if (message->from != NULL)
    trace_event_explain (event, "From: %s", message->from);
  if (message->to != NULL)
    trace_event_explain (event, "To: %s", message->to);
  if (message->subject != NULL)
    trace_event_explain (event, "Subject: %s", message->subject);
  if (message->message_id != NULL)
    trace_event_explain (event, "Message-ID: %s", message->message_id);
  if (message->boundary != NULL)
    trace_event_explain (event, "MIME multipart, %u parts", message->parts);
  trace_event_field_int (event, "mw.message.size", (gint64) message->size);
  trace_event_field_int (event, "mw.message.lines", message->lines);
  trace_event_field (event, "imf.from", message->from);
  trace_event_field (event, "imf.to", message->to);
  trace_event_field (event, "imf.subject", message->subject);
  trace_event_field (event, "imf.message_id", message->message_id);
  if (message->boundary != NULL)
    trace_event_field_int (event, "mw.message.parts", message->parts);
}
