/* SPDX-License-Identifier: MIT
 * mail-net.h: listening and connecting, written once for every server and
 * client. A server is a GThreadedSocketService: each connection runs its
 * session top to bottom in its own thread with blocking reads (bounded by
 * timeouts), so one slow client never holds up another.
 */
#pragma once

#include <gio/gio.h>

#include "mail-auth.h"
#include "mail-config.h"
#include "mail-line.h"

G_BEGIN_DECLS

typedef struct
{
  const char *label;     /* "smtp", "submission", "smtps", "pop3" ... */
  gboolean implicit_tls; /* TLS from the first byte (RFC 8314 §3.3) */
  guint16 port;          /* the port actually bound */
} MailServerListener;

/* Runs in the connection's own thread; the connection is closed after it
 * returns. */
typedef void (*MailServerSessionFunc) (GSocketConnection *connection,
                                       const MailServerListener *listener,
                                       gpointer user_data);

typedef struct _MailServer MailServer;

/* @program names the server in messages ("mw-smtpd"). At most
 * @max_sessions run at once; a connection beyond them is told
 * mail_server_set_busy_reply ()'s line (plain listeners) and closed at
 * once, rather than left waiting without a greeting. */
MailServer *mail_server_new (const char *program,
                             guint max_sessions,
                             MailServerSessionFunc func,
                             gpointer user_data);
/* The line (without CRLF) a refused client gets: "421 4.3.2 ...". */
void mail_server_set_busy_reply (MailServer *server, const char *line);
void mail_server_free (MailServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailServer, mail_server_free)

/* Binds @listen (port 0: any free port) and prints one line on stdout,
 *   "<program>: <label> listening on <address>:<port>"
 * which scripts and tests read to find ephemeral ports. A port of -1 means
 * "off" and returns TRUE without binding. */
gboolean mail_server_add_listener (MailServer *server,
                                   const char *label,
                                   const MailListen *listen,
                                   gboolean implicit_tls,
                                   GError **error);
/* Serves until SIGINT or SIGTERM, then stops accepting, gives running
 * sessions 2 s to end and returns 0; if some are still open (an IMAP
 * client in IDLE), the process exits at once instead, so that nothing
 * they use is freed under them. */
int mail_server_run (MailServer *server);

/* What every session of one pull server (mw-pop3d, mw-imapd) shares:
 * the configuration, the certificate (NULL: no TLS offered) and the
 * users file, reloaded when it changes (mail-auth.h). Thread-safe. */
typedef struct
{
  const MailConfig *config; /* (transfer none) outlives the context */
  GTlsCertificate *certificate;
  MailUsersCache *users;
} MailServerContext;

MailServerContext *mail_server_context_new (const MailConfig *config,
                                            GTlsCertificate *certificate);
void mail_server_context_free (MailServerContext *context);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailServerContext, mail_server_context_free)

/* What the main () of a pull server says about itself;
 * mail_server_main () does the rest, the same for both. */
typedef struct
{
  const char *program;     /* "mw-imapd" */
  const char *description; /* "- IMAP server", for --help */
  guint max_sessions;
  const char *busy_reply; /* said when max_sessions run already */
  const char *label;      /* "imap": plaintext, with STARTTLS */
  const char *tls_label;  /* "imaps": implicit TLS (RFC 8314 §3.3) */
  /* the [section] listener for @tls FALSE or TRUE (transfer none) */
  const MailListen *(*get_listen) (const MailConfig *config, gboolean tls);
  /* runs one session; gets the MailServerContext as user data */
  MailServerSessionFunc session_run;
} MailServerMain;

/* Parses --config FILE and --protocol-log, loads the configuration and
 * the certificate (without one, the TLS listener stays off), makes the
 * context, binds both listeners and serves (mail_server_run ()).
 * Returns the exit status: 2 for a bad command line or configuration, 1
 * when a port cannot be bound. */
int mail_server_main (const MailServerMain *server, int argc, char **argv);

/* The MailStream of a new server connection: over TLS from the first
 * byte when @implicit_tls (RFC 8314 §3.3; the handshake runs here, with
 * @certificate), else plain. NULL and @error if the handshake fails. */
MailStream *mail_server_open_stream (GSocketConnection *connection,
                                     gboolean implicit_tls,
                                     GTlsCertificate *certificate,
                                     gsize max_line,
                                     GError **error);

/* "127.0.0.1:54321" / "[::1]:54321" of the peer (transfer full). */
char *mail_net_peer_string (GSocketConnection *connection);
gboolean mail_net_peer_is_loopback (GSocketConnection *connection);

/* Connects to @host:@port (a name or an address literal), with TLS from
 * the first byte when @implicit_tls. Errors say which step failed. */
MailStream *mail_net_connect (const char *host,
                              guint16 port,
                              gboolean implicit_tls,
                              const char *ca_file,
                              gboolean insecure,
                              gsize max_line,
                              guint timeout,
                              GCancellable *cancellable,
                              GError **error);
/* Splits "host:port", "[v6]:port" or "host" (then @default_port). */
gboolean mail_net_parse_host_port (const char *text,
                                   guint16 default_port,
                                   char **out_host,
                                   guint16 *out_port,
                                   GError **error);

G_END_DECLS
