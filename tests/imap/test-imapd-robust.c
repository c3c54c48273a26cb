/* SPDX-License-Identifier: MIT
 * test-imapd-robust.c: mw-imapd as a real process on loopback, facing bad
 * input and a hostile world (issue 8, "Bad input and security"): a client
 * that never reads (the server's memory stays bounded, RFC 9051 §5.5),
 * a client that vanishes in the middle of APPEND, of a non-synchronising
 * literal and of MULTIAPPEND (nothing stored: RFC 9051 §6.3.12, RFC 7888,
 * RFC 3502 §3), APPEND on a full disk (NO [OVERQUOTA], RFC 5530 §3), and
 * RFC822.SIZE against the octets of BODY[] for bare LF and NUL (RFC 9051
 * §2.3.4, §6.4.5: a NUL goes out as stored, in a literal8). And IMAP4rev1
 * beside IMAP4rev2 (RFC 9051 Appendix E): one session of each doing the
 * same things, with the answers that differ asserted side by side.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail-line.h"
#include "mail-net.h"
#include "mail-store.h"
#include "mw-harness.h"
#include "mw-imap-client.h"

typedef struct
{
  MwHarness *harness;
  GPid pid; /* mw-imapd */
  guint16 port;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->harness = mw_harness_new (NULL);
  f->pid = mw_harness_start (f->harness, "mw-imapd", NULL);
  f->port = mw_harness_port (f->harness, "imap");
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  mw_harness_free (f->harness);
}

/* "From: ...\r\nSubject: number @i\r\n\r\n" and lines of "x" up to about
 * @size octets, CRLF throughout (transfer full). */
static char *
message_text (guint i, gsize size)
{
  GString *text = g_string_new (NULL);

  g_string_append_printf (text,
                          "From: bob@example.test\r\nTo: alice@example.test\r\n"
                          "Subject: number %u\r\n\r\n",
                          i);
  while (text->len < size)
    g_string_append_printf (text, "%u %.70s\r\n", i,
                            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                            "xxxxxxxxxxxxxxxxxxxx");
  return g_string_free (text, FALSE);
}

/* The number after @word in @text ("UIDNEXT 7" -> 7); asserts it is
 * there. */
static guint64
number_after (const char *text, const char *word)
{
  const char *at = strstr (text, word);

  g_assert_nonnull (at);
  return g_ascii_strtoull (at + strlen (word), NULL, 10);
}

/* Reads what the server still sends until it closes the connection: when
 * this returns, the server has ended the session (it closes last). */
static void
read_until_closed (MailStream *stream)
{
  for (guint i = 0; i < 1000; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *line = NULL;
      gsize length = 0;
      MailLineFlags flags = 0;

      if (!mail_stream_read_line (stream, &line, &length, &flags, NULL, &error))
        {
          g_assert_error (error, MAIL_LINE_ERROR, MAIL_LINE_ERROR_CLOSED);
          return;
        }
    }
  g_assert_not_reached ();
}

/* The regular files in @dir (0 if it does not exist). */
static guint
count_files (const char *dir)
{
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  guint count = 0;

  while (listing != NULL && g_dir_read_name (listing) != NULL)
    count++;
  return count;
}

/* ---- a client that never reads (RFC 9051 §5.5) ------------------------ */

typedef struct
{
  guint messages;      /* in INBOX */
  gsize size;          /* octets each */
  guint folders;       /* more, made beside INBOX */
  const char *command; /* sent again and again */
} FloodCase;

/* @count folders with long names, made as Maildir++ does (".name" with
 * cur/, new/ and tmp/): a long LIST answer. */
static void
make_folders (Fixture *f, guint count)
{
  g_autofree char *maildir = mw_harness_maildir (f->harness, "alice");

  for (guint i = 0; i < count; i++)
    for (guint k = 0; k < 3; k++)
      {
        static const char *const subdirs[] = { "cur", "new", "tmp" };
        g_autofree char *name = g_strdup_printf (
            ".a folder with a rather long name to list, number %u", i);
        g_autofree char *path =
            g_build_filename (maildir, name, subdirs[k], NULL);

        g_assert_cmpint (g_mkdir_with_parents (path, 0700), ==, 0);
      }
}

/* Sends "fN @command" up to @count times without ever reading,
 * for at most 5 s, until the socket takes no more (the server stopped
 * reading). Returns how many went out. */
static guint
flood (MailStream *stream, const char *what, guint count)
{
  GSocket *socket = mail_stream_get_socket (stream);
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  guint sent = 0;

  g_socket_set_blocking (socket, FALSE);
  while (sent < count && g_get_monotonic_time () < deadline)
    {
      g_autofree char *command = g_strdup_printf ("f%u %s\r\n", sent, what);
      g_autoptr (GError) error = NULL;
      gssize n =
          g_socket_send (socket, command, strlen (command), NULL, &error);

      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      g_assert_no_error (error);
      g_assert_cmpint (n, ==, strlen (command)); /* small, always whole */
      sent++;
    }
  return sent;
}

