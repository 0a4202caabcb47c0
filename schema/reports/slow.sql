-- slow: replies (or waits for a reply never sent) of at least :slow_ms,
-- newest first, each with its causes.  One row per slow reply: flat columns
-- for text/CSV (the main cause = the first of "causes"; every cause in the
-- causes_* columns, '|'-separated lists in the order of "causes") and
-- "json", the object of DESIGN.md's contract.
--
-- Parameters: :slow_ms, :since, :until (epoch seconds or NULL), :limit (-1 = all),
-- :client (either end of the session), :protocol (NULL = any).
-- A cause's query_ms is the correlator's (causes.query_ms), else the query's
-- latency, else (no answer) how long it had been outstanding when the wait ended.
WITH slow AS (
	SELECT t.id AS tid, t.session_id, s.protocol, s.client, s.client_port,
	       s.server, s.server_port, s.host, coalesce(s.outbound, 0) AS outbound, t.command, t.guess,
	       t.argument, t.request_ts,
	       t.latency_ms, t.reply_code, t.outcome, t.diagnosis, t.remedy,
	       coalesce(t.reply_ts, t.end_ts, t.request_ts + t.latency_ms / 1000.0) AS wait_end
	FROM (SELECT * FROM transactions WHERE latency_ms >= :slow_ms
	      UNION ALL
	      -- compact replies are all below the run's notable threshold
	      SELECT * FROM compact_replies
	      WHERE :compact_slow
		AND latency_ms >= :slow_ms) AS t
	LEFT JOIN sessions AS s ON s.id = t.session_id
	WHERE t.latency_ms >= :slow_ms
	  AND t.request_ts >= coalesce(:since, -1e18) AND t.request_ts < coalesce(:until, 1e18)
	  AND (:client IS NULL OR s.client = :client OR s.server = :client)
	  AND (:protocol IS NULL OR s.protocol = :protocol)
	ORDER BY t.request_ts DESC, t.id DESC
	LIMIT :limit
),
with_causes AS (
	SELECT slow.*,
	       (SELECT json_group_array(json(obj)) FROM (
		SELECT CASE c.kind
		WHEN 'dns' THEN json_object(
			'kind', 'dns', 'relation', c.relation, 'qtype', q.qtype,
			'qname', q.qname, 'resolver', q.server, 'outcome', q.outcome,
			'query_ms', round(coalesce(c.query_ms, q.latency_ms,
				(slow.wait_end - q.ts) * 1000.0), 3),
			'overlap_ms', round(c.overlap_ms, 3), 'share', round(c.share, 4),
			'upstream', (SELECT json_group_array(json(uobj)) FROM (
				SELECT json_object(
					'kind', 'dns', 'relation', u.relation, 'qtype', uq.qtype,
					'qname', uq.qname, 'resolver', uq.server,
					'outcome', uq.outcome,
					'query_ms', round(coalesce(u.query_ms, uq.latency_ms,
						(slow.wait_end - uq.ts) * 1000.0), 3),
					'overlap_ms', round(u.overlap_ms, 3),
					'share', round(u.share, 4)) AS uobj
				FROM causes AS u
				LEFT JOIN dns_queries AS uq ON uq.id = u.dns_query_id
				WHERE u.parent_id = c.id
				ORDER BY u.overlap_ms DESC, u.id)))
		WHEN 'ident' THEN json_object(
			'kind', 'ident', 'peer', i.peer, 'outcome', i.outcome,
			'query_ms', round(coalesce(c.query_ms, i.latency_ms,
				(slow.wait_end - i.ts) * 1000.0), 3),
			'overlap_ms', round(c.overlap_ms, 3), 'share', round(c.share, 4))
		-- a big message on the same host meanwhile (issue 17): its session,
		-- ends, size (the session's largest message) and time on the wire
		WHEN 'big-message' THEN json_object(
			'kind', 'big-message', 'session', c.session_ref,
			'peer', CASE WHEN b.outbound OR b.protocol = 'pop3' THEN b.server
				     ELSE b.client END,
			'client', b.client, 'server', b.server, 'bytes', b.max_message,
			'query_ms', round(c.query_ms, 3),
			'overlap_ms', round(c.overlap_ms, 3), 'share', round(c.share, 4))
		ELSE json_object('kind', c.kind)
		END AS obj
		FROM causes AS c
		LEFT JOIN dns_queries AS q ON q.id = c.dns_query_id
		LEFT JOIN ident_probes AS i ON i.id = c.ident_probe_id
		LEFT JOIN sessions AS b ON b.id = c.session_ref
		WHERE c.transaction_id = slow.tid AND c.parent_id IS NULL
		ORDER BY c.kind = 'none', c.overlap_ms DESC, c.id)) AS causes
	FROM slow
)
SELECT tid AS "transaction", session_id AS session, protocol, client, client_port,
       server, server_port, host, outbound,
       command || coalesce(' ' || guess || '?', '') AS command, argument, request_ts AS start,
       strftime('%Y-%m-%d %H:%M:%f', mx_local(request_ts), 'unixepoch') AS start_utc,
       latency_ms, reply_code, outcome,
       json_array_length(causes) AS n_causes,
       json_extract(causes, '$[0].kind') AS cause_kind,
       json_extract(causes, '$[0].relation') AS cause_relation,
       json_extract(causes, '$[0].qtype') AS cause_qtype,
       json_extract(causes, '$[0].qname') AS cause_qname,
       coalesce(json_extract(causes, '$[0].resolver'),
		json_extract(causes, '$[0].peer')) AS cause_server,
       json_extract(causes, '$[0].outcome') AS cause_outcome,
       json_extract(causes, '$[0].query_ms') AS cause_query_ms,
       json_extract(causes, '$[0].overlap_ms') AS cause_overlap_ms,
       json_extract(causes, '$[0].share') AS cause_share,
       diagnosis, remedy,
       -- every cause, for CSV: one column per field, the causes' values in
       -- order separated by '|' (empty for a field a cause does not have)
       (SELECT group_concat(coalesce(value ->> 'kind', ''), '|') FROM json_each(causes))
	       AS causes_kind,
       (SELECT group_concat(coalesce(value ->> 'relation', ''), '|') FROM json_each(causes))
	       AS causes_relation,
       (SELECT group_concat(coalesce(value ->> 'qtype', ''), '|') FROM json_each(causes))
	       AS causes_qtype,
       (SELECT group_concat(coalesce(value ->> 'qname', ''), '|') FROM json_each(causes))
	       AS causes_qname,
       (SELECT group_concat(coalesce(value ->> 'resolver', value ->> 'peer', ''), '|')
	FROM json_each(causes)) AS causes_server,
       (SELECT group_concat(coalesce(value ->> 'outcome', ''), '|') FROM json_each(causes))
	       AS causes_outcome,
       (SELECT group_concat(coalesce(value ->> 'query_ms', ''), '|') FROM json_each(causes))
	       AS causes_query_ms,
       (SELECT group_concat(coalesce(value ->> 'overlap_ms', ''), '|') FROM json_each(causes))
	       AS causes_overlap_ms,
       (SELECT group_concat(coalesce(value ->> 'share', ''), '|') FROM json_each(causes))
	       AS causes_share,
       causes AS causes_json,
       json_patch(json_object('session', session_id, 'transaction', tid, 'protocol', protocol,
		   'client', client, 'client_port', client_port,
		   'server', server, 'server_port', server_port, 'host', host,
		   'outbound', json(CASE WHEN outbound THEN 'true' ELSE 'false' END),
		   'command', command, 'argument', argument, 'start', request_ts,
		   'latency_ms', latency_ms, 'reply_code', reply_code, 'outcome', outcome,
		   'causes', json(causes), 'diagnosis', diagnosis, 'remedy', remedy),
		  -- inside TLS: the command it most likely was (issue 18)
		  CASE WHEN guess IS NULL THEN '{}' ELSE json_object('guess', guess) END) AS json
FROM with_causes
ORDER BY request_ts DESC, tid DESC;
