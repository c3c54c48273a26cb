/* SPDX-License-Identifier: MIT
 * test-imap-client.c: the IMAP client library (src/clients/imap-client.h)
 * against mw-imapd and against a private Dovecot, every feature on both
 * (issue 9): the greeting, STARTTLS (RFC 9051 §6.2.1) and implicit TLS
 * (RFC 8314), AUTHENTICATE PLAIN with and without SASL-IR (RFC 4959),
 * AUTHENTICATE LOGIN, LOGIN (§6.2.3), ENABLE (RFC 5161), SELECT and the
 * view (§6.3.2, §7.4, §7.5.1; RFC 7162 §3.2.10), APPEND with LITERAL+
 * (RFC 7888) and synchronising literals (§7.5), APPENDUID (RFC 4315),
 * LITERAL- (RFC 7888 §5: at once up to 4096 octets, after "+" past them,
 * seen on the wire through the proxy's log), FETCH of a literal body
 * (§7.5.2), IDLE (RFC 2177) and LOGOUT.
 *
 * mw-imapd always offers LITERAL+ and SASL-IR; the tests that need a
 * server without them reach it through capability-proxy.c, which takes
 * the words out of its capability lists (and adds LITERAL-). Dovecot is
 * configured without them (mw-dovecot.h).
 */
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

/* What the server offers, for the tests that need less than all. */
typedef enum
{
  OFFER_ALL = 0,
  OFFER_NO_LITERAL_PLUS = MW_DOVECOT_NO_LITERAL_PLUS,
  OFFER_NO_SASL_IR = MW_DOVECOT_NO_SASL_IR,
  OFFER_NO_CONDSTORE = MW_DOVECOT_NO_CONDSTORE,
  OFFER_LITERAL_MINUS = MW_DOVECOT_LITERAL_MINUS,
} Offer;

typedef enum
{
  CONNECT_PLAIN,
  CONNECT_STARTTLS,
  CONNECT_TLS,
} ConnectMode;

typedef struct
{
  ServerKind kind;
  Offer offer;
  MwHarness *harness;
  MwDovecot *dovecot;
  CapabilityProxy *proxy;
  guint16 imap_port; /* cleartext (through the proxy if any) */
  guint16 imaps_port;
  GPtrArray *trace; /* "C: line" / "S: line" of the first client */
  gboolean skipped;
} Fixture;

typedef struct
{
  ServerKind kind;
  Offer offer;
} TestServer;

/* ---- fixture -------------------------------------------------------- */

/* The cleartext port goes through a capability proxy from now on. */
static void
fixture_proxy (Fixture *f, const char *const *hidden, const char *const *added)
{
  f->proxy = capability_proxy_new_full (f->imap_port, hidden, added);
  f->imap_port = capability_proxy_port (f->proxy);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  const TestServer *server = data;
  const char *reason = NULL;

  f->kind = server->kind;
  f->offer = server->offer;
  f->trace = g_ptr_array_new_with_free_func (g_free);
  if (f->kind == SERVER_DOVECOT && !mw_dovecot_available (&reason))
    {
      g_test_skip (reason);
      f->skipped = TRUE;
      return;
    }
  f->harness = mw_harness_new (NULL);
  if (f->kind == SERVER_DOVECOT)
    {
      f->dovecot = mw_dovecot_start (f->harness, (MwDovecotFlags) f->offer);
      f->imap_port = mw_dovecot_port (f->dovecot, "imap");
      f->imaps_port = mw_dovecot_port (f->dovecot, "imaps");
      /* Dovecot says LITERAL- itself; the proxy only logs the wire */
      if (f->offer & OFFER_LITERAL_MINUS)
        fixture_proxy (f, NULL, NULL);
      return;
    }
  mw_harness_start (f->harness, "mw-imapd", NULL);
  f->imap_port = mw_harness_port (f->harness, "imap");
  f->imaps_port = mw_harness_port (f->harness, "imaps");
  if (f->offer != OFFER_ALL)
    {
      g_autoptr (GStrvBuilder) hidden = g_strv_builder_new ();
      g_auto (GStrv) words = NULL;
      const char *const literal_minus[] = { "LITERAL-", NULL };

      if (f->offer & (OFFER_NO_LITERAL_PLUS | OFFER_LITERAL_MINUS))
        g_strv_builder_add_many (hidden, "LITERAL+", "LITERAL-", NULL);
      if (f->offer & OFFER_NO_SASL_IR)
        g_strv_builder_add (hidden, "SASL-IR");
      if (f->offer & OFFER_NO_CONDSTORE)
        g_strv_builder_add_many (hidden, "CONDSTORE", "QRESYNC", NULL);
      words = g_strv_builder_end (hidden);
      fixture_proxy (f, (const char *const *) words,
                     (f->offer & OFFER_LITERAL_MINUS) ? literal_minus : NULL);
    }
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->proxy, capability_proxy_free);
  g_clear_pointer (&f->dovecot, mw_dovecot_free);
  g_clear_pointer (&f->harness, mw_harness_free);
  g_ptr_array_unref (f->trace);
}

static void
on_trace (gboolean from_server,
          const char *line,
          const char *meaning,
          gpointer user_data)
{
  GPtrArray *trace = user_data;

  if (g_getenv ("MW_TEST_TRACE") != NULL)
    g_test_message ("%s %s", from_server ? "S:" : "C:", line);
  g_ptr_array_add (trace,
                   g_strdup_printf ("%s %s", from_server ? "S:" : "C:", line));
}

