-- Version 17 -> 18: smaller records, one index fewer per session and a
-- number for the DNS query type (issue 16).
--
-- sessions.replies: a head alone may now carry a tail (schema/compact.h):
-- its first number is 64 + command, its latency always two characters, and
-- after its six characters come a MAIL's or RCPT's local part, a
-- DATA-END's size, or any other command's argument, instead of an array
-- ["head", argument (, 0, size)].  Records before 18 have no such head and
-- read back as before; only the view changes.
--
-- session_blocks replaces the index sessions_t0: where in time each block
-- of 1,024 session ids lies (as dns_blocks does for DNS rows since 15); the
-- reports read a window's sessions through it.  sessions_out keeps the
-- hosts' own deliveries by time.  The view's insert trigger keeps the
-- blocks.  names_last goes: only prune read it, and it reads names whole.
--
-- dns_rows.qtype: the writer stores the type's number, which qtype_words
-- turns back into its word in the view dns_queries.  The rows stored
-- before keep their word; the column keeps its TEXT affinity here (a new
-- number is stored as its digits, which the view reads as the number).
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
-- each the code point minus 32.  A head alone whose first code point is 96
-- or more (version 18) holds 64 + command, the latency in two characters,
-- then its tail: a MAIL's (99) or RCPT's (100) local part, a DATA-END's
-- (102) size, any other command's argument.
FROM (SELECT CASE WHEN base IS NULL
		  THEN CASE k WHEN 0 THEN json_extract(v, '$[0]')
			    ELSE first_id + json_extract(v, '$[0]') END
		  ELSE base + CASE WHEN t = 'text' THEN unicode(substr(a, 2, 1)) - 32
				   WHEN h IS NULL THEN json_extract(v, '$[0]')
				   ELSE unicode(substr(h, 2, 1)) - 32 END END AS id,
	     run_id, session_id, protocol, helo, sender_domain, rcpt_domains,
	     CASE WHEN t = 'text' THEN CASE WHEN unicode(a) < 96 THEN (unicode(a) - 32) >> 1
					    ELSE unicode(a) - 96 END
		  WHEN h IS NULL THEN json_extract(v, '$[1]')
		  ELSE (unicode(h) - 32) >> 1 END AS cmd,
	     CASE WHEN t = 'text' THEN CASE WHEN unicode(a) < 96 THEN (unicode(a) - 32) & 1
					    WHEN unicode(a) = 102 THEN 0 ELSE substr(a, 7) END
		  WHEN h IS NULL THEN json_extract(v, '$[2]')
		  ELSE json_extract(v, '$[1]') END AS arg,
	     CASE WHEN t = 'text' THEN CASE WHEN unicode(a) IN (99, 100) THEN 'array' END
		  WHEN h IS NULL THEN json_type(v, '$[2]')
		  ELSE json_type(v, '$[1]') END AS atype,
	     CASE WHEN t = 'text' THEN substr(a, 7)
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
	     CASE WHEN t = 'text' THEN CASE WHEN unicode(a) = 102 THEN CAST(substr(a, 7) AS INTEGER) END
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

DROP INDEX IF EXISTS names_last;

CREATE TABLE session_blocks (
	blk   INTEGER PRIMARY KEY,  -- id >> 10
	t_min REAL NOT NULL,
	t_max REAL NOT NULL
);
INSERT INTO session_blocks (blk, t_min, t_max)
SELECT id >> 10, min(coalesce(start, syn)), max(coalesce(start, syn)) FROM session_rows
WHERE coalesce(start, syn) IS NOT NULL GROUP BY id >> 10;
DROP INDEX IF EXISTS sessions_t0;
CREATE INDEX sessions_out ON session_rows (coalesce(start, syn))
	WHERE outbound = 1 OR client_is_host = 1;

DROP TRIGGER sessions_insert;
CREATE TRIGGER sessions_insert INSTEAD OF INSERT ON sessions
BEGIN
	INSERT INTO addrs (addr, last_minute)
	SELECT a, CAST(floor(coalesce(NEW.start, NEW.syn) / 60) * 60 AS INTEGER)
	FROM (SELECT NEW.client AS a UNION SELECT NEW.server UNION SELECT NEW.host
	      UNION SELECT NEW.bounce_origin) WHERE a IS NOT NULL
	ON CONFLICT (addr) DO UPDATE SET last_minute = excluded.last_minute
	WHERE excluded.last_minute > coalesce(last_minute, excluded.last_minute - 1);
	INSERT INTO names (name, last_minute)
	SELECT a, CAST(floor(coalesce(NEW.start, NEW.syn) / 60) * 60 AS INTEGER)
	FROM (SELECT NEW.app AS a UNION SELECT NEW.banner_host UNION SELECT NEW.helo
	      UNION SELECT NEW.sender_domain UNION SELECT NEW.rcpt_domains
	      UNION SELECT NEW.bounce_domain) WHERE a IS NOT NULL
	ON CONFLICT (name) DO UPDATE SET last_minute = excluded.last_minute
	WHERE excluded.last_minute > coalesce(last_minute, excluded.last_minute - 1);
	INSERT INTO session_rows (id, run_id, protocol, client, client_port, server, server_port,
				  syn, start, "end", outcome, tls, outbound, app, banner_host, helo,
				  sender_domain, rcpt_domains, bytes, messages, complete, host,
				  client_is_host, replies, software, max_message, null_sender,
				  bounce_domain, bounce_origin, bounce_session_id)
	VALUES (NEW.id, NEW.run_id,
		CASE NEW.protocol WHEN 'smtp' THEN 1 WHEN 'pop3' THEN 2 WHEN 'unknown' THEN 0 END,
		(SELECT id FROM addrs WHERE addr = NEW.client), NEW.client_port,
		(SELECT id FROM addrs WHERE addr = NEW.server), NEW.server_port,
		NEW.syn, NEW.start, NEW."end",
		CASE NEW.outcome WHEN 'ok' THEN 0 WHEN 'client-abort' THEN 1
				 WHEN 'server-close' THEN 2 WHEN 'incomplete' THEN 3
				 WHEN 'unanswered' THEN 4 WHEN 'refused' THEN 5
				 WHEN 'tls-unanswered' THEN 6 WHEN 'tls-alert' THEN 7
				 WHEN 'tls-failed' THEN 8 WHEN 'client-half-close' THEN 9
				 WHEN 'cut' THEN 10 END,
		coalesce(NEW.tls, 0), coalesce(NEW.outbound, 0),
		(SELECT id FROM names WHERE name = NEW.app),
		(SELECT id FROM names WHERE name = NEW.banner_host),
		(SELECT id FROM names WHERE name = NEW.helo),
		(SELECT id FROM names WHERE name = NEW.sender_domain),
		(SELECT id FROM names WHERE name = NEW.rcpt_domains),
		NEW.bytes, NEW.messages, coalesce(NEW.complete, 0),
		(SELECT id FROM addrs WHERE addr = NEW.host), coalesce(NEW.client_is_host, 0),
		NEW.replies,
		CASE NEW.software WHEN 'unknown' THEN 1 WHEN 'exim' THEN 2 WHEN 'postfix' THEN 3
				  WHEN 'sendmail' THEN 4 WHEN 'dovecot' THEN 5 WHEN 'exchange' THEN 6
		END,
		NEW.max_message, coalesce(NEW.null_sender, 0),
		(SELECT id FROM names WHERE name = NEW.bounce_domain),
		(SELECT id FROM addrs WHERE addr = NEW.bounce_origin), NEW.bounce_session_id);
	INSERT INTO session_blocks (blk, t_min, t_max)
	SELECT id >> 10, coalesce(start, syn), coalesce(start, syn) FROM session_rows
	WHERE id = last_insert_rowid() AND coalesce(start, syn) IS NOT NULL
	ON CONFLICT (blk) DO UPDATE SET t_min = min(t_min, excluded.t_min),
					t_max = max(t_max, excluded.t_max);
END;

CREATE TABLE qtype_words (
	code INTEGER PRIMARY KEY,
	word TEXT NOT NULL UNIQUE
);
INSERT INTO qtype_words (code, word) VALUES
	(1, 'A'), (2, 'NS'), (5, 'CNAME'), (6, 'SOA'), (12, 'PTR'), (13, 'HINFO'),
	(15, 'MX'), (16, 'TXT'), (17, 'RP'), (18, 'AFSDB'), (24, 'SIG'), (25, 'KEY'),
	(28, 'AAAA'), (29, 'LOC'), (33, 'SRV'), (35, 'NAPTR'), (36, 'KX'), (37, 'CERT'),
	(39, 'DNAME'), (41, 'OPT'), (42, 'APL'), (43, 'DS'), (44, 'SSHFP'),
	(45, 'IPSECKEY'), (46, 'RRSIG'), (47, 'NSEC'), (48, 'DNSKEY'), (49, 'DHCID'),
	(50, 'NSEC3'), (51, 'NSEC3PARAM'), (52, 'TLSA'), (53, 'SMIMEA'), (55, 'HIP'),
	(59, 'CDS'), (60, 'CDNSKEY'), (61, 'OPENPGPKEY'), (62, 'CSYNC'), (63, 'ZONEMD'),
	(64, 'SVCB'), (65, 'HTTPS'), (99, 'SPF'), (249, 'TKEY'), (250, 'TSIG'),
	(251, 'IXFR'), (252, 'AXFR'), (255, 'ANY'), (256, 'URI'), (257, 'CAA');
DROP VIEW dns_queries;
CREATE VIEW dns_queries AS
SELECT q.id, q.run_id,
       q.ts_ns / 1000000000 + (q.ts_ns % 1000000000) / 1e9 AS ts,
       (SELECT addr FROM addrs WHERE id = q.client) AS client, q.client_port,
       (SELECT addr FROM addrs WHERE id = q.server) AS server, q.server_port,
       CASE q.tcp WHEN 0 THEN 'udp' ELSE 'tcp' END AS transport,
       q.txid, (SELECT name FROM names WHERE id = q.qname) AS qname,
       -- a number (version 18; a text of digits in a table made before) or the word
       CASE WHEN typeof(q.qtype) = 'integer' OR q.qtype GLOB '[0-9]*'
	    THEN coalesce((SELECT word FROM qtype_words WHERE code = q.qtype), 'TYPE' || q.qtype)
	    ELSE q.qtype END AS qtype,
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
-- (its triggers went with it)
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
	       coalesce((SELECT code FROM qtype_words WHERE word = NEW.qtype), NEW.qtype),
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
