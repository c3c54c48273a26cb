/* SPDX-License-Identifier: MIT
 * test-imap-search.c: SEARCH criteria, parsed from the argument tree of
 * imap-parser.h and matched against a small mailbox (RFC 9051 §6.4.4;
 * RFC 3501 §6.4.4 NEW, OLD, RECENT; RFC 7162 §3.1.5 MODSEQ; RFC 5182
 * §2.1 "$"). The text keys read tests/imap/files, and each of those
 * rows is what Dovecot 2.3.19's SEARCH answers for the same message.
 */
#include <string.h>

#include "imap-message-private.h"
#include "imap-parser.h"
#include "imap-search.h"

/* Parses @criteria as the arguments of a SEARCH command. */
static ImapSearchKey *
parse_criteria (const char *criteria, char **out_charset, GError **error)
{
  g_autoptr (GError) parse_error = NULL;
  g_autoptr (GPtrArray) args =
      imap_parse_args (criteria, strlen (criteria), &parse_error);

  g_assert_no_error (parse_error);
  return imap_search_parse (args, 0, out_charset, error);
}

/* ---- parsing (RFC 9051 §9 search-key) ---------------------------------- */

typedef struct
{
  const char *criteria;
  const char *tree; /* imap_search_key_describe (); NULL: an error */
  int error_code;
  const char *charset;
} ParseCase;

