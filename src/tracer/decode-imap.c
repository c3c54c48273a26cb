/* SPDX-License-Identifier: MIT
 * decode-imap.c: IMAP as the tracer sees it (RFC 9051 §2.2 tags, §4.3
 * literals, §6 commands, §7 responses; RFC 7888 non-synchronising
 * literals; RFC 2177 IDLE; RFC 4959 SASL-IR; RFC 7162 CONDSTORE and
 * QRESYNC: VANISHED, told by UID, not by message number as EXPUNGE is).
 * Vocabulary and grammar come from imap-proto.h and imap-parser.h, the
 * same the server and client use.
 *
 * A command or response may span several lines joined by literals: the
 * line that ends in "{n}" is followed by n octets (handed over raw) and
 * the line after them continues the same command or response. Each line
 * is shown as it comes; the whole message is assembled alongside by the
 * shared ImapAssembler and, once complete, parsed and read by
 * decode-imap-message.c.
 * Flow state of the client:
 *   COMMANDS --AUTHENTICATE + "+"--> SASL --tagged reply--> COMMANDS
 *   COMMANDS --IDLE + "+"--> IDLE --DONE--> COMMANDS
 *   COMMANDS --STARTTLS OK--> TLS
 */
#include "decode-imap.h"

#include <string.h>

#include "trace-session.h"

#define IMAP_TRACE_MAX_TAGS 4096 /* tags remembered for the reuse lint */

static void
pending_free (gpointer data)
{
  ImapPending *pending = data;

  g_free (pending->tag);
  g_free (pending->verb);
  g_free (pending->mailbox);
  g_free (pending);
}

static gpointer
imap_trace_new (TraceSession *session)
{
  ImapTrace *imap = g_new0 (ImapTrace, 1);

  imap->pending =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, pending_free);
  imap->tags_seen =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  imap->folders = g_ptr_array_new_with_free_func (g_free);
  imap->fetch_summary = g_string_new (NULL);
  imap_trace_message_init (&imap->message[TRACE_CLIENT_TO_SERVER]);
  imap_trace_message_init (&imap->message[TRACE_SERVER_TO_CLIENT]);
  imap->greeted = !session->flow->saw_syn; /* begun mid-session */
  imap->mid_session = !session->flow->saw_syn;
  if (session->tls)
    imap->flow = IMAP_FLOW_TLS;
  return imap;
}

static void
imap_trace_free (gpointer state)
{
  ImapTrace *imap = state;

  g_hash_table_unref (imap->pending);
  g_hash_table_unref (imap->tags_seen);
  g_ptr_array_unref (imap->folders);
  g_string_free (imap->fetch_summary, TRUE);
  imap_trace_message_clear (&imap->message[TRACE_CLIENT_TO_SERVER]);
  imap_trace_message_clear (&imap->message[TRACE_SERVER_TO_CLIENT]);
  g_free (imap->client_tag);
  g_free (imap->data_keyword);
  trace_message_free (imap->literal[0]);
  trace_message_free (imap->literal[1]);
  g_free (imap->sasl_tag);
  g_free (imap->idle_tag);
  g_free (imap->user);
  g_free (imap->client_verb);
  g_free (imap);
}

/* A literal announced at the end of @line: its octets come raw next. */
static void
announce_literal (TraceSession *session,
                  ImapTrace *imap,
                  TraceDirection direction,
                  TraceEvent *event,
                  const char *line,
                  gsize length)
{
  const ImapTraceMessage *message = &imap->message[direction];
  guint64 size = 0;
  gboolean non_sync = FALSE;

  imap->continuing[direction] = FALSE;
  if (!imap_proto_line_literal (line, length, &size, &non_sync))
    return;
  if (!message->broken && message->assembler.literal8)
    trace_event_explain (event,
                         "a%s literal8 of %" G_GUINT64_FORMAT
                         " octets follows (binary: it may hold NUL, "
                         "RFC 3516 §4.2)",
                         non_sync ? " non-synchronising" : "", size);
  else
    trace_event_explain (event,
                         "%s literal of %" G_GUINT64_FORMAT " octets follows",
                         non_sync ? "a non-synchronising" : "a", size);
  /* RFC 9051 §4.3: the client waits for "+" before a synchronising one */
  if (direction == TRACE_CLIENT_TO_SERVER)
    imap->literal_wait = !non_sync;
  trace_event_field_int (event, "imap.literal.length", (gint64) size);
  imap->continuing[direction] = TRUE;
  imap->literal_size[direction] = size;
  trace_message_free (imap->literal[direction]);
  imap->literal[direction] = trace_message_new (session->options->body);
  if (size > 0)
    trace_session_expect_raw (session, direction, size);
  else
    imap->check_after[direction] = TRUE;
}

