/* SPDX-License-Identifier: MIT
 * smtp-session-bdat.c: BDAT for the SMTP server session (RFC 3030 §2,
 * CHUNKING). Instead of DATA's dot-stuffed text ended by "." the client
 * says how many octets come, sends exactly those, and marks the last
 * chunk:
 *
 *   C: BDAT 86            C: BDAT 0 LAST      (a last chunk may be empty)
 *   C: <86 octets>        S: 250 2.0.0 message 5F3A... accepted
 *   S: 250 2.0.0 86 octets received
 *
 * Nothing in the octets is special, so there is no dot-stuffing and no
 * end marker to smuggle. The price: a server that refuses a BDAT must
 * still read its octets, or it would take them for commands. So every
 * path here reads the chunk first and answers after.
 *
 * We do not offer BINARYMIME (RFC 3030 §3): BODY=BINARYMIME is refused on
 * MAIL, so chunks hold the same text DATA would, and the same checks
 * apply (CRLF line ends, no NUL: smtp_session_finish_message ()).
 */
#include <string.h>

#include "smtp-session-private.h"

/* Chunk octets are read in pieces of this size, so that a chunk we only
 * discard costs no memory however large it says it is. */
#define SMTP_BDAT_PIECE (256 * 1024)

/* What DATA's framer would have flagged in the same text: bare LF, bare
 * CR and NUL, which smtp_session_finish_message () refuses. Scanned piece
 * by piece as the chunks come, so the state carries over: a CR ending one
 * chunk may be followed by the LF that starts the next. */
static void
smtp_bdat_scan (SmtpTransaction *transaction, const char *data, gsize length)
{
  for (gsize i = 0; i < length; i++)
    {
      char c = data[i];

      if (transaction->after_cr && c != '\n')
        transaction->seen |= MAIL_LINE_BARE_CR;
      if (c == '\0')
        transaction->seen |= MAIL_LINE_HAS_NUL;
      else if (c == '\n' && !transaction->after_cr)
        transaction->seen |= MAIL_LINE_BARE_LF;
      transaction->after_cr = c == '\r';
    }
}

/* Reads the @size octets of one chunk, scanning them and writing them to
 * the transaction's spool as they come (@keep FALSE: read and drop them).
 * FALSE if the connection failed on the way. */
static gboolean
smtp_session_read_chunk (SmtpSession *session,
                         guint64 size,
                         gboolean keep,
                         GError **error)
{
  SmtpTransaction *transaction = &session->transaction;

  while (size > 0)
    {
      gsize piece = (gsize) MIN (size, (guint64) SMTP_BDAT_PIECE);
      g_autoptr (GBytes) octets = mail_stream_read_exact (
          session->stream, piece, SMTP_BDAT_PIECE, NULL, error);

      if (octets == NULL)
        return FALSE;
      if (keep)
        {
          const char *data = g_bytes_get_data (octets, NULL);

          smtp_bdat_scan (transaction, data, piece);
          mail_spool_write (transaction->spool, data, piece);
        }
      size -= piece;
    }
  return TRUE;
}

/* A chunk that comes where no message can take it: read it, then say
 * why (RFC 3030 §2: 503 without a transaction or valid recipient). */
static void
smtp_session_refuse_chunk (SmtpSession *session, guint64 size)
{
  g_autoptr (GError) error = NULL;

  if (!smtp_session_read_chunk (session, size, FALSE, &error))
    {
      smtp_session_enter_state (session, SMTP_STATE_CLOSED);
      return;
    }
  smtp_reply (session, SMTP_REPLY_BAD_SEQUENCE, SMTP_ENHANCED_INVALID_COMMAND,
              "BDAT chunk of %" G_GUINT64_FORMAT " octets read and dropped: "
              "%s (RFC 3030 §2)",
              size,
              session->state == SMTP_STATE_MAIL
                  ? "no valid recipient yet"
                  : "no mail transaction, MAIL FROM first");
}

/* The first chunk opens the message: our trace fields go first, as for
 * DATA (RFC 5321 §4.4). FALSE with @error if the spool cannot be made. */
