/* SPDX-License-Identifier: MIT
 * smtp-client.h: the one SMTP client of mailwire, used by mw-send and by the
 * relay of mw-smtpd (RFC 5321 §3, §4.1; RFC 2920 PIPELINING; RFC 1870 SIZE;
 * RFC 6152 8BITMIME; RFC 3207 STARTTLS; RFC 4954 AUTH; RFC 2034
 * ENHANCEDSTATUSCODES; RFC 3030 CHUNKING; RFC 3461 DSN).
 *
 * Layered as msmtp is: the caller drives the steps in order,
 *   smtp_client_connect ()   TCP (or implicit TLS) + the 220 greeting
 *   smtp_client_ehlo ()      EHLO, HELO if EHLO gets a 5xx; extensions
 *   smtp_client_starttls ()  STARTTLS, then EHLO again (RFC 3207 §4.2)
 *   smtp_client_auth ()      AUTH PLAIN or LOGIN
 *   smtp_client_send ()      MAIL, RCPT per recipient, DATA and the text
 *                            (or BDAT chunks: smtp_client_set_chunking ())
 *   smtp_client_quit ()      QUIT
 * Every call blocks (bounded by the connection's timeout); the relay runs it
 * in its own thread.
 *
 * Errors are GErrors in SMTP_CLIENT_ERROR whose code is the step that
 * failed; the message says which step and quotes the server's reply. The
 * reply code itself (0 when there was none, e.g. connection refused) is
 * smtp_client_get_reply_code (), so the relay can tell a temporary failure
 * (4xx, retry) from a permanent one (5xx, bounce).
 */
#pragma once

#include <gio/gio.h>

#include "smtp-proto.h"

G_BEGIN_DECLS

#define SMTP_CLIENT_ERROR (smtp_client_error_quark ())
typedef enum
{
  SMTP_CLIENT_ERROR_CONNECT,  /* TCP connect, or the 220 greeting */
  SMTP_CLIENT_ERROR_EHLO,     /* EHLO and HELO both refused */
  SMTP_CLIENT_ERROR_TLS,      /* STARTTLS refused, or the handshake */
  SMTP_CLIENT_ERROR_AUTH,     /* AUTH refused or not offered */
  SMTP_CLIENT_ERROR_MAIL,     /* MAIL FROM refused */
  SMTP_CLIENT_ERROR_RCPT,     /* every RCPT TO refused */
  SMTP_CLIENT_ERROR_DATA,     /* DATA or the end of the text refused */
  SMTP_CLIENT_ERROR_PROTOCOL, /* the server broke the protocol, or the
                               * connection failed mid-command */
} SmtpClientError;
GQuark smtp_client_error_quark (void);

/* Service extensions the server announced in its EHLO reply (RFC 5321
 * §4.1.1.1). */
typedef enum
{
  SMTP_EXT_PIPELINING = 1 << 0,     /* RFC 2920 */
  SMTP_EXT_SIZE = 1 << 1,           /* RFC 1870 */
  SMTP_EXT_8BITMIME = 1 << 2,       /* RFC 6152 */
  SMTP_EXT_STARTTLS = 1 << 3,       /* RFC 3207 */
  SMTP_EXT_AUTH = 1 << 4,           /* RFC 4954 */
  SMTP_EXT_ENHANCEDSTATUS = 1 << 5, /* RFC 2034 */
  SMTP_EXT_SMTPUTF8 = 1 << 6,       /* RFC 6531 */
  SMTP_EXT_CHUNKING = 1 << 7,       /* RFC 3030 */
  SMTP_EXT_DSN = 1 << 8,            /* RFC 3461 */
} SmtpExtensions;

typedef enum
{
  SMTP_AUTH_PLAIN, /* RFC 4616 */
  SMTP_AUTH_LOGIN, /* draft-murchison-sasl-login */
} SmtpAuthMechanism;

/* What happened to one recipient of smtp_client_send (). */
typedef struct
{
  char *address; /* as given */
  guint code;    /* RCPT reply code, 0 if not sent (MAIL failed) */
  char *reply;   /* the server's reply, lines joined by "\n" */
} SmtpRecipientResult;

/* For --trace: every line on the wire, without CRLF, and its meaning from
 * the catalog ("start mail input; end with <CRLF>.<CRLF> (RFC 5321
 * §4.1.1.4)") or NULL. Credentials are already masked as "***". The
 * message text is not traced line by line: one note stands for it. */
typedef void (*SmtpClientTraceFunc) (gboolean from_server,
                                     const char *line,
                                     const char *meaning,
                                     gpointer user_data);

typedef struct _SmtpClient SmtpClient;

SmtpClient *smtp_client_new (void);
void smtp_client_free (SmtpClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmtpClient, smtp_client_free)

void smtp_client_set_trace (SmtpClient *client,
                            SmtpClientTraceFunc func,
                            gpointer user_data);

/* Connects to @host:@port (TLS from the first byte with @implicit_tls,
 * RFC 8314 §3.3), sets the per-read timeout (seconds, 0: none) and reads
 * the 220 greeting (RFC 5321 §4.3.1). @ca_file/@insecure: as for
 * mail_net_connect (). @cancellable (may be NULL) is kept: cancelling it
 * later interrupts whatever the client is waiting for (the relay uses
 * this to stop promptly at shutdown). */
