/*
 * dns.h - DNS message parser and query/response tracker.
 *
 * RFC 1035 (messages, name compression), RFC 3596 (AAAA, ip6.arpa),
 * RFC 6891 (EDNS: OPT pseudo-RR, extended rcode), RFC 7766 (DNS over TCP:
 * 2-octet length prefix, several messages per connection).
 *
 * Three layers:
 *  - dns_parse(): a pure parser of one message in a bounded buffer.  It
 *    never reads outside [p, p+n) and never allocates.
 *  - name helpers (reverse names, DNSBL-shaped names, IP literals) used by
 *    the correlator.
 *  - the tracker: pairs queries and responses into one EV_DNS event per
 *    logical query (retransmissions folded), on packet time.  UDP
 *    datagrams go to dns_datagram(); a TCP connection gets a dns_tcp that
 *    undoes the RFC 7766 framing and feeds the same tracker.
 *
 * Nothing here keeps global mutable state; every tracker is independent.
 */
#ifndef MXLAG_DNS_H
#define MXLAG_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../capture/addr.h"
#include "event.h"
#include "proto.h"

/* ---- message parser --------------------------------------------------- */

#define DNS_HDR_LEN 12
#define DNS_MAX_NAME_WIRE 255 /* RFC 1035 3.1: octets of a name on the wire */
#define DNS_MAX_LABEL 63
#define DNS_MAX_HOPS 64 /* compression pointers followed per name */
#define DNS_TXT_SUMMARY 60
#define DNS_ANSWERS_MAX 512 /* == sizeof(struct mx_dns.answers) */

/* header flag bits (second 16-bit word) */
#define DNS_F_QR 0x8000
#define DNS_F_AA 0x0400
#define DNS_F_TC 0x0200
#define DNS_F_RD 0x0100
#define DNS_F_RA 0x0080

#define DNS_T_A 1
#define DNS_T_NS 2
#define DNS_T_CNAME 5
#define DNS_T_SOA 6
#define DNS_T_PTR 12
#define DNS_T_MX 15
#define DNS_T_TXT 16
#define DNS_T_AAAA 28
#define DNS_T_DNAME 39
#define DNS_T_OPT 41
#define DNS_T_DS 43
#define DNS_T_DNSKEY 48
#define DNS_T_ANY 255

struct dns_msg {
	uint16_t id;
	uint16_t flags; /* raw second header word */
	bool qr, tc;
	uint8_t opcode;
	int rcode; /* header rcode, extended by the OPT RR when present (12 bits) */
	uint16_t qdcount, ancount, nscount, arcount;
	/* EDNS */
	bool edns;
	uint16_t edns_udp_size;
	uint8_t edns_version;
	/* first question; has_question is false when qdcount is 0 */
	bool has_question;
	char qname[MX_QNAME_MAX]; /* lower case, \DDD-escaped, no trailing dot, "." = root */
	bool qname_cut;          /* text form did not fit qname (still unique enough) */
	uint16_t qtype, qclass;
	/* answer section */
	uint16_t n_answers; /* answer RRs parsed */
	uint16_t n_match;   /* ... of the asked type (any type for ANY), or CNAME/DNAME */
	/* one item per answer RR, comma-separated: PTR/CNAME/NS/DNAME target,
	 * A/AAAA address, MX "pref host", TXT first 60 characters (\DDD for
	 * ',' '\\' and non-printables; "..." after them when the text is
	 * longer), else the type name ("SOA", "TYPE999") */
	char answers[DNS_ANSWERS_MAX];
	bool answers_cut; /* summary truncated: ends in ",... (N more)", N = answer
	                     RRs of the header's count not in it */
	/* how far parsing got: the header and question are usable even when
	 * dns_parse() returns -1 if question_ok is set */
	bool question_ok;
};

/*
 * Parses one DNS message (no TCP length prefix).  Returns 0 when the whole
 * message (all four sections as counted in the header) parsed, -1 when it
 * is malformed or truncated anywhere.  *out is always initialised; on -1,
 * out->question_ok says whether the header and first question were read.
 * Names: compression pointers must point strictly before the label that
 * holds them, at most DNS_MAX_HOPS are followed, a name is at most 255
 * octets, labels longer than 63 (or of the reserved 01/10 types) fail.
 */
int dns_parse(const uint8_t *p, size_t n, struct dns_msg *out);

/*
 * Reads the (possibly compressed) name at off of msg into buf as text:
 * lower case, no trailing dot, "." for the root, non-printable octets and
 * '.' '\\' ',' '"' inside labels as \DDD.  Text longer than buflen-1 is cut
 * (*cut set).  *next gets the offset just past the name at off.
 * Returns false on any malformation.
 */
