/*
 * lifecycle.c - deleting runs (lifecycle.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dict.h"
#include "lifecycle.h"
#include "store.h"

int
lifecycle_open(sqlite3 **out, const char *path, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	*out = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", path,
		         db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, STORE_BUSY_MS);
	/* as store_open: -wal and -shm stay for read-only users */
	int persist = 1;
	sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	sqlite3_exec(db, "PRAGMA foreign_keys = OFF", NULL, NULL, NULL);
	char merr[256];
	if (store_migrate_db(db, merr, sizeof(merr)) != STORE_OK) {
		snprintf(err, errlen, "%s: %s", path, merr);
		sqlite3_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

int
lifecycle_open_readonly(sqlite3 **out, const char *path, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	int64_t version = -1;
	*out = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", path,
		         db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, STORE_BUSY_MS);
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	if (version < 0 && (sqlite3_errcode(db) == SQLITE_CANTOPEN ||
	                     sqlite3_errcode(db) == SQLITE_READONLY))
		snprintf(err, errlen,
		         "cannot read database %s: %s (a WAL database needs its -wal and -shm "
		         "files beside it; when they are missing and this user may not create "
		         "them, run `mxlag migrate --db %s` once as its owner: they are kept "
		         "from then on)",
		         path, sqlite3_errmsg(db), path);
	else if (version < 0)
		snprintf(err, errlen, "cannot read database %s: %s", path, sqlite3_errmsg(db));
	else if (version == 0)
		snprintf(err, errlen,
		         "%s is not an mxlag database (no schema version): "
		         "run `mxlag analyze --db %s ...` first",
		         path, path);
	else if (version > STORE_SCHEMA_VERSION)
		snprintf(err, errlen,
		         "database %s has schema version %lld, newer than this mxlag supports "
		         "(%d): use a newer mxlag",
		         path, (long long)version, STORE_SCHEMA_VERSION);
	else if (version < STORE_SCHEMA_VERSION)
		snprintf(err, errlen,
		         "database %s has schema version %lld and needs migration to %d, which a "
		         "report does not do (it only reads): run `mxlag migrate --db %s` once as "
		         "a user who may write it",
		         path, (long long)version, STORE_SCHEMA_VERSION, path);
	if (version != STORE_SCHEMA_VERSION) {
		sqlite3_close(db);
		return -1;
	}
	sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL);
	*out = db;
	return 0;
}

/* The tables (not runs itself) with a run_id column, as a SQL statement. */
static const char run_tables_sql[] =
    "SELECT m.name FROM sqlite_schema AS m, pragma_table_info(m.name) AS p "
    "WHERE m.type = 'table' AND m.name <> 'runs' AND m.name NOT LIKE 'sqlite_%' "
    "AND p.name = 'run_id' ORDER BY m.name";

