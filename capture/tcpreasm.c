/*
 * tcpreasm.c - one direction of TCP stream reassembly (RFC 9293 3.4).
 *
 * Offsets are 64-bit and relative to the stream start; a 32-bit sequence
 * number is unwrapped to the offset nearest the next expected byte, so
 * wrap-around needs no special case.  Out-of-order data lives in a short
 * sorted list of non-overlapping pieces (first arrival wins); a piece is
 * either captured bytes or a "lost" range (the snapped tail of a segment),
 * which is reported as a gap when the stream reaches it.
 */
#include "tcpreasm.h"

#include <stdlib.h>
#include <string.h>

struct tr_seg {
	struct tr_seg *next;
	uint64_t off;
	uint64_t ts;
	uint32_t len;
	bool lost; /* no bytes: reported as a gap */
	uint8_t data[];
};

/* acks further ahead than this are taken for garbage, not capture loss */
#define TR_ACK_MAX_AHEAD (UINT64_C(1) << 30)

static void
report_gap(const struct tr_env *env, void *arg, uint64_t n, uint64_t ts)
{
	if (n == 0)
		return;
	CAP_COUNT(env->st, TCP_GAPS);
	CAP_ADD(env->st, TCP_GAP_BYTES, n);
	if (env->gap)
		env->gap(arg, n, ts);
}

static void
report_data(const struct tr_env *env, void *arg, const uint8_t *p, size_t n, uint64_t ts)
{
	if (n && env->data)
		env->data(arg, p, n, ts);
}

static void
seg_free(struct tcpreasm *r, struct tr_seg *s)
{
	r->ooo_segs--;
	if (!s->lost)
		r->ooo_bytes -= s->len;
	free(s);
}

void
tr_release(struct tcpreasm *r)
{
	struct tr_seg *s = r->ooo;
	while (s) {
		struct tr_seg *n = s->next;
		free(s);
		s = n;
	}
	r->ooo = NULL;
	r->ooo_bytes = 0;
	r->ooo_segs = 0;
}

void
tr_start(struct tcpreasm *r, uint32_t seq)
{
	tr_release(r);
	memset(r, 0, sizeof(*r));
	r->base = seq;
	r->started = true;
}

int64_t
tr_offset(const struct tcpreasm *r, uint32_t seq)
{
	uint32_t cur = r->base + (uint32_t)r->next;
	return (int64_t)r->next + (int32_t)(seq - cur);
}

/* Delivers buffered pieces that became contiguous, then a reached FIN. */
static void
drain(struct tcpreasm *r, const struct tr_env *env, void *arg)
{
	struct tr_seg *s;
	while ((s = r->ooo) != NULL && s->off <= r->next) {
		uint64_t end = s->off + s->len;
		if (end > r->next) {
			uint64_t skip = r->next - s->off;
			if (s->lost)
				report_gap(env, arg, end - r->next, s->ts);
			else
				report_data(env, arg, s->data + skip, (size_t)(s->len - skip),
				            s->ts);
			r->next = end;
		}
		r->ooo = s->next;
		seg_free(r, s);
	}
	if (r->fin_seen && !r->fin_done && r->next == r->fin_off) {
		r->fin_done = true;
		r->next = r->fin_off + 1;
		tr_release(r);
		if (env->fin)
			env->fin(arg, r->fin_ts);
	}
}

/* Records the first FIN at or after the next expected byte; prunes beyond. */
static void
register_fin(struct tcpreasm *r, int64_t pos, uint64_t ts)
{
	if (r->fin_seen || pos < (int64_t)r->next)
		return;
	r->fin_seen = true;
	r->fin_off = (uint64_t)pos;
	r->fin_ts = ts;
	struct tr_seg **pp = &r->ooo;
	while (*pp) {
		struct tr_seg *s = *pp;
		if (s->off >= r->fin_off) {
			*pp = s->next;
			seg_free(r, s);
			continue;
		}
		if (s->off + s->len > r->fin_off) {
			uint32_t nl = (uint32_t)(r->fin_off - s->off);
			if (!s->lost)
				r->ooo_bytes -= s->len - nl;
			s->len = nl;
		}
		pp = &s->next;
	}
}

