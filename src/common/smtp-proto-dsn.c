/* SPDX-License-Identifier: MIT
 * smtp-proto-dsn.c: the parameters of MAIL and RCPT: what each means (the
 * catalog the tracer and --trace explain them with), and the grammar of
 * the DSN ones (RFC 3461 §4: NOTIFY §4.1, ORCPT §4.2, RET §4.3, ENVID
 * §4.4; xtext §4; RFC 6533 §3 utf-8-addr-xtext for ORCPT=utf-8), for
 * mw-smtpd, the client library and the tracer. Pure: strings in, values
 * out.
 */
#include <string.h>

#include "smtp-proto.h"

const MailCatalogEntry smtp_proto_parameters[] = {
  { "SIZE", "MAIL: the message's size in octets, refused early if too big",
    "RFC 1870 §6" },
  { "BODY", "MAIL: 7BIT or 8BITMIME, what the text holds", "RFC 6152 §2" },
  { "SMTPUTF8", "MAIL: UTF-8 addresses or headers; every hop must offer it",
    "RFC 6531 §3.4" },
  { "AUTH", "MAIL: who submitted the message, for the next hop",
    "RFC 4954 §5" },
  { "RET", "MAIL: a bounce returns the FULL message or only its HDRS",
    "RFC 3461 §4.3" },
  { "ENVID",
    "MAIL: the sender's id for this message, quoted back in every "
    "delivery status notification",
    "RFC 3461 §4.4" },
  { "NOTIFY",
    "RCPT: when to send a delivery status notification: NEVER, or "
    "on SUCCESS, FAILURE, DELAY",
    "RFC 3461 §4.1" },
  { "ORCPT",
    "RCPT: the address the sender first gave, quoted back in "
    "notifications (type;xtext)",
    "RFC 3461 §4.2" },
  { NULL },
};

const MailCatalogEntry *
smtp_proto_parameter_info (const char *keyword)
{
  return mail_catalog_find (smtp_proto_parameters, keyword);
}

static gboolean
smtp_dsn_fail (GError **error, const char *message)
{
  g_set_error_literal (error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_PARAMETER,
                       message);
  return FALSE;
}

void
smtp_dsn_recipient_free (SmtpDsnRecipient *recipient)
{
  if (recipient == NULL)
    return;
  g_free (recipient->orcpt_type);
  g_free (recipient->orcpt);
  g_free (recipient);
}

SmtpDsnRecipient *
smtp_dsn_recipient_copy (const SmtpDsnRecipient *recipient)
{
  SmtpDsnRecipient *copy = g_new0 (SmtpDsnRecipient, 1);

  if (recipient == NULL)
    return copy;
  copy->notify = recipient->notify;
  copy->orcpt_type = g_strdup (recipient->orcpt_type);
  copy->orcpt = g_strdup (recipient->orcpt);
  return copy;
}

void
smtp_dsn_envelope_clear (SmtpDsnEnvelope *envelope)
{
  g_clear_pointer (&envelope->envid, g_free);
  g_clear_pointer (&envelope->recipients, g_ptr_array_unref);
  envelope->ret = SMTP_DSN_RET_DEFAULT;
}

const SmtpDsnRecipient *
smtp_dsn_envelope_recipient (const SmtpDsnEnvelope *envelope, guint index)
{
  if (envelope == NULL || envelope->recipients == NULL ||
      index >= envelope->recipients->len)
    return NULL;
  return g_ptr_array_index (envelope->recipients, index);
}

gboolean
smtp_dsn_wants (const SmtpDsnRecipient *recipient, SmtpDsnNotify kind)
{
  SmtpDsnNotify notify =
      recipient != NULL ? recipient->notify : SMTP_DSN_NOTIFY_DEFAULT;

  /* RFC 3461 §4.1: without NOTIFY, FAILURE (and DELAY if we like). */
  if (notify == SMTP_DSN_NOTIFY_DEFAULT)
    notify = SMTP_DSN_NOTIFY_FAILURE | SMTP_DSN_NOTIFY_DELAY;
  return (notify & kind) != 0 && (notify & SMTP_DSN_NOTIFY_NEVER) == 0;
}

/* ---- xtext (RFC 3461 §4) ----------------------------------------------- */