static int
fail(sqlite3 *db, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int
lifecycle_delete_run(sqlite3 *db, int64_t id, int64_t *rows, char *err, size_t errlen)
{
	sqlite3_stmt *tables = NULL, *st = NULL;
	*rows = 0;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "deleting run %lld: %s", (long long)id, sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_prepare_v2(db, "DELETE FROM runs WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
		return fail(db, err, errlen, "deleting the run");
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(db, err, errlen, "deleting the run");
	if (sqlite3_changes(db) == 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 1;
	}
	if (sqlite3_prepare_v2(db, run_tables_sql, -1, &tables, NULL) != SQLITE_OK)
		return fail(db, err, errlen, "listing the tables of runs");
	while ((rc = sqlite3_step(tables)) == SQLITE_ROW) {
		char sql[256];
		const char *name = (const char *)sqlite3_column_text(tables, 0);
		/* a name from the schema, quoted as an identifier */
		char *q = sqlite3_mprintf("DELETE FROM \"%w\" WHERE run_id = ?1", name);
		if (!q || strlen(q) >= sizeof(sql)) {
			sqlite3_free(q);
			sqlite3_finalize(tables);
			snprintf(err, errlen, "deleting run %lld: table name too long", (long long)id);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		snprintf(sql, sizeof(sql), "%s", q);
		sqlite3_free(q);
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
			sqlite3_finalize(tables);
			return fail(db, err, errlen, "deleting the rows of a run");
		}
		sqlite3_bind_int64(st, 1, id);
		int r = sqlite3_step(st);
		sqlite3_finalize(st);
		if (r != SQLITE_DONE) {
			sqlite3_finalize(tables);
			return fail(db, err, errlen, "deleting the rows of a run");
		}
		*rows += sqlite3_changes64(db);
	}
	sqlite3_finalize(tables);
	if (rc != SQLITE_DONE)
		return fail(db, err, errlen, "listing the tables of runs");
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return fail(db, err, errlen, "committing the deletion");
	return 0;
}

/* ---- prune ------------------------------------------------------------------------ */

#define PRUNE_CHUNK 2000 /* sessions (or rows) per transaction */

/* Runs sql (binding ?1 = cutoff) in its own transaction; *changes += rows. */
static int
exec_chunk(sqlite3 *db, const char *sql, double cutoff, int64_t *changes, char *err,
           size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "pruning: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_double(st, 1, cutoff);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "pruning: %s", sqlite3_errmsg(db));
		return -1;
	}
	*changes = sqlite3_changes64(db);
	return 0;
}

static int
begin(sqlite3 *db, char *err, size_t errlen)
{
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "pruning: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

static int
commit(sqlite3 *db, char *err, size_t errlen)
{
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return fail(db, err, errlen, "pruning");
	return 0;
}

/* One chunk of sessions with their replies and causes; *n sessions deleted. */
static int
prune_sessions(sqlite3 *db, double cutoff, struct prune_stats *ps, int64_t *n, char *err,
               size_t errlen)
{
	int64_t c = 0;
	char sql[512];
	if (begin(db, err, errlen) != 0)
		return -1;
	snprintf(sql, sizeof(sql),
	         "INSERT INTO temp.prune_s SELECT r.id FROM "
	         STORE_SESSION_WINDOW_SQL("main.", "NULL", "?1") " WHERE " STORE_SESSION_T0_SQL
	         " < ?1 LIMIT %d",
	         PRUNE_CHUNK);
	if (exec_chunk(db, "DELETE FROM temp.prune_s", cutoff, &c, err, errlen) != 0 ||
	    exec_chunk(db, sql, cutoff, n, err, errlen) != 0)
		goto fail;
	if (*n == 0)
		return commit(db, err, errlen);
	if (exec_chunk(db,
	               "DELETE FROM main.causes WHERE transaction_id IN (SELECT t.id FROM "
	               "main.transactions AS t JOIN temp.prune_s AS p ON t.session_id = p.id)",
	               cutoff, &c, err, errlen) != 0)
		goto fail;
	ps->causes += c;
	if (exec_chunk(db,
	               "DELETE FROM main.transactions WHERE session_id IN "
	               "(SELECT id FROM temp.prune_s)",
	               cutoff, &c, err, errlen) != 0)
		goto fail;
	ps->transactions += c;
	if (exec_chunk(db,
	               "DELETE FROM main.session_rows WHERE id IN (SELECT id FROM temp.prune_s)",
	               cutoff, &c, err, errlen) != 0)
		goto fail;
	ps->sessions += c;
	return commit(db, err, errlen);
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* Deletes chunk by chunk with sql (?1 = cutoff, LIMIT inside) until none is left. */
static int
prune_rows(sqlite3 *db, const char *sql, double cutoff, int64_t *total, char *err, size_t errlen)
{
	int64_t n;
	do {
		if (begin(db, err, errlen) != 0)
			return -1;
		if (exec_chunk(db, sql, cutoff, &n, err, errlen) != 0) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		if (commit(db, err, errlen) != 0)
			return -1;
		*total += n;
	} while (n > 0);
	return 0;
}

#define STR2(x) #x
#define STR(x) STR2(x)

/* The per-minute tables: those with run_id and minute columns. */
static const char minute_tables_sql[] =
    "SELECT m.name FROM sqlite_schema AS m WHERE m.type = 'table' "
    "AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'run_id') "
    "AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'minute') "
    "ORDER BY m.name";

/* Runs left without any row, by sql built over every run_id table. */
static int
prune_runs(sqlite3 *db, double cutoff, int64_t keep, int64_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *tables;
	sqlite3_str *q = sqlite3_str_new(db);
	sqlite3_str_appendf(q, "DELETE FROM main.runs WHERE coalesce(last_ts, started) < ?1 "
	                       "AND id <> ?2");
	if (sqlite3_prepare_v2(db, run_tables_sql, -1, &tables, NULL) != SQLITE_OK) {
		sqlite3_free(sqlite3_str_finish(q));
		snprintf(err, errlen, "pruning: %s", sqlite3_errmsg(db));
		return -1;
	}
	while (sqlite3_step(tables) == SQLITE_ROW)
		sqlite3_str_appendf(q, " AND NOT EXISTS (SELECT 1 FROM main.\"%w\" AS x "
		                       "WHERE x.run_id = runs.id)",
		                    (const char *)sqlite3_column_text(tables, 0));
	sqlite3_finalize(tables);
	char *sql = sqlite3_str_finish(q);
	sqlite3_stmt *st;
	if (!sql || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "pruning the runs: %s", sqlite3_errmsg(db));
		sqlite3_free(sql);
		return -1;
	}
	sqlite3_free(sql);
	sqlite3_bind_double(st, 1, cutoff);
	sqlite3_bind_int64(st, 2, keep);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "pruning the runs: %s", sqlite3_errmsg(db));
		return -1;
	}
	*n = sqlite3_changes64(db);
	return 0;
}

