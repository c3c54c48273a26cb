/* SPDX-License-Identifier: MIT
 * test-smtp-client.c: the SMTP client library against a scripted fake
 * server in the same process (RFC 5321 §4.1, §4.2, §4.5.2; RFC 2920 §3.1;
 * RFC 4954 §4).
 *
 * The fake server runs a script in its own thread:
 *   "> TEXT"  writes TEXT and CRLF (TEXT may hold several CRLF lines)
 *   "~ TEXT"  the same, one octet per write
 *   "<"       reads one line into the transcript
 *   "<."      reads lines into the transcript up to the lone "."
 *   "<#"      reads a "BDAT <size>[ LAST]" line and its chunk: both go to
 *             the transcript, the chunk as "[N octets] TEXT" (TEXT only
 *             when short)
 * Each case compares the transcript with what the client should have sent.
 * A pipelined case reads MAIL, the RCPTs and DATA before it answers
 * anything: a client that waited for replies would time out instead.
 */
#include <string.h>

#include "mail-line.h"
#include "smtp-client.h"
#include "smtp-proto.h"

#define GREETING "> 220 fake.test ESMTP ready"
#define EHLO_PIPELINING                                                        \
  "<", "> 250-fake.test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n"              \
       "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES"
#define EHLO_PLAIN "<", "> 250-fake.test\r\n250 8BITMIME"
#define QUIT "<", "> 221 2.0.0 bye"

typedef struct
{
  GSocketListener *listener;
  guint16 port;
  const char *const *script;
  GPtrArray *transcript;
  GThread *thread;
} FakeServer;

static void
fake_server_read_text (MailStream *stream, GPtrArray *transcript)
{
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *line = NULL;
      gsize length = 0;
      MailLineFlags flags = 0;

      if (!mail_stream_read_line (stream, &line, &length, &flags, NULL, NULL))
        return;
      g_ptr_array_add (transcript, g_strdup (line));
      if (g_str_equal (line, "."))
        return;
    }
}

/* RFC 3030 §2: the BDAT line, then exactly the octets it announced. */
static void
fake_server_read_chunk (MailStream *stream, GPtrArray *transcript)
{
  g_autofree char *line = NULL;
  g_autoptr (GBytes) chunk = NULL;
  gsize length = 0;
  MailLineFlags flags = 0;
  guint64 size = 0;
  gsize got = 0;
  const char *octets = NULL;

  if (!mail_stream_read_line (stream, &line, &length, &flags, NULL, NULL))
    return;
  g_ptr_array_add (transcript, g_strdup (line));
  if (!g_str_has_prefix (line, "BDAT "))
    return;
  size = g_ascii_strtoull (line + 5, NULL, 10);
  chunk = mail_stream_read_exact (stream, size, 8 * 1024 * 1024, NULL, NULL);
  if (chunk == NULL)
    return;
  octets = g_bytes_get_data (chunk, &got);
  g_ptr_array_add (transcript, got <= 200
                                   ? g_strdup_printf ("[%zu octets] %.*s", got,
                                                      (int) got, octets)
                                   : g_strdup_printf ("[%zu octets]", got));
}

static gpointer
fake_server_run (gpointer data)
{
  FakeServer *server = data;
  g_autoptr (GSocketConnection) connection =
      g_socket_listener_accept (server->listener, NULL, NULL, NULL);
  g_autoptr (MailStream) stream = NULL;

  if (connection == NULL)
    return NULL;
  stream = mail_stream_new (G_IO_STREAM (connection), 1000);
  mail_stream_set_timeout (stream, 5);
  for (guint i = 0; server->script[i] != NULL; i++)
    {
      const char *step = server->script[i];
      g_autofree char *line = NULL;
      gsize length = 0;
      MailLineFlags flags = 0;

      if (step[0] == '~')
        {
          /* Trickle: one octet per write, so the client's reads see
           * every possible split of the reply. */
          g_autofree char *text = g_strconcat (step + 2, "\r\n", NULL);

          for (const char *p = text; *p != '\0'; p++)
            {
              mail_stream_write (stream, p, 1);
              if (!mail_stream_flush (stream, NULL, NULL))
                break;
            }
        }
      else if (step[0] == '>')
        {
          mail_stream_write (stream, step + 2, strlen (step + 2));
          mail_stream_write (stream, "\r\n", 2);
          if (!mail_stream_flush (stream, NULL, NULL))
            break;
        }
      else if (g_str_equal (step, "<."))
        fake_server_read_text (stream, server->transcript);
      else if (g_str_equal (step, "<#"))
        fake_server_read_chunk (stream, server->transcript);
      else if (mail_stream_read_line (stream, &line, &length, &flags, NULL,
                                      NULL))
        g_ptr_array_add (server->transcript, g_steal_pointer (&line));
      else
        break;
    }
  return NULL;
}

