/*
 * ident.c - ident probes (RFC 1413): reply grammar and probe outcome.
 * See ident.h for the outcome rules.
 */
#include "ident.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- reply grammar (RFC 1413 "Format of responses") ------------------------ */

struct cur {
	const char *p;
	size_t i, n;
};

static void
skip_ws(struct cur *c)
{
	while (c->i < c->n && (c->p[c->i] == ' ' || c->p[c->i] == '\t'))
		c->i++;
}

static bool
take_char(struct cur *c, char ch)
{
	skip_ws(c);
	if (c->i < c->n && c->p[c->i] == ch) {
		c->i++;
		return true;
	}
	return false;
}

static bool
take_port(struct cur *c, uint16_t *out)
{
	unsigned v = 0, digits = 0;
	skip_ws(c);
	while (c->i < c->n && c->p[c->i] >= '0' && c->p[c->i] <= '9') {
		v = v * 10 + (unsigned)(c->p[c->i] - '0');
		if (++digits > 5 || v > 65535)
			return false;
		c->i++;
	}
	if (digits == 0 || v == 0)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* Copies [s, s+n) with leading/trailing blanks trimmed and control octets
 * as '?' into dst (truncated). */
static void
copy_field(char *dst, size_t dstlen, const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	size_t k = n < dstlen - 1 ? n : dstlen - 1;
	for (size_t i = 0; i < k; i++) {
		unsigned char ch = (unsigned char)s[i];
		dst[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	dst[k] = '\0';
}

static void
text_append(char *dst, size_t dstlen, const char *s)
{
	size_t l = strlen(dst);
	if (l + 1 >= dstlen)
		return;
	size_t k = strlen(s);
	if (k > dstlen - 1 - l)
		k = dstlen - 1 - l;
	memcpy(dst + l, s, k);
	dst[l + k] = '\0';
}

int
ident_parse_reply(const char *line, size_t n, struct ident_reply *out)
{
	struct cur c = {line, 0, n};
	memset(out, 0, sizeof(*out));
	while (c.n > 0 && (line[c.n - 1] == '\n' || line[c.n - 1] == '\r'))
		c.n--;
	if (!take_port(&c, &out->lport) || !take_char(&c, ',') || !take_port(&c, &out->rport) ||
	    !take_char(&c, ':'))
		goto bad;
	skip_ws(&c);
	size_t t0 = c.i;
	while (c.i < c.n && c.p[c.i] != ':' && c.p[c.i] != ' ' && c.p[c.i] != '\t')
		c.i++;
	size_t tlen = c.i - t0;
	if (!take_char(&c, ':'))
		goto bad;
	if (tlen == 6 && strncasecmp(line + t0, "USERID", 6) == 0) {
		strcpy(out->type, "USERID");
		const char *rest = line + c.i;
		size_t rn = c.n - c.i;
		const char *colon = memchr(rest, ':', rn);
		if (!colon)
			goto bad;
		copy_field(out->os, sizeof(out->os), rest, (size_t)(colon - rest));
		/* the user id is everything after the colon (it may hold colons) */
		copy_field(out->info, sizeof(out->info), colon + 1,
		           rn - (size_t)(colon - rest) - 1);
		if (!out->os[0] || !out->info[0])
			goto bad;
	} else if (tlen == 5 && strncasecmp(line + t0, "ERROR", 5) == 0) {
		strcpy(out->type, "ERROR");
		out->error = true;
		copy_field(out->info, sizeof(out->info), line + c.i, c.n - c.i);
		if (!out->info[0])
			goto bad;
	} else {
		goto bad;
	}
	text_append(out->text, sizeof(out->text), out->type);
	if (!out->error) {
		text_append(out->text, sizeof(out->text), " : ");
		text_append(out->text, sizeof(out->text), out->os);
	}
	text_append(out->text, sizeof(out->text), " : ");
	text_append(out->text, sizeof(out->text), out->info);
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -1;
}

/* ---- probes --------------------------------------------------------------- */

struct ident_probe {
	struct mx_sink out;
	struct mx_endpoint host, peer;
	uint64_t first_ns;
	uint64_t reply_ns; /* first octet of the reply line, 0 = none yet */
	size_t len;        /* octets in line */
	bool line_done;    /* LF seen: later octets are ignored */
	bool emitted;
	uint64_t owner; /* ident_set_owner() */
	uint64_t request_bytes, reply_bytes;
	char line[IDENT_LINE_MAX];
};

void
ident_set_owner(struct ident_probe *pr, uint64_t session_id)
{
	if (pr)
		pr->owner = session_id;
}

struct ident_probe *
ident_new(const struct cap_flow *f, const struct mx_sink *out)
{
	struct ident_probe *pr = calloc(1, sizeof(*pr));
	if (!pr)
		return NULL;
	if (out)
		pr->out = *out;
	pr->host = f->cli;
	pr->peer = f->srv;
	pr->first_ns = f->syn_ns ? f->syn_ns : f->first_ns;
	return pr;
}

void
ident_data(struct ident_probe *pr, int dir, const uint8_t *p, size_t n, uint64_t ts_ns)
{
	if (!pr)
		return;
	if (dir == MX_C2S) {
		pr->request_bytes += n;
		return;
	}
	if (dir != MX_S2C)
		return;
	pr->reply_bytes += n;
	for (size_t i = 0; i < n && !pr->line_done; i++) {
		uint8_t ch = p[i];
		if (pr->reply_ns == 0) {
			if (ch == '\r' || ch == '\n')
				continue; /* blank lines before the reply */
			pr->reply_ns = ts_ns;
		}
		if (ch == '\n') {
			pr->line_done = true;
			break;
		}
		if (pr->len < sizeof(pr->line))
			pr->line[pr->len++] = (char)ch; /* longer lines are cut */
	}
}

void
ident_close(struct ident_probe *pr, const struct cap_flow *f, enum cap_close why, uint64_t ts_ns)
{
	(void)why;
	if (!pr || pr->emitted)
		return;
	pr->emitted = true;

	struct mx_event ev;
	struct mx_ident *x = &ev.u.ident;
	mx_event_init(&ev, EV_IDENT);
	x->id = pr->out.ids ? ++pr->out.ids->ident : 0;
	x->host = pr->host;
	x->peer = pr->peer;
	x->owner = pr->owner;
	x->ts_ns = f->syn_ns ? f->syn_ns : pr->first_ns;
	if (!x->ts_ns)
		x->ts_ns = f->first_ns;
	x->syn_retransmits = f->syn_count > 1 ? f->syn_count - 1 : 0;

	if (pr->reply_ns) {
		struct ident_reply r;
		x->outcome = MXI_ANSWERED;
		x->end_ns = pr->reply_ns;
		if (ident_parse_reply(pr->line, pr->len, &r) == 0) {
			mx_strlcpy(x->response, r.text, sizeof(x->response));
		} else {
			size_t n = pr->len;
			while (n && (pr->line[n - 1] == '\r' || pr->line[n - 1] == '\n'))
				n--;
			copy_field(x->response, sizeof(x->response), pr->line, n);
		}
	} else if (!f->saw_synack && f->rst_ns && f->rst_dir == DIR_S2C) {
		x->outcome = MXI_REFUSED;
		x->end_ns = f->rst_ns;
	} else if (!f->saw_synack) {
		x->outcome = MXI_UNANSWERED;
		x->end_ns = f->last_syn_ns ? f->last_syn_ns : (f->syn_ns ? f->syn_ns : ts_ns);
	} else {
		/* accepted, but no reply before the connection ended */
		x->outcome = MXI_UNANSWERED;
		x->end_ns = ts_ns;
	}
	mx_sink_emit(&pr->out, &ev);
}

void
ident_free(struct ident_probe *pr)
{
	free(pr);
}
