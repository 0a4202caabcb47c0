/*
 * test_pcapng.c - the pcapng reader: interfaces of different link types
 * and snap lengths, time resolutions (10^-n and 2^-n) and offsets,
 * sections in both byte orders, simple and obsolete packet blocks,
 * skipped blocks, every kind of damage with the offset it names,
 * truncated twins of a valid file at every byte, and the limits.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "../support/ngwriter.h"
#include "capture/pcapng.h"

#define LT_ETHER 1
#define LT_RAW 101
#define LT_SLL 113

#define MAXP 64

struct rec {
	uint16_t linktype;
	uint32_t id, section, snaplen;
	uint64_t ts_ns, offset;
	uint32_t caplen, wirelen;
	uint8_t first, last; /* first and last captured byte */
};

struct got {
	int n;
	struct rec p[MAXP];
	int rc; /* what pcapng_next() returned last: 0 end, -1 stopped */
	enum pcapng_stop stop;
	uint64_t err_off, consumed;
	char err[256];
};

/* Reads everything; nhead bytes of w are read before the reader starts
 * and handed to it as its head bytes (what source.c does). */
static void
read_head(const struct ngw *w, size_t nhead, struct got *g)
{
	memset(g, 0, sizeof(*g));
	FILE *f = ngw_stream(w);
	cr_assert_not_null(f);
	uint8_t head[16];
	cr_assert_leq(nhead, sizeof(head));
	cr_assert_eq(fread(head, 1, nhead, f), nhead);
	struct pcapng *r = pcapng_new(f, head, nhead);
	cr_assert_not_null(r);
	struct pcapng_packet k;
	while ((g->rc = pcapng_next(r, &k)) == 1) {
		cr_assert_lt(g->n, MAXP);
		struct rec *p = &g->p[g->n++];
		p->linktype = k.iface->linktype;
		p->id = k.iface->id;
		p->section = k.iface->section;
		p->snaplen = k.iface->snaplen;
		p->ts_ns = k.ts_ns;
		p->offset = k.offset;
		p->caplen = k.caplen;
		p->wirelen = k.wirelen;
		if (k.caplen) {
			p->first = k.data[0];
			p->last = k.data[k.caplen - 1];
		}
	}
	if (g->rc < 0) {
		g->stop = pcapng_stop(r);
		g->err_off = pcapng_error_offset(r);
		snprintf(g->err, sizeof(g->err), "%s", pcapng_error(r));
		/* a stopped reader stays stopped */
		cr_expect_eq(pcapng_next(r, &k), -1);
	}
	g->consumed = pcapng_offset(r);
	pcapng_free(r);
	fclose(f);
}

static void
read_all(const struct ngw *w, struct got *g)
{
	read_head(w, 0, g);
}

/* n bytes counting up from seed */
static const uint8_t *
payload(uint8_t seed, size_t n)
{
	static uint8_t b[4096];
	cr_assert_leq(n, sizeof(b));
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i);
	return b;
}

static void
expect_clean(const struct got *g, int n)
{
	cr_expect_eq(g->rc, 0, "clean end expected, got: %s", g->err);
	cr_expect_eq(g->n, n, "packets: %d, want %d", g->n, n);
}

static void
expect_stop(const struct got *g, enum pcapng_stop why, int n, size_t off, const char *words)
{
	cr_expect_eq(g->rc, -1, "reader should stop (%s)", words);
	cr_expect_eq(g->stop, why, "stop kind %d, want %d: %s", g->stop, why, g->err);
	cr_expect_eq(g->n, n, "%s: %d packets delivered before the stop, want %d", words, g->n, n);
	cr_expect_eq(g->err_off, off, "%s: offset %llu, want %zu (%s)", words,
		     (unsigned long long)g->err_off, off, g->err);
	cr_expect(strstr(g->err, words) != NULL, "message \"%s\" lacks \"%s\"", g->err, words);
}

/* ------------------------------------------------------------------------ */

