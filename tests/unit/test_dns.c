/* test_dns.c - DNS message parser, name helpers, query/response tracker. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analyze/dns.h"
#include "../support/guardbuf.h"

#define SEC 1000000000ULL

/* ---- a tiny DNS message builder ---------------------------------------- */

struct mb {
	uint8_t b[2048];
	size_t n;
};

static void
u8(struct mb *m, unsigned v)
{
	m->b[m->n++] = (uint8_t)v;
}

static void
u16(struct mb *m, unsigned v)
{
	u8(m, v >> 8);
	u8(m, v);
}

static void
u32(struct mb *m, uint32_t v)
{
	u16(m, v >> 16);
	u16(m, v & 0xffff);
}

static void
hdr(struct mb *m, unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns, unsigned ar)
{
	m->n = 0;
	u16(m, id);
	u16(m, flags);
	u16(m, qd);
	u16(m, an);
	u16(m, ns);
	u16(m, ar);
}

/* labels of a dotted name, no terminator */
static void
labels(struct mb *m, const char *name)
{
	while (*name) {
		const char *d = strchr(name, '.');
		size_t l = d ? (size_t)(d - name) : strlen(name);
		u8(m, (unsigned)l);
		memcpy(m->b + m->n, name, l);
		m->n += l;
		name += l;
		if (*name == '.')
			name++;
	}
}

static void
name(struct mb *m, const char *s)
{
	if (strcmp(s, ".") != 0)
		labels(m, s);
	u8(m, 0);
}

static void
ptr(struct mb *m, unsigned off)
{
	u16(m, 0xc000 | off);
}

static void
question(struct mb *m, const char *q, unsigned type)
{
	name(m, q);
	u16(m, type);
	u16(m, 1);
}

/* RR header with owner = pointer to the question name (offset 12) */
static size_t
rr_hdr(struct mb *m, unsigned type, uint32_t ttl)
{
	ptr(m, 12);
	u16(m, type);
	u16(m, 1);
	u32(m, ttl);
	size_t at = m->n;
	u16(m, 0); /* rdlength, patched */
	return at;
}

static void
rr_end(struct mb *m, size_t at)
{
	size_t l = m->n - at - 2;
	m->b[at] = (uint8_t)(l >> 8);
	m->b[at + 1] = (uint8_t)l;
}

static void
opt_rr(struct mb *m, unsigned udp, unsigned ext_rcode)
{
	u8(m, 0);
	u16(m, DNS_T_OPT);
	u16(m, udp);
	u32(m, (uint32_t)ext_rcode << 24);
	u16(m, 0);
}

/* ---- the messages used throughout -------------------------------------- */

static void
ptr_query(struct mb *m, unsigned id)
{
	hdr(m, id, 0x0100, 1, 0, 0, 0);
	question(m, "200.2.0.192.in-addr.arpa", DNS_T_PTR);
}

static void
ptr_response(struct mb *m, unsigned id, unsigned rcode)
{
	hdr(m, id, 0x8180 | rcode, 1, rcode == 0 ? 1 : 0, 0, 0);
	question(m, "200.2.0.192.IN-ADDR.arpa", DNS_T_PTR);
	if (rcode == 0) {
		size_t at = rr_hdr(m, DNS_T_PTR, 3600);
		name(m, "Host.Example.ORG");
		rr_end(m, at);
	}
}

/* MX example.com: 10 mail.example.com (compressed into the question), 20 MX2.example.net */
static void
mx_response(struct mb *m)
{
	hdr(m, 0x4242, 0x8180, 1, 2, 0, 0);
	question(m, "example.com", DNS_T_MX);
	size_t at = rr_hdr(m, DNS_T_MX, 60);
	u16(m, 10);
	labels(m, "mail");
	ptr(m, 12);
	rr_end(m, at);
	at = rr_hdr(m, DNS_T_MX, 60);
	u16(m, 20);
	name(m, "MX2.example.net");
	rr_end(m, at);
}

/* www.example.com A: CNAME web.example.net, A 192.0.2.1 (owner compressed) */
static void
cname_response(struct mb *m)
{
	hdr(m, 7, 0x8180, 1, 2, 0, 1);
	question(m, "www.example.com", DNS_T_A);
	size_t at = rr_hdr(m, DNS_T_CNAME, 60);
	size_t target = m->n;
	name(m, "web.example.net");
	rr_end(m, at);
	ptr(m, (unsigned)target);
	u16(m, DNS_T_A);
	u16(m, 1);
	u32(m, 60);
	u16(m, 4);
	u8(m, 192);
	u8(m, 0);
	u8(m, 2);
	u8(m, 1);
	opt_rr(m, 1232, 0);
}

static void
txt_aaaa_other_response(struct mb *m)
{
	hdr(m, 9, 0x8180, 1, 4, 0, 0);
	question(m, "example.com", DNS_T_ANY);
	size_t at = rr_hdr(m, DNS_T_TXT, 60);
	const char *spf =
	    "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 include:_spf.example.net ~all";
	u8(m, (unsigned)strlen(spf));
	memcpy(m->b + m->n, spf, strlen(spf));
	m->n += strlen(spf);
	rr_end(m, at);
	at = rr_hdr(m, DNS_T_AAAA, 60);
	static const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	memcpy(m->b + m->n, a6, 16);
	m->n += 16;
	rr_end(m, at);
	at = rr_hdr(m, 999, 60);
	u16(m, 0xabcd);
	rr_end(m, at);
	at = rr_hdr(m, DNS_T_SOA, 60);
	name(m, "ns.example.com");
	name(m, "hostmaster.example.com");
	for (int i = 0; i < 5; i++)
		u32(m, 1);
	rr_end(m, at);
}

static int
parse(const struct mb *m, struct dns_msg *out)
{
	uint8_t *g = guardbuf_new(m->b, m->n);
	cr_assert_not_null(g);
	int rc = dns_parse(g, m->n, out);
	guardbuf_free(g, m->n);
	return rc;
}

/* ---- parser -------------------------------------------------------------- */

Test(dns_parse, ptr_query)
{
	struct mb m;
	struct dns_msg d;
	ptr_query(&m, 0x1234);
	cr_assert_eq(parse(&m, &d), 0);
	cr_expect_eq(d.id, 0x1234);
	cr_expect(!d.qr);
	cr_expect_eq(d.opcode, 0);
	cr_expect_eq(d.rcode, 0);
	cr_expect(d.has_question && d.question_ok);
	cr_expect_str_eq(d.qname, "200.2.0.192.in-addr.arpa");
	cr_expect_eq(d.qtype, DNS_T_PTR);
	cr_expect_eq(d.qclass, 1);
	cr_expect_eq(d.n_answers, 0);
	cr_expect_str_eq(d.answers, "");
}

Test(dns_parse, ptr_response_lowercased)
{
	struct mb m;
	struct dns_msg d;
	ptr_response(&m, 0x1234, 0);
	cr_assert_eq(parse(&m, &d), 0);
	cr_expect(d.qr);
	cr_expect_str_eq(d.qname, "200.2.0.192.in-addr.arpa");
	cr_expect_eq(d.n_answers, 1);
	cr_expect_eq(d.n_match, 1);
	cr_expect_str_eq(d.answers, "host.example.org");
}

Test(dns_parse, mx_with_compression)
{
	struct mb m;
	struct dns_msg d;
	mx_response(&m);
	cr_assert_eq(parse(&m, &d), 0);
	cr_expect_str_eq(d.qname, "example.com");
	cr_expect_eq(d.qtype, DNS_T_MX);
	cr_expect_str_eq(d.answers, "10 mail.example.com,20 mx2.example.net");
}

Test(dns_parse, cname_chain_and_edns)
{
	struct mb m;
	struct dns_msg d;
	cname_response(&m);
	cr_assert_eq(parse(&m, &d), 0);
	cr_expect_str_eq(d.answers, "web.example.net,192.0.2.1");
	cr_expect_eq(d.n_match, 2);
	cr_expect(d.edns);
	cr_expect_eq(d.edns_udp_size, 1232);
	cr_expect_eq(d.rcode, 0);
}

Test(dns_parse, txt_aaaa_unknown_soa)
{
	struct mb m;
	struct dns_msg d;
	txt_aaaa_other_response(&m);
	cr_assert_eq(parse(&m, &d), 0);
	/* the TXT text is cut at 60 characters, and says so */
	cr_expect_str_eq(d.answers, "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 include:_spf.exa...,"
	                            "2001:db8::1,TYPE999,SOA");
	cr_expect_eq(d.n_match, 4); /* ANY */
}

Test(dns_parse, extended_rcode)
{
	struct mb m;
	struct dns_msg d;
	hdr(&m, 1, 0x8180, 1, 0, 0, 1);
	question(&m, "example.com", DNS_T_A);
	opt_rr(&m, 4096, 1); /* BADVERS = 16 */
	cr_assert_eq(parse(&m, &d), 0);
	cr_expect(d.edns);
	cr_expect_eq(d.edns_udp_size, 4096);
	cr_expect_eq(d.rcode, 16);
}

Test(dns_parse, rcodes_tc_opcode)
{
	struct mb m;
	struct dns_msg d;
	ptr_response(&m, 1, 3);
	cr_assert_eq(parse(&m, &d), 0);
	cr_expect_eq(d.rcode, 3);
	hdr(&m, 1, 0x8380, 1, 0, 0, 0); /* TC */
	question(&m, "example.com", DNS_T_TXT);
	cr_assert_eq(parse(&m, &d), 0);
	cr_expect(d.tc);
	hdr(&m, 1, 0x2800, 1, 0, 0, 0); /* opcode 5 UPDATE */
	question(&m, "example.com", DNS_T_SOA);
	cr_assert_eq(parse(&m, &d), 0);
	cr_expect_eq(d.opcode, 5);
}

