/*
 * common.c - value parsers and getopt's error line, shared by the commands.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
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

int
parse_duration(const char *s, double *seconds)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !(v > 0) || v > 1e7 || end[0] == '\0' || end[1] != '\0')
		return -1;
	static const struct {
		char unit;
		double s;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (end[0] == units[i].unit) {
			*seconds = v * units[i].s;
			return 0;
		}
	return -1;
}

int
parse_size(const char *s, uint64_t *bytes)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !(v > 0) || s[0] == '-' || s[0] == '+')
		return -1;
	double mult = 1;
	switch (end[0]) {
	case 'k':
	case 'K':
		mult = 1e3;
		end++;
		break;
	case 'M':
		mult = 1e6;
		end++;
		break;
	case 'G':
		mult = 1e9;
		end++;
		break;
	default:
		break;
	}
	if (end[0] == 'B')
		end++;
	if (end[0] != '\0' || v * mult > 1e15)
		return -1;
	*bytes = (uint64_t)(v * mult + 0.5);
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
int
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

