/*
 * test_incidents.c - `report incidents` and the summary's cause counts on
 * dense generated traffic (mxlag-gen traffic, one host with every incident
 * kind, and a mirror port of five hosts), checked against counts made here
 * over the causes table, independently of the report queries:
 *   - summary slow_by_cause and top_diagnoses: a reply counts under each of
 *     its causes;
 *   - incidents: every (slow reply, cause signature) pair is counted once,
 *     the replies, sessions, clients and total wait of each incident are
 *     those of its pairs;
 *   - the reverse zone of a client-ptr incident is the /24 of the clients
 *     of its example sessions;
 *   - --limit, --since/--until and --client select what they say.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../schema/sqlfn.h"
#include "../support/e2e.h"

static char *dir;
static char mx[512];

static void
setup(void)
{
	dir = e2e_tmpdir();
	cr_assert_not_null(dir);
	e2e_bin("mxlag", mx, sizeof(mx));
}

static void
teardown(void)
{
	e2e_rmdir(dir);
}

TestSuite(incidents, .init = setup, .fini = teardown, .timeout = 600);

/* generates PROFILE traffic (60 s) and analyzes it into dir/NAME.db */
static void
make_db(const char *profile, const char *name)
{
	char gen[512];
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	cr_assert_eq(e2e_sh(NULL, "'%s' traffic --profile %s --seconds 60 -q -o '%s/%s.pcap'", gen,
	                    profile, dir, name),
	             0);
	cr_assert_eq(e2e_sh(NULL, "'%s' analyze --quiet --db '%s/%s.db' '%s/%s.pcap' 2>&1", mx, dir,
	                    name, dir, name),
	             0);
}

static sqlite3 *
open_db(const char *name)
{
	char path[600];
	sqlite3 *db;
	snprintf(path, sizeof(path), "%s/%s.db", dir, name);
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlfn_register(db), SQLITE_OK);
	return db;
}

/* the report's JSON output (malloc'd) */
static char *
report_json(const char *name, const char *args)
{
	char *out = NULL;
	int rc = e2e_sh(&out, "'%s' report --db '%s/%s.db' --format json %s", mx, dir, name, args);
	cr_assert_eq(rc, 0, "report %s: %s", args, out ? out : "");
	return out;
}

/* one integer from sql with text parameter ?1 (may be NULL) */
static long
q_long(sqlite3 *db, const char *sql, const char *p1, double p2)
{
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(db));
	if (p1)
		sqlite3_bind_text(st, 1, p1, -1, SQLITE_TRANSIENT);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_double(st, 2, p2);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
	long v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* a value of the JSON text j at path, as text (static buffer) */
static const char *
jx(sqlite3 *db, const char *j, const char *path)
{
	static char buf[16384];
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT json_extract(?1, ?2)", -1, &st, NULL),
	             SQLITE_OK);
	sqlite3_bind_text(st, 1, j, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	const unsigned char *v = sqlite3_column_text(st, 0);
	snprintf(buf, sizeof(buf), "%s", v ? (const char *)v : "(null)");
	sqlite3_finalize(st);
	return buf;
}

/* the length of the JSON array j */
static long
jlen(sqlite3 *db, const char *j)
{
	return q_long(db, "SELECT json_array_length(?1)", j, 0);
}

/* slow replies with a top-level cause of kind k (NULL: with none at all) */
static long
replies_with_kind(sqlite3 *db, const char *kind, double slow_ms)
{
	if (!kind)
		return q_long(db,
		              "SELECT count(*) FROM replies AS t WHERE t.latency_ms >= ?2 AND "
		              "NOT EXISTS (SELECT 1 FROM causes AS c WHERE "
		              "c.transaction_id = t.id AND c.parent_id IS NULL)",
		              NULL, slow_ms);
	return q_long(db,
	              "SELECT count(DISTINCT c.transaction_id) FROM causes AS c "
	              "JOIN transactions AS t ON t.id = c.transaction_id "
	              "WHERE c.parent_id IS NULL AND c.kind = ?1 AND t.latency_ms >= ?2",
	              kind, slow_ms);
}

