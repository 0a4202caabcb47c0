-- Version 15 -> 16: the usual reply code left out of sessions.replies
-- (issue 16).
--
-- The writer now leaves a compact reply's code out when it is its
-- command's usual one in the session's protocol (250 after MAIL, RCPT,
-- EHLO, 354 after DATA, 221 after QUIT, +OK in POP3, ...), or writes 0
-- there when size, guess or text follow: on the 100 000-session workload
-- every compact reply has its usual code.  A record before version 16
-- always holds its sixth element (null for no code) and never 0, so older
-- records read back as before; only the view changes.
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
       CASE WHEN ctype IS NULL OR (ctype = 'integer' AND code = 0)
	    THEN CASE protocol WHEN 'pop3' THEN CASE typeof(cmd) WHEN 'integer' THEN '+OK' END
			       WHEN 'smtp' THEN CASE WHEN cmd IN (0, 8) THEN '220'
						     WHEN cmd = 5 THEN '354'
						     WHEN cmd = 9 THEN '235'
						     WHEN cmd = 12 THEN '221'
						     WHEN cmd IN (1, 2, 3, 4, 6, 7, 10, 11)
							  THEN '250' END END
	    WHEN typeof(code) = 'integer' THEN CAST(code AS TEXT) ELSE code END AS reply_code,
       reply_text, 'ok' AS outcome, size, NULL AS diagnosis, NULL AS remedy,
       CASE typeof(gs) WHEN 'integer' THEN (SELECT word FROM command_words WHERE code = gs)
		       ELSE gs END AS guess
FROM (SELECT CASE r.key WHEN 0 THEN json_extract(r.value, '$[0]')
		ELSE json_extract(s.replies, '$[0][0]') + json_extract(r.value, '$[0]') END AS id,
       s.run_id, s.id AS session_id, s.protocol, s.helo, s.sender_domain, s.rcpt_domains,
       json_extract(r.value, '$[1]') AS cmd, json_extract(r.value, '$[2]') AS arg,
       json_type(r.value, '$[2]') AS atype, json_extract(r.value, '$[2][0]') AS a_local,
       json_extract(r.value, '$[2][1]') AS a_rest,
       CAST(round(coalesce(s.syn, s.start) * 1e6) AS INTEGER) + json_extract(r.value, '$[3]')
	       AS req_us,
       json_extract(r.value, '$[4]') AS lat_us,
       json_extract(r.value, '$[5]') AS code, json_type(r.value, '$[5]') AS ctype,
       json_extract(r.value, '$[8]') AS reply_text,
       json_extract(r.value, '$[6]') AS size, json_extract(r.value, '$[7]') AS gs
      FROM sessions AS s, json_each(s.replies) AS r
      WHERE s.replies IS NOT NULL);
