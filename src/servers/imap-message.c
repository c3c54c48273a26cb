/* SPDX-License-Identifier: MIT
 * imap-message.c: one stored message as FETCH sections and SEARCH text
 * see it (RFC 9051 §6.4.5 sections, §6.4.4 SEARCH; RFC 3516 BINARY;
 * RFC 2045 §6 transfer encodings, RFC 2046 §5.1.1 delimiters).
 *
 * GMime builds the MIME tree. Where each entity lies in the stored
 * octets is found here, top down: an entity's header runs to its first
 * empty line (RFC 5322 §2.1), and a multipart body is cut at the
 * delimiter lines of the boundary GMime read (RFC 2046 §5.1.1), each
 * piece going to the GMime child of the same index. The CRLF before a
 * delimiter belongs to the delimiter, so it is in no part.
 *
 * Each query reads only as far as it needs (ImapMessageStage): BODY[]
 * looks for NUL; the top-level HEADER, HEADER.FIELDS and TEXT, ENVELOPE
 * and the header SEARCH keys also find where the header ends; only parts,
 * BODYSTRUCTURE, BINARY and the body SEARCH keys build the tree.
 */
#include <string.h>

#include "imap-message-private.h"

G_DEFINE_QUARK (imap_message_error, imap_message_error)

static void imap_part_free (gpointer data);
static gsize find_body_start (const char *data, gsize start, gsize end);
static ImapPart *imap_part_new (
    const char *data, GMimeObject *mime, gsize start, gsize end, guint depth);
static GBytes *show_without_nul (ImapMessage *message);

/* ---- lifecycle --------------------------------------------------------- */

ImapMessage *
imap_message_new (GBytes *data)
{
  static gsize gmime_ready = 0;
  ImapMessage *message = NULL;

  g_return_val_if_fail (data != NULL, NULL);
  if (g_once_init_enter (&gmime_ready))
    {
      g_mime_init ();
      g_once_init_leave (&gmime_ready, 1);
    }
  message = g_new0 (ImapMessage, 1);
  message->data = g_bytes_ref (data);
  message->octets = g_bytes_get_data (data, &message->length);
  if (message->octets == NULL)
    message->octets = "";
  return message;
}

/* GMime reads the octets where they are (g_mime_stream_mem_new_with_buffer
 * () would copy them): a byte array over them that the memory stream does
 * not own, so it never frees it, and that nothing grows, as the parser
 * only reads. With a persistent stream, the parts' contents are
 * substreams of it, not copies. The octets go back to their GBytes
 * before the array is freed. */
static GMimeMessage *
parse_mime (ImapMessage *message)
{
  GMimeStream *stream = NULL;
  GMimeParser *parser = NULL;
  GMimeMessage *mime = NULL;

  message->source =
      g_byte_array_new_take ((guint8 *) message->octets, message->length);
  stream = g_mime_stream_mem_new_with_byte_array (message->source);
  g_mime_stream_mem_set_owner (GMIME_STREAM_MEM (stream), FALSE);
  parser = g_mime_parser_new_with_stream (stream);
  g_mime_parser_set_persist_stream (parser, TRUE);
  mime = g_mime_parser_construct_message (parser, NULL);
  g_object_unref (parser);
  g_object_unref (stream);
  return mime;
}

static void
clear_tree (ImapMessage *message)
{
  g_clear_pointer (&message->root, imap_part_free);
  /* the last reference to the stream over message->source */
  g_clear_object (&message->mime);
  if (message->source != NULL)
    g_byte_array_steal (message->source, NULL);
  g_clear_pointer (&message->source, g_byte_array_unref);
}

/* -> PARSED */
static void
parse_tree (ImapMessage *message)
{
  GMimeObject *body = NULL;

  message->mime = parse_mime (message);
  if (message->mime != NULL)
    body = g_mime_message_get_mime_part (message->mime);
  message->root = imap_part_new (message->octets, body, 0, message->length, 0);
  message->header_end = message->root->body_start;
  message->stage = IMAP_MESSAGE_PARSED;
}

/* -> SHOWN: a memchr () over the octets, and only if it finds NUL the
 * parse that show_without_nul () needs (then it is PARSED). */
static void
show (ImapMessage *message)
{
  GBytes *shown = NULL;

  if (message->stage >= IMAP_MESSAGE_SHOWN)
    return;
  message->stage = IMAP_MESSAGE_SHOWN;
  if (memchr (message->octets, '\0', message->length) == NULL)
    return;
  parse_tree (message);
  shown = show_without_nul (message);
  clear_tree (message);
  g_bytes_unref (message->data);
  message->data = shown;
  message->octets = g_bytes_get_data (shown, &message->length);
  parse_tree (message);
}