static gboolean
smtp_session_begin_chunks (SmtpSession *session, GError **error)
{
  SmtpTransaction *transaction = &session->transaction;

  transaction->spool = smtp_session_begin_message (
      session, &transaction->id, &transaction->relay_offset, error);
  if (transaction->spool == NULL)
    return FALSE;
  smtp_session_enter_state (session, SMTP_STATE_BDAT);
  return TRUE;
}

/* A first chunk with no room for it (a full disk): read, then 452. */
static void
smtp_session_chunk_not_stored (SmtpSession *session,
                               guint64 size,
                               const GError *why)
{
  g_autoptr (GError) error = NULL;

  if (!smtp_session_read_chunk (session, size, FALSE, &error))
    {
      smtp_session_enter_state (session, SMTP_STATE_CLOSED);
      return;
    }
  smtp_session_reply_not_stored (session, "(not begun)", why);
  smtp_session_reset (session);
}

void
smtp_cmd_bdat (SmtpSession *session, const char *arguments)
{
  SmtpTransaction *transaction = &session->transaction;
  g_autoptr (GError) error = NULL;
  guint64 max_size = session->config->smtp_max_size;
  guint64 size = 0;
  gboolean last = FALSE;
  gboolean too_big = FALSE;
  g_autofree char *how = NULL;

  if (!smtp_proto_parse_bdat (arguments, &size, &last))
    {
      /* Without a size we cannot tell where the octets end, so whatever
       * we read next could be message text: stop here. */
      smtp_reply (session, SMTP_REPLY_PARAMETER_SYNTAX_ERROR,
                  SMTP_ENHANCED_INVALID_ARGUMENTS,
                  "BDAT <octets> [LAST] expected (RFC 3030 §2); cannot find "
                  "the end of the chunk, closing connection");
      smtp_session_enter_state (session, SMTP_STATE_CLOSED);
      return;
    }
  if (session->state != SMTP_STATE_RCPT && session->state != SMTP_STATE_BDAT)
    {
      smtp_session_refuse_chunk (session, size);
      return;
    }
  if (session->state == SMTP_STATE_RCPT &&
      !smtp_session_begin_chunks (session, &error))
    {
      smtp_session_chunk_not_stored (session, size, error);
      return;
    }
  /* RFC 1870 §6, per chunk: past the limit the chunk is read and dropped,
   * and so is the message. */
  too_big =
      max_size > 0 && size > max_size - MIN (transaction->chunked, max_size);
  if (!smtp_session_read_chunk (session, size, !too_big, &error))
    {
      /* A client that vanished mid-chunk: nothing was stored (the spool's
       * file goes with the transaction). */
      g_message ("%s: connection lost during BDAT: %s", session->peer,
                 error->message);
      smtp_session_enter_state (session, SMTP_STATE_CLOSED);
      return;
    }
  if (too_big)
    {
      smtp_reply (session, SMTP_REPLY_EXCEEDED_STORAGE,
                  SMTP_ENHANCED_MESSAGE_TOO_BIG,
                  "message exceeds the limit of %" G_GUINT64_FORMAT
                  " octets; nothing kept (RFC 1870 §6)",
                  max_size);
      smtp_session_reset (session);
      return;
    }
  transaction->chunked += size;
  transaction->chunks++;
  if (!last)
    {
      smtp_reply (session, SMTP_REPLY_OK, SMTP_ENHANCED_OK,
                  "%" G_GUINT64_FORMAT " octets received", size);
      return;
    }
  /* a CR that ends the last chunk is followed by nothing */
  if (transaction->after_cr)
    transaction->seen |= MAIL_LINE_BARE_CR;
  how = g_strdup_printf ("(%" G_GSIZE_FORMAT " octets in %u BDAT chunk%s)",
                         transaction->chunked, transaction->chunks,
                         transaction->chunks == 1 ? "" : "s");
  smtp_session_finish_message (session, transaction->spool,
                               transaction->relay_offset, transaction->seen,
                               transaction->id, how);
  if (session->state != SMTP_STATE_CLOSED)
    smtp_session_reset (session);
}
