/*
 * test_live.c - live capture on the loopback interface: a DNS query sent
 * while `mxlag capture` runs ends up in the database; --duration and
 * SIGTERM both stop it cleanly (exit 0, database intact, kernel drop
 * figures stored), and privileges are dropped after opening.  Needs root
 * (CAP_NET_RAW); skipped otherwise.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/e2e.h"

static void
send_ptr_query(uint16_t txid)
{
	static const char name[] = "\x03" "201" "\x01" "2" "\x01" "0" "\x03" "192" "\x07" "in-addr"
				   "\x04" "arpa";
	uint8_t q[128] = {(uint8_t)(txid >> 8), (uint8_t)txid, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
	size_t n = 12;
	memcpy(q + n, name, sizeof(name)); /* includes the terminating root label */
	n += sizeof(name);
	q[n++] = 0;
	q[n++] = 12;
	q[n++] = 0;
	q[n++] = 1;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(53)};
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	sendto(fd, q, n, 0, (struct sockaddr *)&to, sizeof(to));
	close(fd);
}

static pid_t
start_capture(const char *db, const char *extra)
{
	char bin[512], cmd[2048];
	e2e_bin("mxlag", bin, sizeof(bin));
	snprintf(cmd, sizeof(cmd), "exec '%s' capture -i lo --quiet --db '%s' %s", bin, db, extra);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
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
