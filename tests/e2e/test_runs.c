/*
 * test_runs.c - the database over its life, through the real binary (issue
 * 13): `mxlag runs` lists runs with their state (finished, running with
 * the writer's pid, unfinished after SIGKILL); `mxlag runs delete ID`
 * removes a run and every row with its run_id (checked on every table that
 * has the column, found in the schema), unfinished runs included, and the
 * same capture can then be analyzed again.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../support/e2e.h"

static char bin[512], gen[512];
static char *dir;

static void
setup(void)
{
	e2e_bin("mxlag", bin, sizeof(bin));
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	dir = e2e_tmpdir();
	cr_assert_not_null(dir);
}

static void
teardown(void)
{
	e2e_rmdir(dir);
}

TestSuite(runs, .init = setup, .fini = teardown);

/* mxlag-gen scenario NAME into dir/NAME.pcap */
static void
scenario(const char *name, char *path, size_t n)
{
	char *out = NULL;
	snprintf(path, n, "%s/%s.pcap", dir, name);
	int rc = e2e_sh(&out, "'%s' scenario %s -o '%s' 2>&1", gen, name, path);
	cr_assert_eq(rc, 0, "mxlag-gen: %s", out);
	free(out);
}

/* rows whose run_id names no run, over every table with a run_id column */
static long
orphans(const char *db)
{
	char *tables = NULL;
	int rc = e2e_sh(&tables,
	                "sqlite3 '%s' \"SELECT m.name FROM sqlite_schema m, "
	                "pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = "
	                "'run_id'\"",
	                db);
	cr_assert_eq(rc, 0);
	cr_assert(tables && strstr(tables, "session_rows") && strstr(tables, "causes") &&
	              strstr(tables, "latency_hist"),
	          "tables with run_id: %s", tables ? tables : "");
	long total = 0;
	char *save = NULL;
	for (char *t = strtok_r(tables, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
		char sql[256];
		snprintf(sql, sizeof(sql),
		         "SELECT count(*) FROM %s WHERE run_id IS NULL OR run_id NOT IN "
		         "(SELECT id FROM runs)",
		         t);
		long n = e2e_sql_long(db, sql);
		cr_expect_eq(n, 0, "%ld orphan rows in %s", n, t);
		total += n;
	}
	free(tables);
	return total;
}

static int
mx(char **out, const char *args)
{
	return e2e_sh(out, "cd '%s' && '%s' %s 2>&1", dir, bin, args);
}

Test(runs, list_delete_and_analyze_again, .timeout = 120)
{
	char a[600], b[600], db[600];
	char *out = NULL;
	scenario("ptr-timeout", a, sizeof(a));
	scenario("pop3-self-ptr", b, sizeof(b));
	snprintf(db, sizeof(db), "%s/mxlag.db", dir);

	cr_assert_eq(mx(&out, "analyze --quiet ptr-timeout.pcap"), 0, "%s", out);
	free(out);
	cr_assert_eq(mx(&out, "analyze --quiet pop3-self-ptr.pcap"), 0, "%s", out);
	free(out);
	long s1 = e2e_sql_long(db, "SELECT count(*) FROM sessions WHERE run_id = 1");
	long s2 = e2e_sql_long(db, "SELECT count(*) FROM sessions WHERE run_id = 2");
	cr_assert_gt(s1, 0);
	cr_assert_gt(s2, 0);
	cr_assert_gt(e2e_sql_long(db, "SELECT count(*) FROM causes WHERE run_id = 1"), 0);

	/* text: both runs finished, times in TZ's zone (UTC here), the source */
	cr_assert_eq(mx(&out, "runs"), 0, "%s", out);
	cr_expect(strstr(out, "runs, times UTC") != NULL, "%s", out);
	cr_expect(strstr(out, "1     finished   2026-01-01 00:00:01") != NULL, "%s", out);
	cr_expect(strstr(out, "ptr-timeout.pcap") && strstr(out, "pop3-self-ptr.pcap"), "%s",
	          out);
	free(out);
	cr_assert_eq(mx(&out, "runs --tz Europe/Berlin"), 0, "%s", out);
	cr_expect(strstr(out, "1     finished   2026-01-01 01:00:01") != NULL, "%s", out);
	free(out);
	/* json: one object per run, sessions counted */
	char expect[128];
	cr_assert_eq(mx(&out, "runs --format json"), 0, "%s", out);
	snprintf(expect, sizeof(expect), "\"id\":1,\"state\":\"finished\",\"pid\":null");
	cr_expect(strstr(out, expect) != NULL, "%s", out);
	snprintf(expect, sizeof(expect), "\"sessions\":%ld", s2);
	cr_expect(strstr(out, expect) != NULL, "%s", out);
	free(out);
	cr_assert_eq(mx(&out, "runs --format csv"), 0, "%s", out);
	cr_expect(strncmp(out, "id,state,pid,source,first_ts,last_ts,", 37) == 0, "%s", out);
	free(out);

	/* refused as a duplicate, then deleted, then analyzed again */
	cr_expect_eq(mx(&out, "analyze --quiet ptr-timeout.pcap"), 3, "%s", out);
	free(out);
	cr_assert_eq(mx(&out, "runs delete 1"), 0, "%s", out);
	cr_expect(strstr(out, "run 1 deleted") != NULL, "%s", out);
	free(out);
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM runs WHERE id = 1"), 0);
	cr_expect_eq(orphans(db), 0);
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM sessions WHERE run_id = 1"), 0);
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM sessions WHERE run_id = 2"), s2,
	             "the other run keeps its rows");
	cr_assert_eq(mx(&out, "analyze --quiet ptr-timeout.pcap"), 0, "analyzed again: %s", out);
	free(out);
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM sessions WHERE run_id = 3"), s1);
	cr_expect_eq(orphans(db), 0);
	cr_assert_eq(mx(&out, "report --format json slow"), 0, "%s", out);
	cr_expect(strstr(out, "200.2.0.192.in-addr.arpa") != NULL, "%s", out);
	free(out);

	/* usage and missing runs */
	cr_expect_eq(mx(&out, "runs delete 99"), 1, "%s", out);
	cr_expect(strstr(out, "no run 99") != NULL, "%s", out);
	free(out);
	cr_expect_eq(mx(&out, "runs delete x"), 2, "%s", out);
	free(out);
	cr_expect_eq(mx(&out, "runs frobnicate"), 2, "%s", out);
	free(out);
	cr_expect_eq(mx(&out, "runs --format html"), 2, "%s", out);
	free(out);
}

