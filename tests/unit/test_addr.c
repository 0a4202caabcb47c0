/* test_addr.c - address parsing, formatting, comparison, hashing. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <arpa/inet.h>
#include <string.h>

#include "capture/addr.h"
#include "capture/bview.h"
#include "capture/stats.h"

/* by value: Criterion runs each case in a fresh process, so no pointers */
struct rt {
	char in[48];
	int family;
	char out[48];
};

ParameterizedTestParameters(addr, roundtrip)
{
	static struct rt cases[] = {
		{"192.0.2.200", 4, "192.0.2.200"},
		{"2001:db8::10", 6, "2001:db8::10"},
		{"2001:0db8:0000:0000:0000:0000:0000:0010", 6, "2001:db8::10"},
		{"::1", 6, "::1"},
		{"0.0.0.0", 4, "0.0.0.0"},
		{"256.1.1.1", 0, ""},
		{"example.org", 0, ""},
		{"", 0, ""},
		{"1.2.3", 0, ""},
	};
	return cr_make_param_array(struct rt, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct rt *c, addr, roundtrip)
{
	struct mx_addr a;
	char buf[MX_ADDRSTRLEN];
	bool ok = mx_addr_parse(c->in, &a);
	cr_expect_eq(ok, c->family != 0, "%s", c->in);
	if (!ok)
		return;
	cr_expect_eq(a.family, c->family);
	cr_expect_str_eq(mx_addr_fmt(&a, buf, sizeof(buf)), c->out);
}

/* the hand-written IPv4 formatter against the C library's */
Test(addr, ipv4_format_matches_inet_ntop)
{
	struct mx_addr a = {.family = 4};
	char ours[MX_ADDRSTRLEN], libc[INET_ADDRSTRLEN];
	for (unsigned v = 0; v < 256; v++) {
		for (int pos = 0; pos < 4; pos++) {
			memset(a.a, 0, sizeof(a.a));
			a.a[pos] = (uint8_t)v;
			a.a[(pos + 1) % 4] = (uint8_t)(255 - v);
			inet_ntop(AF_INET, a.a, libc, sizeof(libc));
			cr_assert_str_eq(mx_addr_fmt(&a, ours, sizeof(ours)), libc);
		}
	}
	char small[12]; /* too small for 255.255.255.255: still terminated, never overrun */
	memset(a.a, 255, 4);
	mx_addr_fmt(&a, small, sizeof(small));
	cr_expect_lt(strlen(small), sizeof(small));
}

Test(addr, equality_hash_and_loopback)
{
	struct mx_addr a, b, l4, l6;
	cr_assert(mx_addr_parse("192.0.2.1", &a));
	cr_assert(mx_addr_parse("192.0.2.1", &b));
	cr_expect(mx_addr_eq(&a, &b));
	cr_expect_eq(mx_addr_hash(&a), mx_addr_hash(&b));
	cr_assert(mx_addr_parse("192.0.2.2", &b));
	cr_expect_not(mx_addr_eq(&a, &b));
	cr_assert(mx_addr_parse("127.0.0.53", &l4));
	cr_assert(mx_addr_parse("::1", &l6));
	cr_expect(mx_addr_is_loopback(&l4));
	cr_expect(mx_addr_is_loopback(&l6));
	cr_expect_not(mx_addr_is_loopback(&a));
	struct mx_endpoint e1 = {a, 25}, e2 = {a, 26};
	cr_expect_not(mx_ep_eq(&e1, &e2));
	char tiny[4];
	mx_addr_fmt(&a, tiny, sizeof(tiny));
	cr_expect_lt(strlen(tiny), sizeof(tiny), "always terminated");
}

Test(bview, checked_reads_never_pass_the_end)
{
	const uint8_t b[] = {1, 2, 3, 4, 5};
	struct bview v = bv_make(b, sizeof(b));
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	cr_expect(bv_u8(v, 4, &u8) && u8 == 5);
	cr_expect_not(bv_u8(v, 5, &u8));
	cr_expect(bv_be16(v, 3, &u16) && u16 == 0x0405);
	cr_expect_not(bv_be16(v, 4, &u16));
	cr_expect(bv_le16(v, 0, &u16) && u16 == 0x0201);
	cr_expect(bv_be32(v, 1, &u32) && u32 == 0x02030405);
	cr_expect_not(bv_be32(v, 2, &u32));
	cr_expect(bv_le32(v, 0, &u32) && u32 == 0x04030201);
	cr_expect_not(bv_has(v, SIZE_MAX, 2), "overflow-safe");
	cr_expect_not(bv_has(v, 2, SIZE_MAX));
	struct bview s = bv_sub(v, 3, 100);
	cr_expect_eq(s.len, 2);
	cr_expect_eq(bv_sub(v, 9, 1).len, 0);
	cr_expect_eq(bv_tail(v, 5).len, 0);
	cr_expect_eq(bv_make(NULL, 10).len, 0);
}

Test(stats, names_and_printing)
{
	struct cap_stats st;
	memset(&st, 0, sizeof(st));
	CAP_COUNT(&st, PACKETS);
	CAP_ADD(&st, TCP_GAP_BYTES, 42);
	cr_expect_str_eq(cap_counter_name(CNT_PACKETS), "packets");
	cr_expect_str_eq(cap_counter_name(CNT__N), "?");
	char buf[4096] = "";
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	cap_stats_print(&st, f, "  ");
	fclose(f);
	cr_expect(strstr(buf, "packets") != NULL);
	cr_expect(strstr(buf, "tcp.gap_bytes") != NULL && strstr(buf, "42") != NULL);
	cr_expect(strstr(buf, "tcp.flows ") == NULL, "zero counters are not printed");
}
