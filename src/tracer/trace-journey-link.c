/* SPDX-License-Identifier: MIT
 * trace-journey-link.c: when the capture has ended, the sightings of
 * trace-journey.c become journeys. Evidence, strongest first:
 *   1. the same Message-ID (RFC 5322 §3.6.4);
 *   2. the queue id of a 250 to the text in a later copy's Received:
 *      field (RFC 5321 §4.4), which also tells the hops that could not
 *      be read (encrypted): each Received: is one server that took it;
 *   3. for IDLE pushes, the recipient's local part and the IMAP user,
 *      and the time since the delivery;
 *   4. for an encrypted session without keys, only the time: the hop is
 *      marked inferred.
 * The stories and their output are in trace-journey-story.c.
 */
#include <string.h>

#include "trace-journey-private.h"
#include "trace-output.h"

#define IDLE_PUSH_MAX_US (300 * G_USEC_PER_SEC) /* a push this late is news */

/* ---- grouping (union-find over the sightings) ------------------------- */

static guint
group_of (GPtrArray *sightings, guint index)
{
  Sighting *sighting = sightings->pdata[index];

  while (sighting->group != index)
    {
      index = sighting->group;
      sighting = sightings->pdata[index];
    }
  return index;
}

static void
unite (GPtrArray *sightings, guint earlier, guint later)
{
  guint a = group_of (sightings, earlier);
  guint b = group_of (sightings, later);
  Sighting *root = sightings->pdata[MAX (a, b)];

  root->group = MIN (a, b);
}

static gboolean
has_string (GPtrArray *strings, const char *text)
{
  for (guint i = 0; text != NULL && i < strings->len; i++)
    if (strcmp (strings->pdata[i], text) == 0)
      return TRUE;
  return FALSE;
}

/* The id of the newest Received: field, the last server's, or NULL. */
static const char *
newest_stamp (const Sighting *sighting)
{
  const char *id =
      sighting->received_ids->len > 0 ? sighting->received_ids->pdata[0] : NULL;

  return id != NULL && *id != '\0' ? id : NULL;
}

/* Two copies that the same server stamped last with the same id are one
 * delivered message, pulled twice (RFC 5321 §4.4: the id is the server's
 * own); the same size says the copy is the same too. */
static char *
same_stamp (const Sighting *earlier, const Sighting *later)
{
  const char *id = newest_stamp (later);

  if (id == NULL || g_strcmp0 (newest_stamp (earlier), id) != 0)
    return NULL;
  if (earlier->size == later->size)
    return trace_strdup_printf (
        "the same Received: id %s and size (%" G_GUINT64_FORMAT " octets)", id,
        later->size);
  return trace_strdup_printf ("the same Received: id %s", id);
}

/* What links @later to @earlier, or NULL (transfer full). */
static char *
evidence (const Sighting *earlier, const Sighting *later)
{
  gboolean same_id = earlier->message_id != NULL &&
                     g_strcmp0 (earlier->message_id, later->message_id) == 0;
  gboolean stamped = has_string (later->received_ids, earlier->queue_id);

  if (!same_id && !stamped)
    return same_stamp (earlier, later);
  if (same_id && stamped)
    return trace_strdup_printf ("Message-ID, and queue id %s in Received:",
                                earlier->queue_id);
  if (same_id)
    return g_strdup ("Message-ID");
  if (stamped)
    return trace_strdup_printf ("queue id %s in Received:", earlier->queue_id);
  return NULL;
}

static gint
by_time (gconstpointer a, gconstpointer b)
{
  const Sighting *x = *(const Sighting *const *) a;
  const Sighting *y = *(const Sighting *const *) b;

  return x->time_us < y->time_us ? -1 : x->time_us > y->time_us;
}

/* Links @later (index @j) to sighting @i, if anything links them. */
static void
link_pair (GPtrArray *sightings, guint i, guint j)
{
  Sighting *later = sightings->pdata[j];
  char *why = evidence (sightings->pdata[i], later);

  if (why == NULL)
    return;
  unite (sightings, i, j);
  if (later->linked == NULL)
    later->linked = why; /* the closest earlier sighting names it */
  else
    g_free (why);
}

/* In time order, each sighting is linked to the last earlier one with
 * its Message-ID, to the 250 of each queue id its Received: fields name,
 * and to the last earlier copy stamped last with the same id: by hash
 * tables, so a capture of many messages is linked in one pass. */
