/*
 * lifecycle.c - deleting runs (lifecycle.h).
 */
#include <stdio.h>
#include <string.h>

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
	if (version < 0)
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
		         "read-only command does not do: run a writing mxlag command on it once "
		         "(analyze, capture, prune, runs delete) as a user who may write it",
		         path, (long long)version, STORE_SCHEMA_VERSION);
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
