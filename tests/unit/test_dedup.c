/*
 * test_dedup.c - SPAN duplicate suppression (capture/dedup.c): copies
 * within the window dropped, outside it kept; the fields a router may
 * rewrite (IPv4 TTL, TOS, header checksum; IPv6 Hop Limit, Traffic Class)
 * ignored and every other bit compared, bit by bit; snapped copies; the
 * table's bounds and eviction.  Then the whole capture pipeline on a
 * mirror port's traffic: one flow per connection, one datagram per DNS
 * query, tagged and untagged copies in either order.
 *
 * Packets are passed in exact-size guard-page buffers, so a read past a
 * packet faults.
 */
#include <criterion/criterion.h>
#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "capture/dedup.h"
#include "../support/guardbuf.h"

#define MS 1000000ull
#define WINDOW (5 * MS)

static struct cap_stats st;

static void
put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static void
ip4_csum(uint8_t *ip)
{
	uint32_t s = 0;
	ip[10] = ip[11] = 0;
	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)ip[i] << 8 | ip[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	put16(ip + 10, ~s & 0xffff);
}

/* TCP header (20 bytes + 12 of NOP/timestamp options) and plen payload bytes */
static size_t
tcp_at(uint8_t *t, unsigned sport, unsigned dport, uint32_t seq, uint32_t ack, unsigned flags,
       size_t plen, uint8_t fill)
{
	memset(t, 0, 32);
	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = 8 << 4;
	t[13] = (uint8_t)flags;
	put16(t + 14, 4096);
	t[20] = t[21] = 1;
	t[22] = 8;
	t[23] = 10;
	put32(t + 24, 0x01020304);
	put32(t + 28, 0x05060708);
	for (size_t i = 0; i < plen; i++)
		t[32 + i] = (uint8_t)(fill + i * 7);
	return 32 + plen;
}

/* a 20-byte IPv4 header from a.b.c.s to a.b.c.d (192.0.2.x or 198.51.100.x) */
static void
ip4_hdr(uint8_t *b, unsigned proto, size_t l4len, unsigned id, unsigned ff, int net,
        uint8_t src, uint8_t dst)
{
	static const uint8_t nets[2][3] = {{192, 0, 2}, {198, 51, 100}};
	b[0] = 0x45;
	b[1] = 0;
	put16(b + 2, (unsigned)(20 + l4len));
	put16(b + 4, id);
	put16(b + 6, ff);
	b[8] = 64;
	b[9] = (uint8_t)proto;
	memcpy(b + 12, nets[0], 3);
	b[15] = src;
	memcpy(b + 16, nets[net], 3);
	b[19] = dst;
	ip4_csum(b);
}

/* IPv4 + TCP, 192.0.2.200 -> 192.0.2.10, to buf; returns its length */
static size_t
ip4_tcp(uint8_t *b, unsigned id, unsigned sport, unsigned dport, uint32_t seq, unsigned flags,
        size_t plen)
{
	size_t l4 = tcp_at(b + 20, sport, dport, seq, 77, flags, plen, (uint8_t)seq);
	ip4_hdr(b, 6, l4, id, 0x4000, 0, 200, 10);
	return 20 + l4;
}

static size_t
ip6_tcp(uint8_t *b, uint32_t seq, size_t plen)
{
	static const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	static const uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x10};
	size_t l4 = tcp_at(b + 40, 40112, 25, seq, 1, 0x18, plen, 3);
	put32(b, 0x60012345); /* flow label 0x12345 */
	put16(b + 4, (unsigned)l4);
	b[6] = 6;
	b[7] = 64;
	memcpy(b + 8, src, 16);
	memcpy(b + 24, dst, 16);
	return 40 + l4;
}

/* dedup_seen on an exact-size guard-page copy of p[0..caplen), IP length wire */
static bool
seen_cap(struct dedup *d, const uint8_t *p, size_t caplen, size_t wire, uint64_t ts)
{
	uint8_t *g = guardbuf_new(p, caplen);
	cr_assert_not_null(g);
	bool r = dedup_seen(d, bv_make(g, caplen), (uint32_t)wire, ts);
	guardbuf_free(g, caplen);
	return r;
}

