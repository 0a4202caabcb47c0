/*
 * main.c - the mxlag command line and composition root: the only file
 * that sees capture/, analyze/ and schema/ together.
 *
 *   mxlag analyze [--db FILE] [--slow MS] [--filter BPF] [--host ADDR] [--events] FILE...
 *   mxlag capture -i IFACE [--db FILE] [--slow MS] [--filter BPF] [--duration S] [--user NAME]
 *                 [--no-promisc]
 *   mxlag report  [--db FILE] [--format text|csv|json|html] [--since T] [--until T]
 *                 [--client ADDR] [--protocol P] [--tz ZONE] [--fail-if-slow N] [-o OUT]
 *                 NAME [ARG]
 *   mxlag schema
 *   mxlag help [analyze|capture|report|schema]      mxlag --version
 * Exit status: 0 ok, 1 runtime error, 2 usage, 3 refused, 4 --fail-if-slow.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ndpi/ndpi_api.h>
#include <pcap/pcap.h>
#include <sqlite3.h>
#include <zlib.h>
#include <zstd.h>

#include "capture/capture.h"
#include "capture/source.h"
#include "analyze/dispatch.h"
#include "schema/report.h"
#include "schema/store.h"

#define DEFAULT_DB "mxlag.db"
#define DEFAULT_FILTER                                                                           \
	"tcp port 25 or tcp port 587 or tcp port 465 or tcp port 2525 or tcp port 110 or "      \
	"tcp port 995 or tcp port 113 or port 53 or (ip[6:2] & 0x1fff != 0) or "                 \
	"(ip6 and ip6[6] == 44)"
#define TICK_NS 1000000000ULL

static volatile sig_atomic_t stop_requested;
static struct src *live_src; /* for the signal handler only */

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
	if (live_src)
		src_break(live_src);
}

/* mxlag help / --help: the commands, one line each (stdout; stderr on misuse) */
static void
usage(FILE *out)
{
	fputs("usage: mxlag COMMAND [OPTION]... [ARG]...\n"
	      "Commands:\n"
	      "  analyze  analyze capture files (pcap/pcapng, gzip/zstd too; - = stdin)\n"
	      "  capture  analyze live traffic from a network interface\n"
	      "  report   print a report from the database (summary, slow, ptr, dns, ...)\n"
	      "  schema   print the SQL schema of the database\n"
	      "  help     this text; 'mxlag help COMMAND' explains a command's options,\n"
	      "           'mxlag help report' also lists the reports\n"
	      "  version  the version of mxlag and of its libraries (also --version)\n"
	      "Exit status: 0 ok; 1 runtime error (I/O, database, capture); 2 usage (unknown\n"
	      "  command, option, help topic, report name, format, bad value); 3 refused (the\n"
	      "  same capture already analyzed into the database); 4 report --fail-if-slow N\n"
	      "  found more than N slow replies.\n",
	      out);
}

/* options shared by analyze and capture */
static const char run_common_help[] =
    "  --db FILE          the SQLite database to write (default mxlag.db); created\n"
    "                     when missing\n"
    "  --no-db            analyze without writing a database (the summary and\n"
    "                     --events only)\n"
    "  --slow MS          a reply is slow from MS milliseconds on (default 1000): its\n"
    "                     causes are searched for and it is always stored as a row\n"
    "  --filter BPF       a libpcap filter expression applied to every packet\n"
    "  --host H           a monitored mail host: ADDR, ADDR,ADDR (one machine's\n"
    "                     addresses) or PREFIX/LEN (every address in it a host);\n"
    "                     repeat it for several hosts (at most 64). Without --host\n"
    "                     the hosts are learned from the traffic\n"
    "  --events           print every analyzer event as one JSON line on stdout\n"
    "                     (the summary then goes to stderr)\n"
    "  --quiet            no summary, no progress bar\n"
    "  --max-sessions N   SMTP/POP3 sessions analyzed at once (default 8192); more\n"
    "                     open at the same time are counted, not analyzed, so a\n"
    "                     connection flood costs bounded memory\n"
    "  -h, --help         this text\n";

static void
help_analyze(FILE *out)
{
	fputs("usage: mxlag analyze [OPTION]... FILE...\n"
	      "Analyzes capture files as one timeline into the database. FILE is pcap or\n"
	      "pcapng (micro- or nanosecond), plain or compressed with gzip or zstd\n"
	      "(recognized by its first bytes, not its name); - reads standard input.\n"
	      "A second analyze of the same files into the same database is refused (exit 3).\n"
	      "Options:\n",
	      out);
	fputs(run_common_help, out);
}

