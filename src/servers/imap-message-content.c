/* SPDX-License-Identifier: MIT
 * imap-message-content.c: what a message's content decodes to: BINARY[]
 * and BINARY.SIZE (RFC 3516 §4.2), binary parts APPENDed put in base64
 * (RFC 3516 §4.4), and the decoded text SEARCH matches
 * (RFC 9051 §6.4.4; RFC 2047 words, RFC 2045 §6 transfer encodings,
 * charsets). The message itself and its structure are imap-message.c.
 */
#include <string.h>

#include "imap-message-private.h"

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

/* ---- binary content APPENDed (RFC 3516 §4.4, RFC 9051 §4.3.1) -------- */

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

GBytes *
imap_message_encode_binary (ImapMessage *message)
{
  const ImapPart *root = NULL;
  GString *out = NULL;
  gsize at = 0;

  g_return_val_if_fail (message != NULL, NULL);
  if (memchr (message->octets, '\0', message->length) == NULL)
    return NULL;
  root = imap_message_get_root (message);
  out = g_string_sized_new (message->length + message->length / 2);
  append_parts_without_nul (out, message, root, &at);
  g_string_append_len (out, message->octets + at, message->length - at);
  return g_string_free_to_bytes (out);
}

/* ---- SEARCH text (RFC 9051 §6.4.4) ------------------------------------ */

/* TRUE if @raw is ASCII with no "=?": no RFC 2047 word to decode and no
 * 8-bit text to convert, so decoding would give @raw back (GMime's
 * decoder keeps the other text, blanks and all). */
static gboolean
header_text_is_plain (const char *raw)
{
  for (const char *p = raw; *p != '\0'; p++)
    if ((guchar) *p >= 0x80 || (p[0] == '=' && p[1] == '?'))
      return FALSE;
  return TRUE;
}

char *
imap_header_decode_text (const char *raw)
{
  char *text = NULL;
  char *valid = NULL;

  /* SEARCH FROM over a folder asks this of every message */
  if (header_text_is_plain (raw))
    return g_strdup (raw);
  text = g_mime_utils_header_decode_text (NULL, raw);
  valid = g_utf8_make_valid (text, -1);
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
  charset = g_mime_content_type_get_parameter (part->type, "charset");
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
