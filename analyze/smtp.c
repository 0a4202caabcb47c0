/*
 * smtp.c - SMTP stream parser: commands paired with replies in order
 * (RFC 5321, PIPELINING RFC 2920, BDAT RFC 3030, AUTH RFC 4954,
 * STARTTLS RFC 3207).  See smtp.h for what it emits.
 *
 * Client bytes go through one state machine (enum smtp_state, changed only
 * by smtp_enter_state()): command lines, a DATA body, a BDAT chunk, SASL
 * responses, or nothing (after STARTTLS / 421).  Server bytes are reply
 * lines; a complete reply (last line "NNN ") answers the oldest queued
 * command.
 */
#include "smtp.h"

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

enum smtp_state {
	SMTP_CMD,  /* client sends command lines */
	SMTP_BODY, /* client sends a DATA body, up to CRLF.CRLF */
	SMTP_BDAT, /* client sends a BDAT chunk of known size */
	SMTP_AUTH, /* client lines are SASL responses (secrets) */
	SMTP_TLS,  /* after STARTTLS: TLS records are timed (tls.h) */
	SMTP_DONE, /* after 421: nothing is parsed */
};

enum smtp_cmd {
	C_GREETING,
	C_HELO,
	C_EHLO,
	C_MAIL,
	C_RCPT,
	C_DATA,
	C_DATA_END,
	C_BDAT,
	C_STARTTLS,
	C_AUTH,
	C_RSET,
	C_NOOP,
	C_QUIT,
	C_VRFY,
	C_EXPN,
	C_HELP,
	C_ETRN,
	C_OTHER, /* unknown verb */
	C_LOST,  /* lost in a capture gap */
};

/* what to drop of the server stream after a gap */
enum smtp_skip {
	SKIP_NONE,
	SKIP_LINE,  /* the rest of the line the gap cut */
	SKIP_REPLY, /* up to and including the next last line "NNN " */
};

struct smtp {
	struct mx_session *sess;
	struct mx_sink out;
	enum smtp_state state;
	struct txnq q;
	struct linebuf cl; /* client line */
	struct linebuf sl; /* server line */

	/* reply being assembled */
	bool in_reply;
	int reply_code;
	uint64_t reply_ns;
	char reply_text[128];
	enum smtp_skip srv_skip;
	bool srv_seen; /* a server reply line was seen (banner taken) */
	bool srv_seen_reply; /* a whole reply was seen */
	bool cli_seen;       /* a client byte was seen */

	bool cli_skip;      /* drop the rest of a client line cut by a gap */
	bool auth_unsure;   /* an AUTH step's reply was lost */
	bool starttls_sent; /* a STARTTLS is awaiting its reply */

	/* DATA body */
	struct dotend body;
	uint64_t body_ns; /* last segment with body bytes */
	bool body_gap;

	/* BDAT chunk */
	struct txnq_ent bdat;
	uint64_t bdat_left;
	bool bdat_last;
	bool bdat_early; /* the server answered it before the chunk ended */
	uint64_t bdat_msg; /* bytes of the message's chunks so far (to LAST) */
	struct xfer_track xfer; /* the current message as it goes (issue 17) */

	struct tls_timer *tls; /* after STARTTLS */

	bool quit_done; /* QUIT got its reply */
	uint64_t half_close_ns; /* the client's FIN with commands unanswered */
	bool half_answered;     /* and the server answered after it */
	bool client_cut;        /* that FIN came in the middle of a command */
	struct txnq held;       /* those answers, until it is known that the
	                           client read them (see smtp_end) */
	bool got_421;
	bool ended;
	uint64_t unmatched; /* replies with no command waiting */
};

struct smtp_cmd_def {
	const char *verb;
	enum smtp_cmd id;
	/* fills e->t.argument, updates the session; false = don't queue now */
	bool (*request)(struct smtp *s, struct txnq_ent *e, const char *arg, size_t n,
	                uint64_t ts_ns);
	/* called with the final reply code before the txn is emitted */
	void (*reply)(struct smtp *s, struct txnq_ent *e, int code);
};

static bool req_plain(struct smtp *, struct txnq_ent *, const char *, size_t, uint64_t);
static bool req_helo(struct smtp *, struct txnq_ent *, const char *, size_t, uint64_t);
static bool req_mail(struct smtp *, struct txnq_ent *, const char *, size_t, uint64_t);
static bool req_rcpt(struct smtp *, struct txnq_ent *, const char *, size_t, uint64_t);
static bool req_data(struct smtp *, struct txnq_ent *, const char *, size_t, uint64_t);
static bool req_bdat(struct smtp *, struct txnq_ent *, const char *, size_t, uint64_t);
static bool req_auth(struct smtp *, struct txnq_ent *, const char *, size_t, uint64_t);
static bool req_starttls(struct smtp *, struct txnq_ent *, const char *, size_t, uint64_t);
static void rep_data(struct smtp *, struct txnq_ent *, int);
static void rep_auth(struct smtp *, struct txnq_ent *, int);
static void rep_starttls(struct smtp *, struct txnq_ent *, int);
static void rep_quit(struct smtp *, struct txnq_ent *, int);

