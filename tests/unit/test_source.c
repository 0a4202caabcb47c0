/*
 * test_source.c - offline sources: several files merged by timestamp,
 * microsecond and nanosecond files, damaged files, unreadable files;
 * pcapng files whose interfaces have different link types (each packet
 * with its own DLT, decoded downstream), --filter per link type, and
 * standard input from a pipe.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/ngwriter.h"
#include "capture/decode.h"
#include "capture/source.h"

static char dir[] = "/tmp/mxlag-src-XXXXXX";

static void
setup(void)
{
	strcpy(dir, "/tmp/mxlag-src-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

/* Writes n packets with the given timestamps (ns) and first byte = tag. */
static void
write_pcap(const char *path, int nano, const uint64_t *ts, int n, uint8_t tag)
{
	pcap_t *p = pcap_open_dead_with_tstamp_precision(
		DLT_EN10MB, 65535, nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
	pcap_dumper_t *d = pcap_dump_open(p, path);
	cr_assert_not_null(d, "%s", pcap_geterr(p));
	for (int i = 0; i < n; i++) {
		uint8_t buf[60] = {tag, (uint8_t)i};
		struct pcap_pkthdr h;
		h.ts.tv_sec = (time_t)(ts[i] / 1000000000ULL);
		h.ts.tv_usec = (suseconds_t)(nano ? ts[i] % 1000000000ULL
						  : (ts[i] % 1000000000ULL) / 1000);
		h.caplen = h.len = sizeof(buf);
		pcap_dump((u_char *)d, &h, buf);
	}
	pcap_dump_close(d);
	pcap_close(p);
}

TestSuite(source, .init = setup, .fini = teardown);

Test(source, merges_files_by_timestamp)
{
	char a[300], b[300];
	snprintf(a, sizeof(a), "%s/a.pcap", dir);
	snprintf(b, sizeof(b), "%s/b.pcap", dir);
	uint64_t ta[] = {1000000000ULL, 3000000000ULL, 5000000123ULL};
	uint64_t tb[] = {2000000000ULL, 4000000000ULL, 6000000000ULL, 7000000000ULL};
	write_pcap(a, 1, ta, 3, 'a');
	write_pcap(b, 0, tb, 4, 'b');
	const char *paths[] = {a, b};
	struct src *s;
	char err[256];
	cr_assert_eq(src_open_files(&s, paths, 2, NULL, err, sizeof(err)), 0, "%s", err);
	struct pkt p;
	const char want[] = "ababab" "b";
	uint64_t last = 0;
	int i = 0;
	while (src_next(s, &p) == 1) {
		cr_assert_lt(i, 7);
		cr_expect_eq(p.data[0], (uint8_t)want[i], "packet %d from the wrong file", i);
		cr_expect_geq(p.ts_ns, last);
		cr_expect_eq(p.dlt, DLT_EN10MB);
		cr_expect_eq(p.origin, want[i] == 'a' ? 0 : 1);
		last = p.ts_ns;
		i++;
	}
	cr_expect_eq(i, 7);
	cr_expect_eq(src_damaged(s), 0);
	cr_expect_gt(src_total_bytes(s), 0);
	src_close(s);
}

Test(source, nanosecond_timestamps_are_kept)
{
	char a[300];
	snprintf(a, sizeof(a), "%s/n.pcap", dir);
	uint64_t t[] = {1700000000123456789ULL};
	write_pcap(a, 1, t, 1, 'x');
	const char *paths[] = {a};
	struct src *s;
	char err[256];
	cr_assert_eq(src_open_files(&s, paths, 1, NULL, err, sizeof(err)), 0);
	struct pkt p;
	cr_assert_eq(src_next(s, &p), 1);
	cr_expect_eq(p.ts_ns, 1700000000123456789ULL);
	cr_expect_eq(src_next(s, &p), 0);
	src_close(s);
}

Test(source, microsecond_file_scaled_to_ns)
{
	char a[300];
	snprintf(a, sizeof(a), "%s/u.pcap", dir);
	uint64_t t[] = {1700000000123456000ULL};
	write_pcap(a, 0, t, 1, 'x');
	const char *paths[] = {a};
	struct src *s;
	char err[256];
	cr_assert_eq(src_open_files(&s, paths, 1, NULL, err, sizeof(err)), 0);
	struct pkt p;
	cr_assert_eq(src_next(s, &p), 1);
	cr_expect_eq(p.ts_ns, 1700000000123456000ULL);
	src_close(s);
}

static void
setup_redirect(void)
{
	setup();
	cr_redirect_stderr();
}

Test(source, truncated_file_warns_and_keeps_what_came_before, .init = setup_redirect)
{
	char a[300];
	snprintf(a, sizeof(a), "%s/t.pcap", dir);
	uint64_t ts[] = {1000000000ULL, 2000000000ULL, 3000000000ULL};
	write_pcap(a, 0, ts, 3, 'x');
	/* cut the last record in half: 24 header + 3 * (16 + 60) - 30 */
	cr_assert_eq(truncate(a, 24 + 3 * 76 - 30), 0);
	const char *paths[] = {a};
	struct src *s;
	char err[256];
	cr_assert_eq(src_open_files(&s, paths, 1, NULL, err, sizeof(err)), 0);
	struct pkt p;
	int n = 0;
	while (src_next(s, &p) == 1)
		n++;
	cr_expect_eq(n, 2);
	cr_expect_eq(src_damaged(s), 1);
	src_close(s);
	fflush(stderr);
	FILE *e = cr_get_redirected_stderr();
	char line[1024] = "";
	cr_assert_not_null(fgets(line, sizeof(line), e));
	cr_expect(strstr(line, a) != NULL, "warning names the file: %s", line);
	cr_expect(strstr(line, "offset") != NULL, "warning names the offset: %s", line);
}

Test(source, missing_file_is_an_error_only_when_nothing_opens, .init = setup_redirect)
{
	char a[300], missing[300];
	snprintf(a, sizeof(a), "%s/ok.pcap", dir);
	snprintf(missing, sizeof(missing), "%s/none.pcap", dir);
	uint64_t ts[] = {1000000000ULL};
	write_pcap(a, 0, ts, 1, 'x');
	const char *both[] = {missing, a};
	struct src *s;
	char err[256];
	cr_assert_eq(src_open_files(&s, both, 2, NULL, err, sizeof(err)), 0);
	cr_expect_eq(src_damaged(s), 1);
	src_close(s);
	const char *none[] = {missing};
	cr_expect_eq(src_open_files(&s, none, 1, NULL, err, sizeof(err)), -1);
	cr_expect(strstr(err, "none.pcap") != NULL, "%s", err);
}

Test(source, bpf_filter_applies_and_bad_filter_fails)
{
	char a[300];
	snprintf(a, sizeof(a), "%s/f.pcap", dir);
	uint64_t ts[] = {1000000000ULL, 2000000000ULL};
	write_pcap(a, 0, ts, 2, 'x');
	const char *paths[] = {a};
	struct src *s;
	char err[256];
	/* the packets are not IP: "ip" keeps none of them */
	cr_assert_eq(src_open_files(&s, paths, 1, "ip", err, sizeof(err)), 0, "%s", err);
	struct pkt p;
	cr_expect_eq(src_next(s, &p), 0);
	src_close(s);
	cr_expect_eq(src_open_files(&s, paths, 1, "tcp port banana", err, sizeof(err)), -1);
	cr_expect(strstr(err, "filter") != NULL, "%s", err);
}

/* ---- classic files read in place (capture/pcapfile.c) -------------------------- */

static void stderr_text(char *buf, size_t n);

/* What one reader gave: packets (time, lengths, first bytes) and whether
 * the file was damaged. */
struct seq {
	int n;
	uint64_t ts[64];
	uint32_t caplen[64], wirelen[64];
	uint8_t b0[64], b1[64];
	bool damaged;
};

/* libpcap alone, as source.c opened classic files before pcapfile.c */
static void
libpcap_seq(const char *path, const char *filter, struct seq *q)
{
	char err[PCAP_ERRBUF_SIZE];
	memset(q, 0, sizeof(*q));
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	cr_assert_not_null(p, "%s", err);
	if (filter) {
		struct bpf_program prog;
		cr_assert_eq(pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN), 0);
		cr_assert_eq(pcap_setfilter(p, &prog), 0);
		pcap_freecode(&prog);
	}
	struct pcap_pkthdr *h;
	const u_char *d;
	int rc;
	while ((rc = pcap_next_ex(p, &h, &d)) == 1 && q->n < 64) {
		q->ts[q->n] = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;
		q->caplen[q->n] = h->caplen;
		q->wirelen[q->n] = h->len;
		q->b0[q->n] = h->caplen > 0 ? d[0] : 0;
		q->b1[q->n] = h->caplen > 1 ? d[1] : 0;
		q->n++;
	}
	q->damaged = rc == PCAP_ERROR;
	pcap_close(p);
}

