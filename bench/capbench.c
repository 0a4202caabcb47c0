/*
 * capbench.c - the capture layer alone (decode, flow table, reassembly)
 * with a consumer that only counts: measures capture/ without analyze/.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "capture/capture.h"

struct counts {
	uint64_t flows, bytes, datagrams, gaps, events;
};

static void
c_open(void *ctx, struct cap_flow *f, uint64_t ts)
{
	(void)f;
	(void)ts;
	((struct counts *)ctx)->flows++;
}

static void
c_data(void *ctx, struct cap_flow *f, enum cap_dir d, const uint8_t *p, size_t n, uint64_t ts)
{
	(void)f;
	(void)d;
	(void)p;
	(void)ts;
	((struct counts *)ctx)->bytes += n;
}

static void
c_gap(void *ctx, struct cap_flow *f, enum cap_dir d, uint64_t lost, uint64_t ts)
{
	(void)f;
	(void)d;
	(void)lost;
	(void)ts;
	((struct counts *)ctx)->gaps++;
}

static void
c_event(void *ctx, struct cap_flow *f, enum cap_tcp_ev ev, enum cap_dir d, uint64_t ts)
{
	(void)f;
	(void)ev;
	(void)d;
	(void)ts;
	((struct counts *)ctx)->events++;
}

static void
c_dgram(void *ctx, const struct decoded *pkt)
{
	(void)pkt;
	((struct counts *)ctx)->datagrams++;
}

int
main(int argc, char **argv)
{
	char err[512];
	struct src *s;
	struct counts k;
	memset(&k, 0, sizeof(k));
	if (argc < 2) {
		fprintf(stderr, "usage: capbench FILE...\n");
		return 2;
	}
	if (src_open_files(&s, (const char *const *)&argv[1], argc - 1, NULL, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct cap_ops ops = {.ctx = &k, .open = c_open, .data = c_data, .gap = c_gap,
			      .event = c_event, .datagram = c_dgram};
	struct capture *c = capture_new(NULL, &ops);
	struct pkt p;
	while (src_next(s, &p) == 1)
		capture_packet(c, &p);
	capture_finish(c);
	printf("packets %llu flows %llu stream_bytes %llu datagrams %llu gaps %llu\n",
	       (unsigned long long)capture_stats(c)->c[CNT_PACKETS], (unsigned long long)k.flows,
	       (unsigned long long)k.bytes, (unsigned long long)k.datagrams,
	       (unsigned long long)k.gaps);
	capture_free(c);
	src_close(s);
	return 0;
}
