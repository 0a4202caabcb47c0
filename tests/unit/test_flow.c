/* test_flow.c - TCP flow table and stream reassembly (capture/flow.c). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/flow.h"

/* ---- a recorder for every callback ------------------------------------- */

#define MAXF 8

struct stream {
	uint8_t *p;
	size_t n, cap;
};

struct rec {
	bool quiet; /* no text log (bulk tests) */
	char *log;
	size_t loglen, logcap;
	struct stream s[MAXF + 1][2]; /* by flow id (1..MAXF), direction */
	uint64_t gaps[MAXF + 1][2];
	struct cap_flow closed[MAXF + 1]; /* copy taken in close() */
	uint64_t opens, closes, packets;
	uint64_t closed_synack, closed_syn1;
	bool want_packets;
};

static struct rec R;
static struct cap_stats ST;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
logf_(const char *fmt, ...)
{
	if (R.quiet)
		return;
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (R.loglen + (size_t)n + 2 > R.logcap) {
		R.logcap = (R.logcap + (size_t)n + 2) * 2;
		R.log = realloc(R.log, R.logcap);
		cr_assert(R.log);
	}
	memcpy(R.log + R.loglen, line, (size_t)n);
	R.loglen += (size_t)n;
	R.log[R.loglen++] = '\n';
	R.log[R.loglen] = '\0';
}

static const char *const evname[] = {"SYN", "SYN_RETX", "SYNACK", "ESTABLISHED", "FIN", "RST"};
static const char *const closename[] = {"FIN", "RST", "IDLE", "EVICTED", "END"};

static void
on_open(void *ctx, struct cap_flow *f, uint64_t ts)
{
	R.opens++;
	f->want_packets = R.want_packets;
	logf_("open %" PRIu64 " @%" PRIu64, f->id, ts);
}

static void
on_packet(void *ctx, struct cap_flow *f, enum cap_dir d, const struct decoded *p)
{
	R.packets++;
	logf_("pkt %" PRIu64 " %d len %zu", f->id, (int)d, p->payload.len);
}

static void
on_data(void *ctx, struct cap_flow *f, enum cap_dir d, const uint8_t *p, size_t n, uint64_t ts)
{
	cr_assert(n > 0);
	logf_("data %" PRIu64 " %d %zu @%" PRIu64, f->id, (int)d, n, ts);
	if (f->id > MAXF)
		return;
	struct stream *s = &R.s[f->id][d];
	if (s->n + n > s->cap) {
		s->cap = (s->n + n) * 2;
		s->p = realloc(s->p, s->cap);
		cr_assert(s->p);
	}
	memcpy(s->p + s->n, p, n);
	s->n += n;
}

static void
on_gap(void *ctx, struct cap_flow *f, enum cap_dir d, uint64_t lost, uint64_t ts)
{
	logf_("gap %" PRIu64 " %d %" PRIu64 " @%" PRIu64, f->id, (int)d, lost, ts);
	if (f->id <= MAXF)
		R.gaps[f->id][d] += lost;
}

static void
on_event(void *ctx, struct cap_flow *f, enum cap_tcp_ev ev, enum cap_dir d, uint64_t ts)
{
	logf_("ev %" PRIu64 " %s %d @%" PRIu64, f->id, evname[ev], (int)d, ts);
}

static void
on_close(void *ctx, struct cap_flow *f, enum cap_close why, uint64_t ts)
{
	R.closes++;
	if (f->saw_synack)
		R.closed_synack++;
	if (f->syn_count == 1)
		R.closed_syn1++;
	if (f->id <= MAXF)
		R.closed[f->id] = *f;
	logf_("close %" PRIu64 " %s @%" PRIu64, f->id, closename[why], ts);
}

static const struct cap_ops OPS = {
    .open = on_open,
    .packet = on_packet,
    .data = on_data,
    .gap = on_gap,
    .event = on_event,
    .close = on_close,
};

static void
reset(void)
{
	free(R.log);
	for (int i = 0; i <= MAXF; i++)
		for (int d = 0; d < 2; d++)
			free(R.s[i][d].p);
	memset(&R, 0, sizeof(R));
	memset(&ST, 0, sizeof(ST));
	R.logcap = 4096;
	R.log = calloc(1, R.logcap);
}

static const char *
L(void)
{
	return R.log ? R.log : "";
}

/* ---- segment builder ---------------------------------------------------- */

struct conn {
	struct mx_addr c, s;
	uint16_t cp, sp, vlan;
};

static struct conn
mkconn(const char *c, uint16_t cp, const char *s, uint16_t sp)
{
	struct conn k;
	memset(&k, 0, sizeof(k));
	cr_assert(mx_addr_parse(c, &k.c));
	cr_assert(mx_addr_parse(s, &k.s));
	k.cp = cp;
	k.sp = sp;
	return k;
}

static struct conn C; /* the default connection */

/* from_c: 1 client->server, 0 server->client */
static struct decoded
seg(const struct conn *k, int from_c, uint8_t flags, uint32_t seq, uint32_t ack, const void *pl,
    size_t n, uint64_t ts)
{
	struct decoded p;
	memset(&p, 0, sizeof(p));
	p.ts_ns = ts;
	p.vlan = k->vlan;
	p.l4proto = 6;
	p.src = from_c ? k->c : k->s;
	p.dst = from_c ? k->s : k->c;
	p.sport = from_c ? k->cp : k->sp;
	p.dport = from_c ? k->sp : k->cp;
	p.tcp_flags = flags;
	p.seq = seq;
	p.ack = ack;
	p.win = 65535;
	p.payload = bv_make(pl, n);
	p.payload_wirelen = (uint32_t)n;
	return p;
}