static FakeServer *
fake_server_start (const char *const *script)
{
  FakeServer *server = g_new0 (FakeServer, 1);
  g_autoptr (GInetAddress) loopback =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;

  server->listener = g_socket_listener_new ();
  g_socket_listener_add_address (server->listener, address,
                                 G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, &bound, &error);
  g_assert_no_error (error);
  server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  server->script = script;
  server->transcript = g_ptr_array_new_with_free_func (g_free);
  server->thread = g_thread_new ("fake-smtp", fake_server_run, server);
  return server;
}

/* Joins the thread and checks what the client sent, line by line. */
static void
fake_server_finish (FakeServer *server, const char *const *expected)
{
  g_thread_join (server->thread);
  for (guint i = 0; expected != NULL && expected[i] != NULL; i++)
    {
      g_assert_cmpuint (i, <, server->transcript->len);
      g_assert_cmpstr (server->transcript->pdata[i], ==, expected[i]);
    }
  if (expected != NULL)
    g_assert_cmpuint (server->transcript->len, ==,
                      g_strv_length ((GStrv) expected));
  g_socket_listener_close (server->listener);
  g_object_unref (server->listener);
  g_ptr_array_unref (server->transcript);
  g_free (server);
}

static SmtpClient *
connect_and_ehlo (FakeServer *server)
{
  SmtpClient *client = smtp_client_new ();
  g_autoptr (GError) error = NULL;

  smtp_client_connect (client, "127.0.0.1", server->port, FALSE, NULL, FALSE, 5,
                       NULL, &error);
  g_assert_no_error (error);
  smtp_client_ehlo (client, "client.test", &error);
  g_assert_no_error (error);
  return client;
}

/* ---- one transaction per case ------------------------------------------ */

typedef struct
{
  const char *path;
  const char *const *script;
  const char *const *recipients;
  const char *body;
  gboolean ok;
  int error_code;          /* SmtpClientError if !ok */
  guint reply_code;        /* smtp_client_get_reply_code () afterwards */
  const guint *rcpt_codes; /* per recipient */
  const char *const *transcript;
} SendCase;

static const char *const one_rcpt[] = { "b@fake.test", NULL };
static const char *const two_rcpts[] = { "b@fake.test", "c@fake.test", NULL };

/* VALID: RFC 2920 §3.1, the whole batch before the first reply. */
static const char *const pipelined_script[] = {
  GREETING,
  EHLO_PIPELINING,
  "<",
  "<",
  "<",
  "<",
  "> 250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n354 go on",
  "<.",
  "> 250 2.0.0 queued",
  QUIT,
  NULL,
};
static const char *const pipelined_transcript[] = {
  "EHLO client.test",
  "MAIL FROM:<a@client.test> SIZE=14",
  "RCPT TO:<b@fake.test>",
  "RCPT TO:<c@fake.test>",
  "DATA",
  "Subject: x",
  "",
  ".",
  "QUIT",
  NULL,
};
static const guint pipelined_codes[] = { 250, 550 };

/* VALID: no PIPELINING, so one command waits for each reply. */
static const char *const lockstep_script[] = {
  GREETING, EHLO_PLAIN, "<",  "> 250 ok",     "<",  "> 250 ok",
  "<",      "> 354 go", "<.", "> 250 queued", QUIT, NULL,
};
static const char *const lockstep_transcript[] = {
  "EHLO client.test",
  "MAIL FROM:<a@client.test>",
  "RCPT TO:<b@fake.test>",
  "DATA",
  "Subject: x",
  "",
  ".",
  "QUIT",
  NULL,
};
static const guint lockstep_codes[] = { 250 };

/* VALID: RFC 5321 §4.5.2, a line starting with "." gets one more. */
static const char *const stuffing_transcript[] = {
  "EHLO client.test",
  "MAIL FROM:<a@client.test>",
  "RCPT TO:<b@fake.test>",
  "DATA",
  "line one",
  "..dot",
  "...two",
  ".. space",
  "last",
  ".",
  "QUIT",
  NULL,
};

/* VALID: RFC 6152 §3, BODY=8BITMIME for 8-bit text when offered. */
static const char *const eightbit_transcript[] = {
  "EHLO client.test",
  "MAIL FROM:<a@client.test> SIZE=8 BODY=8BITMIME",
  "RCPT TO:<b@fake.test>",
  "DATA",
  "caf\xc3\xa9!",
  ".",
  "QUIT",
  NULL,
};

/* INVALID: every recipient refused, one of them only for now; RFC 2920
 * §3.1, DATA still got 354, so a lone "." ends the empty text. */
