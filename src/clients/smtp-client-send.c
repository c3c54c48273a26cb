/* SPDX-License-Identifier: MIT
 * smtp-client-send.c: the mail transaction of the SMTP client library
 * (RFC 5321 §3.3, §4.1.1.2-4, §4.5.2; RFC 2920 §3.1 PIPELINING; RFC 1870
 * §6 SIZE; RFC 6152 §3 8BITMIME; RFC 3030 §2 BDAT). The connection
 * itself is smtp-client.c.
 */

#include "smtp-client-private.h"
#include "smtp-proto.h"

/* BDAT chunks are at most this large: several chunks show CHUNKING at
 * work on the wire, and a server may refuse a message at the first chunk
 * past its limit instead of after all of it. */
#define SMTP_CLIENT_CHUNK (1024 * 1024)

/* ---- the mail transaction (RFC 5321 §3.3) ------------------------------ */

static void
smtp_recipient_result_free (SmtpRecipientResult *r)
{
  g_free (r->address);
  g_free (r->reply);
  g_free (r);
}

static gboolean
smtp_client_has_8bit (const guchar *data, gsize length)
{
  for (gsize i = 0; i < length; i++)
    if (data[i] >= 0x80)
      return TRUE;
  return FALSE;
}

/* RFC 6531 §3.4: SMTPUTF8 on MAIL when asked for, or when an address of
 * the transaction is not ASCII (§3.3). */
static gboolean
smtp_client_needs_smtputf8 (SmtpClient *c,
                            const char *reverse_path,
                            const char *const *recipients)
{
  if (c->smtputf8 || !g_str_is_ascii (reverse_path))
    return TRUE;
  for (guint i = 0; recipients[i] != NULL; i++)
    if (!g_str_is_ascii (recipients[i]))
      return TRUE;
  return FALSE;
}

/* RFC 3461 §4.3, §4.4: RET= and ENVID= (as xtext), only when asked for
 * and offered. */
static void
smtp_client_append_dsn_mail (SmtpClient *c, GString *line)
{
  g_autofree char *envid = NULL;

  if ((c->extensions & SMTP_EXT_DSN) == 0)
    return;
  if (c->dsn.ret != SMTP_DSN_RET_DEFAULT)
    g_string_append (line, c->dsn.ret == SMTP_DSN_RET_FULL ? " RET=FULL"
                                                           : " RET=HDRS");
  if (c->dsn.envid != NULL)
    {
      envid = smtp_proto_xtext_encode (c->dsn.envid);
      g_string_append_printf (line, " ENVID=%s", envid);
    }
}

/* RFC 5321 §4.1.1.2: "MAIL FROM:" Reverse-path [SP Mail-parameters] */
static void
smtp_client_write_mail (SmtpClient *c,
                        const char *reverse_path,
                        gboolean smtputf8,
                        const void *data,
                        gsize length)
{
  g_autoptr (GString) line = g_string_new (NULL);

  g_string_printf (line, "MAIL FROM:<%s>", reverse_path);
  if (c->extensions & SMTP_EXT_SIZE) /* RFC 1870 §6 */
    g_string_append_printf (line, " SIZE=%" G_GSIZE_FORMAT, length);
  /* RFC 6152 §3. Without 8BITMIME the text goes as is: mw-send makes
   * 7-bit messages, and most servers take 8-bit octets anyway. */
  if ((c->extensions & SMTP_EXT_8BITMIME) &&
      smtp_client_has_8bit (data, length))
    g_string_append (line, " BODY=8BITMIME");
  if (smtputf8)
    g_string_append (line, " SMTPUTF8");
  smtp_client_append_dsn_mail (c, line);
  mail_stream_write_line (c->stream, line->str);
}

/* RFC 5321 §4.1.1.3: "RCPT TO:" Forward-path [SP Rcpt-parameters], with
 * NOTIFY and ORCPT of recipient @index (RFC 3461 §4.1, §4.2). */
