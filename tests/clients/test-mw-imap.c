/* SPDX-License-Identifier: MIT
 * test-mw-imap.c: the mw-imap program (issue 9), every subcommand but
 * sync, run as a process against mw-imapd and against a private Dovecot:
 * list (special use, counts), fetch (summaries, headers, whole messages
 * byte for byte), search, flag, move, append (and its literal under
 * LITERAL-, RFC 7888 §5, watched on the wire by capability-proxy.c),
 * watch (the pushes of new mail, flag changes and expunges within a
 * second, Ctrl-C ending it with DONE and LOGOUT, --idle-renew's DONE and
 * IDLE again), --trace and --starttls/--tls with --cafile.
 * The accounts are prepared and checked with the client library.
 */
#include <signal.h>
#include <string.h>

#include "capability-proxy.h"
#include "imap-client.h"
#include "mw-dovecot.h"
#include "mw-harness.h"

#define TEST_TIMEOUT 30

typedef enum
{
  SERVER_MW_IMAPD,
  SERVER_DOVECOT,
} ServerKind;

typedef struct
{
  ServerKind kind;
  MwHarness *harness;
  MwDovecot *dovecot;
  CapabilityProxy *proxy; /* in front of the cleartext port, or NULL */
  guint16 imap_port;
  guint16 imaps_port;
  char *password_file;
  gboolean skipped;
} Fixture;

/* @literal_minus: the server offers LITERAL- instead of LITERAL+ (RFC
 * 7888 §5), and a capability proxy logs the wire in front of it */
typedef struct
{
  ServerKind kind;
  gboolean literal_minus;
} TestServer;

static const TestServer servers[2][2] = {
  { { SERVER_MW_IMAPD, FALSE }, { SERVER_DOVECOT, FALSE } },
  { { SERVER_MW_IMAPD, TRUE }, { SERVER_DOVECOT, TRUE } },
};

/* mw-imapd offers LITERAL+ only: the proxy trades it for LITERAL-;
 * Dovecot says LITERAL- itself (imap_literal_minus) and enforces it */
static void
fixture_literal_minus (Fixture *f)
{
  const char *const hidden[] = { "LITERAL+", NULL };
  const char *const added[] = { "LITERAL-", NULL };

  if (f->kind == SERVER_DOVECOT)
    f->proxy = capability_proxy_new_full (f->imap_port, NULL, NULL);
  else
    f->proxy = capability_proxy_new_full (f->imap_port, hidden, added);
  f->imap_port = capability_proxy_port (f->proxy);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  const TestServer *server = data;
  const char *reason = NULL;
  g_autoptr (GError) error = NULL;

  f->kind = server->kind;
  if (f->kind == SERVER_DOVECOT && !mw_dovecot_available (&reason))
    {
      g_test_skip (reason);
      f->skipped = TRUE;
      return;
    }
  f->harness = mw_harness_new (NULL);
  f->password_file =
      g_build_filename (mw_harness_dir (f->harness), "alice.password", NULL);
  g_file_set_contents (f->password_file, "alice-secret\n", -1, &error);
  g_assert_no_error (error);
  if (f->kind == SERVER_DOVECOT)
    {
      f->dovecot = mw_dovecot_start (f->harness, server->literal_minus
                                                     ? MW_DOVECOT_LITERAL_MINUS
                                                     : MW_DOVECOT_DEFAULT);
      f->imap_port = mw_dovecot_port (f->dovecot, "imap");
      f->imaps_port = mw_dovecot_port (f->dovecot, "imaps");
    }
  else
    {
      mw_harness_start (f->harness, "mw-imapd", NULL);
      f->imap_port = mw_harness_port (f->harness, "imap");
      f->imaps_port = mw_harness_port (f->harness, "imaps");
    }
  if (server->literal_minus)
    fixture_literal_minus (f);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->proxy, capability_proxy_free);
  g_clear_pointer (&f->dovecot, mw_dovecot_free);
  g_clear_pointer (&f->harness, mw_harness_free);
  g_free (f->password_file);
}

static char *
make_message (const char *subject, const char *body)
{
  return g_strdup_printf ("From: Alice <alice@example.test>\r\n"
                          "To: Bob <bob@example.test>\r\n"
                          "Subject: %s\r\n"
                          "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
                          "Message-ID: <%s@example.test>\r\n"
                          "\r\n"
                          "%s",
                          subject, subject, body);
}

static void
deliver_text (Fixture *f, const char *text)
{
  if (f->kind == SERVER_DOVECOT)
    mw_dovecot_deliver (f->dovecot, "alice", text);
  else
    mw_harness_deliver (f->harness, "alice", text);
}

/* ---- the account, through the client library ------------------------ */

