/* SPDX-License-Identifier: MIT
 * imap-fetch.c: FETCH, the command that pulls data out of messages (RFC
 * 9051 §6.4.5, §7.5.2; RFC 3501 §6.4.5 for RFC822 and RFC822.HEADER /
 * .TEXT; RFC 3516 BINARY, BINARY.PEEK and BINARY.SIZE).
 *
 *   FETCH set (item ...) | item | ALL | FAST | FULL
 *
 * The items are parsed once into a list, then each message of the set
 * gets one "* n FETCH (...)" response. MIME structure (ENVELOPE,
 * BODYSTRUCTURE, sections) comes from imap-message.c, which uses GMime.
 * ENVELOPE, BODY and BODYSTRUCTURE are kept in a per-folder cache
 * (imap-cache.h): only the items that need the octets read the message.
 */
#include <string.h>

#include "imap-cache.h"
#include "imap-message.h"
#include "imap-session-private.h"

/* Responses are flushed once this much is waiting. */
#define IMAP_FETCH_FLUSH_SIZE (256 * 1024)

typedef enum
{
  IMAP_FETCH_UID,
  IMAP_FETCH_FLAGS,
  IMAP_FETCH_INTERNALDATE,
  IMAP_FETCH_SIZE, /* RFC822.SIZE */
  IMAP_FETCH_ENVELOPE,
  IMAP_FETCH_BODY, /* BODY without a section: BODYSTRUCTURE, no extensions */
  IMAP_FETCH_BODYSTRUCTURE,
  IMAP_FETCH_SECTION,     /* BODY[...] and BODY.PEEK[...], RFC822* */
  IMAP_FETCH_BINARY,      /* BINARY[...] and BINARY.PEEK[...] */
  IMAP_FETCH_BINARY_SIZE, /* BINARY.SIZE[...] */
  IMAP_FETCH_MODSEQ,      /* RFC 7162 §3.1.4.2 */
} ImapFetchKind;

typedef struct
{
  ImapFetchKind kind;
  char *name;          /* as the response names it: "BODY[HEADER]<0>" */
  ImapSection section; /* for SECTION and BINARY* */
  gboolean peek;       /* does not set \Seen */
} ImapFetchItem;

static void
imap_fetch_item_clear (gpointer data)
{
  ImapFetchItem *item = data;

  g_free (item->name);
  imap_section_clear (&item->section);
}

