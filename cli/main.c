/*
 * main.c - the mxlag command line: dispatches to one file per command
 * (cli/cmd_*.c); cli/run.c is the composition root of analyze and capture.
 *
 *   mxlag analyze [--db FILE] [--slow MS] [--filter BPF] [--host ADDR] [--events] FILE...
 *   mxlag capture -i IFACE [--db FILE] [--slow MS] [--filter BPF] [--duration S] [--user NAME]
 *                 [--no-promisc] [--retain DURATION]
 *   mxlag report  [--db FILE] [--format text|csv|json|html] [--since T] [--until T]
 *                 [--client ADDR] [--protocol P] [--tz ZONE] [--fail-if-slow N] [-o OUT]
 *                 NAME [ARG]
 *   mxlag runs [list] [--db FILE] [--format text|csv|json] [--tz ZONE]
 *   mxlag runs delete ID [--db FILE]
 *   mxlag prune --older-than DURATION [--db FILE]
 *   mxlag migrate [--db FILE]
 *   mxlag schema
 *   mxlag help [analyze|capture|report|schema]      mxlag --version
 * Exit status: 0 ok, 1 runtime error, 2 usage, 3 refused, 4 --fail-if-slow, 5 busy.
 */
#include <stdio.h>
#include <string.h>

#include "cli/common.h"

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
	if (strcmp(cmd, "runs") == 0)
		return cmd_runs(argc, argv);
	if (strcmp(cmd, "prune") == 0)
		return cmd_prune(argc, argv);
	if (strcmp(cmd, "migrate") == 0)
		return cmd_migrate(argc, argv);
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