bool dns_read_name(const uint8_t *msg, size_t n, size_t off, char *buf, size_t buflen, size_t *next,
                   bool *cut);

/* ---- name helpers ------------------------------------------------------ */

/*
 * "200.2.0.192.in-addr.arpa" -> 192.0.2.200; 32 nibbles + "ip6.arpa" ->
 * IPv6.  Case-insensitive, a trailing dot is allowed.  Partial reverse
 * names (fewer labels) give false.
 */
bool dns_arpa_to_addr(const char *qname, struct mx_addr *out);

/*
 * "<reversed IPv4 or IPv6 nibbles>.<zone>" as DNSBLs are queried, e.g.
 * "200.2.0.192.zen.spamhaus.org" -> 192.0.2.200, zone "zen.spamhaus.org".
 * *zone (may be NULL) points into name.  The zone's first label must not
 * look like an address part; in-addr.arpa / ip6.arpa are zones like any
 * other here (callers wanting PTR names use dns_arpa_to_addr()).
 */
bool dns_name_reversed_addr(const char *name, struct mx_addr *out, const char **zone);

/* What name is about (struct mx_dns_about): ARPA when dns_arpa_to_addr()
 * gives an address, else REVERSED when dns_name_reversed_addr() does, else
 * NOTHING. */
void dns_name_about(const char *name, struct mx_dns_about *out);

/* ab when it is worked out already, else dns_name_about(name) into tmp:
 * the about of an event's name (mx_dns.about). */
const struct mx_dns_about *dns_about(const char *name, const struct mx_dns_about *ab,
                                     struct mx_dns_about *tmp);

/*
 * A name that is an IP address: "10.11.12.13", "[10.11.12.13]",
 * "[IPv6:2001:db8::1]", "2001:db8::1" (a trailing dot is allowed).
 * out may be NULL.
 */
bool dns_name_is_ip_literal(const char *name, struct mx_addr *out);

/* ---- tracker ----------------------------------------------------------- */

/*
 * Outcome of a logical query (DESIGN.md words): TC set -> truncated (a TCP
 * retry is a query of its own); rcode 0 with answer RRs of the asked type
 * (any for ANY) or CNAME/DNAME -> answered, rcode 0 otherwise -> nodata;
 * 3 nxdomain, 2 servfail, 5 refused, any other (EDNS-extended) rcode ->
 * other; no response within timeout_ns of the last send, pushed out by
 * max_pending, or pending at dns_tracker_finish() -> unanswered with
 * rcode -1 and response_ns 0.  A response with a question that answers no
 * pending query (the query was not seen, or was given up as unanswered)
 * -> a record of its own, no-query, with ts_ns = response_ns = the
 * response's time, last_send_ns 0, the response's rcode and answers;
 * except a second response to a query answered lately (same key, and a
 * txid and client port the query was sent with, among the last 256 such
 * pairs, within timeout_ns), which is dropped.
 */

struct dns_cfg {
	uint64_t timeout_ns;  /* unanswered this long after the last send; default 30 s */
	uint64_t retry_ns;    /* a repeat within this of the last send is a retransmission;
	                         default 15 s (glibc retries after 5 s, djbdns after 3 and 11) */
	uint64_t span_ns;     /* ... and within this of the first send; default 60 s */
	uint32_t max_pending; /* logical queries awaiting a response; default 65536 */
};

struct dns_stats {
	uint64_t queries;     /* query messages seen (retransmissions included) */
	uint64_t responses;   /* response messages seen */
	uint64_t answered;    /* responses matched to a pending query */
	uint64_t unsolicited; /* responses without a pending query */
	uint64_t duplicate;   /* ... a second answer to a query answered lately: dropped */
	uint64_t no_query;    /* ... others: records with outcome no-query */
	uint64_t unanswered;  /* queries emitted as unanswered (timeout, finish, overflow) */
	uint64_t overflow;    /* ... of which forced out early by max_pending */
	uint64_t malformed;   /* messages dns_parse() rejected */
	uint64_t folded;      /* retransmissions folded into an earlier query */
	uint64_t owned_apart; /* repeats kept apart: made for another session (owner) */
	uint64_t reowned;     /* queries given to another session at a retransmission */
	uint64_t no_question; /* messages without a question: ignored */
	uint64_t tcp_dropped; /* TCP bytes ignored after a gap or a bad length */
	uint64_t tcp_resync;  /* ... after which a segment began a message again */
	uint64_t emitted;     /* EV_DNS events */
};

struct dns_tracker;
struct dns_tcp;

/*
 * New tracker; cfg may be NULL for defaults.  out (and out->ids when not
 * NULL) must outlive the tracker; one EV_DNS event per logical query goes
 * there when it finishes, with its id from ++out->ids->dns.
 * Returns NULL when out of memory.
 */
