/*
 * txnq.h - the queue of commands waiting for their replies (RFC 2920
 * PIPELINING: replies come back in command order), shared by the SMTP and
 * POP3 parsers, and the text helpers they use to fill transactions.
 *
 * The queue holds copies (struct mx_txn plus a parser-specific kind byte);
 * it starts small and doubles up to TXNQ_MAX entries.  A push beyond that
 * is refused and counted in q->dropped: the command is lost, the session
 * goes on.
 */
#ifndef MXLAG_TXNQ_H
#define MXLAG_TXNQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "proto.h"

#define TXNQ_MAX 64

struct txnq_ent {
	struct mx_txn t;
	int kind;        /* parser's command id */
	bool incomplete; /* request damaged by a capture gap */
	bool multi;      /* POP3: a +OK opens a multi-line response */
};

struct txnq {
	struct txnq_ent *v;
	unsigned head, count, cap;
	uint64_t dropped; /* pushes refused because the queue was full */
};

/* Returns a zeroed entry at the tail, or NULL (full / out of memory). */
struct txnq_ent *txnq_push(struct txnq *q);
/* Oldest entry, or NULL when empty; valid until the next push/pop. */
struct txnq_ent *txnq_head(struct txnq *q);
/* Newest entry, or NULL when empty. */
struct txnq_ent *txnq_tail(struct txnq *q);
void txnq_pop(struct txnq *q);
/* Request time of the oldest entry, 0 when empty. */
uint64_t txnq_waiting_since(const struct txnq *q);
void txnq_free(struct txnq *q);
/* The outcome of a command left waiting when a side closed or the capture ended. */
enum mx_outcome txnq_end_outcome(enum mx_end how);

/*
 * Emits e->t as an EV_TXN for sess: takes a txn id, sets session_id and
 * prev_reply_ns (and sess->last_reply_ns when it has a reply).
 * reply_ns / reply_code / reply_text / outcome / end_ns must be filled.
 */
void txnq_emit(const struct mx_sink *out, struct mx_session *sess, struct txnq_ent *e);

/*
 * Emits every queued entry with outcome o, no reply, end_ns = ts_ns, and
 * empties the queue.  Returns how many it emitted.
 */
unsigned txnq_flush(struct txnq *q, const struct mx_sink *out, struct mx_session *sess,
                    enum mx_outcome o, uint64_t ts_ns);

/*
 * Copies src[0..n) into dst (size dstlen >= 1), truncating, replacing bytes
 * outside 0x20..0x7e by '?'; always NUL-terminates.
 */
void mx_copy_printable(char *dst, size_t dstlen, const char *src, size_t n);

/* Like mx_copy_printable, and upper-cases ASCII letters. */
void mx_copy_upper(char *dst, size_t dstlen, const char *src, size_t n);

/*
 * A domain as correlation wants it: lower case, trailing dot removed,
 * truncated to dstlen - 1; an address literal keeps its brackets.
 */
void mx_copy_domain(char *dst, size_t dstlen, const char *src, size_t n);

/* Length of the leading run of non-blank bytes (blank = SP or HT). */
size_t mx_word_len(const char *s, size_t n);
/* Number of leading blanks. */
size_t mx_blank_len(const char *s, size_t n);

#endif
