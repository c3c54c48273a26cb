/* SPDX-License-Identifier: MIT
 * imap-search.c: SEARCH criteria into a tree (RFC 9051 §6.4.4, §9
 * search-key; RFC 3501 §6.4.4 NEW, OLD, RECENT; RFC 7162 §3.1.5 MODSEQ;
 * RFC 5182 §2.1 "$").
 *
 * Every key is a row of search_keys[]: its name, the node it becomes and
 * the argument it takes. UNSEEN and the other UN- keys are NOT nodes over
 * their positive key, so matching (imap-search-match.c) knows only the
 * positive ones.
 */
#include <string.h>

#include "imap-search-private.h"

G_DEFINE_QUARK (imap_search_error, imap_search_error)

/* ---- the key table (RFC 9051 §6.4.4) ----------------------------------- */

typedef enum
{
  ARG_NONE,
  ARG_STRING,  /* astring */
  ARG_FIELD,   /* header-fld-name SP astring */
  ARG_DATE,    /* date */
  ARG_NUMBER,  /* number (number64 in RFC 9051) */
  ARG_KEYWORD, /* flag-keyword */
  ARG_KEY,     /* search-key */
  ARG_TWO,     /* search-key SP search-key */
  ARG_SET,     /* sequence-set */
  ARG_MODSEQ,  /* [entry-name SP entry-type-req SP] mod-sequence-valzer */
} ImapSearchArgument;

typedef struct
{
  const char *name;
  ImapSearchKind kind;
  ImapSearchArgument argument;
  MailFlags flag;    /* FLAG */
  const char *field; /* HEADER: fixed field */
  gboolean negate;   /* the key is NOT of this */
} ImapSearchKeyInfo;

static const ImapSearchKeyInfo search_keys[] = {
  /* name       kind            argument     flag / field        negate */
  { "ALL", KEY_ALL, ARG_NONE, 0, NULL, FALSE },
  { "ANSWERED", KEY_FLAG, ARG_NONE, MAIL_FLAG_ANSWERED, NULL, FALSE },
  { "BCC", KEY_ADDRESS, ARG_STRING, 0, "Bcc", FALSE },
  { "BEFORE", KEY_BEFORE, ARG_DATE, 0, NULL, FALSE },
  { "BODY", KEY_BODY, ARG_STRING, 0, NULL, FALSE },
  { "CC", KEY_ADDRESS, ARG_STRING, 0, "Cc", FALSE },
  { "DELETED", KEY_FLAG, ARG_NONE, MAIL_FLAG_DELETED, NULL, FALSE },
  { "DRAFT", KEY_FLAG, ARG_NONE, MAIL_FLAG_DRAFT, NULL, FALSE },
  { "FLAGGED", KEY_FLAG, ARG_NONE, MAIL_FLAG_FLAGGED, NULL, FALSE },
  { "FROM", KEY_ADDRESS, ARG_STRING, 0, "From", FALSE },
  { "HEADER", KEY_HEADER, ARG_FIELD, 0, NULL, FALSE },
  { "KEYWORD", KEY_KEYWORD, ARG_KEYWORD, 0, NULL, FALSE },
  { "LARGER", KEY_LARGER, ARG_NUMBER, 0, NULL, FALSE },
  { "MODSEQ", KEY_MODSEQ, ARG_MODSEQ, 0, NULL, FALSE }, /* RFC 7162 */
  { "NEW", KEY_NEW, ARG_NONE, 0, NULL, FALSE },         /* RFC 3501 */
  { "NOT", KEY_NOT, ARG_KEY, 0, NULL, FALSE },
  { "OLD", KEY_RECENT, ARG_NONE, 0, NULL, TRUE }, /* RFC 3501 */
  { "ON", KEY_ON, ARG_DATE, 0, NULL, FALSE },
  { "OR", KEY_OR, ARG_TWO, 0, NULL, FALSE },
  { "RECENT", KEY_RECENT, ARG_NONE, 0, NULL, FALSE }, /* RFC 3501 */
  { "SEEN", KEY_FLAG, ARG_NONE, MAIL_FLAG_SEEN, NULL, FALSE },
  { "SENTBEFORE", KEY_SENTBEFORE, ARG_DATE, 0, NULL, FALSE },
  { "SENTON", KEY_SENTON, ARG_DATE, 0, NULL, FALSE },
  { "SENTSINCE", KEY_SENTSINCE, ARG_DATE, 0, NULL, FALSE },
  { "SINCE", KEY_SINCE, ARG_DATE, 0, NULL, FALSE },
  { "SMALLER", KEY_SMALLER, ARG_NUMBER, 0, NULL, FALSE },
  { "SUBJECT", KEY_HEADER, ARG_STRING, 0, "Subject", FALSE },
  { "TEXT", KEY_TEXT, ARG_STRING, 0, NULL, FALSE },
  { "TO", KEY_ADDRESS, ARG_STRING, 0, "To", FALSE },
  { "UID", KEY_UID, ARG_SET, 0, NULL, FALSE },
  { "UNANSWERED", KEY_FLAG, ARG_NONE, MAIL_FLAG_ANSWERED, NULL, TRUE },
  { "UNDELETED", KEY_FLAG, ARG_NONE, MAIL_FLAG_DELETED, NULL, TRUE },
  { "UNDRAFT", KEY_FLAG, ARG_NONE, MAIL_FLAG_DRAFT, NULL, TRUE },
  { "UNFLAGGED", KEY_FLAG, ARG_NONE, MAIL_FLAG_FLAGGED, NULL, TRUE },
  { "UNKEYWORD", KEY_KEYWORD, ARG_KEYWORD, 0, NULL, TRUE },
  { "UNSEEN", KEY_FLAG, ARG_NONE, MAIL_FLAG_SEEN, NULL, TRUE },
};

