/*
 * test_hist.c - the latency histograms (schema/hist.c): the stated 1 %
 * bound of a percentile read from the bins against the exact nearest-rank
 * percentile on random data of several shapes, bin edges, the stored text
 * (round trip, hostile text), and the SQL aggregate over stored rows and
 * single latencies.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../schema/hist.h"
#include "../../schema/sqlfn.h"

static uint64_t rng = 88172645463325252ull;

static double
urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* the exact nearest-rank percentile of sorted v (as mx_percentiles) */
static double
exact(const double *v, size_t n, int pct)
{
	uint64_t rank = ((uint64_t)n * (uint64_t)pct + 99) / 100;
	return v[(rank ? rank : 1) - 1];
}

Test(hist, every_latency_is_within_one_percent_of_its_bin_value)
{
	for (int i = 0; i < 200000; i++) {
		double x = HIST_MIN_MS * pow(10, urand() * 9.5); /* 1 us .. ~3 s * 1000 */
		int b = hist_bin(x);
		cr_assert(b >= 1 && b < HIST_NBINS);
		double v = hist_value(b);
		cr_assert_leq(fabs(v - x) / x, HIST_REL_ERR + 1e-12, "x %.9g bin %d value %.9g", x, b,
		              v);
	}
	/* the edges: a bin holds (g^(i-1), g^i] times 1 us */
	cr_expect_eq(hist_bin(0), 0);
	cr_expect_eq(hist_bin(-5), 0);
	cr_expect_eq(hist_bin(NAN), 0);
	cr_expect_eq(hist_bin(HIST_MIN_MS), 0);
	cr_expect_eq(hist_bin(HIST_MIN_MS * 1.0001), 1);
	cr_expect_eq(hist_bin(1e12), HIST_NBINS - 1, "7 hours and more share the last bin");
	cr_expect_eq(hist_value(0), 0);
}

/* percentiles from the bins against the exact ones, on n values drawn by gen */
static void
check_shape(const char *name, double (*gen)(void), size_t n)
{
	double *v = malloc(n * sizeof(*v));
	struct hist *h = calloc(1, sizeof(*h));
	cr_assert(v && h);
	for (size_t i = 0; i < n; i++) {
		v[i] = gen();
		hist_add(h, v[i]);
	}
	qsort(v, n, sizeof(*v), cmp_double);
	static const int pcts[] = {1, 10, 25, 50, 75, 90, 95, 99, 100};
	for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
		double want = exact(v, n, pcts[k]), got = hist_percentile(h, pcts[k]);
		cr_expect_leq(fabs(got - want), HIST_REL_ERR * want + 1e-12,
		              "%s n=%zu p%d: %.6f from the bins, %.6f exact", name, n, pcts[k], got,
		              want);
	}
	cr_expect_eq(hist_percentile(h, 100), v[n - 1], "the maximum is exact");
	if ((n * 1 + 99) / 100 == 1)
		cr_expect_eq(hist_percentile(h, 1), v[0], "%s n=%zu: the minimum is exact", name, n);
	free(v);
	free(h);
}

static double
g_loguniform(void)
{
	return 0.001 * pow(10, urand() * 8);
}
static double
g_mail(void) /* mostly sub-ms, some tens of ms, a few 5-30 s timeouts */
{
	double u = urand();
	return u < 0.7 ? 0.05 + urand() * 0.5 : u < 0.98 ? 10 + urand() * 60 : 5000 + urand() * 25000;
}
static double
g_point(void) /* one value, as a timeout gives */
{
	return 30000.0;
}
static double
g_two(void)
{
	return urand() < 0.5 ? 0.3 : 4000.0;
}

Test(hist, percentiles_from_bins_are_within_the_stated_bound)
{
	static const size_t sizes[] = {1, 2, 3, 7, 20, 101, 1000, 100000};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		check_shape("log-uniform", g_loguniform, sizes[i]);
		check_shape("mail", g_mail, sizes[i]);
		check_shape("one value", g_point, sizes[i]);
		check_shape("two values", g_two, sizes[i]);
	}
}

Test(hist, stored_text_round_trips_and_adds_up)
{
	struct hist *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	char *text = malloc(HIST_TEXT_MAX);
	for (int i = 0; i < 5000; i++)
		hist_add(a, g_mail());
	size_t len = hist_format(a, text, HIST_TEXT_MAX);
	cr_assert_lt(len, HIST_TEXT_MAX);
	cr_assert_eq(text[0], '[');
	cr_assert_eq(hist_merge_text(b, text, len), 0, "%s", text);
	cr_assert_eq(memcmp(a->c, b->c, sizeof(a->c)), 0);
	cr_assert_eq(b->n, a->n);
	/* merged twice: every count doubles */
	cr_assert_eq(hist_merge_text(b, text, len), 0);
	for (int i = 0; i < HIST_NBINS; i++)
		cr_assert_eq(b->c[i], 2 * a->c[i]);
	/* a buffer too small says how much it needs */
	char small[8];
	cr_expect_eq(hist_format(a, small, sizeof(small)), len);
	cr_expect_eq(small[7], '\0');
	/* the empty histogram */
	struct hist *e = calloc(1, sizeof(*e));
	cr_expect_eq(hist_format(e, text, HIST_TEXT_MAX), 2);
	cr_expect_str_eq(text, "[]");
	cr_expect_eq(hist_merge_text(e, " [ ] ", 5), 0);
	cr_expect(isnan(hist_percentile(e, 50)));
	free(a);
	free(b);
	free(e);
	free(text);
}