gboolean smtp_client_connect (SmtpClient *client,
                              const char *host,
                              guint16 port,
                              gboolean implicit_tls,
                              const char *ca_file,
                              gboolean insecure,
                              guint timeout,
                              GCancellable *cancellable,
                              GError **error);

/* EHLO @helo_name; on a 5xx reply HELO instead (RFC 5321 §3.2), then no
 * extensions are known. */
gboolean
smtp_client_ehlo (SmtpClient *client, const char *helo_name, GError **error);
SmtpExtensions smtp_client_get_extensions (SmtpClient *client);
/* The SIZE limit announced (0: none or unknown). */
guint64 smtp_client_get_max_size (SmtpClient *client);
/* TRUE if the server offered @mechanism in its AUTH line. */
gboolean smtp_client_offers_auth (SmtpClient *client,
                                  SmtpAuthMechanism mechanism);
gboolean smtp_client_is_tls (SmtpClient *client);

/* STARTTLS, the handshake (verifying @server_name against @ca_file or the
 * system store unless @insecure), and EHLO @helo_name again, since what
 * the server offers may change (RFC 3207 §4.2). */
gboolean smtp_client_starttls (SmtpClient *client,
                               const char *server_name,
                               const char *ca_file,
                               gboolean insecure,
                               const char *helo_name,
                               GError **error);

/* AUTH @mechanism as @user (RFC 4954 §4). Fails with
 * SMTP_CLIENT_ERROR_AUTH if the server did not offer it. */
gboolean smtp_client_auth (SmtpClient *client,
                           SmtpAuthMechanism mechanism,
                           const char *user,
                           const char *password,
                           GError **error);

/* One mail transaction (RFC 5321 §3.3): MAIL FROM:<@reverse_path> ("" is
 * the null path <>), RCPT TO for each of @recipients, DATA, and @data
 * (the message with CRLF line ends, not dot-stuffed: this does it,
 * RFC 5321 §4.5.2). With PIPELINING offered, MAIL, every RCPT and DATA go
 * out in one write and the replies are read in order (RFC 2920 §3.1).
 * SIZE= is sent when offered (RFC 1870 §6), BODY=8BITMIME when @data has
 * 8-bit octets and the server offers it (RFC 6152 §3).
 *
 * *out_results (optional, transfer full: g_ptr_array_unref ()) gets one
 * SmtpRecipientResult per recipient, in order, even on failure. Returns
 * TRUE when the message was accepted for at least one recipient (check
 * the results for the others); FALSE with the failed step otherwise.
 * After a failure the connection is still usable if the failure was a
 * reply (smtp_client_get_reply_code () != 0). */
gboolean smtp_client_send (SmtpClient *client,
                           const char *reverse_path,
                           const char *const *recipients,
                           const void *data,
                           gsize length,
                           GPtrArray **out_results,
                           GError **error);

/* With @use, smtp_client_send () sends the message in BDAT chunks
 * (RFC 3030 §2: no dot-stuffing, no end marker) whenever the server
 * offers CHUNKING, and DATA otherwise. Off by default. */
void smtp_client_set_chunking (SmtpClient *client, gboolean use);

/* With @use, MAIL asks for SMTPUTF8 (RFC 6531 §3.4), as it always does
 * when an address is not ASCII: for UTF-8 in header fields. A server that
 * does not offer SMTPUTF8 gets no such message: smtp_client_send () fails
 * with SMTP_CLIENT_ERROR_MAIL before sending anything. */
void smtp_client_set_smtputf8 (SmtpClient *client, gboolean use);

/* The DSN request of the next smtp_client_send () (copied; NULL: none):
 * RET= and ENVID= on MAIL, NOTIFY= and ORCPT= on the RCPT of each
 * recipient in order (RFC 3461 §4), values encoded as xtext. Sent only to
 * a server that offers DSN; to one that does not, the message goes
 * without them (the caller may check SMTP_EXT_DSN to say so, RFC 3461
 * §5.2.2). */
void smtp_client_set_dsn (SmtpClient *client, const SmtpDsnEnvelope *dsn);

/* RSET (RFC 5321 §4.1.1.5): after a failed transaction, before the next. */
gboolean smtp_client_rset (SmtpClient *client, GError **error);

/* QUIT (RFC 5321 §4.1.1.10) and close. Errors are ignored: the
 * transaction, if any, is already complete. */
void smtp_client_quit (SmtpClient *client);

/* Reply code of the last reply read (0: none, e.g. connect failed or the
 * connection dropped) and its text (transfer none, may be NULL). */
guint smtp_client_get_reply_code (SmtpClient *client);
const char *smtp_client_get_reply_text (SmtpClient *client);

/* TRUE for 4xx and for failures with no reply at all (connection
 * refused, timeout, dropped): worth retrying later (RFC 5321 §4.5.4.1). */
gboolean smtp_client_error_is_temporary (guint reply_code);

G_END_DECLS