/* The writer's pid from `mxlag runs --format csv` (state running), or 0. */
static long
running_pid(void)
{
	char *out = NULL;
	long pid = 0;
	if (mx(&out, "runs --format csv") == 0 && out) {
		char *p = strstr(out, ",running,");
		if (p)
			pid = atol(p + strlen(",running,"));
	}
	free(out);
	return pid;
}

Test(runs, running_then_unfinished_after_sigkill_then_deleted, .timeout = 120)
{
	char a[600], db[600];
	char *out = NULL;
	scenario("ptr-timeout", a, sizeof(a));
	snprintf(db, sizeof(db), "%s/mxlag.db", dir);
	cr_assert_eq(mx(&out, "analyze --quiet ptr-timeout.pcap"), 0, "%s", out);
	free(out);

	/* a writer that stays: its standard input is a capture that does not end
	 * (big enough to get past the reader's buffers) */
	pid_t sh = e2e_held_writer(dir, bin, gen);
	long pid = 0;
	for (double t0 = e2e_now_s(); e2e_now_s() - t0 < 30 && !(pid = running_pid());)
		usleep(100000);
	cr_assert_gt(pid, 0, "run 2 shown running");
	/* the whole command line, its NUL separators made spaces (under valgrind
	   the first word is valgrind's) */
	char *cmdline = NULL;
	e2e_sh(&cmdline, "tr '\\0' ' ' < /proc/%ld/cmdline", pid);
	cr_expect(cmdline && strstr(cmdline, "mxlag"), "pid %ld is the writer: %s", pid,
	          cmdline ? cmdline : "");
	free(cmdline);
	cr_assert_eq(mx(&out, "runs"), 0, "%s", out);
	cr_expect(strstr(out, "2     running") != NULL, "%s", out);
	cr_expect(strstr(out, "analyze --quiet -") != NULL, "names the command: %s", out);
	free(out);
	/* a running run is not deleted */
	cr_expect_eq(mx(&out, "runs delete 2"), 1, "%s", out);
	cr_expect(strstr(out, "is running") != NULL, "%s", out);
	free(out);

	kill((pid_t)pid, SIGKILL);
	kill(-sh, SIGKILL);
	waitpid(sh, NULL, 0);
	/* the writer is not our child: wait until the kernel has ended it */
	for (double t0 = e2e_now_s(); e2e_now_s() - t0 < 10 && running_pid();)
		usleep(50000);
	cr_assert_eq(mx(&out, "runs --format csv"), 0, "%s", out);
	cr_expect(strstr(out, "\n2,unfinished,,") != NULL, "died: %s", out);
	free(out);
	cr_assert_eq(mx(&out, "runs delete 2"), 0, "%s", out);
	free(out);
	cr_expect_eq(orphans(db), 0);
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM runs"), 1);

	/* a file run whose writer died (what SIGKILL leaves: finished NULL) is
	 * refused as unfinished; deleted, the file is analyzed again */
	cr_assert_eq(e2e_sh(NULL, "sqlite3 '%s' 'UPDATE runs SET finished = NULL WHERE id = 1'", db),
	             0);
	cr_expect_eq(mx(&out, "analyze --quiet ptr-timeout.pcap"), 3, "%s", out);
	cr_expect(strstr(out, "unfinished") != NULL, "%s", out);
	free(out);
	cr_assert_eq(mx(&out, "runs --format csv"), 0, "%s", out);
	cr_expect(strstr(out, "\n1,unfinished,,") != NULL, "%s", out);
	free(out);
	cr_assert_eq(mx(&out, "runs delete 1"), 0, "%s", out);
	free(out);
	cr_expect_eq(orphans(db), 0);
	cr_assert_eq(mx(&out, "analyze --quiet ptr-timeout.pcap"), 0, "%s", out);
	free(out);
	cr_expect_gt(e2e_sql_long(db, "SELECT count(*) FROM sessions"), 0);
}

