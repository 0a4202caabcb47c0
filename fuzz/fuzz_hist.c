/*
 * fuzz_hist.c - libFuzzer target for the stored histogram text
 * (latency_hist.bins, schema/hist.c): a database is input too.
 *
 * The whole input (exact-size copy, no NUL) is merged into an empty
 * histogram.  Refused: nothing may have been added.  Accepted: the
 * canonical text of the result, merged into another empty histogram, gives
 * the same counts, and every percentile is a bin's value.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema/hist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hist a, b;
	static char text[HIST_TEXT_MAX];
	char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	int rc = hist_merge_text(&a, copy, size);
	free(copy);
	if (rc != 0) {
		for (int i = 0; i < HIST_NBINS; i++)
			if (a.c[i])
				abort();
		return 0;
	}
	size_t len = hist_format(&a, text, sizeof(text));
	if (len >= sizeof(text) || hist_merge_text(&b, text, len) != 0)
		abort();
	if (memcmp(a.c, b.c, sizeof(a.c)) != 0 || a.n != b.n)
		abort();
	double p = hist_percentile(&a, 50);
	if (a.n == 0 ? !isnan(p) : !(p >= 0 && p == hist_value(hist_bin(p))))
		abort();
	return 0;
}
