/*
 * truthcheck.c - mxlag-truthcheck: measures mxlag's diagnosis of slow
 * replies against the truth that `mxlag-gen traffic` wrote (issue 12).
 *
 *   mxlag-truthcheck --db X.db --truth F.tsv [--totals F.tsv.totals]
 *                    [--min-right PCT] [--max-foreign N] [--max-false-slow N]
 *                    [--slow MS] [--minor PCT] [--lenient-none] [--unrelated-ok]
 *                    [--show N]
 *
 * Each truth line (one slow reply) is found in the database by its session
 * (client, ports, server, start within 2 s) and command (request within
 * 1 s).  It is exactly right when mxlag found it slow, every injected cause
 * is among its top-level causes (causes.parent_id IS NULL: same relation,
 * QTYPE, QNAME, resolver and first transmission within 2 ms, or the same
 * ident peer and first SYN, or -- big:CLIENT_PORT:CLIENT,SERVER -- a cause
 * of kind big-message whose causes.session_ref is the session of that
 * client, port and server that started within 2 s of the truth's cause_ts),
 * the largest-share cause is an injected one and
 * no other top-level cause has a share of --minor (5 %) or more; a `none`
 * truth wants the single cause kind none.  A reply is foreign when any of
 * its causes is a query or probe sent by another address than its host
 * (the truth's host column; loopback counts as the host, and an upstream
 * hop may come from the resolver its parent query asked), or a big message
 * of which neither end is its host (or whose session is not there).  Also counted:
 * replies whose session mxlag stored with another outbound flag (dir) or,
 * where sessions have a host column, under another host (host).
 *
 * Everything is plain SQL over the database (opened read-only) and the
 * truth loaded into temporary tables.  Exit status: 0, 1 when a threshold
 * was not met, 2 on bad usage or unreadable input.
 */
#include <getopt.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCOLS 16
#define MAX_CAUSE_LINES 12 /* per listed reply */
static const char *const COLS[NCOLS] = {
    "client",   "client_port", "server",   "server_port", "session_start", "host",
    "outbound", "protocol",    "command",  "request_ts",  "latency_ms",    "kind",
    "causes",   "cause_ts",    "upstream", "upstream_ts",
};

struct opts {
	const char *db, *truth, *totals;
	double slow_ms;
	double minor; /* share */
	double min_right;
	long max_foreign, max_false_slow;
	int lenient_none;
	int unrelated_ok; /* top-level `unrelated` causes are not held against a reply */
	int show;
};

struct ck {
	struct opts o;
	sqlite3 *h;
	int failed;
	int has_host; /* sessions.host is there */
};

/* ---- SQLite helpers ---------------------------------------------------------- */

static int
exec(struct ck *c, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(c->h, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "mxlag-truthcheck: %s\n  in: %.300s\n", err ? err : "?", sql);
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static sqlite3_stmt *
prep(struct ck *c, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(c->h, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "mxlag-truthcheck: %s\n  in: %.300s\n", sqlite3_errmsg(c->h), sql);
		return NULL;
	}
	return st;
}

/* The first column of the first row as a double (NAN when none or NULL). */
static double
scalar(struct ck *c, const char *sql)
{
	sqlite3_stmt *st = prep(c, sql);
	double v = NAN;

	if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return v;
}

static const char *
text(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? s : "";
}

/* ---- loading the truth ------------------------------------------------------- */

static const char SQL_TRUTH[] =
    "PRAGMA temp_store = MEMORY;"
    "CREATE TEMP TABLE truth (id INTEGER PRIMARY KEY, client TEXT, client_port INTEGER,"
    " server TEXT, server_port INTEGER, session_start REAL, host TEXT, outbound INTEGER,"
    " protocol TEXT, command TEXT, request_ts REAL, latency_ms REAL, kind TEXT, causes TEXT,"
    " cause_ts TEXT, upstream TEXT, upstream_ts TEXT, sid INTEGER, txn INTEGER);"
    "CREATE TEMP TABLE tcause (tid INTEGER, n INTEGER, kind TEXT, relation TEXT, qtype TEXT,"
    " qname TEXT, resolver TEXT, peer TEXT, ts REAL, bport INTEGER, bclient TEXT,"
    " bserver TEXT);"
    "CREATE TEMP TABLE tup (tid INTEGER, qtype TEXT, qname TEXT, server TEXT, ts REAL);";

/* Splits s at sep in place; up to max fields; returns the count. */
static int
split(char *s, char sep, char **f, int max)
{
	int n = 0;

	while (n < max) {
		char *e = strchr(s, sep);
		f[n++] = s;
		if (!e)
			break;
		*e = '\0';
		s = e + 1;
	}
	return n;
}

/*
 * One cause spec: dns:RELATION:QTYPE:QNAME:RESOLVER (the resolver last: an
 * IPv6 address has colons), ident:PEER, big:CLIENT_PORT:CLIENT,SERVER (the
 * big message's session) or none.  Binds kind, relation, qtype, qname,
 * resolver, peer to st's parameters 3-8, the big message's client port,
 * client and server to 10-12.
 */
