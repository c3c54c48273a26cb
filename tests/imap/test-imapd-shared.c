/* SPDX-License-Identifier: MIT
 * test-imapd-shared.c: one Maildir, shared by mw-imapd and programs we did
 * not write (maildir(5); Maildir++ folders as Dovecot lays them out, their
 * names in modified UTF-7, RFC 3501 §5.1.3; RFC 9051 §7.5 and RFC 2177:
 * what changes under an open session is told at the next command, and at
 * once during IDLE). Dovecot's imap runs directly on alice's Maildir,
 * preauthenticated, without a daemon (as tests/imap/files/ask-dovecot.sh
 * runs it), and mutt writes the Maildir itself, in batch mode (a copy of
 * what it sends, $record) and through a pseudo-terminal (flag, delete):
 *   - what Dovecot and mutt do, open mw-imapd sessions hear of: EXISTS,
 *     FETCH FLAGS (keywords through dovecot-keywords), EXPUNGE; LIST shows
 *     Dovecot's folder by its name, and the messages read as they were
 *     sent (CRLF, though Dovecot and mutt store bare LF);
 *   - what mw-imapd does (APPEND with flags and a keyword, STORE, CREATE,
 *     SUBSCRIBE, MOVE), Dovecot sees: FETCH FLAGS, LIST, LSUB, STATUS.
 * Dovecot refuses to run as root: as root, the test hands the Maildir to
 * "nobody" before each Dovecot run (mw-imapd, as root, still reads and
 * writes it); otherwise both run as the same user, as on a real server.
 */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap-parser.h"
#include "mail-line.h"
#include "mail-net.h"
#include "mail-store.h"
#include "mw-harness.h"
#include "mw-imap-client.h"

#define DOVECOT_IMAP "/usr/lib/dovecot/imap" /* Debian's dovecot-imapd */
#define MAX_PUSHED 20 /* untagged responses read while waiting in IDLE */

typedef struct
{
  MwHarness *harness;
  char *maildir; /* alice's */
  guint16 port;  /* mw-imapd's */
  char *dovecot_conf;
} Fixture;

static const char *const message_one =
    "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\n"
    "Subject: first\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n"
    "Message-ID: <one@example.test>\r\n\r\nHello Alice.\r\n";
static const char *const message_two =
    "From: carol@example.test\r\nTo: alice@example.test\r\n"
    "Subject: second\r\nDate: Tue, 1 Dec 2026 11:00:00 +0000\r\n\r\n"
    "Second body, about lunch.\r\n";
/* APPENDed through Dovecot, which keeps it with bare LF: its blank lines
 * make a missing CR show in the sizes */
static const char *const from_dovecot =
    "From: dave@example.test\r\nTo: alice@example.test\r\n"
    "Subject: from dovecot\r\n\r\nWritten by Dovecot.\r\n\r\nBye.\r\n";
static const char *const in_folder =
    "From: dave@example.test\r\nSubject: in Entwuerfe\r\n\r\nDraft.\r\n";
static const char *const mutt_body = "Sent with mutt.\n\nSecond paragraph.\n";
static const char *const from_mw_imapd =
    "From: alice@example.test\r\nTo: bob@example.test\r\n"
    "Subject: from mw-imapd\r\n\r\nWritten by mw-imapd.\r\n";

/* ---- the fixture ----------------------------------------------------- */

static void
deliver (Fixture *f, const char *text)
{
  mw_harness_deliver (f->harness, "alice", text);
}

/* Dovecot as the owner of the Maildir: this user, or "nobody" for root
 * (Dovecot: "Mail access not allowed for root"); every directory above
 * the Maildir must then let nobody pass. */
