/*
 * bare_loop.c - the baseline: a bare pcap_next_ex() loop that touches
 * each packet's first byte.  What mxlag's figures are compared with.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int
main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	if (argc != 2) {
		fprintf(stderr, "usage: bare_loop FILE.pcap\n");
		return 2;
	}
	pcap_t *p = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, err);
	if (!p) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t n = 0, bytes = 0, x = 0;
	while (pcap_next_ex(p, &h, &d) == 1) {
		n++;
		bytes += h->caplen;
		if (h->caplen)
			x += d[0];
	}
	pcap_close(p);
	printf("packets %llu bytes %llu (%llu)\n", (unsigned long long)n, (unsigned long long)bytes,
	       (unsigned long long)(x & 1));
	return 0;
}