/* RFC 9051 §9: after a literal comes SP, ")" or the end of the line. A
 * line that continues otherwise means the announced length was wrong. */
static void
check_after_literal (TraceSession *session,
                     ImapTrace *imap,
                     TraceDirection direction,
                     const char *line)
{
  if (!imap->check_after[direction])
    return;
  imap->check_after[direction] = FALSE;
  /* RFC 9051 §6.3.12: after an APPEND message literal comes the end of
   * the command or, with MULTIAPPEND (RFC 3502), flags, date or the next
   * literal. */
  if (direction == TRACE_CLIENT_TO_SERVER &&
      g_strcmp0 (imap->client_verb, "APPEND") == 0 && line[0] != '\0' &&
      !g_str_has_prefix (line, " (") && !g_str_has_prefix (line, " \"") &&
      !g_str_has_prefix (line, " {"))
    trace_session_lint (session, direction, "RFC 9051 §4.3",
                        "the APPEND literal's length does not match its "
                        "octets: \"%.20s\" follows it",
                        line);
  else if (line[0] != '\0' && line[0] != ' ' && line[0] != ')')
    trace_session_lint (session, direction, "RFC 9051 §4.3",
                        "the literal's length does not match its octets: "
                        "\"%.20s\" follows it",
                        line);
  else
    return;
  imap->message[direction].linted = TRUE;
}

/* ---- client
 * ------------------------------------------------------------------ */

/* The line with its password or SASL response masked (transfer full),
 * or NULL when it holds none and is shown as sent (most lines: not
 * copied). */
static char *
masked_command (TraceSession *session,
                const char *line,
                const char *verb,
                const char *arguments)
{
  const char *space;

  if (session->options->show_secrets)
    return NULL;
  if (strcmp (verb, "LOGIN") == 0 && (space = strchr (arguments, ' ')))
    return g_strdup_printf ("%.*s ***", (int) (space - line), line);
  if (strcmp (verb, "AUTHENTICATE") == 0 && (space = strchr (arguments, ' ')))
    return g_strdup_printf ("%.*s ***", (int) (space - line), line);
  return NULL;
}

/* After the user name's literal, the rest of a LOGIN line holds the
 * password (RFC 9051 §6.2.3): a line that is only the announcement of the
 * next literal is shown, anything else is masked. */
static char *
masked_continuation (TraceSession *session,
                     ImapTrace *imap,
                     const char *line,
                     gsize length)
{
  const char *open = strrchr (line, '{');
  guint64 size = 0;
  gboolean non_sync = FALSE;

  if (session->options->show_secrets || line[0] == '\0' ||
      (g_strcmp0 (imap->client_verb, "LOGIN") != 0 &&
       g_strcmp0 (imap->client_verb, "AUTHENTICATE") != 0))
    return g_strdup (line);
  if (imap_proto_line_literal (line, length, &size, &non_sync) &&
      open != NULL && strspn (line, " ") == (gsize) (open - line))
    return g_strdup (line);
  return g_strdup (" ***");
}

static void
client_effects (ImapTrace *imap,
                TraceEvent *event,
                const char *tag,
                const char *verb)
{
  if (strcmp (verb, "LOGIN") == 0)
    trace_event_explain (event, "the password travels in plaintext "
                                "unless under TLS");
  else if (strcmp (verb, "AUTHENTICATE") == 0)
    {
      g_free (imap->sasl_tag);
      imap->sasl_tag = g_strdup (tag);
    }
  else if (strcmp (verb, "IDLE") == 0)
    {
      g_free (imap->idle_tag);
      imap->idle_tag = g_strdup (tag);
    }
}

/* The command is whole: what its arguments say, read with the grammar
 * mw-imapd parses it with (imap_parse_args ()). */
