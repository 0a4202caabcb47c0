/*
 * decomp.c - streaming gzip (zlib inflate) and zstd decompression behind a
 * FILE * (see decomp.h).
 */
#include "decomp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
#include <zstd.h>

#define IN_SIZE 65536

struct decomp {
	enum decomp_kind kind;
	FILE *in;
	uint8_t *buf; /* compressed input: buf[pos, n) not yet consumed */
	size_t pos, n;
	bool in_eof;
	bool done;        /* clean end of the stream */
	bool between;     /* gzip: a member ended, another may follow */
	bool frame_open;  /* zstd: inside a frame */
	uint64_t in_base; /* compressed bytes before buf[0] */
	uint64_t out;
	z_stream z;
	ZSTD_DCtx *zd;
	char err[160];
};

enum decomp_kind
decomp_detect(const uint8_t *m, size_t n)
{
	if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
		return DECOMP_GZIP;
	if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
		return DECOMP_ZSTD;
	return DECOMP_NONE;
}

const char *
decomp_name(enum decomp_kind k)
{
	return k == DECOMP_GZIP ? "gzip" : k == DECOMP_ZSTD ? "zstd" : "none";
}

static uint64_t
consumed(const struct decomp *d)
{
	return d->in_base + d->pos;
}

static ssize_t
fail(struct decomp *d, const char *fmt, ...)
{
	if (!d->err[0]) {
		char msg[128];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		/* no line breaks from a library's message */
		for (char *p = msg; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		snprintf(d->err, sizeof(d->err), "%s: %s (compressed offset %llu)",
		         decomp_name(d->kind), msg, (unsigned long long)consumed(d));
	}
	return -1;
}

struct decomp *
decomp_new(enum decomp_kind k, FILE *in, const uint8_t *head, size_t nhead)
{
	if (k == DECOMP_NONE || nhead > 16)
		return NULL;
	struct decomp *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->buf = malloc(IN_SIZE);
	if (!d->buf) {
		free(d);
		return NULL;
	}
	d->kind = k;
	d->in = in;
	if (nhead)
		memcpy(d->buf, head, nhead);
	d->n = nhead;
	if (k == DECOMP_GZIP) {
		/* 15 + 16: a gzip wrapper, the largest window (32 KiB) */
		if (inflateInit2(&d->z, 15 + 16) != Z_OK) {
			free(d->buf);
			free(d);
			return NULL;
		}
	} else {
		d->zd = ZSTD_createDCtx();
		if (!d->zd || ZSTD_isError(ZSTD_DCtx_setParameter(d->zd, ZSTD_d_windowLogMax,
		                                                  DECOMP_ZSTD_WINDOW_LOG))) {
			ZSTD_freeDCtx(d->zd);
			free(d->buf);
			free(d);
			return NULL;
		}
	}
	return d;
}

/* More compressed input when buf is used up; -1 on a read error. */
static int
refill(struct decomp *d)
{
	if (d->pos < d->n || d->in_eof)
		return 0;
	d->in_base += d->n;
	d->pos = d->n = 0;
	size_t r = d->in ? fread(d->buf, 1, IN_SIZE, d->in) : 0;
	if (r == 0) {
		if (d->in && ferror(d->in))
			return (int)fail(d, "read error: %s", strerror(errno ? errno : EIO));
		d->in_eof = true;
	}
	d->n = r;
	return 0;
}

static ssize_t
read_gzip(struct decomp *d, uint8_t *out, size_t len)
{
	for (;;) {
		if (refill(d) != 0)
			return -1;
		if (d->between) {
			if (d->pos == d->n) { /* nothing after the last member */
				d->done = true;
				return 0;
			}
			/* another member must follow, nothing else */
			if (d->buf[d->pos] != 0x1f)
				return fail(d, "data after the end of the compressed stream");
			if (inflateReset(&d->z) != Z_OK)
				return fail(d, "cannot restart");
			d->between = false;
		}
		d->z.next_in = d->buf + d->pos;
		d->z.avail_in = (uInt)(d->n - d->pos);
		d->z.next_out = out;
		d->z.avail_out = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
		uInt avail = d->z.avail_out;
		int rc = inflate(&d->z, Z_NO_FLUSH);
		d->pos = d->n - d->z.avail_in;
		size_t got = avail - d->z.avail_out;
		if (rc == Z_STREAM_END)
			d->between = true;
		else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT)
			return fail(d, "corrupt data: %s", d->z.msg ? d->z.msg : "invalid");
		else if (rc == Z_MEM_ERROR)
			return fail(d, "out of memory");
		else if (rc != Z_OK && rc != Z_BUF_ERROR)
			return fail(d, "inflate error %d", rc);
		if (got > 0) {
			d->out += got;
			return (ssize_t)got;
		}
		if (!d->between && d->pos == d->n && d->in_eof)
			return fail(d, "the compressed data ends early (truncated)");
	}
}

static ssize_t
read_zstd(struct decomp *d, uint8_t *out, size_t len)
{
	for (;;) {
		if (refill(d) != 0)
			return -1;
		if (!d->frame_open && d->pos == d->n && d->in_eof) {
			d->done = true;
			return 0;
		}
		ZSTD_inBuffer ib = {d->buf, d->n, d->pos};
		ZSTD_outBuffer ob = {out, len, 0};
		size_t rc = ZSTD_decompressStream(d->zd, &ob, &ib);
		d->pos = ib.pos;
		if (ZSTD_isError(rc))
			return fail(d, "corrupt data: %s", ZSTD_getErrorName(rc));
		d->frame_open = rc != 0;
		if (ob.pos > 0) {
			d->out += ob.pos;
			return (ssize_t)ob.pos;
		}
		if (d->frame_open && d->pos == d->n && d->in_eof)
			return fail(d, "the compressed data ends early (truncated)");
	}
}

ssize_t
decomp_read(struct decomp *d, void *buf, size_t len)
{
	if (d->err[0])
		return -1;
	if (d->done || len == 0)
		return 0;
	return d->kind == DECOMP_GZIP ? read_gzip(d, buf, len) : read_zstd(d, buf, len);
}

const char *
decomp_error(const struct decomp *d)
{
	return d->err;
}

uint64_t
decomp_in_bytes(const struct decomp *d)
{
	return consumed(d);
}

uint64_t
decomp_out_bytes(const struct decomp *d)
{
	return d->out;
}

void
decomp_free(struct decomp *d)
{
	if (!d)
		return;
	if (d->kind == DECOMP_GZIP)
		inflateEnd(&d->z);
	ZSTD_freeDCtx(d->zd);
	if (d->in && d->in != stdin)
		fclose(d->in);
	free(d->buf);
	free(d);
}

static ssize_t
cookie_read(void *c, char *buf, size_t size)
{
	ssize_t r = decomp_read(c, buf, size);
	if (r < 0)
		errno = EIO;
	return r;
}

/* Only "where are we": ftell() gives the decompressed offset. */
static int
cookie_seek(void *c, off64_t *pos, int whence)
{
	struct decomp *d = c;
	if (!(whence == SEEK_CUR && *pos == 0) &&
	    !(whence == SEEK_SET && *pos >= 0 && (uint64_t)*pos == d->out)) {
		errno = ESPIPE;
		return -1;
	}
	*pos = (off64_t)d->out;
	return 0;
}

static int
cookie_close(void *c)
{
	decomp_free(c);
	return 0;
}

FILE *
decomp_fopen(struct decomp *d)
{
	cookie_io_functions_t io = {cookie_read, NULL, cookie_seek, cookie_close};
	return fopencookie(d, "rb", io);
}
