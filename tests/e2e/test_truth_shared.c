/*
 * test_truth_shared.c - every capture of real servers in
 * ../shared/captures is diagnosed as its .truth.json says.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/e2e.h"

static void
check_one(const char *name)
{
	const char *sh = e2e_shared();
	if (!sh)
		cr_skip_test("../shared not present");
	char pcap[512], truth[512];
	snprintf(pcap, sizeof(pcap), "%s/captures/%s.pcap", sh, name);
	snprintf(truth, sizeof(truth), "%s/captures/%s.truth.json", sh, name);
	char *dir = e2e_tmpdir();
	cr_assert_not_null(dir);
	int fails = e2e_check_truth(pcap, truth, dir);
	e2e_rmdir(dir);
	cr_expect_eq(fails, 0, "%s: %d checks failed", name, fails);
}

Test(truth, smtp_ptr_timeout) { check_one("smtp-ptr-timeout"); }
Test(truth, smtp_ptr_fixed) { check_one("smtp-ptr-fixed"); }
Test(truth, smtp_ident_timeout) { check_one("smtp-ident-timeout"); }
Test(truth, pop3_tcpserver_lookups) { check_one("pop3-tcpserver-lookups"); }
Test(truth, smtp_slow_data) { check_one("smtp-slow-data"); }
Test(truth, healthy_baseline) { check_one("healthy-baseline"); }

/* Any further capture with a truth file dropped into ../shared/captures. */
Test(truth, every_capture_with_truth)
{
	const char *sh = e2e_shared();
	if (!sh)
		cr_skip_test("../shared not present");
	char dirpath[512];
	snprintf(dirpath, sizeof(dirpath), "%s/captures", sh);
	DIR *d = opendir(dirpath);
	cr_assert_not_null(d);
	struct dirent *e;
	int n = 0, fails = 0;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 12 || strcmp(e->d_name + l - 11, ".truth.json") != 0)
			continue;
		char pcap[1024], truth[1024];
		snprintf(truth, sizeof(truth), "%s/%s", dirpath, e->d_name);
		snprintf(pcap, sizeof(pcap), "%s/%.*s.pcap", dirpath, (int)(l - 11), e->d_name);
		char *tmp = e2e_tmpdir();
		fails += e2e_check_truth(pcap, truth, tmp);
		e2e_rmdir(tmp);
		n++;
	}
	closedir(d);
	cr_expect_gt(n, 0, "no truth files found");
	cr_expect_eq(fails, 0);
}

/* ---- remedies per server software (issue 14) ---- */

#include <sqlite3.h>

static sqlite3 *
analyzed(const char *name, char **dir)
{
	const char *sh = e2e_shared();
	if (!sh)
		cr_skip_test("../shared not present");
	char bin[512], db[1024];
	e2e_bin("mxlag", bin, sizeof(bin));
	*dir = e2e_tmpdir();
	cr_assert_not_null(*dir);
	snprintf(db, sizeof(db), "%s/a.db", *dir);
	char *out = NULL;
	int rc = e2e_sh(&out, "'%s' analyze --quiet --db '%s' '%s/captures/%s.pcap' 2>&1", bin, db,
	                sh, name);
	cr_assert_eq(rc, 0, "%s: %s", name, out ? out : "");
	free(out);
	sqlite3 *h;
	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	return h;
}

/* The first column of the first row as text ("" for none or NULL); malloc'd. */
static char *
text(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(h));
	const char *v = NULL;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = (const char *)sqlite3_column_text(st, 0);
	char *r = strdup(v ? v : "");
	sqlite3_finalize(st);
	return r;
}

static void
expect_has(const char *what, const char *s, const char *needle)
{
	cr_expect(strstr(s, needle) != NULL, "%s: no \"%s\" in \"%s\"", what, needle, s);
}