/* A second session, while the first is stuck, logs in and reads. */
static void
assert_other_session_works (Fixture *f, guint messages)
{
  g_autoptr (MwImapClient) other = mw_imap_client_login (f->port, "INBOX");
  g_autofree char *exists = g_strdup_printf ("* %u EXISTS", messages);
  g_autofree char *fetch =
      mw_imap_client_ok (other, "FETCH 1 (UID BODY.PEEK[HEADER.FIELDS "
                                "(SUBJECT)])");
  g_autofree char *noop = mw_imap_client_ok (other, "NOOP");

  g_assert_nonnull (strstr (fetch, "Subject: number 0"));
  g_assert_null (strstr (noop, exists)); /* no news: nothing changed */
}

/* The server stops reading commands while their answers wait for the
 * client, so its memory does not grow with what the client sends; a
 * FETCH of large messages goes out as it is made. The bound, 16 MiB, is
 * less than one answer of the large case and than 70 answers of the
 * small one, which is what one 16 KiB read of commands would hold. */
#define FLOOD_COMMANDS 5000
#define FLOOD_MAX_GROWTH_KIB (16 * 1024)

static void
test_never_reads (Fixture *f, gconstpointer data)
{
  const FloodCase *c = data;
  g_autoptr (MwImapClient) client = NULL;
  guint64 before = 0;
  guint64 peak = 0;
  guint sent = 0;

  for (guint i = 0; i < c->messages; i++)
    {
      g_autofree char *text = message_text (i, c->size);

      mw_harness_deliver (f->harness, "alice", text);
    }
  make_folders (f, c->folders);
  client = mw_imap_client_login (f->port, "INBOX");
  /* the caches warm, RSS settled (small answers: sanitizer builds are
   * slow to log 24 MiB) */
  g_free (mw_imap_client_ok (client, "FETCH 1:* (UID RFC822.SIZE)"));
  g_free (mw_imap_client_ok (client, "FETCH 1 BODY.PEEK[HEADER]"));
  g_free (mw_imap_client_command (client, "LIST \"\" *"));
  before = mw_harness_rss_kib (f->pid);
  sent = flood (client->stream, c->command, FLOOD_COMMANDS);
  peak = mw_harness_peak_rss_kib (f->pid, 2);
  assert_other_session_works (f, c->messages);
  peak = MAX (peak, mw_harness_peak_rss_kib (f->pid, 1));
  g_test_message (
      "%u x %zu octets, %u folders, %u x \"%s\" sent: VmRSS "
      "%" G_GUINT64_FORMAT " KiB before, peak %" G_GUINT64_FORMAT " KiB",
      c->messages, c->size, c->folders, sent, c->command, before, peak);
  g_assert_cmpuint (sent, >, 100);
  g_assert_cmpuint (peak, <, before + FLOOD_MAX_GROWTH_KIB);
}

/* ---- a client that vanishes mid-APPEND -------------------------------- */

typedef struct
{
  gboolean synchronising; /* {n} and "+" (else {n+}, RFC 7888 §3) */
  guint whole;            /* messages sent whole before the cut one */
} CutCase;

/* "{n}" CRLF, waiting for "+" (RFC 9051 §7.6), or "{n+}" CRLF. */
static void
send_literal_header (MwImapClient *client,
                     const char *before,
                     gsize length,
                     gboolean synchronising)
{
  g_autofree char *header = g_strdup_printf ("%s{%zu%s}\r\n", before, length,
                                             synchronising ? "" : "+");
  g_autoptr (GError) error = NULL;

  mail_stream_write (client->stream, header, strlen (header));
  g_assert_true (mail_stream_flush (client->stream, NULL, &error));
  if (synchronising)
    {
      g_autofree char *go_ahead = mw_imap_client_read (client);

      g_assert_true (g_str_has_prefix (go_ahead, "+ "));
    }
}

/* APPEND (MULTIAPPEND if c->whole > 0) cut in the middle of the last
 * message's literal, then the client goes: it shuts its side down and
 * waits for the server to close. */
static void
append_and_vanish (Fixture *f, const CutCase *c)
{
  g_autoptr (MwImapClient) client = mw_imap_client_login (f->port, NULL);
  g_autofree char *cut = message_text (99, 4000);
  g_autoptr (GError) error = NULL;
  const char *before = "t9 APPEND INBOX ";

  for (guint i = 0; i < c->whole; i++)
    {
      g_autofree char *text = message_text (90 + i, 300);

      send_literal_header (client, before, strlen (text), c->synchronising);
      mail_stream_write (client->stream, text, strlen (text));
      before = " ";
    }
  send_literal_header (client, before, strlen (cut), c->synchronising);
  mail_stream_write (client->stream, cut, strlen (cut) / 2);
  g_assert_true (mail_stream_flush (client->stream, NULL, &error));
  g_assert_true (g_socket_shutdown (mail_stream_get_socket (client->stream),
                                    FALSE, TRUE, &error));
  read_until_closed (client->stream);
}

/* RFC 9051 §6.3.12 (and RFC 3502 §3 for MULTIAPPEND: all or nothing):
 * a command the client did not finish is not run. No file in new/, cur/
 * or tmp/, the same UIDNEXT, and the next APPEND gets it. */
