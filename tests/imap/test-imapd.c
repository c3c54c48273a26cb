/* SPDX-License-Identifier: MIT
 * test-imapd.c: mw-imapd as a real process on loopback (RFC 9051): login
 * and capabilities (§6.1.1, §6.2.3, LOGINDISABLED), SELECT and FETCH
 * (§6.3.2, §6.4.5, \Seen set by BODY[]), two sessions on one mailbox
 * seeing each other's flags and expunges (§7.4.1, §7.5.1), IDLE pushing
 * mail that mw-smtpd delivers (RFC 2177), APPEND/COPY/MOVE with UIDPLUS
 * (RFC 4315, RFC 6851), UIDs across restarts (§2.3.1.1), and bad input:
 * an oversized literal never gets "+" (RFC 7888 §4), NUL, bare LF,
 * unknown commands and commands in the wrong state.
 */
#include <signal.h>
#include <string.h>

#include "imap-parser.h"
#include "imap-proto.h"
#include "mail-line.h"
#include "mail-net.h"
#include "mail-store.h"
#include "mw-harness.h"
#include "mw-imap-client.h"

typedef struct
{
  MwHarness *harness;
  char *maildir; /* alice's */
  GPid pid;      /* mw-imapd */
  guint16 port;
} Fixture;

static const char *const message_one =
    "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\n"
    "Subject: first\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n"
    "Message-ID: <one@example.test>\r\n\r\nHello Alice.\r\n";
static const char *const message_two =
    "From: carol@example.test\r\nTo: alice@example.test\r\n"
    "Subject: second\r\n\r\nSecond body, about lunch.\r\n";

static void
deliver (Fixture *f, const char *text)
{
  mw_harness_deliver (f->harness, "alice", text);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->harness = mw_harness_new (data);
  f->maildir = mw_harness_maildir (f->harness, "alice");
  deliver (f, message_one);
  deliver (f, message_two);
  f->pid = mw_harness_start (f->harness, "mw-imapd", NULL);
  f->port = mw_harness_port (f->harness, "imap");
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_free (f->maildir);
  mw_harness_free (f->harness);
}

/* The tests' IMAP client (mw-imap-client.h), on this fixture's server. */
static MwImapClient *
client_connect (Fixture *f)
{
  return mw_imap_client_connect (f->port);
}

static MwImapClient *
client_login (Fixture *f, const char *select)
{
  return mw_imap_client_login (f->port, select);
}

/* ---- tests ----------------------------------------------------------- */

/* §6.1.1, §6.2.3: AUTH= and LOGIN only where passwords may go in clear */
static void
test_capabilities (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) client = client_connect (f);
  g_autofree char *answer = mw_imap_client_command (client, "CAPABILITY");

  g_assert_nonnull (strstr (answer, "* CAPABILITY IMAP4rev1 IMAP4rev2"));
  g_assert_nonnull (strstr (answer, " IDLE"));
  g_assert_nonnull (strstr (answer, " STARTTLS"));
  g_assert_nonnull (strstr (answer, " AUTH=PLAIN"));
  g_assert_null (strstr (answer, "LOGINDISABLED"));
  g_assert_true (g_str_has_prefix (mw_imap_tagged (answer), "t1 OK"));
}

/* RFC 9051 §6.2.3: with plaintext_auth = never, LOGINDISABLED and NO */
static void
test_logindisabled (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) client = client_connect (f);
  g_autofree char *capability = mw_imap_client_command (client, "CAPABILITY");
  g_autofree char *login =
      mw_imap_client_command (client, "LOGIN alice alice-secret");

  g_assert_nonnull (strstr (capability, "LOGINDISABLED"));
  g_assert_null (strstr (capability, "AUTH=PLAIN"));
  g_assert_true (g_str_has_prefix (login, "t2 NO [PRIVACYREQUIRED]"));
}

/* §6.2.3: a wrong password is NO [AUTHENTICATIONFAILED] */
static void
test_login_wrong_password (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) client = client_connect (f);
  g_autofree char *answer =
      mw_imap_client_command (client, "LOGIN alice wrong");

  g_assert_true (g_str_has_prefix (answer, "t1 NO [AUTHENTICATIONFAILED]"));
}