static const struct smtp_cmd_def commands[] = {
    {"HELO", C_HELO, req_helo, NULL},
    {"EHLO", C_EHLO, req_helo, NULL},
    {"MAIL", C_MAIL, req_mail, NULL},
    {"RCPT", C_RCPT, req_rcpt, NULL},
    {"DATA", C_DATA, req_data, rep_data},
    {"BDAT", C_BDAT, req_bdat, NULL},
    {"STARTTLS", C_STARTTLS, req_starttls, rep_starttls},
    {"AUTH", C_AUTH, req_auth, rep_auth},
    {"RSET", C_RSET, req_plain, NULL},
    {"NOOP", C_NOOP, req_plain, NULL},
    {"QUIT", C_QUIT, req_plain, rep_quit},
    {"VRFY", C_VRFY, req_plain, NULL},
    {"EXPN", C_EXPN, req_plain, NULL},
    {"HELP", C_HELP, req_plain, NULL},
    {"ETRN", C_ETRN, req_plain, NULL},
};

static const struct smtp_cmd_def cmd_other = {NULL, C_OTHER, req_plain, NULL};
static const struct smtp_cmd_def cmd_auth_step = {"AUTH", C_AUTH, NULL, rep_auth};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* ------------------------------------------------------------------------ */

static const char *
smtp_strstate(enum smtp_state st)
{
#define CASE(x)                                                                                    \
	case x:                                                                                    \
		return #x
	switch (st) {
		CASE(SMTP_CMD);
		CASE(SMTP_BODY);
		CASE(SMTP_BDAT);
		CASE(SMTP_AUTH);
		CASE(SMTP_TLS);
		CASE(SMTP_DONE);
	}
#undef CASE
	return "?";
}

static void
smtp_enter_state(struct smtp *s, enum smtp_state st)
{
#ifdef MXLAG_TRACE
	fprintf(stderr, "smtp %p: %s -> %s\n", (void *)s, smtp_strstate(s->state),
	        smtp_strstate(st));
#else
	(void)smtp_strstate;
#endif
	s->state = st;
	switch (st) {
	case SMTP_BODY:
		dotend_init(&s->body);
		s->body_ns = 0;
		s->body_gap = false;
		break;
	case SMTP_TLS:
		s->sess->tls = true;
		if (!s->tls)
			s->tls = tls_timer_new(s->sess, &s->out, false);
		/* fall through */
	case SMTP_DONE:
		lb_reset(&s->cl);
		lb_reset(&s->sl);
		s->in_reply = false;
		break;
	default:
		break;
	}
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

static const struct smtp_cmd_def *
smtp_lookup(const char *verb, size_t n)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (word_eq(verb, n, commands[i].verb))
			return &commands[i];
	return NULL;
}

/* ---- pure grammar ------------------------------------------------------- */

int
smtp_parse_reply_line(const char *p, size_t n, struct smtp_reply_line *out)
{
	if (n < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '9' || p[2] < '0' ||
	    p[2] > '9')
		return -1;
	if (n > 3 && p[3] != ' ' && p[3] != '-')
		return -1;
	out->code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	out->more = n > 3 && p[3] == '-';
	out->text = n > 4 ? p + 4 : p + n;
	out->textlen = n > 4 ? n - 4 : 0;
	return 0;
}

bool
smtp_path_domain(const char *arg, size_t n, const char **dom, size_t *domlen)
{
	const char *colon = memchr(arg, ':', n);

	if (!colon)
		return false;
	size_t i = (size_t)(colon - arg) + 1;
	i += mx_blank_len(arg + i, n - i);
	if (i < n && arg[i] == '<')
		i++;
	size_t start = i;
	while (i < n && arg[i] != '>' && arg[i] != ' ' && arg[i] != '\t')
		i++;
	const char *at = NULL;
	for (size_t k = start; k < i; k++)
		if (arg[k] == '@')
			at = arg + k;
	if (!at || at + 1 >= arg + i)
		return false;
	*dom = at + 1;
	*domlen = (size_t)(arg + i - (at + 1));
	return true;
}

/* MAIL FROM:<> (RFC 5321 4.5.5: bounces and other delivery status notifications) */
static bool
smtp_null_path(const char *arg, size_t n)
{
	const char *colon = memchr(arg, ':', n);

	if (!colon)
		return false;
	size_t i = (size_t)(colon - arg) + 1;
	i += mx_blank_len(arg + i, n - i);
	return n - i >= 2 && arg[i] == '<' && arg[i + 1] == '>';
}

/* ---- request handlers (client side) ------------------------------------ */

static bool
req_plain(struct smtp *s, struct txnq_ent *e, const char *arg, size_t n, uint64_t ts_ns)
{
	mx_copy_printable(e->t.argument, sizeof(e->t.argument), arg, n);
	return true;
}

static bool
req_helo(struct smtp *s, struct txnq_ent *e, const char *arg, size_t n, uint64_t ts_ns)
{
	/* kept as the client sent it; names are compared case-insensitively */
	mx_copy_printable(s->sess->helo, sizeof(s->sess->helo), arg, mx_word_len(arg, n));
	return req_plain(s, e, arg, n, ts_ns);
}

static bool
req_mail(struct smtp *s, struct txnq_ent *e, const char *arg, size_t n, uint64_t ts_ns)
{
	const char *d;
	size_t dl;

	if (smtp_path_domain(arg, n, &d, &dl))
		mx_copy_domain(s->sess->sender_domain, sizeof(s->sess->sender_domain), d, dl);
	else
		s->sess->sender_domain[0] = '\0';
	if (smtp_null_path(arg, n))
		s->sess->null_sender = true;
	s->bdat_msg = 0; /* a new message */
	xfer_reset(&s->xfer);
	return req_plain(s, e, arg, n, ts_ns);
}

