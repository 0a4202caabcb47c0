/*
 * common.h - what the command files of cli/ share: the option codes, the
 * default database, the value parsers and getopt's error line, and the
 * entry point of every command (cli/main.c dispatches to them).
 */
#ifndef MXLAG_CLI_COMMON_H
#define MXLAG_CLI_COMMON_H

#include <stdint.h>
#include <stdio.h>

#define DEFAULT_DB "mxlag.db"

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
	OPT_OLDER_THAN,
	OPT_RETAIN,
	OPT_STATUS,
	OPT_BIG_MESSAGE,
	OPT_METRICS,
};

/* a non-negative number: 0, or -1 with one line on stderr */
int parse_double(const char *s, double *out, const char *what);
/* A whole number in [lo, hi]: 0, or -1 with one line on stderr. */
int parse_long(const char *s, long lo, long hi, long *out, const char *cmd, const char *what);
/* a duration: a positive number and a unit s, m, h, d or w -> seconds;
 * 0, or -1 (no message) */
int parse_duration(const char *s, double *seconds);
/* a size in bytes: a whole number with an optional unit k, M or G (powers of
 * 1000; B and a trailing "B" accepted: 10M, 10MB, 700000000); 0, or -1 (no
 * message) */
int parse_size(const char *s, uint64_t *bytes);
/* getopt's error, as one line naming the command and its help */
void bad_option(const char *cmd, int c, char **argv);

/*
 * The zone of text and HTML times: --tz ZONE (opt), else TZ, else UTC; sets
 * TZ and *label (NULL = UTC).  0, or -1 with one line on stderr.
 */
int report_zone(const char *opt, const char **label);

/* help.c */
void usage(FILE *out);
void help_report(FILE *out);
int cmd_help(const char *topic);
int cmd_version(void);

/* one file each: argv[0] is the program, argv[1] the first argument after
 * the command; the return value is the exit status */
int cmd_analyze(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_schema(int argc, char **argv);
int cmd_runs(int argc, char **argv);
void cmd_runs_help(FILE *out);
int cmd_prune(int argc, char **argv);
void cmd_prune_help(FILE *out);
int cmd_migrate(int argc, char **argv);
void cmd_migrate_help(FILE *out);

#endif
