/* SPDX-License-Identifier: MIT
 * test-imap-cache.c: the per-folder cache of ENVELOPE, BODY and
 * BODYSTRUCTURE (RFC 9051 §7.5.2) is a cache and nothing more (DESIGN.md,
 * principle 7): a hit is byte for byte what a fresh parse gives; a
 * damaged, cut or stale file is ignored, line by line, and rewritten; a
 * message replaced under the same name with another size is computed
 * again; entries of messages gone are dropped; writers never tear the
 * file. Then mw-imapd as a process (suite integration): FETCH answers the
 * same with the file, without it and with it damaged, and a warm FETCH
 * reads no message.
 *
 * The messages are the .eml files in tests/imap/files, and two more
 * whose items hold what the file must escape (CR LF in a literal, TAB).
 */
#define _GNU_SOURCE /* nftw () */

#include <ftw.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "imap-cache.h"
#include "imap-message.h"
#include "imap-parser.h"
#include "mail-line.h"
#include "mail-net.h"
#include "mail-store.h"
#include "mw-harness.h"

#define FOLDER "Archive/2026" /* Maildir++: ROOT/.Archive.2026 */

/* 8-bit header text goes out as a literal, "{n}" CRLF and the octets */
static const char message_8bit[] =
    "From: J\xc3\xb6rg <j@example.test>\r\nSubject: Gr\xc3\xbc\xc3\x9f"
    "e\tand a tab\r\n\r\nbody\r\n";
static const char message_replacement[] =
    "From: someone-else@example.test\r\nSubject: replaced, longer than "
    "any of the others so the size differs\r\n\r\nnew body\r\n";

typedef struct
{
  char *root;
  MailStore *store;
  MailFolder *folder;
  GPtrArray *texts; /* GBytes: what was delivered, in UID order */
} Fixture;

static int
remove_entry (const char *path,
              const struct stat *st,
              int flag,
              struct FTW *ftw)
{
  return remove (path);
}

static void
deliver (Fixture *f, const char *text, gsize length)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (
      mail_maildir_deliver (f->root, FOLDER, text, length, NULL, &error));
  g_assert_no_error (error);
  g_ptr_array_add (f->texts, g_bytes_new (text, length));
}

/* Every .eml file, then the two above. */
static void
deliver_all (Fixture *f)
{
  g_autofree char *dir =
      g_test_build_filename (G_TEST_DIST, "imap", "files", NULL);
  g_autoptr (GDir) files = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name = NULL;

  g_assert_nonnull (files);
  while ((name = g_dir_read_name (files)) != NULL)
    if (g_str_has_suffix (name, ".eml"))
      g_ptr_array_add (names, g_build_filename (dir, name, NULL));
  g_assert_cmpuint (names->len, >, 10);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *text = NULL;
      gsize length = 0;

      g_assert_true (
          g_file_get_contents (names->pdata[i], &text, &length, NULL));
      deliver (f, text, length);
    }
  deliver (f, message_8bit, strlen (message_8bit));
}

static MailFolder *
open_folder (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  MailFolder *folder = mail_folder_open (f->store, FOLDER, &error);

  g_assert_no_error (error);
  return folder;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->root = g_dir_make_tmp ("mw-imap-cache-XXXXXX", &error);
  g_assert_no_error (error);
  f->store = mail_store_open (f->root, &error);
  g_assert_no_error (error);
  f->texts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  deliver_all (f);
  f->folder = open_folder (f);
  g_assert_cmpuint (mail_folder_get_count (f->folder), ==, f->texts->len);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->folder, mail_folder_free);
  mail_store_free (f->store);
  g_ptr_array_unref (f->texts);
  g_assert_cmpint (nftw (f->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS), ==,
                   0);
  g_free (f->root);
}

/* ---- helpers ---------------------------------------------------------- */

static char *
cache_dir (Fixture *f)
{
  return g_build_filename (f->root, ".Archive.2026", NULL);
}

static char *
cache_path (Fixture *f)
{
  return g_build_filename (f->root, ".Archive.2026", IMAP_CACHE_FILE_NAME,
                           NULL);
}

static ImapMessage *
parse (Fixture *f, guint index)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) data = mail_folder_read_message (f->folder, index, &error);

  g_assert_no_error (error);
  return imap_message_new (data);
}

