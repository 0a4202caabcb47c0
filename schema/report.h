/*
 * report.h - the report generator: runs the embedded schema/reports/NAME.sql
 * queries against an mxlag database and renders text, CSV (RFC 4180) or
 * JSON (built by SQLite's json_object()).
 *
 * Each report query returns one row per item with flat columns (text and
 * CSV) and a "json" column holding the row's JSON object; columns whose name
 * is "json" or ends in "_json" are not printed in CSV; columns ending in
 * "_text" are text only (printed wrapped under their row).  Parameters a
 * query may use: :slow_ms, :since, :until (epoch seconds, NULL =
 * unbounded), :limit (-1 = all), :arg (the report argument), :client (an
 * address, NULL = any), :protocol ("smtp", "pop3", NULL = any).
 */
#ifndef MXLAG_REPORT_H
#define MXLAG_REPORT_H

#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>

#include <sqlite3.h>

enum report_format { REPORT_TEXT = 0, REPORT_CSV, REPORT_JSON, REPORT_HTML };

struct report_opts {
	const char *name; /* "slow", "ptr", "summary", "dns", "ident", "sessions", ... */
	const char *arg;  /* report argument (e.g. a session id); NULL = none */
	enum report_format format;
	double since, until;  /* epoch seconds on the request / query time; NAN = unbounded */
	double slow_ms;       /* slow threshold; NAN or <= 0 = 1000 */
	long limit;           /* <= 0 = no limit */
	const char *client;   /* only sessions with this address at either end; NULL = any */
	const char *protocol; /* "smtp" or "pop3"; NULL = any */
	int color;            /* text: ANSI colour (only when writing to a terminal) */
	/* text and HTML: times in the process's local zone (TZ, tzset()) under this
	   name (the titles say it); NULL = UTC.  CSV and JSON are UTC/epoch always. */
	const char *tz;
};

/* Defaults: text, no time bounds, 1000 ms, no limit, name and arg NULL. */
void report_opts_init(struct report_opts *o);

/* "text", "csv", "json", "html" -> *out; -1 if unknown. */
int report_format_parse(const char *s, enum report_format *out);

/*
 * Parses a --since / --until time: epoch seconds ("1700000000.5"); ISO 8601
 * "YYYY-MM-DD", "YYYY-MM-DD HH:MM", "YYYY-MM-DD HH:MM:SS[.frac]" ('T'
 * instead of the space is fine; UTC unless a 'Z' or "+HH:MM"/"-HH:MM"
 * offset says otherwise); or a time relative to now: "90s", "30m", "24h",
 * "7d", "2w" (now minus that).  0 on success, -1 on junk.
 * report_parse_time_at() takes "now" (epoch seconds) for relative times.
 */
int report_parse_time(const char *s, double *out);
int report_parse_time_at(const char *s, double now, double *out);

/* Is name "smtp" or "pop3"? */
int report_protocol_valid(const char *name);

/*
 * A slow reply without a network cause: what it is and where to look.  In
 * the host's own deliveries (outbound) the remote server kept it waiting.
 */
const char *report_no_cause(int outbound);
const char *report_no_cause_advice(int outbound);

/*
 * Counts the slow replies (>= o->slow_ms) within o's time window, client and
 * protocol filters (what `slow` would list without a limit) into *n.
 * 0 on success; -1 with err set.
 */
int report_count_slow(sqlite3 *db, const struct report_opts *o, long *n, char *err, size_t errlen);

/*
 * Do the sessions belong to more than one monitored host?  Then the text
 * reports show which (a SERVER or HOST column, the summary per host).
 */
bool report_multi_host(sqlite3 *db);

/* The names of the known reports, comma-separated ("slow, ptr, summary"). */
const char *report_names(void);

/*
 * The i-th known report (0, 1, ... in the order of report_names()): its
 * name, with its one-line help in *help; NULL past the last one.
 */
const char *report_info(size_t i, const char **help);

/* 1 when report name takes an argument (session: the id), 0 when not, -1 unknown. */
int report_needs_arg(const char *name);

/*
 * Opens an existing mxlag database for reports, read-only
 * (lifecycle_open_readonly(): SQLITE_OPEN_READONLY, no migration: an older
 * schema is refused with a message saying how to migrate it, as are a newer
 * one and a non-mxlag file), with the report SQL functions.  0 on success;
 * -1 with err set.  Close with sqlite3_close().
 */
int report_open(sqlite3 **out, const char *path, char *err, size_t errlen);

/* report_run()'s result for a usage error (the command line's exit status 2) */
#define REPORT_EUSAGE (-2)

/*
 * Runs report o->name on db and writes it to out.  0 on success; with a
 * message in err: REPORT_EUSAGE for an unknown report (the message lists the
 * known ones), a format not available for that report or a missing argument;
 * -1 for a missing session, SQL or write error.
 */
int report_run(sqlite3 *db, const struct report_opts *o, FILE *out, char *err, size_t errlen);

/* one of several databases: its label (the host it holds) and its handle */
struct report_src {
	const char *label;
	const char *path;
	sqlite3 *db;
};

/*
 * Runs report o->name on n databases (each opened with report_open()) in
 * their order and writes it to out.  One database: report_run().  Several
 * (docs/DESIGN.md, "Several databases"): text gives each database's report
 * in turn, every line after its label; CSV has a first column "db"; every
 * JSON row object a first key "db"; a list report gives each database's
 * rows in turn (o->limit per database); the second part of a report
 * (outbound's congestion) follows all rows.  summary adds the fleet total:
 * the counts summed, latency percentiles from the merged histograms (JSON:
 * {"dbs": [summaries], "total": {...}}).  session takes "LABEL:ID", or an
 * ID that only one database has.  HTML: one page (html.h,
 * report_html_fleet()).  Results as
 * report_run().
 */
int report_run_fleet(const struct report_src *src, size_t n, const struct report_opts *o, FILE *out,
                     char *err, size_t errlen);

#endif
