/*
 * test_sqlfn.c - mx_percentiles / mx_percentile (schema/sqlfn.c): the
 * nearest-rank percentiles, empty and NULL groups, and equality with the
 * window-function formula the reports used before, on random data.
 */
#include <criterion/criterion.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../schema/sqlfn.h"

static sqlite3 *db;

static void
setup(void)
{
	cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	cr_assert_eq(sqlfn_register(db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, "CREATE TABLE v (g INTEGER, x REAL)", NULL, NULL, NULL),
	             SQLITE_OK);
}

static void
teardown(void)
{
	sqlite3_close(db);
}

TestSuite(sqlfn, .init = setup, .fini = teardown);

static void
exec(const char *sql)
{
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(db));
}

/* the one value of sql; *is_null set when it is NULL */
static double
q_double(const char *sql, int *is_null)
{
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
	*is_null = sqlite3_column_type(st, 0) == SQLITE_NULL;
	double v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return v;
}

static double
pct_of_all(int k)
{
	char sql[128];
	int null;
	snprintf(sql, sizeof(sql), "SELECT mx_percentile(mx_percentiles(x), %d) FROM v", k);
	double d = q_double(sql, &null);
	cr_assert(!null, "%s is NULL", sql);
	return d;
}

Test(sqlfn, one_to_a_hundred)
{
	exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)"
	     " INSERT INTO v SELECT 0, 101 - i FROM n"); /* inserted in descending order */
	cr_assert_float_eq(pct_of_all(50), 50.0, 0);
	cr_assert_float_eq(pct_of_all(95), 95.0, 0);
	cr_assert_float_eq(pct_of_all(99), 99.0, 0);
}

Test(sqlfn, one_value_is_every_percentile)
{
	exec("INSERT INTO v VALUES (0, 7.25)");
	cr_assert_float_eq(pct_of_all(50), 7.25, 0);
	cr_assert_float_eq(pct_of_all(95), 7.25, 0);
	cr_assert_float_eq(pct_of_all(99), 7.25, 0);
}

Test(sqlfn, nulls_are_left_out_and_an_empty_group_is_null)
{
	int null;
	q_double("SELECT mx_percentile(mx_percentiles(x), 50) FROM v", &null);
	cr_assert(null, "no row");
	exec("INSERT INTO v VALUES (0, NULL), (0, NULL)");
	q_double("SELECT mx_percentile(mx_percentiles(x), 50) FROM v", &null);
	cr_assert(null, "only NULLs");
	exec("INSERT INTO v VALUES (0, 3), (0, NULL), (0, 1)");
	cr_assert_float_eq(pct_of_all(50), 1.0, 0); /* rank ceil(2 / 2) = 1 of {1, 3} */
	cr_assert_float_eq(pct_of_all(95), 3.0, 0);
}

Test(sqlfn, other_k_and_other_values_give_null)
{
	int null;
	exec("INSERT INTO v VALUES (0, 1), (0, 2)");
	q_double("SELECT mx_percentile(mx_percentiles(x), 90) FROM v", &null);
	cr_assert(null, "k = 90 is not in the blob");
	q_double("SELECT mx_percentile(x'0102', 50)", &null);
	cr_assert(null, "a blob of another size");
	q_double("SELECT mx_percentile(12.5, 50)", &null);
	cr_assert(null, "not a blob");
}

/*
 * Random groups with duplicates: every group's percentiles equal the
 * window-function formula of the earlier report queries.
 */
