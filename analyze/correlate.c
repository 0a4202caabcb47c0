/*
 * correlate.c - slow replies x overlapping DNS/ident activity -> causes.
 *
 * Relations are decided by names and addresses (DESIGN.md vocabulary):
 * the reverse name of the client or of the host itself, the names the
 * session carried (HELO, banner, envelope domains), names learned from
 * earlier answers (the client's PTR target, MX hosts), DNSBL-shaped names
 * and IP literals.  Time overlap alone only ever gives "unrelated", and
 * only for lookups of the same machine.
 *
 * Four stores, each bounded by its cap:
 *  - the window of finished queries, in the order they finished (which is
 *    the order of their ends), forgotten once no held or open wait can
 *    overlap them;
 *  - the same for ident probes;
 *  - the recent mail connections, by handle and by client address;
 *  - the learned answers of PTR and MX lookups, oldest out first.
 * The held slow replies wait until their evidence is final (corr_advance).
 */
#include "correlate.h"
#include "bounce.h"

#include <ctype.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose.h"
#include "dns.h"

#define MAX_CAND 256
#define MAX_UNRELATED_SHOWN 3
#define MAX_BIG_SHOWN 3 /* big messages named as the causes of one wait */
#define MIN_SHARE 0.01
#define NS_PER_S 1000000000ULL
/* evidence that two host addresses are one machine: the connections of the
   looked-up client in this span before the lookup (and 1 s after it) */
#define MERGE_BEFORE_NS (10 * NS_PER_S)
#define MERGE_AFTER_NS (1 * NS_PER_S)
#define NAME_ANSWERS_MAX 256

/* ---- records ---------------------------------------------------------------- */

/*
 * A finished query as the window keeps it: 80 bytes plus its name in the
 * window's name arena.  Its last send and its end are microseconds after
 * its first send (rec_last(), rec_end()).
 */
enum name_kind {
	NK_OTHER = 0,
	NK_REVERSE, /* an in-addr.arpa / ip6.arpa name of a whole address */
	NK_REVERSED, /* a reversed address under another zone (DNSBL-shaped) */
	NK_LITERAL, /* an IP address */
};

struct dns_rec {
	uint64_t id;
	uint64_t owner; /* the session it was made for, 0 = cannot tell */
	uint64_t ts;
	uint32_t last_us, end_us;
	uint32_t qpos;  /* of the name in the arena */
	uint32_t qhash; /* mx_name_hash() of the name */
	uint16_t qtype;
	uint8_t outcome; /* enum mx_dns_outcome */
	uint8_t kind : 2, from_resolver : 1;
	uint16_t qlen; /* strlen of the name (text names are < MX_QNAME_MAX) */
	struct mx_addr client, server;
};

/*
 * The window's slots in blocks of DNS_BLK with the earliest start and the
 * latest end of the live records in them: a settle pass skips a block that
 * lies outside the wait, so a wait costs about n/DNS_BLK checks plus the
 * records near it.
 */
#define DNS_BLK 64
struct dns_blk {
	uint64_t min_ts, max_end;
	/* for a settle pass to pass over a block holding nothing of its wait's
	   (blk_nothing_for()): of the block's records without an owner, the
	   or of their name signatures and their longest lifetime; of the
	   others, a bit for each owner (owner_bit()) */
	uint64_t free_sig;
	uint64_t owner_bits;
	uint32_t free_max_us;
};

/*
 * The names of the window's records, in the same order: a ring of bytes.
 * head and tail are offsets in buf, used the bytes from head to tail, ends
 * skipped included: a name never wraps around the end (the rest of the
 * ring is skipped instead).  It grows as the window does, an eighth at a
 * time (dwin_grow_names()).
 */
struct arena {
	char *buf;
	uint32_t size, head, tail, used;
};

/*
 * What a settle pass reads of a record in a block that overlaps the wait
 * and that may be the wait's (owner_mask()), apart from the records: 16
 * bytes a slot instead of 80, so a long wait over a busy window touches a
 * fifth of the cache lines.
 */
struct dns_hot {
	uint64_t ts;
	uint32_t end_us; /* as the record's */
};

/*
 * A record's name signature (sig_of_name()): of 63 bits, the one of each
 * suffix of its name that begins a label, the whole name included.  A
 * wait's mask (struct rctx) has the bit of every name its relations
 * compare whole or as a domain (relation_of()).  A record that may be
 * related in another way (owned by a session, not a plain name, a zone
 * query, a name without a dot or an SPF-like TXT name) is SIG_ANY, a bit
 * every mask has.  So a record whose signature shares no bit with a
 * wait's mask is unrelated to the wait, without reading its name.
 */
#define SIG_ANY 1ull

struct dwin {
	struct dns_rec *v;
	struct dns_hot *hot; /* by slot, as v */
	/* by slot: the low bits of the record's owner (0 = none), enough to
	   tell the sessions of a window apart; apart from hot, so that a
	   block's 64 are 4 cache lines, compared 4 at a time (owner_mask()) */
	uint32_t *own;
	uint64_t *sig;       /* by slot: the record's name signature */
	struct dns_blk *blk;
	uint32_t cap, head, n; /* cap: a multiple of DNS_BLK (dwin_next_size()) */
	uint32_t n_resolver;   /* records sent by a DNS server (upstream hops) */
	struct arena names;
};

struct ident_rec {
	uint64_t id;
	uint64_t owner;
	uint64_t ts, last_ns, end_ns;
	struct mx_addr host, peer;
	uint8_t outcome; /* enum mx_ident_outcome */
};

struct iwin {
	struct ident_rec *v;
	uint32_t cap, head, n;
};

/* one mail connection (session or attempt), by handle and by client */
struct conn_rec {
	uint64_t seq; /* the handle; 0 = empty slot */
	struct mx_endpoint cli, srv;
	uint64_t ts, end_ns; /* end_ns 0: still open */
	uint8_t outcome;     /* enum mx_outcome once closed */
	int32_t next, prev;  /* chain of the client address, -1 ends */
};

struct conns {
	struct conn_rec *v;
	uint32_t cap; /* power of two */
	uint64_t seq;
	uint32_t *head; /* cap buckets by client address: 1 + slot, 0 = none */
};

/*
 * learned answers: qname -> answer summary (PTR targets, MX hosts).  name
 * points at one allocation of exactly "name\0answers\0" (the answers at
 * name + nlen + 1, at most NAME_ANSWERS_MAX - 1 characters): a busy host
 * keeps tens of thousands, most of them far shorter than the cap.
 */
struct name_ent {
	uint32_t hash;
	uint32_t nlen;
	char *name;
};

struct names {
	struct name_ent *v; /* oldest at head */
	uint32_t cap, head, n;
	uint32_t *tab; /* 2*cap slots (power of two): 1 + index into v, 0 empty */
	uint32_t tmask;
};

/* a slow reply waiting for its evidence */
struct held {
	uint64_t txn_id;
	uint64_t session_id;
	char command[16];
	uint64_t t0, t1;     /* the client's wait */
	uint64_t prev_reply; /* the session's previous reply, 0 = none */
	bool replied;
	uint8_t outcome; /* enum mx_outcome */
	uint8_t software; /* enum mx_software: of the session's server */
	struct mx_addr client, server;
	/* helo, banner, sender, then nrcpt recipient domains, each NUL-ended */
	char *names;
	uint8_t nrcpt;
};

/* a message of 1 MiB or more on the wire (EV_TRANSFER), by session */
struct xfer_rec {
	uint64_t session_id;
	struct mx_addr cli, srv;
	uint64_t start_ns, last_ns, bytes;
	uint64_t busy_end_ns; /* the reply to its end, or its session's end; 0 = not yet */
	bool done, to_client;
};

struct corr {
	struct corr_cfg cfg;
	struct mx_sink out;
	struct hosts *hosts;
	struct dwin dns;
	struct iwin ident;
	struct conns conn;
	struct names names;
	struct held *held;
	uint32_t nheld;
	uint64_t now_ns;
	uint64_t final_ns;  /* every query and probe that began before this is in */
	uint64_t keep_from; /* records ending before this are needed by no wait */
	uint64_t lost_until; /* records a wait might need were dropped up to here */
	struct xfer_rec *xf; /* big messages: few, searched linearly */
	uint32_t nxf;
	uint64_t xf_first_end; /* the earliest busy_end_ns among them (a bound), or UINT64_MAX */
	struct corr_stats st;
	struct bounce *bounce; /* issue 17: bounces of inbound mail (bounce.h) */
};

/* a candidate cause while one wait is being settled */
struct cand {
	int is_dns;
	const struct dns_rec *d;
	const struct ident_rec *i;
	enum mx_relation rel;
	double overlap_ms, query_ms;
	int parent; /* index of the query it is an upstream hop of, -1 */
	bool from_resolver; /* sent by a resolver the machine asked */
	bool taken;
	bool unanswered;
	uint64_t start, last, end; /* lifetime as far as this wait is concerned */
};

/* ---- small helpers ------------------------------------------------------------- */

static double
ns_to_ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static int64_t
overlap_ns(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
	uint64_t s = a0 > b0 ? a0 : b0, e = a1 < b1 ? a1 : b1;
	return e > s ? (int64_t)(e - s) : 0;
}

