/*
 * ipfrag.c - bounded IPv4/IPv6 fragment reassembly (RFC 791, RFC 8200
 * section 4.5, RFC 5722).  See ipfrag.h for the rules.
 */
#include "ipfrag.h"

#include <stdlib.h>
#include <string.h>

#define DEF_MAX_DATAGRAMS 1024u
#define DEF_MAX_BYTES (8u * 1024 * 1024)
#define DEF_TIMEOUT_NS (30ull * 1000000000ull)
#define MAX_BUCKETS (1u << 16)

struct frange {
	uint32_t s, e; /* [s, e) */
};

struct dgram {
	struct dgram *hnext;         /* hash chain */
	struct dgram *older, *newer; /* age list, oldest at f->head */
	struct ipfrag_key key;
	uint32_t hash;
	uint64_t first_ts;
	uint8_t *data; /* payload bytes, cap of them allocated */
	uint32_t cap;
	uint32_t total; /* payload length, known once the last fragment came */
	bool total_known;
	bool have_hdr;
	uint16_t hlen;
	uint32_t nh_off;
	uint8_t nh;
	uint16_t nranges;
	struct frange r[IPFRAG_MAX_RANGES];
	uint8_t hdr[IPFRAG_HDR_MAX];
};

struct ipfrag {
	struct cap_stats *st;
	uint32_t max_dg;
	uint64_t max_bytes;
	uint64_t timeout;
	struct dgram **buckets;
	uint32_t mask;
	struct dgram *head, *tail; /* oldest, newest */
	uint32_t n;
	uint64_t bytes;
	uint8_t *out; /* IPFRAG_HDR_MAX + IPFRAG_DATA_MAX, allocated on first use */
};

static uint32_t
key_hash(const struct ipfrag_key *k)
{
	uint64_t h = mx_addr_hash(&k->src);
	h ^= mx_addr_hash(&k->dst) * 0x9e3779b97f4a7c15ULL;
	h ^= ((uint64_t)k->id << 24) ^ ((uint64_t)k->proto << 8);
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return (uint32_t)h;
}

static bool
key_eq(const struct ipfrag_key *x, const struct ipfrag_key *y)
{
	return x->id == y->id && x->proto == y->proto &&
	       mx_addr_eq(&x->src, &y->src) && mx_addr_eq(&x->dst, &y->dst);
}

struct ipfrag *
ipfrag_new(const struct decode_limits *limits, struct cap_stats *stats)
{
	struct ipfrag *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->st = stats;
	f->max_dg =
	    limits && limits->frag_max_datagrams ? limits->frag_max_datagrams : DEF_MAX_DATAGRAMS;
	f->max_bytes = limits && limits->frag_max_bytes ? limits->frag_max_bytes : DEF_MAX_BYTES;
	f->timeout = limits && limits->frag_timeout_ns ? limits->frag_timeout_ns : DEF_TIMEOUT_NS;
	uint32_t nb = 16;
	while (nb < MAX_BUCKETS && nb < f->max_dg * 2ull)
		nb <<= 1;
	f->buckets = calloc(nb, sizeof(*f->buckets));
	if (!f->buckets) {
		free(f);
		return NULL;
	}
	f->mask = nb - 1;
	return f;
}

static void
dg_drop(struct ipfrag *f, struct dgram *g)
{
	struct dgram **pp = &f->buckets[g->hash & f->mask];
	while (*pp && *pp != g)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = g->hnext;
	if (g->older)
		g->older->newer = g->newer;
	else
		f->head = g->newer;
	if (g->newer)
		g->newer->older = g->older;
	else
		f->tail = g->older;
	f->n--;
	f->bytes -= sizeof(*g) + g->cap;
	free(g->data);
	free(g);
}

/* Evicts the oldest datagram other than keep; false when there is none. */
static bool
evict_oldest(struct ipfrag *f, const struct dgram *keep)
{
	struct dgram *g = f->head;
	if (g == keep && g)
		g = g->newer;
	if (!g)
		return false;
	CAP_COUNT(f->st, FRAG_OVERFLOW);
	dg_drop(f, g);
	return true;
}

static struct dgram *
dg_find(struct ipfrag *f, const struct ipfrag_key *k, uint32_t h)
{
	for (struct dgram *g = f->buckets[h & f->mask]; g; g = g->hnext)
		if (g->hash == h && key_eq(&g->key, k))
			return g;
	return NULL;
}

