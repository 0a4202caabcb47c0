/*
 * stats.h - capture counters, in the spirit of Zeek's weird.log.
 *
 * One flat array of 64-bit counters per analysis run, named by an X-macro
 * list so printing, storing and testing share a single source of truth.
 * Add a counter by adding one line here.
 */
#ifndef MXLAG_STATS_H
#define MXLAG_STATS_H

#include <stdint.h>
#include <stdio.h>

#define CAP_COUNTERS(X)                                                        \
	X(PACKETS, "packets")                                                  \
	X(BYTES, "bytes")                                                      \
	X(LINK_ETHER, "link.ethernet")                                         \
	X(LINK_VLAN, "link.vlan_tagged")                                       \
	X(LINK_SLL, "link.linux_sll")                                          \
	X(LINK_SLL2, "link.linux_sll2")                                        \
	X(LINK_RAW, "link.raw_ip")                                             \
	X(LINK_NULL, "link.bsd_loopback")                                      \
	X(LINK_UNSUPPORTED, "link.unsupported")                                \
	X(NON_IP, "link.non_ip")                                               \
	X(IPV4, "ip.v4")                                                       \
	X(IPV6, "ip.v6")                                                       \
	X(IP_OTHER_PROTO, "ip.other_proto")                                    \
	X(FRAGMENTS, "ip.fragments")                                           \
	X(FRAG_REASSEMBLED, "ip.frag_reassembled")                             \
	X(FRAG_TIMEOUT, "ip.frag_timeout")                                     \
	X(FRAG_OVERFLOW, "ip.frag_overflow")                                   \
	X(FRAG_BAD, "ip.frag_bad")                                             \
	X(DUP_SPAN, "dup.span_duplicates")                                     \
	X(DUP_TABLE_FULL, "dup.table_full_evictions")                          \
	X(TCP, "tcp.packets")                                                  \
	X(UDP, "udp.packets")                                                  \
	X(ERR_TRUNC_LINK, "weird.truncated_link_header")                       \
	X(ERR_TRUNC_IP, "weird.truncated_ip_header")                           \
	X(ERR_BAD_IP_VERSION, "weird.bad_ip_version")                          \
	X(ERR_BAD_IP_HLEN, "weird.bad_ip_header_length")                       \
	X(ERR_BAD_IP_LEN, "weird.bad_ip_total_length")                         \
	X(ERR_IP_SNAPPED, "weird.ip_payload_snapped")                          \
	X(ERR_BAD_IPV6_EXT, "weird.bad_ipv6_extension")                        \
	X(ERR_TRUNC_TCP, "weird.truncated_tcp_header")                         \
	X(ERR_BAD_TCP_HLEN, "weird.bad_tcp_header_length")                     \
	X(ERR_TRUNC_UDP, "weird.truncated_udp_header")                         \
	X(ERR_BAD_UDP_LEN, "weird.bad_udp_length")                             \
	X(FLOWS, "tcp.flows")                                                  \
	X(FLOWS_MIDSTREAM, "tcp.flows_midstream")                              \
	X(FLOW_EVICTED, "tcp.flows_evicted")                                   \
	X(FLOW_IDLE_TIMEOUT, "tcp.flows_idle_timeout")                         \
	X(TCP_RETRANSMIT, "tcp.retransmitted_segments")                        \
	X(TCP_OVERLAP, "tcp.overlapping_segments")                             \
	X(TCP_OUT_OF_ORDER, "tcp.out_of_order_segments")                       \
	X(TCP_OOO_DROPPED, "tcp.out_of_order_dropped")                         \
	X(TCP_GAPS, "tcp.gaps")                                                \
	X(TCP_GAP_BYTES, "tcp.gap_bytes")                                      \
	X(TCP_SYN_RETX, "tcp.syn_retransmits")                                 \
	X(TCP_UNANSWERED_SYN, "tcp.unanswered_syn_flows")                      \
	X(TCP_SNAPPED, "tcp.snapped_payload_bytes")                            \
	X(TS_BACKWARDS, "weird.timestamp_backwards")                          \
	X(TCP_NO_FLOW, "tcp.segments_without_flow")                          \
	X(FLOW_REUSED, "tcp.flows_port_reused")

enum cap_counter {
#define CAP_X(id, name) CNT_##id,
	CAP_COUNTERS(CAP_X)
#undef CAP_X
	CNT__N
};

struct cap_stats {
	uint64_t c[CNT__N];
	/* kernel figures from pcap_stats(); valid when have_kernel */
	int have_kernel;
	uint64_t kernel_recv, kernel_drop, ifdrop;
};

const char *cap_counter_name(enum cap_counter c);
/* Prints non-zero counters as "name value" lines, "prefix" before each. */
void cap_stats_print(const struct cap_stats *s, FILE *out, const char *prefix);

#define CAP_COUNT(st, id) ((st)->c[CNT_##id]++)
#define CAP_ADD(st, id, n) ((st)->c[CNT_##id] += (n))

#endif