static void
link_sightings (GPtrArray *sightings)
{
  g_autoptr (GHashTable) by_id = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) by_queue_id =
      g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) by_stamp = g_hash_table_new (g_str_hash, g_str_equal);

  g_ptr_array_sort (sightings, by_time);
  for (guint j = 0; j < sightings->len; j++)
    {
      Sighting *sighting = sightings->pdata[j];
      gpointer earlier;

      sighting->group = j;
      if (sighting->message_id != NULL &&
          g_hash_table_lookup_extended (by_id, sighting->message_id, NULL,
                                        &earlier))
        link_pair (sightings, GPOINTER_TO_UINT (earlier), j);
      for (guint k = 0; k < sighting->received_ids->len; k++)
        if (g_hash_table_lookup_extended (
                by_queue_id, sighting->received_ids->pdata[k], NULL, &earlier))
          link_pair (sightings, GPOINTER_TO_UINT (earlier), j);
      if (newest_stamp (sighting) != NULL &&
          g_hash_table_lookup_extended (by_stamp, newest_stamp (sighting), NULL,
                                        &earlier))
        link_pair (sightings, GPOINTER_TO_UINT (earlier), j);
      if (newest_stamp (sighting) != NULL)
        g_hash_table_insert (by_stamp, (gpointer) newest_stamp (sighting),
                             GUINT_TO_POINTER (j));
      if (sighting->message_id != NULL)
        g_hash_table_insert (by_id, sighting->message_id, GUINT_TO_POINTER (j));
      if (sighting->queue_id != NULL)
        g_hash_table_insert (by_queue_id, sighting->queue_id,
                             GUINT_TO_POINTER (j));
    }
}

/* ---- hops ------------------------------------------------------------- */

static void
hop_free (gpointer data)
{
  Hop *hop = data;

  g_free (hop->label);
  g_free (hop->linked);
  g_free (hop->actor);
  g_free (hop->target);
  g_free (hop->stamp);
  g_free (hop);
}

static char *
server_of (const JourneySession *session, const char *fallback)
{
  const char *name = session->server_name;

  if (name == NULL || *name == '\0')
    name = fallback;
  if (name == NULL || *name == '\0')
    return trace_strdup_printf ("the server on port %u", session->server_port);
  return trace_strdup_printf ("%s:%u", name, session->server_port);
}

/* The user a pull names: "(SASL)" and the like stand for a login the
 * tracer could not read. */
static const char *
user_or (const char *user, const char *fallback)
{
  return user != NULL && user[0] != '(' ? user : fallback;
}

/* "<bob@example.org>" or "bob@example.org" -> "bob" (transfer full) */
static char *
local_part (const char *address)
{
  const char *start = address[0] == '<' ? address + 1 : address;

  return g_strndup (start, strcspn (start, "@>"));
}

/* Transient refusals before @hop, since @since, in other sessions to
 * the same server port with the same sender: the attempts that failed. */
static guint
count_retries (GPtrArray *refusals, const Hop *hop, gint64 since)
{
  g_autoptr (GPtrArray) sessions = g_ptr_array_new ();

  for (guint i = 0; i < refusals->len; i++)
    {
      SmtpRefusal *refusal = refusals->pdata[i];
      if (refusal->session == hop->session ||
          refusal->session->server_port != hop->session->server_port ||
          refusal->time_us >= hop->time_us || refusal->time_us < since ||
          (refusal->mail_from != NULL && hop->sighting->mail_from != NULL &&
           strcmp (refusal->mail_from, hop->sighting->mail_from) != 0) ||
          g_ptr_array_find (sessions, refusal->session, NULL))
        continue;
      g_ptr_array_add (sessions, refusal->session);
    }
  return sessions->len;
}

