/*
 * test_dense.c - issue 12: the causes of slow replies hold at any rate, any
 * capture length, any number of hosts.  Each test makes a capture with
 * `mxlag-gen traffic` (ten minutes of one busy host at >= 200 and at >= 2000
 * lookups/s, or a mirror port with several hosts, also as a switch's SPAN
 * port delivers it: every packet twice), analyzes it with `mxlag
 * analyze` and measures the database against the generator's truth with
 * `mxlag-truthcheck --min-right 99.5 --max-foreign 0`: at least 99.5 % of
 * the slow replies carry exactly their injected cause, none carries another
 * host's lookup, probe or big message.  The checker's table and its first
 * wrong replies per incident kind are in the failure message.  The mirror
 * port also carries big messages (issue 17): each names itself and the 1-2
 * replies held on its host meanwhile, never another host's content filter;
 * with the threshold above their size the same truth must fail.
 *
 * ctest label `dense` (ctest -L dense / -LE dense).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/e2e.h"

/* Slow-reply kinds of the truth with at least min of them. */
static int
kinds_with(const char *totals, long min)
{
	char *all = e2e_slurp(totals);
	int n = 0;

	cr_assert_not_null(all);
	for (char *p = all; (p = strstr(p, "\nslow.")) != NULL; p++) {
		char *tab = strchr(p, '\t');
		if (tab && strtol(tab + 1, NULL, 10) >= min)
			n++;
	}
	free(all);
	return n;
}

/* The mirror profile's incidents and big messages (0.1 % of the episodes:
 * about a dozen, each some 13,000 packets) */
#define MIRROR_BIG                                                                                 \
	"--profile mirror --mix client-ptr=1.5,self-ptr=0.3,ident=0.5,dnsbl=0.5,"                  \
	"sender-domain=0.5,content-filter=0.7,outlived=0.3,reconnect=0.2,big-message=0.1"

struct run {
	char *dir;
	char pcap[600], tsv[600], totals[640], db[600];
};

static void
generate(struct run *r, const char *name, const char *args)
{
	char gen[512], *out = NULL;
	int rc;

	r->dir = e2e_tmpdir();
	cr_assert_not_null(r->dir);
	snprintf(r->pcap, sizeof(r->pcap), "%s/%s.pcap", r->dir, name);
	snprintf(r->tsv, sizeof(r->tsv), "%s/%s.tsv", r->dir, name);
	snprintf(r->totals, sizeof(r->totals), "%s.totals", r->tsv);
	snprintf(r->db, sizeof(r->db), "%s/%s.db", r->dir, name);
	e2e_bin("mxlag-gen", gen, sizeof(gen));
	rc = e2e_sh(&out, "'%s' traffic %s -q -o '%s' --truth '%s' 2>&1", gen, args, r->pcap,
	            r->tsv);
	cr_assert_eq(rc, 0, "mxlag-gen traffic %s: %s", args, out ? out : "");
	free(out);
}

/* Analyzes the capture into db with the options opts and runs the checker:
 * its exit status, its output in *out. */
static int
analyze_check(struct run *r, const char *db, const char *opts, char **out)
{
	char bin[512], chk[512];
	int rc;

	e2e_bin("mxlag", bin, sizeof(bin));
	e2e_bin("mxlag-truthcheck", chk, sizeof(chk));
	rc = e2e_sh(out, "'%s' analyze --quiet %s --db '%s' '%s' 2>&1", bin, opts, db, r->pcap);
	cr_assert_eq(rc, 0, "mxlag analyze: %s", *out ? *out : "");
	free(*out);
	cr_expect_eq(e2e_count_mismatches(db), 0, "per-minute counts equal to the rows");
	rc = e2e_sh(out,
	            "'%s' --db '%s' --truth '%s' --min-right 99.5 --max-foreign 0 --show 3 2>&1",
	            chk, db, r->tsv);
	cr_assert(rc == 0 || rc == 1, "mxlag-truthcheck failed to run (%d): %s", rc,
	          *out ? *out : "");
	return rc;
}

/* Analyzes the capture (then removes it: hundreds of MB) and runs the checker. */
static void
analyze_and_check(struct run *r)
{
	char *out = NULL;
	int rc = analyze_check(r, r->db, "", &out);

	if (!getenv("MXLAG_KEEP_TMP"))
		remove(r->pcap);
	cr_expect_eq(rc, 0, "slow replies not diagnosed as injected:\n%s", out ? out : "");
	if (rc == 0)
		cr_log_info("%s", out);
	free(out);
	e2e_rmdir(r->dir);
}