/* @item as a fresh parse gives it (transfer full). */
static char *
fresh (Fixture *f, guint index, ImapCacheItem item)
{
  g_autoptr (ImapMessage) message = parse (f, index);
  GString *out = g_string_new (NULL);

  if (item == IMAP_CACHE_ENVELOPE)
    imap_message_append_envelope (message, out);
  else
    imap_message_append_bodystructure (message, out,
                                       item == IMAP_CACHE_BODYSTRUCTURE);
  return g_string_free (out, FALSE);
}

/* @item as @cache has it, or NULL (transfer full). */
static char *
cached (Fixture *f, ImapCache *cache, guint index, ImapCacheItem item)
{
  GString *out = g_string_new (NULL);

  if (!imap_cache_append (cache, mail_folder_get_message (f->folder, index),
                          item, out))
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  return g_string_free (out, FALSE);
}

/* A new cache that has read the file. */
static ImapCache *
load_cache (Fixture *f)
{
  g_autofree char *dir = cache_dir (f);
  ImapCache *cache = imap_cache_new (dir);

  imap_cache_refresh (cache, f->folder);
  return cache;
}

/* Computes every item of message @index into @cache. */
static void
add_message (Fixture *f, ImapCache *cache, guint index)
{
  g_autoptr (ImapMessage) parsed = parse (f, index);

  for (ImapCacheItem item = 0; item < IMAP_CACHE_N_ITEMS; item++)
    imap_cache_add (cache, mail_folder_get_message (f->folder, index), item,
                    parsed);
}

static void
add_all (Fixture *f, ImapCache *cache)
{
  for (guint i = 0; i < mail_folder_get_count (f->folder); i++)
    add_message (f, cache, i);
}

static void
write_cache (Fixture *f, ImapCache *cache)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (imap_cache_write (cache, f->folder, &error));
  g_assert_no_error (error);
}

/* Fills the file with every message's entry. */
static void
write_full_cache (Fixture *f)
{
  g_autoptr (ImapCache) cache = load_cache (f);

  add_all (f, cache);
  write_cache (f, cache);
}

/* How many messages @cache has, each item checked against a fresh parse;
 * *out_missing (optional) gets the index of the last one it lacks. */
static guint
count_hits (Fixture *f, ImapCache *cache, gint *out_missing)
{
  guint hits = 0;

  for (guint i = 0; i < mail_folder_get_count (f->folder); i++)
    {
      gboolean hit = TRUE;

      for (ImapCacheItem item = 0; item < IMAP_CACHE_N_ITEMS; item++)
        {
          g_autofree char *expected = fresh (f, i, item);
          g_autofree char *got = cached (f, cache, i, item);

          if (got == NULL)
            hit = FALSE;
          else
            g_assert_cmpstr (got, ==, expected);
        }
      hits += hit;
      if (!hit && out_missing != NULL)
        *out_missing = (gint) i;
    }
  return hits;
}

