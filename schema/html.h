/*
 * html.h - the HTML report: one self-contained HTML5 page (inline CSS and
 * SVG, no scripts, no external resources) for the mail team.
 *
 * The page holds: the capture span and the totals of `mxlag report summary`;
 * the slow replies with their causes, diagnosis and remedy (the content of
 * `mxlag report slow`); a log-scale latency histogram per command with
 * p50/p95/max; a waterfall per session with slow replies (the client's wait
 * and, under it, the DNS queries and ident probes blamed for it, on one time
 * axis, coloured by outcome); and the unanswered DNS queries over time per
 * server asked.  `--format html slow` and `--format html summary` both give
 * this whole page.
 *
 * The report options apply as in the text reports: --slow sets the
 * threshold, --since/--until bound every section (on the request or query
 * time), --limit bounds the slow replies listed and drawn (without it at
 * most HTML_MAX_WATERFALLS sessions get a waterfall).  The output depends on
 * the database and the options only (no wall clock); every text that came
 * from packets is HTML-escaped and sanitized to valid UTF-8.
 */
#ifndef MXLAG_HTML_H
#define MXLAG_HTML_H

#include <stddef.h>
#include <stdio.h>

#include <sqlite3.h>

#include "report.h"

#define HTML_MAX_WATERFALLS 50
/* slow replies listed when --limit is not given: a page of a month stays
   a page (the newest are listed, and a line says the rest are left out) */
#define HTML_MAX_SLOW 1000

/*
 * Writes the page for report o->name ("slow" or "summary") to out.  0 on
 * success; -1 with a message in err (another report name, SQL or write
 * error).
 */
int report_html(sqlite3 *db, const struct report_opts *o, FILE *out, char *err, size_t errlen);

/*
 * The page of several databases (report --db A --db B --format html): a
 * table of the hosts, one row per database with the figures of `report
 * summary` over the same databases (counts, slow replies by cause kind,
 * median/p95/max, DNS and ident) and their total (counts summed, latency
 * from the merged histograms), then each database's page as report_html()
 * gives it, in a section with id "dbN" (N from 1, in argument order) whose
 * element ids all start with "dbN-".  Results as report_html().
 */
int report_html_fleet(const struct report_src *src, size_t n, const struct report_opts *o, FILE *out,
                      char *err, size_t errlen);

#endif
