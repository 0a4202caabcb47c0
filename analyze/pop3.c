/*
 * pop3.c - POP3 stream parser: commands paired with +OK/-ERR in order
 * (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH).  See pop3.h.
 *
 * Client bytes: enum pop3_state, changed only by pop3_enter_state().
 * Server bytes: status lines, or a dot-terminated multi-line body that is
 * counted, never buffered (enum pop3_srv, changed only by pop3_enter_srv()).
 */
#include "pop3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linebuf.h"
#include "proto.h"
#include "software.h"
#include "tls.h"
#include "transfer.h"
#include "txnq.h"
#include "capture/recycle.h"

enum pop3_state {
	POP3_CMD,  /* client sends command lines */
	POP3_AUTH, /* client lines are SASL responses (secrets) */
	POP3_TLS,  /* after STLS: TLS records are timed (tls.h) */
};

enum pop3_srv {
	SRV_LINE,   /* status lines */
	SRV_MULTI,  /* the body of a multi-line response */
	SRV_RESYNC, /* after a gap: drop lines up to the next +OK/-ERR */
};

enum pop3_cmd {
	P_GREETING,
	P_USER,
	P_PASS,
	P_APOP,
	P_AUTH,
	P_CAPA,
	P_STLS,
	P_STAT,
	P_LIST,
	P_UIDL,
	P_RETR,
	P_TOP,
	P_DELE,
	P_RSET,
	P_NOOP,
	P_QUIT,
	P_OTHER,
	P_LOST,
};

enum pop3_status { ST_NONE = 0, ST_OK, ST_ERR, ST_CONT };

struct pop3 {
	struct mx_session *sess;
	struct mx_sink out;
	enum pop3_state state;
	enum pop3_srv srv;
	struct txnq q;
	struct linebuf cl, sl;
	struct dotend body; /* multi-line response body */
	/* inside a body: a client command came while the server was at a line
	 * start; the next line's first bytes (pre) decide whether it is a reply
	 * (pop3_watch) */
	bool watch;
	uint8_t pre_n;
	char pre[5];
	uint64_t pre_ns;
	bool srv_spoke; /* a server byte was seen (or lost in a gap) */
	bool cli_skip;
	bool auth_unsure;
	bool stls_sent;
	bool quit_done;
	bool ended;
	uint64_t unmatched;
	struct tls_timer *tls; /* after STLS */
	struct xfer_track xfer; /* a RETR body as it goes (issue 17) */
};

struct pop3_cmd_def {
	const char *verb;
	enum pop3_cmd id;
	/* fills e->t.argument and e->multi; may change the client state */
	void (*request)(struct pop3 *p, struct txnq_ent *e, const char *arg, size_t n);
	bool multi;       /* +OK opens a multi-line response (whatever the argument) */
	bool multi_noarg; /* ... only without an argument */
};

static void rq_plain(struct pop3 *, struct txnq_ent *, const char *, size_t);
static void rq_secret(struct pop3 *, struct txnq_ent *, const char *, size_t);
static void rq_apop(struct pop3 *, struct txnq_ent *, const char *, size_t);
static void rq_auth(struct pop3 *, struct txnq_ent *, const char *, size_t);
static void rq_stls(struct pop3 *, struct txnq_ent *, const char *, size_t);

static const struct pop3_cmd_def commands[] = {
    {"USER", P_USER, rq_plain, false, false}, {"PASS", P_PASS, rq_secret, false, false},
    {"APOP", P_APOP, rq_apop, false, false},  {"AUTH", P_AUTH, rq_auth, false, true},
    {"CAPA", P_CAPA, rq_plain, true, false},  {"STLS", P_STLS, rq_stls, false, false},
    {"STAT", P_STAT, rq_plain, false, false}, {"LIST", P_LIST, rq_plain, false, true},
    {"UIDL", P_UIDL, rq_plain, false, true},  {"RETR", P_RETR, rq_plain, true, false},
    {"TOP", P_TOP, rq_plain, true, false},    {"DELE", P_DELE, rq_plain, false, false},
    {"RSET", P_RSET, rq_plain, false, false}, {"NOOP", P_NOOP, rq_plain, false, false},
    {"QUIT", P_QUIT, rq_plain, false, false},
};

