/*
 * test_fleet.c - reports across several hosts' databases (issue 13, "Several
 * hosts"): `mxlag report --db A.db --db B.db ...` and `--db 'GLOB'` label
 * each database with its file name, give each database's rows in turn
 * with a db column (JSON: "db" key), add a fleet total to the summary whose
 * percentiles come from the merged histograms (equal to one database of
 * all the captures), refuse duplicate labels, missing databases (before
 * any output), ambiguous session ids, and work read-only.
 *
 * The hosts: mx1 = scenario ptr-timeout (a greeting slow on an unanswered
 * client PTR), mx2 = ident-timeout (a greeting slow on an unanswered
 * ident probe), mx3 = healthy (nothing slow); all.db holds the three
 * captures, one run each.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../support/e2e.h"

static char bin[512], gen[512];
static char *dir;

static const char *const hosts[3][2] = {
    {"mx1", "ptr-timeout"}, {"mx2", "ident-timeout"}, {"mx3", "healthy"}};

/* mxlag ARGS in dir: its status, its standard output to *out (standard error: mx_err()) */
static int
mx(char **out, const char *args)
{
	return e2e_sh(out, "cd '%s' && '%s' %s 2>err.txt", dir, bin, args);
}

/* mxlag ARGS in dir: its status only */
static int
mx_rc(const char *args)
{
	char *out = NULL;
	int rc = mx(&out, args);
	free(out);
	return rc;
}

/* what the last mx() printed on standard error (malloc'd) */
static char *
mx_err(void)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/err.txt", dir);
	char *s = e2e_slurp(path);
	return s ? s : strdup("");
}

static void
setup(void)
{
	char *out = NULL;
	e2e_bin("mxlag", bin, sizeof(bin));
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	dir = e2e_tmpdir();
	cr_assert_not_null(dir);
	cr_assert_eq(chmod(dir, 0755), 0);
	cr_assert_eq(e2e_sh(NULL, "mkdir '%s/fleet'", dir), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(e2e_sh(&out, "cd '%s' && '%s' scenario %s -o %s.pcap 2>&1", dir, gen,
		                    hosts[i][1], hosts[i][1]),
		             0, "%s", out);
		free(out);
		cr_assert_eq(e2e_sh(&out,
		                    "cd '%s' && '%s' analyze --quiet --db fleet/%s.db %s.pcap 2>&1",
		                    dir, bin, hosts[i][0], hosts[i][1]),
		             0, "%s", out);
		free(out);
	}
	/* one run per capture: the three scenarios are three hosts' traffic
	   from one client at the same instants, so one run over all three
	   files would see one machine with three connections of that client
	   at once, whose lookups cannot be told apart */
	cr_assert_eq(e2e_sh(&out,
	                    "cd '%s' && for f in ptr-timeout ident-timeout healthy; do '%s' "
	                    "analyze --quiet --db all.db $f.pcap || exit 1; done 2>&1",
	                    dir, bin),
	             0, "%s", out);
	free(out);
}

static void
teardown(void)
{
	e2e_rmdir(dir);
}

/* valgrind (scripts/valgrind.sh) makes a run of mxlag some 20 times slower */
TestSuite(fleet, .init = setup, .fini = teardown, .timeout = 300);

#define DBS "--db fleet/mx1.db --db fleet/mx2.db --db fleet/mx3.db"

/* the first column of the first row of sql run on json (the sqlite3 shell's json functions) */
static long
json_long(const char *json_file, const char *sql_expr)
{
	char *out = NULL;
	long v = -1;
	if (e2e_sh(&out,
	           "cd '%s' && sqlite3 :memory: \"SELECT %s FROM (SELECT readfile('%s') AS j)\"",
	           dir, sql_expr, json_file) == 0 &&
	    out && *out)
		v = strtol(out, NULL, 10);
	free(out);
	return v;
}

