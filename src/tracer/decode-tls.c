/* SPDX-License-Identifier: MIT
 * decode-tls.c: the TLS record layer (RFC 8446 §5.1, RFC 5246 §6.2). The
 * handshake is explained up to the point where it is encrypted
 * (decode-tls-handshake.c); after that each record is "encrypted, N
 * bytes": this is where plaintext stops, unless mw-trace has the
 * session's keys (--keylog): then the hook below decrypts each record
 * (tls-decrypt.c) and hands what it holds on: handshake messages and
 * alerts to be explained, application data to the protocol decoder the
 * session would have used in clear, every event marked as decrypted.
 * Records split across segments, several in one segment, gaps inside a
 * record or across records, and a capture that ends inside one.
 */
#include <string.h>

#include "decode-tls-private.h"

TraceTls *
trace_tls_new (void)
{
  TraceTls *tls = g_new0 (TraceTls, 1);

  tls->handshake = g_byte_array_new ();
  tls->record = g_byte_array_new ();
  tls->plain = g_byte_array_new ();
  return tls;
}

void
trace_tls_free (TraceTls *tls)
{
  g_byte_array_unref (tls->handshake);
  g_byte_array_unref (tls->record);
  g_byte_array_unref (tls->plain);
  g_queue_clear_full (&tls->held, (GDestroyNotify) g_bytes_unref);
  g_free (tls);
}

/* Looks the keys of @direction up when they are wanted. Live, a key log
 * line may not be written yet (a program logs a secret as it derives it,
 * just before or after the first record under it leaves): WANTED is
 * returned up to TLS_KEY_TRIES_LIVE times, to try again at the next
 * record; @last asks for a final answer. READY, WANTED or FAILED (the
 * problem then said once per session). */
static TlsKeysState
look_up_keys (TraceSession *session, TraceDirection direction, gboolean last)
{
  TraceTls *tls = session->tls_half[direction];
  g_autoptr (GError) error = NULL;
  guint tries = session->options->live && !last ? TLS_KEY_TRIES_LIVE : 1;
  gboolean found;

  if (tls->keys != TLS_KEYS_WANTED)
    return tls->keys;
  if (tls->application) /* TLS 1.3, after this side's Finished */
    found =
        tls_decrypt_application_keys (session->tls_decrypt, direction, &error);
  else
    found = tls_decrypt_start (session->tls_decrypt, direction, &error);
  if (found)
    return tls->keys = TLS_KEYS_READY;
  if (g_error_matches (error, TLS_DECRYPT_ERROR, TLS_DECRYPT_ERROR_NO_KEY) &&
      ++tls->key_tries < tries)
    return TLS_KEYS_WANTED;
  tls->keys = TLS_KEYS_FAILED;
  if (!session->tls_problem_said)
    trace_tls_emit_problem (session, direction, error->message);
  session->tls_problem_said = TRUE;
  return TLS_KEYS_FAILED;
}

/* What a decrypted record holds, handed on as if it had come in clear. */
static void
read_content (TraceSession *session, TraceDirection direction, guint8 type)
{
  TraceTls *tls = session->tls_half[direction];
  GByteArray *plain = tls->plain;
  g_autofree char *text = NULL;

  switch (type)
    {
    case TLS_APPLICATION_DATA:
      trace_session_plaintext (session, direction, plain->data, plain->len);
      return;
    case TLS_HANDSHAKE:
      if (tls->handshake->len + plain->len <= TLS_MAX_HANDSHAKE)
        g_byte_array_append (tls->handshake, plain->data, plain->len);
      trace_tls_explain_handshake (session, direction);
      return;
    case TLS_ALERT:
      trace_tls_explain_alert (session, direction, plain->data, plain->len);
      return;
    default:
      text = g_strdup_printf ("record of content type %u, %u bytes", type,
                              plain->len);
      trace_tls_emit (session, direction, text, "RFC 8446 §5.1", plain->len);
      return;
    }
}

/* TLS 1.3 after a gap may have lost this side's Finished: the record that
 * fails with the handshake keys is tried with the application keys. */
static gboolean
decrypt_after_lost_finished (TraceSession *session,
                             TraceDirection direction,
                             const guint8 *header,
                             const guint8 *body,
                             gsize length,
                             guint8 *out_type)
{
  TraceTls *tls = session->tls_half[direction];

  if (session->tls_version != 0x0304 || tls->application || tls->skipped == 0)
    return FALSE;
  tls->application = TRUE;
  return tls_decrypt_application_keys (session->tls_decrypt, direction, NULL) &&
         tls_decrypt_record (session->tls_decrypt, direction, header, body,
                             length, MIN (tls->skipped, TLS_MAX_SKIPPED),
                             tls->plain, out_type, NULL);
}

/* Decrypts one record and hands on what it holds; FALSE (said why, and
 * the rest of this side stays encrypted) when it does not authenticate. */
