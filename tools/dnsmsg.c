/*
 * dnsmsg.c - DNS wire messages for mxlag-gen.
 */
#include "dnsmsg.h"

#include <arpa/inet.h>
#include <string.h>

struct wbuf {
	uint8_t *p;
	size_t cap, len;
	int bad;
};

static void
put(struct wbuf *w, const void *d, size_t n)
{
	if (w->bad || w->len + n > w->cap) {
		w->bad = 1;
		return;
	}
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void
put8(struct wbuf *w, uint8_t v)
{
	put(w, &v, 1);
}

static void
put16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(w, b, 2);
}

static void
put32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	put(w, b, 4);
}

/* Uncompressed name in wire form; "" or "." is the root. */
static void
put_name(struct wbuf *w, const char *name)
{
	const char *p = name;

	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n == 0 || n > 63) {
			w->bad = 1;
			return;
		}
		put8(w, (uint8_t)n);
		put(w, p, n);
		p += n;
		if (*p == '.')
			p++;
	}
	put8(w, 0);
}

const char *
dns_type_name(uint16_t qtype)
{
	switch (qtype) {
	case DNS_T_A:
		return "A";
	case DNS_T_NS:
		return "NS";
	case DNS_T_SOA:
		return "SOA";
	case DNS_T_PTR:
		return "PTR";
	case DNS_T_MX:
		return "MX";
	case DNS_T_TXT:
		return "TXT";
	case DNS_T_AAAA:
		return "AAAA";
	default:
		return "?";
	}
}

static void
header(struct wbuf *w, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
       uint16_t ar)
{
	put16(w, id);
	put16(w, flags);
	put16(w, qd);
	put16(w, an);
	put16(w, ns);
	put16(w, ar);
}

size_t
dns_query(uint8_t *buf, size_t cap, uint16_t id, const char *qname, uint16_t qtype, int edns)
{
	struct wbuf w = {buf, cap, 0, 0};

	header(&w, id, 0x0100, 1, 0, 0, edns ? 1 : 0);
	put_name(&w, qname);
	put16(&w, qtype);
	put16(&w, 1);
	if (edns) {
		put8(&w, 0);     /* root */
		put16(&w, 41);   /* OPT */
		put16(&w, 1232); /* UDP payload size */
		put32(&w, 0);    /* rcode/version/flags */
		put16(&w, 0);    /* no options */
	}
	return w.bad ? 0 : w.len;
}

/* The zone an SOA for qname is served from: the last two labels. */
static const char *
soa_zone(const char *qname)
{
	const char *last = NULL, *prev = NULL;

	for (const char *p = qname; *p; p++) {
		if (*p == '.') {
			prev = last;
			last = p;
		}
	}
	if (!last)
		return qname;
	return prev ? prev + 1 : qname;
}

size_t
dns_response(uint8_t *buf, size_t cap, uint16_t id, const char *qname, uint16_t qtype, int rcode,
             const char *answer)
{
	struct wbuf w = {buf, cap, 0, 0};
	int has_answer = rcode == DNS_R_NOERROR && answer;
	int has_soa = rcode == DNS_R_NXDOMAIN || (rcode == DNS_R_NOERROR && !answer);
	uint8_t addr[16];

	header(&w, id, (uint16_t)(0x8180 | (rcode & 15)), 1, has_answer ? 1 : 0, has_soa ? 1 : 0,
	       0);
	put_name(&w, qname);
	put16(&w, qtype);
	put16(&w, 1);
	if (has_answer) {
		put16(&w, 0xc00c); /* pointer to the question name */
		put16(&w, qtype);
		put16(&w, 1);
		put32(&w, 3600);
		size_t rdlen_at = w.len;
		put16(&w, 0);
		size_t start = w.len;
		switch (qtype) {
		case DNS_T_A:
			if (inet_pton(AF_INET, answer, addr) != 1)
				w.bad = 1;
			put(&w, addr, 4);
			break;
		case DNS_T_AAAA:
			if (inet_pton(AF_INET6, answer, addr) != 1)
				w.bad = 1;
			put(&w, addr, 16);
			break;
		case DNS_T_MX:
			put16(&w, 10);
			put_name(&w, answer);
			break;
		case DNS_T_TXT: {
			size_t n = strlen(answer);
			if (n > 255)
				n = 255;
			put8(&w, (uint8_t)n);
			put(&w, answer, n);
			break;
		}
		default:
			put_name(&w, answer);
			break;
		}
		if (!w.bad) {
			size_t rdlen = w.len - start;
			buf[rdlen_at] = (uint8_t)(rdlen >> 8);
			buf[rdlen_at + 1] = (uint8_t)rdlen;
		}
	}
	if (has_soa) {
		const char *zone = soa_zone(qname);
		put_name(&w, zone);
		put16(&w, DNS_T_SOA);
		put16(&w, 1);
		put32(&w, 900);
		size_t rdlen_at = w.len;
		put16(&w, 0);
		size_t start = w.len;
		put_name(&w, "ns1.example.net");
		put_name(&w, "hostmaster.example.net");
		put32(&w, 2026010101);
		put32(&w, 3600);
		put32(&w, 900);
		put32(&w, 604800);
		put32(&w, 900);
		if (!w.bad) {
			size_t rdlen = w.len - start;
			buf[rdlen_at] = (uint8_t)(rdlen >> 8);
			buf[rdlen_at + 1] = (uint8_t)rdlen;
		}
	}
	return w.bad ? 0 : w.len;
}
