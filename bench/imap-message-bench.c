/* SPDX-License-Identifier: MIT
 * imap-message-bench.c: how long imap-message (FETCH items and sections,
 * SEARCH keys; RFC 9051 §6.4.4, §6.4.5, §7.5.2) takes over a set of
 * stored messages, read into memory first so that no disk is timed.
 *
 *   imap-message-bench [--repeat N] [--only TEXT] SMALL_DIR [LARGE_DIR]
 *
 * Each query runs over every message of the directory as mw-imapd runs
 * it: a fresh ImapMessage per message (imap_message_new () over the
 * stored octets), the query, imap_message_free (). One unmeasured run
 * first, then N (5) measured ones; prints the median in ms for all the
 * messages and in µs per message. The times are the process's CPU time
 * (one thread: the wall time on an idle machine), which a busy machine
 * disturbs less than the wall time. --only runs just the queries whose
 * name holds TEXT (for perf record). A benchmark, not a test: no figure
 * is checked. bench/imap-message-bench.sh builds it and makes the messages.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap-message.h"
#include "imap-parser.h"
#include "imap-search.h"

typedef enum
{
  QUERY_SEARCH,  /* @spec: SEARCH criteria */
  QUERY_SECTION, /* @spec: what follows "BODY[" */
  QUERY_ENVELOPE,
  QUERY_BODYSTRUCTURE,
} QueryKind;

typedef struct
{
  QueryKind kind;
  const char *spec;
} Query;

typedef struct
{
  GPtrArray *messages; /* GBytes */
  ImapSearchKey *key;  /* QUERY_SEARCH */
  ImapSection section; /* QUERY_SECTION */
  const Query *query;
  guint found; /* matches, or octets / 1024: keeps the work observable */
} Run;

