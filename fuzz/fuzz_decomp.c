/*
 * fuzz_decomp.c - libFuzzer harness for capture/decomp.c.
 *
 * The input is a whole (compressed) capture file, read the way source.c
 * reads one: its first four bytes taken first, the format recognized by
 * them and handed to the decompressor as its head bytes.  The first input
 * byte picks the read size, so short and long reads are both exercised.
 * What the decompressor promises is checked: a clean end consumed the whole
 * input, an error is one line of text that stays, the counters add up, and
 * the output is bounded (at most 64 MiB is read, so a bomb costs time, not
 * memory).  The same input is then read through the FILE * wrapper.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/decomp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_MAX (64u << 20)

static uint8_t out[1 << 16];

static struct decomp *
open_mem(const uint8_t *data, size_t size, FILE **fp)
{
	*fp = fmemopen((void *)(uintptr_t)data, size, "rb");
	if (!*fp)
		return NULL;
	uint8_t head[4];
	size_t nh = fread(head, 1, sizeof(head), *fp);
	enum decomp_kind k = decomp_detect(head, nh);
	if (k == DECOMP_NONE) {
		fclose(*fp);
		return NULL;
	}
	struct decomp *d = decomp_new(k, *fp, head, nh);
	if (!d)
		fclose(*fp);
	return d;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	/* the input usually starts with a magic: the read size comes from the end */
	size_t chunk = 1 + (size_t)data[size - 1] * 257 % sizeof(out);
	FILE *f;
	struct decomp *d = open_mem(data, size, &f);
	if (!d)
		return 0;
	uint64_t total = 0;
	ssize_t r;
	volatile uint8_t sink = 0;
	while (total < OUT_MAX && (r = decomp_read(d, out, chunk)) > 0) {
		if ((size_t)r > chunk)
			abort();
		for (ssize_t i = 0; i < r; i += 97)
			sink ^= out[i];
		total += (uint64_t)r;
	}
	(void)sink;
	if (decomp_out_bytes(d) != total || decomp_in_bytes(d) > size)
		abort();
	if (total < OUT_MAX) {
		const char *e = decomp_error(d);
		if (r == 0 && (e[0] || decomp_in_bytes(d) != size))
			abort(); /* a clean end is the end of the input */
		if (r < 0 && (!e[0] || strchr(e, '\n') || decomp_read(d, out, chunk) != -1))
			abort();
	}
	decomp_free(d); /* closes f */

	/* the FILE * stream: reads until an end or an error, never past OUT_MAX */
	d = open_mem(data, size, &f);
	if (!d)
		return 0;
	FILE *s = decomp_fopen(d);
	if (!s) {
		decomp_free(d);
		return 0;
	}
	uint64_t n = 0;
	size_t got;
	while (n < OUT_MAX && (got = fread(out, 1, chunk, s)) > 0)
		n += got;
	if (n < OUT_MAX && ferror(s) != (decomp_error(d)[0] != 0))
		abort();
	fclose(s);
	return 0;
}
