/*
 * store.h - the SQLite writer: analysis events into the versioned schema of
 * schema/schema.sql.
 *
 * Life cycle (modelled on sqlite3's CONSTRUCTOR / METHOD / DESTRUCTOR):
 *
 *   store_open()       CONSTRUCTOR: opens or creates the database, migrates
 *                      it forward, sets WAL, synchronous=NORMAL, a 10 s busy
 *                      timeout, foreign keys off; prepares every statement.
 *   store_bulk_load()  optional, before store_begin_run(): an offline load
 *                      (mxlag analyze), see below.
 *   store_begin_run()  starts a run (one analyze / capture invocation).
 *   store_event()      one analyzer / correlator event; rows are written in
 *                      batched transactions (commit every STORE_BATCH_ROWS
 *                      rows or STORE_BATCH_MS of wall clock, or on
 *                      store_flush()).
 *   store_update_run() packet counters of the run (any time, e.g. live).
 *   store_end_run()    final counters; commits.
 *   store_close()      DESTRUCTOR: commits the open batch, finalizes.
 *
 * Return codes: STORE_OK (0) or a negative STORE_* code; the message is in
 * store_errmsg().  Errors are sticky: after a failed write the open batch is
 * rolled back (the database stays consistent, never half-written, e.g. on
 * SQLITE_FULL) and every later call fails with the same message.
 *
 * Ids: the analyzers number events 1, 2, 3 ... per run (struct mx_ids).  At
 * store_begin_run() the store takes the largest id of each table as that
 * table's base and adds it to every id and foreign key of the run, so rows of
 * different runs never collide.  Two runs writing into one database at the
 * same time are not supported: the CLI lets one writer in at a time
 * (cli/dblock.h).
 *
 * Not thread-safe: one struct store per thread (store_start_writer() adds a
 * thread of the store's own behind the same API).
 */
#ifndef MXLAG_STORE_H
#define MXLAG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "../analyze/event.h"

#define STORE_SCHEMA_VERSION 18
/* dns_rows' time in epoch seconds, as the view dns_queries shows it (ts) */
#define STORE_DNS_TS_SQL "(ts_ns / 1000000000 + (ts_ns % 1000000000) / 1e9)"
/*
 * The ids of dns_rows per row of dns_blocks (schema 15): block blk holds
 * ids blk * 1024 to (blk + 1) * 1024 - 1.  STORE_DNS_BLOCK_IDS_SQL(blk):
 * that range as SQL, for "id BETWEEN ..." (STORE_DNS_BLOCK spelled as SQL).
 * (schema.sql's trigger and the SQL files of the reports spell the same
 * numbers.)
 */
#define STORE_DNS_BLOCK 1024
#define STORE_SQL_NUM_(n) #n
#define STORE_SQL_NUM(n) STORE_SQL_NUM_(n)
/* the ids of block blk (an SQL expression) of n ids, for "id BETWEEN ..." */
#define STORE_BLOCK_IDS_SQL(blk, n)                                                          \
	blk " * " STORE_SQL_NUM(n) " AND (" blk " + 1) * " STORE_SQL_NUM(n) " - 1"
#define STORE_DNS_BLOCK_IDS_SQL(blk) STORE_BLOCK_IDS_SQL(blk, STORE_DNS_BLOCK)
/*
 * A FROM clause: the rows of pfx dns_rows (as d) whose time may lie in
 * [since, until) (SQL expressions in seconds, NULL = open), read through
 * the blocks of pfx dns_blocks (as b; schema 15) by id.  It gives every
 * row of the window and maybe some up to a second outside it: the
 * caller's own condition on STORE_DNS_TS_SQL keeps exactly the window's.
 */
#define STORE_DNS_WINDOW_SQL(pfx, since, until)                                               \
	pfx "dns_blocks AS b CROSS JOIN " pfx "dns_rows AS d"                                 \
	    " ON d.id BETWEEN " STORE_DNS_BLOCK_IDS_SQL("b.blk")                                 \
	    " AND b.ts_max_ns >= (coalesce(" since ", -1e18) - 1) * 1e9"                      \
	    " AND b.ts_min_ns < (coalesce(" until ", 1e18) + 1) * 1e9"
/*
 * The same for sessions (schema 18): block blk of session_blocks holds the
 * session_rows ids blk * 1024 to (blk + 1) * 1024 - 1, t_min / t_max the
 * least and greatest coalesce(start, syn) among them (STORE_SESSION_T0_SQL).
 * STORE_SESSION_WINDOW_SQL: a FROM clause of the rows of pfx session_rows
 * (as r) whose time may lie in [since, until), read through the blocks (as
 * sb) that overlap it; the caller's own condition on STORE_SESSION_T0_SQL
 * keeps exactly the window's.
 */