static char *
dovecot_config (Fixture *f)
{
  const char *dir = mw_harness_dir (f->harness);
  g_autofree char *mail = g_build_filename (dir, "mail", NULL);
  g_autofree char *home = g_build_filename (mail, "alice", NULL);

  if (geteuid () != 0)
    return g_strdup_printf ("mail_uid = %u\nmail_gid = %u\n"
                            "first_valid_uid = %u\nfirst_valid_gid = %u\n",
                            (guint) geteuid (), (guint) getegid (),
                            (guint) geteuid (), (guint) getegid ());
  g_assert_cmpint (chmod (dir, 0711), ==, 0);
  g_assert_cmpint (chmod (mail, 0711), ==, 0);
  g_assert_cmpint (chmod (home, 0711), ==, 0);
  return g_strdup ("mail_uid = nobody\nmail_gid = nogroup\n");
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autofree char *owner = NULL;
  g_autofree char *conf = NULL;

  f->harness = mw_harness_new (NULL);
  f->maildir = mw_harness_maildir (f->harness, "alice");
  deliver (f, message_one);
  deliver (f, message_two);
  mw_harness_start (f->harness, "mw-imapd", "--protocol-log", NULL);
  f->port = mw_harness_port (f->harness, "imap");
  owner = dovecot_config (f);
  conf = g_strdup_printf ("mail_location = maildir:%s\nlog_path = /dev/stderr\n"
                          "protocols = imap\nssl = no\n%s",
                          f->maildir, owner);
  f->dovecot_conf =
      g_build_filename (mw_harness_dir (f->harness), "dovecot.conf", NULL);
  g_assert_true (g_file_set_contents (f->dovecot_conf, conf, -1, NULL));
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_free (f->dovecot_conf);
  g_free (f->maildir);
  mw_harness_free (f->harness);
}

/* ---- the client (mw-imap-client.h), and IDLE ------------------------ */

static MwImapClient *
client_login (Fixture *f, const char *select)
{
  return mw_imap_client_login (f->port, select);
}

/* RFC 2177: sends IDLE and waits for the continuation. */
static void
client_idle (MwImapClient *client)
{
  g_autofree char *line = g_strdup_printf ("t%u IDLE", ++client->next_tag);
  g_autofree char *idling = NULL;

  mw_imap_client_send (client, line);
  idling = mw_imap_client_read (client);
  g_assert_true (g_str_has_prefix (idling, "+ "));
}

/* Reads what is pushed during IDLE (each response and "\n") until
 * @told says that all the awaited news is in; fails after MAX_PUSHED
 * responses or when one takes longer than the stream timeout. Returns
 * them all (transfer full). */
static char *
client_wait_pushed (MwImapClient *client, gboolean (*told) (const char *pushed))
{
  g_autoptr (GString) all = g_string_new (NULL);

  for (guint i = 0; i < MAX_PUSHED && !told (all->str); i++)
    {
      g_autofree char *response = mw_imap_client_read (client);

      g_string_append_printf (all, "%s\n", response);
    }
  g_test_message ("pushed during IDLE:\n%s", all->str);
  g_assert_true (told (all->str));
  return g_string_free (g_steal_pointer (&all), FALSE);
}

/* Ends IDLE: the responses up to the tagged OK (transfer full). */
static char *
client_done (MwImapClient *client)
{
  g_autofree char *ok = g_strdup_printf ("t%u OK", client->next_tag);
  g_autoptr (GString) all = g_string_new (NULL);

  mw_imap_client_send (client, "DONE");
  for (;;)
    {
      g_autofree char *response = mw_imap_client_read (client);

      g_string_append_printf (all, "%s\n", response);
      if (!g_str_has_prefix (response, "* "))
        {
          g_assert_true (g_str_has_prefix (response, ok));
          return g_string_free (g_steal_pointer (&all), FALSE);
        }
    }
}

/* ---- reading responses ----------------------------------------------- */

/* The flag list of the last "* @seq FETCH (... FLAGS (...) ...)" in
 * @responses, as " \Seen $Work " (blank before and after each flag, so
 * that strstr (list, " \\Seen ") finds a whole flag), or NULL. */
