/*
 * traffic.c - mxlag-gen traffic: dense, long, multi-host mail traffic with
 * the truth of every slow reply (issue 12).
 *
 * N mail hosts 192.0.2.10, .11, ... (the first also 2001:db8::10), one
 * resolver 198.51.100.53 for all of them, clients all over 198.51.100.0/24,
 * 203.0.113.0/24 and 2001:db8::/32.  Every SMTP session makes its lookups
 * at the moment a real MTA makes them -- connect: ident, PTR of the client,
 * A/AAAA of the PTR name, DNSBL zones; HELO: A of the HELO name; MAIL: MX
 * of the sender domain, A of its MX host, SPF TXT; RCPT: one more DNSBL;
 * DATA-END: DKIM and DMARC TXT -- the first --lookups of them, answered
 * within milliseconds.  A POP3 session is tcpserver's: its own PTR (from 2
 * lookups on), the client's PTR, ident.  Incidents are injected with their
 * real protocol moment and retransmission timing (see the kinds below), so
 * a reply is slow (3-30 s) only for its injected cause; no fast reply comes
 * near 1 s.
 *
 * Sessions are generated in order of their start time, in "episodes" (one
 * session, or the few that belong together: a client that reconnects, one
 * client on several hosts at once).  Packets older than the next episode's
 * start are written out and each episode's truth is written and forgotten,
 * so memory stays flat whatever the length.
 *
 * The truth (--truth FILE.tsv): a header line, then one line per slow
 * reply (columns in TRUTH_HEADER); the totals go to FILE.tsv.totals (or
 * --totals) as "key<TAB>value" lines.  A cause is written in mxlag's words:
 * dns:RELATION:QTYPE:QNAME:RESOLVER, ident:PEER or none; cause_ts holds the
 * first transmission (SYN) of each, so that two lookups of one name are
 * told apart; upstream the resolver's own queries behind them
 * (--upstream: a resolver that is another machine on the mirror).
 *
 * Big messages (kind big-message): an episode on host H is an inbound
 * message of 10.5-14 MB whose final dot the host holds 3-6 s (label
 * big-message), one or two other inbound sessions on H whose DATA-END is
 * held 2-5 s while the big one is on the wire (big-meanwhile: asked within
 * 1.5 s before the big message's last byte or 1 s after it, answered after
 * that last byte, so the message is known big whenever mxlag judges the
 * wait), and, with 2 hosts or more, a content filter's hold of 3-8 s on
 * another host at the same time (big-other-host: cause none -- another
 * host's message is never a cause).  Their cause is written
 * big:CLIENT_PORT:CLIENT,SERVER (the big message's session; the comma
 * because an IPv6 address has colons), its cause_ts the start of that
 * session.  mxlag names a big
 * message for every reply of the same host with no lookup or probe to
 * blame that waited while it was on the wire (from its first byte to the
 * reply to its final dot), inbound replies only (not a remote MX's reply
 * to a delivery).  So that the truth stays exact, a big message is placed
 * only on a host with no other none-cause wait open and no other big
 * message (else postponed: it reserves a host, where no new none-cause wait
 * starts, and goes there once that host is free), and a content-filter or
 * outlived incident (plain, shared or relay) whose session would start on
 * a host while a big message loads it, or on a reserved host, is made an
 * ordinary session.  Totals: big_messages, .postponed, .hosts (how many
 * hosts had one), incidents.kept_off_big (the incidents made ordinary).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "dnsmsg.h"
#include "gen.h"

#define TR_MAX_HOSTS 32
#define TR_CLIENTS (GEN_V4_CLIENTS + GEN_V6_CLIENTS)
/* the sessions of an incident are over by then: no second incident of the
 * same client on the same host starts before */
#define TR_BUSY_NS SEC(45)
#define TR_MAX_LABELS 32

#define TRUTH_HEADER                                                                               \
	"client\tclient_port\tserver\tserver_port\tsession_"                                       \
	"start\thost\toutbound\tprotocol\tcommand"                                                 \
	"\trequest_ts\tlatency_ms\tkind\tcauses\tcause_ts\tupstream\tupstream_ts\n"

/* ---- incident kinds ---------------------------------------------------------- */

enum kind {
	K_CLIENT_PTR, /* client PTR unanswered: slow greeting */
	K_SELF_PTR,   /* tcpserver's PTR of its own address unanswered: slow POP3 greeting */
	K_IDENT,      /* ident SYNs dropped: slow greeting */
	K_DNSBL,      /* a DNSBL zone unanswered: slow greeting or RCPT */
	K_SENDER,     /* MX and A of the sender domain unanswered: slow MAIL */
	K_FILTER,     /* content filter holds DATA-END, no lookup: cause none */
	K_OUTLIVED,   /* PTR unanswered 3 s (slow greeting), DATA-END held 2-4 s later: none */
	K_RECONNECT,  /* the client gives up, reconnects 17 s later: the PTR again, slow answer */
	K_BIG,        /* a big message, its final dot held; others on the host meanwhile */
	K_NKINDS,
	K_NONE = K_NKINDS
};

/* where it happens: on one host, one client on several hosts at once, a
 * delivery from one monitored host to another */
enum scene { SC_PLAIN, SC_SHARED, SC_RELAY, SC_N };

/* the label of a slow reply (the truth's kind column) by scene and kind */
static const char *const labels[SC_N][K_NKINDS] = {
    {"client-ptr", "self-ptr", "ident", "dnsbl", "sender-domain", "content-filter", "outlived",
     "reconnect", "big-message"},
    {"shared-client-ptr", "shared-self-ptr", "shared-ident", "shared-dnsbl", "shared-sender-domain",
     "shared-content-filter", "shared-outlived", "shared-reconnect", "shared-big-message"},
    {"relay-client-ptr", "relay-self-ptr", "relay-ident", "relay-dnsbl", "relay-sender-domain",
     "relay-content-filter", "relay-outlived", "relay-reconnect", "relay-big-message"},
};
/* K_BIG: another session's reply on the host meanwhile; another host's
 * content filter meanwhile (cause none) */
static const char LABEL_BIG_MEANWHILE[] = "big-meanwhile";
static const char LABEL_BIG_OTHER_HOST[] = "big-other-host";
static const char LABEL_REMOTE[] = "remote-slow"; /* a remote MX's slow reply to a delivery */

/* how a resolver client retries a query that gets no answer */
struct stub {
	const char *name;
	int tries;
	uint64_t at[3];  /* the tries, from the first */
	uint64_t giveup; /* from the first */
	int new_id;      /* new id and port per try */
};

static const struct stub stubs[] = {
    {"glibc-5", 2, {0, SEC(5), 0}, SEC(10), 0}, /* options timeout:5 attempts:2 (default) */
    {"glibc-3", 2, {0, SEC(3), 0}, SEC(6), 0},
    {"glibc-2x3", 3, {0, SEC(2), SEC(4)}, SEC(6), 0},
};
#define NSTUBS ((int)(sizeof(stubs) / sizeof(stubs[0])))
static const struct stub stub_djbdns = {"djbdns", 3, {0, SEC(3), SEC(14)}, SEC(25), 1};
static const struct stub stub_3s = {"timeout:3 attempts:1", 1, {0, 0, 0}, SEC(3), 0};

/* ---- options and profiles ---------------------------------------------------- */

struct tr_opts {
	struct gen_options gen;
	const char *out, *truth, *totals, *profile;
	int hosts;
	double seconds, rate;
	int lookups;
	double mix[K_NKINDS]; /* percent of the episodes of the plain scene */
	int stub;             /* into stubs[], -1: each incident picks one */
	double pop3, v6, ident_probe, ident_refused;
	double shared, relay, outbound; /* percent of the episodes */
	int upstream;
};

struct profile {
	const char *name;
	const char *description;
	struct tr_opts o;
};

static const struct profile profiles[] = {
    {"light",
     "one host, 60 s, 50 sessions/s, 4 lookups, every incident kind now and then",
     {.hosts = 1,
      .seconds = 60,
      .rate = 50,
      .lookups = 4,
      .mix = {2, 0.5, 0.5, 0.5, 0.5, 1, 0.5, 0.3},
      .stub = -1,
      .pop3 = 15,
      .v6 = 10,
      .ident_probe = 3,
      .ident_refused = 5,
      .outbound = 3}},
    {"issue12",
     "issue 12 item 1: one host, 500 s, 200 SMTP/POP3 sessions/s, one PTR each, 5 % of them "
     "unanswered (glibc: a retransmission after 5 s, the greeting after 10 s), 10 % with an "
     "unanswered ident SYN",
     {.hosts = 1,
      .seconds = 500,
      .rate = 200,
      .lookups = 1,
      .mix = {[K_CLIENT_PTR] = 5},
      .stub = 0,
      .pop3 = 15,
      .v6 = 10,
      .ident_probe = 10}},
    {"dense",
     "one host, 600 s, 240 sessions/s, 10 lookups per SMTP session (> 2000 lookups/s), every "
     "single-host incident kind mixed, deliveries to remote MXes",
     {.hosts = 1,
      .seconds = 600,
      .rate = 240,
      .lookups = 10,
      .mix = {1.5, 0.3, 0.5, 0.5, 0.5, 0.7, 0.3, 0.2},
      .stub = -1,
      .pop3 = 10,
      .v6 = 15,
      .ident_probe = 5,
      .ident_refused = 5,
      .outbound = 3}},
    {"mirror",
     "a mirror port: 5 hosts, 180 s, 100 sessions/s, 6 lookups, shared resolver with its "
     "upstream queries on the wire, clients on several hosts at once with overlapping "
     "incidents, deliveries between the hosts and to remote MXes",
     {.hosts = 5,
      .seconds = 180,
      .rate = 100,
      .lookups = 6,
      .mix = {1.5, 0.3, 0.5, 0.5, 0.5, 0.7, 0.3, 0.2},
      .stub = -1,
      .pop3 = 10,
      .v6 = 10,
      .ident_probe = 3,
      .ident_refused = 5,
      .shared = 2.5,
      .relay = 4,
      .outbound = 4,
      .upstream = 1}},
};
#define NPROFILES ((int)(sizeof(profiles) / sizeof(profiles[0])))

