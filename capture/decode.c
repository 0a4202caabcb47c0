/*
 * decode.c - link layer, IPv4/IPv6 and TCP/UDP header decoding.
 *
 * RFC 791 (IPv4), RFC 8200 (IPv6), RFC 4302 (AH length), RFC 9293 (TCP),
 * RFC 768 (UDP), IEEE 802.1Q/802.1ad tag stacks, Linux cooked capture v1
 * and v2, BSD loopback.  Fragments go to ipfrag.c, after the caller's
 * filter (capture.c: SPAN duplicates) has seen them.
 *
 * Every read is bounded by the captured length through bview.h.  The
 * unfragmented path does not allocate and touches only the fields of
 * struct decoded it sets.
 */
#include "decode.h"

#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>

#include "ipfrag.h"

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define MAX_VLAN_TAGS 8
#define MAX_IPV6_EXT 16

/* LINKTYPE_RAW, and DLT_RAW as BSD/OS and OpenBSD number it */
#define DLT_RAW_LINUX 12
#define DLT_RAW_BSD 14
#define LINKTYPE_RAW_ 101

typedef enum decode_rc (*link_fn)(struct decoder *d, struct bview v, struct decoded *out);

struct decoder {
	struct cap_stats *st;
	struct ipfrag *frag;
	uint64_t frag_deadline; /* packet time of the next fragment expiry */
	int cached_dlt;
	link_fn cached_fn;
	decode_filter_fn filter;
	void *filter_ctx;
	struct cap_stats own_stats; /* used when the caller gave none */
};

static enum decode_rc decode_ip4(struct decoder *d, struct bview v, struct decoded *out,
                                 bool nested);
static enum decode_rc decode_ip6(struct decoder *d, struct bview v, struct decoded *out,
                                 bool nested);

/* ------------------------------------------------------------------ L4 -- */

/*
 * seg: the L4 bytes as captured (already clamped to the IP length);
 * seg_wire: the L4 length the IP header announces.
 */
static enum decode_rc
decode_l4(struct decoder *d, uint8_t proto, struct bview seg, uint32_t seg_wire,
          struct decoded *out)
{
	if (proto == 6) {
		if (seg.len < 20) {
			CAP_COUNT(d->st, ERR_TRUNC_TCP);
			return DEC_SKIP;
		}
		const uint8_t *t = seg.p;
		uint32_t hl = (uint32_t)(t[12] >> 4) * 4;
		if (hl < 20 || hl > seg_wire) {
			CAP_COUNT(d->st, ERR_BAD_TCP_HLEN);
			return DEC_SKIP;
		}
		out->l4proto = 6;
		out->sport = (uint16_t)(t[0] << 8 | t[1]);
		out->dport = (uint16_t)(t[2] << 8 | t[3]);
		bv_be32(seg, 4, &out->seq);
		bv_be32(seg, 8, &out->ack);
		out->tcp_flags = t[13];
		out->win = (uint16_t)(t[14] << 8 | t[15]);
		/* empty when the options themselves were snapped */
		out->payload = bv_tail(seg, hl);
		out->payload_wirelen = seg_wire - hl;
		return DEC_OK;
	}
	if (proto == 17) {
		if (seg.len < 8) {
			CAP_COUNT(d->st, ERR_TRUNC_UDP);
			return DEC_SKIP;
		}
		const uint8_t *u = seg.p;
		uint32_t ulen = (uint32_t)(u[4] << 8 | u[5]);
		if (ulen < 8 || ulen > seg_wire) {
			CAP_COUNT(d->st, ERR_BAD_UDP_LEN);
			ulen = seg_wire;
		}
		out->l4proto = 17;
		out->sport = (uint16_t)(u[0] << 8 | u[1]);
		out->dport = (uint16_t)(u[2] << 8 | u[3]);
		out->tcp_flags = 0;
		out->seq = 0;
		out->ack = 0;
		out->win = 0;
		out->payload = bv_sub(seg, 8, ulen - 8);
		out->payload_wirelen = ulen - 8;
		return DEC_OK;
	}
	CAP_COUNT(d->st, IP_OTHER_PROTO);
	return DEC_SKIP;
}

