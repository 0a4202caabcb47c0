#!/bin/sh
# bench/month.sh - report costs on a month-scale database (issue 16).
#
#   bench/month.sh [--days N] [--db FILE]
#
# The 100 000-session workload of bench/run.sh is analyzed once (one day of
# a busy host: 100 000 sessions, 700 000 replies, 240 000 DNS queries);
# the database is then copied N times (default 30) within SQLite, each copy
# one day later with every id, foreign key and compact reply id moved past
# the ones before: a month, 3 000 000 sessions.  Then, each run three times
# (the median printed):
#   summary over the whole database, and --since the last 24 hours
#   summary, slow, dns and the HTML page over the whole database and over a
#   window holding 1 % of the sessions (the last ones), and their ratio
# beside the goals of issue 16 (24 h summary under 1 s, the whole one under
# 3 s, a 1 % window at most 5 % of the whole).  Figures are measured, never
# assumed.  The database (about 3 GB) is kept in bench/out for reuse.
set -eu
cd "$(dirname "$0")/.."
days=30
db=bench/out/month.db
while [ $# -gt 0 ]; do
	case "$1" in
	--days) days=$2; shift 2 ;;
	--db) db=$2; shift 2 ;;
	*) echo "usage: bench/month.sh [--days N] [--db FILE]" >&2; exit 2 ;;
	esac
done
B=build-bench
cmake -S . -B $B -DCMAKE_BUILD_TYPE=Release -DMXLAG_TESTS=OFF >/dev/null
cmake --build $B -j"$(nproc)" --target mxlag mxlag-gen >/dev/null
mkdir -p bench/out
w=bench/out/workload-100000.pcap
[ -f "$w" ] || $B/mxlag-gen workload -o "$w" --sessions 100000 --seed 1 >/dev/null

if [ ! -f "$db" ] || [ "$(sqlite3 "$db" 'SELECT count(*) FROM runs')" != "$days" ]; then
	rm -f "$db" "$db-wal" "$db-shm"
	echo "== building $db: $days days of the 100 000-session workload"
	$B/mxlag analyze --quiet --db "$db" "$w"
	S=$(sqlite3 "$db" 'SELECT max(id) FROM sessions')
	T=$(sqlite3 "$db" 'SELECT max(txn_ids) FROM runs')
	D=$(sqlite3 "$db" 'SELECT max(id) FROM dns_rows')
	I=$(sqlite3 "$db" 'SELECT coalesce(max(id), 0) FROM ident_probes')
	C=$(sqlite3 "$db" 'SELECT coalesce(max(id), 0) FROM causes')
	k=1
	while [ "$k" -lt "$days" ]; do
		dt=$((k * 86400))
		sqlite3 "$db" <<EOF
PRAGMA synchronous = OFF;
BEGIN;
INSERT INTO runs (id, source, fingerprint, started, finished, first_ts, last_ts, packets, bytes,
		  kernel_drops, counters, notable_ms, txn_ids)
SELECT id + $k, source || ' (day $k)', NULL, started, finished, first_ts + $dt, last_ts + $dt,
       packets, bytes, kernel_drops, counters, notable_ms, txn_ids + $k * $T FROM runs WHERE id = 1;
INSERT INTO sessions (id, run_id, protocol, client, client_port, server, server_port, syn, start,
		      "end", outcome, tls, outbound, app, banner_host, helo, sender_domain,
		      rcpt_domains, bytes, messages, complete, host, client_is_host, software, replies)
SELECT id + $k * $S, run_id + $k, protocol, client, client_port, server, server_port, syn + $dt,
       start + $dt, "end" + $dt, outcome, tls, outbound, app, banner_host, helo, sender_domain,
       rcpt_domains, bytes, messages, complete, host, client_is_host, software,
       -- the id base, the first element (schema 17); before, the first
       -- element's first element (schema 11)
       CASE json_type(replies, '\$[0]') WHEN 'integer'
	    THEN json_set(replies, '\$[0]', json_extract(replies, '\$[0]') + $k * $T)
	    ELSE (SELECT '[' || group_concat(CASE key WHEN 0
				   THEN json_set(value, '\$[0]', json_extract(value, '\$[0]') + $k * $T)
				   ELSE value END, ',')
		  || ']' FROM json_each(replies)) END
FROM sessions WHERE run_id = 1;
INSERT INTO transactions (id, run_id, session_id, command, argument, request_ts, reply_ts, end_ts,
			  latency_ms, reply_code, reply_text, outcome, size, diagnosis, remedy, guess)
SELECT id + $k * $T, run_id + $k, session_id + $k * $S, command, argument, request_ts + $dt,
       reply_ts + $dt, end_ts + $dt, latency_ms, reply_code, reply_text, outcome, size, diagnosis,
       remedy, guess FROM transactions WHERE run_id = 1;
INSERT INTO dns_rows (id, run_id, ts_ns, client, client_port, server, server_port, tcp, txid,
		      qname, qtype, outcome, rcode, answers, response_ns, resend_ns, retransmits,
		      answer)
SELECT id + $k * $D, run_id + $k, ts_ns + $dt * 1000000000, client, client_port, server,
       server_port, tcp, txid, qname, qtype, outcome, rcode, answers, response_ns, resend_ns,
       retransmits, answer FROM dns_rows WHERE run_id = 1;
