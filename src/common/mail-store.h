/* SPDX-License-Identifier: MIT
 * mail-store.h: Maildir++ mail store shared by every server (Maildir as
 * specified by D. J. Bernstein, maildir(5); Maildir++ folders as Courier
 * and Dovecot use them; UIDs as RFC 9051 §2.3.1.1 needs them).
 *
 * On disk, for one user:
 *   ROOT/{tmp,new,cur}/        the INBOX
 *   ROOT/.Name/{tmp,new,cur}/  folder "Name" (".A.B" is "A/B")
 *   ROOT/.../mailwire-uidlist  "1 V<uidvalidity> N<uidnext>" then one
 *                              "<uid> <base name>" line per message
 *   ROOT/.../dovecot-keywords  "<index> <keyword>" lines: keyword letters
 *                              a..z in file names, as Dovecot writes them
 *   ROOT/mailwire.lock         flock()ed while the uidlist is updated
 *   ROOT/mailwire-pop3.lock    flock()ed by a POP3 session (maildrop lock)
 * Messages are stored exactly as received, with CRLF line ends; a file
 * another program wrote with bare LF is read (and counted) with CRLF, so
 * sizes are the sizes POP3 and IMAP send. File names are
 *   <time>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<size as sent>[:2,<flags>]
 * Delivery: write tmp/, fsync the file, rename into new/, fsync new/. A
 * message is visible only once renamed, so a crash mid-delivery leaves a
 * file in tmp/ that no reader ever lists.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MAIL_STORE_ERROR (mail_store_error_quark ())
typedef enum
{
  MAIL_STORE_ERROR_NOT_FOUND, /* folder or message does not exist */
  MAIL_STORE_ERROR_EXISTS,    /* folder already exists */
  MAIL_STORE_ERROR_IN_USE,    /* maildrop locked by another session */
  MAIL_STORE_ERROR_NO_SPACE,  /* ENOSPC/EDQUOT: tell the sender 452 */
  MAIL_STORE_ERROR_INVALID,   /* bad folder name */
  MAIL_STORE_ERROR_FAILED,
} MailStoreError;
GQuark mail_store_error_quark (void);

/* System flags (RFC 9051 §2.3.2) and their Maildir info letters. */
typedef enum
{
  MAIL_FLAG_DRAFT = 1 << 0,    /* D */
  MAIL_FLAG_FLAGGED = 1 << 1,  /* F */
  MAIL_FLAG_ANSWERED = 1 << 2, /* R (replied) */
  MAIL_FLAG_SEEN = 1 << 3,     /* S */
  MAIL_FLAG_DELETED = 1 << 4,  /* T (trashed) */
} MailFlags;

/* Delivers one message into the Maildir at @maildir (created if
 * missing) and its folder @folder (NULL: INBOX). Returns only once the
 * message is durable (file and directory fsynced). *out_name (optional)
 * gets the file's base name. ENOSPC gives MAIL_STORE_ERROR_NO_SPACE, and
 * nothing is left behind on any failure. */
gboolean mail_maildir_deliver (const char *maildir,
                               const char *folder,
                               const void *data,
                               gsize length,
                               char **out_name,
                               GError **error);

/* A message written to disk while it arrives (SMTP DATA and BDAT), so
 * that no session holds a whole message in memory: one file in tmp/ of
 * the first recipient's Maildir, hard-linked into the others' new/ at
 * delivery (mail-store-spool.c). With @maildir NULL (no local recipient)
 * the message is kept in memory instead, for the queue. A write error
 * (ENOSPC) is kept and given by mail_spool_deliver (). Freeing a spool
 * that was not delivered removes its file: nothing half-written stays. */
