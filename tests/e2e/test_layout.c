/*
 * test_layout.c - the compact storage layout (schema 5, issue 16) against
 * the layout before it.
 *
 * tests/fixtures/v4-release.db was written by the last release with every
 * reply a row of transactions (tests/fixtures/make-v4-release.sh: the
 * real-server captures of ../shared/captures, then generated scenarios in
 * clear text and inside TLS).  Here it is
 *   - migrated, and the view replies must give back every old row: same id,
 *     session, command, argument, code, outcome, size, guess, times within
 *     a microsecond, latency equal (and reply_text, kept for notable replies
 *     and replies without a code);
 *   - compared with a fresh analysis of the same real-server captures by
 *     this release (the writer path): the same replies again;
 *   - used for windowed reports: the rows a --since/--until window returns
 *     are exactly those the same window selects in the old tables;
 *   - and its reports after the migration equal those of the fresh analysis.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/e2e.h"
#include "../../schema/store.h"

static char *dir;
static char bin[512], oldp[1024], migp[1024], freshp[1024];

static const char *const SHARED[] = {"healthy-baseline", "pop3-tcpserver-lookups",
				     "smtp-ident-timeout", "smtp-ptr-fixed",
				     "smtp-ptr-timeout", "smtp-slow-data"};
#define NSHARED (sizeof(SHARED) / sizeof(SHARED[0]))

static void
setup(void)
{
	const char *src = getenv("MXLAG_SRC");
	dir = e2e_tmpdir();
	e2e_bin("mxlag", bin, sizeof(bin));
	snprintf(oldp, sizeof(oldp), "%s/old.db", dir);
	snprintf(migp, sizeof(migp), "%s/migrated.db", dir);
	snprintf(freshp, sizeof(freshp), "%s/fresh.db", dir);
	cr_assert_eq(e2e_sh(NULL, "cp '%s/tests/fixtures/v4-release.db' '%s' && cp '%s' '%s'",
	                    src ? src : ".", oldp, oldp, migp),
	             0);
	/* reports only read (issue 13): mxlag migrate brings it forward */
	char *out = NULL;
	int rc = e2e_sh(&out, "'%s' migrate --db '%s' 2>&1", bin, migp);
	cr_assert_eq(rc, 0, "%s", out ? out : "");
	free(out);
}

static void
teardown(void)
{
	e2e_rmdir(dir);
}

static sqlite3 *
attach_old(const char *path)
{
	sqlite3 *h;
	char sql[1200];
	cr_assert_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(sql, sizeof(sql), "ATTACH 'file:%s?mode=ro' AS old", oldp);
	cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
	return h;
}

static long
scalar(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *st;
	long v = -1;
	cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(h));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * Every old row of the runs in [run_lo, run_hi] has its twin in h's view
 * replies and the other way round.  Returns the replies compared.
 */
static long
same_replies(sqlite3 *h, const char *what, int run_lo, int run_hi, bool same_remedy)
{
	char sql[4096], match[2048];
	/* equal where it must be equal; times within 1 us (the compact record keeps us) */
	snprintf(match, sizeof(match), "%s%s",
	         "o.id = n.id AND o.session_id IS n.session_id AND o.command IS n.command"
	         " AND o.argument IS n.argument AND o.reply_code IS n.reply_code"
	         " AND o.outcome IS n.outcome AND o.size IS n.size AND o.guess IS n.guess"
	         " AND o.diagnosis IS n.diagnosis",
	         /* a fresh analysis words remedies per server software (version 6) */
	         same_remedy ? " AND o.remedy IS n.remedy"
	                     : " AND (o.remedy IS NULL) = (n.remedy IS NULL)");
	strncat(match,
	        " AND abs(o.request_ts - n.request_ts) < 2e-6"
	        " AND ((o.reply_ts IS NULL AND n.reply_ts IS NULL)"
	        "      OR abs(o.reply_ts - n.reply_ts) < 2e-6)"
	        " AND o.end_ts IS n.end_ts"
	        " AND ((o.latency_ms IS NULL AND n.latency_ms IS NULL)"
	        "      OR abs(o.latency_ms - n.latency_ms) < 1e-9)"
	        /* the first line of an ordinary reply is not kept when it has a code */
	        " AND (o.reply_text IS n.reply_text OR (n.reply_text IS NULL AND o.reply_code IS "
	        "NOT NULL"
	        "      AND n.id NOT IN (SELECT id FROM main.transactions)))",
	        sizeof(match) - strlen(match) - 1);
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM old.transactions AS o WHERE o.run_id BETWEEN %d AND %d"
	         " AND NOT EXISTS (SELECT 1 FROM main.replies AS n WHERE n.session_id IS o.session_id"
	         " AND %s)",
	         run_lo, run_hi, match);
	long missing = scalar(h, sql);
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM main.replies AS n WHERE n.run_id BETWEEN %d AND %d"
	         " AND NOT EXISTS (SELECT 1 FROM old.transactions AS o WHERE %s)",
	         run_lo, run_hi, match);
	long extra = scalar(h, sql);
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM old.transactions WHERE run_id BETWEEN %d AND %d", run_lo,
	         run_hi);
	long n_old = scalar(h, sql);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM main.replies WHERE run_id BETWEEN %d AND %d",
	         run_lo, run_hi);
	long n_new = scalar(h, sql);
	cr_expect_eq(missing, 0, "%s: %ld old replies not given back", what, missing);
	cr_expect_eq(extra, 0, "%s: %ld replies that were not in the old table", what, extra);
	cr_expect_eq(n_new, n_old, "%s: %ld replies, %ld before", what, n_new, n_old);
	return n_old;
}

