-- ptr: which PTR lookups delayed which sessions.  One row per PTR query
-- linked to a slow reply (upstream hops folded into "upstream"), newest
-- first, with the totals of its name over the window: how many slow replies
-- in how many sessions it delayed and how long they waited in all; and the
-- same for its reverse zone (the /24 or /48 of the address, mx_zone) on its
-- resolver with the query's outcome: text output leads with these zones.
-- Parameters: :slow_ms, :since, :until, :limit, :client, :protocol.
WITH rows AS (
SELECT strftime('%Y-%m-%d %H:%M:%S', mx_local(p.query_ts), 'unixepoch') AS query_utc,
       p.qname, p.relation, p.resolver, p.dns_outcome AS outcome,
       round(coalesce(p.query_ms, p.query_latency_ms,
		      (coalesce(t.reply_ts, t.end_ts) - p.query_ts) * 1000.0), 1) AS query_ms,
       p.session_id AS session, p.client, p.server, p.host,
       p.command || coalesce(' ' || t.guess || '?', '') AS command, t.guess,
       round(p.latency_ms, 1) AS wait_ms, round(p.share, 2) AS share,
       (SELECT group_concat(DISTINCT uq.server) FROM causes AS u
	JOIN dns_queries AS uq ON uq.id = u.dns_query_id
	WHERE u.parent_id = p.cause_id) AS upstream,
       'PTR ' || p.qname || ' to ' || p.resolver || ' [' || p.relation || ']' ||
	       coalesce(', upstream: ' || (SELECT group_concat(DISTINCT uq.server)
					  FROM causes AS u
					  JOIN dns_queries AS uq ON uq.id = u.dns_query_id
					  WHERE u.parent_id = p.cause_id), '') AS ptr_text,
       json_object('query_ts', p.query_ts, 'qname', p.qname, 'relation', p.relation,
		   'resolver', p.resolver, 'outcome', p.dns_outcome, 'rcode', p.rcode,
		   'retransmits', p.retransmits,
		   'query_ms', round(coalesce(p.query_ms, p.query_latency_ms,
				(coalesce(t.reply_ts, t.end_ts) - p.query_ts) * 1000.0), 3),
		   'session', p.session_id, 'protocol', p.protocol,
		   'client', p.client, 'client_port', p.client_port,
		   'server', p.server, 'server_port', p.server_port, 'host', p.host,
		   'transaction', p.transaction_id, 'command', p.command,
		   'start', p.request_ts, 'latency_ms', p.latency_ms,
		   'overlap_ms', round(p.overlap_ms, 3), 'share', round(p.share, 4),
		   'upstream', (SELECT json_group_array(json_object(
				'resolver', uq.server, 'qname', uq.qname, 'outcome', uq.outcome,
				'retransmits', uq.retransmits))
			FROM causes AS u JOIN dns_queries AS uq ON uq.id = u.dns_query_id
			WHERE u.parent_id = p.cause_id),
		   'diagnosis', p.diagnosis, 'remedy', p.remedy) AS json,
       mx_zone(p.qname, p.relation) AS zone,
       p.query_ts AS sort_ts, p.cause_id AS sort_id
FROM ptr_delays AS p
JOIN transactions AS t ON t.id = p.transaction_id
WHERE p.parent_id IS NULL
  AND p.latency_ms >= :slow_ms
  AND (:since IS NULL OR p.request_ts >= :since)
  AND (:until IS NULL OR p.request_ts < :until)
  AND (:client IS NULL OR p.client = :client OR p.server = :client)
  AND (:protocol IS NULL OR p.protocol = :protocol)),
tot AS (SELECT qname, count(*) AS replies, count(DISTINCT session) AS sessions,
	       round(sum(wait_ms), 1) AS total_wait_ms
	FROM rows GROUP BY qname),
-- per reverse zone, resolver and outcome
zt AS MATERIALIZED (SELECT zone, resolver, outcome, count(DISTINCT qname) AS names,
	      count(*) AS replies, count(DISTINCT session) AS sessions,
	      count(DISTINCT client) AS clients, round(sum(wait_ms), 1) AS total_wait_ms,
	      min(sort_ts) AS first_ts, max(sort_ts) AS last_ts
	FROM rows GROUP BY zone, resolver, outcome),
zj AS MATERIALIZED (SELECT json_group_array(json_object('zone', zone, 'resolver', resolver,
			'outcome', outcome, 'names', names, 'slow_replies', replies,
			'sessions', sessions, 'clients', clients, 'total_wait_ms', total_wait_ms,
			'first_utc', strftime('%Y-%m-%d %H:%M:%S', mx_local(first_ts), 'unixepoch'),
			'last_utc', strftime('%Y-%m-%d %H:%M:%S', mx_local(last_ts), 'unixepoch'))) AS zones_json
	FROM (SELECT * FROM zt ORDER BY total_wait_ms DESC, replies DESC, zone, resolver, outcome))
SELECT r.query_utc, r.qname, r.relation, r.resolver, r.outcome, r.query_ms, r.session,
       r.client, r.server, r.host, r.command, r.wait_ms, r.share, r.upstream,
       tot.sessions AS name_sessions, tot.total_wait_ms AS name_total_wait_ms,
       r.ptr_text || '; this name delayed ' || tot.replies || ' slow repl' ||
	       CASE tot.replies WHEN 1 THEN 'y' ELSE 'ies' END || ' in ' || tot.sessions ||
	       ' session' || CASE tot.sessions WHEN 1 THEN '' ELSE 's' END || ', ' ||
	       printf('%.1f', tot.total_wait_ms / 1000.0) || ' s of waiting in all' AS ptr_text,
       json_patch(json_set(r.json, '$.name_sessions', tot.sessions,
			   '$.name_slow_replies', tot.replies,
			   '$.name_total_wait_ms', tot.total_wait_ms,
			   '$.zone', r.zone, '$.zone_names', zt.names,
			   '$.zone_slow_replies', zt.replies, '$.zone_sessions', zt.sessions,
			   '$.zone_total_wait_ms', zt.total_wait_ms),
		  CASE WHEN r.guess IS NULL THEN '{}' ELSE json_object('guess', r.guess) END) AS json,
       r.zone, zt.sessions AS zone_sessions, zt.total_wait_ms AS zone_total_wait_ms,
       zj.zones_json
FROM rows AS r JOIN tot ON tot.qname = r.qname
JOIN zt ON zt.zone = r.zone AND zt.resolver IS r.resolver AND zt.outcome IS r.outcome, zj
ORDER BY r.sort_ts DESC, r.sort_id DESC
LIMIT :limit;