static const struct pop3_cmd_def cmd_other = {NULL, P_OTHER, rq_plain, false, false};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

#define CASE(x)                                                                                    \
	case x:                                                                                    \
		return #x

static const char *
pop3_strstate(enum pop3_state st)
{
	switch (st) {
		CASE(POP3_CMD);
		CASE(POP3_AUTH);
		CASE(POP3_TLS);
	}
	return "?";
}

static const char *
pop3_strsrv(enum pop3_srv st)
{
	switch (st) {
		CASE(SRV_LINE);
		CASE(SRV_MULTI);
		CASE(SRV_RESYNC);
	}
	return "?";
}
#undef CASE

static void
pop3_enter_state(struct pop3 *p, enum pop3_state st)
{
#ifdef MXLAG_TRACE
	fprintf(stderr, "pop3 %p: %s -> %s\n", (void *)p, pop3_strstate(p->state),
	        pop3_strstate(st));
#else
	(void)pop3_strstate;
#endif
	p->state = st;
	if (st == POP3_TLS) {
		p->sess->tls = true;
		if (!p->tls)
			p->tls = tls_timer_new(p->sess, &p->out, false);
		lb_reset(&p->cl);
		lb_reset(&p->sl);
	}
}

static void
pop3_enter_srv(struct pop3 *p, enum pop3_srv st)
{
#ifdef MXLAG_TRACE
	fprintf(stderr, "pop3 %p: server %s -> %s\n", (void *)p, pop3_strsrv(p->srv),
	        pop3_strsrv(st));
#else
	(void)pop3_strsrv;
#endif
	p->srv = st;
	p->watch = false;
	p->pre_n = 0;
	if (st == SRV_MULTI) {
		dotend_init(&p->body);
		xfer_reset(&p->xfer);
	}
}

/* A RETR body as it goes (sent by the host: to the client) */
static void
pop3_progress(struct pop3 *p, uint64_t ts_ns)
{
	const struct txnq_ent *e = txnq_head(&p->q);

	if (e && e->kind == P_RETR)
		xfer_progress(&p->xfer, &p->out, p->sess, true, p->body.bytes, ts_ns,
		              p->body.st == DOT_DONE);
}

static bool
word_eq(const char *w, size_t n, const char *kw)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = w[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (kw[i] == '\0' || c != kw[i])
			return false;
	}
	return kw[i] == '\0';
}

static const struct pop3_cmd_def *
pop3_lookup(const char *verb, size_t n)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (word_eq(verb, n, commands[i].verb))
			return &commands[i];
	return NULL;
}

int
pop3_parse_status(const char *p, size_t n, const char **text, size_t *textlen)
{
	int kind;
	size_t k;

	if (n >= 3 && memcmp(p, "+OK", 3) == 0 && (n == 3 || p[3] == ' ' || p[3] == '\t')) {
		kind = ST_OK;
		k = 3;
	} else if (n >= 4 && memcmp(p, "-ERR", 4) == 0 && (n == 4 || p[4] == ' ' || p[4] == '\t')) {
		kind = ST_ERR;
		k = 4;
	} else if (n >= 1 && p[0] == '+' && (n == 1 || p[1] == ' ')) {
		kind = ST_CONT;
		k = 1;
	} else {
		return ST_NONE;
	}
	if (k < n)
		k++; /* one blank */
	*text = p + k;
	*textlen = n - k;
	return kind;
}

/* ---- requests ----------------------------------------------------------- */

static void
rq_plain(struct pop3 *p, struct txnq_ent *e, const char *arg, size_t n)
{
	mx_copy_printable(e->t.argument, sizeof(e->t.argument), arg, n);
}

