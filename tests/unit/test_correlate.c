/*
 * test_correlate.c - relations by name and address, overlap and share,
 * chains through a local resolver, none causes, and attribution under
 * concurrency.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "analyze/correlate.h"

#define S(x) ((uint64_t)(x) * 1000000000ULL)
#define MS(x) ((uint64_t)(x) * 1000000ULL)
#define T0 S(1700000000)

struct log {
	struct mx_cause causes[64];
	int ncauses;
	struct mx_diagnosis diag[16];
	int ndiag;
	int passed;
};

static void
collect(void *ctx, const struct mx_event *ev)
{
	struct log *l = ctx;
	l->passed++;
	if (ev->type == EV_CAUSE && l->ncauses < 64)
		l->causes[l->ncauses++] = ev->u.cause;
	if (ev->type == EV_DIAGNOSIS && l->ndiag < 16)
		l->diag[l->ndiag++] = ev->u.diag;
}

static struct log lg;
static struct mx_ids ids;
static struct corr *c;

static void
setup(void)
{
	memset(&lg, 0, sizeof(lg));
	memset(&ids, 0, sizeof(ids));
	struct mx_sink out = {collect, &lg, &ids};
	c = corr_new(NULL, &out);
	cr_assert_not_null(c);
}

static void
teardown(void)
{
	corr_free(c);
}

static struct mx_addr
A(const char *s)
{
	struct mx_addr a;
	cr_assert(mx_addr_parse(s, &a), "bad address %s", s);
	return a;
}

static void
session(struct mx_session *s, const char *client, const char *server)
{
	memset(s, 0, sizeof(*s));
	s->id = ++ids.session;
	s->proto = MXP_SMTP;
	s->client.addr = A(client);
	s->client.port = 40000;
	s->server.addr = A(server);
	s->server.port = 25;
}

static uint64_t
txn(const struct mx_session *s, const char *cmd, uint64_t req, uint64_t rep)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_TXN;
	ev.session = s;
	ev.u.txn.id = ++ids.txn;
	ev.u.txn.session_id = s->id;
	strcpy(ev.u.txn.command, cmd);
	ev.u.txn.request_ns = req;
	ev.u.txn.reply_ns = rep;
	strcpy(ev.u.txn.reply_code, "220");
	corr_event(c, &ev);
	return ev.u.txn.id;
}

static uint64_t
dns(const char *client, const char *server, const char *qname, uint16_t qtype, uint64_t ts,
    uint64_t resp, enum mx_dns_outcome oc, const char *answers)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DNS;
	struct mx_dns *q = &ev.u.dns;
	q->id = ++ids.dns;
	q->ts_ns = ts;
	q->last_send_ns = ts;
	q->client.addr = A(client);
	q->client.port = 33333;
	q->server.addr = A(server);
	q->server.port = 53;
	strcpy(q->qname, qname);
	q->qtype = qtype;
	q->outcome = oc;
	q->response_ns = resp;
	q->rcode = resp ? 0 : -1;
	if (answers)
		strcpy(q->answers, answers);
	corr_event(c, &ev);
	return q->id;
}

static uint64_t
ident(const char *host, const char *peer, uint64_t ts, uint64_t end, enum mx_ident_outcome oc)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_IDENT;
	ev.u.ident.id = ++ids.ident;
	ev.u.ident.ts_ns = ts;
	ev.u.ident.end_ns = end;
	ev.u.ident.host.addr = A(host);
	ev.u.ident.peer.addr = A(peer);
	ev.u.ident.peer.port = 113;
	ev.u.ident.outcome = oc;
	corr_event(c, &ev);
	return ev.u.ident.id;
}

static const struct mx_cause *
cause_for(uint64_t txn_id, enum mx_relation rel)
{
	for (int i = 0; i < lg.ncauses; i++)
		if (lg.causes[i].txn_id == txn_id && lg.causes[i].relation == rel)
			return &lg.causes[i];
	return NULL;
}

static int
ncauses_for(uint64_t txn_id)
{
	int n = 0;
	for (int i = 0; i < lg.ncauses; i++)
		n += lg.causes[i].txn_id == txn_id;
	return n;
}

TestSuite(correlate, .init = setup, .fini = teardown);

Test(correlate, arpa_names)
{
	char b[80];
	struct mx_addr a = A("192.0.2.200");
	corr_arpa_name(&a, b, sizeof(b));
	cr_expect_str_eq(b, "200.2.0.192.in-addr.arpa");
	a = A("2001:db8::1");
	corr_arpa_name(&a, b, sizeof(b));
	cr_expect_str_eq(b, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
}

Test(correlate, client_ptr_unanswered_explains_the_greeting)
{
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	corr_add_host(c, &s.server.addr);
	uint64_t q = dns("192.0.2.10", "198.51.100.53", "200.2.0.192.in-addr.arpa", 12,
			 T0 + MS(2), 0, MXD_UNANSWERED, NULL);
	uint64_t t = txn(&s, "GREETING", T0, T0 + S(30));
	corr_advance(c, T0 + S(31));
	cr_expect_eq(ncauses_for(t), 0, "settled before the hold time");
	corr_advance(c, T0 + S(30) + S(121));
	const struct mx_cause *k = cause_for(t, MXR_CLIENT_PTR);
	cr_assert_not_null(k);
	cr_expect_eq(k->kind, MXC_DNS);
	cr_expect_eq(k->dns_id, q);
	cr_expect_float_eq(k->overlap_ms, 29998.0, 0.01);
	cr_expect_float_eq(k->share, 29998.0 / 30000.0, 1e-6);
	cr_expect_eq(ncauses_for(t), 1);
	cr_assert_eq(lg.ndiag, 1);
	cr_expect(strstr(lg.diag[0].diagnosis, "client-ptr") != NULL, "%s", lg.diag[0].diagnosis);
	cr_expect(strstr(lg.diag[0].remedy, "reverse zone") != NULL);
}

Test(correlate, fast_reply_gets_nothing)
{
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	dns("192.0.2.10", "198.51.100.53", "200.2.0.192.in-addr.arpa", 12, T0, T0 + MS(3),
	    MXD_NXDOMAIN, NULL);
	txn(&s, "GREETING", T0, T0 + MS(5));
	corr_finish(c);
	cr_expect_eq(lg.ncauses, 0);
	cr_expect_eq(lg.ndiag, 0);
	cr_expect_eq(lg.passed, 2, "events are passed on");
}

Test(correlate, nothing_on_the_network_is_a_none_cause)
{
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	corr_add_host(c, &s.server.addr);
	uint64_t t = txn(&s, "DATA-END", T0, T0 + S(4));
	corr_finish(c);
	cr_assert_eq(lg.ncauses, 1);
	cr_expect_eq(lg.causes[0].kind, MXC_NONE);
	cr_expect_eq(lg.causes[0].txn_id, t);
	cr_expect(strstr(lg.diag[0].remedy, "local processing") != NULL);
}

Test(correlate, concurrent_sessions_blame_their_own_ptr)
{
	struct mx_session s1, s2;
	session(&s1, "192.0.2.117", "192.0.2.10");
	session(&s2, "192.0.2.118", "192.0.2.10");
	corr_add_host(c, &s1.server.addr);
	uint64_t q1 = dns("192.0.2.10", "198.51.100.53", "117.2.0.192.in-addr.arpa", 12,
			  T0 + MS(1), 0, MXD_UNANSWERED, NULL);
	dns("192.0.2.10", "198.51.100.53", "118.2.0.192.in-addr.arpa", 12, T0 + MS(500),
	    T0 + MS(600), MXD_ANSWERED, "host118.example");
	uint64_t t1 = txn(&s1, "GREETING", T0, T0 + S(8));
	uint64_t t2 = txn(&s2, "GREETING", T0 + MS(499), T0 + MS(601));
	corr_finish(c);
	const struct mx_cause *k = cause_for(t1, MXR_CLIENT_PTR);
	cr_assert_not_null(k);
	cr_expect_eq(k->dns_id, q1);
	cr_expect_eq(ncauses_for(t1), 1, "the other client's lookup is not presented");
	cr_expect_eq(ncauses_for(t2), 0);
}

Test(correlate, only_unrelated_activity_is_shown_when_nothing_related)
{
	struct mx_session s;
	session(&s, "192.0.2.50", "192.0.2.10");
	corr_add_host(c, &s.server.addr);
	dns("192.0.2.10", "198.51.100.53", "www.example.org", 1, T0 + S(1), T0 + S(3),
	    MXD_ANSWERED, "203.0.113.9");
	uint64_t t = txn(&s, "RCPT", T0, T0 + S(5));
	corr_finish(c);
	const struct mx_cause *k = cause_for(t, MXR_UNRELATED);
	cr_assert_not_null(k);
	cr_expect_float_eq(k->overlap_ms, 2000.0, 0.01);
	cr_expect(strstr(lg.diag[0].diagnosis, "unrelated") != NULL);
}

Test(correlate, relations_by_name)
{
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	strcpy(s.helo, "client.example.net");
	strcpy(s.banner_host, "mail.example.test");
	strcpy(s.sender_domain, "slow.example");
	strcpy(s.rcpt_domains[0], "example.net");
	s.n_rcpt_domains = 1;
	corr_add_host(c, &s.server.addr);
	const char *h = "192.0.2.10", *r = "198.51.100.53";
	/* the client's PTR answered with a name, whose A lookup is client-forward */
	dns(h, r, "200.2.0.192.in-addr.arpa", 12, T0 + MS(1), T0 + MS(2), MXD_ANSWERED,
	    "ptr.client.example");
	dns(h, r, "ptr.client.example", 1, T0 + MS(3), T0 + S(2), MXD_ANSWERED, "192.0.2.200");
	dns(h, r, "10.2.0.192.in-addr.arpa", 12, T0 + MS(3), T0 + S(2), MXD_ANSWERED, "x");
	dns(h, r, "mail", 1, T0 + MS(3), T0 + S(2), MXD_ANSWERED, "192.0.2.10");
	dns(h, r, "mail.example.test", 28, T0 + MS(3), T0 + S(2), MXD_NODATA, NULL);
	dns(h, r, "client.example.net", 1, T0 + MS(3), T0 + S(2), MXD_ANSWERED, "192.0.2.200");
	dns(h, r, "slow.example", 15, T0 + MS(3), T0 + S(2), MXD_ANSWERED, "10 mx1.slow.example");
	dns(h, r, "mx1.slow.example", 1, T0 + MS(3), T0 + S(2), MXD_ANSWERED, "203.0.113.1");
	dns(h, r, "slow.example", 16, T0 + MS(3), T0 + S(2), MXD_ANSWERED, "v=spf1 -all");
	dns(h, r, "example.net", 15, T0 + MS(3), T0 + S(2), MXD_ANSWERED, "10 mx.example.net");
	dns(h, r, "200.2.0.192.zen.dnsbl.example", 1, T0 + MS(3), T0 + S(2), MXD_NXDOMAIN, NULL);
	dns(h, r, "10.11.12.13", 15, T0 + MS(3), T0 + S(2), MXD_NXDOMAIN, NULL);
	ident(h, "192.0.2.200", T0 + MS(3), T0 + S(2), MXI_REFUSED);
	uint64_t t = txn(&s, "MAIL", T0, T0 + S(3));
	corr_finish(c);
	static const enum mx_relation want[] = {
		MXR_CLIENT_FORWARD, MXR_SELF_PTR, MXR_SELF_NAME, MXR_HELO,
		MXR_SENDER_DOMAIN, MXR_SPF, MXR_RECIPIENT_DOMAIN, MXR_DNSBL,
		MXR_IP_LITERAL, MXR_IDENT};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect_not_null(cause_for(t, want[i]), "no %s cause",
				   mx_relation_str(want[i]));
	cr_expect_null(cause_for(t, MXR_UNRELATED));
	int sd = 0;
	for (int i = 0; i < lg.ncauses; i++)
		sd += lg.causes[i].relation == MXR_SENDER_DOMAIN;
	cr_expect_eq(sd, 2, "MX of the sender domain and A of its MX host");
}