/* Issue 12 item 1 over ten minutes: 200 sessions/s, one PTR each, 5 %
 * unanswered, 10 % with an unanswered ident SYN. */
Test(dense, one_host_10min_200_lookups_per_s, .timeout = 1200)
{
	struct run r;

	generate(&r, "issue12", "--profile issue12 --seconds 600");
	cr_assert_geq(e2e_total(r.totals, "seconds"), 600);
	cr_assert_geq(e2e_total(r.totals, "lookups_per_s"), 200.0);
	cr_assert_eq(e2e_total(r.totals, "hosts"), 1);
	cr_assert_gt(e2e_total(r.totals, "slow.client-ptr"), 5000);
	analyze_and_check(&r);
}

/* Ten minutes of one host at > 2000 lookups/s with every single-host incident
 * kind mixed: client and self PTR, ident, DNSBL, sender domain, content
 * filter, a lookup that outlives its wait, a client that reconnects. */
Test(dense, one_host_10min_2000_lookups_per_s_mixed, .timeout = 1200)
{
	struct run r;

	generate(&r, "dense", "--profile dense");
	cr_assert_geq(e2e_total(r.totals, "seconds"), 600);
	cr_assert_geq(e2e_total(r.totals, "lookups_per_s"), 2000.0);
	cr_assert_eq(e2e_total(r.totals, "hosts"), 1);
	cr_assert_geq(kinds_with(r.totals, 100), 8, "several incident kinds, each 100 times");
	analyze_and_check(&r);
}

/* A mirror port: 5 hosts, one resolver (its upstream queries on the wire),
 * clients on several hosts at once with overlapping incidents, deliveries
 * between the hosts and to remote MXes, big messages on several hosts. */
Test(dense, mirror_5_hosts_shared_resolver_and_clients, .timeout = 1200)
{
	struct run r;

	generate(&r, "mirror", MIRROR_BIG);
	cr_assert_geq(e2e_total(r.totals, "hosts"), 3);
	cr_assert_gt(e2e_total(r.totals, "episodes.shared"), 100);
	cr_assert_gt(e2e_total(r.totals, "sessions.relay"), 100);
	cr_assert_gt(e2e_total(r.totals, "upstream_lookups"), 1000);
	cr_assert_gt(e2e_total(r.totals, "slow.shared-client-ptr"), 50);
	cr_assert_gt(e2e_total(r.totals, "slow.shared-content-filter"), 50);
	cr_assert_geq(e2e_total(r.totals, "big_messages"), 10);
	cr_assert_geq(e2e_total(r.totals, "big_messages.hosts"), 3);
	cr_assert_eq(e2e_total(r.totals, "slow.big-message"), e2e_total(r.totals, "big_messages"));
	cr_assert_geq(e2e_total(r.totals, "slow.big-meanwhile"), 10);
	cr_assert_geq(e2e_total(r.totals, "slow.big-other-host"), 10);
	analyze_and_check(&r);
}

/* Big messages on a small mirror port: right with the default threshold;
 * with one above their size (100 MB) the same truth fails, as it must:
 * their replies then have the cause none. */
Test(dense, mirror_big_messages_fail_above_their_size, .timeout = 600)
{
	struct run r;
	char db2[640], *out = NULL;
	int rc;

	generate(&r, "big",
	         "--profile mirror --hosts 3 --seconds 60 --sessions-per-s 10 "
	         "--mix big-message=2,content-filter=1,outlived=0.5");
	cr_assert_geq(e2e_total(r.totals, "big_messages"), 3);
	rc = analyze_check(&r, r.db, "", &out);
	cr_expect_eq(rc, 0, "slow replies not diagnosed as injected:\n%s", out ? out : "");
	free(out);
	snprintf(db2, sizeof(db2), "%s/above.db", r.dir);
	rc = analyze_check(&r, db2, "--big-message 100M", &out);
	cr_expect_eq(rc, 1, "a 100 MB threshold, still right:\n%s", out ? out : "");
	cr_expect_not_null(strstr(out ? out : "", "\nbig-message "));
	cr_expect(out && strstr(out, "FAIL: "), "%s", out ? out : "");
	free(out);
	e2e_rmdir(r.dir);
}

/* The same mirror port with every packet twice, as a switch's SPAN port
 * delivers it: the same truth, the same figures wanted. */
Test(dense, mirror_span_duplicated_twin, .timeout = 1200)
{
	struct run r;

	generate(&r, "mirror-span", MIRROR_BIG " --span-dup");
	cr_assert_geq(e2e_total(r.totals, "hosts"), 3);
	cr_assert_gt(e2e_total(r.totals, "episodes.shared"), 100);
	analyze_and_check(&r);
}
