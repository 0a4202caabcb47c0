/*
 * pktwriter.h - builds link/IPv4/IPv6/TCP/UDP packets with correct lengths
 * and checksums, tracks TCP sequence state per simulated connection, and
 * writes them time-ordered to a pcap or pcapng file.
 *
 * Packets are queued in a time-ordered heap (ties keep generation order) and
 * written when the caller says no earlier packet can come any more
 * (pw_sink_flush), so many simulated conversations can be generated one
 * after another and still come out interleaved, with memory bounded by the
 * packets of the conversations that overlap in time.
 *
 * All multi-byte file fields are written little-endian, so the output is the
 * same on every host.
 */
#ifndef MXLAG_TOOLS_PKTWRITER_H
#define MXLAG_TOOLS_PKTWRITER_H

#include <stddef.h>
#include <stdint.h>

#define PW_NS_PER_US 1000ULL
#define PW_NS_PER_MS 1000000ULL
#define PW_NS_PER_S 1000000000ULL
#define US(x) ((uint64_t)(x)*PW_NS_PER_US)
#define MS(x) ((uint64_t)(x)*PW_NS_PER_MS)
#define SEC(x) ((uint64_t)(x)*PW_NS_PER_S)

enum pw_link {
	PW_LINK_ETHERNET,
	PW_LINK_VLAN,
	PW_LINK_QINQ,
	PW_LINK_SLL,
	PW_LINK_SLL2,
	PW_LINK_RAW,
	PW_LINK_NULL,
};

/* "ethernet", "vlan", ... -> enum; -1 if unknown */
int pw_link_parse(const char *name);
const char *pw_link_name(enum pw_link l);

struct pw_addr {
	uint8_t v6; /* 0: IPv4 in b[0..3], 1: IPv6 */
	uint8_t b[16];
};

/* Parses an IPv4 or IPv6 literal; aborts on a malformed literal (the
 * generator only uses literals it owns). */
struct pw_addr pw_ip(const char *s);
void pw_addr_fmt(const struct pw_addr *a, char *buf, size_t n);
int pw_addr_eq(const struct pw_addr *a, const struct pw_addr *b);
/* The reverse-lookup name: 200.2.0.192.in-addr.arpa / nibbles.ip6.arpa */
void pw_addr_ptrname(const struct pw_addr *a, char *buf, size_t n);

struct pw_opts {
	enum pw_link link;
	int nanosecond; /* nanosecond timestamps */
	int pcapng;     /* pcapng instead of pcap */
	int span_dup;   /* every packet twice, as a mirror (SPAN) port: pw_emit_ip() */
};

struct pw_sink;

/* Opens path ("-" = stdout) for writing; NULL on error (errno set). */
struct pw_sink *pw_sink_open(const char *path, const struct pw_opts *o);
/* Addresses of the capturing host (direction for SLL headers); up to 8. */
void pw_sink_add_local(struct pw_sink *s, const struct pw_addr *a);
/* Writes every queued packet with a timestamp <= upto_ns. */
int pw_sink_flush(struct pw_sink *s, uint64_t upto_ns);
/* Flushes everything and closes; returns 0, or -1 on a write error. */
int pw_sink_close(struct pw_sink *s);
uint64_t pw_sink_packets(const struct pw_sink *s);
uint64_t pw_sink_bytes(const struct pw_sink *s);
size_t pw_sink_queued(const struct pw_sink *s);

/*
 * Queues one IP datagram (starting with the IPv4/IPv6 header).  With
 * span_dup a second frame follows, as the other mirror point of a switch
 * sees it: with an 802.1Q tag (VLAN 10) added on ethernet, sll and sll2,
 * without the outermost tag on vlan and qinq, identical on raw and null
 * (no room for a tag); in every other packet the switch routed it (TTL /
 * hop limit one lower, IPv4 checksum fixed).  It comes 1-20 us after the
 * original, and in a third of the packets the copy comes first, at the
 * original's time: chosen by a hash of the packet's number, so the file
 * stays deterministic and the first of the two frames always has the
 * time the packet would have without span_dup.
 */
