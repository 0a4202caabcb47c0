/*
 * test_cli.c - the command line contract of DESIGN.md: subcommands,
 * exit codes, one clear line for bad input, duplicate runs refused,
 * --events JSON lines, multi-file timelines and stdin, capture's
 * --no-promisc.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <sqlite3.h>

#include "../support/e2e.h"
#include "schema/report.h"

static char bin[512];
static char *dir;

static int
count_lines(const char *s)
{
	int n = 0;
	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

static void
setup(void)
{
	e2e_bin("mxlag", bin, sizeof(bin));
	dir = e2e_tmpdir();
	cr_assert_not_null(dir);
}

static void
teardown(void)
{
	e2e_rmdir(dir);
}

TestSuite(cli, .init = setup, .fini = teardown);

Test(cli, usage_and_unknown_command)
{
	char *out = NULL;
	cr_expect_eq(e2e_sh(&out, "'%s' 2>&1", bin), 2);
	cr_expect(strstr(out, "usage") != NULL);
	free(out);
	cr_expect_eq(e2e_sh(&out, "'%s' frobnicate 2>&1 >/dev/null", bin), 2);
	cr_expect(strstr(out, "unknown command frobnicate") != NULL, "%s", out);
	cr_expect_eq(count_lines(out), 1, "one line on stderr: %s", out);
	free(out);
	cr_expect_eq(e2e_sh(NULL, "'%s' --help >/dev/null", bin), 0);
}

/* mxlag help / --help: the commands; help CMD and CMD --help: every option */
Test(cli, global_help_lists_the_commands_and_exit_codes)
{
	static const char *const forms[] = {"help", "--help", "-h"};
	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		char *out = NULL;
		cr_assert_eq(e2e_sh(&out, "'%s' %s 2>/dev/null", bin, forms[f]), 0, "%s", forms[f]);
		static const char *const want[] = {
		    "analyze", "capture",   "report",
		    "schema",  "version",   "1 runtime error",
		    "2 usage", "3 refused", "4 report --fail-if-slow"};
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
			cr_expect(strstr(out, want[i]) != NULL, "%s lacks %s: %s", forms[f],
			          want[i], out);
		cr_expect_lt(count_lines(out), 24, "short: %s", out);
		free(out);
	}
}

static const struct {
	const char *cmd;
	const char *opts[24];
} cmd_opts[] = {
    {"analyze",
     {"--db", "--no-db", "--slow", "--filter", "--host", "--events", "--quiet", "--max-sessions",
      "--help", "gzip", "zstd", NULL}},
    {"capture",
     {"--interface", "--duration", "--user", "--snaplen", "--buffer", "--no-promisc", "--db",
      "--no-db", "--slow", "--filter", "--host", "--events", "--quiet", "--max-sessions", NULL}},
    {"report",
     {"--db", "--format", "--output", "--since", "--until", "--slow", "--limit", "--client",
      "--protocol", "--tz", "--fail-if-slow", "epoch seconds", "ISO 8601", "30m", "+01:00", NULL}},
    {"schema", {"usage: mxlag schema", NULL}},
};

Test(cli, per_command_help_explains_every_option)
{
	for (size_t c = 0; c < sizeof(cmd_opts) / sizeof(cmd_opts[0]); c++) {
		char *a = NULL, *b = NULL;
		cr_assert_eq(e2e_sh(&a, "'%s' help %s 2>&1", bin, cmd_opts[c].cmd), 0);
		cr_assert_eq(e2e_sh(&b, "'%s' %s --help 2>&1", bin, cmd_opts[c].cmd), 0);
		cr_expect_str_eq(a, b, "help %s and %s --help differ", cmd_opts[c].cmd,
		                 cmd_opts[c].cmd);
		for (size_t i = 0; cmd_opts[c].opts[i]; i++) {
			/* an option is explained: its name starts a help line ("  --db FILE",
			   "  -o, --output OUT") */
			const char *o = cmd_opts[c].opts[i];
			char a1[64], a2[64];
			snprintf(a1, sizeof(a1), "\n  %s ", o);
			snprintf(a2, sizeof(a2), ", %s ", o);
			int found = o[0] == '-' ? strstr(a, a1) || strstr(a, a2) : !!strstr(a, o);
			cr_expect(found, "help %s lacks %s:\n%s", cmd_opts[c].cmd, o, a);
		}
		free(a);
		free(b);
	}
}

