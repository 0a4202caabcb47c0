/*
 * bounce.h - tells which of a mail host's outbound deliveries bounce
 * recent inbound mail (issue 17: bounce storms, backscatter).
 *
 * What is remembered, per monitored host (hosts.h: the addresses of one
 * machine count as one host):
 *  - senders: envelope sender domain of inbound mail whose MAIL got a 2xx
 *    reply -> the client address and session id of the latest such session;
 *  - from DNS answers: MX lookups (domain -> MX host names; a domain whose
 *    MX lookup has no data is its own MX host, the implicit MX) and the
 *    A/AAAA lookups of those MX hosts (name -> addresses; answers for other
 *    names are not kept: an MTA asks for the MX before the address).  DNS facts are not per host (a name's
 *    addresses are the same for every host) and are learned from every
 *    answer seen: a learned host may be known as one only later.  Likewise
 *    the MAIL of every session is remembered with its server; whether that
 *    server and the delivering client are one monitored host is asked when
 *    a delivery is judged.
 *
 * An outbound delivery (or attempt) of the host to address X bounces the
 * inbound mail of domain D when X is an address of an MX host of D, or of
 * D itself when its MX lookup had no data (the implicit MX), and D was the sender
 * domain of inbound mail of that host within the window; a null-sender
 * delivery (MAIL FROM:<>) to a recipient domain that was such a sender
 * domain counts too.  A delivery seen to give a sender of its own (not the
 * null sender) is ordinary mail, a reply say, never a bounce; one whose
 * sender was not seen (never answered, refused, inside TLS) can be.  When
 * several domains fit, the most recent inbound mail wins.
 *
 * Caps and window (bounce_cfg; 0 = default): each table holds at most its
 * cap of entries (default 65536 each), oldest inserted out first (an
 * entry refreshed keeps its place); what is forced out is counted
 * (bounce_stats).  Entries older than the window (default 24 h of packet
 * time) no longer match.  A lookup walks at most BOUNCE_WALK entries of
 * one key (the most recent first), so a flood of domains sharing one MX
 * host costs no more than that per delivery.
 */
#ifndef MXLAG_BOUNCE_H
#define MXLAG_BOUNCE_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "hosts.h"

#define BOUNCE_WALK 16

struct bounce_cfg {
	uint32_t max_senders; /* inbound sender domains, default 65536 */
	uint32_t max_mx;      /* (domain, MX host) pairs, default 65536 */
	uint32_t max_addrs;   /* (name, address) pairs, default 65536 */
	uint64_t window_ns;   /* default 24 h */
};

struct bounce_stats {
	uint64_t senders_out, mx_out, addrs_out; /* forced out by the caps */
	uint64_t marked;                         /* deliveries told to be bounces */
	uint32_t senders, mx, addrs;             /* entries now */
};

struct bounce;

/* cfg may be NULL for defaults; hosts (owned by the caller) must outlive it */
struct bounce *bounce_new(const struct bounce_cfg *cfg, const struct hosts *hosts);
void bounce_free(struct bounce *b);
/*
 * A transaction of session s: a MAIL with a 2xx reply records its sender
 * domain with the session's server.  Anything else is ignored.
 */
void bounce_txn(struct bounce *b, const struct mx_session *s, const struct mx_txn *t);
/* A finished DNS lookup: answers of MX and A/AAAA lookups are learned. */
void bounce_dns(struct bounce *b, const struct mx_dns *q);
/*
 * A finished session: when it is an outbound delivery of a host (outbound
 * or client_is_host) that bounces recent inbound mail, fills its
 * bounce_domain, bounce_origin and bounce_session_id and returns true.
 */
bool bounce_mark(struct bounce *b, struct mx_session *s);
const struct bounce_stats *bounce_stats(const struct bounce *b);

#endif
