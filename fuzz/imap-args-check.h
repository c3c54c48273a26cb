/* SPDX-License-Identifier: MIT
 * imap-args-check.h: the invariant the IMAP grammar targets share: an
 * argument tree written back (atoms as they are, strings by
 * imap_append_string (), lists in parentheses) parses to the same tree.
 * A quoted string and a literal are the same string here: the writer
 * picks the form the text needs, not the form it came in.
 */
#pragma once

#include "fuzz.h"
#include "imap-parser.h"

static void fuzz_imap_write_args (GString *out, const ImapArgList *args);

static void
fuzz_imap_write_arg (GString *out, const ImapArg *arg)
{
  switch (arg->type)
    {
    case IMAP_ARG_ATOM:
    case IMAP_ARG_NIL:
      g_string_append_len (out, arg->data, arg->length);
      break;
    case IMAP_ARG_QUOTED:
    case IMAP_ARG_LITERAL:
      imap_append_string (out, arg->data, arg->length, FALSE, TRUE);
      break;
    case IMAP_ARG_LIST:
      g_string_append_c (out, '(');
      fuzz_imap_write_args (out, arg->list);
      g_string_append_c (out, ')');
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
fuzz_imap_write_args (GString *out, const ImapArgList *args)
{
  for (guint i = 0; i < args->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, ' ');
      fuzz_imap_write_arg (out, args->pdata[i]);
    }
}

static gboolean
fuzz_imap_is_string (const ImapArg *arg)
{
  return arg->type == IMAP_ARG_QUOTED || arg->type == IMAP_ARG_LITERAL;
}

static void
fuzz_imap_assert_same_args (const ImapArgList *a, const ImapArgList *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++)
    {
      const ImapArg *x = a->pdata[i];
      const ImapArg *y = b->pdata[i];

      if (fuzz_imap_is_string (x))
        g_assert_true (fuzz_imap_is_string (y));
      else
        g_assert_cmpint (x->type, ==, y->type);
      if (x->type == IMAP_ARG_LIST)
        {
          fuzz_imap_assert_same_args (x->list, y->list);
          continue;
        }
      g_assert_cmpuint (x->length, ==, y->length);
      g_assert_true (memcmp (x->data, y->data, x->length) == 0);
    }
}

/* FALSE if an atom of the tree holds a "[" not closed in it: the parser
 * ends such an atom at a literal that follows (a literal cannot be
 * inside an atom's brackets) but runs it on over a quoted string, so
 * "[ {3}CRLFabc ]" is three arguments and the "[ \"abc\" ]" the writer
 * makes of them is one. Not a round trip to check. */
static gboolean
fuzz_imap_can_write_back (const ImapArgList *args)
{
  for (guint i = 0; i < args->len; i++)
    {
      const ImapArg *arg = args->pdata[i];
      int depth = 0;

      if (arg->type == IMAP_ARG_LIST)
        {
          if (!fuzz_imap_can_write_back (arg->list))
            return FALSE;
          continue;
        }
      if (arg->type != IMAP_ARG_ATOM)
        continue;
      for (gsize j = 0; j < arg->length; j++)
        if (arg->data[j] == '[')
          depth++;
        else if (arg->data[j] == ']' && depth > 0)
          depth--;
      if (depth > 0)
        return FALSE;
    }
  return TRUE;
}

/* The accessors on every argument of a tree; they must not fail. */
static void
fuzz_imap_touch_args (const ImapArgList *args)
{
  for (guint i = 0; i < args->len; i++)
    {
      const ImapArg *arg = args->pdata[i];

      imap_arg_string (arg);
      imap_arg_astring (arg);
      imap_arg_is_atom (arg, "NIL");
      if (arg->type == IMAP_ARG_LIST)
        fuzz_imap_touch_args (arg->list);
      else
        g_assert_cmpint (arg->data[arg->length], ==, '\0');
    }
}

/* Parses @data as a command's (or, @response, a server's) arguments and
 * checks the round trip. */
static void
fuzz_imap_check_args (const char *data, gsize length, gboolean response)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) args = NULL;
  g_autoptr (GPtrArray) again = NULL;
  g_autoptr (GString) written = g_string_new (NULL);
  ImapArgList list, list_again;

  args = response ? imap_parse_response_args (data, length, &error)
                  : imap_parse_args (data, length, &error);
  if (args == NULL)
    {
      g_assert_nonnull (error);
      return;
    }
  g_assert_no_error (error);
  list = imap_arg_list_view (args);
  fuzz_imap_touch_args (&list);
  if (!fuzz_imap_can_write_back (&list))
    return;
  fuzz_imap_write_args (written, &list);
  again = response
              ? imap_parse_response_args (written->str, written->len, &error)
              : imap_parse_args (written->str, written->len, &error);
  g_assert_no_error (error);
  list_again = imap_arg_list_view (again);
  fuzz_imap_assert_same_args (&list, &list_again);
}