static char *
read_file (const char *path)
{
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

/* ---- unit ------------------------------------------------------------- */

/* The file goes beside the folder's uidlist, and a hit is exactly what a
 * fresh parse gives, escapes included. */
static void
test_hit_is_fresh_parse (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = cache_dir (f);
  g_autofree char *path = cache_path (f);
  g_autofree char *derived =
      imap_cache_folder_dir (mail_folder_get_message (f->folder, 0));
  g_autoptr (ImapCache) cold = load_cache (f);
  g_autoptr (ImapCache) warm = NULL;
  g_autofree char *text = NULL;
  guint last = mail_folder_get_count (f->folder) - 1;
  g_autofree char *literal = fresh (f, last, IMAP_CACHE_ENVELOPE);

  g_assert_cmpstr (derived, ==, dir);
  g_assert_cmpuint (count_hits (f, cold, NULL), ==, 0);
  add_all (f, cold);
  g_assert_cmpuint (count_hits (f, cold, NULL), ==, f->texts->len);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  write_cache (f, cold);
  text = read_file (path);
  g_assert_true (g_str_has_prefix (text, "mailwire-imap-cache\t3\t"));
  /* the literal's CRLF and the TAB are escaped, the lines are whole */
  g_assert_nonnull (strstr (literal, "}\r\nGr"));
  g_assert_nonnull (strstr (literal, "\tand"));
  g_assert_nonnull (strstr (text, "}\\r\\nGr"));
  g_assert_nonnull (strstr (text, "\\tand"));
  warm = load_cache (f);
  g_assert_cmpuint (count_hits (f, warm, NULL), ==, f->texts->len);
}

/* The text SEARCH FROM, TO, CC and BCC look in (RFC 9051 §6.4.4), kept
 * for every message and read back from the file by another cache: what
 * a fresh parse gives, a field the message lacks told from an empty
 * one, and nothing for a field that has no slot. */
static void
test_address_text_is_what_a_fresh_parse_gives (Fixture *f, gconstpointer data)
{
  static const char *const fields[] = { "From", "to", "Cc", "BCC" };
  g_autoptr (ImapCache) cold = load_cache (f);
  g_autoptr (ImapCache) warm = NULL;
  g_autoptr (GString) out = g_string_new (NULL);
  gboolean present = FALSE;
  guint absent = 0;

  for (guint i = 0; i < mail_folder_get_count (f->folder); i++)
    for (guint k = 0; k < G_N_ELEMENTS (fields); k++)
      {
        const MailMessage *message = mail_folder_get_message (f->folder, i);
        g_autoptr (ImapMessage) parsed = parse (f, i);
        g_autofree char *text =
            imap_message_get_address_text (parsed, fields[k]);

        g_assert_false (
            imap_cache_get_address (cold, message, fields[k], out, &present));
        imap_cache_add_address (cold, message, fields[k], text);
      }
  write_cache (f, cold);
  warm = load_cache (f);
  for (guint i = 0; i < mail_folder_get_count (f->folder); i++)
    for (guint k = 0; k < G_N_ELEMENTS (fields); k++)
      {
        const MailMessage *message = mail_folder_get_message (f->folder, i);
        g_autoptr (ImapMessage) parsed = parse (f, i);
        g_autofree char *text =
            imap_message_get_address_text (parsed, fields[k]);

        g_string_assign (out, "before:");
        g_assert_true (
            imap_cache_get_address (warm, message, fields[k], out, &present));
        g_assert_cmpint (present, ==, text != NULL);
        absent += text == NULL;
        if (text != NULL)
          g_assert_cmpstr (out->str + strlen ("before:"), ==, text);
        else
          g_assert_cmpstr (out->str, ==, "before:");
      }
  g_assert_cmpuint (absent, >, 0); /* the rows lack a Bcc: both are seen */
  g_assert_false (imap_cache_get_address (
      warm, mail_folder_get_message (f->folder, 0), "Subject", out, &present));
}

typedef enum
{
  DAMAGE_NONE_LOST, /* every entry still hits */
  DAMAGE_ALL_LOST,
  DAMAGE_ONE_LOST, /* the one of the line damaged */
} DamageLoss;

typedef struct
{
  const char *name;
  void (*damage) (GString *file, guint *out_line);
  DamageLoss loss;
} DamageCase;

/* The offset of line @n (0: the header). */
static gsize
line_start (const GString *file, guint n)
{
  const char *p = file->str;

  for (guint i = 0; i < n; i++)
    p = strchr (p, '\n') + 1;
  return p - file->str;
}

static void
damage_garbage (GString *file, guint *out_line)
{
  g_string_assign (file, "\x89PNG\r\n\x1a\n not a cache \t\t\t\n\\\n");
}

static void
damage_empty (GString *file, guint *out_line)
{
  g_string_truncate (file, 0);
}

static void
damage_other_version (GString *file, guint *out_line)
{
  /* "mailwire-imap-cache\t2\t<fingerprint>": another build's file */
  file->str[strlen ("mailwire-imap-cache\t2\t")] ^= 0x01;
}

static void
damage_version_one (GString *file, guint *out_line)
{
  /* version 1 described a message holding NUL with its parts in base64 */
  file->str[strlen ("mailwire-imap-cache\t")] = '1';
}

static void
damage_cut_in_header (GString *file, guint *out_line)
{
  g_string_truncate (file, 12);
}

static void
damage_cut_mid_line (GString *file, guint *out_line)
{
  gsize last = file->len - 1;

  while (file->str[last - 1] != '\n')
    last--;
  g_string_truncate (file, last + (file->len - last) / 2);
  *out_line = G_MAXUINT; /* the last */
}

static void
damage_cut_after_line (GString *file, guint *out_line)
{
  g_string_truncate (file, line_start (file, 4));
  *out_line = 4;
}

static void
damage_flipped_byte (GString *file, guint *out_line)
{
  gsize at = line_start (file, 3);

  file->str[at + (strchr (file->str + at, '\n') - (file->str + at)) / 2] ^=
      0x20;
  *out_line = 3;
}

static void
damage_bad_lines_between (GString *file, guint *out_line)
{
  g_string_insert (file, line_start (file, 2),
                   "\n00000000\tx\t1\t(a)\t(b)\t(c)\nnot\ttabbed\tright\n"
                   "\t\t\t\t\t\n\\\\\\\n");
}

static void
damage_line_twice (GString *file, guint *out_line)
{
  gsize at = line_start (file, 1);
  g_autofree char *line = g_strndup (file->str + at, line_start (file, 2) - at);

  g_string_append (file, line);
}

/* A damaged, cut or stale file costs only what it lost: the other lines
 * still hit, and a write makes it whole. */
static void
test_damaged_file (Fixture *f, gconstpointer data)
{
  const DamageCase *row = data;
  g_autofree char *path = cache_path (f);
  g_autofree char *text = NULL;
  g_autoptr (GString) file = NULL;
  g_autoptr (ImapCache) cache = NULL;
  g_autoptr (ImapCache) whole = NULL;
  guint line = 0;
  gint missing = -1;
  guint all = f->texts->len;

  write_full_cache (f);
  text = read_file (path);
  file = g_string_new (text);
  row->damage (file, &line);
  g_assert_true (g_file_set_contents (path, file->str, file->len, NULL));
  cache = load_cache (f);
  switch (row->loss)
    {
    case DAMAGE_NONE_LOST:
      g_assert_cmpuint (count_hits (f, cache, NULL), ==, all);
      break;
    case DAMAGE_ALL_LOST:
      g_assert_cmpuint (count_hits (f, cache, NULL), ==, 0);
      break;
    case DAMAGE_ONE_LOST:
      g_assert_cmpuint (count_hits (f, cache, &missing), ==, all - 1);
      g_assert_cmpint (missing, ==,
                       line == G_MAXUINT ? (gint) all - 1 : (gint) line - 1);
      break;
    default:
      g_assert_not_reached ();
    }
  /* computing what is missing and writing it rebuilds the file */
  for (guint i = 0; i < all; i++)
    {
      g_autofree char *hit = cached (f, cache, i, IMAP_CACHE_ENVELOPE);

      if (hit == NULL)
        add_message (f, cache, i);
    }
  write_cache (f, cache);
  whole = load_cache (f);
  g_assert_cmpuint (count_hits (f, whole, NULL), ==, all);
}

static const DamageCase damage_cases[] = {
  /* RECOVERABLE: lines lost */
  { "garbage", damage_garbage, DAMAGE_ALL_LOST },
  { "empty", damage_empty, DAMAGE_ALL_LOST },
  { "other-version", damage_other_version, DAMAGE_ALL_LOST },
  { "version-1", damage_version_one, DAMAGE_ALL_LOST },
  { "cut-in-header", damage_cut_in_header, DAMAGE_ALL_LOST },
  { "cut-mid-line", damage_cut_mid_line, DAMAGE_ONE_LOST },
  { "flipped-byte", damage_flipped_byte, DAMAGE_ONE_LOST },
  /* VALID: nothing lost */
  { "bad-lines-between", damage_bad_lines_between, DAMAGE_NONE_LOST },
  { "line-twice", damage_line_twice, DAMAGE_NONE_LOST },
};

/* Cut after line 4: the messages of lines 1..3 hit, the rest do not. */
static void
test_cut_file_keeps_the_lines_before (Fixture *f, gconstpointer data)
{
  g_autofree char *path = cache_path (f);
  g_autofree char *text = NULL;
  g_autoptr (GString) file = NULL;
  g_autoptr (ImapCache) cache = NULL;
  guint line = 0;

  write_full_cache (f);
  text = read_file (path);
  file = g_string_new (text);
  damage_cut_after_line (file, &line);
  g_assert_true (g_file_set_contents (path, file->str, file->len, NULL));
  cache = load_cache (f);
  g_assert_cmpuint (count_hits (f, cache, NULL), ==, line - 1);
}

/* A message file never changes (the store keeps its size in the uidlist
 * and stats it once), but a message may go and another come back under
 * its name (a restore, a sync tool): another size is another entry. */
static void
test_other_size_is_recomputed (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name =
      g_strdup (mail_folder_get_message (f->folder, 2)->name);
  g_autofree char *before = fresh (f, 2, IMAP_CACHE_ENVELOPE);
  g_autofree char *dir = cache_dir (f);
  g_autofree char *file = g_strconcat (name, ":2,", NULL);
  g_autofree char *back = g_build_filename (dir, "cur", file, NULL);
  g_autofree char *after = NULL;
  g_autofree char *hit = NULL;
  g_autoptr (ImapCache) cache = NULL;
  guint last = 0;
  gint missing = -1;

  write_full_cache (f);
  g_assert_true (mail_folder_delete_message (f->folder, 2, &error));
  g_assert_true (mail_folder_sync (f->folder, NULL, NULL, &error));
  g_assert_true (g_file_set_contents (back, message_replacement, -1, &error));
  g_assert_true (mail_folder_sync (f->folder, NULL, NULL, &error));
  g_assert_no_error (error);
  last = mail_folder_get_count (f->folder) - 1;
  g_assert_cmpstr (mail_folder_get_message (f->folder, last)->name, ==, name);
  g_assert_cmpuint (mail_folder_get_message (f->folder, last)->size, ==,
                    strlen (message_replacement));
  cache = load_cache (f);
  g_assert_cmpuint (count_hits (f, cache, &missing), ==, last);
  g_assert_cmpint (missing, ==, last);
  add_message (f, cache, last);
  hit = cached (f, cache, last, IMAP_CACHE_ENVELOPE);
  after = fresh (f, last, IMAP_CACHE_ENVELOPE);
  g_assert_cmpstr (hit, ==, after);
  g_assert_cmpstr (hit, !=, before);
  g_assert_nonnull (strstr (hit, "replaced, longer"));
}

/* A rewrite keeps only the messages the folder still holds. */
static void
test_gone_messages_are_dropped (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *gone = NULL;
  g_autofree char *path = cache_path (f);
  g_autofree char *text = NULL;
  g_autoptr (ImapCache) cache = NULL;
  guint count = 0;

  write_full_cache (f);
  gone = g_strdup (mail_folder_get_message (f->folder, 0)->name);
  g_assert_true (mail_folder_delete_message (f->folder, 0, &error));
  deliver (f, message_replacement, strlen (message_replacement));
  g_assert_true (mail_folder_sync (f->folder, NULL, NULL, &error));
  g_assert_no_error (error);
  count = mail_folder_get_count (f->folder);
  g_assert_cmpuint (count, ==, f->texts->len - 1);
  cache = load_cache (f);
  g_assert_cmpuint (count_hits (f, cache, NULL), ==, count - 1);
  add_message (f, cache, count - 1);
  write_cache (f, cache);
  text = read_file (path);
  g_assert_null (strstr (text, gone));
  g_assert_nonnull (
      strstr (text, mail_folder_get_message (f->folder, count - 1)->name));
}

/* Deleting the file loses nothing but speed. */
static void
test_deleted_file (Fixture *f, gconstpointer data)
{
  g_autofree char *path = cache_path (f);
  g_autoptr (ImapCache) cache = NULL;

  write_full_cache (f);
  g_assert_cmpint (g_unlink (path), ==, 0);
  cache = load_cache (f);
  g_assert_cmpuint (count_hits (f, cache, NULL), ==, 0);
  add_all (f, cache);
  write_cache (f, cache);
  g_clear_pointer (&cache, imap_cache_free);
  cache = load_cache (f);
  g_assert_cmpuint (count_hits (f, cache, NULL), ==, f->texts->len);
}

/* Two sessions fill different halves: the second writer takes in what the
 * first wrote, so the file ends with both. */
static void
test_writers_merge (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapCache) first = load_cache (f);
  g_autoptr (ImapCache) second = load_cache (f);
  g_autoptr (ImapCache) after = NULL;
  guint count = mail_folder_get_count (f->folder);

  for (guint i = 0; i < count; i++)
    add_message (f, i % 2 ? second : first, i);
  write_cache (f, first);
  write_cache (f, second);
  after = load_cache (f);
  g_assert_cmpuint (count_hits (f, after, NULL), ==, count);
}

