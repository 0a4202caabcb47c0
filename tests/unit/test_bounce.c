/*
 * test_bounce.c - which outbound deliveries bounce recent inbound mail
 * (analyze/bounce.c), directly and through the correlator; caps and the
 * window.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/bounce.h"
#include "analyze/correlate.h"

#define S(x) ((uint64_t)(x) * 1000000000ULL)
#define T0 S(1700000000)

static struct hosts *H;
static struct bounce *B;

static struct mx_addr
A(const char *s)
{
	struct mx_addr a;
	cr_assert(mx_addr_parse(s, &a), "bad address %s", s);
	return a;
}

static bool
addr_is(const struct mx_addr *a, const char *s)
{
	struct mx_addr b = A(s);
	return mx_addr_eq(a, &b);
}

static void
setup(void)
{
	H = hosts_new();
	cr_assert_not_null(H);
	char err[128];
	cr_assert_eq(hosts_add_spec(H, "192.0.2.25,2001:db8::25", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(hosts_add_spec(H, "192.0.2.26", err, sizeof(err)), 0, "%s", err);
	B = bounce_new(NULL, H);
	cr_assert_not_null(B);
}

static void
teardown(void)
{
	bounce_free(B);
	hosts_free(H);
}

/* an inbound session of client to host, sender domain dom, id sid */
static void
inbound(struct mx_session *s, const char *client, const char *host, const char *dom, uint64_t sid)
{
	memset(s, 0, sizeof(*s));
	s->id = sid;
	s->proto = MXP_SMTP;
	s->client.addr = A(client);
	s->server.addr = A(host);
	s->server.port = 25;
	mx_strlcpy(s->sender_domain, dom, sizeof(s->sender_domain));
}

static void
mail(const struct mx_session *s, const char *code, uint64_t ts)
{
	struct mx_txn t;
	memset(&t, 0, sizeof(t));
	t.session_id = s->id;
	mx_strlcpy(t.command, "MAIL", sizeof(t.command));
	mx_strlcpy(t.reply_code, code, sizeof(t.reply_code));
	t.request_ns = ts;
	t.reply_ns = ts + 1000;
	bounce_txn(B, s, &t);
}

static void
dns(struct mx_dns *q, const char *client, const char *qname, uint16_t qtype, const char *answers,
    uint64_t ts)
{
	memset(q, 0, sizeof(*q));
	q->client.addr = A(client);
	q->server.addr = A("192.0.2.53");
	mx_strlcpy(q->qname, qname, sizeof(q->qname));
	q->qtype = qtype;
	q->outcome = MXD_ANSWERED;
	mx_strlcpy(q->answers, answers, sizeof(q->answers));
	q->ts_ns = ts;
	q->response_ns = ts + 1000;
}

static void
learn(const char *client, const char *qname, uint16_t qtype, const char *answers, uint64_t ts)
{
	struct mx_dns q;
	dns(&q, client, qname, qtype, answers, ts);
	bounce_dns(B, &q);
}

/* the MX lookup of domain had no data: mail for it goes to its own address */
static void
nomx(const char *client, const char *domain, uint64_t ts)
{
	struct mx_dns q;
	dns(&q, client, domain, 15, "", ts);
	q.outcome = MXD_NODATA;
	bounce_dns(B, &q);
}

/* an outbound delivery attempt of host to server at ts */
static void
outbound(struct mx_session *s, const char *host, const char *server, uint64_t ts)
{
	memset(s, 0, sizeof(*s));
	s->id = 999;
	s->proto = MXP_SMTP;
	s->client.addr = A(host);
	s->server.addr = A(server);
	s->server.port = 25;
	s->outbound = true;
	s->client_is_host = true;
	s->syn_ns = ts;
	s->start_ns = ts;
	s->end_ns = ts + S(30);
	s->outcome = MXO_UNANSWERED;
}

TestSuite(bounce, .init = setup, .fini = teardown);