Test(sqlfn, equals_the_window_function_formula)
{
	srand(12345);
	exec("BEGIN");
	sqlite3_stmt *ins;
	cr_assert_eq(sqlite3_prepare_v2(db, "INSERT INTO v VALUES (?1, ?2)", -1, &ins, NULL),
	             SQLITE_OK);
	for (int g = 0; g < 40; g++) {
		int n = 1 + rand() % (g < 20 ? 9 : 3000); /* small groups too */
		for (int i = 0; i < n; i++) {
			sqlite3_bind_int(ins, 1, g);
			if (rand() % 17 == 0)
				sqlite3_bind_null(ins, 2);
			else
				sqlite3_bind_double(ins, 2, (double)(rand() % 5000) / 10.0);
			cr_assert_eq(sqlite3_step(ins), SQLITE_DONE);
			sqlite3_reset(ins);
		}
	}
	sqlite3_finalize(ins);
	exec("COMMIT");

	const char *sql =
	    "WITH w AS (SELECT g, x, row_number() OVER (PARTITION BY g ORDER BY x) AS rn,"
	    "                  count(*) OVER (PARTITION BY g) AS n FROM v WHERE x IS NOT NULL),"
	    " old AS (SELECT g, max(CASE WHEN rn = (n + 1) / 2 THEN x END) AS p50,"
	    "                max(CASE WHEN rn = max(1, (n * 95 + 99) / 100) THEN x END) AS p95,"
	    "                max(CASE WHEN rn = max(1, (n * 99 + 99) / 100) THEN x END) AS p99"
	    "         FROM w GROUP BY g),"
	    " new AS (SELECT g, mx_percentile(p, 50) AS p50, mx_percentile(p, 95) AS p95,"
	    "                mx_percentile(p, 99) AS p99"
	    "         FROM (SELECT g, mx_percentiles(x) AS p FROM v GROUP BY g))"
	    " SELECT count(*), sum(old.p50 IS new.p50 AND old.p95 IS new.p95"
	    "                      AND old.p99 IS new.p99)"
	    " FROM new LEFT JOIN old USING (g)";
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s",
	             sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	int groups = sqlite3_column_int(st, 0), equal = sqlite3_column_int(st, 1);
	sqlite3_finalize(st);
	cr_assert_eq(groups, 40);
	cr_assert_eq(equal, groups, "%d of %d groups equal", equal, groups);
}

/* ---- mx_zone / sqlfn_zone ------------------------------------------------------ */

static void
zone_is(const char *name, const char *rel, const char *want)
{
	const char *z = sqlfn_zone(name, rel);
	cr_assert_str_eq(z, want, "zone of %s [%s]", name, rel ? rel : "-");
	/* always a suffix of the name */
	cr_assert(z >= name && z <= name + strlen(name));
}

Test(zone, reverse_names_roll_up_to_the_reverse_zone)
{
	zone_is("25.2.0.192.in-addr.arpa", "client-ptr", "2.0.192.in-addr.arpa");
	zone_is("25.2.0.192.in-addr.arpa", "self-ptr", "2.0.192.in-addr.arpa");
	zone_is("25.2.0.192.in-addr.arpa", NULL, "2.0.192.in-addr.arpa");
	/* not a whole address: as it is */
	zone_is("2.0.192.in-addr.arpa", "client-ptr", "2.0.192.in-addr.arpa");
	zone_is("0/25.2.0.192.in-addr.arpa", "client-ptr", "0/25.2.0.192.in-addr.arpa");
	zone_is("256.2.0.192.in-addr.arpa", "client-ptr", "256.2.0.192.in-addr.arpa");
	zone_is("1.25.2.0.192.in-addr.arpa", "client-ptr", "1.25.2.0.192.in-addr.arpa");
	zone_is("in-addr.arpa", "client-ptr", "in-addr.arpa");
	zone_is("x.notin-addr.arpa", NULL, "x.notin-addr.arpa");
	/* 2001:db8:1:2::25 -> the /48 2001:db8:1 */
	zone_is("5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
	        "client-ptr", "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	zone_is("2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "client-ptr",
	        "2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	zone_is("ip6.arpa", NULL, "ip6.arpa");
}

Test(zone, dnsbl_names_give_the_list)
{
	zone_is("25.2.0.192.zen.spamhaus.example", "dnsbl", "zen.spamhaus.example");
	zone_is("5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example",
	        "dnsbl", "bl.example");
	/* a domain-based list or no address: the name */
	zone_is("spam.example.dbl.example", "dnsbl", "spam.example.dbl.example");
	zone_is("1.2.3.4", "dnsbl", "1.2.3.4");
}

Test(zone, other_names)
{
	zone_is("_dmarc.slow.example", "spf", "slow.example");
	zone_is("_a._b.slow.example", "spf", "slow.example");
	zone_is("_dmarc", "spf", "_dmarc");
	zone_is("slow.example", "sender-domain", "slow.example");
	zone_is("host-1-2.dyn.isp.example", "client-forward", "dyn.isp.example");
	zone_is("isp.example", "client-forward", "isp.example");
	zone_is("mx", "self-name", "mx");
	zone_is("", NULL, "");
}

Test(zone, sql_function)
{
	sqlite3 *d;
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_open(":memory:", &d), SQLITE_OK);
	cr_assert_eq(sqlfn_register(d), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(d,
	                                "SELECT mx_zone('9.2.0.192.in-addr.arpa', 'client-ptr'), "
	                                "mx_zone(NULL, 'dnsbl'), mx_zone('_dmarc.x.example', NULL)",
	                                -1, &st, NULL),
	             SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "2.0.192.in-addr.arpa");
	cr_assert_eq(sqlite3_column_type(st, 1), SQLITE_NULL);
	cr_assert_str_eq((const char *)sqlite3_column_text(st, 2), "x.example");
	sqlite3_finalize(st);
	sqlite3_close(d);
}

