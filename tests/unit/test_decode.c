/*
 * test_decode.c - link/IP/L4 decoder and IP fragment reassembly.
 *
 * Packets are built byte by byte here; every valid case also runs as
 * truncated twins (every prefix, in an exact-size heap copy so ASan sees
 * any over-read).
 */
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "capture/decode.h"
#include "capture/ipfrag.h"

/* ---------------------------------------------------------- builders -- */

struct pb {
	uint8_t b[4096];
	size_t n;
};

static void
u8(struct pb *p, unsigned v)
{
	cr_assert(p->n < sizeof(p->b));
	p->b[p->n++] = (uint8_t)v;
}

static void
be16(struct pb *p, unsigned v)
{
	u8(p, v >> 8);
	u8(p, v);
}

static void
be32(struct pb *p, uint32_t v)
{
	be16(p, v >> 16);
	be16(p, v & 0xffff);
}

static void
le32(struct pb *p, uint32_t v)
{
	u8(p, v);
	u8(p, v >> 8);
	u8(p, v >> 16);
	u8(p, v >> 24);
}

static void
bytes(struct pb *p, const void *src, size_t n)
{
	cr_assert(p->n + n <= sizeof(p->b));
	if (n)
		memcpy(p->b + p->n, src, n);
	p->n += n;
}

static const uint8_t SRC4[4] = {192, 0, 2, 1}, DST4[4] = {192, 0, 2, 10};
static const uint8_t SRC6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t DST6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x10};