static int
bind_cause(sqlite3_stmt *st, char *spec)
{
	for (int i = 3; i <= 8; i++)
		sqlite3_bind_null(st, i);
	for (int i = 10; i <= 12; i++)
		sqlite3_bind_null(st, i);
	if (strncmp(spec, "big:", 4) == 0) {
		char *end, *comma;
		long port = strtol(spec + 4, &end, 10);
		if (end == spec + 4 || *end != ':' || port <= 0 || port > 65535 ||
		    !(comma = strchr(end + 1, ',')) || comma == end + 1 || !comma[1])
			return -1;
		*comma = '\0';
		sqlite3_bind_text(st, 3, "big-message", -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 10, (int)port);
		sqlite3_bind_text(st, 11, end + 1, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 12, comma + 1, -1, SQLITE_TRANSIENT);
		return 0;
	}
	if (strcmp(spec, "none") == 0) {
		sqlite3_bind_text(st, 3, "none", -1, SQLITE_STATIC);
		return 0;
	}
	if (strncmp(spec, "ident:", 6) == 0) {
		sqlite3_bind_text(st, 3, "ident", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, spec + 6, -1, SQLITE_TRANSIENT);
		return 0;
	}
	if (strncmp(spec, "dns:", 4) == 0) {
		char *f[4];
		if (split(spec + 4, ':', f, 4) != 4)
			return -1;
		sqlite3_bind_text(st, 3, "dns", -1, SQLITE_STATIC);
		for (int i = 0; i < 4; i++)
			sqlite3_bind_text(st, 4 + i, f[i], -1, SQLITE_TRANSIENT);
		return 0;
	}
	return -1;
}

static int
load_truth(struct ck *c)
{
	FILE *f = fopen(c->o.truth, "r");
	char *line = NULL;
	size_t cap = 0;
	long lineno = 0, rows = 0;
	int rc = -1;
	sqlite3_stmt *ins = NULL, *cause = NULL, *up = NULL;

	if (!f) {
		perror(c->o.truth);
		return -1;
	}
	if (exec(c, SQL_TRUTH) != 0 || exec(c, "BEGIN") != 0)
		goto out;
	ins = prep(c, "INSERT INTO truth (id, client, client_port, server, server_port,"
	              " session_start, host, outbound, protocol, command, request_ts, latency_ms,"
	              " kind, causes, cause_ts, upstream, upstream_ts)"
	              " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)");
	cause = prep(c, "INSERT INTO tcause VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)");
	up = prep(c, "INSERT INTO tup VALUES (?1,?5,?6,?7,?9)");
	if (!ins || !cause || !up)
		goto out;
	while (getline(&line, &cap, f) > 0) {
		char *fld[NCOLS + 1], *cs[64], *ts[64];
		int n, nc, nt;
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		n = split(line, '\t', fld, NCOLS + 1);
		if (lineno == 1) {
			int ok = n == NCOLS;
			for (int i = 0; ok && i < NCOLS; i++)
				ok = strcmp(fld[i], COLS[i]) == 0;
			if (!ok) {
				fprintf(stderr, "%s: not a traffic truth file (header)\n",
				        c->o.truth);
				goto out;
			}
			continue;
		}
		if (n != NCOLS) {
			fprintf(stderr, "%s:%ld: %d columns, want %d\n", c->o.truth, lineno, n,
			        NCOLS);
			goto out;
		}
		rows++;
		sqlite3_reset(ins);
		sqlite3_bind_int64(ins, 1, rows);
		for (int i = 0; i < NCOLS; i++)
			sqlite3_bind_text(ins, i + 2, fld[i], -1, SQLITE_TRANSIENT);
		/* numbers as numbers */
		sqlite3_bind_int(ins, 3, atoi(fld[1]));
		sqlite3_bind_int(ins, 5, atoi(fld[3]));
		sqlite3_bind_double(ins, 6, strtod(fld[4], NULL));
		sqlite3_bind_int(ins, 8, atoi(fld[6]));
		sqlite3_bind_double(ins, 11, strtod(fld[9], NULL));
		sqlite3_bind_double(ins, 12, strtod(fld[10], NULL));
		if (sqlite3_step(ins) != SQLITE_DONE)
			goto sqlerr;
		for (int pass = 0; pass < 2; pass++) {
			sqlite3_stmt *st = pass ? up : cause;
			char *specs = fld[pass ? 14 : 12], *tss = fld[pass ? 15 : 13];
			if (strcmp(specs, "-") == 0)
				continue;
			nc = split(specs, ';', cs, 64);
			nt = split(tss, ';', ts, 64);
			if (nt != nc) {
				fprintf(stderr, "%s:%ld: %d causes but %d times\n", c->o.truth,
				        lineno, nc, nt);
				goto out;
			}
			for (int k = 0; k < nc; k++) {
				sqlite3_reset(st);
				sqlite3_bind_int64(st, 1, rows);
				sqlite3_bind_int(st, 2, k);
				if (bind_cause(st, cs[k]) != 0) {
					fprintf(stderr, "%s:%ld: bad cause %s\n", c->o.truth,
					        lineno, cs[k]);
					goto out;
				}
				if (strcmp(ts[k], "-") == 0)
					sqlite3_bind_null(st, 9);
				else
					sqlite3_bind_double(st, 9, strtod(ts[k], NULL));
				if (sqlite3_step(st) != SQLITE_DONE)
					goto sqlerr;
			}
		}
	}
	if (lineno == 0) {
		fprintf(stderr, "%s: empty\n", c->o.truth);
		goto out;
	}
	rc = exec(c, "COMMIT");
	goto out;
sqlerr:
	fprintf(stderr, "mxlag-truthcheck: %s\n", sqlite3_errmsg(c->h));
out:
	sqlite3_finalize(ins);
	sqlite3_finalize(cause);
	sqlite3_finalize(up);
	free(line);
	fclose(f);
	return rc;
}

