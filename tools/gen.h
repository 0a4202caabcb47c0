/*
 * gen.h - mxlag-gen: deterministic capture generator.
 *
 * Shared pieces: the PRNG, the truth record (what a scenario really
 * contains, written as JSON next to the capture), and the conversation
 * helpers (TCP sessions with SMTP/POP3 dialogues, DNS exchanges, ident
 * probes) that scenarios.c and workload.c are written with.
 */
#ifndef MXLAG_TOOLS_GEN_H
#define MXLAG_TOOLS_GEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pktwriter.h"

/* 2026-01-01T00:00:00Z */
#define GEN_EPOCH_NS (1767225600ULL * PW_NS_PER_S)
#define GEN_SLOW_MS 1000.0

/* ---- PRNG (splitmix64; never rand()) ----------------------------------- */

struct prng {
	uint64_t s;
};

void prng_seed(struct prng *r, uint64_t seed);
uint64_t prng_next(struct prng *r);
/* uniform in [lo, hi] */
uint64_t prng_range(struct prng *r, uint64_t lo, uint64_t hi);
/* 1 with probability permille/1000 */
int prng_chance(struct prng *r, unsigned permille);

/* ---- truth ------------------------------------------------------------- */

#define T_MAXCAUSE 12
#define T_MAXSLOW 6
#define T_MAXUP 6

struct truth_dns {
	char qname[96];
	char qtype[8];
	char resolver[48];
	char outcome[16];
	int retransmits;
	int is_upstream;
	int new_id;      /* retransmissions used new ids/ports */
	double start_ms; /* offset from the capture start */
};

struct truth_ident {
	char host[48];
	char peer[48];
	char outcome[16];
	int syn_retransmits;
	double start_ms; /* first SYN, offset from the capture start */
};

struct truth_cause {
	char kind[16];     /* dns, ident, none, big-message */
	char relation[20]; /* dns only */
	int dns;           /* index into truth.dns, or -1 */
	int ident;         /* index into truth.ident, or -1 */
	int sess;          /* big-message: index into truth.sess of the message's session, or -1 */
	int upstream[T_MAXUP];
	int nupstream;
};

struct truth_slow {
	char command[12];
	char guess[12];    /* TLS: the command mxlag should guess, "" = none */
	uint64_t req_ns;   /* the request (for GREETING: the handshake's end) */
	const char *label; /* generator's tag (traffic: the incident kind); not in the JSON */
	double latency_ms;
	char reply_code[8];
	char outcome[16];
	struct truth_cause causes[T_MAXCAUSE];
	int ncauses;
};

struct truth_session {
	char protocol[8];
	char client[48];
	int client_port;
	char server[48];
	int server_port;
	uint64_t start_ns; /* end of the TCP handshake */
	int outbound;
	int tls;
	char outcome[16];
	long message_bytes;
	char commands[256]; /* space separated, in order */
	/* an outbound bounce of inbound mail (issue 17): the domain, the
	 * inbound client; "" = none (then not in the JSON) */
	char bounce_domain[64];
	char bounce_origin[48];
	struct truth_slow slow[T_MAXSLOW];
	int nslow;
};

struct truth {
	const char *scenario;
	const char *description;
	const char *server;
	char resolver[48];
	struct truth_session *sess;
	int nsess, capsess;
	struct truth_dns *dns;
	int ndns, capdns;
	struct truth_ident *ident;
	int nident, capident;
	const char *sql_secret; /* a secret that must never be stored */
	const char *sql_checks; /* more "sql" items ([query, op, value], ...), or NULL */
	/* workload counters */
	long w_sessions, w_smtp, w_pop3, w_v6, w_slow_greeting, w_ident, w_ident_dropped;
};

void truth_init(struct truth *t);
void truth_free(struct truth *t);
/* Forgets every record but keeps the memory (a generator that writes its
 * truth as it goes clears it after each batch). */