/* tags: pairs of (tpid, vid) */
static void
eth(struct pb *p, unsigned type, const unsigned *tags, int ntags)
{
	static const uint8_t mac[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
	bytes(p, mac, 12);
	for (int i = 0; i < ntags; i++) {
		be16(p, tags[2 * i]);
		be16(p, tags[2 * i + 1]);
	}
	be16(p, type);
}

static void
sll(struct pb *p, unsigned proto)
{
	be16(p, 0); /* packet type: to us */
	be16(p, 1); /* ARPHRD_ETHER */
	be16(p, 6); /* address length */
	for (int i = 0; i < 8; i++)
		u8(p, i);
	be16(p, proto);
}

static void
sll2(struct pb *p, unsigned proto)
{
	be16(p, proto);
	be16(p, 0); /* reserved */
	be32(p, 3); /* ifindex */
	be16(p, 1); /* ARPHRD_ETHER */
	u8(p, 0);   /* packet type */
	u8(p, 6);   /* address length */
	for (int i = 0; i < 8; i++)
		u8(p, i);
}

/* IPv4 header; optlen (multiple of 4) bytes of NOP options */
static void
ip4(struct pb *p, unsigned proto, size_t l4len, unsigned optlen, unsigned id, unsigned ff)
{
	unsigned hl = 20 + optlen;
	u8(p, 0x40 | hl / 4);
	u8(p, 0);
	be16(p, (unsigned)(hl + l4len));
	be16(p, id);
	be16(p, ff);
	u8(p, 64);
	u8(p, proto);
	be16(p, 0);
	bytes(p, SRC4, 4);
	bytes(p, DST4, 4);
	for (unsigned i = 0; i < optlen; i++)
		u8(p, 1);
}

static void
ip6(struct pb *p, unsigned nh, size_t plen)
{
	be32(p, 0x60000000);
	be16(p, (unsigned)plen);
	u8(p, nh);
	u8(p, 64);
	bytes(p, SRC6, 16);
	bytes(p, DST6, 16);
}

/* one extension header of n bytes (kind 51 uses the AH length rule) */
static void
ext6(struct pb *p, unsigned kind, unsigned nh, unsigned n)
{
	u8(p, nh);
	u8(p, kind == 51 ? n / 4 - 2 : n / 8 - 1);
	for (unsigned i = 2; i < n; i++)
		u8(p, kind == 51 ? 0xaa : 0);
}

static void
frag6(struct pb *p, unsigned nh, unsigned off, int more, uint32_t id)
{
	u8(p, nh);
	u8(p, 0);
	be16(p, off | (more ? 1 : 0));
	be32(p, id);
}

static void
tcp(struct pb *p, unsigned sport, unsigned dport, uint32_t seq, uint32_t ack, unsigned flags,
    unsigned win, unsigned optlen, const void *pl, size_t n)
{
	be16(p, sport);
	be16(p, dport);
	be32(p, seq);
	be32(p, ack);
	u8(p, ((20 + optlen) / 4) << 4);
	u8(p, flags);
	be16(p, win);
	be16(p, 0);
	be16(p, 0);
	for (unsigned i = 0; i < optlen; i++)
		u8(p, 1);
	bytes(p, pl, n);
}

static void
udp(struct pb *p, unsigned sport, unsigned dport, const void *pl, size_t n, int lenfield)
{
	be16(p, sport);
	be16(p, dport);
	be16(p, lenfield >= 0 ? (unsigned)lenfield : (unsigned)(8 + n));
	be16(p, 0);
	bytes(p, pl, n);
}

static const char SMTP[] = "220 mail.example.org ESMTP\r\n";
#define SMTP_N (sizeof(SMTP) - 1)
static const char DNSQ[] = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00";
#define DNSQ_N (sizeof(DNSQ) - 1)

/* ----------------------------------------------------------- fixture -- */

static struct cap_stats st;
static struct decoder *dec;

static void
setup(void)
{
	memset(&st, 0, sizeof(st));
	dec = decoder_new(NULL, &st);
	cr_assert_not_null(dec);
}

static void
teardown(void)
{
	decoder_free(dec);
	dec = NULL;
}

TestSuite(decode, .init = setup, .fini = teardown);

static enum decode_rc
run(int dlt, const struct pb *p, uint64_t ts, struct decoded *o)
{
	struct pkt k = {.ts_ns = ts,
	                .caplen = (uint32_t)p->n,
	                .wirelen = (uint32_t)p->n,
	                .dlt = dlt,
	                .data = p->b};
	return decode_packet(dec, &k, o);
}

static enum decode_rc
run_cap(int dlt, const struct pb *p, size_t caplen, uint64_t ts, struct decoded *o)
{
	struct pkt k = {.ts_ns = ts,
	                .caplen = (uint32_t)caplen,
	                .wirelen = (uint32_t)p->n,
	                .dlt = dlt,
	                .data = p->b};
	return decode_packet(dec, &k, o);
}

/*
 * Every prefix of p, in an exact-size heap copy: must be DEC_SKIP or
 * DEC_OK with views inside the copy and a payload no longer than full.
 */
static bool twins_allow_pending; /* fragments may be stored when snapped */

static void
truncated_twins(int dlt, const struct pb *p, size_t full_payload)
{
	for (size_t n = 0; n < p->n; n++) {
		struct cap_stats ts;
		memset(&ts, 0, sizeof(ts));
		struct decoder *d = decoder_new(NULL, &ts);
		uint8_t *copy = malloc(n ? n : 1);
		cr_assert_not_null(copy);
		memcpy(copy, p->b, n);
		struct pkt k = {.ts_ns = 1,
		                .caplen = (uint32_t)n,
		                .wirelen = (uint32_t)p->n,
		                .dlt = dlt,
		                .data = copy};
		struct decoded o;
		enum decode_rc rc = decode_packet(d, &k, &o);
		cr_assert(rc == DEC_SKIP || rc == DEC_OK ||
		              (twins_allow_pending && rc == DEC_PENDING),
		          "prefix %zu: rc %d", n, rc);
		if (rc == DEC_OK) {
			cr_assert(o.payload.len <= full_payload, "prefix %zu", n);
			cr_assert(o.payload.len <= o.payload_wirelen);
			if (o.payload.len) {
				cr_assert(o.payload.p >= copy);
				cr_assert(o.payload.p + o.payload.len <= copy + n);
			}
			cr_assert(o.l3.p >= copy && o.l3.p + o.l3.len <= copy + n);
		}
		free(copy);
		decoder_free(d);
	}
}

static void
assert_v4(const struct decoded *o)
{
	cr_assert_eq(o->src.family, 4);
	cr_assert_eq(memcmp(o->src.a, SRC4, 4), 0);
	cr_assert_eq(memcmp(o->dst.a, DST4, 4), 0);
}

static void
assert_v6(const struct decoded *o)
{
	cr_assert_eq(o->src.family, 6);
	cr_assert_eq(memcmp(o->src.a, SRC6, 16), 0);
	cr_assert_eq(memcmp(o->dst.a, DST6, 16), 0);
}

static void
assert_smtp_tcp(const struct decoded *o)
{
	cr_assert_eq(o->l4proto, 6);
	cr_assert_eq(o->sport, 25);
	cr_assert_eq(o->dport, 40112);
	cr_assert_eq(o->seq, 0x01020304u);
	cr_assert_eq(o->ack, 0xa0b0c0d0u);
	cr_assert_eq(o->tcp_flags, TCPF_PSH | TCPF_ACK);
	cr_assert_eq(o->win, 29200);
	cr_assert_eq(o->payload.len, SMTP_N);
	cr_assert_eq(o->payload_wirelen, SMTP_N);
	cr_assert_eq(memcmp(o->payload.p, SMTP, SMTP_N), 0);
}

static void
smtp_tcp(struct pb *p, unsigned optlen)
{
	tcp(p, 25, 40112, 0x01020304u, 0xa0b0c0d0u, TCPF_PSH | TCPF_ACK, 29200, optlen, SMTP,
	    SMTP_N);
}

/* -------------------------------------------------------- link layer -- */

Test(decode, ether_ipv4_tcp_with_options)
{
	struct pb p = {.n = 0};
	eth(&p, 0x0800, NULL, 0);
	ip4(&p, 6, 32 + SMTP_N, 8, 7, 0x4000);
	smtp_tcp(&p, 12);
	struct decoded o;
	cr_assert_eq(run(DLT_EN10MB, &p, 42, &o), DEC_OK);
	assert_v4(&o);
	assert_smtp_tcp(&o);
	cr_assert_eq(o.ts_ns, 42);
	cr_assert_eq(o.vlan, 0);
	cr_assert_eq(o.l3.p, p.b + 14);
	cr_assert_eq(o.l3.len, 28 + 32 + SMTP_N);
	cr_assert_eq(st.c[CNT_LINK_ETHER], 1);
	cr_assert_eq(st.c[CNT_IPV4], 1);
	truncated_twins(DLT_EN10MB, &p, SMTP_N);
}

Test(decode, ether_padding_is_trimmed)
{
	struct pb p = {.n = 0};
	eth(&p, 0x0800, NULL, 0);
	ip4(&p, 6, 20, 0, 1, 0);
	tcp(&p, 25, 1025, 1, 0, TCPF_SYN, 1000, 0, NULL, 0);
	for (int i = 0; i < 6; i++)
		u8(&p, 0xee); /* minimum frame padding */
	struct decoded o;
	cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), DEC_OK);
	cr_assert_eq(o.payload.len, 0);
	cr_assert_eq(o.payload_wirelen, 0);
	cr_assert_eq(o.l3.len, 40);
	cr_assert_eq(o.tcp_flags, TCPF_SYN);
}

Test(decode, vlan_qinq_and_9100)
{
	static const unsigned one[] = {0x8100, 0x2000 | 42};
	static const unsigned qinq[] = {0x88a8, 100, 0x8100, 200};
	static const unsigned old[] = {0x9100, 7, 0x9100, 8, 0x8100, 9};
	const unsigned *stacks[] = {one, qinq, old};
	int counts[] = {1, 2, 3};
	unsigned want[] = {42, 100, 7};
	for (int i = 0; i < 3; i++) {
		struct pb p = {.n = 0};
		eth(&p, 0x86dd, stacks[i], counts[i]);
		ip6(&p, 17, 8 + DNSQ_N);
		udp(&p, 5353, 53, DNSQ, DNSQ_N, -1);
		struct decoded o;
		cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), DEC_OK);
		cr_assert_eq(o.vlan, want[i]);
		assert_v6(&o);
		cr_assert_eq(o.l4proto, 17);
		cr_assert_eq(o.sport, 5353);
		cr_assert_eq(o.dport, 53);
		cr_assert_eq(o.payload.len, DNSQ_N);
		cr_assert_eq(o.l3.p, p.b + 14 + 4 * counts[i]);
		truncated_twins(DLT_EN10MB, &p, DNSQ_N);
	}
	cr_assert_eq(st.c[CNT_LINK_VLAN], 3);
}

