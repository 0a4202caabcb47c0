-- summary: one row of totals over the runs, sessions, replies, DNS queries
-- and ident probes (within :since / :until), and the slow replies
-- (>= :slow_ms) by cause: a reply with several causes counts under each
-- (slow_by_cause, top_diagnoses); per monitored host, the main cause.
-- The text and JSON forms lead with the top incidents (report.c runs
-- incidents.sql for them).
-- The window is whole minutes: :since and :until are rounded down to the
-- minute (the latency histograms are per minute).  Reply counts and
-- percentiles come from latency_hist (percentiles within 1 %, schema/hist.h),
-- the slow replies from their rows.
WITH
w AS MATERIALIZED (SELECT CASE WHEN :since IS NULL THEN -1e18
			       ELSE floor(:since / 60.0) * 60 END AS lo,
			  CASE WHEN :until IS NULL THEN 1e18
			       ELSE floor(:until / 60.0) * 60 END AS hi),
-- the sessions of the window by group: the per-minute counts of the complete
-- ones, and the rows of those still open (index sessions_open)
sg AS MATERIALIZED (SELECT host, protocol, outbound, client_is_host, outcome, sum(n) AS n
       FROM (SELECT host, protocol, outbound, client_is_host, outcome, n FROM session_counts
	     WHERE minute >= (SELECT lo FROM w) AND minute < (SELECT hi FROM w)
	     UNION ALL
	     SELECT host, protocol, outbound, client_is_host, outcome, 1 FROM sessions
	     WHERE complete = 0
	       AND coalesce(start, syn) >= (SELECT lo FROM w) AND coalesce(start, syn) < (SELECT hi FROM w))
       GROUP BY 1, 2, 3, 4, 5),
-- the slow replies: rows, and compact ones only below the runs' notable threshold
t AS NOT MATERIALIZED (
	SELECT * FROM transactions
	WHERE latency_ms >= :slow_ms
	  AND request_ts >= (SELECT lo FROM w) AND request_ts < (SELECT hi FROM w)
	UNION ALL
	SELECT * FROM compact_replies
	WHERE :compact_slow
	  AND latency_ms >= :slow_ms
	  AND request_ts >= (SELECT lo FROM w) AND request_ts < (SELECT hi FROM w)),
h AS NOT MATERIALIZED (SELECT * FROM latency_hist
      WHERE minute >= (SELECT lo FROM w) AND minute < (SELECT hi FROM w)),
-- each slow reply once: its main cause (kind, relation), session and remedy
slow AS MATERIALIZED (
	SELECT t.id, t.latency_ms, t.remedy, x.protocol, x.host,
	       t.command || coalesce(' ' || t.guess || '?', '') AS command,
	       (SELECT json_array(c.kind, c.relation) FROM causes AS c
		WHERE c.transaction_id = t.id AND c.parent_id IS NULL
		ORDER BY c.kind = 'none', c.overlap_ms DESC, c.id LIMIT 1) AS mc,
	       (SELECT ',' || group_concat(DISTINCT c.kind) || ',' FROM causes AS c
		WHERE c.transaction_id = t.id AND c.parent_id IS NULL) AS kinds,
	       (SELECT count(*) FROM causes AS c
		WHERE c.transaction_id = t.id AND c.parent_id IS NULL) AS n_causes
	FROM t LEFT JOIN sessions AS x ON x.id = t.session_id),
-- percentiles: mx_hist_percentiles (schema/hist.c), nearest rank over the bins
lat AS (SELECT mx_hist_percentiles(bins, min_ms, max_ms) AS p, max(max_ms) AS mx FROM h),
-- DNS queries of the window from their per-minute counts, ident probes in
-- one pass (covering index; responses whose query was not seen, outcome
-- no-query, are no lookups)
qg AS MATERIALIZED (SELECT outcome, qtype = 'PTR' AS ptr, sum(n) AS n FROM dns_counts
       WHERE minute >= (SELECT lo FROM w) AND minute < (SELECT hi FROM w)
	 AND outcome IS NOT 'no-query' GROUP BY 1, 2),
ig AS MATERIALIZED (SELECT outcome, count(*) AS n FROM ident_probes
       WHERE ts >= (SELECT lo FROM w) AND ts < (SELECT hi FROM w) GROUP BY 1),
tslow AS (SELECT protocol, command, host, count(*) AS slow
	  FROM slow WHERE protocol IS NOT NULL GROUP BY 1, 2, 3),
cstat AS (SELECT protocol, command, replies,
		 mx_percentile(p, 50) AS p50, mx_percentile(p, 95) AS p95,
		 mx_percentile(p, 99) AS p99, max_ms,
		 (SELECT coalesce(sum(x.slow), 0) FROM tslow AS x
		  WHERE x.protocol = g.protocol AND x.command = g.command) AS slow
	  FROM (SELECT protocol, command || coalesce(' ' || guess || '?', '') AS command,
		       sum(n) AS replies,
		       mx_hist_percentiles(bins, min_ms, max_ms) AS p, max(max_ms) AS max_ms
		FROM h
		WHERE protocol IS NOT NULL
		GROUP BY protocol, 2 HAVING sum(n) > 0) AS g),