Test(correlate, local_resolver_chain)
{
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	corr_add_host(c, &s.server.addr);
	const char *name = "200.2.0.192.in-addr.arpa";
	uint64_t stub = dns("127.0.0.1", "127.0.0.1", name, 12, T0 + MS(1), T0 + S(10),
			    MXD_SERVFAIL, NULL);
	uint64_t u1 = dns("192.0.2.10", "192.175.48.42", name, 12, T0 + MS(2), 0,
			  MXD_UNANSWERED, NULL);
	dns("192.0.2.10", "192.175.48.42", name, 12, T0 + S(3), 0, MXD_UNANSWERED, NULL);
	dns("192.0.2.10", "192.175.48.6", "2.0.192.in-addr.arpa", 2, T0 + S(4), 0,
	    MXD_UNANSWERED, NULL);
	uint64_t t = txn(&s, "GREETING", T0, T0 + MS(10005));
	corr_finish(c);
	const struct mx_cause *top = cause_for(t, MXR_CLIENT_PTR);
	cr_assert_not_null(top);
	cr_expect_eq(top->dns_id, stub);
	cr_expect_eq(top->parent_id, 0);
	int ups = 0;
	for (int i = 0; i < lg.ncauses; i++) {
		if (lg.causes[i].relation != MXR_UPSTREAM)
			continue;
		ups++;
		cr_expect_eq(lg.causes[i].parent_id, top->id);
	}
	cr_expect_eq(ups, 3);
	cr_expect(cause_for(t, MXR_UPSTREAM)->dns_id == u1);
	cr_expect(strstr(lg.diag[0].diagnosis, "upstream") != NULL, "%s", lg.diag[0].diagnosis);
}