/* ------------------------------------------------------------------ IP -- */

static inline void
addr4(struct mx_addr *a, const uint8_t *b)
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	memcpy(a->a, b, 4);
}

static inline void
addr6(struct mx_addr *a, const uint8_t *b)
{
	a->family = 6;
	memcpy(a->a, b, 16);
}

static enum decode_rc
frag_result(struct decoder *d, enum ipfrag_rc rc, struct bview whole, struct decoded *out, bool v6)
{
	d->frag_deadline = ipfrag_deadline(d->frag);
	if (rc == IPFRAG_PENDING)
		return DEC_PENDING;
	if (rc != IPFRAG_DONE)
		return DEC_SKIP;
	return v6 ? decode_ip6(d, whole, out, true) : decode_ip4(d, whole, out, true);
}

/* nested: v is a datagram this decoder reassembled itself */
static enum decode_rc
decode_ip4(struct decoder *d, struct bview v, struct decoded *out, bool nested)
{
	if (v.len < 1) {
		CAP_COUNT(d->st, ERR_TRUNC_IP);
		return DEC_SKIP;
	}
	const uint8_t *ip = v.p;
	if (ip[0] >> 4 != 4) {
		CAP_COUNT(d->st, ERR_BAD_IP_VERSION);
		return DEC_SKIP;
	}
	if (v.len < 20) {
		CAP_COUNT(d->st, ERR_TRUNC_IP);
		return DEC_SKIP;
	}
	uint32_t hl = (uint32_t)(ip[0] & 0x0f) * 4;
	if (hl < 20) {
		CAP_COUNT(d->st, ERR_BAD_IP_HLEN);
		return DEC_SKIP;
	}
	if (hl > v.len) {
		CAP_COUNT(d->st, ERR_TRUNC_IP);
		return DEC_SKIP;
	}
	uint32_t tot = (uint32_t)(ip[2] << 8 | ip[3]);
	if (tot == 0) {
		/* segmentation offload on the capturing host: trust caplen */
		tot = v.len > 65535 ? 65535 : (uint32_t)v.len;
	} else if (tot < hl) {
		CAP_COUNT(d->st, ERR_BAD_IP_LEN);
		return DEC_SKIP;
	}
	if (!nested)
		CAP_COUNT(d->st, IPV4);
	if (tot > v.len)
		CAP_COUNT(d->st, ERR_IP_SNAPPED);
	struct bview l3 = bv_sub(v, 0, tot); /* also drops link padding */
	if (!nested && d->filter && d->filter(d->filter_ctx, l3, tot, out->ts_ns))
		return DEC_SKIP;

	uint32_t ff = (uint32_t)(ip[6] << 8 | ip[7]);
	if (ff & 0x3fff) { /* MF or a non-zero offset */
		if (nested) {
			CAP_COUNT(d->st, FRAG_BAD);
			return DEC_SKIP;
		}
		CAP_COUNT(d->st, FRAGMENTS);
		struct ipfrag_key k;
		addr4(&k.src, ip + 12);
		addr4(&k.dst, ip + 16);
		k.id = (uint32_t)(ip[4] << 8 | ip[5]);
		k.proto = ip[9];
		struct ipfrag_piece pc = {
		    .off = (ff & 0x1fff) * 8,
		    .more = (ff & 0x2000) != 0,
		    .data = bv_tail(l3, hl),
		    .data_wirelen = tot - hl,
		    .hdr = bv_sub(l3, 0, hl),
		};
		struct bview whole = {NULL, 0};
		enum ipfrag_rc rc = ipfrag_add(d->frag, &k, out->ts_ns, &pc, &whole);
		return frag_result(d, rc, whole, out, false);
	}

	out->l3 = l3;
	addr4(&out->src, ip + 12);
	addr4(&out->dst, ip + 16);
	return decode_l4(d, ip[9], bv_tail(l3, hl), tot - hl, out);
}

