/*
 * test_live.c - live capture on the loopback interface: a DNS query sent
 * while `mxlag capture` runs ends up in the database; --duration and
 * SIGTERM both stop it cleanly (exit 0, database intact, kernel drop
 * figures stored), and privileges are dropped after opening; the
 * interface is promiscuous unless --no-promisc (on a bridge in network
 * namespaces of the test's own).  Needs root (CAP_NET_RAW, and ip netns
 * for the last); skipped otherwise.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/e2e.h"

/* A PTR query for 201.2.0.192.in-addr.arpa with transaction id txid. */
static size_t
ptr_query(uint8_t *q, uint16_t txid)
{
	static const char name[] = "\x03" "201" "\x01" "2" "\x01" "0" "\x03" "192" "\x07" "in-addr"
				   "\x04" "arpa";
	static const uint8_t hdr[12] = {0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
	size_t n = sizeof(hdr);
	memcpy(q, hdr, n);
	q[0] = (uint8_t)(txid >> 8);
	q[1] = (uint8_t)txid;
	memcpy(q + n, name, sizeof(name)); /* includes the terminating root label */
	n += sizeof(name);
	q[n++] = 0;
	q[n++] = 12;
	q[n++] = 0;
	q[n++] = 1;
	return n;
}

static void
send_ptr_query(uint16_t txid)
{
	uint8_t q[128];
	size_t n = ptr_query(q, txid);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(53)};
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	sendto(fd, q, n, 0, (struct sockaddr *)&to, sizeof(to));
	close(fd);
}

/* iface in network namespace netns (NULL: this one) */
static pid_t
start_capture_in(const char *netns, const char *iface, const char *db, const char *extra)
{
	char bin[512], cmd[2048], pre[128] = "";
	e2e_bin("mxlag", bin, sizeof(bin));
	if (netns)
		snprintf(pre, sizeof(pre), "ip netns exec %s ", netns);
	snprintf(cmd, sizeof(cmd), "exec %s'%s' capture -i %s --quiet --db '%s' %s", pre, bin, iface,
		 db, extra);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static pid_t
start_capture(const char *db, const char *extra)
{
	return start_capture_in(NULL, "lo", db, extra);
}

static void
need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("live capture needs root (CAP_NET_RAW)");
}

Test(live, duration_stops_and_query_is_stored, .timeout = 60)
{
	need_root();
	char *dir = e2e_tmpdir(), db[600], *out = NULL;
	chmod(dir, 0777);
	snprintf(db, sizeof(db), "%s/live.db", dir);
	pid_t pid = start_capture(db, "--duration 3");
	sleep(1);
	send_ptr_query(0x4242);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	cr_assert_eq(e2e_sh(&out,
			    "sqlite3 '%s' \"select qname || ' ' || outcome from dns_queries; "
			    "select count(*) from runs where kernel_drops is not null and "
			    "source = 'live:lo'; pragma integrity_check\"",
			    db),
		     0);
	cr_expect(strstr(out, "201.2.0.192.in-addr.arpa unanswered") != NULL, "%s", out);
	cr_expect(strstr(out, "\n1\nok") != NULL, "%s", out);
	free(out);
	struct stat sb;
	cr_assert_eq(stat(db, &sb), 0);
	cr_expect_neq(sb.st_uid, 0, "database handed to the unprivileged user");
	e2e_rmdir(dir);
}

Test(live, sigterm_flushes_and_exits_zero, .timeout = 60)
{
	need_root();
	char *dir = e2e_tmpdir(), db[600], *out = NULL;
	chmod(dir, 0777);
	snprintf(db, sizeof(db), "%s/live.db", dir);
	pid_t pid = start_capture(db, "--user nobody");
	sleep(1);
	send_ptr_query(0x4343);
	usleep(300000);
	kill(pid, SIGTERM);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	cr_assert_eq(e2e_sh(&out, "sqlite3 '%s' 'select count(*) from dns_queries; pragma integrity_check'",
			    db),
		     0);
	cr_expect_str_eq(out, "1\nok\n");
	free(out);
	cr_expect_eq(e2e_count_mismatches(db), 0, "the query is counted in its minute");
	e2e_rmdir(dir);
}

Test(live, missing_interface_is_one_clear_line)
{
	char bin[512], *out = NULL;
	e2e_bin("mxlag", bin, sizeof(bin));
	int rc = e2e_sh(&out, "'%s' capture -i mxlag-no-such-if0 --db /tmp/never.db 2>&1", bin);
	cr_expect_eq(rc, 1);
	cr_expect(strstr(out, "mxlag-no-such-if0") != NULL, "%s", out);
	cr_expect(strchr(out, '\n') == out + strlen(out) - 1, "one line: %s", out);
	free(out);
}

