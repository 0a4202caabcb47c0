/*
 * sqlfn.h - SQL functions the report queries use.
 *
 *   mx_percentiles(x)    aggregate: the 50th, 95th and 99th percentile of
 *                        the non-NULL x of the group, as one blob
 *   mx_percentile(b, k)  the k-th (50, 95 or 99) of such a blob; NULL for
 *                        an empty group or another k
 *   mx_zone(name, rel)   the zone a looked-up name falls in, for grouping
 *                        incidents (sqlfn_zone below); NULL for NULL
 *   mx_local(ts)         epoch seconds ts as they are, or shifted by the
 *                        local zone's UTC offset at that instant (see
 *                        sqlfn_local_time()): strftime(F, mx_local(ts),
 *                        'unixepoch') is then the zone's wall-clock time
 *
 * The k-th percentile of n values is the one at rank max(1, ceil(n * k /
 * 100)) in ascending order (the nearest-rank method: always a value that
 * occurred).  One sort per group in C instead of a window function over
 * every row: SQLite's window sort took 12 s for 2.8 M replies, this 1–2 s.
 */
#ifndef MXLAG_SQLFN_H
#define MXLAG_SQLFN_H

#include <sqlite3.h>

/* Registers the functions on db; SQLite result code. */
int sqlfn_register(sqlite3 *db);

/*
 * mx_local() on db: local = 0 (the default) leaves times UTC; otherwise they
 * are shifted into the process's local zone (TZ, see tzset(3)).  Call it
 * before preparing the statements that use it; SQLite result code.
 */
int sqlfn_local_time(sqlite3 *db, int local);

/*
 * 1 when a compact reply (schema 5) can be slow_ms slow: some run keeps
 * replies below its notable threshold that high; 0 otherwise, so that the
 * reports read the notable rows only.  Bound as :compact_slow (a constant
 * the query planner skips the compact records with).
 */
int sqlfn_compact_slow(sqlite3 *db, double slow_ms);

/*
 * The zone of a looked-up name (lower case, no trailing dot), a suffix of
 * name, by the cause relation rel (DESIGN's vocabulary; may be NULL):
 *   - a reverse name of a full address rolls up to its reverse zone: the
 *     /24 (a.b.c.d.in-addr.arpa -> b.c.d.in-addr.arpa) or the /48 (32 nibbles
 *     .ip6.arpa -> the last 12 nibbles .ip6.arpa); other reverse names stay;
 *   - dnsbl: the list's zone, after the reversed address (4 octets or 32
 *     nibbles);
 *   - client-forward: the domain above the client's host name (its first
 *     label dropped when two or more labels remain);
 *   - any other name: without its leading service labels ("_dmarc.", ...).
 * Never empty for a non-empty name: a name that would lose every label
 * stays whole.
 */
const char *sqlfn_zone(const char *name, const char *rel);

#endif
