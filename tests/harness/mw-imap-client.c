/* SPDX-License-Identifier: MIT
 * mw-imap-client.c: the tests' IMAP client (see the header).
 */
#include "mw-imap-client.h"

#include <string.h>

#include "mail-net.h"

#define MW_IMAP_CLIENT_MAX_RESPONSE (64 * 1024 * 1024)

MwImapClient *
mw_imap_client_connect (guint16 port)
{
  g_autoptr (GError) error = NULL;
  MwImapClient *client = g_new0 (MwImapClient, 1);
  g_autofree char *greeting = NULL;

  client->stream = mail_net_connect ("127.0.0.1", port, FALSE, NULL, FALSE,
                                     MAIL_LINE_MAX_IMAP, 30, NULL, &error);
  g_assert_no_error (error);
  imap_assembler_init (&client->assembler, MW_IMAP_CLIENT_MAX_RESPONSE);
  greeting = mw_imap_client_read (client);
  g_assert_true (g_str_has_prefix (greeting, "* OK [CAPABILITY "));
  return client;
}

MwImapClient *
mw_imap_client_login (guint16 port, const char *mailbox)
{
  MwImapClient *client = mw_imap_client_connect (port);
  g_autofree char *command = NULL;

  g_free (mw_imap_client_ok (client, "LOGIN alice alice-secret"));
  if (mailbox != NULL)
    {
      g_autofree char *selected = NULL;

      command = g_strdup_printf ("SELECT %s", mailbox);
      selected = mw_imap_client_ok (client, command);
      g_assert_nonnull (strstr (mw_imap_tagged (selected), "OK [READ-WRITE]"));
    }
  return client;
}

void
mw_imap_client_free (MwImapClient *client)
{
  mail_stream_free (client->stream);
  imap_assembler_clear (&client->assembler);
  g_free (client);
}

void
mw_imap_client_send (MwImapClient *client, const char *line)
{
  g_autoptr (GError) error = NULL;

  mail_stream_write_line (client->stream, line);
  g_assert_true (mail_stream_flush (client->stream, NULL, &error));
  g_assert_no_error (error);
}

char *
mw_imap_client_read (MwImapClient *client)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *first = NULL;
  MailLineFlags flags = 0;

  g_assert_true (imap_read_message (client->stream, &client->assembler, NULL,
                                    NULL, &first, &flags, NULL, &error));
  g_assert_no_error (error);
  return g_strndup ((const char *) client->assembler.message->data,
                    client->assembler.message->len);
}

char *
mw_imap_client_command (MwImapClient *client, const char *command)
{
  g_autofree char *prefix = g_strdup_printf ("t%u ", ++client->next_tag);
  g_autofree char *line = g_strconcat (prefix, command, NULL);
  g_autoptr (GString) all = g_string_new (NULL);

  mw_imap_client_send (client, line);
  for (;;)
    {
      g_autofree char *response = mw_imap_client_read (client);

      g_string_append_printf (all, "%s%s", all->len ? "\n" : "", response);
      if (g_str_has_prefix (response, prefix))
        return g_string_free (g_steal_pointer (&all), FALSE);
    }
}

char *
mw_imap_client_ok (MwImapClient *client, const char *command)
{
  char *responses = mw_imap_client_command (client, command);
  g_autofree char *ok = g_strdup_printf ("t%u OK", client->next_tag);
  /* TAP carries UTF-8 only: a message's 8-bit octets are shown as U+FFFD */
  g_autofree char *shown = g_utf8_make_valid (responses, -1);

  g_test_message ("mw-imapd was asked: %s\nand answered:\n%s",
                  g_str_has_prefix (command, "LOGIN ") ? "LOGIN ***" : command,
                  shown);
  g_assert_true (g_str_has_prefix (mw_imap_tagged (responses), ok));
  return responses;
}

const char *
mw_imap_tagged (const char *responses)
{
  const char *last = strrchr (responses, '\n');

  return last ? last + 1 : responses;
}
