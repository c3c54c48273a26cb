/* SPDX-License-Identifier: MIT
 * imap-message-private.h: what imap-message.c (structure, sections,
 * text) and imap-message-structure.c (ENVELOPE, BODYSTRUCTURE) share.
 *
 * A message is a tree of MIME entities (RFC 2045 §2.4: a header and a
 * body). The tree is found here, in the stored octets (imap-message.c);
 * GMime parses the values of the two fields that shape it, Content-Type
 * and Content-Disposition (RFC 2045 §5.1 and RFC 2183, with RFC 2231
 * parameters).
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
  GMimeContentType *type; /* (owned) never NULL: with no Content-Type
                           * field, text/plain (RFC 2045 §5.2), or in a
                           * multipart/digest message/rfc822 (RFC 2046
                           * §5.1.5) */
  GMimeContentDisposition *disposition; /* (owned) NULL with no field */
  gsize header_start; /* header: [header_start, body_start), with the
                       * empty line that ends it */
  gsize body_start;   /* body: [body_start, body_end) */
  gsize body_end;
  GPtrArray *children; /* ImapPart; NULL for BASIC and TEXT */
};

/* How far an ImapMessage has been read: each query goes only as far as
 * it needs, and each stage keeps what the ones before it found. */
typedef enum
{
  IMAP_MESSAGE_STORED, /* the stored octets, nothing looked at */
  IMAP_MESSAGE_SPLIT,  /* header_end found (RFC 5322 §2.1) */
  IMAP_MESSAGE_PARSED, /* and the MIME tree built: root */
} ImapMessageStage;

struct _ImapMessage
{
  ImapMessageStage stage;
  GBytes *data;       /* the stored octets, what BODY[] sends */
  const char *octets; /* the data's octets */
  gsize length;
  gsize header_end; /* from SPLIT on: where the top-level body starts */
  ImapPart *root;   /* NULL before parsing */
};

/* The entity tree, parsed on first use (transfer none). */
const ImapPart *imap_message_get_root (ImapMessage *message);

/* Where the top-level message's body starts: its header is
 * octets[0, header_end), with the empty line that ends it. Reads only
 * the header, unless a stage before did; no MIME parse. */
gsize imap_message_get_header_end (ImapMessage *message);

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
/* The first @name field of the header data[start, end), unfolded, or
 * NULL. (transfer full) */
char *
imap_header_get (const char *data, gsize start, gsize end, const char *name);
/* The same for @part's header. */
char *
imap_part_get_header (const ImapPart *part, const char *data, const char *name);

/* ---- shared by imap-message.c and imap-message-content.c --------------- */

/* The part of @root that section part @numbers (RFC 9051 §6.4.5) names,
 * or NULL. */
const ImapPart *find_part (const ImapPart *root, const GArray *numbers);
/* message->octets[@start, @end) as bytes that share the message's
 * (transfer full). */
GBytes *slice (ImapMessage *message, gsize start, gsize end);

G_END_DECLS
