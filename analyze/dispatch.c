/*
 * dispatch.c - flows to parsers, parsers to the correlator.
 *
 * Which parser a flow gets: the server port first (SMTP 25/587/2525,
 * SMTPS 465, POP3 110, POP3S 995, DNS 53, ident 113) because nDPI can
 * misname a mail flow by its client port; on any other port nDPI looks at
 * the first packets and our own greeting probe has the last word.  Per-flow
 * state is allocated lazily, when a mail flow carries data, so a SYN flood
 * costs flow-table entries only.
 */
#include "dispatch.h"

#include <ndpi_api.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "evjson.h"
#include "ident.h"
#include "tls.h"
#include "capture/recycle.h"

#define NDPI_MAX_PACKETS 12

enum fkind { FK_UNKNOWN = 0, FK_MAIL, FK_DNS, FK_IDENT, FK_IGNORE };

/* one per flow (a SYN flood makes 131072 of them): kept small */
struct fstate {
	const struct proto_parser_ops *ops; /* FK_MAIL: chosen parser (NULL until known) */
	void *parser;
	struct mx_session *sess;
	struct dns_tcp *dtcp;
	struct ident_probe *ident;
	struct ndpi_flow_struct *nflow;
	uint64_t conn;     /* correlator's handle of a mail connection, 0 = none */
	uint32_t list_idx; /* 1 + its index in the open-session or probe list, 0 = none */
	uint8_t kind;      /* enum fkind */
	uint8_t ndpi_pkts;
	uint16_t ndpi_proto;
	bool implicit_tls; /* 465 / 995 */
	uint8_t ended[2];  /* end() already told per direction: 1 FIN, 2 RST */
	bool served;       /* the server of a mail flow sent data */
	struct used *used; /* a session with a parser: the lookups made for it (owner_of()) */
};

/*
 * What a mail session has had looked up for it, by question: a server
 * process looks a name up once per session (retries aside).
 */
#define USED_NAMES 32
struct used {
	struct fstate *fs;
	struct used *cnext, *cprev; /* the sessions of the same client address */
	uint32_t key[USED_NAMES];
	uint8_t n, next;
	uint64_t ident_ns; /* the SYN of the ident probe made for the session, 0 = none */
	/* lookups about the client made for the session and not over yet
	   (no answer, no timeout), and when the last of them was sent */
	uint16_t open_dns;
	uint64_t last_dns_ns;
};
#define BY_CLIENT 16384 /* buckets of the client index, a power of two */

struct dispatch {
	struct dispatch_cfg cfg;
	struct cap_ops ops;
	struct mx_ids ids;
	struct mx_sink to_corr; /* parsers emit here (dispatch_emit) */
	struct mx_sink corr_out; /* the correlator emits here (the store) */
	struct corr *corr;
	struct hosts *hosts;
	struct dns_tracker *dns;
	/* what corr_advance() needs: when the oldest open wait began (the mail
	   sessions with a parser), and before when every probe is final */
	struct fslist {
		struct cap_flow **v; /* their state is flow->user */
		uint32_t n, cap;
	} mail, probes;
	struct used **by_client; /* sessions with a parser, by client address */
	struct ndpi_detection_module_struct *ndpi;
	struct dispatch_stats st;
	uint32_t open_sessions; /* mail sessions with state right now */
	mx_emit_fn out;
	void *out_ctx;
};

static const struct {
	uint16_t port;
	enum fkind kind;
	const struct proto_parser_ops *ops;
	bool tls;
} known_ports[] = {
	{25, FK_MAIL, &smtp_parser_ops, false},  {587, FK_MAIL, &smtp_parser_ops, false},
	{2525, FK_MAIL, &smtp_parser_ops, false}, {465, FK_MAIL, &smtps_parser_ops, true},
	{110, FK_MAIL, &pop3_parser_ops, false}, {995, FK_MAIL, &pop3s_parser_ops, true},
	{53, FK_DNS, NULL, false},               {113, FK_IDENT, NULL, false},
};

/* ---- which session a lookup or probe was made for ----------------------------- */

static uint32_t
question_key(const char *qname, uint16_t qtype)
{
	uint32_t h = 2166136261u ^ qtype;
	for (; *qname; qname++)
		h = (h ^ (uint8_t)*qname) * 16777619u;
	return h ? h : 1;
}

static bool
used_has(const struct fstate *fs, uint32_t key)
{
	for (unsigned i = 0; fs->used && i < fs->used->n; i++)
		if (fs->used->key[i] == key)
			return true;
	return false;
}

static uint32_t
client_bucket(const struct mx_addr *a)
{
	return (uint32_t)mx_addr_hash(a) & (BY_CLIENT - 1);
}

