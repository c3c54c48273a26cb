/* SPDX-License-Identifier: MIT
 * imap-parser.h: the IMAP grammar below the line level, written once for
 * mw-imapd (commands), mw-imap (responses) and mw-trace (both directions)
 * (RFC 9051 §4 data formats, §9 formal syntax; RFC 7888 LITERAL+ and
 * LITERAL-; RFC 3516 literal8; RFC 3501 §5.1.3 modified UTF-7).
 *
 * A "message" here is one whole command or response as it came off the
 * wire: its first line and, for every literal it announces, the CRLF and
 * the literal's octets, then the rest of the line. Line ends are CRLF; the
 * final CRLF is not included. The assembler builds such a message from
 * lines and literals; the parser turns it into a tree of arguments. Both
 * are pure (no I/O) and take untrusted input: every size is bounded by
 * the caller's limits.
 */
#pragma once

#include <glib.h>

#include "mail-line.h"

G_BEGIN_DECLS

#define IMAP_PARSER_ERROR (imap_parser_error_quark ())
typedef enum
{
  IMAP_PARSER_ERROR_SYNTAX,   /* not the grammar: reply BAD */
  IMAP_PARSER_ERROR_TOO_BIG,  /* a literal or the message over the limit */
  IMAP_PARSER_ERROR_TOO_DEEP, /* lists nested past IMAP_PARSER_MAX_DEPTH */
} ImapParserError;
GQuark imap_parser_error_quark (void);

#define IMAP_PARSER_MAX_DEPTH 32 /* nested parenthesised lists */

/* ---- arguments (RFC 9051 §4) ----------------------------------------- */

typedef enum
{
  IMAP_ARG_ATOM,    /* §4.1; may hold "[...]" with spaces, see below */
  IMAP_ARG_QUOTED,  /* §4.3 quoted, unescaped in data */
  IMAP_ARG_LITERAL, /* §4.3 {n}, or {n+} (RFC 7888: LITERAL+ and LITERAL-
                     * both write {n+}); ~{n} literal8 (RFC 3516) */
  IMAP_ARG_NIL,     /* §4.5; data keeps the atom as written ("nil") */
  IMAP_ARG_LIST,    /* §4.4 parenthesised list */
} ImapArgType;

typedef struct _ImapArg ImapArg;
typedef struct _ImapArgArena ImapArgArena;

/* The elements of a parenthesised list (RFC 9051 §4.4). Read like a
 * GPtrArray (list->len, list->pdata[i], g_ptr_array_index ()), but not
 * one: it lives in the parser's arena with its elements and goes with
 * them, so a FETCH response's dozens of lists cost no allocation each. */
typedef struct
{
  ImapArg **pdata;
  guint len;
} ImapArgList;

/* The top-level arguments imap_parse_args () returns, seen as a list,
 * for code that walks a message and the lists in it alike (valid while
 * @args is). */
static inline ImapArgList
imap_arg_list_view (GPtrArray *args)
{
  return (ImapArgList){ (ImapArg **) args->pdata, args->len };
}

struct _ImapArg
{
  ImapArgType type;
  char *data;          /* atom, quoted or literal octets, NUL-terminated
                        * (only a literal8 may hold NULs: see length); the
                        * atom for NIL; NULL for lists */
  gsize length;        /* octets in data */
  gboolean literal8;   /* the literal was ~{n} (RFC 3516 §4.2) */
  ImapArgList *list;   /* IMAP_ARG_LIST: its elements, else NULL */
  ImapArgArena *arena; /* private: the parser's one block of memory that
                        * holds this argument, its octets and everything
                        * in its lists; NULL for an ImapArg built by hand */
};

/* The free function of the list imap_parse_args () returns: the arguments
 * of one parsed message live in one arena, freed with the last top-level
 * argument (so an argument taken out of the list with
 * g_ptr_array_steal_index () stays valid until it is freed itself). Not
 * for the elements of nested lists, which belong to their list. */
void imap_arg_free (ImapArg *arg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImapArg, imap_arg_free)

