/*
 * hist.c - log-spaced latency histograms (see hist.h).
 */
#include "hist.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
hist_bin(double ms)
{
	if (!(ms > HIST_MIN_MS)) /* also NaN */
		return 0;
	double i = ceil(log(ms / HIST_MIN_MS) / log(HIST_GAMMA));
	if (i < 1)
		return 1;
	if (i > HIST_NBINS - 1)
		return HIST_NBINS - 1;
	return (int)i;
}

double
hist_value(int bin)
{
	if (bin <= 0)
		return 0;
	return 2.0 * HIST_MIN_MS * pow(HIST_GAMMA, bin) / (HIST_GAMMA + 1.0);
}

void
hist_add(struct hist *h, double ms)
{
	if (isnan(ms))
		return;
	h->c[hist_bin(ms)]++;
	if (h->n == 0 || ms < h->min_ms)
		h->min_ms = ms;
	if (h->n == 0 || ms > h->max_ms)
		h->max_ms = ms;
	h->n++;
	h->sum_ms += ms;
}

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
		p++;
	return p;
}

/* a non-negative decimal integer below limit (exclusive) */
static const char *
read_uint(const char *p, const char *end, uint64_t limit, uint64_t *out)
{
	uint64_t v = 0;
	const char *start = p;
	while (p < end && *p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v >= limit)
			return NULL;
		p++;
	}
	if (p == start)
		return NULL;
	*out = v;
	return p;
}

/* one pass over the text; counts are added only when apply is set */
static int
merge_pass(struct hist *h, const char *text, size_t len, bool apply)
{
	const char *p = text, *end = text + len;
	p = skip_ws(p, end);
	if (p == end || *p++ != '[')
		return -1;
	p = skip_ws(p, end);
	if (p < end && *p == ']')
		return skip_ws(p + 1, end) == end ? 0 : -1;
	for (;;) {
		uint64_t bin, cnt;
		p = skip_ws(p, end);
		if (!(p = read_uint(p, end, HIST_NBINS, &bin)))
			return -1;
		p = skip_ws(p, end);
		if (p == end || *p++ != ',')
			return -1;
		p = skip_ws(p, end);
		/* a count may be UINT32_MAX itself: hist_format writes what a bin holds */
		if (!(p = read_uint(p, end, (uint64_t)UINT32_MAX + 1, &cnt)))
			return -1;
		if (h->c[bin] > UINT32_MAX - cnt)
			return -1;
		if (apply) {
			h->c[bin] += (uint32_t)cnt;
			h->n += cnt;
		}
		p = skip_ws(p, end);
		if (p == end)
			return -1;
		if (*p == ']')
			return skip_ws(p + 1, end) == end ? 0 : -1;
		if (*p++ != ',')
			return -1;
	}
}

int
hist_merge_text(struct hist *h, const char *text, size_t len)
{
	/* all or nothing: checked first (a bin named twice may still overflow: caught then) */
	if (merge_pass(h, text, len, false) != 0)
		return -1;
	struct hist copy = *h;
	if (merge_pass(&copy, text, len, true) != 0)
		return -1;
	*h = copy;
	return 0;
}

size_t
hist_format(const struct hist *h, char *buf, size_t len)
{
	size_t o = 0;
	bool first = true;
	char tmp[32];
#define PUT(s, n)                                                                                  \
	do {                                                                                       \
		if (o + (n) < len)                                                                 \
			memcpy(buf + o, (s), (n));                                                 \
		o += (n);                                                                          \
	} while (0)
	PUT("[", 1);
	for (int i = 0; i < HIST_NBINS; i++) {
		if (!h->c[i])
			continue;
		int n = snprintf(tmp, sizeof(tmp), "%s%d,%u", first ? "" : ",", i, h->c[i]);
		PUT(tmp, (size_t)n);
		first = false;
	}
	PUT("]", 1);
#undef PUT
	if (len)
		buf[o < len ? o : len - 1] = '\0';
	return o;
}

