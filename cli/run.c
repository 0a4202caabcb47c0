/*
 * run.c - the analysis loop shared by analyze (files) and capture (live):
 * the one place that sees capture/, analyze/ and schema/ together.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture/anchor.h"
#include "capture/capture.h"
#include "capture/source.h"
#include "analyze/dispatch.h"
#include "analyze/metrics.h"
#include "schema/lifecycle.h"
#include "schema/store.h"
#include "cli/common.h"
#include "cli/dblock.h"
#include "cli/retain.h"
#include "cli/run.h"

#define TICK_NS 1000000000ULL
#define LIVE_UPDATE_S 2 /* capture: the runs row and a commit, every this many seconds */

volatile sig_atomic_t stop_requested;
struct src *live_src; /* for the signal handler only */

void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
	if (live_src)
		src_break(live_src);
}

/* FNV-1a over the size and first MiB of each file: what "same capture" means. */
int
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

/* capture: the live figures of the runs row (no counters: those are written at the end) */
static void
live_run_stats(struct run_stats *rs, const struct cap_stats *st, uint64_t first, uint64_t last)
{
	memset(rs, 0, sizeof(*rs));
	rs->first_ns = first;
	rs->last_ns = last;
	rs->packets = st->c[CNT_PACKETS];
	rs->bytes = st->c[CNT_BYTES];
	rs->kernel_drops = st->have_kernel ? (int64_t)st->kernel_drop : -1;
}

/* the run's end: its live figures and every counter */
static void
fill_run_stats(struct run_stats *rs, struct cap_stats *st, uint64_t first, uint64_t last,
	       const char **names, uint64_t *vals)
{
	live_run_stats(rs, st, first, last);
	for (int i = 0; i < CNT__N; i++) {
		names[i] = cap_counter_name((enum cap_counter)i);
		vals[i] = st->c[i];
	}
	rs->counter_names = names;
	rs->counter_values = vals;
	rs->n_counters = CNT__N;
}


/* capture --status: one line on stderr (wording documented in README.md) */
static void
print_status(const struct cap_stats *st, const struct dispatch_stats *ds,
             const struct corr_stats *cs, double rate)
{
	char drops[32] = "unknown";
	if (st->have_kernel)
		snprintf(drops, sizeof(drops), "%" PRIu64, (uint64_t)st->kernel_drop);
	fprintf(stderr,
	        "mxlag: status: %" PRIu64 " packets, %.1f packets/s, %s kernel drops, %" PRIu64
	        " sessions, %" PRIu64 " DNS queries, %" PRIu64 " slow replies\n",
	        st->c[CNT_PACKETS], rate, drops, ds->sessions, ds->dns_queries, cs->settled);
}

static uint64_t
mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
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
	if (cs->incomplete || cs->held_forced || cs->dropped_dns || cs->dropped_ident ||
	    cs->dropped_xfers)
		fprintf(out,
			"mxlag: memory caps: %" PRIu64 " slow replies judged without all their "
			"evidence (%" PRIu64 " early); %" PRIu64 " DNS queries, %" PRIu64
			" ident probes and %" PRIu64 " big messages dropped while a wait might "
			"need them\n",
			cs->incomplete, cs->held_forced, cs->dropped_dns, cs->dropped_ident,
			cs->dropped_xfers);
	if (cs->bounces || cs->bounce_out[0] || cs->bounce_out[1] || cs->bounce_out[2])
		fprintf(out,
			"mxlag: %" PRIu64 " deliveries bounce inbound mail; bounce tables: %u sender "
			"domains, %u MX names, %u addresses kept (%" PRIu64 ", %" PRIu64 ", %" PRIu64
			" forced out by the caps)\n",
			cs->bounces, cs->bounce_kept[0], cs->bounce_kept[1], cs->bounce_kept[2],
			cs->bounce_out[0], cs->bounce_out[1], cs->bounce_out[2]);
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
	static const char *const suffixes[] = {"", "-wal", "-shm", "-lock"};
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

