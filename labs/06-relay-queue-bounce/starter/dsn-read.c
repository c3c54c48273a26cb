/* SPDX-License-Identifier: MIT
 * dsn-read.c: lab 6, your bounce reader. Reads a bounce, a delivery
 * status notification (RFC 3464) inside a multipart/report (RFC 6522),
 * and prints what happened to each recipient:
 *
 *   dsn-read FILE
 *
 *   Final-Recipient: bob@south.test        the address, without "rfc822;"
 *   Action: failed
 *   Status: 4.4.7
 *   Diagnostic-Code: smtp; 4.4.7 message expired after 5 attempts; ...
 *
 * four lines per recipient (a field the notification leaves out is not
 * printed), recipients in their order. Exit 0 when it printed at least
 * one recipient, 1 when FILE is not a delivery status notification.
 *
 * As given, it reads the message's header and prints nothing. Fill in
 * the TODOs; README.md says what the grader tries.
 */
#include <stdio.h>
#include <string.h>

#define MAX_LINE 4096

int
main (int argc, char **argv)
{
  FILE *in;
  char line[MAX_LINE];

  if (argc != 2 || (in = fopen (argv[1], "r")) == NULL)
    {
      fprintf (stderr, "usage: %s FILE (a bounce, as stored)\n", argv[0]);
      return 1;
    }
  /* The header section ends at the first empty line (RFC 5322 §2.1).
   * TODO: a line that starts with a space or a tab continues the field
   * before it (RFC 5322 §2.2.3, "unfolding"), and field names are
   * case-insensitive (RFC 5322 §1.2.2).
   * TODO: Content-Type must be multipart/report (RFC 6522 §3); keep its
   * boundary parameter, quoted or not (RFC 2045 §5.1). */
  while (fgets (line, sizeof line, in) != NULL)
    {
      line[strcspn (line, "\r\n")] = '\0';
      if (line[0] == '\0')
        break;
    }
  /* TODO: the parts start at "--" boundary lines and the last one ends at
   * "--" boundary "--" (RFC 2046 §5.1.1). Find the part whose
   * Content-Type is message/delivery-status (RFC 3464 §2): its body is a
   * group of per-message fields, then one group per recipient (§2.3),
   * with an empty line before each. Print Final-Recipient (§2.3.2, the
   * address without its type), Action (§2.3.3), Status (§2.3.4) and
   * Diagnostic-Code (§2.3.6) of every recipient, in that order. The other
   * parts (the text for people, the returned header) may hold lines that
   * look like these fields: they are not. */
  /* TODO: exit 1 when nothing was printed: FILE is not a bounce. */
  fclose (in);
  return 0;
}