/* A session that got a parser: into the client index (false: out of memory). */
static bool
index_session(struct dispatch *d, struct fstate *fs)
{
	struct used *u = mx_recycled_zero(sizeof(*u));
	if (!u)
		return false;
	u->fs = fs;
	struct used **head = &d->by_client[client_bucket(&fs->sess->client.addr)];
	u->cnext = *head;
	if (*head)
		(*head)->cprev = u;
	*head = u;
	fs->used = u;
	return true;
}

static void
unindex_session(struct dispatch *d, struct fstate *fs)
{
	struct used *u = fs->used;
	if (!u)
		return;
	if (u->cprev)
		u->cprev->cnext = u->cnext;
	else
		d->by_client[client_bucket(&fs->sess->client.addr)] = u->cnext;
	if (u->cnext)
		u->cnext->cprev = u->cprev;
	mx_recycle(u, sizeof(*u));
	fs->used = NULL;
}

static void
used_add(struct fstate *fs, uint32_t key)
{
	struct used *u = fs->used;
	if (u->n < USED_NAMES)
		u->key[u->n++] = key;
	else
		u->key[u->next++ % USED_NAMES] = key;
}

enum about { ABOUT_NOTHING, ABOUT_CLIENT, ABOUT_SELF };

/* a lookup about the client sent this lately and not over keeps its session busy */
#define BUSY_NS 1000000000ull /* 1 s: a stub's shortest timeout */

static bool
busy(const struct fstate *fs, uint64_t ts)
{
	const struct used *u = fs->used;
	return u->open_dns && ts >= u->last_dns_ns && ts - u->last_dns_ns < BUSY_NS;
}

static void
dns_opened(struct fstate *fs, uint64_t ts)
{
	if (fs->used->open_dns < UINT16_MAX)
		fs->used->open_dns++;
	fs->used->last_dns_ns = ts;
}

static void
dns_closed(struct fstate *fs)
{
	if (fs->used->open_dns)
		fs->used->open_dns--;
}

/* The session with id among the sessions of client x in the index, or NULL. */
static struct fstate *
client_session(struct dispatch *d, const struct mx_addr *x, uint64_t id)
{
	for (struct used *u = d->by_client[client_bucket(x)]; u; u = u->cnext)
		if (u->fs->sess && u->fs->sess->id == id)
			return u->fs;
	return NULL;
}

/* A lookup about a client (its reverse or DNSBL name), about the host
 * itself, or neither; ab: what qname is about when worked out already
 * (mx_dns.about), or NULL. */
static enum about
about_of(const struct dispatch *d, const struct mx_addr *sender, const char *qname,
	 const struct mx_dns_about *ab, struct mx_addr *x)
{
	struct mx_dns_about tmp;
	ab = dns_about(qname, ab, &tmp);
	if (ab->kind == MXD_ABOUT_ARPA || ab->kind == MXD_ABOUT_REVERSED) {
		*x = ab->addr;
		return hosts_same_machine(d->hosts, x, sender) ? ABOUT_SELF : ABOUT_CLIENT;
	}
	return strchr(qname, '.') ? ABOUT_NOTHING : ABOUT_SELF; /* a bare host name */
}

/*
 * The session a new lookup or probe of sender was made for.  Candidates:
 * the sessions of sender's machine (about a client: of that client) that
 * are waiting for a reply right now and have had no such lookup yet; the
 * one whose wait began last (a server looks things up as a command or a
 * connection arrives; about the host itself, a session still waiting for
 * its greeting first).  When none is left and the pending lookup of the
 * same question is still waited for by its owner, this is a retry of it
 * (djbdns resends with another id and port).  About the host itself, while
 * such a lookup is pending, only the owner's own service (server port)
 * counts: tcpserver looks its own name up for every connection, while the
 * sessions of another daemon on the same machine may never make that
 * lookup.  0: cannot tell.
 */
/*
 * When the session of fs began waiting for a reply, if it is served on
 * sender's machine and was waiting at ts; else 0.
 */
static uint64_t
wait_on_machine(struct dispatch *d, const struct fstate *fs, const struct mx_addr *sender,
		uint64_t ts)
{
	if (!fs || !fs->sess || !fs->parser)
		return 0;
	const struct mx_addr *srv = &fs->sess->server.addr;
	if (!mx_addr_eq(srv, sender) && !hosts_same_machine(d->hosts, srv, sender))
		return 0;
	uint64_t w = fs->ops->waiting_since(fs->parser);
	return w && w <= ts ? w : 0;
}

/* a lookup sent this soon after an encrypted request may be tied to it by timing */
#define TLS_CLAIM_NS 50000000ull /* 50 ms */

/*
 * A lookup about nothing the host's sessions show (a domain name): inside
 * TLS the HELO name, sender and recipients are hidden, so it cannot be tied
 * to a session by name.  It is tied by timing when exactly one session of
 * sender's machine is waiting for a reply, that wait is inside TLS and
 * began at most TLS_CLAIM_NS before the lookup (servers look a name up as
 * the command arrives).  With two sessions waiting it stays nobody's: a
 * wrong cause is worse than none.
 */