Test(dns_parse, root_and_unknown_qtype)
{
	struct mb m;
	struct dns_msg d;
	hdr(&m, 1, 0, 1, 0, 0, 0);
	question(&m, ".", 65280);
	cr_assert_eq(parse(&m, &d), 0);
	cr_expect_str_eq(d.qname, ".");
	cr_expect_eq(d.qtype, 65280);
	char buf[12];
	cr_expect_str_eq(mx_qtype_str(d.qtype, buf, sizeof(buf)), "TYPE65280");
}

Test(dns_parse, escapes)
{
	struct mb m;
	struct dns_msg d;
	hdr(&m, 1, 0, 1, 0, 0, 0);
	u8(&m, 5);
	memcpy(m.b + m.n, "a.b \x01", 5);
	m.n += 5;
	name(&m, "Com");
	u16(&m, 1);
	u16(&m, 1);
	cr_assert_eq(parse(&m, &d), 0);
	cr_expect_str_eq(d.qname, "a\\046b\\032\\001.com");
}

/* The text dns_read_name() gives octet c of a label (the reference for below). */
static size_t
ref_octet(uint8_t c, char out[5])
{
	if (c > 0x20 && c < 0x7f && c != '\\' && c != ',' && c != '.' && c != '"') {
		out[0] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		return 1;
	}
	return (size_t)snprintf(out, 5, "\\%03u", c);
}

/*
 * Every octet value in labels, read into buffers of every size: the text is
 * the longest run of whole items (an octet's text, a label's dot) that fits
 * with its NUL, cut says whether something was left out, and nothing is
 * written past the NUL.
 */
Test(dns_parse, every_octet_into_every_buffer_size)
{
	for (int half = 0; half < 2; half++) {
		uint8_t wire[300];
		char want[1200], buf[1200];
		size_t wn = 0, tn = 0, ends[600], ni = 0; /* ends: text length after each item */
		for (int c = half * 128, left = 128; left > 0;) {
			uint8_t len = left > 63 ? 63 : (uint8_t)left;
			wire[wn++] = len;
			if (tn) {
				want[tn++] = '.';
				ends[ni++] = tn;
			}
			for (int i = 0; i < len; i++, c++) {
				wire[wn++] = (uint8_t)c;
				tn += ref_octet((uint8_t)c, want + tn);
				ends[ni++] = tn;
			}
			left -= len;
		}
		wire[wn++] = 0;
		want[tn] = '\0';
		for (size_t cap = 0; cap <= tn + 1; cap++) {
			size_t next = 0;
			bool cut = false;
			memset(buf, 'X', sizeof(buf));
			cr_assert(dns_read_name(wire, wn, 0, buf, cap, &next, &cut), "cap %zu", cap);
			cr_assert_eq(next, wn);
			cr_assert_eq(cut, cap <= tn, "cap %zu", cap);
			if (cap == 0) {
				cr_assert_eq(buf[0], 'X', "nothing written into no room");
				continue;
			}
			size_t fit = 0;
			for (size_t k = 0; k < ni && ends[k] + 1 <= cap; k++)
				fit = ends[k];
			cr_assert_eq(strlen(buf), fit, "cap %zu: %zu bytes", cap, strlen(buf));
			cr_assert_eq(memcmp(buf, want, fit), 0, "cap %zu", cap);
			if (fit + 1 < cap)
				cr_assert_eq(buf[fit + 1], 'X', "cap %zu: written past the NUL", cap);
		}
		cr_assert_str_eq(buf, want);
	}
}

Test(dns_parse, no_question)
{
	struct mb m;
	struct dns_msg d;
	hdr(&m, 1, 0x8181, 0, 0, 0, 0);
	cr_assert_eq(parse(&m, &d), 0);
	cr_expect(!d.has_question);
	cr_expect_eq(d.rcode, 1);
}

Test(dns_parse, pointer_loops_and_forward_pointers)
{
	struct mb m;
	struct dns_msg d;
	/* question name is a pointer to itself */
	hdr(&m, 1, 0, 1, 0, 0, 0);
	ptr(&m, 12);
	u16(&m, 1);
	u16(&m, 1);
	cr_expect_eq(parse(&m, &d), -1);
	cr_expect(!d.question_ok);
	/* forward pointer */
	hdr(&m, 1, 0, 1, 0, 0, 0);
	ptr(&m, 18);
	u16(&m, 1);
	u16(&m, 1);
	name(&m, "a");
	cr_expect_eq(parse(&m, &d), -1);
	/* answer owner: label then a pointer back into its own label */
	hdr(&m, 1, 0x8180, 1, 1, 0, 0);
	question(&m, "a", 1);
	size_t own = m.n;
	labels(&m, "x");
	ptr(&m, (unsigned)own);
	u16(&m, 1);
	u16(&m, 1);
	u32(&m, 1);
	u16(&m, 4);
	u32(&m, 0x01020304);
	cr_expect_eq(parse(&m, &d), -1);
	cr_expect(d.question_ok);
	/* two pointers bouncing between each other, both "backwards" from their
	 * own position: 12: "b" -> ptr 17; 17: ptr 12 */
	hdr(&m, 1, 0x8180, 1, 1, 0, 0);
	question(&m, "a", 1);
	size_t p1 = m.n;
	labels(&m, "b");
	ptr(&m, (unsigned)p1 + 4);
	ptr(&m, (unsigned)p1);
	u16(&m, 1);
	u16(&m, 1);
	u32(&m, 1);
	u16(&m, 0);
	cr_expect_eq(parse(&m, &d), -1);
	/* a valid chain of backwards pointers still works */
	hdr(&m, 1, 0x8180, 1, 1, 0, 0);
	question(&m, "example.com", 5);
	size_t at = rr_hdr(&m, DNS_T_CNAME, 1);
	size_t t1 = m.n;
	labels(&m, "www");
	ptr(&m, 12);
	rr_end(&m, at);
	cr_expect_eq(parse(&m, &d), 0);
	cr_expect_str_eq(d.answers, "www.example.com");
	(void)t1;
}

static void
long_name(struct mb *m, int n63, int last)
{
	hdr(m, 1, 0, 1, 0, 0, 0);
	for (int i = 0; i < n63; i++) {
		u8(m, 63);
		memset(m->b + m->n, 'a' + i, 63);
		m->n += 63;
	}
	if (last) {
		u8(m, (unsigned)last);
		memset(m->b + m->n, 'z', (size_t)last);
		m->n += (size_t)last;
	}
	u8(m, 0);
	u16(m, 1);
	u16(m, 1);
}

Test(dns_parse, name_length_limits)
{
	struct mb m;
	struct dns_msg d;
	long_name(&m, 3, 61); /* 3*64 + 62 + 1 = 255 octets: the maximum */
	cr_expect_eq(parse(&m, &d), 0);
	cr_expect_eq(strlen(d.qname), 63 * 3 + 61 + 3);
	long_name(&m, 3, 62); /* 256 */
	cr_expect_eq(parse(&m, &d), -1);
	long_name(&m, 4, 0); /* 257 */
	cr_expect_eq(parse(&m, &d), -1);
	/* the same limit through compression pointers */
	hdr(&m, 1, 0x8180, 1, 1, 0, 0);
	for (int i = 0; i < 3; i++) {
		u8(&m, 63);
		memset(m.b + m.n, 'a', 63);
		m.n += 63;
	}
	u8(&m, 0);
	u16(&m, 1);
	u16(&m, 1);
	u8(&m, 63); /* owner: one more 63-octet label + pointer to the 193-octet name */
	memset(m.b + m.n, 'b', 63);
	m.n += 63;
	ptr(&m, 12);
	u16(&m, 1);
	u16(&m, 1);
	u32(&m, 1);
	u16(&m, 0);
	cr_expect_eq(parse(&m, &d), -1);
	cr_expect(d.question_ok);
}

Test(dns_parse, label_types)
{
	struct mb m;
	struct dns_msg d;
	for (unsigned lt = 0x40; lt <= 0x80; lt += 0x40) {
		hdr(&m, 1, 0, 1, 0, 0, 0);
		u8(&m, lt | 1);
		u8(&m, 'a');
		u8(&m, 0);
		u16(&m, 1);
		u16(&m, 1);
		cr_expect_eq(parse(&m, &d), -1, "label type %#x", lt);
	}
}

Test(dns_parse, bad_rdata)
{
	struct mb m;
	struct dns_msg d;
	/* rdlength past the end */
	hdr(&m, 1, 0x8180, 1, 1, 0, 0);
	question(&m, "a", 1);
	ptr(&m, 12);
	u16(&m, 1);
	u16(&m, 1);
	u32(&m, 1);
	u16(&m, 5);
	u32(&m, 0x01020304);
	cr_expect_eq(parse(&m, &d), -1);
	/* PTR target running past its rdlength */
	hdr(&m, 1, 0x8180, 1, 1, 0, 0);
	question(&m, "a", DNS_T_PTR);
	size_t at = rr_hdr(&m, DNS_T_PTR, 1);
	name(&m, "x.y");
	rr_end(&m, at);
	m.b[at + 1] = 2;
	u16(&m, 0);
	cr_expect_eq(parse(&m, &d), -1);
	/* TXT string longer than the rdata */
	hdr(&m, 1, 0x8180, 1, 1, 0, 0);
	question(&m, "a", DNS_T_TXT);
	at = rr_hdr(&m, DNS_T_TXT, 1);
	u8(&m, 10);
	u8(&m, 'x');
	rr_end(&m, at);
	cr_expect_eq(parse(&m, &d), -1);
	/* A with a wrong rdlength is only summarised by type */
	hdr(&m, 1, 0x8180, 1, 1, 0, 0);
	question(&m, "a", DNS_T_A);
	at = rr_hdr(&m, DNS_T_A, 1);
	u16(&m, 1);
	rr_end(&m, at);
	cr_expect_eq(parse(&m, &d), 0);
	cr_expect_str_eq(d.answers, "A");
}