static const ParseCase parse_cases[] = {
  /* VALID */
  { "ALL", "ALL", 0, NULL },
  { "all", "ALL", 0, NULL },
  { "SEEN", "(FLAG \\Seen)", 0, NULL },
  { "UNSEEN", "(NOT (FLAG \\Seen))", 0, NULL },
  { "ANSWERED DELETED DRAFT FLAGGED",
    "(AND (FLAG \\Answered) (FLAG \\Deleted) (FLAG \\Draft) "
    "(FLAG \\Flagged))",
    0, NULL },
  { "UNANSWERED UNDELETED",
    "(AND (NOT (FLAG \\Answered)) (NOT (FLAG \\Deleted)))", 0, NULL },
  { "UNDRAFT UNFLAGGED", "(AND (NOT (FLAG \\Draft)) (NOT (FLAG \\Flagged)))", 0,
    NULL },
  /* RFC 3501 §6.4.4: NEW is (RECENT UNSEEN), OLD is NOT RECENT */
  { "NEW", "(AND RECENT (NOT (FLAG \\Seen)))", 0, NULL },
  { "OLD", "(NOT RECENT)", 0, NULL },
  { "RECENT", "RECENT", 0, NULL },
  { "1:3,5 UID 7:*", "(AND (SEQUENCE 1:3,5) (UID 7:*))", 0, NULL },
  { "*", "(SEQUENCE *)", 0, NULL },
  { "$", "$", 0, NULL },
  { "UID $", "$", 0, NULL },
  { "FROM alice", "(ADDRESS From \"alice\")", 0, NULL },
  { "SUBJECT \"hello world\"", "(HEADER Subject \"hello world\")", 0, NULL },
  { "TO {3}\r\nbob", "(ADDRESS To \"bob\")", 0, NULL },
  { "CC NIL", "(ADDRESS Cc \"NIL\")", 0, NULL },
  { "BCC x", "(ADDRESS Bcc \"x\")", 0, NULL },
  { "HEADER X-Spam yes", "(HEADER X-Spam \"yes\")", 0, NULL },
  { "HEADER Message-ID \"\"", "(HEADER Message-ID \"\")", 0, NULL },
  { "BODY \"caf\303\251\"", "(BODY \"caf\303\251\")", 0, NULL },
  { "TEXT x", "(TEXT \"x\")", 0, NULL },
  { "KEYWORD $Forwarded", "(KEYWORD $Forwarded)", 0, NULL },
  { "UNKEYWORD Junk", "(NOT (KEYWORD Junk))", 0, NULL },
  { "LARGER 1000 SMALLER 9223372036854775807",
    "(AND (LARGER 1000) (SMALLER 9223372036854775807))", 0, NULL },
  { "BEFORE 1-Feb-1994", "(BEFORE 1994-02-01)", 0, NULL },
  { "ON \"17-Jul-1996\"", "(ON 1996-07-17)", 0, NULL },
  { "SINCE 31-Dec-2022", "(SINCE 2022-12-31)", 0, NULL },
  { "SENTBEFORE 1-Jan-2023 SENTON 2-Jan-2023 SENTSINCE 3-Jan-2023",
    "(AND (SENTBEFORE 2023-01-01) (SENTON 2023-01-02) "
    "(SENTSINCE 2023-01-03))",
    0, NULL },
  { "NOT NOT SEEN", "(NOT (NOT (FLAG \\Seen)))", 0, NULL },
  { "OR SEEN FLAGGED", "(OR (FLAG \\Seen) (FLAG \\Flagged))", 0, NULL },
  { "OR (SEEN FLAGGED) NOT DRAFT",
    "(OR (AND (FLAG \\Seen) (FLAG \\Flagged)) (NOT (FLAG \\Draft)))", 0, NULL },
  { "((SEEN))", "(FLAG \\Seen)", 0, NULL },
  /* RFC 7162 §3.1.5, with its example's entry name and type */
  { "MODSEQ 5", "(MODSEQ 5)", 0, NULL },
  { "MODSEQ \"/flags/\\\\draft\" all 620162338", "(MODSEQ 620162338)", 0,
    NULL },
  { "MODSEQ \"/flags/$Junk\" priv 0", "(MODSEQ 0)", 0, NULL },
  /* RFC 9051 §6.4.4: CHARSET, US-ASCII and UTF-8 */
  { "CHARSET UTF-8 TEXT x", "(TEXT \"x\")", 0, "UTF-8" },
  { "charset \"us-ascii\" ALL", "ALL", 0, "US-ASCII" },
  /* INVALID */
  { "", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "FOO", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "FROM", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "FROM (a)", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "HEADER Subject", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "LARGER x", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "LARGER -1", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "LARGER 9223372036854775808", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "BEFORE yesterday", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "SINCE 1-Foo-2023", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "UID x", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "UID 0", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "0", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "1:", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "OR SEEN", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "NOT", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "()", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "\"SEEN\"", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "KEYWORD \"a b\"", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "MODSEQ \"/flags/\\\\seen\" bogus 5", NULL, IMAP_SEARCH_ERROR_SYNTAX,
    NULL },
  { "MODSEQ \"/other\" all 5", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "MODSEQ 9223372036854775808", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "CHARSET", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "CHARSET UTF-8", NULL, IMAP_SEARCH_ERROR_SYNTAX, NULL },
  { "CHARSET KOI8-R ALL", NULL, IMAP_SEARCH_ERROR_BADCHARSET, NULL },
};

static void
test_parse (gconstpointer data)
{
  const ParseCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *charset = NULL;
  g_autoptr (ImapSearchKey) key =
      parse_criteria (c->criteria, &charset, &error);
  g_autofree char *tree = NULL;

  if (c->tree == NULL)
    {
      g_assert_null (key);
      g_assert_error (error, IMAP_SEARCH_ERROR, c->error_code);
      g_test_message ("%s", error->message);
      return;
    }
  g_assert_no_error (error);
  tree = imap_search_key_describe (key);
  g_assert_cmpstr (tree, ==, c->tree);
  g_assert_cmpstr (charset, ==, c->charset);
}

/* The criteria start after what the command took (RETURN (...), say). */
static void
test_parse_from_index (void)
{
  static const char criteria[] = "RETURN (MIN) CHARSET UTF-8 SEEN";
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) args =
      imap_parse_args (criteria, strlen (criteria), &error);
  g_autoptr (ImapSearchKey) key = NULL;
  g_autofree char *tree = NULL;

  g_assert_no_error (error);
  key = imap_search_parse (args, 2, NULL, &error);
  g_assert_no_error (error);
  tree = imap_search_key_describe (key);
  g_assert_cmpstr (tree, ==, "(FLAG \\Seen)");
}