/*
 * The blocks of dns_rows (schema 15) and of session_rows (18) that began
 * before the cutoff: those left without a row go, the others span their
 * rows again (the DNS rows a kept reply's cause names, or the block's rows
 * after the cutoff).  Inside the caller's transaction.
 */
#define DNS_BLOCK_ROWS "FROM main.dns_rows WHERE id BETWEEN " STORE_DNS_BLOCK_IDS_SQL("blk")
#define SESSION_BLOCK_ROWS "FROM main.session_rows WHERE id BETWEEN " STORE_SESSION_BLOCK_IDS_SQL("blk")
static const char *const prune_blocks_sql[] = {
    "DELETE FROM main.dns_blocks WHERE ts_min_ns < ?1 * 1e9 AND NOT EXISTS"
    " (SELECT 1 " DNS_BLOCK_ROWS " AND ts_ns IS NOT NULL)",
    "UPDATE main.dns_blocks SET (ts_min_ns, ts_max_ns) ="
    " (SELECT min(ts_ns), max(ts_ns) " DNS_BLOCK_ROWS ") WHERE ts_min_ns < ?1 * 1e9",
    "DELETE FROM main.session_blocks WHERE t_min < ?1 AND NOT EXISTS"
    " (SELECT 1 " SESSION_BLOCK_ROWS " AND coalesce(start, syn) IS NOT NULL)",
    "UPDATE main.session_blocks SET (t_min, t_max) ="
    " (SELECT min(coalesce(start, syn)), max(coalesce(start, syn)) " SESSION_BLOCK_ROWS
    ") WHERE t_min < ?1",
};
#undef DNS_BLOCK_ROWS
#undef SESSION_BLOCK_ROWS

static int
prune_blocks(sqlite3 *db, double cutoff, char *err, size_t errlen)
{
	int64_t n;
	for (size_t i = 0; i < sizeof(prune_blocks_sql) / sizeof(prune_blocks_sql[0]); i++)
		if (exec_chunk(db, prune_blocks_sql[i], cutoff, &n, err, errlen) != 0)
			return -1;
	return 0;
}

/*
 * The dictionary entries (addrs, names: schema 10; of sessions since 12) no row needs:
 * not used since DICT_PRUNE_GRACE_S before the cutoff (last_minute is kept
 * to within DICT_TOUCH_S of the latest use, schema/dict.h) and not named by a row
 * older than the cutoff that was kept (a kept reply's cause names it).
 * Inside the caller's transaction.  A live writer's cache of them is
 * emptied at its next batch (the writer watches PRAGMA data_version).
 */
