/*
 * hosts.h - the monitored mail hosts: which addresses they are, how they
 * are learned, and which addresses belong to the same machine.
 *
 * A capture taken on a mail host has one host (maybe with an IPv4 and an
 * IPv6 address); one taken on a switch's mirror port has several, and
 * shared clients, shared resolvers and remote MXes besides.  Everything
 * that decides "whose lookup is this" and "whose session is this" asks
 * here.
 *
 * Given hosts (--host): each specification is one machine, "ADDR" or
 * "ADDR,ADDR,..." (its addresses), or "PREFIX/LEN" (every address in it
 * is a monitored host of its own).  When any host is given, nothing else
 * is ever taken for a host.
 *
 * Learned hosts (no --host): facts are recorded per address as the
 * packets show them, and an address is a host when
 *  - it sent ident (RFC 1413) probes: only servers do that;
 *  - it served mail (its greeting or replies were seen) and sent DNS
 *    queries of its own;
 *  - it served mail to a client that is not itself an MTA (an MTA serves
 *    mail, probes, or relays: connects to port 25 of two servers, or of
 *    one while it sends DNS queries), or to one that also delivers to one
 *    of the hosts above: a sender that delivers to several of our hosts is
 *    a client, not a host;
 *  - as a last resort, when no address qualifies by the rules above (a
 *    capture of one host's outbound deliveries only), it relays: the
 *    deliverer.
 * A remote MX the host delivers to serves only the host, an MTA: it is not
 * a host.  Facts never expire; the answer for an
 * address may change as facts arrive (it is computed when asked).
 *
 * Machines: the addresses of one given specification are one machine.
 * Learned addresses start as machines of their own and are merged on
 * evidence (hosts_merge()): the correlator merges two addresses when one
 * of them looks up a client that at that time was connected only to the
 * other one (an IPv4 address resolving the reverse name of an IPv6 client
 * of the same machine).  Resolvers are never merged: looking up others'
 * clients is their job.
 *
 * Memory: one record per address with a role (host, DNS querier, mail
 * server, prober), at most HOSTS_MAX_RECORDS; plain clients cost nothing.
 * Facts about further addresses are counted in hosts_stats().dropped.
 */
#ifndef MXLAG_HOSTS_H
#define MXLAG_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../capture/addr.h"

#define HOSTS_MAX_RECORDS 65536
#define HOSTS_MAX_PREFIXES 64

struct hosts;

struct hosts_stats {
	uint32_t records;  /* addresses with a role */
	uint64_t dropped;  /* facts not recorded: the table was full */
};

struct hosts *hosts_new(void);
void hosts_free(struct hosts *h);

/*
 * Adds one --host specification (see above).  Returns 0, or -1 with a
 * message in err.
 */
int hosts_add_spec(struct hosts *h, const char *spec, char *err, size_t errlen);
/* Declares one address a host of its own (a given host). */
void hosts_add(struct hosts *h, const struct mx_addr *a);
/* Were any hosts given?  Then learning is off. */
bool hosts_given(const struct hosts *h);

/* ---- facts ---------------------------------------------------------------- */

/* cli sent a DNS query to srv (loopback senders are ignored). */
void hosts_saw_query(struct hosts *h, const struct mx_addr *cli, const struct mx_addr *srv);
/* prober opened an ident connection. */
void hosts_saw_probe(struct hosts *h, const struct mx_addr *prober);
/*
 * cli opened a mail connection to srv (SYN seen or first data); relay: to
 * port 25, as an MTA delivers (POP3 and submission clients are users, and
 * their connections say nothing about who is a mail host).
 */
void hosts_saw_connect(struct hosts *h, const struct mx_addr *cli, const struct mx_addr *srv,
		       bool relay);
/* srv sent data on a mail connection from cli: it serves mail. */
void hosts_saw_served(struct hosts *h, const struct mx_addr *cli, const struct mx_addr *srv);
/* srv answered DNS queries: a resolver (or an authoritative server); being
   asked one (hosts_saw_query) says as much. */
void hosts_saw_answer(struct hosts *h, const struct mx_addr *srv);

/* ---- questions ------------------------------------------------------------ */

bool hosts_is_host(const struct hosts *h, const struct mx_addr *a);
/*
 * Are a and b the same machine?  Equal addresses are; loopback is the same
 * machine as any host (it is only seen on captures taken on a host); else
 * both must be addresses of one machine.
 */
bool hosts_same_machine(const struct hosts *h, const struct mx_addr *a, const struct mx_addr *b);
/* Is a a DNS server (asked, or answering, DNS queries)? */
bool hosts_is_resolver(const struct hosts *h, const struct mx_addr *a);

/*
 * The machine of one address, looked up once for many questions (the
 * correlator asks for every record of a time window).
 */
struct hosts_machine {
	struct mx_addr self;
	bool host;    /* self is a monitored host */
	bool several; /* the machine has other addresses */
	int32_t root;
};
void hosts_machine_of(const struct hosts *h, const struct mx_addr *a, struct hosts_machine *m);
/* hosts_same_machine(x, m->self), fast when the machine has one address. */
bool hosts_in_machine(const struct hosts *h, const struct hosts_machine *m, const struct mx_addr *x);
/* The machine's addresses (self first), at most max; returns how many. */
unsigned hosts_machine_addrs(const struct hosts *h, const struct hosts_machine *m,
			     struct mx_addr *out, unsigned max);
/*
 * Makes a and b one machine (learned evidence: see correlate.c); false
 * when hosts were given, or either is a resolver or unknown.
 */
bool hosts_merge(struct hosts *h, const struct mx_addr *a, const struct mx_addr *b);
/* Number of addresses that are hosts right now (recorded ones; prefixes not expanded). */
unsigned hosts_count(const struct hosts *h);
/* Calls fn for every host address (recorded ones). */
void hosts_each(const struct hosts *h, void (*fn)(void *ctx, const struct mx_addr *a), void *ctx);
const struct hosts_stats *hosts_stats(const struct hosts *h);

#endif
