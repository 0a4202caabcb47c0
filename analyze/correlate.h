/*
 * correlate.h - links each slow reply to the DNS queries and ident probes
 * its server's machine made while the client waited, by name and address.
 *
 * The correlator sits between the analyzers and the store: every event is
 * passed downstream unchanged; for every transaction whose latency (or,
 * for a reply never sent, whose wait) reaches the slow threshold it later
 * emits EV_CAUSE events (and one EV_DIAGNOSIS).
 *
 * When: a slow reply is held until every lookup and probe that may have
 * overlapped its wait is final (answered, refused, or past the unanswered
 * timeout): the caller says, with every corr_advance(), before which time
 * every lookup and probe has been handed in.  Nothing depends on a fixed
 * hold time, so the result does not depend on traffic rate or capture
 * length.
 *
 * Big messages (issue 17): the parsers report every message of 1 MiB or
 * more as it goes (EV_TRANSFER, swallowed here).  A wait that no lookup or
 * probe explains, on a machine that a message of at least big_bytes was
 * going to or from meanwhile (from its first byte to the reply to its end),
 * gets causes of kind big-message naming those sessions instead of none.
 * A message counts as big once big_bytes of it were seen by the time the
 * wait is judged.
 *
 * What is kept: the queries, probes and mail connections that a held or
 * still open wait may overlap (the caller says when the oldest open wait
 * began), and the answers of PTR and MX lookups (names learned for the
 * relations).  Each store has a cap; when a cap forces out a record a wait
 * may still need, that is counted (corr_stats) and every wait it could
 * concern says in its diagnosis that its evidence was not all kept,
 * instead of naming a cause it cannot know.
 *
 * Bounces (issue 17, bounce.h): an outbound delivery's EV_SESSION that
 * bounces recent inbound mail goes on as a copy with bounce_domain,
 * bounce_origin and bounce_session_id filled; every other event unchanged.
 *
 * Whose lookups: only those sent by the machine that served the session
 * (hosts.h), or, as upstream hops, by a resolver that machine asked.  A
 * session on another host, with the same client at the same time, never
 * gets them.
 */
#ifndef MXLAG_CORRELATE_H
#define MXLAG_CORRELATE_H

#include <stdbool.h>
#include <stdint.h>

#include "../capture/addr.h"
#include "hosts.h"
#include "proto.h"

#define CORR_BIG_BYTES_DEFAULT 10000000 /* 10 MB: a big message (issue 17) */

struct corr_cfg {
	double slow_ms;         /* default 1000 */
	uint64_t unanswered_ns; /* an unanswered query/probe counts as outstanding
				   this long after its last send; default 30 s */
	uint32_t max_dns;       /* queries kept, default 262144 */
	uint32_t max_ident;     /* probes kept, default 65536 */
	uint32_t max_conn;      /* mail connections remembered, default 16384 */
	uint32_t max_held;      /* slow replies waiting for their evidence, default 16384 */
	uint32_t max_names;     /* learned PTR/MX answers, default 65536 */
	uint64_t big_bytes;     /* a message this big is a big message, default 10,000,000 */
	uint32_t max_xfers;     /* messages of 1 MiB or more remembered, default 256 */
};

struct corr_stats {
	uint64_t settled;          /* slow replies given causes */
	uint64_t held_forced;      /* ... settled early because max_held was reached */
	uint64_t dropped_dns;      /* queries dropped while a wait might still need them */
	uint64_t dropped_ident;    /* probes likewise */
	uint64_t incomplete;       /* slow replies whose evidence was not all kept */
	uint64_t machines_merged;  /* two host addresses found to be one machine */
	uint64_t dropped_xfers;    /* big-message records dropped while a wait might need them */
	uint32_t peak_dns, peak_ident, peak_held;
	/* issue 17 (bounce.h): deliveries told to bounce inbound mail; entries of
	 * the bounce tables now and forced out by their caps (senders, MX, addresses) */
	uint64_t bounces;
	uint32_t bounce_kept[3];
	uint64_t bounce_out[3];
};

struct corr;

/*
 * cfg may be NULL for defaults.  hosts (the host model, owned by the
 * caller) must outlive the correlator.  Events go on to out (new ids from
 * out->ids).
 */
struct corr *corr_new(const struct corr_cfg *cfg, struct hosts *hosts, const struct mx_sink *out);
/* An mx_emit_fn: feed every analyzer event here (sink = the corr). */
void corr_event(void *corr, const struct mx_event *ev);
/*
 * A mail connection was opened (first SYN, or first packet seen): what a
 * diagnosis says of the host's own connections and how host addresses are
 * found to be one machine.  Returns a handle for corr_conn_close().
 */
uint64_t corr_conn_open(struct corr *c, const struct mx_endpoint *cli,
			const struct mx_endpoint *srv, uint64_t ts_ns);
/* Its end (last packet) and outcome; an unknown or forgotten handle is ignored. */
void corr_conn_close(struct corr *c, uint64_t handle, uint64_t end_ns, enum mx_outcome outcome);
/*
 * Packet time moved to now_ns.  final_ns: every query and probe that began
 * before it has been handed in (its event emitted); open_ns: the oldest
 * wait still open (a command without its reply), 0 = none.  Settles the
 * held replies whose evidence is complete and forgets what no wait needs.
 */
void corr_advance(struct corr *c, uint64_t now_ns, uint64_t final_ns, uint64_t open_ns);
/* Settles everything (end of input: everything is final). */
void corr_finish(struct corr *c);
const struct corr_stats *corr_stats(const struct corr *c);
/* issue 17: the bounce tables (bounce.h) in full */
struct bounce_stats;
const struct bounce_stats *corr_bounce_stats(const struct corr *c);
void corr_free(struct corr *c);

/* Writes the reverse-lookup name of a ("200.2.0.192.in-addr.arpa", ip6.arpa nibbles). */
void corr_arpa_name(const struct mx_addr *a, char *buf, unsigned long n);

#endif
