/* SPDX-License-Identifier: MIT
 * decode-imap-message.c: whole IMAP commands and responses as the tracer
 * reads them, with the grammar the server and client use (imap-parser.h):
 * lines and literals assembled into one message (RFC 9051 §4.3, RFC 7888
 * §3, RFC 3516 §4.2), its arguments parsed (§4, §9), then read: mailbox
 * names in modified UTF-7 (RFC 3501 §5.1.3) or UTF-8 (RFC 6855 §3),
 * sequence sets (§9), FETCH sections (§6.4.5) and data items (§7.5.2),
 * the UIDPLUS response codes (RFC 4315 §3), CONDSTORE and QRESYNC (RFC
 * 7162): select parameters, FETCH and STORE modifiers, MODSEQ, VANISHED.
 */
#include <string.h>

#include "decode-imap.h"
#include "trace-session.h"

/* ---- assembling -------------------------------------------------------- */

static void
literal_clear (gpointer data)
{
  ImapTraceLiteral *literal = data;

  g_free (literal->subject);
}

void
imap_trace_message_init (ImapTraceMessage *message)
{
  memset (message, 0, sizeof *message);
  imap_assembler_init (&message->assembler, IMAP_TRACE_MAX_MESSAGE);
  message->literals = g_array_new (FALSE, TRUE, sizeof (ImapTraceLiteral));
  g_array_set_clear_func (message->literals, literal_clear);
  message->octets = g_byte_array_new ();
}

void
imap_trace_message_clear (ImapTraceMessage *message)
{
  imap_assembler_clear (&message->assembler);
  g_clear_pointer (&message->literals, g_array_unref);
  g_clear_pointer (&message->octets, g_byte_array_unref);
}

/* @line with its literal announcement "{12345}" made "{0}" ("~{0+}" keeps
 * the "~" and "+"), so a long literal takes no room (transfer full). */
static GString *
literal_stand_in (const char *line, gsize length)
{
  GString *out = g_string_new_len (line, length);
  gsize open = length;

  while (open > 0 && line[open - 1] != '{')
    open--;
  g_string_truncate (out, open);
  g_string_append (out, line[length - 2] == '+' ? "0+}" : "0}");
  return out;
}

static gboolean
message_take_line (ImapTraceMessage *message, const char *line, gsize length)
{
  ImapAssembleStatus status = IMAP_ASSEMBLE_COMPLETE;
  g_autoptr (GString) stand_in = NULL;
  ImapTraceLiteral literal = { 0 };
  gboolean non_sync = FALSE;
  gboolean announces =
      imap_proto_line_literal (line, length, &literal.size, &non_sync);

  if (message->broken)
    return !announces;
  if (announces && literal.size > IMAP_TRACE_KEEP_LITERAL)
    stand_in = literal_stand_in (line, length);
  if (!imap_assembler_add_line (
          &message->assembler, stand_in != NULL ? stand_in->str : line,
          stand_in != NULL ? stand_in->len : length, &status, NULL))
    {
      message->broken = TRUE; /* over IMAP_TRACE_MAX_MESSAGE */
      return !announces;
    }
  g_byte_array_set_size (message->octets, 0);
  message->keep = announces && message->assembler.literal > 0;
  if (status == IMAP_ASSEMBLE_LITERAL)
    g_array_append_val (message->literals, literal);
  if (status == IMAP_ASSEMBLE_LITERAL && !message->keep)
    imap_assembler_add_literal (&message->assembler, "", 0);
  return status == IMAP_ASSEMBLE_COMPLETE;
}

gboolean
imap_trace_message_begin (ImapTraceMessage *message,
                          const char *line,
                          gsize length,
                          gsize args_offset)
{
  guint64 size = 0;
  gboolean non_sync = FALSE;

  imap_assembler_reset (&message->assembler);
  g_array_set_size (message->literals, 0);
  message->args_offset = args_offset;
  message->broken = FALSE;
  message->linted = FALSE;
  /* a response nobody parses (a status, a tagged reply) that announces
   * no literal is whole as it is: nothing to assemble */
  if (args_offset == G_MAXSIZE &&
      !imap_proto_line_literal (line, length, &size, &non_sync))
    {
      message->keep = FALSE; /* as message_take_line () would say */
      return TRUE;
    }
  return message_take_line (message, line, length);
}

gboolean
imap_trace_message_add_line (ImapTraceMessage *message,
                             const char *line,
                             gsize length)
{
  return message_take_line (message, line, length);
}

void
imap_trace_message_literal_data (ImapTraceMessage *message,
                                 const guint8 *data,
                                 gsize length)
{
  if (!message->keep || message->broken)
    return;
  if (length > message->assembler.literal - message->octets->len)
    message->broken = TRUE;
  else
    g_byte_array_append (message->octets, data, length);
}

void
imap_trace_message_literal_end (ImapTraceMessage *message,
                                TraceMessage *summary)
{
  ImapTraceLiteral *literal;

  if (message->broken || message->literals->len == 0)
    return;
  literal = &g_array_index (message->literals, ImapTraceLiteral,
                            message->literals->len - 1);
  g_free (literal->subject);
  literal->subject = g_strdup (trace_message_subject (summary));
  if (!message->keep)
    return;
  message->keep = FALSE;
  if (message->octets->len != message->assembler.literal)
    message->broken = TRUE;
  else
    imap_assembler_add_literal (&message->assembler, message->octets->data,
                                message->octets->len);
}

void
imap_trace_message_abandon (ImapTraceMessage *message)
{
  message->broken = TRUE;
  message->keep = FALSE;
}

