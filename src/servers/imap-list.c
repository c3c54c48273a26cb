/* SPDX-License-Identifier: MIT
 * imap-list.c: LIST and LSUB, the mailbox listing of an IMAP server
 * (RFC 9051 §6.3.9, RFC 3501 §6.3.9 LSUB, RFC 5258 LIST-EXTENDED, RFC
 * 5819 LIST-STATUS, RFC 6154 SPECIAL-USE, RFC 3348 CHILDREN).
 *
 *   LIST [(selection options)] reference pattern-or-(patterns)
 *        [RETURN (return options)]
 *
 * Patterns match store names ("Archive/2024") with "*" for anything and
 * "%" for anything but the delimiter "/". A name that only exists as the
 * parent of another ("A" of "A/B" in Maildir++) is listed as
 * \NonExistent (IMAP4rev2, LIST-EXTENDED) or \Noselect (IMAP4rev1) when
 * a "%" stops at it.
 */
#include <string.h>

#include "imap-session-private.h"

typedef struct
{
  gboolean subscribed_only; /* selection SUBSCRIBED (or LSUB) */
  gboolean recursive;       /* selection RECURSIVEMATCH */
  gboolean return_subscribed;
  gboolean lsub; /* RFC 3501 LSUB: only subscribed, \Noselect parents */
  const ImapArg *status_items; /* RETURN (STATUS (...)) or NULL */
  GStrv folders;               /* existing, from the store */
  GStrv subscribed;
} ImapListQuery;

static void
imap_list_query_clear (ImapListQuery *query)
{
  g_clear_pointer (&query->folders, g_strfreev);
  g_clear_pointer (&query->subscribed, g_strfreev);
}

/* RFC 6154 §2: a special-use folder (one that "mw-admin user add"
 * creates) has its name as attribute: Sent is \Sent. */
static gboolean
imap_is_special_use (const char *name)
{
  return g_strv_contains (mail_store_special_folders, name);
}

/* Does @name match @pattern ("*" and "%" wildcards, §6.3.9)? INBOX is
 * matched case-insensitively. */
static gboolean
imap_list_match (const char *pattern, const char *name)
{
  if (g_ascii_strncasecmp (pattern, "INBOX", 5) == 0 &&
      strncmp (name, "INBOX", 5) == 0)
    {
      pattern += 5;
      name += 5;
    }
  for (; *pattern != '\0'; pattern++)
    {
      if (*pattern == '*' || *pattern == '%')
        {
          for (const char *rest = name;; rest++)
            {
              if (imap_list_match (pattern + 1, rest))
                return TRUE;
              if (*rest == '\0' || (*pattern == '%' && *rest == '/'))
                return FALSE;
            }
        }
      if (*pattern != *name)
        return FALSE;
      name++;
    }
  return *name == '\0';
}

static gboolean
imap_strv_has (GStrv list, const char *name)
{
  return list != NULL && g_strv_contains ((const char *const *) list, name);
}

/* Is there a name in @list below @name ("A/..." for "A")? */
static gboolean
imap_strv_has_child (GStrv list, const char *name)
{
  gsize length = strlen (name);

  for (guint i = 0; list != NULL && list[i] != NULL; i++)
    if (strncmp (list[i], name, length) == 0 && list[i][length] == '/')
      return TRUE;
  return FALSE;
}

