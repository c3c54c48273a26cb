/* SPDX-License-Identifier: MIT
 * imap-thread.c: the THREAD command (RFC 5256 §3, §4) with its two
 * algorithms:
 *   ORDEREDSUBJECT (§2.1 base subject): messages with the same base
 *     subject form one thread, the first by date its root and the others
 *     its children;
 *   REFERENCES (§2.2, the "JWZ" algorithm): Message-ID, References and
 *     In-Reply-To link replies to what they answer, dummies stand for
 *     messages not in the mailbox, and threads whose roots share a base
 *     subject are gathered.
 *   THREAD algorithm charset search-key...  ->  * THREAD (2)(3 6 (4 23)(7))
 */
#include <string.h>

#include "imap-sort.h"

typedef struct _ImapThreadNode ImapThreadNode;
struct _ImapThreadNode
{
  const ImapSortMessage *message; /* NULL: a dummy (§2.2 step 1A) */
  ImapThreadNode *parent;
  GPtrArray *children; /* of ImapThreadNode, not owned */
};

/* Every node, owned; the threads are links between them. */
typedef struct
{
  GPtrArray *nodes;
  GPtrArray *roots; /* of ImapThreadNode, not owned */
} ImapThreads;

static void
imap_thread_node_free (ImapThreadNode *node)
{
  g_ptr_array_unref (node->children);
  g_free (node);
}

static ImapThreadNode *
imap_thread_node_new (ImapThreads *threads, const ImapSortMessage *message)
{
  ImapThreadNode *node = g_new0 (ImapThreadNode, 1);

  node->message = message;
  node->children = g_ptr_array_new ();
  g_ptr_array_add (threads->nodes, node);
  return node;
}

static void
imap_thread_link (ImapThreadNode *parent, ImapThreadNode *child)
{
  child->parent = parent;
  g_ptr_array_add (parent->children, child);
}

static void
imap_thread_unlink (ImapThreadNode *child)
{
  g_ptr_array_remove (child->parent->children, child);
  child->parent = NULL;
}

/* Is @node @other or above it? Then linking @node under @other loops. */
static gboolean
imap_thread_is_ancestor (const ImapThreadNode *node,
                         const ImapThreadNode *other)
{
  for (; other != NULL; other = other->parent)
    if (other == node)
      return TRUE;
  return FALSE;
}

/* ---- dates and subjects of nodes -------------------------------------- */

/* A dummy has the date and subject of its first child (§2.2 steps 5, 6);
 * its children are sorted by then. */
static const ImapSortMessage *
imap_thread_first_message (const ImapThreadNode *node)
{
  while (node->message == NULL && node->children->len > 0)
    node = node->children->pdata[0];
  return node->message;
}