static Hop *
smtp_hop (const Sighting *sighting)
{
  Hop *hop = g_new0 (Hop, 1);

  hop->session = sighting->session;
  hop->time_us = sighting->time_us;
  hop->sighting = sighting;
  /* RFC 5321 §4.4: every server stamps a Received: field; a copy that
   * has none comes from the author's client, one that has some from a
   * server that took it before */
  hop->kind =
      sighting->received_ids->len == 0 ? TRACE_HOP_PUSH : TRACE_HOP_RELAY;
  if (hop->kind == TRACE_HOP_PUSH && sighting->user != NULL)
    hop->actor = g_strconcat (sighting->user, "'s client", NULL);
  else if (hop->kind == TRACE_HOP_PUSH)
    hop->actor = g_strconcat ("the client ",
                              sighting->helo ? sighting->helo : "?", NULL);
  else
    hop->actor = g_strdup (sighting->helo ? sighting->helo : "a server");
  hop->target = server_of (sighting->session, NULL);
  hop->label = sighting->queue_id != NULL
                   ? g_strconcat ("250 queued as ", sighting->queue_id, NULL)
                   : g_strdup ("250");
  hop->linked = g_strdup (sighting->linked);
  return hop;
}

static Hop *
pull_hop (const Sighting *sighting)
{
  Hop *hop = g_new0 (Hop, 1);

  hop->session = sighting->session;
  hop->time_us = sighting->time_us;
  hop->sighting = sighting;
  hop->kind = TRACE_HOP_PULL;
  hop->actor = g_strdup (user_or (sighting->user, "a client"));
  hop->target = g_strdup (
      sighting->session->protocol == TRACE_PROTO_POP3 ? "POP3" : "IMAP");
  hop->label =
      g_strconcat (sighting->how, sighting->deleted ? ", then DELE" : "", NULL);
  hop->linked = g_strdup (sighting->linked);
  return hop;
}

/* "3.3 KiB", with a plain space (g_format_size () puts U+00A0) */
static char *
size_of (guint64 octets)
{
  if (octets < 1024)
    return trace_strdup_printf ("%" G_GUINT64_FORMAT " bytes", octets);
  if (octets < 1024 * 1024)
    return trace_strdup_printf ("%.1f KiB", octets / 1024.0);
  return trace_strdup_printf ("%.1f MiB", octets / (1024.0 * 1024.0));
}

/* Who pushed in an encrypted session: the EHLO before STARTTLS is in
 * clear (RFC 3207 §4). */
static char *
inferred_actor (const JourneySession *session, TraceHopKind kind)
{
  if (session->helo == NULL)
    return g_strdup (kind == TRACE_HOP_PUSH ? "a client" : "a server");
  if (kind == TRACE_HOP_PUSH)
    return trace_strdup_printf ("the client %s", session->helo);
  return g_strdup (session->helo);
}

/* An encrypted SMTP session not yet used, begun at @before or earlier,
 * to a server that did not greet with another name than @by (RFC 5321
 * §4.3.1: the greeting names the host that stamps "by" in Received:):
 * the latest one. */
static JourneySession *
encrypted_smtp_before (TraceJourneys *journeys, gint64 before, const char *by)
{
  JourneySession *best = NULL;

  for (guint i = 0; i < journeys->sessions->len; i++)
    {
      JourneySession *session = journeys->sessions->pdata[i];
      if (session->protocol != TRACE_PROTO_SMTP || !session->encrypted ||
          session->inferred || session->first_us > before ||
          (session->server_name != NULL && *by != '\0' &&
           g_ascii_strcasecmp (session->server_name, by) != 0))
        continue;
      if (best == NULL || session->first_us > best->first_us ||
          (session->first_us == best->first_us &&
           session->stream > best->stream))
        best = session;
    }
  return best;
}

/* The copy of @group that went through the most servers. */
static const Sighting *
longest_trail (GPtrArray *group)
{
  const Sighting *best = group->pdata[0];

  for (guint i = 1; i < group->len; i++)
    {
      const Sighting *sighting = group->pdata[i];
      if (sighting->received_ids->len > best->received_ids->len)
        best = sighting;
    }
  return best;
}

static gboolean
queue_id_seen (GPtrArray *group, const char *id)
{
  for (guint i = 0; i < group->len; i++)
    if (g_strcmp0 (((Sighting *) group->pdata[i])->queue_id, id) == 0)
      return TRUE;
  return FALSE;
}

/* The first sighting of @group whose copy carries Received: id @id. */
static gint64
first_stamped (GPtrArray *group, const char *id)
{
  for (guint i = 0; i < group->len; i++)
    {
      Sighting *sighting = group->pdata[i];
      if (has_string (sighting->received_ids, id))
        return sighting->time_us;
    }
  return G_MAXINT64;
}

/* Each Received: field whose id no 250 in the capture gave is a hop
 * that was not read: encrypted, if an encrypted SMTP session was under
 * way before the next copy carried the stamp. */