/* ---- matching ---------------------------------------------------------------- */

/*
 * dbc: every cause of a matched reply, with its query or probe; pairs: an
 * injected cause and the top-level database cause that is it; v: the
 * verdict per truth line.  :slow, :minor and :tol are bound by name.
 */
static const char *const SQL_MATCH[] = {
    "CREATE INDEX temp.tcause_tid ON tcause (tid, n)",
    "CREATE INDEX temp.tup_tid ON tup (tid)",
    "CREATE INDEX temp.truth_key ON truth (client_port, client, server_port, server)",
    /* every session once against the truth's key (CROSS JOIN: sessions outside); SQLite's
     * min() with bare columns: the session with the nearest start */
    "CREATE TEMP TABLE msess (tid INTEGER PRIMARY KEY, sid INTEGER, d REAL)",
    "INSERT INTO msess SELECT t.id, s.id, min(abs(s.start - t.session_start))"
    " FROM main.sessions s CROSS JOIN truth t ON t.client_port = s.client_port"
    " AND t.client = s.client AND t.server_port = s.server_port AND t.server = s.server"
    " WHERE s.start BETWEEN t.session_start - 2 AND t.session_start + 2 GROUP BY t.id",
    "UPDATE truth SET sid = (SELECT sid FROM msess WHERE tid = truth.id)",
    "CREATE TEMP TABLE mtxn (tid INTEGER PRIMARY KEY, txn INTEGER, d REAL)",
    "INSERT INTO mtxn SELECT t.id, x.id,"
    " min(abs(x.request_ts - t.request_ts)) FROM truth t JOIN main.transactions x"
    " ON x.session_id = t.sid AND x.request_ts BETWEEN t.request_ts - 1 AND t.request_ts + 1"
    " AND x.command = t.command GROUP BY t.id",
    "UPDATE truth SET txn = (SELECT txn FROM mtxn WHERE tid = truth.id)",
    /* the causes of the matched replies; other_host: sent by another address than the
     * session's host (loopback is the host; an upstream hop may come from the resolver
     * its parent query asked) */
    "CREATE TEMP TABLE dbc AS SELECT *, CASE WHEN kind = 'big-message'"
    " THEN coalesce(instr(',' || host || ',', ',' || bserver || ',') = 0"
    "  AND instr(',' || host || ',', ',' || bclient || ',') = 0, 1)"
    " ELSE sender IS NOT NULL"
    " AND instr(',' || host || ',', ',' || sender || ',') = 0"
    " AND sender NOT LIKE '127.%' AND sender <> '::1'"
    " AND (parent IS NULL OR parent_resolver IS NULL OR sender <> parent_resolver) END"
    " AS other_host"
    " FROM (SELECT t.id AS tid, c.id AS cid, c.parent_id AS parent, c.kind,"
    " c.relation, coalesce(c.share, 0) AS share, q.qtype, q.qname, q.server AS resolver,"
    " q.ts AS qts, i.peer, i.ts AS its, coalesce(q.client, i.host) AS sender,"
    " (SELECT pq.server FROM main.causes pc JOIN main.dns_queries pq ON pq.id = pc.dns_query_id"
    "  WHERE pc.id = c.parent_id) AS parent_resolver,"
    " b.client_port AS bport, b.client AS bclient, b.server AS bserver, b.start AS bstart,"
    " t.host AS host, c.parent_id IS NULL AND NOT (:unrel AND c.relation = 'unrelated') AS top"
    " FROM truth t JOIN main.causes c ON c.transaction_id = t.txn"
    " LEFT JOIN main.dns_queries q ON q.id = c.dns_query_id"
    " LEFT JOIN main.ident_probes i ON i.id = c.ident_probe_id"
    " LEFT JOIN cref r ON r.id = c.id LEFT JOIN main.sessions b ON b.id = r.session_ref)",
    "CREATE INDEX temp.dbc_tid ON dbc (tid, cid)",
    /* an injected cause and the top-level database cause that is it */
    "CREATE TEMP TABLE pairs AS SELECT tc.tid, tc.n, d.cid FROM tcause tc"
    " JOIN dbc d ON d.tid = tc.tid AND d.top AND d.kind = tc.kind"
    " WHERE (tc.kind = 'dns' AND d.relation = tc.relation AND d.qtype = tc.qtype"
    "        AND d.qname = tc.qname AND d.resolver = tc.resolver AND abs(d.qts - tc.ts) <= :tol)"
    "    OR (tc.kind = 'ident' AND d.peer = tc.peer AND abs(d.its - tc.ts) <= :tol)"
    "    OR (tc.kind = 'big-message' AND d.bport = tc.bport AND d.bclient = tc.bclient"
    "        AND d.bserver = tc.bserver AND abs(d.bstart - tc.ts) <= 2)"
    "    OR tc.kind = 'none'",
    "CREATE INDEX temp.pairs_tid ON pairs (tid, cid)",
    /* per truth line, in one pass each */
    "CREATE TEMP TABLE a_inj (tid INTEGER PRIMARY KEY, n_inj INTEGER, want_none INTEGER)",
    "INSERT INTO a_inj SELECT tid, count(*), sum(kind = 'none') FROM tcause GROUP BY tid",
    "CREATE TEMP TABLE a_found (tid INTEGER PRIMARY KEY, n_found INTEGER)",
    "INSERT INTO a_found SELECT tid, count(DISTINCT n) FROM pairs GROUP BY tid",
    "CREATE TEMP TABLE a_db (tid INTEGER PRIMARY KEY, top_share REAL, inj_share REAL,"
    " extra_all INTEGER, extra_major INTEGER, n_foreign INTEGER)",
    "INSERT INTO a_db SELECT d.tid, max(CASE WHEN d.top THEN d.share END),"
    " max(CASE WHEN d.top AND p.cid IS NOT NULL THEN d.share END),"
    " sum(d.top AND p.cid IS NULL), sum(d.top AND p.cid IS NULL AND d.share >= :minor),"
    " sum(d.other_host) FROM dbc d"
    " LEFT JOIN (SELECT DISTINCT tid, cid FROM pairs) p ON p.tid = d.tid AND p.cid = d.cid"
    " GROUP BY d.tid",
    "CREATE TEMP TABLE a_up (tid INTEGER PRIMARY KEY, up_want INTEGER, up_found INTEGER)",
    "INSERT INTO a_up SELECT u.tid, count(*), sum(EXISTS (SELECT 1 FROM dbc d"
    "  WHERE d.tid = u.tid AND d.parent IS NOT NULL AND d.relation = 'upstream'"
    "  AND d.qtype = u.qtype AND d.qname = u.qname AND d.resolver = u.server"
    "  AND abs(d.qts - u.ts) <= :tol)) FROM tup u GROUP BY u.tid",
    "CREATE TEMP TABLE v AS SELECT t.id AS tid, t.kind AS kind,"
    " t.txn IS NOT NULL AS found, x.latency_ms AS db_ms,"
    " coalesce(x.latency_ms >= :slow, 0) AS slow,"
    " coalesce(ai.n_inj, 0) AS n_inj, coalesce(ai.want_none, 0) AS want_none,"
    " coalesce(af.n_found, 0) AS n_found, ad.top_share, ad.inj_share,"
    " coalesce(ad.extra_all, 0) AS extra_all, coalesce(ad.extra_major, 0) AS extra_major,"
    " coalesce(ad.n_foreign, 0) AS n_foreign,"
    " coalesce(au.up_want, 0) AS up_want, coalesce(au.up_found, 0) AS up_found,"
    " s.outbound AS db_outbound, t.outbound AS outbound, sh.host AS db_host,"
    " t.host AS host"
    " FROM truth t LEFT JOIN main.transactions x ON x.id = t.txn"
    " LEFT JOIN main.sessions s ON s.id = t.sid LEFT JOIN shost sh ON sh.id = t.sid"
    " LEFT JOIN a_inj ai ON ai.tid = t.id"
    " LEFT JOIN a_found af ON af.tid = t.id LEFT JOIN a_db ad ON ad.tid = t.id"
    " LEFT JOIN a_up au ON au.tid = t.id",
    NULL,
};

