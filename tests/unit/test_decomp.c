/*
 * test_decomp.c - capture/decomp.c: gzip and zstd round trips at every read
 * size, concatenated gzip members and zstd frames, truncated and corrupt
 * streams (a clear error, never a crash or a clean end), data after the
 * end, the FILE * wrapper, bounded memory for a decompression bomb, and
 * compressed pcap/pcapng files (and pipes) through src_open_files().
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zlib.h>
#include <zstd.h>

#include "capture/decomp.h"
#include "capture/source.h"

/* ---- compressors (the libraries, so the tests need no CLIs) --------------- */

struct buf {
	uint8_t *p;
	size_t n;
};

static struct buf
gz(const uint8_t *data, size_t n)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	size_t cap = deflateBound(&z, (uLong)n) + 64;
	struct buf b = {malloc(cap), 0};
	cr_assert_not_null(b.p);
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)n;
	z.next_out = b.p;
	z.avail_out = (uInt)cap;
	cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	b.n = cap - z.avail_out;
	deflateEnd(&z);
	return b;
}

static struct buf
zst(const uint8_t *data, size_t n)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	cr_assert_not_null(c);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1); /* as the zstd CLI writes */
	size_t cap = ZSTD_compressBound(n);
	struct buf b = {malloc(cap), 0};
	cr_assert_not_null(b.p);
	b.n = ZSTD_compress2(c, b.p, cap, data, n);
	cr_assert(!ZSTD_isError(b.n), "%s", ZSTD_getErrorName(b.n));
	ZSTD_freeCCtx(c);
	return b;
}

static struct buf
cat(struct buf a, struct buf b)
{
	struct buf r = {malloc(a.n + b.n), a.n + b.n};
	cr_assert_not_null(r.p);
	memcpy(r.p, a.p, a.n);
	memcpy(r.p + a.n, b.p, b.n);
	free(a.p);
	free(b.p);
	return r;
}

/* 300 KB: text-like runs and pseudo-random bytes, so both compress and do not */
static uint8_t *
sample(size_t n)
{
	uint8_t *d = malloc(n);
	cr_assert_not_null(d);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		d[i] = (i / 4096) % 2 ? (uint8_t)x : (uint8_t)("EHLO mail.example.org\r\n"[i % 23]);
	}
	return d;
}

/* ---- the reader -------------------------------------------------------------- */

struct result {
	uint8_t *out;
	size_t n;
	int rc; /* 0 clean end, -1 error */
	char err[200];
};

/* Decompresses c through a memory FILE in reads of chunk bytes. */
static struct result
inflate_all(struct buf c, size_t chunk)
{
	struct result r = {NULL, 0, 0, ""};
	FILE *f = fmemopen(c.p, c.n, "rb");
	cr_assert_not_null(f);
	uint8_t head[4];
	size_t nh = fread(head, 1, sizeof(head), f);
	enum decomp_kind k = decomp_detect(head, nh);
	cr_assert_neq(k, DECOMP_NONE);
	struct decomp *d = decomp_new(k, f, head, nh);
	cr_assert_not_null(d);
	size_t cap = 1 << 16;
	r.out = malloc(cap);
	uint8_t *tmp = malloc(chunk);
	cr_assert(r.out && tmp);
	for (;;) {
		ssize_t got = decomp_read(d, tmp, chunk);
		cr_assert_leq(got, (ssize_t)chunk);
		if (got <= 0) {
			r.rc = (int)got;
			break;
		}
		if (r.n + (size_t)got > cap) {
			while (r.n + (size_t)got > cap)
				cap *= 2;
			r.out = realloc(r.out, cap);
			cr_assert_not_null(r.out);
		}
		memcpy(r.out + r.n, tmp, (size_t)got);
		r.n += (size_t)got;
	}
	cr_assert_eq(decomp_out_bytes(d), r.n);
	snprintf(r.err, sizeof(r.err), "%s", decomp_error(d));
	if (r.rc == 0) {
		cr_assert_str_eq(r.err, "");
		cr_assert_eq(decomp_in_bytes(d), c.n, "a clean end consumed the whole input");
	} else {
		cr_assert_neq(r.err[0], '\0', "an error says why");
		cr_assert_null(strchr(r.err, '\n'));
		cr_assert_eq(decomp_read(d, tmp, chunk), -1, "the error stays");
	}
	free(tmp);
	decomp_free(d); /* closes f */
	return r;
}

Test(decomp, detect)
{
	static const uint8_t g[] = {0x1f, 0x8b, 8, 0}, z[] = {0x28, 0xb5, 0x2f, 0xfd},
	                     p[] = {0xd4, 0xc3, 0xb2, 0xa1}, ng[] = {0x0a, 0x0d, 0x0d, 0x0a};
	cr_assert_eq(decomp_detect(g, 4), DECOMP_GZIP);
	cr_assert_eq(decomp_detect(g, 2), DECOMP_GZIP);
	cr_assert_eq(decomp_detect(g, 1), DECOMP_NONE);
	cr_assert_eq(decomp_detect(z, 4), DECOMP_ZSTD);
	cr_assert_eq(decomp_detect(z, 3), DECOMP_NONE);
	cr_assert_eq(decomp_detect(p, 4), DECOMP_NONE);
	cr_assert_eq(decomp_detect(ng, 4), DECOMP_NONE);
	cr_assert_str_eq(decomp_name(DECOMP_GZIP), "gzip");
	cr_assert_str_eq(decomp_name(DECOMP_ZSTD), "zstd");
	cr_assert_null(decomp_new(DECOMP_NONE, NULL, g, 4));
}

