-- Version 2 -> 3: the monitored host of each session (issue 12: several
-- mail hosts on one mirror port).
--
-- Before version 3 every session belonged to the one learned mail host: its
-- server, or its client for the host's own deliveries (outbound = 1).
ALTER TABLE sessions ADD COLUMN host TEXT;
ALTER TABLE sessions ADD COLUMN client_is_host INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET host = CASE WHEN outbound = 1 THEN client ELSE server END,
                    client_is_host = outbound;
DROP VIEW IF EXISTS slow_replies;
CREATE VIEW slow_replies AS
SELECT t.id AS transaction_id, t.session_id, t.run_id,
       s.protocol, s.client, s.client_port, s.server, s.server_port, s.outbound, s.host,
       t.command, t.argument, t.request_ts, t.reply_ts, t.end_ts, t.latency_ms,
       t.reply_code, t.reply_text, t.outcome, t.diagnosis, t.remedy
FROM transactions AS t
LEFT JOIN sessions AS s ON s.id = t.session_id
WHERE t.latency_ms IS NOT NULL;
DROP VIEW IF EXISTS ptr_delays;
CREATE VIEW ptr_delays AS
SELECT c.id AS cause_id, c.parent_id, c.relation, c.overlap_ms, c.share, c.query_ms,
       q.id AS dns_query_id, q.qname, q.server AS resolver, q.outcome AS dns_outcome,
       q.rcode, q.ts AS query_ts, q.latency_ms AS query_latency_ms, q.retransmits,
       t.id AS transaction_id, t.command, t.request_ts, t.latency_ms, t.reply_code,
       t.outcome, t.diagnosis, t.remedy,
       s.id AS session_id, s.protocol, s.client, s.client_port, s.server, s.server_port, s.host
FROM causes AS c
JOIN dns_queries AS q ON q.id = c.dns_query_id
JOIN transactions AS t ON t.id = c.transaction_id
LEFT JOIN sessions AS s ON s.id = t.session_id
WHERE c.kind = 'dns' AND q.qtype = 'PTR';
