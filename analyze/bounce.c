/*
 * bounce.c - which outbound deliveries bounce recent inbound mail (bounce.h).
 *
 * Three tables of one shape: a ring of entries in insertion order (the
 * oldest goes first when the cap is reached) and hash chains over them,
 * the most recently inserted first.
 *   senders  key: sender domain (+ the host it was inbound to)
 *            value: the inbound client and session
 *   mx       key: MX host name, value: the domain it is an MX of
 *   addrs    key: an address, value: a name that resolved to it
 */
#include "bounce.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1000000000ULL
#define QT_A 1
#define QT_MX 15
#define QT_AAAA 28

struct ent {
	char *key;   /* name key (senders, mx); NULL for addrs */
	char *val;   /* mx: the domain; addrs: the name */
	struct mx_addr ka; /* addrs: the address; senders: the host */
	struct mx_addr origin; /* senders: the inbound client */
	uint64_t sid, ts;
	uint32_t hash;
	uint32_t next; /* chain: entry index + 1, 0 = end */
};

struct tab {
	struct ent *v;
	uint32_t cap, n, head;
	uint32_t *bucket; /* entry index + 1 */
	uint32_t mask;
	uint64_t out; /* forced out by the cap */
};

struct bounce {
	struct bounce_cfg cfg;
	const struct hosts *hosts;
	struct tab senders, mx, addrs;
	struct bounce_stats st;
};

/* ---- tables ---------------------------------------------------------------------- */

static uint32_t
addr_hash(const struct mx_addr *a)
{
	return (uint32_t)mx_addr_hash(a);
}

static bool
tab_init(struct tab *t, uint32_t cap)
{
	uint32_t nb = 1;
	while (nb < 2 * cap && nb < (1u << 30))
		nb <<= 1;
	t->cap = cap;
	t->mask = nb - 1;
	t->v = calloc(cap, sizeof(*t->v));
	t->bucket = calloc(nb, sizeof(*t->bucket));
	return t->v && t->bucket;
}

static void
tab_free(struct tab *t)
{
	if (t->v)
		for (uint32_t i = 0; i < t->n; i++) {
			struct ent *e = &t->v[(t->head + i) % t->cap];
			free(e->key);
			free(e->val);
		}
	free(t->v);
	free(t->bucket);
}

/* Forgets the oldest entry: off its chain, strings freed. */
static void
tab_pop(struct tab *t)
{
	uint32_t i = t->head;
	struct ent *e = &t->v[i];
	uint32_t *p = &t->bucket[e->hash & t->mask];
	while (*p && *p != i + 1)
		p = &t->v[*p - 1].next;
	if (*p)
		*p = e->next;
	free(e->key);
	free(e->val);
	memset(e, 0, sizeof(*e));
	t->head = (t->head + 1) % t->cap;
	t->n--;
}

/* A new entry (strings taken over), at the head of its chain; NULL when out of memory. */
static struct ent *
tab_add(struct tab *t, uint32_t hash, char *key, char *val)
{
	if ((!key && !val) || t->cap == 0) {
		free(key);
		free(val);
		return NULL;
	}
	if (t->n == t->cap) {
		tab_pop(t);
		t->out++;
	}
	uint32_t i = (t->head + t->n) % t->cap;
	struct ent *e = &t->v[i];
	memset(e, 0, sizeof(*e));
	e->key = key;
	e->val = val;
	e->hash = hash;
	uint32_t *b = &t->bucket[hash & t->mask];
	e->next = *b;
	*b = i + 1;
	t->n++;
	return e;
}

/* The entries of one chain, most recent first. */
static struct ent *
chain_first(const struct tab *t, uint32_t h)
{
	uint32_t i = t->bucket[h & t->mask];
	return i ? &t->v[i - 1] : NULL;
}

static struct ent *
chain_next(const struct tab *t, const struct ent *e)
{
	return e->next ? &t->v[e->next - 1] : NULL;
}

#define CHAIN_EACH(t, h, e) for (struct ent *e = chain_first(t, h); e; e = chain_next(t, e))

