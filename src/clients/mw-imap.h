/* SPDX-License-Identifier: MIT
 * mw-imap.h: what the subcommands of mw-imap share: the options, the
 * connection, and printing. mw-imap.c holds main () and the one-shot
 * subcommands (list, fetch, search, flag, move, append), mw-imap-watch.c
 * the IDLE watcher, mw-imap-sync.c the two-way Maildir sync.
 */
#pragma once

#include "imap-client.h"

G_BEGIN_DECLS

#define MW_IMAP_TIMEOUT 120

typedef struct
{
  char *server;
  gboolean starttls;
  gboolean tls;
  char *ca_file;
  gboolean insecure;
  char *user;
  char *password;
  char *password_file;
  char *auth;
  gboolean trace;
  /* fetch */
  gboolean headers;
  gboolean peek;
  /* append */
  char *flags;
  /* watch */
  guint idle_renew; /* seconds between IDLE renewals */
  guint max_events; /* 0: until Ctrl-C */
  /* sync */
  char *maildir;
  gboolean no_qresync; /* act as if the server had no CONDSTORE/QRESYNC */
} MwImapOptions;

/* Connects, upgrades with STARTTLS if asked, logs in, and ENABLEs what
 * the subcommands use when offered (CONDSTORE, QRESYNC, UTF8=ACCEPT). */
ImapClient *mw_imap_open (const MwImapOptions *o, GError **error);

/* A UID set argument: "7", "1:4,9", "*" (RFC 9051 §9 sequence-set);
 * FALSE with a message for anything else. */
gboolean mw_imap_check_uid_set (const char *text, GError **error);

/* One line of what a message is: "17  alice <a@x>  Subject" from an
 * ENVELOPE (RFC 9051 §7.5.2), encoded words decoded (transfer full). */
char *mw_imap_describe_envelope (const ImapArg *envelope);

/* @data with CRLF line ends: a bare LF gets its CR (RFC 5322 §2.1), as
 * an IMAP server stores what APPEND sends (transfer full). */
GBytes *mw_imap_crlf (const char *data, gsize length);

/* mw-imap watch [FOLDER] */
gboolean mw_imap_watch (const MwImapOptions *o, char **args, GError **error);
/* mw-imap sync --maildir DIR [FOLDER...] */
gboolean mw_imap_sync (const MwImapOptions *o, char **args, GError **error);

G_END_DECLS
