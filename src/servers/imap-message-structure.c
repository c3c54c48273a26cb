/* SPDX-License-Identifier: MIT
 * imap-message-structure.c: ENVELOPE, BODY and BODYSTRUCTURE of a stored
 * message (RFC 9051 §7.5.2, §9 envelope and body; RFC 5322 §3.4
 * addresses, §4.4 obsolete routes).
 *
 * Values are the header text as sent, unfolded, with RFC 2047
 * encoded-words left for the client to decode, as Dovecot does. GMime
 * gives content types, parameters and dispositions; addresses are read
 * here because GMime would decode their display names.
 */
#include <string.h>

#include "imap-message-private.h"

/* An nstring the way any client can read it: NIL, quoted, or a literal
 * for 8-bit text (RFC 9051 §4.3). */
static void
append_nstring (GString *out, const char *text)
{
  imap_append_string (out, text, text != NULL ? strlen (text) : 0, FALSE,
                      FALSE);
}

/* ---- addresses (RFC 5322 §3.4) ----------------------------------------- */

typedef enum
{
  ADDRESS_FORMAT_IMAP, /* ENVELOPE: "(name adl mailbox host)" each */
  ADDRESS_FORMAT_TEXT, /* SEARCH FROM: "name <mailbox@host>, ..." */
} AddressFormat;

typedef struct
{
  const char *p;
  const char *end;
  GString *comment; /* the text of the last comment skipped */
  AddressFormat format;
} AddressScanner;

static gboolean
scanner_at (const AddressScanner *s, char c)
{
  return s->p < s->end && *s->p == c;
}

/* RFC 5322 §3.2.3 atext, and 8-bit octets (RFC 6532; raw 8-bit names are
 * common in the wild). */