Test(decode, too_many_vlan_tags)
{
	unsigned tags[2 * 12];
	for (int i = 0; i < 12; i++) {
		tags[2 * i] = 0x8100;
		tags[2 * i + 1] = (unsigned)i + 1;
	}
	struct pb p = {.n = 0};
	eth(&p, 0x0800, tags, 12);
	ip4(&p, 17, 8, 0, 1, 0);
	udp(&p, 1, 2, NULL, 0, -1);
	struct decoded o;
	cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), DEC_SKIP);
}

Test(decode, linux_sll_and_sll2)
{
	struct pb p = {.n = 0};
	sll(&p, 0x0800);
	ip4(&p, 17, 8 + DNSQ_N, 4, 9, 0);
	udp(&p, 40000, 53, DNSQ, DNSQ_N, -1);
	struct decoded o;
	cr_assert_eq(run(DLT_LINUX_SLL, &p, 1, &o), DEC_OK);
	assert_v4(&o);
	cr_assert_eq(o.dport, 53);
	cr_assert_eq(o.payload.len, DNSQ_N);
	cr_assert_eq(memcmp(o.payload.p, DNSQ, DNSQ_N), 0);
	truncated_twins(DLT_LINUX_SLL, &p, DNSQ_N);

	struct pb q = {.n = 0};
	sll(&q, 0x8100);
	be16(&q, 55);
	be16(&q, 0x86dd);
	ip6(&q, 6, 20 + SMTP_N);
	smtp_tcp(&q, 0);
	cr_assert_eq(run(DLT_LINUX_SLL, &q, 1, &o), DEC_OK);
	cr_assert_eq(o.vlan, 55);
	assert_v6(&o);
	assert_smtp_tcp(&o);
	truncated_twins(DLT_LINUX_SLL, &q, SMTP_N);

	struct pb r = {.n = 0};
	sll2(&r, 0x86dd);
	ip6(&r, 6, 20 + SMTP_N);
	smtp_tcp(&r, 0);
	cr_assert_eq(run(DLT_LINUX_SLL2, &r, 1, &o), DEC_OK);
	assert_v6(&o);
	assert_smtp_tcp(&o);
	cr_assert_eq(o.l3.p, r.b + 20);
	truncated_twins(DLT_LINUX_SLL2, &r, SMTP_N);

	struct pb s = {.n = 0};
	sll2(&s, 0x8100);
	be16(&s, 77);
	be16(&s, 0x0800);
	ip4(&s, 6, 20 + SMTP_N, 0, 1, 0);
	smtp_tcp(&s, 0);
	cr_assert_eq(run(DLT_LINUX_SLL2, &s, 1, &o), DEC_OK);
	cr_assert_eq(o.vlan, 77);
	assert_smtp_tcp(&o);
	cr_assert_eq(st.c[CNT_LINK_SLL], 2);
	cr_assert_eq(st.c[CNT_LINK_SLL2], 2);
}

Test(decode, bsd_null_and_loop)
{
	struct {
		int dlt;
		uint32_t af;
		int le;
		int v6;
	} cases[] = {
	    {DLT_NULL, 2, 1, 0},  {DLT_NULL, 2, 0, 0}, {DLT_NULL, 24, 1, 1}, {DLT_NULL, 28, 0, 1},
	    {DLT_NULL, 30, 1, 1}, {DLT_LOOP, 2, 0, 0}, {DLT_LOOP, 30, 0, 1}, {DLT_LOOP, 24, 0, 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pb p = {.n = 0};
		if (cases[i].le)
			le32(&p, cases[i].af);
		else
			be32(&p, cases[i].af);
		if (cases[i].v6)
			ip6(&p, 6, 20 + SMTP_N);
		else
			ip4(&p, 6, 20 + SMTP_N, 0, 1, 0);
		smtp_tcp(&p, 0);
		struct decoded o;
		cr_assert_eq(run(cases[i].dlt, &p, 1, &o), DEC_OK, "case %zu", i);
		if (cases[i].v6)
			assert_v6(&o);
		else
			assert_v4(&o);
		assert_smtp_tcp(&o);
		truncated_twins(cases[i].dlt, &p, SMTP_N);
	}
	/* LOOP is network order only: a little-endian 2 is not IPv4 */
	struct pb p = {.n = 0};
	le32(&p, 2);
	ip4(&p, 6, 20, 0, 1, 0);
	tcp(&p, 1, 2, 0, 0, TCPF_SYN, 0, 0, NULL, 0);
	struct decoded o;
	cr_assert_eq(run(DLT_LOOP, &p, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_NON_IP], 1);
}

Test(decode, raw_ip_link_types)
{
	int raw[] = {12, 14, 101, DLT_RAW};
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		struct pb p4 = {.n = 0}, p6 = {.n = 0};
		ip4(&p4, 6, 20 + SMTP_N, 0, 1, 0);
		smtp_tcp(&p4, 0);
		ip6(&p6, 6, 20 + SMTP_N);
		smtp_tcp(&p6, 0);
		struct decoded o;
		cr_assert_eq(run(raw[i], &p4, 1, &o), DEC_OK);
		assert_v4(&o);
		cr_assert_eq(o.l3.p, p4.b);
		cr_assert_eq(run(raw[i], &p6, 1, &o), DEC_OK);
		assert_v6(&o);
		truncated_twins(raw[i], &p4, SMTP_N);
		truncated_twins(raw[i], &p6, SMTP_N);
	}
	struct pb p4 = {.n = 0}, p6 = {.n = 0};
	ip4(&p4, 17, 8, 0, 1, 0);
	udp(&p4, 1, 53, NULL, 0, -1);
	ip6(&p6, 17, 8);
	udp(&p6, 1, 53, NULL, 0, -1);
	struct decoded o;
	cr_assert_eq(run(DLT_IPV4, &p4, 1, &o), DEC_OK);
	cr_assert_eq(run(DLT_IPV6, &p6, 1, &o), DEC_OK);
	cr_assert_eq(run(DLT_IPV4, &p6, 1, &o), DEC_SKIP);
	cr_assert_eq(run(DLT_IPV6, &p4, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_ERR_BAD_IP_VERSION], 2);
	p4.b[0] = 0x55;
	cr_assert_eq(run(DLT_RAW, &p4, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_ERR_BAD_IP_VERSION], 3);
}