static void
client_message_done (TraceSession *session, ImapTrace *imap, TraceEvent *event)
{
  ImapTraceMessage *message = &imap->message[TRACE_CLIENT_TO_SERVER];
  ImapPending *pending = g_hash_table_lookup (imap->pending, imap->client_tag);
  g_autoptr (GPtrArray) args = NULL;
  g_autoptr (GError) error = NULL;

  imap->literal_wait = FALSE;
  if (pending == NULL)
    return;
  args = imap_trace_message_parse (message, FALSE, &error);
  if (args != NULL)
    imap_trace_command (session, imap, event, pending, args);
  else if (error != NULL && !message->linted)
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 9051 §9",
                        "the arguments of %s do not parse: %s", pending->verb,
                        error->message);
}

static void
client_command (TraceSession *session,
                ImapTrace *imap,
                const char *line,
                gsize length)
{
  g_autofree char *tag = NULL;
  g_autofree char *verb = NULL;
  g_autofree char *masked = NULL;
  g_autofree char *full_verb = NULL;
  const char *arguments = "";
  TraceEvent *event =
      trace_event_new (session, TRACE_CLIENT_TO_SERVER, "command");
  ImapPending *pending;
  gboolean complete;

  if (!imap_proto_split_command (line, &tag, &verb, &arguments))
    {
      trace_event_text (event, line);
      trace_event_explain (event, "not an IMAP command (tag SP command)");
      trace_event_rfc (event, "RFC 9051 §2.2.1");
      trace_event_emit (event);
      return;
    }
  full_verb = strcmp (verb, "UID") == 0
                  ? g_ascii_strup (line + (arguments - line) - 4,
                                   4 + strcspn (arguments, " "))
                  : g_strdup (verb);
  if (g_hash_table_contains (imap->tags_seen, tag))
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 9051 §2.2.1",
                        "tag \"%s\" reused%s: each command needs a new tag",
                        tag,
                        g_hash_table_contains (imap->pending, tag)
                            ? " while its command is still running"
                            : "");
  else if (g_hash_table_size (imap->tags_seen) < IMAP_TRACE_MAX_TAGS)
    g_hash_table_add (imap->tags_seen, g_strdup (tag));
  masked = masked_command (session, line, verb, arguments);
  trace_event_text (event, masked != NULL ? masked : line);
  if (trace_event_shown (event)) /* -q: no meaning is shown */
    {
      trace_event_meaning (event, imap_proto_command_info (verb));
      if (strcmp (verb, "UID") == 0)
        trace_event_meaning (event, imap_proto_command_info (full_verb + 4));
    }
  trace_event_field (event, "imap.request.tag", tag);
  /* Wireshark names the command after UID ("UID FETCH" is FETCH) */
  trace_event_field (event, "imap.request.command",
                     strcmp (verb, "UID") == 0 ? full_verb + 4 : verb);
  if (strcmp (verb, "UID") == 0)
    trace_event_field_int (event, "mw.imap.uid", 1);
  client_effects (imap, event, tag, verb);
  g_free (imap->client_verb);
  g_free (imap->client_tag);
  imap->client_tag = g_strdup (tag);
  /* from here the verb is the last command's and the tag the pending
   * one's: kept, not copied */
  imap->client_verb = g_steal_pointer (&verb);
  pending = g_new0 (ImapPending, 1);
  pending->tag = g_steal_pointer (&tag);
  pending->verb = g_steal_pointer (&full_verb);
  g_hash_table_replace (imap->pending, pending->tag, pending);
  complete = imap_trace_message_begin (&imap->message[TRACE_CLIENT_TO_SERVER],
                                       line, length, arguments - line);
  announce_literal (session, imap, TRACE_CLIENT_TO_SERVER, event, line, length);
  if (complete)
    client_message_done (session, imap, event);
  trace_event_emit (event);
}