static bool
seen(struct dedup *d, const uint8_t *p, size_t n, uint64_t ts)
{
	return seen_cap(d, p, n, n, ts);
}

static struct dedup *
mk(uint32_t entries)
{
	memset(&st, 0, sizeof(st));
	struct dedup_limits lim = {.window_ns = WINDOW, .entries = entries};
	struct dedup *d = dedup_new(&lim, &st);
	cr_assert_not_null(d);
	return d;
}

Test(dedup, copies_within_the_window_are_dropped_outside_kept)
{
	uint8_t a[200];
	size_t n = ip4_tcp(a, 1, 40112, 25, 1000, 0x18, 100);
	struct dedup *d = mk(0);
	cr_assert_not(seen(d, a, n, 10 * MS));
	cr_assert(seen(d, a, n, 10 * MS + 3000), "copy 3 us later");
	cr_assert(seen(d, a, n, 10 * MS + WINDOW), "copy at the window's end");
	cr_assert_eq(st.c[CNT_DUP_SPAN], 2, "a third copy is dropped too");
	/* the window counts from the first copy, not the last dropped one */
	cr_assert_not(seen(d, a, n, 10 * MS + WINDOW + 1), "just outside: kept");
	/* ...and that one is remembered in turn */
	cr_assert(seen(d, a, n, 10 * MS + WINDOW + 2));
	/* a retransmission 200 ms later (DNS, SYN) is kept */
	cr_assert_not(seen(d, a, n, 210 * MS));
	/* packet time stepping back within the window (merged files) */
	cr_assert(seen(d, a, n, 210 * MS - 1000));
	cr_assert_eq(st.c[CNT_DUP_SPAN], 4);
	cr_assert_eq(st.c[CNT_DUP_TABLE_FULL], 0);
	dedup_free(d);
}

/*
 * With a TCP or UDP checksum in the prefix the payload is not hashed: the
 * checksum covers it.  A payload that differs (its checksum with it) is
 * another packet; without a checksum (zero) every payload byte is hashed.
 */
Test(dedup, the_l4_checksum_stands_for_the_payload)
{
	uint8_t a[200], b[200];
	size_t n = ip4_tcp(a, 1, 40112, 25, 1000, 0x18, 100);
	a[20 + 16] = 0x12; /* a TCP checksum */
	a[20 + 17] = 0x34;
	struct dedup *d = mk(0);
	cr_assert_not(seen(d, a, n, MS));
	memcpy(b, a, n);
	b[n - 1] ^= 1;
	b[20 + 17] ^= 1; /* the payload's checksum changes with it */
	cr_assert_not(seen(d, b, n, MS + 1000), "another payload, another checksum: kept");
	cr_assert(seen(d, a, n, MS + 2000), "the copy");
	/* checksum zero: the payload itself decides */
	memcpy(b, a, n);
	b[20 + 16] = b[20 + 17] = 0;
	cr_assert_not(seen(d, b, n, MS + 3000));
	b[n - 1] ^= 1;
	cr_assert_not(seen(d, b, n, MS + 4000), "one payload bit: kept");
	dedup_free(d);
}

Test(dedup, default_window_is_5ms)
{
	uint8_t a[200];
	size_t n = ip4_tcp(a, 9, 40112, 25, 1000, 0x02, 0);
	memset(&st, 0, sizeof(st));
	struct dedup *d = dedup_new(NULL, &st);
	cr_assert_not(seen(d, a, n, 0));
	cr_assert(seen(d, a, n, 5 * MS));
	cr_assert_not(seen(d, a, n, 10 * MS + 1));
	cr_assert_eq(dedup_capacity(d), 256, "starts small");
	dedup_free(d);
}

