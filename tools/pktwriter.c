/*
 * pktwriter.c - packet building, TCP state and time-ordered pcap/pcapng
 * output for mxlag-gen.
 */
#include "pktwriter.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINKTYPE_NULL 0
#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW 101
#define LINKTYPE_LINUX_SLL 113
#define LINKTYPE_LINUX_SLL2 276

#define SNAPLEN 262144
#define MAX_LOCAL 8
#define MAX_LINKHDR 24
#define SPAN_VLAN 10

static const char *const link_names[] = {"ethernet", "vlan", "qinq", "sll", "sll2", "raw", "null"};

int
pw_link_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(link_names) / sizeof(link_names[0]); i++)
		if (strcmp(name, link_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
pw_link_name(enum pw_link l)
{
	return link_names[l];
}

/* ---- addresses ------------------------------------------------------------ */

struct pw_addr
pw_ip(const char *str)
{
	struct pw_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, str, a.b) == 1)
		return a;
	a.v6 = 1;
	if (inet_pton(AF_INET6, str, a.b) == 1)
		return a;
	fprintf(stderr, "mxlag-gen: bad address literal %s\n", str);
	abort();
}

void
pw_addr_fmt(const struct pw_addr *a, char *buf, size_t n)
{
	if (!inet_ntop(a->v6 ? AF_INET6 : AF_INET, a->b, buf, (socklen_t)n) && n)
		buf[0] = '\0';
}

int
pw_addr_eq(const struct pw_addr *a, const struct pw_addr *b)
{
	return a->v6 == b->v6 && memcmp(a->b, b->b, a->v6 ? 16 : 4) == 0;
}

void
pw_addr_ptrname(const struct pw_addr *a, char *buf, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!a->v6) {
		snprintf(buf, n, "%u.%u.%u.%u.in-addr.arpa", a->b[3], a->b[2], a->b[1], a->b[0]);
		return;
	}
	for (int i = 15; i >= 0 && o + 4 < n; i--) {
		buf[o++] = hex[a->b[i] & 15];
		buf[o++] = '.';
		buf[o++] = hex[a->b[i] >> 4];
		buf[o++] = '.';
	}
	snprintf(buf + o, n - o, "ip6.arpa");
}

static int
is_loopback(const struct pw_addr *a)
{
	static const uint8_t lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

	return a->v6 ? memcmp(a->b, lo6, 16) == 0 : a->b[0] == 127;
}

/* ---- little-endian / big-endian stores ---------------------------------- */

static void
be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* ---- checksums -------------------------------------------------------------- */

uint32_t
pw_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

uint16_t
pw_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ---- the sink ------------------------------------------------------------- */

struct qpkt {
	uint64_t ts;
	uint64_t order;
	uint32_t len;
	uint8_t data[];
};

struct pw_sink {
	FILE *f;
	int close_f;
	struct pw_opts o;
	struct pw_addr local[MAX_LOCAL];
	int nlocal;
	struct qpkt **heap;
	size_t nheap, capheap;
	uint64_t order;
	uint64_t packets, bytes;
	uint16_t udp_ipid;
	int err;
};

static uint32_t
linktype_of(enum pw_link l)
{
	switch (l) {
	case PW_LINK_SLL:
		return LINKTYPE_LINUX_SLL;
	case PW_LINK_SLL2:
		return LINKTYPE_LINUX_SLL2;
	case PW_LINK_RAW:
		return LINKTYPE_RAW;
	case PW_LINK_NULL:
		return LINKTYPE_NULL;
	default:
		return LINKTYPE_ETHERNET;
	}
}

static void
out(struct pw_sink *s, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, s->f) != n)
		s->err = 1;
	s->bytes += n;
}