/* NOT, OR and lists nest up to IMAP_SEARCH_MAX_DEPTH keys. */
static void
test_parse_depth (void)
{
  for (int depth = IMAP_SEARCH_MAX_DEPTH - 1; depth <= IMAP_SEARCH_MAX_DEPTH;
       depth++)
    {
      g_autoptr (GString) criteria = g_string_new (NULL);
      g_autoptr (GError) error = NULL;
      g_autoptr (ImapSearchKey) key = NULL;

      for (int i = 0; i < depth; i++)
        g_string_append (criteria, "NOT ");
      g_string_append (criteria, "SEEN");
      key = parse_criteria (criteria->str, NULL, &error);
      if (depth < IMAP_SEARCH_MAX_DEPTH)
        {
          g_assert_no_error (error);
          g_assert_nonnull (key);
        }
      else
        g_assert_error (error, IMAP_SEARCH_ERROR, IMAP_SEARCH_ERROR_SYNTAX);
    }
}

/* ---- matching (RFC 9051 §6.4.4) ---------------------------------------- */

typedef struct
{
  const char *file; /* tests/imap/files/<file>.eml */
  guint loads;      /* how often the search read it */
  ImapMessage *parsed;
} Stored;

static ImapMessage *
load_stored (gpointer user_data)
{
  Stored *stored = user_data;
  g_autofree char *name = g_strdup_printf ("%s.eml", stored->file);
  g_autofree char *path =
      g_test_build_filename (G_TEST_DIST, "imap", "files", name, NULL);
  char *contents = NULL;
  gsize length = 0;
  g_autoptr (GBytes) data = NULL;

  stored->loads++;
  g_assert_null (stored->parsed);
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  data = g_bytes_new_take (contents, length);
  stored->parsed = imap_message_new (data);
  return stored->parsed;
}

static const char *const keywords_2[] = { "$Forwarded", "Work", NULL };
static const char *const keywords_3[] = { "junk", NULL };

/* The mailbox: 4 messages, "*" is 4 and UID 40. */
static const ImapSearchCandidate mailbox[] = {
  { .seq = 1,
    .uid = 10,
    .size = 500,
    .internaldate = 1672531199, /* 2022-12-31 23:59:59 UTC */
    .flags = MAIL_FLAG_SEEN,
    .modseq = 5 },
  { .seq = 2,
    .uid = 20,
    .size = 1500,
    .internaldate = 1672531200, /* 2023-01-01 00:00:00 UTC */
    .flags = MAIL_FLAG_ANSWERED | MAIL_FLAG_FLAGGED,
    .keywords = keywords_2,
    .recent = TRUE,
    .modseq = 9 },
  { .seq = 3,
    .uid = 30,
    .size = 3000,
    .internaldate = 1672660800, /* 2023-01-02 12:00:00 UTC */
    .flags = MAIL_FLAG_DELETED | MAIL_FLAG_SEEN | MAIL_FLAG_DRAFT,
    .keywords = keywords_3,
    .recent = TRUE,
    .modseq = 12 },
  { .seq = 4,
    .uid = 40,
    .size = 100,
    .internaldate = -3600, /* 1969-12-31 23:00:00 UTC */
    .modseq = 1 },
};

static const char *const mailbox_files[] = {
  "multipart-mixed-with-attachment", /* Date: 7 Feb 1994, From: Fred */
  "search-latin1-base64",            /* Date: 31 Dec 2022 -0500 */
  "headers-8bit-encoded-words",      /* Date: 13 Feb 1969 */
  "no-body",                         /* no Date: */
};

typedef struct
{
  const char *criteria;
  const char *expected; /* the matching sequence numbers, "1,3" */
  const char *loaded;   /* the messages read, "1,3" */
} MatchCase;

