/*
 * correlate.c - slow replies x overlapping DNS/ident activity -> causes.
 *
 * Relations are decided by names and addresses (DESIGN.md vocabulary):
 * the reverse name of the client or of the host itself, the names the
 * session carried (HELO, banner, envelope domains), names learned from
 * earlier answers (the client's PTR target, MX hosts), DNSBL-shaped names
 * and IP literals.  Time overlap alone only ever gives "unrelated".
 */
#include "correlate.h"

#include "dns.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QT_A 1
#define QT_NS 2
#define QT_SOA 6
#define QT_PTR 12
#define QT_MX 15
#define QT_TXT 16
#define QT_AAAA 28
#define QT_DS 43
#define QT_DNSKEY 48
#define QT_ANY 255

#define MAX_CAND 256
#define MAX_UNRELATED_SHOWN 3
#define MIN_SHARE 0.01

struct dns_rec {
	uint64_t id;
	uint64_t ts, end_ns, resp_ns;
	uint64_t last_ns; /* last (re)transmission */
	struct mx_addr client, server;
	uint16_t qtype;
	enum mx_dns_outcome outcome;
	char qname[MX_NAME_MAX];
	char answers[256];
};

/*
 * What a settle pass scans for every record: kept apart from the records
 * (24 bytes instead of ~600) so the scan stays in cache; the record itself
 * is only read for queries that overlap the wait or carry useful answers.
 */
struct dns_key {
	uint64_t ts, end_ns;
	uint32_t qhash; /* name_hash(qname): most names are told apart without strcmp */
	uint16_t qtype;
	bool answers; /* PTR/MX with a non-empty answer summary */
};

/*
 * The ring's slots in blocks of DNS_BLK with the earliest start and latest
 * end of the records in them: a settle pass skips a block whose records all
 * lie outside the wait, so a wait costs ~max_dns/DNS_BLK checks plus the
 * records near it rather than the whole ring.
 */
#define DNS_BLK 64
struct dns_blk {
	uint64_t min_ts, max_end;
};

struct ident_rec {
	uint64_t id;
	uint64_t ts, end_ns;
	uint64_t last_ns; /* last SYN / reply / RST */
	struct mx_addr host, peer;
	enum mx_ident_outcome outcome;
};

/* one of the host's own outgoing mail connections (delivery, callout) */
#define MAX_OUT 256
struct out_rec {
	uint64_t ts, end_ns; /* first SYN (or start) .. last packet */
	struct mx_endpoint server;
	enum mx_outcome outcome;
};

struct held {
	struct mx_txn txn;
	uint64_t wait_end;
	enum mx_proto proto;
	bool outbound;
	struct mx_addr client, server;
	char helo[MX_NAME_MAX];
	char banner[MX_NAME_MAX];
	char sender[MX_NAME_MAX];
	char rcpt[MX_RCPT_DOMAINS][MX_NAME_MAX];
	int nrcpt;
};

struct corr {
	struct corr_cfg cfg;
	struct mx_sink out;
	struct mx_addr hosts[CORR_MAX_HOSTS];
	char host_arpa[CORR_MAX_HOSTS][80]; /* their reverse names */
	int nhosts;
	struct dns_rec *dns;
	struct dns_key *dkey;
	struct dns_blk *dblk;
	/*
	 * The records with answers (dns_key.answers), chained by qhash: what a
	 * settle pass needs of earlier answers (the client's PTR target, MX
	 * hosts) is found without reading the whole ring.  -1 ends a chain.
	 */
	int32_t *ans_head; /* ans_mask + 1 buckets */
	int32_t *ans_next, *ans_prev; /* per slot */
	uint32_t ans_mask;
	uint32_t *scratch; /* max_dns logical indexes, for one rctx_init() */
	uint32_t dns_head, dns_n;
	struct ident_rec *ident;
	uint32_t ident_head, ident_n;
	struct held *held;
	uint32_t nheld;
	struct out_rec out_conn[MAX_OUT]; /* ring of the latest outbound sessions */
	uint32_t out_n;                   /* added so far (index = out_n % MAX_OUT) */
	uint64_t now_ns;
};

/* a candidate cause while one transaction is being settled */
struct cand {
	int is_dns;
	const struct dns_rec *d;
	const struct ident_rec *i;
	enum mx_relation rel;
	double overlap_ms, query_ms;
	int parent; /* index of the local query it is an upstream hop of, -1 */
	bool taken;
	bool unanswered;
	uint64_t start, last, end; /* lifetime as far as this wait is concerned */
};