void truth_clear(struct truth *t);
struct truth_session *truth_add_session(struct truth *t);
int truth_write_json(const struct truth *t, FILE *f);
/* Cause helpers; sl may be NULL (then nothing happens). */
struct truth_cause *truth_cause_dns(struct truth_slow *sl, int dns, const char *relation);
void truth_cause_upstream(struct truth_cause *c, int dns);
void truth_cause_ident(struct truth_slow *sl, int ident);
void truth_cause_none(struct truth_slow *sl);
/* a big message on the same host meanwhile, no lookup (issue 17) */
struct truth_cause *truth_cause_big(struct truth_slow *sl);

/* ---- generator context --------------------------------------------------- */

#define GEN_SPLIT_SERVER 0x01 /* server data in 1-byte segments */
#define GEN_REORDER 0x02
#define GEN_DUP 0x04

struct gen {
	struct pw_sink *sink;
	struct prng rng;
	struct truth *truth; /* NULL: no per-session truth (workload) */
	unsigned flags;
	uint16_t eph;        /* mail host's next ephemeral port */
	struct pw_addr host; /* the mail host (IPv4) */
	struct pw_addr host6;
	struct pw_addr resolver;
	const char *hostname;
	int no_ts; /* sessions opened now do not use TCP timestamps */
};

void gen_init(struct gen *g, struct pw_sink *sink, struct truth *truth, uint64_t seed);
uint16_t gen_ephemeral(struct gen *g);

/* ---- DNS exchanges --------------------------------------------------------- */

struct dns_spec {
	const struct pw_addr *from;     /* NULL: the mail host */
	uint16_t from_port;             /* 0: ephemeral */
	const struct pw_addr *resolver; /* NULL: g->resolver */
	const char *qname;
	uint16_t qtype;
	int tries;          /* transmissions (>= 1) */
	uint64_t retry_ns;  /* between transmissions */
	int new_id;         /* each retransmission gets a new id and port */
	int rcode;          /* -1: never answered */
	uint64_t answer_ns; /* answer delay after the last transmission */
	const char *answer; /* see dns_response() */
	int upstream;       /* resolver -> authoritative (truth only) */
	/* non-NULL: the tries' offsets from *t (tries entries) instead of
	 * retry_ns apart; an unanswered query then ends retry_ns after the
	 * last one */
	const uint64_t *at_ns;
};

/*
 * Sends the query (and retransmissions) from *t on; on return *t is the
 * time of the answer, or when the last try timed out (last try + retry_ns).
 * Returns the truth index of the query (-1 without truth).
 */
int gen_dns(struct gen *g, uint64_t *t, const struct dns_spec *d);

/* ---- ident probes ------------------------------------------------------------- */

enum ident_outcome { IDENT_REFUSED, IDENT_UNANSWERED, IDENT_ANSWERED };

/*
 * RFC 1413 probe from host to peer:113 about the connection
 * (peer_port -> local_port) from *t on.  Unanswered: the SYN plus retrans
 * retransmissions (1, 2, 4 ... s backoff) and *t += timeout.  Returns the
 * truth index.
 */
int gen_ident(struct gen *g, uint64_t *t, const struct pw_addr *host, const struct pw_addr *peer,
              uint16_t peer_port, uint16_t local_port, enum ident_outcome o, int retrans,
              uint64_t timeout, uint64_t rtt);

/*
 * The mail host's SMTP connection attempt to dst:25 at t that gets no
 * answer: the SYN and retrans retransmissions (1, 2, 4 ... s); adds an
 * outbound truth session with outcome unanswered.
 */
void gen_connect_unanswered(struct gen *g, uint64_t t, const struct pw_addr *dst, int retrans);
/* The same refused (RST) rtt later. */
void gen_connect_refused(struct gen *g, uint64_t t, const struct pw_addr *dst, uint64_t rtt);

/* ---- TCP sessions with a command/reply dialogue ------------------------------ */

