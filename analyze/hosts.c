/*
 * hosts.c - the monitored mail hosts (see hosts.h for the rules).
 *
 * Records live in one array, found through an open-addressing table of
 * indexes; machines are a union-find over the records.  The clients that
 * delivered to a host are kept in a small set of address hashes (plain
 * clients get no record): that is all "a client that also delivers to one
 * of our hosts" needs.
 */
#include "hosts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F_GIVEN 0x01
#define F_QUERIES 0x02
#define F_PROBES 0x04
#define F_SERVES 0x08
#define F_CONNECTS 0x10
#define F_STRONG 0x20   /* counted in nstrong */
#define F_LISTED 0x40 /* in the list of servers */
#define F_RESOLVER 0x80 /* asked or answering DNS queries */
#define F_DELIVERS 0x100 /* connected to port 25 of two different servers */

#define PEERS 4
#define SLOTS (2 * HOSTS_MAX_RECORDS) /* a power of two, load <= 1/2 */
#define COS_SLOTS 65536               /* clients of strong hosts (hashes) */
#define FIRST_SLOTS 16384             /* first server of plain clients (hashes) */

struct hrec {
	struct mx_addr a;
	uint16_t flags;
	uint8_t nclients, nservers;
	int32_t parent;   /* union-find over record indexes */
	uint32_t members; /* at a root: addresses of the machine */
	struct mx_addr clients[PEERS]; /* the first clients it served */
	struct mx_addr servers[PEERS]; /* the first servers it connected to */
};

struct prefix {
	struct mx_addr a;
	unsigned len;
};

struct hosts {
	struct hrec *rec;
	uint32_t nrec, caprec;
	uint32_t *slot; /* SLOTS entries: 1 + record index, 0 = empty (calloc: untouched until used) */
	uint64_t *cos; /* COS_SLOTS hashes of clients of strong hosts, 0 = empty */
	/* plain clients' first mail server: (client hash, server hash) pairs */
	struct first_srv {
		uint64_t cli, srv;
	} *first;
	struct prefix pfx[HOSTS_MAX_PREFIXES];
	unsigned npfx;
	unsigned ngiven;  /* specifications given */
	uint32_t nstrong;   /* records that are hosts by ident or serve+query */
	uint32_t *servers; /* records that serve mail */
	uint32_t nservers, capservers;
	struct hosts_stats st;
};

struct hosts *
hosts_new(void)
{
	struct hosts *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->slot = calloc(SLOTS, sizeof(*h->slot));
	h->cos = calloc(COS_SLOTS, sizeof(*h->cos));
	h->first = calloc(FIRST_SLOTS, sizeof(*h->first));
	if (!h->slot || !h->cos || !h->first) {
		hosts_free(h);
		return NULL;
	}
	return h;
}

void
hosts_free(struct hosts *h)
{
	if (!h)
		return;
	free(h->rec);
	free(h->slot);
	free(h->cos);
	free(h->first);
	free(h->servers);
	free(h);
}

static uint32_t
slot_of(const struct mx_addr *a)
{
	return (uint32_t)mx_addr_hash(a) & (SLOTS - 1);
}

static struct hrec *
find(const struct hosts *h, const struct mx_addr *a)
{
	if (a->family == 0)
		return NULL;
	for (uint32_t s = slot_of(a);; s = (s + 1) & (SLOTS - 1)) {
		uint32_t i = h->slot[s];
		if (!i)
			return NULL;
		if (mx_addr_eq(&h->rec[i - 1].a, a))
			return &h->rec[i - 1];
	}
}

/* The record of a, made when missing; NULL when the table is full. */
static struct hrec *
get(struct hosts *h, const struct mx_addr *a)
{
	if (a->family == 0 || mx_addr_is_loopback(a))
		return NULL;
	uint32_t s = slot_of(a);
	for (;; s = (s + 1) & (SLOTS - 1)) {
		uint32_t i = h->slot[s];
		if (!i)
			break;
		if (mx_addr_eq(&h->rec[i - 1].a, a))
			return &h->rec[i - 1];
	}
	if (h->nrec == HOSTS_MAX_RECORDS) {
		h->st.dropped++;
		return NULL;
	}
	if (h->nrec == h->caprec) {
		uint32_t cap = h->caprec ? h->caprec * 2 : 64;
		struct hrec *r = realloc(h->rec, cap * sizeof(*r));
		if (!r) {
			h->st.dropped++;
			return NULL;
		}
		h->rec = r;
		h->caprec = cap;
	}
	struct hrec *r = &h->rec[h->nrec];
	memset(r, 0, sizeof(*r));
	r->a = *a;
	r->parent = (int32_t)h->nrec;
	r->members = 1;
	h->slot[s] = ++h->nrec;
	h->st.records = h->nrec;
	return r;
}

