/*
 * addr.h - IPv4/IPv6 addresses and transport endpoints.
 */
#ifndef MXLAG_ADDR_H
#define MXLAG_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MX_ADDRSTRLEN 46 /* INET6_ADDRSTRLEN */

struct mx_addr {
	uint8_t family; /* 4 or 6; 0 = unset */
	uint8_t a[16];  /* IPv4 in a[0..3], rest zero */
};

struct mx_endpoint {
	struct mx_addr addr;
	uint16_t port;
};

bool mx_addr_eq(const struct mx_addr *x, const struct mx_addr *y);
bool mx_ep_eq(const struct mx_endpoint *x, const struct mx_endpoint *y);
/* Formats like inet_ntop; always NUL-terminates; returns buf. */
char *mx_addr_fmt(const struct mx_addr *a, char *buf, size_t n);
/* Parses dotted quad or IPv6 text; returns false on junk. */
bool mx_addr_parse(const char *s, struct mx_addr *out);
bool mx_addr_is_loopback(const struct mx_addr *a);
void mx_addr_set4(struct mx_addr *a, const uint8_t b[4]);
void mx_addr_set6(struct mx_addr *a, const uint8_t b[16]);
/* 64-bit hash of the address bytes (family included). */
/* A 64-bit finalizer (MurmurHash3's fmix64): spreads the bits of x over the result. */
static inline uint64_t
mx_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

uint64_t mx_addr_hash(const struct mx_addr *a);

/* One word folded into a running hash (word-wise hashes of keys kept in
 * memory only; finish with mx_mix64()). */
static inline uint64_t
mx_mix_word(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
	return h ^ h >> 29;
}

/* n bytes of p folded in a word at a time, the last word zero-padded and
 * marked with n (word-wise hashes of texts kept in memory only; finish
 * with mx_mix64()). */
static inline uint64_t
mx_mix_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, sizeof(w));
		h = mx_mix_word(h, w);
	}
	uint64_t w = 0;
	memcpy(&w, s + i, n - i);
	return mx_mix_word(h, w ^ (uint64_t)n << 56);
}

/* The bytes mx_addr_eq() compares, as two words (an IPv4 address's unused
 * bytes are zero here whatever they hold): for word-wise hashes. */
static inline void
mx_addr_words(const struct mx_addr *a, uint64_t w[2])
{
	w[0] = w[1] = 0;
	if (a->family == 4) {
		memcpy(&w[0], a->a, 4);
	} else {
		memcpy(&w[0], a->a, sizeof(w[0]));
		memcpy(&w[1], a->a + 8, sizeof(w[1]));
	}
}

#endif