Test(bounce, delivery_to_the_mx_of_a_recent_sender_domain_is_a_bounce)
{
	struct mx_session in, out;
	inbound(&in, "198.51.100.7", "192.0.2.25", "Forged.Example", 41);
	mail(&in, "250", T0);
	learn("192.0.2.25", "forged.example", 15, "10 MX1.forged.example.,20 mx2.forged.example",
	      T0 + S(2));
	learn("192.0.2.25", "mx2.forged.example", 1, "203.0.113.9", T0 + S(3));
	outbound(&out, "192.0.2.25", "203.0.113.9", T0 + S(4));
	cr_assert(bounce_mark(B, &out));
	cr_expect_str_eq(out.bounce_domain, "forged.example");
	cr_expect(addr_is(&out.bounce_origin, "198.51.100.7"));
	cr_expect_eq(out.bounce_session_id, 41);
	cr_expect_eq(bounce_stats(B)->marked, 1);
}

Test(bounce, the_other_address_of_the_same_machine_delivers)
{
	struct mx_session in, out;
	inbound(&in, "198.51.100.7", "2001:db8::25", "forged.example", 41);
	mail(&in, "250", T0);
	learn("192.0.2.25", "forged.example", 15, "10 mx.forged.example", T0 + S(2));
	learn("192.0.2.25", "mx.forged.example", 28, "2001:db8:f::9", T0 + S(3));
	outbound(&out, "192.0.2.25", "2001:db8:f::9", T0 + S(4));
	cr_expect(bounce_mark(B, &out));
	/* another host (a machine of its own) did not get that inbound mail */
	outbound(&out, "192.0.2.26", "2001:db8:f::9", T0 + S(4));
	cr_expect_not(bounce_mark(B, &out));
}

Test(bounce, implicit_mx_counts)
{
	struct mx_session in, out;
	inbound(&in, "198.51.100.7", "192.0.2.25", "nomx.example", 5);
	mail(&in, "250", T0);
	/* an A answer of a name not known as a mail destination is not kept */
	learn("192.0.2.25", "nomx.example", 1, "203.0.113.10", T0 + S(1));
	cr_expect_eq(bounce_stats(B)->addrs, 0);
	/* the MX lookup has no data: the domain is its own MX host */
	nomx("192.0.2.25", "nomx.example", T0 + S(1));
	learn("192.0.2.25", "nomx.example", 1, "203.0.113.10", T0 + S(1));
	cr_expect_eq(bounce_stats(B)->addrs, 1);
	outbound(&out, "192.0.2.25", "203.0.113.10", T0 + S(2));
	cr_assert(bounce_mark(B, &out));
	cr_expect_str_eq(out.bounce_domain, "nomx.example");
}

Test(bounce, null_sender_to_a_recent_sender_domain)
{
	struct mx_session in, out;
	inbound(&in, "198.51.100.7", "192.0.2.25", "forged.example", 5);
	mail(&in, "250", T0);
	outbound(&out, "192.0.2.25", "203.0.113.77", T0 + S(2));
	out.outcome = MXO_OK;
	mx_strlcpy(out.rcpt_domains[0], "Forged.Example", sizeof(out.rcpt_domains[0]));
	out.n_rcpt_domains = 1;
	cr_expect_not(bounce_mark(B, &out), "not a null sender: an ordinary delivery");
	out.null_sender = true;
	cr_assert(bounce_mark(B, &out));
	cr_expect_str_eq(out.bounce_domain, "forged.example");
}