static void
test_vanish_mid_append (Fixture *f, gconstpointer data)
{
  const CutCase *c = data;
  g_autofree char *maildir = mw_harness_maildir (f->harness, "alice");
  g_autofree char *tmp = g_build_filename (maildir, "tmp", NULL);
  g_autoptr (MwImapClient) first = NULL;
  g_autoptr (MwImapClient) next = NULL;
  g_autofree char *status = NULL;
  g_autofree char *after = NULL;
  g_autofree char *append = NULL;
  g_autofree char *appenduid = NULL;
  g_auto (GStrv) files = NULL;
  guint64 uidnext = 0;

  mw_harness_deliver (f->harness, "alice",
                      "Subject: already here\r\n\r\nhi\r\n");
  first = mw_imap_client_login (f->port, NULL);
  status = mw_imap_client_ok (first, "STATUS INBOX (UIDNEXT MESSAGES)");
  uidnext = number_after (status, "UIDNEXT ");
  append_and_vanish (f, c);
  files = mw_harness_list_messages (f->harness, "alice", NULL);
  g_assert_cmpuint (g_strv_length (files), ==, 1);
  g_assert_cmpuint (count_files (tmp), ==, 0);
  next = mw_imap_client_login (f->port, NULL);
  after = mw_imap_client_ok (next, "STATUS INBOX (UIDNEXT MESSAGES)");
  g_assert_cmpuint (number_after (after, "UIDNEXT "), ==, uidnext);
  g_assert_cmpuint (number_after (after, "MESSAGES "), ==, 1);
  append = mw_imap_client_ok (
      next, "APPEND INBOX {23+}\r\nSubject: up\r\n\r\nloaded\r\n");
  appenduid = g_strdup_printf (" %" G_GUINT64_FORMAT "] ", uidnext);
  g_assert_nonnull (strstr (append, "OK [APPENDUID "));
  g_assert_nonnull (strstr (append, appenduid));
}

/* ---- IMAP4rev1 beside IMAP4rev2 (RFC 9051 Appendix E) ----------------- */

/* Logs in and, for @rev2, ENABLEs IMAP4rev2 (RFC 9051 §6.3.1). */
static MwImapClient *
login_as (Fixture *f, gboolean rev2)
{
  MwImapClient *client = mw_imap_client_login (f->port, NULL);

  if (rev2)
    {
      g_autofree char *enabled = mw_imap_client_ok (client, "ENABLE IMAP4rev2");

      g_assert_nonnull (strstr (enabled, "* ENABLED IMAP4rev2"));
    }
  return client;
}

/* Appendix E: "\Recent" and the RECENT response are gone from rev2, and
 * so is the UNSEEN response code of SELECT; a rev2 SELECT tells the
 * mailbox's name in a LIST response (RFC 9051 §6.3.2). rev1 first: the
 * messages are recent to the first session that sees them (RFC 3501
 * §2.3.2). */
static void
test_rev_select_and_recent (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) rev1 = login_as (f, FALSE);
  g_autoptr (MwImapClient) rev2 = login_as (f, TRUE);
  g_autofree char *select1 = NULL;
  g_autofree char *select2 = NULL;
  g_autofree char *flags1 = NULL;
  g_autofree char *flags2 = NULL;
  g_autofree char *news1 = NULL;
  g_autofree char *news2 = NULL;

  mw_harness_deliver (f->harness, "alice", "Subject: one\r\n\r\n1\r\n");
  mw_harness_deliver (f->harness, "alice", "Subject: two\r\n\r\n2\r\n");
  select1 = mw_imap_client_ok (rev1, "SELECT INBOX");
  select2 = mw_imap_client_ok (rev2, "SELECT INBOX");
  g_assert_nonnull (strstr (select1, "* 2 RECENT"));
  g_assert_nonnull (strstr (select1, "* OK [UNSEEN 1]"));
  g_assert_null (strstr (select1, "* LIST"));
  g_assert_null (strstr (select2, "RECENT"));
  g_assert_null (strstr (select2, "[UNSEEN"));
  g_assert_nonnull (strstr (select2, "* LIST () \"/\" \"INBOX\""));
  flags1 = mw_imap_client_ok (rev1, "FETCH 1:2 FLAGS");
  flags2 = mw_imap_client_ok (rev2, "FETCH 1:2 FLAGS");
  g_assert_nonnull (strstr (flags1, "* 1 FETCH (FLAGS (\\Recent))"));
  g_assert_nonnull (strstr (flags2, "* 1 FETCH (FLAGS ())"));
  mw_harness_deliver (f->harness, "alice", "Subject: three\r\n\r\n3\r\n");
  news1 = mw_imap_client_ok (rev1, "NOOP");
  news2 = mw_imap_client_ok (rev2, "NOOP");
  g_assert_nonnull (strstr (news1, "* 3 EXISTS\n* 3 RECENT"));
  g_assert_nonnull (strstr (news2, "* 3 EXISTS"));
  g_assert_null (strstr (news2, "RECENT"));
}

/* Appendix E: SEARCH answers with ESEARCH in rev2 (RFC 9051 §6.4.4,
 * §7.3.4), with SEARCH in rev1 (RFC 3501 §7.2.5); both may ask for
 * ESEARCH with RETURN (RFC 4731). */