/* A line of the trace starting with @prefix, or NULL. */
static const char *
trace_find (Fixture *f, const char *prefix)
{
  for (guint i = 0; i < f->trace->len; i++)
    if (g_str_has_prefix (f->trace->pdata[i], prefix))
      return f->trace->pdata[i];
  return NULL;
}

static guint
trace_count (Fixture *f, const char *prefix)
{
  guint count = 0;

  for (guint i = 0; i < f->trace->len; i++)
    count += g_str_has_prefix (f->trace->pdata[i], prefix);
  return count;
}

static gboolean
trace_contains (Fixture *f, const char *text)
{
  for (guint i = 0; i < f->trace->len; i++)
    if (strstr (f->trace->pdata[i], text) != NULL)
      return TRUE;
  return FALSE;
}

/* Connects (traced into f->trace when @traced); asserts success. */
static ImapClient *
fixture_connect (Fixture *f, ConnectMode mode, gboolean traced)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ImapClient) client = imap_client_connect (
      "localhost", mode == CONNECT_TLS ? f->imaps_port : f->imap_port,
      mode == CONNECT_TLS, mw_harness_cert (f->harness), FALSE, TEST_TIMEOUT,
      traced ? on_trace : NULL, f->trace, &error);

  g_assert_no_error (error);
  g_assert_nonnull (client);
  if (mode == CONNECT_STARTTLS)
    {
      g_assert_true (imap_client_starttls (client, mw_harness_cert (f->harness),
                                           FALSE, &error));
      g_assert_no_error (error);
    }
  return g_steal_pointer (&client);
}

static const char *
password_of (const char *user)
{
  return strcmp (user, "alice") == 0 ? "alice-secret" : "bob-secret";
}

static ImapClient *
fixture_login (Fixture *f, const char *user, gboolean traced)
{
  g_autoptr (ImapClient) client = fixture_connect (f, CONNECT_PLAIN, traced);
  g_autoptr (GError) error = NULL;

  g_assert_true (imap_client_login (client, IMAP_AUTH_AUTO, user,
                                    password_of (user), &error));
  g_assert_no_error (error);
  return g_steal_pointer (&client);
}

/* Logged in as @user with @mailbox selected (CONDSTORE/QRESYNC enabled
 * first when @qresync). */
static ImapClient *
fixture_select (Fixture *f,
                const char *user,
                const char *mailbox,
                gboolean qresync,
                gboolean traced)
{
  static const char *const extensions[] = { "QRESYNC", "CONDSTORE", NULL };
  g_autoptr (ImapClient) client = fixture_login (f, user, traced);
  g_autoptr (GError) error = NULL;

  if (qresync)
    {
      g_assert_true (imap_client_enable (client, extensions, &error));
      g_assert_no_error (error);
    }
  g_assert_true (
      imap_client_select (client, mailbox, FALSE, NULL, NULL, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&client);
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

/* A message as an MDA would leave it (Maildir new/). */
static void
fixture_deliver (Fixture *f, const char *user, const char *subject)
{
  g_autofree char *text = make_message (subject, "delivered\r\n");

  if (f->kind == SERVER_DOVECOT)
    mw_dovecot_deliver (f->dovecot, user, text);
  else
    mw_harness_deliver (f->harness, user, text);
}

static void command_ok (ImapClient *client, const char *format, ...)
    G_GNUC_PRINTF (2, 3);

static void
command_ok (ImapClient *client, const char *format, ...)
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
  g_assert_nonnull (reply);
}

static void
logout (ImapClient *client)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (imap_client_logout (client, &error));
  g_assert_no_error (error);
}

/* ---- connection and login ------------------------------------------- */

/* RFC 9051 §7.1.1: the greeting's [CAPABILITY] is taken (or asked) */
static void
test_greeting (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) client = NULL;

  if (f->skipped)
    return;
  client = fixture_connect (f, CONNECT_PLAIN, TRUE);
  g_assert_true (imap_client_has_capability (client, "IMAP4rev1"));
  g_assert_true (imap_client_has_capability (client, "imap4REV1"));
  g_assert_true (imap_client_has_capability (client, "STARTTLS"));
  g_assert_true (imap_client_has_capability (client, "AUTH=PLAIN"));
  g_assert_false (imap_client_has_capability (client, "X-NO-SUCH-THING"));
  g_assert_false (imap_client_is_tls (client));
  g_assert_nonnull (trace_find (f, "S: * OK "));
  logout (client);
}

/* RFC 9051 §6.2.1: after STARTTLS the capabilities are asked again */
static void
test_starttls (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) client = NULL;
  g_autoptr (GError) error = NULL;

  if (f->skipped)
    return;
  client = fixture_connect (f, CONNECT_PLAIN, TRUE);
  g_assert_true (imap_client_starttls (client, mw_harness_cert (f->harness),
                                       FALSE, &error));
  g_assert_no_error (error);
  g_assert_true (imap_client_is_tls (client));
  /* asked again, in TLS: STARTTLS is no longer offered */
  g_assert_cmpuint (trace_count (f, "C: A2 CAPABILITY"), ==, 1);
  g_assert_true (imap_client_has_capability (client, "IMAP4rev1"));
  g_assert_false (imap_client_has_capability (client, "STARTTLS"));
  g_assert_true (
      imap_client_login (client, IMAP_AUTH_AUTO, "bob", "bob-secret", &error));
  g_assert_no_error (error);
  logout (client);
}