static void
rq_secret(struct pop3 *p, struct txnq_ent *e, const char *arg, size_t n)
{
	mx_strlcpy(e->t.argument, "***", sizeof(e->t.argument));
}

static void
rq_apop(struct pop3 *p, struct txnq_ent *e, const char *arg, size_t n)
{
	size_t ul = mx_word_len(arg, n);

	mx_copy_printable(e->t.argument, sizeof(e->t.argument) - 4, arg, ul);
	if (ul + mx_blank_len(arg + ul, n - ul) < n)
		strcat(e->t.argument, " ***");
}

static void
rq_auth(struct pop3 *p, struct txnq_ent *e, const char *arg, size_t n)
{
	size_t ml = mx_word_len(arg, n);

	mx_copy_upper(e->t.argument, sizeof(e->t.argument) - 4, arg, ml);
	if (ml + mx_blank_len(arg + ml, n - ml) < n)
		strcat(e->t.argument, " ***");
	if (ml > 0)
		pop3_enter_state(p, POP3_AUTH);
}

static void
rq_stls(struct pop3 *p, struct txnq_ent *e, const char *arg, size_t n)
{
	p->stls_sent = true;
	rq_plain(p, e, arg, n);
}

static void
pop3_queue(struct pop3 *p, const struct txnq_ent *e)
{
	struct txnq_ent *q = txnq_push(&p->q);

	if (q)
		*q = *e;
}

/* A command line seen (not one lost in a gap: a gap may be told late). */
static void
pop3_queue_seen(struct pop3 *p, const struct txnq_ent *e)
{
	pop3_queue(p, e);
	/* sent while a body is open, the server between two lines: see
	   pop3_watch() */
	if (p->srv == SRV_MULTI && p->body.st == DOT_BOL && p->pre_n == 0)
		p->watch = true;
}

static void
pop3_client_line(struct pop3 *p, const char *line, size_t len, uint64_t ts_ns)
{
	struct txnq_ent e;
	size_t lead = mx_blank_len(line, len);

	if (p->cli_skip) {
		p->cli_skip = false;
		return;
	}
	memset(&e, 0, sizeof(e));
	e.t.request_ns = ts_ns;
	if (p->state == POP3_AUTH &&
	    !(p->auth_unsure && lead == 0 && memchr(line, ' ', len) != NULL)) {
		mx_strlcpy(e.t.command, "AUTH", sizeof(e.t.command));
		mx_strlcpy(e.t.argument, "***", sizeof(e.t.argument));
		e.kind = P_AUTH;
		pop3_queue_seen(p, &e);
		return;
	}
	if (p->state == POP3_AUTH)
		pop3_enter_state(p, POP3_CMD);
	line += lead;
	len -= lead;
	if (len == 0)
		return;
	size_t vl = mx_word_len(line, len);
	size_t a = vl + mx_blank_len(line + vl, len - vl);
	const struct pop3_cmd_def *def = pop3_lookup(line, vl);
	if (!def)
		def = &cmd_other;
	mx_copy_upper(e.t.command, sizeof(e.t.command), line, vl);
	e.kind = def->id;
	e.multi = def->multi || (def->multi_noarg && a == len);
	def->request(p, &e, line + a, len - a);
	pop3_queue_seen(p, &e);
}

/*
 * The client spoke before any server byte: the server's first line is the
 * reply to the client's first command, not a greeting (RFC 1939 section 4:
 * the client waits for the greeting, so a greeting never follows a command
 * in the same stream).  Seen when the capture does not hold the greeting,
 * e.g. suricata-verify pop3-auth-01: with a GREETING expected every reply
 * would pair with the command before its own.  The price: a client that
 * does not wait (a script writing QUIT at once) has the greeting paired
 * with its first command, and the wait recorded as that command's.
 */
static void
pop3_no_greeting(struct pop3 *p)
{
	struct txnq_ent *e = txnq_head(&p->q);

	if (e && e->kind == P_GREETING)
		txnq_pop(&p->q);
}

