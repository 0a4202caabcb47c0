/*
 * cmd_runs.c - mxlag runs [list] [--db FILE] [--format text|csv|json] [--tz ZONE]
 *              mxlag runs delete ID [--db FILE]
 *
 * The list: every run with its source, packet span, packets, kernel drops,
 * sessions and state: finished, running (a writer holds the database's
 * writer lock for it, cli/dblock.h) or unfinished (it died).  delete: the
 * run and every row of it (schema/lifecycle.h); a running run is refused.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "schema/lifecycle.h"
#include "schema/report.h"
#include "cli/common.h"
#include "cli/dblock.h"

/* state, pid: bound to the running run (?1) and its writer's pid (?2) */
static const char list_sql[] =
    "SELECT r.id, r.source, r.first_ts, r.last_ts, r.packets, r.kernel_drops, "
    "coalesce(s.n, 0) AS sessions, r.started, r.finished, "
    "CASE WHEN r.finished IS NOT NULL THEN 'finished' WHEN r.id = ?1 THEN 'running' "
    "ELSE 'unfinished' END AS state, CASE WHEN r.finished IS NULL AND r.id = ?1 THEN ?2 END "
    "FROM runs AS r LEFT JOIN (SELECT run_id, count(*) AS n FROM sessions GROUP BY run_id) "
    "AS s ON s.run_id = r.id ORDER BY r.id";

enum { C_ID, C_SOURCE, C_FIRST, C_LAST, C_PACKETS, C_DROPS, C_SESSIONS, C_STARTED, C_FINISHED,
       C_STATE, C_PID };

static void
help_runs(FILE *out)
{
	fputs("usage: mxlag runs [list] [OPTION]...      mxlag runs delete ID [--db FILE]\n"
	      "Lists the runs (analyze and capture invocations) of the database: id, state\n"
	      "(finished; running: its writer is alive, with its pid; unfinished: it died),\n"
	      "first and last packet, packets, kernel drops, sessions and source.\n"
	      "delete ID removes run ID and every row that belongs to it, in one\n"
	      "transaction, unfinished runs too (not a running one); the same capture files\n"
	      "can then be analyzed again.\n"
	      "Options:\n"
	      "  --db FILE          the database (default mxlag.db)\n"
	      "  --format F         text (default), csv or json\n"
	      "  --tz ZONE          text times in ZONE (as for report); CSV and JSON stay UTC\n"
	      "                     and epoch seconds\n"
	      "  -h, --help         this text\n",
	      out);
}

static void
fmt_time(sqlite3_stmt *st, int col, int utc, char *buf, size_t n)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL) {
		snprintf(buf, n, "-");
		return;
	}
	time_t t = (time_t)sqlite3_column_double(st, col);
	struct tm tm;
	if ((utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)) == NULL ||
	    strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, n, "%.0f", sqlite3_column_double(st, col));
}

static void
fmt_int(sqlite3_stmt *st, int col, char *buf, size_t n)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%lld", (long long)sqlite3_column_int64(st, col));
}

/* RFC 4180: quoted when it holds a comma, quote or line break */
static void
csv_text(FILE *out, const char *v)
{
	if (!v)
		return;
	if (!strpbrk(v, ",\"\r\n")) {
		fputs(v, out);
		return;
	}
	fputc('"', out);
	for (; *v; v++) {
		if (*v == '"')
			fputc('"', out);
		fputc(*v, out);
	}
	fputc('"', out);
}

static void
csv_num(FILE *out, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) != SQLITE_NULL)
		fputs((const char *)sqlite3_column_text(st, col), out);
}