/* Only what FETCH asked for is computed; two sessions that asked for
 * different items of the same messages leave both in the file. */
static void
test_items_fill_in_separately (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapCache) envelopes = load_cache (f);
  g_autoptr (ImapCache) structures = load_cache (f);
  g_autoptr (ImapCache) after = NULL;
  g_autofree char *path = cache_path (f);
  g_autofree char *text = NULL;
  guint count = mail_folder_get_count (f->folder);

  for (guint i = 0; i < count; i++)
    {
      g_autoptr (ImapMessage) parsed = parse (f, i);
      const MailMessage *message = mail_folder_get_message (f->folder, i);

      imap_cache_add (envelopes, message, IMAP_CACHE_ENVELOPE, parsed);
      imap_cache_add (structures, message, IMAP_CACHE_BODYSTRUCTURE, parsed);
    }
  write_cache (f, envelopes);
  text = read_file (path);
  /* no BODY, no BODYSTRUCTURE, no address text */
  g_assert_nonnull (strstr (text, ")\t\t\t\t\t\t\n"));
  write_cache (f, structures);
  after = load_cache (f);
  for (guint i = 0; i < count; i++)
    {
      g_autofree char *envelope = cached (f, after, i, IMAP_CACHE_ENVELOPE);
      g_autofree char *body = cached (f, after, i, IMAP_CACHE_BODY);
      g_autofree char *structure =
          cached (f, after, i, IMAP_CACHE_BODYSTRUCTURE);
      g_autofree char *expected = fresh (f, i, IMAP_CACHE_BODYSTRUCTURE);

      g_assert_nonnull (envelope);
      g_assert_null (body);
      g_assert_cmpstr (structure, ==, expected);
    }
}