GPtrArray *
imap_trace_message_parse (ImapTraceMessage *message,
                          gboolean response,
                          GError **error)
{
  const GByteArray *octets = message->assembler.message;
  const char *data = (const char *) octets->data + message->args_offset;

  if (message->broken || message->args_offset > octets->len)
    return NULL;
  if (response)
    return imap_parse_response_args (data, octets->len - message->args_offset,
                                     error);
  return imap_parse_args (data, octets->len - message->args_offset, error);
}

/* ---- mailbox names (RFC 3501 §5.1.3; RFC 9051 §5.1; RFC 6855 §3) ------- */

/* The name @arg carries as a person reads it (transfer full), or NULL if
 * @arg is no astring. Modified UTF-7 until IMAP4rev2 or UTF8=ACCEPT is
 * enabled, as mw-imapd reads it; a name that is not gets a lint. */
static char *
mailbox_name (TraceSession *session,
              ImapTrace *imap,
              TraceDirection direction,
              const ImapArg *arg)
{
  const char *wire = imap_arg_astring (arg);
  g_autoptr (GError) error = NULL;
  g_autofree char *shown = NULL;
  char *name;

  if (wire == NULL)
    return NULL;
  shown = g_utf8_make_valid (wire, -1);
  if (imap->utf8_names)
    return g_steal_pointer (&shown);
  name = imap_mutf7_to_utf8 (wire, &error);
  if (name != NULL)
    return name;
  trace_session_lint (session, direction, "RFC 3501 §5.1.3",
                      "mailbox name \"%s\" is not modified UTF-7 (%s)", shown,
                      error->message);
  return g_steal_pointer (&shown);
}

/* Names the mailbox on @event when the wire spells it otherwise; returns
 * the name (transfer full) or NULL. A list (LIST patterns, RFC 5258 §3)
 * has each of its names explained. */
static char *
explain_mailbox (TraceSession *session,
                 ImapTrace *imap,
                 TraceEvent *event,
                 TraceDirection direction,
                 const ImapArg *arg)
{
  char *name;

  if (arg->type == IMAP_ARG_LIST)
    {
      for (guint i = 0; i < arg->list->len; i++)
        g_free (explain_mailbox (session, imap, event, direction,
                                 arg->list->pdata[i]));
      return NULL;
    }
  name = mailbox_name (session, imap, direction, arg);
  if (name != NULL && strcmp (name, imap_arg_astring (arg)) != 0)
    trace_event_explain (event,
                         "mailbox \"%s\" (modified UTF-7 on the wire, "
                         "RFC 3501 §5.1.3)",
                         name);
  return name;
}

/* ---- numbers and sets ------------------------------------------------- */

static gboolean
is_uid_set (const ImapArg *arg)
{
  g_autoptr (ImapSeqSet) set = NULL;

  /* RFC 4315 §4: uid-set has no "*" and no "$" */
  if (arg->type != IMAP_ARG_ATOM || strpbrk (arg->data, "*$") != NULL)
    return FALSE;
  set = imap_seqset_parse (arg->data, NULL);
  return set != NULL;
}

static gboolean
is_nz_number (const ImapArg *arg)
{
  return arg->type == IMAP_ARG_ATOM && arg->data[0] != '0' &&
         g_ascii_string_to_unsigned (arg->data, 10, 1, G_MAXUINT32, NULL, NULL);
}

/* RFC 7162 §7: mod-sequence-value = 1*DIGIT, 1 to 2^63 - 1; with @zero,
 * mod-sequence-valzer ("0" too: UNCHANGEDSINCE, STATUS). */
static gboolean
is_mod_sequence (const ImapArg *arg, gboolean zero)
{
  return arg->type == IMAP_ARG_ATOM && g_ascii_isdigit (arg->data[0]) &&
         g_ascii_string_to_unsigned (arg->data, 10, zero ? 0 : 1, G_MAXINT64,
                                     NULL, NULL);
}

static gboolean
is_sequence_set (const ImapArg *arg)
{
  g_autoptr (ImapSeqSet) set = NULL;

  if (arg->type == IMAP_ARG_ATOM)
    set = imap_seqset_parse (arg->data, NULL);
  return set != NULL;
}

/* How many numbers a uid-set (is_uid_set ()) holds, at most G_MAXUINT. */
static guint
uid_set_count (const ImapArg *arg)
{
  g_autoptr (ImapSeqSet) set = imap_seqset_parse (arg->data, NULL);
  guint64 count = 0;

  for (guint i = 0; set != NULL && i < set->ranges->len; i++)
    {
      const ImapSeqRange *range = &g_array_index (set->ranges, ImapSeqRange, i);

      count += (guint64) MAX (range->first, range->last) -
               MIN (range->first, range->last) + 1;
    }
  return (guint) MIN (count, G_MAXUINT);
}

static guint
add_saturated (guint a, guint b)
{
  return a > G_MAXUINT - b ? G_MAXUINT : a + b;
}

/* A command still running whose verb is @verb ("UID FETCH") or, with
 * @suffix, ends with it ("FETCH" for FETCH and UID FETCH). */
static gboolean
pending_verb (ImapTrace *imap, const char *verb, gboolean suffix)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, imap->pending);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const ImapPending *pending = value;

      if (suffix ? g_str_has_suffix (pending->verb, verb)
                 : strcmp (pending->verb, verb) == 0)
        return TRUE;
    }
  return FALSE;
}

/* RFC 7162 §3.1: CONDSTORE is in use once a CONDSTORE enabling command
 * succeeded; during that command too (its own FETCH responses). */
static gboolean
condstore_in_use (ImapTrace *imap)
{
  GHashTableIter iter;
  gpointer value;

  if (imap->condstore)
    return TRUE;
  g_hash_table_iter_init (&iter, imap->pending);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((ImapPending *) value)->condstore)
      return TRUE;
  return FALSE;
}