Test(decode, unsupported_and_non_ip)
{
	struct pb p = {.n = 0};
	eth(&p, 0x0806, NULL, 0); /* ARP */
	for (int i = 0; i < 28; i++)
		u8(&p, 0);
	struct decoded o;
	cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_NON_IP], 1);
	cr_assert_eq(run(105 /* 802.11 */, &p, 1, &o), DEC_SKIP);
	cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), DEC_SKIP);
	cr_assert_eq(run(9999, &p, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_LINK_UNSUPPORTED], 2);
	cr_assert_eq(st.c[CNT_NON_IP], 2);
	/* ICMP is IP but not TCP/UDP */
	struct pb q = {.n = 0};
	ip4(&q, 1, 8, 0, 1, 0);
	for (int i = 0; i < 8; i++)
		u8(&q, 0);
	cr_assert_eq(run(DLT_RAW, &q, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_IP_OTHER_PROTO], 1);
}

/* ---------------------------------------------------------------- IP -- */

Test(decode, ipv4_header_checks)
{
	struct decoded o;
	struct pb p = {.n = 0};
	ip4(&p, 6, 20, 0, 1, 0);
	tcp(&p, 1, 2, 0, 0, TCPF_SYN, 0, 0, NULL, 0);
	p.b[0] = 0x44; /* IHL 4 */
	cr_assert_eq(run(DLT_RAW, &p, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_ERR_BAD_IP_HLEN], 1);
	p.b[0] = 0x4f; /* IHL 15 = 60 bytes > 40 captured */
	cr_assert_eq(run(DLT_RAW, &p, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_ERR_TRUNC_IP], 1);
	p.b[0] = 0x45;
	p.b[2] = 0;
	p.b[3] = 10; /* total length < header */
	cr_assert_eq(run(DLT_RAW, &p, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_ERR_BAD_IP_LEN], 1);
	p.b[3] = 0; /* 0: offloaded, use what was captured */
	cr_assert_eq(run(DLT_RAW, &p, 1, &o), DEC_OK);
}

Test(decode, snapped_payload_is_clamped)
{
	struct pb p = {.n = 0};
	eth(&p, 0x0800, NULL, 0);
	ip4(&p, 6, 20 + SMTP_N, 0, 1, 0);
	smtp_tcp(&p, 0);
	struct decoded o;
	cr_assert_eq(run_cap(DLT_EN10MB, &p, 14 + 20 + 20 + 5, 1, &o), DEC_OK);
	cr_assert_eq(o.payload.len, 5);
	cr_assert_eq(o.payload_wirelen, SMTP_N);
	cr_assert_eq(memcmp(o.payload.p, "220 m", 5), 0);
	cr_assert_eq(st.c[CNT_ERR_IP_SNAPPED], 1);
	/* options snapped: header fields are still delivered, no payload */
	struct pb q = {.n = 0};
	ip4(&q, 6, 32 + SMTP_N, 0, 1, 0);
	smtp_tcp(&q, 12);
	cr_assert_eq(run_cap(DLT_RAW, &q, 20 + 24, 1, &o), DEC_OK);
	cr_assert_eq(o.payload.len, 0);
	cr_assert_eq(o.payload_wirelen, SMTP_N);
	cr_assert_eq(o.seq, 0x01020304u);
}

Test(decode, ipv6_extension_headers)
{
	struct pb p = {.n = 0};
	ip6(&p, 0, 16 + 24 + 8 + 16 + 20 + SMTP_N);
	ext6(&p, 0, 43, 16);
	ext6(&p, 43, 60, 24);
	ext6(&p, 60, 51, 8);
	ext6(&p, 51, 6, 16); /* AH: 16 bytes -> length field 2 */
	smtp_tcp(&p, 0);
	struct decoded o;
	cr_assert_eq(run(DLT_RAW, &p, 1, &o), DEC_OK);
	assert_v6(&o);
	assert_smtp_tcp(&o);
	cr_assert_eq(o.l3.len, p.n);
	truncated_twins(DLT_RAW, &p, SMTP_N);

	/* atomic fragment: offset 0, M 0 is just skipped */
	struct pb a = {.n = 0};
	ip6(&a, 44, 8 + 8 + DNSQ_N);
	frag6(&a, 17, 0, 0, 99);
	udp(&a, 53, 5353, DNSQ, DNSQ_N, -1);
	cr_assert_eq(run(DLT_RAW, &a, 1, &o), DEC_OK);
	cr_assert_eq(o.payload.len, DNSQ_N);
	cr_assert_eq(st.c[CNT_FRAGMENTS], 0);

	/* ESP and no-next-header: nothing to decode */
	struct pb e = {.n = 0};
	ip6(&e, 50, 16);
	for (int i = 0; i < 16; i++)
		u8(&e, 0);
	cr_assert_eq(run(DLT_RAW, &e, 1, &o), DEC_SKIP);
	struct pb nn = {.n = 0};
	ip6(&nn, 0, 8);
	ext6(&nn, 0, 59, 8);
	cr_assert_eq(run(DLT_RAW, &nn, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_IP_OTHER_PROTO], 2);

	/* an extension header longer than the payload length */
	struct pb b = {.n = 0};
	ip6(&b, 60, 8 + 8);
	ext6(&b, 60, 6, 64);
	cr_assert_eq(run(DLT_RAW, &b, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_ERR_BAD_IPV6_EXT], 1);

	/* an endless chain of destination options stops at the walk limit */
	struct pb c = {.n = 0};
	ip6(&c, 60, 40 * 8 + 20);
	for (int i = 0; i < 40; i++)
		ext6(&c, 60, 60, 8);
	for (int i = 0; i < 20; i++)
		u8(&c, 0);
	cr_assert_eq(run(DLT_RAW, &c, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_ERR_BAD_IPV6_EXT], 2);
}

