/* SPDX-License-Identifier: MIT
 * imap-mailbox.c: the authenticated state of an IMAP server session:
 * commands on whole mailboxes (RFC 9051 §6.3.2-§6.3.12: SELECT, EXAMINE,
 * CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, NAMESPACE,
 * STATUS, APPEND; RFC 3501 §6.3.9 LSUB; RFC 5258 LIST-EXTENDED; RFC 5819
 * LIST-STATUS; RFC 6154 SPECIAL-USE; RFC 3348 CHILDREN; RFC 4315
 * APPENDUID; RFC 3502 MULTIAPPEND; RFC 8438 STATUS=SIZE).
 *
 * Mailbox names: the store's names use "/" between levels, which is the
 * hierarchy delimiter we announce. On the wire they are modified UTF-7
 * (RFC 3501 §5.1.3), or UTF-8 once the client sent ENABLE UTF8=ACCEPT
 * (RFC 6855 §3) or IMAP4rev2 (RFC 9051 §5.1).
 */
#include <string.h>

#include "imap-session-private.h"

#define IMAP_DELIMITER "/"

/* ---- names ------------------------------------------------------------- */

char *
imap_session_mailbox_decode (ImapSession *session, const char *text)
{
  g_autofree char *name = NULL;

  if (session->flags.utf8 || session->flags.rev2)
    name = g_utf8_validate (text, -1, NULL) ? g_strdup (text) : NULL;
  else
    name = imap_mutf7_to_utf8 (text, NULL);
  if (name == NULL)
    return NULL;
  /* RFC 9051 §5.1: INBOX is case-insensitive, other names are not */
  if (g_ascii_strcasecmp (name, "INBOX") == 0)
    return g_strdup ("INBOX");
  if (g_ascii_strncasecmp (name, "INBOX/", 6) == 0)
    memcpy (name, "INBOX", 5);
  return g_steal_pointer (&name);
}

char *
imap_session_mailbox_from_wire (ImapSession *session, const ImapArg *arg)
{
  const char *text = imap_arg_astring (arg);
  char *name = NULL;

  if (text == NULL)
    {
      imap_reply_bad (session, "expected a mailbox name");
      return NULL;
    }
  name = imap_session_mailbox_decode (session, text);
  /* well-formed, but no mailbox can have that name: NO, not BAD */
  if (name == NULL)
    imap_reply_no (session, IMAP_CODE_CANNOT, "mailbox name is not valid %s",
                   session->flags.utf8 || session->flags.rev2
                       ? "UTF-8"
                       : "modified UTF-7");
  return name;
}

void
imap_session_append_mailbox (ImapSession *session,
                             GString *out,
                             const char *name)
{
  gboolean utf8 = session->flags.utf8 || session->flags.rev2;
  g_autofree char *wire = utf8 ? g_strdup (name) : imap_utf8_to_mutf7 (name);

  imap_append_string (out, wire, strlen (wire), FALSE, utf8);
}

/* ---- SELECT and EXAMINE (§6.3.2, §6.3.3) ------------------------------ */

