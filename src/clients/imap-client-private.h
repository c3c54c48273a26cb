/* SPDX-License-Identifier: MIT
 * imap-client-private.h: what the three files of the IMAP client share:
 * imap-client.c (connection, responses, commands and their literals),
 * imap-client-view.c (the mailbox view) and imap-client-session.c (login,
 * SELECT, APPEND, IDLE, LOGOUT). Not for programs: they use imap-client.h.
 */
#pragma once

#include "imap-client.h"
#include "mail-line.h"

struct _ImapClient
{
  MailStream *stream;
  char *host;
  guint timeout;
  ImapAssembler assembler;
  GPtrArray *capabilities; /* the atoms of the last CAPABILITY */
  GPtrArray *enabled;      /* what ENABLED named (RFC 5161 §3.2) */
  guint next_tag;
  char *tag;            /* the tag of the command running, or NULL */
  char *verb;           /* its verb, for the trace ("reply to SELECT") */
  ImapMailbox *mailbox; /* the selected mailbox, or NULL */
  char *bye;            /* the text of a BYE, once one came */
  gboolean logging_out;
  gboolean preauth; /* the greeting was PREAUTH (RFC 9051 §7.1.4) */
  /* the caller's handler of untagged responses */
  ImapClientUntaggedFunc untagged;
  gpointer untagged_data;
  /* --trace */
  ImapClientTraceFunc trace;
  gpointer trace_data;
  gsize mask_after;   /* > 0: the lines of the command being sent show only
                       * their first mask_after octets, then "***" */
  gboolean mask_line; /* the next line sent is a SASL response: "***" */
};

/* Reads one whole response, parses it and, if untagged, handles it (the
 * view, the caller's handler). Fails on BYE followed by a close (error
 * IMAP_CLIENT_ERROR_BYE with the server's text). (transfer full) */
ImapReply *imap_client_read_reply (ImapClient *client,
                                   GCancellable *cancellable,
                                   GError **error);
/* "A7": a fresh tag for the next command (transfer none, valid until the
 * next call). */
const char *imap_client_new_tag (ImapClient *client, const char *verb);
/* Reads responses up to the tagged one of the running command. */
ImapReply *imap_client_wait_tagged (ImapClient *client,
                                    GPtrArray **out_untagged,
                                    GError **error);
/* Turns a tagged NO/BAD into an error; TRUE for OK. */
gboolean imap_client_check_ok (const ImapReply *reply, GError **error);
/* Takes the capabilities from a CAPABILITY response code, if @reply has
 * one; FALSE if not. */
gboolean imap_client_take_capability_code (ImapClient *client,
                                           const ImapReply *reply);
/* Asks CAPABILITY (RFC 9051 §6.1.1). */
gboolean imap_client_capability (ImapClient *client, GError **error);
void imap_mailbox_free (ImapMailbox *mailbox);
/* imap-client-view.c: applies a status response's code (UIDVALIDITY,
 * UIDNEXT, HIGHESTMODSEQ, READ-ONLY ...) or an untagged data response
 * (EXISTS, EXPUNGE, VANISHED, FETCH, FLAGS) to the view. */
void imap_mailbox_apply_code (ImapMailbox *mailbox, const ImapReply *reply);
void imap_mailbox_apply_data (ImapMailbox *mailbox, const ImapReply *reply);