/* Writes "* LIST (attributes) "/" name [extended]" for @name. */
static void
imap_list_reply (ImapSession *session,
                 const ImapListQuery *query,
                 const char *name,
                 gboolean exists,
                 gboolean listed,
                 gboolean childinfo)
{
  g_autoptr (GString) line = g_string_new (query->lsub ? "LSUB (" : "LIST (");
  gboolean subscribed = imap_strv_has (query->subscribed, name);
  gboolean extended = session->flags.rev2 || !query->lsub;
  gsize start = line->len;

  /* RFC 3501 §6.3.9: LSUB shows an unsubscribed parent as \Noselect */
  if (query->lsub ? !listed : !exists)
    g_string_append (line, extended && !query->lsub ? " \\NonExistent"
                                                    : " \\Noselect");
  if (imap_strv_has_child (query->folders, name))
    g_string_append (line, " \\HasChildren");
  else if (exists)
    g_string_append (line, " \\HasNoChildren");
  if (subscribed && (query->return_subscribed || query->subscribed_only) &&
      !query->lsub)
    g_string_append (line, " \\Subscribed");
  if (exists && imap_is_special_use (name))
    g_string_append_printf (line, " \\%s", name);
  if (line->len > start) /* drop the first separating space */
    g_string_erase (line, start, 1);
  g_string_append (line, ") \"/\" ");
  imap_session_append_mailbox (session, line, name);
  /* RFC 5258 §3.5: a parent listed for its subscribed children */
  if (childinfo)
    g_string_append (line, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
  imap_reply_untagged (session, "%s", line->str);
}

/* The names a query looks at: existing folders, or subscribed ones, and
 * every parent level of them (for "%" and RECURSIVEMATCH). */
static GPtrArray *
imap_list_candidates (const ImapListQuery *query)
{
  GStrv base = query->subscribed_only ? query->subscribed : query->folders;
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; base != NULL && base[i] != NULL; i++)
    {
      g_autofree char *name = g_strdup (base[i]);

      for (char *slash = name; slash != NULL;)
        {
          slash = strchr (slash + 1, '/');
          if (slash != NULL)
            *slash = '\0';
          if (!g_hash_table_contains (seen, name))
            {
              char *copy = g_strdup (name);

              g_ptr_array_add (names, copy);
              g_hash_table_add (seen, copy);
            }
          if (slash != NULL)
            *slash = '/';
        }
    }
  return names;
}

/* RFC 5258 §3.5: does @name have a subscribed descendant that no
 * pattern matches (so the client learns of it only through CHILDINFO)? */
static gboolean
imap_list_hidden_child (const ImapListQuery *query,
                        const char *name,
                        GPtrArray *patterns)
{
  gsize length = strlen (name);

  for (guint i = 0; query->subscribed[i] != NULL; i++)
    {
      const char *child = query->subscribed[i];
      gboolean matched = FALSE;

      if (strncmp (child, name, length) != 0 || child[length] != '/')
        continue;
      for (guint k = 0; k < patterns->len && !matched; k++)
        matched = imap_list_match (patterns->pdata[k], child);
      if (!matched)
        return TRUE;
    }
  return FALSE;
}

/* Lists what matches @pattern (one of @patterns). A name is listed when it is
 * in the base list, or is a parent that a "%" stops at, or (RECURSIVEMATCH) has
 * subscribed children. */
static void
imap_list_pattern (ImapSession *session,
                   const ImapListQuery *query,
                   const char *pattern,
                   GPtrArray *patterns)
{
  g_autoptr (GPtrArray) names = imap_list_candidates (query);
  GStrv base = query->subscribed_only ? query->subscribed : query->folders;
  gboolean percent = strchr (pattern, '%') != NULL;

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      gboolean listed = imap_strv_has (base, name);
      gboolean exists = imap_strv_has (query->folders, name);
      gboolean childinfo = FALSE;

      if (!imap_list_match (pattern, name))
        continue;
      if (!listed && query->recursive)
        childinfo = listed = imap_list_hidden_child (query, name, patterns);
      if (!listed && !(percent && !query->recursive))
        continue;
      imap_list_reply (session, query, name, exists, imap_strv_has (base, name),
                       childinfo);
      if (query->status_items != NULL && exists)
        imap_session_status_line (session, name, query->status_items, NULL);
    }
}

/* Replies BAD and returns FALSE. */
static gboolean
imap_list_bad (ImapSession *session, const char *text)
{
  imap_reply_bad (session, "%s", text);
  return FALSE;
}

/* Parses the options in "(SUBSCRIBED RECURSIVEMATCH)" and
 * "RETURN (CHILDREN STATUS (MESSAGES))"; FALSE after BAD. */
static gboolean
imap_list_options (ImapSession *session,
                   ImapListQuery *query,
                   const ImapArg *selection,
                   const ImapArg *returns)
{
  for (guint i = 0; selection != NULL && i < selection->list->len; i++)
    {
      const ImapArg *option = selection->list->pdata[i];

      if (imap_arg_is_atom (option, "SUBSCRIBED"))
        query->subscribed_only = TRUE;
      else if (imap_arg_is_atom (option, "RECURSIVEMATCH"))
        query->recursive = TRUE;
      else if (!imap_arg_is_atom (option, "REMOTE") &&
               !imap_arg_is_atom (option, "SPECIAL-USE"))
        return imap_list_bad (session, "unknown LIST selection option");
    }
  if (query->recursive && !query->subscribed_only)
    return imap_list_bad (session, "RECURSIVEMATCH needs another selection "
                                   "option (RFC 5258 §3.1)");
  for (guint i = 0; returns != NULL && i < returns->list->len; i++)
    {
      const ImapArg *option = returns->list->pdata[i];
      const ImapArg *next =
          i + 1 < returns->list->len ? returns->list->pdata[i + 1] : NULL;

      if (imap_arg_is_atom (option, "SUBSCRIBED"))
        query->return_subscribed = TRUE;
      else if (imap_arg_is_atom (option, "STATUS") && next != NULL &&
               next->type == IMAP_ARG_LIST)
        {
          query->status_items = returns->list->pdata[++i];
          if (!imap_status_items_valid (query->status_items))
            return imap_list_bad (session, "unknown STATUS item");
        }
      else if (!imap_arg_is_atom (option, "CHILDREN") &&
               !imap_arg_is_atom (option, "SPECIAL-USE"))
        return imap_list_bad (session, "unknown LIST return option");
    }
  return TRUE;
}

