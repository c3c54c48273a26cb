/* SPDX-License-Identifier: MIT
 * smtp-server.c: lab 8 reference: an SMTP server (RFC 5321 §3, §4.1) for
 * the mailboxes of lab.test that keeps each message it accepts in a file
 * of its own, with POSIX sockets and the C library only.
 *
 *   smtp-server PORT DIR
 *
 * Listens on 127.0.0.1 PORT, serves one connection at a time, and writes
 * each accepted message to DIR: a Return-Path line (§4.4), one
 * Delivered-To line per recipient, then the text as received, un-stuffed
 * (§4.5.2). A file appears in DIR (by rename ()) only once the message is
 * complete, so a client that vanishes mid-DATA leaves nothing behind.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DOMAIN "lab.test"
#define MAX_COMMAND_LINE 512  /* RFC 5321 §4.5.3.1.4, CRLF included */
#define MAX_TEXT_LINE 1000    /* §4.5.3.1.6, CRLF included */
#define MAX_PATH 256          /* §4.5.3.1.3, the brackets included */
#define MAX_RECIPIENTS 100    /* §4.5.3.1.8 */
#define MAX_MESSAGE (1 << 22) /* what we keep in memory: 4 MiB */

/* GREETED --EHLO/HELO--> READY --MAIL--> MAIL --RCPT--> RCPT --DATA--> DATA
 *                          ^------- RSET, EHLO (§4.1.1.5) / "." ends DATA -+ */
typedef enum
{
  STATE_GREETED = 1 << 0, /* banner sent, waiting for EHLO/HELO */
  STATE_READY = 1 << 1,   /* no transaction open */
  STATE_MAIL = 1 << 2,    /* MAIL accepted, need RCPT */
  STATE_RCPT = 1 << 3,    /* at least one RCPT accepted */
} State;
#define STATE_ANY (STATE_GREETED | STATE_READY | STATE_MAIL | STATE_RCPT)

typedef struct
{
  int fd;
  char buffer[4096]; /* octets read and not yet taken */
  size_t start, end;
} Reader;

/* The mail transaction (RFC 5321 §3.3): cleared by RSET, EHLO and ".". */
typedef struct
{
  char reverse_path[MAX_PATH];
  char recipients[MAX_RECIPIENTS][MAX_PATH];
  int count;
} Transaction;

typedef struct
{
  Reader in;
  State state;
  int quit;
  Transaction transaction;
  const char *dir;
} Session;

typedef struct
{
  const char *verb;
  int allowed; /* States it is valid in: otherwise 503 (§4.1.4) */
  void (*handle) (Session *session, const char *argument);
} Command;

/* The only place that writes reply codes and CRLF (RFC 5321 §4.2). */
static void
reply (Session *session, int code, const char *format, ...)
{
  char text[MAX_COMMAND_LINE];
  va_list args;
  int length;

  va_start (args, format);
  length = snprintf (text, sizeof text, "%d ", code);
  length += vsnprintf (text + length, sizeof text - length - 2, format, args);
  va_end (args);
  memcpy (text + length, "\r\n", 2);
  if (send (session->in.fd, text, length + 2, 0) < 0)
    session->quit = 1;
}

/* The next octet from the peer, or -1 when it closed the connection. */
static int
next_octet (Reader *in)
{
  if (in->start == in->end)
    {
      ssize_t n;

      do
        n = recv (in->fd, in->buffer, sizeof in->buffer, 0);
      while (n < 0 && errno == EINTR);
      if (n <= 0)
        return -1;
      in->start = 0;
      in->end = (size_t) n;
    }
  return (unsigned char) in->buffer[in->start++];
}

/* Reads one line into LINE (NUL added, CRLF removed; *out_length octets,
 * which may include NULs). RFC 5321 §2.3.8: only CRLF ends a line, so a
 * bare LF or CR is an octet like any other and "\n.\n" ends nothing.
 * Returns 1 for a line, 0 when the peer closed, -1 for a line that did
 * not fit in SIZE octets with its CRLF: read to its end and dropped. */
static int
read_line (Reader *in, char *line, size_t size, size_t *out_length)
{
  size_t length = 0;
  int too_long = 0;
  int previous = -1;
  int c;

  while ((c = next_octet (in)) >= 0)
    {
      if (c == '\n' && previous == '\r')
        {
          if (too_long)
            return -1;
          line[--length] = '\0'; /* the CR */
          *out_length = length;
          return 1;
        }
      if (length + 1 < size)
        line[length++] = (char) c;
      else
        too_long = 1;
      previous = c;
    }
  return 0;
}

