/*
 * scenarios.c - the incident scenarios of mxlag-gen (DESIGN.md, "The
 * incidents it exists for"), each a small capture with a known truth.
 *
 * Mail host 192.0.2.10 / 2001:db8::10 "mail.example.test", resolver
 * 198.51.100.53 unless a scenario says otherwise.  Every slow reply's
 * latency follows from the timestamps chosen here and is recorded in the
 * truth by sess_reply_at() itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bounce_storm.h"
#include "dnsmsg.h"
#include "gen.h"

#define T0 (GEN_EPOCH_NS + SEC(1))
#define LAN_RTT US(200)

static const char *const RCPT_LOCAL = "postmaster@mail.example.test";

/* ---- small building blocks ------------------------------------------------- */

static int
dns_simple(struct gen *g, uint64_t *t, const char *qname, uint16_t qtype, int rcode,
           uint64_t answer_ns, const char *answer)
{
	struct dns_spec d = {.qname = qname,
	                     .qtype = qtype,
	                     .tries = 1,
	                     .retry_ns = SEC(5),
	                     .rcode = rcode,
	                     .answer_ns = answer_ns,
	                     .answer = answer};
	return gen_dns(g, t, &d);
}

static int
dns_unanswered(struct gen *g, uint64_t *t, const char *qname, uint16_t qtype, int tries,
               uint64_t retry_ns, int new_id)
{
	struct dns_spec d = {.qname = qname,
	                     .qtype = qtype,
	                     .tries = tries,
	                     .retry_ns = retry_ns,
	                     .new_id = new_id,
	                     .rcode = -1};
	return gen_dns(g, t, &d);
}

/* PTR of the client answered quickly, then the forward lookup of the name
 * (exim's host_lookup with its forward check). */
static void
fast_ptr(struct gen *g, uint64_t *t, const struct pw_addr *cli, int idx)
{
	char ptr[96], name[64], ip[48];

	pw_addr_ptrname(cli, ptr, sizeof(ptr));
	pw_addr_fmt(cli, ip, sizeof(ip));
	snprintf(name, sizeof(name), "host%d.example.net", idx);
	dns_simple(g, t, ptr, DNS_T_PTR, DNS_R_NOERROR, US(prng_range(&g->rng, 900, 2500)), name);
	*t += US(60);
	dns_simple(g, t, name, cli->v6 ? DNS_T_AAAA : DNS_T_A, DNS_R_NOERROR,
	           US(prng_range(&g->rng, 700, 2000)), ip);
	*t += US(80);
}

static struct pw_addr
client_n(int n)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "192.0.2.%d", n);
	return pw_ip(buf);
}

/* A plain, quick message transaction and QUIT. */
static void
quick_mail(struct sess *s, size_t body)
{
	smtp_transaction(s, "alice@example.org", RCPT_LOCAL, body, MS(2));
	smtp_quit(s);
}

/* ---- 1, 2: client PTR ---------------------------------------------------------- */

static void
sc_ptr_timeout(struct gen *g)
{
	struct pw_addr cli = client_n(200);
	struct sess s;
	char ptr[96];
	uint64_t t;
	int q;

	pw_addr_ptrname(&cli, ptr, sizeof(ptr));
	sess_open(&s, g, "smtp", &cli, 40112, &g->host, 25, T0, LAN_RTT, 0);
	t = s.req_t + US(500);
	q = dns_unanswered(g, &t, ptr, DNS_T_PTR, 3, SEC(5), 0);
	truth_cause_dns(smtp_greeting_ehlo(&s, s.req_t + SEC(30), "client.example.org"), q,
	                "client-ptr");
	quick_mail(&s, 1800);
}

static void
sc_ptr_fixed(struct gen *g)
{
	struct pw_addr cli = client_n(200);
	struct sess s;
	char ptr[96];
	uint64_t t;

	pw_addr_ptrname(&cli, ptr, sizeof(ptr));
	sess_open(&s, g, "smtp", &cli, 40112, &g->host, 25, T0, LAN_RTT, 0);
	t = s.req_t + US(500);
	dns_simple(g, &t, ptr, DNS_T_PTR, DNS_R_NXDOMAIN, MS(3), NULL);
	smtp_greeting_ehlo(&s, t + US(300), "client.example.org");
	quick_mail(&s, 1800);
}

/* ---- 3: POP3 behind tcpserver: self PTR, client PTR, ident ------------------------- */

static void
sc_pop3_self_ptr(struct gen *g)
{
	struct pw_addr cli = client_n(200);
	struct sess s;
	char self[96], ptr[96];
	uint64_t t, greet;
	int qs, qc, id;
	struct truth_slow *sl;

	pw_addr_ptrname(&g->host, self, sizeof(self));
	pw_addr_ptrname(&cli, ptr, sizeof(ptr));
	sess_open(&s, g, "pop3", &cli, 40113, &g->host, 110, T0, LAN_RTT, 0);
	greet = s.req_t + SEC(120);
	t = s.req_t + US(800);
	/* tcpserver's own address: two tries, new ids, ~75 s */
	qs = dns_unanswered(g, &t, self, DNS_T_PTR, 2, SEC(37) + MS(500), 1);
	/* the client: SERVFAIL after 15 s */
	t += US(200);
	qc = dns_simple(g, &t, ptr, DNS_T_PTR, DNS_R_SERVFAIL, SEC(15), NULL);
	/* ident: dropped by the client's firewall until the -t timeout */
	t += US(300);
	id = gen_ident(g, &t, &g->host, &cli, 40113, 110, IDENT_UNANSWERED, 3, greet - US(400) - t,
	               LAN_RTT);
	{
		static const char banner[] = "+OK <2817.1767225721@mail.example.test>\r\n";
		sl = sess_reply_at(&s, greet, "GREETING", banner, strlen(banner));
	}
	truth_cause_dns(sl, qs, "self-ptr");
	truth_cause_dns(sl, qc, "client-ptr");
	truth_cause_ident(sl, id);
	sess_cmd(&s, "USER", "USER alice\r\n", sess_fast(&s), "+OK \r\n");
	sess_cmd(&s, "PASS", "PASS s3cret\r\n", MS(3), "+OK \r\n");
	sess_cmd(&s, "STAT", "STAT\r\n", sess_fast(&s), "+OK 2 3210\r\n");
	sess_cmd(&s, "QUIT", "QUIT\r\n", sess_fast(&s), "+OK \r\n");
	sess_close(&s, 1);
	g->truth->sql_secret = "s3cret";
}

/* ---- 4: ident dropped ------------------------------------------------------------- */