Test(dns_parse, summary_cut)
{
	struct mb m;
	struct dns_msg d;
	hdr(&m, 1, 0x8180, 1, 60, 0, 0);
	question(&m, "many.example", DNS_T_A);
	for (int i = 0; i < 60; i++) {
		size_t at = rr_hdr(&m, DNS_T_A, 1);
		u32(&m, 0xc0000200u + (uint32_t)i + 100);
		rr_end(&m, at);
	}
	cr_assert_eq(parse(&m, &d), 0);
	cr_expect(d.answers_cut);
	cr_expect_lt(strlen(d.answers), sizeof(d.answers));
	/* 41 addresses of 11 characters fit before the room kept for the
	   marker, which says how many answers are not shown */
	const char *mark = strstr(d.answers, ",...");
	cr_assert_not_null(mark);
	cr_expect_str_eq(mark, ",... (19 more)");
	cr_expect_eq(mark - d.answers, 41 * 12 - 1);
	cr_expect(strncmp(mark - 11, "192.0.2.140", 11) == 0);
	cr_expect_eq(d.n_answers, 60);
}

/* a long item that fits, and one that does not: the count says so */
Test(dns_parse, summary_cut_long_item)
{
	struct mb m;
	struct dns_msg d;
	hdr(&m, 1, 0x8180, 1, 3, 0, 0);
	question(&m, "long.example", DNS_T_CNAME);
	/* CNAME targets of 2 labels of 50 octets 0x01: 401 characters each
	   (\001); the second does not fit after the first */
	for (int r = 0; r < 3; r++) {
		size_t at = rr_hdr(&m, DNS_T_CNAME, 1);
		for (int i = 0; i < 2; i++) {
			u8(&m, 50);
			memset(m.b + m.n, 1, 50);
			m.n += 50;
		}
		u8(&m, 0);
		rr_end(&m, at);
	}
	cr_assert_eq(parse(&m, &d), 0);
	cr_expect(d.answers_cut);
	cr_expect_eq(strlen(d.answers), 401 + strlen(",... (2 more)"));
	cr_expect_str_eq(d.answers + 401, ",... (2 more)");
	cr_expect_eq(d.n_answers, 3);
}

typedef void (*builder)(struct mb *m);
static void
b_ptrq(struct mb *m)
{
	ptr_query(m, 7);
}
static void
b_ptrr(struct mb *m)
{
	ptr_response(m, 7, 0);
}

Test(dns_parse, every_prefix_fails_cleanly)
{
	builder bs[] = {b_ptrq, b_ptrr, mx_response, cname_response, txt_aaaa_other_response};
	for (size_t b = 0; b < sizeof(bs) / sizeof(bs[0]); b++) {
		struct mb m;
		struct dns_msg d;
		bs[b](&m);
		cr_assert_eq(parse(&m, &d), 0);
		for (size_t k = 0; k < m.n; k++) {
			uint8_t *g = guardbuf_new(m.b, k);
			cr_assert_not_null(g);
			cr_expect_eq(dns_parse(g, k, &d), -1, "builder %zu prefix %zu", b, k);
			guardbuf_free(g, k);
		}
	}
}

/* ---- name helpers ---------------------------------------------------------- */

/* Criterion copies parameters to the test process: no pointers in them */
struct arpa_case {
	char name[80];
	int family; /* 0 = not a reverse name */
	char addr[48];
};

ParameterizedTestParameters(dns_names, arpa)
{
	static struct arpa_case c[] = {
	    {"200.2.0.192.in-addr.arpa", 4, "192.0.2.200"},
	    {"200.2.0.192.IN-ADDR.ARPA.", 4, "192.0.2.200"},
	    {"1.0.0.127.in-addr.arpa", 4, "127.0.0.1"},
	    {"0.0.0.0.in-addr.arpa", 4, "0.0.0.0"},
	    {"2.0.192.in-addr.arpa", 0, ""},
	    {"256.2.0.192.in-addr.arpa", 0, ""},
	    {"01.2.0.192.in-addr.arpa", 0, ""},
	    {"a.2.0.192.in-addr.arpa", 0, ""},
	    {"5.200.2.0.192.in-addr.arpa", 0, ""},
	    {"200.2.0.192.zen.spamhaus.org", 0, ""},
	    {"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", 6,
	     "2001:db8::1"},
	    {"B.A.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.IP6.ARPA", 6,
	     "4321:0:1:2:3:4:567:89ab"},
	    {"0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", 0, ""},
	    {"g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", 0, ""},
	    {"in-addr.arpa", 0, ""},
	    {"200.2.0.192.in-addr.arpa..", 0, ""},
	    {"200.2.0.192in-addr.arpa", 0, ""},
	    {"200.2.0.192.in-addr.arpa.example", 0, ""},
	    {"", 0, ""},
	    {".", 0, ""},
	};
	return cr_make_param_array(struct arpa_case, c, sizeof(c) / sizeof(c[0]));
}

ParameterizedTest(struct arpa_case *c, dns_names, arpa)
{
	struct mx_addr a;
	char buf[MX_ADDRSTRLEN];
	bool ok = dns_arpa_to_addr(c->name, &a);
	cr_expect_eq(ok, c->family != 0, "%s", c->name);
	if (ok) {
		cr_expect_eq(a.family, c->family, "%s", c->name);
		cr_expect_str_eq(mx_addr_fmt(&a, buf, sizeof(buf)), c->addr, "%s", c->name);
	}
}

struct bl_case {
	char name[96];
	int family;
	char addr[48], zone[32];
};

ParameterizedTestParameters(dns_names, reversed)
{
	static struct bl_case c[] = {
	    {"200.2.0.192.zen.spamhaus.org", 4, "192.0.2.200", "zen.spamhaus.org"},
	    {"2.0.0.127.dnsbl.ivre.rocks", 4, "127.0.0.2", "dnsbl.ivre.rocks"},
	    {"200.2.0.192.in-addr.arpa", 4, "192.0.2.200", "in-addr.arpa"},
	    {"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example", 6,
	     "2001:db8::1", "bl.example"},
	    {"200.2.0.192", 0, "", ""},
	    {"2.0.192.zen.spamhaus.org", 0, "", ""},
	    {"5.4.3.2.1.example", 0, "", ""},
	    {"www.example.com", 0, "", ""},
	    {"200.2.0.192.", 0, "", ""},
	};
	return cr_make_param_array(struct bl_case, c, sizeof(c) / sizeof(c[0]));
}

ParameterizedTest(struct bl_case *c, dns_names, reversed)
{
	struct mx_addr a;
	const char *zone = NULL;
	char buf[MX_ADDRSTRLEN];
	bool ok = dns_name_reversed_addr(c->name, &a, &zone);
	cr_expect_eq(ok, c->family != 0, "%s", c->name);
	if (ok) {
		cr_expect_str_eq(mx_addr_fmt(&a, buf, sizeof(buf)), c->addr, "%s", c->name);
		cr_expect_str_eq(zone, c->zone, "%s", c->name);
	}
}

Test(dns_names, ip_literal)
{
	struct mx_addr a;
	char buf[MX_ADDRSTRLEN];
	cr_expect(dns_name_is_ip_literal("10.11.12.13", &a));
	cr_expect_str_eq(mx_addr_fmt(&a, buf, sizeof(buf)), "10.11.12.13");
	cr_expect(dns_name_is_ip_literal("[10.11.12.13]", &a));
	cr_expect(dns_name_is_ip_literal("10.11.12.13.", NULL));
	cr_expect(dns_name_is_ip_literal("[IPv6:2001:db8::1]", &a));
	cr_expect_eq(a.family, 6);
	cr_expect(dns_name_is_ip_literal("2001:db8::1", NULL));
	cr_expect(!dns_name_is_ip_literal("mx.example.com", NULL));
	cr_expect(!dns_name_is_ip_literal("10.11.12", NULL));
	cr_expect(!dns_name_is_ip_literal("13.12.11.10.in-addr.arpa", NULL));
	cr_expect(!dns_name_is_ip_literal("[", NULL));
	cr_expect(!dns_name_is_ip_literal("", NULL));
}

/* dns_name_about(): a reverse name before a reversed prefix, and dns_about()
 * works it out only when the event has not */
Test(dns_names, about)
{
	static const struct {
		const char *name;
		enum mx_dns_about_kind kind;
		const char *addr;
	} c[] = {
	    {"200.2.0.192.in-addr.arpa", MXD_ABOUT_ARPA, "192.0.2.200"},
	    {"200.2.0.192.IN-ADDR.ARPA.", MXD_ABOUT_ARPA, "192.0.2.200"},
	    {"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
	     MXD_ABOUT_ARPA, "2001:db8::1"},
	    {"200.2.0.192.zen.spamhaus.example", MXD_ABOUT_REVERSED, "192.0.2.200"},
	    /* a partial reverse name: in-addr.arpa as a DNSBL zone would be */
	    {"2.0.192.in-addr.arpa", MXD_ABOUT_NOTHING, NULL},
	    {"mail.example.org", MXD_ABOUT_NOTHING, NULL},
	    {"", MXD_ABOUT_NOTHING, NULL},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct mx_dns_about ab, tmp;
		dns_name_about(c[i].name, &ab);
		cr_expect_eq(ab.kind, c[i].kind, "%s", c[i].name);
		if (c[i].addr) {
			struct mx_addr want;
			cr_assert(mx_addr_parse(c[i].addr, &want));
			cr_expect(mx_addr_eq(&ab.addr, &want), "%s", c[i].name);
		}
		/* worked out already: returned as it is, not worked out again */
		struct mx_dns_about given = {.kind = MXD_ABOUT_NOTHING};
		cr_expect_eq(dns_about(c[i].name, &given, &tmp), &given);
		/* not worked out (an event made elsewhere): dns_name_about() */
		struct mx_dns_about none = {0};
		const struct mx_dns_about *r = dns_about(c[i].name, &none, &tmp);
		cr_expect_eq(r, &tmp);
		cr_expect_eq(r->kind, ab.kind, "%s", c[i].name);
		cr_expect_eq(dns_about(c[i].name, NULL, &tmp)->kind, ab.kind);
	}
}

