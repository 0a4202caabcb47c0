/*
 * ngwriter.c - pcapng writer for the tests (see ngwriter.h).
 */
#include "ngwriter.h"

#include <stdlib.h>
#include <string.h>

#define BT_SHB 0x0a0d0d0au
#define BT_IDB 1u
#define BT_PB 2u
#define BT_SPB 3u
#define BT_EPB 6u

void
ngw_init(struct ngw *w)
{
	memset(w, 0, sizeof(*w));
}

void
ngw_free(struct ngw *w)
{
	free(w->b);
	memset(w, 0, sizeof(*w));
}

static void
grow(struct ngw *w, size_t more)
{
	if (w->n + more <= w->cap)
		return;
	size_t nc = w->cap ? w->cap : 4096;
	while (nc < w->n + more)
		nc *= 2;
	uint8_t *nb = realloc(w->b, nc);
	if (!nb)
		abort();
	w->b = nb;
	w->cap = nc;
}

void
ngw_set16(struct ngw *w, size_t off, uint16_t v)
{
	w->b[off + (w->be ? 0 : 1)] = (uint8_t)(v >> 8);
	w->b[off + (w->be ? 1 : 0)] = (uint8_t)v;
}

void
ngw_set32(struct ngw *w, size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		w->b[off + (size_t)(w->be ? 3 - i : i)] = (uint8_t)(v >> (8 * i));
}

static void
bytes(struct ngw *w, const void *p, size_t n)
{
	grow(w, n);
	if (n)
		memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void
u16(struct ngw *w, uint16_t v)
{
	grow(w, 2);
	w->n += 2;
	ngw_set16(w, w->n - 2, v);
}

static void
u32(struct ngw *w, uint32_t v)
{
	grow(w, 4);
	w->n += 4;
	ngw_set32(w, w->n - 4, v);
}

static void
pad(struct ngw *w)
{
	static const uint8_t zero[4];
	bytes(w, zero, (4 - w->n % 4) % 4);
}

/* Starts a block; end_block() fills in the lengths. */
static size_t
begin(struct ngw *w, uint32_t type)
{
	size_t at = w->n;
	u32(w, type);
	u32(w, 0);
	return at;
}

static size_t
end_block(struct ngw *w, size_t at)
{
	pad(w);
	uint32_t len = (uint32_t)(w->n - at + 4);
	u32(w, len);
	ngw_set32(w, at + 4, len);
	return at;
}

size_t
ngw_shb(struct ngw *w, int be)
{
	w->be = be;
	size_t at = begin(w, BT_SHB);
	u32(w, 0x1a2b3c4du);
	u16(w, 1);
	u16(w, 0);
	u32(w, 0xffffffffu); /* section length unknown */
	u32(w, 0xffffffffu);
	return end_block(w, at);
}

size_t
ngw_idb(struct ngw *w, uint16_t linktype, uint32_t snaplen, int tsresol, const int64_t *tsoffset)
{
	size_t at = begin(w, BT_IDB);
	u16(w, linktype);
	u16(w, 0);
	u32(w, snaplen);
	if (tsresol != NGW_NO_TSRESOL) {
		u16(w, 9);
		u16(w, 1);
		uint8_t r = (uint8_t)tsresol;
		bytes(w, &r, 1);
		pad(w);
	}
	if (tsoffset) {
		uint64_t v = (uint64_t)*tsoffset;
		u16(w, 14);
		u16(w, 8);
		u32(w, w->be ? (uint32_t)(v >> 32) : (uint32_t)v);
		u32(w, w->be ? (uint32_t)v : (uint32_t)(v >> 32));
	}
	if (tsresol != NGW_NO_TSRESOL || tsoffset) {
		u16(w, 0); /* opt_endofopt */
		u16(w, 0);
	}
	return end_block(w, at);
}

/* EPB, or PB (pb: a 16-bit interface id and a 16-bit drop count). */
static size_t
timed(struct ngw *w, int pb, uint32_t ifid, uint64_t ts, const void *data, uint32_t caplen,
      uint32_t wirelen)
{
	size_t at = begin(w, pb ? BT_PB : BT_EPB);
	if (pb) {
		u16(w, (uint16_t)ifid);
		u16(w, 0);
	} else {
		u32(w, ifid);
	}
	u32(w, (uint32_t)(ts >> 32));
	u32(w, (uint32_t)ts);
	u32(w, caplen);
	u32(w, wirelen);
	bytes(w, data, caplen);
	return end_block(w, at);
}

void
ngw_start(struct ngw *w, int be, uint16_t linktype, int tsresol)
{
	ngw_init(w);
	ngw_shb(w, be);
	ngw_idb(w, linktype, 0, tsresol, NULL);
}

size_t
ngw_epb(struct ngw *w, uint32_t ifid, uint64_t ts, const void *data, uint32_t caplen,
	uint32_t wirelen)
{
	return timed(w, 0, ifid, ts, data, caplen, wirelen);
}

size_t
ngw_pb(struct ngw *w, uint16_t ifid, uint64_t ts, const void *data, uint32_t caplen,
       uint32_t wirelen)
{
	return timed(w, 1, ifid, ts, data, caplen, wirelen);
}

size_t
ngw_spb(struct ngw *w, const void *data, uint32_t datalen, uint32_t wirelen)
{
	size_t at = begin(w, BT_SPB);
	u32(w, wirelen);
	bytes(w, data, datalen);
	return end_block(w, at);
}

size_t
ngw_block(struct ngw *w, uint32_t type, const void *body, size_t len)
{
	size_t at = begin(w, type);
	bytes(w, body, len);
	return end_block(w, at);
}

FILE *
ngw_stream(const struct ngw *w)
{
	return w->n ? fmemopen(w->b, w->n, "rb") : tmpfile(); /* fmemopen() needs a byte */
}

int
ngw_save(const struct ngw *w, const char *path, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t len = n < w->n ? n : w->n;
	int ok = fwrite(w->b, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}