/* help report: every report with its one-line help, from report.c's table */
Test(cli, help_report_lists_every_report)
{
	char *out = NULL;
	cr_assert_eq(e2e_sh(&out, "'%s' help report", bin), 0);
	const char *name, *help;
	size_t n = 0;
	for (size_t i = 0; (name = report_info(i, &help)) != NULL; i++, n++) {
		char line[256], line_id[256];
		snprintf(line, sizeof(line), "\n  %s ", name);
		snprintf(line_id, sizeof(line_id), "\n  %s ID ", name);
		const char *p = strstr(out, line);
		if (!p)
			p = strstr(out, line_id);
		cr_expect(p != NULL, "report %s not listed:\n%s", name, out);
		if (p) {
			const char *eol = strchr(p + 1, '\n');
			const char *h = strstr(p, help);
			cr_expect(h != NULL && (!eol || h < eol), "report %s without its help",
			          name);
		}
	}
	cr_expect_geq(n, 8);
	free(out);
}

Test(cli, unknown_help_topic_is_usage)
{
	char *out = NULL;
	cr_expect_eq(e2e_sh(&out, "'%s' help bogus 2>&1 >/dev/null", bin), 2);
	cr_expect(strstr(out, "unknown topic bogus") != NULL, "%s", out);
	cr_expect_eq(count_lines(out), 1, "%s", out);
	free(out);
	cr_expect_eq(e2e_sh(&out, "'%s' help bogus 2>/dev/null", bin), 2);
	cr_expect_str_eq(out, "", "nothing on stdout");
	free(out);
}

Test(cli, version_names_the_libraries)
{
	static const char *const forms[] = {"--version", "version"};
	for (size_t f = 0; f < 2; f++) {
		char *out = NULL;
		cr_assert_eq(e2e_sh(&out, "'%s' %s", bin, forms[f]), 0);
		char want[64];
		snprintf(want, sizeof(want), "mxlag %s\n", MXLAG_TEST_VERSION);
		cr_expect(strncmp(out, want, strlen(want)) == 0, "%s", out);
		cr_expect(strstr(out, pcap_lib_version()) != NULL, "%s", out);
		cr_expect(strstr(out, sqlite3_libversion()) != NULL, "%s", out);
		cr_expect(strstr(out, "nDPI ") != NULL, "%s", out);
		cr_expect(strstr(out, "\nzlib ") != NULL && strstr(out, "\nzstd ") != NULL, "%s",
		          out);
		free(out);
	}
}