static void
smtp_client_write_rcpt (SmtpClient *c, guint index, const char *address)
{
  const SmtpDsnRecipient *dsn = smtp_dsn_envelope_recipient (&c->dsn, index);
  g_autoptr (GString) line = g_string_new (NULL);
  g_autofree char *notify = NULL;
  g_autofree char *orcpt = NULL;

  g_string_printf (line, "RCPT TO:<%s>", address);
  if (dsn != NULL && (c->extensions & SMTP_EXT_DSN))
    {
      notify = smtp_dsn_notify_to_string (dsn->notify);
      orcpt = smtp_dsn_recipient_format_orcpt (dsn);
      if (notify != NULL)
        g_string_append_printf (line, " NOTIFY=%s", notify);
      g_string_append (line, orcpt);
    }
  mail_stream_write_line (c->stream, line->str);
}

/* A transaction as it goes: results and the MAIL reply, kept because in a
 * pipelined batch later replies overwrite the client's last reply. */
typedef struct
{
  GPtrArray *results;
  guint accepted;
  guint mail_code;
  char *mail_reply;
  gboolean smtputf8; /* MAIL carries SMTPUTF8 */
} SmtpTransaction;

static void
smtp_transaction_clear (SmtpTransaction *t)
{
  g_clear_pointer (&t->results, g_ptr_array_unref);
  g_clear_pointer (&t->mail_reply, g_free);
}

static gboolean
smtp_client_read_mail_reply (SmtpClient *c, SmtpTransaction *t, GError **error)
{
  if (!smtp_client_read_reply (c, SMTP_CLIENT_ERROR_MAIL, "MAIL FROM", error))
    return FALSE;
  t->mail_code = c->reply_code;
  t->mail_reply = g_strdup (c->reply_text->str);
  return TRUE;
}

/* RFC 5321 §4.1.1.3: each recipient gets its own verdict (250/251 yes,
 * 4xx try later, 5xx no). */
static gboolean
smtp_client_read_rcpt_reply (SmtpClient *c,
                             SmtpRecipientResult *r,
                             GError **error)
{
  g_autofree char *what = g_strdup_printf ("RCPT TO:<%s>", r->address);

  if (!smtp_client_read_reply (c, SMTP_CLIENT_ERROR_RCPT, what, error))
    return FALSE;
  r->code = c->reply_code;
  r->reply = g_strdup (c->reply_text->str);
  return TRUE;
}

static gboolean
smtp_client_read_rcpt_replies (SmtpClient *c,
                               SmtpTransaction *t,
                               GError **error)
{
  for (guint i = 0; i < t->results->len; i++)
    {
      SmtpRecipientResult *r = g_ptr_array_index (t->results, i);

      if (!smtp_client_read_rcpt_reply (c, r, error))
        return FALSE;
      if (smtp_reply_is_positive (r->code))
        t->accepted++;
    }
  return TRUE;
}

/* Makes the failure of MAIL the client's last reply again, for callers
 * that look at smtp_client_get_reply_code (). In a pipelined batch the
 * RCPT replies that followed (503 "need MAIL") say nothing about the
 * recipients, so they are forgotten: code 0, as if never sent. */
static void
smtp_client_fail_mail (SmtpClient *c, SmtpTransaction *t, GError **error)
{
  for (guint i = 0; i < t->results->len; i++)
    {
      SmtpRecipientResult *r = g_ptr_array_index (t->results, i);

      r->code = 0;
      g_clear_pointer (&r->reply, g_free);
    }
  c->reply_code = t->mail_code;
  g_string_assign (c->reply_text, t->mail_reply);
  smtp_client_set_refused (c, SMTP_CLIENT_ERROR_MAIL, "MAIL FROM", error);
}

/* Every recipient was refused: the error quotes the first refusal and
 * carries its code (a 4xx among 5xx makes the whole temporary). */