/* The first packet of a run that an earlier run stored (anchor.h). */
struct dup_hit {
	int64_t run;     /* the earlier run; 0 = none met */
	int origin;      /* the file it is in */
	uint64_t number; /* its number in that file, from 1 */
	uint64_t ts_ns;
};

/*
 * The duplicate guard by content, for one packet: an anchor (the first of
 * its file, or chosen by its hash) is stored with the run; offline, one an
 * earlier run stored too fills *dup and returns 1.
 */
static int
anchor_check(struct store *st, const struct pkt *p, uint64_t *file_pkts, int nfiles, int live,
             struct dup_hit *dup)
{
	int f = p->origin >= 0 && p->origin < nfiles ? p->origin : 0;
	uint64_t h = anchor_hash(p->ts_ns, p->wirelen, p->data, p->caplen);
	uint64_t number = ++file_pkts[f];
	if (number != 1 && !anchor_by_content(h))
		return 0;
	int64_t earlier = store_anchor(st, h, p->ts_ns);
	if (!earlier || live)
		return 0;
	dup->run = earlier;
	dup->origin = f;
	dup->number = number;
	dup->ts_ns = p->ts_ns;
	return 1;
}

/*
 * An offline run met a packet an earlier run stored: its rows are deleted
 * and one line names the file, the packet and the earlier run.  Returns the
 * exit status (3, or 1 when the run could not be deleted).
 */