struct corr *
corr_new(const struct corr_cfg *cfg, const struct mx_sink *out)
{
	struct corr *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (cfg)
		c->cfg = *cfg;
	if (c->cfg.slow_ms <= 0)
		c->cfg.slow_ms = 1000;
	if (!c->cfg.hold_ns)
		c->cfg.hold_ns = 120ULL * 1000000000ULL;
	if (!c->cfg.unanswered_ns)
		c->cfg.unanswered_ns = 30ULL * 1000000000ULL;
	if (!c->cfg.max_dns)
		c->cfg.max_dns = 16384;
	if (!c->cfg.max_ident)
		c->cfg.max_ident = 4096;
	if (!c->cfg.max_held)
		c->cfg.max_held = 2048;
	c->out = *out;
	c->dns = calloc(c->cfg.max_dns, sizeof(*c->dns));
	c->dkey = calloc(c->cfg.max_dns, sizeof(*c->dkey));
	c->dblk = calloc((c->cfg.max_dns + DNS_BLK - 1) / DNS_BLK, sizeof(*c->dblk));
	c->ans_mask = 1;
	while (c->ans_mask < c->cfg.max_dns)
		c->ans_mask <<= 1;
	c->ans_head = malloc(c->ans_mask * sizeof(*c->ans_head));
	c->ans_mask--;
	c->ans_next = calloc(c->cfg.max_dns, sizeof(*c->ans_next));
	c->ans_prev = calloc(c->cfg.max_dns, sizeof(*c->ans_prev));
	c->scratch = calloc(c->cfg.max_dns, sizeof(*c->scratch));
	if (c->ans_head)
		memset(c->ans_head, 0xff, (c->ans_mask + 1) * sizeof(*c->ans_head));
	c->ident = calloc(c->cfg.max_ident, sizeof(*c->ident));
	c->held = calloc(c->cfg.max_held, sizeof(*c->held));
	if (!c->dns || !c->dkey || !c->dblk || !c->ans_head || !c->ans_next || !c->ans_prev ||
	    !c->scratch || !c->ident || !c->held) {
		corr_free(c);
		return NULL;
	}
	return c;
}

void
corr_free(struct corr *c)
{
	if (!c)
		return;
	free(c->dns);
	free(c->dkey);
	free(c->dblk);
	free(c->ans_head);
	free(c->ans_next);
	free(c->ans_prev);
	free(c->scratch);
	free(c->ident);
	free(c->held);
	free(c);
}

void
corr_add_host(struct corr *c, const struct mx_addr *a)
{
	if (a->family == 0 || mx_addr_is_loopback(a) || corr_is_host(c, a))
		return;
	if (c->nhosts < CORR_MAX_HOSTS) {
		corr_arpa_name(a, c->host_arpa[c->nhosts], sizeof(c->host_arpa[0]));
		c->hosts[c->nhosts++] = *a;
	}
}

bool
corr_is_host(const struct corr *c, const struct mx_addr *a)
{
	for (int i = 0; i < c->nhosts; i++)
		if (mx_addr_eq(&c->hosts[i], a))
			return true;
	return false;
}

/* the host itself: one of its addresses or loopback */
static bool
is_local(const struct corr *c, const struct mx_addr *a)
{
	return mx_addr_is_loopback(a) || corr_is_host(c, a);
}

void
corr_arpa_name(const struct mx_addr *a, char *buf, unsigned long n)
{
	static const char hex[] = "0123456789abcdef";
	if (n == 0)
		return;
	buf[0] = '\0';
	if (a->family == 4 && n >= 29) {
		struct mx_addr r = {.family = 4, .a = {a->a[3], a->a[2], a->a[1], a->a[0]}};
		mx_addr_fmt(&r, buf, n);
		memcpy(buf + strlen(buf), ".in-addr.arpa", 14);
	} else if (a->family == 6 && n >= 73) {
		char *p = buf;
		for (int i = 15; i >= 0; i--) {
			*p++ = hex[a->a[i] & 15];
			*p++ = '.';
			*p++ = hex[a->a[i] >> 4];
			*p++ = '.';
		}
		memcpy(p, "ip6.arpa", 9);
	}
}

static bool
ends_with_domain(const char *name, const char *dom)
{
	size_t n = strlen(name), d = strlen(dom);
	if (d == 0 || n < d)
		return false;
	if (strcmp(name + n - d, dom) != 0)
		return false;
	return n == d || name[n - d - 1] == '.';
}

/*
 * The names of a comma-separated answer summary ("host.example",
 * "10 mx.example." for MX: the last word of each item, without its final
 * dot), split once per settle pass and then looked up for every candidate.
 */
#define MAX_WORDS 256 /* a 512-byte list holds fewer */
struct words {
	const char *w[MAX_WORDS];
	uint16_t len[MAX_WORDS];
	int n;
};

static void
words_split(struct words *ws, const char *answers)
{
	const char *p = answers;
	ws->n = 0;
	while (*p && ws->n < MAX_WORDS) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		const char *w = p;
		for (size_t i = 0; i < len; i++)
			if (p[i] == ' ')
				w = p + i + 1;
		size_t wl = len - (size_t)(w - p);
		if (wl > 0 && w[wl - 1] == '.')
			wl--;
		ws->w[ws->n] = w;
		ws->len[ws->n++] = (uint16_t)wl;
		if (!e)
			break;
		p = e + 1;
	}
}

/* Is name (of length nl) one of the words (case-insensitively)? */
static bool
words_have(const struct words *ws, const char *name, size_t nl)
{
	for (int i = 0; i < ws->n; i++)
		if (ws->len[i] == nl && strncasecmp(ws->w[i], name, nl) == 0)
			return true;
	return false;
}

/* FNV-1a: names are compared exactly (lower case), so is the hash */
static uint32_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static uint32_t
dns_slot(const struct corr *c, uint32_t i)
{
	return (c->dns_head + i) % c->cfg.max_dns;
}

static const struct dns_rec *
dns_at(const struct corr *c, uint32_t i)
{
	return &c->dns[dns_slot(c, i)];
}

/*
 * What one slow transaction's relations are judged against, gathered with
 * one pass over the window: the reverse names of the client and the host,
 * and the answers learned for them and for the envelope domains.
 */