static const char *const refused_script[] = {
  GREETING,
  EHLO_PIPELINING,
  "<",
  "<",
  "<",
  "<",
  "> 250 ok\r\n550 5.1.1 no such user\r\n451 4.3.0 try later\r\n354 go",
  "<.",
  "> 554 5.5.1 no valid recipients",
  QUIT,
  NULL,
};
static const char *const refused_transcript[] = {
  "EHLO client.test",
  "MAIL FROM:<a@client.test> SIZE=14",
  "RCPT TO:<b@fake.test>",
  "RCPT TO:<c@fake.test>",
  "DATA",
  ".",
  "QUIT",
  NULL,
};
static const guint refused_codes[] = { 550, 451 };

/* INVALID: MAIL refused in a pipelined batch: the other replies are read
 * (to stay in step) and the error names MAIL. */
static const char *const mail_refused_script[] = {
  GREETING,
  EHLO_PIPELINING,
  "<",
  "<",
  "<",
  "> 553 5.1.7 bad sender\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need RCPT",
  QUIT,
  NULL,
};
static const char *const mail_refused_transcript[] = {
  "EHLO client.test",
  "MAIL FROM:<a@client.test> SIZE=14",
  "RCPT TO:<b@fake.test>",
  "DATA",
  "QUIT",
  NULL,
};
/* The 503 to RCPT only echoes the failed MAIL: forgotten. */
static const guint mail_refused_codes[] = { 0 };

/* INVALID: the text refused after "." */
static const char *const data_refused_script[] = {
  GREETING,   EHLO_PLAIN, "<",        "> 250 ok", "<",
  "> 250 ok", "<",        "> 354 go", "<.",       "> 452 4.3.1 disk full",
  QUIT,       NULL,
};

/* INVALID: a reply that is not the grammar of RFC 5321 §4.2. */
static const char *const malformed_script[] = {
  GREETING, EHLO_PLAIN, "<", "> 25O ok", NULL,
};

static const SendCase send_cases[] = {
  /* VALID */
  { "/smtp/client/pipelining-sends-one-batch", pipelined_script, two_rcpts,
    "Subject: x\r\n\r\n", TRUE, 0, 250, pipelined_codes, pipelined_transcript },
  { "/smtp/client/lockstep-without-pipelining", lockstep_script, one_rcpt,
    "Subject: x\r\n\r\n", TRUE, 0, 250, lockstep_codes, lockstep_transcript },
  { "/smtp/client/dot-stuffing-on-the-wire", lockstep_script, one_rcpt,
    "line one\r\n.dot\r\n..two\r\n. space\r\nlast", TRUE, 0, 250,
    lockstep_codes, stuffing_transcript },
  { "/smtp/client/8bit-text-says-body-8bitmime", pipelined_script, one_rcpt,
    "caf\xc3\xa9!\r\n", TRUE, 0, 250, NULL, NULL },
  /* INVALID */
  { "/smtp/client/all-recipients-refused-4xx-wins", refused_script, two_rcpts,
    "Subject: x\r\n\r\n", FALSE, SMTP_CLIENT_ERROR_RCPT, 451, refused_codes,
    refused_transcript },
  { "/smtp/client/mail-refused-in-batch", mail_refused_script, one_rcpt,
    "Subject: x\r\n\r\n", FALSE, SMTP_CLIENT_ERROR_MAIL, 553,
    mail_refused_codes, mail_refused_transcript },
  { "/smtp/client/text-refused-after-dot", data_refused_script, one_rcpt,
    "x\r\n", FALSE, SMTP_CLIENT_ERROR_DATA, 452, lockstep_codes, NULL },
  { "/smtp/client/malformed-reply-is-protocol-error", malformed_script,
    one_rcpt, "x\r\n", FALSE, SMTP_CLIENT_ERROR_PROTOCOL, 0, NULL, NULL },
};

/* ---- BDAT (RFC 3030) ------------------------------------------------- */

#define EHLO_CHUNKING                                                          \
  "<", "> 250-fake.test\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME"
#define EHLO_CHUNKING_LOCKSTEP "<", "> 250-fake.test\r\n250 CHUNKING"

/* Sends @body to one recipient with chunking on and checks the wire. */
static void
check_chunked_send (const char *const *script,
                    const char *body,
                    gsize length,
                    guint reply_code,
                    const char *const *transcript)
{
  FakeServer *server = fake_server_start (script);
  g_autoptr (SmtpClient) client = connect_and_ehlo (server);
  g_autoptr (GError) error = NULL;
  gboolean ok;

  g_assert_true (smtp_client_get_extensions (client) & SMTP_EXT_CHUNKING);
  smtp_client_set_chunking (client, TRUE);
  ok = smtp_client_send (client, "a@client.test", one_rcpt, body, length, NULL,
                         &error);
  g_assert_cmpint (ok, ==, smtp_reply_is_positive (reply_code));
  if (!ok)
    g_assert_error (error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_DATA);
  g_assert_cmpuint (smtp_client_get_reply_code (client), ==, reply_code);
  smtp_client_quit (client);
  fake_server_finish (server, transcript);
}

