-- Version 4 -> 5: storage that scales (issue 16).
--
-- Ordinary replies (answered, ok, not 4xx/5xx/-ERR, faster than the run's
-- notable_ms) leave transactions for their session's compact record
-- (sessions.replies, one JSON array per session; the view compact_replies
-- expands it, the view replies is every reply).  Every reply is counted in
-- latency_hist, per minute, host, protocol, direction and command, in
-- log-spaced bins (schema/hist.h; mx_hist_bin() is the writer's bin
-- function, registered on the connection that migrates).  Runs stored
-- before version 5 were analyzed with the default threshold: notable_ms =
-- 1000, and a reply with a cause or a diagnosis stays a row whatever its
-- latency.
ALTER TABLE runs ADD COLUMN notable_ms REAL;
ALTER TABLE runs ADD COLUMN txn_ids INTEGER;
ALTER TABLE sessions ADD COLUMN replies TEXT;
UPDATE runs SET notable_ms = 1000;

CREATE TABLE latency_hist (
	minute      INTEGER NOT NULL,
	run_id      INTEGER REFERENCES runs (id),
	host        TEXT,
	protocol    TEXT,
	outbound    INTEGER NOT NULL DEFAULT 0,
	command     TEXT,
	guess       TEXT,
	replies     INTEGER NOT NULL,
	n           INTEGER NOT NULL,
	min_ms      REAL,
	max_ms      REAL,
	sum_ms      REAL,
	bins        TEXT NOT NULL
);

-- every reply into the histograms (the session's final host and direction)
INSERT INTO latency_hist (minute, run_id, host, protocol, outbound, command, guess,
			  replies, n, min_ms, max_ms, sum_ms, bins)
SELECT minute, run_id, host, protocol, outbound, command, guess,
       sum(k), sum(CASE WHEN bin IS NOT NULL THEN k ELSE 0 END), min(mn), max(mx), sum(sm),
       '[' || coalesce(group_concat(CASE WHEN bin IS NOT NULL THEN bin || ',' || k END, ','), '')
	   || ']'
FROM (SELECT CAST(t.request_ts AS INTEGER) - CAST(t.request_ts AS INTEGER) % 60 AS minute,
	     t.run_id, s.host, s.protocol, coalesce(s.outbound, 0) AS outbound,
	     t.command, t.guess, mx_hist_bin(t.latency_ms) AS bin, count(*) AS k,
	     min(t.latency_ms) AS mn, max(t.latency_ms) AS mx, sum(t.latency_ms) AS sm
      FROM transactions AS t LEFT JOIN sessions AS s ON s.id = t.session_id
      WHERE t.request_ts IS NOT NULL
      GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
      ORDER BY 1, 2, 3, 4, 5, 6, 7, 8)
GROUP BY minute, run_id, host, protocol, outbound, command, guess;

-- the largest transaction id of each run (compact replies keep theirs)
UPDATE runs SET txn_ids = (SELECT max(id) FROM transactions WHERE run_id = runs.id);

-- ordinary replies into their session's record (the order of a record's
-- elements carries no meaning: readers order by request_ts, id)
CREATE TEMP TABLE m5_compact AS
SELECT t.id, t.session_id,
       -- trailing nulls left out (rtrim strips the characters of ',nul]': every
       -- value before them ends in a digit or a quote)
       rtrim(json_array(t.id, t.command, t.argument,
	       CAST(round((t.request_ts - coalesce(s.syn, s.start)) * 1e6) AS INTEGER),
	       CAST(round(t.latency_ms * 1000) AS INTEGER), t.reply_code, t.size, t.guess,
	       CASE WHEN t.reply_code IS NULL THEN t.reply_text END), ',nul]') || ']' AS elem