struct rctx {
	char arpa_client[80], arpa_server[80];
	size_t dnsbl_prefix; /* "200.2.0.192." part of arpa_client */
	char client_names[512]; /* PTR answers for the client */
	char server_names[512]; /* PTR answers for the host */
	char sender_mx[512];
	char rcpt_mx[MX_RCPT_DOMAINS][256];
	/* the same lists split into names (words_split) */
	struct words w_client, w_server, w_sender, w_rcpt[MX_RCPT_DOMAINS];
};

static void
append_answers(char *dst, size_t n, const char *answers)
{
	/* truncation is fine: a cut-off list only loses late answers */
	size_t l = strlen(dst);
	if (l && l + 1 < n)
		dst[l++] = ',';
	size_t a = strlen(answers);
	if (a > n - 1 - l)
		a = n - 1 - l;
	memcpy(dst + l, answers, a);
	dst[l + a] = '\0';
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void
rctx_init(struct rctx *r, const struct corr *c, const struct held *h)
{
	memset(r, 0, sizeof(*r));
	corr_arpa_name(&h->client, r->arpa_client, sizeof(r->arpa_client));
	corr_arpa_name(&h->server, r->arpa_server, sizeof(r->arpa_server));
	char *suffix = strstr(r->arpa_client, h->client.family == 4 ? "in-addr.arpa" : "ip6.arpa");
	r->dnsbl_prefix = suffix ? (size_t)(suffix - r->arpa_client) : 0;
	/* the names whose answers matter, by hash; then their records, oldest first */
	uint32_t want[2 + 1 + MX_RCPT_DOMAINS];
	int nwant = 0;
	want[nwant++] = name_hash(r->arpa_client);
	want[nwant++] = name_hash(r->arpa_server);
	if (h->sender[0])
		want[nwant++] = name_hash(h->sender);
	for (int k = 0; k < h->nrcpt; k++)
		want[nwant++] = name_hash(h->rcpt[k]);
	uint32_t nidx = 0;
	for (int w = 0; w < nwant; w++) {
		bool again = false;
		for (int v = 0; v < w; v++)
			again |= want[v] == want[w];
		if (again)
			continue;
		for (int32_t sl = c->ans_head[want[w] & c->ans_mask]; sl >= 0; sl = c->ans_next[sl])
			if (c->dkey[sl].qhash == want[w] && nidx < c->cfg.max_dns)
				c->scratch[nidx++] = ((uint32_t)sl + c->cfg.max_dns - c->dns_head) %
						     c->cfg.max_dns;
	}
	qsort(c->scratch, nidx, sizeof(*c->scratch), cmp_u32);
	for (uint32_t j = 0; j < nidx; j++) {
		const struct dns_rec *d = dns_at(c, c->scratch[j]);
		if (d->qtype == QT_PTR) {
			if (strcmp(d->qname, r->arpa_client) == 0)
				append_answers(r->client_names, sizeof(r->client_names), d->answers);
			else if (strcmp(d->qname, r->arpa_server) == 0)
				append_answers(r->server_names, sizeof(r->server_names), d->answers);
		} else if (d->qtype == QT_MX) {
			if (h->sender[0] && strcmp(d->qname, h->sender) == 0)
				append_answers(r->sender_mx, sizeof(r->sender_mx), d->answers);
			for (int k = 0; k < h->nrcpt; k++)
				if (strcmp(d->qname, h->rcpt[k]) == 0)
					append_answers(r->rcpt_mx[k], sizeof(r->rcpt_mx[k]),
						       d->answers);
		}
	}
	words_split(&r->w_client, r->client_names);
	words_split(&r->w_server, r->server_names);
	words_split(&r->w_sender, r->sender_mx);
	for (int k = 0; k < h->nrcpt; k++)
		words_split(&r->w_rcpt[k], r->rcpt_mx[k]);
}

static bool
is_domain_of(const char *qname, size_t ql, uint16_t qtype, const char *dom,
	     const struct words *mx_hosts)
{
	if (!dom[0])
		return false;
	if (ends_with_domain(qname, dom))
		return true;
	/* A/AAAA of an MX host of the domain */
	return (qtype == QT_A || qtype == QT_AAAA) && words_have(mx_hosts, qname, ql);
}

static bool
is_self_arpa(const struct corr *c, const char *q)
{
	for (int i = 0; i < c->nhosts; i++)
		if (strcmp(q, c->host_arpa[i]) == 0)
			return true;
	return false;
}

static enum mx_relation
relation_of(const struct corr *c, const struct rctx *r, const struct held *h,
	    const struct dns_rec *d)
{
	const char *q = d->qname;
	size_t ql = strlen(q);
	bool addr_q = d->qtype == QT_A || d->qtype == QT_AAAA || d->qtype == QT_ANY;

	if (strcmp(q, r->arpa_client) == 0)
		return MXR_CLIENT_PTR;
	if (strcmp(q, r->arpa_server) == 0 || (d->qtype == QT_PTR && is_self_arpa(c, q)))
		return MXR_SELF_PTR;
	struct mx_addr lit;
	if (dns_name_is_ip_literal(q, &lit))
		return MXR_IP_LITERAL;
	/* DNSBL: the client's reversed address under some zone */
	if (r->dnsbl_prefix && strncmp(q, r->arpa_client, r->dnsbl_prefix) == 0 &&
	    ql > r->dnsbl_prefix)
		return MXR_DNSBL;
	if (addr_q && words_have(&r->w_client, q, ql))
		return MXR_CLIENT_FORWARD;
	if (h->helo[0] && strcasecmp(q, h->helo) == 0)
		return MXR_HELO;
	if (addr_q && ((h->banner[0] && strcasecmp(q, h->banner) == 0) || !strchr(q, '.') ||
		       words_have(&r->w_server, q, ql)))
		return MXR_SELF_NAME;
	if (h->sender[0]) {
		if (d->qtype == QT_TXT &&
		    (ends_with_domain(q, h->sender) || strncmp(q, "_spf.", 5) == 0 ||
		     strstr(q, "spf") != NULL))
			return MXR_SPF;
		if (is_domain_of(q, ql, d->qtype, h->sender, &r->w_sender))
			return MXR_SENDER_DOMAIN;
	}
	for (int i = 0; i < h->nrcpt; i++)
		if (is_domain_of(q, ql, d->qtype, h->rcpt[i], &r->w_rcpt[i]))
			return MXR_RECIPIENT_DOMAIN;
	return MXR_UNRELATED;
}

static double
ns_to_ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static int64_t
overlap_ns(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
	uint64_t s = a0 > b0 ? a0 : b0, e = a1 < b1 ? a1 : b1;
	return e > s ? (int64_t)(e - s) : 0;
}

static void
emit_cause(struct corr *c, const struct held *h, const struct cand *k, uint64_t parent,
	   double wait_ms, uint64_t *id_out)
{
	struct mx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_CAUSE;
	struct mx_cause *x = &ev.u.cause;
	x->id = ++c->out.ids->cause;
	x->txn_id = h->txn.id;
	x->parent_id = parent;
	if (!k) {
		x->kind = MXC_NONE;
		x->relation = MXR_NONE;
	} else if (k->is_dns) {
		x->kind = MXC_DNS;
		x->relation = k->rel;
		x->dns_id = k->d->id;
	} else {
		x->kind = MXC_IDENT;
		x->relation = k->rel;
		x->ident_id = k->i->id;
	}
	if (k) {
		x->overlap_ms = k->overlap_ms;
		x->query_ms = k->query_ms;
		x->share = wait_ms > 0 ? k->overlap_ms / wait_ms : 0;
		if (x->share > 1)
			x->share = 1;
	}
	if (id_out)
		*id_out = x->id;
	mx_sink_emit(&c->out, &ev);
}

static const char *
remedy_for(enum mx_relation r, bool is_dns)
{
	if (!is_dns)
		return "disable ident (RFC 1413) lookups (tcpserver -R, exim rfc1413_query_timeout = "
		       "0s, sendmail Timeout.ident=0) or make the client's firewall reject port 113 "
		       "instead of dropping it";
	switch (r) {
	case MXR_CLIENT_PTR:
		return "serve an (even empty) reverse zone for the client's address range on the "
		       "resolver so PTR lookups get a fast NXDOMAIN, or turn off the server's client "
		       "reverse lookups (tcpserver -H)";
	case MXR_SELF_PTR:
		return "publish a PTR record / reverse zone for the server's own address, or give "
		       "the name directly (tcpserver -l NAME; with -H -R against client PTR and "
		       "ident)";
	case MXR_SELF_NAME:
		return "make the host's own name resolvable locally (/etc/hosts or the local zone)";
	case MXR_CLIENT_FORWARD:
		return "fix the resolver or the forward zone of the client's PTR name";
	case MXR_DNSBL:
		return "the DNSBL zone answers slowly or not at all: remove or replace it, or lower "
		       "the DNSBL lookup timeout";
	case MXR_IP_LITERAL:
		return "write the relay/smart host as an address literal in brackets, e.g. "
		       "[10.11.12.13], so no MX/A lookup is made for it";
	case MXR_HELO:
	case MXR_SENDER_DOMAIN:
	case MXR_RECIPIENT_DOMAIN:
	case MXR_SPF:
		return "fix the resolver or the slow zone; shorter resolver timeouts for the "
		       "sender/recipient checks (sendmail Timeout.resolver.*, exim dns_retrans/"
		       "dns_retry)";
	default:
		return "look at local processing or at lookups not visible in this capture";
	}
}

struct out_hit {
	const struct out_rec *rec;
	double overlap_ms;
};

/* The host's own outbound connection that overlapped an inbound wait most. */
static bool
outbound_during(const struct corr *c, const struct held *h, struct out_hit *hit)
{
	uint64_t t0 = h->txn.request_ns, t1 = h->wait_end;
	uint32_t n = c->out_n < MAX_OUT ? c->out_n : MAX_OUT;
	hit->rec = NULL;
	hit->overlap_ms = 0;
	if (h->outbound)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		const struct out_rec *o = &c->out_conn[i];
		double ov = ns_to_ms(overlap_ns(t0, t1, o->ts, o->end_ns));
		if (ov > hit->overlap_ms && ov >= ns_to_ms((int64_t)(t1 - t0)) * MIN_SHARE) {
			hit->rec = o;
			hit->overlap_ms = ov;
		}
	}
	return hit->rec != NULL;
}