typedef struct _MailSpool MailSpool;
MailSpool *mail_spool_new (const char *maildir, GError **error);
void mail_spool_free (MailSpool *spool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailSpool, mail_spool_free)
void mail_spool_write (MailSpool *spool, const void *data, gsize length);
/* Delivers the message into new/ of each of @maildirs (NULL-terminated;
 * the first is the spool's own, made by mail_spool_new ()), as
 * mail_maildir_deliver () would, and returns only once every copy is
 * durable: file and directories fsynced.
 * @out_paths (optional) gets the full path of each copy, for undoing.
 * ENOSPC gives MAIL_STORE_ERROR_NO_SPACE; on any failure no copy stays. */
gboolean mail_spool_deliver (MailSpool *spool,
                             const char *const *maildirs,
                             GPtrArray *out_paths,
                             GError **error);
/* (transfer full) the message from octet @offset to its end. */
GBytes *mail_spool_read (MailSpool *spool, gsize offset, GError **error);

/* The size of @data as sent to clients: with every line ended by CRLF
 * (RFC 5322 §2.1, RFC 9051 RFC822.SIZE). Other programs (mutt,
 * Dovecot) write Maildir files with bare LF; the store counts and
 * serves them with CRLF. */
gsize mail_wire_size (const void *data, gsize length);

/* fsync a directory, after a rename or unlink inside it. */
gboolean mail_fsync_directory (const char *path, GError **error);

typedef struct
{
  guint32 uid;
  char *name;   /* base name without ":2,..." (stable across flags) */
  char *path;   /* current full path */
  guint64 size; /* octets with CRLF line ends, as sent to clients */
  gint64 mtime; /* delivery time (IMAP INTERNALDATE), Unix seconds */
  MailFlags flags;
  GStrv keywords;  /* NULL or a NULL-terminated list */
  guint64 modseq;  /* RFC 7162 §3.1.4: the MODSEQ of its last change */
  gboolean recent; /* \Recent: new since a claiming handle last looked
                    * (RFC 3501 §2.3.2; see MAIL_FOLDER_CLAIM_RECENT) */
} MailMessage;

/* A MailFolder is used by one thread at a time, and its MailStore must
 * outlive it. Separate handles (threads, processes) coordinate on disk. */
typedef struct _MailStore MailStore;
typedef struct _MailFolder MailFolder;

/* Opens (and creates if missing) the Maildir++ root @root. */
MailStore *mail_store_open (const char *root, GError **error);
void mail_store_free (MailStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailStore, mail_store_free)
const char *mail_store_get_root (MailStore *store);

/* Folder names use "/" as hierarchy separator; "INBOX" is the root.
 * (transfer full) sorted, INBOX first. */
GStrv mail_store_list_folders (MailStore *store, GError **error);
gboolean
mail_store_create_folder (MailStore *store, const char *name, GError **error);
gboolean mail_store_rename_folder (MailStore *store,
                                   const char *from,
                                   const char *to,
                                   GError **error);
gboolean
mail_store_delete_folder (MailStore *store, const char *name, GError **error);

/* The POP3 maildrop lock (RFC 1939 §8): exclusive, non-blocking, released
 * by mail_store_unlock_maildrop () or when the process dies.
 * MAIL_STORE_ERROR_IN_USE if another session holds it. */
gboolean mail_store_lock_maildrop (MailStore *store, GError **error);
void mail_store_unlock_maildrop (MailStore *store);

/* Opens a folder: takes the store lock, moves nothing, lists new/ and
 * cur/ (unless the uidlist still describes them), gives every message
 * not yet in the uidlist the next UID (in delivery order), writes the
 * uidlist back (fsynced when it hands out UIDs; a folder's first list is
 * not, and is replaced under a new UIDVALIDITY if a crash loses it) and
 * unlocks. UIDs and UIDVALIDITY persist across reopen and are unique
 * even when several processes deliver and open at once. */
