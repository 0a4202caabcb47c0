/*
 * test_multi_iface.c - pcapng files with several interfaces of different
 * link types, end to end: mail on one interface and the DNS lookups that
 * delayed it on another (what dumpcap -i eth0 -i any writes), analyzed by
 * the built binary against the generator's truth; real mergecap output of
 * generated captures; every packet cross-checked against tshark -r.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/e2e.h"
#include "../support/ngwriter.h"
#include "capture/pcapng.h"

#define LT_ETHER 1
#define LT_SLL 113

static char gen[512], bin[512];
static char *dir;

static void
setup(void)
{
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	e2e_bin("mxlag", bin, sizeof(bin));
	dir = e2e_tmpdir();
	cr_assert_not_null(dir);
}

static void
teardown(void)
{
	e2e_rmdir(dir);
}

TestSuite(multi_iface, .init = setup, .fini = teardown);

/* Generates scenario name with link type link into dir/name-link.pcap
 * (and its truth file when truth is not NULL). */
static void
generate(const char *name, const char *link, char *out, size_t outlen, const char *truth)
{
	char *msg = NULL, t[700] = "";
	snprintf(out, outlen, "%s/%s-%s.pcap", dir, name, link);
	if (truth)
		snprintf(t, sizeof(t), "--truth '%s'", truth);
	int rc = e2e_sh(&msg, "'%s' scenario %s --link %s -q -o '%s' %s 2>&1", gen, name, link, out,
			t);
	cr_assert_eq(rc, 0, "mxlag-gen %s: %s", name, msg ? msg : "");
	free(msg);
}

/* Which packets the capturing host saw on its second interface. */
typedef int (*second_fn)(const uint8_t *ip, size_t n);

/* UDP, over IPv4 or IPv6: the DNS lookups */
static int
is_udp(const uint8_t *ip, size_t n)
{
	if (n >= 20 && ip[0] >> 4 == 4)
		return ip[9] == 17;
	return n >= 40 && ip[0] >> 4 == 6 && ip[6] == 17;
}

/* to or from 127.0.0.1: what the loopback interface carries */
static int
is_loopback(const uint8_t *ip, size_t n)
{
	static const uint8_t lo[4] = {127, 0, 0, 1};
	return n >= 20 && ip[0] >> 4 == 4 && (!memcmp(ip + 12, lo, 4) || !memcmp(ip + 16, lo, 4));
}

/*
 * Writes out: the packets of the Ethernet capture eth on interface 0
 * ("eth0", nanoseconds, snaplen 262144), except those second() picks,
 * which come from the Linux SLL capture sll of the same scenario on
 * interface 1 ("any", microseconds, snaplen 65535).  Returns how many
 * went to interface 1.
 */
static int
merge_by_interface(const char *eth, const char *sll, second_fn second, const char *out)
{
	char perr[PCAP_ERRBUF_SIZE];
	pcap_t *pe = pcap_open_offline(eth, perr), *ps = pcap_open_offline(sll, perr);
	cr_assert(pe && ps, "%s", perr);
	cr_assert_eq(pcap_datalink(pe), DLT_EN10MB);
	cr_assert_eq(pcap_datalink(ps), DLT_LINUX_SLL);
	struct ngw w;
	ngw_init(&w);
	ngw_shb(&w, 0);
	ngw_idb(&w, LT_ETHER, 262144, 9, NULL);
	ngw_idb(&w, LT_SLL, 65535, NGW_NO_TSRESOL, NULL);
	struct pcap_pkthdr *he, *hs;
	const u_char *de, *ds;
	int on_second = 0, n = 0;
	while (pcap_next_ex(pe, &he, &de) == 1) {
		cr_assert_eq(pcap_next_ex(ps, &hs, &ds), 1, "the SLL copy has packet %d", n);
		cr_assert(he->ts.tv_sec == hs->ts.tv_sec && he->ts.tv_usec == hs->ts.tv_usec,
			  "packet %d: the copies differ in time", n);
		uint64_t us = (uint64_t)he->ts.tv_sec * 1000000u + (uint64_t)he->ts.tv_usec;
		cr_assert_gt(he->caplen, 14);
		if (second(de + 14, he->caplen - 14)) {
			ngw_epb(&w, 1, us, ds, hs->caplen, hs->len);
			on_second++;
		} else {
			ngw_epb(&w, 0, us * 1000, de, he->caplen, he->len);
		}
		n++;
	}
	cr_assert_neq(pcap_next_ex(ps, &hs, &ds), 1, "the SLL copy has more packets");
	pcap_close(pe);
	pcap_close(ps);
	cr_assert_eq(ngw_save(&w, out, SIZE_MAX), 0);
	ngw_free(&w);
	cr_assert_gt(on_second, 0);
	cr_assert_lt(on_second, n);
	return on_second;
}

