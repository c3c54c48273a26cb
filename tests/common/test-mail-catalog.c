/* SPDX-License-Identifier: MIT
 * test-mail-catalog.c: the catalog of meanings is complete and well formed
 * (one plain sentence and an RFC section per row, no duplicate rows), its
 * lookups ignore case, and the protocol log never shows credentials.
 */
#include <string.h>

#include "imap-proto.h"
#include "mail-catalog.h"
#include "pop3-proto.h"
#include "smtp-proto.h"

typedef struct
{
  const char *name;
  const MailCatalogEntry *table;
} CatalogTable;

static const CatalogTable tables[] = {
  { "smtp-commands", smtp_proto_commands },
  { "smtp-replies", smtp_proto_replies },
  { "smtp-enhanced-codes", smtp_proto_enhanced_codes },
  { "smtp-extensions", smtp_proto_extensions },
  { "pop3-commands", pop3_catalog_commands },
  { "pop3-status", pop3_catalog_status },
  { "pop3-response-codes", pop3_catalog_response_codes },
  { "pop3-capabilities", pop3_catalog_capabilities },
  { "smtp-parameters", smtp_proto_parameters },
  { "imap-commands", imap_proto_commands },
  { "imap-statuses", imap_proto_statuses },
  { "imap-response-codes", imap_proto_response_codes },
  { "imap-data-responses", imap_proto_data_responses },
  { "imap-fetch-items", imap_proto_fetch_items },
};

/* Each row: a name, a sentence, and a findable "RFC NNNN" citation. */
static void
test_table_well_formed (gconstpointer data)
{
  const CatalogTable *t = data;
  g_autoptr (GHashTable) seen =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint rows = 0;

  for (const MailCatalogEntry *e = t->table; e->name != NULL; e++, rows++)
    {
      g_autofree char *key = g_ascii_strup (e->name, -1);

      g_assert_nonnull (e->meaning);
      g_assert_cmpuint (strlen (e->meaning), >, 3);
      g_assert_nonnull (e->rfc);
      g_assert_true (g_str_has_prefix (e->rfc, "RFC ") ||
                     g_str_has_prefix (e->rfc, "draft-"));
      if (!g_hash_table_add (seen, g_steal_pointer (&key)))
        g_error ("%s: duplicate row %s", t->name, e->name);
    }
  g_assert_cmpuint (rows, >=, 2); /* pop3 status: +OK -ERR + */
}

static void
test_find_ignores_case (void)
{
  const MailCatalogEntry *entry =
      mail_catalog_find (smtp_proto_commands, "ehlo");

  g_assert_nonnull (entry);
  g_assert_cmpstr (entry->name, ==, "EHLO");
  g_assert_null (mail_catalog_find (smtp_proto_commands, "XYZZY"));
  g_assert_null (mail_catalog_find (smtp_proto_commands, NULL));
}

/* Every row is found by its own name, in capitals and in small letters
 * (mail_catalog_find () looks names up in a hashed index of the table:
 * a row the index lost, or a probe that stops early, fails here). */
static void
test_find_every_row (gconstpointer data)
{
  const CatalogTable *t = data;

  for (const MailCatalogEntry *e = t->table; e->name != NULL; e++)
    {
      g_autofree char *upper = g_ascii_strup (e->name, -1);
      g_autofree char *lower = g_ascii_strdown (e->name, -1);
      g_autofree char *longer = g_strconcat (e->name, "X", NULL);

      g_assert_true (mail_catalog_find (t->table, upper) == e);
      g_assert_true (mail_catalog_find (t->table, lower) == e);
      g_assert_true (mail_catalog_find (t->table, longer) != e);
    }
}

/* More tables than the catalog indexes (64): the later ones are
 * searched row by row, with the same answers. */
#define MANY_TABLES 80
static void
test_find_past_the_indexed_tables (void)
{
  static MailCatalogEntry many[MANY_TABLES][3];
  static char names[MANY_TABLES][2][16];

  for (guint i = 0; i < MANY_TABLES; i++)
    for (guint row = 0; row < 2; row++)
      {
        g_snprintf (names[i][row], sizeof names[i][row], "T%uR%u", i, row);
        many[i][row] = (MailCatalogEntry){ names[i][row], "a row", "RFC 1" };
      }
  for (guint i = 0; i < MANY_TABLES; i++)
    {
      g_autofree char *asked = g_strdup_printf ("t%ur1", i);
      g_autofree char *other = g_strdup_printf ("T%uR1", (i + 1) % MANY_TABLES);

      g_assert_true (mail_catalog_find (many[i], asked) == &many[i][1]);
      g_assert_null (mail_catalog_find (many[i], other));
    }
}

/* The sentence a student sees for 354 names the end of mail data. */
static void
test_describe_354 (void)
{
  g_autofree char *text = mail_catalog_describe (smtp_proto_reply_info (354));

  g_assert_nonnull (text);
  g_assert_nonnull (strstr (text, "RFC 5321"));
  g_assert_nonnull (strstr (text, "."));
  g_assert_null (mail_catalog_describe (NULL));
}

typedef struct
{
  const char *line;   /* what the client sent */
  const char *logged; /* what the protocol log shows */
} MaskCase;

static const MaskCase mask_cases[] = {
  { "AUTH PLAIN AGFsaWNlAHNlY3JldA==", "1.2.3.4:5 C: AUTH PLAIN ***" },
  { "PASS hunter2", "1.2.3.4:5 C: PASS ***" },
  { "a1 LOGIN alice hunter2", "1.2.3.4:5 C: a1 LOGIN ***" },
  { "MAIL FROM:<alice@example.test>",
    "1.2.3.4:5 C: MAIL FROM:<alice@example.test>" },
};

static void
test_log_masks_secrets (gconstpointer data)
{
  const MaskCase *c = data;

  g_test_expect_message ("test", G_LOG_LEVEL_MESSAGE, c->logged);
  mail_catalog_log_line ("test", "1.2.3.4:5", TRUE, c->line);
  g_test_assert_expected_messages ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (tables); i++)
    {
      g_autofree char *path = g_strdup_printf (
          "/catalog/%s/rows-have-meaning-and-rfc", tables[i].name);

      g_test_add_data_func (path, &tables[i], test_table_well_formed);
    }
  for (guint i = 0; i < G_N_ELEMENTS (tables); i++)
    {
      g_autofree char *path =
          g_strdup_printf ("/catalog/%s/every-row-is-found", tables[i].name);

      g_test_add_data_func (path, &tables[i], test_find_every_row);
    }
  g_test_add_func ("/catalog/find/ignores-case", test_find_ignores_case);
  g_test_add_func ("/catalog/find/past-the-indexed-tables-too",
                   test_find_past_the_indexed_tables);
  g_test_add_func ("/catalog/describe/354-cites-rfc-5321", test_describe_354);
  for (guint i = 0; i < G_N_ELEMENTS (mask_cases); i++)
    {
      g_autofree char *path =
          g_strdup_printf ("/catalog/log/masks-credentials-%u", i);

      g_test_add_data_func (path, &mask_cases[i], test_log_masks_secrets);
    }
  return g_test_run ();
}
