/* evjson.c - analyzer events as JSON lines. */
#include "evjson.h"

#include <inttypes.h>

void
mx_json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (*p < 0x20 || *p >= 0x7f)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

static void
kv_str(FILE *out, const char *k, const char *v)
{
	fprintf(out, ",\"%s\":", k);
	mx_json_str(out, v);
}

static void
kv_ts(FILE *out, const char *k, uint64_t ns)
{
	if (ns)
		fprintf(out, ",\"%s\":%" PRIu64 ".%09" PRIu64, k, (uint64_t)(ns / 1000000000u),
			(uint64_t)(ns % 1000000000u));
	else
		fprintf(out, ",\"%s\":null", k);
}

static void
kv_ms(FILE *out, const char *k, uint64_t from, uint64_t to)
{
	if (from && to >= from)
		fprintf(out, ",\"%s\":%.3f", k, (double)(to - from) / 1e6);
	else
		fprintf(out, ",\"%s\":null", k);
}

static void
kv_ep(FILE *out, const char *k, const struct mx_endpoint *e)
{
	char a[MX_ADDRSTRLEN];
	kv_str(out, k, mx_addr_fmt(&e->addr, a, sizeof(a)));
	fprintf(out, ",\"%s_port\":%u", k, (unsigned)e->port);
}

void
mx_event_json(const struct mx_event *ev, FILE *out)
{
	char tb[12];
	switch (ev->type) {
	case EV_SESSION: {
		const struct mx_session *s = &ev->u.session;
		fprintf(out, "{\"event\":\"session\",\"id\":%" PRIu64, s->id);
		kv_str(out, "protocol", mx_proto_str(s->proto));
		kv_ep(out, "client", &s->client);
		kv_ep(out, "server", &s->server);
		kv_ts(out, "start", s->start_ns);
		kv_ts(out, "end", s->end_ns);
		kv_str(out, "outcome", mx_outcome_str(s->outcome));
		fprintf(out, ",\"tls\":%s,\"outbound\":%s", s->tls ? "true" : "false",
			s->outbound ? "true" : "false");
		kv_str(out, "app", s->app);
		kv_str(out, "banner_host", s->banner_host);
		if (mx_software_str(s->software))
			kv_str(out, "software", mx_software_str(s->software));
		kv_str(out, "helo", s->helo);
		kv_str(out, "sender_domain", s->sender_domain);
		fprintf(out, ",\"messages\":%u,\"bytes\":%" PRIu64 "}\n", s->messages,
			s->bytes_in);
		break;
	}
	case EV_TXN: {
		const struct mx_txn *t = &ev->u.txn;
		fprintf(out, "{\"event\":\"transaction\",\"id\":%" PRIu64 ",\"session\":%" PRIu64,
			t->id, t->session_id);
		if (ev->session)
			kv_str(out, "protocol", mx_proto_str(ev->session->proto));
		kv_str(out, "command", t->command);
		kv_str(out, "argument", t->argument);
		kv_ts(out, "request_ts", t->request_ns);
		kv_ts(out, "reply_ts", t->reply_ns);
		kv_ms(out, "latency_ms", t->request_ns, t->reply_ns ? t->reply_ns : t->end_ns);
		kv_str(out, "reply_code", t->reply_code);
		kv_str(out, "reply_text", t->reply_text);
		kv_str(out, "outcome", mx_outcome_str(t->outcome));
		fprintf(out, ",\"size\":%" PRIu64 "}\n", t->size);
		break;
	}
	case EV_DNS: {
		const struct mx_dns *q = &ev->u.dns;
		fprintf(out, "{\"event\":\"dns_query\",\"id\":%" PRIu64, q->id);
		kv_ts(out, "ts", q->ts_ns);
		kv_ep(out, "client", &q->client);
		kv_ep(out, "server", &q->server);
		kv_str(out, "transport", q->tcp ? "tcp" : "udp");
		fprintf(out, ",\"txid\":%u", (unsigned)q->txid);
		kv_str(out, "qname", q->qname);
		kv_str(out, "qtype", mx_qtype_str(q->qtype, tb, sizeof(tb)));
		kv_str(out, "outcome", mx_dns_outcome_str(q->outcome));
		fprintf(out, ",\"rcode\":%d", q->rcode);
		kv_str(out, "answers", q->answers);
		kv_ts(out, "response_ts", q->response_ns);
		/* no-query: the start is not known */
		kv_ms(out, "latency_ms", q->outcome == MXD_NO_QUERY ? 0 : q->ts_ns, q->response_ns);
		fprintf(out, ",\"retransmits\":%u}\n", q->retransmits);
		break;
	}
	case EV_IDENT: {
		const struct mx_ident *p = &ev->u.ident;
		fprintf(out, "{\"event\":\"ident_probe\",\"id\":%" PRIu64, p->id);
		kv_ts(out, "ts", p->ts_ns);
		kv_ep(out, "host", &p->host);
		kv_ep(out, "peer", &p->peer);
		kv_str(out, "outcome", mx_ident_outcome_str(p->outcome));
		kv_ts(out, "end_ts", p->end_ns);
		kv_ms(out, "latency_ms", p->ts_ns, p->end_ns);
		fprintf(out, ",\"syn_retransmits\":%u", p->syn_retransmits);
		kv_str(out, "response", p->response);
		fputs("}\n", out);
		break;
	}
	case EV_CAUSE: {
		const struct mx_cause *x = &ev->u.cause;
		fprintf(out,
			"{\"event\":\"cause\",\"id\":%" PRIu64 ",\"transaction\":%" PRIu64
			",\"kind\":\"%s\"",
			x->id, x->txn_id, mx_cause_kind_str(x->kind));
		kv_str(out, "relation", mx_relation_str(x->relation));
		fprintf(out,
		        ",\"dns_query\":%" PRIu64 ",\"ident_probe\":%" PRIu64 ",\"parent\":%" PRIu64
		        ",\"overlap_ms\":%.3f,\"query_ms\":%.3f,\"share\":%.4f",
		        x->dns_id, x->ident_id, x->parent_id, x->overlap_ms, x->query_ms, x->share);
		if (x->remedy)
			kv_str(out, "remedy", x->remedy);
		fputs("}\n", out);
		break;
	}
	case EV_TRANSFER: /* the correlator's own input: not an event of the stream */
		break;
	case EV_DIAGNOSIS:
		fprintf(out, "{\"event\":\"diagnosis\",\"transaction\":%" PRIu64, ev->u.diag.txn_id);
		kv_str(out, "diagnosis", ev->u.diag.diagnosis);
		kv_str(out, "remedy", ev->u.diag.remedy);
		fputs("}\n", out);
		break;
	}
}
