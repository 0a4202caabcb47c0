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

#include "store.h"

#define TEXT_WIDTH 80

struct rctx {
	sqlite3 *db;
	const struct report_opts *o;
	double slow_ms;
	FILE *out;
	char *err;
	size_t errlen;
};

typedef int (*text_fn)(struct rctx *c, sqlite3_stmt *st);

struct report_def {
	const char *name;
	const char *sql;  /* embedded file */
	const char *help; /* one line */
	bool needs_arg;
	bool single;  /* one row: JSON is that object, text is "name value" lines */
	text_fn text; /* NULL: generic aligned table */
};

static int text_slow(struct rctx *c, sqlite3_stmt *st);

static const struct report_def reports[] = {
    {"summary", "reports/summary.sql", "totals of the runs, sessions, slow replies and queries",
     false, true, NULL},
    {"slow", "reports/slow.sql", "slow replies with their causes, newest first", false, false,
     text_slow},
    {"ptr", "reports/ptr.sql", "which PTR lookups delayed which sessions", false, false, NULL},
};
#define N_REPORTS (sizeof(reports) / sizeof(reports[0]))

static void fmt_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fmt_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
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
	static char buf[128];
	if (!buf[0]) {
		size_t n = 0;
		for (size_t i = 0; i < N_REPORTS; i++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? ", " : "",
			                      reports[i].name);
	}
	return buf;
}

int
report_parse_time(const char *s, double *out)
{
	char *end;
	int y, mo, d, h = 0, mi = 0, n = 0;
	double sec = 0;

	if (!s || !*s)
		return -1;
	double v = strtod(s, &end);
	if (*end == '\0' && isfinite(v) && !strchr(s, '-')) {
		*out = v;
		return 0;
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
		return -1;
	const char *p = s + n;
	if (*p == ' ' || *p == 'T') {
		int m = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &m) != 2)
			return -1;
		p += 1 + m;
		if (*p == ':') {
			sec = strtod(p + 1, &end);
			if (end == p + 1)
				return -1;
			p = end;
		}
	}
	if (*p == 'Z')
		p++;
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec < 0 ||
	    sec >= 61)
		return -1;
	struct tm tm = {
	    .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
	*out = (double)timegm(&tm) + sec;
	return 0;
}

int
report_open(sqlite3 **out, const char *path, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	int64_t version = -1;

	*out = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		fmt_err(err, errlen, "cannot open database %s: %s", path,
		        db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	if (version < 0) {
		fmt_err(err, errlen, "cannot read database %s: %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	if (version == 0) {
		fmt_err(err, errlen,
		        "%s is not an mxlag database (no schema version): "
		        "run `mxlag analyze --db %s ...` first",
		        path, path);
		sqlite3_close(db);
		return -1;
	}
	char merr[256];
	if (store_migrate_db(db, merr, sizeof(merr)) != STORE_OK) {
		fmt_err(err, errlen, "%s: %s", path, merr);
		sqlite3_close(db);
		return -1;
	}
	sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL);
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

static int
render_csv(struct rctx *c, sqlite3_stmt *st)
{
	int n = sqlite3_column_count(st);
	bool first = true;
	int rc;

	for (int i = 0; i < n; i++) {
		if (json_only(sqlite3_column_name(st, i)))
			continue;
		if (!first)
			fputc(',', c->out);
		csv_field(c->out, sqlite3_column_name(st, i));
		first = false;
	}
	fputs("\r\n", c->out);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		first = true;
		for (int i = 0; i < n; i++) {
			if (json_only(sqlite3_column_name(st, i)))
				continue;
			if (!first)
				fputc(',', c->out);
			const unsigned char *v = sqlite3_column_text(st, i);
			csv_field(c->out, v ? (const char *)v : "");
			first = false;
		}
		fputs("\r\n", c->out);
	}
	return rc;
}

/* ---- JSON --------------------------------------------------------------------- */

static int
render_json(struct rctx *c, sqlite3_stmt *st, bool single)
{
	int j = col_index(st, "json");
	int rc, rows = 0;

	if (!single)
		fputs("[", c->out);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, j);
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
	if (!single)
		fputs(rows ? "\n]\n" : "]\n", c->out);
	return rc;
}