static char *
fetch_flags (const char *responses, guint seq)
{
  g_autofree char *start = g_strdup_printf ("* %u FETCH (", seq);
  g_auto (GStrv) lines = g_strsplit (responses, "\n", -1);
  char *flags = NULL;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *list = strstr (lines[i], "FLAGS (");
      const char *end = list ? strchr (list, ')') : NULL;

      if (!g_str_has_prefix (lines[i], start) || end == NULL)
        continue;
      g_free (flags);
      flags =
          g_strdup_printf (" %.*s ", (int) (end - list - strlen ("FLAGS (")),
                           list + strlen ("FLAGS ("));
    }
  return flags;
}

/* The flags Dovecot gave the message of Subject @subject in its answer
 * to "FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])", as for
 * fetch_flags (), or NULL. */
static char *
dovecot_flags (const char *answer, const char *subject)
{
  g_autofree char *field = g_strdup_printf ("\r\nSubject: %s\r\n", subject);
  const char *at = strstr (answer, field);
  const char *line = at;
  guint seq;

  if (at == NULL)
    return NULL;
  while (line > answer && !g_str_has_prefix (line, "\n* "))
    line--;
  seq = (guint) g_ascii_strtoull (line + 3, NULL, 10);
  return fetch_flags (line + 1, seq);
}

/* Asserts that @flags (from fetch_flags (), taken) holds each of @want
 * and none of @not (space-separated, e.g. "\\Flagged $Work"). */
static void
assert_flags (char *flags, const char *want, const char * not )
{
  g_autofree char *list = flags;
  g_auto (GStrv) wanted = g_strsplit (want, " ", -1);
  g_auto (GStrv) unwanted = g_strsplit (not, " ", -1);

  g_assert_nonnull (list);
  g_test_message ("flags: (%s), want %s, not %s", list, want, not );
  for (guint i = 0; wanted[i] != NULL; i++)
    {
      g_autofree char *flag = g_strdup_printf (" %s ", wanted[i]);

      g_assert_nonnull (strstr (list, flag));
    }
  for (guint i = 0; unwanted[i] != NULL; i++)
    {
      g_autofree char *flag = g_strdup_printf (" %s ", unwanted[i]);

      g_assert_null (strstr (list, flag));
    }
}

/* TRUE if @list (LIST responses) names @name, as an atom or quoted. */
static gboolean
list_shows (const char *list, const char *name)
{
  g_autofree char *atom = g_strdup_printf (" \"/\" %s\n", name);
  g_autofree char *quoted = g_strdup_printf (" \"/\" \"%s\"\n", name);

  return strstr (list, atom) != NULL || strstr (list, quoted) != NULL;
}

/* The number after @word in @text ("RFC822.SIZE 96" -> 96), which must
 * be there. */
static guint64
number_after (const char *text, const char *word)
{
  const char *at = strstr (text, word);

  g_assert_nonnull (at);
  return g_ascii_strtoull (at + strlen (word), NULL, 10);
}

/* @text with each bare LF made CRLF (transfer full). */
static char *
with_crlf (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '\n' && (p == text || p[-1] != '\r'))
        g_string_append_c (out, '\r');
      g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static guint
count_substrings (const char *text, const char *needle)
{
  guint count = 0;

  for (const char *p = strstr (text, needle); p != NULL;
       p = strstr (p + 1, needle))
    count++;
  return count;
}

/* The literal that follows @item ("BODY[] ") in @responses, which must be
 * there (transfer full). */
static char *
literal_after (const char *responses, const char *item)
{
  const char *at = strstr (responses, item);
  char *end = NULL;
  guint64 length;

  g_assert_nonnull (at);
  at += strlen (item);
  g_assert_true (at[0] == '{');
  length = g_ascii_strtoull (at + 1, &end, 10);
  g_assert_true (g_str_has_prefix (end, "}\r\n"));
  return g_strndup (end + 3, length);
}

/* ---- Dovecot ---------------------------------------------------------- */

static gboolean
require_dovecot (void)
{
  if (g_file_test (DOVECOT_IMAP, G_FILE_TEST_IS_EXECUTABLE))
    return TRUE;
  g_test_fail_printf ("%s is missing: apt-get install dovecot-imapd",
                      DOVECOT_IMAP);
  return FALSE;
}

