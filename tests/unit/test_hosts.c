/*
 * test_hosts.c - the host model: given hosts (address, list, prefix),
 * learned hosts on a host's own capture, on a mirror port with shared
 * clients, on a capture of deliveries only, and machines.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "analyze/hosts.h"

static struct hosts *h;

static void
setup(void)
{
	h = hosts_new();
	cr_assert_not_null(h);
}

static void
teardown(void)
{
	hosts_free(h);
}

TestSuite(hosts, .init = setup, .fini = teardown);

static struct mx_addr
A(const char *s)
{
	struct mx_addr a;
	cr_assert(mx_addr_parse(s, &a), "bad address %s", s);
	return a;
}

static bool
is_host(const char *s)
{
	struct mx_addr a = A(s);
	return hosts_is_host(h, &a);
}

static bool
same(const char *x, const char *y)
{
	struct mx_addr a = A(x), b = A(y);
	return hosts_same_machine(h, &a, &b);
}

/* facts, as the dispatcher records them */
static void
query(const char *cli)
{
	struct mx_addr a = A(cli), r = A("198.51.100.53");
	hosts_saw_query(h, &a, &r);
	hosts_saw_answer(h, &r);
}

static void
mail(const char *cli, const char *srv, bool answered)
{
	struct mx_addr c = A(cli), s = A(srv);
	hosts_saw_connect(h, &c, &s, true);
	if (answered)
		hosts_saw_served(h, &c, &s);
}