static gboolean
is_atext (guchar c)
{
  return g_ascii_isalnum (c) || c >= 0x80 ||
         (c != '\0' && strchr ("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 5322 §3.2.2 comment: "(" ... ")", nested, with quoted-pairs. Its
 * text (without the outer parentheses) is kept in s->comment. */
static void
skip_comment (AddressScanner *s)
{
  int depth = 0;

  g_string_truncate (s->comment, 0);
  do
    {
      char c = *s->p++;
      gboolean escaped = c == '\\' && s->p < s->end;

      if (escaped)
        c = *s->p++;
      else if (c == '(')
        depth++;
      else if (c == ')')
        depth--;
      if (escaped || depth > 1 || (depth == 1 && c != '('))
        g_string_append_c (s->comment, c);
    }
  while (depth > 0 && s->p < s->end);
}

/* RFC 5322 §3.2.2 CFWS. */
static void
skip_cfws (AddressScanner *s)
{
  while (s->p < s->end)
    {
      if (*s->p == '(')
        skip_comment (s);
      else if (g_ascii_isspace (*s->p))
        s->p++;
      else
        return;
    }
}

/* RFC 5322 §3.2.4 quoted-string, appended without quotes or escapes. */
static void
scan_quoted (AddressScanner *s, GString *out)
{
  s->p++;
  while (s->p < s->end && *s->p != '"')
    {
      if (*s->p == '\\' && s->p + 1 < s->end)
        s->p++;
      g_string_append_c (out, *s->p++);
    }
  if (s->p < s->end)
    s->p++;
}

/* RFC 5322 §3.2.5 word (atom or quoted-string); in a phrase "." may be
 * part of an atom (§4.1 obs-phrase: "Joe Q. Public"). */
static gboolean
scan_word (AddressScanner *s, GString *out, gboolean in_phrase)
{
  const char *start = s->p;

  if (scanner_at (s, '"'))
    {
      scan_quoted (s, out);
      return TRUE;
    }
  while (s->p < s->end &&
         (is_atext ((guchar) *s->p) || (in_phrase && *s->p == '.')))
    s->p++;
  g_string_append_len (out, start, s->p - start);
  return s->p > start;
}

/* RFC 5322 §3.2.5 phrase: its words joined by one space. */
static void
scan_phrase (AddressScanner *s, GString *out)
{
  for (;;)
    {
      gsize before = out->len;

      skip_cfws (s);
      if (out->len > 0)
        g_string_append_c (out, ' ');
      if (!scan_word (s, out, TRUE))
        {
          g_string_truncate (out, before);
          return;
        }
    }
}

/* RFC 5322 §3.4.1 local-part and domain (dot-atom, quoted-string,
 * domain-literal, and the §4.4 obsolete forms with CFWS around dots). */
static void
scan_dotted (AddressScanner *s, GString *out, gboolean is_domain)
{
  skip_cfws (s);
  if (is_domain && scanner_at (s, '['))
    {
      const char *close = memchr (s->p, ']', s->end - s->p);
      const char *stop = close != NULL ? close + 1 : s->end;

      g_string_append_len (out, s->p, stop - s->p);
      s->p = stop;
      skip_cfws (s);
      return;
    }
  while (scan_word (s, out, FALSE))
    {
      skip_cfws (s);
      if (!scanner_at (s, '.'))
        return;
      g_string_append_c (out, *s->p++);
      skip_cfws (s);
    }
}

/* Before a mailbox or group in the text form: ", " after the one before,
 * " " after a group's name. */
static void
append_text_separator (GString *out, gboolean in_group)
{
  if (in_group && out->len > 0 && out->str[out->len - 1] == ':')
    g_string_append_c (out, ' ');
  else if (out->len > 0 && out->str[out->len - 1] != '\n')
    g_string_append (out, ", ");
}

/* The text form of a mailbox, as SEARCH matches it (RFC 9051 §6.4.4:
 * "the envelope structure's FROM field"): "name <mailbox@host>" with the
 * name RFC 2047-decoded, or "mailbox@host"; comments are gone, so
 * "<user (x)@ (y) example.org>" is "user@example.org". */
static void
append_address_text (GString *out,
                     const char *name,
                     const char *route,
                     const char *mailbox,
                     const char *host)
{
  gboolean angle =
      (name != NULL && name[0] != '\0') || (route != NULL && route[0] != '\0');

  if (name != NULL && name[0] != '\0')
    {
      g_autofree char *decoded = imap_header_decode_text (name);

      g_string_append (out, decoded);
      g_string_append_c (out, ' ');
    }
  if (angle)
    g_string_append_c (out, '<');
  if (route != NULL && route[0] != '\0')
    {
      g_string_append (out, route);
      g_string_append_c (out, ':');
    }
  g_string_append (out, mailbox);
  if (host[0] != '\0')
    {
      g_string_append_c (out, '@');
      g_string_append (out, host);
    }
  if (angle)
    g_string_append_c (out, '>');
}

/* "(name adl mailbox host)" (RFC 9051 §9 address). A mailbox without a
 * local part or domain gets Dovecot's placeholders, since a NIL host
 * would mean the start of a group (RFC 9051 §7.5.2). */
static void
append_address (const AddressScanner *s,
                GString *out,
                const char *name,
                const char *route,
                const char *mailbox,
                const char *host,
                gboolean in_group)
{
  if (s->format == ADDRESS_FORMAT_TEXT)
    {
      append_text_separator (out, in_group);
      append_address_text (out, name, route, mailbox, host);
      return;
    }
  g_string_append_c (out, '(');
  append_nstring (out, name != NULL && name[0] != '\0' ? name : NULL);
  g_string_append_c (out, ' ');
  append_nstring (out, route != NULL && route[0] != '\0' ? route : NULL);
  g_string_append_c (out, ' ');
  append_nstring (out, mailbox[0] != '\0' ? mailbox : "MISSING_MAILBOX");
  g_string_append_c (out, ' ');
  append_nstring (out, host[0] != '\0' ? host : "MISSING_DOMAIN");
  g_string_append_c (out, ')');
}

/* RFC 5322 §3.4.1 addr-spec; then, outside angle brackets, the last
 * comment is the name: "jdoe@example.org (John Doe)". */
static void
scan_addr_spec (AddressScanner *s,
                GString *out,
                const char *name,
                gboolean in_group)
{
  g_autoptr (GString) local = g_string_new (NULL);
  g_autoptr (GString) domain = g_string_new (NULL);

  g_string_truncate (s->comment, 0);
  scan_dotted (s, local, FALSE);
  if (scanner_at (s, '@'))
    {
      s->p++;
      scan_dotted (s, domain, TRUE);
    }
  if (name == NULL && s->comment->len > 0)
    name = s->comment->str;
  append_address (s, out, name, NULL, local->str, domain->str, in_group);
}

/* RFC 5322 §3.4 angle-addr, with §4.4 obs-route "<@a,@b:user@host>". */
static void
scan_angle_addr (AddressScanner *s,
                 GString *out,
                 const char *name,
                 gboolean in_group)
{
  g_autoptr (GString) route = g_string_new (NULL);
  g_autoptr (GString) local = g_string_new (NULL);
  g_autoptr (GString) domain = g_string_new (NULL);

  s->p++;
  skip_cfws (s);
  while (scanner_at (s, '@') || (route->len > 0 && scanner_at (s, ',')))
    {
      g_string_append_c (route, *s->p++);
      scan_dotted (s, route, TRUE);
    }
  if (route->len > 0 && scanner_at (s, ':'))
    s->p++;
  scan_dotted (s, local, FALSE);
  if (scanner_at (s, '@'))
    {
      s->p++;
      scan_dotted (s, domain, TRUE);
    }
  if (scanner_at (s, '>'))
    s->p++;
  append_address (s, out, name, route->str, local->str, domain->str, in_group);
}

static void scan_address (AddressScanner *s, GString *out, gboolean in_group);

/* RFC 5322 §3.4 group: "(NIL NIL name NIL)", its mailboxes, then
 * "(NIL NIL NIL NIL)" (RFC 9051 §7.5.2); as text "name: a, b;". */
static void
scan_group (AddressScanner *s, GString *out, const char *name)
{
  gboolean text = s->format == ADDRESS_FORMAT_TEXT;
  g_autofree char *decoded = text ? imap_header_decode_text (name) : NULL;

  s->p++;
  if (text)
    {
      append_text_separator (out, FALSE);
      g_string_append_printf (out, "%s:", decoded);
    }
  else
    {
      g_string_append (out, "(NIL NIL ");
      append_nstring (out, name);
      g_string_append (out, " NIL)");
    }
  for (;;)
    {
      skip_cfws (s);
      if (s->p >= s->end || scanner_at (s, ';'))
        break;
      if (scanner_at (s, ','))
        s->p++;
      else
        scan_address (s, out, TRUE);
    }
  if (scanner_at (s, ';'))
    s->p++;
  g_string_append (out, text ? ";" : "(NIL NIL NIL NIL)");
}

/* RFC 5322 §3.4 address = mailbox / group; mailbox = name-addr /
 * addr-spec. A phrase is read first: ":" makes it a group's name, "<"
 * a display name, and otherwise it was the start of an addr-spec. */
static void
scan_address (AddressScanner *s, GString *out, gboolean in_group)
{
  const char *start = s->p;
  g_autoptr (GString) phrase = g_string_new (NULL);
  const char *name = NULL;

  scan_phrase (s, phrase);
  name = phrase->len > 0 ? phrase->str : NULL;
  if (!in_group && scanner_at (s, ':'))
    scan_group (s, out, phrase->str);
  else if (scanner_at (s, '<'))
    scan_angle_addr (s, out, name, in_group);
  else
    {
      s->p = start;
      scan_addr_spec (s, out, NULL, in_group);
    }
  skip_cfws (s);
  /* Whatever is left up to the next comma is not an address. */
  while (s->p < s->end && *s->p != ',' && !(in_group && *s->p == ';'))
    s->p++;
}

/* RFC 5322 §3.4 address-list, each address appended to @out. */
static void
scan_address_list (const char *value, AddressFormat format, GString *out)
{
  g_autoptr (GString) comment = g_string_new (NULL);
  AddressScanner s = { value, value + strlen (value), comment, format };

  for (;;)
    {
      skip_cfws (&s);
      if (s.p >= s.end)
        break;
      if (scanner_at (&s, ','))
        s.p++;
      else
        scan_address (&s, out, FALSE);
    }
}

/* The RFC 9051 §9 address list of a header value: "(" 1*address ")", or
 * NULL if it holds no address. (transfer full) */
static char *
format_address_list (const char *value)
{
  GString *out = g_string_new ("(");

  scan_address_list (value, ADDRESS_FORMAT_IMAP, out);
  if (out->len == 1)
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  g_string_append_c (out, ')');
  return g_string_free (out, FALSE);
}

/* ---- ENVELOPE (RFC 9051 §7.5.2) ---------------------------------------- */

/* The addresses of the first @name field of the header data[start, end). */
static char *
envelope_addresses (const char *data, gsize start, gsize end, const char *name)
{
  g_autofree char *value = imap_header_get (data, start, end, name);

  return value != NULL ? format_address_list (value) : NULL;
}

/* The ENVELOPE of the message whose header is data[start, end). */
static void
append_envelope (GString *out, const char *data, gsize start, gsize end)
{
  static const char *const names[] = { "From", "Sender", "Reply-To",
                                       "To",   "Cc",     "Bcc" };
  char *addresses[G_N_ELEMENTS (names)] = { NULL };
  g_autofree char *date = imap_header_get (data, start, end, "Date");
  g_autofree char *subject = imap_header_get (data, start, end, "Subject");
  g_autofree char *in_reply_to =
      imap_header_get (data, start, end, "In-Reply-To");
  g_autofree char *message_id =
      imap_header_get (data, start, end, "Message-ID");

  g_string_append_c (out, '(');
  append_nstring (out, date);
  g_string_append_c (out, ' ');
  append_nstring (out, subject);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      const char *list = NULL;

      addresses[i] = envelope_addresses (data, start, end, names[i]);
      list = addresses[i];
      /* RFC 9051 §7.5.2: no (or an empty) Sender or Reply-To is From. */
      if (list == NULL && (i == 1 || i == 2))
        list = addresses[0];
      g_string_append_printf (out, " %s", list != NULL ? list : "NIL");
    }
  g_string_append_c (out, ' ');
  append_nstring (out, in_reply_to);
  g_string_append_c (out, ' ');
  append_nstring (out, message_id);
  g_string_append_c (out, ')');
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_free (addresses[i]);
}

void
imap_message_append_envelope (ImapMessage *message, GString *out)
{
  gsize header_end = 0;

  g_return_if_fail (message != NULL && out != NULL);
  /* RFC 9051 §7.5.2: all from the top-level header, no MIME parse */
  header_end = imap_message_get_header_end (message);
  append_envelope (out, message->octets, 0, header_end);
}

char *
imap_message_get_address_text (ImapMessage *message, const char *field_name)
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
      g_autofree char *value = NULL;

      if (!imap_header_field_is (&field, field_name))
        continue;
      value = imap_header_unfold (field.value, field.value_length);
      if (text == NULL)
        text = g_string_new (NULL);
      else
        g_string_append_c (text, '\n');
      scan_address_list (value, ADDRESS_FORMAT_TEXT, text);
    }
  return text != NULL ? g_string_free (text, FALSE) : NULL;
}

