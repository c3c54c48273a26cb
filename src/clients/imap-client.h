/* SPDX-License-Identifier: MIT
 * imap-client.h: the client side of IMAP (RFC 9051; RFC 3501 servers
 * too), used by mw-imap: tagged commands, untagged responses handled as
 * they come, literals both ways (RFC 7888 LITERAL+/LITERAL- when offered,
 * synchronising otherwise), STARTTLS (§6.2.1) and implicit TLS (RFC
 * 8314), AUTHENTICATE PLAIN/LOGIN with SASL-IR (RFC 4959) or LOGIN, ENABLE
 * (RFC 5161), IDLE (RFC 2177) and CONDSTORE/QRESYNC (RFC 7162).
 *
 * Every response is read whole, literals included, with the one IMAP
 * grammar of libmailwire (imap_read_message (), imap_parse_response_args
 * ()), the same code mw-imapd and mw-trace use.
 *
 * IMAP is not request/response: the server may send EXISTS, EXPUNGE,
 * VANISHED and FETCH FLAGS at any time, before any tagged reply (RFC 9051
 * §7, §5.2). The client keeps a view of the selected mailbox (its message
 * count and the UID of each sequence number) up to date from them, and
 * passes each untagged response to the caller's handler as it comes.
 */
#pragma once

#include <gio/gio.h>

#include "imap-parser.h"
#include "imap-proto.h"

G_BEGIN_DECLS

#define IMAP_CLIENT_ERROR (imap_client_error_quark ())
typedef enum
{
  IMAP_CLIENT_ERROR_NO,          /* tagged NO; the message has its text */
  IMAP_CLIENT_ERROR_BAD,         /* tagged BAD: we broke the grammar */
  IMAP_CLIENT_ERROR_BYE,         /* the server said BYE and closed */
  IMAP_CLIENT_ERROR_AUTH,        /* login refused */
  IMAP_CLIENT_ERROR_PROTOCOL,    /* the server broke the grammar */
  IMAP_CLIENT_ERROR_UNSUPPORTED, /* the server lacks what was asked */
} ImapClientError;
GQuark imap_client_error_quark (void);

/* The largest response accepted (a FETCH BODY[] of one big message). */
#define IMAP_CLIENT_MAX_RESPONSE (256u << 20)

typedef enum
{
  IMAP_AUTH_AUTO,          /* AUTHENTICATE PLAIN if offered, else LOGIN */
  IMAP_AUTH_PLAIN,         /* RFC 9051 §6.2.2 + RFC 4616, initial response when
                            * SASL-IR is offered (RFC 4959) */
  IMAP_AUTH_LOGIN,         /* AUTHENTICATE LOGIN (draft-murchison-sasl-login) */
  IMAP_AUTH_LOGIN_COMMAND, /* RFC 9051 §6.2.3 LOGIN user password */
} ImapAuthMethod;

/* One whole response. For untagged data ("* 3 FETCH (...)", "* LIST ...")
 * @args holds its arguments after the keyword (and number), parsed; for
 * status responses and continuations @args is empty and
 * @response.text is the human-readable text. */
typedef struct
{
  ImapResponse response; /* kind, tag, status, [code args], keyword ... */
  GPtrArray *args;       /* of ImapArg (transfer full) */
  char *message;         /* the whole response as received, NUL-ended;
                          * response.text points into it */
  gsize length;          /* octets in message */
} ImapReply;

void imap_reply_free (ImapReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImapReply, imap_reply_free)

/* The selected mailbox as the server last described it (RFC 9051 §6.3.2
 * SELECT responses, kept up to date by EXISTS, EXPUNGE, VANISHED). */
typedef struct
{
  char *name; /* UTF-8, as the caller gave it */
  gboolean read_only;
  guint32 exists; /* messages: the highest sequence number */
  guint32 recent; /* rev1 servers only (RECENT) */
  guint32 uidvalidity;
  guint32 uidnext;
  guint64 highest_modseq; /* 0: the mailbox has no MODSEQ (NOMODSEQ) */
  GStrv flags;            /* FLAGS: the flags the mailbox knows */
  GStrv permanent_flags;  /* PERMANENTFLAGS; NULL if not sent */
  GArray *uids;           /* guint32: the UID of sequence number i + 1, 0 while
                           * unknown (after an EXISTS, until a FETCH names it) */
} ImapMailbox;

/* Each line sent or received: @meaning is the catalog sentence or NULL.
 * Credentials are shown as "***"; literals are not traced octet by octet. */
typedef void (*ImapClientTraceFunc) (gboolean from_server,
                                     const char *line,
                                     const char *meaning,
                                     gpointer user_data);

