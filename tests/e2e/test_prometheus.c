/*
 * test_prometheus.c - capture --metrics scraped by a real Prometheus
 * (issue 13): in a network namespace of the test's own, `mxlag capture -i
 * lo --metrics` runs while the test sends DNS queries and one SMTP session
 * (its greeting slow) on that loopback; a Prometheus server started in the
 * same namespace (its own config, storage and port in a temporary
 * directory) scrapes the capture every second, and the values are read
 * back through Prometheus's HTTP API.  Needs root (CAP_NET_RAW, ip netns)
 * and /usr/bin/prometheus; skipped otherwise.
 *
 * Also: the example rules and scrape config (examples/prometheus/) pass
 * promtool's checks (skipped when promtool is missing).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/e2e.h"
#include "../support/netns.h"

#define PROMETHEUS "/usr/bin/prometheus"
#define PROMTOOL "/usr/bin/promtool"
/* the namespace is the test's own: no other listener can hold these */
#define METRICS_PORT 19464
#define PROM_PORT 19090
#define GREETING_DELAY_US 1200000 /* above --slow's default 1000 ms */

static char ns[40];
static char *dir;
static pid_t capture_pid, prom_pid; /* stopped by cleanup() whatever happened */

static void
stop_pid(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
		*pid = 0;
	}
}

static void
cleanup(void)
{
	stop_pid(&prom_pid);
	stop_pid(&capture_pid);
	if (ns[0])
		e2e_sh(NULL, "ip netns del %s 2>/dev/null", ns);
	ns[0] = '\0';
	if (dir)
		e2e_rmdir(dir);
	dir = NULL;
}

static void
setup(void)
{
	if (geteuid() != 0)
		cr_skip_test("live capture needs root (CAP_NET_RAW, ip netns)");
	if (access(PROMETHEUS, X_OK) != 0)
		cr_skip_test("no %s (Debian package prometheus: scripts/setup.sh --test)", PROMETHEUS);
	snprintf(ns, sizeof(ns), "mxlag-prom-%d", (int)getpid());
	char *out = NULL;
	if (e2e_sh(&out, "(ip netns add %s && ip -n %s link set lo up) 2>&1", ns, ns) != 0) {
		e2e_sh(NULL, "ip netns del %s 2>/dev/null", ns);
		ns[0] = '\0';
		cr_skip_test("no network namespaces here: %s", out ? out : "");
	}
	free(out);
	dir = e2e_tmpdir();
	chmod(dir, 0777); /* the capture becomes nobody */
}

/* Runs cmd (a shell command) in the namespace in the background; its pid. */
static pid_t
spawn_in_ns(const char *cmd, const char *log)
{
	char sh[4096];
	snprintf(sh, sizeof(sh), "exec ip netns exec %s %s >'%s' 2>&1", ns, cmd, log);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", sh, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void
wait_child(pid_t pid, const char *what)
{
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: status %d", what, st);
}

static int
send_line(int fd, const char *s)
{
	size_t n = strlen(s);
	return write(fd, s, n) == (ssize_t)n ? 0 : -1;
}

/* Reads one reply line (up to LF) from fd; 0 when it begins with code. */
static int
expect_line(int fd, const char *code)
{
	char buf[256];
	size_t n = 0;
	while (n + 1 < sizeof(buf)) {
		ssize_t r = read(fd, buf + n, 1);
		if (r <= 0)
			return -1;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return strncmp(buf, code, strlen(code)) == 0 ? 0 : -1;
}

/*
 * One SMTP session on 127.0.0.1:25: a greeting sent after 1.2 s (a slow
 * reply), EHLO, QUIT; both ends close.  Three replies.
 */
static void
smtp_session(void)
{
	pid_t pid = netns_fork(ns);
	if (pid != 0) {
		wait_child(pid, "smtp session");
		return;
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(25)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 1) != 0)
		_exit(3);
	pid_t client = fork();
	if (client < 0)
		_exit(4);
	if (client == 0) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    expect_line(c, "220 ") != 0 || send_line(c, "EHLO client.example\r\n") != 0 ||
		    expect_line(c, "250 ") != 0 || send_line(c, "QUIT\r\n") != 0 ||
		    expect_line(c, "221 ") != 0)
			_exit(5);
		char b;
		while (read(c, &b, 1) > 0)
			;
		close(c);
		_exit(0);
	}
	int s = accept(l, NULL, NULL);
	if (s < 0)
		_exit(6);
	usleep(GREETING_DELAY_US);
	if (send_line(s, "220 mx.example ESMTP Postfix\r\n") != 0 || expect_line(s, "EHLO") != 0 ||
	    send_line(s, "250 mx.example\r\n") != 0 || expect_line(s, "QUIT") != 0 ||
	    send_line(s, "221 bye\r\n") != 0)
		_exit(7);
	close(s);
	int st;
	if (waitpid(client, &st, 0) != client || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		_exit(8);
	_exit(0);
}