static void
feed(struct flowtab *t, const struct conn *k, int from_c, uint8_t flags, uint32_t seq, uint32_t ack,
     const char *pl, uint64_t ts)
{
	struct decoded p = seg(k, from_c, flags, seq, ack, pl, pl ? strlen(pl) : 0, ts);
	flowtab_tcp(t, &p);
}

#define A TCPF_ACK
#define S TCPF_SYN
#define F TCPF_FIN
#define RS TCPF_RST
#define P TCPF_PSH

static struct flowtab *
newtab(const struct flow_limits *lim)
{
	struct flowtab *t = flowtab_new(lim, &OPS, &ST);
	cr_assert(t);
	return t;
}

static void
setup(void)
{
	reset();
	C = mkconn("192.0.2.200", 40112, "192.0.2.10", 25);
}

static void
teardown(void)
{
	reset();
	free(R.log);
	R.log = NULL;
}

TestSuite(flow, .init = setup, .fini = teardown);

#define CISN 1000u
#define SISN 5000u

/* SYN, SYN-ACK, ACK at t=1,2,3 */
static void
handshake(struct flowtab *t, const struct conn *k, uint32_t ci, uint32_t si)
{
	feed(t, k, 1, S, ci, 0, NULL, 1);
	feed(t, k, 0, S | A, si, ci + 1, NULL, 2);
	feed(t, k, 1, A, ci + 1, si + 1, NULL, 3);
}

static void
assert_stream(int id, int d, const char *want)
{
	struct stream *s = &R.s[id][d];
	size_t n = strlen(want);
	cr_assert_eq(s->n, n, "flow %d dir %d: %zu bytes, want %zu", id, d, s->n, n);
	cr_assert(memcmp(s->p, want, n) == 0, "flow %d dir %d content differs", id, d);
}

/* ---- tests -------------------------------------------------------------- */

Test(flow, handshake_data_fin)
{
	struct flowtab *t = newtab(NULL);
	handshake(t, &C, CISN, SISN);
	feed(t, &C, 0, A | P, SISN + 1, CISN + 1, "220 hi\r\n", 4);
	feed(t, &C, 1, A | P, CISN + 1, SISN + 9, "QUIT\r\n", 5);
	feed(t, &C, 0, A | P | F, SISN + 9, CISN + 7, "221 bye\r\n", 6);
	cr_assert_eq(flowtab_count(t), 1);
	feed(t, &C, 1, A | F, CISN + 7, SISN + 19, NULL, 7);
	cr_assert_eq(flowtab_count(t), 0);
	feed(t, &C, 0, A, SISN + 19, CISN + 8, NULL, 8); /* last ACK: no flow */
	cr_assert_eq(flowtab_count(t), 0);
	cr_assert_str_eq(L(), "open 1 @1\n"
	                      "ev 1 SYN 0 @1\n"
	                      "ev 1 SYNACK 1 @2\n"
	                      "ev 1 ESTABLISHED 0 @3\n"
	                      "data 1 1 8 @4\n"
	                      "data 1 0 6 @5\n"
	                      "data 1 1 9 @6\n"
	                      "ev 1 FIN 1 @6\n"
	                      "ev 1 FIN 0 @7\n"
	                      "close 1 FIN @7\n");
	assert_stream(1, 0, "QUIT\r\n");
	assert_stream(1, 1, "220 hi\r\n221 bye\r\n");
	struct cap_flow *f = &R.closed[1];
	cr_assert(f->saw_syn && f->saw_synack && f->established);
	cr_assert_eq(f->syn_count, 1);
	cr_assert_eq(f->syn_ns, 1);
	cr_assert_eq(f->last_syn_ns, 1);
	cr_assert_eq(f->synack_ns, 2);
	cr_assert_eq(f->established_ns, 3);
	cr_assert_eq(f->fin_ns[0], 7);
	cr_assert_eq(f->fin_ns[1], 6);
	cr_assert_eq(f->rst_ns, 0);
	cr_assert_eq(f->rst_dir, -1);
	cr_assert_eq(f->bytes[0], 6);
	cr_assert_eq(f->bytes[1], 17);
	cr_assert_eq(f->first_ns, 1);
	cr_assert_eq(f->last_ns, 7);
	cr_assert_eq(f->cli.port, 40112);
	cr_assert_eq(f->srv.port, 25);
	cr_assert(mx_addr_eq(&f->cli.addr, &C.c));
	cr_assert_eq(ST.c[CNT_FLOWS], 1);
	cr_assert_eq(ST.c[CNT_FLOWS_MIDSTREAM], 0);
	cr_assert_eq(ST.c[CNT_TCP_NO_FLOW], 1);
	cr_assert_eq(ST.c[CNT_TCP_GAPS], 0);
	cr_assert_eq(ST.c[CNT_TCP_UNANSWERED_SYN], 0);
	flowtab_free(t);
}

Test(flow, reordering)
{
	struct flowtab *t = newtab(NULL);
	handshake(t, &C, CISN, SISN);
	feed(t, &C, 1, A, CISN + 1 + 10, SISN + 1, "ccccc", 12);
	feed(t, &C, 1, A, CISN + 1 + 5, SISN + 1, "bbbbb", 11);
	cr_assert_eq(R.s[1][0].n, 0);
	feed(t, &C, 1, A, CISN + 1, SISN + 1, "aaaaa", 10);
	feed(t, &C, 1, A, CISN + 1 + 15, SISN + 1, "d", 13);
	assert_stream(1, 0, "aaaaabbbbbcccccd");
	cr_assert(strstr(L(), "data 1 0 5 @10\n"
	                      "data 1 0 5 @11\n"
	                      "data 1 0 5 @12\n"
	                      "data 1 0 1 @13\n"));
	cr_assert_eq(ST.c[CNT_TCP_OUT_OF_ORDER], 2);
	cr_assert_eq(ST.c[CNT_TCP_RETRANSMIT], 0);
	cr_assert_eq(ST.c[CNT_TCP_GAPS], 0);
	flowtab_finish(t, 100);
	cr_assert(strstr(L(), "close 1 END @100\n"));
	cr_assert_eq(R.closes, 1);
	flowtab_free(t);
}