static void
check_summary(const char *name, double slow_ms)
{
	sqlite3 *db = open_db(name);
	char args[64];
	snprintf(args, sizeof(args), "--slow %g summary", slow_ms);
	char *j = report_json(name, args);
	long slow =
	    q_long(db, "SELECT count(*) FROM replies WHERE latency_ms >= ?2", NULL, slow_ms);
	cr_assert_gt(slow, 0);
	cr_expect_eq(atol(jx(db, j, "$.slow")), slow);
	static const char *const kinds[] = {"dns", "ident", "none"};
	long sum = 0;
	for (int i = 0; i < 3; i++) {
		char path[64];
		snprintf(path, sizeof(path), "$.slow_by_cause.%s", kinds[i]);
		long want = replies_with_kind(db, kinds[i], slow_ms);
		cr_expect_eq(atol(jx(db, j, path)), want, "%s %s at %g ms: %s, counted %ld", name,
		             kinds[i], slow_ms, jx(db, j, path), want);
		sum += want;
	}
	long unexpl = replies_with_kind(db, NULL, slow_ms);
	cr_expect_eq(atol(jx(db, j, "$.slow_by_cause.unexplained")), unexpl);
	/* several causes per reply: the kinds add up to more than the replies */
	cr_expect_geq(sum + unexpl, slow);
	/* each listed cause: the replies with a top-level cause of that relation or kind */
	for (int i = 0; i < 5; i++) {
		char path[64];
		snprintf(path, sizeof(path), "$.top_diagnoses[%d].cause", i);
		char cause[64];
		snprintf(cause, sizeof(cause), "%s", jx(db, j, path));
		if (strcmp(cause, "(null)") == 0)
			break;
		long want = strcmp(cause, "unexplained") == 0
		                ? unexpl
		                : q_long(db,
		                         "SELECT count(DISTINCT c.transaction_id) FROM causes AS c "
		                         "JOIN transactions AS t ON t.id = c.transaction_id "
		                         "WHERE c.parent_id IS NULL AND t.latency_ms >= ?2 AND "
		                         "(c.kind = 'dns' AND c.relation = ?1 OR c.kind <> 'dns' "
		                         "AND c.kind = ?1)",
		                         cause, slow_ms);
		snprintf(path, sizeof(path), "$.top_diagnoses[%d].slow_replies", i);
		cr_expect_eq(atol(jx(db, j, path)), want, "%s cause %s: %s, counted %ld", name,
		             cause, jx(db, j, path), want);
	}
	free(j);
	sqlite3_close(db);
}

Test(incidents, summary_counts_every_cause)
{
	make_db("light", "light");
	check_summary("light", 1000);
	check_summary("light", 3000);
	make_db("mirror", "mirror");
	check_summary("mirror", 1000);
}

/*
 * The incidents counted here: every (slow reply, top-level cause) pair with
 * the signature written out again in this test (reverse zones by hand for
 * IPv4, sqlfn_zone otherwise).
 */
static const char pairs_sql[] =
    "CREATE TEMP TABLE pairs AS "
    "SELECT DISTINCT t.id AS tid, s.id AS sid, s.client, t.latency_ms, "
    " coalesce(c.kind, 'unanalyzed') AS kind, "
    " CASE c.kind WHEN 'dns' THEN c.relation WHEN 'ident' THEN 'ident' END AS relation, "
    " q.server AS resolver, CASE c.kind WHEN 'dns' THEN q.outcome WHEN 'ident' THEN i.outcome END "
    "  AS outcome, "
    " CASE WHEN c.relation IN ('client-ptr', 'self-ptr', 'dnsbl', 'client-forward') "
    "  THEN mx_zone(q.qname, c.relation) END AS zone, "
    " CASE WHEN c.kind IS NULL OR c.kind = 'none' THEN s.host END AS host, "
    " CASE WHEN c.kind IS NULL OR c.kind = 'none' THEN s.outbound ELSE 0 END AS outbound "
    "FROM replies AS t JOIN sessions AS s ON s.id = t.session_id "
    "LEFT JOIN causes AS c ON c.transaction_id = t.id AND c.parent_id IS NULL "
    "LEFT JOIN dns_queries AS q ON q.id = c.dns_query_id "
    "LEFT JOIN ident_probes AS i ON i.id = c.ident_probe_id "
    "WHERE t.latency_ms >= 1000";