static void
emit_diagnosis(struct corr *c, const struct held *h, const struct cand *cands, int n, int best,
	       bool related, double wait_ms, double floor_ms)
{
	struct mx_event ev;
	char a[MX_ADDRSTRLEN], r[MX_ADDRSTRLEN], pre[96] = "";
	struct out_hit oc;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_DIAGNOSIS;
	struct mx_diagnosis *g = &ev.u.diag;
	g->txn_id = h->txn.id;
	if (!h->txn.reply_ns && h->txn.outcome == MXO_CLIENT_ABORT)
		snprintf(pre, sizeof(pre), "The client gave up after %.1f s without a reply. ",
			 wait_ms / 1000);
	else if (!h->txn.reply_ns)
		snprintf(pre, sizeof(pre), "The server closed after %.1f s without a reply. ",
			 wait_ms / 1000);
	if (best < 0 && h->outbound) {
		/* the host is the client here: the remote server kept it waiting */
		mx_addr_fmt(&h->server, r, sizeof(r));
		snprintf(g->diagnosis, sizeof(g->diagnosis),
			 "%sthe remote server %s took %.1f s to answer the mail host's %s; nothing "
			 "the host did on the network explains it",
			 pre, r, wait_ms / 1000, h->txn.command);
		mx_strlcpy(g->remedy,
			   "the delay is on the remote side (its checks or content filter); "
			   "locally, only make sure such waits do not use up the delivery "
			   "slots (outbound concurrency, connect and data timeouts)",
			   sizeof(g->remedy));
	} else if (best < 0 && outbound_during(c, h, &oc)) {
		/* no lookups, but the host itself was connecting out meanwhile */
		mx_addr_fmt(&oc.rec->server.addr, r, sizeof(r));
		snprintf(g->diagnosis, sizeof(g->diagnosis),
			 "%sno DNS or ident traffic of the host during the %.1f s wait, but its own "
			 "SMTP connection to %s port %u was %s for %.1f s of it",
			 pre, wait_ms / 1000, r, oc.rec->server.port,
			 oc.rec->outcome == MXO_UNANSWERED ? "unanswered (SYNs only)"
			 : oc.rec->outcome == MXO_REFUSED  ? "refused"
							   : "open",
			 oc.overlap_ms / 1000);
		mx_strlcpy(g->remedy,
			   "the reply waits for a connection the host makes itself (a sender or "
			   "recipient callout, or an interactive delivery to a smart host): make "
			   "that destination reachable or turn the callout/interactive delivery off",
			   sizeof(g->remedy));
	} else if (best < 0) {
		snprintf(g->diagnosis, sizeof(g->diagnosis),
			 "%sno DNS or ident traffic of the host during the %.1f s wait: no network "
			 "cause seen",
			 pre, wait_ms / 1000);
		mx_strlcpy(g->remedy,
			   "look at local processing: content filter, queue disk, load "
			   "(no network cause seen)",
			   sizeof(g->remedy));
	} else if (!related) {
		snprintf(g->diagnosis, sizeof(g->diagnosis),
			 "%sonly lookups unrelated to this session overlapped the %.1f s wait", pre,
			 wait_ms / 1000);
		mx_strlcpy(g->remedy, remedy_for(MXR_UNRELATED, true), sizeof(g->remedy));
	} else {
		/* every presented cause, largest share first; one remedy per kind */
		size_t dl = strlen(pre), rl = 0;
		mx_strlcpy(g->diagnosis, pre, sizeof(g->diagnosis));
		bool done[MAX_CAND] = {false};
		const char *remedies[8];
		int nrem = 0;
		for (;;) {
			int top = -1;
			for (int i = 0; i < n; i++)
				if (!done[i] && cands[i].parent < 0 && cands[i].rel != MXR_UNRELATED &&
				    cands[i].overlap_ms >= floor_ms &&
				    (top < 0 || cands[i].overlap_ms > cands[top].overlap_ms))
					top = i;
			if (top < 0)
				break;
			done[top] = true;
			const struct cand *k = &cands[top];
			char line[512];
			if (k->is_dns) {
				char tb[12];
				const char *qt = mx_qtype_str(k->d->qtype, tb, sizeof(tb));
				mx_addr_fmt(&k->d->server, r, sizeof(r));
				int up = 0, up_unans = 0;
				for (int i = 0; i < n; i++)
					if (cands[i].parent == top) {
						up++;
						up_unans += cands[i].d->outcome == MXD_UNANSWERED;
					}
				char chain[96] = "";
				if (up)
					snprintf(chain, sizeof(chain),
						 " (behind it %d upstream quer%s of the resolver, %d "
						 "unanswered)",
						 up, up == 1 ? "y" : "ies", up_unans);
				snprintf(line, sizeof(line), "%s lookup %s %.200s to %s was %s for %.1f s%s",
					 mx_relation_str(k->rel), qt, k->d->qname, r,
					 mx_dns_outcome_str(k->d->outcome), k->overlap_ms / 1000, chain);
			} else {
				mx_addr_fmt(&k->i->peer, a, sizeof(a));
				snprintf(line, sizeof(line), "ident probe to %s port 113 was %s for %.1f s",
					 a, mx_ident_outcome_str(k->i->outcome), k->overlap_ms / 1000);
			}
			int w = snprintf(g->diagnosis + dl, sizeof(g->diagnosis) - dl, "%s%s",
					 dl > strlen(pre) ? "; " : "", line);
			if (w > 0)
				dl += (size_t)w;
			if (dl >= sizeof(g->diagnosis))
				dl = sizeof(g->diagnosis) - 1;
			const char *rem = remedy_for(k->rel, k->is_dns);
			bool seen = false;
			for (int i = 0; i < nrem; i++)
				seen |= remedies[i] == rem;
			if (!seen && nrem < 8)
				remedies[nrem++] = rem;
		}
		snprintf(g->diagnosis + dl, sizeof(g->diagnosis) - dl, " (of a %.1f s wait)",
			 wait_ms / 1000);
		for (int i = 0; i < nrem; i++) {
			int w = snprintf(g->remedy + rl, sizeof(g->remedy) - rl, "%s%s",
					 i ? "; " : "", remedies[i]);
			if (w > 0)
				rl += (size_t)w;
			if (rl >= sizeof(g->remedy))
				break;
		}
	}
	mx_sink_emit(&c->out, &ev);
}

