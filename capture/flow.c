/*
 * flow.c - TCP flow table and connection tracking (RFC 9293).
 *
 * Flows live in a chained hash table whose hash is symmetric in the two
 * endpoints, so either direction finds the flow with one probe sequence.
 * Every flow is also on one of two LRU lists, ordered by last activity:
 * "short" (SYN-only flows and flows that saw a FIN: syn_idle_ns) and
 * "long" (answered or mid-stream flows: idle_ns).  Within a list the head
 * is always the next to time out, so expiry looks at two heads only, and
 * eviction takes whichever head is closest to its own timeout.
 *
 * Flows are created by a SYN, a SYN-ACK or a segment with payload; a bare
 * ACK, FIN or RST for an unknown tuple (typically the last ACK after both
 * FINs) creates nothing and is counted in tcp.segments_without_flow.
 * A SYN with a new ISN on a tuple that still has a flow (port reuse, or a
 * new connect() after an unanswered one) closes the old flow with
 * CLOSE_IDLE (counted in tcp.flows_port_reused) and opens a new one.
 *
 * The key is the address/port pair only, never the VLAN: on a switch's
 * mirror (SPAN) port one connection's packets come tagged and untagged
 * (or under two VLAN IDs) and must make one flow.  Flows with the same
 * addresses and ports in two VLANs (overlapping private address spaces,
 * VRFs) are merged; a mail host's own addresses do not overlap.
 *
 * Per-direction byte streams are tcpreasm.c's job.
 */
#include "flow.h"

#include <stdlib.h>
#include <string.h>

#include "tcpreasm.h"
#include "recycle.h"

#define DEF_MAX_FLOWS 131072u
#define DEF_IDLE_NS (600ull * 1000000000ull)
#define DEF_SYN_IDLE_NS (75ull * 1000000000ull)
#define DEF_OOO_BYTES (256u * 1024u)
#define DEF_OOO_SEGS 64u
#define MIN_BUCKETS 1024u

enum lru_class {
	LRU_SHORT = 0,
	LRU_LONG = 1,
};

struct flow {
	struct flow *hnext; /* lookup fields first: one cache line per probe */
	uint64_t hash;
	struct cap_flow pub; /* what the consumer sees */
	struct flow *lprev, *lnext;
	uint32_t cli_isn, srv_isn;
	uint8_t lru;
	bool cli_isn_known, srv_isn_known;
	bool srv_seen;    /* any segment from the server side */
	bool had_payload; /* any segment with payload */
	bool any_fin;     /* a FIN seen from either side */
	struct tcpreasm rs[2];
};

struct lru_list {
	struct flow *head, *tail;
};

struct flowtab {
	struct flow_limits lim;
	const struct cap_ops *ops;
	struct cap_stats *st;
	struct cap_stats own_st; /* when the caller gave no stats */
	struct tr_env env;
	struct flow **bkt;
	size_t nbkt, max_bkt;
	size_t count;
	uint64_t next_id;
	uint64_t timeout[2];
	struct lru_list lru[2];
};

/* what a tcpreasm callback needs to reach the consumer */
struct sink {
	struct flowtab *t;
	struct flow *f;
	enum cap_dir d;
};

static const struct cap_ops no_ops;

/* ---- hashing ------------------------------------------------------------ */

static inline uint64_t
ep_hash(const struct mx_addr *a, uint16_t port)
{
	uint64_t w[2];
	mx_addr_words(a, w);
	return mx_mix64(w[0] * 0x9e3779b97f4a7c15ULL ^ w[1] ^ ((uint64_t)port << 48 | a->family));
}

static inline uint64_t
key_hash(const struct decoded *p)
{
	/* addition is commutative: both directions hash alike */
	return mx_mix64(ep_hash(&p->src, p->sport) + ep_hash(&p->dst, p->dport));
}

