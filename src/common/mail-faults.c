/* SPDX-License-Identifier: MIT
 * mail-faults.c: the [faults] section (mail-faults.h): rules read from
 * mailwire.conf, and the per-connection counters that decide when a rule
 * fires. The servers call it from their dispatch and reply helpers.
 */
#include "mail-faults.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

G_DEFINE_QUARK (mail_faults_error, mail_faults_error)

/* A rule fires at a point (see mail-faults.h): a verb (NULL: any), and a
 * count (0: every time; with verb NULL, the Nth command). */
typedef struct
{
  char *verb;
  guint nth;
  gboolean after; /* drop: once the reply has been sent */
  char *code;     /* reply: "451" or "-ERR" */
  guint millis;   /* delay */
} MailFaultRule;

struct _MailFaults
{
  gboolean off;                        /* enabled = false */
  GPtrArray *replies, *delays, *drops; /* MailFaultRule */
  gboolean trickle;
  gboolean multiline;
  gboolean no_pipelining;
};

static void
mail_fault_rule_free (gpointer data)
{
  MailFaultRule *rule = data;

  g_free (rule->verb);
  g_free (rule->code);
  g_free (rule);
}

MailFaults *
mail_faults_new (void)
{
  MailFaults *faults = g_new0 (MailFaults, 1);

  faults->replies = g_ptr_array_new_with_free_func (mail_fault_rule_free);
  faults->delays = g_ptr_array_new_with_free_func (mail_fault_rule_free);
  faults->drops = g_ptr_array_new_with_free_func (mail_fault_rule_free);
  return faults;
}

void
mail_faults_free (MailFaults *faults)
{
  if (faults == NULL)
    return;
  g_clear_pointer (&faults->replies, g_ptr_array_unref);
  g_clear_pointer (&faults->delays, g_ptr_array_unref);
  g_clear_pointer (&faults->drops, g_ptr_array_unref);
  g_free (faults);
}

/* ---- reading the rules ------------------------------------------------ */

/* "RCPT", "RCPT#2", "#3", "." or "*" into @rule. */
static gboolean
mail_faults_parse_point (const char *text, MailFaultRule *rule)
{
  const char *hash = strchr (text, '#');
  g_autofree char *verb =
      g_strndup (text, hash ? (gsize) (hash - text) : strlen (text));
  guint64 nth = 0;

  if (hash != NULL &&
      !g_ascii_string_to_unsigned (hash + 1, 10, 1, G_MAXUINT, &nth, NULL))
    return FALSE;
  rule->nth = (guint) nth;
  if (verb[0] == '\0')
    return hash != NULL; /* "#N" */
  if (g_str_equal (verb, "*"))
    {
      rule->verb = g_strdup (verb);
      return hash == NULL;
    }
  if (!g_str_equal (verb, "."))
    for (const char *p = verb; *p != '\0'; p++)
      if (!g_ascii_isalpha (*p))
        return FALSE;
  rule->verb = g_ascii_strup (verb, -1);
  return TRUE;
}

static gboolean
mail_faults_parse_code (const char *text, MailFaultRule *rule)
{
  guint64 code = 0;

  if (g_str_equal (text, "-ERR"))
    {
      rule->code = g_strdup (text);
      return TRUE;
    }
  /* RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39 */
  if (strlen (text) != 3 ||
      !g_ascii_string_to_unsigned (text, 10, 200, 559, &code, NULL))
    return FALSE;
  rule->code = g_strdup (text);
  return TRUE;
}

/* One item of a list: "POINT CODE", "POINT MILLIS", "[after] POINT". */
static MailFaultRule *
mail_faults_parse_item (const char *key, char **words)
{
  g_autoptr (GPtrArray) kept = g_ptr_array_new ();
  MailFaultRule *rule = g_new0 (MailFaultRule, 1);
  gboolean ok = FALSE;
  guint64 millis = 0;

  for (guint i = 0; words[i] != NULL; i++)
    if (words[i][0] != '\0')
      g_ptr_array_add (kept, words[i]);
  if (g_str_equal (key, "drop") && kept->len == 2 &&
      g_str_equal (kept->pdata[0], "after"))
    {
      rule->after = TRUE;
      g_ptr_array_remove_index (kept, 0);
    }
  if (kept->len >= 1 && mail_faults_parse_point (kept->pdata[0], rule))
    {
      if (g_str_equal (key, "reply"))
        ok = kept->len == 2 && mail_faults_parse_code (kept->pdata[1], rule);
      else if (g_str_equal (key, "delay"))
        ok = kept->len == 2 && g_ascii_string_to_unsigned (
                                   kept->pdata[1], 10, 0, 60000, &millis, NULL);
      else
        ok = kept->len == 1 && g_strcmp0 (rule->verb, "*") != 0;
    }
  rule->millis = (guint) millis;
  if (!ok)
    g_clear_pointer (&rule, mail_fault_rule_free);
  return rule;
}

