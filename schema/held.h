/*
 * held.h - complete session rows held back by the writer so that they go
 * into session_rows in id order.
 *
 * A session's id is given when it starts, its row is written when it ends:
 * written at once, a row whose session outlived later ones lands in the
 * middle of the table's B-tree and splits a full page, leaving two half-full
 * ones (on the 100k-session workload 61 of session_rows' 401 bytes a session
 * were free space).  The writer keeps the rows of ended sessions here, in a
 * compact copy (only the text each name holds, not the fixed buffers of
 * struct mx_session), and writes the one with the smallest id when too many
 * rows or bytes are held, or all of them when the oldest has waited too long
 * (live capture) or the batch must be complete (store_flush, end of run).
 *
 * A min-heap on (id, order of arrival); one allocation per row.
 */
#ifndef MXLAG_HELD_H
#define MXLAG_HELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../analyze/event.h"

/*
 * The fields of struct mx_session, other than its texts, that a session row
 * is written from: X(field) for each (held.c copies them, and so does the
 * store's copy of an open session).
 */
#define HELD_SESSION_NUMBERS(X)                                                                   \
	X(id) X(start_ns) X(syn_ns) X(end_ns) X(bytes_in) X(max_message) X(bounce_session_id)     \
	X(client) X(server) X(bounce_origin) X(proto) X(outcome) X(software) X(messages)           \
	X(n_rcpt_domains) X(tls) X(outbound) X(client_is_host) X(server_is_host) X(null_sender)

struct held;

struct held *held_new(void);
void held_free(struct held *h);

/* Keeps a copy of the ended session x, its replies record rec (NULL: none)
 * and the time now_ms it was held at; false = out of memory (nothing kept). */
bool held_put(struct held *h, const struct mx_session *x, const char *rec, uint64_t now_ms);

/* Rows held, and the bytes of their copies. */
size_t held_count(const struct held *h);
size_t held_bytes(const struct held *h);

/* The earliest now_ms of the rows held; UINT64_MAX when none. */
uint64_t held_oldest_ms(const struct held *h);

/*
 * Takes out the row with the smallest id (of equal ids, the first held):
 * fills x with the fields a session row is written from (as store.c's
 * copy_session copies them) and sets *rec to its record (NULL: none), valid
 * until the next held_take() or held_clear().  False when none is held.
 */
bool held_take(struct held *h, struct mx_session *x, const char **rec);

/* Drops every row held (a rolled-back batch). */
void held_clear(struct held *h);

#endif
