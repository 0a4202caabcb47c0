-- dns: one row per DNS server asked (the mail host's resolvers, and the
-- upstream servers of a resolver on the mail host): queries, outcomes,
-- latency percentiles of the answered ones, and its three slowest names
-- (unanswered first).  Parameters: :since, :until (on the query time),
-- :limit (rows).  Responses whose query was not seen (outcome no-query)
-- are no lookups of the host: left out.
WITH
-- the rows of the view dns_queries (schema.sql) in the window, with the
-- numbers of dns_rows (its ts and latency_ms expressions): the words of
-- the rows shown are read from the view.  The rows are read through the
-- blocks of dns_blocks that overlap the window (STORE_DNS_WINDOW_SQL in
-- schema/store.h; a second of slack at each end), then kept by their ts
q AS NOT MATERIALIZED (SELECT d.id, server, outcome, retransmits,
			      ts_ns / 1000000000 + (ts_ns % 1000000000) / 1e9 AS ts,
			      CASE WHEN ts_ns IS NULL OR outcome = 8 THEN NULL
				   ELSE response_ns / 1e6 END AS latency_ms
      FROM dns_blocks AS b CROSS JOIN dns_rows AS d
	   ON d.id BETWEEN b.blk * 1024 AND b.blk * 1024 + 1023
	      AND b.ts_max_ns >= (coalesce(:since, -1e18) - 1) * 1e9
	      AND b.ts_min_ns < (coalesce(:until, 1e18) + 1) * 1e9
      WHERE ts_ns / 1000000000 + (ts_ns % 1000000000) / 1e9 >= coalesce(:since, -1e18)
	AND ts_ns / 1000000000 + (ts_ns % 1000000000) / 1e9 < coalesce(:until, 1e18)
	AND outcome IS NOT 8),
-- percentiles: mx_percentiles (schema/sqlfn.c), the nearest-rank method
pct AS (SELECT server, mx_percentile(p, 50) AS p50, mx_percentile(p, 95) AS p95, mx
	FROM (SELECT server, mx_percentiles(latency_ms) AS p, max(latency_ms) AS mx
	      FROM q WHERE latency_ms IS NOT NULL GROUP BY server)),
ranked AS (SELECT id, server,
		  row_number() OVER (PARTITION BY server
				     ORDER BY latency_ms IS NOT NULL, latency_ms DESC, ts, id) AS rk
	   FROM q),
-- each server's three slowest, read from the view with their words
top AS MATERIALIZED (SELECT r.server, r.rk, v.qtype, v.latency_ms, v.retransmits, v.ts,
			    v.qname, v.outcome
		     FROM ranked AS r CROSS JOIN dns_queries AS v ON v.id = r.id WHERE r.rk <= 3),
agg AS (SELECT server AS sid, (SELECT addr FROM addrs WHERE id = q.server) AS resolver,
	       count(*) AS queries,
	       sum(outcome = 0) AS answered,
	       sum(outcome = 6) AS unanswered,
	       sum(outcome = 3) AS servfail,
	       sum(outcome = 2) AS nxdomain,
	       sum(outcome NOT IN (0, 6, 3, 2)) AS other,
	       sum(coalesce(retransmits, 0)) AS retransmits
	FROM q GROUP BY server)
SELECT a.resolver, a.queries, a.answered, a.unanswered, a.servfail, a.nxdomain, a.other,
       a.retransmits,
       round(p.p50, 1) AS p50_ms, round(p.p95, 1) AS p95_ms, round(p.mx, 1) AS max_ms,
       (SELECT group_concat(r.qtype || ' ' || r.qname || ' ' ||
			    CASE WHEN r.latency_ms IS NULL THEN r.outcome
				 ELSE r.outcome || ' ' || printf('%.1f', r.latency_ms) || ' ms' END,
			    '; ')
	FROM (SELECT * FROM top WHERE server = a.sid ORDER BY rk) AS r) AS slowest,
       (SELECT 'slowest: ' || group_concat(r.qtype || ' ' || r.qname || ' ' ||
			    CASE WHEN r.latency_ms IS NULL THEN r.outcome
				 ELSE r.outcome || ' ' || printf('%.1f', r.latency_ms) || ' ms' END,
			    '; ')
	FROM (SELECT * FROM top WHERE server = a.sid ORDER BY rk) AS r) AS slowest_text,
       json_object('resolver', a.resolver, 'queries', a.queries, 'answered', a.answered,
		   'unanswered', a.unanswered, 'servfail', a.servfail, 'nxdomain', a.nxdomain,
		   'other', a.other, 'retransmits', a.retransmits,
		   'p50_ms', round(p.p50, 3), 'p95_ms', round(p.p95, 3), 'max_ms', round(p.mx, 3),
		   'slowest', (SELECT json_group_array(json_object(
					'qname', r.qname, 'qtype', r.qtype, 'outcome', r.outcome,
					'latency_ms', r.latency_ms, 'retransmits', r.retransmits,
					'ts', r.ts))
				FROM (SELECT * FROM top WHERE server = a.sid ORDER BY rk) AS r)) AS json
FROM agg AS a
LEFT JOIN pct AS p ON p.server = a.sid
ORDER BY a.unanswered + a.servfail DESC, a.queries DESC, a.resolver
LIMIT :limit;
