/* SPDX-License-Identifier: MIT
 * pop3-session-private.h: what the two halves of the POP3 server
 * session share: pop3-session.c (the state machine, replies, the
 * TRANSACTION and UPDATE states) and pop3-login.c (the AUTHORIZATION
 * state: USER/PASS, AUTH, STLS, the users file and the maildrop lock).
 * Not a public interface: only these two files include it.
 */
#pragma once

#include "mail-auth.h"
#include "mail-faults.h"
#include "mail-line.h"
#include "mail-store.h"
#include "pop3-proto.h"
#include "pop3-session.h"

G_BEGIN_DECLS

/* AUTHORIZATION --USER+PASS / AUTH--> TRANSACTION --QUIT--> UPDATE
 *   |  STLS (RFC 2595 §4) keeps the state     | DELE, RSET, RETR ...
 *   +--QUIT: bye, nothing changes              +-- dropped: nothing deleted
 * (RFC 1939 §3) */
typedef enum
{
  POP3_STATE_AUTHORIZATION = 1 << 0, /* greeted, not logged in (§4) */
  POP3_STATE_TRANSACTION = 1 << 1,   /* logged in, maildrop locked (§5) */
  POP3_STATE_UPDATE = 1 << 2,        /* QUIT received: deleting (§6) */
} Pop3State;

#define POP3_IN_ANY (POP3_STATE_AUTHORIZATION | POP3_STATE_TRANSACTION)

/* Failed logins before we hang up; each one already costs a delay. */
#define POP3_MAX_AUTH_FAILURES 5
/* RFC 1939 §3: the autologout timer is at least 10 minutes. */
#define POP3_DEFAULT_TIMEOUT 600

typedef struct
{
  Pop3Context *context;
  MailStream *stream;
  char *peer;
  gboolean loopback;
  Pop3State state;
  struct
  {
    guint tls : 1;  /* the connection is TLS (implicit or after STLS) */
    guint done : 1; /* stop reading commands */
  } flags;
  guint auth_failures;
  char *user;  /* USER given, waiting for PASS (RFC 1939 §7) */
  char *login; /* who logged in */
  MailStore *store;
  MailFolder *folder;       /* INBOX, never synced after login */
  gboolean *deleted;        /* one mark per message (DELE) */
  guint count;              /* messages in the fixed list */
  guint32 uidvalidity;      /* for UIDL */
  MailFaultSession *faults; /* [faults] for lab graders; NULL: off */
} Pop3Session;

typedef void (*Pop3Handler) (Pop3Session *session, const char *argument);

typedef struct
{
  const char *verb;
  guint allowed; /* Pop3State mask */
  Pop3Handler handler;
} Pop3Command;

/* ---- pop3-session.c ------------------------------------------------- */

/* Replies (RFC 1939 §3); only these write the status indicators. */
void pop3_reply_ok (Pop3Session *session, const char *format, ...)
    G_GNUC_PRINTF (2, 3);
/* "-ERR [CODE] text" (RFC 2449 §8) or "-ERR text" for POP3_CODE_NONE. */
void pop3_reply_err (Pop3Session *session,
                     Pop3ResponseCode code,
                     const char *format,
                     ...) G_GNUC_PRINTF (3, 4);
/* "+ base64" (RFC 5034 §4) */
void pop3_reply_continue (Pop3Session *session, const char *base64);

void pop3_session_enter_state (Pop3Session *session, Pop3State state);
/* TRUE if passwords may be sent in the clear now (config, TLS, peer). */
gboolean pop3_session_plaintext_allowed (Pop3Session *session);
/* TRUE if STLS can be offered: a certificate and no TLS yet. */
gboolean pop3_session_can_stls (Pop3Session *session);
/* Octets in the messages not marked as deleted; their number in
 * *out_count (RFC 1939 §5 STAT). */
guint64 pop3_session_total_size (Pop3Session *session, guint *out_count);

/* ---- pop3-login.c: AUTHORIZATION commands --------------------------- */

void pop3_cmd_user (Pop3Session *session, const char *argument);
void pop3_cmd_pass (Pop3Session *session, const char *argument);
void pop3_cmd_apop (Pop3Session *session, const char *argument);
void pop3_cmd_auth (Pop3Session *session, const char *argument);
void pop3_cmd_stls (Pop3Session *session, const char *argument);

G_END_DECLS