static gboolean
open_and_read (TraceSession *session,
               TraceDirection direction,
               const guint8 *header,
               const guint8 *body,
               gsize length)
{
  TraceTls *tls = session->tls_half[direction];
  g_autoptr (GError) error = NULL;
  guint8 type = 0;

  if (!tls_decrypt_record (session->tls_decrypt, direction, header, body,
                           length, MIN (tls->skipped, TLS_MAX_SKIPPED),
                           tls->plain, &type, &error) &&
      !decrypt_after_lost_finished (session, direction, header, body, length,
                                    &type))
    {
      tls->keys = TLS_KEYS_FAILED;
      trace_tls_emit_problem (session, direction, error->message);
      return FALSE;
    }
  tls->skipped = 0;
  session->decrypting = TRUE;
  read_content (session, direction, type);
  session->decrypting = FALSE;
  return TRUE;
}

/* "encrypted, N bytes": a record mw-trace cannot read. */
static void
show_encrypted (TraceSession *session,
                TraceDirection direction,
                guint8 type,
                gsize length,
                gboolean cut)
{
  g_autofree char *text = g_strdup_printf (
      "%s, %" G_GSIZE_FORMAT " bytes%s",
      type == TLS_ALERT ? "alert (encrypted or not)" : "encrypted", length,
      cut ? " (not all captured)" : "");

  trace_tls_emit (session, direction, text, "RFC 8446 §5.2", length);
}

/* Records held while their key was looked for, in order: decrypted now
 * that it is known, or shown encrypted. */
static void
release_held (TraceSession *session, TraceDirection direction)
{
  TraceTls *tls = session->tls_half[direction];
  GBytes *record;

  while ((record = g_queue_pop_head (&tls->held)) != NULL)
    {
      gsize size = 0;
      const guint8 *data = g_bytes_get_data (record, &size);
      gsize length = size - TLS_RECORD_HEADER;

      if (tls->keys != TLS_KEYS_READY ||
          !open_and_read (session, direction, data, data + TLS_RECORD_HEADER,
                          length))
        show_encrypted (session, direction, data[0], length, FALSE);
      g_bytes_unref (record);
    }
}

static void
hold_record (TraceTls *tls)
{
  GByteArray *copy =
      g_byte_array_sized_new (TLS_RECORD_HEADER + tls->record->len);

  g_byte_array_append (copy, tls->header, TLS_RECORD_HEADER);
  g_byte_array_append (copy, tls->record->data, tls->record->len);
  g_queue_push_tail (&tls->held, g_byte_array_free_to_bytes (copy));
}

/* The hook: an encrypted record, decrypted when its keys are known (or
 * held until they are). FALSE when it stays encrypted. */
static gboolean
decrypt_record (TraceSession *session, TraceDirection direction)
{
  TraceTls *tls = session->tls_half[direction];
  TlsKeysState keys;

  if (session->tls_decrypt == NULL || tls->keys == TLS_KEYS_NONE)
    return FALSE;
  if (tls->record_cut)
    {
      tls->skipped = MIN (tls->skipped + 1, TLS_MAX_SKIPPED); /* gone by */
      return FALSE;
    }
  keys = look_up_keys (session, direction, FALSE);
  if (keys == TLS_KEYS_WANTED)
    {
      hold_record (tls);
      return TRUE;
    }
  release_held (session, direction);
  return keys == TLS_KEYS_READY &&
         open_and_read (session, direction, tls->header, tls->record->data,
                        tls->record->len);
}

static void
record_end (TraceSession *session, TraceDirection direction)
{
  TraceTls *tls = session->tls_half[direction];
  guint8 type = tls->header[0];
  g_autofree char *text = NULL;

  if (type == TLS_HANDSHAKE && !tls->encrypted)
    {
      trace_tls_explain_handshake (session, direction);
      return;
    }
  if (type == TLS_CHANGE_CIPHER_SPEC)
    {
      /* RFC 5246 §7.1: from here this side encrypts (TLS 1.3 sends it
       * only for middlebox compatibility, RFC 8446 §D.4). */
      tls->encrypted = TRUE;
      g_byte_array_set_size (tls->handshake, 0); /* the clear part is over */
      if (session->tls_version != 0x0304)
        trace_tls_want_keys (session, direction);
      trace_tls_emit (session, direction, "ChangeCipherSpec: encryption starts",
                      "RFC 5246 §7.1", tls->body_length);
      return;
    }
  if (decrypt_record (session, direction))
    return;
  text = g_strdup_printf (
      "%s, %" G_GSIZE_FORMAT " bytes%s",
      type == TLS_ALERT ? "alert (encrypted or not)" : "encrypted",
      tls->body_length, tls->record_cut ? " (not all captured)" : "");
  trace_tls_emit (session, direction, text, "RFC 8446 §5.2", tls->body_length);
}

static gboolean
plausible_header (const guint8 *header)
{
  gsize length = ((gsize) header[3] << 8) | header[4];

  return header[0] >= TLS_CHANGE_CIPHER_SPEC &&
         header[0] <= TLS_APPLICATION_DATA && header[1] == 3 &&
         length <= TLS_MAX_RECORD;
}

