/* test_linebuf.c - bounded line accumulator and CRLF.CRLF scanner. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/linebuf.h"
#include "../support/guardbuf.h"

/* feeds s (guard-page copy) in pieces of k bytes, timestamp = piece index;
 * collects the completed lines "text|first|end\n" into out */
static void
feed_lines(const char *s, size_t n, size_t k, char *out, size_t outlen)
{
	struct linebuf lb;
	size_t o = 0, piece = 0;

	lb_init(&lb);
	out[0] = '\0';
	while (o < n) {
		size_t m = n - o < k ? n - o : k;
		uint8_t *g = guardbuf_new(s + o, m);
		cr_assert_not_null(g);
		size_t used = 0;
		while (used < m) {
			size_t u = lb_feed(&lb, g + used, m - used, 100 + piece);
			cr_assert(u > 0 && u <= m - used);
			used += u;
			if (lb.complete) {
				char line[LB_LINE_MAX + 64];
				snprintf(line, sizeof(line), "%s|%u|%u%s\n", lb.buf,
				         (unsigned)lb.first_ns, (unsigned)lb.end_ns,
				         lb.truncated ? "|T" : "");
				strncat(out, line, outlen - strlen(out) - 1);
			}
		}
		guardbuf_free(g, m);
		o += m;
		piece++;
	}
}

Test(linebuf, crlf_and_bare_lf)
{
	char out[512];
	const char *in = "EHLO a.example\r\nQUIT\nNOOP\r\r\n\r\n";
	feed_lines(in, strlen(in), 1000, out, sizeof(out));
	cr_assert_str_eq(out, "EHLO a.example|100|100\nQUIT|100|100\nNOOP\r|100|100\n|100|100\n");
}

Test(linebuf, timestamps_first_and_last_segment)
{
	char out[512];
	const char *in = "MAIL FROM:<a@b>\r\nRCPT";
	/* pieces of 4: "MAIL" ts100, " FRO" 101, ... LF in piece 4 (ts 104) */
	feed_lines(in, strlen(in), 4, out, sizeof(out));
	cr_assert_str_eq(out, "MAIL FROM:<a@b>|100|104\n");
	/* CR and LF in different pieces */
	feed_lines("AB\r\nC\r\n", 7, 3, out, sizeof(out));
	cr_assert_str_eq(out, "AB|100|101\nC|101|102\n");
}

Test(linebuf, every_split_same_text)
{
	const char *in = "220 mx.example.org ESMTP\r\n250-SIZE 1\r\n250 HELP\r\n";
	char ref[512], out[512];
	feed_lines(in, strlen(in), 10000, ref, sizeof(ref));
	for (size_t k = 1; k < strlen(in); k++) {
		feed_lines(in, strlen(in), k, out, sizeof(out));
		/* strip timestamps: compare the text before '|' on each line */
		char a[512], b[512];
		size_t ia = 0, ib = 0;
		for (const char *p = ref; *p; p++) {
			if (*p == '|')
				while (*p && *p != '\n')
					p++;
			a[ia++] = *p;
		}
		for (const char *p = out; *p; p++) {
			if (*p == '|')
				while (*p && *p != '\n')
					p++;
			b[ib++] = *p;
		}
		a[ia] = b[ib] = '\0';
		cr_assert_str_eq(a, b, "split %zu", k);
	}
}

Test(linebuf, megabyte_line_is_truncated_not_buffered)
{
	size_t n = 1 << 20;
	char *big = malloc(n + 16);
	cr_assert_not_null(big);
	memset(big, 'x', n);
	memcpy(big + n, "\r\nQUIT\r\n", 8);
	struct linebuf lb;
	lb_init(&lb);
	size_t o = 0;
	int lines = 0;
	while (o < n + 8) {
		size_t m = n + 8 - o < 1500 ? n + 8 - o : 1500;
		size_t u = lb_feed(&lb, (const uint8_t *)big + o, m, 7);
		o += u;
		if (lb.complete) {
			lines++;
			if (lines == 1) {
				cr_assert_eq(lb.len, LB_LINE_MAX);
				cr_assert(lb.truncated);
				cr_assert_eq(lb.total, n + 1); /* the CR counted, dropped */
				cr_assert_eq(lb.buf[LB_LINE_MAX], '\0');
			} else {
				cr_assert_str_eq(lb.buf, "QUIT");
				cr_assert_not(lb.truncated);
			}
		}
	}
	cr_assert_eq(lines, 2);
	cr_assert(sizeof(struct linebuf) < LB_LINE_MAX + 128);
	free(big);
}

