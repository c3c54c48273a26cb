/* SPDX-License-Identifier: MIT
 * mw-dovecot.h: a private Dovecot IMAP server on loopback, for the tests
 * that hold mailwire's clients to a server we did not write. It lives in
 * <harness dir>/dovecot: its dovecot.conf (base_dir, state_dir and log of
 * its own, nothing of /etc/dovecot read), a passwd-file with the
 * harness's users and passwords (alice, bob), and each user's Maildir.
 *
 * Ports are never fixed: the harness binds 127.0.0.1:0 for "imap" and
 * "imaps" itself and hands the listening sockets to Dovecot's master
 * the way systemd does (LISTEN_FDS, LISTEN_PID; Dovecot adopts an
 * inherited socket whose address and port match a listener of its
 * config), so no other program can take a port between the choice and
 * the start, and connections queue from the first moment.
 *
 * STARTTLS on "imap" and TLS from the first byte on "imaps" use the
 * harness's certificate (mw_harness_cert ()); plaintext logins are
 * allowed (loopback). Dovecot's master runs in the foreground (-F) as a
 * child of the test and is stopped by its PID (SIGTERM, then SIGKILL).
 *
 * Dovecot drops privileges (its login processes run as dovenull, the
 * mail processes as the user "nobody"), so starting it needs root; the
 * Maildirs belong to nobody.
 */
#pragma once

#include "mw-harness.h"

G_BEGIN_DECLS

typedef enum
{
  MW_DOVECOT_DEFAULT = 0,
  /* the capability list (Dovecot's imap_capability, before and after
   * login) lacks LITERAL+ (RFC 7888): clients must wait for "+" before
   * each literal (RFC 9051 §7.5) */
  MW_DOVECOT_NO_LITERAL_PLUS = 1 << 0,
  /* ... lacks SASL-IR (RFC 4959): AUTHENTICATE PLAIN waits for "+" */
  MW_DOVECOT_NO_SASL_IR = 1 << 1,
  /* ... lacks CONDSTORE and QRESYNC (RFC 7162) */
  MW_DOVECOT_NO_CONDSTORE = 1 << 2,
  /* LITERAL- instead of LITERAL+ (RFC 7888 §5; Dovecot's
   * imap_literal_minus): Dovecot then refuses a non-synchronising
   * literal of more than 4096 octets */
  MW_DOVECOT_LITERAL_MINUS = 1 << 3,
} MwDovecotFlags;

typedef struct _MwDovecot MwDovecot;

/* TRUE if Dovecot can be started here (root, and /usr/sbin/dovecot
 * installed); otherwise FALSE with *out_reason set (transfer none). */
gboolean mw_dovecot_available (const char **out_reason);

/* Starts Dovecot in <harness dir>/dovecot; asserts that it worked. */
MwDovecot *mw_dovecot_start (MwHarness *harness, MwDovecotFlags flags);
/* Stops it by PID and waits for it. */
void mw_dovecot_free (MwDovecot *dovecot);
/* Stops it (as mw_dovecot_free () does) and keeps its files, for a test
 * that changes them behind Dovecot's back; mw_dovecot_restart () starts
 * it again on the same files, with new ports. */
void mw_dovecot_stop (MwDovecot *dovecot);
void mw_dovecot_restart (MwDovecot *dovecot);
/* While it is stopped: removes what Dovecot knows of @user's INBOX
 * beside the messages themselves (its index files and dovecot-uidlist,
 * and the mailbox list index), as a lost or rebuilt index would. Dovecot
 * then numbers the messages again under a new UIDVALIDITY (RFC 9051
 * §2.3.1.1). */
void mw_dovecot_forget_uids (MwDovecot *dovecot, const char *user);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MwDovecot, mw_dovecot_free)

/* "imap" (STARTTLS offered) or "imaps" (implicit TLS). */
guint16 mw_dovecot_port (MwDovecot *dovecot, const char *label);
GPid mw_dovecot_pid (MwDovecot *dovecot);
/* Maildir root of @user (transfer full). */
char *mw_dovecot_maildir (MwDovecot *dovecot, const char *user);
/* Delivers @text into @user's INBOX as an MDA would (tmp/, then new/,
 * owned by the mail user), asserting that it worked. */
void
mw_dovecot_deliver (MwDovecot *dovecot, const char *user, const char *text);
/* The Dovecot log so far (transfer full), for failure messages. */
char *mw_dovecot_log (MwDovecot *dovecot);

G_END_DECLS