static bool
req_rcpt(struct smtp *s, struct txnq_ent *e, const char *arg, size_t n, uint64_t ts_ns)
{
	struct mx_session *sess = s->sess;
	char dom[MX_NAME_MAX];
	const char *d;
	size_t dl;

	if (smtp_path_domain(arg, n, &d, &dl)) {
		mx_copy_domain(dom, sizeof(dom), d, dl);
		int i;
		for (i = 0; i < sess->n_rcpt_domains; i++)
			if (strcmp(sess->rcpt_domains[i], dom) == 0)
				break;
		if (i == sess->n_rcpt_domains && i < MX_RCPT_DOMAINS && dom[0]) {
			mx_strlcpy(sess->rcpt_domains[i], dom, sizeof(sess->rcpt_domains[i]));
			sess->n_rcpt_domains++;
		}
	}
	return req_plain(s, e, arg, n, ts_ns);
}

static bool
req_data(struct smtp *s, struct txnq_ent *e, const char *arg, size_t n, uint64_t ts_ns)
{
	/* the body follows the 354; clients send nothing else meanwhile */
	smtp_enter_state(s, SMTP_BODY);
	return req_plain(s, e, arg, n, ts_ns);
}

/*
 * BDAT (RFC 3030): "BDAT" SP chunk-size [SP "LAST"].  A server answers a
 * command outside that grammar (no size, a tail other than LAST, a size no
 * server can count: more than 18 digits) with a syntax error and reads no
 * chunk, so the bytes after such a line are commands again.
 */
static bool
bdat_syntax(const char *arg, size_t n, uint64_t *size, bool *last)
{
	size_t i = 0, w, wl;

	*size = 0;
	while (i < n && arg[i] >= '0' && arg[i] <= '9') {
		if (i == 18)
			return false;
		*size = *size * 10 + (uint64_t)(arg[i] - '0');
		i++;
	}
	if (i == 0)
		return false;
	w = i + mx_blank_len(arg + i, n - i);
	wl = mx_word_len(arg + w, n - w);
	*last = wl > 0 && word_eq(arg + w, wl, "LAST");
	if (wl > 0 && (!*last || w == i))
		return false;
	w += wl;
	return w + mx_blank_len(arg + w, n - w) == n;
}

/* a BDAT chunk of n bytes ended: the message is its chunks up to LAST */
static void
bdat_message(struct smtp *s, uint64_t n)
{
	s->bdat_msg += n;
	if (!s->bdat_last)
		return;
	if (s->bdat_msg > s->sess->max_message)
		s->sess->max_message = s->bdat_msg;
	xfer_progress(&s->xfer, &s->out, s->sess, false, s->bdat_msg, s->body_ns, true);
	s->bdat_msg = 0;
}

static bool
req_bdat(struct smtp *s, struct txnq_ent *e, const char *arg, size_t n, uint64_t ts_ns)
{
	uint64_t size;
	bool last;

	req_plain(s, e, arg, n, ts_ns);
	if (!bdat_syntax(arg, n, &size, &last))
		return true; /* refused as it stands: no chunk follows */
	s->bdat_last = last;
	e->t.size = size;
	s->bdat = *e;
	s->bdat_left = size;
	s->bdat_early = false;
	if (size == 0) {
		s->sess->messages += s->bdat_last;
		bdat_message(s, 0);
		return true;
	}
	smtp_enter_state(s, SMTP_BDAT);
	return false; /* queued when the last chunk byte arrives */
}

static bool
req_auth(struct smtp *s, struct txnq_ent *e, const char *arg, size_t n, uint64_t ts_ns)
{
	size_t ml = mx_word_len(arg, n);
	size_t rest = ml + mx_blank_len(arg + ml, n - ml);

	mx_copy_upper(e->t.argument, sizeof(e->t.argument) - 4, arg, ml);
	if (rest < n)
		strcat(e->t.argument, " ***");
	if (ml > 0)
		smtp_enter_state(s, SMTP_AUTH);
	return true;
}

static bool
req_starttls(struct smtp *s, struct txnq_ent *e, const char *arg, size_t n, uint64_t ts_ns)
{
	s->starttls_sent = true;
	return req_plain(s, e, arg, n, ts_ns);
}

/* ---- reply hooks (server side) ------------------------------------------ */

static void
rep_data(struct smtp *s, struct txnq_ent *e, int code)
{
	if (code / 100 != 3 && s->state == SMTP_BODY && s->body.wire == 0)
		smtp_enter_state(s, SMTP_CMD); /* refused: no body follows */
}

static void
rep_auth(struct smtp *s, struct txnq_ent *e, int code)
{
	if (code == 334) {
		e->t.reply_text[0] = '\0'; /* SASL challenge: not kept */
		return;
	}
	s->auth_unsure = false;
	if (s->state == SMTP_AUTH)
		smtp_enter_state(s, SMTP_CMD);
}

static void
rep_starttls(struct smtp *s, struct txnq_ent *e, int code)
{
	s->starttls_sent = false;
	if (code / 100 == 2)
		smtp_enter_state(s, SMTP_TLS);
}

