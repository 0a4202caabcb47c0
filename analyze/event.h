/*
 * event.h - what the protocol analyzers emit: sessions, transactions
 * (command + reply), DNS queries, ident probes, and the causes the
 * correlator attaches to slow transactions.
 *
 * Events carry no pointers into packet memory: strings are copied,
 * NUL-terminated and truncated to the field size.  Times are ns since the
 * Unix epoch, 0 = unknown / never.  The words (outcomes, relations, command
 * names) are the vocabulary of DESIGN.md; the *_str() helpers give them.
 */
#ifndef MXLAG_EVENT_H
#define MXLAG_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../capture/addr.h"

enum mx_proto { MXP_UNKNOWN = 0, MXP_SMTP, MXP_POP3 };

/* session and transaction outcome */
enum mx_outcome {
	MXO_OK = 0,
	MXO_CLIENT_ABORT,
	MXO_SERVER_CLOSE,
	MXO_INCOMPLETE,
	MXO_UNANSWERED, /* sessions: SYNs only */
	MXO_REFUSED,    /* sessions: RST to the SYN */
	/* sessions inside TLS (tls.h) */
	MXO_TLS_UNANSWERED, /* the ClientHello got no server record */
	MXO_TLS_ALERT,      /* a fatal alert in the handshake */
	MXO_TLS_FAILED,     /* closed before the handshake ended, or not TLS */
	/* sessions: the client closed its sending half (FIN) with commands
	 * waiting, and the server went on answering them */
	MXO_HALF_CLOSE,
	/* transactions: the input ended (or the connection went idle past its
	 * timeout) while the client was still waiting: the wait was at least
	 * that long; a session cut so is incomplete */
	MXO_CUT,
};

/* dns outcome */
enum mx_dns_outcome {
	MXD_ANSWERED = 0,
	MXD_NODATA,
	MXD_NXDOMAIN,
	MXD_SERVFAIL,
	MXD_REFUSED,
	MXD_TRUNCATED,
	MXD_UNANSWERED,
	MXD_OTHER, /* other rcode: see rcode */
	MXD_NO_QUERY, /* a response whose query was not seen: no start, no latency */
};

/* ident outcome */
enum mx_ident_outcome { MXI_ANSWERED = 0, MXI_REFUSED, MXI_UNANSWERED };

/* MXC_BIG_MESSAGE (issue 17): no lookup or probe of the host explains the
 * wait, but a big message was on the wire to or from the same machine
 * meanwhile (mx_cause.session_ref) */
enum mx_cause_kind { MXC_NONE = 0, MXC_DNS, MXC_IDENT, MXC_BIG_MESSAGE };

/*
 * The server software as its greeting names it (software.c).  MXS_NONE: no
 * greeting seen (inside TLS, picked up mid-stream, or none sent);
 * MXS_UNKNOWN: a greeting that names none of these (or two of them).
 */
enum mx_software {
	MXS_NONE = 0,
	MXS_UNKNOWN,
	MXS_EXIM,
	MXS_POSTFIX,
	MXS_SENDMAIL,
	MXS_DOVECOT,
	MXS_EXCHANGE,
};

enum mx_relation {
	MXR_NONE = 0, /* for kind none / ident */
	MXR_CLIENT_PTR,
	MXR_CLIENT_FORWARD,
	MXR_SELF_PTR,
	MXR_SELF_NAME,
	MXR_HELO,
	MXR_SENDER_DOMAIN,
	MXR_RECIPIENT_DOMAIN,
	MXR_SPF,
	MXR_DNSBL,
	MXR_IP_LITERAL,
	MXR_UPSTREAM,
	MXR_IDENT,
	MXR_UNRELATED,
};

#define MX_NAME_MAX 256 /* a DNS name in text form fits in 254 */
/* a DNS name as a lookup's name: at most 255 octets on the wire, but its
 * text form escapes an octet as \DDD, so it may be up to 4 times longer */
#define MX_QNAME_MAX 1024
#define MX_ARG_MAX 256
#define MX_RCPT_DOMAINS 8

