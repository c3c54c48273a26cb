/* SPDX-License-Identifier: MIT
 * imap-search-cmd.c: the SEARCH command of the selected state (RFC 9051
 * §6.4.4, §7.3.4 ESEARCH; RFC 3501 §7.2.5 SEARCH responses for
 * IMAP4rev1; RFC 4731 ESEARCH RETURN options; RFC 6855 §3 CHARSET).
 *
 *   SEARCH [RETURN (MIN MAX ALL COUNT)] [CHARSET name] criteria...
 *
 * The criteria are parsed and matched by imap-search.c; this file runs
 * them over the mailbox and writes the answer in the form the client
 * asked for: "* SEARCH 2 3" (IMAP4rev1) or "* ESEARCH (TAG "a") ALL 2:3"
 * (RETURN given, or IMAP4rev2 enabled).
 */
#include <string.h>

#include "imap-cache.h"
#include "imap-message.h"
#include "imap-search.h"
#include "imap-session-private.h"

typedef enum
{
  IMAP_RETURN_MIN = 1 << 0,
  IMAP_RETURN_MAX = 1 << 1,
  IMAP_RETURN_ALL = 1 << 2,
  IMAP_RETURN_COUNT = 1 << 3,
} ImapReturn;

/* What imap_search_matches () asks of one message when a key needs the
 * text: it is read and parsed on the first ask only. When no key reads
 * past the header, the header the folder's cache holds will do
 * (imap-cache.h), and one read is kept there for the next SEARCH. */
typedef struct
{
  ImapSession *session;
  guint index;
  gboolean header_only;
  ImapMessage *parsed;
  GString *scratch; /* the search's room for an address text */
} ImapSearchLoad;

/* The folder's cache, made on first need (transfer none). */
static ImapCache *
imap_search_get_cache (ImapSession *session, const MailMessage *message)
{
  if (session->cache == NULL)
    {
      g_autofree char *dir = imap_cache_folder_dir (message);

      session->cache = imap_cache_new (dir);
      imap_cache_refresh (session->cache, session->folder);
    }
  return session->cache;
}

static ImapMessage *
imap_search_load (gpointer user_data)
{
  ImapSearchLoad *load = user_data;
  MailFolder *folder = load->session->folder;
  const MailMessage *message = mail_folder_get_message (folder, load->index);
  ImapCache *cache = NULL;
  g_autoptr (GBytes) data = NULL;

  if (load->parsed != NULL)
    return load->parsed;
  if (load->header_only)
    {
      cache = imap_search_get_cache (load->session, message);
      data = imap_cache_get_header (cache, message);
    }
  if (data != NULL)
    load->parsed = imap_message_new (data);
  else if ((data = mail_folder_read_message (folder, load->index, NULL)))
    {
      load->parsed = imap_message_new (data);
      if (cache != NULL)
        imap_cache_add_header (cache, message, load->parsed);
    }
  return load->parsed;
}

/* The text SEARCH FROM, TO, CC or BCC looks in, from the folder's cache
 * when it holds it (no header parsed, nothing allocated), else from the
 * header, and then kept in the cache for the next SEARCH. */
static gboolean
imap_search_address (gpointer user_data,
                     const char *field,
                     const char **out_text)
{
  ImapSearchLoad *load = user_data;
  const MailMessage *message = NULL;
  ImapCache *cache = NULL;
  ImapMessage *parsed = NULL;
  g_autofree char *text = NULL;
  gboolean present = FALSE;

  if (!load->header_only)
    return FALSE;
  message = mail_folder_get_message (load->session->folder, load->index);
  cache = imap_search_get_cache (load->session, message);
  g_string_truncate (load->scratch, 0);
  if (!imap_cache_get_address (cache, message, field, load->scratch, &present))
    {
      if ((parsed = imap_search_load (load)) == NULL)
        return FALSE;
      text = imap_message_get_address_text (parsed, field);
      imap_cache_add_address (cache, message, field, text);
      present = text != NULL;
      g_string_assign (load->scratch, text ? text : "");
    }
  *out_text = present ? load->scratch->str : NULL;
  return TRUE;
}