/* ---- state ------------------------------------------------------------------- */

struct tr_host {
	struct pw_addr v4, v6; /* v6 == v4 when the host has no IPv6 address */
	int has_v6;
	char name[48];   /* banner, PTR target */
	char domain[40]; /* its recipients' domain */
	char addrs[80];  /* the truth's host column */
	char arpa[80];   /* reverse name of its IPv4 address */
	char ip[48];
	uint16_t eph;
	uint64_t *busy;      /* per client (and per host as a client): incident until */
	uint64_t none_until; /* the end of its latest wait with no lookup or probe to blame */
	uint64_t big_until;  /* the end of its latest big message's load (reply to its end) */
	int reserved;        /* kept free of new none-cause waits for a postponed big message */
	long nbig;           /* its big messages */
};

struct label_count {
	const char *label;
	long n;
};

struct totals {
	long sessions, smtp, pop3, ipv6, outbound, unanswered_connects, relay, shared;
	long lookups, lookups_unanswered, lookup_packets, upstream, upstream_unanswered;
	long ident, ident_unanswered, ident_retransmitted;
	long slow;
	long big, big_postponed, kept_off_big; /* K_BIG episodes; none incidents made ordinary */
	unsigned big_hosts;                    /* bit h: host h had a big message */
	struct label_count by_label[TR_MAX_LABELS];
	int nlabels;
};

struct dead {
	int q; /* truth index of the host's query */
	int up[T_MAXUP];
	int nup;
};

struct plan {
	int host;   /* the server */
	int client; /* client number; -1 - h: the monitored host h delivering */
	enum kind kind;
	enum scene scene;
	int pop3;
	int part; /* K_RECONNECT: 1 the session given up, 2 the one after */
	uint64_t start;
	/* K_BIG and the other sessions of its episode */
	uint64_t data_at;  /* the client sends DATA no earlier (0: at once) */
	size_t body;       /* the message's bytes (0: a small one) */
	int big;           /* K_BIG: truth index of the big message's session, -1: its own */
	const char *label; /* instead of the kind's */
	/* out: K_BIG's own session, its last body byte, its final dot's reply */
	int sess;
	uint64_t body_end, reply_at;
};

struct tr {
	struct tr_opts o;
	struct pw_sink *sink;
	struct gen g;
	struct truth ep; /* this episode's truth */
	int *ep_host;    /* host of each of its sessions */
	int ep_cap, ep_noted;
	struct tr_host host[TR_MAX_HOSTS];
	int cur;
	struct pw_addr resolver;
	uint16_t port[TR_CLIENTS];
	FILE *tsv;
	char *scratch;
	long dead_seq;    /* fresh names for dead sender domains */
	uint64_t ptr2_at; /* K_RECONNECT: when part 1 sent its PTR query */
	int big_pending;  /* K_BIG episodes rolled while no host was free for one */
	int nreserved;    /* hosts reserved for them */
	struct totals tot;
	size_t max_queued;
	int err;
};

/* ---- small helpers ----------------------------------------------------------- */

/* 1 with probability pct percent */
static int
pct(struct prng *r, double p)
{
	return p > 0 && (double)(prng_next(r) % 1000000) < p * 10000.0;
}

static void
fmt_ts(char *buf, size_t n, uint64_t ns)
{
	snprintf(buf, n, "%llu.%06llu", (unsigned long long)(ns / PW_NS_PER_S),
	         (unsigned long long)(ns % PW_NS_PER_S / 1000));
}

static uint64_t
ms_to_ns(double start_ms)
{
	return GEN_EPOCH_NS + (uint64_t)(start_ms * 1e6 + 0.5);
}

static void
use_host(struct tr *tf, int h)
{
	struct gen *g = &tf->g;

	tf->host[tf->cur].eph = g->eph;
	tf->cur = h;
	g->host = tf->host[h].v4;
	g->host6 = tf->host[h].v6;
	g->hostname = tf->host[h].name;
	g->eph = tf->host[h].eph;
}

/* Records the host of every truth session added since the last call. */
static void
note_host(struct tr *tf, int h)
{
	if (tf->ep.nsess > tf->ep_cap) {
		int nc = tf->ep.nsess * 2;
		int *n = realloc(tf->ep_host, (size_t)nc * sizeof(*n));
		if (!n)
			abort();
		tf->ep_host = n;
		tf->ep_cap = nc;
	}
	for (; tf->ep_noted < tf->ep.nsess; tf->ep_noted++)
		tf->ep_host[tf->ep_noted] = h;
}

static struct pw_addr
client_addr(const struct tr *tf, int c)
{
	if (c < 0)
		return tf->host[-1 - c].v4;
	return c < GEN_V4_CLIENTS ? gen_client_v4((unsigned)c)
	                          : gen_client_v6((unsigned)(c - GEN_V4_CLIENTS));
}

static int
busy_index(int c)
{
	return c < 0 ? TR_CLIENTS + (-1 - c) : c;
}

/* The client's PTR target. */
static void
client_name(const struct tr *tf, int c, const struct pw_addr *a, char *buf, size_t n)
{
	if (c < 0)
		snprintf(buf, n, "%s", tf->host[-1 - c].name);
	else if (a->v6)
		snprintf(buf, n, "v6-%02x%02x%02x.dyn.example.net", a->b[7], a->b[14], a->b[15]);
	else
		snprintf(buf, n, "host-%u-%u.example.net", a->b[2], a->b[3]);
}

/* DNSBL query name: the client's reversed address under zone. */
static void
dnsbl_name(const struct pw_addr *cli, const char *zone, char *buf, size_t n)
{
	char ptr[96];
	size_t l;

	pw_addr_ptrname(cli, ptr, sizeof(ptr));
	l = strlen(ptr) - strlen(cli->v6 ? "ip6.arpa" : "in-addr.arpa");
	snprintf(buf, n, "%.*s%s", (int)l, ptr, zone);
}

/* DNSBL zones: the first two asked at connect, then one at RCPT, then
 * (past 11 lookups) the others at connect */
static const char *const bl_zones[] = {"zen.dnsbl.example",    "b.barracuda.example",
                                       "bl.spamcop.example",   "dnsbl.sorbs.example",
                                       "psbl.surriel.example", "ix.dnsbl.example",
                                       "bl.mailspike.example", "truncate.gbudb.example"};
#define NZONES ((int)(sizeof(bl_zones) / sizeof(bl_zones[0])))
#define RCPT_ZONE 2
#define MAX_LOOKUPS (11 + NZONES - 3)
static const char DEAD_ZONE[] = "rbl.unreachable.example";

/* ---- lookups ----------------------------------------------------------------- */

/* The authoritative server the resolver asks for qname. */
static struct pw_addr
auth_for(const char *qname, int i)
{
	size_t n = strlen(qname);

	if (n > 5 && strcmp(qname + n - 5, ".arpa") == 0)
		return pw_ip(i % 2 ? "192.175.48.42" : "192.175.48.6");
	return pw_ip(i % 2 ? "192.0.2.244" : "192.0.2.243");
}

static const struct stub *
pick_stub(struct tr *tf)
{
	if (tf->o.stub >= 0)
		return &stubs[tf->o.stub];
	return &stubs[prng_next(&tf->g.rng) % NSTUBS];
}

/*
 * A lookup answered after answer_ns (0: within milliseconds); with
 * --upstream a third of them are cache misses that the resolver first
 * asks an authoritative server about.  *t moves past the answer and the
 * server's own work after it.  Returns the truth index of the query.
 */
static int
ask_after(struct tr *tf, uint64_t *t, const char *qname, uint16_t qtype, int rcode,
          const char *answer, uint64_t answer_ns)
{
	struct gen *g = &tf->g;
	uint64_t dt = answer_ns ? answer_ns : US(prng_range(&g->rng, 300, 12000));
	int idx;

	if (tf->o.upstream && prng_chance(&g->rng, 330)) {
		struct pw_addr auth = auth_for(qname, (int)(prng_next(&g->rng) & 1));
		uint64_t tu = *t + US(prng_range(&g->rng, 100, 400));
		struct dns_spec u = {.from = &tf->resolver,
		                     .resolver = &auth,
		                     .qname = qname,
		                     .qtype = qtype,
		                     .tries = 1,
		                     .rcode = rcode,
		                     .answer_ns = dt > MS(1) ? dt - MS(1)
		                                             : US(prng_range(&g->rng, 2000, 9000)),
		                     .answer = answer,
		                     .upstream = 1};
		gen_dns(g, &tu, &u);
		if (tu + US(100) - *t > dt)
			dt = tu + US(100) - *t;
		tf->tot.upstream++;
	}
	{
		struct dns_spec d = {.qname = qname,
		                     .qtype = qtype,
		                     .tries = 1,
		                     .rcode = rcode,
		                     .answer_ns = dt,
		                     .answer = answer};
		idx = gen_dns(g, t, &d);
	}
	tf->tot.lookups++;
	tf->tot.lookup_packets++;
	*t += US(prng_range(&g->rng, 30, 120));
	return idx;
}

static int
ask(struct tr *tf, uint64_t *t, const char *qname, uint16_t qtype, int rcode, const char *answer)
{
	return ask_after(tf, t, qname, qtype, rcode, answer, 0);
}

