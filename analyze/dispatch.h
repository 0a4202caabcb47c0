/*
 * dispatch.h - the analyzer side of the capture interface: decides which
 * parser a flow gets (well-known server ports first, then nDPI plus our own
 * greeting probe), runs the SMTP/POP3/DNS/ident analyzers, learns the mail
 * host's addresses and feeds every event into the correlator.
 */
#ifndef MXLAG_DISPATCH_H
#define MXLAG_DISPATCH_H

#include <stdint.h>
#include <stdio.h>

#include "../capture/flow.h"
#include "correlate.h"
#include "hosts.h"
#include "proto.h"

struct dispatch_cfg {
	struct corr_cfg corr;
	uint64_t dns_timeout_ns; /* unanswered after this, default 30 s */
	uint64_t dns_retry_ns;   /* retransmissions fold within this, default 15 s */
	int use_ndpi;            /* classify flows on other ports with nDPI (default on) */
	/* SMTP/POP3 sessions analyzed at once (a few KiB each); a mail flow
	   opened beyond this is counted in sessions_over_cap and not analyzed.
	   0 = DISPATCH_MAX_SESSIONS */
	uint32_t max_sessions;
	/* --events: every analyzer event as one JSON line here (NULL = off) */
	FILE *events_out;
};

#define DISPATCH_MAX_SESSIONS 8192

struct dispatch_stats {
	uint64_t sessions, txns, dns_queries, ident_probes, causes;
	uint64_t sessions_over_cap; /* mail flows left out: max_sessions were open */
	uint32_t max_sessions;      /* the cap in force (the configured one or the default) */
	uint64_t ndpi_flows, ndpi_packets, ndpi_detected;
	uint64_t tls_claimed; /* lookups tied to an encrypted wait by timing alone */
	uint64_t dns_reowned; /* lookups given to another session when resent (dns_reowner) */
};

struct dispatch;

/*
 * Events end up at out (the store, usually); cfg may be NULL.  The ops
 * returned by dispatch_ops() are what capture_new() wants.
 */
struct dispatch *dispatch_new(const struct dispatch_cfg *cfg, mx_emit_fn out, void *out_ctx);
const struct cap_ops *dispatch_ops(struct dispatch *d);
/* One --host specification (hosts.h); 0, or -1 with a message in err. */
int dispatch_add_host(struct dispatch *d, const char *spec, char *err, size_t errlen);
/* The host model (valid until dispatch_free). */
struct hosts *dispatch_hosts(struct dispatch *d);
/* Timeouts on packet time: call about once per second of capture time. */
void dispatch_tick(struct dispatch *d, uint64_t now_ns);
/* End of input, after capture_finish(): settles DNS and correlation. */
void dispatch_finish(struct dispatch *d, uint64_t now_ns);
const struct dispatch_stats *dispatch_stats(const struct dispatch *d);
/* The correlator's figures (held, dropped, merged machines). */
const struct corr_stats *dispatch_corr_stats(const struct dispatch *d);
void dispatch_free(struct dispatch *d);

#endif