typedef struct
{
  Fixture *fixture;
  MailFolder *folder; /* each thread has its own handle */
  gint *finished;
} WriterData;

static gpointer
writer_thread (gpointer data)
{
  WriterData *w = data;
  g_autofree char *dir = cache_dir (w->fixture);

  for (guint round = 0; round < 20; round++)
    {
      g_autoptr (ImapCache) cache = imap_cache_new (dir);
      g_autoptr (GError) error = NULL;

      for (guint i = 0; i < mail_folder_get_count (w->folder); i++)
        {
          g_autoptr (GBytes) octets =
              mail_folder_read_message (w->folder, i, NULL);
          g_autoptr (ImapMessage) parsed = imap_message_new (octets);

          for (ImapCacheItem item = 0; item < IMAP_CACHE_N_ITEMS; item++)
            imap_cache_add (cache, mail_folder_get_message (w->folder, i), item,
                            parsed);
        }
      g_assert_true (imap_cache_write (cache, w->folder, &error));
    }
  g_atomic_int_inc (w->finished);
  return NULL;
}

/* Replacing, never rewriting in place: a reader meanwhile always finds a
 * whole file, every entry of it good. */
static void
test_writers_never_tear (Fixture *f, gconstpointer data)
{
  WriterData writers[3] = { { 0 } };
  GThread *threads[G_N_ELEMENTS (writers)] = { NULL };
  gint finished = 0;
  guint reads = 0;

  write_full_cache (f);
  for (guint i = 0; i < G_N_ELEMENTS (writers); i++)
    {
      writers[i] = (WriterData){ f, open_folder (f), &finished };
      threads[i] = g_thread_new ("writer", writer_thread, &writers[i]);
    }
  do
    {
      g_autoptr (ImapCache) cache = load_cache (f);

      g_assert_cmpuint (count_hits (f, cache, NULL), ==, f->texts->len);
      reads++;
    }
  while (g_atomic_int_get (&finished) < (gint) G_N_ELEMENTS (writers));
  for (guint i = 0; i < G_N_ELEMENTS (writers); i++)
    {
      g_thread_join (threads[i]);
      mail_folder_free (writers[i].folder);
    }
  g_test_message ("%u whole reads while 3 threads wrote 20 times each", reads);
}

