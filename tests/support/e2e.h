/*
 * e2e.h - end-to-end test helpers: run the built mxlag binary on a
 * capture and check the database and the JSON "slow" report against a
 * truth file (the format of ../shared/captures/NAME.truth.json).
 */
#ifndef MXLAG_TEST_E2E_H
#define MXLAG_TEST_E2E_H

#include <stddef.h>
#include <sys/types.h>

/* Path of a built program ("mxlag", "mxlag-gen") via $MXLAG_BUILD; under
 * scripts/valgrind.sh its memcheck wrapper in $MXLAG_VG_BIN. */
const char *e2e_bin(const char *name, char *buf, size_t n);
/* $MXLAG_SHARED or NULL when ../shared is not there. */
const char *e2e_shared(void);
/* A fresh temporary directory (mkdtemp); caller removes it with e2e_rmdir. */
char *e2e_tmpdir(void);
void e2e_rmdir(char *dir);
/* Runs a shell command, returns its exit status (or -1); output to *out if not NULL (malloc'd). */
int e2e_sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads a whole file (malloc'd, NUL-terminated) or NULL. */
char *e2e_slurp(const char *path);
/* A value of a "key<TAB>value" file (mxlag-gen traffic's totals); -1 when
 * the key is not there.  Asserts that the file can be read. */
double e2e_total(const char *path, const char *key);
/*
 * Schema 7's per-minute counts against the rows of database db: the number
 * of (minute, group, count) rows of session_counts and dns_counts that the
 * complete sessions and the DNS queries do not give, and the other way
 * round (0 = exact); -1 when the check could not run.
 */
long e2e_count_mismatches(const char *db);
/*
 * A writer that stays: `mxlag analyze -` (bin) in dir, its standard input a
 * generated capture (gen traffic --profile light, dir/light.pcap) followed
 * by 100 s of nothing.  Returns the pid of its shell, the leader of a
 * process group of its own (stop it with kill(-pid, ...)).  Asserts.
 */
pid_t e2e_held_writer(const char *dir, const char *bin, const char *gen);
/* CLOCK_MONOTONIC in seconds */
double e2e_now_s(void);
/* The first column of the first row of sql in database db (the sqlite3
 * shell), or -1 when it cannot be read. */
long e2e_sql_long(const char *db, const char *sql);
/*
 * Analyzes pcap into dir/mxlag.db, prints the JSON slow report, and checks
 * every statement of the truth file with cr_expect (so all mismatches are
 * listed).  Returns the number of failed checks.
 *
 * The truth: "sessions" (per client, optionally "protocol" and
 * "server_addr": then only that client's sessions with that server count;
 * "slow": the slow replies by "command" with their "causes", each matched
 * by kind, relation, qname, outcome (a string or a list of accepted ones);
 * "exact": true on a slow reply: no other top-level cause may be stored or
 * reported for it; an empty "slow": nothing slow), "dns" (qname, outcome),
 * "ident" (outcome), "sql" ([query, op, value]).  "hosts": ["ADDR", ...]
 * (a capture of several mail hosts): every check is made twice, on the
 * learned hosts (dir/mxlag.db) and with --host for each (dir/mxlag-hosts.db).
 */
int e2e_check_truth(const char *pcap, const char *truth_path, const char *dir);

#endif