static int32_t
root(const struct hosts *h, int32_t i)
{
	while (h->rec[i].parent != i)
		i = h->rec[i].parent;
	return i;
}

static void
unite(struct hosts *h, struct hrec *x, struct hrec *y)
{
	int32_t a = root(h, (int32_t)(x - h->rec)), b = root(h, (int32_t)(y - h->rec));
	if (a == b)
		return;
	int32_t keep = a < b ? a : b, gone = a < b ? b : a; /* the older record is the root */
	h->rec[gone].parent = keep;
	h->rec[keep].members += h->rec[gone].members;
}

/* ---- the set of clients that delivered to a strong host ---------------------- */

static uint64_t
cos_key(const struct mx_addr *a)
{
	uint64_t k = mx_addr_hash(a);
	return k ? k : 1;
}

static void
cos_add(struct hosts *h, const struct mx_addr *a)
{
	uint64_t k = cos_key(a);
	uint32_t s = (uint32_t)k & (COS_SLOTS - 1);
	/* a short probe; a full neighbourhood overwrites its first slot (a
	   lossy set: a lost client only costs a weaker hint) */
	for (int n = 0; n < 8; n++, s = (s + 1) & (COS_SLOTS - 1)) {
		if (h->cos[s] == k)
			return;
		if (h->cos[s] == 0) {
			h->cos[s] = k;
			return;
		}
	}
	h->cos[(uint32_t)k & (COS_SLOTS - 1)] = k;
}

static bool
cos_has(const struct hosts *h, const struct mx_addr *a)
{
	uint64_t k = cos_key(a);
	uint32_t s = (uint32_t)k & (COS_SLOTS - 1);
	for (int n = 0; n < 8; n++, s = (s + 1) & (COS_SLOTS - 1)) {
		if (h->cos[s] == k)
			return true;
		if (h->cos[s] == 0)
			return false;
	}
	return false;
}

/* ---- given hosts ------------------------------------------------------------- */

void
hosts_add(struct hosts *h, const struct mx_addr *a)
{
	struct hrec *r = get(h, a);
	if (r)
		r->flags |= F_GIVEN;
	h->ngiven++;
}