struct dns_tracker *dns_tracker_new(const struct dns_cfg *cfg, const struct mx_sink *out);

/*
 * One UDP datagram.  Queries (QR=0) go from src (client) to dst (server),
 * responses from src (server) to dst (client).  p is only read during the
 * call.  Matching: a response answers the pending query with the same
 * client address+port, server address, txid and question; a query equal
 * in (client address, server address, qname, qtype, qclass, transport) to
 * one still pending is folded into it as a retransmission, whatever its
 * txid or port, when it comes within retry_ns of that one's last send and
 * span_ns of its first (else it is a new logical query, and the older one
 * stays pending for its own answer); a response to any of the folded
 * txids answers it (the first and the last 7 txid/port pairs of a query
 * are remembered).  Nothing is folded across an answer: an answered query
 * is no longer pending.
 * The event carries the first transmission's txid and client port, ts_ns =
 * first send, last_send_ns = last send, response_ns = the response's
 * first octet.  Expiry (as dns_tracker_expire) also runs on every message.
 */
void dns_datagram(struct dns_tracker *t, const struct mx_endpoint *src,
                  const struct mx_endpoint *dst, const uint8_t *p, size_t n, uint64_t ts_ns);

/*
 * DNS over TCP (RFC 7766).  cli is the connection's client (it sends the
 * queries).  dns_tcp_data() takes the in-order stream bytes of direction
 * dir (MX_C2S / MX_S2C) split anywhere; complete messages are fed to the
 * tracker.  Messages are buffered up to 65535 octets, one per direction.
 * After dns_tcp_gap() (or a length below a header) the framing of that
 * direction is lost: the partial message and the following data are
 * counted in tcp_dropped and ignored until a call (one TCP segment) begins
 * with a message: a length prefix and a message that parses whole, or,
 * when it goes on past the segment, one question that parses (RFC 7766
 * clients and servers mostly start each message in a segment of its own).
 * dns_tcp_free() drops partial messages; queries it delivered stay pending
 * in the tracker.  The tracker must outlive its dns_tcp objects.
 */
struct dns_tcp *dns_tcp_new(struct dns_tracker *t, const struct mx_endpoint *cli,
                            const struct mx_endpoint *srv);
void dns_tcp_data(struct dns_tcp *c, int dir, const uint8_t *p, size_t n, uint64_t ts_ns);
void dns_tcp_gap(struct dns_tcp *c, int dir, uint64_t lost, uint64_t ts_ns);
void dns_tcp_free(struct dns_tcp *c);

/*
 * Which session a new transmission was made for (a mail session's id, 0 =
 * cannot tell), asked for every query that is not a resend of a pending
 * query's own id and port.  pending: the pending query of the same
 * question (its owner and last send), NULL = none.  A repeat whose owner
 * differs from the pending query's is a lookup of its own, not a retry.
 * The owner goes into the event (mx_dns.owner).
 */
struct pending_lookup {
	uint64_t owner;
	uint64_t last_ns;
};
typedef uint64_t (*dns_owner_fn)(void *ctx, const struct mx_endpoint *cli,
                                 const struct dns_msg *m, const struct mx_dns_about *about,
                                 const struct pending_lookup *pending, uint64_t ts_ns);
void dns_tracker_set_owner(struct dns_tracker *t, dns_owner_fn fn, void *ctx);
/*
 * Asked at a query's first retransmission (the same id and port again),
 * when it has an owner: who is still waiting for it.  A stub resends only
 * while its caller waits, so an owner that got its reply in the meantime
 * did not make it.  Returns the owner to keep (owner itself when nothing
 * tells otherwise).  The function set by dns_tracker_set_owner() gets ctx.
 */
typedef uint64_t (*dns_reowner_fn)(void *ctx, uint64_t owner, const struct mx_endpoint *cli,
                                   const char *qname, uint16_t qtype, uint64_t first_ns,
                                   uint64_t ts_ns);
void dns_tracker_set_reowner(struct dns_tracker *t, dns_reowner_fn fn);

/* Emits (unanswered) every query whose last send is timeout_ns or more before now_ns. */
void dns_tracker_expire(struct dns_tracker *t, uint64_t now_ns);
/* Emits every pending query as unanswered (end of input). */
void dns_tracker_finish(struct dns_tracker *t, uint64_t now_ns);
size_t dns_tracker_pending(const struct dns_tracker *t);
/* First send of the oldest pending query, 0 when none is pending. */
uint64_t dns_tracker_oldest_start(const struct dns_tracker *t);
const struct dns_stats *dns_tracker_stats(const struct dns_tracker *t);
/* Frees the tracker; pending queries are dropped without events. */
void dns_tracker_free(struct dns_tracker *t);

#endif