static void
sc_ident_timeout(struct gen *g)
{
	struct pw_addr cli = client_n(200);
	struct sess s;
	char ptr[96];
	uint64_t t, greet;
	int id;

	pw_addr_ptrname(&cli, ptr, sizeof(ptr));
	sess_open(&s, g, "smtp", &cli, 40114, &g->host, 25, T0, LAN_RTT, 0);
	greet = s.req_t + SEC(26);
	t = s.req_t + US(700);
	/* exim: ident first (here a 26 s timeout), then a quick PTR */
	id = gen_ident(g, &t, &g->host, &cli, 40114, 25, IDENT_UNANSWERED, 3, greet - MS(2) - t,
	               LAN_RTT);
	dns_simple(g, &t, ptr, DNS_T_PTR, DNS_R_NXDOMAIN, US(300), NULL);
	truth_cause_ident(smtp_greeting_ehlo(&s, greet, "client.example.org"), id);
	quick_mail(&s, 1500);
}

/* ---- 5: sender/recipient checks ---------------------------------------------------- */

static void
sc_sender_checks(struct gen *g)
{
	struct pw_addr cli = client_n(200);
	struct sess s;
	uint64_t t;
	int mx, a, bl;
	struct truth_slow *sl;

	sess_open(&s, g, "smtp", &cli, 40115, &g->host, 25, T0, LAN_RTT, 0);
	t = s.req_t + US(400);
	fast_ptr(g, &t, &cli, 200);
	smtp_greeting_ehlo(&s, t, "client.example.org");

	sess_sendstr(&s, "MAIL FROM:<a@slow.example>\r\n");
	t = s.req_t + US(300);
	mx = dns_unanswered(g, &t, "slow.example", DNS_T_MX, 2, SEC(5), 0);
	a = dns_unanswered(g, &t, "slow.example", DNS_T_A, 2, SEC(5), 0);
	sl = sess_reply_at(&s, t + US(200), "MAIL", "250 OK\r\n", 8);
	truth_cause_dns(sl, mx, "sender-domain");
	truth_cause_dns(sl, a, "sender-domain");

	sess_sendstr(&s, "RCPT TO:<b@example.net>\r\n");
	t = s.req_t + US(300);
	bl = dns_simple(g, &t, "200.2.0.192.zen.dnsbl.example", DNS_T_A, DNS_R_NXDOMAIN, SEC(19),
	                NULL);
	sl = sess_reply_at(&s, s.req_t + SEC(19) + MS(1), "RCPT", "250 Accepted\r\n", 14);
	truth_cause_dns(sl, bl, "dnsbl");

	sess_cmd(&s, "DATA", "DATA\r\n", sess_fast(&s),
	         "354 Enter message, ending with \".\" on a line by itself\r\n");
	{
		char body[1200];
		gen_body(&g->rng, body, sizeof(body) - 3, "a@slow.example", "b@example.net");
		memcpy(body + sizeof(body) - 3, ".\r\n", 3);
		sess_send(&s, body, sizeof(body));
		if (s.tr)
			s.tr->message_bytes += (long)sizeof(body) - 3;
	}
	smtp_data_end_at(&s, s.req_t + MS(2));
	smtp_quit(&s);
}

/* ---- 6: slow end of DATA, nothing on the network ------------------------------------ */

static void
sc_slow_data(struct gen *g)
{
	struct pw_addr cli = client_n(200);
	struct sess s;
	uint64_t t;

	sess_open(&s, g, "smtp", &cli, 40116, &g->host, 25, T0, LAN_RTT, 0);
	t = s.req_t + US(400);
	fast_ptr(g, &t, &cli, 200);
	smtp_greeting_ehlo(&s, t, "client.example.org");
	truth_cause_none(smtp_transaction(&s, "alice@example.org", RCPT_LOCAL, 2600, SEC(4)));
	smtp_quit(&s);
}

/* ---- 7b: a big message on the host (issue 17) ------------------------------------------ */

static void
sc_big_message(struct gen *g)
{
	struct pw_addr a = client_n(200), b = client_n(201), c = client_n(202);
	struct sess s, t, u;

	/* 12 MB from .200, on the wire about 4 s; the host then takes 5 s
	   over the reply to its final dot */
	sess_open(&s, g, "smtp", &a, 40200, &g->host, 25, T0, LAN_RTT, 0);
	smtp_greeting_ehlo(&s, s.req_t + MS(2), "big.example.org");
	s.cli_gap = US(480);
	truth_cause_big(smtp_transaction(&s, "alice@example.org", RCPT_LOCAL, 12000000, SEC(5)));
	smtp_quit(&s);
	/* .201's small message meanwhile: its final dot waits 3 s */
	sess_open(&t, g, "smtp", &b, 40201, &g->host, 25, T0 + SEC(2), LAN_RTT, 0);
	smtp_greeting_ehlo(&t, t.req_t + MS(2), "small.example.org");
	truth_cause_big(smtp_transaction(&t, "bob@example.org", RCPT_LOCAL, 2400, SEC(3)));
	smtp_quit(&t);
	/* .202 long after: its final dot waits 2 s with nothing big on the wire */
	sess_open(&u, g, "smtp", &c, 40202, &g->host, 25, T0 + SEC(30), LAN_RTT, 0);
	smtp_greeting_ehlo(&u, u.req_t + MS(2), "late.example.org");
	truth_cause_none(smtp_transaction(&u, "carol@example.org", RCPT_LOCAL, 2400, SEC(2)));
	smtp_quit(&u);
	g->truth->sql_checks =
	    "[\"select count(*) from causes c join transactions t on t.id = c.transaction_id"
	    " join sessions s on s.id = t.session_id join sessions b on b.id = c.session_ref"
	    " where c.kind = 'big-message' and s.client = '192.0.2.201'"
	    " and b.client = '192.0.2.200' and b.max_message = 12000000\",\"=\",1],"
	    "[\"select count(*) from causes c join transactions t on t.id = c.transaction_id"
	    " where c.kind = 'big-message' and c.session_ref = t.session_id\",\"=\",1],"
	    "[\"select count(*) from causes where kind = 'big-message'\",\"=\",2],"
	    "[\"select count(*) from sessions where max_message >= 10000000\",\"=\",1],"
	    "[\"select min(big_bytes) from runs\",\"=\",10000000],"
	    "[\"select count(*) from transactions where diagnosis like '%12.0 MB from 192.0.2.200%'\","
	    "\"=\",1],"
	    "[\"select count(*) from transactions where remedy like '%message_size_limit%'\","
	    "\">=\",2]";
}

/* ---- 7: IP literal as smart host ------------------------------------------------------ */

