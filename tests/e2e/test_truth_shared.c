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