/* ---- tracker ---------------------------------------------------------------- */

#define MAXEV 256
static struct mx_dns evs[MAXEV];
static int nev;

static void
collect(void *sink, const struct mx_event *ev)
{
	(void)sink;
	cr_assert_eq(ev->type, EV_DNS);
	/* a query's event carries what its name is about, worked out once;
	   a response without its query leaves it to the consumer */
	const struct mx_dns *q = &ev->u.dns;
	struct mx_dns_about x;
	dns_name_about(q->qname, &x);
	if (q->outcome == MXD_NO_QUERY) {
		cr_expect_eq(q->about.kind, MXD_ABOUT_UNKNOWN);
	} else {
		cr_expect_eq(q->about.kind, x.kind, "%s", q->qname);
		cr_expect(x.kind == MXD_ABOUT_NOTHING || mx_addr_eq(&q->about.addr, &x.addr), "%s",
		          q->qname);
	}
	if (nev < MAXEV)
		evs[nev] = ev->u.dns;
	nev++;
}

static struct mx_ids ids;
static struct mx_sink sink = {collect, NULL, &ids};

static struct mx_endpoint
ep(const char *a, uint16_t port)
{
	struct mx_endpoint e;
	cr_assert(mx_addr_parse(a, &e.addr));
	e.port = port;
	return e;
}

static struct dns_tracker *
tracker(uint64_t timeout, uint32_t cap)
{
	struct dns_cfg cfg = {.timeout_ns = timeout, .max_pending = cap};
	nev = 0;
	memset(&ids, 0, sizeof(ids));
	struct dns_tracker *t = dns_tracker_new(&cfg, &sink);
	cr_assert_not_null(t);
	return t;
}

static void
send_msg(struct dns_tracker *t, const struct mx_endpoint *s, const struct mx_endpoint *d,
         const struct mb *m, uint64_t ts)
{
	uint8_t *g = guardbuf_new(m->b, m->n);
	dns_datagram(t, s, d, g, m->n, ts);
	guardbuf_free(g, m->n);
}

/* the 255-octet limit is on the wire: escaped as \DDD, the text of the
   longest name is about 4 times longer, and it is kept whole (issue 15:
   16 names of dns-tunnel-iodine.pcap were cut at 255 characters) */
Test(dns_parse, escaped_name_whole)
{
	struct mb m;
	struct dns_msg d;
	hdr(&m, 1, 0, 1, 0, 0, 0);
	for (int i = 0; i < 4; i++) {
		int l = i < 3 ? 63 : 61;
		u8(&m, (unsigned)l);
		memset(m.b + m.n, i < 3 ? 0xff : 0x01, (size_t)l);
		m.n += (size_t)l;
	}
	u8(&m, 0);
	u16(&m, DNS_T_A);
	u16(&m, 1);
	cr_assert_eq(parse(&m, &d), 0);
	cr_expect_not(d.qname_cut);
	cr_expect_eq(strlen(d.qname), 250 * 4 + 3);
	cr_expect(strncmp(d.qname, "\\255\\255", 8) == 0);
	cr_expect_not_null(strstr(d.qname, "\\255.\\001\\001"));
	/* and the tracker's record carries all of it */
	struct dns_tracker *t = tracker(0, 0);
	struct mx_endpoint c = ep("192.0.2.10", 40000), s = ep("198.51.100.53", 53);
	send_msg(t, &c, &s, &m, SEC);
	m.b[2] |= 0x80; /* the response: the question echoed */
	send_msg(t, &s, &c, &m, 2 * SEC);
	cr_assert_eq(nev, 1);
	cr_expect_str_eq(evs[0].qname, d.qname);
	dns_tracker_free(t);
}

Test(dns_tracker, answered)
{
	struct dns_tracker *t = tracker(0, 0);
	struct mx_endpoint c = ep("192.0.2.10", 40000), r = ep("198.51.100.53", 53);
	struct mb m;
	ptr_query(&m, 0xbeef);
	send_msg(t, &c, &r, &m, 100 * SEC);
	cr_expect_eq(nev, 0);
	ptr_response(&m, 0xbeef, 0);
	send_msg(t, &r, &c, &m, 100 * SEC + 2500000);
	cr_assert_eq(nev, 1);
	cr_expect_eq(evs[0].id, 1);
	cr_expect_eq(evs[0].outcome, MXD_ANSWERED);
	cr_expect_eq(evs[0].rcode, 0);
	cr_expect_eq(evs[0].txid, 0xbeef);
	cr_expect_eq(evs[0].qtype, DNS_T_PTR);
	cr_expect_str_eq(evs[0].qname, "200.2.0.192.in-addr.arpa");
	cr_expect_str_eq(evs[0].answers, "host.example.org");
	cr_expect_eq(evs[0].ts_ns, 100 * SEC);
	cr_expect_eq(evs[0].last_send_ns, 100 * SEC);
	cr_expect_eq(evs[0].response_ns, 100 * SEC + 2500000);
	cr_expect_eq(evs[0].retransmits, 0);
	cr_expect(!evs[0].tcp);
	cr_expect(mx_ep_eq(&evs[0].client, &c));
	cr_expect(mx_ep_eq(&evs[0].server, &r));
	const struct dns_stats *st = dns_tracker_stats(t);
	cr_expect_eq(st->queries, 1);
	cr_expect_eq(st->responses, 1);
	cr_expect_eq(st->unsolicited, 0);
	cr_expect_eq(dns_tracker_pending(t), 0);
	/* a second response for the same query is unsolicited */
	send_msg(t, &r, &c, &m, 101 * SEC);
	cr_expect_eq(nev, 1);
	cr_expect_eq(st->unsolicited, 1);
	dns_tracker_free(t);
}

static enum mx_dns_outcome
outcome_of(struct mb *rsp, int *rcode)
{
	struct dns_tracker *t = tracker(0, 0);
	struct mx_endpoint c = ep("192.0.2.10", 40000), r = ep("198.51.100.53", 53);
	struct mb q;
	struct dns_msg d;
	cr_assert_eq(parse(rsp, &d), 0);
	/* a query with the response's question */
	hdr(&q, d.id, 0x0100, 1, 0, 0, 0);
	question(&q, d.qname, d.qtype);
	send_msg(t, &c, &r, &q, SEC);
	send_msg(t, &r, &c, rsp, 2 * SEC);
	cr_assert_eq(nev, 1);
	*rcode = evs[0].rcode;
	dns_tracker_free(t);
	return evs[0].outcome;
}

Test(dns_tracker, outcomes)
{
	struct mb m;
	int rc;
	ptr_response(&m, 5, 0);
	cr_expect_eq(outcome_of(&m, &rc), MXD_ANSWERED);
	ptr_response(&m, 5, 3);
	cr_expect_eq(outcome_of(&m, &rc), MXD_NXDOMAIN);
	cr_expect_eq(rc, 3);
	ptr_response(&m, 5, 2);
	cr_expect_eq(outcome_of(&m, &rc), MXD_SERVFAIL);
	ptr_response(&m, 5, 5);
	cr_expect_eq(outcome_of(&m, &rc), MXD_REFUSED);
	ptr_response(&m, 5, 4);
	cr_expect_eq(outcome_of(&m, &rc), MXD_OTHER);
	cr_expect_eq(rc, 4);
	cname_response(&m);
	cr_expect_eq(outcome_of(&m, &rc), MXD_ANSWERED);
	/* NODATA: rcode 0, SOA in the authority section only */
	hdr(&m, 6, 0x8180, 1, 0, 1, 0);
	question(&m, "example.com", DNS_T_AAAA);
	size_t at = rr_hdr(&m, DNS_T_SOA, 60);
	name(&m, "ns.example.com");
	name(&m, "hostmaster.example.com");
	for (int i = 0; i < 5; i++)
		u32(&m, 1);
	rr_end(&m, at);
	cr_expect_eq(outcome_of(&m, &rc), MXD_NODATA);
	cr_expect_eq(rc, 0);
	/* TC */
	hdr(&m, 6, 0x8380, 1, 0, 0, 0);
	question(&m, "example.com", DNS_T_TXT);
	cr_expect_eq(outcome_of(&m, &rc), MXD_TRUNCATED);
	/* EDNS extended rcode BADVERS */
	hdr(&m, 6, 0x8180, 1, 0, 0, 1);
	question(&m, "example.com", DNS_T_A);
	opt_rr(&m, 4096, 1);
	cr_expect_eq(outcome_of(&m, &rc), MXD_OTHER);
	cr_expect_eq(rc, 16);
}

Test(dns_tracker, retransmit_same_txid)
{
	struct dns_tracker *t = tracker(0, 0);
	struct mx_endpoint c = ep("192.0.2.10", 40000), r = ep("198.51.100.53", 53);
	struct mb m;
	ptr_query(&m, 1);
	send_msg(t, &c, &r, &m, 10 * SEC);
	send_msg(t, &c, &r, &m, 15 * SEC);
	send_msg(t, &c, &r, &m, 25 * SEC);
	cr_expect_eq(dns_tracker_pending(t), 1);
	ptr_response(&m, 1, 0);
	send_msg(t, &r, &c, &m, 26 * SEC);
	cr_assert_eq(nev, 1);
	cr_expect_eq(evs[0].retransmits, 2);
	cr_expect_eq(evs[0].ts_ns, 10 * SEC);
	cr_expect_eq(evs[0].last_send_ns, 25 * SEC);
	cr_expect_eq(evs[0].response_ns, 26 * SEC);
	cr_expect_eq(dns_tracker_stats(t)->folded, 2);
	dns_tracker_free(t);
}