static const ImapSearchKeyInfo *
find_key_info (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (search_keys); i++)
    if (g_ascii_strcasecmp (search_keys[i].name, name) == 0)
      return &search_keys[i];
  return NULL;
}

/* ---- nodes -------------------------------------------------------------- */

static gboolean
kind_needs_message (ImapSearchKind kind)
{
  return kind == KEY_SENTBEFORE || kind == KEY_SENTON ||
         kind == KEY_SENTSINCE || kind == KEY_HEADER || kind == KEY_ADDRESS ||
         kind == KEY_BODY || kind == KEY_TEXT;
}

static ImapSearchKey *
key_new (ImapSearchKind kind)
{
  ImapSearchKey *key = g_new0 (ImapSearchKey, 1);

  key->kind = kind;
  key->needs_message = kind_needs_message (kind);
  if (kind == KEY_AND || kind == KEY_OR || kind == KEY_NOT)
    key->children =
        g_ptr_array_new_with_free_func ((GDestroyNotify) imap_search_key_free);
  return key;
}

static void
key_add_child (ImapSearchKey *key, ImapSearchKey *child)
{
  key->needs_message |= child->needs_message;
  g_ptr_array_add (key->children, child);
}

static ImapSearchKey *
key_new_not (ImapSearchKey *child)
{
  ImapSearchKey *key = key_new (KEY_NOT);

  key_add_child (key, child);
  return key;
}

void
imap_search_key_free (ImapSearchKey *key)
{
  if (key == NULL)
    return;
  g_clear_pointer (&key->children, g_ptr_array_unref);
  g_clear_pointer (&key->set, imap_seqset_free);
  g_clear_pointer (&key->saved, g_array_unref);
  g_free (key->field);
  g_free (key->text);
  g_free (key);
}

/* ---- parsing (RFC 9051 §9 search) -------------------------------------- */

typedef struct
{
  const ImapArgList *args;
  guint at;
} SearchParser;

static const ImapArg *
next_arg (SearchParser *p, const char *expected, GError **error)
{
  if (p->at >= p->args->len)
    {
      g_set_error (error, IMAP_SEARCH_ERROR, IMAP_SEARCH_ERROR_SYNTAX,
                   "SEARCH: %s is missing", expected);
      return NULL;
    }
  return g_ptr_array_index (p->args, p->at++);
}

static gboolean
search_fail (GError **error, const char *expected, const char *key)
{
  g_set_error (error, IMAP_SEARCH_ERROR, IMAP_SEARCH_ERROR_SYNTAX,
               "SEARCH %s: %s expected", key, expected);
  return FALSE;
}

