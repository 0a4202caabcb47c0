/*
 * test_empty.c - issue 14: an empty input is a successful run.  A pcap or
 * pcapng file with its header and no packets, and a 0-byte file (a rotated
 * capture not yet written), give exit 0, exactly one notice on stderr, no
 * stored run, and a later `report` (and `analyze && report`) works; among
 * several files the empty one gets its notice and the rest is analyzed.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/e2e.h"
#include "../support/ngwriter.h"

static char bin[512], src[512];
static char *dir;

static void
setup(void)
{
	e2e_bin("mxlag", bin, sizeof(bin));
	const char *s = getenv("MXLAG_SRC");
	cr_assert_not_null(s, "MXLAG_SRC not set");
	snprintf(src, sizeof(src), "%s/examples/ptr-timeout.pcap", s);
	dir = e2e_tmpdir();
	cr_assert_not_null(dir);
	/* a classic pcap header (microseconds, Ethernet) and nothing after it */
	char p[700];
	snprintf(p, sizeof(p), "%s/hdr.pcap", dir);
	static const uint8_t hdr[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0,
					0,    0,    0,    0,    0xff, 0xff, 0, 0, 1, 0, 0, 0};
	FILE *f = fopen(p, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	fclose(f);
	/* a pcapng section header and one interface, no packet blocks */
	struct ngw w;
	ngw_start(&w, 0, 1, NGW_NO_TSRESOL);
	snprintf(p, sizeof(p), "%s/hdr.pcapng", dir);
	cr_assert_eq(ngw_save(&w, p, SIZE_MAX), 0);
	ngw_free(&w);
	/* 0 bytes */
	snprintf(p, sizeof(p), "%s/zero.pcap", dir);
	f = fopen(p, "wb");
	cr_assert_not_null(f);
	fclose(f);
}

static void
teardown(void)
{
	e2e_rmdir(dir);
}

TestSuite(empty, .init = setup, .fini = teardown);

static int
count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* `report summary`'s value of key (a "key  value" line), -1 if absent */
static long
summary_value(const char *db, const char *key)
{
	char *out = NULL;
	int rc = e2e_sh(&out, "'%s' report --db '%s' summary", bin, db);
	cr_expect_eq(rc, 0, "report summary: %s", out);
	long v = -1;
	size_t kl = strlen(key);
	for (const char *l = out; l && *l;) {
		if (strncmp(l, key, kl) == 0 && l[kl] == ' ') {
			v = strtol(l + kl, NULL, 10);
			break;
		}
		const char *nl = strchr(l, '\n');
		l = nl ? nl + 1 : NULL;
	}
	free(out);
	return v;
}

static void
check_empty(const char *name)
{
	char db[700], *err = NULL, *out = NULL;
	snprintf(db, sizeof(db), "%s/%s.db", dir, name);
	/* stderr alone (stdout, the summary, to /dev/null) */
	int rc = e2e_sh(&err, "cd '%s' && '%s' analyze --db '%s' '%s' 2>&1 >/dev/null", dir, bin,
			db, name);
	cr_expect_eq(rc, 0, "%s: exit %d: %s", name, rc, err);
	char want[800];
	snprintf(want, sizeof(want), "mxlag: %s: no packets\n", name);
	cr_expect_str_eq(err, want, "%s: exactly one notice", name);
	free(err);
	/* no run is stored; the report works */
	cr_expect_eq(summary_value(db, "runs"), 0, "%s", name);
	cr_expect_eq(summary_value(db, "packets"), 0, "%s", name);
	/* again (the same bytes, as every empty file of one tcpdump command
	 * has): not refused as a duplicate */
	rc = e2e_sh(&out, "cd '%s' && '%s' analyze --quiet --db '%s' '%s' 2>&1", dir, bin, db,
		    name);
	cr_expect_eq(rc, 0, "%s again: %s", name, out);
	cr_expect_eq(count_lines(out), 1, "%s again: %s", name, out);
	free(out);
	/* the cron line: analyze && report */
	rc = e2e_sh(&out,
		    "cd '%s' && '%s' analyze --quiet --db '%s' '%s' 2>/dev/null && "
		    "'%s' report --db '%s' --fail-if-slow 0 slow",
		    dir, bin, db, name, bin, db);
	cr_expect_eq(rc, 0, "%s: analyze && report: %s", name, out);
	free(out);
}

Test(empty, pcap_header_only)
{
	check_empty("hdr.pcap");
}

Test(empty, pcapng_header_only)
{
	check_empty("hdr.pcapng");
}

Test(empty, zero_bytes)
{
	check_empty("zero.pcap");
}

Test(empty, stdin_with_nothing)
{
	char *out = NULL;
	int rc = e2e_sh(&out, "cd '%s' && '%s' analyze --quiet --no-db - </dev/null 2>&1", dir, bin);
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect_str_eq(out, "mxlag: -: no packets\n");
	free(out);
}

Test(empty, one_empty_file_among_others)
{
	char db[700], *out = NULL;
	snprintf(db, sizeof(db), "%s/mixed.db", dir);
	int rc = e2e_sh(&out,
			"cd '%s' && '%s' analyze --quiet --db '%s' zero.pcap '%s' hdr.pcap 2>&1",
			dir, bin, db, src);
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect_str_eq(out, "mxlag: zero.pcap: no packets\nmxlag: hdr.pcap: no packets\n");
	free(out);
	cr_expect_eq(summary_value(db, "runs"), 1);
	cr_expect_eq(summary_value(db, "packets"), 27);
	cr_expect_gt(summary_value(db, "slow"), 0);
	/* an empty analysis afterwards leaves the stored run alone */
	rc = e2e_sh(&out, "cd '%s' && '%s' analyze --quiet --db '%s' hdr.pcapng 2>&1", dir, bin,
		    db);
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
	cr_expect_eq(summary_value(db, "runs"), 1);
	cr_expect_eq(summary_value(db, "packets"), 27);
	/* and the capture with packets is still refused a second time */
	rc = e2e_sh(&out, "cd '%s' && '%s' analyze --quiet --db '%s' zero.pcap '%s' hdr.pcap 2>&1",
		    dir, bin, db, src);
	cr_expect_eq(rc, 3, "%s", out);
	free(out);
}

Test(empty, filter_matching_nothing)
{
	char *out = NULL;
	int rc = e2e_sh(&out, "'%s' analyze --quiet --no-db --filter 'udp port 9' '%s' 2>&1", bin,
			src);
	cr_expect_eq(rc, 0, "%s", out);
	char want[800];
	snprintf(want, sizeof(want), "mxlag: %s: no packets match the filter\n", src);
	cr_expect_str_eq(out, want);
	free(out);
}

Test(empty, damaged_with_no_packet_is_still_an_error)
{
	char *out = NULL;
	int rc = e2e_sh(&out, "cd '%s' && head -c 10 hdr.pcap > cut.pcap && "
			      "'%s' analyze --quiet --db e.db cut.pcap 2>&1",
			dir, bin);
	cr_expect_eq(rc, 1, "%s", out);
	cr_expect_eq(count_lines(out), 1, "%s", out);
	free(out);
}