/* A certificate the client does not trust fails the handshake. */
static void
test_starttls_untrusted (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ImapClient) client = NULL;

  if (f->skipped)
    return;
  client = fixture_connect (f, CONNECT_PLAIN, FALSE);
  /* no CA file: the system store does not know the harness's cert */
  g_assert_false (imap_client_starttls (client, NULL, FALSE, &error));
  g_assert_nonnull (error);
}

/* RFC 8314 §3.3: TLS from the first byte */
static void
test_implicit_tls (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) client = NULL;
  g_autoptr (GError) error = NULL;

  if (f->skipped)
    return;
  client = fixture_connect (f, CONNECT_TLS, TRUE);
  g_assert_true (imap_client_is_tls (client));
  g_assert_false (imap_client_has_capability (client, "STARTTLS"));
  g_assert_true (imap_client_login (client, IMAP_AUTH_PLAIN, "alice",
                                    "alice-secret", &error));
  g_assert_no_error (error);
  logout (client);
}

static void
assert_no_password_in_trace (Fixture *f, const char *password)
{
  g_autofree char *plain64 = NULL;
  g_autofree char *message =
      g_strdup_printf ("%c%s%c%s", 0, "alice", 0, password);

  plain64 = g_base64_encode ((const guchar *) message,
                             2 + strlen ("alice") + strlen (password));
  g_assert_false (trace_contains (f, password));
  g_assert_false (trace_contains (f, plain64));
}

/* RFC 4959: with SASL-IR the response goes with the command, no "+" */
static void
test_auth_plain_sasl_ir (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) client = NULL;
  g_autoptr (GError) error = NULL;

  if (f->skipped)
    return;
  client = fixture_connect (f, CONNECT_PLAIN, TRUE);
  g_assert_true (imap_client_has_capability (client, "SASL-IR"));
  g_assert_true (imap_client_login (client, IMAP_AUTH_PLAIN, "alice",
                                    "alice-secret", &error));
  g_assert_no_error (error);
  g_assert_nonnull (trace_find (f, "C: A1 AUTHENTICATE PLAIN ***"));
  g_assert_null (trace_find (f, "S: +"));
  /* RFC 9051 §6.2.2: the list of the authenticated state, from the
   * tagged OK's [CAPABILITY] (no CAPABILITY command) */
  g_assert_false (imap_client_has_capability (client, "AUTH=PLAIN"));
  g_assert_true (imap_client_has_capability (client, "IDLE"));
  g_assert_null (trace_find (f, "C: A2 CAPABILITY"));
  assert_no_password_in_trace (f, "alice-secret");
  logout (client);
}

/* RFC 9051 §6.2.2: without SASL-IR, the response follows a "+" */
static void
test_auth_plain_no_sasl_ir (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) client = NULL;
  g_autoptr (GError) error = NULL;

  if (f->skipped)
    return;
  client = fixture_connect (f, CONNECT_PLAIN, TRUE);
  g_assert_false (imap_client_has_capability (client, "SASL-IR"));
  g_assert_true (imap_client_login (client, IMAP_AUTH_PLAIN, "alice",
                                    "alice-secret", &error));
  g_assert_no_error (error);
  g_assert_nonnull (trace_find (f, "C: A1 AUTHENTICATE PLAIN"));
  g_assert_cmpuint (trace_count (f, "S: +"), ==, 1);
  g_assert_nonnull (trace_find (f, "C: ***"));
  assert_no_password_in_trace (f, "alice-secret");
  /* logged in: a command of the authenticated state works */
  command_ok (client, "%s", "LIST \"\" INBOX");
  logout (client);
}

/* AUTHENTICATE LOGIN: user name and password, each after a "+" */
static void
test_auth_login (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) client = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *user64 = g_base64_encode ((const guchar *) "alice", 5);

  if (f->skipped)
    return;
  client = fixture_connect (f, CONNECT_PLAIN, TRUE);
  g_assert_true (imap_client_login (client, IMAP_AUTH_LOGIN, "alice",
                                    "alice-secret", &error));
  g_assert_no_error (error);
  g_assert_nonnull (trace_find (f, "C: A1 AUTHENTICATE LOGIN"));
  g_assert_cmpuint (trace_count (f, "S: +"), ==, 2);
  g_assert_cmpuint (trace_count (f, "C: ***"), ==, 2);
  g_assert_false (trace_contains (f, user64));
  assert_no_password_in_trace (f, "alice-secret");
  command_ok (client, "%s", "LIST \"\" INBOX");
  logout (client);
}

/* RFC 9051 §6.2.3: LOGIN user password, the password masked */
static void
test_login_command (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) client = NULL;
  g_autoptr (GError) error = NULL;

  if (f->skipped)
    return;
  client = fixture_connect (f, CONNECT_PLAIN, TRUE);
  g_assert_true (imap_client_login (client, IMAP_AUTH_LOGIN_COMMAND, "bob",
                                    "bob-secret", &error));
  g_assert_no_error (error);
  g_assert_nonnull (trace_find (f, "C: A1 LOGIN ***"));
  g_assert_false (trace_contains (f, "bob-secret"));
  command_ok (client, "%s", "LIST \"\" INBOX");
  logout (client);
}