/* An astring (RFC 9051 §9), as UTF-8 (transfer full). */
static char *
next_string (SearchParser *p, const char *key, GError **error)
{
  const ImapArg *arg = next_arg (p, "a string", error);
  const char *text = arg != NULL ? imap_arg_astring (arg) : NULL;

  if (arg != NULL && text == NULL)
    search_fail (error, "a string", key);
  return text != NULL ? g_utf8_make_valid (text, -1) : NULL;
}

static const char *
next_atom (SearchParser *p,
           const char *expected,
           const char *key,
           GError **error)
{
  const ImapArg *arg = next_arg (p, expected, error);

  if (arg != NULL && arg->type != IMAP_ARG_ATOM)
    {
      search_fail (error, expected, key);
      return NULL;
    }
  return arg != NULL ? arg->data : NULL;
}

/* number / number64 / mod-sequence-valzer: digits up to @max. */
static gboolean
next_number (SearchParser *p,
             const char *key,
             guint64 max,
             gint64 *out_number,
             GError **error)
{
  const char *atom = next_atom (p, "a number", key, error);
  guint64 number = 0;

  if (atom == NULL)
    return FALSE;
  if (!g_ascii_isdigit (atom[0]) ||
      !g_ascii_string_to_unsigned (atom, 10, 0, max, &number, NULL))
    return search_fail (error, "a number", key);
  *out_number = (gint64) number;
  return TRUE;
}

static gboolean
next_date (SearchParser *p, const char *key, gint64 *out_day, GError **error)
{
  g_autofree char *text = next_string (p, key, error);
  g_autoptr (GError) local = NULL;

  if (text == NULL)
    return FALSE;
  if (!imap_date_parse (text, out_day, &local))
    return search_fail (error, "a date (1-Feb-1994)", key);
  return TRUE;
}

/* RFC 7162 §3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP
 * mod-sequence-valzer. The entry (a flag's own modseq) is checked and
 * then not used: every flag of a message has the message's modseq. */
static gboolean
next_modseq (SearchParser *p, gint64 *out_modseq, GError **error)
{
  const ImapArg *arg =
      p->at < p->args->len ? g_ptr_array_index (p->args, p->at) : NULL;
  const char *type = NULL;

  if (arg != NULL &&
      (arg->type == IMAP_ARG_QUOTED || arg->type == IMAP_ARG_LITERAL))
    {
      if (!g_str_has_prefix (arg->data, "/flags/"))
        return search_fail (error, "an entry name \"/flags/...\"", "MODSEQ");
      p->at++;
      type = next_atom (p, "priv, shared or all", "MODSEQ", error);
      if (type == NULL)
        return FALSE;
      if (g_ascii_strcasecmp (type, "priv") != 0 &&
          g_ascii_strcasecmp (type, "shared") != 0 &&
          g_ascii_strcasecmp (type, "all") != 0)
        return search_fail (error, "priv, shared or all", "MODSEQ");
    }
  return next_number (p, "MODSEQ", G_MAXINT64, out_modseq, error);
}

/* RFC 9051 §9 sequence-set, or "$" (RFC 5182 §2.1) for @key. */
static gboolean
parse_set (const char *text,
           ImapSearchKey *key,
           const char *name,
           GError **error)
{
  key->set = imap_seqset_parse (text, NULL);
  if (key->set == NULL)
    return search_fail (error, "a sequence set", name);
  if (key->set->saved)
    {
      key->kind = KEY_SAVED;
      g_clear_pointer (&key->set, imap_seqset_free);
    }
  return TRUE;
}

static ImapSearchKey *parse_key (SearchParser *p, guint depth, GError **error);

