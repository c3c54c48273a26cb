/* SPDX-License-Identifier: MIT
 * fuzz-imap-proto.c: the line-level IMAP grammar of imap-proto.h on one
 * line from the peer: tags and commands (RFC 9051 §2.2.1, §9 tag),
 * responses (§7: tagged, untagged, "+" continuations; §7.1 status
 * responses and response codes), literal announcements (§4.3, RFC 7888
 * §3) and the catalog lookups the tracer makes.
 * Invariants: what the parsers hand back points into the line or is a
 * valid tag/verb; a split command's tag passes imap_proto_tag_is_valid ().
 */
#include "fuzz.h"
#include "imap-proto.h"

static void
fuzz_response (const char *line, gsize length)
{
  ImapResponse response;

  if (!imap_proto_parse_response (line, &response))
    return;
  g_assert_true (response.text >= line && response.text <= line + length);
  g_assert_cmpint (response.kind == IMAP_RESPONSE_TAGGED, ==,
                   response.tag != NULL);
  if (response.tag != NULL)
    g_assert_true (
        imap_proto_tag_is_valid (response.tag, strlen (response.tag)));
  if (response.status != IMAP_STATUS_NONE)
    g_assert_nonnull (imap_proto_status_name (response.status));
  if (response.code != NULL)
    imap_proto_response_code_info (response.code);
  if (response.keyword != NULL)
    {
      imap_proto_data_info (response.keyword);
      imap_proto_fetch_item_info (response.keyword);
    }
  imap_response_clear (&response);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *line = NULL;
  g_autofree char *tag = NULL;
  g_autofree char *verb = NULL;
  const char *arguments = NULL;
  guint64 literal = 0;
  gboolean non_sync = FALSE;
  gsize length;

  fuzz_init ();
  line = fuzz_strndup (data, size);
  length = strlen (line);
  imap_proto_tag_is_valid ((const char *) data, size);
  if (imap_proto_line_literal ((const char *) data, size, &literal, &non_sync))
    g_assert_cmpuint (size, >=, 3);
  if (imap_proto_split_command (line, &tag, &verb, &arguments))
    {
      g_assert_true (imap_proto_tag_is_valid (tag, strlen (tag)));
      g_assert_true (arguments >= line && arguments <= line + length);
      imap_proto_command_info (verb);
    }
  fuzz_response (line, length);
  imap_proto_fetch_item_info (line);
  return 0;
}