Test(pcapng, interfaces_of_different_link_types_and_snaplens)
{
	/* what dumpcap -i eth0 -i any -i tun0 writes: one IDB per interface */
	struct ngw w;
	ngw_init(&w);
	ngw_shb(&w, 0);
	ngw_idb(&w, LT_ETHER, 262144, 9, NULL);
	ngw_idb(&w, LT_SLL, 65535, NGW_NO_TSRESOL, NULL);
	ngw_idb(&w, LT_RAW, 96, 6, NULL);
	size_t o0 = ngw_epb(&w, 0, 1700000000123456789ull, payload(1, 60), 60, 60);
	size_t o1 = ngw_epb(&w, 1, 1700000001000001ull, payload(2, 44), 44, 44);
	ngw_epb(&w, 2, 1700000002000002ull, payload(3, 96), 96, 1500);
	ngw_epb(&w, 0, 1700000003000000003ull, payload(4, 1), 1, 1);
	struct got g;
	read_all(&w, &g);
	expect_clean(&g, 4);
	static const struct {
		uint16_t lt;
		uint32_t id, snap;
		uint64_t ts;
		uint32_t cap, wire;
		uint8_t first, last;
	} want[] = {
	    {LT_ETHER, 0, 262144, 1700000000123456789ull, 60, 60, 1, 60},
	    {LT_SLL, 1, 65535, 1700000001000001000ull, 44, 44, 2, 45},
	    {LT_RAW, 2, 96, 1700000002000002000ull, 96, 1500, 3, 98},
	    {LT_ETHER, 0, 262144, 1700000003000000003ull, 1, 1, 4, 4},
	};
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(g.p[i].linktype, want[i].lt, "packet %d", i);
		cr_expect_eq(g.p[i].id, want[i].id, "packet %d", i);
		cr_expect_eq(g.p[i].section, 0);
		cr_expect_eq(g.p[i].snaplen, want[i].snap, "packet %d", i);
		cr_expect_eq(g.p[i].ts_ns, want[i].ts, "packet %d: %llu", i,
			     (unsigned long long)g.p[i].ts_ns);
		cr_expect_eq(g.p[i].caplen, want[i].cap, "packet %d", i);
		cr_expect_eq(g.p[i].wirelen, want[i].wire, "packet %d", i);
		cr_expect_eq(g.p[i].first, want[i].first, "packet %d", i);
		cr_expect_eq(g.p[i].last, want[i].last, "packet %d", i);
	}
	cr_expect_eq(g.p[0].offset, o0);
	cr_expect_eq(g.p[1].offset, o1);
	cr_expect_eq(g.consumed, w.n);
	ngw_free(&w);
}

/* ---- time ------------------------------------------------------------------ */

struct tscase {
	int tsresol;
	uint64_t units;
	uint64_t ns;
};