static void
help_capture(FILE *out)
{
	fputs("usage: mxlag capture -i IFACE [OPTION]...\n"
	      "Analyzes live traffic until Ctrl-C, SIGTERM or --duration; the database is\n"
	      "committed every 2 seconds.\n"
	      "Options:\n"
	      "  -i, --interface IFACE  the network interface to capture on (required)\n"
	      "  --duration S       stop after S seconds (default: run until stopped)\n"
	      "  --user NAME        after opening the interface and the database, hand the\n"
	      "                     database to NAME and become NAME (default nobody when\n"
	      "                     started as root)\n"
	      "  --snaplen N        bytes kept of each packet, 64 to 262144 (default 65535)\n"
	      "  --buffer MB        the kernel capture buffer in MiB, 1 to 65536 (default 32)\n"
	      "  --no-promisc       do not put the interface in promiscuous mode: only what\n"
	      "                     is addressed to this host (on a switch's mirror port the\n"
	      "                     frames are addressed to others: keep the default)\n"
	      "  --filter BPF       default: the mail, POP3, ident and DNS ports and IP\n"
	      "                     fragments\n",
	      out);
	fputs(run_common_help, out);
}

static void
help_report(FILE *out)
{
	fputs("usage: mxlag report [OPTION]... NAME [ARG]\n"
	      "Prints report NAME from the database. Options:\n"
	      "  --db FILE          the database to read (default mxlag.db)\n"
	      "  --format F         text (default), csv, json or html (html: incidents,\n"
	      "                     slow and summary, one page with charts)\n"
	      "  -o, --output OUT   write to OUT instead of standard output\n"
	      "  --since T          only what happened at or after T\n"
	      "  --until T          only what happened before T\n"
	      "                     T: epoch seconds (1700000000.5); ISO 8601 date and time\n"
	      "                     (2026-11-23, 2026-11-23 10:00, 2026-11-23T10:00:00Z; UTC\n"
	      "                     unless an offset such as +01:00 is given); or relative\n"
	      "                     to now: 90s, 30m, 24h, 7d, 2w (now minus that)\n"
	      "  --slow MS          slow threshold in milliseconds (default 1000)\n"
	      "  --limit N          at most N rows\n"
	      "  --client ADDR      only sessions with ADDR at either end (summary and dns\n"
	      "                     are not filtered)\n"
	      "  --protocol P       only smtp or pop3 sessions (summary and dns are not\n"
	      "                     filtered)\n"
	      "  --tz ZONE          text and html times in ZONE (Europe/Berlin, UTC; local =\n"
	      "                     the system's zone, /etc/localtime); without --tz the TZ\n"
	      "                     environment variable when set, else UTC. CSV and JSON\n"
	      "                     stay UTC and epoch seconds\n"

	      "  --fail-if-slow N   print the report, then exit 4 when more than N slow\n"
	      "                     replies (--slow) are in the window and filters\n"
	      "  -h, --help         this text\n"
	      "Reports:\n",
	      out);
	const char *name, *help;
	for (size_t i = 0; (name = report_info(i, &help)) != NULL; i++) {
		char label[40];
		snprintf(label, sizeof(label), "%s%s", name,
		         report_needs_arg(name) > 0 ? " ID" : "");
		fprintf(out, "  %-18s %s\n", label, help);
	}
}

static void
help_schema(FILE *out)
{
	fputs("usage: mxlag schema\n"
	      "Prints the SQL schema of the database (tables, views, indexes). No options.\n",
	      out);
}

static const struct {
	const char *name;
	void (*help)(FILE *);
} help_topics[] = {
    {"analyze", help_analyze},
    {"capture", help_capture},
    {"report", help_report},
    {"schema", help_schema},
};

/* mxlag help [TOPIC] */
static int
cmd_help(const char *topic)
{
	if (!topic) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(help_topics) / sizeof(help_topics[0]); i++)
		if (strcmp(topic, help_topics[i].name) == 0) {
			help_topics[i].help(stdout);
			return 0;
		}
	fprintf(stderr, "mxlag help: unknown topic %s (analyze, capture, report, schema)\n", topic);
	return 2;
}

static int
cmd_version(void)
{
	printf("mxlag %s\n%s\nSQLite %s\nnDPI %s\nzlib %s\nzstd %s\n", MXLAG_VERSION,
	       pcap_lib_version(), sqlite3_libversion(), ndpi_revision(), zlibVersion(),
	       ZSTD_versionString());
	return 0;
}

struct run_opts {
	const char *db;
	double slow_ms;
	const char *filter;
	int events;
	int no_db;
	int quiet;
	const char *hosts[64]; /* --host specifications */
	int nhosts;
	/* capture only */
	const char *iface;
	double duration;
	const char *user;
	int snaplen, buffer_mb;
	int no_promisc;
	uint32_t max_sessions;
};

