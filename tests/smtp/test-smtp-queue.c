/* SPDX-License-Identifier: MIT
 * test-smtp-queue.c: the queue's files and the bounce text, without the
 * delivery agent (RFC 5321 §6.1 durable queue; RFC 3464 delivery status
 * notifications; RFC 6522 multipart/report). The agent itself is tested
 * end to end in test-relay.c.
 */
#include <string.h>

#include "smtp-bounce.h"
#include "smtp-queue.h"

typedef struct
{
  char *dir;
  MailConfig *config;
  SmtpQueue *queue;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;

  f->dir = g_dir_make_tmp ("test-smtp-queue-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (f->dir, "mailwire.conf", NULL);
  text = g_strdup_printf ("[general]\nstate_dir = %s\nhostname = mx.a.test\n"
                          "domains = a.test\n[queue]\ndir = queue\n",
                          f->dir);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  f->config = mail_config_load (path, &error);
  g_assert_no_error (error);
  f->queue = smtp_queue_new (f->config, NULL, NULL, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  const char *argv[] = { "rm", "-rf", f->dir, NULL };

  smtp_queue_free (f->queue);
  mail_config_free (f->config);
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                NULL, NULL, NULL, NULL);
  g_free (f->dir);
}

static const char message[] = "From: a@a.test\r\nSubject: hi\r\n\r\nbody\r\n";

/* The envelope written by enqueue reads back whole, and the text is
 * stored byte for byte. */
static void
test_enqueue_list_round_trip (Fixture *f, gconstpointer data)
{
  const char *recipients[] = { "b@b.test", "c@c.test", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *msg_path = NULL;
  g_autofree char *stored = NULL;
  g_autoptr (GPtrArray) entries = NULL;
  const SmtpQueueEntry *e;

  g_assert_true (smtp_queue_enqueue (f->queue, "a@a.test", recipients, message,
                                     strlen (message), FALSE, NULL, &id,
                                     &error));
  g_assert_no_error (error);
  entries = smtp_queue_list (f->config->queue_dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 1);
  e = g_ptr_array_index (entries, 0);
  g_assert_cmpstr (e->id, ==, id);
  g_assert_cmpstr (e->sender, ==, "a@a.test");
  g_assert_cmpuint (e->size, ==, strlen (message));
  g_assert_cmpuint (e->attempts, ==, 0);
  g_assert_false (e->smtputf8);
  g_assert_cmpint (e->next_attempt, ==, e->arrival);
  g_assert_cmpuint (e->recipients->len, ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      const SmtpQueueRecipient *r = g_ptr_array_index (e->recipients, i);

      g_assert_cmpstr (r->address, ==, recipients[i]);
      g_assert_cmpint (r->state, ==, SMTP_QUEUE_WAITING);
      g_assert_null (r->reason);
    }
  msg_path = g_strdup_printf ("%s/%s.msg", f->config->queue_dir, id);
  g_assert_true (g_file_get_contents (msg_path, &stored, NULL, NULL));
  g_assert_cmpstr (stored, ==, message);
}

/* RFC 5321 §4.5.5: the null reverse-path is kept as "". */
static void
test_null_sender (Fixture *f, gconstpointer data)
{
  const char *recipients[] = { "b@b.test", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = NULL;

  g_assert_true (smtp_queue_enqueue (f->queue, "", recipients, message,
                                     strlen (message), FALSE, NULL, NULL,
                                     &error));
  entries = smtp_queue_list (f->config->queue_dir, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (((SmtpQueueEntry *) entries->pdata[0])->sender, ==, "");
}

/* RFC 6531 §3.5: the SMTPUTF8 mark survives in the envelope, so the
 * relay can ask every next hop for it, even after a restart. */
static void
test_smtputf8_mark_kept (Fixture *f, gconstpointer data)
{
  const char *recipients[] = { "j\xc3\xb6rg@b.test", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = NULL;
  const SmtpQueueEntry *e;

  g_assert_true (smtp_queue_enqueue (f->queue, "a@a.test", recipients, message,
                                     strlen (message), TRUE, NULL, NULL,
                                     &error));
  entries = smtp_queue_list (f->config->queue_dir, &error);
  g_assert_no_error (error);
  e = g_ptr_array_index (entries, 0);
  g_assert_true (e->smtputf8);
  g_assert_cmpstr (((SmtpQueueRecipient *) e->recipients->pdata[0])->address,
                   ==, recipients[0]);
}

/* Oldest first, and delete removes exactly the one named. */
static void
test_list_order_and_delete (Fixture *f, gconstpointer data)
{
  const char *recipients[] = { "b@b.test", NULL };
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = NULL;

  smtp_queue_enqueue (f->queue, "1@a.test", recipients, message,
                      strlen (message), FALSE, NULL, &first, &error);
  smtp_queue_enqueue (f->queue, "2@a.test", recipients, message,
                      strlen (message), FALSE, NULL, &second, &error);
  g_assert_no_error (error);
  g_assert_true (smtp_queue_delete (f->config->queue_dir, first, &error));
  g_assert_no_error (error);
  entries = smtp_queue_list (f->config->queue_dir, &error);
  g_assert_cmpuint (entries->len, ==, 1);
  g_assert_cmpstr (((SmtpQueueEntry *) entries->pdata[0])->id, ==, second);
  g_assert_false (smtp_queue_delete (f->config->queue_dir, first, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* Not a path out of the queue directory. */
  g_assert_false (smtp_queue_delete (f->config->queue_dir, "../x", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static void
test_request_flush (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path =
      g_build_filename (f->config->queue_dir, SMTP_QUEUE_FLUSH_FILE, NULL);

  g_assert_true (smtp_queue_request_flush (f->config->queue_dir, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* ---- the bounce ------------------------------------------------------- */

typedef struct
{
  const char *path;
  const char *reason;
  const char *status; /* RFC 3464 §2.3.4 */
} StatusCase;

static const StatusCase status_cases[] = {
  { "/smtp/bounce/status-from-enhanced-code", "550 5.1.1 no such user",
    "Status: 5.1.1" },
  { "/smtp/bounce/status-from-class-when-no-code", "554 go away",
    "Status: 5.0.0" },
  { "/smtp/bounce/status-of-temporary-reply", "452 mailbox full",
    "Status: 4.0.0" },
  { "/smtp/bounce/status-of-own-reason", "4.4.7 message expired",
    "Status: 4.4.7" },
};

static SmtpQueueEntry *
make_entry (const char *reason)
{
  SmtpQueueEntry *e = g_new0 (SmtpQueueEntry, 1);
  SmtpQueueRecipient *r = g_new0 (SmtpQueueRecipient, 1);

  e->id = g_strdup ("ID1");
  e->sender = g_strdup ("a@a.test");
  e->arrival = 1700000000;
  e->recipients = g_ptr_array_new ();
  r->address = g_strdup ("nobody@b.test");
  r->state = SMTP_QUEUE_BOUNCED;
  r->reason = g_strdup (reason);
  g_ptr_array_add (e->recipients, r);
  return e;
}

static void
free_entry (SmtpQueueEntry *e)
{
  SmtpQueueRecipient *r = g_ptr_array_index (e->recipients, 0);

  g_free (r->address);
  g_free (r->reason);
  g_free (r);
  smtp_queue_entry_free (e);
}

static void
test_bounce_status (gconstpointer data)
{
  const StatusCase *tc = data;
  SmtpQueueEntry *e = make_entry (tc->reason);
  g_autoptr (GString) report =
      smtp_bounce_compose ("mx.a.test", e, SMTP_DSN_ACTION_FAILED,
                           e->recipients, message, strlen (message), 0);

  if (strstr (report->str, tc->status) == NULL)
    g_error ("\"%s\" not in:\n%s", tc->status, report->str);
  free_entry (e);
}

/* RFC 6522 §3 and RFC 3464 §2: the three parts, CRLF throughout, and
 * only the header section of the original. */
static void
test_bounce_shape (void)
{
  SmtpQueueEntry *e = make_entry ("550 5.1.1 no such user");
  g_autoptr (GString) report =
      smtp_bounce_compose ("mx.a.test", e, SMTP_DSN_ACTION_FAILED,
                           e->recipients, message, strlen (message), 0);
  const char *const wanted[] = {
    "From: Mail Delivery System <MAILER-DAEMON@mx.a.test>\r\n",
    "To: <a@a.test>\r\n",
    "Auto-Submitted: auto-replied\r\n",
    "Content-Type: multipart/report; report-type=delivery-status;",
    "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; "
    "mx.a.test\r\n",
    "\r\nFinal-Recipient: rfc822; nobody@b.test\r\nAction: failed\r\n",
    "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n",
    "Content-Type: text/rfc822-headers\r\n\r\nFrom: a@a.test\r\nSubject: "
    "hi\r\n",
    NULL,
  };

  for (guint i = 0; wanted[i] != NULL; i++)
    if (strstr (report->str, wanted[i]) == NULL)
      g_error ("\"%s\" not in:\n%s", wanted[i], report->str);
  g_assert_null (strstr (report->str, "body\r\n"));
  for (gsize i = 0; i < report->len; i++)
    if (report->str[i] == '\n')
      g_assert_cmpint (i > 0 && report->str[i - 1] == '\r', ==, TRUE);
  g_assert_true (g_str_has_suffix (report->str, "--\r\n"));
  free_entry (e);
}

/* RFC 3461 §4: RET, ENVID and each recipient's NOTIFY and ORCPT survive
 * in the envelope, as does the mark that a delay notice went out. */
static void
test_dsn_request_kept (Fixture *f, gconstpointer data)
{
  const char *recipients[] = { "b@b.test", "c@c.test", NULL };
  SmtpDsnRecipient asked = { SMTP_DSN_NOTIFY_SUCCESS | SMTP_DSN_NOTIFY_FAILURE,
                             "rfc822", "old;name=x@b.test" };
  g_autoptr (GPtrArray) per_recipient = g_ptr_array_new ();
  SmtpDsnEnvelope dsn = { SMTP_DSN_RET_FULL, "env 1", per_recipient };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = NULL;
  SmtpQueueEntry *e;
  const SmtpQueueRecipient *b;
  const SmtpQueueRecipient *c;

  g_ptr_array_add (per_recipient, &asked);
  g_ptr_array_add (per_recipient, &(SmtpDsnRecipient){ SMTP_DSN_NOTIFY_NEVER });
  g_assert_true (smtp_queue_enqueue (f->queue, "a@a.test", recipients, message,
                                     strlen (message), FALSE, &dsn, NULL,
                                     &error));
  entries = smtp_queue_list (f->config->queue_dir, &error);
  g_assert_no_error (error);
  e = g_ptr_array_index (entries, 0);
  g_assert_cmpint (e->ret, ==, SMTP_DSN_RET_FULL);
  g_assert_cmpstr (e->envid, ==, "env 1");
  b = g_ptr_array_index (e->recipients, 0);
  c = g_ptr_array_index (e->recipients, 1);
  g_assert_cmpint (b->dsn.notify, ==, asked.notify);
  g_assert_cmpstr (b->dsn.orcpt_type, ==, "rfc822");
  g_assert_cmpstr (b->dsn.orcpt, ==, "old;name=x@b.test");
  g_assert_cmpint (c->dsn.notify, ==, SMTP_DSN_NOTIFY_NEVER);
  g_assert_null (c->dsn.orcpt);
  g_assert_false (b->delay_notified);
}

/* An envelope written before DSN existed (no ret, envid, notify, orcpt)
 * reads as a transaction that asked nothing: the defaults. */
static void
test_old_envelope_readable (Fixture *f, gconstpointer data)
{
  static const char old[] = "[envelope]\nsender=a@a.test\narrival=100\n"
                            "attempts=3\nnext_attempt=160\n"
                            "last_error=421 4.3.2 busy\n\n"
                            "[recipient 0]\naddress=b@b.test\nstate=waiting\n"
                            "reason=421 4.3.2 busy\n";
  g_autofree char *env =
      g_build_filename (f->config->queue_dir, "OLD1.env", NULL);
  g_autofree char *msg =
      g_build_filename (f->config->queue_dir, "OLD1.msg", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) entries = NULL;
  SmtpQueueEntry *e;
  const SmtpQueueRecipient *r;

  g_assert_true (g_file_set_contents (msg, message, -1, NULL));
  g_assert_true (g_file_set_contents (env, old, -1, NULL));
  entries = smtp_queue_list (f->config->queue_dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (entries->len, ==, 1);
  e = g_ptr_array_index (entries, 0);
  g_assert_cmpuint (e->attempts, ==, 3);
  g_assert_cmpint (e->ret, ==, SMTP_DSN_RET_DEFAULT);
  g_assert_null (e->envid);
  r = g_ptr_array_index (e->recipients, 0);
  g_assert_cmpstr (r->address, ==, "b@b.test");
  g_assert_cmpint (r->dsn.notify, ==, SMTP_DSN_NOTIFY_DEFAULT);
  g_assert_null (r->dsn.orcpt);
  g_assert_false (r->delay_notified);
}

/* Per-message and per-recipient fields of each kind of notice (RFC
 * 3464 §2.2, §2.3), and RET=FULL returning the whole message. */
static void
test_notice_fields (void)
{
  SmtpQueueEntry *e = make_entry ("250 2.0.0 queued as X");
  SmtpQueueRecipient *r = g_ptr_array_index (e->recipients, 0);
  g_autoptr (GString) delivered = NULL;
  g_autoptr (GString) delayed = NULL;
  g_autoptr (GString) full = NULL;

  e->envid = g_strdup ("E1");
  r->dsn.orcpt_type = g_strdup ("rfc822");
  r->dsn.orcpt = g_strdup ("old@b.test");
  r->remote_mta = g_strdup ("mx.b.test");
  delivered = smtp_bounce_compose ("mx.a.test", e, SMTP_DSN_ACTION_RELAYED,
                                   e->recipients, message, strlen (message), 0);
  g_assert_nonnull (strstr (delivered->str,
                            "\r\n\r\nOriginal-Envelope-Id: E1\r\n"
                            "Reporting-MTA: dns; mx.a.test\r\n"));
  g_assert_nonnull (strstr (delivered->str,
                            "\r\n\r\nOriginal-Recipient: rfc822; old@b.test\r\n"
                            "Final-Recipient: rfc822; nobody@b.test\r\n"
                            "Action: relayed\r\nStatus: 2.0.0\r\n"
                            "Remote-MTA: dns; mx.b.test\r\n"
                            "Diagnostic-Code: smtp; 250 2.0.0 queued as X\r\n"
                            "Last-Attempt-Date: "));
  g_assert_null (strstr (delivered->str, "Will-Retry-Until"));
  g_free (r->reason);
  r->reason = g_strdup ("421 4.4.2 slow");
  delayed = smtp_bounce_compose ("mx.a.test", e, SMTP_DSN_ACTION_DELAYED,
                                 e->recipients, message, strlen (message),
                                 e->arrival + 3600);
  g_assert_nonnull (strstr (delayed->str, "Action: delayed\r\n"
                                          "Status: 4.4.2\r\n"));
  g_assert_nonnull (strstr (delayed->str, "\r\nWill-Retry-Until: "));
  g_assert_null (strstr (delayed->str, "body\r\n")); /* headers only */
  e->ret = SMTP_DSN_RET_FULL;
  g_assert_null (strstr (delayed->str, "message/rfc822"));
  full = smtp_bounce_compose ("mx.a.test", e, SMTP_DSN_ACTION_FAILED,
                              e->recipients, message, strlen (message), 0);
  g_assert_nonnull (strstr (full->str, "Content-Type: message/rfc822\r\n\r\n"
                                       "From: a@a.test\r\nSubject: hi\r\n\r\n"
                                       "body\r\n"));
  g_free (r->dsn.orcpt_type);
  g_free (r->dsn.orcpt);
  g_free (r->remote_mta);
  free_entry (e);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/smtp/queue/enqueue-list-round-trip", Fixture, NULL,
              fixture_set_up, test_enqueue_list_round_trip, fixture_tear_down);
  g_test_add ("/smtp/queue/null-sender-kept", Fixture, NULL, fixture_set_up,
              test_null_sender, fixture_tear_down);
  g_test_add ("/smtp/queue/smtputf8-mark-kept", Fixture, NULL, fixture_set_up,
              test_smtputf8_mark_kept, fixture_tear_down);
  g_test_add ("/smtp/queue/list-order-and-delete", Fixture, NULL,
              fixture_set_up, test_list_order_and_delete, fixture_tear_down);
  g_test_add ("/smtp/queue/request-flush-makes-file", Fixture, NULL,
              fixture_set_up, test_request_flush, fixture_tear_down);
  for (guint i = 0; i < G_N_ELEMENTS (status_cases); i++)
    g_test_add_data_func (status_cases[i].path, &status_cases[i],
                          test_bounce_status);
  g_test_add_func ("/smtp/bounce/multipart-report-shape", test_bounce_shape);
  g_test_add_func ("/smtp/bounce/notice-fields", test_notice_fields);
  g_test_add ("/smtp/queue/dsn-request-kept", Fixture, NULL, fixture_set_up,
              test_dsn_request_kept, fixture_tear_down);
  g_test_add ("/smtp/queue/old-envelope-readable", Fixture, NULL,
              fixture_set_up, test_old_envelope_readable, fixture_tear_down);
  return g_test_run ();
}