/* The argument of @info's key into @key. */
static gboolean
parse_argument (SearchParser *p,
                const ImapSearchKeyInfo *info,
                ImapSearchKey *key,
                guint depth,
                GError **error)
{
  ImapSearchKey *child = NULL;
  const char *atom = NULL;

  switch (info->argument)
    {
    case ARG_NONE:
      return TRUE;
    case ARG_FIELD:
      key->field = next_string (p, info->name, error);
      if (key->field == NULL)
        return FALSE;
      G_GNUC_FALLTHROUGH;
    case ARG_STRING:
      key->text = next_string (p, info->name, error);
      return key->text != NULL;
    case ARG_DATE:
      return next_date (p, info->name, &key->number, error);
    case ARG_NUMBER:
      return next_number (p, info->name, G_MAXINT64, &key->number, error);
    case ARG_MODSEQ:
      return next_modseq (p, &key->number, error);
    case ARG_KEYWORD:
      atom = next_atom (p, "a keyword", info->name, error);
      key->text = g_strdup (atom);
      return atom != NULL;
    case ARG_SET:
      atom = next_atom (p, "a sequence set", info->name, error);
      return atom != NULL && parse_set (atom, key, info->name, error);
    case ARG_TWO:
    case ARG_KEY:
      for (int i = info->argument == ARG_TWO ? 2 : 1; i > 0; i--)
        {
          if ((child = parse_key (p, depth + 1, error)) == NULL)
            return FALSE;
          key_add_child (key, child);
        }
      return TRUE;
    default:
      g_assert_not_reached ();
    }
}

/* One or more keys to the end of @args, all to match; one key stands
 * for itself. */
static ImapSearchKey *
parse_keys (const ImapArgList *args, guint first, guint depth, GError **error)
{
  SearchParser p = { args, first };
  g_autoptr (ImapSearchKey) all = key_new (KEY_AND);

  if (first >= args->len)
    {
      g_set_error_literal (error, IMAP_SEARCH_ERROR, IMAP_SEARCH_ERROR_SYNTAX,
                           "SEARCH: a search key is missing");
      return NULL;
    }
  while (p.at < args->len)
    {
      ImapSearchKey *key = parse_key (&p, depth, error);

      if (key == NULL)
        return NULL;
      key_add_child (all, key);
    }
  if (all->children->len == 1)
    return g_ptr_array_steal_index (all->children, 0);
  return g_steal_pointer (&all);
}

/* RFC 3501 §6.4.4: NEW is "(RECENT UNSEEN)". */
static ImapSearchKey *
key_new_new (void)
{
  ImapSearchKey *key = key_new (KEY_AND);
  ImapSearchKey *seen = key_new (KEY_FLAG);

  seen->flag = MAIL_FLAG_SEEN;
  key_add_child (key, key_new (KEY_RECENT));
  key_add_child (key, key_new_not (seen));
  return key;
}

/* The key named by the atom @name, and its argument. */
static ImapSearchKey *
parse_named_key (SearchParser *p, const char *name, guint depth, GError **error)
{
  const ImapSearchKeyInfo *info = find_key_info (name);
  g_autoptr (ImapSearchKey) key = NULL;

  if (info == NULL)
    {
      g_set_error (error, IMAP_SEARCH_ERROR, IMAP_SEARCH_ERROR_SYNTAX,
                   "SEARCH: unknown search key %s", name);
      return NULL;
    }
  if (info->kind == KEY_NEW)
    return key_new_new ();
  key = key_new (info->kind);
  key->flag = info->flag;
  key->field = g_strdup (info->field);
  if (!parse_argument (p, info, key, depth, error))
    return NULL;
  return info->negate ? key_new_not (g_steal_pointer (&key))
                      : g_steal_pointer (&key);
}

/* RFC 9051 §9 search-key: a named key, a sequence set, or "(" keys ")". */
static ImapSearchKey *
parse_key (SearchParser *p, guint depth, GError **error)
{
  const ImapArg *arg = NULL;
  g_autoptr (ImapSearchKey) key = NULL;

  if (depth >= IMAP_SEARCH_MAX_DEPTH)
    {
      g_set_error (error, IMAP_SEARCH_ERROR, IMAP_SEARCH_ERROR_SYNTAX,
                   "SEARCH: keys nested deeper than %d", IMAP_SEARCH_MAX_DEPTH);
      return NULL;
    }
  if ((arg = next_arg (p, "a search key", error)) == NULL)
    return NULL;
  if (arg->type == IMAP_ARG_LIST)
    return parse_keys (arg->list, 0, depth + 1, error);
  if (arg->type != IMAP_ARG_ATOM)
    {
      g_set_error_literal (error, IMAP_SEARCH_ERROR, IMAP_SEARCH_ERROR_SYNTAX,
                           "SEARCH: a search key expected, not a string");
      return NULL;
    }
  if (!g_ascii_isdigit (arg->data[0]) && arg->data[0] != '*' &&
      arg->data[0] != '$')
    return parse_named_key (p, arg->data, depth, error);
  key = key_new (KEY_SEQUENCE);
  if (!parse_set (arg->data, key, "sequence set", error))
    return NULL;
  return g_steal_pointer (&key);
}