static void
rep_quit(struct smtp *s, struct txnq_ent *e, int code)
{
	s->quit_done = true;
}

static const struct smtp_cmd_def *
smtp_def_of(const struct txnq_ent *e)
{
	if (e->kind == C_AUTH)
		return &cmd_auth_step;
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (commands[i].id == (enum smtp_cmd)e->kind)
			return &commands[i];
	return NULL;
}

/* ---- client side -------------------------------------------------------- */

static void
smtp_queue(struct smtp *s, const struct txnq_ent *e)
{
	struct txnq_ent *q = txnq_push(&s->q);

	if (q)
		*q = *e;
}

static void smtp_server_line(struct smtp *s, const char *line, size_t len);
static void smtp_reply_done(struct smtp *s, uint64_t ts_ns);

/*
 * A client waits for the whole reply to the greeting, EHLO/HELO and
 * STARTTLS before it says more (they end a PIPELINING group, RFC 2920).
 * A command line from it while such a reply is still open ("250-..." and
 * no last line yet) means the reply ended with the lines already seen:
 * its last line never came.  Without this, every later reply would answer
 * the command before its own.
 */
static void
smtp_reply_cut_short(struct smtp *s)
{
	const struct txnq_ent *e = txnq_head(&s->q);
	struct smtp_reply_line r;

	if (!e || (e->kind != C_GREETING && e->kind != C_EHLO && e->kind != C_HELO &&
	           e->kind != C_STARTTLS) || s->srv_skip != SKIP_NONE)
		return;
	if (lb_partial(&s->sl) && smtp_parse_reply_line(s->sl.buf, s->sl.len, &r) == 0) {
		/* the line has no CRLF yet the client went on: it was the end */
		s->sl.end_ns = s->sl.first_ns;
		smtp_server_line(s, s->sl.buf, s->sl.len);
		lb_reset(&s->sl);
	}
	if (!s->in_reply || lb_partial(&s->sl))
		return;
	s->in_reply = false;
	smtp_reply_done(s, s->sl.end_ns);
}

static void
smtp_client_line(struct smtp *s, const char *line, size_t len, uint64_t ts_ns)
{
	struct txnq_ent e;
	size_t lead = mx_blank_len(line, len);

	if (s->cli_skip) {
		s->cli_skip = false;
		return;
	}
	smtp_reply_cut_short(s);
	memset(&e, 0, sizeof(e));
	e.t.request_ns = ts_ns;
	if (s->state == SMTP_AUTH &&
	    !(s->auth_unsure && memchr(line, ' ', len) != NULL && lead == 0)) {
		/* a SASL response: a secret, whatever it looks like */
		mx_strlcpy(e.t.command, "AUTH", sizeof(e.t.command));
		mx_strlcpy(e.t.argument, "***", sizeof(e.t.argument));
		e.kind = C_AUTH;
		smtp_queue(s, &e);
		return;
	}
	if (s->state == SMTP_AUTH)
		smtp_enter_state(s, SMTP_CMD); /* lost AUTH reply; this is a command */
	line += lead;
	len -= lead;
	if (len == 0) {
		/* a blank line is a command to the server too: it answers 500 */
		mx_strlcpy(e.t.command, "(BLANK)", sizeof(e.t.command));
		e.kind = C_OTHER;
		smtp_queue(s, &e);
		return;
	}
	size_t vl = mx_word_len(line, len);
	size_t a = vl + mx_blank_len(line + vl, len - vl);
	const struct smtp_cmd_def *def = smtp_lookup(line, vl);
	if (!def)
		def = &cmd_other;
	mx_copy_upper(e.t.command, sizeof(e.t.command), line, vl);
	e.kind = def->id;
	if (def->request(s, &e, line + a, len - a, ts_ns))
		smtp_queue(s, &e);
}

static size_t
smtp_client_body(struct smtp *s, const uint8_t *p, size_t n, uint64_t ts_ns)
{
	size_t used = dotend_scan(&s->body, p, n);
	struct txnq_ent e;

	s->body_ns = ts_ns;
	xfer_progress(&s->xfer, &s->out, s->sess, false, s->body.bytes, ts_ns,
	              s->body.st == DOT_DONE);
	if (s->body.st != DOT_DONE)
		return used;
	memset(&e, 0, sizeof(e));
	mx_strlcpy(e.t.command, "DATA-END", sizeof(e.t.command));
	e.t.request_ns = ts_ns;
	e.t.size = s->body.bytes;
	e.kind = C_DATA_END;
	e.incomplete = s->body_gap;
	s->sess->bytes_in += e.t.size;
	s->sess->messages++;
	if (e.t.size > s->sess->max_message)
		s->sess->max_message = e.t.size;
	smtp_queue(s, &e);
	smtp_enter_state(s, SMTP_CMD);
	return used;
}

static void
smtp_bdat_done(struct smtp *s, uint64_t ts_ns)
{
	s->sess->bytes_in += s->bdat.t.size - s->bdat_left;
	s->sess->messages += s->bdat_last;
	bdat_message(s, s->bdat.t.size - s->bdat_left);
	if (!s->bdat_early) {
		s->bdat.t.request_ns = ts_ns;
		smtp_queue(s, &s->bdat);
	}
	smtp_enter_state(s, SMTP_CMD);
}