Test(dns_tracker, retransmit_other_txid_and_port)
{
	for (int answer = 0; answer < 3; answer++) {
		struct dns_tracker *t = tracker(0, 0);
		struct mx_endpoint c1 = ep("192.0.2.10", 40000), c2 = ep("192.0.2.10", 40001);
		struct mx_endpoint c3 = ep("192.0.2.10", 40002), r = ep("198.51.100.53", 53);
		struct mx_endpoint *cs[3] = {&c1, &c2, &c3};
		struct mb m;
		for (int i = 0; i < 3; i++) {
			ptr_query(&m, 100u + (unsigned)i);
			send_msg(t, cs[i], &r, &m, (uint64_t)(1 + 5 * i) * SEC);
		}
		cr_expect_eq(dns_tracker_pending(t), 1);
		/* wrong port for that txid: not ours, a record of its own */
		ptr_response(&m, 100u + (unsigned)answer, 0);
		send_msg(t, &r, cs[(answer + 1) % 3], &m, 12 * SEC);
		cr_assert_eq(nev, 1);
		cr_expect_eq(evs[0].outcome, MXD_NO_QUERY);
		cr_expect_eq(dns_tracker_stats(t)->unsolicited, 1);
		cr_expect_eq(dns_tracker_pending(t), 1);
		send_msg(t, &r, cs[answer], &m, 13 * SEC);
		cr_assert_eq(nev, 2, "answer %d", answer);
		cr_expect_eq(evs[1].outcome, MXD_ANSWERED);
		cr_expect_eq(evs[1].retransmits, 2);
		cr_expect_eq(evs[1].ts_ns, 1 * SEC);
		cr_expect_eq(evs[1].last_send_ns, 11 * SEC);
		cr_expect_eq(evs[1].txid, 100);
		cr_expect_eq(evs[1].client.port, 40000);
		dns_tracker_free(t);
	}
}

/* issue 15, 7: a response with no query seen is a record of its own,
   no-query, at the response's time and with no start; a second answer to
   an answered query is not */
Test(dns_tracker, no_query_record)
{
	struct dns_tracker *t = tracker(0, 0);
	struct mx_endpoint c = ep("192.0.2.10", 40000), r = ep("198.51.100.53", 53);
	struct mb m;
	ptr_response(&m, 7, 0);
	send_msg(t, &r, &c, &m, 5 * SEC);
	cr_assert_eq(nev, 1);
	cr_expect_eq(evs[0].outcome, MXD_NO_QUERY);
	cr_expect_str_eq(mx_dns_outcome_str(evs[0].outcome), "no-query");
	cr_expect_eq(evs[0].ts_ns, 5 * SEC);
	cr_expect_eq(evs[0].response_ns, 5 * SEC);
	cr_expect_eq(evs[0].last_send_ns, 0);
	cr_expect_eq(evs[0].retransmits, 0);
	cr_expect_eq(evs[0].rcode, 0);
	cr_expect_eq(evs[0].txid, 7);
	cr_expect_eq(evs[0].qtype, DNS_T_PTR);
	cr_expect_str_eq(evs[0].qname, "200.2.0.192.in-addr.arpa");
	cr_expect_str_eq(evs[0].answers, "host.example.org");
	cr_expect(mx_addr_eq(&evs[0].client.addr, &c.addr) && evs[0].client.port == 40000);
	cr_expect(mx_addr_eq(&evs[0].server.addr, &r.addr));
	cr_expect_eq(dns_tracker_stats(t)->no_query, 1);
	/* answered, then answered again: the second answer is a duplicate */
	ptr_query(&m, 8);
	send_msg(t, &c, &r, &m, 6 * SEC);
	ptr_response(&m, 8, 0);
	send_msg(t, &r, &c, &m, 7 * SEC);
	send_msg(t, &r, &c, &m, 8 * SEC);
	cr_expect_eq(nev, 2);
	cr_expect_eq(evs[1].outcome, MXD_ANSWERED);
	cr_expect_eq(dns_tracker_stats(t)->duplicate, 1);
	/* ... but not after the unanswered timeout: then it is no-query */
	send_msg(t, &r, &c, &m, 40 * SEC);
	cr_expect_eq(nev, 3);
	cr_expect_eq(evs[2].outcome, MXD_NO_QUERY);
	/* a retry with another id and port, both answered: the second answer
	   is a duplicate too (DnsPackets.pcap) */
	struct mx_endpoint c2 = ep("192.0.2.10", 40001);
	ptr_query(&m, 20);
	send_msg(t, &c, &r, &m, 50 * SEC);
	ptr_query(&m, 21);
	send_msg(t, &c2, &r, &m, 51 * SEC);
	ptr_response(&m, 20, 0);
	send_msg(t, &r, &c, &m, 52 * SEC);
	ptr_response(&m, 21, 0);
	send_msg(t, &r, &c2, &m, 53 * SEC);
	cr_expect_eq(nev, 4);
	cr_expect_eq(evs[3].outcome, MXD_ANSWERED);
	cr_expect_eq(evs[3].retransmits, 1);
	cr_expect_eq(dns_tracker_stats(t)->duplicate, 2);
	/* an NXDOMAIN alone keeps its rcode */
	ptr_response(&m, 9, 3);
	send_msg(t, &r, &c, &m, 60 * SEC);
	cr_assert_eq(nev, 5);
	cr_expect_eq(evs[4].outcome, MXD_NO_QUERY);
	cr_expect_eq(evs[4].rcode, 3);
	dns_tracker_free(t);
}

Test(dns_tracker, distinct_queries_not_folded)
{
	struct dns_tracker *t = tracker(0, 0);
	struct mx_endpoint c = ep("192.0.2.10", 40000), r1 = ep("198.51.100.53", 53),
	                   r2 = ep("198.51.100.54", 53);
	struct mb m;
	ptr_query(&m, 1);
	send_msg(t, &c, &r1, &m, SEC);
	send_msg(t, &c, &r2, &m, SEC); /* other server */
	hdr(&m, 1, 0x0100, 1, 0, 0, 0);
	question(&m, "200.2.0.192.in-addr.arpa", DNS_T_TXT); /* other type */
	send_msg(t, &c, &r1, &m, SEC);
	cr_expect_eq(dns_tracker_pending(t), 3);
	dns_tracker_finish(t, 2 * SEC);
	cr_expect_eq(nev, 3);
	dns_tracker_free(t);
}

Test(dns_tracker, unanswered_by_timeout)
{
	struct dns_tracker *t = tracker(0, 0); /* default 30 s */
	struct mx_endpoint c = ep("192.0.2.10", 40000), r = ep("198.51.100.53", 53);
	struct mb m;
	ptr_query(&m, 1);
	send_msg(t, &c, &r, &m, 100 * SEC);
	send_msg(t, &c, &r, &m, 110 * SEC); /* retransmission: timeout from here */
	dns_tracker_expire(t, 139 * SEC);
	cr_expect_eq(nev, 0);
	dns_tracker_expire(t, 140 * SEC);
	cr_assert_eq(nev, 1);
	cr_expect_eq(evs[0].outcome, MXD_UNANSWERED);
	cr_expect_eq(evs[0].rcode, -1);
	cr_expect_eq(evs[0].response_ns, 0);
	cr_expect_eq(evs[0].retransmits, 1);
	cr_expect_eq(evs[0].ts_ns, 100 * SEC);
	cr_expect_eq(evs[0].last_send_ns, 110 * SEC);
	cr_expect_str_eq(evs[0].answers, "");
	cr_expect_eq(dns_tracker_stats(t)->unanswered, 1);
	/* a late response is unsolicited: a no-query record of its own */
	ptr_response(&m, 1, 0);
	send_msg(t, &r, &c, &m, 141 * SEC);
	cr_expect_eq(nev, 2);
	cr_expect_eq(evs[1].outcome, MXD_NO_QUERY);
	cr_expect_eq(dns_tracker_stats(t)->unsolicited, 1);
	/* expiry also runs on the packets themselves */
	ptr_query(&m, 2);
	send_msg(t, &c, &r, &m, 200 * SEC);
	mx_response(&m);
	send_msg(t, &r, &c, &m, 231 * SEC);
	cr_expect_eq(nev, 4); /* the query unanswered, then the answer on its own */
	cr_expect_eq(evs[2].outcome, MXD_UNANSWERED);
	cr_expect_eq(evs[3].outcome, MXD_NO_QUERY);
	dns_tracker_free(t);
}

Test(dns_tracker, unanswered_at_finish_in_order)
{
	struct dns_tracker *t = tracker(5 * SEC, 0);
	struct mx_endpoint c = ep("192.0.2.10", 40000), r = ep("198.51.100.53", 53);
	struct mb m;
	const char *names[] = {"a.example", "b.example", "c.example"};
	for (int i = 0; i < 3; i++) {
		hdr(&m, (unsigned)i, 0x0100, 1, 0, 0, 0);
		question(&m, names[i], DNS_T_A);
		send_msg(t, &c, &r, &m, (uint64_t)(i + 1) * SEC);
	}
	dns_tracker_finish(t, 4 * SEC);
	cr_assert_eq(nev, 3);
	for (int i = 0; i < 3; i++) {
		cr_expect_str_eq(evs[i].qname, names[i]);
		cr_expect_eq(evs[i].outcome, MXD_UNANSWERED);
		cr_expect_eq(evs[i].id, (uint64_t)i + 1);
	}
	cr_expect_eq(dns_tracker_pending(t), 0);
	dns_tracker_free(t);
}