static void
smtp_client_fail_recipients (SmtpClient *c, SmtpTransaction *t, GError **error)
{
  SmtpRecipientResult *first = g_ptr_array_index (t->results, 0);

  c->reply_code = first->code;
  for (guint i = 0; i < t->results->len; i++)
    {
      SmtpRecipientResult *r = g_ptr_array_index (t->results, i);

      if (smtp_reply_is_transient (r->code))
        c->reply_code = r->code;
    }
  g_string_assign (c->reply_text, first->reply ? first->reply : "");
  g_set_error (error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_RCPT,
               "RCPT TO:<%s>: server replied: %s%s", first->address,
               c->reply_text->str,
               t->results->len > 1 ? " (and every other recipient was "
                                     "refused too)"
                                   : "");
}

/* After 354: the text, dot-stuffed (RFC 5321 §4.5.2) and ended by
 * CRLF "." CRLF, then the verdict on the whole message. */
static gboolean
smtp_client_write_text (SmtpClient *c,
                        const void *data,
                        gsize length,
                        GError **error)
{
  g_autoptr (GString) stuffed = g_string_sized_new (length + length / 64 + 8);

  mail_dot_stuff (stuffed, data, length);
  if (c->trace != NULL)
    {
      g_autofree char *note = g_strdup_printf ("[message text: %" G_GSIZE_FORMAT
                                               " octets, dot-stuffed, then "
                                               "\".\" alone ends it]",
                                               length);
      smtp_client_note (c, note);
    }
  mail_stream_write (c->stream, stuffed->str, stuffed->len);
  return smtp_client_expect (c, SMTP_CLIENT_ERROR_DATA, "end of DATA",
                             smtp_reply_is_positive, error);
}

/* The DATA reply, then the text or, when no recipient was accepted but
 * the server still said 354, a lone "." (RFC 2920 §3.1). */
static gboolean
smtp_client_finish_data (SmtpClient *c,
                         SmtpTransaction *t,
                         const void *data,
                         gsize length,
                         GError **error)
{
  if (!smtp_client_read_reply (c, SMTP_CLIENT_ERROR_DATA, "DATA", error))
    return FALSE;
  if (!smtp_reply_is_intermediate (c->reply_code))
    {
      if (t->mail_code != 0 && !smtp_reply_is_positive (t->mail_code))
        smtp_client_fail_mail (c, t, error);
      else if (t->accepted == 0)
        smtp_client_fail_recipients (c, t, error);
      else
        smtp_client_set_refused (c, SMTP_CLIENT_ERROR_DATA, "DATA", error);
      return FALSE;
    }
  if (t->accepted == 0 || !smtp_reply_is_positive (t->mail_code))
    {
      mail_stream_write_line (c->stream, ".");
      if (!smtp_client_read_reply (c, SMTP_CLIENT_ERROR_DATA, "DATA", error))
        return FALSE;
      if (!smtp_reply_is_positive (t->mail_code))
        smtp_client_fail_mail (c, t, error);
      else
        smtp_client_fail_recipients (c, t, error);
      return FALSE;
    }
  return smtp_client_write_text (c, data, length, error);
}

/* ---- BDAT (RFC 3030 §2) ------------------------------------------------ */

static gboolean
smtp_client_uses_bdat (SmtpClient *c)
{
  return c->chunking && (c->extensions & SMTP_EXT_CHUNKING);
}

/* How many chunks @length octets make; an empty message is one empty
 * chunk, "BDAT 0 LAST". */
static guint
smtp_client_count_chunks (gsize length)
{
  return length == 0 ? 1 : (guint) ((length - 1) / SMTP_CLIENT_CHUNK + 1);
}

/* "BDAT <size>[ LAST]" and the chunk's octets as they are: no
 * dot-stuffing, since the size, not a "." line, ends them. */
static void
smtp_client_write_chunk (SmtpClient *c,
                         const char *data,
                         gsize length,
                         guint index)
{
  gsize offset = (gsize) index * SMTP_CLIENT_CHUNK;
  gsize size = MIN (length - offset, (gsize) SMTP_CLIENT_CHUNK);
  gboolean last = offset + size == length;

  mail_stream_printf (c->stream, "BDAT %" G_GSIZE_FORMAT "%s", size,
                      last ? " LAST" : "");
  if (c->trace != NULL)
    {
      g_autofree char *note = g_strdup_printf (
          "[chunk: %" G_GSIZE_FORMAT " octets sent as they are, no "
          "dot-stuffing; the size says where they end]",
          size);
      smtp_client_note (c, note);
    }
  mail_stream_write (c->stream, data + offset, size);
}