Test(bounce, what_is_not_a_bounce)
{
	struct mx_session in, out;
	/* MAIL refused: nothing accepted, nothing to bounce */
	inbound(&in, "198.51.100.7", "192.0.2.25", "refused.example", 5);
	mail(&in, "550", T0);
	learn("192.0.2.25", "refused.example", 15, "10 mx.refused.example", T0);
	learn("192.0.2.25", "mx.refused.example", 1, "203.0.113.11", T0);
	outbound(&out, "192.0.2.25", "203.0.113.11", T0 + S(2));
	cr_expect_not(bounce_mark(B, &out));
	/* mail that went to another machine (no host) is not the host's to bounce */
	inbound(&in, "198.51.100.7", "198.51.100.98", "other.example", 6);
	mail(&in, "250", T0);
	learn("198.51.100.99", "other.example", 15, "10 mx.other.example", T0);
	learn("198.51.100.99", "mx.other.example", 1, "203.0.113.12", T0);
	outbound(&out, "192.0.2.25", "203.0.113.12", T0 + S(2));
	cr_expect_not(bounce_mark(B, &out));
	/* an inbound session (the host serves) is no delivery */
	outbound(&out, "192.0.2.25", "203.0.113.12", T0 + S(2));
	out.outbound = out.client_is_host = false;
	cr_expect_not(bounce_mark(B, &out));
	/* a delivery seen to give a sender of its own: a reply, not a bounce */
	inbound(&in, "198.51.100.7", "192.0.2.25", "reply.example", 8);
	mail(&in, "250", T0);
	nomx("192.0.2.25", "reply.example", T0);
	learn("192.0.2.25", "reply.example", 1, "203.0.113.16", T0);
	outbound(&out, "192.0.2.25", "203.0.113.16", T0 + S(2));
	out.outcome = MXO_OK;
	mx_strlcpy(out.sender_domain, "mail.example", sizeof(out.sender_domain));
	cr_expect_not(bounce_mark(B, &out));
	out.null_sender = true; /* a second message, MAIL FROM:<> */
	cr_expect(bounce_mark(B, &out));
	/* the inbound mail came after the delivery ended */
	inbound(&in, "198.51.100.7", "192.0.2.25", "late.example", 7);
	nomx("192.0.2.25", "late.example", T0);
	learn("192.0.2.25", "late.example", 1, "203.0.113.13", T0);
	mail(&in, "250", T0 + S(100));
	outbound(&out, "192.0.2.25", "203.0.113.13", T0 + S(2));
	cr_expect_not(bounce_mark(B, &out));
	cr_expect_eq(bounce_stats(B)->marked, 1);
}

Test(bounce, the_window_is_24_hours_of_packet_time)
{
	struct mx_session in, out;
	inbound(&in, "198.51.100.7", "192.0.2.25", "old.example", 5);
	mail(&in, "250", T0);
	nomx("192.0.2.25", "old.example", T0);
	learn("192.0.2.25", "old.example", 1, "203.0.113.14", T0);
	outbound(&out, "192.0.2.25", "203.0.113.14", T0 + S(24 * 3600 - 10));
	cr_expect(bounce_mark(B, &out));
	outbound(&out, "192.0.2.25", "203.0.113.14", T0 + S(24 * 3600 + 10));
	cr_expect_not(bounce_mark(B, &out));
}

Test(bounce, the_latest_inbound_session_is_the_origin)
{
	struct mx_session in, out;
	inbound(&in, "198.51.100.7", "192.0.2.25", "forged.example", 5);
	mail(&in, "250", T0);
	inbound(&in, "198.51.100.8", "192.0.2.25", "forged.example", 6);
	mail(&in, "250", T0 + S(1));
	nomx("192.0.2.25", "forged.example", T0 + S(1));
	learn("192.0.2.25", "forged.example", 1, "203.0.113.15", T0 + S(1));
	outbound(&out, "192.0.2.25", "203.0.113.15", T0 + S(2));
	cr_assert(bounce_mark(B, &out));
	cr_expect_eq(out.bounce_session_id, 6);
	cr_expect(addr_is(&out.bounce_origin, "198.51.100.8"));
	cr_expect_eq(bounce_stats(B)->senders, 1);
}

