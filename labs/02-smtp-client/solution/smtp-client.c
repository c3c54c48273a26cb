/* SPDX-License-Identifier: MIT
 * smtp-client.c: lab 2, the reference solution. Sends the message on
 * standard input to every recipient over SMTP (RFC 5321), with POSIX
 * sockets and the C library only.
 *
 *   smtp-client HOST PORT FROM TO... < message
 *
 * Prints one line per recipient and one for the message ("<bob@x>
 * accepted 250", "<dave@x> refused 550", "message deferred 451") and
 * exits 0 (all accepted), 75 (something must be tried again: a 4xx) or
 * 69 (something was refused for good: a 5xx). 1: usage or network.
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

/* Reads one whole reply, every line of it (RFC 5321 §4.2.1: "250-" goes
 * on, "250 " is the last line). Returns its code, or 0 if the
 * connection ended. The text of the last line goes in @text. */
static int
read_reply (Smtp *smtp, char *text, size_t size)
{
  char line[MAX_REPLY_LINE + 2];

  for (;;)
    {
      if (fgets (line, sizeof line, smtp->in) == NULL || strlen (line) < 4 ||
          line[0] < '2' || line[0] > '5')
        {
          smtp->closed = 1; /* gone, or not a reply: give up, do not guess */
          return 0;
        }
      line[strcspn (line, "\r\n")] = '\0';
      snprintf (text, size, "%s", line + 4);
      if (line[3] != '-')
        {
          /* RFC 5321 §3.8: 421 closes the connection */
          smtp->closed = strncmp (line, "421", 3) == 0;
          return atoi (line);
        }
    }
}

/* Sends one command line, CRLF-terminated (RFC 5321 §2.3.8), and returns
 * the code of its reply. */
static int
command (Smtp *smtp, const char *format, const char *argument)
{
  char text[MAX_REPLY_LINE];

  fprintf (smtp->out, format, argument);
  fputs ("\r\n", smtp->out);
  fflush (smtp->out);
  return read_reply (smtp, text, sizeof text);
}

/* Remembers a 4xx or 5xx for the exit status (RFC 5321 §4.2.1: 4yz
 * means try again later, 5yz means do not). */
static void
note (Smtp *smtp, int code)
{
  if (code == 0 || (code >= 400 && code < 500))
    smtp->temporary = 1;
  else if (code >= 500)
    smtp->permanent = 1;
}

static const char *
verdict (int code)
{
  return code >= 200 && code < 300 ? "accepted"
         : code >= 500             ? "refused"
                                   : "deferred";
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

/* The message text: every line ends in CRLF whatever stdin used, and a
 * line that starts with "." gets one more (RFC 5321 §4.5.2). */
static void
send_text (Smtp *smtp)
{
  char *line = NULL;
  size_t capacity = 0;
  ssize_t length;

  while ((length = getline (&line, &capacity, stdin)) > 0)
    {
      line[strcspn (line, "\r\n")] = '\0';
      if (line[0] == '.')
        fputc ('.', smtp->out);
      fprintf (smtp->out, "%s\r\n", line);
    }
  free (line);
  fputs (".\r\n", smtp->out);
  fflush (smtp->out);
}

/* EHLO, or HELO if the server does not know EHLO (RFC 5321 §3.2). */
static int
greet (Smtp *smtp)
{
  int code = command (smtp, "EHLO %s", "client.lab.test");

  if (code >= 500 && code < 600)
    code = command (smtp, "HELO %s", "client.lab.test");
  return code;
}

/* One transaction (RFC 5321 §3.3): MAIL, a RCPT per recipient, DATA. */
static void
transaction (Smtp *smtp, const char *from, char **to, int count)
{
  char text[MAX_REPLY_LINE];
  int accepted = 0;
  int code = command (smtp, "MAIL FROM:<%s>", from);

  if (code != 250)
    {
      note (smtp, code);
      printf ("message %s %d\n", verdict (code), code);
      return;
    }
  for (int i = 0; i < count && !smtp->closed; i++)
    {
      code = command (smtp, "RCPT TO:<%s>", to[i]);
      printf ("<%s> %s %d\n", to[i], verdict (code), code);
      note (smtp, code);
      accepted += code >= 200 && code < 300;
    }
  if (smtp->closed)
    printf ("message deferred %d\n", code);
  if (accepted == 0 || smtp->closed)
    return;
  code = command (smtp, "%s", "DATA");
  if (code == 354)
    {
      send_text (smtp);
      code = read_reply (smtp, text, sizeof text);
    }
  note (smtp, code);
  printf ("message %s %d\n", verdict (code), code);
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
  /* RFC 5321 §3.1: the greeting; 554 or 421 mean go away */
  if (read_reply (&smtp, text, sizeof text) == 220 && greet (&smtp) == 250)
    transaction (&smtp, argv[3], argv + 4, argc - 4);
  else
    note (&smtp, 0);
  if (!smtp.closed)
    command (&smtp, "%s", "QUIT"); /* RFC 5321 §4.1.1.10 */
  fclose (smtp.in);
  fclose (smtp.out);
  return smtp.temporary ? EXIT_TEMPFAIL : smtp.permanent ? EXIT_UNAVAILABLE : 0;
}