static void
client_special (TraceSession *session, ImapTrace *imap, const char *line)
{
  TraceEvent *event =
      trace_event_new (session, TRACE_CLIENT_TO_SERVER, "command");

  if (imap->flow == IMAP_FLOW_IDLE)
    {
      trace_event_text (event, line);
      if (g_ascii_strcasecmp (line, "DONE") == 0)
        trace_event_meaning (event, imap_proto_command_info ("DONE"));
      else
        trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 9051 §6.3.13",
                            "only DONE may be sent during IDLE");
      imap->flow = IMAP_FLOW_COMMANDS;
    }
  else
    {
      gboolean cancel = strcmp (line, "*") == 0;
      trace_event_text (
          event, cancel || session->options->show_secrets ? line : "***");
      trace_event_explain (event, cancel ? "the client cancels the "
                                           "authentication"
                                         : "SASL response (base64, masked)");
      trace_event_rfc (event, "RFC 9051 §6.2.2");
    }
  trace_event_emit (event);
}

/* The line after a literal: the same command goes on. */
static void
client_continuation (TraceSession *session,
                     ImapTrace *imap,
                     const char *line,
                     gsize length)
{
  TraceEvent *event =
      trace_event_new (session, TRACE_CLIENT_TO_SERVER, "command");
  gboolean complete = imap_trace_message_add_line (
      &imap->message[TRACE_CLIENT_TO_SERVER], line, length);
  g_autofree char *shown = masked_continuation (session, imap, line, length);

  trace_event_text (event, shown);
  trace_event_explain (event, "the command goes on after the literal");
  announce_literal (session, imap, TRACE_CLIENT_TO_SERVER, event, line, length);
  if (complete)
    client_message_done (session, imap, event);
  trace_event_emit (event);
}

static void
imap_client_line (TraceSession *session,
                  ImapTrace *imap,
                  const char *line,
                  gsize length,
                  MailLineFlags flags)
{
  if (imap->flow == IMAP_FLOW_TLS)
    return;
  if ((flags & MAIL_LINE_BARE_LF) != 0)
    trace_session_lint (session, TRACE_CLIENT_TO_SERVER, "RFC 9051 §2.2",
                        "line ended by a bare LF, not CRLF");
  check_after_literal (session, imap, TRACE_CLIENT_TO_SERVER, line);
  if (imap->continuing[TRACE_CLIENT_TO_SERVER])
    client_continuation (session, imap, line, length);
  else if (imap->flow == IMAP_FLOW_IDLE || imap->flow == IMAP_FLOW_SASL)
    client_special (session, imap, line);
  else
    client_command (session, imap, line, length);
}

/* ---- server ---------------------------------------------------------- */

static void
tagged_effects (TraceSession *session,
                ImapTrace *imap,
                TraceEvent *event,
                ImapPending *answered,
                ImapStatus status)
{
  const char *verb = answered->verb;
  gboolean ok = status == IMAP_STATUS_OK;

  if (g_strcmp0 (answered->tag, imap->sasl_tag) == 0)
    {
      imap->flow = IMAP_FLOW_COMMANDS;
      if (ok && imap->user == NULL)
        imap->user = g_strdup ("(SASL)");
    }
  if (g_strcmp0 (answered->tag, imap->idle_tag) == 0 &&
      imap->flow == IMAP_FLOW_IDLE)
    imap->flow = IMAP_FLOW_COMMANDS;
  if (!ok)
    return;
  if (answered->condstore)
    imap->condstore = TRUE;
  if (strcmp (verb, "LOGIN") == 0 || strcmp (verb, "AUTHENTICATE") == 0)
    imap->logged_in = TRUE;
  if (strcmp (verb, "SELECT") == 0 || strcmp (verb, "EXAMINE") == 0)
    g_ptr_array_add (imap->folders,
                     trace_strdup_printf (
                         "%s%s",
                         answered->mailbox != NULL ? answered->mailbox : "?",
                         verb[0] == 'E' ? " (read-only)" : ""));
  else if (g_str_has_suffix (verb, "FETCH"))
    imap->fetches++;
  else if (g_str_has_suffix (verb, "STORE"))
    imap->stores++;
  else if (strcmp (verb, "APPEND") == 0)
    imap->appends++;
  else if (strcmp (verb, "STARTTLS") == 0)
    {
      /* RFC 9051 §6.2.1: the handshake starts right after this CRLF */
      trace_event_explain (event, "plaintext ends here: TLS from the next "
                                  "octet on, both ways");
      imap->flow = IMAP_FLOW_TLS;
      imap->tls = TRUE;
      trace_session_start_tls (session);
    }
}

