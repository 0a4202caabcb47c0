/*
 * fuzz_stream.h - the shared body of fuzz_smtp.c, fuzz_pop3.c and fuzz_tls.c.
 *
 * Input: byte 0 seeds the chunking (its top bit: the session is
 * midstream, the capture did not see the connection open); the rest is a
 * conversation.  Data bytes
 * go to the current direction; markers (escape a literal with 0xFC):
 *   0xFF       switch direction (starts with server -> client)
 *   0xFE n     gap of n * 37 + 1 bytes in the current direction
 *   0xFD h     end(h % 5)
 * Each run of data between markers is one "segment" with its own
 * timestamp.  The conversation is replayed twice: segments cut into
 * pseudo-random chunks, and segments whole.  The two event streams must be
 * identical (hashed), or the harness aborts.  A parser emits EV_TXN and,
 * for a message body past 1 MiB (gaps count), EV_TRANSFER; nothing else.
 */
#ifndef MXLAG_FUZZ_STREAM_H
#define MXLAG_FUZZ_STREAM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/proto.h"

#define FZ_SEG_MAX 65536

struct fz_hash {
	uint64_t h;
	uint64_t n;
};

static void
fz_mix(struct fz_hash *f, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		f->h ^= b[i];
		f->h *= 1099511628211ull;
	}
}

static void
fz_mix_str(struct fz_hash *f, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	if (n == cap)
		abort(); /* not NUL-terminated */
	fz_mix(f, s, n + 1);
}

static void
fz_emit(void *sink, const struct mx_event *ev)
{
	struct fz_hash *f = sink;
	const struct mx_txn *t = &ev->u.txn;

	if (!ev->session)
		abort();
	if (ev->type == EV_TRANSFER) {
		/* a message body passing another MiB (TCP gaps count: they are
		 * bytes that went by): its session, a size of 1 MiB or more, its
		 * first byte no later than its latest */
		const struct mx_transfer *x = &ev->u.xfer;
		if (x->session_id != ev->session->id || x->bytes < MX_TRANSFER_STEP ||
		    x->start_ns > x->ts_ns)
			abort();
		/* the bytes so far when a MiB was passed depend on where the
		 * segments were cut (as on the wire); the MiB passed does not */
		uint64_t b = x->done ? x->bytes : x->bytes / MX_TRANSFER_STEP;
		f->n++;
		fz_mix(f, &b, sizeof(b));
		fz_mix(f, &x->ts_ns, sizeof(x->ts_ns));
		fz_mix(f, &x->start_ns, sizeof(x->start_ns));
		fz_mix(f, &x->done, sizeof(x->done));
		fz_mix(f, &x->to_client, sizeof(x->to_client));
		return;
	}
	if (ev->type != EV_TXN)
		abort();
	f->n++;
	fz_mix(f, &t->id, sizeof(t->id));
	fz_mix_str(f, t->command, sizeof(t->command));
	fz_mix_str(f, t->guess, sizeof(t->guess));
	fz_mix_str(f, t->argument, sizeof(t->argument));
	fz_mix_str(f, t->reply_code, sizeof(t->reply_code));
	fz_mix_str(f, t->reply_text, sizeof(t->reply_text));
	fz_mix(f, &t->request_ns, sizeof(t->request_ns));
	fz_mix(f, &t->reply_ns, sizeof(t->reply_ns));
	fz_mix(f, &t->end_ns, sizeof(t->end_ns));
	fz_mix(f, &t->size, sizeof(t->size));
	fz_mix(f, &t->outcome, sizeof(t->outcome));
}

static void
fz_feed(const struct proto_parser_ops *ops, void *p, int dir, const uint8_t *seg, size_t n,
        uint64_t ts, int chunked, uint32_t *rng)
{
	size_t o = 0;

	while (o < n) {
		size_t k = n - o;
		if (chunked) {
			*rng = *rng * 1103515245u + 12345u;
			size_t r = (*rng >> 16) % 17;
			k = r == 16 ? k : (r + 1 < k ? r + 1 : k);
		}
		/* an exact-size heap copy so ASan sees any over-read */
		uint8_t *c = malloc(k);
		if (!c)
			abort();
		memcpy(c, seg + o, k);
		ops->data(p, dir, c, k, ts);
		free(c);
		o += k;
	}
}

static struct fz_hash
fz_run(const struct proto_parser_ops *ops, const uint8_t *data, size_t size, int chunked,
       struct mx_session *sess, uint8_t *seg)
{
	struct fz_hash f = {1469598103934665603ull, 0};
	struct mx_ids ids = {0};
	struct mx_sink sink = {fz_emit, &f, &ids};
	uint32_t rng = size ? data[0] : 0;
	int dir = MX_S2C;
	uint64_t ts = 1000000;
	size_t segn = 0;

	memset(sess, 0, sizeof(*sess));
	sess->midstream = size && (data[0] & 0x80); /* a flow picked up mid-stream */
	void *p = ops->create(sess, &sink, ts);
	if (!p)
		return f;
	for (size_t i = 1; i <= size; i++) {
		int marker = i < size && data[i] >= 0xFD; /* 0xFD..0xFF */
		if (i < size && data[i] == 0xFC && i + 1 < size) {
			if (segn < FZ_SEG_MAX)
				seg[segn++] = data[++i];
			continue;
		}
		if (i < size && !marker) {
			if (segn < FZ_SEG_MAX)
				seg[segn++] = data[i];
			continue;
		}
		/* end of a segment */
		if (segn) {
			ts += 1000000;
			fz_feed(ops, p, dir, seg, segn, ts, chunked, &rng);
			segn = 0;
		}
		if (i == size)
			break;
		ts += 1000;
		if (data[i] == 0xFF) {
			dir = !dir;
		} else if (i + 1 < size) {
			uint8_t a = data[++i];
			if (data[i - 1] == 0xFE)
				ops->gap(p, dir, (uint64_t)a * 37 + 1, ts);
			else
				ops->end(p, (enum mx_end)(a % 5), ts);
		}
	}
	ops->end(p, MXE_CAPTURE_END, ts + 1);
	ops->destroy(p);
	return f;
}

static int
fuzz_stream(const struct proto_parser_ops *ops, const uint8_t *data, size_t size)
{
	static uint8_t seg[FZ_SEG_MAX];
	struct mx_session s1, s2;
	struct fz_hash a = fz_run(ops, data, size, 1, &s1, seg);
	struct fz_hash b = fz_run(ops, data, size, 0, &s2, seg);

	if (a.h != b.h || a.n != b.n)
		abort(); /* the split changed the events */
	if (s1.outcome != s2.outcome || s1.bytes_in != s2.bytes_in || s1.messages != s2.messages ||
	    s1.tls != s2.tls || strcmp(s1.helo, s2.helo) != 0 ||
	    strcmp(s1.banner_host, s2.banner_host) != 0)
		abort();
	return 0;
}

#endif