/*
 * A lookup that gets no answer: the tries of stub st, *t then at its give-up
 * time.  With --upstream the resolver keeps asking authoritative servers
 * that do not answer (unbound-like backoff) while the host waits.
 */
static struct dead
ask_dead(struct tr *tf, uint64_t *t, const char *qname, uint16_t qtype, const struct stub *st)
{
	static const uint64_t hop_at[] = {US(300),  MS(800),  MS(2000),
	                                  MS(4500), MS(9000), MS(18000)};
	struct gen *g = &tf->g;
	struct dead d = {.q = -1};
	uint64_t t0 = *t;
	struct dns_spec q = {.qname = qname,
	                     .qtype = qtype,
	                     .tries = st->tries,
	                     .at_ns = st->at,
	                     .retry_ns = st->giveup - st->at[st->tries - 1],
	                     .new_id = st->new_id,
	                     .rcode = -1};

	d.q = gen_dns(g, t, &q);
	tf->tot.lookups++;
	tf->tot.lookups_unanswered++;
	tf->tot.lookup_packets += st->tries;
	for (int i = 0; tf->o.upstream && i < (int)(sizeof(hop_at) / sizeof(hop_at[0])); i++) {
		uint64_t tu = t0 + hop_at[i];
		struct pw_addr auth = auth_for(qname, i);
		struct dns_spec u = {.from = &tf->resolver,
		                     .resolver = &auth,
		                     .qname = qname,
		                     .qtype = qtype,
		                     .tries = 1,
		                     .retry_ns = SEC(3),
		                     .rcode = -1,
		                     .upstream = 1};
		if (hop_at[i] >= st->giveup)
			break;
		d.up[d.nup++] = gen_dns(g, &tu, &u);
		tf->tot.upstream++;
		tf->tot.upstream_unanswered++;
	}
	*t += US(prng_range(&g->rng, 30, 120));
	return d;
}

static void
blame(struct truth_slow *sl, const struct dead *d, const char *relation)
{
	struct truth_cause *c = truth_cause_dns(sl, d->q, relation);

	for (int i = 0; i < d->nup; i++)
		truth_cause_upstream(c, d->up[i]);
}

/* A reply the plan made slow; one that came out fast is a generator bug. */
static struct truth_slow *
planned(struct tr *tf, struct truth_slow *sl, const char *label)
{
	if (!sl) {
		fprintf(stderr, "mxlag-gen: traffic: a planned %s reply came out fast\n", label);
		tf->err = 1;
		return NULL;
	}
	sl->label = label;
	return sl;
}

static int
ident(struct tr *tf, uint64_t *t, const struct sess *s, enum ident_outcome o, int retrans,
      uint64_t timeout)
{
	const struct pw_addr *cli = &s->c.addr[0];
	struct tr_host *h = &tf->host[tf->cur];

	tf->tot.ident++;
	tf->tot.ident_unanswered += o == IDENT_UNANSWERED;
	return gen_ident(&tf->g, t, cli->v6 ? &h->v6 : &h->v4, cli, s->c.port[0], s->c.port[1], o,
	                 retrans, timeout, s->rtt);
}

/* ---- one inbound session ----------------------------------------------------- */

static struct truth_slow *
pop3_greeting(struct sess *s, uint64_t at)
{
	char line[96];
	struct truth_slow *sl;

	snprintf(line, sizeof(line), "+OK <%u.%u@%s>\r\n",
	         (unsigned)(prng_next(&s->g->rng) % 90000), (unsigned)(s->req_t / PW_NS_PER_S),
	         s->g->hostname);
	sl = sess_reply_at(s, at, "GREETING", line, strlen(line));
	sess_quickack(s);
	return sl;
}

/*
 * The server's work at connect, up to the banner.  Returns the time the
 * banner goes out; *dq is the query (and *id the probe) an incident left
 * unanswered; *small the short unanswered ident probe (given up within
 * 0.35 s) of a session without an ident incident, and *small_ns how long
 * the server waited for it: a part of the greeting's wait all the same.
 */
static uint64_t
at_connect(struct tr *tf, const struct plan *p, struct sess *s, struct dead *dq, int *id,
           int *small, uint64_t *small_ns)
{
	struct gen *g = &tf->g;
	struct tr_host *h = &tf->host[p->host];
	const struct pw_addr *cli = &s->c.addr[0];
	uint64_t t = s->req_t + US(prng_range(&g->rng, 150, 600));
	int n = tf->o.lookups;
	char ptr[96], name[80], ip[48];
	int ptr_ok = 1;

	pw_addr_ptrname(cli, ptr, sizeof(ptr));
	pw_addr_fmt(cli, ip, sizeof(ip));
	client_name(tf, p->client, cli, name, sizeof(name));
	/* exim: ident before the host lookup; tcpserver: its own name first */
	if (p->pop3 && p->kind == K_SELF_PTR)
		*dq = ask_dead(tf, &t, h->arpa, DNS_T_PTR, &stub_djbdns);
	else if (p->pop3 && n >= 2)
		ask(tf, &t, h->arpa, DNS_T_PTR, DNS_R_NOERROR, h->name);
	if (!p->pop3) {
		if (p->kind == K_IDENT)
			*id = ident(tf, &t, s, IDENT_UNANSWERED, 4,
			            SEC(prng_range(&g->rng, 1, 2) * 5));
		else if (pct(&g->rng, tf->o.ident_refused))
			ident(tf, &t, s, IDENT_REFUSED, 0, SEC(5));
		else if (pct(&g->rng, tf->o.ident_probe)) {
			uint64_t t0 = t;
			*small = ident(tf, &t, s, IDENT_UNANSWERED, 0,
			               MS(prng_range(&g->rng, 200, 350)));
			*small_ns = t - t0;
		}
	}
	if (p->kind == K_CLIENT_PTR || p->kind == K_OUTLIVED ||
	    (p->kind == K_RECONNECT && p->part == 1)) {
		if (p->part == 1)
			tf->ptr2_at = t + SEC(17);
		*dq = ask_dead(tf, &t, ptr, DNS_T_PTR,
		               p->kind == K_OUTLIVED    ? &stub_3s
		               : p->kind == K_RECONNECT ? &stubs[0]
		                                        : pick_stub(tf));
		ptr_ok = 0;
	} else if (p->kind == K_RECONNECT) {
		/* the same name again, 17 s after the first lookup: answered, slowly */
		struct dead d = {.q = -1};
		if (t < tf->ptr2_at)
			t = tf->ptr2_at;
		d.q = ask_after(tf, &t, ptr, DNS_T_PTR, DNS_R_NOERROR, name,
		                MS(prng_range(&g->rng, 2000, 4000)));
		*dq = d;
	} else if (n >= 1) {
		ask(tf, &t, ptr, DNS_T_PTR, DNS_R_NOERROR, name);
	}
	if (p->pop3) {
		if (p->kind == K_IDENT)
			*id = ident(tf, &t, s, IDENT_UNANSWERED, 4, SEC(26));
		else if (pct(&g->rng, tf->o.ident_refused))
			ident(tf, &t, s, IDENT_REFUSED, 0, SEC(5));
		else if (pct(&g->rng, tf->o.ident_probe)) {
			uint64_t t0 = t;
			*small = ident(tf, &t, s, IDENT_UNANSWERED, 0,
			               MS(prng_range(&g->rng, 200, 350)));
			*small_ns = t - t0;
		}
		return t + US(prng_range(&g->rng, 40, 200));
	}
	if (ptr_ok && n >= 2)
		ask(tf, &t, name, cli->v6 ? DNS_T_AAAA : DNS_T_A, DNS_R_NOERROR, ip);
	for (int z = 0, nz = (n >= 3) + (n >= 4) + (n > 11 ? n - 11 : 0); z < nz; z++) {
		char bl[160];
		dnsbl_name(cli, bl_zones[z < RCPT_ZONE ? z : z + 1], bl, sizeof(bl));
		ask(tf, &t, bl, DNS_T_A, DNS_R_NXDOMAIN, NULL);
	}
	if (p->kind == K_DNSBL && p->part == 0) {
		char bl[160];
		dnsbl_name(cli, DEAD_ZONE, bl, sizeof(bl));
		*dq = ask_dead(tf, &t, bl, DNS_T_A, pick_stub(tf));
	}
	return t + US(prng_range(&g->rng, 40, 200));
}

/* The HELO check (from 5 lookups on); returns when it is done. */
static uint64_t
helo_lookups(struct tr *tf, struct sess *s, const char *helo)
{
	struct gen *g = &tf->g;
	uint64_t t = s->req_t + US(prng_range(&g->rng, 60, 250));
	char ip[48];

	pw_addr_fmt(&s->c.addr[0], ip, sizeof(ip));
	if (tf->o.lookups >= 5)
		ask(tf, &t, helo, DNS_T_A, DNS_R_NOERROR, s->c.addr[0].v6 ? NULL : ip);
	return t;
}

/* Host h has a wait with no lookup or probe to blame until end. */
static void
none_wait(struct tr *tf, int h, uint64_t end)
{
	if (end > tf->host[h].none_until)
		tf->host[h].none_until = end;
}

