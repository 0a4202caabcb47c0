/*
 * recycle.c - a per-thread cache of freed blocks by size (recycle.h).
 */
#include "recycle.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define RC_KEEP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RC_KEEP 0
#endif
#endif
#ifndef RC_KEEP
#define RC_KEEP 1
#endif


struct rc_class {
	size_t size; /* 0: not taken yet */
	unsigned n;
	void *v[RC_DEPTH];
};

static _Thread_local struct rc_class rc[RC_CLASSES];

/* the class of blocks of n bytes; a free one is taken when none is */
static struct rc_class *
class_of(size_t n, int take)
{
	for (unsigned i = 0; i < RC_CLASSES; i++) {
		if (rc[i].size == n)
			return &rc[i];
		if (rc[i].size == 0) {
			if (!take)
				return NULL;
			rc[i].size = n;
			return &rc[i];
		}
	}
	return NULL;
}

void *
mx_recycled(size_t n)
{
	if (RC_KEEP && n) {
		struct rc_class *c = class_of(n, 0);
		if (c && c->n)
			return c->v[--c->n];
	}
	return malloc(n ? n : 1);
}

void *
mx_recycled_zero(size_t n)
{
	void *p = mx_recycled(n);
	if (p) {
		/* opaque to the compiler: malloc() then memset() would be made
		   into calloc() again */
		__asm__ volatile("" : "+r"(p));
		memset(p, 0, n);
	}
	return p;
}

void
mx_recycle(void *p, size_t n)
{
	if (!p)
		return;
	if (RC_KEEP && n) {
		struct rc_class *c = class_of(n, 1);
		if (c && c->n < RC_DEPTH) {
			c->v[c->n++] = p;
			return;
		}
	}
	free(p);
}

void
mx_recycle_drain(void)
{
	for (unsigned i = 0; i < RC_CLASSES; i++) {
		while (rc[i].n)
			free(rc[i].v[--rc[i].n]);
		rc[i].size = 0;
	}
}

unsigned
mx_recycle_kept(size_t n)
{
	struct rc_class *c = n ? class_of(n, 0) : NULL;
	return c ? c->n : 0;
}