void
imap_message_free (ImapMessage *message)
{
  if (message == NULL)
    return;
  clear_tree (message);
  g_clear_pointer (&message->data, g_bytes_unref);
  g_free (message);
}

GBytes *
imap_message_get_data (ImapMessage *message)
{
  g_return_val_if_fail (message != NULL, NULL);
  show (message);
  return message->data;
}

const ImapPart *
imap_message_get_root (ImapMessage *message)
{
  show (message);
  if (message->stage < IMAP_MESSAGE_PARSED)
    parse_tree (message);
  return message->root;
}

gsize
imap_message_get_header_end (ImapMessage *message)
{
  show (message);
  if (message->stage < IMAP_MESSAGE_SPLIT)
    {
      message->header_end =
          find_body_start (message->octets, 0, message->length);
      message->stage = IMAP_MESSAGE_SPLIT;
    }
  return message->header_end;
}

/* ---- where the entities are ------------------------------------------- */

/* RFC 5322 §2.1: the header ends at the first empty line and the body
 * follows it. With no empty line it is all header, as in Dovecot. */
static gsize
find_body_start (const char *data, gsize start, gsize end)
{
  gsize at = start;

  while (at < end)
    {
      const char *newline = memchr (data + at, '\n', end - at);
      gsize next = newline != NULL ? (gsize) (newline - data) + 1 : end;

      if (newline != NULL &&
          (next - at == 1 || (next - at == 2 && data[at] == '\r')))
        return next;
      at = next;
    }
  return end;
}

typedef struct
{
  gsize line_start; /* where "--" is */
  gsize next;       /* the line after it */
  gboolean close;   /* "--boundary--" */
} ImapDelimiter;

/* RFC 2046 §5.1.1: delimiter := "--" boundary, then transport padding
 * (LWSP) to the line end; the close delimiter adds "--". */
static gboolean
is_delimiter (const char *line,
              gsize length,
              const char *boundary,
              gboolean *out_close)
{
  gsize boundary_length = strlen (boundary);
  gsize at = boundary_length + 2;

  if (length < at || line[0] != '-' || line[1] != '-' ||
      memcmp (line + 2, boundary, boundary_length) != 0)
    return FALSE;
  *out_close = length >= at + 2 && line[at] == '-' && line[at + 1] == '-';
  if (*out_close)
    return TRUE;
  while (at < length &&
         (line[at] == ' ' || line[at] == '\t' || line[at] == '\r'))
    at++;
  return at == length;
}

/* The first delimiter line in data[from, end); @from is a line start. */
static gboolean
find_delimiter (const char *data,
                gsize from,
                gsize end,
                const char *boundary,
                ImapDelimiter *out)
{
  gsize at = from;

  while (at < end)
    {
      const char *newline = memchr (data + at, '\n', end - at);
      gsize text_end = newline != NULL ? (gsize) (newline - data) : end;
      gsize next = newline != NULL ? text_end + 1 : end;

      if (is_delimiter (data + at, text_end - at, boundary, &out->close))
        {
          out->line_start = at;
          out->next = next;
          return TRUE;
        }
      at = next;
    }
  return FALSE;
}

/* Where the content before a delimiter line at @line_start ends: the
 * CRLF (or bare LF) in front of the delimiter belongs to it. */
static gsize
content_end (const char *data, gsize start, gsize line_start)
{
  gsize end = line_start;

  if (end > start && data[end - 1] == '\n')
    end--;
  if (end > start && data[end - 1] == '\r')
    end--;
  return end;
}

static void
layout_multipart (ImapPart *part, const char *data, guint depth)
{
  GMimeMultipart *multipart = GMIME_MULTIPART (part->mime);
  const char *boundary = g_mime_multipart_get_boundary (multipart);
  int count = g_mime_multipart_get_count (multipart);
  ImapDelimiter delimiter = { 0 };
  gboolean found =
      boundary != NULL && find_delimiter (data, part->body_start,
                                          part->body_end, boundary, &delimiter);

  for (int i = 0; i < count; i++)
    {
      gsize start = found && !delimiter.close ? delimiter.next : part->body_end;
      gsize end = part->body_end;
      GMimeObject *child = g_mime_multipart_get_part (multipart, i);

      found =
          found && !delimiter.close &&
          find_delimiter (data, start, part->body_end, boundary, &delimiter);
      if (found)
        end = content_end (data, start, delimiter.line_start);
      g_ptr_array_add (part->children,
                       imap_part_new (data, child, start, end, depth + 1));
    }
  /* RFC 9051 §9 body-type-mpart needs one part at least: an empty
   * text/plain stands in, as in Dovecot. */
  if (count == 0)
    g_ptr_array_add (part->children, imap_part_new (data, NULL, part->body_end,
                                                    part->body_end, depth + 1));
}

