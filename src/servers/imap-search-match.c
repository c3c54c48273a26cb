/* SPDX-License-Identifier: MIT
 * imap-search-match.c: a SEARCH key tree against one message (RFC 9051
 * §6.4.4; RFC 7162 §3.1.5 MODSEQ; RFC 5182 §2.1 "$"). Flags, numbers and
 * dates come from the candidate; the message text is read only for the
 * keys that need it, and only once.
 */
#include <stdlib.h>
#include <string.h>

#include "imap-search-private.h"

/* ---- matching (RFC 9051 §6.4.4) ---------------------------------------- */

typedef struct
{
  const ImapSearchCandidate *candidate;
  guint32 max_seq;
  guint32 max_uid;
  ImapMessage *message; /* loaded on first need (transfer none) */
  gboolean loaded;
} SearchMatch;

static ImapMessage *
match_message (SearchMatch *match)
{
  if (!match->loaded && match->candidate->load != NULL)
    match->message = match->candidate->load (match->candidate->user_data);
  match->loaded = TRUE;
  return match->message;
}

static gboolean match_key (const ImapSearchKey *key, SearchMatch *match);

/* AND (@all) or OR of the children. The ones that need no message text
 * go first, so a failed flag test spares reading the file. */
static gboolean
match_children (const ImapSearchKey *key, SearchMatch *match, gboolean all)
{
  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < key->children->len; i++)
      {
        const ImapSearchKey *child = g_ptr_array_index (key->children, i);

        if (child->needs_message == (pass == 0))
          continue;
        if (match_key (child, match) != all)
          return !all;
      }
  return all;
}

/* BEFORE/ON/SINCE and the SENT ones: compare days (RFC 9051 §6.4.4). */
static gboolean
match_day (ImapSearchKind kind, gint64 day, gint64 wanted)
{
  switch (kind)
    {
    case KEY_BEFORE:
    case KEY_SENTBEFORE:
      return day < wanted;
    case KEY_ON:
    case KEY_SENTON:
      return day == wanted;
    case KEY_SINCE:
    case KEY_SENTSINCE:
      return day >= wanted;
    default:
      g_assert_not_reached ();
    }
}

static gboolean
is_ascii (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) *p >= 0x80)
      return FALSE;
  return TRUE;
}

/* Is @needle in @text, ASCII letters compared without case? */
static gboolean
ascii_contains (const char *text, const char *needle)
{
  gsize length = strlen (needle);
  char first = g_ascii_tolower (needle[0]);

  if (length == 0)
    return TRUE;
  for (const char *p = text; *p != '\0'; p++)
    if (g_ascii_tolower (*p) == first &&
        g_ascii_strncasecmp (p, needle, length) == 0)
      return TRUE;
  return FALSE;
}

/* RFC 9051 §6.4.4: "a substring match, case-insensitive". For ASCII,
 * g_utf8_casefold () only lowers the letters (its special cases are all
 * past U+007F), so ASCII text is compared in place, without folding
 * copies of both for every message. */
static gboolean
text_contains (const char *text, const char *needle)
{
  g_autofree char *folded_text = NULL;
  g_autofree char *folded_needle = NULL;

  if (is_ascii (text) && is_ascii (needle))
    return ascii_contains (text, needle);
  folded_text = g_utf8_casefold (text, -1);
  folded_needle = g_utf8_casefold (needle, -1);
  return strstr (folded_text, folded_needle) != NULL;
}

