/* test_recycle.c - the per-thread block cache (capture/recycle.h): a block given back is
 * handed out again for the same size only, zeroed when asked, within its bounds, and all
 * of it freed by the drain.  Under ASan nothing is kept (a use after mx_recycle() must
 * still be caught there): the cases then check only that blocks come and go. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "../../capture/recycle.h"

static int
keeps(void)
{
	void *p = mx_recycled(40);
	mx_recycle(p, 40);
	int k = mx_recycle_kept(40) == 1;
	mx_recycle_drain();
	return k;
}

Test(recycle, same_size_only_and_last_in_first_out)
{
	int k = keeps();
	uint8_t *a = mx_recycled(3264), *b = mx_recycled(3264), *c = mx_recycled(100);
	cr_assert(a && b && c);
	memset(a, 0xa5, 3264);
	mx_recycle(a, 3264);
	mx_recycle(b, 3264);
	mx_recycle(c, 100);
	cr_expect_eq(mx_recycle_kept(3264), k ? 2u : 0u);
	cr_expect_eq(mx_recycle_kept(100), k ? 1u : 0u);
	cr_expect_eq(mx_recycle_kept(3016), 0u);
	uint8_t *d = mx_recycled(3016); /* another size: not one of those */
	cr_assert_not_null(d);
	if (k) {
		cr_expect(d != a && d != b && d != c);
		cr_expect_eq(mx_recycled(3264), b, "the last one given back first");
		uint8_t *z = mx_recycled_zero(3264);
		cr_expect_eq(z, a);
		for (size_t i = 0; i < 3264; i++)
			cr_assert_eq(z[i], 0, "byte %zu", i);
		cr_expect_eq(mx_recycled(100), c);
		cr_expect_eq(mx_recycle_kept(3264), 0u);
		mx_recycle(a, 3264);
		mx_recycle(b, 3264);
		mx_recycle(c, 100);
	}
	mx_recycle(d, 3016);
	mx_recycle_drain();
	cr_expect_eq(mx_recycle_kept(3264), 0u);
	cr_expect_eq(mx_recycle_kept(100), 0u);
}

Test(recycle, bounded_by_depth_and_classes)
{
	int k = keeps();
	void *v[RC_DEPTH + 5];
	for (int i = 0; i < RC_DEPTH + 5; i++)
		cr_assert_not_null(v[i] = mx_recycled_zero(500));
	for (int i = 0; i < RC_DEPTH + 5; i++)
		mx_recycle(v[i], 500);
	cr_expect_eq(mx_recycle_kept(500), k ? (unsigned)RC_DEPTH : 0u, "the rest was freed");
	/* more sizes than classes: the later ones are not kept */
	for (size_t n = 1; n <= RC_CLASSES + 3; n++)
		mx_recycle(mx_recycled(n * 8), n * 8);
	unsigned kept = 0;
	for (size_t n = 1; n <= RC_CLASSES + 3; n++)
		kept += mx_recycle_kept(n * 8) ? 1 : 0;
	cr_expect_eq(kept, k ? (unsigned)RC_CLASSES - 1 : 0u, "one class is the 500-byte one");
	mx_recycle_drain();
	for (size_t n = 1; n <= RC_CLASSES + 3; n++)
		cr_expect_eq(mx_recycle_kept(n * 8), 0u);
	/* after the drain the classes are free again */
	mx_recycle(mx_recycled(4000), 4000);
	cr_expect_eq(mx_recycle_kept(4000), k ? 1u : 0u);
	mx_recycle_drain();
}

Test(recycle, null_and_zero_sizes)
{
	mx_recycle(NULL, 64);
	cr_expect_eq(mx_recycle_kept(64), 0u);
	void *p = mx_recycled(0);
	cr_assert_not_null(p, "a block even for no bytes, as malloc(1)");
	mx_recycle(p, 0);
	cr_expect_eq(mx_recycle_kept(0), 0u, "size 0 is never kept");
	mx_recycle_drain();
}
