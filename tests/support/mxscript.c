/* mxscript.c - scripted replays through a stream parser (see mxscript.h). */
#include "mxscript.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guardbuf.h"

struct rec {
	struct mxs_result *r;
};

static void
rec_emit(void *sink, const struct mx_event *ev)
{
	struct mxs_result *r = sink;

	if (ev->type == EV_TRANSFER) {
		if (ev->session != &r->sess)
			r->bad_session_ptr++;
		r->transfers++;
		r->last_xfer = ev->u.xfer;
		return;
	}
	if (ev->type != EV_TXN) {
		r->other_events++;
		return;
	}
	if (ev->session != &r->sess)
		r->bad_session_ptr++;
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 16;
		struct mx_txn *nt = realloc(r->txn, nc * sizeof(*nt));
		if (!nt)
			abort();
		r->txn = nt;
		r->cap = nc;
	}
	r->txn[r->n++] = ev->u.txn;
}

static void
feed(const struct proto_parser_ops *ops, void *p, int dir, const char *data, size_t n, uint64_t ts,
     bool guard)
{
	if (guard) {
		uint8_t *g = guardbuf_new(data, n);
		if (!g)
			abort();
		ops->data(p, dir, g, n, ts);
		guardbuf_free(g, n);
	} else {
		uint8_t *m = malloc(n ? n : 1);
		if (!m)
			abort();
		memcpy(m, data, n);
		ops->data(p, dir, m, n, ts);
		free(m);
	}
}

uint16_t mxs_server_port;
bool mxs_midstream;

bool
mxs_run(const struct proto_parser_ops *ops, const struct mxs_step *steps, size_t nsteps,
        enum mxs_split split, size_t param, bool guard, struct mxs_result *out)
{
	struct mx_ids ids = {0};
	struct mx_sink sink = {rec_emit, out, &ids};

	memset(out, 0, sizeof(*out));
	out->sess.id = 42;
	out->sess.proto = ops->proto;
	out->sess.server.port = mxs_server_port;
	out->sess.midstream = mxs_midstream;
	void *p = ops->create(&out->sess, &sink, MS(0));
	if (!p)
		return false;
	for (size_t i = 0; i < nsteps; i++) {
		const struct mxs_step *s = &steps[i];
		size_t len = s->len ? s->len : (s->data ? strlen(s->data) : 0);

		switch (s->kind) {
		case MXS_DATA:
			if (split == MXS_AT && param > 0 && param < len) {
				feed(ops, p, s->dir, s->data, param, s->ts_ns, guard);
				feed(ops, p, s->dir, s->data + param, len - param, s->ts_ns, guard);
			} else if (split == MXS_CHUNKS && param > 0) {
				for (size_t o = 0; o < len; o += param) {
					size_t k = len - o < param ? len - o : param;
					feed(ops, p, s->dir, s->data + o, k, s->ts_ns, guard);
				}
			} else {
				feed(ops, p, s->dir, s->data, len, s->ts_ns, guard);
			}
			break;
		case MXS_GAP:
			ops->gap(p, s->dir, s->lost, s->ts_ns);
			break;
		case MXS_END:
			ops->end(p, s->how, s->ts_ns);
			break;
		}
	}
	ops->destroy(p);
	return true;
}

void
mxs_result_free(struct mxs_result *r)
{
	free(r->txn);
	memset(r, 0, sizeof(*r));
}

size_t
mxs_max_len(const struct mxs_step *steps, size_t nsteps)
{
	size_t m = 0;
	for (size_t i = 0; i < nsteps; i++) {
		if (steps[i].kind != MXS_DATA)
			continue;
		size_t len = steps[i].len ? steps[i].len : strlen(steps[i].data);
		if (len > m)
			m = len;
	}
	return m;
}

#define CMP_U(f)                                                                                   \
	if (a->f != b->f) {                                                                        \
		snprintf(why, whylen, #f ": %" PRIu64 " != %" PRIu64, (uint64_t)a->f,              \
		         (uint64_t)b->f);                                                          \
		return false;                                                                      \
	}
