/* SPDX-License-Identifier: MIT
 * imap-client-view.c: the client's view of the selected mailbox, kept
 * from what the server says of it: EXISTS (RFC 9051 §7.4.1), EXPUNGE
 * (§7.5.1), VANISHED (RFC 7162 §3.2.10), FETCH naming UIDs (§7.5.2), FLAGS
 * (§7.3.5) and the response codes of SELECT (§7.1, RFC 7162 §3.1.2.1).
 */
#include <string.h>

#include "imap-client-private.h"

/* ---- the mailbox view (RFC 9051 §7.4, §7.5.1, RFC 7162 §3.2.10) ----- */

static void
imap_mailbox_set_exists (ImapMailbox *mailbox, guint32 exists)
{
  mailbox->exists = exists;
  /* grown with zeros (UIDs unknown); shrinking only when the server says
   * so through EXPUNGE, but EXISTS is the truth (RFC 9051 §7.4.1) */
  g_array_set_size (mailbox->uids, exists);
}

static void
imap_mailbox_expunge (ImapMailbox *mailbox, guint32 seq)
{
  if (seq == 0 || seq > mailbox->uids->len)
    return;
  g_array_remove_index (mailbox->uids, seq - 1);
  mailbox->exists = mailbox->uids->len;
}

/* VANISHED uid-set (not EARLIER): those UIDs are gone (RFC 7162 §3.2.10) */
static void
imap_mailbox_vanished (ImapMailbox *mailbox, const ImapReply *reply)
{
  const ImapArg *set_arg = NULL;
  g_autoptr (ImapSeqSet) set = NULL;

  if (reply->args->len == 0)
    return;
  set_arg = g_ptr_array_index (reply->args, 0);
  if (set_arg->type == IMAP_ARG_LIST) /* (EARLIER): mailbox unchanged */
    return;
  set = imap_seqset_parse (set_arg->data, NULL);
  if (set == NULL)
    return;
  for (guint i = mailbox->uids->len; i > 0; i--)
    {
      guint32 uid = g_array_index (mailbox->uids, guint32, i - 1);

      if (uid != 0 && imap_seqset_contains (set, uid, G_MAXUINT32))
        g_array_remove_index (mailbox->uids, i - 1);
    }
  mailbox->exists = mailbox->uids->len;
}

/* A FETCH that names the UID of a sequence number fills the view. */
static void
imap_mailbox_fetched (ImapMailbox *mailbox, const ImapReply *reply)
{
  guint32 seq = reply->response.number;
  guint64 uid = 0;
  guint64 modseq = 0;

  if (seq == 0 || seq > mailbox->uids->len)
    return;
  if (imap_reply_fetch_number (reply, "UID", &uid) && uid <= G_MAXUINT32)
    g_array_index (mailbox->uids, guint32, seq - 1) = (guint32) uid;
  if (imap_reply_fetch_number (reply, "MODSEQ", &modseq) &&
      modseq > mailbox->highest_modseq && mailbox->highest_modseq != 0)
    mailbox->highest_modseq = modseq;
}

static GStrv
imap_list_to_strv (const ImapArg *list)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  if (list == NULL || list->type != IMAP_ARG_LIST)
    return g_strv_builder_end (builder);
  for (guint i = 0; i < list->list->len; i++)
    {
      const ImapArg *item = g_ptr_array_index (list->list, i);

      if (item->data != NULL)
        g_strv_builder_add (builder, item->data);
    }
  return g_strv_builder_end (builder);
}

static guint64
imap_code_number (const ImapReply *reply)
{
  return reply->response.code_args
             ? g_ascii_strtoull (reply->response.code_args, NULL, 10)
             : 0;
}

/* Response codes that describe the mailbox (RFC 9051 §7.1, RFC 7162
 * §3.1.2.1), in untagged OKs of SELECT and in its tagged OK. */
void
imap_mailbox_apply_code (ImapMailbox *mailbox, const ImapReply *reply)
{
  g_autoptr (GPtrArray) args = NULL;

  if (imap_reply_has_code (reply, IMAP_CODE_UIDVALIDITY))
    mailbox->uidvalidity = (guint32) imap_code_number (reply);
  else if (imap_reply_has_code (reply, IMAP_CODE_UIDNEXT))
    mailbox->uidnext = (guint32) imap_code_number (reply);
  else if (imap_reply_has_code (reply, IMAP_CODE_HIGHESTMODSEQ))
    mailbox->highest_modseq = imap_code_number (reply);
  else if (imap_reply_has_code (reply, IMAP_CODE_NOMODSEQ))
    mailbox->highest_modseq = 0;
  else if (imap_reply_has_code (reply, IMAP_CODE_READ_ONLY))
    mailbox->read_only = TRUE;
  else if (imap_reply_has_code (reply, IMAP_CODE_READ_WRITE))
    mailbox->read_only = FALSE;
  else if (imap_reply_has_code (reply, IMAP_CODE_PERMANENTFLAGS) &&
           reply->response.code_args != NULL)
    {
      args = imap_parse_response_args (
          reply->response.code_args, strlen (reply->response.code_args), NULL);
      g_strfreev (mailbox->permanent_flags);
      mailbox->permanent_flags =
          imap_list_to_strv (args && args->len ? args->pdata[0] : NULL);
    }
}

void
imap_mailbox_apply_data (ImapMailbox *mailbox, const ImapReply *reply)
{
  if (imap_reply_is (reply, "EXISTS"))
    imap_mailbox_set_exists (mailbox, reply->response.number);
  else if (imap_reply_is (reply, "RECENT"))
    mailbox->recent = reply->response.number;
  else if (imap_reply_is (reply, "EXPUNGE"))
    imap_mailbox_expunge (mailbox, reply->response.number);
  else if (imap_reply_is (reply, "VANISHED"))
    imap_mailbox_vanished (mailbox, reply);
  else if (imap_reply_is (reply, "FETCH"))
    imap_mailbox_fetched (mailbox, reply);
  else if (imap_reply_is (reply, "FLAGS"))
    {
      g_strfreev (mailbox->flags);
      mailbox->flags =
          imap_list_to_strv (reply->args->len ? reply->args->pdata[0] : NULL);
    }
}
