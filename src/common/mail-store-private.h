/* SPDX-License-Identifier: MIT
 * mail-store-private.h: what the files of the store lend each other:
 * mail-store.c (files, folders as directories, locks),
 * mail-store-deliver.c (delivery), mail-store-subscriptions.c
 * (special-use folders, subscriptions), mail-folder*.c and
 * mail-uidlist.c (one open folder, see mail-folder-private.h) and
 * mail-flags.c (info letters and dovecot-keywords). Not part of the
 * libmailwire contract: servers use mail-store.h only.
 */
#pragma once

#include "mail-store.h"

G_BEGIN_DECLS

#define MAX_KEYWORDS 26 /* one file name letter each: a..z */

struct _MailStore
{
  char *root;
  int maildrop_fd; /* flock()ed mailwire-pop3.lock, or -1 */
};

/* Is @name INBOX (or NULL, which stands for it)? */
gboolean folder_is_inbox (const char *name);
/* (transfer full) the directory a new folder @name gets under @root, or
 * NULL and INVALID. */
char *folder_dir (const char *root, const char *name, GError **error);
/* (transfer full) the directory of existing folder @name: its modified
 * UTF-7 one, else the UTF-8 one of an older mailwire; NULL and INVALID
 * or NOT_FOUND. */
char *folder_dir_existing (const char *root, const char *name, GError **error);
/* Creates tmp/, new/ and cur/ (and for a Maildir++ folder its
 * "maildirfolder" file) in @dir; existing ones are fine. */
gboolean maildir_make (const char *dir, gboolean is_folder, GError **error);
/* Creates @path (which must not exist yet), writes, dates (@mtime > 0),
 * fsyncs and closes it; on any failure the file is removed again. */
gboolean file_create_durable (const char *path,
                              const void *data,
                              gsize length,
                              gint64 mtime,
                              GError **error);

/* Set a MAIL_STORE_ERROR from errno or a GFileError (NO_SPACE for
 * ENOSPC/EDQUOT, NOT_FOUND for ENOENT, EXISTS for EEXIST); return FALSE.
 * mail_store_fail_gerror () takes @file_error. */
gboolean mail_store_fail_errno (GError **error,
                                int saved_errno,
                                const char *action,
                                const char *path);
gboolean mail_store_fail_gerror (GError **error, GError *file_error);

/* Replaces @dir/@name atomically and durably (temp file, fsync, rename,
 * fsync @dir). Only while holding the store lock. */
gboolean mail_store_replace_file (const char *dir,
                                  const char *name,
                                  const GString *contents,
                                  GError **error);

/* The same, atomic for readers but not fsynced: for what can be
 * recomputed (a cache), where a crash may lose the new contents. */
gboolean mail_store_replace_file_quickly (const char *dir,
                                          const char *name,
                                          const GString *contents,
                                          GError **error);

/* flock()s ROOT/mailwire.lock; returns the descriptor to hand to
 * mail_store_unlock (), or -1 and @error. */
int mail_store_lock (MailStore *store, GError **error);
void mail_store_unlock (int fd);

/* (transfer full) directory of existing folder @name (NULL: INBOX), or
 * NULL and MAIL_STORE_ERROR_INVALID or _NOT_FOUND. */
char *
mail_store_folder_dir (MailStore *store, const char *name, GError **error);

/* Delivers into the Maildir @dir: to new/ when @info is NULL, else
 * straight to cur/NAME:2,@info (a copy keeping its flags). @mtime > 0
 * becomes the file's date. */
gboolean mail_maildir_deliver_into (const char *dir,
                                    const void *data,
                                    gsize length,
                                    const char *info,
                                    gint64 mtime,
                                    char **out_name,
                                    GError **error);

/* (transfer full) a fresh unique base name for a Maildir file, before
 * its ",S=" size is known (mail-store-deliver.c). */
char *maildir_unique_base (void);

/* dovecot-keywords of @dir as a table index -> keyword (or NULL); a
 * missing file is an empty table. (transfer full) */
GPtrArray *mail_keywords_read (const char *dir, GError **error);
/* Makes *@inout_table hold all of @keywords, adding new ones to @dir's
 * dovecot-keywords under the store lock. INVALID for a bad keyword,
 * FAILED past MAX_KEYWORDS. */
gboolean mail_keywords_ensure (MailStore *store,
                               const char *dir,
                               GPtrArray **inout_table,
                               const char *const *keywords,
                               GError **error);
/* The same, for a caller that holds the store lock already. */
gboolean mail_keywords_ensure_locked (const char *dir,
                                      GPtrArray **inout_table,
                                      const char *const *keywords,
                                      GError **error);
/* The ":2," letters for @flags and @keywords known to @table. */
char *mail_info_from_flags (GPtrArray *table,
                            MailFlags flags,
                            const char *const *keywords);
/* Sets @message's flags and keywords from its info letters. */
void mail_message_set_info (MailMessage *message,
                            GPtrArray *table,
                            const char *info);

G_END_DECLS
