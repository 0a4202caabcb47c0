/*
 * fuzz_tls.c - libFuzzer target for the TLS record timing (analyze/tls.c),
 * as on ports 465/995: the whole conversation is TLS records (or not).
 * Input format and checks as fuzz_stream.h: any chunking of the segments
 * must give the same events.  The reader alone is exercised at once: fed
 * the raw input in one call and byte by byte, it must report the same.
 */
#include "fuzz_stream.h"

#include "analyze/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t
reader_hash(const uint8_t *data, size_t size, size_t step)
{
	struct tlsr r;
	uint64_t h = 1469598103934665603ull;
	size_t off = 0;

	tlsr_init(&r, true);
	while (off < size) {
		size_t n = step && step < size - off ? step : size - off;
		size_t pos = 0;
		while (pos < n) {
			struct tlsr_out o;
			size_t used = 0;
			enum tlsr_ev ev = tlsr_feed(&r, data + off + pos, n - pos, 7, &used, &o);
			if (used > n - pos || (ev == TLSR_MORE && used != n - pos))
				abort();
			pos += used;
			if (ev != TLSR_MORE) {
				uint64_t v = (uint64_t)ev << 40 | (uint64_t)o.type << 32 | o.len;
				h = (h ^ v) * 1099511628211ull;
				if (ev == TLSR_END && o.headlen)
					h = (h ^ o.head[0]) * 1099511628211ull;
			}
		}
		off += n;
	}
	return h;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (reader_hash(data, size, 0) != reader_hash(data, size, 1))
		abort(); /* the record reader depends on how its input is cut */
	fuzz_stream(&smtps_parser_ops, data, size);
	return fuzz_stream(&pop3s_parser_ops, data, size);
}
