/*
 * tls.c - TLS record-layer timing of encrypted mail sessions.  See tls.h.
 */
#include "tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txnq.h"
#include "capture/recycle.h"

/* ---- the record reader --------------------------------------------------- */

void
tlsr_init(struct tlsr *r, bool allow_v2)
{
	memset(r, 0, sizeof(*r));
	r->allow_v2 = allow_v2;
}

static bool
tls_type_ok(uint8_t t)
{
	return t >= TLS_CCS && t <= TLS_HEARTBEAT;
}

static void
tlsr_fill(const struct tlsr *r, struct tlsr_out *o)
{
	memset(o, 0, sizeof(*o));
	o->type = r->sslv2 ? TLS_HANDSHAKE : r->hdr[0];
	o->sslv2 = r->sslv2;
	o->len = r->len;
	memcpy(o->head, r->head, r->headlen);
	o->headlen = r->headlen;
	o->first_ns = r->first_ns;
}

static enum tlsr_ev
tlsr_stop(struct tlsr *r, size_t n, size_t *used, struct tlsr_out *out)
{
	r->bad = true;
	*used = n;
	memset(out, 0, sizeof(*out));
	return TLSR_BAD;
}

/* the header is complete: check it and start the body */
static bool
tlsr_header(struct tlsr *r)
{
	if (r->sslv2) {
		/* SSLv2 record header: 2 bytes, high bit set, 15-bit length */
		r->len = ((uint32_t)(r->hdr[0] & 0x7f) << 8) | r->hdr[1];
		if (r->len < 3)
			return false;
	} else {
		if (r->hdr[1] != 3 || r->hdr[2] > 4)
			return false;
		r->len = ((uint32_t)r->hdr[3] << 8) | r->hdr[4];
		if (r->len > TLS_REC_MAX || (r->len == 0 && r->hdr[0] != TLS_APPDATA))
			return false;
	}
	r->left = r->len;
	r->in_body = true;
	r->headlen = 0;
	return true;
}

enum tlsr_ev
tlsr_feed(struct tlsr *r, const uint8_t *p, size_t n, uint64_t ts_ns, size_t *used,
          struct tlsr_out *out)
{
	size_t i = 0;

	*used = 0;
	if (r->bad) {
		*used = n;
		return TLSR_MORE;
	}
	while (i < n) {
		if (r->in_body) {
			size_t take = n - i < r->left ? n - i : r->left;
			size_t pos = r->len - r->left; /* offset in the body */
			/* head keeps the body's first bytes */
			for (size_t k = 0; k < take && pos + k < TLSR_HEAD; k++)
				r->head[pos + k] = p[i + k];
			if (pos < TLSR_HEAD)
				r->headlen = (uint8_t)(pos + take < TLSR_HEAD ? pos + take : TLSR_HEAD);
			i += take;
			r->left -= (uint32_t)take;
			if (r->left == 0) {
				r->in_body = false;
				*used = i;
				if (r->sslv2 && (r->headlen < 1 || r->head[0] != 1))
					return tlsr_stop(r, n, used, out); /* not a CLIENT-HELLO */
				tlsr_fill(r, out);
				r->hlen = 0;
				r->sslv2 = false;
				return TLSR_END;
			}
			continue;
		}
		if (r->hlen == 0) {
			uint8_t b = p[i];
			bool v2 = r->allow_v2 && (b & 0x80);
			if (!v2 && !tls_type_ok(b))
				return tlsr_stop(r, n, used, out);
			r->sslv2 = v2;
			r->allow_v2 = false;
			r->first_ns = ts_ns;
			r->hdr[r->hlen++] = b;
			i++;
			*used = i;
			tlsr_fill(r, out);
			return TLSR_BEGIN;
		}
		r->hdr[r->hlen++] = p[i++];
		if (r->hlen < (r->sslv2 ? 2 : 5))
			continue;
		if (!tlsr_header(r))
			return tlsr_stop(r, n, used, out);
		if (r->len == 0) {
			r->in_body = false;
			*used = i;
			tlsr_fill(r, out);
			r->hlen = 0;
			return TLSR_END;
		}
	}
	*used = i;
	return TLSR_MORE;
}