static uint32_t
pow2_at_least(uint32_t n)
{
	uint32_t p = 1;
	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

void
corr_arpa_name(const struct mx_addr *a, char *buf, unsigned long n)
{
	static const char hex[] = "0123456789abcdef";
	if (n == 0)
		return;
	buf[0] = '\0';
	if (a->family == 4 && n >= 29) {
		struct mx_addr r = {.family = 4, .a = {a->a[3], a->a[2], a->a[1], a->a[0]}};
		mx_addr_fmt(&r, buf, n);
		memcpy(buf + strlen(buf), ".in-addr.arpa", 14);
	} else if (a->family == 6 && n >= 73) {
		char *p = buf;
		for (int i = 15; i >= 0; i--) {
			*p++ = hex[a->a[i] & 15];
			*p++ = '.';
			*p++ = hex[a->a[i] >> 4];
			*p++ = '.';
		}
		memcpy(p, "ip6.arpa", 9);
	}
}

static bool
ends_with_domain(const char *name, const char *dom)
{
	size_t n = strlen(name), d = strlen(dom);
	if (d == 0 || n < d)
		return false;
	if (strcmp(name + n - d, dom) != 0)
		return false;
	return n == d || name[n - d - 1] == '.';
}

/* ---- the query window ----------------------------------------------------------- */

static uint64_t
rec_last(const struct dns_rec *d)
{
	return d->ts + (uint64_t)d->last_us * 1000;
}

static uint64_t
rec_end(const struct dns_rec *d)
{
	return d->ts + (uint64_t)d->end_us * 1000;
}

static uint32_t
us_after(uint64_t t, uint64_t t0)
{
	uint64_t us = t > t0 ? (t - t0 + 999) / 1000 : 0;
	return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static const char *
rec_qname(const struct dwin *w, const struct dns_rec *d)
{
	return &w->names.buf[d->qpos];
}

static uint32_t
dwin_slot(const struct dwin *w, uint32_t i)
{
	uint32_t s = w->head + i; /* head < cap and i < cap: below 2^32 */
	return s >= w->cap ? s - w->cap : s;
}

static bool
dwin_live(const struct dwin *w, uint32_t slot)
{
	return (slot >= w->head ? slot - w->head : slot + w->cap - w->head) < w->n;
}

/* an owner's bit in a block's owner_bits (the low bits of the owner, as
 * dwin.own has them) */
static uint64_t
owner_bit(uint32_t owner)
{
	return 1ull << ((owner * 0x9e3779b1u) >> 26);
}

/* The record in slot s into its block's summary. */
static void
blk_add(struct dwin *w, uint32_t s)
{
	struct dns_blk *k = &w->blk[s / DNS_BLK];
	const struct dns_rec *d = &w->v[s];
	if (d->ts < k->min_ts)
		k->min_ts = d->ts;
	if (rec_end(d) > k->max_end)
		k->max_end = rec_end(d);
	if (w->own[s]) {
		k->owner_bits |= owner_bit(w->own[s]);
	} else {
		k->free_sig |= w->sig[s];
		if (d->end_us > k->free_max_us)
			k->free_max_us = d->end_us;
	}
}

static void
blk_recount(struct dwin *w, uint32_t b)
{
	w->blk[b] = (struct dns_blk){.min_ts = UINT64_MAX};
	for (uint32_t s = b * DNS_BLK; s < (b + 1) * DNS_BLK; s++)
		if (dwin_live(w, s))
			blk_add(w, s);
}

/* Reverses the elements i..j-1 of an array of elements of size bytes. */
static void
reverse_elems(unsigned char *a, size_t i, size_t j, size_t size)
{
	unsigned char t[128];
	while (i + 1 < j) {
		j--;
		memcpy(t, a + i * size, size);
		memcpy(a + i * size, a + j * size, size);
		memcpy(a + j * size, t, size);
		i++;
	}
}

/* Turns the ring of n elements starting at head into an array starting at 0. */
static void
unwrap(void *base, size_t n, size_t size, size_t head)
{
	if (head == 0 || n == 0)
		return;
	reverse_elems(base, 0, head, size);
	reverse_elems(base, head, n, size);
	reverse_elems(base, 0, n, size);
}

/*
 * The next size of the query window (in records) or of its name arena (in
 * bytes) now cur: first when empty, twice cur while below eighths_from,
 * then an eighth more, rounded up to a multiple of unit (a power of two).
 * A window that settles just past a size thus has an eighth of it spare,
 * not all of it: doubling made a live capture's peak RSS depend on whether
 * its window had crossed 32 768 records (+3 to +6 MiB, bench/README.md,
 * issue 16).  Each growth costs a pass over the window: eighths keep that
 * a constant per record.
 */
static uint64_t
dwin_next_size(uint64_t cur, uint64_t first, uint64_t eighths_from, uint64_t unit)
{
	uint64_t n = cur == 0 ? first : cur < eighths_from ? 2 * cur : cur + cur / 8;
	return (n + unit - 1) & ~(unit - 1);
}

/*
 * Grows the window (dwin_next_size(), in blocks, up to max).  The records are first put in order
 * in place (the window is full when it grows), then each array is
 * reallocated on its own: the peak is the old arrays and one new one, not
 * both sets (the large ones move by remapping, without a copy).  A failed
 * reallocation leaves the window as it was, only with some arrays larger.
 */
static bool
dwin_grow(struct dwin *w, uint32_t max)
{
	uint64_t next = dwin_next_size(w->cap, 1024, 8192, DNS_BLK);
	uint32_t cap = next > max ? max : (uint32_t)next;
	if (cap <= w->cap)
		return false;
	_Static_assert(sizeof(struct dns_rec) <= 128 && sizeof(struct dns_hot) <= 128,
		       "reverse_elems() swaps through 128 bytes");
	if (w->cap) {
		/* slots past n are free; a full ring is unwrapped, a partial one
		   too (its live slots then start at 0) */
		unwrap(w->v, w->cap, sizeof(*w->v), w->head);
		unwrap(w->hot, w->cap, sizeof(*w->hot), w->head);
		unwrap(w->sig, w->cap, sizeof(*w->sig), w->head);
		unwrap(w->own, w->cap, sizeof(*w->own), w->head);
		w->head = 0;
		for (uint32_t k = 0; k < w->cap / DNS_BLK; k++)
			blk_recount(w, k);
	}
	struct dns_rec *v = realloc(w->v, cap * sizeof(*v));
	if (!v)
		return false;
	w->v = v;
	struct dns_hot *hot = realloc(w->hot, cap * sizeof(*hot));
	if (!hot)
		return false;
	w->hot = hot;
	uint64_t *sig = realloc(w->sig, cap * sizeof(*sig));
	if (!sig)
		return false;
	w->sig = sig;
	uint32_t *own = realloc(w->own, cap * sizeof(*own));
	if (!own)
		return false;
	w->own = own;
	struct dns_blk *b = realloc(w->blk, cap / DNS_BLK * sizeof(*b));
	if (!b)
		return false;
	w->blk = b;
	uint32_t old = w->cap;
	w->cap = cap;
	for (uint32_t k = old / DNS_BLK; k < cap / DNS_BLK; k++)
		blk_recount(w, k);
	return true;
}

/*
 * Makes room in the window's name arena for a name of len bytes
 * (dwin_next_size() from 64 KiB, eighths from 256 KiB, whole pages; or
 * what the name needs), with the live names moved to the front in order
 * and the records' positions moved with them.  The arena is rotated
 * in place before it is reallocated, so the peak is the old size and the
 * new, once.  False when out of memory (the arena then is as it was, only
 * rotated).
 */
static bool
dwin_grow_names(struct dwin *w, uint32_t len)
{
	struct arena *a = &w->names;
	uint64_t size = dwin_next_size(a->size, 65536, 262144, 4096);
	if (size < (uint64_t)a->used + len)
		size = ((uint64_t)a->used + len + 4095) & ~(uint64_t)4095;
	if (size > UINT32_MAX)
		return false;
	if (a->head) {
		uint32_t h = a->head;
		for (uint32_t i = 0; i < w->n; i++) {
			struct dns_rec *d = &w->v[dwin_slot(w, i)];
			d->qpos = d->qpos >= h ? d->qpos - h : d->qpos + a->size - h;
		}
		unwrap(a->buf, a->size, 1, h);
		a->head = 0;
		a->tail = a->used == a->size ? 0 : a->used;
	}
	char *b = realloc(a->buf, size);
	if (!b)
		return false;
	a->buf = b;
	a->size = (uint32_t)size;
	a->tail = a->used; /* the live bytes are [0, used): size >= used + len */
	return true;
}

/* Appends a record's name (len bytes with its NUL); its position, or
 * false when out of memory. */
static bool
dwin_put_name(struct dwin *w, const char *s, uint32_t len, uint32_t *pos)
{
	struct arena *a = &w->names;
	uint32_t skip = a->tail + len > a->size ? a->size - a->tail : 0;
	if (a->size - a->used < skip + len) {
		if (!dwin_grow_names(w, len))
			return false;
		skip = 0;
	}
	if (skip)
		a->tail = 0;
	*pos = a->tail;
	memcpy(&a->buf[a->tail], s, len);
	a->tail += len;
	if (a->tail == a->size)
		a->tail = 0;
	a->used += skip + len;
	return true;
}

/* Forgets the oldest record. */
static void
dwin_pop(struct dwin *w)
{
	uint32_t s = w->head;
	struct arena *a = &w->names;
	uint32_t pos = w->v[s].qpos, end = pos + w->v[s].qlen + 1u; /* <= a->size */
	/* from the head to the name's end, or over the skipped end to it */
	a->used -= pos >= a->head ? end - a->head : a->size - a->head + end;
	a->head = end == a->size ? 0 : end;
	if (a->used == 0)
		a->head = a->tail = 0;
	w->n_resolver -= w->v[s].from_resolver;
	w->head = w->head + 1 == w->cap ? 0 : w->head + 1;
	w->n--;
	if (w->head % DNS_BLK == 0 || w->n == 0)
		blk_recount(w, s / DNS_BLK); /* the block the head left */
}

/* ---- the probe window ------------------------------------------------------------ */

static struct ident_rec *
iwin_at(const struct iwin *w, uint32_t i)
{
	return &w->v[(w->head + i) & (w->cap - 1)];
}

static bool
iwin_grow(struct iwin *w, uint32_t max)
{
	uint32_t cap = w->cap ? w->cap * 2 : max < 256 ? max : 256;
	if (cap > max)
		return false;
	struct ident_rec *v = malloc(cap * sizeof(*v));
	if (!v)
		return false;
	for (uint32_t i = 0; i < w->n; i++)
		v[i] = *iwin_at(w, i);
	free(w->v);
	w->v = v;
	w->cap = cap;
	w->head = 0;
	return true;
}

/* ---- mail connections ----------------------------------------------------------- */

static uint32_t
conn_bucket(const struct conns *k, const struct mx_addr *a)
{
	return (uint32_t)mx_addr_hash(a) & (k->cap - 1);
}

static void
conn_unlink(struct conns *k, uint32_t slot)
{
	struct conn_rec *r = &k->v[slot];
	if (r->prev >= 0)
		k->v[r->prev].next = r->next;
	else
		k->head[conn_bucket(k, &r->cli.addr)] = (uint32_t)(r->next + 1);
	if (r->next >= 0)
		k->v[r->next].prev = r->prev;
}

uint64_t
corr_conn_open(struct corr *c, const struct mx_endpoint *cli, const struct mx_endpoint *srv,
	       uint64_t ts_ns)
{
	struct conns *k = &c->conn;
	uint64_t seq = ++k->seq;
	uint32_t slot = (uint32_t)seq & (k->cap - 1);
	struct conn_rec *r = &k->v[slot];
	if (r->seq)
		conn_unlink(k, slot);
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->cli = *cli;
	r->srv = *srv;
	r->ts = ts_ns;
	uint32_t *h = &k->head[conn_bucket(k, &cli->addr)];
	r->next = (int32_t)*h - 1;
	r->prev = -1;
	if (r->next >= 0)
		k->v[r->next].prev = (int32_t)slot;
	*h = slot + 1;
	return seq;
}

void
corr_conn_close(struct corr *c, uint64_t handle, uint64_t end_ns, enum mx_outcome outcome)
{
	struct conn_rec *r = &c->conn.v[(uint32_t)handle & (c->conn.cap - 1)];
	if (!handle || r->seq != handle)
		return;
	r->end_ns = end_ns > r->ts ? end_ns : r->ts + 1;
	r->outcome = (uint8_t)outcome;
}

/* Start of the span the connection memory still covers completely. */
static uint64_t
conn_memory_from(const struct conns *k)
{
	if (k->seq < k->cap)
		return 0;
	const struct conn_rec *oldest = &k->v[(uint32_t)(k->seq + 1) & (k->cap - 1)];
	return oldest->ts;
}

/* ---- learned answers ---------------------------------------------------------- */

static uint32_t *
names_find_slot(const struct names *m, const char *name, uint32_t h)
{
	for (uint32_t s = h & m->tmask;; s = (s + 1) & m->tmask) {
		uint32_t i = m->tab[s];
		if (!i || (m->v[i - 1].hash == h && strcmp(m->v[i - 1].name, name) == 0))
			return &m->tab[s];
	}
}

static const char *
names_get(const struct names *m, const char *name)
{
	if (!name[0])
		return "";
	uint32_t i = *names_find_slot(m, name, mx_name_hash(name));
	return i ? m->v[i - 1].name + m->v[i - 1].nlen + 1 : "";
}

/* Removes table slot s (linear probing: later entries of the run move up). */
static void
names_tab_delete(struct names *m, uint32_t s)
{
	m->tab[s] = 0;
	for (uint32_t j = (s + 1) & m->tmask; m->tab[j]; j = (j + 1) & m->tmask) {
		uint32_t want = m->v[m->tab[j] - 1].hash & m->tmask;
		/* does j's entry belong at or before the hole (cyclically)? */
		bool move = s <= j ? (want <= s || want > j) : (want <= s && want > j);
		if (move) {
			m->tab[s] = m->tab[j];
			m->tab[j] = 0;
			s = j;
		}
	}
}

static void
append_answers(char *dst, size_t n, const char *answers)
{
	/* a cut-off list only loses late answers */
	size_t l = strlen(dst);
	if (l && l + 1 < n)
		dst[l++] = ',';
	size_t a = strlen(answers);
	if (a > n - 1 - l)
		a = n - 1 - l;
	memcpy(dst + l, answers, a);
	dst[l + a] = '\0';
}

static void
names_put(struct names *m, const char *name, const char *answers)
{
	uint32_t h = mx_name_hash(name);
	uint32_t *slot = names_find_slot(m, name, h);
	char merged[NAME_ANSWERS_MAX];
	if (*slot) {
		struct name_ent *e = &m->v[*slot - 1];
		const char *have = e->name + e->nlen + 1;
		if (strstr(have, answers))
			return;
		/* answers that change are all kept */
		snprintf(merged, sizeof(merged), "%s", have);
		append_answers(merged, sizeof(merged), answers);
		size_t ml = strlen(merged);
		char *grown = realloc(e->name, e->nlen + 1 + ml + 1);
		if (!grown)
			return; /* keeps what it had */
		memcpy(grown + e->nlen + 1, merged, ml + 1);
		e->name = grown;
		return;
	}
	merged[0] = '\0';
	append_answers(merged, sizeof(merged), answers);
	size_t nl = strlen(name), ml = strlen(merged);
	if (nl > UINT32_MAX - ml - 2)
		return;
	char *copy = malloc(nl + 1 + ml + 1);
	if (!copy)
		return;
	memcpy(copy, name, nl + 1);
	memcpy(copy + nl + 1, merged, ml + 1);
	if (m->n == m->cap) { /* the oldest goes */
		struct name_ent *old = &m->v[m->head];
		uint32_t *os = names_find_slot(m, old->name, old->hash);
		names_tab_delete(m, (uint32_t)(os - m->tab));
		free(old->name);
		m->head = (m->head + 1) % m->cap;
		m->n--;
		slot = names_find_slot(m, name, h); /* the deletion moved entries */
	}
	uint32_t i = (m->head + m->n++) % m->cap;
	m->v[i].hash = h;
	m->v[i].nlen = (uint32_t)nl;
	m->v[i].name = copy;
	*slot = i + 1;
}

/* ---- life cycle ---------------------------------------------------------------- */

struct corr *
corr_new(const struct corr_cfg *cfg, struct hosts *hosts, const struct mx_sink *out)
{
	struct corr *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (cfg)
		c->cfg = *cfg;
	if (c->cfg.slow_ms <= 0)
		c->cfg.slow_ms = 1000;
	if (!c->cfg.unanswered_ns)
		c->cfg.unanswered_ns = 30ULL * NS_PER_S;
	if (!c->cfg.max_dns)
		c->cfg.max_dns = 262144;
	if (!c->cfg.max_ident)
		c->cfg.max_ident = 65536;
	if (!c->cfg.max_conn)
		c->cfg.max_conn = 16384;
	if (!c->cfg.max_held)
		c->cfg.max_held = 16384;
	if (!c->cfg.max_names)
		c->cfg.max_names = 65536;
	if (!c->cfg.big_bytes)
		c->cfg.big_bytes = CORR_BIG_BYTES_DEFAULT;
	if (!c->cfg.max_xfers)
		c->cfg.max_xfers = 256;
	/* a cap is rounded up to a power of two (the query window grows to
	   it in eighths, the probe window in powers of two) */
	c->cfg.max_dns = pow2_at_least(c->cfg.max_dns < DNS_BLK ? DNS_BLK : c->cfg.max_dns);
	c->cfg.max_ident = pow2_at_least(c->cfg.max_ident);
	c->out = *out;
	c->hosts = hosts;
	c->conn.cap = pow2_at_least(c->cfg.max_conn);
	c->conn.v = calloc(c->conn.cap, sizeof(*c->conn.v));
	c->conn.head = calloc(c->conn.cap, sizeof(*c->conn.head));
	c->names.cap = c->cfg.max_names;
	c->names.v = calloc(c->names.cap, sizeof(*c->names.v));
	c->names.tmask = pow2_at_least(2 * c->names.cap) - 1;
	c->names.tab = calloc(c->names.tmask + 1, sizeof(*c->names.tab));
	c->held = calloc(c->cfg.max_held, sizeof(*c->held));
	c->xf = calloc(c->cfg.max_xfers, sizeof(*c->xf));
	c->xf_first_end = UINT64_MAX;
	if (!hosts || !c->conn.v || !c->conn.head || !c->names.v || !c->names.tab || !c->held ||
	    !c->xf ||
	    !dwin_grow(&c->dns, c->cfg.max_dns) || !iwin_grow(&c->ident, c->cfg.max_ident) ||
	    !(c->bounce = bounce_new(NULL, hosts))) {
		corr_free(c);
		return NULL;
	}
	return c;
}

void
corr_free(struct corr *c)
{
	if (!c)
		return;
	free(c->dns.names.buf);
	free(c->dns.v);
	free(c->dns.hot);
	free(c->dns.sig);
	free(c->dns.own);
	free(c->dns.blk);
	free(c->ident.v);
	free(c->conn.v);
	free(c->conn.head);
	for (uint32_t i = 0; i < c->names.n; i++)
		free(c->names.v[(c->names.head + i) % c->names.cap].name);
	free(c->names.v);
	free(c->names.tab);
	for (uint32_t i = 0; i < c->nheld; i++)
		free(c->held[i].names);
	free(c->held);
	free(c->xf);
	bounce_free(c->bounce);
	free(c);
}

const struct corr_stats *
corr_stats(const struct corr *c)
{
	/* the bounce tables' figures, read now (issue 17) */
	struct corr_stats *st = (struct corr_stats *)&c->st;
	const struct bounce_stats *b = bounce_stats(c->bounce);
	st->bounces = b->marked;
	st->bounce_kept[0] = b->senders;
	st->bounce_kept[1] = b->mx;
	st->bounce_kept[2] = b->addrs;
	st->bounce_out[0] = b->senders_out;
	st->bounce_out[1] = b->mx_out;
	st->bounce_out[2] = b->addrs_out;
	return &c->st;
}

/* ---- machines ------------------------------------------------------------------ */

/*
 * sender looked up something about address x at ts (its PTR or DNSBL name,
 * or an ident probe).  When x was connected then only to servers of one
 * other machine, and never to sender's, sender is an address of that
 * machine (an IPv4 address resolving the IPv6 client of the same host).
 */
static void
learn_machine(struct corr *c, const struct mx_addr *sender, const struct mx_addr *x, uint64_t ts)
{
	if (hosts_given(c->hosts) || mx_addr_is_loopback(sender) ||
	    hosts_is_resolver(c->hosts, sender) || hosts_same_machine(c->hosts, sender, x))
		return; /* (the host's own reverse name says nothing of its clients) */
	uint64_t from = ts > MERGE_BEFORE_NS ? ts - MERGE_BEFORE_NS : 0;
	if (conn_memory_from(&c->conn) > from)
		return; /* the connections of that time are not all remembered */
	const struct conns *k = &c->conn;
	const struct mx_addr *other = NULL;
	for (int32_t s = (int32_t)k->head[conn_bucket(k, x)] - 1; s >= 0; s = k->v[s].next) {
		const struct conn_rec *r = &k->v[s];
		if (!mx_addr_eq(&r->cli.addr, x) || r->ts > ts + MERGE_AFTER_NS ||
		    (r->end_ns && r->end_ns < from))
			continue;
		if (hosts_same_machine(c->hosts, &r->srv.addr, sender))
			return; /* its own business */
		if (other && !hosts_same_machine(c->hosts, other, &r->srv.addr))
			return; /* x talks to several machines: no evidence */
		other = &r->srv.addr;
	}
	if (other && hosts_merge(c->hosts, sender, other))
		c->st.machines_merged++;
}

/* ---- name signatures (struct dwin) ------------------------------------------------ */

/* One step of a hash read from the end of a name towards its start, so
 * that the hashes of all its suffixes come from one pass (case ignored:
 * the words of answers are compared so). */
static uint64_t
sig_step(uint64_t h, char c)
{
	unsigned char u = (unsigned char)c;
	if (u >= 'A' && u <= 'Z')
		u = (unsigned char)(u - 'A' + 'a');
	return (h ^ u) * 0x100000001b3ull;
}

#define SIG_SEED 0xcbf29ce484222325ull

static bool
is_zone_query(uint16_t t)
{
	return t == DNS_T_NS || t == DNS_T_SOA || t == DNS_T_DS || t == DNS_T_DNSKEY;
}

/* the bit of a suffix's hash: one of bits 1..63 (bit 0 is SIG_ANY) */
static uint64_t
sig_bit(uint64_t h)
{
	return 2ull << (mx_mix64(h) % 63);
}

/* the bit of a whole name of n bytes */
static uint64_t
sig_of_item(const char *s, size_t n)
{
	uint64_t h = SIG_SEED;
	while (n > 0)
		h = sig_step(h, s[--n]);
	return sig_bit(h);
}

/* the bits of every suffix of a name that begins a label */
static uint64_t
sig_of_name(const char *s, size_t n)
{
	uint64_t h = SIG_SEED, sig = 0;
	for (size_t i = n; i > 0; i--) {
		h = sig_step(h, s[i - 1]);
		if (i == 1 || s[i - 2] == '.')
			sig |= sig_bit(h);
	}
	return sig;
}

/* The signature of the record d with the name q (of length n).  What
 * relation_of() relates by more than whole names and domain suffixes is
 * SIG_ANY: any relation but of an unowned plain name, and of a plain name
 * a zone query (kept whatever its relation), a name without a dot (the
 * machine's own short name) and a TXT name that looks like SPF. */
static uint64_t
rec_sig(const struct dns_rec *d, const char *q, size_t n)
{
	if (d->owner || d->kind != NK_OTHER || is_zone_query(d->qtype) || !memchr(q, '.', n) ||
	    (d->qtype == DNS_T_TXT && (strncmp(q, "_spf.", 5) == 0 || strstr(q, "spf"))))
		return SIG_ANY;
	return sig_of_name(q, n);
}

/* ---- adding records ---------------------------------------------------------- */

static void
add_dns(struct corr *c, const struct mx_dns *q)
{
	struct dwin *w = &c->dns;
	/* a response whose query was not seen: nobody was seen waiting for it,
	   so it explains no wait and teaches nothing about one */
	if (q->outcome == MXD_NO_QUERY)
		return;
	if (w->n == w->cap && !dwin_grow(w, c->cfg.max_dns)) {
		/* full at its cap: the oldest goes, needed or not */
		const struct dns_rec *old = &w->v[w->head];
		if (rec_end(old) >= c->keep_from) {
			c->st.dropped_dns++;
			if (rec_end(old) > c->lost_until)
				c->lost_until = rec_end(old);
		}
		dwin_pop(w);
	}
	uint32_t slot = dwin_slot(w, w->n);
	struct dns_rec *d = &w->v[slot];
	size_t qlen = strlen(q->qname);
	if (qlen > UINT16_MAX || !dwin_put_name(w, q->qname, (uint32_t)qlen + 1, &d->qpos))
		return; /* (a text name is shorter than MX_QNAME_MAX) */
	d->qlen = (uint16_t)qlen;
	uint64_t last = q->last_send_ns > q->ts_ns ? q->last_send_ns : q->ts_ns;
	d->id = q->id;
	d->owner = q->owner;
	d->ts = q->ts_ns;
	d->last_us = us_after(last, d->ts);
	d->end_us = us_after(q->response_ns ? q->response_ns : last + c->cfg.unanswered_ns, d->ts);
	d->client = q->client.addr;
	d->server = q->server.addr;
	d->qtype = q->qtype;
	d->outcome = (uint8_t)q->outcome;
	d->qhash = mx_name_hash(q->qname);
	w->hot[slot] = (struct dns_hot){d->ts, d->end_us};
	w->own[slot] = (uint32_t)d->owner;
	/* what a settle pass would work out for every wait: once, here */
	struct mx_dns_about tmp;
	const struct mx_dns_about *ab = dns_about(q->qname, &q->about, &tmp);
	const struct mx_addr x = ab->addr;
	d->kind = ab->kind == MXD_ABOUT_ARPA	   ? NK_REVERSE
		: ab->kind == MXD_ABOUT_REVERSED   ? NK_REVERSED
		: dns_name_is_ip_literal(q->qname, NULL) ? NK_LITERAL
							 : NK_OTHER;
	d->from_resolver = hosts_is_resolver(c->hosts, &d->client);
	w->sig[slot] = rec_sig(d, q->qname, qlen);
	w->n_resolver += d->from_resolver;
	blk_add(w, slot);
	w->n++;
	if (w->n > c->st.peak_dns)
		c->st.peak_dns = w->n;

	/* answers that later relations are judged by */
	if (q->answers[0] && (q->qtype == DNS_T_PTR || q->qtype == DNS_T_MX))
		names_put(&c->names, q->qname, q->answers);
	/* whose lookup: a reverse or DNSBL name says which client it is about */
	if ((q->qtype == DNS_T_PTR && d->kind == NK_REVERSE) ||
	    ((q->qtype == DNS_T_A || q->qtype == DNS_T_TXT) && d->kind == NK_REVERSED))
		learn_machine(c, &q->client.addr, &x, q->ts_ns);
}

static void
add_ident(struct corr *c, const struct mx_ident *p)
{
	struct iwin *w = &c->ident;
	if (w->n == w->cap && !iwin_grow(w, c->cfg.max_ident)) {
		const struct ident_rec *old = iwin_at(w, 0);
		if (old->end_ns >= c->keep_from) {
			c->st.dropped_ident++;
			if (old->end_ns > c->lost_until)
				c->lost_until = old->end_ns;
		}
		w->head = (w->head + 1) & (w->cap - 1);
		w->n--;
	}
	struct ident_rec *r = iwin_at(w, w->n++);
	if (w->n > c->st.peak_ident)
		c->st.peak_ident = w->n;
	r->id = p->id;
	r->owner = p->owner;
	r->ts = p->ts_ns;
	r->host = p->host.addr;
	r->peer = p->peer.addr;
	r->outcome = (uint8_t)p->outcome;
	uint64_t end = p->end_ns > p->ts_ns ? p->end_ns : p->ts_ns;
	r->last_ns = end;
	r->end_ns = p->outcome == MXI_UNANSWERED ? end + c->cfg.unanswered_ns : end;
	learn_machine(c, &p->host.addr, &p->peer.addr, p->ts_ns);
}

/* ---- relations -------------------------------------------------------------------- */

/*
 * The names of a comma-separated answer summary ("host.example",
 * "10 mx.example." for MX: the last word of each item, without its final
 * dot), split once per settle pass and then looked up for every candidate.
 */
#define MAX_WORDS 128 /* a 256-byte list holds fewer */
struct words {
	const char *w[MAX_WORDS];
	uint16_t len[MAX_WORDS];
	int n;
};

static void
words_split(struct words *ws, const char *answers)
{
	const char *p = answers;
	ws->n = 0;
	while (*p && ws->n < MAX_WORDS) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		const char *w = p;
		for (size_t i = 0; i < len; i++)
			if (p[i] == ' ')
				w = p + i + 1;
		size_t wl = len - (size_t)(w - p);
		if (wl > 0 && w[wl - 1] == '.')
			wl--;
		ws->w[ws->n] = w;
		ws->len[ws->n++] = (uint16_t)wl;
		if (!e)
			break;
		p = e + 1;
	}
}

/* Is name (of length nl) one of the words (case-insensitively)? */
static bool
words_have(const struct words *ws, const char *name, size_t nl)
{
	for (int i = 0; i < ws->n; i++)
		if (ws->len[i] == nl && strncasecmp(ws->w[i], name, nl) == 0)
			return true;
	return false;
}

/* What one wait's relations are judged against. */
#define MACHINE_ADDRS 8
struct rctx {
	const struct held *h;
	struct hosts_machine m; /* the server's machine */
	uint32_t hash_client, hash_server; /* of the reverse names */
	uint32_t hash_helo, hash_banner;
	char arpa_self[MACHINE_ADDRS][80]; /* reverse names of the machine's other addresses */
	int nself;
	const char *helo, *banner, *sender;
	const char *rcpt[MX_RCPT_DOMAINS];
	int nrcpt;
	char arpa_client[80], arpa_server[80];
	size_t dnsbl_prefix; /* "200.2.0.192." part of arpa_client */
	struct words w_client, w_server, w_sender, w_rcpt[MX_RCPT_DOMAINS];
	uint64_t sig_mask; /* SIG_ANY and the bits of the names above (struct dwin) */
};

static uint64_t
sig_of_words(const struct words *ws)
{
	uint64_t m = 0;
	for (int i = 0; i < ws->n; i++)
		m |= sig_of_item(ws->w[i], ws->len[i]);
	return m;
}

/* the bit of a name given as a string; none for "" */
static uint64_t
sig_of_text(const char *s)
{
	return s[0] ? sig_of_item(s, strlen(s)) : 0;
}

/* The bits of every name relation_of() compares a plain name with, whole
 * (the HELO and banner names, the words of learned answers) or as a domain
 * (the sender's and recipients' domains). */
static uint64_t
rctx_sig_mask(const struct rctx *r)
{
	uint64_t m = SIG_ANY | sig_of_text(r->helo) | sig_of_text(r->banner) |
		     sig_of_text(r->sender) | sig_of_words(&r->w_client) |
		     sig_of_words(&r->w_server) | sig_of_words(&r->w_sender);
	for (int k = 0; k < r->nrcpt; k++)
		m |= sig_of_text(r->rcpt[k]) | sig_of_words(&r->w_rcpt[k]);
	return m;
}

static void
rctx_init(struct rctx *r, const struct corr *c, const struct held *h)
{
	memset(r, 0, sizeof(*r));
	r->h = h;
	const char *p = h->names;
	r->helo = p;
	p += strlen(p) + 1;
	r->banner = p;
	p += strlen(p) + 1;
	r->sender = p;
	p += strlen(p) + 1;
	for (int k = 0; k < h->nrcpt && k < MX_RCPT_DOMAINS; k++, p += strlen(p) + 1)
		r->rcpt[r->nrcpt++] = p;
	corr_arpa_name(&h->client, r->arpa_client, sizeof(r->arpa_client));
	corr_arpa_name(&h->server, r->arpa_server, sizeof(r->arpa_server));
	r->hash_client = mx_name_hash(r->arpa_client);
	r->hash_server = mx_name_hash(r->arpa_server);
	r->hash_helo = mx_name_hash(r->helo);
	r->hash_banner = mx_name_hash(r->banner);
	hosts_machine_of(c->hosts, &h->server, &r->m);
	if (r->m.several) {
		struct mx_addr a[MACHINE_ADDRS];
		unsigned n = hosts_machine_addrs(c->hosts, &r->m, a, MACHINE_ADDRS);
		for (unsigned i = 1; i < n; i++)
			corr_arpa_name(&a[i], r->arpa_self[r->nself++], sizeof(r->arpa_self[0]));
	}
	char *suffix = strstr(r->arpa_client, h->client.family == 4 ? "in-addr.arpa" : "ip6.arpa");
	r->dnsbl_prefix = suffix ? (size_t)(suffix - r->arpa_client) : 0;
	words_split(&r->w_client, names_get(&c->names, r->arpa_client));
	words_split(&r->w_server, names_get(&c->names, r->arpa_server));
	words_split(&r->w_sender, names_get(&c->names, r->sender));
	for (int k = 0; k < r->nrcpt; k++)
		words_split(&r->w_rcpt[k], names_get(&c->names, r->rcpt[k]));
	r->sig_mask = rctx_sig_mask(r);
}

static bool
is_domain_of(const char *qname, size_t ql, uint16_t qtype, const char *dom,
	     const struct words *mx_hosts)
{
	if (!dom[0])
		return false;
	if (ends_with_domain(qname, dom))
		return true;
	/* A/AAAA of an MX host of the domain */
	return (qtype == DNS_T_A || qtype == DNS_T_AAAA) && words_have(mx_hosts, qname, ql);
}

/* A reverse name of one of the machine's other addresses? */
static bool
is_self_arpa(const struct rctx *r, const char *q)
{
	for (int i = 0; i < r->nself; i++)
		if (strcmp(q, r->arpa_self[i]) == 0)
			return true;
	return false;
}

/*
 * A lookup tied to an encrypted wait by timing (MX_OWNER_TIMING): its
 * relation follows from the command the exchange most likely was
 * ("TLS MAIL?"): the names the server checks then are hidden by TLS.
 */
static enum mx_relation
tls_relation(const char *shown, uint16_t qtype)
{
	char g[16];
	if (strncmp(shown, "TLS ", 4) != 0)
		return MXR_UNRELATED;
	snprintf(g, sizeof(g), "%.*s", (int)strcspn(shown + 4, "?"), shown + 4);
	if (strcmp(g, "EHLO") == 0)
		return MXR_HELO;
	if (strcmp(g, "MAIL") == 0)
		return qtype == DNS_T_TXT ? MXR_SPF : MXR_SENDER_DOMAIN;
	if (strcmp(g, "RCPT") == 0)
		return MXR_RECIPIENT_DOMAIN;
	if (strcmp(g, "DATA-END") == 0) /* DKIM, DMARC: the sender's domain */
		return qtype == DNS_T_TXT ? MXR_SPF : MXR_SENDER_DOMAIN;
	return MXR_UNRELATED;
}

static enum mx_relation
relation_of(const struct corr *c, const struct rctx *r, const struct dns_rec *d)
{
	const char *q = rec_qname(&c->dns, d);
	size_t ql = d->qlen;
	bool addr_q = d->qtype == DNS_T_A || d->qtype == DNS_T_AAAA || d->qtype == DNS_T_ANY;

	switch (d->kind) {
	case NK_REVERSE:
		/* the reverse name of an address: the client's, the machine's or
		   someone else's (another session's client) */
		if (d->qhash == r->hash_client && strcmp(q, r->arpa_client) == 0)
			return MXR_CLIENT_PTR;
		if ((d->qhash == r->hash_server && strcmp(q, r->arpa_server) == 0) ||
		    (d->qtype == DNS_T_PTR && is_self_arpa(r, q)))
			return MXR_SELF_PTR;
		return MXR_UNRELATED;
	case NK_LITERAL:
		return MXR_IP_LITERAL;
	case NK_REVERSED:
		/* DNSBL: the client's reversed address under some zone (another
		   address under a zone is another session's DNSBL lookup) */
		if (r->dnsbl_prefix && ql > r->dnsbl_prefix &&
		    strncmp(q, r->arpa_client, r->dnsbl_prefix) == 0)
			return MXR_DNSBL;
		return MXR_UNRELATED;
	default:
		break;
	}
	if (addr_q && r->w_client.n && words_have(&r->w_client, q, ql))
		return MXR_CLIENT_FORWARD;
	/* names are lower case (dns.c, pack_names()): the hash first */
	if (r->helo[0] && d->qhash == r->hash_helo && strcmp(q, r->helo) == 0)
		return MXR_HELO;
	if (addr_q && ((r->banner[0] && d->qhash == r->hash_banner && strcmp(q, r->banner) == 0) ||
		       !strchr(q, '.') || words_have(&r->w_server, q, ql)))
		return MXR_SELF_NAME;
	if (r->sender[0]) {
		if (d->qtype == DNS_T_TXT &&
		    (ends_with_domain(q, r->sender) || strncmp(q, "_spf.", 5) == 0 ||
		     strstr(q, "spf") != NULL))
			return MXR_SPF;
		if (is_domain_of(q, ql, d->qtype, r->sender, &r->w_sender))
			return MXR_SENDER_DOMAIN;
	}
	for (int i = 0; i < r->nrcpt; i++)
		if (is_domain_of(q, ql, d->qtype, r->rcpt[i], &r->w_rcpt[i]))
			return MXR_RECIPIENT_DOMAIN;
	if (d->owner & MX_OWNER_TIMING)
		return tls_relation(r->h->command, d->qtype);
	return MXR_UNRELATED;
}

/* ---- big messages (issue 17) ------------------------------------------------------ */

static struct xfer_rec *
xfer_find(struct corr *c, uint64_t session_id)
{
	for (uint32_t i = 0; i < c->nxf; i++)
		if (c->xf[i].session_id == session_id)
			return &c->xf[i];
	return NULL;
}

/* the end of the span a message loads its machine: to the reply to its end */
static uint64_t
xfer_end(const struct corr *c, const struct xfer_rec *r, uint64_t t1)
{
	if (r->busy_end_ns)
		return r->busy_end_ns;
	return c->now_ns > t1 ? c->now_ns : t1;
}

static void
add_xfer(struct corr *c, const struct mx_transfer *x)
{
	struct xfer_rec *r = xfer_find(c, x->session_id);
	if (!r && x->bytes < c->cfg.big_bytes)
		return; /* not (yet) a big one */
	if (!r) {
		if (c->nxf == c->cfg.max_xfers) {
			/* full: out goes the one whose span ended (or was active) first */
			uint32_t v = 0;
			uint64_t vk = UINT64_MAX;
			for (uint32_t i = 0; i < c->nxf; i++) {
				const struct xfer_rec *o = &c->xf[i];
				uint64_t k = o->busy_end_ns ? o->busy_end_ns : o->last_ns;
				if (k < vk) {
					vk = k;
					v = i;
				}
			}
			if (vk >= c->keep_from) { /* a wait may still need it */
				c->st.dropped_xfers++;
				if (vk > c->lost_until)
					c->lost_until = vk;
			}
			c->xf[v] = c->xf[--c->nxf];
		}
		r = &c->xf[c->nxf++];
		memset(r, 0, sizeof(*r));
		r->session_id = x->session_id;
		r->cli = x->client.addr;
		r->srv = x->server.addr;
		r->start_ns = x->start_ns ? x->start_ns : x->ts_ns;
		r->to_client = x->to_client;
	}
	if (x->ts_ns > r->last_ns)
		r->last_ns = x->ts_ns;
	if (x->bytes > r->bytes)
		r->bytes = x->bytes;
	r->done |= x->done;
	if (r->done && r->to_client && !r->busy_end_ns) {
		r->busy_end_ns = r->last_ns; /* a retrieval: its last byte ends it */
		if (r->busy_end_ns < c->xf_first_end)
			c->xf_first_end = r->busy_end_ns;
	}
}

/* The reply to a message's end (or its session's end) ends its load. */
static void
xfer_ended(struct corr *c, uint64_t session_id, uint64_t end_ns, bool session_end)
{
	struct xfer_rec *r = xfer_find(c, session_id);
	if (!r || r->busy_end_ns || (!r->done && !session_end))
		return;
	r->done = true;
	r->busy_end_ns = end_ns > r->last_ns ? end_ns : r->last_ns;
	if (r->busy_end_ns < c->xf_first_end)
		c->xf_first_end = r->busy_end_ns;
}

/*
 * The big messages on the wait's machine that overlapped it, at most max,
 * the largest overlap first.  Returns how many.
 */
static int
big_during(const struct corr *c, const struct held *h, struct diag_big *out, int max)
{
	uint64_t t0 = h->t0, t1 = h->t1;
	double floor_ms = ns_to_ms((int64_t)(t1 - t0)) * MIN_SHARE;
	int n = 0;
	for (uint32_t i = 0; i < c->nxf; i++) {
		const struct xfer_rec *r = &c->xf[i];
		if (r->bytes < c->cfg.big_bytes)
			continue;
		/* to or from the wait's machine: its server end (inbound, or a
		   retrieval it sends) or its client end (one of its deliveries) */
		bool at_srv = hosts_same_machine(c->hosts, &r->srv, &h->server);
		if (!at_srv && !hosts_same_machine(c->hosts, &r->cli, &h->server))
			continue;
		bool inbound = at_srv && !r->to_client;
		double ov = ns_to_ms(overlap_ns(t0, t1, r->start_ns, xfer_end(c, r, t1)));
		if (ov <= 0 || ov < floor_ms)
			continue;
		struct diag_big b = {.bytes = r->bytes,
		                     .on_wire_s = ns_to_ms((int64_t)(r->last_ns - r->start_ns)) / 1000,
		                     .overlap_ms = ov,
		                     .own = r->session_id == h->session_id,
		                     .outbound = !inbound,
		                     .done = r->done};
		b.peer = inbound || r->to_client ? r->cli : r->srv;
		b.session_ref = r->session_id;
		/* by overlap, largest first; when full the smallest falls off */
		if (n == max && out[max - 1].overlap_ms >= ov)
			continue;
		int at = n < max ? n++ : max - 1;
		while (at > 0 && out[at - 1].overlap_ms < ov) {
			out[at] = out[at - 1];
			at--;
		}
		out[at] = b;
	}
	return n;
}

/* ---- settling ---------------------------------------------------------------------- */

/* A cause event of the wait h: its id, transaction, remedy and timing. */
static struct mx_cause *
cause_event(struct corr *c, struct mx_event *ev, const struct held *h, const char *remedy,
            double overlap_ms, double query_ms, double wait_ms)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = EV_CAUSE;
	struct mx_cause *x = &ev->u.cause;
	x->id = ++c->out.ids->cause;
	x->txn_id = h->txn_id;
	x->remedy = remedy;
	x->overlap_ms = overlap_ms;
	x->query_ms = query_ms;
	x->share = wait_ms > 0 ? overlap_ms / wait_ms : 0;
	if (x->share > 1)
		x->share = 1;
	return x;
}

