/*
 * gen.c - PRNG, truth records and conversation helpers for mxlag-gen.
 */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

#include "dnsmsg.h"

/* ---- PRNG ------------------------------------------------------------------ */

void
prng_seed(struct prng *r, uint64_t seed)
{
	r->s = seed ^ 0x6d786c6167u; /* "mxlag" */
}

uint64_t
prng_next(struct prng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t
prng_range(struct prng *r, uint64_t lo, uint64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + prng_next(r) % (hi - lo + 1);
}

int
prng_chance(struct prng *r, unsigned permille)
{
	return prng_next(r) % 1000 < permille;
}

/* ---- truth ------------------------------------------------------------------- */

static void *
grow(void *p, int *cap, size_t elem)
{
	int nc = *cap ? *cap * 2 : 16;
	void *np = realloc(p, (size_t)nc * elem);

	if (!np) {
		fprintf(stderr, "mxlag-gen: out of memory\n");
		abort();
	}
	memset((char *)np + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
	*cap = nc;
	return np;
}

void
truth_init(struct truth *t)
{
	memset(t, 0, sizeof(*t));
}

void
truth_free(struct truth *t)
{
	free(t->sess);
	free(t->dns);
	free(t->ident);
	t->sess = NULL;
	t->dns = NULL;
	t->ident = NULL;
}

void
truth_clear(struct truth *t)
{
	/* (an array never grown is NULL: memset must not see it) */
	if (t->nsess)
		memset(t->sess, 0, (size_t)t->nsess * sizeof(*t->sess));
	if (t->ndns)
		memset(t->dns, 0, (size_t)t->ndns * sizeof(*t->dns));
	if (t->nident)
		memset(t->ident, 0, (size_t)t->nident * sizeof(*t->ident));
	t->nsess = t->ndns = t->nident = 0;
}

struct truth_session *
truth_add_session(struct truth *t)
{
	if (t->nsess == t->capsess)
		t->sess = grow(t->sess, &t->capsess, sizeof(*t->sess));
	return &t->sess[t->nsess++];
}

static int
add_dns(struct truth *t)
{
	if (t->ndns == t->capdns)
		t->dns = grow(t->dns, &t->capdns, sizeof(*t->dns));
	return t->ndns++;
}

static int
add_ident(struct truth *t)
{
	if (t->nident == t->capident)
		t->ident = grow(t->ident, &t->capident, sizeof(*t->ident));
	return t->nident++;
}

static struct truth_cause *
new_cause(struct truth_slow *sl, const char *kind)
{
	struct truth_cause *c;

	if (!sl || sl->ncauses >= T_MAXCAUSE)
		return NULL;
	c = &sl->causes[sl->ncauses++];
	memset(c, 0, sizeof(*c));
	snprintf(c->kind, sizeof(c->kind), "%s", kind);
	c->dns = c->ident = c->sess = -1;
	return c;
}

struct truth_cause *
truth_cause_dns(struct truth_slow *sl, int dns, const char *relation)
{
	struct truth_cause *c = new_cause(sl, "dns");

	if (c) {
		c->dns = dns;
		snprintf(c->relation, sizeof(c->relation), "%s", relation);
	}
	return c;
}

void
truth_cause_upstream(struct truth_cause *c, int dns)
{
	if (c && c->nupstream < T_MAXUP)
		c->upstream[c->nupstream++] = dns;
}

void
truth_cause_ident(struct truth_slow *sl, int ident)
{
	struct truth_cause *c = new_cause(sl, "ident");

	if (c)
		c->ident = ident;
}

void
truth_cause_none(struct truth_slow *sl)
{
	new_cause(sl, "none");
}

struct truth_cause *
truth_cause_big(struct truth_slow *sl)
{
	return new_cause(sl, "big-message");
}

static const char *
jbool(int v)
{
	return v ? "true" : "false";
}

/* All strings in the truth are generator-made ASCII; escape anyway. */
static void
jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void
write_dns_cause(FILE *f, const struct truth *t, int idx, const char *relation)
{
	const struct truth_dns *d = &t->dns[idx];

	fprintf(f, "{\"kind\":\"dns\",\"relation\":");
	jstr(f, relation);
	fprintf(f, ",\"qtype\":");
	jstr(f, d->qtype);
	fprintf(f, ",\"qname\":");
	jstr(f, d->qname);
	fprintf(f, ",\"resolver\":");
	jstr(f, d->resolver);
	fprintf(f, ",\"outcome\":");
	jstr(f, d->outcome);
	fprintf(f, ",\"retransmits\":%d", d->retransmits);
}

static void
write_cause(FILE *f, const struct truth *t, const struct truth_cause *c)
{
	if (c->dns >= 0) {
		write_dns_cause(f, t, c->dns, c->relation);
		if (c->nupstream) {
			fprintf(f, ",\"upstream\":[");
			for (int i = 0; i < c->nupstream; i++) {
				if (i)
					fputc(',', f);
				write_dns_cause(f, t, c->upstream[i], "upstream");
				fputc('}', f);
			}
			fputc(']', f);
		}
		fputc('}', f);
	} else if (c->ident >= 0) {
		const struct truth_ident *id = &t->ident[c->ident];
		fprintf(f, "{\"kind\":\"ident\",\"peer\":");
		jstr(f, id->peer);
		fprintf(f, ",\"outcome\":");
		jstr(f, id->outcome);
		fprintf(f, ",\"syn_retransmits\":%d}", id->syn_retransmits);
	} else { /* none, big-message */
		fprintf(f, "{\"kind\":");
		jstr(f, c->kind);
		fputc('}', f);
	}
}

static void
write_commands(FILE *f, const char *list)
{
	const char *p = list;
	int first = 1;

	fputc('[', f);
	while (*p) {
		const char *sp = strchr(p, ' ');
		size_t n = sp ? (size_t)(sp - p) : strlen(p);
		if (n) {
			fprintf(f, "%s\"%.*s\"", first ? "" : ",", (int)n, p);
			first = 0;
		}
		p += n;
		if (*p == ' ')
			p++;
	}
	fputc(']', f);
}

int
truth_write_json(const struct truth *t, FILE *f)
{
	fprintf(f, "{\"generator\":\"mxlag-gen\",\"scenario\":");
	jstr(f, t->scenario ? t->scenario : "");
	if (t->description) {
		fprintf(f, ",\n \"description\":");
		jstr(f, t->description);
	}
	fprintf(f, ",\n \"server\":");
	jstr(f, t->server ? t->server : "mxlag-gen");
	fprintf(f, ",\"mail_host\":\"192.0.2.10\",\"resolver\":");
	jstr(f, t->resolver);
	fprintf(f, ",\"slow_ms\":%.0f", GEN_SLOW_MS);
	if (t->w_sessions) {
		fprintf(f,
		        ",\n \"workload\":{\"sessions\":%ld,\"smtp\":%ld,\"pop3\":%ld,\"ipv6\":%ld,"
		        "\"slow_greetings\":%ld,\"ident_probes\":%ld,\"ident_unanswered\":%ld}",
		        t->w_sessions, t->w_smtp, t->w_pop3, t->w_v6, t->w_slow_greeting,
		        t->w_ident, t->w_ident_dropped);
	}
	fprintf(f, ",\n \"sessions\":[");
	for (int i = 0; i < t->nsess; i++) {
		const struct truth_session *s = &t->sess[i];
		fprintf(f, "%s\n  {\"client\":", i ? "," : "");
		jstr(f, s->client);
		fprintf(f, ",\"client_port\":%d,\"server\":", s->client_port);
		jstr(f, s->server);
		fprintf(f, ",\"server_port\":%d,\"protocol\":", s->server_port);
		jstr(f, s->protocol);
		fprintf(f, ",\"outbound\":%s,\"tls\":%s,\"outcome\":", jbool(s->outbound),
		        jbool(s->tls));
		jstr(f, s->outcome);
		if (s->bounce_domain[0]) {
			fprintf(f, ",\"bounce_domain\":");
			jstr(f, s->bounce_domain);
			fprintf(f, ",\"bounce_origin\":");
			jstr(f, s->bounce_origin);
		}
		fprintf(f, ",\"message_bytes\":%ld,\"commands\":", s->message_bytes);
		write_commands(f, s->commands);
		fprintf(f, ",\n   \"slow\":[");
		for (int j = 0; j < s->nslow; j++) {
			const struct truth_slow *sl = &s->slow[j];
			fprintf(f, "%s{\"command\":", j ? ",\n    " : "");
			jstr(f, sl->command);
			if (sl->guess[0] || strcmp(sl->command, "TLS") == 0) {
				/* "" = no guess: mxlag must not name one */
				fprintf(f, ",\"guess\":");
				jstr(f, sl->guess);
			}
			fprintf(f, ",\"latency_ms\":%.3f,\"reply_code\":", sl->latency_ms);
			jstr(f, sl->reply_code);
			fprintf(f, ",\"outcome\":");
			jstr(f, sl->outcome);
			fprintf(f, ",\"causes\":[");
			for (int k = 0; k < sl->ncauses; k++) {
				if (k)
					fputc(',', f);
				write_cause(f, t, &sl->causes[k]);
			}
			fprintf(f, "]}");
		}
		fprintf(f, "]}");
	}
	fprintf(f, "],\n \"dns\":[");
	for (int i = 0; i < t->ndns; i++) {
		const struct truth_dns *d = &t->dns[i];
		fprintf(f, "%s\n  {\"qname\":", i ? "," : "");
		jstr(f, d->qname);
		fprintf(f, ",\"qtype\":");
		jstr(f, d->qtype);
		fprintf(f, ",\"resolver\":");
		jstr(f, d->resolver);
		fprintf(f, ",\"outcome\":");
		jstr(f, d->outcome);
		fprintf(
		    f,
		    ",\"retransmits\":%d,\"new_id_per_try\":%s,\"upstream\":%s,\"start_ms\":%.3f}",
		    d->retransmits, jbool(d->new_id), jbool(d->is_upstream), d->start_ms);
	}
	fprintf(f, "],\n \"ident\":[");
	for (int i = 0; i < t->nident; i++) {
		const struct truth_ident *id = &t->ident[i];
		fprintf(f, "%s\n  {\"host\":", i ? "," : "");
		jstr(f, id->host);
		fprintf(f, ",\"peer\":");
		jstr(f, id->peer);
		fprintf(f, ",\"outcome\":");
		jstr(f, id->outcome);
		fprintf(f, ",\"syn_retransmits\":%d}", id->syn_retransmits);
	}
	fprintf(f, "]");
	if (t->sql_secret || t->sql_checks) {
		fprintf(f, ",\n \"sql\":[");
		if (t->sql_secret)
			fprintf(f,
			        "[\"select count(*) from transactions where argument like "
			        "'%%%s%%'\",\"=\",0]",
			        t->sql_secret);
		if (t->sql_checks)
			fprintf(f, "%s%s", t->sql_secret ? "," : "", t->sql_checks);
		fprintf(f, "]");
	}
	fprintf(f, "}\n");
	return ferror(f) ? -1 : 0;
}

/* ---- generator context --------------------------------------------------------- */

void
gen_init(struct gen *g, struct pw_sink *sink, struct truth *truth, uint64_t seed)
{
	memset(g, 0, sizeof(*g));
	g->sink = sink;
	g->truth = truth;
	prng_seed(&g->rng, seed);
	g->eph = (uint16_t)prng_range(&g->rng, 33000, 40000);
	g->host = pw_ip("192.0.2.10");
	g->host6 = pw_ip("2001:db8::10");
	g->resolver = pw_ip("198.51.100.53");
	g->hostname = "mail.example.test";
	if (truth)
		pw_addr_fmt(&g->resolver, truth->resolver, sizeof(truth->resolver));
}

uint16_t
gen_ephemeral(struct gen *g)
{
	g->eph = (uint16_t)(g->eph + prng_range(&g->rng, 1, 5));
	if (g->eph < 32768 || g->eph > 60999)
		g->eph = 32768;
	return g->eph;
}

static double
ms_since_start(uint64_t t)
{
	return (double)(t - GEN_EPOCH_NS) / 1e6;
}

/* ---- DNS --------------------------------------------------------------------- */

static const char *
dns_outcome(int rcode, const char *answer)
{
	switch (rcode) {
	case -1:
		return "unanswered";
	case DNS_R_NOERROR:
		return answer ? "answered" : "nodata";
	case DNS_R_NXDOMAIN:
		return "nxdomain";
	case DNS_R_SERVFAIL:
		return "servfail";
	case DNS_R_REFUSED:
		return "refused";
	default:
		return "answered";
	}
}

int
gen_dns(struct gen *g, uint64_t *t, const struct dns_spec *d)
{
	const struct pw_addr *res = d->resolver ? d->resolver : &g->resolver;
	const struct pw_addr *from = d->from ? d->from : (res->v6 ? &g->host6 : &g->host);
	uint16_t port = d->from_port ? d->from_port : (uint16_t)prng_range(&g->rng, 1024, 65535);
	uint16_t id = (uint16_t)prng_next(&g->rng);
	uint8_t msg[512];
	size_t len = dns_query(msg, sizeof(msg), id, d->qname, d->qtype, 0);
	uint64_t ts = *t;
	int tries = d->tries > 0 ? d->tries : 1;
	int idx = -1;

	if (!len) {
		fprintf(stderr, "mxlag-gen: bad query name %s\n", d->qname);
		abort();
	}
	for (int i = 0; i < tries; i++) {
		if (i > 0) {
			ts = d->at_ns ? *t + d->at_ns[i] : ts + d->retry_ns;
			if (d->new_id) {
				id = (uint16_t)prng_next(&g->rng);
				if (!d->from_port)
					port = (uint16_t)prng_range(&g->rng, 1024, 65535);
				len = dns_query(msg, sizeof(msg), id, d->qname, d->qtype, 0);
			}
		}
		pw_udp(g->sink, ts, from, port, res, 53, msg, len);
	}
	if (d->rcode >= 0) {
		uint8_t resp[512];
		size_t rl =
		    dns_response(resp, sizeof(resp), id, d->qname, d->qtype, d->rcode, d->answer);
		if (!rl) {
			fprintf(stderr, "mxlag-gen: bad answer for %s\n", d->qname);
			abort();
		}
		ts += d->answer_ns;
		pw_udp(g->sink, ts, res, 53, from, port, resp, rl);
	} else {
		ts += d->retry_ns;
	}
	if (g->truth) {
		idx = add_dns(g->truth);
		struct truth_dns *td = &g->truth->dns[idx];
		snprintf(td->qname, sizeof(td->qname), "%s", d->qname);
		snprintf(td->qtype, sizeof(td->qtype), "%s", dns_type_name(d->qtype));
		pw_addr_fmt(res, td->resolver, sizeof(td->resolver));
		snprintf(td->outcome, sizeof(td->outcome), "%s", dns_outcome(d->rcode, d->answer));
		td->retransmits = tries - 1;
		td->new_id = d->new_id && tries > 1;
		td->is_upstream = d->upstream;
		td->start_ms = ms_since_start(*t);
	}
	*t = ts;
	return idx;
}

/* ---- ident ----------------------------------------------------------------------- */

int
gen_ident(struct gen *g, uint64_t *t, const struct pw_addr *host, const struct pw_addr *peer,
          uint16_t peer_port, uint16_t local_port, enum ident_outcome o, int retrans,
          uint64_t timeout, uint64_t rtt)
{
	struct pw_tcp c;
	uint16_t port = gen_ephemeral(g);
	uint64_t ts = *t;
	int idx = -1;
	static const char *const names[] = {"refused", "unanswered", "answered"};

	pw_tcp_init(&c, host, port, peer, 113, (uint32_t)prng_next(&g->rng),
	            o == IDENT_REFUSED ? 0 : (uint32_t)prng_next(&g->rng),
	            (uint32_t)prng_next(&g->rng), (uint32_t)prng_next(&g->rng));
	switch (o) {
	case IDENT_REFUSED:
		pw_tcp_syn(g->sink, &c, 0, ts);
		pw_tcp_rst(g->sink, &c, 1, ts + rtt, 1);
		*t = ts + rtt + US(40);
		retrans = 0;
		break;
	case IDENT_UNANSWERED: {
		uint64_t back = SEC(1), at = ts;
		pw_tcp_syn(g->sink, &c, 0, ts);
		for (int i = 0; i < retrans; i++) {
			at += back;
			back *= 2;
			if (at - ts >= timeout)
				break;
			pw_tcp_syn(g->sink, &c, 0, at);
		}
		*t = ts + timeout;
		break;
	}
	case IDENT_ANSWERED: {
		char q[32], a[96];
		uint64_t at = pw_tcp_handshake(g->sink, &c, ts, rtt, US(30));
		snprintf(q, sizeof(q), "%u , %u\r\n", peer_port, local_port);
		snprintf(a, sizeof(a), "%u , %u : USERID : UNIX : joe\r\n", peer_port, local_port);
		at = pw_tcp_send(g->sink, &c, 0, at + US(20), q, strlen(q), 0, 0);
		at = pw_tcp_send(g->sink, &c, 1, at + rtt, a, strlen(a), 0, 0);
		pw_tcp_fin(g->sink, &c, 1, at + US(5));
		pw_tcp_fin(g->sink, &c, 0, at + US(60));
		pw_tcp_ack(g->sink, &c, 1, at + US(60) + rtt);
		*t = at + US(60);
		retrans = 0;
		break;
	}
	}
	if (g->truth) {
		idx = add_ident(g->truth);
		struct truth_ident *ti = &g->truth->ident[idx];
		pw_addr_fmt(host, ti->host, sizeof(ti->host));
		pw_addr_fmt(peer, ti->peer, sizeof(ti->peer));
		snprintf(ti->outcome, sizeof(ti->outcome), "%s", names[o]);
		ti->syn_retransmits = retrans;
		ti->start_ms = ms_since_start(ts);
		if (o == IDENT_UNANSWERED) {
			/* count what really went out */
			uint64_t back = SEC(1), at = 0;
			int n = 0;
			for (int i = 0; i < retrans; i++) {
				at += back;
				back *= 2;
				if (at >= timeout)
					break;
				n++;
			}
			ti->syn_retransmits = n;
		}
	}
	return idx;
}

/* The truth of the host's connection attempt that got no session. */
static void
truth_attempt(struct gen *g, uint16_t port, const struct pw_addr *dst, const char *outcome)
{
	struct truth_session *tr;

	if (!g->truth)
		return;
	tr = truth_add_session(g->truth);
	snprintf(tr->protocol, sizeof(tr->protocol), "smtp");
	pw_addr_fmt(&g->host, tr->client, sizeof(tr->client));
	pw_addr_fmt(dst, tr->server, sizeof(tr->server));
	tr->client_port = port;
	tr->server_port = 25;
	tr->outbound = 1;
	snprintf(tr->outcome, sizeof(tr->outcome), "%s", outcome);
}

void
gen_connect_refused(struct gen *g, uint64_t t, const struct pw_addr *dst, uint64_t rtt)
{
	struct pw_tcp c;
	uint16_t port = gen_ephemeral(g);

	pw_tcp_init(&c, &g->host, port, dst, 25, (uint32_t)prng_next(&g->rng), 0,
	            (uint32_t)prng_next(&g->rng), 0);
	pw_tcp_syn(g->sink, &c, 0, t);
	pw_tcp_rst(g->sink, &c, 1, t + rtt, 1);
	truth_attempt(g, port, dst, "refused");
}

void
gen_connect_unanswered(struct gen *g, uint64_t t, const struct pw_addr *dst, int retrans)
{
	struct pw_tcp c;
	uint16_t port = gen_ephemeral(g);
	uint64_t back = SEC(1), at = t;

	pw_tcp_init(&c, &g->host, port, dst, 25, (uint32_t)prng_next(&g->rng), 0,
	            (uint32_t)prng_next(&g->rng), 0);
	pw_tcp_syn(g->sink, &c, 0, t);
	for (int i = 0; i < retrans; i++) {
		at += back;
		back *= 2;
		pw_tcp_syn(g->sink, &c, 0, at);
	}
	truth_attempt(g, port, dst, "unanswered");
}

/* ---- sessions ------------------------------------------------------------------------ */

/* delay until the answer of side `side` is seen at the capture point */
static uint64_t
lat(const struct sess *s, int side)
{
	int capside = s->capture_at_client ? 0 : 1;
	return side == capside ? 0 : s->rtt;
}

uint64_t
sess_fast(struct sess *s)
{
	return US(prng_range(&s->g->rng, 80, 400));
}

void
sess_open(struct sess *s, struct gen *g, const char *proto, const struct pw_addr *cli,
          uint16_t cport, const struct pw_addr *srv, uint16_t sport, uint64_t t, uint64_t rtt,
          int outbound)
{
	memset(s, 0, sizeof(*s));
	s->g = g;
	s->rtt = rtt;
	s->think = US(prng_range(&g->rng, 150, 900));
	s->capture_at_client = outbound;
	s->srv_gap = US(12);
	s->cli_gap = rtt > MS(2) ? US(120) : US(12);
	s->srvname = outbound ? "mx.remote.example" : g->hostname;
	pw_tcp_init(&s->c, cli, cport, srv, sport, (uint32_t)prng_next(&g->rng),
	            (uint32_t)prng_next(&g->rng), (uint32_t)prng_next(&g->rng),
	            (uint32_t)prng_next(&g->rng));
	if (cli->v6 || srv->v6)
		s->c.mss = 1428;
	if (g->no_ts)
		pw_tcp_no_timestamps(&s->c);
	if (g->flags & GEN_SPLIT_SERVER)
		s->c.split[1] = 1;
	s->c.reorder = (g->flags & GEN_REORDER) != 0;
	s->c.dup = (g->flags & GEN_DUP) != 0;
	s->req_t = pw_tcp_handshake(g->sink, &s->c, t, lat(s, 1) + US(20), lat(s, 0) + US(20));
	s->t = s->req_t;
	if (g->truth) {
		struct truth_session *tr = truth_add_session(g->truth);
		s->tr = tr;
		snprintf(tr->protocol, sizeof(tr->protocol), "%s", proto);
		pw_addr_fmt(cli, tr->client, sizeof(tr->client));
		pw_addr_fmt(srv, tr->server, sizeof(tr->server));
		tr->client_port = cport;
		tr->server_port = sport;
		tr->start_ns = s->req_t;
		tr->outbound = outbound;
		snprintf(tr->outcome, sizeof(tr->outcome), "ok");
	}
}

void
sess_send(struct sess *s, const void *data, size_t len)
{
	uint64_t ack = len > s->c.mss ? lat(s, 1) + US(30) : 0;

	s->req_t = pw_tcp_send(s->g->sink, &s->c, 0, s->t, data, len, s->cli_gap, ack);
	s->t = s->req_t;
}

void
sess_sendstr(struct sess *s, const char *text)
{
	sess_send(s, text, strlen(text));
}

static void
add_command(struct sess *s, const char *command)
{
	size_t n;

	if (!s->tr)
		return;
	n = strlen(s->tr->commands);
	snprintf(s->tr->commands + n, sizeof(s->tr->commands) - n, "%s%s", n ? " " : "", command);
}

static struct truth_slow *
add_slow(struct sess *s, const char *command, double ms, const char *code, const char *outcome)
{
	struct truth_slow *sl;

	if (!s->tr || s->tr->nslow >= T_MAXSLOW)
		return NULL;
	sl = &s->tr->slow[s->tr->nslow++];
	memset(sl, 0, sizeof(*sl));
	snprintf(sl->command, sizeof(sl->command), "%.*s", (int)strcspn(command, " "), command);
	sl->req_ns = s->req_t;
	sl->latency_ms = ms;
	snprintf(sl->reply_code, sizeof(sl->reply_code), "%s", code);
	snprintf(sl->outcome, sizeof(sl->outcome), "%s", outcome);
	return sl;
}

struct truth_slow *
sess_reply_at(struct sess *s, uint64_t at, const char *command, const void *data, size_t len)
{
	uint64_t ack = len > s->c.mss || s->c.split[1] ? lat(s, 0) + US(30) : 0;
	uint64_t srvack = lat(s, 1) + MS(40);
	uint64_t last;
	double ms = (double)(at - s->req_t) / 1e6;
	char code[8] = "";

	if (s->c.split[1])
		ack = 0; /* a thousand one-byte segments: leave them unacknowledged */
	if (at > s->req_t + srvack)
		pw_tcp_ack(s->g->sink, &s->c, 1, s->req_t + srvack);
	last = pw_tcp_send(s->g->sink, &s->c, 1, at, data, len, s->srv_gap, ack);
	s->t = last + lat(s, 0) + s->think;
	add_command(s, command);
	for (size_t i = 0; i < len && i < 4; i++) {
		char ch = ((const char *)data)[i];
		if (i > 0 && (ch == ' ' || ch == '-' || ch == '\r' || ch == '\n'))
			break;
		code[i] = ch;
	}
	if (ms >= GEN_SLOW_MS)
		return add_slow(s, command, ms, code, "ok");
	return NULL;
}

void
sess_quickack(struct sess *s)
{
	/* the client acknowledges at once (quick-ack at connection start) */
	uint64_t at = s->t - s->think + US(15);

	pw_tcp_ack(s->g->sink, &s->c, 0, at);
	s->t += US(40);
}

struct truth_slow *
sess_reply(struct sess *s, uint64_t delay, const char *command, const char *text)
{
	return sess_reply_at(s, s->req_t + lat(s, 1) + delay, command, text, strlen(text));
}

struct truth_slow *
sess_cmd(struct sess *s, const char *command, const char *line, uint64_t delay, const char *reply)
{
	sess_sendstr(s, line);
	return sess_reply(s, delay, command, reply);
}

void
sess_close(struct sess *s, int server_first)
{
	uint64_t t;

	if (server_first) {
		t = s->t - s->think - lat(s, 0) + US(30);
		pw_tcp_fin(s->g->sink, &s->c, 1, t);
		t += lat(s, 0) + US(150);
		pw_tcp_fin(s->g->sink, &s->c, 0, t);
		pw_tcp_ack(s->g->sink, &s->c, 1, t + lat(s, 1) + US(20));
	} else {
		t = s->t;
		pw_tcp_fin(s->g->sink, &s->c, 0, t);
		t += lat(s, 1) + US(40);
		pw_tcp_fin(s->g->sink, &s->c, 1, t);
		pw_tcp_ack(s->g->sink, &s->c, 0, t + lat(s, 0) + US(20));
	}
	s->closed = 1;
}

struct truth_slow *
sess_client_abort(struct sess *s, uint64_t at, const char *command)
{
	double ms = (double)(at - s->req_t) / 1e6;

	pw_tcp_fin(s->g->sink, &s->c, 0, at);
	pw_tcp_ack(s->g->sink, &s->c, 1, at + lat(s, 1) + US(40));
	s->t = at;
	if (s->tr)
		snprintf(s->tr->outcome, sizeof(s->tr->outcome), "client-abort");
	add_command(s, command);
	if (ms >= GEN_SLOW_MS)
		return add_slow(s, command, ms, "", "client-abort");
	return NULL;
}

/* ---- message text ----------------------------------------------------------------------- */

static const char *const words[] = {
    "mail",    "queue",   "latency",  "resolver", "reverse", "zone",   "greeting", "report",
    "meeting", "invoice", "attached", "please",   "review",  "draft",  "schedule", "network",
    "server",  "thanks",  "regards",  "tomorrow", "update",  "status", "question", "answer",
    "backup",  "weekly",  "numbers",  "project",  "budget",  "notes",  "the",      "and",
    "for",     "with",    "from",     "about",    "this",    "that",   "will",     "have",
};

void
gen_body(struct prng *r, char *buf, size_t len, const char *from, const char *to)
{
	char hdr[320];
	size_t o = 0, col = 0, want = 60 + (size_t)prng_range(r, 0, 14);
	int hl = snprintf(hdr, sizeof(hdr),
	                  "From: <%s>\r\nTo: <%s>\r\nSubject: weekly %s %u\r\n"
	                  "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
	                  "Message-ID: <%08x.%04x@mail.example.test>\r\nMIME-Version: 1.0\r\n"
	                  "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
	                  from, to, words[prng_next(r) % 8], (unsigned)prng_range(r, 1, 9999),
	                  (unsigned)prng_next(r), (unsigned)(prng_next(r) & 0xffff));
	const char *w = NULL;

	if (len < 2)
		return;
	if (hl > 0 && (size_t)hl + 8 <= len) {
		memcpy(buf, hdr, (size_t)hl);
		o = (size_t)hl;
	}
	while (o < len) {
		size_t rem = len - o;
		if (rem == 2 || (col >= want && rem >= 5)) {
			buf[o++] = '\r';
			buf[o++] = '\n';
			col = 0;
			want = 50 + (size_t)prng_range(r, 0, 24);
			continue;
		}
		if (!w || !*w) {
			w = words[prng_next(r) % (sizeof(words) / sizeof(words[0]))];
			if (col > 0) {
				buf[o++] = ' ';
				col++;
				continue;
			}
		}
		buf[o++] = *w++;
		col++;
	}
}

/* ---- clients ----------------------------------------------------------------------------------
 */

struct pw_addr
gen_client_v4(unsigned i)
{
	struct pw_addr a;

	memset(&a, 0, sizeof(a));
	/* 198.51.100.1-254 except the resolver .53, and 203.0.113.1-254 */
	if (i < 253) {
		a.b[0] = 198;
		a.b[1] = 51;
		a.b[2] = 100;
		a.b[3] = (uint8_t)(i + 1 + (i >= 52));
	} else {
		a.b[0] = 203;
		a.b[1] = 0;
		a.b[2] = 113;
		a.b[3] = (uint8_t)(i - 253 + 1);
	}
	return a;
}

struct pw_addr
gen_client_v6(unsigned i)
{
	struct pw_addr a;

	memset(&a, 0, sizeof(a));
	a.v6 = 1;
	a.b[0] = 0x20;
	a.b[1] = 0x01;
	a.b[2] = 0x0d;
	a.b[3] = 0xb8;
	a.b[4] = (uint8_t)(0x10 + (i >> 8));
	a.b[5] = 0x00;
	a.b[7] = (uint8_t)(i & 0xff);
	a.b[15] = (uint8_t)(1 + (i % 250));
	a.b[14] = (uint8_t)(i >> 10);
	return a;
}

uint16_t
gen_client_port(uint16_t *p, struct prng *r)
{
	if (*p < 32768 || *p > 60000)
		*p = (uint16_t)prng_range(r, 32768, 45000);
	*p = (uint16_t)(*p + prng_range(r, 1, 9));
	return *p;
}

/* ---- POP3 -------------------------------------------------------------------------------------
 */

void
pop3_mailbox(struct sess *s, unsigned nmsg, char *scratch)
{
	struct gen *g = s->g;
	char line[128];

	snprintf(line, sizeof(line), "USER u%u\r\n", (unsigned)(prng_next(&g->rng) % 800));
	sess_cmd(s, "USER", line, sess_fast(s), "+OK \r\n");
	snprintf(line, sizeof(line), "PASS pw%08x\r\n", (unsigned)prng_next(&g->rng));
	sess_cmd(s, "PASS", line, MS(prng_range(&g->rng, 1, 8)), "+OK \r\n");
	if (nmsg == 0) {
		sess_cmd(s, "STAT", "STAT\r\n", sess_fast(s), "+OK 0 0\r\n");
	} else {
		size_t len = (size_t)prng_range(&g->rng, 600, 3000);
		char *buf = scratch;
		int hl = snprintf(buf, 64, "+OK %zu octets\r\n", len);
		gen_body(&g->rng, buf + hl, len, "someone@example.org", "u@mail.example.test");
		memcpy(buf + hl + len, ".\r\n", 3);
		snprintf(line, sizeof(line), "+OK %u %zu\r\n", nmsg, len * nmsg);
		sess_cmd(s, "STAT", "STAT\r\n", sess_fast(s), line);
		if (nmsg == 1)
			snprintf(line, sizeof(line), "+OK\r\n1 %zu\r\n.\r\n", len);
		else
			snprintf(line, sizeof(line), "+OK\r\n1 %zu\r\n2 %zu\r\n.\r\n", len, len);
		sess_cmd(s, "LIST", "LIST\r\n", sess_fast(s), line);
		sess_sendstr(s, "RETR 1\r\n");
		sess_reply_at(s, s->req_t + sess_fast(s), "RETR", buf, (size_t)hl + len + 3);
		sess_cmd(s, "DELE", "DELE 1\r\n", sess_fast(s), "+OK \r\n");
	}
	sess_cmd(s, "QUIT", "QUIT\r\n", sess_fast(s), "+OK \r\n");
	sess_close(s, 1);
}

/* ---- SMTP building blocks ------------------------------------------------------------------ */

struct truth_slow *
smtp_greeting(struct sess *s, uint64_t greet_at)
{
	char buf[160];

	struct truth_slow *sl;

	snprintf(buf, sizeof(buf), "220 %s ESMTP Exim 4.96 Thu, 01 Jan 2026 00:00:00 +0000\r\n",
	         s->srvname);
	sl = sess_reply_at(s, greet_at, "GREETING", buf, strlen(buf));
	sess_quickack(s);
	return sl;
}

void
smtp_ehlo_reply(struct sess *s, const char *helo, uint64_t delay)
{
	char buf[512], cli[48];

	pw_addr_fmt(&s->c.addr[0], cli, sizeof(cli));
	snprintf(buf, sizeof(buf),
	         "250-%s Hello %s [%s]\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n"
	         "250-PIPELINING\r\n250-CHUNKING\r\n250-STARTTLS\r\n250 HELP\r\n",
	         s->srvname, helo, cli);
	sess_reply(s, delay, "EHLO", buf);
}

void
smtp_ehlo(struct sess *s, const char *helo)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "EHLO %s\r\n", helo);
	sess_sendstr(s, buf);
	smtp_ehlo_reply(s, helo, sess_fast(s));
}

