/* SPDX-License-Identifier: MIT
 * imap-search-private.h: the SEARCH key tree, which imap-search.c builds
 * and imap-search-match.c walks (RFC 9051 §6.4.4).
 */
#pragma once

#include "imap-search.h"

G_BEGIN_DECLS

typedef enum
{
  KEY_ALL,
  KEY_AND, /* children: all must match (a list, or the whole criteria) */
  KEY_OR,  /* two children */
  KEY_NOT, /* one child */
  KEY_SEQUENCE,
  KEY_UID,
  KEY_SAVED, /* "$": the saved result, UIDs (RFC 5182 §2.1) */
  KEY_FLAG,
  KEY_KEYWORD,
  KEY_RECENT,
  KEY_NEW, /* parsed into (AND RECENT (NOT (FLAG \Seen))) */
  KEY_LARGER,
  KEY_SMALLER,
  KEY_MODSEQ,
  KEY_BEFORE, /* the dates: INTERNALDATE ... */
  KEY_ON,
  KEY_SINCE,
  KEY_SENTBEFORE, /* ... and the Date: header */
  KEY_SENTON,
  KEY_SENTSINCE,
  KEY_HEADER,  /* the raw field, decoded (HEADER, SUBJECT) */
  KEY_ADDRESS, /* its addresses (FROM, TO, CC, BCC) */
  KEY_BODY,
  KEY_TEXT,
} ImapSearchKind;

struct _ImapSearchKey
{
  ImapSearchKind kind;
  GPtrArray *children; /* AND, OR, NOT */
  ImapSeqSet *set;     /* SEQUENCE, UID */
  GArray *saved;       /* SAVED: guint32 UIDs, ascending; NULL if unset */
  MailFlags flag;      /* FLAG */
  char *field;         /* HEADER, ADDRESS: the field name */
  char *text;          /* KEYWORD, HEADER, ADDRESS, BODY, TEXT */
  gint64 number;       /* LARGER, SMALLER, MODSEQ; the dates' day */
  gboolean needs_message;
};

G_END_DECLS