static int
run_match(struct ck *c)
{
	/* the monitored host of a session (schema version 3 on): NULL before */
	c->has_host = scalar(c, "SELECT count(*) FROM pragma_table_info('sessions', 'main')"
	                        " WHERE name = 'host'") > 0;
	if (exec(c, c->has_host ? "CREATE TEMP VIEW shost AS SELECT id, host FROM main.sessions"
	                        : "CREATE TEMP VIEW shost AS SELECT id, NULL AS host"
	                          " FROM main.sessions") != 0)
		return -1;
	/* the big message a cause names (schema version 8 on) */
	if (exec(c, scalar(c, "SELECT count(*) FROM pragma_table_info('causes', 'main')"
	                      " WHERE name = 'session_ref'") > 0
	                ? "CREATE TEMP VIEW cref AS SELECT id, session_ref FROM main.causes"
	                : "CREATE TEMP VIEW cref AS SELECT id, NULL AS session_ref"
	                  " FROM main.causes") != 0)
		return -1;
	for (int i = 0; SQL_MATCH[i]; i++) {
		sqlite3_stmt *st = prep(c, SQL_MATCH[i]);
		int idx;
		if (!st)
			return -1;
		if ((idx = sqlite3_bind_parameter_index(st, ":slow")) > 0)
			sqlite3_bind_double(st, idx, c->o.slow_ms);
		if ((idx = sqlite3_bind_parameter_index(st, ":minor")) > 0)
			sqlite3_bind_double(st, idx, c->o.minor);
		if ((idx = sqlite3_bind_parameter_index(st, ":tol")) > 0)
			sqlite3_bind_double(st, idx, 0.002);
		if ((idx = sqlite3_bind_parameter_index(st, ":unrel")) > 0)
			sqlite3_bind_int(st, idx, c->o.unrelated_ok);
		if (sqlite3_step(st) != SQLITE_DONE) {
			fprintf(stderr, "mxlag-truthcheck: %s\n  in: %.200s\n",
			        sqlite3_errmsg(c->h), SQL_MATCH[i]);
			sqlite3_finalize(st);
			return -1;
		}
		sqlite3_finalize(st);
	}
	/* the verdict: right, and why not */
	char sql[1024];
	snprintf(sql, sizeof(sql),
	         "ALTER TABLE v ADD COLUMN right INTEGER;"
	         "UPDATE v SET right = found AND slow AND CASE WHEN want_none > 0"
	         " THEN %s"
	         " ELSE n_found = n_inj AND inj_share IS NOT NULL AND inj_share >= top_share - 1e-9"
	         " AND extra_major = 0 END;"
	         "CREATE INDEX temp.v_kind ON v (kind, right, tid);",
	         c->o.lenient_none   ? "extra_major = 0"
	         : c->o.unrelated_ok ? "extra_all = 0"
	                             : "n_found = 1 AND extra_all = 0");
	return exec(c, sql);
}