static void
sc_ip_literal(struct gen *g)
{
	struct pw_addr cli = client_n(200);
	struct sess s;
	uint64_t t;
	int mx, a;
	struct truth_slow *sl;

	sess_open(&s, g, "smtp", &cli, 40117, &g->host, 25, T0, LAN_RTT, 0);
	t = s.req_t + US(400);
	fast_ptr(g, &t, &cli, 200);
	smtp_greeting_ehlo(&s, t, "client.example.org");
	smtp_envelope_body(&s, "alice@example.org", "carol@example.com", NULL, 1400);
	/* synchronous delivery to the "smart host" 10.11.12.13, written as a
	 * name: MX and A lookups of an IP literal */
	t = s.req_t + US(500);
	mx = dns_simple(g, &t, "10.11.12.13", DNS_T_MX, DNS_R_NXDOMAIN, MS(1500), NULL);
	t += US(300);
	a = dns_simple(g, &t, "10.11.12.13", DNS_T_A, DNS_R_NXDOMAIN, MS(1490), NULL);
	sl = smtp_data_end_at(&s, s.req_t + SEC(3));
	truth_cause_dns(sl, mx, "ip-literal");
	truth_cause_dns(sl, a, "ip-literal");
	smtp_quit(&s);
}

/* ---- 8: outbound deliveries ---------------------------------------------------------- */

static void
sc_outbound(struct gen *g)
{
	struct pw_addr dead = pw_ip("203.0.113.25"), closed = pw_ip("203.0.113.26");
	struct pw_addr good = pw_ip("203.0.113.27");
	struct sess s;

	gen_connect_unanswered(g, T0, &dead, 3);
	gen_connect_refused(g, T0 + SEC(1), &closed, MS(30));
	sess_open(&s, g, "smtp", &g->host, gen_ephemeral(g), &good, 25, T0 + SEC(2), MS(30), 1);
	smtp_greeting_ehlo(&s, s.req_t + s.rtt + MS(3), g->hostname);
	smtp_transaction(&s, "bounces@mail.example.test", "dave@remote.example", 1048576, MS(150));
	smtp_quit(&s);
}

/* ---- 9: 40 concurrent sessions, one with an unanswered PTR ------------------------------ */

static void
sc_concurrent(struct gen *g)
{
	for (int i = 0; i < 40; i++) {
		struct pw_addr cli = client_n(100 + i);
		struct sess s;
		char ptr[96], helo[64];
		uint64_t t;

		pw_addr_ptrname(&cli, ptr, sizeof(ptr));
		snprintf(helo, sizeof(helo), "ws%d.example.org", 100 + i);
		sess_open(&s, g, "smtp", &cli, (uint16_t)(41000 + i * 7), &g->host, 25,
		          T0 + MS(200) * (uint64_t)i + US(prng_range(&g->rng, 0, 900)), LAN_RTT, 0);
		t = s.req_t + US(prng_range(&g->rng, 200, 600));
		if (100 + i == 117) {
			int q = dns_unanswered(g, &t, ptr, DNS_T_PTR, 2, SEC(4), 0);
			truth_cause_dns(smtp_greeting_ehlo(&s, s.req_t + SEC(8), helo), q,
			                "client-ptr");
		} else {
			char name[64];
			snprintf(name, sizeof(name), "ws%d.example.org", 100 + i);
			dns_simple(g, &t, ptr, DNS_T_PTR, DNS_R_NOERROR,
			           MS(prng_range(&g->rng, 1, 20)), name);
			smtp_greeting_ehlo(&s, t + US(200), helo);
		}
		smtp_transaction(&s, "alice@example.org", RCPT_LOCAL,
		                 (size_t)prng_range(&g->rng, 600, 4000), MS(2));
		smtp_quit(&s);
	}
}

/* ---- 9b: one client, two connections before their greeting ---------------------------- */

/*
 * A client opens two connections to an exim-like host; each gets an ident
 * probe the client's firewall drops, then the reverse lookup of the
 * client, the same name twice.  Which connection a lookup was made for
 * shows in the order of the steps, not in the packets.
 *
 * 201: one ident timeout (0.8 s) for both.  The first connection's lookup
 * (unanswered, its greeting 15 s late) goes out while the second, accepted
 * later, still waits for its own probe: it is the first connection's.
 *
 * 202: the timeouts differ (0.5 s and 0.4 s), so the connection accepted
 * last gets to its lookup first, a millisecond before the other; its
 * lookup is answered and its greeting prompt.  The other's lookup is sent
 * again after its greeting: it was not the second connection's.
 *
 * 203 (no ident): the first connection's PTR is answered, then come its
 * forward check of the name and a DNSBL lookup of the client, while the
 * second connection, accepted a millisecond later, still waits for its
 * own PTR (unanswered, greeting after 3 s).  Those lookups are the first
 * connection's: the second is busy with its PTR.
 */
static void
sc_parallel_ptr(struct gen *g)
{
	static const struct {
		int client;
		uint64_t open_b, ident_a, ident_b; /* B opens open_b after A */
		uint64_t start;
	} ep[] = {
	    {201, MS(300), MS(800), MS(800), T0},
	    {202, MS(100), MS(500), MS(399), T0 + SEC(60)},
	};
	for (size_t i = 0; i < sizeof(ep) / sizeof(ep[0]); i++) {
		struct pw_addr cli = client_n(ep[i].client);
		struct sess a, b;
		char ptr[96], helo[64];
		uint64_t ta, tb;
		int ida, qa;

		pw_addr_ptrname(&cli, ptr, sizeof(ptr));
		snprintf(helo, sizeof(helo), "ws%d.example.org", ep[i].client);
		uint16_t pa = (uint16_t)(40130 + 10 * i), pb = (uint16_t)(pa + 1);
		sess_open(&a, g, "smtp", &cli, pa, &g->host, 25, ep[i].start, LAN_RTT, 0);
		sess_open(&b, g, "smtp", &cli, pb, &g->host, 25, ep[i].start + ep[i].open_b,
		          LAN_RTT, 0);
		ta = a.req_t + US(300);
		tb = b.req_t + US(300);
		ida = gen_ident(g, &ta, &g->host, &cli, pa, 25, IDENT_UNANSWERED, 0,
		                ep[i].ident_a, LAN_RTT);
		gen_ident(g, &tb, &g->host, &cli, pb, 25, IDENT_UNANSWERED, 0, ep[i].ident_b,
		          LAN_RTT);
		qa = dns_unanswered(g, &ta, ptr, DNS_T_PTR, 3, SEC(5), 0);
		dns_simple(g, &tb, ptr, DNS_T_PTR, DNS_R_NXDOMAIN, MS(5), NULL);
		smtp_greeting_ehlo(&b, tb + US(300), helo);
		{
			struct truth_slow *sl = smtp_greeting_ehlo(&a, ta + MS(1), helo);
			truth_cause_dns(sl, qa, "client-ptr");
			truth_cause_ident(sl, ida);
		}
		quick_mail(&b, 1500);
		quick_mail(&a, 1500);
	}
	{
		struct pw_addr cli = client_n(203);
		struct sess a, b;
		char ptr[96];
		uint64_t ta, tb;
		int qb;

		pw_addr_ptrname(&cli, ptr, sizeof(ptr));
		sess_open(&a, g, "smtp", &cli, 40150, &g->host, 25, T0 + SEC(120), LAN_RTT, 0);
		sess_open(&b, g, "smtp", &cli, 40151, &g->host, 25, T0 + SEC(120) + MS(1), LAN_RTT,
		          0);
		tb = b.req_t + US(300);
		qb = dns_unanswered(g, &tb, ptr, DNS_T_PTR, 1, SEC(3), 0);
		ta = a.req_t + US(300);
		fast_ptr(g, &ta, &cli, 203);
		dns_simple(g, &ta, "203.2.0.192.zen.dnsbl.example", DNS_T_A, DNS_R_NXDOMAIN, MS(4),
		           NULL);
		smtp_greeting_ehlo(&a, ta + US(300), "ws203.example.org");
		truth_cause_dns(smtp_greeting_ehlo(&b, tb + MS(1), "ws203.example.org"), qb,
		                "client-ptr");
		quick_mail(&a, 1500);
		quick_mail(&b, 1500);
	}
}

