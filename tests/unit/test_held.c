/* test_held.c - ended sessions' rows held for id order (schema/held.c). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../schema/held.h"

static struct mx_session x, y;

/* a session with every field a row is written from set (id picks the values) */
static void
full_session(struct mx_session *s, uint64_t id)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->proto = MXP_POP3;
	mx_addr_parse("2001:db8::1", &s->client.addr);
	s->client.port = 40001;
	mx_addr_parse("192.0.2.10", &s->server.addr);
	s->server.port = 110;
	s->start_ns = 1000 + id;
	s->syn_ns = 900 + id;
	s->end_ns = 5000 + id;
	s->outcome = MXO_CUT;
	s->tls = true;
	s->outbound = true;
	s->client_is_host = true;
	s->server_is_host = true;
	mx_strlcpy(s->app, "ndpi:POP3", sizeof(s->app));
	snprintf(s->banner_host, sizeof(s->banner_host), "mx%llu.example", (unsigned long long)id);
	s->software = MXS_EXIM;
	mx_strlcpy(s->helo, "Client.Example", sizeof(s->helo));
	mx_strlcpy(s->sender_domain, "sender.example", sizeof(s->sender_domain));
	s->n_rcpt_domains = 2;
	mx_strlcpy(s->rcpt_domains[0], "a.example", sizeof(s->rcpt_domains[0]));
	mx_strlcpy(s->rcpt_domains[1], "b.example", sizeof(s->rcpt_domains[1]));
	s->bytes_in = 123456789;
	s->messages = 3;
	s->max_message = 99999999;
	s->null_sender = true;
	mx_strlcpy(s->bounce_domain, "bounce.example", sizeof(s->bounce_domain));
	mx_addr_parse("198.51.100.7", &s->bounce_origin);
	s->bounce_session_id = 77;
}

Test(held, a_row_comes_back_with_every_field)
{
	struct held *h = held_new();
	cr_assert_not_null(h);
	full_session(&x, 42);
	/* the longest names fit */
	memset(x.rcpt_domains[1], 'r', MX_NAME_MAX - 1);
	x.rcpt_domains[1][MX_NAME_MAX - 1] = '\0';
	memset(x.helo, 'h', MX_NAME_MAX - 1);
	x.helo[MX_NAME_MAX - 1] = '\0';
	/* a domain past n_rcpt_domains is not a row's */
	mx_strlcpy(x.rcpt_domains[2], "stale.example", sizeof(x.rcpt_domains[2]));
	cr_assert(held_put(h, &x, "[[1,0,null,5,6,220]]", 7));
	cr_assert_eq(held_count(h), 1);
	cr_assert_gt(held_bytes(h), strlen("[[1,0,null,5,6,220]]"));
	cr_assert_eq(held_oldest_ms(h), 7);

	const char *rec = NULL;
	memset(&y, 0x5a, sizeof(y));
	cr_assert(held_take(h, &y, &rec));
	cr_assert_str_eq(rec, "[[1,0,null,5,6,220]]");
	cr_assert_eq(y.id, x.id);
	cr_assert_eq(y.proto, x.proto);
	cr_assert(mx_addr_eq(&y.client.addr, &x.client.addr));
	cr_assert_eq(y.client.port, x.client.port);
	cr_assert(mx_addr_eq(&y.server.addr, &x.server.addr));
	cr_assert_eq(y.server.port, x.server.port);
	cr_assert_eq(y.start_ns, x.start_ns);
	cr_assert_eq(y.syn_ns, x.syn_ns);
	cr_assert_eq(y.end_ns, x.end_ns);
	cr_assert_eq(y.outcome, x.outcome);
	cr_assert_eq(y.tls, x.tls);
	cr_assert_eq(y.outbound, x.outbound);
	cr_assert_eq(y.client_is_host, x.client_is_host);
	cr_assert_eq(y.server_is_host, x.server_is_host);
	cr_assert_str_eq(y.app, x.app);
	cr_assert_str_eq(y.banner_host, x.banner_host);
	cr_assert_eq(y.software, x.software);
	cr_assert_str_eq(y.helo, x.helo);
	cr_assert_str_eq(y.sender_domain, x.sender_domain);
	cr_assert_eq(y.n_rcpt_domains, 2);
	cr_assert_str_eq(y.rcpt_domains[0], "a.example");
	cr_assert_str_eq(y.rcpt_domains[1], x.rcpt_domains[1]);
	cr_assert_str_eq(y.rcpt_domains[2], "");
	cr_assert_eq(y.bytes_in, x.bytes_in);
	cr_assert_eq(y.messages, x.messages);
	cr_assert_eq(y.max_message, x.max_message);
	cr_assert_eq(y.null_sender, x.null_sender);
	cr_assert_str_eq(y.bounce_domain, x.bounce_domain);
	cr_assert(mx_addr_eq(&y.bounce_origin, &x.bounce_origin));
	cr_assert_eq(y.bounce_session_id, x.bounce_session_id);

	cr_assert_eq(held_count(h), 0);
	cr_assert_eq(held_bytes(h), 0);
	cr_assert_eq(held_oldest_ms(h), UINT64_MAX);
	cr_assert_not(held_take(h, &y, &rec));
	held_free(h);
}

