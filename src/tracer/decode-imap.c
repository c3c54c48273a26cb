/* SPDX-License-Identifier: MIT
 * decode-imap.c: IMAP as the tracer sees it (RFC 9051 §2.2 tags, §4.3
 * literals, §6 commands, §7 responses; RFC 7888 non-synchronising
 * literals; RFC 2177 IDLE; RFC 4959 SASL-IR). Vocabulary and grammar come
 * from imap-proto.h, the same the server and client use.
 *
 * A command or response may span several lines joined by literals: the
 * line that ends in "{n}" is followed by n octets (handed over raw) and
 * the line after them continues the same command or response.
 * Flow state of the client:
 *   COMMANDS --AUTHENTICATE + "+"--> SASL --tagged reply--> COMMANDS
 *   COMMANDS --IDLE + "+"--> IDLE --DONE--> COMMANDS
 *   COMMANDS --STARTTLS OK--> TLS
 */
#include <string.h>

#include "imap-proto.h"
#include "trace-message.h"
#include "trace-output.h"

#define IMAP_TRACE_MAX_TAGS 4096 /* tags remembered for the reuse lint */

typedef enum
{
  IMAP_FLOW_COMMANDS,
  IMAP_FLOW_SASL, /* AUTHENTICATE exchange (RFC 9051 §6.2.2) */
  IMAP_FLOW_IDLE, /* between "+ idling" and DONE (§6.3.13) */
  IMAP_FLOW_TLS,
} ImapFlow;

typedef struct
{
  char *tag;
  char *verb; /* "FETCH", or "UID FETCH" */
  char *argument;
} ImapPending;

/* Where a FETCH response is while its items stream past (§7.5.2). */
typedef struct
{
  gboolean active;
  guint32 number;
  GString *summary;
  char *item;       /* the item whose value comes next */
  int depth;        /* parentheses open inside a value list */
  gboolean in_list; /* skipping a parenthesised value */
} ImapFetch;

typedef struct
{
  ImapFlow flow;
  GHashTable *pending;   /* tag -> ImapPending */
  GHashTable *tags_seen; /* every tag used, for the reuse lint */
  gboolean greeted;
  gboolean continuing[2];   /* the next line continues a literal line */
  gboolean check_after[2];  /* check the octet after a literal */
  TraceMessage *literal[2]; /* the literal being received, summarised */
  guint64 literal_size[2];
  ImapFetch fetch;
  char *sasl_tag;
  char *idle_tag;
  /* the pull, for the summary */
  char *user;
  char *selected;
  GPtrArray *folders; /* opened, in order */
  guint fetches;
  guint bodies;
  guint64 body_bytes;
  guint headers;
  guint stores;
  guint appends;
  guint expunges;
  gboolean idled;
  gboolean tls;
  gboolean logged_in;
  char *client_verb; /* the command the client's literals belong to */
} ImapTrace;

static void
pending_free (gpointer data)
{
  ImapPending *pending = data;

  g_free (pending->tag);
  g_free (pending->verb);
  g_free (pending->argument);
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
  imap->fetch.summary = g_string_new (NULL);
  imap->greeted = !session->flow->saw_syn; /* begun mid-session */
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
  g_string_free (imap->fetch.summary, TRUE);
  g_free (imap->fetch.item);
  trace_message_free (imap->literal[0]);
  trace_message_free (imap->literal[1]);
  g_free (imap->sasl_tag);
  g_free (imap->idle_tag);
  g_free (imap->user);
  g_free (imap->selected);
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
  guint64 size = 0;
  gboolean non_sync = FALSE;

  imap->continuing[direction] = FALSE;
  if (!imap_proto_line_literal (line, length, &size, &non_sync))
    return;
  trace_event_explain (event,
                       "%s literal of %" G_GUINT64_FORMAT " octets follows",
                       non_sync ? "a non-synchronising" : "a", size);
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
}

/* ---- FETCH items (RFC 9051 §7.5.2) -------------------------------------- */

static void fetch_note (ImapFetch *fetch, const char *format, ...)
    G_GNUC_PRINTF (2, 3);
static void
fetch_note (ImapFetch *fetch, const char *format, ...)
{
  va_list args;

  if (fetch->summary->len > 0)
    g_string_append (fetch->summary, ", ");
  va_start (args, format);
  g_string_append_vprintf (fetch->summary, format, args);
  va_end (args);
}