static uint64_t
tls_claim(struct dispatch *d, const struct mx_addr *sender, uint64_t ts)
{
	struct fstate *only = NULL;
	uint64_t only_w = 0;
	for (uint32_t i = 0; i < d->mail.n; i++) {
		struct fstate *fs = d->mail.v[i]->user;
		uint64_t w = wait_on_machine(d, fs, sender, ts);
		if (!w)
			continue;
		if (only)
			return 0;
		only = fs;
		only_w = w;
	}
	if (!only || !only->sess->tls || ts - only_w > TLS_CLAIM_NS)
		return 0;
	d->st.tls_claimed++;
	return only->sess->id | MX_OWNER_TIMING;
}

static uint64_t
owner_of(struct dispatch *d, const struct mx_addr *sender, enum about ab, const struct mx_addr *x,
	 uint32_t key, const struct pending_lookup *pend, uint64_t ts)
{
	int port = -1; /* any, or the pending owner's service */
	const uint32_t ident_key = question_key("ident", IDENT_PORT);
	if (ab == ABOUT_NOTHING)
		return tls_claim(d, sender, ts);
	for (int pass = 0; pass < 2; pass++) {
		struct fstate *best = NULL;
		uint64_t best_w = 0;
		bool best_greets = false;
		bool pending_waits = false;
		/* about a client: its sessions from the index; else all of them */
		struct used *chain = ab == ABOUT_CLIENT ? d->by_client[client_bucket(x)] : NULL;
		uint32_t i = 0;
		for (;;) {
			struct fstate *fs;
			if (ab == ABOUT_CLIENT) {
				if (!chain)
					break;
				fs = chain->fs;
				chain = chain->cnext;
			} else {
				if (i == d->mail.n)
					break;
				fs = d->mail.v[i++]->user;
			}
			if (!fs->sess || !fs->parser || !fs->used)
				continue;
			const struct mx_session *s = fs->sess;
			if (ab == ABOUT_CLIENT && !mx_addr_eq(&s->client.addr, x))
				continue;
			uint64_t w = wait_on_machine(d, fs, sender, ts);
			if (!w)
				continue;
			if (used_has(fs, key)) {
				if (pend && s->id == MX_OWNER_ID(pend->owner)) {
					pending_waits = true;
					if (ab == ABOUT_SELF && pass == 0)
						port = s->server.port;
				}
				continue;
			}
			if (port >= 0 && s->server.port != port)
				continue;
			/* about the host itself: a session still waiting for its
			   greeting first (tcpserver resolves its own name as it
			   accepts; a session in the middle of a transaction does
			   not start on that) */
			bool greets = ab == ABOUT_SELF && w == s->start_ns;
			bool take = !best || (greets && !best_greets) ||
			            (greets == best_greets && w >= best_w);
			/* a lookup about a client after its ident probes, with two
			   of its connections still before their greeting: the one
			   that probed first.  A server works through a connection
			   step by step (the ident probe, then the reverse lookup)
			   with one timeout for every probe, so the connection
			   probed first gets to its lookup first; the one accepted
			   last may still wait for its own probe (where the
			   timeouts differ, dns_reowner() mends it) */
			if (best && ab == ABOUT_CLIENT && key != ident_key && w == s->start_ns &&
			    best_w == best->sess->start_ns && fs->used->ident_ns &&
			    best->used->ident_ns)
				take = fs->used->ident_ns < best->used->ident_ns;
			/* a connection whose own lookup about the client went out
			   lately and is not over waits for it: its server does one
			   thing at a time, so the lookup is the other one's.  Not
			   for ident probes: a server probes as it accepts, and a
			   lookup given to a connection accepted a moment earlier
			   may have been its neighbour's */
			if (best && ab == ABOUT_CLIENT && key != ident_key &&
			    busy(fs, ts) != busy(best, ts))
				take = !busy(fs, ts);
			if (take) {
				best = fs;
				best_w = w;
				best_greets = greets;
			}
		}
		if (port >= 0 && pass == 0)
			continue; /* again, with the owner's service only */
		if (best) {
			used_add(best, key);
			if (key == ident_key && !best->used->ident_ns)
				best->used->ident_ns = ts;
			else if (ab == ABOUT_CLIENT && key != ident_key)
				dns_opened(best, ts);
			return best->sess->id;
		}
		return pending_waits ? pend->owner : 0;
	}
	return 0;
}

/* dns_owner_fn */
static uint64_t
dns_owner(void *ctx, const struct mx_endpoint *cli, const struct dns_msg *m,
	  const struct mx_dns_about *about, const struct pending_lookup *pend, uint64_t ts)
{
	struct dispatch *d = ctx;
	struct mx_addr x;
	enum about ab = about_of(d, &cli->addr, m->qname, about, &x);
	return owner_of(d, &cli->addr, ab, &x, question_key(m->qname, m->qtype), pend, ts);
}

