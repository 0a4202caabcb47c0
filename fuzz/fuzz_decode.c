/*
 * fuzz_decode.c - libFuzzer harness for capture/decode.c and ipfrag.c.
 *
 * Input: byte 0 picks the link type (low 4 bits) and, when bit 7 is set,
 * tiny fragment limits so the caps are exercised.  The rest is a series
 * of packets, each prefixed by a big-endian 16-bit length; bit 15 of the
 * prefix advances packet time by 40 s (past the fragment timeout).  A
 * short or missing prefix makes the remaining bytes one last packet.
 * Each packet is copied to an exact-size buffer so ASan sees over-reads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int dlts[] = {1, 113, 276, 12, 14, 101, 228, 229, 0, 108, 105, 1, 113, 0, 12, 1};

static void
feed(struct decoder *d, int dlt, const uint8_t *p, size_t n, uint64_t ts)
{
	uint8_t *copy = malloc(n ? n : 1);
	if (!copy)
		return;
	if (n)
		memcpy(copy, p, n);
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
	int dlt = dlts[data[0] & 0x0f];
	size_t off = 1;
	uint64_t ts = 1000000000ull;
	while (off < size) {
		size_t len;
		if (size - off >= 2) {
			unsigned pre = (unsigned)data[off] << 8 | data[off + 1];
			off += 2;
			if (pre & 0x8000)
				ts += 40000000000ull;
			len = pre & 0x7fff;
			if (len > size - off)
				len = size - off;
		} else {
			len = size - off;
		}
		feed(d, dlt, data + off, len, ts);
		off += len;
		ts += 1000;
	}
	decoder_expire(d, ts);
	decoder_free(d);
	return 0;
}
