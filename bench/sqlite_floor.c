/*
 * sqlite_floor.c - what storing mxlag's rows costs in SQLite alone.
 *
 *   sqlite_floor SOURCE.db [SCRATCH.db]
 *
 * Reads every row that a full `mxlag analyze` stored in SOURCE.db
 * (session_rows, transactions, dns_rows and their dictionaries addrs and
 * names, ident_probes,
 * causes, latency_hist) into memory, then inserts
 * them into a new database (SCRATCH.db, default: a file beside SOURCE.db) in
 * the cheapest way SQLite offers: tables without secondary indexes, one
 * transaction, no journal, no fsync, statements prepared once, values bound
 * from memory without a copy.  Then it builds the schema's secondary indexes
 * as mxlag does at the end of a bulk load.
 *
 * No packet is read and no analysis runs: the times printed are a floor
 * under any run that stores the same rows, whatever the packet path does.
 * bench/run.sh prints them beside the full run.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* session_rows, dns_rows and their dictionaries: the rows of the views
 * sessions (schema 12) and dns_queries (schema 10) */
static const char *const tables[] = {"session_rows", "transactions", "dns_rows",
                                     "addrs",        "names",        "ident_probes",
                                     "causes",       "latency_hist"};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))

struct table_rows {
	int ncol;
	size_t nrow;
	sqlite3_value **v; /* nrow * ncol */
};

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(sqlite3 *db, const char *what)
{
	fprintf(stderr, "sqlite_floor: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
	exit(1);
}

static void
exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		die(db, sql);
}

static void
load_table(sqlite3 *src, const char *name, struct table_rows *t)
{
	char sql[128];
	sqlite3_stmt *st;
	size_t cap = 0;

	snprintf(sql, sizeof(sql), "SELECT * FROM %s ORDER BY rowid", name);
	if (sqlite3_prepare_v2(src, sql, -1, &st, NULL) != SQLITE_OK)
		die(src, sql);
	t->ncol = sqlite3_column_count(st);
	t->nrow = 0;
	t->v = NULL;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (t->nrow == cap) {
			cap = cap ? cap * 2 : 4096;
			t->v = realloc(t->v, cap * (size_t)t->ncol * sizeof(*t->v));
			if (!t->v) {
				fprintf(stderr, "sqlite_floor: out of memory\n");
				exit(1);
			}
		}
		for (int c = 0; c < t->ncol; c++) {
			sqlite3_value *d = sqlite3_value_dup(sqlite3_column_value(st, c));
			if (!d) {
				fprintf(stderr, "sqlite_floor: out of memory\n");
				exit(1);
			}
			t->v[t->nrow * (size_t)t->ncol + (size_t)c] = d;
		}
		t->nrow++;
	}
	sqlite3_finalize(st);
}

static void
free_table(struct table_rows *t)
{
	for (size_t i = 0; i < t->nrow * (size_t)t->ncol; i++)
		sqlite3_value_free(t->v[i]);
	free(t->v);
}

/* binds v without copying its text (it outlives the statement's run) */
static void
bind_static(sqlite3_stmt *st, int i, sqlite3_value *v)
{
	switch (sqlite3_value_type(v)) {
	case SQLITE_INTEGER:
		sqlite3_bind_int64(st, i, sqlite3_value_int64(v));
		break;
	case SQLITE_FLOAT:
		sqlite3_bind_double(st, i, sqlite3_value_double(v));
		break;
	case SQLITE_TEXT:
		sqlite3_bind_text(st, i, (const char *)sqlite3_value_text(v), sqlite3_value_bytes(v),
		                  SQLITE_STATIC);
		break;
	case SQLITE_NULL:
		sqlite3_bind_null(st, i);
		break;
	default:
		sqlite3_bind_value(st, i, v);
		break;
	}
}

static void
insert_table(sqlite3 *db, const char *name, const struct table_rows *t)
{
	char sql[1024];
	int n = snprintf(sql, sizeof(sql), "INSERT INTO %s VALUES (", name);
	for (int c = 0; c < t->ncol && n < (int)sizeof(sql) - 8; c++)
		n += snprintf(sql + n, sizeof(sql) - (size_t)n, "%s?", c ? "," : "");
	snprintf(sql + n, sizeof(sql) - (size_t)n, ")");
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
		die(db, sql);
	for (size_t r = 0; r < t->nrow; r++) {
		for (int c = 0; c < t->ncol; c++)
			bind_static(st, c + 1, t->v[r * (size_t)t->ncol + (size_t)c]);
		if (sqlite3_step(st) != SQLITE_DONE)
			die(db, name);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
}

int
main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: sqlite_floor SOURCE.db [SCRATCH.db]\n");
		return 2;
	}
	char scratch[4096];
	if (argc == 3)
		snprintf(scratch, sizeof(scratch), "%s", argv[2]);
	else
		snprintf(scratch, sizeof(scratch), "%s.floor", argv[1]);
	unlink(scratch);

	sqlite3 *src, *db;
	if (sqlite3_open_v2(argv[1], &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		die(src, argv[1]);
	if (sqlite3_open_v2(scratch, &db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK)
		die(db, scratch);
	exec(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
	         "PRAGMA locking_mode = EXCLUSIVE; PRAGMA cache_size = -8192");

	/* the tables as the source has them, without their indexes */
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(src,
	                       "SELECT type, sql FROM sqlite_schema WHERE sql IS NOT NULL"
	                       " AND type IN ('table', 'index') ORDER BY type DESC",
	                       -1, &st, NULL) != SQLITE_OK)
		die(src, "reading the schema");
	char **ix = NULL;
	size_t nix = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(st, 0);
		const char *sql = (const char *)sqlite3_column_text(st, 1);
		if (strcmp(type, "table") == 0) {
			exec(db, sql);
		} else if (!strstr(sql, " runs ")) {
			ix = realloc(ix, (nix + 1) * sizeof(*ix));
			if (!ix || !(ix[nix] = strdup(sql))) {
				fprintf(stderr, "sqlite_floor: out of memory\n");
				return 1;
			}
			nix++;
		}
	}
	sqlite3_finalize(st);

	struct table_rows t[NTABLES];
	size_t rows = 0;
	for (size_t i = 0; i < NTABLES; i++) {
		load_table(src, tables[i], &t[i]);
		rows += t[i].nrow;
	}
	sqlite3_close(src);

	double t0 = now_s();
	exec(db, "BEGIN");
	for (size_t i = 0; i < NTABLES; i++)
		insert_table(db, tables[i], &t[i]);
	exec(db, "COMMIT");
	double t1 = now_s();
	/* the settings of mxlag's index build (schema/store.c, build_indexes) */
	exec(db, "PRAGMA cache_size = -2048; PRAGMA temp_store = FILE");
	exec(db, "BEGIN");
	for (size_t i = 0; i < nix; i++)
		exec(db, ix[i]);
	exec(db, "COMMIT");
	double t2 = now_s();

	printf("rows %zu insert_s %.3f us_per_row %.2f indexes %zu index_s %.3f\n", rows, t1 - t0,
	       rows ? (t1 - t0) * 1e6 / (double)rows : 0.0, nix, t2 - t1);
	for (size_t i = 0; i < NTABLES; i++)
		free_table(&t[i]);
	for (size_t i = 0; i < nix; i++)
		free(ix[i]);
	free(ix);
	sqlite3_close(db);
	unlink(scratch);
	return 0;
}