static gboolean
mail_faults_parse_list (GPtrArray *rules, const char *key, const char *value)
{
  g_auto (GStrv) items = g_strsplit_set (value, ",;", -1);

  for (guint i = 0; items[i] != NULL; i++)
    {
      g_auto (GStrv) words = g_strsplit_set (g_strstrip (items[i]), " \t", -1);
      MailFaultRule *rule = NULL;

      if (items[i][0] == '\0')
        continue;
      rule = mail_faults_parse_item (key, words);
      if (rule == NULL)
        return FALSE;
      g_ptr_array_add (rules, rule);
    }
  return TRUE;
}

static gboolean
mail_faults_parse_boolean (const char *value, gboolean *out_value)
{
  if (g_ascii_strcasecmp (value, "true") == 0 ||
      g_ascii_strcasecmp (value, "yes") == 0 || g_str_equal (value, "1"))
    *out_value = TRUE;
  else if (g_ascii_strcasecmp (value, "false") == 0 ||
           g_ascii_strcasecmp (value, "no") == 0 || g_str_equal (value, "0"))
    *out_value = FALSE;
  else
    return FALSE;
  return TRUE;
}

gboolean
mail_faults_set (MailFaults *faults,
                 const char *key,
                 const char *value,
                 GError **error)
{
  gboolean flag = FALSE;
  const char *expected = "true or false";
  gboolean ok = FALSE;

  g_return_val_if_fail (faults != NULL, FALSE);

  if (g_str_equal (key, "reply"))
    {
      expected = "POINT CODE, ... (RCPT#2 451, #5 421, RETR -ERR)";
      ok = mail_faults_parse_list (faults->replies, key, value);
    }
  else if (g_str_equal (key, "delay"))
    {
      expected = "POINT MILLISECONDS, ... (DATA 800, * 20)";
      ok = mail_faults_parse_list (faults->delays, key, value);
    }
  else if (g_str_equal (key, "drop"))
    {
      expected = "[after] POINT, ... (., after RETR#2, QUIT)";
      ok = mail_faults_parse_list (faults->drops, key, value);
    }
  else if (g_str_equal (key, "enabled") || g_str_equal (key, "trickle") ||
           g_str_equal (key, "multiline") || g_str_equal (key, "pipelining"))
    {
      ok = mail_faults_parse_boolean (value, &flag);
      if (g_str_equal (key, "enabled"))
        faults->off = !flag;
      else if (g_str_equal (key, "trickle"))
        faults->trickle = flag;
      else if (g_str_equal (key, "multiline"))
        faults->multiline = flag;
      else
        faults->no_pipelining = !flag;
    }
  else
    {
      g_set_error (error, MAIL_FAULTS_ERROR, MAIL_FAULTS_ERROR_KEY,
                   "unknown key '%s' in group [faults]", key);
      return FALSE;
    }
  if (!ok)
    g_set_error (error, MAIL_FAULTS_ERROR, MAIL_FAULTS_ERROR_VALUE,
                 "[faults] %s: expected %s, got '%s'", key, expected, value);
  return ok;
}

gboolean
mail_faults_enabled (const MailFaults *faults)
{
  if (faults == NULL || faults->off)
    return FALSE;
  return faults->replies->len > 0 || faults->delays->len > 0 ||
         faults->drops->len > 0 || faults->trickle || faults->multiline ||
         faults->no_pipelining;
}