struct mx_session {
	uint64_t id;
	enum mx_proto proto;
	struct mx_endpoint client, server;
	uint64_t start_ns; /* handshake end (or SYN / first packet seen) */
	uint64_t syn_ns;   /* client's first SYN, 0 if not seen */
	uint64_t end_ns;
	/* the capture did not see the connection open (neither the client's
	 * SYN nor the server's SYN-ACK): the flow was picked up mid-stream, so
	 * its first bytes need not be the start of the conversation */
	bool midstream;
	enum mx_outcome outcome;
	bool tls;
	/* which end is a monitored mail host (hosts.h), as known at the end of
	 * the session: outbound = the client is one and the server is not (one
	 * of the host's own deliveries); both set: a delivery between two
	 * monitored hosts, inbound for the server's host */
	bool outbound;
	bool client_is_host, server_is_host;
	char app[16];  /* how the flow was classified: "port", "ndpi:SMTP", ... */
	/* what correlation needs, filled by the protocol parser */
	char banner_host[MX_NAME_MAX]; /* first word after the greeting code */
	enum mx_software software;     /* told from the greeting, once */
	char helo[MX_NAME_MAX];
	char sender_domain[MX_NAME_MAX];
	char rcpt_domains[MX_RCPT_DOMAINS][MX_NAME_MAX];
	int n_rcpt_domains;
	uint64_t bytes_in;  /* message bytes: DATA/BDAT (SMTP) or RETR/TOP (POP3) */
	uint32_t messages;  /* messages sent (SMTP) or retrieved (POP3) */
	uint64_t last_reply_ns; /* first byte of the latest reply emitted, 0 = none */
	uint32_t replies;       /* replies emitted for it so far (txnq_emit()) */
	/* issue 17 */
	uint64_t max_message; /* the largest message: DATA, BDAT chunks to LAST, RETR */
	bool null_sender;     /* MAIL FROM:<> seen */
	/* an outbound delivery that bounces recent inbound mail: the domain
	 * whose mail server it went to, the inbound mail's client and session
	 * ("" / 0 = not a bounce) */
	char bounce_domain[MX_NAME_MAX];
	struct mx_addr bounce_origin;
	uint64_t bounce_session_id;
};

struct mx_txn {
	uint64_t id;
	uint64_t session_id;
	char command[16];         /* GREETING, EHLO, MAIL, ..., DATA-END, USER ...,
				     TLS-HELLO, TLS (an encrypted exchange) */
	char guess[16];           /* TLS: the command it most likely was, "" = no guess */
	char argument[MX_ARG_MAX]; /* secrets replaced by "***" */
	uint64_t request_ns;      /* segment completing the command (connect time for GREETING) */
	uint64_t reply_ns;        /* first byte of the reply; 0 = no reply */
	char reply_code[8];       /* "250", "+OK", "-ERR", "" */
	char reply_text[128];     /* first line of the reply, after the code */
	enum mx_outcome outcome;
	uint64_t size;            /* DATA-END/BDAT: message bytes; RETR/TOP: bytes */
	uint64_t end_ns;          /* no reply: when the wait ended (client FIN/RST,
				     server close, capture end); 0 = unknown */
	uint64_t prev_reply_ns;   /* the session's reply before this one, 0 = none */
};

/*
 * mx_dns.owner with this bit: tied to its session by timing alone, not by
 * name (inside TLS the HELO name, sender and recipients are not seen: a
 * lookup sent within 50 ms of an encrypted request while no other session
 * of that host waits; dispatch.c tls_claim()).  MX_OWNER_ID() is the id.
 */
#define MX_OWNER_TIMING (1ull << 62)
#define MX_OWNER_ID(o) ((o) & ~MX_OWNER_TIMING)

/*
 * What a DNS name is about (dns_name_about()): the address of a reverse
 * name (in-addr.arpa, ip6.arpa) or of a DNSBL-style reversed prefix, or
 * nothing.  An event carries it worked out once by the DNS tracker, so
 * that its consumers need not split the name again; MXD_ABOUT_UNKNOWN
 * (0: an event made elsewhere, a test's) lets them work it out.
 */
enum mx_dns_about_kind {
	MXD_ABOUT_UNKNOWN = 0,
	MXD_ABOUT_NOTHING,
	MXD_ABOUT_ARPA,     /* dns_arpa_to_addr() */
	MXD_ABOUT_REVERSED, /* dns_name_reversed_addr() (and not ARPA) */
};
struct mx_dns_about {
	uint8_t kind; /* enum mx_dns_about_kind */
	struct mx_addr addr; /* ARPA, REVERSED: the address */
};

struct mx_dns {
	uint64_t id;
	uint64_t ts_ns; /* first transmission; MXD_NO_QUERY: the response's time */
	struct mx_endpoint client, server;
	bool tcp;
	uint16_t txid;
	char qname[MX_QNAME_MAX]; /* lower-case, no trailing dot; "." for the root */
	uint16_t qtype;
	enum mx_dns_outcome outcome;
	int rcode;              /* -1 = none */
	char answers[512];      /* "name1,1.2.3.4,10 mx.example" summary */
	uint64_t response_ns;   /* 0 = unanswered */
	uint32_t retransmits;
	uint64_t last_send_ns;  /* last retransmission */
	uint64_t owner;         /* the session it was made for, 0 = cannot tell */
	struct mx_dns_about about; /* of qname (dns_about()) */
};

struct mx_ident {
	uint64_t id;
	uint64_t ts_ns;           /* first SYN (or first packet) */
	struct mx_endpoint host;  /* the prober (mail host) side */
	struct mx_endpoint peer;  /* addr:113 */
	enum mx_ident_outcome outcome;
	uint64_t end_ns;          /* reply / RST / last SYN */
	uint32_t syn_retransmits;
	char response[128];       /* "USERID : UNIX : joe" or "ERROR : NO-USER" */
	uint64_t owner;           /* the session it was made for, 0 = cannot tell */
};