static void
src_seq(const char *path, const char *filter, struct seq *q)
{
	memset(q, 0, sizeof(*q));
	const char *paths[] = {path};
	struct src *s;
	char err[256];
	cr_assert_eq(src_open_files(&s, paths, 1, filter, err, sizeof(err)), 0, "%s", err);
	struct pkt p;
	while (src_next(s, &p) == 1 && q->n < 64) {
		q->ts[q->n] = p.ts_ns;
		q->caplen[q->n] = p.caplen;
		q->wirelen[q->n] = p.wirelen;
		q->b0[q->n] = p.caplen > 0 ? p.data[0] : 0;
		q->b1[q->n] = p.caplen > 1 ? p.data[1] : 0;
		q->n++;
	}
	q->damaged = src_damaged(s) > 0;
	src_close(s);
}

static void
expect_same_seq(const struct seq *a, const struct seq *b)
{
	cr_assert_eq(a->n, b->n);
	for (int i = 0; i < a->n; i++) {
		cr_expect_eq(a->ts[i], b->ts[i], "packet %d", i);
		cr_expect_eq(a->caplen[i], b->caplen[i], "packet %d", i);
		cr_expect_eq(a->wirelen[i], b->wirelen[i], "packet %d", i);
		cr_expect_eq(a->b0[i], b->b0[i], "packet %d", i);
		cr_expect_eq(a->b1[i], b->b1[i], "packet %d", i);
	}
	cr_expect_eq(a->damaged, b->damaged);
}

