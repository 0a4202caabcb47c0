/*
 * test_faults.c - mxlag when the world goes wrong around it: SIGINT and
 * SIGTERM during an offline analysis (stop, store what was read, exit 0),
 * SIGKILL (the database stays consistent and holds what was committed), a
 * database locked by another process (the writer waits), a full disk (a
 * 1 MiB tmpfs: clear error, non-zero exit, consistent database), an
 * unreadable capture and database, and a missing interface (one clear
 * line each).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
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
}

static void
teardown(void)
{
	e2e_rmdir(dir);
}

TestSuite(faults, .init = setup, .fini = teardown);

static void
path_in(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

static int
count_lines(const char *s)
{
	int n = 0;
	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

static int
integrity_ok(const char *db)
{
	char *out = NULL;
	int ok = e2e_sh(&out, "sqlite3 '%s' 'pragma integrity_check' 2>&1", db) == 0 && out &&
	         strcmp(out, "ok\n") == 0;
	if (!ok)
		cr_log_error("integrity_check of %s: %s", db, out ? out : "(null)");
	free(out);
	return ok;
}

static void
workload(const char *path, int sessions)
{
	char *out = NULL;
	int rc = e2e_sh(&out, "'%s' workload -o '%s' --sessions %d 2>&1", gen, path, sessions);
	cr_assert_eq(rc, 0, "mxlag-gen: %s", out);
	free(out);
}

/* Starts `mxlag ARGS` in dir with stderr to dir/err.txt; returns its pid. */
static pid_t
start(const char *args)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "cd '%s' && exec '%s' %s >/dev/null 2>err.txt", dir, bin, args);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Waits up to limit_s for pid; returns its wait status, or -1 (then kills it). */
static int
wait_for(pid_t pid, double limit_s)
{
	double t0 = e2e_now_s();
	int st;
	while (e2e_now_s() - t0 < limit_s) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* Waits until the run has committed some sessions (or the process ended). */
static void
wait_for_rows(pid_t pid, const char *db, double limit_s)
{
	double t0 = e2e_now_s();
	while (e2e_now_s() - t0 < limit_s) {
		if (e2e_sql_long(db, "select count(*) from sessions") > 0)
			return;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			cr_assert_fail("mxlag ended before any rows were committed");
		usleep(100000);
	}
	cr_log_warn("no committed sessions after %.0f s", limit_s);
}

static char *
err_text(void)
{
	char p[600];
	path_in(p, sizeof(p), "err.txt");
	char *s = e2e_slurp(p);
	return s ? s : strdup("");
}

/* ---- signals ------------------------------------------------------------------- */

/*
 * `mxlag analyze --db db -` fed through a pipe, so a test can stop in the
 * middle of the capture however fast the build is: feed_start() writes the
 * first `head` bytes, feed_rest() the rest (until mxlag stops reading).
 */
struct feeder {
	pid_t pid;
	int fd;
	FILE *in;
};

static void
feed_start(struct feeder *f, const char *cap, const char *db, long head)
{
	char cmd[2000];
	int p[2];
	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(pipe(p), 0);
	snprintf(cmd, sizeof(cmd), "cd '%s' && exec '%s' analyze --quiet --db '%s' - 2>err.txt",
	         dir, bin, db);
	f->pid = fork();
	cr_assert_geq(f->pid, 0);
	if (f->pid == 0) {
		dup2(p[0], 0);
		close(p[0]);
		close(p[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	f->fd = p[1];
	f->in = fopen(cap, "rb");
	cr_assert_not_null(f->in);
	char buf[65536];
	while (head > 0) {
		size_t want = head < (long)sizeof(buf) ? (size_t)head : sizeof(buf);
		size_t r = fread(buf, 1, want, f->in);
		if (r == 0)
			break;
		if (write(f->fd, buf, r) != (ssize_t)r)
			break;
		head -= (long)r;
	}
}

static void
feed_rest(struct feeder *f)
{
	char buf[65536];
	size_t r;
	while ((r = fread(buf, 1, sizeof(buf), f->in)) > 0)
		if (write(f->fd, buf, r) != (ssize_t)r)
			break; /* EPIPE: mxlag stopped reading */
	fclose(f->in);
	close(f->fd);
}

static long
file_size(const char *path)
{
	struct stat sb;
	cr_assert_eq(stat(path, &sb), 0);
	return (long)sb.st_size;
}

/* The signal arrives while mxlag waits for more input (a pipe). */
static void
stop_pipe_with(int sig)
{
	char cap[600], db[600];
	struct feeder f;
	path_in(cap, sizeof(cap), "w.pcap");
	path_in(db, sizeof(db), "w.db");
	workload(cap, 20000);
	feed_start(&f, cap, db, file_size(cap) * 6 / 10);
	wait_for_rows(f.pid, db, 60);
	long before = e2e_sql_long(db, "select count(*) from sessions");
	cr_assert_eq(kill(f.pid, sig), 0);
	double t0 = e2e_now_s();
	feed_rest(&f);
	int st = wait_for(f.pid, 60);
	double took = e2e_now_s() - t0;
	char *err = err_text();
	cr_assert_neq(st, -1, "mxlag still running 60 s after signal %d", sig);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "signal %d: status 0x%x: %s", sig, st,
	          err);
	cr_expect(strstr(err, "interrupted") != NULL, "says it was interrupted: %s", err);
	cr_expect_eq(count_lines(err), 1, "one line, no damage warning: %s", err);
	free(err);
	fprintf(stderr, "faults: signal %d on a pipe: exited %.2f s after it\n", sig, took);
	cr_expect(integrity_ok(db));
	cr_expect_eq(e2e_sql_long(db, "select count(*) from runs where finished is not null"), 1,
	             "the run is finished");
	long n = e2e_sql_long(db, "select count(*) from sessions");
	cr_expect(n >= before && n < 20000, "part of the sessions stored: %ld (%ld before)", n,
	          before);
	cr_expect_eq(e2e_sql_long(db, "select count(*) from sessions where end is null or outcome is "
	                          "null"),
	             0, "open sessions were finished");
	cr_expect_eq(e2e_sh(NULL, "'%s' report --db '%s' summary >/dev/null 2>&1", bin, db), 0);
}

/* The signal arrives while mxlag reads a big file as fast as it can. */
static void
stop_file_with(int sig)
{
	char cap[600], db[600], args[2000];
	path_in(cap, sizeof(cap), "w.pcap");
	path_in(db, sizeof(db), "w.db");
	workload(cap, 20000);
	snprintf(args, sizeof(args), "analyze --quiet --db '%s' '%s'", db, cap);
	pid_t pid = start(args);
	double w0 = e2e_now_s();
	while (e2e_sql_long(db, "select count(*) from runs") < 1 && e2e_now_s() - w0 < 30)
		usleep(20000);
	usleep(300000);
	double t0 = e2e_now_s();
	cr_assert_eq(kill(pid, sig), 0);
	int st = wait_for(pid, 60);
	double took = e2e_now_s() - t0;
	char *err = err_text();
	cr_assert_neq(st, -1, "mxlag still running 60 s after signal %d", sig);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "signal %d: status 0x%x: %s", sig, st,
	          err);
	cr_expect(strstr(err, "interrupted") != NULL, "says it was interrupted: %s", err);
	cr_expect_eq(count_lines(err), 1, "one line: %s", err);
	free(err);
	fprintf(stderr, "faults: signal %d on a file: exited %.2f s after it\n", sig, took);
	cr_expect(integrity_ok(db));
	cr_expect_eq(e2e_sql_long(db, "select count(*) from runs where finished is not null"), 1,
	             "the run is finished");
	long n = e2e_sql_long(db, "select count(*) from sessions");
	cr_expect(n >= 0 && n < 20000, "part of the sessions stored: %ld", n);
	cr_expect_eq(e2e_sql_long(db, "select count(*) from sessions where end is null or outcome is "
	                          "null"),
	             0, "open sessions were finished");
}

Test(faults, sigint_stops_offline_analysis_cleanly, .timeout = 180)
{
	stop_pipe_with(SIGINT);
}

Test(faults, sigterm_stops_offline_analysis_cleanly, .timeout = 180)
{
	stop_pipe_with(SIGTERM);
}

Test(faults, sigint_during_a_big_file, .timeout = 180)
{
	stop_file_with(SIGINT);
}

Test(faults, sigkill_leaves_a_consistent_database, .timeout = 180)
{
	char cap[600], db[600], *out = NULL;
	struct feeder f;
	path_in(cap, sizeof(cap), "w.pcap");
	path_in(db, sizeof(db), "k.db");
	workload(cap, 20000);
	feed_start(&f, cap, db, file_size(cap) * 6 / 10);
	wait_for_rows(f.pid, db, 60);
	usleep(300000);
	cr_assert_eq(kill(f.pid, SIGKILL), 0);
	int st = wait_for(f.pid, 30);
	fclose(f.in);
	close(f.fd);
	cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status 0x%x", st);
	cr_expect(integrity_ok(db));
	long n = e2e_sql_long(db, "select count(*) from sessions");
	cr_expect_gt(n, 0, "committed sessions survive");
	cr_expect_eq(e2e_sql_long(db, "select count(*) from runs where finished is null"), 1,
	             "the run is left unfinished");
	cr_expect_eq(e2e_sql_long(db, "select count(*) from transactions t left join sessions s on "
	                          "s.id = t.session_id where s.id is null"),
	             0, "no transaction without its session");
	/* the per-minute counts were committed with their rows */
	cr_expect_eq(e2e_count_mismatches(db), 0, "counts equal to the committed rows");
	cr_expect_eq(e2e_sh(NULL, "'%s' report --db '%s' summary >/dev/null 2>&1", bin, db), 0,
	             "reports still work");
	/* the same packets again are refused: the killed run stored some of
	 * them (the duplicate guard by content; its pipe had no fingerprint) */
	int rc = e2e_sh(&out, "'%s' analyze --quiet --db '%s' '%s' 2>&1", bin, db, cap);
	cr_expect_eq(rc, 3, "%s", out);
	cr_expect(strstr(out, "stored by run 1") != NULL, "%s", out);
	free(out);
	cr_expect_eq(e2e_sql_long(db, "select count(*) from sessions"), n);
	/* the database takes the next run once the killed one is deleted */
	rc = e2e_sh(&out, "'%s' runs --db '%s' delete 1 2>&1", bin, db);
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
	rc = e2e_sh(&out, "'%s' analyze --quiet --db '%s' '%s' 2>&1", bin, db, cap);
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
	n = 0;
	cr_expect(integrity_ok(db));
	cr_expect_eq(e2e_sql_long(db, "select count(*) from sessions"), n + 20000);
	cr_expect_eq(e2e_sql_long(db, "select count(*) from runs where finished is not null"), 1);
	cr_expect_eq(e2e_count_mismatches(db), 0);
}

/* ---- a locked database --------------------------------------------------------------- */

static void
make_db(const char *db, const char *cap)
{
	char *out = NULL;
	cr_assert_eq(e2e_sh(&out, "'%s' analyze --quiet --db '%s' '%s' 2>&1", bin, db, cap), 0,
	             "%s", out);
	free(out);
}

/*
 * Holds sql open in a sqlite3 shell for hold_s seconds (in the background);
 * the shell waits up to 60 s for the lock if another process has it.
 */
static pid_t
hold_lock(const char *db, const char *sql, int hold_s)
{
	char cmd[2000];
	snprintf(cmd, sizeof(cmd),
	         "(echo '.timeout 60000'; echo '%s'; sleep %d; echo 'COMMIT;') | sqlite3 '%s' "
	         ">/dev/null",
	         sql, hold_s, db);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	usleep(700000); /* let it take the lock */
	return pid;
}

Test(faults, writer_waits_for_a_locked_database, .timeout = 120)
{
	char a[600], b[600], db[600], *out = NULL;
	path_in(a, sizeof(a), "a.pcap");
	path_in(b, sizeof(b), "b.pcap");
	path_in(db, sizeof(db), "lock.db");
	workload(a, 50);
	cr_assert_eq(
	    e2e_sh(NULL, "'%s' workload -o '%s' --sessions 60 --seed 7 >/dev/null 2>&1", gen, b),
	    0);
	make_db(db, a);

	/* another writer holds the write lock for 4 s: mxlag waits, then writes */
	pid_t h = hold_lock(db, "BEGIN IMMEDIATE;", 4);
	double t0 = e2e_now_s();
	int rc = e2e_sh(&out, "'%s' analyze --quiet --db '%s' '%s' 2>&1", bin, db, b);
	double took = e2e_now_s() - t0;
	cr_expect_eq(rc, 0, "writer waited for the lock: %s", out);
	cr_expect_geq(took, 2.5, "it did wait (%.2f s)", took);
	free(out);
	waitpid(h, NULL, 0);
	fprintf(stderr, "faults: writer waited %.2f s for a 4 s write lock\n", took);
	cr_expect(integrity_ok(db));
	cr_expect_eq(e2e_sql_long(db, "select count(*) from sessions"), 110);
	cr_expect_eq(e2e_sql_long(db, "select count(*) from runs where finished is not null"), 2);
}

Test(faults, long_reader_does_not_stop_the_writer, .timeout = 120)
{
	char a[600], b[600], db[600], *out = NULL;
	path_in(a, sizeof(a), "a.pcap");
	path_in(b, sizeof(b), "b.pcap");
	path_in(db, sizeof(db), "read.db");
	workload(a, 50);
	cr_assert_eq(
	    e2e_sh(NULL, "'%s' workload -o '%s' --sessions 60 --seed 9 >/dev/null 2>&1", gen, b),
	    0);
	make_db(db, a);
	pid_t h = hold_lock(db, "BEGIN; SELECT count(*) FROM sessions;", 5);
	int rc = e2e_sh(&out, "'%s' analyze --quiet --db '%s' '%s' 2>&1", bin, db, b);
	cr_expect_eq(rc, 0, "%s", out);
	free(out);
	/* a report reads while the reader still holds its snapshot */
	cr_expect_eq(e2e_sh(NULL, "'%s' report --db '%s' summary >/dev/null 2>&1", bin, db), 0);
	waitpid(h, NULL, 0);
	cr_expect(integrity_ok(db));
	cr_expect_eq(e2e_sql_long(db, "select count(*) from sessions"), 110);
}

/*
 * A load into a new database runs with a rollback journal (not WAL), where a
 * reader holds up the writer's commits: the load waits for a reader that
 * keeps its snapshot longer than the usual 10 s, it does not fail.
 */
Test(faults, long_reader_during_a_load_into_a_new_database, .timeout = 180)
{
	char cap[600], db[600], journal[700];
	struct feeder f;
	struct stat sb;
	path_in(cap, sizeof(cap), "w.pcap");
	path_in(db, sizeof(db), "new.db");
	workload(cap, 20000);
	feed_start(&f, cap, db, file_size(cap) * 6 / 10);
	wait_for_rows(f.pid, db, 60);
	snprintf(journal, sizeof(journal), "%s-journal", db);
	cr_expect_eq(stat(journal, &sb), 0, "the load runs with a rollback journal");

	/* a reader (waiting for the lock if it must) keeps its snapshot for 14 s */
	pid_t h = hold_lock(db, "BEGIN; SELECT count(*) FROM sessions;", 14);
	double t0 = e2e_now_s();
	feed_rest(&f);
	int st = wait_for(f.pid, 150);
	double took = e2e_now_s() - t0;
	char *err = err_text();
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x: %s", st, err);
	free(err);
	cr_expect_geq(took, 8.0, "it waited for the reader (%.1f s)", took);
	fprintf(stderr, "faults: a new database's load waited %.1f s for a 14 s reader\n", took);
	waitpid(h, NULL, 0);
	cr_expect(integrity_ok(db));
	cr_expect_eq(e2e_sql_long(db, "select count(*) from sessions"), 20000);
	cr_expect_eq(e2e_sql_long(db, "select count(*) from runs where finished is not null"), 1);
	cr_expect_eq(e2e_sql_long(db, "select count(*) from sqlite_schema where type = 'index'"
	                          " and sql is not null"),
	             17, "indexes built"); /* schema.sql's (18: sessions_t0 and names_last gone,
	                                     sessions_out new) */
	cr_expect_eq(e2e_sql_long(db, "select journal_mode = 'wal' from pragma_journal_mode"), 1,
	             "back to WAL");
}

Test(faults, write_lock_held_too_long_is_one_clear_error, .timeout = 120)
{
	char a[600], b[600], db[600], *out = NULL;
	path_in(a, sizeof(a), "a.pcap");
	path_in(b, sizeof(b), "b.pcap");
	path_in(db, sizeof(db), "stuck.db");
	workload(a, 20);
	cr_assert_eq(
	    e2e_sh(NULL, "'%s' workload -o '%s' --sessions 20 --seed 5 >/dev/null 2>&1", gen, b),
	    0);
	make_db(db, a);
	/* longer than the 10 s busy timeout */
	pid_t h = hold_lock(db, "BEGIN IMMEDIATE;", 16);
	int rc = e2e_sh(&out, "'%s' analyze --quiet --db '%s' '%s' 2>&1", bin, db, b);
	cr_expect_eq(rc, 1, "%s", out);
	cr_expect(strstr(out, "lock") != NULL, "names the lock: %s", out);
	cr_expect_eq(count_lines(out), 1, "one line: %s", out);
	free(out);
	waitpid(h, NULL, 0);
	cr_expect(integrity_ok(db));
	cr_expect_eq(e2e_sql_long(db, "select count(*) from sessions"), 20);
}

/* ---- a full disk --------------------------------------------------------------------- */

Test(faults, full_disk_is_a_clear_error_and_the_database_survives, .timeout = 180)
{
	char cap[600], mnt[600], db[700], *out = NULL;
	if (geteuid() != 0)
		cr_skip_test("mounting a tmpfs needs root");
	path_in(cap, sizeof(cap), "w.pcap");
	path_in(mnt, sizeof(mnt), "small");
	workload(cap, 3000);
	cr_assert_eq(mkdir(mnt, 0755), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0)
		cr_skip_test("cannot mount a tmpfs here");
	snprintf(db, sizeof(db), "%s/full.db", mnt);
	int rc = e2e_sh(&out, "'%s' analyze --quiet --db '%s' '%s' 2>&1", bin, db, cap);
	cr_expect_neq(rc, 0, "a full disk is an error: %s", out);
	cr_expect(strstr(out, "full") != NULL, "says the disk is full: %s", out);
	cr_expect(strstr(out, "Sanitizer") == NULL, "%s", out);
	cr_expect_leq(count_lines(out), 2, "%s", out);
	fprintf(stderr, "faults: full disk: exit %d: %s", rc, out);
	free(out);
	cr_expect(integrity_ok(db));
	cr_expect_geq(e2e_sql_long(db, "select count(*) from runs"), 1);
	umount2(mnt, MNT_DETACH);
}

/* ---- unreadable inputs, missing interface --------------------------------------------- */

static int
as_nobody(char **out, const char *args)
{
	return e2e_sh(
	    out, "cd '%s' && setpriv --reuid=nobody --regid=nogroup --clear-groups '%s' %s 2>&1",
	    dir, bin, args);
}

static void
need_root_and_setpriv(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to switch to nobody");
	if (e2e_sh(NULL,
	           "setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null") != 0)
		cr_skip_test("setpriv to nobody does not work here");
	/* nobody must reach the binary and the directory */
	chmod(dir, 0755);
	char b[600];
	snprintf(b, sizeof(b), "%s", bin);
	if (e2e_sh(NULL, "setpriv --reuid=nobody --regid=nogroup --clear-groups test -x '%s'", b) !=
	    0)
		cr_skip_test("nobody cannot run %s", bin);
}

Test(faults, unreadable_capture_is_one_clear_line, .timeout = 60)
{
	char cap[600], args[1400], *out = NULL;
	need_root_and_setpriv();
	path_in(cap, sizeof(cap), "secret.pcap");
	workload(cap, 5);
	cr_assert_eq(chmod(cap, 0), 0);
	snprintf(args, sizeof(args), "analyze --no-db '%s'", cap);
	int rc = as_nobody(&out, args);
	cr_expect_eq(rc, 1, "%s", out);
	cr_expect(strstr(out, "secret.pcap") != NULL, "names the file: %s", out);
	cr_expect(strstr(out, "ermission") != NULL, "says why: %s", out);
	cr_expect_eq(count_lines(out), 1, "one line: %s", out);
	free(out);
	/* one unreadable file among readable ones: warned about, the rest analyzed */
	char ok[600];
	path_in(ok, sizeof(ok), "ok.pcap");
	workload(ok, 5);
	chmod(ok, 0644);
	snprintf(args, sizeof(args), "analyze --no-db --quiet '%s' '%s'", cap, ok);
	rc = as_nobody(&out, args);
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect(strstr(out, "secret.pcap") != NULL, "%s", out);
	cr_expect_eq(count_lines(out), 1, "%s", out);
	free(out);
}

Test(faults, unwritable_database_is_one_clear_line, .timeout = 60)
{
	char cap[600], ro[600], args[1400], *out = NULL;
	need_root_and_setpriv();
	path_in(cap, sizeof(cap), "w.pcap");
	path_in(ro, sizeof(ro), "ro");
	workload(cap, 5);
	chmod(cap, 0644);
	cr_assert_eq(mkdir(ro, 0755), 0); /* owned by root: nobody cannot create files */
	snprintf(args, sizeof(args), "analyze --db '%s/x.db' '%s'", ro, cap);
	int rc = as_nobody(&out, args);
	cr_expect_eq(rc, 1, "%s", out);
	cr_expect(strstr(out, "x.db") != NULL, "names the database: %s", out);
	cr_expect_eq(count_lines(out), 1, "one line: %s", out);
	free(out);
}

Test(faults, odd_paths_are_one_clear_line, .timeout = 60)
{
	char args[1400], *out = NULL, notdb[600], cap[600];
	path_in(cap, sizeof(cap), "w.pcap");
	workload(cap, 5);
	/* a directory as capture */
	snprintf(args, sizeof(args), "cd '%s' && '%s' analyze --no-db '%s' 2>&1", dir, bin, dir);
	int rc = e2e_sh(&out, "%s", args);
	cr_expect_eq(rc, 1, "%s", out);
	cr_expect_eq(count_lines(out), 1, "%s", out);
	free(out);
	/* an empty input (0 bytes) is an empty capture: exit 0, one notice */
	rc = e2e_sh(&out, "'%s' analyze --no-db --quiet /dev/null 2>&1", bin);
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect_str_eq(out, "mxlag: /dev/null: no packets\n");
	free(out);
	/* a database that is not a database, and a directory as database */
	path_in(notdb, sizeof(notdb), "not.db");
	FILE *f = fopen(notdb, "w");
	cr_assert_not_null(f);
	for (int i = 0; i < 1000; i++)
		fputs("this is not an SQLite file\n", f);
	fclose(f);
	rc = e2e_sh(&out, "'%s' analyze --quiet --db '%s' '%s' 2>&1", bin, notdb, cap);
	cr_expect_eq(rc, 1, "%s", out);
	cr_expect(strstr(out, "not.db") != NULL, "%s", out);
	cr_expect_eq(count_lines(out), 1, "%s", out);
	free(out);
	rc = e2e_sh(&out, "'%s' analyze --quiet --db '%s' '%s' 2>&1", bin, dir, cap);
	cr_expect_eq(rc, 1, "%s", out);
	cr_expect_eq(count_lines(out), 1, "%s", out);
	free(out);
	rc = e2e_sh(&out, "'%s' report --db '%s' summary 2>&1", bin, notdb);
	cr_expect_eq(rc, 1, "%s", out);
	cr_expect_eq(count_lines(out), 1, "%s", out);
	free(out);
}

Test(faults, missing_interface_is_one_clear_line, .timeout = 60)
{
	char *out = NULL;
	int rc = e2e_sh(&out, "cd '%s' && '%s' capture -i mxlag-missing0 --no-db 2>&1", dir, bin);
	cr_expect_eq(rc, 1, "%s", out);
	cr_expect(strstr(out, "mxlag-missing0") != NULL, "%s", out);
	cr_expect_eq(count_lines(out), 1, "%s", out);
	free(out);
	if (geteuid() == 0 &&
	    e2e_sh(NULL,
	           "setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null") == 0) {
		chmod(dir, 0755);
		/* an existing interface without the capture privilege */
		rc = as_nobody(&out, "capture -i lo --no-db");
		cr_expect_eq(rc, 1, "%s", out);
		cr_expect(strstr(out, "lo") != NULL, "%s", out);
		cr_expect_eq(count_lines(out), 1, "%s", out);
		free(out);
	}
}
