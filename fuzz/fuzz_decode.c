/*
 * fuzz_decode.c - libFuzzer harness for capture/decode.c, ipfrag.c and the
 * SPAN duplicate filter (dedup.c).
 *
 * Input: byte 0 picks the link type (low 4 bits); bit 7 sets tiny fragment
 * limits so the caps are exercised; bit 6 puts a dedup filter with a tiny
 * table (8 fingerprints, 1 ms window) in front of reassembly, as
 * capture.c does.  The rest is a series of packets, each prefixed by a
 * big-endian 16-bit length; bit 15 of the prefix advances packet time by
 * 40 s (past the fragment timeout); bit 14 instead makes the record, in
 * place of any bytes, a copy of the previous packet as a mirror port delivers it:
 * 1 us later, with an 802.1Q tag inserted on Ethernet and the TTL / Hop
 * Limit one lower.  A short or missing prefix makes the remaining bytes
 * one last packet.  Each packet is copied to an exact-size buffer so ASan
 * sees over-reads.
 *
 * Invariants (abort on violation): the filter is only shown bytes of the
 * captured packet (never a reassembled datagram), no more than the IP
 * length; copies of a packet the filter remembered are dropped within the
 * window.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/decode.h"
#include "capture/dedup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WINDOW_NS 1000000ull

static const int dlts[] = {1, 113, 276, 12, 14, 101, 228, 229, 0, 108, 105, 1, 113, 0, 12, 1};

/* what the filter saw of the packet being decoded */
struct seen {
	bool called, dropped;
	size_t l3off, l3len;
	uint32_t wire;
};

struct fz {
	struct dedup *dd;
	const uint8_t *buf; /* the packet being decoded */
	size_t buflen;
	struct seen s;
};

static bool
filter(void *ctx, struct bview l3, uint32_t wirelen, uint64_t ts_ns)
{
	struct fz *z = ctx;
	uintptr_t p = (uintptr_t)l3.p, b = (uintptr_t)z->buf;
	if (l3.len > wirelen || p < b || p - b > z->buflen || l3.len > z->buflen - (p - b))
		abort();
	z->s.called = true;
	z->s.l3off = p - b;
	z->s.l3len = l3.len;
	z->s.wire = wirelen;
	z->s.dropped = dedup_seen(z->dd, l3, wirelen, ts_ns);
	return z->s.dropped;
}

static struct seen
feed(struct decoder *d, struct fz *z, int dlt, const uint8_t *p, size_t n, uint64_t ts)
{
	uint8_t *copy = malloc(n ? n : 1);
	struct seen none = {false, false, 0, 0, 0};
	if (!copy)
		return none;
	if (n)
		memcpy(copy, p, n);
	z->buf = copy;
	z->buflen = n;
	z->s = none;
	struct pkt k = {
	    .ts_ns = ts, .caplen = (uint32_t)n, .wirelen = (uint32_t)n, .dlt = dlt, .data = copy};
	struct decoded o;
	if (decode_packet(d, &k, &o) == DEC_OK) {
		/* touch every byte of the views so ASan checks them */
		volatile uint8_t sink = 0;
		for (size_t i = 0; i < o.payload.len; i++)
			sink ^= o.payload.p[i];
		for (size_t i = 0; i < o.l3.len; i++)
			sink ^= o.l3.p[i];
		(void)sink;
		if (o.payload.len > o.payload_wirelen)
			abort();
	}
	free(copy);
	return z->s;
}

/* The previous packet as the other mirror point saw it; returns its length. */
static size_t
span_copy(uint8_t *out, const uint8_t *p, size_t n, int dlt, const struct seen *s)
{
	size_t tag = dlt == 1 && n >= 14 ? 4 : 0;
	if (tag) {
		static const uint8_t vlan10[4] = {0x81, 0x00, 0x00, 0x0a};
		memcpy(out, p, 12);
		memcpy(out + 12, vlan10, 4);
		memcpy(out + 16, p + 12, n - 12);
	} else if (n) {
		memcpy(out, p, n);
	}
	if (s->called && s->l3len > 8) {
		size_t ip = s->l3off + tag;
		out[ip + ((out[ip] >> 4) == 6 ? 7 : 8)]--;
	}
	return n + tag;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct cap_stats st;
	memset(&st, 0, sizeof(st));
	struct decode_limits small = {
	    .frag_max_datagrams = 3, .frag_max_bytes = 16384, .frag_timeout_ns = 30000000000ull};
	struct decoder *d = decoder_new((data[0] & 0x80) ? &small : NULL, &st);
	if (!d)
		return 0;
	struct fz z;
	memset(&z, 0, sizeof(z));
	if (data[0] & 0x40) {
		struct dedup_limits dl = {.window_ns = WINDOW_NS, .entries = 8};
		z.dd = dedup_new(&dl, &st);
		if (!z.dd) {
			decoder_free(d);
			return 0;
		}
		decoder_set_filter(d, filter, &z);
	}
	int dlt = dlts[data[0] & 0x0f];
	size_t off = 1;
	uint64_t ts = 1000000000ull;
	const uint8_t *prev = NULL;
	size_t prevlen = 0;
	uint64_t prev_ts = 0;
	struct seen ps = {false, false, 0, 0, 0};
	uint8_t cbuf[0x3fff + 4];
	while (off < size) {
		size_t len;
		unsigned pre = 0;
		if (size - off >= 2) {
			pre = (unsigned)data[off] << 8 | data[off + 1];
			off += 2;
			if ((pre & 0xc000) == 0x8000)
				ts += 40000000000ull;
			len = pre & 0x3fff;
			if (len > size - off)
				len = size - off;
		} else {
			len = size - off;
		}
		if ((pre & 0x4000) && prev) {
			size_t n = span_copy(cbuf, prev, prevlen, dlt, &ps);
			struct seen cs = feed(d, &z, dlt, cbuf, n, ts);
			/* remembered (not snapped inside the prefix): its copies within
			 * the window go */
			size_t cov = ps.wire < DEDUP_PREFIX ? ps.wire : DEDUP_PREFIX;
			if (z.dd && ps.called && !ps.dropped && ps.l3len >= cov && cs.called &&
			    ts - prev_ts <= WINDOW_NS &&
			    (!cs.dropped || cs.l3len != ps.l3len || cs.wire != ps.wire))
				abort();
		} else {
			ps = feed(d, &z, dlt, data + off, len, ts);
			prev = data + off;
			prevlen = len;
			prev_ts = ts;
			off += len;
		}
		ts += 1000;
	}
	decoder_expire(d, ts);
	decoder_free(d);
	dedup_free(z.dd);
	return 0;
}