/* A wrong password is IMAP_CLIENT_ERROR_AUTH, whatever the method */
static void
test_wrong_password (Fixture *f, gconstpointer data)
{
  static const ImapAuthMethod methods[] = { IMAP_AUTH_PLAIN, IMAP_AUTH_LOGIN,
                                            IMAP_AUTH_LOGIN_COMMAND };

  if (f->skipped)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    {
      g_autoptr (ImapClient) client = fixture_connect (f, CONNECT_PLAIN, FALSE);
      g_autoptr (GError) error = NULL;

      g_assert_false (
          imap_client_login (client, methods[i], "alice", "wrong", &error));
      g_assert_error (error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_AUTH);
      g_clear_error (&error);
      /* the session goes on: the right password is then accepted */
      g_assert_true (imap_client_login (client, methods[i], "alice",
                                        "alice-secret", &error));
      g_assert_no_error (error);
    }
}

/* ---- ENABLE, SELECT and the view ------------------------------------ */

/* RFC 5161, RFC 7162 §3.2.3 */
static void
test_enable (Fixture *f, gconstpointer data)
{
  static const char *const extensions[] = { "QRESYNC", "CONDSTORE",
                                            "X-NOT-OFFERED", NULL };
  g_autoptr (ImapClient) client = NULL;
  g_autoptr (GError) error = NULL;

  if (f->skipped)
    return;
  client = fixture_login (f, "alice", TRUE);
  g_assert_true (imap_client_enable (client, extensions, &error));
  g_assert_no_error (error);
  g_assert_true (imap_client_is_enabled (client, "QRESYNC"));
  g_assert_false (imap_client_is_enabled (client, "X-NOT-OFFERED"));
  /* only what is offered is asked for */
  g_assert_false (trace_contains (f, "X-NOT-OFFERED"));
  logout (client);
}

/* Without CONDSTORE/QRESYNC on offer ENABLE asks for nothing. */
static void
test_enable_not_offered (Fixture *f, gconstpointer data)
{
  static const char *const extensions[] = { "QRESYNC", "CONDSTORE", NULL };
  g_autoptr (ImapClient) client = NULL;
  g_autoptr (GError) error = NULL;

  if (f->skipped)
    return;
  client = fixture_login (f, "alice", TRUE);
  g_assert_false (imap_client_has_capability (client, "CONDSTORE"));
  g_assert_true (imap_client_enable (client, extensions, &error));
  g_assert_no_error (error);
  g_assert_false (imap_client_is_enabled (client, "QRESYNC"));
  g_assert_false (imap_client_is_enabled (client, "CONDSTORE"));
  g_assert_null (trace_find (f, "C: A3 ENABLE"));
  g_assert_null (trace_find (f, "C: A2 ENABLE"));
  logout (client);
}

/* RFC 9051 §6.3.2: EXISTS, UIDVALIDITY, UIDNEXT; RFC 7162 HIGHESTMODSEQ */
static void
test_select_view (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) client = NULL;
  g_autoptr (GError) error = NULL;
  const ImapMailbox *mailbox = NULL;

  if (f->skipped)
    return;
  fixture_deliver (f, "alice", "one");
  fixture_deliver (f, "alice", "two");
  fixture_deliver (f, "alice", "three");
  client = fixture_select (f, "alice", "INBOX", TRUE, FALSE);
  mailbox = imap_client_get_mailbox (client);
  g_assert_nonnull (mailbox);
  g_assert_cmpstr (mailbox->name, ==, "INBOX");
  g_assert_false (mailbox->read_only);
  g_assert_cmpuint (mailbox->exists, ==, 3);
  g_assert_cmpuint (mailbox->uidvalidity, !=, 0);
  g_assert_cmpuint (mailbox->uidnext, ==, 4);
  g_assert_cmpuint (mailbox->highest_modseq, >, 0);
  g_assert_nonnull (mailbox->flags);
  g_assert_true (
      g_strv_contains ((const char *const *) mailbox->flags, "\\Seen"));
  g_assert_cmpuint (imap_client_uid_of (client, 1), ==, 0); /* not yet */
  g_assert_true (imap_client_load_uids (client, &error));
  g_assert_no_error (error);
  for (guint32 seq = 1; seq <= 3; seq++)
    g_assert_cmpuint (imap_client_uid_of (client, seq), ==, seq);
  g_assert_cmpuint (imap_client_uid_of (client, 4), ==, 0);
  /* a mailbox that is not there: no mailbox selected */
  g_assert_false (
      imap_client_select (client, "No-Such-Folder", FALSE, NULL, NULL, &error));
  g_assert_error (error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_NO);
  g_assert_null (imap_client_get_mailbox (client));
  logout (client);
}

/* Without CONDSTORE the view has no HIGHESTMODSEQ. */
static void
test_select_no_condstore (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) client = NULL;
  const ImapMailbox *mailbox = NULL;

  if (f->skipped)
    return;
  fixture_deliver (f, "alice", "one");
  client = fixture_select (f, "alice", "INBOX", TRUE, FALSE);
  mailbox = imap_client_get_mailbox (client);
  g_assert_cmpuint (mailbox->exists, ==, 1);
  g_assert_cmpuint (mailbox->uidnext, ==, 2);
  g_assert_false (imap_client_is_enabled (client, "CONDSTORE"));
  logout (client);
}