static const MatchCase match_cases[] = {
  /* flags, sizes, numbers: no message is read */
  { "ALL", "1,2,3,4", "" },
  { "SEEN", "1,3", "" },
  { "UNSEEN", "2,4", "" },
  { "ANSWERED FLAGGED", "2", "" },
  { "DELETED DRAFT", "3", "" },
  { "UNDELETED", "1,2,4", "" },
  { "RECENT", "2,3", "" },
  { "NEW", "2", "" },
  { "OLD", "1,4", "" },
  { "KEYWORD work", "2", "" }, /* RFC 9051 §2.3.2: case-insensitive */
  { "KEYWORD JUNK", "3", "" },
  { "UNKEYWORD $Forwarded", "1,3,4", "" },
  { "LARGER 1500", "3", "" },
  { "SMALLER 500", "4", "" },
  { "2:3", "2,3", "" },
  { "*", "4", "" },
  { "*:3", "3,4", "" },
  { "UID 20:30", "2,3", "" },
  { "UID *", "4", "" },
  { "UID 15:25,35", "2", "" },
  { "MODSEQ 9", "2,3", "" },
  { "OR SEEN FLAGGED", "1,2,3", "" },
  { "NOT OR SEEN FLAGGED", "4", "" },
  { "(SEEN UNDELETED)", "1", "" },
  /* INTERNALDATE by its day in UTC */
  { "BEFORE 1-Jan-2023", "1,4", "" },
  { "ON 1-Jan-2023", "2", "" },
  { "SINCE 1-Jan-2023", "2,3", "" },
  { "ON 31-Dec-1969", "4", "" },
  /* the Date: header, by the sender's day */
  { "SENTON 31-Dec-2022", "2", "1,2,3,4" },
  { "SENTBEFORE 1-Jan-2000", "1,3", "1,2,3,4" },
  { "SENTSINCE 1-Jan-1970", "1,2", "1,2,3,4" },
  /* the header and text keys (Dovecot's answers but one) */
  { "FROM fred", "1", "1,2,3,4" },
  { "FROM \"andr\303\251\"", "2", "1,2,3,4" },
  /* g_utf8_casefold folds "ß" to "ss" (Dovecot does not match) */
  { "SUBJECT \"GR\303\234SSE\"", "3", "1,2,3,4" },
  { "SUBJECT \"gr\303\274\303\237e\"", "3", "1,2,3,4" },
  { "TO mooch", "1", "1,2,3,4" },
  { "CC \"j\303\274rgen\"", "3", "1,2,3,4" },
  { "HEADER X-Tag \"\"", "2", "1,2,3,4" },
  { "HEADER subject \"\"", "1,2,3,4", "1,2,3,4" },
  { "BODY \"caf\303\251 est\"", "2", "1,2,3,4" },
  { "BODY \"k\303\266ln\"", "3", "1,2,3,4" },
  { "BODY \"only headers\"", "", "1,2,3,4" },
  { "TEXT \"only headers\"", "4", "1,2,3,4" },
  /* a flag test that fails spares reading the file */
  { "SUBJECT afternoon SEEN", "1", "1,3" },
  { "OR FROM fred FLAGGED", "1,2", "1,3,4" },
};

/* imaptest's search-addresses: its mailbox and every row of it, Dovecot's
 * answers. FROM, TO, CC and BCC match the addresses, so the comments in
 * message 3's From and the groups of messages 6 and 7 are no obstacle;
 * HEADER matches the raw field. */
