/*
 * metrics.c - the Prometheus registry of a capture (metrics.h).
 *
 * Every figure is a fixed array indexed by small vocabularies (protocol,
 * command, outcome, cause kind and relation) and by two capped address
 * tables (hosts, resolvers), so a scrape is one copy of one struct (54
 * KiB) and the memory is known in advance (310 KiB with the table of
 * slow replies awaiting their causes).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "metrics.h"

/* reply latency buckets, seconds: from a fast local answer to a mail
 * server's longest usual timeouts (a greeting delay, a content filter) */
static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                 1,     2.5,  5,     10,   30,  60,  120};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

/* the commands of the SMTP, POP3 and TLS analyzers; the last is "other" */
static const char *const commands[] = {
    "GREETING", "HELO", "EHLO", "MAIL",      "RCPT",  "DATA", "DATA-END", "BDAT",
    "STARTTLS", "AUTH", "RSET", "NOOP",      "QUIT",  "VRFY", "EXPN",     "HELP",
    "ETRN",     "USER", "PASS", "APOP",      "CAPA",  "STLS", "STAT",     "LIST",
    "UIDL",     "RETR", "TOP",  "DELE",      "TLS-HELLO", "TLS", "other",
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))
#define NPROTO 3                 /* enum mx_proto */
#define NOUTCOME (MXO_CUT + 1)   /* enum mx_outcome */
#define NDNS (MXD_NO_QUERY + 1)  /* enum mx_dns_outcome */
#define NIDENT (MXI_UNANSWERED + 1)
#define NKIND (MXC_BIG_MESSAGE + 1)
#define NREL (MXR_UNRELATED + 1)
/* address slots: the capped ones, then "other", then "unknown" (hosts:
 * neither end of the session known to be a host when it was seen) */
#define SLOT_OTHER(cap) (cap)
#define SLOT_UNKNOWN(cap) ((cap) + 1)
#define NSLOTS (METRICS_MAX_HOSTS + 2)
/* slow replies waiting for their causes: their host, by transaction id */
#define PENDING 16384

struct hist {
	uint64_t le[NBUCKETS]; /* per bucket, not cumulative (summed when written) */
	uint64_t count;
	double sum;
};

struct addr_table {
	unsigned n, cap;
	struct mx_addr addr[METRICS_MAX_HOSTS];
	char text[METRICS_MAX_HOSTS][48];
};

/* what a scrape copies */
struct figures {
	uint64_t packets, kernel_drops, if_drops;
	int have_kernel;
	uint64_t last_packet_ns;
	uint64_t sessions_over_cap;
	uint64_t sessions[NPROTO][NOUTCOME];
	struct hist latency[NPROTO][NCOMMANDS];
	uint64_t slow[NSLOTS];                      /* judged slow replies by host */
	uint64_t causes[NKIND][NREL][NSLOTS];       /* their causes (top-level) by host */
	uint64_t dns[NSLOTS][NDNS];                 /* by resolver */
	uint64_t ident[NIDENT];
	struct addr_table hosts, resolvers;
};

struct pending {
	uint64_t txn_id;
	unsigned slot;
};

struct metrics {
	pthread_mutex_t mu;
	double slow_ms, start_time_s;
	char *version;
	struct figures f;
	struct pending pending[PENDING]; /* packet thread only, under mu too */
};

struct metrics *
metrics_new(const struct metrics_cfg *cfg)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->version = strdup(cfg && cfg->version ? cfg->version : "");
	if (!m->version || pthread_mutex_init(&m->mu, NULL) != 0) {
		free(m->version);
		free(m);
		return NULL;
	}
	m->slow_ms = cfg ? cfg->slow_ms : 1000;
	m->start_time_s = cfg ? cfg->start_time_s : 0;
	unsigned hc = cfg && cfg->max_hosts ? cfg->max_hosts : METRICS_MAX_HOSTS;
	unsigned rc = cfg && cfg->max_resolvers ? cfg->max_resolvers : METRICS_MAX_RESOLVERS;
	m->f.hosts.cap = hc < METRICS_MAX_HOSTS ? hc : METRICS_MAX_HOSTS;
	m->f.resolvers.cap = rc < METRICS_MAX_RESOLVERS ? rc : METRICS_MAX_RESOLVERS;
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m->version);
	free(m);
}

/* The slot of address a: its own while the table has room, else "other". */
static unsigned
addr_slot(struct addr_table *t, const struct mx_addr *a)
{
	for (unsigned i = 0; i < t->n; i++)
		if (mx_addr_eq(&t->addr[i], a))
			return i;
	if (t->n == t->cap)
		return SLOT_OTHER(t->cap);
	t->addr[t->n] = *a;
	mx_addr_fmt(a, t->text[t->n], sizeof(t->text[0]));
	return t->n++;
}