/* ---- BODY and BODYSTRUCTURE (RFC 9051 §7.5.2, §9 body) ------------------ */

static void append_body (GString *out,
                         const char *data,
                         const ImapPart *part,
                         gboolean extensible);

/* body-fld-param: "(" name SP value *(...) ")" or NIL. A text part
 * without a charset says us-ascii (RFC 2045 §5.2), as Dovecot does. */
static void
append_params (GString *out, GMimeParamList *params, gboolean is_text)
{
  int count = params != NULL ? g_mime_param_list_length (params) : 0;
  gboolean has_charset = FALSE;

  if (count == 0 && !is_text)
    {
      g_string_append (out, "NIL");
      return;
    }
  g_string_append_c (out, '(');
  for (int i = 0; i < count; i++)
    {
      GMimeParam *param = g_mime_param_list_get_parameter_at (params, i);

      has_charset |=
          g_ascii_strcasecmp (g_mime_param_get_name (param), "charset") == 0;
      if (i > 0)
        g_string_append_c (out, ' ');
      append_nstring (out, g_mime_param_get_name (param));
      g_string_append_c (out, ' ');
      append_nstring (out, g_mime_param_get_value (param));
    }
  if (is_text && !has_charset)
    g_string_append (out, count > 0 ? " \"charset\" \"us-ascii\""
                                    : "\"charset\" \"us-ascii\"");
  g_string_append_c (out, ')');
}

