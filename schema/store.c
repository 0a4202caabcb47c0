/*
 * store.c - the SQLite writer: events -> rows of schema/schema.sql, in
 * batched transactions with statements prepared once.
 */
#include "store.h"

#include "../analyze/dns.h"

#include "compact.h"
#include "counts.h"
#include "dict.h"
#include "held.h"
#include "fmterr.h"
#include "hist.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* open sessions kept for their provisional rows before the batch is committed early */
#define STORE_PROV_MAX 1024
/* ended sessions' rows held for id order (held.h): at most this many rows
 * and bytes (a bulk load; live capture a quarter, its memory is tighter),
 * and milliseconds (wall clock) at a periodic commit */
#define STORE_HOLD_ROWS 4096
#define STORE_HOLD_BYTES (2u << 20)
#define STORE_HOLD_MS 2000
#define STORE_SESSION_BLOCKS_OPEN 8 /* session blocks kept before they are written */

enum st_id {
	ST_SESSION,
	ST_TXN,
	ST_DIAG,
	ST_DNS,
	ST_IDENT,
	ST_CAUSE,
	ST_RUN_UPDATE,
	ST_RUN_LIVE,
	ST_HIST,
	ST_RUN_TXN,
	ST_SCOUNT,
	ST_DCOUNT,
	ST_ANCHOR,
	ST_DATA_VERSION,
	ST_DNS_BLOCK,
	ST_SESSION_BLOCK,
	ST__N
};

/*
 * Sessions: EV_TXN writes a provisional row (complete = 0) that the final
 * EV_SESSION overwrites; a provisional write never overwrites a complete
 * row.  All upserts only touch rows of the same run, so an id collision with
 * another run shows up as "no row changed" instead of silently overwriting.
 */
static const char *const stmt_sql[ST__N] = {
    [ST_SESSION] =
        "INSERT INTO session_rows (id, run_id, protocol, client, client_port, server, server_port,"
        " syn, start, \"end\", outcome, tls, outbound, app, banner_host, helo, sender_domain,"
        " rcpt_domains, bytes, messages, complete, host, client_is_host, replies, software,"
        " max_message, null_sender, bounce_domain, bounce_origin, bounce_session_id)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
        " ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)"
        " ON CONFLICT (id) DO UPDATE SET protocol = excluded.protocol, client = excluded.client,"
        " client_port = excluded.client_port, server = excluded.server,"
        " server_port = excluded.server_port, syn = excluded.syn, start = excluded.start,"
        " \"end\" = excluded.\"end\", outcome = excluded.outcome, tls = excluded.tls,"
        " outbound = excluded.outbound, app = excluded.app, banner_host = excluded.banner_host,"
        " helo = excluded.helo, sender_domain = excluded.sender_domain,"
        " rcpt_domains = excluded.rcpt_domains, bytes = excluded.bytes,"
        " messages = excluded.messages, complete = excluded.complete,"
        " host = excluded.host, client_is_host = excluded.client_is_host,"
        " replies = excluded.replies, software = excluded.software,"
        " max_message = excluded.max_message, null_sender = excluded.null_sender,"
        " bounce_domain = excluded.bounce_domain, bounce_origin = excluded.bounce_origin,"
        " bounce_session_id = excluded.bounce_session_id"
        " WHERE session_rows.run_id IS excluded.run_id"
        " AND (excluded.complete = 1 OR session_rows.complete = 0)",
    [ST_TXN] = "INSERT INTO transactions (id, run_id, session_id, command, argument, request_ts,"
               " reply_ts, end_ts, latency_ms, reply_code, reply_text, outcome, size, guess)"
               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
               " ON CONFLICT (id) DO UPDATE SET session_id = excluded.session_id,"
               " command = excluded.command, argument = excluded.argument,"
               " request_ts = excluded.request_ts, reply_ts = excluded.reply_ts,"
               " end_ts = excluded.end_ts, latency_ms = excluded.latency_ms,"
               " reply_code = excluded.reply_code, reply_text = excluded.reply_text,"
               " outcome = excluded.outcome, size = excluded.size, guess = excluded.guess"
               " WHERE transactions.run_id IS excluded.run_id",
    /* the diagnosis may come before its transaction: the row is completed later */
    [ST_DIAG] = "INSERT INTO transactions (id, run_id, diagnosis, remedy) VALUES (?1, ?2, ?3, ?4)"
                " ON CONFLICT (id) DO UPDATE SET diagnosis = excluded.diagnosis,"
                " remedy = excluded.remedy WHERE transactions.run_id IS excluded.run_id",
    /* the rows of the view dns_queries (version 10; the answers' names id: 14) */
    [ST_DNS] = "INSERT INTO dns_rows (id, run_id, ts_ns, client, client_port, server, server_port,"
               " tcp, txid, qname, qtype, outcome, rcode, answer, response_ns, resend_ns,"
               " retransmits, answers)"
               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
               " ?17, ?18)",
    [ST_IDENT] = "INSERT INTO ident_probes (id, run_id, ts, host, host_port, peer, peer_port,"
                 " outcome, end_ts, latency_ms, syn_retransmits, response)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_CAUSE] = "INSERT INTO causes (id, run_id, transaction_id, kind, relation, dns_query_id,"
                 " ident_probe_id, parent_id, overlap_ms, share, query_ms, remedy, session_ref)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [ST_RUN_UPDATE] = "UPDATE runs SET first_ts = ?2, last_ts = ?3, packets = ?4, bytes = ?5,"
                      " kernel_drops = ?6, counters = ?7, finished = ?8 WHERE id = ?1",
    /* the live figures of a running capture: counters and finished stay */
    [ST_RUN_LIVE] = "UPDATE runs SET first_ts = ?2, last_ts = ?3, packets = ?4, bytes = ?5,"
                    " kernel_drops = ?6 WHERE id = ?1 AND finished IS NULL",
    [ST_HIST] =
        "INSERT INTO latency_hist (minute, run_id, host, protocol, outbound, command, guess,"
        " replies, n, min_ms, max_ms, sum_ms, bins)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [ST_RUN_TXN] = "UPDATE runs SET txn_ids = max(coalesce(txn_ids, 0), ?2) WHERE id = ?1",
    /* per-minute counts (counts.h): the conflict targets are the unique indexes */
    [ST_SCOUNT] = "INSERT INTO session_counts (minute, run_id, host, protocol, outbound,"
                  " client_is_host, outcome, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                  " ON CONFLICT (minute, run_id, coalesce(host, ''), protocol, outbound,"
                  " client_is_host, outcome) DO UPDATE SET n = n + excluded.n",
    [ST_DCOUNT] = "INSERT INTO dns_counts (minute, run_id, server, qtype, outcome, n)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                  " ON CONFLICT (minute, run_id, coalesce(server, ''), qtype, outcome)"
                  " DO UPDATE SET n = n + excluded.n",
    [ST_ANCHOR] = "INSERT INTO anchors (hash, run_id, minute) VALUES (?1, ?2, ?3)",
    /* another connection's commit empties the dictionary caches (batch_begin) */
    [ST_DATA_VERSION] = "PRAGMA data_version",
    /* where in time a block of dns_rows lies (schema 15): widened, never narrowed */
    [ST_DNS_BLOCK] = "INSERT INTO dns_blocks (blk, ts_min_ns, ts_max_ns) VALUES (?1, ?2, ?3)"
                     " ON CONFLICT (blk) DO UPDATE SET"
                     " ts_min_ns = min(ts_min_ns, excluded.ts_min_ns),"
                     " ts_max_ns = max(ts_max_ns, excluded.ts_max_ns)",
    /* where in time a block of session_rows lies (schema 18): the same */
    [ST_SESSION_BLOCK] = "INSERT INTO session_blocks (blk, t_min, t_max) VALUES (?1, ?2, ?3)"
                         " ON CONFLICT (blk) DO UPDATE SET t_min = min(t_min, excluded.t_min),"
                         " t_max = max(t_max, excluded.t_max)",
};

/* what each statement writes, for error messages */
static const char *const stmt_what[ST__N] = {
    [ST_SESSION] = "a session",     [ST_TXN] = "a transaction",    [ST_DIAG] = "a diagnosis",
    [ST_DNS] = "a dns query",       [ST_IDENT] = "an ident probe", [ST_CAUSE] = "a cause",
    [ST_RUN_UPDATE] = "run totals", [ST_RUN_LIVE] = "the live run totals", [ST_HIST] = "a latency histogram",
    [ST_RUN_TXN] = "the run's largest transaction id",
    [ST_SCOUNT] = "a session count", [ST_DCOUNT] = "a DNS query count",
    [ST_ANCHOR] = "a packet anchor", [ST_DATA_VERSION] = "the data version",
    [ST_DNS_BLOCK] = "the time span of a block of DNS queries",
    [ST_SESSION_BLOCK] = "the time span of a block of sessions",
};

/* id bases of the current run, one per table */
struct id_base {
	int64_t session, txn, dns, ident, cause;
};

/* a secondary index of the schema: its name and CREATE statement */
struct index_def {
	char *name, *sql;
	bool in_order; /* on session_rows: kept up during a bulk load (drop_indexes) */
};

/*
 * Provisional session rows (EV_TXN) are not written per transaction: the
 * latest state of each session seen in the open batch is kept here and
 * written once, just before the batch commits, unless the session's
 * EV_SESSION came first (the complete row supersedes it).  A bulk load
 * notes only the sessions with a reply stored as a row of transactions: a
 * transaction row is never committed without a row of its session, the
 * other open sessions appear when they end (held.h: a provisional row,
 * overwritten by a longer one, splits its page).
 */
struct prov_set {
	struct mx_session *sess; /* latest state, in first-seen order */
	bool *done;              /* completed in this batch: nothing to write */
	bool *rows;              /* has a transaction row in this batch */
	size_t n, cap;
	uint32_t *slot; /* open addressing: index + 1 into sess, 0 = empty */
	size_t nslot;   /* power of two, >= 2 * cap */
};

struct writer;

struct store {
	struct writer *w; /* store_start_writer(): the thread doing the SQLite work */
	sqlite3 *db;
	sqlite3_stmt *st[ST__N];
	int64_t run_id; /* 0 = no run active */
	struct id_base base;
	bool in_txn;
	unsigned pending;    /* rows in the open batch */
	unsigned batch_rows; /* commit after this many rows */
	uint64_t txn_start_ms;
	bool broken;          /* sticky error */
	bool bulk;            /* store_bulk_load(): an offline load */
	bool deferred_ix;     /* secondary indexes dropped, built at store_end_run */
	struct index_def *ix; /* the schema's secondary indexes (not on runs) */
	size_t nix;
	struct prov_set prov;
	struct held *held;          /* ended sessions' rows not yet written (held.h) */
	struct mx_session held_row; /* the one being written */
	struct compact *cmp; /* open sessions' ordinary replies, open histograms */
	struct counts *cnt;  /* the open batch's per-minute counts */
	/* the dictionaries of dns_rows (dict.h), and PRAGMA data_version as the
	 * last batch saw it: another connection's commit (prune) empties them */
	struct dict *addrs, *names;
	int64_t data_version;
	/* the dns_blocks row (schema 15) of the latest DNS rows: written when a
	   row of another block comes, and before every commit */
	struct {
		int64_t blk, lo, hi;
		bool set;
	} dblk;
	/* the session_blocks rows (schema 18) of the open batch's session rows,
	   written at the commit (or when more blocks come: rows are written in
	   id order, but a provisional row or one that a transaction row names
	   may run ahead) */
	struct {
		int64_t blk;
		double lo, hi;
	} sblk[STORE_SESSION_BLOCKS_OPEN];
	size_t nsblk;
	double notable_ms;   /* store_set_notable_ms(); 0 = every reply a row */
	uint64_t big_bytes;  /* store_set_big_bytes(); 0 = not told */
	uint64_t max_txn;    /* the run's largest transaction id (analyzer's) */
	uint64_t txn_noted;  /* max_txn as last written to runs.txn_ids */
	/* store_load_anchors(): the earlier runs' anchors, an open-addressing
	 * set (slot empty when run is 0); read by the packet thread only */
	uint64_t *anchor_key;
	int64_t *anchor_run;
	size_t anchor_mask;
	char err[512];
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static double
wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
fmt_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *
store_sql_file(const char *name)
{
	for (const struct mxlag_sql_file *f = mxlag_sql_files; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f->text;
	return NULL;
}

const char *
store_schema_sql(void)
{
	const char *s = store_sql_file("schema.sql");
	return s ? s : "";
}

/* ---- migrations ------------------------------------------------------------ */

static int
read_int(sqlite3 *db, const char *sql, int64_t *out)
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

static int
set_user_version(sqlite3 *db, int v)
{
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

int
store_migrate(sqlite3 *db, const char *base_sql, const char *const *steps, int nsteps, char *err,
              size_t errlen)
{
	const int target = nsteps + 1;

	for (;;) {
		int64_t v = 0, ntables = 0;
		int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			fmt_err(err, errlen, "cannot lock the database to check its schema: %s",
			        sqlite3_errmsg(db));
			return STORE_ERR;
		}
		rc = read_int(db, "PRAGMA user_version", &v);
		if (rc == SQLITE_OK)
			rc = read_int(db,
			              "SELECT count(*) FROM sqlite_schema"
			              " WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
			              &ntables);
		if (rc != SQLITE_OK) {
			fmt_err(err, errlen, "cannot read the database: %s", sqlite3_errmsg(db));
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return STORE_ERR;
		}
		if (v > target) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			fmt_err(err, errlen,
			        "database schema version %lld is newer than this mxlag supports "
			        "(%d): use a newer mxlag, or another database",
			        (long long)v, target);
			return STORE_NEWER;
		}
		if (v == target) {
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
			return STORE_OK;
		}
		if (v == 0 && ntables > 0) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			fmt_err(err, errlen,
			        "not an mxlag database: it has %lld tables but no mxlag schema "
			        "version (PRAGMA user_version is 0)",
			        (long long)ntables);
			return STORE_NOTOURS;
		}
		if (v < 0) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			fmt_err(err, errlen, "not an mxlag database: user_version %lld",
			        (long long)v);
			return STORE_NOTOURS;
		}
		/* v == 0: create the latest schema at once; else one step forward */
		const char *sql = v == 0 ? base_sql : steps[v - 1];
		int next = v == 0 ? target : (int)v + 1;
		char *msg = NULL;
		rc = sql ? sqlite3_exec(db, sql, NULL, NULL, &msg) : SQLITE_ERROR;
		if (rc == SQLITE_OK)
			rc = set_user_version(db, next);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			fmt_err(err, errlen, "migrating the database from version %lld to %d: %s",
			        (long long)v, next,
			        msg   ? msg
			        : sql ? sqlite3_errmsg(db)
			              : "migration step missing");
			sqlite3_free(msg);
			if (!sqlite3_get_autocommit(db))
				sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return STORE_ERR;
		}
	}
}