/* ---- report ------------------------------------------------------------------ */

struct row {
	char kind[40];
	long truth, found, slow, right, foreign, not_found, not_slow, missing, not_largest, extra;
	long up_rows, up_linked, up_some, dir_wrong, host_wrong;
};

/* per kind: counts, then why the wrong ones are wrong (one reply may have several reasons) */
#define KIND_COLUMNS                                                                               \
	" count(*), sum(found), sum(slow), sum(right), sum(n_foreign > 0), sum(NOT found),"        \
	" sum(found AND NOT slow),"                                                                \
	" sum(found AND slow AND NOT right AND CASE WHEN want_none > 0"                            \
	"     THEN n_found = 0 AND extra_all = 0 ELSE n_found < n_inj END),"                       \
	" sum(found AND slow AND NOT right AND want_none = 0"                                      \
	"     AND (inj_share IS NULL OR inj_share < top_share - 1e-9)),"                           \
	" sum(found AND slow AND NOT right AND CASE WHEN want_none > 0"                            \
	"     THEN extra_all > 0 ELSE extra_major > 0 END),"                                       \
	" sum(up_want > 0), sum(up_want > 0 AND up_found = up_want), sum(up_found > 0),"           \
	" sum(found AND db_outbound IS NOT outbound),"                                             \
	" sum(found AND (db_host IS NULL OR instr(',' || host || ',', ',' || db_host || ',') = "   \
	"0))"

static const char SQL_KINDS[] = "SELECT kind," KIND_COLUMNS " FROM v GROUP BY kind"
                                " UNION ALL SELECT 'all'," KIND_COLUMNS " FROM v";

static double
percent(long a, long b)
{
	return b ? 100.0 * (double)a / (double)b : NAN;
}

static void
print_cause_line(sqlite3_stmt *d)
{
	const char *kind = text(d, 0);
	int child = sqlite3_column_type(d, 1) != SQLITE_NULL;
	char what[400];

	if (strcmp(kind, "dns") == 0)
		snprintf(what, sizeof(what), "dns:%s:%s:%s:%s @%.6f", text(d, 2), text(d, 3),
		         text(d, 4), text(d, 5), sqlite3_column_double(d, 6));
	else if (strcmp(kind, "ident") == 0)
		snprintf(what, sizeof(what), "ident:%s @%.6f", text(d, 7),
		         sqlite3_column_double(d, 8));
	else if (strcmp(kind, "big-message") == 0)
		snprintf(what, sizeof(what), "big:%d:%s,%s @%.6f", sqlite3_column_int(d, 13),
		         text(d, 14), text(d, 15), sqlite3_column_double(d, 16));
	else
		snprintf(what, sizeof(what), "%s", kind);
	printf("    %s%s share %.3f", child ? "  upstream " : "", what,
	       sqlite3_column_double(d, 9));
	if (sqlite3_column_type(d, 10) != SQLITE_NULL)
		printf(" from %s", text(d, 10));
	if (sqlite3_column_int(d, 11))
		printf(" [injected]");
	if (sqlite3_column_int(d, 12))
		printf(" [FOREIGN: %s]", strcmp(kind, "big-message") == 0
		                             ? "another host's message"
		                             : "not sent by the session's host");
	printf("\n");
}

