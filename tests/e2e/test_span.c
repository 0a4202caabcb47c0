/*
 * test_span.c - a switch's mirror (SPAN) port changes no figure: every
 * generated scenario (and a workload) analyzed as written and with every
 * packet twice (mxlag-gen --span-dup: one copy 802.1Q-tagged or untagged,
 * 1-20 us apart, sometimes first, sometimes routed) gives the same rows
 * in sessions, transactions (with their latencies), dns_queries (with
 * their retransmits), ident_probes (with their SYN retransmits) and
 * causes, the same analysis counters, and exactly half the packets
 * dropped as duplicates; the span capture still passes its truth file.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/e2e.h"

static const char *const TABLES[] = {"sessions", "transactions", "dns_queries", "ident_probes",
				     "causes"};

static int64_t
scalar(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
		     sqlite3_errmsg(h));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
analyze(const char *pcap, const char *db)
{
	char bin[512], *out = NULL;
	e2e_bin("mxlag", bin, sizeof(bin));
	int rc = e2e_sh(&out, "'%s' analyze --quiet --db '%s' '%s' 2>&1", bin, db, pcap);
	cr_assert_eq(rc, 0, "mxlag analyze %s: %s", pcap, out ? out : "");
	free(out);
}

/* Compares the analysis of plain.db and span.db; returns the rows compared. */
static int64_t
same_rows(const char *what, const char *plain, const char *span)
{
	sqlite3 *h;
	char sql[1024];
	int64_t rows = 0;
	cr_assert_eq(sqlite3_open_v2(plain, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(sql, sizeof(sql), "ATTACH '%s' AS s", span);
	cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
	for (size_t i = 0; i < sizeof(TABLES) / sizeof(TABLES[0]); i++) {
		const char *t = TABLES[i];
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM main.%s", t);
		int64_t n = scalar(h, sql);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM s.%s", t);
		cr_expect_eq(scalar(h, sql), n, "%s: %s: row count", what, t);
		snprintf(sql, sizeof(sql),
			 "SELECT (SELECT count(*) FROM (SELECT * FROM main.%s EXCEPT SELECT * FROM "
			 "s.%s)) + (SELECT count(*) FROM (SELECT * FROM s.%s EXCEPT SELECT * FROM "
			 "main.%s))",
			 t, t, t, t);
		cr_expect_eq(scalar(h, sql), 0, "%s: %s: rows differ with --span-dup", what, t);
		rows += n;
	}
	/* every counter past the IP layer is the same; the link layer and the
	 * IP packet counts see both copies */
	int64_t diff = scalar(h, "SELECT count(*) FROM json_each((SELECT counters FROM main.runs)) a "
				 "JOIN json_each((SELECT counters FROM s.runs)) b USING (key) "
				 "WHERE a.value IS NOT b.value AND key NOT IN ('packets', 'bytes', "
				 "'ip.v4', 'ip.v6', 'weird.ip_payload_snapped') AND key NOT LIKE "
				 "'link.%' AND key NOT LIKE 'dup.%'");
	cr_expect_eq(diff, 0, "%s: analysis counters differ with --span-dup", what);
	int64_t pk = scalar(h, "SELECT packets FROM s.runs");
	cr_expect_eq(scalar(h, "SELECT packets FROM main.runs") * 2, pk, "%s", what);
	cr_expect_eq(scalar(h, "SELECT json_extract(counters, '$.\"dup.span_duplicates\"') "
			       "FROM s.runs"),
		     pk / 2, "%s: every copy dropped", what);
	cr_expect_eq(scalar(h, "SELECT json_extract(counters, '$.\"dup.span_duplicates\"') "
			       "FROM main.runs"),
		     0, "%s: nothing dropped without copies", what);
	sqlite3_close(h);
	return rows;
}

/* cmd: "scenario NAME" or "workload --sessions N"; returns the rows compared */
static int64_t
run_pair(const char *cmd, const char *opts, int check_truth)
{
	char gen[512], plain[600], span[600], pdb[600], sdb[600], truth[600], what[256];
	char *dir = e2e_tmpdir(), *out = NULL;
	cr_assert_not_null(dir);
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	snprintf(what, sizeof(what), "%s %s", cmd, opts);
	snprintf(plain, sizeof(plain), "%s/plain.pcap", dir);
	snprintf(span, sizeof(span), "%s/span.pcap", dir);
	snprintf(pdb, sizeof(pdb), "%s/plain.db", dir);
	snprintf(sdb, sizeof(sdb), "%s/span.db", dir);
	snprintf(truth, sizeof(truth), "%s/span.truth.json", dir);
	int rc = e2e_sh(&out, "'%s' %s %s -q -o '%s' 2>&1 && '%s' %s %s --span-dup -q -o '%s' "
			      "--truth '%s' 2>&1",
			gen, cmd, opts, plain, gen, cmd, opts, span, truth);
	cr_assert_eq(rc, 0, "mxlag-gen %s: %s", what, out ? out : "");
	free(out);
	analyze(plain, pdb);
	analyze(span, sdb);
	int64_t rows = same_rows(what, pdb, sdb);
	if (check_truth)
		cr_expect_eq(e2e_check_truth(span, truth, dir), 0, "%s --span-dup: truth", what);
	e2e_rmdir(dir);
	return rows;
}

Test(span, every_scenario_is_unchanged_by_span_duplicates, .timeout = 600)
{
	char gen[512], *out = NULL;
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	cr_assert_eq(e2e_sh(&out, "'%s' list", gen), 0);
	int n = 0;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		char name[64], cmd[100];
		if (sscanf(l, "%63s", name) != 1)
			continue;
		snprintf(cmd, sizeof(cmd), "scenario %s", name);
		cr_expect_gt(run_pair(cmd, "", 1), 0, "%s: rows to compare", name);
		n++;
	}
	free(out);
	cr_expect_geq(n, 12, "the generator lists the incidents");
}

Test(span, every_link_type, .timeout = 600)
{
	static const char *const links[] = {"vlan", "qinq", "sll", "sll2", "raw", "null"};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		char o[64];
		snprintf(o, sizeof(o), "--link %s", links[i]);
		run_pair("scenario ptr-timeout", o, 1);
		run_pair("scenario ident-timeout", o, 1);
	}
}

Test(span, with_split_reordered_and_duplicated_segments_and_pcapng, .timeout = 600)
{
	run_pair("scenario pipelining-bdat", "--segment-split --reorder --dup", 1);
	run_pair("scenario concurrent", "--dup --nanosecond", 1);
	run_pair("scenario pop3-self-ptr", "--pcapng", 1);
}

/* thousands of sessions at once: copies interleave with other traffic */
Test(span, workload, .timeout = 600)
{
	cr_expect_gt(run_pair("workload --sessions 3000", "", 0), 3000);
}