/* As root, Dovecot runs as nobody: give it what mw-imapd wrote since. */
static void
hand_maildir_to_dovecot (Fixture *f)
{
  const char *argv[] = { "chown", "-R", "nobody:nogroup", f->maildir, NULL };

  if (geteuid () == 0)
    g_assert_cmpint (mw_harness_run (f->harness, argv, NULL, NULL, NULL), ==,
                     0);
}

/* Runs Dovecot's imap on alice's Maildir with @commands (NULL-terminated,
 * tagged d1, d2 ...; LOGOUT is added) and returns its whole answer
 * (transfer full). Every command must be answered OK. */
static char *
dovecot_run (Fixture *f, const char *const *commands)
{
  g_autoptr (GString) input = g_string_new (NULL);
  g_autofree char *user = g_strdup_printf (
      "USER=%s", geteuid () == 0 ? "nobody" : g_get_user_name ());
  g_autofree char *home =
      g_strdup_printf ("HOME=%s", mw_harness_dir (f->harness));
  const char *argv[] = { "env",           user, home, DOVECOT_IMAP, "-c",
                         f->dovecot_conf, NULL };
  char *answer = NULL;
  g_autofree char *log = NULL;
  guint n = 0;
  int status;

  for (; commands[n] != NULL; n++)
    g_string_append_printf (input, "d%u %s\r\n", n + 1, commands[n]);
  g_string_append_printf (input, "d%u LOGOUT\r\n", n + 1);
  hand_maildir_to_dovecot (f);
  status = mw_harness_run (f->harness, argv, input->str, &answer, &log);
  g_test_message ("Dovecot was asked:\n%sand answered:\n%s%s", input->str,
                  answer, log);
  g_assert_cmpint (status, ==, 0);
  for (guint i = 1; i <= n + 1; i++)
    {
      g_autofree char *ok = g_strdup_printf ("\r\nd%u OK ", i);

      g_assert_nonnull (strstr (answer, ok));
    }
  return answer;
}

/* "APPEND @folder (@flags) {n+}\r\n@text" (LITERAL+, RFC 7888: no wait
 * for a continuation) (transfer full). */
static char *
append_command (const char *folder, const char *flags, const char *text)
{
  return g_strdup_printf ("APPEND %s (%s) {%zu+}\r\n%s", folder, flags,
                          strlen (text), text);
}

/* ---- Dovecot writes, mw-imapd sees ------------------------------------ */

/* Dovecot's new message, and both flags of message 1 (as the last word
 * on it: a letter read before dovecot-keywords names it may be told
 * without it first). */
static gboolean
told_dovecot_changes (const char *pushed)
{
  g_autofree char *flags = fetch_flags (pushed, 1);

  return strstr (pushed, "* 3 EXISTS\n") != NULL && flags != NULL &&
         strstr (flags, " \\Flagged ") != NULL &&
         strstr (flags, " $Work ") != NULL;
}

/* Dovecot flags message 1 (\Flagged and a keyword: dovecot-keywords)
 * and APPENDs a \Seen message; a session in IDLE on INBOX is told at
 * once, one open there at its next NOOP. */
