-- Version 12 -> 13: shorter MAIL and RCPT arguments in sessions.replies
-- (issue 16).
--
-- The writer may now write the argument "FROM:<local@SENDER>rest" of a MAIL
-- as ["local"] or ["local", "rest"], SENDER being the session's
-- sender_domain, and "TO:<local@RCPT>rest" of a RCPT the same way, RCPT
-- being the first of its rcpt_domains.  Older records never hold an array
-- there and read back as before; only the view changes.  A reply without
-- an argument is written 0 instead of null.
DROP VIEW compact_replies;
CREATE VIEW compact_replies AS
SELECT id, run_id, session_id,
       CASE typeof(cmd) WHEN 'integer' THEN (SELECT word FROM command_words WHERE code = cmd)
			ELSE cmd END AS command,
       CASE WHEN atype = 'array'
	    -- MAIL / RCPT (version 13): the session's sender or first recipient domain
	    THEN CASE cmd WHEN 3 THEN 'FROM:<' || a_local || '@' || sender_domain
			  ELSE 'TO:<' || a_local || '@' ||
			       CASE WHEN instr(rcpt_domains, ',') > 0
				    THEN substr(rcpt_domains, 1, instr(rcpt_domains, ',') - 1)
				    ELSE rcpt_domains END END || '>' || coalesce(a_rest, '')
	    -- 1: the session's helo; 0 (version 13) or null: none
	    WHEN typeof(arg) = 'integer' THEN CASE arg WHEN 1 THEN helo END ELSE arg END AS argument,
       -- whole microseconds, then seconds + fraction (as the writer binds a time)
       req_us / 1000000 + (req_us % 1000000) / 1e6 AS request_ts,
       (req_us + lat_us) / 1000000 + ((req_us + lat_us) % 1000000) / 1e6 AS reply_ts,
       NULL AS end_ts, lat_us / 1000.0 AS latency_ms,
       CASE typeof(code) WHEN 'integer' THEN CAST(code AS TEXT) ELSE code END AS reply_code,
       reply_text, 'ok' AS outcome, size, NULL AS diagnosis, NULL AS remedy,
       CASE typeof(gs) WHEN 'integer' THEN (SELECT word FROM command_words WHERE code = gs)
		       ELSE gs END AS guess
FROM (SELECT CASE r.key WHEN 0 THEN json_extract(r.value, '$[0]')
		ELSE json_extract(s.replies, '$[0][0]') + json_extract(r.value, '$[0]') END AS id,
       s.run_id, s.id AS session_id, s.helo, s.sender_domain, s.rcpt_domains,
       json_extract(r.value, '$[1]') AS cmd, json_extract(r.value, '$[2]') AS arg,
       json_type(r.value, '$[2]') AS atype, json_extract(r.value, '$[2][0]') AS a_local,
       json_extract(r.value, '$[2][1]') AS a_rest,
       CAST(round(coalesce(s.syn, s.start) * 1e6) AS INTEGER) + json_extract(r.value, '$[3]')
	       AS req_us,
       json_extract(r.value, '$[4]') AS lat_us,
       json_extract(r.value, '$[5]') AS code, json_extract(r.value, '$[8]') AS reply_text,
       json_extract(r.value, '$[6]') AS size, json_extract(r.value, '$[7]') AS gs
      FROM sessions AS s, json_each(s.replies) AS r
      WHERE s.replies IS NOT NULL);