/* §6.3.2 SELECT, §6.4.5 FETCH: the bytes as stored, \Seen set by BODY[] */
static void
test_select_fetch (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) client = client_login (f, NULL);
  g_autofree char *selected = mw_imap_client_command (client, "SELECT INBOX");
  g_autofree char *body =
      mw_imap_client_command (client, "FETCH 1 (UID BODY[])");
  g_autofree char *flags = mw_imap_client_command (client, "FETCH 1 FLAGS");
  g_autofree char *expected = g_strdup_printf (
      "BODY[] {%zu}\r\n%s)", strlen (message_one), message_one);

  g_assert_nonnull (strstr (selected, "* 2 EXISTS"));
  g_assert_nonnull (strstr (selected, "[UIDVALIDITY "));
  g_assert_nonnull (strstr (selected, "[UIDNEXT 3]"));
  g_assert_nonnull (strstr (body, "* 1 FETCH (FLAGS (\\Seen \\Recent) UID 1"));
  g_assert_nonnull (strstr (body, expected));
  g_assert_nonnull (strstr (flags, "* 1 FETCH (FLAGS (\\Seen \\Recent))"));
  g_assert_true (g_str_has_prefix (mw_imap_tagged (flags), "t4 OK"));
}

/* §7.4.1, §7.5.1, §7.5.2: what one session does, the other hears of */
static void
test_two_sessions (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) laptop = client_login (f, "INBOX");
  g_autoptr (MwImapClient) phone = client_login (f, "INBOX");
  g_autofree char *store =
      mw_imap_client_command (laptop, "STORE 1 +FLAGS (\\Deleted)");
  g_autofree char *seen = mw_imap_client_command (phone, "NOOP");
  g_autofree char *expunge = mw_imap_client_command (laptop, "EXPUNGE");
  g_autofree char *gone = mw_imap_client_command (phone, "NOOP");
  g_autofree char *fetch = mw_imap_client_command (phone, "FETCH 1 (UID)");

  g_assert_nonnull (strstr (store, "* 1 FETCH (FLAGS (\\Deleted"));
  g_assert_nonnull (strstr (seen, "* 1 FETCH (FLAGS (\\Deleted"));
  g_assert_nonnull (strstr (expunge, "* 1 EXPUNGE"));
  g_assert_nonnull (strstr (gone, "* 1 EXPUNGE"));
  g_assert_nonnull (strstr (fetch, "* 1 FETCH (UID 2)"));
}

/* RFC 2177: mail that mw-smtpd delivers is pushed during IDLE */
static void
test_idle_push (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) client = client_login (f, "INBOX");
  g_autoptr (GError) error = NULL;
  g_autofree char *idling = NULL;
  g_autofree char *pushed = NULL;
  g_autofree char *done = NULL;
  g_autofree char *port = NULL;
  const char *argv[] = { "mw-send",
                         "--server",
                         NULL,
                         "--from",
                         "bob@example.test",
                         "--to",
                         "alice@example.test",
                         "--subject",
                         "pushed",
                         "--body",
                         "now",
                         NULL };

  mw_harness_start (f->harness, "mw-smtpd", NULL);
  port = g_strdup_printf ("127.0.0.1:%u", mw_harness_port (f->harness, "smtp"));
  argv[2] = port;
  mail_stream_printf (client->stream, "t9 IDLE");
  g_assert_true (mail_stream_flush (client->stream, NULL, &error));
  idling = mw_imap_client_read (client);
  g_assert_true (g_str_has_prefix (idling, "+ "));
  g_assert_cmpint (mw_harness_run (f->harness, argv, NULL, NULL, NULL), ==, 0);
  pushed = mw_imap_client_read (client);
  g_assert_cmpstr (pushed, ==, "* 3 EXISTS");
  mail_stream_printf (client->stream, "DONE");
  g_assert_true (mail_stream_flush (client->stream, NULL, &error));
  do
    {
      g_free (done);
      done = mw_imap_client_read (client);
    }
  while (g_str_has_prefix (done, "* "));
  g_assert_cmpstr (done, ==, "t9 OK IDLE completed");
}

/* RFC 2177 §3: DONE is the only thing a client may send in IDLE. Sent
 * in place of DONE, after the "+" or pipelined behind IDLE. */
typedef struct
{
  const char *sent;   /* with CRLF inside, without the last one */
  gboolean pipelined; /* in one write with IDLE, before the "+" */
  const char *tagged; /* how IDLE's tagged answer starts */
} IdleEndCase;

/* VALID */
static const IdleEndCase idle_done = { "DONE", FALSE, "i1 OK IDLE completed" };
static const IdleEndCase idle_done_lower = { "done", TRUE,
                                             "i1 OK IDLE completed" };