static double
file_bytes(const char *db)
{
	char wal[700];
	struct stat st;
	double n = 0;
	if (stat(db, &st) == 0)
		n += (double)st.st_size;
	snprintf(wal, sizeof(wal), "%s-wal", db);
	if (stat(wal, &st) == 0)
		n += (double)st.st_size;
	return n;
}

/*
 * prune --older-than 30d on a database of three runs: generated traffic of
 * 2026-01-01 (all older: the run goes), the real captures of 2026-11-23
 * (kept whole while they are younger than 30 days), and a run of both (partly
 * pruned: it keeps its row and fingerprint).
 */
Test(runs, prune_deletes_the_old_rows_and_gives_space_back, .timeout = 180)
{
	const char *shared = e2e_shared();
	if (!shared) {
		cr_log_info("../shared/captures not there: prune test skipped");
		return;
	}
	char db[600], cmd[3000], a[600];
	char *out = NULL;
	snprintf(db, sizeof(db), "%s/mxlag.db", dir);
	/* the real captures' packets are of 2026-11-23: younger than 30 days
	 * only until 2026-12-23; later the test asks for what its times need */
	time_t now = time(NULL);
	double shared_ts = 1795416482.0; /* healthy-baseline.pcap's first packet */
	double days = (double)(now - (time_t)shared_ts) / 86400.0 + 2;
	double gen_days = (double)(now - (time_t)1767225601) / 86400.0;
	if (gen_days - days < 2) {
		cr_log_info("clock before the captures' times: prune test skipped");
		return;
	}
	char older[32];
	snprintf(older, sizeof(older), "%.0fd", days);

	scenario("ptr-timeout", a, sizeof(a));
	cr_assert_eq(e2e_sh(&out, "cd '%s' && '%s' traffic --profile light --seconds 20 -o "
	                    "light.pcap --truth light.tsv 2>&1", dir, gen), 0, "%s", out);
	free(out);
	cr_assert_eq(mx(&out, "analyze --quiet light.pcap"), 0, "%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "analyze --quiet '%s/captures/healthy-baseline.pcap' "
	         "'%s/captures/smtp-ident-timeout.pcap'", shared, shared);
	cr_assert_eq(mx(&out, cmd), 0, "%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "analyze --quiet ptr-timeout.pcap "
	         "'%s/captures/smtp-ptr-timeout.pcap'", shared);
	cr_assert_eq(mx(&out, cmd), 0, "%s", out);
	free(out);
	cr_expect_eq(e2e_sql_long(db, "PRAGMA auto_vacuum"), 2, "a new database is INCREMENTAL");
	long s2 = e2e_sql_long(db, "SELECT count(*) FROM sessions WHERE run_id = 2");
	long s3 = e2e_sql_long(db, "SELECT count(*) FROM sessions WHERE run_id = 3");
	long d2 = e2e_sql_long(db, "SELECT count(*) FROM dns_queries WHERE run_id = 2");
	cr_assert_gt(e2e_sql_long(db, "SELECT count(*) FROM sessions WHERE run_id = 1"), 500);
	cr_assert_eq(s3, 2);
	double before = file_bytes(db);

	snprintf(cmd, sizeof(cmd), "prune --older-than %s", older);
	cr_assert_eq(mx(&out, cmd), 0, "%s", out);
	cr_expect(strstr(out, "pruned what happened before") && strstr(out, " 1 runs"), "%s",
	          out);
	free(out);
	double after = file_bytes(db);
	cr_expect_lt(after, before / 3, "the file shrinks: %.0f -> %.0f bytes", before, after);

	double cutoff = (double)now - days * 86400;
	snprintf(cmd, sizeof(cmd),
	         "SELECT (SELECT count(*) FROM sessions WHERE coalesce(start, syn) < %.0f - 60) + "
	         "(SELECT count(*) FROM latency_hist WHERE minute < %.0f - 60)",
	         cutoff, cutoff);
	cr_expect_eq(e2e_sql_long(db, cmd), 0, "nothing older is left");
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM runs WHERE id = 1"), 0, "emptied run gone");
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM sessions WHERE run_id = 2"), s2);
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM dns_queries WHERE run_id = 2"), d2);
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM sessions WHERE run_id = 3"), 1);
	cr_expect_eq(orphans(db), 0);
	/* the dictionaries (version 10): every name and address a row uses is
	   there, and those only the pruned rows used are gone */
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM dns_rows WHERE qname NOT IN (SELECT id"
	                          " FROM names) OR answer NOT IN (SELECT id FROM names) OR client NOT IN"
	                          " (SELECT id FROM addrs) OR server NOT IN (SELECT id FROM addrs)"),
	             0);
	snprintf(cmd, sizeof(cmd),
	         "SELECT count(*) FROM names WHERE id NOT IN (SELECT qname FROM dns_rows WHERE"
	         " qname IS NOT NULL UNION SELECT answer FROM dns_rows WHERE answer IS NOT NULL)"
	         " AND last_minute < %.0f - 3660",
	         cutoff);
	cr_expect_eq(e2e_sql_long(db, cmd), 0, "unused names pruned");
	cr_expect_gt(e2e_sql_long(db, "SELECT count(*) FROM names"), 0);
	/* the blocks of dns_rows (schema 15): every row left lies in its block's
	   span, which is exactly its rows' again, and no block is left empty */
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM dns_rows AS d WHERE ts_ns IS NOT NULL"
	                          " AND NOT EXISTS (SELECT 1 FROM dns_blocks WHERE blk = d.id >> 10"
	                          " AND d.ts_ns BETWEEN ts_min_ns AND ts_max_ns)"),
	             0);
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM dns_blocks AS b WHERE ts_min_ns IS NOT"
	                          " (SELECT min(ts_ns) FROM dns_rows WHERE id >> 10 = b.blk) OR"
	                          " ts_max_ns IS NOT (SELECT max(ts_ns) FROM dns_rows WHERE"
	                          " id >> 10 = b.blk)"),
	             0);
	cr_expect_gt(e2e_sql_long(db, "SELECT count(*) FROM dns_blocks"), 0);
	/* the same for the blocks of session_rows (schema 18) */
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM session_rows AS r WHERE"
	                          " coalesce(start, syn) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM"
	                          " session_blocks WHERE blk = r.id >> 10"
	                          " AND coalesce(r.start, r.syn) BETWEEN t_min AND t_max)"),
	             0);
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM session_blocks AS b WHERE t_min IS NOT"
	                          " (SELECT min(coalesce(start, syn)) FROM session_rows"
	                          " WHERE id >> 10 = b.blk) OR t_max IS NOT (SELECT"
	                          " max(coalesce(start, syn)) FROM session_rows WHERE id >> 10 = b.blk)"),
	             0);
	cr_expect_gt(e2e_sql_long(db, "SELECT count(*) FROM session_blocks"), 0);
	/* no session began before the (minute of the) cutoff: no block either */
	snprintf(cmd, sizeof(cmd), "SELECT count(*) FROM session_blocks WHERE t_min < %lld",
	         (long long)(cutoff / 60) * 60);
	cr_expect_eq(e2e_sql_long(db, cmd), 0, "blocks of pruned sessions");
	/* the per-minute counts still equal the rows (kept DNS queries recounted) */
	cr_expect_eq(e2e_count_mismatches(db), 0);
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM transactions WHERE session_id NOT IN "
	                          "(SELECT id FROM sessions)"), 0);
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM causes WHERE transaction_id NOT IN "
	                          "(SELECT id FROM transactions) OR (dns_query_id IS NOT NULL AND "
	                          "dns_query_id NOT IN (SELECT id FROM dns_queries)) OR "
	                          "(ident_probe_id IS NOT NULL AND ident_probe_id NOT IN "
	                          "(SELECT id FROM ident_probes))"), 0);
	cr_expect(e2e_sh(&out, "sqlite3 '%s' 'PRAGMA integrity_check'", db) == 0 && out &&
	              strcmp(out, "ok\n") == 0, "%s", out ? out : "");
	free(out);
	/* the reports still work, on what is left */
	cr_expect_eq(mx(&out, "report summary"), 0, "%s", out);
	free(out);
	cr_expect_eq(mx(&out, "report --format json slow"), 0, "%s", out);
	cr_expect(strstr(out, "smtp-ptr") || strstr(out, "\"client-ptr\""), "%s", out);
	free(out);
	/* the partly pruned run keeps its fingerprint: its files are refused */
	snprintf(cmd, sizeof(cmd), "analyze --quiet ptr-timeout.pcap "
	         "'%s/captures/smtp-ptr-timeout.pcap'", shared);
	cr_expect_eq(mx(&out, cmd), 3, "%s", out);
	free(out);
	/* a second prune finds nothing more */
	snprintf(cmd, sizeof(cmd), "prune --older-than %s", older);
	cr_expect_eq(mx(&out, cmd), 0, "%s", out);
	cr_expect(strstr(out, ": 0 sessions,") != NULL, "%s", out);
	free(out);
	cr_expect_eq(mx(&out, "prune --older-than 3x"), 2, "%s", out);
	free(out);
	cr_expect_eq(mx(&out, "prune"), 2, "%s", out);
	free(out);
}

