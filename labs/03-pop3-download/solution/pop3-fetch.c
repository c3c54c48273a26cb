/* SPDX-License-Identifier: MIT
 * pop3-fetch.c: lab 3, the reference solution. Downloads every message of
 * a POP3 maildrop (RFC 1939) into a Maildir, and deletes it on the server
 * only once it is safely on disk; with --keep it leaves it there. Either
 * way MAILDIR/.pop3-uidls remembers what was saved (UIDL, RFC 1939 §7),
 * so a run after a dropped connection never saves a message twice.
 *
 *   POP3_PASSWORD=secret pop3-fetch [--keep] HOST PORT USER MAILDIR
 *
 * Exit 0 when the session ended with QUIT's +OK, 1 otherwise.
 */
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE 1024 /* RFC 1939 §3 allows 512; be generous with text */

typedef struct
{
  FILE *in, *out;
  const char *maildir;
  int keep;
} Pop3;

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

/* Reads one line without its CRLF; 0 when the connection ended. */
static int
read_line (Pop3 *pop, char *line)
{
  if (fgets (line, MAX_LINE, pop->in) == NULL)
    return 0;
  line[strcspn (line, "\r\n")] = '\0';
  return 1;
}

/* Sends a command (CRLF, RFC 1939 §3) and says whether it got "+OK". */
static int
command (Pop3 *pop, const char *format, const char *argument)
{
  char line[MAX_LINE];

  fprintf (pop->out, format, argument);
  fputs ("\r\n", pop->out);
  fflush (pop->out);
  return read_line (pop, line) && strncmp (line, "+OK", 3) == 0;
}

/* The rest of a multi-line response (RFC 1939 §3): lines up to "." alone,
 * with the stuffed dot taken off, each ended by CRLF. NULL if the
 * connection ended first: a message cut short is never saved. */
static char *
read_multiline (Pop3 *pop, size_t *out_length)
{
  char line[MAX_LINE];
  size_t length = 0, capacity = 4096;
  char *text = malloc (capacity);

  while (text != NULL && read_line (pop, line))
    {
      const char *p = line[0] == '.' ? line + 1 : line;
      size_t n = strlen (p);

      if (strcmp (line, ".") == 0)
        {
          *out_length = length;
          return text;
        }
      if (length + n + 3 > capacity)
        {
          char *bigger = realloc (text, capacity = 2 * (length + n + 3));
          if (bigger == NULL)
            break;
          text = bigger;
        }
      memcpy (text + length, p, n);
      memcpy (text + length + n, "\r\n", 2);
      length += n + 2;
    }
  free (text);
  return NULL;
}

/* write + fsync + close, all checked: only then is the text on disk. */
static int
write_file (const char *path, const char *data, size_t length, int flags)
{
  int fd = open (path, O_WRONLY | O_CREAT | flags, 0600);
  int ok = fd >= 0;

  for (size_t done = 0; ok && done < length;)
    {
      ssize_t n = write (fd, data + done, length - done);
      ok = n > 0;
      done += ok ? (size_t) n : 0;
    }
  ok = ok && fsync (fd) == 0;
  if (fd >= 0 && close (fd) != 0)
    ok = 0;
  return ok;
}

/* Maildir delivery: write in tmp/, then rename into new/ (the rename is
 * what makes the message appear, whole or not at all). */
static int
save_message (Pop3 *pop, const char *text, size_t length, const char *uid)
{
  char tmp[4096], new[4096], dir[4096];
  static unsigned count;
  int fd, ok;

  snprintf (tmp, sizeof tmp, "%s/tmp/%ld.P%d_%u.pop3", pop->maildir,
            (long) time (NULL), (int) getpid (), count);
  snprintf (new, sizeof new, "%s/new/%ld.P%d_%u.pop3", pop->maildir,
            (long) time (NULL), (int) getpid (), count++);
  ok = write_file (tmp, text, length, O_TRUNC) && rename (tmp, new) == 0;
  snprintf (dir, sizeof dir, "%s/new", pop->maildir);
  fd = open (dir, O_RDONLY);
  ok = ok && fd >= 0 && fsync (fd) == 0; /* the rename itself is durable */
  if (fd >= 0)
    close (fd);
  /* remember it: the next run will not save it again */
  snprintf (dir, sizeof dir, "%s/.pop3-uidls", pop->maildir);
  snprintf (tmp, sizeof tmp, "%s\n", uid);
  return ok && write_file (dir, tmp, strlen (tmp), O_APPEND);
}