ParameterizedTestParameters(pcapng, time_resolutions)
{
	static struct tscase cases[] = {
	    {NGW_NO_TSRESOL, 1700000000123456ull, 1700000000123456000ull}, /* default 10^-6 */
	    {6, 1700000000123456ull, 1700000000123456000ull},
	    {9, 1700000000123456789ull, 1700000000123456789ull},
	    {3, 1700000000123ull, 1700000000123000000ull},
	    {0, 1700000000ull, 1700000000000000000ull},
	    {12, 123456789012345ull, 123456789012ull}, /* finer than ns: rounded down */
	    {19, 10000000000000000000ull, 1000000000ull},
	    {25, 1ull, 0},
	    {0x80 | 0, 1700000000ull, 1700000000000000000ull},            /* 2^0 = 1 s */
	    {0x80 | 10, (1000ull << 10) | 1, 1000000976562ull},           /* 1/1024 s */
	    {0x80 | 20, (1700000000ull << 20) | 524288, 1700000000500000000ull},
	    {0x80 | 30, (5ull << 30) | 1, 5000000000ull},                 /* 0.93 ns */
	    {0x80 | 32, (1700000000ull << 32) | (1ull << 31), 1700000000500000000ull},
	    {0x80 | 63, 1ull << 63, 1000000000ull},
	    {0x80 | 100, UINT64_MAX, 0},
	    {0, UINT64_MAX, UINT64_MAX},  /* seconds beyond 2^64 ns: saturated */
	    {0x80 | 1, UINT64_MAX, UINT64_MAX},
	};
	return cr_make_param_array(struct tscase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct tscase *c, pcapng, time_resolutions)
{
	struct ngw w;
	ngw_init(&w);
	ngw_shb(&w, c->tsresol & 1); /* both byte orders */
	ngw_idb(&w, LT_ETHER, 0, c->tsresol, NULL);
	ngw_epb(&w, 0, c->units, payload(0, 20), 20, 20);
	struct got g;
	read_all(&w, &g);
	expect_clean(&g, 1);
	cr_expect_eq(g.p[0].ts_ns, c->ns, "tsresol 0x%02x, %llu units: %llu ns, want %llu",
		     c->tsresol & 0xff, (unsigned long long)c->units,
		     (unsigned long long)g.p[0].ts_ns, (unsigned long long)c->ns);
	ngw_free(&w);
}

Test(pcapng, time_offsets)
{
	static const int64_t plus = 3600, minus = -3600, far = INT64_MIN, big = INT64_MAX;
	for (int be = 0; be < 2; be++) {
		struct ngw w;
		ngw_init(&w);
		ngw_shb(&w, be);
		ngw_idb(&w, LT_ETHER, 0, 9, &plus);
		ngw_idb(&w, LT_SLL, 0, NGW_NO_TSRESOL, &minus);
		ngw_idb(&w, LT_ETHER, 0, 9, &far);
		ngw_idb(&w, LT_ETHER, 0, 9, &big);
		ngw_epb(&w, 0, 1700000000000000001ull, payload(0, 8), 8, 8);
		ngw_epb(&w, 1, 1700000000000001ull, payload(0, 8), 8, 8);
		ngw_epb(&w, 2, 1700000000000000001ull, payload(0, 8), 8, 8);
		ngw_epb(&w, 3, 1, payload(0, 8), 8, 8);
		struct got g;
		read_all(&w, &g);
		expect_clean(&g, 4);
		cr_expect_eq(g.p[0].ts_ns, 1700003600000000001ull, "byte order %d", be);
		cr_expect_eq(g.p[1].ts_ns, 1699996400000001000ull, "byte order %d", be);
		cr_expect_eq(g.p[2].ts_ns, 0, "clamped at the epoch");
		cr_expect_eq(g.p[3].ts_ns, UINT64_MAX, "clamped at the end of time");
		ngw_free(&w);
	}
}

/* ---- sections, SPB, PB, skipped blocks ---------------------------------------- */

Test(pcapng, sections_in_both_byte_orders_number_interfaces_afresh)
{
	struct ngw w;
	ngw_init(&w);
	ngw_shb(&w, 0);
	ngw_idb(&w, LT_ETHER, 65535, 9, NULL);
	ngw_idb(&w, LT_SLL, 65535, 9, NULL);
	ngw_epb(&w, 1, 1000, payload(1, 30), 30, 30);
	ngw_shb(&w, 1); /* big-endian from here */
	ngw_idb(&w, LT_RAW, 1500, 6, NULL);
	ngw_epb(&w, 0, 2, payload(2, 40), 40, 40);
	ngw_shb(&w, 0);
	ngw_idb(&w, LT_SLL, 0, 9, NULL);
	ngw_epb(&w, 0, 3000, payload(3, 50), 50, 50);
	struct got g;
	read_all(&w, &g);
	expect_clean(&g, 3);
	cr_expect_eq(g.p[0].linktype, LT_SLL);
	cr_expect_eq(g.p[0].section, 0);
	cr_expect_eq(g.p[0].ts_ns, 1000);
	cr_expect_eq(g.p[1].linktype, LT_RAW, "interface 0 of section 1, not of section 0");
	cr_expect_eq(g.p[1].section, 1);
	cr_expect_eq(g.p[1].snaplen, 1500);
	cr_expect_eq(g.p[1].ts_ns, 2000);
	cr_expect_eq(g.p[1].caplen, 40);
	cr_expect_eq(g.p[1].last, 41);
	cr_expect_eq(g.p[2].linktype, LT_SLL);
	cr_expect_eq(g.p[2].section, 2);
	cr_expect_eq(g.p[2].ts_ns, 3000);
	ngw_free(&w);

	/* interface 1 of section 0 does not exist in section 1 */
	ngw_start(&w, 0, LT_ETHER, 9);
	ngw_idb(&w, LT_SLL, 0, 9, NULL);
	ngw_epb(&w, 1, 1, payload(1, 30), 30, 30);
	ngw_shb(&w, 1);
	ngw_idb(&w, LT_RAW, 0, 9, NULL);
	size_t bad = ngw_epb(&w, 1, 2, payload(2, 30), 30, 30);
	read_all(&w, &g);
	expect_stop(&g, PCAPNG_DAMAGED, 1, bad, "names interface 1, but section 1 has 1 interface");
	ngw_free(&w);
}

Test(pcapng, simple_and_obsolete_packet_blocks)
{
	struct ngw w;
	ngw_init(&w);
	ngw_shb(&w, 1);
	ngw_idb(&w, LT_SLL, 64, NGW_NO_TSRESOL, NULL);
	ngw_idb(&w, LT_ETHER, 0, 9, NULL);
	ngw_spb(&w, payload(1, 20), 20, 20);    /* before any timestamp */
	ngw_epb(&w, 1, 1700000000000000007ull, payload(2, 30), 30, 30);
	ngw_spb(&w, payload(3, 100), 100, 100); /* cut to interface 0's snaplen */
	ngw_spb(&w, payload(4, 10), 10, 10);    /* padded to 12 */
	ngw_spb(&w, payload(5, 64), 64, 1500);  /* snapped at 64 */
	ngw_pb(&w, 1, 1700000000000000042ull, payload(6, 25), 25, 80);
	ngw_pb(&w, 0, 1700000000000042ull, payload(7, 12), 12, 12);
	struct got g;
	read_all(&w, &g);
	expect_clean(&g, 7);
	cr_expect_eq(g.p[0].ts_ns, 0, "no timestamp seen yet");
	cr_expect_eq(g.p[0].linktype, LT_SLL);
	cr_expect_eq(g.p[0].caplen, 20);
	cr_expect_eq(g.p[0].last, 20);
	cr_expect_eq(g.p[2].ts_ns, 1700000000000000007ull, "the last timestamp seen");
	cr_expect_eq(g.p[2].linktype, LT_SLL, "interface 0, whatever came before");
	cr_expect_eq(g.p[2].caplen, 64);
	cr_expect_eq(g.p[2].wirelen, 100);
	cr_expect_eq(g.p[3].caplen, 10);
	cr_expect_eq(g.p[3].last, 13);
	cr_expect_eq(g.p[4].caplen, 64);
	cr_expect_eq(g.p[4].wirelen, 1500);
	cr_expect_eq(g.p[4].last, 68);
	cr_expect_eq(g.p[5].linktype, LT_ETHER);
	cr_expect_eq(g.p[5].ts_ns, 1700000000000000042ull);
	cr_expect_eq(g.p[5].caplen, 25);
	cr_expect_eq(g.p[5].wirelen, 80);
	cr_expect_eq(g.p[5].last, 30);
	cr_expect_eq(g.p[6].linktype, LT_SLL);
	cr_expect_eq(g.p[6].ts_ns, 1700000000000042000ull);
	ngw_free(&w);
}

Test(pcapng, other_blocks_are_skipped)
{
	static const uint32_t types[] = {
	    4,           /* name resolution */
	    5,           /* interface statistics */
	    0x0a,        /* decryption secrets */
	    0x00000bad,  /* custom, copyable */
	    0x40000bad,  /* custom, not copyable */
	    9,           /* systemd journal export */
	    0x12345678,  /* unknown */
	    0x80000001,  /* local use */
	};
	struct ngw w;
	ngw_init(&w);
	ngw_shb(&w, 0);
	ngw_block(&w, 4, payload(9, 16), 16); /* before any interface */
	ngw_idb(&w, LT_ETHER, 0, 9, NULL);
	int n = 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		ngw_block(&w, types[i], payload((uint8_t)i, 13 + i * 100), 13 + i * 100);
		ngw_block(&w, types[i], NULL, 0); /* 12 bytes: no body */
		ngw_epb(&w, 0, 1000 + i, payload((uint8_t)i, 30), 30, 30);
		n++;
	}
	/* bigger than the block limit: read past, never buffered */
	size_t big = PCAPNG_MAX_BLOCK + 4096;
	uint8_t *body = calloc(1, big);
	cr_assert_not_null(body);
	ngw_block(&w, 0x00000bad, body, big);
	free(body);
	ngw_epb(&w, 0, 5000, payload(7, 30), 30, 30);
	n++;
	struct got g;
	read_all(&w, &g);
	expect_clean(&g, n);
	for (int i = 0; i < n - 1; i++)
		cr_expect_eq(g.p[i].ts_ns, 1000 + (uint64_t)i);
	cr_expect_eq(g.p[n - 1].ts_ns, 5000);
	ngw_free(&w);
}