Test(held, no_record_and_an_empty_one_differ)
{
	struct held *h = held_new();
	full_session(&x, 1);
	cr_assert(held_put(h, &x, NULL, 1));
	full_session(&x, 2);
	cr_assert(held_put(h, &x, "", 1));
	const char *rec = "x";
	cr_assert(held_take(h, &y, &rec));
	cr_assert_null(rec);
	cr_assert(held_take(h, &y, &rec));
	cr_assert_str_eq(rec, "");
	held_free(h);
}

Test(held, rows_leave_in_id_order_equal_ids_first_in_first_out)
{
	struct held *h = held_new();
	/* 5000 ids in a scrambled order (a multiplicative permutation mod 5003) */
	for (uint64_t i = 1; i <= 5002; i++) {
		full_session(&x, (i * 2999) % 5003);
		cr_assert(held_put(h, &x, NULL, 100 + i));
	}
	full_session(&x, 17);
	x.messages = 1000; /* a second row of id 17, held after the first */
	cr_assert(held_put(h, &x, NULL, 5));
	cr_assert_eq(held_count(h), 5003);
	cr_assert_eq(held_oldest_ms(h), 5);

	const char *rec;
	uint64_t prev = 0;
	size_t n = 0;
	bool seen17 = false;
	while (held_take(h, &y, &rec)) {
		cr_assert_geq(y.id, prev);
		if (y.id == 17) {
			cr_assert_eq(y.messages, seen17 ? 1000u : 3u);
			seen17 = true;
		}
		prev = y.id;
		n++;
	}
	cr_assert_eq(n, 5003);
	cr_assert_eq(prev, 5002);
	cr_assert_eq(held_bytes(h), 0);
	held_free(h);
}

Test(held, clear_drops_everything)
{
	struct held *h = held_new();
	for (uint64_t i = 1; i <= 100; i++) {
		full_session(&x, i);
		cr_assert(held_put(h, &x, "[[1,0,null,5,6,220]]", i));
	}
	const char *rec;
	cr_assert(held_take(h, &y, &rec)); /* a record lent out is freed too */
	held_clear(h);
	cr_assert_eq(held_count(h), 0);
	cr_assert_eq(held_bytes(h), 0);
	cr_assert_not(held_take(h, &y, &rec));
	full_session(&x, 3);
	cr_assert(held_put(h, &x, NULL, 1));
	held_free(h);
	held_free(NULL);
	held_clear(NULL);
	cr_assert_eq(held_count(NULL), 0);
}