-- where in time the day's blocks of ids lie (schema 15)
INSERT INTO dns_blocks (blk, ts_min_ns, ts_max_ns)
SELECT id >> 10, min(ts_ns), max(ts_ns) FROM dns_rows
WHERE id > $k * $D AND id <= ($k + 1) * $D AND ts_ns IS NOT NULL GROUP BY id >> 10
ON CONFLICT (blk) DO UPDATE SET ts_min_ns = min(ts_min_ns, excluded.ts_min_ns),
				ts_max_ns = max(ts_max_ns, excluded.ts_max_ns);
INSERT INTO ident_probes (id, run_id, ts, host, host_port, peer, peer_port, outcome, end_ts,
			  latency_ms, syn_retransmits, response)
SELECT id + $k * $I, run_id + $k, ts + $dt, host, host_port, peer, peer_port, outcome,
       end_ts + $dt, latency_ms, syn_retransmits, response FROM ident_probes WHERE run_id = 1;
INSERT INTO causes (id, run_id, transaction_id, kind, relation, dns_query_id, ident_probe_id,
		    parent_id, overlap_ms, share, query_ms, remedy)
SELECT id + $k * $C, run_id + $k, transaction_id + $k * $T, kind, relation,
       dns_query_id + $k * $D, ident_probe_id + $k * $I, parent_id + $k * $C, overlap_ms, share,
       query_ms, remedy FROM causes WHERE run_id = 1;
INSERT INTO latency_hist (minute, run_id, host, protocol, outbound, command, guess, replies, n,
			  min_ms, max_ms, sum_ms, bins)
SELECT minute + $dt, run_id + $k, host, protocol, outbound, command, guess, replies, n, min_ms,
       max_ms, sum_ms, bins FROM latency_hist WHERE run_id = 1;
INSERT INTO session_counts (minute, run_id, host, protocol, outbound, client_is_host, outcome, n)
SELECT minute + $dt, run_id + $k, host, protocol, outbound, client_is_host, outcome, n
FROM session_counts WHERE run_id = 1;
INSERT INTO dns_counts (minute, run_id, server, qtype, outcome, n)
SELECT minute + $dt, run_id + $k, server, qtype, outcome, n FROM dns_counts WHERE run_id = 1;
COMMIT;
EOF
		k=$((k + 1))
	done
	# the names and addresses are used every day: their last use is the last day's
	sqlite3 "$db" "UPDATE names SET last_minute = last_minute + $(((days - 1) * 86400));
		       UPDATE addrs SET last_minute = last_minute + $(((days - 1) * 86400));"
	sqlite3 "$db" "PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
fi

nsess=$(sqlite3 "$db" 'SELECT count(*) FROM sessions')
mb=$(awk -v b="$(stat -c %s "$db")" 'BEGIN{printf "%.0f", b/1048576}')
echo "== $db: $nsess sessions, $mb MiB, $(awk -v b="$(stat -c %s "$db")" -v n="$nsess" 'BEGIN{printf "%.0f", b/n}') bytes per session"
last=$(sqlite3 "$db" 'SELECT max(last_ts) FROM runs')
day=$(awk -v l="$last" 'BEGIN{printf "%.0f", l - 86400}')
# the window of the last 1 % of the sessions; summary reads it in whole minutes
one=$(sqlite3 "$db" "SELECT coalesce(start, syn) FROM sessions ORDER BY coalesce(start, syn) DESC LIMIT 1 OFFSET $((nsess / 100))")
share=$(sqlite3 "$db" "SELECT round(100.0 * count(*) / $nsess, 2) FROM sessions WHERE coalesce(start, syn) >= floor($one / 60.0) * 60")
echo "the 1 % window: --since $one (summary: from the minute it falls in, $share % of the sessions)"

med() { # command... : the median wall time of three runs, in s
	for i in 1 2 3; do
		s=$(date +%s.%N)
		"$@" >/dev/null 2>&1
		e=$(date +%s.%N)
		awk -v s="$s" -v e="$e" 'BEGIN{printf "%.3f\n", e - s}'
	done | sort -n | sed -n 2p
}
r() { $B/mxlag report --db "$db" "$@"; }
t_all=$(med r summary)
t_day=$(med r --since "$day" summary)
printf "summary, whole database      %7.3f s   goal < 3 s: %s\n" "$t_all" "$(awk -v t="$t_all" 'BEGIN{print t < 3 ? "met" : "missed"}')"
printf "summary --since the last 24 h %7.3f s   goal < 1 s: %s\n" "$t_day" "$(awk -v t="$t_day" 'BEGIN{print t < 1 ? "met" : "missed"}')"
for rep in summary slow dns html; do
	case $rep in
	html) a=$(med r --format html -o bench/out/month.html summary)
	      b=$(med r --format html -o bench/out/month.html --since "$one" summary) ;;
	*) a=$(med r "$rep"); b=$(med r --since "$one" "$rep") ;;
	esac
	awk -v n="$rep" -v a="$a" -v b="$b" 'BEGIN {
		printf "%-8s whole %7.3f s, 1 %% window %7.3f s: %5.1f %% of it   goal <= 5 %%: %s\n",
		    n, a, b, 100 * b / a, b <= 0.05 * a ? "met" : "missed" }'
done
