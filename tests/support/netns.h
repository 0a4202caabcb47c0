/*
 * netns.h - live-capture tests in a network namespace of their own
 * (/run/netns/NAME, made with `ip netns add`): a child process inside it,
 * and a DNS exchange on its loopback that a capture on lo sees.
 */
#ifndef MXLAG_TEST_NETNS_H
#define MXLAG_TEST_NETNS_H

#include <stdint.h>
#include <sys/types.h>

/* fork() with the child in namespace ns: 0 in the child (which _exit(2)s
 * when it cannot enter it), the child's pid in the parent.  Asserts. */
pid_t netns_fork(const char *ns);
/*
 * In namespace ns: a PTR query for 201.2.0.192.in-addr.arpa, txid, from one
 * UDP socket to another bound to 127.0.0.1:53, which answers it with rcode
 * (3 = NXDOMAIN, 0 = no error and no data); the asker reads the answer.
 * Asserts that all of it happened.
 */
void netns_dns_exchange(const char *ns, uint16_t txid, int rcode);

#endif
