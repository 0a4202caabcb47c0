/*
 * report.c - runs the embedded report queries (schema/reports/NAME.sql) and
 * renders their rows as text, CSV (RFC 4180) or JSON.
 */
#include "report.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmterr.h"
#include "hist.h"
#include "html.h"
#include "lifecycle.h"
#include "sqlfn.h"
#include "store.h"

#define TEXT_WIDTH 80

struct report_def;

struct rctx {
	sqlite3 *db;
	const struct report_opts *o;
	const struct report_def *def;
	double slow_ms;
	int compact_slow; /* sqlfn_compact_slow() for slow_ms, read once: -1 = not yet */
	bool outbound; /* the row being printed is one of the host's own deliveries */
	bool multi_host; /* sessions of more than one monitored host: say which */
	FILE *out;
	char *err;
	size_t errlen;
	sqlite3_stmt *tail; /* report_def.after, bound; NULL = none */
	const struct fleetx *fx; /* several databases: this one's label and state; NULL = one */
};

/* the running totals of `summary` over several databases */
#define TOTALS_MAX 64
struct totals {
	int ncol, ndb;
	char name[TOTALS_MAX][40];
	bool any[TOTALS_MAX];
	sqlite3_int64 sum[TOTALS_MAX];
	char text[TOTALS_MAX][32]; /* first_packet_utc: the least, last_packet_utc: the greatest */
	struct hist h;             /* the latency_hist bins of the window, all databases */
	bool seen;                 /* h.min_ms / h.max_ms set */
};

/* report_run_fleet()'s state shared by the databases' runs */
struct fleetx {
	const char *label;  /* this database's label */
	bool *csv_head;     /* CSV: the header is out */
	long *json_rows;    /* JSON: the objects written so far */
	struct totals *acc; /* summary: add this database's row */
};

typedef int (*text_fn)(struct rctx *c, sqlite3_stmt *st);

struct report_def {
	const char *name;
	const char *sql;  /* embedded file */
	const char *help; /* one line */
	bool needs_arg;
	bool single;  /* one row: JSON is that object, text is "name value" lines */
	text_fn text; /* NULL: generic aligned table */
	/* generic table: "column:HEADER,..." shown in text (NULL = all, names as headers);
	   a HEADER ending in '?' is shown only when several hosts are in the database */
	const char *text_cols;
	const char *title; /* first text line (NULL = none) */
	/* JSON: {"<wrap_key>": first row's <wrap_key>_json, "events": [rows]} (NULL = array) */
	const char *wrap_key;
	const char *csv_hide; /* ",col,col,": columns made for the text table only */
	/* a second part shown after the rows when it has rows of its own (text:
	 * its table; CSV: its table after an empty line; JSON: the array's last
	 * element {"<name>": [its rows]}) */
	const struct report_def *after;
};

static int text_slow(struct rctx *c, sqlite3_stmt *st);
static int text_summary(struct rctx *c, sqlite3_stmt *st);
static int text_session(struct rctx *c, sqlite3_stmt *st);
static int text_incidents(struct rctx *c, sqlite3_stmt *st);
static int put_incidents(struct rctx *c, sqlite3_stmt *st, long max, long *total);
static int text_ptr(struct rctx *c, sqlite3_stmt *st);
static void bind_params(struct rctx *c, sqlite3_stmt *st);
static sqlite3_stmt *incidents_stmt(struct rctx *c, struct report_opts *o, long limit);

/* how many incidents the summary leads with */
#define SUMMARY_INCIDENTS 5

/* the delivery congestion after `report outbound` (issue 17) */
static const struct report_def congestion_def = {
    .name = "congestion",
    .sql = "reports/congestion.sql",
    .text_cols = "host:HOST?,minute_utc:MINUTE,waiting_peak:WAITING,started:STARTED,"
                 "bounces:BOUNCES,ordinary:ORDINARY",
    .title = "delivery congestion: the host's outbound connections waiting for an answer at "
             "once (peak per minute), with the deliveries that started, times UTC"};

static const struct report_def reports[] = {
    {.name = "summary",
     .sql = "reports/summary.sql",
     .help = "top incidents, totals, latency per command, causes",
     .single = true,
     .text = text_summary},
    {.name = "incidents",
     .sql = "reports/incidents.sql",
     .help = "slow replies grouped by cause and zone, worst first",
     .text = text_incidents},
    {.name = "slow",
     .sql = "reports/slow.sql",
     .help = "slow replies with their causes, newest first",
     .text = text_slow},
    {.name = "ptr",
     .sql = "reports/ptr.sql",
     .help = "which PTR lookups delayed which sessions",
     .text = text_ptr,
     .text_cols = "query_utc:WHEN,session:SESSION,client:CLIENT,server:SERVER?,"
                  "command:COMMAND,wait_ms:WAIT ms,outcome:OUTCOME,query_ms:QUERY ms"},
    {.name = "dns",
     .sql = "reports/dns.sql",
     .help = "per DNS server: queries, outcomes, latency, slowest names",
     .text_cols = "resolver:RESOLVER,queries:QUERIES,unanswered:UNANSW,servfail:SERVFAIL,"
                  "nxdomain:NXDOMAIN,p50_ms:P50 ms,p95_ms:P95 ms,max_ms:MAX ms",
     .title = "DNS servers asked, worst first (latency of the answered queries)"},
    {.name = "ident",
     .sql = "reports/ident.sql",
     .help = "ident probes by peer and outcome",
     .text_cols = "host:HOST?,peer:PEER,outcome:OUTCOME,probes:PROBES,min_ms:MIN ms,"
                  "avg_ms:AVG ms,max_ms:MAX ms,first_utc:FIRST",
     .title = "ident probes by peer and outcome, times UTC"},
    {.name = "sessions",
     .sql = "reports/sessions.sql",
     .help = "one row per session, oldest first",
     .text_cols = "session:ID,protocol:PROTO,client:CLIENT,server:SERVER?,start_short:START,"
                  "duration_ms:DUR ms,outcome:OUTCOME,slowest:SLOWEST ms",
     .title = "sessions, oldest first, times UTC",
     .csv_hide = ",start_short,slowest,"},
    {.name = "session",
     .sql = "reports/session.sql",
     .help = "one session's timeline (argument: the session id)",
     .needs_arg = true,
     .text = text_session,
     .wrap_key = "session"},
    {.name = "outbound",
     .sql = "reports/outbound.sql",
     .help = "the host's deliveries: failures, slow replies, sizes",
     .text_cols = "host:HOST?,remote:REMOTE,attempts:TRIES,ok:OK,unanswered:UNANSW,"
                  "refused:REFUSED,failed_wait_ms:FAILED ms,slow_replies:SLOW,messages:MSGS,"
                  "max_message_bytes:MAX BYTES",
     .title = "outbound deliveries per remote address, worst first",
     .after = &congestion_def},
    {.name = "big",
     .sql = "reports/big.sql",
     .help = "big messages (--big-message, 10 MB): size, direction, ends, time",
     .text_cols = "start_short:WHEN,session:SESSION,host:HOST?,direction:DIR,peer:PEER,"
                  "mb:MB,wire_ms:WIRE ms,end_reply_ms:END ms,outcome:OUTCOME,"
                  "slow_replies_named:SLOWED",
     .title = "big messages, newest first, times UTC",
     .csv_hide = ",start_short,"},
};
#define N_REPORTS (sizeof(reports) / sizeof(reports[0]))

/* the zone text times are in: "UTC" or o->tz */
static const char *
zone_name(const struct rctx *c)
{
	return c->o->format == REPORT_TEXT && c->o->tz ? c->o->tz : "UTC";
}

/* A title line; one ending in "times UTC" names the report's zone instead. */
static void
put_title(struct rctx *c, const char *title)
{
	static const char utc[] = "times UTC";
	size_t n = strlen(title), k = sizeof(utc) - 1;
	if (n >= k && strcmp(title + n - k, utc) == 0)
		fprintf(c->out, "%.*stimes %s\n", (int)(n - k), title, zone_name(c));
	else
		fprintf(c->out, "%s\n", title);
}

void
report_opts_init(struct report_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->format = REPORT_TEXT;
	o->since = NAN;
	o->until = NAN;
	o->slow_ms = 1000.0;
	o->limit = 0;
}

int
report_format_parse(const char *s, enum report_format *out)
{
	static const char *const names[] = {"text", "csv", "json", "html"};
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum report_format)i;
			return 0;
		}
	return -1;
}

static const char *
format_name(enum report_format f)
{
	static const char *const names[] = {"text", "csv", "json", "html"};
	return (unsigned)f < 4 ? names[f] : "?";
}

const char *
report_names(void)
{
	static char buf[256];
	if (!buf[0]) {
		size_t n = 0;
		for (size_t i = 0; i < N_REPORTS; i++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? ", " : "",
			                      reports[i].name);
	}
	return buf;
}

const char *
report_info(size_t i, const char **help)
{
	if (i >= N_REPORTS)
		return NULL;
	if (help)
		*help = reports[i].help;
	return reports[i].name;
}

int
report_needs_arg(const char *name)
{
	for (size_t i = 0; name && i < N_REPORTS; i++)
		if (strcmp(reports[i].name, name) == 0)
			return reports[i].needs_arg ? 1 : 0;
	return -1;
}

