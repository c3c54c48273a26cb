/* SPDX-License-Identifier: MIT
 * smtp-server.c: lab 8, your SMTP server (RFC 5321) for the mailboxes of
 * lab.test, with POSIX sockets and the C library only.
 *
 *   smtp-server PORT DIR
 *
 * Listens on 127.0.0.1 PORT, serves one connection at a time, and keeps
 * each message it accepts in a file of its own in DIR:
 *
 *   Return-Path: <alice@lab.test>      the reverse-path of MAIL (§4.4)
 *   Delivered-To: bob@lab.test         one line per accepted recipient
 *   ...the text as received, un-stuffed (§4.5.2), CRLF line ends...
 *
 * As given, it greets, answers QUIT, and answers every other line with
 * 502. Fill in the TODOs; README.md says what the grader tries.
 */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define DOMAIN "lab.test"
#define MAX_COMMAND_LINE 512 /* RFC 5321 §4.5.3.1.4, CRLF included */

/* TODO (RFC 5321 §4.1.4, §3.3): the states of a session (greeted, ready,
 * MAIL given, RCPT given), and a struct for the mail transaction (the
 * reverse-path, the recipients), cleared by RSET, EHLO and the end of
 * DATA. A command given in the wrong state is answered 503. */

/* TODO (RFC 5321 §2.3.8): fgets () ends a line at LF, but SMTP lines end
 * in CRLF, and only CRLF: a "." after a bare LF must not end the data
 * (lab 7, SMTP smuggling). Write a line reader over recv () that keeps
 * what it read beyond the line for the next call (a client may send
 * several commands in one write: RFC 2920), that is given a maximum
 * (§4.5.3.1.4: answer 500 to a longer line, read it to its end, go on),
 * and that returns the length, since a line may hold NUL octets. */
static int
read_line (FILE *in, char *line, size_t size)
{
  if (fgets (line, (int) size, in) == NULL)
    return 0;
  line[strcspn (line, "\r\n")] = '\0';
  return 1;
}

/* RFC 5321 §4.2: a reply is a code, a space, text and CRLF. */
static void
reply (int fd, const char *text)
{
  char line[MAX_COMMAND_LINE];
  int length = snprintf (line, sizeof line, "%s\r\n", text);

  send (fd, line, length, 0);
}

/* TODO: a table of commands { verb, states allowed, handler } and one
 * dispatch function that looks the verb up (any case, §2.4), answers 500
 * to an unknown one, 503 in the wrong state, otherwise calls the handler:
 *  - EHLO / HELO domain (§4.1.1.1): 250; 501 without a domain. EHLO's
 *    reply has several lines (§4.2.1) and lists PIPELINING (RFC 2920)
 *  - MAIL FROM:<address> (§4.1.1.2): 250; 501 for bad syntax
 *  - RCPT TO:<user@lab.test> (§4.1.1.3): 250; 550 for another domain
 *    (we do not relay: §3.6.2, §7.1); 501 for bad syntax
 *  - DATA (§4.1.1.4): 354, then the text up to CRLF . CRLF; remove the
 *    leading dot of other lines (§4.5.2); store the message (a file that
 *    appears whole or not at all: write DIR/.tmp-x, then rename ()),
 *    then 250. A client that vanishes before the "." leaves no file.
 *  - RSET (§4.1.1.5), NOOP (§4.1.1.9): 250; QUIT (§4.1.1.10): 221, close */
static void
serve (int fd, const char *dir)
{
  char line[MAX_COMMAND_LINE];
  FILE *in = fdopen (fd, "r");

  (void) dir;
  reply (fd, "220 mx." DOMAIN " ESMTP lab 8"); /* RFC 5321 §3.1 */
  while (read_line (in, line, sizeof line))
    {
      if (strcasecmp (line, "QUIT") == 0)
        {
          reply (fd, "221 bye");
          break;
        }
      reply (fd, "502 5.5.1 TODO: not implemented yet");
    }
  fclose (in);
}

int
main (int argc, char **argv)
{
  struct sockaddr_in address = { .sin_family = AF_INET };
  int listener;
  int on = 1;

  if (argc != 3)
    {
      fprintf (stderr, "usage: %s PORT DIR\n", argv[0]);
      return 1;
    }
  signal (SIGPIPE, SIG_IGN); /* a client that hangs up is not fatal */
  address.sin_port = htons ((unsigned short) atoi (argv[1]));
  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  listener = socket (AF_INET, SOCK_STREAM, 0);
  setsockopt (listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (bind (listener, (struct sockaddr *) &address, sizeof address) != 0 ||
      listen (listener, 16) != 0)
    {
      perror ("smtp-server: bind");
      return 1;
    }
  for (;;)
    {
      int fd = accept (listener, NULL, NULL);

      if (fd >= 0)
        serve (fd, argv[2]);
    }
}