/* "RFC 7162 §3.1.2.1" and "RFC 9051 §7.1" come from different RFCs. */
static gboolean
same_rfc (const char *a, const char *b)
{
  const char *section = strstr (a, " §");
  gsize length = section != NULL ? (gsize) (section - a) : strlen (a);

  return strncmp (a, b, length) == 0 && (b[length] == '\0' || b[length] == ' ');
}

/* The catalog's meaning of the status and of the response code. */
static void
response_meaning (TraceEvent *event, ImapResponse *response, const char *status)
{
  const MailCatalogEntry *status_info =
      status != NULL ? imap_proto_status_info (status) : NULL;
  const MailCatalogEntry *code_info =
      response->code != NULL ? imap_proto_response_code_info (response->code)
                             : NULL;

  trace_event_meaning (event, status_info);
  trace_event_meaning (event, code_info);
  /* a code an extension defines (RFC 7162 HIGHESTMODSEQ, RFC 7888
   * TOOBIG) is read up in that extension, not in the status's RFC */
  if (status_info != NULL && code_info != NULL &&
      !same_rfc (status_info->rfc, code_info->rfc))
    trace_event_rfc (event, code_info->rfc);
}

static void
explain_response (TraceSession *session,
                  ImapTrace *imap,
                  TraceEvent *event,
                  ImapResponse *response)
{
  const char *status = imap_proto_status_name (response->status);

  if (trace_event_shown (event)) /* -q: no meaning is shown */
    response_meaning (event, response, status);
  imap_trace_response_code (session, imap, event, response);
  trace_event_field (event, "imap.response.status", status);
  trace_event_field (event, "imap.response.code", response->code);
}

/* RFC 9051 §7.5: a tagged response where a "+" was awaited refuses the
 * rest of the command: the client sends no literal (RFC 7888 §4 TOOBIG). */
static void
refuse_literal (TraceSession *session, ImapTrace *imap, TraceEvent *event)
{
  ImapTraceMessage *message = &imap->message[TRACE_CLIENT_TO_SERVER];

  session->raw_remaining[TRACE_CLIENT_TO_SERVER] = 0;
  imap->continuing[TRACE_CLIENT_TO_SERVER] = FALSE;
  imap->check_after[TRACE_CLIENT_TO_SERVER] = FALSE;
  imap->literal_wait = FALSE;
  g_clear_pointer (&imap->literal[TRACE_CLIENT_TO_SERVER], trace_message_free);
  imap_trace_message_abandon (message);
  trace_event_explain (event, "no \"+\" came, so the client does not send "
                              "the literal it announced");
}

static void
server_tagged (TraceSession *session,
               ImapTrace *imap,
               TraceEvent *event,
               ImapResponse *response)
{
  ImapPending *answered = g_hash_table_lookup (imap->pending, response->tag);

  if (answered != NULL)
    trace_event_explain (event, "completes %s %s", answered->tag,
                         answered->verb);
  else
    trace_session_lint (session, TRACE_SERVER_TO_CLIENT, "RFC 9051 §2.2.2",
                        "tagged response for tag \"%s\", which no running "
                        "command has (was its command swallowed by a "
                        "literal of the wrong length? RFC 9051 §4.3)",
                        response->tag);
  explain_response (session, imap, event, response);
  if (answered != NULL && imap->continuing[TRACE_CLIENT_TO_SERVER] &&
      imap->literal_wait && g_strcmp0 (imap->client_tag, response->tag) == 0 &&
      session->raw_remaining[TRACE_CLIENT_TO_SERVER] ==
          imap->literal_size[TRACE_CLIENT_TO_SERVER])
    refuse_literal (session, imap, event);
  trace_event_tone (event, response->status == IMAP_STATUS_OK
                               ? TRACE_TONE_OK
                               : TRACE_TONE_ERROR);
  trace_event_field (event, "imap.response.tag", response->tag);
  if (answered != NULL)
    {
      trace_event_field (event, "mw.answers", answered->verb);
      tagged_effects (session, imap, event, answered, response->status);
      g_hash_table_remove (imap->pending, response->tag);
    }
}

