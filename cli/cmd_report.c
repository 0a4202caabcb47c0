/*
 * cmd_report.c - mxlag report [OPTION]... NAME [ARG]: one report from the
 * database, in the zone of --tz / TZ.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "capture/addr.h"
#include "schema/report.h"
#include "cli/common.h"

static const struct option report_longopts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"since", required_argument, NULL, OPT_SINCE},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"slow", required_argument, NULL, OPT_SLOW},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"client", required_argument, NULL, OPT_CLIENT},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"fail-if-slow", required_argument, NULL, OPT_FAIL_IF_SLOW},
    {"output", required_argument, NULL, 'o'},
    {"tz", required_argument, NULL, OPT_TZ},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int
cmd_report(int argc, char **argv)
{
	const char *db = DEFAULT_DB, *outpath = NULL;
	struct report_opts ro;
	char err[512];
	double v;
	long fail_if_slow = -1;
	char *end;
	const char *tz = NULL;
	int c;
	report_opts_init(&ro);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", report_longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DB:
			db = optarg;
			break;
		case 'o':
			outpath = optarg;
			break;
		case OPT_FORMAT:
			if (report_format_parse(optarg, &ro.format) != 0) {
				fprintf(stderr, "mxlag report: unknown format %s (text, csv, json, html)\n",
					optarg);
				return 2;
			}
			break;
		case OPT_SINCE:
		case OPT_UNTIL:
			if (report_parse_time(optarg, &v) != 0) {
				fprintf(stderr, "mxlag report: bad time %s\n", optarg);
				return 2;
			}
			if (c == OPT_SINCE)
				ro.since = v;
			else
				ro.until = v;
			break;
		case OPT_SLOW:
			if (parse_double(optarg, &ro.slow_ms, "--slow") != 0)
				return 2;
			break;
		case OPT_LIMIT:
			errno = 0;
			ro.limit = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || ro.limit < 0) {
				fprintf(stderr, "mxlag report: bad --limit %s\n", optarg);
				return 2;
			}
			break;
		case OPT_CLIENT: {
			/* the database holds the inet_ntop form: 2001:DB8::01 -> 2001:db8::1 */
			static char client[64];
			struct mx_addr a;
			if (!mx_addr_parse(optarg, &a)) {
				fprintf(stderr, "mxlag report: bad --client %s\n", optarg);
				return 2;
			}
			ro.client = mx_addr_fmt(&a, client, sizeof(client));
			break;
		}
		case OPT_PROTOCOL:
			if (!report_protocol_valid(optarg)) {
				fprintf(stderr, "mxlag report: bad --protocol %s (smtp or pop3)\n",
					optarg);
				return 2;
			}
			ro.protocol = optarg;
			break;
		case OPT_TZ:
			tz = optarg;
			break;
		case OPT_FAIL_IF_SLOW:
			errno = 0;
			fail_if_slow = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || fail_if_slow < 0) {
				fprintf(stderr, "mxlag report: bad --fail-if-slow %s\n", optarg);
				return 2;
			}
			break;
		case 'h':
			help_report(stdout);
			return 0;
		default:
			bad_option("report", c, argv);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "mxlag report: which report? (%s)\n", report_names());
		return 2;
	}
	if (report_zone(tz, &ro.tz) != 0)
		return 2;
	ro.name = argv[optind];
	ro.arg = optind + 1 < argc ? argv[optind + 1] : NULL;
	int na = report_needs_arg(ro.name);
	if (na < 0) {
		fprintf(stderr, "mxlag report: unknown report %s (%s)\n", ro.name, report_names());
		return 2;
	}
	if (na > 0 && !ro.arg) {
		fprintf(stderr, "mxlag report: report %s needs an argument (mxlag help report)\n",
		        ro.name);
		return 2;
	}
	if (optind + (na > 0 ? 2 : 1) < argc) {
		fprintf(stderr, "mxlag report: unexpected argument %s\n",
		        argv[optind + (na > 0 ? 2 : 1)]);
		return 2;
	}
	sqlite3 *h;
	if (report_open(&h, db, err, sizeof(err)) != 0) {
		fprintf(stderr, "mxlag report: %s\n", err);
		return 1;
	}
	FILE *out = stdout;
	if (outpath && !(out = fopen(outpath, "w"))) {
		fprintf(stderr, "mxlag: %s: %s\n", outpath, strerror(errno));
		sqlite3_close(h);
		return 1;
	}
	/* colour only on a terminal, never in files or pipes */
	ro.color = out == stdout && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") &&
		   ro.format == REPORT_TEXT;
	int rc = 0;
	int rr = report_run(h, &ro, out, err, sizeof(err));
	if (rr != 0) {
		fprintf(stderr, "mxlag report: %s\n", err);
		rc = rr == REPORT_EUSAGE ? 2 : 1;
	}
	if (rc == 0 && fail_if_slow >= 0) {
		long nslow;
		if (report_count_slow(h, &ro, &nslow, err, sizeof(err)) != 0) {
			fprintf(stderr, "mxlag report: %s\n", err);
			rc = 1;
		} else if (nslow > fail_if_slow) {
			fprintf(stderr, "mxlag report: %ld slow replies (more than %ld)\n", nslow,
				fail_if_slow);
			rc = 4;
		}
	}
	sqlite3_close(h);
	if (out != stdout && fclose(out) != 0) {
		fprintf(stderr, "mxlag: %s: %s\n", outpath, strerror(errno));
		rc = 1;
	}
	return rc;
}