Test(dns_tracker, pending_cap_overflow)
{
	struct dns_tracker *t = tracker(0, 4);
	struct mx_endpoint c = ep("192.0.2.10", 40000), r = ep("198.51.100.53", 53);
	struct mb m;
	char nm[32];
	for (int i = 0; i < 6; i++) {
		snprintf(nm, sizeof(nm), "q%d.example", i);
		hdr(&m, (unsigned)i, 0x0100, 1, 0, 0, 0);
		question(&m, nm, DNS_T_A);
		send_msg(t, &c, &r, &m, (uint64_t)(i + 1) * SEC);
	}
	cr_expect_eq(dns_tracker_pending(t), 4);
	cr_assert_eq(nev, 2);
	cr_expect_str_eq(evs[0].qname, "q0.example");
	cr_expect_str_eq(evs[1].qname, "q1.example");
	cr_expect_eq(evs[0].outcome, MXD_UNANSWERED);
	cr_expect_eq(dns_tracker_stats(t)->overflow, 2);
	/* q5 can still be answered; q0 cannot */
	hdr(&m, 5, 0x8180, 1, 0, 0, 0);
	question(&m, "q5.example", DNS_T_A);
	send_msg(t, &r, &c, &m, 7 * SEC);
	cr_expect_eq(nev, 3);
	cr_expect_eq(evs[2].outcome, MXD_NODATA);
	hdr(&m, 0, 0x8180, 1, 0, 0, 0);
	question(&m, "q0.example", DNS_T_A);
	send_msg(t, &r, &c, &m, 7 * SEC);
	cr_expect_eq(nev, 4);
	cr_expect_eq(evs[3].outcome, MXD_NO_QUERY);
	cr_expect_eq(dns_tracker_stats(t)->unsolicited, 1);
	/* many cycles reuse entries */
	for (int i = 0; i < 1000; i++) {
		hdr(&m, (unsigned)i, 0x0100, 1, 0, 0, 0);
		question(&m, "loop.example", DNS_T_A);
		send_msg(t, &c, &r, &m, 8 * SEC);
		m.b[2] |= 0x80;
		send_msg(t, &r, &c, &m, 8 * SEC);
	}
	cr_expect_eq(nev, 1004);
	dns_tracker_free(t);
}

Test(dns_tracker, malformed_counted)
{
	struct dns_tracker *t = tracker(0, 0);
	struct mx_endpoint c = ep("192.0.2.10", 40000), r = ep("198.51.100.53", 53);
	struct mb m;
	ptr_query(&m, 1);
	m.n = 20;
	send_msg(t, &c, &r, &m, SEC);
	m.n = 5;
	send_msg(t, &c, &r, &m, SEC);
	cr_expect_eq(dns_tracker_stats(t)->malformed, 2);
	cr_expect_eq(dns_tracker_pending(t), 0);
	dns_tracker_free(t);
}

/* ---- TCP framing -------------------------------------------------------------- */

static size_t
framed(uint8_t *out, const struct mb *a, const struct mb *b)
{
	size_t o = 0;
	const struct mb *ms[2] = {a, b};
	for (int i = 0; i < 2; i++) {
		out[o++] = (uint8_t)(ms[i]->n >> 8);
		out[o++] = (uint8_t)ms[i]->n;
		memcpy(out + o, ms[i]->b, ms[i]->n);
		o += ms[i]->n;
	}
	return o;
}

/* feeds s in pieces cut at the given offsets (ascending, within [0, n]) */
static void
feed_cut(struct dns_tcp *c, int dir, const uint8_t *s, size_t n, const size_t *cuts, int ncuts,
         uint64_t ts)
{
	size_t o = 0;
	for (int i = 0; i <= ncuts; i++) {
		size_t e = i < ncuts ? cuts[i] : n;
		uint8_t *g = guardbuf_new(s + o, e - o);
		dns_tcp_data(c, dir, g, e - o, ts);
		guardbuf_free(g, e - o);
		o = e;
	}
}

static void
run_tcp(const uint8_t *q, size_t qn, const uint8_t *r, size_t rn, const size_t *qc, int nqc,
        const size_t *rc, int nrc)
{
	struct dns_tracker *t = tracker(0, 0);
	struct mx_endpoint c = ep("192.0.2.10", 40000), s = ep("198.51.100.53", 53);
	struct dns_tcp *x = dns_tcp_new(t, &c, &s);
	feed_cut(x, MX_C2S, q, qn, qc, nqc, 10 * SEC);
	feed_cut(x, MX_S2C, r, rn, rc, nrc, 11 * SEC);
	dns_tcp_free(x);
	dns_tracker_finish(t, 20 * SEC);
	dns_tracker_free(t);
}

/* field by field: struct padding is not part of an event */
static bool
same_events(const struct mx_dns *a, int na, const struct mx_dns *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++) {
		const struct mx_dns *x = &a[i], *y = &b[i];
		if (x->id != y->id || x->ts_ns != y->ts_ns || !mx_ep_eq(&x->client, &y->client) ||
		    !mx_ep_eq(&x->server, &y->server) || x->tcp != y->tcp || x->txid != y->txid ||
		    strcmp(x->qname, y->qname) != 0 || x->qtype != y->qtype ||
		    x->outcome != y->outcome || x->rcode != y->rcode ||
		    strcmp(x->answers, y->answers) != 0 || x->response_ns != y->response_ns ||
		    x->retransmits != y->retransmits || x->last_send_ns != y->last_send_ns)
			return false;
	}
	return true;
}

Test(dns_tcp, split_at_every_offset)
{
	struct mb q1, q2, r1, r2;
	uint8_t qs[4096], rs[4096];
	ptr_query(&q1, 11);
	hdr(&q2, 12, 0x0100, 1, 0, 0, 0);
	question(&q2, "example.com", DNS_T_MX);
	ptr_response(&r1, 11, 0);
	mx_response(&r2);
	r2.b[0] = 0;
	r2.b[1] = 12;
	size_t qn = framed(qs, &q1, &q2), rn = framed(rs, &r1, &r2);

	static struct mx_dns ref[8];
	run_tcp(qs, qn, rs, rn, NULL, 0, NULL, 0);
	cr_assert_eq(nev, 2);
	int nref = nev;
	memcpy(ref, evs, sizeof(ref[0]) * (size_t)nev);
	cr_expect(ref[0].tcp);
	cr_expect_eq(ref[0].outcome, MXD_ANSWERED);
	cr_expect_str_eq(ref[0].answers, "host.example.org");
	cr_expect_str_eq(ref[1].answers, "10 mail.example.com,20 mx2.example.net");
	cr_expect_eq(ref[1].txid, 12);

	for (size_t k = 0; k <= qn || k <= rn; k++) {
		size_t kq = k <= qn ? k : qn, kr = k <= rn ? k : rn;
		run_tcp(qs, qn, rs, rn, &kq, 1, &kr, 1);
		cr_assert(same_events(ref, nref, evs, nev), "split at %zu", k);
	}
	/* two cuts, and one byte at a time */
	for (size_t k = 0; k + 3 <= rn; k += 7) {
		size_t cuts[2] = {k, k + 3};
		size_t qk[2] = {k < qn ? k : qn, k + 3 < qn ? k + 3 : qn};
		run_tcp(qs, qn, rs, rn, qk, 2, cuts, 2);
		cr_assert(same_events(ref, nref, evs, nev), "cuts at %zu", k);
	}
	static size_t all[4096];
	for (size_t i = 0; i < 4096; i++)
		all[i] = i + 1;
	run_tcp(qs, qn, rs, rn, all, (int)qn - 1, all, (int)rn - 1);
	cr_assert(same_events(ref, nref, evs, nev), "byte by byte");
}

Test(dns_tcp, gap_and_bad_length)
{
	struct dns_tracker *t = tracker(0, 0);
	struct mx_endpoint c = ep("192.0.2.10", 40000), s = ep("198.51.100.53", 53);
	struct dns_tcp *x = dns_tcp_new(t, &c, &s);
	struct mb q1, q2;
	uint8_t qs[4096];
	ptr_query(&q1, 1);
	hdr(&q2, 2, 0x0100, 1, 0, 0, 0);
	question(&q2, "example.com", DNS_T_MX);
	size_t qn = framed(qs, &q1, &q2);
	size_t q2at = 2 + q1.n;
	/* a gap inside the first message: its 10 octets and what follows up
	   to a segment that begins a message are dropped */
	dns_tcp_data(x, MX_C2S, qs, 10, SEC);
	dns_tcp_gap(x, MX_C2S, 100, SEC);
	dns_tcp_data(x, MX_C2S, qs + 5, q2at - 5, SEC); /* the middle of one */
	cr_expect_eq(dns_tracker_pending(t), 0);
	cr_expect_eq(dns_tracker_stats(t)->tcp_dropped, 10 + 100 + q2at - 5);
	cr_expect_eq(dns_tracker_stats(t)->tcp_resync, 0);
	/* the next segment begins the second message: read again from there */
	dns_tcp_data(x, MX_C2S, qs + q2at, qn - q2at, 2 * SEC);
	cr_expect_eq(dns_tracker_pending(t), 1);
	cr_expect_eq(dns_tracker_stats(t)->tcp_resync, 1);
	cr_expect_eq(dns_tracker_stats(t)->tcp_dropped, 10 + 100 + q2at - 5);
	/* the other direction is unaffected; a length below 12 loses framing */
	static const uint8_t junk[] = {0, 3, 1, 2, 3, 0, 20};
	dns_tcp_data(x, MX_S2C, junk, sizeof(junk), SEC);
	cr_expect_eq(dns_tracker_stats(t)->malformed, 1);
	cr_expect_eq(dns_tracker_stats(t)->tcp_dropped, 10 + 100 + q2at - 5 + sizeof(junk));
	dns_tcp_free(x);
	dns_tracker_free(t);
}

/* after a gap, a segment that begins a message longer than itself
   resynchronises when its question parses; the message's later segments
   and a segment of noise do not */