/* ---- exchanges ------------------------------------------------------------ */

/* a TLS 1.3 server record after a pause this long is a reply, not a ticket */
#define TICKET_PAUSE_NS 5000000ull /* 5 ms */
/* a client record this long carries a message body, not a command */
#define BODY_RECORD 300

enum xkind {
	X_NONE = 0,
	X_HELLO,  /* ClientHello */
	X_HS,     /* the rest of the handshake (not emitted) */
	X_BANNER, /* handshake end -> the first application data (465/995) */
	X_APP,    /* an encrypted exchange */
	X_CLOSE,  /* close_notify only (not emitted) */
};

/* the kinds emitted as transactions (the others are not waits of the server) */
static bool
x_timed(enum xkind k)
{
	return k == X_HELLO || k == X_BANNER || k == X_APP;
}

struct xchg {
	enum xkind kind;
	bool answered;
	bool maybe_ticket; /* answered by what may be a TLS 1.3 ticket */
	bool sslv2;
	bool alert;        /* the reply was a plaintext alert */
	uint8_t alert_level, alert_desc;
	uint64_t req_ns, reply_ns;
	uint32_t crecs, cbytes, crec_max; /* the client's flight */
	uint32_t srecs, sbytes;           /* the server's records since the reply */
};

struct tls_timer {
	struct mx_session *sess;
	struct mx_sink out;
	bool implicit;
	struct tlsr rd[2];
	bool hello_seen;
	bool v13;       /* encrypted server handshake records: TLS 1.3 */
	bool ccs[2];    /* TLS 1.2: the side sent ChangeCipherSpec */
	bool fin[2];    /* its (encrypted) Finished followed */
	bool done;      /* the handshake ended */
	bool srv_app;   /* the server sent application data */
	bool tickets;   /* TLS 1.3: the next reply may be preceded by tickets */
	bool fatal;     /* a fatal plaintext alert in the handshake */
	bool not_tls;   /* a side sent bytes that are not TLS records */
	bool desync;    /* a capture gap: record boundaries lost, timing stopped */
	bool ended;
	uint64_t cfin_ns; /* the client closed (FIN) with an exchange waiting */
	uint64_t srv_last_ns; /* end of the server's latest record */
	struct xchg cur;
	unsigned napp;  /* TLS exchanges emitted */
	char last_guess[16];
};

struct tls_timer *
tls_timer_new(struct mx_session *sess, const struct mx_sink *out, bool implicit)
{
	struct tls_timer *t = mx_recycled_zero(sizeof(*t));

	if (!t)
		return NULL;
	t->sess = sess;
	if (out)
		t->out = *out;
	t->implicit = implicit;
	tlsr_init(&t->rd[MX_C2S], true);
	tlsr_init(&t->rd[MX_S2C], false);
	if (sess)
		sess->tls = true;
	return t;
}

void
tls_timer_free(struct tls_timer *t)
{
	mx_recycle(t, sizeof(*t));
}

static bool
is_smtp(const struct tls_timer *t)
{
	return !t->sess || t->sess->proto != MXP_POP3;
}

static bool
streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/*
 * The command an encrypted exchange most likely was.  next_len: the length
 * of the client's next record (0 = none: the session ended after it).
 */
static const char *
guess_of(const struct tls_timer *t, const struct xchg *x, uint32_t next_len, bool last)
{
	const char *prev = t->last_guess;

	if (x->kind == X_BANNER)
		return "GREETING";
	if (!is_smtp(t))
		return last && x->answered ? "QUIT" : "";
	if (t->napp == 0 || (t->napp == 1 && streq(prev, "GREETING")))
		return "EHLO";
	if (x->crec_max >= BODY_RECORD)
		return "DATA-END";
	if (next_len >= BODY_RECORD)
		return "DATA";
	if (last)
		return x->answered ? "QUIT" : "";
	/* MTA to MTA (port 25) has no AUTH: after EHLO or a message comes MAIL */
	if ((streq(prev, "EHLO") || streq(prev, "DATA-END")) && t->sess &&
	    t->sess->server.port == 25)
		return "MAIL";
	if (streq(prev, "MAIL") || streq(prev, "RCPT"))
		return "RCPT";
	return "";
}

