/* held.c - ended sessions' rows held for id order (held.h). */
#include "held.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* the text fields of struct mx_session a row is written from */
enum { HS_APP, HS_BANNER, HS_HELO, HS_SENDER, HS_BOUNCE, HS_RCPT0, HS__N = HS_RCPT0 + MX_RCPT_DOMAINS };

struct held_row {
	uint64_t seq; /* order of arrival: equal ids leave first in, first out */
	uint64_t since_ms;
	size_t size; /* of this allocation */
	/* the numbers of the session a row is written from (held.h) */
#define DECLARE(f) __typeof__(((struct mx_session *)0)->f) f;
	HELD_SESSION_NUMBERS(DECLARE)
#undef DECLARE
	bool has_rec;
	uint16_t len[HS__N]; /* of each text field, then the record's in rec_len */
	size_t rec_len;
	char text[]; /* the fields, then the record, each followed by a NUL */
};

/* a min-heap on (id, seq), the keys beside the pointers: a pop compares
 * about 2 log2(n) keys, and through the pointers each was a cache miss */
struct hent {
	uint64_t id, seq;
	struct held_row *row;
};

struct heap {
	struct hent *e;
	size_t n, cap;
};

struct held {
	struct heap heap;
	size_t bytes;
	uint64_t seq;
	struct held_row *taken; /* the last row taken: its record is still lent out */
};

/* Where text field i lies in struct mx_session, and the size of its buffer. */
static size_t
text_off(int i, size_t *cap)
{
	struct mx_session *x = NULL;
	switch (i) {
	case HS_APP:
		*cap = sizeof(x->app);
		return offsetof(struct mx_session, app);
	case HS_BANNER:
		*cap = sizeof(x->banner_host);
		return offsetof(struct mx_session, banner_host);
	case HS_HELO:
		*cap = sizeof(x->helo);
		return offsetof(struct mx_session, helo);
	case HS_SENDER:
		*cap = sizeof(x->sender_domain);
		return offsetof(struct mx_session, sender_domain);
	case HS_BOUNCE:
		*cap = sizeof(x->bounce_domain);
		return offsetof(struct mx_session, bounce_domain);
	default:
		*cap = sizeof(x->rcpt_domains[0]);
		return offsetof(struct mx_session, rcpt_domains) +
		       (size_t)(i - HS_RCPT0) * sizeof(x->rcpt_domains[0]);
	}
}

struct held *
held_new(void)
{
	return calloc(1, sizeof(struct held));
}

void
held_clear(struct held *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->heap.n; i++)
		free(h->heap.e[i].row);
	h->heap.n = 0;
	h->bytes = 0;
	free(h->taken);
	h->taken = NULL;
}

void
held_free(struct held *h)
{
	if (!h)
		return;
	held_clear(h);
	free(h->heap.e);
	free(h);
}

size_t
held_count(const struct held *h)
{
	return h ? h->heap.n : 0;
}

size_t
held_bytes(const struct held *h)
{
	return h ? h->bytes : 0;
}

uint64_t
held_oldest_ms(const struct held *h)
{
	uint64_t m = UINT64_MAX;
	for (size_t i = 0; h && i < h->heap.n; i++)
		if (h->heap.e[i].row->since_ms < m)
			m = h->heap.e[i].row->since_ms;
	return m;
}

static bool
before(const struct hent *a, const struct hent *b)
{
	return a->id != b->id ? a->id < b->id : a->seq < b->seq;
}

static bool
heap_push(struct heap *q, struct held_row *r)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 256;
		struct hent *ne = realloc(q->e, cap * sizeof(*ne));
		if (!ne)
			return false;
		q->e = ne;
		q->cap = cap;
	}
	struct hent x = {r->id, r->seq, r};
	size_t i = q->n++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!before(&x, &q->e[p]))
			break;
		q->e[i] = q->e[p];
		i = p;
	}
	q->e[i] = x;
	return true;
}

static struct held_row *
heap_pop(struct heap *q)
{
	struct held_row *top = q->e[0].row;
	struct hent x = q->e[--q->n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= q->n)
			break;
		if (c + 1 < q->n && before(&q->e[c + 1], &q->e[c]))
			c++;
		if (!before(&q->e[c], &x))
			break;
		q->e[i] = q->e[c];
		i = c;
	}
	if (q->n)
		q->e[i] = x;
	return top;
}

bool
held_put(struct held *h, const struct mx_session *x, const char *rec, uint64_t now_ms)
{
	size_t len[HS__N], total = 0;
	for (int i = 0; i < HS__N; i++) {
		size_t cap;
		const char *t = (const char *)x + text_off(i, &cap);
		len[i] = i >= HS_RCPT0 && i - HS_RCPT0 >= x->n_rcpt_domains ? 0 : strnlen(t, cap - 1);
		total += len[i] + 1;
	}
	size_t rec_len = rec ? strlen(rec) : 0;
	total += rec_len + 1;

	size_t size = sizeof(struct held_row) + total;
	struct held_row *r = malloc(size);
	if (!r)
		return false;
	r->seq = h->seq++;
	r->since_ms = now_ms;
	r->size = size;
#define PUT(f) r->f = x->f;
	HELD_SESSION_NUMBERS(PUT)
#undef PUT
	r->has_rec = rec != NULL;
	r->rec_len = rec_len;
	char *p = r->text;
	for (int i = 0; i < HS__N; i++) {
		size_t cap;
		r->len[i] = (uint16_t)len[i]; /* < MX_NAME_MAX */
		memcpy(p, (const char *)x + text_off(i, &cap), len[i]);
		p[len[i]] = '\0';
		p += len[i] + 1;
	}
	if (rec_len)
		memcpy(p, rec, rec_len);
	p[rec_len] = '\0';

	if (!heap_push(&h->heap, r)) {
		free(r);
		return false;
	}
	h->bytes += size;
	return true;
}

bool
held_take(struct held *h, struct mx_session *x, const char **rec)
{
	if (!h || h->heap.n == 0)
		return false;
	struct held_row *r = heap_pop(&h->heap);
	h->bytes -= r->size;
	free(h->taken);
	h->taken = r;

#define TAKE(f) x->f = r->f;
	HELD_SESSION_NUMBERS(TAKE)
#undef TAKE
	const char *p = r->text;
	for (int i = 0; i < HS__N; i++) {
		size_t cap;
		char *t = (char *)x + text_off(i, &cap);
		memcpy(t, p, r->len[i] + 1u);
		p += r->len[i] + 1;
	}
	*rec = r->has_rec ? p : NULL;
	return true;
}
