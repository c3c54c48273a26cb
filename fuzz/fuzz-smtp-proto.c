/* SPDX-License-Identifier: MIT
 * fuzz-smtp-proto.c: the SMTP grammar of smtp-proto.h on one line from
 * the peer: reply lines and enhanced codes (RFC 5321 §4.2, RFC 3463),
 * commands, MAIL/RCPT paths and parameters (§4.1.1.2-3, §4.1.2), EHLO
 * lines (§4.1.1.1) and the catalog lookups the tracer makes.
 * Invariants: a parsed reply written again by smtp_proto_format_reply ()
 * parses to the same code, text and enhanced code; a parsed path written
 * as "<mailbox>" with its parameters parses to the same mailbox. The DSN
 * parameters (RFC 3461 §4): xtext decodes what it encodes; a RCPT's
 * NOTIFY and ORCPT written as the relay writes them parse to the same.
 */
#include "fuzz.h"
#include "smtp-proto.h"

static void
check_reply_round_trip (guint code, const char *enhanced, const char *text)
{
  const char *lines[] = { text, text, NULL };
  g_autoptr (GString) wire = g_string_new (NULL);
  g_auto (GStrv) split = NULL;

  if (strpbrk (text, "\r\n") != NULL)
    return;
  smtp_proto_format_reply (wire, code, enhanced, lines);
  g_assert_true (g_str_has_suffix (wire->str, "\r\n"));
  g_string_truncate (wire, wire->len - 2);
  split = g_strsplit (wire->str, "\r\n", -1);
  g_assert_cmpuint (g_strv_length (split), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      guint again = 0;
      gboolean last = FALSE;
      const char *again_text = NULL;
      g_autofree char *again_enhanced = NULL;
      const char *rest = NULL;

      g_assert_true (
          smtp_proto_parse_reply_line (split[i], &again, &last, &again_text));
      g_assert_cmpuint (again, ==, code);
      g_assert_cmpint (last, ==, i == 1);
      if (enhanced == NULL)
        {
          g_assert_cmpstr (again_text, ==, text);
          continue;
        }
      g_assert_true (
          smtp_proto_split_enhanced (again_text, &again_enhanced, &rest));
      g_assert_cmpstr (again_enhanced, ==, enhanced);
      g_assert_cmpstr (rest, ==, text);
    }
}

static void
fuzz_reply (const char *line)
{
  guint code = 0;
  gboolean last = FALSE;
  const char *text = NULL;
  g_autofree char *enhanced = NULL;
  g_autofree char *described = NULL;
  const char *rest = NULL;

  if (!smtp_proto_parse_reply_line (line, &code, &last, &text))
    return;
  g_assert_cmpuint (code, >=, 200);
  g_assert_cmpuint (code, <=, 559);
  smtp_reply_is_positive (code);
  smtp_proto_reply_info (code);
  described = smtp_proto_describe_reply (code, NULL, text);
  check_reply_round_trip (code, NULL, text);
  if (smtp_proto_split_enhanced (text, &enhanced, &rest))
    {
      smtp_proto_enhanced_info (enhanced);
      g_clear_pointer (&described, g_free);
      described = smtp_proto_describe_reply (code, enhanced, rest);
      check_reply_round_trip (code, enhanced, rest);
    }
}

