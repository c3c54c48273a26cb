/* SPDX-License-Identifier: MIT
 * imap-cache.h: the per-folder cache of what FETCH derives from a
 * message's MIME structure: ENVELOPE, BODY and BODYSTRUCTURE (RFC 9051
 * §7.5.2), so that FETCH 1:* (FLAGS ENVELOPE) on a large folder does not
 * read and parse every message again (what Dovecot's dovecot.index.cache
 * does for it); and of the message header (RFC 5322 §2.1), so that the
 * SEARCH keys that read only the header (FROM, SUBJECT, HEADER, SENT*,
 * RFC 9051 §6.4.4) read no message file either.
 *
 * A cache is never the only copy (DESIGN.md, principle 7): every entry
 * can be computed again from the message, so the file may be missing,
 * stale, damaged or cut short, and is then ignored, line by line, and
 * rewritten. It lives beside the folder's mailwire-uidlist:
 *   <folder dir>/mailwire-imap-cache
 *     mailwire-imap-cache TAB 1 TAB <fingerprint> LF
 *     <check> TAB <name> TAB <size> TAB <header> TAB <envelope>
 *       TAB <body> TAB <bodystructure> TAB <from> TAB <to> TAB <cc>
 *       TAB <bcc> LF                                  (one per message)
 * An entry is keyed by the message's Maildir base name (stable across
 * flag changes) and its size, so a file replaced under the same name
 * with other octets is computed again. <check> is an FNV-1a hash of the
 * rest of the line: a damaged line is skipped, never sent to a client.
 * <header> is the top-level header as BODY[HEADER] shows it, up to and
 * with its empty line. <from> ... <bcc> are the text SEARCH FROM, TO, CC
 * and BCC look in (imap_message_get_address_text ()): "+" and the text,
 * or "-" when the message has no such field. A line is taken apart only when
 * one of its items is asked for, and its check tested then. The fingerprint is
 * that of the four items computed for a built-in sample message: when
 * imap-message*.c answers differently (a new version), a file written by the
 * old code is stale as a whole. Values are the response text as sent, with
 * backslash, TAB, CR, LF and NUL written as \\ \t \r \n \0; an empty field is
 * an item not yet computed.
 *
 * Writers replace the file whole (a temporary file in the Maildir's
 * tmp/, then rename; no fsync: losing it loses nothing), so a reader
 * never sees a torn file. Several sessions and processes may write it:
 * each first takes in what the others wrote since it last read, and the
 * last writer wins for what remains. An ImapCache is used by one thread
 * at a time. It reads only the entries of messages the folder holds, and
 * a write forgets those of messages gone since, so it keeps at most what
 * the folder holds.
 */
#pragma once

#include <glib.h>

#include "imap-message.h"
#include "mail-store.h"

G_BEGIN_DECLS

#define IMAP_CACHE_FILE_NAME "mailwire-imap-cache"

typedef enum
{
  IMAP_CACHE_ENVELOPE,      /* ENVELOPE */
  IMAP_CACHE_BODY,          /* BODY: BODYSTRUCTURE without extension data */
  IMAP_CACHE_BODYSTRUCTURE, /* BODYSTRUCTURE */
} ImapCacheItem;
#define IMAP_CACHE_N_ITEMS 3

typedef struct _ImapCache ImapCache;

/* The directory of the folder that holds @message (the one with its
 * cur/ and new/, maildir(5)), where the cache file goes (transfer full). */
char *imap_cache_folder_dir (const MailMessage *message);

/* A cache for the folder in directory @dir. Reads nothing yet. */
ImapCache *imap_cache_new (const char *dir);
void imap_cache_free (ImapCache *cache);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImapCache, imap_cache_free)
const char *imap_cache_get_dir (ImapCache *cache);

/* Reads the file if it is not the one this cache last read or wrote,
 * taking in the entries of messages of @folder (same name and size) that
 * the cache lacks. A missing, unreadable or stale file and bad lines are
 * ignored: they only cost speed. */
void imap_cache_refresh (ImapCache *cache, MailFolder *folder);

/* Appends @item of @message to @out and returns TRUE, or returns FALSE
 * if the cache does not have it for this name and size. */
gboolean imap_cache_append (ImapCache *cache,
                            const MailMessage *message,
                            ImapCacheItem item,
                            GString *out);

/* Computes @item of @message from @parsed, its octets, and keeps it.
 * Only what FETCH asks for is computed: ENVELOPE alone costs less than
 * all three. */
void imap_cache_add (ImapCache *cache,
                     const MailMessage *message,
                     ImapCacheItem item,
                     ImapMessage *parsed);

/* The top-level header of @message, as imap_message_get_section ()
 * gives BODY[HEADER] (RFC 9051 §6.4.5), or NULL if the cache does not
 * have it for this name and size (transfer full). An ImapMessage made of
 * it answers imap_message_get_header_text (), _get_address_text () and
 * _get_sent_day () as one of the whole message does. */
GBytes *imap_cache_get_header (ImapCache *cache, const MailMessage *message);

/* The text of the address fields @field (From, To, Cc or Bcc, any
 * case) of @message, as imap_message_get_address_text () gives it,
 * appended to @out with *out_present TRUE, or *out_present FALSE when
 * the message has no such field; FALSE if the cache does not know (or
 * @field is another). SEARCH FROM on a big folder asks this of every
 * message: it parses nothing and allocates nothing but @out's room. */
gboolean imap_cache_get_address (ImapCache *cache,
                                 const MailMessage *message,
                                 const char *field,
                                 GString *out,
                                 gboolean *out_present);
/* Keeps @text (NULL: no such field) as that of @field of @message. */
void imap_cache_add_address (ImapCache *cache,
                             const MailMessage *message,
                             const char *field,
                             const char *text);

/* Keeps the header of @message, from @parsed, its octets. */
void imap_cache_add_header (ImapCache *cache,
                            const MailMessage *message,
                            ImapMessage *parsed);

/* If entries were added since the last write: takes in what others
 * wrote (imap_cache_refresh ()), then replaces the file with the entries
 * of the messages of @folder, and forgets the others. FALSE and a
 * G_FILE_ERROR if the file could not be written (the cache in memory
 * stays as good). */
gboolean
imap_cache_write (ImapCache *cache, MailFolder *folder, GError **error);

G_END_DECLS
