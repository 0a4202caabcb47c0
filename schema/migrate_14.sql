-- Version 13 -> 14: the answers of a DNS query once in names (issue 16).
--
-- A row of dns_rows named its answer list as text (answers); the writer
-- now puts the list into the dictionary names and the row holds its id
-- (answer): the answers of the workload's 238 937 queries are 7 280
-- distinct lists.  A TXT list stays in the row (mostly one of a kind: a
-- DNSBL's reason names the address asked about).  Older rows keep their
-- text, and the view reads whichever the row has; the triggers move a list
-- given by hand to names as the writer does.  Nothing is rewritten.
ALTER TABLE dns_rows ADD COLUMN answer INTEGER REFERENCES names (id);
DROP VIEW dns_queries;
CREATE VIEW dns_queries AS
SELECT q.id, q.run_id,
       q.ts_ns / 1000000000 + (q.ts_ns % 1000000000) / 1e9 AS ts,
       (SELECT addr FROM addrs WHERE id = q.client) AS client, q.client_port,
       (SELECT addr FROM addrs WHERE id = q.server) AS server, q.server_port,
       CASE q.tcp WHEN 0 THEN 'udp' ELSE 'tcp' END AS transport,
       q.txid, (SELECT name FROM names WHERE id = q.qname) AS qname, q.qtype,
       CASE q.outcome WHEN 0 THEN 'answered' WHEN 1 THEN 'nodata' WHEN 2 THEN 'nxdomain'
		      WHEN 3 THEN 'servfail' WHEN 4 THEN 'refused' WHEN 5 THEN 'truncated'
		      WHEN 6 THEN 'unanswered' WHEN 7 THEN 'other' WHEN 8 THEN 'no-query' END
	       AS outcome,
       q.rcode,
       CASE WHEN q.answer IS NULL THEN q.answers
	    ELSE (SELECT name FROM names WHERE id = q.answer) END AS answers,
       (coalesce(q.ts_ns, 0) + q.response_ns) / 1000000000
	       + ((coalesce(q.ts_ns, 0) + q.response_ns) % 1000000000) / 1e9 AS response_ts,
       (coalesce(q.ts_ns, 0) + q.resend_ns) / 1000000000
	       + ((coalesce(q.ts_ns, 0) + q.resend_ns) % 1000000000) / 1e9 AS last_send_ts,
       CASE WHEN q.ts_ns IS NULL OR q.outcome = 8 THEN NULL ELSE q.response_ns / 1e6 END
	       AS latency_ms,
       q.retransmits
FROM dns_rows AS q;

-- SQL written by hand may still insert, update and delete through the view.
-- A row inserted there has the id given or a new one (last_insert_rowid()
-- does not tell it: the insert is the trigger's); its response_ts is ts
-- plus latency_ms when both are given.
CREATE TRIGGER dns_queries_insert INSTEAD OF INSERT ON dns_queries
BEGIN
	INSERT INTO addrs (addr, last_minute)
	SELECT a, CAST(floor(NEW.ts / 60) * 60 AS INTEGER)
	FROM (SELECT NEW.client AS a UNION SELECT NEW.server) WHERE a IS NOT NULL
	ON CONFLICT (addr) DO UPDATE SET last_minute = excluded.last_minute
	WHERE excluded.last_minute > coalesce(last_minute, excluded.last_minute - 1);
	INSERT INTO names (name, last_minute)
	SELECT a, CAST(floor(NEW.ts / 60) * 60 AS INTEGER)
	FROM (SELECT NEW.qname AS a UNION SELECT NEW.answers WHERE NEW.qtype IS NOT 'TXT')
	WHERE a IS NOT NULL
	ON CONFLICT (name) DO UPDATE SET last_minute = excluded.last_minute
	WHERE excluded.last_minute > coalesce(last_minute, excluded.last_minute - 1);
	INSERT INTO dns_rows (id, run_id, ts_ns, client, client_port, server, server_port, tcp,
			      txid, qname, qtype, outcome, rcode, answer, response_ns, resend_ns,
			      retransmits, answers)
	SELECT NEW.id, NEW.run_id, t.ns, (SELECT id FROM addrs WHERE addr = NEW.client),
	       NEW.client_port, (SELECT id FROM addrs WHERE addr = NEW.server), NEW.server_port,
	       NEW.transport IS 'tcp', NEW.txid, (SELECT id FROM names WHERE name = NEW.qname),
	       NEW.qtype,
	       CASE NEW.outcome WHEN 'answered' THEN 0 WHEN 'nodata' THEN 1 WHEN 'nxdomain' THEN 2
				WHEN 'servfail' THEN 3 WHEN 'refused' THEN 4 WHEN 'truncated' THEN 5
				WHEN 'unanswered' THEN 6 WHEN 'other' THEN 7 WHEN 'no-query' THEN 8
	       END,
	       NEW.rcode,
	       (SELECT id FROM names WHERE name = NEW.answers AND NEW.qtype IS NOT 'TXT'),
	       CASE WHEN NEW.response_ts IS NULL AND NEW.latency_ms IS NULL THEN NULL
		    WHEN NEW.latency_ms IS NOT NULL AND t.ns IS NOT NULL
			 THEN CAST(round(NEW.latency_ms * 1e6) AS INTEGER)
		    ELSE CAST(NEW.response_ts AS INTEGER) * 1000000000
			 + CAST(round((NEW.response_ts - CAST(NEW.response_ts AS INTEGER)) * 1e9)
				AS INTEGER)
			 - coalesce(t.ns, 0) END,
	       CASE WHEN NEW.last_send_ts IS NULL THEN NULL
		    ELSE CAST(NEW.last_send_ts AS INTEGER) * 1000000000
			 + CAST(round((NEW.last_send_ts - CAST(NEW.last_send_ts AS INTEGER)) * 1e9)
				AS INTEGER)
			 - coalesce(t.ns, 0) END,
	       NEW.retransmits, CASE WHEN NEW.qtype IS 'TXT' THEN NEW.answers END
	FROM (SELECT CASE WHEN NEW.ts IS NULL THEN NULL
			  ELSE CAST(NEW.ts AS INTEGER) * 1000000000
			       + CAST(round((NEW.ts - CAST(NEW.ts AS INTEGER)) * 1e9) AS INTEGER)
		     END AS ns) AS t;
END;
CREATE TRIGGER dns_queries_update INSTEAD OF UPDATE ON dns_queries
BEGIN
	DELETE FROM dns_rows WHERE id = OLD.id;
	INSERT INTO dns_queries (id, run_id, ts, client, client_port, server, server_port, transport,
				 txid, qname, qtype, outcome, rcode, answers, response_ts,
				 last_send_ts, latency_ms, retransmits)
	VALUES (NEW.id, NEW.run_id, NEW.ts, NEW.client, NEW.client_port, NEW.server,
		NEW.server_port, NEW.transport, NEW.txid, NEW.qname, NEW.qtype, NEW.outcome,
		NEW.rcode, NEW.answers, NEW.response_ts, NEW.last_send_ts, NEW.latency_ms,
		NEW.retransmits);
END;
CREATE TRIGGER dns_queries_delete INSTEAD OF DELETE ON dns_queries
BEGIN
	DELETE FROM dns_rows WHERE id = OLD.id;
END;