/* The first few wrong replies of kind, with what was expected and what mxlag said. */
static void
list_wrong(struct ck *c, const char *kind, int max)
{
	sqlite3_stmt *st = prep(
	    c, "SELECT t.id, t.client, t.client_port, t.server, t.server_port, t.session_start,"
	       " t.command, t.request_ts, t.latency_ms, t.host, v.found, v.db_ms, v.slow,"
	       " t.sid, t.txn, v.n_found, v.n_inj, v.inj_share, v.top_share, v.extra_all,"
	       " v.extra_major, v.n_foreign, v.want_none,"
	       " (SELECT diagnosis FROM main.transactions WHERE id = t.txn)"
	       " FROM v JOIN truth t ON t.id = v.tid WHERE v.kind = ?1 AND NOT v.right"
	       " ORDER BY v.tid LIMIT ?2");
	sqlite3_stmt *tc = prep(c, "SELECT kind, relation, qtype, qname, resolver, peer, ts, bport,"
	                           " bclient, bserver FROM tcause WHERE tid = ?1 ORDER BY n");
	sqlite3_stmt *d = prep(
	    c, "SELECT d.kind, d.parent, d.relation, d.qtype, d.qname, d.resolver, d.qts, d.peer,"
	       " d.its, d.share, d.sender,"
	       " d.cid IN (SELECT cid FROM pairs p WHERE p.tid = d.tid), d.other_host,"
	       " d.bport, d.bclient, d.bserver, d.bstart"
	       " FROM dbc d WHERE d.tid = ?1"
	       " ORDER BY coalesce((SELECT p.share FROM dbc p WHERE p.tid = d.tid"
	       " AND p.cid = d.parent), d.share) DESC, coalesce(d.parent, d.cid),"
	       " d.parent IS NOT NULL, d.share DESC");

	if (!st || !tc || !d)
		goto out;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, max);
	while (sqlite3_step(st) == SQLITE_ROW) {
		long tid = sqlite3_column_int64(st, 0);
		printf("[%s] %s:%d -> %s:%d (host %s), session %s, %s at %s: truth %.1f ms; ", kind,
		       text(st, 1), sqlite3_column_int(st, 2), text(st, 3),
		       sqlite3_column_int(st, 4), text(st, 9), text(st, 5), text(st, 6),
		       text(st, 7), sqlite3_column_double(st, 8));
		if (!sqlite3_column_int(st, 10)) {
			printf("mxlag: %s\n", sqlite3_column_type(st, 13) == SQLITE_NULL
			                          ? "no such session"
			                          : "no such reply in the session");
			continue;
		}
		printf("mxlag: session %lld, transaction %lld, %.1f ms\n",
		       sqlite3_column_int64(st, 13), sqlite3_column_int64(st, 14),
		       sqlite3_column_double(st, 11));
		printf("  expected:\n");
		sqlite3_reset(tc);
		sqlite3_bind_int64(tc, 1, tid);
		while (sqlite3_step(tc) == SQLITE_ROW) {
			const char *k = text(tc, 0);
			if (strcmp(k, "dns") == 0)
				printf("    dns:%s:%s:%s:%s @%.6f\n", text(tc, 1), text(tc, 2),
				       text(tc, 3), text(tc, 4), sqlite3_column_double(tc, 6));
			else if (strcmp(k, "ident") == 0)
				printf("    ident:%s @%.6f\n", text(tc, 5),
				       sqlite3_column_double(tc, 6));
			else if (strcmp(k, "big-message") == 0)
				printf("    big:%d:%s,%s @%.6f\n", sqlite3_column_int(tc, 7),
				       text(tc, 8), text(tc, 9), sqlite3_column_double(tc, 6));
			else
				printf("    none\n");
		}
		printf("  mxlag said:\n");
		sqlite3_reset(d);
		sqlite3_bind_int64(d, 1, tid);
		int lines = 0;
		while (sqlite3_step(d) == SQLITE_ROW) {
			if (lines++ < MAX_CAUSE_LINES)
				print_cause_line(d);
		}
		if (lines > MAX_CAUSE_LINES)
			printf("    ... and %d more causes with smaller shares\n",
			       lines - MAX_CAUSE_LINES);
		if (!lines)
			printf("    (no cause)\n");
		if (sqlite3_column_type(st, 23) != SQLITE_NULL)
			printf("    diagnosis: %s\n", text(st, 23));
		printf("  wrong:");
		if (!sqlite3_column_int(st, 12))
			printf(" not-slow");
		else if (sqlite3_column_int(st, 22)) {
			if (sqlite3_column_int(st, 15) == 0)
				printf(" no-none-cause");
			if (sqlite3_column_int(st, 19) > 0)
				printf(" %d-other-causes(%d>=minor)", sqlite3_column_int(st, 19),
				       sqlite3_column_int(st, 20));
		} else {
			if (sqlite3_column_int(st, 15) < sqlite3_column_int(st, 16))
				printf(" missing(%d-of-%d-found)", sqlite3_column_int(st, 15),
				       sqlite3_column_int(st, 16));
			if (sqlite3_column_type(st, 17) == SQLITE_NULL ||
			    sqlite3_column_double(st, 17) < sqlite3_column_double(st, 18) - 1e-9)
				printf(" not-largest");
			if (sqlite3_column_int(st, 20) > 0)
				printf(" extra(%d)", sqlite3_column_int(st, 20));
		}
		if (sqlite3_column_int(st, 21) > 0)
			printf(" foreign(%d)", sqlite3_column_int(st, 21));
		printf("\n");
	}