static inline bool
ep_match(const struct mx_endpoint *e, const struct mx_addr *a, uint16_t port)
{
	if (e->port != port || e->addr.family != a->family)
		return false;
	if (a->family == 4) {
		uint32_t x, y;
		memcpy(&x, e->addr.a, 4);
		memcpy(&y, a->a, 4);
		return x == y;
	}
	uint64_t x[2], y[2];
	memcpy(x, e->addr.a, 16);
	memcpy(y, a->a, 16);
	return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

static struct flow *
lookup(const struct flowtab *t, const struct decoded *p, uint64_t h, enum cap_dir *d)
{
	for (struct flow *f = t->bkt[h & (t->nbkt - 1)]; f; f = f->hnext) {
		if (f->hash != h)
			continue;
		if (ep_match(&f->pub.cli, &p->src, p->sport) &&
		    ep_match(&f->pub.srv, &p->dst, p->dport)) {
			*d = DIR_C2S;
			return f;
		}
		if (ep_match(&f->pub.srv, &p->src, p->sport) &&
		    ep_match(&f->pub.cli, &p->dst, p->dport)) {
			*d = DIR_S2C;
			return f;
		}
	}
	return NULL;
}

static void
grow(struct flowtab *t)
{
	size_t n = t->nbkt * 2;
	struct flow **nb = calloc(n, sizeof(*nb));
	if (!nb)
		return; /* keep the old table; chains just get longer */
	for (size_t i = 0; i < t->nbkt; i++) {
		struct flow *f = t->bkt[i];
		while (f) {
			struct flow *nx = f->hnext;
			f->hnext = nb[f->hash & (n - 1)];
			nb[f->hash & (n - 1)] = f;
			f = nx;
		}
	}
	free(t->bkt);
	t->bkt = nb;
	t->nbkt = n;
}

static void
hash_unlink(struct flowtab *t, struct flow *f)
{
	struct flow **pp = &t->bkt[f->hash & (t->nbkt - 1)];
	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
}

/* ---- LRU lists ---------------------------------------------------------- */

static void
lru_unlink(struct flowtab *t, struct flow *f)
{
	struct lru_list *l = &t->lru[f->lru];
	if (f->lprev)
		f->lprev->lnext = f->lnext;
	else
		l->head = f->lnext;
	if (f->lnext)
		f->lnext->lprev = f->lprev;
	else
		l->tail = f->lprev;
	f->lprev = f->lnext = NULL;
}

static void
lru_append(struct flowtab *t, struct flow *f, enum lru_class c)
{
	struct lru_list *l = &t->lru[c];
	f->lru = (uint8_t)c;
	f->lnext = NULL;
	f->lprev = l->tail;
	if (l->tail)
		l->tail->lnext = f;
	else
		l->head = f;
	l->tail = f;
}

static enum lru_class
flow_class(const struct flow *f)
{
	if (f->any_fin)
		return LRU_SHORT;
	if (f->pub.saw_synack || f->had_payload)
		return LRU_LONG;
	return LRU_SHORT;
}

static void
touch(struct flowtab *t, struct flow *f)
{
	enum lru_class c = flow_class(f);
	if (f->lru == c && t->lru[c].tail == f)
		return;
	lru_unlink(t, f);
	lru_append(t, f, c);
}

static uint64_t
deadline(const struct flowtab *t, const struct flow *f)
{
	uint64_t to = t->timeout[f->lru];
	return f->pub.last_ns > UINT64_MAX - to ? UINT64_MAX : f->pub.last_ns + to;
}

/* ---- callbacks from the reassembler ---------------------------------- */

static void
sink_data(void *arg, const uint8_t *p, size_t n, uint64_t ts)
{
	struct sink *s = arg;
	s->f->pub.bytes[s->d] += n;
	if (s->t->ops->data)
		s->t->ops->data(s->t->ops->ctx, &s->f->pub, s->d, p, n, ts);
}

static void
sink_gap(void *arg, uint64_t lost, uint64_t ts)
{
	struct sink *s = arg;
	if (s->t->ops->gap)
		s->t->ops->gap(s->t->ops->ctx, &s->f->pub, s->d, lost, ts);
}

static void
event(struct flowtab *t, struct flow *f, enum cap_tcp_ev ev, enum cap_dir d, uint64_t ts)
{
	if (t->ops->event)
		t->ops->event(t->ops->ctx, &f->pub, ev, d, ts);
}

static void
sink_fin(void *arg, uint64_t ts)
{
	struct sink *s = arg;
	s->f->pub.fin_ns[s->d] = ts;
	event(s->t, s->f, TEV_FIN, s->d, ts);
}

/* ---- flow life cycle ---------------------------------------------------- */

static void
close_flow(struct flowtab *t, struct flow *f, enum cap_close why, uint64_t ts)
{
	for (int d = 0; d < 2; d++) {
		struct sink s = {t, f, (enum cap_dir)d};
		tr_flush(&f->rs[d], &t->env, &s, ts);
	}
	if (why == CLOSE_RST)
		event(t, f, TEV_RST, (enum cap_dir)f->pub.rst_dir, ts);
	if (f->pub.saw_syn && !f->srv_seen)
		CAP_COUNT(t->st, TCP_UNANSWERED_SYN);
	if (t->ops->close)
		t->ops->close(t->ops->ctx, &f->pub, why, ts);
	hash_unlink(t, f);
	lru_unlink(t, f);
	tr_release(&f->rs[0]);
	tr_release(&f->rs[1]);
	mx_recycle(f, sizeof(*f));
	t->count--;
}

static void
evict_one(struct flowtab *t, uint64_t ts)
{
	struct flow *a = t->lru[LRU_SHORT].head, *b = t->lru[LRU_LONG].head;
	struct flow *v = a;
	if (!a || (b && deadline(t, b) < deadline(t, a)))
		v = b;
	if (!v)
		return;
	CAP_COUNT(t->st, FLOW_EVICTED);
	close_flow(t, v, CLOSE_EVICTED, ts);
}

static struct flow *
create(struct flowtab *t, const struct decoded *p, uint64_t h, enum cap_dir *d)
{
	uint8_t fl = p->tcp_flags;
	bool sender_is_client;

	if (t->count >= t->lim.max_flows)
		evict_one(t, p->ts_ns);
	if (t->count >= t->lim.max_flows)
		return NULL;
	struct flow *f = mx_recycled_zero(sizeof(*f));
	if (!f)
		return NULL;

	if ((fl & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN)
		sender_is_client = true;
	else if (fl & TCPF_SYN)
		sender_is_client = false; /* SYN-ACK: its receiver is the client */
	else if (p->sport >= 1024 && p->dport < 1024)
		sender_is_client = true;
	else if (p->sport < 1024 && p->dport >= 1024)
		sender_is_client = false;
	else
		sender_is_client = true;

	struct mx_endpoint s = {p->src, p->sport}, r = {p->dst, p->dport};
	f->pub.cli = sender_is_client ? s : r;
	f->pub.srv = sender_is_client ? r : s;
	f->pub.id = ++t->next_id;
	f->pub.vlan = p->vlan;
	f->pub.first_ns = f->pub.last_ns = p->ts_ns;
	f->pub.rst_dir = -1;
	f->hash = h;
	*d = sender_is_client ? DIR_C2S : DIR_S2C;

	if (t->count >= t->nbkt && t->nbkt < t->max_bkt)
		grow(t);
	size_t b = h & (t->nbkt - 1);
	f->hnext = t->bkt[b];
	t->bkt[b] = f;
	lru_append(t, f, LRU_SHORT);
	t->count++;
	CAP_COUNT(t->st, FLOWS);
	if (!(fl & TCPF_SYN))
		CAP_COUNT(t->st, FLOWS_MIDSTREAM);
	if (t->ops->open)
		t->ops->open(t->ops->ctx, &f->pub, p->ts_ns);
	return f;
}

/* A SYN (no ACK) on an existing flow that starts a new connection? */
static bool
is_new_connection(const struct flow *f, enum cap_dir d, uint32_t isn)
{
	if (d == DIR_S2C)
		return true; /* roles reversed: cannot be the same connection */
	if (f->cli_isn_known)
		return f->cli_isn != isn;
	if (f->rs[DIR_C2S].started)
		return f->rs[DIR_C2S].base != isn + 1;
	return false;
}

static void
on_syn(struct flowtab *t, struct flow *f, const struct decoded *p)
{
	struct cap_flow *c = &f->pub;
	c->syn_count++;
	c->last_syn_ns = p->ts_ns;
	if (!c->saw_syn) {
		c->saw_syn = true;
		c->syn_ns = p->ts_ns;
		f->cli_isn = p->seq;
		f->cli_isn_known = true;
		event(t, f, TEV_SYN, DIR_C2S, p->ts_ns);
	} else {
		CAP_COUNT(t->st, TCP_SYN_RETX);
		event(t, f, TEV_SYN_RETX, DIR_C2S, p->ts_ns);
	}
	if (!f->rs[DIR_C2S].started)
		tr_start(&f->rs[DIR_C2S], p->seq + 1);
}

static void
on_synack(struct flowtab *t, struct flow *f, const struct decoded *p)
{
	struct cap_flow *c = &f->pub;
	if (c->saw_synack)
		return;
	c->saw_synack = true;
	c->synack_ns = p->ts_ns;
	f->srv_isn = p->seq;
	f->srv_isn_known = true;
	if (!f->rs[DIR_S2C].started)
		tr_start(&f->rs[DIR_S2C], p->seq + 1);
	if (!f->cli_isn_known) {
		f->cli_isn = p->ack - 1;
		f->cli_isn_known = true;
	}
	if (!f->rs[DIR_C2S].started)
		tr_start(&f->rs[DIR_C2S], p->ack);
	event(t, f, TEV_SYNACK, DIR_S2C, p->ts_ns);
}

void
flowtab_tcp(struct flowtab *t, const struct decoded *p)
{
	if (p->l4proto != 6)
		return;
	uint8_t fl = p->tcp_flags;
	bool syn = fl & TCPF_SYN, ack = fl & TCPF_ACK, rst = fl & TCPF_RST, fin = fl & TCPF_FIN;
	uint32_t caplen = (uint32_t)p->payload.len;
	uint32_t wirelen = p->payload_wirelen > caplen ? p->payload_wirelen : caplen;
	uint64_t h = key_hash(p);
	enum cap_dir d = DIR_C2S;
	struct flow *f = lookup(t, p, h, &d);

	if (f && syn && !ack && !rst && is_new_connection(f, d, p->seq)) {
		CAP_COUNT(t->st, FLOW_REUSED);
		close_flow(t, f, CLOSE_IDLE, p->ts_ns);
		f = NULL;
	}
	if (!f) {
		if (rst || (!syn && wirelen == 0)) {
			CAP_COUNT(t->st, TCP_NO_FLOW);
			return;
		}
		f = create(t, p, h, &d);
		if (!f)
			return;
	}
	struct cap_flow *c = &f->pub;
	if (d == DIR_S2C)
		f->srv_seen = true;
	if (p->ts_ns > c->last_ns)
		c->last_ns = p->ts_ns;
	if (c->want_packets && t->ops->packet)
		t->ops->packet(t->ops->ctx, c, d, p);

	if (rst) {
		c->rst_ns = p->ts_ns;
		c->rst_dir = (int)d;
		close_flow(t, f, CLOSE_RST, p->ts_ns);
		return;
	}
	if (syn) {
		if (ack && d == DIR_C2S) {
			/* a SYN-ACK from the client side makes no sense: skip it */
			touch(t, f);
			return;
		}
		if (ack)
			on_synack(t, f, p);
		else
			on_syn(t, f, p);
	} else if (ack && d == DIR_C2S && c->saw_synack && !c->established &&
	           (int32_t)(p->ack - (f->srv_isn + 1)) >= 0) {
		c->established = true;
		c->established_ns = p->ts_ns;
		event(t, f, TEV_ESTABLISHED, DIR_C2S, p->ts_ns);
	}

	if (ack) {
		/* data the peer acknowledged but we never saw is lost */
		struct sink s = {t, f, (enum cap_dir) !d};
		tr_ack(&f->rs[!d], &t->env, &s, p->ack, p->ts_ns);
	}
	if (wirelen > 0 || fin) {
		struct sink s = {t, f, d};
		if (wirelen > 0)
			f->had_payload = true;
		if (fin)
			f->any_fin = true;
		tr_segment(&f->rs[d], &t->env, &s, syn ? p->seq + 1 : p->seq, p->payload.p, caplen,
		           wirelen, fin, p->ts_ns);
	}
	if (f->rs[0].fin_done && f->rs[1].fin_done) {
		close_flow(t, f, CLOSE_FIN, p->ts_ns);
		return;
	}
	touch(t, f);
}

/* ---- table -------------------------------------------------------------- */

struct flowtab *
flowtab_new(const struct flow_limits *lim, const struct cap_ops *ops, struct cap_stats *st)
{
	struct flowtab *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	if (lim)
		t->lim = *lim;
	if (!t->lim.max_flows)
		t->lim.max_flows = DEF_MAX_FLOWS;
	if (!t->lim.idle_ns)
		t->lim.idle_ns = DEF_IDLE_NS;
	if (!t->lim.syn_idle_ns)
		t->lim.syn_idle_ns = DEF_SYN_IDLE_NS;
	if (!t->lim.ooo_max_bytes)
		t->lim.ooo_max_bytes = DEF_OOO_BYTES;
	if (!t->lim.ooo_max_segs)
		t->lim.ooo_max_segs = DEF_OOO_SEGS;
	t->ops = ops ? ops : &no_ops;
	t->st = st ? st : &t->own_st;
	t->timeout[LRU_SHORT] = t->lim.syn_idle_ns;
	t->timeout[LRU_LONG] = t->lim.idle_ns;
	t->env.max_bytes = t->lim.ooo_max_bytes;
	t->env.max_segs = t->lim.ooo_max_segs;
	t->env.st = t->st;
	t->env.data = sink_data;
	t->env.gap = sink_gap;
	t->env.fin = sink_fin;

	t->max_bkt = MIN_BUCKETS;
	while (t->max_bkt < t->lim.max_flows)
		t->max_bkt *= 2;
	t->nbkt = MIN_BUCKETS;
	t->bkt = calloc(t->nbkt, sizeof(*t->bkt));
	if (!t->bkt) {
		free(t);
		return NULL;
	}
	return t;
}

void
flowtab_expire(struct flowtab *t, uint64_t now_ns)
{
	for (int c = 0; c < 2; c++) {
		struct flow *f;
		while ((f = t->lru[c].head) != NULL && now_ns >= deadline(t, f)) {
			CAP_COUNT(t->st, FLOW_IDLE_TIMEOUT);
			/* closed when its timeout ran out, not when a later packet
			   (maybe after a gap of days between files) noticed it */
			close_flow(t, f, CLOSE_IDLE, deadline(t, f));
		}
	}
}

void
flowtab_finish(struct flowtab *t, uint64_t now_ns)
{
	for (int c = 0; c < 2; c++) {
		struct flow *f;
		while ((f = t->lru[c].head) != NULL)
			close_flow(t, f, CLOSE_END, now_ns);
	}
}

size_t
flowtab_count(const struct flowtab *t)
{
	return t->count;
}

void
flowtab_free(struct flowtab *t)
{
	if (!t)
		return;
	for (int c = 0; c < 2; c++) {
		struct flow *f = t->lru[c].head;
		while (f) {
			struct flow *n = f->lnext;
			tr_release(&f->rs[0]);
			tr_release(&f->rs[1]);
			free(f);
			f = n;
		}
	}
	free(t->bkt);
	free(t);
	mx_recycle_drain(); /* the closed flows kept for reuse */
}