static const char *
alert_name(uint8_t d)
{
	switch (d) {
	case 0: return "close_notify";
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 46: return "certificate_unknown";
	case 47: return "illegal_parameter";
	case 48: return "unknown_ca";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 71: return "insufficient_security";
	case 80: return "internal_error";
	case 86: return "inappropriate_fallback";
	case 109: return "missing_extension";
	case 112: return "unrecognized_name";
	case 116: return "certificate_required";
	case 120: return "no_application_protocol";
	default: return "alert";
	}
}

/* Emits the exchange (if it is one) and forgets it. */
static void
x_emit(struct tls_timer *t, uint32_t next_len, bool last, enum mx_outcome o, uint64_t end_ns)
{
	struct xchg *x = &t->cur;
	struct txnq_ent e;

	if (!x_timed(x->kind)) {
		memset(x, 0, sizeof(*x));
		return;
	}
	memset(&e, 0, sizeof(e));
	e.t.request_ns = x->req_ns;
	if (x->kind == X_HELLO) {
		mx_strlcpy(e.t.command, "TLS-HELLO", sizeof(e.t.command));
		mx_strlcpy(e.t.argument, x->sslv2 ? "SSLv2 ClientHello" : "ClientHello",
		           sizeof(e.t.argument));
	} else {
		const char *g = guess_of(t, x, next_len, last);
		mx_strlcpy(e.t.command, "TLS", sizeof(e.t.command));
		mx_strlcpy(e.t.guess, g, sizeof(e.t.guess));
		mx_strlcpy(t->last_guess, g, sizeof(t->last_guess));
		if (x->kind == X_BANNER)
			mx_strlcpy(e.t.argument, "handshake end", sizeof(e.t.argument));
		else
			snprintf(e.t.argument, sizeof(e.t.argument), "%u record%s, %u bytes",
			         x->crecs, x->crecs == 1 ? "" : "s", x->cbytes);
		t->napp++;
	}
	if (x->answered) {
		e.t.reply_ns = x->reply_ns;
		e.t.outcome = MXO_OK;
		if (x->alert) {
			mx_strlcpy(e.t.reply_code, "alert", sizeof(e.t.reply_code));
			snprintf(e.t.reply_text, sizeof(e.t.reply_text), "%s alert %u %s",
			         x->alert_level == 2 ? "fatal" : "warning", x->alert_desc,
			         alert_name(x->alert_desc));
		} else if (x->kind == X_HELLO) {
			mx_strlcpy(e.t.reply_text, t->v13 ? "ServerHello, TLS 1.3" : "ServerHello",
			           sizeof(e.t.reply_text));
		} else {
			snprintf(e.t.reply_text, sizeof(e.t.reply_text), "%u record%s, %u bytes",
			         x->srecs, x->srecs == 1 ? "" : "s", x->sbytes);
		}
	} else {
		e.t.outcome = o;
		e.t.end_ns = end_ns;
	}
	txnq_emit(&t->out, t->sess, &e);
	memset(x, 0, sizeof(*x));
}

/* the handshake is over at ts: on 465/995 the banner wait starts */
static void
hs_done(struct tls_timer *t, uint64_t ts_ns)
{
	t->done = true;
	if (t->v13)
		t->tickets = true;
	if (!t->implicit)
		return;
	if (t->cur.kind == X_HS && !(t->cur.answered && !t->v13)) {
		/* TLS 1.3: the client's Finished flight now waits for the banner */
		t->cur.kind = X_BANNER;
		t->cur.req_ns = ts_ns;
	} else if (t->cur.kind == X_NONE || t->cur.kind == X_HS) {
		/* TLS 1.2: the server's Finished ended it; the banner follows */
		memset(&t->cur, 0, sizeof(t->cur));
		t->cur.kind = X_BANNER;
		t->cur.req_ns = ts_ns;
	}
}