Test(flow, duplicates)
{
	struct flowtab *t = newtab(NULL);
	handshake(t, &C, CISN, SISN);
	feed(t, &C, 1, A, CISN + 1, SISN + 1, "hello", 10);
	feed(t, &C, 1, A, CISN + 1, SISN + 1, "hello", 11);
	feed(t, &C, 1, A, CISN + 11, SISN + 1, "XYZ", 12); /* ooo */
	feed(t, &C, 1, A, CISN + 11, SISN + 1, "XYZ", 13); /* dup of buffered */
	feed(t, &C, 1, A, CISN + 6, SISN + 1, "world", 14);
	feed(t, &C, 1, A, CISN + 6, SISN + 1, "world", 15);
	assert_stream(1, 0, "helloworldXYZ");
	cr_assert_eq(ST.c[CNT_TCP_RETRANSMIT], 3);
	cr_assert_eq(ST.c[CNT_TCP_OUT_OF_ORDER], 1);
	cr_assert_eq(R.closed[1].id, 0);
	flowtab_finish(t, 20);
	cr_assert_eq(R.closed[1].bytes[0], 13);
	flowtab_free(t);
}

Test(flow, partial_overlaps)
{
	struct flowtab *t = newtab(NULL);
	handshake(t, &C, CISN, SISN);
	const char *msg = "0123456789abcdefghij";
	feed(t, &C, 1, A, CISN + 1, SISN + 1, "012345", 10);
	feed(t, &C, 1, A, CISN + 1 + 4, SISN + 1, "456789", 11);    /* overlaps head */
	feed(t, &C, 1, A, CISN + 1 + 14, SISN + 1, "efgh", 12);     /* ooo */
	feed(t, &C, 1, A, CISN + 1 + 12, SISN + 1, "cdefghij", 13); /* ooo, spans */
	feed(t, &C, 1, A, CISN + 1 + 8, SISN + 1, "89abcd", 14);    /* fills, overlaps */
	assert_stream(1, 0, msg);
	cr_assert(strstr(L(), "data 1 0 6 @10\n"
	                      "data 1 0 4 @11\n"
	                      "data 1 0 2 @14\n"
	                      "data 1 0 2 @13\n"
	                      "data 1 0 4 @12\n"
	                      "data 1 0 2 @13\n"),
	          "%s", L());
	cr_assert_eq(ST.c[CNT_TCP_OVERLAP], 3);
	cr_assert_eq(ST.c[CNT_TCP_OUT_OF_ORDER], 2);
	flowtab_free(t);
}

Test(flow, sequence_wraparound)
{
	struct flowtab *t = newtab(NULL);
	uint32_t ci = 0xFFFFFFF0u, si = 0xFFFFFFFFu;
	handshake(t, &C, ci, si);
	cr_assert(strstr(L(), "ESTABLISHED"));
	/* client bytes 0..29 across the wrap at offset 15; third first */
	feed(t, &C, 1, A, ci + 1 + 20, si + 1, "uvwxyzABCD", 10);
	feed(t, &C, 1, A, ci + 1, si + 1, "abcdefghij", 11);
	feed(t, &C, 1, A, ci + 1 + 10, si + 1, "klmnopqrst", 12);
	/* server: ISN+1 == 0 */
	feed(t, &C, 0, A, si + 1, ci + 31, "220 wrapped\r\n", 13);
	feed(t, &C, 0, A | F, si + 14, ci + 31, "x", 14);
	feed(t, &C, 1, A | F, ci + 31, si + 16, NULL, 15);
	assert_stream(1, 0, "abcdefghijklmnopqrstuvwxyzABCD");
	assert_stream(1, 1, "220 wrapped\r\nx");
	cr_assert(strstr(L(), "close 1 FIN @15\n"));
	cr_assert_eq(ST.c[CNT_TCP_GAPS], 0);
	flowtab_free(t);
}

Test(flow, gap_buffer_segment_cap)
{
	struct flow_limits lim = {.ooo_max_segs = 2};
	struct flowtab *t = newtab(&lim);
	handshake(t, &C, CISN, SISN);
	uint32_t b = CISN + 1;
	feed(t, &C, 1, A, b + 10, SISN + 1, "BBBBBBBBBB", 10);
	feed(t, &C, 1, A, b + 30, SISN + 1, "DDDDDDDDDD", 11);
	cr_assert_eq(ST.c[CNT_TCP_GAPS], 0);
	feed(t, &C, 1, A, b + 50, SISN + 1, "FFFFFFFFFF", 12); /* cap hit */
	cr_assert(strstr(L(), "gap 1 0 10 @12\n"
	                      "data 1 0 10 @10\n"),
	          "%s", L());
	cr_assert_eq(ST.c[CNT_TCP_OOO_DROPPED], 1);
	flowtab_finish(t, 50);
	cr_assert(strstr(L(), "gap 1 0 10 @12\n"
	                      "data 1 0 10 @10\n"
	                      "gap 1 0 10 @50\n"
	                      "data 1 0 10 @11\n"
	                      "gap 1 0 10 @50\n"
	                      "data 1 0 10 @12\n"
	                      "close 1 END @50\n"),
	          "%s", L());
	cr_assert_eq(R.gaps[1][0], 30);
	cr_assert_eq(ST.c[CNT_TCP_GAPS], 3);
	cr_assert_eq(ST.c[CNT_TCP_GAP_BYTES], 30);
	assert_stream(1, 0, "BBBBBBBBBBDDDDDDDDDDFFFFFFFFFF");
	flowtab_free(t);
}

