/*
 * test_source.c - offline sources: several files merged by timestamp,
 * microsecond and nanosecond files, damaged files, unreadable files.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