/* ---- text: generic ------------------------------------------------------------- */

/* one row of "name  value" lines */
static int
render_kv(struct rctx *c, sqlite3_stmt *st)
{
	int n = sqlite3_column_count(st);
	int w = 0;
	int rc = sqlite3_step(st);

	if (rc != SQLITE_ROW)
		return rc;
	for (int i = 0; i < n; i++)
		if (!json_only(sqlite3_column_name(st, i)) &&
		    (int)strlen(sqlite3_column_name(st, i)) > w)
			w = (int)strlen(sqlite3_column_name(st, i));
	for (int i = 0; i < n; i++) {
		const char *name = sqlite3_column_name(st, i);
		const unsigned char *v = sqlite3_column_text(st, i);
		if (json_only(name))
			continue;
		fprintf(c->out, "%-*s  %s\n", w, name, v ? (const char *)v : "-");
	}
	return SQLITE_DONE;
}

#define TABLE_CELL_MAX 40

/* aligned columns; all rows are read first to size the columns */
static int
render_table(struct rctx *c, sqlite3_stmt *st)
{
	int n = sqlite3_column_count(st);
	int *w = calloc((size_t)n, sizeof(*w));
	bool *right = calloc((size_t)n, sizeof(*right));
	char **cells = NULL;
	size_t rows = 0, cap = 0;
	int rc = SQLITE_DONE;

	if (!w || !right)
		goto oom;
	for (int i = 0; i < n; i++)
		w[i] = (int)strlen(sqlite3_column_name(st, i));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (rows == cap) {
			cap = cap ? cap * 2 : 64;
			char **nc = realloc(cells, cap * (size_t)n * sizeof(*cells));
			if (!nc)
				goto oom;
			cells = nc;
		}
		for (int i = 0; i < n; i++) {
			const unsigned char *v = sqlite3_column_text(st, i);
			int t = sqlite3_column_type(st, i);
			char *cell = strdup(v ? (const char *)v : "-");
			if (!cell) {
				for (int k = 0; k < i; k++)
					free(cells[rows * (size_t)n + (size_t)k]);
				goto oom;
			}
			if (strlen(cell) > TABLE_CELL_MAX)
				strcpy(cell + TABLE_CELL_MAX - 3, "...");
			if (t == SQLITE_INTEGER || t == SQLITE_FLOAT)
				right[i] = true;
			if ((int)strlen(cell) > w[i])
				w[i] = (int)strlen(cell);
			cells[rows * (size_t)n + (size_t)i] = cell;
		}
		rows++;
	}
	if (rc == SQLITE_DONE) {
		bool first = true;
		int last = -1; /* the last printed column is not padded */
		for (int i = 0; i < n; i++)
			if (!json_only(sqlite3_column_name(st, i)))
				last = i;
		for (int i = 0; i < n; i++) {
			const char *name = sqlite3_column_name(st, i);
			if (json_only(name))
				continue;
			fprintf(c->out, "%s%*s", first ? "" : " ",
			        right[i]    ? w[i]
			        : i == last ? 0
			                    : -w[i],
			        name);
			first = false;
		}
		fputc('\n', c->out);
		for (size_t r = 0; r < rows; r++) {
			first = true;
			for (int i = 0; i < n; i++) {
				if (json_only(sqlite3_column_name(st, i)))
					continue;
				fprintf(c->out, "%s%*s", first ? "" : " ",
				        right[i]    ? w[i]
				        : i == last ? 0
				                    : -w[i],
				        cells[r * (size_t)n + (size_t)i]);
				first = false;
			}
			fputc('\n', c->out);
		}
		if (rows == 0)
			fputs("(none)\n", c->out);
	}
	for (size_t k = 0; k < rows * (size_t)n; k++)
		free(cells[k]);
	free(cells);
	free(w);
	free(right);
	return rc;
oom:
	for (size_t k = 0; k < rows * (size_t)n; k++)
		free(cells[k]);
	free(cells);
	free(w);
	free(right);
	return SQLITE_NOMEM;
}

