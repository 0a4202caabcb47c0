/*
 * sqlfn.c - SQL functions the report queries use (see sqlfn.h).
 */
#include "sqlfn.h"

#include "hist.h"

#include <ctype.h>
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

static void zone_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
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
		rc = sqlite3_create_function(db, "mx_zone", 2, flags, NULL, zone_func, NULL, NULL);
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

/* ---- mx_zone ------------------------------------------------------------------ */

/* length of the label at s (up to '.' or the end) */
static size_t
label_len(const char *s)
{
	return strcspn(s, ".");
}

/* s after n labels, or NULL when it has n labels or fewer */
static const char *
skip_labels(const char *s, int n)
{
	for (int i = 0; i < n; i++) {
		s += label_len(s);
		if (*s != '.' || s[1] == '\0')
			return NULL;
		s++;
	}
	return s;
}

static bool
all_digits(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* the first n labels are decimal octets (dec) or single hex nibbles */
static bool
address_labels(const char *s, int n, bool dec)
{
	for (int i = 0; i < n; i++) {
		size_t w = label_len(s);
		if (dec ? !all_digits(s, w, 3) || atoi(s) > 255
			: w != 1 || !isxdigit((unsigned char)*s))
			return false;
		s += w;
		if (*s != '.')
			return false;
		s++;
	}
	return true;
}

static bool
ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0 && (n == k || s[n - k - 1] == '.');
}

const char *
sqlfn_zone(const char *name, const char *rel)
{
	size_t n = strlen(name);
	const char *z;
	if (ends_with(name, n, "in-addr.arpa") && n > strlen("in-addr.arpa")) {
		/* a.b.c.d.in-addr.arpa: 4 octets, then the suffix */
		z = skip_labels(name, 4);
		if (address_labels(name, 4, true) && z && strcmp(z, "in-addr.arpa") == 0)
			return skip_labels(name, 1);
		return name;
	}
	if (ends_with(name, n, "ip6.arpa") && n > strlen("ip6.arpa")) {
		z = skip_labels(name, 32);
		if (address_labels(name, 32, false) && z && strcmp(z, "ip6.arpa") == 0)
			return skip_labels(name, 20);
		return name;
	}
	if (rel && strcmp(rel, "dnsbl") == 0) {
		if (address_labels(name, 32, false) && (z = skip_labels(name, 32)))
			return z;
		if (address_labels(name, 4, true) && (z = skip_labels(name, 4)))
			return z;
		return name;
	}
	if (rel && strcmp(rel, "client-forward") == 0) {
		z = skip_labels(name, 1);
		return z && strchr(z, '.') ? z : name;
	}
	z = name;
	while (*z == '_') {
		const char *next = skip_labels(z, 1);
		if (!next)
			break;
		z = next;
	}
	return z;
}

static void
zone_func(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const unsigned char *name = sqlite3_value_text(argv[0]);
	const unsigned char *rel = sqlite3_value_text(argv[1]);
	if (!name) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_text(ctx, sqlfn_zone((const char *)name, (const char *)rel), -1,
			    SQLITE_TRANSIENT);
}
