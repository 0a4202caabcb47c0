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
static struct hosts *H;

static void
setup(void)
{
	memset(&lg, 0, sizeof(lg));
	memset(&ids, 0, sizeof(ids));
	struct mx_sink out = {collect, &lg, &ids};
	H = hosts_new();
	cr_assert_not_null(H);
	c = corr_new(NULL, H, &out);
	cr_assert_not_null(c);
}

static void
teardown(void)
{
	corr_free(c);
	hosts_free(H);
}

/* a correlator with its own configuration on the same host model */
static struct corr *
corr_with(const struct corr_cfg *cfg, mx_emit_fn fn, void *ctx)
{
	struct mx_sink out = {fn, ctx, &ids};
	struct corr *k = corr_new(cfg, H, &out);
	cr_assert_not_null(k);
	return k;
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

/* a transaction; guess "" and code "220" for a clear-text one */
static uint64_t
txn_g(const struct mx_session *s, const char *cmd, const char *guess, const char *code,
      uint64_t req, uint64_t rep)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_TXN;
	ev.session = s;
	ev.u.txn.id = ++ids.txn;
	ev.u.txn.session_id = s->id;
	strcpy(ev.u.txn.command, cmd);
	strcpy(ev.u.txn.guess, guess);
	ev.u.txn.request_ns = req;
	ev.u.txn.reply_ns = rep;
	strcpy(ev.u.txn.reply_code, code);
	corr_event(c, &ev);
	return ev.u.txn.id;
}

static uint64_t
txn(const struct mx_session *s, const char *cmd, uint64_t req, uint64_t rep)
{
	return txn_g(s, cmd, "", "220", req, rep);
}

/* a query, made for session owner (0 = cannot tell) */
static uint64_t
dns_o(const char *client, const char *server, const char *qname, uint16_t qtype, uint64_t ts,
      uint64_t resp, enum mx_dns_outcome oc, const char *answers, uint64_t owner)
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
	q->owner = owner;
	corr_event(c, &ev);
	return q->id;
}