/* Reads an item name: an atom, with "[section]" and "<partial>". */
static const char *
fetch_read_name (const char *p, char **out_name)
{
  const char *start = p;

  while (*p != '\0' && *p != ' ' && *p != '(' && *p != ')')
    {
      if (*p == '[')
        {
          const char *close = strchr (p, ']');
          p = close != NULL ? close : p + strlen (p) - 1;
        }
      p++;
    }
  *out_name = g_ascii_strup (start, p - start);
  return p;
}

/* Skips a parenthesised value; returns where it ended, or NULL if the
 * line ended inside it (a literal inside an ENVELOPE, say). */
static const char *
fetch_skip_list (ImapFetch *fetch, const char *p)
{
  for (; *p != '\0'; p++)
    {
      if (*p == '"')
        {
          for (p++; *p != '\0' && *p != '"'; p++)
            if (*p == '\\' && p[1] != '\0')
              p++;
          if (*p == '\0')
            return NULL;
        }
      else if (*p == '(')
        fetch->depth++;
      else if (*p == ')' && --fetch->depth == 0)
        {
          fetch->in_list = FALSE;
          return p + 1;
        }
    }
  return NULL;
}

static const char *
fetch_value (ImapTrace *imap, const char *p)
{
  ImapFetch *fetch = &imap->fetch;
  const char *item = fetch->item;
  gsize length;

  if (*p == '(')
    {
      const char *start = p;
      fetch->in_list = TRUE;
      fetch->depth = 0;
      p = fetch_skip_list (fetch, p);
      if (g_strcmp0 (item, "FLAGS") == 0 && p != NULL)
        fetch_note (fetch, "FLAGS %.*s", (int) (p - start), start);
      else
        fetch_note (fetch, "%s", item);
      g_clear_pointer (&fetch->item, g_free);
      return p;
    }
  if (*p == '{')
    {
      /* the literal's size is noted when its octets have arrived */
      return p + strlen (p);
    }
  if (*p == '"')
    {
      const char *end = strchr (p + 1, '"');
      length = end != NULL ? (gsize) (end - p) + 1 : strlen (p);
    }
  else
    length = strcspn (p, " )");
  if (g_str_has_prefix (item, "BODY[") || g_str_has_prefix (item, "BINARY["))
    fetch_note (fetch, "%s %.*s", item, (int) length, p);
  else if (strcmp (item, "UID") == 0 || strcmp (item, "RFC822.SIZE") == 0 ||
           strcmp (item, "MODSEQ") == 0)
    fetch_note (fetch, "%s %.*s", item, (int) length, p);
  else
    fetch_note (fetch, "%s", item);
  g_clear_pointer (&fetch->item, g_free);
  return p + length;
}

/* Reads FETCH items from @p up to the end of the line or of the response. */
static void
fetch_scan (ImapTrace *imap, const char *p)
{
  ImapFetch *fetch = &imap->fetch;

  if (fetch->in_list && (p = fetch_skip_list (fetch, p)) == NULL)
    return;
  while (p != NULL && *p != '\0' && fetch->active)
    {
      if (*p == ' ' || (*p == '(' && fetch->item == NULL))
        p++;
      else if (*p == ')')
        {
          fetch->active = FALSE;
          return;
        }
      else if (fetch->item == NULL)
        p = fetch_read_name (p, &fetch->item);
      else
        p = fetch_value (imap, p);
    }
}

static void
fetch_literal_done (ImapTrace *imap, TraceMessage *literal, guint64 size)
{
  ImapFetch *fetch = &imap->fetch;
  const char *item = fetch->item != NULL ? fetch->item : "literal";

  if (!fetch->active)
    return;
  if (fetch->in_list)
    return; /* a string inside ENVELOPE: part of that item */
  fetch_note (fetch, "%s %" G_GUINT64_FORMAT " bytes", item, size);
  if (g_str_has_prefix (item, "BODY[") || g_str_has_prefix (item, "RFC822"))
    {
      gboolean header = g_strrstr (item, "HEADER") != NULL;
      if (header)
        imap->headers++;
      else
        {
          imap->bodies++;
          imap->body_bytes += size;
        }
      if (trace_message_subject (literal) != NULL)
        fetch_note (fetch, "Subject: %s", trace_message_subject (literal));
    }
  g_clear_pointer (&fetch->item, g_free);
}

/* ---- client
 * ------------------------------------------------------------------ */