/* the exit-code table: 2 for every kind of usage error, 1 for runtime */
Test(cli, exit_codes_usage_and_runtime)
{
	static const struct {
		const char *args;
		int rc;
	} cases[] = {
	    {"analyze --bogus x.pcap", 2},
	    {"analyze --slow", 2},
	    {"analyze --max-sessions 0 x.pcap", 2},
	    {"capture --snaplen 10 -i lo", 2},
	    {"capture --buffer x -i lo", 2},
	    {"capture --duration -3 -i lo", 2},
	    {"report --db /nonexistent/x.db bogus", 2},
	    {"report --db /nonexistent/x.db --format xml slow", 2},
	    {"report --db /nonexistent/x.db --limit -2 slow", 2},
	    {"report --db /nonexistent/x.db session", 2},
	    {"report --db /nonexistent/x.db slow extra", 2},
	    {"report --db /nonexistent/x.db", 2},
	    {"schema extra", 2},
	    {"help analyze report", 2},
	    {"report --db /nonexistent/x.db slow", 1},
	    {"analyze --db /nonexistent/dir/x.db /nonexistent/x.pcap", 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		int rc = e2e_sh(&out, "cd '%s' && '%s' %s 2>&1", dir, bin, cases[i].args);
		cr_expect_eq(rc, cases[i].rc, "mxlag %s: exit %d, want %d: %s", cases[i].args, rc,
		             cases[i].rc, out);
		cr_expect_lt(count_lines(out), 3, "mxlag %s: %s", cases[i].args, out);
		free(out);
	}
}

Test(cli, schema_prints_the_tables)
{
	char *out = NULL;
	cr_assert_eq(e2e_sh(&out, "'%s' schema", bin), 0);
	static const char *const tables[] = {"sessions", "transactions", "dns_queries",
					     "ident_probes", "causes", "runs"};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		cr_expect(strstr(out, tables[i]) != NULL, "schema lacks %s", tables[i]);
	free(out);
}

Test(cli, unreadable_file_is_one_clear_line)
{
	char *out = NULL;
	int rc = e2e_sh(&out, "cd '%s' && '%s' analyze /nonexistent/x.pcap 2>&1", dir, bin);
	cr_expect_eq(rc, 1);
	cr_expect(strstr(out, "/nonexistent/x.pcap") != NULL, "%s", out);
	cr_expect_lt(strlen(out), 400, "%s", out);
	free(out);
	cr_expect_eq(e2e_sh(&out, "cd '%s' && '%s' analyze 2>&1", dir, bin), 2);
	free(out);
	cr_expect_eq(e2e_sh(&out, "'%s' analyze --slow abc x 2>&1", bin), 2);
	free(out);
}

static const char *
capture(const char *name, char *buf, size_t n)
{
	const char *sh = e2e_shared();
	if (!sh)
		return NULL;
	snprintf(buf, n, "%s/captures/%s.pcap", sh, name);
	return buf;
}

Test(cli, default_database_and_duplicate_refused)
{
	char pc[512], *out = NULL;
	if (!capture("smtp-ptr-timeout", pc, sizeof(pc)))
		cr_skip_test("no ../shared");
	cr_assert_eq(e2e_sh(&out, "cd '%s' && '%s' analyze '%s' 2>&1", dir, bin, pc), 0, "%s",
		     out);
	cr_expect(strstr(out, "packets") != NULL, "counters printed: %s", out);
	free(out);
	char db[600];
	snprintf(db, sizeof(db), "%s/mxlag.db", dir);
	cr_expect_eq(access(db, R_OK), 0, "default database mxlag.db in the current directory");
	int rc = e2e_sh(&out, "cd '%s' && '%s' analyze '%s' 2>&1", dir, bin, pc);
	cr_expect_eq(rc, 3, "second analyze of the same capture is refused: %s", out);
	cr_expect(strstr(out, "already") != NULL, "%s", out);
	free(out);
	cr_expect_eq(e2e_sh(&out, "cd '%s' && sqlite3 mxlag.db 'select count(*) from sessions'",
			    dir),
		     0);
	cr_expect_str_eq(out, "1\n");
	free(out);
}

/* capture is promiscuous unless --no-promisc (the live effect: test_live) */
Test(cli, capture_no_promisc_option)
{
	char *out = NULL;
	cr_expect_eq(e2e_sh(&out, "'%s' capture --help", bin), 0);
	cr_expect(strstr(out, "  --no-promisc ") != NULL, "%s", out);
	cr_expect(strstr(out, "promiscuous mode") != NULL, "%s", out);
	free(out);
	/* accepted: the run gets as far as opening the interface */
	int rc = e2e_sh(&out, "'%s' capture --no-promisc -i mxlag-no-such-if0 --db '%s/x.db' 2>&1",
			bin, dir);
	cr_expect_eq(rc, 1, "%s", out);
	cr_expect(strstr(out, "mxlag-no-such-if0") != NULL, "%s", out);
	free(out);
	static const char *const bad[] = {"--promisc", "--no-promiscuous", "--no-promisc=1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = e2e_sh(&out, "'%s' capture %s -i mxlag-no-such-if0 --db '%s/x.db' 2>&1", bin,
			    bad[i], dir);
		cr_expect_eq(rc, 2, "%s: %s", bad[i], out);
		free(out);
	}
}