static gboolean
has_atom (const ImapArg *arg, const char *word)
{
  if (arg->type == IMAP_ARG_LIST)
    {
      for (guint i = 0; i < arg->list->len; i++)
        if (has_atom (arg->list->pdata[i], word))
          return TRUE;
      return FALSE;
    }
  return imap_arg_is_atom (arg, word);
}

static gboolean
args_have_atom (GPtrArray *args, const char *word)
{
  for (guint i = 0; i < args->len; i++)
    if (has_atom (args->pdata[i], word))
      return TRUE;
  return FALSE;
}

/* ---- commands (RFC 9051 §6) -------------------------------------------- */

/* The arguments that name mailboxes: from @first, @count of them. */
static const struct
{
  const char *verb;
  guint first;
  guint count;
} mailbox_commands[] = {
  { "SELECT", 0, 1 },      { "EXAMINE", 0, 1 }, { "CREATE", 0, 1 },
  { "DELETE", 0, 1 },      { "RENAME", 0, 2 },  { "SUBSCRIBE", 0, 1 },
  { "UNSUBSCRIBE", 0, 1 }, { "STATUS", 0, 1 },  { "APPEND", 0, 1 },
  { "COPY", 1, 1 },        { "MOVE", 1, 1 },    { "LIST", 0, 2 },
  { "LSUB", 0, 2 },
};

/* Commands whose first argument is a sequence set (RFC 9051 §9). */
static const char *const set_commands[] = {
  "FETCH", "STORE", "COPY", "MOVE", "EXPUNGE", NULL,
};

static void
command_mailboxes (TraceSession *session,
                   ImapTrace *imap,
                   TraceEvent *event,
                   ImapPending *pending,
                   const char *verb,
                   GPtrArray *args)
{
  for (gsize i = 0; i < G_N_ELEMENTS (mailbox_commands); i++)
    {
      guint first = mailbox_commands[i].first;
      guint last;

      if (strcmp (verb, mailbox_commands[i].verb) != 0)
        continue;
      /* RFC 5258 §3: LIST (selection options) reference pattern */
      if (args->len > 0 && strcmp (verb, "LIST") == 0 &&
          ((ImapArg *) args->pdata[0])->type == IMAP_ARG_LIST)
        first++;
      last = MIN (first + mailbox_commands[i].count, args->len);
      for (guint a = first; a < last; a++)
        {
          g_autofree char *name = explain_mailbox (
              session, imap, event, TRACE_CLIENT_TO_SERVER, args->pdata[a]);

          if (a == first && name != NULL && pending->mailbox == NULL)
            pending->mailbox = g_steal_pointer (&name);
        }
    }
}

/* RFC 9051 §6.4.5: BODY[section]<partial>, BODY.PEEK[...]; RFC 3516 §4.1:
 * BINARY[part]<partial>, BINARY.PEEK[...], BINARY.SIZE[part]. */
static void
check_fetch_item (TraceSession *session, const ImapArg *item)
{
  static const char *const sectioned[] = {
    "BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE", NULL,
  };
  const char *open =
      item->type == IMAP_ARG_ATOM ? strchr (item->data, '[') : NULL;
  g_autofree char *base = NULL;
  g_autoptr (GError) error = NULL;
  ImapSection section;

  if (open == NULL)
    return;
  base = g_ascii_strup (item->data, open - item->data);
  if (!g_strv_contains (sectioned, base))
    return;
  if (!imap_section_parse (open + 1, &section, &error))
    {
      trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 9051 §6.4.5",
                          "FETCH item %s: %s", item->data, error->message);
      return;
    }
  if (g_str_has_prefix (base, "BINARY") && section.kind != IMAP_SECTION_ALL)
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 3516 §4.1",
                        "FETCH item %s: BINARY takes part numbers only",
                        item->data);
  imap_section_clear (&section);
}

/* RFC 9051 §6.4.5: FETCH sequence-set ("(" fetch-att *(SP fetch-att) ")"
 * / fetch-att / ALL / FAST / FULL) [modifiers] */
static void
check_fetch_items (TraceSession *session, GPtrArray *args)
{
  const ImapArg *items = args->len > 1 ? args->pdata[1] : NULL;

  if (items == NULL)
    return;
  if (items->type != IMAP_ARG_LIST)
    check_fetch_item (session, items);
  else
    for (guint i = 0; i < items->list->len; i++)
      check_fetch_item (session, items->list->pdata[i]);
}

static void
check_sequence_set (TraceSession *session, GPtrArray *args)
{
  const ImapArg *set = args->len > 0 ? args->pdata[0] : NULL;
  g_autoptr (ImapSeqSet) parsed = NULL;
  g_autoptr (GError) error = NULL;

  if (set == NULL)
    return;
  if (set->type == IMAP_ARG_ATOM)
    parsed = imap_seqset_parse (set->data, &error);
  if (parsed == NULL)
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 9051 §9",
                        "\"%s\" is not a sequence set (%s)",
                        set->type == IMAP_ARG_LIST ? "(...)" : set->data,
                        error != NULL ? error->message
                                      : "numbers, ':', ',', '*' or '$'");
}

/* ---- CONDSTORE and QRESYNC in commands (RFC 7162) ---------------------- */

/* RFC 7162 §3.2.3: the QRESYNC parameter and the VANISHED modifier need
 * ENABLE QRESYNC answered with ENABLED QRESYNC first. */
static void
check_qresync_enabled (TraceSession *session, ImapTrace *imap, const char *what)
{
  if (!imap->qresync && !imap->mid_session)
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 7162 §3.2.3",
                        "%s before ENABLE QRESYNC was answered with ENABLED "
                        "QRESYNC: the server must answer BAD",
                        what);
}

