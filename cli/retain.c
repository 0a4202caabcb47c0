/*
 * retain.c - pruning beside a live capture (retain.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "schema/lifecycle.h"
#include "cli/retain.h"

struct retainer {
	sqlite3 *conn;
	const char *db;
	double age_s;
	int64_t keep;
	int quiet;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

static void
prune_once(struct retainer *r)
{
	char err[512];
	sqlite3 *db = r->conn;
	struct prune_stats ps;
	int vacuumed;
	double cutoff = floor(((double)time(NULL) - r->age_s) / 60) * 60;
	if (lifecycle_prune(db, cutoff, r->keep, &ps, err, sizeof(err)) != 0 ||
	    lifecycle_reclaim(db, 0, &vacuumed, err, sizeof(err)) != 0)
		fprintf(stderr, "mxlag: --retain: %s: %s\n", r->db, err);
	else if (!r->quiet)
		fprintf(stderr,
		        "mxlag: --retain: pruned %" PRId64 " sessions, %" PRId64
		        " DNS queries, %" PRId64 " ident probes, %" PRId64 " runs older than %.1f days\n",
		        ps.sessions, ps.dns_queries, ps.ident_probes, ps.runs, r->age_s / 86400);
}

static void *
retain_main(void *arg)
{
	struct retainer *r = arg;
	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		pthread_mutex_unlock(&r->mu);
		prune_once(r);
		pthread_mutex_lock(&r->mu);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += RETAIN_INTERVAL_S;
		while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &until) != ETIMEDOUT) {
		}
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

struct retainer *
retain_start(sqlite3 *conn, const char *db, double age_s, int64_t keep_run, int quiet)
{
	struct retainer *r = calloc(1, sizeof(*r));
	if (!r) {
		fprintf(stderr, "mxlag: out of memory\n");
		return NULL;
	}
	r->conn = conn;
	r->db = db;
	r->age_s = age_s;
	r->keep = keep_run;
	r->quiet = quiet;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	/* signals (Ctrl-C, SIGTERM) are the capture's: not on this thread */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int e = pthread_create(&r->thread, NULL, retain_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		fprintf(stderr, "mxlag: --retain: cannot start its thread: %s\n", strerror(e));
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		free(r);
		return NULL;
	}
	return r;
}

void
retain_stop(struct retainer *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	sqlite3_close(r->conn);
	free(r);
}