static const char *const address_mailbox[] = {
  "From: user-from@domain.org\r\n"
  "To: user-to@domain.org\r\n"
  "Cc: user-cc@domain.org\r\n"
  "Bcc: user-bcc@domain.org\r\n"
  "\r\nbody\r\n",
  "From: RealFrom <user-from@domain.org>\r\n"
  "To: RealTo <user-to@domain.org>\r\n"
  "Cc: RealCc <user-cc@domain.org>\r\n"
  "Bcc: RealBcc <user-bcc@domain.org>\r\n"
  "\r\nbody2\r\n",
  "From: <user-from (comment)@ (comment) domain.org>\r\n"
  "To: <user-to@domain.org>\r\n"
  "Cc: <user-cc@domain.org>\r\n"
  "Bcc: <user-bcc@domain.org>\r\n"
  "\r\nbody3\r\n",
  "From: user-from@domain.org (RealFrom)\r\n"
  "To: user-to@domain.org (RealTo)\r\n"
  "Cc: user-cc@domain.org (RealCc)\r\n"
  "Bcc: user-bcc@domain.org (RealBcc)\r\n"
  "\r\nbody4\r\n",
  "From: user-from1@domain.org, user-from2@domain.org\r\n"
  "Cc: user-cc@domain.org\r\n"
  "\r\nbody5\r\n",
  "From: RealFrom <user-from@domain.org>\r\n"
  "To: groupname: groupuser1@domain.org, groupuser2@domain.org;,\r\n"
  "  groupname2: groupuser3@domain.org;\r\n"
  "\r\nbody6\r\n",
  "From: RealFrom <user-from@domain.org>\r\n"
  "To: groupname:;\r\n"
  "\r\nbody7\r\n",
};

typedef struct
{
  const char *name;
  const char *criteria;
  const char *expected;
} AddressCase;

static const AddressCase address_cases[] = {
  { "from-full-address-despite-comments", "FROM user-from@domain.org",
    "1,2,3,4,6,7" },
  { "to-full-address", "TO user-to@domain.org", "1,2,3,4" },
  { "cc-full-address", "CC user-cc@domain.org", "1,2,3,4,5" },
  { "bcc-full-address", "BCC user-bcc@domain.org", "1,2,3,4" },
  { "from-display-name-or-comment", "FROM realfrom", "2,4,6,7" },
  { "to-display-name-or-comment", "TO realto", "2,4" },
  { "cc-display-name-or-comment", "CC realcc", "2,4" },
  { "bcc-display-name-or-comment", "BCC realbcc", "2,4" },
  { "header-from-exists", "HEADER from \"\"", "1,2,3,4,5,6,7" },
  { "header-to-exists", "HEADER to \"\"", "1,2,3,4,6,7" },
  { "header-cc-exists", "HEADER cc \"\"", "1,2,3,4,5" },
  { "header-bcc-exists", "HEADER bcc \"\"", "1,2,3,4" },
  { "from-address-substring", "FROM ser-fro", "1,2,3,4,5,6,7" },
  { "to-address-substring", "TO ser-t", "1,2,3,4" },
  { "cc-address-substring", "CC ser-c", "1,2,3,4,5" },
  { "bcc-address-substring", "BCC ser-bc", "1,2,3,4" },
  { "from-name-substring", "FROM ealfro", "2,4,6,7" },
  { "to-name-substring", "TO ealt", "2,4" },
  { "cc-name-substring", "CC ealc", "2,4" },
  { "bcc-name-substring", "BCC ealbc", "2,4" },
  { "from-first-of-two", "FROM user-from1", "5" },
  { "from-second-of-two", "FROM user-from2", "5" },
  { "to-group-name", "TO groupname", "6,7" },
  { "to-second-group-name", "TO groupname2", "6" },
  { "to-group-member", "TO groupuser1", "6" },
  { "to-second-group-member", "TO groupuser2", "6" },
  { "to-member-of-the-second-group", "TO groupuser3", "6" },
  { "to-no-such-member", "TO groupuser4", "" },
};

typedef struct
{
  const char *text;
  ImapMessage *parsed; /* what load_inline () gave */
} InlineMessage;

static ImapMessage *
load_inline (gpointer user_data)
{
  InlineMessage *inline_message = user_data;
  g_autoptr (GBytes) data =
      g_bytes_new_static (inline_message->text, strlen (inline_message->text));

  g_assert_null (inline_message->parsed);
  inline_message->parsed = imap_message_new (data);
  return inline_message->parsed;
}