/* INVALID: BAD with IDLE's tag; what came is not run */
static const IdleEndCase idle_command = { "i2 NOOP", FALSE,
                                          "i1 BAD IDLE ends with DONE" };
static const IdleEndCase idle_command_pipelined = {
  "i2 NOOP", TRUE, "i1 BAD IDLE ends with DONE"
};
static const IdleEndCase idle_done_and_more = { "DONE now", FALSE,
                                                "i1 BAD IDLE ends with DONE" };
static const IdleEndCase idle_empty_line = { "", FALSE,
                                             "i1 BAD IDLE ends with DONE" };
/* RFC 7888: the octets of a non-synchronising literal are read, not run
 * as a command; a synchronising one is never asked for with "+" */
static const IdleEndCase idle_non_sync_literal = {
  "i2 APPEND INBOX {21+}\r\nSubject: no\r\n\r\nbody\r\n", FALSE,
  "i1 BAD IDLE ends with DONE"
};
static const IdleEndCase idle_sync_literal = { "i2 APPEND INBOX {21}", FALSE,
                                               "i1 BAD IDLE ends with DONE" };

static void
idle_set_up (Fixture *f, gconstpointer data)
{
  fixture_set_up (f, NULL);
}

/* IDLE's tag gets the answer, then the session goes on in the selected
 * state: a NOOP is answered with no BAD and no news (nothing was
 * appended), and IDLE works again. */
static void
test_idle_end (Fixture *f, gconstpointer data)
{
  const IdleEndCase *c = data;
  g_autoptr (MwImapClient) client = client_login (f, "INBOX");
  g_autofree char *idling = NULL;
  g_autofree char *tagged = NULL;
  g_autofree char *noop = NULL;
  g_autofree char *again = NULL;
  g_autofree char *done = NULL;
  g_autofree char *pipelined = g_strconcat ("i1 IDLE\r\n", c->sent, NULL);

  mw_imap_client_send (client, c->pipelined ? pipelined : "i1 IDLE");
  idling = mw_imap_client_read (client);
  g_assert_true (g_str_has_prefix (idling, "+ "));
  if (!c->pipelined)
    mw_imap_client_send (client, c->sent);
  tagged = mw_imap_client_read (client);
  g_assert_true (g_str_has_prefix (tagged, c->tagged));
  noop = mw_imap_client_ok (client, "NOOP");
  g_assert_null (strstr (noop, "BAD"));
  g_assert_null (strstr (noop, "EXISTS"));
  mw_imap_client_send (client, "i3 IDLE");
  again = mw_imap_client_read (client);
  g_assert_true (g_str_has_prefix (again, "+ "));
  mw_imap_client_send (client, "DONE");
  done = mw_imap_client_read (client);
  g_assert_cmpstr (done, ==, "i3 OK IDLE completed");
}

/* RFC 4315 §3: APPENDUID and COPYUID; RFC 6851: MOVE expunges after */
static void
test_append_copy_move (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) client = client_login (f, "INBOX");
  g_autofree char *create = mw_imap_client_command (client, "CREATE Archive");
  g_autofree char *append = mw_imap_client_command (
      client,
      "APPEND Archive (\\Flagged) {23+}\r\nSubject: up\r\n\r\nloaded\r\n");
  g_autofree char *copy = mw_imap_client_command (client, "UID COPY 1 Archive");
  g_autofree char *move = mw_imap_client_command (client, "MOVE 2 Archive");
  g_autofree char *missing = mw_imap_client_command (client, "COPY 1 Nowhere");
  g_autofree char *status =
      mw_imap_client_command (client, "STATUS Archive (MESSAGES UIDNEXT)");
  g_auto (GStrv) files =
      mw_harness_list_messages (f->harness, "alice", "Archive");

  g_assert_true (g_str_has_prefix (create, "t3 OK"));
  g_assert_nonnull (strstr (append, "OK [APPENDUID "));
  g_assert_nonnull (strstr (append, " 1]"));
  g_assert_nonnull (strstr (copy, " 1 2] "));
  g_assert_nonnull (strstr (move, "* OK [COPYUID "));
  g_assert_nonnull (strstr (move, " 2 3] "));
  g_assert_nonnull (strstr (move, "* 2 EXPUNGE"));
  g_assert_true (g_str_has_prefix (missing, "t7 NO [TRYCREATE]"));
  g_assert_nonnull (strstr (status, "(MESSAGES 3 UIDNEXT 4)"));
  g_assert_cmpuint (g_strv_length (files), ==, 3);
}