/* a hostile flood of distinct sender domains and MX answers stays at the caps */
Test(bounce, floods_stay_at_the_caps)
{
	struct bounce_cfg cfg = {.max_senders = 1000, .max_mx = 500, .max_addrs = 700};
	bounce_free(B);
	B = bounce_new(&cfg, H);
	cr_assert_not_null(B);
	struct mx_session in, out;
	char dom[64], ans[64];
	for (int i = 0; i < 20000; i++) {
		snprintf(dom, sizeof(dom), "d%d.example", i);
		inbound(&in, "198.51.100.7", "192.0.2.25", dom, (uint64_t)i + 1);
		mail(&in, "250", T0 + (uint64_t)i);
		/* every domain shares one MX host name */
		learn("192.0.2.25", dom, 15, "10 mx.shared.example", T0 + (uint64_t)i);
		snprintf(ans, sizeof(ans), "203.0.%d.%d", (i >> 8) & 255, i & 255);
		learn("192.0.2.25", "mx.shared.example", 1, ans, T0 + (uint64_t)i);
		inbound(&in, "198.51.100.7", "192.0.2.25", "", 0);
		in.null_sender = true;
		mail(&in, "250", T0 + (uint64_t)i); /* null senders are no senders */
	}
	const struct bounce_stats *st = bounce_stats(B);
	cr_expect_eq(st->senders, 1000);
	cr_expect_eq(st->mx, 500);
	cr_expect_eq(st->addrs, 700);
	cr_expect_eq(st->senders_out, 19000);
	cr_expect_eq(st->mx_out, 19500);
	cr_expect_eq(st->addrs_out, 19300);
	/* the newest still match: the most recent inbound domain wins */
	outbound(&out, "192.0.2.25", "203.0.78.31", T0 + S(1)); /* i = 19999 */
	cr_assert(bounce_mark(B, &out));
	cr_expect_str_eq(out.bounce_domain, "d19999.example");
	/* the forgotten do not */
	outbound(&out, "192.0.2.25", "203.0.0.1", T0 + S(1));
	cr_expect_not(bounce_mark(B, &out));
}

/* ---- through the correlator ------------------------------------------------------- */

struct seen {
	int sessions, marked;
	struct mx_session last;
};

static void
collect(void *ctx, const struct mx_event *ev)
{
	struct seen *s = ctx;
	if (ev->type != EV_SESSION)
		return;
	s->sessions++;
	s->last = ev->u.session;
	s->marked += ev->u.session.bounce_domain[0] != '\0';
}

Test(bounce, the_correlator_annotates_the_delivery_it_passes_on)
{
	struct seen seen;
	memset(&seen, 0, sizeof(seen));
	struct mx_ids ids;
	memset(&ids, 0, sizeof(ids));
	struct mx_sink sink = {collect, &seen, &ids};
	struct corr *c = corr_new(NULL, H, &sink);
	cr_assert_not_null(c);

	struct mx_event *ev = calloc(1, sizeof(*ev));
	cr_assert_not_null(ev);
	struct mx_session in;
	inbound(&in, "198.51.100.7", "192.0.2.25", "forged.example", 41);
	ev->type = EV_TXN;
	ev->session = &in;
	ev->u.txn.session_id = 41;
	mx_strlcpy(ev->u.txn.command, "MAIL", sizeof(ev->u.txn.command));
	mx_strlcpy(ev->u.txn.reply_code, "250", sizeof(ev->u.txn.reply_code));
	ev->u.txn.request_ns = T0;
	ev->u.txn.reply_ns = T0 + 1000;
	corr_event(c, ev);
	memset(ev, 0, sizeof(*ev));
	ev->type = EV_SESSION;
	ev->u.session = in;
	corr_event(c, ev);
	cr_expect_eq(seen.sessions, 1);
	cr_expect_eq(seen.marked, 0, "the inbound session itself is no bounce");

	memset(ev, 0, sizeof(*ev));
	ev->type = EV_DNS;
	dns(&ev->u.dns, "192.0.2.25", "forged.example", 15, "10 mx.forged.example", T0 + S(1));
	corr_event(c, ev);
	dns(&ev->u.dns, "192.0.2.25", "mx.forged.example", 1, "203.0.113.9", T0 + S(1));
	corr_event(c, ev);

	memset(ev, 0, sizeof(*ev));
	ev->type = EV_SESSION;
	outbound(&ev->u.session, "192.0.2.25", "203.0.113.9", T0 + S(2));
	corr_event(c, ev);
	cr_expect_eq(seen.sessions, 2);
	cr_expect_eq(seen.marked, 1);
	cr_expect_str_eq(seen.last.bounce_domain, "forged.example");
	cr_expect_eq(seen.last.bounce_session_id, 41);
	cr_expect_str_eq(ev->u.session.bounce_domain, "", "the caller's event is not changed");

	/* an ordinary delivery passes unchanged */
	outbound(&ev->u.session, "192.0.2.25", "203.0.113.200", T0 + S(3));
	corr_event(c, ev);
	cr_expect_eq(seen.sessions, 3);
	cr_expect_eq(seen.marked, 1);
	cr_expect_eq(corr_bounce_stats(c)->marked, 1);
	free(ev);
	corr_free(c);
}
