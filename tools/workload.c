/*
 * workload.c - the benchmark workload: a busy mail host 192.0.2.10 taking
 * N SMTP/POP3 sessions (default 100000; ~85 % SMTP, ~15 % POP3, ~10 %
 * IPv6) from clients all over 198.51.100.0/24, 203.0.113.0/24 and
 * 2001:db8::/32, several hundred at a time, each with its PTR lookup
 * (~1 % unanswered, so a slow greeting) and ~5 % with ident probes.
 *
 * Sessions are generated one after the other in order of their start time;
 * the sink writes every packet older than the next start, so memory stays
 * flat whatever N is.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dnsmsg.h"
#include "gen.h"

#define W_DEFAULT_SESSIONS 100000L
/* clients without TCP timestamps (Windows) */
#ifndef NO_TS_PERMILLE
#define NO_TS_PERMILLE 600
#endif
/* message size classes (percent of deliveries below each bound), tuned so
 * the default run gives ~2.7 M packets / ~285 MB */
#ifndef BODY_P_SMALL
#define BODY_P_SMALL 85
#endif
#ifndef BODY_P_MEDIUM
#define BODY_P_MEDIUM 97
#endif

struct wl {
	struct gen *g;
	struct truth *t;
	uint16_t v4port[GEN_V4_CLIENTS];
	uint16_t v6port[GEN_V6_CLIENTS];
	char *body; /* scratch for message texts */
};

/* The lookups the server does before its banner; returns when it is done. */
static uint64_t
pre_banner(struct wl *w, struct sess *s, const struct pw_addr *cli, uint16_t cport, uint16_t sport,
           int *slow)
{
	struct gen *g = w->g;
	uint64_t t = s->req_t + US(prng_range(&g->rng, 150, 600));
	char ptr[96], name[64];
	unsigned roll = (unsigned)(prng_next(&g->rng) % 1000);

	if (prng_chance(&g->rng, 50)) {
		/* ident: mostly refused, some dropped (5 s timeout) */
		int dropped = prng_chance(&g->rng, 200);
		w->t->w_ident++;
		w->t->w_ident_dropped += dropped;
		gen_ident(g, &t, cli->v6 ? &g->host6 : &g->host, cli, cport, sport,
		          dropped ? IDENT_UNANSWERED : IDENT_REFUSED, 2, SEC(5), s->rtt);
		if (dropped)
			*slow = 1;
		t += US(50);
	}
	pw_addr_ptrname(cli, ptr, sizeof(ptr));
	if (roll < 10) {
		/* unanswered: 2 tries, 2.5 s apart */
		struct dns_spec d = {.qname = ptr,
		                     .qtype = DNS_T_PTR,
		                     .tries = 2,
		                     .retry_ns = MS(2500),
		                     .rcode = -1};
		gen_dns(g, &t, &d);
		*slow = 1;
	} else if (roll < 320) {
		struct dns_spec d = {.qname = ptr,
		                     .qtype = DNS_T_PTR,
		                     .tries = 1,
		                     .rcode = DNS_R_NXDOMAIN,
		                     .answer_ns = US(prng_range(&g->rng, 300, 40000))};
		gen_dns(g, &t, &d);
	} else {
		char ip[48];
		struct dns_spec d = {.qname = ptr,
		                     .qtype = DNS_T_PTR,
		                     .tries = 1,
		                     .rcode = DNS_R_NOERROR,
		                     .answer_ns = US(prng_range(&g->rng, 300, 40000)),
		                     .answer = name};
		pw_addr_fmt(cli, ip, sizeof(ip));
		if (cli->v6)
			snprintf(name, sizeof(name), "v6-%02x%02x.dyn.example.net", cli->b[7],
			         cli->b[15]);
		else
			snprintf(name, sizeof(name), "host-%u-%u.example.net", cli->b[2],
			         cli->b[3]);
		gen_dns(g, &t, &d);
		if (prng_chance(&g->rng, 800)) {
			/* forward confirmation of the PTR name (sometimes cached) */
			struct dns_spec f = {.qname = name,
			                     .qtype = cli->v6 ? DNS_T_AAAA : DNS_T_A,
			                     .tries = 1,
			                     .rcode = DNS_R_NOERROR,
			                     .answer_ns = US(prng_range(&g->rng, 300, 20000)),
			                     .answer = ip};
			t += US(40);
			gen_dns(g, &t, &f);
		}
	}
	return t + US(prng_range(&g->rng, 60, 300));
}

