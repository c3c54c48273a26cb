/* SPDX-License-Identifier: MIT
 * imap-parser-private.h: what the files of the IMAP grammar lend each
 * other: the cursor every parser reads untrusted octets through, and the
 * atom and quoted-string scanners the FETCH section parser reuses (RFC
 * 9051 §9). The grammar is split by concern (STYLE §1):
 *   imap-parser.c  the cursor, arguments, the message assembler, reading
 *                  a message from a connection
 *   imap-seqset.c  sequence sets and FETCH sections
 *   imap-text.c    dates and date-times, modified UTF-7 mailbox names,
 *                  writing strings
 *   imap-arena.c   the memory one parsed message's arguments live in
 * Not a public interface: imap-parser.h is the one header for users; only
 * these files include this one.
 */
#pragma once

#include "imap-parser.h"

G_BEGIN_DECLS

typedef struct _ImapArgStack ImapArgStack; /* imap-parser.c */

/* Every grammar here reads through this: it knows the length (the data may
 * hold NUL) and says where an error is. */
typedef struct
{
  const char *data;
  gsize length;
  gsize pos;
  guint depth;          /* lists open around pos */
  gboolean lists_touch; /* "(a)(b)" is two lists (a server's data) */
  ImapArgArena *arena;  /* where imap_parse_args () puts what it parses */
  ImapArgStack *stack;  /* imap_parse_args ()'s elements of open lists */
} ImapParser;

/* ---- imap-parser.c: the cursor ---------------------------------------- */

G_GNUC_INTERNAL void
parser_init (ImapParser *p, const char *data, gsize length);
/* The octet at the cursor, or -1 at the end. */
G_GNUC_INTERNAL int parser_peek (const ImapParser *p);
/* Skips @c if it is at the cursor. */
G_GNUC_INTERNAL gboolean parser_skip (ImapParser *p, int c);
/* Set IMAP_PARSER_ERROR_SYNTAX at the cursor and return FALSE (or NULL):
 * "offset N: expected @expected, found X" or "offset N: @message". */
G_GNUC_INTERNAL gboolean parser_fail (const ImapParser *p,
                                      GError **error,
                                      const char *expected);
G_GNUC_INTERNAL gboolean parser_fail_with (const ImapParser *p,
                                           GError **error,
                                           const char *message);
G_GNUC_INTERNAL gpointer parser_fail_null (const ImapParser *p,
                                           GError **error,
                                           const char *expected);
/* Skips @c, or fails saying @expected. */
G_GNUC_INTERNAL gboolean parser_expect (ImapParser *p,
                                        int c,
                                        const char *expected,
                                        GError **error);
/* RFC 9051 §9: number64 (below 2^63) and nz-number (1 to 2^32 - 1). */
G_GNUC_INTERNAL gboolean parse_number64 (ImapParser *p,
                                         guint64 *out,
                                         GError **error);
G_GNUC_INTERNAL gboolean parse_nz_number (ImapParser *p,
                                          guint32 *out,
                                          GError **error);

/* ---- imap-arena.c: the memory of one parsed message ------------------- */

/* A new arena, held once (by the parser), sized for @input_length
 * octets of message. */
G_GNUC_INTERNAL ImapArgArena *imap_arena_new (gsize input_length);
/* @size octets, aligned for an ImapArg, freed with the arena. */
G_GNUC_INTERNAL gpointer imap_arena_alloc (ImapArgArena *arena, gsize size);
/* A list of the @count @items, in the arena. */
G_GNUC_INTERNAL ImapArgList *
imap_arena_new_list (ImapArgArena *arena, ImapArg *const *items, guint count);
G_GNUC_INTERNAL ImapArgArena *imap_arena_ref (ImapArgArena *arena);
G_GNUC_INTERNAL void imap_arena_unref (ImapArgArena *arena);

/* ---- imap-parser.c: atoms and quoted strings -------------------------- */

/* RFC 9051 §9 ATOM-CHAR. */
G_GNUC_INTERNAL gboolean is_strict_atom_char (int c);
/* RFC 9051 §9 quoted, at a '"': moves past the closing '"' and gives
 * the octets between the quotes, still escaped (@out_text, @out_length,
 * in p->data) and how many "\" escapes they hold; or FALSE and @error. */
G_GNUC_INTERNAL gboolean scan_quoted_span (ImapParser *p,
                                           const char **out_text,
                                           gsize *out_length,
                                           gsize *out_escapes,
                                           GError **error);
/* The same, as the unescaped text (transfer full), or NULL and @error. */
G_GNUC_INTERNAL GString *scan_quoted (ImapParser *p, GError **error);

G_END_DECLS