static void
write_file_header(struct pw_sink *s)
{
	uint8_t h[64];
	uint32_t lt = linktype_of(s->o.link);

	if (!s->o.pcapng) {
		le32(h, s->o.nanosecond ? 0xa1b23c4du : 0xa1b2c3d4u);
		le16(h + 4, 2);
		le16(h + 6, 4);
		le32(h + 8, 0);
		le32(h + 12, 0);
		le32(h + 16, SNAPLEN);
		le32(h + 20, lt);
		out(s, h, 24);
		return;
	}
	/* Section Header Block */
	le32(h, 0x0a0d0d0a);
	le32(h + 4, 28);
	le32(h + 8, 0x1a2b3c4d);
	le16(h + 12, 1);
	le16(h + 14, 0);
	le32(h + 16, 0xffffffffu);
	le32(h + 20, 0xffffffffu);
	le32(h + 24, 28);
	out(s, h, 28);
	/* Interface Description Block with if_tsresol */
	le32(h, 1);
	le32(h + 4, 32);
	le16(h + 8, (uint16_t)lt);
	le16(h + 10, 0);
	le32(h + 12, SNAPLEN);
	le16(h + 16, 9); /* if_tsresol */
	le16(h + 18, 1);
	h[20] = s->o.nanosecond ? 9 : 6;
	h[21] = h[22] = h[23] = 0;
	le32(h + 24, 0); /* opt_endofopt */
	le32(h + 28, 32);
	out(s, h, 32);
}

struct pw_sink *
pw_sink_open(const char *path, const struct pw_opts *o)
{
	struct pw_sink *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->o = *o;
	if (strcmp(path, "-") == 0) {
		s->f = stdout;
	} else {
		s->f = fopen(path, "wb");
		s->close_f = 1;
	}
	if (!s->f) {
		int e = errno;
		free(s);
		errno = e;
		return NULL;
	}
	setvbuf(s->f, NULL, _IOFBF, 1 << 20);
	write_file_header(s);
	return s;
}

void
pw_sink_add_local(struct pw_sink *s, const struct pw_addr *a)
{
	if (s->nlocal < MAX_LOCAL)
		s->local[s->nlocal++] = *a;
}

static int
is_local(const struct pw_sink *s, const struct pw_addr *a)
{
	for (int i = 0; i < s->nlocal; i++)
		if (pw_addr_eq(&s->local[i], a))
			return 1;
	return 0;
}

static int
qless(const struct qpkt *a, const struct qpkt *b)
{
	return a->ts < b->ts || (a->ts == b->ts && a->order < b->order);
}

static void
heap_push(struct pw_sink *s, struct qpkt *p)
{
	if (s->nheap == s->capheap) {
		size_t nc = s->capheap ? s->capheap * 2 : 1024;
		struct qpkt **nh = realloc(s->heap, nc * sizeof(*nh));
		if (!nh) {
			fprintf(stderr, "mxlag-gen: out of memory\n");
			abort();
		}
		s->heap = nh;
		s->capheap = nc;
	}
	size_t i = s->nheap++;
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (!qless(p, s->heap[up]))
			break;
		s->heap[i] = s->heap[up];
		i = up;
	}
	s->heap[i] = p;
}

static struct qpkt *
heap_pop(struct pw_sink *s)
{
	struct qpkt *top = s->heap[0];
	struct qpkt *last = s->heap[--s->nheap];
	size_t i = 0, n = s->nheap;

	for (;;) {
		size_t l = 2 * i + 1, m;
		if (l >= n)
			break;
		m = (l + 1 < n && qless(s->heap[l + 1], s->heap[l])) ? l + 1 : l;
		if (!qless(s->heap[m], last))
			break;
		s->heap[i] = s->heap[m];
		i = m;
	}
	if (n)
		s->heap[i] = last;
	return top;
}