static void
mail_faults_describe_rules (GString *out, const char *key, GPtrArray *rules)
{
  for (guint i = 0; i < rules->len; i++)
    {
      const MailFaultRule *rule = rules->pdata[i];
      g_autofree char *count =
          rule->nth ? g_strdup_printf ("#%u", rule->nth) : g_strdup ("");

      g_string_append_printf (out, " %s=%s%s%s", key,
                              rule->after ? "after:" : "",
                              rule->verb ? rule->verb : "", count);
      if (rule->code != NULL)
        g_string_append_printf (out, ":%s", rule->code);
      if (g_str_equal (key, "delay"))
        g_string_append_printf (out, ":%ums", rule->millis);
    }
}

char *
mail_faults_describe (const MailFaults *faults)
{
  GString *out = g_string_new ("FAULT INJECTION ON (lab grading, not for real "
                               "mail):");

  g_return_val_if_fail (faults != NULL, NULL);

  mail_faults_describe_rules (out, "reply", faults->replies);
  mail_faults_describe_rules (out, "delay", faults->delays);
  mail_faults_describe_rules (out, "drop", faults->drops);
  if (faults->trickle)
    g_string_append (out, " trickle");
  if (faults->multiline)
    g_string_append (out, " multiline");
  if (faults->no_pipelining)
    g_string_append (out, " no-pipelining");
  return g_string_free (out, FALSE);
}

gboolean
mail_faults_trickle (const MailFaults *faults)
{
  return mail_faults_enabled (faults) && faults->trickle;
}

gboolean
mail_faults_multiline (const MailFaults *faults)
{
  return mail_faults_enabled (faults) && faults->multiline;
}

gboolean
mail_faults_pipelining (const MailFaults *faults)
{
  return !mail_faults_enabled (faults) || !faults->no_pipelining;
}

/* ---- trickled output -------------------------------------------------- */

/* A filter that passes every write on one octet at a time. */
#define MAIL_TYPE_TRICKLE_OUTPUT (mail_trickle_output_get_type ())
G_DECLARE_FINAL_TYPE (MailTrickleOutput,
                      mail_trickle_output,
                      MAIL,
                      TRICKLE_OUTPUT,
                      GFilterOutputStream)

struct _MailTrickleOutput
{
  GFilterOutputStream parent;
};

G_DEFINE_TYPE (MailTrickleOutput,
               mail_trickle_output,
               G_TYPE_FILTER_OUTPUT_STREAM)

static gssize
mail_trickle_output_write (GOutputStream *stream,
                           const void *buffer,
                           gsize count,
                           GCancellable *cancellable,
                           GError **error)
{
  GOutputStream *base =
      g_filter_output_stream_get_base_stream (G_FILTER_OUTPUT_STREAM (stream));
  gssize written = 0;

  if (count == 0)
    return 0;
  g_usleep (MAIL_FAULTS_TRICKLE_USEC);
  written = g_output_stream_write (base, buffer, 1, cancellable, error);
  if (written > 0 && !g_output_stream_flush (base, cancellable, error))
    return -1;
  return written;
}

static void
mail_trickle_output_class_init (MailTrickleOutputClass *klass)
{
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = mail_trickle_output_write;
}

static void
mail_trickle_output_init (MailTrickleOutput *self)
{
}

/* ---- one connection --------------------------------------------------- */

struct _MailFaultSession
{
  const MailFaults *faults;
  GSocket *socket;
  guint commands;          /* commands so far, this one included */
  GHashTable *verb_counts; /* verb -> uses so far (GUINT_TO_POINTER) */
  char *verb;              /* the command being answered */
  guint verb_count;        /* its uses so far, this one included */
};

MailFaultSession *
mail_fault_session_new (const MailFaults *faults, GSocket *socket)
{
  MailFaultSession *session = NULL;
  g_autofree char *text = NULL;

  if (!mail_faults_enabled (faults))
    return NULL;
  session = g_new0 (MailFaultSession, 1);
  session->faults = faults;
  session->socket = socket ? g_object_ref (socket) : NULL;
  session->verb_counts =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  text = mail_faults_describe (faults);
  g_message ("%s", text);
  return session;
}

void
mail_fault_session_free (MailFaultSession *session)
{
  if (session == NULL)
    return;
  g_clear_object (&session->socket);
  g_clear_pointer (&session->verb_counts, g_hash_table_unref);
  g_clear_pointer (&session->verb, g_free);
  g_free (session);
}