static ImapClient *
session_open (Fixture *f, const char *mailbox)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ImapClient) client =
      imap_client_connect ("127.0.0.1", f->imap_port, FALSE, NULL, FALSE,
                           TEST_TIMEOUT, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_true (imap_client_login (client, IMAP_AUTH_AUTO, "alice",
                                    "alice-secret", &error));
  g_assert_no_error (error);
  if (mailbox != NULL)
    {
      g_assert_true (
          imap_client_select (client, mailbox, FALSE, NULL, NULL, &error));
      g_assert_no_error (error);
    }
  return g_steal_pointer (&client);
}

static void session_ok (ImapClient *client, const char *format, ...)
    G_GNUC_PRINTF (2, 3);

static void
session_ok (ImapClient *client, const char *format, ...)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ImapReply) reply = NULL;
  g_autofree char *command = NULL;
  va_list args;

  va_start (args, format);
  command = g_strdup_vprintf (format, args);
  va_end (args);
  reply =
      imap_client_command_ok (client, command, strlen (command), NULL, &error);
  g_assert_no_error (error);
}

/* The flags of UID @uid in the selected mailbox, as "\\Seen \\Flagged". */
static char *
session_flags (ImapClient *client, guint32 uid)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) replies = NULL;
  g_autoptr (ImapReply) tagged = imap_client_run (
      client, &replies, &error, "UID FETCH %u (UID FLAGS)", uid);

  g_assert_no_error (error);
  for (guint i = 0; i < replies->len; i++)
    {
      guint64 fetched = 0;

      g_autofree char *flags = NULL;
      g_auto (GStrv) words = NULL;
      g_autoptr (GStrvBuilder) kept = g_strv_builder_new ();
      g_auto (GStrv) result = NULL;

      if (!imap_reply_fetch_number (replies->pdata[i], "UID", &fetched) ||
          fetched != uid)
        continue;
      flags = imap_arg_join_atoms (
          imap_reply_fetch_item (replies->pdata[i], "FLAGS"));
      words = g_strsplit (flags, " ", -1);
      /* \Recent is the session's, not the message's (RFC 3501 §2.3.2) */
      for (guint w = 0; words[w] != NULL; w++)
        if (words[w][0] != '\0' && strcmp (words[w], "\\Recent") != 0)
          g_strv_builder_add (kept, words[w]);
      result = g_strv_builder_end (kept);
      return g_strjoinv (" ", result);
    }
  return NULL;
}

/* INBOX: UID 1 "first" (\Seen), UID 2 "second", UID 3 "third report";
 * a folder Archive. */
static void
prepare_account (Fixture *f)
{
  g_autofree char *first = make_message ("first", "one\r\n");
  g_autofree char *second = make_message ("second", "two\r\ntwo\r\n");
  g_autofree char *third = make_message ("third report", "three\r\n");
  g_autoptr (ImapClient) client = NULL;

  deliver_text (f, first);
  deliver_text (f, second);
  deliver_text (f, third);
  client = session_open (f, "INBOX");
  g_assert_cmpuint (imap_client_get_mailbox (client)->exists, ==, 3);
  session_ok (client, "UID STORE 1 +FLAGS.SILENT (\\Seen)");
  session_ok (client, "CREATE Archive");
  g_assert_true (imap_client_logout (client, NULL));
}

/* ---- running mw-imap ------------------------------------------------ */

/* argv of mw-imap with the connection options, then @extra (a
 * NULL-terminated list of options and the command) (transfer full). */
static GStrv
mw_imap_argv (Fixture *f, const char *mode, const char *const *extra)
{
  g_autoptr (GStrvBuilder) argv = g_strv_builder_new ();
  g_autofree char *server = g_strdup_printf (
      "%s:%u", mode != NULL ? "localhost" : "127.0.0.1",
      g_strcmp0 (mode, "--tls") == 0 ? f->imaps_port : f->imap_port);

  g_strv_builder_add_many (argv, "mw-imap", "--server", server, "--user",
                           "alice", "--password-file", f->password_file, NULL);
  if (mode != NULL)
    g_strv_builder_add_many (argv, mode, "--cafile",
                             mw_harness_cert (f->harness), NULL);
  g_strv_builder_addv (argv, (const char **) extra);
  return g_strv_builder_end (argv);
}

/* Runs mw-imap to its end; asserts exit status 0; returns stdout. */
static char *
run_ok (Fixture *f, const char *mode, const char *const *extra)
{
  g_auto (GStrv) argv = mw_imap_argv (f, mode, extra);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status =
      mw_harness_run (f->harness, (const char *const *) argv, NULL, &out, &err);

  if (status != 0 || g_getenv ("MW_TEST_TRACE") != NULL)
    g_test_message ("mw-imap said:\n%s%s", out, err);
  g_assert_cmpint (status, ==, 0);
  return g_steal_pointer (&out);
}