/* The number after @word in @text ("HIGHESTMODSEQ 7" -> 7), or 0. */
static guint64
number_after (const char *text, const char *word)
{
  const char *at = strstr (text, word);

  return at ? g_ascii_strtoull (at + strlen (word), NULL, 10) : 0;
}

/* RFC 7162 §3.1.3: STORE (UNCHANGEDSINCE) refuses what changed since */
static void
test_condstore_unchangedsince (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) laptop = client_login (f, NULL);
  g_autoptr (MwImapClient) phone = client_login (f, "INBOX");
  g_autofree char *selected =
      mw_imap_client_command (laptop, "SELECT INBOX (CONDSTORE)");
  guint64 highest = number_after (selected, "[HIGHESTMODSEQ ");
  g_autofree char *changed =
      mw_imap_client_command (phone, "STORE 1 +FLAGS (\\Seen)");
  g_autofree char *command = g_strdup_printf (
      "STORE 1:2 (UNCHANGEDSINCE %" G_GUINT64_FORMAT ") +FLAGS (\\Flagged)",
      highest);
  g_autofree char *store = mw_imap_client_command (laptop, command);
  g_autofree char *fetch =
      mw_imap_client_command (laptop, "FETCH 1:2 (FLAGS MODSEQ)");

  g_assert_cmpuint (highest, >, 0);
  g_assert_nonnull (strstr (mw_imap_tagged (store), "OK [MODIFIED 1]"));
  g_assert_nonnull (strstr (store, "* 2 FETCH (FLAGS (\\Flagged"));
  g_assert_nonnull (strstr (store, " MODSEQ ("));
  g_assert_nonnull (strstr (fetch, "* 1 FETCH (FLAGS (\\Seen) MODSEQ ("));
  g_assert_cmpuint (number_after (strstr (fetch, "* 2 FETCH"), "MODSEQ ("), >,
                    highest);
}

/* RFC 7162 §3.2.5: a client back after a while learns, in its SELECT,
 * which messages vanished and which flags changed; later expunges come
 * as VANISHED (§3.2.10), and UID FETCH (CHANGEDSINCE n VANISHED) tells
 * the same (§3.2.6) */
static void
test_qresync (Fixture *f, gconstpointer data)
{
  g_autofree char *first = NULL;
  g_autofree char *command = NULL;
  g_autofree char *resync = NULL;
  g_autofree char *fetch = NULL;
  guint64 validity, highest;

  {
    g_autoptr (MwImapClient) client = client_login (f, NULL);

    g_free (mw_imap_client_command (client, "ENABLE QRESYNC"));
    first = mw_imap_client_command (client, "SELECT INBOX");
  }
  validity = number_after (first, "[UIDVALIDITY ");
  highest = number_after (first, "[HIGHESTMODSEQ ");
  {
    g_autoptr (MwImapClient) other = client_login (f, "INBOX");

    g_free (mw_imap_client_command (other, "STORE 1 +FLAGS (\\Deleted)"));
    g_free (mw_imap_client_command (other, "EXPUNGE"));
    g_free (mw_imap_client_command (other, "STORE 1 +FLAGS (\\Answered)"));
  }
  g_autoptr (MwImapClient) client = client_login (f, NULL);
  g_autofree char *enabled = mw_imap_client_command (client, "ENABLE QRESYNC");
  command = g_strdup_printf ("SELECT INBOX (QRESYNC (%" G_GUINT64_FORMAT
                             " %" G_GUINT64_FORMAT " 1:2))",
                             validity, highest);
  resync = mw_imap_client_command (client, command);
  g_free (command);
  command = g_strdup_printf (
      "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %" G_GUINT64_FORMAT " VANISHED)",
      highest);
  fetch = mw_imap_client_command (client, command);
  g_autofree char *store =
      mw_imap_client_command (client, "STORE 1 +FLAGS (\\Deleted)");
  g_autofree char *expunge = mw_imap_client_command (client, "EXPUNGE");

  g_assert_nonnull (strstr (enabled, "* ENABLED CONDSTORE QRESYNC"));
  g_assert_nonnull (strstr (resync, "* VANISHED (EARLIER) 1"));
  g_assert_nonnull (
      strstr (resync, "* 1 FETCH (FLAGS (\\Answered) UID 2 MODSEQ ("));
  g_assert_nonnull (strstr (fetch, "* VANISHED (EARLIER) 1"));
  g_assert_nonnull (strstr (fetch, "UID 2 FLAGS (\\Answered) MODSEQ ("));
  g_assert_nonnull (strstr (expunge, "* VANISHED 2"));
  g_assert_null (strstr (expunge, "EXPUNGE\n"));
}

