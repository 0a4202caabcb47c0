/*
 * test_golden.c - golden report outputs (tests/golden/TESTLIST, see
 * tests/golden/README.md): each line's scenario is generated, analyzed and
 * reported on, and the report is compared byte for byte with
 * tests/golden/expected/NAME.out.  UPDATE=1 rewrites the expected files.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/e2e.h"

#define MAX_TESTS 256

struct golden {
	char name[128];
	char capture[64];
	char report[32];
	char format[16];
	char options[256];
};

/* Splits one TESTLIST line; 1 = a test, 0 = blank or comment, -1 = malformed. */
static int
parse_line(char *line, struct golden *g)
{
	char *save = NULL, *tok[4];
	line[strcspn(line, "\r\n#")] = '\0';
	for (int i = 0; i < 4; i++) {
		tok[i] = strtok_r(i ? NULL : line, " \t", &save);
		if (!tok[i])
			return i == 0 ? 0 : -1;
	}
	snprintf(g->name, sizeof(g->name), "%s", tok[0]);
	snprintf(g->capture, sizeof(g->capture), "%s", tok[1]);
	snprintf(g->report, sizeof(g->report), "%s", tok[2]);
	snprintf(g->format, sizeof(g->format), "%s", tok[3]);
	g->options[0] = '\0';
	for (char *t; (t = strtok_r(NULL, " \t", &save)) != NULL;) {
		size_t l = strlen(g->options);
		snprintf(g->options + l, sizeof(g->options) - l, "%s'%s'", l ? " " : "", t);
	}
	/* names and captures become file names */
	for (const char *p = g->name; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-_.", *p))
			return -1;
	for (const char *p = g->capture; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-_", *p))
			return -1;
	return 1;
}

/* The truth file's "mail_host" address into buf ("" if none). */
static void
mail_host(const char *truth, char *buf, size_t n)
{
	char *t = e2e_slurp(truth);
	const char *p = t ? strstr(t, "\"mail_host\":\"") : NULL;
	buf[0] = '\0';
	if (p) {
		p += strlen("\"mail_host\":\"");
		size_t l = strcspn(p, "\"");
		if (l < n && strspn(p, "0123456789abcdefABCDEF.:") == l)
			snprintf(buf, n, "%.*s", (int)l, p);
	}
	free(t);
}

/*
 * Generates and analyzes the capture into dir/CAPTURE.db once; 0 = ready,
 * 1 = not available here (../shared missing), -1 = failed.  CAPTURE is
 *   NAME           a scenario of `mxlag-gen list`, analyzed with --host MAIL_HOST;
 *   traffic-NAME   `mxlag-gen traffic --profile NAME --seconds 60` (dense,
 *                  generated traffic), hosts learned;
 *   shared-NAME    ../shared/captures/NAME.pcap, a capture of real servers,
 *                  hosts learned.
 */
static int
prepare(const char *dir, const char *capture)
{
	char gen[512], mx[512], db[512], truth[512], host[64], pcap[1024];
	snprintf(db, sizeof(db), "%s/%s.db", dir, capture);
	if (access(db, R_OK) == 0)
		return 0;
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	e2e_bin("mxlag", mx, sizeof(mx));
	char hostopt[80] = "";
	int rc;
	if (strncmp(capture, "shared-", 7) == 0) {
		const char *sh = e2e_shared();
		if (!sh)
			return 1;
		snprintf(pcap, sizeof(pcap), "%s/captures/%s.pcap", sh, capture + 7);
	} else if (strncmp(capture, "traffic-", 8) == 0) {
		snprintf(pcap, sizeof(pcap), "%s/%s.pcap", dir, capture);
		rc = e2e_sh(NULL, "'%s' traffic --profile '%s' --seconds 60 -q -o '%s' 2>&1", gen,
		            capture + 8, pcap);
		if (rc != 0)
			return -1;
	} else {
		snprintf(pcap, sizeof(pcap), "%s/%s.pcap", dir, capture);
		snprintf(truth, sizeof(truth), "%s/%s.json", dir, capture);
		rc = e2e_sh(NULL, "'%s' scenario '%s' -q -o '%s' --truth '%s' 2>&1", gen, capture,
		            pcap, truth);
		if (rc != 0)
			return -1;
		mail_host(truth, host, sizeof(host));
		if (host[0])
			snprintf(hostopt, sizeof(hostopt), "--host %s", host);
	}
	rc = e2e_sh(NULL, "'%s' analyze --quiet %s --db '%s' '%s' 2>&1", mx, hostopt, db, pcap);
	return rc == 0 ? 0 : -1;
}

static char *
read_testlist(const char *src)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/tests/golden/TESTLIST", src);
	return e2e_slurp(path);
}

Test(golden, reports_match_expected_outputs, .timeout = 600)
{
	const char *src = getenv("MXLAG_SRC");
	const char *update = getenv("UPDATE");
	bool upd = update && strcmp(update, "1") == 0;
	cr_assert_not_null(src, "MXLAG_SRC is not set (run through ctest)");
	char *list = read_testlist(src);
	cr_assert_not_null(list, "cannot read %s/tests/golden/TESTLIST", src);
	char *dir = e2e_tmpdir();
	cr_assert_not_null(dir);
	char mx[512];
	e2e_bin("mxlag", mx, sizeof(mx));

	int ntests = 0, failed = 0, lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct golden g;
		lineno++;
		int r = parse_line(line, &g);
		if (r == 0)
			continue;
		cr_assert_eq(r, 1, "TESTLIST line %d is malformed", lineno);
		ntests++;
		cr_assert_lt(ntests, MAX_TESTS);
		/* under valgrind SQLite prints some doubles one digit shorter (no
		   80-bit long double): the dense traffic's epoch times with 15
		   digits differ; test_incidents runs those reports under valgrind */
		if (getenv("MXLAG_UNDER_VALGRIND") && strncmp(g.capture, "traffic-", 8) == 0) {
			cr_log_info("%s: skipped under valgrind", g.name);
			continue;
		}
		int prep = prepare(dir, g.capture);
		if (prep == 1) {
			cr_log_info("%s: ../shared not present, skipped", g.name);
			continue;
		}
		if (prep != 0) {
			cr_expect_fail("%s: cannot generate or analyze scenario %s", g.name,
			               g.capture);
			failed++;
			continue;
		}
		char actual[512], expected[512];
		snprintf(actual, sizeof(actual), "%s/%s.out", dir, g.name);
		snprintf(expected, sizeof(expected), "%s/tests/golden/expected/%s.out", src,
		         g.name);
		int rc =
		    e2e_sh(NULL,
		           "cd '%s' && env -u TZ NO_COLOR= '%s' report --db '%s.db' --format '%s' "
		           "'%s' %s > '%s' 2>/dev/null",
		           dir, mx, g.capture, g.format, g.report, g.options, actual);
		if (rc != 0) {
			FILE *f = fopen(actual, "a");
			cr_assert_not_null(f);
			fprintf(f, "[exit status %d]\n", rc);
			fclose(f);
		}
		if (upd) {
			cr_expect_eq(e2e_sh(NULL, "cp '%s' '%s'", actual, expected), 0,
			             "%s: cannot write %s", g.name, expected);
			continue;
		}
		char *diff = NULL;
		if (e2e_sh(&diff, "diff -u '%s' '%s' 2>&1", expected, actual) != 0) {
			cr_expect_fail("golden %s (%s %s %s %s) differs from %s:\n%s", g.name,
			               g.capture, g.report, g.format, g.options, expected,
			               diff ? diff : "");
			failed++;
		}
		free(diff);
	}
	cr_log_info("golden: %d tests, %d failed%s", ntests, failed,
	            upd ? " (UPDATE=1: expected files rewritten)" : "");
	cr_expect_gt(ntests, 0, "TESTLIST has no tests");
	free(list);
	e2e_rmdir(dir);
}

/* every report name and every format (but html) appears in TESTLIST */
Test(golden, testlist_covers_every_report_and_format)
{
	static const char *const reports[] = {"summary", "slow",     "ptr",
	                                      "dns",     "ident",    "sessions",
	                                      "session", "outbound", "incidents"};
	static const char *const formats[] = {"text", "csv", "json"};
	const char *src = getenv("MXLAG_SRC");
	cr_assert_not_null(src);
	char *list = read_testlist(src);
	cr_assert_not_null(list);
	bool seen_r[9] = {false}, seen_f[3] = {false};
	char *save = NULL;
	for (char *line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct golden g;
		if (parse_line(line, &g) != 1)
			continue;
		for (int i = 0; i < 9; i++)
			seen_r[i] |= strcmp(g.report, reports[i]) == 0;
		for (int i = 0; i < 3; i++)
			seen_f[i] |= strcmp(g.format, formats[i]) == 0;
	}
	for (int i = 0; i < 9; i++)
		cr_expect(seen_r[i], "no golden test of report %s", reports[i]);
	for (int i = 0; i < 3; i++)
		cr_expect(seen_f[i], "no golden test in format %s", formats[i]);
	free(list);
}