static uint64_t
dns(const char *client, const char *server, const char *qname, uint16_t qtype, uint64_t ts,
    uint64_t resp, enum mx_dns_outcome oc, const char *answers)
{
	return dns_o(client, server, qname, qtype, ts, resp, oc, answers, 0);
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
	hosts_add(H, &s.server.addr);
	uint64_t q = dns("192.0.2.10", "198.51.100.53", "200.2.0.192.in-addr.arpa", 12,
			 T0 + MS(2), 0, MXD_UNANSWERED, NULL);
	uint64_t t = txn(&s, "GREETING", T0, T0 + S(30));
	/* a query that began before the reply is still pending somewhere */
	corr_advance(c, T0 + S(31), T0 + S(29), 0);
	cr_expect_eq(ncauses_for(t), 0, "settled before its evidence was final");
	corr_advance(c, T0 + S(31), T0 + S(31), 0);
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

/* b: a second connection of a's client, which at `at` gets its PTR
   answered, checks the name forward and gets its greeting at once */
static void
twin_gets_its_name(const struct mx_session *a, struct mx_session *b, uint64_t at)
{
	const char *h = "192.0.2.10", *r = "198.51.100.53";
	session(b, "192.0.2.200", "192.0.2.10");
	b->client.port = (uint16_t)(a->client.port + 1);
	dns_o(h, r, "200.2.0.192.in-addr.arpa", 12, at, at + MS(7), MXD_ANSWERED,
	      "ptr.client.example", b->id);
	dns(h, r, "ptr.client.example", 1, at + MS(8), at + MS(9), MXD_ANSWERED, "192.0.2.200");
	txn(b, "GREETING", at, at + MS(10));
}

/* Two connections of one client: the second one's PTR is answered and its
   forward check of the name follows; that check is not the next step of
   the first connection, whose PTR got no answer (so no name to check):
   it does not end the unanswered PTR's lifetime (dense traffic: the
   greeting's cause was lost, 0.9 % of its wait left) */
Test(correlate, another_connections_forward_check_does_not_end_an_unanswered_ptr)
{
	struct mx_session a, b;
	session(&a, "192.0.2.200", "192.0.2.10");
	hosts_add(H, &a.server.addr);
	uint64_t q = dns_o("192.0.2.10", "198.51.100.53", "200.2.0.192.in-addr.arpa", 12,
	                   T0 + MS(1), 0, MXD_UNANSWERED, NULL, a.id);
	twin_gets_its_name(&a, &b, T0 + MS(18));
	uint64_t t = txn(&a, "GREETING", T0, T0 + S(3));
	corr_finish(c);
	const struct mx_cause *k = cause_for(t, MXR_CLIENT_PTR);
	cr_assert_not_null(k, "the unanswered PTR explains the greeting");
	cr_expect_eq(k->dns_id, q);
	cr_expect_gt(k->share, 0.99);
	cr_expect_null(cause_for(t, MXR_NONE));
}

/* tcpserver: its own PTR first, unanswered for 25 s; meanwhile another
   connection of the same client gets its PTR answered and checks the name
   forward.  This session has no name yet, so that check is not its next
   step: the own PTR covers the wait */
Test(correlate, forward_check_before_this_wait_s_own_ptr_answer_is_another_s)
{
	struct mx_session a, b;
	session(&a, "192.0.2.200", "192.0.2.10");
	a.proto = MXP_POP3;
	a.server.port = 110;
	hosts_add(H, &a.server.addr);
	uint64_t q = dns_o("192.0.2.10", "198.51.100.53", "10.2.0.192.in-addr.arpa", 12,
	                   T0 + MS(1), 0, MXD_UNANSWERED, NULL, a.id);
	twin_gets_its_name(&a, &b, T0 + MS(30));
	uint64_t t = txn(&a, "GREETING", T0, T0 + S(25));
	corr_finish(c);
	const struct mx_cause *k = cause_for(t, MXR_SELF_PTR);
	cr_assert_not_null(k, "the unanswered own PTR explains the greeting");
	cr_expect_eq(k->dns_id, q);
	cr_expect_gt(k->share, 0.99);
}

/* issue 15, 7: a response whose query was not seen (no-query: ts = its
   own time, no latency) is no cause of a wait it falls into */
Test(correlate, no_query_response_is_no_cause)
{
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	hosts_add(H, &s.server.addr);
	uint64_t q = dns("192.0.2.10", "198.51.100.53", "200.2.0.192.in-addr.arpa", 12,
			 T0 + S(10), T0 + S(10), MXD_NO_QUERY, "client.example.org");
	uint64_t t = txn(&s, "GREETING", T0, T0 + S(30));
	corr_finish(c);
	for (int i = 0; i < lg.ncauses; i++) {
		cr_expect(lg.causes[i].txn_id != t || lg.causes[i].kind != MXC_DNS,
			  "a cause of kind %d", lg.causes[i].kind);
		cr_expect_neq(lg.causes[i].dns_id, q);
	}
	/* judged: nothing on the network */
	const struct mx_cause *k = cause_for(t, MXR_NONE);
	cr_assert_not_null(k);
	cr_expect_eq(k->kind, MXC_NONE);
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
	hosts_add(H, &s.server.addr);
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
	hosts_add(H, &s1.server.addr);
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

/* Another lookup of the host that nothing ties to this session is no cause: the diagnosis names it. */
Test(correlate, unrelated_activity_is_no_cause_but_is_named)
{
	struct mx_session s;
	session(&s, "192.0.2.50", "192.0.2.10");
	hosts_add(H, &s.server.addr);
	dns("192.0.2.10", "198.51.100.53", "www.example.org", 1, T0 + S(1), T0 + S(3),
	    MXD_ANSWERED, "203.0.113.9");
	uint64_t t = txn(&s, "RCPT", T0, T0 + S(5));
	corr_finish(c);
	cr_expect_null(cause_for(t, MXR_UNRELATED));
	cr_expect_not_null(cause_for(t, MXR_NONE));
	cr_expect_eq(ncauses_for(t), 1);
	cr_expect(strstr(lg.diag[0].diagnosis, "www.example.org") != NULL, "%s", lg.diag[0].diagnosis);
	cr_expect(strstr(lg.diag[0].diagnosis, "no network cause") != NULL, "%s",
		  lg.diag[0].diagnosis);
	cr_expect(strstr(lg.diag[0].remedy, "local processing") != NULL, "%s", lg.diag[0].remedy);
}

/* Lookups of the session that covered under 1 % of its wait explain nothing: said, not blamed. */
Test(correlate, a_tiny_share_explains_nothing)
{
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	strcpy(s.sender_domain, "sender.example");
	hosts_add(H, &s.server.addr);
	dns("192.0.2.10", "198.51.100.53", "sender.example", 15, T0 + S(1), T0 + S(1) + MS(40),
	    MXD_ANSWERED, "10 mx.sender.example");
	uint64_t t = txn(&s, "DATA-END", T0, T0 + S(20));
	corr_finish(c);
	cr_expect_null(cause_for(t, MXR_SENDER_DOMAIN), "40 ms of a 20 s wait");
	cr_expect_not_null(cause_for(t, MXR_NONE));
	cr_expect(strstr(lg.diag[0].diagnosis, "at most 40.0 ms") != NULL, "%s",
		  lg.diag[0].diagnosis);
}

/* the HELO name is stored as the client sent it (mixed case, the root's
 * dot); its lookup is still the helo relation */
Test(correlate, helo_name_as_sent_matches_its_lookup)
{
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	strcpy(s.helo, "Client.Example.NET.");
	hosts_add(H, &s.server.addr);
	dns("192.0.2.10", "198.51.100.53", "client.example.net", 1, T0 + MS(3), T0 + S(2),
	    MXD_ANSWERED, "192.0.2.200");
	uint64_t t = txn(&s, "EHLO", T0, T0 + S(3));
	corr_finish(c);
	cr_expect_not_null(cause_for(t, MXR_HELO), "no helo cause");
}

/* A session of the monitored host 192.0.2.10 that names every kind of name
 * a lookup can relate to: HELO, banner, sender and one recipient domain. */
static void
named_session(struct mx_session *s)
{
	session(s, "192.0.2.200", "192.0.2.10");
	strcpy(s->helo, "client.example.net");
	strcpy(s->banner_host, "mail.example.test");
	strcpy(s->sender_domain, "slow.example");
	strcpy(s->rcpt_domains[0], "example.net");
	s->n_rcpt_domains = 1;
	hosts_add(H, &s->server.addr);
}

Test(correlate, relations_by_name)
{
	struct mx_session s;
	named_session(&s);
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

/*
 * A busy window: unowned lookups of plain names that are none of the
 * wait's, each overlapping the wait longer than any related one, come
 * first (the unrelated ones kept fill up, and the rest are passed over by
 * their name signatures without being read).  Every relation by name is
 * still found, including names that only end like a domain of the wait.
 */
Test(correlate, busy_unrelated_names_do_not_hide_related_ones)
{
	struct mx_session s;
	named_session(&s);
	strcpy(s.helo, "relay.client.test"); /* under none of the wait's domains */
	strcpy(s.rcpt_domains[1], "rcpt2.example");
	s.n_rcpt_domains = 2;
	const char *h = "192.0.2.10", *r = "198.51.100.53";
	/* answers learned earlier: the client's name and the MX host of a recipient */
	dns(h, r, "200.2.0.192.in-addr.arpa", 12, T0 - S(9), T0 - S(9) + MS(1), MXD_ANSWERED,
	    "Ptr.Client.Example.");
	dns(h, r, "rcpt2.example", 15, T0 - S(9), T0 - S(9) + MS(1), MXD_ANSWERED,
	    "10 mx.rcpt2.example");
	static const char *const other[] = {
	    "notslow.example", "slow.example.org", "example.net.evil", "mx.other.example",
	    "client.example.net.x", "mail.example.test.y", "xexample.net", "zz.example.nett",
	};
	static const uint16_t types[] = {1, 15, 16, 28};
	for (int i = 0; i < 40; i++)
		dns(h, r, other[i % 8], types[i % 4], T0 + MS(1), T0 + S(3), MXD_ANSWERED, "x");
	dns(h, r, "ptr.client.example", 1, T0 + MS(3), T0 + S(2), MXD_ANSWERED, "192.0.2.200");
	dns(h, r, "relay.client.test", 1, T0 + MS(3), T0 + S(2), MXD_ANSWERED, "192.0.2.200");
	dns(h, r, "mail.example.test", 28, T0 + MS(3), T0 + S(2), MXD_NODATA, NULL);
	dns(h, r, "a.b.slow.example", 1, T0 + MS(3), T0 + S(2), MXD_ANSWERED, "203.0.113.1");
	dns(h, r, "s1._domainkey.slow.example", 16, T0 + MS(3), T0 + S(2), MXD_ANSWERED, "k");
	dns(h, r, "mx.rcpt2.example", 28, T0 + MS(3), T0 + S(2), MXD_ANSWERED, "2001:db8::1");
	dns(h, r, "example.net", 15, T0 + MS(3), T0 + S(2), MXD_ANSWERED, "10 mx.example.net");
	uint64_t t = txn(&s, "RCPT", T0, T0 + S(3));
	corr_finish(c);
	static const enum mx_relation want[] = {MXR_CLIENT_FORWARD, MXR_HELO, MXR_SELF_NAME,
						MXR_SENDER_DOMAIN, MXR_SPF,
						MXR_RECIPIENT_DOMAIN};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect_not_null(cause_for(t, want[i]), "no %s cause",
				   mx_relation_str(want[i]));
	int n[MXR_UNRELATED + 1] = {0};
	for (int i = 0; i < lg.ncauses; i++)
		if (lg.causes[i].txn_id == t && lg.causes[i].relation <= MXR_UNRELATED)
			n[lg.causes[i].relation]++;
	cr_expect_eq(n[MXR_CLIENT_FORWARD], 1, "the PTR target (the HELO name is HELO)");
	cr_expect_eq(n[MXR_SENDER_DOMAIN], 1);
	cr_expect_eq(n[MXR_SPF], 1, "the DKIM key's TXT under the sender domain");
	cr_expect_eq(n[MXR_RECIPIENT_DOMAIN], 2, "the MX of one, the MX host of the other");
}

Test(correlate, local_resolver_chain)
{
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	hosts_add(H, &s.server.addr);
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
	hosts_add(H, &s.server.addr);
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
	hosts_add(H, &s.server.addr);
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
	hosts_add(H, &s.server.addr);
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
	struct corr *small = corr_with(&cfg, collect, &lg);
	struct corr *saved = c;
	c = small;
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	for (int i = 0; i < 5; i++)
		txn(&s, "NOOP", T0 + S(10 * i), T0 + S(10 * i + 2));
	cr_expect_eq(lg.ndiag, 3, "three settled early when the held ring was full");
	/* before their evidence was final: no claim, and the diagnosis says why */
	cr_expect_eq(lg.ncauses, 0, "no cause named without the evidence");
	cr_expect(strstr(lg.diag[0].diagnosis, "not all kept") != NULL, "%s", lg.diag[0].diagnosis);
	cr_expect_eq(corr_stats(c)->held_forced, 3);
	corr_finish(c);
	cr_expect_eq(lg.ndiag, 5);
	cr_expect_eq(lg.ncauses, 2, "the last two settled normally: none causes");
	c = saved;
	corr_free(small);
}

/*
 * The settle pass skips blocks of the query ring that lie outside the wait.
 * Against a brute-force overlap over the same ring (wrapped several times,
 * a size that is not a multiple of the block), every wait must be blamed on
 * exactly the related queries that overlap it (1 % floor included).
 */
#define RING 256 /* a power of two: the window's cap */
#define NQ 1000
#define NW 300

/* The client-PTR causes named for each of a test's waits (numbered from
 * the txn id txn0), for a brute force to check. */
#define MAX_WAITS 300
#define MAX_WAIT_CAUSES 256
static struct {
	uint64_t txn0;
	uint64_t ids[MAX_WAITS][MAX_WAIT_CAUSES];
	int n[MAX_WAITS];
} named;

static void
collect_named(void *ctx, const struct mx_event *ev)
{
	(void)ctx;
	if (ev->type != EV_CAUSE || ev->u.cause.relation != MXR_CLIENT_PTR)
		return;
	uint64_t w = ev->u.cause.txn_id - named.txn0;
	cr_assert_lt(w, (uint64_t)MAX_WAITS);
	cr_assert_lt(named.n[w], MAX_WAIT_CAUSES);
	named.ids[w][named.n[w]++] = ev->u.cause.dns_id;
}

/*
 * Wait w ([w0, w1]) against a brute force over queries from..to-1: every
 * related query overlapping it by 1 % of the wait or more must be named,
 * and nothing else.  Returns how many the brute force finds.
 */
static int
expect_named_as_brute_force(int w, uint64_t w0, uint64_t w1, int from, int to,
			    const uint64_t *qts, const uint64_t *qend, const bool *related,
			    const uint64_t *qid)
{
	double floor_ms = (double)(w1 - w0) / 1e6 * 0.01; /* under 1 % explains nothing */
	int want = 0;
	for (int i = from; i < to; i++) {
		uint64_t a = w0 > qts[i] ? w0 : qts[i];
		uint64_t b = w1 < qend[i] ? w1 : qend[i];
		double ov = related[i] && b > a ? (double)(b - a) / 1e6 : 0;
		if (ov <= 0 || ov < floor_ms)
			continue;
		want++;
		bool found = false;
		for (int k = 0; k < named.n[w]; k++)
			found |= named.ids[w][k] == qid[i];
		cr_expect(found, "wait %d: query %d (id %llu) not blamed", w, i,
			  (unsigned long long)qid[i]);
	}
	cr_expect_eq(named.n[w], want, "wait %d: %d causes, brute force says %d", w, named.n[w],
		     want);
	return want;
}

/* A correlator of a brute-force test's own, made the current one (the one
 * it replaces in *saved), and session s of 192.0.2.200 with the host. */
static struct corr *
named_setup(const struct corr_cfg *cfg, struct corr **saved, struct mx_session *s)
{
	struct corr *k = corr_with(cfg, collect_named, NULL);
	*saved = c;
	c = k;
	session(s, "192.0.2.200", "192.0.2.10");
	hosts_add(H, &s->server.addr);
	memset(&named, 0, sizeof(named));
	return k;
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

/*
 * NW random waits of session s over the NQ queries added (the last RING
 * of them still in the window), then each against the brute force; at
 * least a quarter of them must blame something.
 */
static void
expect_waits_as_brute_force(const struct mx_session *s, const uint64_t *qts, const uint64_t *qend,
			    const bool *related, const uint64_t *qid)
{
	named.txn0 = ids.txn + 1;
	static uint64_t w0[NW], w1[NW];
	for (int w = 0; w < NW; w++) {
		w0[w] = T0 + MS(next_rand() % 610000);
		w1[w] = w0[w] + S(1) + MS(next_rand() % 20000);
		txn(s, "GREETING", w0[w], w1[w]);
	}
	corr_finish(c);
	int blamed = 0;
	for (int w = 0; w < NW; w++)
		blamed += expect_named_as_brute_force(w, w0[w], w1[w], NQ - RING, NQ, qts, qend,
						      related, qid) > 0;
	cr_expect_gt(blamed, NW / 4, "the property was exercised (%d waits blamed)", blamed);
}

Test(correlate, block_skipping_equals_brute_force, .timeout = 30)
{
	struct corr_cfg cfg = {.max_dns = RING, .max_held = NW + 1};
	struct corr *saved;
	struct mx_session s;
	struct corr *ring = named_setup(&cfg, &saved, &s);
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
	expect_waits_as_brute_force(&s, qts, qend, related, qid);
	c = saved;
	corr_free(ring);
}

/*
 * The same against a brute force, with owners: of the lookups of the
 * client's PTR, some are the session's own, some another session's (never
 * its cause), some have no owner.  The ring wraps, so the window's head and
 * the session's records fall on every one of a block's 64 places, where
 * the settle pass sorts them out 4 at a time (owner_mask()).
 */
Test(correlate, owned_lookups_in_every_place_of_a_block_equal_brute_force, .timeout = 30)
{
	struct corr_cfg cfg = {.max_dns = RING, .max_held = NW + 1};
	struct corr *saved;
	struct mx_session s;
	struct corr *ring = named_setup(&cfg, &saved, &s);
	static uint64_t qts[NQ], qend[NQ], qid[NQ];
	static bool related[NQ];
	int kinds[4] = {0};
	for (int i = 0; i < NQ; i++) {
		qts[i] = T0 + MS(600 * i) + MS(next_rand() % 3000);
		qend[i] = qts[i] + MS(10 + next_rand() % 8000);
		/* 0: no owner, 1: this session's, 2: another session's (its low
		   32 bits differ from this one's), 3: no owner, another name */
		int kind = (int)(next_rand() % 4);
		kinds[kind]++;
		uint64_t owner = kind == 1 ? s.id : kind == 2 ? s.id + 1 + next_rand() % 1000 : 0;
		related[i] = kind < 2;
		qid[i] = dns_o("192.0.2.10", "198.51.100.53",
			       kind < 3 ? "200.2.0.192.in-addr.arpa" : "1.0.0.10.in-addr.arpa", 12,
			       qts[i], qend[i], MXD_ANSWERED, "host.example", owner);
	}
	expect_waits_as_brute_force(&s, qts, qend, related, qid);
	for (int k = 0; k < 4; k++)
		cr_expect_gt(kinds[k], NQ / 8, "kind %d was exercised", k);
	c = saved;
	corr_free(ring);
}

/*
 * A window that grows while it is wrapped: over two minutes of queries the
 * oldest open wait falls behind, stays, catches up and falls behind again,
 * so the window grows past 8 192 records in eighths while old records
 * leave at its head, and the name arena wraps (skipping ends, for names of
 * every length) and grows while wrapped.  Every wait must still be blamed on
 * exactly the reverse lookups of its client that overlap it: a record
 * whose name moved wrongly reads as another name and is missed.
 */
#define GQ 60000 /* queries, one every 2 ms */
#define GW (GQ / 250)
_Static_assert(GW <= MAX_WAITS, "the waits fit named");

Test(correlate, window_grown_while_wrapped_keeps_every_name, .timeout = 60)
{
	struct corr_cfg cfg = {.max_held = 4096};
	struct corr *saved;
	struct mx_session s;
	struct corr *k = named_setup(&cfg, &saved, &s);
	static uint64_t qts[GQ], qend[GQ], qid[GQ];
	static bool related[GQ];
	static uint64_t w0[GW], w1[GW];
	int nw = 0;
	named.txn0 = ids.txn + 1;
	for (int i = 0; i < GQ; i++) {
		uint64_t t = T0 + MS(2 * (uint64_t)i), e = 2 * (uint64_t)i; /* ms */
		/* how far the oldest open wait is behind: rising to 20 s over 40
		   s, steady for 30 s (names leave the wrapped arena), 4 s for
		   10 s, then stuck for 40 s (the wrapped window and arena grow
		   past their earlier size) */
		uint64_t lag_ms = e < 40000   ? 2000 + e * 45 / 100
				  : e < 70000 ? 20000
				  : e < 80000 ? 4000
					      : 4000 + (e - 80000);
		uint64_t lag = MS(lag_ms);
		qts[i] = t;
		qend[i] = t + MS(1 + next_rand() % 2000);
		related[i] = i % 199 == 0;
		char name[300];
		if (related[i]) {
			snprintf(name, sizeof(name), "200.2.0.192.in-addr.arpa");
		} else {
			int n = snprintf(name, sizeof(name), "q%d-", i);
			int len = 1 + (int)(next_rand() % 200);
			for (int j = 0; j < len; j++)
				name[n + j] = (char)('a' + next_rand() % 26);
			snprintf(name + n + len, sizeof(name) - (size_t)(n + len), ".example.net");
		}
		qid[i] = dns("192.0.2.10", "198.51.100.53", name, related[i] ? 12 : 1, qts[i],
			     qend[i], MXD_ANSWERED, related[i] ? "host.example" : NULL);
		if (i % 250 == 249 && nw < GW) {
			/* a wait of 1.2 s or more ending now, back to the oldest
			   open one: its oldest records are read too */
			uint64_t most = lag_ms - 500 - 1200;
			w1[nw] = t;
			w0[nw] = t - MS(1200) - MS(next_rand() % most);
			txn(&s, "GREETING", w0[nw], w1[nw]);
			nw++;
		}
		if (i % 100 == 99)
			corr_advance(c, t, t, t - lag);
	}
	corr_finish(c);
	const struct corr_stats *st = corr_stats(c);
	cr_assert_geq(st->peak_dns, 21000u, "the window grew past 8 192 in eighths (peak %u)",
		      st->peak_dns);
	cr_assert_eq(st->dropped_dns, 0);
	int blamed = 0;
	for (int w = 0; w < nw; w++)
		blamed += expect_named_as_brute_force(w, w0[w], w1[w], 0, GQ, qts, qend, related,
						      qid) > 0;
	cr_expect_eq(blamed, nw, "every wait overlaps a lookup of its client");
	c = saved;
	corr_free(k);
}

/*
 * Earlier answers (the client's PTR target) are remembered by name, apart
 * from the query window: an A lookup of the target is client-forward long
 * after the PTR record itself was forgotten, until max_names newer names
 * pushed the answer out; answers that change are all kept.
 */
Test(correlate, learned_answers_outlive_the_window)
{
	struct corr_cfg cfg = {.max_names = 4};
	struct corr *k = corr_with(&cfg, collect, &lg);
	struct corr *saved = c;
	c = k;
	struct mx_addr host = A("192.0.2.10");
	hosts_add(H, &host);
	const char *h = "192.0.2.10", *r = "198.51.100.53";
	dns(h, r, "200.2.0.192.in-addr.arpa", 12, T0, T0 + MS(2), MXD_ANSWERED, "old.example");
	dns(h, r, "200.2.0.192.in-addr.arpa", 12, T0 + MS(5), T0 + MS(7), MXD_ANSWERED,
	    "new.example");
	/* ten minutes later: the window forgot both records */
	corr_advance(c, T0 + S(600), T0 + S(600), 0);
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	uint64_t q1 = dns(h, r, "old.example", 1, T0 + S(600), T0 + S(603), MXD_ANSWERED, NULL);
	uint64_t q2 = dns(h, r, "new.example", 1, T0 + S(600), T0 + S(603), MXD_ANSWERED, NULL);
	uint64_t t = txn(&s, "MAIL", T0 + S(600), T0 + S(604));
	corr_finish(c);
	int fwd = 0;
	for (int i = 0; i < lg.ncauses; i++)
		if (lg.causes[i].txn_id == t && lg.causes[i].relation == MXR_CLIENT_FORWARD)
			fwd += lg.causes[i].dns_id == q1 || lg.causes[i].dns_id == q2;
	cr_expect_eq(fwd, 2, "both PTR targets are the client's names");
	/* four other names later the answer is gone: the lookup is no cause */
	lg.ncauses = lg.ndiag = 0;
	for (int i = 0; i < 4; i++) {
		char n[64];
		snprintf(n, sizeof(n), "%d.2.0.192.in-addr.arpa", i + 1);
		dns(h, r, n, 12, T0 + S(700), T0 + S(700) + MS(1), MXD_ANSWERED, "other.example");
	}
	uint64_t q3 = dns(h, r, "new.example", 1, T0 + S(800), T0 + S(803), MXD_ANSWERED, NULL);
	t = txn(&s, "RCPT", T0 + S(800), T0 + S(804));
	corr_finish(c);
	(void)q3;
	cr_expect_not_null(cause_for(t, MXR_NONE));
	cr_expect_null(cause_for(t, MXR_CLIENT_FORWARD));
	cr_assert_eq(lg.ndiag, 1);
	cr_expect(strstr(lg.diag[0].diagnosis, "unrelated lookup A new.example") != NULL, "%s",
		  lg.diag[0].diagnosis);
	c = saved;
	corr_free(k);
}

/* The host's own delivery waited on the remote MX: said so, not "local processing". */
Test(correlate, outbound_wait_is_the_remote_side)
{
	struct mx_session s;
	session(&s, "192.0.2.10", "203.0.113.25");
	hosts_add(H, &s.client.addr);
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
	struct mx_session in;
	session(&in, "192.0.2.200", "192.0.2.10");
	hosts_add(H, &in.server.addr);
	struct mx_endpoint cli = {A("192.0.2.10"), 41000}, srv = {A("203.0.113.25"), 25};
	uint64_t conn = corr_conn_open(c, &cli, &srv, T0 + MS(100));
	corr_conn_close(c, conn, T0 + MS(3100), MXO_UNANSWERED);
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

/* ---- issue 12: at any rate, any length, any number of hosts ------------------------ */

static void
learned_host_facts(const char *host, const char *client)
{
	struct mx_addr h = A(host), cl = A(client), r = A("198.51.100.53");
	hosts_saw_query(H, &h, &r);
	hosts_saw_answer(H, &r);
	hosts_saw_connect(H, &cl, &h, true);
	hosts_saw_served(H, &cl, &h);
}

/*
 * What the dispatcher does: a query reaches the correlator only when it is
 * final (answered, or 30 s after its last send), and every second the
 * correlator hears before when everything is in.  A busy host over a long
 * capture: 200 other lookups a second, and every 5 s a client whose PTR
 * lookup goes unanswered (two tries 5 s apart, greeting after 10 s).  Every
 * slow greeting must get its own lookup, whatever the capture's length;
 * with a window too small for the rate, a wait says its evidence was not
 * kept, and never names another cause.
 */
struct pend {
	uint64_t due;
	struct mx_event ev;
};

static struct {
	struct mx_cause causes[1024];
	int ncauses;
	struct mx_diagnosis diag[256];
	int ndiag;
} big;

static void
collect_many(void *ctx, const struct mx_event *ev)
{
	(void)ctx;
	if (ev->type == EV_CAUSE && big.ncauses < 1024)
		big.causes[big.ncauses++] = ev->u.cause;
	if (ev->type == EV_DIAGNOSIS && big.ndiag < 256)
		big.diag[big.ndiag++] = ev->u.diag;
}

/* slow_answer: the PTR lookup gets SERVFAIL after 9.9 s instead of nothing */
static int
long_busy_capture(uint32_t max_dns, bool slow_answer, int *right, int *unknown)
{
	struct corr_cfg cfg = {.max_dns = max_dns, .max_held = 4096};
	memset(&big, 0, sizeof(big));
	struct corr *k = corr_with(&cfg, collect_many, NULL);
	struct mx_addr host = A("192.0.2.10");
	hosts_add(H, &host);
	enum { SECS = 500, PERIOD = 5, NSESS = SECS / PERIOD };
	static struct pend pend[64];
	static struct mx_session sess[NSESS];
	static uint64_t txn_of[NSESS];
	int npend = 0, nsess = 0, slow = 0;
	uint64_t other = 0;
	for (uint64_t sec = 0; sec < SECS + 60; sec++) {
		uint64_t now = T0 + S(sec);
		/* 200 fast lookups of other clients this second */
		for (int i = 0; i < 200 && sec < SECS; i++) {
			char n[64];
			snprintf(n, sizeof(n), "%d.%d.113.203.in-addr.arpa", (int)(other % 250), (int)(other / 250 % 250));
			other++;
			uint64_t ts = now + MS(5 * i);
			struct mx_event ev;
			memset(&ev, 0, sizeof(ev));
			ev.type = EV_DNS;
			struct mx_dns *q = &ev.u.dns;
			q->id = ++ids.dns;
			q->ts_ns = q->last_send_ns = ts;
			q->response_ns = ts + MS(20);
			q->client.addr = host;
			q->server.addr = A("198.51.100.53");
			mx_strlcpy(q->qname, n, sizeof(q->qname));
			q->qtype = 12;
			q->outcome = MXD_NXDOMAIN;
			corr_event(k, &ev);
		}
		if (sec % PERIOD == 0 && sec < SECS) {
			struct mx_session *s = &sess[nsess];
			char cli[32];
			snprintf(cli, sizeof(cli), "198.51.100.%d", 1 + nsess % 250);
			session(s, cli, "192.0.2.10");
			struct pend *p = &pend[npend++];
			memset(p, 0, sizeof(*p));
			p->ev.type = EV_DNS;
			struct mx_dns *q = &p->ev.u.dns;
			q->id = ++ids.dns;
			q->ts_ns = now + MS(1);
			q->last_send_ns = now + MS(1) + S(5);
			q->client.addr = host;
			q->server.addr = A("198.51.100.53");
			corr_arpa_name(&s->client.addr, q->qname, sizeof(q->qname));
			q->qtype = 12;
			q->outcome = MXD_UNANSWERED;
			q->rcode = -1;
			p->due = q->last_send_ns + S(30);
			if (slow_answer) {
				q->outcome = MXD_SERVFAIL;
				q->rcode = 2;
				q->response_ns = p->due = now + S(9) + MS(900);
			}
			txn_of[nsess] = 0;
			nsess++;
		}
		/* greetings 10 s after their connection */
		for (int i = 0; i < nsess; i++) {
			uint64_t t0 = T0 + S((uint64_t)i * PERIOD);
			if (!txn_of[i] && t0 + S(10) <= now) {
				struct mx_event ev;
				memset(&ev, 0, sizeof(ev));
				ev.type = EV_TXN;
				ev.session = &sess[i];
				ev.u.txn.id = ++ids.txn;
				strcpy(ev.u.txn.command, "GREETING");
				ev.u.txn.request_ns = t0;
				ev.u.txn.reply_ns = t0 + S(10);
				strcpy(ev.u.txn.reply_code, "220");
				corr_event(k, &ev);
				txn_of[i] = ev.u.txn.id;
				slow++;
			}
		}
		/* finished lookups come in; everything begun before the oldest
		   pending one is final */
		uint64_t final = now;
		for (int i = 0; i < npend;) {
			if (pend[i].due <= now) {
				corr_event(k, &pend[i].ev);
				pend[i] = pend[--npend];
				continue;
			}
			if (pend[i].ev.u.dns.ts_ns < final)
				final = pend[i].ev.u.dns.ts_ns;
			i++;
		}
		corr_advance(k, now, final, 0);
	}
	corr_finish(k);
	*right = *unknown = 0;
	for (int i = 0; i < nsess; i++) {
		int mine = 0, others = 0;
		for (int j = 0; j < big.ncauses; j++) {
			if (big.causes[j].txn_id != txn_of[i])
				continue;
			if (big.causes[j].relation == MXR_CLIENT_PTR)
				mine++;
			else
				others++;
		}
		*right += mine == 1 && others == 0;
	}
	for (int j = 0; j < big.ndiag; j++)
		*unknown += strstr(big.diag[j].diagnosis, "not all kept") != NULL;
	const struct corr_stats *st = corr_stats(k);
	cr_log_info("max_dns %u: %d of %d right, %d unknown; peak window %u, dropped %llu\n",
		    max_dns, *right, slow, *unknown, st->peak_dns, (unsigned long long)st->dropped_dns);
	corr_free(k);
	return slow;
}

Test(correlate, long_busy_capture_keeps_every_cause, .timeout = 60)
{
	for (int answered = 0; answered < 2; answered++) {
		int right, unknown;
		int slow = long_busy_capture(0, answered, &right, &unknown);
		cr_expect_eq(slow, 100);
		cr_expect_eq(right, slow, "%d of %d slow greetings blamed on their own PTR", right,
			     slow);
		cr_expect_eq(unknown, 0);
	}
}

Test(correlate, too_small_a_window_says_so_and_blames_nothing_else, .timeout = 60)
{
	int right, unknown;
	/* 64 records are a third of a second at this rate: the answered PTR
	   is pushed out before its wait ends */
	int slow = long_busy_capture(64, true, &right, &unknown);
	cr_expect_gt(unknown, 0, "the lost evidence is said");
	cr_expect_eq(right + unknown, slow, "%d right, %d unknown of %d: nothing else", right,
		     unknown, slow);
	int none = 0;
	for (int j = 0; j < big.ncauses; j++)
		none += big.causes[j].kind == MXC_NONE;
	cr_expect_eq(none, 0, "no 'no network cause' claim without the evidence");
}

/* like txn(), with the session's previous reply */
static uint64_t
txn_after(const struct mx_session *s, const char *cmd, uint64_t req, uint64_t rep,
	  uint64_t prev_reply)
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
	ev.u.txn.prev_reply_ns = prev_reply;
	strcpy(ev.u.txn.reply_code, "250");
	corr_event(c, &ev);
	return ev.u.txn.id;
}

/*
 * A mirror port: host A's PTR lookup of client C goes unanswered while C
 * waits on host B's DATA-END (its content filter, no lookup).  B's wait is
 * "no network cause", never A's lookup; A's greeting gets it.  With the
 * hosts given and learned.
 */
static void
mirror_case(void)
{
	struct mx_session a, b;
	session(&a, "198.51.100.7", "192.0.2.10");
	session(&b, "198.51.100.7", "192.0.2.11");
	b.client.port = 40001;
	uint64_t q = dns("192.0.2.10", "198.51.100.53", "7.100.51.198.in-addr.arpa", 12,
			 T0 + MS(1), 0, MXD_UNANSWERED, NULL);
	ident("192.0.2.10", "198.51.100.7", T0 + S(5), T0 + S(7), MXI_UNANSWERED);
	uint64_t ta = txn(&a, "GREETING", T0, T0 + S(10));
	uint64_t tb = txn(&b, "DATA-END", T0 + S(1), T0 + S(6));
	corr_finish(c);
	const struct mx_cause *k = cause_for(ta, MXR_CLIENT_PTR);
	cr_assert_not_null(k);
	cr_expect_eq(k->dns_id, q);
	cr_expect_not_null(cause_for(ta, MXR_IDENT));
	cr_expect_eq(ncauses_for(tb), 1);
	cr_expect_not_null(cause_for(tb, MXR_NONE), "B's filter: no network cause");
	for (int i = 0; i < lg.ndiag; i++)
		if (lg.diag[i].txn_id == tb)
			cr_expect(strstr(lg.diag[i].diagnosis, "no network cause") != NULL, "%s",
				  lg.diag[i].diagnosis);
}

Test(correlate, mirror_other_hosts_lookups_are_never_blamed_given)
{
	char err[64];
	cr_assert_eq(hosts_add_spec(H, "192.0.2.10", err, sizeof(err)), 0);
	cr_assert_eq(hosts_add_spec(H, "192.0.2.11", err, sizeof(err)), 0);
	mirror_case();
}

Test(correlate, mirror_other_hosts_lookups_are_never_blamed_learned)
{
	learned_host_facts("192.0.2.10", "198.51.100.7");
	struct mx_addr cl = A("198.51.100.7"), b = A("192.0.2.11");
	hosts_saw_connect(H, &cl, &b, true);
	hosts_saw_served(H, &cl, &b);
	struct mx_addr ha = A("192.0.2.10");
	cr_assert(hosts_is_host(H, &ha) && hosts_is_host(H, &b) && !hosts_is_host(H, &cl));
	mirror_case();
}

/*
 * A lookup the server stopped waiting for delays no later reply: the PTR
 * lookup went unanswered for 3 s, the server sent its greeting after it,
 * then held DATA-END for 2 s with no lookup running.
 */
Test(correlate, a_lookup_does_not_outlive_the_reply_after_it)
{
	struct mx_session s;
	session(&s, "192.0.2.200", "192.0.2.10");
	hosts_add(H, &s.server.addr);
	uint64_t q = dns("192.0.2.10", "198.51.100.53", "200.2.0.192.in-addr.arpa", 12,
			 T0 + MS(1), 0, MXD_UNANSWERED, NULL);
	uint64_t g = txn_after(&s, "GREETING", T0, T0 + S(3), 0);
	uint64_t d = txn_after(&s, "DATA-END", T0 + S(8), T0 + S(10), T0 + S(7) + MS(900));
	corr_finish(c);
	cr_expect_eq(cause_for(g, MXR_CLIENT_PTR)->dns_id, q);
	cr_expect_null(cause_for(d, MXR_CLIENT_PTR), "the server replied after the lookup's last send");
	cr_expect_not_null(cause_for(d, MXR_NONE));
	/* re-sent after the reply: the server was still waiting for it */
	memset(&lg, 0, sizeof(lg));
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DNS;
	ev.u.dns.id = ++ids.dns;
	ev.u.dns.ts_ns = T0 + S(20);
	ev.u.dns.last_send_ns = T0 + S(25);
	ev.u.dns.client.addr = A("192.0.2.10");
	ev.u.dns.server.addr = A("198.51.100.53");
	strcpy(ev.u.dns.qname, "200.2.0.192.in-addr.arpa");
	ev.u.dns.qtype = 12;
	ev.u.dns.outcome = MXD_UNANSWERED;
	corr_event(c, &ev);
	uint64_t r = txn_after(&s, "RCPT", T0 + S(26), T0 + S(28), T0 + S(22));
	corr_finish(c);
	cr_expect_not_null(cause_for(r, MXR_CLIENT_PTR));
}

/*
 * The host's IPv4 address looks up the reverse name of a client connected
 * only to its IPv6 address: both are one machine, so the IPv4 lookups
 * count for the IPv6 sessions.  On a mirror, a client talking to two hosts
 * merges nothing.
 */
Test(correlate, host_addresses_found_to_be_one_machine)
{
	learned_host_facts("192.0.2.10", "198.51.100.9");
	struct mx_addr h6 = A("2001:db8::10"), h4 = A("192.0.2.10");
	struct mx_endpoint x6 = {A("2001:db8::77"), 40000}, s6 = {h6, 25};
	corr_conn_open(c, &x6, &s6, T0);
	struct mx_session s;
	session(&s, "2001:db8::77", "2001:db8::10");
	strcpy(s.sender_domain, "slow.example");
	char arpa[80];
	corr_arpa_name(&x6.addr, arpa, sizeof(arpa));
	dns("192.0.2.10", "198.51.100.53", arpa, 12, T0 + MS(1), T0 + MS(3), MXD_NXDOMAIN, NULL);
	cr_expect(hosts_same_machine(H, &h4, &h6));
	cr_expect_eq(corr_stats(c)->machines_merged, 1);
	uint64_t q = dns("192.0.2.10", "198.51.100.53", "slow.example", 15, T0 + S(5), 0,
			 MXD_UNANSWERED, NULL);
	uint64_t t = txn(&s, "MAIL", T0 + S(5), T0 + S(9));
	corr_finish(c);
	const struct mx_cause *k = cause_for(t, MXR_SENDER_DOMAIN);
	cr_assert_not_null(k);
	cr_expect_eq(k->dns_id, q);

	/* a client connected to two hosts: the lookup is each host's own business */
	learned_host_facts("192.0.2.20", "198.51.100.8");
	struct mx_endpoint cl = {A("198.51.100.8"), 40000}, a = {A("192.0.2.20"), 25},
			   b = {A("192.0.2.21"), 25};
	corr_conn_open(c, &cl, &a, T0 + S(100));
	corr_conn_open(c, &cl, &b, T0 + S(100));
	dns("192.0.2.20", "198.51.100.53", "8.100.51.198.in-addr.arpa", 12, T0 + S(100) + MS(1),
	    T0 + S(101), MXD_NXDOMAIN, NULL);
	cr_expect(!hosts_same_machine(H, &a.addr, &b.addr));
	cr_expect_eq(corr_stats(c)->machines_merged, 1);
}

/*
 * A resolver that is another machine on the mirror: its own queries are
 * the upstream hops of the host's query to it, and nobody else's.
 */
Test(correlate, upstream_hops_of_a_resolver_on_the_wire)
{
	char err[64];
	cr_assert_eq(hosts_add_spec(H, "192.0.2.10", err, sizeof(err)), 0);
	cr_assert_eq(hosts_add_spec(H, "192.0.2.11", err, sizeof(err)), 0);
	struct mx_session a, b;
	session(&a, "198.51.100.7", "192.0.2.10");
	session(&b, "198.51.100.7", "192.0.2.11");
	/* what the dispatcher tells the host model as the queries go by */
	struct mx_addr res = A("192.0.2.53");
	hosts_saw_query(H, &a.server.addr, &res);
	const char *name = "7.100.51.198.in-addr.arpa";
	uint64_t l = dns("192.0.2.10", "192.0.2.53", name, 12, T0 + MS(1), T0 + S(8), MXD_SERVFAIL,
			 NULL);
	uint64_t u1 = dns("192.0.2.53", "192.175.48.6", name, 12, T0 + MS(2), 0, MXD_UNANSWERED,
			  NULL);
	dns("192.0.2.53", "192.175.48.42", "100.51.198.in-addr.arpa", 2, T0 + S(2), 0,
	    MXD_UNANSWERED, NULL);
	/* the resolver's work for someone else: not a hop of anything here */
	dns("192.0.2.53", "203.0.113.1", "www.example.org", 1, T0 + S(1), 0, MXD_UNANSWERED, NULL);
	uint64_t ta = txn(&a, "GREETING", T0, T0 + S(8) + MS(5));
	uint64_t tb = txn(&b, "RCPT", T0 + S(1), T0 + S(4));
	corr_finish(c);
	const struct mx_cause *top = cause_for(ta, MXR_CLIENT_PTR);
	cr_assert_not_null(top);
	cr_expect_eq(top->dns_id, l);
	int ups = 0;
	for (int i = 0; i < lg.ncauses; i++) {
		if (lg.causes[i].txn_id != ta || lg.causes[i].relation != MXR_UPSTREAM)
			continue;
		ups++;
		cr_expect_eq(lg.causes[i].parent_id, top->id);
	}
	cr_expect_eq(ups, 2);
	cr_expect_eq(cause_for(ta, MXR_UPSTREAM)->dns_id, u1);
	cr_expect_eq(ncauses_for(tb), 1);
	cr_expect_not_null(cause_for(tb, MXR_NONE));
}

/*
 * Inside TLS (issue 18): a domain lookup tied to an encrypted wait by
 * timing (MX_OWNER_TIMING) gets the relation of the guessed command; tied
 * to another session it is not a cause; tied to none it is named in a
 * diagnosis that says why it could not be tied.
 */
static uint64_t
tls_txn(const struct mx_session *s, const char *guess, uint64_t req, uint64_t rep)
{
	return txn_g(s, "TLS", guess, "", req, rep);
}

/* an unanswered lookup of the host 192.0.2.10, made for owner */
static void
owned_dns(const char *qname, uint16_t qtype, uint64_t ts, uint64_t owner)
{
	dns_o("192.0.2.10", "198.51.100.53", qname, qtype, ts, 0, MXD_UNANSWERED, NULL, owner);
}

Test(correlate, inside_tls_a_lookup_tied_by_timing)
{
	struct mx_session a, b, x;
	session(&a, "192.0.2.60", "192.0.2.10");
	session(&b, "192.0.2.61", "192.0.2.10");
	session(&x, "192.0.2.62", "192.0.2.10");
	hosts_add(H, &a.server.addr);
	owned_dns("slow.example", 15 /* MX */, T0 + MS(1), a.id | MX_OWNER_TIMING);
	owned_dns("spf.slow.example", 16 /* TXT */, T0 + S(2), a.id | MX_OWNER_TIMING);
	owned_dns("other.example", 15, T0 + MS(3), b.id | MX_OWNER_TIMING);
	owned_dns("nobody.example", 1, T0 + S(10) + MS(1), 0);
	uint64_t ta = tls_txn(&a, "MAIL", T0, T0 + S(4));
	uint64_t tb = tls_txn(&b, "RCPT", T0, T0 + S(4));
	uint64_t tx = tls_txn(&x, "MAIL", T0 + S(10), T0 + S(13));
	corr_finish(c);
	cr_expect_not_null(cause_for(ta, MXR_SENDER_DOMAIN));
	cr_expect_not_null(cause_for(ta, MXR_SPF));
	cr_expect_null(cause_for(ta, MXR_RECIPIENT_DOMAIN), "b's lookup is not a's cause");
	cr_expect_not_null(cause_for(tb, MXR_RECIPIENT_DOMAIN));
	cr_expect_eq(ncauses_for(tb), 1);
	cr_expect_not_null(cause_for(tx, MXR_NONE));
	bool said = false;
	for (int i = 0; i < lg.ndiag; i++)
		if (lg.diag[i].txn_id == tx)
			said = strstr(lg.diag[i].diagnosis, "inside TLS") &&
			       strstr(lg.diag[i].diagnosis, "nobody.example");
	cr_expect(said, "the untied lookup is named and why it is not tied is said");
}

/* ---- big messages (issue 17) ---------------------------------------------------- */

/* a message's progress as the SMTP parser reports it */
static void
xfer(const struct mx_session *s, uint64_t start, uint64_t ts, uint64_t bytes, bool done)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_TRANSFER;
	ev.session = s;
	ev.u.xfer.session_id = s->id;
	ev.u.xfer.client = s->client;
	ev.u.xfer.server = s->server;
	ev.u.xfer.start_ns = start;
	ev.u.xfer.ts_ns = ts;
	ev.u.xfer.bytes = bytes;
	ev.u.xfer.done = done;
	corr_event(c, &ev);
}

static const struct mx_cause *
kind_for(uint64_t txn_id, enum mx_cause_kind kind)
{
	for (int i = 0; i < lg.ncauses; i++)
		if (lg.causes[i].txn_id == txn_id && lg.causes[i].kind == kind)
			return &lg.causes[i];
	return NULL;
}

Test(correlate, big_message_on_the_host_is_named_not_none)
{
	struct mx_session large, small, later;
	session(&large, "192.0.2.200", "192.0.2.10");
	session(&small, "192.0.2.201", "192.0.2.10");
	session(&later, "192.0.2.202", "192.0.2.10");
	hosts_add(H, &large.server.addr);
	int passed = lg.passed;
	/* 30 MB from .200 between T0+1 s and T0+7 s, in steps */
	for (int i = 1; i <= 30; i++)
		xfer(&large, T0 + S(1), T0 + S(1) + MS(200) * (uint64_t)i, (uint64_t)i * 1000000,
		     i == 30);
	cr_expect_eq(lg.passed, passed, "transfers are the correlator's alone");
	/* .201's final dot waits 3 s meanwhile */
	uint64_t t = txn(&small, "DATA-END", T0 + S(3), T0 + S(6));
	/* the big one's own final dot waits 4 s after its last byte */
	uint64_t o = txn(&large, "DATA-END", T0 + S(7), T0 + S(11));
	/* .202's wait comes after it ended */
	uint64_t n = txn(&later, "DATA-END", T0 + S(20), T0 + S(22));
	corr_advance(c, T0 + S(60), T0 + S(60), 0);
	const struct mx_cause *k = kind_for(t, MXC_BIG_MESSAGE);
	cr_assert_not_null(k, "the big message explains .201's wait");
	cr_expect_eq(k->session_ref, large.id);
	cr_expect_float_eq(k->overlap_ms, 3000.0, 0.01);
	cr_expect_float_eq(k->share, 1.0, 1e-9);
	cr_expect_null(kind_for(t, MXC_NONE), "no none claim beside it");
	cr_expect_not_null(k->remedy);
	const struct mx_cause *own = kind_for(o, MXC_BIG_MESSAGE);
	cr_assert_not_null(own, "its own final dot: the message itself");
	cr_expect_eq(own->session_ref, large.id);
	cr_expect_not_null(kind_for(n, MXC_NONE), "nothing big on the wire later");
	cr_expect_null(kind_for(n, MXC_BIG_MESSAGE));
	bool said = false;
	for (int i = 0; i < lg.ndiag; i++)
		if (lg.diag[i].txn_id == t)
			said = strstr(lg.diag[i].diagnosis, "30.0 MB from 192.0.2.200") != NULL &&
			       strstr(lg.diag[i].remedy, "message_size_limit") != NULL;
	cr_expect(said, "the diagnosis names the message and the remedy the size limit");
}

Test(correlate, big_message_below_threshold_or_on_another_host_is_no_cause)
{
	struct mx_session small_big, other_host, waiter;
	session(&small_big, "192.0.2.200", "192.0.2.10");
	session(&other_host, "192.0.2.203", "192.0.2.11");
	session(&waiter, "192.0.2.201", "192.0.2.10");
	hosts_add(H, &small_big.server.addr);
	hosts_add(H, &other_host.server.addr);
	/* 9 MB (under the 10 MB default) to this host, 50 MB to another host */
	xfer(&small_big, T0, T0 + S(5), 9000000, true);
	xfer(&other_host, T0, T0 + S(5), 50000000, true);
	uint64_t t = txn(&waiter, "DATA-END", T0 + S(1), T0 + S(4));
	corr_advance(c, T0 + S(60), T0 + S(60), 0);
	cr_expect_null(kind_for(t, MXC_BIG_MESSAGE),
		       "neither a 9 MB message nor another host's big one");
	cr_expect_not_null(kind_for(t, MXC_NONE));
}

Test(correlate, big_message_records_are_capped_and_counted)
{
	struct corr_cfg cfg = {.max_xfers = 4};
	corr_free(c);
	c = corr_with(&cfg, collect, &lg);
	struct mx_session s[6], w;
	for (int i = 0; i < 6; i++) {
		char cli[32];
		snprintf(cli, sizeof(cli), "192.0.2.%d", 100 + i);
		session(&s[i], cli, "192.0.2.10");
		hosts_add(H, &s[i].server.addr);
		/* six big messages in flight at once: two are forced out */
		xfer(&s[i], T0, T0 + S(1), 20000000, false);
	}
	session(&w, "192.0.2.201", "192.0.2.10");
	uint64_t t = txn(&w, "DATA-END", T0 + S(2), T0 + S(5));
	corr_advance(c, T0 + S(60), T0 + S(60), T0 + S(2));
	cr_expect_eq(corr_stats(c)->dropped_xfers, 2);
	/* what it knows is named; it says its evidence was not all kept */
	cr_expect_not_null(kind_for(t, MXC_BIG_MESSAGE));
	bool said = false;
	for (int i = 0; i < lg.ndiag; i++)
		if (lg.diag[i].txn_id == t)
			said = strstr(lg.diag[i].diagnosis, "big messages were") != NULL;
	cr_expect(said);
}

Test(correlate, big_pop3_retrieval_is_named_as_sent_by_the_host)
{
	struct mx_session pop, waiter;
	session(&pop, "192.0.2.50", "192.0.2.10");
	pop.proto = MXP_POP3;
	pop.server.port = 110;
	session(&waiter, "192.0.2.201", "192.0.2.10");
	hosts_add(H, &pop.server.addr);
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_TRANSFER;
	ev.session = &pop;
	ev.u.xfer.session_id = pop.id;
	ev.u.xfer.client = pop.client;
	ev.u.xfer.server = pop.server;
	ev.u.xfer.to_client = true;
	ev.u.xfer.start_ns = T0;
	ev.u.xfer.ts_ns = T0 + S(6);
	ev.u.xfer.bytes = 25000000;
	ev.u.xfer.done = true;
	corr_event(c, &ev);
	uint64_t t = txn(&waiter, "DATA-END", T0 + S(2), T0 + S(4));
	/* after the retrieval's end: nothing big any more */
	uint64_t u = txn(&waiter, "QUIT", T0 + S(8), T0 + S(10));
	corr_advance(c, T0 + S(60), T0 + S(60), 0);
	const struct mx_cause *k = kind_for(t, MXC_BIG_MESSAGE);
	cr_assert_not_null(k);
	cr_expect_eq(k->session_ref, pop.id);
	cr_expect_null(kind_for(u, MXC_BIG_MESSAGE), "a retrieval ends with its last byte");
	bool said = false;
	for (int i = 0; i < lg.ndiag; i++)
		if (lg.diag[i].txn_id == t)
			said = strstr(lg.diag[i].diagnosis, "25.0 MB to 192.0.2.50") != NULL;
	cr_expect(said);
}

/*
 * A dense window of many blocks (struct dwin): a settle pass passes over a
 * block only when nothing in it is the wait's.  Three blocks hold what is:
 * the session's own lookup among 63 of other sessions (found by the
 * block's owner bits), the three longest unrelated lookups among short
 * ones (by its longest unowned lifetime), and a lookup of the sender
 * domain among short unrelated ones (by its names' signatures).  The
 * blocks before each fill the unrelated ones kept, first with short
 * overlaps, then with the three long ones, so that only its own mark
 * keeps each of the three blocks from being passed over.  The unrelated
 * ones show in the diagnosis of a wait that has no related lookup.
 */
Test(correlate, dense_window_blocks_are_passed_over_only_without_the_wait_s_records)
{
	struct mx_session s;
	named_session(&s);
	const char *h = "192.0.2.10", *r = "198.51.100.53";
	char name[64];
	int k = 0; /* records added: record k is in block k / 64 */
	/* blocks 0-1: short unrelated lookups of the host */
	for (; k < 128; k++) {
		snprintf(name, sizeof(name), "n%d.other.example", k);
		dns(h, r, name, 1, T0 + MS(100 + k), T0 + MS(105 + k), MXD_ANSWERED, "203.0.113.1");
	}
	/* block 2: other sessions' long lookups, and the session's own PTR */
	uint64_t own = 0;
	for (; k < 192; k++) {
		if (k == 170) {
			own = dns_o(h, r, "200.2.0.192.in-addr.arpa", 12, T0 + MS(300),
				    T0 + S(10), MXD_ANSWERED, "ptr.client.example", s.id);
			continue;
		}
		snprintf(name, sizeof(name), "%d.113.0.203.in-addr.arpa", k);
		dns_o(h, r, name, 12, T0 + MS(200 + k), T0 + S(20), MXD_ANSWERED, "x.example",
		      1000 + k);
	}
	/* block 3: short unrelated ones and the three longest unrelated lookups */
	for (; k < 256; k++) {
		snprintf(name, sizeof(name), "m%d.other.example", k);
		if (k == 230)
			dns(h, r, "long.unrelated.example", 1, T0 + MS(400), T0 + S(25),
			    MXD_ANSWERED, "203.0.113.2");
		else if (k == 231 || k == 232)
			dns(h, r, k == 231 ? "long2.unrelated.example" : "long3.unrelated.example",
			    1, T0 + MS(400 + k), T0 + S(24), MXD_ANSWERED, "203.0.113.2");
		else
			dns(h, r, name, 1, T0 + MS(400 + k), T0 + MS(404 + k), MXD_ANSWERED,
			    "203.0.113.1");
	}
	/* block 4: short unrelated ones and the sender domain's MX */
	uint64_t sd = 0;
	for (; k < 320; k++) {
		snprintf(name, sizeof(name), "p%d.other.example", k);
		if (k == 300) /* shorter than the three long ones kept by then */
			sd = dns(h, r, "slow.example", 15, T0 + MS(500 + k), T0 + S(3),
				 MXD_ANSWERED, "10 mx.slow.example");
		else
			dns(h, r, name, 1, T0 + MS(500 + k), T0 + MS(502 + k), MXD_ANSWERED,
			    "203.0.113.1");
	}
	struct mx_session s2;
	session(&s2, "198.51.100.77", "192.0.2.10");
	uint64_t t = txn(&s, "MAIL", T0, T0 + S(30));
	uint64_t t2 = txn(&s2, "MAIL", T0, T0 + S(30));
	corr_finish(c);
	const struct mx_cause *p = cause_for(t, MXR_CLIENT_PTR);
	cr_assert_not_null(p, "the session's own PTR lookup");
	cr_expect_eq(p->dns_id, own);
	p = cause_for(t, MXR_SENDER_DOMAIN);
	cr_assert_not_null(p, "the sender domain's MX");
	cr_expect_eq(p->dns_id, sd);
	/* another client's wait over the same window has no related lookup:
	   its diagnosis names the longest unrelated one */
	const struct mx_diagnosis *d2 = NULL;
	for (int i = 0; i < lg.ndiag; i++)
		if (lg.diag[i].txn_id == t2)
			d2 = &lg.diag[i];
	cr_assert_not_null(d2);
	cr_expect_not_null(cause_for(t2, MXR_NONE));
	cr_expect(strstr(d2->diagnosis, "unrelated lookup A long.unrelated.example") != NULL, "%s",
		  d2->diagnosis);
}