/* RFC 7162 §3.2.5: QRESYNC (uidvalidity mod-sequence-value [known-uids
 * [seq-match-data]]) */
static void
qresync_param (TraceSession *session,
               ImapTrace *imap,
               TraceEvent *event,
               const ImapArg *value)
{
  const ImapArgList *list =
      value != NULL && value->type == IMAP_ARG_LIST ? value->list : NULL;

  check_qresync_enabled (session, imap, "SELECT (QRESYNC ...)");
  if (list == NULL || list->len < 2 || list->len > 4 ||
      !is_nz_number (list->pdata[0]) ||
      !is_mod_sequence (list->pdata[1], FALSE) ||
      (list->len > 2 && !is_uid_set (list->pdata[2])) ||
      (list->len > 3 && ((ImapArg *) list->pdata[3])->type != IMAP_ARG_LIST))
    {
      trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 7162 §3.2.5",
                          "QRESYNC takes (uidvalidity modseq [known-uids "
                          "[(sequence-set uid-set)]]), with no \"*\"");
      return;
    }
  trace_event_explain (
      event,
      "QRESYNC: resynchronises a cache of UIDVALIDITY %s as of MODSEQ "
      "%s%s%s%s: the server tells what was expunged since, as VANISHED "
      "(EARLIER), and what changed, as FETCH (RFC 7162 §3.2.5)",
      ((ImapArg *) list->pdata[0])->data, ((ImapArg *) list->pdata[1])->data,
      list->len > 2 ? " (UIDs " : "",
      list->len > 2 ? ((ImapArg *) list->pdata[2])->data : "",
      list->len > 2 ? ")" : "");
}

/* RFC 4466 §2.1 select-params, RFC 7162 §3.1.8 CONDSTORE, §3.2.5 QRESYNC */
static void
select_params (TraceSession *session,
               ImapTrace *imap,
               TraceEvent *event,
               ImapPending *pending,
               const ImapArg *params)
{
  if (params->type != IMAP_ARG_LIST)
    return;
  for (guint i = 0; i < params->list->len; i++)
    {
      const ImapArg *param = params->list->pdata[i];

      if (imap_arg_is_atom (param, "CONDSTORE"))
        {
          pending->condstore = TRUE;
          trace_event_explain (event,
                               "CONDSTORE: the reply tells HIGHESTMODSEQ, and "
                               "FETCH responses carry MODSEQ from here on "
                               "(RFC 7162 §3.1.8)");
        }
      else if (imap_arg_is_atom (param, "QRESYNC"))
        {
          pending->condstore = TRUE;
          qresync_param (session, imap, event,
                         i + 1 < params->list->len ? params->list->pdata[++i]
                                                   : NULL);
        }
    }
}

/* RFC 7162 §3.1.4.1 (CHANGEDSINCE mod-sequence), §3.2.6 VANISHED; the
 * MODSEQ item (§3.1.4.2) enables CONDSTORE too (§3.1). */
static void
fetch_modifiers (TraceSession *session,
                 ImapTrace *imap,
                 TraceEvent *event,
                 ImapPending *pending,
                 gboolean uid,
                 GPtrArray *args)
{
  const ImapArg *modifiers = args->len > 2 ? args->pdata[2] : NULL;
  const char *since = NULL;
  gboolean vanished = FALSE;

  if (args->len > 1 && has_atom (args->pdata[1], "MODSEQ"))
    pending->condstore = TRUE;
  if (modifiers == NULL || modifiers->type != IMAP_ARG_LIST)
    return;
  for (guint i = 0; i < modifiers->list->len; i++)
    {
      const ImapArg *modifier = modifiers->list->pdata[i];
      const ImapArg *value =
          i + 1 < modifiers->list->len ? modifiers->list->pdata[i + 1] : NULL;

      if (imap_arg_is_atom (modifier, "CHANGEDSINCE") && value != NULL &&
          is_mod_sequence (value, FALSE))
        {
          since = value->data;
          i++;
        }
      else if (imap_arg_is_atom (modifier, "VANISHED"))
        vanished = TRUE;
    }
  if (since != NULL)
    {
      pending->condstore = TRUE;
      trace_event_explain (event,
                           "CHANGEDSINCE %s: only messages whose MODSEQ is "
                           "above %s (RFC 7162 §3.1.4.1)",
                           since, since);
    }
  if (!vanished)
    return;
  trace_event_explain (event,
                       "VANISHED: before them, the UIDs of the set expunged "
                       "since, as VANISHED (EARLIER) (RFC 7162 §3.2.6)");
  check_qresync_enabled (session, imap, "the VANISHED FETCH modifier");
  if (!uid)
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 7162 §3.2.6",
                        "the VANISHED modifier is for UID FETCH only");
  if (since == NULL)
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 7162 §3.2.6",
                        "the VANISHED modifier needs CHANGEDSINCE");
}

/* RFC 7162 §3.1.3: STORE set (UNCHANGEDSINCE mod-sequence) action flags */
static void
store_modifiers (TraceSession *session,
                 TraceEvent *event,
                 ImapPending *pending,
                 GPtrArray *args)
{
  const ImapArg *modifiers = args->len > 1 ? args->pdata[1] : NULL;
  const ImapArg *value;

  if (modifiers == NULL || modifiers->type != IMAP_ARG_LIST)
    return;
  value = modifiers->list->len == 2 ? modifiers->list->pdata[1] : NULL;
  if (!imap_arg_is_atom (modifiers->list->pdata[0], "UNCHANGEDSINCE") ||
      value == NULL || !is_mod_sequence (value, TRUE))
    {
      trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 7162 §3.1.3",
                          "the STORE modifier is (UNCHANGEDSINCE modseq)");
      return;
    }
  pending->condstore = TRUE;
  trace_event_explain (event,
                       "UNCHANGEDSINCE %s: only messages whose MODSEQ is "
                       "still %s or less; the others are left alone and "
                       "listed in MODIFIED (RFC 7162 §3.1.3)",
                       value->data, value->data);
}

