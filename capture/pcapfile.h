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

/* the file header's size: records begin here */
#define PCAPFILE_HDR 24

struct pcapfile_rec {
	uint64_t ts_ns;      /* as libpcap gives it at nanosecond precision */
	uint32_t caplen;     /* bytes at data */
	uint32_t wirelen;    /* original length on the wire */
	const uint8_t *data; /* valid until the next pcapfile_next() */
};

struct pcapfile;

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
int pcapfile_next(struct pcapfile *r, struct pcapfile_rec *out);

/* The file offset of the next record (after -1: of the record not taken). */
uint64_t pcapfile_offset(const struct pcapfile *r);

void pcapfile_free(struct pcapfile *r);

#endif
