/* SPDX-License-Identifier: MIT
 * fuzz-pop3-proto.c: the POP3 grammar of pop3-proto.h on one line from
 * the peer: status lines with response codes (RFC 1939 §3, RFC 2449 §8,
 * RFC 5034 §4 continuations), commands (§3), message numbers and
 * LIST/UIDL listings (§5, §7).
 * Invariants: a parsed status line written again parses to the same
 * status, code and text; a parsed number printed parses to itself.
 */
#include "fuzz.h"
#include "pop3-proto.h"

static void
check_response_round_trip (const Pop3Response *response)
{
  g_autoptr (GString) again = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  Pop3Response reparsed;

  if (response->status == POP3_STATUS_CONTINUATION)
    g_string_append_printf (again, "+ %s", response->text);
  else
    {
      g_string_append (again,
                       response->status == POP3_STATUS_OK ? POP3_OK : POP3_ERR);
      if (response->code != NULL)
        g_string_append_printf (again, " [%s]", response->code);
      else if (response->text[0] == '[' || response->text[0] == ' ')
        return; /* would read as a code, or lose its space */
      g_string_append_printf (again, " %s", response->text);
    }
  g_assert_true (pop3_proto_parse_response (again->str, &reparsed, &error));
  g_assert_no_error (error);
  g_assert_cmpint (reparsed.status, ==, response->status);
  g_assert_cmpstr (reparsed.code, ==, response->code);
  g_assert_cmpstr (reparsed.text, ==, response->text);
  pop3_response_clear (&reparsed);
}

static void
check_number (const char *text)
{
  g_autoptr (GError) error = NULL;
  guint32 number = 0;
  guint32 again = 0;
  g_autofree char *printed = NULL;

  if (!pop3_proto_parse_number (text, &number, &error))
    {
      g_assert_nonnull (error);
      return;
    }
  g_assert_cmpuint (number, >=, 1);
  printed = g_strdup_printf ("%u", number);
  g_assert_true (pop3_proto_parse_number (printed, &again, NULL));
  g_assert_cmpuint (again, ==, number);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *line = NULL;
  g_autofree char *verb = NULL;
  g_autofree char *argument = NULL;
  g_autofree char *rest = NULL;
  g_autoptr (GError) error = NULL;
  Pop3Response response;
  guint32 number = 0;

  fuzz_init ();
  line = fuzz_strndup (data, size);
  if (pop3_proto_parse_response (line, &response, &error))
    {
      g_assert_nonnull (response.text);
      pop3_response_code_from_name (response.code);
      check_response_round_trip (&response);
      pop3_response_clear (&response);
    }
  g_clear_error (&error);
  if (pop3_proto_split_command (line, &verb, &argument, &error))
    {
      g_assert_cmpuint (strlen (verb), <=, POP3_MAX_KEYWORD);
      pop3_proto_is_multiline (verb, argument != NULL, TRUE);
      if (argument != NULL)
        check_number (argument);
    }
  g_clear_error (&error);
  check_number (line);
  if (pop3_proto_parse_listing (line, &number, &rest, &error))
    g_assert_cmpuint (number, >=, 1);
  return 0;
}