/* ---- integration: mw-imapd ------------------------------------------- */

typedef struct
{
  MwHarness *harness;
  char *maildir; /* alice's */
  GPid pid;      /* mw-imapd */
  guint16 port;
} Server;

/* Same size as message_first, another subject: Maildir forbids this, so
 * only a server that reads no message can miss it. */
static const char message_first[] =
    "From: Bob <bob@example.test>\r\nSubject: first\r\n\r\nHello.\r\n";
static const char message_first_changed[] =
    "From: Bob <bob@example.test>\r\nSubject: FIRST\r\n\r\nHELLO.\r\n";
#define FETCH_DERIVED "FETCH 1:* (UID ENVELOPE BODY BODYSTRUCTURE)"

static void
server_start (Server *s)
{
  s->pid = mw_harness_start (s->harness, "mw-imapd", NULL);
  s->port = mw_harness_port (s->harness, "imap");
}

static void
server_set_up (Server *s, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir =
      g_test_build_filename (G_TEST_DIST, "imap", "files", NULL);
  g_autoptr (GDir) files = g_dir_open (dir, 0, NULL);
  const char *name = NULL;

  s->harness = mw_harness_new (NULL);
  s->maildir = mw_harness_maildir (s->harness, "alice");
  g_assert_true (mail_maildir_deliver (s->maildir, NULL, message_first,
                                       strlen (message_first), NULL, &error));
  while ((name = g_dir_read_name (files)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *text = NULL;
      gsize length = 0;

      if (!g_str_has_suffix (name, ".eml"))
        continue;
      g_assert_true (g_file_get_contents (path, &text, &length, NULL));
      g_assert_true (
          mail_maildir_deliver (s->maildir, NULL, text, length, NULL, &error));
    }
  g_assert_true (mail_maildir_deliver (s->maildir, NULL, message_8bit,
                                       strlen (message_8bit), NULL, &error));
  g_assert_no_error (error);
  server_start (s);
}

static void
server_tear_down (Server *s, gconstpointer data)
{
  g_free (s->maildir);
  mw_harness_free (s->harness);
}

static void
server_restart (Server *s)
{
  mw_harness_signal (s->harness, s->pid, SIGTERM);
  server_start (s);
}

static char *
server_cache_path (Server *s)
{
  return g_build_filename (s->maildir, IMAP_CACHE_FILE_NAME, NULL);
}

/* One session: LOGIN, SELECT INBOX, then @command; every response to
 * @command up to its tagged OK, literals included (transfer full). */
static char *
server_ask (Server *s, const char *command)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MailStream) stream =
      mail_net_connect ("127.0.0.1", s->port, FALSE, NULL, FALSE,
                        MAIL_LINE_MAX_IMAP, 30, NULL, &error);
  ImapAssembler assembler;
  g_autoptr (GString) answer = g_string_new (NULL);
  const char *commands[] = { "a LOGIN alice alice-secret", "b SELECT INBOX",
                             NULL };

  g_assert_no_error (error);
  imap_assembler_init (&assembler, 64 * 1024 * 1024);
  commands[2] = g_strdup_printf ("c %s", command);
  for (guint i = 0; i < 3; i++)
    mail_stream_printf (stream, "%s", commands[i]);
  g_assert_true (mail_stream_flush (stream, NULL, &error));
  for (;;)
    {
      g_autofree char *first = NULL;
      g_autofree char *response = NULL;
      MailLineFlags flags = 0;

      g_assert_true (imap_read_message (stream, &assembler, NULL, NULL, &first,
                                        &flags, NULL, &error));
      g_assert_no_error (error);
      response = g_strndup ((const char *) assembler.message->data,
                            assembler.message->len);
      if (g_str_has_prefix (response, "c "))
        {
          g_assert_true (g_str_has_prefix (response, "c OK"));
          break;
        }
      /* the greeting, LOGIN's and SELECT's answers are not compared */
      if (g_str_has_prefix (response, "* ") && strstr (response, " FETCH ("))
        g_string_append_printf (answer, "%s\n", response);
    }
  imap_assembler_clear (&assembler);
  g_free ((char *) commands[2]);
  return g_string_free (g_steal_pointer (&answer), FALSE);
}

