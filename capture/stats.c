/* stats.c - counter names and printing. */
#include "stats.h"

#include <inttypes.h>

static const char *const names[CNT__N] = {
#define CAP_X(id, name) [CNT_##id] = name,
	CAP_COUNTERS(CAP_X)
#undef CAP_X
};

const char *
cap_counter_name(enum cap_counter c)
{
	return (unsigned)c < CNT__N ? names[c] : "?";
}

void
cap_stats_print(const struct cap_stats *s, FILE *out, const char *prefix)
{
	for (int i = 0; i < CNT__N; i++) {
		if (s->c[i] == 0 && i != CNT_PACKETS)
			continue;
		fprintf(out, "%s%-32s %" PRIu64 "\n", prefix, names[i], s->c[i]);
	}
	if (s->have_kernel) {
		fprintf(out, "%s%-32s %" PRIu64 "\n", prefix, "kernel.received", s->kernel_recv);
		fprintf(out, "%s%-32s %" PRIu64 "\n", prefix, "kernel.dropped", s->kernel_drop);
		fprintf(out, "%s%-32s %" PRIu64 "\n", prefix, "kernel.if_dropped", s->ifdrop);
	}
}
