/*
 * pcapng.h - an incremental, bounds-checked reader of pcapng capture files
 * (draft-ietf-opsawg-pcapng): every section in either byte order, every
 * interface with its own link type, snap length and time resolution.
 *
 * Blocks are read one at a time from a FILE * (no seeking, so pipes and
 * standard input work).  Section Header, Interface Description, Enhanced
 * Packet, Simple Packet and the obsolete Packet Block are decoded; every
 * other block type (name resolution, statistics, decryption secrets,
 * custom, unknown) is skipped by its length without being buffered.
 * Every length is checked before it is trusted: block total length a
 * multiple of 4, at least the block's fixed part, equal to the trailing
 * copy, at most PCAPNG_MAX_BLOCK for a block that is buffered; captured
 * length inside the block; interface id below the section's interface
 * count.  Memory is bounded by one block (PCAPNG_MAX_BLOCK) plus
 * PCAPNG_MAX_IFACES interface records, whatever the input.
 */
#ifndef MXLAG_PCAPNG_H
#define MXLAG_PCAPNG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* first four bytes of every pcapng file: the Section Header Block type */
#define PCAPNG_MAGIC 0x0a0d0d0au
/* largest block that is read into memory (packet blocks, headers) */
#define PCAPNG_MAX_BLOCK (16u << 20)
/* interfaces one section may describe */
#define PCAPNG_MAX_IFACES 4096u

/* One Interface Description Block. */
struct pcapng_iface {
	uint32_t section;  /* 0-based number of the section it belongs to */
	uint32_t id;       /* its number in the section (what packet blocks name) */
	uint16_t linktype; /* LINKTYPE_* of the file format (not a libpcap DLT_*) */
	uint32_t snaplen;  /* 0 = no limit */
	uint8_t tsresol;   /* if_tsresol: 10^-n s, or 2^-n s when bit 7 is set */
	int64_t tsoffset;  /* if_tsoffset: seconds added to every timestamp */
};

struct pcapng_packet {
	const struct pcapng_iface *iface; /* interface the packet came from */
	uint64_t ts_ns;                   /* ns since the Unix epoch (saturating) */
	uint32_t caplen;                  /* bytes at data */
	uint32_t wirelen;                 /* original length on the wire */
	const uint8_t *data;
	uint64_t offset; /* file offset of the packet's block */
};

/* Why a reader stopped before the end of its input. */
enum pcapng_stop {
	PCAPNG_DAMAGED = 1, /* the bytes break the format (truncated, bad length, ...) */
	PCAPNG_UNSUPPORTED, /* well-formed, but beyond what this reader handles */
	PCAPNG_IO,          /* the read itself failed */
};

struct pcapng;

/*
 * A reader of f, positioned at the start of a pcapng file.  head/nhead
 * are bytes the caller already read from f to recognize the format (the
 * magic); they are read again first.  nhead <= 16.  f stays the
 * caller's: pcapng_free() does not close it.  NULL when out of memory.
 */
struct pcapng *pcapng_new(FILE *f, const void *head, size_t nhead);

/*
 * The next packet: 1 with *out filled, 0 at the end of the input (a clean
 * end between two blocks), -1 when the reader stopped (pcapng_stop(),
 * pcapng_error(), pcapng_error_offset() say why and where; every later
 * call returns -1 too).  out->data and out->iface are valid until the
 * next call.  A Simple Packet Block, which has no timestamp, gets the
 * timestamp of the packet before it and the section's interface 0.
 */
int pcapng_next(struct pcapng *r, struct pcapng_packet *out);

/* After -1 from pcapng_next(): the kind of stop, one line of text naming
 * what is wrong, and the file offset of the block it is in. */
enum pcapng_stop pcapng_stop(const struct pcapng *r);
const char *pcapng_error(const struct pcapng *r);
uint64_t pcapng_error_offset(const struct pcapng *r);

/* Bytes of the file consumed so far (the head bytes included). */
uint64_t pcapng_offset(const struct pcapng *r);

void pcapng_free(struct pcapng *r);

#endif