/* ---------------------------------------------------------------- L4 -- */

Test(decode, tcp_and_udp_header_checks)
{
	struct decoded o;
	struct pb p = {.n = 0};
	ip4(&p, 6, 20, 0, 1, 0);
	tcp(&p, 1, 2, 0, 0, TCPF_SYN, 0, 0, NULL, 0);
	p.b[20 + 12] = 0x40; /* data offset 4 */
	cr_assert_eq(run(DLT_RAW, &p, 1, &o), DEC_SKIP);
	p.b[20 + 12] = 0xf0; /* 60 bytes > segment */
	cr_assert_eq(run(DLT_RAW, &p, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_ERR_BAD_TCP_HLEN], 2);

	struct pb t = {.n = 0};
	ip4(&t, 6, 10, 0, 1, 0);
	for (int i = 0; i < 10; i++)
		u8(&t, 0);
	cr_assert_eq(run(DLT_RAW, &t, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_ERR_TRUNC_TCP], 1);

	/* UDP length larger than the IP payload: counted, clamped */
	struct pb u = {.n = 0};
	ip4(&u, 17, 8 + DNSQ_N, 0, 1, 0);
	udp(&u, 1000, 53, DNSQ, DNSQ_N, 500);
	cr_assert_eq(run(DLT_RAW, &u, 1, &o), DEC_OK);
	cr_assert_eq(o.payload.len, DNSQ_N);
	cr_assert_eq(o.payload_wirelen, DNSQ_N);
	cr_assert_eq(st.c[CNT_ERR_BAD_UDP_LEN], 1);
	/* shorter than 8: bad too */
	u.b[20 + 4] = 0;
	u.b[20 + 5] = 3;
	cr_assert_eq(run(DLT_RAW, &u, 1, &o), DEC_OK);
	cr_assert_eq(st.c[CNT_ERR_BAD_UDP_LEN], 2);
	/* shorter than the IP payload: trailing bytes are not payload */
	u.b[20 + 5] = 8 + 4;
	cr_assert_eq(run(DLT_RAW, &u, 1, &o), DEC_OK);
	cr_assert_eq(o.payload.len, 4);
	cr_assert_eq(o.payload_wirelen, 4);
	cr_assert_eq(st.c[CNT_ERR_BAD_UDP_LEN], 2);
	cr_assert_eq(o.tcp_flags, 0);
	cr_assert_eq(o.seq, 0);

	struct pb v = {.n = 0};
	ip4(&v, 17, 5, 0, 1, 0);
	for (int i = 0; i < 5; i++)
		u8(&v, 0);
	cr_assert_eq(run(DLT_RAW, &v, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_ERR_TRUNC_UDP], 1);
}

/* --------------------------------------------------------- fragments -- */

#define FRAG_PL 200 /* UDP payload bytes */
static uint8_t l4full[8 + FRAG_PL];

static void
make_l4(void)
{
	struct pb p = {.n = 0};
	uint8_t pl[FRAG_PL];
	for (int i = 0; i < FRAG_PL; i++)
		pl[i] = (uint8_t)(i * 7 + 3);
	udp(&p, 53, 40000, pl, FRAG_PL, -1);
	memcpy(l4full, p.b, p.n);
}

/* Ethernet + IPv4 fragment carrying l4[off, off+len) */
static void
frag4(struct pb *p, const uint8_t *l4, unsigned off, unsigned len, int more, unsigned id,
      unsigned vid)
{
	p->n = 0;
	unsigned tag[] = {0x8100, vid};
	eth(p, 0x0800, tag, vid ? 1 : 0);
	ip4(p, 17, len, off == 0 ? 4 : 0, id, (more ? 0x2000 : 0) | off / 8);
	bytes(p, l4 + off, len);
}

/* IPv6 (+destination options before the fragment header) fragment */
static void
frag6pkt(struct pb *p, const uint8_t *l4, unsigned off, unsigned len, int more, uint32_t id)
{
	p->n = 0;
	eth(p, 0x86dd, NULL, 0);
	ip6(p, 60, 8 + 8 + len);
	ext6(p, 60, 44, 8);
	frag6(p, 17, off, more, id);
	bytes(p, l4 + off, len);
}

static void
assert_reassembled_udp(const struct decoded *o, int v6)
{
	cr_assert_eq(o->l4proto, 17);
	cr_assert_eq(o->sport, 53);
	cr_assert_eq(o->dport, 40000);
	cr_assert_eq(o->payload.len, FRAG_PL);
	cr_assert_eq(o->payload_wirelen, FRAG_PL);
	cr_assert_eq(memcmp(o->payload.p, l4full + 8, FRAG_PL), 0);
	if (v6) {
		assert_v6(o);
		cr_assert_eq(o->l3.len, 40 + 8 + 8 + FRAG_PL);
		cr_assert_eq(o->l3.p[4] << 8 | o->l3.p[5], 8 + 8 + FRAG_PL);
		cr_assert_eq(o->l3.p[40], 17); /* fragment header gone */
	} else {
		assert_v4(o);
		cr_assert_eq(o->l3.len, 24 + 8 + FRAG_PL);
		cr_assert_eq(o->l3.p[2] << 8 | o->l3.p[3], 24 + 8 + FRAG_PL);
		cr_assert_eq(o->l3.p[6] & 0x3f, 0);
		cr_assert_eq(o->l3.p[7], 0);
	}
}

/* three fragments: [0,80) [80,160) [160,208) */
static const unsigned F_OFF[] = {0, 80, 160}, F_LEN[] = {80, 80, 48};