static void
write_packet(struct pw_sink *s, const struct qpkt *p)
{
	uint8_t h[28];
	uint64_t sec = p->ts / PW_NS_PER_S, frac = p->ts % PW_NS_PER_S;

	if (!s->o.pcapng) {
		le32(h, (uint32_t)sec);
		le32(h + 4, (uint32_t)(s->o.nanosecond ? frac : frac / 1000));
		le32(h + 8, p->len);
		le32(h + 12, p->len);
		out(s, h, 16);
		out(s, p->data, p->len);
	} else {
		uint64_t units = s->o.nanosecond ? p->ts : p->ts / 1000;
		uint32_t pad = (4 - (p->len & 3)) & 3;
		uint32_t blen = 32 + p->len + pad;
		static const uint8_t zero[4];
		le32(h, 6);
		le32(h + 4, blen);
		le32(h + 8, 0);
		le32(h + 12, (uint32_t)(units >> 32));
		le32(h + 16, (uint32_t)units);
		le32(h + 20, p->len);
		le32(h + 24, p->len);
		out(s, h, 28);
		out(s, p->data, p->len);
		out(s, zero, pad);
		le32(h, blen);
		out(s, h, 4);
	}
	s->packets++;
}

int
pw_sink_flush(struct pw_sink *s, uint64_t upto_ns)
{
	while (s->nheap && s->heap[0]->ts <= upto_ns) {
		struct qpkt *p = heap_pop(s);
		write_packet(s, p);
		free(p);
	}
	return s->err ? -1 : 0;
}

int
pw_sink_close(struct pw_sink *s)
{
	int rc;

	pw_sink_flush(s, UINT64_MAX);
	if (fflush(s->f) != 0)
		s->err = 1;
	if (s->close_f && fclose(s->f) != 0)
		s->err = 1;
	rc = s->err ? -1 : 0;
	free(s->heap);
	free(s);
	return rc;
}

uint64_t
pw_sink_packets(const struct pw_sink *s)
{
	return s->packets;
}

uint64_t
pw_sink_bytes(const struct pw_sink *s)
{
	return s->bytes;
}

size_t
pw_sink_queued(const struct pw_sink *s)
{
	return s->nheap;
}

/* ---- link layer --------------------------------------------------------------- */

static void
mac_of(const struct pw_addr *a, uint8_t m[6])
{
	static const uint8_t gw[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
	static const uint8_t net6[8] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0};

	if (is_loopback(a)) {
		memset(m, 0, 6);
	} else if (!a->v6 && a->b[0] == 192 && a->b[1] == 0 && a->b[2] == 2) {
		m[0] = 0x02;
		m[1] = 0x00;
		memcpy(m + 2, a->b, 4);
	} else if (a->v6 && memcmp(a->b, net6, 8) == 0) {
		m[0] = 0x02;
		m[1] = 0x06;
		memcpy(m + 2, a->b + 12, 4);
	} else {
		memcpy(m, gw, 6);
	}
}

static size_t
link_header(const struct pw_sink *s, uint8_t *h, const struct pw_addr *src,
            const struct pw_addr *dst)
{
	uint16_t etype = src->v6 ? 0x86dd : 0x0800;
	int lo = is_loopback(src) || is_loopback(dst);
	uint16_t pkttype = (!lo && is_local(s, src)) ? 4 : 0; /* OUTGOING : HOST */
	uint16_t hatype = lo ? 772 : 1;
	uint8_t sm[6], dm[6];

	mac_of(src, sm);
	mac_of(dst, dm);
	switch (s->o.link) {
	case PW_LINK_ETHERNET:
		memcpy(h, dm, 6);
		memcpy(h + 6, sm, 6);
		be16(h + 12, etype);
		return 14;
	case PW_LINK_VLAN:
		memcpy(h, dm, 6);
		memcpy(h + 6, sm, 6);
		be16(h + 12, 0x8100);
		be16(h + 14, 100);
		be16(h + 16, etype);
		return 18;
	case PW_LINK_QINQ:
		memcpy(h, dm, 6);
		memcpy(h + 6, sm, 6);
		be16(h + 12, 0x88a8);
		be16(h + 14, 200);
		be16(h + 16, 0x8100);
		be16(h + 18, 100);
		be16(h + 20, etype);
		return 22;
	case PW_LINK_SLL:
		be16(h, pkttype);
		be16(h + 2, hatype);
		be16(h + 4, 6);
		memcpy(h + 6, sm, 6);
		h[12] = h[13] = 0;
		be16(h + 14, etype);
		return 16;
	case PW_LINK_SLL2:
		be16(h, etype);
		be16(h + 2, 0);
		be32(h + 4, lo ? 1 : 2);
		be16(h + 8, hatype);
		h[10] = (uint8_t)pkttype;
		h[11] = 6;
		memcpy(h + 12, sm, 6);
		h[18] = h[19] = 0;
		return 20;
	case PW_LINK_RAW:
		return 0;
	case PW_LINK_NULL:
		le32(h, src->v6 ? 24 : 2);
		return 4;
	}
	return 0;
}