static void
server_untagged (TraceSession *session,
                 ImapTrace *imap,
                 TraceEvent *event,
                 ImapResponse *response)
{
  trace_event_field (event, "imap.response.tag", "*");
  if (response->status != IMAP_STATUS_NONE)
    {
      if (!imap->greeted)
        trace_event_explain (event, "the greeting");
      explain_response (session, imap, event, response);
      trace_event_tone (event, response->status == IMAP_STATUS_OK ||
                                       response->status == IMAP_STATUS_PREAUTH
                                   ? TRACE_TONE_OK
                                   : TRACE_TONE_ERROR);
      return;
    }
  if (trace_event_shown (event)) /* -q: no meaning is shown */
    trace_event_meaning (event, imap_proto_data_info (response->keyword));
  trace_event_field (event, "imap.response.command", response->keyword);
  trace_journey_imap_untagged (session, response->keyword, response->number,
                               imap->flow == IMAP_FLOW_IDLE, imap->user);
  /* RFC 9051 §6.3.13, RFC 2177: during IDLE the server speaks unasked */
  if (imap->flow == IMAP_FLOW_IDLE)
    {
      trace_event_explain (event, "pushed by the server during IDLE, "
                                  "unasked: a push inside the pull protocol");
      trace_event_field_int (event, "mw.imap.push", 1);
      trace_event_mark_push (event);
      imap->pushes++;
    }
  if (g_strcmp0 (response->keyword, "EXPUNGE") == 0)
    {
      imap->expunges++;
      /* RFC 7162 §3.2.10.2: once QRESYNC is enabled, VANISHED it is */
      if (imap->qresync && !imap->nomodseq)
        trace_session_lint (session, TRACE_SERVER_TO_CLIENT,
                            "RFC 7162 §3.2.10.2",
                            "EXPUNGE after ENABLED QRESYNC: the server "
                            "tells expunges with VANISHED (UIDs) instead");
    }
  /* RFC 7162 §7: expunged-resp = "VANISHED" [SP "(EARLIER)"] SP
   * known-uids: UIDs, and no message number before the keyword */
  if (g_strcmp0 (response->keyword, "VANISHED") == 0 && response->has_number)
    trace_session_lint (session, TRACE_SERVER_TO_CLIENT, "RFC 7162 §3.2.10",
                        "VANISHED takes no message number: \"* VANISHED "
                        "uids\", not \"* %u VANISHED\"",
                        response->number);
  g_free (imap->data_keyword);
  imap->data_keyword = g_strdup (response->keyword);
  imap->data_number = response->number;
  imap->data_has_number = response->has_number;
}

static void
server_continuation (TraceSession *session, ImapTrace *imap, TraceEvent *event)
{
  trace_event_meaning (event, imap_proto_status_info ("+"));
  trace_event_tone (event, TRACE_TONE_INTERMEDIATE);
  trace_event_field (event, "imap.response.tag", "+");
  if (imap->sasl_tag != NULL &&
      g_hash_table_contains (imap->pending, imap->sasl_tag))
    {
      imap->flow = IMAP_FLOW_SASL;
      trace_event_explain (event, "SASL challenge");
    }
  else if (imap->idle_tag != NULL &&
           g_hash_table_contains (imap->pending, imap->idle_tag))
    {
      imap->flow = IMAP_FLOW_IDLE;
      imap->idled = TRUE;
      trace_event_explain (event, "idling: news will be pushed until DONE");
    }
  else
    {
      imap->literal_wait = FALSE;
      trace_event_explain (event, "send the literal");
    }
}

/* The response is whole: an untagged data response is parsed with the
 * grammar mw-imapd writes it with and mw-imap reads it with. */
static void
server_message_done (TraceSession *session, ImapTrace *imap, TraceEvent *event)
{
  ImapTraceMessage *message = &imap->message[TRACE_SERVER_TO_CLIENT];
  g_autoptr (GPtrArray) args = NULL;
  g_autoptr (GError) error = NULL;

  if (imap->data_keyword == NULL)
    return;
  args = imap_trace_message_parse (message, TRUE, &error);
  if (args != NULL)
    imap_trace_data (session, imap, event, args);
  else if (error != NULL && !message->linted)
    trace_session_lint (session, TRACE_SERVER_TO_CLIENT, "RFC 9051 §9",
                        "the %s response does not parse: %s",
                        imap->data_keyword, error->message);
}