void
imap_trace_command (TraceSession *session,
                    ImapTrace *imap,
                    TraceEvent *event,
                    ImapPending *pending,
                    GPtrArray *args)
{
  g_autoptr (GPtrArray) rest = NULL;
  const char *verb = pending->verb;

  if (g_str_has_prefix (verb, "UID "))
    {
      /* UID FETCH ...: the arguments after the one that names FETCH */
      verb += 4;
      rest = g_ptr_array_new ();
      for (guint i = 1; i < args->len; i++)
        g_ptr_array_add (rest, args->pdata[i]);
      args = rest;
    }
  if (strcmp (verb, "LOGIN") == 0 && args->len > 0 &&
      imap_arg_astring (args->pdata[0]) != NULL)
    {
      g_free (imap->user);
      imap->user = g_utf8_make_valid (imap_arg_astring (args->pdata[0]), -1);
    }
  command_mailboxes (session, imap, event, pending, verb, args);
  /* EXPUNGE takes a set only as UID EXPUNGE (RFC 4315 §2.1) */
  if (g_strv_contains (set_commands, verb) &&
      (rest != NULL || strcmp (verb, "EXPUNGE") != 0))
    check_sequence_set (session, args);
  if (strcmp (verb, "FETCH") == 0)
    {
      check_fetch_items (session, args);
      fetch_modifiers (session, imap, event, pending, rest != NULL, args);
    }
  else if (strcmp (verb, "STORE") == 0)
    store_modifiers (session, event, pending, args);
  else if (strcmp (verb, "SELECT") == 0 || strcmp (verb, "EXAMINE") == 0)
    {
      imap->nomodseq = FALSE;
      if (args->len > 1)
        select_params (session, imap, event, pending, args->pdata[1]);
    }
  /* RFC 7162 §3.1: STATUS (HIGHESTMODSEQ) and SEARCH MODSEQ enable
   * CONDSTORE as well */
  else if ((strcmp (verb, "STATUS") == 0 && args->len > 1 &&
            has_atom (args->pdata[1], "HIGHESTMODSEQ")) ||
           (strcmp (verb, "SEARCH") == 0 && args_have_atom (args, "MODSEQ")))
    pending->condstore = TRUE;
}

/* ---- FETCH data (RFC 9051 §7.5.2) -------------------------------------- */

static void fetch_note (ImapTrace *imap, const char *format, ...)
    G_GNUC_PRINTF (2, 3);
static void
fetch_note (ImapTrace *imap, const char *format, ...)
{
  va_list args;

  if (!imap->fetch_summary_shown)
    return; /* -q: the summary line is not printed, so not written */
  if (imap->fetch_summary->len > 0)
    g_string_append (imap->fetch_summary, ", ");
  va_start (args, format);
  trace_string_append_vprintf (imap->fetch_summary, format, args);
  va_end (args);
}

static guint
count_literals (const ImapArg *arg)
{
  guint count = arg->type == IMAP_ARG_LITERAL ? 1 : 0;

  if (arg->type == IMAP_ARG_LIST)
    for (guint i = 0; i < arg->list->len; i++)
      count += count_literals (arg->list->pdata[i]);
  return count;
}

/* Items whose value is message content (a string, NIL if absent). */
static gboolean
is_content (const char *name)
{
  return g_str_has_prefix (name, "BODY[") ||
         g_str_has_prefix (name, "BINARY[") || strcmp (name, "RFC822") == 0 ||
         strcmp (name, "RFC822.HEADER") == 0 ||
         strcmp (name, "RFC822.TEXT") == 0;
}

/* Items whose atom value is worth a place in the summary. */
static gboolean
is_valued (const char *name)
{
  return is_content (name) || g_str_has_prefix (name, "BINARY.SIZE[") ||
         strcmp (name, "UID") == 0 || strcmp (name, "RFC822.SIZE") == 0 ||
         strcmp (name, "MODSEQ") == 0;
}

/* RFC 9051 §6.4.5: HEADER, HEADER.FIELDS (.NOT) and MIME are header
 * fields; the rest of a section is content. */
static gboolean
is_header (const char *name)
{
  const char *open = strchr (name, '[');
  const char *close = open != NULL ? strchr (open, ']') : NULL;
  g_autofree char *section_text = NULL;
  ImapSection section;
  gboolean header;

  if (close == NULL)
    return strcmp (name, "RFC822.HEADER") == 0;
  /* a response names a partial by its origin only ("<0>"): cut it */
  section_text = g_strndup (open + 1, close - open);
  if (!imap_section_parse (section_text, &section, NULL))
    return strstr (name, "HEADER") != NULL;
  header =
      section.kind != IMAP_SECTION_ALL && section.kind != IMAP_SECTION_TEXT;
  imap_section_clear (&section);
  return header;
}

static void
fetch_content (ImapTrace *imap,
               const char *name,
               guint64 size,
               const char *subject)
{
  fetch_note (imap, "%s %" G_GUINT64_FORMAT " bytes", name, size);
  if (!is_content (name))
    return;
  if (is_header (name))
    imap->headers++;
  else
    {
      imap->bodies++;
      imap->body_bytes += size;
    }
  if (subject != NULL)
    fetch_note (imap, "Subject: %s", subject);
}