/* The host end of a session (inbound: the server), as compact.c tells it. */
static unsigned
host_slot(struct figures *f, const struct mx_session *s)
{
	if (s && s->server_is_host)
		return addr_slot(&f->hosts, &s->server.addr);
	if (s && s->client_is_host)
		return addr_slot(&f->hosts, &s->client.addr);
	return SLOT_UNKNOWN(f->hosts.cap);
}

static unsigned
command_index(const char *cmd)
{
	for (unsigned i = 0; i + 1 < NCOMMANDS; i++)
		if (strcmp(cmd, commands[i]) == 0)
			return i;
	return NCOMMANDS - 1;
}

static void
hist_add(struct hist *h, double v)
{
	unsigned i = 0;
	while (i < NBUCKETS && v > buckets[i])
		i++;
	if (i < NBUCKETS)
		h->le[i]++;
	h->count++;
	h->sum += v;
}

static void
on_txn(struct metrics *m, const struct mx_session *s, const struct mx_txn *t)
{
	struct figures *f = &m->f;
	unsigned proto = s && s->proto < NPROTO ? (unsigned)s->proto : MXP_UNKNOWN;
	if (t->reply_ns && t->request_ns && t->reply_ns >= t->request_ns)
		hist_add(&f->latency[proto][command_index(t->command)],
		         (double)(t->reply_ns - t->request_ns) / 1e9);
	/* the correlator's rule (correlate.c, corr_event): which waits it judges */
	int gave_up = t->outcome == MXO_CLIENT_ABORT || t->outcome == MXO_SERVER_CLOSE ||
	              t->outcome == MXO_CUT;
	uint64_t end = t->reply_ns ? t->reply_ns : gave_up ? t->end_ns : 0;
	if (end > t->request_ns && t->request_ns &&
	    (double)(end - t->request_ns) / 1e6 >= m->slow_ms) {
		struct pending *p = &m->pending[t->id % PENDING];
		p->txn_id = t->id;
		p->slot = host_slot(f, s);
	}
}

/* The host of a judged slow reply ("other" when its record was overwritten). */
static unsigned
pending_slot(struct metrics *m, uint64_t txn_id)
{
	const struct pending *p = &m->pending[txn_id % PENDING];
	return p->txn_id == txn_id ? p->slot : SLOT_OTHER(m->f.hosts.cap);
}

void
metrics_event(void *sink, const struct mx_event *ev)
{
	struct metrics *m = sink;
	struct figures *f = &m->f;
	pthread_mutex_lock(&m->mu);
	switch (ev->type) {
	case EV_SESSION: {
		const struct mx_session *s = &ev->u.session;
		if (s->proto < NPROTO && s->outcome < NOUTCOME)
			f->sessions[s->proto][s->outcome]++;
		break;
	}
	case EV_TXN:
		on_txn(m, ev->session, &ev->u.txn);
		break;
	case EV_DNS: {
		const struct mx_dns *d = &ev->u.dns;
		if (d->outcome < NDNS)
			f->dns[addr_slot(&f->resolvers, &d->server.addr)][d->outcome]++;
		break;
	}
	case EV_IDENT:
		if (ev->u.ident.outcome < NIDENT)
			f->ident[ev->u.ident.outcome]++;
		break;
	case EV_CAUSE: {
		const struct mx_cause *c = &ev->u.cause;
		if (!c->parent_id && c->kind < NKIND && c->relation < NREL)
			f->causes[c->kind][c->relation][pending_slot(m, c->txn_id)]++;
		break;
	}
	case EV_DIAGNOSIS: {
		/* the last event of a judged slow reply */
		uint64_t id = ev->u.diag.txn_id;
		f->slow[pending_slot(m, id)]++;
		struct pending *p = &m->pending[id % PENDING];
		if (p->txn_id == id)
			p->txn_id = 0;
		break;
	}
	default:
		break;
	}
	pthread_mutex_unlock(&m->mu);
}

void
metrics_capture(struct metrics *m, const struct cap_stats *st, uint64_t last_packet_ns)
{
	pthread_mutex_lock(&m->mu);
	m->f.packets = st->c[CNT_PACKETS];
	m->f.have_kernel = st->have_kernel;
	if (st->have_kernel) {
		m->f.kernel_drops = st->kernel_drop;
		m->f.if_drops = st->ifdrop;
	}
	if (last_packet_ns)
		m->f.last_packet_ns = last_packet_ns;
	pthread_mutex_unlock(&m->mu);
}