/* The untagged data of §6.3.2 (and RFC 3501 §6.3.1 for rev1). */
static void
imap_session_describe_mailbox (ImapSession *session)
{
  MailFolder *folder = session->folder;
  guint count = mail_folder_get_count (folder);
  g_autofree char *flags = NULL;
  g_autofree char *permanent = NULL;
  g_autofree char *number = NULL;
  guint recent = 0;
  guint unseen = 0;

  /* peek: SELECT needs no size or date, so it reads no message file */
  for (guint i = 0; i < count; i++)
    {
      const MailMessage *message = mail_folder_peek_message (folder, i);

      for (guint k = 0; message->keywords && message->keywords[k]; k++)
        g_hash_table_add (session->keywords, g_strdup (message->keywords[k]));
    }
  flags = imap_session_flag_list (session, FALSE);
  permanent = imap_session_flag_list (session, TRUE);
  imap_reply_untagged (session, "%u EXISTS", count);
  imap_reply_untagged (session, "FLAGS (%s)", flags);
  for (guint i = count; i > 0; i--)
    {
      const MailMessage *message = mail_folder_peek_message (folder, i - 1);

      recent += message->recent ? 1 : 0;
      if ((message->flags & MAIL_FLAG_SEEN) == 0)
        unseen = i;
    }
  number = g_strdup_printf ("(%s)", session->flags.read_only ? "" : permanent);
  imap_reply_status (session, IMAP_STATUS_OK, IMAP_CODE_PERMANENTFLAGS, number,
                     "flags that stay");
  g_free (number);
  number = g_strdup_printf ("%u", mail_folder_get_uidvalidity (folder));
  imap_reply_status (session, IMAP_STATUS_OK, IMAP_CODE_UIDVALIDITY, number,
                     "UIDs are valid");
  g_free (number);
  number = g_strdup_printf ("%u", mail_folder_get_uidnext (folder));
  imap_reply_status (session, IMAP_STATUS_OK, IMAP_CODE_UIDNEXT, number,
                     "the next UID");
  /* RFC 7162 §3.1.2.1: with every SELECT, since we keep MODSEQs */
  g_free (number);
  number = g_strdup_printf ("%" G_GUINT64_FORMAT,
                            mail_folder_get_highest_modseq (folder));
  imap_reply_status (session, IMAP_STATUS_OK, IMAP_CODE_HIGHESTMODSEQ, number,
                     "the highest MODSEQ");
  if (session->flags.rev2)
    return;
  /* RFC 3501 §6.3.1: RECENT and the first unseen message */
  imap_reply_untagged (session, "%u RECENT", recent);
  if (unseen > 0)
    {
      g_free (number);
      number = g_strdup_printf ("%u", unseen);
      imap_reply_status (session, IMAP_STATUS_OK, IMAP_CODE_UNSEEN, number,
                         "the first unseen message");
    }
}

gboolean
imap_arg_number (const ImapArg *arg, guint64 *out)
{
  return arg != NULL && arg->type == IMAP_ARG_ATOM &&
         g_ascii_string_to_unsigned (arg->data, 10, 1, G_MAXUINT64, out, NULL);
}

/* RFC 7162 §3.2.5: (QRESYNC (uidvalidity modseq [known-uids ...])):
 * what the client missed while away, at once, instead of a full
 * resynchronisation: VANISHED (EARLIER) for the expunges, FETCH for the
 * flag changes. A UIDVALIDITY that no longer holds asks for nothing. */
static void
imap_session_qresync (ImapSession *session, const ImapArg *params)
{
  MailFolder *folder = session->folder;
  const ImapArgList *list = params->list;
  g_autoptr (ImapSeqSet) known = NULL;
  g_autoptr (GArray) gone = NULL;
  g_autoptr (GString) line = g_string_new ("VANISHED (EARLIER) ");
  guint64 validity = 0;
  guint64 modseq = 0;

  if (!imap_arg_number (list->pdata[0], &validity) ||
      validity != mail_folder_get_uidvalidity (folder) ||
      !imap_arg_number (list->pdata[1], &modseq))
    return;
  if (list->len > 2 && ((ImapArg *) list->pdata[2])->type == IMAP_ARG_ATOM)
    known = imap_seqset_parse (((ImapArg *) list->pdata[2])->data, NULL);
  gone = mail_folder_expunged_since (folder, modseq);
  if (imap_append_uid_ranges (line, gone, known))
    imap_reply_untagged (session, "%s", line->str);
  for (guint i = 0; i < mail_folder_get_count (folder); i++)
    {
      const MailMessage *message = mail_folder_peek_message (folder, i);

      if (message->modseq > modseq)
        imap_reply_flags (session, i, message, TRUE);
    }
}

/* The optional "(CONDSTORE)" or "(QRESYNC (...))" of SELECT (RFC 7162
 * §3.1.8, §3.2.5): NULL for none (or after BAD, then *out_bad). */
static const ImapArg *
imap_select_params (ImapSession *session, GPtrArray *args, gboolean *out_bad)
{
  const ImapArg *params = args->len == 2 ? args->pdata[1] : NULL;
  const ImapArg *first = NULL;

  *out_bad = FALSE;
  if (args->len == 1)
    return NULL;
  if (params != NULL && params->type == IMAP_ARG_LIST && params->list->len > 0)
    first = params->list->pdata[0];
  if (first != NULL && imap_arg_is_atom (first, "CONDSTORE") &&
      params->list->len == 1)
    return params;
  if (first != NULL && imap_arg_is_atom (first, "QRESYNC") &&
      session->flags.qresync && params->list->len == 2 &&
      ((ImapArg *) params->list->pdata[1])->type == IMAP_ARG_LIST &&
      ((ImapArg *) params->list->pdata[1])->list->len >= 2)
    return params;
  imap_reply_bad (session,
                  "%s takes a mailbox and optionally (CONDSTORE) or, "
                  "after ENABLE QRESYNC, (QRESYNC (...))",
                  session->verb);
  *out_bad = TRUE;
  return NULL;
}