/* Cold, warm, in a new session, with the file damaged or deleted, after
 * a restart: the same answer, and a restart rebuilds a bad file. */
static void
test_imapd_same_answers (Server *s, gconstpointer data)
{
  g_autofree char *path = server_cache_path (s);
  g_autofree char *cold = NULL;
  g_autofree char *text = NULL;
  const char *const damage[] = { "garbage\n", "", NULL };

  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  cold = server_ask (s, FETCH_DERIVED);
  g_assert_nonnull (strstr (cold, "* 1 FETCH (UID 1 ENVELOPE (NIL \"first\""));
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *warm = server_ask (s, FETCH_DERIVED);

      g_assert_cmpstr (warm, ==, cold);
    }
  for (guint i = 0; damage[i] != NULL; i++)
    {
      g_autofree char *again = NULL;
      g_autofree char *restarted = NULL;

      g_assert_true (g_file_set_contents (path, damage[i], -1, NULL));
      again = server_ask (s, FETCH_DERIVED);
      g_assert_cmpstr (again, ==, cold);
      g_assert_true (g_file_set_contents (path, damage[i], -1, NULL));
      server_restart (s);
      restarted = server_ask (s, FETCH_DERIVED);
      g_assert_cmpstr (restarted, ==, cold);
      g_free (text);
      text = read_file (path);
      g_assert_true (g_str_has_prefix (text, "mailwire-imap-cache\t3\t"));
    }
  g_assert_cmpint (g_unlink (path), ==, 0);
  server_restart (s);
  g_free (text);
  text = server_ask (s, FETCH_DERIVED);
  g_assert_cmpstr (text, ==, cold);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* With the file there, ENVELOPE and BODYSTRUCTURE read no message, and
 * BODY[] still does. */
