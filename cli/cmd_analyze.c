/*
 * cmd_analyze.c - mxlag analyze [OPTION]... FILE...: capture files as one
 * timeline into the database.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <getopt.h>

#include "capture/source.h"
#include "cli/common.h"
#include "cli/run.h"

int
cmd_analyze(int argc, char **argv)
{
	struct run_opts o;
	char err[512], fp[64], source[1024];
	int pr = parse_run_opts("analyze", argc, argv, &o);
	if (pr != 0)
		return pr > 0 ? 0 : 2;
	if (o.status > 0) {
		fprintf(stderr, "mxlag analyze: --status is for capture\n");
		return 2;
	}
	if (o.retain > 0) {
		fprintf(stderr, "mxlag analyze: --retain is for capture (mxlag prune for files)\n");
		return 2;
	}
	int n = argc - optind;
	if (n <= 0) {
		fprintf(stderr, "mxlag analyze: no capture file given (mxlag help analyze)\n");
		return 2;
	}
	const char *const *paths = (const char *const *)&argv[optind];
	struct src *s;
	if (src_open_files(&s, paths, n, o.filter, err, sizeof(err)) != 0) {
		fprintf(stderr, "mxlag: %s\n", err);
		return 1;
	}
	source[0] = '\0';
	for (int i = 0; i < n; i++) {
		size_t l = strlen(source);
		snprintf(source + l, sizeof(source) - l, "%s%s", i ? " " : "", paths[i]);
	}
	int have_fp = fingerprint(paths, n, fp, sizeof(fp)) == 0;
	/* SIGINT/SIGTERM stop reading; what was read is finished and stored
	 * (exit 0).  A second signal kills at once (SA_RESETHAND).  SA_RESTART:
	 * a read from a pipe must not fail with EINTR (a false "damaged"). */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESETHAND | SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int rc = run(&o, s, source, have_fp ? fp : NULL, 0);
	src_close(s);
	return rc;
}