static void
test_dovecot_writes (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) noop = client_login (f, "INBOX");
  g_autoptr (MwImapClient) idle = client_login (f, "INBOX");
  g_autofree char *append = append_command ("INBOX", "\\Seen", from_dovecot);
  const char *const commands[] = { "SELECT INBOX",
                                   "SEARCH RETURN (SAVE) SUBJECT first",
                                   "STORE $ +FLAGS (\\Flagged $Work)", append,
                                   NULL };
  g_autofree char *pushed = NULL;
  g_autofree char *news = NULL;
  g_autofree char *fetch = NULL;
  char *unchanged = NULL;

  if (!require_dovecot ())
    return;
  client_idle (idle);
  g_free (dovecot_run (f, commands));
  /* RFC 2177: pushed during IDLE */
  pushed = client_wait_pushed (idle, told_dovecot_changes);
  g_free (client_done (idle));
  assert_flags (fetch_flags (pushed, 1), "\\Flagged $Work", "\\Seen \\Deleted");
  /* RFC 9051 §7.5.1: told at the next command */
  news = mw_imap_client_ok (noop, "NOOP");
  g_assert_nonnull (strstr (news, "* 3 EXISTS"));
  g_assert_null (strstr (news, "EXPUNGE"));
  assert_flags (fetch_flags (news, 1), "\\Flagged $Work", "\\Seen");
  unchanged = fetch_flags (news, 2);
  g_assert_null (unchanged);
  fetch = mw_imap_client_ok (
      noop, "FETCH 3 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
  assert_flags (fetch_flags (fetch, 3), "\\Seen", "\\Flagged \\Deleted");
  g_assert_nonnull (strstr (fetch, "Subject: from dovecot"));
}

/* Dovecot keeps a message with bare LF line ends (its mail_save_crlf is
 * "no"); mw-imapd sends it as it was APPENDed, with CRLF (RFC 9051 §2.3.1:
 * "lines ... terminated by CRLF"), and RFC822.SIZE counts those octets
 * (§2.3.4), as Dovecot itself does. */
static void
test_dovecot_message_reads_as_sent (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) client = client_login (f, "INBOX");
  g_autofree char *append = append_command ("INBOX", "", from_dovecot);
  const char *const commands[] = { append, "SELECT INBOX",
                                   "FETCH 3 (RFC822.SIZE BODY.PEEK[])", NULL };
  g_autofree char *answer = NULL;
  g_autofree char *size = NULL;
  g_autofree char *fetch = NULL;
  g_autofree char *body = NULL;

  if (!require_dovecot ())
    return;
  answer = dovecot_run (f, commands);
  size = g_strdup_printf ("RFC822.SIZE %zu ", strlen (from_dovecot));
  g_assert_nonnull (strstr (answer, size)); /* Dovecot's own answer */
  g_free (mw_imap_client_ok (client, "NOOP"));
  fetch = mw_imap_client_ok (client, "FETCH 3 (RFC822.SIZE BODY.PEEK[])");
  body = literal_after (fetch, "BODY[] ");
  g_assert_cmpstr (body, ==, from_dovecot);
  g_assert_nonnull (strstr (fetch, size));
}

/* Dovecot makes "Entwürfe" (".Entw&APw-rfe" on disk, RFC 3501 §5.1.3)
 * with a message in it: mw-imapd's LIST shows it by that name, not a
 * second encoding of it, and the message is there. */
static void
test_dovecot_folder_is_listed (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) client = client_login (f, NULL);
  g_autofree char *append = append_command ("\"Entw&APw-rfe\"", "", in_folder);
  const char *const commands[] = { "CREATE \"Entw&APw-rfe\"", append, NULL };
  g_autofree char *list = NULL;
  g_autofree char *utf8_list = NULL;
  g_autofree char *status = NULL;
  g_autofree char *fetch = NULL;

  if (!require_dovecot ())
    return;
  g_free (dovecot_run (f, commands));
  list = mw_imap_client_ok (client, "LIST \"\" \"*\"");
  g_assert_true (list_shows (list, "Entw&APw-rfe"));
  g_assert_null (strstr (list, "&-"));
  status = mw_imap_client_ok (client, "STATUS \"Entw&APw-rfe\" (MESSAGES)");
  g_assert_true (
      g_str_has_prefix (status, "* STATUS Entw&APw-rfe (MESSAGES 1)") ||
      g_str_has_prefix (status, "* STATUS \"Entw&APw-rfe\" (MESSAGES 1)"));
  /* RFC 6855 §3: after ENABLE UTF8=ACCEPT, the name in UTF-8 */
  g_free (mw_imap_client_ok (client, "ENABLE UTF8=ACCEPT"));
  utf8_list = mw_imap_client_ok (client, "LIST \"\" \"Entw*\"");
  g_assert_true (list_shows (utf8_list, "Entwürfe"));
  g_free (mw_imap_client_ok (client, "SELECT \"Entwürfe\""));
  fetch = mw_imap_client_ok (client,
                             "FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
  g_assert_nonnull (strstr (fetch, "Subject: in Entwuerfe"));
}

