/* SPDX-License-Identifier: MIT
 * imap-message.h: one stored message as IMAP FETCH and SEARCH see it
 * (RFC 9051 §6.4.5 FETCH sections, §7.5.2 ENVELOPE, BODY and
 * BODYSTRUCTURE, §6.4.4 SEARCH text; RFC 3516 BINARY).
 *
 * The message is the stored file: CRLF line ends, exactly the octets a
 * client gets for BODY[], RFC822.SIZE octets of them (RFC 9051 §2.3.4;
 * a stored NUL goes out as 0x80): sections, BODYSTRUCTURE sizes and
 * SEARCH see the same octets, and only BINARY decodes (RFC 3516 §4.2).
 * Binary content APPENDed in a literal8 is stored in base64
 * (imap_message_encode_binary ()), as Dovecot stores it. The MIME
 * structure is found in those octets (header ends, RFC 2046 delimiters),
 * so sizes and sections are exact; GMime 3 parses field values (content
 * types, parameters, dispositions) and decodes (transfer encodings,
 * charsets, RFC 2047 words).
 *
 * Parsing is lazy: imap_message_new () only keeps the octets (a
 * reference, never a copy), and each call reads only what it needs.
 * BODY[] reads nothing; ENVELOPE, BODY[HEADER], BODY[HEADER.FIELDS ...],
 * BODY[TEXT] and the SEARCH keys on the message header
 * (imap_message_get_header_text (), _get_address_text (),
 * _get_sent_day ()) read only the top-level header (RFC 5322 §2.1: up
 * to the first empty line); parts, BODYSTRUCTURE, BINARY and
 * imap_message_body_contains () parse the MIME structure, once. The
 * octets are untrusted (anyone can mail anything): nothing here fails on
 * a malformed message, which gets the structure a reader would guess
 * (RFC 2045 §5.2 defaults, RFC 2046 §5.1.1 delimiters). An ImapMessage
 * is used by one thread at a time.
 */
#pragma once

#include <glib.h>

#include "imap-parser.h"

G_BEGIN_DECLS

#define IMAP_MESSAGE_ERROR (imap_message_error_quark ())
typedef enum
{
  IMAP_MESSAGE_ERROR_UNKNOWN_CTE, /* reply NO [UNKNOWN-CTE] (RFC 9051 §7.1) */
} ImapMessageError;
GQuark imap_message_error_quark (void);

typedef struct _ImapMessage ImapMessage;

/* Takes a reference on @data. The first call calls g_mime_init () (once
 * per process, thread-safe): the server need not. */
ImapMessage *imap_message_new (GBytes *data);
void imap_message_free (ImapMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImapMessage, imap_message_free)

/* What APPEND stores of a message that holds NUL (sent in a literal8,
 * RFC 3516 §4.4): each part whose content holds NUL in base64, with a
 * Content-Transfer-Encoding that says so, so that BODY[] gives a text
 * form (RFC 9051 §4.3.1) of the stored size and BINARY[] gives back the
 * octets sent; a NUL outside any part's content stays. NULL if the
 * message holds no NUL: store it as it is. (transfer full) */
GBytes *imap_message_encode_binary (ImapMessage *message);

/* The octets of BODY[] (transfer none): the stored ones, RFC822.SIZE of
 * them. They may hold NUL, which no literal carries (RFC 9051 §9 CHAR8):
 * the caller sends it as 0x80, as Dovecot does, so the sizes agree. */
GBytes *imap_message_get_data (ImapMessage *message);

/* ---- FETCH (RFC 9051 §7.5.2) ------------------------------------------ */

/* Appends the ENVELOPE list, "(" date subject from sender reply-to to cc
 * bcc in-reply-to message-id ")": values are the raw header text
 * (unfolded, encoded-words as they are), NIL when the field is absent;
 * sender and reply-to are the from list when absent or empty. Strings
 * with 8-bit octets go as literals. */
void imap_message_append_envelope (ImapMessage *message, GString *out);

/* Appends BODYSTRUCTURE (@extensible TRUE: with the extension data of
 * every part) or BODY (FALSE), RFC 9051 §7.5.2 and §9 "body". */
void imap_message_append_bodystructure (ImapMessage *message,
                                        GString *out,
                                        gboolean extensible);

/* The octets of BODY[@section] (RFC 9051 §6.4.5), without applying
 * section->offset/length (the caller cuts the partial). A part that does
 * not exist, and HEADER or TEXT after a part that is not a message,
 * give an empty result: RFC 9051 does not say, and this is what Dovecot
 * answers. (transfer full) */
GBytes *imap_message_get_section (ImapMessage *message,
                                  const ImapSection *section);

/* The octets of BINARY[@section] (RFC 3516 §4.2; section->kind must be
 * IMAP_SECTION_ALL): a single part's content with its
 * Content-Transfer-Encoding undone (base64 and quoted-printable decoded;
 * 7bit, 8bit and binary as they are). A multipart or message/rfc822
 * part is sent as it is (its own encoding is always an identity one,
 * RFC 2045 §6.4). BINARY[] of a single-part message is its header, with
 * the Content-Transfer-Encoding field now saying "binary", and the
 * decoded content. A nonexistent part is empty. Any other encoding
 * (x-uuencode included, as in Dovecot) is IMAP_MESSAGE_ERROR_UNKNOWN_CTE.
 * (transfer full) */
GBytes *imap_message_get_binary (ImapMessage *message,
                                 const ImapSection *section,
                                 GError **error);
/* BINARY.SIZE[@section] (RFC 3516 §4.2): the size of what
 * imap_message_get_binary () gives, with the same errors. */
gboolean imap_message_get_binary_size (ImapMessage *message,
                                       const ImapSection *section,
                                       guint64 *out_size,
                                       GError **error);

/* ---- SEARCH (RFC 9051 §6.4.4) ----------------------------------------- */

/* Every value of the header field @field in the message header (not the
 * parts' headers), unfolded and RFC 2047-decoded to UTF-8, joined with
 * "\n"; NULL if the message has no such field. (transfer full) */
char *imap_message_get_header_text (ImapMessage *message, const char *field);

/* The addresses of every @field field (From, To, Cc, Bcc) in the
 * message header, as SEARCH FROM and the others match them (RFC 9051
 * §6.4.4: the envelope's field): comments and quoting gone, names
 * RFC 2047-decoded, "name <mailbox@host>, mailbox@host, group: a@b;",
 * the fields joined with "\n"; a name only in a comment
 * ("a@b.c (Name)") is the name, as in ENVELOPE. NULL if the message has
 * no such field. (transfer full) */
char *imap_message_get_address_text (ImapMessage *message, const char *field);

/* Does the decoded text of the message contain @needle (UTF-8),
 * case-insensitively (g_utf8_casefold)? The text is every part of type text,
 * transfer-decoded and converted to UTF-8 from its charset, and with
 * @include_headers (SEARCH TEXT) also every header of the message and of
 * its parts, unfolded and RFC 2047-decoded (SEARCH BODY does not look at
 * headers). An empty @needle matches every message. */
gboolean imap_message_body_contains (ImapMessage *message,
                                     const char *needle,
                                     gboolean include_headers);

/* The day of the Date: header in *out_day, as days since 1970-01-01
 * counted in the sender's own zone (RFC 9051 §6.4.4: SENTBEFORE, SENTON
 * and SENTSINCE compare dates "disregarding time and timezone"), to
 * compare with imap_date_parse ()'s day. FALSE if the header is absent or
 * not a date (RFC 5322 §3.3, obsolete forms included). */
gboolean imap_message_get_sent_day (ImapMessage *message, gint64 *out_day);

G_END_DECLS