/*
 * The value of an instant query through Prometheus's HTTP API
 * (/api/v1/query), summed so one sample comes back; -1 when there is
 * none (yet) or the server does not answer.
 */
static double
prom_query(const char *expr)
{
	char *out = NULL;
	double v = -1;
	if (e2e_sh(&out,
	           "ip netns exec %s curl -sf -m 2 -G 'http://127.0.0.1:%d/api/v1/query' "
	           "--data-urlencode 'query=%s' 2>/dev/null",
	           ns, PROM_PORT, expr) == 0 &&
	    out) {
		/* {"status":"success","data":{"resultType":"vector","result":[{"metric":{},
		 *  "value":[1700000000.123,"42"]}]}} */
		const char *p = strstr(out, "\"value\":[");
		if (p && (p = strstr(p, ",\"")))
			v = strtod(p + 2, NULL);
	}
	free(out);
	return v;
}

/* mxlag_packets_total read from the capture itself (-1 = not serving yet). */
static double
own_packets(void)
{
	char *out = NULL;
	double v = -1;
	if (e2e_sh(&out, "ip netns exec %s curl -sf -m 2 http://127.0.0.1:%d/metrics 2>/dev/null",
	           ns, METRICS_PORT) == 0 &&
	    out) {
		const char *p = strstr(out, "\nmxlag_packets_total ");
		if (p)
			v = strtod(p + strlen("\nmxlag_packets_total "), NULL);
	}
	free(out);
	return v;
}

static const struct {
	const char *expr;
	double want; /* -2: above 0 */
} checks[] = {
    {"up{job=\"mxlag\"}", 1},
    {"mxlag_packets_total", -2},
    {"sum(mxlag_dns_queries_total{resolver=\"127.0.0.1\",outcome=\"nxdomain\"})", 3},
    {"sum(mxlag_sessions_total{proto=\"smtp\",outcome=\"ok\"})", 1},
    {"sum(mxlag_reply_latency_seconds_count{proto=\"smtp\"})", 3},
    {"sum(mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"GREETING\",le=\"1\"})", 0},
    {"sum(mxlag_reply_latency_seconds_bucket{proto=\"smtp\",command=\"GREETING\",le=\"2.5\"})", 1},
    {"sum(mxlag_reply_latency_seconds_count{proto=\"smtp\",command=\"EHLO\"})", 1},
    {"mxlag_build_info{version=\"" MXLAG_TEST_VERSION "\"}", 1},
    /* the slow greeting, judged when its evidence window has closed */
    {"sum(mxlag_slow_replies_total)", 1},
};
#define NCHECKS (sizeof(checks) / sizeof(checks[0]))

static int
check_ok(size_t i, double v)
{
	return checks[i].want == -2 ? v > 0 : v == checks[i].want;
}