void
imap_cmd_select (ImapSession *session, GPtrArray *args)
{
  g_autofree char *name = NULL;
  g_autoptr (GError) error = NULL;
  gboolean examine = strcmp (session->verb, "EXAMINE") == 0;
  const ImapArg *params = NULL;
  gboolean bad = FALSE;

  if (args->len < 1 || args->len > 2)
    {
      imap_reply_bad (session, "%s takes one mailbox name", session->verb);
      return;
    }
  params = imap_select_params (session, args, &bad);
  if (bad)
    return;
  name = imap_session_mailbox_from_wire (session, args->pdata[0]);
  if (name == NULL)
    return;
  /* §6.3.2: a SELECT closes the mailbox open before, even if it fails */
  if (session->state == IMAP_STATE_SELECTED)
    {
      imap_session_close_mailbox (session);
      imap_reply_status (session, IMAP_STATUS_OK, IMAP_CODE_CLOSED, NULL,
                         "the previous mailbox is closed");
    }
  /* RFC 3501 §6.3.1: SELECT takes \Recent, EXAMINE only looks */
  session->folder = mail_folder_open_full (
      session->store, name, examine ? 0 : MAIL_FOLDER_CLAIM_RECENT, &error);
  if (session->folder == NULL)
    {
      imap_reply_store_error (session, error);
      return;
    }
  session->folder_name = g_steal_pointer (&name);
  session->flags.read_only = examine;
  session->keywords =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  imap_session_enter_state (session, IMAP_STATE_SELECTED);
  if (params != NULL)
    session->flags.condstore = TRUE; /* §3.1.8 */
  imap_session_describe_mailbox (session);
  if (params != NULL && params->list->len == 2)
    imap_session_qresync (session, params->list->pdata[1]);
  if (session->flags.rev2)
    {
      g_autoptr (GString) list = g_string_new ("LIST () \"/\" ");

      imap_session_append_mailbox (session, list, session->folder_name);
      imap_reply_untagged (session, "%s", list->str);
    }
  imap_reply_tagged (session, IMAP_STATUS_OK,
                     examine ? IMAP_CODE_READ_ONLY : IMAP_CODE_READ_WRITE, NULL,
                     "%s completed", session->verb);
}

/* ---- CREATE, DELETE, RENAME (§6.3.4-§6.3.6) --------------------------- */

void
imap_cmd_create (ImapSession *session, GPtrArray *args)
{
  g_autofree char *name = NULL;
  g_autoptr (GError) error = NULL;
  gsize length;

  if (args->len != 1)
    {
      imap_reply_bad (session, "CREATE takes one mailbox name");
      return;
    }
  name = imap_session_mailbox_from_wire (session, args->pdata[0]);
  if (name == NULL)
    return;
  /* §6.3.4: a trailing delimiter only says "will have children" */
  length = strlen (name);
  if (length > 1 && name[length - 1] == '/')
    name[length - 1] = '\0';
  if (!mail_store_create_folder (session->store, name, &error))
    imap_reply_store_error (session, error);
  else
    imap_reply_completed (session);
}

void
imap_cmd_delete (ImapSession *session, GPtrArray *args)
{
  g_autofree char *name = NULL;
  g_autoptr (GError) error = NULL;

  if (args->len != 1)
    {
      imap_reply_bad (session, "DELETE takes one mailbox name");
      return;
    }
  name = imap_session_mailbox_from_wire (session, args->pdata[0]);
  if (name == NULL)
    return;
  if (strcmp (name, "INBOX") == 0)
    imap_reply_no (session, IMAP_CODE_CANNOT, "INBOX cannot be deleted");
  else if (session->state == IMAP_STATE_SELECTED &&
           strcmp (name, session->folder_name) == 0)
    imap_reply_no (session, IMAP_CODE_INUSE,
                   "the mailbox is selected: close it first");
  else if (!mail_store_delete_folder (session->store, name, &error))
    imap_reply_store_error (session, error);
  else
    imap_reply_completed (session); /* §6.3.9: it stays subscribed */
}

