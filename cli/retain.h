/*
 * retain.h - capture --retain DURATION: a thread of the capture that prunes
 * its database of what is older than DURATION when the capture starts and
 * then every hour (schema/lifecycle.h), keeping the capture's own run.
 *
 * It uses a connection of its own in short transactions, beside the
 * capture's writer thread, and never the one-time VACUUM (that is for
 * `mxlag prune` with no writer running): a database older than issue 13
 * keeps its freed pages for reuse.
 */
#ifndef MXLAG_CLI_RETAIN_H
#define MXLAG_CLI_RETAIN_H

#include <stdint.h>

struct sqlite3;

#define RETAIN_INTERVAL_S 3600

struct retainer;

/*
 * Starts it on db, a connection of its own (lifecycle_open(), opened before
 * the capture drops root: the database's directory may be closed to the
 * user it becomes), named path; the first prune at once.  On success the
 * retainer owns db; NULL when the thread cannot start (a line on stderr;
 * db is still the caller's).  quiet: no line per prune.
 */
struct retainer *retain_start(struct sqlite3 *db, const char *path, double age_s,
                              int64_t keep_run, int quiet);
/* Stops it (a prune under way finishes first) and closes its connection;
 * NULL is fine. */
void retain_stop(struct retainer *r);

#endif
