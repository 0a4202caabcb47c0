/*
 * decode.h - link layer, IPv4/IPv6 (with fragment reassembly) and the
 * TCP/UDP headers.
 *
 * Link types: Ethernet (+802.1Q/802.1ad tag stacks), Linux cooked v1/v2,
 * raw IP (DLT_RAW, DLT_IPV4, DLT_IPV6), BSD loopback (DLT_NULL, DLT_LOOP).
 * RFC 791 (IPv4), RFC 8200 (IPv6), RFC 793/9293 (TCP), RFC 768 (UDP).
 *
 * The decoder keeps a bounded fragment table; everything else is
 * stateless.  Every anomaly is counted in the cap_stats it was given.
 */
#ifndef MXLAG_DECODE_H
#define MXLAG_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "bview.h"
#include "source.h"
#include "stats.h"

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10
#define TCPF_URG 0x20

struct decoded {
	uint64_t ts_ns;
	uint16_t vlan; /* outermost 802.1Q VID, 0 = untagged */
	struct mx_addr src, dst;
	uint8_t l4proto; /* 6 TCP, 17 UDP; other protocols are not returned */
	uint16_t sport, dport;
	/* TCP only */
	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint16_t win;
	/* L4 payload actually captured (clamped to caplen and IP length) */
	struct bview payload;
	/* payload length the IP header announces (>= payload.len when snapped) */
	uint32_t payload_wirelen;
	/* the whole IP packet as captured (for nDPI) */
	struct bview l3;
};

enum decode_rc {
	DEC_OK = 0,   /* *out is a TCP or UDP packet */
	DEC_SKIP,     /* not IP / not TCP-UDP / broken: counted, nothing to do */
	DEC_PENDING,  /* a fragment was stored, datagram not complete yet */
};

struct decode_limits {
	uint32_t frag_max_datagrams; /* concurrent datagrams in reassembly, default 1024 */
	uint32_t frag_max_bytes;     /* total buffered fragment bytes, default 8 MiB */
	uint64_t frag_timeout_ns;    /* default 30 s (RFC 8200 suggests 60) */
};

struct decoder;

/* limits may be NULL for defaults; stats must outlive the decoder. */
struct decoder *decoder_new(const struct decode_limits *limits, struct cap_stats *stats);
/*
 * Decodes one packet.  On DEC_OK the views in *out point into pkt->data or,
 * for a reassembled datagram, into a decoder-owned buffer valid until the
 * next decode_packet() call.
 */
enum decode_rc decode_packet(struct decoder *d, const struct pkt *pkt, struct decoded *out);
/*
 * A filter sees every IP packet whose IP header checked out, before
 * fragment reassembly (each fragment, never a datagram reassembled from
 * them): l3 from the IP header on, clamped to the IP length, and wirelen,
 * the IP length the header announces (l3.len < wirelen when snapped).
 * Returning true drops the packet (decode_packet() returns DEC_SKIP); the
 * filter counts what it drops.  fn NULL removes the filter.
 */
typedef bool (*decode_filter_fn)(void *ctx, struct bview l3, uint32_t wirelen, uint64_t ts_ns);
void decoder_set_filter(struct decoder *d, decode_filter_fn fn, void *ctx);
/* Drops fragment state older than the timeout (packet time). */
void decoder_expire(struct decoder *d, uint64_t now_ns);
void decoder_free(struct decoder *d);

#endif