/* A FETCH response that is complete gets its one-line summary. */
static void
fetch_summary (TraceSession *session, ImapTrace *imap)
{
  TraceEvent *event;

  if (g_strcmp0 (imap->data_keyword, "FETCH") != 0 ||
      imap->fetch_summary->len == 0)
    return;
  event = trace_event_new (session, TRACE_SERVER_TO_CLIENT, "info");
  trace_event_explain (event, "message %u: %s", imap->data_number,
                       imap->fetch_summary->str);
  trace_event_rfc (event, "RFC 9051 §7.5.2");
  trace_event_field (event, "mw.imap.fetch", imap->fetch_summary->str);
  trace_event_emit (event);
  g_string_truncate (imap->fetch_summary, 0);
}

/* The first line of a response; TRUE if it is the whole response. */
static gboolean
server_first_line (TraceSession *session,
                   ImapTrace *imap,
                   TraceEvent *event,
                   const char *line,
                   gsize length)
{
  ImapResponse response = { 0 };
  gsize args_offset = G_MAXSIZE; /* only data responses are parsed */
  gboolean complete;

  g_clear_pointer (&imap->data_keyword, g_free);
  if (!imap_proto_parse_response (line, &response))
    {
      trace_event_explain (event, "not an IMAP response");
      trace_event_rfc (event, "RFC 9051 §7");
      trace_event_tone (event, TRACE_TONE_ERROR);
    }
  else if (response.kind == IMAP_RESPONSE_TAGGED)
    server_tagged (session, imap, event, &response);
  else if (response.kind == IMAP_RESPONSE_UNTAGGED)
    server_untagged (session, imap, event, &response);
  else
    server_continuation (session, imap, event);
  if (imap->data_keyword != NULL)
    args_offset = (gsize) (response.text - line);
  complete = imap_trace_message_begin (&imap->message[TRACE_SERVER_TO_CLIENT],
                                       line, length, args_offset);
  imap_response_clear (&response);
  return complete;
}

static void
imap_server_line (TraceSession *session,
                  ImapTrace *imap,
                  const char *line,
                  gsize length)
{
  TraceEvent *event =
      trace_event_new (session, TRACE_SERVER_TO_CLIENT, "reply");
  gboolean complete;

  trace_event_text (event, line);
  check_after_literal (session, imap, TRACE_SERVER_TO_CLIENT, line);
  if (imap->continuing[TRACE_SERVER_TO_CLIENT])
    {
      trace_event_explain (event, "the response goes on after the literal");
      complete = imap_trace_message_add_line (
          &imap->message[TRACE_SERVER_TO_CLIENT], line, length);
    }
  else
    complete = server_first_line (session, imap, event, line, length);
  imap->greeted = TRUE;
  announce_literal (session, imap, TRACE_SERVER_TO_CLIENT, event, line, length);
  if (complete)
    server_message_done (session, imap, event);
  trace_event_emit (event);
  if (complete)
    fetch_summary (session, imap);
}

static void
imap_line (TraceSession *session,
           gpointer state,
           TraceDirection direction,
           const char *line,
           gsize length,
           MailLineFlags flags)
{
  ImapTrace *imap = state;

  if (direction == TRACE_CLIENT_TO_SERVER)
    imap_client_line (session, imap, line, length, flags);
  else if (imap->flow != IMAP_FLOW_TLS)
    imap_server_line (session, imap, line, length);
}

/* Literal octets (RFC 9051 §4.3): summarised, shown only with --body. */
static void
imap_raw (TraceSession *session,
          gpointer state,
          TraceDirection direction,
          const guint8 *data,
          gsize length,
          gboolean last)
{
  ImapTrace *imap = state;
  TraceMessage *literal = imap->literal[direction];
  TraceEvent *event;

  if (literal == NULL)
    return;
  trace_message_feed (literal, data, length);
  imap_trace_message_literal_data (&imap->message[direction], data, length);
  if (!last)
    return;
  imap->check_after[direction] = TRUE;
  imap_trace_message_literal_end (&imap->message[direction], literal);
  if (imap->literal_size[direction] >= 64 || session->options->body)
    {
      event = trace_event_new (session, direction, "data");
      trace_event_explain (event, "literal");
      trace_message_describe (literal, event);
      if (session->options->body && trace_message_body (literal) != NULL &&
          (direction == TRACE_SERVER_TO_CLIENT ||
           session->options->show_secrets ||
           (g_strcmp0 (imap->client_verb, "LOGIN") != 0 &&
            g_strcmp0 (imap->client_verb, "AUTHENTICATE") != 0)))
        trace_event_text (event, trace_message_body (literal));
      trace_event_rfc (event, "RFC 9051 §4.3");
      trace_event_emit (event);
    }
  trace_journey_pulled (session, direction, literal, imap->user);
  g_clear_pointer (&imap->literal[direction], trace_message_free);
}

