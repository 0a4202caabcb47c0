/*
 * fuzz_pipeline.c - the whole analysis from raw capture-file bytes: the
 * input is opened as a capture file by capture/source.c (pcapng by our
 * reader, pcap by libpcap, from a memory file) and goes through decode,
 * flows, reassembly, the four protocol analyzers and the correlator (no
 * database).  Small limits make the caps and evictions reachable.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "analyze/dispatch.h"
#include "capture/capture.h"
#include "capture/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
sink(void *ctx, const struct mx_event *ev)
{
	(void)ev;
	(*(unsigned long *)ctx)++;
}

/* The input as a file source opens it: a memory file named by its fd. */
static struct src *
open_input(const uint8_t *data, size_t size, int *fd)
{
	*fd = memfd_create("fuzz_pipeline", 0);
	if (*fd < 0)
		return NULL;
	size_t done = 0;
	while (done < size) {
		ssize_t w = write(*fd, data + done, size - done);
		if (w <= 0)
			return NULL;
		done += (size_t)w;
	}
	static char path[64]; /* the source keeps the name */
	char err[256];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", *fd);
	const char *paths[] = {path};
	struct src *s;
	return src_open_files(&s, paths, 1, NULL, err, sizeof(err)) == 0 ? s : NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	int fd;
	struct src *s = open_input(data, size, &fd);
	if (!s) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	unsigned long events = 0;
	struct dispatch_cfg dc;
	memset(&dc, 0, sizeof(dc));
	dc.use_ndpi = 1;
	dc.corr.max_dns = 64;
	dc.corr.max_ident = 16;
	dc.corr.max_held = 8;
	struct dispatch *d = dispatch_new(&dc, sink, &events);
	struct capture_cfg cc;
	memset(&cc, 0, sizeof(cc));
	cc.flow.max_flows = 64;
	cc.flow.ooo_max_bytes = 4096;
	cc.flow.ooo_max_segs = 8;
	cc.dec.frag_max_datagrams = 8;
	cc.dec.frag_max_bytes = 65536;
	struct capture *c = d ? capture_new(&cc, dispatch_ops(d)) : NULL;
	if (c) {
		struct pkt k;
		uint64_t next_tick = 0;
		for (int n = 0; n < 100000 && src_next(s, &k) == 1; n++) {
			capture_packet(c, &k);
			if (capture_now(c) >= next_tick) {
				dispatch_tick(d, capture_now(c));
				next_tick = capture_now(c) + 1000000000ULL;
			}
		}
		capture_finish(c);
		dispatch_finish(d, capture_now(c));
	}
	capture_free(c);
	dispatch_free(d);
	src_close(s);
	close(fd);
	return 0;
}