/* ---- 10: resolver on the mail host ----------------------------------------------------- */

static void
sc_local_resolver_chain(struct gen *g)
{
	struct pw_addr cli = client_n(200), lo = pw_ip("127.0.0.1");
	struct pw_addr as112a = pw_ip("192.175.48.42"), as112b = pw_ip("192.175.48.6");
	struct sess s;
	char ptr[96];
	uint64_t t0, t, tu;
	int stub, up;
	struct truth_cause *c;

	snprintf(g->truth->resolver, sizeof(g->truth->resolver), "127.0.0.1");
	pw_addr_ptrname(&cli, ptr, sizeof(ptr));
	sess_open(&s, g, "smtp", &cli, 40120, &g->host, 25, T0, LAN_RTT, 0);
	t0 = t = s.req_t + US(500);
	{
		struct dns_spec d = {.from = &lo,
		                     .resolver = &lo,
		                     .qname = ptr,
		                     .qtype = DNS_T_PTR,
		                     .tries = 1,
		                     .retry_ns = SEC(10),
		                     .rcode = DNS_R_SERVFAIL,
		                     .answer_ns = SEC(10)};
		stub = gen_dns(g, &t, &d);
	}
	c = truth_cause_dns(smtp_greeting_ehlo(&s, t + US(400), "client.example.org"), stub,
	                    "client-ptr");
	/* the resolver's own upstream queries while the stub waits */
	for (int i = 0; i < 3; i++) {
		struct dns_spec d = {.from = &g->host,
		                     .resolver = &as112a,
		                     .qname = ptr,
		                     .qtype = DNS_T_PTR,
		                     .tries = 1,
		                     .retry_ns = SEC(3),
		                     .rcode = -1,
		                     .upstream = 1};
		tu = t0 + US(300) + MS(3200) * (uint64_t)i;
		up = gen_dns(g, &tu, &d);
		truth_cause_upstream(c, up);
	}
	{
		struct dns_spec d = {.from = &g->host,
		                     .resolver = &as112b,
		                     .qname = "2.0.192.in-addr.arpa",
		                     .qtype = DNS_T_NS,
		                     .tries = 1,
		                     .retry_ns = SEC(3),
		                     .rcode = -1,
		                     .upstream = 1};
		tu = t0 + MS(1100);
		up = gen_dns(g, &tu, &d);
		truth_cause_upstream(c, up);
	}
	quick_mail(&s, 1600);
}

/* ---- 11: healthy ---------------------------------------------------------------------- */

static void
sc_healthy(struct gen *g)
{
	for (int i = 0; i < 3; i++) {
		struct pw_addr cli = client_n(200 + i);
		struct sess s;
		uint64_t t;
		uint16_t port = (uint16_t)(40200 + i * 13);

		sess_open(&s, g, "smtp", &cli, port, &g->host, 25, T0 + SEC(2) * (uint64_t)i,
		          LAN_RTT, 0);
		t = s.req_t + US(500);
		gen_ident(g, &t, &g->host, &cli, port, 25, IDENT_REFUSED, 0, SEC(5), LAN_RTT);
		fast_ptr(g, &t, &cli, 200 + i);
		smtp_greeting_ehlo(&s, t, "client.example.org");
		quick_mail(&s, 900 + 700 * (size_t)i);
	}
}

/* ---- 12: the client gives up ------------------------------------------------------------ */

static void
sc_client_abort(struct gen *g)
{
	struct pw_addr cli = client_n(200);
	struct sess s;
	char ptr[96], banner[128];
	uint64_t t;
	int q;

	pw_addr_ptrname(&cli, ptr, sizeof(ptr));
	sess_open(&s, g, "smtp", &cli, 40121, &g->host, 25, T0, LAN_RTT, 0);
	t = s.req_t + US(500);
	q = dns_unanswered(g, &t, ptr, DNS_T_PTR, 4, SEC(20), 0);
	/* Outlook Express gives up after 60 s */
	truth_cause_dns(sess_client_abort(&s, s.req_t + SEC(60), "GREETING"), q, "client-ptr");
	/* the server's lookup times out at 80 s; its late banner meets a
	 * closed socket */
	snprintf(banner, sizeof(banner), "220 %s ESMTP Exim 4.96\r\n", g->hostname);
	pw_tcp_send(g->sink, &s.c, 1, t + US(300), banner, strlen(banner), US(12), 0);
	pw_tcp_rst(g->sink, &s.c, 0, t + US(300) + LAN_RTT, 0);
}

/* ---- 13: IPv6 --------------------------------------------------------------------------- */

static void
sc_ipv6(struct gen *g)
{
	struct pw_addr cli = pw_ip("2001:db8::200");
	struct sess s;
	char ptr[96];
	uint64_t t;
	int q;

	g->resolver = pw_ip("2001:db8::53");
	pw_addr_fmt(&g->resolver, g->truth->resolver, sizeof(g->truth->resolver));
	pw_addr_ptrname(&cli, ptr, sizeof(ptr));
	sess_open(&s, g, "smtp", &cli, 40122, &g->host6, 25, T0, LAN_RTT, 0);
	t = s.req_t + US(500);
	q = dns_unanswered(g, &t, ptr, DNS_T_PTR, 2, MS(2400), 0);
	truth_cause_dns(smtp_greeting_ehlo(&s, s.req_t + SEC(5), "client6.example.org"), q,
	                "client-ptr");
	quick_mail(&s, 3000);
}

/* ---- 14: PIPELINING, BDAT, STARTTLS ----------------------------------------------------- */