/* The simple items, by name. */
static const struct
{
  const char *name;
  ImapFetchKind kind;
} imap_fetch_simple[] = {
  { "UID", IMAP_FETCH_UID },
  { "FLAGS", IMAP_FETCH_FLAGS },
  { "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
  { "RFC822.SIZE", IMAP_FETCH_SIZE },
  { "ENVELOPE", IMAP_FETCH_ENVELOPE },
  { "BODY", IMAP_FETCH_BODY },
  { "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
  { "MODSEQ", IMAP_FETCH_MODSEQ },
};

/* RFC 3501 §6.4.5: RFC822 = BODY[], RFC822.HEADER = BODY.PEEK[HEADER],
 * RFC822.TEXT = BODY[TEXT], named as such in the response. */
static const struct
{
  const char *name;
  const char *section;
  gboolean peek;
} imap_fetch_rfc822[] = {
  { "RFC822", "]", FALSE },
  { "RFC822.HEADER", "HEADER]", TRUE },
  { "RFC822.TEXT", "TEXT]", FALSE },
};

/* "BODY.PEEK[1.2]<0.10>" and friends; FALSE if not one of them. */
static gboolean
imap_fetch_parse_section (const char *text, ImapFetchItem *item, GError **error)
{
  static const struct
  {
    const char *prefix, *reply;
    ImapFetchKind kind;
    gboolean peek;
  } forms[] = {
    { "BODY[", "BODY[", IMAP_FETCH_SECTION, FALSE },
    { "BODY.PEEK[", "BODY[", IMAP_FETCH_SECTION, TRUE },
    { "BINARY[", "BINARY[", IMAP_FETCH_BINARY, FALSE },
    { "BINARY.PEEK[", "BINARY[", IMAP_FETCH_BINARY, TRUE },
    { "BINARY.SIZE[", "BINARY.SIZE[", IMAP_FETCH_BINARY_SIZE, TRUE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (forms); i++)
    {
      gsize length = strlen (forms[i].prefix);
      const char *rest = text + length;
      const char *close = NULL;

      if (g_ascii_strncasecmp (text, forms[i].prefix, length) != 0)
        continue;
      if (!imap_section_parse (rest, &item->section, error))
        return FALSE;
      close = strchr (rest, ']');
      item->kind = forms[i].kind;
      item->peek = forms[i].peek;
      /* §7.5.2: the reply names the section as asked, and of a partial
       * only its origin, "<0>" */
      item->name = g_strdup_printf ("%s%.*s]", forms[i].reply,
                                    (int) (close - rest), rest);
      if (item->section.has_partial)
        {
          char *named =
              g_strdup_printf ("%s<%u>", item->name, item->section.offset);

          g_free (item->name);
          item->name = named;
        }
      return TRUE;
    }
  g_set_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX,
               "unknown FETCH item %s", text);
  return FALSE;
}

static gboolean
imap_fetch_parse_item (const ImapArg *arg, GArray *items, GError **error)
{
  ImapFetchItem item = { 0 };

  if (arg->type != IMAP_ARG_ATOM)
    {
      g_set_error_literal (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX,
                           "FETCH items are atoms");
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (imap_fetch_simple); i++)
    if (g_ascii_strcasecmp (arg->data, imap_fetch_simple[i].name) == 0)
      {
        item.kind = imap_fetch_simple[i].kind;
        item.name = g_strdup (imap_fetch_simple[i].name);
        g_array_append_val (items, item);
        return TRUE;
      }
  for (guint i = 0; i < G_N_ELEMENTS (imap_fetch_rfc822); i++)
    if (g_ascii_strcasecmp (arg->data, imap_fetch_rfc822[i].name) == 0)
      {
        item.kind = IMAP_FETCH_SECTION;
        item.name = g_strdup (imap_fetch_rfc822[i].name);
        item.peek = imap_fetch_rfc822[i].peek;
        imap_section_parse (imap_fetch_rfc822[i].section, &item.section, NULL);
        g_array_append_val (items, item);
        return TRUE;
      }
  if (!imap_fetch_parse_section (arg->data, &item, error))
    {
      imap_fetch_item_clear (&item);
      return FALSE;
    }
  g_array_append_val (items, item);
  return TRUE;
}

/* §6.4.5: the macros ALL, FAST and FULL, a single item, or a list. */
static GArray *
imap_fetch_parse_items (const ImapArg *arg, GError **error)
{
  static const char *const macros[][5] = {
    { "ALL", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE" },
    { "FAST", "FLAGS", "INTERNALDATE", "RFC822.SIZE", NULL },
    { "FULL", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE" },
  };
  g_autoptr (GArray) items = g_array_new (FALSE, TRUE, sizeof (ImapFetchItem));

  g_array_set_clear_func (items, imap_fetch_item_clear);
  for (guint m = 0; arg->type == IMAP_ARG_ATOM && m < G_N_ELEMENTS (macros);
       m++)
    {
      if (g_ascii_strcasecmp (arg->data, macros[m][0]) != 0)
        continue;
      for (guint i = 1; i < 5 && macros[m][i] != NULL; i++)
        {
          ImapArg word = { .type = IMAP_ARG_ATOM,
                           .data = (char *) macros[m][i] };

          imap_fetch_parse_item (&word, items, NULL);
        }
      if (m == 2)
        {
          ImapArg body = { .type = IMAP_ARG_ATOM, .data = (char *) "BODY" };

          imap_fetch_parse_item (&body, items, NULL);
        }
      return g_steal_pointer (&items);
    }
  if (arg->type != IMAP_ARG_LIST)
    return imap_fetch_parse_item (arg, items, error) ? g_steal_pointer (&items)
                                                     : NULL;
  for (guint i = 0; i < arg->list->len; i++)
    if (!imap_fetch_parse_item (arg->list->pdata[i], items, error))
      return NULL;
  if (items->len == 0)
    {
      g_set_error_literal (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_SYNTAX,
                           "FETCH needs at least one item");
      return NULL;
    }
  return g_steal_pointer (&items);
}

/* ---- answering ----------------------------------------------------------- */

/* The state of one message while its response is written. */
typedef struct
{
  guint index;
  const MailMessage *message;
  ImapMessage *parsed; /* read on first need */
  gboolean vanished;   /* the file went away (another session expunged) */
} ImapFetchMessage;

static ImapMessage *
imap_fetch_load (ImapSession *session, ImapFetchMessage *fm)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) data = NULL;

  if (fm->parsed != NULL || fm->vanished)
    return fm->parsed;
  data = mail_folder_read_message (session->folder, fm->index, &error);
  if (data == NULL)
    {
      g_debug ("%s: %s", session->peer, error->message);
      fm->vanished = TRUE;
      return NULL;
    }
  fm->parsed = imap_message_new (data);
  return fm->parsed;
}

/* ---- ENVELOPE, BODY and BODYSTRUCTURE from the cache (imap-cache.h) --- */

/* The cache of the selected folder, made on first need and kept until
 * the session leaves the folder (transfer none). */
static ImapCache *
imap_fetch_get_cache (ImapSession *session, const MailMessage *message)
{
  if (session->cache == NULL)
    {
      g_autofree char *dir = imap_cache_folder_dir (message);

      session->cache = imap_cache_new (dir);
    }
  return session->cache;
}

/* At the end of FETCH: writes what it added to the cache. */
static void
imap_fetch_save_cache (ImapSession *session)
{
  g_autoptr (GError) error = NULL;

  if (session->cache != NULL &&
      !imap_cache_write (session->cache, session->folder, &error))
    g_debug ("%s: %s", session->peer, error->message);
}

/* Appends ENVELOPE, BODY or BODYSTRUCTURE (§7.5.2) as the cache has it,
 * or computes, keeps and appends it; FALSE for any other item. Only a
 * miss reads the message. */
static gboolean
imap_fetch_append_cached (ImapSession *session,
                          ImapFetchMessage *fm,
                          const ImapFetchItem *item,
                          GString *out)
{
  ImapCacheItem which = IMAP_CACHE_ENVELOPE;
  ImapCache *cache = NULL;
  ImapMessage *parsed = NULL;

  if (item->kind == IMAP_FETCH_BODY)
    which = IMAP_CACHE_BODY;
  else if (item->kind == IMAP_FETCH_BODYSTRUCTURE)
    which = IMAP_CACHE_BODYSTRUCTURE;
  else if (item->kind != IMAP_FETCH_ENVELOPE)
    return FALSE;
  cache = imap_fetch_get_cache (session, fm->message);
  if (imap_cache_append (cache, fm->message, which, out))
    return TRUE;
  /* another session may have written it meanwhile */
  imap_cache_refresh (cache, session->folder);
  if (imap_cache_append (cache, fm->message, which, out))
    return TRUE;
  parsed = imap_fetch_load (session, fm);
  if (parsed == NULL)
    return TRUE; /* vanished: the caller drops this response */
  imap_cache_add (cache, fm->message, which, parsed);
  imap_cache_append (cache, fm->message, which, out);
  return TRUE;
}

/* A literal: "{n}" CRLF and the octets. RFC 9051 §9 CHAR8, what a
 * literal holds, excludes NUL: BINARY sends octets that hold one in a
 * literal8 "~{n}" (RFC 3516 §4.2); BODY sends the stored octets with
 * each NUL as 0x80, as Dovecot does, so the literal is RFC822.SIZE long
 * and offsets of partial fetches stay those of the stored message. */
static void
imap_fetch_append_literal (GString *out, GBytes *bytes, gboolean binary)
{
  gsize length = 0;
  const char *data = g_bytes_get_data (bytes, &length);
  gboolean nul = length > 0 && memchr (data, '\0', length) != NULL;
  gsize start = 0;

  g_string_append_printf (out, "%s{%" G_GSIZE_FORMAT "}\r\n",
                          nul && binary ? "~" : "", length);
  start = out->len;
  g_string_append_len (out, data, length);
  for (gsize i = start; nul && !binary && i < out->len; i++)
    if (out->str[i] == '\0')
      out->str[i] = (char) 0x80;
}

/* §6.4.5: <offset.length> cuts the octets; past the end is empty. */
static GBytes *
imap_fetch_partial (GBytes *bytes, const ImapSection *section)
{
  gsize size = g_bytes_get_size (bytes);
  gsize offset = MIN ((gsize) section->offset, size);

  if (!section->has_partial)
    return g_bytes_ref (bytes);
  return g_bytes_new_from_bytes (bytes, offset,
                                 MIN ((gsize) section->length, size - offset));
}

/* The section or binary octets of @item (transfer full), NULL on error. */
static GBytes *
imap_fetch_section_data (ImapMessage *parsed,
                         const ImapFetchItem *item,
                         GError **error)
{
  g_autoptr (GBytes) whole = NULL;

  if (item->kind == IMAP_FETCH_SECTION)
    whole = imap_message_get_section (parsed, &item->section);
  else
    whole = imap_message_get_binary (parsed, &item->section, error);
  if (whole == NULL)
    return NULL;
  return imap_fetch_partial (whole, &item->section);
}

/* A number (RFC 9051 §9), written out by hand: a FETCH of cached items
 * writes several per message, and g_string_append_printf () spent more
 * reading its format than the rest of the response took. */
static void
imap_fetch_append_number (GString *out, guint64 number)
{
  char digits[20];
  gsize at = sizeof digits;

  do
    {
      digits[--at] = (char) ('0' + number % 10);
      number /= 10;
    }
  while (number > 0);
  g_string_append_len (out, digits + at, sizeof digits - at);
}

/* Appends " NAME value" for one item. FALSE with @error on UNKNOWN-CTE. */
static gboolean
imap_fetch_append_item (ImapSession *session,
                        ImapFetchMessage *fm,
                        const ImapFetchItem *item,
                        GString *out,
                        GError **error)
{
  ImapMessage *parsed = NULL;
  g_autoptr (GBytes) data = NULL;
  g_autofree char *text = NULL;
  guint64 size = 0;

  if (out->str[out->len - 1] != '(')
    g_string_append_c (out, ' ');
  g_string_append (out, item->name);
  g_string_append_c (out, ' ');
  switch (item->kind)
    {
    case IMAP_FETCH_UID:
      imap_fetch_append_number (out, fm->message->uid);
      return TRUE;
    case IMAP_FETCH_FLAGS:
      text = imap_session_flags_string (session, fm->message);
      g_string_append_printf (out, "(%s)", text);
      return TRUE;
    case IMAP_FETCH_INTERNALDATE:
      text = imap_datetime_format (fm->message->mtime);
      g_string_append_printf (out, "\"%s\"", text);
      return TRUE;
    case IMAP_FETCH_SIZE:
      imap_fetch_append_number (out, fm->message->size);
      return TRUE;
    case IMAP_FETCH_MODSEQ:
      g_string_append_c (out, '(');
      imap_fetch_append_number (out, fm->message->modseq);
      g_string_append_c (out, ')');
      return TRUE;
    default:
      break;
    }
  if (imap_fetch_append_cached (session, fm, item, out))
    return TRUE;
  parsed = imap_fetch_load (session, fm);
  if (parsed == NULL)
    return TRUE; /* vanished: the caller drops this response */
  if (item->kind == IMAP_FETCH_BINARY_SIZE)
    {
      if (!imap_message_get_binary_size (parsed, &item->section, &size, error))
        return FALSE;
      g_string_append_printf (out, "%" G_GUINT64_FORMAT, size);
    }
  else if ((data = imap_fetch_section_data (parsed, item, error)) != NULL)
    imap_fetch_append_literal (out, data, item->kind == IMAP_FETCH_BINARY);
  else
    return FALSE;
  return TRUE;
}

/* Does one of @items read a body without .PEEK (so it sets \Seen)? */
static gboolean
imap_fetch_reads_body (GArray *items)
{
  for (guint i = 0; i < items->len; i++)
    {
      const ImapFetchItem *item = &g_array_index (items, ImapFetchItem, i);

      if ((item->kind == IMAP_FETCH_SECTION ||
           item->kind == IMAP_FETCH_BINARY) &&
          !item->peek)
        return TRUE;
    }
  return FALSE;
}

/* §6.4.5: BODY[...] and RFC822(.TEXT) set \Seen; each response then
 * carries the new FLAGS. All of them change in one batch (one uidlist
 * write, RFC 7162 MODSEQ) before any response goes out. Returns the
 * indexes marked, as a set. */
static GHashTable *
imap_fetch_mark_seen (ImapSession *session, GArray *indexes, GArray *items)
{
  GHashTable *marked = g_hash_table_new (NULL, NULL);
  g_autoptr (GError) error = NULL;

  if (!imap_fetch_reads_body (items) || session->flags.read_only ||
      !mail_folder_begin_changes (session->folder, &error))
    return marked;
  for (guint i = 0; i < indexes->len; i++)
    {
      guint index = g_array_index (indexes, guint, i);
      const MailMessage *message =
          mail_folder_peek_message (session->folder, index);

      if ((message->flags & MAIL_FLAG_SEEN) ||
          !mail_folder_set_flags (
              session->folder, index, message->flags | MAIL_FLAG_SEEN,
              (const char *const *) message->keywords, NULL))
        continue;
      g_hash_table_add (marked, GUINT_TO_POINTER (index + 1));
    }
  if (!mail_folder_end_changes (session->folder, &error))
    g_warning ("%s: \\Seen: %s", session->peer, error->message);
  return marked;
}

static gboolean
imap_fetch_has (GArray *items, ImapFetchKind kind)
{
  for (guint i = 0; i < items->len; i++)
    if (g_array_index (items, ImapFetchItem, i).kind == kind)
      return TRUE;
  return FALSE;
}

/* Writes "* n FETCH (...)" for one message, made in @out (a buffer the
 * command reuses). FALSE with @error for an error that ends the command
 * (UNKNOWN-CTE); *out_vanished when the message could not be read. */
static gboolean
imap_fetch_one (ImapSession *session,
                guint index,
                GArray *items,
                gboolean marked_seen,
                GString *out,
                gboolean *out_vanished,
                GError **error)
{
  ImapFetchMessage fm = { index, NULL, NULL, FALSE };
  gboolean ok = TRUE;

  fm.message = mail_folder_get_message (session->folder, index);
  imap_session_announce_keywords (session, fm.message);
  g_string_assign (out, "* ");
  imap_fetch_append_number (out, index + 1);
  g_string_append (out, " FETCH (");
  /* §6.4.9: a UID command's responses always carry the UID; RFC 7162
   * §3.2.4: once CONDSTORE is in use, so does one telling of a flag
   * change */
  if ((session->uid || (marked_seen && session->flags.condstore)) &&
      !imap_fetch_has (items, IMAP_FETCH_UID))
    {
      g_string_append (out, "UID ");
      imap_fetch_append_number (out, fm.message->uid);
    }
  if (marked_seen && !imap_fetch_has (items, IMAP_FETCH_FLAGS))
    {
      g_autofree char *flags = imap_session_flags_string (session, fm.message);

      g_string_append_printf (out, "%sFLAGS (%s)",
                              out->str[out->len - 1] == '(' ? "" : " ", flags);
      /* RFC 7162 §3.1.4: a flag change carries its MODSEQ */
      if (session->flags.condstore &&
          !imap_fetch_has (items, IMAP_FETCH_MODSEQ))
        g_string_append_printf (out, " MODSEQ (%" G_GUINT64_FORMAT ")",
                                fm.message->modseq);
    }
  for (guint i = 0; i < items->len && ok && !fm.vanished; i++)
    ok = imap_fetch_append_item (
        session, &fm, &g_array_index (items, ImapFetchItem, i), out, error);
  g_clear_pointer (&fm.parsed, imap_message_free);
  *out_vanished = fm.vanished;
  if (!ok || fm.vanished)
    return ok;
  g_string_append (out, ")\r\n");
  mail_stream_write_response (session->stream, out->str, out->len);
  return TRUE;
}

/* RFC 7162 §3.1.4.1, §3.2.6: the modifiers "(CHANGEDSINCE n [VANISHED])".
 * FALSE after BAD. *out_since is 0 without CHANGEDSINCE. */
static gboolean
imap_fetch_modifiers (ImapSession *session,
                      const ImapArg *arg,
                      guint64 *out_since,
                      gboolean *out_vanished)
{
  const ImapArgList *list = arg->type == IMAP_ARG_LIST ? arg->list : NULL;

  *out_since = 0;
  *out_vanished = FALSE;
  for (guint i = 0; list != NULL && i < list->len; i++)
    {
      if (imap_arg_is_atom (list->pdata[i], "CHANGEDSINCE") &&
          i + 1 < list->len && imap_arg_number (list->pdata[i + 1], out_since))
        i++;
      /* §3.2.6: VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE */
      else if (imap_arg_is_atom (list->pdata[i], "VANISHED") && session->uid &&
               session->flags.qresync)
        *out_vanished = TRUE;
      else
        list = NULL;
    }
  if (list == NULL || *out_since == 0)
    {
      imap_reply_bad (session, "FETCH modifiers are (CHANGEDSINCE modseq) "
                               "and, for UID FETCH after ENABLE QRESYNC, "
                               "VANISHED");
      return FALSE;
    }
  return TRUE;
}

/* Keeps the messages changed after @since (RFC 7162 §3.1.4.1). */
static void
imap_fetch_keep_changed (ImapSession *session, GArray *indexes, guint64 since)
{
  guint kept = 0;

  for (guint i = 0; i < indexes->len; i++)
    {
      guint index = g_array_index (indexes, guint, i);

      if (mail_folder_peek_message (session->folder, index)->modseq > since)
        g_array_index (indexes, guint, kept++) = index;
    }
  g_array_set_size (indexes, kept);
}

/* §3.2.6: "* VANISHED (EARLIER) uids": expunged after @since, in @set. */
static void
imap_fetch_reply_vanished (ImapSession *session,
                           const ImapArg *set,
                           guint64 since)
{
  g_autoptr (GArray) gone = mail_folder_expunged_since (session->folder, since);
  g_autoptr (ImapSeqSet) within = imap_seqset_parse (set->data, NULL);
  g_autoptr (GString) line = g_string_new ("VANISHED (EARLIER) ");

  if (within != NULL && imap_append_uid_ranges (line, gone, within))
    imap_reply_untagged (session, "%s", line->str);
}

/* Parses FETCH's arguments; the indexes to answer (transfer full), or
 * NULL after BAD. */
static GArray *
imap_fetch_prepare (ImapSession *session, GPtrArray *args, GArray **out_items)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) indexes = NULL;
  guint64 since = 0;
  gboolean vanished = FALSE;

  if (args->len < 2 || args->len > 3 ||
      (args->len == 3 &&
       !imap_fetch_modifiers (session, args->pdata[2], &since, &vanished)))
    {
      if (args->len < 2 || args->len > 3)
        imap_reply_bad (session, "FETCH takes a set, items and modifiers");
      return NULL;
    }
  *out_items = imap_fetch_parse_items (args->pdata[1], &error);
  if (*out_items == NULL)
    {
      imap_reply_bad (session, "%s", error->message);
      return NULL;
    }
  indexes = imap_session_resolve_set (session, args->pdata[0], session->uid);
  if (indexes == NULL)
    return NULL;
  if (since > 0 || imap_fetch_has (*out_items, IMAP_FETCH_MODSEQ))
    imap_session_enable_condstore (session); /* §3.1 */
  if (since > 0 && !imap_fetch_has (*out_items, IMAP_FETCH_MODSEQ))
    {
      ImapArg word = { .type = IMAP_ARG_ATOM, .data = (char *) "MODSEQ" };

      imap_fetch_parse_item (&word, *out_items, NULL);
    }
  if (vanished)
    imap_fetch_reply_vanished (session, args->pdata[0], since);
  if (since > 0)
    imap_fetch_keep_changed (session, indexes, since);
  return g_steal_pointer (&indexes);
}