Test(pcapng, head_bytes_are_read_first)
{
	struct ngw w;
	ngw_start(&w, 1, LT_ETHER, 9);
	ngw_epb(&w, 0, 77, payload(1, 30), 30, 30);
	for (size_t h = 0; h <= 16; h += 4) {
		struct got g;
		read_head(&w, h, &g);
		expect_clean(&g, 1);
		cr_expect_eq(g.p[0].ts_ns, 77, "head of %zu bytes", h);
		cr_expect_eq(g.consumed, w.n, "head bytes are counted");
	}
	ngw_free(&w);
}

Test(pcapng, large_packets_and_the_block_limit)
{
	static uint8_t big[1 << 20];
	struct ngw w;
	ngw_start(&w, 0, LT_ETHER, 9);
	ngw_epb(&w, 0, 1, payload(1, 30), 30, 30);
	memset(big, 0x5a, sizeof(big));
	ngw_epb(&w, 0, 2, big, sizeof(big), sizeof(big));
	ngw_epb(&w, 0, 3, payload(3, 30), 30, 30);
	/* the largest block that is buffered */
	uint32_t most = PCAPNG_MAX_BLOCK - 32;
	uint8_t *huge = calloc(1, most);
	cr_assert_not_null(huge);
	huge[most - 1] = 0xee;
	ngw_epb(&w, 0, 4, huge, most, most);
	free(huge);
	struct got g;
	read_all(&w, &g);
	expect_clean(&g, 4);
	cr_expect_eq(g.p[1].caplen, sizeof(big));
	cr_expect_eq(g.p[1].last, 0x5a);
	cr_expect_eq(g.p[2].last, 32, "the buffer is reused for smaller blocks");
	cr_expect_eq(g.p[3].caplen, most);
	cr_expect_eq(g.p[3].last, 0xee);
	ngw_free(&w);
}

