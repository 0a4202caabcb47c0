/*
 * html.c - the HTML report (see html.h): one self-contained page with the
 * totals, the slow replies and inline SVG charts computed here from SQL.
 *
 * Everything that came from packets (names, arguments, reply codes) goes
 * through put_esc(), which HTML-escapes it and replaces invalid UTF-8,
 * control and bidi-override characters with U+FFFD.  No wall clock is read:
 * the same database and options give the same bytes.
 */
#include "html.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmterr.h"
#include "hist.h"
#include "store.h"
#include "sqlfn.h"
#include "store.h"

#define SVG_W 1160
#define MAX_GROUPS 40    /* latency rows */
#define NBINS_PER_DEC 5  /* histogram bins per decade */
#define MAX_WAITS_S "20" /* slow replies drawn per session */
#define MAX_WROWS 80     /* waterfall rows per session */
#define MAX_RESOLVERS 12
#define MAX_BUCKETS 60
#define REPLACEMENT "\xef\xbf\xbd"

struct kv {
	char *name, *val;
};

struct hctx {
	sqlite3 *db;
	const struct report_opts *o;
	double slow_ms;
	int compact_slow; /* sqlfn_compact_slow() for slow_ms, read once */
	FILE *out;
	char *err;
	size_t errlen;
	bool failed;
	const char *what; /* section, for error messages */
	struct kv *sum;   /* the summary report's row */
	int nsum;
	char *hosts_json;                /* its per-host rows */
	const char *idp; /* before every element id: "" for one database, "dbN-" on a fleet page */
	int64_t wf[HTML_MAX_WATERFALLS]; /* sessions to draw, newest slow reply first */
	int nwf;
	bool wf_more;
};

#define P(...) fprintf(h->out, __VA_ARGS__)

/* ---- text --------------------------------------------------------------------- */

/* length of the valid UTF-8 sequence at p, 0 if invalid (never reads past a NUL) */
static size_t
utf8_len(const unsigned char *p)
{
	unsigned c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80
		           ? 4
		           : 0;
	}
	return 0;
}

/* C0/C1 controls and the bidi embedding/override/isolate characters */
static bool
unsafe_char(const unsigned char *p, size_t len)
{
	if (len == 1)
		return p[0] < 0x20 || p[0] == 0x7f;
	if (len == 2)
		return p[0] == 0xc2 && p[1] < 0xa0;
	if (len == 3)
		return p[0] == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) ||
		                        (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9));
	return false;
}

static size_t
n_chars(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; n++) {
		size_t l = utf8_len(p);
		p += l ? l : 1;
	}
	return n;
}