#define STORE_SESSION_BLOCK 1024
#define STORE_SESSION_BLOCK_IDS_SQL(blk) STORE_BLOCK_IDS_SQL(blk, STORE_SESSION_BLOCK)
#define STORE_SESSION_T0_SQL "coalesce(r.start, r.syn)"
#define STORE_SESSION_WINDOW_SQL(pfx, since, until)                                           \
	pfx "session_blocks AS sb CROSS JOIN " pfx "session_rows AS r"                        \
	    " ON r.id BETWEEN " STORE_SESSION_BLOCK_IDS_SQL("sb.blk")                            \
	    " AND sb.t_max >= coalesce(" since ", -1e18) AND sb.t_min < coalesce(" until ", 1e18)"
#define STORE_BATCH_ROWS 5000
#define STORE_BATCH_MS 2000
#define STORE_BULK_BATCH_ROWS 50000 /* store_bulk_load() */
#define STORE_BUSY_MS 10000         /* waiting for a lock another process holds */
#define STORE_BULK_BUSY_MS 120000   /* the same while a new database is bulk-loaded */

enum store_rc {
	STORE_OK = 0,
	STORE_ERR = -1,       /* SQLite or I/O error, see the message */
	STORE_DUPLICATE = -2, /* store_begin_run: capture already in this database */
	STORE_NEWER = -3,     /* store_open: database written by a newer mxlag */
	STORE_NOTOURS = -4,   /* store_open: a database that is not mxlag's */
	STORE_USAGE = -5,     /* API misuse (event before store_begin_run, ...) */
};

/* The SQL files embedded into the binary by scripts/embed_sql.cmake. */
struct mxlag_sql_file {
	const char *name; /* "schema.sql", "reports/slow.sql", ... */
	const char *text;
};
extern const struct mxlag_sql_file mxlag_sql_files[]; /* NULL-terminated */

/* The embedded file called name, or NULL. */
const char *store_sql_file(const char *name);

/* Appends v as a JSON string (with quotes; '"', '\\' and control characters escaped) to str. */
void store_json_str(sqlite3_str *str, const char *v);
/* The schema (schema/schema.sql), for `mxlag schema`. */
const char *store_schema_sql(void);

struct store;

/*
 * Opens (creating if needed) the database at path and migrates it to
 * STORE_SCHEMA_VERSION.  On success *out is the store; on failure *out is
 * NULL, a negative STORE_* code is returned and err holds the reason.
 */
int store_open(struct store **out, const char *path, char *err, size_t errlen);

/*
 * Starts a run.  source: the capture file names or the interface (text);
 * fingerprint: identifies the capture files (computed by the caller), NULL
 * for live captures.  A fingerprint already in the database gives
 * STORE_DUPLICATE and a message naming the earlier run; nothing is written.
 * The runs row is committed at once.  *run_id (may be NULL) gets the new id.
 */
int store_begin_run(struct store *s, const char *source, const char *fingerprint, int64_t *run_id);

/*
 * Stores one event (all types of enum mx_event_type).  EV_TXN also writes a
 * provisional sessions row from ev->session (if set) so reports can join an
 * open session; the EV_SESSION at its end completes it.  The provisional row
 * is written once per batch, with the session's latest state, when the batch
 * commits (nothing of a batch is visible before), and not at all when the
 * session ended in the same batch; a bulk load writes it only for a session
 * with a reply stored as a transactions row.  The complete row of an ended
 * session may be held for id order (held.h) past commits, never past
 * store_flush(), store_end_run(), store_close() or 2 s of wall clock, and
 * never past the commit of a transactions row naming it.  EV_DIAGNOSIS sets
 * transactions.diagnosis / remedy.
 */
int store_event(struct store *s, const struct mx_event *ev);

/* An mx_emit_fn over store_event() (sink = the store); errors stay in the store. */
void store_emit(void *store, const struct mx_event *ev);

/*
 * Declares the runs of this store offline bulk loads (mxlag analyze, not the
 * live capture).  Batches become STORE_BULK_BATCH_ROWS rows.  If the
 * database is new (no runs, no rows) at store_begin_run(), the secondary
 * indexes are dropped and built once at store_end_run() (or store_close()),
 * and the run is written with synchronous = OFF and a rollback journal
 * instead of WAL (back to WAL at the end): a crashed process still leaves
 * an intact database, only an OS crash or power loss during the load could
 * damage it, and then the capture is simply analyzed again.  Without WAL a
 * reader holds up the load's commits, so the load waits for locks up to
 * STORE_BULK_BUSY_MS instead of STORE_BUSY_MS.
 * store_open() recreates indexes an interrupted load left out.  Live
 * capture never calls this and keeps synchronous = NORMAL.
 */
int store_bulk_load(struct store *s);