void
imap_cmd_rename (ImapSession *session, GPtrArray *args)
{
  g_autofree char *from = NULL;
  g_autofree char *to = NULL;
  g_autoptr (GError) error = NULL;

  if (args->len != 2)
    {
      imap_reply_bad (session, "RENAME takes two mailbox names");
      return;
    }
  from = imap_session_mailbox_from_wire (session, args->pdata[0]);
  to = from ? imap_session_mailbox_from_wire (session, args->pdata[1]) : NULL;
  if (to == NULL)
    return;
  /* §6.3.6: renaming INBOX moves its messages; we do not offer that */
  if (strcmp (from, "INBOX") == 0)
    imap_reply_no (session, IMAP_CODE_CANNOT,
                   "renaming INBOX is not supported here");
  else if (!mail_store_rename_folder (session->store, from, to, &error))
    imap_reply_store_error (session, error);
  else
    imap_reply_completed (session);
}

/* §6.3.7 SUBSCRIBE and §6.3.8 UNSUBSCRIBE */
void
imap_cmd_subscribe (ImapSession *session, GPtrArray *args)
{
  g_autofree char *name = NULL;
  g_autoptr (GError) error = NULL;
  gboolean subscribe = strcmp (session->verb, "SUBSCRIBE") == 0;

  if (args->len != 1)
    {
      imap_reply_bad (session, "%s takes one mailbox name", session->verb);
      return;
    }
  name = imap_session_mailbox_from_wire (session, args->pdata[0]);
  if (name == NULL)
    return;
  if (!mail_store_set_subscribed (session->store, name, subscribe, &error))
    imap_reply_store_error (session, error);
  else
    imap_reply_completed (session);
}

/* §6.3.10: one personal namespace, no shared ones */
void
imap_cmd_namespace (ImapSession *session, GPtrArray *args)
{
  imap_reply_untagged (session, "NAMESPACE ((\"\" \"/\")) NIL NIL");
  imap_reply_completed (session);
}

/* ---- STATUS (§6.3.11) ------------------------------------------------- */

/* The STATUS items we know (§6.3.11), with SIZE from RFC 8438,
 * HIGHESTMODSEQ from RFC 7162 §3.1.7 and RECENT from RFC 3501. */
typedef enum
{
  IMAP_STATUS_MESSAGES,
  IMAP_STATUS_UIDNEXT,
  IMAP_STATUS_UIDVALIDITY,
  IMAP_STATUS_UNSEEN,
  IMAP_STATUS_DELETED,
  IMAP_STATUS_SIZE,
  IMAP_STATUS_HIGHESTMODSEQ,
  IMAP_STATUS_RECENT,
} ImapStatusItem;

static const char *const imap_status_names[] = {
  [IMAP_STATUS_MESSAGES] = "MESSAGES",
  [IMAP_STATUS_UIDNEXT] = "UIDNEXT",
  [IMAP_STATUS_UIDVALIDITY] = "UIDVALIDITY",
  [IMAP_STATUS_UNSEEN] = "UNSEEN",
  [IMAP_STATUS_DELETED] = "DELETED",
  [IMAP_STATUS_SIZE] = "SIZE",
  [IMAP_STATUS_HIGHESTMODSEQ] = "HIGHESTMODSEQ",
  [IMAP_STATUS_RECENT] = "RECENT",
  NULL,
};

gboolean
imap_status_items_valid (const ImapArg *items)
{
  if (items->type != IMAP_ARG_LIST || items->list->len == 0)
    return FALSE;
  for (guint i = 0; i < items->list->len; i++)
    {
      const ImapArg *item = items->list->pdata[i];
      gboolean known = FALSE;

      for (guint k = 0; imap_status_names[k] != NULL && !known; k++)
        known = imap_arg_is_atom (item, imap_status_names[k]);
      if (!known)
        return FALSE;
    }
  return TRUE;
}

/* Does @message count for @item (UNSEEN, DELETED, SIZE, RECENT)? */
static guint64
imap_status_count (const MailMessage *message, ImapStatusItem item)
{
  switch (item)
    {
    case IMAP_STATUS_UNSEEN:
      return (message->flags & MAIL_FLAG_SEEN) ? 0 : 1;
    case IMAP_STATUS_DELETED:
      return (message->flags & MAIL_FLAG_DELETED) ? 1 : 0;
    case IMAP_STATUS_SIZE:
      return message->size;
    case IMAP_STATUS_RECENT:
      return message->recent ? 1 : 0;
    default:
      g_assert_not_reached ();
    }
}