Test(decode, ipv4_fragments_in_order)
{
	make_l4();
	struct decoded o;
	struct pb p;
	for (int i = 0; i < 3; i++) {
		frag4(&p, l4full, F_OFF[i], F_LEN[i], i < 2, 0x1234, 0);
		enum decode_rc rc = run(DLT_EN10MB, &p, 1000 + i, &o);
		cr_assert_eq(rc, i < 2 ? DEC_PENDING : DEC_OK);
	}
	assert_reassembled_udp(&o, 0);
	cr_assert_eq(o.ts_ns, 1002);
	cr_assert_eq(st.c[CNT_FRAGMENTS], 3);
	cr_assert_eq(st.c[CNT_FRAG_REASSEMBLED], 1);
	cr_assert_eq(st.c[CNT_IPV4], 3);
}

Test(decode, ipv4_fragments_reversed_with_vlan)
{
	make_l4();
	struct decoded o;
	struct pb p;
	for (int i = 2; i >= 0; i--) {
		frag4(&p, l4full, F_OFF[i], F_LEN[i], i < 2, 0x99, 12);
		cr_assert_eq(run(DLT_EN10MB, &p, 5, &o), i > 0 ? DEC_PENDING : DEC_OK);
	}
	assert_reassembled_udp(&o, 0);
	cr_assert_eq(o.vlan, 12);
	/* the VLAN is not part of the key: fragments of one datagram that a
	 * mirror port delivers under different tags (or none) reassemble */
	frag4(&p, l4full, 0, 80, 1, 0x99, 12);
	cr_assert_eq(run(DLT_EN10MB, &p, 6, &o), DEC_PENDING);
	frag4(&p, l4full, 80, 80, 1, 0x99, 0);
	cr_assert_eq(run(DLT_EN10MB, &p, 6, &o), DEC_PENDING);
	frag4(&p, l4full, 160, 48, 0, 0x99, 13);
	cr_assert_eq(run(DLT_EN10MB, &p, 6, &o), DEC_OK);
	assert_reassembled_udp(&o, 0);
	cr_assert_eq(o.vlan, 13);
	cr_assert_eq(st.c[CNT_FRAG_REASSEMBLED], 2);
}

Test(decode, ipv4_fragments_overlap_first_wins_and_duplicates)
{
	make_l4();
	uint8_t other[sizeof(l4full)];
	memset(other, 0xcc, sizeof(other));
	struct decoded o;
	struct pb p;
	frag4(&p, l4full, 0, 96, 1, 7, 0);
	cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), DEC_PENDING);
	cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), DEC_PENDING); /* duplicate */
	/* overlaps [80,96) with different bytes, then fills to 160 */
	frag4(&p, other, 80, 80, 1, 7, 0);
	cr_assert_eq(run(DLT_EN10MB, &p, 2, &o), DEC_PENDING);
	frag4(&p, l4full, 160, 48, 0, 7, 0);
	cr_assert_eq(run(DLT_EN10MB, &p, 3, &o), DEC_OK);
	cr_assert_eq(o.payload.len, FRAG_PL);
	/* [8,96) of l4 from the first fragment, [96,160) from "other" */
	cr_assert_eq(memcmp(o.payload.p, l4full + 8, 88), 0);
	for (int i = 96; i < 160; i++)
		cr_assert_eq(o.payload.p[i - 8], 0xcc);
	cr_assert_eq(memcmp(o.payload.p + 152, l4full + 160, 48), 0);
	cr_assert_eq(st.c[CNT_FRAGMENTS], 4);
	cr_assert_eq(st.c[CNT_FRAG_REASSEMBLED], 1);
	cr_assert_eq(st.c[CNT_FRAG_BAD], 0);
}

Test(decode, ipv4_fragment_missing_times_out)
{
	make_l4();
	teardown();
	memset(&st, 0, sizeof(st));
	struct decode_limits lim = {.frag_timeout_ns = 1000000000ull};
	dec = decoder_new(&lim, &st);
	struct decoded o;
	struct pb p;
	frag4(&p, l4full, 0, 80, 1, 1, 0);
	cr_assert_eq(run(DLT_EN10MB, &p, 10, &o), DEC_PENDING);
	frag4(&p, l4full, 160, 48, 0, 1, 0);
	cr_assert_eq(run(DLT_EN10MB, &p, 20, &o), DEC_PENDING);
	decoder_expire(dec, 500000000ull);
	cr_assert_eq(st.c[CNT_FRAG_TIMEOUT], 0);
	decoder_expire(dec, 2000000000ull);
	cr_assert_eq(st.c[CNT_FRAG_TIMEOUT], 1);
	/* the middle arrives too late: it starts a new, incomplete datagram */
	frag4(&p, l4full, 80, 80, 1, 1, 0);
	cr_assert_eq(run(DLT_EN10MB, &p, 2000000001ull, &o), DEC_PENDING);
	/* lazy expiry from packet time, without decoder_expire() */
	struct pb q = {.n = 0};
	ip4(&q, 17, 8, 0, 1, 0);
	udp(&q, 1, 2, NULL, 0, -1);
	cr_assert_eq(run(DLT_RAW, &q, 5000000000ull, &o), DEC_OK);
	cr_assert_eq(st.c[CNT_FRAG_TIMEOUT], 2);
	cr_assert_eq(st.c[CNT_FRAG_REASSEMBLED], 0);
}

Test(decode, ipv4_fragment_bad)
{
	make_l4();
	struct decoded o;
	struct pb p;
	/* non-final fragment not a multiple of 8 */
	frag4(&p, l4full, 0, 81, 1, 3, 0);
	cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_FRAG_BAD], 1);
	/* two different ends */
	frag4(&p, l4full, 160, 48, 0, 4, 0);
	cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), DEC_PENDING);
	frag4(&p, l4full, 80, 40, 0, 4, 0);
	cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_FRAG_BAD], 2);
	/* ping of death: offset 65528 + 16 bytes */
	p.n = 0;
	eth(&p, 0x0800, NULL, 0);
	ip4(&p, 17, 16, 0, 5, 8191);
	for (int i = 0; i < 16; i++)
		u8(&p, 0);
	cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_FRAG_BAD], 3);
}

