/* SPDX-License-Identifier: MIT
 * smtp-probe.c: lab 7, your probe: tests an SMTP server (RFC 5321) for
 * open relaying (§7.1) and for end-of-data smuggling (§4.1.1.4, the
 * CVE-2023-51764 class), with POSIX sockets and the C library only.
 *
 *   smtp-probe HOST PORT RECIPIENT
 *
 * RECIPIENT is a mailbox the server accepts (bob@lab.test). Prints one
 * verdict line per test, then the summary (README.md, "Verdict lines"):
 *
 *   relay: vulnerable|safe (why)
 *   smuggling NAME: vulnerable|safe (why)       one per look-alike
 *   smuggling: vulnerable|safe
 *
 * As given, it connects, says EHLO and prints no verdict. Fill in the
 * TODOs; README.md says what the grader tries.
 */
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_REPLY_LINE 512 /* RFC 5321 §4.5.3.1.5, CRLF included */
#define FOREIGN "probe@relay-test.invalid" /* RFC 2606: never delivered */
#define SENDER "probe@lab.test"

/* What a server may take for the end of the text, wrongly: only CRLF . CRLF
 * ends it (RFC 5321 §4.1.1.4). The names are the lab's (README.md). */
static const struct
{
  const char *name;
  const char *end;
} look_alikes[] = {
  { "lf-dot-lf", "\n.\n" },     { "lf-dot-crlf", "\n.\r\n" },
  { "crlf-dot-lf", "\r\n.\n" }, { "crlf-dot-cr", "\r\n.\r" },
  { "cr-dot-cr", "\r.\r" },
};
#define LOOK_ALIKES (sizeof look_alikes / sizeof look_alikes[0])

typedef struct
{
  int fd;
  char buffer[4096]; /* octets received and not yet taken */
  size_t start, end;
} Conn;

static const char *host, *port;

static int
send_all (Conn *c, const char *data, size_t length)
{
  while (length > 0)
    {
      ssize_t n = send (c->fd, data, length, 0);

      if (n <= 0)
        return 0;
      data += n;
      length -= (size_t) n;
    }
  return 1;
}

/* One reply, every line of it (RFC 5321 §4.2.1); its code, or 0 if the
 * connection ended or nothing came within 10 s. */
static int
read_reply (Conn *c)
{
  char line[MAX_REPLY_LINE];
  size_t length = 0;

  for (;;)
    {
      char octet;

      if (c->start == c->end)
        {
          ssize_t n = recv (c->fd, c->buffer, sizeof c->buffer, 0);

          if (n <= 0)
            return 0;
          c->start = 0;
          c->end = (size_t) n;
        }
      octet = c->buffer[c->start++];
      if (octet != '\n')
        {
          if (length < sizeof line - 1)
            line[length++] = octet;
          continue;
        }
      line[length] = '\0';
      if (length >= 4 && line[3] != '-') /* "250 " is the last line */
        return atoi (line);
      length = 0;
    }
}

static int
command (Conn *c, const char *format, ...)
{
  char line[MAX_REPLY_LINE];
  va_list args;
  int length;

  va_start (args, format);
  length = vsnprintf (line, sizeof line - 2, format, args);
  va_end (args);
  memcpy (line + length, "\r\n", 2);
  return send_all (c, line, length + 2) ? read_reply (c) : 0;
}

/* Connects, reads the greeting (§3.1) and says EHLO (§4.1.1.1). */
static int
session_open (Conn *c)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
  struct addrinfo *list = NULL;
  struct timeval timeout = { .tv_sec = 10 };

  c->fd = -1;
  c->start = c->end = 0;
  if (getaddrinfo (host, port, &hints, &list) != 0)
    return 0;
  for (struct addrinfo *a = list; a != NULL && c->fd < 0; a = a->ai_next)
    {
      c->fd = socket (a->ai_family, a->ai_socktype, a->ai_protocol);
      if (c->fd >= 0 && connect (c->fd, a->ai_addr, a->ai_addrlen) != 0)
        {
          close (c->fd);
          c->fd = -1;
        }
    }
  freeaddrinfo (list);
  if (c->fd < 0)
    return 0;
  setsockopt (c->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return read_reply (c) == 220 && (command (c, "EHLO probe.lab.test") == 250 ||
                                   command (c, "HELO probe.lab.test") == 250);
}

static void
session_close (Conn *c)
{
  command (c, "QUIT");
  close (c->fd);
}

/* TODO (RFC 5321 §7.1): an open relay takes RCPT TO:<x@other.domain>
 * from anyone, without AUTH. After MAIL FROM, try RCPT TO:<FOREIGN> and
 * print "relay: vulnerable (...)" for a 2xx, "relay: safe (...)"
 * otherwise. Then RSET: never send a message through a relay you found.
 * Returns 0 if the server could not be tested. */
static int
test_relay (void)
{
  Conn c;

  if (!session_open (&c))
    return 0;
  session_close (&c);
  return 1;
}

/* TODO (RFC 5321 §4.1.1.4, §4.5.2): open a transaction for RECIPIENT,
 * and after the 354 send a text that hides END, then a second MAIL FROM,
 * RCPT TO and DATA with a message of its own, then the real CRLF . CRLF.
 * How do you tell, from the replies, a server that ended the text at END
 * (and answered the hidden commands) from one that did not? A 250 alone
 * does not say: many safe servers accept a bare LF as text. Returns 1
 * for vulnerable, 0 for safe, -1 if it could not be tested; *OUT_FIRST
 * is the reply to the text. */
static int
test_smuggling (const char *end, const char *recipient, int *out_first)
{
  (void) end;
  (void) recipient;
  *out_first = 0;
  return 0;
}

int
main (int argc, char **argv)
{
  int any = 0;

  if (argc != 4)
    {
      fprintf (stderr, "usage: %s HOST PORT RECIPIENT\n", argv[0]);
      return 1;
    }
  signal (SIGPIPE, SIG_IGN);
  host = argv[1];
  port = argv[2];
  if (!test_relay ())
    {
      fprintf (stderr, "smtp-probe: %s:%s could not be tested\n", host, port);
      return 1;
    }
  for (size_t i = 0; i < LOOK_ALIKES; i++)
    {
      int first = 0;
      int vulnerable = test_smuggling (look_alikes[i].end, argv[3], &first);

      if (vulnerable < 0)
        {
          fprintf (stderr, "smtp-probe: no transaction for <%s>\n", argv[3]);
          return 1;
        }
      /* TODO: print "smuggling NAME: vulnerable|safe (why)" */
      any |= vulnerable;
    }
  (void) any; /* TODO: print "smuggling: vulnerable|safe" */
  return 0;
}