static guint64
imap_status_value (MailFolder *folder, ImapStatusItem item)
{
  guint count = mail_folder_get_count (folder);
  guint64 value = 0;

  switch (item)
    {
    case IMAP_STATUS_MESSAGES:
      return count;
    case IMAP_STATUS_UIDNEXT:
      return mail_folder_get_uidnext (folder);
    case IMAP_STATUS_UIDVALIDITY:
      return mail_folder_get_uidvalidity (folder);
    case IMAP_STATUS_HIGHESTMODSEQ:
      return mail_folder_get_highest_modseq (folder);
    default:
      break;
    }
  /* only SIZE needs what may have to be read from the files */
  for (guint i = 0; i < count; i++)
    value += imap_status_count (item == IMAP_STATUS_SIZE
                                    ? mail_folder_get_message (folder, i)
                                    : mail_folder_peek_message (folder, i),
                                item);
  return value;
}

gboolean
imap_session_status_line (ImapSession *session,
                          const char *name,
                          const ImapArg *items,
                          GError **error)
{
  g_autoptr (MailFolder) folder = NULL;
  g_autoptr (GString) line = g_string_new ("STATUS ");

  folder = mail_folder_open (session->store, name, error);
  if (folder == NULL)
    return FALSE;
  imap_session_append_mailbox (session, line, name);
  g_string_append (line, " (");
  for (guint i = 0; i < items->list->len; i++)
    {
      const ImapArg *item = items->list->pdata[i];

      for (guint k = 0; imap_status_names[k] != NULL; k++)
        if (imap_arg_is_atom (item, imap_status_names[k]))
          g_string_append_printf (line, "%s%s %" G_GUINT64_FORMAT, i ? " " : "",
                                  imap_status_names[k],
                                  imap_status_value (folder, k));
    }
  g_string_append_c (line, ')');
  imap_reply_untagged (session, "%s", line->str);
  return TRUE;
}

void
imap_cmd_status (ImapSession *session, GPtrArray *args)
{
  g_autofree char *name = NULL;
  const ImapArg *items = args->len == 2 ? args->pdata[1] : NULL;
  g_autoptr (GError) error = NULL;

  if (items == NULL || !imap_status_items_valid (items))
    {
      imap_reply_bad (session, "STATUS takes a mailbox and a list of items "
                               "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED "
                               "SIZE)");
      return;
    }
  name = imap_session_mailbox_from_wire (session, args->pdata[0]);
  if (name == NULL)
    return;
  if (!imap_session_status_line (session, name, items, &error))
    imap_reply_store_error (session, error);
  else
    imap_reply_completed (session);
}

/* ---- APPEND (§6.3.12, RFC 3502 MULTIAPPEND, RFC 4315 APPENDUID) -------- */

/* Removes messages appended by a failed MULTIAPPEND (§6.3.12 of RFC 3502:
 * all or nothing). */
static void
imap_append_undo (ImapSession *session, const char *name, GPtrArray *names)
{
  g_autoptr (MailFolder) folder = mail_folder_open (session->store, name, NULL);

  for (guint i = 0; folder != NULL && i < names->len; i++)
    {
      gint index = mail_folder_find_name (folder, names->pdata[i]);

      if (index >= 0)
        mail_folder_delete_message (folder, (guint) index, NULL);
    }
}

/* "[APPENDUID validity uids]" for the new files (RFC 4315 §3). */
static char *
imap_append_uids (ImapSession *session, const char *name, GPtrArray *names)
{
  g_autoptr (MailFolder) folder = mail_folder_open (session->store, name, NULL);
  g_autoptr (GArray) uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autofree char *set = NULL;

  for (guint i = 0; folder != NULL && i < names->len; i++)
    {
      gint index = mail_folder_find_name (folder, names->pdata[i]);

      if (index < 0)
        return NULL; /* expunged at once by someone else */
      g_array_append_val (uids, mail_folder_get_message (folder, index)->uid);
    }
  if (folder == NULL)
    return NULL;
  set = imap_seqset_format ((const guint32 *) uids->data, uids->len);
  return g_strdup_printf ("%u %s", mail_folder_get_uidvalidity (folder), set);
}

