/*
 * test_dup_guard.c - the duplicate guard by content (issue 13), through the
 * real binary: a capture whose packets are already in the database is
 * refused (exit 3, one line naming the file, the packet and the earlier
 * run) whatever the order or grouping of the files, whether it is the same
 * file, a compressed or pcapng copy, or a slice that overlaps an earlier
 * one; nothing of the refused run stays (no orphan row).  Captures that
 * merely overlap in time (the same traffic recorded at another point) and
 * adjacent slices are not refused.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/e2e.h"

static char bin[512], gen[512];
static char *dir;
static char whole[600];
static long npkts;

/*
 * Copies packets [from, to) (numbered from 1) of the classic pcap src to
 * dst, their times moved by shift_us; returns the number of packets in src.
 */
static long
slice(const char *src, const char *dst, long from, long to, int64_t shift_us)
{
	FILE *in = fopen(src, "rb"), *out = dst ? fopen(dst, "wb") : NULL;
	cr_assert_not_null(in, "%s", src);
	uint8_t hdr[24], rec[16];
	static uint8_t data[262144];
	cr_assert_eq(fread(hdr, 1, 24, in), 24);
	uint32_t magic;
	memcpy(&magic, hdr, 4);
	cr_assert_eq(magic, 0xa1b2c3d4u, "a microsecond pcap in host order");
	if (out)
		cr_assert_eq(fwrite(hdr, 1, 24, out), 24);
	long n = 0;
	while (fread(rec, 1, 16, in) == 16) {
		uint32_t sec, usec, incl;
		memcpy(&sec, rec, 4);
		memcpy(&usec, rec + 4, 4);
		memcpy(&incl, rec + 8, 4);
		cr_assert_leq(incl, sizeof(data));
		cr_assert_eq(fread(data, 1, incl, in), incl);
		n++;
		if (!out || n < from || n >= to)
			continue;
		int64_t t = (int64_t)sec * 1000000 + usec + shift_us;
		sec = (uint32_t)(t / 1000000);
		usec = (uint32_t)(t % 1000000);
		memcpy(rec, &sec, 4);
		memcpy(rec + 4, &usec, 4);
		cr_assert_eq(fwrite(rec, 1, 16, out), 16);
		cr_assert_eq(fwrite(data, 1, incl, out), incl);
	}
	fclose(in);
	if (out)
		cr_assert_eq(fclose(out), 0);
	return n;
}

static void
setup(void)
{
	e2e_bin("mxlag", bin, sizeof(bin));
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	dir = e2e_tmpdir();
	cr_assert_not_null(dir);
	snprintf(whole, sizeof(whole), "%s/whole.pcap", dir);
	char *out = NULL;
	int rc = e2e_sh(&out, "'%s' workload --sessions 1500 -q -o '%s' 2>&1", gen, whole);
	cr_assert_eq(rc, 0, "mxlag-gen: %s", out);
	free(out);
	npkts = slice(whole, NULL, 0, 0, 0);
	cr_assert_gt(npkts, 30000, "%ld packets", npkts);
}

static void
teardown(void)
{
	e2e_rmdir(dir);
}

TestSuite(dup_guard, .init = setup, .fini = teardown);

/* mxlag analyze --db DB FILES... in dir; *out the output (stderr too) */
static int
analyze(char **out, const char *db, const char *files)
{
	return e2e_sh(out, "cd '%s' && '%s' analyze --quiet --db '%s' %s 2>&1", dir, bin, db, files);
}

static long
sql(const char *db, const char *q)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/%s", dir, db);
	return e2e_sql_long(path, q);
}