/* The embedded steps migrate_2.sql, migrate_3.sql, ... */
int
store_migrate_db(sqlite3 *db, char *err, size_t errlen)
{
	const char *steps[STORE_SCHEMA_VERSION > 1 ? STORE_SCHEMA_VERSION - 1 : 1] = {NULL};
	for (int v = 2; v <= STORE_SCHEMA_VERSION; v++) {
		char name[32];
		snprintf(name, sizeof(name), "migrate_%d.sql", v);
		steps[v - 2] = store_sql_file(name);
	}
	const char *base = store_sql_file("schema.sql");
	if (!base) {
		fmt_err(err, errlen, "schema.sql is not embedded in this binary");
		return STORE_ERR;
	}
	/* migrate_5.sql bins the existing replies with the writer's function */
	if (hist_register(db) != SQLITE_OK) {
		fmt_err(err, errlen, "registering the histogram functions: %s", sqlite3_errmsg(db));
		return STORE_ERR;
	}
	return store_migrate(db, base, steps, STORE_SCHEMA_VERSION - 1, err, errlen);
}

/* ---- secondary indexes ---------------------------------------------------------- */

static void
free_indexes(struct store *s)
{
	for (size_t i = 0; i < s->nix; i++) {
		free(s->ix[i].name);
		free(s->ix[i].sql);
	}
	free(s->ix);
	s->ix = NULL;
	s->nix = 0;
}

/*
 * The secondary indexes of the embedded schema (all but those on runs: the
 * fingerprint index guards every run), read from a scratch in-memory copy
 * of schema.sql so that the list never drifts from the schema file.
 */
static int
load_index_defs(struct store *s)
{
	sqlite3 *ref = NULL;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_open_v2(":memory:", &ref, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(ref, store_schema_sql(), NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc =
		    sqlite3_prepare_v2(ref,
		                       "SELECT name, sql, tbl_name = 'session_rows' FROM sqlite_schema"
		                       " WHERE type = 'index'"
		                       " AND sql IS NOT NULL AND tbl_name <> 'runs'"
		                       " AND sql NOT LIKE 'CREATE UNIQUE %' ORDER BY rowid",
		                       -1, &st, NULL);
	while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		struct index_def *nx = realloc(s->ix, (s->nix + 1) * sizeof(*nx));
		if (!nx) {
			rc = SQLITE_NOMEM;
			break;
		}
		s->ix = nx;
		nx[s->nix].name = strdup((const char *)sqlite3_column_text(st, 0));
		nx[s->nix].sql = strdup((const char *)sqlite3_column_text(st, 1));
		nx[s->nix].in_order = sqlite3_column_int(st, 2) != 0;
		s->nix++;
		if (!nx[s->nix - 1].name || !nx[s->nix - 1].sql)
			rc = SQLITE_NOMEM;
	}
	sqlite3_finalize(st);
	sqlite3_close(ref);
	return rc;
}

/*
 * Creates the secondary indexes that are missing: all of them at the end of
 * a bulk load, or those of a bulk load that died before its end.  SQLite
 * code, message in s->err.
 */
static int
create_missing_indexes(struct store *s)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(
	    s->db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = ?1", -1, &st,
	    NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < s->nix; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, s->ix[i].name, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		rc = SQLITE_OK;
		if (sqlite3_column_int(st, 0) == 0)
			rc = sqlite3_exec(s->db, s->ix[i].sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			snprintf(s->err, sizeof(s->err),
			         "database error while creating index %s: %s", s->ix[i].name,
			         sqlite3_errmsg(s->db));
	}
	if (rc != SQLITE_OK && !s->err[0])
		snprintf(s->err, sizeof(s->err), "database error while checking the indexes: %s",
		         sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	return rc;
}

/*
 * Drops the secondary indexes (inside the open transaction) whose keys
 * arrive out of order, to build them once at the end (build_indexes).
 * Those on session_rows stay: its rows are written in id order (held.h),
 * which is the order of their start, so their (partial) time indexes grow
 * at their end like the table (measured on the 100k workload with the index
 * sessions_t0 of schemas 12 to 17: the run 4 % shorter).
 */
static int
drop_indexes(struct store *s)
{
	for (size_t i = 0; i < s->nix; i++) {
		if (s->ix[i].in_order)
			continue;
		char *sql = sqlite3_mprintf("DROP INDEX IF EXISTS \"%w\"", s->ix[i].name);
		if (!sql)
			return SQLITE_NOMEM;
		int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
		sqlite3_free(sql);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

/* ---- open / close ------------------------------------------------------------- */

/*
 * PRAGMA journal_mode = mode; now (if not NULL) gets the mode in effect
 * afterwards, which SQLite answers with: "memory" for :memory:, and the old
 * mode when it refuses to leave WAL while another connection reads (slower,
 * not wrong).  SQLite code.
 */
static int
set_journal_mode(sqlite3 *db, const char *mode, char *now, size_t nowlen)
{
	char sql[48];
	sqlite3_stmt *st;
	if (now && nowlen)
		now[0] = '\0';
	snprintf(sql, sizeof(sql), "PRAGMA journal_mode = %s", mode);
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) && now && nowlen)
		snprintf(now, nowlen, "%s", (const char *)sqlite3_column_text(st, 0));
	return sqlite3_finalize(st);
}

int
store_open(struct store **out, const char *path, char *err, size_t errlen)
{
	struct store *s;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	s = calloc(1, sizeof(*s));
	if (!s || !(s->cmp = compact_new()) || !(s->cnt = counts_new()) ||
	    !(s->held = held_new())) {
		if (s) {
			compact_free(s->cmp);
			counts_free(s->cnt);
		}
		free(s);
		fmt_err(err, errlen, "out of memory");
		return STORE_ERR;
	}
	/*
	 * The connection is used by one thread at a time (the writer thread
	 * only between drains), so SQLite's per-call connection mutex is not
	 * needed (NOMUTEX); nor is its global count of allocated memory, which
	 * takes another mutex on every malloc.  sqlite3_config() only works
	 * before SQLite's first use and fails harmlessly after that.
	 */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	rc = sqlite3_open_v2(path, &s->db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		fmt_err(err, errlen, "cannot open database %s: %s", path,
		        s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	/* a new database gives deleted space back (mxlag prune): this takes
	   effect only before its first table, a no-op on an existing one */
	rc = sqlite3_exec(s->db, "PRAGMA auto_vacuum = INCREMENTAL", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, "PRAGMA foreign_keys = OFF", NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		char mode[16];
		rc = set_journal_mode(s->db, "WAL", mode, sizeof(mode));
		if (rc == SQLITE_OK && strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0) {
			fmt_err(err, errlen, "cannot put database %s into WAL mode (mode is %s)",
			        path, mode[0] ? mode : "unknown");
			goto fail;
		}
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db,
		                  "PRAGMA synchronous = NORMAL;"
		                  /* checkpoint (and fsync) every 16 MiB of WAL, not every 4 */
		                  "PRAGMA wal_autocheckpoint = 4096;"
		                  /* the live writer's rows go to the ends of their time
		                     indexes: 4 MiB of pages keep what it touches (a new
		                     database's bulk load sets its own, store_begin_run) */
		                  "PRAGMA cache_size = -4096;"
		                  "PRAGMA temp_store = MEMORY;",
		                  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		fmt_err(err, errlen, "cannot set up database %s: %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	rc = store_migrate_db(s->db, err, errlen);
	if (rc != STORE_OK) {
		store_close(s);
		return rc;
	}
	if (load_index_defs(s) != SQLITE_OK) {
		fmt_err(err, errlen, "database %s: reading the index list of the schema", path);
		goto fail;
	}
	s->batch_rows = STORE_BATCH_ROWS;
	/* an earlier bulk load that died before its end left its indexes out */
	if (create_missing_indexes(s) != SQLITE_OK) {
		fmt_err(err, errlen, "database %s: %s", path, s->err);
		goto fail;
	}
	for (int i = 0; i < ST__N; i++) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
		                       NULL) != SQLITE_OK) {
			fmt_err(err, errlen, "database %s: preparing the statement for %s: %s",
			        path, stmt_what[i], sqlite3_errmsg(s->db));
			goto fail;
		}
	}
	/* 4096 addresses (the hosts, their resolvers and the clients met
	   again), 8192 names: about 1.5 MB (live capture stays under 64 MiB),
	   and most names repeat within minutes; a text not cached costs an
	   indexed SELECT.  With 256 addresses every other session's client
	   missed: 4096 took a sixteenth of the writer's instructions off
	   (callgrind, 20k-session workload) for 0.5 MiB */
	if (!(s->addrs = dict_new(s->db, "addrs", "addr", 4096)) ||
	    !(s->names = dict_new(s->db, "names", "name", 8192))) {
		fmt_err(err, errlen, "database %s: preparing the dictionaries: %s", path,
		        sqlite3_errmsg(s->db));
		goto fail;
	}
	*out = s;
	return STORE_OK;
fail:
	store_close(s);
	return STORE_ERR;
}

const char *
store_errmsg(const struct store *s)
{
	return s ? s->err : "no store";
}

sqlite3 *
store_db(struct store *s)
{
	return s ? s->db : NULL;
}

int64_t
store_run_id(const struct store *s)
{
	return s ? s->run_id : 0;
}

/* ---- provisional sessions ----------------------------------------------------- */

static void
prov_free(struct prov_set *p)
{
	free(p->sess);
	free(p->done);
	free(p->rows);
	free(p->slot);
	memset(p, 0, sizeof(*p));
}

static void
prov_clear(struct prov_set *p)
{
	if (p->n && p->slot)
		memset(p->slot, 0, p->nslot * sizeof(*p->slot));
	p->n = 0;
}

static size_t
prov_hash(uint64_t id, size_t nslot)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ULL) >> 32) & (nslot - 1);
}

/* The slot of session id (holding 0 if absent). */
static uint32_t *
prov_slot(const struct prov_set *p, uint64_t id)
{
	size_t h = prov_hash(id, p->nslot);
	while (p->slot[h] && p->sess[p->slot[h] - 1].id != id)
		h = (h + 1) & (p->nslot - 1);
	return &p->slot[h];
}

static bool
prov_grow(struct prov_set *p)
{
	size_t cap = p->cap ? p->cap * 2 : 64;
	struct mx_session *ns = realloc(p->sess, cap * sizeof(*ns));
	if (!ns)
		return false;
	p->sess = ns;
	bool *nd = realloc(p->done, cap * sizeof(*nd));
	if (!nd)
		return false;
	p->done = nd;
	bool *nr = realloc(p->rows, cap * sizeof(*nr));
	if (!nr)
		return false;
	p->rows = nr;
	uint32_t *slot = calloc(cap * 2, sizeof(*slot));
	if (!slot)
		return false;
	free(p->slot);
	p->slot = slot;
	p->nslot = cap * 2;
	p->cap = cap;
	for (size_t i = 0; i < p->n; i++)
		*prov_slot(p, p->sess[i].id) = (uint32_t)(i + 1);
	return true;
}

/* Copies what a session row needs (not the unused tails of the name buffers). */
static void
copy_session(struct mx_session *d, const struct mx_session *x)
{
#define COPY(f) d->f = x->f;
	HELD_SESSION_NUMBERS(COPY)
#undef COPY
	mx_strlcpy(d->app, x->app, sizeof(d->app));
	mx_strlcpy(d->banner_host, x->banner_host, sizeof(d->banner_host));
	mx_strlcpy(d->helo, x->helo, sizeof(d->helo));
	mx_strlcpy(d->sender_domain, x->sender_domain, sizeof(d->sender_domain));
	for (int i = 0; i < x->n_rcpt_domains && i < MX_RCPT_DOMAINS; i++)
		mx_strlcpy(d->rcpt_domains[i], x->rcpt_domains[i], sizeof(d->rcpt_domains[i]));
	mx_strlcpy(d->bounce_domain, x->bounce_domain, sizeof(d->bounce_domain));
}

/* Remembers the latest state of an open session, and whether one of its
 * replies became a transaction row (row); false = out of memory. */
static bool
prov_note(struct prov_set *p, const struct mx_session *x, bool row)
{
	if (p->n == p->cap && !prov_grow(p))
		return false;
	uint32_t *slot = prov_slot(p, x->id);
	if (*slot == 0) {
		*slot = (uint32_t)(p->n + 1);
		p->n++;
		p->rows[*slot - 1] = false;
	}
	copy_session(&p->sess[*slot - 1], x);
	p->done[*slot - 1] = false;
	p->rows[*slot - 1] |= row;
	return true;
}

/* The session ended in this batch: its complete row is written instead.
 * True when one of its replies became a transaction row in this batch (its
 * row must then be in the batch as well). */