static size_t
smtp_client_chunk(struct smtp *s, const uint8_t *p, size_t n, uint64_t ts_ns)
{
	size_t take = n < s->bdat_left ? n : (size_t)s->bdat_left;

	s->bdat_left -= take;
	s->body_ns = ts_ns;
	if (s->bdat_left)
		xfer_progress(&s->xfer, &s->out, s->sess, false,
		              s->bdat_msg + (s->bdat.t.size - s->bdat_left), ts_ns, false);
	if (s->bdat_left == 0)
		smtp_bdat_done(s, ts_ns);
	return take;
}

static void
smtp_client_data(struct smtp *s, const uint8_t *p, size_t n, uint64_t ts_ns)
{
	while (n > 0) {
		size_t used;

		switch (s->state) {
		case SMTP_CMD:
		case SMTP_AUTH:
			if (s->starttls_sent && !lb_partial(&s->cl) && p[0] == 0x16) {
				/* a TLS ClientHello: the STARTTLS reply was lost */
				smtp_enter_state(s, SMTP_TLS);
				tls_timer_data(s->tls, MX_C2S, p, n, ts_ns);
				return;
			}
			used = lb_feed(&s->cl, p, n, ts_ns);
			if (s->cl.complete)
				smtp_client_line(s, s->cl.buf, s->cl.len, ts_ns);
			break;
		case SMTP_BODY:
			used = smtp_client_body(s, p, n, ts_ns);
			break;
		case SMTP_BDAT:
			used = smtp_client_chunk(s, p, n, ts_ns);
			break;
		case SMTP_TLS:
			tls_timer_data(s->tls, MX_C2S, p, n, ts_ns);
			return;
		case SMTP_DONE:
		default:
			return;
		}
		p += used;
		n -= used;
	}
}

/* ---- server side -------------------------------------------------------- */

/* code as "%03d" writes it, without snprintf() for the usual three digits
 * (it was most of a reply's formatting time) */
static void
put_reply_code(char *d, size_t n, int code)
{
	if (code >= 0 && code <= 999 && n >= 4) {
		d[0] = (char)('0' + code / 100);
		d[1] = (char)('0' + code / 10 % 10);
		d[2] = (char)('0' + code % 10);
		d[3] = '\0';
	} else {
		snprintf(d, n, "%03d", code);
	}
}

static void
smtp_fill_reply(struct smtp *s, struct txnq_ent *e)
{
	e->t.reply_ns = s->reply_ns;
	put_reply_code(e->t.reply_code, sizeof(e->t.reply_code), s->reply_code);
	mx_strlcpy(e->t.reply_text, s->reply_text, sizeof(e->t.reply_text));
	e->t.outcome = e->incomplete ? MXO_INCOMPLETE : MXO_OK;
	e->t.end_ns = 0;
}

/* a 421: the server is closing the session */
static void
smtp_reply_421(struct smtp *s, uint64_t ts_ns)
{
	struct txnq_ent *e = txnq_head(&s->q);

	if (e) {
		smtp_fill_reply(s, e);
		e->t.outcome = MXO_SERVER_CLOSE;
		txnq_emit(&s->out, s->sess, e);
		txnq_pop(&s->q);
	}
	txnq_flush(&s->q, &s->out, s->sess, MXO_SERVER_CLOSE, ts_ns);
	s->got_421 = true;
	smtp_enter_state(s, SMTP_DONE);
}

static void
smtp_reply_done(struct smtp *s, uint64_t ts_ns)
{
	struct txnq_ent *e = txnq_head(&s->q);

	bool first = !s->srv_seen_reply;
	s->srv_seen_reply = true;
	if (s->reply_code == 421) {
		smtp_reply_421(s, ts_ns);
		return;
	}
	if (!e && s->state == SMTP_BDAT && !s->bdat_early) {
		/*
		 * A reply while the chunk is still due, with every earlier command
		 * answered: a server answers a BDAT only once it has read the
		 * chunk, so this one refused the command.  When none of the chunk
		 * was sent yet, the client heard the refusal before sending it:
		 * what it sends next are commands.  Otherwise the chunk it is
		 * already sending is still counted, and not answered again.
		 */
		bool unsent = s->bdat_left == s->bdat.t.size;
		struct txnq_ent b = s->bdat;
		if (unsent)
			b.t.size = 0;
		smtp_fill_reply(s, &b);
		txnq_emit(&s->out, s->sess, &b);
		if (unsent) {
			s->bdat_left = 0;
			smtp_enter_state(s, SMTP_CMD);
		} else {
			s->bdat_early = true;
		}
		return;
	}
	if (!e) {
		if (s->state == SMTP_BODY && s->body.wire > 0) {
			/* the body's end was lost: this answers it.  The message
			 * counts as one whose end was seen (its size is what went
			 * by, gaps included), and a big one's transfer ends here */
			struct txnq_ent de;
			s->sess->bytes_in += s->body.bytes;
			s->sess->messages++;
			if (s->body.bytes > s->sess->max_message)
				s->sess->max_message = s->body.bytes;
			xfer_progress(&s->xfer, &s->out, s->sess, false, s->body.bytes, s->body_ns, true);
			memset(&de, 0, sizeof(de));
			mx_strlcpy(de.t.command, "DATA-END", sizeof(de.t.command));
			de.t.request_ns = s->body_ns;
			de.t.size = s->body.bytes;
			de.incomplete = true;
			smtp_fill_reply(s, &de);
			txnq_emit(&s->out, s->sess, &de);
			smtp_enter_state(s, SMTP_CMD);
			return;
		}
		if (s->sess->midstream && first && !s->cli_seen &&
		    (s->reply_code == 220 || s->reply_code == 554)) {
			/* picked up mid-stream, the server spoke first with a
			 * greeting's code: its greeting, sent at a time unknown
			 * (any other reply ends an exchange the capture missed) */
			struct txnq_ent g;
			memset(&g, 0, sizeof(g));
			mx_strlcpy(g.t.command, "GREETING", sizeof(g.t.command));
			g.kind = C_GREETING;
			smtp_fill_reply(s, &g);
			txnq_emit(&s->out, s->sess, &g);
			return;
		}
		s->unmatched++;
		return;
	}
	smtp_fill_reply(s, e);
	if (s->half_close_ns)
		s->half_answered = true;
	if (e->kind == C_LOST && s->cli_skip && !lb_partial(&s->cl))
		/* the line a gap cut was answered before the client sent more:
		 * it ended inside the gap, and the next bytes start a line */
		s->cli_skip = false;
	const struct smtp_cmd_def *def = smtp_def_of(e);
	if (def && def->reply)
		def->reply(s, e, s->reply_code);
	if (s->reply_code == 354 && s->state == SMTP_CMD && e->kind != C_DATA)
		smtp_enter_state(s, SMTP_BODY); /* the DATA line was lost */
	struct txnq_ent *h = s->half_close_ns ? txnq_push(&s->held) : NULL;
	if (h)
		*h = *e;
	else
		txnq_emit(&s->out, s->sess, e);
	txnq_pop(&s->q);
}