typedef struct _ImapClient ImapClient;

/* Called for every untagged response, as it arrives, before the client
 * applies it to its mailbox view: for "* 5 EXPUNGE" the UID of message
 * 5 is still imap_client_uid_of (client, 5). */
typedef void (*ImapClientUntaggedFunc) (ImapClient *client,
                                        const ImapReply *reply,
                                        gpointer user_data);

/* Connects to @host:@port (TLS from the first byte with @implicit_tls,
 * RFC 8314 §3.3) and reads the greeting (RFC 9051 §7.1.1 OK or PREAUTH;
 * BYE fails). Learns the capabilities from the greeting or asks
 * CAPABILITY. @trace may be NULL. @timeout in seconds (0: none). */
ImapClient *imap_client_connect (const char *host,
                                 guint16 port,
                                 gboolean implicit_tls,
                                 const char *ca_file,
                                 gboolean insecure,
                                 guint timeout,
                                 ImapClientTraceFunc trace,
                                 gpointer trace_data,
                                 GError **error);
void imap_client_free (ImapClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImapClient, imap_client_free)

void imap_client_set_untagged_handler (ImapClient *client,
                                       ImapClientUntaggedFunc func,
                                       gpointer user_data);

/* RFC 9051 §6.2.1: STARTTLS, the handshake (verifying the certificate
 * for the host name given to connect, against @ca_file or the system
 * store), then CAPABILITY again (what was said in clear is forgotten).
 * IMAP_CLIENT_ERROR_UNSUPPORTED when not offered. */
gboolean imap_client_starttls (ImapClient *client,
                               const char *ca_file,
                               gboolean insecure,
                               GError **error);
gboolean imap_client_is_tls (ImapClient *client);

/* TRUE if the last capability list held @name (case-insensitive),
 * e.g. "IDLE", "AUTH=PLAIN". */
gboolean imap_client_has_capability (ImapClient *client, const char *name);
/* TRUE once ENABLE answered ENABLED @name ("CONDSTORE", "QRESYNC",
 * "UTF8=ACCEPT", "IMAP4rev2"). */
gboolean imap_client_is_enabled (ImapClient *client, const char *name);

/* Logs in (the authenticated state afterwards) and learns the new
 * capabilities; after a PREAUTH greeting there is nothing to do. Errors:
 * IMAP_CLIENT_ERROR_AUTH, _UNSUPPORTED (the method is not offered, or
 * LOGINDISABLED), I/O. */
gboolean imap_client_login (ImapClient *client,
                            ImapAuthMethod method,
                            const char *user,
                            const char *password,
                            GError **error);

/* RFC 5161: ENABLE each of @extensions (NULL-terminated) the server
 * advertises; the others are left out, and it is no error when none is
 * left. Ask imap_client_is_enabled () afterwards. */
gboolean imap_client_enable (ImapClient *client,
                             const char *const *extensions,
                             GError **error);

/* Runs one command: @command is everything after the tag, and may hold
 * literals in the form imap_append_string () writes ("{n}" CRLF octets),
 * which go out as LITERAL+ / LITERAL- allows, or after the server's "+".
 * Every untagged response on the way goes to the handler and the view,
 * and, if @out_untagged is not NULL, into it (a GPtrArray of ImapReply,
 * transfer full). Returns the tagged reply, whatever its status (OK, NO
 * or BAD); NULL only for I/O and grammar failures or BYE. */
ImapReply *imap_client_command (ImapClient *client,
                                const char *command,
                                gsize length,
                                GPtrArray **out_untagged,
                                GError **error);
/* The same, turning a NO or BAD into IMAP_CLIENT_ERROR_NO / _BAD. */
ImapReply *imap_client_command_ok (ImapClient *client,
                                   const char *command,
                                   gsize length,
                                   GPtrArray **out_untagged,
                                   GError **error);
/* printf-style: imap_client_run (client, NULL, &error, "UID FETCH %u
 * FLAGS", uid). Only for commands with no literals and no text from
 * outside (quote mailbox names with imap_client_append_mailbox ()). */
ImapReply *imap_client_run (ImapClient *client,
                            GPtrArray **out_untagged,
                            GError **error,
                            const char *format,
                            ...) G_GNUC_PRINTF (4, 5);

/* Appends @name (UTF-8) as a mailbox argument: quoted UTF-8 once
 * UTF8=ACCEPT is enabled (RFC 6855 §3), modified UTF-7 otherwise (RFC
 * 3501 §5.1.3), a literal when it must be. */