/* VALID: MAIL, RCPT and the chunk in one write (RFC 3030 §4.2), the text
 * exactly as given: a "." line is not stuffed and ends nothing. */
static void
test_bdat_pipelined (void)
{
  static const char body[] = "Subject: x\r\n\r\n.dot\r\n.\r\nend\r\n";
  static const char *const script[] = {
    GREETING, EHLO_CHUNKING,
    "<",      "<",
    "<#",     "> 250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.0.0 queued",
    QUIT,     NULL,
  };
  static const char *const transcript[] = {
    "EHLO client.test",
    "MAIL FROM:<a@client.test>",
    "RCPT TO:<b@fake.test>",
    "BDAT 28 LAST",
    "[28 octets] Subject: x\r\n\r\n.dot\r\n.\r\nend\r\n",
    "QUIT",
    NULL,
  };

  check_chunked_send (script, body, strlen (body), 250, transcript);
}

/* VALID: no PIPELINING, so each chunk of at most 1 MiB waits for the
 * reply to the one before; the last says LAST. */
static void
test_bdat_chunks_in_lockstep (void)
{
  gsize length = 2 * 1024 * 1024 + 10;
  g_autofree char *body = g_strnfill (length, 'm');
  static const char *const script[] = {
    GREETING, EHLO_CHUNKING_LOCKSTEP,
    "<",      "> 250 ok",
    "<",      "> 250 ok",
    "<#",     "> 250 2.0.0 1048576 octets",
    "<#",     "> 250 2.0.0 1048576 octets",
    "<#",     "> 250 2.0.0 queued",
    QUIT,     NULL,
  };
  static const char *const transcript[] = {
    "EHLO client.test",
    "MAIL FROM:<a@client.test>",
    "RCPT TO:<b@fake.test>",
    "BDAT 1048576",
    "[1048576 octets]",
    "BDAT 1048576",
    "[1048576 octets]",
    "BDAT 10 LAST",
    "[10 octets] mmmmmmmmmm",
    "QUIT",
    NULL,
  };

  check_chunked_send (script, body, length, 250, transcript);
}

/* INVALID: a chunk refused (552, RFC 1870 §6): no further chunk is sent
 * (RFC 3030 §2) and the error names BDAT with the server's code. */
static void
test_bdat_chunk_refused (void)
{
  gsize length = 1024 * 1024 + 1;
  g_autofree char *body = g_strnfill (length, 'r');
  static const char *const script[] = {
    GREETING, EHLO_CHUNKING_LOCKSTEP,        "<",  "> 250 ok", "<", "> 250 ok",
    "<#",     "> 552 5.3.4 message too big", QUIT, NULL,
  };
  static const char *const transcript[] = {
    "EHLO client.test",
    "MAIL FROM:<a@client.test>",
    "RCPT TO:<b@fake.test>",
    "BDAT 1048576",
    "[1048576 octets]",
    "QUIT",
    NULL,
  };

  check_chunked_send (script, body, length, 552, transcript);
}

/* VALID: CHUNKING offered but chunking not asked for: DATA, as before. */
static void
test_bdat_only_when_asked (void)
{
  static const char *const script[] = {
    GREETING, EHLO_CHUNKING,  "<",  "<",  "<", "> 250 ok\r\n250 ok\r\n354 go",
    "<.",     "> 250 queued", QUIT, NULL,
  };
  static const char *const transcript[] = {
    "EHLO client.test",
    "MAIL FROM:<a@client.test> BODY=8BITMIME",
    "RCPT TO:<b@fake.test>",
    "DATA",
    "caf\xc3\xa9",
    ".",
    "QUIT",
    NULL,
  };
  FakeServer *server = fake_server_start (script);
  g_autoptr (SmtpClient) client = connect_and_ehlo (server);
  g_autoptr (GError) error = NULL;

  g_assert_true (smtp_client_send (client, "a@client.test", one_rcpt,
                                   "caf\xc3\xa9\r\n", 7, NULL, &error));
  g_assert_no_error (error);
  smtp_client_quit (client);
  fake_server_finish (server, transcript);
}

/* ---- SMTPUTF8 (RFC 6531) ---------------------------------------------- */

/* VALID: a UTF-8 address makes MAIL ask for SMTPUTF8 (§3.4); INVALID: to
 * a server that does not offer it nothing is sent at all (§3.2). */
