/*
 * cmd_migrate.c - mxlag migrate [--db FILE]: brings the database to this
 * mxlag's schema version (what every writer does when it opens it), for
 * the reports, which only read.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "schema/lifecycle.h"
#include "schema/store.h"
#include "cli/common.h"

static void
help_migrate(FILE *out)
{
	fputs("usage: mxlag migrate [--db FILE]\n"
	      "Brings the database to this mxlag's schema version. Writers (analyze,\n"
	      "capture, prune, runs delete) do it when they open a database; reports only\n"
	      "read and refuse a database that needs it.\n"
	      "Options:\n"
	      "  --db FILE          the database (default mxlag.db)\n"
	      "  -h, --help         this text\n",
	      out);
}

void
cmd_migrate_help(FILE *out)
{
	help_migrate(out);
}

static const struct option migrate_longopts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int
cmd_migrate(int argc, char **argv)
{
	const char *path = DEFAULT_DB;
	char err[512];
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", migrate_longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DB:
			path = optarg;
			break;
		case 'h':
			help_migrate(stdout);
			return 0;
		default:
			bad_option("migrate", c, argv);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mxlag migrate: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	sqlite3 *db;
	if (lifecycle_open(&db, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "mxlag migrate: %s\n", err);
		return 1;
	}
	sqlite3_close(db);
	printf("mxlag: %s is at schema version %d\n", path, STORE_SCHEMA_VERSION);
	return 0;
}