static void
test_rev_search (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) rev1 = NULL;
  g_autoptr (MwImapClient) rev2 = NULL;
  g_autofree char *plain1 = NULL;
  g_autofree char *plain2 = NULL;
  g_autofree char *uid2 = NULL;
  g_autofree char *none2 = NULL;
  g_autofree char *asked1 = NULL;

  for (guint i = 0; i < 3; i++)
    mw_harness_deliver (f->harness, "alice", "Subject: s\r\n\r\nlunch\r\n");
  rev1 = login_as (f, FALSE);
  rev2 = login_as (f, TRUE);
  g_free (mw_imap_client_ok (rev1, "SELECT INBOX"));
  g_free (mw_imap_client_ok (rev2, "SELECT INBOX"));
  plain1 = mw_imap_client_ok (rev1, "SEARCH BODY lunch");
  plain2 = mw_imap_client_ok (rev2, "SEARCH BODY lunch");
  uid2 = mw_imap_client_ok (rev2, "UID SEARCH 2:3");
  none2 = mw_imap_client_ok (rev2, "SEARCH SUBJECT nothing");
  asked1 = mw_imap_client_ok (rev1, "SEARCH RETURN (COUNT) ALL");
  g_assert_nonnull (strstr (plain1, "* SEARCH 1 2 3\n"));
  g_assert_null (strstr (plain1, "ESEARCH"));
  g_assert_nonnull (strstr (plain2, "* ESEARCH (TAG \"t4\") ALL 1:3\n"));
  g_assert_null (strstr (plain2, "* SEARCH"));
  g_assert_nonnull (strstr (uid2, "* ESEARCH (TAG \"t5\") UID ALL 2:3\n"));
  g_assert_nonnull (strstr (none2, "* ESEARCH (TAG \"t6\")\n"));
  g_assert_nonnull (strstr (asked1, "* ESEARCH (TAG \"t4\") COUNT 3\n"));
}

/* Appendix E: mailbox names are UTF-8 in rev2 (RFC 9051 §5.1), modified
 * UTF-7 in rev1 (RFC 3501 §5.1.3); the same mailbox either way. */
static void
test_rev_mailbox_names (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) rev1 = login_as (f, FALSE);
  g_autoptr (MwImapClient) rev2 = login_as (f, TRUE);
  g_autofree char *create = mw_imap_client_ok (rev1, "CREATE Entw&APw-rfe");
  g_autofree char *list1 = mw_imap_client_ok (rev1, "LIST \"\" Entw*");
  g_autofree char *list2 = mw_imap_client_ok (rev2, "LIST \"\" Entw*");
  g_autofree char *status2 =
      mw_imap_client_ok (rev2, "STATUS \"Entw\303\274rfe\" (MESSAGES)");

  g_assert_nonnull (strstr (list1, "\"/\" \"Entw&APw-rfe\"\n"));
  g_assert_nonnull (strstr (list2, "\"/\" \"Entw\303\274rfe\"\n"));
  g_assert_nonnull (strstr (status2, "(MESSAGES 0)"));
}

/* LIST: LIST-EXTENDED (RFC 5258) is offered to both, so a parent that
 * exists only as a name is \NonExistent in both (RFC 5258 §3, RFC 9051
 * §6.3.9) and \Subscribed comes only when asked for, in both; LSUB, which
 * rev2 dropped (Appendix E), still answers a rev1 client with \Noselect
 * (RFC 3501 §6.3.9). */
static void
test_rev_list (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) rev1 = login_as (f, FALSE);
  g_autoptr (MwImapClient) rev2 = login_as (f, TRUE);
  g_autofree char *create = mw_imap_client_ok (rev1, "CREATE A/B");
  g_autofree char *subscribe = mw_imap_client_ok (rev1, "SUBSCRIBE A/B");
  const char *const commands[] = {
    "LIST \"\" %",
    "LIST \"\" *",
    "LIST (SUBSCRIBED) \"\" *",
    "LIST \"\" * RETURN (SUBSCRIBED)",
  };
  g_autofree char *lsub1 = mw_imap_client_ok (rev1, "LSUB \"\" %");
  g_autoptr (GPtrArray) answers = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      char *answer1 = mw_imap_client_ok (rev1, commands[i]);
      char *answer2 = mw_imap_client_ok (rev2, commands[i]);

      /* the same untagged answer, whatever the version */
      *strrchr (answer1, '\n') = '\0';
      *strrchr (answer2, '\n') = '\0';
      g_assert_cmpstr (answer1, ==, answer2);
      g_ptr_array_add (answers, answer1);
      g_free (answer2);
    }
  g_assert_nonnull (strstr (
      answers->pdata[0], "* LIST (\\NonExistent \\HasChildren) \"/\" \"A\""));
  g_assert_null (strstr (answers->pdata[1], "\\Subscribed"));
  g_assert_cmpstr (answers->pdata[2], ==,
                   "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"A/B\"");
  g_assert_nonnull (
      strstr (answers->pdata[3], "* LIST (\\HasNoChildren) \"/\" \"INBOX\""));
  g_assert_nonnull (
      strstr (answers->pdata[3],
              "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"A/B\""));
  g_assert_nonnull (
      strstr (lsub1, "* LSUB (\\Noselect \\HasChildren) \"/\" \"A\""));
}