static void
check_incidents(const char *name)
{
	sqlite3 *db = open_db(name);
	char *err = NULL;
	cr_assert_eq(sqlite3_exec(db, pairs_sql, NULL, NULL, &err), SQLITE_OK, "%s", err);
	char *j = report_json(name, "incidents");
	long n = jlen(db, j);
	long groups = q_long(db,
	                     "SELECT count(*) FROM (SELECT 1 FROM pairs GROUP BY kind, relation, "
	                     "resolver, outcome, zone, host, outbound)",
	                     NULL, 0);
	cr_expect_eq(n, groups, "%s: %ld incidents, %ld signatures counted", name, n, groups);
	cr_assert_gt(n, 3);
	double prev_wait = INFINITY;
	long sum = 0;
	for (long k = 0; k < n; k++) {
		char path[64], sig[8192];
		snprintf(path, sizeof(path), "$[%ld]", k);
		snprintf(sig, sizeof(sig), "%s", jx(db, j, path));
		sqlite3_stmt *st;
		cr_assert_eq(
		    sqlite3_prepare_v2(
		        db,
		        "SELECT count(DISTINCT tid), count(DISTINCT sid), count(DISTINCT client), "
		        " (SELECT sum(l) FROM (SELECT max(latency_ms) AS l FROM pairs AS p2 "
		        "  WHERE p2.kind = p.kind AND p2.relation IS p.relation "
		        "   AND p2.resolver IS p.resolver AND p2.outcome IS p.outcome "
		        "   AND p2.zone IS p.zone AND p2.host IS p.host AND p2.outbound = "
		        "p.outbound "
		        "  GROUP BY tid)) "
		        "FROM pairs AS p WHERE kind = ?1 ->> 'kind' AND relation IS ?1 ->> "
		        "'relation' "
		        " AND resolver IS ?1 ->> 'resolver' AND outcome IS ?1 ->> 'outcome' "
		        " AND zone IS ?1 ->> 'zone' AND host IS ?1 ->> 'host' "
		        " AND outbound = (?1 ->> 'outbound')",
		        -1, &st, NULL),
		    SQLITE_OK, "%s", sqlite3_errmsg(db));
		sqlite3_bind_text(st, 1, sig, -1, SQLITE_TRANSIENT);
		cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
		long replies = sqlite3_column_int64(st, 0);
		cr_expect_eq(atol(jx(db, sig, "$.slow_replies")), replies, "%s: %s", name, sig);
		cr_expect_eq(atol(jx(db, sig, "$.sessions")), sqlite3_column_int64(st, 1), "%s",
		             sig);
		cr_expect_eq(atol(jx(db, sig, "$.clients")), sqlite3_column_int64(st, 2), "%s",
		             sig);
		double wait = atof(jx(db, sig, "$.total_wait_ms"));
		cr_expect(fabs(wait - sqlite3_column_double(st, 3)) < 0.01, "%s: wait %f vs %f",
		          sig, wait, sqlite3_column_double(st, 3));
		sqlite3_finalize(st);
		cr_expect_leq(wait, prev_wait + 1e-9, "worst first");
		prev_wait = wait;
		sum += replies;
		/* a client-ptr zone is the /24 of its clients */
		if (strcmp(jx(db, sig, "$.relation"), "client-ptr") == 0 &&
		    strstr(jx(db, sig, "$.zone"), ".in-addr.arpa")) {
			char zone[128];
			snprintf(zone, sizeof(zone), "%s", jx(db, sig, "$.zone"));
			long bad =
			    q_long(db,
			           "SELECT count(*) FROM sessions AS s, json_each(?1 -> "
			           "'example_sessions') AS e WHERE s.id = e.value AND "
			           "(SELECT group_concat(x, '.') FROM (SELECT value AS x FROM "
			           "json_each('[\"' || replace(s.client, '.', '\",\"') || '\"]') "
			           "WHERE key < 3 ORDER BY key DESC)) || '.in-addr.arpa' <> ?1 "
			           "->> 'zone'",
			           sig, 0);
			cr_expect_eq(bad, 0, "%s: examples outside %s", name, zone);
		}
	}
	cr_expect_eq(sum, q_long(db,
	                         "SELECT count(*) FROM (SELECT DISTINCT tid, kind, relation, "
	                         "resolver, outcome, zone, host, outbound FROM pairs)",
	                         NULL, 0));
	free(j);
	sqlite3_close(db);
}

Test(incidents, every_cause_signature_once)
{
	make_db("light", "light");
	check_incidents("light");
	make_db("mirror", "mirror");
	check_incidents("mirror");
}