/* Replies and returns FALSE: a message of APPEND was refused. */
static gboolean
imap_append_refused (ImapSession *session,
                     ImapStatus status,
                     ImapCode code,
                     const char *text)
{
  imap_reply_tagged (session, status, code, NULL, "%s", text);
  return FALSE;
}

/* Stores the message of @literal, its binary parts (a literal8 may hold
 * NUL) in base64 (imap_message_encode_binary ()). */
static gboolean
imap_append_store (ImapSession *session,
                   const char *name,
                   const ImapArg *literal,
                   MailFlags flags,
                   GStrv keywords,
                   gint64 date,
                   char **out_file_name,
                   GError **error)
{
  g_autoptr (GBytes) sent = g_bytes_new_static (literal->data, literal->length);
  g_autoptr (ImapMessage) message = imap_message_new (sent);
  g_autoptr (GBytes) encoded = imap_message_encode_binary (message);
  GBytes *stored = encoded != NULL ? encoded : sent;
  gsize length = 0;
  const char *data = g_bytes_get_data (stored, &length);

  return mail_store_append (session->store, name, data, length, flags,
                            (const char *const *) keywords, date, out_file_name,
                            error);
}

/* One message of APPEND: [flag-list] [date-time] literal, from args[*i]. */
static gboolean
imap_append_one (ImapSession *session,
                 const char *name,
                 GPtrArray *args,
                 guint *inout_index,
                 GPtrArray *names)
{
  const ImapArg *arg = args->pdata[*inout_index];
  MailFlags flags = 0;
  g_auto (GStrv) keywords = NULL;
  gint64 date = 0;
  int zone = 0;
  g_autoptr (GError) error = NULL;
  char *file_name = NULL;

  if (arg->type == IMAP_ARG_LIST)
    {
      if (!imap_parse_flag_list (arg, &flags, &keywords, &error))
        return imap_append_refused (session, IMAP_STATUS_BAD, IMAP_CODE_NONE,
                                    error->message);
      arg = ++*inout_index < args->len ? args->pdata[*inout_index] : NULL;
    }
  if (arg != NULL && arg->type == IMAP_ARG_QUOTED)
    {
      if (!imap_datetime_parse (arg->data, &date, &zone, &error))
        return imap_append_refused (session, IMAP_STATUS_BAD, IMAP_CODE_NONE,
                                    error->message);
      arg = ++*inout_index < args->len ? args->pdata[*inout_index] : NULL;
    }
  if (arg == NULL || arg->type != IMAP_ARG_LITERAL)
    return imap_append_refused (session, IMAP_STATUS_BAD, IMAP_CODE_NONE,
                                "APPEND needs the message as a literal");
  ++*inout_index;
  if (arg->length == 0)
    return imap_append_refused (session, IMAP_STATUS_NO, IMAP_CODE_CANNOT,
                                "an empty message cannot be stored");
  if (!imap_append_store (session, name, arg, flags, keywords, date, &file_name,
                          &error))
    {
      if (g_error_matches (error, MAIL_STORE_ERROR, MAIL_STORE_ERROR_NOT_FOUND))
        imap_reply_no (session, IMAP_CODE_TRYCREATE, "no such mailbox");
      else
        imap_reply_store_error (session, error);
      return FALSE;
    }
  g_ptr_array_add (names, file_name);
  return TRUE;
}

void
imap_cmd_append (ImapSession *session, GPtrArray *args)
{
  g_autofree char *name = NULL;
  g_autofree char *appenduid = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  guint index = 1;

  if (args->len < 2)
    {
      imap_reply_bad (session, "APPEND takes a mailbox and a message");
      return;
    }
  name = imap_session_mailbox_from_wire (session, args->pdata[0]);
  if (name == NULL)
    return;
  while (index < args->len)
    {
      if (!imap_append_one (session, name, args, &index, names))
        {
          imap_append_undo (session, name, names);
          return;
        }
    }
  appenduid = imap_append_uids (session, name, names);
  if (session->state == IMAP_STATE_SELECTED)
    imap_session_report_news (session, TRUE, FALSE);
  imap_reply_tagged (session, IMAP_STATUS_OK,
                     appenduid ? IMAP_CODE_APPENDUID : IMAP_CODE_NONE,
                     appenduid, "APPEND completed");
}