static void
imap_gap (TraceSession *session,
          gpointer state,
          TraceDirection direction,
          guint64 missing)
{
  ImapTrace *imap = state;

  /* what the hole held cannot be parsed */
  imap_trace_message_abandon (&imap->message[direction]);
  if (session->raw_remaining[direction] <= missing)
    imap->continuing[direction] = FALSE;
}

static void
imap_finish (TraceSession *session, gpointer state)
{
  ImapTrace *imap = state;
  TraceEvent *event = trace_event_new (session, -1, "summary");
  g_autoptr (GString) folders = g_string_new (NULL);

  for (guint i = 0; i < imap->folders->len; i++)
    g_string_append_printf (folders, "%s%s", i > 0 ? ", " : "",
                            (char *) imap->folders->pdata[i]);
  trace_event_explain (event, "pull: user \"%s\" %s",
                       imap->user != NULL ? imap->user : "-",
                       imap->logged_in ? "logged in" : "did not log in");
  trace_event_explain (event, "opened %s",
                       folders->len > 0 ? folders->str : "no folder");
  trace_event_explain (
      event,
      "%u FETCH commands: %u message bodies (%" G_GUINT64_FORMAT
      " bytes), %u headers",
      imap->fetches, imap->bodies, imap->body_bytes, imap->headers);
  trace_event_explain (event,
                       "%u STORE (flags changed), %u APPEND, %u "
                       "EXPUNGE",
                       imap->stores, imap->appends, imap->expunges);
  if (imap->vanished > 0)
    trace_event_explain (event, "%u of them told as VANISHED (by UID)",
                         imap->vanished);
  if (imap->vanished_earlier > 0)
    trace_event_explain (event,
                         "resynchronised (QRESYNC): %u VANISHED (EARLIER) "
                         "response%s",
                         imap->vanished_earlier,
                         imap->vanished_earlier == 1 ? "" : "s");
  if (imap->idled)
    trace_event_explain (event,
                         "used IDLE (server push of news): %u response%s "
                         "pushed",
                         imap->pushes, imap->pushes == 1 ? "" : "s");
  else
    trace_event_explain (event, "no IDLE");
  if (imap->tls && session->decrypted)
    trace_event_explain (event, "STARTTLS: the rest was decrypted with the "
                                "key log");
  else if (imap->tls)
    trace_event_explain (event, "STARTTLS: the rest is encrypted");
  trace_event_explain (event, "%.3f s", trace_session_elapsed (session));
  if (session->lint_count > 0)
    trace_event_explain (event, "%u lint findings", session->lint_count);
  trace_event_field (event, "mw.session", "pull");
  trace_event_field_int (event, "mw.messages", imap->bodies);
  trace_event_field_int (event, "mw.bytes", (gint64) imap->body_bytes);
  trace_event_field_int (event, "mw.lint", session->lint_count);
  trace_event_emit (event);
}

/* RFC 9051 §6.2.1: after STARTTLS the client sends its commands inside
 * TLS (and asks for CAPABILITY again). */
static void
imap_tls_readable (TraceSession *session, gpointer state)
{
  ImapTrace *imap = state;

  imap->flow = IMAP_FLOW_COMMANDS;
}

const TraceDecoder trace_decoder_imap = {
  .name = "IMAP",
  .json_name = "imap",
  .state_new = imap_trace_new,
  .state_free = imap_trace_free,
  .line = imap_line,
  .raw = imap_raw,
  .gap = imap_gap,
  .finish = imap_finish,
  .tls_readable = imap_tls_readable,
};