Test(cli, events_are_json_lines)
{
	char pc[512], *out = NULL;
	if (!capture("pop3-tcpserver-lookups", pc, sizeof(pc)))
		cr_skip_test("no ../shared");
	cr_assert_eq(e2e_sh(&out, "'%s' analyze --no-db --quiet --events '%s'", bin, pc), 0);
	int lines = 0, txn = 0, dns = 0, ident = 0, session = 0;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		lines++;
		cr_expect_eq(l[0], '{', "%s", l);
		cr_expect_eq(l[strlen(l) - 1], '}', "%s", l);
		txn += strstr(l, "\"event\":\"transaction\"") != NULL;
		dns += strstr(l, "\"event\":\"dns_query\"") != NULL;
		ident += strstr(l, "\"event\":\"ident_probe\"") != NULL;
		session += strstr(l, "\"event\":\"session\"") != NULL;
		cr_expect(strstr(l, "s3cret") == NULL, "secret leaked: %s", l);
	}
	cr_expect_gt(txn, 2);
	cr_expect_gt(dns, 1);
	cr_expect_gt(ident, 0);
	cr_expect_eq(session, 1);
	free(out);
}

Test(cli, several_files_one_timeline_and_stdin)
{
	char a[512], b[512], *out = NULL;
	if (!capture("smtp-ptr-timeout", a, sizeof(a)) || !capture("smtp-ident-timeout", b, sizeof(b)))
		cr_skip_test("no ../shared");
	cr_assert_eq(e2e_sh(&out, "cd '%s' && '%s' analyze --quiet --db two.db '%s' '%s' 2>&1", dir,
			    bin, a, b),
		     0, "%s", out);
	free(out);
	cr_expect_eq(e2e_sh(&out, "cd '%s' && sqlite3 two.db 'select count(*) from sessions'", dir),
		     0);
	cr_expect_str_eq(out, "2\n");
	free(out);
	cr_assert_eq(e2e_sh(&out, "cd '%s' && '%s' analyze --quiet --db in.db - < '%s' 2>&1", dir,
			    bin, a),
		     0, "%s", out);
	free(out);
	cr_expect_eq(e2e_sh(&out, "cd '%s' && sqlite3 in.db 'select count(*) from causes'", dir), 0);
	cr_expect_neq(strcmp(out, "0\n"), 0, "stdin analysis found the cause");
	free(out);
}

/* A progress bar (bytes, rate, ETA) on a terminal, nothing in a pipe. */
Test(cli, progress_bar_only_on_a_tty, .timeout = 120)
{
	char gen[512], *out = NULL;
	if (access("/usr/bin/script", X_OK) != 0)
		cr_skip_test("script(1) not installed");
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	cr_assert_eq(e2e_sh(NULL, "'%s' workload -q -o '%s/w.pcap' --sessions 3000 --seed 2", gen,
			    dir),
		     0);
	cr_assert_eq(e2e_sh(&out,
			    "cd '%s' && script -qec \"'%s' analyze --db tty.db w.pcap\" /dev/null",
			    dir, bin),
		     0, "%s", out);
	cr_expect(strstr(out, "100.0%") != NULL && strstr(out, "ETA") != NULL &&
			  strstr(out, "MB/s") != NULL,
		  "no progress bar on a terminal: %.300s", out);
	free(out);
	cr_assert_eq(e2e_sh(&out, "cd '%s' && '%s' analyze --db pipe.db w.pcap 2>&1 | cat", dir,
			    bin),
		     0);
	cr_expect(strstr(out, "ETA") == NULL, "progress bar in a pipe: %.300s", out);
	free(out);
}