/* ---- damage ---------------------------------------------------------------- */

/*
 * Each case builds a good start (two packets), then the block under test,
 * then one more packet; the reader must deliver the two, stop with the
 * offset of the block under test and say what is wrong.
 */
enum dmg {
	D_TRUNC_BODY,
	D_TRUNC_HEADER,
	D_LEN_NOT_4,
	D_LEN_BELOW_MIN,
	D_TRAILER,
	D_CAPLEN,
	D_CAPLEN_BY_ONE,
	D_IFACE,
	D_OVERSIZED,
	D_TSRESOL_LEN,
	D_TSOFFSET_LEN,
	D_OPTION_PAST_END,
	D_BAD_BOM,
	D_SKIPPED_TRAILER,
	D_SKIPPED_TRUNC,
	D_SPB_NO_IFACE,
	D_SPB_SHORT,
	D_IDB_SHORT,
	D_SHB_SHORT,
	D__N
};

static const char *const dmg_words[D__N] = {
    [D_TRUNC_BODY] = "truncated block: the file ends 20 bytes into a block of 64",
    [D_TRUNC_HEADER] = "ends 5 bytes into a block header",
    [D_LEN_NOT_4] = "not a multiple of 4",
    [D_LEN_BELOW_MIN] = "below the minimum 32 of enhanced packet block",
    [D_TRAILER] = "block total length 64 at its start but 68 at its end",
    [D_CAPLEN] = "captured length 1000 is beyond its block of 64 bytes",
    [D_CAPLEN_BY_ONE] = "captured length 33 is beyond its block of 64 bytes",
    [D_IFACE] = "names interface 5, but section 0 has 2 interfaces",
    [D_OVERSIZED] = "enhanced packet block of 17825792 bytes, larger than the 16 MiB limit",
    [D_TSRESOL_LEN] = "if_tsresol option of 2 bytes",
    [D_TSOFFSET_LEN] = "if_tsoffset option of 4 bytes",
    [D_OPTION_PAST_END] = "option 2 of 200 bytes runs past its block",
    [D_BAD_BOM] = "bad byte-order magic",
    [D_SKIPPED_TRAILER] = "block total length 28 at its start but 12 at its end",
    [D_SKIPPED_TRUNC] = "truncated block",
    [D_SPB_NO_IFACE] = "simple packet block, but section 1 has no interface",
    [D_SPB_SHORT] = "simple packet block of 56 bytes is too short for its 50 captured bytes",
    [D_IDB_SHORT] = "below the minimum 20 of interface description block",
    [D_SHB_SHORT] = "below the minimum 28 of section header block",
};

