/*
 * lifecycle.h - a database over its life: opening it read-only for reports,
 * deleting a run with every row that belongs to it.
 *
 * A row belongs to run N when its table has a run_id column holding N.  The
 * tables are found in the schema itself (sqlite_schema and
 * pragma_table_info), not listed here, so a table added later with a run_id
 * column is covered without a change to this file.
 */
#ifndef MXLAG_LIFECYCLE_H
#define MXLAG_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/*
 * Opens an existing mxlag database for writing (no create), with the
 * store's busy timeout, migrated forward like store_open() (without its
 * bulk-load and index work).  0, or -1 with the reason in err.
 */
int lifecycle_open(sqlite3 **out, const char *path, char *err, size_t errlen);

/*
 * Opens an mxlag database read-only (SQLITE_OPEN_READONLY, query_only): no
 * migration, no write of any kind, so a user with read permission only can
 * use it, also while a writer has a transaction open (WAL).  A database of
 * another schema version is refused: an older one needs a writing mxlag
 * command to migrate it first, a newer one a newer mxlag.  0, or -1 with the
 * reason in err.
 */
int lifecycle_open_readonly(sqlite3 **out, const char *path, char *err, size_t errlen);

/*
 * Deletes run id and every row with that run_id, in one transaction.
 * 0 = deleted (*rows: the rows deleted besides the runs row), 1 = no such
 * run, -1 = error (err; nothing deleted).
 */
int lifecycle_delete_run(sqlite3 *db, int64_t id, int64_t *rows, char *err, size_t errlen);

/* What lifecycle_prune() removed. */
struct prune_stats {
	int64_t sessions, transactions, causes, dns_queries, ident_probes, minute_rows, runs;
};

/*
 * Deletes what happened before cutoff (epoch seconds, packet time; rounded
 * down to a whole minute, so per-minute rows go with what they count), in
 * transactions of at most a few thousand sessions or rows each, so that a
 * writer running meanwhile (a live capture) waits for each only briefly:
 * sessions that began before cutoff (coalesce(start, syn)) with their
 * replies and causes; DNS queries and ident probes sent before it that no
 * cause left names; rows of every table with columns run_id and minute
 * (latency_hist and any later per-minute table) whose minute is before it;
 * then the runs left without a row in any run_id table whose last packet
 * (or start, without packets) is before it, except run keep (the running
 * one; 0 = none).  A partly pruned run keeps its row and so its
 * fingerprint.  0, or -1 with err (what was committed stays deleted).
 */
int lifecycle_prune(sqlite3 *db, double cutoff, int64_t keep, struct prune_stats *ps, char *err,
                    size_t errlen);

/*
 * Gives the free pages back to the file system.  With auto_vacuum =
 * INCREMENTAL (databases created since issue 13), PRAGMA incremental_vacuum
 * in steps; with auto_vacuum off (older databases) and may_vacuum, a
 * one-time VACUUM that also switches the database to INCREMENTAL (*vacuumed
 * = 1); without may_vacuum nothing (*vacuumed = -1).  Then a WAL
 * checkpoint, which shrinks the file: TRUNCATE with may_vacuum (no writer
 * runs), else PASSIVE (it never holds up a running writer).  0, or -1 with
 * err.
 */
int lifecycle_reclaim(sqlite3 *db, int may_vacuum, int *vacuumed, char *err, size_t errlen);

#endif