static void
queue(struct pw_sink *s, uint64_t ts, const uint8_t *lh, size_t hl, const uint8_t *ip, size_t len)
{
	struct qpkt *p = malloc(sizeof(*p) + hl + len);

	if (!p) {
		fprintf(stderr, "mxlag-gen: out of memory\n");
		abort();
	}
	p->ts = ts;
	p->order = s->order++;
	p->len = (uint32_t)(hl + len);
	memcpy(p->data, lh, hl);
	memcpy(p->data + hl, ip, len);
	heap_push(s, p);
}

/* The link header of the span copy: a tag added, or the outermost removed. */
static size_t
span_link(enum pw_link l, const uint8_t *lh, size_t hl, uint8_t *out)
{
	size_t at;

	switch (l) {
	case PW_LINK_VLAN:
	case PW_LINK_QINQ: /* the outermost tag is at 12 */
		memcpy(out, lh, 12);
		memcpy(out + 12, lh + 16, hl - 16);
		return hl - 4;
	case PW_LINK_ETHERNET: /* MACs, tag, type */
	case PW_LINK_SLL:      /* header with protocol 802.1Q, tag, protocol */
		at = l == PW_LINK_ETHERNET ? 12 : 14;
		memcpy(out, lh, at);
		be16(out + at, 0x8100);
		be16(out + at + 2, SPAN_VLAN);
		memcpy(out + at + 4, lh + at, hl - at);
		return hl + 4;
	case PW_LINK_SLL2: /* protocol 802.1Q in the header, tag, protocol after it */
		memcpy(out, lh, hl);
		be16(out, 0x8100);
		be16(out + hl, SPAN_VLAN);
		memcpy(out + hl + 2, lh, 2);
		return hl + 4;
	default: /* raw, null: no room for a tag */
		memcpy(out, lh, hl);
		return hl;
	}
}

static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ULL;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dULL;
	return x ^ (x >> 33);
}

void
pw_emit_ip(struct pw_sink *s, uint64_t ts, const struct pw_addr *src, const struct pw_addr *dst,
           const uint8_t *ip, size_t len)
{
	uint8_t lh[MAX_LINKHDR], ch[MAX_LINKHDR + 4];
	size_t hl = link_header(s, lh, src, dst);

	if (!s->o.span_dup) {
		queue(s, ts, lh, hl, ip, len);
		return;
	}
	uint64_t h = mix64(s->order + 1);
	uint64_t later = ts + US(1 + (h >> 8) % 20);
	int copy_first = h % 3 == 0;
	size_t chl = span_link(s->o.link, lh, hl, ch);
	uint8_t *r = malloc(len ? len : 1);

	if (!r) {
		fprintf(stderr, "mxlag-gen: out of memory\n");
		abort();
	}
	memcpy(r, ip, len);
	if ((h >> 4) & 1) { /* routed between the two mirror points */
		if (src->v6) {
			r[7]--;
		} else {
			size_t ihl = (size_t)(r[0] & 15) * 4;
			r[8]--;
			r[10] = r[11] = 0;
			be16(r + 10, pw_csum_fold(pw_csum_add(0, r, ihl)));
		}
	}
	queue(s, copy_first ? later : ts, lh, hl, ip, len);
	queue(s, copy_first ? ts : later, ch, chl, r, len);
	free(r);
}