Test(prometheus, scrapes_a_running_capture, .init = setup, .fini = cleanup, .timeout = 90)
{
	char bin[512], cmd[2048], db[600], log[600], conf[600];
	double t0 = e2e_now_s();
	e2e_bin("mxlag", bin, sizeof(bin));
	snprintf(db, sizeof(db), "%s/prom.db", dir);
	snprintf(log, sizeof(log), "%s/capture.log", dir);
	snprintf(cmd, sizeof(cmd), "'%s' capture -i lo --db '%s' --quiet --metrics 127.0.0.1:%d", bin,
	         db, METRICS_PORT);
	capture_pid = spawn_in_ns(cmd, log);

	/* Prometheus of its own: config, storage, port */
	snprintf(conf, sizeof(conf), "%s/prometheus.yml", dir);
	FILE *f = fopen(conf, "w");
	cr_assert(f);
	fprintf(f,
	        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
	        "scrape_configs:\n  - job_name: mxlag\n    static_configs:\n"
	        "      - targets: ['127.0.0.1:%d']\n",
	        METRICS_PORT);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
	         PROMETHEUS " --config.file='%s' --storage.tsdb.path='%s/tsdb' "
	                    "--web.listen-address=127.0.0.1:%d",
	         conf, dir, PROM_PORT);
	snprintf(log, sizeof(log), "%s/prometheus.log", dir);
	prom_pid = spawn_in_ns(cmd, log);

	/* the capture sees the loopback once a warm-up query is counted
	 * (answered without data: not one of the NXDOMAIN ones below) */
	double pk = -1;
	for (uint16_t txid = 0x5000; pk <= 0 && e2e_now_s() - t0 < 15; txid++) {
		netns_dns_exchange(ns, txid, 0);
		usleep(300000);
		pk = own_packets();
	}
	cr_assert_gt(pk, 0, "the capture serves /metrics and counts packets");
	for (uint16_t i = 0; i < 3; i++)
		netns_dns_exchange(ns, (uint16_t)(0x6000 + i), 3);
	smtp_session();
	cr_log_info("traffic sent after %.1f s", e2e_now_s() - t0);

	/* Prometheus has scraped what was sent */
	double v[NCHECKS];
	size_t ok = 0;
	while (e2e_now_s() - t0 < 30) {
		ok = 0;
		for (size_t i = 0; i < NCHECKS; i++)
			ok += check_ok(i, v[i] = prom_query(checks[i].expr));
		if (ok == NCHECKS)
			break;
		usleep(500000);
	}
	for (size_t i = 0; i < NCHECKS; i++)
		cr_expect(check_ok(i, v[i]), "%s = %g through Prometheus (want %s%g)", checks[i].expr,
		          v[i], checks[i].want == -2 ? "> 0, not " : "", checks[i].want);
	cr_log_info("Prometheus had every value after %.1f s", e2e_now_s() - t0);

	/* the capture stops cleanly with its server */
	int st;
	kill(capture_pid, SIGTERM);
	cr_assert_eq(waitpid(capture_pid, &st, 0), capture_pid);
	capture_pid = 0;
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "capture status %d", st);
	cr_expect_eq(e2e_sql_long(db, "select count(*) from sessions where protocol = 'smtp'"), 1);
}

/* An HTTP request to the capture's server: "STATUS CONTENT-TYPE" (curl -w). */
static char *
http(const char *method, const char *path)
{
	char *out = NULL;
	e2e_sh(&out,
	       "ip netns exec %s curl -s -m 5 -o /dev/null -X %s -w '%%{http_code} "
	       "%%{content_type}' 'http://127.0.0.1:%d%s' 2>&1",
	       ns, method, METRICS_PORT, path);
	cr_assert(out);
	return out;
}

/* The server's edges through the real binary: content type, 404, 405; a
 * second capture on the same port refused in one line, exit 1, before it
 * captures; malformed addresses and analyze --metrics are usage errors. */