static void
emit_cause(struct corr *c, const struct held *h, const struct cand *k, uint64_t parent,
           double wait_ms, const char *remedy, uint64_t *id_out)
{
	struct mx_event ev;
	struct mx_cause *x = cause_event(c, &ev, h, remedy, k ? k->overlap_ms : 0,
	                                 k ? k->query_ms : 0, k ? wait_ms : 0);
	x->parent_id = parent;
	if (!k) {
		x->kind = MXC_NONE;
		x->relation = MXR_NONE;
	} else if (k->is_dns) {
		x->kind = MXC_DNS;
		x->relation = k->rel;
		x->dns_id = k->d->id;
	} else {
		x->kind = MXC_IDENT;
		x->relation = k->rel;
		x->ident_id = k->i->id;
	}
	if (id_out)
		*id_out = x->id;
	mx_sink_emit(&c->out, &ev);
}

/* A big message on the machine meanwhile (issue 17): named instead of none. */
static void
emit_big_cause(struct corr *c, const struct held *h, const struct diag_big *b, double wait_ms,
               const char *remedy)
{
	struct mx_event ev;
	struct mx_cause *x =
	    cause_event(c, &ev, h, remedy, b->overlap_ms, b->on_wire_s * 1000, wait_ms);
	x->kind = MXC_BIG_MESSAGE;
	x->relation = MXR_NONE;
	x->session_ref = b->session_ref;
	mx_sink_emit(&c->out, &ev);
}