/* §2.3.1.1: UIDs and UIDVALIDITY survive a restart, and a new message
 * after it gets the next UID, never a used one */
static void
test_uids_across_restart (Fixture *f, gconstpointer data)
{
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *validity = NULL;
  const char *mark = NULL;

  {
    g_autoptr (MwImapClient) client = client_login (f, "INBOX");

    g_free (mw_imap_client_command (client, "STORE 2 +FLAGS (\\Deleted)"));
    g_free (mw_imap_client_command (client, "EXPUNGE"));
    before =
        mw_imap_client_command (client, "STATUS INBOX (UIDVALIDITY UIDNEXT)");
  }
  mw_harness_signal (f->harness, f->pid, SIGTERM);
  deliver (f, message_two);
  f->pid = mw_harness_start (f->harness, "mw-imapd", NULL);
  f->port = mw_harness_port (f->harness, "imap");
  {
    g_autoptr (MwImapClient) client = client_login (f, NULL);

    after = mw_imap_client_command (
        client, "STATUS INBOX (UIDVALIDITY UIDNEXT MESSAGES)");
  }
  g_assert_nonnull (strstr (before, "UIDNEXT 3"));
  mark = strstr (before, "UIDVALIDITY ");
  g_assert_nonnull (mark);
  validity = g_strndup (mark, 12 + strspn (mark + 12, "0123456789"));
  g_assert_nonnull (strstr (after, validity));
  g_assert_nonnull (strstr (after, "UIDNEXT 4 MESSAGES 2"));
}

/* RFC 7888 §4: a literal over the limit never gets "+", and a huge
 * non-synchronising one ends the connection without being read */
static void
test_huge_literal (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) client = client_login (f, NULL);
  g_autofree char *refused =
      mw_imap_client_command (client, "APPEND INBOX {4294967295}");
  g_autofree char *still = mw_imap_client_command (client, "NOOP");
  g_autofree char *bye = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (g_str_has_prefix (refused, "t2 NO [TOOBIG]"));
  g_assert_true (g_str_has_prefix (still, "t3 OK"));
  mail_stream_printf (client->stream, "t4 APPEND INBOX {4294967295+}");
  g_assert_true (mail_stream_flush (client->stream, NULL, &error));
  bye = mw_imap_client_read (client);
  g_assert_true (g_str_has_prefix (bye, "* BYE [TOOBIG]"));
}

/* §2.2: bad input is answered and the session goes on */
static void
test_bad_input (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) client = client_connect (f);
  g_autofree char *unknown = mw_imap_client_command (client, "FROBNICATE");
  g_autofree char *state = mw_imap_client_command (client, "SELECT INBOX");
  g_autofree char *unbalanced = mw_imap_client_command (client, "LOGIN (alice");
  g_autofree char *after = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (g_str_has_prefix (unknown, "t1 BAD"));
  g_assert_true (g_str_has_prefix (state, "t2 BAD"));
  g_assert_true (g_str_has_prefix (unbalanced, "t3 BAD"));
  mail_stream_write (client->stream, "t4 NOOP\0x\r\n", 11);
  mail_stream_write (client->stream, "t5 NOOP\n", 8);
  g_assert_true (mail_stream_flush (client->stream, NULL, &error));
  g_free (mw_imap_client_read (client));
  g_free (mw_imap_client_read (client));
  client->next_tag = 5;
  after = mw_imap_client_command (client, "NOOP");
  g_assert_true (g_str_has_prefix (after, "t6 OK"));
}

/* RFC 5256 §3, §4: SORT and THREAD, by number and by UID; a reply is
 * threaded under what it answers; a charset we lack is BADCHARSET */