/* A quoted string holds the same octets a literal would (RFC 9051 §4.3):
 * summarised alike. */
static void
fetch_quoted (ImapTrace *imap, const char *name, const ImapArg *value)
{
  TraceMessage *summary;

  if (!is_content (name))
    {
      fetch_note (imap, "%s", name);
      return;
    }
  summary = trace_message_new (FALSE);
  trace_message_feed (summary, (const guint8 *) value->data, value->length);
  fetch_content (imap, name, value->length, trace_message_subject (summary));
  trace_message_free (summary);
}

static void
fetch_list (ImapTrace *imap, const char *name, const ImapArg *value)
{
  g_autoptr (GString) flags = NULL;
  const char *subject = NULL;

  if (!imap->fetch_summary_shown)
    return; /* -q: a list only makes a note, and notes are not made */

  /* RFC 7162 §3.1.4.2: MODSEQ (mod-sequence-value) */
  if (strcmp (name, "MODSEQ") == 0 && value->list->len == 1 &&
      ((ImapArg *) value->list->pdata[0])->type == IMAP_ARG_ATOM)
    {
      fetch_note (imap, "MODSEQ %s", ((ImapArg *) value->list->pdata[0])->data);
      return;
    }
  /* RFC 9051 §7.5.2: ENVELOPE (date subject from ...) */
  if (strcmp (name, "ENVELOPE") == 0 && value->list->len > 1)
    subject = imap_arg_string (value->list->pdata[1]);
  if (subject != NULL && g_utf8_validate (subject, -1, NULL))
    {
      fetch_note (imap, "ENVELOPE (Subject: %s)", subject);
      return;
    }
  if (strcmp (name, "FLAGS") != 0)
    {
      fetch_note (imap, "%s", name);
      return;
    }
  flags = g_string_new ("(");
  for (guint i = 0; i < value->list->len; i++)
    {
      const ImapArg *flag = value->list->pdata[i];

      g_string_append_printf (flags, "%s%s", i > 0 ? " " : "",
                              flag->data != NULL ? flag->data : "(...)");
    }
  g_string_append_c (flags, ')');
  fetch_note (imap, "FLAGS %s", flags->str);
}

static void
fetch_item (ImapTrace *imap,
            ImapTraceMessage *message,
            const ImapArg *item,
            const ImapArg *value,
            guint *inout_literal)
{
  char short_name[64];
  g_autofree char *long_name = NULL;
  const char *name = short_name;
  const ImapTraceLiteral *literal;

  if (item->type != IMAP_ARG_ATOM)
    {
      *inout_literal += count_literals (item) + count_literals (value);
      return;
    }
  /* the name in capitals, on the stack when it is short (as item names
   * but long BODY[HEADER.FIELDS (...)] sections are): every item of every
   * FETCH response comes here */
  if (item->length < sizeof short_name)
    for (gsize i = 0; i <= item->length; i++)
      short_name[i] = g_ascii_toupper (item->data[i]);
  else
    name = long_name = g_ascii_strup (item->data, -1);
  if (value->type == IMAP_ARG_LITERAL &&
      *inout_literal < message->literals->len)
    {
      literal = &g_array_index (message->literals, ImapTraceLiteral,
                                (*inout_literal)++);
      fetch_content (imap, name, literal->size, literal->subject);
    }
  else if (value->type == IMAP_ARG_LITERAL)
    fetch_content (imap, name, value->length, NULL);
  else if (value->type == IMAP_ARG_LIST)
    {
      *inout_literal += count_literals (value);
      fetch_list (imap, name, value);
    }
  else if (value->type == IMAP_ARG_QUOTED)
    fetch_quoted (imap, name, value);
  else if (is_valued (name))
    fetch_note (imap, "%s %s", name, value->data);
  else
    fetch_note (imap, "%s", name);
}

/* RFC 9051 §7.5.2: "FETCH" SP "(" msg-att *(SP msg-att) ")", each an
 * item name and its value. */
static void
fetch_summarise (TraceSession *session,
                 ImapTrace *imap,
                 ImapTraceMessage *message,
                 GPtrArray *args)
{
  const ImapArg *items = args->len == 1 ? args->pdata[0] : NULL;
  guint literal = 0;
  gboolean uid = FALSE;
  gboolean modseq = FALSE;

  g_string_truncate (imap->fetch_summary, 0);
  /* fetch_summary () (decode-imap.c) prints the notes as an "info" line */
  imap->fetch_summary_shown = trace_session_shows (session, "info");
  if (items == NULL || items->type != IMAP_ARG_LIST ||
      items->list->len % 2 != 0)
    {
      trace_session_lint (session, TRACE_SERVER_TO_CLIENT, "RFC 9051 §7.5.2",
                          "FETCH data is one parenthesised list of item "
                          "names and values");
      return;
    }
  for (guint i = 0; i + 1 < items->list->len; i += 2)
    {
      uid = uid || imap_arg_is_atom (items->list->pdata[i], "UID");
      modseq = modseq || imap_arg_is_atom (items->list->pdata[i], "MODSEQ");
      fetch_item (imap, message, items->list->pdata[i],
                  items->list->pdata[i + 1], &literal);
    }
  /* RFC 7162 §3.1 and §3.2.4: once CONDSTORE is in use, a FETCH response
   * that no FETCH asked for (a STORE's, an external change) carries
   * MODSEQ, and from a server with QRESYNC also UID */
  if (imap->mid_session || imap->nomodseq || !condstore_in_use (imap) ||
      pending_verb (imap, "FETCH", TRUE))
    return;
  if ((imap->qresync || imap->qresync_server) && (!uid || !modseq))
    trace_session_lint (session, TRACE_SERVER_TO_CLIENT, "RFC 7162 §3.2.4",
                        "once CONDSTORE is in use, a server with QRESYNC "
                        "puts UID and MODSEQ in each FETCH response no FETCH "
                        "asked for: this one has no %s",
                        !uid && !modseq ? "UID and no MODSEQ"
                        : !uid          ? "UID"
                                        : "MODSEQ");
  else if (!modseq)
    trace_session_lint (session, TRACE_SERVER_TO_CLIENT, "RFC 7162 §3.1",
                        "once CONDSTORE is in use, a FETCH response not "
                        "asked for by a FETCH carries MODSEQ");
}