static enum decode_rc
decode_ip6(struct decoder *d, struct bview v, struct decoded *out, bool nested)
{
	if (v.len < 1) {
		CAP_COUNT(d->st, ERR_TRUNC_IP);
		return DEC_SKIP;
	}
	if (v.p[0] >> 4 != 6) {
		CAP_COUNT(d->st, ERR_BAD_IP_VERSION);
		return DEC_SKIP;
	}
	if (v.len < 40) {
		CAP_COUNT(d->st, ERR_TRUNC_IP);
		return DEC_SKIP;
	}
	const uint8_t *ip = v.p;
	uint32_t wire = 40 + (uint32_t)(ip[4] << 8 | ip[5]);
	if (wire == 40 && v.len > 40) {
		/* jumbogram or segmentation offload: trust caplen */
		wire = v.len > 65535 + 40 ? 65535 + 40 : (uint32_t)v.len;
	}
	if (!nested)
		CAP_COUNT(d->st, IPV6);
	if (wire > v.len)
		CAP_COUNT(d->st, ERR_IP_SNAPPED);
	struct bview l3 = bv_sub(v, 0, wire);
	if (!nested && d->filter && d->filter(d->filter_ctx, l3, wire, out->ts_ns))
		return DEC_SKIP;

	uint8_t nh = ip[6];
	uint32_t nh_off = 6, off = 40;
	for (unsigned n = 0;; n++) {
		uint8_t b0, b1;
		uint32_t len;
		switch (nh) {
		case 0:  /* hop-by-hop options */
		case 43: /* routing */
		case 60: /* destination options */
		case 51: /* AH: length in 4-octet units, minus 2 (RFC 4302) */
			break;
		case 44: /* fragment */
			break;
		case 50: /* ESP: nothing we can read */
		case 59: /* no next header */
			CAP_COUNT(d->st, IP_OTHER_PROTO);
			return DEC_SKIP;
		default:
			goto l4;
		}
		if (n >= MAX_IPV6_EXT) {
			CAP_COUNT(d->st, ERR_BAD_IPV6_EXT);
			return DEC_SKIP;
		}
		if (off + 2 > wire) {
			CAP_COUNT(d->st, ERR_BAD_IPV6_EXT);
			return DEC_SKIP;
		}
		if (!bv_u8(l3, off, &b0) || !bv_u8(l3, off + 1, &b1)) {
			CAP_COUNT(d->st, ERR_TRUNC_IP);
			return DEC_SKIP;
		}
		if (nh == 44)
			len = 8;
		else if (nh == 51)
			len = ((uint32_t)b1 + 2) * 4;
		else
			len = ((uint32_t)b1 + 1) * 8;
		if (len > wire - off) {
			CAP_COUNT(d->st, ERR_BAD_IPV6_EXT);
			return DEC_SKIP;
		}
		if (nh == 44) {
			uint16_t ff;
			uint32_t id;
			if (!bv_be16(l3, off + 2, &ff) || !bv_be32(l3, off + 4, &id)) {
				CAP_COUNT(d->st, ERR_TRUNC_IP);
				return DEC_SKIP;
			}
			uint32_t foff = ff & 0xfff8u;
			bool more = ff & 1;
			if (foff != 0 || more) {
				if (nested) {
					CAP_COUNT(d->st, FRAG_BAD);
					return DEC_SKIP;
				}
				CAP_COUNT(d->st, FRAGMENTS);
				struct ipfrag_key k;
				addr6(&k.src, ip + 8);
				addr6(&k.dst, ip + 24);
				k.id = id;
				k.proto = 0; /* RFC 8200: (src, dst, id) */
				struct ipfrag_piece pc = {
				    .off = foff,
				    .more = more,
				    .data = bv_tail(l3, off + 8),
				    .data_wirelen = wire - off - 8,
				    .hdr = bv_sub(l3, 0, off),
				    .nh_off = nh_off,
				    .nh = b0,
				};
				struct bview whole = {NULL, 0};
				enum ipfrag_rc rc =
				    ipfrag_add(d->frag, &k, out->ts_ns, &pc, &whole);
				return frag_result(d, rc, whole, out, true);
			}
			/* atomic fragment (RFC 6946): just skip the header */
		}
		nh_off = off;
		nh = b0;
		off += len;
	}
l4:
	out->l3 = l3;
	addr6(&out->src, ip + 8);
	addr6(&out->dst, ip + 24);
	return decode_l4(d, nh, bv_tail(l3, off), wire - off, out);
}