/* STATUS DELETED and SIZE (RFC 9051 §6.3.11, Appendix E; RFC 8438 for
 * rev1, where STATUS=SIZE is offered) count the same for both. */
static void
test_rev_status (Fixture *f, gconstpointer data)
{
  static const char *const texts[] = { "Subject: a\r\n\r\n1\r\n",
                                       "Subject: bb\r\n\r\n22\r\n" };
  g_autoptr (MwImapClient) rev1 = NULL;
  g_autoptr (MwImapClient) rev2 = NULL;
  g_autofree char *status1 = NULL;
  g_autofree char *status2 = NULL;
  g_autofree char *expected =
      g_strdup_printf ("* STATUS \"Archive\" (MESSAGES 2 DELETED 1 SIZE %zu)",
                       strlen (texts[0]) + strlen (texts[1]));

  rev1 = login_as (f, FALSE);
  rev2 = login_as (f, TRUE);
  g_free (mw_imap_client_ok (rev1, "CREATE Archive"));
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autofree char *append = g_strdup_printf (
          "APPEND Archive %s{%zu+}\r\n%s", i == 0 ? "(\\Deleted) " : "",
          strlen (texts[i]), texts[i]);

      g_free (mw_imap_client_ok (rev1, append));
    }
  status1 = mw_imap_client_ok (rev1, "STATUS Archive (MESSAGES DELETED SIZE)");
  status2 = mw_imap_client_ok (rev2, "STATUS Archive (MESSAGES DELETED SIZE)");
  g_assert_nonnull (strstr (status1, expected));
  g_assert_nonnull (strstr (status2, expected));
}

/* ---- RFC822.SIZE against the octets of BODY[] (RFC 9051 §2.3.4) ------- */

typedef struct
{
  const char *octets; /* the file, as another program wrote it */
  gsize length;       /* it may hold NUL */
  gboolean foreign;   /* written into new/ by hand (else delivered) */
} SizeCase;

/* Puts @c's file in alice's INBOX: through the store (mailwire's own
 * name, ",S=,W=") or by hand under a name without sizes, as mutt or a
 * plain MDA names it. */
static void
put_message (Fixture *f, const SizeCase *c)
{
  g_autofree char *maildir = mw_harness_maildir (f->harness, "alice");
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;

  if (!c->foreign)
    {
      g_assert_true (mail_maildir_deliver (maildir, NULL, c->octets, c->length,
                                           NULL, &error));
      g_assert_no_error (error);
      return;
    }
  for (guint i = 0; i < 3; i++)
    {
      static const char *const subdirs[] = { "cur", "new", "tmp" };
      g_autofree char *dir = g_build_filename (maildir, subdirs[i], NULL);

      g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
    }
  path = g_build_filename (maildir, "new", "1700000000.P1Q1.elsewhere", NULL);
  g_assert_true (g_file_set_contents (path, c->octets, c->length, &error));
  g_assert_no_error (error);
}

/* Sends "tN @command" (@length octets, NUL and all) and returns every
 * response up to the tagged one, which must be OK, joined by "\n", NUL
 * octets and all: mw_imap_client_ok () takes and returns C strings,
 * which a NUL would cut short. (transfer full) */
static GBytes *
command_octets (MwImapClient *client, const char *command, gsize length)
{
  g_autofree char *prefix = g_strdup_printf ("t%u ", ++client->next_tag);
  g_autofree char *ok = g_strconcat (prefix, "OK ", NULL);
  g_autoptr (GByteArray) all = g_byte_array_new ();
  g_autoptr (GError) flush_error = NULL;

  mail_stream_write (client->stream, prefix, strlen (prefix));
  mail_stream_write (client->stream, command, length);
  mail_stream_write (client->stream, "\r\n", 2);
  g_assert_true (mail_stream_flush (client->stream, NULL, &flush_error));
  g_assert_no_error (flush_error);
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      const GByteArray *message = NULL;

      g_assert_true (imap_read_message (client->stream, &client->assembler,
                                        NULL, NULL, NULL, NULL, NULL, &error));
      g_assert_no_error (error);
      message = client->assembler.message;
      if (all->len > 0)
        g_byte_array_append (all, (const guint8 *) "\n", 1);
      g_byte_array_append (all, message->data, message->len);
      if (message->len < strlen (prefix) ||
          memcmp (message->data, prefix, strlen (prefix)) != 0)
        continue;
      g_assert_true (message->len >= strlen (ok) &&
                     memcmp (message->data, ok, strlen (ok)) == 0);
      return g_byte_array_free_to_bytes (g_steal_pointer (&all));
    }
}

/* Where @needle first is in data[0, size), NUL octets and all (strstr ()
 * and g_strstr_len () stop at a NUL), or NULL. */
static const char *
find_octets (const char *data, gsize size, const char *needle)
{
  gsize length = strlen (needle);

  for (gsize at = 0; at + length <= size; at++)
    if (memcmp (data + at, needle, length) == 0)
      return data + at;
  return NULL;
}