/* ---- untagged data (RFC 9051 §7.2 to §7.5) ----------------------------- */

/* RFC 9051 §7.2.1: ENABLED IMAP4rev2 and RFC 6855 §3: UTF8=ACCEPT make
 * mailbox names UTF-8 from here on; RFC 7162 §3.2.3: ENABLED QRESYNC
 * turns expunges into VANISHED, and (§3.1) CONDSTORE on. */
static void
data_enabled (ImapTrace *imap, GPtrArray *args)
{
  for (guint i = 0; i < args->len; i++)
    if (imap_arg_is_atom (args->pdata[i], "IMAP4rev2") ||
        imap_arg_is_atom (args->pdata[i], "UTF8=ACCEPT") ||
        imap_arg_is_atom (args->pdata[i], "UTF8=ONLY"))
      imap->utf8_names = TRUE;
    else if (imap_arg_is_atom (args->pdata[i], "CONDSTORE"))
      imap->condstore = TRUE;
    else if (imap_arg_is_atom (args->pdata[i], "QRESYNC"))
      imap->condstore = imap->qresync = TRUE;
}

/* TRUE if @text holds @word (in capitals) in capitals or small letters,
 * anywhere: RFC 9051 §9, atoms are compared without case. */
static gboolean
holds_nocase (const char *text, const char *word)
{
  gsize length = strlen (word);
  char first[3] = { word[0], g_ascii_tolower (word[0]), '\0' };

  for (const char *c = strpbrk (text, first); c != NULL;
       c = strpbrk (c + 1, first))
    if (g_ascii_strncasecmp (c, word, length) == 0)
      return TRUE;
  return FALSE;
}

/* RFC 9051 §7.2.2: CAPABILITY, as data or as a response code; RFC 7162
 * §3.2.4 asks more of a server that has QRESYNC. */
static void
capabilities (ImapTrace *imap, GPtrArray *args)
{
  for (guint i = 0; args != NULL && i < args->len; i++)
    if (imap_arg_is_atom (args->pdata[i], "QRESYNC"))
      imap->qresync_server = TRUE;
}

/* RFC 7162 §3.2.10: "VANISHED" [SP "(EARLIER)"] SP known-uids: messages
 * expunged, named by UID; not one message number, as EXPUNGE has. */
static void
data_vanished (TraceSession *session,
               ImapTrace *imap,
               TraceEvent *event,
               GPtrArray *args)
{
  const ImapArg *first = args->len > 0 ? args->pdata[0] : NULL;
  gboolean earlier = first != NULL && first->type == IMAP_ARG_LIST &&
                     first->list->len == 1 &&
                     imap_arg_is_atom (first->list->pdata[0], "EARLIER");
  const ImapArg *uids =
      args->len == (earlier ? 2u : 1u) ? args->pdata[args->len - 1] : NULL;
  guint count;

  if (imap->data_has_number)
    return; /* "* 3 VANISHED", linted already */
  if (uids == NULL || !is_uid_set (uids))
    {
      trace_session_lint (session, TRACE_SERVER_TO_CLIENT, "RFC 7162 §7",
                          "VANISHED takes [(EARLIER)] and a set of UIDs, "
                          "with no \"*\"");
      return;
    }
  count = uid_set_count (uids);
  if (earlier)
    {
      /* §3.2.10.1: caused by SELECT (QRESYNC) or UID FETCH (VANISHED) */
      trace_event_explain (event,
                           "UID%s %s expunged earlier, not now: no message "
                           "number shifts and the count stays",
                           count == 1 ? "" : "s", uids->data);
      trace_event_rfc (event, "RFC 7162 §3.2.10.1");
      imap->vanished_earlier++;
      if (!imap->mid_session && !pending_verb (imap, "SELECT", FALSE) &&
          !pending_verb (imap, "EXAMINE", FALSE) &&
          !pending_verb (imap, "UID FETCH", FALSE))
        trace_session_lint (session, TRACE_SERVER_TO_CLIENT,
                            "RFC 7162 §3.2.10.1",
                            "VANISHED (EARLIER) answers SELECT (QRESYNC) or "
                            "UID FETCH (VANISHED), and neither is running");
      return;
    }
  /* §3.2.10.2: EXPUNGE for UIDs, under QRESYNC */
  trace_event_explain (event,
                       "UID%s %s expunged now: the count drops by %u and "
                       "later message numbers shift down",
                       count == 1 ? "" : "s", uids->data, count);
  trace_event_rfc (event, "RFC 7162 §3.2.10.2");
  imap->expunges = add_saturated (imap->expunges, count);
  imap->vanished = add_saturated (imap->vanished, count);
}

/* RFC 9051 §7.3.3: STATUS mailbox (name value ...); RFC 7162 §3.1.7 adds
 * HIGHESTMODSEQ. */