Test(correlate, ident_and_self_ptr_in_one_wait)
{
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	s.proto = MXP_POP3;
	corr_add_host(c, &s.server.addr);
	dns("192.0.2.10", "192.0.2.53", "10.2.0.192.in-addr.arpa", 12, T0 + MS(1), 0,
	    MXD_UNANSWERED, NULL);
	dns("192.0.2.10", "192.0.2.53", "200.2.0.192.in-addr.arpa", 12, T0 + S(70), T0 + S(90),
	    MXD_SERVFAIL, NULL);
	uint64_t p = ident("192.0.2.10", "192.0.2.200", T0 + S(90), T0 + S(105), MXI_UNANSWERED);
	uint64_t t = txn(&s, "GREETING", T0, T0 + S(120));
	corr_finish(c);
	cr_expect_not_null(cause_for(t, MXR_SELF_PTR));
	cr_expect_not_null(cause_for(t, MXR_CLIENT_PTR));
	const struct mx_cause *k = cause_for(t, MXR_IDENT);
	cr_assert_not_null(k);
	cr_expect_eq(k->kind, MXC_IDENT);
	cr_expect_eq(k->ident_id, p);
	cr_expect_float_eq(k->overlap_ms, 30000.0, 0.01, "unanswered probe outstanding until the reply");
	/* self-ptr unanswered: outstanding until the next lookup of the wait began */
	cr_expect_float_eq(cause_for(t, MXR_SELF_PTR)->overlap_ms, 69999.0, 0.01);
	cr_expect_float_eq(cause_for(t, MXR_CLIENT_PTR)->overlap_ms, 20000.0, 0.01);
}