static int
imap_thread_compare_dates (gconstpointer pa, gconstpointer pb)
{
  const ImapSortMessage *a =
      imap_thread_first_message (*(ImapThreadNode *const *) pa);
  const ImapSortMessage *b =
      imap_thread_first_message (*(ImapThreadNode *const *) pb);

  if (a == NULL || b == NULL)
    return (a == NULL) - (b == NULL);
  if (a->sent != b->sent)
    return a->sent < b->sent ? -1 : 1;
  return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* §2.2 step 7: every set of siblings below @node, by sent date */
static void
imap_thread_sort_below (ImapThreadNode *node)
{
  for (guint i = 0; i < node->children->len; i++)
    imap_thread_sort_below (node->children->pdata[i]);
  g_ptr_array_sort (node->children, imap_thread_compare_dates);
}

/* ---- REFERENCES (§2.2) ------------------------------------------------ */

static ImapThreadNode *
imap_thread_lookup (ImapThreads *threads, GHashTable *ids, const char *id)
{
  ImapThreadNode *node = g_hash_table_lookup (ids, id);

  if (node == NULL)
    {
      node = imap_thread_node_new (threads, NULL);
      g_hash_table_insert (ids, (gpointer) id, node);
    }
  return node;
}

/* Step 1: one message, its references linked parent to child (1A), then
 * the message under the last of them (1B). */
static void
imap_thread_add (ImapThreads *threads,
                 GHashTable *ids,
                 const ImapSortMessage *message)
{
  ImapThreadNode *node = NULL;
  ImapThreadNode *previous = NULL;
  ImapThreadNode *found = message->message_id
                              ? g_hash_table_lookup (ids, message->message_id)
                              : NULL;

  /* a missing or repeated Message-ID: a node of its own, in no table */
  if (found != NULL && found->message == NULL)
    (node = found)->message = message;
  else
    node = imap_thread_node_new (threads, message);
  if (message->message_id != NULL && found == NULL)
    g_hash_table_insert (ids, message->message_id, node);
  for (guint i = 0; message->references[i] != NULL; i++)
    {
      ImapThreadNode *reference =
          imap_thread_lookup (threads, ids, message->references[i]);

      if (previous != NULL && reference->parent == NULL &&
          !imap_thread_is_ancestor (reference, previous))
        imap_thread_link (previous, reference);
      previous = reference;
    }
  /* 1B: its own References say where it belongs, better than what
   * other messages said: the old parent goes even when the new one
   * would make a loop (then it becomes a root) */
  if (node->parent != NULL)
    imap_thread_unlink (node);
  if (previous != NULL && !imap_thread_is_ancestor (node, previous))
    imap_thread_link (previous, node);
}

/* Step 4: a dummy without children goes; one with children gives them
 * to its parent, unless it is a root with several (they stay its). */
static void
imap_thread_prune (GPtrArray *siblings, ImapThreadNode *parent)
{
  for (guint i = 0; i < siblings->len;)
    {
      ImapThreadNode *node = siblings->pdata[i];

      imap_thread_prune (node->children, node);
      if (node->message != NULL || (parent == NULL && node->children->len > 1))
        {
          i++;
          continue;
        }
      g_ptr_array_remove_index (siblings, i);
      for (guint c = 0; c < node->children->len; c++)
        {
          ImapThreadNode *child = node->children->pdata[c];

          child->parent = parent;
          g_ptr_array_insert (siblings, (gint) (i + c), child);
        }
      i += node->children->len;
      g_ptr_array_set_size (node->children, 0);
    }
}

static const char *
imap_thread_subject (const ImapThreadNode *node)
{
  const ImapSortMessage *first = imap_thread_first_message (node);

  return first != NULL ? first->subject : "";
}

/* Step 6B for one root: joined to the thread of the same subject. */
static void
imap_thread_merge (ImapThreads *threads,
                   GHashTable *subjects,
                   ImapThreadNode *root)
{
  const char *subject = imap_thread_subject (root);
  ImapThreadNode *table = g_hash_table_lookup (subjects, subject);
  ImapThreadNode *dummy = NULL;

  if (subject[0] == '\0' || table == NULL || table == root)
    return;
  g_ptr_array_remove (threads->roots, root);
  if (table->message == NULL && root->message == NULL)
    {
      for (guint i = 0; i < root->children->len; i++)
        imap_thread_link (table, root->children->pdata[i]);
      g_ptr_array_set_size (root->children, 0);
    }
  else if (table->message == NULL ||
           (root->message != NULL && root->message->is_reply &&
            !table->message->is_reply))
    imap_thread_link (table, root);
  else
    {
      /* two threads of one subject, neither an answer: a dummy above,
       * in the place of the first */
      guint index = 0;

      dummy = imap_thread_node_new (threads, NULL);
      if (g_ptr_array_find (threads->roots, table, &index))
        threads->roots->pdata[index] = dummy;
      imap_thread_link (dummy, table);
      imap_thread_link (dummy, root);
      g_hash_table_insert (subjects, (gpointer) subject, dummy);
    }
}

/* Step 6: threads whose roots have the same base subject are one. */
static void
imap_thread_gather_subjects (ImapThreads *threads)
{
  g_autoptr (GHashTable) subjects =
      g_hash_table_new ((GHashFunc) g_str_hash, (GEqualFunc) g_str_equal);
  g_autoptr (GPtrArray) roots = g_ptr_array_copy (threads->roots, NULL, NULL);

  /* 6A: per subject, a dummy if any, else a message that is no reply */
  for (guint i = 0; i < roots->len; i++)
    {
      ImapThreadNode *root = roots->pdata[i];
      const char *subject = imap_thread_subject (root);
      ImapThreadNode *known = g_hash_table_lookup (subjects, subject);

      if (subject[0] == '\0')
        continue;
      if (known == NULL || (root->message == NULL && known->message != NULL) ||
          (known->message != NULL && root->message != NULL &&
           known->message->is_reply && !root->message->is_reply))
        g_hash_table_insert (subjects, (gpointer) subject, root);
    }
  for (guint i = 0; i < roots->len; i++)
    imap_thread_merge (threads, subjects, roots->pdata[i]);
}

static void
imap_thread_references (ImapThreads *threads, GPtrArray *messages)
{
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < messages->len; i++)
    imap_thread_add (threads, ids, messages->pdata[i]);
  /* step 2: the roots */
  for (guint i = 0; i < threads->nodes->len; i++)
    {
      ImapThreadNode *node = threads->nodes->pdata[i];

      if (node->parent == NULL)
        g_ptr_array_add (threads->roots, node);
    }
  imap_thread_prune (threads->roots, NULL);
  /* step 5: the roots by date, a dummy by its first child's */
  for (guint i = 0; i < threads->roots->len; i++)
    g_ptr_array_sort (((ImapThreadNode *) threads->roots->pdata[i])->children,
                      imap_thread_compare_dates);
  g_ptr_array_sort (threads->roots, imap_thread_compare_dates);
  imap_thread_gather_subjects (threads);
  for (guint i = 0; i < threads->roots->len; i++)
    imap_thread_sort_below (threads->roots->pdata[i]);
}