/* s (n bytes) in lower case without trailing dots into k; false when empty or too long */
static bool
norm_name(const char *s, size_t n, char k[MX_NAME_MAX])
{
	while (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n >= MX_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		k[i] = (char)tolower((unsigned char)s[i]);
	k[n] = '\0';
	return true;
}

static char *
dup_name(const char *s, size_t n)
{
	char k[MX_NAME_MAX];
	return norm_name(s, n, k) ? strdup(k) : NULL;
}

static bool
fresh(const struct bounce *b, uint64_t ts, uint64_t now)
{
	return ts + b->cfg.window_ns >= now;
}

/* ---- life cycle ------------------------------------------------------------------ */

struct bounce *
bounce_new(const struct bounce_cfg *cfg, const struct hosts *hosts)
{
	struct bounce *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	if (cfg)
		b->cfg = *cfg;
	if (!b->cfg.max_senders)
		b->cfg.max_senders = 65536;
	if (!b->cfg.max_mx)
		b->cfg.max_mx = 65536;
	if (!b->cfg.max_addrs)
		b->cfg.max_addrs = 65536;
	if (!b->cfg.window_ns)
		b->cfg.window_ns = 24 * 3600 * NS_PER_S;
	b->hosts = hosts;
	if (!hosts || !tab_init(&b->senders, b->cfg.max_senders) ||
	    !tab_init(&b->mx, b->cfg.max_mx) || !tab_init(&b->addrs, b->cfg.max_addrs)) {
		bounce_free(b);
		return NULL;
	}
	return b;
}

void
bounce_free(struct bounce *b)
{
	if (!b)
		return;
	tab_free(&b->senders);
	tab_free(&b->mx);
	tab_free(&b->addrs);
	free(b);
}

const struct bounce_stats *
bounce_stats(const struct bounce *b)
{
	struct bounce_stats *st = (struct bounce_stats *)&b->st;
	st->senders_out = b->senders.out;
	st->mx_out = b->mx.out;
	st->addrs_out = b->addrs.out;
	st->senders = b->senders.n;
	st->mx = b->mx.n;
	st->addrs = b->addrs.n;
	return st;
}

/* ---- inbound mail ------------------------------------------------------------------ */

/* The sender entry of domain d on the machine of host, or NULL. */
static struct ent *
sender_find(struct bounce *b, const struct mx_addr *host, const char *d, uint32_t h)
{
	int walked = 0;
	CHAIN_EACH(&b->senders, h, e) {
		if (e->hash != h || strcmp(e->key, d) != 0)
			continue;
		if (hosts_same_machine(b->hosts, host, &e->ka))
			return e;
		if (++walked >= BOUNCE_WALK)
			break;
	}
	return NULL;
}

void
bounce_txn(struct bounce *b, const struct mx_session *s, const struct mx_txn *t)
{
	/* (whether the server is a host is not asked here: a learned host may
	 * be known as one only later; the delivery that bounces it is) */
	if (!s || s->null_sender || !s->sender_domain[0] || strcmp(t->command, "MAIL") != 0 ||
	    t->reply_code[0] != '2')
		return;
	/* normalized on the stack: most MAIL commands find their entry, and
	   only a new one needs its own copy (tab_add() frees it on failure) */
	char k[MX_NAME_MAX];
	if (!norm_name(s->sender_domain, strlen(s->sender_domain), k))
		return;
	uint32_t h = mx_name_hash(k);
	struct ent *e = sender_find(b, &s->server.addr, k, h);
	if (!e && !(e = tab_add(&b->senders, h, strdup(k), NULL)))
		return;
	e->ka = s->server.addr;
	e->origin = s->client.addr;
	e->sid = t->session_id;
	e->ts = t->reply_ns ? t->reply_ns : t->request_ns;
}

/* ---- DNS answers ------------------------------------------------------------------- */

static void
learn_mx(struct bounce *b, const char *domain, const char *host, size_t hl, uint64_t ts)
{
	char *k = dup_name(host, hl);
	if (!k)
		return;
	uint32_t h = mx_name_hash(k);
	int walked = 0;
	CHAIN_EACH(&b->mx, h, e) {
		if (e->hash == h && strcmp(e->key, k) == 0) {
			if (strcmp(e->val, domain) == 0) {
				e->ts = ts;
				free(k);
				return;
			}
			if (++walked >= BOUNCE_WALK)
				break;
		}
	}
	char *v = dup_name(domain, strlen(domain));
	if (!v) {
		free(k);
		return;
	}
	struct ent *e = tab_add(&b->mx, h, k, v);
	if (e)
		e->ts = ts;
}

static void
learn_addr(struct bounce *b, const char *name, const struct mx_addr *a, uint64_t ts)
{
	uint32_t h = addr_hash(a);
	int walked = 0;
	CHAIN_EACH(&b->addrs, h, e) {
		if (e->hash == h && mx_addr_eq(&e->ka, a)) {
			if (strcmp(e->val, name) == 0) {
				e->ts = ts;
				return;
			}
			if (++walked >= BOUNCE_WALK)
				break;
		}
	}
	char *v = dup_name(name, strlen(name));
	if (!v)
		return;
	struct ent *e = tab_add(&b->addrs, h, NULL, v);
	if (e) {
		e->ka = *a;
		e->ts = ts;
	}
}

/* name is an MX host (or a domain without MX) of some domain */
static bool
mx_host_known(struct bounce *b, const char *name, size_t n)
{
	char k[MX_NAME_MAX];
	if (!norm_name(name, n, k))
		return false;
	uint32_t h = mx_name_hash(k);
	int walked = 0;
	CHAIN_EACH(&b->mx, h, e) {
		if (e->hash == h && strcmp(e->key, k) == 0)
			return true;
		if (++walked >= BOUNCE_WALK)
			break;
	}
	return false;
}

void
bounce_dns(struct bounce *b, const struct mx_dns *q)
{
	if (q->qtype != QT_MX && q->qtype != QT_A && q->qtype != QT_AAAA)
		return;
	size_t ql = strlen(q->qname);
	if (ql == 0 || ql >= MX_NAME_MAX)
		return;
	uint64_t ts = q->response_ns ? q->response_ns : q->ts_ns;
	/* a domain with no MX record: mail goes to its own address (the
	   implicit MX), so it stands as its own MX host */
	if (q->qtype == QT_MX && q->outcome == MXD_NODATA) {
		learn_mx(b, q->qname, q->qname, ql, ts);
		return;
	}
	if (q->outcome != MXD_ANSWERED || !q->answers[0])
		return;
	/* only the addresses of MX hosts matter (a delivery goes to one): the
	   many other A/AAAA answers (DNSBLs, the clients' forward names) are
	   not kept, which keeps this cheap on a busy host */
	if (q->qtype != QT_MX && !mx_host_known(b, q->qname, ql))
		return;
	/* the items of the summary: "10 mx.example" (MX), "192.0.2.1", names (CNAME) */
	const char *p = q->answers;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (q->qtype == QT_MX) {
			const char *sp = memchr(p, ' ', len);
			if (sp && sp > p && isdigit((unsigned char)*p))
				learn_mx(b, q->qname, sp + 1, len - (size_t)(sp + 1 - p), ts);
		} else if (len > 0 && len < MX_ADDRSTRLEN) {
			char buf[MX_ADDRSTRLEN];
			struct mx_addr a;
			memcpy(buf, p, len);
			buf[len] = '\0';
			if (mx_addr_parse(buf, &a))
				learn_addr(b, q->qname, &a, ts);
		}
		if (!e)
			break;
		p = e + 1;
	}
}

