/*
 * pop3.h - POP3 stream parser (RFC 1939; CAPA/STLS RFC 2449/2595, AUTH
 * RFC 5034).  The parser is pop3_parser_ops (proto.h).
 *
 * What it emits (one EV_TXN per command with its reply):
 *  - GREETING first (request = connect time, reply "+OK"/"-ERR"), only when
 *    the capture saw the connection open (not sess->midstream) and the
 *    server spoke first: a client that speaks first is answered by the
 *    server's first line (the greeting is not in the capture).
 *  - USER (argument kept), PASS (argument always "***"), APOP ("user ***"),
 *    AUTH (mechanism, + " ***" with an initial response).  Each client SASL
 *    response line is its own txn: command "AUTH", argument "***", answered
 *    by the next "+ " challenge (reply code "+", text not kept) or by the
 *    final +OK/-ERR.
 *  - Multi-line responses (CAPA, LIST/UIDL without argument, RETR, TOP, AUTH
 *    without argument) end at the lone "." line; the txn is emitted then,
 *    reply_ns = first byte of the +OK line, size = body bytes with
 *    dot-stuffing removed.  RETR adds to sess->messages / bytes_in.  A
 *    body without its "." is cut at a "+OK"/"-ERR" line that comes first
 *    after a client command sent in the middle of the body (pop3_watch()).
 *  - After +OK to STLS the session is tls and nothing more is parsed.
 *  - A command lost in a capture gap is queued as "?" (or its verb) with
 *    outcome incomplete so later replies still pair up.
 */
#ifndef MXLAG_POP3_H
#define MXLAG_POP3_H

#include <stddef.h>

/*
 * Classifies a status line (no line end): 1 "+OK", 2 "-ERR", 3 a SASL
 * continuation ("+" or "+ ..."), 0 anything else.  *text / *textlen give
 * what follows the indicator and one blank.
 */
int pop3_parse_status(const char *p, size_t n, const char **text, size_t *textlen);

#endif
