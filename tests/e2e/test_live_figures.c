/*
 * test_live_figures.c - what a running `mxlag capture` shows before it
 * exits (issue 13, live figures): its runs row counts the packets while it
 * runs (finished still NULL), --status prints status lines on stderr, and
 * --events hands each JSON line to a pipe as it happens.  The capture runs
 * on the loopback interface of a network namespace of the test's own, where
 * the test sends DNS queries and answers them.  Needs root (CAP_NET_RAW,
 * ip netns); skipped otherwise.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../support/e2e.h"
#include "../support/netns.h"

static char ns[40];
static pid_t capture_pid; /* stopped by ns_cleanup() when a test fails */

static void
ns_cleanup(void)
{
	if (capture_pid > 0) {
		kill(capture_pid, SIGTERM);
		waitpid(capture_pid, NULL, 0);
		capture_pid = 0;
	}
	if (ns[0])
		e2e_sh(NULL, "ip netns del %s 2>/dev/null", ns);
	ns[0] = '\0';
}

static void
ns_setup(void)
{
	if (geteuid() != 0)
		cr_skip_test("live capture needs root (CAP_NET_RAW, ip netns)");
	snprintf(ns, sizeof(ns), "mxlag-figures-%d", (int)getpid());
	char *out = NULL;
	if (e2e_sh(&out, "(ip netns add %s && ip -n %s link set lo up) 2>&1", ns, ns) != 0) {
		ns_cleanup();
		cr_skip_test("no network namespaces here: %s", out ? out : "");
	}
	free(out);
}

/*
 * Starts `mxlag capture -i lo` in the namespace with extra options.  With
 * out_fd, the capture's stdout (fd 1) or stderr (fd 2) is a pipe whose
 * reading end is returned in *out_fd.
 */
static pid_t
start_capture(const char *db, const char *extra, int which_fd, int *out_fd)
{
	char bin[512], cmd[2048];
	int p[2] = {-1, -1};
	e2e_bin("mxlag", bin, sizeof(bin));
	snprintf(cmd, sizeof(cmd), "exec ip netns exec %s '%s' capture -i lo --db '%s' %s", ns, bin,
	         db, extra);
	if (out_fd)
		cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (out_fd) {
			dup2(p[1], which_fd);
			close(p[0]);
			close(p[1]);
		}
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (out_fd) {
		close(p[1]);
		*out_fd = p[0];
	}
	capture_pid = pid;
	return pid;
}

/* In the namespace: a PTR query answered NXDOMAIN (an answered query is an event at once). */
static void
query_and_answer(uint16_t txid)
{
	netns_dns_exchange(ns, txid, 3);
}

/* runs.packets of the only run while finished is NULL; -1 when not (yet) so */
static long
running_packets(const char *db)
{
	char *out = NULL;
	long n = -1;
	if (e2e_sh(&out,
	           "sqlite3 -cmd '.timeout 5000' '%s' \"select packets from runs where "
	           "finished is null and packets is not null and kernel_drops is not null\" "
	           "2>/dev/null",
	           db) == 0 &&
	    out && out[0])
		n = strtol(out, NULL, 10);
	free(out);
	return n;
}

/* Still running: not exited (and not reaped). */
static int
running(pid_t pid)
{
	int st;
	return waitpid(pid, &st, WNOHANG) == 0;
}

static void
stop(pid_t pid)
{
	int st;
	kill(pid, SIGTERM);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	capture_pid = 0;
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "capture status %d", st);
}

Test(live_figures, run_row_grows_while_capturing, .init = ns_setup, .fini = ns_cleanup,
     .timeout = 180)
{
	char *dir = e2e_tmpdir(), db[600], *out = NULL;
	chmod(dir, 0777); /* the capture becomes nobody */
	snprintf(db, sizeof(db), "%s/live.db", dir);
	pid_t pid = start_capture(db, "--quiet", 0, NULL);

	/* queries until the running capture's row counts some packets */
	long first = -1, later = -1;
	uint16_t txid = 0x6000;
	double t0 = e2e_now_s();
	while (first <= 0 && e2e_now_s() - t0 < 60) {
		query_and_answer(txid++);
		usleep(300000);
		first = running_packets(db);
	}
	cr_assert_gt(first, 0, "the runs row counts packets while the capture runs");
	cr_log_info("runs.packets %ld after %.1f s", first, e2e_now_s() - t0);
	/* more queries: the row follows them, still unfinished */
	t0 = e2e_now_s();
	while (later <= first && e2e_now_s() - t0 < 60) {
		query_and_answer(txid++);
		usleep(300000);
		later = running_packets(db);
	}
	cr_assert_gt(later, first, "runs.packets grows during the capture (%ld then %ld)", first,
	             later);
	cr_assert(running(pid), "the capture was running all the while");
	cr_assert_eq(e2e_sh(&out,
	                    "sqlite3 -cmd '.timeout 5000' '%s' \"select first_ts <= last_ts, "
	                    "bytes > 0, counters is null from runs\"",
	                    db),
	             0);
	cr_expect_str_eq(out, "1|1|1\n", "first and last packet time, bytes; counters at the end");
	free(out);

	stop(pid);
	cr_assert_eq(e2e_sh(&out,
	                    "sqlite3 '%s' \"select packets >= %ld, finished is not null, counters "
	                    "is not null from runs; pragma integrity_check\"",
	                    db, later),
	             0);
	cr_expect_str_eq(out, "1|1|1\nok\n", "the end writes the final row");
	free(out);
	e2e_rmdir(dir);
}