out:
	sqlite3_finalize(st);
	sqlite3_finalize(tc);
	sqlite3_finalize(d);
}

/* A key of the totals file, or -1. */
static double
totals_value(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[512];
	size_t kl = strlen(key);
	double v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == '\t')
			v = strtod(line + kl + 1, NULL);
	fclose(f);
	return v;
}

static int
report(struct ck *c)
{
	sqlite3_stmt *st = prep(c, SQL_KINDS);
	struct row all;
	char kinds[64][40];
	int nk = 0;
	long false_slow;

	memset(&all, 0, sizeof(all));
	if (!st)
		return -1;
	printf("mxlag-truthcheck: %s against %s: slow >= %.0f ms, other causes allowed below %.0f "
	       "%% share%s%s\n",
	       c->o.db, c->o.truth, c->o.slow_ms, c->o.minor * 100,
	       c->o.lenient_none ? ", none: causes below that share allowed" : "",
	       c->o.unrelated_ok ? ", unrelated causes ignored" : "");
	printf("%-24s %7s %7s %7s %7s %6s %7s | %9s %8s %7s %8s %6s %5s %5s\n", "kind", "truth",
	       "found", "slow", "right", "%right", "foreign", "not-found", "not-slow", "missing",
	       "not-top", "extra", "dir", "host");
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct row r;
		memset(&r, 0, sizeof(r));
		snprintf(r.kind, sizeof(r.kind), "%s", text(st, 0));
		long *f[] = {&r.truth,     &r.found,     &r.slow,    &r.right,       &r.foreign,
		             &r.not_found, &r.not_slow,  &r.missing, &r.not_largest, &r.extra,
		             &r.up_rows,   &r.up_linked, &r.up_some, &r.dir_wrong,   &r.host_wrong};
		for (int i = 0; i < 15; i++)
			*f[i] = sqlite3_column_int64(st, i + 1);
		if (strcmp(r.kind, "all") == 0)
			all = r;
		else if (nk < 64)
			snprintf(kinds[nk++], sizeof(kinds[0]), "%s", r.kind);
		printf("%-24s %7ld %7ld %7ld %7ld %6.2f %7ld | %9ld %8ld %7ld %8ld %6ld %5ld ",
		       r.kind, r.truth, r.found, r.slow, r.right, percent(r.right, r.truth),
		       r.foreign, r.not_found, r.not_slow, r.missing, r.not_largest, r.extra,
		       r.dir_wrong);
		if (c->has_host)
			printf("%5ld\n", r.host_wrong);
		else
			printf("%5s\n", "-");
	}
	sqlite3_finalize(st);
	{
		char q[256];
		snprintf(q, sizeof(q),
		         "SELECT count(*) FROM main.transactions x WHERE x.latency_ms >= %f"
		         " AND x.id NOT IN (SELECT txn FROM truth WHERE txn IS NOT NULL)",
		         c->o.slow_ms);
		false_slow = (long)scalar(c, q);
	}
	printf("false slow replies (slow in the database, not in the truth): %ld\n", false_slow);
	if (all.up_rows)
		printf("upstream: %ld of %ld replies with the resolver's queries on the wire have "
		       "every hop linked under their cause, %ld at least one\n",
		       all.up_linked, all.up_rows, all.up_some);
	printf("direction: %ld replies whose session mxlag stored with the wrong outbound flag "
	       "(dir)\n",
	       all.dir_wrong);
	if (c->has_host)
		printf("host: %ld replies whose session mxlag gave to another monitored host or to "
		       "none "
		       "(sessions.host; host)\n",
		       all.host_wrong);
	{
		const char *tp = c->o.totals;
		char def[1024];
		if (!tp) {
			snprintf(def, sizeof(def), "%s.totals", c->o.truth);
			tp = def;
		}
		double lookups = totals_value(tp, "lookups"),
		       ups = totals_value(tp, "upstream_lookups");
		double sess = totals_value(tp, "sessions");
		if (lookups >= 0) {
			printf("dns queries: %.0f in the truth (%.0f of the hosts, %.0f upstream), "
			       "%.0f "
			       "in the database\n",
			       lookups + (ups > 0 ? ups : 0), lookups, ups > 0 ? ups : 0,
			       scalar(c, "SELECT count(*) FROM main.dns_queries"));
			printf("sessions: %.0f in the truth, %.0f in the database\n", sess,
			       scalar(c, "SELECT count(*) FROM main.sessions"));
		}
	}
	if (c->o.show > 0 && all.truth > all.right) {
		printf("\nfirst wrong replies per kind:\n");
		for (int i = 0; i < nk; i++)
			list_wrong(c, kinds[i], c->o.show);
	}
	if (c->o.show > 0 && false_slow > 0) {
		char q[768];
		snprintf(q, sizeof(q),
		         "SELECT s.client, s.client_port, s.server, s.server_port, x.command,"
		         " x.request_ts, x.latency_ms, x.diagnosis FROM main.transactions x"
		         " JOIN main.sessions s ON s.id = x.session_id WHERE x.latency_ms >= %f"
		         " AND x.id NOT IN (SELECT txn FROM truth WHERE txn IS NOT NULL)"
		         " ORDER BY x.request_ts LIMIT %d",
		         c->o.slow_ms, c->o.show);
		sqlite3_stmt *fs = prep(c, q);
		printf("\nfirst false slow replies:\n");
		while (fs && sqlite3_step(fs) == SQLITE_ROW)
			printf("  %s:%d -> %s:%d %s at %.6f: %.1f ms (%s)\n", text(fs, 0),
			       sqlite3_column_int(fs, 1), text(fs, 2), sqlite3_column_int(fs, 3),
			       text(fs, 4), sqlite3_column_double(fs, 5),
			       sqlite3_column_double(fs, 6), text(fs, 7));
		sqlite3_finalize(fs);
	}
	/* thresholds */
	if (!isnan(c->o.min_right)) {
		double p = percent(all.right, all.truth);
		if (all.truth == 0 || p < c->o.min_right) {
			printf("FAIL: %.2f %% of %ld slow replies exactly right, want >= %.2f %%\n",
			       p, all.truth, c->o.min_right);
			c->failed = 1;
		}
	}
	if (c->o.max_foreign >= 0 && all.foreign > c->o.max_foreign) {
		printf("FAIL: %ld replies with another host's query, probe or big message as a "
		       "cause, want <= %ld\n",
		       all.foreign, c->o.max_foreign);
		c->failed = 1;
	}
	if (c->o.max_false_slow >= 0 && false_slow > c->o.max_false_slow) {
		printf("FAIL: %ld false slow replies, want <= %ld\n", false_slow,
		       c->o.max_false_slow);
		c->failed = 1;
	}
	if (!c->failed)
		printf("ok\n");
	return 0;
}