/* Every regular file under @dir, contents in memory (transfer full). */
static GPtrArray *
read_messages (const char *dir, GError **error)
{
  g_autoptr (GDir) listing = g_dir_open (dir, 0, error);
  g_autoptr (GPtrArray) messages =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  const char *name = NULL;

  if (listing == NULL)
    return NULL;
  while ((name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      char *contents = NULL;
      gsize length = 0;

      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
        continue;
      if (!g_file_get_contents (path, &contents, &length, error))
        return NULL;
      g_ptr_array_add (messages, g_bytes_new_take (contents, length));
    }
  return g_steal_pointer (&messages);
}

static ImapMessage *
load_parsed (gpointer user_data)
{
  return user_data;
}

static gboolean
run_search (Run *run, ImapMessage *message, guint32 seq)
{
  ImapSearchCandidate candidate = {
    .seq = seq,
    .uid = seq,
    .load = load_parsed,
    .user_data = message,
  };

  return imap_search_matches (run->key, &candidate, run->messages->len,
                              run->messages->len);
}

/* One query over one message: matches, or octets / 1024 produced. */
static guint
run_one (Run *run, GBytes *stored, guint32 seq)
{
  g_autoptr (ImapMessage) message = imap_message_new (stored);
  g_autoptr (GString) out = NULL;
  g_autoptr (GBytes) octets = NULL;

  switch (run->query->kind)
    {
    case QUERY_SEARCH:
      return run_search (run, message, seq) ? 1 : 0;
    case QUERY_SECTION:
      octets = imap_message_get_section (message, &run->section);
      return g_bytes_get_size (octets) / 1024;
    case QUERY_ENVELOPE:
    case QUERY_BODYSTRUCTURE:
      out = g_string_new (NULL);
      if (run->query->kind == QUERY_ENVELOPE)
        imap_message_append_envelope (message, out);
      else
        imap_message_append_bodystructure (message, out, TRUE);
      return out->len / 1024;
    default:
      g_assert_not_reached ();
    }
}

static double
cpu_ms (void)
{
  struct timespec now;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec * 1000.0 + now.tv_nsec / 1e6;
}

/* CPU milliseconds for the query over every message. */
static double
run_all (Run *run)
{
  double start = cpu_ms ();

  run->found = 0;
  for (guint i = 0; i < run->messages->len; i++)
    run->found += run_one (run, run->messages->pdata[i], i + 1);
  return cpu_ms () - start;
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a;
  double y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static gboolean
prepare (Run *run, GError **error)
{
  g_autoptr (GPtrArray) args = NULL;
  g_autofree char *spec = NULL;

  if (run->query->kind == QUERY_SECTION)
    {
      spec = g_strdup_printf ("%s]", run->query->spec);
      return imap_section_parse (spec, &run->section, error);
    }
  if (run->query->kind != QUERY_SEARCH)
    return TRUE;
  args = imap_parse_args (run->query->spec, strlen (run->query->spec), error);
  if (args == NULL)
    return FALSE;
  run->key = imap_search_parse (args, 0, NULL, error);
  return run->key != NULL;
}

static const char *
query_name (const Query *query, char *buffer, gsize size)
{
  switch (query->kind)
    {
    case QUERY_SEARCH:
      g_snprintf (buffer, size, "SEARCH %s", query->spec);
      break;
    case QUERY_SECTION:
      g_snprintf (buffer, size, "FETCH BODY.PEEK[%s]", query->spec);
      break;
    case QUERY_ENVELOPE:
      g_snprintf (buffer, size, "FETCH ENVELOPE");
      break;
    case QUERY_BODYSTRUCTURE:
      g_snprintf (buffer, size, "FETCH BODYSTRUCTURE");
      break;
    default:
      g_assert_not_reached ();
    }
  return buffer;
}

static const char *only = NULL; /* --only */

static void
bench_query (GPtrArray *messages, const Query *query, guint repeat)
{
  Run run = { .messages = messages, .query = query };
  g_autofree double *times = g_new0 (double, repeat);
  g_autoptr (GError) error = NULL;
  char name[96];
  double median = 0;

  if (only != NULL &&
      strstr (query_name (query, name, sizeof name), only) == NULL)
    return;
  if (!prepare (&run, &error))
    {
      g_printerr ("%s: %s\n", query->spec, error->message);
      exit (1);
    }
  run_all (&run);
  for (guint i = 0; i < repeat; i++)
    times[i] = run_all (&run);
  qsort (times, repeat, sizeof (double), compare_double);
  median = times[repeat / 2];
  printf ("%-46s %6u msgs %10.1f ms %9.2f us/msg  (result %u)\n",
          query_name (query, name, sizeof name), messages->len, median,
          median * 1000.0 / MAX (messages->len, 1), run.found);
  g_clear_pointer (&run.key, imap_search_key_free);
  imap_section_clear (&run.section);
}

static const Query small_queries[] = {
  { QUERY_SEARCH, "FROM \"Generator\"" },
  { QUERY_SEARCH, "SUBJECT \"message 5000 \"" },
  { QUERY_SEARCH, "HEADER Message-ID \"bench-4096-5000@\"" },
  { QUERY_SEARCH, "SENTSINCE 1-Jan-2026" },
  { QUERY_SEARCH, "TEXT \"005000\"" },
  { QUERY_SEARCH, "BODY \"005000\"" },
  { QUERY_ENVELOPE, NULL },
  { QUERY_BODYSTRUCTURE, NULL },
  { QUERY_SECTION, "" },
  { QUERY_SECTION, "HEADER" },
  { QUERY_SECTION, "HEADER.FIELDS (From Subject)" },
  { QUERY_SECTION, "TEXT" },
  { QUERY_SECTION, "1" },
};

static const Query large_queries[] = {
  { QUERY_SECTION, "" },     { QUERY_SECTION, "HEADER" },
  { QUERY_SECTION, "TEXT" }, { QUERY_SEARCH, "FROM \"Generator\"" },
  { QUERY_ENVELOPE, NULL },  { QUERY_BODYSTRUCTURE, NULL },
};

static void
bench_dir (const char *dir, const Query *queries, gsize count, guint repeat)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages = read_messages (dir, &error);

  if (messages == NULL)
    {
      g_printerr ("%s: %s\n", dir, error->message);
      exit (1);
    }
  printf ("%s:\n", dir);
  for (gsize i = 0; i < count; i++)
    bench_query (messages, &queries[i], repeat);
}

int
main (int argc, char **argv)
{
  gint repeat = 5;
  GOptionEntry entries[] = {
    { "repeat", 'r', 0, G_OPTION_ARG_INT, &repeat, "measured runs", "N" },
    { "only", 'o', 0, G_OPTION_ARG_STRING, &only, "queries named so", "TEXT" },
    { NULL },
  };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("SMALL_DIR [LARGE_DIR]");
  g_autoptr (GError) error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc < 2 ||
      repeat < 1)
    {
      g_printerr (
          "usage: %s [--repeat N] [--only TEXT] SMALL_DIR [LARGE_DIR]\n",
          argv[0]);
      return 2;
    }
  bench_dir (argv[1], small_queries, G_N_ELEMENTS (small_queries), repeat);
  if (argc > 2)
    bench_dir (argv[2], large_queries, G_N_ELEMENTS (large_queries), repeat);
  return 0;
}