MailFolder *
mail_folder_open (MailStore *store, const char *name, GError **error);
typedef enum
{
  /* this handle takes \Recent for the messages new to it, in this and
   * later syncs: no other handle sees them as recent (IMAP SELECT) */
  MAIL_FOLDER_CLAIM_RECENT = 1 << 0,
} MailFolderOpenFlags;
MailFolder *mail_folder_open_full (MailStore *store,
                                   const char *name,
                                   MailFolderOpenFlags flags,
                                   GError **error);
void mail_folder_free (MailFolder *folder);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailFolder, mail_folder_free)

guint32 mail_folder_get_uidvalidity (MailFolder *folder);
guint32 mail_folder_get_uidnext (MailFolder *folder);
/* Messages in UID order. The list changes only in mail_folder_sync (),
 * so a POP3 session can hold its numbering fixed by not syncing. */
guint mail_folder_get_count (MailFolder *folder);
/* (transfer none) valid until the next sync/expunge. index is 0-based.
 * The size and date of a message whose file name does not give its size
 * (no S= and W=: mutt, Postfix, a copied Maildir) are read from the file
 * the first time they are asked for, so opening a folder reads no
 * message; they are then kept in the uidlist for every handle. */
const MailMessage *mail_folder_get_message (MailFolder *folder, guint index);
/* The same without reading any file: size and mtime are 0 for such a
 * message until someone asked mail_folder_get_message () for it. For
 * what needs only UIDs, flags, keywords, \Recent and MODSEQ (SELECT). */
const MailMessage *mail_folder_peek_message (MailFolder *folder, guint index);
/* Index of @uid, or -1. */
gint mail_folder_find_uid (MailFolder *folder, guint32 uid);

/* Rescans: new messages get UIDs and are appended; messages removed by
 * another process disappear. *out_added and *out_removed are optional. */
gboolean mail_folder_sync (MailFolder *folder,
                           guint *out_added,
                           guint *out_removed,
                           GError **error);
typedef enum
{
  /* messages removed by others stay in the list, marked gone (reading
   * them fails with NOT_FOUND), until the next plain sync: IMAP may not
   * renumber during FETCH, STORE and SEARCH (RFC 9051 §7.5.1) but may
   * tell of new mail and flag changes */
  MAIL_FOLDER_SYNC_KEEP = 1 << 0,
} MailFolderSyncFlags;
gboolean mail_folder_sync_full (MailFolder *folder,
                                MailFolderSyncFlags flags,
                                guint *out_added,
                                guint *out_removed,
                                GError **error);
/* Reads the whole message (transfer full). Follows renames made by other
 * processes (flag changes) by rescanning for the base name. */
GBytes *
mail_folder_read_message (MailFolder *folder, guint index, GError **error);
/* RFC 7162 CONDSTORE: every change of a message's flags (by us or by
 * any program renaming the file) and every expunge gets the next
 * modification sequence of the folder, kept in the uidlist. */
guint64 mail_folder_get_highest_modseq (MailFolder *folder);
typedef struct
{
  guint32 first, last;
} MailUidRange;
/* The UIDs expunged after @modseq, as ranges (may include some before,
 * never miss one): QRESYNC's VANISHED (EARLIER). (transfer full) */
GArray *mail_folder_expunged_since (MailFolder *folder, guint64 modseq);
/* Flag changes between these two share one uidlist write (and hold the
 * store lock: no sync in between). Optional: mail_folder_set_flags ()
 * makes its own batch otherwise. */
gboolean mail_folder_begin_changes (MailFolder *folder, GError **error);
gboolean mail_folder_end_changes (MailFolder *folder, GError **error);

/* Re-reads the flags of one message from its file name, which another
 * process may have changed (renamed) since the last sync: a change made
 * relative to the old flags (IMAP STORE +FLAGS) must start from these. */
gboolean
mail_folder_refresh_flags (MailFolder *folder, guint index, GError **error);
/* Replaces flags and keywords: renames into cur/ with ":2,<letters>". */
gboolean mail_folder_set_flags (MailFolder *folder,
                                guint index,
                                MailFlags flags,
                                const char *const *keywords,
                                GError **error);