/* exim greets "220 mx.example.org ESMTP Exim 4.96 ...": its client-PTR remedy names host_lookup */
Test(remedy, exim_client_ptr)
{
	char *dir;
	sqlite3 *h = analyzed("smtp-ptr-timeout", &dir);
	char *sw = text(h, "SELECT group_concat(DISTINCT software) FROM sessions");
	cr_expect_str_eq(sw, "exim");
	char *t = text(h, "SELECT remedy FROM transactions WHERE command = 'GREETING'"
	                  " AND latency_ms >= 1000");
	expect_has("greeting", t, "narrow Exim's host_lookup");
	cr_expect(strstr(t, "tcpserver") == NULL, "%s", t);
	char *c = text(h, "SELECT c.remedy FROM causes AS c JOIN transactions AS t"
	                  " ON t.id = c.transaction_id WHERE t.command = 'GREETING'"
	                  " AND c.relation = 'client-ptr' AND c.parent_id IS NULL");
	cr_expect_str_eq(c, t, "one cause: its remedy is the reply's");
	free(sw);
	free(t);
	free(c);
	sqlite3_close(h);
	e2e_rmdir(dir);
}

/* exim's ident probe dropped by the client's firewall: rfc1413_query_timeout */
Test(remedy, exim_ident)
{
	char *dir;
	sqlite3 *h = analyzed("smtp-ident-timeout", &dir);
	char *sw = text(h, "SELECT group_concat(DISTINCT software) FROM sessions");
	cr_expect_str_eq(sw, "exim");
	char *c = text(h, "SELECT remedy FROM causes WHERE kind = 'ident'");
	expect_has("ident cause", c, "rfc1413_query_timeout = 0s");
	char *t = text(h, "SELECT remedy FROM transactions WHERE command = 'GREETING'"
	                  " AND latency_ms >= 1000");
	cr_expect_str_eq(t, c);
	free(sw);
	free(c);
	free(t);
	sqlite3_close(h);
	e2e_rmdir(dir);
}

/* exim holding the final dot itself: the none cause's remedy is the reply's */
Test(remedy, exim_local_processing)
{
	char *dir;
	sqlite3 *h = analyzed("smtp-slow-data", &dir);
	char *c = text(h, "SELECT c.remedy = t.remedy FROM causes AS c JOIN transactions AS t"
	                  " ON t.id = c.transaction_id WHERE c.kind = 'none'"
	                  " AND t.command = 'DATA-END'");
	cr_expect_str_eq(c, "1");
	char *t = text(h, "SELECT remedy FROM transactions WHERE command = 'DATA-END'");
	expect_has("data-end", t, "local processing");
	free(c);
	free(t);
	sqlite3_close(h);
	e2e_rmdir(dir);
}

/*
 * tcpserver writes no greeting of its own and the POP3 server behind it
 * greets "+OK lab POP3 ready": not told.  The three causes each get the
 * generic remedy, the reply all three, numbered, the preamble once.
 */
Test(remedy, tcpserver_unknown_each_cause_its_own)
{
	char *dir;
	sqlite3 *h = analyzed("pop3-tcpserver-lookups", &dir);
	char *sw = text(h, "SELECT group_concat(DISTINCT software) FROM sessions");
	cr_expect_str_eq(sw, "unknown");
	char *t = text(h, "SELECT remedy FROM transactions WHERE command = 'GREETING'");
	cr_expect(strncmp(t, "server software not recognized from its greeting", 48) == 0, "%s", t);
	expect_has("greeting", t, "fix: (1) ");
	expect_has("greeting", t, "publish a PTR record");
	expect_has("greeting", t, "disable the server's ident");
	expect_has("greeting", t, "turn off the server's client reverse lookups");
	expect_has("greeting", t, "; (2) ");
	expect_has("greeting", t, "; (3) ");
	cr_expect(strstr(t, "tcpserver") == NULL, "%s", t);
	char *n = text(h, "SELECT count(DISTINCT c.remedy) || ' ' || count(*) FROM causes AS c"
	                  " JOIN transactions AS t ON t.id = c.transaction_id"
	                  " WHERE t.command = 'GREETING' AND c.parent_id IS NULL"
	                  " AND c.relation IN ('self-ptr', 'client-ptr', 'ident')"
	                  " AND c.remedy LIKE 'server software not recognized%'");
	cr_expect_str_eq(n, "3 3", "each cause its own remedy");
	char *up = text(h, "SELECT count(*) FROM causes WHERE parent_id IS NOT NULL"
	                   " AND remedy IS NOT NULL");
	cr_expect_str_eq(up, "0", "upstream hops: the remedy is their dns cause's");
	free(sw);
	free(t);
	free(n);
	free(up);
	sqlite3_close(h);
	e2e_rmdir(dir);
}
