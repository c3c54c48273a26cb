/* SPDX-License-Identifier: MIT
 * idle-watch.c: lab 4, your IMAP IDLE client. Logs in to an IMAP server
 * (RFC 9051), selects INBOX and waits in IDLE (RFC 2177), printing every
 * response the server pushes, one a line, as it arrives, until Ctrl-C
 * (SIGINT or SIGTERM) or N pushes: then DONE and LOGOUT.
 *
 *   IMAP_PASSWORD=secret idle-watch [--events N] HOST PORT USER
 *
 * Exit 0 when LOGOUT got its tagged OK, 1 otherwise.
 *
 * As given, it logs in and logs out. Fill in the TODOs; README.md says
 * what the grader tries.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LINE 8192 /* RFC 9051 sets no limit; responses here are short */

typedef struct
{
  int fd;
  char buffer[MAX_LINE];
  size_t length;
  int next_tag;
} Imap;

static volatile sig_atomic_t stop_requested;

static void
on_stop (int signal_number)
{
  (void) signal_number;
  stop_requested = 1;
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

/* One line without its CRLF (RFC 9051 §2.2). 1: a line; 0: the connection
 * ended; -1: a stop was asked for (a signal interrupted the read). */
static int
read_line (Imap *imap, char *line, size_t size)
{
  for (;;)
    {
      char *end = memchr (imap->buffer, '\n', imap->length);
      if (end != NULL)
        {
          size_t n = (size_t) (end - imap->buffer) + 1;
          size_t keep = n - 1 < size - 1 ? n - 1 : size - 1;
          memcpy (line, imap->buffer, keep);
          line[keep] = '\0';
          line[strcspn (line, "\r")] = '\0';
          memmove (imap->buffer, end + 1, imap->length - n);
          imap->length -= n;
          return 1;
        }
      if (imap->length == sizeof imap->buffer || stop_requested)
        return stop_requested ? -1 : 0;
      ssize_t got = read (imap->fd, imap->buffer + imap->length,
                          sizeof imap->buffer - imap->length);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        return 0;
      imap->length += (size_t) got;
    }
}

static void
send_line (Imap *imap, const char *text)
{
  size_t length = strlen (text);
  (void) !write (imap->fd, text, length);
  (void) !write (imap->fd, "\r\n", 2);
}

/* Sends "TAG TEXT" (RFC 9051 §2.2.1); the tag goes to TAG. */
static void
send_command (Imap *imap, const char *text, char *tag, size_t size)
{
  char line[MAX_LINE];

  snprintf (tag, size, "a%d", ++imap->next_tag);
  snprintf (line, sizeof line, "%s %s", tag, text);
  send_line (imap, line);
}

/* Reads up to the tagged response to TAG (RFC 9051 §7.1): 1 if OK. */
static int
wait_tagged (Imap *imap, const char *tag)
{
  char line[MAX_LINE];
  size_t n = strlen (tag);

  stop_requested = 0; /* a second Ctrl-C here would lose the reply */
  while (read_line (imap, line, sizeof line) == 1)
    if (strncmp (line, tag, n) == 0 && line[n] == ' ')
      return strncmp (line + n + 1, "OK", 2) == 0;
  return 0;
}

static int
command (Imap *imap, const char *text)
{
  char tag[16];

  send_command (imap, text, tag, sizeof tag);
  return wait_tagged (imap, tag);
}

/* TODO: IDLE (RFC 2177 §3; RFC 9051 §6.3.13). Return 1 when it ended well.
 *  - send_command (imap, "IDLE", tag, sizeof tag);
 *  - the server answers with a continuation request, a line starting
 *    with "+" (RFC 9051 §7.5): read it before you wait for anything;
 *  - from then on every line is untagged data the server pushes on its own
 *    (RFC 9051 §7.4.1 EXISTS, §7.5.2 FETCH): print each one as it comes
 *    (printf + the line buffering main sets up) and count it; stop after
 *    EVENTS of them (0: no limit) or when read_line returns -1 (Ctrl-C);
 *  - while idling send nothing but "DONE" (RFC 2177 §3): no NOOP, no
 *    LOGOUT. The tagged reply to IDLE comes after DONE: wait_tagged ().
 */
static int
idle (Imap *imap, long events)
{
  (void) imap;
  (void) events;
  return 1;
}

int
main (int argc, char **argv)
{
  Imap imap = { .fd = -1 };
  struct sigaction action = { .sa_handler = on_stop }; /* no SA_RESTART */
  char login[1024];
  char greeting[MAX_LINE];
  const char *password = getenv ("IMAP_PASSWORD");
  long events = 0;

  if (argc >= 3 && strcmp (argv[1], "--events") == 0)
    {
      events = strtol (argv[2], NULL, 10);
      argv += 2;
      argc -= 2;
    }
  if (argc != 4 || password == NULL)
    {
      fprintf (stderr, "usage: IMAP_PASSWORD=... idle-watch [--events N] "
                       "HOST PORT USER\n");
      return 1;
    }
  setvbuf (stdout, NULL, _IOLBF, 0); /* each push shown as it comes */
  sigaction (SIGINT, &action, NULL);
  sigaction (SIGTERM, &action, NULL);
  imap.fd = connect_to (argv[1], argv[2]);
  if (imap.fd < 0 || read_line (&imap, greeting, sizeof greeting) != 1 ||
      strncmp (greeting, "* OK", 4) != 0)
    return 1;
  snprintf (login, sizeof login, "LOGIN \"%s\" \"%s\"", argv[3], password);
  /* TODO: SELECT INBOX (RFC 9051 §6.3.2) before idle (). */
  int ok = command (&imap, login) && idle (&imap, events) &&
           command (&imap, "LOGOUT"); /* RFC 9051 §6.1.3 */
  close (imap.fd);
  return ok ? 0 : 1;
}
