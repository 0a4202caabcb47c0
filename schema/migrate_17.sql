-- Version 16 -> 17: packed reply heads in sessions.replies (issue 16).
--
-- The writer now begins a session's record with the id base (the
-- transactions id of its first compact reply) and writes a reply as a
-- packed head, five or six characters each holding a number as its code
-- point minus 32 (command, id - base, request_us in two, latency_us in one
-- or two: schema/compact.h), alone or first in an array with the argument,
-- code, size, guess and text, instead of [id, command, argument,
-- request_us, latency_us, ...].  A
-- record before version 17 begins with an array, never with a number, so
-- older records read back as before; only the view changes.
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
-- t: the element's JSON type; a: its text (a head alone, version 17); h: the
-- head of an array [head, argument, ...] (version 17), NULL for an array of
-- the older form v [id, command, argument, request_us, latency_us, ...].  A
-- head's characters: command * 2 + helo, id - base, request_us / 2016,
-- request_us % 2016, latency_us (or latency_us / 2016, latency_us % 2016),
-- each the code point minus 32.
FROM (SELECT CASE WHEN base IS NULL
		  THEN CASE k WHEN 0 THEN json_extract(v, '$[0]')
			    ELSE first_id + json_extract(v, '$[0]') END
		  ELSE base + CASE WHEN t = 'text' THEN unicode(substr(a, 2, 1)) - 32
				   WHEN h IS NULL THEN json_extract(v, '$[0]')
				   ELSE unicode(substr(h, 2, 1)) - 32 END END AS id,
	     run_id, session_id, protocol, helo, sender_domain, rcpt_domains,
	     CASE WHEN t = 'text' THEN (unicode(a) - 32) >> 1
		  WHEN h IS NULL THEN json_extract(v, '$[1]')
		  ELSE (unicode(h) - 32) >> 1 END AS cmd,
	     CASE WHEN t = 'text' THEN (unicode(a) - 32) & 1
		  WHEN h IS NULL THEN json_extract(v, '$[2]')
		  ELSE json_extract(v, '$[1]') END AS arg,
	     CASE WHEN t = 'text' THEN NULL
		  WHEN h IS NULL THEN json_type(v, '$[2]')
		  ELSE json_type(v, '$[1]') END AS atype,
	     CASE WHEN t = 'text' THEN NULL
		  WHEN h IS NULL THEN json_extract(v, '$[2][0]')
		  ELSE json_extract(v, '$[1][0]') END AS a_local,
	     CASE WHEN t = 'text' THEN NULL
		  WHEN h IS NULL THEN json_extract(v, '$[2][1]')
		  ELSE json_extract(v, '$[1][1]') END AS a_rest,
	     t0_us + CASE WHEN t = 'text'
			  THEN (unicode(substr(a, 3, 1)) - 32) * 2016 + unicode(substr(a, 4, 1)) - 32
			  WHEN h IS NULL THEN json_extract(v, '$[3]')
			  ELSE (unicode(substr(h, 3, 1)) - 32) * 2016 + unicode(substr(h, 4, 1)) - 32
		     END AS req_us,
	     CASE WHEN t = 'text'
		  THEN CASE length(a) WHEN 5 THEN unicode(substr(a, 5, 1)) - 32
			    ELSE (unicode(substr(a, 5, 1)) - 32) * 2016 + unicode(substr(a, 6, 1)) - 32 END
		  WHEN h IS NULL THEN json_extract(v, '$[4]')
		  ELSE CASE length(h) WHEN 5 THEN unicode(substr(h, 5, 1)) - 32
			    ELSE (unicode(substr(h, 5, 1)) - 32) * 2016 + unicode(substr(h, 6, 1)) - 32 END
	     END AS lat_us,
	     CASE WHEN t = 'text' THEN NULL
		  WHEN h IS NULL THEN json_extract(v, '$[5]')
		  ELSE json_extract(v, '$[2]') END AS code,
	     CASE WHEN t = 'text' THEN NULL
		  WHEN h IS NULL THEN json_type(v, '$[5]')
		  ELSE json_type(v, '$[2]') END AS ctype,
	     CASE WHEN t = 'text' THEN NULL
		  WHEN h IS NULL THEN json_extract(v, '$[8]')
		  ELSE json_extract(v, '$[5]') END AS reply_text,
	     CASE WHEN t = 'text' THEN NULL
		  WHEN h IS NULL THEN json_extract(v, '$[6]')
		  ELSE json_extract(v, '$[3]') END AS size,
	     CASE WHEN t = 'text' THEN NULL
		  WHEN h IS NULL THEN json_extract(v, '$[7]')
		  ELSE json_extract(v, '$[4]') END AS gs
      FROM (SELECT s.run_id, s.id AS session_id, s.protocol, s.helo, s.sender_domain,
		   s.rcpt_domains, CAST(round(coalesce(s.syn, s.start) * 1e6) AS INTEGER) AS t0_us,
		   -- version 17: the id base; before, the first element's id
		   CASE json_type(s.replies, '$[0]') WHEN 'integer'
			THEN json_extract(s.replies, '$[0]') END AS base,
		   json_extract(s.replies, '$[0][0]') AS first_id,
		   r.key AS k, r.type AS t, r.value AS v, r.atom AS a,
		   CASE r.type WHEN 'array' THEN CASE json_type(r.value, '$[0]') WHEN 'text'
						      THEN json_extract(r.value, '$[0]') END END AS h
	    FROM sessions AS s, json_each(s.replies) AS r
	    WHERE s.replies IS NOT NULL AND r.type <> 'integer'));
