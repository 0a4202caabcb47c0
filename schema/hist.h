/*
 * hist.h - log-spaced latency histograms (the latency_hist table).
 *
 * A latency x (milliseconds) falls in bin
 *
 *   0                                  when x <= HIST_MIN_MS (1 microsecond)
 *   i = ceil(log(x / HIST_MIN_MS) / log(HIST_GAMMA))   otherwise, capped at HIST_NBINS - 1
 *
 * so bin i >= 1 holds (HIST_MIN_MS * g^(i-1), HIST_MIN_MS * g^i] with
 * g = HIST_GAMMA = (1 + a) / (1 - a), a = HIST_REL_ERR = 0.01.  Its value,
 * hist_value(i) = 2 * HIST_MIN_MS * g^i / (g + 1), is within a relative
 * error of a (1 %) of every latency in the bin (the DDSketch bound); bin 0
 * stands for 0.  The last bin starts at about 7 hours: longer waits count
 * there (their value is too small; the exact maximum is kept beside the
 * bins).  A percentile read from the bins (nearest rank over the counts,
 * then the bin's value) is within 1 % of the exact nearest-rank percentile
 * of the same latencies, for latencies of 1 microsecond or more.
 *
 * The stored form of a histogram (latency_hist.bins) is a JSON array of
 * (bin, count) pairs, flat, in increasing bin order with no zero counts:
 * [412,3,418,1,702,2] holds 3 latencies in bin 412, 1 in 418, 2 in 702.
 */
#ifndef MXLAG_HIST_H
#define MXLAG_HIST_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define HIST_REL_ERR 0.01
#define HIST_GAMMA ((1.0 + HIST_REL_ERR) / (1.0 - HIST_REL_ERR))
#define HIST_MIN_MS 0.001
#define HIST_NBINS 1200

/* the bin of a latency in ms (NaN and negatives: bin 0) */
int hist_bin(double ms);
/* the value a bin stands for, in ms */
double hist_value(int bin);

/* a dense histogram: counts per bin */
struct hist {
	uint32_t c[HIST_NBINS];
	uint64_t n;    /* latencies counted */
	double min_ms; /* the smallest one (valid when n > 0 or set by a merge) */
	double max_ms; /* the largest one */
	double sum_ms;
};

void hist_add(struct hist *h, double ms);
/*
 * Adds a stored (bin, count) array (text as above, len bytes, no NUL needed)
 * to h.  Returns 0, or -1 when the text is not such an array or a count
 * would overflow; h is then unchanged.
 */
int hist_merge_text(struct hist *h, const char *text, size_t len);
/*
 * Writes h's bins in the stored form into buf (NUL-terminated).  Returns the
 * length, or the length it would need (>= len: buf was too small; the
 * longest possible text is below HIST_TEXT_MAX).
 */
size_t hist_format(const struct hist *h, char *buf, size_t len);
#define HIST_TEXT_MAX (HIST_NBINS * 16 + 4)

/* the nearest-rank percentile, clamped into [min_ms, max_ms] (0 < pct <= 100, rank ceil(n * pct / 100) as mx_percentiles) of the counted latencies; NaN if none */
double hist_percentile(const struct hist *h, int pct);

/*
 * SQL functions over the stored form (registered by sqlfn_register()):
 *   mx_hist_bin(ms)                   the bin of a latency
 *   mx_hist_percentiles(bins, min, max) aggregate: a row adds its stored
 *                                     bins with the group's smallest and
 *                                     largest latency (or, bins NULL, the
 *                                     one latency min = max); the result is
 *                                     mx_percentiles()'s blob (p50, p95,
 *                                     p99), each clamped into [smallest,
 *                                     largest] (so one latency is exact)
 */
int hist_register(sqlite3 *db);

#endif