typedef struct
{
  GPtrArray *seen; /* "EXPUNGE 2 uid 2" ... */
} Untagged;

static void
on_untagged (ImapClient *client, const ImapReply *reply, gpointer user_data)
{
  Untagged *untagged = user_data;

  if (imap_reply_is (reply, "EXPUNGE"))
    g_ptr_array_add (
        untagged->seen,
        g_strdup_printf ("EXPUNGE %u uid %u", reply->response.number,
                         imap_client_uid_of (client, reply->response.number)));
  else if (imap_reply_is (reply, "EXISTS"))
    g_ptr_array_add (untagged->seen,
                     g_strdup_printf ("EXISTS %u", reply->response.number));
  else if (imap_reply_is (reply, "VANISHED"))
    g_ptr_array_add (untagged->seen, g_strdup ("VANISHED"));
}

static gboolean
untagged_has (Untagged *untagged, const char *what)
{
  for (guint i = 0; i < untagged->seen->len; i++)
    if (strcmp (untagged->seen->pdata[i], what) == 0)
      return TRUE;
  return FALSE;
}

/* B expunges message 2, then mail arrives: A hears of both at its next
 * command (RFC 9051 §7.4.1, §7.5.1) and its view follows. */
static void
test_view_expunge_exists (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) a = NULL;
  g_autoptr (ImapClient) b = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  Untagged untagged = { seen };
  const ImapMailbox *mailbox = NULL;

  if (f->skipped)
    return;
  for (guint i = 0; i < 3; i++)
    fixture_deliver (f, "alice", "old");
  a = fixture_select (f, "alice", "INBOX", FALSE, FALSE);
  g_assert_true (imap_client_load_uids (a, &error));
  imap_client_set_untagged_handler (a, on_untagged, &untagged);
  b = fixture_select (f, "alice", "INBOX", FALSE, FALSE);
  command_ok (b, "UID STORE %s +FLAGS.SILENT (\\Deleted)", "2");
  command_ok (b, "%s", "EXPUNGE");
  fixture_deliver (f, "alice", "new");
  /* a delivery is seen by the server when it looks: B's NOOP makes sure
   * the message is in the mailbox before A asks */
  command_ok (b, "%s", "NOOP");
  command_ok (a, "%s", "NOOP");
  /* the handler ran before the view changed: message 2 was UID 2 */
  g_assert_true (untagged_has (&untagged, "EXPUNGE 2 uid 2"));
  g_assert_true (untagged_has (&untagged, "EXISTS 3"));
  mailbox = imap_client_get_mailbox (a);
  g_assert_cmpuint (mailbox->exists, ==, 3);
  g_assert_cmpuint (imap_client_uid_of (a, 1), ==, 1);
  g_assert_cmpuint (imap_client_uid_of (a, 2), ==, 3);
  g_assert_cmpuint (imap_client_uid_of (a, 3), ==, 0); /* not named yet */
  g_assert_true (imap_client_load_uids (a, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (imap_client_uid_of (a, 3), ==, 4);
  imap_client_set_untagged_handler (a, NULL, NULL);
  logout (a);
  logout (b);
}

/* RFC 7162 §3.2.10: under QRESYNC expunges come as VANISHED UIDs */
static void
test_vanished (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) a = NULL;
  g_autoptr (ImapClient) b = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  Untagged untagged = { seen };
  g_autoptr (GPtrArray) replies = NULL;
  g_autoptr (ImapReply) tagged = NULL;
  g_autofree char *parameters = NULL;
  guint32 uidvalidity = 0;
  guint64 modseq = 0;

  if (f->skipped)
    return;
  for (guint i = 0; i < 4; i++)
    fixture_deliver (f, "alice", "old");
  a = fixture_select (f, "alice", "INBOX", TRUE, FALSE);
  g_assert_true (imap_client_is_enabled (a, "QRESYNC"));
  g_assert_true (imap_client_load_uids (a, &error));
  uidvalidity = imap_client_get_mailbox (a)->uidvalidity;
  modseq = imap_client_get_mailbox (a)->highest_modseq;
  imap_client_set_untagged_handler (a, on_untagged, &untagged);
  b = fixture_select (f, "alice", "INBOX", FALSE, FALSE);
  command_ok (b, "UID STORE %s +FLAGS.SILENT (\\Deleted)", "2:3");
  command_ok (b, "%s", "EXPUNGE");
  command_ok (a, "%s", "NOOP");
  g_assert_true (untagged_has (&untagged, "VANISHED"));
  g_assert_false (untagged_has (&untagged, "EXPUNGE 2 uid 2"));
  g_assert_cmpuint (imap_client_get_mailbox (a)->exists, ==, 2);
  g_assert_cmpuint (imap_client_uid_of (a, 1), ==, 1);
  g_assert_cmpuint (imap_client_uid_of (a, 2), ==, 4);
  imap_client_set_untagged_handler (a, NULL, NULL);
  /* RFC 7162 §3.2.5.2: SELECT (QRESYNC ...) tells what vanished since
   * as VANISHED (EARLIER), which leaves the fresh view alone */
  tagged = imap_client_run (a, NULL, &error, "UNSELECT");
  g_assert_no_error (error);
  parameters = g_strdup_printf ("QRESYNC (%u %" G_GUINT64_FORMAT ")",
                                uidvalidity, modseq);
  g_assert_true (
      imap_client_select (a, "INBOX", FALSE, parameters, &replies, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (imap_client_get_mailbox (a)->exists, ==, 2);
  {
    gboolean earlier = FALSE;

    for (guint i = 0; i < replies->len; i++)
      {
        ImapReply *reply = replies->pdata[i];

        if (imap_reply_is (reply, "VANISHED") &&
            strstr (reply->message, "(EARLIER) 2:3") != NULL)
          earlier = TRUE;
      }
    g_assert_true (earlier);
  }
  logout (a);
  logout (b);
}

/* ---- APPEND and FETCH ----------------------------------------------- */

/* UID FETCH @uid BODY.PEEK[] on @client: the literal's octets. */
static GBytes *
fetch_body (ImapClient *client, guint32 uid)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) replies = NULL;
  g_autoptr (ImapReply) tagged = imap_client_run (
      client, &replies, &error, "UID FETCH %u (UID BODY.PEEK[])", uid);

  g_assert_no_error (error);
  for (guint i = 0; i < replies->len; i++)
    {
      const ImapArg *body = imap_reply_fetch_item (replies->pdata[i], "BODY[");
      guint64 fetched = 0;

      if (body == NULL ||
          !imap_reply_fetch_number (replies->pdata[i], "UID", &fetched) ||
          fetched != uid)
        continue;
      g_assert_cmpint (body->type, ==, IMAP_ARG_LITERAL);
      return g_bytes_new (body->data, body->length);
    }
  g_error ("no BODY[] of UID %u", uid);
}