static struct dgram *
dg_create(struct ipfrag *f, const struct ipfrag_key *k, uint32_t h, uint64_t ts)
{
	while (f->n >= f->max_dg && evict_oldest(f, NULL))
		;
	while (f->bytes + sizeof(struct dgram) > f->max_bytes && evict_oldest(f, NULL))
		;
	if (f->n >= f->max_dg || f->bytes + sizeof(struct dgram) > f->max_bytes) {
		CAP_COUNT(f->st, FRAG_OVERFLOW);
		return NULL;
	}
	struct dgram *g = malloc(sizeof(*g));
	if (!g) {
		CAP_COUNT(f->st, FRAG_OVERFLOW);
		return NULL;
	}
	g->key = *k;
	g->hash = h;
	g->first_ts = ts;
	g->data = NULL;
	g->cap = 0;
	g->total = 0;
	g->total_known = false;
	g->have_hdr = false;
	g->hlen = 0;
	g->nh_off = 0;
	g->nh = 0;
	g->nranges = 0;
	struct dgram **b = &f->buckets[h & f->mask];
	g->hnext = *b;
	*b = g;
	g->older = f->tail;
	g->newer = NULL;
	if (f->tail)
		f->tail->newer = g;
	else
		f->head = g;
	f->tail = g;
	f->n++;
	f->bytes += sizeof(*g);
	return g;
}

/* Grows g->data to hold need bytes within the byte cap. */
static bool
dg_reserve(struct ipfrag *f, struct dgram *g, uint32_t need)
{
	if (need <= g->cap)
		return true;
	uint32_t ncap = g->cap * 2 > IPFRAG_DATA_MAX ? IPFRAG_DATA_MAX : g->cap * 2;
	if (ncap < need)
		ncap = need;
	if (g->total_known && ncap > g->total)
		ncap = g->total;
	if (ncap < 1024 && !g->total_known)
		ncap = need > 1024 ? need : 1024;
	uint32_t delta = ncap - g->cap;
	while (f->bytes + delta > f->max_bytes && evict_oldest(f, g))
		;
	if (f->bytes + delta > f->max_bytes)
		return false;
	uint8_t *nd = realloc(g->data, ncap);
	if (!nd)
		return false;
	g->data = nd;
	g->cap = ncap;
	f->bytes += delta;
	return true;
}

static void
put_be16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Builds the whole datagram in f->out; false if it cannot be expressed. */
static bool
dg_finish(struct ipfrag *f, const struct dgram *g, struct bview *out)
{
	uint32_t hl = g->hlen;
	if (g->key.src.family == 4) {
		if (hl + g->total > 65535)
			return false;
	} else if (hl - 40 + g->total > 65535) {
		return false;
	}
	if (!f->out) {
		f->out = malloc(IPFRAG_HDR_MAX + IPFRAG_DATA_MAX);
		if (!f->out)
			return false;
	}
	memcpy(f->out, g->hdr, hl);
	if (g->total)
		memcpy(f->out + hl, g->data, g->total);
	if (g->key.src.family == 4) {
		uint8_t *ip = f->out;
		put_be16(ip + 2, hl + g->total);
		ip[6] &= 0x40; /* keep DF; clear MF and the offset */
		ip[7] = 0;
		ip[10] = ip[11] = 0;
		uint32_t sum = 0;
		for (uint32_t i = 0; i + 1 < hl; i += 2)
			sum += (uint32_t)ip[i] << 8 | ip[i + 1];
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		put_be16(ip + 10, ~sum & 0xffff);
	} else {
		put_be16(f->out + 4, hl - 40 + g->total);
		f->out[g->nh_off] = g->nh;
	}
	*out = bv_make(f->out, hl + g->total);
	return true;
}

static enum ipfrag_rc
bad(struct ipfrag *f, struct dgram *g)
{
	CAP_COUNT(f->st, FRAG_BAD);
	if (g)
		dg_drop(f, g);
	return IPFRAG_DROP;
}