/* s escaped for HTML text and attribute values; at most max characters (0 = all) */
static void
put_esc(FILE *out, const char *s, size_t max)
{
	size_t limit = SIZE_MAX, k = 0;
	bool cut = false;

	if (!s)
		return;
	if (max >= 2 && n_chars(s) > max) {
		limit = max - 1;
		cut = true;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p && k < limit; k++) {
		size_t l = utf8_len(p);
		if (l == 0 || unsafe_char(p, l)) {
			fputs(REPLACEMENT, out);
			p += l ? l : 1;
			continue;
		}
		switch (*p) {
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '&':
			fputs("&amp;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			fwrite(p, 1, l, out);
		}
		p += l;
	}
	if (cut)
		fputs("\xe2\x80\xa6", out);
}

#define E(s) put_esc(h->out, (s), 0)
#define ET(s, n) put_esc(h->out, (s), (n))

static char *
dur(char *b, size_t n, double ms)
{
	if (!isfinite(ms))
		snprintf(b, n, "-");
	else if (fabs(ms) < 1)
		snprintf(b, n, "%.2f ms", ms);
	else if (fabs(ms) < 1000)
		snprintf(b, n, "%.1f ms", ms);
	else if (fabs(ms) < 600000)
		snprintf(b, n, "%.1f s", ms / 1000.0);
	else
		snprintf(b, n, "%.1f min", ms / 60000.0);
	return b;
}

/*
 * The page's zone: NULL = UTC, else times are local (TZ) and zone_html is its
 * name, HTML-escaped.  Set by report_html() for the one page it writes.
 */
static const char *page_zone;
static char zone_html[256];

static void
set_zone(const char *tz)
{
	page_zone = tz;
	size_t k = 0;
	for (const char *p = tz ? tz : "UTC"; *p && k + 7 < sizeof(zone_html); p++) {
		const char *r = *p == '<'   ? "&lt;"
		                : *p == '>' ? "&gt;"
		                : *p == '&' ? "&amp;"
		                : *p == '"' ? "&quot;"
		                            : NULL;
		if (r)
			k += (size_t)snprintf(zone_html + k, sizeof(zone_html) - k, "%s", r);
		else
			zone_html[k++] = *p;
	}
	zone_html[k] = '\0';
}

/* t (epoch seconds) as "YYYY-MM-DD HH:MM:SS[.mmm]" in the page's zone */
static char *
utc(char *b, size_t n, double t, bool frac)
{
	struct tm tm;

	if (!isfinite(t) || fabs(t) > 1e11) {
		snprintf(b, n, "-");
		return b;
	}
	long long ms = llround(t * 1000.0);
	long long sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	time_t s = (time_t)sec;
	if (page_zone ? !localtime_r(&s, &tm) : !gmtime_r(&s, &tm)) {
		snprintf(b, n, "-");
		return b;
	}
	size_t k = strftime(b, n, "%Y-%m-%d %H:%M:%S", &tm);
	if (frac && k < n)
		snprintf(b + k, n - k, ".%03lld", ms - sec * 1000);
	return b;
}

/* the outcome words that have a colour; anything else is "other" */
static const char *
ocls(const char *outcome)
{
	static const char *const known[] = {"answered",   "nodata",  "nxdomain",
	                                    "servfail",   "refused", "truncated",
	                                    "unanswered", "ok",      "client-abort"};
	for (size_t i = 0; outcome && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(outcome, known[i]) == 0)
			return known[i];
	return "other";
}

/* ---- SQL ---------------------------------------------------------------------- */

static void
sql_fail(struct hctx *h)
{
	if (!h->failed)
		fmt_err(h->err, h->errlen, "report html (%s): %s", h->what, sqlite3_errmsg(h->db));
	h->failed = true;
}

static void
bind_d(sqlite3_stmt *st, const char *name, double v)
{
	int i = sqlite3_bind_parameter_index(st, name);
	if (i > 0)
		sqlite3_bind_double(st, i, v);
}

static void
bind_i(sqlite3_stmt *st, const char *name, int64_t v)
{
	int i = sqlite3_bind_parameter_index(st, name);
	if (i > 0)
		sqlite3_bind_int64(st, i, v);
}

static void
bind_t(sqlite3_stmt *st, const char *name, const char *v)
{
	int i = sqlite3_bind_parameter_index(st, name);
	if (i > 0)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

/* prepared, with :slow_ms, :since, :until, :limit bound */
static sqlite3_stmt *
prep(struct hctx *h, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (h->failed)
		return NULL;
	if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sql_fail(h);
		sqlite3_finalize(st);
		return NULL;
	}
	bind_d(st, ":slow_ms", h->slow_ms);
	bind_i(st, ":compact_slow", h->compact_slow);
	if (!isnan(h->o->since))
		bind_d(st, ":since", h->o->since);
	if (!isnan(h->o->until))
		bind_d(st, ":until", h->o->until);
	bind_i(st, ":limit", h->o->limit > 0 ? h->o->limit : -1);
	return st;
}

static bool
step(struct hctx *h, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return true;
	if (rc != SQLITE_DONE)
		sql_fail(h);
	return false;
}

static const char *
ct(sqlite3_stmt *st, int i)
{
	return i < 0 ? NULL : (const char *)sqlite3_column_text(st, i);
}

static bool
cnull(sqlite3_stmt *st, int i)
{
	return i < 0 || sqlite3_column_type(st, i) == SQLITE_NULL;
}

static double
cd(sqlite3_stmt *st, int i)
{
	return cnull(st, i) ? NAN : sqlite3_column_double(st, i);
}

static int
cidx(sqlite3_stmt *st, const char *name)
{
	int n = sqlite3_column_count(st);
	for (int i = 0; i < n; i++)
		if (strcmp(sqlite3_column_name(st, i), name) == 0)
			return i;
	return -1;
}

static bool
json_col(const char *name)
{
	size_t n = strlen(name);
	return strcmp(name, "json") == 0 || (n > 5 && strcmp(name + n - 5, "_json") == 0);
}

static const char *
sum_get(struct hctx *h, const char *name)
{
	for (int i = 0; i < h->nsum; i++)
		if (strcmp(h->sum[i].name, name) == 0)
			return h->sum[i].val;
	return NULL;
}

static int
load_summary(struct hctx *h)
{
	const char *sql = store_sql_file("reports/summary.sql");
	sqlite3_stmt *st;

	h->what = "summary";
	if (!sql) {
		fmt_err(h->err, h->errlen, "report html: reports/summary.sql is not embedded");
		return -1;
	}
	if (!(st = prep(h, sql)))
		return -1;
	if (step(h, st)) {
		int n = sqlite3_column_count(st);
		h->sum = calloc((size_t)n, sizeof(*h->sum));
		for (int i = 0; h->sum && i < n; i++) {
			if (strcmp(sqlite3_column_name(st, i), "hosts_json") == 0 && ct(st, i))
				h->hosts_json = strdup(ct(st, i));
			if (json_col(sqlite3_column_name(st, i)))
				continue;
			h->sum[h->nsum].name = strdup(sqlite3_column_name(st, i));
			h->sum[h->nsum].val = ct(st, i) ? strdup(ct(st, i)) : NULL;
			h->nsum++;
		}
	}
	sqlite3_finalize(st);
	return h->failed ? -1 : 0;
}

/* ---- header ------------------------------------------------------------------- */

static const char STYLE[] =
    "body{margin:0;background:#f3f5f8;color:#1c2331;"
    "font:14px/1.45 system-ui,\"Segoe UI\",Roboto,\"DejaVu Sans\",sans-serif}\n"
    "main{max-width:1200px;margin:0 auto;padding:14px 20px 40px}\n"
    "h1{font-size:22px;margin:4px 0}h2{font-size:17px;margin:0 0 8px}"
    "h3{font-size:14px;margin:14px 0 4px}\n"
    "nav a{margin-right:14px}a{color:#1f5fae}\n"
    ".meta{color:#4a5568;margin:2px 0}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}\n"
    ".card{background:#fff;border:1px solid #d6dce5;border-radius:6px;padding:6px 14px;"
    "min-width:110px}\n"
    ".card b{display:block;font-size:20px}.card span{color:#4a5568;font-size:12px}\n"
    ".card.bad b{color:#c62828}\n"
    "section{background:#fff;border:1px solid #d6dce5;border-radius:6px;padding:12px 16px;"
    "margin:16px 0}\n"
    "table{border-collapse:collapse;width:100%}\n"
    "th,td{text-align:left;vertical-align:top;padding:4px 6px}\n"
    "th{border-bottom:2px solid #c9d1dc;font-size:12px;color:#4a5568}\n"
    "tr.main td{border-top:1px solid #e1e6ed}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "td.wait{font-weight:bold;color:#b71c1c}.nw{white-space:nowrap}\n"
    "table.kv{width:auto;min-width:420px}table.kv td{border-top:1px solid #e1e6ed}\n"
    ".mono,code{font-family:\"DejaVu Sans Mono\",Menlo,Consolas,monospace;font-size:12px;"
    "overflow-wrap:anywhere}\n"
    "ul.causes{margin:0;padding-left:16px}ul.causes ul{padding-left:18px}\n"
    "tr.dr td{padding-top:0;color:#333;font-size:13px}tr.dr p{margin:2px 0}\n"
    ".tag{display:inline-block;padding:0 5px;border-radius:3px;color:#fff;font-size:11px;"
    "line-height:16px}\n"
    ".none{color:#6b7280;font-style:italic}\n"
    ".o-answered{background:#2e9d57;fill:#2e9d57}.o-nodata{background:#4aa3c7;fill:#4aa3c7}\n"
    ".o-nxdomain{background:#3b7fc4;fill:#3b7fc4}.o-servfail{background:#e67e22;fill:#e67e22}\n"
    ".o-refused{background:#c0580f;fill:#c0580f}.o-truncated{background:#b89a1e;fill:#b89a1e}\n"
    ".o-unanswered{background:#d32f2f;fill:#d32f2f}.o-other{background:#8a8f98;fill:#8a8f98}\n"
    ".o-ok{background:#2d3e57;fill:#2d3e57}.o-client-abort{background:#8e44ad;fill:#8e44ad}\n"
    ".legend span.tag{margin-right:6px}\n"
    "svg{display:block;max-width:100%;height:auto;margin:4px 0 8px}\n"
    "svg text{font-family:\"DejaVu Sans\",sans-serif;font-size:11px;fill:#1c2331}\n"
    "svg text.m{font-family:\"DejaVu Sans Mono\",monospace}\n"
    "svg text.s{fill:#5b6472;font-size:10px}svg text.b{font-weight:bold}\n"
    "svg .grid{stroke:#e3e7ee;stroke-width:1}svg .axis{stroke:#9aa3b0;stroke-width:1}\n"
    "svg .thr{stroke:#d32f2f;stroke-width:1.2;stroke-dasharray:4 3}\n"
    "svg .hb{fill:#6d8fc7}svg .hb.slow{fill:#d32f2f}\n"
    "svg .p50{stroke:#111;stroke-width:2}svg .p95{stroke:#111;stroke-width:1.5;"
    "stroke-dasharray:3 2}svg .mx{fill:#b71c1c}\n"
    "svg .band{fill:#eef3fb}svg .edge{stroke:#7f9cc9;stroke-width:1;stroke-dasharray:3 3}\n"
    "svg .act{fill:#eceff3}svg .nonebar{fill:none;stroke:#8a8f98;stroke-dasharray:2 2}\n"
    "footer{color:#6b7280;font-size:12px}\n";

static void
card(struct hctx *h, const char *value, const char *label, const char *sub, bool bad)
{
	P("<div class=\"card%s\"><b>", bad ? " bad" : "");
	E(value ? value : "-");
	P("</b><span>%s", label);
	if (sub && *sub) {
		P("<br>");
		E(sub);
	}
	P("</span></div>\n");
}

/* the page up to its content: head, inline style, <main> */
static void
page_head(FILE *out)
{
	fprintf(out,
	        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	        "<title>mxlag report</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n",
	        STYLE);
}

static void
page_foot(FILE *out)
{
	fputs("<footer>Made by mxlag from its database; the same database gives the same page. "
	      "Self-contained: inline CSS and SVG, no scripts, nothing fetched.</footer>\n"
	      "</main>\n</body>\n</html>\n",
	      out);
}

static int
sec_header(struct hctx *h)
{
	sqlite3_stmt *st;
	char a[48], b[48], d[32], sub[96];

	h->what = "header";
	P("<header>\n");
	if (!h->idp[0])
		P("<h1>mxlag &mdash; mail reply latency</h1>\n");
	if (!(st = prep(h, "SELECT count(*), min(first_ts), max(last_ts), sum(packets),"
	                   " sum(kernel_drops) FROM runs")))
		return -1;
	if (step(h, st)) {
		double t0 = cd(st, 1), t1 = cd(st, 2);
		P("<p class=\"meta\">Capture: %s &ndash; %s %s", utc(a, sizeof(a), t0, false),
		  utc(b, sizeof(b), t1, false), zone_html);
		if (isfinite(t0) && isfinite(t1))
			P(" (%s)", dur(d, sizeof(d), (t1 - t0) * 1000.0));
		P(" &middot; %lld run%s &middot; %lld packets", sqlite3_column_int64(st, 0),
		  sqlite3_column_int64(st, 0) == 1 ? "" : "s", sqlite3_column_int64(st, 3));
		if (!cnull(st, 4))
			P(" &middot; %lld kernel drops", sqlite3_column_int64(st, 4));
		P("</p>\n");
	}
	sqlite3_finalize(st);
	P("<p class=\"meta\">Slow threshold %g ms", h->slow_ms);
	if (!isnan(h->o->since))
		P(" &middot; since %s %s", utc(a, sizeof(a), h->o->since, false), zone_html);
	if (!isnan(h->o->until))
		P(" &middot; until %s %s", utc(a, sizeof(a), h->o->until, false), zone_html);
	if (h->o->limit > 0)
		P(" &middot; at most %ld slow replies listed", h->o->limit);
	P(" &middot; times %s</p>\n<div class=\"cards\">\n", zone_html);
	card(h, sum_get(h, "sessions"), "sessions", NULL, false);
	card(h, sum_get(h, "replies"), "replies", NULL, false);
	const char *slow = sum_get(h, "slow");
	snprintf(sub, sizeof(sub), "dns %s &middot; ident %s &middot; none %s",
	         sum_get(h, "slow_dns") ? sum_get(h, "slow_dns") : "-",
	         sum_get(h, "slow_ident") ? sum_get(h, "slow_ident") : "-",
	         sum_get(h, "slow_none") ? sum_get(h, "slow_none") : "-");
	P("<div class=\"card%s\"><b>", slow && strcmp(slow, "0") != 0 ? " bad" : "");
	E(slow ? slow : "-");
	P("</b><span>slow replies<br>%s</span></div>\n", sub); /* sub: digits only */
	const char *p50 = sum_get(h, "median_ms"), *p95 = sum_get(h, "p95_ms"),
	           *mx = sum_get(h, "max_ms");
	snprintf(sub, sizeof(sub), "p95 %s \xc2\xb7 max %s",
	         p95 ? dur(a, sizeof(a), atof(p95)) : "-", mx ? dur(b, sizeof(b), atof(mx)) : "-");
	card(h, p50 ? dur(d, sizeof(d), atof(p50)) : "-", "median reply", sub, false);
	const char *dq = sum_get(h, "dns_unanswered");
	snprintf(sub, sizeof(sub), "%s unanswered", dq ? dq : "-");
	card(h, sum_get(h, "dns_queries"), "DNS queries", sub, dq && strcmp(dq, "0") != 0);
	const char *iu = sum_get(h, "ident_unanswered");
	snprintf(sub, sizeof(sub), "%s unanswered", iu ? iu : "-");
	card(h, sum_get(h, "ident_probes"), "ident probes", sub, iu && strcmp(iu, "0") != 0);
	const char *nh = sum_get(h, "hosts");
	const char *ip = h->idp;
	P("</div>\n<nav><a href=\"#%sincidents\">Incidents</a>", ip);
	if (nh && atoi(nh) > 1 && h->hosts_json)
		P("<a href=\"#%shosts\">Hosts</a>", ip);
	P("<a href=\"#%sslow\">Slow replies</a><a href=\"#%swaterfalls\">Waterfalls</a>", ip, ip);
	const char *nb = sum_get(h, "big_messages");
	if (nb && atoi(nb) > 0)
		P("<a href=\"#%sbig\">Big messages</a>", ip);
	P("<a href=\"#%slatency\">Latency per command</a><a href=\"#%sdns\">Unanswered DNS</a>"
	  "<a href=\"#%stotals\">Totals</a></nav>\n</header>\n",
	  ip, ip, ip);
	return h->failed ? -1 : 0;
}

/* ---- slow replies ------------------------------------------------------------- */

static void
put_causes(struct hctx *h, const char *json, bool upstream, bool outbound)
{
	sqlite3_stmt *st;
	char a[32];

	st = prep(h, "SELECT value ->> 'kind', value ->> 'relation', value ->> 'qtype',"
	             " value ->> 'qname', coalesce(value ->> 'resolver', value ->> 'peer'),"
	             " value ->> 'outcome', value ->> 'query_ms', value ->> 'share',"
	             " value -> 'upstream', value ->> 'bytes', value ->> 'session'"
	             " FROM json_each(:json)");
	if (!st)
		return;
	bind_t(st, ":json", json);
	P("<ul class=\"causes\">");
	while (step(h, st)) {
		const char *kind = ct(st, 0), *outcome = ct(st, 5);
		if (kind && strcmp(kind, "big-message") == 0) {
			P("<li class=\"none\">big message <b>%.1f MB</b> in session %lld (<code>",
			  cd(st, 9) / 1e6, (long long)sqlite3_column_int64(st, 10));
			E(ct(st, 4));
			P("</code>) on the same host");
			if (!cnull(st, 7))
				P(", %.0f%% of the wait", cd(st, 7) * 100.0);
			P("</li>");
			continue;
		}
		if (!kind || (strcmp(kind, "dns") != 0 && strcmp(kind, "ident") != 0)) {
			P("<li class=\"none\">%s: %s</li>", report_no_cause(outbound),
			  report_no_cause_advice(outbound));
			continue;
		}
		P("<li><span class=\"tag o-%s\">", ocls(outcome));
		E(outcome ? outcome : "?");
		P("</span> ");
		if (strcmp(kind, "dns") == 0) {
			P("%s <b>", upstream ? "upstream" : "dns");
			E(upstream ? NULL : ct(st, 1));
			P("</b> ");
			E(ct(st, 2));
			P(" <code>");
			ET(ct(st, 3), 120);
			P("</code> to ");
		} else {
			P("ident to ");
		}
		P("<code>");
		E(ct(st, 4));
		P("</code>, %s", dur(a, sizeof(a), cd(st, 6)));
		if (!upstream && !cnull(st, 7))
			P(", %.0f%% of the wait", cd(st, 7) * 100.0);
		const char *up = ct(st, 8);
		if (up && strcmp(up, "[]") != 0)
			put_causes(h, up, true, outbound);
		P("</li>");
	}
	P("</ul>");
	sqlite3_finalize(st);
}

static void
note_session(struct hctx *h, int64_t sid)
{
	for (int i = 0; i < h->nwf; i++)
		if (h->wf[i] == sid)
			return;
	if (h->nwf < HTML_MAX_WATERFALLS)
		h->wf[h->nwf++] = sid;
	else
		h->wf_more = true;
}

static int
sec_slow(struct hctx *h)
{
	const char *sql = store_sql_file("reports/slow.sql");
	sqlite3_stmt *st;
	char a[48];
	int rows = 0;

	h->what = "slow replies";
	if (!sql) {
		fmt_err(h->err, h->errlen, "report html: reports/slow.sql is not embedded");
		return -1;
	}
	if (!(st = prep(h, sql)))
		return -1;
	/* at most max rows, and one more to know that there were more */
	long max = h->o->limit > 0 ? h->o->limit : HTML_MAX_SLOW;
	bool more = false;
	bind_i(st, ":limit", max + 1);
	int c_tid = cidx(st, "transaction"), c_sid = cidx(st, "session"),
	    c_proto = cidx(st, "protocol"), c_cli = cidx(st, "client"),
	    c_cport = cidx(st, "client_port"), c_srv = cidx(st, "server"),
	    c_sport = cidx(st, "server_port"), c_cmd = cidx(st, "command"),
	    c_arg = cidx(st, "argument"), c_start = cidx(st, "start"),
	    c_lat = cidx(st, "latency_ms"), c_code = cidx(st, "reply_code"),
	    c_out = cidx(st, "outcome"), c_causes = cidx(st, "causes_json"),
	    c_diag = cidx(st, "diagnosis"), c_rem = cidx(st, "remedy"),
	    c_outb = cidx(st, "outbound");
	P("<section id=\"%sslow\">\n<h2>Slow replies (&ge; %g ms), newest first</h2>\n", h->idp,
	  h->slow_ms);
	while (step(h, st)) {
		if (rows == max) {
			more = true;
			break;
		}
		if (rows++ == 0)
			P("<table>\n<tr><th>When (%s)</th><th>Session</th><th>Connection</th>"
			  "<th>Command</th><th>Wait</th><th>Reply</th><th>Causes</th></tr>\n",
			  zone_html);
		int64_t sid = sqlite3_column_int64(st, c_sid);
		if (!cnull(st, c_sid))
			note_session(h, sid);
		P("<tr class=\"main\" id=\"%st%lld\"><td class=\"mono nw\">%s</td><td class=\"num\">",
		  h->idp, (long long)sqlite3_column_int64(st, c_tid),
		  utc(a, sizeof(a), cd(st, c_start), true));
		if (!cnull(st, c_sid))
			P("<a href=\"#%ss%lld\">%lld</a>", h->idp, (long long)sid, (long long)sid);
		P("</td><td class=\"mono\">");
		E(ct(st, c_proto));
		P(" ");
		E(ct(st, c_cli));
		P(":%d &rarr; ", sqlite3_column_int(st, c_cport));
		E(ct(st, c_srv));
		P(":%d</td><td><b>", sqlite3_column_int(st, c_sport));
		E(ct(st, c_cmd));
		P("</b>");
		if (!cnull(st, c_arg)) {
			P(" <code>");
			ET(ct(st, c_arg), 60);
			P("</code>");
		}
		P("</td><td class=\"num wait\">%s</td><td>", dur(a, sizeof(a), cd(st, c_lat)));
		E(cnull(st, c_code) ? "-" : ct(st, c_code));
		P(" <span class=\"tag o-%s\">", ocls(ct(st, c_out)));
		E(ct(st, c_out));
		P("</span></td><td>");
		const char *causes = ct(st, c_causes);
		if (!causes || strcmp(causes, "[]") == 0)
			P("<span class=\"none\">causes not analyzed (below the analysis "
			  "threshold?)</span>");
		else
			put_causes(h, causes, false, sqlite3_column_int(st, c_outb) != 0);
		P("</td></tr>\n");
		if (!cnull(st, c_diag) || !cnull(st, c_rem)) {
			P("<tr class=\"dr\"><td></td><td colspan=\"6\">");
			if (!cnull(st, c_diag)) {
				P("<p><b>Diagnosis:</b> ");
				E(ct(st, c_diag));
				P("</p>");
			}
			if (!cnull(st, c_rem)) {
				P("<p><b>Remedy:</b> ");
				E(ct(st, c_rem));
				P("</p>");
			}
			P("</td></tr>\n");
		}
	}
	sqlite3_finalize(st);
	if (rows)
		P("</table>\n");
	else
		P("<p class=\"none\">No slow replies in this window.</p>\n");
	if (more)
		P("<p class=\"none\">Only the %d newest slow replies of this window are listed (the "
		  "totals above count them all); narrow the report with --since/--until, or list "
		  "more with --limit.</p>\n",
		  rows);
	P("</section>\n");
	return h->failed ? -1 : 0;
}

/* ---- waterfalls --------------------------------------------------------------- */

struct wrow {
	double t0, t1;
	int depth; /* 0: the client's wait, 1: a cause, 2: an upstream query */
	int wait;  /* index of the wait row this row belongs to */
	const char *cls;
	char *label, *note, *tip;
};

struct wf {
	struct wrow r[MAX_WROWS];
	int n;
	bool cut;
};

static struct wrow *
wf_add(struct wf *w)
{
	if (w->n == MAX_WROWS) {
		w->cut = true;
		return NULL;
	}
	struct wrow *r = &w->r[w->n++];
	memset(r, 0, sizeof(*r));
	return r;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
xprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

#define S(x) ((x) ? (x) : "?")

static void
wf_causes(struct hctx *h, struct wf *w, int wait, int64_t id, double wend, bool upstream,
          bool outbound)
{
	static const char *const sql[2] = {
	    "SELECT c.id, c.kind, c.relation, q.qtype, q.qname, q.server, q.outcome, q.ts,"
	    " q.retransmits, coalesce(c.query_ms, q.latency_ms, (:wend - q.ts) * 1000.0),"
	    " i.peer, i.outcome, i.ts, coalesce(c.query_ms, i.latency_ms, (:wend - i.ts) * 1000.0),"
	    " i.syn_retransmits, c.share, c.session_ref,"
	    " (SELECT b.max_message FROM sessions AS b WHERE b.id = c.session_ref)"
	    " FROM causes AS c LEFT JOIN dns_queries AS q ON q.id = c.dns_query_id"
	    " LEFT JOIN ident_probes AS i ON i.id = c.ident_probe_id"
	    " WHERE c.transaction_id = :id AND c.parent_id IS NULL"
	    " ORDER BY c.kind = 'none', coalesce(q.ts, i.ts), c.id",
	    "SELECT c.id, c.kind, c.relation, q.qtype, q.qname, q.server, q.outcome, q.ts,"
	    " q.retransmits, coalesce(c.query_ms, q.latency_ms, (:wend - q.ts) * 1000.0),"
	    " NULL, NULL, NULL, NULL, NULL, c.share, NULL, NULL"
	    " FROM causes AS c LEFT JOIN dns_queries AS q ON q.id = c.dns_query_id"
	    " WHERE c.parent_id = :id ORDER BY q.ts, c.id"};
	sqlite3_stmt *st = prep(h, sql[upstream]);
	char a[32];

	if (!st)
		return;
	bind_i(st, ":id", id);
	bind_d(st, ":wend", wend);
	while (step(h, st)) {
		const char *kind = ct(st, 1);
		struct wrow *r;
		if (!(r = wf_add(w)))
			break;
		r->wait = wait;
		r->depth = upstream ? 2 : 1;
		if (kind && strcmp(kind, "dns") == 0 && !cnull(st, 7)) {
			r->t0 = cd(st, 7);
			r->t1 = r->t0 + fmax(cd(st, 9), 0) / 1000.0;
			r->cls = ocls(ct(st, 6));
			r->label = xprintf("%s%s %s %s", upstream ? "\xe2\x86\xb3 " : "",
			                   upstream ? "upstream" : S(ct(st, 2)), S(ct(st, 3)),
			                   S(ct(st, 4)));
			int rt = sqlite3_column_int(st, 8);
			r->note = rt > 0 ? xprintf("%s after %s, to %s, %d retransmit%s",
			                           S(ct(st, 6)), dur(a, sizeof(a), cd(st, 9)),
			                           S(ct(st, 5)), rt, rt == 1 ? "" : "s")
			                 : xprintf("%s after %s, to %s", S(ct(st, 6)),
			                           dur(a, sizeof(a), cd(st, 9)), S(ct(st, 5)));
			int64_t cid = sqlite3_column_int64(st, 0);
			if (!upstream)
				wf_causes(h, w, wait, cid, wend, true, outbound);
		} else if (kind && strcmp(kind, "ident") == 0 && !cnull(st, 12)) {
			r->t0 = cd(st, 12);
			r->t1 = r->t0 + fmax(cd(st, 13), 0) / 1000.0;
			r->cls = ocls(ct(st, 11));
			r->label = xprintf("ident %s port 113", S(ct(st, 10)));
			int rt = sqlite3_column_int(st, 14);
			r->note =
			    rt > 0 ? xprintf("%s after %s, %d SYN retransmit%s", S(ct(st, 11)),
			                     dur(a, sizeof(a), cd(st, 13)), rt, rt == 1 ? "" : "s")
			           : xprintf("%s after %s", S(ct(st, 11)),
			                     dur(a, sizeof(a), cd(st, 13)));
		} else if (kind && strcmp(kind, "big-message") == 0) {
			r->t0 = r->t1 = NAN; /* drawn over the wait */
			r->cls = NULL;
			r->label = xprintf("big message %.1f MB", cd(st, 17) / 1e6);
			r->note = xprintf("in session %lld on the same host, %.0f%% of the wait: "
			                  "message size limits",
			                  (long long)sqlite3_column_int64(st, 16), cd(st, 15) * 100.0);
		} else {
			r->t0 = r->t1 = NAN; /* drawn over the wait */
			r->cls = NULL;
			r->label = xprintf("%s", report_no_cause(outbound));
			r->note = xprintf("%s%s", report_no_cause_advice(outbound),
			                  outbound ? "" : " (filters, disk)");
		}
		if (r->label && r->note)
			r->tip = xprintf("%s: %s", r->label, r->note);
	}
	sqlite3_finalize(st);
}

static double
nice_step(double span, int max_ticks)
{
	static const double m[] = {1, 2, 5};
	for (double p = 1e-4;; p *= 10)
		for (int i = 0; i < 3; i++)
			if (span / (p * m[i]) <= max_ticks)
				return p * m[i];
}

static void
wf_draw(struct hctx *h, struct wf *w)
{
	const double x0 = 440, x1 = SVG_W - 70;
	const int top = 26, rh = 30;
	double t0 = INFINITY, t1 = -INFINITY;
	char a[32];

	for (int i = 0; i < w->n; i++)
		if (isfinite(w->r[i].t0)) {
			t0 = fmin(t0, w->r[i].t0);
			t1 = fmax(t1, w->r[i].t1);
		}
	if (!isfinite(t0))
		return;
	double span = fmax(t1 - t0, 0.001);
	double step_s = nice_step(span, 8);
#define X(t) (x0 + ((t)-t0) / span * (x1 - x0))
	int height = top + w->n * rh + 8;
	P("<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n", SVG_W, height,
	  SVG_W, height);
	/* bands: each wait over its cause rows */
	for (int i = 0; i < w->n; i++) {
		if (w->r[i].depth != 0)
			continue;
		int last = i;
		while (last + 1 < w->n && w->r[last + 1].depth != 0)
			last++;
		double bx0 = X(w->r[i].t0), bx1 = X(w->r[i].t1);
		P("<rect class=\"band\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\"/>\n", bx0,
		  top + i * rh, fmax(bx1 - bx0, 1), (last - i + 1) * rh);
		P("<line class=\"edge\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
		  "<line class=\"edge\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n",
		  bx0, top + i * rh, bx0, top + (last + 1) * rh, bx1, top + i * rh, bx1,
		  top + (last + 1) * rh);
	}
	/* time axis */
	for (double t = 0; t <= span * 1.0001; t += step_s) {
		double x = x0 + t / span * (x1 - x0);
		P("<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", x, top - 6,
		  x, height - 8);
		if (step_s >= 1 || span >= 1)
			P("<text class=\"s\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">+%.*f "
			  "s</text>\n",
			  x, top - 10, step_s >= 1 ? 0 : 1, t);
		else
			P("<text class=\"s\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">+%.0f "
			  "ms</text>\n",
			  x, top - 10, t * 1000);
	}
	for (int i = 0; i < w->n; i++) {
		struct wrow *r = &w->r[i];
		int y = top + i * rh;
		int indent = r->depth * 14;
		P("<g>");
		if (r->tip) {
			P("<title>");
			E(r->tip);
			P("</title>");
		}
		P("<text class=\"m%s\" x=\"%d\" y=\"%d\">", r->depth == 0 ? " b" : "", 4 + indent,
		  y + 13);
		ET(r->label, (size_t)(60 - r->depth * 2));
		P("</text><text class=\"s\" x=\"%d\" y=\"%d\">", 4 + indent, y + 25);
		ET(r->note, (size_t)(74 - r->depth * 2));
		P("</text>");
		if (!r->cls) { /* "none": a dotted outline over the wait */
			const struct wrow *wr = &w->r[r->wait];
			P("<rect class=\"nonebar\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
			  "height=\"12\"/>",
			  X(wr->t0), y + 9, fmax(X(wr->t1) - X(wr->t0), 1));
		} else {
			double bx0 = X(r->t0), bx1 = X(r->t1);
			int bh = r->depth == 0 ? 18 : 12;
			P("<rect class=\"o-%s\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
			  "rx=\"2\"/>",
			  r->cls, bx0, y + (rh - bh) / 2, fmax(bx1 - bx0, 1.5), bh);
			dur(a, sizeof(a), (r->t1 - r->t0) * 1000.0);
			if (bx1 + 6 + 7.0 * (double)strlen(a) < SVG_W)
				P("<text class=\"s\" x=\"%.1f\" y=\"%d\">%s</text>", bx1 + 4,
				  y + rh / 2 + 4, a);
		}
		P("</g>\n");
	}
	P("</svg>\n");
#undef X
}

static void
wf_free(struct wf *w)
{
	for (int i = 0; i < w->n; i++) {
		free(w->r[i].label);
		free(w->r[i].note);
		free(w->r[i].tip);
	}
	w->n = 0;
}

static int
wf_session(struct hctx *h, int64_t sid, struct wf *w)
{
	sqlite3_stmt *st;
	char a[48], d[32];
	bool outbound = false;

	if (!(st = prep(h, "SELECT protocol, client, client_port, server, server_port, start,"
	                   " outcome, outbound FROM sessions WHERE id = :sid")))
		return -1;
	bind_i(st, ":sid", sid);
	P("<h3 id=\"%ss%lld\">Session %lld", h->idp, (long long)sid, (long long)sid);
	if (step(h, st)) {
		outbound = sqlite3_column_int(st, 7) != 0;
		P(" &middot; ");
		E(ct(st, 0));
		P("%s <span class=\"mono\">", outbound ? " outbound" : "");
		E(ct(st, 1));
		P(":%d &rarr; ", sqlite3_column_int(st, 2));
		E(ct(st, 3));
		P(":%d</span> &middot; %s %s &middot; ", sqlite3_column_int(st, 4),
		  utc(a, sizeof(a), cd(st, 5), true), zone_html);
		E(ct(st, 6));
	}
	P("</h3>\n");
	sqlite3_finalize(st);
	if (!(st = prep(h, "SELECT id, command || coalesce(' ' || guess || '?', ''), request_ts,"
	                   " coalesce(reply_ts, end_ts, request_ts + latency_ms / 1000.0),"
	                   " latency_ms, coalesce(reply_code, CASE WHEN reply_ts IS NOT NULL"
	                   " THEN coalesce(reply_text, 'reply') END), outcome FROM replies"
	                   " WHERE session_id = :sid AND latency_ms >= :slow_ms"
	                   " AND (:since IS NULL OR request_ts >= :since)"
	                   " AND (:until IS NULL OR request_ts < :until)"
	                   " ORDER BY request_ts, id LIMIT " MAX_WAITS_S)))
		return -1;
	bind_i(st, ":sid", sid);
	while (step(h, st)) {
		struct wrow *r = wf_add(w);
		if (!r)
			break;
		int wi = w->n - 1;
		r->t0 = cd(st, 2);
		r->t1 = cd(st, 3);
		if (!isfinite(r->t0) || !isfinite(r->t1)) {
			w->n--;
			continue;
		}
		r->wait = wi;
		r->cls = ocls(ct(st, 6));
		if (strcmp(r->cls, "ok") != 0 && strcmp(r->cls, "client-abort") != 0)
			r->cls = "other";
		r->label = xprintf("%s \xe2\x86\x92 %s", S(ct(st, 1)),
		                   cnull(st, 5) ? "no reply" : ct(st, 5));
		r->note = xprintf("the client waited %s (%s)", dur(d, sizeof(d), cd(st, 4)),
		                  S(ct(st, 6)));
		if (r->label && r->note)
			r->tip = xprintf("%s: %s", r->label, r->note);
		wf_causes(h, w, wi, sqlite3_column_int64(st, 0), r->t1, false, outbound);
		if (w->n == wi + 1) {
			struct wrow *n = wf_add(w);
			if (n) {
				n->wait = wi;
				n->depth = 1;
				n->t0 = n->t1 = NAN;
				n->label = xprintf("causes not analyzed");
				n->note = xprintf("below the analysis threshold?");
			}
		}
	}
	sqlite3_finalize(st);
	if (h->failed)
		return -1;
	wf_draw(h, w);
	if (w->cut)
		P("<p class=\"none\">(more rows than drawn)</p>\n");
	return 0;
}

static int
sec_waterfalls(struct hctx *h)
{
	h->what = "waterfalls";
	P("<section id=\"%swaterfalls\">\n<h2>Waterfalls: what the host did while the client "
	  "waited</h2>\n<p class=\"legend\">Per session with slow replies: the client's wait (dark "
	  "bar, shaded band) and under it the DNS queries and ident probes that overlapped it, "
	  "on one time axis, coloured by outcome: ",
	  h->idp);
	static const char *const leg[] = {"answered", "nodata",    "nxdomain",   "servfail",
	                                  "refused",  "truncated", "unanswered", "other"};
	for (size_t i = 0; i < sizeof(leg) / sizeof(leg[0]); i++)
		P("<span class=\"tag o-%s\">%s</span>", leg[i], leg[i]);
	P("</p>\n");
	if (h->nwf == 0)
		P("<p class=\"none\">No slow replies in this window.</p>\n");
	for (int i = 0; i < h->nwf; i++) {
		struct wf *w = calloc(1, sizeof(*w));
		if (!w) {
			fmt_err(h->err, h->errlen, "report html: out of memory");
			return -1;
		}
		int rc = wf_session(h, h->wf[i], w);
		wf_free(w);
		free(w);
		if (rc != 0)
			return -1;
	}
	if (h->wf_more)
		P("<p class=\"none\">Only the %d sessions with the newest slow replies are drawn; "
		  "narrow the report with --since/--until or --limit.</p>\n",
		  HTML_MAX_WATERFALLS);
	P("</section>\n");
	return 0;
}

/* ---- latency per command ------------------------------------------------------ */

struct lgroup {
	char *proto, *cmd;
	int outb, rank;
	int64_t n, seen, nslow;
	double p50, p95, max;
	double lo, hi; /* smallest and largest latency */
	int64_t bins[12 * NBINS_PER_DEC];
};

static int
cmd_rank(const char *c)
{
	static const char *const order[] = {
	    "GREETING", "HELO", "EHLO", "STARTTLS", "STLS",     "TLS-HELLO", "CAPA", "AUTH", "USER",
	    "PASS",     "APOP", "MAIL", "RCPT",     "DATA", "DATA-END",  "BDAT", "STAT", "LIST",
	    "UIDL",     "RETR", "TOP",  "DELE",     "VRFY", "EXPN",      "RSET", "NOOP", "QUIT"};
	char g[16];
	int base = 0;
	if (c && strncmp(c, "TLS ", 4) == 0) {
		/* an encrypted exchange "TLS RCPT?": after the clear ones, by its guess */
		size_t n = strcspn(c + 4, "?");
		snprintf(g, sizeof(g), "%.*s", (int)(n < sizeof(g) - 1 ? n : sizeof(g) - 1), c + 4);
		c = g;
		base = 100;
	} else if (c && strcmp(c, "TLS") == 0) {
		return 199;
	}
	for (size_t i = 0; c && i < sizeof(order) / sizeof(order[0]); i++)
		if (strcmp(c, order[i]) == 0)
			return base + (int)i;
	return base ? 199 : 1000;
}

static int
by_count(const void *a, const void *b)
{
	const struct lgroup *x = a, *y = b;
	return x->n != y->n ? (x->n < y->n ? 1 : -1) : strcmp(x->cmd, y->cmd);
}

static int
by_order(const void *a, const void *b)
{
	const struct lgroup *x = a, *y = b;
	int c = strcmp(x->proto, y->proto);
	if (c)
		return c;
	if (x->outb != y->outb)
		return x->outb - y->outb;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	return strcmp(x->cmd, y->cmd);
}

static const char WINDOW_T[] = " t.request_ts >= coalesce(:since, -1e18)"
                               " AND t.request_ts < coalesce(:until, 1e18)";
/* the histograms of the minutes the window starts in and covers (hist.h) */
static const char WINDOW_H[] = " minute >= coalesce(floor(:since / 60.0) * 60, -1e18)"
                               " AND minute < coalesce(floor(:until / 60.0) * 60, 1e18)";

static void
lat_draw(struct hctx *h, struct lgroup *g, int ng, int lo, int hi)
{
	const double x0 = 210, x1 = 860;
	const int top = 28, rh = 34, bh = 26;
	int nb = (hi - lo) * NBINS_PER_DEC;
	int height = top + ng * rh + 30;
	char a[32], b[32], c[32];

#define LX(v) (x0 + (log10(fmax((v), 1e-9)) - lo) / (double)(hi - lo) * (x1 - x0))
	P("<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n", SVG_W, height,
	  SVG_W, height);
	for (int d = lo; d <= hi; d++) {
		double x = x0 + (double)(d - lo) / (hi - lo) * (x1 - x0), v = pow(10, d);
		P("<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", x, top - 4,
		  x, top + ng * rh);
		if (v < 1000)
			P("<text class=\"s\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g "
			  "ms</text>\n",
			  x, top - 8, v);
		else
			P("<text class=\"s\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g "
			  "s</text>\n",
			  x, top - 8, v / 1000);
	}
	double tx = LX(h->slow_ms);
	P("<line class=\"thr\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", tx, top - 2, tx,
	  top + ng * rh + 4);
	P("<text class=\"s\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">slow &#8805; %s</text>\n",
	  tx, top + ng * rh + 16, dur(a, sizeof(a), h->slow_ms));
	for (int i = 0; i < ng; i++) {
		struct lgroup *r = &g[i];
		int base = top + (i + 1) * rh - 4;
		int64_t maxc = 1;
		for (int k = 0; k < nb; k++)
			if (r->bins[k] > maxc)
				maxc = r->bins[k];
		P("<line class=\"axis\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n", x0, base,
		  x1, base);
		P("<text class=\"m b\" x=\"%.1f\" y=\"%d\" text-anchor=\"end\">", x0 - 10,
		  base - 8);
		E(r->proto);
		P("%s ", r->outb ? " out" : "");
		ET(r->cmd, 16);
		P("</text>\n");
		for (int k = 0; k < nb; k++) {
			if (!r->bins[k])
				continue;
			double e0 = pow(10, lo + (double)k / NBINS_PER_DEC);
			double e1 = pow(10, lo + (double)(k + 1) / NBINS_PER_DEC);
			double hgt = fmax(2, sqrt((double)r->bins[k] / (double)maxc) * bh);
			double bx = x0 + (double)k / nb * (x1 - x0);
			P("<rect class=\"hb%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			  "height=\"%.1f\">"
			  "<title>",
			  e0 >= h->slow_ms * 0.999 ? " slow" : "", bx, base - hgt,
			  (x1 - x0) / nb - 1, hgt);
			E(r->cmd);
			P(": %lld repl%s %s &#8211; %s</title></rect>\n", (long long)r->bins[k],
			  r->bins[k] == 1 ? "y" : "ies", dur(a, sizeof(a), e0),
			  dur(b, sizeof(b), e1));
		}
		double px = LX(r->p50), qx = LX(r->p95), mx = LX(r->max);
		P("<line class=\"p50\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", px,
		  base - bh - 2, px, base + 2);
		P("<line class=\"p95\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", qx,
		  base - bh - 2, qx, base + 2);
		P("<path class=\"mx\" d=\"M%.1f %d l4 5 l-4 5 l-4 -5 z\"/>\n", mx, base - bh - 4);
		P("<text x=\"%.1f\" y=\"%d\">%lld repl%s%s", x1 + 14, base - 12, (long long)r->n,
		  r->n == 1 ? "y" : "ies", r->nslow ? ", " : "");
		if (r->nslow)
			P("<tspan style=\"fill:#c62828;font-weight:bold\">%lld slow</tspan>",
			  (long long)r->nslow);
		P("</text><text class=\"s\" x=\"%.1f\" y=\"%d\">p50 %s &#183; p95 %s &#183; max "
		  "%s</text>\n",
		  x1 + 14, base + 1, dur(a, sizeof(a), r->p50), dur(b, sizeof(b), r->p95),
		  dur(c, sizeof(c), r->max));
	}
	P("</svg>\n");
#undef LX
}

static int
sec_latency(struct hctx *h)
{
	struct hist *hg = NULL; /* per group drawn */
	struct lgroup *g = NULL;
	int ng = 0, cap = 0, total = 0;
	sqlite3_stmt *st;
	char sql[1024];
	double gmin = INFINITY, gmax = 0;

	h->what = "latency";
	P("<section id=\"%slatency\">\n<h2>Reply latency per command</h2>\n"
	  "<p class=\"legend\">Log-scale histogram of every reply's latency (bar height &#8733; "
	  "&#8730;count; red bins are slow), solid tick: median, dashed tick: p95, "
	  "diamond: maximum.</p>\n",
	  h->idp);
	/* the groups: from the histograms of the window's minutes (hist.h) */
	snprintf(sql, sizeof(sql),
	         "SELECT coalesce(protocol, '?'), outbound,"
	         " coalesce(command || coalesce(' ' || guess || '?', ''), '?'), sum(n),"
	         " min(min_ms), max(max_ms)"
	         " FROM latency_hist WHERE n > 0 AND %s GROUP BY 1, 2, 3",
	         WINDOW_H);
	if (!(st = prep(h, sql)))
		return -1;
	while (step(h, st)) {
		if (ng == cap) {
			cap = cap ? cap * 2 : 32;
			struct lgroup *n = realloc(g, (size_t)cap * sizeof(*g));
			if (!n)
				break;
			g = n;
		}
		struct lgroup *r = &g[ng++];
		memset(r, 0, sizeof(*r));
		r->proto = strdup(S(ct(st, 0)));
		r->outb = sqlite3_column_int(st, 1);
		r->cmd = strdup(S(ct(st, 2)));
		r->n = sqlite3_column_int64(st, 3);
		r->rank = cmd_rank(r->cmd);
		r->lo = sqlite3_column_double(st, 4);
		r->hi = sqlite3_column_double(st, 5);
		if (!r->proto || !r->cmd) {
			free(r->proto);
			free(r->cmd);
			ng--;
		}
	}
	sqlite3_finalize(st);
	total = ng;
	if (ng > MAX_GROUPS) {
		qsort(g, (size_t)ng, sizeof(*g), by_count);
		for (int i = MAX_GROUPS; i < ng; i++) {
			free(g[i].proto);
			free(g[i].cmd);
		}
		ng = MAX_GROUPS;
	}
	if (ng)
		qsort(g, (size_t)ng, sizeof(*g), by_order);
	/* the range of the groups drawn, then their bins */
	hg = ng ? calloc((size_t)ng, sizeof(*hg)) : NULL;
	if (ng && !hg) {
		h->failed = true;
		goto out;
	}
	for (int i = 0; i < ng; i++) {
		if (g[i].lo > 0 && g[i].lo < gmin)
			gmin = g[i].lo;
		if (g[i].hi > gmax)
			gmax = g[i].hi;
	}
	snprintf(sql, sizeof(sql),
	         "SELECT coalesce(protocol, '?'), outbound,"
	         " coalesce(command || coalesce(' ' || guess || '?', ''), '?'), bins, min_ms, max_ms"
	         " FROM latency_hist WHERE n > 0 AND %s",
	         WINDOW_H);
	int lo = 0, hi = 0;
	if (ng && !h->failed) {
		if (!(st = prep(h, sql)))
			goto out;
		if (!isfinite(gmin))
			gmin = 0.01;
		lo = (int)floor(log10(fmax(gmin, 0.01)));
		hi = (int)ceil(log10(fmax(fmax(gmax, h->slow_ms), 0.01) * 1.0001));
		if (hi > 9)
			hi = 9;
		if (lo < hi - 11)
			lo = hi - 11;
		if (hi - lo < 3)
			lo = hi - 3;
		int nb = (hi - lo) * NBINS_PER_DEC;
		while (step(h, st)) {
			const char *p = S(ct(st, 0)), *c = S(ct(st, 2));
			int ob = sqlite3_column_int(st, 1);
			int gi = -1;
			for (int i = 0; i < ng && gi < 0; i++)
				if (strcmp(g[i].proto, p) == 0 && g[i].outb == ob &&
				    strcmp(g[i].cmd, c) == 0)
					gi = i;
			if (gi < 0)
				continue;
			const char *bins = (const char *)sqlite3_column_text(st, 3);
			double mn = sqlite3_column_double(st, 4), mx = sqlite3_column_double(st, 5);
			bool first = hg[gi].n == 0;
			if (!bins || hist_merge_text(&hg[gi], bins,
			                             (size_t)sqlite3_column_bytes(st, 3)) != 0)
				continue;
			if (first || mn < hg[gi].min_ms)
				hg[gi].min_ms = mn;
			if (first || mx > hg[gi].max_ms)
				hg[gi].max_ms = mx;
		}
		sqlite3_finalize(st);
		for (int i = 0; i < ng; i++) {
			struct lgroup *cur = &g[i];
			cur->p50 = hist_percentile(&hg[i], 50);
			cur->p95 = hist_percentile(&hg[i], 95);
			cur->max = hg[i].max_ms;
			for (int b = 0; b < HIST_NBINS; b++) {
				if (!hg[i].c[b])
					continue;
				double v = fmax(fmin(hist_value(b), hg[i].max_ms), hg[i].min_ms);
				int k = v > 0 ? (int)floor((log10(v) - lo) * NBINS_PER_DEC) : 0;
				cur->bins[k < 0 ? 0 : k >= nb ? nb - 1 : k] += hg[i].c[b];
			}
		}
		/* the slow replies of each group: their rows */
		snprintf(sql, sizeof(sql),
		         "SELECT coalesce(s.protocol, '?'), coalesce(s.outbound, 0),"
		         " coalesce(t.command || coalesce(' ' || t.guess || '?', ''), '?'), count(*)"
		         " FROM (SELECT * FROM transactions WHERE latency_ms >= :slow_ms"
		         " UNION ALL SELECT * FROM compact_replies"
		         " WHERE :compact_slow"
		         " AND latency_ms >= :slow_ms) AS t"
		         " LEFT JOIN sessions AS s ON s.id = t.session_id WHERE %s GROUP BY 1, 2, 3",
		         WINDOW_T);
		if (!(st = prep(h, sql)))
			goto out;
		while (step(h, st)) {
			for (int i = 0; i < ng; i++)
				if (strcmp(g[i].proto, S(ct(st, 0))) == 0 &&
				    g[i].outb == sqlite3_column_int(st, 1) &&
				    strcmp(g[i].cmd, S(ct(st, 2))) == 0)
					g[i].nslow = sqlite3_column_int64(st, 3);
		}
		sqlite3_finalize(st);
		if (!h->failed)
			lat_draw(h, g, ng, lo, hi);
		if (total > ng)
			P("<p class=\"none\">%d more commands with fewer replies are not "
			  "drawn.</p>\n",
			  total - ng);
	} else if (!h->failed) {
		P("<p class=\"none\">No replies in this window.</p>\n");
	}
out:
	for (int i = 0; i < ng; i++) {
		free(g[i].proto);
		free(g[i].cmd);
	}
	free(g);
	free(hg);
	P("</section>\n");
	return h->failed ? -1 : 0;
}

/* ---- unanswered DNS over time ------------------------------------------------- */

static const char WINDOW_Q[] = " ts >= coalesce(:since, -1e18)"
                               " AND ts < coalesce(:until, 1e18)";
/* the view dns_queries' time over dns_rows (schema 10) with its numbers: the
 * outcome 6 is unanswered, 8 no-query; server is an addrs id.  The rows are
 * read by the blocks of the window (schema 15); the unary + keeps SQLite
 * from indexing the whole table on server or outcome for a condition on
 * them (an automatic index, searched once per block) */
static const char DNS_D[] = "WITH d AS (SELECT " STORE_DNS_TS_SQL " AS ts, +outcome AS outcome,"
                            " +server AS server"
                            " FROM " STORE_DNS_WINDOW_SQL("", ":since", ":until") ") ";

static int
sec_dns(struct hctx *h)
{
	static const double widths[] = {0.1,  0.2,   0.5,   1,     2,     5,      10,    15,
	                                30,   60,    120,   300,   600,   900,    1800,  3600,
	                                7200, 10800, 21600, 43200, 86400, 172800, 604800};
	sqlite3_stmt *st;
	char sql[1024], a[48];
	double tmin = NAN, tmax = NAN;
	int nres = 0;

	h->what = "dns";
	P("<section id=\"%sdns\">\n<h2>Unanswered DNS queries over time, per server asked</h2>\n",
	  h->idp);
	snprintf(sql, sizeof(sql),
	         "%sSELECT min(min(ts), coalesce((SELECT min(first_ts) FROM runs), min(ts))),"
	         " max(max(ts), coalesce((SELECT max(last_ts) FROM runs), max(ts))),"
	         " count(DISTINCT CASE WHEN outcome = 6 THEN server END)"
	         " FROM d WHERE outcome IS NOT 8 AND %s",
	         DNS_D, WINDOW_Q);
	if (!(st = prep(h, sql)))
		return -1;
	if (step(h, st)) {
		tmin = cd(st, 0);
		tmax = cd(st, 1);
		nres = sqlite3_column_int(st, 2);
	}
	/* the capture span, within the window */
	if (!isnan(h->o->since) && tmin < h->o->since)
		tmin = h->o->since;
	if (!isnan(h->o->until) && tmax > h->o->until)
		tmax = h->o->until;
	if (tmax < tmin)
		tmax = tmin;
	sqlite3_finalize(st);
	if (h->failed)
		return -1;
	if (!isfinite(tmin) || nres == 0) {
		P("<p class=\"none\">%s</p>\n</section>\n",
		  isfinite(tmin) ? "Every DNS query in this window was answered."
		                 : "No DNS queries in this window.");
		return 0;
	}
	double w = 0, b0 = 0;
	int nb = 0;
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		w = widths[i];
		b0 = floor(tmin / w) * w;
		nb = (int)floor((tmax - b0) / w) + 1;
		if (nb <= MAX_BUCKETS)
			break;
	}
	if (nb > MAX_BUCKETS) {
		w = ceil((tmax - tmin) / MAX_BUCKETS / 86400.0 + 1) * 86400.0;
		b0 = floor(tmin / w) * w;
		nb = (int)floor((tmax - b0) / w) + 1;
		if (nb > MAX_BUCKETS)
			nb = MAX_BUCKETS;
	}
	int shown = nres < MAX_RESOLVERS ? nres : MAX_RESOLVERS;
	char wb[32];
	P("<p class=\"legend\">Buckets of %s from %s %s; red: unanswered queries (height per "
	  "server, scaled to its busiest bucket), grey: the bucket saw queries to that server.",
	  dur(wb, sizeof(wb), w * 1000.0), utc(a, sizeof(a), b0, false), zone_html);
	if (nres > shown)
		P(" The %d servers with the most unanswered queries of %d are shown.", shown, nres);
	P("</p>\n");
	const double x0 = 20, x1 = SVG_W - 20;
	const int ph = 74, top = 4;
	int height = top + shown * ph + 24;
	double bw = (x1 - x0) / nb;
	P("<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n", SVG_W, height,
	  SVG_W, height);
	snprintf(sql, sizeof(sql),
	         "%sSELECT (SELECT addr FROM addrs WHERE id = d.server), count(*), sum(outcome = 6),"
	         " server FROM d WHERE outcome IS NOT 8 AND %s GROUP BY server"
	         " HAVING sum(outcome = 6) > 0 ORDER BY 3 DESC, 1 LIMIT %d",
	         DNS_D, WINDOW_Q, MAX_RESOLVERS);
	sqlite3_stmt *rs = prep(h, sql);
	snprintf(sql, sizeof(sql),
	         "%sSELECT CAST((ts - :b0) / :w AS INTEGER), count(*), sum(outcome = 6)"
	         " FROM d WHERE server IS :srv AND outcome IS NOT 8 AND %s GROUP BY 1 ORDER BY 1",
	         DNS_D, WINDOW_Q);
	sqlite3_stmt *bs = prep(h, sql);
	int row = 0;
	while (rs && bs && step(h, rs)) {
		int64_t cnt[MAX_BUCKETS] = {0}, un[MAX_BUCKETS] = {0}, maxu = 1;
		int y = top + row * ph;
		sqlite3_reset(bs);
		bind_d(bs, ":b0", b0);
		bind_d(bs, ":w", w);
		sqlite3_bind_value(bs, sqlite3_bind_parameter_index(bs, ":srv"),
		                   sqlite3_column_value(rs, 3));
		while (step(h, bs)) {
			int k = sqlite3_column_int(bs, 0);
			if (k < 0 || k >= nb)
				continue;
			cnt[k] += sqlite3_column_int64(bs, 1);
			un[k] += sqlite3_column_int64(bs, 2);
		}
		for (int k = 0; k < nb; k++)
			if (un[k] > maxu)
				maxu = un[k];
		P("<text class=\"m b\" x=\"%.0f\" y=\"%d\">", x0, y + 14);
		E(ct(rs, 0));
		P("</text><text class=\"s\" x=\"%.0f\" y=\"%d\" text-anchor=\"end\">%lld of %lld "
		  "queries unanswered &#183; busiest bucket %lld</text>\n",
		  x1, y + 14, (long long)sqlite3_column_int64(rs, 2),
		  (long long)sqlite3_column_int64(rs, 1), (long long)maxu);
		int pb = y + ph - 6, pt = y + 20;
		for (int k = 0; k < nb; k++) {
			if (!cnt[k])
				continue;
			double bx = x0 + k * bw;
			P("<rect class=\"act\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\">"
			  "<title>%s: %lld queries, %lld unanswered</title></rect>",
			  bx, pt, fmax(bw - 1, 1), pb - pt, utc(a, sizeof(a), b0 + k * w, false),
			  (long long)cnt[k], (long long)un[k]);
			if (un[k]) {
				double hgt = fmax(2, (double)un[k] / (double)maxu * (pb - pt));
				P("<rect class=\"o-unanswered\" x=\"%.1f\" y=\"%.1f\" "
				  "width=\"%.1f\" "
				  "height=\"%.1f\"/>",
				  bx, pb - hgt, fmax(bw - 1, 1), hgt);
			}
			P("\n");
		}
		P("<line class=\"axis\" x1=\"%.0f\" y1=\"%d\" x2=\"%.0f\" y2=\"%d\"/>\n", x0, pb,
		  x1, pb);
		row++;
	}
	sqlite3_finalize(rs);
	sqlite3_finalize(bs);
	/* time labels under the last panel */
	int every = (nb + 7) / 8;
	for (int k = 0; k <= nb; k += every) {
		char t[48];
		utc(t, sizeof(t), b0 + k * w, w < 1);
		const char *lbl = (tmax - b0) < 86400 ? t + 11 : t + 5; /* HH:MM:SS or MM-DD ... */
		P("<text class=\"s\" x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">%s</text>\n",
		  x0 + k * bw, top + shown * ph + 14,
		  k == 0    ? "start"
		  : k == nb ? "end"
		            : "middle",
		  lbl);
	}
	P("</svg>\n</section>\n");
	return h->failed ? -1 : 0;
}

/* ---- incidents ---------------------------------------------------------------- */

#define HTML_INCIDENTS 10

/* the top incidents (`report incidents`): what to fix first */
static int
sec_incidents(struct hctx *h)
{
	const char *sql = store_sql_file("reports/incidents.sql");
	sqlite3_stmt *st;
	char a[48], b[48], d[32];

	h->what = "incidents";
	if (!sql) {
		fmt_err(h->err, h->errlen, "report html: reports/incidents.sql is not embedded");
		return -1;
	}
	if (!(st = prep(h, sql)))
		return -1;
	bind_i(st, ":limit", HTML_INCIDENTS + 1);
	int title = cidx(st, "title"), nrep = cidx(st, "slow_replies"), nses = cidx(st, "sessions"),
	    ncl = cidx(st, "clients"), hosts = cidx(st, "hosts"), t0 = cidx(st, "first_ts"),
	    t1 = cidx(st, "last_ts"), wait = cidx(st, "total_wait_ms"),
	    rem = cidx(st, "remedy"), ex = cidx(st, "example_sessions"),
	    btx = cidx(st, "bounce_text");
	P("<section id=\"%sincidents\">\n<h2>Incidents: slow replies grouped by cause, worst "
	  "first</h2>\n",
	  h->idp);
	int n = 0;
	while (step(h, st)) {
		if (n == HTML_INCIDENTS) {
			P("</table>\n<p class=\"meta\">More incidents than these %d: "
			  "<code>mxlag report incidents</code> lists them all.</p>\n",
			  HTML_INCIDENTS);
			n++;
			break;
		}
		if (n++ == 0)
			P("<table>\n<tr><th>#</th><th>What</th><th>Slow replies</th><th>Sessions</th>"
			  "<th>Clients</th><th>Hosts</th><th>First &ndash; last (%s)</th>"
			  "<th>Waited</th><th>Remedy</th><th>Example sessions</th></tr>\n",
			  zone_html);
		P("<tr><td class=\"num\">%d</td><td>", n);
		E(ct(st, title) ? ct(st, title) : "-");
		/* a bounce storm's figures (issue 17), a line each */
		for (const char *p = btx >= 0 ? ct(st, btx) : NULL; p && *p;) {
			const char *e = strchr(p, '\n');
			size_t len = e ? (size_t)(e - p) : strlen(p);
			char line[512];
			snprintf(line, sizeof(line), "%.*s", (int)len, p);
			P("<br><span class=\"meta\">");
			E(line);
			P("</span>");
			p = e ? e + 1 : p + len;
		}
		P("</td>");
		const int nums[] = {nrep, nses, ncl};
		for (int i = 0; i < 3; i++) {
			P("<td class=\"num\">");
			E(ct(st, nums[i]) ? ct(st, nums[i]) : "-");
			P("</td>");
		}
		P("<td class=\"mono\">");
		E(ct(st, hosts) ? ct(st, hosts) : "-");
		P("</td><td class=\"mono\">%s &ndash; %s</td><td class=\"num\">%s</td><td>",
		  utc(a, sizeof(a), cd(st, t0), false), utc(b, sizeof(b), cd(st, t1), false),
		  dur(d, sizeof(d), cd(st, wait)));
		E(ct(st, rem) ? ct(st, rem) : "-");
		P("</td><td class=\"mono\">");
		E(ct(st, ex) ? ct(st, ex) : "-");
		P("</td></tr>\n");
	}
	if (n == 0)
		P("<p class=\"none\">No slow replies in this window.</p>\n");
	else if (n <= HTML_INCIDENTS)
		P("</table>\n");
	P("</section>\n");
	sqlite3_finalize(st);
	return h->failed ? -1 : 0;
}

/* ---- hosts -------------------------------------------------------------------- */

/* ---- delivery congestion (issue 17) ------------------------------------------- */

/*
 * The outbound section's congestion timeline (reports/congestion.sql, the
 * second part of `report outbound`): only when a host's outbound
 * connections waiting at once reached its threshold.
 */
static int
sec_congestion(struct hctx *h)
{
	const char *sql = store_sql_file("reports/congestion.sql");
	sqlite3_stmt *st;
	char a[48];

	h->what = "congestion";
	if (!sql) {
		fmt_err(h->err, h->errlen, "report html: reports/congestion.sql is not embedded");
		return -1;
	}
	if (!(st = prep(h, sql)))
		return -1;
	bind_i(st, ":limit", -1);
	int host = cidx(st, "host"), m = cidx(st, "minute_ts"), peak = cidx(st, "waiting_peak"),
	    started = cidx(st, "started"), bounces = cidx(st, "bounces"),
	    ord = cidx(st, "ordinary_text");
	int n = 0;
	while (step(h, st)) {
		if (n++ == 0)
			P("<section id=\"%scongestion\">\n<h2>Outbound delivery congestion</h2>\n"
			  "<p class=\"meta\">Per minute: the peak number of the host's outbound "
			  "connections waiting for an answer at once (SYN sent, no answer yet), the "
			  "deliveries that started, how many of them bounce inbound mail, and the "
			  "ordinary ones that started meanwhile.</p>\n<table>\n<tr><th>Host</th>"
			  "<th>Minute (%s)</th><th>Waiting</th><th>Started</th><th>Bounces</th>"
			  "<th>Ordinary deliveries</th></tr>\n",
			  h->idp, zone_html);
		P("<tr><td class=\"mono\">");
		E(ct(st, host) ? ct(st, host) : "-");
		P("</td><td class=\"mono\">%s</td>", utc(a, sizeof(a), cd(st, m), false));
		const int nums[] = {peak, started, bounces};
		for (int i = 0; i < 3; i++) {
			P("<td class=\"num\">");
			E(ct(st, nums[i]) ? ct(st, nums[i]) : "-");
			P("</td>");
		}
		P("<td>");
		E(ct(st, ord) ? ct(st, ord) : "");
		P("</td></tr>\n");
	}
	if (n > 0)
		P("</table>\n</section>\n");
	sqlite3_finalize(st);
	return h->failed ? -1 : 0;
}

/* one row per mail host, only when the database holds several (a mirror port) */
static int
sec_hosts(struct hctx *h)
{
	const char *n = sum_get(h, "hosts");
	sqlite3_stmt *st;

	h->what = "hosts";
	if (!n || atoi(n) < 2 || !h->hosts_json)
		return 0;
	if (!(st = prep(h, "SELECT value ->> 'host', value ->> 'sessions', value ->> 'inbound',"
	                   " value ->> 'outbound', value ->> 'replies', value ->> 'p50_ms',"
	                   " value ->> 'p95_ms', value ->> 'max_ms', value ->> 'slow',"
	                   " value ->> 'top_cause' FROM json_each(:hosts)")))
		return -1;
	bind_t(st, ":hosts", h->hosts_json);
	P("<section id=\"%shosts\">\n<h2>Mail hosts in this capture</h2>\n"
	  "<table>\n<tr><th>Host</th><th>Sessions</th><th>Inbound</th><th>Outbound</th>"
	  "<th>Replies</th><th>p50 ms</th><th>p95 ms</th><th>Max ms</th><th>Slow</th>"
	  "<th>Main cause</th></tr>\n",
	  h->idp);
	while (step(h, st)) {
		P("<tr><td class=\"mono\">");
		E(ct(st, 0) ? ct(st, 0) : "-");
		P("</td>");
		for (int i = 1; i <= 8; i++) {
			P("<td class=\"num\">");
			E(ct(st, i) ? ct(st, i) : "-");
			P("</td>");
		}
		P("<td>");
		E(ct(st, 9) ? ct(st, 9) : "-");
		P("</td></tr>\n");
	}
	P("</table>\n</section>\n");
	sqlite3_finalize(st);
	return h->failed ? -1 : 0;
}

/* ---- big messages (issue 17) ------------------------------------------------------ */

#define HTML_BIG 10

/* the newest big messages (`report big`), only when the window has some */
static int
sec_big(struct hctx *h)
{
	const char *nb = sum_get(h, "big_messages");
	const char *sql = store_sql_file("reports/big.sql");
	sqlite3_stmt *st;
	char a[48], d[32], w[32];

	h->what = "big messages";
	if (!nb || atoi(nb) <= 0)
		return 0;
	if (!sql) {
		fmt_err(h->err, h->errlen, "report html: reports/big.sql is not embedded");
		return -1;
	}
	if (!(st = prep(h, sql)))
		return -1;
	bind_i(st, ":limit", HTML_BIG);
	int sess = cidx(st, "session"), dir = cidx(st, "direction"), peer = cidx(st, "peer"),
	    host = cidx(st, "host"), t0 = cidx(st, "start"), mb = cidx(st, "mb"),
	    wire = cidx(st, "wire_ms"), endr = cidx(st, "end_reply_ms"), oc = cidx(st, "outcome"),
	    named = cidx(st, "slow_replies_named");
	P("<section id=\"%sbig\">\n<h2>Big messages (%s), newest first</h2>\n"
	  "<table>\n<tr><th>Start (%s)</th><th>Session</th><th>Host</th><th>Direction</th>"
	  "<th>Other end</th><th>MB</th><th>On the wire</th><th>Reply to its end</th>"
	  "<th>Outcome</th><th>Slow replies it is named for</th></tr>\n",
	  h->idp, nb, zone_html);
	while (step(h, st)) {
		P("<tr><td class=\"mono\">%s</td><td class=\"num\">%lld</td><td class=\"mono\">",
		  utc(a, sizeof(a), cd(st, t0), false), (long long)sqlite3_column_int64(st, sess));
		E(ct(st, host) ? ct(st, host) : "-");
		P("</td><td>");
		E(ct(st, dir) ? ct(st, dir) : "-");
		P("</td><td class=\"mono\">");
		E(ct(st, peer) ? ct(st, peer) : "-");
		P("</td><td class=\"num\">");
		E(ct(st, mb) ? ct(st, mb) : "-");
		P("</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td>",
		  cnull(st, wire) ? "-" : dur(w, sizeof(w), cd(st, wire)),
		  cnull(st, endr) ? "-" : dur(d, sizeof(d), cd(st, endr)));
		E(ct(st, oc) ? ct(st, oc) : "-");
		P("</td><td class=\"num\">");
		E(ct(st, named) ? ct(st, named) : "0");
		P("</td></tr>\n");
	}
	P("</table>\n");
	if (atoi(nb) > HTML_BIG)
		P("<p class=\"meta\">The %d newest of %s: <code>mxlag report big</code> lists them "
		  "all.</p>\n",
		  HTML_BIG, nb);
	P("</section>\n");
	sqlite3_finalize(st);
	return h->failed ? -1 : 0;
}

/* ---- totals ------------------------------------------------------------------- */

static void
sec_totals(struct hctx *h)
{
	P("<section id=\"%stotals\">\n<h2>Totals (mxlag report summary)</h2>\n"
	  "<table class=\"kv\">\n",
	  h->idp);
	for (int i = 0; i < h->nsum; i++) {
		P("<tr><td class=\"mono\">");
		E(h->sum[i].name);
		P("</td><td class=\"num\">");
		E(h->sum[i].val ? h->sum[i].val : "-");
		P("</td></tr>\n");
	}
	P("</table>\n</section>\n");
}

/* ---- the page ----------------------------------------------------------------- */

/* the page of one database, from its header on (the fleet page: one per database) */
static int
db_body(sqlite3 *db, const struct report_opts *o, const char *idp, FILE *out, char *err,
        size_t errlen)
{
	struct hctx hc = {.db = db,
	                  .o = o,
	                  .slow_ms = isnan(o->slow_ms) || o->slow_ms <= 0 ? 1000.0 : o->slow_ms,
	                  .out = out,
	                  .err = err,
	                  .errlen = errlen,
	                  .idp = idp};
	struct hctx *h = &hc;
	int rc = -1;

	hc.compact_slow = sqlfn_compact_slow(db, hc.slow_ms);
	if (load_summary(h) != 0 || sec_header(h) != 0 || sec_incidents(h) != 0 ||
	    sec_hosts(h) != 0 || sec_congestion(h) != 0 || sec_slow(h) != 0 ||
	    sec_waterfalls(h) != 0 || sec_big(h) != 0 || sec_latency(h) != 0 || sec_dns(h) != 0)
		goto done;
	sec_totals(h);
	rc = 0;
done:
	if (rc != 0 && err && !err[0])
		fmt_err(err, errlen, "report html: failed (%s)", h->what ? h->what : "?");
	for (int i = 0; i < h->nsum; i++) {
		free(h->sum[i].name);
		free(h->sum[i].val);
	}
	free(h->sum);
	free(h->hosts_json);
	return rc;
}

static int
page_kind_ok(const struct report_opts *o, char *err, size_t errlen)
{
	if (!o->name || (strcmp(o->name, "slow") != 0 && strcmp(o->name, "summary") != 0 &&
	                 strcmp(o->name, "incidents") != 0)) {
		fmt_err(err, errlen,
		        "report %s: format html is available for the incidents, slow and summary "
		        "reports (each gives the whole page)",
		        o->name ? o->name : "");
		return 0;
	}
	return 1;
}

static int
page_end(FILE *out, int rc, char *err, size_t errlen)
{
	if (rc != 0)
		return rc;
	page_foot(out);
	if (fflush(out) != 0 || ferror(out)) {
		fmt_err(err, errlen, "report html: write error");
		return -1;
	}
	return 0;
}

int
report_html(sqlite3 *db, const struct report_opts *o, FILE *out, char *err, size_t errlen)
{
	if (!page_kind_ok(o, err, errlen))
		return REPORT_EUSAGE;
	set_zone(o->tz);
	page_head(out);
	return page_end(out, db_body(db, o, "", out, err, errlen), err, errlen);
}

/* ---- several databases: the fleet page ------------------------------------------ */

/* the fleet table's columns: JSON path in a database's summary, header, a latency */
static const struct {
	const char *path, *head;
	bool ms;
} fleet_cols[] = {
    {"$.sessions", "Sessions", false},
    {"$.replies", "Replies", false},
    {"$.slow", "Slow", false},
    {"$.slow_by_cause.dns", "dns", false},
    {"$.slow_by_cause.ident", "ident", false},
    {"$.slow_by_cause.none", "none", false},
    {"$.slow_by_cause.\"big-message\"", "big", false},
    {"$.median_ms", "Median", true},
    {"$.p95_ms", "p95", true},
    {"$.max_ms", "Max", true},
    {"$.dns_queries", "DNS queries", false},
    {"$.dns_unanswered", "unanswered", false},
    {"$.ident_probes", "ident probes", false},
    {"$.ident_unanswered", "unanswered", false},
    {"$.big_messages", "Big messages", false},
};
#define FLEET_NCOLS (sizeof(fleet_cols) / sizeof(fleet_cols[0]))

/*
 * One row of the fleet table from the summary JSON (the same figures as
 * `report summary` over the same databases): base is "$.dbs[i]" or "$.total".
 */
static int
fleet_row(struct hctx *h, const char *json, const char *base, const char *label, int dbn)
{
	char sql[2048];
	size_t o = (size_t)snprintf(sql, sizeof(sql), "SELECT ");
	for (size_t i = 0; i < FLEET_NCOLS && o < sizeof(sql); i++)
		o += (size_t)snprintf(sql + o, sizeof(sql) - o, "%sjson_extract(:j, '%s%s')",
		                      i ? ", " : "", base, fleet_cols[i].path + 1);
	sqlite3_stmt *st = prep(h, sql);
	if (!st)
		return -1;
	bind_t(st, ":j", json);
	if (step(h, st)) {
		char d[32];
		P("<tr><td class=\"mono\">");
		if (dbn > 0)
			P("<a href=\"#db%d\">", dbn);
		E(label);
		P("%s</td>", dbn > 0 ? "</a>" : "");
		for (size_t i = 0; i < FLEET_NCOLS; i++) {
			bool bad = i == 2 && !cnull(st, (int)i) && sqlite3_column_int64(st, (int)i) > 0;
			P("<td class=\"num%s\">", bad ? " bad" : "");
			if (cnull(st, (int)i))
				P("-");
			else if (fleet_cols[i].ms)
				P("%s", dur(d, sizeof(d), cd(st, (int)i)));
			else
				P("%lld", sqlite3_column_int64(st, (int)i));
			P("</td>");
		}
		P("</tr>\n");
	}
	sqlite3_finalize(st);
	return h->failed ? -1 : 0;
}

int
report_html_fleet(const struct report_src *src, size_t n, const struct report_opts *o, FILE *out,
                  char *err, size_t errlen)
{
	if (!page_kind_ok(o, err, errlen))
		return REPORT_EUSAGE;
	/* the fleet's figures: `report --format json summary` over the same databases */
	char *json = NULL;
	size_t jlen = 0;
	FILE *mem = open_memstream(&json, &jlen);
	if (!mem) {
		fmt_err(err, errlen, "report html: out of memory");
		return -1;
	}
	struct report_opts so = *o;
	so.name = "summary";
	so.arg = NULL;
	so.format = REPORT_JSON;
	int rc = report_run_fleet(src, n, &so, mem, err, errlen);
	if (fclose(mem) != 0 && rc == 0) {
		fmt_err(err, errlen, "report html: out of memory");
		rc = -1;
	}
	if (rc != 0) {
		free(json);
		return rc;
	}
	set_zone(o->tz);
	struct hctx hc = {.db = src[0].db, .o = o, .out = out, .err = err, .errlen = errlen, .idp = ""};
	struct hctx *h = &hc;
	page_head(out);
	P("<header>\n<h1>mxlag &mdash; mail reply latency, %zu databases</h1>\n"
	  "<p class=\"meta\">One database per mail host; the totals add the counts and take the "
	  "latency from all their histograms, as <code>mxlag report summary</code> over the same "
	  "databases. Times %s.</p>\n</header>\n<section id=\"fleet\">\n<h2>Hosts</h2>\n<table>\n"
	  "<tr><th>Database</th>",
	  n, zone_html);
	for (size_t i = 0; i < FLEET_NCOLS; i++)
		P("<th>%s</th>", fleet_cols[i].head);
	P("</tr>\n");
	h->what = "fleet";
	for (size_t i = 0; i < n && rc == 0; i++) {
		char base[32];
		snprintf(base, sizeof(base), "$.dbs[%zu]", i);
		rc = fleet_row(h, json, base, src[i].label, (int)i + 1);
	}
	if (rc == 0)
		rc = fleet_row(h, json, "$.total", "total", 0);
	free(json);
	if (rc == 0)
		P("</table>\n</section>\n");
	/* then each database's page, its element ids after "dbN-" */
	for (size_t i = 0; i < n && rc == 0; i++) {
		char idp[32];
		snprintf(idp, sizeof(idp), "db%zu-", i + 1);
		P("<section id=\"db%zu\" class=\"db\">\n<h2>", i + 1);
		E(src[i].label);
		P("</h2>\n");
		rc = db_body(src[i].db, o, idp, out, err, errlen);
		if (rc == 0)
			P("</section>\n");
	}
	if (rc != 0 && err && !err[0])
		fmt_err(err, errlen, "report html: failed (%s)", h->what ? h->what : "?");
	return page_end(out, rc, err, errlen);
}
