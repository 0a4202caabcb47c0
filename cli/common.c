/*
 * common.c - value parsers and getopt's error line, shared by the commands.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"

int
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
int
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
void
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