/* The verdicts on @chunks chunks, in order. The first refusal is the
 * one that counts; the chunks after it are refused for following it. */
static gboolean
smtp_client_read_chunk_replies (SmtpClient *c,
                                SmtpTransaction *t,
                                guint chunks,
                                GError **error)
{
  g_autofree char *refusal = NULL;
  guint refusal_code = 0;

  for (guint i = 0; i < chunks; i++)
    {
      if (!smtp_client_read_reply (c, SMTP_CLIENT_ERROR_DATA, "BDAT", error))
        return FALSE;
      if (!smtp_reply_is_positive (c->reply_code) && refusal_code == 0)
        {
          refusal_code = c->reply_code;
          refusal = g_strdup (c->reply_text->str);
        }
    }
  /* The error names the step that really failed: in a pipelined batch
   * the chunks are refused for a MAIL or RCPT refused before them. */
  if (t->mail_code != 0 && !smtp_reply_is_positive (t->mail_code))
    {
      smtp_client_fail_mail (c, t, error);
      return FALSE;
    }
  if (t->accepted == 0)
    {
      smtp_client_fail_recipients (c, t, error);
      return FALSE;
    }
  if (refusal_code != 0)
    {
      c->reply_code = refusal_code;
      g_string_assign (c->reply_text, refusal);
      smtp_client_set_refused (c, SMTP_CLIENT_ERROR_DATA, "BDAT", error);
      return FALSE;
    }
  return TRUE;
}

/* Without PIPELINING each chunk waits for the reply to the one before
 * (RFC 3030 §4.1). */
static gboolean
smtp_client_send_chunks_in_lockstep (SmtpClient *c,
                                     SmtpTransaction *t,
                                     const void *data,
                                     gsize length,
                                     GError **error)
{
  guint chunks = smtp_client_count_chunks (length);

  for (guint i = 0; i < chunks; i++)
    {
      smtp_client_write_chunk (c, data, length, i);
      if (!smtp_client_read_chunk_replies (c, t, 1, error))
        return FALSE;
    }
  return TRUE;
}

/* ---- the transaction ---------------------------------------------------- */

/* Without PIPELINING: one command, one reply, and stop at the first
 * failure that leaves nothing to send. */
static gboolean
smtp_client_send_in_lockstep (SmtpClient *c,
                              SmtpTransaction *t,
                              const char *reverse_path,
                              const void *data,
                              gsize length,
                              GError **error)
{
  smtp_client_write_mail (c, reverse_path, t->smtputf8, data, length);
  if (!smtp_client_read_mail_reply (c, t, error))
    return FALSE;
  if (!smtp_reply_is_positive (t->mail_code))
    {
      smtp_client_fail_mail (c, t, error);
      return FALSE;
    }
  for (guint i = 0; i < t->results->len; i++)
    {
      SmtpRecipientResult *r = g_ptr_array_index (t->results, i);

      smtp_client_write_rcpt (c, i, r->address);
      if (!smtp_client_read_rcpt_reply (c, r, error))
        return FALSE;
      if (smtp_reply_is_positive (r->code))
        t->accepted++;
    }
  if (t->accepted == 0)
    {
      smtp_client_fail_recipients (c, t, error);
      return FALSE;
    }
  if (smtp_client_uses_bdat (c))
    return smtp_client_send_chunks_in_lockstep (c, t, data, length, error);
  mail_stream_write_line (c->stream, "DATA");
  return smtp_client_finish_data (c, t, data, length, error);
}

/* RFC 2920 §3.1: MAIL, the RCPTs and DATA go out in one write (the stream
 * buffers until the first read), DATA last in the group; then the replies
 * come back in the same order. With BDAT the chunks follow in the same
 * write, since no 354 has to be waited for (RFC 3030 §4.2). */