void
metrics_dispatch(struct metrics *m, const struct dispatch_stats *ds)
{
	pthread_mutex_lock(&m->mu);
	m->f.sessions_over_cap = ds->sessions_over_cap;
	pthread_mutex_unlock(&m->mu);
}

/* ---- exposition ----------------------------------------------------------------- */

struct out {
	char *buf;
	size_t len, cap;
	int failed;
};

static void __attribute__((format(printf, 2, 3)))
put(struct out *o, const char *fmt, ...)
{
	for (;;) {
		if (o->failed)
			return;
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = 1;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap * 2 + (size_t)n;
		char *b = realloc(o->buf, cap);
		if (!b) {
			o->failed = 1;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

int
metrics_escape_label(const char *v, char *out, size_t n)
{
	size_t at = 0;
	for (; *v; v++) {
		const char *e = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" : *v == '\n' ? "\\n" : NULL;
		size_t k = e ? 2 : 1;
		if (at + k >= n)
			return -1;
		if (e)
			memcpy(out + at, e, 2);
		else
			out[at] = *v;
		at += k;
	}
	if (at >= n)
		return -1;
	out[at] = '\0';
	return (int)at;
}

static void
head(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as written: escaped (the vocabularies need not be, addresses
 * neither, but the version may say anything). */
static const char *
esc(const char *v, char *buf, size_t n)
{
	return metrics_escape_label(v, buf, n) >= 0 ? buf : "";
}

/* A go-style float: integral values without a fraction ("1", "0.005", "120"). */
static void
put_le(struct out *o, double le)
{
	put(o, "%.10g", le);
}

static void
put_hist(struct out *o, const char *name, const char *labels, const struct hist *h)
{
	uint64_t cum = 0;
	for (unsigned i = 0; i < NBUCKETS; i++) {
		cum += h->le[i];
		put(o, "%s_bucket{%s,le=\"", name, labels);
		put_le(o, buckets[i]);
		put(o, "\"} %llu\n", (unsigned long long)cum);
	}
	put(o, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels, (unsigned long long)h->count);
	put(o, "%s_sum{%s} %.9g\n", name, labels, h->sum);
	put(o, "%s_count{%s} %llu\n", name, labels, (unsigned long long)h->count);
}

/* Slot i of an address table as a label value. */
static const char *
slot_name(const struct addr_table *t, unsigned i)
{
	return i < t->n ? t->text[i] : i == SLOT_OTHER(t->cap) ? "other" : "unknown";
}

static int
slot_used(const struct addr_table *t, unsigned i)
{
	return i < t->n || i == SLOT_OTHER(t->cap) || i == SLOT_UNKNOWN(t->cap);
}

static void
format_figures(struct out *o, const struct figures *f, const char *version, double start_s)
{
	char lbl[256], v[128];
	head(o, "mxlag_build_info", "gauge", "mxlag's version; always 1");
	put(o, "mxlag_build_info{version=\"%s\"} 1\n", esc(version, v, sizeof(v)));
	head(o, "mxlag_capture_start_time_seconds", "gauge",
	     "When the capture started, seconds since the epoch");
	put(o, "mxlag_capture_start_time_seconds %.3f\n", start_s);
	head(o, "mxlag_last_packet_time_seconds", "gauge",
	     "Capture time of the latest packet, seconds since the epoch (0 = none yet)");
	put(o, "mxlag_last_packet_time_seconds %.3f\n", (double)f->last_packet_ns / 1e9);
	head(o, "mxlag_packets_total", "counter", "Packets the capture has read");
	put(o, "mxlag_packets_total %llu\n", (unsigned long long)f->packets);
	if (f->have_kernel) {
		head(o, "mxlag_kernel_drops_total", "counter",
		     "Packets the kernel dropped: the capture did not keep up (pcap_stats ps_drop)");
		put(o, "mxlag_kernel_drops_total %llu\n", (unsigned long long)f->kernel_drops);
		head(o, "mxlag_interface_drops_total", "counter",
		     "Packets the interface or its driver dropped (pcap_stats ps_ifdrop)");
		put(o, "mxlag_interface_drops_total %llu\n", (unsigned long long)f->if_drops);
	}
	head(o, "mxlag_sessions_over_cap_total", "counter",
	     "Mail connections not analyzed: --max-sessions sessions were open");
	put(o, "mxlag_sessions_over_cap_total %llu\n", (unsigned long long)f->sessions_over_cap);

	head(o, "mxlag_sessions_total", "counter", "SMTP and POP3 sessions finished, by protocol and outcome");
	for (unsigned p = 0; p < NPROTO; p++)
		for (unsigned x = 0; x < NOUTCOME; x++)
			if (f->sessions[p][x])
				put(o, "mxlag_sessions_total{proto=\"%s\",outcome=\"%s\"} %llu\n",
				    mx_proto_str((enum mx_proto)p), mx_outcome_str((enum mx_outcome)x),
				    (unsigned long long)f->sessions[p][x]);

	head(o, "mxlag_reply_latency_seconds", "histogram",
	     "From a command to the first byte of its reply, by protocol and command "
	     "(unknown commands are \"other\")");
	for (unsigned p = 0; p < NPROTO; p++)
		for (unsigned c = 0; c < NCOMMANDS; c++)
			if (f->latency[p][c].count) {
				snprintf(lbl, sizeof(lbl), "proto=\"%s\",command=\"%s\"",
				         mx_proto_str((enum mx_proto)p), commands[c]);
				put_hist(o, "mxlag_reply_latency_seconds", lbl, &f->latency[p][c]);
			}

	put(o, "# HELP mxlag_slow_replies_total Slow replies (--slow) judged, by mail host (after "
	       "%u hosts: \"other\"; \"unknown\": no end known to be a host)\n"
	       "# TYPE mxlag_slow_replies_total counter\n",
	    f->hosts.cap);
	for (unsigned h = 0; h < NSLOTS; h++)
		if (f->slow[h] && slot_used(&f->hosts, h))
			put(o, "mxlag_slow_replies_total{host=\"%s\"} %llu\n",
			    esc(slot_name(&f->hosts, h), v, sizeof(v)), (unsigned long long)f->slow[h]);

	head(o, "mxlag_slow_reply_causes_total", "counter",
	     "Causes of slow replies, by cause kind, relation and mail host (a reply with two "
	     "causes counts twice; kind \"none\": nothing found)");
	for (unsigned k = 0; k < NKIND; k++)
		for (unsigned r = 0; r < NREL; r++)
			for (unsigned h = 0; h < NSLOTS; h++)
				if (f->causes[k][r][h] && slot_used(&f->hosts, h))
					put(o,
					    "mxlag_slow_reply_causes_total{kind=\"%s\",relation=\"%s\","
					    "host=\"%s\"} %llu\n",
					    mx_cause_kind_str((enum mx_cause_kind)k),
					    r == MXR_NONE ? "none" : mx_relation_str((enum mx_relation)r),
					    esc(slot_name(&f->hosts, h), v, sizeof(v)),
					    (unsigned long long)f->causes[k][r][h]);

	put(o, "# HELP mxlag_dns_queries_total DNS queries finished, by resolver and outcome "
	       "(after %u resolvers: \"other\")\n# TYPE mxlag_dns_queries_total counter\n",
	    f->resolvers.cap);
	for (unsigned s = 0; s < NSLOTS; s++)
		for (unsigned x = 0; x < NDNS; x++)
			if (f->dns[s][x] && slot_used(&f->resolvers, s))
				put(o, "mxlag_dns_queries_total{resolver=\"%s\",outcome=\"%s\"} %llu\n",
				    esc(slot_name(&f->resolvers, s), v, sizeof(v)),
				    mx_dns_outcome_str((enum mx_dns_outcome)x),
				    (unsigned long long)f->dns[s][x]);

	head(o, "mxlag_ident_probes_total", "counter", "Ident (RFC 1413) probes finished, by outcome");
	for (unsigned x = 0; x < NIDENT; x++)
		if (f->ident[x])
			put(o, "mxlag_ident_probes_total{outcome=\"%s\"} %llu\n",
			    mx_ident_outcome_str((enum mx_ident_outcome)x),
			    (unsigned long long)f->ident[x]);
}

char *
metrics_format(struct metrics *m, size_t *len)
{
	struct figures *f = malloc(sizeof(*f));
	if (!f)
		return NULL;
	pthread_mutex_lock(&m->mu);
	memcpy(f, &m->f, sizeof(*f));
	pthread_mutex_unlock(&m->mu);
	struct out o = {malloc(16384), 0, 16384, 0};
	if (!o.buf)
		o.failed = 1;
	format_figures(&o, f, m->version, m->start_time_s);
	free(f);
	if (o.failed) {
		free(o.buf);
		return NULL;
	}
	if (len)
		*len = o.len;
	return o.buf;
}