/* The string of an nstring or astring (atom, quoted or literal), or NULL
 * for NIL, lists, and literals holding NUL (transfer none). */
const char *imap_arg_string (const ImapArg *arg);
/* The same for an astring only (mailbox, user name): there the atom NIL is
 * the string "NIL" as written (RFC 9051 §9 astring), so SELECT nil opens
 * the mailbox "nil". NULL for lists and literals holding NUL. */
const char *imap_arg_astring (const ImapArg *arg);
/* TRUE if @arg is an atom equal to @word, case-insensitively. */
gboolean imap_arg_is_atom (const ImapArg *arg, const char *word);

/* Parses the arguments of a message, from @data (of @length octets: what
 * follows the tag and command, or the keyword of a response) to its end,
 * into a list of ImapArg (transfer full: g_ptr_array_unref ()). @data need
 * not be NUL-terminated. An empty @data gives an empty list.
 *
 * Atoms follow RFC 9051 §9 ATOM-CHAR, widened so that what commands put in
 * atoms parses: "*" and "%" anywhere (1:*, LIST "" *), "]" (ASTRING-CHAR),
 * and "\" as the first octet (flags \Seen, flag-perm \*); CTL, NUL and
 * 8-bit octets are errors. An atom containing "[" runs to the matching
 * "]", spaces, parentheses and quoted strings included, and may go on
 * after it, so
 *   BODY.PEEK[HEADER.FIELDS (From To)]<0.2048>
 * is one atom (§6.4.5 "section"). A quoted string holds UTF-8 text
 * without CR, LF or NUL; "\" escapes only "\" and DQUOTE. A literal {n}
 * may not hold NUL, a literal8 ~{n} may. Arguments are separated by
 * exactly one SP (a trailing SP is an error). Errors:
 * IMAP_PARSER_ERROR_SYNTAX (the message says at which offset of @data,
 * and what was expected), _TOO_DEEP. */
GPtrArray *imap_parse_args (const char *data, gsize length, GError **error);
/* The same for what a server sends, where inside a list a list may
 * follow a list with no SP between them: the addresses of an ENVELOPE and
 * the parts of a multipart BODYSTRUCTURE do (RFC 9051 §9 env-from = "("
 * 1*address ")", body-type-mpart = 1*body SP media-subtype). For mw-imap
 * and mw-trace; no command has it, so mw-imapd keeps imap_parse_args (). */
GPtrArray *
imap_parse_response_args (const char *data, gsize length, GError **error);

/* ---- the assembler: lines and literals into one message --------------- */

/* Feeds one message line by line. After each line, the line's literal
 * announcement (if any) says how many raw octets must be added next. */
typedef struct
{
  GByteArray *message; /* what has been assembled so far */
  gsize max_size;      /* limit on the whole message, literals included */
  guint64 literal;     /* octets announced by the last line, 0 if none */
  gboolean non_sync;   /* the announcement was {n+} (RFC 7888) */
  gboolean literal8;   /* the announcement was ~{n} */
} ImapAssembler;

void imap_assembler_init (ImapAssembler *assembler, gsize max_size);
void imap_assembler_clear (ImapAssembler *assembler);
/* Empties the assembler for the next message (keeps max_size). */
void imap_assembler_reset (ImapAssembler *assembler);

typedef enum
{
  IMAP_ASSEMBLE_COMPLETE, /* the message is whole: parse it */
  IMAP_ASSEMBLE_LITERAL,  /* the line announced assembler->literal octets:
                           * add them with imap_assembler_add_literal () */
} ImapAssembleStatus;

/* Adds a line (without its CRLF). Returns FALSE with
 * IMAP_PARSER_ERROR_TOO_BIG when the line, or the literal it announces,
 * would take the message past max_size: nothing is added, and the caller
 * refuses the literal (RFC 7888 §4) before any of it is sent or read.
 * Either way, literal, non_sync and literal8 describe the line's
 * announcement, so after a refusal the caller knows whether the octets
 * of a non-synchronising literal are on their way anyway. */