/* dir/p.db: the ptr-timeout scenario (2026-01-01 00:00:01 UTC) analyzed */
static void
ptr_timeout_db(void)
{
	char gen[512], *out = NULL;
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	cr_assert_eq(e2e_sh(&out,
	                    "cd '%s' && '%s' scenario ptr-timeout -q -o p.pcap --truth p.json && "
	                    "'%s' analyze --quiet --db p.db p.pcap 2>&1",
	                    dir, gen, bin),
	             0, "%s", out);
	free(out);
}

/* --tz ZONE wins, then TZ, else UTC; text and HTML only */
Test(cli, report_time_zone, .timeout = 120)
{
	char *out = NULL;
	ptr_timeout_db();
	/* no TZ at all: UTC, as the goldens */
	cr_assert_eq(e2e_sh(&out, "cd '%s' && env -u TZ '%s' report --db p.db slow", dir, bin), 0);
	cr_expect(strstr(out, "newest first, times UTC\n") != NULL, "%s", out);
	cr_expect(strstr(out, "\n2026-01-01 00:00:01 ") != NULL, "%s", out);
	free(out);
	cr_assert_eq(e2e_sh(&out, "cd '%s' && TZ= '%s' report --db p.db slow", dir, bin), 0);
	cr_expect(strstr(out, "times UTC\n") != NULL, "empty TZ is UTC: %s", out);
	free(out);
	/* the TZ environment variable */
	cr_assert_eq(
	    e2e_sh(&out, "cd '%s' && TZ=Europe/Berlin '%s' report --db p.db slow", dir, bin), 0);
	cr_expect(strstr(out, "times Europe/Berlin\n") != NULL, "%s", out);
	cr_expect(strstr(out, "\n2026-01-01 01:00:01 ") != NULL, "CET is UTC+1: %s", out);
	free(out);
	/* --tz wins over TZ */
	cr_assert_eq(e2e_sh(&out, "cd '%s' && TZ=Europe/Berlin '%s' report --db p.db --tz UTC slow",
	                    dir, bin),
	             0);
	cr_expect(strstr(out, "times UTC\n") != NULL && strstr(out, "\n2026-01-01 00:00:01 "), "%s",
	          out);
	free(out);
	cr_assert_eq(e2e_sh(&out,
	                    "cd '%s' && TZ=UTC '%s' report --db p.db --tz America/New_York "
	                    "session 1",
	                    dir, bin),
	             0);
	cr_expect(strstr(out, "started 2025-12-31 19:00:01.000 America/New_York") != NULL, "%s",
	          out);
	free(out);
	/* local: the system's zone, whatever it is */
	cr_expect_eq(
	    e2e_sh(NULL, "cd '%s' && '%s' report --db p.db --tz local slow >/dev/null", dir, bin),
	    0);
	/* CSV and JSON: UTC and epoch whatever the zone */
	static const char *const same[] = {"--format csv sessions", "--format json slow",
	                                   "--format csv ptr", "--format json session 1"};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		char *a = NULL, *b = NULL;
		cr_assert_eq(
		    e2e_sh(&a, "cd '%s' && env -u TZ '%s' report --db p.db %s", dir, bin, same[i]),
		    0);
		cr_assert_eq(e2e_sh(&b,
		                    "cd '%s' && TZ=Asia/Tokyo '%s' report --db p.db --tz "
		                    "Europe/Berlin %s",
		                    dir, bin, same[i]),
		             0);
		cr_expect_str_eq(a, b, "%s changed with the zone", same[i]);
		free(a);
		free(b);
	}
	/* HTML: the page names the zone */
	cr_assert_eq(
	    e2e_sh(&out, "cd '%s' && '%s' report --db p.db --tz Europe/Berlin --format html slow",
	           dir, bin),
	    0);
	cr_expect(strstr(out, "2026-01-01 01:00:01 &ndash; 2026-01-01 01:00:31 Europe/Berlin") !=
	              NULL,
	          "%.2000s", out);
	cr_expect(strstr(out, "When (Europe/Berlin)") != NULL);
	cr_expect(strstr(out, " UTC") == NULL, "no UTC label left in the page");
	free(out);
	/* a zone that does not exist is a usage error, one line */
	static const char *const bad[] = {"--tz Mars/Olympus", "--tz ../../etc/passwd", "--tz ''"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(
		    e2e_sh(&out, "cd '%s' && '%s' report --db p.db %s slow 2>&1", dir, bin, bad[i]),
		    2, "%s: %s", bad[i], out);
		cr_expect(strstr(out, "unknown time zone") != NULL && count_lines(out) == 1, "%s",
		          out);
		free(out);
	}
	cr_expect_eq(
	    e2e_sh(&out, "cd '%s' && TZ=Nowhere/Atall '%s' report --db p.db slow 2>&1", dir, bin),
	    2, "%s", out);
	cr_expect(strstr(out, "TZ") != NULL, "%s", out);
	free(out);
	/* a POSIX rule is a zone too */
	cr_assert_eq(
	    e2e_sh(&out, "cd '%s' && '%s' report --db p.db --tz 'CET-1CEST' ptr", dir, bin), 0);
	cr_expect(strstr(out, "times CET-1CEST\n") != NULL && strstr(out, "2026-01-01 01:00:01"),
	          "%s", out);
	free(out);
}