/* a router between the two mirror points: TTL - 1, DSCP re-marked, ECN CE */
Test(dedup, ttl_tos_and_checksum_differences_are_copies)
{
	uint8_t a[200], b[200];
	size_t n = ip4_tcp(a, 1, 40112, 25, 1000, 0x18, 100);
	struct dedup *d = mk(0);
	cr_assert_not(seen(d, a, n, MS));
	memcpy(b, a, n);
	b[8] = 63;
	ip4_csum(b);
	cr_assert(seen(d, b, n, MS + 1000), "TTL one lower, checksum fixed");
	b[1] = 0xb8 | 3; /* EF, CE */
	ip4_csum(b);
	cr_assert(seen(d, b, n, MS + 2000), "TOS rewritten");
	b[10] ^= 0xff; /* a broken checksum is not looked at either */
	cr_assert(seen(d, b, n, MS + 3000));
	cr_assert_eq(st.c[CNT_DUP_SPAN], 3);
	dedup_free(d);
}

Test(dedup, ipv6_hop_limit_and_traffic_class_are_copies)
{
	uint8_t a[200], b[200];
	size_t n = ip6_tcp(a, 5000, 60);
	struct dedup *d = mk(0);
	cr_assert_not(seen(d, a, n, MS));
	memcpy(b, a, n);
	b[7] = 63;
	cr_assert(seen(d, b, n, MS + 1000), "hop limit one lower");
	b[0] = 0x6f; /* traffic class 0xfc: DSCP and ECN rewritten */
	b[1] = (uint8_t)(0xc0 | (b[1] & 0x0f));
	cr_assert(seen(d, b, n, MS + 2000), "traffic class rewritten");
	b[1] ^= 0x01; /* flow label */
	cr_assert_not(seen(d, b, n, MS + 3000), "another flow label is another packet");
	dedup_free(d);
}

/*
 * Every single-bit difference, at every offset of an IPv4 and an IPv6
 * packet longer than the hashed prefix: a copy exactly when the bit lies
 * in a field a router may rewrite.
 */
static bool
may_change(int v6, size_t off, unsigned bit)
{
	uint8_t m = 0;
	if (!v6 && (off == 1 || off == 8 || off == 10 || off == 11))
		m = 0xff;
	if (v6 && off == 0)
		m = 0x0f;
	if (v6 && off == 1)
		m = 0xf0;
	if (v6 && off == 7)
		m = 0xff;
	return (m >> bit) & 1;
}

static void
every_bit(int v6)
{
	uint8_t a[200], b[200];
	size_t n = v6 ? ip6_tcp(a, 5000, 60) : ip4_tcp(a, 1, 40112, 25, 1000, 0x18, 100);
	cr_assert_gt(n, DEDUP_PREFIX + 16, "the tail beyond the prefix is covered");
	unsigned copies = 0;
	for (size_t off = 0; off < n; off++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			struct dedup *d = mk(64);
			cr_assert_not(seen(d, a, n, MS));
			memcpy(b, a, n);
			b[off] ^= (uint8_t)(1u << bit);
			bool want = may_change(v6, off, bit);
			cr_assert_eq(seen(d, b, n, MS + 1000), want, "IPv%d byte %zu bit %u: %s",
			             v6 ? 6 : 4, off, bit, want ? "should be a copy" : "is another packet");
			copies += want;
			dedup_free(d);
		}
	}
	cr_assert_eq(copies, v6 ? 16u : 32u);
}

Test(dedup, every_other_bit_is_compared_ipv4)
{
	every_bit(0);
}

Test(dedup, every_other_bit_is_compared_ipv6)
{
	every_bit(1);
}