/* The output line that starts with @prefix (after spaces), or NULL
 * (transfer full). */
static char *
line_starting (const char *output, const char *prefix)
{
  g_auto (GStrv) lines = g_strsplit (output, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (g_strchug (lines[i]), prefix))
      return g_strdup (lines[i]);
  return NULL;
}

/* ---- list, fetch, search -------------------------------------------- */

/* "folder use messages unseen": LIST (special use, RFC 6154) and
 * LIST-STATUS (RFC 5819) or STATUS */
static void
test_list (Fixture *f, gconstpointer data)
{
  const char *const command[] = { "list", NULL };
  g_autofree char *out = NULL;
  g_autofree char *inbox = NULL;
  g_autofree char *archive = NULL;

  if (f->skipped)
    return;
  prepare_account (f);
  {
    g_autoptr (ImapClient) client = session_open (f, NULL);

    /* Dovecot's config makes Sent with \Sent; mw-imapd knows it by name */
    if (f->kind == SERVER_MW_IMAPD)
      session_ok (client, "CREATE Sent");
    g_assert_true (imap_client_logout (client, NULL));
  }
  out = run_ok (f, NULL, command);
  g_assert_true (g_str_has_prefix (out, "folder "));
  inbox = line_starting (out, "INBOX ");
  g_assert_nonnull (inbox);
  {
    g_autoptr (GRegex) regex = g_regex_new ("^INBOX +3 +2$", 0, 0, NULL);

    g_assert_true (g_regex_match (regex, inbox, 0, NULL));
  }
  archive = line_starting (out, "Archive ");
  g_assert_nonnull (archive);
  {
    /* mw-imapd knows Archive by its name (RFC 6154 §2), Dovecot only
     * what its config says */
    g_autoptr (GRegex) regex =
        g_regex_new (f->kind == SERVER_MW_IMAPD ? "^Archive +\\\\Archive +0 +0$"
                                                : "^Archive +0 +0$",
                     0, 0, NULL);

    g_assert_true (g_regex_match (regex, archive, 0, NULL));
  }
  {
    g_autofree char *sent = line_starting (out, "Sent ");
    g_autoptr (GRegex) regex =
        g_regex_new ("^Sent +\\\\Sent +0 +0$", 0, 0, NULL);

    g_assert_nonnull (sent);
    g_assert_true (g_regex_match (regex, sent, 0, NULL));
  }
}

/* fetch FOLDER: one summary per message (UID, flags, size, from,
 * subject) */
static void
test_fetch_summaries (Fixture *f, gconstpointer data)
{
  const char *const command[] = { "fetch", "INBOX", NULL };
  g_autofree char *out = NULL;
  g_autofree char *first = NULL;
  g_autofree char *third = NULL;
  g_autoptr (GRegex) first_regex = NULL;

  if (f->skipped)
    return;
  prepare_account (f);
  out = run_ok (f, NULL, command);
  first = line_starting (out, "1 ");
  third = line_starting (out, "3 ");
  g_assert_nonnull (first);
  g_assert_nonnull (third);
  first_regex =
      g_regex_new ("^1 +\\\\Seen +[0-9]+ +from Alice: first$", 0, 0, NULL);
  g_assert_true (g_regex_match (first_regex, first, 0, NULL));
  g_assert_true (g_str_has_suffix (third, "from Alice: third report"));
  g_assert_null (strstr (third, "\\Seen"));
  g_assert_null (line_starting (out, "4 "));
}

/* fetch --headers FOLDER UID: the header only, and BODY.PEEK leaves
 * \Seen alone */
static void
test_fetch_headers (Fixture *f, gconstpointer data)
{
  const char *const command[] = { "--headers", "fetch", "INBOX", "2", NULL };
  g_autofree char *out = NULL;
  g_autofree char *text = make_message ("second", "two\r\ntwo\r\n");
  g_autofree char *header =
      g_strndup (text, strstr (text, "\r\n\r\n") + 4 - text);
  g_autofree char *want = g_strdup_printf (
      "==> message 2 (%zu octets) <==\n%s\n", strlen (header), header);
  g_autoptr (ImapClient) client = NULL;
  g_autofree char *flags = NULL;

  if (f->skipped)
    return;
  prepare_account (f);
  out = run_ok (f, NULL, command);
  g_assert_cmpstr (out, ==, want);
  client = session_open (f, "INBOX");
  flags = session_flags (client, 2);
  g_assert_cmpstr (flags, ==, "");
}

/* fetch FOLDER UID: the whole message, byte for byte; reading it marks
 * it \Seen (RFC 9051 §6.4.5) */