Test(dns_tcp, gap_resync_split_message)
{
	struct dns_tracker *t = tracker(0, 0);
	struct mx_endpoint c = ep("192.0.2.10", 40000), s = ep("198.51.100.53", 53);
	struct dns_tcp *x = dns_tcp_new(t, &c, &s);
	struct mb r1, r2;
	uint8_t rs[4096];
	ptr_response(&r1, 1, 0);
	ptr_response(&r2, 2, 0);
	size_t rn = framed(rs, &r1, &r2);
	dns_tcp_gap(x, MX_S2C, 50, SEC);
	static const uint8_t noise[] = {0, 40, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	dns_tcp_data(x, MX_S2C, noise, sizeof(noise), SEC);
	cr_expect_eq(dns_tracker_stats(t)->tcp_resync, 0);
	/* the first response cut 3 octets before its end (in its answer) */
	size_t cut = 2 + r1.n - 3;
	dns_tcp_data(x, MX_S2C, rs, cut, SEC);
	cr_expect_eq(dns_tracker_stats(t)->tcp_resync, 1);
	cr_expect_eq(dns_tracker_stats(t)->responses, 0);
	dns_tcp_data(x, MX_S2C, rs + cut, rn - cut, SEC);
	cr_expect_eq(dns_tracker_stats(t)->responses, 2);
	cr_expect_eq(dns_tracker_stats(t)->tcp_dropped, 50 + sizeof(noise));
	dns_tcp_free(x);
	dns_tracker_free(t);
}

/* ---- cross-check against tshark on corpus pcaps ---------------------------------- */

struct pkt_dns {
	bool ok, qr;
	uint16_t id;
	char qname[MX_NAME_MAX];
	int hdr_rcode;
};

#define MAXPKT 512

/* Ethernet (+VLAN), raw IP, BSD loopback -> IPv4/IPv6 -> UDP port 53 */
static bool
udp53_payload(int dlt, const uint8_t *p, size_t n, const uint8_t **pl, size_t *pln,
              struct mx_endpoint *src, struct mx_endpoint *dst)
{
	size_t o = 0;
	unsigned et = 0;
	if (dlt == DLT_EN10MB) {
		if (n < 14)
			return false;
		et = (unsigned)p[12] << 8 | p[13];
		o = 14;
		while ((et == 0x8100 || et == 0x88a8) && n >= o + 4) {
			et = (unsigned)p[o + 2] << 8 | p[o + 3];
			o += 4;
		}
	} else if (dlt == DLT_NULL) {
		o = 4;
		et = 0;
	} else if (dlt == DLT_RAW || dlt == 101 || dlt == DLT_IPV4 || dlt == DLT_IPV6) {
		et = 0;
	} else {
		return false;
	}
	if (n <= o)
		return false;
	unsigned ver = p[o] >> 4;
	if (et && et != 0x0800 && et != 0x86dd)
		return false;
	size_t l4;
	size_t iplen;
	memset(src, 0, sizeof(*src));
	memset(dst, 0, sizeof(*dst));
	if (ver == 4) {
		if (n < o + 20 || p[o + 9] != 17)
			return false;
		if (((unsigned)p[o + 6] & 0x3f) || p[o + 7]) /* fragments */
			return false;
		l4 = o + (size_t)(p[o] & 0xf) * 4;
		iplen = (size_t)p[o + 2] << 8 | p[o + 3];
		if (o + iplen < n)
			n = o + iplen;
		mx_addr_set4(&src->addr, p + o + 12);
		mx_addr_set4(&dst->addr, p + o + 16);
	} else if (ver == 6) {
		if (n < o + 40 || p[o + 6] != 17)
			return false;
		l4 = o + 40;
		mx_addr_set6(&src->addr, p + o + 8);
		mx_addr_set6(&dst->addr, p + o + 24);
	} else {
		return false;
	}
	if (n < l4 + 8)
		return false;
	src->port = (uint16_t)(p[l4] << 8 | p[l4 + 1]);
	dst->port = (uint16_t)(p[l4 + 2] << 8 | p[l4 + 3]);
	if (src->port != 53 && dst->port != 53)
		return false;
	*pl = p + l4 + 8;
	*pln = n - l4 - 8;
	return true;
}

/* parses every UDP/53 packet of file; feeds the tracker when t != NULL */
static int
read_pcap(const char *file, struct pkt_dns *pk, int max, struct dns_tracker *t)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(file, err);
	cr_assert_not_null(pc, "%s: %s", file, err);
	struct pcap_pkthdr *h;
	const u_char *data;
	int frame = 0, ndns = 0;
	while (pcap_next_ex(pc, &h, &data) == 1 && frame < max - 1) {
		frame++;
		const uint8_t *pl;
		size_t pln;
		struct mx_endpoint s, d;
		memset(&pk[frame], 0, sizeof(pk[frame]));
		if (!udp53_payload(pcap_datalink(pc), data, h->caplen, &pl, &pln, &s, &d))
			continue;
		ndns++;
		struct dns_msg m;
		uint8_t *g = guardbuf_new(pl, pln);
		int rc = dns_parse(g, pln, &m);
		if (t)
			dns_datagram(t, &s, &d, g, pln,
			             (uint64_t)h->ts.tv_sec * SEC + (uint64_t)h->ts.tv_usec * 1000);
		guardbuf_free(g, pln);
		pk[frame].ok = rc == 0 || m.question_ok;
		pk[frame].qr = m.qr;
		pk[frame].id = m.id;
		pk[frame].hdr_rcode = m.flags & 0xf;
		mx_strlcpy(pk[frame].qname, m.qname, sizeof(pk[frame].qname));
	}
	pcap_close(pc);
	return ndns;
}

static void
cross_check(const char *rel, int want_events, int want_unsolicited)
{
	const char *shared = getenv("MXLAG_SHARED");
	char file[1024], cmd[1400], line[1024];
	if (!shared)
		cr_skip("MXLAG_SHARED not set");
	snprintf(file, sizeof(file), "%s/corpus/%s", shared, rel);
	FILE *f = fopen(file, "rb");
	if (!f)
		cr_skip("%s absent", file);
	fclose(f);
	f = fopen("/usr/bin/tshark", "rb");
	if (!f)
		cr_skip("tshark absent");
	fclose(f);

	static struct pkt_dns pk[MAXPKT];
	struct dns_tracker *t = tracker(0, 0);
	int ndns = read_pcap(file, pk, MAXPKT, t);
	dns_tracker_finish(t, UINT64_MAX);

	snprintf(cmd, sizeof(cmd),
	         "/usr/bin/tshark -r '%s' -Y 'dns && udp' -T fields -e frame.number -e dns.id "
	         "-e dns.qry.name -e dns.flags.response -e dns.flags.rcode 2>/dev/null",
	         file);
	FILE *ts = popen(cmd, "r");
	cr_assert_not_null(ts);
	int nlines = 0;
	while (fgets(line, sizeof(line), ts)) {
		char *fld[5] = {0};
		char *s = line;
		line[strcspn(line, "\r\n")] = '\0';
		for (int i = 0; i < 5; i++) {
			fld[i] = s;
			s = s ? strchr(s, '\t') : NULL;
			if (s)
				*s++ = '\0';
		}
		cr_assert_not_null(fld[4], "tshark line: %s", line);
		int frame = atoi(fld[0]);
		cr_assert(frame > 0 && frame < MAXPKT);
		nlines++;
		struct pkt_dns *p = &pk[frame];
		cr_expect(p->ok, "%s frame %d not parsed", rel, frame);
		cr_expect_eq(p->id, (uint16_t)strtoul(fld[1], NULL, 16), "%s frame %d", rel, frame);
		cr_expect(strcasecmp(p->qname, fld[2]) == 0, "%s frame %d: '%s' vs tshark '%s'",
		          rel, frame, p->qname, fld[2]);
		cr_expect_eq(p->qr, strcmp(fld[3], "1") == 0 || strcmp(fld[3], "True") == 0,
		             "%s frame %d qr", rel, frame);
		if (p->qr && fld[4][0])
			cr_expect_eq(p->hdr_rcode, atoi(fld[4]), "%s frame %d rcode", rel, frame);
	}
	pclose(ts);
	cr_expect_eq(nlines, ndns, "%s: tshark saw %d DNS/UDP packets, we %d", rel, nlines, ndns);
	cr_expect_eq(nev, want_events, "%s events", rel);
	cr_expect_eq((int)dns_tracker_stats(t)->unsolicited, want_unsolicited, "%s unsolicited",
	             rel);
	dns_tracker_free(t);
}

Test(dns_corpus, two_responses)
{
	cross_check("zeek+zeek/testing/btest/Traces/dns-two-responses.pcap", 1, 1);
	cr_expect_eq(evs[0].outcome, MXD_ANSWERED);
	cr_expect_str_eq(evs[0].qname, "www.cmu.edu");
}

Test(dns_corpus, long_connection)
{
	cross_check("zeek+zeek/testing/btest/Traces/dns/long-connection.pcap", 11, 0);
}

Test(dns_corpus, dnsbl)
{
	cross_check("ivre+ivre-test-samples/tests/samples/dnsbl.pcap", 10, 0);
	int bl = 0;
	for (int i = 0; i < nev; i++) {
		struct mx_addr a;
		const char *zone;
		if (dns_name_reversed_addr(evs[i].qname, &a, &zone))
			bl++;
	}
	cr_expect_eq(bl, nev);
}

Test(dns_corpus, wireshark_repo)
{
	cross_check("arkime+arkime/tests/pcap/dns-wiresharkrepo.pcap", 19, 0);
}

Test(dns_corpus, txt_multiple)
{
	cross_check("zeek+zeek/testing/btest/Traces/dns-txt-multiple.pcap", 1, 0);
	cr_expect_eq(evs[0].outcome, MXD_ANSWERED);
}

Test(dns_corpus, extended_rcode)
{
	cross_check("zeek+zeek/testing/btest/Traces/dns/dns_extended_rcode.pcap", 1, 0);
	cr_expect_eq(evs[0].rcode, 16);
	cr_expect_eq(evs[0].outcome, MXD_OTHER);
	cr_expect_str_eq(evs[0].qname, "test.example.com");
}

