/*
 * test_readonly.c - reports only read (issue 13): `mxlag report` and `mxlag
 * runs` work for a user with read permission only (nobody, on a 0644
 * database of root in a 0755 directory), with no writer and while a writer
 * has the database open; they never write (an older schema is refused with
 * a message naming `mxlag migrate`, and left as it was).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../support/e2e.h"

static char bin[512], gen[512];
static char *dir;

static void
setup(void)
{
	e2e_bin("mxlag", bin, sizeof(bin));
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	dir = e2e_tmpdir();
	cr_assert_not_null(dir);
	cr_assert_eq(chmod(dir, 0755), 0);
}

static void
teardown(void)
{
	e2e_rmdir(dir);
}

TestSuite(readonly, .init = setup, .fini = teardown);

/* mxlag ARGS in dir (as root), stdout and stderr to *out */
static int
mx(char **out, const char *args)
{
	return e2e_sh(out, "cd '%s' && '%s' %s 2>&1", dir, bin, args);
}

/* mxlag ARGS as the user nobody */
static int
mx_nobody(char **out, const char *args)
{
	return e2e_sh(out, "cd '%s' && setpriv --reuid=nobody --regid=nogroup --clear-groups "
	              "'%s' %s 2>&1", dir, bin, args);
}

static int
can_switch_user(void)
{
	if (geteuid() != 0) {
		cr_log_info("not root: the read-only tests as nobody are skipped");
		return 0;
	}
	/* valgrind (scripts/valgrind.sh) follows setpriv into mxlag and, as
	 * nobody, cannot write its logs under root's work directory */
	if (getenv("MXLAG_UNDER_VALGRIND")) {
		cr_log_info("under valgrind: the read-only tests as nobody are skipped");
		return 0;
	}
	if (e2e_sh(NULL, "setpriv --reuid=nobody --regid=nogroup --clear-groups true") != 0) {
		cr_log_info("setpriv to nobody:nogroup failed: skipped");
		return 0;
	}
	char *out = NULL;
	int ok = e2e_sh(&out, "setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "
	                "'%s'", bin) == 0;
	free(out);
	if (!ok)
		cr_log_info("nobody cannot run %s: skipped", bin);
	return ok;
}

static void
scenario(const char *name)
{
	char *out = NULL;
	int rc = e2e_sh(&out, "cd '%s' && '%s' scenario %s -o %s.pcap 2>&1", dir, gen, name, name);
	cr_assert_eq(rc, 0, "mxlag-gen: %s", out);
	free(out);
}