static bool
is_zone_query(uint16_t t)
{
	return t == QT_NS || t == QT_SOA || t == QT_DS || t == QT_DNSKEY;
}

/* Keeps the MAX_UNRELATED_SHOWN candidates with the largest overlap. */
static void
keep_top(struct cand *top, int *n, const struct cand *k)
{
	int at = *n < MAX_UNRELATED_SHOWN ? (*n)++ : -1;
	if (at < 0) {
		at = 0;
		for (int i = 1; i < MAX_UNRELATED_SHOWN; i++)
			if (top[i].overlap_ms < top[at].overlap_ms)
				at = i;
		if (top[at].overlap_ms >= k->overlap_ms)
			return;
	}
	top[at] = *k;
}

/*
 * How long was an unanswered query or probe outstanding?  The packets do
 * not say when the asking process gave up.  A mail server's lookups for one
 * connection run one after the other (tcpserver: own PTR, client PTR,
 * ident), so an unanswered one lasted until the next related lookup of
 * this wait began; the last one lasts until unanswered_ns after its last
 * transmission (set when the record was added) or the end of the wait.
 */
static void
settle_lifetimes(struct cand *k, int n, uint64_t t0, uint64_t t1)
{
	for (int i = 0; i < n; i++) {
		if (k[i].unanswered && k[i].rel != MXR_UNRELATED && k[i].rel != MXR_UPSTREAM) {
			uint64_t next = 0;
			for (int j = 0; j < n; j++) {
				if (j == i || k[j].rel == MXR_UNRELATED || k[j].rel == MXR_UPSTREAM)
					continue;
				if (k[j].start > k[i].last && (!next || k[j].start < next))
					next = k[j].start;
			}
			if (next)
				k[i].end = next;
		}
		k[i].overlap_ms = ns_to_ms(overlap_ns(t0, t1, k[i].start, k[i].end));
		uint64_t qend = k[i].unanswered && k[i].end > t1 ? t1 : k[i].end;
		k[i].query_ms = qend > k[i].start ? ns_to_ms((int64_t)(qend - k[i].start)) : 0;
	}
}

