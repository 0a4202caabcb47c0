/*
 * test_dense_checker.c - mxlag-truthcheck itself: on a capture that today's
 * mxlag diagnoses right it reports 100 % and exits 0; when the database is
 * made to say something else (another relation, another query of the same
 * name, another host's query, a cause too many, a false slow reply, a reply
 * not slow) it finds exactly those replies and exits 1; bad input exits 2.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/e2e.h"

static char *dir;
static char pcap[600], tsv[600], db[600], work[600];

/* One host, one session a second: what today's correlator gets right. */
static void
setup(void)
{
	char gen[512], bin[512], *out = NULL;

	dir = e2e_tmpdir();
	cr_assert_not_null(dir);
	snprintf(pcap, sizeof(pcap), "%s/c.pcap", dir);
	snprintf(tsv, sizeof(tsv), "%s/c.tsv", dir);
	snprintf(db, sizeof(db), "%s/c.db", dir);
	snprintf(work, sizeof(work), "%s/work.db", dir);
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	e2e_bin("mxlag", bin, sizeof(bin));
	cr_assert_eq(
	    e2e_sh(&out,
	           "'%s' traffic --seconds 300 --sessions-per-s 1 --lookups 4 --mix "
	           "client-ptr=10,ident=5,dnsbl=5,sender-domain=5,content-filter=5 --pop3 0 "
	           "--outbound 0 --ident-probe 0 --ident-refused 0 -q -o '%s' --truth '%s' "
	           "2>&1 && '%s' analyze --quiet --db '%s' '%s' 2>&1",
	           gen, pcap, tsv, bin, db, pcap),
	    0, "%s", out ? out : "");
	free(out);
}

static void
teardown(void)
{
	e2e_rmdir(dir);
}

/* A copy of the database with sql applied. */
static void
tamper(const char *sql)
{
	sqlite3 *h;
	char *err = NULL, vac[700];

	remove(work);
	cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
	snprintf(vac, sizeof(vac), "VACUUM INTO '%s'", work);
	cr_assert_eq(sqlite3_exec(h, vac, NULL, NULL, &err), SQLITE_OK, "%s", err ? err : "");
	sqlite3_close(h);
	if (!sql)
		return;
	cr_assert_eq(sqlite3_open(work, &h), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, &err), SQLITE_OK, "%s: %s", sql,
	             err ? err : "");
	/* the total: dns_queries is a view, written by its triggers (version 10) */
	cr_assert_gt(sqlite3_total_changes(h), 0, "%s changed nothing", sql);
	sqlite3_close(h);
}

static int
check(char **out, const char *opts)
{
	char chk[512];

	e2e_bin("mxlag-truthcheck", chk, sizeof(chk));
	return e2e_sh(out, "'%s' --db '%s' --truth '%s' %s 2>&1", chk, work, tsv, opts);
}

/* The numbers of one kind's line: truth found slow right %right foreign | ... */
static void
kind_line(const char *out, const char *kind, long v[13])
{
	char want[64];
	const char *p;

	snprintf(want, sizeof(want), "\n%s ", kind);
	p = strstr(out, want);
	cr_assert_not_null(p, "no line for %s in:\n%s", kind, out);
	double pct;
	cr_assert_eq(sscanf(p + strlen(want),
	                    "%ld %ld %ld %ld %lf %ld | %ld %ld %ld %ld %ld %ld %ld", &v[0], &v[1],
	                    &v[2], &v[3], &pct, &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10],
	                    &v[11]),
	             13, "%s", p);
}

enum {
	TRUTH,
	FOUND,
	SLOW,
	RIGHT,
	FOREIGN,
	NOT_FOUND,
	NOT_SLOW,
	MISSING,
	NOT_TOP,
	EXTRA,
	DIR,
	HOST
};

Test(checker, right_when_mxlag_is_right, .init = setup, .fini = teardown)
{
	char *out = NULL;
	long v[13];

	tamper(NULL);
	cr_expect_eq(
	    check(&out, "--min-right 100 --max-foreign 0 --max-false-slow 0 --unrelated-ok"), 0,
	    "%s", out);
	kind_line(out, "all", v);
	cr_expect_gt(v[TRUTH], 40);
	cr_expect_eq(v[RIGHT], v[TRUTH], "%s", out);
	kind_line(out, "client-ptr", v);
	cr_expect_gt(v[TRUTH], 10);
	cr_expect_eq(v[RIGHT], v[TRUTH]);
	kind_line(out, "sender-domain", v);
	cr_expect_eq(v[RIGHT], v[TRUTH]);
	cr_expect_not_null(
	    strstr(out, "false slow replies (slow in the database, not in the truth): 0"));
	free(out);
	/* strictly, a `none` truth wants the single cause none: mxlag names no
	   lookup that nothing ties to the session as a cause */
	cr_expect_eq(check(&out, "--min-right 100"), 0, "%s", out);
	kind_line(out, "content-filter", v);
	cr_expect_eq(v[RIGHT], v[TRUTH]);
	free(out);
}