/* Would keep_top() pass over a candidate overlapping overlap_ms?  All
 * MAX_UNRELATED_SHOWN kept, none of them shorter. */
static bool
top_beats(const struct cand *top, int n, double overlap_ms)
{
	return n == MAX_UNRELATED_SHOWN && top[0].overlap_ms >= overlap_ms;
}

/* top_beats() in nanoseconds, without a division for every record: the
 * longest overlap it passes over (ns_to_ms() of it no more than top[0]'s),
 * -1 when it passes over none (or when top[0] is so long that the overlaps
 * near it are not whole nanoseconds apart in milliseconds: then the caller
 * goes on, and top_beats() itself decides later). */
static int64_t
top_beats_up_to(const struct cand *top, int n)
{
	if (n < MAX_UNRELATED_SHOWN || !(top[0].overlap_ms >= 0 && top[0].overlap_ms < 1e9))
		return -1;
	double m = top[0].overlap_ms;
	int64_t v = (int64_t)(m * 1e6);
	while (v > 0 && ns_to_ms(v) > m)
		v--;
	while (ns_to_ms(v + 1) <= m)
		v++;
	return ns_to_ms(v) <= m ? v : -1;
}

/* Keeps the MAX_UNRELATED_SHOWN candidates with the largest overlap (top[0] the smallest of them). */
static void
keep_top(struct cand *top, int *n, const struct cand *k)
{
	if (top_beats(top, *n, k->overlap_ms))
		return; /* the common case in a busy window: quick */
	int at = *n < MAX_UNRELATED_SHOWN ? (*n)++ : 0;
	top[at] = *k;
	for (int i = 1; i < *n; i++) /* the smallest to the front */
		if (top[i].overlap_ms < top[0].overlap_ms) {
			struct cand x = top[0];
			top[0] = top[i];
			top[i] = x;
		}
}

