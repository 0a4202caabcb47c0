/*
 * ngwriter.h - pcapng files built block by block for the tests: any block
 * type, either byte order per section, and field access to damage them
 * afterwards.  Written from the format (draft-ietf-opsawg-pcapng), not
 * from a library, so a reader bug and a writer bug do not cancel out.
 */
#ifndef MXLAG_TEST_NGWRITER_H
#define MXLAG_TEST_NGWRITER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NGW_NO_TSRESOL (-1)

struct ngw {
	uint8_t *b;
	size_t n, cap;
	int be; /* byte order of the section being written */
};

void ngw_init(struct ngw *w);
void ngw_free(struct ngw *w);

/* ngw_init(), a section header in byte order be, and one interface of
 * linktype with no snap length limit and tsresol (see ngw_idb). */
void ngw_start(struct ngw *w, int be, uint16_t linktype, int tsresol);

/* Each appends one block and returns the offset it starts at. */
size_t ngw_shb(struct ngw *w, int be);
/* An IDB; tsresol NGW_NO_TSRESOL leaves the option out (10^-6 s), tsoffset
 * NULL leaves if_tsoffset out. */
size_t ngw_idb(struct ngw *w, uint16_t linktype, uint32_t snaplen, int tsresol,
	       const int64_t *tsoffset);
/* ts in the interface's units, split into the high and low words. */
size_t ngw_epb(struct ngw *w, uint32_t ifid, uint64_t ts, const void *data, uint32_t caplen,
	       uint32_t wirelen);
size_t ngw_pb(struct ngw *w, uint16_t ifid, uint64_t ts, const void *data, uint32_t caplen,
	      uint32_t wirelen);
/* An SPB carrying datalen bytes (padded) for a packet of wirelen bytes. */
size_t ngw_spb(struct ngw *w, const void *data, uint32_t datalen, uint32_t wirelen);
/* Any block: type, then body (padded to 4 bytes), lengths around it. */
size_t ngw_block(struct ngw *w, uint32_t type, const void *body, size_t len);

/* Writes/reads a 16/32-bit field at off in the current section's byte order. */
void ngw_set16(struct ngw *w, size_t off, uint16_t v);
void ngw_set32(struct ngw *w, size_t off, uint32_t v);

/* The bytes so far as a read-only stream (fmemopen). */
FILE *ngw_stream(const struct ngw *w);
/* Writes the first n bytes (SIZE_MAX: all) to path; 0 or -1. */
int ngw_save(const struct ngw *w, const char *path, size_t n);

#endif