static bool
prov_done(struct prov_set *p, uint64_t id)
{
	if (p->n == 0)
		return false;
	uint32_t *slot = prov_slot(p, id);
	if (!*slot)
		return false;
	p->done[*slot - 1] = true;
	return p->rows[*slot - 1];
}

/* ---- batches ----------------------------------------------------------------- */

/* Rolls back the open batch (noting it in the message) and makes the store broken. */
static int
break_store(struct store *s)
{
	unsigned lost = s->pending + (unsigned)held_count(s->held);
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	if (lost) {
		size_t n = strlen(s->err);
		snprintf(s->err + n, sizeof(s->err) - n,
		         "; the last %u uncommitted rows were "
		         "rolled back",
		         lost);
	}
	s->in_txn = false;
	s->pending = 0;
	s->nsblk = 0;
	prov_clear(&s->prov);
	held_clear(s->held);
	dict_forget(s->addrs); /* ids added in the batch are gone with it */
	dict_forget(s->names);
	s->broken = true;
	return STORE_ERR;
}

/* Records an SQLite failure, rolls back the open batch, makes the store broken. */
static int
fail_sqlite(struct store *s, const char *what)
{
	int ec = sqlite3_extended_errcode(s->db);
	const char *hint = "";

	if ((ec & 0xff) == SQLITE_FULL)
		hint = " (disk or database full)";
	else if (ec == SQLITE_CONSTRAINT_PRIMARYKEY)
		hint = " (id collision: is another mxlag run writing this database?)";
	snprintf(s->err, sizeof(s->err), "database error while %s: %s%s", what,
	         sqlite3_errmsg(s->db), hint);
	return break_store(s);
}

static int write_provisional(struct store *s);
static int note_session(struct store *s, const struct mx_session *x);
static int write_held(struct store *s, bool all);

static int
batch_begin(struct store *s)
{
	if (s->in_txn)
		return STORE_OK;
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return fail_sqlite(s, "starting a transaction");
	s->in_txn = true;
	/* holding the write lock: a prune by another connection (it may drop
	   dictionary entries the caches still hold) is either seen here or
	   comes after this batch, and then sees its rows */
	sqlite3_stmt *dv = s->st[ST_DATA_VERSION];
	if (sqlite3_step(dv) != SQLITE_ROW) {
		sqlite3_reset(dv);
		return fail_sqlite(s, "reading the data version");
	}
	int64_t v = sqlite3_column_int64(dv, 0);
	sqlite3_reset(dv);
	if (v != s->data_version) {
		dict_forget(s->addrs);
		dict_forget(s->names);
		s->data_version = v;
	}
	s->pending = 0;
	s->txn_start_ms = mono_ms();
	return STORE_OK;
}

static int write_hist(void *arg, const struct compact_group *g);
static int write_count(void *arg, const struct count_row *r);
static int exec_stmt(struct store *s, enum st_id i, bool must_change, uint64_t evid);

/* Writes (widens) the dns_blocks row of the latest DNS rows; inside the open batch. */
static int
write_dns_block(struct store *s)
{
	if (!s->dblk.set)
		return STORE_OK;
	sqlite3_stmt *st = s->st[ST_DNS_BLOCK];
	sqlite3_bind_int64(st, 1, s->dblk.blk);
	sqlite3_bind_int64(st, 2, s->dblk.lo);
	sqlite3_bind_int64(st, 3, s->dblk.hi);
	return exec_stmt(s, ST_DNS_BLOCK, false, 0);
}

/* Writes (widens) the session_blocks row of entry i of s->sblk; inside the open batch. */
static int
write_session_block(struct store *s, size_t i)
{
	sqlite3_stmt *st = s->st[ST_SESSION_BLOCK];
	sqlite3_bind_int64(st, 1, s->sblk[i].blk);
	sqlite3_bind_double(st, 2, s->sblk[i].lo);
	sqlite3_bind_double(st, 3, s->sblk[i].hi);
	return exec_stmt(s, ST_SESSION_BLOCK, false, 0);
}

/* Writes every session block of the batch (before the commit). */
static int
write_session_blocks(struct store *s)
{
	int rc = STORE_OK;
	for (size_t i = 0; i < s->nsblk && rc == STORE_OK; i++)
		rc = write_session_block(s, i);
	s->nsblk = 0;
	return rc;
}

/*
 * A row of session_rows was written with this id and time t (seconds as
 * stored, coalesce(start, syn)).  Its block's span is kept in s->sblk until
 * the commit; when more blocks than it holds come, the one of the smallest
 * id is written first (the rows go in id order).
 */
static int
note_session_block(struct store *s, int64_t id, double t)
{
	int64_t blk = id / STORE_SESSION_BLOCK;
	size_t i, low = 0;
	for (i = 0; i < s->nsblk; i++) {
		if (s->sblk[i].blk == blk) {
			if (t < s->sblk[i].lo)
				s->sblk[i].lo = t;
			if (t > s->sblk[i].hi)
				s->sblk[i].hi = t;
			return STORE_OK;
		}
		if (s->sblk[i].blk < s->sblk[low].blk)
			low = i;
	}
	int rc = STORE_OK;
	if (s->nsblk == STORE_SESSION_BLOCKS_OPEN) {
		rc = write_session_block(s, low);
		i = low;
	} else {
		i = s->nsblk++;
	}
	s->sblk[i].blk = blk;
	s->sblk[i].lo = s->sblk[i].hi = t;
	return rc;
}

/*
 * A row of dns_rows was written with this id and ts_ns (0 = unknown: in no
 * block).  Its block's span is kept here and written when a row of another
 * block comes or the batch commits: ids come nearly in order (a query's id
 * is given when it ends), so that is about one write per 1,024 rows.
 */
static int
note_dns_block(struct store *s, int64_t id, uint64_t ts_ns)
{
	if (ts_ns == 0)
		return STORE_OK;
	int64_t blk = id / STORE_DNS_BLOCK, t = (int64_t)ts_ns;
	if (s->dblk.set && s->dblk.blk == blk) {
		if (t < s->dblk.lo)
			s->dblk.lo = t;
		if (t > s->dblk.hi)
			s->dblk.hi = t;
		return STORE_OK;
	}
	int rc = write_dns_block(s);
	s->dblk.blk = blk;
	s->dblk.lo = s->dblk.hi = t;
	s->dblk.set = true;
	return rc;
}
static int finish_compact(struct store *s);

/*
 * Writes the histogram groups of minutes that began before before_s, and
 * the run's largest transaction id (so that the next run's ids start past
 * the compact replies too).  Inside the open batch.
 */
static int
write_compact_state(struct store *s, int64_t before_s)
{
	if (s->run_id == 0)
		return STORE_OK;
	int rc = compact_flush_groups(s->cmp, before_s, write_hist, s);
	if (rc == COMPACT_NOMEM) {
		snprintf(s->err, sizeof(s->err), "out of memory for the latency histograms");
		return break_store(s);
	}
	if (rc != 0)
		return rc;
	if (s->max_txn > s->txn_noted) {
		sqlite3_stmt *st = s->st[ST_RUN_TXN];
		sqlite3_bind_int64(st, 1, s->run_id);
		sqlite3_bind_int64(st, 2, (int64_t)s->max_txn + s->base.txn);
		if ((rc = exec_stmt(s, ST_RUN_TXN, false, s->max_txn)) != STORE_OK)
			return rc;
		s->txn_noted = s->max_txn;
	}
	return STORE_OK;
}

/* histogram groups are written this long after their minute (late replies start a new row) */
#define HIST_LAG_S 180

/*
 * Commits the open batch.  The rows held for id order (held.h) are written
 * first: all of them, or with all_held false (a periodic commit) only when
 * the oldest has waited STORE_HOLD_MS.
 */
static int
batch_commit_held(struct store *s, bool all_held)
{
	int rc;
	uint64_t oldest = held_oldest_ms(s->held);
	if (oldest != UINT64_MAX && mono_ms() - oldest >= STORE_HOLD_MS)
		all_held = true;
	if (all_held && held_count(s->held) && (rc = batch_begin(s)) != STORE_OK)
		return rc;
	if (!s->in_txn)
		return STORE_OK;
	if (all_held && (rc = write_held(s, true)) != STORE_OK)
		return rc;
	if ((rc = write_provisional(s)) != STORE_OK)
		return rc;
	uint64_t latest = compact_latest_ns(s->cmp);
	if (latest && (rc = write_compact_state(s, (int64_t)(latest / 1000000000u) - HIST_LAG_S)) !=
	                  STORE_OK)
		return rc;
	if (s->run_id && (rc = counts_flush(s->cnt, write_count, s)) != STORE_OK)
		return rc;
	if ((rc = write_dns_block(s)) != STORE_OK || (rc = write_session_blocks(s)) != STORE_OK)
		return rc;
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return fail_sqlite(s, "committing");
	s->in_txn = false;
	s->pending = 0;
	return STORE_OK;
}

/* Commits the open batch with every row held (store_flush, end of run, ...). */
static int
batch_commit(struct store *s)
{
	return batch_commit_held(s, true);
}

static int
check_usable(struct store *s, bool need_run)
{
	if (!s)
		return STORE_USAGE;
	if (s->broken)
		return STORE_ERR; /* message already set */
	if (need_run && s->run_id == 0) {
		snprintf(s->err, sizeof(s->err), "no run active: call store_begin_run() first");
		return STORE_USAGE;
	}
	return STORE_OK;
}

/*
 * End of a bulk load into a new database: builds the secondary indexes in
 * one transaction (sorting on disk, not in memory) and goes back to the
 * durable settings of live capture.
 */
static int
build_indexes(struct store *s)
{
	int rc;
	s->deferred_ix = false;
	if ((rc = batch_commit(s)) != STORE_OK)
		return rc;
	/* the sorter works within the cache size: a small one is faster here
	   (it stays in the CPU caches) and keeps the memory flat.  Sorter
	   threads (PRAGMA threads) made no measurable difference: the time
	   goes into reading the table, not into the sort */
	sqlite3_exec(s->db, "PRAGMA temp_store = FILE; PRAGMA cache_size = -2048", NULL, NULL,
	             NULL);
	if ((rc = batch_begin(s)) != STORE_OK)
		return rc;
	s->err[0] = '\0';
	if (create_missing_indexes(s) != SQLITE_OK)
		return break_store(s);
	if ((rc = batch_commit(s)) != STORE_OK)
		return rc;
	/* back to WAL (see store_begin_run); if another connection keeps the
	   database in rollback mode, the next store_open() switches it */
	set_journal_mode(s->db, "WAL", NULL, 0);
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	if (sqlite3_exec(s->db,
	                 "PRAGMA temp_store = MEMORY;"
	                 "PRAGMA cache_size = -4096;" /* as store_open() */
	                 "PRAGMA synchronous = NORMAL;"
	                 "PRAGMA wal_checkpoint(PASSIVE);",
	                 NULL, NULL, NULL) != SQLITE_OK)
		return fail_sqlite(s, "restoring the settings after the bulk load");
	s->batch_rows = STORE_BATCH_ROWS;
	return STORE_OK;
}

static void writer_drain(struct store *s);
static void writer_stop(struct store *s);

/* check_usable() for the API calls: the writer thread's queue is drained first */
static int
check_api(struct store *s, bool need_run)
{
	if (s)
		writer_drain(s);
	return check_usable(s, need_run);
}

/* check_api() for the calls that set up the next run: none may be active */
static int
check_setup(struct store *s, const char *call)
{
	int rc = check_api(s, false);
	if (rc != STORE_OK)
		return rc;
	if (s->run_id != 0) {
		snprintf(s->err, sizeof(s->err), "%s() after store_begin_run()", call);
		return STORE_USAGE;
	}
	return STORE_OK;
}

int
store_bulk_load(struct store *s)
{
	int rc = check_setup(s, "store_bulk_load");
	if (rc == STORE_OK)
		s->bulk = true;
	return rc;
}

int
store_set_notable_ms(struct store *s, double ms)
{
	int rc = check_setup(s, "store_set_notable_ms");
	if (rc == STORE_OK)
		s->notable_ms = ms > 0 && ms == ms ? ms : 0;
	return rc;
}

int
store_set_big_bytes(struct store *s, uint64_t bytes)
{
	int rc = check_setup(s, "store_set_big_bytes");
	if (rc == STORE_OK)
		s->big_bytes = bytes;
	return rc;
}

int
store_flush(struct store *s)
{
	int rc = check_api(s, false);
	if (rc != STORE_OK)
		return rc;
	return batch_commit(s);
}

void
store_close(struct store *s)
{
	if (!s)
		return;
	writer_stop(s); /* stores what is queued */
	if (s->db) {
		if (!s->broken && s->run_id != 0)
			finish_compact(s);
		if (!s->broken && (s->in_txn || held_count(s->held)))
			batch_commit(s);
		else if (!sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		/* a bulk load that did not reach store_end_run: its indexes still */
		if (!s->broken && s->deferred_ix)
			build_indexes(s);
		for (int i = 0; i < ST__N; i++)
			sqlite3_finalize(s->st[i]);
		dict_free(s->addrs);
		dict_free(s->names);
		/* the -wal and -shm files stay when the last connection closes, so
		   a user who may only read the database can still open it (WAL
		   needs them, a read-only user cannot create them).  Set at the
		   end: set earlier, it keeps a bulk load from leaving WAL. */
		int persist = 1;
		sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
		sqlite3_close(s->db);
	}
	free_indexes(s);
	prov_free(&s->prov);
	held_free(s->held);
	compact_free(s->cmp);
	counts_free(s->cnt);
	free(s->anchor_key);
	free(s->anchor_run);
	free(s);
}

/* ---- runs -------------------------------------------------------------------- */

static int
table_max_id(sqlite3 *db, const char *table, int64_t *out)
{
	char sql[80];
	snprintf(sql, sizeof(sql), "SELECT coalesce(max(id), 0) FROM %s", table);
	return read_int(db, sql, out);
}

static void
fmt_utc(double t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, n, "%.0f", t);
}