/* FNV-1a over the size and first MiB of each file: what "same capture" means. */
static int
fingerprint(const char *const *paths, int n, char *out, size_t outlen)
{
	uint64_t h = 1469598103934665603ULL;
	static unsigned char buf[65536];
	for (int i = 0; i < n; i++) {
		if (strcmp(paths[i], "-") == 0)
			return -1;
		FILE *f = fopen(paths[i], "rb");
		if (!f)
			continue;
		struct stat st;
		if (fstat(fileno(f), &st) == 0) {
			uint64_t sz = (uint64_t)st.st_size;
			for (int b = 0; b < 8; b++) {
				h ^= (sz >> (8 * b)) & 0xff;
				h *= 1099511628211ULL;
			}
		}
		size_t total = 0, r;
		while (total < (1u << 20) && (r = fread(buf, 1, sizeof(buf), f)) > 0) {
			for (size_t k = 0; k < r; k++) {
				h ^= buf[k];
				h *= 1099511628211ULL;
			}
			total += r;
		}
		fclose(f);
	}
	snprintf(out, outlen, "fnv1a64:%016" PRIx64, h);
	return 0;
}

static void
progress(struct src *s, uint64_t pkts, time_t t0, int done)
{
	uint64_t total = src_total_bytes(s), done_b = src_read_bytes(s);
	double el = difftime(time(NULL), t0);
	if (total == 0)
		return;
	double frac = (double)done_b / (double)total;
	if (frac > 1)
		frac = 1;
	int w = 30, fill = (int)(frac * w);
	double rate = el > 0 ? (double)done_b / el / 1e6 : 0;
	double eta = frac > 0 && el > 0 ? el / frac - el : 0;
	fprintf(stderr, "\r[%.*s%*s] %5.1f%% %" PRIu64 " pkts %.1f MB/s ETA %.0fs ", fill,
		"##############################", w - fill, "", frac * 100, pkts, rate,
		done ? 0 : eta);
	if (done)
		fputc('\n', stderr);
}

static void
fill_run_stats(struct run_stats *rs, struct cap_stats *st, uint64_t first, uint64_t last,
	       const char **names, uint64_t *vals)
{
	memset(rs, 0, sizeof(*rs));
	rs->first_ns = first;
	rs->last_ns = last;
	rs->packets = st->c[CNT_PACKETS];
	rs->bytes = st->c[CNT_BYTES];
	rs->kernel_drops = st->have_kernel ? (int64_t)st->kernel_drop : -1;
	for (int i = 0; i < CNT__N; i++) {
		names[i] = cap_counter_name((enum cap_counter)i);
		vals[i] = st->c[i];
	}
	rs->counter_names = names;
	rs->counter_values = vals;
	rs->n_counters = CNT__N;
}

static void
print_summary(FILE *out, struct cap_stats *st, const struct dispatch_stats *ds,
	      const struct corr_stats *cs, unsigned hosts)
{
	fprintf(out,
		"mxlag: %" PRIu64 " sessions, %" PRIu64 " replies, %" PRIu64 " DNS queries, %" PRIu64
		" ident probes, %" PRIu64 " causes\n",
		ds->sessions, ds->txns, ds->dns_queries, ds->ident_probes, ds->causes);
	if (ds->sessions_over_cap)
		fprintf(out,
			"mxlag: %" PRIu64 " mail connections not analyzed: %u sessions were open "
			"(--max-sessions)\n",
			ds->sessions_over_cap, ds->max_sessions);
	if (ds->ndpi_flows)
		fprintf(out, "mxlag: nDPI looked at %" PRIu64 " flows (%" PRIu64 " packets)\n",
			ds->ndpi_flows, ds->ndpi_packets);
	fprintf(out,
		"mxlag: %u mail host%s; %" PRIu64 " slow replies judged (peak %u waiting for "
		"their evidence), %" PRIu64 " host addresses found to be one machine\n",
		hosts, hosts == 1 ? "" : "s", cs->settled, cs->peak_held, cs->machines_merged);
	if (cs->incomplete || cs->held_forced || cs->dropped_dns || cs->dropped_ident)
		fprintf(out,
			"mxlag: memory caps: %" PRIu64 " slow replies judged without all their "
			"evidence (%" PRIu64 " early); %" PRIu64 " DNS queries and %" PRIu64
			" ident probes dropped while a wait might need them\n",
			cs->incomplete, cs->held_forced, cs->dropped_dns, cs->dropped_ident);
	fputs("counters:\n", out);
	cap_stats_print(st, out, "  ");
}