static char *
masked_command (TraceSession *session,
                const char *line,
                const char *verb,
                const char *arguments)
{
  const char *space;

  if (session->options->show_secrets)
    return g_strdup (line);
  if (strcmp (verb, "LOGIN") == 0 && (space = strchr (arguments, ' ')))
    return g_strdup_printf ("%.*s ***", (int) (space - line), line);
  if (strcmp (verb, "AUTHENTICATE") == 0 && (space = strchr (arguments, ' ')))
    return g_strdup_printf ("%.*s ***", (int) (space - line), line);
  return g_strdup (line);
}

static void
client_effects (TraceSession *session,
                ImapTrace *imap,
                TraceEvent *event,
                const char *tag,
                const char *verb,
                const char *arguments)
{
  if (strcmp (verb, "LOGIN") == 0)
    {
      g_free (imap->user);
      imap->user = g_strndup (arguments, strcspn (arguments, " "));
      trace_event_explain (event, "the password travels in plaintext "
                                  "unless under TLS");
    }
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

static void
client_command (TraceSession *session,
                ImapTrace *imap,
                const char *line,
                gsize length)
{
  g_autofree char *tag = NULL;
  g_autofree char *verb = NULL;
  g_autofree char *shown = NULL;
  g_autofree char *full_verb = NULL;
  const char *arguments = "";
  TraceEvent *event =
      trace_event_new (session, TRACE_CLIENT_TO_SERVER, "command");
  ImapPending *pending;

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
  shown = masked_command (session, line, verb, arguments);
  trace_event_text (event, shown);
  trace_event_meaning (event, imap_proto_command_info (verb));
  if (strcmp (verb, "UID") == 0)
    trace_event_meaning (event, imap_proto_command_info (full_verb + 4));
  trace_event_field (event, "imap.request.tag", tag);
  /* Wireshark names the command after UID ("UID FETCH" is FETCH) */
  trace_event_field (event, "imap.request.command",
                     strcmp (verb, "UID") == 0 ? full_verb + 4 : verb);
  if (strcmp (verb, "UID") == 0)
    trace_event_field_int (event, "mw.imap.uid", 1);
  client_effects (session, imap, event, tag, verb, arguments);
  g_free (imap->client_verb);
  imap->client_verb = g_strdup (verb);
  pending = g_new0 (ImapPending, 1);
  pending->tag = g_strdup (tag);
  pending->verb = g_steal_pointer (&full_verb);
  pending->argument = g_strndup (arguments, strcspn (arguments, "{"));
  g_hash_table_replace (imap->pending, pending->tag, pending);
  announce_literal (session, imap, TRACE_CLIENT_TO_SERVER, event, line, length);
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
    {
      TraceEvent *event =
          trace_event_new (session, TRACE_CLIENT_TO_SERVER, "command");
      trace_event_text (event, line);
      trace_event_explain (event, "the command goes on after the literal");
      announce_literal (session, imap, TRACE_CLIENT_TO_SERVER, event, line,
                        length);
      trace_event_emit (event);
      return;
    }
  if (imap->flow == IMAP_FLOW_IDLE || imap->flow == IMAP_FLOW_SASL)
    client_special (session, imap, line);
  else
    client_command (session, imap, line, length);
}

/* ---- server
 * -------------------------------------------------------------------- */

static void
tagged_effects (TraceSession *session,
                ImapTrace *imap,
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
  if (strcmp (verb, "LOGIN") == 0 || strcmp (verb, "AUTHENTICATE") == 0)
    imap->logged_in = TRUE;
  if (strcmp (verb, "SELECT") == 0 || strcmp (verb, "EXAMINE") == 0)
    {
      g_free (imap->selected);
      imap->selected = g_strdup (answered->argument);
      g_ptr_array_add (imap->folders,
                       g_strdup_printf ("%s%s", answered->argument,
                                        verb[0] == 'E' ? " (read-only)" : ""));
    }
  else if (g_str_has_suffix (verb, "FETCH"))
    imap->fetches++;
  else if (g_str_has_suffix (verb, "STORE"))
    imap->stores++;
  else if (strcmp (verb, "APPEND") == 0)
    imap->appends++;
  else if (strcmp (verb, "STARTTLS") == 0)
    {
      imap->flow = IMAP_FLOW_TLS;
      imap->tls = TRUE;
      trace_session_start_tls (session);
    }
}

static void
explain_response (TraceEvent *event, ImapResponse *response)
{
  const char *status = imap_proto_status_name (response->status);

  if (status != NULL)
    trace_event_meaning (event, imap_proto_status_info (status));
  if (response->code != NULL)
    trace_event_meaning (event, imap_proto_response_code_info (response->code));
  trace_event_field (event, "imap.response.status", status);
  trace_event_field (event, "imap.response.code", response->code);
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
  explain_response (event, response);
  trace_event_tone (event, response->status == IMAP_STATUS_OK
                               ? TRACE_TONE_OK
                               : TRACE_TONE_ERROR);
  trace_event_field (event, "imap.response.tag", response->tag);
  if (answered != NULL)
    {
      trace_event_field (event, "mw.answers", answered->verb);
      tagged_effects (session, imap, answered, response->status);
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
      explain_response (event, response);
      trace_event_tone (event, response->status == IMAP_STATUS_OK ||
                                       response->status == IMAP_STATUS_PREAUTH
                                   ? TRACE_TONE_OK
                                   : TRACE_TONE_ERROR);
      return;
    }
  trace_event_meaning (event, imap_proto_data_info (response->keyword));
  trace_event_field (event, "imap.response.command", response->keyword);
  if (g_strcmp0 (response->keyword, "EXPUNGE") == 0)
    imap->expunges++;
  if (g_strcmp0 (response->keyword, "FETCH") == 0)
    {
      imap->fetch.active = TRUE;
      imap->fetch.number = response->number;
      imap->fetch.in_list = FALSE;
      g_string_truncate (imap->fetch.summary, 0);
      g_clear_pointer (&imap->fetch.item, g_free);
      fetch_scan (imap, response->text);
    }
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
    trace_event_explain (event, "send the literal");
}

/* A FETCH response that is complete gets its one-line summary. */
static void
fetch_summary (TraceSession *session, ImapTrace *imap)
{
  TraceEvent *event;

  if (imap->fetch.active || imap->fetch.summary->len == 0)
    return;
  event = trace_event_new (session, TRACE_SERVER_TO_CLIENT, "info");
  trace_event_explain (event, "message %u: %s", imap->fetch.number,
                       imap->fetch.summary->str);
  trace_event_rfc (event, "RFC 9051 §7.5.2");
  trace_event_field (event, "mw.imap.fetch", imap->fetch.summary->str);
  trace_event_emit (event);
  g_string_truncate (imap->fetch.summary, 0);
}

static void
imap_server_line (TraceSession *session,
                  ImapTrace *imap,
                  const char *line,
                  gsize length)
{
  TraceEvent *event =
      trace_event_new (session, TRACE_SERVER_TO_CLIENT, "reply");
  ImapResponse response = { 0 };

  trace_event_text (event, line);
  check_after_literal (session, imap, TRACE_SERVER_TO_CLIENT, line);
  if (imap->continuing[TRACE_SERVER_TO_CLIENT])
    {
      trace_event_explain (event, "the response goes on after the literal");
      if (imap->fetch.active)
        fetch_scan (imap, line);
    }
  else if (!imap_proto_parse_response (line, &response))
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
  imap->greeted = TRUE;
  announce_literal (session, imap, TRACE_SERVER_TO_CLIENT, event, line, length);
  trace_event_emit (event);
  imap_response_clear (&response);
  if (!imap->continuing[TRACE_SERVER_TO_CLIENT])
    {
      imap->fetch.active = FALSE;
      fetch_summary (session, imap);
    }
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
  if (!last)
    return;
  imap->check_after[direction] = TRUE;
  if (direction == TRACE_SERVER_TO_CLIENT)
    fetch_literal_done (imap, literal, imap->literal_size[direction]);
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
  g_clear_pointer (&imap->literal[direction], trace_message_free);
}

static void
imap_gap (TraceSession *session,
          gpointer state,
          TraceDirection direction,
          guint64 missing)
{
  ImapTrace *imap = state;

  if (session->raw_remaining[direction] <= missing)
    {
      imap->continuing[direction] = FALSE;
      imap->fetch.active = FALSE;
    }
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
  trace_event_explain (event, imap->idled ? "used IDLE (server push of news)"
                                          : "no IDLE");
  if (imap->tls)
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

const TraceDecoder trace_decoder_imap = {
  .name = "IMAP",
  .json_name = "imap",
  .state_new = imap_trace_new,
  .state_free = imap_trace_free,
  .line = imap_line,
  .raw = imap_raw,
  .gap = imap_gap,
  .finish = imap_finish,
};
