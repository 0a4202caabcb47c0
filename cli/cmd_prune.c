/*
 * cmd_prune.c - mxlag prune --older-than DURATION [--db FILE]: deletes what
 * happened before now - DURATION (packet time) and gives the space back
 * (schema/lifecycle.h).
 *
 * When no writer runs, prune holds the writer lock itself (cli/dblock.h):
 * no analyze or capture starts meanwhile, and an older database without
 * auto_vacuum gets its one-time VACUUM.  With a writer running (a live
 * capture), its run is kept and prune goes on beside it in short
 * transactions; the one-time VACUUM is then left for later.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "schema/lifecycle.h"
#include "cli/common.h"
#include "cli/dblock.h"

static void
help_prune(FILE *out)
{
	fputs("usage: mxlag prune --older-than DURATION [--db FILE]\n"
	      "Deletes from the database what happened before now minus DURATION (by packet\n"
	      "time): sessions with their replies and causes, DNS queries, ident probes,\n"
	      "histogram rows, and the runs left empty; then gives the space back to the\n"
	      "file system. Works while a capture writes (its run is kept).\n"
	      "Options:\n"
	      "  --older-than D     30d, 12h, 90m, 3600s or 2w (required)\n"
	      "  --db FILE          the database (default mxlag.db)\n"
	      "  -h, --help         this text\n",
	      out);
}

void
cmd_prune_help(FILE *out)
{
	help_prune(out);
}

/* bytes of the database and its WAL */
static double
db_bytes(const char *db)
{
	char wal[4096];
	struct stat st;
	double n = 0;
	if (stat(db, &st) == 0)
		n += (double)st.st_size;
	if (snprintf(wal, sizeof(wal), "%s-wal", db) < (int)sizeof(wal) && stat(wal, &st) == 0)
		n += (double)st.st_size;
	return n;
}

static const struct option prune_longopts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"older-than", required_argument, NULL, OPT_OLDER_THAN},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int
cmd_prune(int argc, char **argv)
{
	const char *path = DEFAULT_DB;
	double age = -1;
	char err[512];
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", prune_longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DB:
			path = optarg;
			break;
		case OPT_OLDER_THAN:
			if (parse_duration(optarg, &age) != 0) {
				fprintf(stderr,
				        "mxlag prune: bad --older-than %s (30d, 12h, 90m, 3600s, 2w)\n",
				        optarg);
				return 2;
			}
			break;
		case 'h':
			help_prune(stdout);
			return 0;
		default:
			bad_option("prune", c, argv);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mxlag prune: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	if (age < 0) {
		fprintf(stderr, "mxlag prune: --older-than DURATION is required (mxlag help prune)\n");
		return 2;
	}
	struct stat sb;
	if (stat(path, &sb) != 0) {
		fprintf(stderr, "mxlag prune: %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct dblock *lock = NULL;
	struct dblock_holder h;
	int t = dblock_take(path, &lock, &h, err, sizeof(err));
	if (t < 0) {
		fprintf(stderr, "mxlag prune: %s\n", err);
		return 1;
	}
	sqlite3 *db;
	if (lifecycle_open(&db, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "mxlag prune: %s\n", err);
		dblock_release(lock);
		return 1;
	}
	/* a whole minute, as lifecycle_prune() rounds it */
	double cutoff = floor(((double)time(NULL) - age) / 60) * 60, before = db_bytes(path);
	struct prune_stats ps;
	int vacuumed = 0, rc = 0;
	if (lifecycle_prune(db, cutoff, t == 1 ? h.run_id : 0, &ps, err, sizeof(err)) != 0 ||
	    lifecycle_reclaim(db, lock != NULL, &vacuumed, err, sizeof(err)) != 0) {
		fprintf(stderr, "mxlag prune: %s: %s\n", path, err);
		rc = 1;
	}
	sqlite3_close(db);
	dblock_release(lock);
	if (rc != 0)
		return rc;
	char when[40];
	time_t ct = (time_t)cutoff;
	struct tm tm;
	if (!gmtime_r(&ct, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(when, sizeof(when), "%.0f", cutoff);
	printf("mxlag: pruned what happened before %s: %" PRId64 " sessions, %" PRId64
	       " reply rows, %" PRId64 " causes, %" PRId64 " DNS queries, %" PRId64
	       " ident probes, %" PRId64 " histogram rows, %" PRId64 " runs\n",
	       when, ps.sessions, ps.transactions, ps.causes, ps.dns_queries, ps.ident_probes,
	       ps.minute_rows, ps.runs);
	if (vacuumed > 0)
		printf("mxlag: %s had no auto_vacuum: VACUUMed once; from now on prune gives "
		       "space back incrementally\n",
		       path);
	else if (vacuumed < 0)
		printf("mxlag: %s has no auto_vacuum and a writer runs (pid %ld): the space "
		       "stays in the file for reuse; prune again with no writer running to "
		       "VACUUM it once\n",
		       path, h.pid);
	printf("mxlag: %s: %.1f MB before, %.1f MB after\n", path, before / 1e6,
	       db_bytes(path) / 1e6);
	return 0;
}