Test(flow, gap_buffer_byte_cap)
{
	struct flow_limits lim = {.ooo_max_bytes = 15};
	struct flowtab *t = newtab(&lim);
	handshake(t, &C, CISN, SISN);
	uint32_t b = CISN + 1;
	feed(t, &C, 1, A, b + 7, SISN + 1, "BBBBBBBBBB", 10);  /* [7,17) */
	feed(t, &C, 1, A, b + 20, SISN + 1, "CCCCCCCCCC", 11); /* [20,30): 20 > 15 */
	cr_assert(strstr(L(), "gap 1 0 7 @11\n"
	                      "data 1 0 10 @10\n"),
	          "%s", L());
	/* a segment bigger than the whole buffer: give up the holes before it */
	feed(t, &C, 1, A, b + 40, SISN + 1, "0123456789012345678", 12); /* [40,59) */
	cr_assert(strstr(L(), "gap 1 0 3 @12\n"
	                      "data 1 0 10 @11\n"
	                      "gap 1 0 10 @12\n"
	                      "data 1 0 19 @12\n"),
	          "%s", L());
	cr_assert_eq(R.gaps[1][0], 20);
	cr_assert_eq(ST.c[CNT_TCP_GAP_BYTES], 20);
	flowtab_free(t);
}

Test(flow, gap_ack_beyond_hole)
{
	struct flowtab *t = newtab(NULL);
	handshake(t, &C, CISN, SISN);
	uint32_t b = CISN + 1;
	feed(t, &C, 1, A, b, SISN + 1, "0123456789", 10);
	feed(t, &C, 1, A, b + 25, SISN + 1, "PPPPP", 11); /* hole [10,25) */
	/* server acks 20: [10,20) surely lost, [20,25) may still come */
	feed(t, &C, 0, A, SISN + 1, b + 20, NULL, 12);
	cr_assert(strstr(L(), "gap 1 0 10 @12\n"), "%s", L());
	feed(t, &C, 1, A, b + 20, SISN + 1, "QQQQQ", 13);
	cr_assert(strstr(L(), "gap 1 0 10 @12\n"
	                      "data 1 0 5 @13\n"
	                      "data 1 0 5 @11\n"),
	          "%s", L());
	/* ack 17 bytes past everything we saw, nothing buffered */
	feed(t, &C, 0, A, SISN + 1, b + 47, NULL, 14);
	cr_assert(strstr(L(), "gap 1 0 17 @14\n"), "%s", L());
	/* exactly one past: taken for an unseen FIN, no gap */
	feed(t, &C, 0, A, SISN + 1, b + 48, NULL, 15);
	cr_assert_eq(R.gaps[1][0], 27);
	cr_assert_eq(ST.c[CNT_TCP_GAPS], 2);
	/* later data continues after the gap */
	feed(t, &C, 1, A, b + 47, SISN + 1, "next", 16);
	assert_stream(1, 0, "0123456789QQQQQPPPPPnext");
	flowtab_free(t);
}

Test(flow, gap_close_with_hole_and_fin)
{
	struct flowtab *t = newtab(NULL);
	handshake(t, &C, CISN, SISN);
	uint32_t b = CISN + 1;
	feed(t, &C, 1, A, b, SISN + 1, "abc", 10);
	feed(t, &C, 1, A, b + 8, SISN + 1, "xyz", 11);
	feed(t, &C, 1, A | F, b + 20, SISN + 1, "end", 12); /* FIN at 23 */
	flowtab_finish(t, 99);
	cr_assert(strstr(L(), "data 1 0 3 @10\n"
	                      "gap 1 0 5 @99\n"
	                      "data 1 0 3 @11\n"
	                      "gap 1 0 9 @99\n"
	                      "data 1 0 3 @12\n"
	                      "ev 1 FIN 0 @12\n"
	                      "close 1 END @99\n"),
	          "%s", L());
	cr_assert_eq(R.closed[1].fin_ns[0], 12);
	cr_assert_eq(ST.c[CNT_TCP_GAP_BYTES], 14);
	flowtab_free(t);
}

Test(flow, fin_out_of_order_delivered_in_stream_order)
{
	struct flowtab *t = newtab(NULL);
	handshake(t, &C, CISN, SISN);
	feed(t, &C, 1, A | F, CISN + 6, SISN + 1, NULL, 10);
	feed(t, &C, 1, A, CISN + 1, SISN + 1, "QUIT\r", 11);
	cr_assert(strstr(L(), "data 1 0 5 @11\n"
	                      "ev 1 FIN 0 @10\n"),
	          "%s", L());
	/* data past the FIN is ignored */
	feed(t, &C, 1, A, CISN + 7, SISN + 1, "junk", 12);
	cr_assert_eq(R.s[1][0].n, 5);
	feed(t, &C, 0, A | F, SISN + 1, CISN + 7, NULL, 13);
	cr_assert(strstr(L(), "close 1 FIN @13\n"));
	flowtab_free(t);
}