Test(dedup, length_and_short_packets)
{
	uint8_t a[200];
	size_t n = ip4_tcp(a, 1, 40112, 25, 1000, 0x18, 100);
	struct dedup *d = mk(0);
	cr_assert_not(seen(d, a, n, MS));
	/* the same bytes with a zero byte more (another IP length) */
	uint8_t b[201];
	memcpy(b, a, n);
	b[n] = 0;
	cr_assert_not(seen(d, b, n + 1, MS + 1));
	/* a packet shorter than the prefix: a bare SYN */
	size_t m = ip4_tcp(a, 2, 40112, 25, 1000, 0x02, 0);
	cr_assert_lt(m, DEDUP_PREFIX);
	cr_assert_not(seen(d, a, m, MS + 2));
	cr_assert(seen(d, a, m, MS + 3));
	/* nothing at all */
	cr_assert_not(dedup_seen(d, bv_make(NULL, 0), 0, MS + 4));
	cr_assert_not(dedup_seen(d, bv_make(NULL, 0), 0, MS + 5));
	cr_assert_eq(st.c[CNT_DUP_SPAN], 1);
	dedup_free(d);
}

/*
 * Every IP length from a bare header to past the prefix, with a TCP
 * checksum (only the prefix is hashed) and as ICMP (no L4 checksum: the
 * tail is hashed too): the same bytes are a copy, a flip of any bit of the
 * last word, whole or not, is another packet.  The last bytes of the
 * prefix and of the tail are read as one word ending at them (rd_last()):
 * the guard pages around each packet make a read past either end fail.
 */
Test(dedup, every_length_and_its_last_bytes)
{
	for (int icmp = 0; icmp < 2; icmp++) {
		for (size_t n = 20; n <= DEDUP_PREFIX + 40; n++) {
			uint8_t a[200], b[200];
			memset(a, 0, sizeof(a));
			for (size_t i = 20; i < n; i++)
				a[i] = (uint8_t)(i * 37 + n);
			if (!icmp && n >= 40)
				put16(a + 36, 0x1234); /* a TCP checksum, not zero */
			ip4_hdr(a, icmp || n < 40 ? 1 : 6, n - 20, (unsigned)n, 0x4000, 0, 200, 10);
			for (size_t off = n > 28 ? n - 8 : 20; off < n; off++) {
				if (!icmp && n > DEDUP_PREFIX && n >= 40 && off >= DEDUP_PREFIX)
					continue; /* the checksum stands for these bytes */
				for (unsigned bit = 0; bit < 8; bit += 3) {
					struct dedup *d = mk(64);
					cr_assert_not(seen(d, a, n, MS));
					cr_assert(seen(d, a, n, MS + 1), "length %zu: the same bytes", n);
					memcpy(b, a, n);
					b[off] ^= (uint8_t)(1u << bit);
					cr_assert_not(seen(d, b, n, MS + 2), "%s length %zu byte %zu bit %u",
					              icmp ? "ICMP" : "TCP", n, off, bit);
					dedup_free(d);
				}
			}
		}
	}
}

/* A snaplen cuts the tagged copy 4 bytes earlier than the untagged one. */
Test(dedup, snapped_copies)
{
	uint8_t a[400];
	size_t n = ip4_tcp(a, 1, 40112, 25, 1000, 0x18, 300);
	struct dedup *d = mk(0);
	cr_assert_not(seen_cap(d, a, 100, n, MS));
	cr_assert(seen_cap(d, a, 96, n, MS + 1000), "snapped 4 bytes earlier");
	cr_assert(seen_cap(d, a, n, n, MS + 2000), "whole, against a snapped one");
	/* snapped copies agree on the prefix only: a later difference is not seen */
	a[90] ^= 1;
	cr_assert(seen_cap(d, a, 96, n, MS + 3000));
	/* but the prefix and the IP length are still compared */
	a[30] ^= 1;
	cr_assert_not(seen_cap(d, a, 96, n, MS + 4000));
	a[30] ^= 1;
	cr_assert_not(seen_cap(d, a, 96, n + 1, MS + 5000), "another IP length");
	/* snapped inside the prefix: never taken for a copy */
	cr_assert_not(seen_cap(d, a, 40, n, MS + 6000));
	cr_assert_not(seen_cap(d, a, 40, n, MS + 7000));
	dedup_free(d);
}

