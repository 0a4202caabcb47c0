/*
 * help.c - mxlag help, COMMAND --help and --version.
 */
#include <stdio.h>
#include <string.h>

#include <ndpi/ndpi_api.h>
#include <pcap/pcap.h>
#include <sqlite3.h>
#include <zlib.h>
#include <zstd.h>

#include "cli/common.h"
#include "schema/report.h"

/* mxlag help / --help: the commands, one line each (stdout; stderr on misuse) */
void
usage(FILE *out)
{
	fputs("usage: mxlag COMMAND [OPTION]... [ARG]...\n"
	      "Commands:\n"
	      "  analyze  analyze capture files (pcap/pcapng, gzip/zstd too; - = stdin)\n"
	      "  capture  analyze live traffic from a network interface\n"
	      "  report   print a report from the database (summary, slow, ptr, dns, ...)\n"
	      "  runs     list the runs of the database; 'mxlag runs delete ID' removes one\n"
	      "  prune    delete what is older than a duration, give the space back\n"
	      "  migrate  bring the database to this version's schema (reports only read)\n"
	      "  schema   print the SQL schema of the database\n"
	      "  help     this text; 'mxlag help COMMAND' explains a command's options,\n"
	      "           'mxlag help report' also lists the reports\n"
	      "  version  the version of mxlag and of its libraries (also --version)\n"
	      "Exit status: 0 ok; 1 runtime error (I/O, database, capture); 2 usage (unknown\n"
	      "  command, option, help topic, report name, format, bad value); 3 refused (the\n"
	      "  same packets already analyzed into the database); 4 report --fail-if-slow N\n"
	      "  found more than N slow replies; 5 busy (another mxlag is writing to the\n"
	      "  database: one writer at a time).\n",
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
    "  --big-message SIZE a message of SIZE bytes or more is a big message (default\n"
    "                     10M = 10,000,000; units k, M, G; at least 1048576): a\n"
    "                     slow reply no lookup explains names those on the host\n"
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
	      "Packets already in the database are refused (exit 3): the same files again, in\n"
	      "any order or grouping, a compressed or pcapng copy, or a slice that overlaps\n"
	      "one; nothing of such an analysis is kept.\n"
	      "Options:\n",
	      out);
	fputs(run_common_help, out);
}

static void
help_capture(FILE *out)
{
	fputs("usage: mxlag capture -i IFACE [OPTION]...\n"
	      "Analyzes live traffic until Ctrl-C, SIGTERM or --duration; the database is\n"
	      "committed every 2 seconds, with the run's packets, bytes, kernel drops and\n"
	      "first and last packet time (mxlag runs shows them while it runs).\n"
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
	      "                     fragments\n"
	      "  --retain D         keep D (30d, 12h, 90m, 2w) in the database: prune what\n"
	      "                     is older at the start and every hour, as mxlag prune\n"
	      "  --status S         every S seconds one status line on stderr: packets,\n"
	      "                     packets/s since the last line, kernel drops, sessions,\n"
	      "                     DNS queries, slow replies so far (default: none)\n"
	      "  --events           a stream for a log shipper: one JSON object a line on\n"
	      "                     stdout, each written as it happens (line-buffered, also\n"
	      "                     into a pipe); fields in README.md, Command line\n"
	      "  --metrics ADDR:PORT  serve Prometheus metrics at http://ADDR:PORT/metrics\n"
	      "                     (127.0.0.1:9464, [::1]:9464); no authentication: bind\n"
	      "                     to localhost or a management address (README.md, Live\n"
	      "                     metrics)\n",
	      out);
	fputs(run_common_help, out);
}

void
help_report(FILE *out)
{
	fputs("usage: mxlag report [OPTION]... NAME [ARG]\n"
	      "Prints report NAME from the database. Options:\n"
	      "  --db FILE          the database to read (default mxlag.db); repeat it, or\n"
	      "                     give a quoted glob ('fleet/*.db', sorted), for several\n"
	      "                     hosts' databases: each is labelled with its file name\n"
	      "                     without .db, a first column db (JSON: key \"db\") says\n"
	      "                     whose a row is, each database's rows in turn; summary\n"
	      "                     adds a TOTAL; session takes LABEL:ID; html is one page:\n"
	      "                     the hosts' table, then each database's page\n"
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
	      "  --limit N          at most N rows (per database)\n"
	      "  --client ADDR      only sessions with ADDR at either end (summary and dns\n"
	      "                     are not filtered)\n"
	      "  --protocol P       only smtp or pop3 sessions (summary and dns are not\n"
	      "                     filtered)\n"
	      "  --tz ZONE          text and html times in ZONE (Europe/Berlin, UTC; local =\n"
	      "                     the system's zone, /etc/localtime); without --tz the TZ\n"
	      "                     environment variable when set, else UTC. CSV and JSON\n"
	      "                     stay UTC and epoch seconds\n"

	      "  --fail-if-slow N   print the report, then exit 4 when more than N slow\n"
	      "                     replies (--slow) are in the window and filters (of all\n"
	      "                     the databases together)\n"
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
    {"runs", cmd_runs_help},
    {"prune", cmd_prune_help},
    {"migrate", cmd_migrate_help},
    {"schema", help_schema},
};

/* mxlag help [TOPIC] */
int
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
	fprintf(stderr, "mxlag help: unknown topic %s (mxlag help lists the commands)\n", topic);
	return 2;
}

int
cmd_version(void)
{
	printf("mxlag %s\n%s\nSQLite %s\nnDPI %s\nzlib %s\nzstd %s\n", MXLAG_VERSION,
	       pcap_lib_version(), sqlite3_libversion(), ndpi_revision(), zlibVersion(),
	       ZSTD_versionString());
	return 0;
}