/* ---- IP / transport ---------------------------------------------------------- */

/* Writes the IP header for a payload of plen bytes; returns its length. */
static size_t
ip_header(uint8_t *h, const struct pw_addr *src, const struct pw_addr *dst, uint8_t proto,
          size_t plen, uint16_t ipid)
{
	if (src->v6) {
		be32(h, 0x60000000u);
		be16(h + 4, (uint16_t)plen);
		h[6] = proto;
		h[7] = 64;
		memcpy(h + 8, src->b, 16);
		memcpy(h + 24, dst->b, 16);
		return 40;
	}
	h[0] = 0x45;
	h[1] = 0;
	be16(h + 2, (uint16_t)(20 + plen));
	be16(h + 4, ipid);
	be16(h + 6, 0x4000); /* DF */
	h[8] = 64;
	h[9] = proto;
	h[10] = h[11] = 0;
	memcpy(h + 12, src->b, 4);
	memcpy(h + 16, dst->b, 4);
	be16(h + 10, pw_csum_fold(pw_csum_add(0, h, 20)));
	return 20;
}

static uint32_t
pseudo_sum(const struct pw_addr *src, const struct pw_addr *dst, uint8_t proto, size_t len)
{
	uint8_t ph[8];
	uint32_t sum = 0;
	size_t al = src->v6 ? 16 : 4;

	sum = pw_csum_add(sum, src->b, al);
	sum = pw_csum_add(sum, dst->b, al);
	if (src->v6) {
		be32(ph, (uint32_t)len);
		ph[4] = ph[5] = ph[6] = 0;
		ph[7] = proto;
		return pw_csum_add(sum, ph, 8);
	}
	ph[0] = 0;
	ph[1] = proto;
	be16(ph + 2, (uint16_t)len);
	return pw_csum_add(sum, ph, 4);
}

void
pw_udp(struct pw_sink *s, uint64_t ts, const struct pw_addr *src, uint16_t sport,
       const struct pw_addr *dst, uint16_t dport, const uint8_t *data, size_t len)
{
	uint8_t buf[2048];
	size_t ulen = 8 + len, hl;
	uint16_t ck;

	if (len > sizeof(buf) - 48) {
		fprintf(stderr, "mxlag-gen: UDP payload too large\n");
		abort();
	}
	hl = ip_header(buf, src, dst, 17, ulen, s->udp_ipid++);
	uint8_t *u = buf + hl;
	be16(u, sport);
	be16(u + 2, dport);
	be16(u + 4, (uint16_t)ulen);
	be16(u + 6, 0);
	memcpy(u + 8, data, len);
	ck = pw_csum_fold(pw_csum_add(pseudo_sum(src, dst, 17, ulen), u, ulen));
	be16(u + 6, ck ? ck : 0xffff);
	pw_emit_ip(s, ts, src, dst, buf, hl + ulen);
}

void
pw_tcp_init(struct pw_tcp *c, const struct pw_addr *a, uint16_t pa, const struct pw_addr *b,
            uint16_t pb, uint32_t isn_a, uint32_t isn_b, uint32_t ts_a, uint32_t ts_b)
{
	memset(c, 0, sizeof(*c));
	c->addr[0] = *a;
	c->addr[1] = *b;
	c->port[0] = pa;
	c->port[1] = pb;
	c->isn[0] = c->seq[0] = isn_a;
	c->isn[1] = c->seq[1] = isn_b;
	c->tsbase[0] = ts_a;
	c->tsbase[1] = ts_b;
	c->ipid[0] = (uint16_t)(isn_a >> 7);
	c->ipid[1] = (uint16_t)(isn_b >> 9);
	c->mss = 1448; /* 1460 minus the timestamp option */
}

