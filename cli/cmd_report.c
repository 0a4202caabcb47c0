/*
 * cmd_report.c - mxlag report [OPTION]... NAME [ARG]: one report from the
 * database (or from several: --db repeated or a glob, report_run_fleet()),
 * in the zone of --tz / TZ.
 */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
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

/* the databases of the command line */
struct dbs {
	struct report_src *v;
	size_t n, cap;
	glob_t g[16]; /* the globs' paths, which v points into */
	size_t ng;
};

static int
dbs_add(struct dbs *d, const char *path)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct report_src *v = realloc(d->v, cap * sizeof(*v));
		if (!v) {
			fprintf(stderr, "mxlag report: out of memory\n");
			return -1;
		}
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n++] = (struct report_src){.path = path};
	return 0;
}

/* a --db value: a path, or a glob (* ? [) expanded in sorted order; 0, 1 (error) or 2 (usage) */
static int
dbs_arg(struct dbs *d, const char *arg)
{
	if (!strpbrk(arg, "*?["))
		return dbs_add(d, arg) ? 1 : 0;
	if (d->ng == sizeof(d->g) / sizeof(d->g[0])) {
		fprintf(stderr, "mxlag report: more than %zu globs in --db\n", d->ng);
		return 2;
	}
	glob_t *g = &d->g[d->ng];
	int rc = glob(arg, 0, NULL, g);
	if (rc == GLOB_NOMATCH) {
		fprintf(stderr, "mxlag report: --db %s matches no file\n", arg);
		return 2;
	}
	d->ng++;
	if (rc != 0) {
		fprintf(stderr, "mxlag report: --db %s: cannot read the directories\n", arg);
		return 1;
	}
	for (size_t i = 0; i < g->gl_pathc; i++)
		if (dbs_add(d, g->gl_pathv[i]))
			return 1;
	return 0;
}

static void
dbs_free(struct dbs *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free((char *)d->v[i].label);
		if (d->v[i].db)
			sqlite3_close(d->v[i].db);
	}
	for (size_t i = 0; i < d->ng; i++)
		globfree(&d->g[i]);
	free(d->v);
}

/*
 * Labels the databases (file name without its directory and a trailing
 * .db) and opens them all, read-only; 0, 1 (one cannot be opened) or 2 (two
 * with one label).
 */
static int
dbs_open(struct dbs *d)
{
	char err[512];
	for (size_t i = 0; i < d->n; i++) {
		const char *base = strrchr(d->v[i].path, '/');
		base = base ? base + 1 : d->v[i].path;
		size_t len = strlen(base);
		if (len > 3 && strcmp(base + len - 3, ".db") == 0)
			len -= 3;
		char *label = strndup(base, len);
		if (!label) {
			fprintf(stderr, "mxlag report: out of memory\n");
			return 1;
		}
		d->v[i].label = label;
		for (size_t k = 0; k < i; k++)
			if (strcmp(d->v[k].label, label) == 0) {
				fprintf(stderr,
				        "mxlag report: %s and %s have the same label %s (the file "
				        "name without .db): rename one\n",
				        d->v[k].path, d->v[i].path, label);
				return 2;
			}
	}
	for (size_t i = 0; i < d->n; i++)
		if (report_open(&d->v[i].db, d->v[i].path, err, sizeof(err)) != 0) {
			fprintf(stderr, "mxlag report: %s\n", err);
			return 1;
		}
	return 0;
}

int
cmd_report(int argc, char **argv)
{
	const char *outpath = NULL;
	const char *dbargs[64];
	size_t ndbargs = 0;
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
			if (ndbargs == sizeof(dbargs) / sizeof(dbargs[0])) {
				fprintf(stderr, "mxlag report: more than %zu --db (use a glob)\n",
				        ndbargs);
				return 2;
			}
			dbargs[ndbargs++] = optarg;
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
	struct dbs dbs = {0};
	int rc = 0;
	if (ndbargs == 0)
		dbargs[ndbargs++] = DEFAULT_DB;
	for (size_t i = 0; i < ndbargs && rc == 0; i++)
		rc = dbs_arg(&dbs, dbargs[i]);
	if (rc == 0)
		rc = dbs_open(&dbs);
	if (rc != 0) {
		dbs_free(&dbs);
		return rc;
	}
	FILE *out = stdout;
	if (outpath && !(out = fopen(outpath, "w"))) {
		fprintf(stderr, "mxlag: %s: %s\n", outpath, strerror(errno));
		dbs_free(&dbs);
		return 1;
	}
	/* colour only on a terminal, never in files or pipes */
	ro.color = out == stdout && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") &&
		   ro.format == REPORT_TEXT;
	int rr = report_run_fleet(dbs.v, dbs.n, &ro, out, err, sizeof(err));
	if (rr != 0) {
		fprintf(stderr, "mxlag report: %s\n", err);
		rc = rr == REPORT_EUSAGE ? 2 : 1;
	}
	if (rc == 0 && fail_if_slow >= 0) {
		/* the slow replies of all the databases together */
		long nslow = 0, one;
		for (size_t i = 0; i < dbs.n && rc == 0; i++) {
			if (report_count_slow(dbs.v[i].db, &ro, &one, err, sizeof(err)) != 0) {
				fprintf(stderr, "mxlag report: %s\n", err);
				rc = 1;
			}
			nslow += one;
		}
		if (rc == 0 && nslow > fail_if_slow) {
			fprintf(stderr, "mxlag report: %ld slow replies (more than %ld)\n", nslow,
				fail_if_slow);
			rc = 4;
		}
	}
	dbs_free(&dbs);
	if (out != stdout && fclose(out) != 0) {
		fprintf(stderr, "mxlag: %s: %s\n", outpath, strerror(errno));
		rc = 1;
	}
	return rc;
}
