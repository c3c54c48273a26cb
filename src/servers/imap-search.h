/* SPDX-License-Identifier: MIT
 * imap-search.h: SEARCH criteria, parsed into a tree and matched against
 * one message at a time (RFC 9051 §6.4.4; RFC 3501 §6.4.4 for NEW, OLD
 * and RECENT; RFC 7162 §3.1.5 MODSEQ; RFC 5182 "$").
 *
 * The criteria come from the client: the parser takes the argument tree
 * of imap-parser.h and bounds how deep NOT, OR and lists may nest.
 * Matching reads the message text only for the keys that need it.
 */
#pragma once

#include <glib.h>

#include "imap-message.h"
#include "imap-parser.h"
#include "mail-store.h"

G_BEGIN_DECLS

#define IMAP_SEARCH_ERROR (imap_search_error_quark ())
typedef enum
{
  IMAP_SEARCH_ERROR_SYNTAX,     /* not RFC 9051 §9 search-key: reply BAD */
  IMAP_SEARCH_ERROR_BADCHARSET, /* reply NO [BADCHARSET (UTF-8 US-ASCII)]
                                 * (RFC 9051 §7.1) */
} ImapSearchError;
GQuark imap_search_error_quark (void);

/* Keys nested deeper (NOT NOT ..., lists in lists) are a syntax error. */
#define IMAP_SEARCH_MAX_DEPTH 64

typedef struct _ImapSearchKey ImapSearchKey;

/* Parses the criteria in @args (ImapArg, from imap_parse_args ()) from
 * index @first to the end: an optional "CHARSET name" (US-ASCII or
 * UTF-8, any other is IMAP_SEARCH_ERROR_BADCHARSET), then one or more
 * keys, all of which must match. *out_charset (optional, transfer full)
 * is the charset named, in upper case, or NULL. Strings are taken as
 * UTF-8 (US-ASCII is a subset). Errors: IMAP_SEARCH_ERROR_SYNTAX with a
 * message naming the key, _BADCHARSET. (transfer full) */
ImapSearchKey *imap_search_parse (GPtrArray *args,
                                  guint first,
                                  char **out_charset,
                                  GError **error);
void imap_search_key_free (ImapSearchKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImapSearchKey, imap_search_key_free)

/* One message as the mailbox knows it. */
typedef struct
{
  guint32 seq; /* message sequence number */
  guint32 uid;
  guint64 size;        /* RFC822.SIZE */
  gint64 internaldate; /* INTERNALDATE, Unix seconds */
  MailFlags flags;
  const char *const *keywords; /* NULL or NULL-terminated */
  gboolean recent;             /* \Recent (RFC 3501 §2.3.2) */
  guint64 modseq;              /* RFC 7162 §3.1.5; 0 without CONDSTORE */
  /* The message text, for the keys that need it: called at most once
   * per imap_search_matches (). The message (transfer none) stays the
   * caller's, and must live until imap_search_matches () returns. NULL
   * (a file gone) matches no text key. */
  ImapMessage *(*load) (gpointer user_data);
  /* Optional: the text of address field @field (From, To, Cc, Bcc) as
   * imap_message_get_address_text () would give it, without loading
   * the message: TRUE and *out_text (transfer none, valid until the
   * next call; NULL: no such field), or FALSE: load it. */
  gboolean (*address) (gpointer user_data,
                       const char *field,
                       const char **out_text);
  gpointer user_data;
} ImapSearchCandidate;

/* Does @candidate match @key? "*" is @max_seq in a sequence set and
 * @max_uid in UID (RFC 9051 §6.4.4, §9 seq-number). */
gboolean imap_search_matches (const ImapSearchKey *key,
                              const ImapSearchCandidate *candidate,
                              guint32 max_seq,
                              guint32 max_uid);

/* Does any key read the message text (headers, body, Date:)? If not,
 * candidate->load is never called. */
gboolean imap_search_needs_message (const ImapSearchKey *key);
/* Does any key read past the message header (BODY, TEXT)? If not, the
 * message candidate->load gives may be one made of the header alone
 * (RFC 5322 §2.1: up to the first empty line). */
gboolean imap_search_needs_body (const ImapSearchKey *key);
/* Is there a MODSEQ key? Then the reply ends in "(MODSEQ n)" (RFC 7162
 * §3.1.5). */
gboolean imap_search_uses_modseq (const ImapSearchKey *key);
/* Is there a "$" (RFC 5182 §2.1)? Then give the saved result with
 * imap_search_set_saved_uids () before matching; without it, "$" is the
 * empty set, as after a search that found nothing. */
gboolean imap_search_uses_saved (const ImapSearchKey *key);
/* @uids: the saved result, ascending (copied). */
void imap_search_set_saved_uids (ImapSearchKey *key,
                                 const guint32 *uids,
                                 gsize count);

/* The tree in prefix form, for tests and logs: "(AND (FLAG \\Seen)
 * (NOT (FLAG \\Deleted)))". (transfer full) */
char *imap_search_key_describe (const ImapSearchKey *key);

G_END_DECLS