static void
pop3_client_data(struct pop3 *p, const uint8_t *b, size_t n, uint64_t ts_ns)
{
	if (n > 0 && !p->srv_spoke)
		pop3_no_greeting(p);
	while (n > 0 && p->state != POP3_TLS) {
		if (p->stls_sent && !lb_partial(&p->cl) && b[0] == 0x16) {
			/* a TLS ClientHello: the STLS reply was lost */
			pop3_enter_state(p, POP3_TLS);
			break;
		}
		size_t used = lb_feed(&p->cl, b, n, ts_ns);
		if (p->cl.complete)
			pop3_client_line(p, p->cl.buf, p->cl.len, ts_ns);
		b += used;
		n -= used;
	}
	if (n > 0 && p->state == POP3_TLS)
		tls_timer_data(p->tls, MX_C2S, b, n, ts_ns);
}

/* ---- server side -------------------------------------------------------- */

static void
pop3_emit_head(struct pop3 *p)
{
	struct txnq_ent *e = txnq_head(&p->q);

	if (!e)
		return;
	txnq_emit(&p->out, p->sess, e);
	txnq_pop(&p->q);
}

static void
pop3_status(struct pop3 *p, int kind, const char *text, size_t textlen)
{
	struct txnq_ent *e = txnq_head(&p->q);

	if (e && e->kind == P_GREETING && kind != ST_CONT) {
		mx_copy_domain(p->sess->banner_host, sizeof(p->sess->banner_host), text,
		               mx_word_len(text, textlen));
		p->sess->software = mx_software_detect(text, textlen, false);
	}
	if (!e) {
		p->unmatched++;
		return;
	}
	if (kind == ST_CONT && e->kind != P_AUTH) {
		p->unmatched++; /* "+ " only means something inside AUTH */
		return;
	}
	e->t.reply_ns = p->sl.first_ns;
	e->t.outcome = e->incomplete ? MXO_INCOMPLETE : MXO_OK;
	e->t.end_ns = 0;
	mx_strlcpy(e->t.reply_code,
	           kind == ST_OK    ? "+OK"
	           : kind == ST_ERR ? "-ERR"
	                            : "+",
	           sizeof(e->t.reply_code));
	if (kind == ST_CONT) {
		e->t.reply_text[0] = '\0'; /* SASL challenge: not kept */
		pop3_emit_head(p);
		return;
	}
	mx_copy_printable(e->t.reply_text, sizeof(e->t.reply_text), text, textlen);
	switch (e->kind) {
	case P_AUTH:
		p->auth_unsure = false;
		if (p->state == POP3_AUTH)
			pop3_enter_state(p, POP3_CMD);
		break;
	case P_QUIT:
		p->quit_done = true;
		break;
	case P_STLS:
		p->stls_sent = false;
		break;
	default:
		break;
	}
	if (kind == ST_OK && e->multi) {
		pop3_enter_srv(p, SRV_MULTI);
		return;
	}
	bool tls = e->kind == P_STLS && kind == ST_OK;
	pop3_emit_head(p);
	if (tls)
		pop3_enter_state(p, POP3_TLS);
}

static void
pop3_server_line(struct pop3 *p, const char *line, size_t len)
{
	const char *text;
	size_t tl;
	int kind = pop3_parse_status(line, len, &text, &tl);

	if (p->srv == SRV_RESYNC) {
		if (kind != ST_OK && kind != ST_ERR)
			return;
		pop3_enter_srv(p, SRV_LINE);
	}
	if (kind == ST_NONE)
		return; /* junk: ignored */
	pop3_status(p, kind, text, tl);
}