static void
settle(struct corr *c, const struct held *h)
{
	struct cand *cands = calloc(MAX_CAND, sizeof(*cands));
	int n = 0;
	uint64_t t0 = h->txn.request_ns, t1 = h->wait_end;
	double wait_ms = ns_to_ms((int64_t)(t1 - t0));

	if (!cands)
		return;
	struct rctx *rc = malloc(sizeof(*rc));
	if (!rc) {
		free(cands);
		return;
	}
	rctx_init(rc, c, h);
	/* the unrelated activity that covered most of the wait, kept aside */
	struct cand unrel[MAX_UNRELATED_SHOWN];
	int nunrel = 0;
	for (uint32_t i = 0; i < c->dns_n && n < MAX_CAND; i++) {
		uint32_t slot = dns_slot(c, i);
		if (i == 0 || slot % DNS_BLK == 0) {
			const struct dns_blk *b = &c->dblk[slot / DNS_BLK];
			if (b->max_end <= t0 || b->min_ts >= t1) {
				/* nothing in the rest of this block overlaps the wait */
				uint32_t blk_end = (slot / DNS_BLK + 1) * DNS_BLK;
				if (blk_end > c->cfg.max_dns)
					blk_end = c->cfg.max_dns;
				i += blk_end - slot - 1;
				continue;
			}
		}
		const struct dns_key *key = &c->dkey[slot];
		int64_t ov = overlap_ns(t0, t1, key->ts, key->end_ns);
		if (ov <= 0)
			continue;
		const struct dns_rec *d = dns_at(c, i);
		if (!is_local(c, &d->client))
			continue;
		struct cand k = {.is_dns = 1, .d = d, .parent = -1, .start = d->ts,
				 .last = d->last_ns, .end = d->end_ns, .unanswered = d->resp_ns == 0};
		k.rel = relation_of(c, rc, h, d);
		/* zone queries to remote servers may be a local resolver's upstream hops */
		if (k.rel == MXR_UNRELATED && !(is_zone_query(d->qtype) && !is_local(c, &d->server))) {
			k.overlap_ms = ns_to_ms(ov);
			keep_top(unrel, &nunrel, &k);
			continue;
		}
		cands[n++] = k;
	}
	free(rc);
	/* upstream hops: a non-local query made while a local-resolver query was outstanding */
	for (int i = 0; i < n; i++) {
		const struct dns_rec *u = cands[i].d;
		if (is_local(c, &u->server))
			continue;
		for (int j = 0; j < n; j++) {
			const struct dns_rec *l = cands[j].d;
			if (j == i || !cands[j].is_dns || !is_local(c, &l->server))
				continue;
			bool same = strcmp(u->qname, l->qname) == 0;
			bool parent = is_zone_query(u->qtype) && ends_with_domain(l->qname, u->qname);
			if ((same || parent) && u->ts >= l->ts && u->ts <= l->end_ns) {
				cands[i].parent = j;
				cands[i].rel = MXR_UPSTREAM;
				break;
			}
		}
	}
	for (uint32_t i = 0; i < c->ident_n && n < MAX_CAND; i++) {
		const struct ident_rec *p = &c->ident[(c->ident_head + i) % c->cfg.max_ident];
		int64_t ov = overlap_ns(t0, t1, p->ts, p->end_ns);
		if (ov <= 0 || !is_local(c, &p->host))
			continue;
		struct cand k = {.i = p, .parent = -1, .start = p->ts, .last = p->last_ns,
				 .end = p->end_ns, .unanswered = p->outcome == MXI_UNANSWERED};
		k.rel = mx_addr_eq(&p->peer, &h->client) ? MXR_IDENT : MXR_UNRELATED;
		if (k.rel == MXR_UNRELATED) {
			k.overlap_ms = ns_to_ms(ov);
			keep_top(unrel, &nunrel, &k);
			continue;
		}
		cands[n++] = k;
	}
	for (int i = 0; i < nunrel && n < MAX_CAND; i++)
		cands[n++] = unrel[i];
	settle_lifetimes(cands, n, t0, t1);

	/* best related top-level cause, else best unrelated */
	int best = -1, best_unrel = -1;
	for (int i = 0; i < n; i++) {
		if (cands[i].parent >= 0)
			continue;
		if (cands[i].rel == MXR_UNRELATED) {
			if (best_unrel < 0 || cands[i].overlap_ms > cands[best_unrel].overlap_ms)
				best_unrel = i;
		} else if (best < 0 || cands[i].overlap_ms > cands[best].overlap_ms) {
			best = i;
		}
	}
	bool related = best >= 0;
	double floor_ms = 0;
	if (!related)
		best = best_unrel;

	if (best < 0) {
		emit_cause(c, h, NULL, 0, wait_ms, NULL);
	} else if (related) {
		/* a related lookup that covered under 1 % of the wait explains
		 * nothing when another one explains more: stored, not blamed */
		floor_ms = cands[best].overlap_ms >= wait_ms * MIN_SHARE ? wait_ms * MIN_SHARE : 0;
		for (int i = 0; i < n; i++) {
			if (cands[i].parent >= 0 || cands[i].rel == MXR_UNRELATED ||
			    cands[i].overlap_ms < floor_ms)
				continue;
			uint64_t id = 0;
			emit_cause(c, h, &cands[i], 0, wait_ms, &id);
			for (int j = 0; j < n; j++)
				if (cands[j].parent == i)
					emit_cause(c, h, &cands[j], id, wait_ms, NULL);
		}
	} else {
		/* nothing related: the unrelated activity that covered most of the wait */
		for (int shown = 0; shown < MAX_UNRELATED_SHOWN; shown++) {
			int top = -1;
			for (int i = 0; i < n; i++)
				if (cands[i].parent < 0 && cands[i].rel == MXR_UNRELATED &&
				    !cands[i].taken &&
				    (top < 0 || cands[i].overlap_ms > cands[top].overlap_ms))
					top = i;
			if (top < 0)
				break;
			emit_cause(c, h, &cands[top], 0, wait_ms, NULL);
			cands[top].taken = true;
		}
	}
	emit_diagnosis(c, h, cands, n, best, related, wait_ms, floor_ms);
	free(cands);
}