/* the one text value of sql (a static buffer) */
static const char *
q_text(const char *sql)
{
	static char buf[128];
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
	const unsigned char *t = sqlite3_column_text(st, 0);
	snprintf(buf, sizeof(buf), "%s", t ? (const char *)t : "NULL");
	sqlite3_finalize(st);
	return buf;
}

/* mx_local: UTC unless switched on, then the zone's wall clock, DST included */
Test(sqlfn, local_time_in_a_zone)
{
	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	/* off (the default): the very same value, so the UTC output is unchanged */
	cr_assert_str_eq(q_text("SELECT strftime('%Y-%m-%d %H:%M:%f', mx_local(1767225601.0004),"
	                        " 'unixepoch')"),
	                 "2026-01-01 00:00:01.000");
	cr_assert_str_eq(q_text("SELECT mx_local(NULL)"), "NULL");
	cr_assert_str_eq(q_text("SELECT mx_local('x')"), "x");

	cr_assert_eq(sqlfn_local_time(db, 1), SQLITE_OK);
	/* winter: CET, UTC+1 */
	cr_assert_str_eq(q_text("SELECT strftime('%Y-%m-%d %H:%M:%f', mx_local(1767225601.25),"
	                        " 'unixepoch')"),
	                 "2026-01-01 01:00:01.250");
	/* summer: CEST, UTC+2 */
	cr_assert_str_eq(q_text("SELECT strftime('%Y-%m-%d %H:%M:%S', mx_local(1782907200),"
	                        " 'unixepoch')"),
	                 "2026-07-01 14:00:00");
	/* the switch to summer time, 2026-03-29 01:00 UTC: 01:59:59 is followed by 03:00:00 */
	cr_assert_str_eq(q_text("SELECT strftime('%H:%M:%S', mx_local(1774745999), 'unixepoch')"),
	                 "01:59:59");
	cr_assert_str_eq(q_text("SELECT strftime('%H:%M:%S', mx_local(1774746000), 'unixepoch')"),
	                 "03:00:00");
	cr_assert_str_eq(q_text("SELECT mx_local(NULL)"), "NULL");

	cr_assert_eq(sqlfn_local_time(db, 0), SQLITE_OK);
	cr_assert_str_eq(q_text("SELECT strftime('%H:%M:%S', mx_local(1782907200), 'unixepoch')"),
	                 "12:00:00");
	setenv("TZ", "UTC", 1);
	tzset();
}