Test(correlate, client_abort_is_slow_and_says_so)
{
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	corr_add_host(c, &s.server.addr);
	dns("192.0.2.10", "198.51.100.53", "200.2.0.192.in-addr.arpa", 12, T0 + MS(1), 0,
	    MXD_UNANSWERED, NULL);
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_TXN;
	ev.session = &s;
	ev.u.txn.id = ++ids.txn;
	strcpy(ev.u.txn.command, "GREETING");
	ev.u.txn.request_ns = T0;
	ev.u.txn.end_ns = T0 + S(60);
	ev.u.txn.outcome = MXO_CLIENT_ABORT;
	corr_event(c, &ev);
	corr_finish(c);
	cr_expect_not_null(cause_for(ev.u.txn.id, MXR_CLIENT_PTR));
	cr_expect(strstr(lg.diag[0].diagnosis, "gave up") != NULL);
}

Test(correlate, other_hosts_queries_are_not_candidates)
{
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	corr_add_host(c, &s.server.addr);
	/* a query by some other machine seen on a mirror port */
	dns("192.0.2.99", "198.51.100.53", "200.2.0.192.in-addr.arpa", 12, T0 + MS(1), 0,
	    MXD_UNANSWERED, NULL);
	uint64_t t = txn(&s, "GREETING", T0, T0 + S(5));
	corr_finish(c);
	cr_expect_null(cause_for(t, MXR_CLIENT_PTR));
	cr_expect_eq(lg.causes[0].kind, MXC_NONE);
}