static void
assert_bytes_equal (GBytes *got, const char *want, gsize length)
{
  gsize size = 0;
  const char *data = g_bytes_get_data (got, &size);

  g_assert_cmpmem (data, size, want, length);
}

/* A message whose text looks like IMAP: only the literal count says
 * where it ends (RFC 9051 §4.3). */
static char *
tricky_message (void)
{
  g_autoptr (GString) body = g_string_new (NULL);

  g_string_append (body, "* 3 EXISTS\r\nA1 OK not a reply\r\n{5}\r\n");
  g_string_append (body, ") (\"quoted\" \\Seen\r\n");
  for (guint i = 0; i < 200; i++)
    g_string_append_printf (body, "line %u of a longer body\r\n", i);
  return make_message ("tricky", body->str);
}

/* APPEND (RFC 9051 §6.3.12) with its literal sent as the server allows:
 * "{n+}" at once under LITERAL+, else "{n}" and the octets after "+";
 * APPENDUID (RFC 4315 §3) names the new UID; BODY[] gives it back */
static void
test_append (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) client = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = tricky_message ();
  g_autoptr (GBytes) message = g_bytes_new (text, strlen (text));
  g_autoptr (GBytes) back = NULL;
  g_autofree char *sync_line = NULL;
  g_autofree char *plus_line = NULL;
  guint32 uidvalidity = 0;
  guint32 uid = 0;
  gboolean literal_plus = !(f->offer & OFFER_NO_LITERAL_PLUS);

  if (f->skipped)
    return;
  fixture_deliver (f, "alice", "first");
  client = fixture_select (f, "alice", "INBOX", FALSE, TRUE);
  g_assert_cmpint (imap_client_has_capability (client, "LITERAL+"), ==,
                   literal_plus);
  g_assert_true (imap_client_append (client, "INBOX", "\\Flagged", 0, message,
                                     &uidvalidity, &uid, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (uidvalidity, ==,
                    imap_client_get_mailbox (client)->uidvalidity);
  g_assert_cmpuint (uid, ==, 2);
  sync_line = g_strdup_printf ("{%zu}", strlen (text));
  plus_line = g_strdup_printf ("{%zu+}", strlen (text));
  g_assert_true (trace_contains (f, literal_plus ? plus_line : sync_line));
  g_assert_false (trace_contains (f, literal_plus ? sync_line : plus_line));
  /* the "+" of a synchronising literal, and no other */
  g_assert_cmpuint (trace_count (f, "S: +"), ==, literal_plus ? 0 : 1);
  back = fetch_body (client, uid);
  assert_bytes_equal (back, text, strlen (text));
  /* the view heard of the new message too */
  command_ok (client, "%s", "NOOP");
  g_assert_cmpuint (imap_client_get_mailbox (client)->exists, ==, 2);
  logout (client);
}

/* A message of exactly @size octets (CRLF line ends). */
static char *
sized_message (const char *subject, gsize size)
{
  g_autofree char *header = make_message (subject, "");
  g_autoptr (GString) text = g_string_new (header);

  g_assert_cmpuint (size, >=, text->len + 2);
  while (text->len < size)
    {
      gsize line = MIN (size - text->len - 2, 76);

      /* never leave a remainder too short for a line end */
      if (size - text->len - 2 - line == 1)
        line--;
      for (gsize i = 0; i < line; i++)
        g_string_append_c (text, 'a' + (char) ((text->len + i) % 26));
      g_string_append (text, "\r\n");
    }
  g_assert_cmpuint (text->len, ==, size);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* RFC 7888 §5 LITERAL-: a literal of up to 4096 octets goes at once as
 * "{4096+}", a larger one as "{4097}" after the server's "+"; both
 * arrive whole. Dovecot (imap_literal_minus) refuses a larger
 * non-synchronising literal, so it holds the client to the limit too. */
static void
test_append_literal_minus (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) client = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *at_limit = sized_message ("at-limit", 4096);
  g_autofree char *past_limit = sized_message ("past-limit", 4097);
  guint32 uids[2] = { 0, 0 };
  const char *texts[2] = { at_limit, past_limit };

  if (f->skipped)
    return;
  client = fixture_select (f, "alice", "INBOX", FALSE, TRUE);
  g_assert_true (imap_client_has_capability (client, "LITERAL-"));
  g_assert_false (imap_client_has_capability (client, "LITERAL+"));
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (GBytes) message =
          g_bytes_new_static (texts[i], strlen (texts[i]));

      g_assert_true (imap_client_append (client, "INBOX", NULL, 0, message,
                                         NULL, &uids[i], &error));
      g_assert_no_error (error);
      g_assert_cmpuint (uids[i], >, 0);
    }
  g_assert_true (trace_contains (f, "{4096+}"));
  g_assert_true (trace_contains (f, "{4097}"));
  g_assert_false (trace_contains (f, "{4097+}"));
  g_assert_cmpuint (trace_count (f, "S: +"), ==, 1);
  capability_proxy_assert_literal (f->proxy, "{4096+}", at_limit, FALSE);
  capability_proxy_assert_literal (f->proxy, "{4097}", past_limit, TRUE);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (GBytes) back = fetch_body (client, uids[i]);

      assert_bytes_equal (back, texts[i], strlen (texts[i]));
    }
  logout (client);
}

