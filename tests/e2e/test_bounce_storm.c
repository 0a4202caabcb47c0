/*
 * test_bounce_storm.c - issue 17 end to end: mxlag-gen's bounce-storm
 * scenario (its shape in tools/bounce_storm.h) through the real binary,
 * learned hosts and --host alike:
 *   - SQL: bounce_domain, bounce_origin and bounce_session_id are set on
 *     exactly the bounce deliveries of the truth, none on the ordinary one;
 *   - report --format json incidents: one bounce-storm incident with the
 *     counts that follow from the scenario's shape, and the peak of waiting
 *     connections counted here from the sessions' times;
 *   - report outbound (JSON and text): the congestion timeline names the
 *     ordinary delivery beside the waiting bounces.
 */
#include <criterion/criterion.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/e2e.h"
#include "bounce_storm.h"

static char *dir;
static char mx[512], gen[512];
static char pcap[600], truth[600];

static void
setup(void)
{
	dir = e2e_tmpdir();
	cr_assert_not_null(dir);
	e2e_bin("mxlag", mx, sizeof(mx));
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	snprintf(pcap, sizeof(pcap), "%s/bs.pcap", dir);
	snprintf(truth, sizeof(truth), "%s/bs.truth.json", dir);
	char *out = NULL;
	int rc = e2e_sh(&out, "'%s' scenario bounce-storm -q -o '%s' --truth '%s' 2>&1", gen, pcap,
	                truth);
	cr_assert_eq(rc, 0, "mxlag-gen: %s", out ? out : "");
	free(out);
}

static void
teardown(void)
{
	e2e_rmdir(dir);
}

TestSuite(bounce_storm, .init = setup, .fini = teardown, .timeout = 600);

/* the scenario's figures, from its shape */
struct expect {
	long accepted, refused_rcpt, unanswered, refused, answered, domains, unreachable, refusing;
};

static struct expect
expected(void)
{
	struct expect e = {0};
	char seen[BS_DOMAINS] = {0};
	for (int m = 0; m < BS_MESSAGES; m++) {
		int d = BS_DOMAIN_OF(m);
		if (BS_REFUSED_AT_RCPT(m)) {
			e.refused_rcpt++;
			continue;
		}
		e.accepted++;
		if (BS_REFUSING(d))
			e.refused++;
		else if (BS_ANSWERING(d))
			e.answered++;
		else
			e.unanswered++;
		if (!seen[d]) {
			seen[d] = 1;
			e.domains++;
			e.unreachable += !BS_REFUSING(d) && !BS_ANSWERING(d);
			e.refusing += BS_REFUSING(d) != 0;
		}
	}
	return e;
}

static char *
analyze(const char *name, const char *opts)
{
	static char db[700];
	snprintf(db, sizeof(db), "%s/%s.db", dir, name);
	char *out = NULL;
	int rc = e2e_sh(&out, "'%s' analyze --quiet%s --db '%s' '%s' 2>&1", mx, opts, db, pcap);
	cr_assert_eq(rc, 0, "mxlag analyze%s: %s", opts, out ? out : "");
	free(out);
	return db;
}

static char *
report(const char *db, const char *what)
{
	char *out = NULL;
	int rc = e2e_sh(&out, "'%s' report --db '%s' %s 2>&1", mx, db, what);
	cr_assert_eq(rc, 0, "mxlag report %s: %s", what, out ? out : "");
	cr_assert_not_null(out);
	return out;
}

/* One integer from sql over the database, ?1 bound to text (or NULL). */
static long
q(sqlite3 *h, const char *sql, const char *text)
{
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(h));
	if (text)
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	long v = -1;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The peak of the host's outbound connections waiting at once, counted here. */
static long
peak_waiting(sqlite3 *h)
{
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(
	                 h,
	                 "SELECT syn, CASE WHEN outcome IN ('unanswered', 'refused') THEN \"end\""
	                 " ELSE start END FROM sessions WHERE client_is_host = 1 AND syn IS NOT NULL",
	                 -1, &st, NULL),
	             SQLITE_OK);
	double *a = NULL, *b = NULL;
	size_t n = 0, cap = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			a = realloc(a, cap * sizeof(*a));
			b = realloc(b, cap * sizeof(*b));
			cr_assert(a && b);
		}
		a[n] = sqlite3_column_double(st, 0);
		b[n++] = sqlite3_column_double(st, 1);
	}
	sqlite3_finalize(st);
	/* at each SYN: how many began at or before it and end after it */
	long peak = 0;
	for (size_t i = 0; i < n; i++) {
		long k = 0;
		for (size_t j = 0; j < n; j++)
			k += a[j] <= a[i] && b[j] > a[i];
		if (k > peak)
			peak = k;
	}
	free(a);
	free(b);
	return peak;
}