/* RFC 9051 §6.4.4: "CHARSET" SP charset; US-ASCII and UTF-8 must be
 * known, and are the only ones known here. (transfer full) */
static char *
parse_charset (SearchParser *p, GError **error)
{
  g_autofree char *charset = NULL;

  if (p->at >= p->args->len ||
      !imap_arg_is_atom (g_ptr_array_index (p->args, p->at), "CHARSET"))
    return g_strdup ("");
  p->at++;
  if ((charset = next_string (p, "CHARSET", error)) == NULL)
    return NULL;
  if (g_ascii_strcasecmp (charset, "UTF-8") != 0 &&
      g_ascii_strcasecmp (charset, "US-ASCII") != 0)
    {
      g_set_error (error, IMAP_SEARCH_ERROR, IMAP_SEARCH_ERROR_BADCHARSET,
                   "SEARCH: charset %s not supported", charset);
      return NULL;
    }
  return g_ascii_strup (charset, -1);
}

ImapSearchKey *
imap_search_parse (GPtrArray *args,
                   guint first,
                   char **out_charset,
                   GError **error)
{
  ImapArgList list;
  SearchParser p;
  g_autofree char *charset = NULL;
  ImapSearchKey *key = NULL;

  g_return_val_if_fail (args != NULL, NULL);
  list = imap_arg_list_view (args);
  p = (SearchParser){ &list, first };
  if ((charset = parse_charset (&p, error)) == NULL)
    return NULL;
  if ((key = parse_keys (&list, p.at, 0, error)) == NULL)
    return NULL;
  if (out_charset != NULL)
    *out_charset = charset[0] != '\0' ? g_steal_pointer (&charset) : NULL;
  return key;
}

/* ---- what the tree holds ----------------------------------------------- */

gboolean
imap_search_needs_message (const ImapSearchKey *key)
{
  g_return_val_if_fail (key != NULL, FALSE);
  return key->needs_message;
}

static gboolean
key_has_kind (const ImapSearchKey *key, ImapSearchKind kind)
{
  if (key->kind == kind)
    return TRUE;
  for (guint i = 0; key->children != NULL && i < key->children->len; i++)
    if (key_has_kind (g_ptr_array_index (key->children, i), kind))
      return TRUE;
  return FALSE;
}

gboolean
imap_search_uses_modseq (const ImapSearchKey *key)
{
  g_return_val_if_fail (key != NULL, FALSE);
  return key_has_kind (key, KEY_MODSEQ);
}

gboolean
imap_search_needs_body (const ImapSearchKey *key)
{
  g_return_val_if_fail (key != NULL, FALSE);
  return key_has_kind (key, KEY_BODY) || key_has_kind (key, KEY_TEXT);
}

gboolean
imap_search_uses_saved (const ImapSearchKey *key)
{
  g_return_val_if_fail (key != NULL, FALSE);
  return key_has_kind (key, KEY_SAVED);
}

void
imap_search_set_saved_uids (ImapSearchKey *key,
                            const guint32 *uids,
                            gsize count)
{
  g_return_if_fail (key != NULL && (uids != NULL || count == 0));
  if (key->kind == KEY_SAVED)
    {
      g_clear_pointer (&key->saved, g_array_unref);
      key->saved = g_array_sized_new (FALSE, FALSE, sizeof (guint32), count);
      g_array_append_vals (key->saved, uids, count);
    }
  for (guint i = 0; key->children != NULL && i < key->children->len; i++)
    imap_search_set_saved_uids (g_ptr_array_index (key->children, i), uids,
                                count);
}

/* ---- describing the tree ------------------------------------------------ */