static gboolean
smtp_client_send_pipelined (SmtpClient *c,
                            SmtpTransaction *t,
                            const char *reverse_path,
                            const void *data,
                            gsize length,
                            GError **error)
{
  smtp_client_write_mail (c, reverse_path, t->smtputf8, data, length);
  for (guint i = 0; i < t->results->len; i++)
    {
      SmtpRecipientResult *r = g_ptr_array_index (t->results, i);

      smtp_client_write_rcpt (c, i, r->address);
    }
  if (smtp_client_uses_bdat (c))
    {
      guint chunks = smtp_client_count_chunks (length);

      for (guint i = 0; i < chunks; i++)
        smtp_client_write_chunk (c, data, length, i);
      return smtp_client_read_mail_reply (c, t, error) &&
             smtp_client_read_rcpt_replies (c, t, error) &&
             smtp_client_read_chunk_replies (c, t, chunks, error);
    }
  mail_stream_write_line (c->stream, "DATA");
  if (!smtp_client_read_mail_reply (c, t, error) ||
      !smtp_client_read_rcpt_replies (c, t, error))
    return FALSE;
  return smtp_client_finish_data (c, t, data, length, error);
}

gboolean
smtp_client_send (SmtpClient *c,
                  const char *reverse_path,
                  const char *const *recipients,
                  const void *data,
                  gsize length,
                  GPtrArray **out_results,
                  GError **error)
{
  SmtpTransaction t = { 0 };
  gboolean ok;

  g_return_val_if_fail (c->state == SMTP_CLIENT_READY, FALSE);
  g_return_val_if_fail (recipients != NULL && recipients[0] != NULL, FALSE);
  t.results = g_ptr_array_new_with_free_func (
      (GDestroyNotify) smtp_recipient_result_free);
  for (guint i = 0; recipients[i] != NULL; i++)
    {
      SmtpRecipientResult *r = g_new0 (SmtpRecipientResult, 1);

      r->address = g_strdup (recipients[i]);
      g_ptr_array_add (t.results, r);
    }
  t.smtputf8 = smtp_client_needs_smtputf8 (c, reverse_path, recipients);
  if (t.smtputf8 && (c->extensions & SMTP_EXT_SMTPUTF8) == 0)
    {
      g_set_error_literal (
          error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_MAIL,
          "MAIL FROM: the server does not offer SMTPUTF8, which this "
          "message needs (RFC 6531 §3.4): nothing was sent");
      c->reply_code = 0;
      ok = FALSE;
    }
  else if (c->extensions & SMTP_EXT_PIPELINING)
    ok = smtp_client_send_pipelined (c, &t, reverse_path, data, length, error);
  else
    ok =
        smtp_client_send_in_lockstep (c, &t, reverse_path, data, length, error);
  if (out_results != NULL)
    *out_results = g_steal_pointer (&t.results);
  smtp_transaction_clear (&t);
  return ok;
}

void
smtp_client_set_chunking (SmtpClient *c, gboolean use)
{
  c->chunking = use;
}

void
smtp_client_set_smtputf8 (SmtpClient *c, gboolean use)
{
  c->smtputf8 = use;
}

void
smtp_client_set_dsn (SmtpClient *c, const SmtpDsnEnvelope *dsn)
{
  smtp_dsn_envelope_clear (&c->dsn);
  if (dsn == NULL)
    return;
  c->dsn.ret = dsn->ret;
  c->dsn.envid = g_strdup (dsn->envid);
  c->dsn.recipients =
      g_ptr_array_new_with_free_func ((GDestroyNotify) smtp_dsn_recipient_free);
  for (guint i = 0; dsn->recipients != NULL && i < dsn->recipients->len; i++)
    g_ptr_array_add (
        c->dsn.recipients,
        smtp_dsn_recipient_copy (g_ptr_array_index (dsn->recipients, i)));
}

gboolean
smtp_client_rset (SmtpClient *c, GError **error)
{
  g_return_val_if_fail (c->state == SMTP_CLIENT_READY, FALSE);
  mail_stream_write_line (c->stream, "RSET");
  return smtp_client_expect (c, SMTP_CLIENT_ERROR_PROTOCOL, "RSET",
                             smtp_reply_is_positive, error);
}