static void
inbound(struct tr *tf, struct plan *p)
{
	struct gen *g = &tf->g;
	struct tr_host *h;
	struct pw_addr cli = client_addr(tf, p->client);
	uint16_t cport;
	struct sess s;
	struct dead dq = {.q = -1}, dq2 = {.q = -1};
	struct truth_slow *sl;
	const char *const *lab = labels[p->scene];
	char line[256], helo[80], from[96], to[96], sender[48];
	int id = -1, small = -1, n = tf->o.lookups;
	uint64_t t, rtt, small_ns = 0;

	/* no none-cause wait on a host while a big message loads it (the big
	 * message would be its cause) */
	if ((p->kind == K_FILTER || p->kind == K_OUTLIVED) && !p->label &&
	    (tf->host[p->host].big_until > p->start || tf->host[p->host].reserved)) {
		p->kind = K_NONE;
		tf->tot.kept_off_big++;
	}
	if (p->client < 0) {
		use_host(tf, -1 - p->client);
		cport = gen_ephemeral(g);
		rtt = US(prng_range(&g->rng, 150, 600));
	} else {
		cport = gen_client_port(&tf->port[p->client], &g->rng);
		rtt = US(prng_range(&g->rng, 8000, 120000));
	}
	use_host(tf, p->host);
	h = &tf->host[p->host];
	g->no_ts = prng_chance(&g->rng, 600);
	sess_open(&s, g, p->pop3 ? "pop3" : "smtp", &cli, cport, cli.v6 ? &h->v6 : &h->v4,
	          p->pop3 ? 110 : 25, p->start, rtt, 0);
	p->sess = tf->ep.nsess - 1;
	note_host(tf, p->host);
	t = at_connect(tf, p, &s, &dq, &id, &small, &small_ns);

	/* the greeting */
	if (p->kind == K_RECONNECT && p->part == 1) {
		/* the client gives up after 8 s; the server's banner after its
		 * lookup timed out meets a closed socket */
		char banner[128];
		sl = planned(tf, sess_client_abort(&s, s.req_t + SEC(8), "GREETING"),
		             lab[K_CLIENT_PTR]);
		blame(sl, &dq, "client-ptr");
		snprintf(banner, sizeof(banner), "220 %s ESMTP Exim 4.96\r\n", h->name);
		pw_tcp_send(g->sink, &s.c, 1, t, banner, strlen(banner), US(12), 0);
		pw_tcp_rst(g->sink, &s.c, 0, t + s.rtt, 0);
		return;
	}
	sl = p->pop3 ? pop3_greeting(&s, t) : smtp_greeting(&s, t);
	/* a slow greeting also waited for the short ident probe: a cause when
	   it took 5 % of the wait or more (as mxlag's checker counts causes) */
	if (sl && small >= 0 && (double)small_ns / 1e6 >= 0.05 * sl->latency_ms)
		truth_cause_ident(sl, small);
	switch (p->kind) {
	case K_CLIENT_PTR:
	case K_OUTLIVED:
		blame(planned(tf, sl, lab[K_CLIENT_PTR]), &dq, "client-ptr");
		break;
	case K_RECONNECT:
		blame(planned(tf, sl, lab[K_RECONNECT]), &dq, "client-ptr");
		break;
	case K_SELF_PTR:
		blame(planned(tf, sl, lab[K_SELF_PTR]), &dq, "self-ptr");
		break;
	case K_IDENT:
		truth_cause_ident(planned(tf, sl, lab[K_IDENT]), id);
		break;
	case K_DNSBL:
		if (p->part == 0)
			blame(planned(tf, sl, lab[K_DNSBL]), &dq, "dnsbl");
		break;
	default:
		break;
	}
	if (p->pop3) {
		pop3_mailbox(&s, (unsigned)prng_range(&g->rng, 0, 1), tf->scratch);
		return;
	}

	/* HELO */
	if (p->client < 0)
		snprintf(helo, sizeof(helo), "%s", tf->host[-1 - p->client].name);
	else
		snprintf(helo, sizeof(helo), "smtp%u.sender%u.example",
		         (unsigned)prng_range(&g->rng, 1, 9), (unsigned)(prng_next(&g->rng) % 300));
	snprintf(line, sizeof(line), "EHLO %s\r\n", helo);
	sess_sendstr(&s, line);
	t = helo_lookups(tf, &s, helo);
	smtp_ehlo_reply(&s, helo, t + US(prng_range(&g->rng, 30, 150)) - s.req_t);

	/* MAIL: the sender domain */
	if (p->kind == K_SENDER)
		snprintf(sender, sizeof(sender), "dead%ld.example", ++tf->dead_seq);
	else if (p->client < 0)
		snprintf(sender, sizeof(sender), "%s", tf->host[-1 - p->client].domain);
	else
		snprintf(sender, sizeof(sender), "sender%u.example",
		         (unsigned)(prng_next(&g->rng) % 300));
	snprintf(from, sizeof(from), "user%u@%s", (unsigned)(prng_next(&g->rng) % 5000), sender);
	snprintf(line, sizeof(line), "MAIL FROM:<%s>\r\n", from);
	sess_sendstr(&s, line);
	t = s.req_t + US(prng_range(&g->rng, 60, 250));
	if (p->kind == K_SENDER) {
		const struct stub *st = pick_stub(tf);
		dq = ask_dead(tf, &t, sender, DNS_T_MX, st);
		dq2 = ask_dead(tf, &t, sender, DNS_T_A, st);
	} else {
		char mx[64];
		snprintf(mx, sizeof(mx), "mx.%s", sender);
		if (n >= 6)
			ask(tf, &t, sender, DNS_T_MX, DNS_R_NOERROR, mx);
		if (n >= 7)
			ask(tf, &t, mx, DNS_T_A, DNS_R_NOERROR, "203.0.113.250");
		if (n >= 8)
			ask(tf, &t, sender, DNS_T_TXT, DNS_R_NOERROR, "v=spf1 mx -all");
	}
	sl = sess_reply_at(&s, t + US(prng_range(&g->rng, 30, 150)), "MAIL", "250 OK\r\n", 8);
	if (p->kind == K_SENDER) {
		sl = planned(tf, sl, lab[K_SENDER]);
		blame(sl, &dq, "sender-domain");
		blame(sl, &dq2, "sender-domain");
	}

	/* RCPT */
	snprintf(to, sizeof(to), "user%u@%s", (unsigned)(prng_next(&g->rng) % 800), h->domain);
	snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", to);
	sess_sendstr(&s, line);
	t = s.req_t + US(prng_range(&g->rng, 60, 250));
	if (n >= 9) {
		char bl[160];
		dnsbl_name(&cli, bl_zones[RCPT_ZONE], bl, sizeof(bl));
		ask(tf, &t, bl, DNS_T_A, DNS_R_NXDOMAIN, NULL);
	}
	if (p->kind == K_DNSBL && p->part == 1) {
		char bl[160];
		dnsbl_name(&cli, DEAD_ZONE, bl, sizeof(bl));
		dq = ask_dead(tf, &t, bl, DNS_T_A, pick_stub(tf));
	}
	if (p->kind == K_NONE && prng_chance(&g->rng, 80)) {
		sess_reply_at(&s, t + MS(prng_range(&g->rng, 1, 20)), "RCPT",
		              "550 5.1.1 Unknown user\r\n", 24);
		smtp_quit(&s);
		return;
	}
	sl =
	    sess_reply_at(&s, t + US(prng_range(&g->rng, 30, 150)), "RCPT", "250 Accepted\r\n", 14);
	if (p->kind == K_DNSBL && p->part == 1)
		blame(planned(tf, sl, lab[K_DNSBL]), &dq, "dnsbl");

	/* DATA, the body and its end */
	if (p->data_at && s.t < p->data_at)
		s.t = p->data_at;
	if (p->body) /* a big one: about 3 MB/s */
		s.cli_gap = US(prng_range(&g->rng, 400, 480));
	smtp_data_body(&s, from, to, p->body ? p->body : (size_t)prng_range(&g->rng, 200, 1400));
	if (p->kind == K_BIG) {
		/* the host holds the reply while the big message loads it; no lookup */
		uint64_t hold = p->big < 0 ? MS(prng_range(&g->rng, 3000, 6000))
		                           : MS(prng_range(&g->rng, 2000, 5000));
		struct truth_cause *c;
		sl = planned(tf, smtp_data_end_at(&s, s.req_t + hold),
		             p->label ? p->label : lab[K_BIG]);
		c = truth_cause_big(sl);
		if (c)
			c->sess = p->big < 0 ? p->sess : p->big;
		p->body_end = s.req_t;
		p->reply_at = s.req_t + hold;
	} else if (p->kind == K_FILTER || p->kind == K_OUTLIVED) {
		/* the content filter holds the reply; no lookup at all */
		uint64_t hold = p->label              ? MS(prng_range(&g->rng, 3000, 8000))
		                : p->kind == K_FILTER ? MS(prng_range(&g->rng, 3000, 30000))
		                                      : MS(prng_range(&g->rng, 2000, 4000));
		sl = planned(tf, smtp_data_end_at(&s, s.req_t + hold),
		             p->label ? p->label : lab[p->kind]);
		truth_cause_none(sl);
		none_wait(tf, p->host, s.req_t + hold + MS(50));
		p->body_end = s.req_t;
		p->reply_at = s.req_t + hold;
	} else {
		char key[96];
		t = s.req_t + US(prng_range(&g->rng, 60, 250));
		if (n >= 10) {
			snprintf(key, sizeof(key), "s%u._domainkey.%s",
			         (unsigned)prng_range(&g->rng, 1, 3), sender);
			ask(tf, &t, key, DNS_T_TXT, DNS_R_NOERROR,
			    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3");
		}
		if (n >= 11) {
			snprintf(key, sizeof(key), "_dmarc.%s", sender);
			ask(tf, &t, key, DNS_T_TXT, DNS_R_NOERROR, "v=DMARC1; p=none");
		}
		smtp_data_end_at(&s, t + US(prng_range(&g->rng, 200, 3000)));
	}
	smtp_quit(&s);
}

/* ---- episodes ---------------------------------------------------------------- */

static enum kind
roll_kind(struct tr *tf, const double *mix)
{
	double r = (double)(prng_next(&tf->g.rng) % 1000000) / 10000.0;

	for (int k = 0; k < K_NKINDS; k++) {
		if (r < mix[k])
			return (enum kind)k;
		r -= mix[k];
	}
	return K_NONE;
}

/* A client for host h; for an incident one with no other incident on h
 * running (else the truth could not tell two of them apart): -2 - c when
 * none was found, c the last one tried. */
static int
pick_client(struct tr *tf, int h, int incident, uint64_t t, int v4_only)
{
	struct gen *g = &tf->g;
	struct tr_host *host = &tf->host[h];
	int c = 0;

	for (int tries = 0; tries < 16; tries++) {
		if (!v4_only && host->has_v6 && pct(&g->rng, tf->o.v6))
			c = GEN_V4_CLIENTS + (int)(prng_next(&g->rng) % GEN_V6_CLIENTS);
		else
			c = (int)(prng_next(&g->rng) % GEN_V4_CLIENTS);
		if (!incident)
			return c;
		if (host->busy[c] <= t) {
			host->busy[c] = t + TR_BUSY_NS;
			return c;
		}
	}
	return -2 - c;
}

static int
is_smtp_only(enum kind k)
{
	return k == K_DNSBL || k == K_SENDER || k == K_FILTER || k == K_OUTLIVED ||
	       k == K_RECONNECT || k == K_BIG;
}

static void
set_protocol(struct tr *tf, struct plan *p)
{
	struct prng *r = &tf->g.rng;

	if (p->kind == K_SELF_PTR)
		p->pop3 = 1;
	else if (is_smtp_only(p->kind) || p->client < 0)
		p->pop3 = 0;
	else
		p->pop3 = pct(r, tf->o.pop3);
	if (p->kind == K_DNSBL)
		p->part = (int)(prng_next(r) & 1); /* 0: at connect, 1: at RCPT */
}

/* A host free for a big message at t: no none-cause wait open, no big
 * message loading it. */
static int
free_for_big(const struct tr *tf, int h, uint64_t t)
{
	return tf->host[h].none_until <= t && tf->host[h].big_until <= t;
}

/*
 * Postponed big messages each reserve a host (all but one host at most): no
 * new none-cause wait starts there, so it is free for one within 30 s.
 * The host with the fewest big messages so far, of those the one whose
 * none-cause waits end first.
 */
static void
reserve_for_big(struct tr *tf)
{
	int nh = tf->o.hosts, want = tf->big_pending < (nh > 1 ? nh - 1 : 1)
	                                 ? tf->big_pending
	                                 : (nh > 1 ? nh - 1 : 1);

	while (tf->nreserved < want) {
		int best = -1;
		for (int h = 0; h < nh; h++)
			if (!tf->host[h].reserved &&
			    (best < 0 || tf->host[h].nbig < tf->host[best].nbig ||
			     (tf->host[h].nbig == tf->host[best].nbig &&
			      tf->host[h].none_until < tf->host[best].none_until)))
				best = h;
		tf->host[best].reserved = 1;
		tf->nreserved++;
	}
	for (int h = nh - 1; h >= 0 && tf->nreserved > want; h--)
		if (tf->host[h].reserved) {
			tf->host[h].reserved = 0;
			tf->nreserved--;
		}
}

/* A client (IPv4) for an incident on host h. */
static int
big_client(struct tr *tf, int h, uint64_t t)
{
	int c = pick_client(tf, h, 1, t, 1);
	return c < 0 ? -2 - c : c;
}

/* The window in which another session's DATA-END request falls: from 1.5 s
 * before the big message's last byte to 1 s after it (its request then
 * comes a round trip later). */
static uint64_t
meanwhile_at(struct tr *tf, const struct plan *big)
{
	return big->body_end - MS(1500) + MS(prng_range(&tf->g.rng, 0, 2500));
}

/*
 * A big message on a host with nothing else that could be blamed on it
 * (K_BIG), one or two other sessions there held meanwhile, another host's
 * content filter at the same time.  Returns the sessions, 0 when no host is
 * free for it.
 */
static int
ep_big(struct tr *tf, uint64_t t)
{
	struct gen *g = &tf->g;
	int nh = tf->o.hosts, h0 = (int)(prng_next(&g->rng) % (unsigned)nh), h = -1, n = 1, m;
	struct plan big = {.kind = K_BIG, .big = -1, .start = t};

	/* a host reserved for it first */
	for (int pass = 0; pass < 2 && h < 0; pass++)
		for (int i = 0; i < nh && h < 0; i++)
			if ((pass || tf->host[(h0 + i) % nh].reserved) &&
			    free_for_big(tf, (h0 + i) % nh, t))
				h = (h0 + i) % nh;
	if (h < 0)
		return 0;
	if (tf->host[h].reserved) {
		tf->host[h].reserved = 0;
		tf->nreserved--;
	}
	big.host = h;
	big.client = big_client(tf, h, t);
	big.body = (size_t)prng_range(&g->rng, 10500000, 14000000);
	set_protocol(tf, &big);
	inbound(tf, &big);
	tf->host[h].big_until = big.reply_at + MS(50);
	tf->tot.big++;
	tf->tot.big_hosts |= 1u << h;
	tf->host[h].nbig++;
	m = 1 + (int)(prng_next(&g->rng) & 1);
	for (int i = 0; i < m; i++, n++) {
		struct plan q = {
		    .host = h, .kind = K_BIG, .big = big.sess, .label = LABEL_BIG_MEANWHILE};
		q.start = t + MS(prng_range(&g->rng, 0, 400));
		q.client = big_client(tf, h, t);
		q.data_at = meanwhile_at(tf, &big);
		set_protocol(tf, &q);
		inbound(tf, &q);
		none_wait(tf, h, q.reply_at + MS(50));
		/* asked while the message was on the wire, answered when all of it was */
		if (q.body_end + MS(1600) < big.body_end || q.body_end + MS(1500) > big.reply_at ||
		    q.reply_at < big.body_end + MS(100)) {
			fprintf(stderr, "mxlag-gen: traffic: a big-meanwhile wait missed the big "
			                "message\n");
			tf->err = 1;
		}
	}
	/* another host's content filter meanwhile: never this message's doing */
	for (int i = 0, o0 = (int)(prng_next(&g->rng) % (unsigned)nh); nh >= 2 && i < nh; i++) {
		int o = (o0 + i) % nh;
		struct plan q = {.host = o, .kind = K_FILTER, .label = LABEL_BIG_OTHER_HOST};
		if (o == h || tf->host[o].big_until > t)
			continue;
		q.start = t + MS(prng_range(&g->rng, 0, 400));
		q.client = big_client(tf, o, t);
		q.data_at = meanwhile_at(tf, &big);
		set_protocol(tf, &q);
		inbound(tf, &q);
		n++;
		break;
	}
	return n;
}

/* One client on one host, or the client that reconnects (2 sessions). */
static int
ep_plain(struct tr *tf, uint64_t t)
{
	struct plan p = {.start = t};

	p.host = (int)(prng_next(&tf->g.rng) % (unsigned)tf->o.hosts);
	p.kind = roll_kind(tf, tf->o.mix);
	if (p.kind == K_BIG) {
		int n = ep_big(tf, t);
		if (n)
			return n;
		/* no host free for it now: later, and an ordinary session now */
		tf->big_pending++;
		tf->tot.big_postponed++;
		reserve_for_big(tf);
		p.kind = K_NONE;
	}
	p.client = pick_client(tf, p.host, p.kind != K_NONE, t, 0);
	if (p.client < 0) {
		p.client = -2 - p.client;
		p.kind = K_NONE;
	}
	set_protocol(tf, &p);
	if (p.kind != K_RECONNECT) {
		inbound(tf, &p);
		return 1;
	}
	p.part = 1;
	inbound(tf, &p);
	p.part = 2;
	p.start = t + SEC(17);
	inbound(tf, &p);
	return 2;
}

/* One client on 2-4 hosts at once, with incidents overlapping in time. */
static int
ep_shared(struct tr *tf, uint64_t t)
{
	static const enum kind pool[] = {K_CLIENT_PTR, K_FILTER,   K_IDENT, K_DNSBL,
	                                 K_SENDER,     K_OUTLIVED, K_NONE};
	struct gen *g = &tf->g;
	int nh = tf->o.hosts, k = 2 + (int)(prng_next(&g->rng) % 3), chosen[TR_MAX_HOSTS];
	int c = (int)(prng_next(&g->rng) % GEN_V4_CLIENTS);

	if (k > nh)
		k = nh;
	for (int i = 0; i < k; i++) {
		int h;
		int again;
		do {
			h = (int)(prng_next(&g->rng) % (unsigned)nh);
			again = 0;
			for (int j = 0; j < i; j++)
				again |= chosen[j] == h;
		} while (again);
		chosen[i] = h;
	}
	/* a client with no incident running on any of them */
	for (int tries = 0; tries < 16; tries++) {
		int free_all = 1;
		for (int i = 0; i < k; i++)
			free_all &= tf->host[chosen[i]].busy[c] <= t;
		if (free_all)
			break;
		c = (int)(prng_next(&g->rng) % GEN_V4_CLIENTS);
	}
	for (int i = 0; i < k; i++) {
		struct plan p = {.host = chosen[i], .client = c, .scene = SC_SHARED};
		int n = (int)(sizeof(pool) / sizeof(pool[0]));
		p.kind = pool[prng_next(&g->rng) % (unsigned)(i < 2 ? n - 1 : n)];
		if (tf->host[p.host].busy[c] > t)
			p.kind = K_NONE;
		else if (p.kind != K_NONE)
			tf->host[p.host].busy[c] = t + TR_BUSY_NS;
		p.start = t + MS(prng_range(&g->rng, 0, 400));
		set_protocol(tf, &p);
		inbound(tf, &p);
	}
	tf->tot.shared++;
	return k;
}

/* A monitored host delivers to another one: outbound for the first,
 * inbound (and the second's waits) for the other. */
static int
ep_relay(struct tr *tf, uint64_t t)
{
	struct gen *g = &tf->g;
	int a = (int)(prng_next(&g->rng) % (unsigned)tf->o.hosts), b;
	struct plan p = {.start = t, .scene = SC_RELAY};
	double mix[K_NKINDS];

	do
		b = (int)(prng_next(&g->rng) % (unsigned)tf->o.hosts);
	while (b == a);
	/* the deliverer's own lookups: the MX of the other's domain and its address */
	use_host(tf, a);
	ask(tf, &t, tf->host[b].domain, DNS_T_MX, DNS_R_NOERROR, tf->host[b].name);
	ask(tf, &t, tf->host[b].name, DNS_T_A, DNS_R_NOERROR, tf->host[b].ip);
	memcpy(mix, tf->o.mix, sizeof(mix));
	mix[K_SELF_PTR] = mix[K_RECONNECT] = mix[K_BIG] = 0;
	p.host = b;
	p.client = -1 - a;
	p.kind = roll_kind(tf, mix);
	if (p.kind != K_NONE) {
		uint64_t *busy = &tf->host[b].busy[busy_index(p.client)];
		if (*busy > t)
			p.kind = K_NONE;
		else
			*busy = t + TR_BUSY_NS;
	}
	p.start = t + US(prng_range(&g->rng, 100, 400));
	set_protocol(tf, &p);
	inbound(tf, &p);
	tf->tot.relay++;
	return 1;
}

/* A host's delivery to a remote MX: answered, dead, or slow at DATA-END. */
static int
ep_outbound(struct tr *tf, uint64_t t)
{
	struct gen *g = &tf->g;
	int h = (int)(prng_next(&g->rng) % (unsigned)tf->o.hosts);
	unsigned u = (unsigned)(prng_next(&g->rng) % 200);
	char dom[32], mx[40], ip[20], from[64], to[64];
	struct pw_addr dst;
	unsigned roll = (unsigned)(prng_next(&g->rng) % 100);
	struct sess s;

	snprintf(dom, sizeof(dom), "r%u.example", u);
	snprintf(mx, sizeof(mx), "mx.%s", dom);
	snprintf(ip, sizeof(ip), "192.0.2.%u", 200 + u % 40);
	dst = pw_ip(ip);
	use_host(tf, h);
	ask(tf, &t, dom, DNS_T_MX, DNS_R_NOERROR, mx);
	ask(tf, &t, mx, DNS_T_A, DNS_R_NOERROR, ip);
	if (roll < 10) {
		gen_connect_unanswered(g, t, &dst, 3);
		note_host(tf, h);
		return 1;
	}
	g->no_ts = 0;
	sess_open(&s, g, "smtp", &tf->host[h].v4, gen_ephemeral(g), &dst, 25, t,
	          MS(prng_range(&g->rng, 10, 150)), 1);
	note_host(tf, h);
	smtp_greeting(&s, s.req_t + s.rtt + MS(prng_range(&g->rng, 1, 300)));
	smtp_ehlo(&s, tf->host[h].name);
	snprintf(from, sizeof(from), "bounces@%s", tf->host[h].domain);
	snprintf(to, sizeof(to), "user%u@%s", (unsigned)(prng_next(&g->rng) % 900), dom);
	smtp_envelope_body(&s, from, to, NULL, (size_t)prng_range(&g->rng, 300, 2000));
	if (roll < 20) {
		struct truth_slow *sl =
		    smtp_data_end_at(&s, s.req_t + s.rtt + MS(prng_range(&g->rng, 3000, 20000)));
		truth_cause_none(planned(tf, sl, LABEL_REMOTE));
	} else {
		smtp_data_end_at(&s, s.req_t + s.rtt + MS(prng_range(&g->rng, 5, 300)));
	}
	smtp_quit(&s);
	return 1;
}

static int
episode(struct tr *tf, uint64_t t)
{
	double r;
	int multi = tf->o.hosts >= 2, n;

	if (tf->big_pending && (n = ep_big(tf, t)) > 0) {
		tf->big_pending--;
		reserve_for_big(tf);
		return n;
	}
	r = (double)(prng_next(&tf->g.rng) % 1000000) / 10000.0;
	if (multi && r < tf->o.shared)
		return ep_shared(tf, t);
	r -= tf->o.shared;
	if (multi && r < tf->o.relay)
		return ep_relay(tf, t);
	r -= tf->o.relay;
	if (r < tf->o.outbound)
		return ep_outbound(tf, t);
	return ep_plain(tf, t);
}

/* ---- truth output ------------------------------------------------------------ */

static void
count_label(struct totals *tot, const char *label)
{
	for (int i = 0; i < tot->nlabels; i++) {
		if (tot->by_label[i].label == label) {
			tot->by_label[i].n++;
			return;
		}
	}
	if (tot->nlabels < TR_MAX_LABELS)
		tot->by_label[tot->nlabels++] = (struct label_count){label, 1};
}

static void
write_dns_spec(FILE *f, const struct truth_dns *d, const char *relation)
{
	fprintf(f, "dns:%s:%s:%s:%s", relation, d->qtype, d->qname, d->resolver);
}

static void
write_slow(struct tr *tf, const struct truth_session *s, const struct truth_slow *sl, int host)
{
	const struct truth *t = &tf->ep;
	FILE *f = tf->tsv;
	char a[32], b[32];
	int nup = 0;

	fmt_ts(a, sizeof(a), s->start_ns);
	fmt_ts(b, sizeof(b), sl->req_ns);
	fprintf(f, "%s\t%d\t%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\t%.3f\t%s\t", s->client, s->client_port,
	        s->server, s->server_port, a, tf->host[host].addrs, s->outbound, s->protocol,
	        sl->command, b, sl->latency_ms, sl->label);
	for (int k = 0; k < sl->ncauses; k++) {
		const struct truth_cause *c = &sl->causes[k];
		if (k)
			fputc(';', f);
		if (c->dns >= 0)
			write_dns_spec(f, &t->dns[c->dns], c->relation);
		else if (c->ident >= 0)
			fprintf(f, "ident:%s", t->ident[c->ident].peer);
		else if (c->sess >= 0)
			fprintf(f, "big:%d:%s,%s", t->sess[c->sess].client_port,
			        t->sess[c->sess].client, t->sess[c->sess].server);
		else
			fputs("none", f);
		nup += c->nupstream;
	}
	fputc('\t', f);
	for (int k = 0; k < sl->ncauses; k++) {
		const struct truth_cause *c = &sl->causes[k];
		if (k)
			fputc(';', f);
		if (c->dns >= 0)
			fmt_ts(a, sizeof(a), ms_to_ns(t->dns[c->dns].start_ms));
		else if (c->ident >= 0)
			fmt_ts(a, sizeof(a), ms_to_ns(t->ident[c->ident].start_ms));
		else if (c->sess >= 0)
			fmt_ts(a, sizeof(a), t->sess[c->sess].start_ns);
		else
			snprintf(a, sizeof(a), "-");
		fputs(a, f);
	}
	for (int pass = 0; pass < 2; pass++) {
		int first = 1;
		fputc('\t', f);
		if (!nup)
			fputc('-', f);
		for (int k = 0; k < sl->ncauses; k++) {
			const struct truth_cause *c = &sl->causes[k];
			for (int u = 0; u < c->nupstream; u++) {
				const struct truth_dns *d = &t->dns[c->upstream[u]];
				if (!first)
					fputc(';', f);
				first = 0;
				if (pass == 0) {
					write_dns_spec(f, d, "upstream");
				} else {
					fmt_ts(a, sizeof(a), ms_to_ns(d->start_ms));
					fputs(a, f);
				}
			}
		}
	}
	fputc('\n', f);
}

/* Writes the episode's slow replies and counts its sessions; then forgets it. */
static void
end_episode(struct tr *tf)
{
	struct truth *t = &tf->ep;

	for (int i = 0; i < t->nsess; i++) {
		const struct truth_session *s = &t->sess[i];
		tf->tot.sessions++;
		tf->tot.smtp += strcmp(s->protocol, "smtp") == 0;
		tf->tot.pop3 += strcmp(s->protocol, "pop3") == 0;
		tf->tot.ipv6 += strchr(s->client, ':') != NULL;
		tf->tot.outbound += s->outbound;
		tf->tot.unanswered_connects += strcmp(s->outcome, "unanswered") == 0;
		for (int j = 0; j < s->nslow; j++) {
			const struct truth_slow *sl = &s->slow[j];
			if (!sl->label || !sl->ncauses) {
				fprintf(
				    stderr,
				    "mxlag-gen: traffic: unplanned slow %s (%.0f ms) of %s:%d -> "
				    "%s:%d\n",
				    sl->command, sl->latency_ms, s->client, s->client_port,
				    s->server, s->server_port);
				tf->err = 1;
				continue;
			}
			tf->tot.slow++;
			count_label(&tf->tot, sl->label);
			if (tf->tsv)
				write_slow(tf, s, sl, tf->ep_host[i]);
		}
	}
	for (int i = 0; i < t->nident; i++)
		tf->tot.ident_retransmitted += t->ident[i].syn_retransmits > 0;
	truth_clear(t);
	tf->ep_noted = 0;
}

static int
write_totals(struct tr *tf, const char *path, const struct gen_result *r, uint64_t t_end)
{
	const struct totals *x = &tf->tot;
	FILE *f = fopen(path, "w");
	char res[48];

	if (!f) {
		fprintf(stderr, "mxlag-gen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	pw_addr_fmt(&tf->resolver, res, sizeof(res));
	fprintf(f, "key\tvalue\n");
	fprintf(f, "generator\tmxlag-gen traffic\nprofile\t%s\nseed\t%llu\n",
	        tf->o.profile ? tf->o.profile : "-", (unsigned long long)tf->o.gen.seed);
	fprintf(f, "hosts\t%d\n", tf->o.hosts);
	for (int h = 0; h < tf->o.hosts; h++)
		fprintf(f, "host.%d\t%s\n", h, tf->host[h].addrs);
	fprintf(f, "resolver\t%s\nupstream_on_wire\t%d\n", res, tf->o.upstream);
	fprintf(f, "seconds\t%g\nsessions_per_s_asked\t%g\nlookups_per_session_asked\t%d\n",
	        tf->o.seconds, tf->o.rate, tf->o.lookups);
	fprintf(f, "start_ts\t%llu\nend_ts\t%llu\n",
	        (unsigned long long)((GEN_EPOCH_NS + SEC(1)) / PW_NS_PER_S),
	        (unsigned long long)(t_end / PW_NS_PER_S));
	fprintf(f, "sessions\t%ld\nsessions.smtp\t%ld\nsessions.pop3\t%ld\nsessions.ipv6\t%ld\n",
	        x->sessions, x->smtp, x->pop3, x->ipv6);
	fprintf(f, "sessions.outbound\t%ld\nsessions.outbound_unanswered\t%ld\n", x->outbound,
	        x->unanswered_connects);
	fprintf(f, "sessions.relay\t%ld\nepisodes.shared\t%ld\n", x->relay, x->shared);
	fprintf(f, "sessions_per_s\t%.2f\n", (double)x->sessions / tf->o.seconds);
	fprintf(f, "lookups\t%ld\nlookups.unanswered\t%ld\nlookup_transmissions\t%ld\n", x->lookups,
	        x->lookups_unanswered, x->lookup_packets);
	fprintf(f, "lookups_per_s\t%.2f\n", (double)x->lookups / tf->o.seconds);
	fprintf(f, "upstream_lookups\t%ld\nupstream_lookups.unanswered\t%ld\n", x->upstream,
	        x->upstream_unanswered);
	fprintf(f,
	        "ident_probes\t%ld\nident_probes.unanswered\t%ld\n"
	        "ident_probes.syn_retransmitted\t%ld\n",
	        x->ident, x->ident_unanswered, x->ident_retransmitted);
	fprintf(f, "big_messages\t%ld\nbig_messages.postponed\t%ld\nbig_messages.hosts\t%d\n",
	        x->big, x->big_postponed, __builtin_popcount(x->big_hosts));
	fprintf(f, "incidents.kept_off_big\t%ld\n", x->kept_off_big);
	fprintf(f, "slow\t%ld\n", x->slow);
	for (int i = 0; i < x->nlabels; i++)
		fprintf(f, "slow.%s\t%ld\n", x->by_label[i].label, x->by_label[i].n);
	fprintf(f, "packets\t%llu\nbytes\t%llu\n", (unsigned long long)r->packets,
	        (unsigned long long)r->bytes);
	if (fclose(f) != 0) {
		fprintf(stderr, "mxlag-gen: %s: write error\n", path);
		return -1;
	}
	return 0;
}

/* ---- the run ----------------------------------------------------------------- */

static void
host_init(struct tr_host *h, int i)
{
	char a[32];

	memset(h, 0, sizeof(*h));
	snprintf(a, sizeof(a), "192.0.2.%d", 10 + i);
	h->v4 = pw_ip(a);
	h->has_v6 = i == 0;
	h->v6 = i == 0 ? pw_ip("2001:db8::10") : h->v4;
	if (i == 0) {
		snprintf(h->name, sizeof(h->name), "mail.example.test");
		snprintf(h->domain, sizeof(h->domain), "example.test");
		snprintf(h->addrs, sizeof(h->addrs), "192.0.2.10,2001:db8::10");
	} else {
		snprintf(h->domain, sizeof(h->domain), "d%d.example.test", i);
		snprintf(h->name, sizeof(h->name), "mx.%s", h->domain);
		snprintf(h->addrs, sizeof(h->addrs), "%s", a);
	}
	snprintf(h->ip, sizeof(h->ip), "%s", a);
	pw_addr_ptrname(&h->v4, h->arpa, sizeof(h->arpa));
}

static int
run(struct tr *tf, struct traffic_result *res)
{
	struct tr_opts *o = &tf->o;
	struct pw_opts po = {o->gen.link_set ? o->gen.link : PW_LINK_ETHERNET, o->gen.nanosecond,
	                     o->gen.pcapng, o->gen.span_dup};
	uint64_t t0 = GEN_EPOCH_NS + SEC(1), end = t0 + (uint64_t)(o->seconds * 1e9), t = t0;
	double gap = 1e9 / o->rate;
	struct gen_result r = {0, 0, 0};
	int rc = 0;

	tf->sink = pw_sink_open(o->out, &po);
	if (!tf->sink) {
		fprintf(stderr, "mxlag-gen: %s: %s\n", o->out, strerror(errno));
		return -1;
	}
	if (o->truth) {
		tf->tsv = fopen(o->truth, "w");
		if (!tf->tsv) {
			fprintf(stderr, "mxlag-gen: %s: %s\n", o->truth, strerror(errno));
			pw_sink_close(tf->sink);
			return -1;
		}
		setvbuf(tf->tsv, NULL, _IOFBF, 1 << 16);
		fputs(TRUTH_HEADER, tf->tsv);
	}
	truth_init(&tf->ep);
	gen_init(&tf->g, tf->sink, &tf->ep, o->gen.seed);
	tf->resolver = tf->g.resolver;
	for (int h = 0; h < o->hosts; h++) {
		host_init(&tf->host[h], h);
		tf->host[h].eph = (uint16_t)prng_range(&tf->g.rng, 33000, 40000);
		tf->host[h].busy = calloc(TR_CLIENTS + TR_MAX_HOSTS, sizeof(uint64_t));
		if (!tf->host[h].busy)
			abort();
		pw_sink_add_local(tf->sink, &tf->host[h].v4);
	}
	pw_sink_add_local(tf->sink, &tf->host[0].v6);
	tf->cur = 0;
	tf->g.eph = tf->host[0].eph;
	use_host(tf, 0);
	/* session k starts at t0 + k/rate, jittered within its slot */
	for (uint64_t k = 0; !tf->err;) {
		size_t q;
		t = t0 + (uint64_t)((double)k * gap) +
		    (uint64_t)((double)(prng_next(&tf->g.rng) % 1000) / 1000.0 * 0.8 * gap);
		if (t >= end)
			break;
		q = pw_sink_queued(tf->sink);
		if (q > tf->max_queued)
			tf->max_queued = q;
		if (pw_sink_flush(tf->sink, t) != 0) {
			rc = -1;
			break;
		}
		k += (uint64_t)episode(tf, t);
		end_episode(tf);
	}
	if (tf->err)
		rc = -1;
	pw_sink_flush(tf->sink, UINT64_MAX);
	r.packets = pw_sink_packets(tf->sink);
	r.bytes = pw_sink_bytes(tf->sink);
	r.sessions = tf->tot.sessions;
	if (pw_sink_close(tf->sink) != 0)
		rc = -1;
	if (tf->tsv && fclose(tf->tsv) != 0)
		rc = -1;
	if (rc == 0 && o->truth) {
		char def[1024];
		const char *tp = o->totals;
		if (!tp) {
			snprintf(def, sizeof(def), "%s.totals", o->truth);
			tp = def;
		}
		rc = write_totals(tf, tp, &r, end);
	} else if (rc == 0 && o->totals) {
		rc = write_totals(tf, o->totals, &r, end);
	}
	if (res) {
		res->gen = r;
		res->lookups = tf->tot.lookups;
		res->upstream = tf->tot.upstream;
		res->slow = tf->tot.slow;
		res->lookups_per_s = (double)tf->tot.lookups / o->seconds;
		res->max_queued = tf->max_queued;
	}
	for (int h = 0; h < o->hosts; h++)
		free(tf->host[h].busy);
	truth_free(&tf->ep);
	return rc;
}

/* ---- command line ------------------------------------------------------------ */

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: mxlag-gen traffic -o FILE.pcap [--truth FILE.tsv] [--totals FILE] [options]\n"
	    "  --profile NAME        preset (default light); the options below override it\n"
	    "  --hosts N             mail hosts 192.0.2.10, .11, ... (1-%d); 2 or more: a mirror "
	    "port\n"
	    "  --seconds S           packet time over which sessions start\n"
	    "  --sessions-per-s R    SMTP/POP3 sessions per second, all hosts together\n"
	    "  --lookups N           lookups per SMTP session (1 = the PTR; up to 11 in protocol "
	    "order,\n"
	    "                        more (up to %d): further DNSBL zones)\n"
	    "  --mix KIND=PCT,...    incidents, percent of sessions (unlisted kinds: 0);\n"
	    "                        big-message: a 10.5-14 MB message; its final dot and 1-2\n"
	    "                        other DATA-ENDs on its host held meanwhile (cause: the\n"
	    "                        message), another host's content filter too (cause: none)\n"
	    "  --stub NAME|mixed     the hosts' resolver retries: glibc-5, glibc-3, glibc-2x3\n"
	    "  --pop3 PCT  --v6 PCT  POP3 sessions; IPv6 clients (to the first host)\n"
	    "  --ident-probe PCT     an ident SYN that gets no answer, given up in < 0.4 s\n"
	    "  --ident-refused PCT   an ident probe refused at once\n"
	    "  --shared PCT          episodes with one client on 2-4 hosts at once (incidents "
	    "overlap)\n"
	    "  --relay PCT           deliveries from one monitored host to another\n"
	    "  --outbound PCT        deliveries to remote MXes (10 %% dead, 10 %% slow DATA-END)\n"
	    "  --upstream            the resolver's own queries to authoritative servers on the "
	    "wire\n"
	    "  --span-dup            every packet twice, as a switch's mirror port (the truth is\n"
	    "                        the same: the first frame keeps the time)\n"
	    "  --seed S  --link TYPE  --nanosecond  --pcapng  -q\n"
	    "kinds:",
	    TR_MAX_HOSTS, MAX_LOOKUPS);
	for (int k = 0; k < K_NKINDS; k++)
		fprintf(f, " %s", labels[SC_PLAIN][k]);
	fprintf(f, "\nprofiles:\n");
	for (int i = 0; i < NPROFILES; i++)
		fprintf(f, "  %-8s %s\n", profiles[i].name, profiles[i].description);
}

static int
parse_pct(const char *s, double *v, const char *what)
{
	char *end;
	double x = strtod(s, &end);

	if (*s == '\0' || *end || x < 0 || x > 100) {
		fprintf(stderr, "mxlag-gen: %s wants a percentage (0-100), not %s\n", what, s);
		return -1;
	}
	*v = x;
	return 0;
}

static int
parse_mix(const char *s, double *mix)
{
	char buf[512], *save = NULL;
	double sum = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	memset(mix, 0, sizeof(double) * K_NKINDS);
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		int k;
		if (!eq) {
			fprintf(stderr, "mxlag-gen: --mix wants KIND=PCT, not %s\n", item);
			return -1;
		}
		*eq = '\0';
		for (k = 0; k < K_NKINDS && strcmp(item, labels[SC_PLAIN][k]) != 0; k++)
			;
		if (k == K_NKINDS) {
			fprintf(stderr, "mxlag-gen: unknown incident kind %s\n", item);
			return -1;
		}
		if (parse_pct(eq + 1, &mix[k], "--mix") != 0)
			return -1;
		sum += mix[k];
	}
	if (sum > 100) {
		fprintf(stderr, "mxlag-gen: --mix adds up to more than 100 %%\n");
		return -1;
	}
	return 0;
}

