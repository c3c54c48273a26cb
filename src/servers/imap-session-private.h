/* SPDX-License-Identifier: MIT
 * imap-session-private.h: what the files of the IMAP server session lend
 * each other. The session is split by concern (STYLE §1):
 *   imap-session.c   states, the command table, replies, any-state commands
 *   imap-login.c     not authenticated: STARTTLS, LOGIN, AUTHENTICATE
 *   imap-mailbox.c   authenticated: SELECT ... STATUS, APPEND
 *   imap-list.c      authenticated: LIST and LSUB
 *   imap-selected.c  selected: news for the client, STORE, COPY/MOVE,
 *                    EXPUNGE, CLOSE, UNSELECT, SEARCH, IDLE
 *   imap-fetch.c     selected: FETCH
 * Not a public interface: only these files include it.
 */
#pragma once

#include "imap-cache.h"
#include "imap-parser.h"
#include "imap-proto.h"
#include "imap-session.h"
#include "mail-auth.h"
#include "mail-line.h"
#include "mail-store.h"

G_BEGIN_DECLS

/* RFC 9051 §3:
 *   NOT_AUTHENTICATED --LOGIN / AUTHENTICATE--> AUTHENTICATED
 *      | STARTTLS keeps the state                 | SELECT / EXAMINE
 *      |                                          v
 *      |                  CLOSE / UNSELECT <-- SELECTED
 *      +--- LOGOUT (any state) ---> LOGOUT: BYE, then the connection closes
 */
typedef enum
{
  IMAP_STATE_NOT_AUTHENTICATED = 1 << 0, /* §3.1 */
  IMAP_STATE_AUTHENTICATED = 1 << 1,     /* §3.2 */
  IMAP_STATE_SELECTED = 1 << 2,          /* §3.3 */
  IMAP_STATE_LOGOUT = 1 << 3,            /* §3.4 */
} ImapState;

#define IMAP_IN_ANY                                                            \
  (IMAP_STATE_NOT_AUTHENTICATED | IMAP_STATE_AUTHENTICATED |                   \
   IMAP_STATE_SELECTED)
#define IMAP_IN_AUTH (IMAP_STATE_AUTHENTICATED | IMAP_STATE_SELECTED)

/* Failed logins before we hang up; each one already costs a delay. */
#define IMAP_MAX_AUTH_FAILURES 5
/* RFC 9051 §5.4: at least 30 minutes once logged in (and in IDLE). */
#define IMAP_AUTOLOGOUT_TIMEOUT (31 * 60)
/* Before login a silent client is dropped much sooner. */
#define IMAP_LOGIN_TIMEOUT 60
/* A command without APPEND data stays small: LOGIN, SEARCH, STORE. */
#define IMAP_MAX_COMMAND_SIZE (256 * 1024)

typedef struct
{
  ImapContext *context;
  MailStream *stream;
  char *peer;
  gboolean loopback;
  ImapState state;
  struct
  {
    guint tls : 1;       /* the connection is TLS (implicit or STARTTLS) */
    guint done : 1;      /* stop reading commands */
    guint rev2 : 1;      /* ENABLE IMAP4rev2 (RFC 9051 §6.3.1) */
    guint condstore : 1; /* RFC 7162 §3.1: CONDSTORE is in use: MODSEQ
                          * goes with every flag change told */
    guint qresync : 1;   /* RFC 7162 §3.2.3: ENABLE QRESYNC: VANISHED
                          * instead of EXPUNGE */
    guint utf8 : 1;      /* ENABLE UTF8=ACCEPT (RFC 6855 §3) */
    guint read_only : 1; /* EXAMINE, or SELECT of a read-only mailbox */
  } flags;
  guint auth_failures;
  char *login;      /* who logged in */
  MailStore *store; /* the user's mailboxes, once logged in */
  ImapAssembler assembler;
  /* the command being handled */
  char *tag;
  const char *verb; /* upper case, as in the command table */
  gboolean uid;     /* "UID FETCH" ...: numbers are UIDs (§6.4.9) */
  /* SELECTED: the mailbox, whose message list is the client's view;
   * sequence number n is index n - 1, and the list changes only when
   * the news is told (imap_session_report_news ()) */
  MailFolder *folder;
  char *folder_name;    /* as the store names it: "INBOX", "A/B" */
  GHashTable *keywords; /* told in FLAGS (§7.3.5): keyword -> itself */
  ImapCache *cache;     /* ENVELOPE ... of the folder's messages, or NULL
                         * until a FETCH needs it (imap-cache.h) */
} ImapSession;

