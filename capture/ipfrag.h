/*
 * ipfrag.h - bounded IPv4/IPv6 fragment reassembly (RFC 791 section 3.2,
 * RFC 8200 section 4.5, RFC 5722: overlaps are never allowed to rewrite
 * bytes already received).
 *
 * Datagrams are keyed by (family, src, dst, id, proto); for IPv6 the
 * caller passes proto 0, as RFC 8200 keys on (src, dst, id) only.  The
 * VLAN is not in the key: on a mirror (SPAN) port the fragments of one
 * datagram may come under different tags.  Each
 * datagram keeps the header of its offset-0 fragment (the IPv4 header, or
 * the IPv6 unfragmentable part) and the payload bytes received so far as a
 * sorted list of covered ranges.  Overlapping bytes: the first copy wins.
 *
 * Bounds: number of datagrams, buffered bytes (allocated capacity plus
 * per-datagram bookkeeping), covered ranges per datagram, and a timeout
 * measured on packet time from the first fragment.  When a cap is hit the
 * oldest datagram is evicted (CNT_FRAG_OVERFLOW).
 *
 * Only this fragment path allocates; the decoder's fast path does not.
 */
#ifndef MXLAG_IPFRAG_H
#define MXLAG_IPFRAG_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "bview.h"
#include "decode.h"
#include "stats.h"

/* largest IPv4 header / IPv6 unfragmentable part kept for a datagram */
#define IPFRAG_HDR_MAX 512
/* largest reassembled payload (fragment offset + length) */
#define IPFRAG_DATA_MAX 65535u
/* disjoint received ranges per datagram before it is dropped */
#define IPFRAG_MAX_RANGES 64

struct ipfrag_key {
	struct mx_addr src, dst;
	uint32_t id;
	uint8_t proto;
};

/* One fragment, as seen by the IP layer. */
struct ipfrag_piece {
	uint32_t off;          /* payload offset in bytes */
	bool more;             /* MF / M flag */
	struct bview data;     /* fragment payload as captured */
	uint32_t data_wirelen; /* payload length the header announces */
	/*
	 * Bytes that precede the payload in the reassembled datagram: the
	 * IPv4 header, or the IPv6 header plus the extension headers before
	 * the Fragment header.  Used from the offset-0 fragment only.
	 */
	struct bview hdr;
	/* IPv6: offset in hdr of the Next Header byte that named the
	 * Fragment header, and the value to put there (the Fragment
	 * header's own Next Header). */
	uint32_t nh_off;
	uint8_t nh;
};

enum ipfrag_rc {
	IPFRAG_PENDING, /* stored; datagram not complete */
	IPFRAG_DROP,    /* fragment (or its datagram) discarded; counted */
	IPFRAG_DONE,    /* *out holds the whole datagram */
};

struct ipfrag;

/* limits may be NULL; zero fields take the defaults in decode.h. */
struct ipfrag *ipfrag_new(const struct decode_limits *limits, struct cap_stats *stats);
/*
 * Adds one fragment.  On IPFRAG_DONE *out is the complete IP datagram
 * (header fields patched: IPv4 total length, MF and offset cleared; IPv6
 * payload length, Fragment header removed) in a buffer owned by the
 * ipfrag and valid until the next ipfrag_add() or ipfrag_free().
 */
enum ipfrag_rc ipfrag_add(struct ipfrag *f, const struct ipfrag_key *k, uint64_t ts_ns,
                          const struct ipfrag_piece *p, struct bview *out);
/* Drops datagrams whose first fragment is older than the timeout. */
void ipfrag_expire(struct ipfrag *f, uint64_t now_ns);
/* Packet time at which the next datagram would expire; UINT64_MAX if none. */
uint64_t ipfrag_deadline(const struct ipfrag *f);
/* Datagrams and accounted bytes held right now (for tests). */
uint32_t ipfrag_count(const struct ipfrag *f);
uint64_t ipfrag_bytes(const struct ipfrag *f);
void ipfrag_free(struct ipfrag *f);

#endif