static void
test_imapd_warm_fetch_reads_no_message (Server *s, gconstpointer data)
{
  g_auto (GStrv) files = NULL;
  g_autofree char *envelope = NULL;
  g_autofree char *body = NULL;
  guint changed = 0;

  g_free (server_ask (s, FETCH_DERIVED));
  server_restart (s);
  files = mw_harness_list_messages (s->harness, "alice", NULL);
  for (guint i = 0; files[i] != NULL; i++)
    {
      g_autofree char *text = read_file (files[i]);

      if (strcmp (text, message_first) != 0)
        continue;
      g_assert_true (
          g_file_set_contents (files[i], message_first_changed, -1, NULL));
      changed++;
    }
  g_assert_cmpuint (changed, ==, 1);
  envelope = server_ask (s, "FETCH 1 (ENVELOPE BODYSTRUCTURE)");
  body = server_ask (s, "FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]");
  g_assert_nonnull (strstr (envelope, "\"first\""));
  g_assert_null (strstr (envelope, "FIRST"));
  g_assert_nonnull (strstr (body, "Subject: FIRST"));
}

/* "--with-imapd" (first argument) runs the tests against a real
 * mw-imapd (suite integration) instead of the file tests (suite unit),
 * so neither run reports the other's as skipped. */
int
main (int argc, char **argv)
{
  gboolean with_imapd = argc > 1 && strcmp (argv[1], "--with-imapd") == 0;

  if (with_imapd)
    {
      argv[1] = argv[0];
      argv++;
      argc--;
    }
  g_test_init (&argc, &argv, NULL);
  if (with_imapd)
    {
      g_test_add ("/imap/cache/imapd/same-answers-with-without-or-bad-file",
                  Server, NULL, server_set_up, test_imapd_same_answers,
                  server_tear_down);
      g_test_add ("/imap/cache/imapd/warm-fetch-reads-no-message", Server, NULL,
                  server_set_up, test_imapd_warm_fetch_reads_no_message,
                  server_tear_down);
      return g_test_run ();
    }
#define ADD(path, func)                                                        \
  g_test_add ("/imap/cache/" path, Fixture, NULL, fixture_set_up, func,        \
              fixture_tear_down)
  ADD ("hit-is-what-a-fresh-parse-gives", test_hit_is_fresh_parse);
  ADD ("address-text-is-what-a-fresh-parse-gives",
       test_address_text_is_what_a_fresh_parse_gives);
  ADD ("cut-file-keeps-the-lines-before", test_cut_file_keeps_the_lines_before);
  ADD ("same-name-other-size-is-recomputed", test_other_size_is_recomputed);
  ADD ("gone-messages-are-dropped-on-write", test_gone_messages_are_dropped);
  ADD ("deleted-file-loses-nothing", test_deleted_file);
  ADD ("second-writer-keeps-the-first-writers-entries", test_writers_merge);
  ADD ("writers-never-tear-the-file", test_writers_never_tear);
  ADD ("items-are-computed-as-asked-and-merged", test_items_fill_in_separately);
#undef ADD
  for (guint i = 0; i < G_N_ELEMENTS (damage_cases); i++)
    {
      g_autofree char *path =
          g_strdup_printf ("/imap/cache/damaged-file/%s", damage_cases[i].name);

      g_test_add (path, Fixture, &damage_cases[i], fixture_set_up,
                  test_damaged_file, fixture_tear_down);
    }
  return g_test_run ();
}