void pw_emit_ip(struct pw_sink *s, uint64_t ts, const struct pw_addr *src,
                const struct pw_addr *dst, const uint8_t *ip, size_t len);

/* One UDP datagram with a valid checksum. */
void pw_udp(struct pw_sink *s, uint64_t ts, const struct pw_addr *src, uint16_t sport,
            const struct pw_addr *dst, uint16_t dport, const uint8_t *data, size_t len);

/* TCP flags */
#define PW_FIN 0x01
#define PW_SYN 0x02
#define PW_RST 0x04
#define PW_PSH 0x08
#define PW_ACK 0x10

/* Per-connection TCP state.  Side 0 opened the connection (sent the SYN),
 * side 1 accepted it. */
struct pw_tcp {
	struct pw_addr addr[2];
	uint16_t port[2];
	uint32_t isn[2];
	uint32_t seq[2];    /* next sequence number each side sends */
	uint32_t tsbase[2]; /* TCP timestamp clock offsets */
	uint32_t tslast[2]; /* last TSval each side sent (for TSecr) */
	uint16_t ipid[2];
	uint8_t synced[2]; /* side has sent its SYN */
	uint16_t mss;      /* payload bytes per full segment */
	uint8_t split[2];  /* send this side's data in 1-byte segments */
	uint8_t reorder;   /* swap two adjacent data segments of long sends */
	uint8_t dup;       /* duplicate some data segments */
	uint8_t nots;      /* no TCP timestamps (as Windows hosts): call
	                      pw_tcp_no_timestamps() right after init */
	uint32_t nsegs;    /* data segments sent so far (for dup/reorder) */
};

/* isn/tsbase come from the caller's PRNG so the file stays deterministic. */
void pw_tcp_init(struct pw_tcp *c, const struct pw_addr *a, uint16_t pa, const struct pw_addr *b,
                 uint16_t pb, uint32_t isn_a, uint32_t isn_b, uint32_t ts_a, uint32_t ts_b);
/* The connection does not negotiate timestamps (SYN options MSS, NOP, WS,
 * NOP, NOP, SACK-permitted; bare 20-byte headers afterwards). */
void pw_tcp_no_timestamps(struct pw_tcp *c);
/* One raw segment from side dir with the current seq/ack; advances seq by
 * len (+1 for SYN and FIN). */
void pw_tcp_segment(struct pw_sink *s, struct pw_tcp *c, int dir, uint64_t ts, uint8_t flags,
                    const uint8_t *data, size_t len);
/* (Re)transmits side dir's SYN (SYN-ACK for side 1) with the initial seq. */
void pw_tcp_syn(struct pw_sink *s, struct pw_tcp *c, int dir, uint64_t ts);
/* SYN at ts, SYN-ACK d1 later, ACK d2 after that; returns the ACK time. */
uint64_t pw_tcp_handshake(struct pw_sink *s, struct pw_tcp *c, uint64_t ts, uint64_t d1,
                          uint64_t d2);
/*
 * Data from side dir starting at ts, split into MSS segments paced gap_ns
 * apart.  If ack_delay_ns is non-zero the peer acknowledges every second
 * segment and the last one, ack_delay_ns after it.  Returns the time of the
 * last data segment (the one that completes the data).
 */
uint64_t pw_tcp_send(struct pw_sink *s, struct pw_tcp *c, int dir, uint64_t ts, const void *data,
                     size_t len, uint64_t gap_ns, uint64_t ack_delay_ns);
void pw_tcp_ack(struct pw_sink *s, struct pw_tcp *c, int dir, uint64_t ts);
void pw_tcp_fin(struct pw_sink *s, struct pw_tcp *c, int dir, uint64_t ts);
/* RST from side dir; with_ack: RST+ACK as a refusing host sends it. */
void pw_tcp_rst(struct pw_sink *s, struct pw_tcp *c, int dir, uint64_t ts, int with_ack);

/* Internet checksum helpers (exposed for the tests). */
uint16_t pw_csum_fold(uint32_t sum);
uint32_t pw_csum_add(uint32_t sum, const uint8_t *p, size_t len);

#endif
