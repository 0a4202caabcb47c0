-- big: the big messages (issue 17), newest first: every session whose
-- largest message (sessions.max_message: a DATA body, BDAT chunks to LAST,
-- a POP3 RETR) reached its run's threshold (runs.big_bytes, --big-message;
-- 10 MB for runs stored before version 8).  Per message: its size, the
-- direction (inbound: to the host; outbound: the host's delivery;
-- retrieved: a POP3 RETR), client and server, how long its body was on the
-- wire (DATA's 354 to the final dot; NULL for BDAT and RETR), the reply to
-- its end (DATA-END, BDAT LAST), the session's duration and outcome, and how
-- many slow replies named it as their cause (kind big-message).
-- Parameters: :since, :until (session start), :client (either end),
-- :protocol, :limit.
WITH b AS MATERIALIZED (
	SELECT s.id, s.run_id, s.host, s.protocol, s.client, s.client_port, s.server,
	       s.server_port, s.max_message, s.messages, s.outcome,
	       coalesce(s.start, s.syn) AS t0,
	       (coalesce(s."end", s.start, s.syn) - coalesce(s.syn, s.start)) * 1000.0 AS dur_ms,
	       CASE WHEN s.protocol = 'pop3' THEN 'retrieved'
		    WHEN s.outbound = 1 OR (s.client_is_host = 1 AND s.host IS s.client)
		    THEN 'outbound' ELSE 'inbound' END AS direction
	FROM sessions AS s LEFT JOIN runs AS r ON r.id = s.run_id
	-- the first term matches the partial index sessions_big
	WHERE s.max_message >= 1000000
	  AND s.max_message >= coalesce(r.big_bytes, 10000000)
	  AND coalesce(s.start, s.syn) >= coalesce(:since, -1e18)
	  AND coalesce(s.start, s.syn) < coalesce(:until, 1e18)
	  AND (:client IS NULL OR s.client = :client OR s.server = :client)
	  AND (:protocol IS NULL OR s.protocol = :protocol)
	ORDER BY t0 DESC, s.id DESC
	LIMIT :limit),
-- the reply to the end of each one's largest message
e AS (SELECT b.id AS sid,
	     (SELECT json_array(x.request_ts, x.latency_ms, x.reply_code, x.command)
	      FROM replies AS x WHERE x.session_id = b.id
		AND x.command IN ('DATA-END', 'BDAT', 'RETR')
	      ORDER BY x.size DESC, x.request_ts LIMIT 1) AS endr
      FROM b),
f AS (SELECT b.*, e.endr ->> '$[0]' AS end_req, e.endr ->> '$[1]' AS end_ms,
	     e.endr ->> '$[2]' AS end_code, e.endr ->> '$[3]' AS end_cmd,
	     (SELECT count(*) FROM causes AS c
	      WHERE c.session_ref = b.id AND c.kind = 'big-message') AS delayed
      FROM b JOIN e ON e.sid = b.id),
g AS (SELECT f.*,
	     CASE WHEN f.end_cmd = 'DATA-END' THEN
		(f.end_req - (SELECT max(d.reply_ts) FROM replies AS d
			      WHERE d.session_id = f.id AND d.command = 'DATA'
				AND d.reply_ts <= f.end_req)) * 1000.0 END AS wire_ms
      FROM f)
SELECT strftime('%Y-%m-%d %H:%M:%S', mx_local(t0), 'unixepoch') AS start_utc,
       strftime('%m-%d %H:%M:%S', mx_local(t0), 'unixepoch') AS start_short,
       id AS session, host, direction,
       -- the other end: the sender of an inbound message, else its receiver
       CASE direction WHEN 'outbound' THEN server ELSE client END AS peer,
       protocol, client, client_port, server, server_port, t0 AS start,
       max_message AS bytes, printf('%.1f', max_message / 1e6) AS mb, messages,
       round(wire_ms, 1) AS wire_ms, round(end_ms, 1) AS end_reply_ms, end_code,
       round(dur_ms, 1) AS duration_ms, outcome, delayed AS slow_replies_named,
       json_object('session', id, 'host', host, 'direction', direction, 'protocol', protocol,
		   'client', client, 'client_port', client_port, 'server', server,
		   'server_port', server_port, 'start', t0, 'bytes', max_message,
		   'messages', messages, 'wire_ms', round(wire_ms, 3),
		   'end_reply_ms', round(end_ms, 3), 'end_reply_code', end_code,
		   'duration_ms', round(dur_ms, 3), 'outcome', outcome,
		   'slow_replies_named', delayed) AS json
FROM g
ORDER BY t0 DESC, id DESC;
