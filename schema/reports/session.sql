-- session ID: one session's timeline, in time order: the connection, every
-- command with its reply (latency, outcome; the causes, diagnosis and
-- remedy of the slow ones), the DNS queries and ident probes of the host
-- whose lifetime overlapped the session, and the end of the session.
-- The host's queries: sent from the session's server address (or its
-- client's, for the host's own delivery) or from loopback, and any query
-- linked as a cause of one of its replies; on a mirror port the other
-- hosts' lookups are not this session's.
-- Parameters: :arg (the session id), :slow_ms.  One row per event; every
-- row carries the session's object in session_json.
WITH
s AS (SELECT *, coalesce(syn, start) AS t_begin,
	     max(coalesce("end", start),
		 coalesce((SELECT max(coalesce(t.reply_ts, t.end_ts, t.request_ts))
			   FROM replies AS t WHERE t.session_id = CAST(:arg AS INTEGER)), start))
		 AS t_end
      FROM sessions WHERE id = CAST(:arg AS INTEGER)),
sj AS (SELECT json_object('session', id, 'protocol', protocol,
			  'client', client, 'client_port', client_port,
			  'server', server, 'server_port', server_port,
			  'start', coalesce(start, syn), 'end', "end",
			  'duration_ms', round((t_end - t_begin) * 1000.0, 3),
			  'outcome', outcome,
			  'tls', json(CASE WHEN tls THEN 'true' ELSE 'false' END),
			  'outbound', json(CASE WHEN outbound THEN 'true' ELSE 'false' END),
			  'host', host,
			  'client_is_host', json(CASE WHEN client_is_host THEN 'true' ELSE 'false' END),
			  'helo', helo, 'sender_domain', sender_domain, 'bytes', bytes,
			  'slow_ms', :slow_ms) AS j
       FROM s),
cmd AS (SELECT t.*, coalesce(t.reply_ts, t.end_ts, t.request_ts + t.latency_ms / 1000.0)
		AS wait_end,
	       t.latency_ms >= :slow_ms AS slow
	FROM replies AS t WHERE t.session_id = CAST(:arg AS INTEGER)),
causes_of AS (SELECT cmd.id AS tid,
		     (SELECT json_group_array(json(obj)) FROM (
			SELECT CASE c.kind
			WHEN 'dns' THEN json_object(
				'kind', 'dns', 'relation', c.relation, 'qtype', q.qtype,
				'qname', q.qname, 'resolver', q.server, 'outcome', q.outcome,
				'query_ms', round(coalesce(c.query_ms, q.latency_ms,
					(cmd.wait_end - q.ts) * 1000.0), 3),
				'overlap_ms', round(c.overlap_ms, 3), 'share', round(c.share, 4),
				'upstream', (SELECT json_group_array(json(uobj)) FROM (
					SELECT json_object(
						'kind', 'dns', 'relation', u.relation,
						'qtype', uq.qtype, 'qname', uq.qname,
						'resolver', uq.server, 'outcome', uq.outcome,
						'query_ms', round(coalesce(u.query_ms, uq.latency_ms,
							(cmd.wait_end - uq.ts) * 1000.0), 3),
						'overlap_ms', round(u.overlap_ms, 3),
						'share', round(u.share, 4)) AS uobj
					FROM causes AS u
					LEFT JOIN dns_queries AS uq ON uq.id = u.dns_query_id
					WHERE u.parent_id = c.id
					ORDER BY u.overlap_ms DESC, u.id)))
			WHEN 'ident' THEN json_object(
				'kind', 'ident', 'peer', i.peer, 'outcome', i.outcome,
				'query_ms', round(coalesce(c.query_ms, i.latency_ms,
					(cmd.wait_end - i.ts) * 1000.0), 3),
				'overlap_ms', round(c.overlap_ms, 3), 'share', round(c.share, 4))
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
			WHERE c.transaction_id = cmd.id AND c.parent_id IS NULL
			ORDER BY c.kind = 'none', c.overlap_ms DESC, c.id)) AS causes
	      FROM cmd WHERE cmd.slow),