/* The literal that follows "@item " in @answer: its octets, *out_length
 * of them. RFC 9051 §9 CHAR8: a literal "{n}" holds no NUL; BINARY sends
 * octets that hold one in a literal8 "~{n}" (RFC 3516 §4.2), and only
 * those, and BODY never does. */
static const char *
literal_of (GBytes *answer, const char *item, gsize *out_length)
{
  gboolean binary = g_str_has_prefix (item, "BINARY[");
  gsize size = 0;
  const char *data = g_bytes_get_data (answer, &size);
  g_autofree char *marker = g_strconcat (item, " ", NULL);
  const char *at = find_octets (data, size, marker);
  const char *octets = NULL;
  gboolean literal8 = FALSE;

  g_assert_nonnull (at);
  at += strlen (marker);
  literal8 = at[0] == '~';
  g_assert_true (at[literal8 ? 1 : 0] == '{');
  *out_length = number_after (at, "{");
  octets = strstr (at, "}\r\n") + 3;
  g_assert_cmpuint (octets + *out_length - data, <=, size);
  g_assert_cmpint (literal8, ==, memchr (octets, '\0', *out_length) != NULL);
  g_assert_true (binary || !literal8);
  return octets;
}

/* @octets with each NUL as 0x80, as BODY sends them (transfer full). */
static GBytes *
nul_as_0x80 (const char *octets, gsize length)
{
  char *copy = g_memdup2 (octets, length);

  for (gsize i = 0; i < length; i++)
    if (copy[i] == '\0')
      copy[i] = (char) 0x80;
  return g_bytes_new_take (copy, length);
}

/* "* 1 FETCH (RFC822.SIZE n BODY[] {n} BODY[TEXT] {t} BINARY[1] {b})" of
 * the first message: RFC822.SIZE is the size of the literal BODY[] sends,
 * and each literal is exactly as long as it says, the response going on
 * right after it. *out_body, *out_text and *out_binary point into
 * @answer. */
typedef struct
{
  const char *body;
  gsize body_length;
  const char *text;
  gsize text_length;
  const char *binary;
  gsize binary_length;
} SizeAnswer;

static GBytes *
fetch_sizes (MwImapClient *client, SizeAnswer *out)
{
  static const char fetch[] =
      "FETCH 1 (RFC822.SIZE BODY.PEEK[] BODY.PEEK[TEXT] BINARY.PEEK[1])";
  GBytes *answer = command_octets (client, fetch, strlen (fetch));
  gsize length = 0;
  const char *data = g_bytes_get_data (answer, &length);
  /* the answer holds literals and is not NUL-terminated: no strstr () */
  const char *at = g_strstr_len (data, length, "RFC822.SIZE ");
  guint64 size = 0;

  /* seen once under the sanitizer, on a loaded machine: say what came */
  if (at == NULL)
    g_error ("no RFC822.SIZE in the answer to %s:\n%.*s", fetch,
             (int) MIN (length, 4096), data);
  size = g_ascii_strtoull (at + strlen ("RFC822.SIZE "), NULL, 10);

  out->body = literal_of (answer, "BODY[]", &out->body_length);
  g_test_message ("RFC822.SIZE %" G_GUINT64_FORMAT ", BODY[] {%zu}", size,
                  out->body_length);
  g_assert_cmpuint (size, ==, out->body_length);
  g_assert_true (out->body[out->body_length] == ' ');
  out->text = literal_of (answer, "BODY[TEXT]", &out->text_length);
  out->binary = literal_of (answer, "BINARY[1]", &out->binary_length);
  g_assert_cmpmem (out->binary + out->binary_length, 2, ")\n", 2);
  return answer;
}

/* The sizes agree with bare LF or NUL in the file, as in the clean case.
 * A file that holds NUL is sent as stored but for the NUL, which BODY
 * sends as 0x80 (RFC 9051 §9 CHAR8; Dovecot does the same), and BINARY
 * as it is, in a literal8. */
static void
test_size_matches_body (Fixture *f, gconstpointer data)
{
  const SizeCase *c = data;
  g_autoptr (MwImapClient) client = NULL;
  g_autoptr (GBytes) answer = NULL;
  g_autoptr (GBytes) shown = NULL;
  SizeAnswer got = { 0 };
  gsize header = 0;

  put_message (f, c);
  client = mw_imap_client_login (f->port, "INBOX");
  answer = fetch_sizes (client, &got);
  /* bare LF goes out as CRLF: checked by the sizes alone */
  if (memchr (c->octets, '\0', c->length) == NULL)
    return;
  shown = nul_as_0x80 (c->octets, c->length);
  g_assert_cmpmem (got.body, got.body_length, g_bytes_get_data (shown, NULL),
                   c->length);
  header = find_octets (c->octets, c->length, "\r\n\r\n") + 4 - c->octets;
  g_assert_cmpmem (got.text, got.text_length,
                   (const char *) g_bytes_get_data (shown, NULL) + header,
                   c->length - header);
  /* 7bit text/plain (RFC 2045 §5.2): nothing to decode (RFC 3516 §4.2) */
  g_assert_cmpmem (got.binary, got.binary_length, c->octets + header,
                   c->length - header);
}