struct truth_slow *
smtp_greeting_ehlo(struct sess *s, uint64_t greet_at, const char *helo)
{
	struct truth_slow *sl = smtp_greeting(s, greet_at);

	smtp_ehlo(s, helo);
	return sl;
}

void
smtp_envelope_body(struct sess *s, const char *from, const char *to, const char *to2,
                   size_t body_len)
{
	char line[256];

	snprintf(line, sizeof(line), "MAIL FROM:<%s>\r\n", from);
	sess_cmd(s, "MAIL", line, sess_fast(s), "250 OK\r\n");
	snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", to);
	sess_cmd(s, "RCPT", line, sess_fast(s), "250 Accepted\r\n");
	if (to2) {
		snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", to2);
		sess_cmd(s, "RCPT", line, sess_fast(s), "250 Accepted\r\n");
	}
	smtp_data_body(s, from, to, body_len);
}

void
smtp_data_body(struct sess *s, const char *from, const char *to, size_t body_len)
{
	char *body = malloc(body_len + 3);

	if (!body)
		abort();
	sess_sendstr(s, "DATA\r\n");
	pw_tcp_ack(s->g->sink, &s->c, 1, s->req_t + (s->capture_at_client ? s->rtt : 0) + US(10));
	sess_reply(s, US(prng_range(&s->g->rng, 20, 60)), "DATA",
	           "354 Enter message, ending with \".\" on a line by itself\r\n");
	gen_body(&s->g->rng, body, body_len, from, to);
	memcpy(body + body_len, ".\r\n", 3);
	sess_send(s, body, body_len + 3);
	free(body);
	if (s->tr)
		s->tr->message_bytes += (long)body_len;
}

struct truth_slow *
smtp_data_end_at(struct sess *s, uint64_t at)
{
	char line[64];

	snprintf(line, sizeof(line), "250 OK id=1v%04x-%06x-%02x\r\n",
	         (unsigned)(prng_next(&s->g->rng) & 0xffff),
	         (unsigned)(prng_next(&s->g->rng) & 0xffffff),
	         (unsigned)(prng_next(&s->g->rng) & 0xff));
	return sess_reply_at(s, at, "DATA-END", line, strlen(line));
}

struct truth_slow *
smtp_transaction(struct sess *s, const char *from, const char *to, size_t body_len,
                 uint64_t data_end_delay)
{
	smtp_envelope_body(s, from, to, NULL, body_len);
	return smtp_data_end_at(s, s->req_t + (s->capture_at_client ? s->rtt : 0) + data_end_delay);
}

void
smtp_quit(struct sess *s)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "221 %s closing connection\r\n", s->srvname);
	sess_cmd(s, "QUIT", "QUIT\r\n", sess_fast(s), buf);
	sess_close(s, 1);
}