static char *
json_text(const char *json_file, const char *sql_expr)
{
	char *out = NULL;
	e2e_sh(&out, "cd '%s' && sqlite3 :memory: \"SELECT %s FROM (SELECT readfile('%s') AS j)\"",
	       dir, sql_expr, json_file);
	if (out)
		out[strcspn(out, "\n")] = '\0';
	return out ? out : strdup("");
}

/* does a line of text start with prefix and hold needle? */
static bool
line_with(const char *text, const char *prefix, const char *needle)
{
	for (const char *l = text; l && *l;) {
		const char *e = strchr(l, '\n');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		if (strncmp(l, prefix, strlen(prefix)) == 0) {
			char *line = strndup(l, n);
			bool hit = strstr(line, needle) != NULL;
			free(line);
			if (hit)
				return true;
		}
		l = e ? e + 1 : NULL;
	}
	return false;
}

Test(fleet, slow_replies_under_their_hosts_in_text_csv_json)
{
	char *out = NULL;
	/* CSV: a db column first, each host's slow reply with its own cause */
	cr_assert_eq(mx(&out, "report " DBS " --format csv slow"), 0, "%s", out);
	cr_expect(strncmp(out, "db,transaction,session,", 23) == 0, "%s", out);
	cr_expect(line_with(out, "mx1,", "client-ptr") && line_with(out, "mx1,", "GREETING"), "%s",
	          out);
	cr_expect(line_with(out, "mx2,", "ident") && !line_with(out, "mx2,", "client-ptr"), "%s",
	          out);
	cr_expect(!line_with(out, "mx1,", "ident,"), "%s", out);
	cr_expect(strstr(out, "\nmx3,") == NULL, "the healthy host has nothing slow: %s", out);
	/* in argument order: mx1's rows before mx2's */
	cr_expect(strstr(out, "\nmx1,") && strstr(out, "\nmx2,") &&
	              strstr(out, "\nmx1,") < strstr(out, "\nmx2,"),
	          "%s", out);
	free(out);

	/* text: every line of a host's report after its label */
	cr_assert_eq(mx(&out, "report " DBS " slow"), 0, "%s", out);
	cr_expect(line_with(out, "mx1  ", "client-ptr PTR 200.2.0.192.in-addr.arpa"), "%s", out);
	cr_expect(line_with(out, "mx2  ", "ident to 192.0.2.200: unanswered"), "%s", out);
	cr_expect(!line_with(out, "mx1  ", "ident to"), "%s", out);
	cr_expect(line_with(out, "mx3  ", "(none)"), "%s", out);
	free(out);

	/* JSON: one array, every object's first key "db" */
	cr_assert_eq(mx(&out, "report " DBS " --format json slow -o slow.json"), 0, "%s", out);
	free(out);
	cr_expect_eq(json_long("slow.json", "json_array_length(j)"), 2);
	char *s = json_text(
	    "slow.json", "(SELECT group_concat((value ->> 'db') || '=' || "
	                 "(value -> 'causes' -> 0 ->> 'kind') || '/' || (value ->> 'command'), ' ')"
	                 " FROM json_each(j))");
	cr_expect_str_eq(s, "mx1=dns/GREETING mx2=ident/GREETING");
	free(s);
	s = json_text("slow.json",
	              "(SELECT group_concat(substr(value, 1, 12), ' ') FROM json_each(j))");
	cr_expect_str_eq(s, "{\"db\":\"mx1\", {\"db\":\"mx2\",");
	free(s);
}

