/*
 * counts.c - the open batch's per-minute session and DNS counts (counts.h).
 */
#include "counts.h"

#include "../capture/addr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct centry {
	struct count_row r;
	uint64_t hash;
};

struct counts {
	struct centry *e;
	size_t n, cap;
	uint32_t *slot; /* open addressing: index + 1 into e, 0 = empty */
	size_t nslot;   /* power of two, > 2 * n */
};

struct counts *
counts_new(void)
{
	return calloc(1, sizeof(struct counts));
}

void
counts_free(struct counts *c)
{
	if (!c)
		return;
	free(c->e);
	free(c->slot);
	free(c);
}

int64_t
counts_minute(double t)
{
	/* as the reports' SQL computes it: floor(t / 60.0) * 60 */
	return (int64_t)floor(t / 60.0) * 60;
}

static uint64_t
str_hash(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;
}

static uint64_t
row_hash(const struct count_row *k)
{
	uint64_t h = mx_mix64((uint64_t)k->minute ^ ((uint64_t)k->kind << 56) ^
	                      ((uint64_t)k->outbound << 57) ^ ((uint64_t)k->client_is_host << 58));
	h = str_hash(h, k->a);
	h = str_hash(h, k->b);
	return str_hash(h, k->c);
}

static bool
row_eq(const struct count_row *x, const struct count_row *y)
{
	return x->kind == y->kind && x->minute == y->minute && x->outbound == y->outbound &&
	       x->client_is_host == y->client_is_host && strcmp(x->a, y->a) == 0 &&
	       strcmp(x->b, y->b) == 0 && strcmp(x->c, y->c) == 0;
}

static bool
rehash(struct counts *c, size_t nslot)
{
	uint32_t *s = calloc(nslot, sizeof(*s));
	if (!s)
		return false;
	for (size_t i = 0; i < c->n; i++) {
		size_t j = c->e[i].hash & (nslot - 1);
		while (s[j])
			j = (j + 1) & (nslot - 1);
		s[j] = (uint32_t)i + 1;
	}
	free(c->slot);
	c->slot = s;
	c->nslot = nslot;
	return true;
}

int
counts_add(struct counts *c, const struct count_row *k)
{
	uint64_t h = row_hash(k);
	if (c->nslot) {
		for (size_t j = h & (c->nslot - 1); c->slot[j]; j = (j + 1) & (c->nslot - 1)) {
			struct centry *e = &c->e[c->slot[j] - 1];
			if (e->hash == h && row_eq(&e->r, k)) {
				e->r.n++;
				return 0;
			}
		}
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct centry *ne = realloc(c->e, cap * sizeof(*ne));
		if (!ne)
			return -1;
		c->e = ne;
		c->cap = cap;
	}
	if ((c->n + 1) * 2 > c->nslot && !rehash(c, c->nslot ? c->nslot * 2 : 128))
		return -1;
	struct centry *e = &c->e[c->n++];
	e->r = *k;
	e->r.n = 1;
	e->hash = h;
	size_t j = h & (c->nslot - 1);
	while (c->slot[j])
		j = (j + 1) & (c->nslot - 1);
	c->slot[j] = (uint32_t)c->n;
	return 0;
}

int
counts_flush(struct counts *c, int (*fn)(void *arg, const struct count_row *r), void *arg)
{
	int rc = 0;
	for (size_t i = 0; i < c->n && rc == 0; i++)
		rc = fn(arg, &c->e[i].r);
	c->n = 0;
	if (c->nslot > 1024) {
		/* a batch with unusually many groups: give its memory back */
		free(c->slot);
		free(c->e);
		c->slot = NULL;
		c->e = NULL;
		c->nslot = c->cap = 0;
	} else if (c->nslot) {
		memset(c->slot, 0, c->nslot * sizeof(*c->slot));
	}
	return rc;
}

size_t
counts_pending(const struct counts *c)
{
	return c->n;
}