static void
test_smtputf8_for_utf8_address (void)
{
  static const char *const to[] = { "j\xc3\xb6rg@fake.test", NULL };
  static const char *const offered_script[] = {
    GREETING,
    "<",
    "> 250-fake.test\r\n250 SMTPUTF8",
    "<",
    "> 250 ok",
    "<",
    "> 250 ok",
    "<",
    "> 354 go",
    "<.",
    "> 250 queued",
    QUIT,
    NULL,
  };
  static const char *const offered_transcript[] = {
    "EHLO client.test",
    "MAIL FROM:<a@client.test> SMTPUTF8",
    "RCPT TO:<j\xc3\xb6rg@fake.test>",
    "DATA",
    "hi",
    ".",
    "QUIT",
    NULL,
  };
  static const char *const refused_script[] = { GREETING, EHLO_PLAIN, QUIT,
                                                NULL };
  static const char *const refused_transcript[] = { "EHLO client.test", "QUIT",
                                                    NULL };
  FakeServer *server = fake_server_start (offered_script);
  g_autoptr (SmtpClient) client = connect_and_ehlo (server);
  g_autoptr (SmtpClient) plain = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (smtp_client_send (client, "a@client.test", to, "hi\r\n", 4,
                                   NULL, &error));
  g_assert_no_error (error);
  smtp_client_quit (client);
  fake_server_finish (server, offered_transcript);
  server = fake_server_start (refused_script);
  plain = connect_and_ehlo (server);
  g_assert_false (
      smtp_client_send (plain, "a@client.test", to, "hi\r\n", 4, NULL, &error));
  g_assert_error (error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_MAIL);
  g_assert_nonnull (strstr (error->message, "SMTPUTF8"));
  smtp_client_quit (plain);
  fake_server_finish (server, refused_transcript);
}

/* RFC 3461 §4: the DSN request goes out as parameters, values in xtext,
 * only to a server that offers DSN; to one that does not, the same
 * message goes without them (§5.2.2). */
static void
test_dsn_only_when_offered (void)
{
  static const char *const to[] = { "b@fake.test", "c@fake.test", NULL };
  static const char *const dsn_script[] = {
    GREETING,
    "<",
    "> 250-fake.test\r\n250 DSN",
    "<",
    "> 250 ok",
    "<",
    "> 250 ok",
    "<",
    "> 250 ok",
    "<",
    "> 354 go",
    "<.",
    "> 250 queued",
    QUIT,
    NULL,
  };
  static const char *const dsn_transcript[] = {
    "EHLO client.test",
    "MAIL FROM:<a@client.test> RET=HDRS ENVID=id+2B1+3D2",
    "RCPT TO:<b@fake.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;old+20b@fake.test",
    "RCPT TO:<c@fake.test>",
    "DATA",
    "hi",
    ".",
    "QUIT",
    NULL,
  };
  static const char *const plain_script[] = {
    GREETING, EHLO_PLAIN, "<", "> 250 ok", "<",  "> 250 ok",
    "<",      "> 250 ok", "<", "> 354 go", "<.", "> 250 queued",
    QUIT,     NULL,
  };
  static const char *const plain_transcript[] = {
    "EHLO client.test",
    "MAIL FROM:<a@client.test>",
    "RCPT TO:<b@fake.test>",
    "RCPT TO:<c@fake.test>",
    "DATA",
    "hi",
    ".",
    "QUIT",
    NULL,
  };
  SmtpDsnRecipient first = { SMTP_DSN_NOTIFY_SUCCESS | SMTP_DSN_NOTIFY_DELAY,
                             "rfc822", "old b@fake.test" };
  g_autoptr (GPtrArray) recipients = g_ptr_array_new ();
  SmtpDsnEnvelope dsn = { SMTP_DSN_RET_HDRS, "id+1=2", recipients };
  const char *const *scripts[] = { dsn_script, plain_script };
  const char *const *transcripts[] = { dsn_transcript, plain_transcript };

  g_ptr_array_add (recipients, &first);
  g_ptr_array_add (recipients, &(SmtpDsnRecipient){ 0 });
  for (guint i = 0; i < G_N_ELEMENTS (scripts); i++)
    {
      FakeServer *server = fake_server_start (scripts[i]);
      g_autoptr (SmtpClient) client = connect_and_ehlo (server);
      g_autoptr (GError) error = NULL;

      smtp_client_set_dsn (client, &dsn);
      g_assert_true (smtp_client_send (client, "a@client.test", to, "hi\r\n", 4,
                                       NULL, &error));
      g_assert_no_error (error);
      smtp_client_quit (client);
      fake_server_finish (server, transcripts[i]);
    }
}