static void
infer_hops (TraceJourneys *journeys, GPtrArray *group, GPtrArray *hops)
{
  const Sighting *trail = longest_trail (group);

  for (guint k = trail->received_ids->len; k-- > 0;)
    {
      const char *id = trail->received_ids->pdata[k];
      const char *by = trail->received_by->pdata[k];
      JourneySession *session;
      g_autofree char *size = NULL;
      Hop *hop;

      if (*id == '\0' || queue_id_seen (group, id))
        continue;
      session = encrypted_smtp_before (journeys, first_stamped (group, id), by);
      if (session == NULL)
        continue;
      session->inferred = TRUE;
      size = size_of (session->octets);
      hop = g_new0 (Hop, 1);
      hop->session = session;
      hop->time_us = session->first_us;
      hop->inferred = TRUE;
      hop->kind =
          k + 1 == trail->received_ids->len ? TRACE_HOP_PUSH : TRACE_HOP_RELAY;
      hop->actor = inferred_actor (session, hop->kind);
      hop->target = server_of (session, by);
      hop->label = trace_strdup_printf (
          "inferred: an encrypted session of %s at that time", size);
      hop->linked =
          trace_strdup_printf ("Received: by %s id %s, and the time", by, id);
      hop->stamp = g_strdup (id);
      g_ptr_array_add (hops, hop);
    }
}

static gint
hop_by_time (gconstpointer a, gconstpointer b)
{
  const Hop *x = *(const Hop *const *) a;
  const Hop *y = *(const Hop *const *) b;

  return x->time_us < y->time_us ? -1 : x->time_us > y->time_us;
}

/* The last delivery by SMTP of @hops at or before @time_us, to a
 * recipient whose local part is @user; NULL if none. */
static const Hop *
delivery_before (GPtrArray *hops, gint64 time_us, const char *user)
{
  g_autofree char *wanted = local_part (user);

  for (guint i = hops->len; i-- > 0;)
    {
      const Hop *hop = hops->pdata[i];
      if (hop->sighting == NULL || hop->sighting->kind != SIGHTING_SMTP ||
          hop->time_us > time_us)
        continue;
      for (guint r = 0; r < hop->sighting->recipients->len; r++)
        {
          g_autofree char *local =
              local_part (hop->sighting->recipients->pdata[r]);
          if (g_ascii_strcasecmp (local, wanted) == 0)
            return hop;
        }
    }
  return NULL;
}

/* The same session fetched message @number later: the pushed EXISTS was
 * that message's arrival (RFC 9051 §7.4.1: "* N EXISTS" makes N the
 * number of the newest message). */
static gboolean
fetched_later (GPtrArray *hops, const IdlePush *push)
{
  for (guint i = 0; i < hops->len; i++)
    {
      const Hop *hop = hops->pdata[i];
      if (hop->sighting != NULL && hop->sighting->kind == SIGHTING_PULL &&
          hop->session == push->session &&
          hop->sighting->number == push->number &&
          hop->time_us >= push->time_us)
        return TRUE;
    }
  return FALSE;
}

/* Each EXISTS pushed during IDLE goes to the journey delivered last,
 * before it, to a recipient who is the IMAP user; a journey whose
 * message that session then fetched by the pushed number comes first.
 * (RFC 9051 §7.4.1: the mailbox grew; the push names no message.) */
static void
assign_pushes (TraceJourneys *journeys, GPtrArray *all_hops)
{
  for (guint p = 0; p < journeys->pushes->len; p++)
    {
      IdlePush *push = journeys->pushes->pdata[p];
      const Hop *delivery = NULL;
      GPtrArray *target = NULL;
      gboolean by_number = FALSE; /* target fetched the pushed number */
      Hop *hop;

      if (user_or (push->user, NULL) == NULL)
        continue;
      for (guint j = 0; j < all_hops->len; j++)
        {
          const Hop *found =
              delivery_before (all_hops->pdata[j], push->time_us, push->user);
          gboolean fetched =
              found != NULL && fetched_later (all_hops->pdata[j], push);
          if (found != NULL &&
              (delivery == NULL || (fetched && !by_number) ||
               (fetched == by_number && found->time_us > delivery->time_us)))
            {
              delivery = found;
              target = all_hops->pdata[j];
              by_number = fetched;
            }
        }
      if (delivery == NULL ||
          push->time_us - delivery->time_us > IDLE_PUSH_MAX_US)
        continue;
      hop = g_new0 (Hop, 1);
      hop->session = push->session;
      hop->time_us = push->time_us;
      hop->kind = TRACE_HOP_IDLE_PUSH;
      hop->actor = g_strdup (push->user);
      hop->target = g_strdup ("IMAP");
      hop->label = trace_strdup_printf (
          "pushed * %u EXISTS %.3f s after delivery", push->number,
          (push->time_us - delivery->time_us) / (double) G_USEC_PER_SEC);
      hop->linked = trace_strdup_printf (
          "recipient %s is the IMAP user, the time%s", push->user,
          by_number ? ", and the FETCH of that number after it" : "");
      g_ptr_array_add (target, hop);
    }
}

