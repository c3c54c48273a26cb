/* SPDX-License-Identifier: MIT
 * mail-config.h: mailwire.conf, one GKeyFile with a section per server.
 * Defaults are loopback and the unprivileged ports of DESIGN.md, so a lab
 * needs no root. A port of 0 asks the kernel for a free one; the server
 * then prints the port it got (tests use this, never fixed ports).
 *
 *   [general]  hostname, domains (list), state_dir, users_file,
 *              mail_root, tls_cert, tls_key, tls_keylog, protocol_log,
 *              timeout
 *   [smtp]     listen, port, submission_port, smtps_port, max_size,
 *              max_recipients, sender_must_match_login
 *   [queue]    dir, retry_min, retry_max, lifetime (seconds)
 *   [routes]   DOMAIN = HOST:PORT     static next hops for relaying
 *   [relay]    dns_server (IPV4[:PORT]; absent: /etc/resolv.conf),
 *              dns_timeout (seconds per DNS query), mx_port (of MX and
 *              implicit-MX hops, 25): routing by DNS, docs/relay-dns.md;
 *              delay_notice (seconds a message waits before its sender
 *              is told it is delayed, RFC 3461; 4 h): docs/dsn.md;
 *              max_connections (deliveries at once, 10) and
 *              max_per_destination (at once to one next-hop domain, 2)
 *   [pop3]     listen, port, pop3s_port, plaintext_auth (never|loopback|
 *              always)
 *   [imap]     listen, port, imaps_port, plaintext_auth (as [pop3]); the
 *              largest APPEND is [smtp] max_size (RFC 7889 APPENDLIMIT)
 *   [faults]   enabled, reply, delay, drop, trickle, multiline, pipelining:
 *              fault injection for lab graders, off when absent (see
 *              mail-faults.h and docs/faults.md)
 * A relative path is relative to the directory of the config file.
 */
#pragma once

#include <glib.h>

#include "mail-faults.h"

G_BEGIN_DECLS

#define MAIL_CONFIG_ERROR (mail_config_error_quark ())
typedef enum
{
  MAIL_CONFIG_ERROR_PARSE,   /* file is not a key file; message names line */
  MAIL_CONFIG_ERROR_VALUE,   /* a key has a bad value; message names it */
  MAIL_CONFIG_ERROR_UNKNOWN, /* unknown group or key (a typo) */
} MailConfigError;
GQuark mail_config_error_quark (void);

/* Ports of DESIGN.md §5 (the standard ones are 25/587/465/110/995/143/993). */
#define MAIL_DEFAULT_SMTP_PORT 2525
#define MAIL_DEFAULT_SUBMISSION_PORT 2587
#define MAIL_DEFAULT_SMTPS_PORT 2465
#define MAIL_DEFAULT_POP3_PORT 2110
#define MAIL_DEFAULT_POP3S_PORT 2995
#define MAIL_DEFAULT_IMAP_PORT 2143
#define MAIL_DEFAULT_IMAPS_PORT 2993

typedef enum
{
  MAIL_PLAINTEXT_AUTH_NEVER,    /* passwords only over TLS */
  MAIL_PLAINTEXT_AUTH_LOOPBACK, /* also in clear from 127.0.0.0/8 and ::1 */
  MAIL_PLAINTEXT_AUTH_ALWAYS,
} MailPlaintextAuth;

typedef struct
{
  char *listen; /* address to bind: "127.0.0.1", "::1", "0.0.0.0" */
  int port;     /* -1: this listener is off */
} MailListen;

typedef struct
{
  char *path; /* the file read, or NULL for built-in defaults */
  /* [general] */
  char *hostname; /* our name in greetings and Received: */
  GStrv domains;  /* local mail domains */
  char *state_dir;
  char *users_file;
  char *mail_root; /* default maildir of user U: mail_root/U/Maildir */
  char *tls_cert;  /* PEM; NULL: no TLS offered */
  char *tls_key;
  char *tls_keylog;      /* NSS key log of every TLS session, or NULL
                          * (mail_tls_set_keylog (), docs/tls-keylog.md) */
  gboolean protocol_log; /* log every C:/S: line */
  guint timeout;         /* seconds of silence before a session is dropped */
  /* [smtp] */
  MailListen smtp, submission, smtps;
  guint64 smtp_max_size;     /* RFC 1870 SIZE */
  guint smtp_max_recipients; /* RFC 5321 §4.5.3.1.8: at least 100 */
  gboolean sender_must_match_login;
  /* [queue] */
  char *queue_dir;
  guint retry_min, retry_max, queue_lifetime; /* seconds */
  GHashTable *routes; /* domain (lower case) -> "host:port" */
  /* [relay] */
  char *dns_server;      /* "127.0.0.1:5353"; NULL: the system's resolver */
  guint dns_timeout;     /* seconds one DNS query waits for its answer */
  int mx_port;           /* RFC 5321 §4.5.4.2: 25, other for labs and tests */
  guint delay_notice;    /* seconds before a "delayed" DSN (RFC 3464 §2.3.3) */
  guint max_connections; /* queue deliveries at once */
  guint max_per_destination; /* of them to one next-hop domain */
  /* [pop3] */
  MailListen pop3, pop3s;
  MailPlaintextAuth pop3_plaintext_auth;
  /* [imap] */
  MailListen imap, imaps;
  MailPlaintextAuth imap_plaintext_auth;
  /* [faults] */
  MailFaults *faults; /* NULL without the section; mail_faults_enabled () */
} MailConfig;

/* Loads @path (NULL: defaults only, state under ./mailwire-state). */
MailConfig *mail_config_load (const char *path, GError **error);
void mail_config_free (MailConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailConfig, mail_config_free)

/* TRUE if @domain is one of ours (case-insensitive). */
gboolean mail_config_is_local_domain (const MailConfig *config,
                                      const char *domain);
/* The maildir of @user: the users file's path, else the default. */
char *mail_config_user_maildir (const MailConfig *config,
                                const char *user,
                                const char *users_file_maildir);

G_END_DECLS