static void
hold_txn(struct corr *c, const struct mx_session *s, const struct mx_txn *t, uint64_t wait_end)
{
	if (c->nheld == c->cfg.max_held) {
		/* full: settle the oldest now with what is known */
		settle(c, &c->held[0]);
		memmove(&c->held[0], &c->held[1], (c->nheld - 1) * sizeof(c->held[0]));
		c->nheld--;
	}
	struct held *h = &c->held[c->nheld++];
	memset(h, 0, sizeof(*h));
	h->txn = *t;
	h->wait_end = wait_end;
	if (s) {
		h->proto = s->proto;
		h->outbound = s->outbound;
		h->client = s->client.addr;
		h->server = s->server.addr;
		mx_strlcpy(h->helo, s->helo, sizeof(h->helo));
		mx_strlcpy(h->banner, s->banner_host, sizeof(h->banner));
		mx_strlcpy(h->sender, s->sender_domain, sizeof(h->sender));
		h->nrcpt = s->n_rcpt_domains < MX_RCPT_DOMAINS ? s->n_rcpt_domains : MX_RCPT_DOMAINS;
		for (int i = 0; i < h->nrcpt; i++)
			mx_strlcpy(h->rcpt[i], s->rcpt_domains[i], sizeof(h->rcpt[i]));
	}
}

/* Takes slot (its dkey still the old record's) out of its answer chain. */
static void
ans_unlink(struct corr *c, uint32_t slot)
{
	int32_t p = c->ans_prev[slot], n = c->ans_next[slot];
	if (p >= 0)
		c->ans_next[p] = n;
	else
		c->ans_head[c->dkey[slot].qhash & c->ans_mask] = n;
	if (n >= 0)
		c->ans_prev[n] = p;
}

static void
ans_link(struct corr *c, uint32_t slot)
{
	int32_t *head = &c->ans_head[c->dkey[slot].qhash & c->ans_mask];
	c->ans_next[slot] = *head;
	c->ans_prev[slot] = -1;
	if (*head >= 0)
		c->ans_prev[*head] = (int32_t)slot;
	*head = (int32_t)slot;
}