/*
 * After the interface is open and the database created, root is not needed:
 * hand the database files to the user (so it can write and later reopen
 * them) and become that user.  Default "nobody" when started as root.
 */
static int
drop_privileges(const char *user, const char *db)
{
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	if (geteuid() != 0)
		return 0;
	if (!user)
		user = "nobody";
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		fprintf(stderr, "mxlag: unknown user %s\n", user);
		return -1;
	}
	for (size_t i = 0; db && i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s%s", db, suffixes[i]);
		if (chown(path, pw->pw_uid, pw->pw_gid) != 0 && errno != ENOENT) {
			fprintf(stderr, "mxlag: cannot hand %s to %s: %s\n", path, user,
				strerror(errno));
			return -1;
		}
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		fprintf(stderr, "mxlag: cannot drop privileges to %s: %s\n", user, strerror(errno));
		return -1;
	}
	return 0;
}

/* The analysis loop shared by analyze (files) and capture (live). */
static int
run(struct run_opts *o, struct src *s, const char *source, const char *fp, int live)
{
	char err[512];
	struct store *st = NULL;
	int64_t run_id = 0;
	int rc = 0;

	if (!o->no_db) {
		int r = store_open(&st, o->db, err, sizeof(err));
		if (r != STORE_OK) {
			fprintf(stderr, "mxlag: %s: %s\n", o->db, err);
			return 1;
		}
		if (live) {
			/* the database file exists now: root is no longer needed */
			if (drop_privileges(o->user, o->db) != 0) {
				store_close(st);
				return 1;
			}
		}
		/* offline: big batches; into a new database, indexes built at the end */
		r = live ? STORE_OK : store_bulk_load(st);
		/* replies below the analysis threshold (and not failed) are kept
		   compact: a reply with a cause is always a row */
		if (r == STORE_OK)
			r = store_set_notable_ms(st, o->slow_ms);
		if (r == STORE_OK)
			r = store_begin_run(st, source, fp, &run_id);
		/* SQLite work on a thread of its own, off the packet path */
		if (r == STORE_OK)
			r = store_start_writer(st);
		if (r == STORE_DUPLICATE) {
			fprintf(stderr, "mxlag: %s\n", store_errmsg(st));
			store_close(st);
			return 3;
		}
		if (r != STORE_OK) {
			fprintf(stderr, "mxlag: %s: %s\n", o->db, store_errmsg(st));
			store_close(st);
			return 1;
		}
	} else if (live && drop_privileges(o->user, NULL) != 0) {
		return 1;
	}

	struct dispatch_cfg dc;
	memset(&dc, 0, sizeof(dc));
	dc.corr.slow_ms = o->slow_ms;
	dc.use_ndpi = 1;
	dc.max_sessions = o->max_sessions;
	dc.events_out = o->events ? stdout : NULL;
	struct dispatch *d = dispatch_new(&dc, st ? store_emit : NULL, st);
	struct capture *cap = d ? capture_new(NULL, dispatch_ops(d)) : NULL;
	if (!d || !cap) {
		fprintf(stderr, "mxlag: out of memory\n");
		capture_free(cap);
		dispatch_free(d);
		store_close(st);
		return 1;
	}
	for (int i = 0; i < o->nhosts; i++) {
		if (dispatch_add_host(d, o->hosts[i], err, sizeof(err)) != 0) {
			fprintf(stderr, "mxlag: %s\n", err);
			capture_free(cap);
			dispatch_free(d);
			store_close(st);
			return 2;
		}
	}

	int tty = !live && !o->quiet && isatty(STDERR_FILENO);
	time_t t0 = time(NULL), last_prog = 0, last_flush = time(NULL);
	uint64_t first_ns = 0, next_tick = 0, pkts = 0;
	struct pkt p;
	int r;
	uint64_t deadline_ns = 0;
	struct timespec ts0;
	clock_gettime(CLOCK_MONOTONIC, &ts0);
	if (live && o->duration > 0)
		deadline_ns = (uint64_t)ts0.tv_sec * 1000000000ULL + (uint64_t)ts0.tv_nsec +
			      (uint64_t)(o->duration * 1e9);

	while (!stop_requested && (r = src_next(s, &p)) != 0) {
		if (r < 0) {
			fprintf(stderr, "mxlag: %s\n", src_error(s));
			rc = 1;
			break;
		}
		if (r == 1) {
			if (!first_ns)
				first_ns = p.ts_ns;
			pkts++;
			capture_packet(cap, &p);
			uint64_t now = capture_now(cap);
			if (now >= next_tick) {
				dispatch_tick(d, now);
				next_tick = now + TICK_NS;
			}
		}
		if ((pkts & 0xffff) == 0 || r == 2) {
			time_t wall = time(NULL);
			if (tty && wall != last_prog) {
				progress(s, pkts, t0, 0);
				last_prog = wall;
			}
			if (live) {
				if (st && wall - last_flush >= 2) {
					store_commit_soon(st);
					last_flush = wall;
				}
				if (deadline_ns) {
					struct timespec tn;
					clock_gettime(CLOCK_MONOTONIC, &tn);
					if ((uint64_t)tn.tv_sec * 1000000000ULL + (uint64_t)tn.tv_nsec >=
					    deadline_ns)
						break;
				}
			}
		}
	}
	if (tty)
		progress(s, pkts, t0, 1);
	if (stop_requested && !live)
		fprintf(stderr,
			"mxlag: interrupted: stopped reading after %" PRIu64
			" packets; the analysis up to there is stored\n",
			pkts);

	capture_finish(cap);
	dispatch_finish(d, capture_now(cap));
	struct cap_stats *cs = capture_stats(cap);
	src_kernel_stats(s, cs);

	if (st) {
		struct run_stats rs;
		const char *names[CNT__N];
		uint64_t vals[CNT__N];
		fill_run_stats(&rs, cs, first_ns, capture_now(cap), names, vals);
		/* a run that read no packet is not kept (DESIGN.md, CLI) */
		if (store_end_run(st, &rs) != STORE_OK ||
		    (pkts == 0 && !live && store_forget_empty_run(st, run_id) != STORE_OK)) {
			fprintf(stderr, "mxlag: %s: %s\n", o->db, store_errmsg(st));
			rc = 1;
		}
	}
	if (!o->quiet)
		print_summary(o->events ? stderr : stdout, cs, dispatch_stats(d),
			      dispatch_corr_stats(d), hosts_count(dispatch_hosts(d)));
	if (!live) {
		/* one notice per file that gave no packet (not when interrupted:
		 * a file may not have been read); a damaged file has said so in
		 * its own line already.  No packets at all is a successful
		 * (empty) run unless a file was damaged. */
		const char *path;
		int it = 0;
		while (!stop_requested && (path = src_empty_file(s, &it)) != NULL)
			fprintf(stderr, "mxlag: %s: no packets%s\n", path,
				o->filter ? " match the filter" : "");
		if (pkts == 0 && src_damaged(s) && rc == 0)
			rc = 1;
	}
	capture_free(cap);
	dispatch_free(d);
	store_close(st);
	return rc;
}