/*
 * A record the fast path does not take (captured length beyond the snap
 * length) in the middle: libpcap reads on from it, so the packets and the
 * damage are libpcap's; and the warning names that record's offset.
 */
Test(source, libpcap_reads_on_where_the_fast_path_stops, .init = setup_redirect)
{
	char a[300];
	snprintf(a, sizeof(a), "%s/h.pcap", dir);
	/* a hand-made file: snap length 100, ten records of 60 bytes but the
	   sixth of 150 */
	FILE *f = fopen(a, "wb");
	cr_assert_not_null(f);
	uint32_t hdr[6] = {0xa1b2c3d4u, 2u | (4u << 16), 0, 0, 100, 1};
	fwrite(hdr, sizeof(hdr), 1, f);
	for (uint32_t i = 0; i < 10; i++) {
		uint32_t len = i == 5 ? 150 : 60;
		uint32_t rh[4] = {1000 + i, 5 * i, len, len};
		uint8_t b[150];
		memset(b, (int)i, sizeof(b));
		b[0] = 'h';
		fwrite(rh, sizeof(rh), 1, f);
		fwrite(b, len, 1, f);
	}
	fclose(f);
	struct seq want, got;
	libpcap_seq(a, NULL, &want);
	src_seq(a, NULL, &got);
	cr_expect_geq(want.n, 5);
	expect_same_seq(&got, &want);
	if (want.damaged) {
		char text[2048], off[64];
		stderr_text(text, sizeof(text));
		snprintf(off, sizeof(off), "input damaged at offset %d ", 24 + 5 * 76);
		cr_expect(strstr(text, off) != NULL, "%s", text);
	}
}

/* --filter on the records read in place: the packets libpcap's filter keeps */
Test(source, filter_applies_to_the_records_read_in_place)
{
	char a[300];
	snprintf(a, sizeof(a), "%s/g.pcap", dir);
	uint64_t ts[10];
	for (int i = 0; i < 10; i++)
		ts[i] = 1000000000ULL * (uint64_t)(i + 1) + 1234;
	write_pcap(a, 1, ts, 10, 'g');
	struct seq want, got;
	libpcap_seq(a, "ether[1] & 1 = 1", &want);
	src_seq(a, "ether[1] & 1 = 1", &got);
	cr_expect_eq(want.n, 5);
	expect_same_seq(&got, &want);
	libpcap_seq(a, NULL, &want);
	src_seq(a, NULL, &got);
	cr_expect_eq(want.n, 10);
	expect_same_seq(&got, &want);
}

