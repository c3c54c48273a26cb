/* SPDX-License-Identifier: MIT
 * mw-imap-sync.h: the pieces of `mw-imap sync` that hold no connection:
 * the state file of a folder, flag sets and their three-way merge, and
 * the Message-ID of a message (mw-imap-sync-state.c). The sync itself is
 * in mw-imap-sync.c.
 */
#pragma once

#include "mail-store.h"

G_BEGIN_DECLS

/* One message known on both sides at the last sync, with the flags both
 * had then: the common ancestor of the next three-way merge. */
typedef struct
{
  guint32 remote_uid;
  guint32 local_uid;
  char *flags; /* normalised (mw_sync_flags_normalize ()) */
} MwSyncPair;

/* What a folder looked like at the end of the last sync. The file:
 *   mw-imap-sync 1
 *   server UIDVALIDITY HIGHESTMODSEQ UIDNEXT
 *   local UIDVALIDITY [HIGHESTMODSEQ UIDNEXT]
 *   REMOTE-UID LOCAL-UID [FLAG ...]      one line per pair
 * written whole to a temporary file, fsynced, then renamed over the old
 * one, so a crash leaves the old state or the new, never half of one. */
typedef struct
{
  guint32 uidvalidity;    /* the server's (RFC 9051 §2.3.1.1) */
  guint64 highest_modseq; /* the server's at the last complete sync; 0:
                           * none (RFC 7162 §3.1.2.1) */
  guint32 uidnext;        /* the server's UIDNEXT then */
  guint32 local_uidvalidity;
  guint64 local_highest_modseq; /* the local folder's when the last sync
                                 * read it (0: unknown, a state written by
                                 * an older mw-imap), and its UIDNEXT */
  guint32 local_uidnext;
  GArray *pairs; /* of MwSyncPair */
} MwSyncState;

MwSyncState *mw_sync_state_new (void);
/* A missing file is an empty state (first sync). */
MwSyncState *mw_sync_state_load (const char *path, GError **error);
gboolean
mw_sync_state_save (const MwSyncState *state, const char *path, GError **error);
void mw_sync_state_free (MwSyncState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MwSyncState, mw_sync_state_free)
void mw_sync_state_add (MwSyncState *state,
                        guint32 remote_uid,
                        guint32 local_uid,
                        const char *flags);

/* Flags as one string, sorted, each once, system flags spelt as RFC 9051
 * §2.3.2 does, without \Recent (a session flag, never synced). */
char *mw_sync_flags_normalize (const char *flags);
/* The flags of a local message ("\\Seen \\Flagged $Label1"). */
char *mw_sync_local_flags (const MailMessage *message);
void mw_sync_flags_to_local (const char *flags,
                             MailFlags *out_flags,
                             GStrv *out_keywords);
/* The three-way merge of one message's flags. Normally, for each flag:
 * if only one side changed it since @base, that change wins; if both
 * did, both hold the same value (a flag is on or off), so nothing is
 * lost. With @first_contact (no common @base: the first sync, or a
 * UIDVALIDITY change) a flag set on either side is kept (what was read
 * somewhere stays read), except \Deleted, kept only if both have it. */
char *mw_sync_flags_merge (const char *base,
                           const char *remote,
                           const char *local,
                           gboolean first_contact);
/* The flags in @to that are not in @from (transfer full; "" if none). */
char *mw_sync_flags_minus (const char *to, const char *from);

/* The Message-ID field's value ("<x@y>") of a message or of its header
 * section, NULL if it has none (RFC 5322 §3.6.4). */
char *mw_sync_message_id (const char *data, gsize length);

G_END_DECLS