#define CMP_S(f)                                                                                   \
	if (strcmp(a->f, b->f) != 0) {                                                             \
		snprintf(why, whylen, #f ": '%.60s' != '%.60s'", a->f, b->f);                      \
		return false;                                                                      \
	}

bool
mxs_txn_eq(const struct mx_txn *a, const struct mx_txn *b, char *why, size_t whylen)
{
	CMP_U(id);
	CMP_U(session_id);
	CMP_S(command);
	CMP_S(argument);
	CMP_S(guess);
	CMP_U(request_ns);
	CMP_U(reply_ns);
	CMP_S(reply_code);
	CMP_S(reply_text);
	CMP_U(outcome);
	CMP_U(size);
	CMP_U(end_ns);
	return true;
}

static bool
sess_eq(const struct mx_session *a, const struct mx_session *b, char *why, size_t whylen)
{
	CMP_U(outcome);
	CMP_U(tls);
	CMP_S(banner_host);
	CMP_S(helo);
	CMP_S(sender_domain);
	CMP_U(n_rcpt_domains);
	for (int i = 0; i < a->n_rcpt_domains && i < MX_RCPT_DOMAINS; i++)
		CMP_S(rcpt_domains[i]);
	CMP_U(bytes_in);
	CMP_U(messages);
	return true;
}

bool
mxs_result_eq(const struct mxs_result *a, const struct mxs_result *b, char *why, size_t whylen)
{
	char sub[200];

	if (a->n != b->n) {
		snprintf(why, whylen, "event count %zu != %zu", a->n, b->n);
		return false;
	}
	for (size_t i = 0; i < a->n; i++)
		if (!mxs_txn_eq(&a->txn[i], &b->txn[i], sub, sizeof(sub))) {
			snprintf(why, whylen, "event %zu (%s): %s", i, a->txn[i].command, sub);
			return false;
		}
	if (!sess_eq(&a->sess, &b->sess, sub, sizeof(sub))) {
		snprintf(why, whylen, "session: %s", sub);
		return false;
	}
	return true;
}

bool
mxs_leaks(const struct mxs_result *r, const char *needle)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct mx_txn *t = &r->txn[i];
		if (strstr(t->command, needle) || strstr(t->argument, needle) ||
		    strstr(t->reply_code, needle) || strstr(t->reply_text, needle))
			return true;
	}
	const struct mx_session *s = &r->sess;
	if (strstr(s->banner_host, needle) || strstr(s->helo, needle) ||
	    strstr(s->sender_domain, needle))
		return true;
	for (int i = 0; i < s->n_rcpt_domains && i < MX_RCPT_DOMAINS; i++)
		if (strstr(s->rcpt_domains[i], needle))
			return true;
	return false;
}

int
mxs_find(const struct mxs_result *r, const char *command, size_t from)
{
	for (size_t i = from; i < r->n; i++)
		if (strcmp(r->txn[i].command, command) == 0)
			return (int)i;
	return -1;
}

void
mxs_dump(const struct mxs_result *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct mx_txn *t = &r->txn[i];
		fprintf(stderr,
		        "#%zu id=%" PRIu64 " %-9s '%s' req=%" PRIu64 " rep=%" PRIu64
		        " code=%s '%s' %s size=%" PRIu64 " end=%" PRIu64 "\n",
		        i, t->id, t->command, t->argument, t->request_ns, t->reply_ns,
		        t->reply_code, t->reply_text, mx_outcome_str(t->outcome), t->size,
		        t->end_ns);
	}
	fprintf(stderr,
	        "session: outcome=%s tls=%d banner=%s helo=%s from=%s nrcpt=%d in=%" PRIu64
	        " msgs=%u\n",
	        mx_outcome_str(r->sess.outcome), r->sess.tls, r->sess.banner_host, r->sess.helo,
	        r->sess.sender_domain, r->sess.n_rcpt_domains, r->sess.bytes_in, r->sess.messages);
}

void
mxs_check_splits(const struct proto_parser_ops *ops, const struct mxs_step *steps, size_t n,
                 struct mxs_result *ref)
{
	char why[400];
	struct mxs_result r;

	cr_assert(mxs_run(ops, steps, n, MXS_WHOLE, 0, true, ref));
	cr_assert_eq(ref->bad_session_ptr, 0);
	cr_assert_eq(ref->other_events, 0);
	size_t max = mxs_max_len(steps, n);
	for (size_t k = 1; k < max; k++) {
		cr_assert(mxs_run(ops, steps, n, MXS_AT, k, true, &r));
		if (!mxs_result_eq(ref, &r, why, sizeof(why))) {
			mxs_dump(ref);
			mxs_dump(&r);
			cr_assert_fail("cut at %zu: %s", k, why);
		}
		mxs_result_free(&r);
	}
	for (size_t k = 1; k <= 7; k++) {
		cr_assert(mxs_run(ops, steps, n, MXS_CHUNKS, k, k == 1, &r));
		if (!mxs_result_eq(ref, &r, why, sizeof(why))) {
			mxs_dump(ref);
			mxs_dump(&r);
			cr_assert_fail("chunks of %zu: %s", k, why);
		}
		mxs_result_free(&r);
	}
}

void
mxs_expect_n(const struct mxs_result *r, size_t n)
{
	if (r->n != n) {
		mxs_dump(r);
		cr_assert_fail("%zu events, want %zu", r->n, n);
	}
}

char *
mxs_text_lines(size_t n)
{
	char *b = malloc(n ? n : 1);
	if (!b)
		abort();
	for (size_t i = 0; i < n; i++)
		b[i] = (i % 64 == 63) ? '\n' : (i % 64 == 62) ? '\r' : 'x';
	return b;
}
