/*
 * capture.h - the capture pipeline: packets in, streams/datagrams/events
 * out through struct cap_ops.  Knows nothing about mail.
 *
 * Copies of one IP packet seen twice within a few milliseconds (a switch's
 * mirror port, dedup.h) are dropped before reassembly and flow tracking,
 * counted in dup.span_duplicates.
 *
 * One struct capture per analysis run; no global state.
 */
#ifndef MXLAG_CAPTURE_H
#define MXLAG_CAPTURE_H

#include "decode.h"
#include "dedup.h"
#include "flow.h"
#include "source.h"
#include "stats.h"

struct capture_cfg {
	struct decode_limits dec;
	struct flow_limits flow;
	struct dedup_limits dedup;
};

struct capture;

/* cfg may be NULL (defaults); ops must outlive the capture. */
struct capture *capture_new(const struct capture_cfg *cfg, const struct cap_ops *ops);
/* Decodes and dispatches one packet; runs timeouts on packet time. */
void capture_packet(struct capture *c, const struct pkt *p);
/* Flushes all state at the end of input (flows closed with CLOSE_END). */
void capture_finish(struct capture *c);
/* Latest packet time seen (ns). */
uint64_t capture_now(const struct capture *c);
struct cap_stats *capture_stats(struct capture *c);
void capture_free(struct capture *c);

#endif