/* "SOURCE, analyzed WHEN[, unfinished]" of the run a statement's row (id,
 * source, started, finished) names, into buf */
static void
run_text(sqlite3_stmt *st, char *buf, size_t n)
{
	char when[48];
	const unsigned char *src = sqlite3_column_text(st, 1);
	fmt_utc(sqlite3_column_double(st, 2), when, sizeof(when));
	snprintf(buf, n, "%s, analyzed %s%s", src ? (const char *)src : "?", when,
	         sqlite3_column_type(st, 3) == SQLITE_NULL ? ", unfinished" : "");
}

int
store_run_text(struct store *s, int64_t id, char *buf, size_t n)
{
	sqlite3_stmt *st;
	if (!s || sqlite3_prepare_v2(s->db,
	                             "SELECT id, source, started, finished FROM runs WHERE id = ?1",
	                             -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
	if (rc == 0)
		run_text(st, buf, n);
	sqlite3_finalize(st);
	return rc;
}

/* Refuses a fingerprint already stored; 1 = duplicate (message set), 0 = new, <0 error. */
static int
check_duplicate(struct store *s, const char *fingerprint)
{
	sqlite3_stmt *st;
	int dup = 0;

	if (sqlite3_prepare_v2(
	        s->db, "SELECT id, source, started, finished FROM runs WHERE fingerprint = ?1", -1,
	        &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, fingerprint, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		char run[384];
		run_text(st, run, sizeof(run));
		snprintf(s->err, sizeof(s->err),
		         "this capture is already in the database: run %lld (%s); "
		         "refusing to store it twice (use another --db, or mxlag runs delete %lld)",
		         (long long)sqlite3_column_int64(st, 0), run,
		         (long long)sqlite3_column_int64(st, 0));
		dup = 1;
	} else if (rc != SQLITE_DONE) {
		dup = -1;
	}
	sqlite3_finalize(st);
	return dup;
}

int
store_begin_run(struct store *s, const char *source, const char *fingerprint, int64_t *run_id)
{
	int rc = check_api(s, false);
	if (rc != STORE_OK)
		return rc;
	if (s->run_id != 0) {
		snprintf(s->err, sizeof(s->err), "run %lld is still active: store_end_run() first",
		         (long long)s->run_id);
		return STORE_USAGE;
	}
	/* the open batch (if any) belongs to nobody now; commit it first */
	if ((rc = batch_commit(s)) != STORE_OK)
		return rc;
	if ((rc = batch_begin(s)) != STORE_OK)
		return rc;

	if (fingerprint && fingerprint[0]) {
		int dup = check_duplicate(s, fingerprint);
		if (dup != 0) {
			if (dup < 0)
				return fail_sqlite(s, "checking for an earlier run");
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			s->in_txn = false;
			return STORE_DUPLICATE; /* not sticky: the store is still usable */
		}
	}

	struct id_base b;
	int64_t compact_txn = 0;
	if (table_max_id(s->db, "session_rows", &b.session) != SQLITE_OK ||
	    table_max_id(s->db, "transactions", &b.txn) != SQLITE_OK ||
	    read_int(s->db, "SELECT coalesce(max(txn_ids), 0) FROM runs", &compact_txn) !=
	        SQLITE_OK ||
	    table_max_id(s->db, "dns_queries", &b.dns) != SQLITE_OK ||
	    table_max_id(s->db, "ident_probes", &b.ident) != SQLITE_OK ||
	    table_max_id(s->db, "causes", &b.cause) != SQLITE_OK)
		return fail_sqlite(s, "reading the id bases");
	if (compact_txn > b.txn)
		b.txn = compact_txn; /* compact replies keep ids past the last row */

	if (s->bulk) {
		int64_t nruns = 0;
		if (read_int(s->db, "SELECT count(*) FROM runs", &nruns) != SQLITE_OK)
			return fail_sqlite(s, "counting the runs");
		if (nruns == 0 && b.session == 0 && b.txn == 0 && b.dns == 0 && b.ident == 0 &&
		    b.cause == 0) {
			/* a new database: no index maintenance row by row (but for
			   session_rows', drop_indexes), no fsync; a crash leaves a
			   database that store_open completes (indexes) */
			if (drop_indexes(s) != SQLITE_OK)
				return fail_sqlite(s, "preparing the bulk load");
			s->deferred_ix = true;
			/* rows are appended in id order: a small cache does (and it
			   also bounds the sorter of the index build at the end) */
			if (sqlite3_exec(s->db, "PRAGMA cache_size = -8192", NULL, NULL, NULL) !=
			    SQLITE_OK)
				return fail_sqlite(s, "preparing the bulk load");
		}
		s->batch_rows = STORE_BULK_BATCH_ROWS;
	}

	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(
	        s->db,
	        "INSERT INTO runs (source, fingerprint, started, notable_ms, big_bytes)"
	        " VALUES (?1, ?2, ?3, ?4, ?5)",
	        -1, &st, NULL) != SQLITE_OK)
		return fail_sqlite(s, "creating the run");
	sqlite3_bind_text(st, 1, source ? source : "", -1, SQLITE_STATIC);
	if (fingerprint && fingerprint[0])
		sqlite3_bind_text(st, 2, fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, wall_now());
	sqlite3_bind_double(st, 4, s->notable_ms);
	if (s->big_bytes)
		sqlite3_bind_int64(st, 5, (int64_t)s->big_bytes);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail_sqlite(s, "creating the run");
	int64_t id = sqlite3_last_insert_rowid(s->db);
	if ((rc = batch_commit(s)) != STORE_OK)
		return rc;
	if (s->deferred_ix) {
		if (sqlite3_exec(s->db, "PRAGMA synchronous = OFF", NULL, NULL, NULL) != SQLITE_OK)
			return fail_sqlite(s, "preparing the bulk load");
		/*
		 * A rollback journal instead of WAL while the new database fills:
		 * WAL writes every page twice (log, then checkpoint), a rollback
		 * journal only keeps the few pages that existed before a batch
		 * (appended pages need no copy).  A killed load still leaves a
		 * consistent database: the next open rolls the journal back.
		 * build_indexes() returns to WAL.  Meanwhile a reader holds up
		 * the commits (in WAL it would not): the load waits longer for
		 * it, rather than failing after the usual 10 s.
		 */
		char mode[16];
		if (set_journal_mode(s->db, "TRUNCATE", mode, sizeof(mode)) == SQLITE_OK &&
		    strcmp(mode, "truncate") == 0)
			sqlite3_busy_timeout(s->db, STORE_BULK_BUSY_MS);
	}
	s->run_id = id;
	s->base = b;
	s->max_txn = s->txn_noted = 0;
	s->err[0] = '\0';
	if (run_id)
		*run_id = id;
	return STORE_OK;
}

void
store_json_str(sqlite3_str *str, const char *v)
{
	sqlite3_str_appendchar(str, 1, '"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			sqlite3_str_appendf(str, "\\%c", *p);
		else if (*p < 0x20)
			sqlite3_str_appendf(str, "\\u%04x", *p);
		else
			sqlite3_str_appendchar(str, 1, (char)*p);
	}
	sqlite3_str_appendchar(str, 1, '"');
}

/* a time as stored: epoch seconds */
static double
ts_seconds(uint64_t ns)
{
	return (double)(ns / 1000000000u) + (double)(ns % 1000000000u) / 1e9;
}

static void
bind_ts(sqlite3_stmt *st, int i, uint64_t ns)
{
	if (ns == 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_double(st, i, ts_seconds(ns));
}

/* The figures ?2..?6 of ST_RUN_UPDATE and ST_RUN_LIVE (run id ?1). */
static void
bind_run_figures(struct store *s, sqlite3_stmt *st, const struct run_stats *rs)
{
	sqlite3_bind_int64(st, 1, s->run_id);
	if (!rs)
		return;
	bind_ts(st, 2, rs->first_ns);
	bind_ts(st, 3, rs->last_ns);
	sqlite3_bind_int64(st, 4, (int64_t)rs->packets);
	sqlite3_bind_int64(st, 5, (int64_t)rs->bytes);
	if (rs->kernel_drops >= 0)
		sqlite3_bind_int64(st, 6, rs->kernel_drops);
}

static int
run_update(struct store *s, const struct run_stats *rs, bool finish)
{
	sqlite3_stmt *st = s->st[ST_RUN_UPDATE];
	char *counters = NULL;
	int rc;

	if ((rc = batch_begin(s)) != STORE_OK)
		return rc;
	if (rs && rs->n_counters && rs->counter_names && rs->counter_values) {
		sqlite3_str *str = sqlite3_str_new(s->db);
		sqlite3_str_appendchar(str, 1, '{');
		for (size_t i = 0; i < rs->n_counters; i++) {
			if (i)
				sqlite3_str_appendchar(str, 1, ',');
			store_json_str(str, rs->counter_names[i] ? rs->counter_names[i] : "?");
			sqlite3_str_appendf(str, ":%llu",
			                    (unsigned long long)rs->counter_values[i]);
		}
		sqlite3_str_appendchar(str, 1, '}');
		counters = sqlite3_str_finish(str);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	bind_run_figures(s, st, rs);
	if (counters)
		sqlite3_bind_text(st, 7, counters, -1, sqlite3_free);
	if (finish)
		sqlite3_bind_double(st, 8, wall_now());
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return fail_sqlite(s, "updating the run totals");
	s->pending++;
	return STORE_OK;
}

/* The live figures (no counters, finished untouched) in the open batch. */
static int
run_live(struct store *s, const struct run_stats *rs)
{
	sqlite3_stmt *st = s->st[ST_RUN_LIVE];
	int rc;

	if (s->run_id == 0)
		return STORE_OK; /* the run ended before the queued update was reached */
	if ((rc = batch_begin(s)) != STORE_OK)
		return rc;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	bind_run_figures(s, st, rs);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return fail_sqlite(s, "updating the live run totals");
	s->pending++;
	return STORE_OK;
}

int
store_update_run(struct store *s, const struct run_stats *st)
{
	int rc = check_api(s, true);
	if (rc != STORE_OK)
		return rc;
	return run_update(s, st, false);
}

int
store_end_run(struct store *s, const struct run_stats *st)
{
	int rc = check_api(s, true);
	if (rc != STORE_OK)
		return rc;
	if ((rc = finish_compact(s)) != STORE_OK)
		return rc;
	if ((rc = run_update(s, st, true)) != STORE_OK)
		return rc;
	if ((rc = batch_commit(s)) != STORE_OK)
		return rc;
	if (s->deferred_ix && (rc = build_indexes(s)) != STORE_OK)
		return rc;
	s->batch_rows = STORE_BATCH_ROWS;
	s->run_id = 0;
	return STORE_OK;
}

int
store_forget_empty_run(struct store *s, int64_t run_id)
{
	int rc = check_api(s, false);
	if (rc != STORE_OK)
		return rc;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM runs WHERE id = ?1 AND packets = 0", -1, &st,
	                       NULL) != SQLITE_OK)
		return fail_sqlite(s, "forgetting an empty run");
	sqlite3_bind_int64(st, 1, run_id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail_sqlite(s, "forgetting an empty run");
	return STORE_OK;
}

/* ---- events ------------------------------------------------------------------- */

/* a string SQLite copies (v may be gone before the statement runs) */
static void
bind_copy(sqlite3_stmt *st, int i, const char *v)
{
	if (!v || !v[0])
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

/* a string of the event: it outlives the statement's run, no copy needed */
static void
bind_str(sqlite3_stmt *st, int i, const char *v)
{
	if (!v || !v[0])
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void
bind_addr(sqlite3_stmt *st, int i, const struct mx_addr *a)
{
	char buf[MX_ADDRSTRLEN];
	bind_copy(st, i, mx_addr_fmt(a, buf, sizeof(buf)));
}

/* (b - a) in ms; NULL if either is unknown */
static void
bind_ms(sqlite3_stmt *st, int i, uint64_t a, uint64_t b)
{
	if (a == 0 || b == 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_double(st, i, (double)(int64_t)(b - a) / 1e6);
}

static void
bind_id(sqlite3_stmt *st, int i, uint64_t id, int64_t base)
{
	if (id == 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, base + (int64_t)id);
}

/* sessions.host: the server, or the client of a host's own delivery; NULL = none */
static const struct mx_addr *
session_host(const struct mx_session *x)
{
	if (x->server_is_host)
		return &x->server.addr;
	if (x->client_is_host)
		return &x->client.addr;
	return NULL;
}

/* The dictionary minute (dict.h) of a row at ns; DICT_NO_MINUTE for no time. */
static int64_t
dict_minute(uint64_t ns)
{
	return ns ? (int64_t)(ns / 1000000000u / 60u * 60u) : DICT_NO_MINUTE;
}

/* A session's time as stored for its windows: coalesce(start, syn); 0 = none. */
static uint64_t
session_t0_ns(const struct mx_session *x)
{
	return x->start_ns ? x->start_ns : x->syn_ns;
}

/* A dictionary id (dict.h) for the text v at parameter i; NULL for no text. */
static int
bind_dict(struct dict *d, sqlite3_stmt *st, int i, const char *v, int64_t minute)
{
	if (!v || !v[0]) {
		sqlite3_bind_null(st, i);
		return SQLITE_OK;
	}
	int64_t id;
	int rc = dict_id(d, v, minute, &id);
	if (rc == SQLITE_OK)
		sqlite3_bind_int64(st, i, id);
	return rc;
}

/* an address as its addrs id (dict_addr_id); NULL or no address (mx_addr_fmt()
 * gives ""): a NULL, as bind_dict() binds "" */
static int
bind_addr_dict(struct dict *d, sqlite3_stmt *st, int i, const struct mx_addr *a, int64_t minute)
{
	if (!a || (a->family != 4 && a->family != 6))
		return bind_dict(d, st, i, NULL, minute);
	int64_t id;
	int rc = dict_addr_id(d, a, minute, &id);
	return rc == SQLITE_OK ? sqlite3_bind_int64(st, i, id) : rc;
}

/* A session_rows row (version 12): its view sessions shows the values that
 * the table of that name held before.  Protocol, outcome and software are
 * stored as the enums' values, which the view reads as its lists: */
_Static_assert(MXP_UNKNOWN == 0 && MXP_SMTP == 1 && MXP_POP3 == 2,
               "session_rows.protocol numbers are schema.sql's (view sessions)");
_Static_assert(MXO_OK == 0 && MXO_CLIENT_ABORT == 1 && MXO_SERVER_CLOSE == 2 &&
                   MXO_INCOMPLETE == 3 && MXO_UNANSWERED == 4 && MXO_REFUSED == 5 &&
                   MXO_TLS_UNANSWERED == 6 && MXO_TLS_ALERT == 7 && MXO_TLS_FAILED == 8 &&
                   MXO_HALF_CLOSE == 9 && MXO_CUT == 10,
               "session_rows.outcome numbers are schema.sql's (view sessions)");
_Static_assert(MXS_UNKNOWN == 1 && MXS_EXIM == 2 && MXS_POSTFIX == 3 && MXS_SENDMAIL == 4 &&
                   MXS_DOVECOT == 5 && MXS_EXCHANGE == 6,
               "session_rows.software numbers are schema.sql's (view sessions)");

/* The session's ordinary replies so far as its record (compact.h), times
 * from the first SYN; NULL for none or (*nomem set) out of memory.  Valid
 * until the next call. */
static const char *
session_record(struct store *s, const struct mx_session *x, bool *nomem)
{
	return compact_session_json(s->cmp, x->id, s->base.txn,
	                            x->syn_ns ? x->syn_ns : x->start_ns, x->proto, x->helo,
	                            x->sender_domain, x->n_rcpt_domains ? x->rcpt_domains[0] : NULL,
	                            nomem);
}

/* Binds the row of session x with its replies record rec (NULL: none).
 * SQLITE_OK; SQLITE_NOMEM when memory for a dictionary ran out; or the
 * error of a dictionary's statement */
static int
bind_session(struct store *s, sqlite3_stmt *st, const struct mx_session *x, bool complete,
             const char *rec)
{
	char rcpt[MX_RCPT_DOMAINS * MX_NAME_MAX];
	size_t n = 0;
	int64_t minute = dict_minute(session_t0_ns(x));
	int rc;

	rcpt[0] = '\0';
	for (int i = 0; i < x->n_rcpt_domains && i < MX_RCPT_DOMAINS; i++) {
		int w =
		    snprintf(rcpt + n, sizeof(rcpt) - n, "%s%s", n ? "," : "", x->rcpt_domains[i]);
		if (w < 0 || (size_t)w >= sizeof(rcpt) - n)
			break;
		n += (size_t)w;
	}
	bind_id(st, 1, x->id, s->base.session);
	sqlite3_bind_int64(st, 2, s->run_id);
	sqlite3_bind_int(st, 3, (int)x->proto);
	if ((rc = bind_addr_dict(s->addrs, st, 4, &x->client.addr, minute)) != SQLITE_OK)
		return rc;
	sqlite3_bind_int(st, 5, x->client.port);
	if ((rc = bind_addr_dict(s->addrs, st, 6, &x->server.addr, minute)) != SQLITE_OK)
		return rc;
	sqlite3_bind_int(st, 7, x->server.port);
	bind_ts(st, 8, x->syn_ns);
	bind_ts(st, 9, x->start_ns);
	bind_ts(st, 10, x->end_ns);
	if (complete)
		sqlite3_bind_int(st, 11, (int)x->outcome);
	else
		sqlite3_bind_null(st, 11); /* still open: no outcome yet */
	sqlite3_bind_int(st, 12, x->tls);
	sqlite3_bind_int(st, 13, x->outbound);
	if ((rc = bind_dict(s->names, st, 14, x->app, minute)) != SQLITE_OK ||
	    (rc = bind_dict(s->names, st, 15, x->banner_host, minute)) != SQLITE_OK ||
	    (rc = bind_dict(s->names, st, 16, x->helo, minute)) != SQLITE_OK ||
	    (rc = bind_dict(s->names, st, 17, x->sender_domain, minute)) != SQLITE_OK ||
	    (rc = bind_dict(s->names, st, 18, rcpt, minute)) != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(st, 19, (int64_t)x->bytes_in);
	sqlite3_bind_int64(st, 20, x->messages);
	sqlite3_bind_int(st, 21, complete);
	if ((rc = bind_addr_dict(s->addrs, st, 22, session_host(x), minute)) != SQLITE_OK)
		return rc;
	sqlite3_bind_int(st, 23, x->client_is_host);
	if (rec)
		sqlite3_bind_text(st, 24, rec, -1, SQLITE_STATIC); /* valid until the step (session_record) */
	if (mx_software_str(x->software))
		sqlite3_bind_int(st, 25, (int)x->software);
	if (x->max_message)
		sqlite3_bind_int64(st, 26, (int64_t)x->max_message);
	sqlite3_bind_int(st, 27, x->null_sender);
	if (x->bounce_domain[0]) {
		if ((rc = bind_dict(s->names, st, 28, x->bounce_domain, minute)) != SQLITE_OK)
			return rc;
		if ((rc = bind_addr_dict(s->addrs, st, 29,
		                         x->bounce_origin.family ? &x->bounce_origin : NULL,
		                         minute)) != SQLITE_OK)
			return rc;
		bind_id(st, 30, x->bounce_session_id, s->base.session);
	}
	return SQLITE_OK;
}

/* A session row that could not be bound: the store breaks with what failed. */
static int
session_bind_failed(struct store *s, int rc, const char *nomem_what)
{
	sqlite3_reset(s->st[ST_SESSION]);
	sqlite3_clear_bindings(s->st[ST_SESSION]);
	if (rc == SQLITE_NOMEM) {
		snprintf(s->err, sizeof(s->err), "out of memory for %s", nomem_what);
		return break_store(s);
	}
	return fail_sqlite(s, "storing a session's addresses and names");
}

/*
 * Counts a complete session in its minute (session_counts): the minute of
 * coalesce(start, syn) as stored, its host as bind_session stores it.
 * 0, or -1 when out of memory.
 */
static int
count_session(struct store *s, const struct mx_session *x)
{
	uint64_t t0 = session_t0_ns(x);
	if (t0 == 0)
		return 0; /* no time: in no window */
	struct count_row k = {.kind = COUNT_SESSION,
	                      .minute = counts_minute(ts_seconds(t0)),
	                      .outbound = x->outbound,
	                      .client_is_host = x->client_is_host};
	const struct mx_addr *host = session_host(x);
	if (host)
		mx_addr_fmt(host, k.a, sizeof(k.a));
	mx_strlcpy(k.b, mx_proto_str(x->proto), sizeof(k.b));
	mx_strlcpy(k.c, mx_outcome_str(x->outcome), sizeof(k.c));
	return counts_add(s->cnt, &k);
}

/* Counts a DNS query in its minute (dns_counts).  0, or -1 when out of memory. */
static int
count_dns(struct store *s, const struct mx_dns *q)
{
	if (q->ts_ns == 0)
		return 0;
	struct count_row k = {.kind = COUNT_DNS, .minute = counts_minute(ts_seconds(q->ts_ns))};
	mx_addr_fmt(&q->server.addr, k.a, sizeof(k.a));
	char qt[16];
	/* (not snprintf(): these are on every stored query) */
	mx_strlcpy(k.b, mx_qtype_str(q->qtype, qt, sizeof(qt)), sizeof(k.b));
	mx_strlcpy(k.c, mx_dns_outcome_str(q->outcome), sizeof(k.c));
	return counts_add(s->cnt, &k);
}

/* commands whose argument is a secret (DESIGN.md: never stored) */
static bool
secret_command(const char *cmd)
{
	/* PASS, APOP and AUTH: the first letter passes over nearly every
	   reply without a compare (this runs for every reply) */
	switch (cmd[0]) {
	case 'P':
		return strcmp(cmd, "PASS") == 0;
	case 'A':
		return strcmp(cmd, "APOP") == 0 || strcmp(cmd, "AUTH") == 0;
	default:
		return false;
	}
}

/* the argument as stored: a secret's is "***" */
static const char *
txn_argument(const struct mx_txn *t)
{
	return t->argument[0] && secret_command(t->command) ? "***" : t->argument;
}

static void
bind_txn(struct store *s, sqlite3_stmt *st, const struct mx_txn *t)
{
	bind_id(st, 1, t->id, s->base.txn);
	sqlite3_bind_int64(st, 2, s->run_id);
	bind_id(st, 3, t->session_id, s->base.session);
	bind_str(st, 4, t->command);
	bind_str(st, 5, txn_argument(t));
	bind_ts(st, 6, t->request_ns);
	bind_ts(st, 7, t->reply_ns);
	if (t->reply_ns) {
		sqlite3_bind_null(st, 8);
		bind_ms(st, 9, t->request_ns, t->reply_ns);
	} else {
		/* no reply: the time waited until the client gave up / the end */
		bind_ts(st, 8, t->end_ns);
		bind_ms(st, 9, t->request_ns, t->end_ns);
	}
	bind_str(st, 10, t->reply_code);
	bind_str(st, 11, t->reply_text);
	sqlite3_bind_text(st, 12, mx_outcome_str(t->outcome), -1, SQLITE_STATIC);
	if (t->size)
		sqlite3_bind_int64(st, 13, (int64_t)t->size);
	bind_str(st, 14, t->guess);
}

/* A dns_rows row (version 10): its view dns_queries shows the values that
 * the table of that name held before (ts_seconds(), bind_ms()).  The
 * outcome is stored as the enum's value, which the view, report dns and
 * the HTML page read as the vocabulary's order: */
_Static_assert(MXD_ANSWERED == 0 && MXD_NODATA == 1 && MXD_NXDOMAIN == 2 && MXD_SERVFAIL == 3 &&
                   MXD_REFUSED == 4 && MXD_TRUNCATED == 5 && MXD_UNANSWERED == 6 &&
                   MXD_OTHER == 7 && MXD_NO_QUERY == 8,
               "dns_rows.outcome numbers are schema.sql's (view dns_queries)");
static int
bind_dns(struct store *s, sqlite3_stmt *st, const struct mx_dns *q)
{
	int64_t minute = dict_minute(q->ts_ns);
	bind_id(st, 1, q->id, s->base.dns);
	sqlite3_bind_int64(st, 2, s->run_id);
	if (q->ts_ns)
		sqlite3_bind_int64(st, 3, (int64_t)q->ts_ns);
	int rc = bind_addr_dict(s->addrs, st, 4, &q->client.addr, minute);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int(st, 5, q->client.port);
	if ((rc = bind_addr_dict(s->addrs, st, 6, &q->server.addr, minute)) != SQLITE_OK)
		return rc;
	sqlite3_bind_int(st, 7, q->server.port);
	sqlite3_bind_int(st, 8, q->tcp ? 1 : 0);
	sqlite3_bind_int(st, 9, q->txid);
	if ((rc = bind_dict(s->names, st, 10, q->qname, minute)) != SQLITE_OK)
		return rc;
	sqlite3_bind_int(st, 11, q->qtype); /* its number (schema 18; qtype_words) */
	sqlite3_bind_int(st, 12, (int)q->outcome);
	if (q->rcode >= 0)
		sqlite3_bind_int(st, 13, q->rcode);
	/* the answer list once in names (version 14): few lists are distinct.
	   A TXT list stays in the row: mostly one of a kind (a DNSBL's reason
	   names the address asked about), it would be stored twice there
	   (the table and its UNIQUE index) and push the names out of the
	   writer's cache */
	if (q->qtype == DNS_T_TXT) {
		sqlite3_bind_null(st, 14);
		bind_str(st, 18, q->answers);
	} else {
		sqlite3_bind_null(st, 18);
		if ((rc = bind_dict(s->names, st, 14, q->answers, minute)) != SQLITE_OK)
			return rc;
	}
	/* after ts_ns; with ts_ns unknown (0) the times themselves */
	if (q->response_ns)
		sqlite3_bind_int64(st, 15, (int64_t)(q->response_ns - q->ts_ns));
	if (q->last_send_ns)
		sqlite3_bind_int64(st, 16, (int64_t)(q->last_send_ns - q->ts_ns));
	sqlite3_bind_int64(st, 17, q->retransmits);
	return SQLITE_OK;
}

static void
bind_ident(struct store *s, sqlite3_stmt *st, const struct mx_ident *p)
{
	bind_id(st, 1, p->id, s->base.ident);
	sqlite3_bind_int64(st, 2, s->run_id);
	bind_ts(st, 3, p->ts_ns);
	bind_addr(st, 4, &p->host.addr);
	sqlite3_bind_int(st, 5, p->host.port);
	bind_addr(st, 6, &p->peer.addr);
	sqlite3_bind_int(st, 7, p->peer.port);
	sqlite3_bind_text(st, 8, mx_ident_outcome_str(p->outcome), -1, SQLITE_STATIC);
	bind_ts(st, 9, p->end_ns);
	if (p->outcome != MXI_UNANSWERED)
		bind_ms(st, 10, p->ts_ns, p->end_ns);
	sqlite3_bind_int64(st, 11, p->syn_retransmits);
	bind_str(st, 12, p->response);
}

static void
bind_cause(struct store *s, sqlite3_stmt *st, const struct mx_cause *c)
{
	bind_id(st, 1, c->id, s->base.cause);
	sqlite3_bind_int64(st, 2, s->run_id);
	bind_id(st, 3, c->txn_id, s->base.txn);
	sqlite3_bind_text(st, 4, mx_cause_kind_str(c->kind), -1, SQLITE_STATIC);
	if (c->relation != MXR_NONE)
		sqlite3_bind_text(st, 5, mx_relation_str(c->relation), -1, SQLITE_STATIC);
	bind_id(st, 6, c->dns_id, s->base.dns);
	bind_id(st, 7, c->ident_id, s->base.ident);
	bind_id(st, 8, c->parent_id, s->base.cause);
	if (c->kind != MXC_NONE) {
		sqlite3_bind_double(st, 9, c->overlap_ms);
		sqlite3_bind_double(st, 10, c->share);
		if (c->query_ms > 0)
			sqlite3_bind_double(st, 11, c->query_ms);
	}
	if (c->remedy) /* static: see struct mx_cause */
		sqlite3_bind_text(st, 12, c->remedy, -1, SQLITE_STATIC);
	bind_id(st, 13, c->session_ref, s->base.session);
}

static void
bind_diag(struct store *s, sqlite3_stmt *st, const struct mx_diagnosis *d)
{
	bind_id(st, 1, d->txn_id, s->base.txn);
	sqlite3_bind_int64(st, 2, s->run_id);
	bind_str(st, 3, d->diagnosis);
	bind_str(st, 4, d->remedy);
}

/*
 * Runs statement i (already bound).  must_change: an upsert that changed no
 * row met a row of another run with the same id.
 */
static int
exec_stmt(struct store *s, enum st_id i, bool must_change, uint64_t evid)
{
	sqlite3_stmt *st = s->st[i];
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		char what[64];
		snprintf(what, sizeof(what), "storing %s (event id %llu)", stmt_what[i],
		         (unsigned long long)evid);
		return fail_sqlite(s, what);
	}
	if (must_change && sqlite3_changes(s->db) == 0) {
		snprintf(s->err, sizeof(s->err),
		         "storing %s (event id %llu): the id is taken by another run "
		         "(is another mxlag run writing this database?)",
		         stmt_what[i], (unsigned long long)evid);
		if (!sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		s->in_txn = false;
		s->nsblk = 0;
		prov_clear(&s->prov);
		held_clear(s->held);
		s->broken = true;
		return STORE_ERR;
	}
	s->pending++;
	return STORE_OK;
}

/* Writes the provisional rows of the sessions still open (see struct prov_set). */
static int
write_provisional(struct store *s)
{
	int rc = STORE_OK;
	for (size_t i = 0; i < s->prov.n && rc == STORE_OK; i++) {
		if (s->prov.done[i])
			continue;
		const struct mx_session *x = &s->prov.sess[i];
		bool nomem = false;
		const char *rec = session_record(s, x, &nomem);
		int brc = nomem ? SQLITE_NOMEM : bind_session(s, s->st[ST_SESSION], x, false, rec);
		if (brc != SQLITE_OK)
			return session_bind_failed(s, brc, "an open session's replies");
		rc = exec_stmt(s, ST_SESSION, false, x->id);
		if (rc == STORE_OK)
			rc = note_session(s, x);
	}
	prov_clear(&s->prov);
	return rc;
}

/* The session row of x was written: its block's span (schema 18; a row
 * without a time is in no block). */
static int
note_session(struct store *s, const struct mx_session *x)
{
	uint64_t t0 = session_t0_ns(x);
	return t0 ? note_session_block(s, s->base.session + (int64_t)x->id, ts_seconds(t0))
	          : STORE_OK;
}

/*
 * Writes the complete row of the ended session x with its replies record
 * rec, and counts it in its minute (session_counts): the counts equal the
 * complete rows at every commit.
 */
static int
write_session_row(struct store *s, const struct mx_session *x, const char *rec)
{
	int brc = bind_session(s, s->st[ST_SESSION], x, true, rec);
	if (brc != SQLITE_OK)
		return session_bind_failed(s, brc, "a session's addresses and names");
	if (count_session(s, x) != 0)
		return session_bind_failed(s, SQLITE_NOMEM, "the session counts");
	int rc = exec_stmt(s, ST_SESSION, true, x->id);
	return rc == STORE_OK ? note_session(s, x) : rc;
}

/*
 * Writes held rows of ended sessions (held.h), smallest id first: all of
 * them (before a commit), or only while more than STORE_HOLD_ROWS rows or
 * STORE_HOLD_BYTES bytes are held (a quarter of either outside a bulk load).
 */
static int
write_held(struct store *s, bool all)
{
	int rc = STORE_OK;
	struct mx_session *x = &s->held_row;
	const char *rec;
	size_t max_rows = s->bulk ? STORE_HOLD_ROWS : STORE_HOLD_ROWS / 4;
	size_t max_bytes = s->bulk ? STORE_HOLD_BYTES : STORE_HOLD_BYTES / 4;
	while (rc == STORE_OK &&
	       (all || held_count(s->held) > max_rows || held_bytes(s->held) > max_bytes) &&
	       held_take(s->held, x, &rec))
		rc = write_session_row(s, x, rec);
	return rc;
}

static int
write_hist(void *arg, const struct compact_group *g)
{
	struct store *s = arg;
	sqlite3_stmt *st = s->st[ST_HIST];
	sqlite3_bind_int64(st, 1, g->minute);
	sqlite3_bind_int64(st, 2, s->run_id);
	bind_str(st, 3, g->host);
	bind_str(st, 4, g->protocol);
	sqlite3_bind_int(st, 5, g->outbound);
	bind_str(st, 6, g->command);
	bind_str(st, 7, g->guess);
	sqlite3_bind_int64(st, 8, (int64_t)g->replies);
	sqlite3_bind_int64(st, 9, (int64_t)g->n);
	if (g->n) {
		sqlite3_bind_double(st, 10, g->min_ms);
		sqlite3_bind_double(st, 11, g->max_ms);
		sqlite3_bind_double(st, 12, g->sum_ms);
	}
	bind_str(st, 13, g->bins);
	return exec_stmt(s, ST_HIST, false, (uint64_t)g->minute);
}

static int
write_count(void *arg, const struct count_row *r)
{
	struct store *s = arg;
	enum st_id i = r->kind == COUNT_SESSION ? ST_SCOUNT : ST_DCOUNT;
	sqlite3_stmt *st = s->st[i];
	sqlite3_bind_int64(st, 1, r->minute);
	sqlite3_bind_int64(st, 2, s->run_id);
	bind_str(st, 3, r->a);
	sqlite3_bind_text(st, 4, r->b, -1, SQLITE_STATIC);
	if (r->kind == COUNT_SESSION) {
		sqlite3_bind_int(st, 5, r->outbound);
		sqlite3_bind_int(st, 6, r->client_is_host);
		sqlite3_bind_text(st, 7, r->c, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 8, (int64_t)r->n);
	} else {
		sqlite3_bind_text(st, 5, r->c, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, (int64_t)r->n);
	}
	return exec_stmt(s, i, false, (uint64_t)r->minute);
}

/*
 * The end of a run (or of the store): the rows of the open sessions go out
 * with their compact replies, then every reply still held is counted with
 * its session's last known state and every histogram group is written.
 */
static int
finish_compact(struct store *s)
{
	int rc = batch_commit(s);
	if (rc != STORE_OK)
		return rc;
	if (compact_end_all(s->cmp) != 0) {
		snprintf(s->err, sizeof(s->err), "out of memory for the latency histograms");
		return break_store(s);
	}
	if ((rc = batch_begin(s)) != STORE_OK)
		return rc;
	return write_compact_state(s, INT64_MAX);
}

/*
 * An event is handled as its type, its body (the member of mx_event.u the
 * type names) and, for a reply, its session: the writer's queue slots hold
 * those parts without a whole struct mx_event (writer_event).
 */
static uint64_t
body_id(enum mx_event_type type, const void *body)
{
	switch (type) {
	case EV_SESSION:
		return ((const struct mx_session *)body)->id;
	case EV_TXN:
		return ((const struct mx_txn *)body)->id;
	case EV_DNS:
		return ((const struct mx_dns *)body)->id;
	case EV_IDENT:
		return ((const struct mx_ident *)body)->id;
	case EV_CAUSE:
		return ((const struct mx_cause *)body)->id;
	case EV_DIAGNOSIS:
		return ((const struct mx_diagnosis *)body)->txn_id;
	case EV_TRANSFER:
		break;
	}
	return 0;
}

/* Ends the open batch when it is big or old enough. */
static int
maybe_commit(struct store *s)
{
	/* the clock is read every 64 rows (store_commit_soon covers quiet times) */
	if (s->pending >= s->batch_rows || s->prov.n >= STORE_PROV_MAX ||
	    ((s->pending & 63) == 0 && mono_ms() - s->txn_start_ms >= STORE_BATCH_MS))
		return batch_commit_held(s, false);
	return STORE_OK;
}

/* Stores one event: body is the member of mx_event.u that type names; sess
 * is a reply's session (key_only: only what compact_reply() reads of it,
 * struct wkey). */
static int
event_sync(struct store *s, enum mx_event_type type, const void *body,
           const struct mx_session *sess, bool key_only)
{
	int rc = check_usable(s, true);
	if (rc != STORE_OK)
		return rc;
	uint64_t id = body_id(type, body);
	if (id == 0) {
		snprintf(s->err, sizeof(s->err), "event of type %d without an id", (int)type);
		return STORE_USAGE;
	}
	if ((rc = batch_begin(s)) != STORE_OK)
		return rc;

	switch (type) {
	case EV_SESSION: {
		const struct mx_session *x = body;
		/* the row is held for id order (held.h), unless a transaction
		   row of this batch names the session: then it is written now
		   (the batch may commit before the held rows are written).  Its
		   replies record is made first (held or bound, it is copied):
		   compact_session_end counts the replies into the histograms and
		   drops the list */
		bool now = prov_done(&s->prov, id);
		bool nomem = false;
		const char *rec = session_record(s, x, &nomem);
		if (!nomem && now && (rc = write_session_row(s, x, rec)) != STORE_OK)
			return rc;
		if (nomem || (!now && !held_put(s->held, x, rec, s->txn_start_ms)) ||
		    compact_session_end(s->cmp, x) != 0) {
			snprintf(s->err, sizeof(s->err), "out of memory for a session's replies");
			return break_store(s);
		}
		if (!now)
			rc = write_held(s, false);
		break;
	}
	case EV_TXN: {
		const struct mx_txn *t = body;
		if (t->id > s->max_txn)
			s->max_txn = t->id;
		/* an ordinary reply goes into its session's compact record (compact.h) */
		bool notable = compact_is_notable(t, s->notable_ms);
		int cr = compact_reply(s->cmp, sess, t, txn_argument(t), notable);
		if (cr < 0) {
			snprintf(s->err, sizeof(s->err), "out of memory for an open session's replies");
			return break_store(s);
		}
		if (key_only && cr != COMPACT_KEPT) {
			/* copy_event() sends the whole session whenever a row may be
			   written: a reply that needs it and has not got it is a bug */
			snprintf(s->err, sizeof(s->err),
			         "reply %" PRIu64 " became a row without its session", t->id);
			return break_store(s);
		}
		/* the provisional session row is written once, at the commit (a
		   bulk load writes it only for a session with a transaction row,
		   see struct prov_set) */
		if (sess && sess->id == t->session_id && (!s->bulk || cr == COMPACT_ROW) &&
		    !prov_note(&s->prov, sess, cr == COMPACT_ROW)) {
			snprintf(s->err, sizeof(s->err), "out of memory for an open session");
			return break_store(s);
		}
		if (cr == COMPACT_KEPT) {
			s->pending++;
			rc = STORE_OK;
			break;
		}
		bind_txn(s, s->st[ST_TXN], t);
		rc = exec_stmt(s, ST_TXN, true, id);
		break;
	}
	case EV_DNS:
		if (count_dns(s, (const struct mx_dns *)body) != 0) {
			snprintf(s->err, sizeof(s->err), "out of memory for the DNS query counts");
			return break_store(s);
		}
		if (bind_dns(s, s->st[ST_DNS], (const struct mx_dns *)body) != SQLITE_OK) {
			sqlite3_reset(s->st[ST_DNS]);
			sqlite3_clear_bindings(s->st[ST_DNS]);
			return fail_sqlite(s, "storing a dns query's addresses and name");
		}
		rc = exec_stmt(s, ST_DNS, false, id);
		if (rc == STORE_OK)
			rc = note_dns_block(s, sqlite3_last_insert_rowid(s->db),
			                    ((const struct mx_dns *)body)->ts_ns);
		break;
	case EV_IDENT:
		bind_ident(s, s->st[ST_IDENT], (const struct mx_ident *)body);
		rc = exec_stmt(s, ST_IDENT, false, id);
		break;
	case EV_CAUSE:
		bind_cause(s, s->st[ST_CAUSE], (const struct mx_cause *)body);
		rc = exec_stmt(s, ST_CAUSE, false, id);
		break;
	case EV_DIAGNOSIS:
		bind_diag(s, s->st[ST_DIAG], (const struct mx_diagnosis *)body);
		rc = exec_stmt(s, ST_DIAG, true, id);
		break;
	default:
		snprintf(s->err, sizeof(s->err), "unknown event type %d", (int)type);
		return STORE_USAGE;
	}
	if (rc != STORE_OK)
		return rc;
	return maybe_commit(s);
}

/* Stores one packet anchor of the run (store_anchor). */
static int
anchor_sync(struct store *s, uint64_t hash, uint64_t ts_ns)
{
	int rc = check_usable(s, true);
	if (rc == STORE_OK)
		rc = batch_begin(s);
	if (rc != STORE_OK)
		return rc;
	sqlite3_stmt *st = s->st[ST_ANCHOR];
	sqlite3_bind_int64(st, 1, (int64_t)hash);
	sqlite3_bind_int64(st, 2, s->run_id);
	sqlite3_bind_int64(st, 3, (int64_t)(ts_ns / 1000000000u / 60u * 60u));
	if ((rc = exec_stmt(s, ST_ANCHOR, false, hash)) != STORE_OK)
		return rc;
	return maybe_commit(s);
}

/* ---- writer thread --------------------------------------------------------------- */

/*
 * The queue is a ring of bytes: each item takes the bytes it uses (struct
 * wslot's header and what its kind fills), rounded up to a cache line, not
 * a whole 3.7 KB slot.  On the 100k workload an item is about 1 KB in live
 * capture (every reply with its whole session) and less in a bulk load.
 * 512 KiB rides out the writer's commits as the 512 slots of 1.9 MiB did
 * before (the kernel ring is the deep buffer); a bulk load's 2 MiB as its
 * 2048 slots of 7.6 MiB did (the packet thread waits behind the writer's
 * commits less often: 5 % less wall time, farm-bench medians on the 100k
 * workload).
 */
#define WRITER_RING (512u << 10)
#define WRITER_RING_BULK (2u << 20)
#define WRITER_WAKE (256u << 10) /* queued bytes before a sleeping writer is woken */

/*
 * A session in a queue slot: the numbers a row is written from, then its
 * texts one after another, each ended by its NUL, in copy_session()'s
 * order (app, banner_host, helo, sender_domain, the recipient domains,
 * bounce_domain).  A reply's copy of its session then writes the two or
 * three cache lines its texts fill, not one or more per text buffer; every
 * line written is one the writer's core read last.
 */
struct wsess {
#define FIELD(f) __typeof__(((struct mx_session *)0)->f) f;
	HELD_SESSION_NUMBERS(FIELD)
#undef FIELD
#define WS_TEXT(f) sizeof(((struct mx_session *)0)->f)
	/* room for every buffer full (put_text() keeps a text within its buffer) */
	char text[WS_TEXT(app) + WS_TEXT(banner_host) + WS_TEXT(helo) + WS_TEXT(sender_domain) +
	          WS_TEXT(rcpt_domains) + WS_TEXT(bounce_domain)];
#undef WS_TEXT
};

static char *
put_text(char *p, const char *t, size_t size)
{
	size_t n = strnlen(t, size - 1);
	memcpy(p, t, n);
	p[n] = '\0';
	return p + n + 1;
}

static const char *
get_text(char *d, const char *p)
{
	size_t n = strlen(p); /* put_text() kept it within its buffer */
	memcpy(d, p, n + 1);
	return p + n + 1;
}

/* The bytes of d filled: its numbers and its texts. */
static size_t
pack_session(struct wsess *d, const struct mx_session *x)
{
#define COPY(f) d->f = x->f;
	HELD_SESSION_NUMBERS(COPY)
#undef COPY
	char *p = d->text;
	p = put_text(p, x->app, sizeof(x->app));
	p = put_text(p, x->banner_host, sizeof(x->banner_host));
	p = put_text(p, x->helo, sizeof(x->helo));
	p = put_text(p, x->sender_domain, sizeof(x->sender_domain));
	for (int i = 0; i < x->n_rcpt_domains && i < MX_RCPT_DOMAINS; i++)
		p = put_text(p, x->rcpt_domains[i], sizeof(x->rcpt_domains[i]));
	p = put_text(p, x->bounce_domain, sizeof(x->bounce_domain));
	return (size_t)(p - (char *)d);
}

/* What copy_session() would have copied into d. */
static void
unpack_session(struct mx_session *d, const struct wsess *x)
{
#define COPY(f) d->f = x->f;
	HELD_SESSION_NUMBERS(COPY)
#undef COPY
	const char *p = x->text;
	p = get_text(d->app, p);
	p = get_text(d->banner_host, p);
	p = get_text(d->helo, p);
	p = get_text(d->sender_domain, p);
	for (int i = 0; i < x->n_rcpt_domains && i < MX_RCPT_DOMAINS; i++)
		p = get_text(d->rcpt_domains[i], p);
	get_text(d->bounce_domain, p);
}

/*
 * What compact_reply() reads of a reply's session (info_of()): in a bulk
 * load, all the writer needs of an ordinary reply's session, since it
 * writes no row for it (copy_event()).  About one cache line to copy and
 * to hand to the other core, where a packed session is four to six.
 */
#define WKEY_FIELDS(X)                                                                      \
	X(id) X(client) X(server) X(proto) X(outbound) X(client_is_host) X(server_is_host)
struct wkey {
#define FIELD(f) __typeof__(((struct mx_session *)0)->f) f;
	WKEY_FIELDS(FIELD)
#undef FIELD
};

static void
key_session(struct wkey *d, const struct mx_session *x)
{
#define COPY(f) d->f = x->f;
	WKEY_FIELDS(COPY)
#undef COPY
}

/* The key's fields into d; the rest of d is left as it was (and unread). */
static void
unkey_session(struct mx_session *d, const struct wkey *x)
{
#define COPY(f) d->f = x->f;
	WKEY_FIELDS(COPY)
#undef COPY
}

/*
 * One queued item.  An event is kept as its parts (event_sync): the body
 * the type names and, for a reply, a copy of its session beside it (or
 * only its key), so an item is at most one session plus one reply (3.7
 * KB), not a whole struct mx_event (itself a session's size) plus a
 * session.  In the ring it takes only its size (the bytes its kind fills);
 * the consumer reads no byte past it.
 */
struct wslot {
	enum { WS_EVENT, WS_COMMIT, WS_RUN, WS_ANCHOR, WS_SKIP } kind; /* WS_COMMIT: store_commit_soon();
	                                                      * WS_RUN: store_update_run_soon();
	                                                      * WS_ANCHOR: store_anchor();
	                                                      * WS_SKIP: the rest of the ring
	                                                      * is unused, the next item is at
	                                                      * its start */
	uint32_t size; /* the bytes it takes in the ring: a multiple of WRITER_LINE */
	enum mx_event_type type; /* WS_EVENT */
	enum { WS_NONE, WS_KEY, WS_FULL } sess_kind; /* EV_TXN: u.t.s holds the reply's
							session: none, its key, all */
	union {
		struct wsess session;
		struct {
			struct mx_txn txn;
			union {
				struct wkey key;
				struct wsess full;
			} s;
		} t;
		struct mx_dns dns;
		struct mx_ident ident;
		struct mx_cause cause;
		struct mx_diagnosis diag;
		struct run_stats run; /* WS_RUN: the figures, without counters */
		struct {
			uint64_t hash, ts;
		} anchor; /* WS_ANCHOR */
	} u;
};

/* The writer's side of a queued event; sess: room for its session. */
static void
slot_sync(struct store *s, const struct wslot *e, struct mx_session *sess)
{
	if (e->type == EV_TXN) {
		if (e->sess_kind == WS_FULL)
			unpack_session(sess, &e->u.t.s.full);
		else if (e->sess_kind == WS_KEY)
			unkey_session(sess, &e->u.t.s.key);
		event_sync(s, EV_TXN, &e->u.t.txn, e->sess_kind != WS_NONE ? sess : NULL,
		           e->sess_kind == WS_KEY);
	} else if (e->type == EV_SESSION) {
		unpack_session(sess, &e->u.session);
		event_sync(s, EV_SESSION, sess, NULL, false);
	} else {
		event_sync(s, e->type, &e->u, NULL, false);
	}
}

/*
 * Single producer (the packet path: store_event), single consumer (the
 * thread).  head / tail count the ring's bytes taken / queued; the bytes
 * between them belong to the consumer, the others to the producer.  Every
 * other store call first drains the queue, then works on the connection
 * itself while the thread sleeps.
 *
 * head and tail are atomics, so queueing and taking an event cost no lock;
 * the mutex and the condition variables are only for going to sleep.  A
 * side sets its *_waiting flag, then re-checks the counter, and the other
 * side moves the counter, then checks the flag (all sequentially
 * consistent): one of them always sees the other, so no wake-up is lost.
 */
#define WRITER_LINE 64
#define WRITER_BATCH 16 /* events the thread stores before it moves head */
struct writer {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv_item;  /* consumer waits for events (or quit) */
	pthread_cond_t cv_space; /* producer waits for room (or an empty queue) */
	unsigned char *ring;
	uint32_t size; /* WRITER_RING or WRITER_RING_BULK (a power of two) */
	bool quit; /* under mu */
	/* Each side writes its own cache line only: when head and tail shared
	 * one, every event moved that line between the cores twice. */
	_Alignas(WRITER_LINE) _Atomic uint64_t tail; /* the producer's line */
	uint64_t filled; /* bytes filled: those from tail on are handed over
			    WRITER_BATCH items at a time (each hand-over is a fence that
			    waits for the items' cache lines), or at once if urgent */
	uint64_t head_seen; /* the producer's last look at head: the queue has at
			       least this much room, so head is read only when full */
	uint32_t filled_items; /* items filled (for WRITER_BATCH): on the producer's
				  line, not beside ring and size, which the thread
				  reads for every item */
	_Alignas(WRITER_LINE) _Atomic uint64_t head; /* the thread's line: moved
							every WRITER_BATCH items and
							whenever it caught up */
	_Alignas(WRITER_LINE) atomic_bool consumer_waiting, producer_waiting;
	atomic_bool failed; /* the store broke in the thread; the message is in s->err */
	_Alignas(WRITER_LINE) struct mx_session sess; /* the thread's: a slot's session unpacked */
};

/* Wakes the side sleeping on cv (it re-checks its condition under mu). */
static void
writer_wake(struct writer *w, pthread_cond_t *cv)
{
	pthread_mutex_lock(&w->mu);
	pthread_cond_signal(cv);
	pthread_mutex_unlock(&w->mu);
}

static void *
writer_main(void *arg)
{
	struct store *s = arg;
	struct writer *w = s->w;

	uint64_t head = atomic_load(&w->head); /* only this thread moves it */
	uint32_t taken = 0;                    /* items since head was last stored */
	for (;;) {
		uint64_t tail = atomic_load(&w->tail);
		if (head == tail) {
			bool quit;
			pthread_mutex_lock(&w->mu);
			atomic_store(&w->consumer_waiting, true);
			while ((tail = atomic_load(&w->tail)) == head && !w->quit)
				pthread_cond_wait(&w->cv_item, &w->mu);
			atomic_store(&w->consumer_waiting, false);
			quit = w->quit;
			pthread_mutex_unlock(&w->mu);
			if (head == tail && quit)
				break; /* quit and drained */
			continue;
		}
		while (head != tail) {
			struct wslot *e = (struct wslot *)(w->ring + (head & (w->size - 1)));
			/* an error makes the store broken: sticky */
			if (e->kind == WS_SKIP) {
				/* nothing: the next item is at the ring's start */
			} else if (e->kind == WS_COMMIT) {
				if (!s->broken)
					batch_commit(s);
			} else if (e->kind == WS_RUN) {
				if (!s->broken && run_live(s, &e->u.run) == STORE_OK)
					batch_commit(s);
			} else if (e->kind == WS_ANCHOR) {
				anchor_sync(s, e->u.anchor.hash, e->u.anchor.ts);
			} else {
				slot_sync(s, e, &w->sess);
			}
			if (s->broken)
				atomic_store(&w->failed, true);
			head += e->size;
			if (head != tail && ++taken % WRITER_BATCH != 0 && !s->broken)
				continue;
			taken = 0;
			atomic_store(&w->head, head);
			/* a full queue wakes its producer when half empty, not item by item */
			if (atomic_load(&w->producer_waiting) &&
			    (atomic_load(&w->tail) - head <= w->size / 2 ||
			     atomic_load(&w->failed)))
				writer_wake(w, &w->cv_space);
		}
	}
	return NULL;
}

/*
 * The producer sleeps until at most max_queued bytes are queued, or, with
 * stop_if_failed, the store broke in the thread.
 */
static void writer_hand_over(struct writer *w, bool urgent);

static void
writer_wait(struct writer *w, uint64_t max_queued, bool stop_if_failed)
{
	writer_hand_over(w, true);
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->producer_waiting, true);
	while (!(stop_if_failed && atomic_load(&w->failed)) &&
	       atomic_load(&w->tail) - atomic_load(&w->head) > max_queued) {
		/* the consumer may sleep on fewer than WRITER_WAKE bytes */
		if (atomic_load(&w->consumer_waiting))
			pthread_cond_signal(&w->cv_item);
		pthread_cond_wait(&w->cv_space, &w->mu);
	}
	atomic_store(&w->producer_waiting, false);
	pthread_mutex_unlock(&w->mu);
}

/* Waits until the thread has stored every queued event. */
static void
writer_drain(struct store *s)
{
	struct writer *w = s->w;
	if (w)
		writer_wait(w, 0, false);
}

static void
writer_stop(struct store *s)
{
	struct writer *w = s->w;
	if (!w)
		return;
	writer_hand_over(w, true);
	pthread_mutex_lock(&w->mu);
	w->quit = true;
	pthread_cond_signal(&w->cv_item);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv_item);
	pthread_cond_destroy(&w->cv_space);
	free(w->ring);
	free(w);
	s->w = NULL;
}

int
store_start_writer(struct store *s)
{
	if (!s)
		return STORE_USAGE;
	writer_drain(s);
	int rc = check_usable(s, false);
	if (rc != STORE_OK || s->w)
		return rc;
	/* aligned as its members: a line of its own for head and for tail */
	size_t wsize = (sizeof(struct writer) + WRITER_LINE - 1) / WRITER_LINE * WRITER_LINE;
	struct writer *w = aligned_alloc(WRITER_LINE, wsize);
	if (w) {
		memset(w, 0, wsize);
		w->size = s->bulk ? WRITER_RING_BULK : WRITER_RING;
		w->ring = aligned_alloc(WRITER_LINE, w->size);
	}
	if (!w || !w->ring) {
		free(w);
		snprintf(s->err, sizeof(s->err), "out of memory for the writer thread");
		return STORE_ERR;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv_item, NULL);
	pthread_cond_init(&w->cv_space, NULL);
	s->w = w;
	if (pthread_create(&w->th, NULL, writer_main, s) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv_item);
		pthread_cond_destroy(&w->cv_space);
		free(w->ring);
		free(w);
		s->w = NULL;
		snprintf(s->err, sizeof(s->err), "cannot start the writer thread");
		return STORE_ERR;
	}
	/* top -H, perf and /proc tell it from the packet thread by this name */
	pthread_setname_np(w->th, "mxlag-writer");
	return STORE_OK;
}

/*
 * A reply and a DNS query into a queue slot without the unused tails of
 * their text buffers: a slot was last touched by the writer on the other
 * core, so every cache line written costs a transfer (a whole mx_dns is 26
 * lines, its text usually under 2).  Every field is copied: the sizes
 * below fail the build when a field is added, to add it here too.
 */
_Static_assert(sizeof(struct mx_txn) == 488, "copy_txn() copies every field of struct mx_txn");
_Static_assert(sizeof(struct mx_dns) == 1664, "copy_dns() copies every field of struct mx_dns");

static void
copy_txn(struct mx_txn *d, const struct mx_txn *x)
{
	d->id = x->id;
	d->session_id = x->session_id;
	/* the short buffers whole (two or three words: cheaper than measuring
	   the text), ended by a NUL as mx_strlcpy() would leave them */
#define COPY_SHORT(f)                                           \
	do {                                                    \
		memcpy(d->f, x->f, sizeof(d->f));               \
		d->f[sizeof(d->f) - 1] = '\0';                  \
	} while (0)
	_Static_assert(sizeof(d->command) <= 16 && sizeof(d->guess) <= 16 &&
	                   sizeof(d->reply_code) <= 16,
	               "COPY_SHORT() copies a few words");
	COPY_SHORT(command);
	COPY_SHORT(guess);
	mx_strlcpy(d->argument, x->argument, sizeof(d->argument));
	d->request_ns = x->request_ns;
	d->reply_ns = x->reply_ns;
	COPY_SHORT(reply_code);
#undef COPY_SHORT
	mx_strlcpy(d->reply_text, x->reply_text, sizeof(d->reply_text));
	d->outcome = x->outcome;
	d->size = x->size;
	d->end_ns = x->end_ns;
	d->prev_reply_ns = x->prev_reply_ns;
}

static void
copy_dns(struct mx_dns *d, const struct mx_dns *x)
{
	d->id = x->id;
	d->ts_ns = x->ts_ns;
	d->client = x->client;
	d->server = x->server;
	d->tcp = x->tcp;
	d->txid = x->txid;
	mx_strlcpy(d->qname, x->qname, sizeof(d->qname));
	d->qtype = x->qtype;
	d->outcome = x->outcome;
	d->rcode = x->rcode;
	mx_strlcpy(d->answers, x->answers, sizeof(d->answers));
	d->response_ns = x->response_ns;
	d->retransmits = x->retransmits;
	d->last_send_ns = x->last_send_ns;
	d->owner = x->owner;
	d->about = x->about;
}

/*
 * Does the writer need more of a reply's session than its key (struct
 * wkey)?  Only where it may write a row for it (event_sync()): outside a
 * bulk load (every open session's provisional row), and for a reply that
 * becomes a row: a notable one, one of another session, or one past the
 * compact replies a session keeps (x->replies counts this reply, so the
 * session's replies before it, compact or not, are one fewer).  bulk and
 * notable_ms are set before the run and never change during it.
 */
static bool
needs_whole_session(const struct store *s, const struct mx_session *x, const struct mx_txn *t)
{
	return !s->bulk || x->id != t->session_id || x->replies > COMPACT_MAX_PER_SESSION ||
	       compact_is_notable(t, s->notable_ms);
}

#define WSLOT_AT(m) offsetof(struct wslot, m) /* where a part of an item begins */

/* Copies ev into a queue item: its type, body and session only.  Returns
 * the bytes of the item it filled (its header included). */
static size_t
copy_event(const struct store *s, struct wslot *d, const struct mx_event *ev)
{
	d->type = ev->type;
	d->sess_kind = WS_NONE;
	switch (ev->type) {
	case EV_SESSION:
		return WSLOT_AT(u.session) + pack_session(&d->u.session, &ev->u.session);
	case EV_TXN:
		copy_txn(&d->u.t.txn, &ev->u.txn);
		if (!ev->session)
			return WSLOT_AT(u.t.s);
		if (needs_whole_session(s, ev->session, &ev->u.txn)) {
			d->sess_kind = WS_FULL;
			return WSLOT_AT(u.t.s.full) + pack_session(&d->u.t.s.full, ev->session);
		}
		key_session(&d->u.t.s.key, ev->session);
		d->sess_kind = WS_KEY;
		return WSLOT_AT(u.t.s.key) + sizeof(d->u.t.s.key);
	case EV_DNS:
		copy_dns(&d->u.dns, &ev->u.dns);
		return WSLOT_AT(u.dns) + sizeof(d->u.dns);
	case EV_IDENT:
		d->u.ident = ev->u.ident;
		return WSLOT_AT(u.ident) + sizeof(d->u.ident);
	case EV_CAUSE:
		d->u.cause = ev->u.cause;
		return WSLOT_AT(u.cause) + sizeof(d->u.cause);
	case EV_DIAGNOSIS:
		d->u.diag = ev->u.diag;
		return WSLOT_AT(u.diag) + sizeof(d->u.diag);
	case EV_TRANSFER:
		break; /* not stored; writer_event() refuses it */
	}
	return WSLOT_AT(u);
}

static struct wslot *writer_reserve(struct writer *w);
static void writer_publish(struct writer *w, struct wslot *item, size_t used, bool urgent);

/* store_event() with the thread: queues a copy, waiting while the queue is full. */
static int
writer_event(struct store *s, const struct mx_event *ev)
{
	struct writer *w = s->w;
	if (s->run_id == 0 || body_id(ev->type, &ev->u) == 0 || (unsigned)ev->type > EV_DIAGNOSIS) {
		/* misuse: reported at once, by event_sync() on the drained store */
		writer_drain(s);
		return event_sync(s, ev->type, &ev->u, ev->session, false);
	}
	struct wslot *item = writer_reserve(w);
	if (!item)
		return STORE_ERR; /* the message is in store_errmsg() */
	size_t used = copy_event(s, item, ev);
	item->kind = WS_EVENT;
	writer_publish(w, item, used, false);
	return STORE_OK;
}

int
store_commit_soon(struct store *s)
{
	if (!s || !s->w)
		return store_flush(s);
	struct wslot *item = writer_reserve(s->w);
	if (!item)
		return STORE_ERR;
	item->kind = WS_COMMIT;
	writer_publish(s->w, item, WSLOT_AT(u), true);
	return STORE_OK;
}

int
store_update_run_soon(struct store *s, const struct run_stats *st)
{
	if (!s || !st)
		return STORE_USAGE;
	if (!s->w) {
		int rc = check_api(s, true);
		if (rc == STORE_OK)
			rc = run_live(s, st);
		return rc == STORE_OK ? batch_commit(s) : rc;
	}
	if (s->run_id == 0)
		return check_api(s, true); /* misuse, reported as ever */
	struct wslot *item = writer_reserve(s->w);
	if (!item)
		return STORE_ERR;
	item->kind = WS_RUN;
	item->u.run = *st;
	item->u.run.counter_names = NULL;
	item->u.run.counter_values = NULL;
	item->u.run.n_counters = 0;
	writer_publish(s->w, item, WSLOT_AT(u.run) + sizeof(item->u.run), true);
	return STORE_OK;
}

/* ---- packet anchors (the duplicate guard by content, capture/anchor.h) ----------- */

static size_t
anchor_slot(uint64_t hash, size_t mask)
{
	return (size_t)(hash ^ (hash >> 29)) & mask;
}

int
store_load_anchors(struct store *s)
{
	int rc = check_usable(s, false);
	if (rc != STORE_OK)
		return rc;
	if (s->w) {
		snprintf(s->err, sizeof(s->err), "store_load_anchors: call it before the writer starts");
		return STORE_USAGE;
	}
	int64_t n = 0;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM anchors", -1, &st, NULL) != SQLITE_OK)
		return fail_sqlite(s, "counting the stored packet anchors");
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	free(s->anchor_key);
	free(s->anchor_run);
	s->anchor_key = NULL;
	s->anchor_run = NULL;
	s->anchor_mask = 0;
	if (n <= 0)
		return STORE_OK;
	size_t cap = 16;
	while (cap < (size_t)n * 2) /* at most half full */
		cap *= 2;
	s->anchor_key = calloc(cap, sizeof(*s->anchor_key));
	s->anchor_run = calloc(cap, sizeof(*s->anchor_run));
	if (!s->anchor_key || !s->anchor_run) {
		snprintf(s->err, sizeof(s->err), "out of memory for %lld packet anchors", (long long)n);
		return STORE_ERR;
	}
	s->anchor_mask = cap - 1;
	if (sqlite3_prepare_v2(s->db, "SELECT hash, run_id FROM anchors WHERE run_id IN (SELECT id FROM runs)", -1, &st, NULL) != SQLITE_OK)
		return fail_sqlite(s, "reading the stored packet anchors");
	int64_t loaded = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && loaded < n) {
		uint64_t h = (uint64_t)sqlite3_column_int64(st, 0);
		int64_t run = sqlite3_column_int64(st, 1);
		if (run <= 0)
			continue;
		size_t i = anchor_slot(h, s->anchor_mask);
		while (s->anchor_run[i] && s->anchor_key[i] != h)
			i = (i + 1) & s->anchor_mask;
		/* the same packet in two runs (stored before the guard): either names it */
		s->anchor_key[i] = h;
		s->anchor_run[i] = run;
		loaded++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail_sqlite(s, "reading the stored packet anchors");
	return STORE_OK;
}

int64_t
store_anchor(struct store *s, uint64_t hash, uint64_t ts_ns)
{
	if (!s)
		return 0;
	int64_t earlier = 0;
	if (s->anchor_key) {
		size_t i = anchor_slot(hash, s->anchor_mask);
		while (s->anchor_run[i]) {
			if (s->anchor_key[i] == hash) {
				earlier = s->anchor_run[i];
				break;
			}
			i = (i + 1) & s->anchor_mask;
		}
	}
	if (!s->w || s->run_id == 0) {
		anchor_sync(s, hash, ts_ns);
		return earlier;
	}
	struct wslot *item = writer_reserve(s->w);
	if (!item)
		return earlier; /* the store broke: the run's end says so */
	item->kind = WS_ANCHOR;
	item->u.anchor.hash = hash;
	item->u.anchor.ts = ts_ns;
	writer_publish(s->w, item, WSLOT_AT(u.anchor) + sizeof(item->u.anchor), false);
	return earlier;
}

/* An item's bytes in the ring: whole cache lines, so that no two items share one. */
static uint32_t
item_bytes(size_t used)
{
	return (uint32_t)((used + WRITER_LINE - 1) & ~(size_t)(WRITER_LINE - 1));
}

/*
 * Room for the largest item (waiting while the queue has less), all of it
 * before the ring's end: when the end is nearer, the rest of the ring is
 * skipped (a WS_SKIP item).  The item is filled in place and handed over
 * by writer_publish() with the bytes it used.  NULL once the store broke.
 */
static struct wslot *
writer_reserve(struct writer *w)
{
	const uint64_t most = item_bytes(sizeof(struct wslot));
	uint64_t at = w->filled;
	uint64_t off = at & (w->size - 1);
	uint64_t skip = off + most > w->size ? w->size - off : 0;
	if (w->size - (at - w->head_seen) < skip + most) {
		w->head_seen = atomic_load(&w->head);
		if (w->size - (at - w->head_seen) < skip + most && !atomic_load(&w->failed))
			writer_wait(w, w->size - (skip + most), true);
		w->head_seen = atomic_load(&w->head);
	}
	if (atomic_load(&w->failed))
		return NULL;
	if (skip) {
		/* off is a multiple of WRITER_LINE: a header fits before the end */
		struct wslot *k = (struct wslot *)(w->ring + off);
		k->kind = WS_SKIP;
		k->size = (uint32_t)skip;
		w->filled = at + skip; /* handed over with the item that follows */
	}
	return (struct wslot *)(w->ring + (w->filled & (w->size - 1)));
}

/* Hands the filled slots to the thread (woken at once if urgent). */
static void
writer_hand_over(struct writer *w, bool urgent)
{
	uint64_t filled = w->filled;
	if (filled == atomic_load_explicit(&w->tail, memory_order_relaxed))
		return;
	atomic_store(&w->tail, filled);
	if (atomic_load(&w->consumer_waiting) &&
	    (urgent || filled - atomic_load(&w->head) >= WRITER_WAKE))
		writer_wake(w, &w->cv_item);
}

/* The item writer_reserve() gave is filled (used bytes of it): handed over with its batch. */
static void
writer_publish(struct writer *w, struct wslot *item, size_t used, bool urgent)
{
	item->size = item_bytes(used);
	w->filled += item->size;
	if (urgent || ++w->filled_items % WRITER_BATCH == 0)
		writer_hand_over(w, urgent);
}

int
store_event(struct store *s, const struct mx_event *ev)
{
	if (ev->type == EV_TRANSFER) /* the correlator's input, nothing to store */
		return STORE_OK;
	if (s && s->w)
		return writer_event(s, ev);
	return event_sync(s, ev->type, &ev->u, ev->session, false);
}

void
store_emit(void *store, const struct mx_event *ev)
{
	store_event(store, ev);
}
