/*
 * fuzz_pcapng.c - libFuzzer harness for capture/pcapng.c.
 *
 * The input is a whole capture file, read through a memory stream the way
 * source.c reads one: the first four bytes taken first and handed to the
 * reader as its head bytes.  Every captured byte of every packet is read
 * (ASan checks them), and what the reader promises is checked: a packet
 * lies inside the bytes consumed since its block began, interface ids are
 * below the limit, offsets only grow, a stop names a block already
 * reached and one line of text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/pcapng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	FILE *f = fmemopen((void *)(uintptr_t)data, size, "rb");
	if (!f)
		return 0;
	uint8_t head[4];
	size_t nh = fread(head, 1, sizeof(head), f);
	struct pcapng *r = pcapng_new(f, head, nh);
	if (!r) {
		fclose(f);
		return 0;
	}
	struct pcapng_packet k;
	uint64_t last = 0;
	volatile uint8_t sink = 0;
	int rc;
	while ((rc = pcapng_next(r, &k)) == 1) {
		uint64_t consumed = pcapng_offset(r);
		if (!k.iface || k.iface->id >= PCAPNG_MAX_IFACES || k.offset < last ||
		    k.offset >= consumed || k.caplen > consumed - k.offset ||
		    consumed > size)
			abort();
		for (uint32_t i = 0; i < k.caplen; i++)
			sink ^= k.data[i];
		sink ^= (uint8_t)k.iface->linktype;
		last = k.offset;
	}
	(void)sink;
	if (rc < 0) {
		const char *e = pcapng_error(r);
		if (pcapng_stop(r) == 0 || pcapng_error_offset(r) > pcapng_offset(r) || !*e ||
		    strchr(e, '\n'))
			abort();
	} else if (pcapng_offset(r) != size) {
		abort(); /* a clean end is the end of the input */
	}
	pcapng_free(r);
	fclose(f);
	return 0;
}
