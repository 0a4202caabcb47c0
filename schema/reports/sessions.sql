-- sessions: one row per SMTP/POP3 session, oldest first, with its number
-- of replies and its slowest reply.  Parameters: :since, :until (on the
-- session start), :client (either end), :protocol, :limit.
WITH
-- the window's sessions: read through the blocks of session_blocks that
-- overlap it (STORE_SESSION_WINDOW_SQL in schema/store.h, schema 18), then
-- from the view by id
s AS (SELECT *, coalesce(start, syn) AS t0 FROM sessions
      WHERE id IN (SELECT r.id FROM session_blocks AS sb CROSS JOIN session_rows AS r
		   ON r.id BETWEEN sb.blk * 1024 AND (sb.blk + 1) * 1024 - 1
		      AND sb.t_max >= coalesce(:since, -1e18) AND sb.t_min < coalesce(:until, 1e18)
		   WHERE coalesce(r.start, r.syn) >= coalesce(:since, -1e18)
		     AND coalesce(r.start, r.syn) < coalesce(:until, 1e18))
	AND (:client IS NULL OR client = :client OR server = :client)
	AND (:protocol IS NULL OR protocol = :protocol)
      ORDER BY coalesce(start, syn), id
      LIMIT :limit),
-- a session's replies: its rows and its compact record (the view replies
-- would be read whole for every session: SQLite does not push a correlated
-- term into a compound view)
w AS MATERIALIZED (SELECT s.*,
	     (SELECT count(*) FROM transactions AS t WHERE t.session_id = s.id)
		     + coalesce(json_array_length(s.replies)
			 - (json_type(s.replies, '$[0]') IS 'integer'), 0) AS n_replies,
	     (SELECT json_array(id, command, guess, latency_ms, reply_code, outcome)
	      FROM (SELECT id, command, guess, latency_ms, reply_code, outcome
		    FROM transactions AS t WHERE t.session_id = s.id
		    UNION ALL
		    SELECT id, command, guess, latency_ms, reply_code, outcome
		    FROM compact_replies AS c WHERE c.session_id = s.id)
	      ORDER BY latency_ms DESC, id LIMIT 1) AS slow_j
      FROM s),
x AS (SELECT w.*, json_extract(slow_j, '$[0]') AS slow_id,
	     json_extract(slow_j, '$[1]') AS slow_cmd, json_extract(slow_j, '$[2]') AS slow_guess,
	     json_extract(slow_j, '$[3]') AS slow_ms, json_extract(slow_j, '$[4]') AS slow_code,
	     json_extract(slow_j, '$[5]') AS slow_outcome
      FROM w)
SELECT x.id AS session, x.protocol, x.client, x.client_port, x.server, x.server_port,
       x.t0 AS start, strftime('%Y-%m-%d %H:%M:%S', mx_local(x.t0), 'unixepoch') AS start_utc,
       strftime('%m-%d %H:%M:%S', mx_local(x.t0), 'unixepoch') AS start_short,
       round((x."end" - coalesce(x.syn, x.t0)) * 1000.0, 1) AS duration_ms,
       x.outcome, x.tls, x.outbound, x.host, x.client_is_host, x.n_replies AS replies,
       x.slow_cmd || coalesce(' ' || x.slow_guess || '?', '') AS slowest_command,
       round(x.slow_ms, 1) AS slowest_ms,
       CASE WHEN x.slow_j IS NULL THEN NULL
	    ELSE x.slow_cmd || coalesce(' ' || x.slow_guess || '?', '') || ' ' ||
		 printf('%.1f', x.slow_ms) END AS slowest,
       x.bytes,
       json_object('session', x.id, 'protocol', x.protocol,
		   'client', x.client, 'client_port', x.client_port,
		   'server', x.server, 'server_port', x.server_port,
		   'start', x.t0, 'end', x."end",
		   'duration_ms', round((x."end" - coalesce(x.syn, x.t0)) * 1000.0, 3),
		   'outcome', x.outcome, 'tls', json(CASE WHEN x.tls THEN 'true' ELSE 'false' END),
		   'outbound', json(CASE WHEN x.outbound THEN 'true' ELSE 'false' END),
		   'host', x.host,
		   'client_is_host', json(CASE WHEN x.client_is_host THEN 'true' ELSE 'false' END),
		   'replies', x.n_replies, 'bytes', x.bytes,
		   'slowest', CASE WHEN x.slow_j IS NULL THEN NULL
				   ELSE json_object('transaction', x.slow_id, 'command', x.slow_cmd,
						    'latency_ms', x.slow_ms,
						    'reply_code', x.slow_code,
						    'outcome', x.slow_outcome) END) AS json
FROM x
ORDER BY x.t0, x.id;