/*
 * Version 7: every session and DNS query of the old table (runs up to
 * run_hi) is counted in its minute's group, and nothing else is.
 */
static void
check_counts(sqlite3 *h, int run_hi)
{
	char sql[1024];
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM (SELECT CAST(floor(coalesce(start, syn) / 60.0) * 60 AS INTEGER),"
	         " run_id, host, protocol, outbound, client_is_host, outcome, count(*)"
	         " FROM old.sessions WHERE run_id <= %d GROUP BY 1, 2, 3, 4, 5, 6, 7"
	         " EXCEPT SELECT minute, run_id, host, protocol, outbound, client_is_host, outcome, n"
	         " FROM main.session_counts)",
	         run_hi);
	cr_expect_eq(scalar(h, sql), 0, "session counts");
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM old.sessions WHERE run_id <= %d", run_hi);
	cr_expect_eq(scalar(h, "SELECT sum(n) FROM main.session_counts"), scalar(h, sql));
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM (SELECT CAST(floor(ts / 60.0) * 60 AS INTEGER), run_id, server,"
	         " qtype, outcome, count(*) FROM old.dns_queries WHERE run_id <= %d"
	         " GROUP BY 1, 2, 3, 4, 5 EXCEPT SELECT minute, run_id, server, qtype, outcome, n"
	         " FROM main.dns_counts)",
	         run_hi);
	cr_expect_eq(scalar(h, sql), 0, "DNS query counts");
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM old.dns_queries WHERE run_id <= %d", run_hi);
	cr_expect_eq(scalar(h, "SELECT sum(n) FROM main.dns_counts"), scalar(h, sql));
}