/* Dovecot's EXPUNGE is told as EXPUNGE; what mw-imapd's session knew of
 * the other messages stays (RFC 9051 §7.5.1). */
static void
test_dovecot_expunges (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) client = client_login (f, "INBOX");
  const char *const commands[] = { "SELECT INBOX",
                                   "SEARCH RETURN (SAVE) SUBJECT second",
                                   "STORE $ +FLAGS (\\Deleted)", "EXPUNGE",
                                   NULL };
  g_autofree char *news = NULL;
  g_autofree char *fetch = NULL;

  if (!require_dovecot ())
    return;
  g_free (dovecot_run (f, commands));
  news = mw_imap_client_ok (client, "NOOP");
  g_assert_nonnull (strstr (news, "* 2 EXPUNGE"));
  g_assert_cmpuint (count_substrings (news, "EXPUNGE"), ==, 1);
  g_assert_cmpuint (count_substrings (news, " EXISTS"), ==,
                    count_substrings (news, "* 1 EXISTS"));
  fetch = mw_imap_client_ok (client, "FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS "
                                     "(SUBJECT)])");
  g_assert_nonnull (strstr (fetch, "* 1 FETCH (UID 1 "));
  g_assert_nonnull (strstr (fetch, "Subject: first"));
  g_assert_null (strstr (fetch, "* 2 FETCH"));
}

/* ---- mw-imapd writes, Dovecot sees ------------------------------------ */

/* mw-imapd APPENDs with \Answered and a keyword, flags message 1, makes
 * and subscribes "Entwürfe" and MOVEs message 2 there; Dovecot sees the
 * flags, the folder by its name, its one message and the subscription.
 */
static void
test_mw_imapd_writes (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) client = client_login (f, "INBOX");
  g_autofree char *append =
      append_command ("INBOX", "\\Answered $Later", from_mw_imapd);
  const char *const commands[] = {
    "SELECT INBOX",
    "FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
    "LIST \"\" \"*\"",
    "LSUB \"\" \"*\"",
    "STATUS \"Entw&APw-rfe\" (MESSAGES)",
    "SELECT \"Entw&APw-rfe\"",
    "FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)] RFC822.SIZE)",
    NULL
  };
  g_autofree char *answer = NULL;
  g_autofree char *inbox = NULL;
  g_autofree char *folder = NULL;
  g_autofree char *second = NULL;
  const char *at;

  if (!require_dovecot ())
    return;
  g_free (mw_imap_client_ok (client, append));
  g_free (mw_imap_client_ok (client, "STORE 1 +FLAGS (\\Flagged)"));
  g_free (mw_imap_client_ok (client, "CREATE \"Entw&APw-rfe\""));
  g_free (mw_imap_client_ok (client, "SUBSCRIBE \"Entw&APw-rfe\""));
  g_free (mw_imap_client_ok (client, "MOVE 2 \"Entw&APw-rfe\""));
  answer = dovecot_run (f, commands);
  at = strstr (answer, "\r\nd5 OK ") + 2;
  inbox = g_strndup (answer, at - answer);
  folder = g_strdup (at);
  g_assert_nonnull (strstr (inbox, "* 2 EXISTS\r\n"));
  assert_flags (dovecot_flags (inbox, "first"), "\\Flagged",
                "\\Seen \\Deleted");
  assert_flags (dovecot_flags (inbox, "from mw-imapd"), "\\Answered $Later",
                "\\Flagged");
  second = dovecot_flags (inbox, "second");
  g_assert_null (second); /* moved */
  g_assert_nonnull (strstr (inbox, "* LIST (\\HasNoChildren) \".\" "
                                   "Entw&APw-rfe\r\n"));
  g_assert_nonnull (strstr (inbox, "* LSUB () \".\" Entw&APw-rfe\r\n"));
  g_assert_nonnull (strstr (inbox, "* STATUS Entw&APw-rfe (MESSAGES 1)\r\n"));
  g_assert_nonnull (strstr (folder, "* 1 EXISTS\r\n"));
  g_assert_nonnull (strstr (folder, "Subject: second\r\n"));
  g_assert_cmpuint (number_after (folder, "RFC822.SIZE "), ==,
                    strlen (message_two));
}

