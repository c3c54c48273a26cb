/* SPDX-License-Identifier: MIT
 * starttls-probe.c: lab 5, your probe: asks a mail server for its
 * capabilities before and after STARTTLS (RFC 3207 SMTP, RFC 2595 §4 POP3
 * STLS, RFC 9051 §6.2.1 IMAP), then pipelines a plaintext command after
 * STARTTLS and reports whether the server ran it (the CVE-2011-0411
 * class), with POSIX sockets and GnuTLS.
 *
 *   starttls-probe smtp|pop3|imap HOST PORT CAFILE
 *
 * Prints (README.md, "Verdict lines"):
 *   auth-before-tls: yes|no (why)
 *   auth-after-tls: yes|no (why)
 *   injection: refused|vulnerable (why)
 * and exits 0; exits 1 when the server could not be tested (no STARTTLS,
 * a certificate CAFILE does not vouch for).
 *
 * As given, it connects and reads the greeting, and prints no verdict.
 * Fill in the TODOs; README.md says what the grader tries.
 */
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LINE 8192         /* IMAP capability lines are long */
#define WAIT_MS 10000         /* for a reply we asked for */
#define INJECTED_WAIT_MS 2000 /* for a reply nobody asked for over TLS */

/* What differs between the three protocols: the commands. */
typedef struct
{
  const char *name;
  const char *capability; /* asks for the capability list */
  const char *starttls;
  const char *injected; /* pipelined after STARTTLS, in plaintext */
  const char *quit;
} Protocol;

static const Protocol protocols[] = {
  { "smtp", "EHLO probe.lab.test", "STARTTLS", "NOOP", "QUIT" },
  { "pop3", "CAPA", "STLS", "NOOP", "QUIT" },
  { "imap", "c1 CAPABILITY", "s1 STARTTLS", "i1 NOOP", "q1 LOGOUT" },
};

typedef struct
{
  int fd;
  gnutls_session_t tls; /* NULL until STARTTLS */
  int handshaken;
  gnutls_certificate_credentials_t credentials;
  char buffer[4096]; /* octets received and not yet taken */
  size_t start, end;
} Conn;

static const Protocol *proto;
static const char *host, *port, *ca_file;

/* Refills the buffer; 0 if the connection ended or nothing came in time. */
static int
conn_fill (Conn *c, int timeout_ms)
{
  struct pollfd p = { c->fd, POLLIN, 0 };
  ssize_t n;

  if (!(c->tls && gnutls_record_check_pending (c->tls) > 0) &&
      poll (&p, 1, timeout_ms) <= 0)
    return 0;
  if (c->tls)
    do
      n = gnutls_record_recv (c->tls, c->buffer, sizeof c->buffer);
    while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
  else
    n = recv (c->fd, c->buffer, sizeof c->buffer, 0);
  if (n <= 0)
    return 0;
  c->start = 0;
  c->end = (size_t) n;
  return 1;
}

/* One line without its CRLF; 0 if none came. */
static int
read_line (Conn *c, char *line, int timeout_ms)
{
  size_t length = 0;

  for (;;)
    {
      char octet;

      if (c->start == c->end && !conn_fill (c, timeout_ms))
        return 0;
      octet = c->buffer[c->start++];
      if (octet == '\n')
        break;
      if (length < MAX_LINE - 1)
        line[length++] = octet;
    }
  if (length > 0 && line[length - 1] == '\r')
    length--;
  line[length] = '\0';
  return 1;
}

static int
send_line (Conn *c, const char *text)
{
  char out[1024];
  int length = snprintf (out, sizeof out, "%s\r\n", text);
  const char *p = out;

  while (length > 0)
    {
      ssize_t n = c->tls ? gnutls_record_send (c->tls, p, (size_t) length)
                         : send (c->fd, p, (size_t) length, MSG_NOSIGNAL);

      if (n <= 0)
        return 0;
      p += n;
      length -= (int) n;
    }
  return 1;
}

static int
conn_open (Conn *c)
{
  struct addrinfo hints = { 0 }, *found = NULL;

  memset (c, 0, sizeof *c);
  c->fd = -1;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo (host, port, &hints, &found) != 0)
    return 0;
  for (struct addrinfo *a = found; a && c->fd < 0; a = a->ai_next)
    {
      c->fd = socket (a->ai_family, a->ai_socktype, a->ai_protocol);
      if (c->fd >= 0 && connect (c->fd, a->ai_addr, a->ai_addrlen) != 0)
        {
          close (c->fd);
          c->fd = -1;
        }
    }
  freeaddrinfo (found);
  return c->fd >= 0;
}

static void
conn_close (Conn *c)
{
  if (c->tls)
    {
      if (c->handshaken)
        gnutls_bye (c->tls, GNUTLS_SHUT_WR);
      gnutls_deinit (c->tls);
    }
  if (c->credentials)
    gnutls_certificate_free_credentials (c->credentials);
  if (c->fd >= 0)
    close (c->fd);
  c->fd = -1;
  c->tls = NULL;
  c->credentials = NULL;
}

/* TODO (RFC 4954 §3, RFC 2449 §6.3 and §6.10, RFC 9051 §6.2.3): does
 * this line of a capability list let a client send a password now? */

/* TODO (RFC 5321 §4.2.1, RFC 1939 §3, RFC 9051 §7.1): read one whole
 * response: every line of an SMTP reply; a POP3 status line (and CAPA's
 * list up to "."); IMAP lines up to the tagged one. */

/* TODO (RFC 3207 §4.1): the TLS handshake with GnuTLS over c->fd
 * (gnutls_init, gnutls_set_default_priority, trust CAFILE with
 * gnutls_certificate_set_x509_trust_file, gnutls_session_set_verify_cert
 * with HOST, gnutls_transport_set_int, gnutls_handshake), then read and
 * write with gnutls_record_recv/send (conn_fill and send_line do once
 * c->tls is set). */

/* TODO (RFC 3207 §4.2, RFC 2595 §4, RFC 9051 §6.2.1): session 1:
 * capabilities in clear, STARTTLS, the handshake, the capabilities again
 * (a client forgets what it learnt in clear), QUIT; print auth-before-tls
 * and auth-after-tls. */

/* TODO (RFC 3207 §4, CVE-2011-0411): session 2: STARTTLS and a plaintext
 * command in ONE write; after the handshake, did an answer come that you
 * never asked for over TLS? Print the injection line. */

int
main (int argc, char **argv)
{
  Conn c;
  char line[MAX_LINE];

  for (size_t i = 0; argc == 5 && i < 3; i++)
    if (strcmp (argv[1], protocols[i].name) == 0)
      proto = &protocols[i];
  if (proto == NULL)
    {
      fprintf (stderr, "usage: %s smtp|pop3|imap HOST PORT CAFILE\n", argv[0]);
      return 1;
    }
  signal (SIGPIPE, SIG_IGN); /* a closed connection is a verdict */
  host = argv[2];
  port = argv[3];
  ca_file = argv[4];
  if (!conn_open (&c))
    return 1;
  if (read_line (&c, line, WAIT_MS))
    fprintf (stderr, "greeting: %s\n", line);
  (void) send_line;
  conn_close (&c);
  return 0;
}