/* A synchronising literal the server refuses: the tagged NO comes
 * instead of "+", the octets are never sent, the session goes on. */
static void
test_append_refused (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) client = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) message =
      g_bytes_new_static ("Subject: x\r\n\r\nx\r\n", 16);

  if (f->skipped)
    return;
  client = fixture_login (f, "alice", TRUE);
  g_assert_false (imap_client_append (client, "No-Such-Folder", NULL, 0,
                                      message, NULL, NULL, &error));
  g_assert_error (error, IMAP_CLIENT_ERROR, IMAP_CLIENT_ERROR_NO);
  command_ok (client, "%s", "NOOP");
  logout (client);
}

/* FETCH BODY[] of a delivered message: the literal, whole */
static void
test_fetch_literal (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) client = NULL;
  g_autofree char *text = tricky_message ();
  g_autoptr (GBytes) back = NULL;

  if (f->skipped)
    return;
  if (f->kind == SERVER_DOVECOT)
    mw_dovecot_deliver (f->dovecot, "bob", text);
  else
    mw_harness_deliver (f->harness, "bob", text);
  client = fixture_select (f, "bob", "INBOX", FALSE, FALSE);
  back = fetch_body (client, 1);
  assert_bytes_equal (back, text, strlen (text));
  logout (client);
}

/* ---- IDLE (RFC 2177) ------------------------------------------------ */

/* Waits for the push of EXISTS @exists, at most one second after
 * @since. */
static void
assert_pushed_within_a_second (ImapClient *client, guint exists, gint64 since)
{
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      ImapIdleResult result = imap_client_idle_wait (client, 2, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpint (result, ==, IMAP_IDLE_PUSHED);
      g_assert_cmpint (g_get_monotonic_time () - since, <, G_USEC_PER_SEC);
      if (imap_client_get_mailbox (client)->exists == exists)
        return;
    }
}

static void
test_idle_push (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) a = NULL;
  g_autoptr (ImapClient) b = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = make_message ("appended", "by B\r\n");
  g_autoptr (GBytes) message = g_bytes_new (text, strlen (text));
  gint64 since = 0;

  if (f->skipped)
    return;
  a = fixture_select (f, "alice", "INBOX", FALSE, TRUE);
  b = fixture_login (f, "alice", FALSE);
  g_assert_true (imap_client_idle_start (a, &error));
  g_assert_no_error (error);
  g_assert_nonnull (trace_find (f, "C: A3 IDLE"));
  /* another session's APPEND */
  g_assert_true (
      imap_client_append (b, "INBOX", NULL, 0, message, NULL, NULL, &error));
  g_assert_no_error (error);
  since = g_get_monotonic_time ();
  assert_pushed_within_a_second (a, 1, since);
  /* a delivery */
  fixture_deliver (f, "alice", "delivered");
  since = g_get_monotonic_time ();
  assert_pushed_within_a_second (a, 2, since);
  g_assert_true (imap_client_idle_done (a, &error));
  g_assert_no_error (error);
  g_assert_nonnull (trace_find (f, "C: DONE"));
  /* after DONE the session takes commands again */
  g_assert_true (imap_client_load_uids (a, &error));
  g_assert_cmpuint (imap_client_uid_of (a, 2), ==, 2);
  logout (a);
  logout (b);
}

/* Nothing happens: idle_wait says TIMEOUT after its seconds, and IDLE
 * ends cleanly with DONE */
static void
test_idle_timeout (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) client = NULL;
  g_autoptr (GError) error = NULL;
  gint64 start = 0;
  gint64 elapsed = 0;

  if (f->skipped)
    return;
  client = fixture_select (f, "alice", "INBOX", FALSE, FALSE);
  g_assert_true (imap_client_idle_start (client, &error));
  start = g_get_monotonic_time ();
  g_assert_cmpint (imap_client_idle_wait (client, 1, NULL, &error), ==,
                   IMAP_IDLE_TIMEOUT);
  g_assert_no_error (error);
  elapsed = g_get_monotonic_time () - start;
  g_assert_cmpint (elapsed, >=, G_USEC_PER_SEC * 9 / 10);
  g_assert_cmpint (elapsed, <, 3 * G_USEC_PER_SEC);
  g_assert_true (imap_client_idle_done (client, &error));
  g_assert_no_error (error);
  command_ok (client, "%s", "NOOP");
  logout (client);
}