/* RFC 4731 §3.1: RETURN (options); RETURN () means ALL. FALSE after BAD. */
static gboolean
imap_search_returns (ImapSession *session, const ImapArg *list, guint *out)
{
  static const struct
  {
    const char *name;
    ImapReturn flag;
  } options[] = {
    { "MIN", IMAP_RETURN_MIN },
    { "MAX", IMAP_RETURN_MAX },
    { "ALL", IMAP_RETURN_ALL },
    { "COUNT", IMAP_RETURN_COUNT },
  };

  *out = 0;
  for (guint i = 0; i < list->list->len; i++)
    {
      guint before = *out;

      for (guint k = 0; k < G_N_ELEMENTS (options); k++)
        if (imap_arg_is_atom (list->list->pdata[i], options[k].name))
          *out |= options[k].flag;
      if (*out == before)
        {
          imap_reply_bad (session, "unknown SEARCH RETURN option");
          return FALSE;
        }
    }
  if (*out == 0)
    *out = IMAP_RETURN_ALL;
  return TRUE;
}

/* The matching numbers (UIDs for UID SEARCH), ascending, and their
 * MODSEQs in @modseqs (RFC 7162 §3.1.5). */
static GArray *
imap_search_run (ImapSession *session,
                 const ImapSearchKey *key,
                 GArray *modseqs)
{
  MailFolder *folder = session->folder;
  guint count = mail_folder_get_count (folder);
  guint32 max_uid =
      count ? mail_folder_get_message (folder, count - 1)->uid : 0;
  GArray *found = g_array_new (FALSE, FALSE, sizeof (guint32));
  gboolean header_only = !imap_search_needs_body (key);
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) scratch = g_string_sized_new (256);

  for (guint i = 0; i < count; i++)
    {
      const MailMessage *message = mail_folder_get_message (folder, i);
      ImapSearchLoad load = { session, i, header_only, NULL, scratch };
      ImapSearchCandidate candidate = {
        .seq = i + 1,
        .uid = message->uid,
        .size = message->size,
        .internaldate = message->mtime,
        .flags = message->flags,
        .keywords = (const char *const *) message->keywords,
        .recent = message->recent,
        .modseq = message->modseq,
        .load = imap_search_load,
        .address = imap_search_address,
        .user_data = &load,
      };
      guint32 number = session->uid ? message->uid : i + 1;

      if (imap_search_matches (key, &candidate, count, max_uid))
        {
          g_array_append_val (found, number);
          g_array_append_val (modseqs, message->modseq);
        }
      g_clear_pointer (&load.parsed, imap_message_free);
    }
  /* what this search added to the cache, for the next one */
  if (session->cache != NULL &&
      !imap_cache_write (session->cache, folder, &error))
    g_debug ("%s: %s", session->peer, error->message);
  return found;
}

/* RFC 7162 §3.1.10: the MODSEQ of what is returned: of the MIN or MAX
 * message when only those are asked for, else the highest of all. */
static guint64
imap_search_reply_modseq (GArray *modseqs, guint returns)
{
  const guint64 *values = (const guint64 *) modseqs->data;
  guint64 highest = 0;

  if (modseqs->len == 0)
    return 0;
  if ((returns & (IMAP_RETURN_ALL | IMAP_RETURN_COUNT)) == 0)
    {
      if (returns & IMAP_RETURN_MIN)
        highest = values[0];
      if (returns & IMAP_RETURN_MAX)
        highest = MAX (highest, values[modseqs->len - 1]);
      return highest;
    }
  for (guint i = 0; i < modseqs->len; i++)
    highest = MAX (highest, values[i]);
  return highest;
}