static void
test_send (gconstpointer data)
{
  const SendCase *tc = data;
  const char *const *script = tc->script;
  FakeServer *server;
  g_autoptr (SmtpClient) client = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) results = NULL;
  gboolean ok;

  /* The 8-bit case has its own transcript but the pipelined script
   * answers two recipients; give it a one-recipient script. */
  static const char *const eightbit_script[] = {
    GREETING, EHLO_PIPELINING, "<",  "<",  "<", "> 250 ok\r\n250 ok\r\n354 go",
    "<.",     "> 250 queued",  QUIT, NULL,
  };
  if (strstr (tc->path, "8bit") != NULL)
    script = eightbit_script;
  server = fake_server_start (script);
  client = connect_and_ehlo (server);
  ok = smtp_client_send (client, "a@client.test", tc->recipients, tc->body,
                         strlen (tc->body), &results, &error);
  if (tc->ok)
    g_assert_no_error (error);
  else
    g_assert_error (error, SMTP_CLIENT_ERROR, tc->error_code);
  g_assert_cmpint (ok, ==, tc->ok);
  g_assert_cmpuint (smtp_client_get_reply_code (client), ==, tc->reply_code);
  g_assert_cmpuint (results->len, ==, g_strv_length ((GStrv) tc->recipients));
  for (guint i = 0; tc->rcpt_codes != NULL && i < results->len; i++)
    {
      SmtpRecipientResult *r = g_ptr_array_index (results, i);

      g_assert_cmpstr (r->address, ==, tc->recipients[i]);
      g_assert_cmpuint (r->code, ==, tc->rcpt_codes[i]);
    }
  smtp_client_quit (client);
  fake_server_finish (server, strstr (tc->path, "8bit") != NULL
                                  ? eightbit_transcript
                                  : tc->transcript);
}

/* ---- EHLO ------------------------------------------------------------- */

/* RFC 5321 §4.1.1.1 and §4.2.1: a multi-line reply, one keyword a line. */
static void
test_ehlo_multiline (void)
{
  static const char *const script[] = {
    GREETING,
    "<",
    "> 250-fake.test greets client.test\r\n250-PIPELINING\r\n"
    "250-SIZE 35882577\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250-X-UNKNOWN stuff\r\n250 STARTTLS",
    QUIT,
    NULL,
  };
  static const char *const expected[] = { "EHLO client.test", "QUIT", NULL };
  FakeServer *server = fake_server_start (script);
  g_autoptr (SmtpClient) client = connect_and_ehlo (server);

  g_assert_cmphex (smtp_client_get_extensions (client), ==,
                   SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME |
                       SMTP_EXT_AUTH | SMTP_EXT_ENHANCEDSTATUS |
                       SMTP_EXT_STARTTLS);
  g_assert_cmpuint (smtp_client_get_max_size (client), ==, 35882577);
  g_assert_true (smtp_client_offers_auth (client, SMTP_AUTH_PLAIN));
  g_assert_true (smtp_client_offers_auth (client, SMTP_AUTH_LOGIN));
  smtp_client_quit (client);
  fake_server_finish (server, expected);
}

/* The same reply, trickled one octet at a time. */
static void
test_ehlo_trickled (void)
{
  static const char *const script[] = {
    "~ 220 fake.test ESMTP",
    "<",
    "~ 250-fake.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 AUTH LOGIN",
    QUIT,
    NULL,
  };
  static const char *const expected[] = { "EHLO client.test", "QUIT", NULL };
  FakeServer *server = fake_server_start (script);
  g_autoptr (SmtpClient) client = connect_and_ehlo (server);

  g_assert_cmphex (smtp_client_get_extensions (client), ==,
                   SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_AUTH);
  g_assert_cmpuint (smtp_client_get_max_size (client), ==, 1000);
  g_assert_false (smtp_client_offers_auth (client, SMTP_AUTH_PLAIN));
  g_assert_true (smtp_client_offers_auth (client, SMTP_AUTH_LOGIN));
  smtp_client_quit (client);
  fake_server_finish (server, expected);
}

/* RFC 5321 §3.2: EHLO refused with 5xx, HELO works, no extensions. */
static void
test_ehlo_falls_back_to_helo (void)
{
  static const char *const script[] = {
    GREETING, "<", "> 502 5.5.1 what?", "<", "> 250 fake.test", QUIT, NULL,
  };
  static const char *const expected[] = { "EHLO client.test",
                                          "HELO client.test", "QUIT", NULL };
  FakeServer *server = fake_server_start (script);
  g_autoptr (SmtpClient) client = connect_and_ehlo (server);

  g_assert_cmphex (smtp_client_get_extensions (client), ==, 0);
  smtp_client_quit (client);
  fake_server_finish (server, expected);
}