Test(hist, hostile_text_is_refused)
{
	static const char *const bad[] = {
	    "",          "[",         "]",         "[1]",         "[1,]",     "[1,2,]",
	    "[1,2,3]",   "[-1,2]",    "[1,-2]",    "[1200,1]",    "[99999999999999999999,1]",
	    "[1,2]x",    "{1:2}",     "[1,2 3,4]", "[1.5,2]",     "[1,4294967296]",
	    "[a,b]",     "[1,2],[3,4]", "null",    "[1,4294967295,1,1]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hist h;
		memset(&h, 0, sizeof(h));
		/* the last one: a bin named twice whose counts overflow */
		cr_expect_eq(hist_merge_text(&h, bad[i], strlen(bad[i])), -1, "%s", bad[i]);
		for (int k = 0; k < HIST_NBINS; k++)
			cr_assert_eq(h.c[k], 0, "%s: nothing added", bad[i]);
	}
	/* the reader never reads past len: no NUL after the text */
	char buf[5] = {'[', '1', ',', '2', ']'};
	struct hist h;
	memset(&h, 0, sizeof(h));
	cr_expect_eq(hist_merge_text(&h, buf, 4), -1);
	cr_expect_eq(hist_merge_text(&h, buf, 5), 0);
	cr_expect_eq(h.c[1], 2);
}

Test(hist, a_full_bin_round_trips)
{
	/* found by fuzz_hist: two counts that add up to exactly UINT32_MAX were
	 * accepted, but the text written for that bin was then refused */
	static const char in[] = " [ 0 , 5 , 0 , 4294967290]";
	struct hist *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	char text[64];
	cr_assert_eq(hist_merge_text(a, in, strlen(in)), 0);
	cr_assert_eq(a->c[0], UINT32_MAX);
	size_t len = hist_format(a, text, sizeof(text));
	cr_expect_str_eq(text, "[0,4294967295]");
	cr_assert_eq(hist_merge_text(b, text, len), 0, "%s", text);
	cr_expect_eq(b->c[0], UINT32_MAX);
	cr_expect_eq(b->n, a->n);
	/* and nothing more fits in it */
	cr_expect_eq(hist_merge_text(b, "[0,1]", 5), -1);
	cr_expect_eq(b->c[0], UINT32_MAX);
	free(a);
	free(b);
}

static sqlite3 *
sqldb(void)
{
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	cr_assert_eq(sqlfn_register(db), SQLITE_OK);
	return db;
}

static double
q1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(db));
	double v = sqlite3_column_type(st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return v;
}

Test(hist, sql_aggregate_over_stored_rows_equals_the_bins_of_every_value)
{
	sqlite3 *db = sqldb();
	cr_assert_eq(sqlite3_exec(db,
	                          "CREATE TABLE v (g INTEGER, x REAL);"
	                          "CREATE TABLE h (bins TEXT, min_ms REAL, max_ms REAL);",
	                          NULL, NULL, NULL),
	             SQLITE_OK);
	/* 10 groups of values; each group also stored as one histogram row */
	char *text = malloc(HIST_TEXT_MAX), sql[HIST_TEXT_MAX + 128];
	for (int g = 0; g < 10; g++) {
		struct hist hg;
		memset(&hg, 0, sizeof(hg));
		for (int i = 0; i < 300; i++) {
			double x = g_mail();
			hist_add(&hg, x);
			snprintf(sql, sizeof(sql), "INSERT INTO v VALUES (%d, %.17g)", g, x);
			cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		}
		hist_format(&hg, text, HIST_TEXT_MAX);
		snprintf(sql, sizeof(sql), "INSERT INTO h VALUES ('%s', %.17g, %.17g)", text,
		         hg.min_ms, hg.max_ms);
		cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	static const int pcts[] = {50, 95, 99};
	for (size_t k = 0; k < 3; k++) {
		snprintf(sql, sizeof(sql),
		         "SELECT mx_percentile(mx_hist_percentiles(bins, min_ms, max_ms), %d) FROM h",
		         pcts[k]);
		double rows = q1(db, sql);
		snprintf(sql, sizeof(sql),
		         "SELECT mx_percentile(mx_hist_percentiles(NULL, x, x), %d) FROM v", pcts[k]);
		double values = q1(db, sql);
		snprintf(sql, sizeof(sql), "SELECT mx_percentile(mx_percentiles(x), %d) FROM v",
		         pcts[k]);
		double ex = q1(db, sql);
		cr_expect_eq(rows, values, "p%d: stored rows %.6f, values %.6f", pcts[k], rows, values);
		cr_expect_leq(fabs(rows - ex), HIST_REL_ERR * ex, "p%d: %.6f, exact %.6f", pcts[k],
		              rows, ex);
	}
	/* no row, NULL rows: NULL; the bin of a latency */
	cr_expect(isnan(q1(db, "SELECT mx_hist_percentiles(bins, min_ms, max_ms) FROM h WHERE 0")));
	cr_expect(isnan(q1(db, "SELECT mx_hist_percentiles(NULL, NULL, NULL)")));
	cr_expect_eq(q1(db, "SELECT mx_hist_bin(0.0005)"), 0);
	cr_expect_eq(q1(db, "SELECT mx_hist_bin(1000)"), hist_bin(1000));
	cr_expect_eq(q1(db, "SELECT mx_hist_value(mx_hist_bin(1000))"), hist_value(hist_bin(1000)));
	/* a damaged row is an error, not a number */
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT mx_hist_percentiles('[1,2', 1, 1)", -1, &st,
	                                NULL),
	             SQLITE_OK);
	cr_expect_eq(sqlite3_step(st), SQLITE_ERROR);
	sqlite3_finalize(st);
	free(text);
	sqlite3_close(db);
}