-- the main cause of each slow reply (per host: its most frequent one)
diag AS (SELECT coalesce(CASE json_extract(mc, '$[0]') WHEN 'dns' THEN json_extract(mc, '$[1]')
				  ELSE json_extract(mc, '$[0]') END, 'unexplained') AS cause,
		latency_ms, remedy, host
	 FROM slow),
-- per monitored host: its sessions, its replies' latency, its slow replies
-- and their most frequent main cause
hsess AS (SELECT host, sum(n) AS sessions, sum(CASE WHEN outbound = 0 THEN n ELSE 0 END) AS inbound,
		 sum(CASE WHEN outbound = 1 OR client_is_host = 1 THEN n ELSE 0 END) AS outbound
	  FROM sg WHERE host IS NOT NULL GROUP BY host),
hlat AS (SELECT host, sum(n) AS replies, mx_hist_percentiles(bins, min_ms, max_ms) AS p,
		max(max_ms) AS max_ms,
		(SELECT coalesce(sum(x.slow), 0) FROM tslow AS x WHERE x.host = h.host) AS slow
	 FROM h WHERE host IS NOT NULL AND protocol IS NOT NULL
	 GROUP BY host HAVING sum(n) > 0),
hcause AS (SELECT host, cause, count(*) AS n,
		  row_number() OVER (PARTITION BY host ORDER BY count(*) DESC, cause) AS k
	   FROM diag WHERE host IS NOT NULL GROUP BY host, cause),
hst AS (SELECT h.host, h.sessions, h.inbound, h.outbound, coalesce(l.replies, 0) AS replies,
	       round(mx_percentile(l.p, 50), 1) AS p50_ms, round(mx_percentile(l.p, 95), 1) AS p95_ms,
	       round(l.max_ms, 1) AS max_ms, coalesce(l.slow, 0) AS slow,
	       (SELECT cause FROM hcause AS c WHERE c.host = h.host AND c.k = 1) AS top_cause
	FROM hsess AS h LEFT JOIN hlat AS l ON l.host = h.host),
-- every cause of each slow reply (a reply with three causes counts under
-- each), with the part of the wait the cause covered
dcause AS MATERIALIZED (SELECT s.id, s.latency_ms, s.n_causes,
		  coalesce(max(c.remedy), s.remedy) AS remedy,
		  coalesce(CASE c.kind WHEN 'dns' THEN c.relation ELSE c.kind END,
			   'unexplained') AS cause,
		  max(c.overlap_ms) AS overlap_ms
	   FROM slow AS s
	   LEFT JOIN causes AS c ON c.transaction_id = s.id AND c.parent_id IS NULL
	   GROUP BY s.id, 5),
dtop AS (SELECT cause, count(*) AS n, round(sum(latency_ms) / 1000.0, 1) AS wait_s,
		round(sum(overlap_ms) / 1000.0, 1) AS covered_s,
		-- the most frequent remedy, of the replies with this cause alone if any
		(SELECT remedy FROM dcause AS o WHERE o.cause = d.cause AND remedy IS NOT NULL
		 GROUP BY remedy ORDER BY max(n_causes <= 1) DESC, count(*) DESC, remedy
		 LIMIT 1) AS remedy
	 FROM dcause AS d GROUP BY cause ORDER BY n DESC, wait_s DESC, cause LIMIT 5),
r AS (SELECT count(*) AS runs, min(first_ts) AS first_ts, max(last_ts) AS last_ts,
	     sum(packets) AS packets, sum(kernel_drops) AS kernel_drops FROM runs),
