/* SPDX-License-Identifier: MIT
 * trace-journey-private.h: what the two files of the journey share:
 * trace-journey.c (what the decoders and sessions report, the read API),
 * trace-journey-link.c (linking the sightings into hops) and
 * trace-journey-story.c (the hops in words, the journeys section and the
 * JSON events).
 */
#pragma once

#include "trace-journey.h"

G_BEGIN_DECLS

/* A session, as the journey needs it. */
typedef struct
{
  guint stream;
  TraceProtocol protocol;
  gint64 first_us;
  gint64 last_us;
  guint64 octets;     /* both directions, TLS records included */
  gboolean encrypted; /* TLS that was not decrypted */
  guint16 server_port;
  char *server_name;    /* from the SMTP greeting (RFC 5321 §4.3.1), or NULL */
  char *helo;           /* SMTP: the client's EHLO/HELO name, or NULL */
  char *retr;           /* POP3: the argument of the RETR being answered */
  gboolean inferred;    /* an inferred hop stands for it already */
  GPtrArray *sightings; /* its Sightings (not owned), for DELE */
  gpointer fetched;     /* IMAP: the Sighting of the FETCH literal whose
                         * response is not complete yet, or NULL */
} JourneySession;

typedef enum
{
  SIGHTING_SMTP, /* a 2xx to the end of the text */
  SIGHTING_PULL, /* RETR, TOP or a FETCH literal */
} SightingKind;

/* One message seen once: a journey is a set of sightings. */
typedef struct
{
  SightingKind kind;
  JourneySession *session; /* (transfer none) */
  gint64 time_us;
  char *message_id;
  char *subject;
  guint64 size;
  GPtrArray *received_ids; /* the "id" of each Received:, newest first */
  GPtrArray *received_by;  /* its "by" host, same order ("" if none) */
  char *queue_id;          /* SMTP: what the 250 named, or NULL */
  char *helo;
  char *user; /* SMTP AUTH, POP3 USER, IMAP LOGIN */
  char *mail_from;
  GPtrArray *recipients; /* "<bob@example.org>" */
  char *how;             /* pull: "RETR 1", "FETCH 1 (UID 3)" */
  guint32 number;        /* IMAP: the message number it was fetched by */
  gboolean deleted;      /* POP3: DELE of it got +OK */
  guint group;           /* union-find parent, an index */
  char *linked;          /* what links it to an earlier sighting */
} Sighting;

/* A transient refusal (4xx) in an SMTP transaction: a retry follows. */
typedef struct
{
  JourneySession *session;
  gint64 time_us;
  guint code;
  char *mail_from; /* or NULL if MAIL itself was refused */
} SmtpRefusal;

/* "* N EXISTS" pushed during IDLE (RFC 9051 §6.3.13, §7.4.1). */
typedef struct
{
  JourneySession *session;
  gint64 time_us;
  guint32 number;
  char *user;
} IdlePush;

struct _TraceJourney
{
  char *message_id;
  char *subject;
  GArray *hops;   /* TraceJourneyHop, time order */
  GString *story; /* the ladder's paragraph */
};

struct _TraceJourneys
{
  GPtrArray *sessions;  /* JourneySession, in order of first report */
  GPtrArray *sightings; /* Sighting */
  GPtrArray *refusals;  /* SmtpRefusal */
  GPtrArray *pushes;    /* IdlePush */
  GPtrArray *journeys;  /* TraceJourney, once finished */
  gboolean finished;
};

/* trace-journey-link.c: a hop being written: the story's clause and what the
 * read API gives. */
typedef struct
{
  const JourneySession *session;
  TraceHopKind kind;
  gint64 time_us;
  gboolean inferred;
  char *label;
  char *linked;
  char *actor;              /* "alice's client", "mx.example.test", "carol" */
  char *target;             /* "mx.example.test:2587", or the protocol */
  const Sighting *sighting; /* or NULL (inferred, IDLE) */
  char *stamp;              /* inferred: the Received: id it stands for */
} Hop;

/* trace-journey-story.c: @group's journey (its Sightings, time order)
 * with @hops (Hop, time order) as its hops and its story. */
void trace_journey_write (TraceJourneys *journeys,
                          GPtrArray *group,
                          GPtrArray *hops);

/* The session's record, made on first use (transfer none). */
JourneySession *trace_journey_session_get (TraceJourneys *journeys,
                                           TraceSession *session);
/* A new, empty journey (owned by @journeys). */
TraceJourney *trace_journey_add (TraceJourneys *journeys);
/* Appends a hop; @label and @linked are copied. */
void trace_journey_add_hop (TraceJourney *journey,
                            const JourneySession *session,
                            TraceHopKind kind,
                            gint64 time_us,
                            gboolean inferred,
                            const char *label,
                            const char *linked);

G_END_DECLS