FROM transactions AS t JOIN sessions AS s ON s.id = t.session_id
WHERE t.reply_ts IS NOT NULL AND t.request_ts IS NOT NULL AND t.latency_ms IS NOT NULL
  AND t.latency_ms >= 0 AND t.latency_ms < 1000 AND t.outcome = 'ok'
  AND coalesce(s.syn, s.start) IS NOT NULL
  AND coalesce(t.reply_code, '') NOT GLOB '[45]*' AND coalesce(t.reply_code, '') <> '-ERR'
  AND t.diagnosis IS NULL AND t.remedy IS NULL
  AND NOT EXISTS (SELECT 1 FROM causes AS c WHERE c.transaction_id = t.id)
ORDER BY t.session_id, t.request_ts, t.id;
CREATE TEMP TABLE m5_record (session_id INTEGER PRIMARY KEY, replies TEXT);
INSERT INTO m5_record
SELECT session_id, '[' || group_concat(elem, ',') || ']' FROM m5_compact GROUP BY session_id;
UPDATE sessions SET replies = m.replies FROM m5_record AS m WHERE m.session_id = sessions.id;
DELETE FROM transactions WHERE id IN (SELECT id FROM m5_compact);
DROP TABLE m5_compact;
DROP TABLE m5_record;

CREATE INDEX latency_hist_minute ON latency_hist (minute);
CREATE INDEX sessions_t0 ON sessions (coalesce(start, syn), host, protocol, outbound,
				     client_is_host, outcome);
CREATE INDEX transactions_ts ON transactions (request_ts);
-- the summary counts sessions, DNS queries and probes of a window from these alone
DROP INDEX IF EXISTS dns_queries_ts;
CREATE INDEX dns_queries_ts ON dns_queries (ts, outcome, qtype);
DROP INDEX IF EXISTS ident_probes_ts;
CREATE INDEX ident_probes_ts ON ident_probes (ts, outcome);

CREATE VIEW compact_replies AS
SELECT id, run_id, session_id, command, argument,
       -- whole microseconds, then seconds + fraction (as the writer binds a time)
       req_us / 1000000 + (req_us % 1000000) / 1e6 AS request_ts,
       (req_us + lat_us) / 1000000 + ((req_us + lat_us) % 1000000) / 1e6 AS reply_ts,
       NULL AS end_ts, lat_us / 1000.0 AS latency_ms,
       reply_code, reply_text, 'ok' AS outcome, size, NULL AS diagnosis, NULL AS remedy, guess
FROM (SELECT json_extract(r.value, '$[0]') AS id, s.run_id, s.id AS session_id,
       json_extract(r.value, '$[1]') AS command, json_extract(r.value, '$[2]') AS argument,
       CAST(round(coalesce(s.syn, s.start) * 1e6) AS INTEGER) + json_extract(r.value, '$[3]')
	       AS req_us,
       json_extract(r.value, '$[4]') AS lat_us,
       json_extract(r.value, '$[5]') AS reply_code, json_extract(r.value, '$[8]') AS reply_text,
       json_extract(r.value, '$[6]') AS size, json_extract(r.value, '$[7]') AS guess
      FROM sessions AS s, json_each(s.replies) AS r
      WHERE s.replies IS NOT NULL);

CREATE VIEW replies AS
SELECT id, run_id, session_id, command, argument, request_ts, reply_ts, end_ts, latency_ms,
       reply_code, reply_text, outcome, size, diagnosis, remedy, guess
FROM transactions
UNION ALL
SELECT * FROM compact_replies;

DROP VIEW IF EXISTS slow_replies;
CREATE VIEW slow_replies AS
SELECT t.id AS transaction_id, t.session_id, t.run_id,
       s.protocol, s.client, s.client_port, s.server, s.server_port, s.outbound, s.host,
       t.command, t.argument, t.request_ts, t.reply_ts, t.end_ts, t.latency_ms,
       t.reply_code, t.reply_text, t.outcome, t.diagnosis, t.remedy, t.guess
FROM replies AS t
LEFT JOIN sessions AS s ON s.id = t.session_id
WHERE t.latency_ms IS NOT NULL;