static void
pop3_multi_done(struct pop3 *p)
{
	struct txnq_ent *e = txnq_head(&p->q);

	if (e) {
		e->t.size = p->body.bytes;
		if (e->kind == P_RETR) {
			p->sess->messages++;
			p->sess->bytes_in += e->t.size;
			if (e->t.size > p->sess->max_message)
				p->sess->max_message = e->t.size;
		}
	}
	pop3_emit_head(p);
	pop3_enter_srv(p, SRV_LINE);
}

/*
 * 1: s[0..n) starts a status line ("+OK" or "-ERR", then a blank or the
 * line end), 0: it does not, -1: too short to tell.
 */
static int
status_prefix(const char *s, size_t n)
{
	static const char *const ind[] = {"+OK", "-ERR"};

	for (size_t i = 0; i < 2; i++) {
		size_t k = strlen(ind[i]);
		if (memcmp(s, ind[i], n < k ? n : k) != 0)
			continue;
		if (n <= k)
			return -1;
		return s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n';
	}
	return 0;
}

/* The body's bytes held in pre go to the body after all. */
static void
pop3_watch_flush(struct pop3 *p)
{
	uint8_t k = p->pre_n;

	p->watch = false;
	p->pre_n = 0;
	if (k > 0)
		dotend_scan(&p->body, (const uint8_t *)p->pre, k);
}

/*
 * A multi-line body that never ends (a server that leaves out the "."):
 * resync on a status line where the body cannot continue.  A body is open
 * (SRV_MULTI), the client has sent a command since it began while the
 * server was between two lines (p->watch: a POP3 client sends its next
 * command after the terminating ".", or, pipelining, before the body
 * began, not in the middle of it), and the server's next line is "+OK" or
 * "-ERR": that line is the reply to a waiting command.  The body is cut
 * there (its command keeps the bytes counted so far) and the line is paired
 * as a status line.  A message that holds a line starting "+OK" is still
 * read whole by a client waiting for its end (no command sent) or one
 * that pipelined its commands before it began: only a line that follows a
 * command sent in the middle of the body, and is the first line after it,
 * is taken for a reply (zeek bad-list-retr-crafted.pcap: LIST's body
 * without ".", then RETR 1 and QUIT).
 *
 * Collects the next line's first bytes (at most 5) until they tell;
 * returns the bytes consumed.
 */
static size_t
pop3_watch(struct pop3 *p, const uint8_t *b, size_t n, uint64_t ts_ns)
{
	size_t used = 0;
	int st = -1;

	if (p->pre_n == 0)
		p->pre_ns = ts_ns;
	while (used < n && st < 0 && p->pre_n < sizeof(p->pre)) {
		p->pre[p->pre_n++] = (char)b[used++];
		st = status_prefix(p->pre, p->pre_n);
	}
	if (st < 0)
		return used;
	if (st == 0) {
		pop3_watch_flush(p); /* a body line: the body goes on */
		if (p->body.st == DOT_DONE)
			pop3_multi_done(p);
		return used;
	}
	/* a reply: the body ended without its "." */
	char pre[sizeof(p->pre)];
	size_t k = p->pre_n;
	uint64_t pre_ns = p->pre_ns;
	memcpy(pre, p->pre, k);
	struct txnq_ent *e = txnq_head(&p->q);
	if (e)
		e->t.size = p->body.bytes; /* not a whole message: not counted */
	pop3_emit_head(p);
	pop3_enter_srv(p, SRV_LINE);
	lb_feed(&p->sl, (const uint8_t *)pre, k, pre_ns);
	if (p->sl.complete)
		pop3_server_line(p, p->sl.buf, p->sl.len);
	return used;
}

static void
pop3_server_data(struct pop3 *p, const uint8_t *b, size_t n, uint64_t ts_ns)
{
	if (n > 0)
		p->srv_spoke = true;
	while (n > 0 && p->state != POP3_TLS) {
		size_t used;

		if (p->srv == SRV_MULTI && p->watch) {
			used = pop3_watch(p, b, n, ts_ns);
		} else if (p->srv == SRV_MULTI) {
			used = dotend_scan(&p->body, b, n);
			pop3_progress(p, ts_ns);
			if (p->body.st == DOT_DONE)
				pop3_multi_done(p);
		} else {
			used = lb_feed(&p->sl, b, n, ts_ns);
			if (p->sl.complete)
				pop3_server_line(p, p->sl.buf, p->sl.len);
		}
		b += used;
		n -= used;
	}
	if (n > 0 && p->state == POP3_TLS)
		tls_timer_data(p->tls, MX_S2C, b, n, ts_ns);
}

