-- sessions: one row per SMTP/POP3 session, oldest first, with its number
-- of replies and its slowest reply.  Parameters: :since, :until (on the
-- session start), :client (either end), :protocol, :limit.
WITH
s AS (SELECT *, coalesce(start, syn) AS t0 FROM sessions
      WHERE (:since IS NULL OR coalesce(start, syn) >= :since)
	AND (:until IS NULL OR coalesce(start, syn) < :until)
	AND (:client IS NULL OR client = :client OR server = :client)
	AND (:protocol IS NULL OR protocol = :protocol)
      ORDER BY coalesce(start, syn), id
      LIMIT :limit),
w AS (SELECT s.*,
	     (SELECT count(*) FROM transactions AS t WHERE t.session_id = s.id) AS replies,
	     (SELECT t.id FROM transactions AS t WHERE t.session_id = s.id
	      ORDER BY t.latency_ms DESC, t.id LIMIT 1) AS slow_tid
      FROM s)
SELECT w.id AS session, w.protocol, w.client, w.client_port, w.server, w.server_port,
       w.t0 AS start, strftime('%Y-%m-%d %H:%M:%S', w.t0, 'unixepoch') AS start_utc,
       strftime('%m-%d %H:%M:%S', w.t0, 'unixepoch') AS start_short,
       round((w."end" - coalesce(w.syn, w.t0)) * 1000.0, 1) AS duration_ms,
       w.outcome, w.tls, w.outbound, w.host, w.client_is_host, w.replies,
       t.command || coalesce(' ' || t.guess || '?', '') AS slowest_command,
       round(t.latency_ms, 1) AS slowest_ms,
       CASE WHEN t.id IS NULL THEN NULL
	    ELSE t.command || coalesce(' ' || t.guess || '?', '') || ' ' ||
		 printf('%.1f', t.latency_ms) END AS slowest,
       w.bytes,
       json_object('session', w.id, 'protocol', w.protocol,
		   'client', w.client, 'client_port', w.client_port,
		   'server', w.server, 'server_port', w.server_port,
		   'start', w.t0, 'end', w."end",
		   'duration_ms', round((w."end" - coalesce(w.syn, w.t0)) * 1000.0, 3),
		   'outcome', w.outcome, 'tls', json(CASE WHEN w.tls THEN 'true' ELSE 'false' END),
		   'outbound', json(CASE WHEN w.outbound THEN 'true' ELSE 'false' END),
		   'host', w.host,
		   'client_is_host', json(CASE WHEN w.client_is_host THEN 'true' ELSE 'false' END),
		   'replies', w.replies, 'bytes', w.bytes,
		   'slowest', CASE WHEN t.id IS NULL THEN NULL
				   ELSE json_object('transaction', t.id, 'command', t.command,
						    'latency_ms', t.latency_ms,
						    'reply_code', t.reply_code,
						    'outcome', t.outcome) END) AS json
FROM w
LEFT JOIN transactions AS t ON t.id = w.slow_tid
ORDER BY w.t0, w.id;
