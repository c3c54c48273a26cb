/* SPDX-License-Identifier: MIT
 * mw-imap-client.h: the small IMAP client the integration tests drive
 * mw-imapd with, written once: one command out, every response back up
 * to its tagged one, literals included (read with the shared grammar,
 * imap_read_message ()). Every step asserts; the stream's 30 s timeout
 * bounds every wait.
 */
#pragma once

#include "imap-parser.h"
#include "mail-line.h"

G_BEGIN_DECLS

typedef struct
{
  MailStream *stream;
  ImapAssembler assembler;
  guint next_tag; /* the last tag used was "t<next_tag>" */
} MwImapClient;

/* Connects to 127.0.0.1:@port and reads the greeting, which must be an
 * OK with the capabilities (RFC 9051 §7.1.1). */
MwImapClient *mw_imap_client_connect (guint16 port);
/* Connects, LOGIN alice, and SELECT @mailbox (read-write) unless NULL. */
MwImapClient *mw_imap_client_login (guint16 port, const char *mailbox);
void mw_imap_client_free (MwImapClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MwImapClient, mw_imap_client_free)

/* Sends @line as it is, with CRLF. */
void mw_imap_client_send (MwImapClient *client, const char *line);
/* One whole response (transfer full). */
char *mw_imap_client_read (MwImapClient *client);
/* Sends "tN @command"; returns every response up to and including the
 * tagged one, joined by "\n" (transfer full). */
char *mw_imap_client_command (MwImapClient *client, const char *command);
/* The same, and the tagged response must be OK. */
char *mw_imap_client_ok (MwImapClient *client, const char *command);
/* The tagged line: the last of @responses (transfer none). */
const char *mw_imap_tagged (const char *responses);

G_END_DECLS
