/*
 * run.h - the analysis loop shared by analyze (files) and capture (live):
 * its options, their parser, the signal that stops it, and the run itself.
 */
#ifndef MXLAG_CLI_RUN_H
#define MXLAG_CLI_RUN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/metrics_http.h"

struct src;
struct metrics;

struct run_opts {
	const char *db;
	double slow_ms;
	uint64_t big_bytes; /* --big-message: a message this big is a big message */
	const char *filter;
	int events;
	int no_db;
	int quiet;
	const char *hosts[64]; /* --host specifications */
	int nhosts;
	/* capture only */
	const char *iface;
	double duration;
	const char *user;
	int snaplen, buffer_mb;
	int no_promisc;
	uint32_t max_sessions;
	double retain; /* capture --retain: seconds kept, 0 = all */
	double status; /* capture --status: seconds between status lines, 0 = none */
	const char *metrics_spec;     /* capture --metrics ADDR:PORT as given, NULL = none */
	struct metrics_addr metrics_addr;
	struct metrics *metrics;      /* its registry, set by cmd_capture: fed by run() */
};

/* set by SIGINT/SIGTERM (on_signal); live_src is broken out of its wait */
extern volatile sig_atomic_t stop_requested;
extern struct src *live_src;
void on_signal(int sig);

/* FNV-1a over the size and first MiB of each file: what "same capture" means. */
int fingerprint(const char *const *paths, int n, char *out, size_t outlen);
/* 0 = run; 1 = help printed (exit 0); -1 = usage error (exit 2) */
int parse_run_opts(const char *cmd, int argc, char **argv, struct run_opts *o);
/* the exit status */
int run(struct run_opts *o, struct src *s, const char *source, const char *fp, int live);

#endif
