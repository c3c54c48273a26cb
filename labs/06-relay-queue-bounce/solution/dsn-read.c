/* SPDX-License-Identifier: MIT
 * dsn-read.c: lab 6, the reference. Reads a bounce, a delivery status
 * notification (RFC 3464) inside a multipart/report (RFC 6522), and prints
 * what happened to each recipient:
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
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LINE 4096 /* a header line, unfolded (longer is cut) */
#define MAX_FIELDS 4  /* the per-recipient fields we print */

static const char *const wanted[MAX_FIELDS] = { "Final-Recipient", "Action",
                                                "Status", "Diagnostic-Code" };

typedef struct
{
  FILE *in;
  char pending[MAX_LINE]; /* a line read ahead (to see a fold) */
  int has_pending;
  int at_end;
} Reader;

/* One physical line without its line end (CRLF or LF); 0 at the end. */
static int
physical_line (Reader *r, char *line)
{
  size_t length;

  if (r->has_pending)
    {
      strcpy (line, r->pending);
      r->has_pending = 0;
      return 1;
    }
  if (r->at_end || fgets (line, MAX_LINE, r->in) == NULL)
    {
      r->at_end = 1;
      return 0;
    }
  length = strcspn (line, "\r\n");
  if (line[length] == '\0' && !feof (r->in)) /* over-long: drop the rest */
    {
      int c;
      while ((c = fgetc (r->in)) != EOF && c != '\n')
        ;
    }
  line[length] = '\0';
  return 1;
}

/* One header field, unfolded (RFC 5322 §2.2.3: a line that starts with
 * white space continues the field; the line break goes, the white space
 * stays). Stops at the blank line (returns 0) or at a BOUNDARY line. */
static int
header_field (Reader *r, char *field, const char *boundary)
{
  char next[MAX_LINE];

  if (!physical_line (r, field) || field[0] == '\0')
    return 0;
  if (boundary != NULL && strncmp (field, "--", 2) == 0 &&
      strncmp (field + 2, boundary, strlen (boundary)) == 0)
    {
      strcpy (r->pending, field);
      r->has_pending = 1;
      return 0;
    }
  while (physical_line (r, next))
    {
      if (next[0] != ' ' && next[0] != '\t')
        {
          strcpy (r->pending, next);
          r->has_pending = 1;
          break;
        }
      strncat (field, next, MAX_LINE - strlen (field) - 1);
    }
  return 1;
}

/* "Name: value" -> value (leading white space skipped) if NAME matches,
 * in any case (RFC 5322 §1.2.2: field names are case-insensitive). */
static const char *
field_value (const char *field, const char *name)
{
  size_t length = strlen (name);

  if (strncasecmp (field, name, length) != 0 || field[length] != ':')
    return NULL;
  field += length + 1;
  while (*field == ' ' || *field == '\t')
    field++;
  return field;
}

/* RFC 2045 §5.1: boundary=value or boundary="value" in Content-Type. */
static int
find_boundary (const char *content_type, char *out, size_t size)
{
  const char *p = content_type;
  size_t n = 0;

  while ((p = strchr (p, ';')) != NULL)
    {
      p++;
      while (*p == ' ' || *p == '\t')
        p++;
      if (strncasecmp (p, "boundary=", 9) != 0)
        continue;
      p += 9;
      if (*p == '"')
        for (p++; *p != '\0' && *p != '"' && n + 1 < size; p++)
          out[n++] = *p;
      else
        for (; *p != '\0' && *p != ';' && !isspace ((unsigned char) *p) &&
               n + 1 < size;
             p++)
          out[n++] = *p;
      out[n] = '\0';
      return n > 0;
    }
  return 0;
}

static int
is_type (const char *content_type, const char *type)
{
  size_t length = strlen (type);

  return strncasecmp (content_type, type, length) == 0 &&
         (content_type[length] == '\0' || content_type[length] == ';' ||
          isspace ((unsigned char) content_type[length]));
}

/* Skips to the line after "--BOUNDARY" that opens a part; 0 at the end
 * or at the closing "--BOUNDARY--" (RFC 2046 §5.1.1). */
static int
next_part (Reader *r, const char *boundary)
{
  char line[MAX_LINE];
  size_t length = strlen (boundary);

  while (physical_line (r, line))
    if (strncmp (line, "--", 2) == 0 &&
        strncmp (line + 2, boundary, length) == 0)
      return strncmp (line + 2 + length, "--", 2) != 0;
  return 0;
}

/* The fields of one per-recipient group (RFC 3464 §2.3), printed in
 * our order; returns how many there were (0: the group was empty). */
static int
print_group (Reader *r, const char *boundary)
{
  char field[MAX_LINE];
  char values[MAX_FIELDS][MAX_LINE] = { { 0 } };
  int found = 0;

  while (header_field (r, field, boundary))
    for (int i = 0; i < MAX_FIELDS; i++)
      {
        const char *value = field_value (field, wanted[i]);
        if (value != NULL)
          {
            snprintf (values[i], MAX_LINE, "%s", value);
            found++;
          }
      }
  for (int i = 0; found > 0 && i < MAX_FIELDS; i++)
    {
      const char *value = values[i];
      const char *semicolon = strchr (value, ';');

      if (value[0] == '\0')
        continue;
      /* RFC 3464 §2.3.2: address-type ";" generic-address */
      if (i == 0 && semicolon != NULL)
        for (value = semicolon + 1; *value == ' ' || *value == '\t';)
          value++;
      printf ("%s: %s\n", wanted[i], value);
    }
  return found;
}

/* The message/delivery-status part: the per-message group first
 * (RFC 3464 §2.2), then one group per recipient, blank lines between. */
static int
print_recipients (Reader *r, const char *boundary)
{
  char field[MAX_LINE];
  int recipients = 0;

  while (header_field (r, field, boundary)) /* per-message fields */
    ;
  while (!r->at_end && !r->has_pending)
    if (print_group (r, boundary) > 0)
      recipients++;
  return recipients;
}

int
main (int argc, char **argv)
{
  Reader r = { 0 };
  char field[MAX_LINE];
  char boundary[256] = "";
  int report = 0;
  int recipients = 0;

  if (argc != 2 || (r.in = fopen (argv[1], "r")) == NULL)
    {
      fprintf (stderr, "usage: %s FILE (a bounce, as stored)\n", argv[0]);
      return 1;
    }
  /* RFC 6522 §3: Content-Type: multipart/report; report-type=... */
  while (header_field (&r, field, NULL))
    {
      const char *value = field_value (field, "Content-Type");
      if (value != NULL && is_type (value, "multipart/report"))
        report = find_boundary (value, boundary, sizeof boundary);
    }
  while (report && next_part (&r, boundary))
    {
      int status = 0;

      while (header_field (&r, field, boundary))
        {
          const char *value = field_value (field, "Content-Type");
          if (value != NULL && is_type (value, "message/delivery-status"))
            status = 1;
        }
      if (status)
        recipients += print_recipients (&r, boundary);
    }
  fclose (r.in);
  if (recipients == 0)
    {
      fprintf (stderr, "dsn-read: %s: no delivery status notification\n",
               argv[1]);
      return 1;
    }
  return 0;
}