int
report_parse_time_at(const char *s, double now, double *out)
{
	char *end;
	int y, mo, d, h = 0, mi = 0, n = 0;
	double sec = 0, off = 0;

	if (!s || !*s || isspace((unsigned char)*s))
		return -1;
	double v = strtod(s, &end);
	if (end != s && *end == '\0' && isfinite(v) && !strchr(s, '-')) {
		*out = v;
		return 0;
	}
	/* relative: NUMBER UNIT, now minus that */
	if (end != s && isfinite(v) && v >= 0 && end[0] && !end[1] && !strchr(s, '-')) {
		static const char units[] = "smhdw";
		static const double mult[] = {1, 60, 3600, 86400, 7 * 86400};
		const char *u = strchr(units, *end);
		if (!u)
			return -1;
		*out = now - v * mult[u - units];
		return 0;
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		return -1;
	const char *p = s + n;
	if (*p == ' ' || *p == 'T') {
		int m = 0;
		if (!isdigit((unsigned char)p[1]) || sscanf(p + 1, "%2d:%2d%n", &h, &mi, &m) != 2 ||
		    m != 5)
			return -1;
		p += 1 + m;
		if (*p == ':') {
			if (!isdigit((unsigned char)p[1]))
				return -1;
			sec = strtod(p + 1, &end);
			p = end;
		}
		if (*p == 'Z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int oh, om = 0, k = 0;
			if (sscanf(p + 1, "%2d%n", &oh, &k) != 1 || k != 2)
				return -1;
			const char *q = p + 3;
			if (*q == ':')
				q++;
			if (*q) {
				if (sscanf(q, "%2d%n", &om, &k) != 1 || k != 2)
					return -1;
				q += 2;
			}
			if (oh > 23 || om > 59)
				return -1;
			off = (*p == '-' ? -1 : 1) * (oh * 3600.0 + om * 60.0);
			p = q;
		}
	} else if (*p == 'Z') {
		p++;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec < 0 ||
	    sec >= 61)
		return -1;
	struct tm tm = {
	    .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
	*out = (double)timegm(&tm) + sec - off;
	return 0;
}

int
report_parse_time(const char *s, double *out)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	return report_parse_time_at(s, (double)now.tv_sec + now.tv_nsec / 1e9, out);
}

int
report_open(sqlite3 **out, const char *path, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	*out = NULL;
	/* read-only: no migration, no write (lifecycle.h) */
	if (lifecycle_open_readonly(&db, path, err, errlen) != 0)
		return -1;
	if (sqlfn_register(db) != SQLITE_OK) {
		fmt_err(err, errlen, "%s: cannot register the report functions: %s", path,
		        sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

/* ---- helpers ----------------------------------------------------------------- */

static int
col_index(sqlite3_stmt *st, const char *name)
{
	int n = sqlite3_column_count(st);
	for (int i = 0; i < n; i++)
		if (strcmp(sqlite3_column_name(st, i), name) == 0)
			return i;
	return -1;
}

static const char *
col_str(sqlite3_stmt *st, const char *name)
{
	int i = col_index(st, name);
	const unsigned char *v = i < 0 ? NULL : sqlite3_column_text(st, i);
	return v ? (const char *)v : "";
}

static bool
col_null(sqlite3_stmt *st, const char *name)
{
	int i = col_index(st, name);
	return i < 0 || sqlite3_column_type(st, i) == SQLITE_NULL;
}

static double
col_double(sqlite3_stmt *st, const char *name)
{
	int i = col_index(st, name);
	return i < 0 ? 0 : sqlite3_column_double(st, i);
}

/* columns that only JSON output shows */
static bool
json_only(const char *name)
{
	size_t n = strlen(name);
	return strcmp(name, "json") == 0 || (n > 5 && strcmp(name + n - 5, "_json") == 0);
}

/* columns that only text output shows (under their row) */
static bool
text_only(const char *name)
{
	size_t n = strlen(name);
	return n > 5 && strcmp(name + n - 5, "_text") == 0;
}

static bool
not_csv(const struct report_def *def, const char *name)
{
	char key[80];
	snprintf(key, sizeof(key), ",%s,", name);
	return json_only(name) || text_only(name) || (def->csv_hide && strstr(def->csv_hide, key));
}

/*
 * Prints text word-wrapped to TEXT_WIDTH: the first line starts with lead
 * at column indent, later lines at indent + cont.
 */
static void
put_wrapped(FILE *out, int indent, const char *lead, int cont, const char *text)
{
	int col = fprintf(out, "%*s%s", indent, "", lead);
	bool first_word = true;

	while (*text) {
		while (*text == ' ')
			text++;
		size_t w = strcspn(text, " ");
		if (w == 0)
			break;
		if (!first_word && col + 1 + (int)w > TEXT_WIDTH) {
			col = fprintf(out, "\n%*s", indent + cont, "") - 1;
		} else if (!first_word) {
			fputc(' ', out);
			col++;
		}
		fwrite(text, 1, w, out);
		col += (int)w;
		text += w;
		first_word = false;
	}
	fputc('\n', out);
}

/* ---- several databases: labels ------------------------------------------------ */

/* s as a JSON string */
static void
json_str(FILE *out, const char *s)
{
	sqlite3_str *q = sqlite3_str_new(NULL);
	store_json_str(q, s);
	char *t = sqlite3_str_finish(q);
	fputs(t ? t : "\"\"", out);
	sqlite3_free(t);
}

/* a row's JSON object v, with "db": label as its first key when there is a label */
static void
put_json_obj(const struct rctx *c, const char *v)
{
	const char *label = c->fx ? c->fx->label : NULL;
	if (!v)
		v = "null";
	if (!label || v[0] != '{') {
		fputs(v, c->out);
		return;
	}
	const char *rest = v + 1;
	while (isspace((unsigned char)*rest))
		rest++;
	fputs("{\"db\":", c->out);
	json_str(c->out, label);
	if (*rest != '}')
		fputc(',', c->out);
	fputs(rest, c->out);
}

static void totals_add(struct rctx *c, sqlite3_stmt *st);

/* ---- CSV (RFC 4180) ---------------------------------------------------------- */

static void
csv_field(FILE *out, const char *v)
{
	if (strpbrk(v, ",\"\r\n") == NULL) {
		fputs(v, out);
		return;
	}
	fputc('"', out);
	for (; *v; v++) {
		if (*v == '"')
			fputc('"', out);
		fputc(*v, out);
	}
	fputc('"', out);
}

/* one CSV line: the column names (header) or the row's values, after the label if any */
static void
csv_line(struct rctx *c, sqlite3_stmt *st, bool header)
{
	const char *label = c->fx ? c->fx->label : NULL;
	bool first = true;
	if (label) {
		csv_field(c->out, header ? "db" : label);
		first = false;
	}
	for (int i = 0, n = sqlite3_column_count(st); i < n; i++) {
		if (not_csv(c->def, sqlite3_column_name(st, i)))
			continue;
		if (!first)
			fputc(',', c->out);
		const unsigned char *v = header ? (const unsigned char *)sqlite3_column_name(st, i)
		                                : sqlite3_column_text(st, i);
		csv_field(c->out, v ? (const char *)v : "");
		first = false;
	}
	fputs("\r\n", c->out);
}

static int
render_csv(struct rctx *c, sqlite3_stmt *st)
{
	int rc;
	if (!c->fx || !*c->fx->csv_head) {
		csv_line(c, st, true);
		if (c->fx)
			*c->fx->csv_head = true;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		csv_line(c, st, false);
		if (c->fx && c->fx->acc)
			totals_add(c, st);
	}
	return rc;
}

/* ---- JSON --------------------------------------------------------------------- */

static int render_json_tail(struct rctx *c, sqlite3_stmt *tail, int rows);
static int render_table(struct rctx *c, sqlite3_stmt *st);

static int
render_json(struct rctx *c, sqlite3_stmt *st, bool single)
{
	int j = col_index(st, "json");
	int rc, rows = 0;
	char wrapcol[64] = "";

	if (c->fx && c->fx->json_rows && !c->def->wrap_key) { /* one of several databases */
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			fputs((*c->fx->json_rows)++ ? ",\n" : "\n", c->out);
			put_json_obj(c, (const char *)sqlite3_column_text(st, j));
		}
		return rc;
	}
	if (c->def->wrap_key)
		snprintf(wrapcol, sizeof(wrapcol), "%s_json", c->def->wrap_key);
	if (!single && !wrapcol[0])
		fputs("[", c->out);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, j);
		if (wrapcol[0] && rows == 0) {
			if (c->fx) {
				fputs("{\"db\": ", c->out);
				json_str(c->out, c->fx->label);
				fputs(",\n ", c->out);
			}
			fprintf(c->out, "%s\"%s\": %s,\n \"events\": [", c->fx ? "" : "{",
			        c->def->wrap_key,
			        col_null(st, wrapcol) ? "null" : col_str(st, wrapcol));
		}
		if (single) {
			fprintf(c->out, "%s\n", v ? (const char *)v : "{}");
			rows++;
			break;
		}
		fprintf(c->out, "%s\n%s", rows ? "," : "", v ? (const char *)v : "null");
		rows++;
	}
	if (rc == SQLITE_ROW)
		rc = SQLITE_DONE;
	if (single && rows == 0)
		fputs("{}\n", c->out);
	if (rc == SQLITE_DONE && c->tail)
		rows += render_json_tail(c, c->tail, rows);
	if (wrapcol[0] && rows)
		fputs("\n]}\n", c->out);
	else if (!single && !wrapcol[0])
		fputs(rows ? "\n]\n" : "]\n", c->out);
	return rc;
}

/* The second part as the array's last element {"<name>": [rows]}; returns 1 when written. */
static int
render_json_tail(struct rctx *c, sqlite3_stmt *tail, int rows)
{
	int j = col_index(tail, "json"), n = 0;
	while (sqlite3_step(tail) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(tail, j);
		if (n++ == 0)
			fprintf(c->out, "%s\n{\"%s\":[", rows ? "," : "", c->def->after->name);
		fprintf(c->out, "%s\n%s", n > 1 ? "," : "", v ? (const char *)v : "null");
	}
	if (n)
		fputs("\n]}", c->out);
	return n ? 1 : 0;
}

/* Prepares and binds the second part of a report into c->tail; 0 or -1 (c->err set). */
static int
prepare_after(struct rctx *c, const struct report_def *after)
{
	const char *sql = store_sql_file(after->sql);
	if (!sql) {
		fmt_err(c->err, c->errlen, "report %s: %s is not embedded in this binary",
		        c->def->name, after->sql);
		return -1;
	}
	if (sqlite3_prepare_v2(c->db, sql, -1, &c->tail, NULL) != SQLITE_OK) {
		fmt_err(c->err, c->errlen, "report %s: %s", c->def->name, sqlite3_errmsg(c->db));
		sqlite3_finalize(c->tail);
		c->tail = NULL;
		return -1;
	}
	bind_params(c, c->tail);
	return 0;
}

/*
 * The second part of a report (report_def.after) in text or CSV, when it
 * has rows.
 */
static int
render_after(struct rctx *c, sqlite3_stmt *tail)
{
	int rc = sqlite3_step(tail);
	if (rc != SQLITE_ROW)
		return rc;
	sqlite3_reset(tail);
	struct rctx a = *c;
	a.def = c->def->after;
	if (c->o->format == REPORT_CSV) {
		fputs("\r\n", c->out);
		return render_csv(&a, tail);
	}
	fputc('\n', c->out);
	if (a.def->title)
		put_title(&a, a.def->title);
	return render_table(&a, tail);
}

/*
 * summary as JSON: the summary object with "incidents", the top incidents
 * (the objects of `report incidents`).
 */
static int
json_summary(struct rctx *c, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? (fputs("{}\n", c->out), SQLITE_DONE) : rc;
	if (c->fx && c->fx->acc)
		totals_add(c, st);
	struct report_opts o;
	sqlite3_stmt *inc = incidents_stmt(c, &o, SUMMARY_INCIDENTS), *j = NULL;
	if (!inc)
		return SQLITE_ERROR;
	/* the incidents' objects, one JSON array */
	sqlite3_str *arr = sqlite3_str_new(c->db);
	sqlite3_str_appendchar(arr, 1, '[');
	for (int n = 0; (rc = sqlite3_step(inc)) == SQLITE_ROW; n++)
		sqlite3_str_appendf(arr, "%s%s", n ? "," : "", col_str(inc, "json"));
	sqlite3_finalize(inc);
	sqlite3_str_appendchar(arr, 1, ']');
	char *all = sqlite3_str_finish(arr);
	if (rc != SQLITE_DONE || !all) {
		sqlite3_free(all);
		return rc != SQLITE_DONE ? rc : SQLITE_NOMEM;
	}
	rc = sqlite3_prepare_v2(c->db, "SELECT json_set(?1, '$.incidents', json(?2))", -1, &j,
	                        NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(j, 1, col_str(st, "json"), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(j, 2, all, -1, SQLITE_STATIC);
		rc = sqlite3_step(j);
		if (rc == SQLITE_ROW) {
			put_json_obj(c, (const char *)sqlite3_column_text(j, 0));
			fputc('\n', c->out);
			rc = SQLITE_DONE;
		}
		sqlite3_finalize(j);
	}
	sqlite3_free(all);
	return rc;
}

/* ---- text: generic ------------------------------------------------------------- */

/* one row of "name  value" lines */
/* a key's printed length: without a "_utc" ending when times are in another zone */
static size_t
kv_name_len(const char *name, bool zone)
{
	size_t n = strlen(name);
	return zone && n > 4 && strcmp(name + n - 4, "_utc") == 0 ? n - 4 : n;
}

static int
render_kv(struct rctx *c, sqlite3_stmt *st)
{
	int n = sqlite3_column_count(st);
	int w = 0;
	int rc = sqlite3_step(st);

	if (rc != SQLITE_ROW)
		return rc;
	/* in another zone than UTC a NAME_utc time is shown as NAME, the zone after it */
	bool zone = c->o->format == REPORT_TEXT && c->o->tz;
	for (int i = 0; i < n; i++)
		if (!json_only(sqlite3_column_name(st, i)) &&
		    (int)kv_name_len(sqlite3_column_name(st, i), zone) > w)
			w = (int)kv_name_len(sqlite3_column_name(st, i), zone);
	for (int i = 0; i < n; i++) {
		const char *name = sqlite3_column_name(st, i);
		const unsigned char *v = sqlite3_column_text(st, i);
		if (json_only(name))
			continue;
		bool t = v && kv_name_len(name, zone) < strlen(name);
		fprintf(c->out, "%-*.*s  %s%s%s\n", w, (int)kv_name_len(name, zone), name,
		        v ? (const char *)v : "-", t ? " " : "", t ? c->o->tz : "");
	}
	return SQLITE_DONE;
}

/*
 * The incidents report (incidents.sql) over c's window and filters, at most
 * limit of them; NULL on error (c->err set).  The caller finalizes it.
 */
static sqlite3_stmt *
incidents_stmt(struct rctx *c, struct report_opts *o, long limit)
{
	sqlite3_stmt *st = NULL;
	const char *sql = store_sql_file("reports/incidents.sql");
	if (!sql || sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
		fmt_err(c->err, c->errlen, "incidents: %s",
		        sql ? sqlite3_errmsg(c->db) : "not embedded in this binary");
		return NULL;
	}
	*o = *c->o;
	o->limit = limit;
	/* the summary is not filtered by client or protocol: nor are its incidents */
	if (c->def && strcmp(c->def->name, "summary") == 0)
		o->client = o->protocol = NULL;
	struct rctx sub = *c;
	sub.o = o;
	bind_params(&sub, st);
	c->compact_slow = sub.compact_slow;
	return st;
}

/* summary: the top incidents, the totals, replies per command and the causes */
static int
text_summary(struct rctx *c, sqlite3_stmt *st)
{
	struct report_opts o;
	sqlite3_stmt *inc = incidents_stmt(c, &o, 0);
	if (!inc)
		return SQLITE_ERROR;
	long all = 0;
	int rc = put_incidents(c, inc, SUMMARY_INCIDENTS, &all);
	sqlite3_finalize(inc);
	if (rc != SQLITE_DONE)
		return rc;
	if (all > SUMMARY_INCIDENTS)
		fprintf(c->out, "\n(%ld more incidents: mxlag report incidents)\n",
		        all - SUMMARY_INCIDENTS);
	fputc('\n', c->out);
	rc = render_kv(c, st);
	if (rc != SQLITE_DONE || sqlite3_data_count(st) == 0)
		return rc;
	if (c->fx && c->fx->acc)
		totals_add(c, st);
	sqlite3_stmt *q;
	const char *cmds = col_str(st, "commands_json");
	if (cmds && sqlite3_prepare_v2(c->db,
				       "SELECT json_extract(value, '$.protocol'), "
				       "json_extract(value, '$.command'), json_extract(value, "
				       "'$.replies'), json_extract(value, '$.p50_ms'), "
				       "json_extract(value, '$.p95_ms'), json_extract(value, "
				       "'$.p99_ms'), json_extract(value, '$.max_ms'), "
				       "json_extract(value, '$.slow') FROM json_each(?1)",
				       -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, cmds, -1, SQLITE_TRANSIENT);
		int n = 0;
		while (sqlite3_step(q) == SQLITE_ROW) {
			if (n++ == 0)
				fprintf(c->out, "\nreplies per command, latency in ms\n"
						"%-5s %-13s %7s %9s %9s %9s %9s %5s\n",
					"PROTO", "COMMAND", "REPLIES", "P50", "P95", "P99", "MAX",
					"SLOW");
			/* 13: an encrypted exchange and its guess, "TLS DATA-END?" */
			fprintf(c->out, "%-5.5s %-13.13s %7d %9.1f %9.1f %9.1f %9.1f %5d\n",
				(const char *)sqlite3_column_text(q, 0),
				(const char *)sqlite3_column_text(q, 1), sqlite3_column_int(q, 2),
				sqlite3_column_double(q, 3), sqlite3_column_double(q, 4),
				sqlite3_column_double(q, 5), sqlite3_column_double(q, 6),
				sqlite3_column_int(q, 7));
		}
		sqlite3_finalize(q);
	}
	const char *hosts = col_str(st, "hosts_json");
	if (c->multi_host && hosts &&
	    sqlite3_prepare_v2(c->db,
			       "SELECT value ->> 'host', value ->> 'sessions', value ->> 'replies',"
			       " value ->> 'p50_ms', value ->> 'p95_ms', value ->> 'max_ms',"
			       " value ->> 'slow', coalesce(value ->> 'top_cause', '-')"
			       " FROM json_each(?1)",
			       -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, hosts, -1, SQLITE_TRANSIENT);
		int n = 0;
		while (sqlite3_step(q) == SQLITE_ROW) {
			if (n++ == 0)
				fprintf(c->out, "\nper host, latency in ms\n"
						"%-15s %8s %8s %8s %8s %9s %5s %s\n",
					"HOST", "SESSIONS", "REPLIES", "P50", "P95", "MAX", "SLOW",
					"MAIN CAUSE");
			fprintf(c->out, "%-15.39s %8d %8d %8.1f %8.1f %9.1f %5d %s\n",
				(const char *)sqlite3_column_text(q, 0), sqlite3_column_int(q, 1),
				sqlite3_column_int(q, 2), sqlite3_column_double(q, 3),
				sqlite3_column_double(q, 4), sqlite3_column_double(q, 5),
				sqlite3_column_int(q, 6), (const char *)sqlite3_column_text(q, 7));
		}
		sqlite3_finalize(q);
	}
	const char *diags = col_str(st, "diagnoses_json");
	if (diags && sqlite3_prepare_v2(c->db,
					"SELECT json_extract(value, '$.label'), json_extract(value, "
					"'$.slow_replies'), json_extract(value, '$.total_wait_s'), "
					"json_extract(value, '$.remedy'), json_extract(value, "
					"'$.covered_s') FROM json_each(?1)",
					-1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, diags, -1, SQLITE_TRANSIENT);
		int n = 0;
		while (sqlite3_step(q) == SQLITE_ROW) {
			char lead[160];
			if (n++ == 0)
				fputs("\ntop causes of slow replies (a reply with several causes "
				      "counts under each)\n",
				      c->out);
			int w = snprintf(lead, sizeof(lead), "%s: %d slow repl%s, %.1f s of waiting",
			                 (const char *)sqlite3_column_text(q, 0),
			                 sqlite3_column_int(q, 1),
			                 sqlite3_column_int(q, 1) == 1 ? "y" : "ies",
			                 sqlite3_column_double(q, 2));
			if (sqlite3_column_type(q, 4) != SQLITE_NULL && w > 0 &&
			    (size_t)w < sizeof(lead))
				snprintf(lead + w, sizeof(lead) - (size_t)w, " (%.1f s covered by it)",
				         sqlite3_column_double(q, 4));
			fprintf(c->out, "  %s\n", lead);
			const char *rem = (const char *)sqlite3_column_text(q, 3);
			if (rem && *rem)
				put_wrapped(c->out, 4, "remedy: ", 4, rem);
		}
		sqlite3_finalize(q);
	}
	return SQLITE_DONE;
}

#define TABLE_CELL_MAX 40
#define TABLE_CELL_MIN 10

/* the text header of column name under def->text_cols ("col:HEADER,..."), or NULL: not shown */
static bool
text_col(const struct rctx *c, const char *name, char *hdr, size_t hdrlen)
{
	const struct report_def *def = c->def;
	if (json_only(name) || text_only(name))
		return false;
	if (!def->text_cols) {
		snprintf(hdr, hdrlen, "%s", name);
		for (char *p = hdr; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		return true;
	}
	size_t n = strlen(name);
	for (const char *p = def->text_cols; *p;) {
		size_t w = strcspn(p, ",");
		if (w > n && strncmp(p, name, n) == 0 && p[n] == ':') {
			int hl = (int)(w - n - 1);
			bool multi_only = hl > 0 && p[n + hl] == '?';
			snprintf(hdr, hdrlen, "%.*s", hl - multi_only, p + n + 1);
			return !multi_only || c->multi_host;
		}
		p += w;
		if (*p == ',')
			p++;
	}
	return false;
}

static void
cut_cell(char *cell, int w)
{
	if ((int)strlen(cell) > w && w > 3)
		strcpy(cell + w - 3, "...");
}

/*
 * Aligned columns (those of def->text_cols, or all), fitted to TEXT_WIDTH by
 * shortening the widest text column; "_text" columns are printed wrapped
 * under their row.  All rows are read first to size the columns.
 */
static int
render_table(struct rctx *c, sqlite3_stmt *st)
{
	int n = sqlite3_column_count(st);
	int *w = calloc((size_t)n, sizeof(*w));
	bool *right = calloc((size_t)n, sizeof(*right));
	bool *show = calloc((size_t)n, sizeof(*show));
	char(*hdr)[32] = calloc((size_t)n, sizeof(*hdr));
	char **cells = NULL;
	size_t rows = 0, cap = 0;
	int rc = SQLITE_DONE;

	if (!w || !right || !show || !hdr) {
		rc = SQLITE_NOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		show[i] = text_col(c, sqlite3_column_name(st, i), hdr[i], sizeof(hdr[i]));
		w[i] = (int)strlen(hdr[i]);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (rows == cap) {
			cap = cap ? cap * 2 : 64;
			char **nc = realloc(cells, cap * (size_t)n * sizeof(*cells));
			if (!nc) {
				rc = SQLITE_NOMEM;
				goto out;
			}
			cells = nc;
		}
		for (int i = 0; i < n; i++) {
			const unsigned char *v = sqlite3_column_text(st, i);
			int t = sqlite3_column_type(st, i);
			bool keep = show[i] || text_only(sqlite3_column_name(st, i));
			char *cell = keep ? strdup(v ? (const char *)v : show[i] ? "-" : "") : NULL;
			if (keep && !cell) {
				for (int k = 0; k < i; k++)
					free(cells[rows * (size_t)n + (size_t)k]);
				rc = SQLITE_NOMEM;
				goto out;
			}
			for (char *p = cell; keep && *p; p++) /* names from packets */
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					*p = '.';
			if (show[i]) {
				cut_cell(cell, TABLE_CELL_MAX);
				if (t == SQLITE_INTEGER || t == SQLITE_FLOAT)
					right[i] = true;
				if ((int)strlen(cell) > w[i])
					w[i] = (int)strlen(cell);
			}
			cells[rows * (size_t)n + (size_t)i] = cell;
		}
		rows++;
	}
	if (rc != SQLITE_DONE)
		goto out;

	/* fit: shorten the widest left-aligned column until the line fits */
	for (;;) {
		int total = -1, widest = -1;
		for (int i = 0; i < n; i++) {
			if (!show[i])
				continue;
			total += w[i] + 1;
			if (!right[i] && w[i] > TABLE_CELL_MIN && (widest < 0 || w[i] > w[widest]))
				widest = i;
		}
		if (total <= TEXT_WIDTH || widest < 0)
			break;
		int nw = w[widest] - (total - TEXT_WIDTH);
		w[widest] = nw < TABLE_CELL_MIN ? TABLE_CELL_MIN : nw;
	}
	int last = -1; /* the last printed column is not padded */
	for (int i = 0; i < n; i++)
		if (show[i])
			last = i;
	for (int r = -1; r < (int)rows; r++) {
		bool first = true;
		if (r < 0 && c->o->color)
			fputs("\033[1m", c->out);
		for (int i = 0; i < n; i++) {
			if (!show[i])
				continue;
			char *cell = r < 0 ? hdr[i] : cells[(size_t)r * (size_t)n + (size_t)i];
			cut_cell(cell, w[i]);
			fprintf(c->out, "%s%*s", first ? "" : " ",
			        right[i]    ? w[i]
			        : i == last ? 0
			                    : -w[i],
			        cell);
			first = false;
		}
		if (r < 0 && c->o->color)
			fputs("\033[0m", c->out);
		fputc('\n', c->out);
		for (int i = 0; r >= 0 && i < n; i++) {
			const char *cell = cells[(size_t)r * (size_t)n + (size_t)i];
			if (!show[i] && cell && *cell)
				put_wrapped(c->out, 2, "", 4, cell);
		}
	}
	if (rows == 0)
		fputs("(none)\n", c->out);
out:
	for (size_t k = 0; cells && k < rows * (size_t)n; k++)
		free(cells[k]);
	free(cells);
	free(w);
	free(right);
	free(show);
	free(hdr);
	return rc;
}

/* ---- text: slow --------------------------------------------------------------- */

const char *
report_no_cause(int outbound)
{
	return outbound ? "no network cause on the mail host's side" : "no network cause seen";
}

const char *
report_no_cause_advice(int outbound)
{
	return outbound ? "the remote server took its time" : "look at local processing";
}

static void
text_cause(struct rctx *c, sqlite3_stmt *cs, int indent, bool upstream)
{
	const char *kind = (const char *)sqlite3_column_text(cs, 0);
	char line[1024];
	char share[32] = "";

	if (!kind)
		return;
	if (sqlite3_column_type(cs, 8) != SQLITE_NULL && !upstream)
		snprintf(share, sizeof(share), ", %.0f%% of the wait",
		         sqlite3_column_double(cs, 8) * 100.0);
#define CS(i) (sqlite3_column_text(cs, (i)) ? (const char *)sqlite3_column_text(cs, (i)) : "?")
	if (strcmp(kind, "dns") == 0) {
		if (upstream)
			snprintf(line, sizeof(line), "%s %s to %s: %s after %.1f ms", CS(2), CS(3),
			         CS(4), CS(5), sqlite3_column_double(cs, 6));
		else
			snprintf(line, sizeof(line), "%s %s %s to %s: %s after %.1f ms%s", CS(1),
			         CS(2), CS(3), CS(4), CS(5), sqlite3_column_double(cs, 6), share);
		put_wrapped(c->out, indent, upstream ? "upstream " : "dns ", 6, line);
	} else if (strcmp(kind, "ident") == 0) {
		snprintf(line, sizeof(line), "to %s: %s after %.1f ms%s", CS(4), CS(5),
		         sqlite3_column_double(cs, 6), share);
		put_wrapped(c->out, indent, "ident ", 6, line);
	} else if (strcmp(kind, "big-message") == 0) {
		snprintf(line, sizeof(line), "%.1f MB in session %s (%s) on the same host%s",
		         sqlite3_column_double(cs, 10) / 1e6, CS(11), CS(4), share);
		put_wrapped(c->out, indent, "big message ", 6, line);
	} else {
		snprintf(line, sizeof(line), "%s: %s", report_no_cause(c->outbound),
		         report_no_cause_advice(c->outbound));
		put_wrapped(c->out, indent, "", 6, line);
	}
#undef CS
}

static int
text_causes(struct rctx *c, const char *causes, int indent, bool upstream)
{
	sqlite3_stmt *cs;
	int rc = sqlite3_prepare_v2(
	    c->db,
	    "SELECT value ->> 'kind', value ->> 'relation', value ->> 'qtype', value ->> 'qname',"
	    " coalesce(value ->> 'resolver', value ->> 'peer'), value ->> 'outcome',"
	    " value ->> 'query_ms', value ->> 'overlap_ms', value ->> 'share',"
	    " value -> 'upstream', value ->> 'bytes', value ->> 'session' FROM json_each(?1)",
	    -1, &cs, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(cs, 1, causes, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(cs)) == SQLITE_ROW) {
		text_cause(c, cs, indent, upstream);
		const unsigned char *up = sqlite3_column_text(cs, 9);
		if (up && strcmp((const char *)up, "[]") != 0)
			text_causes(c, (const char *)up, indent + 2, true);
	}
	sqlite3_finalize(cs);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/*
 * One line per slow reply, its causes, diagnosis and remedy under it.  With
 * several hosts the server shows too; to stay within 80 columns the line
 * then carries the time of day (the date heads each day's replies) and one
 * REPLY column: the reply code, or the outcome when it is not ok.
 */
static int
text_slow(struct rctx *c, sqlite3_stmt *st)
{
	int rc, rows = 0;
	char day[11] = "";
	const char *bold = c->o->color ? "\033[1m" : "", *plain = c->o->color ? "\033[0m" : "";

	fprintf(c->out, "slow replies (>= %g ms), newest first, times %s\n", c->slow_ms,
	        zone_name(c));
	if (c->multi_host)
		fprintf(c->out, "%s%-8s %6s %-15s %-15s %-8s %8s %s%s\n", bold, "TIME", "SESS",
		        "SERVER", "CLIENT", "COMMAND", "WAIT ms", "REPLY", plain);
	else
		fprintf(c->out, "%s%-19s %7s %-15s %-8s %9s %-4s %s%s\n", bold, "WHEN", "SESSION",
		        "CLIENT", "COMMAND", "WAIT ms", "CODE", "OUTCOME", plain);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char when[20];
		const char *code = col_null(st, "reply_code") ? "-" : col_str(st, "reply_code");
		snprintf(when, sizeof(when), "%s", col_str(st, "start_utc"));
		if (c->multi_host) {
			if (strncmp(day, when, 10) != 0) {
				snprintf(day, sizeof(day), "%.10s", when);
				fprintf(c->out, "%s\n", day);
			}
			const char *oc = col_str(st, "outcome");
			fprintf(c->out, "%-8.8s %6s %-15s %-15s %-8s %8.1f %s\n", when + 11,
			        col_str(st, "session"), col_str(st, "server"), col_str(st, "client"),
			        col_str(st, "command"), col_double(st, "latency_ms"),
			        strcmp(oc, "ok") == 0 ? code : oc);
		} else {
			fprintf(c->out, "%-19s %7s %-15s %-8s %9.1f %-4s %s\n", when,
			        col_str(st, "session"), col_str(st, "client"), col_str(st, "command"),
			        col_double(st, "latency_ms"), code, col_str(st, "outcome"));
		}
		const char *causes = col_str(st, "causes_json");
		c->outbound = col_double(st, "outbound") != 0;
		if (strcmp(causes, "[]") == 0 && col_null(st, "diagnosis"))
			put_wrapped(c->out, 2, "", 4,
			            strcmp(col_str(st, "outcome"), "cut") == 0
			                ? "cut by the end of the capture (the client waited at least "
			                  "this long); causes not analyzed"
			                : "causes not analyzed (below the analysis threshold?)");
		else if ((rc = text_causes(c, causes, 2, false)) != SQLITE_OK)
			return rc;
		if (!col_null(st, "diagnosis"))
			put_wrapped(c->out, 2, "diagnosis: ", 4, col_str(st, "diagnosis"));
		if (!col_null(st, "remedy"))
			put_wrapped(c->out, 2, "remedy: ", 4, col_str(st, "remedy"));
		rows++;
	}
	if (rc == SQLITE_DONE && rows == 0)
		fputs("(none)\n", c->out);
	return rc;
}

/* ---- text: incidents ---------------------------------------------------------- */

static const char *
plural(long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* The time line of an incident: "at T" or "from T to T'". */
static void
put_span(struct rctx *c, sqlite3_stmt *st)
{
	char line[128];
	const char *first = col_str(st, "first_utc"), *last = col_str(st, "last_utc");
	if (strcmp(first, last) == 0)
		snprintf(line, sizeof(line), "at %s", first);
	else
		snprintf(line, sizeof(line), "from %s to %s", first,
		         strncmp(first, last, 11) == 0 ? last + 11 : last);
	put_wrapped(c->out, 4, "", 4, line);
}

/* A bounce storm (issue 17): its lines (bounce_text, one per line), when, remedy, examples. */
static void
put_bounce_storm(struct rctx *c, sqlite3_stmt *st)
{
	char line[512];
	const char *p = col_str(st, "bounce_text");
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		snprintf(line, sizeof(line), "%.*s", (int)n, p);
		put_wrapped(c->out, 4, "", 4, line);
		if (!e)
			break;
		p = e + 1;
	}
	put_span(c, st);
	if (!col_null(st, "remedy"))
		put_wrapped(c->out, 4, "remedy: ", 4, col_str(st, "remedy"));
	put_wrapped(c->out, 4, "example sessions: ", 4, col_str(st, "example_sessions"));
}

/*
 * One block per incident: what, how much (replies, sessions, clients,
 * hosts), when, how long, the commands and names, the remedy and example
 * sessions to look at with `report session ID`.  At most max blocks (0 =
 * all); *total: every row of st.
 */
static int
put_incidents(struct rctx *c, sqlite3_stmt *st, long max, long *total)
{
	int rc;
	long rows = 0;
	char line[512];
	const char *bold = c->o->color ? "\033[1m" : "", *plain = c->o->color ? "\033[0m" : "";

	fprintf(c->out, "incidents: slow replies (>= %g ms) grouped by cause, worst first, times %s\n",
	        c->slow_ms, zone_name(c));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (max > 0 && rows >= max) {
			rows++; /* counted, not shown */
			continue;
		}
		long n = (long)col_double(st, "slow_replies"), ns = (long)col_double(st, "sessions");
		long ncl = (long)col_double(st, "clients"), nh = (long)col_double(st, "n_hosts");
		char lead[16];
		snprintf(lead, sizeof(lead), "%2s  ", col_str(st, "incident"));
		fprintf(c->out, "\n%s", bold);
		put_wrapped(c->out, 0, lead, 4, col_str(st, "title"));
		fputs(plain, c->out);
		if (strcmp(col_str(st, "kind"), "bounce-storm") == 0) {
			put_bounce_storm(c, st);
			rows++;
			continue;
		}
		snprintf(line, sizeof(line), "%ld slow repl%s in %ld session%s from %ld client%s", n,
		         plural(n, "y", "ies"), ns, plural(ns, "", "s"), ncl, plural(ncl, "", "s"));
		size_t l = strlen(line);
		if (nh > 1)
			snprintf(line + l, sizeof(line) - l, " on %ld hosts (%s)", nh,
			         col_str(st, "hosts"));
		else if (nh == 1 && c->multi_host)
			snprintf(line + l, sizeof(line) - l, " on %s", col_str(st, "hosts"));
		put_wrapped(c->out, 4, "", 4, line);
		put_span(c, st);
		snprintf(line, sizeof(line), "%.1f s of waiting in all (longest %.1f s)",
		         col_double(st, "total_wait_ms") / 1000, col_double(st, "max_wait_ms") / 1000);
		if (!col_null(st, "cause_ms"))
			snprintf(line + strlen(line), sizeof(line) - strlen(line),
			         "; the cause covered %.1f s of it", col_double(st, "cause_ms") / 1000);
		put_wrapped(c->out, 4, "", 4, line);
		snprintf(line, sizeof(line), "commands: %s", col_str(st, "commands"));
		long names = (long)col_double(st, "names");
		if (names > 0)
			snprintf(line + strlen(line), sizeof(line) - strlen(line), "; %ld name%s (%s)",
			         names, plural(names, "", "s"), col_str(st, "qtypes"));
		long places = (long)col_double(st, "places");
		bool dns = strcmp(col_str(st, "kind"), "dns") == 0; /* else the remote servers */
		if (places > 0 && strcmp(col_str(st, "kind"), "big-message") == 0)
			snprintf(line + strlen(line), sizeof(line) - strlen(line),
			         "; %ld big message%s: %s%s", places, plural(places, "", "s"),
			         col_str(st, "top_places"), places > 3 ? "; ..." : "");
		else if (places > 0 && col_null(st, "zone"))
			snprintf(line + strlen(line), sizeof(line) - strlen(line), "; %s %ld %s (%s%s)",
			         dns ? "in" : "to", places,
			         dns ? plural(places, "zone", "zones")
			             : plural(places, "remote server", "remote servers"),
			         col_str(st, "top_places"), places > 3 ? ", ..." : "");
		put_wrapped(c->out, 4, "", 4, line);
		if (!col_null(st, "remedy"))
			put_wrapped(c->out, 4, "remedy: ", 4, col_str(st, "remedy"));
		put_wrapped(c->out, 4, "example sessions: ", 4, col_str(st, "example_sessions"));
		rows++;
	}
	if (rc == SQLITE_DONE && rows == 0)
		fputs("(none)\n", c->out);
	*total = rows;
	return rc;
}

static int
text_incidents(struct rctx *c, sqlite3_stmt *st)
{
	long total;
	return put_incidents(c, st, 0, &total);
}

/* ---- text: ptr ---------------------------------------------------------------- */

static int render_table(struct rctx *c, sqlite3_stmt *st);

/*
 * ptr: the reverse zones first (what to fix: one missing zone on one
 * resolver is one line however many names it delayed), then every PTR
 * lookup, newest first.
 */
static int
text_ptr(struct rctx *c, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		sqlite3_stmt *q;
		fputs("PTR lookups that delayed replies, by reverse zone, worst first\n", c->out);
		/* 80 columns; a longer zone (an ip6.arpa /48 is 32) on a line of its own */
		fprintf(c->out, "%-26s %-15s %-10s %5s %5s %5s %7s\n", "ZONE", "RESOLVER", "OUTCOME",
		        "NAMES", "REPL", "SESS", "WAIT s");
		if (sqlite3_prepare_v2(c->db,
		                       "SELECT value ->> 'zone', value ->> 'resolver', "
		                       "value ->> 'outcome', value ->> 'names', "
		                       "value ->> 'slow_replies', value ->> 'sessions', "
		                       "value ->> 'total_wait_ms' FROM json_each(?1)",
		                       -1, &q, NULL) != SQLITE_OK)
			return SQLITE_ERROR;
		sqlite3_bind_text(q, 1, col_str(st, "zones_json"), -1, SQLITE_TRANSIENT);
		while (sqlite3_step(q) == SQLITE_ROW) {
			const char *zone = (const char *)sqlite3_column_text(q, 0);
			if (zone && strlen(zone) > 26)
				fprintf(c->out, "%s\n%-26s", zone, "");
			else
				fprintf(c->out, "%-26s", zone ? zone : "-");
			fprintf(c->out, " %-15.39s %-10s %5d %5d %5d %7.1f\n",
			        (const char *)sqlite3_column_text(q, 1),
			        (const char *)sqlite3_column_text(q, 2), sqlite3_column_int(q, 3),
			        sqlite3_column_int(q, 4), sqlite3_column_int(q, 5),
			        sqlite3_column_double(q, 6) / 1000);
		}
		sqlite3_finalize(q);
		fputc('\n', c->out);
	} else if (rc != SQLITE_DONE) {
		return rc;
	}
	sqlite3_reset(st);
	put_title(c, "PTR lookups that delayed replies, newest first, times UTC");
	return render_table(c, st);
}

/* ---- text: session ------------------------------------------------------------ */

/* copies s into buf with control characters shown as '.' */
static const char *
printable(const char *s, char *buf, size_t n)
{
	size_t k = 0;
	for (; *s && k + 1 < n; s++)
		buf[k++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '.' : *s;
	buf[k] = '\0';
	return buf;
}

static int
text_session_head(struct rctx *c, const char *sj)
{
	sqlite3_stmt *h;
	int rc = sqlite3_prepare_v2(
	    c->db,
	    "SELECT ?1 ->> 'session', ?1 ->> 'protocol', ?1 ->> 'client', ?1 ->> 'client_port',"
	    " ?1 ->> 'server', ?1 ->> 'server_port',"
	    " strftime('%Y-%m-%d %H:%M:%f', mx_local(?1 ->> 'start'), 'unixepoch'),"
	    " printf('%.1f', (?1 ->> 'duration_ms') / 1000.0), ?1 ->> 'outcome',"
	    " CASE WHEN ?1 ->> 'tls' THEN 'yes' ELSE 'no' END,"
	    " CASE WHEN ?1 ->> 'outbound' THEN 'yes' ELSE 'no' END, ?1 ->> 'host'",
	    -1, &h, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(h, 1, sj, -1, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(h)) == SQLITE_ROW) {
#define HS(i) (sqlite3_column_text(h, (i)) ? (const char *)sqlite3_column_text(h, (i)) : "-")
		fprintf(c->out, "session %s: %s %s port %s to %s port %s\n", HS(0), HS(1), HS(2),
		        HS(3), HS(4), HS(5));
		fprintf(c->out, "started %s %s, lasted %s s, outcome %s\n", HS(6), zone_name(c),
		        HS(7), HS(8));
		if (c->multi_host)
			fprintf(c->out, "host %s, tls %s, outbound %s; slow replies: >= %g ms\n",
			        HS(11), HS(9), HS(10), c->slow_ms);
		else
			fprintf(c->out, "tls %s, outbound %s; slow replies: >= %g ms\n", HS(9),
			        HS(10), c->slow_ms);
		c->outbound = strcmp(HS(10), "yes") == 0;
#undef HS
		rc = SQLITE_OK;
	}
	sqlite3_finalize(h);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
text_session(struct rctx *c, sqlite3_stmt *st)
{
	int rc, rows = 0;
	char line[1024], item[512], lead[64];

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (rows++ == 0) {
			if ((rc = text_session_head(c, col_str(st, "session_json"))) != SQLITE_OK)
				return rc;
			fprintf(c->out, "%s%9s %-12s %-7s EVENT%s\n", c->o->color ? "\033[1m" : "",
			        "+s", c->o->tz ? "TIME" : "TIME UTC", "KIND",
			        c->o->color ? "\033[0m" : "");
		}
		const char *kind = col_str(st, "kind");
		printable(col_str(st, "item"), item, sizeof(item));
		bool slow = strcmp(kind, "command") == 0 && col_double(st, "slow") != 0;
		if (strcmp(kind, "command") == 0) {
			if (!col_null(st, "result") && col_str(st, "result")[0])
				snprintf(line, sizeof(line), "%s -> %s after %.1f ms%s%s%s", item,
				         col_str(st, "result"), col_double(st, "latency_ms"),
				         strcmp(col_str(st, "outcome"), "ok") ? ", " : "",
				         strcmp(col_str(st, "outcome"), "ok")
				             ? col_str(st, "outcome")
				             : "",
				         slow ? " SLOW" : "");
			else
				snprintf(line, sizeof(line), "%s -> no reply, %s after %.1f ms%s",
				         item, col_str(st, "outcome"), col_double(st, "latency_ms"),
				         slow ? " SLOW" : "");
		} else if (strcmp(kind, "dns") == 0) {
			char res[64];
			if (col_null(st, "latency_ms"))
				snprintf(res, sizeof(res), "%s", col_str(st, "outcome"));
			else
				snprintf(res, sizeof(res), "%s in %.1f ms", col_str(st, "outcome"),
				         col_double(st, "latency_ms"));
			snprintf(line, sizeof(line), "%s to %s: %s%s%s%s", item,
			         col_str(st, "target"), res, col_null(st, "relation") ? "" : " [",
			         col_str(st, "relation"), col_null(st, "relation") ? "" : "]");
		} else if (strcmp(kind, "ident") == 0) {
			snprintf(line, sizeof(line), "to %s: %s after %.1f ms%s", item,
			         col_str(st, "outcome"), col_double(st, "latency_ms"),
			         col_null(st, "relation") ? "" : " [ident]");
		} else if (strcmp(kind, "close") == 0) {
			snprintf(line, sizeof(line), "outcome %s", col_str(st, "outcome"));
		} else {
			snprintf(line, sizeof(line), "%s", item);
		}
		snprintf(lead, sizeof(lead), "%+9.3f %-12s %-7s ",
		         col_double(st, "offset_ms") / 1000.0, col_str(st, "time_utc"), kind);
		if (slow && c->o->color)
			fputs("\033[31m", c->out);
		put_wrapped(c->out, 0, lead, 32, line);
		if (slow && c->o->color)
			fputs("\033[0m", c->out);
		if (slow) {
			const char *causes = col_str(st, "causes_json");
			if (!causes[0] || strcmp(causes, "[]") == 0)
				put_wrapped(c->out, 4, "", 4,
				            "causes not analyzed (below the analysis threshold?)");
			else if ((rc = text_causes(c, causes, 4, false)) != SQLITE_OK)
				return rc;
			if (!col_null(st, "diagnosis"))
				put_wrapped(c->out, 4, "diagnosis: ", 4, col_str(st, "diagnosis"));
			if (!col_null(st, "remedy"))
				put_wrapped(c->out, 4, "remedy: ", 4, col_str(st, "remedy"));
		}
	}
	if (rc == SQLITE_DONE && rows == 0)
		fputs("(none)\n", c->out);
	return rc;
}

/* ---- running ------------------------------------------------------------------ */

static void
bind_params(struct rctx *c, sqlite3_stmt *st)
{
	const struct report_opts *o = c->o;
	int i;

	if ((i = sqlite3_bind_parameter_index(st, ":slow_ms")) > 0)
		sqlite3_bind_double(st, i, c->slow_ms);
	if ((i = sqlite3_bind_parameter_index(st, ":compact_slow")) > 0) {
		if (c->compact_slow < 0)
			c->compact_slow = sqlfn_compact_slow(c->db, c->slow_ms);
		sqlite3_bind_int(st, i, c->compact_slow);
	}
	if ((i = sqlite3_bind_parameter_index(st, ":since")) > 0 && !isnan(o->since))
		sqlite3_bind_double(st, i, o->since);
	if ((i = sqlite3_bind_parameter_index(st, ":until")) > 0 && !isnan(o->until))
		sqlite3_bind_double(st, i, o->until);
	if ((i = sqlite3_bind_parameter_index(st, ":limit")) > 0)
		sqlite3_bind_int64(st, i, o->limit > 0 ? o->limit : -1);
	if ((i = sqlite3_bind_parameter_index(st, ":arg")) > 0 && o->arg)
		sqlite3_bind_text(st, i, o->arg, -1, SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(st, ":client")) > 0 && o->client && o->client[0])
		sqlite3_bind_text(st, i, o->client, -1, SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(st, ":protocol")) > 0 && o->protocol &&
	    o->protocol[0])
		sqlite3_bind_text(st, i, o->protocol, -1, SQLITE_STATIC);
}