/*
 * dns_reowner_fn: a lookup about a client resent after its owner got its
 * reply was not the owner's: the stub resends only while its caller waits.
 * With two connections of one client waiting for their greeting and
 * neither with its reverse lookup yet, owner_of() gives the first such
 * lookup to the one that began waiting last, which is right unless the
 * other was held longer by an earlier step (an ident probe that timed
 * out).  So the lookup goes to the one other session of that client on
 * that machine that has been waiting since before it was sent; with none
 * or several, it stays as it was (a wrong cause is worse than none).
 */
static uint64_t
dns_reowner(void *ctx, uint64_t owner, const struct mx_endpoint *cli, const char *qname,
	    uint16_t qtype, uint64_t first_ns, uint64_t ts)
{
	struct dispatch *d = ctx;
	struct mx_addr x;
	if (owner & MX_OWNER_TIMING || about_of(d, &cli->addr, qname, NULL, &x) != ABOUT_CLIENT)
		return owner;
	struct fstate *other = NULL, *was = NULL;
	for (struct used *u = d->by_client[client_bucket(&x)]; u; u = u->cnext) {
		struct fstate *fs = u->fs;
		if (!fs->sess || !fs->parser || !mx_addr_eq(&fs->sess->client.addr, &x))
			continue;
		uint64_t w = wait_on_machine(d, fs, &cli->addr, ts);
		if (fs->sess->id == owner) {
			if (w && w <= first_ns)
				return owner; /* still in the wait it was made for */
			was = fs;
			continue;
		}
		if (!w || w > first_ns)
			continue;
		if (other)
			return owner; /* two could have made it */
		other = fs;
	}
	if (!other)
		return owner;
	used_add(other, question_key(qname, qtype));
	if (was)
		dns_closed(was);
	dns_opened(other, first_ns);
	d->st.dns_reowned++;
	return other->sess->id;
}

/* Events from the analyzers: count, print (--events), learn hosts, pass on. */
static void
dispatch_emit(void *ctx, const struct mx_event *ev)
{
	struct dispatch *d = ctx;
	switch (ev->type) {
	case EV_SESSION:
		d->st.sessions++;
		break;
	case EV_TXN:
		d->st.txns++;
		break;
	case EV_DNS: {
		d->st.dns_queries++;
		/* a lookup about a client is over: its session is no longer busy with it */
		const struct mx_dns *q = &ev->u.dns;
		struct mx_addr x;
		if (q->owner && !(q->owner & MX_OWNER_TIMING) && q->outcome != MXD_NO_QUERY &&
		    about_of(d, &q->client.addr, q->qname, &q->about, &x) == ABOUT_CLIENT) {
			struct fstate *fs = client_session(d, &x, q->owner);
			if (fs)
				dns_closed(fs);
		}
		break;
	}
	case EV_IDENT:
		d->st.ident_probes++;
		break;
	default:
		break;
	}
	corr_event(d->corr, ev);
}

/* What the correlator passes on: print --events, then the real sink. */
static void
dispatch_out(void *ctx, const struct mx_event *ev)
{
	struct dispatch *d = ctx;
	if (ev->type == EV_CAUSE)
		d->st.causes++;
	if (d->cfg.events_out)
		mx_event_json(ev, d->cfg.events_out);
	if (d->out)
		d->out(d->out_ctx, ev);
}

static struct fstate *
fs_of(struct cap_flow *f)
{
	return f->user;
}

static void
ndpi_release(struct fstate *fs)
{
	if (fs->nflow) {
		ndpi_flow_free(fs->nflow);
		fs->nflow = NULL;
	}
}

/* Lists flow f, whose state is fs (unordered; removal swaps the last entry in). */
static void
fs_list(struct fslist *l, struct fstate *fs, struct cap_flow *f)
{
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2 : 64;
		struct cap_flow **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return; /* not listed: its wait or probe is not waited for */
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = f;
	fs->list_idx = ++l->n;
}

static void
fs_unlist(struct fslist *l, struct fstate *fs)
{
	if (!fs->list_idx)
		return;
	uint32_t i = fs->list_idx - 1;
	l->v[i] = l->v[--l->n];
	fs_of(l->v[i])->list_idx = i + 1;
	fs->list_idx = 0;
}

/* A mail connection the correlator keeps in mind (callouts, machines). */
static void
conn_open(struct dispatch *d, struct cap_flow *f, struct fstate *fs, uint64_t ts)
{
	if (fs->conn)
		return;
	hosts_saw_connect(d->hosts, &f->cli.addr, &f->srv.addr, f->srv.port == 25);
	fs->conn = corr_conn_open(d->corr, &f->cli, &f->srv, f->syn_ns ? f->syn_ns : ts);
}