/* body-fld-dsp: "(" string SP body-fld-param ")" or NIL (RFC 2183). */
static void
append_disposition (GString *out, const ImapPart *part)
{
  GMimeContentDisposition *disposition = part->disposition;

  if (disposition == NULL)
    {
      g_string_append (out, "NIL");
      return;
    }
  g_string_append_c (out, '(');
  append_nstring (out,
                  g_mime_content_disposition_get_disposition (disposition));
  g_string_append_c (out, ' ');
  append_params (out, g_mime_content_disposition_get_parameters (disposition),
                 FALSE);
  g_string_append_c (out, ')');
}

/* body-fld-lang: the tags of Content-Language (RFC 3282 §2) as a list,
 * or NIL. */
static void
append_language (GString *out, const char *data, const ImapPart *part)
{
  g_autofree char *value =
      imap_part_get_header (part, data, "Content-Language");
  g_auto (GStrv) tags = value != NULL ? g_strsplit (value, ",", -1) : NULL;
  gboolean any = FALSE;

  for (guint i = 0; tags != NULL && tags[i] != NULL; i++)
    {
      g_strstrip (tags[i]);
      if (tags[i][0] == '\0')
        continue;
      g_string_append_c (out, any ? ' ' : '(');
      append_nstring (out, tags[i]);
      any = TRUE;
    }
  g_string_append (out, any ? ")" : "NIL");
}

/* The extension data after body-fld-md5 or the multipart's params:
 * SP body-fld-dsp SP body-fld-lang SP body-fld-loc. */
