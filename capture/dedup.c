/*
 * dedup.c - SPAN duplicate suppression: a bounded, growing table of recent
 * IP packet fingerprints.  See dedup.h for what counts as a copy and why.
 */
#include "dedup.h"

#include <stdlib.h>
#include <string.h>

#define DEF_WINDOW_NS 5000000ull
#define DEF_ENTRIES 65536u
#define MAX_ENTRIES (1u << 20)
#define START_ENTRIES 256u
#define WAYS 4u
/* the table doubles when more than 1/GROW_AT of it was filled in one window */
#define GROW_AT 8u

#define SEED_KEY 0x6d786c6167737061ull /* "mxlagspa" */
#define SEED_TAIL 0x6475706c69636174ull
#define MUL 0x9e3779b97f4a7c15ull
#define FIN 0xc2b2ae3d27d4eb4full

/* low bits of entry.tail: the slot is in use / the packet was snapped */
#define TAIL_USED 2ull
#define TAIL_SNAPPED 1ull

struct dd_entry {
	uint64_t key;  /* IP length + normalized prefix */
	uint64_t tail; /* hash of the bytes after the prefix | flags; 0 = empty */
	uint64_t ts;
};

struct dedup {
	struct cap_stats *st;
	uint64_t window;
	uint32_t mask;        /* buckets - 1 */
	uint32_t max_buckets; /* the table grows up to this */
	uint64_t period_start; /* packet time the current window period began */
	uint32_t period_inserts;
	struct dd_entry *tab;
	uint64_t keep[16][2]; /* by IP version: the first 16 bytes' compared bits */
};

/*
 * Bytes a switch or router may rewrite (dedup.h), all within the first 16
 * bytes of the IP header: masked off before hashing, by IP version.
 */
struct norm {
	uint8_t off;
	uint8_t keep; /* bits of the byte that are compared */
};

static const struct norm norm_v4[] = {
    {1, 0x00},  /* TOS: DSCP, ECN */
    {8, 0x00},  /* TTL */
    {10, 0x00}, /* header checksum */
    {11, 0x00},
};

static const struct norm norm_v6[] = {
    {0, 0xf0}, /* version | Traffic Class high nibble */
    {1, 0x0f}, /* Traffic Class low nibble | Flow Label */
    {7, 0x00}, /* Hop Limit */
};

static const struct {
	const struct norm *t;
	size_t n;
} norms[16] = {
    [4] = {norm_v4, sizeof(norm_v4) / sizeof(norm_v4[0])},
    [6] = {norm_v6, sizeof(norm_v6) / sizeof(norm_v6[0])},
};

/* ---- hashing ------------------------------------------------------------ */

/* One word into a lane: a bijection of h for every w, so two inputs of
 * the same length that differ in a single word never collide. */
static inline uint64_t
step(uint64_t h, uint64_t w)
{
	h = (h ^ w) * MUL;
	return h ^ (h >> 31);
}

static inline uint64_t
rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

struct hstate {
	uint64_t a, b; /* two independent lanes: twice the multiplies in flight */
};

/*
 * The last n (1-7) bytes before end as a word, zero-extended: one load of
 * the 8 bytes ending there (the 8 bytes before end must be readable).
 * Copying them into a zeroed word on the stack and loading that instead
 * stalled every packet whose prefix is not whole words (IPv4 + TCP with
 * timestamps: 52 bytes): a load of 8 bytes cannot be forwarded from
 * stores of single bytes.
 */