/* An IDB with one option (code, len) and len bytes of value. */
static size_t
idb_with_option(struct ngw *w, uint16_t code, uint16_t len, size_t value_bytes)
{
	uint8_t body[64] = {0};
	cr_assert_leq(12 + value_bytes, sizeof(body));
	size_t at = ngw_block(w, 1, body, 12 + value_bytes);
	ngw_set16(w, at + 8, LT_ETHER);
	ngw_set32(w, at + 12, 65535);
	ngw_set16(w, at + 16, code);
	ngw_set16(w, at + 18, len);
	return at;
}

static void
damage_case(enum dmg d, int be)
{
	struct ngw w;
	ngw_start(&w, be, LT_ETHER, 9);
	ngw_idb(&w, LT_SLL, 0, 6, NULL);
	ngw_epb(&w, 0, 1, payload(1, 30), 30, 30);
	ngw_epb(&w, 1, 2, payload(2, 30), 30, 30);
	size_t at = w.n, keep = SIZE_MAX;
	static const uint8_t six[4] = {0x0a, 0x0d, 0x0d, 0x0a};
	switch (d) {
	case D_TRUNC_BODY:
		ngw_epb(&w, 0, 3, payload(3, 32), 32, 32);
		keep = at + 20;
		break;
	case D_TRUNC_HEADER:
		ngw_epb(&w, 0, 3, payload(3, 32), 32, 32);
		keep = at + 5;
		break;
	case D_LEN_NOT_4:
		ngw_epb(&w, 0, 3, payload(3, 32), 32, 32);
		ngw_set32(&w, at + 4, 66);
		break;
	case D_LEN_BELOW_MIN:
		ngw_epb(&w, 0, 3, payload(3, 32), 32, 32);
		ngw_set32(&w, at + 4, 24);
		break;
	case D_TRAILER:
		ngw_epb(&w, 0, 3, payload(3, 32), 32, 32);
		ngw_set32(&w, at + 60, 68);
		break;
	case D_CAPLEN:
		ngw_epb(&w, 0, 3, payload(3, 32), 32, 32);
		ngw_set32(&w, at + 20, 1000);
		break;
	case D_CAPLEN_BY_ONE: /* 32 bytes of data, no room for a 33rd */
		ngw_epb(&w, 0, 3, payload(3, 32), 32, 32);
		ngw_set32(&w, at + 20, 33);
		break;
	case D_IFACE:
		ngw_epb(&w, 5, 3, payload(3, 32), 32, 32);
		break;
	case D_OVERSIZED:
		ngw_epb(&w, 0, 3, payload(3, 32), 32, 32);
		ngw_set32(&w, at + 4, 17u << 20);
		break;
	case D_TSRESOL_LEN:
		idb_with_option(&w, 9, 2, 4);
		break;
	case D_TSOFFSET_LEN:
		idb_with_option(&w, 14, 4, 4);
		break;
	case D_OPTION_PAST_END:
		idb_with_option(&w, 2, 200, 8);
		break;
	case D_BAD_BOM:
		ngw_shb(&w, be);
		ngw_set32(&w, at + 8, 0x1a2b3c4e);
		break;
	case D_SKIPPED_TRAILER:
		ngw_block(&w, 5, payload(0, 16), 16);
		ngw_set32(&w, at + 24, 12);
		break;
	case D_SKIPPED_TRUNC:
		ngw_block(&w, 0x40000bad, payload(0, 100), 100);
		keep = at + 50;
		break;
	case D_SPB_NO_IFACE:
		ngw_shb(&w, !be);
		at = w.n;
		ngw_spb(&w, payload(3, 20), 20, 20);
		break;
	case D_SPB_SHORT: /* min(wirelen, snaplen 0 = none) bytes must be there */
		ngw_spb(&w, payload(3, 40), 40, 50);
		break;
	case D_IDB_SHORT:
		ngw_block(&w, 1, payload(0, 4), 4);
		break;
	case D_SHB_SHORT:
		ngw_block(&w, 0, payload(0, 12), 12);
		memcpy(w.b + at, six, 4);
		ngw_set32(&w, at + 8, 0x1a2b3c4d);
		break;
	case D__N:
		break;
	}
	ngw_epb(&w, 0, 9, payload(9, 30), 30, 30);
	struct ngw cut = w;
	if (keep != SIZE_MAX)
		cut.n = keep;
	struct got g;
	read_all(&cut, &g);
	expect_stop(&g, PCAPNG_DAMAGED, 2, at, dmg_words[d]);
	if (g.n == 2) {
		cr_expect_eq(g.p[0].ts_ns, 1, "case %d", d);
		cr_expect_eq(g.p[1].ts_ns, 2000, "case %d", d);
	}
	ngw_free(&w);
}