static bool
is_close_record(const struct tls_timer *t, const struct tlsr_out *o)
{
	/* TLS 1.2: an (encrypted) alert; TLS 1.3: a 2-byte alert + type byte +
	   16-byte tag, the size of an encrypted close_notify */
	return o->type == TLS_ALERT || (t->v13 && o->type == TLS_APPDATA && o->len == 19);
}

static void
client_record(struct tls_timer *t, const struct tlsr_out *o, uint64_t ts_ns)
{
	struct xchg *x = &t->cur;
	bool hello = !t->done && o->type == TLS_HANDSHAKE && o->headlen >= 1 &&
	             o->head[0] == 1 && !t->ccs[MX_C2S] &&
	             (!t->hello_seen || (x->kind == X_HELLO && x->answered));
	bool closing = t->done && is_close_record(t, o);

	if (o->type == TLS_ALERT && !t->ccs[MX_C2S] && !t->v13 && o->headlen >= 2 &&
	    o->head[0] == 2)
		t->fatal = true;
	if (x->kind != X_NONE && x->answered && !closing) {
		/* a new flight: the previous exchange is complete */
		x_emit(t, o->len, false, MXO_OK, 0);
	} else if (x->kind == X_HELLO && x->answered && closing) {
		x_emit(t, 0, false, MXO_OK, 0);
	}
	if (hello) {
		if (x->kind != X_NONE)
			x_emit(t, o->len, false, MXO_OK, 0);
		t->hello_seen = true;
		x->kind = X_HELLO;
		x->sslv2 = o->sslv2;
	} else if (closing) {
		if (x->kind == X_NONE)
			x->kind = X_CLOSE;
		return; /* not a request: the wait does not move */
	} else if (!t->done) {
		if (o->type == TLS_CCS)
			t->ccs[MX_C2S] = true;
		else if (t->ccs[MX_C2S] && o->type == TLS_HANDSHAKE)
			t->fin[MX_C2S] = true;
		if (x->kind == X_NONE || x->kind == X_CLOSE)
			x->kind = X_HS;
		if (o->type == TLS_APPDATA && !t->v13) {
			/* application data: the handshake ended unseen */
			t->done = true;
			x->kind = X_APP;
		}
	} else if (o->type == TLS_APPDATA) {
		if (x->kind != X_APP) {
			/* the flight so far was handshake (the TLS 1.3 Finished): the
			   exchange is what follows it */
			x->crecs = x->cbytes = x->crec_max = 0;
			x->kind = X_APP;
		}
	} else if (x->kind == X_NONE || x->kind == X_CLOSE) {
		x->kind = X_HS; /* renegotiation and the like: not timed */
	}
	x->crecs++;
	x->cbytes += 5 + o->len;
	if (o->len > x->crec_max)
		x->crec_max = o->len;
	x->req_ns = ts_ns;
	if (!t->done) {
		if (t->v13 && o->type == TLS_APPDATA) {
			hs_done(t, ts_ns); /* the client's Finished */
		} else if (!t->v13 && t->fin[MX_C2S] && t->fin[MX_S2C]) {
			hs_done(t, ts_ns); /* resumption: the client's Finished came last */
		}
	}
}

static void
server_begin(struct tls_timer *t, const struct tlsr_out *o)
{
	struct xchg *x = &t->cur;

	if (x->kind == X_NONE || x->kind == X_CLOSE) {
		return;
	}
	if (!x->answered) {
		x->answered = true;
		x->reply_ns = o->first_ns;
		x->maybe_ticket = t->tickets && t->done && o->type == TLS_APPDATA;
		return;
	}
	if (x->maybe_ticket && o->first_ns > t->srv_last_ns + TICKET_PAUSE_NS) {
		/* what answered was a ticket: this is the reply */
		x->reply_ns = o->first_ns;
		x->maybe_ticket = false;
		x->srecs = x->sbytes = 0;
		t->tickets = false;
	}
}

