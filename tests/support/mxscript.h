/*
 * mxscript.h - replays a scripted conversation (data in both directions,
 * gaps, closes) through a stream parser (proto.h) and records the EV_TXN
 * events, with the data steps split in chosen ways, so tests can check that
 * every split gives the same events.
 */
#ifndef MXLAG_MXSCRIPT_H
#define MXLAG_MXSCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/event.h"
#include "analyze/proto.h"

enum mxs_kind { MXS_DATA, MXS_GAP, MXS_END };

struct mxs_step {
	enum mxs_kind kind;
	int dir; /* MX_C2S / MX_S2C */
	uint64_t ts_ns;
	const char *data; /* MXS_DATA */
	size_t len;       /* MXS_DATA: 0 = strlen(data) */
	uint64_t lost;    /* MXS_GAP */
	enum mx_end how;  /* MXS_END */
};

#define MS(x) ((uint64_t)(x)*1000000ull)
/* client / server data at ms t; gap; close */
#define CLI(t, s)                                                                                  \
	{                                                                                          \
		MXS_DATA, MX_C2S, MS(t), (s), 0, 0, MXE_CAPTURE_END                                \
	}
#define SRV(t, s)                                                                                  \
	{                                                                                          \
		MXS_DATA, MX_S2C, MS(t), (s), 0, 0, MXE_CAPTURE_END                                \
	}
#define CLIN(t, s, n)                                                                              \
	{                                                                                          \
		MXS_DATA, MX_C2S, MS(t), (s), (n), 0, MXE_CAPTURE_END                              \
	}
#define SRVN(t, s, n)                                                                              \
	{                                                                                          \
		MXS_DATA, MX_S2C, MS(t), (s), (n), 0, MXE_CAPTURE_END                              \
	}
#define GAP(t, d, n)                                                                               \
	{                                                                                          \
		MXS_GAP, (d), MS(t), NULL, 0, (n), MXE_CAPTURE_END                                 \
	}
#define END(t, h)                                                                                  \
	{                                                                                          \
		MXS_END, 0, MS(t), NULL, 0, 0, (h)                                                 \
	}

/* the server port of the session mxs_run() makes (default 0) */
extern uint16_t mxs_server_port;
/* its sess.midstream: the capture did not see the connection open (default false) */
extern bool mxs_midstream;

enum mxs_split {
	MXS_WHOLE,  /* each step in one call */
	MXS_AT,     /* each data step cut once at offset param (if inside) */
	MXS_CHUNKS, /* each data step fed param bytes at a time */
};

struct mxs_result {
	struct mx_txn *txn;
	size_t n, cap;
	struct mx_session sess;   /* the session after the run */
	unsigned bad_session_ptr; /* events whose ev->session was not the session */
	unsigned other_events;    /* non-EV_TXN events (but EV_TRANSFER) */
	unsigned transfers;       /* EV_TRANSFER events */
	struct mx_transfer last_xfer;
};

/*
 * Runs steps through ops; every data call gets a guard-page copy of its
 * bytes (guard = true) or a plain malloc'd copy.  Returns false if the
 * parser could not be created.  Free with mxs_result_free().
 */
bool mxs_run(const struct proto_parser_ops *ops, const struct mxs_step *steps, size_t nsteps,
             enum mxs_split split, size_t param, bool guard, struct mxs_result *out);
void mxs_result_free(struct mxs_result *r);
/* n bytes of 64-byte CRLF lines ("xx...x\r\n", no dot), malloc'd: a message body */
char *mxs_text_lines(size_t n);

/* Longest data step (the range of MXS_AT offsets worth trying). */
size_t mxs_max_len(const struct mxs_step *steps, size_t nsteps);

/* Field-by-field equality; on a difference writes it into why. */
bool mxs_txn_eq(const struct mx_txn *a, const struct mx_txn *b, char *why, size_t whylen);
/* Same events (ids included) and same session fields. */
bool mxs_result_eq(const struct mxs_result *a, const struct mxs_result *b, char *why,
                   size_t whylen);

/* true if needle occurs in any text field of any event or of the session */
bool mxs_leaks(const struct mxs_result *r, const char *needle);

/* Index of the first txn with this command at or after from, or -1. */
int mxs_find(const struct mxs_result *r, const char *command, size_t from);

/* Prints the events (for failing tests). */
void mxs_dump(const struct mxs_result *r);

/*
 * Criterion checks: runs the script whole (leaving the reference in *ref),
 * then cut at every offset of every data step, then in chunks of 1..7
 * bytes, in guard-page buffers, and asserts identical events each time.
 */
void mxs_check_splits(const struct proto_parser_ops *ops, const struct mxs_step *steps, size_t n,
                      struct mxs_result *ref);
/* Asserts r has n transactions (dumps it when not). */
void mxs_expect_n(const struct mxs_result *r, size_t n);

#endif