Test(pcapng, every_kind_of_damage_names_its_block)
{
	for (int be = 0; be < 2; be++)
		for (int d = 0; d < D__N; d++) {
			cr_log_info("damage case %d, byte order %d", d, be);
			damage_case((enum dmg)d, be);
		}
}

Test(pcapng, a_file_not_starting_with_a_section_header)
{
	struct ngw w;
	ngw_init(&w);
	ngw_idb(&w, LT_ETHER, 0, 9, NULL);
	struct got g;
	read_all(&w, &g);
	expect_stop(&g, PCAPNG_DAMAGED, 0, 0, "does not start with a section header block");
	ngw_free(&w);
}

/* A valid file cut at every byte: the packets of the whole blocks before
 * the cut, then a clean end (cut between blocks) or a stop naming the
 * block the cut is in. */
Test(pcapng, truncated_twins_at_every_byte)
{
	struct ngw w;
	ngw_init(&w);
	size_t starts[32];
	int pkt[32]; /* the block is a packet */
	int nb = 0;
#define BLOCK(expr, ispkt)                                                                         \
	do {                                                                                       \
		starts[nb] = (expr);                                                               \
		pkt[nb++] = (ispkt);                                                               \
	} while (0)
	static const int64_t off = 10;
	BLOCK(ngw_shb(&w, 0), 0);
	BLOCK(ngw_idb(&w, LT_ETHER, 262144, 9, &off), 0);
	BLOCK(ngw_idb(&w, LT_SLL, 64, NGW_NO_TSRESOL, NULL), 0);
	BLOCK(ngw_epb(&w, 1, 5, payload(1, 33), 33, 33), 1);
	BLOCK(ngw_block(&w, 4, payload(2, 9), 9), 0);
	BLOCK(ngw_epb(&w, 0, 6, payload(3, 1), 1, 1), 1);
	BLOCK(ngw_spb(&w, payload(4, 7), 7, 7), 1);
	BLOCK(ngw_pb(&w, 1, 7, payload(5, 4), 4, 4), 1);
	BLOCK(ngw_shb(&w, 1), 0);
	BLOCK(ngw_idb(&w, LT_RAW, 0, 0x80 | 20, NULL), 0);
	BLOCK(ngw_epb(&w, 0, 8, payload(6, 20), 20, 20), 1);
#undef BLOCK
	starts[nb] = w.n;
	for (size_t cut = 0; cut <= w.n; cut++) {
		struct ngw c = w;
		c.n = cut;
		int whole = 0, in = -1, boundary = 0;
		for (int b = 0; b < nb; b++) {
			if (starts[b + 1] <= cut)
				whole += pkt[b];
			if (starts[b] == cut)
				boundary = 1;
			if (starts[b] < cut && cut < starts[b + 1])
				in = b;
		}
		boundary |= cut == w.n;
		struct got g;
		read_all(&c, &g);
		cr_expect_eq(g.n, whole, "cut at %zu: %d packets, want %d", cut, g.n, whole);
		if (boundary) {
			cr_expect_eq(g.rc, 0, "cut at %zu (between blocks): %s", cut, g.err);
		} else {
			cr_expect_eq(g.rc, -1, "cut at %zu", cut);
			cr_expect_eq(g.stop, PCAPNG_DAMAGED, "cut at %zu", cut);
			cr_expect_eq(g.err_off, starts[in], "cut at %zu: offset %llu, want %zu", cut,
				     (unsigned long long)g.err_off, starts[in]);
			cr_expect(strstr(g.err, "truncated") != NULL, "cut at %zu: %s", cut, g.err);
		}
	}
	ngw_free(&w);
}