v AS MATERIALIZED (SELECT
	r.runs,
	strftime('%Y-%m-%d %H:%M:%S', mx_local(r.first_ts), 'unixepoch') AS first_packet_utc,
	strftime('%Y-%m-%d %H:%M:%S', mx_local(r.last_ts), 'unixepoch') AS last_packet_utc,
	r.packets, r.kernel_drops,
	(SELECT count(DISTINCT host) FROM sg) AS hosts,
	(SELECT coalesce(sum(n), 0) FROM sg) AS sessions,
	(SELECT coalesce(sum(n), 0) FROM sg WHERE protocol = 'smtp' AND outbound = 0) AS smtp_inbound,
	(SELECT coalesce(sum(n), 0) FROM sg WHERE protocol = 'pop3' AND outbound = 0) AS pop3_inbound,
	(SELECT coalesce(sum(n), 0) FROM sg WHERE outbound = 1) AS outbound,
	(SELECT coalesce(sum(n), 0) FROM sg WHERE outbound = 1 AND outcome IN ('unanswered', 'refused'))
		AS outbound_failed,
	(SELECT coalesce(sum(n), 0) FROM sg WHERE outcome = 'client-abort') AS client_aborts,
	-- messages of the run's big-message size or more (index sessions_big)
	(SELECT count(*) FROM sessions AS s LEFT JOIN runs AS ru ON ru.id = s.run_id
	 WHERE s.max_message >= 1000000 AND s.max_message >= coalesce(ru.big_bytes, 10000000)
	   AND coalesce(s.start, s.syn) >= (SELECT lo FROM w)
	   AND coalesce(s.start, s.syn) < (SELECT hi FROM w)) AS big_messages,
	(SELECT coalesce(sum(replies), 0) FROM h) AS replies,
	(SELECT round(mx_percentile(p, 50), 1) FROM lat) AS median_ms,
	(SELECT round(mx_percentile(p, 95), 1) FROM lat) AS p95_ms,
	(SELECT round(mx, 1) FROM lat) AS max_ms,
	(SELECT count(*) FROM slow) AS slow,
	-- a reply with causes of several kinds counts under each
	(SELECT count(*) FROM slow WHERE instr(kinds, ',dns,')) AS slow_dns,
	(SELECT count(*) FROM slow WHERE instr(kinds, ',ident,')) AS slow_ident,
	(SELECT count(*) FROM slow WHERE instr(kinds, ',none,')) AS slow_none,
	(SELECT count(*) FROM slow WHERE instr(kinds, ',big-message,')) AS slow_big,
	(SELECT count(*) FROM slow WHERE kinds IS NULL) AS slow_unexplained,
	(SELECT coalesce(sum(n), 0) FROM qg) AS dns_queries,
	(SELECT coalesce(sum(n), 0) FROM qg WHERE outcome = 'unanswered') AS dns_unanswered,
	(SELECT coalesce(sum(n), 0) FROM qg WHERE outcome IN ('servfail', 'refused')) AS dns_failed,
	(SELECT coalesce(sum(n), 0) FROM qg WHERE ptr) AS dns_ptr,
	(SELECT coalesce(sum(n), 0) FROM ig) AS ident_probes,
	(SELECT coalesce(sum(n), 0) FROM ig WHERE outcome = 'unanswered') AS ident_unanswered
      FROM r),
x AS (SELECT
       (SELECT json_group_array(json_object('protocol', protocol, 'command', command,
					     'replies', replies, 'p50_ms', round(p50, 1),
					     'p95_ms', round(p95, 1), 'p99_ms', round(p99, 1),
					     'max_ms', round(max_ms, 1), 'slow', slow))
	FROM (SELECT * FROM cstat ORDER BY protocol, max_ms DESC, command)) AS commands_json,
       (SELECT json_group_array(json_object('cause', cause,
					     'label', CASE cause WHEN 'none' THEN 'no cause seen'
						  WHEN 'big-message' THEN 'big message on the host'
						  WHEN 'unexplained' THEN 'causes not analyzed'
						  ELSE cause END,
					     'slow_replies', n, 'total_wait_s', wait_s,
					     'covered_s', covered_s, 'remedy', remedy))
	FROM dtop) AS diagnoses_json,
       (SELECT json_group_array(json_object('host', host, 'sessions', sessions,
					     'inbound', inbound, 'outbound', outbound,
					     'replies', replies, 'p50_ms', p50_ms,
					     'p95_ms', p95_ms, 'max_ms', max_ms, 'slow', slow,
					     'top_cause', top_cause))
	FROM (SELECT * FROM hst ORDER BY slow DESC, sessions DESC, host)) AS hosts_json)
SELECT v.*, x.commands_json, x.diagnoses_json, x.hosts_json,
       json_object('runs', runs, 'first_packet_utc', first_packet_utc,
		   'last_packet_utc', last_packet_utc, 'packets', packets,
		   'kernel_drops', kernel_drops, 'slow_ms', :slow_ms,
		   'hosts', json(x.hosts_json), 'sessions', sessions, 'smtp_inbound', smtp_inbound,
		   'pop3_inbound', pop3_inbound, 'outbound', outbound,
		   'outbound_failed', outbound_failed, 'client_aborts', client_aborts,
		   'big_messages', big_messages,
		   'replies', replies, 'median_ms', median_ms, 'p95_ms', p95_ms,
		   'max_ms', max_ms, 'slow', slow,
		   'slow_by_cause', json_object('dns', slow_dns, 'ident', slow_ident,
						'none', slow_none, 'big-message', slow_big,
						'unexplained', slow_unexplained),
		   'dns_queries', dns_queries, 'dns_unanswered', dns_unanswered,
		   'dns_failed', dns_failed, 'dns_ptr', dns_ptr,
		   'ident_probes', ident_probes, 'ident_unanswered', ident_unanswered,
		   'commands', json(x.commands_json),
		   'top_diagnoses', json(x.diagnoses_json)) AS json
FROM v, x;