Test(incidents, limit_window_and_client)
{
	make_db("light", "light");
	sqlite3 *db = open_db("light");
	char *all = report_json("light", "incidents");
	char *two = report_json("light", "--limit 2 incidents");
	cr_expect_eq(jlen(db, two), 2);
	cr_expect_str_eq(jx(db, two, "$[1].title"), jx(db, all, "$[1].title"));
	/* a window: every incident's first and last request inside it */
	double t0 = atof(jx(db, all, "$[0].first_ts"));
	char args[160];
	snprintf(args, sizeof(args), "--since %.3f --until %.3f incidents", t0 + 10, t0 + 30);
	char *win = report_json("light", args);
	long n = jlen(db, win);
	cr_expect_gt(n, 0);
	for (long k = 0; k < n; k++) {
		char p[64];
		snprintf(p, sizeof(p), "$[%ld].first_ts", k);
		cr_expect_geq(atof(jx(db, win, p)), t0 + 10);
		snprintf(p, sizeof(p), "$[%ld].last_ts", k);
		cr_expect_lt(atof(jx(db, win, p)), t0 + 30);
	}
	/* one client: one client per incident */
	char client[64];
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(db,
	                                "SELECT s.client FROM transactions AS t JOIN sessions AS s "
	                                "ON s.id = t.session_id WHERE t.latency_ms >= 1000 "
	                                "ORDER BY t.id LIMIT 1",
	                                -1, &st, NULL),
	             SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	snprintf(client, sizeof(client), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	snprintf(args, sizeof(args), "--client %s incidents", client);
	char *one = report_json("light", args);
	n = jlen(db, one);
	cr_expect_gt(n, 0);
	for (long k = 0; k < n; k++) {
		char p[64];
		snprintf(p, sizeof(p), "$[%ld].clients", k);
		cr_expect_eq(atol(jx(db, one, p)), 1);
	}
	free(all);
	free(two);
	free(win);
	free(one);
	sqlite3_close(db);
}

Test(incidents, empty_window_text_says_none)
{
	make_db("light", "light");
	char *out = NULL;
	cr_assert_eq(e2e_sh(&out, "'%s' report --db '%s/light.db' --until 1000 incidents", mx, dir),
	             0);
	cr_expect(strstr(out, "(none)") != NULL, "%s", out);
	free(out);
	cr_assert_eq(e2e_sh(&out,
	                    "'%s' report --db '%s/light.db' --format json --until 1000 "
	                    "incidents",
	                    mx, dir),
	             0);
	cr_expect_str_eq(out, "[]\n");
	free(out);
}

/* ---- waits cut by the end of the input ---------------------------------------- */

/*
 * Copies the classic pcap src to dst: its first `count` records (0 = all),
 * every time shifted by `shift` seconds.
 */
static void
pcap_copy(const char *src, const char *dst, int count, uint32_t shift)
{
	FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
	cr_assert(in && out);
	unsigned char hdr[24], rec[16];
	cr_assert_eq(fread(hdr, 1, 24, in), 24);
	cr_assert_eq(hdr[0], 0xd4, "a little-endian microsecond pcap"); /* a1b2c3d4 LE */
	fwrite(hdr, 1, 24, out);
	for (int n = 0; (count == 0 || n < count) && fread(rec, 1, 16, in) == 16; n++) {
		uint32_t ts = (uint32_t)rec[0] | (uint32_t)rec[1] << 8 | (uint32_t)rec[2] << 16 |
		              (uint32_t)rec[3] << 24;
		uint32_t len = (uint32_t)rec[8] | (uint32_t)rec[9] << 8 | (uint32_t)rec[10] << 16 |
		               (uint32_t)rec[11] << 24;
		cr_assert_leq(len, 262144);
		ts += shift;
		for (int i = 0; i < 4; i++)
			rec[i] = (unsigned char)(ts >> (8 * i));
		unsigned char *buf = malloc(len ? len : 1);
		cr_assert_eq(fread(buf, 1, len, in), len);
		fwrite(rec, 1, 16, out);
		fwrite(buf, 1, len, out);
		free(buf);
	}
	fclose(in);
	cr_assert_eq(fclose(out), 0);
}

static void
scenario(const char *name, const char *pcap)
{
	char gen[512];
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	cr_assert_eq(e2e_sh(NULL, "'%s' scenario %s -q -o '%s'", gen, name, pcap), 0);
}

/* an hourly file ends while the greeting waits on an unanswered PTR lookup */
Test(incidents, wait_cut_by_the_end_of_a_file_keeps_its_cause)
{
	char whole[600], cut[600];
	snprintf(whole, sizeof(whole), "%s/pt.pcap", dir);
	snprintf(cut, sizeof(cut), "%s/cut.pcap", dir);
	scenario("ptr-timeout", whole);
	/* SYN, SYN-ACK, ACK, PTR, ACK, PTR, PTR at 11.0007 s: the greeting came at 31 s */
	pcap_copy(whole, cut, 7, 0);
	cr_assert_eq(e2e_sh(NULL, "'%s' analyze --quiet --db '%s/cut.db' '%s' 2>&1", mx, dir, cut),
	             0);
	sqlite3 *db = open_db("cut");
	char *j = report_json("cut", "slow");
	cr_expect_eq(jlen(db, j), 1, "%s", j);
	cr_expect_str_eq(jx(db, j, "$[0].command"), "GREETING");
	cr_expect_str_eq(jx(db, j, "$[0].outcome"), "cut");
	/* from the handshake's end (1.00024) to the end of the input (11.00074) */
	cr_expect_str_eq(jx(db, j, "$[0].latency_ms"), "10000.5");
	cr_expect_str_eq(jx(db, j, "$[0].causes[0].relation"), "client-ptr");
	cr_expect_str_eq(jx(db, j, "$[0].causes[0].outcome"), "unanswered");
	cr_expect(strstr(jx(db, j, "$[0].diagnosis"), "The capture ended while the client was "
	                                               "still waiting (10.0 s so far)") != NULL,
	          "%s", jx(db, j, "$[0].diagnosis"));
	free(j);
	/* counted as a slow reply, not in the percentiles: at least, not exactly, that long */
	j = report_json("cut", "summary");
	cr_expect_str_eq(jx(db, j, "$.slow"), "1");
	cr_expect_str_eq(jx(db, j, "$.slow_by_cause.dns"), "1");
	cr_expect_str_eq(jx(db, j, "$.max_ms"), "(null)", "%s", j);
	cr_expect_str_eq(jx(db, j, "$.incidents[0].relation"), "client-ptr");
	free(j);
	char *out = NULL;
	cr_assert_eq(e2e_sh(&out, "'%s' report --db '%s/cut.db' slow", mx, dir), 0);
	cr_expect(strstr(out, "GREETING   10000.5 -    cut") != NULL, "%s", out);
	cr_expect(strstr(out, "below the analysis threshold") == NULL, "%s", out);
	free(out);
	sqlite3_close(db);
}

/* two files of one run with months between them: the session open at the
   end of the first is cut when its idle timeout ran out, not months later */
Test(incidents, wait_cut_before_a_gap_of_months)
{
	char a[600], b[600], a0[600], b0[600];
	snprintf(a0, sizeof(a0), "%s/sd.pcap", dir);
	snprintf(b0, sizeof(b0), "%s/pt.pcap", dir);
	snprintf(a, sizeof(a), "%s/a.pcap", dir);
	snprintf(b, sizeof(b), "%s/b.pcap", dir);
	scenario("slow-data", a0);
	scenario("ptr-timeout", b0);
	pcap_copy(a0, a, 22, 0); /* the message sent, its reply not yet */
	pcap_copy(b0, b, 0, 127u * 86400u);
	cr_assert_eq(e2e_sh(NULL, "'%s' analyze --quiet --db '%s/gap.db' '%s' '%s' 2>&1", mx, dir,
	                    a, b),
	             0);
	sqlite3 *db = open_db("gap");
	/* 600 s idle timeout after the session's last packet (1.0475 s) */
	cr_expect_eq(q_long(db,
	                    "SELECT count(*) FROM replies WHERE command = 'DATA-END' AND "
	                    "outcome = 'cut' AND latency_ms BETWEEN 600000 AND 600100",
	                    NULL, 0),
	             1);
	char *j = report_json("gap", "summary");
	/* the summary's percentiles leave the cut wait out: DATA-END's max is the other one */
	cr_expect_str_eq(jx(db, j, "$.max_ms"), "30000.0", "%s", j);
	free(j);
	sqlite3_close(db);
}
