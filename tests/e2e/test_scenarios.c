/*
 * test_scenarios.c - every incident the generator can make, from capture
 * to asserted database rows and JSON report (latency within 2 %), on
 * every link type and with split, reordered and duplicated segments.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/e2e.h"

static int
run_scenario(const char *name, const char *opts)
{
	char gen[512];
	char *dir = e2e_tmpdir(), *out = NULL;
	cr_assert_not_null(dir);
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	char pcap[600], truth[600];
	snprintf(pcap, sizeof(pcap), "%s/%s.pcap", dir, name);
	snprintf(truth, sizeof(truth), "%s/%s.truth.json", dir, name);
	int rc = e2e_sh(&out, "'%s' scenario %s %s -q -o '%s' --truth '%s' 2>&1", gen, name, opts,
			pcap, truth);
	cr_assert_eq(rc, 0, "mxlag-gen %s %s: %s", name, opts, out ? out : "");
	free(out);
	int fails = e2e_check_truth(pcap, truth, dir);
	cr_expect_eq(fails, 0, "scenario %s %s: %d checks failed", name, opts, fails);
	e2e_rmdir(dir);
	return fails;
}

Test(scenarios, every_generated_incident)
{
	char gen[512], *out = NULL;
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	cr_assert_eq(e2e_sh(&out, "'%s' list", gen), 0);
	int n = 0;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		char name[64];
		if (sscanf(l, "%63s", name) != 1)
			continue;
		run_scenario(name, "");
		n++;
	}
	free(out);
	cr_expect_geq(n, 12, "the generator lists the incidents");
}

Test(scenarios, every_link_type)
{
	static const char *const links[] = {"ethernet", "vlan", "qinq", "sll",
					    "sll2",     "raw",  "null"};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		char o[64];
		snprintf(o, sizeof(o), "--link %s", links[i]);
		run_scenario("ptr-timeout", o);
		run_scenario("ident-timeout", o);
	}
}

Test(scenarios, nanosecond_and_pcapng)
{
	run_scenario("sender-checks", "--nanosecond");
	run_scenario("pop3-self-ptr", "--pcapng");
}

Test(scenarios, split_reordered_and_duplicated_segments)
{
	run_scenario("pop3-self-ptr", "--segment-split");
	run_scenario("pipelining-bdat", "--segment-split --reorder --dup");
	run_scenario("slow-data", "--reorder --dup");
	run_scenario("concurrent", "--dup");
	/* TLS records cut into one-byte server segments, reordered, twice */
	run_scenario("tls13-pipelining", "--segment-split --reorder --dup");
	run_scenario("smtps-ptr", "--segment-split");
}