static int
refuse_overlap(struct store *st, const char *dbpath, int64_t run_id, const struct src *s,
               const struct dup_hit *dup)
{
	sqlite3 *db = store_db(st);
	char earlier[512] = "?", pkt_time[64];
	store_run_text(st, dup->run, earlier, sizeof(earlier));
	time_t pt = (time_t)(dup->ts_ns / 1000000000u);
	struct tm tm;
	char hms[40] = "?";
	if (gmtime_r(&pt, &tm))
		strftime(hms, sizeof(hms), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(pkt_time, sizeof(pkt_time), "%s.%06u UTC", hms,
	         (unsigned)(dup->ts_ns % 1000000000u / 1000u));
	const char *file = src_file_path(s, dup->origin);
	char err[512];
	int64_t rows = 0;
	if (lifecycle_delete_run(db, run_id, &rows, err, sizeof(err)) < 0) {
		fprintf(stderr, "mxlag: %s: deleting run %lld, which overlaps run %lld: %s\n", dbpath,
		        (long long)run_id, (long long)dup->run, err);
		return 1;
	}
	fprintf(stderr,
	        "mxlag: %s: packet %" PRIu64 " (%s) is already in %s, stored by run %lld (%s): "
	        "the captures overlap, nothing of this analysis is kept; delete run %lld first "
	        "(mxlag runs delete %lld) or use another --db\n",
	        file ? file : "?", dup->number, pkt_time, dbpath, (long long)dup->run, earlier,
	        (long long)dup->run, (long long)dup->run);
	return 3;
}

/* capture --metrics: every event through the registry, then to the store */
struct tee {
	struct metrics *m;
	mx_emit_fn next;
	void *next_ctx;
};

static void
tee_emit(void *ctx, const struct mx_event *ev)
{
	const struct tee *t = ctx;
	metrics_event(t->m, ev);
	if (t->next)
		t->next(t->next_ctx, ev);
}

/* capture --metrics: the capture's and the dispatcher's counters */
static void
feed_metrics(struct metrics *m, struct src *s, struct capture *cap, struct dispatch *d)
{
	src_kernel_stats(s, capture_stats(cap));
	metrics_capture(m, capture_stats(cap), capture_now(cap));
	metrics_dispatch(m, dispatch_stats(d));
}

/* The analysis loop shared by analyze (files) and capture (live). */
static int
run_store(struct run_opts *o, struct src *s, const char *source, const char *fp, int live,
          struct dblock *lock)
{
	char err[512];
	struct store *st = NULL;
	int64_t run_id = 0;
	int rc = 0;
	sqlite3 *rdb = NULL; /* capture --retain's connection */

	if (!o->no_db) {
		int r = store_open(&st, o->db, err, sizeof(err));
		if (r != STORE_OK) {
			fprintf(stderr, "mxlag: %s: %s\n", o->db, err);
			return 1;
		}
		/* opened before root is dropped: the database's directory may be
		 * closed to the user the capture becomes */
		if (live && o->retain > 0 && lifecycle_open(&rdb, o->db, err, sizeof(err)) != 0) {
			fprintf(stderr, "mxlag: --retain: %s\n", err);
			store_close(st);
			return 1;
		}
		if (live) {
			/* the database file exists now: root is no longer needed */
			if (drop_privileges(o->user, o->db) != 0) {
				store_close(st);
			sqlite3_close(rdb);
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
			r = store_set_big_bytes(st, o->big_bytes);
		if (r == STORE_OK)
			r = store_begin_run(st, source, fp, &run_id);
		if (r == STORE_OK)
			dblock_set_run(lock, run_id);
		/* offline: the duplicate guard by content reads the stored anchors */
		if (r == STORE_OK && !live)
			r = store_load_anchors(st);
		/* SQLite work on a thread of its own, off the packet path */
		if (r == STORE_OK)
			r = store_start_writer(st);
		if (r == STORE_DUPLICATE) {
			fprintf(stderr, "mxlag: %s\n", store_errmsg(st));
			store_close(st);
			sqlite3_close(rdb);
			return 3;
		}
		if (r != STORE_OK) {
			fprintf(stderr, "mxlag: %s: %s\n", o->db, store_errmsg(st));
			store_close(st);
			sqlite3_close(rdb);
			return 1;
		}
	} else if (live && drop_privileges(o->user, NULL) != 0) {
		return 1;
	}

	struct dispatch_cfg dc;
	memset(&dc, 0, sizeof(dc));
	dc.corr.slow_ms = o->slow_ms;
	dc.corr.big_bytes = o->big_bytes;
	dc.use_ndpi = 1;
	dc.max_sessions = o->max_sessions;
	dc.events_out = o->events ? stdout : NULL;
	/* --metrics: the registry sees every event before the store does */
	struct tee tee = {o->metrics, st ? store_emit : NULL, st};
	struct dispatch *d = o->metrics ? dispatch_new(&dc, tee_emit, &tee)
	                                : dispatch_new(&dc, tee.next, tee.next_ctx);
	struct capture *cap = d ? capture_new(NULL, dispatch_ops(d)) : NULL;
	if (!d || !cap) {
		fprintf(stderr, "mxlag: out of memory\n");
		capture_free(cap);
		dispatch_free(d);
		store_close(st);
			sqlite3_close(rdb);
		return 1;
	}
	for (int i = 0; i < o->nhosts; i++) {
		if (dispatch_add_host(d, o->hosts[i], err, sizeof(err)) != 0) {
			fprintf(stderr, "mxlag: %s\n", err);
			capture_free(cap);
			dispatch_free(d);
			store_close(st);
			sqlite3_close(rdb);
			return 2;
		}
	}

	/* capture --retain: pruning beside the capture, its own run kept */
	struct retainer *ret = NULL;
	if (rdb && !(ret = retain_start(rdb, o->db, o->retain, run_id, o->quiet))) {
		sqlite3_close(rdb);
		capture_free(cap);
		dispatch_free(d);
		store_close(st);
		return 1;
	}

	int tty = !live && !o->quiet && isatty(STDERR_FILENO);
	time_t t0 = time(NULL), last_prog = 0, last_flush = time(NULL);
	uint64_t first_ns = 0, next_tick = 0, pkts = 0;
	struct pkt p;
	int r;
	uint64_t deadline_ns = 0, mono0 = mono_ns();
	if (live && o->duration > 0)
		deadline_ns = mono0 + (uint64_t)(o->duration * 1e9);
	/* capture --status: the next line is due at next_status (monotonic) */
	uint64_t status_ns = live ? (uint64_t)(o->status * 1e9) : 0;
	uint64_t next_status = mono0 + status_ns, status_pkts = 0, status_at = mono0;
	/* capture --metrics: the counters are handed over once a second */
	uint64_t next_metrics = mono0;
	/* live: the clock is looked at every 1024 packets (and when the source is idle) */
	uint64_t check_mask = live ? 0x3ff : 0xffff;
	/* the duplicate guard by content: packets read per file (0: its first is
	 * still to come, an anchor whatever its hash), and the first packet an
	 * earlier run stored, if one is met */
	int nfiles = src_nfiles(s);
	uint64_t *file_pkts = st ? calloc(nfiles > 0 ? (size_t)nfiles : 1, sizeof(*file_pkts)) : NULL;
	struct dup_hit dup = {0};
	if (st && !file_pkts) {
		fprintf(stderr, "mxlag: out of memory\n");
		stop_requested = 1;
		rc = 1;
	}

	while (!stop_requested && (r = src_next(s, &p)) != 0) {
		if (r < 0) {
			fprintf(stderr, "mxlag: %s\n", src_error(s));
			rc = 1;
			break;
		}
		if (r == 1) {
			if (file_pkts && anchor_check(st, &p, file_pkts, nfiles, live, &dup))
				break; /* an earlier run stored this packet: refused below */
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
		if ((pkts & check_mask) == 0 || r == 2) {
			time_t wall = time(NULL);
			if (tty && wall != last_prog) {
				progress(s, pkts, t0, 0);
				last_prog = wall;
			}
			if (live) {
				int update = st && wall - last_flush >= LIVE_UPDATE_S;
				uint64_t mono = mono_ns();
				int status = status_ns && mono >= next_status;
				if (update || status)
					src_kernel_stats(s, capture_stats(cap));
				if (update) {
					/* the runs row and a commit, queued behind the
					 * events: the writer thread does the SQLite work */
					struct run_stats rs;
					live_run_stats(&rs, capture_stats(cap), first_ns,
					               capture_now(cap));
					store_update_run_soon(st, &rs);
					last_flush = wall;
				}
				if (status) {
					double el = (double)(mono - status_at) / 1e9;
					uint64_t n = capture_stats(cap)->c[CNT_PACKETS];
					print_status(capture_stats(cap), dispatch_stats(d),
					             dispatch_corr_stats(d),
					             el > 0 ? (double)(n - status_pkts) / el : 0);
					status_pkts = n;
					status_at = mono;
					while (next_status <= mono)
						next_status += status_ns;
				}
				if (o->metrics && mono >= next_metrics) {
					feed_metrics(o->metrics, s, cap, d);
					next_metrics = mono + TICK_NS;
				}
				if (deadline_ns && mono >= deadline_ns)
					break;
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

	retain_stop(ret);
	capture_finish(cap);
	dispatch_finish(d, capture_now(cap));
	struct cap_stats *cs = capture_stats(cap);
	src_kernel_stats(s, cs);
	if (o->metrics)
		feed_metrics(o->metrics, s, cap, d);

	if (st) {
		struct run_stats rs;
		const char *names[CNT__N];
		uint64_t vals[CNT__N];
		fill_run_stats(&rs, cs, first_ns, capture_now(cap), names, vals);
		/* a run that read no packet is not kept (DESIGN.md, CLI) */
		if (store_end_run(st, &rs) != STORE_OK ||
		    (pkts == 0 && !live && !dup.run &&
		     store_forget_empty_run(st, run_id) != STORE_OK)) {
			fprintf(stderr, "mxlag: %s: %s\n", o->db, store_errmsg(st));
			rc = 1;
		} else if (dup.run) {
			rc = refuse_overlap(st, o->db, run_id, s, &dup);
		}
	}
	free(file_pkts);
	/* a refused run said so in its one line: no summary, no notices */
	if (!o->quiet && !dup.run)
		print_summary(o->events ? stderr : stdout, cs, dispatch_stats(d),
			      dispatch_corr_stats(d), hosts_count(dispatch_hosts(d)));
	if (!live && !dup.run) {
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

/*
 * The writer lock of the database (cli/dblock.h) is held for the whole run:
 * a second writer is refused (exit 5) naming this one, and `mxlag runs`
 * tells which run is running and by whom.
 */
int
run(struct run_opts *o, struct src *s, const char *source, const char *fp, int live)
{
	struct dblock *lock = NULL;
	if (!o->no_db) {
		struct dblock_holder h;
		char err[512];
		int t = dblock_take(o->db, &lock, &h, err, sizeof(err));
		if (t < 0) {
			fprintf(stderr, "mxlag: %s\n", err);
			return 1;
		}
		if (t > 0) {
			/* one writer at a time: refused before the database is opened,
			 * so the running one is never disturbed */
			char run[48] = "";
			if (h.run_id > 0)
				snprintf(run, sizeof(run), ", run %lld", (long long)h.run_id);
			fprintf(stderr,
			        "mxlag: %s is being written by pid %ld (%s)%s; one writer at a "
			        "time: stop it or use another --db\n",
			        o->db, h.pid, h.cmd[0] ? h.cmd : "command not known", run);
			return 5;
		}
	}
	int rc = run_store(o, s, source, fp, live, lock);
	dblock_release(lock);
	return rc;
}

static const struct option run_longopts[] = {
	{"db", required_argument, NULL, OPT_DB},
	{"slow", required_argument, NULL, OPT_SLOW},
	{"big-message", required_argument, NULL, OPT_BIG_MESSAGE},
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
	{"retain", required_argument, NULL, OPT_RETAIN},
	{"status", required_argument, NULL, OPT_STATUS},
	{"metrics", required_argument, NULL, OPT_METRICS},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* 0 = run; 1 = help printed (exit 0); -1 = usage error (exit 2) */
int
parse_run_opts(const char *cmd, int argc, char **argv, struct run_opts *o)
{
	int c;
	long v;
	memset(o, 0, sizeof(*o));
	o->db = DEFAULT_DB;
	o->slow_ms = 1000;
	o->big_bytes = CORR_BIG_BYTES_DEFAULT;
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
		case OPT_BIG_MESSAGE:
			if (parse_size(optarg, &o->big_bytes) != 0 || o->big_bytes < MX_TRANSFER_STEP) {
				fprintf(stderr,
				        "mxlag %s: bad --big-message %s (a size of 1048576 bytes or more:"
				        " 10M, 10MB, 700000000)\n",
				        cmd, optarg);
				return -1;
			}
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
		case OPT_RETAIN:
			if (parse_duration(optarg, &o->retain) != 0) {
				fprintf(stderr, "mxlag %s: bad --retain %s (30d, 12h, 90m, 2w)\n", cmd,
				        optarg);
				return -1;
			}
			break;
		case OPT_STATUS:
			if (parse_double(optarg, &o->status, "--status") != 0)
				return -1;
			if (!(o->status > 0)) {
				fprintf(stderr, "mxlag %s: --status needs a number of seconds above 0\n",
				        cmd);
				return -1;
			}
			break;
		case OPT_METRICS:
			if (strcmp(cmd, "capture") != 0) {
				fprintf(stderr, "mxlag %s: --metrics is for capture only\n", cmd);
				return -1;
			}
			if (metrics_http_parse(optarg, &o->metrics_addr) != 0) {
				fprintf(stderr,
				        "mxlag %s: bad --metrics %s (ADDR:PORT: 127.0.0.1:9100, "
				        "[::1]:9100)\n",
				        cmd, optarg);
				return -1;
			}
			o->metrics_spec = optarg;
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
