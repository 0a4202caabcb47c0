/*
 * diagnose.h - the words of a diagnosis and its remedy.
 *
 * The correlator decides which lookups and probes explain a slow reply;
 * this module only says it: one diagnosis sentence naming each cause with
 * its share of the wait, and one remedy per kind of cause, in the terms of
 * DESIGN.md's incidents.  Nothing here looks at packets or time windows.
 */
#ifndef MXLAG_DIAGNOSE_H
#define MXLAG_DIAGNOSE_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"

/* One presented cause, as the diagnosis names it. */
struct diag_cause {
	enum mx_cause_kind kind; /* MXC_DNS or MXC_IDENT */
	enum mx_relation rel;
	double overlap_ms;
	/* dns */
	uint16_t qtype;
	const char *qname;
	struct mx_addr resolver;
	enum mx_dns_outcome dns_outcome;
	int upstream, upstream_unanswered; /* the resolver's own queries behind it */
	/* ident */
	struct mx_addr peer;
	enum mx_ident_outcome ident_outcome;
};

/* The host's own mail connection that overlapped a wait with no lookups. */
struct diag_conn {
	struct mx_endpoint server;
	enum mx_outcome outcome; /* unanswered, refused, or anything else: open */
	double overlap_ms;
};

/* A big message on the wire on the same machine during a wait (issue 17). */
struct diag_big {
	uint64_t bytes;      /* seen so far (all of it when done) */
	double on_wire_s;    /* its first to its latest byte */
	double overlap_ms;   /* of the wait */
	struct mx_addr peer; /* the other end: the sender of an inbound message, else the receiver */
	bool own;            /* the waiting session's own message */
	bool outbound;       /* the host sends it (its delivery, a POP3 retrieval) */
	bool done;           /* its last byte was seen */
	uint64_t session_ref; /* its session */
};

struct diag_wait {
	const char *command;
	double wait_ms;
	bool replied;            /* false: the wait ended without a reply */
	enum mx_outcome outcome; /* of the reply (client-abort, server-close, ...) */
	bool outbound;           /* the mail host is the client: the remote server waited */
	enum mx_software software; /* of the session's server: the remedies name its settings */
	struct mx_addr server;
	/* related causes to present, any order (the text puts the largest first) */
	const struct diag_cause *causes;
	int ncauses;
	/* nothing related: the host's lookup, related to no session known, that
	   covered most of the wait (NULL = none) */
	const struct diag_cause *other;
	const struct diag_conn *conn; /* NULL = none */
	bool incomplete; /* some lookups or probes of that time were not kept (caps) */
	double minor_ms; /* the largest overlap of a related lookup too short to explain it */
	/* nothing related, but big messages on the same machine meanwhile, the
	   largest overlap first */
	const struct diag_big *big;
	int nbig;
};

/*
 * Fills d->diagnosis and d->remedy (d->txn_id is left to the caller): the
 * remedy of each cause (diag_remedy()) once, numbered "(1) ...; (2) ..."
 * when there are several.  Returns the remedy, a static string, when no
 * cause is presented (the none cause's own remedy), else NULL.
 */
const char *diag_compose(const struct diag_wait *w, struct mx_diagnosis *d);

/*
 * The remedy of one cause, a static string, naming the settings of the
 * server software sw (MXS_NONE, MXS_UNKNOWN: says the software was not
 * recognized and gives the generic fix).  MXR_UNRELATED and MXR_NONE: look
 * locally.
 */
const char *diag_remedy(enum mx_cause_kind kind, enum mx_relation r, enum mx_software sw);

#endif