/* RFC 5321 §4.3.1: 554 instead of 220 means no service. */
static void
test_greeting_554 (void)
{
  static const char *const script[] = { "> 554 5.3.2 go away", "<", NULL };
  FakeServer *server = fake_server_start (script);
  g_autoptr (SmtpClient) client = smtp_client_new ();
  g_autoptr (GError) error = NULL;

  g_assert_false (smtp_client_connect (client, "127.0.0.1", server->port, FALSE,
                                       NULL, FALSE, 5, NULL, &error));
  g_assert_error (error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_CONNECT);
  g_assert_nonnull (strstr (error->message, "554 5.3.2 go away"));
  g_assert_cmpuint (smtp_client_get_reply_code (client), ==, 554);
  fake_server_finish (server, NULL);
}

/* Connection refused: no reply at all, which the relay retries. */
static void
test_connect_refused (void)
{
  FakeServer *server = fake_server_start ((const char *const[]){ NULL });
  guint16 port = server->port;
  g_autoptr (SmtpClient) client = smtp_client_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (SmtpClient) unblock = smtp_client_new ();

  /* Let the fake server's accept return, then close its port. */
  smtp_client_connect (unblock, "127.0.0.1", port, FALSE, NULL, FALSE, 5, NULL,
                       NULL);
  fake_server_finish (server, NULL);
  g_assert_false (smtp_client_connect (client, "127.0.0.1", port, FALSE, NULL,
                                       FALSE, 5, NULL, &error));
  g_assert_error (error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_CONNECT);
  g_assert_cmpuint (smtp_client_get_reply_code (client), ==, 0);
  g_assert_true (smtp_client_error_is_temporary (0));
  g_assert_true (smtp_client_error_is_temporary (451));
  g_assert_false (smtp_client_error_is_temporary (550));
}

/* ---- AUTH and --trace -------------------------------------------------- */

static void
on_trace (gboolean from_server,
          const char *line,
          const char *meaning,
          gpointer user_data)
{
  g_string_append_printf (user_data, "%s %s ; %s\n",
                          from_server ? "S:" : "C:", line,
                          meaning != NULL ? meaning : "-");
}

/* Logs in against a scripted server and returns the annotated trace
 * (transfer full); the server checks every line the client sent. */
static GString *
run_auth_exchange (const char *const *script,
                   const char *const *expected,
                   SmtpAuthMechanism mechanism,
                   const char *user,
                   const char *password)
{
  FakeServer *server = fake_server_start (script);
  g_autoptr (SmtpClient) client = smtp_client_new ();
  GString *trace = g_string_new (NULL);
  g_autoptr (GError) error = NULL;

  smtp_client_set_trace (client, on_trace, trace);
  smtp_client_connect (client, "127.0.0.1", server->port, FALSE, NULL, FALSE, 5,
                       NULL, &error);
  g_assert_no_error (error);
  smtp_client_ehlo (client, "client.test", &error);
  g_assert_no_error (error);
  g_assert_true (smtp_client_auth (client, mechanism, user, password, &error));
  g_assert_no_error (error);
  smtp_client_quit (client);
  fake_server_finish (server, expected);
  return trace;
}

/* RFC 4954 §4 with an initial response; the trace hides the secret. */
static void
test_auth_plain_masked (void)
{
  static const char *const script[] = {
    GREETING, "<",  "> 250-fake.test\r\n250 AUTH PLAIN", "<", "> 235 2.7.0 ok",
    QUIT,     NULL,
  };
  /* base64 ("\0alice\0alice-secret") */
  static const char *const expected[] = {
    "EHLO client.test", "AUTH PLAIN AGFsaWNlAGFsaWNlLXNlY3JldA==", "QUIT", NULL
  };
  g_autoptr (GString) trace = run_auth_exchange (
      script, expected, SMTP_AUTH_PLAIN, "alice", "alice-secret");

  g_assert_nonnull (strstr (trace->str, "C: AUTH PLAIN *** ;"));
  g_assert_null (strstr (trace->str, "AGFsaWNl"));
  /* Every line is explained from the catalog. */
  g_assert_nonnull (strstr (trace->str, "S: 220 fake.test ESMTP ready ; "));
  g_assert_null (strstr (trace->str, "S: 220 fake.test ESMTP ready ; -"));
  g_assert_nonnull (strstr (trace->str, "RFC 4954"));
}

