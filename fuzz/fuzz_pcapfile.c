/*
 * fuzz_pcapfile.c - classic pcap files read in place (capture/pcapfile.c)
 * against libpcap alone: the input is opened as a capture file by
 * capture/source.c (the fast path, with libpcap taking over where it
 * stops) and by libpcap directly, and every packet (time, lengths, link
 * type, bytes) and the damage must be the same.  A difference aborts.
 * Inputs that are not classic pcap files are left to fuzz_pipeline.
 */
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
differ(const char *what, long n)
{
	fprintf(stderr, "fuzz_pcapfile: %s differs at packet %ld\n", what, n);
	abort();
}

static bool
classic_magic(const uint8_t *d, size_t n)
{
	static const uint32_t magics[] = {0xa1b2c3d4u, 0xd4c3b2a1u, 0xa1b23c4du, 0x4d3cb2a1u};
	uint32_t m;
	if (n < 4)
		return false;
	memcpy(&m, d, 4);
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (m == magics[i])
			return true;
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!classic_magic(data, size))
		return 0;
	int fd = memfd_create("fuzz_pcapfile", 0);
	if (fd < 0)
		return 0;
	size_t done = 0;
	while (done < size) {
		ssize_t w = write(fd, data + done, size - done);
		if (w <= 0) {
			close(fd);
			return 0;
		}
		done += (size_t)w;
	}
	static char path[64]; /* the source keeps the name */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	char perr[PCAP_ERRBUF_SIZE], err[256];
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, perr);
	const char *paths[] = {path};
	struct src *s = NULL;
	int opened = src_open_files(&s, paths, 1, NULL, err, sizeof(err));
	if ((p != NULL) != (opened == 0))
		differ("opening", -1);
	long n = 0;
	if (p) {
		struct pcap_pkthdr *h;
		const u_char *d;
		struct pkt k;
		int rc;
		/* at most what a seed holds: the point is the records, not the volume */
		while ((rc = pcap_next_ex(p, &h, &d)) == 1 && n < 200000) {
			if (src_next(s, &k) != 1)
				differ("count", n);
			uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000ULL + (uint64_t)h->ts.tv_usec;
			if (k.ts_ns != (ts ? ts : 1))
				differ("time", n);
			if (k.caplen != h->caplen || k.wirelen != h->len)
				differ("length", n);
			if (k.dlt != pcap_datalink(p))
				differ("link type", n);
			if (memcmp(k.data, d, h->caplen) != 0)
				differ("bytes", n);
			n++;
		}
		if (rc != 1) {
			if (src_next(s, &k) == 1)
				differ("count (more)", n);
			if ((rc == PCAP_ERROR) != (src_damaged(s) > 0))
				differ("damage", n);
		}
		pcap_close(p);
		src_close(s);
	}
	close(fd);
	return 0;
}
