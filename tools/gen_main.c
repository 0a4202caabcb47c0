/*
 * gen_main.c - command line of mxlag-gen, the deterministic capture
 * generator.
 *
 *   mxlag-gen list
 *   mxlag-gen scenario NAME -o FILE [--truth FILE.json] [options]
 *   mxlag-gen workload -o FILE [--sessions N] [--seed S] [--truth FILE.json] [options]
 *   mxlag-gen traffic -o FILE [--truth FILE.tsv] [--profile NAME] [...]  (traffic.c)
 *
 * options: --link ethernet|vlan|qinq|sll|sll2|raw|null, --nanosecond,
 *          --pcapng, --segment-split, --reorder, --dup, --span-dup
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen.h"

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: mxlag-gen list\n"
	        "       mxlag-gen scenario NAME -o FILE [--truth FILE.json] [options]\n"
	        "       mxlag-gen workload -o FILE [--sessions N] [--seed S] [--truth FILE.json] "
	        "[options]\n"
	        "       mxlag-gen traffic -o FILE [--truth FILE.tsv] [--profile NAME] ... "
	        "(traffic --help)\n"
	        "options:\n"
	        "  --link TYPE       ethernet (default), vlan, qinq, sll, sll2, raw, null\n"
	        "  --nanosecond      nanosecond timestamps\n"
	        "  --pcapng          write pcapng instead of pcap\n"
	        "  --segment-split   server data in 1-byte TCP segments\n"
	        "  --reorder         swap two adjacent segments of every long send\n"
	        "  --dup             duplicate every fifth data segment\n"
	        "  --span-dup        every packet twice, as a switch's mirror port: the copy\n"
	        "                    802.1Q-tagged (untagged on vlan/qinq, as is on raw/null),\n"
	        "                    1-20 us apart, sometimes first, sometimes TTL - 1\n"
	        "  --seed S          PRNG seed (default: fixed per scenario / workload)\n"
	        "  --sessions N      workload sessions (default 100000)\n"
	        "  -q, --quiet       no summary on stderr\n");
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"truth", required_argument, NULL, 't'},
	    {"link", required_argument, NULL, 'l'},
	    {"nanosecond", no_argument, NULL, 'n'},
	    {"pcapng", no_argument, NULL, 'p'},
	    {"segment-split", no_argument, NULL, 'S'},
	    {"reorder", no_argument, NULL, 'R'},
	    {"dup", no_argument, NULL, 'D'},
	    {"span-dup", no_argument, NULL, 'P'},
	    {"seed", required_argument, NULL, 's'},
	    {"sessions", required_argument, NULL, 'N'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct gen_options o;
	struct gen_result res;
	const char *outp = NULL, *truthp = NULL, *cmd, *name = NULL;
	double t0;
	int c, rc;

	memset(&o, 0, sizeof(o));
	memset(&res, 0, sizeof(res));
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "traffic") == 0) {
		struct traffic_result tr;
		t0 = now_s();
		rc = gen_traffic(argc - 1, argv + 1, &tr);
		if (rc == 0 && tr.out && !tr.quiet)
			fprintf(
			    stderr,
			    "mxlag-gen: %s: %ld sessions, %ld lookups (%.1f/s) + %ld upstream, %ld "
			    "slow replies, %llu packets, %llu bytes in %.2f s\n",
			    tr.out, tr.gen.sessions, tr.lookups, tr.lookups_per_s, tr.upstream,
			    tr.slow, (unsigned long long)tr.gen.packets,
			    (unsigned long long)tr.gen.bytes, now_s() - t0);
		return rc;
	}
	if (strcmp(cmd, "list") == 0) {
		for (size_t i = 0; i < gen_nscenarios; i++)
			printf("%-22s %s\n", gen_scenarios[i].name, gen_scenarios[i].description);
		return 0;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "o:t:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			outp = optarg;
			break;
		case 't':
			truthp = optarg;
			break;
		case 'l': {
			int l = pw_link_parse(optarg);
			if (l < 0) {
				fprintf(stderr, "mxlag-gen: unknown link type %s\n", optarg);
				return 2;
			}
			o.link = (enum pw_link)l;
			o.link_set = 1;
			break;
		}
		case 'n':
			o.nanosecond = 1;
			break;
		case 'p':
			o.pcapng = 1;
			break;
		case 'S':
			o.flags |= GEN_SPLIT_SERVER;
			break;
		case 'R':
			o.flags |= GEN_REORDER;
			break;
		case 'D':
			o.flags |= GEN_DUP;
			break;
		case 'P':
			o.span_dup = 1;
			break;
		case 's': {
			char *end;
			o.seed = strtoull(optarg, &end, 0);
			if (*end || !o.seed) {
				fprintf(stderr, "mxlag-gen: --seed wants a non-zero number\n");
				return 2;
			}
			break;
		}
		case 'N': {
			char *end;
			o.sessions = strtol(optarg, &end, 0);
			if (*end || o.sessions <= 0) {
				fprintf(stderr, "mxlag-gen: --sessions wants a positive number\n");
				return 2;
			}
			break;
		}
		case 'q':
			o.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (strcmp(cmd, "scenario") == 0) {
		if (optind >= argc) {
			fprintf(stderr, "mxlag-gen: scenario needs a NAME (see mxlag-gen list)\n");
			return 2;
		}
		name = argv[optind++];
	} else if (strcmp(cmd, "workload") != 0) {
		fprintf(stderr, "mxlag-gen: unknown command %s\n", cmd);
		usage(stderr);
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "mxlag-gen: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	if (!outp) {
		fprintf(stderr, "mxlag-gen: -o FILE is required\n");
		return 2;
	}
	t0 = now_s();
	if (name)
		rc = gen_run_scenario(name, outp, truthp, &o, &res);
	else
		rc = gen_run_workload(outp, truthp, &o, &res);
	if (rc != 0)
		return 1;
	if (!o.quiet)
		fprintf(stderr, "mxlag-gen: %s: %ld sessions, %llu packets, %llu bytes in %.2f s\n",
		        outp, res.sessions, (unsigned long long)res.packets,
		        (unsigned long long)res.bytes, now_s() - t0);
	return 0;
}
