/*
 * guardbuf.h - byte buffers that end exactly at a PROT_NONE page, so a
 * parser reading one byte past its input faults at once (the
 * picohttpparser test.c trick).
 */
#ifndef MXLAG_GUARDBUF_H
#define MXLAG_GUARDBUF_H

#include <stddef.h>
#include <stdint.h>

/*
 * Returns a copy of src[0..n) whose byte n is the first byte of an
 * inaccessible page (n may be 0: the pointer is then right at the guard).
 * NULL on failure.  Release with guardbuf_free(p, n).
 */
uint8_t *guardbuf_new(const void *src, size_t n);
void guardbuf_free(uint8_t *p, size_t n);

#endif