static ImapPartKind
part_kind (GMimeObject *mime, guint depth)
{
  GMimeContentType *type = NULL;

  if (mime == NULL)
    return IMAP_PART_TEXT; /* RFC 2045 §5.2: text/plain; charset=us-ascii */
  type = g_mime_object_get_content_type (mime);
  if (depth >= IMAP_MESSAGE_MAX_DEPTH)
    return IMAP_PART_BASIC;
  if (GMIME_IS_MULTIPART (mime))
    return IMAP_PART_MULTIPART;
  /* Even with no message inside: BODYSTRUCTURE must give an envelope. */
  if (GMIME_IS_MESSAGE_PART (mime) &&
      (g_mime_content_type_is_type (type, "message", "rfc822") ||
       g_mime_content_type_is_type (type, "message", "global")))
    return IMAP_PART_MESSAGE;
  if (type != NULL && g_mime_content_type_is_type (type, "text", "*"))
    return IMAP_PART_TEXT;
  return IMAP_PART_BASIC;
}

/* The entity @mime, which is data[start, end). */
static ImapPart *
imap_part_new (
    const char *data, GMimeObject *mime, gsize start, gsize end, guint depth)
{
  ImapPart *part = g_new0 (ImapPart, 1);
  GMimeMessage *embedded = NULL;

  part->kind = part_kind (mime, depth);
  part->mime = mime;
  part->header_start = start;
  part->body_start = find_body_start (data, start, end);
  part->body_end = end;
  if (part->kind == IMAP_PART_BASIC || part->kind == IMAP_PART_TEXT)
    return part;
  part->children = g_ptr_array_new_with_free_func (imap_part_free);
  if (part->kind == IMAP_PART_MULTIPART)
    {
      layout_multipart (part, data, depth);
      return part;
    }
  embedded = g_mime_message_part_get_message (GMIME_MESSAGE_PART (mime));
  g_ptr_array_add (part->children,
                   imap_part_new (data,
                                  embedded != NULL
                                      ? g_mime_message_get_mime_part (embedded)
                                      : NULL,
                                  part->body_start, part->body_end, depth + 1));
  return part;
}

static void
imap_part_free (gpointer data)
{
  ImapPart *part = data;

  g_clear_pointer (&part->children, g_ptr_array_unref);
  g_free (part);
}

/* ---- header fields (RFC 5322 §2.2) ------------------------------------ */

void
imap_header_iter_init (ImapHeaderIter *iter,
                       const char *data,
                       gsize start,
                       gsize end)
{
  iter->data = data;
  iter->at = start;
  iter->end = end;
}

/* Where the field starting at @at ends: after the line end of its last
 * line (RFC 5322 §2.2.3: a line starting with WSP continues it). */
static gsize
field_end (const char *data, gsize at, gsize end)
{
  while (at < end)
    {
      const char *newline = memchr (data + at, '\n', end - at);

      if (newline == NULL)
        return end;
      at = (gsize) (newline - data) + 1;
      if (at >= end || (data[at] != ' ' && data[at] != '\t'))
        return at;
    }
  return end;
}

gboolean
imap_header_iter_next (ImapHeaderIter *iter, ImapHeaderField *out_field)
{
  const char *line = iter->data + iter->at;
  gsize next = 0;
  const char *colon = NULL;
  gsize length = 0;

  if (iter->at >= iter->end || line[0] == '\n' ||
      (line[0] == '\r' && iter->at + 1 < iter->end && line[1] == '\n'))
    return FALSE;
  next = field_end (iter->data, iter->at, iter->end);
  length = next - iter->at;
  colon = memchr (line, ':', length);
  if (colon != NULL && memchr (line, '\n', colon - line) != NULL)
    colon = NULL;
  out_field->line = line;
  out_field->line_length = length;
  out_field->name = line;
  out_field->name_length = colon != NULL ? (gsize) (colon - line) : 0;
  /* RFC 5322 §4.5 obs-optional: blanks may come before the colon. */
  while (out_field->name_length > 0 &&
         (line[out_field->name_length - 1] == ' ' ||
          line[out_field->name_length - 1] == '\t'))
    out_field->name_length--;
  out_field->value = colon != NULL ? colon + 1 : line + length;
  out_field->value_length = line + length - out_field->value;
  while (out_field->value_length > 0 &&
         (out_field->value[out_field->value_length - 1] == '\n' ||
          out_field->value[out_field->value_length - 1] == '\r'))
    out_field->value_length--;
  iter->at = next;
  return TRUE;
}