static void
test_match_address (gconstpointer data)
{
  const AddressCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (ImapSearchKey) key = parse_criteria (c->criteria, NULL, &error);
  g_autoptr (GString) found = g_string_new (NULL);

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (address_mailbox); i++)
    {
      ImapSearchCandidate candidate = { .seq = i + 1, .uid = i + 1 };
      InlineMessage stored = { address_mailbox[i], NULL };

      candidate.load = load_inline;
      candidate.user_data = &stored;
      if (imap_search_matches (key, &candidate, G_N_ELEMENTS (address_mailbox),
                               G_N_ELEMENTS (address_mailbox)))
        g_string_append_printf (found, "%s%u", found->len > 0 ? "," : "",
                                i + 1);
      g_clear_pointer (&stored.parsed, imap_message_free);
    }
  g_assert_cmpstr (found->str, ==, c->expected);
}

static char *
join_numbers (const GArray *numbers)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < numbers->len; i++)
    g_string_append_printf (text, "%s%u", i > 0 ? "," : "",
                            g_array_index (numbers, guint, i));
  return g_string_free (text, FALSE);
}

/* Runs @key over the mailbox: *out_loaded gets the messages read. */
static char *
run_search (const ImapSearchKey *key, char **out_loaded)
{
  g_autoptr (GArray) found = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GArray) loaded = g_array_new (FALSE, FALSE, sizeof (guint));

  for (guint i = 0; i < G_N_ELEMENTS (mailbox); i++)
    {
      Stored stored = { mailbox_files[i], 0, NULL };
      ImapSearchCandidate candidate = mailbox[i];

      candidate.load = load_stored;
      candidate.user_data = &stored;
      if (imap_search_matches (key, &candidate, 4, 40))
        g_array_append_val (found, candidate.seq);
      g_assert_cmpuint (stored.loads, <=, 1);
      if (stored.loads > 0)
        g_array_append_val (loaded, candidate.seq);
      g_clear_pointer (&stored.parsed, imap_message_free);
    }
  *out_loaded = join_numbers (loaded);
  return join_numbers (found);
}

static void
test_match (gconstpointer data)
{
  const MatchCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (ImapSearchKey) key = parse_criteria (c->criteria, NULL, &error);
  g_autofree char *found = NULL;
  g_autofree char *loaded = NULL;

  g_assert_no_error (error);
  found = run_search (key, &loaded);
  g_assert_cmpstr (found, ==, c->expected);
  g_assert_cmpstr (loaded, ==, c->loaded);
  g_assert_cmpint (imap_search_needs_message (key), ==, c->loaded[0] != '\0');
}

/* The keys on the message header read the header only: no MIME parse
 * (imap-message.h), which is what makes SEARCH FROM fast; BODY and TEXT
 * need the parts. */
typedef struct
{
  const char *criteria;
  ImapMessageStage stage; /* how far each message was read */
} ReadCase;

static const ReadCase read_cases[] = {
  { "FROM fred", IMAP_MESSAGE_SPLIT },
  { "TO mooch", IMAP_MESSAGE_SPLIT },
  { "CC x", IMAP_MESSAGE_SPLIT },
  { "BCC x", IMAP_MESSAGE_SPLIT },
  { "SUBJECT afternoon", IMAP_MESSAGE_SPLIT },
  { "HEADER X-Tag \"\"", IMAP_MESSAGE_SPLIT },
  { "SENTON 31-Dec-2022", IMAP_MESSAGE_SPLIT },
  { "SENTBEFORE 1-Jan-2000", IMAP_MESSAGE_SPLIT },
  { "SENTSINCE 1-Jan-1970", IMAP_MESSAGE_SPLIT },
  { "OR FROM x NOT SUBJECT y", IMAP_MESSAGE_SPLIT },
  { "BODY x", IMAP_MESSAGE_PARSED },
  { "TEXT x", IMAP_MESSAGE_PARSED },
  { "BODY y FROM x", IMAP_MESSAGE_PARSED },
};