Test(decomp, round_trip_every_read_size)
{
	const size_t n = 300000;
	uint8_t *d = sample(n);
	static const size_t chunks[] = {1, 3, 4096, 65536, 1 << 20};
	for (int kind = 0; kind < 2; kind++) {
		struct buf c = kind ? zst(d, n) : gz(d, n);
		for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
			if (chunks[i] == 1 && kind == 0)
				continue; /* byte by byte: zstd's case covers it, gzip's is slow */
			struct result r = inflate_all(c, chunks[i]);
			cr_assert_eq(r.rc, 0, "%s chunk %zu: %s", kind ? "zstd" : "gzip", chunks[i],
			             r.err);
			cr_assert_eq(r.n, n);
			cr_assert(memcmp(r.out, d, n) == 0);
			free(r.out);
		}
		free(c.p);
	}
	/* an empty payload is a clean, empty stream */
	for (int kind = 0; kind < 2; kind++) {
		struct buf c = kind ? zst(d, 0) : gz(d, 0);
		struct result r = inflate_all(c, 100);
		cr_assert_eq(r.rc, 0, "%s", r.err);
		cr_assert_eq(r.n, 0);
		free(r.out);
		free(c.p);
	}
	free(d);
}

/* `cat a.gz b.gz` is one stream of both; so are zstd frames one after another */
Test(decomp, concatenated_members_and_frames)
{
	const size_t n = 100000, cut = 37777;
	uint8_t *d = sample(n);
	for (int kind = 0; kind < 2; kind++) {
		struct buf c = kind ? cat(zst(d, cut), zst(d + cut, n - cut))
		                    : cat(cat(gz(d, cut), gz(d, 0)), gz(d + cut, n - cut));
		struct result r = inflate_all(c, 5000);
		cr_assert_eq(r.rc, 0, "%s: %s", kind ? "zstd" : "gzip", r.err);
		cr_assert_eq(r.n, n);
		cr_assert(memcmp(r.out, d, n) == 0);
		free(r.out);
		free(c.p);
	}
	free(d);
}

/* every cut of the compressed stream is an error naming the truncation */
Test(decomp, truncated_streams_are_errors, .timeout = 120)
{
	const size_t n = 20000;
	uint8_t *d = sample(n);
	for (int kind = 0; kind < 2; kind++) {
		struct buf c = kind ? zst(d, n) : gz(d, n);
		size_t full = c.n;
		for (size_t len = 4; len < full; len += len < 64 ? 1 : 97) {
			c.n = len;
			struct result r = inflate_all(c, 4096);
			cr_assert_eq(r.rc, -1, "%s cut at %zu of %zu: a clean end",
			             kind ? "zstd" : "gzip", len, full);
			cr_assert(strstr(r.err, "truncated") != NULL ||
			              strstr(r.err, "corrupt") != NULL,
			          "%s", r.err);
			cr_assert(r.n <= n && memcmp(r.out, d, r.n) == 0,
			          "what came out is the data");
			free(r.out);
		}
		c.n = full - 1;
		struct result r = inflate_all(c, 4096);
		cr_assert(strstr(r.err, "truncated") != NULL, "%s", r.err);
		cr_assert(strstr(r.err, kind ? "zstd" : "gzip") != NULL, "%s", r.err);
		free(r.out);
		free(c.p);
	}
	free(d);
}

/* overwritten bytes are caught (CRC-32 for gzip, the frame checksum for zstd) */
Test(decomp, corrupt_streams_are_errors)
{
	const size_t n = 50000;
	uint8_t *d = sample(n);
	for (int kind = 0; kind < 2; kind++) {
		struct buf c = kind ? zst(d, n) : gz(d, n);
		uint8_t *orig = malloc(c.n);
		memcpy(orig, c.p, c.n);
		for (size_t at = 16; at + 32 < c.n; at += c.n / 23) {
			memcpy(c.p, orig, c.n);
			memset(c.p + at, 0xa5, 16);
			struct result r = inflate_all(c, 4096);
			cr_assert_eq(r.rc, -1, "%s: 16 bytes overwritten at %zu not noticed",
			             kind ? "zstd" : "gzip", at);
			cr_assert(strstr(r.err, "corrupt") != NULL ||
			              strstr(r.err, "truncated") != NULL,
			          "%s", r.err);
			free(r.out);
		}
		/* something else after the end of the stream */
		memcpy(c.p, orig, c.n);
		struct buf junk = {malloc(8), 8};
		memcpy(junk.p, "garbage!", 8);
		struct buf t = cat(c, junk);
		struct result r = inflate_all(t, 4096);
		cr_assert_eq(r.rc, -1, "%s: data after the end accepted", kind ? "zstd" : "gzip");
		cr_assert_eq(r.n, n, "the stream before it is delivered");
		free(r.out);
		free(t.p);
		free(orig);
	}
	free(d);
}