void
pw_tcp_no_timestamps(struct pw_tcp *c)
{
	c->nots = 1;
	c->mss = (uint16_t)(c->addr[0].v6 ? 1440 : 1460);
}

static void
tcp_seg_at(struct pw_sink *s, struct pw_tcp *c, int dir, uint64_t ts, uint8_t flags, uint32_t seq,
           uint32_t ack, const uint8_t *data, size_t len)
{
	uint8_t stackbuf[2048], *buf = stackbuf;
	uint8_t opt[20];
	size_t olen = 0, hl, thl;
	uint32_t tsval = c->tsbase[dir] + (uint32_t)(ts / PW_NS_PER_MS);
	uint32_t tsecr = c->synced[1 - dir] ? c->tslast[1 - dir] : 0;
	uint16_t win;

	if (len + 120 > sizeof(stackbuf)) {
		buf = malloc(len + 120);
		if (!buf)
			abort();
	}
	if ((flags & PW_SYN) && c->nots) {
		opt[0] = 2; /* MSS */
		opt[1] = 4;
		be16(opt + 2, (uint16_t)(c->addr[dir].v6 ? 1440 : 1460));
		opt[4] = 1; /* NOP */
		opt[5] = 3; /* window scale 8 */
		opt[6] = 3;
		opt[7] = 8;
		opt[8] = opt[9] = 1;
		opt[10] = 4; /* SACK permitted */
		opt[11] = 2;
		olen = 12;
		win = dir == 0 ? 64240 : 65535;
	} else if (flags & PW_SYN) {
		opt[0] = 2; /* MSS */
		opt[1] = 4;
		be16(opt + 2, (uint16_t)(c->addr[dir].v6 ? 1440 : 1460));
		opt[4] = 4; /* SACK permitted */
		opt[5] = 2;
		opt[6] = 8; /* timestamps */
		opt[7] = 10;
		be32(opt + 8, tsval);
		be32(opt + 12, (flags & PW_ACK) ? tsecr : 0);
		opt[16] = 1; /* NOP */
		opt[17] = 3; /* window scale 7 */
		opt[18] = 3;
		opt[19] = 7;
		olen = 20;
		win = dir == 0 ? 64240 : 65160;
	} else if (flags & PW_RST) {
		win = 0;
	} else if (c->nots) {
		win = 2052;
	} else {
		opt[0] = opt[1] = 1;
		opt[2] = 8;
		opt[3] = 10;
		be32(opt + 4, tsval);
		be32(opt + 8, tsecr);
		olen = 12;
		win = 4096;
	}
	if (!(flags & PW_RST)) {
		c->tslast[dir] = tsval;
		c->synced[dir] = 1;
	}
	thl = 20 + olen;
	hl = ip_header(buf, &c->addr[dir], &c->addr[1 - dir], 6, thl + len, c->ipid[dir]++);
	uint8_t *t = buf + hl;
	be16(t, c->port[dir]);
	be16(t + 2, c->port[1 - dir]);
	be32(t + 4, seq);
	be32(t + 8, (flags & PW_ACK) ? ack : 0);
	t[12] = (uint8_t)((thl / 4) << 4);
	t[13] = flags;
	be16(t + 14, win);
	be16(t + 16, 0);
	be16(t + 18, 0);
	memcpy(t + 20, opt, olen);
	if (len)
		memcpy(t + thl, data, len);
	be16(t + 16,
	     pw_csum_fold(pw_csum_add(pseudo_sum(&c->addr[dir], &c->addr[1 - dir], 6, thl + len), t,
	                              thl + len)));
	pw_emit_ip(s, ts, &c->addr[dir], &c->addr[1 - dir], buf, hl + thl + len);
	if (buf != stackbuf)
		free(buf);
}