static void
sc_pipelining_bdat(struct gen *g)
{
	struct sess s;
	uint64_t t;

	/* A: PIPELINING */
	{
		struct pw_addr cli = client_n(201);
		char body[2003];
		sess_open(&s, g, "smtp", &cli, 40301, &g->host, 25, T0, LAN_RTT, 0);
		t = s.req_t + US(400);
		fast_ptr(g, &t, &cli, 201);
		smtp_greeting_ehlo(&s, t, "pipe.example.org");
		sess_sendstr(&s, "MAIL FROM:<a@example.org>\r\nRCPT TO:<x@mail.example.test>\r\n"
		                 "RCPT TO:<y@mail.example.test>\r\nDATA\r\n");
		sess_reply(&s, US(700), "MAIL RCPT RCPT DATA",
		           "250 OK\r\n250 Accepted\r\n250 Accepted\r\n"
		           "354 Enter message, ending with \".\" on a line by itself\r\n");
		gen_body(&g->rng, body, sizeof(body) - 3, "a@example.org", "x@mail.example.test");
		memcpy(body + sizeof(body) - 3, ".\r\n", 3);
		sess_send(&s, body, sizeof(body));
		s.tr->message_bytes = (long)sizeof(body) - 3;
		smtp_data_end_at(&s, s.req_t + MS(2));
		smtp_quit(&s);
	}
	/* B: CHUNKING, and a RCPT waiting for the A record of an MX host */
	{
		struct pw_addr cli = client_n(202);
		uint8_t chunk[600];
		struct truth_slow *sl;
		int q;
		sess_open(&s, g, "smtp", &cli, 40302, &g->host, 25, T0 + SEC(1), LAN_RTT, 0);
		t = s.req_t + US(400);
		fast_ptr(g, &t, &cli, 202);
		smtp_greeting_ehlo(&s, t, "chunk.example.org");
		sess_cmd(&s, "MAIL", "MAIL FROM:<b@example.org>\r\n", sess_fast(&s), "250 OK\r\n");
		sess_sendstr(&s, "RCPT TO:<c@remote.example>\r\n");
		t = s.req_t + US(300);
		q = dns_simple(g, &t, "mx.remote.example", DNS_T_A, DNS_R_NOERROR, MS(1900),
		               "203.0.113.27");
		sl = sess_reply_at(&s, s.req_t + SEC(2), "RCPT", "250 Accepted\r\n", 14);
		truth_cause_dns(sl, q, "recipient-domain");
		memcpy(chunk, "BDAT 500\r\n", 10);
		gen_body(&g->rng, (char *)chunk + 10, 500, "b@example.org", "c@remote.example");
		sess_send(&s, chunk, 510);
		sess_reply(&s, sess_fast(&s), "BDAT", "250 500 byte chunk received\r\n");
		memcpy(chunk, "BDAT 312 LAST\r\n", 15);
		gen_body(&g->rng, (char *)chunk + 15, 312, "b@example.org", "c@remote.example");
		sess_send(&s, chunk, 327);
		sess_reply(&s, MS(2), "BDAT", "250 OK id=1v0b0b-000b0b-0b\r\n");
		s.tr->message_bytes = 812;
		smtp_quit(&s);
	}
	/* C: STARTTLS */
	{
		struct pw_addr cli = client_n(203);
		uint8_t buf[1400];
		size_t n;
		sess_open(&s, g, "smtp", &cli, 40303, &g->host, 25, T0 + SEC(4), LAN_RTT, 0);
		t = s.req_t + US(400);
		fast_ptr(g, &t, &cli, 203);
		smtp_greeting_ehlo(&s, t, "tls.example.org");
		sess_cmd(&s, "STARTTLS", "STARTTLS\r\n", sess_fast(&s), "220 TLS go ahead\r\n");
		s.tr->tls = 1;
		n = tlsgen_client_hello(&g->rng, buf);
		sess_send(&s, buf, n);
		{
			uint8_t sid[32];
			memcpy(sid, buf + 9 + 2 + 32 + 1, 32);
			n = tlsgen_server_hello(&g->rng, buf, sid, 1);
		}
		n += tlsgen_record(&g->rng, buf + n, 0x17, 900);
		pw_tcp_send(g->sink, &s.c, 1, s.req_t + MS(1), buf, n, US(12), 0);
		s.t = s.req_t + MS(1) + US(24) + s.rtt + MS(1);
		n = tlsgen_record(&g->rng, buf, 0x17, 74);
		sess_send(&s, buf, n); /* client Finished */
		n = tlsgen_record(&g->rng, buf, 0x17, 40);
		s.t += US(50);
		sess_send(&s, buf, n); /* EHLO again, encrypted */
		n = tlsgen_record(&g->rng, buf, 0x17, 180);
		pw_tcp_send(g->sink, &s.c, 1, s.req_t + US(300), buf, n, US(12), 0);
		s.t = s.req_t + US(300) + s.rtt + MS(1);
		n = tlsgen_record(&g->rng, buf, 0x17, 22);
		sess_send(&s, buf, n); /* QUIT */
		n = tlsgen_record(&g->rng, buf, 0x17, 60);
		pw_tcp_send(g->sink, &s.c, 1, s.req_t + US(200), buf, n, US(12), 0);
		s.t = s.req_t + US(200) + s.rtt + s.think;
		sess_close(&s, 0);
	}
}

/* ---- 15-18: mail inside TLS ---------------------------------------------------------- */

/* Client 192.0.2.n connects from cport at T0: a quick PTR of it, the
 * greeting, EHLO helo and a successful STARTTLS; TLS comes next. */
static void
starttls_open(struct gen *g, struct sess *s, int n, uint16_t cport, const char *helo)
{
	struct pw_addr cli = client_n(n);
	uint64_t t;

	sess_open(s, g, "smtp", &cli, cport, &g->host, 25, T0, LAN_RTT, 0);
	t = s->req_t + US(400);
	fast_ptr(g, &t, &cli, n);
	smtp_greeting_ehlo(s, t, helo);
	sess_cmd(s, "STARTTLS", "STARTTLS\r\n", sess_fast(s), "220 2.0.0 TLS go ahead\r\n");
}

/* STARTTLS (TLS 1.2), then the DNSBL lookup of the client at RCPT is never
 * answered: the encrypted RCPT reply comes after 4 s; the content filter
 * holds the encrypted DATA-END 2 s (no network cause). */
static void
sc_tls_dnsbl(struct gen *g)
{
	struct truth_slow *sl;
	struct sess s;
	uint64_t t;
	int q;

	starttls_open(g, &s, 200, 40401, "client.example.org");
	tlsgen_handshake(&s, 0, MS(2), 0, NULL);
	tlsgen_exchange(&s, "EHLO", 26, sess_fast(&s), 160);
	tlsgen_exchange(&s, "MAIL", 32, sess_fast(&s), 14);
	tlsgen_send(&s, 36);
	t = s.req_t + US(300);
	q = dns_unanswered(g, &t, "200.2.0.192.bl.example", DNS_T_A, 2, SEC(2), 0);
	sl = tlsgen_reply(&s, "RCPT", s.req_t + SEC(4), 20);
	truth_cause_dns(sl, q, "dnsbl");
	tlsgen_exchange(&s, "DATA", 6, sess_fast(&s), 50);
	truth_cause_none(tlsgen_exchange(&s, "DATA-END", 2400, SEC(2), 30));
	tlsgen_exchange(&s, "QUIT", 6, sess_fast(&s), 30);
	tlsgen_close(&s);
}