/* What a field of a kind's line must be: a number, another field, more than a number. */
enum how { E_NONE, E_NUM, E_FIELD, E_MORE };
struct expect {
	int field;
	enum how how;
	int v;
};
#define NUM(f, n)                                                                                  \
	{                                                                                          \
		f, E_NUM, n                                                                        \
	}
#define SAME(f, g)                                                                                 \
	{                                                                                          \
		f, E_FIELD, g                                                                      \
	}
#define MORE(f, n)                                                                                 \
	{                                                                                          \
		f, E_MORE, n                                                                       \
	}

/* inline strings: Criterion copies the cases into another process */
struct tamper_case {
	char sql[320]; /* made to the copy of the database */
	char opts[32]; /* for the checker */
	int exit;      /* its status */
	char kind[32]; /* the line looked at */
	struct expect e[3];
};

ParameterizedTestParameters(checker, tampered)
{
	static struct tamper_case cases[] = {
	    /* another relation: every client-ptr reply wrong, the others not */
	    {"UPDATE causes SET relation = 'dnsbl' WHERE relation = 'client-ptr'",
	     "--min-right 99.5",
	     1,
	     "client-ptr",
	     {NUM(RIGHT, 0), SAME(MISSING, TRUTH), SAME(NOT_TOP, TRUTH)}},
	    {"UPDATE causes SET relation = 'dnsbl' WHERE relation = 'client-ptr'",
	     "--min-right 99.5",
	     1,
	     "ident",
	     {SAME(RIGHT, TRUTH)}},
	    /* the same name, another query 17 s earlier (two lookups merged) */
	    {"UPDATE dns_queries SET ts = ts - 17 WHERE id IN (SELECT dns_query_id FROM causes "
	     "WHERE relation = 'sender-domain')",
	     "--min-right 99.5",
	     1,
	     "sender-domain",
	     {NUM(RIGHT, 0), SAME(MISSING, TRUTH)}},
	    /* another host's query or probe: foreign, if otherwise right */
	    {"UPDATE dns_queries SET client = '192.0.2.11' WHERE id IN (SELECT dns_query_id FROM "
	     "causes WHERE relation = 'dnsbl')",
	     "--max-foreign 0",
	     1,
	     "dnsbl",
	     {SAME(FOREIGN, TRUTH), SAME(RIGHT, TRUTH)}},
	    {"UPDATE dns_queries SET client = '192.0.2.11' WHERE id IN (SELECT dns_query_id FROM "
	     "causes WHERE relation = 'dnsbl')",
	     "--max-foreign 0",
	     1,
	     "client-ptr",
	     {NUM(FOREIGN, 0)}},
	    {"UPDATE ident_probes SET host = '192.0.2.12' WHERE id IN (SELECT ident_probe_id FROM "
	     "causes)",
	     "--max-foreign 0",
	     1,
	     "ident",
	     {SAME(FOREIGN, TRUTH)}},
	    /* a cause too many, as large as the injected one */
	    {"INSERT INTO causes (transaction_id, kind, relation, dns_query_id, overlap_ms, share) "
	     "SELECT c.transaction_id, 'dns', 'helo', (SELECT min(id) FROM dns_queries), "
	     "c.overlap_ms, c.share FROM causes c WHERE c.relation = 'client-ptr'",
	     "--min-right 99.5",
	     1,
	     "client-ptr",
	     {NUM(RIGHT, 0), SAME(EXTRA, TRUTH)}},
	    /* under the minor share it is tolerated */
	    {"INSERT INTO causes (transaction_id, kind, relation, dns_query_id, overlap_ms, share) "
	     "SELECT c.transaction_id, 'dns', 'helo', (SELECT min(id) FROM dns_queries), 1, 0.049 "
	     "FROM causes c WHERE c.relation = 'client-ptr'",
	     "--min-right 100",
	     0,
	     "client-ptr",
	     {SAME(RIGHT, TRUTH)}},
	    /* but not on a `none` truth */
	    {"INSERT INTO causes (transaction_id, kind, relation, dns_query_id, overlap_ms, share) "
	     "SELECT t.id, 'dns', 'helo', (SELECT min(id) FROM dns_queries), 1, 0.01 "
	     "FROM transactions t WHERE t.command = 'DATA-END' AND t.latency_ms >= 1000",
	     "--min-right 99.5",
	     1,
	     "content-filter",
	     {NUM(RIGHT, 0), SAME(EXTRA, TRUTH)}},
	    /* stored under another host, with another direction: counted, not failed */
	    {"UPDATE sessions SET host = '192.0.2.99', outbound = 1 WHERE id IN (SELECT session_id "
	     "FROM transactions WHERE command = 'MAIL' AND latency_ms >= 1000)",
	     "--min-right 100",
	     0,
	     "sender-domain",
	     {SAME(HOST, TRUTH), SAME(DIR, TRUTH), SAME(RIGHT, TRUTH)}},
	    {"UPDATE sessions SET host = NULL WHERE id IN (SELECT session_id FROM transactions "
	     "WHERE command = 'MAIL' AND latency_ms >= 1000)",
	     "",
	     0,
	     "sender-domain",
	     {SAME(HOST, TRUTH), NUM(DIR, 0)}},
	    /* not slow in the database */
	    {"UPDATE transactions SET latency_ms = 900 WHERE command = 'MAIL' AND latency_ms >= "
	     "1000",
	     "--min-right 99.5",
	     1,
	     "sender-domain",
	     {SAME(NOT_SLOW, TRUTH), NUM(RIGHT, 0)}},
	    /* not there at all; no threshold given, no failure */
	    {"DELETE FROM transactions WHERE command = 'RCPT' AND latency_ms >= 1000",
	     "",
	     0,
	     "dnsbl",
	     {MORE(NOT_FOUND, 0), MORE(FOUND, 0)}},
	};
	return cr_make_param_array(struct tamper_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct tamper_case *tc, checker, tampered, .init = setup, .fini = teardown)
{
	char *out = NULL, opts[256];
	long v[13];

	tamper(tc->sql);
	snprintf(opts, sizeof(opts), "%s --unrelated-ok", tc->opts);
	cr_expect_eq(check(&out, opts), tc->exit, "%s\n%s", tc->sql, out);
	kind_line(out, tc->kind, v);
	cr_expect_gt(v[TRUTH], 0, "no %s replies in the truth", tc->kind);
	cr_expect_eq(v[FOUND] + v[NOT_FOUND], v[TRUTH]);
	for (int i = 0; i < 3 && tc->e[i].how != E_NONE; i++) {
		const struct expect *e = &tc->e[i];
		long got = v[e->field];
		if (e->how == E_MORE)
			cr_expect_gt(got, e->v, "%s: %s field %d\n%s", tc->sql, tc->kind, e->field,
			             out);
		else
			cr_expect_eq(got, e->how == E_NUM ? e->v : v[e->v], "%s: %s field %d\n%s",
			             tc->sql, tc->kind, e->field, out);
	}
	if (tc->exit == 1)
		cr_expect_not_null(strstr(out, "\nFAIL: "));
	free(out);
}

Test(checker, lists_what_was_expected_and_what_mxlag_said, .init = setup, .fini = teardown)
{
	char *out = NULL;

	tamper("UPDATE causes SET relation = 'dnsbl' WHERE relation = 'client-ptr'");
	cr_expect_eq(check(&out, "--min-right 99.5 --unrelated-ok --show 2"), 1, "%s", out);
	cr_expect_not_null(strstr(out, "first wrong replies per kind:\n[client-ptr] "), "%s", out);
	cr_expect_not_null(strstr(out, "  expected:\n    dns:client-ptr:PTR:"));
	cr_expect_not_null(strstr(out, "  mxlag said:\n    dns:dnsbl:PTR:"));
	cr_expect_not_null(strstr(out, "  wrong: missing(0-of-1-found) not-largest"));
	free(out);
}

Test(checker, false_slow_replies, .init = setup, .fini = teardown)
{
	char *out = NULL;

	/* three fast replies (compact, schema 5) stored as slow rows */
	tamper("INSERT INTO transactions (id, run_id, session_id, command, request_ts, reply_ts,"
	       " latency_ms, reply_code, outcome) SELECT id, run_id, session_id, command,"
	       " request_ts, reply_ts, 5000, reply_code, outcome FROM compact_replies"
	       " WHERE command = 'EHLO' LIMIT 3");
	cr_expect_eq(check(&out, "--max-false-slow 0 --unrelated-ok"), 1, "%s", out);
	cr_expect_not_null(
	    strstr(out, "false slow replies (slow in the database, not in the truth): 3"), "%s",
	    out);
	cr_expect_not_null(strstr(out, "first false slow replies:\n  "));
	free(out);
	cr_expect_eq(check(&out, "--max-false-slow 3 --unrelated-ok"), 0, "%s", out);
	free(out);
}

Test(checker, bad_input, .init = setup, .fini = teardown)
{
	char chk[512], *out = NULL;

	e2e_bin("mxlag-truthcheck", chk, sizeof(chk));
	cr_expect_eq(e2e_sh(&out, "'%s' --db '%s' 2>&1", chk, db), 2);
	free(out);
	cr_expect_eq(e2e_sh(&out, "'%s' --db '%s' --truth /nonexistent 2>&1", chk, db), 2);
	free(out);
	cr_expect_eq(e2e_sh(&out, "'%s' --db '%s' --truth '%s.totals' 2>&1", chk, db, tsv), 2,
	             "a totals file is not a truth file");
	free(out);
	cr_expect_eq(e2e_sh(&out, "'%s' --db /nonexistent.db --truth '%s' 2>&1", chk, tsv), 2);
	free(out);
	cr_expect_eq(e2e_sh(&out, "'%s' --db '%s' --truth '%s' --min-right x 2>&1", chk, db, tsv),
	             2);
	free(out);
}