static int
list_runs(sqlite3 *db, const char *path, enum report_format fmt, const char *zone)
{
	struct dblock_holder h;
	char err[512];
	if (dblock_holder(path, &h, err, sizeof(err)) < 0) {
		fprintf(stderr, "mxlag runs: %s\n", err);
		return 1;
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, list_sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "mxlag runs: %s: %s\n", path, sqlite3_errmsg(db));
		return 1;
	}
	/* a writer that has not begun its run yet runs none */
	sqlite3_bind_int64(st, 1, h.pid > 0 ? h.run_id : 0);
	sqlite3_bind_int64(st, 2, h.pid);
	/* JSON straight from SQLite: escaping and numbers as stored */
	sqlite3_stmt *js = NULL;
	if (fmt == REPORT_JSON &&
	    sqlite3_prepare_v2(db,
	                       "SELECT json_object('id', ?1, 'state', ?2, 'pid', ?3, 'source', ?4, "
	                       "'first_ts', ?5, 'last_ts', ?6, 'packets', ?7, 'kernel_drops', ?8, "
	                       "'sessions', ?9, 'started', ?10, 'finished', ?11)",
	                       -1, &js, NULL) != SQLITE_OK) {
		fprintf(stderr, "mxlag runs: %s\n", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return 1;
	}
	if (fmt == REPORT_TEXT)
		printf("runs, times %s\n%-5s %-10s %-19s %-19s %9s %6s %8s\n", zone ? zone : "UTC",
		       "ID", "STATE", "FIRST PACKET", "LAST PACKET", "PACKETS", "DROPS",
		       "SESSIONS");
	else if (fmt == REPORT_CSV)
		printf("id,state,pid,source,first_ts,last_ts,first_utc,last_utc,packets,"
		       "kernel_drops,sessions,started,finished\n");
	else
		fputc('[', stdout);
	int rc, n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, C_STATE);
		const char *source = (const char *)sqlite3_column_text(st, C_SOURCE);
		char first[40], last[40], pk[24], dr[24], se[24];
		if (fmt == REPORT_TEXT) {
			fmt_time(st, C_FIRST, 0, first, sizeof(first));
			fmt_time(st, C_LAST, 0, last, sizeof(last));
			fmt_int(st, C_PACKETS, pk, sizeof(pk));
			fmt_int(st, C_DROPS, dr, sizeof(dr));
			fmt_int(st, C_SESSIONS, se, sizeof(se));
			printf("%-5lld %-10s %-19s %-19s %9s %6s %8s\n",
			       (long long)sqlite3_column_int64(st, C_ID), state, first, last, pk, dr,
			       se);
			if (sqlite3_column_type(st, C_PID) != SQLITE_NULL)
				printf("      %s (pid %lld: %s)\n", source ? source : "",
				       (long long)sqlite3_column_int64(st, C_PID),
				       h.cmd[0] ? h.cmd : "?");
			else
				printf("      %s\n", source ? source : "");
		} else if (fmt == REPORT_CSV) {
			fmt_time(st, C_FIRST, 1, first, sizeof(first));
			fmt_time(st, C_LAST, 1, last, sizeof(last));
			printf("%lld,%s,", (long long)sqlite3_column_int64(st, C_ID), state);
			csv_num(stdout, st, C_PID);
			fputc(',', stdout);
			csv_text(stdout, source);
			fputc(',', stdout);
			csv_num(stdout, st, C_FIRST);
			fputc(',', stdout);
			csv_num(stdout, st, C_LAST);
			printf(",%s,%s,", strcmp(first, "-") ? first : "", strcmp(last, "-") ? last : "");
			csv_num(stdout, st, C_PACKETS);
			fputc(',', stdout);
			csv_num(stdout, st, C_DROPS);
			fputc(',', stdout);
			csv_num(stdout, st, C_SESSIONS);
			fputc(',', stdout);
			csv_num(stdout, st, C_STARTED);
			fputc(',', stdout);
			csv_num(stdout, st, C_FINISHED);
			fputc('\n', stdout);
		} else {
			static const int cols[] = {C_ID,      C_STATE, C_PID,      C_SOURCE,
			                           C_FIRST,   C_LAST,  C_PACKETS,  C_DROPS,
			                           C_SESSIONS, C_STARTED, C_FINISHED};
			sqlite3_reset(js);
			for (int i = 0; i < (int)(sizeof(cols) / sizeof(cols[0])); i++)
				sqlite3_bind_value(js, i + 1, sqlite3_column_value(st, cols[i]));
			if (sqlite3_step(js) != SQLITE_ROW) {
				rc = SQLITE_ERROR;
				break;
			}
			printf("%s%s", n ? ",\n" : "\n", (const char *)sqlite3_column_text(js, 0));
		}
		n++;
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "mxlag runs: %s: %s\n", path, sqlite3_errmsg(db));
		sqlite3_finalize(js);
		sqlite3_finalize(st);
		return 1;
	}
	if (fmt == REPORT_JSON)
		fputs(n ? "\n]\n" : "]\n", stdout);
	else if (fmt == REPORT_TEXT && n == 0)
		puts("(no runs)");
	sqlite3_finalize(js);
	sqlite3_finalize(st);
	return 0;
}

