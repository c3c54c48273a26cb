/* SPDX-License-Identifier: MIT
 * imap-arena.c: the memory of one parsed IMAP message. A FETCH response
 * is dozens of arguments; given a malloc () each (and one more for each
 * one's octets), allocating and freeing them was most of what parsing
 * cost (mw-trace, mw-imap sync). So imap_parse_args () puts every
 * ImapArg and its octets in one arena: a few blocks, each taken by
 * moving a pointer, all freed at once. A list's elements are an
 * ImapArgList in the arena too: a GPtrArray each (two allocations, and an
 * unref each when the arena went) was a twentieth of what mw-trace spent.
 *
 * Who holds the arena: the parser while it runs, and each top-level
 * argument of the list it returns (whose free function is
 * imap_arg_free ()). So g_ptr_array_unref () of that list frees the
 * arena, and an argument stolen from it keeps the arena alive.
 */
#include <string.h>

#include "imap-parser-private.h"

typedef struct _ArenaBlock ArenaBlock;
struct _ArenaBlock
{
  ArenaBlock *next; /* the block filled before this one */
  gsize size;       /* octets in data */
  gsize used;
  char data[];
};

struct _ImapArgArena
{
  guint refs;         /* the parser, and each top-level argument */
  ArenaBlock *blocks; /* the newest first */
};

/* Every piece is aligned for the ImapArg it may hold. */
#define ARENA_ALIGN                                                            \
  (sizeof (gpointer) > sizeof (gsize) ? sizeof (gpointer) : sizeof (gsize))

static ArenaBlock *
block_new (gsize size, ArenaBlock *next)
{
  ArenaBlock *block = g_malloc (sizeof (ArenaBlock) + size);

  block->next = next;
  block->size = size;
  block->used = 0;
  return block;
}

ImapArgArena *
imap_arena_new (gsize input_length)
{
  /* an ImapArg is 48 octets: short arguments take several times their
   * text, a literal just its octets. So the first block is the input and
   * three times it again up to 64 KiB, which holds most messages. It is
   * allocated with the arena, in one piece: most arenas need no more. */
  gsize size = input_length + MIN (input_length, 65536) * 3 + 256;
  ImapArgArena *arena =
      g_malloc (sizeof (ImapArgArena) + sizeof (ArenaBlock) + size);
  ArenaBlock *first = (ArenaBlock *) (arena + 1);

  first->next = NULL;
  first->size = size;
  first->used = 0;
  arena->refs = 1;
  arena->blocks = first;
  return arena;
}

gpointer
imap_arena_alloc (ImapArgArena *arena, gsize size)
{
  ArenaBlock *block = arena->blocks;
  gsize aligned = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
  gpointer piece;

  g_return_val_if_fail (aligned >= size, NULL);
  if (block->size - block->used < aligned)
    {
      /* doubling keeps the blocks few; a big literal gets its own */
      block = block_new (MAX (aligned, block->size * 2), block);
      arena->blocks = block;
    }
  piece = block->data + block->used;
  block->used += aligned;
  return piece;
}

ImapArgList *
imap_arena_new_list (ImapArgArena *arena, ImapArg *const *items, guint count)
{
  ImapArgList *list = imap_arena_alloc (arena, sizeof (ImapArgList));

  list->len = count;
  list->pdata = imap_arena_alloc (arena, MAX (count, 1) * sizeof (ImapArg *));
  if (count > 0)
    memcpy (list->pdata, items, count * sizeof (ImapArg *));
  return list;
}

ImapArgArena *
imap_arena_ref (ImapArgArena *arena)
{
  g_return_val_if_fail (arena->refs < G_MAXUINT, arena);
  arena->refs++;
  return arena;
}

void
imap_arena_unref (ImapArgArena *arena)
{
  ArenaBlock *block;

  if (--arena->refs > 0)
    return;
  /* the blocks added after the first; the first is part of the arena */
  block = arena->blocks;
  while (block->next != NULL)
    {
      ArenaBlock *next = block->next;

      g_free (block);
      block = next;
    }
  g_free (arena);
}