static int
parse_num(const char *s, double lo, double hi, double *v, const char *what)
{
	char *end;
	double x = strtod(s, &end);

	if (*s == '\0' || *end || x < lo || x > hi) {
		fprintf(stderr, "mxlag-gen: %s wants a number from %g to %g, not %s\n", what, lo,
		        hi, s);
		return -1;
	}
	*v = x;
	return 0;
}

int
gen_traffic(int argc, char **argv, struct traffic_result *res)
{
	enum {
		O_TOTALS = 256,
		O_PROFILE,
		O_HOSTS,
		O_SECONDS,
		O_RATE,
		O_LOOKUPS,
		O_MIX,
		O_STUB,
		O_POP3,
		O_V6,
		O_IDENT_PROBE,
		O_IDENT_REFUSED,
		O_SHARED,
		O_RELAY,
		O_OUTBOUND,
		O_UPSTREAM,
		O_LINK,
		O_NANO,
		O_PCAPNG,
		O_SEED,
		O_SPAN_DUP,
	};
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"truth", required_argument, NULL, 't'},
	    {"totals", required_argument, NULL, O_TOTALS},
	    {"profile", required_argument, NULL, O_PROFILE},
	    {"hosts", required_argument, NULL, O_HOSTS},
	    {"seconds", required_argument, NULL, O_SECONDS},
	    {"sessions-per-s", required_argument, NULL, O_RATE},
	    {"lookups", required_argument, NULL, O_LOOKUPS},
	    {"mix", required_argument, NULL, O_MIX},
	    {"stub", required_argument, NULL, O_STUB},
	    {"pop3", required_argument, NULL, O_POP3},
	    {"v6", required_argument, NULL, O_V6},
	    {"ident-probe", required_argument, NULL, O_IDENT_PROBE},
	    {"ident-refused", required_argument, NULL, O_IDENT_REFUSED},
	    {"shared", required_argument, NULL, O_SHARED},
	    {"relay", required_argument, NULL, O_RELAY},
	    {"outbound", required_argument, NULL, O_OUTBOUND},
	    {"upstream", no_argument, NULL, O_UPSTREAM},
	    {"link", required_argument, NULL, O_LINK},
	    {"nanosecond", no_argument, NULL, O_NANO},
	    {"pcapng", no_argument, NULL, O_PCAPNG},
	    {"seed", required_argument, NULL, O_SEED},
	    {"span-dup", no_argument, NULL, O_SPAN_DUP},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct tr *tf;
	struct tr_opts o;
	struct traffic_result local;
	const char *prof = "light";
	double v;
	int c, rc, li = 0;

	if (res)
		memset(res, 0, sizeof(*res));
	/* the profile first: every other option overrides it */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc)
			prof = argv[i + 1];
		else if (strncmp(argv[i], "--profile=", 10) == 0)
			prof = argv[i] + 10;
	}
	for (c = 0; c < NPROFILES && strcmp(profiles[c].name, prof) != 0; c++)
		;
	if (c == NPROFILES) {
		fprintf(stderr, "mxlag-gen: unknown profile %s\n", prof);
		usage(stderr);
		return 2;
	}
	o = profiles[c].o;
	o.profile = profiles[c].name;
	optind = 0; /* glibc: start over (gen_traffic may run more than once) */
	while ((c = getopt_long(argc, argv, "o:t:qh", longopts, &li)) != -1) {
		switch (c) {
		case 'o':
			o.out = optarg;
			break;
		case 't':
			o.truth = optarg;
			break;
		case O_TOTALS:
			o.totals = optarg;
			break;
		case O_PROFILE:
			break;
		case O_HOSTS:
			if (parse_num(optarg, 1, TR_MAX_HOSTS, &v, "--hosts") != 0)
				return 2;
			o.hosts = (int)v;
			break;
		case O_SECONDS:
			if (parse_num(optarg, 1, 86400, &o.seconds, "--seconds") != 0)
				return 2;
			break;
		case O_RATE:
			if (parse_num(optarg, 0.01, 100000, &o.rate, "--sessions-per-s") != 0)
				return 2;
			break;
		case O_LOOKUPS:
			if (parse_num(optarg, 0, MAX_LOOKUPS, &v, "--lookups") != 0)
				return 2;
			o.lookups = (int)v;
			break;
		case O_MIX:
			if (parse_mix(optarg, o.mix) != 0)
				return 2;
			break;
		case O_STUB:
			o.stub = -1;
			for (int i = 0; i < NSTUBS; i++)
				if (strcmp(optarg, stubs[i].name) == 0)
					o.stub = i;
			if (o.stub < 0 && strcmp(optarg, "mixed") != 0) {
				fprintf(stderr, "mxlag-gen: unknown --stub %s\n", optarg);
				return 2;
			}
			break;
		case O_POP3:
		case O_V6:
		case O_IDENT_PROBE:
		case O_IDENT_REFUSED:
		case O_SHARED:
		case O_RELAY:
		case O_OUTBOUND: {
			double *dst = c == O_POP3            ? &o.pop3
			              : c == O_V6            ? &o.v6
			              : c == O_IDENT_PROBE   ? &o.ident_probe
			              : c == O_IDENT_REFUSED ? &o.ident_refused
			              : c == O_SHARED        ? &o.shared
			              : c == O_RELAY         ? &o.relay
			                                     : &o.outbound;
			if (parse_pct(optarg, dst, longopts[li].name) != 0)
				return 2;
			break;
		}
		case O_UPSTREAM:
			o.upstream = 1;
			break;
		case O_LINK: {
			int l = pw_link_parse(optarg);
			if (l < 0) {
				fprintf(stderr, "mxlag-gen: unknown link type %s\n", optarg);
				return 2;
			}
			o.gen.link = (enum pw_link)l;
			o.gen.link_set = 1;
			break;
		}
		case O_NANO:
			o.gen.nanosecond = 1;
			break;
		case O_PCAPNG:
			o.gen.pcapng = 1;
			break;
		case O_SPAN_DUP:
			o.gen.span_dup = 1;
			break;
		case O_SEED: {
			char *end;
			o.gen.seed = strtoull(optarg, &end, 0);
			if (*end || !o.gen.seed) {
				fprintf(stderr, "mxlag-gen: --seed wants a non-zero number\n");
				return 2;
			}
			break;
		}
		case 'q':
			o.gen.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mxlag-gen: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	if (!o.out) {
		fprintf(stderr, "mxlag-gen: -o FILE is required\n");
		return 2;
	}
	if (o.shared + o.relay + o.outbound > 100) {
		fprintf(stderr,
		        "mxlag-gen: --shared, --relay and --outbound add up to over 100 %%\n");
		return 2;
	}
	if (!o.gen.seed)
		o.gen.seed = 20260112;
	tf = calloc(1, sizeof(*tf));
	if (tf)
		tf->scratch = malloc(4096);
	if (!tf || !tf->scratch) {
		fprintf(stderr, "mxlag-gen: out of memory\n");
		abort();
	}
	tf->o = o;
	if (!res)
		res = &local;
	rc = run(tf, res);
	res->out = o.out;
	res->quiet = o.gen.quiet;
	free(tf->ep_host);
	free(tf->scratch);
	free(tf);
	return rc == 0 ? 0 : 1;
}