static void
smtp_server_line(struct smtp *s, const char *line, size_t len)
{
	struct smtp_reply_line r;
	bool ok = smtp_parse_reply_line(line, len, &r) == 0;

	switch (s->srv_skip) {
	case SKIP_LINE:
		s->srv_skip = SKIP_NONE;
		return;
	case SKIP_REPLY:
		if (ok && !r.more)
			s->srv_skip = SKIP_NONE;
		return;
	case SKIP_NONE:
		break;
	}
	if (!ok)
		return; /* not a reply line: ignored */
	if (!s->in_reply) {
		s->in_reply = true;
		s->reply_code = r.code;
		s->reply_ns = s->sl.first_ns;
		mx_copy_printable(s->reply_text, sizeof(s->reply_text), r.text, r.textlen);
		if (!s->srv_seen && (!s->sess->midstream ||
		                     (!s->cli_seen && (r.code == 220 || r.code == 554)))) {
			/* the greeting's first word (not a later reply's, mid-stream) */
			size_t w = mx_word_len(r.text, r.textlen);
			mx_copy_domain(s->sess->banner_host, sizeof(s->sess->banner_host), r.text,
			               w);
			s->sess->software = mx_software_detect(r.text, r.textlen, true);
		}
		s->srv_seen = true;
	}
	if (!r.more) {
		s->in_reply = false;
		smtp_reply_done(s, s->sl.end_ns);
	}
}

static void
smtp_server_data(struct smtp *s, const uint8_t *p, size_t n, uint64_t ts_ns)
{
	while (n > 0 && s->state != SMTP_TLS && s->state != SMTP_DONE) {
		size_t used = lb_feed(&s->sl, p, n, ts_ns);
		if (s->sl.complete)
			smtp_server_line(s, s->sl.buf, s->sl.len);
		p += used;
		n -= used;
	}
	if (n > 0 && s->state == SMTP_TLS)
		tls_timer_data(s->tls, MX_S2C, p, n, ts_ns);
}

/* ---- gaps --------------------------------------------------------------- */

static void
smtp_client_gap(struct smtp *s, uint64_t lost, uint64_t ts_ns)
{
	struct txnq_ent e;

	switch (s->state) {
	case SMTP_BODY:
		dotend_gap(&s->body, lost);
		s->body_gap = true;
		return;
	case SMTP_BDAT:
		s->bdat.incomplete = true;
		if (lost < s->bdat_left) {
			s->bdat_left -= lost;
			return;
		}
		lost -= s->bdat_left;
		s->bdat_left = 0;
		smtp_bdat_done(s, ts_ns);
		if (lost == 0)
			return;
		break;
	case SMTP_TLS:
		tls_timer_gap(s->tls, MX_C2S, lost, ts_ns);
		return;
	case SMTP_DONE:
		return;
	default:
		break;
	}
	/* command lines were lost: queue one placeholder so replies pair up */
	memset(&e, 0, sizeof(e));
	e.t.request_ns = ts_ns;
	e.incomplete = true;
	e.kind = C_LOST;
	mx_strlcpy(e.t.command, "?", sizeof(e.t.command));
	if (s->state == SMTP_AUTH) {
		mx_strlcpy(e.t.command, "AUTH", sizeof(e.t.command));
		mx_strlcpy(e.t.argument, "***", sizeof(e.t.argument));
		e.kind = C_AUTH;
	} else if (lb_partial(&s->cl)) {
		const char *l = s->cl.buf;
		size_t vl = mx_word_len(l, s->cl.len);
		const struct smtp_cmd_def *def = smtp_lookup(l, vl);
		if (def && vl < s->cl.len) {
			mx_strlcpy(e.t.command, def->verb, sizeof(e.t.command));
			e.kind = def->id == C_AUTH ? C_LOST : def->id;
		}
	}
	if (lb_partial(&s->cl))
		s->cli_skip = true;
	lb_reset(&s->cl);
	smtp_queue(s, &e);
}

