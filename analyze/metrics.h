/*
 * metrics.h - the live figures of a capture as Prometheus metrics
 * (issue 13): a registry fed from the analyzer's event stream and the
 * capture counters, and its text exposition (format 0.0.4).
 *
 * No HTTP here (cli/metrics_http.c serves it).  The packet thread feeds
 * the registry (metrics_event, metrics_capture, metrics_dispatch); another
 * thread formats it (metrics_format).  One mutex guards the figures: an
 * update holds it for a few additions, a format for one copy of the
 * registry, and the text is written from that copy without it.
 *
 * The metric names and labels are an interface (docs/DESIGN.md, Live
 * metrics): extend them, do not rename them.  Label sets are bounded: the
 * commands are the analyzers' vocabulary (anything else is "other"), hosts
 * and resolvers are the first METRICS_MAX_HOSTS / METRICS_MAX_RESOLVERS
 * addresses seen, later ones counted under "other".
 */
#ifndef MXLAG_METRICS_H
#define MXLAG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "../capture/stats.h"
#include "event.h"

#define METRICS_MAX_HOSTS 64
#define METRICS_MAX_RESOLVERS 64

struct dispatch_stats;

struct metrics_cfg {
	double slow_ms;          /* the analysis threshold (--slow): which replies are judged */
	const char *version;     /* mxlag_build_info{version=...} */
	double start_time_s;     /* mxlag_capture_start_time_seconds (epoch seconds) */
	unsigned max_hosts;      /* 0 = METRICS_MAX_HOSTS (at most that) */
	unsigned max_resolvers;  /* 0 = METRICS_MAX_RESOLVERS (at most that) */
};

struct metrics;

/* NULL when out of memory; cfg is copied (version too). */
struct metrics *metrics_new(const struct metrics_cfg *cfg);
void metrics_free(struct metrics *m);

/* One analyzer event (an mx_emit_fn: sink is the registry). */
void metrics_event(void *sink, const struct mx_event *ev);
/* The capture counters (packets, kernel and interface drops) and the time
 * of the latest packet (ns since the epoch, 0 = none yet). */
void metrics_capture(struct metrics *m, const struct cap_stats *st, uint64_t last_packet_ns);
/* The dispatcher's figures (mail flows left out over --max-sessions). */
void metrics_dispatch(struct metrics *m, const struct dispatch_stats *ds);

/*
 * The exposition text (Prometheus text format 0.0.4), malloc'd and
 * NUL-terminated, its length in *len; NULL when out of memory.
 */
char *metrics_format(struct metrics *m, size_t *len);

/* v as a label value into out (size n): backslash, double quote and
 * newline escaped; its length, or -1 when it did not fit. */
int metrics_escape_label(const char *v, char *out, size_t n);

#endif