/* ---- pcapng: several interfaces ------------------------------------------------ */

#define LT_ETHER 1
#define LT_RAW 101
#define LT_SLL 113
#define LT_USER0 147

/* An IPv4 TCP SYN (proto 6) or UDP datagram (17) from port sport to 25 or
 * 53, behind the link header of linktype; returns its length. */
static uint32_t
ip_packet(uint8_t *b, uint16_t linktype, uint8_t proto, uint16_t sport)
{
	size_t n = 0;
	memset(b, 0, 128);
	if (linktype == LT_ETHER) {
		static const uint8_t mac[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
		memcpy(b, mac, 12);
		b[12] = 0x08;
		n = 14;
	} else if (linktype == LT_SLL) {
		b[1] = 4; /* sent by us */
		b[3] = 1;
		b[5] = 6;
		b[14] = 0x08;
		n = 16;
	}
	uint16_t l4 = proto == 6 ? 20 : 8, tot = (uint16_t)(20 + l4);
	uint8_t *ip = b + n;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, (const uint8_t[]){192, 0, 2, 200}, 4);
	memcpy(ip + 16, (const uint8_t[]){192, 0, 2, 10}, 4);
	uint8_t *t = ip + 20;
	t[0] = (uint8_t)(sport >> 8);
	t[1] = (uint8_t)sport;
	t[3] = proto == 6 ? 25 : 53;
	if (proto == 6) {
		t[12] = 0x50;
		t[13] = 0x02;
		t[15] = 0xff;
	} else {
		t[5] = 8;
	}
	return (uint32_t)(n + tot);
}

/*
 * A pcapng file as dumpcap -i eth0 -i any -i tun0 -i usbmon0 writes it:
 * Ethernet (ns), Linux SLL (us, snaplen 65535), raw IP (us), and a link
 * type mxlag does not decode; on each a TCP SYN then a UDP datagram.
 */
static void
write_multi(const char *path)
{
	static const uint16_t lts[] = {LT_ETHER, LT_SLL, LT_RAW, LT_USER0};
	struct ngw w;
	uint8_t b[128];
	ngw_init(&w);
	ngw_shb(&w, 0);
	ngw_idb(&w, LT_ETHER, 262144, 9, NULL);
	ngw_idb(&w, LT_SLL, 65535, NGW_NO_TSRESOL, NULL);
	ngw_idb(&w, LT_RAW, 0, 6, NULL);
	ngw_idb(&w, LT_USER0, 0, 6, NULL);
	for (uint32_t i = 0; i < 8; i++) {
		uint32_t ifc = i / 2;
		uint32_t n = ip_packet(b, lts[ifc], i % 2 ? 17 : 6, (uint16_t)(40000 + i));
		uint64_t ts = ifc == 0 ? 1700000000000000000ull + i : 1700000000000000ull + i;
		ngw_epb(&w, ifc, ts, b, n, n);
	}
	cr_assert_eq(ngw_save(&w, path, SIZE_MAX), 0);
	ngw_free(&w);
}

Test(source, pcapng_interfaces_keep_their_link_types_and_decode)
{
	char a[300];
	snprintf(a, sizeof(a), "%s/multi.pcapng", dir);
	write_multi(a);
	const char *paths[] = {a};
	struct src *s;
	char err[256];
	cr_assert_eq(src_open_files(&s, paths, 1, NULL, err, sizeof(err)), 0, "%s", err);
	struct cap_stats st;
	memset(&st, 0, sizeof(st));
	struct decoder *d = decoder_new(NULL, &st);
	cr_assert_not_null(d);
	static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_RAW, DLT_USER0};
	struct pkt p;
	int i = 0, ok = 0;
	while (src_next(s, &p) == 1) {
		cr_assert_lt(i, 8);
		cr_expect_eq(p.dlt, dlts[i / 2], "packet %d: DLT %d", i, p.dlt);
		uint64_t want = i < 2 ? 1700000000000000000ull + (uint64_t)i
				      : 1700000000000000000ull + (uint64_t)i * 1000;
		cr_expect_eq(p.ts_ns, want, "packet %d", i);
		cr_expect_eq(p.origin, 0);
		struct decoded o;
		if (decode_packet(d, &p, &o) == DEC_OK) {
			ok++;
			cr_expect_eq(o.sport, 40000 + i, "packet %d", i);
			cr_expect_eq(o.l4proto, i % 2 ? 17 : 6, "packet %d", i);
		}
		i++;
	}
	cr_expect_eq(i, 8);
	cr_expect_eq(ok, 6, "every packet on a link type decode.c knows is decoded");
	cr_expect_eq(st.c[CNT_LINK_UNSUPPORTED], 2, "USER0 packets counted, not decoded");
	cr_expect_eq(st.c[CNT_LINK_ETHER], 2);
	cr_expect_eq(st.c[CNT_LINK_SLL], 2);
	cr_expect_eq(st.c[CNT_LINK_RAW], 2);
	cr_expect_eq(src_damaged(s), 0);
	cr_expect_gt(src_total_bytes(s), 0);
	cr_expect_eq(src_read_bytes(s), src_total_bytes(s));
	decoder_free(d);
	src_close(s);
}