void
pw_tcp_segment(struct pw_sink *s, struct pw_tcp *c, int dir, uint64_t ts, uint8_t flags,
               const uint8_t *data, size_t len)
{
	tcp_seg_at(s, c, dir, ts, flags, c->seq[dir], c->seq[1 - dir], data, len);
	c->seq[dir] += (uint32_t)len + ((flags & PW_SYN) ? 1 : 0) + ((flags & PW_FIN) ? 1 : 0);
}

void
pw_tcp_syn(struct pw_sink *s, struct pw_tcp *c, int dir, uint64_t ts)
{
	c->seq[dir] = c->isn[dir];
	pw_tcp_segment(s, c, dir, ts, dir ? PW_SYN | PW_ACK : PW_SYN, NULL, 0);
}

uint64_t
pw_tcp_handshake(struct pw_sink *s, struct pw_tcp *c, uint64_t ts, uint64_t d1, uint64_t d2)
{
	pw_tcp_syn(s, c, 0, ts);
	pw_tcp_syn(s, c, 1, ts + d1);
	pw_tcp_ack(s, c, 0, ts + d1 + d2);
	return ts + d1 + d2;
}

uint64_t
pw_tcp_send(struct pw_sink *s, struct pw_tcp *c, int dir, uint64_t ts, const void *data, size_t len,
            uint64_t gap_ns, uint64_t ack_delay_ns)
{
	const uint8_t *d = data;
	size_t seglen = c->split[dir] ? 1 : c->mss;
	size_t nseg = (len + seglen - 1) / seglen;
	uint32_t base = c->seq[dir];
	uint32_t peer = c->seq[1 - dir];
	int swap = c->reorder && nseg >= 3;
	uint64_t t = ts;

	for (size_t k = 0; k < nseg; k++) {
		size_t i = k;
		if (swap && k == 1)
			i = 2;
		else if (swap && k == 2)
			i = 1;
		size_t off = i * seglen;
		size_t n = len - off < seglen ? len - off : seglen;
		uint8_t fl = PW_ACK | ((i == nseg - 1) ? PW_PSH : 0);
		t = ts + k * gap_ns;
		tcp_seg_at(s, c, dir, t, fl, base + (uint32_t)off, peer, d + off, n);
		c->nsegs++;
		if (c->dup && c->nsegs % 5 == 3)
			tcp_seg_at(s, c, dir, t + 1, fl, base + (uint32_t)off, peer, d + off, n);
		if (ack_delay_ns && (k % 2 == 1 || k == nseg - 1)) {
			/* cumulative: with segments 1 and 2 swapped, only segment 0
			 * is contiguous after the second slot */
			size_t upto = (swap && k == 1) ? seglen : (k + 1) * seglen;
			if (upto > len)
				upto = len;
			tcp_seg_at(s, c, 1 - dir, t + ack_delay_ns, PW_ACK, peer,
			           base + (uint32_t)upto, NULL, 0);
		}
	}
	c->seq[dir] = base + (uint32_t)len;
	return t;
}

void
pw_tcp_ack(struct pw_sink *s, struct pw_tcp *c, int dir, uint64_t ts)
{
	pw_tcp_segment(s, c, dir, ts, PW_ACK, NULL, 0);
}

void
pw_tcp_fin(struct pw_sink *s, struct pw_tcp *c, int dir, uint64_t ts)
{
	pw_tcp_segment(s, c, dir, ts, PW_FIN | PW_ACK, NULL, 0);
}

void
pw_tcp_rst(struct pw_sink *s, struct pw_tcp *c, int dir, uint64_t ts, int with_ack)
{
	pw_tcp_segment(s, c, dir, ts, with_ack ? PW_RST | PW_ACK : PW_RST, NULL, 0);
}