Test(linebuf, cr_exactly_at_the_limit)
{
	char s[LB_LINE_MAX + 2];
	memset(s, 'a', LB_LINE_MAX - 1);
	s[LB_LINE_MAX - 1] = '\r';
	s[LB_LINE_MAX] = '\n';
	struct linebuf lb;
	lb_init(&lb);
	cr_assert_eq(lb_feed(&lb, (const uint8_t *)s, LB_LINE_MAX + 1, 1), LB_LINE_MAX + 1);
	cr_assert(lb.complete);
	cr_assert_not(lb.truncated);
	cr_assert_eq(lb.len, LB_LINE_MAX - 1);
}

Test(linebuf, partial_and_reset)
{
	struct linebuf lb;
	lb_init(&lb);
	cr_assert_not(lb_partial(&lb));
	cr_assert_eq(lb_feed(&lb, (const uint8_t *)"HEL", 3, 1), 3);
	cr_assert(lb_partial(&lb));
	cr_assert_not(lb.complete);
	lb_reset(&lb);
	cr_assert_not(lb_partial(&lb));
	cr_assert_eq(lb_feed(&lb, (const uint8_t *)"", 0, 1), 0);
}

/* ---- dotend ---------------------------------------------------------- */

struct dot_case {
	const char *in;
	size_t consumed; /* where the terminator ends; 0 = not found */
	uint64_t bytes;
};

static void
check_dot(const struct dot_case *c)
{
	size_t n = strlen(c->in);
	for (size_t k = 1; k <= n + 1; k++) {
		struct dotend d;
		dotend_init(&d);
		size_t o = 0;
		while (o < n && d.st != DOT_DONE) {
			size_t m = n - o < k ? n - o : k;
			uint8_t *g = guardbuf_new(c->in + o, m);
			size_t u = dotend_scan(&d, g, m);
			guardbuf_free(g, m);
			cr_assert(u <= m);
			o += u;
			if (u < m)
				cr_assert_eq(d.st, DOT_DONE);
		}
		if (c->consumed) {
			cr_assert_eq(d.st, DOT_DONE, "'%s' chunk %zu", c->in, k);
			cr_assert_eq(o, c->consumed, "'%s' chunk %zu", c->in, k);
			cr_assert_eq(d.bytes, c->bytes, "'%s' chunk %zu: %llu", c->in, k,
			             (unsigned long long)d.bytes);
			cr_assert_eq(d.wire, c->consumed);
		} else {
			cr_assert_neq(d.st, DOT_DONE, "'%s' chunk %zu", c->in, k);
		}
	}
}

Test(dotend, cases)
{
	static const struct dot_case cases[] = {
	    {".\r\n", 3, 0},         /* empty body */
	    {".\r\nQUIT\r\n", 3, 0}, /* pipelined QUIT */
	    {"\r\n.\r\n", 5, 2},     /* one empty line right after the 354 */
	    {"Subject: x\r\n\r\nhi\r\n.\r\n", 21, 18},
	    {"..\r\n.\r\n", 7, 3},        /* a stuffed lone dot */
	    {"..hidden\r\n.\r\n", 13, 9}, /* "..hidden" -> ".hidden" */
	    {"a\r\n.b\r\n.\r\n", 10, 6},  /* ".b" -> "b" (stuffing) */
	    {"a\r\n. \r\n.\r\n", 10, 6},
	    {"a.\r\n.\r\n", 7, 4}, /* dot not at line start */
	    {"a\n.\n", 4, 2},      /* bare LF accepted */
	    {"x\r\n.\rz\r\n.\r\n", 11, 7},
	    {"x\r\n.", 0, 0}, /* truncated twins */
	    {"x\r\n.\r", 0, 0},
	    {"x\r\n", 0, 0},
	    {"x\r\n.x\r\n", 0, 0},
	    {"", 0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_dot(&cases[i]);
}

Test(dotend, gap_resets_line_start)
{
	struct dotend d;
	dotend_init(&d);
	cr_assert_eq(dotend_scan(&d, (const uint8_t *)"abc\r\n", 5), 5);
	dotend_gap(&d, 1000);
	/* ".\r\n" right after a gap is not a terminator: we are mid-line */
	cr_assert_eq(dotend_scan(&d, (const uint8_t *)".\r\n", 3), 3);
	cr_assert_neq(d.st, DOT_DONE);
	cr_assert_eq(dotend_scan(&d, (const uint8_t *)".\r\nX", 4), 3);
	cr_assert_eq(d.st, DOT_DONE);
	cr_assert_eq(d.bytes, 5 + 1000 + 3);
	cr_assert_eq(d.wire, 5 + 1000 + 6);
}