static inline uint64_t
rd_last(const uint8_t *end, size_t n)
{
	uint64_t w = rd64(end - 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return w & ((1ull << (8 * n)) - 1);
#else
	return w >> (8 * (8 - n));
#endif
}

/* n bytes, 16 at a time, the last word zero-padded; the 8 bytes before p
 * must be readable (rd_last()) */
static inline void
absorb(struct hstate *h, const uint8_t *p, size_t n)
{
	for (; n >= 16; p += 16, n -= 16) {
		h->a = step(h->a, rd64(p));
		h->b = step(h->b, rd64(p + 8));
	}
	if (n >= 8) {
		h->a = step(h->a, rd64(p));
		p += 8;
		n -= 8;
	}
	if (n)
		h->b = step(h->b, rd_last(p + n, n));
}

static inline uint64_t
digest(const struct hstate *h)
{
	uint64_t x = h->a ^ (h->b << 32 | h->b >> 32);
	x ^= x >> 33;
	x *= FIN;
	return x ^ (x >> 29);
}

/* ---- the table ---------------------------------------------------------- */

static bool
in_window(uint64_t a, uint64_t b, uint64_t window)
{
	return (a > b ? a - b : b - a) <= window; /* packet time may step back */
}

struct dedup *
dedup_new(const struct dedup_limits *lim, struct cap_stats *st)
{
	struct dedup *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	uint32_t want = lim && lim->entries ? lim->entries : DEF_ENTRIES;
	uint32_t max = WAYS;
	while (max < want && max < MAX_ENTRIES)
		max <<= 1;
	uint32_t n = max < START_ENTRIES ? max : START_ENTRIES;
	d->tab = calloc(n, sizeof(*d->tab));
	if (!d->tab) {
		free(d);
		return NULL;
	}
	for (unsigned v = 0; v < 16; v++) {
		uint8_t m[16];
		memset(m, 0xff, sizeof(m));
		for (size_t i = 0; i < norms[v].n; i++)
			m[norms[v].t[i].off] = norms[v].t[i].keep;
		memcpy(&d->keep[v][0], m, 8);
		memcpy(&d->keep[v][1], m + 8, 8);
	}
	d->st = st;
	d->window = lim && lim->window_ns ? lim->window_ns : DEF_WINDOW_NS;
	d->mask = n / WAYS - 1;
	d->max_buckets = max / WAYS;
	return d;
}

static bool
live(const struct dedup *d, const struct dd_entry *e, uint64_t now)
{
	return e->tail && in_window(e->ts, now, d->window);
}

/*
 * Doubles the table, keeping the fingerprints still in the window.  The
 * entries of old bucket i go to new bucket i or i + old buckets, so each
 * new bucket receives at most WAYS of them.  Without memory the table
 * just stays as it is.
 */
static void
grow(struct dedup *d, uint64_t now)
{
	uint32_t nb = (d->mask + 1) * 2;
	struct dd_entry *t = calloc((size_t)nb * WAYS, sizeof(*t));
	if (!t) {
		d->max_buckets = d->mask + 1;
		return;
	}
	for (size_t i = 0; i < (size_t)(d->mask + 1) * WAYS; i++) {
		const struct dd_entry *e = &d->tab[i];
		if (!live(d, e, now))
			continue;
		struct dd_entry *b = &t[(size_t)(e->key & (nb - 1)) * WAYS];
		unsigned k = 0;
		while (k < WAYS && b[k].tail)
			k++;
		if (k < WAYS)
			b[k] = *e;
	}
	free(d->tab);
	d->tab = t;
	d->mask = nb - 1;
}

/*
 * The slot for a new fingerprint: empty or expired, else the oldest.
 * Evicting one still in its window is counted once the table cannot grow:
 * below that the load is under an eighth and the bucket filled by chance.
 */
static struct dd_entry *
victim(struct dedup *d, struct dd_entry *b, uint64_t now)
{
	struct dd_entry *v = &b[0];
	for (unsigned i = 0; i < WAYS; i++) {
		if (!live(d, &b[i], now))
			return &b[i];
		if (b[i].ts < v->ts)
			v = &b[i];
	}
	if (d->mask + 1 >= d->max_buckets)
		CAP_COUNT(d->st, DUP_TABLE_FULL);
	return v;
}

/*
 * Offset of the TCP or UDP checksum inside the prefix when it is there and
 * not zero, else 0.  That checksum covers the payload: two packets whose
 * prefixes (headers and checksum) are equal carry equal payloads but by a
 * checksum collision, so their tails need no hashing.  Only first
 * fragments (or whole datagrams) have the header; an IPv4 UDP checksum of
 * zero means none.
 */
static size_t
l4_checksum_at(const uint8_t *p, size_t cov)
{
	size_t off;
	uint8_t proto;
	if ((p[0] >> 4) == 4 && cov >= 20) {
		if ((p[6] & 0x1f) || p[7]) /* a later fragment */
			return 0;
		off = (size_t)(p[0] & 15) * 4;
		proto = p[9];
	} else if ((p[0] >> 4) == 6 && cov >= 40) {
		off = 40; /* without extension headers only */
		proto = p[6];
	} else {
		return 0;
	}
	size_t at = proto == 6 ? off + 16 : proto == 17 ? off + 6 : 0;
	if (!at || at + 2 > cov || (p[at] == 0 && p[at + 1] == 0))
		return 0;
	return at;
}

bool
dedup_seen(struct dedup *d, struct bview l3, uint32_t wirelen, uint64_t ts_ns)
{
	size_t cov = wirelen < DEDUP_PREFIX ? wirelen : DEDUP_PREFIX;
	if (cov == 0 || l3.len < cov || l3.len > wirelen)
		return false; /* snapped inside the prefix: not compared */

	/* key: IP length and prefix, the rewritable bits masked off */
	const uint8_t *p = l3.p, *head = p;
	uint8_t pad[16];
	if (cov < 16) {
		memset(pad, 0, sizeof(pad));
		memcpy(pad, p, cov);
		head = pad;
	}
	const uint64_t *keep = d->keep[p[0] >> 4];
	struct hstate h = {step(SEED_KEY, wirelen), SEED_TAIL};
	h.a = step(h.a, rd64(head) & keep[0]);
	h.b = step(h.b, rd64(head + 8) & keep[1]);
	if (cov > 16)
		absorb(&h, p + 16, cov - 16);
	uint64_t key = digest(&h);
	/* tail: the same state carried on over the rest */
	uint64_t tail = TAIL_USED;
	if (l3.len < wirelen) {
		tail |= TAIL_SNAPPED;
	} else if (l3.len > cov && !l4_checksum_at(p, cov)) {
		/* else no tail: the IP length (and the checksum) are in the key */
		absorb(&h, p + cov, l3.len - cov);
		tail |= digest(&h) & ~3ull;
	}

	struct dd_entry *b = &d->tab[(size_t)(key & d->mask) * WAYS];
	for (unsigned i = 0; i < WAYS; i++) {
		const struct dd_entry *e = &b[i];
		if (e->key == key && live(d, e, ts_ns) &&
		    (e->tail == tail || ((e->tail | tail) & TAIL_SNAPPED))) {
			CAP_COUNT(d->st, DUP_SPAN);
			return true;
		}
	}

	/* a new packet: grow with the rate of new packets, then remember it */
	if (ts_ns < d->period_start || ts_ns - d->period_start > d->window) {
		d->period_start = ts_ns;
		d->period_inserts = 0;
	}
	if (++d->period_inserts > (d->mask + 1) * WAYS / GROW_AT && d->mask + 1 < d->max_buckets) {
		grow(d, ts_ns);
		b = &d->tab[(size_t)(key & d->mask) * WAYS];
	}
	struct dd_entry *v = victim(d, b, ts_ns);
	v->key = key;
	v->tail = tail;
	v->ts = ts_ns;
	return false;
}

uint32_t
dedup_capacity(const struct dedup *d)
{
	return (d->mask + 1) * WAYS;
}

void
dedup_free(struct dedup *d)
{
	if (!d)
		return;
	free(d->tab);
	free(d);
}