Test(decode, ipv6_fragments)
{
	make_l4();
	struct decoded o;
	struct pb p;
	for (int i = 0; i < 3; i++) {
		frag6pkt(&p, l4full, F_OFF[i], F_LEN[i], i < 2, 0xdeadbeef);
		cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), i < 2 ? DEC_PENDING : DEC_OK);
	}
	assert_reassembled_udp(&o, 1);
	for (int i = 2; i >= 0; i--) {
		frag6pkt(&p, l4full, F_OFF[i], F_LEN[i], i < 2, 0xbeef);
		cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), i > 0 ? DEC_PENDING : DEC_OK);
	}
	assert_reassembled_udp(&o, 1);
	cr_assert_eq(st.c[CNT_FRAG_REASSEMBLED], 2);
	cr_assert_eq(st.c[CNT_FRAGMENTS], 6);
	/* every prefix of a fragment is harmless */
	frag6pkt(&p, l4full, 80, 80, 1, 5);
	twins_allow_pending = true;
	truncated_twins(DLT_EN10MB, &p, 0);
	frag4(&p, l4full, 0, 80, 1, 5, 3);
	truncated_twins(DLT_EN10MB, &p, 0);
	twins_allow_pending = false;
}

/* what a decoder filter (capture.c: SPAN duplicates) is shown */
static struct {
	unsigned calls;
	size_t len[8];
	uint32_t wire[8];
	uint8_t first[8];
	bool drop;
} FL;

static bool
record_filter(void *ctx, struct bview l3, uint32_t wirelen, uint64_t ts_ns)
{
	cr_assert_eq(ctx, &FL);
	if (FL.calls < 8) {
		FL.len[FL.calls] = l3.len;
		FL.wire[FL.calls] = wirelen;
		FL.first[FL.calls] = l3.len ? l3.p[0] : 0;
	}
	FL.calls++;
	return FL.drop;
}

Test(decode, filter_sees_each_fragment_not_the_datagram)
{
	make_l4();
	memset(&FL, 0, sizeof(FL));
	decoder_set_filter(dec, record_filter, &FL);
	struct decoded o;
	struct pb p;
	for (int i = 0; i < 3; i++) {
		frag4(&p, l4full, F_OFF[i], F_LEN[i], i < 2, 0x77, 0);
		cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), i < 2 ? DEC_PENDING : DEC_OK);
	}
	cr_assert_eq(FL.calls, 3, "three fragments, no reassembled datagram");
	cr_assert_eq(FL.len[0], 24 + 80);
	cr_assert_eq(FL.wire[2], 20 + 48);
	cr_assert_eq(FL.first[1], 0x45);
	/* IPv6, link padding cut off, a snapped packet: l3.len < wirelen */
	p.n = 0;
	eth(&p, 0x86dd, NULL, 0);
	ip6(&p, 17, 8 + 4);
	udp(&p, 53, 40000, "abcd", 4, -1);
	for (int i = 0; i < 6; i++)
		u8(&p, 0); /* padding */
	cr_assert_eq(run(DLT_EN10MB, &p, 2, &o), DEC_OK);
	cr_assert_eq(FL.len[3], 52);
	cr_assert_eq(FL.wire[3], 52);
	cr_assert_eq(run_cap(DLT_EN10MB, &p, 14 + 50, 3, &o), DEC_OK);
	cr_assert_eq(FL.len[4], 50);
	cr_assert_eq(FL.wire[4], 52);
	/* a dropped packet is skipped; a dropped fragment never reaches reassembly */
	FL.drop = true;
	cr_assert_eq(run(DLT_EN10MB, &p, 4, &o), DEC_SKIP);
	frag4(&p, l4full, 0, 80, 1, 0x78, 0);
	cr_assert_eq(run(DLT_EN10MB, &p, 5, &o), DEC_SKIP);
	cr_assert_eq(st.c[CNT_FRAGMENTS], 3);
	/* removed */
	decoder_set_filter(dec, NULL, NULL);
	cr_assert_eq(run(DLT_EN10MB, &p, 6, &o), DEC_PENDING);
	cr_assert_eq(FL.calls, 7);
}

Test(decode, fragment_caps)
{
	make_l4();
	teardown();
	memset(&st, 0, sizeof(st));
	struct decode_limits lim = {.frag_max_datagrams = 4};
	dec = decoder_new(&lim, &st);
	struct decoded o;
	struct pb p;
	for (unsigned id = 0; id < 10; id++) {
		frag4(&p, l4full, 0, 80, 1, id, 0);
		cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), DEC_PENDING);
	}
	cr_assert_eq(st.c[CNT_FRAG_OVERFLOW], 6);
	/* the newest four are still there and can complete */
	frag4(&p, l4full, 80, 128, 0, 9, 0);
	cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), DEC_OK);
	assert_reassembled_udp(&o, 0);
	/* the oldest was evicted */
	frag4(&p, l4full, 80, 128, 0, 0, 0);
	cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), DEC_PENDING);
}

Test(decode, fragment_byte_cap)
{
	struct cap_stats s;
	memset(&s, 0, sizeof(s));
	struct decode_limits lim = {.frag_max_bytes = 64 * 1024};
	struct ipfrag *f = ipfrag_new(&lim, &s);
	cr_assert_not_null(f);
	static uint8_t data[1024];
	uint8_t hdr[20] = {0x45};
	for (uint32_t id = 0; id < 200; id++) {
		struct ipfrag_key k = {.id = id, .proto = 17};
		mx_addr_set4(&k.src, SRC4);
		mx_addr_set4(&k.dst, DST4);
		/* a fragment far out forces a large buffer */
		struct ipfrag_piece pc = {.off = 60000 - (id % 7) * 8,
		                          .more = true,
		                          .data = bv_make(data, sizeof(data)),
		                          .data_wirelen = sizeof(data),
		                          .hdr = bv_make(hdr, sizeof(hdr))};
		struct bview out;
		enum ipfrag_rc rc = ipfrag_add(f, &k, id, &pc, &out);
		cr_assert(rc == IPFRAG_PENDING || rc == IPFRAG_DROP);
		cr_assert_leq(ipfrag_bytes(f), 64 * 1024);
	}
	cr_assert_gt(s.c[CNT_FRAG_OVERFLOW], 0);
	/* many small holes: the range cap drops the datagram */
	for (uint32_t i = 0; i < 2 * IPFRAG_MAX_RANGES; i++) {
		struct ipfrag_key k = {.id = 7777, .proto = 17};
		mx_addr_set4(&k.src, SRC4);
		mx_addr_set4(&k.dst, DST4);
		struct ipfrag_piece pc = {.off = i * 16,
		                          .more = true,
		                          .data = bv_make(data, 8),
		                          .data_wirelen = 8,
		                          .hdr = bv_make(hdr, sizeof(hdr))};
		struct bview out;
		ipfrag_add(f, &k, 1000, &pc, &out);
	}
	cr_assert_leq(ipfrag_bytes(f), 64 * 1024);
	ipfrag_expire(f, UINT64_MAX);
	cr_assert_eq(ipfrag_count(f), 0);
	cr_assert_eq(ipfrag_bytes(f), 0);
	cr_assert_eq(ipfrag_deadline(f), UINT64_MAX);
	ipfrag_free(f);
}