static void
test_fetch_whole (Fixture *f, gconstpointer data)
{
  const char *const command[] = { "fetch", "INBOX", "2", NULL };
  g_autofree char *out = NULL;
  g_autofree char *text = make_message ("second", "two\r\ntwo\r\n");
  g_autofree char *want = g_strdup_printf (
      "==> message 2 (%zu octets) <==\n%s\n", strlen (text), text);
  g_autoptr (ImapClient) client = NULL;
  g_autofree char *flags = NULL;

  if (f->skipped)
    return;
  prepare_account (f);
  out = run_ok (f, NULL, command);
  g_assert_cmpstr (out, ==, want);
  client = session_open (f, "INBOX");
  flags = session_flags (client, 2);
  g_assert_cmpstr (flags, ==, "\\Seen");
}

/* search FOLDER KEYS...: the UIDs, one a line */
static void
test_search (Fixture *f, gconstpointer data)
{
  const char *const subject[] = { "search", "INBOX", "SUBJECT", "report",
                                  NULL };
  const char *const unseen[] = { "search", "INBOX", "UNSEEN", NULL };
  const char *const quoted[] = { "search", "INBOX", "SUBJECT", "third report",
                                 NULL };
  const char *const none[] = { "search", "INBOX", "SUBJECT", "nothing-like-it",
                               NULL };
  g_autofree char *out_subject = NULL;
  g_autofree char *out_unseen = NULL;
  g_autofree char *out_quoted = NULL;
  g_autofree char *out_none = NULL;

  if (f->skipped)
    return;
  prepare_account (f);
  out_subject = run_ok (f, NULL, subject);
  g_assert_cmpstr (out_subject, ==, "3\n");
  out_unseen = run_ok (f, NULL, unseen);
  /* ESEARCH answers "2:3", SEARCH "2 3" a line each */
  g_assert_true (g_strcmp0 (out_unseen, "2\n3\n") == 0 ||
                 g_strcmp0 (out_unseen, "2:3\n") == 0);
  out_quoted = run_ok (f, NULL, quoted);
  g_assert_cmpstr (out_quoted, ==, "3\n");
  out_none = run_ok (f, NULL, none);
  g_assert_cmpstr (out_none, ==, "");
}

/* ---- flag, move, append ---------------------------------------------- */

static void
test_flag (Fixture *f, gconstpointer data)
{
  const char *const command[] = { "flag",       "INBOX",   "1:2",
                                  "+\\Flagged", "-\\Seen", NULL };
  g_autofree char *out = NULL;
  g_autoptr (ImapClient) client = NULL;
  g_autofree char *flags1 = NULL;
  g_autofree char *flags2 = NULL;
  g_autofree char *flags3 = NULL;

  if (f->skipped)
    return;
  prepare_account (f);
  out = run_ok (f, NULL, command);
  /* the server's order of the flags */
  g_assert_true (strstr (out, "message 1: flags now (\\Seen \\Flagged)") ||
                 strstr (out, "message 1: flags now (\\Flagged \\Seen)"));
  g_assert_nonnull (strstr (out, "message 1: flags now (\\Flagged)"));
  g_assert_nonnull (strstr (out, "message 2: flags now (\\Flagged)"));
  client = session_open (f, "INBOX");
  flags1 = session_flags (client, 1);
  flags2 = session_flags (client, 2);
  flags3 = session_flags (client, 3);
  g_assert_cmpstr (flags1, ==, "\\Flagged");
  g_assert_cmpstr (flags2, ==, "\\Flagged");
  g_assert_cmpstr (flags3, ==, "");
}

/* move FOLDER UIDS TO: in the target, gone from the source */
static void
test_move (Fixture *f, gconstpointer data)
{
  const char *const command[] = { "move", "INBOX", "2", "Archive", NULL };
  const char *const fetch_archive[] = { "fetch", "Archive", NULL };
  const char *const search_inbox[] = { "search", "INBOX", "ALL", NULL };
  g_autofree char *out = NULL;
  g_autofree char *archive = NULL;
  g_autofree char *inbox = NULL;
  g_autoptr (ImapClient) client = NULL;

  if (f->skipped)
    return;
  prepare_account (f);
  out = run_ok (f, NULL, command);
  g_assert_true (g_str_has_prefix (out, "moved 2 to Archive"));
  archive = run_ok (f, NULL, fetch_archive);
  g_assert_nonnull (strstr (archive, "from Alice: second"));
  g_assert_null (strstr (archive, "first"));
  inbox = run_ok (f, NULL, search_inbox);
  g_assert_true (g_strcmp0 (inbox, "1\n3\n") == 0 ||
                 g_strcmp0 (inbox, "1,3\n") == 0);
  client = session_open (f, "INBOX");
  g_assert_cmpuint (imap_client_get_mailbox (client)->exists, ==, 2);
}

/* append FOLDER FILE: LF line ends become CRLF (RFC 5322 §2.1); the
 * message fetched back is exactly that */