static bool
related(const struct cand *k)
{
	return k->rel != MXR_UNRELATED && k->rel != MXR_UPSTREAM;
}

/*
 * How long was an unanswered query or probe outstanding?  The packets do
 * not say when the asking process gave up.  Its lifetime ends
 *  - when the next related lookup of this wait began: a mail server's
 *    lookups for one connection run one after the other (tcpserver: own
 *    PTR, client PTR, ident); but not a forward lookup of the client's
 *    name unless this wait's own reverse lookup of the client was
 *    answered before it: else the connection had no name to look up;
 *  - when the session's server sent a reply after the lookup's last
 *    transmission: it stopped waiting for it, so it delays no later reply;
 *  - else unanswered_ns after its last transmission (set when the record
 *    was added), or at the end of the wait.
 */
static void
settle_lifetimes(struct cand *k, int n, uint64_t t0, uint64_t t1, uint64_t prev_reply)
{
	/* a forward lookup of the client's name follows this wait's own
	   answered reverse lookup of the client, or it is another's */
	uint64_t named = UINT64_MAX;
	for (int i = 0; i < n; i++)
		if (k[i].rel == MXR_CLIENT_PTR && !k[i].unanswered && k[i].start < named)
			named = k[i].start;
	for (int i = 0; i < n; i++) {
		if (k[i].unanswered && related(&k[i])) {
			uint64_t next = 0;
			for (int j = 0; j < n; j++) {
				if (j == i || !related(&k[j]))
					continue;
				/* the forward check of the client's name needs the
				   name: before this wait's reverse lookup of the
				   client was answered it is another connection's
				   (the name was learned from its answer), not the
				   next step of this wait */
				if (k[j].rel == MXR_CLIENT_FORWARD && k[j].start <= named)
					continue;
				if (k[j].start > k[i].last && (!next || k[j].start < next))
					next = k[j].start;
			}
			if (next)
				k[i].end = next;
			if (prev_reply > k[i].last && prev_reply < k[i].end)
				k[i].end = prev_reply;
		}
		k[i].overlap_ms = ns_to_ms(overlap_ns(t0, t1, k[i].start, k[i].end));
		uint64_t qend = k[i].unanswered && k[i].end > t1 ? t1 : k[i].end;
		k[i].query_ms = qend > k[i].start ? ns_to_ms((int64_t)(qend - k[i].start)) : 0;
	}
}