gboolean imap_assembler_add_line (ImapAssembler *assembler,
                                  const char *line,
                                  gsize length,
                                  ImapAssembleStatus *out_status,
                                  GError **error);
/* Adds the announced literal's octets (exactly assembler->literal). */
void imap_assembler_add_literal (ImapAssembler *assembler,
                                 const void *data,
                                 gsize length);

/* ---- reading a message from a connection ----------------------------- */

/* Called when a line announces a literal of @size octets that fits in
 * max_size, before any of it is read. Return TRUE to read it (a server
 * sends "+" here for a synchronising literal, and flushes); FALSE stops
 * the read with IMAP_PARSER_ERROR_TOO_BIG (the callee has already
 * replied). */
typedef gboolean (*ImapLiteralFunc) (guint64 size,
                                     gboolean non_sync,
                                     gpointer user_data);

/* Reads one whole message (lines and literals) into @assembler, which is
 * reset first. @on_literal may be NULL: every literal that fits is read
 * (a client reading responses). Errors: those of mail_stream_read_line ()
 * and mail_stream_read_exact (), IMAP_PARSER_ERROR_TOO_BIG (over
 * max_size: @on_literal is not called and nobody has replied yet; or
 * refused by @on_literal). After TOO_BIG nothing of the literal has been
 * read, and assembler->non_sync says whether the peer sends it anyway.
 * *out_first_line (optional, transfer full) is the first line, set
 * whenever it was read, even on error, so the server can answer with the
 * tag. *out_flags (optional): the union of the lines' MailLineFlags. */
gboolean imap_read_message (MailStream *stream,
                            ImapAssembler *assembler,
                            ImapLiteralFunc on_literal,
                            gpointer user_data,
                            char **out_first_line,
                            MailLineFlags *out_flags,
                            GCancellable *cancellable,
                            GError **error);

/* ---- sequence sets (RFC 9051 §9 sequence-set, §6.4.9 "$" RFC 5182) ---- */

#define IMAP_SEQ_STAR                                                          \
  0 /* "*": the largest number in use (0 is no                                 \
     * number, so 4294967295 stays a number) */

typedef struct
{
  guint32 first; /* as written: "5:3" keeps 5 and 3; IMAP_SEQ_STAR for * */
  guint32 last;
} ImapSeqRange;

typedef struct
{
  GArray *ranges; /* ImapSeqRange, in the order written */
  gboolean saved; /* the set was "$" (RFC 5182 SEARCHRES); no ranges */
} ImapSeqSet;

/* "1:3,5,7:*" or "$". Numbers are 1..2^32-1 (0 is an error, as is an
 * empty element); "UID SEARCH UID 7:4294967295" finds nothing past the
 * last UID, while "7:*" always holds the last message (RFC 9051 §6.4.9).
 * Errors: IMAP_PARSER_ERROR_SYNTAX. (transfer
 * full) */
ImapSeqSet *imap_seqset_parse (const char *text, GError **error);
void imap_seqset_free (ImapSeqSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImapSeqSet, imap_seqset_free)
/* Is @number in @set when "*" stands for @star (the highest sequence
 * number or UID in use)? RFC 9051 §9: "3:*" and "*:3" are the same set;
 * in an empty mailbox "*" is UIDNEXT for UIDs, and for sequence numbers
 * the caller replies BAD before asking. Not for "$": the caller looks up
 * the saved result instead. */
gboolean
imap_seqset_contains (const ImapSeqSet *set, guint32 number, guint32 star);
/* Writes the sorted numbers of @numbers (ascending, no duplicates) as a
 * compact set "1:3,7,9:12" (COPYUID, ESEARCH ALL). (transfer full) */
char *imap_seqset_format (const guint32 *numbers, gsize count);

/* ---- FETCH sections (RFC 9051 §6.4.5, RFC 3516 BINARY) --------------- */