Test(hosts, given_specifications)
{
	char err[128];
	cr_assert_eq(hosts_add_spec(h, "192.0.2.10", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(hosts_add_spec(h, "192.0.2.11,2001:db8::11", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(hosts_add_spec(h, "203.0.113.64/26", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(hosts_add_spec(h, "2001:db8:5::/48", err, sizeof(err)), 0, "%s", err);
	cr_expect(hosts_given(h));
	cr_expect(is_host("192.0.2.10"));
	cr_expect(is_host("2001:db8::11"));
	cr_expect(is_host("203.0.113.64") && is_host("203.0.113.127"));
	cr_expect(!is_host("203.0.113.63") && !is_host("203.0.113.128"));
	cr_expect(is_host("2001:db8:5:ffff::1") && !is_host("2001:db8:6::1"));
	cr_expect(!is_host("192.0.2.12"));
	/* one list is one machine; separate specifications are separate machines */
	cr_expect(same("192.0.2.11", "2001:db8::11"));
	cr_expect(!same("192.0.2.10", "192.0.2.11"));
	cr_expect(!same("203.0.113.65", "203.0.113.66"), "a prefix is many hosts");
	/* given hosts: facts never make another address a host */
	query("192.0.2.99");
	mail("198.51.100.7", "192.0.2.99", true);
	cr_expect(!is_host("192.0.2.99"));
}

Test(hosts, bad_specifications)
{
	static const char *const bad[] = {"", "mail.example", "192.0.2.300", "192.0.2.0/33",
	                                  "2001:db8::/129", "192.0.2.0/", "192.0.2.1,",
	                                  ",192.0.2.1", "192.0.2.1,192.0.2.0/24", "127.0.0.1",
	                                  "192.0.2.0/24x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[128] = "";
		cr_expect_eq(hosts_add_spec(h, bad[i], err, sizeof(err)), -1, "accepted '%s'", bad[i]);
		cr_expect(strstr(err, "bad --host") != NULL, "'%s': %s", bad[i], err);
	}
	cr_expect(!hosts_given(h));
}

/* A capture on the host: it serves, looks up, probes; its remote MX is not a host. */
Test(hosts, learned_on_the_hosts_own_capture)
{
	mail("198.51.100.7", "192.0.2.10", false); /* connects: PTR lookup before the banner */
	query("192.0.2.10");
	mail("198.51.100.7", "192.0.2.10", true);
	mail("2001:db8::77", "2001:db8::10", true);
	/* its own delivery to a remote MX */
	mail("192.0.2.10", "203.0.113.25", true);
	cr_expect(is_host("192.0.2.10"), "serves and looks up");
	cr_expect(is_host("2001:db8::10"), "serves a plain client");
	cr_expect(!is_host("203.0.113.25"), "serves only the host: a remote MX");
	cr_expect(!is_host("198.51.100.7"));
	cr_expect(!is_host("198.51.100.53"), "the resolver");
	cr_expect(!same("192.0.2.10", "2001:db8::10"), "not merged without evidence");
	struct mx_addr a = A("192.0.2.10"), b = A("2001:db8::10"), r = A("198.51.100.53");
	cr_expect(hosts_merge(h, &a, &b));
	cr_expect(same("192.0.2.10", "2001:db8::10"));
	cr_expect(!hosts_merge(h, &a, &r), "a resolver is never merged");
	struct mx_addr lo = A("127.0.0.1");
	cr_expect(hosts_same_machine(h, &lo, &a), "loopback is the host's");
	cr_expect(!hosts_same_machine(h, &lo, &r));
}

/* A mirror port: A and B serve the same client C at the same time; only A looks up. */
Test(hosts, learned_on_a_mirror_port)
{
	mail("198.51.100.7", "192.0.2.10", false);
	mail("198.51.100.7", "192.0.2.11", false);
	query("192.0.2.10");
	mail("198.51.100.7", "192.0.2.10", true);
	mail("198.51.100.7", "192.0.2.11", true);
	cr_expect(is_host("192.0.2.10"));
	cr_expect(is_host("192.0.2.11"), "serves a client of a host, no lookups of its own");
	cr_expect(!is_host("198.51.100.7"), "a sender to several hosts is a client");
	cr_expect(!same("192.0.2.10", "192.0.2.11"));
}

/* The same, when the client's own DNS lookups are on the wire too. */
Test(hosts, learned_on_a_mirror_port_with_a_looking_up_client)
{
	query("198.51.100.7"); /* the sender's MX lookups */
	mail("198.51.100.7", "192.0.2.10", false);
	query("192.0.2.10");
	mail("198.51.100.7", "192.0.2.10", true);
	mail("198.51.100.7", "192.0.2.11", true);
	mail("192.0.2.10", "192.0.2.11", true); /* A delivers to B */
	cr_expect(is_host("192.0.2.10"));
	cr_expect(is_host("192.0.2.11"));
	cr_expect(!is_host("198.51.100.7"), "delivers to a host: a client");
	/* A, which delivers to B, also delivers to a remote MX: still remote */
	mail("192.0.2.10", "203.0.113.25", true);
	cr_expect(!is_host("203.0.113.25"), "only hosts deliver to it");
}

/* A capture of one host's deliveries only (no inbound mail, no lookups). */
Test(hosts, learned_from_deliveries_only)
{
	mail("192.0.2.10", "203.0.113.25", false);
	mail("192.0.2.10", "203.0.113.26", false);
	mail("192.0.2.10", "203.0.113.27", true);
	cr_expect(is_host("192.0.2.10"), "the deliverer");
	cr_expect(!is_host("203.0.113.27"));
	cr_expect_eq(hosts_count(h), 1);
}

/* A mail reader's capture: it looks names up and reads POP3 from several servers. */
Test(hosts, learned_from_a_pop3_readers_capture)
{
	query("192.168.0.4");
	const char *srv[] = {"212.227.15.188", "212.227.15.171", "212.227.15.166"};
	for (int i = 0; i < 3; i++) {
		struct mx_addr c = A("192.168.0.4"), s = A(srv[i]);
		hosts_saw_connect(h, &c, &s, false); /* POP3: a user, not a relay */
		hosts_saw_served(h, &c, &s);
	}
	for (int i = 0; i < 3; i++)
		cr_expect(is_host(srv[i]), "%s serves a reader", srv[i]);
	cr_expect(!is_host("192.168.0.4"));
}

Test(hosts, prober_is_a_host)
{
	struct mx_addr p = A("192.0.2.10");
	hosts_saw_probe(h, &p);
	cr_expect(is_host("192.0.2.10"));
}

Test(hosts, table_is_bounded)
{
	for (unsigned i = 0; i < HOSTS_MAX_RECORDS + 100; i++) {
		char a[64];
		snprintf(a, sizeof(a), "2001:db8:%x:%x::1", i >> 16, i & 0xffff);
		query(a);
	}
	cr_expect_eq(hosts_stats(h)->records, HOSTS_MAX_RECORDS);
	cr_expect_geq(hosts_stats(h)->dropped, 100);
}