/* RFC 4731 §3.1 / RFC 9051 §7.3.4: "* ESEARCH (TAG "t") [UID] ..." */
static void
imap_search_reply_esearch (ImapSession *session,
                           GArray *found,
                           guint returns,
                           guint64 modseq)
{
  g_autoptr (GString) line = g_string_new ("ESEARCH (TAG ");
  const guint32 *numbers = (const guint32 *) found->data;

  imap_append_string (line, session->tag, strlen (session->tag), FALSE, FALSE);
  g_string_append_c (line, ')');
  if (session->uid)
    g_string_append (line, " UID");
  if ((returns & IMAP_RETURN_MIN) && found->len > 0)
    g_string_append_printf (line, " MIN %u", numbers[0]);
  if ((returns & IMAP_RETURN_MAX) && found->len > 0)
    g_string_append_printf (line, " MAX %u", numbers[found->len - 1]);
  if ((returns & IMAP_RETURN_ALL) && found->len > 0)
    {
      g_autofree char *set = imap_seqset_format (numbers, found->len);

      g_string_append_printf (line, " ALL %s", set);
    }
  if (returns & IMAP_RETURN_COUNT)
    g_string_append_printf (line, " COUNT %u", found->len);
  /* RFC 7162 §3.1.10 */
  if (modseq > 0 && found->len > 0)
    g_string_append_printf (line, " MODSEQ %" G_GUINT64_FORMAT, modseq);
  imap_reply_untagged (session, "%s", line->str);
}

/* RFC 3501 §7.2.5: "* SEARCH 2 3 5" */
static void
imap_search_reply_plain (ImapSession *session, GArray *found, guint64 modseq)
{
  g_autoptr (GString) line = g_string_new ("SEARCH");

  for (guint i = 0; i < found->len; i++)
    g_string_append_printf (line, " %u", g_array_index (found, guint32, i));
  /* RFC 7162 §3.1.5: "* SEARCH 2 5 (MODSEQ 917)" */
  if (modseq > 0 && found->len > 0)
    g_string_append_printf (line, " (MODSEQ %" G_GUINT64_FORMAT ")", modseq);
  imap_reply_untagged (session, "%s", line->str);
}

void
imap_cmd_search (ImapSession *session, GPtrArray *args)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *charset = NULL;
  g_autoptr (GArray) found = NULL;
  ImapSearchKey *key = NULL;
  guint returns = 0;
  guint first = 0;
  guint64 modseq = 0; /* told only when the search asked about MODSEQ */
  g_autoptr (GArray) modseqs = g_array_new (FALSE, FALSE, sizeof (guint64));
  gboolean esearch = FALSE;

  if (args->len >= 2 && imap_arg_is_atom (args->pdata[0], "RETURN") &&
      ((ImapArg *) args->pdata[1])->type == IMAP_ARG_LIST)
    {
      if (!imap_search_returns (session, args->pdata[1], &returns))
        return;
      esearch = TRUE;
      first = 2;
    }
  key = imap_search_parse (args, first, &charset, &error);
  if (key == NULL)
    {
      if (g_error_matches (error, IMAP_SEARCH_ERROR,
                           IMAP_SEARCH_ERROR_BADCHARSET))
        imap_reply_tagged (session, IMAP_STATUS_NO, IMAP_CODE_BADCHARSET,
                           "(US-ASCII UTF-8)", "%s", error->message);
      else
        imap_reply_bad (session, "%s", error->message);
      return;
    }
  found = imap_search_run (session, key, modseqs);
  if (imap_search_uses_modseq (key))
    {
      imap_session_enable_condstore (session);
      modseq = imap_search_reply_modseq (modseqs,
                                         esearch ? returns : IMAP_RETURN_ALL);
    }
  imap_search_key_free (key);
  /* RFC 9051 §6.4.4: an IMAP4rev2 client always gets ESEARCH */
  if (esearch || session->flags.rev2)
    imap_search_reply_esearch (session, found,
                               esearch ? returns : IMAP_RETURN_ALL, modseq);
  else
    imap_search_reply_plain (session, found, modseq);
  imap_reply_completed (session);
}