static void
data_status (TraceEvent *event, GPtrArray *args)
{
  const ImapArg *items = args->len > 1 ? args->pdata[1] : NULL;

  if (items == NULL || items->type != IMAP_ARG_LIST)
    return;
  for (guint i = 0; i + 1 < items->list->len; i += 2)
    if (imap_arg_is_atom (items->list->pdata[i], "HIGHESTMODSEQ") &&
        is_mod_sequence (items->list->pdata[i + 1], TRUE))
      trace_event_explain (event,
                           "HIGHESTMODSEQ %s: the highest modification "
                           "sequence of the mailbox (RFC 7162 §3.1.7)",
                           ((ImapArg *) items->list->pdata[i + 1])->data);
}

void
imap_trace_data (TraceSession *session,
                 ImapTrace *imap,
                 TraceEvent *event,
                 GPtrArray *args)
{
  const char *keyword = imap->data_keyword;
  const ImapArg *name = NULL;

  if (keyword == NULL)
    return;
  if (strcmp (keyword, "FETCH") == 0)
    {
      fetch_summarise (session, imap, &imap->message[TRACE_SERVER_TO_CLIENT],
                       args);
      trace_journey_imap_fetch (session, imap->data_number, args, imap->user);
    }
  else if (strcmp (keyword, "ENABLED") == 0)
    data_enabled (imap, args);
  else if (strcmp (keyword, "VANISHED") == 0)
    data_vanished (session, imap, event, args);
  else if (strcmp (keyword, "CAPABILITY") == 0)
    capabilities (imap, args);
  /* RFC 9051 §7.3.1: LIST (attributes) delimiter mailbox [extended] */
  else if ((strcmp (keyword, "LIST") == 0 || strcmp (keyword, "LSUB") == 0) &&
           args->len >= 3)
    name = args->pdata[2];
  /* RFC 9051 §7.3.3: STATUS mailbox (attributes) */
  else if (strcmp (keyword, "STATUS") == 0 && args->len >= 1)
    {
      name = args->pdata[0];
      data_status (event, args);
    }
  if (name != NULL)
    g_free (
        explain_mailbox (session, imap, event, TRACE_SERVER_TO_CLIENT, name));
}

/* ---- response codes (RFC 9051 §7.1; RFC 4315 §3) ----------------------- */

/* RFC 7162 §7: "HIGHESTMODSEQ" SP mod-sequence-value, "MODIFIED" SP
 * sequence-set; "NOMODSEQ" ends CONDSTORE's promises for the mailbox. */
static void
modseq_code (TraceSession *session,
             ImapTrace *imap,
             const ImapResponse *response)
{
  g_autoptr (GPtrArray) args = NULL;
  gboolean highest = strcmp (response->code, "HIGHESTMODSEQ") == 0;
  gboolean ok;

  if (strcmp (response->code, "NOMODSEQ") == 0)
    {
      imap->nomodseq = TRUE;
      return;
    }
  if (!highest && strcmp (response->code, "MODIFIED") != 0)
    return;
  if (response->code_args != NULL)
    args = imap_parse_args (response->code_args, strlen (response->code_args),
                            NULL);
  ok = args != NULL && args->len == 1 &&
       (highest ? is_mod_sequence (args->pdata[0], FALSE)
                : is_sequence_set (args->pdata[0]));
  if (!ok)
    trace_session_lint (session, TRACE_SERVER_TO_CLIENT,
                        highest ? "RFC 7162 §3.1.2.1" : "RFC 7162 §3.1.3",
                        "%s takes %s", response->code,
                        highest ? "a mod-sequence (1 to 2^63 - 1)"
                                : "a set of message numbers or UIDs");
}

/* RFC 4315 §3: "APPENDUID" SP nz-number SP append-uid and "COPYUID" SP
 * nz-number SP uid-set SP uid-set. */
void
imap_trace_response_code (TraceSession *session,
                          ImapTrace *imap,
                          TraceEvent *event,
                          const ImapResponse *response)
{
  g_autoptr (GPtrArray) args = NULL;
  gboolean append = g_strcmp0 (response->code, "APPENDUID") == 0;
  gboolean copy = g_strcmp0 (response->code, "COPYUID") == 0;
  guint want = append ? 2 : 3;
  gboolean ok;

  if (g_strcmp0 (response->code, "CAPABILITY") == 0 &&
      response->code_args != NULL)
    {
      /* capabilities () looks for one atom only: a list whose text does
       * not hold it is not parsed (every greeting and LOGIN reply of a
       * capture has this code, and its list is long) */
      if (!holds_nocase (response->code_args, "QRESYNC"))
        return;
      args = imap_parse_args (response->code_args, strlen (response->code_args),
                              NULL);
      capabilities (imap, args);
      return;
    }
  if (response->code != NULL)
    modseq_code (session, imap, response);
  if (!append && !copy)
    return;
  if (response->code_args != NULL)
    args = imap_parse_args (response->code_args, strlen (response->code_args),
                            NULL);
  ok = args != NULL && args->len == want && is_nz_number (args->pdata[0]);
  for (guint i = 1; ok && i < want; i++)
    ok = is_uid_set (args->pdata[i]);
  if (!ok)
    trace_session_lint (session, TRACE_SERVER_TO_CLIENT, "RFC 4315 §3",
                        "%s takes the UIDVALIDITY and %s", response->code,
                        append ? "the new UIDs" : "two UID sets");
  else if (append)
    trace_event_explain (event, "the new message has UID %s (UIDVALIDITY %s)",
                         ((ImapArg *) args->pdata[1])->data,
                         ((ImapArg *) args->pdata[0])->data);
  else
    trace_event_explain (event,
                         "UIDs %s became UIDs %s in the target "
                         "(UIDVALIDITY %s)",
                         ((ImapArg *) args->pdata[1])->data,
                         ((ImapArg *) args->pdata[2])->data,
                         ((ImapArg *) args->pdata[0])->data);
}