static const char *const kind_names[] = {
  [KEY_ALL] = "ALL",
  [KEY_AND] = "AND",
  [KEY_OR] = "OR",
  [KEY_NOT] = "NOT",
  [KEY_SEQUENCE] = "SEQUENCE",
  [KEY_UID] = "UID",
  [KEY_SAVED] = "$",
  [KEY_FLAG] = "FLAG",
  [KEY_KEYWORD] = "KEYWORD",
  [KEY_RECENT] = "RECENT",
  [KEY_NEW] = "NEW",
  [KEY_LARGER] = "LARGER",
  [KEY_SMALLER] = "SMALLER",
  [KEY_MODSEQ] = "MODSEQ",
  [KEY_BEFORE] = "BEFORE",
  [KEY_ON] = "ON",
  [KEY_SINCE] = "SINCE",
  [KEY_SENTBEFORE] = "SENTBEFORE",
  [KEY_SENTON] = "SENTON",
  [KEY_SENTSINCE] = "SENTSINCE",
  [KEY_HEADER] = "HEADER",
  [KEY_ADDRESS] = "ADDRESS",
  [KEY_BODY] = "BODY",
  [KEY_TEXT] = "TEXT",
};

static const char *
flag_name (MailFlags flag)
{
  switch (flag)
    {
    case MAIL_FLAG_ANSWERED:
      return "\\Answered";
    case MAIL_FLAG_DELETED:
      return "\\Deleted";
    case MAIL_FLAG_DRAFT:
      return "\\Draft";
    case MAIL_FLAG_FLAGGED:
      return "\\Flagged";
    case MAIL_FLAG_SEEN:
      return "\\Seen";
    default:
      g_assert_not_reached ();
    }
}

static void
describe_set (GString *out, const ImapSeqSet *set)
{
  for (guint i = 0; i < set->ranges->len; i++)
    {
      const ImapSeqRange *range = &g_array_index (set->ranges, ImapSeqRange, i);

      if (i > 0)
        g_string_append_c (out, ',');
      if (range->first == IMAP_SEQ_STAR)
        g_string_append_c (out, '*');
      else
        g_string_append_printf (out, "%u", range->first);
      if (range->last == range->first)
        continue;
      if (range->last == IMAP_SEQ_STAR)
        g_string_append (out, ":*");
      else
        g_string_append_printf (out, ":%u", range->last);
    }
}

static void
describe_day (GString *out, gint64 day)
{
  g_autoptr (GDateTime) date =
      g_date_time_new_from_unix_utc (day * 24 * 60 * 60);
  g_autofree char *text = g_date_time_format (date, "%Y-%m-%d");

  g_string_append (out, text);
}

/* What follows the kind's name: " 1:3", " \\Seen", " Subject \"x\"" ... */
static void
describe_argument (GString *out, const ImapSearchKey *key)
{
  switch (key->kind)
    {
    case KEY_SEQUENCE:
    case KEY_UID:
      g_string_append_c (out, ' ');
      describe_set (out, key->set);
      break;
    case KEY_FLAG:
      g_string_append_printf (out, " %s", flag_name (key->flag));
      break;
    case KEY_KEYWORD:
      g_string_append_printf (out, " %s", key->text);
      break;
    case KEY_HEADER:
    case KEY_ADDRESS:
      g_string_append_printf (out, " %s \"%s\"", key->field, key->text);
      break;
    case KEY_BODY:
    case KEY_TEXT:
      g_string_append_printf (out, " \"%s\"", key->text);
      break;
    case KEY_LARGER:
    case KEY_SMALLER:
    case KEY_MODSEQ:
      g_string_append_printf (out, " %" G_GINT64_FORMAT, key->number);
      break;
    case KEY_BEFORE:
    case KEY_ON:
    case KEY_SINCE:
    case KEY_SENTBEFORE:
    case KEY_SENTON:
    case KEY_SENTSINCE:
      g_string_append_c (out, ' ');
      describe_day (out, key->number);
      break;
    default:
      break;
    }
}

static void
describe_key (GString *out, const ImapSearchKey *key)
{
  gboolean plain =
      key->kind == KEY_ALL || key->kind == KEY_RECENT || key->kind == KEY_SAVED;

  if (!plain)
    g_string_append_c (out, '(');
  g_string_append (out, kind_names[key->kind]);
  for (guint i = 0; key->children != NULL && i < key->children->len; i++)
    {
      g_string_append_c (out, ' ');
      describe_key (out, g_ptr_array_index (key->children, i));
    }
  describe_argument (out, key);
  if (!plain)
    g_string_append_c (out, ')');
}

char *
imap_search_key_describe (const ImapSearchKey *key)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (key != NULL, NULL);
  describe_key (out, key);
  return g_string_free (out, FALSE);
}