static void
smtp_session(struct wl *w, const struct pw_addr *cli, uint16_t cport, uint64_t start, uint64_t rtt)
{
	struct gen *g = w->g;
	struct sess s;
	int slow = 0;
	char from[64], to[64], helo[64];
	unsigned kind = (unsigned)(prng_next(&g->rng) % 100);

	sess_open(&s, g, "smtp", cli, cport, cli->v6 ? &g->host6 : &g->host, 25, start, rtt, 0);
	{
		/* every connection is checked against a DNSBL */
		uint64_t t = pre_banner(w, &s, cli, cport, 25, &slow);
		char bl[128];
		struct dns_spec d = {.qname = bl,
		                     .qtype = DNS_T_A,
		                     .tries = 1,
		                     .rcode = DNS_R_NXDOMAIN,
		                     .answer_ns = US(prng_range(&g->rng, 400, 30000))};
		if (cli->v6)
			snprintf(bl, sizeof(bl), "%x.%x.%x.%x.8.b.d.0.1.0.0.2.zen.dnsbl.example",
			         cli->b[5] & 15, cli->b[5] >> 4, cli->b[4] & 15, cli->b[4] >> 4);
		else
			snprintf(bl, sizeof(bl), "%u.%u.%u.%u.zen.dnsbl.example", cli->b[3],
			         cli->b[2], cli->b[1], cli->b[0]);
		gen_dns(g, &t, &d);
		smtp_greeting(&s, t + US(prng_range(&g->rng, 40, 200)));
	}
	w->t->w_slow_greeting += slow;
	snprintf(helo, sizeof(helo), "mx%u.sender.example", (unsigned)(prng_next(&g->rng) % 900));
	smtp_ehlo(&s, helo);
	snprintf(from, sizeof(from), "user%u@sender%u.example",
	         (unsigned)(prng_next(&g->rng) % 5000), (unsigned)(prng_next(&g->rng) % 300));
	snprintf(to, sizeof(to), "user%u@mail.example.test", (unsigned)(prng_next(&g->rng) % 800));
	if (kind < 12) {
		/* recipient rejected, client quits */
		char line[128];
		snprintf(line, sizeof(line), "MAIL FROM:<%s>\r\n", from);
		sess_cmd(&s, "MAIL", line, sess_fast(&s), "250 OK\r\n");
		snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", to);
		sess_cmd(&s, "RCPT", line, MS(prng_range(&g->rng, 1, 30)), "550 Unknown user\r\n");
	} else {
		size_t body;
		unsigned b = (unsigned)(prng_next(&g->rng) % 100);
		char to2[64];
		int two = prng_chance(&g->rng, 300);
		if (b < BODY_P_SMALL)
			body = (size_t)prng_range(&g->rng, 150, 600);
		else if (b < BODY_P_MEDIUM)
			body = (size_t)prng_range(&g->rng, 600, 2500);
		else
			body = (size_t)prng_range(&g->rng, 2500, 8000);
		snprintf(to2, sizeof(to2), "user%u@mail.example.test",
		         (unsigned)(prng_next(&g->rng) % 800));
		smtp_envelope_body(&s, from, to, two ? to2 : NULL, body);
		smtp_data_end_at(&s, s.req_t + MS(prng_range(&g->rng, 2, 60)));
	}
	smtp_quit(&s);
}

