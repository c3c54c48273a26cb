/* SPDX-License-Identifier: MIT
 * smtp-client.c: lab 2, your SMTP client. Sends the message on standard
 * input to every recipient over SMTP (RFC 5321), with POSIX sockets and
 * the C library only.
 *
 *   smtp-client HOST PORT FROM TO... < message
 *
 * Prints one line per recipient and one for the message ("<bob@x>
 * accepted 250", "<dave@x> refused 550", "message deferred 451") and
 * exits 0 (all accepted), 75 (something must be tried again: a 4xx) or
 * 69 (something was refused for good: a 5xx). 1: usage or network.
 *
 * As given, it connects, prints the greeting and gives up. Fill in the
 * TODOs; README.md says what the grader tries.
 */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define EXIT_TEMPFAIL 75    /* sysexits.h EX_TEMPFAIL */
#define EXIT_UNAVAILABLE 69 /* sysexits.h EX_UNAVAILABLE */
#define MAX_REPLY_LINE 512  /* RFC 5321 §4.5.3.1.5, CRLF included */

typedef struct
{
  FILE *in;                 /* replies from the server */
  FILE *out;                /* commands to the server */
  int temporary, permanent; /* what the exit status will say */
  int closed;               /* 421 or the connection ended */
} Smtp;

/* Reads one reply and returns its code, or 0 if the connection ended.
 * TODO (RFC 5321 §4.2.1): a reply may have several lines: "250-..." says
 * more lines follow, "250 ..." is the last one. Read them all, or your
 * next read gets the rest of this reply instead of the next one.
 * TODO (RFC 5321 §3.8): after a 421 the server closes the connection. */
static int
read_reply (Smtp *smtp, char *text, size_t size)
{
  char line[MAX_REPLY_LINE + 2];

  if (fgets (line, sizeof line, smtp->in) == NULL)
    {
      smtp->closed = 1;
      return 0;
    }
  line[strcspn (line, "\r\n")] = '\0';
  snprintf (text, size, "%s", line);
  return atoi (line);
}

/* Sends one command line and returns the code of its reply.
 * TODO (RFC 5321 §2.3.8): every line ends in CRLF, "\r\n". */
static int
command (Smtp *smtp, const char *format, const char *argument)
{
  char text[MAX_REPLY_LINE];

  fprintf (smtp->out, format, argument);
  fputs ("\n", smtp->out);
  fflush (smtp->out);
  return read_reply (smtp, text, sizeof text);
}

static int
connect_to (const char *host, const char *port)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
  struct addrinfo *list = NULL;
  int fd = -1;

  if (getaddrinfo (host, port, &hints, &list) != 0)
    return -1;
  for (struct addrinfo *a = list; a != NULL && fd < 0; a = a->ai_next)
    {
      fd = socket (a->ai_family, a->ai_socktype, a->ai_protocol);
      if (fd >= 0 && connect (fd, a->ai_addr, a->ai_addrlen) != 0)
        {
          close (fd);
          fd = -1;
        }
    }
  freeaddrinfo (list);
  return fd;
}

/* TODO: the whole job.
 *  - EHLO, and HELO if the server answers EHLO with 5xx (RFC 5321 §3.2,
 *    §4.1.1.1)
 *  - MAIL FROM:<from> (§4.1.1.2), then RCPT TO:<to> for each recipient
 *    (§4.1.1.3); print one line per recipient; some may be refused (5xx)
 *    or deferred (4xx, §4.2.1): go on with the others
 *  - DATA (§4.1.1.4): send the text only after the 354 reply (RFC 2920
 *    §3.1: DATA ends a group even with PIPELINING)
 *  - the text: CRLF line ends (§2.3.8) and dot-stuffing (§4.5.2), then
 *    "." alone; print the verdict on the message
 *  - remember 4xx and 5xx for the exit status (§4.2.1) */
static void
transaction (Smtp *smtp, const char *from, char **to, int count)
{
  (void) smtp;
  (void) from;
  (void) to;
  (void) count;
  fprintf (stderr, "smtp-client: TODO: send the message\n");
  smtp->permanent = 1;
}

int
main (int argc, char **argv)
{
  char text[MAX_REPLY_LINE];
  Smtp smtp = { 0 };
  int fd;

  if (argc < 5)
    {
      fprintf (stderr, "usage: %s HOST PORT FROM TO... < message\n", argv[0]);
      return 1;
    }
  fd = connect_to (argv[1], argv[2]);
  if (fd < 0)
    {
      perror ("connect");
      return 1;
    }
  signal (SIGPIPE,
          SIG_IGN); /* a server that hangs up is an error, not a kill */
  smtp.in = fdopen (fd, "r");
  smtp.out = fdopen (dup (fd), "w");
  /* RFC 5321 §3.1: the greeting */
  if (read_reply (&smtp, text, sizeof text) == 220)
    {
      printf ("server said: %s\n", text);
      transaction (&smtp, argv[3], argv + 4, argc - 4);
    }
  if (!smtp.closed)
    command (&smtp, "%s", "QUIT"); /* RFC 5321 §4.1.1.10 */
  fclose (smtp.in);
  fclose (smtp.out);
  return smtp.temporary ? EXIT_TEMPFAIL : smtp.permanent ? EXIT_UNAVAILABLE : 0;
}
