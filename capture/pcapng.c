/*
 * pcapng.c - pcapng reader (draft-ietf-opsawg-pcapng: section 3 block
 * structure, 4.1 SHB, 4.2 IDB, 4.3 EPB, 4.4 SPB, appendix A Packet Block).
 *
 * One block at a time: the 8-byte header (12 for a Section Header Block,
 * whose byte order is only known from its byte-order magic) says the type
 * and total length; a block this reader decodes is read whole into one
 * buffer and parsed from a bounded view, any other block is read past in
 * small chunks and only its trailing length is checked.
 */
#include "pcapng.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bview.h"

#define BT_SHB PCAPNG_MAGIC
#define BT_IDB 0x00000001u
#define BT_PB 0x00000002u /* obsolete Packet Block (appendix A) */
#define BT_SPB 0x00000003u
#define BT_EPB 0x00000006u

#define BYTE_ORDER_MAGIC 0x1a2b3c4du

/* IDB options (section 4.2) */
#define OPT_ENDOFOPT 0
#define IF_TSRESOL 9
#define IF_TSOFFSET 14
#define TSRESOL_DEFAULT 6 /* microseconds */

#define HEAD_MAX 16
#define CHUNK 4096 /* first buffer size, and the read size when skipping */
#define NS_PER_S 1000000000ull

struct pcapng {
	FILE *f;
	uint8_t head[HEAD_MAX]; /* bytes the caller read before us */
	size_t nhead, headpos;
	uint64_t off;       /* bytes consumed */
	uint64_t block_off; /* where the block being read starts */
	uint8_t *buf;       /* the block being decoded */
	size_t cap;
	bool be;            /* the current section is big-endian */
	bool done;          /* clean end seen */
	uint32_t nsections;
	struct pcapng_iface *ifs; /* the current section's interfaces */
	uint32_t nifs, capifs;
	uint64_t last_ts;
	enum pcapng_stop stop; /* 0 while reading */
	uint64_t err_off;
	char err[200];
};