/* ---- mutt writes, mw-imapd sees --------------------------------------- */

static char *
write_muttrc (Fixture *f)
{
  g_autofree char *path =
      g_build_filename (mw_harness_dir (f->harness), "muttrc", NULL);
  g_autofree char *text = g_strdup_printf (
      "set mbox_type=Maildir\nset folder=\"%s\"\nset spoolfile=\"%s\"\n"
      "set record=\"+.Entw&APw-rfe\"\nset copy=yes\n"
      "set sendmail=\"/bin/true\"\nset from=\"alice@example.test\"\n"
      "set use_from=yes\nset charset=\"utf-8\"\nset send_charset=\"utf-8\"\n"
      "set delete=yes\nset quit=yes\nset move=no\nset mark_old=no\n"
      "set wait_key=no\nset sleep_time=0\nset header_cache=\"\"\n",
      f->maildir, f->maildir);

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return g_steal_pointer (&path);
}

/* mutt in batch mode sends a message (to /bin/true) and keeps its copy,
 * as $record says, in the Maildir++ folder ".Entw&APw-rfe": mutt writes
 * the Maildir itself. */
static void
mutt_send_with_record (Fixture *f)
{
  g_autofree char *muttrc = write_muttrc (f);
  g_autofree char *home =
      g_strdup_printf ("HOME=%s", mw_harness_dir (f->harness));
  const char *argv[] = { "env", home,           "mutt",
                         "-n",  "-F",           muttrc,
                         "-s",  "sent by mutt", "bob@example.test",
                         NULL };
  g_autofree char *errors = NULL;
  int status = mw_harness_run (f->harness, argv, mutt_body, NULL, &errors);

  g_test_message ("mutt: exit %d\n%s", status, errors);
  g_assert_cmpint (status, ==, 0);
}

static gboolean
told_one_exists (const char *pushed)
{
  return strstr (pushed, "* 1 EXISTS\n") != NULL;
}

/* The copy lands in the folder mw-imapd made for "Entwürfe" (so both
 * spell it ".Entw&APw-rfe"): a session in IDLE there is told at once. */
static void
test_mutt_batch_record (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) client = client_login (f, NULL);
  g_autofree char *pushed = NULL;
  g_autofree char *fetch = NULL;

  if (!mw_harness_require ("mutt", "mutt"))
    return;
  g_free (mw_imap_client_ok (client, "CREATE \"Entw&APw-rfe\""));
  g_free (mw_imap_client_ok (client, "SELECT \"Entw&APw-rfe\""));
  client_idle (client);
  mutt_send_with_record (f);
  pushed = client_wait_pushed (client, told_one_exists);
  g_free (client_done (client));
  fetch = mw_imap_client_ok (client, "FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS "
                                     "(SUBJECT)])");
  assert_flags (fetch_flags (fetch, 1), "\\Seen", "\\Deleted \\Flagged");
  g_assert_nonnull (strstr (fetch, "Subject: sent by mutt"));
}

/* mutt writes bare LF; mw-imapd sends CRLF (RFC 9051 §2.3.1) and counts
 * those octets in RFC822.SIZE (§2.3.4). */
