/*
 * decomp.h - gzip and zstd compressed capture files, decompressed as they
 * are read (streaming: memory stays bounded whatever the compressed stream
 * expands to).
 *
 * The format is recognized by the first bytes, never by the file's name:
 * gzip 1f 8b, zstd 28 b5 2f fd.  Concatenated gzip members and zstd frames
 * are one stream (what `cat a.gz b.gz` and `zstd -c a b` give).  A stream
 * that ends early, is corrupt or has something else after its end is an
 * error with one line of text naming the compressed offset; what was
 * decompressed before it is delivered first.
 */
#ifndef MXLAG_DECOMP_H
#define MXLAG_DECOMP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum decomp_kind { DECOMP_NONE = 0, DECOMP_GZIP, DECOMP_ZSTD };

/* The compression whose magic the n bytes at m start with (n >= 4 to see zstd). */
enum decomp_kind decomp_detect(const uint8_t *m, size_t n);
/* "gzip", "zstd" or "none" */
const char *decomp_name(enum decomp_kind k);

/* zstd frames that need a window larger than 2^DECOMP_ZSTD_WINDOW_LOG bytes are refused */
#define DECOMP_ZSTD_WINDOW_LOG 27

struct decomp;

/*
 * A decompressor of kind k reading the compressed stream in, whose first
 * nhead bytes (head, at most 16) were already read from it.  NULL when out
 * of memory or k is DECOMP_NONE.  decomp_free() closes in unless it is
 * stdin.
 */
struct decomp *decomp_new(enum decomp_kind k, FILE *in, const uint8_t *head, size_t nhead);

/*
 * Up to len decompressed bytes into buf: the number (> 0), 0 at the clean
 * end of the stream, -1 on an error (decomp_error(); it stays).
 */
ssize_t decomp_read(struct decomp *d, void *buf, size_t len);

/* The error, one line ("" when none). */
const char *decomp_error(const struct decomp *d);
/* Compressed bytes consumed and decompressed bytes delivered so far. */
uint64_t decomp_in_bytes(const struct decomp *d);
uint64_t decomp_out_bytes(const struct decomp *d);
void decomp_free(struct decomp *d);

/*
 * A read-only stream of d's decompressed bytes (fopencookie); a read error
 * sets ferror() and errno EIO, the message is decomp_error(d).  ftell()
 * gives the decompressed offset.  Closing the stream frees d.  NULL when
 * out of memory (d is then still the caller's).
 */
FILE *decomp_fopen(struct decomp *d);

#endif