Test(layout, migrated_database_gives_back_every_reply, .init = setup, .fini = teardown)
{
	sqlite3 *h = attach_old(migp);
	cr_assert_eq(scalar(h, "PRAGMA old.user_version"), 4);
	cr_assert_eq(scalar(h, "PRAGMA main.user_version"), STORE_SCHEMA_VERSION);
	long n = same_replies(h, "migrated", 1, 1000, true);
	/* version 6: the old rows tell no software and no remedy per cause */
	cr_expect_eq(scalar(h, "SELECT count(*) FROM main.sessions WHERE software IS NOT NULL"), 0);
	cr_expect_eq(scalar(h, "SELECT count(*) FROM main.causes WHERE remedy IS NOT NULL"), 0);
	/* version 8: the largest message filled from what was stored */
	cr_expect_eq(scalar(h, "SELECT count(*) FROM main.sessions WHERE bytes > 0"
	                       " AND (max_message IS NULL OR max_message > bytes)"),
	             0);
	cr_expect_gt(scalar(h, "SELECT count(*) FROM main.sessions WHERE max_message > 0"), 0);
	cr_expect_eq(scalar(h, "SELECT count(*) FROM main.sessions s WHERE max_message IS NOT"
	                       " (SELECT max(size) FROM main.replies r WHERE r.session_id = s.id"
	                       " AND r.command IN ('DATA-END', 'RETR'))"
	                       " AND s.bytes > 0 AND s.protocol = 'smtp' AND NOT EXISTS (SELECT 1"
	                       " FROM main.replies b WHERE b.session_id = s.id"
	                       " AND b.command = 'BDAT')"),
	             0);
	cr_expect_gt(n, 300);
	/* most of them left the table; what stayed is exactly the notable ones */
	long rows = scalar(h, "SELECT count(*) FROM main.transactions");
	cr_expect_lt(rows * 3, n, "%ld of %ld replies are still rows", rows, n);
	cr_expect_eq(scalar(h, "SELECT count(*) FROM main.transactions WHERE reply_ts IS NOT NULL"
	                       " AND outcome = 'ok' AND latency_ms < 1000"
	                       " AND coalesce(reply_code, '') NOT GLOB '[45]*'"
	                       " AND coalesce(reply_code, '') <> '-ERR' AND diagnosis IS NULL"
	                       " AND id NOT IN (SELECT transaction_id FROM causes)"),
	             0, "an ordinary reply stayed a row");
	cr_expect_gt(scalar(h, "SELECT count(*) FROM main.compact_replies WHERE command = 'TLS'"),
	             0, "encrypted exchanges are compacted too");
	/* every reply counted once in the histograms, with its latency when it has one */
	cr_expect_eq(scalar(h, "SELECT sum(replies) FROM main.latency_hist"),
	             scalar(h, "SELECT count(*) FROM old.transactions"));
	cr_expect_eq(scalar(h, "SELECT sum(n) FROM main.latency_hist"),
	             scalar(h, "SELECT count(*) FROM old.transactions WHERE latency_ms IS NOT NULL"));
	cr_expect_eq(scalar(h, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"),
	             1);
	check_counts(h, 1000);
	sqlite3_close(h);
}

Test(layout, fresh_analysis_gives_the_same_replies, .init = setup, .fini = teardown)
{
	const char *shared = e2e_shared();
	if (!shared)
		cr_skip_test("../shared is not there");
	for (size_t i = 0; i < NSHARED; i++) {
		char *out = NULL;
		int rc = e2e_sh(&out, "'%s' analyze --quiet --db '%s' '%s/captures/%s.pcap' 2>&1", bin,
		                freshp, shared, SHARED[i]);
		cr_assert_eq(rc, 0, "%s: %s", SHARED[i], out ? out : "");
		free(out);
	}
	sqlite3 *h = attach_old(freshp);
	long n = same_replies(h, "fresh", 1, (int)NSHARED, false);
	cr_expect_gt(n, 30);
	/* version 6: exim told from its greetings; the POP3 server behind tcpserver
	   ("+OK lab POP3 ready") names no software */
	cr_expect_eq(scalar(h, "SELECT count(*) FROM main.sessions WHERE protocol = 'smtp'"
	                       " AND software IS NOT 'exim'"),
	             0);
	cr_expect_eq(scalar(h, "SELECT count(*) FROM main.sessions WHERE protocol = 'pop3'"
	                       " AND software IS NOT 'unknown'"),
	             0);
	/* the same notable rows, and the next run's ids start past the compact ones */
	cr_expect_eq(scalar(h, "SELECT coalesce(max(txn_ids), 0) FROM main.runs"),
	             scalar(h, "SELECT max(id) FROM old.transactions WHERE run_id <= 6"));
	/* every reply in the histograms */
	cr_expect_eq(scalar(h, "SELECT sum(replies) FROM main.latency_hist"),
	             scalar(h, "SELECT count(*) FROM old.transactions WHERE run_id <= 6"));
	check_counts(h, (int)NSHARED);
	sqlite3_close(h);
}

/* The migrated fixture without the runs the fresh database has not (the generated ones). */
static void
migrated_shared_only(void)
{
	char *out = NULL;
	int rc = e2e_sh(&out,
	                "sqlite3 '%s' \"DELETE FROM sessions WHERE run_id > %zu;"
	                " DELETE FROM transactions WHERE run_id > %zu;"
	                " DELETE FROM dns_queries WHERE run_id > %zu;"
	                " DELETE FROM ident_probes WHERE run_id > %zu;"
	                " DELETE FROM causes WHERE run_id > %zu;"
	                " DELETE FROM latency_hist WHERE run_id > %zu;"
	                " DELETE FROM session_counts WHERE run_id > %zu;"
	                " DELETE FROM dns_counts WHERE run_id > %zu;"
	                " DELETE FROM runs WHERE id > %zu;\" 2>&1",
	                migp, NSHARED, NSHARED, NSHARED, NSHARED, NSHARED, NSHARED, NSHARED, NSHARED,
	                NSHARED);
	cr_assert_eq(rc, 0, "%s", out ? out : "");
	free(out);
}

Test(layout, migrated_database_reports_like_a_fresh_analysis, .init = setup, .fini = teardown)
{
	const char *shared = e2e_shared();
	if (!shared)
		cr_skip_test("../shared is not there");
	for (size_t i = 0; i < NSHARED; i++)
		cr_assert_eq(e2e_sh(NULL, "'%s' analyze --quiet --db '%s' '%s/captures/%s.pcap'", bin,
		                    freshp, shared, SHARED[i]),
		             0);
	migrated_shared_only();
	/* the remedies as a fresh analysis words them (per server software and
	   per cause since version 6): the rest must be equal as it is */
	char *out = NULL;
	int rc = e2e_sh(&out,
	                "sqlite3 '%s' \"ATTACH '%s' AS f; UPDATE transactions SET remedy ="
	                " (SELECT x.remedy FROM f.transactions AS x WHERE x.id = transactions.id)"
	                " WHERE id IN (SELECT id FROM f.transactions);"
	                " UPDATE causes SET remedy ="
	                " (SELECT x.remedy FROM f.causes AS x WHERE x.id = causes.id)"
	                " WHERE id IN (SELECT id FROM f.causes);\" 2>&1",
	                migp, freshp);
	cr_assert_eq(rc, 0, "%s", out ? out : "");
	free(out);
	static const char *const reports[] = {"summary",  "slow",      "ptr",       "dns",
					      "ident",    "sessions",  "session 3", "session 5",
					      "outbound", "incidents"};
	static const char *const fmts[] = {"text", "json", "csv"};
	for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
		for (size_t j = 0; j < sizeof(fmts) / sizeof(fmts[0]); j++) {
			char *a = NULL, *b = NULL;
			int ra = e2e_sh(&a, "'%s' report --db '%s' --format %s %s 2>&1", bin, freshp,
			                fmts[j], reports[i]);
			int rb = e2e_sh(&b, "'%s' report --db '%s' --format %s %s 2>&1", bin, migp,
			                fmts[j], reports[i]);
			cr_expect_eq(ra, rb, "%s %s: exit %d and %d", reports[i], fmts[j], ra, rb);
			cr_expect_str_eq(a ? a : "", b ? b : "", "%s %s differs", reports[i], fmts[j]);
			free(a);
			free(b);
		}
	}
}

