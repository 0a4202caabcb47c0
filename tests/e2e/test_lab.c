/*
 * test_lab.c - the real-server lab (examples/lab/lab.sh): records every
 * scenario with the real Debian programs in network namespaces and checks
 * mxlag's diagnosis of each capture against the truth the lab wrote.
 *
 * Needs root and `ip netns`; skipped otherwise, or when MXLAG_LAB=0.
 * MXLAG_LAB_SCENARIOS="ptr-timeout ptr-fixed" runs only those (default all).
 * MXLAG_KEEP_TMP=1 keeps the captures, truths and logs in /tmp/mxlag-test-*.
 * MXLAG_LAB_DIR=DIR checks the captures of an earlier `lab.sh run ... -o DIR`
 * instead of running the lab (no root needed then).
 * A full run takes about eight minutes (tcpserver-pop3 alone two,
 * outlook-abort one); lab.sh serializes concurrent runs with a lock, so a run may first
 * wait for another one: CMakeLists.txt gives this test a longer TIMEOUT.
 * The postfix and sendmail scenarios fetch and unpack those packages into
 * /var/cache/mxlab on their first run (they conflict with exim4).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../support/e2e.h"

/* more than a pcap file header / a truth with something in it */
static int
file_nonempty(const char *p, long min)
{
	struct stat st;
	return stat(p, &st) == 0 && st.st_size > min;
}

Test(lab, real_servers, .timeout = 1500)
{
	const char *env = getenv("MXLAG_LAB");
	const char *given = getenv("MXLAG_LAB_DIR");
	if (given && !*given)
		given = NULL;
	if (env && strcmp(env, "0") == 0)
		cr_skip_test("MXLAG_LAB=0: real-server lab disabled");
	if (!given && geteuid() != 0)
		cr_skip_test("the real-server lab needs root (network namespaces, tcpdump)");
	if (!given && e2e_sh(NULL, "ip netns list >/dev/null 2>&1") != 0)
		cr_skip_test("`ip netns` is not available: no real-server lab");
	const char *src = getenv("MXLAG_SRC");
	if (!src)
		src = ".";
	char lab[1024];
	snprintf(lab, sizeof(lab), "%s/examples/lab/lab.sh", src);
	if (access(lab, R_OK) != 0)
		cr_skip_test("%s not found", lab);

	char *dir = given ? strdup(given) : e2e_tmpdir();
	cr_assert_not_null(dir);
	const char *which = getenv("MXLAG_LAB_SCENARIOS");
	if (!which || !*which)
		which = "all";

	char *names = NULL;
	int rc = e2e_sh(&names, "bash '%s' list | cut -f1", lab);
	cr_assert_eq(rc, 0, "lab.sh list failed");
	if (strcmp(which, "all") != 0) {
		free(names);
		names = strdup(which);
	}

	if (!given) {
		char *out = NULL;
		rc = e2e_sh(&out, "bash '%s' run %s -o '%s' 2>&1", lab, which, dir);
		cr_log_info("lab.sh run %s:\n%s", which, out ? out : "");
		cr_expect_eq(rc, 0, "lab.sh run %s failed (%d):\n%s", which, rc, out ? out : "");
		free(out);
	}

	int scenarios = 0, failed = 0;
	for (char *save = NULL, *n = strtok_r(names, " \t\n", &save); n;
	     n = strtok_r(NULL, " \t\n", &save)) {
		char pcap[1200], truth[1200], sub[1200];
		snprintf(pcap, sizeof(pcap), "%s/%s.pcap", dir, n);
		snprintf(truth, sizeof(truth), "%s/%s.truth.json", dir, n);
		snprintf(sub, sizeof(sub), "%s/check-%s", dir, n);
		scenarios++;
		if (!file_nonempty(pcap, 24) || !file_nonempty(truth, 2)) {
			cr_expect(0, "lab scenario %s produced no capture/truth (see %s/logs/%s)", n,
				  dir, n);
			failed++;
			continue;
		}
		mkdir(sub, 0755);
		/* a directory checked before (MXLAG_LAB_DIR) holds the last check's database */
		static const char *const ext[] = {"", "-wal", "-shm"};
		for (int e = 0; e < 3; e++) {
			char old[1300];
			snprintf(old, sizeof(old), "%s/mxlag.db%s", sub, ext[e]);
			unlink(old);
		}
		int f = e2e_check_truth(pcap, truth, sub);
		cr_expect_eq(f, 0, "lab scenario %s: %d truth checks failed", n, f);
		if (f)
			failed++;
		cr_log_info("lab scenario %s: %s", n, f ? "WRONG" : "right");
	}
	cr_expect_gt(scenarios, 0, "no lab scenario ran");
	cr_log_info("lab: %d of %d scenarios diagnosed as the truth says", scenarios - failed,
		    scenarios);
	free(names);
	if (given)
		free(dir);
	else
		e2e_rmdir(dir);
}
