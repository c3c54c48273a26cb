/* SPDX-License-Identifier: MIT
 * mw-harness.h: what every integration and interop test needs, written
 * once. A harness is a private directory under $TMPDIR holding
 *   mailwire.conf   every listener on 127.0.0.1 port 0 (the kernel picks
 *                   a free port, the server prints it: no collisions)
 *   users           alice (password "alice-secret") and bob ("bob-secret")
 *   cert.pem key.pem  a self-signed certificate for localhost/127.0.0.1
 *   mail/<user>/Maildir, queue/
 * and the servers started from it, stopped by PID when the harness is freed
 * (SIGTERM, then SIGKILL after 5 s).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MW_HARNESS_DOMAIN "example.test"

typedef struct _MwHarness MwHarness;

/* @extra_config: key-file text appended to mailwire.conf (may be NULL);
 * a group given again adds to or overrides the generated one. */
MwHarness *mw_harness_new (const char *extra_config);
void mw_harness_free (MwHarness *harness);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MwHarness, mw_harness_free)

const char *mw_harness_dir (MwHarness *harness);
const char *mw_harness_config (MwHarness *harness);
const char *mw_harness_cert (MwHarness *harness); /* CA file for clients */
/* Maildir root of @user (transfer full). */
char *mw_harness_maildir (MwHarness *harness, const char *user);
/* Removes @path and everything under it (rm -rf); TRUE when rm ran. */
gboolean mw_harness_remove_tree (const char *path);

/* Delivers @text into @user's INBOX as an MDA would (new/), asserting
 * that it worked. */
void
mw_harness_deliver (MwHarness *harness, const char *user, const char *text);

/* Full path of a built program ("mw-smtpd", "mw-send", "mw-trace" ...),
 * found under $MW_BUILD_ROOT (transfer full). */
char *mw_harness_program (const char *name);

/* Starts @program --config <conf> [extra args...] (NULL-terminated) and
 * waits for its "<program>: ready" line, recording every
 * "<program>: <label> listening on <addr>:<port>" line. Returns the pid. */
GPid mw_harness_start (MwHarness *harness,
                       const char *program,
                       ...) G_GNUC_NULL_TERMINATED;
/* The same, in a mount namespace of the server's own where @mount_point
 * (made if missing) is a fresh tmpfs of @size ("2m"): a real full disk
 * for that server alone, gone with it. Returns 0, having started
 * nothing, when the namespace cannot be made for want of CAP_SYS_ADMIN
 * (not root, or a container without it): the caller skips, saying so. */
GPid mw_harness_start_on_tmpfs (MwHarness *harness,
                                const char *program,
                                const char *mount_point,
                                const char *size);
/* For tests that measure a server's memory: under AddressSanitizer,
 * freed memory waits in a quarantine (256 MiB by default) and counts in
 * VmRSS; the servers started after this call keep it at 1 MiB, so that
 * VmRSS measures what they hold. No effect without ASan. */
void mw_harness_measure_memory (void);

/* Servers started after this run under @wrapper (NULL-terminated, e.g.
 * { "valgrind", "--log-file=F", NULL }), which execs the server's argv
 * as its own last arguments in the same process. NULL: none. */
void mw_harness_set_wrapper (MwHarness *harness, const char *const *wrapper);

/* VmRSS of @pid in KiB (Linux /proc/PID/status), and the highest seen
 * over @seconds, sampled every 20 ms. */
guint64 mw_harness_rss_kib (GPid pid);
guint64 mw_harness_peak_rss_kib (GPid pid, guint seconds);

/* A client that connects and never speaks, @clients times over, to the
 * server @pid listening on @port (issue 13 part 3): each of the first
 * @limit connections must be greeted with a line starting @greeting, and
 * every later one refused with a line starting @refused. Then one greeted
 * client leaves, and a new connection must be greeted again (the server
 * is up and freed the place). Reports VmRSS before and with all of them
 * open. Call mw_harness_raise_open_files () before starting the server. */
/* A blocking socket to 127.0.0.1:@port with a 10 s read timeout, for
 * clients that misbehave; and the first line the server sends on it (its
 * greeting, up to 511 octets, without its CRLF; transfer full). */
int mw_harness_raw_connect (guint16 port);
char *mw_harness_raw_first_line (int fd);

/* Raises this process's open-files limit to its hard limit, which the
 * servers started afterwards inherit; FALSE (the test skipped, saying
 * why) if that is below @needed. */
gboolean mw_harness_raise_open_files (guint needed);
void mw_harness_idle_clients (GPid pid,
                              guint16 port,
                              guint clients,
                              guint limit,
                              const char *greeting,
                              const char *refused);

/* Port of the listener @label ("smtp", "submission", "smtps", "pop3",
 * "pop3s", ...) of any started server; asserts that it exists. */
guint16 mw_harness_port (MwHarness *harness, const char *label);
/* Sends @signal to a server started by this harness and, for SIGKILL and
 * SIGTERM, waits for it to exit. */
void mw_harness_signal (MwHarness *harness, GPid pid, int signal);

/* Runs a program to completion (argv NULL-terminated, argv[0] a name for
 * mw_harness_program () or an absolute path or a program in PATH), with
 * @stdin_text (may be NULL) and a 60 s limit. Returns the exit status
 * (-1 if killed); *out_stdout / *out_stderr optional (transfer full). */
int mw_harness_run (MwHarness *harness,
                    const char *const *argv,
                    const char *stdin_text,
                    char **out_stdout,
                    char **out_stderr);

/* TRUE if @program is in PATH. */
gboolean mw_harness_have (const char *program);
/* TRUE if @program is in PATH; otherwise fails the current test, naming
 * the Debian @package (./run test installs every package a test needs, so
 * a missing one is a broken setup, never a reason to skip), and returns
 * FALSE: the caller returns at once. */
gboolean mw_harness_require (const char *program, const char *package);

/* Python's smtpd module (3.11 and older) as an SMTP server we did not
 * write: no PIPELINING, no SMTPUTF8, no CHUNKING. It writes the first
 * message it gets to @got_path as "SENDER|RCPT,RCPT|TEXT" (text un-stuffed,
 * lines joined by LF) and stops; it stops by itself after 30 s in any case.
 * *out_port is where it listens. NULL (with a g_test_skip () naming the
 * reason) when this python3 has no smtpd. */
GSubprocess *mw_harness_python_smtpd (MwHarness *harness,
                                      const char *got_path,
                                      guint16 *out_port);

/* Lists the regular files in Maildir/new and Maildir/cur of @user's
 * @folder (NULL: INBOX) (transfer full, sorted). */
GStrv mw_harness_list_messages (MwHarness *harness,
                                const char *user,
                                const char *folder);
/* @user (password @password) submits a message from @from to @to
 * through @harness's submission port with STARTTLS and AUTH, as a mail
 * program does (mw-send), with @extra options (NULL-terminated, may be
 * NULL); fails the test, with mw-send's stderr, unless it exits 0. */
void mw_harness_submit (MwHarness *harness,
                        const char *user,
                        const char *password,
                        const char *from,
                        const char *to,
                        const char *subject,
                        const char *body,
                        const char *const *extra);

/* How many messages @user's INBOX holds (new/ and cur/); and waiting,
 * up to 30 s, until it holds @count (asserted: a delivery that never
 * comes fails the test). */
guint mw_harness_count_messages (MwHarness *harness, const char *user);
void mw_harness_wait_for_messages (MwHarness *harness,
                                   const char *user,
                                   guint count);

G_END_DECLS
