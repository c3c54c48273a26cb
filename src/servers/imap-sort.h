/* SPDX-License-Identifier: MIT
 * imap-sort.h: what SORT and THREAD (RFC 5256) need to know of each
 * message, written once for both (imap-sort.c, imap-thread.c): the base
 * subject (§2.1), the sent date (§2.2), the first address of a field,
 * and the message's place among the others (Message-ID, References).
 */
#pragma once

#include "imap-search.h"
#include "imap-session-private.h"

G_BEGIN_DECLS

/* One message as SORT and THREAD compare it. */
typedef struct
{
  guint32 seq;
  guint32 uid;
  guint64 size;      /* RFC822.SIZE */
  gint64 arrival;    /* INTERNALDATE */
  gint64 sent;       /* Date: in UTC, or INTERNALDATE without one (§2.2) */
  char *subject;     /* the base subject (§2.1), UTF-8 */
  gboolean is_reply; /* the subject had "Re:", "Fwd:" or "(fwd)" */
  char *from;        /* addr-mailbox of the first address, or "" */
  char *to;
  char *cc;
  char *message_id; /* "<a@b>" or NULL */
  GStrv references; /* the References ids, else In-Reply-To's first */
} ImapSortMessage;

/* RFC 5256 §2.1: the base subject of @subject (UTF-8, encoded words
 * already decoded); *out_is_reply says whether a reply or forward
 * marker was taken off (transfer full). */
char *imap_sort_base_subject (const char *subject, gboolean *out_is_reply);

/* i;ascii-casemap (RFC 4790 §9.2), the collation of RFC 5256 §3: like
 * strcmp () after turning a-z into A-Z. */
int imap_sort_compare_strings (const char *a, const char *b);

/* The messages of the selected mailbox that match @key, in mailbox
 * order, with what SORT and THREAD compare filled in; the header fields
 * only with @header (else "" and the INTERNALDATE as sent date): each
 * message is read at most once. (transfer full) */
GPtrArray *imap_sort_collect (ImapSession *session,
                              const ImapSearchKey *key,
                              gboolean header);

/* RFC 5256 §3: the charset and search criteria after the SORT criteria
 * or the THREAD algorithm: parses them from args[@first], replying BAD
 * or NO [BADCHARSET] itself on failure (then NULL). */
ImapSearchKey *
imap_sort_parse_search (ImapSession *session, GPtrArray *args, guint first);

void imap_cmd_sort (ImapSession *session, GPtrArray *args);
void imap_cmd_thread (ImapSession *session, GPtrArray *args);

G_END_DECLS