/* "<mailbox>" and its parameters, written back as a client would. */
static void
check_path_round_trip (const SmtpPath *path, SmtpPathKind kind)
{
  g_autoptr (GString) again =
      g_string_new (kind == SMTP_PATH_REVERSE ? "FROM:<" : "TO:<");
  g_autoptr (SmtpPath) reparsed = NULL;
  g_autoptr (GError) error = NULL;

  g_string_append_printf (again, "%s>", path->mailbox);
  for (guint i = 0; i < path->parameters->len; i++)
    {
      const SmtpParameter *parameter =
          &g_array_index (path->parameters, SmtpParameter, i);

      g_string_append_printf (again, " %s", parameter->keyword);
      if (parameter->value != NULL)
        g_string_append_printf (again, "=%s", parameter->value);
    }
  reparsed = smtp_proto_parse_path (again->str, kind, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (reparsed->mailbox, ==, path->mailbox);
  g_assert_cmpstr (reparsed->domain, ==, path->domain);
  g_assert_cmpuint (reparsed->parameters->len, ==, path->parameters->len);
}

/* RFC 3461 §4: what the queue and the relay write back must parse to
 * the same request (the next hop reads it with this grammar too). */
static void
fuzz_dsn (const SmtpPath *path, SmtpPathKind kind)
{
  g_autoptr (GError) error = NULL;

  if (kind == SMTP_PATH_REVERSE)
    {
      SmtpDsnRet ret = SMTP_DSN_RET_DEFAULT;
      g_autofree char *envid = NULL;

      if (smtp_proto_parse_dsn_mail (path, &ret, &envid, &error))
        {
          g_autofree char *encoded =
              envid != NULL ? smtp_proto_xtext_encode (envid) : NULL;
          g_autofree char *decoded =
              encoded != NULL ? smtp_proto_xtext_decode (encoded, NULL) : NULL;

          g_assert_cmpstr (decoded, ==, envid);
        }
      else
        g_assert_nonnull (error);
      return;
    }
  {
    g_autoptr (SmtpDsnRecipient) recipient =
        smtp_proto_parse_dsn_rcpt (path, &error);
    g_autoptr (SmtpDsnRecipient) copy = NULL;
    g_autoptr (SmtpDsnRecipient) again = NULL;
    g_autoptr (SmtpPath) written = NULL;
    g_autofree char *notify = NULL;
    g_autofree char *orcpt = NULL;
    g_autofree char *line = NULL;

    if (recipient == NULL)
      {
        g_assert_nonnull (error);
        return;
      }
    copy = smtp_dsn_recipient_copy (recipient);
    notify = smtp_dsn_notify_to_string (recipient->notify);
    g_assert_cmpint (smtp_dsn_notify_from_string (notify), ==,
                     recipient->notify);
    orcpt = smtp_dsn_recipient_format_orcpt (copy);
    line = g_strdup_printf ("TO:<a@b>%s%s%s", notify != NULL ? " NOTIFY=" : "",
                            notify != NULL ? notify : "", orcpt);
    written = smtp_proto_parse_path (line, SMTP_PATH_FORWARD, NULL);
    g_assert_nonnull (written);
    again = smtp_proto_parse_dsn_rcpt (written, NULL);
    g_assert_nonnull (again);
    g_assert_cmpint (again->notify, ==, recipient->notify);
    g_assert_cmpstr (again->orcpt, ==, recipient->orcpt);
    g_assert_true ((again->orcpt_type == NULL) ==
                   (recipient->orcpt_type == NULL));
    if (again->orcpt_type != NULL)
      g_assert_cmpint (
          g_ascii_strcasecmp (again->orcpt_type, recipient->orcpt_type), ==, 0);
  }
}

static void
fuzz_path (const char *arguments, SmtpPathKind kind)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SmtpPath) path = smtp_proto_parse_path (arguments, kind, &error);

  if (path == NULL)
    {
      g_assert_nonnull (error);
      return;
    }
  g_assert_no_error (error);
  g_assert_nonnull (path->mailbox);
  g_assert_cmpuint (strlen (path->mailbox), <=, SMTP_MAX_PATH);
  for (guint i = 0; i < path->parameters->len; i++)
    {
      const SmtpParameter *parameter =
          &g_array_index (path->parameters, SmtpParameter, i);

      g_assert_true (smtp_path_get_parameter (path, parameter->keyword, NULL));
      smtp_proto_extension_info (parameter->keyword);
    }
  check_path_round_trip (path, kind);
  fuzz_dsn (path, kind);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *line = NULL;
  g_autofree char *verb = NULL;
  g_autofree char *keyword = NULL;
  const char *arguments = NULL;
  const char *params = NULL;

  fuzz_init ();
  line = fuzz_strndup (data, size);
  fuzz_reply (line);
  if (smtp_proto_split_command (line, &verb, &arguments))
    {
      smtp_proto_command_info (verb);
      fuzz_path (arguments, SMTP_PATH_REVERSE);
      fuzz_path (arguments, SMTP_PATH_FORWARD);
    }
  fuzz_path (line, SMTP_PATH_REVERSE);
  fuzz_path (line, SMTP_PATH_FORWARD);
  if (smtp_proto_parse_ehlo_line (line, &keyword, &params))
    smtp_proto_extension_info (keyword);
  return 0;
}