/* Splits the arguments: [selection] reference patterns [RETURN (...)]. */
static gboolean
imap_list_split (ImapSession *session,
                 GPtrArray *args,
                 const ImapArg **out_selection,
                 const ImapArg **out_reference,
                 const ImapArg **out_patterns,
                 const ImapArg **out_returns)
{
  guint i = 0;

  *out_selection = *out_returns = NULL;
  if (i < args->len && ((ImapArg *) args->pdata[i])->type == IMAP_ARG_LIST &&
      strcmp (session->verb, "LIST") == 0)
    *out_selection = args->pdata[i++];
  if (i + 2 > args->len)
    return imap_list_bad (session, "expected a reference and a pattern");
  *out_reference = args->pdata[i++];
  *out_patterns = args->pdata[i++];
  if (i + 2 == args->len && imap_arg_is_atom (args->pdata[i], "RETURN") &&
      ((ImapArg *) args->pdata[i + 1])->type == IMAP_ARG_LIST)
    *out_returns = args->pdata[i + 1];
  else if (i != args->len)
    return imap_list_bad (session, "unexpected arguments after the pattern");
  return TRUE;
}

/* The patterns as store names: reference + pattern, from the wire's
 * encoding. NULL after BAD. (transfer full) */
static GPtrArray *
imap_list_patterns (ImapSession *session,
                    const ImapArg *reference,
                    const ImapArg *patterns)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  gboolean many = patterns->type == IMAP_ARG_LIST;
  guint count = many ? patterns->list->len : 1;
  const char *prefix = imap_arg_astring (reference);

  for (guint i = 0; prefix != NULL && i < count; i++)
    {
      const char *pattern =
          imap_arg_astring (many ? patterns->list->pdata[i] : patterns);
      g_autofree char *joined = NULL;
      char *name = NULL;

      if (pattern == NULL)
        break;
      joined = g_strconcat (prefix, pattern, NULL);
      /* a pattern no name can match (bad modified UTF-7) matches none */
      name = imap_session_mailbox_decode (session, joined);
      g_ptr_array_add (out, name ? name : g_strdup ("\\no match\\"));
    }
  if (out->len < count || prefix == NULL)
    {
      imap_reply_bad (session, "expected a reference and mailbox patterns");
      return NULL;
    }
  return g_steal_pointer (&out);
}

void
imap_cmd_list (ImapSession *session, GPtrArray *args)
{
  ImapListQuery query = { 0 };
  const ImapArg *selection, *reference, *patterns, *returns;
  g_autoptr (GPtrArray) names = NULL;
  g_autoptr (GError) error = NULL;

  if (!imap_list_split (session, args, &selection, &reference, &patterns,
                        &returns) ||
      !imap_list_options (session, &query, selection, returns))
    return;
  query.lsub = strcmp (session->verb, "LSUB") == 0;
  query.subscribed_only |= query.lsub;
  names = imap_list_patterns (session, reference, patterns);
  if (names == NULL)
    return;
  query.folders = mail_store_list_folders (session->store, &error);
  query.subscribed =
      query.folders ? mail_store_list_subscriptions (session->store, &error)
                    : NULL;
  if (query.subscribed == NULL)
    {
      imap_list_query_clear (&query);
      imap_reply_store_error (session, error);
      return;
    }
  /* §6.3.9: an empty pattern asks for the delimiter only */
  if (names->len == 1 && *(char *) names->pdata[0] == '\0' && !query.lsub)
    imap_reply_untagged (session, "LIST (\\Noselect) \"/\" \"\"");
  for (guint i = 0; i < names->len; i++)
    imap_list_pattern (session, &query, names->pdata[i], names);
  imap_list_query_clear (&query);
  imap_reply_completed (session);
}