static void
test_append (Fixture *f, gconstpointer data)
{
  g_autofree char *path = NULL;
  const char *lf = "From: Bob <bob@example.test>\n"
                   "Subject: appended\n"
                   "\n"
                   "an appended message\n"
                   "* 9 EXISTS looks like IMAP\n";
  g_autofree char *crlf = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *back = NULL;
  g_autofree char *want = NULL;

  if (f->skipped)
    return;
  prepare_account (f);
  path = g_build_filename (mw_harness_dir (f->harness), "m.eml", NULL);
  g_file_set_contents (path, lf, -1, &error);
  g_assert_no_error (error);
  {
    const char *const command[] = { "--flags", "\\Flagged", "append",
                                    "Archive", path,        NULL };

    out = run_ok (f, NULL, command);
  }
  g_assert_true (g_str_has_prefix (out, "appended to Archive as UID 1 "
                                        "(UIDVALIDITY "));
  {
    g_auto (GStrv) lines = g_strsplit (lf, "\n", -1);

    crlf = g_strjoinv ("\r\n", lines);
  }
  want = g_strdup_printf ("==> message 1 (%zu octets) <==\n%s\n", strlen (crlf),
                          crlf);
  {
    const char *const command[] = { "--peek", "fetch", "Archive", "1", NULL };

    back = run_ok (f, NULL, command);
  }
  g_assert_cmpstr (back, ==, want);
  {
    g_autoptr (ImapClient) client = session_open (f, "Archive");
    g_autofree char *flags = session_flags (client, 1);

    g_assert_cmpstr (flags, ==, "\\Flagged");
  }
}

/* A message of exactly @size octets once its line ends are CRLF, written
 * to a file with LF line ends (as a user's editor leaves it); the CRLF
 * text is returned (transfer full). */
static char *
write_sized_message (Fixture *f,
                     const char *subject,
                     gsize size,
                     char **out_path)
{
  g_autofree char *header = make_message (subject, "");
  g_autoptr (GString) crlf = g_string_new (header);
  g_auto (GStrv) lines = NULL;
  g_autofree char *lf = NULL;
  g_autoptr (GError) error = NULL;

  /* lines of 62 octets and a last one that makes up the rest */
  while (size - crlf->len > 64 + 3)
    g_string_append (crlf, "0123456789abcdefghijklmnopqrstuvwxyz"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n");
  g_string_append_len (crlf,
                       "0123456789abcdefghijklmnopqrstuvwxyz"
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                       size - crlf->len - 2);
  g_string_append (crlf, "\r\n");
  g_assert_cmpuint (crlf->len, ==, size);
  lines = g_strsplit (crlf->str, "\r\n", -1);
  lf = g_strjoinv ("\n", lines);
  *out_path =
      g_strdup_printf ("%s/%s.eml", mw_harness_dir (f->harness), subject);
  g_file_set_contents (*out_path, lf, -1, &error);
  g_assert_no_error (error);
  return g_string_free (g_steal_pointer (&crlf), FALSE);
}

/* The whole of UID @uid of @folder, through the library. */
static void
assert_message_is (Fixture *f,
                   const char *folder,
                   guint32 uid,
                   const char *text)
{
  g_autoptr (ImapClient) client = session_open (f, folder);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) replies = NULL;
  g_autoptr (ImapReply) tagged = imap_client_run (
      client, &replies, &error, "UID FETCH %u (UID BODY.PEEK[])", uid);

  g_assert_no_error (error);
  for (guint i = 0; i < replies->len; i++)
    {
      const ImapArg *body = imap_reply_fetch_item (replies->pdata[i], "BODY[");

      if (body != NULL)
        {
          g_assert_cmpmem (body->data, body->length, text, strlen (text));
          return;
        }
    }
  g_error ("no BODY[] of UID %u in %s", uid, folder);
}

/* append under LITERAL- (RFC 7888 §5): 4096 octets go as "{4096+}" at
 * once, 4097 as "{4097}" and only after the server's "+", as the proxy's
 * log of the wire shows; both are stored whole */