static int
smtp_dsn_upper_hex (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

char *
smtp_proto_xtext_decode (const char *xtext, GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);

  for (const char *p = xtext; *p != '\0'; p++)
    {
      int high;
      int low;

      if (*p < 33 || *p > 126 || *p == '=')
        {
          smtp_dsn_fail (error, "xtext holds a character it must encode as "
                                "+HH (RFC 3461 §4)");
          return NULL;
        }
      if (*p != '+')
        {
          g_string_append_c (out, *p);
          continue;
        }
      high = smtp_dsn_upper_hex (p[1]);
      low = high < 0 ? -1 : smtp_dsn_upper_hex (p[2]);
      if (low < 0)
        {
          smtp_dsn_fail (error, "xtext \"+\" must be followed by two "
                                "upper-case hex digits (RFC 3461 §4)");
          return NULL;
        }
      if (high == 0 && low == 0)
        {
          /* no address or envelope id holds a NUL, and a C string ends
           * at one (found by fuzz-smtp-proto: "+00" cut the ORCPT short) */
          smtp_dsn_fail (error, "xtext \"+00\" (a NUL) is not allowed");
          return NULL;
        }
      g_string_append_c (out, (char) (high * 16 + low));
      p += 2;
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
smtp_proto_xtext_encode (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    if (*p < 33 || *p > 126 || *p == '+' || *p == '=')
      g_string_append_printf (out, "+%02X", *p);
    else
      g_string_append_c (out, (char) *p);
  return g_string_free (out, FALSE);
}

/* RFC 6533 §3: utf-8-addr-xtext / utf-8-addr-unitext. QCHAR as is (and
 * UTF-8 for unitext), "\x{HEXPOINT}" for any code point; "+", "=" and a
 * lone "\" are not allowed. */
static char *
smtp_dsn_utf8_addr_decode (const char *text, GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);
  const char *p = text;

  while (*p != '\0')
    {
      char *end = NULL;
      guint64 point;

      if (g_str_has_prefix (p, "\\x{"))
        {
          /* HEXPOINT is hex digits only: strtoull would take a sign or
           * blanks before them */
          point =
              g_ascii_isxdigit (p[3]) ? g_ascii_strtoull (p + 3, &end, 16) : 0;
          if (end == NULL || end == p + 3 || end - (p + 3) > 6 || *end != '}' ||
              !g_unichar_validate ((gunichar) point) || point == 0)
            break;
          g_string_append_unichar (out, (gunichar) point);
          p = end + 1;
        }
      else if ((guchar) *p >= 0x80 ||
               (*p >= 33 && *p <= 126 && *p != '+' && *p != '=' && *p != '\\'))
        g_string_append_c (out, *p++);
      else
        break;
    }
  if (*p != '\0' || !g_utf8_validate (out->str, out->len, NULL))
    {
      smtp_dsn_fail (error, "ORCPT=utf-8; needs utf-8-addr-xtext: \\x{HEX} "
                            "for what is not a plain character (RFC 6533 "
                            "§3)");
      return NULL;
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static char *
smtp_dsn_utf8_addr_encode (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c >= 33 && c <= 126 && c != '+' && c != '=' && c != '\\')
        g_string_append_c (out, (char) c);
      else
        g_string_append_printf (out, "\\x{%X}", c);
    }
  return g_string_free (out, FALSE);
}

/* ---- MAIL: RET and ENVID ----------------------------------------------- */

/* RFC 3461 §4: each DSN parameter at most once per command; 501. */
static gboolean
smtp_dsn_check_once (const SmtpPath *path, const char *keyword, GError **error)
{
  guint seen = 0;

  for (guint i = 0; i < path->parameters->len; i++)
    if (g_str_equal (g_array_index (path->parameters, SmtpParameter, i).keyword,
                     keyword))
      seen++;
  if (seen <= 1)
    return TRUE;
  g_set_error (error, SMTP_PROTO_ERROR, SMTP_PROTO_ERROR_PARAMETER,
               "%s given twice (RFC 3461 §4: at most once)", keyword);
  return FALSE;
}

static gboolean
smtp_dsn_parse_ret (const char *value, SmtpDsnRet *out_ret, GError **error)
{
  /* RFC 3461 §4.3: ret-value = "FULL" / "HDRS" */
  if (value != NULL && g_ascii_strcasecmp (value, "FULL") == 0)
    *out_ret = SMTP_DSN_RET_FULL;
  else if (value != NULL && g_ascii_strcasecmp (value, "HDRS") == 0)
    *out_ret = SMTP_DSN_RET_HDRS;
  else
    return smtp_dsn_fail (error, "RET=FULL or RET=HDRS (RFC 3461 §4.3)");
  return TRUE;
}

/* RFC 3461 §4.4: envid-value = xtext, printable ASCII, at most 100. */
static char *
smtp_dsn_parse_envid (const char *value, GError **error)
{
  g_autofree char *envid = NULL;

  if (value == NULL || value[0] == '\0')
    {
      smtp_dsn_fail (error, "ENVID=<xtext> needs a value (RFC 3461 §4.4)");
      return NULL;
    }
  envid = smtp_proto_xtext_decode (value, error);
  if (envid == NULL)
    return NULL;
  for (const char *p = envid; *p != '\0'; p++)
    if (*p < 32 || *p > 126)
      {
        smtp_dsn_fail (error, "ENVID must be printable ASCII once decoded "
                              "(RFC 3461 §4.4)");
        return NULL;
      }
  if (strlen (envid) > SMTP_DSN_MAX_ENVID)
    {
      smtp_dsn_fail (error, "ENVID longer than 100 characters "
                            "(RFC 3461 §4.4)");
      return NULL;
    }
  return g_steal_pointer (&envid);
}

gboolean
smtp_proto_parse_dsn_mail (const SmtpPath *path,
                           SmtpDsnRet *out_ret,
                           char **out_envid,
                           GError **error)
{
  const char *value = NULL;
  g_autofree char *envid = NULL;
  SmtpDsnRet ret = SMTP_DSN_RET_DEFAULT;

  if (!smtp_dsn_check_once (path, "RET", error) ||
      !smtp_dsn_check_once (path, "ENVID", error))
    return FALSE;
  if (smtp_path_get_parameter (path, "RET", &value) &&
      !smtp_dsn_parse_ret (value, &ret, error))
    return FALSE;
  if (smtp_path_get_parameter (path, "ENVID", &value))
    {
      envid = smtp_dsn_parse_envid (value, error);
      if (envid == NULL)
        return FALSE;
    }
  *out_ret = ret;
  *out_envid = g_steal_pointer (&envid);
  return TRUE;
}

/* ---- RCPT: NOTIFY and ORCPT -------------------------------------------- */

static const struct
{
  const char *name;
  SmtpDsnNotify bit;
} smtp_dsn_notify_names[] = {
  { "NEVER", SMTP_DSN_NOTIFY_NEVER },
  { "SUCCESS", SMTP_DSN_NOTIFY_SUCCESS },
  { "FAILURE", SMTP_DSN_NOTIFY_FAILURE },
  { "DELAY", SMTP_DSN_NOTIFY_DELAY },
};

static SmtpDsnNotify
smtp_dsn_notify_bit (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (smtp_dsn_notify_names); i++)
    if (g_ascii_strcasecmp (name, smtp_dsn_notify_names[i].name) == 0)
      return smtp_dsn_notify_names[i].bit;
  return SMTP_DSN_NOTIFY_DEFAULT;
}

