/*
 * sqlfn.c - SQL functions the report queries use (see sqlfn.h).
 */
#include "sqlfn.h"

#include "hist.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const int pcts[] = {50, 95, 99}; /* the blob's doubles, in this order */
#define NPCT (sizeof(pcts) / sizeof(pcts[0]))

struct pct_acc {
	double *v;
	size_t n, cap;
	bool nomem;
};

static void
pct_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	struct pct_acc *a = sqlite3_aggregate_context(ctx, (int)sizeof(*a));
	if (!a) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (a->nomem || sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 256;
		double *v = realloc(a->v, cap * sizeof(*v));
		if (!v) {
			a->nomem = true;
			sqlite3_result_error_nomem(ctx);
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = sqlite3_value_double(argv[0]);
}

static int
cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

static void
pct_final(sqlite3_context *ctx)
{
	struct pct_acc *a = sqlite3_aggregate_context(ctx, 0);
	if (!a) { /* no row at all */
		sqlite3_result_null(ctx);
		return;
	}
	if (a->nomem) {
		sqlite3_result_error_nomem(ctx);
	} else if (a->n == 0) {
		sqlite3_result_null(ctx);
	} else {
		double out[NPCT];
		qsort(a->v, a->n, sizeof(*a->v), cmp_double);
		for (size_t i = 0; i < NPCT; i++) {
			uint64_t rank = ((uint64_t)a->n * (uint64_t)pcts[i] + 99) / 100;
			out[i] = a->v[(rank ? rank : 1) - 1];
		}
		sqlite3_result_blob(ctx, out, (int)sizeof(out), SQLITE_TRANSIENT);
	}
	free(a->v);
	a->v = NULL;
}

static void
pct_get(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	double out[NPCT];
	if (sqlite3_value_type(argv[0]) != SQLITE_BLOB ||
	    sqlite3_value_bytes(argv[0]) != (int)sizeof(out)) {
		sqlite3_result_null(ctx);
		return;
	}
	memcpy(out, sqlite3_value_blob(argv[0]), sizeof(out));
	int k = sqlite3_value_int(argv[1]);
	for (size_t i = 0; i < NPCT; i++) {
		if (pcts[i] == k) {
			sqlite3_result_double(ctx, out[i]);
			return;
		}
	}
	sqlite3_result_null(ctx);
}

/*
 * mx_local(ts): ts itself (UTC), or with the local zone's offset at that
 * instant added (user data non-NULL), so that strftime(..., 'unixepoch')
 * writes the wall-clock time of the zone.  NULL and non-numbers pass
 * through unchanged, as do instants localtime_r() cannot convert.
 */
static void
local_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	int type = sqlite3_value_numeric_type(argv[0]);
	if (!sqlite3_user_data(ctx) || (type != SQLITE_INTEGER && type != SQLITE_FLOAT)) {
		sqlite3_result_value(ctx, argv[0]);
		return;
	}
	double t = sqlite3_value_double(argv[0]);
	struct tm tm;
	time_t s;
	if (!isfinite(t) || fabs(t) > 1e12 || (s = (time_t)floor(t), !localtime_r(&s, &tm))) {
		sqlite3_result_value(ctx, argv[0]);
		return;
	}
	sqlite3_result_double(ctx, t + (double)tm.tm_gmtoff);
}

int
sqlfn_local_time(sqlite3 *db, int local)
{
	static char on; /* any non-NULL pointer: its address */
	return sqlite3_create_function(db, "mx_local", 1, SQLITE_UTF8 | SQLITE_INNOCUOUS,
	                               local ? &on : NULL, local_fn, NULL, NULL);
}

int
sqlfn_register(sqlite3 *db)
{
	const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
	int rc = sqlite3_create_function(db, "mx_percentiles", 1, flags, NULL, NULL, pct_step,
	                                 pct_final);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(db, "mx_percentile", 2, flags, NULL, pct_get, NULL,
		                             NULL);
	if (rc == SQLITE_OK)
		rc = hist_register(db);
	if (rc == SQLITE_OK)
		rc = sqlfn_local_time(db, 0);
	return rc;
}

int
sqlfn_compact_slow(sqlite3 *db, double slow_ms)
{
	sqlite3_stmt *st;
	int v = 1; /* unknown: read them */
	if (sqlite3_prepare_v2(db, "SELECT coalesce(max(notable_ms), 0) FROM runs", -1, &st, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = slow_ms < sqlite3_column_double(st, 0);
		sqlite3_finalize(st);
	}
	return v;
}
