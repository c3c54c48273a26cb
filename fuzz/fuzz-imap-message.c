/* SPDX-License-Identifier: MIT
 * fuzz-imap-message.c: the IMAP message layer (src/servers/imap-message.h,
 * GMime 3 underneath) on arbitrary message octets, as anyone can mail
 * them: ENVELOPE, BODY and BODYSTRUCTURE (RFC 9051 §7.5.2), BODY[section]
 * for a set of sections (§6.4.5), BINARY and BINARY.SIZE (RFC 3516), the
 * SEARCH views (§6.4.4: header text, addresses, body text, sent date).
 * Invariants: ENVELOPE is one list of 10 and BODYSTRUCTURE one list, both
 * readable by imap_parse_response_args () (what mw-imap reads);
 * BINARY.SIZE is the size of BINARY.
 */
#include "fuzz.h"
#include "imap-message.h"

#define MAX_MESSAGE (64 * 1024)

static const char *const sections[] = {
  "]",
  "HEADER]",
  "TEXT]",
  "1]",
  "1.MIME]",
  "2]",
  "1.2]",
  "2.1.HEADER]",
  "1.TEXT]",
  "HEADER.FIELDS (From Subject)]",
  "HEADER.FIELDS.NOT (To)]",
  "2.HEADER.FIELDS (Content-Type)]",
};

static GPtrArray *
parse_one_list (const GString *text)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *args = imap_parse_response_args (text->str, text->len, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (args->len, ==, 1);
  g_assert_cmpint (((ImapArg *) g_ptr_array_index (args, 0))->type, ==,
                   IMAP_ARG_LIST);
  return args;
}

static void
check_structure (ImapMessage *message)
{
  g_autoptr (GString) envelope = g_string_new (NULL);
  g_autoptr (GString) body = g_string_new (NULL);
  g_autoptr (GString) structure = g_string_new (NULL);
  g_autoptr (GPtrArray) args = NULL;

  imap_message_append_envelope (message, envelope);
  args = parse_one_list (envelope);
  g_assert_cmpuint (((ImapArg *) g_ptr_array_index (args, 0))->list->len, ==,
                    10);
  g_clear_pointer (&args, g_ptr_array_unref);
  imap_message_append_bodystructure (message, body, FALSE);
  args = parse_one_list (body);
  g_clear_pointer (&args, g_ptr_array_unref);
  imap_message_append_bodystructure (message, structure, TRUE);
  args = parse_one_list (structure);
}

static void
check_section (ImapMessage *message, const char *text)
{
  ImapSection section = { 0 };
  g_autoptr (GBytes) octets = NULL;
  g_autoptr (GBytes) binary = NULL;
  g_autoptr (GError) error = NULL;
  guint64 binary_size = 0;

  g_assert_true (imap_section_parse (text, &section, &error));
  octets = imap_message_get_section (message, &section);
  g_assert_nonnull (octets);
  if (section.kind == IMAP_SECTION_ALL)
    {
      binary = imap_message_get_binary (message, &section, &error);
      if (binary != NULL)
        {
          g_assert_true (imap_message_get_binary_size (message, &section,
                                                       &binary_size, &error));
          g_assert_no_error (error);
          g_assert_cmpuint (binary_size, ==, g_bytes_get_size (binary));
        }
      else
        g_assert_error (error, IMAP_MESSAGE_ERROR,
                        IMAP_MESSAGE_ERROR_UNKNOWN_CTE);
    }
  imap_section_clear (&section);
}

static void
check_search (ImapMessage *message)
{
  static const char *const fields[] = { "From", "To", "Cc", "Bcc", "Subject" };
  gint64 day = 0;

  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      g_autofree char *text = imap_message_get_header_text (message, fields[i]);
      g_autofree char *addresses =
          imap_message_get_address_text (message, fields[i]);

      if (text != NULL)
        g_assert_true (g_utf8_validate (text, -1, NULL));
      /* no UTF-8 check: raw 8-bit names come through as they are */
      if (addresses != NULL)
        g_assert_nonnull (strchr (addresses, '\0'));
    }
  imap_message_body_contains (message, "hello", FALSE);
  imap_message_body_contains (message, "fuzz", TRUE);
  imap_message_get_sent_day (message, &day);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) octets = NULL;
  g_autoptr (ImapMessage) message = NULL;

  fuzz_init ();
  if (size > MAX_MESSAGE)
    return 0;
  octets = g_bytes_new (data, size);
  message = imap_message_new (octets);
  g_assert_nonnull (imap_message_get_data (message));
  check_structure (message);
  for (guint i = 0; i < G_N_ELEMENTS (sections); i++)
    check_section (message, sections[i]);
  check_search (message);
  return 0;
}