/* ---- outbound deliveries ------------------------------------------------------------ */

struct best {
	const struct ent *e;
	const char *domain;
};

static void
consider(struct bounce *b, struct best *best, const struct mx_addr *host, const char *d,
	 uint64_t now, uint64_t until)
{
	uint32_t h = mx_name_hash(d);
	const struct ent *e = sender_find(b, host, d, h);
	if (!e || !fresh(b, e->ts, now) || e->ts > until)
		return;
	if (!best->e || e->ts > best->e->ts) {
		best->e = e;
		best->domain = e->key;
	}
}

bool
bounce_mark(struct bounce *b, struct mx_session *s)
{
	if (!(s->outbound || s->client_is_host) || s->bounce_domain[0])
		return false;
	/* a delivery seen to give a sender of its own is ordinary mail (a
	 * reply to the domain, say); only the null sender, or a sender not
	 * seen (no answer, inside TLS), can be a bounce */
	if (s->sender_domain[0] && !s->null_sender)
		return false;
	const struct mx_addr *host = &s->client.addr;
	uint64_t now = s->syn_ns ? s->syn_ns : s->start_ns;
	uint64_t until = s->end_ns > now ? s->end_ns : now;
	struct best best = {NULL, NULL};
	uint32_t ha = addr_hash(&s->server.addr);
	int walked = 0;
	CHAIN_EACH(&b->addrs, ha, a) {
		if (a->hash != ha || !mx_addr_eq(&a->ka, &s->server.addr))
			continue;
		if (++walked > BOUNCE_WALK)
			break;
		if (!fresh(b, a->ts, now))
			continue;
		/* the name itself: a domain's implicit MX */
		consider(b, &best, host, a->val, now, until);
		/* the domains the name is an MX host of */
		uint32_t hn = mx_name_hash(a->val);
		int w2 = 0;
		CHAIN_EACH(&b->mx, hn, m) {
			if (m->hash != hn || strcmp(m->key, a->val) != 0)
				continue;
			if (++w2 > BOUNCE_WALK)
				break;
			if (fresh(b, m->ts, now))
				consider(b, &best, host, m->val, now, until);
		}
	}
	if (s->null_sender)
		for (int i = 0; i < s->n_rcpt_domains && i < MX_RCPT_DOMAINS; i++) {
			char d[MX_NAME_MAX];
			const char *r = s->rcpt_domains[i];
			size_t n = strnlen(r, MX_NAME_MAX - 1);
			for (size_t k = 0; k < n; k++)
				d[k] = (char)tolower((unsigned char)r[k]);
			d[n] = '\0';
			if (n)
				consider(b, &best, host, d, now, until);
		}
	if (!best.e)
		return false;
	mx_strlcpy(s->bounce_domain, best.domain, sizeof(s->bounce_domain));
	s->bounce_origin = best.e->origin;
	s->bounce_session_id = best.e->sid;
	b->st.marked++;
	return true;
}
