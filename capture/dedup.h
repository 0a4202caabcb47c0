/*
 * dedup.h - drops the second copy of an IP packet, as a switch's mirror
 * (SPAN) port delivers every packet twice: once as it enters the switch
 * and once as it leaves, often one copy 802.1Q-tagged and the other not
 * (or under another VLAN ID), microseconds to a millisecond apart, with a
 * TTL one lower when the switch routed it.
 *
 * Two IP packets are copies when they were captured within the window of
 * each other, their IP lengths are equal and their bytes are equal except
 * the fields a switch or router between the two mirror points may rewrite:
 *   - IPv4 TTL / IPv6 Hop Limit: decremented by each router (RFC 791,
 *     RFC 8200), and so the IPv4 header checksum (RFC 1624);
 *   - IPv4 TOS byte / IPv6 Traffic Class: the DSCP is re-marked at a QoS
 *     trust boundary, commonly the very switch that mirrors (RFC 2474), and
 *     a congested queue sets ECN CE (RFC 3168).
 * Everything else is compared: the IPv4 ID, the flags (DF: a router does
 * not clear it) and fragment offset, the addresses and IPv4 options, the
 * IPv6 Flow Label (RFC 6437: forwarding nodes leave it unchanged) and
 * extension headers, the whole L4 header and payload.  The link layer is
 * not compared (MAC addresses and tags differ between the copies).  A
 * packet rewritten on the way in any other field (NAT, fragmented by a
 * router, IPv6 hop-by-hop options changed en route) is not recognised and
 * is analyzed twice.
 *
 * The default window, 5 ms, is five times the usual distance of the two
 * copies and 40 times shorter than the quickest repetition that must be
 * counted: DNS clients retransmit after 200 ms or more (glibc 1-5 s,
 * BIND and Unbound a few hundred ms), TCP retransmits a SYN after 1 s
 * (RFC 6298), and ident probes are TCP.  A TCP segment sent again within
 * 5 ms (fast retransmit on a LAN, a repeated pure ACK) carries the same
 * bytes as its original and reassembly discards it anyway.
 *
 * Only fingerprints are kept: a 64-bit hash of the IP length and the first
 * DEDUP_PREFIX bytes (normalized as above), and a 62-bit hash of the rest.
 * When the prefix holds a TCP or UDP header with a checksum (not zero),
 * the rest is not hashed: the checksum covers the payload, so equal
 * prefixes mean equal payloads but for a checksum collision of two
 * segments with the same headers (sequence numbers, IP ID) within the
 * window; TCP reassembly keeps the first of two such segments anyway.
 * A packet snapped by the capture (fewer bytes than its IP length) is
 * compared on the prefix alone, since the tagged copy is snapped 4 bytes
 * earlier than the untagged one; a packet snapped inside the prefix is
 * never taken for a copy.  Two different packets are taken for copies only
 * if, within the window, their 64-bit prefix hashes collide and so do the
 * 62-bit hashes of their tails (unless snapped).
 *
 * Memory is bounded: fingerprints of 24 bytes in buckets of 4, at most
 * `entries` of them (default 65536: 1.5 MiB).  The table starts at 256
 * (6 KiB) and doubles, keeping what is still in the window, whenever more
 * than an eighth of it was filled within one window: it stays as small as
 * the packet rate allows, so it stays in the CPU cache (a table far larger
 * than the traffic needs cost a cache miss per packet).  A new fingerprint
 * takes an empty or expired slot of its bucket, else the oldest one.
 * Below the full size that happens only to a bucket that filled by chance
 * (the load is under an eighth), and as a copy follows its original within
 * microseconds, the oldest of four fingerprints is nearly always one whose
 * copy came already.  At the full size (more than 8192 new packets in 5 ms,
 * 1.6 M packets/s) such evictions are counted in dup.table_full_evictions:
 * a copy of an evicted packet would get through.
 * The cost per packet is one pass over its first 64 bytes (all of them
 * without an L4 checksum) and one bucket (96 bytes).
 */
#ifndef MXLAG_DEDUP_H
#define MXLAG_DEDUP_H

#include <stdbool.h>
#include <stdint.h>

#include "bview.h"
#include "stats.h"

/* bytes hashed into the key: IPv4 + TCP + timestamps, IPv6 + TCP */
#define DEDUP_PREFIX 64

struct dedup_limits {
	uint64_t window_ns; /* default 5 ms */
	uint32_t entries;   /* most fingerprints held: rounded up to a power of two
	                       >= 4, at most 2^20; default 65536 */
};

struct dedup;

/* lim may be NULL (zero fields take the defaults); st must outlive it. */
struct dedup *dedup_new(const struct dedup_limits *lim, struct cap_stats *st);
/*
 * true when l3 is a copy of an IP packet seen within the window (counted
 * in dup.span_duplicates; the first copy is still remembered, so a third
 * copy is dropped too); false otherwise, and the packet is remembered.
 * l3: the IP packet as captured, from the IP header on, clamped to its IP
 * length; wirelen: the IP length its header announces (>= l3.len).  The
 * bytes are only read during the call.
 */
bool dedup_seen(struct dedup *d, struct bview l3, uint32_t wirelen, uint64_t ts_ns);
/* Fingerprints the table holds now (it grows up to the rounded `entries`). */
uint32_t dedup_capacity(const struct dedup *d);
void dedup_free(struct dedup *d);

#endif