/* ---- text: slow --------------------------------------------------------------- */

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
	} else {
		put_wrapped(c->out, indent, "", 6,
		            "no network cause seen: look at local processing");
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
	    " value -> 'upstream' FROM json_each(?1)",
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

static int
text_slow(struct rctx *c, sqlite3_stmt *st)
{
	int rc, rows = 0;

	fprintf(c->out, "slow replies (>= %g ms), newest first, times UTC\n", c->slow_ms);
	fprintf(c->out, "%-19s %7s %-15s %-8s %9s %-4s %s\n", "WHEN", "SESSION", "CLIENT",
	        "COMMAND", "WAIT ms", "CODE", "OUTCOME");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char when[20];
		snprintf(when, sizeof(when), "%s", col_str(st, "start_utc"));
		fprintf(c->out, "%-19s %7s %-15s %-8s %9.1f %-4s %s\n", when,
		        col_str(st, "session"), col_str(st, "client"), col_str(st, "command"),
		        col_double(st, "latency_ms"),
		        col_null(st, "reply_code") ? "-" : col_str(st, "reply_code"),
		        col_str(st, "outcome"));
		const char *causes = col_str(st, "causes_json");
		if (strcmp(causes, "[]") == 0)
			put_wrapped(c->out, 2, "", 4,
			            "causes not analyzed (below the analysis "
			            "threshold?)");
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

/* ---- running ------------------------------------------------------------------ */

static void
bind_params(struct rctx *c, sqlite3_stmt *st)
{
	const struct report_opts *o = c->o;
	int i;

	if ((i = sqlite3_bind_parameter_index(st, ":slow_ms")) > 0)
		sqlite3_bind_double(st, i, c->slow_ms);
	if ((i = sqlite3_bind_parameter_index(st, ":since")) > 0 && !isnan(o->since))
		sqlite3_bind_double(st, i, o->since);
	if ((i = sqlite3_bind_parameter_index(st, ":until")) > 0 && !isnan(o->until))
		sqlite3_bind_double(st, i, o->until);
	if ((i = sqlite3_bind_parameter_index(st, ":limit")) > 0)
		sqlite3_bind_int64(st, i, o->limit > 0 ? o->limit : -1);
	if ((i = sqlite3_bind_parameter_index(st, ":arg")) > 0 && o->arg)
		sqlite3_bind_text(st, i, o->arg, -1, SQLITE_STATIC);
}

int
report_run(sqlite3 *db, const struct report_opts *o, FILE *out, char *err, size_t errlen)
{
	const struct report_def *def = NULL;
	sqlite3_stmt *st = NULL;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	for (size_t i = 0; o->name && i < N_REPORTS; i++)
		if (strcmp(reports[i].name, o->name) == 0)
			def = &reports[i];
	if (!def) {
		fmt_err(err, errlen, "unknown report '%s'; known reports: %s",
		        o->name ? o->name : "", report_names());
		return -1;
	}
	if (o->format != REPORT_TEXT && o->format != REPORT_CSV && o->format != REPORT_JSON) {
		fmt_err(err, errlen,
		        "report %s: format %s is not available (use text, csv or json)", def->name,
		        format_name(o->format));
		return -1;
	}
	if (def->needs_arg && (!o->arg || !o->arg[0])) {
		fmt_err(err, errlen, "report %s needs an argument", def->name);
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
	struct rctx c = {db,  o,   isnan(o->slow_ms) || o->slow_ms <= 0 ? 1000.0 : o->slow_ms,
	                 out, err, errlen};
	bind_params(&c, st);
	switch (o->format) {
	case REPORT_CSV:
		rc = render_csv(&c, st);
		break;
	case REPORT_JSON:
		rc = col_index(st, "json") < 0 ? SQLITE_MISUSE : render_json(&c, st, def->single);
		break;
	default:
		rc = def->text     ? def->text(&c, st)
		     : def->single ? render_kv(&c, st)
		                   : render_table(&c, st);
		break;
	}
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