static gboolean
on_cancel_timeout (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static gpointer
cancel_thread (gpointer user_data)
{
  GCancellable *cancellable = user_data;
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GSource) timeout = g_timeout_source_new (200);

  g_source_set_callback (timeout, on_cancel_timeout, cancellable, NULL);
  g_source_attach (timeout, context);
  while (!g_cancellable_is_cancelled (cancellable))
    g_main_context_iteration (context, TRUE);
  return NULL;
}

/* Ctrl-C while idling: the wait ends CANCELLED at once, and DONE and
 * LOGOUT still work */
static void
test_idle_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) client = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  GThread *thread = NULL;
  gint64 start = 0;

  if (f->skipped)
    return;
  client = fixture_select (f, "alice", "INBOX", FALSE, FALSE);
  g_assert_true (imap_client_idle_start (client, &error));
  start = g_get_monotonic_time ();
  thread = g_thread_new ("cancel", cancel_thread, cancellable);
  g_assert_cmpint (imap_client_idle_wait (client, 20, cancellable, &error), ==,
                   IMAP_IDLE_CANCELLED);
  g_thread_join (thread);
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_assert_true (imap_client_idle_done (client, &error));
  g_assert_no_error (error);
  logout (client);
}

/* RFC 9051 §6.1.3: LOGOUT reads the BYE and the tagged OK */
static void
test_logout (Fixture *f, gconstpointer data)
{
  g_autoptr (ImapClient) client = NULL;
  g_autoptr (GError) error = NULL;

  if (f->skipped)
    return;
  client = fixture_login (f, "alice", TRUE);
  g_assert_true (imap_client_logout (client, &error));
  g_assert_no_error (error);
  g_assert_nonnull (trace_find (f, "S: * BYE"));
  g_assert_nonnull (trace_find (f, "C: A2 LOGOUT"));
}

/* ---- main ----------------------------------------------------------- */

typedef void (*TestFunc) (Fixture *, gconstpointer);

static const struct
{
  const char *name;
  TestFunc func;
  Offer offer;
} tests[] = {
  { "greeting-capabilities", test_greeting, OFFER_ALL },
  { "starttls-asks-capabilities-again", test_starttls, OFFER_ALL },
  { "starttls-untrusted-certificate-fails", test_starttls_untrusted,
    OFFER_ALL },
  { "implicit-tls", test_implicit_tls, OFFER_ALL },
  { "auth-plain-sasl-ir", test_auth_plain_sasl_ir, OFFER_ALL },
  { "auth-plain-without-sasl-ir", test_auth_plain_no_sasl_ir,
    OFFER_NO_SASL_IR },
  { "auth-login", test_auth_login, OFFER_ALL },
  { "login-command", test_login_command, OFFER_ALL },
  { "wrong-password-is-auth-error", test_wrong_password, OFFER_ALL },
  { "enable-qresync", test_enable, OFFER_ALL },
  { "enable-not-offered-asks-nothing", test_enable_not_offered,
    OFFER_NO_CONDSTORE },
  { "select-fills-view", test_select_view, OFFER_ALL },
  { "select-without-condstore", test_select_no_condstore, OFFER_NO_CONDSTORE },
  { "view-after-expunge-and-exists", test_view_expunge_exists, OFFER_ALL },
  { "vanished-under-qresync", test_vanished, OFFER_ALL },
  { "append-literal-plus-appenduid", test_append, OFFER_ALL },
  { "literal-sync", test_append, OFFER_NO_LITERAL_PLUS },
  { "literal-sync-refused", test_append_refused, OFFER_NO_LITERAL_PLUS },
  { "literal-minus-4096-at-once-4097-waits", test_append_literal_minus,
    OFFER_LITERAL_MINUS },
  { "fetch-literal-body", test_fetch_literal, OFFER_ALL },
  { "idle-push-within-a-second", test_idle_push, OFFER_ALL },
  { "idle-wait-timeout", test_idle_timeout, OFFER_ALL },
  { "idle-wait-cancelled", test_idle_cancel, OFFER_ALL },
  { "logout", test_logout, OFFER_ALL },
};

int
main (int argc, char **argv)
{
  static const char *const server_names[] = { "mw-imapd", "dovecot" };
  static TestServer servers[2][G_N_ELEMENTS (tests)];

  g_test_init (&argc, &argv, NULL);
  for (guint s = 0; s < G_N_ELEMENTS (server_names); s++)
    for (guint t = 0; t < G_N_ELEMENTS (tests); t++)
      {
        g_autofree char *path = g_strdup_printf (
            "/imap-client/%s/%s", server_names[s], tests[t].name);

        servers[s][t].kind = s == 0 ? SERVER_MW_IMAPD : SERVER_DOVECOT;
        servers[s][t].offer = tests[t].offer;
        g_test_add (path, Fixture, &servers[s][t], fixture_set_up,
                    tests[t].func, fixture_tear_down);
      }
  return g_test_run ();
}