struct sess {
	struct gen *g;
	struct pw_tcp c;
	uint64_t t;            /* when the client sends its next data */
	uint64_t req_t;        /* arrival of the segment completing the last request */
	uint64_t rtt;          /* client <-> capture point round trip */
	uint64_t think;        /* client's think time */
	uint64_t srv_gap;      /* segment pacing of the server */
	uint64_t cli_gap;      /* segment pacing of the client */
	int capture_at_client; /* outbound: the capture point is the client */
	int closed;
	const char *srvname; /* the server's banner name */
	struct truth_session *tr;
};

/*
 * Opens a TCP session client -> server at t (handshake) and adds its truth
 * record.  For inbound sessions the capture point is the server.
 */
void sess_open(struct sess *s, struct gen *g, const char *proto, const struct pw_addr *cli,
               uint16_t cport, const struct pw_addr *srv, uint16_t sport, uint64_t t, uint64_t rtt,
               int outbound);
/* Client sends text (or bytes) at s->t; sets s->req_t to the last segment. */
void sess_send(struct sess *s, const void *data, size_t len);
void sess_sendstr(struct sess *s, const char *text);
/*
 * Server replies at absolute time at (the first byte); the reply answers
 * the request that completed at s->req_t (for the greeting: the handshake
 * ACK).  Records the command(s) in the truth; returns the slow record when
 * the latency reaches the slow threshold, else NULL.  The client's next
 * send is scheduled after the reply.
 */
struct truth_slow *sess_reply_at(struct sess *s, uint64_t at, const char *command, const void *data,
                                 size_t len);
struct truth_slow *sess_reply(struct sess *s, uint64_t delay, const char *command,
                              const char *text);
/* The client acknowledges the last reply at once (pure ACK). */
void sess_quickack(struct sess *s);
/* Client command line + server reply after delay. */
struct truth_slow *sess_cmd(struct sess *s, const char *command, const char *line, uint64_t delay,
                            const char *reply);
/* Orderly close: the server's FIN first (after SMTP QUIT) or the
 * client's. */
void sess_close(struct sess *s, int server_first);
/* The client gives up at `at` (FIN) while waiting for the reply to the
 * request completed at s->req_t; records the client-abort. */
struct truth_slow *sess_client_abort(struct sess *s, uint64_t at, const char *command);
/* Server processing delay for a fast reply. */
uint64_t sess_fast(struct sess *s);

/* Deterministic message text of exactly len bytes (no line starts with a
 * dot), ending in CRLF. */
void gen_body(struct prng *r, char *buf, size_t len, const char *from, const char *to);

/* ---- clients: 198.51.100.1-254 (not the resolver .53), 203.0.113.1-254, 2001:db8:: ---- */

#define GEN_V4_CLIENTS 507
#define GEN_V6_CLIENTS 4096

/* Client number i (i < GEN_V4_CLIENTS / GEN_V6_CLIENTS). */
struct pw_addr gen_client_v4(unsigned i);
struct pw_addr gen_client_v6(unsigned i);
/* The client's next source port (*p: its last one, 0 at first). */
uint16_t gen_client_port(uint16_t *p, struct prng *r);

/* SMTP/POP3 building blocks */
struct truth_slow *smtp_greeting(struct sess *s, uint64_t greet_at);
void smtp_ehlo(struct sess *s, const char *helo);
/* The EHLO reply, delay after the EHLO that s->req_t completed. */
void smtp_ehlo_reply(struct sess *s, const char *helo, uint64_t delay);
struct truth_slow *smtp_greeting_ehlo(struct sess *s, uint64_t greet_at, const char *helo);
/* MAIL, RCPT, DATA (fast) and the body with its final dot; s->req_t is then
 * the end of the body. */
void smtp_envelope_body(struct sess *s, const char *from, const char *to, const char *to2,
                        size_t body_len);
/* DATA (fast), then the body with its final dot. */
void smtp_data_body(struct sess *s, const char *from, const char *to, size_t body_len);
struct truth_slow *smtp_data_end_at(struct sess *s, uint64_t at);
struct truth_slow *smtp_transaction(struct sess *s, const char *from, const char *to,
                                    size_t body_len, uint64_t data_end_delay);