static int
prune_dicts(sqlite3 *db, double cutoff, char *err, size_t errlen)
{
	/* the rows kept before the cutoff (a kept run's) name entries that may
	   be that old; every later row's entries are younger than the grace */
#define KEPT_DNS "FROM " STORE_DNS_WINDOW_SQL("main.", "NULL", "?1") " WHERE " STORE_DNS_TS_SQL " < ?1"
#define KEPT_SESS "FROM " STORE_SESSION_WINDOW_SQL("main.", "NULL", "?1") " WHERE " STORE_SESSION_T0_SQL " < ?1"
	static const char *const sql[] = {
	    "DELETE FROM main.names WHERE last_minute < ?1 - " STR(DICT_PRUNE_GRACE_S)
	    " AND id NOT IN (SELECT qname " KEPT_DNS " AND qname IS NOT NULL"
	    " UNION SELECT answer " KEPT_DNS " AND answer IS NOT NULL"
	    " UNION SELECT app " KEPT_SESS " AND app IS NOT NULL"
	    " UNION SELECT banner_host " KEPT_SESS " AND banner_host IS NOT NULL"
	    " UNION SELECT helo " KEPT_SESS " AND helo IS NOT NULL"
	    " UNION SELECT sender_domain " KEPT_SESS " AND sender_domain IS NOT NULL"
	    " UNION SELECT rcpt_domains " KEPT_SESS " AND rcpt_domains IS NOT NULL"
	    " UNION SELECT bounce_domain " KEPT_SESS " AND bounce_domain IS NOT NULL)",
	    "DELETE FROM main.addrs WHERE last_minute < ?1 - " STR(DICT_PRUNE_GRACE_S)
	    " AND id NOT IN (SELECT client " KEPT_DNS " AND client IS NOT NULL"
	    " UNION SELECT server " KEPT_DNS " AND server IS NOT NULL"
	    " UNION SELECT client " KEPT_SESS " AND client IS NOT NULL"
	    " UNION SELECT server " KEPT_SESS " AND server IS NOT NULL"
	    " UNION SELECT host " KEPT_SESS " AND host IS NOT NULL"
	    " UNION SELECT bounce_origin " KEPT_SESS " AND bounce_origin IS NOT NULL)",
	};
#undef KEPT_DNS
#undef KEPT_SESS
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, sql[i], -1, &st, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "pruning the dictionaries: %s", sqlite3_errmsg(db));
			return -1;
		}
		sqlite3_bind_double(st, 1, cutoff);
		int rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			snprintf(err, errlen, "pruning the dictionaries: %s", sqlite3_errmsg(db));
			return -1;
		}
	}
	return 0;
}

