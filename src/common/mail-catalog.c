/* SPDX-License-Identifier: MIT
 * mail-catalog.c: lookups in the catalog tables of *-proto.c, and the
 * protocol log that servers print with --protocol-log.
 */
#include "mail-catalog.h"

#include <string.h>

const MailCatalogEntry *
mail_catalog_find (const MailCatalogEntry *table, const char *name)
{
  g_return_val_if_fail (table != NULL, NULL);

  if (name == NULL)
    return NULL;
  /* the first letters first: most rows differ there, and this is on
   * every line the tracer explains */
  for (const MailCatalogEntry *entry = table; entry->name != NULL; entry++)
    if (g_ascii_tolower (entry->name[0]) == g_ascii_tolower (name[0]) &&
        g_ascii_strcasecmp (entry->name, name) == 0)
      return entry;
  return NULL;
}

char *
mail_catalog_describe (const MailCatalogEntry *entry)
{
  if (entry == NULL)
    return NULL;
  return g_strdup_printf ("%s (%s)", entry->meaning, entry->rfc);
}

/* Commands whose arguments are credentials: the verb is logged, the rest
 * is masked. SASL responses are masked by the session, which knows when
 * one is coming (mail_stream_mask_next_line ()). */
static gboolean
carries_secret (const char *line)
{
  static const char *const verbs[] = { "AUTH ", "PASS ", "APOP ", NULL };
  const char *space = strchr (line, ' ');

  for (guint i = 0; verbs[i] != NULL; i++)
    if (g_ascii_strncasecmp (line, verbs[i], strlen (verbs[i])) == 0)
      return TRUE;
  /* IMAP: "<tag> LOGIN user password", "<tag> AUTHENTICATE PLAIN <ir>" */
  return space != NULL &&
         (g_ascii_strncasecmp (space + 1, "LOGIN ", 6) == 0 ||
          g_ascii_strncasecmp (space + 1, "AUTHENTICATE ", 13) == 0);
}

void
mail_catalog_log_line (const char *log_domain,
                       const char *peer,
                       gboolean from_client,
                       const char *line)
{
  g_autofree char *shown = NULL;

  if (from_client && carries_secret (line))
    {
      const char *space = strchr (line, ' ');
      const char *second = space ? strchr (space + 1, ' ') : NULL;

      /* keep "AUTH PLAIN" / "a1 LOGIN" and mask what follows */
      shown = g_strdup_printf ("%.*s ***",
                               (int) ((second ? second : space) - line), line);
    }
  g_log (log_domain, G_LOG_LEVEL_MESSAGE, "%s %s %s", peer,
         from_client ? "C:" : "S:", shown ? shown : line);
}