/* RFC 3516 §4.4: binary content APPENDed in a literal8 is stored in
 * base64, so that BODY gives a text form (RFC 9051 §4.3.1) as long as
 * RFC822.SIZE says, and BINARY gives back the octets sent. */
static void
test_size_of_appended_binary (Fixture *f, gconstpointer data)
{
  static const char content[] = "\0\1\2\0 binary\r\n";
  static const char header[] = "From: a@example.test\r\n"
                               "Content-Type: application/octet-stream\r\n"
                               "Content-Transfer-Encoding: binary\r\n\r\n";
  g_autoptr (MwImapClient) client = mw_imap_client_login (f->port, "INBOX");
  g_autoptr (GString) append = g_string_new (NULL);
  g_autoptr (GBytes) answer = NULL;
  SizeAnswer got = { 0 };

  g_string_printf (append, "APPEND INBOX ~{%zu+}\r\n%s",
                   strlen (header) + sizeof content - 1, header);
  g_string_append_len (append, content, sizeof content - 1);
  g_bytes_unref (command_octets (client, append->str, append->len));
  answer = fetch_sizes (client, &got);
  g_assert_nonnull (find_octets (got.body, got.body_length,
                                 "Content-Transfer-Encoding: base64\r\n"));
  g_assert_cmpmem (got.binary, got.binary_length, content, sizeof content - 1);
}

/* ---- APPEND on a full disk (RFC 9051 §6.3.12, RFC 5530 §3) ----------- */

/* APPENDs @text with a non-synchronising literal; the tagged answer. */
static char *
append_text (MwImapClient *client, const char *text)
{
  g_autofree char *command =
      g_strdup_printf ("APPEND INBOX {%zu+}\r\n%s", strlen (text), text);
  g_autofree char *answer = mw_imap_client_command (client, command);

  return g_strdup (mw_imap_tagged (answer));
}

/* APPENDs 100 KiB messages until the disk is full; returns how many
 * were taken, and asserts how the first refusal reads. */
static guint
append_until_full (MwImapClient *client)
{
  for (guint i = 0; i < 64; i++)
    {
      g_autofree char *text = message_text (i, 100 * 1024);
      g_autofree char *tagged = append_text (client, text);

      g_test_message ("APPEND %u: %s", i, tagged);
      if (strstr (tagged, " OK [APPENDUID ") != NULL)
        continue;
      /* RFC 5530 §3: OVERQUOTA, "the user would be over quota after the
       * operation": the store has no room for this user's mail. */
      g_assert_nonnull (strstr (tagged, " NO [OVERQUOTA] "));
      /* the server's file names stay in its log */
      g_assert_null (strchr (tagged, '/'));
      return i;
    }
  g_assert_not_reached ();
}

/* Adds @text to the harness's mailwire.conf: a group given again
 * overrides the generated keys (GKeyFile). */
static void
write_config_extra (Fixture *f, const char *text)
{
  g_autofree char *config = NULL;
  g_autofree char *more = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (g_file_get_contents (mw_harness_config (f->harness), &config,
                                      NULL, &error));
  more = g_strconcat (config, text, NULL);
  g_assert_true (
      g_file_set_contents (mw_harness_config (f->harness), more, -1, &error));
  g_assert_no_error (error);
}

/* tmp/ is empty and new/ + cur/ hold @count files. */
static void
assert_folder_files (const char *maildir, guint count)
{
  g_autofree char *tmp = g_build_filename (maildir, "tmp", NULL);
  g_autofree char *new_dir = g_build_filename (maildir, "new", NULL);
  g_autofree char *cur = g_build_filename (maildir, "cur", NULL);

  g_assert_true (g_file_test (tmp, G_FILE_TEST_IS_DIR));
  g_assert_cmpuint (count_files (tmp), ==, 0);
  g_assert_cmpuint (count_files (new_dir) + count_files (cur), ==, count);
}

/* Message @i (sequence number i + 1) reads as message_text (i, 100 KiB). */
static void
assert_message_intact (MwImapClient *client, guint i)
{
  g_autofree char *text = message_text (i, 100 * 1024);
  g_autofree char *command = g_strdup_printf ("FETCH %u BODY.PEEK[]", i + 1);
  g_autofree char *answer = mw_imap_client_command (client, command);
  g_autofree char *expected =
      g_strdup_printf ("BODY[] {%zu}\r\n%s)\n", strlen (text), text);

  g_assert_nonnull (strstr (answer, expected));
}

/* A full disk: NO [OVERQUOTA], no partial file anywhere, the mail taken
 * before intact, and the server serving on (after an EXPUNGE makes
 * room, APPEND works again). */
