/* SPDX-License-Identifier: MIT
 * fuzz.h: what every fuzz target shares. A target is one
 * LLVMFuzzerTestOneInput () over real libmailwire functions; libFuzzer
 * drives it in the -Dfuzz=true build, replay.c replays files through it
 * in the normal one (suite unit).
 *
 * Peer mistakes must come back as FALSE/NULL and a GError, never as a
 * g_return_if_fail () warning: fuzz_init () makes GLib criticals abort,
 * so a precondition reached from untrusted bytes is a crash with a stack.
 * Other log output is dropped (it would slow the fuzzer down).
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags log_level,
                 const GLogField *fields,
                 gsize n_fields,
                 gpointer user_data)
{
  if ((log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) == 0)
    return G_LOG_WRITER_HANDLED;
  g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
  /* abort (), not GLib's breakpoint trap: libFuzzer and the sanitizers
   * catch SIGABRT, print the stack and save the input */
  abort ();
}

/* Call at the top of every LLVMFuzzerTestOneInput (); cheap after the
 * first call. */
static inline void
fuzz_init (void)
{
  static gboolean done;

  if (done)
    return;
  done = TRUE;
  g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
}

/* @data as a NUL-terminated string, cut at its first NUL (what a C
 * caller of a "const char *" parser can be given). (transfer full) */
static inline char *
fuzz_strndup (const uint8_t *data, size_t size)
{
  return g_strndup ((const char *) data, size);
}

/* Takes up to @want octets off the front of *@data. */
static inline gsize
fuzz_take (const uint8_t **data, size_t *size, gsize want)
{
  gsize got = MIN (want, *size);

  *data += got;
  *size -= got;
  return got;
}

/* One octet off the front, 0 when none is left. */
static inline guint8
fuzz_byte (const uint8_t **data, size_t *size)
{
  guint8 value = 0;

  if (*size > 0)
    value = (*data)[0];
  fuzz_take (data, size, 1);
  return value;
}

/* The input up to the first occurrence of @separator (or all of it); the
 * rest after the separator stays in *@data. (transfer full) */
static inline char *
fuzz_split (const uint8_t **data, size_t *size, const char *separator)
{
  gsize separator_length = strlen (separator);
  const uint8_t *at = NULL;
  gsize length;
  char *part;

  for (gsize i = 0; at == NULL && i + separator_length <= *size; i++)
    if (memcmp (*data + i, separator, separator_length) == 0)
      at = *data + i;
  length = at != NULL ? (gsize) (at - *data) : *size;
  part = g_strndup ((const char *) *data, length);
  fuzz_take (data, size, length);
  if (at != NULL)
    fuzz_take (data, size, separator_length);
  return part;
}

/* Two GStrings hold the same octets (NULs included). */
static inline void
fuzz_assert_same (const GString *a, const GString *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  g_assert_true (memcmp (a->str, b->str, a->len) == 0);
}

/* A private directory for targets whose parser reads a file (made once
 * per process, under /dev/shm when there is one: memory, not disk), and
 * removed with what is in it when the process exits. (transfer none) */
static char *fuzz_temp_path;

static void
fuzz_remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) &&
          !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        fuzz_remove_tree (child);
      else
        remove (child);
    }
  remove (path);
}

static void
fuzz_remove_temp_dir (void)
{
  fuzz_remove_tree (fuzz_temp_path);
}

static inline const char *
fuzz_temp_dir (void)
{
  if (fuzz_temp_path == NULL)
    {
      g_autofree char *template = g_build_filename (
          g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm"
                                                       : g_get_tmp_dir (),
          "mailwire-fuzz-XXXXXX", NULL);

      fuzz_temp_path = g_mkdtemp (g_steal_pointer (&template));
      g_assert_nonnull (fuzz_temp_path);
      atexit (fuzz_remove_temp_dir);
    }
  return fuzz_temp_path;
}

/* Writes @data to @name in fuzz_temp_dir () (or under @dir) and returns
 * its path (transfer full). */
static inline char *
fuzz_write_file (const char *dir,
                 const char *name,
                 const void *data,
                 gsize size)
{
  char *path =
      g_build_filename (dir != NULL ? dir : fuzz_temp_dir (), name, NULL);
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, data, size, &error);
  g_assert_no_error (error);
  return path;
}