/* ---- well-formed, but not readable on ---------------------------------------- */

Test(pcapng, unknown_major_version_is_unsupported_not_damaged)
{
	struct ngw w;
	ngw_start(&w, 0, LT_ETHER, 9);
	ngw_epb(&w, 0, 1, payload(1, 30), 30, 30);
	size_t at = ngw_shb(&w, 1);
	ngw_set16(&w, at + 12, 2);
	ngw_idb(&w, LT_ETHER, 0, 9, NULL);
	ngw_epb(&w, 0, 2, payload(1, 30), 30, 30);
	struct got g;
	read_all(&w, &g);
	expect_stop(&g, PCAPNG_UNSUPPORTED, 1, at, "section 1 is pcapng version 2.0");
	ngw_free(&w);
}

Test(pcapng, interface_limit)
{
	struct ngw w;
	ngw_init(&w);
	ngw_shb(&w, 0);
	for (uint32_t i = 0; i < PCAPNG_MAX_IFACES; i++)
		ngw_idb(&w, (uint16_t)(i % 300), i, NGW_NO_TSRESOL, NULL);
	ngw_epb(&w, PCAPNG_MAX_IFACES - 1, 1, payload(1, 30), 30, 30);
	size_t at = ngw_idb(&w, LT_ETHER, 0, 9, NULL);
	ngw_epb(&w, 0, 2, payload(1, 30), 30, 30);
	struct got g;
	read_all(&w, &g);
	expect_stop(&g, PCAPNG_UNSUPPORTED, 1, at, "describes more than 4096 interfaces");
	cr_expect_eq(g.p[0].linktype, (PCAPNG_MAX_IFACES - 1) % 300);
	cr_expect_eq(g.p[0].snaplen, PCAPNG_MAX_IFACES - 1);
	ngw_free(&w);
}