Test(flow, midstream_pickup)
{
	struct flowtab *t = newtab(NULL);
	/* first seen: server data; port 25 makes the receiver the client */
	feed(t, &C, 0, A | P, 77777, 123456, "250 ok\r\n", 10);
	feed(t, &C, 1, A | P, 123456, 77785, "RCPT TO:<a@b>\r\n", 11);
	feed(t, &C, 0, A, 77785, 123456 + 15, NULL, 12);
	/* an older segment from before the pickup point is dropped */
	feed(t, &C, 0, A, 77770, 123456, "xxxxxxx", 13);
	cr_assert_eq(ST.c[CNT_FLOWS], 1);
	cr_assert_eq(ST.c[CNT_FLOWS_MIDSTREAM], 1);
	assert_stream(1, 1, "250 ok\r\n");
	assert_stream(1, 0, "RCPT TO:<a@b>\r\n");
	flowtab_finish(t, 20);
	struct cap_flow *f = &R.closed[1];
	cr_assert_eq(f->cli.port, 40112);
	cr_assert_eq(f->srv.port, 25);
	cr_assert(!f->saw_syn && !f->saw_synack && !f->established);
	cr_assert_eq(f->syn_count, 0);
	cr_assert_eq(ST.c[CNT_TCP_GAPS], 0);
	cr_assert_eq(ST.c[CNT_TCP_UNANSWERED_SYN], 0);
	flowtab_free(t);
}

Test(flow, unanswered_syn_retransmits_then_idle)
{
	struct flow_limits lim = {.syn_idle_ns = 75000};
	struct flowtab *t = newtab(&lim);
	struct conn k = mkconn("192.0.2.10", 51000, "203.0.113.7", 113);
	feed(t, &k, 1, S, 4242, 0, NULL, 1000);
	feed(t, &k, 1, S, 4242, 0, NULL, 4000);
	feed(t, &k, 1, S, 4242, 0, NULL, 10000);
	flowtab_expire(t, 10000 + 74999);
	cr_assert_eq(flowtab_count(t), 1);
	flowtab_expire(t, 10000 + 75000);
	cr_assert_eq(flowtab_count(t), 0);
	cr_assert_str_eq(L(), "open 1 @1000\n"
	                      "ev 1 SYN 0 @1000\n"
	                      "ev 1 SYN_RETX 0 @4000\n"
	                      "ev 1 SYN_RETX 0 @10000\n"
	                      "close 1 IDLE @85000\n");
	struct cap_flow *f = &R.closed[1];
	cr_assert_eq(f->syn_count, 3);
	cr_assert(f->saw_syn);
	cr_assert(!f->saw_synack);
	cr_assert_eq(f->syn_ns, 1000);
	cr_assert_eq(f->last_syn_ns, 10000);
	cr_assert_eq(f->srv.port, 113);
	cr_assert_eq(ST.c[CNT_TCP_SYN_RETX], 2);
	cr_assert_eq(ST.c[CNT_TCP_UNANSWERED_SYN], 1);
	cr_assert_eq(ST.c[CNT_FLOW_IDLE_TIMEOUT], 1);
	flowtab_free(t);
}

Test(flow, syn_refused_by_rst)
{
	struct flowtab *t = newtab(NULL);
	struct conn k = mkconn("192.0.2.10", 51000, "203.0.113.7", 113);
	feed(t, &k, 1, S, 4242, 0, NULL, 1000);
	feed(t, &k, 0, RS | A, 0, 4243, NULL, 1500);
	cr_assert_eq(flowtab_count(t), 0);
	cr_assert_str_eq(L(), "open 1 @1000\n"
	                      "ev 1 SYN 0 @1000\n"
	                      "ev 1 RST 1 @1500\n"
	                      "close 1 RST @1500\n");
	struct cap_flow *f = &R.closed[1];
	cr_assert_eq(f->rst_dir, DIR_S2C);
	cr_assert_eq(f->rst_ns, 1500);
	cr_assert(!f->saw_synack);
	cr_assert_eq(ST.c[CNT_TCP_UNANSWERED_SYN], 0);
	/* a stray RST for nothing creates nothing */
	feed(t, &k, 0, RS, 1, 0, NULL, 1600);
	cr_assert_eq(R.opens, 1);
	flowtab_free(t);
}

Test(flow, rst_after_data_flushes_first)
{
	struct flowtab *t = newtab(NULL);
	handshake(t, &C, CISN, SISN);
	feed(t, &C, 1, A, CISN + 1, SISN + 1, "ab", 10);
	feed(t, &C, 1, A, CISN + 5, SISN + 1, "ef", 11);
	feed(t, &C, 1, RS | A, CISN + 7, SISN + 1, NULL, 12);
	cr_assert(strstr(L(), "data 1 0 2 @10\n"
	                      "gap 1 0 2 @12\n"
	                      "data 1 0 2 @11\n"
	                      "ev 1 RST 0 @12\n"
	                      "close 1 RST @12\n"),
	          "%s", L());
	flowtab_free(t);
}

Test(flow, orientation_synack_only)
{
	struct flowtab *t = newtab(NULL);
	/* capture starts after the SYN: the SYN-ACK receiver is the client */
	struct conn k = mkconn("10.0.0.1", 2000, "10.0.0.2", 3000);
	feed(t, &k, 0, S | A, SISN, CISN + 1, NULL, 1);
	feed(t, &k, 1, A, CISN + 1, SISN + 1, NULL, 2);
	feed(t, &k, 1, A, CISN + 1, SISN + 1, "hi", 3);
	flowtab_finish(t, 9);
	struct cap_flow *f = &R.closed[1];
	cr_assert_eq(f->cli.port, 2000);
	cr_assert(!f->saw_syn && f->saw_synack && f->established);
	cr_assert_eq(f->established_ns, 2);
	assert_stream(1, 0, "hi");
	cr_assert_eq(ST.c[CNT_FLOWS_MIDSTREAM], 0);
	flowtab_free(t);
}