typedef enum
{
  IMAP_SECTION_ALL,    /* BODY[] or BODY[1.2] */
  IMAP_SECTION_HEADER, /* BODY[HEADER], BODY[1.2.HEADER] */
  IMAP_SECTION_HEADER_FIELDS,
  IMAP_SECTION_HEADER_FIELDS_NOT,
  IMAP_SECTION_TEXT,
  IMAP_SECTION_MIME, /* only after a part number */
} ImapSectionKind;

typedef struct
{
  GArray *parts; /* guint32 part numbers, "1.2" -> {1, 2}; empty: whole */
  ImapSectionKind kind;
  GStrv fields; /* HEADER.FIELDS (.NOT): the field names as written */
  gboolean has_partial;
  guint32 offset; /* <offset.length> */
  guint32 length;
} ImapSection;

/* Parses what follows "BODY[" / "BINARY[": "1.2.HEADER.FIELDS (A B)]<0.10>"
 * up to the end of @text. Fills @out (clear with imap_section_clear ());
 * on FALSE (IMAP_PARSER_ERROR_SYNTAX) @out holds nothing to free. Keywords
 * are case-insensitive; field names are atoms or quoted strings. An
 * offset or length past 2^32-1 is cut to G_MAXUINT32, which selects the
 * same octets of any message this project can store. BINARY[] takes part
 * numbers only (RFC 3516 §4.1): the caller checks kind is
 * IMAP_SECTION_ALL. */
gboolean
imap_section_parse (const char *text, ImapSection *out, GError **error);
void imap_section_clear (ImapSection *section);

/* ---- dates (RFC 9051 §9 date, date-time) ------------------------------ */

/* date = "1-Feb-1994" (optionally in DQUOTEs): midnight of that day,
 * as a day number (days since 1970-01-01) in *out_day. Month names are
 * case-insensitive. Errors: IMAP_PARSER_ERROR_SYNTAX. */
gboolean imap_date_parse (const char *text, gint64 *out_day, GError **error);
/* date-time = "17-Jul-1996 02:44:25 -0700" (or " 7-Jul-...", or
 * "07-Jul-..."; optionally in DQUOTEs): Unix seconds in *out_time, the
 * zone in *out_zone_minutes (-420 here). Errors:
 * IMAP_PARSER_ERROR_SYNTAX. */
gboolean imap_datetime_parse (const char *text,
                              gint64 *out_time,
                              int *out_zone_minutes,
                              GError **error);
/* "17-Jul-1996 02:44:25 +0000" for @time in UTC, the day in two digits
 * ("07-Jul-1996"); @time within the years 1 to 9999 (transfer full). */
char *imap_datetime_format (gint64 time);

/* ---- mailbox names (RFC 3501 §5.1.3; RFC 9051 §5.1, RFC 6855) --------- */

/* Modified UTF-7 -> UTF-8. FALSE for text that is not valid modified
 * UTF-7 (bad base64, a non-shortest form, "&" left open). (transfer full)
 */
char *imap_mutf7_to_utf8 (const char *mutf7, GError **error);
/* UTF-8 -> modified UTF-7 (transfer full). @utf8 must be valid UTF-8.
 * The text holding NUL cannot be a mailbox name: a NUL ends @utf8. */
char *imap_utf8_to_mutf7 (const char *utf8);

/* ---- writing (RFC 9051 §4.3) ------------------------------------------ */

/* Appends @text as an astring/nstring the way the peer can read it: NIL
 * when NULL, an atom when @allow_atom and it is one (strict ATOM-CHAR,
 * and never the word NIL), a quoted string when it needs no literal, else
 * a literal "{n}\r\n..." (a literal is needed for CR, LF, NUL or 8-bit
 * octets, unless @utf8 allows valid UTF-8 in quoted, RFC 9051 §4.3 /
 * RFC 6855 §3). Text holding NUL goes out as literal8 "~{n}", the only
 * form that may carry it (RFC 3516 §4.2). Not for flags: write \Seen as
 * it is. */
void imap_append_string (GString *out,
                         const char *text,
                         gsize length,
                         gboolean allow_atom,
                         gboolean utf8);

G_END_DECLS