Test(dedup, table_size_is_bounded)
{
	static const uint32_t want[][2] = {{5, 8}, {1, 4}, {4, 4}, {200, 256}, {0, 256}, {100000, 256}};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct dedup *d = mk(want[i][0]);
		cr_assert_eq(dedup_capacity(d), want[i][1], "entries %u", want[i][0]);
		dedup_free(d);
	}
	/* a flood of new packets within one window grows it to its bound, no further */
	uint8_t a[200];
	static const uint32_t max[] = {1024, 0, 0xffffffffu};
	static const uint32_t got[] = {1024, 65536, 1u << 20};
	for (size_t i = 0; i < 3; i++) {
		struct dedup *d = mk(max[i]);
		for (unsigned k = 0; k < 300000; k++) {
			size_t n = ip4_tcp(a, k, 40112, 25, 7 * k, 0x10, 0);
			dedup_seen(d, bv_make(a, n), (uint32_t)n, MS + k / 100);
		}
		cr_assert_eq(dedup_capacity(d), got[i], "entries %u", max[i]);
		cr_assert_gt(st.c[CNT_DUP_TABLE_FULL], 0);
		dedup_free(d);
	}
}

Test(dedup, growth_keeps_what_is_in_the_window)
{
	uint8_t a[200], x[200];
	size_t na = ip4_tcp(a, 1, 40112, 25, 1, 0x18, 100);
	struct dedup *d = mk(0);
	cr_assert_not(seen(d, a, na, MS));
	/* 32 new packets in the window fill an eighth of 256: no growth yet */
	for (unsigned k = 0; k < 31; k++) {
		size_t n = ip4_tcp(x, k, 40112, 26, k, 0x10, 0);
		cr_assert_not(seen(d, x, n, MS + k));
	}
	cr_assert_eq(dedup_capacity(d), 256);
	size_t n = ip4_tcp(x, 99, 40112, 26, 99, 0x10, 0);
	cr_assert_not(seen(d, x, n, MS + 100));
	cr_assert_eq(dedup_capacity(d), 512, "the 33rd doubles it");
	cr_assert(seen(d, a, na, MS + 200), "a fingerprint from before the growth");
	cr_assert(seen(d, x, n, MS + 300), "the one that made it grow");
	/* the same number spread over several windows does not grow it */
	struct dedup *e = mk(0);
	for (unsigned k = 0; k < 1000; k++) {
		n = ip4_tcp(x, k, 40112, 26, k, 0x10, 0);
		cr_assert_not(seen(e, x, n, k * (WINDOW / 30)));
	}
	cr_assert_eq(dedup_capacity(e), 256);
	dedup_free(e);
	dedup_free(d);
}

Test(dedup, eviction)
{
	uint8_t a[200];
	size_t n;
	struct dedup *d = mk(8); /* two buckets of four */
	cr_assert_eq(dedup_capacity(d), 8);
	/* 100 different packets within one window: the table keeps 8 */
	for (unsigned i = 0; i < 100; i++) {
		n = ip4_tcp(a, i, 40112, 25, 1000 + i, 0x18, 10);
		cr_assert_not(seen(d, a, n, MS + i));
	}
	cr_assert_eq(st.c[CNT_DUP_TABLE_FULL], 92);
	/* the newest is remembered, the oldest was evicted: its copy gets through */
	n = ip4_tcp(a, 99, 40112, 25, 1099, 0x18, 10);
	cr_assert(seen(d, a, n, MS + 200));
	n = ip4_tcp(a, 0, 40112, 25, 1000, 0x18, 10);
	cr_assert_not(seen(d, a, n, MS + 201));
	/* expired fingerprints make room without an eviction */
	memset(&st, 0, sizeof(st));
	for (unsigned i = 0; i < 100; i++) {
		n = ip4_tcp(a, 1000 + i, 40112, 25, 5000 + i, 0x18, 10);
		cr_assert_not(seen(d, a, n, 100 * MS + i * (WINDOW + 1)));
	}
	cr_assert_eq(st.c[CNT_DUP_TABLE_FULL], 0);
	cr_assert_eq(st.c[CNT_DUP_SPAN], 0);
	dedup_free(d);
}