ev AS (
	SELECT 0 AS ord, s.id AS eid, s.t_begin AS ts, 'connect' AS kind,
	       s.client || ' port ' || s.client_port || ' to ' || s.server || ' port ' ||
		       s.server_port AS item,
	       NULL AS target, NULL AS result, NULL AS latency_ms, NULL AS outcome,
	       NULL AS relation, 0 AS slow, NULL AS causes, NULL AS diagnosis, NULL AS remedy,
	       json_object('kind', 'connect', 'client', s.client, 'client_port', s.client_port,
			   'server', s.server, 'server_port', s.server_port) AS obj
	FROM s
	UNION ALL
	SELECT 1, cmd.id, cmd.request_ts, 'command',
	       cmd.command || coalesce(' ' || cmd.guess || '?', '') ||
		       CASE WHEN coalesce(cmd.argument, '') = '' THEN ''
				   ELSE ' ' || cmd.argument END,
	       -- inside TLS a reply has no code: its summary ("ServerHello", "1 record, ...")
	       NULL, coalesce(cmd.reply_code, CASE WHEN cmd.reply_ts IS NOT NULL
						  THEN coalesce(cmd.reply_text, 'reply') END),
	       cmd.latency_ms, cmd.outcome, NULL, cmd.slow, co.causes,
	       cmd.diagnosis, cmd.remedy,
	       json_patch(json_object('kind', 'command', 'transaction', cmd.id,
			   'command', cmd.command,
			   'argument', cmd.argument, 'reply_code', cmd.reply_code,
			   'latency_ms', cmd.latency_ms, 'outcome', cmd.outcome,
			   'slow', json(CASE WHEN cmd.slow THEN 'true' ELSE 'false' END),
			   'causes', json(co.causes), 'diagnosis', cmd.diagnosis,
			   'remedy', cmd.remedy),
			  CASE WHEN cmd.guess IS NULL THEN '{}' ELSE json_object('guess', cmd.guess) END)
	FROM cmd LEFT JOIN causes_of AS co ON co.tid = cmd.id
	UNION ALL
	SELECT 2, q.id, q.ts, 'dns', q.qtype || ' ' || q.qname, q.server, q.rcode, q.latency_ms,
	       q.outcome,
	       (SELECT c.relation FROM causes AS c JOIN cmd ON cmd.id = c.transaction_id
		WHERE c.dns_query_id = q.id ORDER BY c.id LIMIT 1),
	       0, NULL, NULL, NULL,
	       json_object('kind', 'dns', 'dns_query', q.id, 'qtype', q.qtype, 'qname', q.qname,
			   'resolver', q.server, 'outcome', q.outcome, 'rcode', q.rcode,
			   'latency_ms', q.latency_ms, 'retransmits', q.retransmits,
			   'relation', (SELECT c.relation FROM causes AS c
					JOIN cmd ON cmd.id = c.transaction_id
					WHERE c.dns_query_id = q.id ORDER BY c.id LIMIT 1))
	FROM dns_queries AS q, s
	-- no query lives an hour (the tracker starts a new one 60 s after the
	-- first send and gives up 30 s after the last; analyze/dns.h): the
	-- lower bound, and the blocks of ids whose times overlap that span
	-- (dns_blocks, schema 15), let it read only the session's neighbours
	WHERE q.id BETWEEN (SELECT min(blk) * 1024 FROM dns_blocks
			    WHERE ts_max_ns >= (s.t_begin - 3601) * 1e9
			      AND ts_min_ns <= (s.t_end + 1) * 1e9)
		       AND (SELECT max(blk) * 1024 + 1023 FROM dns_blocks
			    WHERE ts_max_ns >= (s.t_begin - 3601) * 1e9
			      AND ts_min_ns <= (s.t_end + 1) * 1e9)
	  AND q.ts <= s.t_end AND q.ts >= s.t_begin - 3600
	  AND coalesce(q.response_ts, q.last_send_ts, q.ts) >= s.t_begin
	  AND (q.client IN (s.server, coalesce(s.host, s.server), '::1') OR q.client LIKE '127.%'
	       OR EXISTS (SELECT 1 FROM causes AS c JOIN cmd ON cmd.id = c.transaction_id
			  WHERE c.dns_query_id = q.id))
	UNION ALL
	SELECT 3, i.id, i.ts, 'ident', i.peer, i.peer, NULL,
	       coalesce(i.latency_ms, (i.end_ts - i.ts) * 1000.0), i.outcome,
	       CASE WHEN i.peer IN (s.client, s.server) THEN 'ident' END,
	       0, NULL, NULL, NULL,
	       json_object('kind', 'ident', 'ident_probe', i.id, 'peer', i.peer,
			   'outcome', i.outcome,
			   'latency_ms', coalesce(i.latency_ms, round((i.end_ts - i.ts) * 1000.0, 3)),
			   'syn_retransmits', i.syn_retransmits)
	FROM ident_probes AS i, s
	WHERE i.ts <= s.t_end AND coalesce(i.end_ts, i.ts) >= s.t_begin
	  AND (i.host IN (s.server, coalesce(s.host, s.server))
	       OR EXISTS (SELECT 1 FROM causes AS c JOIN cmd ON cmd.id = c.transaction_id
			  WHERE c.ident_probe_id = i.id))
	UNION ALL
	SELECT 4, s.id, s.t_end, 'close', NULL, NULL, NULL, NULL, s.outcome, NULL, 0, NULL,
	       NULL, NULL, json_object('kind', 'close', 'outcome', s.outcome)
	FROM s
)
SELECT ev.ts, strftime('%H:%M:%f', mx_local(ev.ts), 'unixepoch') AS time_utc,
       round((ev.ts - s.t_begin) * 1000.0, 1) AS offset_ms, ev.kind, ev.item, ev.target,
       ev.result, round(ev.latency_ms, 1) AS latency_ms, ev.outcome, ev.relation,
       ev.slow, ev.diagnosis, ev.remedy,
       ev.causes AS causes_json,
       json_set(ev.obj, '$.ts', ev.ts, '$.offset_ms', round((ev.ts - s.t_begin) * 1000.0, 3))
	       AS json,
       (SELECT j FROM sj) AS session_json
FROM ev, s
ORDER BY ev.ts, ev.ord, ev.eid;