/* ---- ORDEREDSUBJECT (§2.1, §3) ---------------------------------------- */

static int
imap_thread_compare_subjects (gconstpointer pa, gconstpointer pb)
{
  const ImapSortMessage *a = *(ImapSortMessage *const *) pa;
  const ImapSortMessage *b = *(ImapSortMessage *const *) pb;
  int order = imap_sort_compare_strings (a->subject, b->subject);

  if (order != 0)
    return order;
  if (a->sent != b->sent)
    return a->sent < b->sent ? -1 : 1;
  return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void
imap_thread_ordered_subject (ImapThreads *threads, GPtrArray *messages)
{
  ImapThreadNode *root = NULL;

  g_ptr_array_sort (messages, imap_thread_compare_subjects);
  for (guint i = 0; i < messages->len; i++)
    {
      const ImapSortMessage *message = messages->pdata[i];
      ImapThreadNode *node = imap_thread_node_new (threads, message);

      if (root != NULL && imap_sort_compare_strings (root->message->subject,
                                                     message->subject) == 0)
        imap_thread_link (root, node);
      else
        g_ptr_array_add (threads->roots, root = node);
    }
  g_ptr_array_sort (threads->roots, imap_thread_compare_dates);
}

/* ---- THREAD (§4) ------------------------------------------------------ */

/* thread-list = "(" (thread-members / thread-nested) ")": a message and
 * its only child run on; several children are each in parentheses. */
static void
imap_thread_write (GString *out, const ImapThreadNode *node, gboolean uid)
{
  if (node->message != NULL)
    g_string_append_printf (out, "%u",
                            uid ? node->message->uid : node->message->seq);
  if (node->children->len == 1)
    {
      if (node->message != NULL)
        g_string_append_c (out, ' ');
      imap_thread_write (out, node->children->pdata[0], uid);
      return;
    }
  if (node->children->len > 1 && node->message != NULL)
    g_string_append_c (out, ' ');
  for (guint i = 0; i < node->children->len; i++)
    {
      g_string_append_c (out, '(');
      imap_thread_write (out, node->children->pdata[i], uid);
      g_string_append_c (out, ')');
    }
}

void
imap_cmd_thread (ImapSession *session, GPtrArray *args)
{
  const ImapArg *algorithm = args->len ? args->pdata[0] : NULL;
  gboolean references = imap_arg_is_atom (algorithm, "REFERENCES");
  g_autoptr (ImapSearchKey) key = NULL;
  g_autoptr (GPtrArray) messages = NULL;
  g_autoptr (GString) line = g_string_new ("THREAD");
  ImapThreads threads = {
    g_ptr_array_new_with_free_func ((GDestroyNotify) imap_thread_node_free),
    g_ptr_array_new (),
  };

  if (!references && !imap_arg_is_atom (algorithm, "ORDEREDSUBJECT"))
    imap_reply_bad (session, "THREAD REFERENCES or ORDEREDSUBJECT, then a "
                             "charset and search keys");
  else if ((key = imap_sort_parse_search (session, args, 1)) != NULL)
    {
      messages = imap_sort_collect (session, key, TRUE);
      if (references)
        imap_thread_references (&threads, messages);
      else
        imap_thread_ordered_subject (&threads, messages);
      for (guint i = 0; i < threads.roots->len; i++)
        {
          g_string_append (line, i == 0 ? " (" : "(");
          imap_thread_write (line, threads.roots->pdata[i], session->uid);
          g_string_append_c (line, ')');
        }
      imap_reply_untagged (session, "%s", line->str);
      imap_reply_completed (session);
    }
  g_ptr_array_unref (threads.roots);
  g_ptr_array_unref (threads.nodes);
}
