/* SPDX-License-Identifier: MIT
 * pop3-client.h: the client side of POP3 (RFC 1939), used by mw-pop3:
 * greeting, CAPA (RFC 2449 §5), STLS (RFC 2595 §4), USER/PASS or AUTH
 * PLAIN/LOGIN (RFC 5034), the transaction commands, QUIT, and pipelining
 * (RFC 2449 §6.6) of commands whose order allows it.
 *
 * Commands are sent with pop3_client_send () and their responses are
 * taken, in order, with pop3_client_receive (); when the server offers
 * PIPELINING the caller may send several before receiving. Responses
 * are parsed with pop3-proto's grammar, and multi-line bodies are read
 * with the shared dot-text reader, un-stuffed.
 */
#pragma once

#include <gio/gio.h>

#include "pop3-proto.h"

G_BEGIN_DECLS

#define POP3_CLIENT_ERROR (pop3_client_error_quark ())
typedef enum
{
  POP3_CLIENT_ERROR_REJECTED,    /* -ERR; the message holds the server text */
  POP3_CLIENT_ERROR_AUTH,        /* login refused (-ERR, or -ERR [AUTH]) */
  POP3_CLIENT_ERROR_IN_USE,      /* -ERR [IN-USE]: another session holds it */
  POP3_CLIENT_ERROR_PROTOCOL,    /* the server broke the grammar */
  POP3_CLIENT_ERROR_UNSUPPORTED, /* the server lacks what was asked */
} Pop3ClientError;
GQuark pop3_client_error_quark (void);

/* The largest message text accepted from RETR (server data is bounded). */
#define POP3_CLIENT_MAX_MESSAGE (256u << 20)

typedef enum
{
  POP3_AUTH_AUTO,  /* AUTH PLAIN if CAPA offers it, else USER/PASS */
  POP3_AUTH_PLAIN, /* RFC 5034 §4 + RFC 4616 */
  POP3_AUTH_LOGIN, /* RFC 5034 §4 + draft-murchison-sasl-login */
  POP3_AUTH_USER,  /* RFC 1939 §7 USER/PASS */
} Pop3AuthMethod;

/* Each line sent or received: @meaning is the catalog sentence ("asks
 * for the whole of one message, dot-stuffed (RFC 1939 §5)") or NULL.
 * Credentials are shown as "***". Message text is not traced line by
 * line: one note stands for it. */
typedef void (*Pop3ClientTraceFunc) (gboolean from_server,
                                     const char *line,
                                     const char *meaning,
                                     gpointer user_data);

/* One response, with its body when it has one (RFC 1939 §3). */
typedef struct
{
  char *verb;            /* the command it answers, upper case */
  Pop3Response response; /* status, [CODE], text */
  GString *body;         /* multi-line body, un-stuffed; or NULL */
} Pop3Reply;

void pop3_reply_free (Pop3Reply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pop3Reply, pop3_reply_free)

typedef struct _Pop3Client Pop3Client;

/* Connects to @host:@port (TLS from the first byte with @implicit_tls,
 * RFC 8314 §3.3), reads the greeting (RFC 1939 §4) and asks CAPA. @trace
 * may be NULL. @timeout in seconds (0: none). */
Pop3Client *pop3_client_connect (const char *host,
                                 guint16 port,
                                 gboolean implicit_tls,
                                 const char *ca_file,
                                 gboolean insecure,
                                 guint timeout,
                                 Pop3ClientTraceFunc trace,
                                 gpointer trace_data,
                                 GError **error);
void pop3_client_free (Pop3Client *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pop3Client, pop3_client_free)

/* RFC 2595 §4: STLS, handshake (verifying the certificate for the host
 * name given to connect, against @ca_file or the system store), then
 * CAPA again. POP3_CLIENT_ERROR_UNSUPPORTED if not offered. */
gboolean pop3_client_stls (Pop3Client *client,
                           const char *ca_file,
                           gboolean insecure,
                           GError **error);
gboolean pop3_client_is_tls (Pop3Client *client);

/* TRUE if CAPA listed @tag (case-insensitive), e.g. "PIPELINING".
 * *out_parameters (optional, transfer none) gets the rest of the line. */
gboolean pop3_client_has_capability (Pop3Client *client,
                                     const char *tag,
                                     const char **out_parameters);
gboolean pop3_client_can_pipeline (Pop3Client *client);

/* Logs in; the state is TRANSACTION afterwards. Errors:
 * POP3_CLIENT_ERROR_AUTH, POP3_CLIENT_ERROR_IN_USE, ..._REJECTED. */
gboolean pop3_client_login (Pop3Client *client,
                            Pop3AuthMethod method,
                            const char *user,
                            const char *password,
                            GError **error);

/* Queues one command line "VERB[ argument]" (@argument may be NULL),
 * written on the next read that has to wait. Never send a password this
 * way: use pop3_client_login (). */
void
pop3_client_send (Pop3Client *client, const char *verb, const char *argument);
/* Number of commands sent whose response has not been received. */
guint pop3_client_outstanding (Pop3Client *client);
/* Receives the response to the oldest outstanding command, with its
 * body when it has one. A -ERR is a reply, not an error: FALSE only for
 * I/O and grammar failures. (transfer full) */
Pop3Reply *pop3_client_receive (Pop3Client *client, GError **error);
/* Like pop3_client_receive () but turns -ERR into an error
 * (POP3_CLIENT_ERROR_REJECTED or _IN_USE/_AUTH by response code). */
Pop3Reply *pop3_client_receive_ok (Pop3Client *client, GError **error);
/* Sends one command and receives its +OK (not for pipelining). */
Pop3Reply *pop3_client_command (Pop3Client *client,
                                const char *verb,
                                const char *argument,
                                GError **error);

/* RFC 1939 §6: QUIT; in the TRANSACTION state its +OK says the marked
 * messages were deleted. Receives any outstanding responses first. */
gboolean pop3_client_quit (Pop3Client *client, GError **error);

G_END_DECLS