typedef bool (*dns_keep_fn)(const struct corr *c, const struct rctx *rc, const struct dns_rec *d,
			    const struct cand *cands, int n);

/* scan_dns() for the record in slot, which overlaps the wait by ov and is
 * not another session's: a candidate into cands or unrel. */
static int
scan_one(const struct corr *c, const struct held *h, struct cand *cands, int n, dns_keep_fn keep,
	 bool from_resolver, const struct rctx *rc, struct cand *unrel, int *nunrel, int64_t *beaten,
	 uint32_t slot, int64_t ov)
{
	const struct dwin *w = &c->dns;
	/* most of a busy window's unowned lookups: a plain name that is none
	   of the wait's names (struct dwin), shorter than the unrelated ones
	   kept already: passed over without reading it */
	if (!from_resolver && ov <= *beaten && !(w->sig[slot] & rc->sig_mask))
		return n;
	const struct dns_rec *d = &w->v[slot];
	if (!from_resolver && d->owner && MX_OWNER_ID(d->owner) != h->session_id)
		return n; /* (the low bits of two owners were equal) */
	if (!keep(c, rc, d, cands, n))
		return n;
	enum mx_relation rel = from_resolver ? MXR_UPSTREAM : relation_of(c, rc, d);
	/* zone queries to remote servers may be a local resolver's upstream hops */
	bool aside = rel == MXR_UNRELATED &&
		     !(is_zone_query(d->qtype) && !hosts_in_machine(c->hosts, &rc->m, &d->server));
	/* most of a busy window: another session's lookup, shorter than the
	   unrelated ones kept already */
	if (aside && top_beats(unrel, *nunrel, ns_to_ms(ov)))
		return n;
	struct cand k = {.is_dns = 1, .d = d, .rel = rel, .parent = -1, .start = d->ts,
			 .last = rec_last(d), .end = rec_end(d),
			 .unanswered = d->outcome == MXD_UNANSWERED,
			 .from_resolver = from_resolver};
	if (aside) {
		k.overlap_ms = ns_to_ms(ov);
		keep_top(unrel, nunrel, &k);
		*beaten = top_beats_up_to(unrel, *nunrel);
		return n;
	}
	cands[n++] = k;
	return n;
}

/*
 * Would the pass for the server's own queries act on none of the block's
 * records?  Each is then another session's, or has no owner, a name none
 * of the wait's, and a lifetime (so an overlap) no longer than the
 * unrelated ones kept already: the loop below would pass over each.
 */
static bool
blk_nothing_for(const struct dns_blk *b, uint32_t me, const struct rctx *rc,
		const struct cand *unrel, int nunrel)
{
	return !(b->owner_bits & owner_bit(me)) && !(b->free_sig & rc->sig_mask) &&
	       top_beats(unrel, nunrel, ns_to_ms((int64_t)b->free_max_us * 1000));
}

/*
 * Of the block's slots from the one own points at, a bit for each whose
 * owner is none or me: the records the server's own pass may act on.  Of a
 * busy window, about three in four are another session's: these 64
 * compares, four at a time, pass over them without reading their times.
 */
static uint64_t
owner_mask(const uint32_t *own, uint32_t me)
{
	uint64_t m = 0;
#ifdef __SSE2__
	const __m128i vme = _mm_set1_epi32((int)me), none = _mm_setzero_si128();
	for (unsigned i = 0; i < DNS_BLK; i += 4) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(own + i));
		__m128i hit = _mm_or_si128(_mm_cmpeq_epi32(x, vme), _mm_cmpeq_epi32(x, none));
		m |= (uint64_t)(unsigned)_mm_movemask_ps(_mm_castsi128_ps(hit)) << i;
	}
#else
	for (unsigned i = 0; i < DNS_BLK; i++)
		m |= (uint64_t)(own[i] == 0 || own[i] == me) << i;
#endif
	return m;
}

/*
 * The queries overlapping [t0, t1] that pass keep(), in window order.
 * Returns the number of candidates now in cands.
 */
