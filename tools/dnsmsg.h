/*
 * dnsmsg.h - DNS query/response wire messages for mxlag-gen.
 */
#ifndef MXLAG_TOOLS_DNSMSG_H
#define MXLAG_TOOLS_DNSMSG_H

#include <stddef.h>
#include <stdint.h>

#define DNS_T_A 1
#define DNS_T_NS 2
#define DNS_T_SOA 6
#define DNS_T_PTR 12
#define DNS_T_MX 15
#define DNS_T_TXT 16
#define DNS_T_AAAA 28

#define DNS_R_NOERROR 0
#define DNS_R_SERVFAIL 2
#define DNS_R_NXDOMAIN 3
#define DNS_R_REFUSED 5

const char *dns_type_name(uint16_t qtype);

/* A query with RD set (and an EDNS0 OPT record if edns).  Returns its
 * length, 0 if it does not fit. */
size_t dns_query(uint8_t *buf, size_t cap, uint16_t id, const char *qname, uint16_t qtype,
                 int edns);

/*
 * The response to that query.  For NOERROR with an answer: answer is the
 * target name (PTR, NS, MX, CNAME), the address literal (A, AAAA) or the
 * text (TXT); answer NULL gives NODATA.  NXDOMAIN and NODATA carry an SOA in
 * the authority section.  Returns the length, 0 if it does not fit.
 */
size_t dns_response(uint8_t *buf, size_t cap, uint16_t id, const char *qname, uint16_t qtype,
                    int rcode, const char *answer);

#endif
