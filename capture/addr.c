/* addr.c - IPv4/IPv6 address helpers. */
#include "addr.h"

#include <arpa/inet.h>
#include <string.h>

bool
mx_addr_eq(const struct mx_addr *x, const struct mx_addr *y)
{
	if (x->family != y->family)
		return false;
	return memcmp(x->a, y->a, x->family == 4 ? 4 : 16) == 0;
}

bool
mx_ep_eq(const struct mx_endpoint *x, const struct mx_endpoint *y)
{
	return x->port == y->port && mx_addr_eq(&x->addr, &y->addr);
}

char *
mx_addr_fmt(const struct mx_addr *a, char *buf, size_t n)
{
	if (n == 0)
		return buf;
	buf[0] = '\0';
	if (a->family == 4 && n >= 16) {
		/* inet_ntop() goes through sprintf: this is on every stored row */
		char *p = buf;
		for (int i = 0; i < 4; i++) {
			unsigned v = a->a[i];
			if (v >= 100)
				*p++ = (char)('0' + v / 100);
			if (v >= 10)
				*p++ = (char)('0' + v / 10 % 10);
			*p++ = (char)('0' + v % 10);
			*p++ = i < 3 ? '.' : '\0';
		}
	} else if (a->family == 4)
		inet_ntop(AF_INET, a->a, buf, (socklen_t)n);
	else if (a->family == 6)
		inet_ntop(AF_INET6, a->a, buf, (socklen_t)n);
	return buf;
}

bool
mx_addr_parse(const char *s, struct mx_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->a) == 1) {
		out->family = 4;
		return true;
	}
	if (inet_pton(AF_INET6, s, out->a) == 1) {
		out->family = 6;
		return true;
	}
	memset(out, 0, sizeof(*out));
	return false;
}

bool
mx_addr_is_loopback(const struct mx_addr *a)
{
	static const uint8_t v6lo[16] = {[15] = 1};
	if (a->family == 4)
		return a->a[0] == 127;
	if (a->family == 6)
		return memcmp(a->a, v6lo, 16) == 0;
	return false;
}

void
mx_addr_set4(struct mx_addr *a, const uint8_t b[4])
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	memcpy(a->a, b, 4);
}

void
mx_addr_set6(struct mx_addr *a, const uint8_t b[16])
{
	a->family = 6;
	memcpy(a->a, b, 16);
}

uint64_t
mx_addr_hash(const struct mx_addr *a)
{
	/* FNV-1a over family + bytes; flows mix it further. */
	uint64_t h = 1469598103934665603ULL ^ a->family;
	size_t n = a->family == 4 ? 4 : 16;
	for (size_t i = 0; i < n; i++) {
		h ^= a->a[i];
		h *= 1099511628211ULL;
	}
	return h;
}
