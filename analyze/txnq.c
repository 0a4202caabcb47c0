/*
 * txnq.c - pending-command queue (RFC 2920 reply ordering) and text helpers.
 */
#include "txnq.h"
#include "capture/recycle.h"

#include <stdlib.h>
#include <string.h>

struct txnq_ent *
txnq_push(struct txnq *q)
{
	if (q->count == q->cap) {
		if (q->cap >= TXNQ_MAX) {
			q->dropped++;
			return NULL;
		}
		unsigned ncap = q->cap ? q->cap * 2 : 4;
		if (ncap > TXNQ_MAX)
			ncap = TXNQ_MAX;
		/* every entry is cleared when pushed */
		struct txnq_ent *nv = mx_recycled(ncap * sizeof(*nv));
		if (!nv) {
			q->dropped++;
			return NULL;
		}
		for (unsigned i = 0; i < q->count; i++)
			nv[i] = q->v[(q->head + i) % q->cap];
		mx_recycle(q->v, q->cap * sizeof(*q->v));
		q->v = nv;
		q->cap = ncap;
		q->head = 0;
	}
	struct txnq_ent *e = &q->v[(q->head + q->count) % q->cap];
	memset(e, 0, sizeof(*e));
	q->count++;
	return e;
}

struct txnq_ent *
txnq_head(struct txnq *q)
{
	return q->count ? &q->v[q->head] : NULL;
}

struct txnq_ent *
txnq_tail(struct txnq *q)
{
	return q->count ? &q->v[(q->head + q->count - 1) % q->cap] : NULL;
}

void
txnq_pop(struct txnq *q)
{
	if (!q->count)
		return;
	q->head = (q->head + 1) % q->cap;
	q->count--;
}

uint64_t
txnq_waiting_since(const struct txnq *q)
{
	return q->count ? q->v[q->head].t.request_ns : 0;
}

void
txnq_free(struct txnq *q)
{
	mx_recycle(q->v, q->cap * sizeof(*q->v));
	q->v = NULL;
	q->head = q->count = q->cap = 0;
}

void
txnq_emit(const struct mx_sink *out, struct mx_session *sess, struct txnq_ent *e)
{
	struct mx_event ev;

	mx_event_init(&ev, EV_TXN);
	ev.session = sess;
	ev.u.txn = e->t;
	ev.u.txn.id = out && out->ids ? ++out->ids->txn : 0;
	ev.u.txn.session_id = sess ? sess->id : 0;
	if (sess) {
		sess->replies++;
		ev.u.txn.prev_reply_ns = sess->last_reply_ns;
		if (e->t.reply_ns > sess->last_reply_ns)
			sess->last_reply_ns = e->t.reply_ns;
	}
	mx_sink_emit(out, &ev);
}

unsigned
txnq_flush(struct txnq *q, const struct mx_sink *out, struct mx_session *sess,
           enum mx_outcome o, uint64_t ts_ns)
{
	unsigned n = 0;
	struct txnq_ent *e;

	while ((e = txnq_head(q)) != NULL) {
		e->t.reply_ns = 0;
		e->t.reply_code[0] = '\0';
		e->t.reply_text[0] = '\0';
		/* still waiting when the input ended: a wait cut short */
		e->t.outcome = e->incomplete         ? MXO_INCOMPLETE
		               : o == MXO_INCOMPLETE ? MXO_CUT
		                                     : o;
		e->t.end_ns = ts_ns;
		txnq_emit(out, sess, e);
		txnq_pop(q);
		n++;
	}
	return n;
}

void
mx_copy_printable(char *dst, size_t dstlen, const char *src, size_t n)
{
	if (dstlen == 0)
		return;
	/* one bound, so the compiler can do the loop a vector at a time */
	size_t m = n < dstlen - 1 ? n : dstlen - 1;
	for (size_t i = 0; i < m; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
	}
	dst[m] = '\0';
}

void
mx_copy_upper(char *dst, size_t dstlen, const char *src, size_t n)
{
	mx_copy_printable(dst, dstlen, src, n);
	for (; dstlen && *dst; dst++)
		if (*dst >= 'a' && *dst <= 'z')
			*dst = (char)(*dst - 'a' + 'A');
}

void
mx_copy_domain(char *dst, size_t dstlen, const char *src, size_t n)
{
	if (n > 0 && src[n - 1] == '.' && src[0] != '[')
		n--;
	mx_copy_printable(dst, dstlen, src, n);
	for (; dstlen && *dst; dst++)
		if (*dst >= 'A' && *dst <= 'Z')
			*dst = (char)(*dst - 'A' + 'a');
}

size_t
mx_word_len(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] != ' ' && s[i] != '\t')
		i++;
	return i;
}

size_t
mx_blank_len(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

enum mx_outcome
txnq_end_outcome(enum mx_end how)
{
	switch (how) {
	case MXE_CLIENT_FIN:
	case MXE_CLIENT_RST:
		return MXO_CLIENT_ABORT;
	case MXE_SERVER_FIN:
	case MXE_SERVER_RST:
		return MXO_SERVER_CLOSE;
	case MXE_CAPTURE_END:
	default:
		return MXO_INCOMPLETE;
	}
}