gboolean
imap_header_field_is (const ImapHeaderField *field, const char *name)
{
  return field->name_length == strlen (name) &&
         g_ascii_strncasecmp (field->name, name, field->name_length) == 0;
}

char *
imap_header_unfold (const char *value, gsize length)
{
  GString *text = g_string_sized_new (length);
  gsize start = 0;

  while (start < length && (value[start] == ' ' || value[start] == '\t'))
    start++;
  for (gsize i = start; i < length; i++)
    if (value[i] != '\r' && value[i] != '\n')
      g_string_append_c (text, value[i]);
  while (text->len > 0 &&
         (text->str[text->len - 1] == ' ' || text->str[text->len - 1] == '\t'))
    g_string_truncate (text, text->len - 1);
  return g_string_free (text, FALSE);
}

char *
imap_header_get (const char *data, gsize start, gsize end, const char *name)
{
  ImapHeaderIter iter;
  ImapHeaderField field;

  imap_header_iter_init (&iter, data, start, end);
  while (imap_header_iter_next (&iter, &field))
    if (imap_header_field_is (&field, name))
      return imap_header_unfold (field.value, field.value_length);
  return NULL;
}

char *
imap_part_get_header (const ImapPart *part, const char *data, const char *name)
{
  return imap_header_get (data, part->header_start, part->body_start, name);
}

/* ---- sections (RFC 9051 §6.4.5) --------------------------------------- */

/* RFC 9051 §6.4.5: the parts of a multipart are numbered from 1; a
 * message (the top one, or one in a message/rfc822 part) whose body is
 * not multipart has the one part 1, its body. NULL if there is none. */
static const ImapPart *
find_part (const ImapPart *root, const GArray *numbers)
{
  const ImapPart *part = root;
  gboolean in_message = TRUE; /* @part is a message, not yet a body part */

  for (guint i = 0; part != NULL && i < numbers->len; i++)
    {
      guint32 number = g_array_index (numbers, guint32, i);

      if (part->kind == IMAP_PART_MESSAGE && !in_message)
        {
          part = g_ptr_array_index (part->children, 0);
          in_message = TRUE;
        }
      if (part->kind == IMAP_PART_MULTIPART)
        part = number >= 1 && number <= part->children->len
                   ? g_ptr_array_index (part->children, number - 1)
                   : NULL;
      else if (!in_message || number != 1)
        part = NULL;
      in_message = FALSE;
    }
  return part;
}

/* The message in the message/rfc822 part that @numbers name, whose
 * HEADER or TEXT a section asks for; NULL if none. */
static const ImapPart *
find_message (const ImapPart *root, const GArray *numbers)
{
  const ImapPart *part = find_part (root, numbers);

  if (part == NULL || part->kind != IMAP_PART_MESSAGE)
    return NULL;
  return g_ptr_array_index (part->children, 0);
}

static gboolean
field_is_listed (const ImapHeaderField *field, const GStrv names)
{
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    if (imap_header_field_is (field, names[i]))
      return TRUE;
  return FALSE;
}

/* RFC 9051 §6.4.5 HEADER.FIELDS (.NOT): the fields of the header
 * data[start, end) named (or the others), as they are and in their
 * order, then the empty line. */
static GBytes *
filter_header (const char *data,
               gsize start,
               gsize end,
               const GStrv names,
               gboolean keep_listed)
{
  GString *out = g_string_new (NULL);
  ImapHeaderIter iter;
  ImapHeaderField field;

  imap_header_iter_init (&iter, data, start, end);
  while (imap_header_iter_next (&iter, &field))
    if (field_is_listed (&field, names) == keep_listed)
      g_string_append_len (out, field.line, field.line_length);
  g_string_append (out, "\r\n");
  return g_string_free_to_bytes (out);
}

/* A part of the octets: a new reference to them, not a copy. */
static GBytes *
slice (ImapMessage *message, gsize start, gsize end)
{
  return g_bytes_new_from_bytes (message->data, start, end - start);
}

/* HEADER, HEADER.FIELDS (.NOT) or TEXT of the message whose header is
 * octets[header_start, body_start) and body octets[body_start, body_end). */
static GBytes *
message_section (ImapMessage *message,
                 gsize header_start,
                 gsize body_start,
                 gsize body_end,
                 const ImapSection *section)
{
  switch (section->kind)
    {
    case IMAP_SECTION_HEADER:
      return slice (message, header_start, body_start);
    case IMAP_SECTION_HEADER_FIELDS:
      return filter_header (message->octets, header_start, body_start,
                            section->fields, TRUE);
    case IMAP_SECTION_HEADER_FIELDS_NOT:
      return filter_header (message->octets, header_start, body_start,
                            section->fields, FALSE);
    case IMAP_SECTION_TEXT:
      return slice (message, body_start, body_end);
    case IMAP_SECTION_ALL:
    case IMAP_SECTION_MIME:
    default:
      g_assert_not_reached ();
    }
}