static void
smtp_server_gap(struct smtp *s, uint64_t lost, uint64_t ts_ns)
{
	struct txnq_ent *e = txnq_head(&s->q);
	bool partial = lb_partial(&s->sl);
	char sep = s->sl.len > 3 ? s->sl.buf[3] : '\0';

	if (s->state == SMTP_TLS)
		tls_timer_gap(s->tls, MX_S2C, lost, ts_ns);
	if (s->state == SMTP_TLS || s->state == SMTP_DONE)
		return;
	if (e) {
		if (s->in_reply) {
			smtp_fill_reply(s, e);
		} else if (partial && s->sl.len >= 3 &&
		           smtp_parse_reply_line(s->sl.buf, 3, &(struct smtp_reply_line){0}) == 0) {
			e->t.reply_ns = s->sl.first_ns;
			mx_copy_printable(e->t.reply_code, sizeof(e->t.reply_code), s->sl.buf, 3);
		} else {
			e->t.end_ns = ts_ns;
		}
		e->t.outcome = MXO_INCOMPLETE;
		if (e->kind == C_AUTH)
			s->auth_unsure = true;
		if (e->kind == C_STARTTLS)
			s->starttls_sent = true; /* keep watching for a ClientHello */
		txnq_emit(&s->out, s->sess, e);
		txnq_pop(&s->q);
	}
	if (partial && sep == ' ')
		s->srv_skip = SKIP_LINE;
	else if (s->in_reply || (partial && sep == '-'))
		s->srv_skip = SKIP_REPLY;
	else if (partial)
		s->srv_skip = SKIP_LINE;
	s->in_reply = false;
	lb_reset(&s->sl);
}

/* ---- proto_parser_ops --------------------------------------------------- */

static int
smtp_probe(const uint8_t *p, size_t n)
{
	static const char *const greet[] = {"220 ", "220-", "554 ", "554-"};
	bool prefix = false;

	for (size_t i = 0; i < sizeof(greet) / sizeof(greet[0]); i++) {
		size_t k = n < 4 ? n : 4;
		if (memcmp(p, greet[i], k) == 0) {
			if (n >= 4)
				return 1;
			prefix = true;
		}
	}
	return prefix ? -1 : 0;
}

static void *
smtp_create(struct mx_session *sess, const struct mx_sink *out, uint64_t connect_ns)
{
	struct smtp *s = mx_recycled_zero(sizeof(*s));
	struct txnq_ent *g;

	if (!s)
		return NULL;
	s->sess = sess;
	if (out)
		s->out = *out;
	lb_init(&s->cl);
	lb_init(&s->sl);
	s->state = SMTP_CMD;
	if (sess->midstream)
		return s; /* the greeting, if any, is paired when it comes */
	g = txnq_push(&s->q);
	if (g) {
		mx_strlcpy(g->t.command, "GREETING", sizeof(g->t.command));
		g->t.request_ns = connect_ns;
		g->kind = C_GREETING;
	}
	return s;
}

static void
smtp_data(void *parser, int dir, const uint8_t *p, size_t n, uint64_t ts_ns)
{
	struct smtp *s = parser;

	if (!s || !p)
		return;
	if (dir == MX_C2S) {
		s->cli_seen = true;
		smtp_client_data(s, p, n, ts_ns);
	} else
		smtp_server_data(s, p, n, ts_ns);
}

static void
smtp_gap(void *parser, int dir, uint64_t lost, uint64_t ts_ns)
{
	struct smtp *s = parser;

	if (!s || lost == 0)
		return;
	if (dir == MX_C2S)
		smtp_client_gap(s, lost, ts_ns);
	else
		smtp_server_gap(s, lost, ts_ns);
}

/*
 * The stream ended inside a reply: its first line(s) came ("220-..." and no
 * last line, or a line without its CRLF).  The server did answer: the
 * waiting command keeps the code and the time of the reply's first byte,
 * and its outcome says how the session was cut.
 */
static bool
smtp_end_reply(struct smtp *s, enum mx_outcome o)
{
	struct txnq_ent *e = txnq_head(&s->q);
	struct smtp_reply_line r;

	if (!e || s->state == SMTP_TLS || s->state == SMTP_DONE || s->srv_skip != SKIP_NONE)
		return false;
	if (!s->in_reply) {
		if (!lb_partial(&s->sl) || smtp_parse_reply_line(s->sl.buf, s->sl.len, &r) != 0)
			return false;
		s->reply_code = r.code;
		s->reply_ns = s->sl.first_ns;
		mx_copy_printable(s->reply_text, sizeof(s->reply_text), r.text, r.textlen);
	}
	smtp_fill_reply(s, e);
	e->t.outcome = e->incomplete ? MXO_INCOMPLETE : o;
	s->in_reply = false;
	lb_reset(&s->sl);
	txnq_emit(&s->out, s->sess, e);
	txnq_pop(&s->q);
	return true;
}

