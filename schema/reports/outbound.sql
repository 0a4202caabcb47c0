-- outbound: the mail hosts' own deliveries (sessions whose client is a
-- monitored host: outbound = 1, or a delivery to another monitored host),
-- one row per delivering host and remote address: connection attempts and how they ended
-- (unanswered SYNs, refused), the time spent on failed attempts, the remote
-- MX's slow replies (>= :slow_ms) and the message sizes sent.
-- Parameters: :since, :until (session start), :client (remote address),
-- :slow_ms, :limit.
WITH
s AS (SELECT *, coalesce(start, syn) AS t0,
	     (coalesce("end", start, syn) - coalesce(syn, start)) * 1000.0 AS dur_ms,
	     -- the session's messages: [count, bytes, largest]
	     (SELECT json_array(count(z), sum(z), max(z))
	      FROM (SELECT t.size AS z FROM transactions AS t
		    WHERE t.session_id = sessions.id AND t.command IN ('DATA-END', 'BDAT')
		    UNION ALL
		    SELECT c.size FROM compact_replies AS c
		    WHERE c.session_id = sessions.id AND c.command IN ('DATA-END', 'BDAT'))
	      WHERE z IS NOT NULL) AS msz
      FROM sessions
      WHERE (outbound = 1 OR client_is_host = 1)
	AND coalesce(start, syn) >= coalesce(:since, -1e18)
	AND coalesce(start, syn) < coalesce(:until, 1e18)
	AND (:client IS NULL OR server = :client OR client = :client)
	AND (:protocol IS NULL OR protocol = :protocol)),
sl AS (SELECT t.*, s.server AS remote, s.client AS host
       FROM (SELECT * FROM transactions WHERE latency_ms >= :slow_ms
	     UNION ALL
	     -- compact replies are all below the run's notable threshold
	     SELECT * FROM compact_replies
	     WHERE :compact_slow
	       AND latency_ms >= :slow_ms) AS t
       JOIN s ON s.id = t.session_id),
sz AS (SELECT s.server AS remote, s.client AS host, json_extract(s.msz, '$[0]') AS n,
	      json_extract(s.msz, '$[1]') AS bytes, json_extract(s.msz, '$[2]') AS mx FROM s),
agg AS (SELECT client AS host, server AS remote, count(*) AS attempts,
	       sum(outcome = 'ok') AS ok,
	       sum(outcome = 'unanswered') AS unanswered,
	       sum(outcome = 'refused') AS refused,
	       sum(outcome NOT IN ('ok', 'unanswered', 'refused')) AS other,
	       round(sum(CASE WHEN outcome IN ('unanswered', 'refused') THEN dur_ms END), 1)
		       AS failed_wait_ms,
	       min(t0) AS first_ts, max(t0) AS last_ts
	FROM s GROUP BY client, server)
SELECT a.host, a.remote, a.attempts, a.ok, a.unanswered, a.refused, a.other, a.failed_wait_ms,
       (SELECT count(*) FROM sl WHERE sl.remote = a.remote AND sl.host = a.host) AS slow_replies,
       (SELECT round(max(latency_ms), 1) FROM sl WHERE sl.remote = a.remote AND sl.host = a.host) AS slowest_ms,
       (SELECT sum(n) FROM sz WHERE sz.remote = a.remote AND sz.host = a.host) AS messages,
       (SELECT sum(bytes) FROM sz WHERE sz.remote = a.remote AND sz.host = a.host) AS bytes,
       (SELECT max(mx) FROM sz WHERE sz.remote = a.remote AND sz.host = a.host) AS max_message_bytes,
       strftime('%Y-%m-%d %H:%M:%S', mx_local(a.first_ts), 'unixepoch') AS first_utc,
       (SELECT 'slow: ' || group_concat(command || coalesce(' ' || guess || '?', '') || ' ' ||
					printf('%.1f', latency_ms) ||
					' ms (session ' || session_id || ')', '; ')
	FROM (SELECT * FROM sl WHERE sl.remote = a.remote AND sl.host = a.host ORDER BY latency_ms DESC, id
	      LIMIT 5)) AS slow_text,
       json_object('host', a.host, 'remote', a.remote, 'attempts', a.attempts, 'ok', a.ok,
		   'unanswered', a.unanswered, 'refused', a.refused, 'other', a.other,
		   'failed_wait_ms', a.failed_wait_ms, 'first', a.first_ts, 'last', a.last_ts,
		   'messages', (SELECT sum(n) FROM sz WHERE sz.remote = a.remote AND sz.host = a.host),
		   'bytes', (SELECT sum(bytes) FROM sz WHERE sz.remote = a.remote AND sz.host = a.host),
		   'max_message_bytes', (SELECT max(mx) FROM sz WHERE sz.remote = a.remote AND sz.host = a.host),
		   'sessions', (SELECT json_group_array(json_object(
					'session', x.id, 'protocol', x.protocol,
					'client', x.client, 'client_port', x.client_port,
					'server_port', x.server_port, 'start', x.t0,
					'duration_ms', round(x.dur_ms, 3), 'outcome', x.outcome,
					'bytes', x.bytes))
				FROM (SELECT * FROM s WHERE s.server = a.remote AND s.client = a.host
				      ORDER BY t0, id) AS x),
		   'slow', (SELECT json_group_array(json_object(
					'session', y.session_id, 'transaction', y.id,
					'command', y.command, 'start', y.request_ts,
					'latency_ms', y.latency_ms, 'reply_code', y.reply_code,
					'outcome', y.outcome))
			    FROM (SELECT * FROM sl WHERE sl.remote = a.remote AND sl.host = a.host
				  ORDER BY latency_ms DESC, id) AS y)) AS json
FROM agg AS a
ORDER BY a.unanswered + a.refused DESC, a.attempts DESC, a.remote
LIMIT :limit;
