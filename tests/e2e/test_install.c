/*
 * test_install.c - issue 14: `cmake --install` puts mxlag and
 * mxlag-mail-report in PREFIX/bin, the systemd units in
 * PREFIX/lib/systemd/system and the examples in
 * PREFIX/share/doc/mxlag/examples, with the units and the cron entry naming
 * the installed programs; the installed binary runs; systemd-analyze
 * verify accepts the installed units (when systemd-analyze is there).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../support/e2e.h"

static char *dir;
static const char *build;

static void
setup(void)
{
	build = getenv("MXLAG_BUILD");
	cr_assert_not_null(build, "MXLAG_BUILD not set");
	dir = e2e_tmpdir();
	cr_assert_not_null(dir);
}

static void
teardown(void)
{
	e2e_rmdir(dir);
}

TestSuite(install, .init = setup, .fini = teardown, .timeout = 120);

static void
expect_file(const char *root, const char *rel, int exec)
{
	char p[1200];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	cr_expect_eq(stat(p, &st), 0, "%s is installed", p);
	cr_expect(S_ISREG(st.st_mode) && st.st_size > 0, "%s is a non-empty file", p);
	if (exec)
		cr_expect_eq(access(p, X_OK), 0, "%s is executable", p);
}

static const char *const units[] = {"mxlag-capture.service", "mxlag-report.service",
				    "mxlag-report.timer"};

/* the layout under root; bindir is what the installed files must name */
static void
check_layout(const char *root, const char *bindir)
{
	char rel[300], *out = NULL;
	expect_file(root, "bin/mxlag", 1);
	expect_file(root, "bin/mxlag-mail-report", 1);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		snprintf(rel, sizeof(rel), "lib/systemd/system/%s", units[i]);
		expect_file(root, rel, 0);
		snprintf(rel, sizeof(rel), "share/doc/mxlag/examples/%s", units[i]);
		expect_file(root, rel, 0);
	}
	expect_file(root, "share/doc/mxlag/examples/mxlag.cron", 0);
	expect_file(root, "share/doc/mxlag/README.md", 0);
	/* nothing of the build's other programs */
	snprintf(rel, sizeof(rel), "%s/bin/mxlag-gen", root);
	cr_expect_neq(access(rel, F_OK), 0, "mxlag-gen is not installed");

	/* the units and the cron entry run the installed programs */
	int rc = e2e_sh(&out, "cd '%s' && grep -h '^ExecStart=\\|^Environment=MXLAG=' "
			      "lib/systemd/system/mxlag-capture.service "
			      "lib/systemd/system/mxlag-report.service",
			root);
	cr_expect_eq(rc, 0, "%s", out);
	char want[1200];
	snprintf(want, sizeof(want),
		 "ExecStart=%s/mxlag capture -i eth0 --user mxlag --db /var/lib/mxlag/mxlag.db\n"
		 "Environment=MXLAG=%s/mxlag\n"
		 "ExecStart=%s/mxlag-mail-report --db /var/lib/mxlag/mxlag.db "
		 "--files /var/tmp/mx-%%%%Y%%%%m%%%%d-*.pcap --to postmaster\n",
		 bindir, bindir, bindir);
	cr_expect_str_eq(out, want);
	free(out);
	rc = e2e_sh(&out, "grep '^PATH=' '%s/share/doc/mxlag/examples/mxlag.cron'", root);
	cr_expect_eq(rc, 0);
	snprintf(want, sizeof(want), "PATH=%s:/usr/bin:/bin:/usr/sbin:/sbin\n", bindir);
	cr_expect_str_eq(out, want);
	free(out);
}

Test(install, prefix)
{
	char *out = NULL;
	int rc = e2e_sh(&out, "cmake --install '%s' --prefix '%s/p' 2>&1", build, dir);
	cr_assert_eq(rc, 0, "cmake --install: %s", out);
	free(out);
	char root[700], bindir[800];
	snprintf(root, sizeof(root), "%s/p", dir);
	snprintf(bindir, sizeof(bindir), "%s/bin", root);
	check_layout(root, bindir);

	/* the installed programs run */
	rc = e2e_sh(&out, "'%s/mxlag' --help", bindir);
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect(strncmp(out, "usage: mxlag ", 13) == 0, "%s", out);
	free(out);
	rc = e2e_sh(&out,
		    "cd '%s' && '%s/mxlag' analyze --quiet --db i.db \"$MXLAG_SRC/examples/ptr-timeout.pcap\" "
		    "2>&1 && '%s/mxlag' report --db i.db --fail-if-slow 0 slow 2>&1",
		    dir, bindir, bindir);
	cr_expect_eq(rc, 4, "the installed binary analyzes and reports: %s", out);
	cr_expect(strstr(out, "GREETING") != NULL, "%s", out);
	free(out);
	rc = e2e_sh(&out, "'%s/mxlag-mail-report' --help", bindir);
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect(strstr(out, "usage: mxlag-mail-report") != NULL, "%s", out);
	free(out);

	/* systemd accepts the installed units (their programs exist now) */
	if (e2e_sh(NULL, "command -v systemd-analyze >/dev/null") != 0) {
		cr_log_info("systemd-analyze not installed: units not verified");
		return;
	}
	rc = e2e_sh(&out,
		    "cd '%s/lib/systemd/system' && systemd-analyze verify ./mxlag-capture.service "
		    "./mxlag-report.service ./mxlag-report.timer 2>&1",
		    root);
	cr_expect_eq(rc, 0, "systemd-analyze verify: %s", out);
	cr_expect_str_eq(out, "", "systemd-analyze verify has no complaint");
	free(out);
}

/* a package build: DESTDIR staging, the files name the real prefix */
Test(install, destdir)
{
	char *out = NULL;
	int rc = e2e_sh(&out, "DESTDIR='%s/stage' cmake --install '%s' --prefix /usr/local 2>&1",
			dir, build);
	cr_assert_eq(rc, 0, "cmake --install: %s", out);
	free(out);
	char root[700];
	snprintf(root, sizeof(root), "%s/stage/usr/local", dir);
	check_layout(root, "/usr/local/bin");
	/* the shipped examples name /usr/local/bin: installed as shipped */
	const char *src = getenv("MXLAG_SRC");
	cr_assert_not_null(src);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		rc = e2e_sh(&out, "cmp '%s/examples/systemd/%s' '%s/lib/systemd/system/%s' 2>&1",
			    src, units[i], root, units[i]);
		cr_expect_eq(rc, 0, "%s: %s", units[i], out);
		free(out);
	}
}
