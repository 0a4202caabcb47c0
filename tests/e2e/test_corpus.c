/*
 * test_corpus.c - every capture of ../shared/corpus and ../shared/captures
 * goes through the whole pipeline (capture, analyzers, correlation) and
 * the SQLite store without a crash, sanitizer report or hang.  In the
 * ASan/UBSan build this is the "hostile input" check on real files.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/e2e.h"

static char bin[512];
static const char *tmpdir;
static int files, failures;

static int
visit(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag != FTW_F)
		return 0;
	size_t n = strlen(path);
	bool pcap = n > 5 && strcmp(path + n - 5, ".pcap") == 0;
	bool pcapng = n > 7 && strcmp(path + n - 7, ".pcapng") == 0;
	bool cap = n > 4 && strcmp(path + n - 4, ".cap") == 0;
	if (!pcap && !pcapng && !cap)
		return 0;
	char *out = NULL;
	/* exit 0: analyzed; 1: nothing readable (a clear message); anything
	 * else (sanitizer exit codes 86/87, signals) is a bug */
	int rc = e2e_sh(&out,
			"ASAN_OPTIONS=exitcode=86:detect_leaks=1 UBSAN_OPTIONS=exitcode=87 "
			"timeout 120 '%s' analyze --quiet --db '%s/c%d.db' '%s' 2>&1",
			bin, tmpdir, files, path);
	files++;
	if (rc != 0 && rc != 1) {
		failures++;
		cr_expect(0, "%s: exit %d\n%.2000s", path, rc, out ? out : "");
	} else if (rc == 1) {
		cr_expect(out && strlen(out) < 600 && strstr(out, "mxlag:") != NULL,
			  "%s: exit 1 without one clear message: %s", path, out ? out : "");
	}
	free(out);
	return 0;
}

Test(corpus, every_capture_through_the_pipeline, .timeout = 1500)
{
	const char *sh = e2e_shared();
	if (!sh)
		cr_skip_test("../shared not present");
	e2e_bin("mxlag", bin, sizeof(bin));
	char *dir = e2e_tmpdir();
	tmpdir = dir;
	char root[600];
	snprintf(root, sizeof(root), "%s/corpus", sh);
	nftw(root, visit, 16, FTW_PHYS);
	snprintf(root, sizeof(root), "%s/captures", sh);
	nftw(root, visit, 16, FTW_PHYS);
	e2e_rmdir(dir);
	cr_expect_gt(files, 50, "only %d captures found", files);
	cr_expect_eq(failures, 0, "%d of %d captures failed", failures, files);
}