/* mxlag's counters for the file: both link types were decoded. */
static void
expect_both_links(const char *pcapng)
{
	char *out = NULL;
	cr_assert_eq(e2e_sh(&out, "'%s' analyze --no-db '%s' 2>&1", bin, pcapng), 0, "%s", out);
	cr_expect(strstr(out, "link.ethernet") != NULL, "%s", out);
	cr_expect(strstr(out, "link.linux_sll") != NULL, "%s", out);
	cr_expect(strstr(out, "damaged") == NULL && strstr(out, "link.unsupported") == NULL, "%s",
		  out);
	free(out);
}

/*
 * tshark -r: interface, time and lengths of every packet, against our
 * reader.  Skipped (0) when tshark is not installed.
 */
static int
tshark_agrees(const char *path)
{
	if (e2e_sh(NULL, "command -v tshark >/dev/null 2>&1") != 0)
		return 0;
	char *ts = NULL;
	cr_assert_eq(e2e_sh(&ts,
			    "tshark -r '%s' -T fields -e frame.interface_id -e frame.time_epoch "
			    "-e frame.cap_len -e frame.len 2>/dev/null",
			    path),
		     0);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f);
	struct pcapng *r = pcapng_new(f, NULL, 0);
	struct pcapng_packet k;
	char *line = ts, *save = NULL;
	int n = 0;
	while (pcapng_next(r, &k) == 1) {
		char mine[128];
		snprintf(mine, sizeof(mine), "%" PRIu32 "\t%" PRIu64 ".%09" PRIu64 "\t%" PRIu32 "\t%" PRIu32,
			 k.iface->id, k.ts_ns / 1000000000u, k.ts_ns % 1000000000u, k.caplen,
			 k.wirelen);
		char *t = strtok_r(n ? NULL : line, "\n", &save);
		cr_assert_not_null(t, "%s: tshark has fewer packets than %d", path, n + 1);
		cr_expect_str_eq(mine, t, "%s: packet %d", path, n + 1);
		n++;
	}
	cr_expect_eq(pcapng_stop(r), 0, "%s: %s", path, pcapng_error(r));
	cr_expect_null(strtok_r(n ? NULL : line, "\n", &save), "%s: tshark has more packets",
		       path);
	pcapng_free(r);
	fclose(f);
	free(ts);
	return n;
}

/*
 * Scenario name with the packets second() picks on a Linux SLL interface,
 * the others on Ethernet, in one pcapng file: both link types decoded,
 * the generator's truth holds, tshark reads the same packets.
 */
static void
split_scenario(const char *name, second_fn second)
{
	char eth[600], sll[600], truth[600], merged[600];
	snprintf(truth, sizeof(truth), "%s/%s.truth.json", dir, name);
	snprintf(merged, sizeof(merged), "%s/%s.pcapng", dir, name);
	generate(name, "ethernet", eth, sizeof(eth), truth);
	generate(name, "sll", sll, sizeof(sll), NULL);
	int on_second = merge_by_interface(eth, sll, second, merged);
	expect_both_links(merged);
	cr_expect_eq(e2e_check_truth(merged, truth, dir), 0);
	int n = tshark_agrees(merged);
	cr_log_info("%s: %d packets on interface 1; tshark cross-check: %d packets", name,
		    on_second, n);
}

Test(multi_iface, mail_on_ethernet_dns_on_linux_sll)
{
	split_scenario("ptr-timeout", is_udp);
}

/* the query to 127.0.0.1 on "lo", the resolver's upstream queries on eth0 */
Test(multi_iface, local_resolver_on_the_loopback_interface)
{
	split_scenario("local-resolver-chain", is_loopback);
}

/* What libpcap 1.10 refused ("input damaged at offset 156"): mergecap's
 * output of captures with different link types. */
Test(multi_iface, mergecap_output_of_generated_captures)
{
	if (e2e_sh(NULL, "command -v mergecap >/dev/null 2>&1") != 0)
		cr_skip_test("mergecap not installed (apt-get install wireshark-common)");
	char a[600], b[600], ta[600], tb[600], merged[600], da[600], db[600];
	snprintf(ta, sizeof(ta), "%s/a.truth.json", dir);
	snprintf(tb, sizeof(tb), "%s/b.truth.json", dir);
	snprintf(merged, sizeof(merged), "%s/merged.pcapng", dir);
	generate("ptr-timeout", "sll", a, sizeof(a), ta);
	generate("ipv6", "ethernet", b, sizeof(b), tb);
	cr_assert_eq(e2e_sh(NULL, "mergecap -w '%s' '%s' '%s'", merged, a, b), 0);
	expect_both_links(merged);
	/* one database each, as a second analyze of the same file is refused */
	snprintf(da, sizeof(da), "%s/a", dir);
	snprintf(db, sizeof(db), "%s/b", dir);
	cr_assert_eq(e2e_sh(NULL, "mkdir '%s' '%s'", da, db), 0);
	cr_expect_eq(e2e_check_truth(merged, ta, da), 0);
	cr_expect_eq(e2e_check_truth(merged, tb, db), 0);
	tshark_agrees(merged);
}