enum {
	OPT_DB = 1000,
	OPT_SLOW,
	OPT_FILTER,
	OPT_HOST,
	OPT_EVENTS,
	OPT_NODB,
	OPT_QUIET,
	OPT_DURATION,
	OPT_USER,
	OPT_SNAPLEN,
	OPT_BUFFER,
	OPT_FORMAT,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_LIMIT,
	OPT_CLIENT,
	OPT_PROTOCOL,
	OPT_FAIL_IF_SLOW,
	OPT_MAX_SESSIONS,
	OPT_NO_PROMISC,
	OPT_TZ,
};

static const struct option run_longopts[] = {
	{"db", required_argument, NULL, OPT_DB},
	{"slow", required_argument, NULL, OPT_SLOW},
	{"filter", required_argument, NULL, OPT_FILTER},
	{"host", required_argument, NULL, OPT_HOST},
	{"events", no_argument, NULL, OPT_EVENTS},
	{"no-db", no_argument, NULL, OPT_NODB},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"interface", required_argument, NULL, 'i'},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"user", required_argument, NULL, OPT_USER},
	{"snaplen", required_argument, NULL, OPT_SNAPLEN},
	{"buffer", required_argument, NULL, OPT_BUFFER},
	{"max-sessions", required_argument, NULL, OPT_MAX_SESSIONS},
	{"no-promisc", no_argument, NULL, OPT_NO_PROMISC},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int