/* BODY[], BODY[HEADER] and the others of the top-level message need only
 * where its header ends, not its MIME structure; BODY[] is the octets
 * themselves (RFC 9051 §6.4.5). */
static GBytes *
top_section (ImapMessage *message, const ImapSection *section)
{
  gsize header_end = 0;

  switch (section->kind)
    {
    case IMAP_SECTION_ALL:
      return g_bytes_ref (imap_message_get_data (message));
    case IMAP_SECTION_MIME: /* of no part: there is none */
      return g_bytes_new (NULL, 0);
    default:
      header_end = imap_message_get_header_end (message);
      return message_section (message, 0, header_end, message->length, section);
    }
}

GBytes *
imap_message_get_section (ImapMessage *message, const ImapSection *section)
{
  const ImapPart *root = NULL;
  const ImapPart *part = NULL;

  g_return_val_if_fail (message != NULL && section != NULL, NULL);
  if (section->parts == NULL || section->parts->len == 0)
    return top_section (message, section);
  root = imap_message_get_root (message);
  if (section->kind == IMAP_SECTION_ALL || section->kind == IMAP_SECTION_MIME)
    {
      part = find_part (root, section->parts);
      if (part == NULL)
        return g_bytes_new (NULL, 0);
      if (section->kind == IMAP_SECTION_MIME)
        return slice (message, part->header_start, part->body_start);
      return slice (message, part->body_start, part->body_end);
    }
  part = find_message (root, section->parts);
  if (part == NULL)
    return g_bytes_new (NULL, 0);
  return message_section (message, part->header_start, part->body_start,
                          part->body_end, section);
}

/* ---- BINARY (RFC 3516 §4.2) -------------------------------------------- */

/* RFC 2045 §6.1: no field means 7bit. Only the encodings RFC 2045 defines
 * are undone; x-uuencode and the like are refused, as Dovecot does. */
static gboolean
part_encoding (const ImapPart *part,
               const char *data,
               GMimeContentEncoding *out_encoding,
               GError **error)
{
  g_autofree char *value =
      imap_part_get_header (part, data, "Content-Transfer-Encoding");

  *out_encoding = value == NULL || value[0] == '\0'
                      ? GMIME_CONTENT_ENCODING_7BIT
                      : g_mime_content_encoding_from_string (value);
  switch (*out_encoding)
    {
    case GMIME_CONTENT_ENCODING_7BIT:
    case GMIME_CONTENT_ENCODING_8BIT:
    case GMIME_CONTENT_ENCODING_BINARY:
    case GMIME_CONTENT_ENCODING_BASE64:
    case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
      return TRUE;
    default:
      g_set_error (error, IMAP_MESSAGE_ERROR, IMAP_MESSAGE_ERROR_UNKNOWN_CTE,
                   "unknown Content-Transfer-Encoding \"%s\"", value);
      return FALSE;
    }
}

static gboolean
is_identity (GMimeContentEncoding encoding)
{
  return encoding != GMIME_CONTENT_ENCODING_BASE64 &&
         encoding != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
}

static gboolean
is_blank (char c)
{
  return c == ' ' || c == '\t';
}

/* RFC 2045 §6.7 rule 1: "=" and two hex digits is that octet (lowercase
 * digits too, which §6.7 lets a robust decoder take); any other "=" is
 * kept as it is. */
static void
decode_quoted_line (GString *out, const char *line, gsize length)
{
  for (gsize i = 0; i < length; i++)
    {
      int high = i + 2 < length ? g_ascii_xdigit_value (line[i + 1]) : -1;
      int low = i + 2 < length ? g_ascii_xdigit_value (line[i + 2]) : -1;

      if (line[i] == '=' && high >= 0 && low >= 0)
        {
          g_string_append_c (out, (char) (high * 16 + low));
          i += 2;
        }
      else
        g_string_append_c (out, line[i]);
    }
}

/* RFC 2045 §6.7 quoted-printable, which GMime 3.2 decodes keeping the
 * trailing blanks. Each line loses its trailing blanks (rule 3: they are
 * transport padding); then a line ending in "=" is a soft line break
 * (rule 5), so "foo= " CRLF "bar" is "foobar", and any other line end is
 * a CRLF. */
