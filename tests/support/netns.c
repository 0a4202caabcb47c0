/* netns.c - a child in a network namespace, a DNS exchange on its loopback. */
#include "netns.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t
netns_fork(const char *ns)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char path[300];
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) != 0)
			_exit(2);
		close(fd);
	}
	return pid;
}

void
netns_dns_exchange(const char *ns, uint16_t txid, int rcode)
{
	pid_t pid = netns_fork(ns);
	if (pid == 0) {
		static const char name[] = "\x03" "201" "\x01" "2" "\x01" "0" "\x03" "192"
		                           "\x07" "in-addr" "\x04" "arpa";
		uint8_t q[128] = {(uint8_t)(txid >> 8), (uint8_t)txid, 0x01, 0, 0, 1};
		size_t n = 12;
		memcpy(q + n, name, sizeof(name));
		n += sizeof(name);
		q[n++] = 0;
		q[n++] = 12;
		q[n++] = 0;
		q[n++] = 1;
		struct sockaddr_in srv = {.sin_family = AF_INET, .sin_port = htons(53)};
		inet_pton(AF_INET, "127.0.0.1", &srv.sin_addr);
		int s = socket(AF_INET, SOCK_DGRAM, 0), c = socket(AF_INET, SOCK_DGRAM, 0);
		if (s < 0 || c < 0 || bind(s, (struct sockaddr *)&srv, sizeof(srv)) != 0)
			_exit(3);
		if (sendto(c, q, n, 0, (struct sockaddr *)&srv, sizeof(srv)) != (ssize_t)n)
			_exit(4);
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		uint8_t r[512];
		ssize_t got = recvfrom(s, r, sizeof(r), 0, (struct sockaddr *)&from, &fl);
		if (got < 12)
			_exit(5);
		r[2] |= 0x80;                              /* a response */
		r[3] = (uint8_t)(0x80 | (rcode & 0x0f)); /* recursion available */
		if (sendto(s, r, (size_t)got, 0, (struct sockaddr *)&from, fl) != got ||
		    recv(c, r, sizeof(r), 0) != got)
			_exit(6);
		_exit(0);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "DNS exchange in %s: status %d", ns, st);
}