/* RFC 3461 §4.1: notify-esmtp-value = "NEVER" / 1#notify-list-element;
 * NEVER alone, each element once. */
static gboolean
smtp_dsn_parse_notify (const char *value,
                       SmtpDsnNotify *out_notify,
                       GError **error)
{
  g_auto (GStrv) names = NULL;
  SmtpDsnNotify notify = SMTP_DSN_NOTIFY_DEFAULT;

  if (value == NULL || value[0] == '\0')
    return smtp_dsn_fail (error, "NOTIFY=NEVER or a list of SUCCESS, "
                                 "FAILURE, DELAY (RFC 3461 §4.1)");
  names = g_strsplit (value, ",", -1);
  for (guint i = 0; names[i] != NULL; i++)
    {
      SmtpDsnNotify bit = smtp_dsn_notify_bit (names[i]);

      if (bit == SMTP_DSN_NOTIFY_DEFAULT || (notify & bit) != 0)
        return smtp_dsn_fail (error, "NOTIFY=NEVER or a list of SUCCESS, "
                                     "FAILURE, DELAY, each once "
                                     "(RFC 3461 §4.1)");
      notify |= bit;
    }
  if ((notify & SMTP_DSN_NOTIFY_NEVER) && notify != SMTP_DSN_NOTIFY_NEVER)
    return smtp_dsn_fail (error, "NOTIFY=NEVER stands alone (RFC 3461 §4.1)");
  *out_notify = notify;
  return TRUE;
}

