/* SPDX-License-Identifier: MIT
 * mail-catalog.h: the shape of the catalog of meanings. Each protocol's
 * *-proto.c holds tables of MailCatalogEntry: every command, reply code
 * and response code with one plain sentence and the RFC section. Servers
 * name codes from the same headers; clients' --trace, mw-trace, labs and
 * slides print these sentences. The text lives once.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  const char *name;    /* "MAIL", "354", "5.7.1", "IN-USE", "UIDVALIDITY" */
  const char *meaning; /* one plain sentence, no trailing period */
  const char *rfc;     /* "RFC 5321 §4.1.1.2" */
} MailCatalogEntry;

/* Case-insensitive lookup in a table ended by a { NULL } row. */
const MailCatalogEntry *mail_catalog_find (const MailCatalogEntry *table,
                                           const char *name);
/* "meaning (RFC ...)" or NULL for NULL (transfer full). */
char *mail_catalog_describe (const MailCatalogEntry *entry);

/* Protocol-log helper for servers: logs "C: line" / "S: line" at
 * g_message level under the caller's log domain, masking the argument of
 * lines that carry credentials (AUTH/PASS/LOGIN and SASL responses). */
void mail_catalog_log_line (const char *log_domain,
                            const char *peer,
                            gboolean from_client,
                            const char *line);

G_END_DECLS