static void
append_extension_tail (GString *out, const char *data, const ImapPart *part)
{
  g_autofree char *location =
      imap_part_get_header (part, data, "Content-Location");

  g_string_append_c (out, ' ');
  append_disposition (out, part);
  g_string_append_c (out, ' ');
  append_language (out, data, part);
  g_string_append_c (out, ' ');
  append_nstring (out, location);
}

/* body-type-mpart: 1*body SP media-subtype [SP body-ext-mpart]. */
static void
append_multipart (GString *out,
                  const char *data,
                  const ImapPart *part,
                  gboolean extensible)
{
  GMimeContentType *type = part->type;

  g_string_append_c (out, '(');
  for (guint i = 0; i < part->children->len; i++)
    append_body (out, data, g_ptr_array_index (part->children, i), extensible);
  g_string_append_c (out, ' ');
  append_nstring (out, g_mime_content_type_get_media_subtype (type));
  if (extensible)
    {
      g_string_append_c (out, ' ');
      append_params (out, g_mime_content_type_get_parameters (type), FALSE);
      append_extension_tail (out, data, part);
    }
  g_string_append_c (out, ')');
}

static guint64
count_lines (const char *data, gsize start, gsize end)
{
  guint64 lines = 0;
  const char *p = data + start;
  const char *stop = data + end;

  while ((p = memchr (p, '\n', stop - p)) != NULL)
    {
      lines++;
      p++;
    }
  return lines;
}

/* body-fields: body-fld-param SP body-fld-id SP body-fld-desc SP
 * body-fld-enc SP body-fld-octets, after the media type. */
static void
append_body_fields (GString *out, const char *data, const ImapPart *part)
{
  GMimeContentType *type = part->type;
  const char *media = NULL;
  const char *subtype = NULL;
  g_autofree char *id = imap_part_get_header (part, data, "Content-ID");
  g_autofree char *description =
      imap_part_get_header (part, data, "Content-Description");
  g_autofree char *encoding =
      imap_part_get_header (part, data, "Content-Transfer-Encoding");

  media = g_mime_content_type_get_media_type (type);
  subtype = g_mime_content_type_get_media_subtype (type);
  append_nstring (out, media != NULL ? media : "text");
  g_string_append_c (out, ' ');
  append_nstring (out, subtype != NULL ? subtype : "plain");
  g_string_append_c (out, ' ');
  append_params (out, g_mime_content_type_get_parameters (type),
                 part->kind == IMAP_PART_TEXT);
  g_string_append_c (out, ' ');
  append_nstring (out, id);
  g_string_append_c (out, ' ');
  append_nstring (out, description);
  g_string_append_c (out, ' ');
  /* RFC 2045 §6.1: "7BIT" when there is no field. */
  append_nstring (out,
                  encoding != NULL && encoding[0] != '\0' ? encoding : "7bit");
  g_string_append_printf (out, " %" G_GSIZE_FORMAT,
                          part->body_end - part->body_start);
}

/* body-type-1part: basic, text (+ lines) or message (+ envelope, body,
 * lines), then [SP body-ext-1part]. */
static void
append_single (GString *out,
               const char *data,
               const ImapPart *part,
               gboolean extensible)
{
  g_string_append_c (out, '(');
  append_body_fields (out, data, part);
  if (part->kind == IMAP_PART_MESSAGE)
    {
      const ImapPart *embedded = g_ptr_array_index (part->children, 0);

      g_string_append_c (out, ' ');
      append_envelope (out, data, embedded->header_start, embedded->body_start);
      g_string_append_c (out, ' ');
      append_body (out, data, embedded, extensible);
    }
  if (part->kind == IMAP_PART_MESSAGE || part->kind == IMAP_PART_TEXT)
    g_string_append_printf (
        out, " %" G_GUINT64_FORMAT,
        count_lines (data, part->body_start, part->body_end));
  if (extensible)
    {
      g_autofree char *md5 = imap_part_get_header (part, data, "Content-MD5");

      g_string_append_c (out, ' ');
      append_nstring (out, md5);
      append_extension_tail (out, data, part);
    }
  g_string_append_c (out, ')');
}

static void
append_body (GString *out,
             const char *data,
             const ImapPart *part,
             gboolean extensible)
{
  if (part->kind == IMAP_PART_MULTIPART)
    append_multipart (out, data, part, extensible);
  else
    append_single (out, data, part, extensible);
}

void
imap_message_append_bodystructure (ImapMessage *message,
                                   GString *out,
                                   gboolean extensible)
{
  const ImapPart *root = NULL;

  g_return_if_fail (message != NULL && out != NULL);
  root = imap_message_get_root (message);
  append_body (out, message->octets, root, extensible);
}
