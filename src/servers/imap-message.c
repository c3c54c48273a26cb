/* SPDX-License-Identifier: MIT
 * imap-message.c: one stored message as FETCH sections see it (RFC 9051
 * §6.4.5 sections; RFC 2046 §5.1.1 delimiters; RFC 5322 §2.2 header
 * fields). BINARY and the SEARCH text are imap-message-content.c.
 *
 * The MIME tree is found here, top down, in the stored octets: an
 * entity's header runs to its first empty line (RFC 5322 §2.1), its
 * Content-Type says what its body is (GMime parses the field's value),
 * and a multipart body is cut at the delimiter lines of its boundary
 * (RFC 2046 §5.1.1), each piece a child entity. The CRLF before a
 * delimiter belongs to the delimiter, so it is in no part. Cutting the
 * outer body first means an inner multipart whose close delimiter is
 * missing still ends where its parent's next part starts.
 * No GMime object tree is built: for the structure it was most of the
 * cost of a cold BODYSTRUCTURE, and it held nothing read here.
 *
 * Each query reads only as far as it needs (ImapMessageStage): BODY[]
 * reads nothing; the top-level HEADER, HEADER.FIELDS and TEXT, ENVELOPE
 * and the header SEARCH keys find where the header ends; only parts,
 * BODYSTRUCTURE, BINARY and the body SEARCH keys build the tree.
 */
#include <string.h>

#include "imap-message-private.h"

G_DEFINE_QUARK (imap_message_error, imap_message_error)

static void imap_part_free (gpointer data);
static gsize find_body_start (const char *data, gsize start, gsize end);
static ImapPart *imap_part_new (
    const char *data, gsize start, gsize end, gboolean in_digest, guint depth);

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

static void
clear_tree (ImapMessage *message)
{
  g_clear_pointer (&message->root, imap_part_free);
}

/* -> PARSED */
static void
parse_tree (ImapMessage *message)
{
  message->root = imap_part_new (message->octets, 0, message->length, FALSE, 0);
  message->header_end = message->root->body_start;
  message->stage = IMAP_MESSAGE_PARSED;
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
  return message->data;
}

const ImapPart *
imap_message_get_root (ImapMessage *message)
{
  if (message->stage < IMAP_MESSAGE_PARSED)
    parse_tree (message);
  return message->root;
}

gsize
imap_message_get_header_end (ImapMessage *message)
{
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

/* The children of multipart @part: the pieces between the delimiter
 * lines of its boundary, the preamble before the first and the epilogue
 * after the close delimiter left out (RFC 2046 §5.1.1). With no close
 * delimiter the last part runs to the end of the body. */
static void
layout_multipart (ImapPart *part, const char *data, guint depth)
{
  const char *boundary =
      g_mime_content_type_get_parameter (part->type, "boundary");
  gboolean in_digest =
      g_mime_content_type_is_type (part->type, "multipart", "digest");
  ImapDelimiter delimiter = { 0 };
  gboolean found = boundary != NULL && boundary[0] != '\0' &&
                   find_delimiter (data, part->body_start, part->body_end,
                                   boundary, &delimiter);

  while (found && !delimiter.close)
    {
      gsize start = delimiter.next;
      gsize end = part->body_end;

      found =
          find_delimiter (data, start, part->body_end, boundary, &delimiter);
      if (found)
        end = content_end (data, start, delimiter.line_start);
      g_ptr_array_add (part->children,
                       imap_part_new (data, start, end, in_digest, depth + 1));
    }
  /* RFC 9051 §9 body-type-mpart needs one part at least: an empty
   * text/plain stands in, as in Dovecot. */
  if (part->children->len == 0)
    g_ptr_array_add (
        part->children,
        imap_part_new (data, part->body_end, part->body_end, FALSE, depth + 1));
}

/* What GMime parses (RFC 2231 parameters, RFC 2047 words in them,
 * comments): the value unfolded (RFC 5322 §2.2.3), as a string of its
 * own. Unfolding first matters inside a quoted string: a boundary
 * "foo<CRLF> bar" is "foo bar". */
static char *
field_value (const ImapHeaderField *field)
{
  return imap_header_unfold (field->value, field->value_length);
}

/* The first Content-Type and Content-Disposition of @part's header, or
 * the defaults: text/plain (RFC 2045 §5.2), message/rfc822 for a part
 * of a multipart/digest (RFC 2046 §5.1.5). */
static void
read_mime_fields (ImapPart *part, const char *data, gboolean in_digest)
{
  ImapHeaderIter iter;
  ImapHeaderField field;

  imap_header_iter_init (&iter, data, part->header_start, part->body_start);
  while (imap_header_iter_next (&iter, &field))
    {
      if (part->type == NULL && imap_header_field_is (&field, "Content-Type"))
        {
          g_autofree char *value = field_value (&field);

          part->type = g_mime_content_type_parse (NULL, value);
        }
      else if (part->disposition == NULL &&
               imap_header_field_is (&field, "Content-Disposition"))
        {
          g_autofree char *value = field_value (&field);

          part->disposition = g_mime_content_disposition_parse (NULL, value);
        }
    }
  if (part->type == NULL)
    part->type = in_digest ? g_mime_content_type_new ("message", "rfc822")
                           : g_mime_content_type_new ("text", "plain");
}

static ImapPartKind
part_kind (GMimeContentType *type, guint depth)
{
  if (depth >= IMAP_MESSAGE_MAX_DEPTH)
    return IMAP_PART_BASIC;
  if (g_mime_content_type_is_type (type, "multipart", "*"))
    return IMAP_PART_MULTIPART;
  /* Even with no message inside: BODYSTRUCTURE must give an envelope. */
  if (g_mime_content_type_is_type (type, "message", "rfc822") ||
      g_mime_content_type_is_type (type, "message", "global"))
    return IMAP_PART_MESSAGE;
  if (g_mime_content_type_is_type (type, "text", "*"))
    return IMAP_PART_TEXT;
  return IMAP_PART_BASIC;
}

/* The entity data[start, end); @in_digest: its parent is a
 * multipart/digest. */
static ImapPart *
imap_part_new (
    const char *data, gsize start, gsize end, gboolean in_digest, guint depth)
{
  ImapPart *part = g_new0 (ImapPart, 1);

  part->header_start = start;
  part->body_start = find_body_start (data, start, end);
  part->body_end = end;
  read_mime_fields (part, data, in_digest);
  part->kind = part_kind (part->type, depth);
  if (part->kind == IMAP_PART_BASIC || part->kind == IMAP_PART_TEXT)
    return part;
  part->children = g_ptr_array_new_with_free_func (imap_part_free);
  if (part->kind == IMAP_PART_MULTIPART)
    layout_multipart (part, data, depth);
  else /* the embedded message is the whole body */
    g_ptr_array_add (part->children,
                     imap_part_new (data, part->body_start, part->body_end,
                                    FALSE, depth + 1));
  return part;
}

static void
imap_part_free (gpointer data)
{
  ImapPart *part = data;

  g_clear_pointer (&part->children, g_ptr_array_unref);
  g_clear_object (&part->type);
  g_clear_object (&part->disposition);
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
const ImapPart *
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
GBytes *
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
