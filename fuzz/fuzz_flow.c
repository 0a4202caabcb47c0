/*
 * fuzz_flow.c - libFuzzer harness for the TCP flow table and reassembly.
 *
 * The input is a 4-byte header (limits, ISNs, options) followed by 6-byte
 * records, each one synthetic TCP segment on one of four tuples:
 *   r0: bits 0-1 tuple, bit 2 direction, bits 3-4 seq mode (at the
 *       sender's cursor / ahead / behind / arbitrary), bit 5 snapped,
 *       bits 6-7 ack mode (peer cursor / behind / ahead / arbitrary)
 *   r1: TCP flags        r2: seq delta      r3: payload length (0-63)
 *   r4: time step (ms)   r5: ack delta
 * Payload byte at sequence number s is (uint8_t)s, so the consumer can
 * check that the delivered stream (data + gaps) is consistent.
 * Invariants (abort on violation): close once per open and never a
 * callback after it; delivered bytes per tuple and direction never exceed
 * captured bytes offered; content and gap accounting agree; nothing after
 * a direction's FIN; f->bytes matches what was delivered; the table never
 * holds more than max_flows.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/flow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NTUP 4
#define MS 1000000ull
#define MAX_RECORDS 200000

struct tup {
	struct mx_addr a, b;
	uint16_t ap, bp;
	uint32_t snd[2]; /* next seq per wire direction (0: a->b) */
	uint32_t isn[2];
	uint64_t offered[2], delivered[2];
};

struct frec {
	int tup;
	int wire[2]; /* flow dir -> wire dir */
	bool known[2];
	uint8_t expect[2];
	bool fin[2];
	uint64_t bytes[2];
	uint32_t magic;
};

struct fz {
	struct tup t[NTUP];
	uint64_t opens, closes;
	uint32_t max_flows;
	struct flowtab *tab;
	struct frec *live[8]; /* consumer state of open flows */
	unsigned nlive;
};

#define MAGIC 0x464c4f57u

static void
check(bool ok)
{
	if (!ok)
		abort();
}

static int
tup_of(struct fz *z, const struct cap_flow *f, int *wire_c2s)
{
	for (int i = 0; i < NTUP; i++) {
		struct tup *t = &z->t[i];
		if (f->cli.port == t->ap && f->srv.port == t->bp &&
		    mx_addr_eq(&f->cli.addr, &t->a)) {
			*wire_c2s = 0;
			return i;
		}
		if (f->cli.port == t->bp && f->srv.port == t->ap &&
		    mx_addr_eq(&f->cli.addr, &t->b)) {
			*wire_c2s = 1;
			return i;
		}
	}
	abort();
}

static struct frec *
rec_of(struct cap_flow *f)
{
	struct frec *r = f->user;
	check(r != NULL && r->magic == MAGIC);
	return r;
}

static void
on_open(void *ctx, struct cap_flow *f, uint64_t ts)
{
	struct fz *z = ctx;
	struct frec *r = calloc(1, sizeof(*r));
	check(r != NULL);
	check(f->user == NULL);
	int w;
	r->tup = tup_of(z, f, &w);
	r->wire[DIR_C2S] = w;
	r->wire[DIR_S2C] = !w;
	r->magic = MAGIC;
	f->user = r;
	f->want_packets = (f->id & 1) != 0;
	z->opens++;
	check(z->nlive < z->max_flows);
	z->live[z->nlive++] = r;
}

static void
on_packet(void *ctx, struct cap_flow *f, enum cap_dir d, const struct decoded *p)
{
	rec_of(f);
	check(f->want_packets);
	check(d == DIR_C2S || d == DIR_S2C);
	check(p->l4proto == 6);
}

static void
on_data(void *ctx, struct cap_flow *f, enum cap_dir d, const uint8_t *p, size_t n, uint64_t ts)
{
	struct fz *z = ctx;
	struct frec *r = rec_of(f);
	check(n > 0);
	check(!r->fin[d]);
	for (size_t i = 0; i < n; i++) {
		check(!r->known[d] || p[i] == r->expect[d]);
		r->expect[d] = (uint8_t)(p[i] + 1);
		r->known[d] = true;
	}
	r->bytes[d] += n;
	check(f->bytes[d] == r->bytes[d]);
	struct tup *t = &z->t[r->tup];
	int w = r->wire[d];
	t->delivered[w] += n;
	check(t->delivered[w] <= t->offered[w]);
}

static void
on_gap(void *ctx, struct cap_flow *f, enum cap_dir d, uint64_t lost, uint64_t ts)
{
	struct frec *r = rec_of(f);
	check(lost > 0);
	check(!r->fin[d]);
	r->expect[d] = (uint8_t)(r->expect[d] + lost);
}

static void
on_event(void *ctx, struct cap_flow *f, enum cap_tcp_ev ev, enum cap_dir d, uint64_t ts)
{
	struct frec *r = rec_of(f);
	if (ev == TEV_FIN) {
		check(!r->fin[d]);
		r->fin[d] = true;
		check(f->fin_ns[d] == ts);
	}
	if (ev == TEV_SYN_RETX)
		check(f->syn_count > 1);
	if (ev == TEV_ESTABLISHED)
		check(f->saw_synack);
}

