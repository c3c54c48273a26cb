/* SPDX-License-Identifier: MIT
 * replay.c: main () for a fuzz target in the normal build: runs
 * LLVMFuzzerTestOneInput () once on every file named on the command line
 * and on every file of every directory named there (a corpus), as
 * libFuzzer does with -runs=0. Exit status 0 means no input crashed
 * (a crash aborts, with the sanitizers' report in build-sanitize/).
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

#include "fuzz.h"

static guint replayed;

static gboolean
replay_file (const char *path)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  g_autoptr (GError) error = NULL;

  if (!g_file_get_contents (path, &contents, &length, &error))
    {
      fprintf (stderr, "replay: %s\n", error->message);
      return FALSE;
    }
  /* a copy of exactly @length octets, so ASan sees a read past the end */
  g_autofree uint8_t *input = g_memdup2 (contents, length);
  LLVMFuzzerTestOneInput (input, length);
  replayed++;
  return TRUE;
}

static gint
compare_paths (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

static gboolean
replay_path (const char *path)
{
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) names = NULL;
  const char *name;
  gboolean ok = TRUE;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    return replay_file (path);
  dir = g_dir_open (path, 0, NULL);
  if (dir == NULL)
    return FALSE;
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_build_filename (path, name, NULL));
  g_ptr_array_sort (names, compare_paths);
  for (guint i = 0; i < names->len; i++)
    ok = replay_path (g_ptr_array_index (names, i)) && ok;
  return ok;
}

int
main (int argc, char **argv)
{
  gboolean ok = TRUE;

  for (int i = 1; i < argc; i++)
    ok = replay_path (argv[i]) && ok;
  printf ("replay: %u inputs, none crashed\n", replayed);
  return ok && replayed > 0 ? 0 : 1;
}