struct mx_cause {
	uint64_t id;
	uint64_t txn_id;
	enum mx_cause_kind kind;
	enum mx_relation relation;
	uint64_t dns_id;   /* 0 = none */
	uint64_t ident_id; /* 0 = none */
	uint64_t parent_id; /* upstream causes point at their dns cause */
	double overlap_ms;
	double share;
	/* how long the query/probe was outstanding, as far as this wait saw:
	 * its latency when answered, else until the wait ended */
	double query_ms;
	/* the remedy of this one cause for the session's server software: a
	 * static string (NULL for upstream hops: their dns cause has it) */
	const char *remedy;
	uint64_t session_ref; /* MXC_BIG_MESSAGE: the session of the big message */
};

enum mx_event_type {
	EV_SESSION,  /* at session end, complete */
	EV_TXN,      /* a transaction with its reply (or outcome) */
	EV_DNS,      /* a finished DNS query */
	EV_IDENT,    /* a finished ident probe */
	EV_CAUSE,    /* correlator output */
	EV_DIAGNOSIS, /* correlator output: diagnosis/remedy of a slow txn */
	EV_TRANSFER, /* a message of 1 MiB or more on the wire: for the correlator only */
};

struct mx_diagnosis {
	uint64_t txn_id;
	char diagnosis[1024];
	char remedy[1024]; /* the distinct remedies of its causes, combined */
};

/*
 * A message on the wire (issue 17): emitted by the parser each time its
 * bytes pass another MX_TRANSFER_STEP and once at its end, so the
 * correlator knows the big messages in flight.  Consumed by the
 * correlator, never stored.
 */
#define MX_TRANSFER_STEP (1u << 20)
struct mx_transfer {
	uint64_t session_id;
	struct mx_endpoint client, server;
	bool to_client;    /* POP3 RETR: the server sends it */
	uint64_t start_ns; /* its first byte */
	uint64_t ts_ns;    /* its latest byte */
	uint64_t bytes;    /* so far (all of it when done) */
	bool done;         /* its last byte was seen */
};

struct mx_event {
	enum mx_event_type type;
	/* EV_TXN: the session it belongs to (valid during the call only) */
	const struct mx_session *session;
	union {
		struct mx_session session;
		struct mx_txn txn;
		struct mx_dns dns;
		struct mx_ident ident;
		struct mx_cause cause;
		struct mx_diagnosis diag;
		struct mx_transfer xfer;
	} u;
};

/*
 * Zeroes ev's type, session pointer and the body its type uses, and sets
 * the type.  The rest of the union is left as it is: it is never read for
 * that type, and a session body is 3 KiB where a reply's is 0.5 (zeroing
 * the whole event per reply was a tenth of the replies' hand-off).
 */
static inline void
mx_event_init(struct mx_event *ev, enum mx_event_type type)
{
	size_t body = 0;
	switch (type) {
	case EV_SESSION: body = sizeof(ev->u.session); break;
	case EV_TXN: body = sizeof(ev->u.txn); break;
	case EV_DNS: body = sizeof(ev->u.dns); break;
	case EV_IDENT: body = sizeof(ev->u.ident); break;
	case EV_CAUSE: body = sizeof(ev->u.cause); break;
	case EV_DIAGNOSIS: body = sizeof(ev->u.diag); break;
	case EV_TRANSFER: body = sizeof(ev->u.xfer); break;
	}
	memset(ev, 0, offsetof(struct mx_event, u) + body);
	ev->type = type;
}

/* Receives events; ev and everything it points to is valid during the call only. */
typedef void (*mx_emit_fn)(void *sink, const struct mx_event *ev);

const char *mx_proto_str(enum mx_proto p);
const char *mx_outcome_str(enum mx_outcome o);
const char *mx_dns_outcome_str(enum mx_dns_outcome o);
const char *mx_ident_outcome_str(enum mx_ident_outcome o);
const char *mx_cause_kind_str(enum mx_cause_kind k);
const char *mx_relation_str(enum mx_relation r);
/* "exim", "postfix", ..., "unknown"; NULL for MXS_NONE */
const char *mx_software_str(enum mx_software s);
/* "PTR", "A", ... or "TYPE123" into buf (>= 12 bytes); returns the name */
const char *mx_qtype_str(uint16_t qtype, char *buf, unsigned buflen);

/* FNV-1a of a NUL-terminated name (names are compared exactly, so is the hash). */
uint32_t mx_name_hash(const char *s);

/* Copies at most dstlen-1 bytes of src, NUL-terminates; returns true if it fit. */
bool mx_strlcpy(char *dst, const char *src, unsigned long dstlen);

#endif