static void
on_open(void *ctx, struct cap_flow *f, uint64_t ts_ns)
{
	struct dispatch *d = ctx;
	struct fstate *fs = mx_recycled_zero(sizeof(*fs));
	if (!fs)
		return;
	f->user = fs;
	for (size_t i = 0; i < sizeof(known_ports) / sizeof(known_ports[0]); i++) {
		if (f->srv.port != known_ports[i].port)
			continue;
		fs->kind = known_ports[i].kind;
		fs->ops = known_ports[i].ops;
		fs->implicit_tls = known_ports[i].tls;
		break;
	}
	if (fs->kind == FK_UNKNOWN && d->cfg.use_ndpi)
		f->want_packets = true;
	/* mail, or maybe mail: its greeting is awaited from the handshake on,
	   before there is a session or a parser */
	if (fs->kind == FK_UNKNOWN || fs->kind == FK_MAIL)
		fs_list(&d->mail, fs, f);
	if (fs->kind == FK_MAIL)
		conn_open(d, f, fs, ts_ns);
	if (fs->kind == FK_IDENT) {
		fs->ident = ident_new(f, &d->to_corr);
		hosts_saw_probe(d->hosts, &f->cli.addr);
		ident_set_owner(fs->ident, owner_of(d, &f->cli.addr, ABOUT_CLIENT, &f->srv.addr,
						    question_key("ident", IDENT_PORT), NULL,
						    f->syn_ns ? f->syn_ns : ts_ns));
		if (fs->ident)
			fs_list(&d->probes, fs, f);
	} else if (fs->kind == FK_DNS) {
		fs->dtcp = dns_tcp_new(d->dns, &f->cli, &f->srv);
		hosts_saw_query(d->hosts, &f->cli.addr, &f->srv.addr);
	}
}

static void
on_packet(void *ctx, struct cap_flow *f, enum cap_dir dir, const struct decoded *pkt)
{
	struct dispatch *d = ctx;
	struct fstate *fs = fs_of(f);
	(void)dir;
	if (!fs || fs->kind != FK_UNKNOWN || fs->ndpi_pkts >= NDPI_MAX_PACKETS) {
		f->want_packets = false;
		if (fs)
			ndpi_release(fs);
		return;
	}
	if (!d->ndpi) {
		d->ndpi = ndpi_init_detection_module(ndpi_no_prefs);
		if (!d->ndpi) {
			d->cfg.use_ndpi = 0;
			f->want_packets = false;
			return;
		}
		NDPI_PROTOCOL_BITMASK all;
		NDPI_BITMASK_SET_ALL(all);
		ndpi_set_protocol_detection_bitmask2(d->ndpi, &all);
		ndpi_finalize_initialization(d->ndpi);
	}
	if (!fs->nflow) {
		fs->nflow = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
		if (!fs->nflow) {
			f->want_packets = false;
			return;
		}
		memset(fs->nflow, 0, SIZEOF_FLOW_STRUCT);
		d->st.ndpi_flows++;
	}
	fs->ndpi_pkts++;
	d->st.ndpi_packets++;
	unsigned short len = pkt->l3.len > 65535 ? 65535 : (unsigned short)pkt->l3.len;
	ndpi_protocol p = ndpi_detection_process_packet(d->ndpi, fs->nflow, pkt->l3.p, len,
							pkt->ts_ns / 1000000ULL);
	uint16_t app = p.app_protocol != NDPI_PROTOCOL_UNKNOWN ? p.app_protocol
							       : p.master_protocol;
	if (app != NDPI_PROTOCOL_UNKNOWN) {
		fs->ndpi_proto = app;
		d->st.ndpi_detected++;
		f->want_packets = false;
		ndpi_release(fs);
		if (app != NDPI_PROTOCOL_MAIL_SMTP && app != NDPI_PROTOCOL_MAIL_POP &&
		    app != NDPI_PROTOCOL_MAIL_SMTPS && app != NDPI_PROTOCOL_MAIL_POPS &&
		    app != NDPI_PROTOCOL_DNS)
			fs->kind = FK_IGNORE;
		else if (app == NDPI_PROTOCOL_DNS) {
			fs->kind = FK_DNS;
			fs->dtcp = dns_tcp_new(d->dns, &f->cli, &f->srv);
			hosts_saw_query(d->hosts, &f->cli.addr, &f->srv.addr);
		}
	}
}

/* Which end of the session is a monitored host, as known now. */
static void
session_hosts(struct dispatch *d, struct mx_session *s)
{
	s->client_is_host = hosts_is_host(d->hosts, &s->client.addr);
	s->server_is_host = hosts_is_host(d->hosts, &s->server.addr);
	s->outbound = s->client_is_host && !s->server_is_host;
}