static void
test_append_literal_minus (Fixture *f, gconstpointer data)
{
  g_autofree char *at_path = NULL;
  g_autofree char *past_path = NULL;
  g_autofree char *at_limit = NULL;
  g_autofree char *past_limit = NULL;
  g_autofree char *out = NULL;

  if (f->skipped)
    return;
  at_limit = write_sized_message (f, "at-limit", 4096, &at_path);
  past_limit = write_sized_message (f, "past-limit", 4097, &past_path);
  {
    const char *const command[] = { "--trace", "append", "INBOX", at_path,
                                    NULL };

    out = run_ok (f, NULL, command);
    g_assert_nonnull (strstr (out, "LITERAL-"));
    g_assert_nonnull (strstr (out, "{4096+}"));
    g_assert_null (strstr (out, "\nS: + "));
    g_assert_nonnull (strstr (out, "appended to INBOX as UID 1 "));
    g_clear_pointer (&out, g_free);
  }
  {
    const char *const command[] = { "--trace", "append", "INBOX", past_path,
                                    NULL };

    out = run_ok (f, NULL, command);
    g_assert_nonnull (strstr (out, "{4097}"));
    g_assert_null (strstr (out, "{4097+}"));
    g_assert_nonnull (strstr (out, "\nS: + "));
    g_assert_nonnull (strstr (out, "appended to INBOX as UID 2 "));
  }
  capability_proxy_assert_literal (f->proxy, "{4096+}", at_limit, FALSE);
  capability_proxy_assert_literal (f->proxy, "{4097}", past_limit, TRUE);
  assert_message_is (f, "INBOX", 1, at_limit);
  assert_message_is (f, "INBOX", 2, past_limit);
}

/* ---- --trace, --starttls, --tls -------------------------------------- */

/* Every line shown, the client's "C:" and the server's "S:", annotated
 * from the catalog with its RFC; credentials never */
static void
test_trace (Fixture *f, gconstpointer data)
{
  const char *const command[] = { "--trace", "search", "INBOX", "ALL", NULL };
  g_autofree char *out = NULL;

  if (f->skipped)
    return;
  prepare_account (f);
  out = run_ok (f, NULL, command);
  g_assert_true (g_str_has_prefix (out, "S: * OK "));
  g_assert_nonnull (strstr (out, "SELECT INBOX   ; "));
  g_assert_nonnull (strstr (out, "RFC "));
  g_assert_nonnull (strstr (out, "; reply to SELECT: "));
  g_assert_nonnull (strstr (out, "LOGOUT   ; "));
  g_assert_null (strstr (out, "alice-secret"));
  g_assert_nonnull (strstr (out, "***"));
}

static void
test_starttls (Fixture *f, gconstpointer data)
{
  const char *const command[] = { "--trace", "fetch", "INBOX", NULL };
  g_autofree char *out = NULL;

  if (f->skipped)
    return;
  prepare_account (f);
  out = run_ok (f, "--starttls", command);
  g_assert_nonnull (strstr (out, " STARTTLS   ; "));
  g_assert_nonnull (strstr (out, "from Alice: first"));
}

static void
test_tls (Fixture *f, gconstpointer data)
{
  const char *const command[] = { "fetch", "INBOX", NULL };
  g_autofree char *out = NULL;

  if (f->skipped)
    return;
  prepare_account (f);
  out = run_ok (f, "--tls", command);
  g_assert_nonnull (strstr (out, "from Alice: third report"));
}

/* Without --cafile the harness's certificate is not trusted. */
static void
test_tls_untrusted (Fixture *f, gconstpointer data)
{
  g_autofree char *server = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  if (f->skipped)
    return;
  server = g_strdup_printf ("localhost:%u", f->imaps_port);
  {
    const char *const argv[] = {
      "mw-imap", "--server",        server,           "--tls", "--user",
      "alice",   "--password-file", f->password_file, "list",  NULL
    };

    g_assert_cmpint (mw_harness_run (f->harness, argv, NULL, &out, &err), ==,
                     1);
  }
  g_assert_true (g_str_has_prefix (err, "mw-imap: "));
}

/* ---- watch ------------------------------------------------------------ */

typedef struct
{
  GSubprocess *process;
  GDataInputStream *out;
  GString *seen; /* everything read, for failure messages */
} Watcher;

static Watcher *
watcher_start (Fixture *f, const char *const *extra)
{
  Watcher *watcher = g_new0 (Watcher, 1);
  g_auto (GStrv) argv = mw_imap_argv (f, NULL, extra);
  g_autoptr (GError) error = NULL;

  g_free (argv[0]);
  argv[0] = mw_harness_program ("mw-imap");
  watcher->process = g_subprocess_newv (
      (const char *const *) argv,
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error);
  g_assert_no_error (error);
  watcher->out =
      g_data_input_stream_new (g_subprocess_get_stdout_pipe (watcher->process));
  watcher->seen = g_string_new (NULL);
  return watcher;
}

typedef struct
{
  gboolean done;
  char *line;
} LineRead;

static void
on_line (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LineRead *read = user_data;

  read->line = g_data_input_stream_read_line_finish (
      G_DATA_INPUT_STREAM (source), result, NULL, NULL);
  read->done = TRUE;
}