void
imap_client_append_mailbox (ImapClient *client, GString *out, const char *name);
/* A mailbox name as the server sent it -> UTF-8 (transfer full). A name
 * that is not valid modified UTF-7 is returned as sent. */
char *imap_client_decode_mailbox (ImapClient *client, const char *name);

/* RFC 9051 §6.3.2 SELECT (§6.3.3 EXAMINE with @read_only). @parameters
 * (or NULL) goes in parentheses after the name: "CONDSTORE", or "QRESYNC
 * (uidvalidity modseq)" (RFC 7162 §3.2.5). The view is reset and filled;
 * the responses that came (VANISHED (EARLIER), FETCH) went through the
 * handler, and, with @out_untagged, are there too. */
gboolean imap_client_select (ImapClient *client,
                             const char *name,
                             gboolean read_only,
                             const char *parameters,
                             GPtrArray **out_untagged,
                             GError **error);
/* (transfer none) NULL when no mailbox is selected. */
const ImapMailbox *imap_client_get_mailbox (ImapClient *client);
/* Asks FETCH 1:* (UID), so that every sequence number of the view has
 * its UID (§7.5.1: no EXPUNGE during FETCH, so the answer is whole). */
gboolean imap_client_load_uids (ImapClient *client, GError **error);
/* The UID of sequence number @seq, 0 if unknown or out of range. */
guint32 imap_client_uid_of (ImapClient *client, guint32 seq);

/* RFC 9051 §6.3.12 APPEND @message (octets as they are, CRLF line ends)
 * into @mailbox with @flags ("\\Seen \\Flagged", or NULL) and the
 * INTERNALDATE @internal_date (Unix seconds; 0: the server's now). With
 * UIDPLUS, *out_uid gets the new UID (RFC 4315 §3 APPENDUID; 0 when not
 * sent) and *out_uidvalidity the mailbox's. */
gboolean imap_client_append (ImapClient *client,
                             const char *mailbox,
                             const char *flags,
                             gint64 internal_date,
                             GBytes *message,
                             guint32 *out_uidvalidity,
                             guint32 *out_uid,
                             GError **error);

/* IDLE (RFC 2177; RFC 9051 §6.3.13). Start: sends IDLE and waits for the
 * "+" (untagged responses before it are handled). */
gboolean imap_client_idle_start (ImapClient *client, GError **error);

typedef enum
{
  IMAP_IDLE_PUSHED,    /* an untagged response arrived and was handled */
  IMAP_IDLE_TIMEOUT,   /* nothing for @seconds: time to renew the IDLE */
  IMAP_IDLE_CANCELLED, /* @cancellable fired (Ctrl-C) */
  IMAP_IDLE_FAILED,    /* I/O error, BYE, grammar: see @error */
} ImapIdleResult;

/* Waits up to @seconds for one response from the server while idling. */
ImapIdleResult imap_client_idle_wait (ImapClient *client,
                                      guint seconds,
                                      GCancellable *cancellable,
                                      GError **error);
/* Sends DONE and reads up to IDLE's tagged OK. */
gboolean imap_client_idle_done (ImapClient *client, GError **error);

/* Commands sent so far (the tags used): round trips, for summaries. */
guint imap_client_get_command_count (ImapClient *client);

/* RFC 9051 §6.1.3: LOGOUT; reads the BYE and the tagged OK. */
gboolean imap_client_logout (ImapClient *client, GError **error);

/* ---- reading responses ------------------------------------------- */

/* In a FETCH response's list, the value after the item named @name
 * (case-insensitive: "UID", "FLAGS", "MODSEQ", "ENVELOPE"). A name
 * ending in "[" matches any section of it ("BODY[" finds
 * "BODY[HEADER.FIELDS (FROM)]"). NULL if absent (transfer none). */
const ImapArg *imap_reply_fetch_item (const ImapReply *reply, const char *name);
/* The number of a FETCH item ("UID 7" -> 7; "MODSEQ (9)" -> 9). */
gboolean imap_reply_fetch_number (const ImapReply *reply,
                                  const char *name,
                                  guint64 *out_number);
/* TRUE if @reply carries the response code @code ("[COPYUID ...]"). */
gboolean imap_reply_has_code (const ImapReply *reply, ImapCode code);
/* TRUE if the untagged data response is @keyword ("FETCH", "LIST"). */
gboolean imap_reply_is (const ImapReply *reply, const char *keyword);
/* The list's atoms joined by spaces: "(\\Seen \\Flagged)" ->
 * "\\Seen \\Flagged" (transfer full). */
char *imap_arg_join_atoms (const ImapArg *list);

G_END_DECLS
