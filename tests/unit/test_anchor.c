/* test_anchor.c - the packet anchor hash (capture/anchor.h): stable, sensitive to what it covers, blind to the rest, and choosing about one packet in ANCHOR_EVERY. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "../../capture/anchor.h"

/* The hash is stored (anchors.hash): a change of definition is a schema change. */
Test(anchor, the_stored_definition_does_not_change)
{
	uint8_t pkt[80];
	for (int i = 0; i < 80; i++)
		pkt[i] = (uint8_t)(i * 7 + 3);
	cr_expect_eq(anchor_hash(1700000000123456789ULL, 80, pkt, 80), 0x6e8d43c4b1a60932ULL,
	             "got %#llx", (unsigned long long)anchor_hash(1700000000123456789ULL, 80, pkt, 80));
	cr_expect_eq(anchor_hash(0, 0, NULL, 0), 0x9b45183dc8a70f66ULL, "got %#llx",
	             (unsigned long long)anchor_hash(0, 0, NULL, 0));
}

Test(anchor, time_length_and_the_first_bytes_count_the_rest_does_not)
{
	uint8_t a[1500], b[1500];
	for (int i = 0; i < 1500; i++)
		a[i] = (uint8_t)rand();
	memcpy(b, a, sizeof(a));
	uint64_t ts = 1700000000000000000ULL, h = anchor_hash(ts, 1500, a, 1500);
	cr_expect_eq(anchor_hash(ts, 1500, b, 1500), h);
	/* a copy trimmed to a shorter snap length (64 bytes or more) is the same packet */
	cr_expect_eq(anchor_hash(ts, 1500, b, 96), h);
	cr_expect_eq(anchor_hash(ts, 1500, b, 64), h);
	/* bytes past the first 64 are not looked at */
	b[64] ^= 1;
	b[1499] ^= 0x80;
	cr_expect_eq(anchor_hash(ts, 1500, b, 1500), h);
	/* each of the first 64 bytes, each bit of the time, the wire length */
	for (int i = 0; i < 64; i++) {
		memcpy(b, a, sizeof(a));
		b[i] ^= (uint8_t)(1u << (i % 8));
		cr_expect_neq(anchor_hash(ts, 1500, b, 1500), h, "byte %d", i);
	}
	for (int bit = 0; bit < 64; bit++)
		cr_expect_neq(anchor_hash(ts ^ (1ULL << bit), 1500, a, 1500), h, "time bit %d", bit);
	cr_expect_neq(anchor_hash(ts + 1000, 1500, a, 1500), h, "a microsecond later");
	cr_expect_neq(anchor_hash(ts, 1499, a, 1500), h);
	/* a snap under 64 bytes is another packet, even with zero bytes cut */
	uint8_t z[64] = {0};
	cr_expect_neq(anchor_hash(ts, 64, z, 60), anchor_hash(ts, 64, z, 64));
}

Test(anchor, about_one_packet_in_anchor_every_is_chosen)
{
	/* consecutive packets of a flow: times 10 us apart, sequence numbers up */
	uint8_t p[64] = {0};
	int n = 1 << 20, chosen = 0;
	for (int i = 0; i < n; i++) {
		memcpy(p + 38, &i, sizeof(i));
		if (anchor_by_content(anchor_hash(1700000000000000000ULL + 10000ULL * (uint64_t)i, 1514, p, 64)))
			chosen++;
	}
	double expect = (double)n / ANCHOR_EVERY; /* 4096, sd 64 */
	cr_expect(chosen > expect - 5 * 64 && chosen < expect + 5 * 64, "%d of %d chosen", chosen, n);
}