int
report_protocol_valid(const char *name)
{
	return name && (strcmp(name, "smtp") == 0 || strcmp(name, "pop3") == 0);
}

int
report_count_slow(sqlite3 *db, const struct report_opts *o, long *n, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	struct rctx c = {.db = db,
	                 .o = o,
	                 .slow_ms = isnan(o->slow_ms) || o->slow_ms <= 0 ? 1000.0 : o->slow_ms,
	                 .compact_slow = -1,
	                 .err = err,
	                 .errlen = errlen};

	*n = 0;
	if (sqlite3_prepare_v2(db,
	                       "SELECT count(*) FROM (SELECT * FROM transactions"
	                       " WHERE latency_ms >= :slow_ms UNION ALL"
	                       " SELECT * FROM compact_replies"
	                       " WHERE :compact_slow"
	                       " AND latency_ms >= :slow_ms) AS t"
	                       " LEFT JOIN sessions AS s ON s.id = t.session_id"
	                       " WHERE t.latency_ms >= :slow_ms"
	                       " AND t.request_ts >= coalesce(:since, -1e18)"
	                       " AND t.request_ts < coalesce(:until, 1e18)"
	                       " AND (:client IS NULL OR s.client = :client OR s.server = :client)"
	                       " AND (:protocol IS NULL OR s.protocol = :protocol)",
	                       -1, &st, NULL) != SQLITE_OK) {
		fmt_err(err, errlen, "counting slow replies: %s", sqlite3_errmsg(db));
		return -1;
	}
	bind_params(&c, st);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = (long)sqlite3_column_int64(st, 0);
	else
		fmt_err(err, errlen, "counting slow replies: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

bool
report_multi_host(sqlite3 *db)
{
	sqlite3_stmt *st;
	bool multi = false;
	if (sqlite3_prepare_v2(db,
	                       /* the per-minute counts (complete sessions) and the open ones */
	                       "SELECT count(*) > 1 FROM (SELECT host FROM session_counts"
	                       " WHERE host IS NOT NULL UNION SELECT host FROM sessions"
	                       " WHERE complete = 0 AND host IS NOT NULL)",
	                       -1, &st, NULL) != SQLITE_OK)
		return false;
	if (sqlite3_step(st) == SQLITE_ROW)
		multi = sqlite3_column_int(st, 0) != 0;
	sqlite3_finalize(st);
	return multi;
}

/* Is id not the number of a stored session? */
static bool
session_missing(sqlite3 *db, const char *id)
{
	sqlite3_stmt *st;
	char *end;
	bool missing = true;
	long long v = strtoll(id, &end, 10);

	if (end == id || *end != '\0' ||
	    sqlite3_prepare_v2(db, "SELECT 1 FROM sessions WHERE id = ?1", -1, &st, NULL) !=
	        SQLITE_OK)
		return true;
	sqlite3_bind_int64(st, 1, v);
	missing = sqlite3_step(st) != SQLITE_ROW;
	sqlite3_finalize(st);
	return missing;
}

/* the report named o->name, or NULL with a usage message in err */
static const struct report_def *
find_report(const struct report_opts *o, char *err, size_t errlen)
{
	for (size_t i = 0; o->name && i < N_REPORTS; i++)
		if (strcmp(reports[i].name, o->name) == 0)
			return &reports[i];
	fmt_err(err, errlen, "unknown report '%s'; known reports: %s", o->name ? o->name : "",
	        report_names());
	return NULL;
}

/* text, CSV or JSON; a usage error (message in err) for the others */
static int
check_format(const struct report_def *def, const struct report_opts *o, char *err, size_t errlen)
{
	if (o->format != REPORT_TEXT && o->format != REPORT_CSV && o->format != REPORT_JSON) {
		fmt_err(err, errlen,
		        "report %s: format %s is not available (use text, csv or json)", def->name,
		        format_name(o->format));
		return REPORT_EUSAGE;
	}
	if (def->needs_arg && (!o->arg || !o->arg[0])) {
		fmt_err(err, errlen, "report %s needs an argument", def->name);
		return REPORT_EUSAGE;
	}
	return 0;
}

/*
 * Report def (text, CSV or JSON) on db into out; fx: one of several
 * databases (its label, the shared state), NULL: the one database.
 */
static int
run_one(const struct report_def *def, sqlite3 *db, const struct report_opts *o, FILE *out,
        const struct fleetx *fx, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	/* text times in the zone asked for; CSV, JSON and HTML's SQL stay UTC */
	if (sqlfn_local_time(db, o->format == REPORT_TEXT && o->tz) != SQLITE_OK) {
		fmt_err(err, errlen, "report %s: %s", def->name, sqlite3_errmsg(db));
		return -1;
	}
	if (def->wrap_key && session_missing(db, o->arg)) {
		fmt_err(err, errlen, "report %s: no session %s", def->name, o->arg);
		return -1;
	}
	const char *sql = store_sql_file(def->sql);
	if (!sql) {
		fmt_err(err, errlen, "report %s: %s is not embedded in this binary", def->name,
		        def->sql);
		return -1;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fmt_err(err, errlen, "report %s: %s", def->name, sqlite3_errmsg(db));
		return -1;
	}
	struct rctx c = {.db = db,
	                 .o = o,
	                 .def = def,
	                 .slow_ms = isnan(o->slow_ms) || o->slow_ms <= 0 ? 1000.0 : o->slow_ms,
	                 .compact_slow = -1,
	                 .out = out,
	                 .err = err,
	                 .errlen = errlen,
	                 .fx = fx};
	c.multi_host = o->format == REPORT_TEXT && report_multi_host(db);
	bind_params(&c, st);
	/* several databases in CSV or JSON: report_run_fleet() shows the second parts */
	bool tail = def->after && !(fx && o->format != REPORT_TEXT);
	if (tail && (rc = prepare_after(&c, def->after)) != 0) {
		sqlite3_finalize(st);
		return -1;
	}
	switch (o->format) {
	case REPORT_CSV:
		rc = render_csv(&c, st);
		break;
	case REPORT_JSON:
		rc = col_index(st, "json") < 0           ? SQLITE_MISUSE
		     : strcmp(def->name, "summary") == 0 ? json_summary(&c, st)
		                                         : render_json(&c, st, def->single);
		break;
	default:
		if (def->title)
			put_title(&c, def->title);
		rc = def->text     ? def->text(&c, st)
		     : def->single ? render_kv(&c, st)
		                   : render_table(&c, st);
		break;
	}
	if (c.tail && o->format != REPORT_JSON && (rc == SQLITE_DONE || rc == SQLITE_OK))
		rc = render_after(&c, c.tail);
	sqlite3_finalize(c.tail);
	if (rc != SQLITE_DONE && rc != SQLITE_OK) {
		fmt_err(err, errlen, "report %s: %s", def->name,
		        rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	if (fflush(out) != 0 || ferror(out)) {
		fmt_err(err, errlen, "report %s: write error", def->name);
		return -1;
	}
	return 0;
}

int
report_run(sqlite3 *db, const struct report_opts *o, FILE *out, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	const struct report_def *def = find_report(o, err, errlen);
	if (!def)
		return REPORT_EUSAGE;
	if (o->format == REPORT_HTML) { /* one page for slow and summary: html.c */
		if (sqlfn_local_time(db, false) != SQLITE_OK) {
			fmt_err(err, errlen, "report %s: %s", def->name, sqlite3_errmsg(db));
			return -1;
		}
		return report_html(db, o, out, err, errlen);
	}
	int rc = check_format(def, o, err, errlen);
	return rc ? rc : run_one(def, db, o, out, NULL, err, errlen);
}

/* ---- several databases ------------------------------------------------------------ */

/* the label of the summary's fleet total (text and CSV) */
#define TOTAL_LABEL "TOTAL"

/* Adds one database's summary row (summary.sql) and its latency bins to c->fx->acc. */
static void
totals_add(struct rctx *c, sqlite3_stmt *st)
{
	struct totals *t = c->fx->acc;
	int n = sqlite3_column_count(st);
	if (t->ncol == 0)
		for (int i = 0; i < n && t->ncol < TOTALS_MAX; i++)
			snprintf(t->name[t->ncol++], sizeof(t->name[0]), "%s",
			         sqlite3_column_name(st, i));
	t->ndb++;
	for (int i = 0; i < t->ncol && i < n; i++) {
		const char *name = t->name[i];
		int type = sqlite3_column_type(st, i);
		if (json_only(name) || type == SQLITE_NULL)
			continue;
		if (type == SQLITE_TEXT) { /* the first and the last packet */
			const char *v = (const char *)sqlite3_column_text(st, i);
			bool last = strcmp(name, "last_packet_utc") == 0;
			if (!t->any[i] ||
			    (last ? strcmp(v, t->text[i]) > 0 : strcmp(v, t->text[i]) < 0))
				snprintf(t->text[i], sizeof(t->text[0]), "%s", v);
		} else {
			t->sum[i] += sqlite3_column_int64(st, i);
		}
		t->any[i] = true;
	}
	/* the bins of the summary's window (summary.sql: whole minutes), as mx_hist_percentiles */
	sqlite3_stmt *h;
	if (sqlite3_prepare_v2(c->db,
	                       "SELECT bins, min_ms, max_ms FROM latency_hist"
	                       " WHERE minute >= CASE WHEN :since IS NULL THEN -1e18"
	                       " ELSE floor(:since / 60.0) * 60 END"
	                       " AND minute < CASE WHEN :until IS NULL THEN 1e18"
	                       " ELSE floor(:until / 60.0) * 60 END",
	                       -1, &h, NULL) != SQLITE_OK)
		return;
	bind_params(c, h);
	while (sqlite3_step(h) == SQLITE_ROW) {
		if (sqlite3_column_type(h, 0) != SQLITE_NULL) {
			if (hist_merge_text(&t->h, (const char *)sqlite3_column_text(h, 0),
			                    (size_t)sqlite3_column_bytes(h, 0)) != 0)
				continue;
		} else if (sqlite3_column_type(h, 1) != SQLITE_NULL) {
			hist_add(&t->h, sqlite3_column_double(h, 1));
		} else {
			continue;
		}
		for (int k = 1; k <= 2; k++) {
			if (sqlite3_column_type(h, k) == SQLITE_NULL)
				continue;
			double v = sqlite3_column_double(h, k);
			if (k == 1 && (!t->seen || v < t->h.min_ms))
				t->h.min_ms = v;
			if (k == 2 && (!t->seen || v > t->h.max_ms))
				t->h.max_ms = v;
		}
		t->seen = true;
	}
	sqlite3_finalize(h);
}

/* a total's value as text (NULL: none): sums, the first/last packet, the merged percentiles */
static const char *
total_value(const struct totals *t, int i, char *buf, size_t n)
{
	const char *name = t->name[i];
	double v;
	if (strcmp(name, "median_ms") == 0 || strcmp(name, "p95_ms") == 0) {
		v = hist_percentile(&t->h, name[0] == 'm' ? 50 : 95);
	} else if (strcmp(name, "max_ms") == 0) {
		v = t->seen ? t->h.max_ms : NAN;
	} else {
		if (!t->any[i])
			return NULL;
		if (t->text[i][0])
			return t->text[i];
		snprintf(buf, n, "%lld", (long long)t->sum[i]);
		return buf;
	}
	if (isnan(v))
		return NULL;
	snprintf(buf, n, "%.1f", v);
	return buf;
}

/* the slow_by_cause key of a summary column, or NULL */
static const char *
cause_key(const char *name)
{
	static const char *const map[][2] = {{"slow_dns", "dns"},
	                                     {"slow_ident", "ident"},
	                                     {"slow_none", "none"},
	                                     {"slow_big", "big-message"},
	                                     {"slow_unexplained", "unexplained"}};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(name, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

/*
 * The fleet total of a summary: text "name value" lines, a CSV row or the
 * JSON object of the summary's counts (the sums), first and last packet
 * and latency (the merged histograms).
 */
static void
put_totals(const struct totals *t, const struct report_opts *o, double slow_ms, FILE *out)
{
	char buf[64];
	int w = (int)strlen("databases");
	for (int i = 0; i < t->ncol; i++)
		if ((int)strlen(t->name[i]) > w)
			w = (int)strlen(t->name[i]);
	if (o->format == REPORT_TEXT) {
		fprintf(out, "%-*s  %d\n", w, "databases", t->ndb);
		for (int i = 0; i < t->ncol; i++) {
			if (json_only(t->name[i]))
				continue;
			const char *v = total_value(t, i, buf, sizeof(buf));
			fprintf(out, "%-*s  %s\n", w, t->name[i], v ? v : "-");
		}
		return;
	}
	if (o->format == REPORT_CSV) {
		csv_field(out, TOTAL_LABEL);
		for (int i = 0; i < t->ncol; i++) {
			if (json_only(t->name[i]))
				continue;
			const char *v = total_value(t, i, buf, sizeof(buf));
			fputc(',', out);
			csv_field(out, v ? v : "");
		}
		fputs("\r\n", out);
		return;
	}
	fprintf(out, "{\"databases\":%d,\"slow_ms\":%g", t->ndb, slow_ms);
	bool causes = false;
	for (int i = 0; i < t->ncol; i++) {
		const char *name = t->name[i], *ck = cause_key(name);
		/* "hosts" is the per-host array in a database's summary */
		if (json_only(name) || strcmp(name, "hosts") == 0)
			continue;
		const char *v = total_value(t, i, buf, sizeof(buf));
		if (ck) {
			fprintf(out, "%s\"%s\":%s", causes ? "," : ",\"slow_by_cause\":{", ck,
			        v ? v : "null");
			causes = true;
			continue;
		}
		if (causes)
			fputc('}', out);
		causes = false;
		fprintf(out, ",\"%s\":", name);
		if (v && t->text[i][0])
			json_str(out, v);
		else
			fputs(v ? v : "null", out);
	}
	fputs(causes ? "}}" : "}", out);
}

/* writes to the stream it wraps with a label in front of every line */
struct prefixer {
	FILE *out;
	const char *label;
	int width;
	bool bol; /* at the beginning of a line */
};

static ssize_t
prefix_write(void *cookie, const char *buf, size_t n)
{
	struct prefixer *p = cookie;
	size_t i = 0;
	while (i < n) {
		/* an empty line gets the label alone, no trailing blanks */
		if (p->bol && fprintf(p->out, "%-*s%s", buf[i] == '\n' ? 0 : p->width, p->label,
		                      buf[i] == '\n' ? "" : "  ") < 0)
			return -1;
		const char *nl = memchr(buf + i, '\n', n - i);
		size_t k = nl ? (size_t)(nl - (buf + i)) + 1 : n - i;
		if (fwrite(buf + i, 1, k, p->out) != k)
			return -1;
		p->bol = nl != NULL;
		i += k;
	}
	return (ssize_t)n;
}

/* the session report on several databases: "LABEL:ID", or the one database that has ID */
static int
fleet_session(const struct report_def *def, const struct report_src *src, size_t n,
              const struct report_opts *o, size_t *which, const char **id, char *err, size_t errlen)
{
	const char *colon = strrchr(o->arg, ':');
	*id = o->arg;
	if (colon) {
		for (size_t i = 0; i < n; i++)
			if (strlen(src[i].label) == (size_t)(colon - o->arg) &&
			    strncmp(src[i].label, o->arg, (size_t)(colon - o->arg)) == 0) {
				*which = i;
				*id = colon + 1;
				return 0;
			}
		/* an address-like id is no session id: no database of that name */
		fmt_err(err, errlen, "report %s: no database labelled %.*s", def->name,
		        (int)(colon - o->arg), o->arg);
		return REPORT_EUSAGE;
	}
	size_t found = 0;
	for (size_t i = 0; i < n; i++)
		if (!session_missing(src[i].db, o->arg)) {
			if (found++ == 0)
				*which = i;
			else {
				fmt_err(
				    err, errlen,
				    "report %s: session %s is in %s and %s (at least): say which, "
				    "as %s:%s",
				    def->name, o->arg, src[*which].label, src[i].label,
				    src[*which].label, o->arg);
				return REPORT_EUSAGE;
			}
		}
	if (!found) {
		fmt_err(err, errlen, "report %s: no session %s in any database", def->name, o->arg);
		return -1;
	}
	return 0;
}

/* CSV and JSON: the second parts (report_def.after) of all databases after all their rows */
static int
fleet_after(const struct report_def *def, const struct report_src *src, size_t n,
            const struct report_opts *o, FILE *out, long *rows, char *err, size_t errlen)
{
	bool head = false;
	long tail_rows = 0;
	for (size_t i = 0; i < n; i++) {
		struct fleetx fx = {.label = src[i].label, .csv_head = &head};
		struct rctx c = {.db = src[i].db,
		                 .o = o,
		                 .def = def,
		                 .slow_ms =
		                     isnan(o->slow_ms) || o->slow_ms <= 0 ? 1000.0 : o->slow_ms,
		                 .compact_slow = -1,
		                 .out = out,
		                 .err = err,
		                 .errlen = errlen,
		                 .fx = &fx};
		if (prepare_after(&c, def->after) != 0)
			return -1;
		struct rctx a = c;
		a.def = def->after;
		int rc;
		if (o->format == REPORT_CSV) {
			rc = sqlite3_step(c.tail);
			if (rc == SQLITE_ROW) {
				sqlite3_reset(c.tail);
				if (!head)
					fputs("\r\n", out);
				rc = render_csv(&a, c.tail);
			}
		} else {
			int j = col_index(c.tail, "json");
			while ((rc = sqlite3_step(c.tail)) == SQLITE_ROW) {
				if (tail_rows++ == 0)
					fprintf(out, "%s\n{\"%s\":[", *rows ? "," : "",
					        def->after->name);
				fputs(tail_rows > 1 ? ",\n" : "\n", out);
				put_json_obj(&a, (const char *)sqlite3_column_text(c.tail, j));
			}
		}
		sqlite3_finalize(c.tail);
		if (rc != SQLITE_DONE) {
			fmt_err(err, errlen, "report %s: %s: %s", def->name, src[i].label,
			        sqlite3_errmsg(src[i].db));
			return -1;
		}
	}
	if (tail_rows) {
		fputs("\n]}", out);
		(*rows)++;
	}
	return 0;
}

int
report_run_fleet(const struct report_src *src, size_t n, const struct report_opts *o, FILE *out,
                 char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (n == 1) { /* as it always was; session LABEL:ID is its ID (a glob that matched one) */
		struct report_opts one = *o;
		size_t k = src[0].label ? strlen(src[0].label) : 0;
		if (report_needs_arg(o->name) > 0 && o->arg && k &&
		    strncmp(o->arg, src[0].label, k) == 0 && o->arg[k] == ':')
			one.arg = o->arg + k + 1;
		return report_run(src[0].db, &one, out, err, errlen);
	}
	const struct report_def *def = find_report(o, err, errlen);
	if (!def)
		return REPORT_EUSAGE;
	if (o->format == REPORT_HTML) /* one page: the hosts, then each database's page */
		return report_html_fleet(src, n, o, out, err, errlen);
	int rc = check_format(def, o, err, errlen);
	if (rc)
		return rc;
	size_t first = 0, last = n;
	struct report_opts one = *o;
	if (def->wrap_key) { /* one session of one database */
		if ((rc = fleet_session(def, src, n, o, &first, &one.arg, err, errlen)) != 0)
			return rc;
		last = first + 1;
	}
	bool summary = strcmp(def->name, "summary") == 0;
	struct totals *acc = summary ? calloc(1, sizeof(*acc)) : NULL;
	if (summary && !acc) {
		fmt_err(err, errlen, "report %s: out of memory", def->name);
		return -1;
	}
	int width = summary && o->format == REPORT_TEXT ? (int)strlen(TOTAL_LABEL) : 0;
	for (size_t i = first; i < last; i++)
		if ((int)strlen(src[i].label) > width)
			width = (int)strlen(src[i].label);
	bool csv_head = false;
	long rows = 0;
	bool list = o->format == REPORT_JSON && !def->wrap_key;
	if (list)
		fputs(summary ? "{\"dbs\": [" : "[", out);
	for (size_t i = first; i < last && rc == 0; i++) {
		struct fleetx fx = {.label = src[i].label,
		                    .csv_head = &csv_head,
		                    .json_rows = summary ? NULL : &rows,
		                    .acc = acc};
		if (o->format != REPORT_TEXT) {
			if (summary && o->format == REPORT_JSON && i > first)
				fputs(",\n", out);
			rc = run_one(def, src[i].db, &one, out, &fx, err, errlen);
			continue;
		}
		/* text: each database's report, every line after its label */
		struct prefixer p = {
		    .out = out, .label = src[i].label, .width = width, .bol = true};
		FILE *f = fopencookie(&p, "w", (cookie_io_functions_t){.write = prefix_write});
		if (!f) {
			fmt_err(err, errlen, "report %s: out of memory", def->name);
			rc = -1;
			break;
		}
		if (i > first)
			fputc('\n', out);
		rc = run_one(def, src[i].db, &one, f, &fx, err, errlen);
		if (fclose(f) != 0 && rc == 0) {
			fmt_err(err, errlen, "report %s: write error", def->name);
			rc = -1;
		}
	}
	if (rc == 0 && def->after && o->format != REPORT_TEXT)
		rc = fleet_after(def, src, n, o, out, &rows, err, errlen);
	if (rc == 0 && summary) {
		double slow_ms = isnan(o->slow_ms) || o->slow_ms <= 0 ? 1000.0 : o->slow_ms;
		if (o->format == REPORT_TEXT) {
			struct prefixer p = {
			    .out = out, .label = TOTAL_LABEL, .width = width, .bol = true};
			fputc('\n', out);
			FILE *f =
			    fopencookie(&p, "w", (cookie_io_functions_t){.write = prefix_write});
			if (f) {
				fprintf(f,
				        "all %d databases: counts summed, latency from their "
				        "merged histograms\n",
				        acc->ndb);
				put_totals(acc, o, slow_ms, f);
				fclose(f);
			}
		} else if (o->format == REPORT_JSON) {
			fputs("],\n \"total\": ", out);
			put_totals(acc, o, slow_ms, out);
			fputs("}\n", out);
		} else {
			put_totals(acc, o, slow_ms, out);
		}
	} else if (rc == 0 && list) {
		fputs(rows ? "\n]\n" : "]\n", out);
	}
	free(acc);
	if (rc == 0 && (fflush(out) != 0 || ferror(out))) {
		fmt_err(err, errlen, "report %s: write error", def->name);
		rc = -1;
	}
	return rc;
}