static gboolean
on_deadline (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

/* The next line of output within @milliseconds, or NULL (transfer
 * full). */
static char *
watcher_read_line (Watcher *watcher, guint milliseconds)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  LineRead read = { FALSE, NULL };
  guint deadline = g_timeout_add (milliseconds, on_deadline, cancellable);

  g_data_input_stream_read_line_async (watcher->out, G_PRIORITY_DEFAULT,
                                       cancellable, on_line, &read);
  while (!read.done)
    g_main_context_iteration (NULL, TRUE);
  if (!g_cancellable_is_cancelled (cancellable))
    g_source_remove (deadline);
  if (read.line != NULL)
    g_string_append_printf (watcher->seen, "%s\n", read.line);
  return read.line;
}

/* Reads up to a line that starts with @prefix, within @milliseconds of
 * now; fails the test otherwise. */
static void
watcher_expect (Watcher *watcher, const char *prefix, guint milliseconds)
{
  gint64 deadline = g_get_monotonic_time () + milliseconds * 1000;

  for (;;)
    {
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      g_autofree char *line =
          left > 0 ? watcher_read_line (watcher, (guint) left) : NULL;

      if (line != NULL && g_str_has_prefix (line, prefix))
        return;
      if (line == NULL)
        g_error ("no \"%s\" within %u ms; mw-imap said:\n%s", prefix,
                 milliseconds, watcher->seen->str);
    }
}

/* The same, for a line that matches the regular expression @pattern
 * from its start. */
static void
watcher_expect_matching (Watcher *watcher,
                         const char *pattern,
                         guint milliseconds)
{
  gint64 deadline = g_get_monotonic_time () + milliseconds * 1000;

  for (;;)
    {
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      g_autofree char *line =
          left > 0 ? watcher_read_line (watcher, (guint) left) : NULL;

      if (line != NULL &&
          g_regex_match_simple (pattern, line, G_REGEX_ANCHORED, 0))
        return;
      if (line == NULL)
        g_error ("no line matching \"%s\" within %u ms; mw-imap said:\n%s",
                 pattern, milliseconds, watcher->seen->str);
    }
}

static void
on_exited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) user_data = TRUE;
}

static gboolean
on_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Waits (at most 10 s) for mw-imap to exit; returns its exit status. */
static int
watcher_finish (Watcher *watcher)
{
  gboolean exited = FALSE;
  gboolean late = FALSE;
  guint timeout = g_timeout_add_seconds (10, on_flag, &late);
  g_autofree char *rest = NULL;
  int status = -1;

  g_subprocess_wait_async (watcher->process, NULL, on_exited, &exited);
  while (!exited && !late)
    g_main_context_iteration (NULL, TRUE);
  if (!late)
    g_source_remove (timeout);
  if (!exited)
    {
      g_subprocess_force_exit (watcher->process);
      g_error ("mw-imap watch did not end; it said:\n%s", watcher->seen->str);
    }
  while ((rest = watcher_read_line (watcher, 1000)) != NULL)
    g_clear_pointer (&rest, g_free);
  if (g_subprocess_get_if_exited (watcher->process))
    status = g_subprocess_get_exit_status (watcher->process);
  return status;
}

static void
watcher_free (Watcher *watcher)
{
  g_object_unref (watcher->out);
  g_object_unref (watcher->process);
  g_string_free (watcher->seen, TRUE);
  g_free (watcher);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Watcher, watcher_free)

/* watch: new mail, a flag set by another session and an expunge are
 * each printed within a second (RFC 2177 pushes); --max-events ends it */
static void
test_watch (Fixture *f, gconstpointer data)
{
  const char *const command[] = { "--max-events", "4", "watch", "INBOX", NULL };
  g_autoptr (Watcher) watcher = NULL;
  g_autoptr (ImapClient) other = NULL;
  g_autofree char *text = make_message ("pushed", "hello\r\n");

  if (f->skipped)
    return;
  prepare_account (f);
  watcher = watcher_start (f, command);
  watcher_expect (watcher, "watching INBOX: 3 messages", 10000);
  /* let the IDLE begin: the next push would otherwise come at a command */
  other = session_open (f, "INBOX");
  deliver_text (f, text);
  watcher_expect (watcher, "new message 4 from Alice: pushed", 1000);
  session_ok (other, "UID STORE 2 +FLAGS.SILENT (\\Seen)");
  watcher_expect (watcher, "message 2 flagged \\Seen by another session", 1000);
  session_ok (other, "UID STORE 3 +FLAGS.SILENT (\\Deleted)");
  watcher_expect (watcher, "message 3 flagged \\Deleted by another session",
                  1000);
  session_ok (other, "EXPUNGE");
  /* "message 3 expunged", or under QRESYNC "messages 3 expunged" */
  {
    gint64 start = g_get_monotonic_time ();
    g_autofree char *line = watcher_read_line (watcher, 1000);

    g_assert_nonnull (line);
    g_assert_true (g_strcmp0 (line, "message 3 expunged") == 0 ||
                   g_strcmp0 (line, "messages 3 expunged") == 0);
    g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
  }
  g_assert_cmpint (watcher_finish (watcher), ==, 0);
  g_assert_true (imap_client_logout (other, NULL));
}

