-- Version 14 -> 15: where in time the rows of dns_rows lie, by blocks of ids
-- instead of an index on their time (issue 16).
--
-- The index dns_rows_ts took 51 bytes a session on the 100k workload (a
-- fifth of an index entry per DNS query); the table dns_blocks takes one
-- row per 1,024 queries.  A query's id is given when it ends, so its rows
-- follow time closely, and a window reads the blocks it overlaps, then
-- their rows by id.  The blocks of the rows there are made here, once (one
-- pass over dns_rows); the view's insert trigger now keeps them too.
DROP INDEX IF EXISTS dns_rows_ts;
-- Where in time the rows of dns_rows lie (version 15, instead of an index
-- on their time): block blk holds the rows with ids blk * 1024 to
-- blk * 1024 + 1023, and ts_min_ns / ts_max_ns are the least and the
-- greatest ts_ns among them.  A query's id is given when it ends, so ids
-- follow time closely (an unanswered query's row comes when it is given
-- up, 30 s after its last send): a window on the time reads the few blocks
-- that overlap it, then their rows by id (STORE_DNS_WINDOW_SQL in
-- schema/store.h: report dns, the HTML page, a session's timeline, prune).
-- The writer and the view's insert trigger keep it; a block may span more
-- than its rows still do (a row deleted), never less.  A row with no ts_ns
-- is in no window and in no block.
CREATE TABLE dns_blocks (
	blk       INTEGER PRIMARY KEY,  -- id >> 10
	ts_min_ns INTEGER NOT NULL,
	ts_max_ns INTEGER NOT NULL
);
INSERT INTO dns_blocks (blk, ts_min_ns, ts_max_ns)
SELECT id >> 10, min(ts_ns), max(ts_ns) FROM dns_rows WHERE ts_ns IS NOT NULL GROUP BY id >> 10;
DROP TRIGGER dns_queries_insert;
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
	INSERT INTO dns_blocks (blk, ts_min_ns, ts_max_ns)
	SELECT id >> 10, ts_ns, ts_ns FROM dns_rows
	WHERE id = last_insert_rowid() AND ts_ns IS NOT NULL
	ON CONFLICT (blk) DO UPDATE SET ts_min_ns = min(ts_min_ns, excluded.ts_min_ns),
					ts_max_ns = max(ts_max_ns, excluded.ts_max_ns);
END;
