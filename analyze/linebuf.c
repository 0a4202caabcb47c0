/*
 * linebuf.c - bounded line accumulator and CRLF.CRLF scanner
 * (RFC 5321 section 4.5.2, RFC 1939 section 3).
 */
#include "linebuf.h"

#include <string.h>

void
lb_init(struct linebuf *lb)
{
	lb->len = 0;
	lb->total = 0;
	lb->first_ns = 0;
	lb->end_ns = 0;
	lb->truncated = false;
	lb->complete = false;
	lb->last_cr = false;
	lb->buf[0] = '\0';
}

void
lb_reset(struct linebuf *lb)
{
	lb_init(lb);
}

bool
lb_partial(const struct linebuf *lb)
{
	return !lb->complete && lb->total > 0;
}

size_t
lb_feed(struct linebuf *lb, const uint8_t *p, size_t n, uint64_t ts_ns)
{
	if (n == 0)
		return 0;
	if (lb->complete)
		lb_init(lb);
	if (lb->total == 0)
		lb->first_ns = ts_ns;

	const uint8_t *lf = memchr(p, '\n', n);
	size_t body = lf ? (size_t)(lf - p) : n; /* bytes before the LF */

	if (body > 0) {
		size_t room = LB_LINE_MAX - lb->len;
		size_t take = body < room ? body : room;
		memcpy(lb->buf + lb->len, p, take);
		lb->len += take;
		lb->total += body;
		if (take < body)
			lb->truncated = true;
		lb->last_cr = p[body - 1] == '\r';
	}
	if (!lf)
		return n;

	/* the CR before the LF belongs to the line end; it is stored only if
	 * nothing was dropped (drops happen at the tail) */
	if (lb->last_cr && !lb->truncated && lb->len > 0)
		lb->len--;
	lb->buf[lb->len] = '\0';
	lb->end_ns = ts_ns;
	lb->complete = true;
	return body + 1;
}

void
dotend_init(struct dotend *d)
{
	d->st = DOT_BOL;
	d->wire = 0;
	d->bytes = 0;
}

void
dotend_gap(struct dotend *d, uint64_t lost)
{
	if (d->st == DOT_DONE)
		return;
	if (d->st == DOT_DOT || d->st == DOT_DOTCR)
		d->bytes += d->st == DOT_DOT ? 0 : 1; /* pending CR was data */
	d->wire += lost;
	d->bytes += lost;
	d->st = DOT_LINE;
}

/* one byte in a state where no dot is pending */
static enum dotend_state
dotend_plain(uint8_t c)
{
	if (c == '\r')
		return DOT_CR;
	if (c == '\n')
		return DOT_BOL;
	return DOT_LINE;
}

size_t
dotend_scan(struct dotend *d, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && d->st != DOT_DONE; i++) {
		uint8_t c = p[i];

		switch (d->st) {
		case DOT_LINE:
		case DOT_CR: {
			/* inside a line every byte up to the LF is message data:
			   skip there at memchr() speed (bodies are most of the bytes) */
			const uint8_t *lf = memchr(p + i, '\n', n - i);
			if (!lf) {
				d->bytes += n - i;
				d->st = dotend_plain(p[n - 1]);
				i = n - 1;
			} else {
				d->bytes += (size_t)(lf - (p + i)) + 1;
				d->st = DOT_BOL;
				i = (size_t)(lf - p);
			}
			break;
		}
		case DOT_BOL:
			if (c == '.') {
				d->st = DOT_DOT; /* not counted: terminator or stuffing */
			} else {
				d->bytes++;
				d->st = dotend_plain(c);
			}
			break;
		case DOT_DOT:
			if (c == '\n') {
				d->st = DOT_DONE;
			} else if (c == '\r') {
				d->st = DOT_DOTCR;
			} else {
				/* stuffed line: the leading dot is dropped */
				d->bytes++;
				d->st = dotend_plain(c);
			}
			break;
		case DOT_DOTCR:
			if (c == '\n') {
				d->st = DOT_DONE;
			} else {
				d->bytes += 2; /* the CR, then this byte */
				d->st = dotend_plain(c);
			}
			break;
		case DOT_DONE:
			break;
		}
	}
	d->wire += i;
	return i;
}