Test(flow, orientation_ports_and_first_sender)
{
	struct flowtab *t = newtab(NULL);
	/* sender has the well-known port: the receiver is the client */
	struct conn k1 = mkconn("10.0.0.1", 110, "10.0.0.2", 50000);
	feed(t, &k1, 1, A, 1, 1, "+OK\r\n", 1);
	/* sender has the high port */
	struct conn k2 = mkconn("10.0.0.3", 50001, "10.0.0.4", 25);
	feed(t, &k2, 1, A, 1, 1, "EHLO x\r\n", 2);
	/* both high: first sender */
	struct conn k3 = mkconn("10.0.0.5", 6000, "10.0.0.6", 7000);
	feed(t, &k3, 1, A, 1, 1, "x", 3);
	/* both low: first sender */
	struct conn k4 = mkconn("10.0.0.7", 113, "10.0.0.8", 25);
	feed(t, &k4, 1, A, 1, 1, "y", 4);
	/* a SYN always makes the sender the client, even from a low port */
	struct conn k5 = mkconn("10.0.0.9", 25, "10.0.0.10", 40000);
	feed(t, &k5, 1, S, 1, 0, NULL, 5);
	flowtab_finish(t, 9);
	cr_assert_eq(R.closed[1].cli.port, 50000);
	cr_assert_eq(R.closed[1].srv.port, 110);
	cr_assert_eq(R.s[1][1].n, 5);
	cr_assert_eq(R.closed[2].cli.port, 50001);
	cr_assert_eq(R.closed[3].cli.port, 6000);
	cr_assert_eq(R.closed[4].cli.port, 113);
	cr_assert_eq(R.closed[5].cli.port, 25);
	cr_assert_eq(ST.c[CNT_FLOWS_MIDSTREAM], 4);
	flowtab_free(t);
}

Test(flow, vlan_is_not_part_of_the_key_ipv6_is)
{
	/* a mirror (SPAN) port delivers one connection tagged and untagged:
	 * one flow, whatever the tag of each packet */
	struct flowtab *t = newtab(NULL);
	struct conn a = C, b = C;
	b.vlan = 7;
	feed(t, &b, 1, S, 1, 0, NULL, 1);
	feed(t, &a, 0, S | A, 500, 2, NULL, 2);
	feed(t, &b, 1, A, 2, 501, NULL, 3);
	feed(t, &a, 0, A | P, 501, 2, "220 hi\r\n", 4);
	feed(t, &b, 1, A | P, 2, 509, "QUIT\r\n", 5);
	struct conn v6 = mkconn("2001:db8::1", 40112, "2001:db8::2", 25);
	feed(t, &v6, 1, S, 1, 0, NULL, 6);
	feed(t, &v6, 0, S | A, 9, 2, NULL, 7);
	cr_assert_eq(flowtab_count(t), 2);
	flowtab_finish(t, 9);
	cr_assert_eq(R.closed[1].vlan, 7, "the VID of the first packet is kept");
	cr_assert(R.closed[1].established);
	assert_stream(1, 0, "QUIT\r\n");
	assert_stream(1, 1, "220 hi\r\n");
	cr_assert(R.closed[2].saw_synack);
	cr_assert_eq(ST.c[CNT_FLOWS], 2);
	flowtab_free(t);
}

Test(flow, eviction_at_max_flows)
{
	struct flow_limits lim = {.max_flows = 4};
	struct flowtab *t = newtab(&lim);
	for (int i = 0; i < 5; i++) {
		struct conn k = C;
		k.cp = (uint16_t)(41000 + i);
		feed(t, &k, 1, S, 100, 0, NULL, (uint64_t)(10 + i));
		cr_assert_leq(flowtab_count(t), 4);
	}
	cr_assert_eq(flowtab_count(t), 4);
	cr_assert(strstr(L(), "close 1 EVICTED @14\nopen 5 @14\n"), "%s", L());
	cr_assert_eq(ST.c[CNT_FLOW_EVICTED], 1);
	cr_assert_eq(ST.c[CNT_TCP_UNANSWERED_SYN], 1);
	/* activity moves a flow to the back: flow 2 is touched, 3 goes next */
	struct conn k2 = C;
	k2.cp = 41001;
	feed(t, &k2, 1, S, 100, 0, NULL, 20);
	struct conn k6 = C;
	k6.cp = 42000;
	feed(t, &k6, 1, S, 100, 0, NULL, 21);
	cr_assert(strstr(L(), "close 3 EVICTED @21\n"), "%s", L());
	cr_assert_eq(ST.c[CNT_FLOW_EVICTED], 2);
	flowtab_finish(t, 30);
	cr_assert_eq(R.opens, R.closes);
	flowtab_free(t);
}

Test(flow, eviction_prefers_flow_closest_to_timeout)
{
	struct flow_limits lim = {.max_flows = 2, .idle_ns = 600, .syn_idle_ns = 75};
	struct flowtab *t = newtab(&lim);
	handshake(t, &C, CISN, SISN); /* flow 1: answered, last seen at 3 */
	struct conn k = C;
	k.cp = 41000;
	feed(t, &k, 1, S, 1, 0, NULL, 10); /* flow 2: SYN only, deadline 85 */
	k.cp = 41001;
	feed(t, &k, 1, S, 1, 0, NULL, 11); /* flow 3 evicts flow 2, not 1 */
	cr_assert(strstr(L(), "close 2 EVICTED @11\n"), "%s", L());
	flowtab_free(t);
}