/* The ids a JSON report lists at path (in its order), comma-separated; malloc'd. */
static char *
report_ids(sqlite3 *h, const char *json, const char *path)
{
	sqlite3_stmt *st;
	char sql[256];
	snprintf(sql, sizeof(sql),
	         "SELECT coalesce(group_concat(json_extract(value, '%s'), ','), '')"
	         " FROM json_each(?1)",
	         path);
	cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "not JSON: %.200s", json);
	char *v = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

static char *
sql_text(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(h));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	const unsigned char *t = sqlite3_column_text(st, 0);
	char *v = strdup(t ? (const char *)t : "");
	sqlite3_finalize(st);
	return v;
}

/* One window [a, b): the rows of slow, sessions, dns and ident against the old tables. */
static void
check_window(sqlite3 *h, double a, double b)
{
	char sql[1024], win[96];
	snprintf(win, sizeof(win), "--since %.6f --until %.6f", a, b);
	static const double thresholds[] = {1000, 1};
	for (size_t k = 0; k < 2; k++) {
		char *out = NULL;
		cr_assert_eq(e2e_sh(&out, "'%s' report --db '%s' --format json --slow %g %s slow", bin,
		                    migp, thresholds[k], win),
		             0);
		char *got = report_ids(h, out, "$.transaction");
		snprintf(sql, sizeof(sql),
		         "SELECT coalesce(group_concat(id, ','), '') FROM (SELECT id FROM"
		         " old.transactions WHERE latency_ms >= %g AND request_ts >= %.6f"
		         " AND request_ts < %.6f ORDER BY request_ts DESC, id DESC)",
		         thresholds[k], a, b);
		char *want = sql_text(h, sql);
		cr_expect_str_eq(got, want, "slow >= %g in %s", thresholds[k], win);
		free(got);
		free(want);
		free(out);
	}
	char *out = NULL;
	cr_assert_eq(e2e_sh(&out, "'%s' report --db '%s' --format json %s sessions", bin, migp, win),
	             0);
	char *got = report_ids(h, out, "$.session");
	snprintf(sql, sizeof(sql),
	         "SELECT coalesce(group_concat(id, ','), '') FROM (SELECT id FROM old.sessions"
	         " WHERE coalesce(start, syn) >= %.6f AND coalesce(start, syn) < %.6f"
	         " ORDER BY coalesce(start, syn), id)",
	         a, b);
	char *want = sql_text(h, sql);
	cr_expect_str_eq(got, want, "sessions in %s", win);
	free(got);
	free(want);
	free(out);
	out = NULL;
	cr_assert_eq(e2e_sh(&out, "'%s' report --db '%s' --format json %s dns", bin, migp, win), 0);
	char *res = report_ids(h, out, "$.resolver");
	char *cnt = report_ids(h, out, "$.queries");
	snprintf(sql, sizeof(sql),
	         "SELECT coalesce(sum(1), 0) || ':' || coalesce(sum(n), 0) FROM (SELECT server,"
	         " count(*) AS n FROM old.dns_queries WHERE ts >= %.6f AND ts < %.6f GROUP BY server)",
	         a, b);
	want = sql_text(h, sql);
	long nres = 0, nq = 0;
	for (const char *p = res; *p; p++)
		nres += *p == ',';
	nres += res[0] != '\0';
	for (char *p = cnt, *e; *p; p = *e ? e + 1 : e)
		nq += strtol(p, &e, 10);
	char g[64];
	snprintf(g, sizeof(g), "%ld:%ld", nres, nq);
	cr_expect_str_eq(g, want, "dns resolvers:queries in %s", win);
	free(res);
	free(cnt);
	free(want);
	free(out);
	/* the summary's totals (per-minute counts since version 7): its window is
	   whole minutes, [a, b) rounded down to the minute */
	out = NULL;
	cr_assert_eq(e2e_sh(&out, "'%s' report --db '%s' --format json %s summary", bin, migp, win),
	             0);
	double lo = floor(a / 60) * 60, hi = floor(b / 60) * 60;
	static const char *const totals[][2] = {
	    {"$.sessions", "SELECT count(*) FROM old.sessions WHERE coalesce(start, syn) >= %.6f"
	                   " AND coalesce(start, syn) < %.6f"},
	    {"$.client_aborts", "SELECT count(*) FROM old.sessions WHERE outcome = 'client-abort'"
	                        " AND coalesce(start, syn) >= %.6f AND coalesce(start, syn) < %.6f"},
	    {"$.dns_queries", "SELECT count(*) FROM old.dns_queries WHERE ts >= %.6f AND ts < %.6f"},
	    {"$.dns_ptr", "SELECT count(*) FROM old.dns_queries WHERE qtype = 'PTR' AND ts >= %.6f"
	                  " AND ts < %.6f"},
	    {"$.dns_unanswered", "SELECT count(*) FROM old.dns_queries WHERE outcome = 'unanswered'"
	                         " AND ts >= %.6f AND ts < %.6f"},
	};
	for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
		char q[256];
		snprintf(q, sizeof(q), "SELECT json_extract(?1, '%s')", totals[i][0]);
		sqlite3_stmt *st;
		cr_assert_eq(sqlite3_prepare_v2(h, q, -1, &st, NULL), SQLITE_OK);
		sqlite3_bind_text(st, 1, out, -1, SQLITE_STATIC);
		cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
		long got_n = (long)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		snprintf(sql, sizeof(sql), totals[i][1], lo, hi);
		cr_expect_eq(got_n, scalar(h, sql), "summary %s in %s", totals[i][0], win);
	}
	free(out);
}