static enum decode_rc
decode_ethertype(struct decoder *d, uint16_t type, struct bview v, struct decoded *out)
{
	if (type == ETH_IPV4)
		return decode_ip4(d, v, out, false);
	if (type == ETH_IPV6)
		return decode_ip6(d, v, out, false);
	CAP_COUNT(d->st, NON_IP);
	return DEC_SKIP;
}

/* ---------------------------------------------------------------- link -- */

static inline bool
is_vlan_tpid(uint16_t t)
{
	return t == 0x8100 || t == 0x88a8 || t == 0x9100;
}

/* Walks 802.1Q/802.1ad tags starting at off, then dispatches on the type. */
static enum decode_rc
after_type(struct decoder *d, struct bview v, size_t off, uint16_t type, struct decoded *out)
{
	for (unsigned n = 0; is_vlan_tpid(type); n++) {
		uint16_t tci;
		if (n >= MAX_VLAN_TAGS) {
			CAP_COUNT(d->st, NON_IP);
			return DEC_SKIP;
		}
		if (!bv_be16(v, off, &tci) || !bv_be16(v, off + 2, &type)) {
			CAP_COUNT(d->st, ERR_TRUNC_LINK);
			return DEC_SKIP;
		}
		if (n == 0) {
			out->vlan = tci & 0x0fff;
			CAP_COUNT(d->st, LINK_VLAN);
		}
		off += 4;
	}
	return decode_ethertype(d, type, bv_tail(v, off), out);
}

static enum decode_rc
link_ether(struct decoder *d, struct bview v, struct decoded *out)
{
	uint16_t type;
	CAP_COUNT(d->st, LINK_ETHER);
	if (!bv_be16(v, 12, &type)) {
		CAP_COUNT(d->st, ERR_TRUNC_LINK);
		return DEC_SKIP;
	}
	return after_type(d, v, 14, type, out);
}

static enum decode_rc
link_sll(struct decoder *d, struct bview v, struct decoded *out)
{
	uint16_t type;
	CAP_COUNT(d->st, LINK_SLL);
	if (v.len < 16 || !bv_be16(v, 14, &type)) {
		CAP_COUNT(d->st, ERR_TRUNC_LINK);
		return DEC_SKIP;
	}
	return after_type(d, v, 16, type, out);
}

static enum decode_rc
link_sll2(struct decoder *d, struct bview v, struct decoded *out)
{
	uint16_t type;
	CAP_COUNT(d->st, LINK_SLL2);
	if (v.len < 20 || !bv_be16(v, 0, &type)) {
		CAP_COUNT(d->st, ERR_TRUNC_LINK);
		return DEC_SKIP;
	}
	return after_type(d, v, 20, type, out);
}

static enum decode_rc
link_raw(struct decoder *d, struct bview v, struct decoded *out)
{
	CAP_COUNT(d->st, LINK_RAW);
	if (v.len < 1) {
		CAP_COUNT(d->st, ERR_TRUNC_IP);
		return DEC_SKIP;
	}
	switch (v.p[0] >> 4) {
	case 4:
		return decode_ip4(d, v, out, false);
	case 6:
		return decode_ip6(d, v, out, false);
	default:
		CAP_COUNT(d->st, ERR_BAD_IP_VERSION);
		return DEC_SKIP;
	}
}

static enum decode_rc
link_ipv4(struct decoder *d, struct bview v, struct decoded *out)
{
	CAP_COUNT(d->st, LINK_RAW);
	return decode_ip4(d, v, out, false);
}

static enum decode_rc
link_ipv6(struct decoder *d, struct bview v, struct decoded *out)
{
	CAP_COUNT(d->st, LINK_RAW);
	return decode_ip6(d, v, out, false);
}

/* BSD AF_* values: AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD,
 * OpenBSD), 28 (FreeBSD, DragonFly) or 30 (macOS). */