/* An older database (auto_vacuum off): prune VACUUMs it once and says so. */
Test(runs, prune_vacuums_an_older_database_once, .timeout = 120)
{
	char db[600];
	char *out = NULL;
	const char *src = getenv("MXLAG_SRC");
	cr_assert_not_null(src);
	snprintf(db, sizeof(db), "%s/mxlag.db", dir);
	cr_assert_eq(e2e_sh(NULL, "cp '%s/tests/fixtures/v4-release.db' '%s'", src, db), 0);
	cr_assert_eq(e2e_sql_long(db, "PRAGMA auto_vacuum"), 0);
	cr_assert_eq(mx(&out, "prune --older-than 1d"), 0, "%s", out);
	cr_expect(strstr(out, "had no auto_vacuum: VACUUMed once") != NULL, "%s", out);
	free(out);
	cr_expect_eq(e2e_sql_long(db, "PRAGMA auto_vacuum"), 2);
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM sessions"), 0);
	cr_expect_eq(orphans(db), 0);
	cr_assert_eq(mx(&out, "prune --older-than 1d"), 0, "%s", out);
	cr_expect(strstr(out, "VACUUM") == NULL, "once only: %s", out);
	free(out);
	cr_expect_eq(mx(&out, "report summary"), 0, "%s", out);
	free(out);
}

