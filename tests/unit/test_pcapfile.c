/*
 * test_pcapfile.c - classic pcap records read in place: the same records
 * as libpcap gives (both byte orders, micro- and nanoseconds, records
 * across the reader's buffer), the records it leaves to libpcap with the
 * offset it names, the clean end, and the headers it refuses.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/pcapfile.h"

/* a classic file being written by hand (the fields in either byte order) */
struct cw {
	uint8_t *b;
	size_t n, cap;
	bool swapped;
};

static uint32_t
sw32(uint32_t v)
{
	return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

static void
put(struct cw *w, const void *p, size_t n)
{
	if (w->n + n > w->cap) {
		w->cap = (w->n + n) * 2;
		w->b = realloc(w->b, w->cap);
		cr_assert_not_null(w->b);
	}
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void
put32(struct cw *w, uint32_t v)
{
	v = w->swapped ? sw32(v) : v;
	put(w, &v, 4);
}

static void
put16(struct cw *w, uint16_t v)
{
	v = w->swapped ? (uint16_t)((v >> 8) | (v << 8)) : v;
	put(w, &v, 2);
}

static void
cw_header(struct cw *w, bool swapped, bool nano, uint16_t minor, uint32_t snaplen,
	  uint32_t linktype)
{
	memset(w, 0, sizeof(*w));
	w->swapped = swapped;
	put32(w, nano ? 0xa1b23c4du : 0xa1b2c3d4u);
	put16(w, 2);
	put16(w, minor);
	put32(w, 0);
	put32(w, 0);
	put32(w, snaplen);
	put32(w, linktype);
}

/* a record of caplen bytes (each byte a function of the record and its place) */
static size_t
cw_rec(struct cw *w, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len, uint32_t seed)
{
	size_t at = w->n;
	put32(w, sec);
	put32(w, frac);
	put32(w, caplen);
	put32(w, len);
	for (uint32_t i = 0; i < caplen; i++) {
		uint8_t c = (uint8_t)(seed * 31u + i * 7u);
		put(w, &c, 1);
	}
	return at;
}

static char path[64];

static int
cw_save(struct cw *w, size_t upto)
{
	strcpy(path, "/tmp/mxlag-pcapfile-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	size_t n = upto < w->n ? upto : w->n;
	cr_assert_eq(write(fd, w->b, n), (ssize_t)n);
	return fd;
}

static void
cw_done(struct cw *w, int fd)
{
	close(fd);
	unlink(path);
	free(w->b);
}

/* The reader as source.c starts it: libpcap opens the file first. */
static struct pcapfile *
open_both(int fd, pcap_t **p)
{
	char err[PCAP_ERRBUF_SIZE];
	*p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	cr_assert_not_null(*p, "%s", err);
	uint8_t hdr[PCAPFILE_HDR];
	cr_assert_eq(pread(fd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
	return pcapfile_new(fd, hdr, sizeof(hdr), pcap_datalink(*p), (uint32_t)pcap_snapshot(*p));
}

/* Every record of the file, from both readers, equal; returns the count. */
static int
same_as_libpcap(int fd)
{
	pcap_t *p;
	struct pcapfile *r = open_both(fd, &p);
	cr_assert_not_null(r);
	struct pcapfile_rec k;
	struct pcap_pkthdr *h;
	const u_char *d;
	int n = 0, rc;
	while ((rc = pcapfile_next(r, &k)) == 1) {
		cr_assert_eq(pcap_next_ex(p, &h, &d), 1, "record %d", n);
		uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;
		cr_assert_eq(k.ts_ns, ts, "record %d", n);
		cr_assert_eq(k.caplen, h->caplen, "record %d", n);
		cr_assert_eq(k.wirelen, h->len, "record %d", n);
		cr_assert(memcmp(k.data, d, k.caplen) == 0, "record %d", n);
		n++;
	}
	cr_assert_eq(rc, 0);
	cr_assert_eq(pcap_next_ex(p, &h, &d), PCAP_ERROR_BREAK, "libpcap has more");
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	cr_expect_eq(pcapfile_offset(r), (uint64_t)st.st_size);
	pcapfile_free(r);
	pcap_close(p);
	return n;
}

/* Sizes from 0 to the snapshot length, enough of them to cross the
 * reader's buffer many times, in both byte orders and resolutions. */
Test(pcapfile, same_records_as_libpcap)
{
	for (int v = 0; v < 4; v++) {
		bool swapped = v & 1, nano = v & 2;
		struct cw w;
		cw_header(&w, swapped, nano, 4, 65535, 1);
		uint32_t x = 12345;
		int want = 0;
		for (uint32_t i = 0; w.n < 3u << 20; i++, want++) {
			x = x * 1103515245u + 12345u;
			uint32_t caplen = i % 97 == 0 ? 65535 : i % 89 == 0 ? 0 : (x >> 8) % 1600;
			uint32_t frac = (x >> 4) % (nano ? 1000000000u : 1000000u);
			cw_rec(&w, 1700000000u + i, frac, caplen, caplen + (i % 3) * 100, i);
		}
		int fd = cw_save(&w, SIZE_MAX);
		cr_expect_eq(same_as_libpcap(fd), want, "variant %d", v);
		cw_done(&w, fd);
	}
}

/* Every link type it takes, and a file with no record. */
Test(pcapfile, plain_link_types_and_the_empty_file)
{
	static const uint32_t lts[] = {0, 1, 101, 108, 113, 228, 229, 276};
	for (size_t i = 0; i < sizeof(lts) / sizeof(lts[0]); i++) {
		struct cw w;
		cw_header(&w, false, false, 4, 262144, lts[i]);
		for (uint32_t k = 0; k < 5; k++)
			cw_rec(&w, 100 + k, k, 60, 60, k);
		int fd = cw_save(&w, SIZE_MAX);
		cr_expect_eq(same_as_libpcap(fd), 5, "linktype %u", lts[i]);
		cw_done(&w, fd);
	}
	struct cw w;
	cw_header(&w, true, true, 4, 0, 1); /* snap length 0: libpcap's maximum */
	int fd = cw_save(&w, SIZE_MAX);
	cr_expect_eq(same_as_libpcap(fd), 0);
	cw_done(&w, fd);
}

/* A record it does not take: the three before it are read, then -1 with
 * that record's offset, and -1 again. */
static void
stops_at(bool nano, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len, size_t cut)
{
	struct cw w;
	cw_header(&w, false, nano, 4, 1000, 1);
	for (uint32_t k = 0; k < 3; k++)
		cw_rec(&w, 100 + k, k, 60, 60, k);
	size_t bad = cw_rec(&w, sec, frac, caplen, len, 9);
	cw_rec(&w, 200, 0, 60, 60, 10);
	int fd = cw_save(&w, cut ? bad + cut : SIZE_MAX);
	pcap_t *p;
	struct pcapfile *r = open_both(fd, &p);
	cr_assert_not_null(r);
	struct pcapfile_rec k;
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pcapfile_next(r, &k), 1);
	cr_expect_eq(pcapfile_next(r, &k), -1, "sec %u frac %u caplen %u len %u cut %zu", sec, frac,
		     caplen, len, cut);
	cr_expect_eq(pcapfile_offset(r), bad);
	cr_expect_eq(pcapfile_next(r, &k), -1);
	cr_expect_eq(pcapfile_offset(r), bad);
	pcapfile_free(r);
	pcap_close(p);
	cw_done(&w, fd);
}

Test(pcapfile, leaves_to_libpcap_what_it_does_not_take)
{
	stops_at(false, 300, 0, 1001, 1001, 0);       /* beyond the snapshot length */
	stops_at(false, 300, 0, 80, 70, 0);           /* more captured than sent */
	stops_at(false, 300, 1000000, 60, 60, 0);     /* a microsecond fraction of a second or more */
	stops_at(true, 300, 1000000000u, 60, 60, 0);  /* the same in nanoseconds */
	stops_at(false, 0x80000000u, 0, 60, 60, 0);   /* libpcap reads seconds as signed */
	stops_at(false, 300, 0, 60, 60, 7);           /* the file ends in the record header */
	stops_at(false, 300, 0, 60, 60, 16 + 59);     /* ... in the record's data */
	stops_at(false, 300, 0, 1000, 1000, 16);      /* ... right after the header */
}

/* Just below each limit: still its own. */
Test(pcapfile, takes_the_records_at_each_limit)
{
	struct cw w;
	cw_header(&w, false, false, 4, 1000, 1);
	cw_rec(&w, 0x7fffffffu, 999999, 1000, 1000, 1);
	cw_rec(&w, 0, 0, 0, 0, 2);
	cw_rec(&w, 1, 0, 10, 4000000000u, 3);
	int fd = cw_save(&w, SIZE_MAX);
	cr_expect_eq(same_as_libpcap(fd), 3);
	cw_done(&w, fd);
}

static bool
refused(bool swapped, uint32_t magic, uint16_t minor, uint32_t linktype, size_t n)
{
	struct cw w;
	cw_header(&w, swapped, false, minor, 65535, linktype);
	uint32_t m = swapped ? sw32(magic) : magic;
	memcpy(w.b, &m, 4);
	bool ok = pcapfile_eligible(w.b, n);
	free(w.b);
	return !ok;
}

Test(pcapfile, refuses_the_files_libpcap_must_read)
{
	cr_expect(!refused(false, 0xa1b2c3d4u, 4, 1, 24));
	cr_expect(!refused(true, 0xa1b23c4du, 4, 1, 24));
	cr_expect(!refused(false, 0xa1b2c3d4u, 4, 113, 24));
	cr_expect(refused(false, 0xa1b2c3d4u, 4, 1, 23), "a short header");
	cr_expect(refused(false, 0xa1b2cd34u, 4, 1, 24), "the modified format");
	cr_expect(refused(false, 0x0a0d0d0au, 4, 1, 24), "pcapng");
	cr_expect(refused(false, 0xa1b2c3d4u, 3, 1, 24), "version 2.3 may swap its lengths");
	cr_expect(refused(false, 0xa1b2c3d4u, 4, 9, 24), "PPP: not a type it takes");
	cr_expect(refused(false, 0xa1b2c3d4u, 4, 1 | 0x14000000u, 24), "FCS bits");
	cr_expect(refused(true, 0xa1b2c3d4u, 4, 113, 24), "swapped SLL: libpcap rewrites it");
	cr_expect(refused(true, 0xa1b2c3d4u, 4, 276, 24), "swapped SLL2");

	/* libpcap's reading of the header must agree */
	struct cw w;
	cw_header(&w, false, false, 4, 65535, 1);
	cr_expect_null(pcapfile_new(-1, w.b, w.n, DLT_RAW, 65535), "another link type");
	cr_expect_null(pcapfile_new(-1, w.b, w.n, DLT_EN10MB, 0), "no snapshot length");
	cr_expect_null(pcapfile_new(-1, w.b, w.n, DLT_EN10MB, 1u << 20), "beyond its buffer");
	struct pcapfile *r = pcapfile_new(-1, w.b, w.n, DLT_EN10MB, 65535);
	cr_expect_not_null(r);
	pcapfile_free(r);
	free(w.b);
}

/* A read error is libpcap's to report, not an end. */
Test(pcapfile, a_read_error_is_not_an_end)
{
	struct cw w;
	cw_header(&w, false, false, 4, 65535, 1);
	int dir = open("/tmp", O_RDONLY); /* pread() of a directory fails */
	cr_assert(dir >= 0);
	struct pcapfile *r = pcapfile_new(dir, w.b, w.n, DLT_EN10MB, 65535);
	cr_assert_not_null(r);
	struct pcapfile_rec k;
	cr_expect_eq(pcapfile_next(r, &k), -1);
	cr_expect_eq(pcapfile_offset(r), PCAPFILE_HDR);
	pcapfile_free(r);
	close(dir);
	free(w.b);
}