typedef void (*ImapHandler) (ImapSession *session, GPtrArray *args);

typedef struct
{
  const char *verb;
  guint allowed; /* ImapState mask */
  ImapHandler handler;
} ImapCommand;

/* ---- imap-session.c: replies (RFC 9051 §7) -------------------------- */

/* "tag OK [CODE args] text" etc. (§7.1); @code_args may be NULL. */
void imap_reply_tagged (ImapSession *session,
                        ImapStatus status,
                        ImapCode code,
                        const char *code_args,
                        const char *format,
                        ...) G_GNUC_PRINTF (5, 6);
#define imap_reply_ok(session, ...)                                            \
  imap_reply_tagged ((session), IMAP_STATUS_OK, IMAP_CODE_NONE, NULL,          \
                     __VA_ARGS__)
#define imap_reply_bad(session, ...)                                           \
  imap_reply_tagged ((session), IMAP_STATUS_BAD, IMAP_CODE_NONE, NULL,         \
                     __VA_ARGS__)
/* "tag NO [CODE] text" */
#define imap_reply_no(session, code, ...)                                      \
  imap_reply_tagged ((session), IMAP_STATUS_NO, (code), NULL, __VA_ARGS__)
/* The news (imap_session_report_news ()), then "tag OK VERB completed". */
void imap_reply_completed (ImapSession *session);
/* "* OK [CODE args] text", "* BYE text" (§7.1) */
void imap_reply_status (ImapSession *session,
                        ImapStatus status,
                        ImapCode code,
                        const char *code_args,
                        const char *text);
/* "* " + data (§7.2-§7.5): "* 3 EXISTS", "* LIST (...)" */
void imap_reply_untagged (ImapSession *session, const char *format, ...)
    G_GNUC_PRINTF (2, 3);
/* "+ text" (§7.6) */
void imap_reply_continue (ImapSession *session, const char *text);
/* Raw octets of a response being built (literals in FETCH). */
void imap_reply_write (ImapSession *session, const void *data, gsize length);

/* Maps a store error to a tagged NO with its RFC 5530 code. */
void imap_reply_store_error (ImapSession *session, const GError *error);

void imap_session_enter_state (ImapSession *session, ImapState state);
gboolean imap_session_plaintext_allowed (ImapSession *session);
gboolean imap_session_can_starttls (ImapSession *session);
/* The capability list for now (§7.2.2), space-separated (transfer full). */
char *imap_session_capabilities (ImapSession *session);

/* ---- imap-login.c: not authenticated (RFC 9051 §6.2) ---------------- */

void imap_cmd_starttls (ImapSession *session, GPtrArray *args);
void imap_cmd_login (ImapSession *session, GPtrArray *args);
void imap_cmd_authenticate (ImapSession *session, GPtrArray *args);

/* ---- imap-mailbox.c: authenticated (RFC 9051 §6.3) ------------------ */

/* The store's name for a mailbox name from the wire (modified UTF-7, or
 * UTF-8 under UTF8=ACCEPT; "inbox" in any case is INBOX), or NULL after
 * replying BAD/NO. (transfer full) */
char *imap_session_mailbox_from_wire (ImapSession *session, const ImapArg *arg);
/* The same for a name already unquoted, without replying: NULL if it is
 * not valid in the wire's encoding (LIST patterns). (transfer full) */
char *imap_session_mailbox_decode (ImapSession *session, const char *text);
/* Appends @name as the client must see it (mUTF-7 or UTF-8, quoted). */
void imap_session_append_mailbox (ImapSession *session,
                                  GString *out,
                                  const char *name);
void imap_cmd_select (ImapSession *session, GPtrArray *args);
void imap_cmd_create (ImapSession *session, GPtrArray *args);
void imap_cmd_delete (ImapSession *session, GPtrArray *args);
void imap_cmd_rename (ImapSession *session, GPtrArray *args);
void imap_cmd_subscribe (ImapSession *session, GPtrArray *args);
void imap_cmd_namespace (ImapSession *session, GPtrArray *args);
/* STATUS (§6.3.11): are all of @items (a list) known? */
gboolean imap_status_items_valid (const ImapArg *items);
/* "* STATUS name (items)"; FALSE and @error if the mailbox cannot be
 * opened. */