/* RFC 5321 §4.1.2: Reverse-path / Forward-path = "<" Mailbox ">", after
 * KEYWORD ("FROM:" or "TO:"); parameters after the path are ignored.
 * Copies the mailbox (without brackets) to OUT; returns 0 on bad syntax. */
static int
parse_path (const char *argument, const char *keyword, char *out)
{
  size_t keyword_length = strlen (keyword);
  const char *end;

  if (strncasecmp (argument, keyword, keyword_length) != 0)
    return 0;
  argument += keyword_length;
  while (*argument == ' ')
    argument++;
  end = strchr (argument, '>');
  if (argument[0] != '<' || end == NULL || end - argument >= MAX_PATH - 1)
    return 0;
  memcpy (out, argument + 1, end - argument - 1);
  out[end - argument - 1] = '\0';
  return strpbrk (out, "< ") == NULL;
}

static void
transaction_clear (Session *session)
{
  memset (&session->transaction, 0, sizeof session->transaction);
  session->state = STATE_READY;
}

/* RFC 5321 §4.1.1.1: HELO/EHLO domain; either one starts afresh. */
static void
cmd_helo (Session *session, const char *argument)
{
  if (argument[0] == '\0')
    {
      reply (session, 501, "5.5.4 HELO/EHLO needs your domain");
      return;
    }
  transaction_clear (session);
  reply (session, 250, "mx.%s greets %s", DOMAIN, argument);
}

static void
cmd_ehlo (Session *session, const char *argument)
{
  static const char extensions[] = "250-mx." DOMAIN " greets you\r\n"
                                   "250-PIPELINING\r\n" /* RFC 2920 */
                                   "250 ENHANCEDSTATUSCODES\r\n";

  if (argument[0] == '\0')
    {
      reply (session, 501, "5.5.4 EHLO needs your domain");
      return;
    }
  transaction_clear (session);
  /* RFC 5321 §4.2.1: "250-" on every line but the last */
  if (send (session->in.fd, extensions, sizeof extensions - 1, 0) < 0)
    session->quit = 1;
}

/* RFC 5321 §4.1.1.2: "MAIL FROM:" Reverse-path [SP Mail-parameters] */
static void
cmd_mail (Session *session, const char *argument)
{
  if (!parse_path (argument, "FROM:", session->transaction.reverse_path))
    {
      reply (session, 501, "5.5.4 syntax: MAIL FROM:<address>");
      return;
    }
  session->state = STATE_MAIL;
  reply (session, 250, "2.1.0 sender <%s> OK",
         session->transaction.reverse_path);
}

/* RFC 5321 §4.1.1.3: "RCPT TO:" Forward-path [SP Rcpt-parameters] */
static void
cmd_rcpt (Session *session, const char *argument)
{
  Transaction *t = &session->transaction;
  char mailbox[MAX_PATH];
  const char *at;

  if (!parse_path (argument, "TO:", mailbox) ||
      (at = strrchr (mailbox, '@')) == NULL || at == mailbox)
    reply (session, 501, "5.5.4 syntax: RCPT TO:<user@domain>");
  else if (strcasecmp (at + 1, DOMAIN) != 0)
    reply (session, 550, "5.7.1 <%s>: relaying denied", mailbox);
  else if (t->count == MAX_RECIPIENTS)
    reply (session, 452, "4.5.3 too many recipients"); /* §4.5.3.1.10 */
  else
    {
      strcpy (t->recipients[t->count++], mailbox);
      session->state = STATE_RCPT;
      reply (session, 250, "2.1.5 recipient <%s> OK", mailbox);
    }
}

/* Writes the message to DIR/.tmp-NAME, flushes it to disk, then renames
 * it to DIR/NAME: the file is there whole or not at all. */
static int
store (Session *session, const char *text, size_t length)
{
  static unsigned long count;
  char tmp[4096];
  char name[4096];
  FILE *f;
  int ok;

  snprintf (name, sizeof name, "%s/%ld.%d.%lu", session->dir,
            (long) time (NULL), (int) getpid (), ++count);
  snprintf (tmp, sizeof tmp, "%s/.tmp-%ld.%d.%lu", session->dir,
            (long) time (NULL), (int) getpid (), count);
  f = fopen (tmp, "wb");
  if (f == NULL)
    return 0;
  fprintf (f, "Return-Path: <%s>\r\n", session->transaction.reverse_path);
  for (int i = 0; i < session->transaction.count; i++)
    fprintf (f, "Delivered-To: %s\r\n", session->transaction.recipients[i]);
  fwrite (text, 1, length, f);
  ok = fflush (f) == 0 && fsync (fileno (f)) == 0;
  ok = fclose (f) == 0 && ok && rename (tmp, name) == 0;
  if (!ok)
    unlink (tmp);
  return ok;
}