static void
check(const char *name, const char *opts)
{
	struct expect e = expected();
	char *db = analyze(name, opts);
	sqlite3 *h;
	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	char *tj = e2e_slurp(truth);
	cr_assert_not_null(tj);

	/* SQL: exactly the bounce deliveries of the truth */
	cr_expect_eq(q(h, "SELECT count(*) FROM sessions WHERE bounce_domain IS NOT NULL", NULL),
	             e.accepted, "%s: bounce deliveries", name);
	cr_expect_eq(q(h, "SELECT count(*) FROM sessions WHERE bounce_origin = '" BS_SPAMMER "'"
	                  " AND client_is_host = 1 AND bounce_session_id IS NOT NULL",
	               NULL),
	             e.accepted, "%s: bounces of the spammer", name);
	cr_expect_eq(q(h, "SELECT count(DISTINCT bounce_domain) FROM sessions", NULL), e.domains);
	cr_expect_eq(q(h, "SELECT count(*) FROM sessions WHERE server = '" BS_REMOTE_MX "'"
	                  " AND outcome = 'ok' AND bounce_domain IS NULL",
	               NULL),
	             1, "%s: the ordinary delivery is no bounce", name);
	cr_expect_eq(q(h, "SELECT count(*) FROM sessions WHERE bounce_domain IS NOT NULL"
	                  " AND client_is_host = 0",
	               NULL),
	             0, "%s: no inbound session is a bounce", name);
	/* each names an inbound session of the spammer with a MAIL from that domain */
	cr_expect_eq(q(h, "SELECT count(*) FROM sessions AS b JOIN sessions AS i"
	                  " ON i.id = b.bounce_session_id AND i.client = b.bounce_origin"
	                  " WHERE EXISTS (SELECT 1 FROM replies AS r WHERE r.session_id = i.id"
	                  " AND r.command = 'MAIL' AND r.argument LIKE '%@' || b.bounce_domain || '>')",
	               NULL),
	             e.accepted, "%s: bounce_session_id", name);
	cr_expect_eq(q(h, "SELECT count(*) FROM sessions WHERE null_sender = 1"
	                  " AND bounce_domain IS NOT NULL AND outcome = 'ok'",
	               NULL),
	             e.answered, "%s: null-sender bounces that connected", name);
	/* against the truth, session by session (client port and server) */
	cr_expect_eq(q(h, "WITH t AS MATERIALIZED (SELECT value ->> 'client' AS client,"
	                  " value ->> 'client_port' AS port, value ->> 'server' AS server,"
	                  " value ->> 'bounce_domain' AS domain, value ->> 'bounce_origin' AS origin"
	                  " FROM json_each(?1, '$.sessions'))"
	                  " SELECT count(*) FROM t JOIN sessions AS s ON s.client_port = t.port"
	                  " AND s.client = t.client AND s.server = t.server"
	                  " WHERE s.bounce_domain IS t.domain AND s.bounce_origin IS t.origin",
	               tj),
	             q(h, "SELECT json_array_length(?1, '$.sessions')", tj),
	             "%s: every truth session's bounce columns", name);
	long peak = peak_waiting(h);
	cr_expect_gt(peak, 20, "%s: the bounces pile up (peak %ld)", name, peak);

	/* report incidents, JSON */
	char *inc = report(db, "--format json incidents");
	static const char bq[] = "SELECT value ->> '$.bounce.%s' FROM json_each(?1)"
	                         " WHERE value ->> 'kind' = 'bounce-storm'";
	char sql[256];
	cr_expect_eq(q(h, "SELECT count(*) FROM json_each(?1) WHERE value ->> 'kind' = 'bounce-storm'",
	               inc),
	             1, "%s: one bounce-storm incident: %.400s", name, inc);
	struct {
		const char *key;
		long want;
	} keys[] = {
	    {"attempts", e.accepted},         {"unanswered", e.unanswered},
	    {"refused", e.refused},           {"connected", e.answered},
	    {"domains", e.domains},           {"unreachable_mx", e.unreachable},
	    {"refusing_mx", e.refusing},      {"rcpt_refused", e.refused_rcpt},
	    {"inbound_sessions", BS_SESSIONS}, {"peak_waiting", peak},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(sql, sizeof(sql), bq, keys[i].key);
		cr_expect_eq(q(h, sql, inc), keys[i].want, "%s: bounce.%s", name, keys[i].key);
	}
	cr_expect_eq(q(h, "SELECT count(*) FROM json_each(?1) WHERE value ->> 'kind' = 'bounce-storm'"
	                  " AND value ->> '$.bounce.origin' = '" BS_SPAMMER "'"
	                  " AND value ->> '$.bounce.software' = 'exim'"
	                  " AND value ->> 'remedy' LIKE '%verify = recipient%'"
	                  " AND value ->> 'remedy' LIKE '%ratelimit%'",
	               inc),
	             1, "%s: origin, software and exim's remedy", name);
	/* the connect waits: 15 s for each attempt never answered, at least */
	cr_expect_geq(q(h, "SELECT value ->> '$.bounce.connect_wait_ms' FROM json_each(?1)"
	                   " WHERE value ->> 'kind' = 'bounce-storm'",
	                inc),
	              e.unanswered * 15000L);
	free(inc);

	/* report outbound: the attempts, and the congestion beside the ordinary delivery */
	char *ob = report(db, "--format json outbound");
	cr_expect_eq(q(h, "SELECT sum(value ->> 'unanswered') FROM json_each(?1)", ob),
	             e.unanswered);
	cr_expect_eq(q(h, "SELECT sum(value ->> 'refused') FROM json_each(?1)", ob), e.refused);
	cr_expect_eq(q(h, "SELECT count(*) FROM json_each(?1) AS r, json_each(r.value, '$.congestion')"
	                  " AS m, json_each(m.value, '$.longest_ordinary') AS o"
	                  " WHERE o.value ->> 'remote' = '" BS_REMOTE_MX "'"
	                  " AND m.value ->> 'waiting_peak' >= 5 AND m.value ->> 'ordinary' = 1",
	               ob),
	             1, "%s: the ordinary delivery beside the congestion: %.300s", name, ob);
	cr_expect_eq(q(h, "SELECT max(m.value ->> 'waiting_peak') FROM json_each(?1) AS r,"
	                  " json_each(r.value, '$.congestion') AS m",
	               ob),
	             peak, "%s: the timeline's peak", name);
	cr_expect_eq(q(h, "SELECT sum(m.value ->> 'bounces') FROM json_each(?1) AS r,"
	                  " json_each(r.value, '$.congestion') AS m",
	               ob),
	             e.accepted, "%s: every bounce in the timeline", name);
	free(ob);
	char *txt = report(db, "outbound");
	cr_expect_not_null(strstr(txt, "delivery congestion"), "%s: %.500s", name, txt);
	cr_expect_not_null(strstr(txt, "ordinary: session"), "%s", name);
	free(txt);
	txt = report(db, "incidents");
	cr_expect_not_null(strstr(txt, "bounce storm: 192.0.2.10 bounced the mail of " BS_SPAMMER),
	                   "%s: %.500s", name, txt);
	free(txt);

	free(tj);
	sqlite3_close(h);
}