/* the source tree, absolute (ctest sets MXLAG_SRC) */
static const char *
src_dir(void)
{
	const char *s = getenv("MXLAG_SRC");
	if (!s || s[0] != '/')
		cr_skip_test("MXLAG_SRC is not an absolute path");
	return s;
}

/* the rows of a database that say what was analyzed (not when, not from which file) */
static char *
db_rows(const char *db)
{
	char *out = NULL;
	cr_assert_eq(
	    e2e_sh(&out,
	           "cd '%s' && sqlite3 %s \"SELECT protocol, client, client_port, server, start,"
	           " outcome FROM sessions ORDER BY id; SELECT command, latency_ms, reply_code"
	           " FROM replies ORDER BY id; SELECT qname, outcome, latency_ms FROM dns_queries"
	           " ORDER BY id; SELECT kind, relation, share FROM causes ORDER BY id\"",
	           dir, db),
	    0);
	return out;
}

static char *
slow_json(const char *db)
{
	char *out = NULL;
	cr_assert_eq(
	    e2e_sh(&out, "cd '%s' && '%s' report --db %s --format json slow", dir, bin, db), 0);
	return out;
}

/* gzip and zstd copies (made now with the CLIs) analyze as the plain file,
 * named anything, from a file or a pipe; pcapng too */
