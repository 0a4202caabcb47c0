/*
 * dblock.h - the writer lock of a database: one mxlag analyze or capture
 * writes to a database at a time.
 *
 * The lock is a POSIX record lock (fcntl F_SETLK, whole file) on DBFILE-lock
 * beside the database, held for the writer's life: the kernel drops it when
 * the process ends, however it ends (SIGKILL, a crash), so a lock is never
 * stale.  The file says who holds it: "pid PID\nrun RUN\ncmd COMMAND LINE\n"
 * (run 0 until the run row exists).  The file is kept, never removed (a
 * removal would race with a writer opening it), and emptied on release.
 * Readers find the holder with F_GETLK, on a read-only descriptor, without
 * taking anything.
 */
#ifndef MXLAG_CLI_DBLOCK_H
#define MXLAG_CLI_DBLOCK_H

#include <stddef.h>
#include <stdint.h>

struct dblock_holder {
	long pid;       /* from the kernel (F_GETLK) */
	int64_t run_id; /* 0: not known yet */
	char cmd[512];  /* the holder's command line, "" when not written yet */
};

struct dblock;

/* DBFILE-lock into buf; -1 when it does not fit. */
int dblock_path(const char *db, char *buf, size_t n);

/*
 * Takes the writer lock of db: 0 = taken (*out), 1 = another process holds
 * it (*holder says who), -1 = error (err).
 */
int dblock_take(const char *db, struct dblock **out, struct dblock_holder *holder, char *err,
                size_t errlen);
/* Records the run the holder writes (after store_begin_run). */
void dblock_set_run(struct dblock *l, int64_t run_id);
/* Empties the file and releases the lock; NULL is fine. */
void dblock_release(struct dblock *l);

/* Who writes db now: 1 (*holder filled), 0 nobody, -1 error (err). */
int dblock_holder(const char *db, struct dblock_holder *holder, char *err, size_t errlen);

#endif