static void
test_mutt_message_reads_with_crlf (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) client = client_login (f, NULL);
  g_autofree char *fetch = NULL;
  g_autofree char *body = NULL;
  g_autofree char *expected = NULL;

  if (!mw_harness_require ("mutt", "mutt"))
    return;
  g_free (mw_imap_client_ok (client, "CREATE \"Entw&APw-rfe\""));
  mutt_send_with_record (f);
  g_free (mw_imap_client_ok (client, "SELECT \"Entw&APw-rfe\""));
  fetch = mw_imap_client_ok (client, "FETCH 1 (RFC822.SIZE BODY.PEEK[])");
  body = literal_after (fetch, "BODY[] ");
  g_assert_nonnull (strstr (body, "Subject: sent by mutt"));
  g_assert_nonnull (strstr (body, "\nSecond paragraph."));
  expected = with_crlf (body);
  g_assert_cmpstr (body, ==, expected);
  g_assert_cmpuint (number_after (fetch, "RFC822.SIZE "), ==, strlen (body));
}

/* mutt opens the Maildir itself (mutt -f, through a pseudo-terminal),
 * flags "first" and deletes "second"; a session open on INBOX is told of
 * both at its next NOOP. */
static void
test_mutt_flags_and_deletes (Fixture *f, gconstpointer data)
{
  g_autoptr (MwImapClient) client = client_login (f, "INBOX");
  g_autofree char *muttrc = write_muttrc (f);
  g_autofree char *driver = g_build_filename (
      g_getenv ("MW_SOURCE_ROOT"), "tests", "imap", "interop-pty.py", NULL);
  g_autofree char *steps =
      g_build_filename (mw_harness_dir (f->harness), "mutt.steps", NULL);
  g_autofree char *home =
      g_strdup_printf ("HOME=%s", mw_harness_dir (f->harness));
  /* T ~s first: tag it; ;F: flag the tagged; D ~s second: delete it;
   * q: quit, writing flags and removing the deleted (delete=yes) */
  const char *script = "expect Msgs:2\n"
                       "send T\n"
                       "expect Tag messages matching\n"
                       "send ~s first\\r\n"
                       "send ;F\n"
                       "send D\n"
                       "expect Delete messages matching\n"
                       "send ~s second\\r\n"
                       "send q\n"
                       "exit\n";
  const char *argv[] = { "env", home,       "python3", driver, steps,
                         "--",  "mutt",     "-n",      "-F",   muttrc,
                         "-f",  f->maildir, NULL };
  g_autofree char *errors = NULL;
  g_autofree char *news = NULL;
  int status;

  if (!mw_harness_require ("mutt", "mutt") ||
      !mw_harness_require ("python3", "python3"))
    return;
  g_assert_true (g_file_set_contents (steps, script, -1, NULL));
  status = mw_harness_run (f->harness, argv, NULL, NULL, &errors);
  g_test_message ("mutt through interop-pty.py: exit %d\n%s", status, errors);
  g_assert_cmpint (status, ==, 0);
  news = mw_imap_client_ok (client, "NOOP");
  g_assert_nonnull (strstr (news, "* 2 EXPUNGE"));
  assert_flags (fetch_flags (news, 1), "\\Flagged", "\\Deleted \\Seen");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func)                                                        \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/imapd/shared/dovecot-writes/sessions-hear-flags-and-new-mail",
       test_dovecot_writes);
  ADD ("/imapd/shared/dovecot-writes/message-reads-as-sent",
       test_dovecot_message_reads_as_sent);
  ADD ("/imapd/shared/dovecot-writes/folder-is-listed-by-its-name",
       test_dovecot_folder_is_listed);
  ADD ("/imapd/shared/dovecot-writes/expunge-is-told", test_dovecot_expunges);
  ADD ("/imapd/shared/mw-imapd-writes/dovecot-sees-flags-folder-move",
       test_mw_imapd_writes);
  ADD ("/imapd/shared/mutt-writes/record-copy-is-pushed-in-idle",
       test_mutt_batch_record);
  ADD ("/imapd/shared/mutt-writes/message-reads-with-crlf",
       test_mutt_message_reads_with_crlf);
  ADD ("/imapd/shared/mutt-writes/flag-and-delete-are-told",
       test_mutt_flags_and_deletes);
#undef ADD
  return g_test_run ();
}