static bool
prefix_match(const struct prefix *p, const struct mx_addr *a)
{
	if (p->a.family != a->family)
		return false;
	unsigned full = p->len / 8, rest = p->len % 8;
	if (memcmp(p->a.a, a->a, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		return (p->a.a[full] & mask) == (a->a[full] & mask);
	}
	return true;
}

/* The address text p[0..n) (not NUL-terminated); false if it is none. */
static bool
parse_addr_n(const char *p, size_t n, struct mx_addr *a)
{
	char buf[64];
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return mx_addr_parse(buf, a);
}

static int
bad_spec(const char *spec, char *err, size_t errlen)
{
	snprintf(err, errlen, "bad --host %s (ADDR, ADDR,ADDR... or PREFIX/LEN)", spec);
	return -1;
}

static int
add_prefix(struct hosts *h, const char *spec, const char *slash, char *err, size_t errlen)
{
	struct prefix p;
	char *end;
	unsigned long len = strtoul(slash + 1, &end, 10);
	if (!parse_addr_n(spec, (size_t)(slash - spec), &p.a) || *end || end == slash + 1 ||
	    len > (p.a.family == 4 ? 32u : 128u))
		return bad_spec(spec, err, errlen);
	if (h->npfx == HOSTS_MAX_PREFIXES) {
		snprintf(err, errlen, "more than %d --host prefixes", HOSTS_MAX_PREFIXES);
		return -1;
	}
	p.len = (unsigned)len;
	/* host bits set in the prefix are cleared: 192.0.2.7/24 is 192.0.2.0/24 */
	for (unsigned b = p.len; b < 128; b++)
		p.a.a[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
	h->pfx[h->npfx++] = p;
	h->ngiven++;
	return 0;
}

int
hosts_add_spec(struct hosts *h, const char *spec, char *err, size_t errlen)
{
	const char *slash = strchr(spec, '/');
	if (slash)
		return strchr(spec, ',') ? bad_spec(spec, err, errlen)
					 : add_prefix(h, spec, slash, err, errlen);
	struct mx_addr first = {0}; /* the machine's first address */
	for (const char *p = spec;;) {
		const char *e = strchr(p, ',');
		struct mx_addr a;
		if (!parse_addr_n(p, e ? (size_t)(e - p) : strlen(p), &a) || mx_addr_is_loopback(&a))
			return bad_spec(spec, err, errlen);
		struct hrec *r = get(h, &a);
		if (!r) {
			snprintf(err, errlen, "too many addresses");
			return -1;
		}
		r->flags |= F_GIVEN;
		if (first.family) /* get() may have moved the records: look it up again */
			unite(h, find(h, &first), r);
		else
			first = a;
		if (!e)
			break;
		p = e + 1;
	}
	h->ngiven++;
	return 0;
}

bool
hosts_given(const struct hosts *h)
{
	return h->ngiven > 0;
}

/* ---- facts -------------------------------------------------------------------- */

static bool
strong(const struct hrec *r)
{
	return (r->flags & F_PROBES) || (r->flags & (F_SERVES | F_QUERIES)) == (F_SERVES | F_QUERIES);
}

/* A record whose flags grew: count it, and its clients become clients of a host. */
static void
grew(struct hosts *h, struct hrec *r)
{
	if ((r->flags & F_STRONG) || !strong(r))
		return;
	r->flags |= F_STRONG;
	h->nstrong++;
	for (unsigned i = 0; i < r->nclients; i++)
		cos_add(h, &r->clients[i]);
}

static void
add_peer(struct mx_addr *v, uint8_t *n, const struct mx_addr *a)
{
	for (unsigned i = 0; i < *n; i++)
		if (mx_addr_eq(&v[i], a))
			return;
	if (*n < PEERS)
		v[(*n)++] = *a;
}

void
hosts_saw_query(struct hosts *h, const struct mx_addr *cli, const struct mx_addr *srv)
{
	hosts_saw_answer(h, srv); /* asked: a DNS server */
	struct hrec *r = get(h, cli);
	if (!r || (r->flags & F_QUERIES))
		return;
	r->flags |= F_QUERIES;
	grew(h, r);
}

void
hosts_saw_probe(struct hosts *h, const struct mx_addr *prober)
{
	struct hrec *r = get(h, prober);
	if (!r || (r->flags & F_PROBES))
		return;
	r->flags |= F_PROBES;
	grew(h, r);
}

void
hosts_saw_connect(struct hosts *h, const struct mx_addr *cli, const struct mx_addr *srv,
		  bool relay)
{
	if (!relay)
		return;
	struct hrec *r = find(h, cli);
	if (!r) {
		/* plain clients get no record until they deliver to a second
		   server: then they are deliverers (a lossy table remembers the
		   first server) */
		uint64_t ck = cos_key(cli), sk = cos_key(srv);
		struct first_srv *f = &h->first[(uint32_t)ck & (FIRST_SLOTS - 1)];
		if (f->cli != ck) {
			f->cli = ck;
			f->srv = sk;
			return;
		}
		if (f->srv == sk || !(r = get(h, cli)))
			return;
		r->flags |= F_DELIVERS;
	}
	r->flags |= F_CONNECTS;
	add_peer(r->servers, &r->nservers, srv);
	if (r->nservers > 1)
		r->flags |= F_DELIVERS;
}

void
hosts_saw_served(struct hosts *h, const struct mx_addr *cli, const struct mx_addr *srv)
{
	struct hrec *r = get(h, srv);
	if (!r)
		return;
	r->flags |= F_SERVES;
	add_peer(r->clients, &r->nclients, cli);
	if (!(r->flags & F_LISTED)) {
		if (h->nservers == h->capservers) {
			uint32_t cap = h->capservers ? h->capservers * 2 : 16;
			uint32_t *v = realloc(h->servers, cap * sizeof(*v));
			if (!v)
				goto listed; /* it still serves; only the last resort misses it */
			h->servers = v;
			h->capservers = cap;
		}
		h->servers[h->nservers++] = (uint32_t)(r - h->rec);
		r->flags |= F_LISTED;
	}
listed:
	grew(h, r);
	if (r->flags & F_STRONG)
		cos_add(h, cli);
}

void
hosts_saw_answer(struct hosts *h, const struct mx_addr *srv)
{
	struct hrec *r = find(h, srv);
	if (!r && !mx_addr_is_loopback(srv))
		r = get(h, srv);
	if (r)
		r->flags |= F_RESOLVER;
}

/* ---- questions ----------------------------------------------------------------- */

static bool
given_host(const struct hosts *h, const struct mx_addr *a)
{
	const struct hrec *r = find(h, a);
	if (r && (r->flags & F_GIVEN))
		return true;
	for (unsigned i = 0; i < h->npfx; i++)
		if (prefix_match(&h->pfx[i], a))
			return true;
	return false;
}

/* An MTA: serves mail, probes, or relays (see hosts.h)? */
static bool
mta(const struct hrec *c)
{
	return (c->flags & (F_SERVES | F_PROBES | F_DELIVERS)) ||
	       (c->flags & (F_QUERIES | F_CONNECTS)) == (F_QUERIES | F_CONNECTS);
}

/*
 * A server of a client that is no MTA, or of an outside sender that also
 * delivers to a host (not a host itself: hosts deliver to each other and
 * to remote MXes alike)?
 */
static bool
serves_clients(const struct hosts *h, const struct hrec *r)
{
	for (unsigned i = 0; i < r->nclients; i++) {
		const struct hrec *c = find(h, &r->clients[i]);
		if (!c || !mta(c) || (cos_has(h, &r->clients[i]) && !strong(c)))
			return true;
	}
	return false; /* a remote MX: only hosts (or deliverers) deliver to it */
}

static bool
learned_host(const struct hosts *h, const struct hrec *r)
{
	if (strong(r))
		return true;
	if (r->flags & F_SERVES)
		return serves_clients(h, r);
	/* the deliverer of a capture that shows nothing else: no host by the
	   rules above (asked now, as the facts stand) */
	if (!mta(r) || h->nstrong)
		return false;
	for (uint32_t i = 0; i < h->nservers; i++)
		if (serves_clients(h, &h->rec[h->servers[i]]))
			return false;
	return true;
}

bool
hosts_is_host(const struct hosts *h, const struct mx_addr *a)
{
	if (h->ngiven)
		return given_host(h, a);
	const struct hrec *r = find(h, a);
	return r && learned_host(h, r);
}

bool
hosts_same_machine(const struct hosts *h, const struct mx_addr *a, const struct mx_addr *b)
{
	if (mx_addr_eq(a, b))
		return true;
	if (mx_addr_is_loopback(a))
		return hosts_is_host(h, b);
	if (mx_addr_is_loopback(b))
		return hosts_is_host(h, a);
	const struct hrec *x = find(h, a), *y = find(h, b);
	return x && y && root(h, (int32_t)(x - h->rec)) == root(h, (int32_t)(y - h->rec));
}

bool
hosts_is_resolver(const struct hosts *h, const struct mx_addr *a)
{
	const struct hrec *r = find(h, a);
	return r && (r->flags & F_RESOLVER);
}

bool
hosts_merge(struct hosts *h, const struct mx_addr *a, const struct mx_addr *b)
{
	if (h->ngiven || hosts_is_resolver(h, a) || hosts_is_resolver(h, b) ||
	    hosts_same_machine(h, a, b) || !find(h, a))
		return false;
	struct hrec *y = get(h, b), *x = find(h, a); /* get() may move the records */
	if (!x || !y)
		return false;
	unite(h, x, y);
	return true;
}

void
hosts_machine_of(const struct hosts *h, const struct mx_addr *a, struct hosts_machine *m)
{
	const struct hrec *r = find(h, a);
	m->self = *a;
	m->host = hosts_is_host(h, a);
	m->root = r ? root(h, (int32_t)(r - h->rec)) : -1;
	m->several = r && h->rec[m->root].members > 1;
}

bool
hosts_in_machine(const struct hosts *h, const struct hosts_machine *m, const struct mx_addr *x)
{
	if (mx_addr_eq(x, &m->self))
		return true;
	if (mx_addr_is_loopback(x))
		return m->host;
	if (!m->several)
		return false;
	const struct hrec *r = find(h, x);
	return r && root(h, (int32_t)(r - h->rec)) == m->root;
}

unsigned
hosts_machine_addrs(const struct hosts *h, const struct hosts_machine *m, struct mx_addr *out,
		    unsigned max)
{
	unsigned n = 0;
	if (max)
		out[n++] = m->self;
	for (uint32_t i = 0; m->several && i < h->nrec && n < max; i++)
		if (root(h, (int32_t)i) == m->root && !mx_addr_eq(&h->rec[i].a, &m->self))
			out[n++] = h->rec[i].a;
	return n;
}

unsigned
hosts_count(const struct hosts *h)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < h->nrec; i++)
		n += hosts_is_host(h, &h->rec[i].a);
	return n;
}

void
hosts_each(const struct hosts *h, void (*fn)(void *ctx, const struct mx_addr *a), void *ctx)
{
	for (uint32_t i = 0; i < h->nrec; i++)
		if (hosts_is_host(h, &h->rec[i].a))
			fn(ctx, &h->rec[i].a);
}

const struct hosts_stats *
hosts_stats(const struct hosts *h)
{
	return &h->st;
}