Test(prometheus, http_edges_and_bind_failure, .init = setup, .fini = cleanup, .timeout = 90)
{
	char bin[512], cmd[2048], log[600], *out = NULL;
	e2e_bin("mxlag", bin, sizeof(bin));
	snprintf(cmd, sizeof(cmd), "'%s' capture -i lo --no-db --quiet --metrics 127.0.0.1:%d", bin,
	         METRICS_PORT);
	snprintf(log, sizeof(log), "%s/capture.log", dir);
	capture_pid = spawn_in_ns(cmd, log);
	double t0 = e2e_now_s();
	while (own_packets() < 0 && e2e_now_s() - t0 < 15)
		usleep(100000);
	cr_assert_geq(own_packets(), 0, "the capture serves /metrics");

	char *r = http("GET", "/metrics");
	cr_expect_str_eq(r, "200 text/plain; version=0.0.4; charset=utf-8");
	free(r);
	r = http("HEAD", "/metrics");
	cr_expect(strncmp(r, "200 ", 4) == 0, "HEAD: %s", r);
	free(r);
	r = http("GET", "/");
	cr_expect(strncmp(r, "404 ", 4) == 0, "GET /: %s", r);
	free(r);
	r = http("POST", "/metrics");
	cr_expect(strncmp(r, "405 ", 4) == 0, "POST: %s", r);
	free(r);

	/* the port is taken: one line naming the address and the reason */
	int rc = e2e_sh(&out,
	                "ip netns exec %s '%s' capture -i lo --no-db --quiet --duration 5 "
	                "--metrics 127.0.0.1:%d 2>&1",
	                ns, bin, METRICS_PORT);
	cr_expect_eq(rc, 1, "exit 1: %s", out);
	cr_expect_str_eq(out, "mxlag: --metrics: cannot listen on 127.0.0.1:19464: Address already "
	                      "in use\n");
	free(out);
	static const char *const bad[] = {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536",
	                                  "localhost:9464", "::1:9464", "[::1]9464", "[::1]:",
	                                  "1.2.3.4:x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = NULL;
		rc = e2e_sh(&out, "'%s' capture -i lo --no-db --metrics '%s' 2>&1", bin, bad[i]);
		cr_expect_eq(rc, 2, "--metrics %s: exit %d: %s", bad[i], rc, out);
		cr_expect(out && strstr(out, "bad --metrics") && strchr(out, '\n') == out + strlen(out) - 1,
		          "one line: %s", out);
		free(out);
	}
	out = NULL;
	rc = e2e_sh(&out, "'%s' analyze --no-db --metrics 127.0.0.1:9464 x.pcap 2>&1", bin);
	cr_expect_eq(rc, 2, "analyze --metrics: %s", out);
	cr_expect_str_eq(out, "mxlag analyze: --metrics is for capture only\n");
	free(out);
	out = NULL;

	/* IPv6, where the namespace's loopback has ::1 */
	stop_pid(&capture_pid);
	if (e2e_sh(NULL, "ip -n %s -6 addr show dev lo | grep -q '::1/128'", ns) != 0) {
		cr_log_warn("no ::1 in the namespace (IPv6 off): [::1]:PORT not tried");
		return;
	}
	snprintf(cmd, sizeof(cmd), "'%s' capture -i lo --no-db --quiet --metrics '[::1]:%d'", bin,
	         METRICS_PORT);
	capture_pid = spawn_in_ns(cmd, log);
	t0 = e2e_now_s();
	do {
		free(out);
		out = NULL;
		rc = e2e_sh(&out, "ip netns exec %s curl -sf -m 2 -g 'http://[::1]:%d/metrics' 2>&1", ns,
		            METRICS_PORT);
	} while (rc != 0 && e2e_now_s() - t0 < 15 && usleep(100000) == 0);
	cr_expect_eq(rc, 0, "[::1]: %s", out);
	cr_expect(out && strstr(out, "\nmxlag_packets_total ") != NULL, "%s", out);
	free(out);
	int st;
	kill(capture_pid, SIGTERM);
	cr_assert_eq(waitpid(capture_pid, &st, 0), capture_pid);
	capture_pid = 0;
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "capture status %d", st);
}

/* examples/prometheus: the rules and the scrape config as promtool reads them */
Test(prometheus, example_rules_and_config_pass_promtool)
{
	if (access(PROMTOOL, X_OK) != 0)
		cr_skip_test("no %s (Debian package prometheus: scripts/setup.sh --test)", PROMTOOL);
	const char *src = getenv("MXLAG_SRC");
	cr_assert(src, "MXLAG_SRC is set by ctest");
	char *out = NULL;
	int rc = e2e_sh(&out, PROMTOOL " check rules '%s/examples/prometheus/mxlag-rules.yml' 2>&1",
	                src);
	cr_expect_eq(rc, 0, "promtool check rules: %s", out);
	cr_log_info("%s", out);
	free(out);
	out = NULL;
	rc = e2e_sh(&out, PROMTOOL " check config '%s/examples/prometheus/prometheus.yml' 2>&1", src);
	cr_expect_eq(rc, 0, "promtool check config: %s", out);
	cr_log_info("%s", out);
	free(out);
}