GIOStream *
mail_fault_session_wrap (MailFaultSession *session, GIOStream *base)
{
  g_autoptr (GOutputStream) output = NULL;
  g_autoptr (GError) error = NULL;

  if (session == NULL || !session->faults->trickle)
    return g_object_ref (base);
  /* Nagle would gather the octets again; MailStream cannot set
   * TCP_NODELAY through the wrapper, so we do. */
  if (session->socket != NULL &&
      !g_socket_set_option (session->socket, IPPROTO_TCP, TCP_NODELAY, 1,
                            &error))
    g_debug ("TCP_NODELAY: %s", error->message);
  output = g_object_new (MAIL_TYPE_TRICKLE_OUTPUT, "base-stream",
                         g_io_stream_get_output_stream (base),
                         "close-base-stream", FALSE, NULL);
  return g_simple_io_stream_new (g_io_stream_get_input_stream (base), output);
}

void
mail_fault_session_command (MailFaultSession *session, const char *verb)
{
  guint count = 0;

  if (session == NULL)
    return;
  /* "." is the end of the text, not a command of its own */
  if (!g_str_equal (verb, "."))
    session->commands++;
  count = GPOINTER_TO_UINT (g_hash_table_lookup (session->verb_counts, verb));
  g_hash_table_replace (session->verb_counts, g_strdup (verb),
                        GUINT_TO_POINTER (count + 1));
  g_free (session->verb);
  session->verb = g_strdup (verb);
  session->verb_count = count + 1;
}

static gboolean
mail_fault_rule_matches (const MailFaultSession *session,
                         const MailFaultRule *rule)
{
  if (session->verb == NULL)
    return FALSE; /* the greeting */
  if (g_strcmp0 (rule->verb, "*") == 0)
    return TRUE;
  if (rule->verb == NULL)
    return !g_str_equal (session->verb, ".") && session->commands == rule->nth;
  return g_str_equal (rule->verb, session->verb) &&
         (rule->nth == 0 || rule->nth == session->verb_count);
}

const char *
mail_fault_session_reply (MailFaultSession *session)
{
  if (session == NULL)
    return NULL;
  for (guint i = 0; i < session->faults->replies->len; i++)
    {
      const MailFaultRule *rule = session->faults->replies->pdata[i];
      if (mail_fault_rule_matches (session, rule))
        {
          g_message ("fault: answering %s to %s (use %u)", rule->code,
                     session->verb, session->verb_count);
          return rule->code;
        }
    }
  return NULL;
}

gboolean
mail_fault_session_drop (MailFaultSession *session, gboolean after)
{
  if (session == NULL)
    return FALSE;
  for (guint i = 0; i < session->faults->drops->len; i++)
    {
      const MailFaultRule *rule = session->faults->drops->pdata[i];
      if (rule->after == after && mail_fault_rule_matches (session, rule))
        {
          g_message ("fault: dropping the connection %s %s (use %u)",
                     after ? "after" : "at", session->verb,
                     session->verb_count);
          return TRUE;
        }
    }
  return FALSE;
}

gboolean
mail_fault_session_delay (MailFaultSession *session, MailStream *stream)
{
  guint millis = 0;

  if (session == NULL)
    return FALSE;
  for (guint i = 0; i < session->faults->delays->len; i++)
    {
      const MailFaultRule *rule = session->faults->delays->pdata[i];
      if (mail_fault_rule_matches (session, rule))
        millis = MAX (millis, rule->millis);
    }
  if (millis == 0)
    return FALSE;
  /* what was said before goes out on time; only this reply is late */
  mail_stream_flush (stream, NULL, NULL);
  g_usleep ((gulong) millis * 1000);
  return TRUE;
}

gboolean
mail_fault_session_input_waiting (MailFaultSession *session, MailStream *stream)
{
  if (session == NULL)
    return FALSE;
  if (mail_stream_get_pending (stream) > 0)
    return TRUE;
  return session->socket != NULL &&
         (g_socket_condition_check (session->socket, G_IO_IN) & G_IO_IN) != 0;
}

void
mail_fault_session_hang_up (MailFaultSession *session, MailStream *stream)
{
  g_autoptr (GError) error = NULL;

  if (session == NULL)
    return;
  mail_stream_flush (stream, NULL, NULL);
  if (session->socket != NULL &&
      !g_socket_shutdown (session->socket, TRUE, TRUE, &error))
    g_debug ("shutdown: %s", error->message);
}