/*
 * Moves the SQLite work to a thread of its own (optional, any time after
 * store_open()): store_event() then queues a copy of the event in a bounded
 * queue (it waits while the queue is full) and returns; a write error shows
 * in a later store_event() and in every later call (sticky, as ever).  Every
 * other call first waits until the thread has stored what is queued:
 * store_flush() still commits everything given so far, store_close() stores
 * all of it and stops the thread.  Use store_db() only after store_flush().
 */
int store_start_writer(struct store *s);

/*
 * The notable threshold of the next runs (schema 5, compact.h): a reply
 * answered ok (not 4xx/5xx/-ERR) faster than ms is stored in its session's
 * compact record (sessions.replies), every other one as a row of
 * transactions.  Set it to the analysis threshold (the correlator's slow_ms)
 * so that every reply with a cause or a diagnosis is a row.  0 (the
 * default): every reply is a row.  Before store_begin_run().
 */
int store_set_notable_ms(struct store *s, double ms);
/* The run's big-message threshold, kept in runs.big_bytes (issue 17); 0 =
 * not told (NULL).  Before store_begin_run(). */
int store_set_big_bytes(struct store *s, uint64_t bytes);

/* Commits the open batch now (after the writer thread stored what is queued). */
int store_flush(struct store *s);

/*
 * Asks for a commit of everything given so far without waiting for it: with
 * the writer thread the request is queued behind the events and the thread
 * commits (the packet path does not stall while it drains); without it, the
 * same as store_flush().  Live capture calls this every few seconds so that
 * quiet periods still reach the database.
 */
int store_commit_soon(struct store *s);

/* Run totals; counters become a JSON object {"name": value, ...}. */
struct run_stats {
	uint64_t first_ns, last_ns; /* packet time of the first / last packet; 0 = none */
	uint64_t packets, bytes;
	int64_t kernel_drops; /* -1 = unknown (offline) */
	const char *const *counter_names;
	const uint64_t *counter_values;
	size_t n_counters;
};

/* Updates the runs row of the current run (no commit). */
int store_update_run(struct store *s, const struct run_stats *st);
/*
 * The live figures of a running capture without waiting (as
 * store_commit_soon()): first_ns, last_ns, packets, bytes and kernel_drops
 * (-1 leaves it NULL) of st are written to the runs row, then everything
 * given so far is committed, by the writer thread when there is one (queued
 * behind the events: the caller never waits for SQLite, only for room in
 * the queue).  The counters and runs.finished are not touched: finished
 * stays NULL until store_end_run().
 */
int store_update_run_soon(struct store *s, const struct run_stats *st);
/* Updates the runs row, marks the run finished, commits. */
int store_end_run(struct store *s, const struct run_stats *st);

/* Message of the last error ("" if none); valid until the next call. */
/*
 * The duplicate guard by content (capture/anchor.h, DESIGN.md "Duplicate
 * guard").  store_load_anchors() reads the anchors every stored run left
 * (an offline run, before store_start_writer()).  store_anchor() stores
 * one anchor packet of the current run (queued like an event) and returns
 * the id of an earlier run that stored the same packet, or 0.
 */
int store_load_anchors(struct store *s);
int64_t store_anchor(struct store *s, uint64_t hash, uint64_t ts_ns);
/* "SOURCE, analyzed TIME UTC[, unfinished]" of run id into buf; -1 when there is no such run */
int store_run_text(struct store *s, int64_t id, char *buf, size_t n);

const char *store_errmsg(const struct store *s);
/* The connection (for reports on the same database, and tests). */
sqlite3 *store_db(struct store *s);
/*
 * After store_end_run(): removes run run_id again if it read no packet
 * (runs.packets = 0), so an empty capture leaves nothing behind, and its
 * fingerprint (the same for every empty capture of one tcpdump command)
 * refuses no later analysis.  A run with packets is kept (STORE_OK).
 */
int store_forget_empty_run(struct store *s, int64_t run_id);
/* Id of the current run, 0 before store_begin_run(). */
int64_t store_run_id(const struct store *s);

/* Commits the open batch, finalizes the statements and closes; NULL is fine. */
void store_close(struct store *s);

/*
 * Migration engine (store_open() uses it with the embedded schema.sql and
 * migrate_N.sql files): brings db to version nsteps + 1.  base_sql creates
 * the latest version (nsteps + 1) directly in an empty database; steps[k]
 * takes an existing database from version k + 1 to k + 2.  Each step runs in
 * its own transaction and sets user_version.  A newer database gives
 * STORE_NEWER, a database with tables but user_version 0 STORE_NOTOURS.
 */
int store_migrate(sqlite3 *db, const char *base_sql, const char *const *steps, int nsteps,
                  char *err, size_t errlen);

/*
 * Brings an open connection to STORE_SCHEMA_VERSION with the embedded files
 * (what store_open() does; reports use it on their own connection).
 */
int store_migrate_db(sqlite3 *db, char *err, size_t errlen);

#endif
