-- Version 9 -> 10: DNS queries with dictionaries (issue 16).
--
-- Every address and query name is stored once, in addrs and names; the
-- rows (dns_rows) hold their ids, the vocabulary word of the outcome as a
-- number, and times as epoch nanoseconds (the response and the last
-- retransmission as nanoseconds after the query).  dns_queries becomes a
-- view with the columns it had.  A migrated query's times come from the
-- old REAL columns: ts and latency_ms read back as they were;
-- response_ts and last_send_ts are now ts plus the latency (or the offset
-- of the last retransmission), which can differ from the old column in
-- its last bit (a quarter of a microsecond).
CREATE TABLE addrs (
	id          INTEGER PRIMARY KEY,
	addr        TEXT NOT NULL UNIQUE,
	last_minute INTEGER
);
CREATE TABLE names (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	last_minute INTEGER
);
CREATE INDEX names_last ON names (last_minute);

INSERT INTO addrs (addr, last_minute)
SELECT a, max(m) FROM (SELECT client AS a, CAST(floor(ts / 60) * 60 AS INTEGER) AS m
		       FROM dns_queries
		       UNION ALL
		       SELECT server, CAST(floor(ts / 60) * 60 AS INTEGER) FROM dns_queries)
WHERE a IS NOT NULL GROUP BY a;
INSERT INTO names (name, last_minute)
SELECT qname, max(CAST(floor(ts / 60) * 60 AS INTEGER)) FROM dns_queries
WHERE qname IS NOT NULL GROUP BY qname;

CREATE TABLE dns_rows (
	id           INTEGER PRIMARY KEY,
	run_id       INTEGER REFERENCES runs (id),
	ts_ns        INTEGER,
	client       INTEGER REFERENCES addrs (id),
	client_port  INTEGER,
	server       INTEGER REFERENCES addrs (id),
	server_port  INTEGER,
	tcp          INTEGER NOT NULL DEFAULT 0,
	txid         INTEGER,
	qname        INTEGER REFERENCES names (id),
	qtype        TEXT,
	outcome      INTEGER,
	rcode        INTEGER,
	answers      TEXT,
	response_ns  INTEGER,
	resend_ns    INTEGER,
	retransmits  INTEGER
);

-- ns(x): epoch seconds (REAL) to nanoseconds, whole seconds kept exact
INSERT INTO dns_rows (id, run_id, ts_ns, client, client_port, server, server_port, tcp, txid,
		      qname, qtype, outcome, rcode, answers, response_ns, resend_ns, retransmits)
SELECT q.id, q.run_id, t.ns, ca.id, q.client_port, sa.id, q.server_port, q.transport IS 'tcp',
       q.txid, n.id, q.qtype,
       CASE q.outcome WHEN 'answered' THEN 0 WHEN 'nodata' THEN 1 WHEN 'nxdomain' THEN 2
		      WHEN 'servfail' THEN 3 WHEN 'refused' THEN 4 WHEN 'truncated' THEN 5
		      WHEN 'unanswered' THEN 6 WHEN 'other' THEN 7 WHEN 'no-query' THEN 8 END,
       q.rcode, q.answers,
       CASE WHEN q.response_ts IS NULL THEN NULL
	    WHEN q.latency_ms IS NOT NULL AND t.ns IS NOT NULL
		 THEN CAST(round(q.latency_ms * 1e6) AS INTEGER)
	    ELSE CAST(q.response_ts AS INTEGER) * 1000000000
		 + CAST(round((q.response_ts - CAST(q.response_ts AS INTEGER)) * 1e9) AS INTEGER)
		 - coalesce(t.ns, 0) END,
       CASE WHEN q.last_send_ts IS NULL THEN NULL
	    ELSE CAST(q.last_send_ts AS INTEGER) * 1000000000
		 + CAST(round((q.last_send_ts - CAST(q.last_send_ts AS INTEGER)) * 1e9) AS INTEGER)
		 - coalesce(t.ns, 0) END,
       q.retransmits
FROM dns_queries AS q
JOIN (SELECT id, CASE WHEN ts IS NULL THEN NULL
		      ELSE CAST(ts AS INTEGER) * 1000000000
			   + CAST(round((ts - CAST(ts AS INTEGER)) * 1e9) AS INTEGER) END AS ns
      FROM dns_queries) AS t ON t.id = q.id
LEFT JOIN addrs AS ca ON ca.addr = q.client
LEFT JOIN addrs AS sa ON sa.addr = q.server
LEFT JOIN names AS n ON n.name = q.qname;

DROP TABLE dns_queries;
CREATE INDEX dns_rows_ts ON dns_rows (ts_ns / 1000000000 + (ts_ns % 1000000000) / 1e9, outcome,
				      qtype);

-- DNS queries seen on the wire (the mail host's and its resolver's): a view
-- since version 10, with the columns and values the table had, over
-- dns_rows and the dictionaries (looked up in subqueries, not joined: a
-- view of one table is read like one, also as the right side of a LEFT
-- JOIN, where a view of a join would be read whole first).  ts: first transmission (no-query: the
-- response's time); transport udp | tcp; qname lower case, no trailing dot;
-- qtype PTR, A, AAAA, MX, ... or TYPEnnn; outcome answered | nodata |
-- nxdomain | servfail | refused | truncated | unanswered | other | no-query;
-- response_ts / last_send_ts: the response, the last retransmission;
-- latency_ms NULL when unanswered or no-query.
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
       q.rcode, q.answers,
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
	SELECT NEW.qname, CAST(floor(NEW.ts / 60) * 60 AS INTEGER) WHERE NEW.qname IS NOT NULL
	ON CONFLICT (name) DO UPDATE SET last_minute = excluded.last_minute
	WHERE excluded.last_minute > coalesce(last_minute, excluded.last_minute - 1);
	INSERT INTO dns_rows (id, run_id, ts_ns, client, client_port, server, server_port, tcp,
			      txid, qname, qtype, outcome, rcode, answers, response_ns, resend_ns,
			      retransmits)
	SELECT NEW.id, NEW.run_id, t.ns, (SELECT id FROM addrs WHERE addr = NEW.client),
	       NEW.client_port, (SELECT id FROM addrs WHERE addr = NEW.server), NEW.server_port,
	       NEW.transport IS 'tcp', NEW.txid, (SELECT id FROM names WHERE name = NEW.qname),
	       NEW.qtype,
	       CASE NEW.outcome WHEN 'answered' THEN 0 WHEN 'nodata' THEN 1 WHEN 'nxdomain' THEN 2
				WHEN 'servfail' THEN 3 WHEN 'refused' THEN 4 WHEN 'truncated' THEN 5
				WHEN 'unanswered' THEN 6 WHEN 'other' THEN 7 WHEN 'no-query' THEN 8
	       END,
	       NEW.rcode, NEW.answers,
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
	       NEW.retransmits
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