/* LOGIN: two 334 challenges; the password line is hidden. */
static void
test_auth_login_masked (void)
{
  static const char *const script[] = {
    GREETING,
    "<",
    "> 250-fake.test\r\n250 AUTH LOGIN",
    "<",
    "> 334 VXNlcm5hbWU6",
    "<",
    "> 334 UGFzc3dvcmQ6",
    "<",
    "> 235 2.7.0 ok",
    QUIT,
    NULL,
  };
  static const char *const expected[] = {
    "EHLO client.test", "AUTH LOGIN", "Ym9i", "Ym9iLXNlY3JldA==", "QUIT", NULL,
  };
  g_autoptr (GString) trace = run_auth_exchange (
      script, expected, SMTP_AUTH_LOGIN, "bob", "bob-secret");

  g_assert_null (strstr (trace->str, "Ym9iLXNlY3JldA"));
  g_assert_nonnull (strstr (trace->str, "challenge \"Username:\""));
  g_assert_nonnull (strstr (trace->str, "challenge \"Password:\""));
  g_assert_nonnull (strstr (trace->str, "C: *** ;"));
}

/* AUTH not offered: refused before anything is sent. */
static void
test_auth_not_offered (void)
{
  static const char *const script[] = { GREETING, EHLO_PLAIN, QUIT, NULL };
  static const char *const expected[] = { "EHLO client.test", "QUIT", NULL };
  FakeServer *server = fake_server_start (script);
  g_autoptr (SmtpClient) client = connect_and_ehlo (server);
  g_autoptr (GError) error = NULL;

  g_assert_false (smtp_client_auth (client, SMTP_AUTH_PLAIN, "a", "b", &error));
  g_assert_error (error, SMTP_CLIENT_ERROR, SMTP_CLIENT_ERROR_AUTH);
  smtp_client_quit (client);
  fake_server_finish (server, expected);
}

/* The 354 line of the issue: "start mail input ... (RFC 5321 §4.1.1.4)". */
static void
test_trace_explains_354 (void)
{
  FakeServer *server = fake_server_start (lockstep_script);
  g_autoptr (SmtpClient) client = smtp_client_new ();
  g_autoptr (GString) trace = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *line354 = NULL;
  const char *at;

  smtp_client_set_trace (client, on_trace, trace);
  smtp_client_connect (client, "127.0.0.1", server->port, FALSE, NULL, FALSE, 5,
                       NULL, &error);
  smtp_client_ehlo (client, "client.test", &error);
  smtp_client_send (client, "a@client.test", one_rcpt, "x\r\n", 3, NULL,
                    &error);
  g_assert_no_error (error);
  smtp_client_quit (client);
  fake_server_finish (server, NULL);
  g_test_message ("%s", trace->str);
  at = strstr (trace->str, "S: 354 go ; ");
  g_assert_nonnull (at);
  line354 = g_strndup (at, strcspn (at, "\n"));
  g_assert_nonnull (strstr (line354, "RFC 5321 §4.1.1.4"));
  g_assert_nonnull (strstr (trace->str, "C: MAIL FROM:<a@client.test> ; "));
  g_assert_nonnull (strstr (trace->str, "S: 250 8BITMIME ; "));
  g_assert_nonnull (strstr (trace->str, "RFC 6152"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (send_cases); i++)
    g_test_add_data_func (send_cases[i].path, &send_cases[i], test_send);
  g_test_add_func ("/smtp/client/dsn-only-when-offered",
                   test_dsn_only_when_offered);
  g_test_add_func ("/smtp/client/smtputf8-for-utf8-address",
                   test_smtputf8_for_utf8_address);
  g_test_add_func ("/smtp/client/bdat/pipelined-one-chunk-as-is",
                   test_bdat_pipelined);
  g_test_add_func ("/smtp/client/bdat/chunks-in-lockstep",
                   test_bdat_chunks_in_lockstep);
  g_test_add_func ("/smtp/client/bdat/refused-chunk-stops",
                   test_bdat_chunk_refused);
  g_test_add_func ("/smtp/client/bdat/only-when-asked",
                   test_bdat_only_when_asked);
  g_test_add_func ("/smtp/client/ehlo-multiline-extensions",
                   test_ehlo_multiline);
  g_test_add_func ("/smtp/client/ehlo-reply-trickled", test_ehlo_trickled);
  g_test_add_func ("/smtp/client/ehlo-5xx-falls-back-to-helo",
                   test_ehlo_falls_back_to_helo);
  g_test_add_func ("/smtp/client/greeting-554-is-connect-error",
                   test_greeting_554);
  g_test_add_func ("/smtp/client/connect-refused-is-temporary",
                   test_connect_refused);
  g_test_add_func ("/smtp/client/auth-plain-secret-masked",
                   test_auth_plain_masked);
  g_test_add_func ("/smtp/client/auth-login-password-masked",
                   test_auth_login_masked);
  g_test_add_func ("/smtp/client/auth-not-offered", test_auth_not_offered);
  g_test_add_func ("/smtp/client/trace-explains-354", test_trace_explains_354);
  return g_test_run ();
}