Test(source, pcapng_and_pcap_files_merge_by_timestamp)
{
	char a[300], b[300];
	snprintf(a, sizeof(a), "%s/a.pcapng", dir);
	snprintf(b, sizeof(b), "%s/b.pcap", dir);
	struct ngw w;
	ngw_start(&w, 1, LT_SLL, 9);
	ngw_idb(&w, LT_ETHER, 0, 6, NULL);
	uint8_t pk[60] = {'a'};
	ngw_epb(&w, 0, 1000000000ull, pk, 60, 60);
	ngw_epb(&w, 1, 3000000ull, pk, 60, 60);
	ngw_spb(&w, pk, 60, 60);
	cr_assert_eq(ngw_save(&w, a, SIZE_MAX), 0);
	ngw_free(&w);
	uint64_t tb[] = {2000000000ULL, 3500000000ULL};
	write_pcap(b, 1, tb, 2, 'b');
	const char *paths[] = {a, b};
	struct src *s;
	char err[256];
	cr_assert_eq(src_open_files(&s, paths, 2, NULL, err, sizeof(err)), 0, "%s", err);
	static const struct {
		char tag;
		uint64_t ts;
		int dlt;
	} want[] = {{'a', 1000000000ull, DLT_LINUX_SLL},
		    {'b', 2000000000ull, DLT_EN10MB},
		    {'a', 3000000000ull, DLT_EN10MB},
		    {'a', 3000000000ull, DLT_LINUX_SLL}, /* SPB: last time, interface 0 */
		    {'b', 3500000000ull, DLT_EN10MB}};
	struct pkt p;
	int i = 0;
	while (src_next(s, &p) == 1) {
		cr_assert_lt(i, 5);
		cr_expect_eq(p.data[0], (uint8_t)want[i].tag, "packet %d", i);
		cr_expect_eq(p.ts_ns, want[i].ts, "packet %d", i);
		cr_expect_eq(p.dlt, want[i].dlt, "packet %d", i);
		cr_expect_eq(p.origin, want[i].tag == 'a' ? 0 : 1);
		i++;
	}
	cr_expect_eq(i, 5);
	src_close(s);
}

/* Reads stderr as redirected by Criterion into buf. */
static void
stderr_text(char *buf, size_t n)
{
	fflush(stderr);
	FILE *e = cr_get_redirected_stderr();
	size_t got = fread(buf, 1, n - 1, e);
	buf[got] = '\0';
}

static int
count_packets(struct src *s)
{
	struct pkt p;
	int n = 0;
	while (src_next(s, &p) == 1)
		n++;
	return n;
}