/* Creates the session and its parser when a mail flow first needs them. */
static bool
ensure_session(struct dispatch *d, struct cap_flow *f, struct fstate *fs, bool with_parser)
{
	if (fs->sess)
		return true;
	if (!fs->ops)
		return false;
	if (with_parser && d->open_sessions >= d->cfg.max_sessions) {
		/* a flood of connections must not cost memory without bound (an
		   attempt that never got anywhere is made and freed at its close) */
		d->st.sessions_over_cap++;
		fs->kind = FK_IGNORE;
		return false;
	}
	fs->sess = mx_recycled_zero(sizeof(*fs->sess));
	if (!fs->sess)
		return false;
	d->open_sessions++;
	conn_open(d, f, fs, f->first_ns);
	struct mx_session *s = fs->sess;
	s->id = ++d->ids.session;
	s->proto = fs->ops->proto;
	s->client = f->cli;
	s->server = f->srv;
	s->syn_ns = f->syn_ns;
	s->midstream = !f->saw_syn && !f->saw_synack;
	s->start_ns = f->established_ns ? f->established_ns : f->syn_ns ? f->syn_ns : f->first_ns;
	s->tls = fs->implicit_tls;
	if (fs->ndpi_proto) {
		snprintf(s->app, sizeof(s->app), "ndpi:%.10s",
			 d->ndpi ? ndpi_get_proto_name(d->ndpi, fs->ndpi_proto) : "?");
	} else {
		mx_strlcpy(s->app, "port", sizeof(s->app));
	}
	session_hosts(d, s); /* for its provisional rows; decided again at its end */
	if (with_parser) {
		fs->parser = fs->ops->create(s, &d->to_corr, s->start_ns);
		if (fs->parser && !fs->list_idx)
			fs_list(&d->mail, fs, f);
		if (fs->parser)
			index_session(d, fs);
	}
	return true;
}

/* On an unknown port: the first server bytes decide, by our own probes. */
static void
probe_unknown(struct dispatch *d, struct fstate *fs, const uint8_t *p, size_t n)
{
	static const struct proto_parser_ops *const cands[] = {&smtp_parser_ops,
							       &pop3_parser_ops};
	(void)d;
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		if (cands[i]->probe && cands[i]->probe(p, n) == 1) {
			fs->kind = FK_MAIL;
			fs->ops = cands[i];
			return;
		}
	}
	fs->kind = FK_IGNORE;
}

static void
on_data(void *ctx, struct cap_flow *f, enum cap_dir dir, const uint8_t *p, size_t n, uint64_t ts)
{
	struct dispatch *d = ctx;
	struct fstate *fs = fs_of(f);
	if (!fs)
		return;
	if (fs->kind == FK_UNKNOWN) {
		if (dir != DIR_S2C) {
			/* mail servers speak first: client bytes first mean not mail */
			fs->kind = FK_IGNORE;
		} else {
			probe_unknown(d, fs, p, n);
		}
		f->want_packets = false;
		ndpi_release(fs);
	}
	switch (fs->kind) {
	case FK_MAIL:
		if (!ensure_session(d, f, fs, true))
			return;
		if (dir == DIR_S2C && !fs->served) {
			fs->served = true;
			hosts_saw_served(d->hosts, &f->cli.addr, &f->srv.addr);
		}
		if (fs->parser)
			fs->ops->data(fs->parser, (int)dir, p, n, ts);
		break;
	case FK_DNS:
		if (fs->dtcp)
			dns_tcp_data(fs->dtcp, (int)dir, p, n, ts);
		break;
	case FK_IDENT:
		if (fs->ident)
			ident_data(fs->ident, (int)dir, p, n, ts);
		break;
	default:
		break;
	}
}

static void
on_gap(void *ctx, struct cap_flow *f, enum cap_dir dir, uint64_t lost, uint64_t ts)
{
	struct fstate *fs = fs_of(f);
	(void)ctx;
	if (!fs)
		return;
	if (fs->kind == FK_MAIL && fs->parser)
		fs->ops->gap(fs->parser, (int)dir, lost, ts);
	else if (fs->kind == FK_DNS && fs->dtcp)
		dns_tcp_gap(fs->dtcp, (int)dir, lost, ts);
}

static void
tell_end(struct fstate *fs, enum mx_end how, uint64_t ts)
{
	if (fs->parser)
		fs->ops->end(fs->parser, how, ts);
}