/* RFC 3461 §4.2: orcpt-parameter = "ORCPT=" addr-type ";" xtext, with
 * addr-type an atom (RFC 5322 atext) and at most 500 characters. */
static gboolean
smtp_dsn_parse_orcpt (const char *value, SmtpDsnRecipient *out, GError **error)
{
  const char *semicolon = value != NULL ? strchr (value, ';') : NULL;
  g_autofree char *type = NULL;

  if (semicolon == NULL || semicolon == value || semicolon[1] == '\0')
    return smtp_dsn_fail (error, "ORCPT=addr-type;xtext, e.g. "
                                 "ORCPT=rfc822;a@b.example (RFC 3461 §4.2)");
  if (strlen (value) > SMTP_DSN_MAX_ORCPT)
    return smtp_dsn_fail (error, "ORCPT longer than 500 characters "
                                 "(RFC 3461 §4.2)");
  type = g_strndup (value, semicolon - value);
  for (const char *p = type; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("!#$%&'*+-/=?^_`{|}~", *p) == NULL)
      return smtp_dsn_fail (error, "ORCPT address type must be an atom "
                                   "(RFC 3461 §4.2)");
  if (g_ascii_strcasecmp (type, "utf-8") == 0)
    out->orcpt = smtp_dsn_utf8_addr_decode (semicolon + 1, error);
  else
    out->orcpt = smtp_proto_xtext_decode (semicolon + 1, error);
  if (out->orcpt == NULL)
    return FALSE;
  out->orcpt_type = g_steal_pointer (&type);
  return TRUE;
}

SmtpDsnRecipient *
smtp_proto_parse_dsn_rcpt (const SmtpPath *path, GError **error)
{
  g_autoptr (SmtpDsnRecipient) recipient = g_new0 (SmtpDsnRecipient, 1);
  const char *value = NULL;

  if (!smtp_dsn_check_once (path, "NOTIFY", error) ||
      !smtp_dsn_check_once (path, "ORCPT", error))
    return NULL;
  if (smtp_path_get_parameter (path, "NOTIFY", &value) &&
      !smtp_dsn_parse_notify (value, &recipient->notify, error))
    return NULL;
  if (smtp_path_get_parameter (path, "ORCPT", &value) &&
      !smtp_dsn_parse_orcpt (value, recipient, error))
    return NULL;
  return g_steal_pointer (&recipient);
}

char *
smtp_dsn_notify_to_string (SmtpDsnNotify notify)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new ();

  for (gsize i = 0; i < G_N_ELEMENTS (smtp_dsn_notify_names); i++)
    if (notify & smtp_dsn_notify_names[i].bit)
      g_ptr_array_add (names, (gpointer) smtp_dsn_notify_names[i].name);
  if (names->len == 0)
    return NULL;
  g_ptr_array_add (names, NULL);
  return g_strjoinv (",", (char **) names->pdata);
}

SmtpDsnNotify
smtp_dsn_notify_from_string (const char *text)
{
  SmtpDsnNotify notify = SMTP_DSN_NOTIFY_DEFAULT;

  if (text == NULL || !smtp_dsn_parse_notify (text, &notify, NULL))
    return SMTP_DSN_NOTIFY_DEFAULT;
  return notify;
}

char *
smtp_dsn_recipient_format_orcpt (const SmtpDsnRecipient *recipient)
{
  g_autofree char *encoded = NULL;

  if (recipient == NULL || recipient->orcpt == NULL)
    return g_strdup ("");
  encoded = g_ascii_strcasecmp (recipient->orcpt_type, "utf-8") == 0
                ? smtp_dsn_utf8_addr_encode (recipient->orcpt)
                : smtp_proto_xtext_encode (recipient->orcpt);
  return g_strdup_printf (" ORCPT=%s;%s", recipient->orcpt_type, encoded);
}
