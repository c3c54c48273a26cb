/* SPDX-License-Identifier: MIT
 * mail-catalog.c: lookups in the catalog tables of *-proto.c, and the
 * protocol log that servers print with --protocol-log.
 */
#include "mail-catalog.h"

#include <string.h>

/* Every line the tracer explains looks a name up, in tables of up to a
 * hundred rows, so each table gets an index on its first lookup: an open
 * addressing hash of its rows, kept for the life of the program. */
typedef struct
{
  const MailCatalogEntry *table;
  guint mask;                     /* slots - 1: slots is a power of two */
  const MailCatalogEntry **slots; /* NULL: empty */
} CatalogIndex;

#define CATALOG_MAX_INDEXES 64 /* tables indexed; more are searched */

/* RFC 5321 §2.4, RFC 9051 §9: verbs and codes are compared without case,
 * so they are hashed without case too (inline: this runs per octet). */
static inline guchar
fold (char c)
{
  return c >= 'A' && c <= 'Z' ? (guchar) (c + ('a' - 'A')) : (guchar) c;
}

static guint
name_hash (const char *name)
{
  guint hash = 5381; /* djb2, as g_str_hash () */

  for (const char *p = name; *p != '\0'; p++)
    hash = hash * 33 + fold (*p);
  return hash;
}

/* Octets equal as they are are not folded: the names on the wire are
 * mostly in the catalog's own case. */
static gboolean
name_equal (const char *a, const char *b)
{
  for (; *a == *b || fold (*a) == fold (*b); a++, b++)
    if (*a == '\0')
      return TRUE;
  return FALSE;
}

/* The slot for @name: the row it names, or the empty slot it would go
 * in. The table is at most half full, so an empty slot is always met. */
static const MailCatalogEntry **
index_slot (const CatalogIndex *index, const char *name)
{
  guint i = name_hash (name) & index->mask;

  while (index->slots[i] != NULL && !name_equal (index->slots[i]->name, name))
    i = (i + 1) & index->mask;
  return &index->slots[i];
}

static CatalogIndex *
index_new (const MailCatalogEntry *table)
{
  CatalogIndex *index = g_new0 (CatalogIndex, 1);
  guint rows = 0;
  guint size = 8;

  while (table[rows].name != NULL)
    rows++;
  while (size < 2 * rows)
    size *= 2;
  index->table = table;
  index->mask = size - 1;
  index->slots = g_new0 (const MailCatalogEntry *, size);
  /* a name twice: the first row answers, as a search from the top would */
  for (guint i = 0; i < rows; i++)
    {
      const MailCatalogEntry **slot = index_slot (index, table[i].name);
      if (*slot == NULL)
        *slot = &table[i];
    }
  return index;
}

/* Servers look names up from many threads. An index is written once,
 * before it is published by the atomic count; readers take only
 * published ones, without a lock; the lock is taken to build one. */
static CatalogIndex *indexes[CATALOG_MAX_INDEXES];
static gint index_count;

static const CatalogIndex *
published_index (const MailCatalogEntry *table, gint count)
{
  for (gint i = 0; i < count; i++)
    if (indexes[i]->table == table)
      return indexes[i];
  return NULL;
}

static const CatalogIndex *
table_index (const MailCatalogEntry *table)
{
  static GMutex lock;
  const CatalogIndex *index =
      published_index (table, g_atomic_int_get (&index_count));
  gint count;

  if (index != NULL)
    return index;
  g_mutex_lock (&lock);
  count = g_atomic_int_get (&index_count);
  index = published_index (table, count); /* another thread's, meanwhile */
  if (index == NULL && count < CATALOG_MAX_INDEXES)
    {
      indexes[count] = index_new (table);
      index = indexes[count];
      g_atomic_int_set (&index_count, count + 1);
    }
  g_mutex_unlock (&lock);
  return index;
}

const MailCatalogEntry *
mail_catalog_find (const MailCatalogEntry *table, const char *name)
{
  const CatalogIndex *index;

  g_return_val_if_fail (table != NULL, NULL);

  if (name == NULL)
    return NULL;
  index = table_index (table);
  if (index != NULL)
    return *index_slot (index, name);
  for (const MailCatalogEntry *entry = table; entry->name != NULL; entry++)
    if (g_ascii_strcasecmp (entry->name, name) == 0)
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