/*
 * Promiscuous mode, shown on a Linux bridge: it passes a frame it floods
 * for an unknown MAC up to its own interface, where mxlag captures, only
 * when that interface is promiscuous (br_handle_frame_finish).  A veth
 * pair alone would not show it: a veth hands every frame to a packet
 * socket whatever its destination MAC.  Namespace "b" holds the bridge
 * (192.0.2.1), namespace "h" a host (192.0.2.2) on one of its ports that
 * sends a query to the bridge and one to 192.0.2.99, a neighbour entry
 * giving that address a MAC nobody has, as the frames to other hosts
 * that a mirror port delivers.
 */
static char ns_b[40], ns_h[40];

static void
netns_cleanup(void)
{
	if (ns_b[0])
		e2e_sh(NULL, "ip netns del %s 2>/dev/null", ns_b);
	if (ns_h[0])
		e2e_sh(NULL, "ip netns del %s 2>/dev/null", ns_h);
	ns_b[0] = ns_h[0] = '\0';
}

static void
netns_setup(void)
{
	need_root();
	snprintf(ns_b, sizeof(ns_b), "mxlag-promisc-%d-b", (int)getpid());
	snprintf(ns_h, sizeof(ns_h), "mxlag-promisc-%d-h", (int)getpid());
	char *out = NULL;
	int rc = e2e_sh(&out,
			"(ip netns add %s && ip netns add %s && "
			"ip -n %s link add br0 type bridge && "
			"ip -n %s link add vh type veth peer name vb netns %s && "
			"ip -n %s link set vb master br0 && ip -n %s link set vb up && "
			"ip -n %s link set br0 up && ip -n %s addr add 192.0.2.1/24 dev br0 && "
			"ip -n %s link set vh up && ip -n %s addr add 192.0.2.2/24 dev vh && "
			"ip -n %s neigh add 192.0.2.99 lladdr 02:00:00:00:99:99 dev vh nud permanent"
			") 2>&1",
			ns_b, ns_h, ns_b, ns_h, ns_b, ns_b, ns_b, ns_b, ns_b, ns_h, ns_h, ns_h);
	if (rc != 0) {
		netns_cleanup();
		cr_skip_test("no network namespaces here: %s", out ? out : "");
	}
	free(out);
}

/* Sends a PTR query to dst from inside namespace ns (a child joins it). */
static void
send_from(const char *ns, const char *dst, uint16_t txid)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char path[80];
		uint8_t q[128];
		size_t n = ptr_query(q, txid);
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
		int nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0)
			_exit(2);
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(53)};
		inet_pton(AF_INET, dst, &to.sin_addr);
		if (fd < 0 || sendto(fd, q, n, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)n)
			_exit(3);
		_exit(0);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "send from %s to %s: status %d", ns, dst,
		  st);
}

/* Captures on the bridge with extra options; returns the txids stored. */
static char *
bridge_capture(const char *extra)
{
	char *dir = e2e_tmpdir(), db[600], *out = NULL;
	chmod(dir, 0777);
	snprintf(db, sizeof(db), "%s/promisc.db", dir);
	pid_t pid = start_capture_in(ns_b, "br0", db, extra);
	sleep(2);
	send_from(ns_h, "192.0.2.99", 0x5151); /* to another host's MAC */
	send_from(ns_h, "192.0.2.1", 0x5252);  /* to the capturing host */
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "capture %s: status %d", extra, st);
	cr_assert_eq(e2e_sh(&out, "sqlite3 '%s' 'select group_concat(printf(\"%%x\", txid), \" \") "
				  "from (select txid from dns_queries order by txid)'",
			    db),
		     0);
	e2e_rmdir(dir);
	return out;
}

Test(live, promiscuous_by_default_not_with_no_promisc, .init = netns_setup, .fini = netns_cleanup,
     .timeout = 60)
{
	char *out = bridge_capture("--duration 4");
	cr_expect_str_eq(out, "5151 5252\n", "promiscuous: both queries seen");
	free(out);
	out = bridge_capture("--duration 4 --no-promisc");
	cr_expect_str_eq(out, "5252\n", "--no-promisc: only the one to this host");
	free(out);
	/* libpcap leaves the interface as it found it */
	cr_assert_eq(e2e_sh(&out, "ip -n %s -d link show br0", ns_b), 0);
	cr_expect(strstr(out, "promiscuity 0") != NULL, "%s", out);
	free(out);
}