/* decoder_free with datagrams still pending must not leak (ASan) */
Test(decode, free_with_pending)
{
	make_l4();
	struct decoded o;
	struct pb p;
	for (unsigned id = 0; id < 50; id++) {
		frag4(&p, l4full, 80, 80, 1, id, 0);
		cr_assert_eq(run(DLT_EN10MB, &p, 1, &o), DEC_PENDING);
	}
}

/* ------------------------------------------------------- real files -- */

struct corpus_file {
	const char *path;
	int want_ok;   /* some TCP/UDP packet must decode */
	int want_frag; /* some datagram must be reassembled */
};

static const struct corpus_file corpus[] = {
    {"OISF+suricata-verify/tests/smtp-pipelining/input.pcap", 1, 0},
    {"OISF+suricata-verify/tests/smtp-rset/input.pcap", 1, 0},
    {"OISF+suricata-verify/tests/dns/dns-udp-eve-log-srv/input.pcap", 1, 0},
    {"the-tcpdump-group+tcpdump/tests/dns-badcookie.pcap", 1, 0},
    {"the-tcpdump-group+tcpdump/tests/LINKTYPE_RAW_ipv4.pcap", 0, 0},
    {"the-tcpdump-group+tcpdump/tests/LINKTYPE_RAW_ipv6.pcap", 0, 0},
    {"the-tcpdump-group+tcpdump/tests/LINKTYPE_IPV4.pcap", 0, 0},
    {"the-tcpdump-group+tcpdump/tests/LINKTYPE_IPV6.pcap", 0, 0},
    {"the-tcpdump-group+tcpdump/tests/LINKTYPE_IPV4_invalid.pcap", -1, 0},
    {"ntop+nDPI/tests/cfgs/default/pcap/KakaoTalk_chat.pcap", 1, 0},
    {"zeek+zeek/testing/btest/Traces/dns/dns_notify2.pcap", 1, 0},
    {"zeek+zeek/testing/btest/Traces/ipv6-hbh-routing0.pcap", -1, 0},
    {"zeek+zeek/testing/btest/Traces/ipv6-fragmented-dns.pcap", 1, 1},
    {"ntop+nDPI/tests/cfgs/default/pcap/dns_fragmented.pcap", 1, 1},
};

Test(decode, corpus_files)
{
	const char *shared = getenv("MXLAG_SHARED");
	/* run by hand from the project root or the build directory */
	static const char *const guesses[] = {"../shared", "../../shared"};
	for (size_t i = 0; !shared && i < sizeof(guesses) / sizeof(guesses[0]); i++) {
		char probe[256];
		snprintf(probe, sizeof(probe), "%s/corpus/MANIFEST.tsv", guesses[i]);
		FILE *f = fopen(probe, "r");
		if (f) {
			fclose(f);
			shared = guesses[i];
		}
	}
	if (!shared)
		cr_skip_test("MXLAG_SHARED not set");
	int opened = 0;
	for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		char path[1024], err[PCAP_ERRBUF_SIZE];
		snprintf(path, sizeof(path), "%s/corpus/%s", shared, corpus[i].path);
		pcap_t *pc = pcap_open_offline(path, err);
		if (!pc)
			continue;
		opened++;
		struct cap_stats s;
		memset(&s, 0, sizeof(s));
		struct decoder *d = decoder_new(NULL, &s);
		struct pcap_pkthdr *h;
		const u_char *data;
		unsigned long ok = 0, n = 0;
		int dlt = pcap_datalink(pc);
		while (pcap_next_ex(pc, &h, &data) == 1) {
			struct pkt k = {.ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull +
			                         (uint64_t)h->ts.tv_usec * 1000ull,
			                .caplen = h->caplen,
			                .wirelen = h->len,
			                .dlt = dlt,
			                .data = data};
			struct decoded o;
			enum decode_rc rc = decode_packet(d, &k, &o);
			n++;
			if (rc == DEC_OK) {
				ok++;
				cr_assert(o.payload.len <= o.payload_wirelen);
				cr_assert(o.l4proto == 6 || o.l4proto == 17);
			}
		}
		decoder_expire(d, UINT64_MAX);
		cr_log_info("%s: dlt %d, %lu packets, %lu ok, v4 %lu v6 %lu reasm %lu",
		            corpus[i].path, dlt, n, ok, (unsigned long)s.c[CNT_IPV4],
		            (unsigned long)s.c[CNT_IPV6], (unsigned long)s.c[CNT_FRAG_REASSEMBLED]);
		cr_assert_eq(s.c[CNT_LINK_UNSUPPORTED], 0, "%s", corpus[i].path);
		if (corpus[i].want_ok >= 0)
			cr_assert_gt(s.c[CNT_IPV4] + s.c[CNT_IPV6], 0, "%s", corpus[i].path);
		if (corpus[i].want_ok > 0)
			cr_assert_gt(ok, 0, "%s", corpus[i].path);
		if (corpus[i].want_frag)
			cr_assert_gt(s.c[CNT_FRAG_REASSEMBLED], 0, "%s", corpus[i].path);
		decoder_free(d);
		pcap_close(pc);
	}
	if (!opened)
		cr_skip_test("no corpus files under %s", shared);
}
