/*
 * correlate.h - links each slow reply to the DNS queries and ident probes
 * of the mail host that overlapped the client's wait, by name and address.
 *
 * The correlator sits between the analyzers and the store: every event is
 * passed downstream unchanged; for every transaction whose latency (or,
 * for a reply never sent, whose wait) reaches the slow threshold it later
 * emits EV_CAUSE events (and one EV_DIAGNOSIS).  A slow transaction is held
 * until packet time has moved hold_ns past the end of its wait, so that
 * queries and probes that overlapped it have finished; corr_finish()
 * settles everything still held.  Memory is bounded: the windows of recent
 * queries and probes and the held transactions are capped rings.
 */
#ifndef MXLAG_CORRELATE_H
#define MXLAG_CORRELATE_H

#include <stdbool.h>
#include <stdint.h>

#include "../capture/addr.h"
#include "proto.h"

#define CORR_MAX_HOSTS 64

struct corr_cfg {
	double slow_ms;           /* default 1000 */
	uint64_t hold_ns;         /* default 120 s */
	uint64_t unanswered_ns;   /* an unanswered query/probe counts as outstanding
				     this long after its last send; default 30 s */
	uint32_t max_dns;         /* window of recent queries, default 16384 */
	uint32_t max_ident;       /* window of recent probes, default 4096 */
	uint32_t max_held;        /* slow transactions awaiting settlement, default 2048 */
};

struct corr;

/* cfg may be NULL for defaults.  Events go on to out (with new ids from out->ids). */
struct corr *corr_new(const struct corr_cfg *cfg, const struct mx_sink *out);
/* An mx_emit_fn: feed every analyzer event here (sink = the corr). */
void corr_event(void *corr, const struct mx_event *ev);
/* The mail host's own addresses (learned or given with --host). */
void corr_add_host(struct corr *c, const struct mx_addr *a);
bool corr_is_host(const struct corr *c, const struct mx_addr *a);
/* Settles held transactions whose hold time has passed. */
void corr_advance(struct corr *c, uint64_t now_ns);
/* Settles everything (end of input). */
void corr_finish(struct corr *c);
void corr_free(struct corr *c);

/* Writes the reverse-lookup name of a ("200.2.0.192.in-addr.arpa", ip6.arpa nibbles). */
void corr_arpa_name(const struct mx_addr *a, char *buf, unsigned long n);

#endif