/* The keys that read the message. */
static gboolean
match_text_key (const ImapSearchKey *key, SearchMatch *match)
{
  const ImapSearchCandidate *c = match->candidate;
  ImapMessage *message = NULL;
  g_autofree char *header = NULL;
  const char *known = NULL;
  gint64 day = 0;

  /* the address text a cache holds: no message to parse */
  if (key->kind == KEY_ADDRESS && !match->loaded && c->address != NULL &&
      c->address (c->user_data, key->field, &known))
    return known != NULL && text_contains (known, key->text);
  message = match_message (match);
  if (message == NULL)
    return FALSE;
  switch (key->kind)
    {
    case KEY_SENTBEFORE:
    case KEY_SENTON:
    case KEY_SENTSINCE:
      return imap_message_get_sent_day (message, &day) &&
             match_day (key->kind, day, key->number);
    case KEY_HEADER:
      /* An empty string matches every message with the field. */
      header = imap_message_get_header_text (message, key->field);
      return header != NULL && text_contains (header, key->text);
    case KEY_ADDRESS:
      header = imap_message_get_address_text (message, key->field);
      return header != NULL && text_contains (header, key->text);
    case KEY_BODY:
    case KEY_TEXT:
      return imap_message_body_contains (message, key->text,
                                         key->kind == KEY_TEXT);
    default:
      g_assert_not_reached ();
    }
}

static gboolean
match_keyword (const ImapSearchKey *key, const ImapSearchCandidate *c)
{
  /* RFC 9051 §2.3.2: flag names are case-insensitive. */
  for (guint i = 0; c->keywords != NULL && c->keywords[i] != NULL; i++)
    if (g_ascii_strcasecmp (c->keywords[i], key->text) == 0)
      return TRUE;
  return FALSE;
}

static int
compare_uid (gconstpointer a, gconstpointer b)
{
  guint32 x = *(const guint32 *) a;
  guint32 y = *(const guint32 *) b;

  return x < y ? -1 : x > y;
}

static gboolean
match_saved (const ImapSearchKey *key, const ImapSearchCandidate *c)
{
  return key->saved != NULL &&
         bsearch (&c->uid, key->saved->data, key->saved->len, sizeof (guint32),
                  compare_uid) != NULL;
}

/* INTERNALDATE's day, in UTC: RFC 9051 §6.4.4 leaves the zone to the
 * server, and mail-store keeps no zone for a delivery time. */
static gint64
internal_day (gint64 time)
{
  gint64 day = time / (24 * 60 * 60);

  return time < 0 && time % (24 * 60 * 60) != 0 ? day - 1 : day;
}

static gboolean
match_key (const ImapSearchKey *key, SearchMatch *match)
{
  const ImapSearchCandidate *c = match->candidate;

  switch (key->kind)
    {
    case KEY_ALL:
      return TRUE;
    case KEY_AND:
    case KEY_OR:
      return match_children (key, match, key->kind == KEY_AND);
    case KEY_NOT:
      return !match_key (g_ptr_array_index (key->children, 0), match);
    case KEY_SEQUENCE:
      return imap_seqset_contains (key->set, c->seq, match->max_seq);
    case KEY_UID:
      return imap_seqset_contains (key->set, c->uid, match->max_uid);
    case KEY_SAVED:
      return match_saved (key, c);
    case KEY_FLAG:
      return (c->flags & key->flag) != 0;
    case KEY_KEYWORD:
      return match_keyword (key, c);
    case KEY_RECENT:
      return c->recent;
    case KEY_LARGER:
      return c->size > (guint64) key->number;
    case KEY_SMALLER:
      return c->size < (guint64) key->number;
    case KEY_MODSEQ: /* RFC 7162 §3.1.5: "equal to or greater than" */
      return c->modseq >= (guint64) key->number;
    case KEY_BEFORE:
    case KEY_ON:
    case KEY_SINCE:
      return match_day (key->kind, internal_day (c->internaldate), key->number);
    default:
      return match_text_key (key, match);
    }
}

gboolean
imap_search_matches (const ImapSearchKey *key,
                     const ImapSearchCandidate *candidate,
                     guint32 max_seq,
                     guint32 max_uid)
{
  SearchMatch match = { candidate, max_seq, max_uid, NULL, FALSE };

  g_return_val_if_fail (key != NULL && candidate != NULL, FALSE);
  return match_key (key, &match);
}