Test(layout, windowed_reports_return_the_rows_of_the_old_layout, .init = setup,
     .fini = teardown)
{
	sqlite3 *h = attach_old(migp);
	/* windows cut between (and right at) old replies, DNS queries and sessions */
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(h,
	                                "SELECT t FROM (SELECT request_ts AS t FROM old.transactions"
	                                " UNION SELECT ts FROM old.dns_queries"
	                                " UNION SELECT start FROM old.sessions) WHERE t IS NOT NULL"
	                                " ORDER BY t",
	                                -1, &st, NULL),
	             SQLITE_OK);
	double *ts = NULL;
	size_t n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		ts = realloc(ts, (n + 1) * sizeof(*ts));
		ts[n++] = sqlite3_column_double(st, 0);
	}
	sqlite3_finalize(st);
	cr_assert_gt(n, 50);
	int windows = 0;
	for (size_t i = 0; i + 1 < n; i += n / 9) {
		size_t j = i + n / 5 < n ? i + n / 5 : n - 1;
		check_window(h, ts[i], ts[j]);                       /* at a row's own time */
		check_window(h, ts[i] + 1e-4, ts[j] - 1e-4);         /* between rows */
		check_window(h, floor(ts[i] / 60) * 60 + 17.5, ts[j]); /* inside a minute */
		windows += 3;
	}
	free(ts);
	cr_expect_geq(windows, 27);
	sqlite3_close(h);
}
