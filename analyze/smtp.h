/*
 * smtp.h - SMTP stream parser (RFC 5321; PIPELINING RFC 2920, CHUNKING/BDAT
 * RFC 3030, AUTH RFC 4954, STARTTLS RFC 3207): the pure grammar helpers.
 * The stateful parser is smtp_parser_ops (proto.h).
 *
 * What the parser emits (one EV_TXN per command with its reply):
 *  - GREETING first (request = connect time), then each command in order.
 *  - "DATA" gets the 354 reply; the body is counted, never buffered, and
 *    its end (CRLF.CRLF) is the request of a "DATA-END" txn whose size is
 *    the message size (dot-stuffing removed, terminator excluded).
 *  - "BDAT n [LAST]": one txn per chunk, request = the segment holding the
 *    chunk's last byte, size = n.
 *  - AUTH: the AUTH txn keeps the mechanism (+ " ***" with an initial
 *    response).  Every client SASL response line is its own txn, command
 *    "AUTH", argument "***", so each server step is timed on its own; the
 *    reply text of 334 challenges is not kept.
 *  - After a 2xx to STARTTLS the session is tls and nothing more is parsed.
 *  - A 421 reply ends the session: that txn and every later pending one get
 *    outcome server-close.
 *  - Empty command lines are ignored.  A command lost in a capture gap is
 *    queued as command "?" (or its verb, when the verb survived) with
 *    outcome incomplete, so later replies still pair up.
 */
#ifndef MXLAG_SMTP_H
#define MXLAG_SMTP_H

#include <stdbool.h>
#include <stddef.h>

struct smtp_reply_line {
	int code;         /* 200..599 */
	bool more;        /* "NNN-": more lines follow */
	const char *text; /* after "NNN " / "NNN-" (points into the input) */
	size_t textlen;
};

/*
 * Parses one reply line without its line end: three digits, the first in
 * 2..5, then end of line, SP or '-'.  Returns 0 and fills *out, or -1 if
 * the line is not a reply line.
 */
int smtp_parse_reply_line(const char *p, size_t n, struct smtp_reply_line *out);

/*
 * The domain of a MAIL FROM / RCPT TO argument ("FROM:<a@b.example> SIZE=1"):
 * sets *dom and *domlen to the part after the last '@' of the path (pointing
 * into the input).  Returns false when there is none ("<>", "<postmaster>",
 * no ':').
 */
bool smtp_path_domain(const char *arg, size_t n, const char **dom, size_t *domlen);

#endif