static int
scan_dns(const struct corr *c, const struct held *h, struct cand *cands, int n, dns_keep_fn keep,
	 bool from_resolver, const struct rctx *rc, struct cand *unrel, int *nunrel)
{
	const struct dwin *w = &c->dns;
	uint64_t t0 = h->t0, t1 = h->t1;
	const struct dns_hot *hot = w->hot;
	uint32_t me = (uint32_t)h->session_id; /* as dwin.own has owners */
	int64_t beaten = top_beats_up_to(unrel, *nunrel); /* follows keep_top() */
	/* block by block: a block's live slots are consecutive (cap is a
	   multiple of DNS_BLK), so the inner loop is a plain walk */
	for (uint32_t i = 0, run; i < w->n && n < MAX_CAND; i += run) {
		uint32_t first = dwin_slot(w, i);
		run = DNS_BLK - first % DNS_BLK;
		if (run > w->n - i)
			run = w->n - i;
		const struct dns_blk *b = &w->blk[first / DNS_BLK];
		/* nothing in the rest of this block overlaps the wait, or nothing
		   of it is the wait's */
		if (b->max_end <= t0 || b->min_ts >= t1 ||
		    (!from_resolver && blk_nothing_for(b, me, rc, unrel, *nunrel)))
			continue;
		/* the block's live slots from first; for the server's own
		   pass, only those with no owner or this session */
		uint32_t base = first - first % DNS_BLK, off = first - base;
		uint64_t live = (run == DNS_BLK ? ~0ull : ((1ull << run) - 1)) << off;
		uint64_t m = from_resolver ? live : live & owner_mask(w->own + base, me);
		/* most of the rest are passed over here: outside the wait (the
		   block's bounds are loose) */
		for (; m && n < MAX_CAND; m &= m - 1) {
			uint32_t slot = base + (uint32_t)__builtin_ctzll(m);
			const struct dns_hot x = hot[slot];
			uint64_t x_end = x.ts + (uint64_t)x.end_us * 1000;
			if (x.ts >= t1 || x_end <= t0)
				continue;
			int64_t ov = overlap_ns(t0, t1, x.ts, x_end);
			if (ov > 0)
				n = scan_one(c, h, cands, n, keep, from_resolver, rc, unrel, nunrel,
					     &beaten, slot, ov);
		}
	}
	return n;
}

/* the server's machine sent it */
static bool
keep_own(const struct corr *c, const struct rctx *rc, const struct dns_rec *d,
	 const struct cand *cands, int n)
{
	(void)cands;
	(void)n;
	return hosts_in_machine(c->hosts, &rc->m, &d->client);
}

/* a resolver the machine asked (not itself) sent it */
static bool
keep_resolver(const struct corr *c, const struct rctx *rc, const struct dns_rec *d,
	      const struct cand *cands, int n)
{
	if (!d->from_resolver || hosts_in_machine(c->hosts, &rc->m, &d->client))
		return false;
	for (int i = 0; i < n; i++)
		if (cands[i].is_dns && !cands[i].from_resolver &&
		    mx_addr_eq(&cands[i].d->server, &d->client))
			return true;
	return false;
}

/* Links upstream hops to the query they serve; returns the count kept. */
static int
link_upstream(const struct corr *c, const struct held *h, struct cand *cands, int n)
{
	for (int i = 0; i < n; i++) {
		if (!cands[i].is_dns)
			continue;
		const struct dns_rec *u = cands[i].d;
		bool u_local_server = mx_addr_is_loopback(&u->server) ||
				      hosts_same_machine(c->hosts, &u->server, &h->server);
		if (!cands[i].from_resolver && u_local_server)
			continue;
		for (int j = 0; j < n; j++) {
			if (j == i || !cands[j].is_dns || cands[j].from_resolver)
				continue;
			const struct dns_rec *l = cands[j].d;
			/* a local resolver on the machine, or the resolver that sent u */
			bool via = cands[i].from_resolver
					   ? mx_addr_eq(&l->server, &u->client)
					   : mx_addr_is_loopback(&l->server) ||
						     hosts_same_machine(c->hosts, &l->server, &h->server);
			if (!via)
				continue;
			const char *un = rec_qname(&c->dns, u), *ln = rec_qname(&c->dns, l);
			bool same = strcmp(un, ln) == 0;
			bool parent = is_zone_query(u->qtype) && ends_with_domain(ln, un);
			if ((same || parent) && u->ts >= l->ts && u->ts <= rec_end(l)) {
				cands[i].parent = j;
				cands[i].rel = MXR_UPSTREAM;
				break;
			}
		}
	}
	/* a resolver's query that serves none of the machine's goes */
	int m = 0;
	int *map = calloc((size_t)n + 1, sizeof(*map));
	if (!map)
		return n;
	for (int i = 0; i < n; i++) {
		map[i] = -1;
		if (cands[i].from_resolver && cands[i].parent < 0)
			continue;
		map[i] = m;
		cands[m++] = cands[i];
	}
	for (int i = 0; i < m; i++)
		if (cands[i].parent >= 0)
			cands[i].parent = map[cands[i].parent];
	free(map);
	return m;
}

/* The host's own outbound connection that overlapped an inbound wait most. */
static bool
outbound_during(const struct corr *c, const struct held *h, struct diag_conn *hit)
{
	const struct conns *k = &c->conn;
	uint64_t t0 = h->t0, t1 = h->t1;
	double best = 0, floor_ms = ns_to_ms((int64_t)(t1 - t0)) * MIN_SHARE;
	for (int32_t s = (int32_t)k->head[conn_bucket(k, &h->server)] - 1; s >= 0;
	     s = k->v[s].next) {
		const struct conn_rec *r = &k->v[s];
		if (!mx_addr_eq(&r->cli.addr, &h->server) ||
		    hosts_same_machine(c->hosts, &r->srv.addr, &h->server))
			continue;
		uint64_t end = r->end_ns ? r->end_ns : c->now_ns > t1 ? c->now_ns : t1;
		double ov = ns_to_ms(overlap_ns(t0, t1, r->ts, end));
		if (ov > best && ov >= floor_ms) {
			best = ov;
			hit->server = r->srv;
			hit->outcome = r->end_ns ? (enum mx_outcome)r->outcome : MXO_OK;
			hit->overlap_ms = ov;
		}
	}
	return best > 0;
}

static void
fill_diag_cause(const struct corr *c, struct diag_cause *g, const struct cand *cands, int n, int i)
{
	const struct cand *k = &cands[i];
	memset(g, 0, sizeof(*g));
	g->rel = k->rel;
	g->overlap_ms = k->overlap_ms;
	if (!k->is_dns) {
		g->kind = MXC_IDENT;
		g->peer = k->i->peer;
		g->ident_outcome = (enum mx_ident_outcome)k->i->outcome;
		return;
	}
	g->kind = MXC_DNS;
	g->qtype = k->d->qtype;
	g->qname = rec_qname(&c->dns, k->d);
	g->resolver = k->d->server;
	g->dns_outcome = (enum mx_dns_outcome)k->d->outcome;
	for (int j = 0; j < n; j++)
		if (cands[j].parent == i) {
			g->upstream++;
			g->upstream_unanswered += cands[j].d->outcome == MXD_UNANSWERED;
		}
}

static void
settle(struct corr *c, const struct held *h, bool forced)
{
	uint64_t t0 = h->t0, t1 = h->t1;
	double wait_ms = ns_to_ms((int64_t)(t1 - t0));
	/* whose wait it is, as the host model knows it now (not as it was at the
	   session's start: a capture's first connections come before anything
	   told the hosts from their clients) */
	bool outbound = hosts_is_host(c->hosts, &h->client) && !hosts_is_host(c->hosts, &h->server);
	bool incomplete = forced || t0 < c->lost_until;
	/* (every candidate is written whole as it is added: nothing to clear) */
	struct cand *cands = malloc(MAX_CAND * sizeof(*cands));
	struct rctx *rc = malloc(sizeof(*rc));
	if (!cands || !rc) {
		free(cands);
		free(rc);
		return;
	}
	c->st.settled++;
	c->st.incomplete += incomplete;
	int n = 0;
	struct cand unrel[MAX_UNRELATED_SHOWN];
	int nunrel = 0;
	/* the remote server of an outbound delivery waited: the host's lookups
	   are not its causes */
	if (!outbound) {
		rctx_init(rc, c, h);
		n = scan_dns(c, h, cands, n, keep_own, false, rc, unrel, &nunrel);
		if (c->dns.n_resolver) /* a resolver's own queries are on the wire */
			n = scan_dns(c, h, cands, n, keep_resolver, true, rc, unrel, &nunrel);
		n = link_upstream(c, h, cands, n);
		for (uint32_t i = 0; i < c->ident.n && n < MAX_CAND; i++) {
			const struct ident_rec *p = iwin_at(&c->ident, i);
			int64_t ov = overlap_ns(t0, t1, p->ts, p->end_ns);
			if (ov <= 0 || !hosts_in_machine(c->hosts, &rc->m, &p->host) ||
			    (p->owner && p->owner != h->session_id))
				continue;
			struct cand k = {.i = p, .parent = -1, .start = p->ts, .last = p->last_ns,
					 .end = p->end_ns, .unanswered = p->outcome == MXI_UNANSWERED};
			k.rel = mx_addr_eq(&p->peer, &h->client) ? MXR_IDENT : MXR_UNRELATED;
			if (k.rel == MXR_UNRELATED) {
				k.overlap_ms = ns_to_ms(ov);
				keep_top(unrel, &nunrel, &k);
				continue;
			}
			cands[n++] = k;
		}
		for (int i = 0; i < nunrel && n < MAX_CAND; i++)
			cands[n++] = unrel[i];
	}
	settle_lifetimes(cands, n, t0, t1, h->prev_reply);

	/*
	 * What covered at least 1 % of the wait explains it: the related
	 * lookups and probes.  Less explains nothing: said in the diagnosis.
	 */
	double floor_ms = wait_ms * MIN_SHARE, minor_ms = 0;
	int best = -1, best_unrel = -1;
	for (int i = 0; i < n; i++) {
		if (cands[i].parent >= 0 || cands[i].overlap_ms <= 0)
			continue;
		if (cands[i].overlap_ms < floor_ms) {
			if (cands[i].rel != MXR_UNRELATED && cands[i].overlap_ms > minor_ms)
				minor_ms = cands[i].overlap_ms;
			continue;
		}
		if (cands[i].rel == MXR_UNRELATED) {
			if (best_unrel < 0 || cands[i].overlap_ms > cands[best_unrel].overlap_ms)
				best_unrel = i;
		} else if (best < 0 || cands[i].overlap_ms > cands[best].overlap_ms) {
			best = i;
		}
	}
	struct diag_cause *shown = calloc(MAX_CAND, sizeof(*shown));
	struct diag_conn conn;
	struct diag_big bigs[MAX_BIG_SHOWN];
	bool none = false;
	struct diag_wait dw = {.command = h->command,
	                       .wait_ms = wait_ms,
	                       .replied = h->replied,
	                       .outcome = (enum mx_outcome)h->outcome,
	                       .outbound = outbound,
	                       .software = (enum mx_software)h->software,
	                       .server = h->server,
	                       .causes = shown,
	                       .incomplete = incomplete,
	                       .minor_ms = minor_ms,
	                       .big = bigs};
	if (best >= 0) {
		for (int i = 0; i < n; i++) {
			if (cands[i].parent >= 0 || cands[i].rel == MXR_UNRELATED ||
			    cands[i].overlap_ms < floor_ms || cands[i].overlap_ms <= 0)
				continue;
			uint64_t id = 0;
			emit_cause(c, h, &cands[i], 0, wait_ms,
			           diag_remedy(cands[i].is_dns ? MXC_DNS : MXC_IDENT, cands[i].rel,
			                       dw.software),
			           &id);
			for (int j = 0; j < n; j++)
				if (cands[j].parent == i)
					emit_cause(c, h, &cands[j], id, wait_ms, NULL, NULL);
			if (shown)
				fill_diag_cause(c, &shown[dw.ncauses++], cands, n, i);
		}
	} else if (!incomplete && h->outcome != MXO_CUT) {
		/*
		 * A none cause is a claim: not made when evidence is missing (nor
		 * for a wait the capture did not see the end of).  A
		 * lookup that no relation ties to this session, and that no other
		 * session is known to have made, is no cause either; the
		 * diagnosis names the one that covered most of the wait (it may
		 * be a content filter's, under a name nothing here relates).
		 */
		none = true;
		if (best_unrel >= 0 && shown) {
			fill_diag_cause(c, &shown[0], cands, n, best_unrel);
			dw.other = &shown[0];
		}
		if (!outbound && outbound_during(c, h, &conn))
			dw.conn = &conn;
		if (!outbound && c->nxf)
			dw.nbig = big_during(c, h, bigs, MAX_BIG_SHOWN);
	}
	struct mx_event ev;
	mx_event_init(&ev, EV_DIAGNOSIS);
	ev.u.diag.txn_id = h->txn_id;
	if (!shown)
		dw.ncauses = 0;
	const char *rem = diag_compose(&dw, &ev.u.diag);
	/* before its diagnosis, as the causes with a query are */
	for (int i = 0; none && i < dw.nbig; i++)
		emit_big_cause(c, h, &bigs[i], wait_ms, rem);
	if (none && !dw.nbig)
		emit_cause(c, h, NULL, 0, wait_ms, rem, NULL);
	mx_sink_emit(&c->out, &ev);
	free(shown);
	free(rc);
	free(cands);
}