parse_double(const char *s, double *out, const char *what)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < 0) {
		fprintf(stderr, "mxlag: bad %s: %s\n", what, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* A whole number in [lo, hi]: 0, or -1 with one line on stderr. */
static int
parse_long(const char *s, long lo, long hi, long *out, const char *cmd, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "mxlag %s: bad %s %s\n", cmd, what, s);
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * getopt's error, as one line naming the command and its help (opterr = 0,
 * optstring starting with ':').
 */
static void
bad_option(const char *cmd, int c, char **argv)
{
	const char *opt = argv[optind - 1];
	if (c == ':')
		fprintf(stderr, "mxlag %s: option %s needs a value (mxlag help %s)\n", cmd, opt,
		        cmd);
	else if (optopt && !strchr(opt, '='))
		fprintf(stderr, "mxlag %s: unknown option -%c (mxlag help %s)\n", cmd, optopt, cmd);
	else
		fprintf(stderr, "mxlag %s: unknown option %s (mxlag help %s)\n", cmd, opt, cmd);
}

/* 0 = run; 1 = help printed (exit 0); -1 = usage error (exit 2) */
static int
parse_run_opts(const char *cmd, int argc, char **argv, struct run_opts *o)
{
	int c;
	long v;
	memset(o, 0, sizeof(*o));
	o->db = DEFAULT_DB;
	o->slow_ms = 1000;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:h", run_longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DB:
			o->db = optarg;
			break;
		case OPT_SLOW:
			if (parse_double(optarg, &o->slow_ms, "--slow") != 0)
				return -1;
			break;
		case OPT_FILTER:
			o->filter = optarg;
			break;
		case OPT_HOST:
			if (o->nhosts == 64) {
				fprintf(stderr, "mxlag: more than 64 --host options\n");
				return -1;
			}
			o->hosts[o->nhosts++] = optarg;
			break;
		case OPT_EVENTS:
			o->events = 1;
			break;
		case OPT_NODB:
			o->no_db = 1;
			break;
		case OPT_QUIET:
			o->quiet = 1;
			break;
		case 'i':
			o->iface = optarg;
			break;
		case OPT_DURATION:
			if (parse_double(optarg, &o->duration, "--duration") != 0)
				return -1;
			break;
		case OPT_USER:
			o->user = optarg;
			break;
		case OPT_SNAPLEN:
			if (parse_long(optarg, 64, 262144, &v, cmd, "--snaplen") != 0)
				return -1;
			o->snaplen = (int)v;
			break;
		case OPT_BUFFER:
			if (parse_long(optarg, 1, 65536, &v, cmd, "--buffer") != 0)
				return -1;
			o->buffer_mb = (int)v;
			break;
		case OPT_NO_PROMISC:
			o->no_promisc = 1;
			break;
		case OPT_MAX_SESSIONS:
			if (parse_long(optarg, 1, 10000000, &v, cmd, "--max-sessions") != 0)
				return -1;
			o->max_sessions = (uint32_t)v;
			break;
		case 'h':
			cmd_help(cmd);
			return 1;
		default:
			bad_option(cmd, c, argv);
			return -1;
		}
	}
	return 0;
}

static int
cmd_analyze(int argc, char **argv)
{
	struct run_opts o;
	char err[512], fp[64], source[1024];
	int pr = parse_run_opts("analyze", argc, argv, &o);
	if (pr != 0)
		return pr > 0 ? 0 : 2;
	int n = argc - optind;
	if (n <= 0) {
		fprintf(stderr, "mxlag analyze: no capture file given (mxlag help analyze)\n");
		return 2;
	}
	const char *const *paths = (const char *const *)&argv[optind];
	struct src *s;
	if (src_open_files(&s, paths, n, o.filter, err, sizeof(err)) != 0) {
		fprintf(stderr, "mxlag: %s\n", err);
		return 1;
	}
	source[0] = '\0';
	for (int i = 0; i < n; i++) {
		size_t l = strlen(source);
		snprintf(source + l, sizeof(source) - l, "%s%s", i ? " " : "", paths[i]);
	}
	int have_fp = fingerprint(paths, n, fp, sizeof(fp)) == 0;
	/* SIGINT/SIGTERM stop reading; what was read is finished and stored
	 * (exit 0).  A second signal kills at once (SA_RESETHAND).  SA_RESTART:
	 * a read from a pipe must not fail with EINTR (a false "damaged"). */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESETHAND | SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int rc = run(&o, s, source, have_fp ? fp : NULL, 0);
	src_close(s);
	return rc;
}

static int
cmd_capture(int argc, char **argv)
{
	struct run_opts o;
	char err[512], source[300];
	int pr = parse_run_opts("capture", argc, argv, &o);
	if (pr != 0)
		return pr > 0 ? 0 : 2;
	if (!o.iface) {
		fprintf(stderr, "mxlag capture: -i IFACE is required (mxlag help capture)\n");
		return 2;
	}
	/* promiscuous by default: on a mirror (SPAN) port the frames are
	 * addressed to other hosts, and a NIC drops those otherwise */
	struct live_opts lo = {o.iface, o.snaplen, o.buffer_mb, !o.no_promisc,
			       o.filter ? o.filter : DEFAULT_FILTER};
	struct src *s;
	if (src_open_live(&s, &lo, err, sizeof(err)) != 0) {
		fprintf(stderr, "mxlag: %s\n", err);
		return 1;
	}
	live_src = s;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	snprintf(source, sizeof(source), "live:%s", o.iface);
	int rc = run(&o, s, source, NULL, 1);
	live_src = NULL;
	src_close(s);
	return rc;
}