Test(dns_corpus, invalid_names_rejected)
{
	const char *shared = getenv("MXLAG_SHARED");
	char file[1024];
	if (!shared)
		cr_skip("MXLAG_SHARED not set");
	snprintf(file, sizeof(file), "%s/corpus/%s", shared,
	         "zeek+zeek/testing/btest/Traces/dns/dns-invalid-names.pcap");
	FILE *f = fopen(file, "rb");
	if (!f)
		cr_skip("%s absent", file);
	fclose(f);
	static struct pkt_dns pk[MAXPKT];
	struct dns_tracker *t = tracker(0, 0);
	cr_assert_eq(read_pcap(file, pk, MAXPKT, t), 3);
	/* a label running off the end, a pointer to itself, no terminating label */
	for (int i = 1; i <= 3; i++)
		cr_expect(!pk[i].ok, "frame %d", i);
	cr_expect_eq(dns_tracker_stats(t)->malformed, 3);
	cr_expect_eq(dns_tracker_pending(t), 0);
	dns_tracker_free(t);
}

Test(dns_tracker, many_retransmissions)
{
	for (int answer = 0; answer < 2; answer++) {
		struct dns_tracker *t = tracker(0, 0);
		struct mx_endpoint r = ep("198.51.100.53", 53);
		struct mb m;
		for (int i = 0; i < 20; i++) {
			struct mx_endpoint c = ep("192.0.2.10", (uint16_t)(30000 + i));
			ptr_query(&m, 500u + (unsigned)i);
			send_msg(t, &c, &r, &m, (uint64_t)(1 + i) * SEC);
		}
		/* the first and the latest transmissions can be answered */
		int i = answer ? 19 : 0;
		struct mx_endpoint c = ep("192.0.2.10", (uint16_t)(30000 + i));
		ptr_response(&m, 500u + (unsigned)i, 0);
		send_msg(t, &r, &c, &m, 21 * SEC);
		cr_assert_eq(nev, 1);
		cr_expect_eq(evs[0].retransmits, 19);
		cr_expect_eq(evs[0].last_send_ns, 20 * SEC);
		dns_tracker_free(t);
	}
}

/*
 * A repeat of a question is a retransmission only within a resolver's
 * retry interval of the last send (and a minute of the first): the same
 * name looked up 17 s later (a client that reconnects) is a new lookup,
 * and each keeps its own answer.
 */
Test(dns_tracker, separate_lookups_are_not_folded)
{
	struct dns_tracker *t = tracker(0, 0);
	struct mx_endpoint c1 = ep("192.0.2.10", 40000), c2 = ep("192.0.2.10", 40001);
	struct mx_endpoint r = ep("198.51.100.53", 53);
	struct mb m;
	ptr_query(&m, 1);
	send_msg(t, &c1, &r, &m, 1 * SEC);
	cr_expect_eq(dns_tracker_oldest_start(t), 1 * SEC);
	ptr_query(&m, 2);
	send_msg(t, &c2, &r, &m, 18 * SEC);
	cr_expect_eq(dns_tracker_pending(t), 2, "17 s later: a lookup of its own");
	cr_expect_eq(dns_tracker_stats(t)->folded, 0);
	ptr_response(&m, 2, 3);
	send_msg(t, &r, &c2, &m, 18 * SEC + 50000000);
	cr_assert_eq(nev, 1);
	cr_expect_eq(evs[0].outcome, MXD_NXDOMAIN);
	cr_expect_eq(evs[0].ts_ns, 18 * SEC);
	cr_expect_eq(evs[0].retransmits, 0);
	cr_expect_eq(dns_tracker_oldest_start(t), 1 * SEC, "the first is still pending");
	dns_tracker_finish(t, 19 * SEC);
	cr_assert_eq(nev, 2);
	cr_expect_eq(evs[1].outcome, MXD_UNANSWERED);
	cr_expect_eq(evs[1].ts_ns, 1 * SEC);
	cr_expect_eq(dns_tracker_oldest_start(t), 0);
	dns_tracker_free(t);
}

Test(dns_tracker, retry_window_and_span)
{
	struct dns_tracker *t = tracker(0, 0);
	struct mx_endpoint c = ep("192.0.2.10", 40000), r = ep("198.51.100.53", 53);
	struct mb m;
	ptr_query(&m, 7);
	/* djbdns waits 3 and 11 s between tries: one lookup */
	send_msg(t, &c, &r, &m, 1 * SEC);
	send_msg(t, &c, &r, &m, 4 * SEC);
	send_msg(t, &c, &r, &m, 15 * SEC);
	cr_expect_eq(dns_tracker_pending(t), 1);
	/* 16 s after the last try: past the 15 s retry window */
	send_msg(t, &c, &r, &m, 31 * SEC);
	cr_expect_eq(dns_tracker_pending(t), 2);
	/* tries every 10 s for ever: a new lookup once a minute has passed */
	for (int i = 1; i <= 7; i++)
		send_msg(t, &c, &r, &m, (uint64_t)(31 + 10 * i) * SEC);
	cr_expect_eq(nev, 1, "the first timed out 30 s after its last try");
	cr_expect_eq(dns_tracker_pending(t), 2);
	dns_tracker_finish(t, 200 * SEC);
	cr_assert_eq(nev, 3);
	cr_expect_eq(evs[0].retransmits, 2);
	cr_expect_eq(evs[0].last_send_ns, 15 * SEC);
	cr_expect_eq(evs[1].ts_ns, 31 * SEC);
	cr_expect_eq(evs[1].last_send_ns, 91 * SEC, "60 s after its first send");
	cr_expect_eq(evs[2].ts_ns, 101 * SEC);
	dns_tracker_free(t);
}

/* An answered query is over: the same question again is a new lookup. */
Test(dns_tracker, never_folded_across_an_answer)
{
	struct dns_tracker *t = tracker(0, 0);
	struct mx_endpoint c = ep("192.0.2.10", 40000), r = ep("198.51.100.53", 53);
	struct mb m;
	ptr_query(&m, 9);
	send_msg(t, &c, &r, &m, 1 * SEC);
	ptr_response(&m, 9, 0);
	send_msg(t, &r, &c, &m, 1 * SEC + 1000000);
	ptr_query(&m, 9);
	send_msg(t, &c, &r, &m, 2 * SEC);
	cr_expect_eq(dns_tracker_pending(t), 1);
	dns_tracker_finish(t, 3 * SEC);
	cr_assert_eq(nev, 2);
	cr_expect_eq(evs[0].outcome, MXD_ANSWERED);
	cr_expect_eq(evs[1].outcome, MXD_UNANSWERED);
	cr_expect_eq(evs[1].retransmits, 0);
	dns_tracker_free(t);
}

/* ---- owners: asked as a query is sent, and again at its first resend ---------- */

static int owner_calls, reowner_calls;
static uint64_t reowner_seen_first, reowner_seen_owner;

static uint64_t
owner_five(void *ctx, const struct mx_endpoint *cli, const struct dns_msg *m,
           const struct mx_dns_about *about, const struct pending_lookup *pending, uint64_t ts)
{
	(void)ctx, (void)cli, (void)m, (void)ts;
	/* what the name is about comes worked out */
	struct mx_dns_about x;
	dns_name_about(m->qname, &x);
	cr_expect_eq(about->kind, x.kind);
	cr_expect(about->kind == MXD_ABOUT_NOTHING || mx_addr_eq(&about->addr, &x.addr));
	owner_calls++;
	return pending ? pending->owner : 5;
}

static uint64_t
reowner_nine(void *ctx, uint64_t owner, const struct mx_endpoint *cli, const char *qname,
             uint16_t qtype, uint64_t first_ns, uint64_t ts)
{
	(void)ctx, (void)cli, (void)ts;
	cr_expect_str_eq(qname, "200.2.0.192.in-addr.arpa");
	cr_expect_eq(qtype, DNS_T_PTR);
	reowner_calls++;
	reowner_seen_first = first_ns;
	reowner_seen_owner = owner;
	return 9;
}

Test(dns_tracker, owner_asked_again_at_the_first_resend)
{
	struct dns_tracker *t = tracker(0, 0);
	struct mx_endpoint c = ep("192.0.2.10", 40000), r = ep("198.51.100.53", 53);
	struct mb m;
	owner_calls = reowner_calls = 0;
	dns_tracker_set_owner(t, owner_five, NULL);
	dns_tracker_set_reowner(t, reowner_nine);
	ptr_query(&m, 7);
	send_msg(t, &c, &r, &m, 1 * SEC);
	cr_expect_eq(owner_calls, 1);
	cr_expect_eq(reowner_calls, 0, "not at the first send");
	send_msg(t, &c, &r, &m, 6 * SEC); /* the same id and port: a retransmission */
	cr_expect_eq(owner_calls, 1, "a retransmission is not a new lookup");
	cr_expect_eq(reowner_calls, 1);
	cr_expect_eq(reowner_seen_owner, 5);
	cr_expect_eq(reowner_seen_first, 1 * SEC);
	send_msg(t, &c, &r, &m, 11 * SEC);
	cr_expect_eq(reowner_calls, 1, "only at the first resend");
	cr_expect_eq(dns_tracker_stats(t)->reowned, 1);
	dns_tracker_finish(t, 60 * SEC);
	cr_assert_eq(nev, 1);
	cr_expect_eq(evs[0].owner, 9, "the event carries the new owner");
	cr_expect_eq(evs[0].retransmits, 2);
	dns_tracker_free(t);
}

Test(dns_tracker, nobody_s_query_is_not_reowned)
{
	struct dns_tracker *t = tracker(0, 0);
	struct mx_endpoint c = ep("192.0.2.10", 40000), r = ep("198.51.100.53", 53);
	struct mb m;
	reowner_calls = 0;
	dns_tracker_set_reowner(t, reowner_nine); /* no owner function: owner 0 */
	ptr_query(&m, 7);
	send_msg(t, &c, &r, &m, 1 * SEC);
	send_msg(t, &c, &r, &m, 6 * SEC);
	cr_expect_eq(reowner_calls, 0);
	dns_tracker_finish(t, 60 * SEC);
	cr_assert_eq(nev, 1);
	cr_expect_eq(evs[0].owner, 0);
	dns_tracker_free(t);
}
