/* SPDX-License-Identifier: MIT
 * mail-folder-private.h: what the files of one open folder share:
 * mail-folder.c (the handle, loading, syncing, batches),
 * mail-uidlist.c (the mailwire-uidlist file, RFC 9051 §2.3.1.1),
 * mail-folder-scan.c (new/ and cur/ against the list, maildir(5)),
 * mail-folder-message.c (one message) and mail-folder-monitor.c. Not
 * part of the libmailwire contract: servers use mail-store.h only.
 */
#pragma once

#include "mail-store-private.h"

G_BEGIN_DECLS

#define UIDLIST_NAME "mailwire-uidlist"
#define RELOCATE_ATTEMPTS 3 /* rescans when another process renames */
#define NS_PER_SECOND G_GINT64_CONSTANT (1000000000)
/* A directory's time stamp comes from the kernel's coarse clock (one
 * tick, a few milliseconds), or keeps whole seconds on some file
 * systems: a change in the same tick (or second) as our scan leaves it
 * as it was. mtime_settled () says when a stamp proves nothing changed;
 * a list written by older code only knew the scan's fine time, and
 * trusts a stamp a second older than that (MTIME_TRUST_NS). */
#define MTIME_TRUST_NS NS_PER_SECOND

/* One message as this handle sees it. Its name and path are the
 * strings of the folder's uidlist (MailFolder.list) until it gets its
 * own: a path of its own after a rename, both when it outlives that list
 * (MAIL_FOLDER_SYNC_KEEP). The entries of one load are one allocation
 * (MailFolder.block); one that outlives its load is a copy, alone. */
typedef struct
{
  MailMessage message;
  guint deleted : 1;  /* unlinked through this handle: gone at next sync */
  guint own_name : 1; /* message.name is the entry's to free, not the list's */
  guint own_path : 1; /* message.path likewise */
  guint alone : 1;    /* allocated by itself */
  guint facts_tried : 1; /* its size and date were looked for in its file */
} FolderEntry;

struct _MailFolder
{
  MailStore *store; /* not owned: outlives the folder */
  char *dir;        /* ROOT or ROOT/.A.B */
  guint32 uidvalidity;
  guint32 uidnext;
  GPtrArray *entries;     /* FolderEntry, ascending UID */
  struct _UidList *list;  /* (shared) the list they were made from */
  FolderEntry *block;     /* the entries of the last load */
  GPtrArray *keywords;    /* index -> keyword or NULL (dovecot-keywords) */
  gboolean claims_recent; /* MAIL_FOLDER_CLAIM_RECENT */
  guint64 highest_modseq; /* at the last scan, or raised by our changes */
  GArray *expunged;       /* ExpungedRange, from the last scan */
  struct _UidList *batch; /* between begin_changes and end_changes */
  int batch_lock;         /* the store lock held for the batch, or -1 */
  gboolean batch_dirty;   /* the batch changed the uidlist */
  gint64 dir_mtime[2];    /* new/, cur/ at the last scan, nanoseconds */
  gint64 scan_time;       /* when that scan began, nanoseconds */
  gint64 scan_coarse;     /* the same on the kernel's coarse clock */
  gboolean facts_learned; /* sizes and dates the uidlist lacks were read */
  gboolean keeps_removed; /* entries gone (deleted here, or kept by
                           * MAIL_FOLDER_SYNC_KEEP): the next plain sync
                           * drops them, whatever the directories say */
};

/* A file found by scanning new/ and cur/, keyed by its base name. One
 * allocation: the file name, then the base name (the hash key). */
typedef struct
{
  gboolean in_new;
  const char *info; /* letters after ":2,", "" if none */
  const char *base; /* the file name up to ":" */
  char file[];      /* the file name in new/ or cur/ */
} ScanEntry;

typedef struct
{
  guint32 uid;
  guint64 modseq;   /* RFC 7162 §3.1.4: changed last at this MODSEQ */
  guint64 size;     /* octets and date of the file: they never change */
  gint64 mtime;     /* 0: not looked at yet */
  const char *name; /* base name */
  const char *info; /* flag letters when modseq was given; NULL: unknown */
  const char *path; /* DIR/new/NAME or DIR/cur/NAME:2,INFO at the last
                     * scan; NULL: not seen yet */
} UidEntry;

/* UIDs removed at a MODSEQ, for QRESYNC's VANISHED (RFC 7162 §3.2.10). */
typedef struct
{
  guint32 first, last;
  guint64 modseq;
} ExpungedRange;

#define MAX_EXPUNGED_RANGES                                                    \
  1000 /* then neighbours merge, keeping the                                   \
        * higher MODSEQ: more VANISHED, never less */