Test(fleet, list_reports_per_host_and_limit_per_host)
{
	char *out = NULL;
	/* sessions: as many rows of each host as its own database has */
	cr_assert_eq(mx(&out, "report " DBS " --format json sessions -o s.json"), 0, "%s", out);
	free(out);
	for (int i = 0; i < 3; i++) {
		char expr[200], db[64];
		snprintf(expr, sizeof(expr),
		         "(SELECT count(*) FROM json_each(j) WHERE value ->> 'db' = '%s')",
		         hosts[i][0]);
		snprintf(db, sizeof(db), "%s/fleet/%s.db", dir, hosts[i][0]);
		long n = e2e_sql_long(db, "SELECT count(*) FROM sessions");
		cr_expect_gt(n, 0);
		cr_expect_eq(json_long("s.json", expr), n, "%s", hosts[i][0]);
	}
	/* --limit is per database: one row of each */
	cr_assert_eq(mx(&out, "report " DBS " --format csv --limit 1 sessions"), 0, "%s", out);
	int rows = 0;
	for (const char *p = strstr(out, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n"))
		rows++;
	cr_expect_eq(rows, 3, "%s", out);
	cr_expect(strstr(out, "\r\nmx1,") && strstr(out, "\r\nmx2,") && strstr(out, "\r\nmx3,"),
	          "%s", out);
	free(out);
	/* ident: mx2's unanswered probe under mx2 */
	cr_assert_eq(mx(&out, "report " DBS " --format csv ident"), 0, "%s", out);
	cr_expect(strncmp(out, "db,", 3) == 0, "%s", out);
	cr_expect(line_with(out, "mx2,", "unanswered"), "%s", out);
	cr_expect(!line_with(out, "mx1,", "unanswered") && !line_with(out, "mx3,", "unanswered"),
	          "%s", out);
	free(out);
	/* --fail-if-slow counts the slow replies of all the databases: 2 */
	cr_expect_eq(mx_rc("report " DBS " --fail-if-slow 1 slow"), 4);
	cr_expect_eq(mx_rc("report " DBS " --fail-if-slow 2 slow"), 0);
}

Test(fleet, summary_total_is_the_sum_and_the_merged_percentile)
{
	char *out = NULL;
	cr_assert_eq(mx(&out, "report " DBS " --format json summary -o sum.json"), 0, "%s", out);
	free(out);
	cr_assert_eq(mx(&out, "report --db all.db --format json summary -o all.json"), 0, "%s",
	             out);
	free(out);
	cr_expect_eq(json_long("sum.json", "json_array_length(j, '$.dbs')"), 3);
	cr_expect_eq(json_long("sum.json", "j ->> '$.total.databases'"), 3);
	static const char *const keys[] = {"sessions",
	                                   "replies",
	                                   "slow",
	                                   "dns_queries",
	                                   "ident_probes",
	                                   "packets",
	                                   "slow_by_cause.dns",
	                                   "slow_by_cause.ident"};
	/* each host's own summary, once */
	for (int i = 0; i < 3; i++) {
		char args[200];
		snprintf(args, sizeof(args),
		         "report --db fleet/%s.db --format json summary -o %s.json", hosts[i][0],
		         hosts[i][0]);
		cr_assert_eq(mx(&out, args), 0);
		free(out);
	}
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		char expr[200], file[32];
		long sum = 0;
		for (int i = 0; i < 3; i++) {
			snprintf(file, sizeof(file), "%s.json", hosts[i][0]);
			snprintf(expr, sizeof(expr), "j ->> '$.%s'", keys[k]);
			long one = json_long(file, expr);
			cr_expect_geq(one, 0, "%s of %s", keys[k], hosts[i][0]);
			sum += one;
			/* the host's own summary is inside, under its label */
			snprintf(expr, sizeof(expr), "j ->> '$.dbs[%d].%s'", i, keys[k]);
			cr_expect_eq(json_long("sum.json", expr), one, "%s of %s", keys[k],
			             hosts[i][0]);
		}
		snprintf(expr, sizeof(expr), "j ->> '$.total.%s'", keys[k]);
		cr_expect_eq(json_long("sum.json", expr), sum, "total %s", keys[k]);
		snprintf(expr, sizeof(expr), "j ->> '$.%s'", keys[k]);
		cr_expect_eq(json_long("all.json", expr), sum, "%s of all.db", keys[k]);
	}
	char *who = json_text(
	    "sum.json", "(SELECT group_concat(value ->> 'db', ' ') FROM json_each(j, '$.dbs'))");
	cr_expect_str_eq(who, "mx1 mx2 mx3");
	free(who);
	/* the fleet's percentiles: those of one database of all the captures
	 * (the same bins), not an average of the hosts' */
	const char *const lat[] = {"p95_ms", "median_ms", "max_ms"};
	for (int k = 0; k < 3; k++) {
		char e1[100], e2[100];
		snprintf(e1, sizeof(e1), "printf('%%.1f', j ->> '$.total.%s')", lat[k]);
		snprintf(e2, sizeof(e2), "printf('%%.1f', j ->> '$.%s')", lat[k]);
		char *a = json_text("sum.json", e1), *b = json_text("all.json", e2);
		cr_expect(*a && strcmp(a, b) == 0, "%s: fleet %s, all.db %s", lat[k], a, b);
		free(a);
		free(b);
	}
	char *mean = json_text(
	    "sum.json",
	    "printf('%.1f', (SELECT avg(value ->> 'p95_ms') FROM json_each(j, '$.dbs')))");
	char *p95 = json_text("sum.json", "printf('%.1f', j ->> '$.total.p95_ms')");
	cr_expect(strcmp(mean, p95) != 0, "the fleet p95 %s is no average of p95s", p95);
	free(mean);
	free(p95);

	/* CSV: a row per host, then TOTAL */
	cr_assert_eq(mx(&out, "report " DBS " --format csv summary"), 0, "%s", out);
	cr_expect(strncmp(out, "db,runs,", 8) == 0, "%s", out);
	cr_expect(strstr(out, "\r\nmx1,1,") && strstr(out, "\r\nmx3,1,") &&
	              strstr(out, "\r\nTOTAL,3,"),
	          "%s", out);
	free(out);
	/* text: each host's summary, then the total's lines */
	cr_assert_eq(mx(&out, "report " DBS " summary"), 0, "%s", out);
	cr_expect(line_with(out, "mx1  ", "client-ptr"), "%s", out);
	cr_expect(line_with(out, "TOTAL  ", "databases         3"), "%s", out);
	cr_expect(line_with(out, "TOTAL  ", "slow              2"), "%s", out);
	free(out);
}

/* mxlag ARGS exits status, prints nothing on stdout and names what1 (and what2) on stderr */
static void
refused(const char *args, int status, const char *what1, const char *what2)
{
	char *out = NULL;
	cr_expect_eq(mx(&out, args), status, "%s", args);
	cr_expect_str_eq(out, "", "%s", args);
	free(out);
	char *err = mx_err();
	cr_expect(strstr(err, what1) && (!what2 || strstr(err, what2)), "%s: %s", args, err);
	free(err);
}

Test(fleet, glob_in_sorted_order_and_usage_errors)
{
	char *out = NULL;
	cr_assert_eq(mx(&out, "report --db 'fleet/*.db' --format csv sessions"), 0, "%s", out);
	const char *a = strstr(out, "\r\nmx1,"), *b = strstr(out, "\r\nmx2,"),
	           *c = strstr(out, "\r\nmx3,");
	cr_expect(a && b && c && a < b && b < c, "%s", out);
	free(out);
	/* a glob matching nothing: usage, naming it */
	refused("report --db 'nowhere/*.db' slow", 2, "nowhere/*.db", NULL);
	/* two databases labelled alike: usage, naming both */
	cr_assert_eq(e2e_sh(NULL, "cd '%s' && mkdir other && cp fleet/mx2.db other/mx1.db", dir),
	             0);
	refused("report --db fleet/mx1.db --db other/mx1.db slow", 2, "fleet/mx1.db",
	        "other/mx1.db");
	/* a database that cannot be opened: an error naming it, before any output */
	refused("report --db fleet/mx1.db --db fleet/gone.db --format csv slow", 1, "gone.db",
	        NULL);
	cr_assert_eq(e2e_sh(NULL, "cd '%s' && echo 'not sqlite' > fleet/junk.db", dir), 0);
	refused("report --db 'fleet/*.db' summary", 1, "junk.db", NULL);
	/* one database through a glob: the single-database output, no label */
	char *one = NULL;
	cr_assert_eq(mx(&out, "report --db 'fleet/mx[1].db' --format csv slow"), 0);
	cr_assert_eq(mx(&one, "report --db fleet/mx1.db --format csv slow"), 0);
	cr_expect_str_eq(out, one);
	cr_expect(strncmp(out, "transaction,", 12) == 0, "%s", out);
	free(one);
	free(out);
}

/* the line of text that holds needle (malloc'd; "" when none) */
static char *
line_of(const char *text, const char *needle)
{
	const char *p = strstr(text, needle);
	if (!p)
		return strdup("");
	const char *b = p, *e = strchr(p, '\n');
	while (b > text && b[-1] != '\n')
		b--;
	return strndup(b, e ? (size_t)(e - b) : strlen(b));
}

/* where needle is in text after from (NULL: not there) */
static const char *
after(const char *text, const char *from, const char *needle)
{
	const char *p = strstr(text, from);
	return p ? strstr(p, needle) : NULL;
}

Test(fleet, html_page_of_several_databases)
{
	char *out = NULL;
	cr_assert_eq(mx(&out, "report " DBS " --format html summary"), 0, "%s", out);
	cr_expect(strncmp(out, "<!DOCTYPE html>", 15) == 0);
	size_t len = strlen(out);
	cr_expect(len > 8 && strcmp(out + len - 8, "</html>\n") == 0);
	/* the hosts table: each database's slow replies by cause, and the total */
	static const char *const want[4][2] = {
	    {"<a href=\"#db1\">mx1</a>", "<td class=\"num bad\">1</td><td class=\"num\">1</td>"
	                                  "<td class=\"num\">0</td>"},
	    {"<a href=\"#db2\">mx2</a>", "<td class=\"num bad\">1</td><td class=\"num\">0</td>"
	                                  "<td class=\"num\">1</td>"},
	    {"<a href=\"#db3\">mx3</a>", "<td class=\"num\">0</td><td class=\"num\">0</td>"
	                                  "<td class=\"num\">0</td>"},
	    {">total</td>", "<td class=\"num bad\">2</td><td class=\"num\">1</td>"
	                   "<td class=\"num\">1</td>"},
	};
	const char *table = strstr(out, "<section id=\"fleet\">");
	cr_assert_not_null(table);
	for (int i = 0; i < 4; i++) {
		char *row = line_of(table, want[i][0]);
		cr_expect(strstr(row, want[i][1]) != NULL, "row %s: %s", want[i][0], row);
		free(row);
	}
	/* then each database's page in argument order, its own diagnosis in it */
	const char *s1 = strstr(out, "<section id=\"db1\" class=\"db\">\n<h2>mx1</h2>"),
	           *s2 = strstr(out, "<section id=\"db2\" class=\"db\">\n<h2>mx2</h2>"),
	           *s3 = strstr(out, "<section id=\"db3\" class=\"db\">\n<h2>mx3</h2>");
	cr_assert(s1 && s2 && s3 && table < s1 && s1 < s2 && s2 < s3);
	const char *ptr = after(out, "<section id=\"db1\"", "client-ptr lookup PTR");
	cr_expect(ptr && ptr < s2, "mx1's PTR diagnosis in its section");
	const char *ident = after(out, "<section id=\"db2\"", "ident probe to");
	cr_expect(ident && ident < s3, "mx2's ident diagnosis in its section");
	cr_expect(strstr(s1, "<section id=\"db1-slow\">") && strstr(s3, "<section id=\"db3-totals\">"));
	/* every element id once, every link to one of them */
	int ids = 0, links = 0;
	for (const char *p = out; (p = strstr(p, " id=\"")) != NULL; p += 5) {
		const char *q = strchr(p + 5, '"');
		cr_assert_not_null(q);
		char id[128], pat[160];
		snprintf(id, sizeof(id), "%.*s", (int)(q - p - 5), p + 5);
		snprintf(pat, sizeof(pat), " id=\"%s\"", id);
		cr_expect(strstr(strstr(out, pat) + 1, pat) == NULL, "id %s twice", id);
		ids++;
	}
	for (const char *p = out; (p = strstr(p, "href=\"#")) != NULL; p += 7) {
		const char *q = strchr(p + 7, '"');
		cr_assert_not_null(q);
		char pat[160];
		snprintf(pat, sizeof(pat), " id=\"%.*s\"", (int)(q - p - 7), p + 7);
		cr_expect(strstr(out, pat) != NULL, "link to %s without its element", pat);
		links++;
	}
	cr_expect_gt(ids, 20, "%d ids", ids);
	cr_expect_gt(links, 20, "%d links", links);
	free(out);
	/* the formats with one page only */
	cr_expect_eq(mx_rc("report " DBS " --format html dns"), 2);
}

Test(fleet, session_by_label_or_unambiguous_id)
{
	char *out = NULL, *err;
	/* every database has a session 1 */
	cr_expect_eq(mx(&out, "report " DBS " session 1"), 2);
	err = mx_err();
	cr_expect(strstr(err, "mx1:1") != NULL, "%s", err);
	free(err);
	free(out);
	cr_assert_eq(mx(&out, "report " DBS " session mx2:1"), 0, "%s", out);
	cr_expect(line_with(out, "mx2  ", "ident"), "%s", out);
	cr_expect(!line_with(out, "mx1  ", ""), "%s", out);
	free(out);
	cr_assert_eq(mx(&out, "report " DBS " --format json session mx1:1 -o one.json"), 0);
	free(out);
	char *s = json_text("one.json", "(j ->> 'db') || ' ' || (j ->> '$.session.session')");
	cr_expect_str_eq(s, "mx1 1");
	free(s);
	/* a session only mx3 has (healthy: three sessions) */
	cr_assert_eq(mx(&out, "report " DBS " session 3"), 0, "%s", out);
	cr_expect(line_with(out, "mx3  ", "session 3:"), "%s", out);
	free(out);
	cr_expect_eq(mx_rc("report " DBS " session 99"), 1);
	/* LABEL:ID with one database too (a glob that matched one): as ID */
	char *one = NULL;
	cr_assert_eq(mx(&out, "report --db 'fleet/mx[2].db' session mx2:1"), 0, "%s", out);
	cr_assert_eq(mx(&one, "report --db fleet/mx2.db session 1"), 0);
	cr_expect_str_eq(out, one);
	free(one);
	free(out);
	cr_expect_eq(mx_rc("report --db fleet/mx2.db session mx1:1"), 1);
	cr_expect_eq(mx_rc("report " DBS " session mx9:1"), 2);
}

/* Snapshots (VACUUM INTO) of 0444 in a directory nobody may not write, read as nobody. */
Test(fleet, read_only_snapshots_as_nobody)
{
	char *out = NULL;
	if (geteuid() != 0 || getenv("MXLAG_UNDER_VALGRIND") ||
	    e2e_sh(NULL, "setpriv --reuid=nobody --regid=nogroup --clear-groups true") != 0) {
		cr_log_info("not root, under valgrind or no setpriv: skipped");
		return;
	}
	cr_assert_eq(e2e_sh(&out,
	                    "cd '%s' && mkdir central && for h in mx1 mx2; do sqlite3 fleet/$h.db "
	                    "\"VACUUM INTO 'central/$h.db'\" || exit 1; done && chmod 0444 "
	                    "central/*.db && chmod 0555 central",
	                    dir),
	             0, "%s", out);
	free(out);
	cr_assert_eq(e2e_sh(&out,
	                    "cd '%s' && setpriv --reuid=nobody --regid=nogroup --clear-groups "
	                    "'%s' report --db 'central/*.db' --format csv slow 2>&1",
	                    dir, bin),
	             0, "%s", out);
	cr_expect(line_with(out, "mx1,", "client-ptr") && line_with(out, "mx2,", "ident"), "%s",
	          out);
	free(out);
	cr_expect_eq(e2e_sh(&out, "ls '%s/central'", dir), 0);
	cr_expect_str_eq(out, "mx1.db\nmx2.db\n");
	free(out);
	cr_assert_eq(e2e_sh(NULL, "chmod 0755 '%s/central'", dir), 0);
}