static void fail(struct pcapng *r, enum pcapng_stop why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
fail(struct pcapng *r, enum pcapng_stop why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	r->stop = why;
	r->err_off = r->block_off;
}

/* ------------------------------------------------------------- input -- */

/* Up to n bytes: the caller's head bytes first, then the stream. */
static size_t
rd(struct pcapng *r, uint8_t *dst, size_t n)
{
	size_t got = 0;
	while (got < n && r->headpos < r->nhead)
		dst[got++] = r->head[r->headpos++];
	if (got < n)
		got += fread(dst + got, 1, n - got, r->f);
	r->off += got;
	return got;
}

/* After a short read: an I/O error, or the file ends inside what. */
static void
short_read(struct pcapng *r, const char *what)
{
	if (ferror(r->f))
		fail(r, PCAPNG_IO, "read error: %s", strerror(errno));
	else
		fail(r, PCAPNG_DAMAGED, "truncated block: the file ends %" PRIu64 " bytes into %s",
		     r->off - r->block_off, what);
}

/* Exactly n bytes of a block of blen bytes; false (reader stopped) if short. */
static bool
rd_exact(struct pcapng *r, uint8_t *dst, size_t n, uint32_t blen)
{
	if (rd(r, dst, n) == n)
		return true;
	char what[48];
	snprintf(what, sizeof(what), "a block of %" PRIu32 " bytes", blen);
	short_read(r, what);
	return false;
}

/* Grows the block buffer to n bytes (n <= PCAPNG_MAX_BLOCK). */
static bool
reserve(struct pcapng *r, size_t n)
{
	if (n <= r->cap)
		return true;
	uint8_t *nb = realloc(r->buf, n);
	if (!nb) {
		fail(r, PCAPNG_IO, "out of memory for a block of %zu bytes", n);
		return false;
	}
	r->buf = nb;
	r->cap = n;
	return true;
}

/* ----------------------------------------------------- field access -- */

static bool
get16(const struct pcapng *r, struct bview v, size_t off, uint16_t *out)
{
	return r->be ? bv_be16(v, off, out) : bv_le16(v, off, out);
}

static bool
get32(const struct pcapng *r, struct bview v, size_t off, uint32_t *out)
{
	return r->be ? bv_be32(v, off, out) : bv_le32(v, off, out);
}

/* A 64-bit field in the section's byte order (if_tsoffset). */
static bool
get64(const struct pcapng *r, struct bview v, size_t off, uint64_t *out)
{
	uint32_t a, b;
	if (!get32(r, v, off, &a) || !get32(r, v, off + 4, &b))
		return false;
	*out = r->be ? (uint64_t)a << 32 | b : (uint64_t)b << 32 | a;
	return true;
}

/* -------------------------------------------------------- timestamps -- */

static uint64_t
pow10u(unsigned n)
{
	uint64_t p = 1;
	while (n--)
		p *= 10;
	return p;
}

/*
 * t units of if_tsresol in nanoseconds, rounded down, saturating at
 * UINT64_MAX.  10^-n: a multiplication or a division by a power of ten;
 * 2^-n: t * 10^9 as a 128-bit (hi, lo) pair shifted right by n.
 */
static uint64_t
units_to_ns(uint64_t t, uint8_t resol)
{
	unsigned n = resol & 0x7f;
	if (!(resol & 0x80)) {
		if (n <= 9) {
			uint64_t m = pow10u(9 - n);
			return t > UINT64_MAX / m ? UINT64_MAX : t * m;
		}
		return n - 9 > 19 ? 0 : t / pow10u(n - 9); /* 10^20 > 2^64 */
	}
	uint64_t p0 = (t & 0xffffffffu) * NS_PER_S, p1 = (t >> 32) * NS_PER_S;
	uint64_t lo = p0 + (p1 << 32);
	uint64_t hi = (p1 >> 32) + (lo < p0);
	if (n == 0)
		return hi ? UINT64_MAX : lo;
	if (n < 64)
		return hi >> n ? UINT64_MAX : lo >> n | hi << (64 - n);
	return hi >> (n - 64);
}

/* ns + off seconds, clamped to [0, UINT64_MAX]. */
static uint64_t
add_offset(uint64_t ns, int64_t off)
{
	uint64_t mag = off < 0 ? (uint64_t)(-(off + 1)) + 1 : (uint64_t)off;
	uint64_t d = mag > UINT64_MAX / NS_PER_S ? UINT64_MAX : mag * NS_PER_S;
	if (off < 0)
		return d > ns ? 0 : ns - d;
	return d > UINT64_MAX - ns ? UINT64_MAX : ns + d;
}

/* ------------------------------------------------------------ blocks -- */

static int
parse_shb(struct pcapng *r, struct bview b, struct pcapng_packet *out)
{
	(void)out;
	uint16_t major, minor;
	if (!get16(r, b, 12, &major) || !get16(r, b, 14, &minor))
		return -1;
	if (major != 1) {
		fail(r, PCAPNG_UNSUPPORTED,
		     "section %" PRIu32 " is pcapng version %u.%u; only version 1 can be read",
		     r->nsections, major, minor);
		return -1;
	}
	/* interface ids start again at 0 in every section */
	r->nsections++;
	r->nifs = 0;
	return 0;
}

/* The IDB options this reader uses; false (reader stopped) if malformed. */
static bool
idb_options(struct pcapng *r, struct bview b, struct pcapng_iface *ifc)
{
	size_t o = 16, end = b.len - 4;
	while (o + 4 <= end) {
		uint16_t code, len;
		if (!get16(r, b, o, &code) || !get16(r, b, o + 2, &len))
			return false;
		if (code == OPT_ENDOFOPT)
			break;
		size_t padded = ((size_t)len + 3) & ~(size_t)3;
		if (padded > end - o - 4) {
			fail(r, PCAPNG_DAMAGED,
			     "interface %" PRIu32 ": option %u of %u bytes runs past its block",
			     ifc->id, code, len);
			return false;
		}
		uint64_t v64;
		if (code == IF_TSRESOL || code == IF_TSOFFSET) {
			unsigned want = code == IF_TSRESOL ? 1 : 8;
			if (len != want) {
				fail(r, PCAPNG_DAMAGED,
				     "interface %" PRIu32 ": %s option of %u bytes (must be %u)",
				     ifc->id, code == IF_TSRESOL ? "if_tsresol" : "if_tsoffset",
				     len, want);
				return false;
			}
			if (code == IF_TSRESOL)
				ifc->tsresol = b.p[o + 4];
			else if (get64(r, b, o + 4, &v64))
				ifc->tsoffset = (int64_t)v64;
		}
		o += 4 + padded;
	}
	return true;
}

static int
parse_idb(struct pcapng *r, struct bview b, struct pcapng_packet *out)
{
	(void)out;
	struct pcapng_iface ifc = {r->nsections - 1, r->nifs, 0, 0, TSRESOL_DEFAULT, 0};
	if (!get16(r, b, 8, &ifc.linktype) || !get32(r, b, 12, &ifc.snaplen))
		return -1;
	if (r->nifs >= PCAPNG_MAX_IFACES) {
		fail(r, PCAPNG_UNSUPPORTED,
		     "section %" PRIu32 " describes more than %u interfaces (mxlag's limit):"
		     " keep the ones you need with tshark -r FILE -w OUT"
		     " -Y 'frame.interface_id < %u'",
		     ifc.section, PCAPNG_MAX_IFACES, PCAPNG_MAX_IFACES);
		return -1;
	}
	if (!idb_options(r, b, &ifc))
		return -1;
	if (r->nifs == r->capifs) {
		uint32_t nc = r->capifs ? r->capifs * 2 : 4;
		struct pcapng_iface *ni = realloc(r->ifs, nc * sizeof(*ni));
		if (!ni) {
			fail(r, PCAPNG_IO, "out of memory for %" PRIu32 " interfaces", nc);
			return -1;
		}
		r->ifs = ni;
		r->capifs = nc;
	}
	r->ifs[r->nifs++] = ifc;
	return 0;
}

static const struct pcapng_iface *
iface(struct pcapng *r, uint32_t id)
{
	if (id < r->nifs)
		return &r->ifs[id];
	fail(r, PCAPNG_DAMAGED,
	     "a packet block names interface %" PRIu32 ", but section %" PRIu32
	     " has %" PRIu32 " interface%s before it",
	     id, r->nsections - 1, r->nifs, r->nifs == 1 ? "" : "s");
	return NULL;
}

/* EPB and PB share their layout from the timestamp on (offset 12). */
static int
timed_packet(struct pcapng *r, struct bview b, uint32_t id, struct pcapng_packet *out)
{
	uint32_t th, tl, caplen, wirelen;
	if (!get32(r, b, 12, &th) || !get32(r, b, 16, &tl) || !get32(r, b, 20, &caplen) ||
	    !get32(r, b, 24, &wirelen))
		return -1;
	if (caplen > b.len - 32) {
		fail(r, PCAPNG_DAMAGED,
		     "captured length %" PRIu32 " is beyond its block of %zu bytes", caplen, b.len);
		return -1;
	}
	const struct pcapng_iface *ifc = iface(r, id);
	if (!ifc)
		return -1;
	uint64_t ns = units_to_ns((uint64_t)th << 32 | tl, ifc->tsresol);
	out->iface = ifc;
	out->ts_ns = r->last_ts = add_offset(ns, ifc->tsoffset);
	out->caplen = caplen;
	out->wirelen = wirelen;
	out->data = b.p + 28;
	return 1;
}

static int
parse_epb(struct pcapng *r, struct bview b, struct pcapng_packet *out)
{
	uint32_t id;
	return get32(r, b, 8, &id) ? timed_packet(r, b, id, out) : -1;
}

static int
parse_pb(struct pcapng *r, struct bview b, struct pcapng_packet *out)
{
	uint16_t id; /* then a 16-bit drop count */
	return get16(r, b, 8, &id) ? timed_packet(r, b, id, out) : -1;
}

static int
parse_spb(struct pcapng *r, struct bview b, struct pcapng_packet *out)
{
	uint32_t wirelen;
	if (!get32(r, b, 8, &wirelen))
		return -1;
	if (r->nifs == 0) {
		fail(r, PCAPNG_DAMAGED,
		     "a simple packet block, but section %" PRIu32 " has no interface before it",
		     r->nsections - 1);
		return -1;
	}
	/* captured: min(original length, snaplen of interface 0), padded */
	uint32_t caplen = wirelen, snaplen = r->ifs[0].snaplen;
	if (snaplen && snaplen < caplen)
		caplen = snaplen;
	if (caplen > b.len - 16) {
		fail(r, PCAPNG_DAMAGED,
		     "simple packet block of %zu bytes is too short for its %" PRIu32
		     " captured bytes",
		     b.len, caplen);
		return -1;
	}
	out->iface = &r->ifs[0];
	out->ts_ns = r->last_ts;
	out->caplen = caplen;
	out->wirelen = wirelen;
	out->data = b.p + 12;
	return 1;
}

typedef int (*block_fn)(struct pcapng *r, struct bview b, struct pcapng_packet *out);

/* The blocks that are decoded; every other type is skipped. */
static const struct {
	uint32_t type;
	uint32_t min_len; /* header, fixed fields and trailer */
	const char *name;
	block_fn parse;
} blocks[] = {
    {BT_SHB, 28, "section header block", parse_shb},
    {BT_IDB, 20, "interface description block", parse_idb},
    {BT_EPB, 32, "enhanced packet block", parse_epb},
    {BT_SPB, 16, "simple packet block", parse_spb},
    {BT_PB, 32, "packet block", parse_pb},
};

/* Does the trailing copy t of the block total length say len too? */
static bool
trailer_ok(struct pcapng *r, const uint8_t t[4], uint32_t len)
{
	uint32_t trail;
	if (!get32(r, bv_make(t, 4), 0, &trail))
		return false;
	if (trail != len) {
		fail(r, PCAPNG_DAMAGED,
		     "block total length %" PRIu32 " at its start but %" PRIu32 " at its end", len,
		     trail);
		return false;
	}
	return true;
}

/* Reads past the rest of a block that is not decoded (hn bytes of it read). */
static bool
skip_block(struct pcapng *r, uint32_t len, size_t hn)
{
	size_t left = len - hn - 4;
	uint8_t t[4];
	if (!reserve(r, CHUNK))
		return false;
	while (left) {
		size_t n = left < r->cap ? left : r->cap;
		if (!rd_exact(r, r->buf, n, len))
			return false;
		left -= n;
	}
	return rd_exact(r, t, 4, len) && trailer_ok(r, t, len);
}

/* Reads a whole block of len bytes (its first hn bytes in h) into buf,
 * growing the buffer only as the bytes arrive. */
static bool
read_block(struct pcapng *r, const uint8_t *h, size_t hn, uint32_t len)
{
	size_t have = hn;
	if (!reserve(r, len < CHUNK ? len : CHUNK))
		return false;
	memcpy(r->buf, h, hn);
	while (have < len) {
		if (have == r->cap && !reserve(r, r->cap > len / 2 ? len : 2 * r->cap))
			return false;
		size_t n = (len < r->cap ? len : r->cap) - have;
		if (!rd_exact(r, r->buf + have, n, len))
			return false;
		have += n;
	}
	return trailer_ok(r, r->buf + len - 4, len);
}

/* Index of type in blocks[], -1 for a block that is skipped. */
static int
block_kind(uint32_t type)
{
	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
		if (blocks[i].type == type)
			return (int)i;
	return -1;
}

/*
 * The header of the next block: its type and total length, validated.
 * Returns the header bytes read (8, or 12 for a section header), 0 at a
 * clean end, -1 when the reader stopped.
 */
static int
block_header(struct pcapng *r, uint8_t h[12], uint32_t *type, uint32_t *len)
{
	static const uint8_t shb[4] = {0x0a, 0x0d, 0x0d, 0x0a}; /* same in both orders */
	r->block_off = r->off;
	size_t got = rd(r, h, 8);
	if (got == 0 && !ferror(r->f))
		return 0;
	if (got < 8) {
		short_read(r, "a block header");
		return -1;
	}
	int hn = 8;
	if (memcmp(h, shb, 4) == 0) {
		/* the byte-order magic says how to read this block and its section */
		uint32_t le, be;
		if (rd(r, h + 8, 4) < 4) {
			short_read(r, "a section header");
			return -1;
		}
		bv_le32(bv_make(h, 12), 8, &le);
		bv_be32(bv_make(h, 12), 8, &be);
		if (le != BYTE_ORDER_MAGIC && be != BYTE_ORDER_MAGIC) {
			fail(r, PCAPNG_DAMAGED, "section header with a bad byte-order magic 0x%08" PRIx32,
			     be);
			return -1;
		}
		r->be = be == BYTE_ORDER_MAGIC;
		hn = 12;
	} else if (r->nsections == 0) {
		fail(r, PCAPNG_DAMAGED, "the file does not start with a section header block");
		return -1;
	}
	struct bview hv = bv_make(h, (size_t)hn);
	if (!get32(r, hv, 0, type) || !get32(r, hv, 4, len))
		return -1;
	int k = block_kind(*type);
	uint32_t min = k < 0 ? 12 : blocks[k].min_len;
	if (*len % 4 != 0) {
		fail(r, PCAPNG_DAMAGED,
		     "block total length %" PRIu32 " (block type 0x%08" PRIx32
		     ") is not a multiple of 4",
		     *len, *type);
		return -1;
	}
	if (*len < min) {
		fail(r, PCAPNG_DAMAGED,
		     "block total length %" PRIu32 " is below the minimum %" PRIu32 " of %s",
		     *len, min, k < 0 ? "any block" : blocks[k].name);
		return -1;
	}
	return hn;
}

/* One block: 1 packet, 0 another kind of block, -1 stopped or ended. */
static int
next_block(struct pcapng *r, struct pcapng_packet *out)
{
	uint8_t h[12];
	uint32_t type, len;
	int hn = block_header(r, h, &type, &len);
	if (hn <= 0) {
		r->done = hn == 0;
		return -1;
	}
	int k = block_kind(type);
	if (k < 0)
		return skip_block(r, len, (size_t)hn) ? 0 : -1;
	if (len > PCAPNG_MAX_BLOCK) {
		fail(r, PCAPNG_DAMAGED, "%s of %" PRIu32 " bytes, larger than the %u MiB limit",
		     blocks[k].name, len, PCAPNG_MAX_BLOCK >> 20);
		return -1;
	}
	if (!read_block(r, h, (size_t)hn, len))
		return -1;
	out->offset = r->block_off;
	int rc = blocks[k].parse(r, bv_make(r->buf, len), out);
	if (rc < 0 && !r->stop)
		fail(r, PCAPNG_DAMAGED, "%s too short for its fields", blocks[k].name);
	return rc;
}

/* ---------------------------------------------------------------- API -- */

struct pcapng *
pcapng_new(FILE *f, const void *head, size_t nhead)
{
	if (nhead > HEAD_MAX)
		return NULL;
	struct pcapng *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->f = f;
	if (nhead)
		memcpy(r->head, head, nhead);
	r->nhead = nhead;
	return r;
}

int
pcapng_next(struct pcapng *r, struct pcapng_packet *out)
{
	while (!r->stop && !r->done) {
		int rc = next_block(r, out);
		if (rc == 1)
			return 1;
	}
	return r->stop ? -1 : 0;
}

enum pcapng_stop
pcapng_stop(const struct pcapng *r)
{
	return r->stop;
}

const char *
pcapng_error(const struct pcapng *r)
{
	return r->err;
}

uint64_t
pcapng_error_offset(const struct pcapng *r)
{
	return r->err_off;
}

uint64_t
pcapng_offset(const struct pcapng *r)
{
	return r->off;
}

void
pcapng_free(struct pcapng *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r->ifs);
	free(r);
}