static bool
zone_is_utc(const char *z)
{
	return strcmp(z, "UTC") == 0 || strcmp(z, "Etc/UTC") == 0 || strcmp(z, "UTC0") == 0 ||
	       strcmp(z, "Universal") == 0 || strcmp(z, "Zulu") == 0;
}

/*
 * The zone of a report's text and HTML times: --tz ZONE (opt) wins ("local"
 * = the system's /etc/localtime), then a non-empty TZ, else UTC.  Sets TZ
 * for localtime_r() and *label to the zone's name (NULL = UTC).  A name that
 * is neither a file under the zoneinfo directory nor a POSIX TZ rule (those
 * have a digit: CET-1CEST, UTC0) is refused: -1 with one line on stderr.
 */
static int
report_zone(const char *opt, const char **label)
{
	static char sys[256];
	const char *env = getenv("TZ");
	const char *z = opt ? opt : env && env[0] ? env : NULL;
	*label = NULL;
	if (!z)
		return 0;
	if (opt && strcmp(opt, "local") == 0) {
		unsetenv("TZ");
		tzset();
		char link[512];
		ssize_t n = readlink("/etc/localtime", link, sizeof(link) - 1);
		const char *p = NULL;
		if (n > 0) {
			link[n] = '\0';
			p = strstr(link, "zoneinfo/");
		}
		snprintf(sys, sizeof(sys), "%s", p ? p + strlen("zoneinfo/") : "local");
		/* no /etc/localtime: the C library's local time is UTC */
		*label = zone_is_utc(sys) || access("/etc/localtime", R_OK) != 0 ? NULL : sys;
		return 0;
	}
	const char *name = z[0] == ':' ? z + 1 : z;
	const char *dir = getenv("TZDIR");
	char path[1024];
	struct stat st;
	bool ok;
	if (!name[0] || strlen(name) > 200 || strstr(name, ".."))
		ok = false;
	else if (name[0] == '/')
		ok = stat(name, &st) == 0 && S_ISREG(st.st_mode);
	else {
		snprintf(path, sizeof(path), "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo",
		         name);
		ok = (stat(path, &st) == 0 && S_ISREG(st.st_mode)) ||
		     (z[0] != ':' && strpbrk(name, "0123456789") != NULL);
	}
	if (!ok) {
		fprintf(stderr, "mxlag report: unknown time zone %s%s\n", z,
		        opt ? "" : " (the TZ environment variable)");
		return -1;
	}
	if (opt && setenv("TZ", opt, 1) != 0) {
		fprintf(stderr, "mxlag report: %s\n", strerror(errno));
		return -1;
	}
	tzset();
	*label = zone_is_utc(name) ? NULL : name;
	return 0;
}

static const struct option report_longopts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"since", required_argument, NULL, OPT_SINCE},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"slow", required_argument, NULL, OPT_SLOW},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"client", required_argument, NULL, OPT_CLIENT},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"fail-if-slow", required_argument, NULL, OPT_FAIL_IF_SLOW},
    {"output", required_argument, NULL, 'o'},
    {"tz", required_argument, NULL, OPT_TZ},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int