/* §6.4.5 FETCH set items [modifiers]; §6.4.9 UID FETCH */
void
imap_cmd_fetch (ImapSession *session, GPtrArray *args)
{
  g_autoptr (GArray) indexes = NULL;
  g_autoptr (GArray) items = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) marked = NULL;
  g_autoptr (GString) out = g_string_sized_new (1024);
  gboolean some_vanished = FALSE;

  indexes = imap_fetch_prepare (session, args, &items);
  if (indexes == NULL)
    return;
  marked = imap_fetch_mark_seen (session, indexes, items);
  for (guint i = 0; i < indexes->len && !session->flags.done; i++)
    {
      guint index = g_array_index (indexes, guint, i);
      gboolean vanished = FALSE;

      if (!imap_fetch_one (
              session, index, items,
              g_hash_table_contains (marked, GUINT_TO_POINTER (index + 1)), out,
              &vanished, &error))
        {
          imap_reply_no (session, IMAP_CODE_UNKNOWN_CTE, "%s", error->message);
          return;
        }
      some_vanished |= vanished;
      /* a large answer goes out as it is made, not all at the end */
      if (mail_stream_get_output_pending (session->stream) >
              IMAP_FETCH_FLUSH_SIZE &&
          !mail_stream_flush (session->stream, NULL, NULL))
        session->flags.done = TRUE;
    }
  imap_fetch_save_cache (session);
  /* RFC 2180 §4.1.3: the data of a message another session expunged is
   * gone; say so, and the EXPUNGE follows at the next chance (§7.5.1) */
  if (some_vanished)
    imap_reply_status (session, IMAP_STATUS_OK, IMAP_CODE_EXPUNGEISSUED, NULL,
                       "some messages were expunged by another session");
  imap_reply_completed (session);
}