static void
test_sort_thread (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) client = NULL;
  g_autofree char *by_subject = NULL;
  g_autofree char *newest = NULL; /* by subject, reversed */
  g_autofree char *threads = NULL;
  g_autofree char *by_uid = NULL;
  g_autofree char *charset = NULL;
  g_autofree char *criterion = NULL;

  (void) data;
  deliver (f, "From: alice@example.test\r\nTo: bob@example.test\r\n"
              "Subject: Re: first\r\nDate: Tue, 1 Dec 2026 12:00:00 +0000\r\n"
              "Message-ID: <three@example.test>\r\n"
              "In-Reply-To: <one@example.test>\r\n\r\nHello Bob.\r\n");
  client = client_login (f, "INBOX");
  /* base subjects "first", "second", "first": ties stay in order */
  by_subject = mw_imap_client_ok (client, "SORT (SUBJECT) UTF-8 ALL");
  g_assert_nonnull (strstr (by_subject, "* SORT 1 3 2\n"));
  newest = mw_imap_client_ok (client, "SORT (REVERSE SUBJECT) US-ASCII ALL");
  g_assert_nonnull (strstr (newest, "* SORT 2 1 3\n"));
  /* the reply under what it answers; threads by date (2 has no Date:,
   * so its INTERNALDATE, today) */
  threads = mw_imap_client_ok (client, "THREAD REFERENCES UTF-8 ALL");
  g_assert_nonnull (strstr (threads, "* THREAD (1 3)(2)\n"));
  g_free (mw_imap_client_ok (client, "STORE 1 +FLAGS.SILENT (\\Deleted)"));
  g_free (mw_imap_client_ok (client, "EXPUNGE"));
  by_uid = mw_imap_client_ok (client, "UID THREAD ORDEREDSUBJECT UTF-8 ALL");
  g_assert_nonnull (strstr (by_uid, "* THREAD (3)(2)\n"));
  charset = mw_imap_client_command (client, "SORT (DATE) KOI8-R ALL");
  g_assert_nonnull (strstr (mw_imap_tagged (charset), "NO [BADCHARSET"));
  criterion = mw_imap_client_command (client, "SORT (NAME) UTF-8 ALL");
  g_assert_nonnull (strstr (mw_imap_tagged (criterion), " BAD "));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func, config)                                                \
  g_test_add (path, Fixture, config, fixture_set_up, func, fixture_tear_down)
#define ADD_IDLE(path, c)                                                      \
  g_test_add (path, Fixture, c, idle_set_up, test_idle_end, fixture_tear_down)
  ADD ("/imapd/capability-offers-auth-on-loopback", test_capabilities, NULL);
  ADD ("/imapd/login-disabled-without-tls", test_logindisabled,
       "[imap]\nplaintext_auth = never\n");
  ADD ("/imapd/wrong-password-is-authenticationfailed",
       test_login_wrong_password, NULL);
  ADD ("/imapd/select-fetch-body-sets-seen", test_select_fetch, NULL);
  ADD ("/imapd/two-sessions-see-flags-and-expunges", test_two_sessions, NULL);
  ADD ("/imapd/idle-pushes-mail-from-smtpd", test_idle_push, NULL);
  ADD_IDLE ("/imapd/idle-end/done-is-ok", &idle_done);
  ADD_IDLE ("/imapd/idle-end/pipelined-lowercase-done-is-ok", &idle_done_lower);
  ADD_IDLE ("/imapd/idle-end/command-is-bad-and-not-run", &idle_command);
  ADD_IDLE ("/imapd/idle-end/pipelined-command-is-bad-and-not-run",
            &idle_command_pipelined);
  ADD_IDLE ("/imapd/idle-end/done-with-more-is-bad", &idle_done_and_more);
  ADD_IDLE ("/imapd/idle-end/empty-line-is-bad", &idle_empty_line);
  ADD_IDLE ("/imapd/idle-end/non-sync-literal-is-read-not-run",
            &idle_non_sync_literal);
  ADD_IDLE ("/imapd/idle-end/sync-literal-is-not-asked-for",
            &idle_sync_literal);
  ADD ("/imapd/append-copy-move-answer-uidplus", test_append_copy_move, NULL);
  ADD ("/imapd/uids-survive-restart", test_uids_across_restart, NULL);
  ADD ("/imapd/condstore/unchangedsince-refuses-what-changed",
       test_condstore_unchangedsince, NULL);
  ADD ("/imapd/qresync/reselect-tells-vanished-and-changed", test_qresync,
       NULL);
  ADD ("/imapd/huge-literal-gets-no-continuation", test_huge_literal, NULL);
  ADD ("/imapd/bad-input-is-answered", test_bad_input, NULL);
  ADD ("/imapd/sort-and-thread", test_sort_thread, NULL);
#undef ADD_IDLE
#undef ADD
  return g_test_run ();
}