/* Which file a list was read from or written to: the uidlist is only
 * ever replaced by rename (), so another inode means another file. */
typedef struct
{
  dev_t device;
  ino_t inode;
  off_t size;
  gint64 mtime_ns;
} UidListFileId;

/* The mailwire-uidlist of one folder. A list that is shared
 * (uidlist_share ()) is never changed again: handles read it, and copy
 * nothing from it but what they change. */
typedef struct _UidList
{
  gatomicrefcount ref;
  guint32 uidvalidity;
  guint32 uidnext;
  guint32 first_recent;   /* lowest UID no session has seen as \Recent */
  guint64 highest_modseq; /* RFC 7162 §3.1.2.1 HIGHESTMODSEQ */
  gint64 scanned[4];      /* new/ and cur/ mtimes seen by the scan that wrote
                           * the list, and when it began (ns) on the fine
                           * and on the coarse clock; 0: unknown (the
                           * coarse one: a list by older code) */
  GArray *entries;        /* UidEntry, ascending UID */
  GArray *expunged;       /* ExpungedRange, ascending MODSEQ */
  gboolean created;       /* no (readable) file yet: must be written */
  GStringChunk *strings;  /* every string of the entries */
  char *dir;              /* the folder's directory */
  gsize dir_length;
  GString *scratch;   /* "DIR/" and room to build a path after it */
  UidListFileId file; /* the file it was read from or written to */
  char *header;       /* that file's first line */
} UidList;

/* ---- mail-folder-scan.c ---------------------------------------------- */

/* Base name -> ScanEntry of the files in new/ and cur/ (transfer full). */
GHashTable *maildir_scan (const char *dir, GError **error);
/* How many maildir_scan ()s this process made: for tests, which check
 * that an open trusted its uidlist. */
guint maildir_scan_count (void);
/* (transfer full) DIR/new/FILE or DIR/cur/FILE */
char *scan_entry_path (const char *dir, const ScanEntry *scan);
/* The size as sent (CRLF line ends) and the date of the message file at
 * @path, counted from its octets; FALSE if it cannot be read. */
gboolean
message_path_facts (const char *path, guint64 *out_size, gint64 *out_mtime);
/* Under the store lock: brings @list in line with @found, the scan of
 * @dir. *out_durable: UIDs or MODSEQs changed; *out_files: only where
 * the files are. */
gboolean uidlist_update (const char *dir,
                         UidList *list,
                         GHashTable *found,
                         gboolean *out_durable,
                         gboolean *out_files,
                         GError **error);

/* ---- mail-uidlist.c --------------------------------------------------- */

UidList *uidlist_ref (UidList *list);
void uidlist_unref (UidList *list);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (UidList, uidlist_unref)
/* A copy of @text (or "DIR/@file") kept with the list's entries
 * (transfer none). */
const char *uidlist_keep (UidList *list, const char *text, gssize length);
const char *uidlist_keep_path (UidList *list, const char *file, gsize length);
/* @dir's list, or a new one (created) if there is none or it cannot be
 * parsed; NULL and @error if it cannot be read. (transfer full) */
UidList *uidlist_read (MailStore *store, const char *dir, GError **error);
/* Writes @list (fsynced if @durable) and notes which file it now is. */
gboolean uidlist_write (const char *dir,
                        UidList *list,
                        gboolean durable,
                        GError **error);
/* The list of @dir shared in this process, if it still is the file
 * (transfer full), or NULL; and making @list the shared one, never to be
 * changed again. */
UidList *uidlist_shared_lookup (const char *dir);
/* The identity and first line (transfer full) of @dir's uidlist, read
 * without the rest; FALSE if there is none. */
gboolean
uidlist_peek (const char *dir, UidListFileId *out_id, char **out_header);
void uidlist_share (UidList *list);
/* The counters and the scan's stamps of a version 3 header line; FALSE
 * for another version or a line that lacks one of them. */
gboolean uidlist_parse_header (const char *header,
                               guint32 *out_uidvalidity,
                               guint32 *out_uidnext,
                               guint64 *out_highest_modseq,
                               gint64 out_scanned[4]);

/* ---- mail-folder.c ---------------------------------------------------- */

/* Takes @path (transfer full) as the message's current path. */
void folder_entry_set_path (FolderEntry *entry, char *path);
/* Reads the size and date of @entry's message from its file if the
 * uidlist did not have them (a name without S= and W=), once. */
void folder_entry_learn_facts (MailFolder *folder, FolderEntry *entry);
/* Gives @message the next MODSEQ of the open batch, for its new @info. */
void
batch_note_change (MailFolder *folder, MailMessage *message, const char *info);

G_END_DECLS