Test(source, damaged_pcapng_warns_with_the_block_offset, .init = setup_redirect)
{
	char a[300], text[2048];
	snprintf(a, sizeof(a), "%s/d.pcapng", dir);
	struct ngw w;
	uint8_t pk[40] = {0};
	ngw_start(&w, 0, LT_ETHER, 9);
	ngw_idb(&w, LT_SLL, 0, 9, NULL);
	ngw_epb(&w, 0, 1, pk, 40, 40);
	ngw_epb(&w, 1, 2, pk, 40, 40);
	size_t bad = ngw_epb(&w, 2, 3, pk, 40, 40);
	ngw_epb(&w, 0, 4, pk, 40, 40);
	cr_assert_eq(ngw_save(&w, a, SIZE_MAX), 0);
	ngw_free(&w);
	const char *paths[] = {a};
	struct src *s;
	char err[256], want[600];
	cr_assert_eq(src_open_files(&s, paths, 1, NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(count_packets(s), 2);
	cr_expect_eq(src_damaged(s), 1);
	src_close(s);
	stderr_text(text, sizeof(text));
	snprintf(want, sizeof(want),
		 "mxlag: %s: warning: input damaged at offset %zu (after 2 packets, which are "
		 "analyzed): a packet block names interface 2, but section 0 has 2 interfaces "
		 "before it\n",
		 a, bad);
	cr_expect_str_eq(text, want);
}

Test(source, damaged_pcapng_with_no_packet_before, .init = setup_redirect)
{
	char a[300], text[2048], want[600];
	snprintf(a, sizeof(a), "%s/e.pcapng", dir);
	struct ngw w;
	ngw_init(&w);
	ngw_shb(&w, 1);
	size_t bad = ngw_idb(&w, LT_ETHER, 0, 9, NULL);
	cr_assert_eq(ngw_save(&w, a, bad + 10), 0);
	ngw_free(&w);
	const char *paths[] = {a};
	struct src *s;
	char err[256];
	cr_assert_eq(src_open_files(&s, paths, 1, NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(count_packets(s), 0);
	cr_expect_eq(src_damaged(s), 1);
	src_close(s);
	stderr_text(text, sizeof(text));
	snprintf(want, sizeof(want),
		 "mxlag: %s: no packet could be read: input damaged at offset %zu: truncated "
		 "block: the file ends 10 bytes into a block of 32 bytes\n",
		 a, bad);
	cr_expect_str_eq(text, want);
}

/* A pcapng 2.0 section is well-formed: not called damaged. */
Test(source, unreadable_pcapng_section_is_not_called_damaged, .init = setup_redirect)
{
	char a[300], text[2048];
	snprintf(a, sizeof(a), "%s/v2.pcapng", dir);
	struct ngw w;
	uint8_t pk[40] = {0};
	ngw_start(&w, 0, LT_ETHER, 9);
	ngw_epb(&w, 0, 1, pk, 40, 40);
	size_t at = ngw_shb(&w, 0);
	ngw_set16(&w, at + 12, 2);
	cr_assert_eq(ngw_save(&w, a, SIZE_MAX), 0);
	ngw_free(&w);
	const char *paths[] = {a};
	struct src *s;
	char err[256];
	cr_assert_eq(src_open_files(&s, paths, 1, NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(count_packets(s), 1);
	src_close(s);
	stderr_text(text, sizeof(text));
	cr_expect(strstr(text, "damaged") == NULL, "%s", text);
	char want[128];
	snprintf(want, sizeof(want), "stopped at offset %zu (after 1 packets", at);
	cr_expect(strstr(text, want) != NULL, "%s", text);
	cr_expect(strstr(text, "section 1 is pcapng version 2.0") != NULL, "%s", text);
}

Test(source, filter_is_compiled_per_link_type_of_a_pcapng_file, .init = setup_redirect)
{
	char a[300], err[256], text[4096];
	snprintf(a, sizeof(a), "%s/f.pcapng", dir);
	write_multi(a);
	const char *paths[] = {a};
	struct src *s;
	struct pkt p;
	/* "tcp" on Ethernet, SLL and raw IP; USER0 cannot be filtered */
	cr_assert_eq(src_open_files(&s, paths, 1, "tcp", err, sizeof(err)), 0, "%s", err);
	static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_RAW};
	int n = 0;
	while (src_next(s, &p) == 1) {
		cr_assert_lt(n, 3);
		cr_expect_eq(p.dlt, dlts[n], "TCP packet %d", n);
		cr_expect_eq(p.data[p.caplen - 20 + 13], 0x02, "a SYN");
		n++;
	}
	cr_expect_eq(n, 3);
	cr_expect_eq(src_damaged(s), 0);
	src_close(s);
	/* an Ethernet-only filter: the other link types are skipped, saying so */
	cr_assert_eq(src_open_files(&s, paths, 1, "ether src 02:00:00:00:00:02", err, sizeof(err)),
		     0, "%s", err);
	n = 0;
	while (src_next(s, &p) == 1) {
		cr_expect_eq(p.dlt, DLT_EN10MB);
		n++;
	}
	cr_expect_eq(n, 2);
	src_close(s);
	stderr_text(text, sizeof(text));
	cr_expect(strstr(text, "interface 1 has link type 113 (LINUX_SLL), for which the filter "
			       "cannot be compiled") != NULL,
		  "%s", text);
	cr_expect(strstr(text, "interface 2 has link type 12 (RAW)") != NULL, "%s", text);
	cr_expect(strstr(text, "its packets are skipped") != NULL, "%s", text);
	/* a typo fails before anything is read, as for a pcap file */
	cr_expect_eq(src_open_files(&s, paths, 1, "tcp port banana", err, sizeof(err)), -1);
	cr_expect(strstr(err, "bad filter") != NULL && strstr(err, "f.pcapng") != NULL, "%s", err);
}

/* ---- standard input ------------------------------------------------------------- */

/* Makes standard input a pipe fed with the first n bytes of path by a child. */
static pid_t
stdin_from_pipe(const char *path, long n)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		FILE *in = fopen(path, "rb");
		char buf[8192];
		size_t r;
		long left = n;
		while (in && left > 0 && (r = fread(buf, 1, sizeof(buf), in)) > 0) {
			size_t k = (long)r < left ? r : (size_t)left;
			if (write(fds[1], buf, k) != (ssize_t)k)
				break;
			left -= (long)k;
		}
		_exit(0);
	}
	close(fds[1]);
	cr_assert_eq(dup2(fds[0], 0), 0);
	close(fds[0]);
	clearerr(stdin);
	return pid;
}

static int
packets_of(const char *path, char *err, size_t errlen)
{
	const char *paths[] = {path};
	struct src *s;
	if (src_open_files(&s, paths, 1, NULL, err, errlen) != 0)
		return -1;
	int n = count_packets(s);
	src_close(s);
	return n;
}

Test(source, standard_input_pipe_pcap_and_pcapng, .init = setup_redirect)
{
	char a[300], b[300], err[256], text[2048];
	snprintf(a, sizeof(a), "%s/p.pcap", dir);
	snprintf(b, sizeof(b), "%s/p.pcapng", dir);
	/* more than a pipe holds, so the reads block and resume */
	uint64_t ts[3000];
	for (int i = 0; i < 3000; i++)
		ts[i] = 1000000000ULL + (uint64_t)i * 1000;
	write_pcap(a, 0, ts, 3000, 'p');
	struct ngw w;
	uint8_t pk[100] = {'n'};
	ngw_start(&w, 0, LT_ETHER, 9);
	ngw_idb(&w, LT_SLL, 0, 6, NULL);
	for (uint32_t i = 0; i < 2000; i++)
		ngw_epb(&w, i % 2, i, pk, 100, 100);
	cr_assert_eq(ngw_save(&w, b, SIZE_MAX), 0);
	size_t ngsize = w.n;
	ngw_free(&w);

	pid_t pid = stdin_from_pipe(a, 1 << 30);
	cr_expect_eq(packets_of("-", err, sizeof(err)), 3000, "%s", err);
	waitpid(pid, NULL, 0);
	pid = stdin_from_pipe(b, 1 << 30);
	cr_expect_eq(packets_of("-", err, sizeof(err)), 2000, "%s", err);
	waitpid(pid, NULL, 0);
	/* damaged on a pipe: the offset is still named */
	pid = stdin_from_pipe(a, 24 + 100 * 76 + 30);
	cr_expect_eq(packets_of("-", err, sizeof(err)), 100, "%s", err);
	waitpid(pid, NULL, 0);
	pid = stdin_from_pipe(b, (long)ngsize - 1);
	cr_expect_eq(packets_of("-", err, sizeof(err)), 1999, "%s", err);
	waitpid(pid, NULL, 0);
	/* shorter than any magic */
	pid = stdin_from_pipe(a, 3);
	cr_expect_eq(packets_of("-", err, sizeof(err)), -1);
	cr_expect(strstr(err, "truncated") != NULL, "%s", err);
	waitpid(pid, NULL, 0);
	stderr_text(text, sizeof(text));
	char want[200];
	snprintf(want, sizeof(want), "mxlag: -: warning: input damaged at offset %d (after 100 ",
		 24 + 100 * 76);
	cr_expect(strstr(text, want) != NULL, "%s", text);
	snprintf(want, sizeof(want), "mxlag: -: warning: input damaged at offset %zu (after 1999 ",
		 ngsize - 132);
	cr_expect(strstr(text, want) != NULL, "%s", text);
}