/* ---- main -------------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: mxlag-truthcheck --db X.db --truth F.tsv [options]\n"
	        "  --totals FILE        the generator's totals (default F.tsv.totals, if there)\n"
	        "  --min-right PCT      fail below this percentage of exactly right slow replies\n"
	        "  --max-foreign N      fail when more replies have another host's query, probe\n"
	        "                       or big message as a cause\n"
	        "  --max-false-slow N   fail when more replies are slow only in the database\n"
	        "  --slow MS            slow threshold (default 1000)\n"
	        "  --minor PCT          share under which other causes are tolerated (default 5)\n"
	        "  --lenient-none       a `none` truth is also right with only such minor causes\n"
	        "  --unrelated-ok       top-level causes of relation `unrelated` are ignored (not\n"
	        "                       for the foreign count)\n"
	        "  --show N             wrong replies listed per kind (default 3, 0: none)\n");
}

static int
num_arg(const char *s, double *v)
{
	char *end;
	*v = strtod(s, &end);
	return *s && !*end ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"truth", required_argument, NULL, 't'},
	    {"totals", required_argument, NULL, 'T'},
	    {"min-right", required_argument, NULL, 'r'},
	    {"max-foreign", required_argument, NULL, 'f'},
	    {"max-false-slow", required_argument, NULL, 'F'},
	    {"slow", required_argument, NULL, 's'},
	    {"minor", required_argument, NULL, 'm'},
	    {"lenient-none", no_argument, NULL, 'L'},
	    {"unrelated-ok", no_argument, NULL, 'U'},
	    {"show", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct ck c;
	int ch;
	double v;

	memset(&c, 0, sizeof(c));
	c.o.slow_ms = 1000;
	c.o.minor = 0.05;
	c.o.min_right = NAN;
	c.o.max_foreign = -1;
	c.o.max_false_slow = -1;
	c.o.show = 3;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			c.o.db = optarg;
			break;
		case 't':
			c.o.truth = optarg;
			break;
		case 'T':
			c.o.totals = optarg;
			break;
		case 'L':
			c.o.lenient_none = 1;
			break;
		case 'U':
			c.o.unrelated_ok = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'r':
		case 'f':
		case 'F':
		case 's':
		case 'm':
		case 'n':
			if (num_arg(optarg, &v) != 0 || v < 0) {
				fprintf(stderr, "mxlag-truthcheck: bad number %s\n", optarg);
				return 2;
			}
			if (ch == 'r')
				c.o.min_right = v;
			else if (ch == 'f')
				c.o.max_foreign = (long)v;
			else if (ch == 'F')
				c.o.max_false_slow = (long)v;
			else if (ch == 's')
				c.o.slow_ms = v;
			else if (ch == 'm')
				c.o.minor = v / 100;
			else
				c.o.show = (int)v;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!c.o.db || !c.o.truth || optind < argc) {
		usage(stderr);
		return 2;
	}
	if (sqlite3_open_v2(c.o.db, &c.h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "mxlag-truthcheck: %s: %s\n", c.o.db, sqlite3_errmsg(c.h));
		sqlite3_close(c.h);
		return 2;
	}
	if (load_truth(&c) != 0 || run_match(&c) != 0 || report(&c) != 0) {
		sqlite3_close(c.h);
		return 2;
	}
	sqlite3_close(c.h);
	return c.failed ? 1 : 0;
}