/* A record header: type, legacy version, length (RFC 8446 §5.1). */
static gboolean
record_begin (TraceSession *session, TraceDirection direction)
{
  TraceTls *tls = session->tls_half[direction];
  gsize length = ((gsize) tls->header[3] << 8) | tls->header[4];

  if (!plausible_header (tls->header))
    {
      tls->broken = TRUE;
      trace_session_lint (session, direction, "RFC 8446 §5.1",
                          "%s: not a TLS record (octets 0x%02x 0x%02x)",
                          tls->seen_record ? "TLS stream lost" : "TLS expected",
                          tls->header[0], tls->header[1]);
      return FALSE;
    }
  tls->seen_record = TRUE;
  tls->body_length = length;
  tls->body_remaining = length;
  tls->record_cut = FALSE;
  g_byte_array_set_size (tls->record, 0);
  return TRUE;
}

/* After a gap that lost the framing: the offset of the first octets that
 * look like a record header (type 20-23, version 3.x, a length that
 * fits), or @length when there is none. A false match fails to
 * authenticate and is reported as such. */
static gsize
hunt_header (TraceSession *session,
             TraceDirection direction,
             const guint8 *data,
             gsize length)
{
  TraceTls *tls = session->tls_half[direction];
  TraceEvent *event;

  for (gsize i = 0; i + TLS_RECORD_HEADER <= length; i++)
    if (plausible_header (data + i))
      {
        tls->hunting = FALSE;
        event = trace_event_new (session, direction, "info");
        trace_event_explain (event,
                             "TLS resynchronised: skipped %" G_GSIZE_FORMAT
                             " octets to the next record header",
                             i);
        trace_event_emit (event);
        return i;
      }
  return length; /* a header split across segments is missed: rare */
}

void
trace_tls_data (TraceSession *session,
                TraceDirection direction,
                const guint8 *data,
                gsize length)
{
  TraceTls *tls = session->tls_half[direction];

  while (length > 0 && !tls->broken)
    {
      gsize take;

      if (tls->hunting)
        {
          take = hunt_header (session, direction, data, length);
          data += take;
          length -= take;
          continue;
        }
      if (tls->header_length < TLS_RECORD_HEADER)
        {
          take = MIN (length, TLS_RECORD_HEADER - tls->header_length);
          memcpy (tls->header + tls->header_length, data, take);
          tls->header_length += take;
          data += take;
          length -= take;
          if (tls->header_length == TLS_RECORD_HEADER &&
              !record_begin (session, direction))
            return;
          if (tls->header_length < TLS_RECORD_HEADER || tls->body_remaining)
            continue;
        }
      take = MIN (length, tls->body_remaining);
      if (tls->header[0] == TLS_HANDSHAKE && !tls->encrypted &&
          tls->handshake->len + take <= TLS_MAX_HANDSHAKE)
        g_byte_array_append (tls->handshake, data, take);
      else if (tls->keys != TLS_KEYS_NONE && tls->keys != TLS_KEYS_FAILED)
        g_byte_array_append (tls->record, data, take);
      tls->body_remaining -= take;
      data += take;
      length -= take;
      if (tls->body_remaining == 0)
        {
          record_end (session, direction);
          tls->header_length = 0;
        }
    }
}

void
trace_tls_gap (TraceSession *session, TraceDirection direction, guint64 missing)
{
  TraceTls *tls = session->tls_half[direction];

  if (tls == NULL || tls->broken || tls->hunting)
    return;
  /* A handshake message cut by the gap will never be whole. */
  g_byte_array_set_size (tls->handshake, 0);
  if (tls->header_length == TLS_RECORD_HEADER && missing <= tls->body_remaining)
    {
      /* Inside one record: the framing holds, this record is lost. */
      tls->record_cut = TRUE;
      tls->body_remaining -= missing;
      if (tls->body_remaining == 0)
        {
          record_end (session, direction);
          tls->header_length = 0;
        }
      return;
    }
  /* Across a record boundary: how many records went is not known; the
   * next one's sequence number is searched for (decrypt_record). */
  tls->skipped = (guint) MIN (
      tls->skipped + 1 + missing / (TLS_RECORD_HEADER + 17), TLS_MAX_SKIPPED);
  tls->header_length = 0;
  tls->body_remaining = 0;
  tls->hunting = TRUE;
}

void
trace_tls_finish (TraceSession *session, TraceDirection direction)
{
  TraceTls *tls = session->tls_half[direction];
  g_autofree char *text = NULL;

  if (tls == NULL)
    return;
  if (!g_queue_is_empty (&tls->held))
    {
      look_up_keys (session, direction, TRUE);
      release_held (session, direction);
    }
  if (tls->broken || tls->header_length < TLS_RECORD_HEADER ||
      tls->body_remaining == 0)
    return;
  text = g_strdup_printf ("the capture ends inside a record (%" G_GSIZE_FORMAT
                          " of its %" G_GSIZE_FORMAT " bytes seen)",
                          tls->body_length - tls->body_remaining,
                          tls->body_length);
  trace_tls_emit (session, direction, text, "RFC 8446 §5.1", tls->body_length);
}