/* STARTTLS with TLS 1.3: the client's Finished and its EHLO in one flight,
 * two session tickets at once, the EHLO reply 2 s later (a DNSBL lookup at
 * EHLO); MAIL, RCPT and DATA pipelined in one flight; the filter holds the
 * DATA-END 2.5 s. */
static void
sc_tls13_pipelining(struct gen *g)
{
	struct truth_slow *sl;
	struct sess s;
	uint64_t t;
	int q;

	starttls_open(g, &s, 201, 40402, "pipe13.example.org");
	tlsgen_handshake(&s, 1, MS(3), 1, "EHLO pipe13.example.org\r\n");
	t = s.req_t + US(500);
	q = dns_unanswered(g, &t, "201.2.0.192.zen.example", DNS_T_A, 1, SEC(2), 0);
	sl = tlsgen_reply(&s, "EHLO", s.req_t + SEC(2), 170);
	truth_cause_dns(sl, q, "dnsbl");
	/* MAIL, RCPT, DATA in one record: its reply is the three replies */
	tlsgen_exchange(&s, "DATA", 96, sess_fast(&s), 70);
	truth_cause_none(tlsgen_exchange(&s, "DATA-END", 5200, MS(2500), 30));
	tlsgen_exchange(&s, "QUIT", 6, sess_fast(&s), 30);
	tlsgen_close(&s);
}

/* Port 465: TLS from the connect.  The server looks the client's address
 * up first (unanswered, twice), so the ServerHello comes 4 s after the
 * ClientHello; the banner inside TLS follows the handshake at once. */
static void
sc_smtps_ptr(struct gen *g)
{
	struct pw_addr cli = client_n(202);
	struct truth_slow *sl;
	struct sess s;
	char ptr[96];
	uint64_t t;
	int q;

	pw_addr_ptrname(&cli, ptr, sizeof(ptr));
	sess_open(&s, g, "smtp", &cli, 40403, &g->host, 465, T0, LAN_RTT, 0);
	t = s.t + US(300);
	q = dns_unanswered(g, &t, ptr, DNS_T_PTR, 2, SEC(2), 0);
	sl = tlsgen_handshake(&s, 0, SEC(4), 0, NULL);
	truth_cause_dns(sl, q, "client-ptr");
	tlsgen_reply(&s, "GREETING", s.req_t + MS(1), 40);
	tlsgen_exchange(&s, "EHLO", 26, sess_fast(&s), 180);
	tlsgen_exchange(&s, "", 40, sess_fast(&s), 30); /* AUTH: no guess on 465 */
	tlsgen_exchange(&s, "QUIT", 6, sess_fast(&s), 30);
	tlsgen_close(&s);
}

/* Port 995 with TLS 1.3: tickets, the banner, USER; the first login waits
 * 2.5 s while the server looks up its own short name (unanswered). */
static void
sc_pop3s_login(struct gen *g)
{
	struct pw_addr cli = client_n(203);
	struct truth_slow *sl;
	struct sess s;
	uint64_t t;
	int q;

	sess_open(&s, g, "pop3", &cli, 40404, &g->host, 995, T0, LAN_RTT, 0);
	tlsgen_handshake(&s, 1, MS(2), 1, NULL);
	tlsgen_reply(&s, "GREETING", s.req_t + MS(30), 40);
	tlsgen_exchange(&s, "", 18, sess_fast(&s), 20); /* USER */
	tlsgen_send(&s, 20);                             /* PASS */
	t = s.req_t + US(700);
	q = dns_unanswered(g, &t, "mail", DNS_T_A, 2, MS(1200), 0);
	sl = tlsgen_reply(&s, "", s.req_t + MS(2500), 30);
	truth_cause_dns(sl, q, "self-name");
	tlsgen_exchange(&s, "", 6, sess_fast(&s), 20);   /* STAT */
	tlsgen_exchange(&s, "QUIT", 6, sess_fast(&s), 30);
	tlsgen_close(&s);
}

/* Inside TLS the sender is hidden: a lookup is tied to an encrypted wait by
 * timing only while no other session waits.  A: alone, its encrypted MAIL
 * waits 4 s on the unanswered MX lookup of the sender's domain (tied).  B
 * and C, 4 s later, send their encrypted MAIL 3 ms apart; one unanswered
 * MX lookup follows and both wait 3 s: it is neither's (none). */
static void
sc_tls_sender(struct gen *g)
{
	struct truth_slow *sl;
	struct sess a, b, c;
	uint64_t t;
	int q;
	{
		starttls_open(g, &a, 204, 40405, "client.example.org");
		tlsgen_handshake(&a, 0, MS(2), 0, NULL);
		tlsgen_exchange(&a, "EHLO", 26, sess_fast(&a), 160);
		tlsgen_send(&a, 34);
		t = a.req_t + US(600);
		q = dns_unanswered(g, &t, "slow.example", DNS_T_MX, 2, SEC(2), 0);
		sl = tlsgen_reply(&a, "MAIL", a.req_t + SEC(4), 14);
		truth_cause_dns(sl, q, "sender-domain");
		tlsgen_exchange(&a, "QUIT", 6, sess_fast(&a), 30);
		tlsgen_close(&a);
	}
	{
		struct pw_addr cb = client_n(205), cc = client_n(206);
		uint64_t t1 = T0 + SEC(8);
		sess_open(&b, g, "smtp", &cb, 40406, &g->host, 25, t1, LAN_RTT, 0);
		sess_open(&c, g, "smtp", &cc, 40407, &g->host, 25, t1 + MS(1), LAN_RTT, 0);
		t = b.req_t + US(400);
		fast_ptr(g, &t, &cb, 205);
		t += US(100);
		fast_ptr(g, &t, &cc, 206);
		smtp_greeting_ehlo(&b, t, "b.example.org");
		smtp_greeting_ehlo(&c, t + US(300), "c.example.org");
		sess_cmd(&b, "STARTTLS", "STARTTLS\r\n", sess_fast(&b), "220 2.0.0 TLS go ahead\r\n");
		sess_cmd(&c, "STARTTLS", "STARTTLS\r\n", sess_fast(&c), "220 2.0.0 TLS go ahead\r\n");
		tlsgen_handshake(&b, 0, MS(2), 0, NULL);
		tlsgen_handshake(&c, 0, MS(2), 0, NULL);
		tlsgen_exchange(&b, "EHLO", 26, sess_fast(&b), 160);
		tlsgen_exchange(&c, "EHLO", 26, sess_fast(&c), 160);
		b.t = c.t = (b.t > c.t ? b.t : c.t) + MS(5);
		tlsgen_send(&b, 34);
		c.t = b.req_t + MS(3);
		tlsgen_send(&c, 34);
		t = c.req_t + US(500);
		dns_unanswered(g, &t, "other.example", DNS_T_MX, 1, SEC(3), 0);
		truth_cause_none(tlsgen_reply(&b, "MAIL", c.req_t + SEC(3), 14));
		truth_cause_none(tlsgen_reply(&c, "MAIL", c.req_t + SEC(3) + MS(1), 14));
		tlsgen_exchange(&b, "QUIT", 6, sess_fast(&b), 30);
		tlsgen_exchange(&c, "QUIT", 6, sess_fast(&c), 30);
		tlsgen_close(&b);
		tlsgen_close(&c);
	}
}

