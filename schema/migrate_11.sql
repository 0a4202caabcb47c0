-- Version 10 -> 11: a shorter encoding of sessions.replies (issue 16).
--
-- Each element of a session's record keeps its values; only how they are
-- written changes: ids after the first one as offsets from it, command
-- and guess words as their number in command_words, an argument equal to
-- the session's helo as 1, three-digit reply codes as numbers.  The view
-- compact_replies reads the new encoding and gives back the same rows.

-- The command words of sessions.replies (version 11): a command or guess in
-- this list is stored as its code.  Fixed: codes are never reused.
CREATE TABLE command_words (
	code INTEGER PRIMARY KEY,
	word TEXT NOT NULL UNIQUE
);
INSERT INTO command_words (code, word) VALUES
	(0, 'GREETING'), (1, 'HELO'), (2, 'EHLO'), (3, 'MAIL'), (4, 'RCPT'), (5, 'DATA'),
	(6, 'DATA-END'), (7, 'BDAT'), (8, 'STARTTLS'), (9, 'AUTH'), (10, 'RSET'), (11, 'NOOP'),
	(12, 'QUIT'), (13, 'VRFY'), (14, 'EXPN'), (15, 'HELP'), (16, 'ETRN'), (17, 'USER'),
	(18, 'PASS'), (19, 'APOP'), (20, 'CAPA'), (21, 'STLS'), (22, 'STAT'), (23, 'LIST'),
	(24, 'UIDL'), (25, 'RETR'), (26, 'TOP'), (27, 'DELE'), (28, 'TLS-HELLO'), (29, 'TLS');

-- The compact replies as rows with transactions' columns (version 5;
-- the encoding of version 11).
DROP VIEW compact_replies;
CREATE VIEW compact_replies AS
SELECT id, run_id, session_id,
       CASE typeof(cmd) WHEN 'integer' THEN (SELECT word FROM command_words WHERE code = cmd)
			ELSE cmd END AS command,
       CASE typeof(arg) WHEN 'integer' THEN helo ELSE arg END AS argument,
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
       s.run_id, s.id AS session_id, s.helo,
       json_extract(r.value, '$[1]') AS cmd, json_extract(r.value, '$[2]') AS arg,
       CAST(round(coalesce(s.syn, s.start) * 1e6) AS INTEGER) + json_extract(r.value, '$[3]')
	       AS req_us,
       json_extract(r.value, '$[4]') AS lat_us,
       json_extract(r.value, '$[5]') AS code, json_extract(r.value, '$[8]') AS reply_text,
       json_extract(r.value, '$[6]') AS size, json_extract(r.value, '$[7]') AS gs
      FROM sessions AS s, json_each(s.replies) AS r
      WHERE s.replies IS NOT NULL);

-- every record in the new encoding (trailing nulls left out as the writer
-- does: rtrim strips the characters of ',nul]', and every value before
-- them ends in a digit or a quote)
UPDATE sessions
SET replies = (SELECT '[' || group_concat(e, ',') || ']'
	       FROM (SELECT rtrim(json_array(
			    CASE r.key WHEN 0 THEN json_extract(r.value, '$[0]')
				 ELSE json_extract(r.value, '$[0]')
				      - json_extract(sessions.replies, '$[0][0]') END,
			    coalesce((SELECT code FROM command_words
				      WHERE word = json_extract(r.value, '$[1]')),
				     json_extract(r.value, '$[1]')),
			    CASE WHEN json_extract(r.value, '$[2]') = sessions.helo THEN 1
				 ELSE json_extract(r.value, '$[2]') END,
			    json_extract(r.value, '$[3]'), json_extract(r.value, '$[4]'),
			    CASE WHEN json_extract(r.value, '$[5]') GLOB '[1-9][0-9][0-9]'
				 THEN CAST(json_extract(r.value, '$[5]') AS INTEGER)
				 ELSE json_extract(r.value, '$[5]') END,
			    json_extract(r.value, '$[6]'),
			    coalesce((SELECT code FROM command_words
				      WHERE word = json_extract(r.value, '$[7]')),
				     json_extract(r.value, '$[7]')),
			    json_extract(r.value, '$[8]')), ',nul]') || ']' AS e
		     FROM json_each(sessions.replies) AS r ORDER BY r.key))
WHERE replies IS NOT NULL;