static void
server_record(struct tls_timer *t, const struct tlsr_out *o, uint64_t ts_ns)
{
	struct xchg *x = &t->cur;

	t->srv_last_ns = ts_ns;
	if (x->answered) {
		x->srecs++;
		x->sbytes += 5 + o->len;
		if (x->srecs == 1 && o->type == TLS_ALERT && o->headlen >= 2 && !t->ccs[MX_S2C]) {
			x->alert = true;
			x->alert_level = o->head[0];
			x->alert_desc = o->head[1];
		}
	}
	if (o->type == TLS_ALERT && !t->ccs[MX_S2C] && o->headlen >= 2 && o->head[0] == 2 &&
	    !(t->v13 && t->done))
		t->fatal = true;
	if (t->done) {
		if (o->type == TLS_APPDATA)
			t->srv_app = true;
		return;
	}
	if (o->type == TLS_CCS) {
		t->ccs[MX_S2C] = true;
	} else if (o->type == TLS_APPDATA && t->hello_seen) {
		t->v13 = true; /* encrypted handshake records: TLS 1.3 */
	} else if (t->ccs[MX_S2C] && o->type == TLS_HANDSHAKE) {
		t->fin[MX_S2C] = true;
		if (t->fin[MX_C2S])
			hs_done(t, ts_ns); /* full handshake: the server's Finished came last */
	}
}

static void
tls_stop(struct tls_timer *t, bool not_tls, uint64_t ts_ns)
{
	if (t->cur.kind != X_NONE && !t->cur.answered)
		x_emit(t, 0, false, MXO_INCOMPLETE, ts_ns);
	else if (t->cur.kind != X_NONE)
		x_emit(t, 0, false, MXO_OK, 0);
	if (not_tls)
		t->not_tls = true;
	else
		t->desync = true;
}

void
tls_timer_data(struct tls_timer *t, int dir, const uint8_t *p, size_t n, uint64_t ts_ns)
{
	if (!t || !p || (dir != MX_C2S && dir != MX_S2C))
		return;
	while (n > 0 && !t->not_tls && !t->desync) {
		struct tlsr_out o;
		size_t used = 0;
		enum tlsr_ev ev = tlsr_feed(&t->rd[dir], p, n, ts_ns, &used, &o);

		p += used;
		n -= used;
		switch (ev) {
		case TLSR_BEGIN:
			if (dir == MX_S2C)
				server_begin(t, &o);
			break;
		case TLSR_END:
			if (dir == MX_C2S)
				client_record(t, &o, ts_ns);
			else
				server_record(t, &o, ts_ns);
			break;
		case TLSR_BAD:
			tls_stop(t, true, ts_ns);
			return;
		case TLSR_MORE:
			break;
		}
	}
}

void
tls_timer_gap(struct tls_timer *t, int dir, uint64_t lost, uint64_t ts_ns)
{
	(void)dir;
	if (!t || lost == 0 || t->not_tls || t->desync)
		return;
	tls_stop(t, false, ts_ns);
}

void
tls_timer_end(struct tls_timer *t, enum mx_end how, uint64_t ts_ns)
{
	struct xchg *x;
	enum mx_outcome o = txnq_end_outcome(how);
	bool waiting;

	if (!t)
		return;
	x = &t->cur;
	waiting = x->kind != X_NONE && x->kind != X_CLOSE && !x->answered;
	if (how == MXE_CLIENT_FIN && waiting && !t->cfin_ns) {
		/* the reply may still come (a QUIT): decided at the server's close */
		t->cfin_ns = ts_ns;
		return;
	}
	if (t->ended && !waiting)
		return;
	if (waiting && t->cfin_ns) {
		/* the client had closed with it waiting: it gave up then */
		how = MXE_CLIENT_FIN;
		o = MXO_CLIENT_ABORT;
		ts_ns = t->cfin_ns;
	}
	if (t->sess && !t->ended) {
		enum mx_outcome so;
		if (t->not_tls)
			so = MXO_TLS_FAILED;
		else if (t->desync)
			so = how == MXE_CAPTURE_END ? MXO_INCOMPLETE : MXO_OK;
		else if (!t->done && t->fatal)
			so = MXO_TLS_ALERT;
		else if (!t->done && t->hello_seen && x->kind == X_HELLO && !x->answered)
			so = how == MXE_CAPTURE_END ? MXO_INCOMPLETE : MXO_TLS_UNANSWERED;
		else if (!t->done)
			so = how == MXE_CAPTURE_END ? MXO_INCOMPLETE : MXO_TLS_FAILED;
		else if (waiting)
			so = o;
		else
			so = MXO_OK;
		t->sess->outcome = so;
	}
	if (x->kind != X_NONE) {
		if (waiting) /* still waiting when the input ended: cut */
			x_emit(t, 0, true, o == MXO_INCOMPLETE ? MXO_CUT : o, ts_ns);
		else
			x_emit(t, 0, how != MXE_CAPTURE_END, MXO_OK, 0);
	}
	t->ended = true;
}