static int
already_saved (Pop3 *pop, const char *uid)
{
  char path[4096], line[MAX_LINE];
  int found = 0;
  FILE *f;

  snprintf (path, sizeof path, "%s/.pop3-uidls", pop->maildir);
  f = fopen (path, "r");
  while (f != NULL && !found && fgets (line, sizeof line, f) != NULL)
    {
      line[strcspn (line, "\n")] = '\0';
      found = strcmp (line, uid) == 0;
    }
  if (f != NULL)
    fclose (f);
  return found;
}

/* One message: save it unless it was saved before, then DELE it (RFC
 * 1939 §5: only marked; the server deletes at QUIT, §6). */
static int
fetch_one (Pop3 *pop, const char *number, const char *uid)
{
  size_t length = 0;
  char *text = NULL;
  int ok = 1;

  if (!already_saved (pop, uid))
    {
      if (!command (pop, "RETR %s", number))
        return 0;
      text = read_multiline (pop, &length);
      ok = text != NULL && save_message (pop, text, length, uid);
      free (text);
    }
  if (ok && !pop->keep)
    ok = command (pop, "DELE %s", number);
  return ok;
}

/* UIDL (RFC 1939 §7): "number unique-id" lines, then fetch each. */
static int
fetch_all (Pop3 *pop)
{
  size_t length = 0;
  char *listing = NULL;
  int ok = 1;

  if (!command (pop, "%s", "UIDL") ||
      (listing = read_multiline (pop, &length)) == NULL)
    return 0;
  for (char *line = listing; ok && line < listing + length;)
    {
      char number[32], uid[128];
      char *end = strstr (line, "\r\n");

      *end = '\0';
      if (sscanf (line, "%31s %127s", number, uid) != 2)
        break;
      ok = fetch_one (pop, number, uid);
      line = end + 2;
    }
  free (listing);
  return ok;
}

static void
make_maildir (const char *maildir)
{
  static const char *const subdirs[] = { "", "/tmp", "/new", "/cur" };
  char path[4096];

  for (int i = 0; i < 4; i++)
    {
      snprintf (path, sizeof path, "%s%s", maildir, subdirs[i]);
      mkdir (path, 0700); /* EEXIST is fine; a real failure shows at save */
    }
}

int
main (int argc, char **argv)
{
  Pop3 pop = { 0 };
  char line[MAX_LINE];
  const char *password = getenv ("POP3_PASSWORD");
  int arg = 1, fd, ok;

  if (argc > 1 && strcmp (argv[1], "--keep") == 0)
    pop.keep = 1, arg++;
  if (argc - arg != 4 || password == NULL)
    {
      fprintf (stderr,
               "usage: POP3_PASSWORD=... %s [--keep] HOST PORT USER "
               "MAILDIR\n",
               argv[0]);
      return 1;
    }
  pop.maildir = argv[arg + 3];
  make_maildir (pop.maildir);
  fd = connect_to (argv[arg], argv[arg + 1]);
  if (fd < 0)
    {
      perror ("connect");
      return 1;
    }
  signal (SIGPIPE, SIG_IGN);
  pop.in = fdopen (fd, "r");
  pop.out = fdopen (dup (fd), "w");
  ok = read_line (&pop, line) && strncmp (line, "+OK", 3) == 0; /* §4 */
  ok = ok && command (&pop, "USER %s", argv[arg + 2]) &&
       command (&pop, "PASS %s", password) && fetch_all (&pop);
  /* QUIT even after a failure: what was DELEd and saved goes (§6) */
  ok = command (&pop, "%s", "QUIT") && ok;
  fclose (pop.in);
  fclose (pop.out);
  if (!ok)
    fprintf (stderr, "pop3-fetch: the session did not complete\n");
  return ok ? 0 : 1;
}