double
hist_percentile(const struct hist *h, int pct)
{
	uint64_t total = 0;
	for (int i = 0; i < HIST_NBINS; i++)
		total += h->c[i];
	if (total == 0)
		return NAN;
	/* nearest rank: the smallest value with at least pct % of them at or below it */
	uint64_t rank = (total * (uint64_t)pct + 99) / 100;
	if (rank < 1)
		rank = 1;
	if (rank > total)
		rank = total;
	/* the extremes are known exactly */
	bool range = h->max_ms > 0 && h->max_ms >= h->min_ms; /* min/max were set */
	if (rank == total && range)
		return h->max_ms;
	if (rank == 1 && range)
		return h->min_ms;
	uint64_t seen = 0;
	for (int i = 0; i < HIST_NBINS; i++) {
		seen += h->c[i];
		if (seen >= rank) {
			double v = hist_value(i);
			if (range && v > h->max_ms)
				v = h->max_ms;
			if (range && v < h->min_ms)
				v = h->min_ms;
			return v;
		}
	}
	return NAN; /* not reached */
}

/* ---- SQL --------------------------------------------------------------------- */

struct hacc {
	struct hist *h;
	bool bad, seen; /* seen: min/max set */
};

static void
hacc_range(struct hacc *a, sqlite3_value *lo, sqlite3_value *hi)
{
	if (sqlite3_value_type(lo) != SQLITE_NULL) {
		double v = sqlite3_value_double(lo);
		if (!a->seen || v < a->h->min_ms)
			a->h->min_ms = v;
	}
	if (sqlite3_value_type(hi) != SQLITE_NULL) {
		double v = sqlite3_value_double(hi);
		if (!a->seen || v > a->h->max_ms)
			a->h->max_ms = v;
	}
	a->seen = true;
}

static void
hp_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	struct hacc *a = sqlite3_aggregate_context(ctx, (int)sizeof(*a));
	if (!a) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (a->bad)
		return;
	if (!a->h && !(a->h = calloc(1, sizeof(*a->h)))) {
		a->bad = true;
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (sqlite3_value_type(argv[0]) != SQLITE_NULL) {
		const char *t = (const char *)sqlite3_value_text(argv[0]);
		int n = sqlite3_value_bytes(argv[0]);
		if (!t || hist_merge_text(a->h, t, (size_t)n) != 0) {
			a->bad = true;
			sqlite3_result_error(ctx, "mx_hist_percentiles: not a stored histogram", -1);
			return;
		}
		hacc_range(a, argv[1], argv[2]);
	} else if (sqlite3_value_type(argv[1]) != SQLITE_NULL) {
		/* one latency: its bin, and it bounds the range */
		a->h->c[hist_bin(sqlite3_value_double(argv[1]))]++;
		a->h->n++;
		hacc_range(a, argv[1], argv[1]);
	}
}

static void
hp_final(sqlite3_context *ctx)
{
	struct hacc *a = sqlite3_aggregate_context(ctx, 0);
	if (!a || !a->h) {
		sqlite3_result_null(ctx);
		return;
	}
	if (!a->bad) {
		double out[3] = {hist_percentile(a->h, 50), hist_percentile(a->h, 95),
		                 hist_percentile(a->h, 99)};
		if (isnan(out[0]))
			sqlite3_result_null(ctx);
		else
			sqlite3_result_blob(ctx, out, (int)sizeof(out), SQLITE_TRANSIENT);
	}
	free(a->h);
	a->h = NULL;
}

static void
hb_func(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		sqlite3_result_null(ctx);
	else
		sqlite3_result_int(ctx, hist_bin(sqlite3_value_double(argv[0])));
}

static void
hv_func(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		sqlite3_result_null(ctx);
	else
		sqlite3_result_double(ctx, hist_value(sqlite3_value_int(argv[0])));
}

int
hist_register(sqlite3 *db)
{
	const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
	int rc = sqlite3_create_function(db, "mx_hist_percentiles", 3, flags, NULL, NULL, hp_step,
	                                 hp_final);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(db, "mx_hist_bin", 1, flags, NULL, hb_func, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(db, "mx_hist_value", 1, flags, NULL, hv_func, NULL, NULL);
	return rc;
}
