/* SPDX-License-Identifier: MIT
 * mw-imap-sync-run.h: one run of `mw-imap sync`, shared by its two
 * files: mw-imap-sync.c (the account, each folder, the pairs of the last
 * sync) and mw-imap-sync-copy.c (the messages in no pair).
 */
#pragma once

#include "mail-store.h"
#include "mw-imap-sync.h"
#include "mw-imap.h"

G_BEGIN_DECLS

/* Messages per UID FETCH of bodies; and messages downloaded (or
 * uploaded) between two state writes and rescans of the local folder
 * (a rescan reads the whole folder: one per batch would be quadratic). */
#define MW_SYNC_BATCH 64
#define MW_SYNC_RESCAN 1024

typedef struct
{
  const MwImapOptions *o;
  ImapClient *client;
  MailStore *store;
  char *state_dir;
  char delimiter; /* the server's hierarchy delimiter (RFC 9051 §5.1) */
} MwSync;

/* What changed, for the summary line. */
typedef struct
{
  guint downloaded, uploaded, matched;
  guint flags_here, flags_there;
  guint deleted_here, deleted_there;
} MwSyncCounts;

/* One folder's sync. */
typedef struct
{
  MwSync *sync;
  const char *remote; /* the server's name */
  const char *local;  /* the store's name ("/" separated) */
  MailFolder *folder; /* the local folder */
  MwSyncState *state; /* as loaded; its pairs are consumed */
  MwSyncState *next;  /* being built: what the next sync starts from */
  char *state_path;
  gboolean first_contact; /* no common state to merge against */
  GHashTable *remote_now; /* server UID -> flags, as the server has them */
  GHashTable *local_now;  /* local UID -> flags */
  guint64 select_modseq;  /* HIGHESTMODSEQ and UIDNEXT at SELECT */
  guint32 select_uidnext;
  gboolean qresync;        /* SELECT reported the changes (RFC 7162) */
  gboolean unchanged_here; /* the local folder is as the last sync read
                            * it (mail_store_peek_folder ()) */
  gboolean unchanged;      /* and the server's too: nothing to do */
  gboolean changing;       /* local flag changes are batched (begun) */
  GHashTable *stored;      /* file name -> server UID: downloaded, not yet
                            * paired (that needs the local UID); filled by
                            * the writer threads (mw-imap-sync-copy.c) */
  MwSyncCounts counts;
} MwSyncFolder;

/* Sorted UIDs as a set "1:3,7" (transfer full); sorts @uids. */
char *mw_sync_uid_set (GArray *uids);
int mw_sync_compare_uids (gconstpointer a, gconstpointer b);
/* Gives the local copy of @local_uid these flags (batched). */
gboolean mw_sync_local_set_flags (MwSyncFolder *f,
                                  guint32 local_uid,
                                  const char *flags,
                                  GError **error);

/* mw-imap-sync-copy.c: copies in no pair on both sides, paired when
 * their Message-IDs are the same; then the server's messages in no pair
 * downloaded, and the local ones uploaded. */
gboolean mw_sync_match (MwSyncFolder *f, GError **error);
gboolean mw_sync_download (MwSyncFolder *f, GError **error);
gboolean mw_sync_upload (MwSyncFolder *f, GError **error);

G_END_DECLS