static void
on_event(void *ctx, struct cap_flow *f, enum cap_tcp_ev ev, enum cap_dir dir, uint64_t ts)
{
	struct dispatch *d = ctx;
	struct fstate *fs = fs_of(f);
	if (!fs || fs->kind != FK_MAIL)
		return;
	if (ev == TEV_ESTABLISHED) {
		ensure_session(d, f, fs, true);
		return;
	}
	if ((ev != TEV_FIN && ev != TEV_RST) || !fs->sess)
		return;
	/* each once; a RST after that side's FIN is told too (a client that
	 * closed for good resets when the server writes to it) */
	uint8_t bit = ev == TEV_FIN ? 1 : 2;
	if (fs->ended[dir] & (bit | 2))
		return;
	fs->ended[dir] |= bit;
	if (dir == DIR_C2S)
		tell_end(fs, ev == TEV_FIN ? MXE_CLIENT_FIN : MXE_CLIENT_RST, ts);
	else
		tell_end(fs, ev == TEV_FIN ? MXE_SERVER_FIN : MXE_SERVER_RST, ts);
}

/* A mail connection attempt that never got anywhere is still a session. */
static void
attempt_session(struct dispatch *d, struct cap_flow *f, struct fstate *fs)
{
	if (f->established || f->bytes[0] || f->bytes[1] || !f->saw_syn)
		return;
	if (!ensure_session(d, f, fs, false))
		return;
	fs->sess->start_ns = f->syn_ns;
	if (f->rst_ns && f->rst_dir == DIR_S2C)
		fs->sess->outcome = MXO_REFUSED;
	else
		fs->sess->outcome = MXO_UNANSWERED;
}

static void
on_close(void *ctx, struct cap_flow *f, enum cap_close why, uint64_t ts)
{
	struct dispatch *d = ctx;
	struct fstate *fs = fs_of(f);
	if (!fs)
		return;
	switch (fs->kind) {
	case FK_MAIL: {
		if (!fs->sess)
			attempt_session(d, f, fs);
		if (!fs->sess)
			break;
		bool attempt = fs->sess->outcome == MXO_UNANSWERED ||
			       fs->sess->outcome == MXO_REFUSED;
		if (fs->parser) {
			if (why != CLOSE_FIN && why != CLOSE_RST)
				tell_end(fs, MXE_CAPTURE_END, ts);
			fs->ops->destroy(fs->parser);
			fs->parser = NULL;
		} else if (!attempt && why != CLOSE_FIN && why != CLOSE_RST) {
			fs->sess->outcome = MXO_INCOMPLETE;
		}
		fs->sess->end_ns = f->last_ns ? f->last_ns : ts;
		corr_conn_close(d->corr, fs->conn, fs->sess->end_ns, fs->sess->outcome);
		/* what is known of the hosts by now decides the direction */
		session_hosts(d, fs->sess);
		struct mx_event ev;
		ev.type = EV_SESSION;
		ev.session = NULL;
		ev.u.session = *fs->sess;
		dispatch_emit(d, &ev);
		unindex_session(d, fs);
		mx_recycle(fs->sess, sizeof(*fs->sess));
		d->open_sessions--;
		break;
	}
	case FK_DNS:
		if (fs->dtcp)
			dns_tcp_free(fs->dtcp);
		break;
	case FK_IDENT:
		if (fs->ident) {
			ident_close(fs->ident, f, why, ts);
			ident_free(fs->ident);
		}
		break;
	default:
		if (fs->conn) /* a mail port that turned out not to be mail */
			corr_conn_close(d->corr, fs->conn, f->last_ns ? f->last_ns : ts,
					MXO_INCOMPLETE);
		break;
	}
	/* ident probes are on their own list; everything else listed is on mail's */
	fs_unlist(fs->kind == FK_IDENT ? &d->probes : &d->mail, fs);
	ndpi_release(fs);
	mx_recycle(fs, sizeof(*fs));
	f->user = NULL;
}

static void
on_datagram(void *ctx, const struct decoded *pkt)
{
	struct dispatch *d = ctx;
	if (pkt->sport != 53 && pkt->dport != 53)
		return;
	struct mx_endpoint src = {pkt->src, pkt->sport}, dst = {pkt->dst, pkt->dport};
	if (pkt->dport == 53)
		hosts_saw_query(d->hosts, &pkt->src, &pkt->dst);
	else
		hosts_saw_answer(d->hosts, &pkt->src);
	dns_datagram(d->dns, &src, &dst, pkt->payload.p, pkt->payload.len, pkt->ts_ns);
}