/*
 * Walks the parts of [off, end) no buffered piece covers; captured bytes
 * are [off, capend).  Counts the pieces and captured bytes they need and,
 * when insert is set, links copies of them into the list.  Returns false
 * if an allocation failed (the missing piece becomes a hole).
 */
static bool
walk(struct tcpreasm *r, uint64_t off, uint64_t end, uint64_t capend, const uint8_t *p, uint64_t ts,
     bool insert, uint32_t *nsegs, uint64_t *nbytes, bool *covered)
{
	struct tr_seg **pp = &r->ooo;
	uint64_t cur = off;
	*nsegs = 0;
	*nbytes = 0;
	*covered = false;
	while (cur < end) {
		struct tr_seg *s = *pp;
		if (s && s->off + s->len <= cur) {
			pp = &s->next;
			continue;
		}
		if (s && s->off <= cur) {
			*covered = true;
			cur = s->off + s->len;
			pp = &s->next;
			continue;
		}
		uint64_t stop = end;
		if (s && s->off < end) {
			stop = s->off;
			*covered = true;
		}
		/* [cur, stop) is uncovered: split at capend */
		uint64_t cuts[3] = {cur, stop, stop};
		if (capend > cur && capend < stop)
			cuts[1] = capend;
		for (int i = 0; i < 2; i++) {
			uint64_t a = cuts[i], b = cuts[i + 1];
			if (a >= b)
				continue;
			bool lost = a >= capend;
			(*nsegs)++;
			if (!lost)
				*nbytes += b - a;
			if (!insert)
				continue;
			size_t dl = lost ? 0 : (size_t)(b - a);
			struct tr_seg *n = malloc(sizeof(*n) + dl);
			if (!n)
				return false;
			n->off = a;
			n->ts = ts;
			n->len = (uint32_t)(b - a);
			n->lost = lost;
			if (dl)
				memcpy(n->data, p + (a - off), dl);
			n->next = *pp;
			*pp = n;
			pp = &n->next;
			r->ooo_segs++;
			if (!lost)
				r->ooo_bytes += n->len;
		}
		cur = stop;
	}
	return true;
}

/* Emits [off, end) in order: captured bytes, then the snapped rest as a gap. */
static void
emit(struct tcpreasm *r, const struct tr_env *env, void *arg, const uint8_t *p, uint32_t cap,
     uint64_t len, uint64_t ts)
{
	report_data(env, arg, p, cap, ts);
	if (len > cap)
		report_gap(env, arg, len - cap, ts);
	r->next += len;
}