/* ---- the capture pipeline on a mirror port ------------------------------ */

struct rec {
	unsigned opens, closes, datagrams;
	size_t n[2];
	char data[2][256];
	unsigned dgram_len[8];
};

static struct rec R;

static void
on_open(void *ctx, struct cap_flow *f, uint64_t ts)
{
	R.opens++;
}

static void
on_data(void *ctx, struct cap_flow *f, enum cap_dir d, const uint8_t *p, size_t n, uint64_t ts)
{
	cr_assert_leq(R.n[d] + n, sizeof(R.data[d]) - 1);
	memcpy(R.data[d] + R.n[d], p, n);
	R.n[d] += n;
}

static void
on_close(void *ctx, struct cap_flow *f, enum cap_close why, uint64_t ts)
{
	R.closes++;
}

static void
on_datagram(void *ctx, const struct decoded *p)
{
	if (R.datagrams < 8)
		R.dgram_len[R.datagrams] = (unsigned)p->payload.len;
	R.datagrams++;
}

static const struct cap_ops OPS = {
    .open = on_open, .data = on_data, .close = on_close, .datagram = on_datagram};

static struct capture *
mkcap(uint64_t window_ns)
{
	memset(&R, 0, sizeof(R));
	struct capture_cfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.dedup.window_ns = window_ns;
	struct capture *c = capture_new(&cfg, &OPS);
	cr_assert_not_null(c);
	return c;
}

