/*
 * pcapfile.h - the fast path of a classic pcap file: its records read in
 * place from a buffer the file is read into with pread(), with no copy and
 * no library call per packet.
 *
 * libpcap still opens every classic file and keeps the last word.  This
 * reader takes only what libpcap would hand over unchanged:
 *  - a file of format 2.4 with one of the two standard magics (micro- or
 *    nanosecond, either byte order), whose link type needs no pseudo-header
 *    fix-up (pcapfile_eligible());
 *  - a whole record whose captured length is within the snapshot length
 *    and within its original length, with a time libpcap reads as it is
 *    (seconds below 2^31, the fraction below a second).
 * At the first record it does not take (damaged, truncated, or merely
 * unusual), it stops and names that record's offset: the caller seeks
 * libpcap's stream there and libpcap reads on.  So the packets, and the
 * messages and offsets of a damaged file, are libpcap's either way.
 */
#ifndef MXLAG_PCAPFILE_H
#define MXLAG_PCAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* the file header's size: records begin here */
#define PCAPFILE_HDR 24

struct pcapfile_rec {
	uint64_t ts_ns;      /* as libpcap gives it at nanosecond precision */
	uint32_t caplen;     /* bytes at data */
	uint32_t wirelen;    /* original length on the wire */
	const uint8_t *data; /* valid until the next pcapfile_next() */
};

/*
 * The reader's state.  Its fields are pcapfile.c's: they are here only so
 * that pcapfile_next()'s common case (a whole record in the buffer) is
 * inline, with the record in registers rather than written to memory by
 * one function and read back by another.
 */
struct pcapfile {
	int fd;
	bool swap; /* the file's byte order is not the machine's */
	bool nano, stopped, eof;
	bool failed; /* a read failed: libpcap reads again and reports it */
	uint32_t snapshot;
	uint8_t *buf;
	size_t n, pos; /* bytes in buf; the next record's start */
	uint64_t base; /* file offset of buf[0] */
};

/* the size of a record header */
#define PCAPFILE_REC_HDR 16u

/*
 * Could the fast path take a file with this header (its first n bytes)?
 * Only by the header: the caller confirms with what libpcap made of it
 * (pcapfile_new()).
 */
bool pcapfile_eligible(const uint8_t *hdr, size_t n);

/*
 * A reader of the records of the classic pcap file open on fd (read with
 * pread(), so the descriptor's offset and any stdio stream on it are left
 * alone), from offset PCAPFILE_HDR.  hdr: its first n bytes; dlt and
 * snapshot: libpcap's pcap_datalink() and pcap_snapshot() of the file.
 * NULL when the fast path does not take the file (or no memory): libpcap
 * reads it all.
 */
struct pcapfile *pcapfile_new(int fd, const uint8_t *hdr, size_t n, int dlt, uint32_t snapshot);

/*
 * The next record: 1 with *out filled; 0 at the end of the file (a clean
 * end between two records); -1 at a record this reader does not take, or a
 * read error: libpcap's turn, from pcapfile_offset() (every later call
 * returns -1 too).
 */
static inline int pcapfile_next(struct pcapfile *r, struct pcapfile_rec *out);

/* pcapfile_next() where its inline part does not take the record. */
int pcapfile_next_slow(struct pcapfile *r, struct pcapfile_rec *out);

/* The file offset of the next record (after -1: of the record not taken). */
uint64_t pcapfile_offset(const struct pcapfile *r);

void pcapfile_free(struct pcapfile *r);

static inline uint32_t
pcapfile_u32(const uint8_t *p, bool swap)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return swap ? __builtin_bswap32(v) : v;
}

/*
 * The record at the reader's position: 1, taken into *out; 0 when the
 * buffer does not hold all of it (a refill may); -1 when it is one libpcap
 * must read (a time or lengths it would not hand over as they are).
 */
static inline int
pcapfile_take(struct pcapfile *r, struct pcapfile_rec *out)
{
	size_t left = r->n - r->pos;
	if (left < PCAPFILE_REC_HDR)
		return 0;
	const uint8_t *h = r->buf + r->pos;
	uint32_t sec = pcapfile_u32(h, r->swap), frac = pcapfile_u32(h + 4, r->swap);
	uint32_t caplen = pcapfile_u32(h + 8, r->swap), wirelen = pcapfile_u32(h + 12, r->swap);
	if (sec > INT32_MAX || frac >= (r->nano ? 1000000000u : 1000000u) || caplen > r->snapshot ||
	    caplen > wirelen)
		return -1;
	if (left - PCAPFILE_REC_HDR < caplen)
		return 0;
	out->ts_ns = (uint64_t)sec * 1000000000u + (r->nano ? frac : (uint64_t)frac * 1000u);
	out->caplen = caplen;
	out->wirelen = wirelen;
	out->data = h + PCAPFILE_REC_HDR;
	r->pos += PCAPFILE_REC_HDR + caplen;
	return 1;
}

/* The common case, a whole record in the buffer, inline; the rest (a
 * refill, the end, a record not taken) in pcapfile_next_slow(). */
static inline int
pcapfile_next(struct pcapfile *r, struct pcapfile_rec *out)
{
	if (!r->stopped && pcapfile_take(r, out) == 1)
		return 1;
	return pcapfile_next_slow(r, out);
}

#endif
