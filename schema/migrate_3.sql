-- Version 2 -> 3: the monitored host of each session (issue 12: several
-- mail hosts on one mirror port).
--
-- Before version 3 every session belonged to the one learned mail host: its
-- server, or its client for the host's own deliveries (outbound = 1).
ALTER TABLE sessions ADD COLUMN host TEXT;
ALTER TABLE sessions ADD COLUMN client_is_host INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET host = CASE WHEN outbound = 1 THEN client ELSE server END;
DROP VIEW IF EXISTS slow_replies;
CREATE VIEW slow_replies AS
SELECT t.id AS transaction_id, t.session_id, t.run_id,
       s.protocol, s.client, s.client_port, s.server, s.server_port, s.outbound, s.host,
       t.command, t.argument, t.request_ts, t.reply_ts, t.end_ts, t.latency_ms,
       t.reply_code, t.reply_text, t.outcome, t.diagnosis, t.remedy
FROM transactions AS t
LEFT JOIN sessions AS s ON s.id = t.session_id
WHERE t.latency_ms IS NOT NULL;