static void
test_match_reads (gconstpointer data)
{
  const ReadCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (ImapSearchKey) key = parse_criteria (c->criteria, NULL, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (mailbox); i++)
    {
      Stored stored = { mailbox_files[i], 0, NULL };
      ImapSearchCandidate candidate = mailbox[i];

      candidate.load = load_stored;
      candidate.user_data = &stored;
      imap_search_matches (key, &candidate, 4, 40);
      g_assert_nonnull (stored.parsed);
      g_assert_cmpint (stored.parsed->stage, ==, c->stage);
      g_clear_pointer (&stored.parsed, imap_message_free);
    }
}

/* RFC 5182 §2.1: "$" is the saved result, and empty before any. */
static void
test_match_saved (void)
{
  static const guint32 saved[] = { 20, 40 };
  g_autoptr (GError) error = NULL;
  g_autoptr (ImapSearchKey) key = parse_criteria ("OR $ SEEN", NULL, &error);
  g_autofree char *found = NULL;
  g_autofree char *loaded = NULL;

  g_assert_no_error (error);
  g_assert_true (imap_search_uses_saved (key));
  found = run_search (key, &loaded);
  g_assert_cmpstr (found, ==, "1,3");
  g_clear_pointer (&found, g_free);
  g_clear_pointer (&loaded, g_free);
  imap_search_set_saved_uids (key, saved, G_N_ELEMENTS (saved));
  found = run_search (key, &loaded);
  g_assert_cmpstr (found, ==, "1,2,3,4");
}

/* RFC 7162 §3.1.5: the reply carries (MODSEQ n) only for MODSEQ. */
static void
test_uses_modseq (void)
{
  g_autoptr (ImapSearchKey) plain = parse_criteria ("SEEN", NULL, NULL);
  g_autoptr (ImapSearchKey) nested =
      parse_criteria ("OR SEEN NOT MODSEQ 4", NULL, NULL);

  g_assert_false (imap_search_uses_modseq (plain));
  g_assert_false (imap_search_uses_saved (plain));
  g_assert_true (imap_search_uses_modseq (nested));
}

/* A message that cannot be read matches no text key, and still the
 * others. */
static void
test_match_unreadable (void)
{
  g_autoptr (ImapSearchKey) text = parse_criteria ("BODY x", NULL, NULL);
  g_autoptr (ImapSearchKey) not_text =
      parse_criteria ("NOT BODY x", NULL, NULL);
  ImapSearchCandidate candidate = mailbox[0];

  g_assert_false (imap_search_matches (text, &candidate, 4, 40));
  g_assert_true (imap_search_matches (not_text, &candidate, 4, 40));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (parse_cases); i++)
    {
      g_autofree char *path = g_strdup_printf (
          "/imap/search/parse/%s/%u",
          parse_cases[i].tree != NULL ? "valid" : "invalid", i);
      g_test_add_data_func (path, &parse_cases[i], test_parse);
    }
  g_test_add_func ("/imap/search/parse/criteria-start-at-the-index-given",
                   test_parse_from_index);
  g_test_add_func ("/imap/search/parse/nesting-stops-at-the-limit",
                   test_parse_depth);
  for (guint i = 0; i < G_N_ELEMENTS (match_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/imap/search/match/%u", i);
      g_test_add_data_func (path, &match_cases[i], test_match);
    }
  for (guint i = 0; i < G_N_ELEMENTS (address_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/imap/search/match/address/%s",
                                               address_cases[i].name);
      g_test_add_data_func (path, &address_cases[i], test_match_address);
    }
  for (guint i = 0; i < G_N_ELEMENTS (read_cases); i++)
    {
      g_autofree char *path = g_strdup_printf (
          "/imap/search/match/reads-%s/%u",
          read_cases[i].stage == IMAP_MESSAGE_PARSED ? "the-parts"
                                                     : "only-the-header",
          i);
      g_test_add_data_func (path, &read_cases[i], test_match_reads);
    }
  g_test_add_func ("/imap/search/match/saved-result-is-empty-until-given",
                   test_match_saved);
  g_test_add_func ("/imap/search/match/unreadable-message-matches-no-text",
                   test_match_unreadable);
  g_test_add_func ("/imap/search/uses-modseq-only-with-a-modseq-key",
                   test_uses_modseq);
  return g_test_run ();
}