static void
smtp_end(void *parser, enum mx_end how, uint64_t ts_ns)
{
	struct smtp *s = parser;
	enum mx_outcome o = txnq_end_outcome(how);
	struct txnq_ent *tail;
	bool cut = false;

	if (!s)
		return;
	if (s->half_close_ns && how != MXE_CLIENT_FIN) {
		/*
		 * Answers that came after the client's FIN were read if the client
		 * did not reset the connection before the server closed it: a
		 * client that gave up (Outlook after 60 s) closed for good and
		 * resets at the first byte it gets; those commands waited until
		 * the FIN and were never answered as far as the client knows.
		 */
		if (how == MXE_CLIENT_RST) {
			if (txnq_flush(&s->held, &s->out, s->sess, MXO_CLIENT_ABORT,
			               s->half_close_ns) > 0) {
				cut = true;
				s->half_answered = false; /* nothing was read */
			}
		}
		struct txnq_ent *h;
		while ((h = txnq_head(&s->held)) != NULL) {
			txnq_emit(&s->out, s->sess, h);
			txnq_pop(&s->held);
		}
	}
	if (s->state == SMTP_TLS && s->tls) {
		/* inside TLS the timer knows how it ended */
		tls_timer_end(s->tls, how, ts_ns);
		s->ended = true;
		return;
	}
	/* an unfinished DATA body or BDAT chunk becomes its txn, unanswered */
	if (s->state == SMTP_BODY && s->body.wire > 0) {
		struct txnq_ent e;
		memset(&e, 0, sizeof(e));
		mx_strlcpy(e.t.command, "DATA-END", sizeof(e.t.command));
		e.t.request_ns = s->body_ns;
		e.t.size = s->body.bytes;
		e.kind = C_DATA_END;
		smtp_queue(s, &e);
		smtp_enter_state(s, SMTP_CMD);
	} else if (s->state == SMTP_BDAT) {
		s->bdat.t.size -= s->bdat_left;
		s->bdat_left = 0;
		s->bdat_last = false;
		smtp_bdat_done(s, ts_ns);
	}
	if ((s->state == SMTP_CMD || s->state == SMTP_AUTH) && lb_partial(&s->cl))
		cut = true; /* the client stopped in the middle of a command */
	lb_reset(&s->cl);

	tail = txnq_tail(&s->q);
	if (how == MXE_CLIENT_FIN && tail) {
		/*
		 * A FIN only closes the client's sending half: it may still read
		 * (QUIT then FIN is a normal close; a script may send its whole
		 * dialogue, then FIN).  Replies keep pairing until the server
		 * closes; what is still unanswered then waited until this FIN.
		 */
		if (tail->kind != C_QUIT && !s->half_close_ns)
			s->half_close_ns = ts_ns;
		s->client_cut |= cut;
		return;
	}
	cut |= s->client_cut;
	if (s->half_close_ns) {
		/* the client half-closed: what is unanswered waited until then */
		o = MXO_CLIENT_ABORT;
		ts_ns = s->half_close_ns;
	}
	if (smtp_end_reply(s, o))
		cut = true;
	if (txnq_flush(&s->q, &s->out, s->sess, o, ts_ns) > 0)
		cut = true;

	if (s->quit_done)
		s->sess->outcome = MXO_OK;
	else if (s->half_close_ns && s->half_answered && !cut)
		s->sess->outcome = MXO_HALF_CLOSE;
	else if (s->got_421)
		s->sess->outcome = MXO_SERVER_CLOSE;
	else if (cut)
		s->sess->outcome = o;
	else if (!s->ended &&
	         (how == MXE_CLIENT_FIN || (s->state == SMTP_TLS && how == MXE_SERVER_FIN)))
		s->sess->outcome = MXO_OK; /* closed between commands (or unseen, in TLS) */
	else if (!s->ended)
		s->sess->outcome = o;
	s->ended = true;
}

static void
smtp_destroy(void *parser)
{
	struct smtp *s = parser;

	if (!s)
		return;
	txnq_free(&s->q);
	txnq_free(&s->held);
	tls_timer_free(s->tls);
	mx_recycle(s, sizeof(*s));
}

/* the oldest wait not yet settled: answers held after a half-close (their
 * wait may still turn out to have ended at the FIN) come first */
static uint64_t
smtp_wait_start(const struct smtp *x)
{
	uint64_t h = txnq_waiting_since(&x->held), q = txnq_waiting_since(&x->q);
	return h && (!q || h < q) ? h : q;
}

static uint64_t
smtp_waiting_since(const void *parser)
{
	const struct smtp *x = parser;
	if (x && x->state == SMTP_TLS)
		return tls_timer_waiting_since(x->tls);
	return x ? smtp_wait_start(x) : 0;
}

static uint64_t
smtp_pending_since(const void *parser)
{
	const struct smtp *x = parser;
	if (x && x->state == SMTP_TLS)
		return tls_timer_pending_since(x->tls);
	return x ? smtp_wait_start(x) : 0;
}

const struct proto_parser_ops smtp_parser_ops = {
    .proto = MXP_SMTP,
    .name = "smtp",
    .probe = smtp_probe,
    .create = smtp_create,
    .data = smtp_data,
    .gap = smtp_gap,
    .end = smtp_end,
    .waiting_since = smtp_waiting_since,
    .pending_since = smtp_pending_since,
    .destroy = smtp_destroy,
};