void smtp_quit(struct sess *s);
/* After the POP3 greeting: USER, PASS, STAT, and with nmsg > 0 LIST, RETR
 * and DELE of one message, QUIT and the close; scratch holds 3200 bytes. */
void pop3_mailbox(struct sess *s, unsigned nmsg, char *scratch);

/* ---- TLS (tlsgen.c) ------------------------------------------------------------ */
size_t tlsgen_client_hello(struct prng *r, uint8_t *b);
/* ServerHello (TLS 1.3: with supported_versions and the CCS) */
size_t tlsgen_server_hello(struct prng *r, uint8_t *b, const uint8_t *client_sid, int v13);
/* a record of type with n random bytes (an alert of 2: close_notify) */
size_t tlsgen_record(struct prng *r, uint8_t *b, uint8_t type, size_t n);
/*
 * The handshake from s->t: ClientHello, the server's first flight
 * hello_delay after it (the TLS-HELLO wait, returned when slow), the rest.
 * TLS 1.3: early = a request sent with the client's Finished (its reply is
 * then tlsgen_reply()'s), tickets = two NewSessionTickets right after it.
 * TLS 1.2: s->req_t is then the handshake end (for a banner inside TLS).
 */
struct truth_slow *tlsgen_handshake(struct sess *s, int v13, uint64_t hello_delay, int tickets,
                                    const char *early);
/* The server's reply record (slen bytes of plaintext) at `at` to the client
 * flight that completed at s->req_t; guess = what mxlag should guess. */
struct truth_slow *tlsgen_reply(struct sess *s, const char *guess, uint64_t at, size_t slen);
/* A client flight of clen plaintext bytes (records of at most 16 KiB). */
void tlsgen_send(struct sess *s, size_t clen);
/* The same, and the reply delay later. */
struct truth_slow *tlsgen_exchange(struct sess *s, const char *guess, size_t clen, uint64_t delay,
                                   size_t slen);
/* The server's close_notify and FIN, then the client's. */
void tlsgen_close(struct sess *s);

/* ---- entry points (scenarios.c, workload.c) ------------------------------------ */

struct gen_options {
	enum pw_link link;
	int link_set; /* link given on the command line */
	int nanosecond;
	int pcapng;
	int span_dup;   /* every packet twice, as a mirror port (pw_opts.span_dup) */
	unsigned flags; /* GEN_SPLIT_SERVER | GEN_REORDER | GEN_DUP */
	uint64_t seed;  /* 0: the default */
	long sessions;  /* workload: 0 = default */
	int quiet;
};

struct gen_result {
	uint64_t packets;
	uint64_t bytes;
	long sessions;
};

struct scenario {
	const char *name;
	const char *description;
	const char *server;
	enum pw_link link; /* default link type */
	void (*run)(struct gen *g);
};

extern const struct scenario gen_scenarios[];
extern const size_t gen_nscenarios;
const struct scenario *gen_scenario_find(const char *name);

/* Return 0, or -1 with a message on stderr. */
int gen_run_scenario(const char *name, const char *out, const char *truth_path,
                     const struct gen_options *o, struct gen_result *res);
int gen_run_workload(const char *out, const char *truth_path, const struct gen_options *o,
                     struct gen_result *res);

struct traffic_result {
	struct gen_result gen; /* packets, bytes, sessions */
	long lookups;          /* the mail hosts' queries (retransmissions not counted) */
	long upstream;         /* the resolver's queries on the wire */
	long slow;             /* slow replies in the truth */
	double lookups_per_s;
	size_t max_queued; /* most packets waiting in the sink at once */
	const char *out;   /* the capture written (NULL: none, e.g. --help) */
	int quiet;         /* -q: the caller prints no summary */
};

/*
 * mxlag-gen traffic (traffic.c): argv[0] is "traffic", the options follow
 * (see its usage).  Returns the exit status (0, 1 on failure, 2 on bad
 * usage); res (may be NULL) gets the figures of a run.
 */
int gen_traffic(int argc, char **argv, struct traffic_result *res);

#endif
