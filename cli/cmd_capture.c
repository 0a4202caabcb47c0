/*
 * cmd_capture.c - mxlag capture -i IFACE [OPTION]...: live traffic.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "analyze/metrics.h"
#include "capture/source.h"
#include "cli/common.h"
#include "cli/memtune.h"
#include "cli/metrics_http.h"
#include "cli/run.h"

#define DEFAULT_FILTER                                                                           \
	"tcp port 25 or tcp port 587 or tcp port 465 or tcp port 2525 or tcp port 110 or "      \
	"tcp port 995 or tcp port 113 or port 53 or (ip[6:2] & 0x1fff != 0) or "                 \
	"(ip6 and ip6[6] == 44)"

int
cmd_capture(int argc, char **argv)
{
	struct run_opts o;
	char err[512], source[300];
	int pr = parse_run_opts("capture", argc, argv, &o);
	if (pr != 0)
		return pr > 0 ? 0 : 2;
	if (!o.iface) {
		fprintf(stderr, "mxlag capture: -i IFACE is required (mxlag help capture)\n");
		return 2;
	}
	/* before any thread (/metrics, the writer) allocates: see memtune.h */
	memtune_one_arena();
	/* promiscuous by default: on a mirror (SPAN) port the frames are
	 * addressed to other hosts, and a NIC drops those otherwise */
	struct live_opts lo = {o.iface, o.snaplen, o.buffer_mb, !o.no_promisc,
			       o.filter ? o.filter : DEFAULT_FILTER};
	/* --events is a stream: each JSON line reaches a pipe as it happens */
	if (o.events)
		setvbuf(stdout, NULL, _IOLBF, 0);
	/* a stop asked for from here on is a clean one (exit 0): also while
	 * /metrics already answers and the interface is being opened */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* --metrics: listening before the interface is opened and before root
	 * is dropped (a port below 1024 may need it); served all the run */
	struct metrics_http *http = NULL;
	if (o.metrics_spec) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		struct metrics_cfg mc = {.slow_ms = o.slow_ms,
		                         .version = MXLAG_VERSION,
		                         .start_time_s = (double)now.tv_sec + now.tv_nsec / 1e9};
		o.metrics = metrics_new(&mc);
		if (!o.metrics) {
			fprintf(stderr, "mxlag: out of memory\n");
			return 1;
		}
		http = metrics_http_start(&o.metrics_addr, o.metrics, err, sizeof(err));
		if (!http) {
			fprintf(stderr, "mxlag: %s\n", err);
			metrics_free(o.metrics);
			return 1;
		}
	}
	struct src *s;
	if (src_open_live(&s, &lo, err, sizeof(err)) != 0) {
		fprintf(stderr, "mxlag: %s\n", err);
		metrics_http_stop(http);
		metrics_free(o.metrics);
		return 1;
	}
	live_src = s;
	snprintf(source, sizeof(source), "live:%s", o.iface);
	int rc = run(&o, s, source, NULL, 1);
	live_src = NULL;
	src_close(s);
	metrics_http_stop(http);
	metrics_free(o.metrics);
	return rc;
}
