/*
 * tcpreasm.h - reassembly of one direction of a TCP connection (RFC 9293
 * section 3.4, sequence numbers).
 *
 * A struct tcpreasm turns segments (32-bit sequence numbers, possibly
 * reordered, duplicated, overlapping or snapped) into an ordered byte
 * stream addressed by 64-bit offsets from the stream start (the byte after
 * the SYN, or the first payload byte seen for a flow picked up mid-stream).
 *
 * Guarantees, through the callbacks of struct tr_env:
 *  - each stream byte is reported exactly once, either by data() (with the
 *    timestamp of the segment that carried it) or as part of a gap();
 *  - out-of-order data is copied into a bounded buffer (max_bytes captured
 *    bytes, max_segs pieces); when the cap is hit, the first hole is given
 *    up (gap) rather than dropping newer data;
 *  - fin() comes once, after every byte before the FIN; data beyond the
 *    FIN is ignored;
 *  - the in-order path never allocates.
 * The struct is zero-initialised by its owner; tr_release() frees the
 * buffer.  Callbacks must not call back into the same tcpreasm.
 */
#ifndef MXLAG_TCPREASM_H
#define MXLAG_TCPREASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"

struct tr_seg;

struct tcpreasm {
	struct tr_seg *ooo; /* sorted, non-overlapping, every piece beyond next */
	uint64_t next;      /* offset of the next byte expected in order */
	uint64_t fin_off;   /* offset the FIN occupies, when fin_seen */
	uint64_t fin_ts;    /* timestamp of the FIN segment */
	uint32_t base;      /* sequence number of offset 0 */
	uint32_t ooo_bytes; /* captured bytes held in ooo */
	uint32_t ooo_segs;  /* pieces held in ooo */
	bool started, fin_seen, fin_done;
};

/* Shared by every direction of a table; arg identifies the direction. */
struct tr_env {
	uint32_t max_bytes; /* 0 = nothing is buffered */
	uint32_t max_segs;
	struct cap_stats *st; /* must not be NULL */
	void (*data)(void *arg, const uint8_t *p, size_t n, uint64_t ts_ns);
	void (*gap)(void *arg, uint64_t lost, uint64_t ts_ns);
	void (*fin)(void *arg, uint64_t ts_ns);
};

/* Sets offset 0 at sequence number seq (the ISN + 1, or a first payload seq). */
void tr_start(struct tcpreasm *r, uint32_t seq);
/* Offset of seq, unwrapped around the next expected byte (may be < 0). */
int64_t tr_offset(const struct tcpreasm *r, uint32_t seq);
/*
 * One segment: seq is the sequence number of its first payload byte (after
 * a SYN), p/caplen the captured payload, wirelen the payload length on the
 * wire (caplen when smaller; the missing tail is reported as a gap), fin
 * whether it carried a FIN.  Starts the stream at seq if not started.
 */
void tr_segment(struct tcpreasm *r, const struct tr_env *env, void *arg, uint32_t seq,
                const uint8_t *p, uint32_t caplen, uint32_t wirelen, bool fin, uint64_t ts_ns);
/*
 * The peer acknowledged ack: bytes below it that were never seen are lost
 * (reported as gaps, buffered data after them delivered).  An ack exactly
 * one past the stream with nothing buffered is taken for an unseen FIN and
 * ignored; acks more than 1 GiB ahead are ignored as bogus.
 */
void tr_ack(struct tcpreasm *r, const struct tr_env *env, void *arg, uint32_t ack, uint64_t ts_ns);
/* Gives up every hole: delivers all buffered data and a seen FIN. */
void tr_flush(struct tcpreasm *r, const struct tr_env *env, void *arg, uint64_t ts_ns);
/* Frees buffered data without callbacks; r may be reused after tr_start. */
void tr_release(struct tcpreasm *r);

#endif