static int
delete_run(const char *path, const char *arg)
{
	char err[512], *end;
	errno = 0;
	long long id = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || id <= 0) {
		fprintf(stderr, "mxlag runs: bad run id %s\n", arg);
		return 2;
	}
	struct dblock_holder h;
	int held = dblock_holder(path, &h, err, sizeof(err));
	if (held < 0) {
		fprintf(stderr, "mxlag runs: %s\n", err);
		return 1;
	}
	if (held && h.run_id == id) {
		fprintf(stderr, "mxlag runs: run %lld is running (pid %ld: %s); stop it first\n", id,
		        h.pid, h.cmd[0] ? h.cmd : "?");
		return 1;
	}
	sqlite3 *db;
	if (lifecycle_open(&db, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "mxlag runs: %s\n", err);
		return 1;
	}
	int64_t rows = 0;
	int r = lifecycle_delete_run(db, id, &rows, err, sizeof(err));
	sqlite3_close(db);
	if (r < 0) {
		fprintf(stderr, "mxlag runs: %s: %s\n", path, err);
		return 1;
	}
	if (r > 0) {
		fprintf(stderr, "mxlag runs: %s: no run %lld (mxlag runs lists them)\n", path, id);
		return 1;
	}
	printf("mxlag: run %lld deleted with %" PRId64 " rows\n", id, rows);
	return 0;
}

static const struct option runs_longopts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"tz", required_argument, NULL, OPT_TZ},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int
cmd_runs(int argc, char **argv)
{
	const char *db = DEFAULT_DB, *tz = NULL, *zone = NULL;
	enum report_format fmt = REPORT_TEXT;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", runs_longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DB:
			db = optarg;
			break;
		case OPT_FORMAT:
			if (report_format_parse(optarg, &fmt) != 0 || fmt == REPORT_HTML) {
				fprintf(stderr, "mxlag runs: unknown format %s (text, csv, json)\n",
				        optarg);
				return 2;
			}
			break;
		case OPT_TZ:
			tz = optarg;
			break;
		case 'h':
			help_runs(stdout);
			return 0;
		default:
			bad_option("runs", c, argv);
			return 2;
		}
	}
	const char *sub = optind < argc ? argv[optind] : "list";
	if (strcmp(sub, "delete") == 0) {
		if (optind + 2 != argc) {
			fprintf(stderr, "mxlag runs: delete takes one run id (mxlag help runs)\n");
			return 2;
		}
		return delete_run(db, argv[optind + 1]);
	}
	if (strcmp(sub, "list") != 0) {
		fprintf(stderr, "mxlag runs: unknown subcommand %s (list, delete)\n", sub);
		return 2;
	}
	if (optind + 1 < argc) {
		fprintf(stderr, "mxlag runs: unexpected argument %s\n", argv[optind + 1]);
		return 2;
	}
	if (report_zone(tz, &zone) != 0)
		return 2;
	sqlite3 *h;
	char err[512];
	if (lifecycle_open_readonly(&h, db, err, sizeof(err)) != 0) {
		fprintf(stderr, "mxlag runs: %s\n", err);
		return 1;
	}
	int rc = list_runs(h, db, fmt, zone);
	sqlite3_close(h);
	return rc;
}

void
cmd_runs_help(FILE *out)
{
	help_runs(out);
}