Test(readonly, report_as_nobody_with_and_without_a_writer, .timeout = 120)
{
	if (!can_switch_user())
		return;
	char db[600];
	char *out = NULL;
	struct stat st0, st1;
	snprintf(db, sizeof(db), "%s/mxlag.db", dir);
	scenario("ptr-timeout");
	cr_assert_eq(mx(&out, "analyze --quiet ptr-timeout.pcap"), 0, "%s", out);
	free(out);
	cr_assert_eq(chmod(db, 0644), 0);
	cr_assert_eq(stat(db, &st0), 0);

	/* no writer */
	cr_assert_eq(mx_nobody(&out, "report --format json slow"), 0, "%s", out);
	cr_expect(strstr(out, "200.2.0.192.in-addr.arpa") != NULL, "%s", out);
	free(out);
	cr_expect_eq(mx_nobody(&out, "report summary"), 0, "%s", out);
	free(out);
	cr_expect_eq(mx_nobody(&out, "runs"), 0, "%s", out);
	cr_expect(strstr(out, "finished") != NULL, "%s", out);
	free(out);
	cr_assert_eq(stat(db, &st1), 0);
	cr_expect(st0.st_size == st1.st_size && st0.st_mtim.tv_sec == st1.st_mtim.tv_sec &&
	              st0.st_mtim.tv_nsec == st1.st_mtim.tv_nsec,
	          "the reports did not write the database");

	/* a writer with the database open (a capture that does not end yet) */
	pid_t sh = e2e_held_writer(dir, bin, gen);
	int running = 0;
	for (double t0 = e2e_now_s(); e2e_now_s() - t0 < 30 && !running; usleep(100000)) {
		char *o = NULL;
		running = mx(&o, "runs --format csv") == 0 && o && strstr(o, ",running,");
		free(o);
	}
	cr_expect(running, "the writer runs");
	cr_expect_eq(mx_nobody(&out, "report --format json slow"), 0, "while writing: %s", out);
	cr_expect(out && strstr(out, "200.2.0.192.in-addr.arpa") != NULL, "%s", out);
	free(out);
	cr_expect_eq(mx_nobody(&out, "runs --format csv"), 0, "%s", out);
	cr_expect(out && strstr(out, ",running,") != NULL, "%s", out);
	free(out);
	kill(-sh, SIGTERM);
	waitpid(sh, NULL, 0);
	/* the writer ended (SIGTERM: it stores what it read and closes) */
	for (double t0 = e2e_now_s(); e2e_now_s() - t0 < 30; usleep(100000)) {
		char *o = NULL;
		int still = mx(&o, "runs --format csv") == 0 && o && strstr(o, ",running,");
		free(o);
		if (!still)
			break;
	}
	cr_expect_eq(mx_nobody(&out, "report summary"), 0, "after the writer: %s", out);
	free(out);
	cr_expect(e2e_sh(&out, "sqlite3 '%s' 'PRAGMA integrity_check'", db) == 0 && out &&
	              strcmp(out, "ok\n") == 0, "%s", out ? out : "");
	free(out);
}

/* An older schema: the report refuses it, names mxlag migrate, writes nothing. */
Test(readonly, older_schema_is_refused_not_migrated, .timeout = 60)
{
	char db[600];
	char *out = NULL;
	const char *src = getenv("MXLAG_SRC");
	cr_assert_not_null(src);
	snprintf(db, sizeof(db), "%s/mxlag.db", dir);
	cr_assert_eq(e2e_sh(NULL, "cp '%s/tests/fixtures/v4-release.db' '%s'", src, db), 0);
	cr_expect_eq(mx(&out, "report summary"), 1, "%s", out);
	cr_expect(strstr(out, "needs migration") && strstr(out, "mxlag migrate --db mxlag.db"),
	          "%s", out);
	free(out);
	cr_expect_eq(e2e_sql_long(db, "PRAGMA user_version"), 4, "not migrated");
	cr_expect_eq(mx(&out, "runs"), 1, "%s", out);
	free(out);
	cr_assert_eq(mx(&out, "migrate"), 0, "%s", out);
	free(out);
	cr_expect_gt(e2e_sql_long(db, "PRAGMA user_version"), 4);
	cr_expect_eq(mx(&out, "report summary"), 0, "%s", out);
	free(out);
}

/* A database whose -wal and -shm are gone (an older mxlag removed them at
 * close): nobody cannot create them; the message says what to do. */
Test(readonly, missing_wal_files_are_explained, .timeout = 60)
{
	if (!can_switch_user())
		return;
	char db[600];
	char *out = NULL;
	snprintf(db, sizeof(db), "%s/mxlag.db", dir);
	scenario("ptr-timeout");
	cr_assert_eq(mx(&out, "analyze --quiet ptr-timeout.pcap"), 0, "%s", out);
	free(out);
	cr_assert_eq(e2e_sh(NULL, "cd '%s' && rm -f mxlag.db-wal mxlag.db-shm", dir), 0);
	cr_expect_eq(mx_nobody(&out, "report summary"), 1, "%s", out);
	cr_expect(strstr(out, "mxlag migrate --db mxlag.db") != NULL, "%s", out);
	free(out);
	cr_assert_eq(mx(&out, "migrate"), 0, "%s", out);
	free(out);
	cr_expect_eq(mx_nobody(&out, "report summary"), 0, "%s", out);
	free(out);
}