/* ---- holding ---------------------------------------------------------------------- */

static char *
pack_names(const struct mx_session *s, uint8_t *nrcpt)
{
	size_t len = 3;
	int n = 0;
	if (s) {
		n = s->n_rcpt_domains < MX_RCPT_DOMAINS ? s->n_rcpt_domains : MX_RCPT_DOMAINS;
		len += strlen(s->helo) + strlen(s->banner_host) + strlen(s->sender_domain);
		for (int i = 0; i < n; i++)
			len += strlen(s->rcpt_domains[i]) + 1;
	}
	char *p = malloc(len), *q = p;
	if (!p)
		return NULL;
	const char *parts[3] = {s ? s->helo : "", s ? s->banner_host : "",
				s ? s->sender_domain : ""};
	for (int i = 0; i < 3; i++) {
		/* lower case, as DNS names are (HELO and banner names may not be) */
		char *start = q;
		for (const char *x = parts[i];; x++) {
			*q++ = (char)tolower((unsigned char)*x);
			if (!*x)
				break;
		}
		/* the HELO name as sent may end in the root's dot */
		if (q - start > 2 && q[-2] == '.' && start[0] != '[') {
			q[-2] = '\0';
			q--;
		}
	}
	for (int i = 0; i < n; i++) {
		size_t l = strlen(s->rcpt_domains[i]) + 1;
		memcpy(q, s->rcpt_domains[i], l);
		q += l;
	}
	*nrcpt = (uint8_t)n;
	return p;
}

static void
drop_held(struct corr *c, uint32_t i)
{
	free(c->held[i].names);
	memmove(&c->held[i], &c->held[i + 1], (c->nheld - i - 1) * sizeof(c->held[0]));
	c->nheld--;
}

static void
hold_txn(struct corr *c, const struct mx_session *s, const struct mx_txn *t, uint64_t wait_end)
{
	uint8_t nrcpt = 0;
	char *names = pack_names(s, &nrcpt);
	if (!names)
		return;
	if (c->nheld == c->cfg.max_held) {
		/* full: the oldest is settled now with what is known */
		c->st.held_forced++;
		settle(c, &c->held[0], c->held[0].t1 > c->final_ns);
		drop_held(c, 0);
	}
	struct held *h = &c->held[c->nheld++];
	if (c->nheld > c->st.peak_held)
		c->st.peak_held = c->nheld;
	memset(h, 0, sizeof(*h));
	h->txn_id = t->id;
	h->session_id = t->session_id;
	if (t->guess[0]) /* inside TLS: "TLS RCPT?" */
		snprintf(h->command, sizeof(h->command), "%.3s %.10s?", t->command, t->guess);
	else
		mx_strlcpy(h->command, t->command, sizeof(h->command));
	h->t0 = t->request_ns;
	h->t1 = wait_end;
	h->prev_reply = t->prev_reply_ns;
	h->replied = t->reply_ns != 0;
	h->outcome = (uint8_t)t->outcome;
	h->names = names;
	h->nrcpt = nrcpt;
	if (s) {
		h->client = s->client.addr;
		h->server = s->server.addr;
		h->software = (uint8_t)s->software;
	}
}

/* ---- bounces (issue 17, bounce.h) -------------------------------------------------- */

/*
 * Feeds the bounce tables; a session that bounces recent inbound mail goes
 * on annotated (a copy): true when it was emitted here.
 */
static bool
bounce_event(struct corr *c, const struct mx_event *ev)
{
	switch (ev->type) {
	case EV_DNS:
		bounce_dns(c->bounce, &ev->u.dns);
		return false;
	case EV_TXN:
		bounce_txn(c->bounce, ev->session, &ev->u.txn);
		return false;
	case EV_SESSION: {
		const struct mx_session *s = &ev->u.session;
		if (!(s->outbound || s->client_is_host) || s->bounce_domain[0])
			return false;
		struct mx_event *copy = malloc(sizeof(*copy));
		if (!copy)
			return false;
		*copy = *ev;
		bool marked = bounce_mark(c->bounce, &copy->u.session);
		if (marked)
			mx_sink_emit(&c->out, copy);
		free(copy);
		return marked;
	}
	default:
		return false;
	}
}

const struct bounce_stats *
corr_bounce_stats(const struct corr *c)
{
	return bounce_stats(c->bounce);
}

void
corr_event(void *sink, const struct mx_event *ev)
{
	struct corr *c = sink;
	switch (ev->type) {
	case EV_DNS:
		add_dns(c, &ev->u.dns);
		break;
	case EV_IDENT:
		add_ident(c, &ev->u.ident);
		break;
	case EV_TRANSFER:
		add_xfer(c, &ev->u.xfer);
		return; /* the correlator's alone */
	case EV_SESSION:
		if (c->nxf)
			xfer_ended(c, ev->u.session.id, ev->u.session.end_ns, true);
		break;
	case EV_TXN: {
		const struct mx_txn *t = &ev->u.txn;
		if (c->nxf && (strcmp(t->command, "DATA-END") == 0 || strcmp(t->command, "BDAT") == 0))
			xfer_ended(c, t->session_id, t->reply_ns ? t->reply_ns : t->end_ns, false);
		/* a reply never sent counts when someone gave up waiting for it,
		 * and so does a wait cut off by the end of the input (for what
		 * the capture saw of it) */
		bool gave_up = t->outcome == MXO_CLIENT_ABORT || t->outcome == MXO_SERVER_CLOSE ||
			       t->outcome == MXO_CUT;
		uint64_t end = t->reply_ns ? t->reply_ns : gave_up ? t->end_ns : 0;
		if (end > t->request_ns && t->request_ns &&
		    ns_to_ms((int64_t)(end - t->request_ns)) >= c->cfg.slow_ms)
			hold_txn(c, ev->session, t, end);
		break;
	}
	default:
		break;
	}
	if (bounce_event(c, ev))
		return;
	mx_sink_emit(&c->out, ev);
}

void
corr_advance(struct corr *c, uint64_t now_ns, uint64_t final_ns, uint64_t open_ns)
{
	if (now_ns > c->now_ns)
		c->now_ns = now_ns;
	if (final_ns > c->final_ns)
		c->final_ns = final_ns;
	uint32_t keep = 0;
	uint64_t need = open_ns ? open_ns : UINT64_MAX;
	for (uint32_t i = 0; i < c->nheld; i++) {
		struct held *h = &c->held[i];
		if (h->t1 <= final_ns) {
			settle(c, h, false);
			free(h->names);
			continue;
		}
		if (h->t0 < need)
			need = h->t0;
		if (keep++ != i) /* move only what must move */
			c->held[keep - 1] = *h;
	}
	c->nheld = keep;
	/* nothing ending before the oldest wait that may still settle is needed */
	if (need == UINT64_MAX)
		need = now_ns;
	c->keep_from = need;
	while (c->dns.n && rec_end(&c->dns.v[c->dns.head]) < need)
		dwin_pop(&c->dns);
	while (c->ident.n && iwin_at(&c->ident, 0)->end_ns < need) {
		c->ident.head = (c->ident.head + 1) & (c->ident.cap - 1);
		c->ident.n--;
	}
	if (c->nxf && need > c->xf_first_end) {
		c->xf_first_end = UINT64_MAX;
		for (uint32_t i = 0; i < c->nxf;) {
			uint64_t e = c->xf[i].busy_end_ns;
			if (e && e < need) {
				c->xf[i] = c->xf[--c->nxf];
				continue;
			}
			if (e && e < c->xf_first_end)
				c->xf_first_end = e;
			i++;
		}
	}
}

void
corr_finish(struct corr *c)
{
	for (uint32_t i = 0; i < c->nheld; i++) {
		settle(c, &c->held[i], false);
		free(c->held[i].names);
	}
	c->nheld = 0;
}