gboolean imap_session_status_line (ImapSession *session,
                                   const char *name,
                                   const ImapArg *items,
                                   GError **error);
void imap_cmd_status (ImapSession *session, GPtrArray *args);
void imap_cmd_append (ImapSession *session, GPtrArray *args);

/* ---- imap-list.c (RFC 9051 §6.3.9, RFC 5258, RFC 5819, RFC 6154) ---- */

void imap_cmd_list (ImapSession *session, GPtrArray *args);

/* "* n FETCH (FLAGS (...) [UID u] [MODSEQ (m)])" for index n - 1. */
void imap_reply_flags (ImapSession *session,
                       guint index,
                       const MailMessage *message,
                       gboolean with_uid);
/* A number argument (nz-number, mod-sequence-value): FALSE if @arg is
 * not one. */
gboolean imap_arg_number (const ImapArg *arg, guint64 *out);
/* RFC 7162 §3.1: a command that uses MODSEQ turns CONDSTORE on for the
 * rest of the session; in the selected state the client learns the
 * HIGHESTMODSEQ at once (§3.1.2.1). */
void imap_session_enable_condstore (ImapSession *session);
/* Appends the UIDs of @ranges (MailUidRange, any order) as a compact
 * set, only those within @within when not NULL; FALSE if none. */
gboolean
imap_append_uid_ranges (GString *out, GArray *ranges, const ImapSeqSet *within);

/* ---- imap-selected.c: selected (RFC 9051 §6.4) ---------------------- */

/* Closes the selected mailbox (no expunge) and returns to AUTHENTICATED. */
void imap_session_close_mailbox (ImapSession *session);
/* A flag list "(\Seen $Label)" (or one flag) into system flags and
 * keywords (*out_keywords NULL if none). FALSE for \Recent, an unknown
 * system flag or a bad keyword. */
gboolean imap_parse_flag_list (const ImapArg *arg,
                               MailFlags *out_flags,
                               GStrv *out_keywords,
                               GError **error);
/* RFC 9051 §7.3.5: before a keyword appears in a FETCH, the client must
 * have had it in FLAGS: sends "* FLAGS (...)" and PERMANENTFLAGS again
 * when @message has one it has not. */
void imap_session_announce_keywords (ImapSession *session,
                                     const MailMessage *message);
/* The FLAGS list of the mailbox (system flags and the keywords told),
 * with "\\*" when @permanent, for PERMANENTFLAGS (transfer full). */
char *imap_session_flag_list (ImapSession *session, gboolean permanent);
/* "\Seen \Flagged $Label" of a message, with \Recent for IMAP4rev1
 * (transfer full). */
char *imap_session_flags_string (ImapSession *session,
                                 const MailMessage *message);
/* Indexes (0-based, ascending) of the messages of a sequence set or UID
 * set @text in the client's view (transfer full), or NULL after BAD. */
GArray *imap_session_resolve_set (ImapSession *session,
                                  const ImapArg *arg,
                                  gboolean uid);
void imap_cmd_check (ImapSession *session, GPtrArray *args);
void imap_cmd_close (ImapSession *session, GPtrArray *args);
void imap_cmd_unselect (ImapSession *session, GPtrArray *args);
void imap_cmd_expunge (ImapSession *session, GPtrArray *args);
void imap_cmd_store (ImapSession *session, GPtrArray *args);
void imap_cmd_copy (ImapSession *session, GPtrArray *args);

/* ---- imap-idle.c: the news and IDLE (§7.4.1, §7.5, §6.3.13) ---------- */

/* Tells the client what changed in the mailbox since it last heard
 * (§7.4.1 EXISTS, §7.5.1 EXPUNGE, §7.5.2 FETCH FLAGS): rescans when the
 * Maildir may have changed (or when @force). With @allow_expunge FALSE
 * (during FETCH, STORE, SEARCH: §7.5.1) expunged messages stay in the
 * view until a later command may tell of them. */
void imap_session_report_news (ImapSession *session,
                               gboolean allow_expunge,
                               gboolean force);
void imap_cmd_idle (ImapSession *session, GPtrArray *args);

/* ---- imap-search-cmd.c ---------------------------------------------- */

void imap_cmd_search (ImapSession *session, GPtrArray *args);

/* ---- imap-fetch.c --------------------------------------------------- */

void imap_cmd_fetch (ImapSession *session, GPtrArray *args);

G_END_DECLS