static uint16_t
af_to_type(uint32_t af)
{
	switch (af) {
	case 2:
		return ETH_IPV4;
	case 24:
	case 28:
	case 30:
		return ETH_IPV6;
	default:
		return 0;
	}
}

/* DLT_NULL: the family is in the capturing host's byte order. */
static enum decode_rc
link_null(struct decoder *d, struct bview v, struct decoded *out)
{
	uint32_t le, be;
	CAP_COUNT(d->st, LINK_NULL);
	if (!bv_le32(v, 0, &le) || !bv_be32(v, 0, &be)) {
		CAP_COUNT(d->st, ERR_TRUNC_LINK);
		return DEC_SKIP;
	}
	uint16_t type = af_to_type(le);
	if (!type)
		type = af_to_type(be);
	return decode_ethertype(d, type, bv_tail(v, 4), out);
}

/* DLT_LOOP: the family is in network byte order. */
static enum decode_rc
link_loop(struct decoder *d, struct bview v, struct decoded *out)
{
	uint32_t be;
	CAP_COUNT(d->st, LINK_NULL);
	if (!bv_be32(v, 0, &be)) {
		CAP_COUNT(d->st, ERR_TRUNC_LINK);
		return DEC_SKIP;
	}
	return decode_ethertype(d, af_to_type(be), bv_tail(v, 4), out);
}

/* First match wins, so OpenBSD's DLT_LOOP (12) shadows raw IP there. */
static const struct {
	int dlt;
	link_fn fn;
} link_table[] = {
    {DLT_EN10MB, link_ether},  {DLT_LINUX_SLL, link_sll}, {DLT_LINUX_SLL2, link_sll2},
    {DLT_NULL, link_null},     {DLT_LOOP, link_loop},     {DLT_RAW, link_raw},
    {DLT_RAW_LINUX, link_raw}, {DLT_RAW_BSD, link_raw},   {LINKTYPE_RAW_, link_raw},
    {DLT_IPV4, link_ipv4},     {DLT_IPV6, link_ipv6},
};

static link_fn
link_lookup(int dlt)
{
	for (size_t i = 0; i < sizeof(link_table) / sizeof(link_table[0]); i++)
		if (link_table[i].dlt == dlt)
			return link_table[i].fn;
	return NULL;
}

/* ----------------------------------------------------------------- API -- */

struct decoder *
decoder_new(const struct decode_limits *limits, struct cap_stats *stats)
{
	struct decoder *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->st = stats ? stats : &d->own_stats;
	d->frag = ipfrag_new(limits, d->st);
	if (!d->frag) {
		free(d);
		return NULL;
	}
	d->frag_deadline = UINT64_MAX;
	d->cached_dlt = -1;
	d->cached_fn = NULL;
	return d;
}

enum decode_rc
decode_packet(struct decoder *d, const struct pkt *pkt, struct decoded *out)
{
	if (pkt->ts_ns >= d->frag_deadline) {
		ipfrag_expire(d->frag, pkt->ts_ns);
		d->frag_deadline = ipfrag_deadline(d->frag);
	}
	if (pkt->dlt != d->cached_dlt) {
		d->cached_fn = link_lookup(pkt->dlt);
		d->cached_dlt = pkt->dlt;
	}
	if (!d->cached_fn) {
		CAP_COUNT(d->st, LINK_UNSUPPORTED);
		return DEC_SKIP;
	}
	out->ts_ns = pkt->ts_ns;
	out->vlan = 0;
	return d->cached_fn(d, bv_make(pkt->data, pkt->caplen), out);
}

void
decoder_set_filter(struct decoder *d, decode_filter_fn fn, void *ctx)
{
	d->filter = fn;
	d->filter_ctx = ctx;
}

void
decoder_expire(struct decoder *d, uint64_t now_ns)
{
	ipfrag_expire(d->frag, now_ns);
	d->frag_deadline = ipfrag_deadline(d->frag);
}

void
decoder_free(struct decoder *d)
{
	if (!d)
		return;
	ipfrag_free(d->frag);
	free(d);
}
