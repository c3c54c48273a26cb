/* SPDX-License-Identifier: MIT
 * imap-message-private.h: what imap-message.c (structure, sections,
 * text) and imap-message-structure.c (ENVELOPE, BODYSTRUCTURE) share.
 *
 * A message is a tree of MIME entities (RFC 2045 §2.4: a header and a
 * body). GMime parses the tree; each ImapPart pairs one GMime object with
 * where the entity lies in the stored octets, which GMime 3.2 does not
 * report for every part.
 */
#pragma once

#include <gmime/gmime.h>

#include "imap-message.h"

G_BEGIN_DECLS

/* Deeper MIME nesting is not looked into (Dovecot's limit too). */
#define IMAP_MESSAGE_MAX_DEPTH 100

typedef enum
{
  IMAP_PART_BASIC,     /* image/png, application/pdf ... */
  IMAP_PART_TEXT,      /* text/any: BODYSTRUCTURE counts its lines */
  IMAP_PART_MESSAGE,   /* message/rfc822, message/global: one child, the
                        * embedded message (RFC 9051 §6.4.5) */
  IMAP_PART_MULTIPART, /* children: the body parts (RFC 2046 §5.1) */
} ImapPartKind;

typedef struct _ImapPart ImapPart;
struct _ImapPart
{
  ImapPartKind kind;
  GMimeObject *mime;  /* (transfer none) in the GMime tree; NULL when GMime
                       * has none (RFC 2045 §5.2 defaults apply) */
  gsize header_start; /* header: [header_start, body_start), with the
                       * empty line that ends it */
  gsize body_start;   /* body: [body_start, body_end) */
  gsize body_end;
  GPtrArray *children; /* ImapPart; NULL for BASIC and TEXT */
};

struct _ImapMessage
{
  GBytes *data;
  const char *octets; /* the data's octets */
  gsize length;
  GMimeMessage *mime; /* NULL before parsing, or if GMime found no header */
  ImapPart *root;     /* NULL before parsing */
};

/* The entity tree, parsed on first use (transfer none). */
const ImapPart *imap_message_get_root (ImapMessage *message);

/* ---- header fields (RFC 5322 §2.2) ------------------------------------ */

typedef struct
{
  const char *data;
  gsize at;
  gsize end;
} ImapHeaderIter;

typedef struct
{
  const char *name;   /* field name, without trailing space or colon */
  gsize name_length;  /* 0 for a line with no colon */
  const char *value;  /* after the colon, folded lines included */
  gsize value_length; /* without the final line end */
  const char *line;   /* the whole field with its line end(s) */
  gsize line_length;
} ImapHeaderField;

/* Walks the fields of data[start, end), stopping at the empty line. */
void imap_header_iter_init (ImapHeaderIter *iter,
                            const char *data,
                            gsize start,
                            gsize end);
gboolean imap_header_iter_next (ImapHeaderIter *iter,
                                ImapHeaderField *out_field);
/* TRUE if @field is named @name (case-insensitive, RFC 5322 §1.2.2). */
gboolean imap_header_field_is (const ImapHeaderField *field, const char *name);
/* The raw value as ENVELOPE and BODYSTRUCTURE give it: line ends
 * removed (RFC 5322 §2.2.3 unfolding), leading and trailing blanks
 * trimmed. (transfer full) */
char *imap_header_unfold (const char *value, gsize length);
/* Header text for SEARCH: RFC 2047 words decoded, and raw 8-bit text
 * taken as UTF-8 or else GMime's fallback charsets. (transfer full) */
char *imap_header_decode_text (const char *raw);
/* The first @name field of @part's header, unfolded, or NULL. */
char *
imap_part_get_header (const ImapPart *part, const char *data, const char *name);

G_END_DECLS