static void
test_append_on_full_disk (Fixture *f, gconstpointer data)
{
  g_autofree char *mail_root =
      g_build_filename (mw_harness_dir (f->harness), "small", NULL);
  g_autofree char *config =
      g_strdup_printf ("[general]\nmail_root = %s\n", mail_root);
  g_autoptr (MwImapClient) client = NULL;
  g_autofree char *maildir = NULL;
  g_autofree char *fetch = NULL;
  g_autofree char *again = NULL;
  guint taken = 0;
  GPid server = 0;

  write_config_extra (f, config);
  server = mw_harness_start_on_tmpfs (f->harness, "mw-imapd", mail_root, "2m");
  if (server == 0)
    {
      g_test_skip ("no CAP_SYS_ADMIN: cannot mount a tmpfs in a private "
                   "mount namespace");
      return;
    }
  client = mw_imap_client_login (mw_harness_port (f->harness, "imap"), "INBOX");
  taken = append_until_full (client);
  g_assert_cmpuint (taken, >, 2);
  /* the server's view of the files: its mount namespace, through /proc */
  maildir =
      g_strdup_printf ("/proc/%d/root%s/alice/Maildir", server, mail_root);
  assert_folder_files (maildir, taken);
  g_free (mw_imap_client_ok (client, "NOOP"));
  for (guint i = 0; i < taken; i++)
    assert_message_intact (client, i);
  g_free (mw_imap_client_ok (client, "STORE 1 +FLAGS.SILENT (\\Deleted)"));
  g_free (mw_imap_client_ok (client, "EXPUNGE"));
  again = append_text (client, "Subject: room again\r\n\r\nhi\r\n");
  g_assert_nonnull (strstr (again, " OK [APPENDUID "));
}

int
main (int argc, char **argv)
{
  static const FloodCase large = { 24, 1024 * 1024, 0, "FETCH 1:* BODY[]" };
  static const FloodCase small = { 4, 60 * 1024, 0, "FETCH 1:* BODY.PEEK[]" };
  static const FloodCase list = { 1, 100, 400, "LIST \"\" *" };
  static const CutCase cut_sync = { TRUE, 0 };
  static const CutCase cut_non_sync = { FALSE, 0 };
  static const CutCase cut_multi = { TRUE, 2 };
  static const CutCase cut_multi_non_sync = { FALSE, 1 };

  static const char lf[] = "Subject: lf\nTo: a@example.test\n\nline\nend\n";
  static const char nul[] = "Subject: nul\r\n\r\nbefore\0after\r\n";
  static const char nul_in_header[] = "Subject: n\0l\r\n\r\nbody\r\n";
  static const SizeCase bare_lf = { lf, sizeof lf - 1, FALSE };
  static const SizeCase bare_lf_foreign = { lf, sizeof lf - 1, TRUE };
  static const SizeCase nul_body = { nul, sizeof nul - 1, FALSE };
  static const SizeCase nul_header = { nul_in_header, sizeof nul_in_header - 1,
                                       FALSE };

  g_test_init (&argc, &argv, NULL);
  mw_harness_measure_memory ();
#define ADD(path, func, data)                                                  \
  g_test_add (path, Fixture, data, fixture_set_up, func, fixture_tear_down)
  ADD ("/imapd/robust/never-reads/large-messages-stay-bounded",
       test_never_reads, &large);
  ADD ("/imapd/robust/never-reads/many-small-answers-stay-bounded",
       test_never_reads, &small);
  ADD ("/imapd/robust/never-reads/long-lists-stay-bounded", test_never_reads,
       &list);
  ADD ("/imapd/robust/vanish/mid-literal-stores-nothing",
       test_vanish_mid_append, &cut_sync);
  ADD ("/imapd/robust/vanish/mid-non-sync-literal-stores-nothing",
       test_vanish_mid_append, &cut_non_sync);
  ADD ("/imapd/robust/vanish/mid-multiappend-stores-nothing",
       test_vanish_mid_append, &cut_multi);
  ADD ("/imapd/robust/vanish/mid-non-sync-multiappend-stores-nothing",
       test_vanish_mid_append, &cut_multi_non_sync);
  ADD ("/imapd/robust/rev1-rev2/select-recent-unseen-list",
       test_rev_select_and_recent, NULL);
  ADD ("/imapd/robust/rev1-rev2/search-or-esearch", test_rev_search, NULL);
  ADD ("/imapd/robust/rev1-rev2/mailbox-names-mutf7-or-utf8",
       test_rev_mailbox_names, NULL);
  ADD ("/imapd/robust/rev1-rev2/list-nonexistent-subscribed", test_rev_list,
       NULL);
  ADD ("/imapd/robust/rev1-rev2/status-deleted-size", test_rev_status, NULL);
  ADD ("/imapd/robust/size/bare-lf-delivered-matches-body",
       test_size_matches_body, &bare_lf);
  ADD ("/imapd/robust/size/bare-lf-foreign-matches-body",
       test_size_matches_body, &bare_lf_foreign);
  ADD ("/imapd/robust/size/nul-in-body-matches-body", test_size_matches_body,
       &nul_body);
  ADD ("/imapd/robust/size/appended-binary-matches-body",
       test_size_of_appended_binary, NULL);
  ADD ("/imapd/robust/size/nul-in-header-matches-body", test_size_matches_body,
       &nul_header);
  ADD ("/imapd/robust/full-disk/append-is-no-overquota-and-nothing-lost",
       test_append_on_full_disk, NULL);
#undef ADD
  return g_test_run ();
}