/* Reads from fd until a line containing want has come (or timeout_s); the text read. */
static char *
read_until(int fd, const char *want, double timeout_s)
{
	size_t cap = 65536, len = 0;
	char *buf = calloc(1, cap);
	cr_assert(buf);
	double t0 = e2e_now_s();
	for (;;) {
		char *hit = strstr(buf, want);
		if (hit && strchr(hit, '\n'))
			break;
		double left = timeout_s - (e2e_now_s() - t0);
		if (left <= 0 || len + 1 >= cap)
			break;
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		ssize_t r = read(fd, buf + len, cap - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
	}
	return buf;
}

Test(live_figures, status_lines_while_running, .init = ns_setup, .fini = ns_cleanup,
     .timeout = 180)
{
	char *dir = e2e_tmpdir(), db[600];
	chmod(dir, 0777);
	snprintf(db, sizeof(db), "%s/status.db", dir);
	int fd;
	pid_t pid = start_capture(db, "--quiet --status 1", STDERR_FILENO, &fd);
	/* the first line, then one that has seen the traffic sent after it */
	char *a = read_until(fd, "mxlag: status: ", 90);
	cr_assert(strstr(a, "mxlag: status: ") != NULL, "a status line: %s", a);
	for (int i = 0; i < 3; i++)
		query_and_answer((uint16_t)(0x7000 + i));
	char *b = read_until(fd, "3 DNS queries, ", 60);
	cr_assert(running(pid), "the status lines came while the capture ran");
	cr_log_info("status: %s", b);
	const char *line = strstr(b, "3 DNS queries, ");
	cr_assert(line != NULL, "a status line counts the 3 queries: %s", b);
	while (line > b && line[-1] != '\n')
		line--;
	int n = 0, m = 0;
	unsigned long long pk = 0, dr = 0, se = 0, dq = 0, sl = 0;
	double rate = -1;
	n = sscanf(line,
	           "mxlag: status: %llu packets, %lf packets/s, %llu kernel drops, %llu sessions, "
	           "%llu DNS queries, %llu slow replies%n",
	           &pk, &rate, &dr, &se, &dq, &sl, &m);
	cr_expect_eq(n, 6, "the documented wording: %s", line);
	cr_expect(m > 0 && line[m] == '\n', "one line: %s", line);
	cr_expect_geq(pk, 6, "6 packets at least: %s", line);
	cr_expect_eq(dq, 3);
	cr_expect_geq(rate, 0);
	free(a);
	free(b);
	stop(pid);
	close(fd);
	e2e_rmdir(dir);
}

Test(live_figures, events_reach_a_pipe_as_they_happen, .init = ns_setup, .fini = ns_cleanup,
     .timeout = 180)
{
	char *dir = e2e_tmpdir(), db[600];
	chmod(dir, 0777);
	snprintf(db, sizeof(db), "%s/events.db", dir);
	int fd;
	pid_t pid = start_capture(db, "--quiet --events", STDOUT_FILENO, &fd);
	/* a query answered in the namespace is one dns_query event line at once;
	 * sent again until it comes (the capture may still be starting) */
	char *got = NULL;
	double t0 = e2e_now_s();
	for (uint16_t txid = 0x8000; e2e_now_s() - t0 < 90; txid++) {
		free(got);
		query_and_answer(txid);
		got = read_until(fd, "{\"event\":\"dns_query\"", 2);
		if (strstr(got, "{\"event\":\"dns_query\""))
			break;
	}
	cr_assert(running(pid), "the event came before the capture exited");
	cr_log_info("events: %s", got);
	const char *ev = strstr(got, "{\"event\":\"dns_query\"");
	cr_assert(ev != NULL, "a dns_query event line through the pipe: %s", got);
	const char *nl = strchr(ev, '\n');
	cr_assert(nl != NULL);
	cr_expect(nl[-1] == '}', "one JSON object a line: %s", ev);
	cr_expect(strstr(ev, "\"qname\":\"201.2.0.192.in-addr.arpa\"") != NULL, "%s", ev);
	cr_expect(strstr(ev, "\"outcome\":\"nxdomain\"") != NULL, "%s", ev);
	free(got);
	stop(pid);
	close(fd);
	e2e_rmdir(dir);
}
