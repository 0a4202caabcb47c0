-- Version 3 -> 4: mail inside TLS (issue 18).  Encrypted exchanges are
-- transactions with command TLS-HELLO or TLS; guess is the command a TLS
-- exchange most likely was (GREETING, EHLO, MAIL, RCPT, DATA, DATA-END,
-- QUIT), NULL when there is no sound guess and for clear-text commands.
ALTER TABLE transactions ADD COLUMN guess TEXT;
DROP VIEW IF EXISTS slow_replies;
CREATE VIEW slow_replies AS
SELECT t.id AS transaction_id, t.session_id, t.run_id,
       s.protocol, s.client, s.client_port, s.server, s.server_port, s.outbound, s.host,
       t.command, t.argument, t.request_ts, t.reply_ts, t.end_ts, t.latency_ms,
       t.reply_code, t.reply_text, t.outcome, t.diagnosis, t.remedy, t.guess
FROM transactions AS t
LEFT JOIN sessions AS s ON s.id = t.session_id
WHERE t.latency_ms IS NOT NULL;