/* ---- 11: bounce storm (issue 17; the shape is in bounce_storm.h) --------------------- */

static void
bounce_truth(struct gen *g, const char *domain, const struct pw_addr *origin)
{
	struct truth_session *tr = &g->truth->sess[g->truth->nsess - 1];
	snprintf(tr->bounce_domain, sizeof(tr->bounce_domain), "%s", domain);
	pw_addr_fmt(origin, tr->bounce_origin, sizeof(tr->bounce_origin));
}

/* The host bounces message m of the spammer at t: the lookups (the first
 * bounce to the domain only), then the connection attempt. */
static uint64_t
bounce_one(struct gen *g, uint64_t t, int m, unsigned char *looked_up,
           const struct pw_addr *spammer)
{
	int d = BS_DOMAIN_OF(m);
	char dom[32], mxname[40], ip[24], rcpt[64];
	snprintf(dom, sizeof(dom), "f%d.example", d);
	snprintf(mxname, sizeof(mxname), "mx.%s", dom);
	snprintf(ip, sizeof(ip), "100.64.0.%d", d);
	struct pw_addr mx = pw_ip(ip);
	if (!looked_up[d]) {
		looked_up[d] = 1;
		dns_simple(g, &t, dom, DNS_T_MX, DNS_R_NOERROR, MS(prng_range(&g->rng, 2, 9)),
		           mxname);
		t += US(100);
		dns_simple(g, &t, mxname, DNS_T_A, DNS_R_NOERROR, MS(prng_range(&g->rng, 2, 9)), ip);
		t += US(100);
	}
	if (BS_REFUSING(d)) {
		gen_connect_refused(g, t, &mx, MS(40));
	} else if (BS_ANSWERING(d)) {
		struct sess b;
		sess_open(&b, g, "smtp", &g->host, gen_ephemeral(g), &mx, 25, t, MS(40), 1);
		smtp_greeting_ehlo(&b, b.req_t + b.rtt + MS(3), g->hostname);
		snprintf(rcpt, sizeof(rcpt), "user%d@%s", m, dom);
		smtp_transaction(&b, "", rcpt, 900, MS(60));
		smtp_quit(&b);
	} else {
		gen_connect_unanswered(g, t, &mx, 4);
	}
	if (g->truth)
		bounce_truth(g, dom, spammer);
	return t;
}

static void
sc_bounce_storm(struct gen *g)
{
	struct pw_addr spammer = pw_ip(BS_SPAMMER), client = pw_ip(BS_CLIENT);
	struct pw_addr remote = pw_ip(BS_REMOTE_MX);
	unsigned char looked_up[BS_DOMAINS] = {0};
	char line[128], from[64], to[64];
	int m = 0;

	for (int k = 0; k < BS_SESSIONS; k++) {
		struct sess s;
		int first = m;
		sess_open(&s, g, "smtp", &spammer, (uint16_t)(20000 + k * 7), &g->host, 25,
		          T0 + MS(BS_SESSION_GAP_MS) * (uint64_t)k, MS(20), 0);
		smtp_greeting_ehlo(&s, s.req_t + MS(3), "bulk.example.net");
		for (int i = 0; i < BS_PER_SESSION; i++, m++) {
			snprintf(from, sizeof(from), "user%d@f%d.example", m, BS_DOMAIN_OF(m));
			snprintf(to, sizeof(to), "nosuch%d@mail.example.test", m);
			snprintf(line, sizeof(line), "MAIL FROM:<%s>\r\n", from);
			sess_cmd(&s, "MAIL", line, sess_fast(&s), "250 OK\r\n");
			snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", to);
			if (BS_REFUSED_AT_RCPT(m)) {
				sess_cmd(&s, "RCPT", line, sess_fast(&s),
				         "550 5.1.1 Unknown user\r\n");
				sess_cmd(&s, "RSET", "RSET\r\n", sess_fast(&s), "250 Reset OK\r\n");
				continue;
			}
			sess_cmd(&s, "RCPT", line, sess_fast(&s), "250 Accepted\r\n");
			smtp_data_body(&s, from, to, 700);
			smtp_data_end_at(&s, s.req_t + MS(2));
		}
		smtp_quit(&s);
		/* the bounces, queued behind the accepted messages */
		uint64_t t = s.t + SEC(1);
		for (int j = first; j < m; j++)
			if (!BS_REFUSED_AT_RCPT(j))
				t = bounce_one(g, t, j, looked_up, &spammer) + MS(100);
	}

	/* an ordinary message in the middle of the storm, delivered late */
	{
		struct sess s, o;
		uint64_t t;
		sess_open(&s, g, "smtp", &client, 40300, &g->host, 25,
		          T0 + SEC(BS_ORDINARY_AT_S) + MS(500), LAN_RTT, 0);
		smtp_greeting_ehlo(&s, s.req_t + MS(3), "ws20.example.org");
		smtp_transaction(&s, "carol@example.org", "bob@remote.example", 2000, MS(3));
		smtp_quit(&s);
		t = s.t + SEC(BS_LATE_S);
		dns_simple(g, &t, "remote.example", DNS_T_MX, DNS_R_NOERROR, MS(4), "mx.remote.example");
		t += US(100);
		dns_simple(g, &t, "mx.remote.example", DNS_T_A, DNS_R_NOERROR, MS(4), BS_REMOTE_MX);
		t += US(100);
		sess_open(&o, g, "smtp", &g->host, gen_ephemeral(g), &remote, 25, t, MS(30), 1);
		smtp_greeting_ehlo(&o, o.req_t + o.rtt + MS(3), g->hostname);
		smtp_transaction(&o, "carol@example.org", "bob@remote.example", 2000, MS(80));
		smtp_quit(&o);
	}
}

/* ---- table ------------------------------------------------------------------------------ */