enum ipfrag_rc
ipfrag_add(struct ipfrag *f, const struct ipfrag_key *k, uint64_t ts_ns,
           const struct ipfrag_piece *p, struct bview *out)
{
	uint32_t wl = p->data_wirelen;
	/* non-final fragments carry a non-zero multiple of 8 bytes */
	if (p->more && (wl == 0 || wl % 8 != 0))
		return bad(f, NULL);
	if (p->off > IPFRAG_DATA_MAX || wl > IPFRAG_DATA_MAX - p->off)
		return bad(f, NULL);
	uint32_t end = p->off + wl;

	uint32_t h = key_hash(k);
	struct dgram *g = dg_find(f, k, h);
	if (!g) {
		g = dg_create(f, k, h, ts_ns);
		if (!g)
			return IPFRAG_DROP;
	}

	if (!p->more) {
		if (g->total_known && g->total != end)
			return bad(f, g); /* two different ends */
		if (g->nranges && g->r[g->nranges - 1].e > end)
			return bad(f, g); /* data already seen past the end */
		g->total = end;
		g->total_known = true;
	} else if (g->total_known && end > g->total) {
		return bad(f, g);
	}

	if (p->off == 0 && !g->have_hdr) {
		size_t minh = k->src.family == 4 ? 20 : 40;
		if (p->hdr.len < minh || p->hdr.len > IPFRAG_HDR_MAX ||
		    (k->src.family == 6 && p->nh_off >= p->hdr.len))
			return bad(f, g);
		memcpy(g->hdr, p->hdr.p, p->hdr.len);
		g->hlen = (uint16_t)p->hdr.len;
		g->nh_off = p->nh_off;
		g->nh = p->nh;
		g->have_hdr = true;
	}

	/* bytes actually captured; a snapped fragment leaves a hole */
	uint32_t n = p->data.len < wl ? (uint32_t)p->data.len : wl;
	if (n) {
		uint32_t s = p->off, e = p->off + n;
		struct frange m[IPFRAG_MAX_RANGES + 1];
		unsigned nm = 0, i = 0;
		struct frange cur = {s, e};
		for (; i < g->nranges && g->r[i].e < s; i++)
			m[nm++] = g->r[i];
		for (; i < g->nranges && g->r[i].s <= e; i++) {
			if (g->r[i].s < cur.s)
				cur.s = g->r[i].s;
			if (g->r[i].e > cur.e)
				cur.e = g->r[i].e;
		}
		m[nm++] = cur;
		for (; i < g->nranges; i++) {
			if (nm > IPFRAG_MAX_RANGES)
				break;
			m[nm++] = g->r[i];
		}
		if (nm > IPFRAG_MAX_RANGES) {
			CAP_COUNT(f->st, FRAG_OVERFLOW);
			dg_drop(f, g);
			return IPFRAG_DROP;
		}
		if (!dg_reserve(f, g, e)) {
			CAP_COUNT(f->st, FRAG_OVERFLOW);
			dg_drop(f, g);
			return IPFRAG_DROP;
		}
		/* copy only the bytes nobody supplied yet: first copy wins */
		uint32_t pos = s;
		for (i = 0; i < g->nranges && pos < e; i++) {
			if (g->r[i].e <= pos)
				continue;
			if (g->r[i].s >= e)
				break;
			if (g->r[i].s > pos)
				memcpy(g->data + pos, p->data.p + (pos - s), g->r[i].s - pos);
			pos = g->r[i].e;
		}
		if (pos < e)
			memcpy(g->data + pos, p->data.p + (pos - s), e - pos);
		memcpy(g->r, m, nm * sizeof(m[0]));
		g->nranges = (uint16_t)nm;
	}

	if (!g->total_known || !g->have_hdr)
		return IPFRAG_PENDING;
	bool whole = g->total == 0 ? g->nranges == 0
	                           : (g->nranges == 1 && g->r[0].s == 0 && g->r[0].e == g->total);
	if (!whole)
		return IPFRAG_PENDING;
	if (!dg_finish(f, g, out))
		return bad(f, g);
	CAP_COUNT(f->st, FRAG_REASSEMBLED);
	dg_drop(f, g);
	return IPFRAG_DONE;
}

void
ipfrag_expire(struct ipfrag *f, uint64_t now_ns)
{
	while (f->head && now_ns >= f->head->first_ts && now_ns - f->head->first_ts >= f->timeout) {
		CAP_COUNT(f->st, FRAG_TIMEOUT);
		dg_drop(f, f->head);
	}
}

uint64_t
ipfrag_deadline(const struct ipfrag *f)
{
	if (!f->head)
		return UINT64_MAX;
	uint64_t t = f->head->first_ts;
	return t > UINT64_MAX - f->timeout ? UINT64_MAX : t + f->timeout;
}

uint32_t
ipfrag_count(const struct ipfrag *f)
{
	return f->n;
}

uint64_t
ipfrag_bytes(const struct ipfrag *f)
{
	return f->bytes;
}

void
ipfrag_free(struct ipfrag *f)
{
	if (!f)
		return;
	while (f->head)
		dg_drop(f, f->head);
	free(f->buckets);
	free(f->out);
	free(f);
}