Test(correlate, held_cap_settles_early)
{
	struct corr_cfg cfg = {.max_held = 2};
	struct mx_sink out = {collect, &lg, &ids};
	struct corr *small = corr_new(&cfg, &out);
	struct corr *saved = c;
	c = small;
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	for (int i = 0; i < 5; i++)
		txn(&s, "NOOP", T0 + S(10 * i), T0 + S(10 * i + 2));
	cr_expect_eq(lg.ndiag, 3, "three settled early when the held ring was full");
	corr_finish(c);
	cr_expect_eq(lg.ndiag, 5);
	c = saved;
	corr_free(small);
}

/*
 * The settle pass skips blocks of the query ring that lie outside the wait.
 * Against a brute-force overlap over the same ring (wrapped several times,
 * a size that is not a multiple of the block), every wait must be blamed on
 * exactly the related queries that overlap it (1 % floor included).
 */
#define RING 200
#define NQ 1000
#define NW 300
static uint64_t big_ids[NW][RING];
static int big_n[NW];
static uint64_t big_txn0;

static void
collect_big(void *ctx, const struct mx_event *ev)
{
	(void)ctx;
	if (ev->type != EV_CAUSE || ev->u.cause.relation != MXR_CLIENT_PTR)
		return;
	uint64_t w = ev->u.cause.txn_id - big_txn0;
	cr_assert_lt(w, (uint64_t)NW);
	cr_assert_lt(big_n[w], RING);
	big_ids[w][big_n[w]++] = ev->u.cause.dns_id;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

Test(correlate, block_skipping_equals_brute_force, .timeout = 30)
{
	struct corr_cfg cfg = {.max_dns = RING, .max_held = NW + 1};
	struct mx_sink out = {collect_big, NULL, &ids};
	struct corr *ring = corr_new(&cfg, &out);
	struct corr *saved = c;
	c = ring;
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	corr_add_host(c, &s.server.addr);
	static uint64_t qts[NQ], qend[NQ], qid[NQ];
	static bool related[NQ];
	for (int i = 0; i < NQ; i++) {
		/* queries over 600 s in arrival order with some jitter, 10 ms..8 s long */
		qts[i] = T0 + MS(600 * i) + MS(next_rand() % 3000);
		qend[i] = qts[i] + MS(10 + next_rand() % 8000);
		related[i] = next_rand() % 3 != 0;
		qid[i] = dns("192.0.2.10", "198.51.100.53",
			     related[i] ? "200.2.0.192.in-addr.arpa" : "1.0.0.10.in-addr.arpa", 12,
			     qts[i], qend[i], MXD_ANSWERED, "host.example");
	}
	big_txn0 = ids.txn + 1;
	static uint64_t w0[NW], w1[NW];
	for (int w = 0; w < NW; w++) {
		w0[w] = T0 + MS(next_rand() % 610000);
		w1[w] = w0[w] + S(1) + MS(next_rand() % 20000);
		txn(&s, "GREETING", w0[w], w1[w]);
	}
	corr_finish(c);
	int blamed = 0;
	for (int w = 0; w < NW; w++) {
		double wait = (double)(w1[w] - w0[w]) / 1e6, best = 0, ov[NQ];
		for (int i = NQ - RING; i < NQ; i++) {
			uint64_t a = w0[w] > qts[i] ? w0[w] : qts[i];
			uint64_t b = w1[w] < qend[i] ? w1[w] : qend[i];
			ov[i] = related[i] && b > a ? (double)(b - a) / 1e6 : 0;
			if (ov[i] > best)
				best = ov[i];
		}
		double floor_ms = best >= wait * 0.01 ? wait * 0.01 : 0;
		int want = 0;
		for (int i = NQ - RING; i < NQ; i++) {
			if (ov[i] <= 0 || ov[i] < floor_ms)
				continue;
			want++;
			bool found = false;
			for (int k = 0; k < big_n[w]; k++)
				found |= big_ids[w][k] == qid[i];
			cr_expect(found, "wait %d: query %d (id %llu) not blamed", w, i,
				  (unsigned long long)qid[i]);
		}
		cr_expect_eq(big_n[w], want, "wait %d: %d causes, brute force says %d", w,
			     big_n[w], want);
		blamed += want > 0;
	}
	cr_expect_gt(blamed, NW / 4, "the property was exercised (%d waits blamed)", blamed);
	c = saved;
	corr_free(ring);
}

/*
 * Earlier answers are found through per-name chains that follow the ring:
 * an A query for the client's PTR target is client-forward exactly while a
 * PTR record giving that target is still in the ring (answers change over
 * time, the ring wraps many times, chains lose evicted records).
 */
#define NCLI 20
static struct {
	uint64_t dns_id;
	int rel;
} fwd_seen[NCLI];

static void
collect_fwd(void *ctx, const struct mx_event *ev)
{
	uint64_t *ids_a = ctx;
	if (ev->type != EV_CAUSE || ev->u.cause.kind != MXC_DNS)
		return;
	for (int k = 0; k < NCLI; k++)
		if (ids_a[k] == ev->u.cause.dns_id) {
			fwd_seen[k].dns_id = ev->u.cause.dns_id;
			fwd_seen[k].rel = ev->u.cause.relation;
		}
}

Test(correlate, answer_chains_follow_the_ring, .timeout = 30)
{
	static uint64_t a_ids[NCLI];
	struct corr_cfg cfg = {.max_dns = RING};
	struct mx_sink out = {collect_fwd, a_ids, &ids};
	struct corr *ring = corr_new(&cfg, &out);
	struct corr *saved = c;
	c = ring;
	struct mx_addr host = A("192.0.2.10");
	corr_add_host(c, &host);
	/* the records in order: PTR answers, then one A query per client */
	static char qn[NQ + NCLI][64], an[NQ + NCLI][64];
	int nrec = 0;
	for (int i = 0; i < NQ; i++, nrec++) {
		int k = (int)(next_rand() % NCLI);
		snprintf(qn[nrec], sizeof(qn[nrec]), "%d.2.0.192.in-addr.arpa", k + 1);
		snprintf(an[nrec], sizeof(an[nrec]), "h%d-%d.example", k, i);
		dns("192.0.2.10", "198.51.100.53", qn[nrec], 12, T0 + MS(i), T0 + MS(i) + MS(1),
		    MXD_ANSWERED, an[nrec]);
	}
	bool want[NCLI];
	for (int k = 0; k < NCLI; k++) {
		/* a target some PTR record once gave for this client: recent or long gone */
		int pick = (int)(next_rand() % NQ);
		char arpa[64];
		snprintf(arpa, sizeof(arpa), "%d.2.0.192.in-addr.arpa", k + 1);
		while (strcmp(qn[pick], arpa) != 0)
			pick = (pick + 1) % NQ;
		snprintf(qn[nrec], sizeof(qn[nrec]), "%s", an[pick]);
		an[nrec][0] = '\0';
		nrec++;
		a_ids[k] = dns("192.0.2.10", "198.51.100.53", an[pick], 1, T0 + S(100 + 10 * k),
			       T0 + S(100 + 10 * k) + MS(900), MXD_ANSWERED, NULL);
	}
	/* what the ring holds once everything is in: the last RING records */
	for (int k = 0; k < NCLI; k++) {
		char arpa[64];
		snprintf(arpa, sizeof(arpa), "%d.2.0.192.in-addr.arpa", k + 1);
		want[k] = false;
		for (int r = nrec - RING; r < nrec; r++)
			want[k] |= strcmp(qn[r], arpa) == 0 && strcmp(an[r], qn[NQ + k]) == 0;
	}
	int in_ring = 0;
	for (int k = 0; k < NCLI; k++) {
		struct mx_session s;
		char cli[32];
		snprintf(cli, sizeof(cli), "192.0.2.%d", k + 1);
		session(&s, cli, "192.0.2.10");
		txn(&s, "GREETING", T0 + S(100 + 10 * k), T0 + S(100 + 10 * k) + S(1));
	}
	corr_finish(c);
	for (int k = 0; k < NCLI; k++) {
		cr_expect_eq(fwd_seen[k].dns_id, a_ids[k], "client %d: its A query is a cause", k);
		cr_expect_eq(fwd_seen[k].rel == MXR_CLIENT_FORWARD, want[k],
			     "client %d: client-forward %d, expected %d", k,
			     fwd_seen[k].rel == MXR_CLIENT_FORWARD, want[k]);
		in_ring += want[k];
	}
	cr_expect(in_ring > 0 && in_ring < NCLI, "both cases exercised (%d of %d in the ring)",
		  in_ring, NCLI);
	c = saved;
	corr_free(ring);
}

/* The host's own delivery waited on the remote MX: said so, not "local processing". */
Test(correlate, outbound_wait_is_the_remote_side)
{
	struct mx_session s;
	session(&s, "192.0.2.10", "203.0.113.25");
	s.outbound = true;
	uint64_t t = txn(&s, "DATA-END", T0, T0 + S(3));
	corr_finish(c);
	cr_assert_eq(lg.ndiag, 1);
	cr_expect_eq(lg.diag[0].txn_id, t);
	cr_expect(strstr(lg.diag[0].diagnosis, "remote server 203.0.113.25 took 3.0 s") != NULL,
		  "%s", lg.diag[0].diagnosis);
	cr_expect(strstr(lg.diag[0].remedy, "remote side") != NULL, "%s", lg.diag[0].remedy);
	cr_expect(strstr(lg.diag[0].remedy, "local processing") == NULL, "%s", lg.diag[0].remedy);
}

/* No lookups, but the host's own connection out overlapped the wait: named. */
Test(correlate, own_outbound_connection_is_named_in_the_diagnosis)
{
	struct mx_session in, out;
	session(&in, "192.0.2.200", "192.0.2.10");
	corr_add_host(c, &in.server.addr);
	session(&out, "192.0.2.10", "203.0.113.25");
	out.outbound = true;
	out.server.port = 25;
	out.syn_ns = T0 + MS(100);
	out.end_ns = T0 + MS(3100);
	out.outcome = MXO_UNANSWERED;
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_SESSION;
	ev.u.session = out;
	corr_event(c, &ev);
	uint64_t t = txn(&in, "DATA-END", T0, T0 + S(4));
	/* an outbound connection outside the wait says nothing */
	uint64_t t2 = txn(&in, "RCPT", T0 + S(10), T0 + S(12));
	corr_finish(c);
	cr_assert_eq(lg.ndiag, 2);
	const struct mx_diagnosis *g = lg.diag[0].txn_id == t ? &lg.diag[0] : &lg.diag[1];
	const struct mx_diagnosis *g2 = lg.diag[0].txn_id == t2 ? &lg.diag[0] : &lg.diag[1];
	cr_expect(strstr(g->diagnosis, "SMTP connection to 203.0.113.25 port 25 was unanswered "
				       "(SYNs only) for 3.0 s") != NULL,
		  "%s", g->diagnosis);
	cr_expect(strstr(g->remedy, "callout") != NULL, "%s", g->remedy);
	cr_expect(cause_for(t, MXR_NONE) != NULL, "the cause stays kind none");
	cr_expect(strstr(g2->diagnosis, "203.0.113.25") == NULL, "%s", g2->diagnosis);
}