static void
pop3_session(struct wl *w, const struct pw_addr *cli, uint16_t cport, uint64_t start, uint64_t rtt)
{
	struct gen *g = w->g;
	struct sess s;
	int slow = 0;
	char line[128];
	unsigned nmsg = (unsigned)prng_range(&g->rng, 0, 2);

	sess_open(&s, g, "pop3", cli, cport, cli->v6 ? &g->host6 : &g->host, 110, start, rtt, 0);
	snprintf(line, sizeof(line), "+OK <%u.%u@mail.example.test>\r\n",
	         (unsigned)(prng_next(&g->rng) % 90000), (unsigned)(start / PW_NS_PER_S));
	sess_reply_at(&s, pre_banner(w, &s, cli, cport, 110, &slow), "GREETING", line,
	              strlen(line));
	sess_quickack(&s);
	w->t->w_slow_greeting += slow;
	pop3_mailbox(&s, nmsg, w->body);
}

int
gen_run_workload(const char *out, const char *truth_path, const struct gen_options *o,
                 struct gen_result *res)
{
	long n = o->sessions > 0 ? o->sessions : W_DEFAULT_SESSIONS;
	struct pw_opts po = {o->link_set ? o->link : PW_LINK_ETHERNET, o->nanosecond, o->pcapng,
	                     o->span_dup};
	struct pw_sink *sink = pw_sink_open(out, &po);
	struct truth truth;
	struct gen g;
	struct wl *w;
	uint64_t t;
	int rc = 0;

	if (!sink) {
		fprintf(stderr, "mxlag-gen: %s: %s\n", out, strerror(errno));
		return -1;
	}
	w = calloc(1, sizeof(*w));
	if (w)
		w->body = malloc(65536);
	if (!w || !w->body) {
		fprintf(stderr, "mxlag-gen: out of memory\n");
		abort();
	}
	truth_init(&truth);
	truth.scenario = "workload";
	truth.description = "benchmark workload";
	truth.server = "mxlag-gen workload";
	gen_init(&g, sink, NULL, o->seed ? o->seed : 20260101);
	g.flags = o->flags;
	pw_addr_fmt(&g.resolver, truth.resolver, sizeof(truth.resolver));
	pw_sink_add_local(sink, &g.host);
	pw_sink_add_local(sink, &g.host6);
	w->g = &g;
	w->t = &truth;

	t = GEN_EPOCH_NS + SEC(1);
	for (long i = 0; i < n; i++) {
		struct pw_addr cli;
		uint16_t port;
		uint64_t rtt;
		int v6 = prng_chance(&g.rng, 100);

		t += US(prng_range(&g.rng, 0, 4000));
		if (pw_sink_flush(sink, t) != 0) {
			rc = -1;
			break;
		}
		if (v6) {
			unsigned k = (unsigned)(prng_next(&g.rng) % GEN_V6_CLIENTS);
			cli = gen_client_v6(k);
			port = gen_client_port(&w->v6port[k], &g.rng);
			truth.w_v6++;
		} else {
			unsigned k = (unsigned)(prng_next(&g.rng) % GEN_V4_CLIENTS);
			cli = gen_client_v4(k);
			port = gen_client_port(&w->v4port[k], &g.rng);
		}
		rtt = US(prng_range(&g.rng, 8000, 120000));
		g.no_ts = prng_chance(&g.rng, NO_TS_PERMILLE);
		if (prng_chance(&g.rng, 150)) {
			truth.w_pop3++;
			pop3_session(w, &cli, port, t, rtt);
		} else {
			truth.w_smtp++;
			smtp_session(w, &cli, port, t, rtt);
		}
		truth.w_sessions++;
	}
	pw_sink_flush(sink, UINT64_MAX);
	if (res) {
		res->packets = pw_sink_packets(sink);
		res->bytes = pw_sink_bytes(sink);
		res->sessions = truth.w_sessions;
	}
	if (pw_sink_close(sink) != 0)
		rc = -1;
	if (rc == 0 && truth_path) {
		FILE *f = fopen(truth_path, "w");
		if (!f || truth_write_json(&truth, f) != 0)
			rc = -1;
		if (f && fclose(f) != 0)
			rc = -1;
	}
	if (rc)
		fprintf(stderr, "mxlag-gen: write error\n");
	truth_free(&truth);
	free(w->body);
	free(w);
	return rc;
}