/* Removes the message file (and fsyncs the directory). The entry stays in
 * the list until the next sync, so indexes do not shift under a caller.
 * A message another session removed already counts as removed. */
gboolean
mail_folder_delete_message (MailFolder *folder, guint index, GError **error);
/* Copies a message into another folder of the same store, durably, with
 * the same flags and date (IMAP COPY/MOVE). *out_name (optional, transfer
 * full) is the copy's base name, for mail_folder_find_name () in the
 * target (UIDPLUS COPYUID). */
gboolean mail_folder_copy_message (MailFolder *folder,
                                   guint index,
                                   const char *to_folder,
                                   char **out_name,
                                   GError **error);
/* Moves a message into another folder of the same store with one
 * rename (IMAP MOVE, RFC 6851): whatever the moment of a crash, the
 * message is in exactly one of the two folders. Flags and date stay;
 * the entry stays in this list, gone, until the next sync. *out_name as
 * for copy. */
gboolean mail_folder_move_message (MailFolder *folder,
                                   guint index,
                                   const char *to_folder,
                                   char **out_name,
                                   GError **error);
/* Stores a new message in folder @name (NULL: INBOX) of @store with
 * @flags and @keywords, durably, dated @internaldate (Unix seconds; 0:
 * now) (IMAP APPEND, RFC 9051 §6.3.12). *out_name as for copy. */
gboolean mail_store_append (MailStore *store,
                            const char *name,
                            const void *data,
                            gsize length,
                            MailFlags flags,
                            const char *const *keywords,
                            gint64 internaldate,
                            char **out_name,
                            GError **error);
/* Index of the message with base name @name, or -1. */
gint mail_folder_find_name (MailFolder *folder, const char *name);
/* Cheap check before a rescan: FALSE only when neither new/ nor cur/
 * can have changed since the last open or sync (their modification
 * times are the same, and were already old then, so a change within
 * the same clock tick cannot hide). */
gboolean mail_folder_may_have_changed (MailFolder *folder);
/* The UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ an open of folder @name
 * would find, from the first line of its uidlist, without the store
 * lock and without reading a directory or a message. TRUE only while
 * that list still describes new/ and cur/ (no change since its scan):
 * a caller that noted the three when it last opened the folder knows,
 * if they are the same, that nothing in it changed since. FALSE: open
 * the folder to know. */
gboolean mail_store_peek_folder (MailStore *store,
                                 const char *name,
                                 guint32 *out_uidvalidity,
                                 guint32 *out_uidnext,
                                 guint64 *out_highest_modseq);

/* The special-use folders every new user gets (RFC 6154 §2: their IMAP
 * attributes are these names with a backslash: \Drafts, \Sent ...). */
extern const char *const mail_store_special_folders[];
/* Creates (and subscribes) those of them that are missing. */
gboolean mail_store_create_special_folders (MailStore *store, GError **error);

/* Subscriptions (RFC 9051 §6.3.7): ROOT/subscriptions, one folder name a
 * line, as Dovecot's Maildir++ layout keeps them. (transfer full) */
GStrv mail_store_list_subscriptions (MailStore *store, GError **error);
gboolean mail_store_set_subscribed (MailStore *store,
                                    const char *name,
                                    gboolean subscribed,
                                    GError **error);
/* Watches new/ and cur/ (inotify through GFileMonitor) so IDLE and open
 * sessions learn of changes; connect to "changed" and call
 * mail_folder_sync (). One monitor forwards the events of both
 * directories, in the thread-default main context of the caller.
 * (transfer full) */
GFileMonitor *mail_folder_monitor (MailFolder *folder, GError **error);

/* Maildir info letters for @flags + keyword letters ("FS") (transfer full)
 * and back. Exposed for tests and tools. */
char *mail_flags_to_info (MailFlags flags);
MailFlags mail_flags_from_info (const char *info);

G_END_DECLS
