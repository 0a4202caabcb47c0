/*
 * flow.h - TCP flow table and per-direction stream reassembly (RFC 9293).
 *
 * The table turns decoded TCP segments into ordered byte streams and
 * connection events and hands them to a consumer through struct cap_ops.
 * Guarantees to the consumer:
 *  - every in-order byte is delivered exactly once, with the timestamp of
 *    the segment that carried it; retransmissions and overlaps are dropped
 *    (counted), out-of-order segments are buffered (bounded) and delivered
 *    when the hole fills;
 *  - a hole that cannot be filled (buffer cap, the peer acknowledged past
 *    it, or the flow closed with data beyond it) is reported through gap()
 *    with the number of bytes lost, never silently glued;
 *  - sequence numbers wrap correctly; a flow picked up mid-stream (no SYN)
 *    starts at its first payload byte;
 *  - for one segment, data() comes before the FIN/RST event it carried;
 *  - close() is called exactly once per opened flow, after which the flow
 *    pointer is invalid.
 * The client is the SYN sender; without a SYN, the SYN-ACK receiver, else
 * the side whose port is not a well-known one (< 1024), else the first
 * sender.  Timeouts run on packet time, so offline runs are deterministic.
 */
#ifndef MXLAG_FLOW_H
#define MXLAG_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "decode.h"
#include "stats.h"

enum cap_dir {
	DIR_C2S = 0, /* client -> server */
	DIR_S2C = 1,
};

enum cap_tcp_ev {
	TEV_SYN,         /* first SYN of the client */
	TEV_SYN_RETX,    /* a repeated SYN (same ISN) */
	TEV_SYNACK,      /* server's SYN-ACK (first one) */
	TEV_ESTABLISHED, /* client's ACK completing the handshake */
	TEV_FIN,         /* FIN from direction d, in stream order */
	TEV_RST,         /* RST from direction d */
};

enum cap_close {
	CLOSE_FIN,     /* both sides sent FIN */
	CLOSE_RST,     /* reset */
	CLOSE_IDLE,    /* idle timeout */
	CLOSE_EVICTED, /* flow table full: oldest idle flow evicted */
	CLOSE_END,     /* end of input */
};

struct cap_flow {
	uint64_t id; /* 1, 2, ... in order of first packet */
	uint16_t vlan; /* 802.1Q VID of the first packet; not part of the key */
	struct mx_endpoint cli, srv;
	bool saw_syn, saw_synack, established;
	uint32_t syn_count;     /* client SYNs including retransmissions */
	uint64_t first_ns, last_ns;
	uint64_t syn_ns;        /* first client SYN, 0 = none seen */
	uint64_t last_syn_ns;   /* last client SYN */
	uint64_t synack_ns;     /* first SYN-ACK, 0 = none */
	uint64_t established_ns; /* handshake-completing ACK, 0 = none */
	uint64_t fin_ns[2];     /* FIN per direction, 0 = none */
	uint64_t rst_ns;        /* 0 = none */
	int rst_dir;            /* direction of the RST, -1 = none */
	uint64_t bytes[2];      /* payload bytes delivered per direction */
	bool want_packets;      /* consumer: call ops->packet for each segment */
	void *user;             /* consumer's per-flow state */
};

struct cap_ops {
	void *ctx;
	/* All callbacks are optional. */
	void (*open)(void *ctx, struct cap_flow *f, uint64_t ts_ns);
	void (*packet)(void *ctx, struct cap_flow *f, enum cap_dir d, const struct decoded *pkt);
	void (*data)(void *ctx, struct cap_flow *f, enum cap_dir d, const uint8_t *p, size_t n,
		     uint64_t ts_ns);
	void (*gap)(void *ctx, struct cap_flow *f, enum cap_dir d, uint64_t lost, uint64_t ts_ns);
	void (*event)(void *ctx, struct cap_flow *f, enum cap_tcp_ev ev, enum cap_dir d,
		      uint64_t ts_ns);
	void (*close)(void *ctx, struct cap_flow *f, enum cap_close why, uint64_t ts_ns);
	/* UDP datagrams (not flow-tracked) */
	void (*datagram)(void *ctx, const struct decoded *pkt);
};

struct flow_limits {
	uint32_t max_flows;     /* default 131072 */
	uint64_t idle_ns;       /* established/mid-stream flows, default 600 s */
	uint64_t syn_idle_ns;   /* flows without SYN-ACK or after FIN/RST, default 75 s */
	uint32_t ooo_max_bytes; /* buffered out-of-order bytes per direction, default 256 KiB */
	uint32_t ooo_max_segs;  /* buffered out-of-order segments per direction, default 64 */
};

struct flowtab;

/* lim may be NULL for defaults; ops and st must outlive the table. */
struct flowtab *flowtab_new(const struct flow_limits *lim, const struct cap_ops *ops,
			    struct cap_stats *st);
/* Feeds one decoded TCP segment (pkt->l4proto == 6). */
void flowtab_tcp(struct flowtab *t, const struct decoded *pkt);
/* Closes flows idle past their timeout (CLOSE_IDLE). */
void flowtab_expire(struct flowtab *t, uint64_t now_ns);
/* Closes every flow (CLOSE_END), delivering or gap-reporting buffered data. */
void flowtab_finish(struct flowtab *t, uint64_t now_ns);
size_t flowtab_count(const struct flowtab *t);
/* Frees the table; flows still open get no callbacks. */
void flowtab_free(struct flowtab *t);

#endif
