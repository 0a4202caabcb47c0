/*
 * proto.h - the interface every stream protocol parser (SMTP, POP3)
 * implements, and the sink parsers emit events into.
 *
 * A parser is an incremental state machine over (pointer, length) views:
 * data() may be called with any split of the byte stream, including one
 * byte at a time, and must produce identical events either way.  It never
 * reads outside [p, p+n), keeps bounded state (lines capped, bodies
 * counted, not buffered) and copies what it keeps.
 */
#ifndef MXLAG_PROTO_H
#define MXLAG_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* Monotonic id counters shared by everything in one analysis run. */
struct mx_ids {
	uint64_t session, txn, dns, ident, cause;
};

struct mx_sink {
	mx_emit_fn emit;
	void *sink;
	struct mx_ids *ids;
};

static inline void
mx_sink_emit(const struct mx_sink *s, const struct mx_event *ev)
{
	if (s && s->emit)
		s->emit(s->sink, ev);
}

/* How a stream ended, as the parser needs to know it. */
enum mx_end {
	MXE_CLIENT_FIN,
	MXE_CLIENT_RST,
	MXE_SERVER_FIN,
	MXE_SERVER_RST,
	MXE_CAPTURE_END, /* input ended or flow timed out with the stream open */
};

/* directions, same values as capture/flow.h enum cap_dir */
#define MX_C2S 0
#define MX_S2C 1

struct proto_parser_ops {
	enum mx_proto proto;
	const char *name;
	/*
	 * Greeting probe for flows on non-standard ports: given the first bytes
	 * the server sent, 1 = this protocol, 0 = not, -1 = need more bytes.
	 */
	int (*probe)(const uint8_t *p, size_t n);
	/*
	 * New parser for a session.  sess is owned by the caller, outlives the
	 * parser, and the parser updates it (tls, helo, banner_host, ...).
	 * connect_ns is the GREETING request time (handshake end).
	 */
	void *(*create)(struct mx_session *sess, const struct mx_sink *out, uint64_t connect_ns);
	void (*data)(void *parser, int dir, const uint8_t *p, size_t n, uint64_t ts_ns);
	/* lost bytes in direction dir: resynchronise or mark incomplete */
	void (*gap)(void *parser, int dir, uint64_t lost, uint64_t ts_ns);
	/*
	 * A side closed (FIN/RST) or the capture ended.  A command still waiting
	 * for its reply is emitted with outcome client-abort (client FIN/RST),
	 * server-close (server FIN/RST) or incomplete (capture end).  May be
	 * called more than once (client FIN then server FIN); the parser must
	 * set sess->outcome.
	 */
	void (*end)(void *parser, enum mx_end how, uint64_t ts_ns);
	/*
	 * When the oldest command still waiting for its reply was complete (its
	 * request time; the connection for the greeting), 0 when none waits.
	 */
	uint64_t (*waiting_since)(const void *parser);
	/*
	 * When the oldest request not yet emitted was complete, answered or
	 * not (inside TLS an answered exchange is held until the client's next
	 * flight: what overlapped it must be kept); NULL = waiting_since.
	 */
	uint64_t (*pending_since)(const void *parser);
	void (*destroy)(void *parser);
};

extern const struct proto_parser_ops smtp_parser_ops;
extern const struct proto_parser_ops pop3_parser_ops;

#endif