static GBytes *
decode_quoted_printable (const char *data, gsize length)
{
  GString *out = g_string_sized_new (length);
  gsize at = 0;

  while (at < length)
    {
      const char *newline = memchr (data + at, '\n', length - at);
      gsize next = newline != NULL ? (gsize) (newline - data) + 1 : length;
      gsize end = newline != NULL ? next - 1 : length;
      gboolean soft = FALSE;

      if (end > at && data[end - 1] == '\r')
        end--;
      while (end > at && is_blank (data[end - 1]))
        end--;
      soft = end > at && data[end - 1] == '=';
      decode_quoted_line (out, data + at, soft ? end - 1 - at : end - at);
      if (newline != NULL && !soft)
        g_string_append (out, "\r\n");
      at = next;
    }
  return g_string_free_to_bytes (out);
}

/* The body of @part with @encoding undone (RFC 2045 §6.7, §6.8). */
static GBytes *
decode_body (ImapMessage *message,
             const ImapPart *part,
             GMimeContentEncoding encoding)
{
  gsize length = part->body_end - part->body_start;
  GMimeEncoding state;
  char *out = NULL;
  gsize out_length = 0;

  if (is_identity (encoding))
    return slice (message, part->body_start, part->body_end);
  if (encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE)
    return decode_quoted_printable (message->octets + part->body_start, length);
  g_mime_encoding_init_decode (&state, encoding);
  out = g_malloc (g_mime_encoding_outlen (&state, length) + 1);
  out_length = g_mime_encoding_flush (
      &state, message->octets + part->body_start, length, out);
  return g_bytes_new_take (out, out_length);
}

/* BINARY[] of a single-part message: the header, its
 * Content-Transfer-Encoding now "binary", then @body. */
static GBytes *
binary_message (ImapMessage *message, const ImapPart *root, GBytes *body)
{
  GString *out = g_string_new (NULL);
  ImapHeaderIter iter;
  ImapHeaderField field;

  imap_header_iter_init (&iter, message->octets, root->header_start,
                         root->body_start);
  while (imap_header_iter_next (&iter, &field))
    if (imap_header_field_is (&field, "Content-Transfer-Encoding"))
      g_string_append (out, "Content-Transfer-Encoding: binary\r\n");
    else
      g_string_append_len (out, field.line, field.line_length);
  g_string_append_len (out, message->octets + iter.at,
                       root->body_start - iter.at);
  g_string_append_len (out, g_bytes_get_data (body, NULL),
                       g_bytes_get_size (body));
  return g_string_free_to_bytes (out);
}

GBytes *
imap_message_get_binary (ImapMessage *message,
                         const ImapSection *section,
                         GError **error)
{
  const ImapPart *part = NULL;
  gboolean whole = FALSE;
  GMimeContentEncoding encoding = GMIME_CONTENT_ENCODING_DEFAULT;
  g_autoptr (GBytes) body = NULL;

  g_return_val_if_fail (message != NULL && section != NULL, NULL);
  g_return_val_if_fail (section->kind == IMAP_SECTION_ALL, NULL);
  whole = section->parts == NULL || section->parts->len == 0;
  part = imap_message_get_root (message);
  if (!whole)
    part = find_part (part, section->parts);
  if (part == NULL)
    return g_bytes_new (NULL, 0);
  if (part->kind == IMAP_PART_MULTIPART || part->kind == IMAP_PART_MESSAGE)
    return whole ? g_bytes_ref (message->data)
                 : slice (message, part->body_start, part->body_end);
  if (!part_encoding (part, message->octets, &encoding, error))
    return NULL;
  body = decode_body (message, part, encoding);
  if (!whole)
    return g_steal_pointer (&body);
  if (is_identity (encoding))
    return g_bytes_ref (message->data);
  return binary_message (message, part, body);
}

gboolean
imap_message_get_binary_size (ImapMessage *message,
                              const ImapSection *section,
                              guint64 *out_size,
                              GError **error)
{
  g_autoptr (GBytes) binary = imap_message_get_binary (message, section, error);

  if (binary == NULL)
    return FALSE;
  *out_size = g_bytes_get_size (binary);
  return TRUE;
}

/* ---- NUL octets (RFC 9051 §4.3, RFC 3516 §4.4) ------------------------ */

/* RFC 2045 §6.8: base64 in lines of 76 characters. */
static void
append_base64 (GString *out, GBytes *content)
{
  gsize length = 0;
  const guchar *octets = g_bytes_get_data (content, &length);
  g_autofree char *encoded = g_base64_encode (octets, length);
  gsize total = strlen (encoded);

  for (gsize at = 0; at < total; at += 76)
    {
      if (at > 0)
        g_string_append (out, "\r\n");
      g_string_append_len (out, encoded + at, MIN (76, total - at));
    }
}