/* ---- gaps --------------------------------------------------------------- */

static void
pop3_client_gap(struct pop3 *p, uint64_t lost, uint64_t ts_ns)
{
	struct txnq_ent e;

	if (p->state == POP3_TLS) {
		tls_timer_gap(p->tls, MX_C2S, lost, ts_ns);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.t.request_ns = ts_ns;
	e.incomplete = true;
	e.kind = P_LOST;
	mx_strlcpy(e.t.command, "?", sizeof(e.t.command));
	if (p->state == POP3_AUTH) {
		mx_strlcpy(e.t.command, "AUTH", sizeof(e.t.command));
		mx_strlcpy(e.t.argument, "***", sizeof(e.t.argument));
		e.kind = P_AUTH;
	} else if (lb_partial(&p->cl)) {
		size_t vl = mx_word_len(p->cl.buf, p->cl.len);
		const struct pop3_cmd_def *def = pop3_lookup(p->cl.buf, vl);
		if (def && vl < p->cl.len) {
			mx_strlcpy(e.t.command, def->verb, sizeof(e.t.command));
			e.kind = def->id == P_AUTH ? P_LOST : def->id;
			/* arguments follow the verb, so those with one are single-line */
			e.multi = def->multi;
		}
	}
	if (lb_partial(&p->cl))
		p->cli_skip = true;
	lb_reset(&p->cl);
	pop3_queue(p, &e);
}

static void
pop3_server_gap(struct pop3 *p, uint64_t lost, uint64_t ts_ns)
{
	struct txnq_ent *e = txnq_head(&p->q);
	bool partial = lb_partial(&p->sl);
	bool resync = partial || p->srv != SRV_LINE;

	p->srv_spoke = true; /* what was lost may have been the greeting */
	if (p->state == POP3_TLS) {
		tls_timer_gap(p->tls, MX_S2C, lost, ts_ns);
		return;
	}
	if (e) {
		if (p->srv == SRV_MULTI) {
			pop3_watch_flush(p);
			dotend_gap(&p->body, lost);
			e->t.size = p->body.bytes;
		} else if (partial && p->sl.buf[0] == '+') {
			e->t.reply_ns = p->sl.first_ns;
		} else {
			e->t.end_ns = ts_ns;
		}
		e->t.outcome = MXO_INCOMPLETE;
		resync = resync || e->multi;
		if (e->kind == P_AUTH)
			p->auth_unsure = true;
		pop3_emit_head(p);
	}
	lb_reset(&p->sl);
	pop3_enter_srv(p, resync ? SRV_RESYNC : SRV_LINE);
}

/* ---- proto_parser_ops --------------------------------------------------- */

static int
pop3_probe(const uint8_t *b, size_t n)
{
	size_t k = n < 3 ? n : 3;

	if (memcmp(b, "+OK", k) != 0)
		return 0;
	return n >= 3 ? 1 : -1;
}

static void *
pop3_create(struct mx_session *sess, const struct mx_sink *out, uint64_t connect_ns)
{
	struct pop3 *p = mx_recycled_zero(sizeof(*p));
	struct txnq_ent *g;

	if (!p)
		return NULL;
	p->sess = sess;
	if (out)
		p->out = *out;
	lb_init(&p->cl);
	lb_init(&p->sl);
	p->state = POP3_CMD;
	p->srv = SRV_LINE;
	if (sess->midstream)
		return p; /* the greeting came before the capture began */
	g = txnq_push(&p->q);
	if (g) {
		mx_strlcpy(g->t.command, "GREETING", sizeof(g->t.command));
		g->t.request_ns = connect_ns;
		g->kind = P_GREETING;
	}
	return p;
}

static void
pop3_data(void *parser, int dir, const uint8_t *b, size_t n, uint64_t ts_ns)
{
	struct pop3 *p = parser;

	if (!p || !b)
		return;
	if (dir == MX_C2S)
		pop3_client_data(p, b, n, ts_ns);
	else
		pop3_server_data(p, b, n, ts_ns);
}

static void
pop3_gap(void *parser, int dir, uint64_t lost, uint64_t ts_ns)
{
	struct pop3 *p = parser;

	if (!p || lost == 0)
		return;
	if (dir == MX_C2S)
		pop3_client_gap(p, lost, ts_ns);
	else
		pop3_server_gap(p, lost, ts_ns);
}

static void
pop3_end(void *parser, enum mx_end how, uint64_t ts_ns)
{
	struct pop3 *p = parser;
	enum mx_outcome o = txnq_end_outcome(how);
	struct txnq_ent *tail;
	bool cut = false;

	if (!p)
		return;
	if (p->state == POP3_TLS && p->tls) {
		/* inside TLS the timer knows how it ended */
		tls_timer_end(p->tls, how, ts_ns);
		p->ended = true;
		return;
	}
	if (p->state != POP3_TLS && lb_partial(&p->cl))
		cut = true; /* the client stopped in the middle of a command */
	lb_reset(&p->cl);

	tail = txnq_tail(&p->q);
	if (how == MXE_CLIENT_FIN && tail && tail->kind == P_QUIT) {
		/* QUIT then FIN: a normal close, the replies still come */
	} else {
		if (p->srv == SRV_MULTI && txnq_head(&p->q)) {
			/* the +OK came, the body did not finish */
			struct txnq_ent *e = txnq_head(&p->q);
			pop3_watch_flush(p);
			e->t.size = p->body.bytes;
			e->t.outcome = e->incomplete ? MXO_INCOMPLETE : o;
			e->t.end_ns = ts_ns;
			pop3_emit_head(p);
			pop3_enter_srv(p, SRV_LINE);
			cut = true;
		}
		if (txnq_flush(&p->q, &p->out, p->sess, o, ts_ns) > 0)
			cut = true;
	}

	if (p->quit_done)
		p->sess->outcome = MXO_OK;
	else if (cut)
		p->sess->outcome = o;
	else if (!p->ended &&
	         (how == MXE_CLIENT_FIN || (p->state == POP3_TLS && how == MXE_SERVER_FIN)))
		p->sess->outcome = MXO_OK;
	else if (!p->ended)
		p->sess->outcome = o;
	p->ended = true;
}

static void
pop3_destroy(void *parser)
{
	struct pop3 *p = parser;

	if (!p)
		return;
	txnq_free(&p->q);
	tls_timer_free(p->tls);
	mx_recycle(p, sizeof(*p));
}

static uint64_t
pop3_waiting_since(const void *parser)
{
	const struct pop3 *x = parser;
	if (x && x->state == POP3_TLS)
		return tls_timer_waiting_since(x->tls);
	return x ? txnq_waiting_since(&x->q) : 0;
}

static uint64_t
pop3_pending_since(const void *parser)
{
	const struct pop3 *x = parser;
	if (x && x->state == POP3_TLS)
		return tls_timer_pending_since(x->tls);
	return x ? txnq_waiting_since(&x->q) : 0;
}

const struct proto_parser_ops pop3_parser_ops = {
    .proto = MXP_POP3,
    .name = "pop3",
    .probe = pop3_probe,
    .create = pop3_create,
    .data = pop3_data,
    .gap = pop3_gap,
    .end = pop3_end,
    .waiting_since = pop3_waiting_since,
    .pending_since = pop3_pending_since,
    .destroy = pop3_destroy,
};