/* RFC 5321 §4.1.1.4: the text, up to a line holding only "." (CRLF . CRLF);
 * §4.5.2: a leading dot of any other line is removed. The text is kept in
 * memory and stored only once it is complete. */
static void
cmd_data (Session *session, const char *argument)
{
  char line[MAX_TEXT_LINE];
  char *text = malloc (MAX_MESSAGE);
  size_t length = 0;
  size_t line_length = 0;
  int refused = 0; /* 500 or 552: the text is read to its end, not stored */
  int status;

  (void) argument;
  reply (session, 354, "end the text with <CRLF>.<CRLF>");
  while ((status = read_line (&session->in, line, sizeof line, &line_length)) !=
         0)
    {
      const char *p = line[0] == '.' ? line + 1 : line;
      size_t n = line_length - (p - line);

      if (status > 0 && strcmp (line, ".") == 0)
        break;
      if (status < 0)
        refused = 500; /* §4.5.3.1.6: 1000 octets with the CRLF */
      else if (text == NULL || length + n + 2 > MAX_MESSAGE)
        refused = 552; /* §4.5.3.1.7 */
      else
        {
          memcpy (text + length, p, n);
          memcpy (text + length + n, "\r\n", 2);
          length += n + 2;
        }
    }
  if (status == 0) /* the client vanished: nothing is stored */
    session->quit = 1;
  else if (refused == 500)
    reply (session, 500, "5.5.2 a text line over 1000 octets");
  else if (refused == 552)
    reply (session, 552, "5.3.4 message too big");
  else if (!store (session, text, length))
    reply (session, 451, "4.3.0 message not stored, try again later");
  else
    reply (session, 250, "2.0.0 message accepted");
  free (text);
  transaction_clear (session);
}

/* RFC 5321 §4.1.1.5 */
static void
cmd_rset (Session *session, const char *argument)
{
  (void) argument;
  if (session->state != STATE_GREETED)
    transaction_clear (session);
  reply (session, 250, "2.0.0 reset");
}

/* RFC 5321 §4.1.1.9 */
static void
cmd_noop (Session *session, const char *argument)
{
  (void) argument;
  reply (session, 250, "2.0.0 OK");
}

/* RFC 5321 §4.1.1.10 */
static void
cmd_quit (Session *session, const char *argument)
{
  (void) argument;
  reply (session, 221, "2.0.0 bye");
  session->quit = 1;
}

static const Command commands[] = {
  /* verb   allowed in                    handler      RFC 5321 */
  { "EHLO", STATE_ANY, cmd_ehlo },               /* §4.1.1.1 */
  { "HELO", STATE_ANY, cmd_helo },               /* §4.1.1.1 */
  { "MAIL", STATE_READY, cmd_mail },             /* §4.1.1.2 */
  { "RCPT", STATE_MAIL | STATE_RCPT, cmd_rcpt }, /* §4.1.1.3 */
  { "DATA", STATE_RCPT, cmd_data },              /* §4.1.1.4 */
  { "RSET", STATE_ANY, cmd_rset },               /* §4.1.1.5 */
  { "NOOP", STATE_ANY, cmd_noop },               /* §4.1.1.9 */
  { "QUIT", STATE_ANY, cmd_quit },               /* §4.1.1.10 */
};

/* Looks up the verb (case does not matter, §2.4) and checks the state:
 * the only place that does. */
static void
dispatch (Session *session, char *line, size_t length)
{
  size_t verb_length = strcspn (line, " ");
  const char *argument = line[verb_length] ? line + verb_length + 1 : "";

  if (strlen (line) != length)
    {
      reply (session, 500, "5.5.2 NUL in a command");
      return;
    }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (verb_length == 4 && strncasecmp (line, commands[i].verb, 4) == 0)
      {
        if ((commands[i].allowed & session->state) == 0)
          reply (session, 503, "5.5.1 bad sequence of commands");
        else
          commands[i].handle (session, argument);
        return;
      }
  reply (session, 500, "5.5.2 command not recognized");
}

static void
serve (int fd, const char *dir)
{
  Session session = { .in = { .fd = fd }, .state = STATE_GREETED, .dir = dir };
  char line[MAX_COMMAND_LINE];
  size_t length;
  int status;

  reply (&session, 220, "mx.%s ESMTP lab 8", DOMAIN); /* RFC 5321 §3.1 */
  while (!session.quit &&
         (status = read_line (&session.in, line, sizeof line, &length)) != 0)
    {
      if (status < 0)
        reply (&session, 500, "5.5.2 line too long (RFC 5321 §4.5.3.1.4)");
      else
        dispatch (&session, line, length);
    }
  close (fd);
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
