/* event.c - the vocabulary words of DESIGN.md for the event enums. */
#include "event.h"

#include <stdio.h>
#include <string.h>

#define STR_TABLE(fn, type, n, ...)                                                                \
	const char *fn(type v)                                                                     \
	{                                                                                          \
		static const char *const t[n] = {__VA_ARGS__};                                     \
		return (unsigned)v < n && t[v] ? t[v] : "?";                                       \
	}

STR_TABLE(mx_proto_str, enum mx_proto, 3, "unknown", "smtp", "pop3")
STR_TABLE(mx_outcome_str, enum mx_outcome, 11, "ok", "client-abort", "server-close", "incomplete",
	  "unanswered", "refused", "tls-unanswered", "tls-alert", "tls-failed", "client-half-close",
	  "cut")
STR_TABLE(mx_dns_outcome_str, enum mx_dns_outcome, 9, "answered", "nodata", "nxdomain",
	  "servfail", "refused", "truncated", "unanswered", "other", "no-query")
STR_TABLE(mx_ident_outcome_str, enum mx_ident_outcome, 3, "answered", "refused", "unanswered")
STR_TABLE(mx_cause_kind_str, enum mx_cause_kind, 4, "none", "dns", "ident", "big-message")
STR_TABLE(mx_relation_str, enum mx_relation, 14, "", "client-ptr", "client-forward", "self-ptr",
	  "self-name", "helo", "sender-domain", "recipient-domain", "spf", "dnsbl", "ip-literal",
	  "upstream", "ident", "unrelated")

const char *
mx_software_str(enum mx_software s)
{
	static const char *const t[] = {NULL,       "unknown", "exim",    "postfix",
	                                "sendmail", "dovecot", "exchange"};
	return (unsigned)s < sizeof(t) / sizeof(t[0]) ? t[s] : NULL;
}

static const struct {
	uint16_t type;
	const char *name;
} qtypes[] = {
	{1, "A"},      {2, "NS"},     {5, "CNAME"},  {6, "SOA"},     {12, "PTR"},   {13, "HINFO"},
	{15, "MX"},    {16, "TXT"},   {17, "RP"},    {18, "AFSDB"},  {24, "SIG"},   {25, "KEY"},
	{28, "AAAA"},  {29, "LOC"},   {33, "SRV"},   {35, "NAPTR"},  {36, "KX"},    {37, "CERT"},
	{39, "DNAME"}, {41, "OPT"},   {42, "APL"},   {43, "DS"},     {44, "SSHFP"}, {45, "IPSECKEY"},
	{46, "RRSIG"}, {47, "NSEC"},  {48, "DNSKEY"}, {49, "DHCID"}, {50, "NSEC3"}, {51, "NSEC3PARAM"},
	{52, "TLSA"},  {53, "SMIMEA"}, {55, "HIP"},  {59, "CDS"},    {60, "CDNSKEY"}, {61, "OPENPGPKEY"},
	{62, "CSYNC"}, {63, "ZONEMD"}, {64, "SVCB"}, {65, "HTTPS"},  {99, "SPF"},   {249, "TKEY"},
	{250, "TSIG"}, {251, "IXFR"}, {252, "AXFR"}, {255, "ANY"},   {256, "URI"},  {257, "CAA"},
};

const char *
mx_qtype_str(uint16_t qtype, char *buf, unsigned buflen)
{
	for (size_t i = 0; i < sizeof(qtypes) / sizeof(qtypes[0]); i++)
		if (qtypes[i].type == qtype)
			return qtypes[i].name;
	snprintf(buf, buflen, "TYPE%u", (unsigned)qtype);
	return buf;
}

uint32_t
mx_name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

bool
mx_strlcpy(char *dst, const char *src, unsigned long dstlen)
{
	size_t n = strlen(src);
	if (dstlen == 0)
		return n == 0;
	if (n >= dstlen) {
		memcpy(dst, src, dstlen - 1);
		dst[dstlen - 1] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}