Test(bounce_storm, learned_hosts)
{
	check("learned", "");
}

Test(bounce_storm, given_host)
{
	check("given", " --host 192.0.2.10,2001:db8::10");
}

/* without the storm's inbound mail nothing is a bounce: the same deliveries, analyzed alone */
Test(bounce_storm, no_inbound_mail_no_bounces)
{
	char filtered[700];
	snprintf(filtered, sizeof(filtered), "%s/out.pcap", dir);
	char *out = NULL;
	/* the host's own packets to port 25 elsewhere and DNS: no inbound session */
	int rc = e2e_sh(&out, "tcpdump -r '%s' -w '%s' 'not (host " BS_SPAMMER ")' 2>&1", pcap,
	                filtered);
	if (rc != 0) {
		free(out);
		cr_skip_test("tcpdump is not available");
	}
	free(out);
	char db[760];
	snprintf(db, sizeof(db), "%s/alone.db", dir);
	rc = e2e_sh(&out, "'%s' analyze --quiet --db '%s' '%s' 2>&1", mx, db, filtered);
	cr_assert_eq(rc, 0, "%s", out ? out : "");
	free(out);
	cr_expect_eq(e2e_sql_long(db, "SELECT count(*) FROM sessions WHERE bounce_domain IS NOT NULL"),
	             0);
	cr_expect_geq(e2e_sql_long(db, "SELECT count(*) FROM sessions WHERE client_is_host = 1"),
	              1800);
}