struct dispatch *
dispatch_new(const struct dispatch_cfg *cfg, mx_emit_fn out, void *out_ctx)
{
	struct dispatch *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	if (cfg)
		d->cfg = *cfg;
	else
		d->cfg.use_ndpi = 1;
	if (!d->cfg.max_sessions)
		d->cfg.max_sessions = DISPATCH_MAX_SESSIONS;
	d->st.max_sessions = d->cfg.max_sessions;
	d->out = out;
	d->out_ctx = out_ctx;
	d->corr_out = (struct mx_sink){dispatch_out, d, &d->ids};
	d->to_corr = (struct mx_sink){dispatch_emit, d, &d->ids};
	d->hosts = hosts_new();
	d->by_client = calloc(BY_CLIENT, sizeof(*d->by_client));
	d->corr = d->hosts ? corr_new(&d->cfg.corr, d->hosts, &d->corr_out) : NULL;
	struct dns_cfg dc = {0};
	dc.timeout_ns = d->cfg.dns_timeout_ns;
	dc.retry_ns = d->cfg.dns_retry_ns;
	d->dns = dns_tracker_new(&dc, &d->to_corr);
	if (d->dns) {
		dns_tracker_set_owner(d->dns, dns_owner, d);
		dns_tracker_set_reowner(d->dns, dns_reowner);
	}
	if (!d->corr || !d->dns || !d->by_client) {
		dispatch_free(d);
		return NULL;
	}
	d->ops = (struct cap_ops){
		.ctx = d,
		.open = on_open,
		.packet = on_packet,
		.data = on_data,
		.gap = on_gap,
		.event = on_event,
		.close = on_close,
		.datagram = on_datagram,
	};
	return d;
}

const struct cap_ops *
dispatch_ops(struct dispatch *d)
{
	return &d->ops;
}

int
dispatch_add_host(struct dispatch *d, const char *spec, char *err, size_t errlen)
{
	return hosts_add_spec(d->hosts, spec, err, errlen);
}

struct hosts *
dispatch_hosts(struct dispatch *d)
{
	return d->hosts;
}

/*
 * An ident probe that got neither SYN-ACK nor RST for the unanswered time
 * after its last SYN is final: the prober gave up long ago.  Emitted now,
 * not when its flow times out, so that the waits it overlapped settle.
 */
static void
expire_probes(struct dispatch *d, uint64_t now_ns)
{
	uint64_t after = d->cfg.corr.unanswered_ns ? d->cfg.corr.unanswered_ns
						   : 30ULL * 1000000000ULL;
	for (uint32_t i = 0; i < d->probes.n;) {
		const struct cap_flow *f = d->probes.v[i];
		struct fstate *fs = f->user;
		uint64_t last = f->last_syn_ns ? f->last_syn_ns : f->last_ns;
		if (f->saw_synack || f->rst_ns || now_ns < last + after) {
			i++;
			continue;
		}
		ident_close(fs->ident, f, CLOSE_IDLE, now_ns);
		fs_unlist(&d->probes, fs); /* the last entry moved to i */
	}
}

void
dispatch_tick(struct dispatch *d, uint64_t now_ns)
{
	dns_tracker_expire(d->dns, now_ns);
	expire_probes(d, now_ns);
	/* every lookup and probe that began before final is known */
	uint64_t final = now_ns, t = dns_tracker_oldest_start(d->dns);
	if (t && t < final)
		final = t;
	for (uint32_t i = 0; i < d->probes.n; i++) {
		const struct cap_flow *f = d->probes.v[i];
		t = f->syn_ns ? f->syn_ns : f->first_ns;
		if (t < final)
			final = t;
	}
	/* the oldest wait still open: what a later slow reply may overlap (a
	   flow on another port may turn out to be mail when its greeting comes:
	   it has been waiting since its handshake) */
	uint64_t open = 0;
	for (uint32_t i = 0; i < d->mail.n;) {
		const struct cap_flow *f = d->mail.v[i];
		struct fstate *fs = f->user;
		if (fs->kind == FK_MAIL && fs->parser)
			t = fs->ops->pending_since    ? fs->ops->pending_since(fs->parser)
			    : fs->ops->waiting_since ? fs->ops->waiting_since(fs->parser)
			                             : 0;
		else if ((fs->kind == FK_UNKNOWN || fs->kind == FK_MAIL) && !fs->sess)
			t = f->established_ns; /* 0 while only SYNs were seen: no wait yet */
		else if (fs->kind == FK_MAIL) /* an attempt, or a session beyond the cap */
			t = 0;
		else {
			fs_unlist(&d->mail, fs); /* not mail after all: the last entry moved to i */
			continue;
		}
		if (t && (!open || t < open))
			open = t;
		i++;
	}
	corr_advance(d->corr, now_ns, final, open);
}

void
dispatch_finish(struct dispatch *d, uint64_t now_ns)
{
	dns_tracker_finish(d->dns, now_ns);
	corr_finish(d->corr);
}

const struct dispatch_stats *
dispatch_stats(const struct dispatch *d)
{
	return &d->st;
}

const struct corr_stats *
dispatch_corr_stats(const struct dispatch *d)
{
	return corr_stats(d->corr);
}

void
dispatch_free(struct dispatch *d)
{
	if (!d)
		return;
	if (d->dns)
		dns_tracker_free(d->dns);
	corr_free(d->corr);
	hosts_free(d->hosts);
	free(d->mail.v);
	free(d->probes.v);
	free(d->by_client);
	if (d->ndpi)
		ndpi_exit_detection_module(d->ndpi);
	free(d);
	mx_recycle_drain(); /* what the sessions and parsers left for reuse */
}