/* Ctrl-C: DONE, LOGOUT, exit status 0 */
static void
test_watch_sigint (Fixture *f, gconstpointer data)
{
  const char *const command[] = { "--trace", "watch", NULL };
  g_autoptr (Watcher) watcher = NULL;

  if (f->skipped)
    return;
  prepare_account (f);
  watcher = watcher_start (f, command);
  watcher_expect (watcher, "watching INBOX: 3 messages", 10000);
  watcher_expect (watcher, "S: + ", 5000);
  g_subprocess_send_signal (watcher->process, SIGINT);
  g_assert_cmpint (watcher_finish (watcher), ==, 0);
  g_assert_nonnull (strstr (watcher->seen->str, "C: DONE"));
  g_assert_nonnull (strstr (watcher->seen->str, " LOGOUT   ; "));
  g_assert_nonnull (strstr (watcher->seen->str, "S: * BYE"));
}

/* watch --idle-renew 1: after a second of quiet the watch says DONE
 * and IDLE again (RFC 2177 §3: before the server's timeout), and a
 * message delivered after that renewal is still printed */
static void
test_watch_idle_renew (Fixture *f, gconstpointer data)
{
  const char *const command[] = { "--trace", "--idle-renew", "1",
                                  "watch",   "INBOX",        NULL };
  g_autoptr (Watcher) watcher = NULL;
  g_autofree char *text = make_message ("after the renewal", "late\r\n");

  if (f->skipped)
    return;
  prepare_account (f);
  watcher = watcher_start (f, command);
  watcher_expect (watcher, "watching INBOX: 3 messages", 10000);
  watcher_expect (watcher, "S: + ", 10000);
  watcher_expect (watcher, "C: DONE", 10000);
  /* the renewal: a new IDLE, and the server's "+" to it */
  watcher_expect_matching (watcher, "C: A[0-9]+ IDLE ", 10000);
  watcher_expect (watcher, "S: + ", 10000);
  deliver_text (f, text);
  watcher_expect (watcher, "new message 4 from Alice: after the renewal",
                  10000);
  g_subprocess_send_signal (watcher->process, SIGINT);
  g_assert_cmpint (watcher_finish (watcher), ==, 0);
}

/* Ctrl-C at once after the "watching" line, before IDLE is under way */
static void
test_watch_sigint_early (Fixture *f, gconstpointer data)
{
  const char *const command[] = { "watch", NULL };

  if (f->skipped)
    return;
  prepare_account (f);
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr (Watcher) watcher = watcher_start (f, command);

      watcher_expect (watcher, "watching INBOX: 3 messages", 10000);
      g_subprocess_send_signal (watcher->process, SIGINT);
      g_assert_cmpint (watcher_finish (watcher), ==, 0);
    }
}

int
main (int argc, char **argv)
{
  static const struct
  {
    const char *name;
    void (*func) (Fixture *, gconstpointer);
    gboolean literal_minus;
  } tests[] = {
    { "list-special-use-and-counts", test_list },
    { "fetch-summaries", test_fetch_summaries },
    { "fetch-headers", test_fetch_headers },
    { "fetch-whole-message-exact", test_fetch_whole },
    { "search", test_search },
    { "flag-set-and-clear", test_flag },
    { "move-to-target-gone-from-source", test_move },
    { "append-fetched-back-exact", test_append },
    { "trace-annotated", test_trace },
    { "starttls-cafile", test_starttls },
    { "tls-cafile", test_tls },
    { "tls-untrusted-fails", test_tls_untrusted },
    { "watch-pushes-within-a-second", test_watch },
    { "watch-ctrl-c-done-logout", test_watch_sigint },
    { "watch-ctrl-c-at-once", test_watch_sigint_early },
    { "watch-idle-renew-then-push", test_watch_idle_renew },
    { "append-literal-minus-4096-at-once-4097-waits", test_append_literal_minus,
      TRUE },
  };

  g_test_init (&argc, &argv, NULL);
  for (guint t = 0; t < G_N_ELEMENTS (tests); t++)
    {
      g_autofree char *mw =
          g_strdup_printf ("/mw-imap/mw-imapd/%s", tests[t].name);
      g_autofree char *dovecot =
          g_strdup_printf ("/mw-imap/dovecot/%s", tests[t].name);

      const TestServer *pair = servers[tests[t].literal_minus];

      g_test_add (mw, Fixture, &pair[0], fixture_set_up, tests[t].func,
                  fixture_tear_down);
      g_test_add (dovecot, Fixture, &pair[1], fixture_set_up, tests[t].func,
                  fixture_tear_down);
    }
  return g_test_run ();
}