Test(cli, compressed_captures, .timeout = 180)
{
	char src[600], gen[512], *out = NULL;
	if (access("/usr/bin/gzip", X_OK) != 0 || access("/usr/bin/zstd", X_OK) != 0)
		cr_skip_test("gzip or zstd CLI not installed");
	snprintf(src, sizeof(src), "%s/examples/ptr-timeout.pcap", src_dir());
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	cr_assert_eq(e2e_sh(&out,
	                    "cd '%s' && cp '%s' plain.pcap && gzip -c plain.pcap > c.pcap.gz &&"
	                    " zstd -q -c plain.pcap > c.pcap.zst && cp c.pcap.gz no-suffix &&"
	                    " cp c.pcap.zst looks-plain.pcap && '%s' scenario ptr-timeout -q "
	                    "--pcapng -o ng.pcapng"
	                    " && gzip -c ng.pcapng > ng.pcapng.gz && zstd -q -c ng.pcapng >"
	                    " ng.pcapng.zst 2>&1",
	                    dir, src, gen),
	             0, "%s", out);
	free(out);
	/* two gzip members: the first half of the file and the rest */
	cr_assert_eq(e2e_sh(&out,
	                    "cd '%s' && head -c 2000 plain.pcap | gzip -c > members.gz &&"
	                    " tail -c +2001 plain.pcap | gzip -c >> members.gz 2>&1",
	                    dir),
	             0, "%s", out);
	free(out);
	cr_assert_eq(
	    e2e_sh(&out, "cd '%s' && '%s' analyze --quiet --db plain.db plain.pcap 2>&1", dir, bin),
	    0, "%s", out);
	free(out);
	char *want_rows = db_rows("plain.db"), *want_json = slow_json("plain.db");
	cr_assert(strstr(want_json, "client-ptr") != NULL, "%s", want_json);
	static const char *const inputs[] = {"c.pcap.gz",        "c.pcap.zst",    "no-suffix",
	                                     "looks-plain.pcap", "- < c.pcap.gz", "- < c.pcap.zst",
	                                     "members.gz"};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		char db[32];
		snprintf(db, sizeof(db), "c%zu.db", i);
		cr_assert_eq(e2e_sh(&out, "cd '%s' && '%s' analyze --quiet --db %s %s 2>&1", dir,
		                    bin, db, inputs[i]),
		             0, "%s: %s", inputs[i], out);
		cr_expect_str_eq(out, "", "%s: nothing on stderr", inputs[i]);
		free(out);
		char *rows = db_rows(db), *json = slow_json(db);
		cr_expect_str_eq(rows, want_rows, "%s: other rows", inputs[i]);
		cr_expect_str_eq(json, want_json, "%s: another report", inputs[i]);
		free(rows);
		free(json);
	}
	free(want_rows);
	free(want_json);
	/* pcapng inside gzip and zstd */
	cr_assert_eq(
	    e2e_sh(&out, "cd '%s' && '%s' analyze --quiet --db ng.db ng.pcapng 2>&1", dir, bin), 0,
	    "%s", out);
	free(out);
	want_rows = db_rows("ng.db");
	static const char *const ng[] = {"ng.pcapng.gz", "- < ng.pcapng.zst"};
	for (size_t i = 0; i < 2; i++) {
		char db[32];
		snprintf(db, sizeof(db), "ng%zu.db", i);
		cr_assert_eq(e2e_sh(&out, "cd '%s' && '%s' analyze --quiet --db %s %s 2>&1", dir,
		                    bin, db, ng[i]),
		             0, "%s: %s", ng[i], out);
		free(out);
		char *rows = db_rows(db);
		cr_expect_str_eq(rows, want_rows, "%s: other rows", ng[i]);
		free(rows);
	}
	free(want_rows);
}

/* a cut or corrupt compressed file: one line naming the file and the reason */
Test(cli, damaged_compressed_captures, .timeout = 120)
{
	char src[600], *out = NULL;
	if (access("/usr/bin/gzip", X_OK) != 0 || access("/usr/bin/zstd", X_OK) != 0)
		cr_skip_test("gzip or zstd CLI not installed");
	snprintf(src, sizeof(src), "%s/examples/ptr-timeout.pcap", src_dir());
	cr_assert_eq(e2e_sh(&out,
	                    "cd '%s' && gzip -c '%s' > full.gz && head -c 1000 full.gz > cut.gz &&"
	                    " head -c 3 full.gz > tiny.gz && zstd -q -c '%s' > full.zst &&"
	                    " head -c 600 full.zst > cut.zst 2>&1",
	                    dir, src, src),
	             0, "%s", out);
	free(out);
	static const struct {
		const char *file, *want;
	} cases[] = {
	    {"cut.gz", "gzip: the compressed data ends early (truncated)"},
	    {"tiny.gz", "gzip: the compressed data ends early (truncated)"},
	    {"cut.zst", "zstd: the compressed data ends early (truncated)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = e2e_sh(&out, "cd '%s' && '%s' analyze --quiet --db d%zu.db %s 2>&1", dir,
		                bin, i, cases[i].file);
		cr_expect(rc == 0 || rc == 1, "%s: exit %d", cases[i].file, rc);
		cr_expect(strstr(out, cases[i].file) != NULL, "%s: %s", cases[i].file, out);
		cr_expect(strstr(out, cases[i].want) != NULL, "%s: %s", cases[i].file, out);
		cr_expect_lt(count_lines(out), 3, "%s", out);
		free(out);
	}
}
