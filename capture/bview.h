/*
 * bview.h - bounded byte views over untrusted packet data.
 *
 * Every read of wire bytes goes through these helpers: a getter returns
 * false instead of reading past the view, and bv_sub() clamps instead of
 * extending.  Views never own memory; their lifetime is the lifetime of
 * the buffer they were made from.
 */
#ifndef MXLAG_BVIEW_H
#define MXLAG_BVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bview {
	const uint8_t *p;
	size_t len;
};

static inline struct bview
bv_make(const void *p, size_t len)
{
	struct bview v = {(const uint8_t *)p, p ? len : 0};
	return v;
}

/* true when [off, off+n) lies inside the view; safe against overflow */
static inline bool
bv_has(struct bview v, size_t off, size_t n)
{
	return off <= v.len && n <= v.len - off;
}

static inline bool
bv_u8(struct bview v, size_t off, uint8_t *out)
{
	if (!bv_has(v, off, 1))
		return false;
	*out = v.p[off];
	return true;
}

static inline bool
bv_be16(struct bview v, size_t off, uint16_t *out)
{
	if (!bv_has(v, off, 2))
		return false;
	*out = (uint16_t)((unsigned)v.p[off] << 8 | v.p[off + 1]);
	return true;
}

static inline bool
bv_le16(struct bview v, size_t off, uint16_t *out)
{
	if (!bv_has(v, off, 2))
		return false;
	*out = (uint16_t)((unsigned)v.p[off + 1] << 8 | v.p[off]);
	return true;
}

static inline bool
bv_be32(struct bview v, size_t off, uint32_t *out)
{
	if (!bv_has(v, off, 4))
		return false;
	*out = (uint32_t)v.p[off] << 24 | (uint32_t)v.p[off + 1] << 16 |
	       (uint32_t)v.p[off + 2] << 8 | (uint32_t)v.p[off + 3];
	return true;
}

static inline bool
bv_le32(struct bview v, size_t off, uint32_t *out)
{
	if (!bv_has(v, off, 4))
		return false;
	*out = (uint32_t)v.p[off + 3] << 24 | (uint32_t)v.p[off + 2] << 16 |
	       (uint32_t)v.p[off + 1] << 8 | (uint32_t)v.p[off];
	return true;
}

/* The sub-view [off, off+n), clamped to what the view holds. */
static inline struct bview
bv_sub(struct bview v, size_t off, size_t n)
{
	struct bview r = {v.p, 0};
	if (off > v.len)
		return r;
	r.p = v.p + off;
	r.len = v.len - off < n ? v.len - off : n;
	return r;
}

/* Everything from off to the end (empty when off is past the end). */
static inline struct bview
bv_tail(struct bview v, size_t off)
{
	return bv_sub(v, off, SIZE_MAX);
}

#endif