static void
add(struct tcpreasm *r, const struct tr_env *env, void *arg, int64_t off, const uint8_t *p,
    uint32_t cap, uint32_t wire, uint64_t ts)
{
	int64_t end = off + (int64_t)wire;
	bool overlap = false, ooo = false, progressed = false;

	if (r->fin_seen && end > (int64_t)r->fin_off)
		end = (int64_t)r->fin_off; /* nothing exists past the FIN */
	for (;;) {
		int64_t next = (int64_t)r->next;
		if (end <= next) {
			if (!overlap && !ooo && !progressed)
				CAP_COUNT(env->st, TCP_RETRANSMIT);
			return;
		}
		if (off < next) {
			uint64_t skip = (uint64_t)(next - off);
			if (skip >= cap) {
				p += cap;
				cap = 0;
			} else {
				p += skip;
				cap -= (uint32_t)skip;
			}
			off = next;
			if (!overlap && !ooo)
				CAP_COUNT(env->st, TCP_OVERLAP);
			overlap = true;
		}
		if ((uint64_t)(end - off) < cap)
			cap = (uint32_t)(end - off);
		if (off == next) {
			/* in order; bytes already buffered keep their first arrival */
			uint64_t len = (uint64_t)(end - off);
			if (r->ooo && r->ooo->off < (uint64_t)end)
				len = r->ooo->off - (uint64_t)off;
			uint32_t c = cap < len ? cap : (uint32_t)len;
			emit(r, env, arg, p, c, len, ts);
			if (len == (uint64_t)(end - off))
				return;
			p += c;
			cap -= c;
			off += (int64_t)len;
			progressed = true;
			if (!overlap && !ooo)
				CAP_COUNT(env->st, TCP_OVERLAP);
			overlap = true;
			drain(r, env, arg);
			continue;
		}

		/* out of order: buffer what the buffer does not hold yet */
		uint32_t nsegs;
		uint64_t nbytes;
		bool covered;
		uint64_t uoff = (uint64_t)off, uend = (uint64_t)end;
		walk(r, uoff, uend, uoff + cap, p, ts, false, &nsegs, &nbytes, &covered);
		if (nsegs == 0) {
			if (!overlap && !ooo)
				CAP_COUNT(env->st, TCP_RETRANSMIT);
			return;
		}
		if (!ooo) {
			CAP_COUNT(env->st, TCP_OUT_OF_ORDER);
			if (covered && !overlap)
				CAP_COUNT(env->st, TCP_OVERLAP);
			ooo = true;
		}
		if ((uint64_t)r->ooo_segs + nsegs <= env->max_segs &&
		    (uint64_t)r->ooo_bytes + nbytes <= env->max_bytes) {
			if (!walk(r, uoff, uend, uoff + cap, p, ts, true, &nsegs, &nbytes,
			          &covered))
				CAP_COUNT(env->st, TCP_OOO_DROPPED);
			return;
		}
		/* buffer full: give up the first hole and try again */
		CAP_COUNT(env->st, TCP_OOO_DROPPED);
		uint64_t to = r->ooo && r->ooo->off < uoff ? r->ooo->off : uoff;
		report_gap(env, arg, to - r->next, ts);
		r->next = to;
		drain(r, env, arg);
	}
}

void
tr_segment(struct tcpreasm *r, const struct tr_env *env, void *arg, uint32_t seq, const uint8_t *p,
           uint32_t caplen, uint32_t wirelen, bool fin, uint64_t ts_ns)
{
	if (!r->started)
		tr_start(r, seq);
	if (wirelen < caplen)
		wirelen = caplen;
	else if (wirelen > caplen)
		CAP_ADD(env->st, TCP_SNAPPED, wirelen - caplen);
	int64_t off = tr_offset(r, seq);
	if (fin)
		register_fin(r, off + (int64_t)wirelen, ts_ns);
	if (wirelen > 0)
		add(r, env, arg, off, p, caplen, wirelen, ts_ns);
	drain(r, env, arg);
}

void
tr_ack(struct tcpreasm *r, const struct tr_env *env, void *arg, uint32_t ack, uint64_t ts_ns)
{
	if (!r->started || r->fin_done)
		return;
	int64_t a = tr_offset(r, ack);
	if (a <= (int64_t)r->next || (uint64_t)a - r->next > TR_ACK_MAX_AHEAD)
		return;
	uint64_t target = (uint64_t)a;
	if (r->fin_seen && target > r->fin_off)
		target = r->fin_off; /* the FIN's own sequence number is no data */
	if (!r->ooo && !r->fin_seen && target == r->next + 1)
		return; /* most likely a FIN we did not see */
	while (r->next < target && !r->fin_done) {
		struct tr_seg *s = r->ooo;
		uint64_t hole_end = s && s->off < target ? s->off : target;
		if (hole_end > r->next) {
			report_gap(env, arg, hole_end - r->next, ts_ns);
			r->next = hole_end;
		}
		drain(r, env, arg);
	}
}

void
tr_flush(struct tcpreasm *r, const struct tr_env *env, void *arg, uint64_t ts_ns)
{
	if (!r->started)
		return;
	while (r->ooo) {
		if (r->ooo->off > r->next) {
			report_gap(env, arg, r->ooo->off - r->next, ts_ns);
			r->next = r->ooo->off;
		}
		drain(r, env, arg);
	}
	if (r->fin_seen && !r->fin_done) {
		if (r->fin_off > r->next) {
			report_gap(env, arg, r->fin_off - r->next, ts_ns);
			r->next = r->fin_off;
		}
		drain(r, env, arg);
	}
}
