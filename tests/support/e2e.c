/* e2e.c - end-to-end checks of captures against truth files. */
#include "e2e.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *
e2e_bin(const char *name, char *buf, size_t n)
{
	/* scripts/valgrind.sh: a directory of wrappers that run each program
	 * under memcheck while this test process runs natively */
	const char *w = getenv("MXLAG_VG_BIN");
	if (w && *w) {
		snprintf(buf, n, "%s/%s", w, name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	const char *b = getenv("MXLAG_BUILD");
	snprintf(buf, n, "%s/%s", b ? b : ".", name);
	return buf;
}

const char *
e2e_shared(void)
{
	const char *s = getenv("MXLAG_SHARED");
	if (!s || access(s, R_OK) != 0)
		return NULL;
	return s;
}

char *
e2e_tmpdir(void)
{
	char *d = strdup("/tmp/mxlag-test-XXXXXX");
	if (d && !mkdtemp(d)) {
		free(d);
		return NULL;
	}
	return d;
}

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void
e2e_rmdir(char *dir)
{
	if (!dir)
		return;
	if (!getenv("MXLAG_KEEP_TMP"))
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

char *
e2e_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += r;
		if (cap - len - 1 == 0) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	return buf;
}

double
e2e_total(const char *path, const char *key)
{
	char *all = e2e_slurp(path), want[128], *p;
	double v = -1;

	cr_assert_not_null(all, "cannot read %s", path);
	snprintf(want, sizeof(want), "\n%s\t", key);
	p = strstr(all, want);
	if (p)
		v = strtod(p + strlen(want), NULL);
	free(all);
	return v;
}

pid_t
e2e_held_writer(const char *dir, const char *bin, const char *gen)
{
	char *out = NULL, cmd[2048];
	cr_assert_eq(e2e_sh(&out, "cd '%s' && '%s' traffic --profile light --seconds 20 -o "
	                    "light.pcap --truth light.tsv 2>&1", dir, gen), 0, "%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "cd '%s' && (cat light.pcap; sleep 100) | '%s' analyze "
	         "--quiet -", dir, bin);
	pid_t sh = fork();
	cr_assert_geq(sh, 0);
	if (sh == 0) {
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(sh, sh);
	return sh;
}

double
e2e_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long
e2e_sql_long(const char *db, const char *sql)
{
	char *out = NULL;
	long v = -1;
	if (e2e_sh(&out, "sqlite3 '%s' \"%s\" 2>/dev/null", db, sql) == 0 && out && *out)
		v = atol(out);
	free(out);
	return v;
}

long
e2e_count_mismatches(const char *db)
{
	static const char sql[] =
	    "WITH sc AS (SELECT minute, run_id, coalesce(host, '') AS h, protocol, outbound,"
	    " client_is_host, outcome, sum(n) AS n FROM session_counts GROUP BY 1, 2, 3, 4, 5, 6, 7),"
	    " sr AS (SELECT CAST(floor(coalesce(start, syn) / 60.0) * 60 AS INTEGER), run_id,"
	    " coalesce(host, ''), protocol, outbound, client_is_host, outcome, count(*)"
	    " FROM sessions WHERE complete = 1 AND coalesce(start, syn) IS NOT NULL"
	    " GROUP BY 1, 2, 3, 4, 5, 6, 7),"
	    " dc AS (SELECT minute, run_id, coalesce(server, ''), qtype, outcome, sum(n)"
	    " FROM dns_counts GROUP BY 1, 2, 3, 4, 5),"
	    " dr AS (SELECT CAST(floor(ts / 60.0) * 60 AS INTEGER), run_id, coalesce(server, ''),"
	    " qtype, outcome, count(*) FROM dns_queries WHERE ts IS NOT NULL GROUP BY 1, 2, 3, 4, 5)"
	    " SELECT (SELECT count(*) FROM (SELECT * FROM sc EXCEPT SELECT * FROM sr))"
	    " + (SELECT count(*) FROM (SELECT * FROM sr EXCEPT SELECT * FROM sc))"
	    " + (SELECT count(*) FROM (SELECT * FROM dc EXCEPT SELECT * FROM dr))"
	    " + (SELECT count(*) FROM (SELECT * FROM dr EXCEPT SELECT * FROM dc))";
	char *out = NULL;
	if (e2e_sh(&out, "sqlite3 -readonly '%s' \"%s\" 2>&1", db, sql) != 0 || !out) {
		if (out)
			cr_log_info("count check: %s", out);
		free(out);
		return -1;
	}
	char *end;
	long n = strtol(out, &end, 10);
	if (end == out)
		n = -1;
	free(out);
	return n;
}

int
e2e_sh(char **out, const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	FILE *p = popen(cmd, "r");
	free(cmd);
	if (!p)
		return -1;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += r;
		if (cap - len - 1 == 0) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	if (buf)
		buf[len] = '\0';
	int st = pclose(p);
	if (out)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The first column of sql's first row as an integer, with ?1..?8 bound (NULL: SQL NULL). */
static int
scalar_int(sqlite3 *db, const char *sql, const char *a1, const char *a2, const char *a3,
	   const char *a4, const char *a5, const char *a6, const char *a7, const char *a8)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		cr_log_error("SQL error: %s in %s", sqlite3_errmsg(db), sql);
		return -1;
	}
	const char *args[] = {a1, a2, a3, a4, a5, a6, a7, a8};
	for (int i = 0; i < 8; i++) {
		if (args[i])
			sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, i + 1);
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * The queries below bind ?1 client, ?2 protocol, ?3 command and ?8 the
 * truth session's "server_addr" (NULL when the truth does not name the
 * server: then every session of the client counts, as before there was
 * such a key).
 */

/* Stored transaction of client/protocol with command and latency >= 1 s */
static const char Q_SLOW_TXN[] =
	"SELECT count(*) FROM transactions t JOIN sessions s ON s.id = t.session_id "
	"WHERE s.client = ?1 AND (?2 IS NULL OR s.protocol = ?2) AND t.command = ?3 "
	"AND t.latency_ms >= 1000 AND (?8 IS NULL OR s.server = ?8)";

/* A cause of such a transaction as the truth describes it (outcome: a JSON list). */
static const char Q_CAUSE[] =
	"SELECT count(*) FROM transactions t JOIN sessions s ON s.id = t.session_id "
	"JOIN causes c ON c.transaction_id = t.id "
	"LEFT JOIN dns_queries q ON q.id = c.dns_query_id "
	"LEFT JOIN ident_probes i ON i.id = c.ident_probe_id "
	"WHERE s.client = ?1 AND (?2 IS NULL OR s.protocol = ?2) AND t.command = ?3 "
	"AND t.latency_ms >= 1000 AND (?8 IS NULL OR s.server = ?8) "
	"AND c.kind = ?4 AND (?5 IS NULL OR c.relation = ?5) "
	"AND (?6 IS NULL OR q.qname = ?6) "
	"AND (?7 IS NULL OR coalesce(q.outcome, i.outcome) IN (SELECT value FROM json_each(?7)))";

/* The same through the JSON report */
static const char Q_REPORT_CAUSE[] =
	"SELECT count(*) FROM json_each(readfile_report()) r, "
	"json_each(json_extract(r.value, '$.causes')) c "
	"WHERE json_extract(r.value, '$.client') = ?1 "
	"AND (?2 IS NULL OR json_extract(r.value, '$.protocol') = ?2) "
	"AND json_extract(r.value, '$.command') = ?3 "
	"AND (?8 IS NULL OR json_extract(r.value, '$.server') = ?8) "
	"AND json_extract(c.value, '$.kind') = ?4 "
	"AND (?5 IS NULL OR json_extract(c.value, '$.relation') = ?5) "
	"AND (?6 IS NULL OR json_extract(c.value, '$.qname') = ?6) "
	"AND (?7 IS NULL OR json_extract(c.value, '$.outcome') IN (SELECT value FROM json_each(?7)))";

static const char *report_json;

static void
fn_report(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	(void)argv;
	sqlite3_result_text(ctx, report_json ? report_json : "[]", -1, SQLITE_STATIC);
}

/* Truth rows flattened by SQL: one row per expected slow cause. */
static const char Q_TRUTH_CAUSES[] =
	"SELECT json_extract(s.value,'$.client'), json_extract(s.value,'$.protocol'), "
	"json_extract(w.value,'$.command'), json_extract(c.value,'$.kind'), "
	"json_extract(c.value,'$.relation'), json_extract(c.value,'$.qname'), "
	"CASE WHEN json_type(c.value,'$.outcome') = 'array' THEN json_extract(c.value,'$.outcome') "
	"     WHEN json_type(c.value,'$.outcome') IS NULL THEN NULL "
	"     ELSE json_array(json_extract(c.value,'$.outcome')) END, "
	"json_extract(w.value,'$.latency_ms'), json_extract(s.value,'$.server_addr'), "
	"json_extract(w.value,'$.guess') "
	"FROM json_each(?1,'$.sessions') s, json_each(s.value,'$.slow') w "
	"LEFT JOIN json_each(w.value,'$.causes') c";

static const char Q_TRUTH_QUIET[] =
	"SELECT json_extract(s.value,'$.client'), json_extract(s.value,'$.protocol'), "
	"json_extract(s.value,'$.server_addr'), json_extract(s.value,'$.client_port') "
	"FROM json_each(?1,'$.sessions') s WHERE json_array_length(s.value,'$.slow') = 0";

/*
 * Slow replies whose truth says "exact": true: their causes must be the
 * listed ones and no others (top-level causes; a listed cause stands for
 * the upstream hops under it).
 */
static const char Q_TRUTH_EXACT[] =
	"SELECT json_extract(s.value,'$.client'), json_extract(s.value,'$.protocol'), "
	"json_extract(w.value,'$.command'), json_extract(w.value,'$.causes'), "
	"json_extract(s.value,'$.server_addr') "
	"FROM json_each(?1,'$.sessions') s, json_each(s.value,'$.slow') w "
	"WHERE json_extract(w.value,'$.exact') = 1";

/* Stored top-level causes of such replies that match none of the list ?4. */
static const char Q_CAUSE_UNLISTED[] =
	"SELECT count(*) FROM transactions t JOIN sessions s ON s.id = t.session_id "
	"JOIN causes c ON c.transaction_id = t.id "
	"LEFT JOIN dns_queries q ON q.id = c.dns_query_id "
	"LEFT JOIN ident_probes i ON i.id = c.ident_probe_id "
	"WHERE s.client = ?1 AND (?2 IS NULL OR s.protocol = ?2) AND t.command = ?3 "
	"AND t.latency_ms >= 1000 AND (?8 IS NULL OR s.server = ?8) AND c.parent_id IS NULL "
	"AND NOT EXISTS (SELECT 1 FROM json_each(?4) w "
	"  WHERE json_extract(w.value,'$.kind') = c.kind "
	"  AND (json_extract(w.value,'$.relation') IS NULL "
	"       OR json_extract(w.value,'$.relation') = c.relation) "
	"  AND (json_extract(w.value,'$.qname') IS NULL OR json_extract(w.value,'$.qname') = q.qname) "
	"  AND (json_type(w.value,'$.outcome') IS NULL OR coalesce(q.outcome, i.outcome) IN "
	"       (SELECT value FROM json_each(w.value,'$.outcome'))))";

/* The same through the JSON report. */
static const char Q_REPORT_UNLISTED[] =
	"SELECT count(*) FROM json_each(readfile_report()) r, "
	"json_each(json_extract(r.value, '$.causes')) c "
	"WHERE json_extract(r.value, '$.client') = ?1 "
	"AND (?2 IS NULL OR json_extract(r.value, '$.protocol') = ?2) "
	"AND json_extract(r.value, '$.command') = ?3 "
	"AND (?8 IS NULL OR json_extract(r.value, '$.server') = ?8) "
	"AND NOT EXISTS (SELECT 1 FROM json_each(?4) w "
	"  WHERE json_extract(w.value,'$.kind') = json_extract(c.value,'$.kind') "
	"  AND (json_extract(w.value,'$.relation') IS NULL "
	"       OR json_extract(w.value,'$.relation') = json_extract(c.value,'$.relation')) "
	"  AND (json_extract(w.value,'$.qname') IS NULL "
	"       OR json_extract(w.value,'$.qname') = json_extract(c.value,'$.qname')) "
	"  AND (json_type(w.value,'$.outcome') IS NULL OR json_extract(c.value,'$.outcome') IN "
	"       (SELECT value FROM json_each(w.value,'$.outcome'))))";

static const char *
col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/*
 * Analyzes pcap into db (with extra analyze options opts, "" for none) and
 * checks every statement of the truth; what names the run in messages.
 */
static int
check_db(const char *pcap, const char *truth, const char *db, const char *opts, const char *what)
{
	char bin[512], *out = NULL;
	int fails = 0;
	e2e_bin("mxlag", bin, sizeof(bin));
	int rc = e2e_sh(&out, "'%s' analyze --quiet%s --db '%s' '%s' 2>&1", bin, opts, db, pcap);
	cr_assert_eq(rc, 0, "mxlag analyze%s %s failed (%d): %s", opts, pcap, rc, out ? out : "");
	free(out);
	char *json = NULL;
	rc = e2e_sh(&json, "'%s' report --db '%s' --format json slow", bin, db);
	cr_assert_eq(rc, 0, "mxlag report failed (%d): %s", rc, json ? json : "");
	report_json = json;

	sqlite3 *h;
	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_create_function(h, "readfile_report", 0, SQLITE_UTF8, NULL, fn_report, NULL,
				NULL);
	cr_expect_eq(scalar_int(h, "SELECT json_valid(readfile_report()) AND "
				   "json_type(readfile_report()) = 'array'",
				NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
		     1, "%s: report is not a JSON array: %.300s", what, json ? json : "");

	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(h, Q_TRUTH_CAUSES, -1, &st, NULL), SQLITE_OK, "%s",
		     sqlite3_errmsg(h));
	sqlite3_bind_text(st, 1, truth, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *client = col(st, 0), *proto = col(st, 1), *cmd = col(st, 2);
		const char *kind = col(st, 3), *rel = col(st, 4), *qname = col(st, 5);
		const char *outc = col(st, 6), *srv = col(st, 8);
		int n = scalar_int(h, Q_SLOW_TXN, client, proto, cmd, NULL, NULL, NULL, NULL, srv);
		if (n <= 0) {
			cr_expect_gt(n, 0, "%s: no slow %s for client %s%s%s", what, cmd, client,
				     srv ? " at " : "", srv ? srv : "");
			fails++;
			continue;
		}
		if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
			double want = sqlite3_column_double(st, 7);
			char q[512];
			snprintf(q, sizeof(q),
				 "SELECT count(*) FROM replies t JOIN sessions s ON s.id = "
				 "t.session_id WHERE s.client = ?1 AND t.command = ?3 AND "
				 "(?8 IS NULL OR s.server = ?8) AND abs(t.latency_ms - %f) <= %f",
				 want, want * 0.02);
			int m = scalar_int(h, q, client, NULL, cmd, NULL, NULL, NULL, NULL, srv);
			cr_expect_gt(m, 0, "%s: %s latency of %s not within 2%% of %.1f ms", what, cmd,
				     client, want);
			fails += m <= 0;
		}
		const char *guess = col(st, 9);
		if (guess) {
			/* inside TLS: the command mxlag guessed, in the table and the report */
			int m = scalar_int(h,
			                   "SELECT count(*) FROM transactions t JOIN sessions s ON "
			                   "s.id = t.session_id WHERE s.client = ?1 AND t.command = ?3 "
			                   "AND t.guess IS ?4 AND t.latency_ms >= 1000",
			                   client, NULL, cmd, guess[0] ? guess : NULL, NULL, NULL, NULL,
			                   NULL);
			int j = scalar_int(h,
			                   "SELECT count(*) FROM json_each(readfile_report()) r "
			                   "WHERE json_extract(r.value, '$.client') = ?1 "
			                   "AND json_extract(r.value, '$.command') = ?3 "
			                   "AND json_extract(r.value, '$.guess') IS ?4",
			                   client, NULL, cmd, guess[0] ? guess : NULL, NULL, NULL, NULL,
			                   NULL);
			cr_expect(m > 0 && j > 0, "%s: slow %s of %s: guess '%s' not in the table (%d) "
			                          "or the report (%d)",
			          what, cmd, client, guess, m, j);
			fails += m <= 0 || j <= 0;
		}
		if (!kind)
			continue;
		n = scalar_int(h, Q_CAUSE, client, proto, cmd, kind, rel, qname, outc, srv);
		cr_expect_gt(n, 0, "%s: %s of %s: no stored cause kind=%s relation=%s qname=%s "
				   "outcome=%s",
			     what, cmd, client, kind, rel ? rel : "*", qname ? qname : "*",
			     outc ? outc : "*");
		fails += n <= 0;
		n = scalar_int(h, Q_REPORT_CAUSE, client, proto, cmd, kind, rel, qname, outc, srv);
		cr_expect_gt(n, 0, "%s: %s of %s: JSON report lacks cause kind=%s relation=%s "
				   "qname=%s outcome=%s",
			     what, cmd, client, kind, rel ? rel : "*", qname ? qname : "*",
			     outc ? outc : "*");
		fails += n <= 0;
	}
	sqlite3_finalize(st);

	/* slow replies whose causes are exactly the listed ones */
	cr_assert_eq(sqlite3_prepare_v2(h, Q_TRUTH_EXACT, -1, &st, NULL), SQLITE_OK, "%s",
		     sqlite3_errmsg(h));
	sqlite3_bind_text(st, 1, truth, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *client = col(st, 0), *proto = col(st, 1), *cmd = col(st, 2);
		const char *list = col(st, 3), *srv = col(st, 4);
		if (!list)
			list = "[]";
		int n = scalar_int(h, Q_CAUSE_UNLISTED, client, proto, cmd, list, NULL, NULL, NULL,
				   srv);
		cr_expect_eq(n, 0, "%s: %s of %s%s%s: %d stored causes besides %s", what, cmd,
			     client, srv ? " at " : "", srv ? srv : "", n, list);
		fails += n != 0;
		n = scalar_int(h, Q_REPORT_UNLISTED, client, proto, cmd, list, NULL, NULL, NULL,
			       srv);
		cr_expect_eq(n, 0, "%s: %s of %s%s%s: %d causes in the JSON report besides %s",
			     what, cmd, client, srv ? " at " : "", srv ? srv : "", n, list);
		fails += n != 0;
	}
	sqlite3_finalize(st);

	/* clients with nothing slow */
	cr_assert_eq(sqlite3_prepare_v2(h, Q_TRUTH_QUIET, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, truth, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		/* the session's own port when the truth gives it: one client
		   may have a slow session beside a quiet one */
		const char *srv = col(st, 2), *port = col(st, 3);
		int n = scalar_int(h,
				   "SELECT count(*) FROM transactions t JOIN sessions s ON s.id = "
				   "t.session_id WHERE s.client = ?1 AND (?2 IS NULL OR s.protocol "
				   "= ?2) AND (?3 IS NULL OR s.client_port = ?3) AND (?8 IS NULL OR "
				   "s.server = ?8) AND t.latency_ms >= 1000",
				   col(st, 0), col(st, 1), port, NULL, NULL, NULL, NULL, srv);
		int m = scalar_int(h,
				   "SELECT count(*) FROM sessions WHERE client = ?1 AND "
				   "(?3 IS NULL OR client_port = ?3) AND (?8 IS NULL OR server = ?8)",
				   col(st, 0), NULL, port, NULL, NULL, NULL, NULL, srv);
		cr_expect_eq(n, 0, "%s: client %s should have no slow reply", what, col(st, 0));
		cr_expect_gt(m, 0, "%s: no session of client %s", what, col(st, 0));
		fails += n != 0 || m <= 0;
	}
	sqlite3_finalize(st);

	/* dns and ident statements */
	static const char Q_DNS[] =
		"SELECT json_extract(d.value,'$.qname'), json_extract(d.value,'$.outcome') "
		"FROM json_each(?1,'$.dns') d";
	cr_assert_eq(sqlite3_prepare_v2(h, Q_DNS, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, truth, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int n = scalar_int(h,
				   "SELECT count(*) FROM dns_queries WHERE qname = ?1 AND "
				   "(?2 IS NULL OR outcome = ?2)",
				   col(st, 0), col(st, 1), NULL, NULL, NULL, NULL, NULL, NULL);
		cr_expect_gt(n, 0, "%s: no DNS query %s with outcome %s", what, col(st, 0),
			     col(st, 1));
		fails += n <= 0;
	}
	sqlite3_finalize(st);
	static const char Q_IDENT[] =
		"SELECT json_extract(d.value,'$.outcome') FROM json_each(?1,'$.ident') d";
	cr_assert_eq(sqlite3_prepare_v2(h, Q_IDENT, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, truth, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int n = scalar_int(h, "SELECT count(*) FROM ident_probes WHERE outcome = ?1",
				   col(st, 0), NULL, NULL, NULL, NULL, NULL, NULL, NULL);
		cr_expect_gt(n, 0, "%s: no ident probe with outcome %s", what, col(st, 0));
		fails += n <= 0;
	}
	sqlite3_finalize(st);

	/* free-form SQL statements: [query, op, value] */
	static const char Q_SQL[] = "SELECT json_extract(d.value,'$[0]'), "
				    "json_extract(d.value,'$[1]'), json_extract(d.value,'$[2]') "
				    "FROM json_each(?1,'$.sql') d";
	cr_assert_eq(sqlite3_prepare_v2(h, Q_SQL, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, truth, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *q = col(st, 0), *op = col(st, 1);
		double want = sqlite3_column_double(st, 2);
		sqlite3_stmt *qs;
		double got = NAN;
		if (sqlite3_prepare_v2(h, q, -1, &qs, NULL) == SQLITE_OK) {
			if (sqlite3_step(qs) == SQLITE_ROW)
				got = sqlite3_column_double(qs, 0);
			sqlite3_finalize(qs);
		}
		int ok = strcmp(op, "=") == 0    ? got == want
			 : strcmp(op, ">=") == 0 ? got >= want
			 : strcmp(op, "<=") == 0 ? got <= want
			 : strcmp(op, ">") == 0  ? got > want
			 : strcmp(op, "<") == 0  ? got < want
						 : 0;
		cr_expect(ok, "%s: %s: got %g, want %s %g", what, q, got, op, want);
		fails += !ok;
	}
	sqlite3_finalize(st);

	/* secrets never stored or printed */
	int leaks = scalar_int(h,
			       "SELECT count(*) FROM replies WHERE command IN ('PASS') AND "
			       "argument <> '***'",
			       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	cr_expect_eq(leaks, 0, "%s: a PASS argument was stored", what);
	fails += leaks != 0;

	sqlite3_close(h);
	report_json = NULL;
	free(json);
	return fails;
}

/*
 * The truth's "hosts" (a capture of several mail hosts, e.g. a mirror port)
 * as analyze options: " --host A --host B".  Returns false when there are
 * none; a malformed list is a failed check.
 */
static bool
host_opts(const char *truth, char *opts, size_t n, int *fails)
{
	sqlite3 *m;
	sqlite3_stmt *st;
	bool any = false;
	opts[0] = '\0';
	cr_assert_eq(sqlite3_open(":memory:", &m), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(m, "SELECT value FROM json_each(?1,'$.hosts')", -1, &st,
					NULL),
		     SQLITE_OK);
	sqlite3_bind_text(st, 1, truth, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *a = col(st, 0);
		size_t l = strlen(opts);
		bool ok = a && *a && strspn(a, "0123456789abcdefABCDEF.:/,") == strlen(a) &&
			  l + strlen(a) + 9 < n;
		cr_expect(ok, "truth: bad host %s", a ? a : "(null)");
		if (!ok) {
			(*fails)++;
			continue;
		}
		snprintf(opts + l, n - l, " --host %s", a);
		any = true;
	}
	sqlite3_finalize(st);
	sqlite3_close(m);
	return any;
}

int
e2e_check_truth(const char *pcap, const char *truth_path, const char *dir)
{
	char db[600];
	char *truth = e2e_slurp(truth_path);
	cr_assert_not_null(truth, "cannot read %s", truth_path);
	snprintf(db, sizeof(db), "%s/mxlag.db", dir);
	/* learned hosts */
	int fails = check_db(pcap, truth, db, "", pcap);
	/* and, when the truth names the hosts, the same checks with --host */
	char opts[1024];
	if (host_opts(truth, opts, sizeof(opts), &fails)) {
		char what[1700];
		static const char *const ext[] = {"", "-wal", "-shm"};
		for (int e = 0; e < 3; e++) {
			snprintf(db, sizeof(db), "%s/mxlag-hosts.db%s", dir, ext[e]);
			unlink(db);
		}
		snprintf(db, sizeof(db), "%s/mxlag-hosts.db", dir);
		snprintf(what, sizeof(what), "%s (analyze%s)", pcap, opts);
		fails += check_db(pcap, truth, db, opts, what);
	}
	free(truth);
	return fails;
}