/* capture --retain: the capture prunes its database as it starts (then
 * hourly), beside its own writer, and keeps its own run. */
Test(runs, capture_retain_prunes_beside_the_capture, .timeout = 120)
{
	if (geteuid() != 0) {
		cr_log_info("not root: capture --retain is not tried");
		return;
	}
	char a[600], db[600];
	char *out = NULL;
	scenario("ptr-timeout", a, sizeof(a));
	snprintf(db, sizeof(db), "%s/mxlag.db", dir);
	cr_assert_eq(mx(&out, "analyze --quiet ptr-timeout.pcap"), 0, "%s", out);
	free(out);
	cr_assert_eq(mx(&out, "capture -i lo --duration 2 --retain 30d"), 0, "%s", out);
	cr_expect(strstr(out, "--retain: pruned 1 sessions") != NULL, "%s", out);
	free(out);
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM runs WHERE id = 1"), 0, "old run pruned");
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM runs WHERE id = 2 AND finished IS NOT NULL "
	                          "AND source = 'live:lo'"),
	             1, "the capture's run kept and finished");
	cr_expect_eq(orphans(db), 0);
	cr_expect_eq(mx(&out, "analyze --retain 1d ptr-timeout.pcap"), 2, "%s", out);
	free(out);
	cr_expect_eq(mx(&out, "capture -i lo --retain 3x"), 2, "%s", out);
	free(out);
}