int
lifecycle_prune(sqlite3 *db, double cutoff, int64_t keep, struct prune_stats *ps, char *err,
                size_t errlen)
{
	memset(ps, 0, sizeof(*ps));
	/* a whole minute: the per-minute rows go with the rows they count */
	cutoff = floor(cutoff / 60) * 60;
	if (sqlite3_exec(db,
	                 "PRAGMA temp_store = MEMORY;"
	                 "CREATE TEMP TABLE IF NOT EXISTS prune_s (id INTEGER PRIMARY KEY)",
	                 NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "pruning: %s", sqlite3_errmsg(db));
		return -1;
	}
	int64_t n;
	do {
		if (prune_sessions(db, cutoff, ps, &n, err, errlen) != 0)
			return -1;
	} while (n > 0);
	/* a lookup or probe that a kept reply's cause names stays */
	if (prune_rows(db,
	               "DELETE FROM main.dns_rows WHERE id IN (SELECT d.id FROM "
	               STORE_DNS_WINDOW_SQL("main.", "NULL", "?1") " WHERE " STORE_DNS_TS_SQL
	               " < ?1 AND d.id NOT IN (SELECT dns_query_id FROM main.causes WHERE"
	               " dns_query_id IS NOT NULL) LIMIT " STR(PRUNE_CHUNK) ")",
	               cutoff, &ps->dns_queries, err, errlen) != 0 ||
	    prune_rows(db,
	               "DELETE FROM main.ident_probes WHERE id IN (SELECT id FROM "
	               "main.ident_probes WHERE ts < ?1 AND id NOT IN (SELECT ident_probe_id FROM "
	               "main.causes WHERE ident_probe_id IS NOT NULL) LIMIT " STR(PRUNE_CHUNK) ")",
	               cutoff, &ps->ident_probes, err, errlen) != 0)
		return -1;
	sqlite3_stmt *tables;
	if (sqlite3_prepare_v2(db, minute_tables_sql, -1, &tables, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "pruning: %s", sqlite3_errmsg(db));
		return -1;
	}
	int rc = 0;
	while (rc == 0 && sqlite3_step(tables) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(tables, 0);
		char *sql = sqlite3_mprintf("DELETE FROM main.\"%w\" WHERE rowid IN (SELECT rowid "
		                            "FROM main.\"%w\" WHERE minute < ?1 LIMIT %d)",
		                            name, name, PRUNE_CHUNK);
		rc = sql ? prune_rows(db, sql, cutoff, &ps->minute_rows, err, errlen) : -1;
		sqlite3_free(sql);
	}
	sqlite3_finalize(tables);
	if (rc != 0)
		return -1;
	if (begin(db, err, errlen) != 0)
		return -1;
	/* the DNS queries kept above (a kept reply's cause names them) are
	   counted again in their minutes, so that dns_counts stays equal to
	   the rows (schema 7) */
	int64_t recounted = 0;
	if (exec_chunk(db,
	               "INSERT INTO main.dns_counts (minute, run_id, server, qtype, outcome, n) "
	               "SELECT CAST(floor(ts / 60.0) * 60 AS INTEGER), run_id, server, qtype, outcome, "
	               "count(*) FROM main.dns_queries WHERE ts < ?1 AND qtype IS NOT NULL "
	               "AND outcome IS NOT NULL GROUP BY 1, 2, 3, 4, 5 "
	               "ON CONFLICT (minute, run_id, coalesce(server, ''), qtype, outcome) "
	               "DO UPDATE SET n = n + excluded.n",
	               cutoff, &recounted, err, errlen) != 0 ||
	    prune_blocks(db, cutoff, err, errlen) != 0 ||
	    prune_dicts(db, cutoff, err, errlen) != 0 ||
	    prune_runs(db, cutoff, keep, &ps->runs, err, errlen) != 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return commit(db, err, errlen);
}

static int
read_int64(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

int
lifecycle_reclaim(sqlite3 *db, int may_vacuum, int *vacuumed, char *err, size_t errlen)
{
	int64_t mode = 0, free_pages = 0;
	*vacuumed = 0;
	if (read_int64(db, "PRAGMA auto_vacuum", &mode) != SQLITE_OK) {
		snprintf(err, errlen, "reading auto_vacuum: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (mode == 0) {
		if (!may_vacuum) {
			*vacuumed = -1;
			return 0;
		}
		/* the one time: VACUUM rebuilds the file with the new mode */
		if (sqlite3_exec(db, "PRAGMA auto_vacuum = INCREMENTAL; VACUUM", NULL, NULL,
		                 NULL) != SQLITE_OK) {
			snprintf(err, errlen, "VACUUM: %s", sqlite3_errmsg(db));
			return -1;
		}
		*vacuumed = 1;
	} else {
		/* a few thousand pages per step: the write lock is held briefly;
		   until none is free (or a writer frees pages as fast) */
		int64_t before = INT64_MAX;
		for (;;) {
			if (read_int64(db, "PRAGMA freelist_count", &free_pages) != SQLITE_OK) {
				snprintf(err, errlen, "incremental_vacuum: %s", sqlite3_errmsg(db));
				return -1;
			}
			if (free_pages == 0 || free_pages >= before)
				break;
			before = free_pages;
			if (sqlite3_exec(db, "PRAGMA incremental_vacuum(4096)", NULL, NULL, NULL) !=
			    SQLITE_OK) {
				snprintf(err, errlen, "incremental_vacuum: %s", sqlite3_errmsg(db));
				return -1;
			}
		}
	}
	/* in WAL mode the file shrinks when the log is written back whole.
	   TRUNCATE (the log file too) waits for readers holding the write
	   lock: only without a writer; beside one PASSIVE, which never
	   blocks it */
	sqlite3_exec(db, may_vacuum ? "PRAGMA wal_checkpoint(TRUNCATE)" :
	                              "PRAGMA wal_checkpoint(PASSIVE)",
	             NULL, NULL, NULL);
	return 0;
}
