/* SPDX-License-Identifier: MIT
 * starttls-probe.c: lab 5, the reference: asks a mail server for its
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

/* Does this line of a capability list let a client send a password now?
 * SMTP: the AUTH keyword (RFC 4954 §3); POP3: USER or SASL (RFC 2449
 * §6.3, §6.10); IMAP: no LOGINDISABLED (RFC 9051 §6.2.3), or AUTH=. */
static int
offers_auth (const char *line)
{
  if (strcmp (proto->name, "smtp") == 0)
    return strlen (line) > 4 && strncmp (line + 4, "AUTH", 4) == 0 &&
           (line[8] == ' ' || line[8] == '\0');
  if (strcmp (proto->name, "pop3") == 0)
    return strcmp (line, "USER") == 0 || strncmp (line, "SASL", 4) == 0;
  return strncmp (line, "* CAPABILITY ", 13) == 0 &&
         (strstr (line, " AUTH=") != NULL ||
          strstr (line, "LOGINDISABLED") == NULL);
}

/* Reads one whole response (SMTP: every line of a reply, RFC 5321 §4.2.1;
 * POP3: the status line, and for CAPA the list up to "."; IMAP: up to the
 * tagged line, or one line when @tag is NULL). Returns 1 if positive, 0
 * if negative, -1 if nothing (complete) came. *@auth is set when a line
 * offers AUTH. @last gets the last line. */
static int
read_response (Conn *c, const char *tag, int list, int *auth, char *last)
{
  for (;;)
    {
      if (!read_line (c, last, WAIT_MS))
        return -1;
      if (auth && offers_auth (last))
        *auth = 1;
      if (strcmp (proto->name, "smtp") == 0)
        {
          if (strlen (last) < 3)
            return -1;
          if (last[3] != '-')
            return last[0] == '2';
        }
      else if (strcmp (proto->name, "pop3") == 0)
        {
          int ok = strncmp (last, "+OK", 3) == 0;

          if (!list || !ok)
            return ok;
          while (read_line (c, last, WAIT_MS))
            {
              if (strcmp (last, ".") == 0)
                return 1;
              if (auth && offers_auth (last))
                *auth = 1;
            }
          return -1;
        }
      else if (tag == NULL)
        return strncmp (last, "* OK", 4) == 0;
      else if (strncmp (last, tag, strlen (tag)) == 0 &&
               last[strlen (tag)] == ' ')
        return strncmp (last + strlen (tag) + 1, "OK", 2) == 0;
    }
}

/* The tag of an IMAP command ("c1"), or NULL for SMTP and POP3. */
static const char *
tag_of (const char *command, char *tag)
{
  if (strcmp (proto->name, "imap") != 0)
    return NULL;
  snprintf (tag, 16, "%.*s", (int) strcspn (command, " "), command);
  return tag;
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

/* The TLS handshake, with the server's certificate checked against
 * CAFILE and HOST (RFC 3207 §4.1, RFC 9525). Returns 1, 0 if the
 * connection failed, -1 if the certificate is not trusted. Octets the
 * server sent in clear after its OK are not read as if they were TLS. */
static int
start_tls (Conn *c)
{
  int r;

  c->start = c->end = 0;
  gnutls_certificate_allocate_credentials (&c->credentials);
  if (gnutls_certificate_set_x509_trust_file (c->credentials, ca_file,
                                              GNUTLS_X509_FMT_PEM) <= 0)
    return -1;
  gnutls_init (&c->tls, GNUTLS_CLIENT);
  gnutls_set_default_priority (c->tls);
  gnutls_credentials_set (c->tls, GNUTLS_CRD_CERTIFICATE, c->credentials);
  gnutls_session_set_verify_cert (c->tls, host, 0);
  gnutls_transport_set_int (c->tls, c->fd);
  gnutls_handshake_set_timeout (c->tls, WAIT_MS);
  do
    r = gnutls_handshake (c->tls);
  while (r < 0 && !gnutls_error_is_fatal (r));
  if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR)
    return -1;
  c->handshaken = r == 0;
  return r == 0;
}

/* Connects, reads the greeting and the capabilities in clear. */
static int
greet (Conn *c, int *auth, char *last)
{
  char tag[16];

  if (!conn_open (c) || read_response (c, NULL, 0, NULL, last) != 1)
    return 0;
  return send_line (c, proto->capability) &&
         read_response (c, tag_of (proto->capability, tag), 1, auth, last) == 1;
}

/* Session 1: capabilities in clear, STARTTLS, capabilities again (the
 * client forgets what it learnt in clear, RFC 3207 §4.2), QUIT. */
static int
capabilities (void)
{
  Conn c;
  char last[MAX_LINE], tag[16];
  int before = 0, after = 0, tls;

  if (!greet (&c, &before, last))
    {
      fprintf (stderr, "no greeting or capabilities: %s\n", last);
      conn_close (&c);
      return 0;
    }
  if (!send_line (&c, proto->starttls) ||
      read_response (&c, tag_of (proto->starttls, tag), 0, NULL, last) != 1)
    {
      printf ("starttls: refused (%s)\n", last);
      conn_close (&c);
      return 0;
    }
  tls = start_tls (&c);
  if (tls != 1)
    {
      printf ("tls: %s\n", tls < 0 ? "certificate not trusted by CAFILE"
                                   : "handshake failed");
      conn_close (&c);
      return 0;
    }
  if (send_line (&c, proto->capability))
    read_response (&c, tag_of (proto->capability, tag), 1, &after, last);
  send_line (&c, proto->quit);
  read_response (&c, tag_of (proto->quit, tag), 0, NULL, last);
  conn_close (&c);
  printf ("auth-before-tls: %s (the capabilities in clear)\n",
          before ? "yes" : "no");
  printf ("auth-after-tls: %s (the capabilities over TLS)\n",
          after ? "yes" : "no");
  return 1;
}

/* Session 2: STARTTLS and a plaintext command in one write. A server that
 * kept the command runs it once TLS is up and answers it unasked. */
static void
injection (void)
{
  Conn c;
  char last[MAX_LINE], tag[16], both[512];

  snprintf (both, sizeof both, "%s\r\n%s", proto->starttls, proto->injected);
  if (!greet (&c, NULL, last) || !send_line (&c, both) ||
      read_response (&c, tag_of (proto->starttls, tag), 0, NULL, last) != 1)
    printf ("injection: refused (STARTTLS not accepted: %s)\n", last);
  else if (start_tls (&c) != 1)
    printf ("injection: refused (the connection was closed after the "
            "STARTTLS reply)\n");
  else if (read_line (&c, last, INJECTED_WAIT_MS))
    printf ("injection: vulnerable (answered the injected %s over TLS: "
            "%s)\n",
            proto->injected, last);
  else
    printf ("injection: refused (the plaintext %s was discarded)\n",
            proto->injected);
  conn_close (&c);
}

int
main (int argc, char **argv)
{
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
  if (!capabilities ())
    return 1;
  injection ();
  return 0;
}