/* The entity @part with its content (decoded, or as it is if its
 * encoding is unknown) in base64, and a header that says so. */
static void
append_as_base64 (GString *out, ImapMessage *message, const ImapPart *part)
{
  GMimeContentEncoding encoding = GMIME_CONTENT_ENCODING_DEFAULT;
  g_autoptr (GBytes) content = NULL;
  ImapHeaderIter iter;
  ImapHeaderField field;

  if (!part_encoding (part, message->octets, &encoding, NULL))
    encoding = GMIME_CONTENT_ENCODING_BINARY;
  content = decode_body (message, part, encoding);
  imap_header_iter_init (&iter, message->octets, part->header_start,
                         part->body_start);
  while (imap_header_iter_next (&iter, &field))
    if (!imap_header_field_is (&field, "Content-Transfer-Encoding"))
      g_string_append_len (out, field.line, field.line_length);
  g_string_append (out, "Content-Transfer-Encoding: base64\r\n");
  g_string_append_len (out, message->octets + iter.at,
                       part->body_start - iter.at);
  append_base64 (out, content);
}

/* Copies the stored octets from *at up to each part whose content holds
 * a NUL, and that part in base64. */
static void
append_parts_without_nul (GString *out,
                          ImapMessage *message,
                          const ImapPart *part,
                          gsize *at)
{
  for (guint i = 0; part->children != NULL && i < part->children->len; i++)
    append_parts_without_nul (out, message,
                              g_ptr_array_index (part->children, i), at);
  if (part->children != NULL ||
      memchr (message->octets + part->body_start, '\0',
              part->body_end - part->body_start) == NULL)
    return;
  g_string_append_len (out, message->octets + *at, part->header_start - *at);
  append_as_base64 (out, message, part);
  *at = part->body_end;
}

/* A literal cannot carry NUL, and only BINARY answers with a literal8
 * (RFC 9051 §4.3), so a message that holds NUL (binary content APPENDed
 * in a literal8) is shown with those parts base64-encoded: BODY[],
 * BODYSTRUCTURE and SEARCH all see that form, and BINARY decodes it back
 * to the stored octets. RFC 3516 §4.4 lets the server change the
 * encoding so, as nothing is lost. A NUL outside any part's content (in
 * a header, a preamble) has no encoding to go into and is sent as 0x80,
 * as Dovecot sends every NUL. (transfer full) */
static GBytes *
show_without_nul (ImapMessage *message)
{
  GString *out = g_string_sized_new (message->length + message->length / 2);
  gsize at = 0;

  append_parts_without_nul (out, message, message->root, &at);
  g_string_append_len (out, message->octets + at, message->length - at);
  for (gsize i = 0; i < out->len; i++)
    if (out->str[i] == '\0')
      out->str[i] = (char) 0x80;
  return g_string_free_to_bytes (out);
}

/* ---- SEARCH text (RFC 9051 §6.4.4) ------------------------------------ */

char *
imap_header_decode_text (const char *raw)
{
  char *text = g_mime_utils_header_decode_text (NULL, raw);
  char *valid = g_utf8_make_valid (text, -1);

  g_free (text);
  return valid;
}

char *
imap_message_get_header_text (ImapMessage *message, const char *field_name)
{
  GString *text = NULL;
  gsize header_end = 0;
  ImapHeaderIter iter;
  ImapHeaderField field;

  g_return_val_if_fail (message != NULL && field_name != NULL, NULL);
  header_end = imap_message_get_header_end (message);
  imap_header_iter_init (&iter, message->octets, 0, header_end);
  while (imap_header_iter_next (&iter, &field))
    {
      g_autofree char *raw = NULL;
      g_autofree char *decoded = NULL;

      if (!imap_header_field_is (&field, field_name))
        continue;
      raw = imap_header_unfold (field.value, field.value_length);
      /* "X-Tag:" CRLF " second" is "second" */
      decoded = g_strstrip (imap_header_decode_text (raw));
      if (text == NULL)
        text = g_string_new (decoded);
      else
        g_string_append_printf (text, "\n%s", decoded);
    }
  return text != NULL ? g_string_free (text, FALSE) : NULL;
}

/* Text in @charset to UTF-8 with GMime's iconv (its charset aliases
 * included); text in an unknown charset goes through GMime's guess,
 * which takes valid UTF-8 (ASCII too) as it is: so does this, without
 * the iconv round trip. */
