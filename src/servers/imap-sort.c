/* SPDX-License-Identifier: MIT
 * imap-sort.c: the SORT command (RFC 5256 §3, §4), and what SORT and
 * THREAD know of each message: the base subject (§2.1), the sent date
 * (§2.2) and the first address of a field.
 *
 *   SORT (criteria) charset search-key...   ->   * SORT 5 3 4 1 2
 *   criteria: ARRIVAL CC DATE FROM SIZE SUBJECT TO, each maybe after
 *   REVERSE; ties go by mailbox order (§3).
 *
 * Strings compare with i;ascii-casemap (RFC 4790 §9.2), the collation of
 * RFC 5256 §3 when none was negotiated.
 */
#include "imap-sort.h"

#include <gmime/gmime.h>
#include <string.h>

#include "imap-message.h"

/* ---- the base subject (RFC 5256 §2.1) -------------------------------- */

/* subj-blob = "[" *BLOBCHAR "]" *WSP, at @p; the octets it takes, or 0 */
static gsize
imap_sort_blob (const char *p)
{
  const char *end = NULL;

  if (*p != '[')
    return 0;
  end = strpbrk (p + 1, "[]");
  if (end == NULL || *end != ']')
    return 0;
  end++;
  while (*end == ' ')
    end++;
  return end - p;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" */
static gsize
imap_sort_refwd (const char *p)
{
  const char *q = p;

  if (g_ascii_strncasecmp (q, "re", 2) == 0)
    q += 2;
  else if (g_ascii_strncasecmp (q, "fwd", 3) == 0)
    q += 3;
  else if (g_ascii_strncasecmp (q, "fw", 2) == 0)
    q += 2;
  else
    return 0;
  while (*q == ' ')
    q++;
  q += imap_sort_blob (q);
  return *q == ':' ? (gsize) (q + 1 - p) : 0;
}

/* subj-leader = (*subj-blob subj-refwd) / WSP: step (3) */
static gsize
imap_sort_leader (const char *p, gboolean *inout_is_reply)
{
  const char *q = p;
  gsize refwd = 0;

  if (*p == ' ')
    return 1;
  for (gsize blob = imap_sort_blob (q); blob > 0; blob = imap_sort_blob (q))
    q += blob;
  refwd = imap_sort_refwd (q);
  if (refwd == 0)
    return 0;
  *inout_is_reply = TRUE;
  return q + refwd - p;
}

/* Steps (2) to (5) on @text, in place. */
static void
imap_sort_strip (GString *text, gboolean *inout_is_reply)
{
  gboolean changed = TRUE;

  /* (2) subj-trailer = "(fwd)" / WSP, repeatedly */
  while (text->len > 0)
    {
      if (text->str[text->len - 1] == ' ')
        g_string_truncate (text, text->len - 1);
      else if (text->len >= 5 &&
               g_ascii_strcasecmp (text->str + text->len - 5, "(fwd)") == 0)
        {
          g_string_truncate (text, text->len - 5);
          *inout_is_reply = TRUE;
        }
      else
        break;
    }
  /* (3), (4), (5): leaders, and a blob that leaves something after it */
  while (changed)
    {
      gsize leader = imap_sort_leader (text->str, inout_is_reply);
      gsize blob = leader ? 0 : imap_sort_blob (text->str);

      changed = leader > 0 || (blob > 0 && text->str[blob] != '\0');
      if (changed)
        g_string_erase (text, 0, leader ? leader : blob);
    }
}

char *
imap_sort_base_subject (const char *subject, gboolean *out_is_reply)
{
  g_autoptr (GString) text = g_string_new (NULL);
  gboolean is_reply = FALSE;

  /* (1) tabs and line breaks are spaces, runs of spaces one space */
  for (const char *p = subject ? subject : ""; *p != '\0'; p++)
    {
      char c = strchr ("\t\r\n", *p) ? ' ' : *p;

      if (c != ' ' || (text->len > 0 && text->str[text->len - 1] != ' '))
        g_string_append_c (text, c);
    }
  for (;;)
    {
      imap_sort_strip (text, &is_reply);
      /* (6) "[fwd:" ... "]": a forwarded subject, unwrapped, again */
      if (text->len < 6 || g_ascii_strncasecmp (text->str, "[fwd:", 5) != 0 ||
          text->str[text->len - 1] != ']')
        break;
      g_string_truncate (text, text->len - 1);
      g_string_erase (text, 0, 5);
      is_reply = TRUE;
    }
  if (out_is_reply != NULL)
    *out_is_reply = is_reply;
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* ---- what each message is -------------------------------------------- */

/* addr-mailbox of the first address, as ENVELOPE would give it (RFC 9051
 * §7.5.2): the local part, or the group's name for "group: a@b;". */
static char *
imap_sort_first_mailbox (ImapMessage *message, const char *field)
{
  g_autofree char *text = imap_message_get_address_text (message, field);
  const char *start = text;
  const char *mark = text ? strpbrk (text, ":<@,\n") : NULL;

  if (mark == NULL || *mark == ',' || *mark == '\n')
    return g_strdup ("");
  if (*mark == '<')
    {
      start = mark + 1;
      mark = strpbrk (start, "@>");
      if (mark == NULL)
        return g_strdup ("");
    }
  while (*start == ' ')
    start++;
  return g_strstrip (g_strndup (start, mark - start));
}

/* RFC 5256 §2.2: the Date: header in UTC; INTERNALDATE without one. */
static gint64
imap_sort_sent (ImapMessage *message, gint64 arrival)
{
  g_autofree char *date = imap_message_get_header_text (message, "Date");
  g_autoptr (GDateTime) parsed = NULL;

  if (date == NULL)
    return arrival;
  date[strcspn (date, "\n")] = '\0';
  parsed = g_mime_utils_header_decode_date (date);
  return parsed != NULL ? g_date_time_to_unix (parsed) : arrival;
}

/* "<a@b> <c@d>" -> { "<a@b>", "<c@d>" }: only what looks like an id */
static GStrv
imap_sort_ids (const char *text)
{
  g_autoptr (GStrvBuilder) ids = g_strv_builder_new ();

  for (const char *p = text ? strchr (text, '<') : NULL; p != NULL;
       p = strchr (p + 1, '<'))
    {
      const char *end = strpbrk (p + 1, "<>");

      if (end != NULL && *end == '>' && memchr (p, '@', end - p) != NULL)
        {
          g_autofree char *id = g_strndup (p, end + 1 - p);

          g_strv_builder_add (ids, id);
        }
    }
  return g_strv_builder_end (ids);
}

static void
imap_sort_message_free (ImapSortMessage *sorted)
{
  g_free (sorted->subject);
  g_free (sorted->from);
  g_free (sorted->to);
  g_free (sorted->cc);
  g_free (sorted->message_id);
  g_strfreev (sorted->references);
  g_free (sorted);
}

/* The header fields SORT and THREAD compare (RFC 5256 §2, §3). */
static void
imap_sort_read_header (ImapSortMessage *sorted, ImapMessage *message)
{
  g_autofree char *subject = imap_message_get_header_text (message, "Subject");
  g_autofree char *id = imap_message_get_header_text (message, "Message-ID");
  g_autofree char *references =
      imap_message_get_header_text (message, "References");
  g_auto (GStrv) ids = imap_sort_ids (id);

  if (subject != NULL)
    subject[strcspn (subject, "\n")] = '\0';
  sorted->subject = imap_sort_base_subject (subject, &sorted->is_reply);
  sorted->from = imap_sort_first_mailbox (message, "From");
  sorted->to = imap_sort_first_mailbox (message, "To");
  sorted->cc = imap_sort_first_mailbox (message, "Cc");
  sorted->sent = imap_sort_sent (message, sorted->arrival);
  sorted->message_id = g_strdup (ids[0]);
  sorted->references = imap_sort_ids (references);
  if (sorted->references[0] == NULL)
    {
      /* no References: In-Reply-To's first id (§2.2 step 1) */
      g_autofree char *reply_to =
          imap_message_get_header_text (message, "In-Reply-To");
      g_auto (GStrv) parents = imap_sort_ids (reply_to);

      if (parents[0] != NULL)
        {
          g_strfreev (sorted->references);
          sorted->references =
              g_strdupv ((char **) (const char *[]){ parents[0], NULL });
        }
    }
}

/* The load callback of a search candidate: the message, read once. */
typedef struct
{
  MailFolder *folder;
  guint index;
  ImapMessage *parsed;
} ImapSortLoad;

static ImapMessage *
imap_sort_load (gpointer user_data)
{
  ImapSortLoad *load = user_data;
  g_autoptr (GBytes) data = NULL;

  if (load->parsed == NULL)
    {
      data = mail_folder_read_message (load->folder, load->index, NULL);
      if (data != NULL)
        load->parsed = imap_message_new (data);
    }
  return load->parsed;
}

static void
imap_sort_no_header (ImapSortMessage *sorted)
{
  sorted->subject = g_strdup ("");
  sorted->from = g_strdup ("");
  sorted->to = g_strdup ("");
  sorted->cc = g_strdup ("");
  sorted->sent = sorted->arrival;
  sorted->references = g_new0 (char *, 1);
}

GPtrArray *
imap_sort_collect (ImapSession *session,
                   const ImapSearchKey *key,
                   gboolean header)
{
  MailFolder *folder = session->folder;
  guint count = mail_folder_get_count (folder);
  guint32 max_uid =
      count ? mail_folder_get_message (folder, count - 1)->uid : 0;
  GPtrArray *found =
      g_ptr_array_new_with_free_func ((GDestroyNotify) imap_sort_message_free);

  for (guint i = 0; i < count; i++)
    {
      const MailMessage *message = mail_folder_get_message (folder, i);
      ImapSortLoad load = { folder, i, NULL };
      ImapSearchCandidate candidate = {
        .seq = i + 1,
        .uid = message->uid,
        .size = message->size,
        .internaldate = message->mtime,
        .flags = message->flags,
        .keywords = (const char *const *) message->keywords,
        .recent = message->recent,
        .modseq = message->modseq,
        .load = imap_sort_load,
        .user_data = &load,
      };
      ImapSortMessage *sorted = NULL;

      if (!imap_search_matches (key, &candidate, count, max_uid) ||
          (header && imap_sort_load (&load) == NULL))
        {
          g_clear_pointer (&load.parsed, imap_message_free);
          continue;
        }
      sorted = g_new0 (ImapSortMessage, 1);
      sorted->seq = i + 1;
      sorted->uid = message->uid;
      sorted->size = message->size;
      sorted->arrival = message->mtime;
      if (header)
        imap_sort_read_header (sorted, load.parsed);
      else
        imap_sort_no_header (sorted);
      g_ptr_array_add (found, sorted);
      g_clear_pointer (&load.parsed, imap_message_free);
    }
  return found;
}

ImapSearchKey *
imap_sort_parse_search (ImapSession *session, GPtrArray *args, guint first)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *charset = NULL;
  const ImapArg *name = first < args->len ? args->pdata[first] : NULL;
  ImapSearchKey *key = NULL;

  /* RFC 5256 §3: the charset is required, and not after "CHARSET" */
  if (name == NULL || imap_arg_astring (name) == NULL)
    {
      imap_reply_bad (session, "a charset must come before the criteria");
      return NULL;
    }
  if (g_ascii_strcasecmp (imap_arg_astring (name), "US-ASCII") != 0 &&
      g_ascii_strcasecmp (imap_arg_astring (name), "UTF-8") != 0)
    {
      imap_reply_tagged (session, IMAP_STATUS_NO, IMAP_CODE_BADCHARSET,
                         "(US-ASCII UTF-8)", "unknown charset");
      return NULL;
    }
  key = imap_search_parse (args, first + 1, &charset, &error);
  if (key == NULL)
    imap_reply_bad (session, "%s", error->message);
  return key;
}

/* ---- SORT (RFC 5256 §3) ----------------------------------------------- */

typedef enum
{
  IMAP_SORT_ARRIVAL,
  IMAP_SORT_CC,
  IMAP_SORT_DATE,
  IMAP_SORT_FROM,
  IMAP_SORT_SIZE,
  IMAP_SORT_SUBJECT,
  IMAP_SORT_TO,
} ImapSortKey;

typedef struct
{
  ImapSortKey key;
  gboolean reverse;
} ImapSortCriterion;

static const char *const imap_sort_names[] = {
  [IMAP_SORT_ARRIVAL] = "ARRIVAL", [IMAP_SORT_CC] = "CC",
  [IMAP_SORT_DATE] = "DATE",       [IMAP_SORT_FROM] = "FROM",
  [IMAP_SORT_SIZE] = "SIZE",       [IMAP_SORT_SUBJECT] = "SUBJECT",
  [IMAP_SORT_TO] = "TO",
};

int
imap_sort_compare_strings (const char *a, const char *b)
{
  /* i;ascii-casemap folds to upper case: "_" and "[" sort after "Z" */
  for (; *a != '\0' && g_ascii_toupper (*a) == g_ascii_toupper (*b); a++, b++)
    ;
  return (int) (guchar) g_ascii_toupper (*a) -
         (int) (guchar) g_ascii_toupper (*b);
}

static int
imap_sort_compare_numbers (gint64 a, gint64 b)
{
  return a < b ? -1 : a > b;
}

static int
imap_sort_compare_one (ImapSortKey key,
                       const ImapSortMessage *a,
                       const ImapSortMessage *b)
{
  switch (key)
    {
    case IMAP_SORT_ARRIVAL:
      return imap_sort_compare_numbers (a->arrival, b->arrival);
    case IMAP_SORT_CC:
      return imap_sort_compare_strings (a->cc, b->cc);
    case IMAP_SORT_DATE:
      return imap_sort_compare_numbers (a->sent, b->sent);
    case IMAP_SORT_FROM:
      return imap_sort_compare_strings (a->from, b->from);
    case IMAP_SORT_SIZE:
      return imap_sort_compare_numbers ((gint64) a->size, (gint64) b->size);
    case IMAP_SORT_SUBJECT:
      return imap_sort_compare_strings (a->subject, b->subject);
    case IMAP_SORT_TO:
      return imap_sort_compare_strings (a->to, b->to);
    default:
      g_assert_not_reached ();
    }
}

static int
imap_sort_compare (gconstpointer pa, gconstpointer pb, gpointer user_data)
{
  const ImapSortMessage *a = *(ImapSortMessage *const *) pa;
  const ImapSortMessage *b = *(ImapSortMessage *const *) pb;
  GArray *criteria = user_data;

  for (guint i = 0; i < criteria->len; i++)
    {
      const ImapSortCriterion *c =
          &g_array_index (criteria, ImapSortCriterion, i);
      int order = imap_sort_compare_one (c->key, a, b);

      if (order != 0)
        return c->reverse ? -order : order;
    }
  /* §3: exact matches stay in mailbox order, REVERSE or not */
  return imap_sort_compare_numbers (a->seq, b->seq);
}

/* ARRIVAL and SIZE are in the mailbox's list; the rest in the header */
static gboolean
imap_sort_needs_header (GArray *criteria)
{
  for (guint i = 0; i < criteria->len; i++)
    {
      ImapSortKey key = g_array_index (criteria, ImapSortCriterion, i).key;

      if (key != IMAP_SORT_ARRIVAL && key != IMAP_SORT_SIZE)
        return TRUE;
    }
  return FALSE;
}

/* sort-criteria = "(" sort-criterion *(SP sort-criterion) ")" */
static GArray *
imap_sort_parse_criteria (const ImapArg *list)
{
  g_autoptr (GArray) criteria =
      g_array_new (FALSE, FALSE, sizeof (ImapSortCriterion));
  gboolean reverse = FALSE;

  if (list == NULL || list->type != IMAP_ARG_LIST || list->list->len == 0)
    return NULL;
  for (guint i = 0; i < list->list->len; i++)
    {
      const ImapArg *word = list->list->pdata[i];
      ImapSortCriterion criterion = { 0, reverse };
      guint k = 0;

      if (!reverse && imap_arg_is_atom (word, "REVERSE"))
        {
          reverse = TRUE;
          continue;
        }
      while (k < G_N_ELEMENTS (imap_sort_names) &&
             !imap_arg_is_atom (word, imap_sort_names[k]))
        k++;
      if (k == G_N_ELEMENTS (imap_sort_names))
        return NULL;
      criterion.key = (ImapSortKey) k;
      g_array_append_val (criteria, criterion);
      reverse = FALSE;
    }
  return reverse ? NULL : g_steal_pointer (&criteria);
}

void
imap_cmd_sort (ImapSession *session, GPtrArray *args)
{
  g_autoptr (GArray) criteria =
      imap_sort_parse_criteria (args->len ? args->pdata[0] : NULL);
  g_autoptr (ImapSearchKey) key = NULL;
  g_autoptr (GPtrArray) found = NULL;
  g_autoptr (GString) line = g_string_new ("SORT");

  if (criteria == NULL)
    {
      imap_reply_bad (session, "SORT (criteria) charset search-keys, the "
                               "criteria among REVERSE ARRIVAL CC DATE FROM "
                               "SIZE SUBJECT TO");
      return;
    }
  key = imap_sort_parse_search (session, args, 1);
  if (key == NULL)
    return;
  found = imap_sort_collect (session, key, imap_sort_needs_header (criteria));
  g_ptr_array_sort_with_data (found, imap_sort_compare, criteria);
  for (guint i = 0; i < found->len; i++)
    {
      const ImapSortMessage *sorted = found->pdata[i];

      g_string_append_printf (line, " %u",
                              session->uid ? sorted->uid : sorted->seq);
    }
  imap_reply_untagged (session, "%s", line->str);
  imap_reply_completed (session);
}