static void
on_close(void *ctx, struct cap_flow *f, enum cap_close why, uint64_t ts)
{
	struct fz *z = ctx;
	struct frec *r = rec_of(f);
	if (why == CLOSE_FIN)
		check(r->fin[0] && r->fin[1]);
	if (why == CLOSE_RST)
		check(f->rst_dir == 0 || f->rst_dir == 1);
	check(f->bytes[0] == r->bytes[0] && f->bytes[1] == r->bytes[1]);
	unsigned i = 0;
	while (i < z->nlive && z->live[i] != r)
		i++;
	check(i < z->nlive);
	z->live[i] = z->live[--z->nlive];
	r->magic = 0;
	free(r);
	f->user = NULL;
	z->closes++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	struct fz z;
	memset(&z, 0, sizeof(z));
	struct flow_limits lim = {
	    .max_flows = 1 + (data[0] & 3),
	    .idle_ns = 200 * MS,
	    .syn_idle_ns = 50 * MS,
	    .ooo_max_segs = 1 + (data[1] & 7),
	    .ooo_max_bytes = 1 + (uint32_t)data[2] * 2,
	};
	z.max_flows = lim.max_flows;
	struct cap_ops ops = {
	    .ctx = &z,
	    .open = on_open,
	    .packet = on_packet,
	    .data = on_data,
	    .gap = on_gap,
	    .event = on_event,
	    .close = on_close,
	};
	struct cap_stats st;
	memset(&st, 0, sizeof(st));
	z.tab = flowtab_new(&lim, &ops, &st);
	if (!z.tab)
		return 0;

	static const uint16_t aports[NTUP] = {40000, 25, 5000, 113};
	static const uint16_t bports[NTUP] = {25, 40001, 6000, 110};
	for (int i = 0; i < NTUP; i++) {
		struct tup *t = &z.t[i];
		uint8_t a4[4] = {192, 0, 2, (uint8_t)(1 + i)}, b4[4] = {198, 51, 100, 7};
		if (i == 2) {
			uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
			uint8_t b6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
			mx_addr_set6(&t->a, a6);
			mx_addr_set6(&t->b, b6);
		} else {
			mx_addr_set4(&t->a, a4);
			mx_addr_set4(&t->b, b4);
		}
		t->ap = aports[i];
		t->bp = bports[i];
		/* ISNs near the wrap when header bit i is set */
		t->isn[0] =
		    (data[3] >> i & 1) ? 0xFFFFFFC0u + (uint32_t)i : 1000u * (uint32_t)(i + 1);
		t->isn[1] = (data[3] >> (i + 4) & 1) ? 0xFFFFFFF0u : 7000u * (uint32_t)(i + 1);
		t->snd[0] = t->isn[0];
		t->snd[1] = t->isn[1];
	}

	uint64_t now = 1000 * MS;
	uint8_t pl[64];
	size_t nrec = (size - 4) / 6;
	if (nrec > MAX_RECORDS)
		nrec = MAX_RECORDS;
	for (size_t i = 0; i < nrec; i++) {
		const uint8_t *r = data + 4 + i * 6;
		struct tup *t = &z.t[r[0] & 3];
		int w = r[0] >> 2 & 1;
		int seqmode = r[0] >> 3 & 3, snapped = r[0] >> 5 & 1, ackmode = r[0] >> 6 & 3;
		uint8_t flags = r[1] & 0x3f;
		uint32_t len = r[3] & 63;
		now += (uint64_t)r[4] * MS;

		uint32_t seq;
		if (flags & TCPF_SYN) {
			seq = t->isn[w];
		} else {
			switch (seqmode) {
			case 0:
				seq = t->snd[w];
				break;
			case 1:
				seq = t->snd[w] + r[2];
				break;
			case 2:
				seq = t->snd[w] - r[2];
				break;
			default:
				seq = (uint32_t)r[2] << 24 | (uint32_t)r[5] << 8;
				break;
			}
		}
		uint32_t peer = t->snd[!w], ack;
		switch (ackmode) {
		case 0:
			ack = peer;
			break;
		case 1:
			ack = peer - r[5];
			break;
		case 2:
			ack = peer + r[5];
			break;
		default:
			ack = (uint32_t)r[5] << 24;
			break;
		}
		uint32_t dseq = (flags & TCPF_SYN) ? seq + 1 : seq;
		for (uint32_t k = 0; k < len; k++)
			pl[k] = (uint8_t)(dseq + k);
		uint32_t cap = snapped ? len / 2 : len;

		struct decoded p;
		memset(&p, 0, sizeof(p));
		p.ts_ns = now;
		p.l4proto = 6;
		p.src = w ? t->b : t->a;
		p.dst = w ? t->a : t->b;
		p.sport = w ? t->bp : t->ap;
		p.dport = w ? t->ap : t->bp;
		p.tcp_flags = flags;
		p.seq = seq;
		p.ack = ack;
		p.payload = bv_make(cap ? pl : NULL, cap);
		p.payload_wirelen = len;
		t->offered[w] += cap;
		flowtab_tcp(z.tab, &p);
		check(flowtab_count(z.tab) <= z.max_flows);

		/* advance the sender's cursor past what it just sent in order */
		uint32_t adv = len + ((flags & TCPF_FIN) ? 1 : 0);
		if (flags & TCPF_SYN) {
			if (t->snd[w] == t->isn[w])
				t->snd[w] = dseq + adv;
		} else if (seq == t->snd[w]) {
			t->snd[w] += adv;
		}
		if (r[4] & 0x80)
			flowtab_expire(z.tab, now);
	}
	check(z.opens - z.closes == flowtab_count(z.tab));
	if (data[0] & 0x80) {
		flowtab_free(z.tab); /* open flows get no callbacks */
		for (unsigned i = 0; i < z.nlive; i++)
			free(z.live[i]);
		return 0;
	}
	flowtab_finish(z.tab, now);
	check(flowtab_count(z.tab) == 0);
	check(z.opens == z.closes);
	check(z.opens == st.c[CNT_FLOWS]);
	flowtab_free(z.tab);
	return 0;
}