static char *
text_to_utf8 (const char *octets, gsize length, const char *charset)
{
  char *text = NULL;
  iconv_t cd = (iconv_t) -1;

  if (charset != NULL && g_ascii_strcasecmp (charset, "utf-8") != 0 &&
      g_ascii_strcasecmp (charset, "us-ascii") != 0)
    cd = g_mime_iconv_open ("UTF-8", charset);
  if (cd != (iconv_t) -1)
    {
      text = g_mime_iconv_strndup (cd, octets, length);
      g_mime_iconv_close (cd);
    }
  if (text == NULL && g_utf8_validate_len (octets, length, NULL))
    return g_strndup (octets, length);
  if (text == NULL)
    text = g_mime_utils_decode_8bit (NULL, octets, length);
  if (!g_utf8_validate (text, -1, NULL))
    {
      char *valid = g_utf8_make_valid (text, -1);

      g_free (text);
      text = valid;
    }
  return text;
}

/* The body of a text part, transfer-decoded (left as it is if the encoding is
 * unknown) and in UTF-8. (transfer full) */
static char *
part_text (ImapMessage *message, const ImapPart *part)
{
  GMimeContentEncoding encoding = GMIME_CONTENT_ENCODING_DEFAULT;
  g_autoptr (GBytes) body = NULL;
  const char *charset = NULL;
  gsize length = 0;
  const char *octets = NULL;

  if (!part_encoding (part, message->octets, &encoding, NULL))
    encoding = GMIME_CONTENT_ENCODING_BINARY;
  body = decode_body (message, part, encoding);
  octets = g_bytes_get_data (body, &length);
  if (part->mime != NULL)
    charset = g_mime_object_get_content_type_parameter (part->mime, "charset");
  return text_to_utf8 (octets != NULL ? octets : "", length, charset);
}

/* The header of @part, one field a line, unfolded and decoded. */
static char *
part_header_text (ImapMessage *message, const ImapPart *part)
{
  GString *text = g_string_new (NULL);
  ImapHeaderIter iter;
  ImapHeaderField field;

  imap_header_iter_init (&iter, message->octets, part->header_start,
                         part->body_start);
  while (imap_header_iter_next (&iter, &field))
    {
      g_autofree char *raw = imap_header_unfold (field.line, field.line_length);
      g_autofree char *decoded = imap_header_decode_text (raw);

      g_string_append_printf (text, "%s\n", decoded);
    }
  return g_string_free (text, FALSE);
}

/* g_utf8_casefold (), which for ASCII text is g_ascii_strdown () (its
 * special cases are all past U+007F), at a fraction of the cost. */
static char *
fold_case (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) *p >= 0x80)
      return g_utf8_casefold (text, -1);
  return g_ascii_strdown (text, -1);
}

static gboolean
text_contains (const char *text, const char *folded_needle)
{
  g_autofree char *folded = fold_case (text);

  return strstr (folded, folded_needle) != NULL;
}

static gboolean
part_contains (ImapMessage *message,
               const ImapPart *part,
               const char *folded_needle,
               gboolean include_headers)
{
  if (include_headers)
    {
      g_autofree char *header = part_header_text (message, part);

      if (text_contains (header, folded_needle))
        return TRUE;
    }
  if (part->kind == IMAP_PART_TEXT)
    {
      g_autofree char *text = part_text (message, part);

      return text_contains (text, folded_needle);
    }
  for (guint i = 0; part->children != NULL && i < part->children->len; i++)
    if (part_contains (message, g_ptr_array_index (part->children, i),
                       folded_needle, include_headers))
      return TRUE;
  return FALSE;
}

gboolean
imap_message_body_contains (ImapMessage *message,
                            const char *needle,
                            gboolean include_headers)
{
  g_autofree char *folded = NULL;

  g_return_val_if_fail (message != NULL && needle != NULL, FALSE);
  if (needle[0] == '\0')
    return TRUE;
  folded = g_utf8_casefold (needle, -1);
  return part_contains (message, imap_message_get_root (message), folded,
                        include_headers);
}

gboolean
imap_message_get_sent_day (ImapMessage *message, gint64 *out_day)
{
  gsize header_end = 0;
  g_autofree char *value = NULL;
  g_autoptr (GDateTime) sent = NULL;
  g_autoptr (GDateTime) day = NULL;
  int year = 0;
  int month = 0;
  int mday = 0;

  g_return_val_if_fail (message != NULL, FALSE);
  header_end = imap_message_get_header_end (message);
  value = imap_header_get (message->octets, 0, header_end, "Date");
  if (value != NULL)
    sent = g_mime_utils_header_decode_date (value);
  if (sent == NULL)
    return FALSE;
  /* The date as the sender wrote it: GMime keeps the header's zone. */
  g_date_time_get_ymd (sent, &year, &month, &mday);
  day = g_date_time_new_utc (year, month, mday, 0, 0, 0);
  *out_day = g_date_time_to_unix (day) / (24 * 60 * 60);
  return TRUE;
}
