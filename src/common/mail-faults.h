/* SPDX-License-Identifier: MIT
 * mail-faults.h: protocol-level fault injection for lab graders, the
 * [faults] section of mailwire.conf. Off unless the section is there; a
 * server with faults on says so in its log and in its greeting.
 *
 * A "point" names where a fault acts, counted per connection:
 *   VERB      every use of the command (RCPT, DATA, RETR ...)
 *   VERB#N    its Nth use (RCPT#2: the second RCPT)
 *   #N        the Nth command of the session, whatever it is
 *   .         SMTP: the line that ends the message text (RFC 5321 §4.5.2);
 *             the message is stored first, the fault acts on its reply
 *   *         every reply (delay only)
 *
 *   [faults]
 *   enabled    = true             false keeps the section but turns it off
 *   reply      = RCPT#2 451, #5 421, EHLO 502, RETR#1 -ERR
 *                answer CODE instead of running the command; a 3-digit
 *                code is for SMTP (421 also closes, RFC 5321 §3.8), -ERR
 *                for POP3; ". 451" stores the message, then says 451
 *   delay      = DATA 800, * 20   milliseconds before the reply is sent
 *   drop       = ., after RETR#2, after DELE, QUIT
 *                close the connection: on receipt of the command, without
 *                running it ("." stores the message, then hangs up before
 *                the reply), or "after" the command's reply was sent
 *   trickle    = true             replies go out one octet at a time
 *   multiline  = true             SMTP: every one-line reply gets two lines
 *                                 (RFC 5321 §4.2.1 allows any reply that)
 *   pipelining = false            SMTP: EHLO does not offer PIPELINING, and
 *                                 a command sent before the previous reply
 *                                 was answered is refused (RFC 2920 §3.1)
 * With faults on, SMTP message text that arrives before the 354 reply
 * (DATA ends a group, RFC 2920 §3.1) is always refused and the connection
 * closed: a server that is delayed on purpose can see that mistake.
 */
#pragma once

#include <gio/gio.h>

#include "mail-line.h"

G_BEGIN_DECLS

#define MAIL_FAULTS_ERROR (mail_faults_error_quark ())
typedef enum
{
  MAIL_FAULTS_ERROR_VALUE, /* a [faults] value does not parse */
  MAIL_FAULTS_ERROR_KEY,   /* no such key in [faults] */
} MailFaultsError;
GQuark mail_faults_error_quark (void);

/* Octets of a trickled reply are this far apart, so that each one is a
 * TCP segment of its own on loopback. */
#define MAIL_FAULTS_TRICKLE_USEC 1000

typedef struct _MailFaults MailFaults;

MailFaults *mail_faults_new (void);
void mail_faults_free (MailFaults *faults);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailFaults, mail_faults_free)

/* Reads one key of [faults]; FALSE with MAIL_FAULTS_ERROR set (its
 * message says what was expected) when it does not parse. */
gboolean mail_faults_set (MailFaults *faults,
                          const char *key,
                          const char *value,
                          GError **error);
/* TRUE if any fault is configured and not turned off. */
gboolean mail_faults_enabled (const MailFaults *faults);
/* One line for the log and the greeting: "FAULT INJECTION ON: ..."
 * (transfer full). */
char *mail_faults_describe (const MailFaults *faults);
gboolean mail_faults_trickle (const MailFaults *faults);
gboolean mail_faults_multiline (const MailFaults *faults);
/* FALSE when [faults] pipelining = false. */
gboolean mail_faults_pipelining (const MailFaults *faults);

/* ---- one connection -------------------------------------------------- */

typedef struct _MailFaultSession MailFaultSession;

/* NULL when @faults is NULL or off: every function below accepts NULL
 * and then does nothing. @socket (reference taken) is the one to close
 * when dropping. */
MailFaultSession *mail_fault_session_new (const MailFaults *faults,
                                          GSocket *socket);
void mail_fault_session_free (MailFaultSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailFaultSession, mail_fault_session_free)

/* Wraps @base so that its output goes out one octet at a time when the
 * faults say trickle; otherwise returns a new reference to @base. */
GIOStream *mail_fault_session_wrap (MailFaultSession *session, GIOStream *base);

/* A command arrived: @verb (upper case) or "." for the end of the text.
 * The functions below then speak about this command. */
void mail_fault_session_command (MailFaultSession *session, const char *verb);
/* The code to answer instead of running the command, or NULL. */
const char *mail_fault_session_reply (MailFaultSession *session);
/* TRUE if the connection must be dropped now, before the reply
 * (@after FALSE) or once the reply has been sent (@after TRUE). */
gboolean mail_fault_session_drop (MailFaultSession *session, gboolean after);
/* Flushes @stream and waits, if the faults delay this reply; TRUE if
 * they did. */
gboolean mail_fault_session_delay (MailFaultSession *session,
                                   MailStream *stream);
/* TRUE if the client has sent more octets that we have not read yet. */
gboolean mail_fault_session_input_waiting (MailFaultSession *session,
                                           MailStream *stream);
/* Flushes @stream and closes the connection in both directions: the
 * client reads the end of the stream, the session's next read fails. */
void mail_fault_session_hang_up (MailFaultSession *session, MailStream *stream);

G_END_DECLS