/* rows of the given run in any table with a run_id column, and rows naming no run */
static void
expect_no_rows_of(const char *db, int run)
{
	char *tables = NULL, path[700];
	snprintf(path, sizeof(path), "%s/%s", dir, db);
	cr_assert_eq(e2e_sh(&tables,
	                    "sqlite3 '%s' \"SELECT m.name FROM sqlite_schema m, "
	                    "pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = "
	                    "'run_id'\"",
	                    path),
	             0);
	cr_assert(tables && strstr(tables, "anchors"), "%s", tables ? tables : "");
	char *save = NULL;
	for (char *t = strtok_r(tables, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
		char q[256];
		snprintf(q, sizeof(q),
		         "SELECT count(*) FROM %s WHERE run_id = %d OR run_id NOT IN (SELECT id FROM runs)",
		         t, run);
		cr_expect_eq(e2e_sql_long(path, q), 0, "rows of run %d or of no run in %s", run, t);
	}
	free(tables);
	snprintf(path, sizeof(path), "SELECT count(*) FROM runs WHERE id = %d", run);
	cr_expect_eq(sql(db, path), 0, "run %d is gone", run);
}

/* the refusal: exit 3, one line naming the file, the earlier run and the way out */
static void
expect_refused(const char *db, const char *files, const char *file, int earlier, int refused_run)
{
	char *out = NULL, want[64];
	long before = sql(db, "SELECT count(*) FROM sessions");
	int rc = analyze(&out, db, files);
	cr_expect_eq(rc, 3, "%s: %s", files, out);
	cr_expect(strstr(out, file) != NULL, "names %s: %s", file, out);
	snprintf(want, sizeof(want), "stored by run %d", earlier);
	cr_expect(strstr(out, want) != NULL, "names run %d: %s", earlier, out);
	snprintf(want, sizeof(want), "mxlag runs delete %d", earlier);
	cr_expect(strstr(out, want) != NULL, "%s", out);
	cr_expect(strchr(out, '\n') == out + strlen(out) - 1, "one line: %s", out);
	free(out);
	cr_expect_eq(sql(db, "SELECT count(*) FROM sessions"), before, "%s: nothing stored", files);
	expect_no_rows_of(db, refused_run);
}

Test(dup_guard, reordered_regrouped_and_copied_files_are_refused, .timeout = 300)
{
	char *out = NULL;
	long half = npkts / 2;
	char cmd[2048];
	cr_assert_eq(slice(whole, strcat(strcpy(cmd, dir), "/a.pcap"), 1, half, 0), npkts);
	cr_assert_eq(slice(whole, strcat(strcpy(cmd, dir), "/b.pcap"), half, npkts + 1, 0), npkts);

	/* a and b together; then each alone, reversed, and copies */
	cr_assert_eq(analyze(&out, "t.db", "a.pcap b.pcap"), 0, "%s", out);
	free(out);
	expect_refused("t.db", "b.pcap a.pcap", "a.pcap", 1, 2);
	expect_refused("t.db", "b.pcap", "b.pcap", 1, 2);
	cr_assert_eq(e2e_sh(&out, "cd '%s' && gzip -c a.pcap > a.pcap.gz && cp b.pcap b2.pcap", dir),
	             0);
	free(out);
	expect_refused("t.db", "a.pcap.gz", "a.pcap.gz", 1, 2);
	expect_refused("t.db", "b2.pcap", "b2.pcap", 1, 2);
	/* the whole capture, that a and b were cut from */
	expect_refused("t.db", "whole.pcap", "whole.pcap", 1, 2);
	cr_expect_eq(sql("t.db", "SELECT count(*) FROM runs"), 1);

	/* the same traffic recorded elsewhere (other capture times): not a duplicate */
	cr_assert_eq(slice(whole, strcat(strcpy(cmd, dir), "/mirror.pcap"), 1, npkts + 1, 3), npkts);
	cr_expect_eq(analyze(&out, "t.db", "mirror.pcap"), 0, "%s", out);
	free(out);
	cr_expect_eq(sql("t.db", "SELECT count(*) FROM runs"), 2);

	/* once run 1 is deleted, its files may be analyzed again */
	cr_assert_eq(e2e_sh(&out, "cd '%s' && '%s' runs --db t.db delete 1 2>&1", dir, bin), 0, "%s",
	             out);
	free(out);
	cr_expect_eq(analyze(&out, "t.db", "b.pcap a.pcap"), 0, "%s", out);
	free(out);
}

Test(dup_guard, overlapping_slices_are_refused_adjacent_ones_are_not, .timeout = 300)
{
	char *out = NULL, path[700];
	long third = npkts / 3;
	/* 1: the first two thirds; 2: the last third and 3,000 packets before it */
	snprintf(path, sizeof(path), "%s/head.pcap", dir);
	slice(whole, path, 1, 2 * third, 0);
	snprintf(path, sizeof(path), "%s/tail.pcap", dir);
	slice(whole, path, 2 * third - 3000, npkts + 1, 0);
	snprintf(path, sizeof(path), "%s/rest.pcap", dir);
	slice(whole, path, 2 * third, npkts + 1, 0);
	cr_assert_eq(analyze(&out, "s.db", "head.pcap"), 0, "%s", out);
	free(out);
	expect_refused("s.db", "tail.pcap", "tail.pcap", 1, 2);
	/* the packets that follow head.pcap exactly: accepted */
	cr_expect_eq(analyze(&out, "s.db", "rest.pcap"), 0, "%s", out);
	free(out);
	cr_expect_eq(sql("s.db", "SELECT count(*) FROM runs"), 2);
	/* and the other way round: the later slice first, then one reaching into it */
	snprintf(path, sizeof(path), "%s/early.pcap", dir);
	slice(whole, path, 1, third + 3000, 0);
	snprintf(path, sizeof(path), "%s/late.pcap", dir);
	slice(whole, path, third, npkts + 1, 0);
	cr_assert_eq(analyze(&out, "r.db", "late.pcap"), 0, "%s", out);
	free(out);
	expect_refused("r.db", "early.pcap", "early.pcap", 1, 2);
}