/* the FILE * stream: what readers (libpcap, pcapng.c) get */
Test(decomp, file_stream)
{
	const size_t n = 70000;
	uint8_t *d = sample(n);
	struct buf c = zst(d, n);
	FILE *f = fmemopen(c.p, c.n, "rb");
	uint8_t head[4];
	size_t nh = fread(head, 1, 4, f);
	struct decomp *z = decomp_new(decomp_detect(head, nh), f, head, nh);
	FILE *s = decomp_fopen(z);
	cr_assert_not_null(s);
	uint8_t *out = malloc(n + 10);
	cr_assert_eq(fread(out, 1, 1000, s), 1000);
	cr_assert_eq(ftell(s), 1000, "ftell: the decompressed offset");
	cr_assert_eq(fread(out + 1000, 1, n + 10 - 1000, s), n - 1000);
	cr_assert(feof(s) && !ferror(s));
	cr_assert(memcmp(out, d, n) == 0);
	cr_assert_neq(fseek(s, 0, SEEK_SET), 0, "no seeking back");
	fclose(s); /* frees z, closes f */

	c.p[c.n / 2] ^= 0xff;
	c.p[c.n / 2 + 1] ^= 0xff;
	f = fmemopen(c.p, c.n, "rb");
	nh = fread(head, 1, 4, f);
	z = decomp_new(decomp_detect(head, nh), f, head, nh);
	s = decomp_fopen(z);
	size_t got = fread(out, 1, n, s);
	cr_assert_lt(got, n);
	cr_assert(ferror(s), "a corrupt stream is a read error, not an end");
	cr_assert(strstr(decomp_error(z), "zstd: corrupt data") != NULL, "%s", decomp_error(z));
	fclose(s);
	free(out);
	free(c.p);
	free(d);
}

static long
max_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* 512 MiB of zeros from a few hundred KB: read in bounded memory */
Test(decomp, bomb_streams_in_bounded_memory, .timeout = 300)
{
	/* under valgrind (slow, and the peak RSS is valgrind's) 32 MiB, no RSS bound */
	const bool vg = getenv("MXLAG_UNDER_VALGRIND") != NULL;
	const size_t block = 1 << 20, blocks = vg ? 32 : 512;
	uint8_t *zero = calloc(1, block);
	cr_assert_not_null(zero);
	/* gzip and zstd of 512 MiB of zeros, compressed block by block */
	z_stream z;
	memset(&z, 0, sizeof(z));
	cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
	struct buf g = {malloc(2 << 20), 0};
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	struct buf zs = {malloc(1 << 20), 0};
	cr_assert(g.p && zs.p && cc);
	for (size_t i = 0; i < blocks; i++) {
		z.next_in = zero;
		z.avail_in = (uInt)block;
		z.next_out = g.p + g.n;
		z.avail_out = (uInt)((2 << 20) - g.n);
		cr_assert_neq(deflate(&z, i + 1 == blocks ? Z_FINISH : Z_NO_FLUSH), Z_STREAM_ERROR);
		g.n = (2 << 20) - z.avail_out;
		ZSTD_inBuffer ib = {zero, block, 0};
		ZSTD_outBuffer ob = {zs.p, 1 << 20, zs.n};
		size_t rc;
		do
			rc = ZSTD_compressStream2(cc, &ob, &ib,
			                          i + 1 == blocks ? ZSTD_e_end : ZSTD_e_continue);
		while (!ZSTD_isError(rc) && (ib.pos < ib.size || (i + 1 == blocks && rc != 0)));
		cr_assert(!ZSTD_isError(rc));
		zs.n = ob.pos;
	}
	deflateEnd(&z);
	ZSTD_freeCCtx(cc);
	cr_assert_lt(g.n, 1 << 20);
	long before = max_rss_kb();
	struct buf both[] = {g, zs};
	uint8_t *chunk = malloc(65536);
	for (int k = 0; k < 2; k++) {
		FILE *f = fmemopen(both[k].p, both[k].n, "rb");
		uint8_t head[4];
		size_t nh = fread(head, 1, 4, f);
		struct decomp *d = decomp_new(decomp_detect(head, nh), f, head, nh);
		uint64_t total = 0;
		ssize_t r;
		while ((r = decomp_read(d, chunk, 65536)) > 0)
			total += (uint64_t)r;
		cr_assert_eq(r, 0, "%s", decomp_error(d));
		cr_assert_eq(total, (uint64_t)block * blocks);
		decomp_free(d);
	}
	long grew = max_rss_kb() - before;
	if (!vg)
		cr_assert_lt(grew, 64 * 1024, "decompressing 1 GiB grew the memory by %ld KiB",
		             grew);
	free(chunk);
	free(g.p);
	free(zs.p);
	free(zero);
}