Test(flow, idle_timeouts_per_class)
{
	struct flow_limits lim = {.idle_ns = 600, .syn_idle_ns = 75};
	struct flowtab *t = newtab(&lim);
	handshake(t, &C, CISN, SISN);
	feed(t, &C, 0, A, SISN + 1, CISN + 1, "220\r\n", 100);
	struct conn k = C;
	k.cp = 50000;
	handshake(t, &k, CISN, SISN);
	feed(t, &k, 1, A | F, CISN + 1, SISN + 1, NULL, 100); /* half closed */
	flowtab_expire(t, 174);
	cr_assert_eq(flowtab_count(t), 2);
	flowtab_expire(t, 175);
	cr_assert_eq(flowtab_count(t), 1);
	cr_assert(strstr(L(), "close 2 IDLE @175\n"));
	flowtab_expire(t, 699);
	cr_assert_eq(flowtab_count(t), 1);
	flowtab_expire(t, 700);
	cr_assert_eq(flowtab_count(t), 0);
	cr_assert(strstr(L(), "close 1 IDLE @700\n"));
	cr_assert_eq(ST.c[CNT_FLOW_IDLE_TIMEOUT], 2);
	cr_assert_eq(ST.c[CNT_TCP_UNANSWERED_SYN], 0);
	flowtab_free(t);
}

/* a flow noticed idle long after its timeout ran out (a gap of days between
   two files of one run) closes at the moment the timeout ran out */
Test(flow, idle_close_at_the_deadline_not_when_noticed)
{
	struct flow_limits lim = {.idle_ns = 600, .syn_idle_ns = 75};
	struct flowtab *t = newtab(&lim);
	handshake(t, &C, CISN, SISN);
	feed(t, &C, 0, A, SISN + 1, CISN + 1, "220\r\n", 100);
	flowtab_expire(t, 1000000);
	cr_assert_eq(flowtab_count(t), 0);
	cr_assert(strstr(L(), "close 1 IDLE @700\n"), "%s", L());
	flowtab_free(t);
}

Test(flow, defaults_when_limits_zero)
{
	struct flow_limits lim = {.max_flows = 0};
	struct flowtab *t = newtab(&lim);
	feed(t, &C, 1, S, 1, 0, NULL, 1);
	flowtab_expire(t, 1 + 75000000000ull - 1);
	cr_assert_eq(flowtab_count(t), 1);
	flowtab_expire(t, 1 + 75000000000ull);
	cr_assert_eq(flowtab_count(t), 0);
	handshake(t, &C, 5, 6);
	flowtab_expire(t, 3 + 599000000000ull);
	cr_assert_eq(flowtab_count(t), 1);
	flowtab_expire(t, 3 + 600000000000ull);
	cr_assert_eq(flowtab_count(t), 0);
	flowtab_free(t);
}

Test(flow, syn_new_isn_is_a_new_flow)
{
	struct flowtab *t = newtab(NULL);
	/* unanswered attempt, then a new connect() from the same port */
	feed(t, &C, 1, S, 100, 0, NULL, 1);
	feed(t, &C, 1, S, 100, 0, NULL, 2);
	feed(t, &C, 1, S, 90000, 0, NULL, 3);
	cr_assert_eq(flowtab_count(t), 1);
	cr_assert(strstr(L(), "close 1 IDLE @3\nopen 2 @3\nev 2 SYN 0 @3\n"), "%s", L());
	cr_assert_eq(R.closed[1].syn_count, 2);
	cr_assert_eq(ST.c[CNT_FLOW_REUSED], 1);
	cr_assert_eq(ST.c[CNT_TCP_UNANSWERED_SYN], 1);
	cr_assert_eq(ST.c[CNT_TCP_SYN_RETX], 1);
	/* flow 2 completes and closes; the tuple's next SYN opens flow 3 */
	feed(t, &C, 0, S | A, 7, 90001, NULL, 4);
	feed(t, &C, 1, A | F, 90001, 8, NULL, 5);
	feed(t, &C, 0, A | F, 8, 90002, NULL, 6);
	cr_assert(strstr(L(), "close 2 FIN @6\n"));
	feed(t, &C, 1, S, 123, 0, NULL, 7);
	cr_assert(strstr(L(), "open 3 @7\nev 3 SYN 0 @7\n"));
	cr_assert_eq(R.closed[2].syn_count, 1);
	flowtab_free(t);
}

Test(flow, snapped_payload_is_data_plus_gap)
{
	struct flowtab *t = newtab(NULL);
	handshake(t, &C, CISN, SISN);
	struct decoded p = seg(&C, 1, A, CISN + 1, SISN + 1, "0123456789", 10, 10);
	p.payload_wirelen = 30;
	flowtab_tcp(t, &p);
	feed(t, &C, 1, A, CISN + 31, SISN + 1, "next", 11);
	/* a snapped out-of-order segment keeps its hole for later */
	p = seg(&C, 1, A, CISN + 45, SISN + 1, "abc", 3, 12);
	p.payload_wirelen = 5;
	flowtab_tcp(t, &p);
	feed(t, &C, 1, A, CISN + 35, SISN + 1, "0123456789", 13);
	feed(t, &C, 1, A, CISN + 50, SISN + 1, "z", 14);
	cr_assert(strstr(L(), "data 1 0 10 @10\n"
	                      "gap 1 0 20 @10\n"
	                      "data 1 0 4 @11\n"
	                      "data 1 0 10 @13\n"
	                      "data 1 0 3 @12\n"
	                      "gap 1 0 2 @12\n"
	                      "data 1 0 1 @14\n"),
	          "%s", L());
	cr_assert_eq(ST.c[CNT_TCP_SNAPPED], 22);
	cr_assert_eq(R.gaps[1][0], 22);
	flowtab_free(t);
}