cmd_report(int argc, char **argv)
{
	const char *db = DEFAULT_DB, *outpath = NULL;
	struct report_opts ro;
	char err[512];
	double v;
	long fail_if_slow = -1;
	char *end;
	const char *tz = NULL;
	int c;
	report_opts_init(&ro);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", report_longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DB:
			db = optarg;
			break;
		case 'o':
			outpath = optarg;
			break;
		case OPT_FORMAT:
			if (report_format_parse(optarg, &ro.format) != 0) {
				fprintf(stderr, "mxlag report: unknown format %s (text, csv, json, html)\n",
					optarg);
				return 2;
			}
			break;
		case OPT_SINCE:
		case OPT_UNTIL:
			if (report_parse_time(optarg, &v) != 0) {
				fprintf(stderr, "mxlag report: bad time %s\n", optarg);
				return 2;
			}
			if (c == OPT_SINCE)
				ro.since = v;
			else
				ro.until = v;
			break;
		case OPT_SLOW:
			if (parse_double(optarg, &ro.slow_ms, "--slow") != 0)
				return 2;
			break;
		case OPT_LIMIT:
			errno = 0;
			ro.limit = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || ro.limit < 0) {
				fprintf(stderr, "mxlag report: bad --limit %s\n", optarg);
				return 2;
			}
			break;
		case OPT_CLIENT: {
			/* the database holds the inet_ntop form: 2001:DB8::01 -> 2001:db8::1 */
			static char client[64];
			struct mx_addr a;
			if (!mx_addr_parse(optarg, &a)) {
				fprintf(stderr, "mxlag report: bad --client %s\n", optarg);
				return 2;
			}
			ro.client = mx_addr_fmt(&a, client, sizeof(client));
			break;
		}
		case OPT_PROTOCOL:
			if (!report_protocol_valid(optarg)) {
				fprintf(stderr, "mxlag report: bad --protocol %s (smtp or pop3)\n",
					optarg);
				return 2;
			}
			ro.protocol = optarg;
			break;
		case OPT_TZ:
			tz = optarg;
			break;
		case OPT_FAIL_IF_SLOW:
			errno = 0;
			fail_if_slow = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || fail_if_slow < 0) {
				fprintf(stderr, "mxlag report: bad --fail-if-slow %s\n", optarg);
				return 2;
			}
			break;
		case 'h':
			help_report(stdout);
			return 0;
		default:
			bad_option("report", c, argv);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "mxlag report: which report? (%s)\n", report_names());
		return 2;
	}
	if (report_zone(tz, &ro.tz) != 0)
		return 2;
	ro.name = argv[optind];
	ro.arg = optind + 1 < argc ? argv[optind + 1] : NULL;
	int na = report_needs_arg(ro.name);
	if (na < 0) {
		fprintf(stderr, "mxlag report: unknown report %s (%s)\n", ro.name, report_names());
		return 2;
	}
	if (na > 0 && !ro.arg) {
		fprintf(stderr, "mxlag report: report %s needs an argument (mxlag help report)\n",
		        ro.name);
		return 2;
	}
	if (optind + (na > 0 ? 2 : 1) < argc) {
		fprintf(stderr, "mxlag report: unexpected argument %s\n",
		        argv[optind + (na > 0 ? 2 : 1)]);
		return 2;
	}
	sqlite3 *h;
	if (report_open(&h, db, err, sizeof(err)) != 0) {
		fprintf(stderr, "mxlag report: %s\n", err);
		return 1;
	}
	FILE *out = stdout;
	if (outpath && !(out = fopen(outpath, "w"))) {
		fprintf(stderr, "mxlag: %s: %s\n", outpath, strerror(errno));
		sqlite3_close(h);
		return 1;
	}
	/* colour only on a terminal, never in files or pipes */
	ro.color = out == stdout && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") &&
		   ro.format == REPORT_TEXT;
	int rc = 0;
	int rr = report_run(h, &ro, out, err, sizeof(err));
	if (rr != 0) {
		fprintf(stderr, "mxlag report: %s\n", err);
		rc = rr == REPORT_EUSAGE ? 2 : 1;
	}
	if (rc == 0 && fail_if_slow >= 0) {
		long nslow;
		if (report_count_slow(h, &ro, &nslow, err, sizeof(err)) != 0) {
			fprintf(stderr, "mxlag report: %s\n", err);
			rc = 1;
		} else if (nslow > fail_if_slow) {
			fprintf(stderr, "mxlag report: %ld slow replies (more than %ld)\n", nslow,
				fail_if_slow);
			rc = 4;
		}
	}
	sqlite3_close(h);
	if (out != stdout && fclose(out) != 0) {
		fprintf(stderr, "mxlag: %s: %s\n", outpath, strerror(errno));
		rc = 1;
	}
	return rc;
}

static int
cmd_schema(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return cmd_help("schema");
	if (argc > 1) {
		fprintf(stderr, "mxlag schema: unexpected argument %s (mxlag help schema)\n",
		        argv[1]);
		return 2;
	}
	fputs(store_schema_sql(), stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	argv[1] = argv[0];
	argc--;
	argv++;
	if (strcmp(cmd, "analyze") == 0)
		return cmd_analyze(argc, argv);
	if (strcmp(cmd, "capture") == 0)
		return cmd_capture(argc, argv);
	if (strcmp(cmd, "report") == 0)
		return cmd_report(argc, argv);
	if (strcmp(cmd, "schema") == 0)
		return cmd_schema(argc, argv);
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		if (argc > 2) {
			fprintf(stderr, "mxlag help: one topic at a time\n");
			return 2;
		}
		return cmd_help(argc == 2 ? argv[1] : NULL);
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0)
		return cmd_version();
	fprintf(stderr, "mxlag: unknown command %s (mxlag help)\n", cmd);
	return 2;
}