uint64_t
tls_timer_pending_since(const struct tls_timer *t)
{
	if (!t || t->not_tls || t->desync)
		return 0;
	const struct xchg *x = &t->cur;
	if (!x_timed(x->kind))
		return 0;
	/* a held exchange is emitted at the next flight: keep what overlapped it */
	return x->req_ns;
}

uint64_t
tls_timer_waiting_since(const struct tls_timer *t)
{
	uint64_t p = tls_timer_pending_since(t);
	/* answered: no longer waiting, unless a ticket took the answer's place */
	return p && (!t->cur.answered || t->cur.maybe_ticket) ? p : 0;
}

/* ---- 465 / 995: the whole session is TLS --------------------------------------- */

static int
tlsport_probe(const uint8_t *p, size_t n)
{
	(void)p;
	(void)n;
	return 0; /* the client speaks first: never chosen by a greeting probe */
}

static void *
tlsport_create(struct mx_session *sess, const struct mx_sink *out, uint64_t connect_ns)
{
	(void)connect_ns;
	return tls_timer_new(sess, out, true);
}

static void
tlsport_data(void *parser, int dir, const uint8_t *p, size_t n, uint64_t ts_ns)
{
	tls_timer_data(parser, dir, p, n, ts_ns);
}

static void
tlsport_gap(void *parser, int dir, uint64_t lost, uint64_t ts_ns)
{
	tls_timer_gap(parser, dir, lost, ts_ns);
}

static void
tlsport_end(void *parser, enum mx_end how, uint64_t ts_ns)
{
	struct tls_timer *t = parser;

	if (t && !t->hello_seen && !t->ended && t->sess) {
		/* nothing TLS was said: judged as a clear-text session would be */
		t->ended = true;
		t->sess->outcome = how == MXE_CLIENT_FIN ? MXO_OK : txnq_end_outcome(how);
		return;
	}
	tls_timer_end(parser, how, ts_ns);
}

static uint64_t
tlsport_waiting_since(const void *parser)
{
	return tls_timer_waiting_since(parser);
}

static uint64_t
tlsport_pending_since(const void *parser)
{
	return tls_timer_pending_since(parser);
}

static void
tlsport_destroy(void *parser)
{
	tls_timer_free(parser);
}

const struct proto_parser_ops smtps_parser_ops = {
    .proto = MXP_SMTP,
    .name = "smtps",
    .probe = tlsport_probe,
    .create = tlsport_create,
    .data = tlsport_data,
    .gap = tlsport_gap,
    .end = tlsport_end,
    .waiting_since = tlsport_waiting_since,
    .pending_since = tlsport_pending_since,
    .destroy = tlsport_destroy,
};

const struct proto_parser_ops pop3s_parser_ops = {
    .proto = MXP_POP3,
    .name = "pop3s",
    .probe = tlsport_probe,
    .create = tlsport_create,
    .data = tlsport_data,
    .gap = tlsport_gap,
    .end = tlsport_end,
    .waiting_since = tlsport_waiting_since,
    .pending_since = tlsport_pending_since,
    .destroy = tlsport_destroy,
};
