/* SPDX-License-Identifier: MIT
 * fuzz-imap-assembler.c: a byte stream from a peer, framed into lines
 * (mail-line.h) and assembled with its literals into whole messages by
 * the ImapAssembler (RFC 9051 §4.3, RFC 7888 §3-4), as
 * imap_read_message () does; each message's first line is split as a
 * command and parsed as a response line (imap-proto.h), and its
 * arguments parsed both ways.
 * Input: one octet choosing the message limit, then the stream.
 * Invariants: the assembler's announcement agrees with
 * imap_proto_line_literal (); a message never outgrows max_size; the
 * argument round trip of imap-args-check.h.
 */
#include "imap-args-check.h"
#include "imap-proto.h"

static const gsize message_limits[] = { 65536, 64, 1024, 8 };

static void
parse_message (const ImapAssembler *assembler, const char *first_line)
{
  const char *message = (const char *) assembler->message->data;
  gsize length = assembler->message->len;
  g_autofree char *tag = NULL;
  g_autofree char *verb = NULL;
  const char *arguments = NULL;
  ImapResponse response;

  if (imap_proto_split_command (first_line, &tag, &verb, &arguments))
    {
      gsize offset = arguments - first_line;

      g_assert_cmpuint (offset, <=, length);
      fuzz_imap_check_args (message + offset, length - offset, FALSE);
    }
  if (imap_proto_parse_response (first_line, &response))
    {
      gsize offset = response.text - first_line;

      g_assert_cmpuint (offset, <=, length);
      fuzz_imap_check_args (message + offset, length - offset, TRUE);
      imap_response_clear (&response);
    }
}

/* Takes one line; FALSE when the stream has no whole line left. */
static gboolean
assemble_line (MailLineFramer *framer,
               ImapAssembler *assembler,
               char **inout_first_line)
{
  g_autofree char *line = NULL;
  gsize length = 0;
  MailLineFlags flags = 0;
  ImapAssembleStatus status = IMAP_ASSEMBLE_COMPLETE;
  g_autoptr (GError) error = NULL;
  guint64 size = 0;
  gboolean non_sync = FALSE;
  gboolean announces;

  switch (mail_line_framer_take (framer, &line, &length, &flags))
    {
    case MAIL_LINE_NEED_MORE:
      return FALSE;
    case MAIL_LINE_OVERLONG: /* the server replies BAD and starts again */
      imap_assembler_reset (assembler);
      g_clear_pointer (inout_first_line, g_free);
      return TRUE;
    case MAIL_LINE_COMPLETE:
      break;
    }
  announces = imap_proto_line_literal (line, length, &size, &non_sync);
  if (*inout_first_line == NULL)
    *inout_first_line = g_strdup (line);
  if (!imap_assembler_add_line (assembler, line, length, &status, &error))
    {
      g_assert_error (error, IMAP_PARSER_ERROR, IMAP_PARSER_ERROR_TOO_BIG);
      g_assert_cmpuint (assembler->literal, ==, announces ? size : 0);
      imap_assembler_reset (assembler);
      g_clear_pointer (inout_first_line, g_free);
      return TRUE;
    }
  g_assert_cmpuint (assembler->message->len, <=, assembler->max_size);
  g_assert_cmpint (status == IMAP_ASSEMBLE_LITERAL, ==, announces);
  if (status == IMAP_ASSEMBLE_LITERAL)
    {
      g_autoptr (GBytes) octets = NULL;

      g_assert_cmpuint (assembler->literal, ==, size);
      g_assert_cmpint (assembler->non_sync, ==, non_sync);
      octets = mail_line_framer_take_bytes (framer, assembler->literal);
      if (octets == NULL)
        return FALSE;
      imap_assembler_add_literal (assembler, g_bytes_get_data (octets, NULL),
                                  g_bytes_get_size (octets));
      g_assert_cmpuint (assembler->message->len, <=, assembler->max_size);
      return TRUE;
    }
  parse_message (assembler, *inout_first_line);
  imap_assembler_reset (assembler);
  g_clear_pointer (inout_first_line, g_free);
  return TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  MailLineFramer framer;
  ImapAssembler assembler;
  g_autofree char *first_line = NULL;
  gsize limit;

  fuzz_init ();
  /* an empty stream too: crashes/imap-assembler/empty-input was the
   * framer computing NULL + 0 before its first octet (fixed) */
  limit =
      message_limits[fuzz_byte (&data, &size) % G_N_ELEMENTS (message_limits)];
  mail_line_framer_init (&framer, MAIL_LINE_MAX_IMAP);
  imap_assembler_init (&assembler, limit);
  mail_line_framer_push (&framer, data, size);
  while (assemble_line (&framer, &assembler, &first_line))
    ;
  imap_assembler_clear (&assembler);
  mail_line_framer_clear (&framer);
  return 0;
}