/* A hop seen first, after an inferred one: its copy carries the stamp
 * the inferred hop stands for, and that is the link. */
static void
link_to_inferred (GPtrArray *hops)
{
  for (guint i = 1; i < hops->len; i++)
    {
      Hop *hop = hops->pdata[i];
      if (hop->linked != NULL || hop->sighting == NULL)
        continue;
      for (guint k = i; k-- > 0;)
        {
          const Hop *inferred = hops->pdata[k];
          if (inferred->stamp != NULL &&
              has_string (hop->sighting->received_ids, inferred->stamp))
            {
              hop->linked = trace_strdup_printf (
                  "Received: id %s, the inferred hop's", inferred->stamp);
              break;
            }
        }
    }
}

/* The retries of SMTP hops go into their label. */
static void
add_retries (TraceJourneys *journeys, GPtrArray *hops)
{
  for (guint i = 0; i < hops->len; i++)
    {
      Hop *hop = hops->pdata[i];
      gint64 since = i > 0 ? ((Hop *) hops->pdata[i - 1])->time_us : 0;
      guint retries;
      char *label;

      if (hop->sighting == NULL || hop->sighting->kind != SIGHTING_SMTP)
        continue;
      retries = count_retries (journeys->refusals, hop, since);
      if (retries == 0)
        continue;
      label = trace_strdup_printf ("%s, after %u %s", hop->label, retries,
                                   retries == 1 ? "retry" : "retries");
      g_free (hop->label);
      hop->label = label;
    }
}

/* The sightings of each group, in time order; one GPtrArray per group. */
static GPtrArray *
collect_groups (GPtrArray *sightings)
{
  GPtrArray *groups =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autofree gint *slot = g_new (gint, MAX (sightings->len, 1));

  for (guint i = 0; i < sightings->len; i++)
    {
      guint root = group_of (sightings, i);
      if (root == i)
        {
          slot[i] = (gint) groups->len;
          g_ptr_array_add (groups, g_ptr_array_new ());
        }
      g_ptr_array_add (groups->pdata[slot[root]], sightings->pdata[i]);
    }
  return groups;
}

static GPtrArray *
hops_of (TraceJourneys *journeys, GPtrArray *group)
{
  GPtrArray *hops = g_ptr_array_new_with_free_func (hop_free);

  for (guint i = 0; i < group->len; i++)
    {
      const Sighting *sighting = group->pdata[i];
      g_ptr_array_add (hops, sighting->kind == SIGHTING_SMTP
                                 ? smtp_hop (sighting)
                                 : pull_hop (sighting));
    }
  infer_hops (journeys, group, hops);
  g_ptr_array_sort (hops, hop_by_time);
  return hops;
}

void
trace_journeys_finish (TraceJourneys *journeys)
{
  g_autoptr (GPtrArray) groups = NULL;
  g_autoptr (GPtrArray) all_hops = NULL;

  g_return_if_fail (!journeys->finished);
  link_sightings (journeys->sightings);
  groups = collect_groups (journeys->sightings);
  all_hops =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  for (guint i = 0; i < groups->len; i++)
    g_ptr_array_add (all_hops, hops_of (journeys, groups->pdata[i]));
  assign_pushes (journeys, all_hops);
  for (guint i = 0; i < groups->len; i++)
    {
      GPtrArray *hops = all_hops->pdata[i];
      g_ptr_array_sort (hops, hop_by_time);
      add_retries (journeys, hops);
      link_to_inferred (hops);
      trace_journey_write (journeys, groups->pdata[i], hops);
    }
  journeys->finished = TRUE;
}