/* one Ethernet frame (VLAN vid when non-zero) around an IP packet */
static void
feed_frame(struct capture *c, int vid, const uint8_t *ip, size_t n, uint64_t ts)
{
	static const uint8_t mac[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
	uint8_t f[1600];
	size_t o = 12;
	cr_assert_leq(n + 18, sizeof(f));
	memcpy(f, mac, 12);
	if (vid) {
		put16(f + o, 0x8100);
		put16(f + o + 2, (unsigned)vid);
		o += 4;
	}
	put16(f + o, (ip[0] >> 4) == 6 ? 0x86dd : 0x0800);
	memcpy(f + o + 2, ip, n);
	struct pkt k = {.ts_ns = ts, .caplen = (uint32_t)(o + 2 + n), .wirelen = (uint32_t)(o + 2 + n),
	                .dlt = DLT_EN10MB, .data = f};
	capture_packet(c, &k);
}

/*
 * The copy a mirror port adds: tagged with VLAN 10, routed (TTL / hop
 * limit one lower), 3 us later; with tagged_first, the tagged copy comes
 * at ts and the untagged one 3 us later.
 */
static void
span(struct capture *c, const uint8_t *ip, size_t n, uint64_t ts, int tagged_first)
{
	uint8_t r[1600];
	memcpy(r, ip, n);
	if ((r[0] >> 4) == 4) {
		r[8]--;
		ip4_csum(r);
	} else {
		r[7]--;
	}
	feed_frame(c, tagged_first ? 10 : 0, tagged_first ? r : ip, n, ts);
	feed_frame(c, tagged_first ? 0 : 10, tagged_first ? ip : r, n, ts + 3000);
}

/* IPv4 + UDP, 192.0.2.10:33000 -> 198.51.100.53:53 */
static size_t
ip4_udp(uint8_t *b, unsigned id, const char *payload)
{
	size_t n = strlen(payload);
	ip4_hdr(b, 17, 8 + n, id, 0, 1, 10, 53);
	put16(b + 20, 33000);
	put16(b + 22, 53);
	put16(b + 24, (unsigned)(8 + n));
	put16(b + 26, 0);
	memcpy(b + 28, payload, n);
	return 28 + n;
}

Test(dedup, mirror_port_session_is_one_flow_and_one_query)
{
	struct capture *c = mkcap(0);
	uint8_t p[400];
	uint64_t t = 1000 * MS;
	int k = 0;
	/* client 192.0.2.200:40112 -> server 192.0.2.10:25 */
	static const struct {
		int from_client;
		unsigned flags;
		const char *data;
	} conv[] = {
	    {1, 0x02, ""}, {0, 0x12, ""}, {1, 0x10, ""}, {0, 0x18, "220 mx ESMTP\r\n"},
	    {1, 0x18, "QUIT\r\n"}, {0, 0x19, "221 bye\r\n"}, {1, 0x11, ""},
	};
	uint32_t seq[2] = {1000, 9000}; /* [0] client, [1] server */
	for (size_t i = 0; i < sizeof(conv) / sizeof(conv[0]); i++) {
		int s = conv[i].from_client ? 0 : 1;
		size_t dl = strlen(conv[i].data);
		size_t n;
		uint8_t *l4 = p + 20;
		if (s == 0)
			n = ip4_tcp(p, 100 + (unsigned)i, 40112, 25, seq[0], conv[i].flags, 0);
		else
			n = ip4_tcp(p, 200 + (unsigned)i, 40112, 25, seq[1], conv[i].flags, 0);
		if (s == 1) { /* swap the addresses and ports: server to client */
			uint8_t tmp[4];
			memcpy(tmp, p + 12, 4);
			memcpy(p + 12, p + 16, 4);
			memcpy(p + 16, tmp, 4);
			put16(l4, 25);
			put16(l4 + 2, 40112);
		}
		put32(l4 + 8, seq[!s]);
		memcpy(l4 + 32, conv[i].data, dl);
		n += dl;
		put16(p + 2, (unsigned)n);
		ip4_csum(p);
		span(c, p, n, t, k++ % 3 == 1);
		seq[s] += (uint32_t)dl + ((conv[i].flags & 0x03) ? 1 : 0);
		t += 20 * MS;
	}
	/* a DNS query, its copy, and its retransmission 1 s later (counted) */
	size_t n = ip4_udp(p, 7, "\x12\x34query");
	span(c, p, n, t, 1);
	n = ip4_udp(p, 8, "\x12\x34query");
	span(c, p, n, t + 1000 * MS, 0);
	cr_assert_eq(capture_now(c), t + 1000 * MS, "a dropped copy does not move the clock");
	capture_finish(c);
	cr_assert_eq(R.opens, 1, "one flow for the tagged and untagged packets");
	cr_assert_eq(R.closes, 1);
	cr_assert_eq(R.n[DIR_S2C], 23);
	cr_assert(memcmp(R.data[DIR_S2C], "220 mx ESMTP\r\n221 bye\r\n", 23) == 0);
	cr_assert_eq(R.n[DIR_C2S], 6);
	cr_assert_eq(R.datagrams, 2, "the query and its retransmission, not their copies");
	struct cap_stats *cs = capture_stats(c);
	cr_assert_eq(cs->c[CNT_DUP_SPAN], 9);
	cr_assert_eq(cs->c[CNT_FLOWS], 1);
	cr_assert_eq(cs->c[CNT_TCP_RETRANSMIT], 0);
	cr_assert_eq(cs->c[CNT_TCP_SYN_RETX], 0);
	cr_assert_eq(cs->c[CNT_TCP], 7);
	cr_assert_eq(cs->c[CNT_UDP], 2);
	capture_free(c);
}

/* ---- fragments ------------------------------------------------------------ */

#define FRAG_N 3
static const unsigned F_OFF[FRAG_N] = {0, 80, 160}, F_LEN[FRAG_N] = {80, 80, 48};

/* fragment i of a 208-byte UDP datagram (IPv4 or IPv6 with a Fragment header) */
static size_t
frag(uint8_t *b, int v6, int i)
{
	uint8_t l4[208];
	for (int k = 0; k < 208; k++)
		l4[k] = (uint8_t)(k * 13);
	put16(l4, 53);
	put16(l4 + 2, 40000);
	put16(l4 + 4, 208);
	put16(l4 + 6, 0);
	int more = i < FRAG_N - 1;
	if (!v6) {
		ip4_hdr(b, 17, F_LEN[i], 0x4242, (more ? 0x2000u : 0) | F_OFF[i] / 8, 1, 1, 53);
		memcpy(b + 20, l4 + F_OFF[i], F_LEN[i]);
		return 20 + F_LEN[i];
	}
	memset(b, 0, 48);
	put32(b, 0x60000000);
	put16(b + 4, 8 + F_LEN[i]);
	b[6] = 44;
	b[7] = 64;
	b[8] = 0x20, b[9] = 0x01, b[23] = 1;
	b[24] = 0x20, b[25] = 0x01, b[39] = 0x53;
	b[40] = 17;
	put16(b + 42, F_OFF[i] | (more ? 1u : 0));
	put32(b + 44, 0x42424242);
	memcpy(b + 48, l4 + F_OFF[i], F_LEN[i]);
	return 48 + F_LEN[i];
}

/* order: 0 each fragment followed by its copy, 1 all originals then all
 * copies, 2 copies first; tagged copies first on odd fragments */
static void
span_fragments(struct capture *c, int v6, int order, uint64_t t)
{
	uint8_t b[FRAG_N][300], r[300];
	size_t n[FRAG_N];
	for (int i = 0; i < FRAG_N; i++)
		n[i] = frag(b[i], v6, i);
	for (int pass = 0; pass < (order == 0 ? 1 : 2); pass++) {
		for (int i = 0; i < FRAG_N; i++) {
			uint64_t ts = t + (uint64_t)i * 100000 + (uint64_t)pass * 50000;
			if (order == 0) {
				span(c, b[i], n[i], ts, i & 1);
				continue;
			}
			memcpy(r, b[i], n[i]);
			if (v6)
				r[7]--;
			else
				r[8]--, ip4_csum(r);
			int copy = pass == (order == 1 ? 1 : 0);
			feed_frame(c, copy ? 10 : 0, copy ? r : b[i], n[i], ts);
		}
	}
}

static void
fragments_case(int v6, int order, uint64_t window, unsigned want_datagrams, unsigned want_timeouts)
{
	struct capture *c = mkcap(window);
	span_fragments(c, v6, order, 1000 * MS);
	/* a packet 40 s later: a datagram still in reassembly times out */
	uint8_t p[200];
	size_t n = ip4_udp(p, 1, "\x00\x01late");
	feed_frame(c, 0, p, n, 41000 * MS);
	capture_finish(c);
	struct cap_stats *cs = capture_stats(c);
	cr_assert_eq(R.datagrams, want_datagrams + 1, "IPv%d order %d: %u datagrams", v6 ? 6 : 4,
	             order, R.datagrams - 1);
	cr_assert_eq(R.dgram_len[0], 200);
	cr_assert_eq(cs->c[CNT_FRAG_REASSEMBLED], want_datagrams);
	cr_assert_eq(cs->c[CNT_FRAG_TIMEOUT], want_timeouts, "IPv%d order %d", v6 ? 6 : 4, order);
	cr_assert_eq(cs->c[CNT_FRAG_BAD], 0);
	cr_assert_eq(cs->c[CNT_DUP_SPAN], window > 1 || window == 0 ? FRAG_N : 0);
	capture_free(c);
}

/* dedup runs on each fragment, before reassembly: one datagram, nothing left over */
Test(dedup, duplicate_fragments_make_one_datagram)
{
	for (int v6 = 0; v6 < 2; v6++)
		for (int order = 0; order < 3; order++)
			fragments_case(v6, order, 0, 1, 0);
}

/* The same without suppression (a 1 ns window): what the copies would do. */
Test(dedup, fragment_copies_without_suppression)
{
	for (int v6 = 0; v6 < 2; v6++) {
		/* the last fragment's copy opens a datagram that never completes */
		fragments_case(v6, 0, 1, 1, 1);
		/* the copies make a second datagram */
		fragments_case(v6, 1, 1, 2, 0);
		fragments_case(v6, 2, 1, 2, 0);
	}
}