/* Keeps the summary of slot's block true after the slot was (re)written. */
static void
blk_update(struct corr *c, uint32_t slot, const struct dns_key *old)
{
	struct dns_blk *b = &c->dblk[slot / DNS_BLK];
	const struct dns_key *k = &c->dkey[slot];
	if (old && (old->ts == b->min_ts || old->end_ns == b->max_end)) {
		/* the old record was the block's extreme: recount (a full ring
		   has every slot of the block in use) */
		uint32_t lo = slot / DNS_BLK * DNS_BLK, hi = lo + DNS_BLK;
		if (hi > c->cfg.max_dns)
			hi = c->cfg.max_dns;
		b->min_ts = UINT64_MAX;
		b->max_end = 0;
		for (uint32_t j = lo; j < hi; j++) {
			if (c->dkey[j].ts < b->min_ts)
				b->min_ts = c->dkey[j].ts;
			if (c->dkey[j].end_ns > b->max_end)
				b->max_end = c->dkey[j].end_ns;
		}
		return;
	}
	bool first = !old && slot % DNS_BLK == 0; /* the block's first record ever */
	if (first || k->ts < b->min_ts)
		b->min_ts = k->ts;
	if (first || k->end_ns > b->max_end)
		b->max_end = k->end_ns;
}

static void
add_dns(struct corr *c, const struct mx_dns *q)
{
	uint32_t slot;
	bool overwrite = false;
	if (c->dns_n < c->cfg.max_dns) {
		slot = (c->dns_head + c->dns_n) % c->cfg.max_dns;
		c->dns_n++;
	} else {
		overwrite = true;
		slot = c->dns_head;
		c->dns_head = (c->dns_head + 1) % c->cfg.max_dns;
	}
	struct dns_rec *d = &c->dns[slot];
	d->id = q->id;
	d->ts = q->ts_ns;
	d->resp_ns = q->response_ns;
	uint64_t last = q->last_send_ns > q->ts_ns ? q->last_send_ns : q->ts_ns;
	d->last_ns = last;
	d->end_ns = q->response_ns ? q->response_ns : last + c->cfg.unanswered_ns;
	d->client = q->client.addr;
	d->server = q->server.addr;
	d->qtype = q->qtype;
	d->outcome = q->outcome;
	mx_strlcpy(d->qname, q->qname, sizeof(d->qname));
	mx_strlcpy(d->answers, q->answers, sizeof(d->answers));
	struct dns_key old = c->dkey[slot];
	if (overwrite && old.answers)
		ans_unlink(c, slot);
	c->dkey[slot] = (struct dns_key){d->ts, d->end_ns, name_hash(d->qname), d->qtype,
					 d->answers[0] && (d->qtype == QT_PTR || d->qtype == QT_MX)};
	if (c->dkey[slot].answers)
		ans_link(c, slot);
	blk_update(c, slot, overwrite ? &old : NULL);
}

static void
add_ident(struct corr *c, const struct mx_ident *p)
{
	uint32_t slot;
	if (c->ident_n < c->cfg.max_ident) {
		slot = (c->ident_head + c->ident_n) % c->cfg.max_ident;
		c->ident_n++;
	} else {
		slot = c->ident_head;
		c->ident_head = (c->ident_head + 1) % c->cfg.max_ident;
	}
	struct ident_rec *r = &c->ident[slot];
	r->id = p->id;
	r->ts = p->ts_ns;
	r->host = p->host.addr;
	r->peer = p->peer.addr;
	r->outcome = p->outcome;
	uint64_t end = p->end_ns > p->ts_ns ? p->end_ns : p->ts_ns;
	r->last_ns = end;
	r->end_ns = p->outcome == MXI_UNANSWERED ? end + c->cfg.unanswered_ns : end;
}

void
corr_event(void *sink, const struct mx_event *ev)
{
	struct corr *c = sink;
	switch (ev->type) {
	case EV_DNS:
		add_dns(c, &ev->u.dns);
		break;
	case EV_IDENT:
		add_ident(c, &ev->u.ident);
		break;
	case EV_SESSION:
		if (ev->u.session.outbound) {
			const struct mx_session *x = &ev->u.session;
			struct out_rec *o = &c->out_conn[c->out_n++ % MAX_OUT];
			o->ts = x->syn_ns ? x->syn_ns : x->start_ns;
			o->end_ns = x->end_ns > o->ts ? x->end_ns : o->ts;
			o->server = x->server;
			o->outcome = x->outcome;
		}
		break;
	case EV_TXN: {
		const struct mx_txn *t = &ev->u.txn;
		/* a reply never sent counts when someone gave up waiting for it;
		 * a wait cut off by the end of the capture is not judged */
		bool gave_up = t->outcome == MXO_CLIENT_ABORT || t->outcome == MXO_SERVER_CLOSE;
		uint64_t end = t->reply_ns ? t->reply_ns : gave_up ? t->end_ns : 0;
		if (end > t->request_ns && t->request_ns &&
		    ns_to_ms((int64_t)(end - t->request_ns)) >= c->cfg.slow_ms)
			hold_txn(c, ev->session, t, end);
		break;
	}
	default:
		break;
	}
	mx_sink_emit(&c->out, ev);
}

void
corr_advance(struct corr *c, uint64_t now_ns)
{
	uint32_t keep = 0;
	c->now_ns = now_ns;
	for (uint32_t i = 0; i < c->nheld; i++) {
		if (now_ns >= c->held[i].wait_end + c->cfg.hold_ns)
			settle(c, &c->held[i]);
		else if (keep++ != i) /* a few KiB each: move only what must move */
			c->held[keep - 1] = c->held[i];
	}
	c->nheld = keep;
}

void
corr_finish(struct corr *c)
{
	for (uint32_t i = 0; i < c->nheld; i++)
		settle(c, &c->held[i]);
	c->nheld = 0;
}
