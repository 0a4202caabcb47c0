/*
 * fuzz_pipeline.c - the whole analysis from raw capture-file bytes: the
 * input is read as a pcap/pcapng file by libpcap and goes through decode,
 * flows, reassembly, the four protocol analyzers and the correlator (no
 * database).  Small limits make the caps and evictions reachable.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "analyze/dispatch.h"
#include "capture/capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
sink(void *ctx, const struct mx_event *ev)
{
	(void)ev;
	(*(unsigned long *)ctx)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[PCAP_ERRBUF_SIZE];
	if (size == 0)
		return 0;
	FILE *f = fmemopen((void *)(uintptr_t)data, size, "rb");
	if (!f)
		return 0;
	pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, err);
	if (!p) {
		fclose(f);
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
		struct pcap_pkthdr *h;
		const u_char *pkt;
		int dlt = pcap_datalink(p), nano = pcap_get_tstamp_precision(p);
		uint64_t next_tick = 0;
		for (int n = 0; n < 100000 && pcap_next_ex(p, &h, &pkt) == 1; n++) {
			struct pkt k;
			k.ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ULL +
				  (uint64_t)h->ts.tv_usec * (nano == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000);
			k.caplen = h->caplen;
			k.wirelen = h->len;
			k.dlt = dlt;
			k.origin = 0;
			k.data = pkt;
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
	pcap_close(p); /* closes f */
	return 0;
}