const struct scenario gen_scenarios[] = {
    {"ptr-timeout", "greeting waits 30 s on an unanswered PTR of the client (2 retransmits)",
     "exim-like", PW_LINK_ETHERNET, sc_ptr_timeout},
    {"ptr-fixed", "same client, the PTR gets NXDOMAIN in 3 ms: prompt greeting (control)",
     "exim-like", PW_LINK_ETHERNET, sc_ptr_fixed},
    {"pop3-self-ptr",
     "tcpserver POP3: PTR of its own address, client PTR (SERVFAIL), dropped ident: +OK after "
     "120 s",
     "tcpserver-like", PW_LINK_ETHERNET, sc_pop3_self_ptr},
    {"ident-timeout", "greeting waits 26 s on an ident probe dropped by the client's firewall",
     "exim-like", PW_LINK_ETHERNET, sc_ident_timeout},
    {"sender-checks",
     "MAIL and RCPT take ~20 s each: sender-domain MX/A unanswered, slow DNSBL answer",
     "sendmail-like", PW_LINK_ETHERNET, sc_sender_checks},
    {"slow-data", "only the reply to the final dot is slow (4 s), no network cause (control)",
     "exim-like", PW_LINK_ETHERNET, sc_slow_data},
    {"big-message",
     "a 12 MB message (4 s on the wire, its final dot answered after 5 s) while another "
     "client's final dot waits 3 s; a later 2 s wait with nothing big on the wire (none)",
     "exim-like", PW_LINK_ETHERNET, sc_big_message},
    {"ip-literal", "DATA-END waits 3 s while the host looks up MX/A of the name 10.11.12.13",
     "sendmail-like", PW_LINK_ETHERNET, sc_ip_literal},
    {"outbound",
     "the host delivers: 203.0.113.25 never answers, .26 refuses, .27 takes a 1 MB message",
     "exim-like", PW_LINK_ETHERNET, sc_outbound},
    {"concurrent", "40 overlapping sessions with their own PTR lookups; only 192.0.2.117 waits 8 s",
     "exim-like", PW_LINK_ETHERNET, sc_concurrent},
    {"parallel-ptr",
     "one client with two connections at once, three times (dropped ident probes, then the same "
     "PTR twice; one PTR answered and followed by more lookups): each unanswered PTR delays "
     "only the greeting it was made for",
     "exim-like", PW_LINK_ETHERNET, sc_parallel_ptr},
    {"local-resolver-chain",
     "PTR to a resolver on 127.0.0.1 that asks the AS112 servers in vain: SERVFAIL after 10 s",
     "exim-like", PW_LINK_SLL, sc_local_resolver_chain},
    {"healthy", "three quick sessions, ident refused by RST, fast PTR: nothing slow", "exim-like",
     PW_LINK_ETHERNET, sc_healthy},
    {"client-abort",
     "unanswered PTR; the client gives up with FIN after 60 s, the banner comes at 80 s",
     "exim-like", PW_LINK_ETHERNET, sc_client_abort},
    {"ipv6", "IPv6 client, unanswered ip6.arpa PTR: greeting after 5 s", "exim-like",
     PW_LINK_ETHERNET, sc_ipv6},
    {"pipelining-bdat", "PIPELINING, BDAT and STARTTLS sessions; one RCPT waits 2 s on an A lookup",
     "exim-like", PW_LINK_ETHERNET, sc_pipelining_bdat},
    {"tls-dnsbl",
     "STARTTLS (TLS 1.2); the encrypted RCPT waits 4 s on an unanswered DNSBL lookup, "
     "DATA-END 2 s on the filter",
     "exim-like", PW_LINK_ETHERNET, sc_tls_dnsbl},
    {"tls13-pipelining",
     "STARTTLS (TLS 1.3, tickets); EHLO waits 2 s on a DNSBL lookup, pipelined MAIL/RCPT/DATA, "
     "DATA-END 2.5 s",
     "exim-like", PW_LINK_ETHERNET, sc_tls13_pipelining},
    {"smtps-ptr", "port 465: the ServerHello waits 4 s on an unanswered PTR of the client",
     "exim-like", PW_LINK_ETHERNET, sc_smtps_ptr},
    {"pop3s-login",
     "port 995 (TLS 1.3): the first login waits 2.5 s on the server's lookup of its own name",
     "dovecot-like", PW_LINK_ETHERNET, sc_pop3s_login},
    {"tls-sender",
     "inside TLS: a lone session's MAIL waits 4 s on its sender domain's MX (tied by timing); "
     "two sessions' MAIL waits share one lookup (tied to neither)",
     "exim-like", PW_LINK_ETHERNET, sc_tls_sender},
    {"bounce-storm",
     "2000 spam messages to unknown users in 250 sessions, 1800 accepted and bounced to 200 "
     "forged sender domains whose MX never answers (a few refuse or take it); an ordinary "
     "delivery starts 30 s late",
     "exim-like", PW_LINK_ETHERNET, sc_bounce_storm},
};
const size_t gen_nscenarios = sizeof(gen_scenarios) / sizeof(gen_scenarios[0]);

const struct scenario *
gen_scenario_find(const char *name)
{
	for (size_t i = 0; i < gen_nscenarios; i++)
		if (strcmp(gen_scenarios[i].name, name) == 0)
			return &gen_scenarios[i];
	return NULL;
}

static uint64_t
name_seed(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

int
gen_run_scenario(const char *name, const char *out, const char *truth_path,
                 const struct gen_options *o, struct gen_result *res)
{
	const struct scenario *sc = gen_scenario_find(name);
	struct pw_opts po;
	struct pw_sink *sink;
	struct truth truth;
	struct gen g;
	int rc = 0;

	if (!sc) {
		fprintf(stderr, "mxlag-gen: unknown scenario %s (see mxlag-gen list)\n", name);
		return -1;
	}
	po.link = o->link_set ? o->link : sc->link;
	po.nanosecond = o->nanosecond;
	po.pcapng = o->pcapng;
	po.span_dup = o->span_dup;
	sink = pw_sink_open(out, &po);
	if (!sink) {
		fprintf(stderr, "mxlag-gen: %s: %s\n", out, strerror(errno));
		return -1;
	}
	truth_init(&truth);
	truth.scenario = sc->name;
	truth.description = sc->description;
	truth.server = sc->server;
	gen_init(&g, sink, &truth, o->seed ? o->seed : name_seed(sc->name));
	g.flags = o->flags;
	pw_sink_add_local(sink, &g.host);
	pw_sink_add_local(sink, &g.host6);
	sc->run(&g);
	pw_sink_flush(sink, UINT64_MAX);
	if (res) {
		res->packets = pw_sink_packets(sink);
		res->bytes = pw_sink_bytes(sink);
		res->sessions = truth.nsess;
	}
	if (pw_sink_close(sink) != 0) {
		fprintf(stderr, "mxlag-gen: %s: write error\n", out);
		rc = -1;
	}
	if (rc == 0 && truth_path) {
		FILE *f = strcmp(truth_path, "-") == 0 ? stdout : fopen(truth_path, "w");
		if (!f) {
			fprintf(stderr, "mxlag-gen: %s: %s\n", truth_path, strerror(errno));
			rc = -1;
		} else {
			if (truth_write_json(&truth, f) != 0)
				rc = -1;
			if (f != stdout && fclose(f) != 0)
				rc = -1;
		}
	}
	truth_free(&truth);
	return rc;
}