Test(flow, want_packets_calls_packet_before_processing)
{
	R.want_packets = true;
	struct flowtab *t = newtab(NULL);
	handshake(t, &C, CISN, SISN);
	feed(t, &C, 0, A, SISN + 1, CISN + 1, "220\r\n", 4);
	cr_assert_str_eq(L(), "open 1 @1\n"
	                      "pkt 1 0 len 0\n"
	                      "ev 1 SYN 0 @1\n"
	                      "pkt 1 1 len 0\n"
	                      "ev 1 SYNACK 1 @2\n"
	                      "pkt 1 0 len 0\n"
	                      "ev 1 ESTABLISHED 0 @3\n"
	                      "pkt 1 1 len 5\n"
	                      "data 1 1 5 @4\n");
	flowtab_free(t);
}

Test(flow, null_ops_and_stats)
{
	struct flowtab *t = flowtab_new(NULL, NULL, NULL);
	cr_assert(t);
	handshake(t, &C, CISN, SISN);
	feed(t, &C, 1, A, CISN + 5, SISN + 1, "x", 4);
	feed(t, &C, 0, RS, SISN + 1, 0, NULL, 5);
	cr_assert_eq(flowtab_count(t), 0);
	feed(t, &C, 1, A, CISN + 5, SISN + 1, "x", 6);
	flowtab_finish(t, 7);
	feed(t, &C, 1, A, CISN + 5, SISN + 1, "x", 8);
	flowtab_free(t); /* open flow, no callbacks */
}

Test(flow, many_flows_hash_correctly)
{
	R.quiet = true;
	struct flowtab *t = newtab(NULL);
	const int n = 100000;
	for (int i = 0; i < n; i++) {
		struct conn k = C;
		uint8_t a[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
		mx_addr_set4(&k.c, a);
		k.cp = (uint16_t)(1024 + i % 50000);
		feed(t, &k, 1, S, (uint32_t)i, 0, NULL, (uint64_t)i);
	}
	cr_assert_eq(flowtab_count(t), (size_t)n);
	for (int i = n - 1; i >= 0; i--) {
		struct conn k = C;
		uint8_t a[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
		mx_addr_set4(&k.c, a);
		k.cp = (uint16_t)(1024 + i % 50000);
		feed(t, &k, 0, S | A, 7, (uint32_t)i + 1, NULL, (uint64_t)(n + i));
	}
	cr_assert_eq(flowtab_count(t), (size_t)n);
	cr_assert_eq(ST.c[CNT_FLOWS], (uint64_t)n);
	flowtab_finish(t, 2 * (uint64_t)n);
	cr_assert_eq(R.closes, (uint64_t)n);
	cr_assert_eq(R.closed_synack, (uint64_t)n);
	cr_assert_eq(R.closed_syn1, (uint64_t)n);
	cr_assert_eq(ST.c[CNT_TCP_UNANSWERED_SYN], 0);
	flowtab_free(t);
}

/* ---- property: any arrival order gives the same byte stream ---------- */

static uint64_t rng_state;

static uint32_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)rng_state;
}

struct pseg {
	int from_c;
	uint32_t off, len;
	bool fin;
};

Test(flow, any_permutation_same_stream)
{
	R.quiet = true;
	enum { LEN = 3000, MAXSEG = 400 };
	static uint8_t data[2][LEN];
	static struct pseg segs[MAXSEG];
	rng_state = 0x9E3779B97F4A7C15ull;
	for (int d = 0; d < 2; d++)
		for (int i = 0; i < LEN; i++)
			data[d][i] = (uint8_t)rnd();
	const uint32_t isn[2] = {0xFFFFFF00u, 0x7FFFFFF0u}; /* client wraps */

	for (int round = 0; round < 200; round++) {
		int ns = 0;
		for (int d = 0; d < 2; d++) {
			uint32_t off = 0;
			while (off < LEN) {
				uint32_t len = 1 + rnd() % 120;
				if (off + len > LEN)
					len = LEN - off;
				segs[ns++] = (struct pseg){d == 0, off, len, off + len == LEN};
				/* some duplicates and overlapping re-segmentations */
				if (rnd() % 4 == 0) {
					uint32_t o2 = off > 30 ? off - rnd() % 30 : 0;
					uint32_t l2 = 1 + rnd() % 150;
					if (o2 + l2 > LEN)
						l2 = LEN - o2;
					segs[ns++] = (struct pseg){d == 0, o2, l2, false};
				}
				off += len;
			}
		}
		cr_assert_lt(ns, MAXSEG);
		for (int i = ns - 1; i > 0; i--) {
			int j = (int)(rnd() % (uint32_t)(i + 1));
			struct pseg tmp = segs[i];
			segs[i] = segs[j];
			segs[j] = tmp;
		}
		reset();
		R.quiet = true;
		struct flow_limits lim = {.ooo_max_segs = 1000, .ooo_max_bytes = 1 << 20};
		struct flowtab *t = newtab(&lim);
		handshake(t, &C, isn[0], isn[1]);
		for (int i = 0; i < ns; i++) {
			struct pseg *s = &segs[i];
			int d = s->from_c ? 0 : 1;
			struct decoded p =
			    seg(&C, s->from_c, (uint8_t)(A | (s->fin ? F : 0)), isn[d] + 1 + s->off,
			        isn[!d] + 1, data[d] + s->off, s->len, (uint64_t)(100 + i));
			flowtab_tcp(t, &p);
		}
		flowtab_finish(t, 100000);
		for (int d = 0; d < 2; d++) {
			cr_assert_eq(R.s[1][d].n, LEN, "round %d dir %d: %zu", round, d,
			             R.s[1][d].n);
			cr_assert(memcmp(R.s[1][d].p, data[d], LEN) == 0, "round %d dir %d", round,
			          d);
			cr_assert_eq(R.gaps[1][d], 0);
			cr_assert_eq(R.closed[1].fin_ns[d] != 0, true);
		}
		cr_assert_eq(R.opens, R.closes);
		flowtab_free(t);
	}
}
