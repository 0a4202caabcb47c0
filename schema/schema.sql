-- mxlag database schema, version 12.
--
-- Applied as a whole to an empty database.  A database at an older version
-- is brought forward by schema/migrate_N.sql (N = 2, 3, ...: each step takes
-- version N-1 to N); a newer database is refused.  Keep this file equal to
-- "version 1 + every migrate_N.sql" whenever a step is added.
--
-- Conventions: times are Unix epoch seconds (REAL, UTC), durations are
-- milliseconds (REAL), addresses are text (inet_ntop form), and text columns
-- hold the vocabulary words of DESIGN.md ('smtp', 'client-ptr', 'unanswered',
-- ...).  NULL means "not seen / not applicable".  Row ids are unique across
-- runs: each run's events are offset past the ids already stored.

-- One row per `mxlag analyze` / `mxlag capture` run.
CREATE TABLE runs (
	id           INTEGER PRIMARY KEY,
	source       TEXT NOT NULL,      -- capture file names, or the interface
	fingerprint  TEXT,               -- of the capture files; NULL for live runs
	started      REAL NOT NULL,      -- wall clock when the run began
	finished     REAL,               -- wall clock when it ended; NULL = running or died
	first_ts     REAL,               -- packet time of the first packet
	last_ts      REAL,               -- packet time of the last packet
	packets      INTEGER,
	bytes        INTEGER,
	kernel_drops INTEGER,            -- NULL when unknown (offline)
	counters     TEXT,               -- JSON object {"counter.name": value, ...}
	notable_ms   REAL,               -- version 5: see below
	txn_ids      INTEGER,            -- version 5: see below
	big_bytes    INTEGER             -- version 8: a message this big (bytes) is a big message
);
-- runs.notable_ms: replies this slow (and every failed, cut or unanswered
-- one) are rows of transactions, the others are in sessions.replies (0 or
-- NULL: every reply is a row).  runs.txn_ids: the largest transaction id of
-- the run, rows and compact replies alike.
-- Refuses a second analysis of the same capture files.
CREATE UNIQUE INDEX runs_fingerprint ON runs (fingerprint) WHERE fingerprint IS NOT NULL;

-- Dictionaries (version 10; sessions since version 12): every address and
-- name is stored once and the rows hold its id.  last_minute: the latest minute (epoch seconds of
-- packet time, a multiple of 60) a row used the entry, kept up to date
-- within an hour; prune drops the entries not used since an hour before
-- its cutoff that no kept row names (reading the whole table: no index on
-- last_minute since version 18).
CREATE TABLE addrs (
	id          INTEGER PRIMARY KEY,
	addr        TEXT NOT NULL UNIQUE,  -- inet_ntop form
	last_minute INTEGER
);
CREATE TABLE names (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,  -- a DNS name (lower case, no trailing dot), a helo,
	                                   -- a domain list, a classification
	last_minute INTEGER
);

-- The rows of the view sessions (version 12; sessions was this table
-- before, with text columns): addresses and names as ids into the
-- dictionaries, protocol, outcome and software as the numbers of their
-- words in the view's lists.
CREATE TABLE session_rows (
	id            INTEGER PRIMARY KEY,
	run_id        INTEGER REFERENCES runs (id),
	protocol      INTEGER,           -- 0 unknown, 1 smtp, 2 pop3
	client        INTEGER REFERENCES addrs (id),
	client_port   INTEGER,
	server        INTEGER REFERENCES addrs (id),
	server_port   INTEGER,
	syn           REAL,
	start         REAL,
	"end"         REAL,
	outcome       INTEGER,           -- 0 ok ... 10 cut (the view's CASE); NULL while open
	tls           INTEGER NOT NULL DEFAULT 0,
	outbound      INTEGER NOT NULL DEFAULT 0,
	app           INTEGER REFERENCES names (id),
	banner_host   INTEGER REFERENCES names (id),
	helo          INTEGER REFERENCES names (id),
	sender_domain INTEGER REFERENCES names (id),
	rcpt_domains  INTEGER REFERENCES names (id),
	bytes         INTEGER,
	messages      INTEGER,
	complete      INTEGER NOT NULL DEFAULT 0,
	host          INTEGER REFERENCES addrs (id),
	client_is_host INTEGER NOT NULL DEFAULT 0,
	replies       TEXT,
	software      INTEGER,           -- 1 unknown, 2 exim ... 6 exchange (the view's CASE)
	max_message   INTEGER,
	null_sender   INTEGER NOT NULL DEFAULT 0,
	bounce_domain INTEGER REFERENCES names (id),
	bounce_origin INTEGER REFERENCES addrs (id),
	bounce_session_id INTEGER
);

-- SMTP/POP3 connections: a view since version 12, with the columns and
-- values the table had, over session_rows and the dictionaries (looked up
-- in subqueries, as dns_queries does).  host is the monitored mail host the
-- session belongs to: its server, or its client when outbound = 1 (one of
-- the host's own deliveries); NULL when neither end is a monitored host.
-- client_is_host = 1: the client is a monitored host; with outbound = 0 the
-- session is a delivery between two monitored hosts (host = the server): the
-- server's inbound session and the client's outbound delivery.
-- Columns: protocol smtp | pop3; syn: the client's first SYN; start: the
-- handshake end (or first packet seen); outcome ok | client-abort |
-- server-close | incomplete | unanswered | refused | tls-unanswered |
-- tls-alert | tls-failed (inside TLS) | client-half-close, NULL while open;
-- app: how the flow was classified (port, ndpi:SMTP, ...); rcpt_domains
-- comma-separated; bytes: message bytes (DATA/BDAT, RETR/TOP); complete: 0
-- while the session is still open; host, client_is_host (version 3);
-- replies (version 5), software (version 6): see below; max_message
-- (version 8, issue 17): the session's largest message (bytes): DATA, BDAT
-- chunks to LAST, RETR, NULL = none; null_sender: MAIL FROM:<> (a bounce or
-- other DSN); bounce_domain, bounce_origin, bounce_session_id: see below.
CREATE VIEW sessions AS
SELECT r.id, r.run_id,
       CASE r.protocol WHEN 1 THEN 'smtp' WHEN 2 THEN 'pop3' WHEN 0 THEN 'unknown' END
	       AS protocol,
       (SELECT addr FROM addrs WHERE id = r.client) AS client, r.client_port,
       (SELECT addr FROM addrs WHERE id = r.server) AS server, r.server_port,
       r.syn, r.start, r."end",
       CASE r.outcome WHEN 0 THEN 'ok' WHEN 1 THEN 'client-abort' WHEN 2 THEN 'server-close'
		      WHEN 3 THEN 'incomplete' WHEN 4 THEN 'unanswered' WHEN 5 THEN 'refused'
		      WHEN 6 THEN 'tls-unanswered' WHEN 7 THEN 'tls-alert' WHEN 8 THEN 'tls-failed'
		      WHEN 9 THEN 'client-half-close' WHEN 10 THEN 'cut' END AS outcome,
       r.tls, r.outbound,
       (SELECT name FROM names WHERE id = r.app) AS app,
       (SELECT name FROM names WHERE id = r.banner_host) AS banner_host,
       (SELECT name FROM names WHERE id = r.helo) AS helo,
       (SELECT name FROM names WHERE id = r.sender_domain) AS sender_domain,
       (SELECT name FROM names WHERE id = r.rcpt_domains) AS rcpt_domains,
       r.bytes, r.messages, r.complete,
       (SELECT addr FROM addrs WHERE id = r.host) AS host, r.client_is_host, r.replies,
       CASE r.software WHEN 1 THEN 'unknown' WHEN 2 THEN 'exim' WHEN 3 THEN 'postfix'
		       WHEN 4 THEN 'sendmail' WHEN 5 THEN 'dovecot' WHEN 6 THEN 'exchange' END
	       AS software,
       r.max_message, r.null_sender,
       (SELECT name FROM names WHERE id = r.bounce_domain) AS bounce_domain,
       (SELECT addr FROM addrs WHERE id = r.bounce_origin) AS bounce_origin,
       r.bounce_session_id
FROM session_rows AS r;

-- SQL written by hand may still insert, update and delete through the view
-- (a word outside the view's lists is stored as NULL).
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
CREATE TRIGGER sessions_update INSTEAD OF UPDATE ON sessions
BEGIN
	DELETE FROM session_rows WHERE id = OLD.id;
	INSERT INTO sessions (id, run_id, protocol, client, client_port, server, server_port, syn,
			      start, "end", outcome, tls, outbound, app, banner_host, helo,
			      sender_domain, rcpt_domains, bytes, messages, complete, host,
			      client_is_host, replies, software, max_message, null_sender,
			      bounce_domain, bounce_origin, bounce_session_id)
	VALUES (NEW.id, NEW.run_id, NEW.protocol, NEW.client, NEW.client_port, NEW.server,
		NEW.server_port, NEW.syn, NEW.start, NEW."end", NEW.outcome, NEW.tls, NEW.outbound,
		NEW.app, NEW.banner_host, NEW.helo, NEW.sender_domain, NEW.rcpt_domains, NEW.bytes,
		NEW.messages, NEW.complete, NEW.host, NEW.client_is_host, NEW.replies, NEW.software,
		NEW.max_message, NEW.null_sender, NEW.bounce_domain, NEW.bounce_origin,
		NEW.bounce_session_id);
END;
CREATE TRIGGER sessions_delete INSTEAD OF DELETE ON sessions
BEGIN
	DELETE FROM session_rows WHERE id = OLD.id;
END;
-- sessions.replies: the session's ordinary replies, a JSON array (version 17)
-- of the id base B (the first compact reply's transaction id), then per reply
-- a packed head (a string of 5 or 6 characters, each a number: its code
-- point minus 32; since version 18 a head alone may carry a tail after six
-- characters: a MAIL or RCPT local part, a DATA-END size, an argument), alone or as
-- [head, argument (, reply_code (, size (, guess (, reply_text))))], or (what
-- a head cannot hold) [id - B, command, argument, request_us, latency_us
-- (, reply_code ...)]: see schema/compact.h.  Before version 17 every element
-- was [id, command, argument, request_us, latency_us, reply_code (, size
-- (, guess (, reply_text)))] (the encoding of version 11): id: the first
-- element's transaction id, the others' minus that one; command, guess: the number of
-- the word in command_words, or the text of a word not there; argument:
-- text, 1 for the session's helo, 0 (version 13; null before) for none, or
-- for MAIL and RCPT (version 13)
-- ["local"] or ["local", "rest"]: "FROM:<local@SENDER>rest" (MAIL, SENDER
-- the session's sender_domain) or "TO:<local@RCPT>rest" (RCPT, RCPT the
-- first of its rcpt_domains); request_us from coalesce(syn, start),
-- latency_us to the reply's first byte; reply_code: three digits as a
-- number, other codes as text; trailing NULLs left out; reply_text only for
-- a reply without a code (inside TLS); expanded by the view compact_replies.
-- sessions.bounce_domain (version 8): an outbound delivery (or attempt) of
-- the host that is a bounce: it went to a mail server of a domain that was
-- the envelope sender domain of recent inbound mail of the host (the
-- domain), or it has the null sender and goes to such a domain.
-- bounce_origin: the client address of that inbound mail (its latest
-- session with that sender domain), bounce_session_id that session.
-- Where in time the rows of session_rows lie (version 18, instead of the
-- index sessions_t0 on their time): block blk holds the rows with ids
-- blk * 1024 to blk * 1024 + 1023, and t_min / t_max are the least and the
-- greatest coalesce(start, syn) among them.  A session's id is given when
-- it starts, so ids follow time: a window on the time reads the few blocks
-- that overlap it, then their rows by id (STORE_SESSION_WINDOW_SQL in
-- schema/store.h: the reports, prune).  The writer and the view's insert
-- trigger keep it; a block may span more than its rows still do, never
-- less.  A row with neither start nor syn is in no window and no block.
CREATE TABLE session_blocks (
	blk   INTEGER PRIMARY KEY,  -- id >> 10
	t_min REAL NOT NULL,
	t_max REAL NOT NULL
);
-- version 18: the hosts' own deliveries by time (report outbound, congestion)
CREATE INDEX sessions_out ON session_rows (coalesce(start, syn))
	WHERE outbound = 1 OR client_is_host = 1;

-- One command and its reply (GREETING: connect to greeting): since version
-- 5 only the notable ones (see runs.notable_ms); every reply is in the view
-- replies.
CREATE TABLE transactions (
	id          INTEGER PRIMARY KEY,
	run_id      INTEGER REFERENCES runs (id),
	session_id  INTEGER REFERENCES sessions (id),
	command     TEXT,                -- GREETING, EHLO, MAIL, ..., USER, PASS, ...;
	                                 -- TLS-HELLO, TLS (encrypted exchanges)
	argument    TEXT,                -- secrets replaced by ***
	request_ts  REAL,
	reply_ts    REAL,                -- first byte of the reply; NULL = none
	end_ts      REAL,                -- no reply: when the wait ended
	latency_ms  REAL,                -- reply_ts - request_ts, or the time waited for no reply
	reply_code  TEXT,                -- 250, +OK, -ERR, ...
	reply_text  TEXT,
	outcome     TEXT,                -- ok | client-abort | server-close | incomplete
	size        INTEGER,             -- message bytes (DATA-END, BDAT, RETR, TOP)
	diagnosis   TEXT,
	remedy      TEXT,
	guess       TEXT                 -- TLS: the command it most likely was (version 4)
);
-- transactions.remedy: the remedy of each of its causes once (causes.remedy),
-- numbered "(1) ...; (2) ..." when there are several (since version 6).
CREATE INDEX transactions_latency ON transactions (latency_ms);
CREATE INDEX transactions_session ON transactions (session_id, request_ts);
CREATE INDEX transactions_ts ON transactions (request_ts);

-- Latency histograms (version 5): every reply counted once, by the minute
-- of its request, its run, the session's monitored host, protocol and
-- direction, its command and guess.  bins: a JSON array of (bin, count)
-- pairs, flat, in bin order: bin 0 holds latencies up to 1 us, bin i >= 1
-- those in (0.001 * g^(i-1), 0.001 * g^i] ms with g = 1.01 / 0.99 (1 %
-- relative error; schema/hist.h).  One group can have several rows (a reply
-- that came after its minute was written): readers add them up.
CREATE TABLE latency_hist (
	minute      INTEGER NOT NULL,    -- epoch seconds, a multiple of 60
	run_id      INTEGER REFERENCES runs (id),
	host        TEXT,
	protocol    TEXT,
	outbound    INTEGER NOT NULL DEFAULT 0,
	command     TEXT,
	guess       TEXT,
	replies     INTEGER NOT NULL,    -- replies and waits counted
	n           INTEGER NOT NULL,    -- of them with a latency (in the bins)
	min_ms      REAL,
	max_ms      REAL,
	sum_ms      REAL,
	bins        TEXT NOT NULL
);
CREATE INDEX latency_hist_minute ON latency_hist (minute);

-- The rows of the view dns_queries (version 10; dns_queries was this table
-- before, with text and REAL columns).  Times are epoch nanoseconds, the
-- response and the last transmission nanoseconds after ts_ns (ts_ns NULL:
-- time unknown, they are then epoch nanoseconds); outcome is the word's
-- number in the list of the view below.
CREATE TABLE dns_rows (
	id           INTEGER PRIMARY KEY,
	run_id       INTEGER REFERENCES runs (id),
	ts_ns        INTEGER,            -- first transmission (no-query: the response's time)
	client       INTEGER REFERENCES addrs (id),
	client_port  INTEGER,
	server       INTEGER REFERENCES addrs (id), -- the resolver or authoritative server asked
	server_port  INTEGER,
	tcp          INTEGER NOT NULL DEFAULT 0,
	txid         INTEGER,
	qname        INTEGER REFERENCES names (id),
	qtype        INTEGER,            -- the type's number (qtype_words; version 18),
	                                 -- its word (PTR, A, ... or TYPEnnn) before
	outcome      INTEGER,            -- 0 answered ... 8 no-query (the view's CASE)
	rcode        INTEGER,
	answers      TEXT,               -- before version 14 (since: answer), and TXT lists
	response_ns  INTEGER,            -- NULL = no response
	resend_ns    INTEGER,            -- the last transmission (0: the first was the last)
	retransmits  INTEGER,
	answer       INTEGER REFERENCES names (id) -- version 14: the answers, once in names
);
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

-- The DNS query types by number (version 18): dns_rows.qtype holds the
-- number, the view dns_queries the word (mx_qtype_str() in analyze/event.c
-- has the same list; a number not in it reads as TYPEnnn).
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

-- DNS queries seen on the wire (the mail host's and its resolver's): a view
-- since version 10, with the columns and values the table had, over
-- dns_rows and the dictionaries (looked up in subqueries, not joined: a
-- view of one table is read like one, also as the right side of a LEFT
-- JOIN, where a view of a join would be read whole first).  ts: first transmission (no-query: the
-- response's time); transport udp | tcp; qname lower case, no trailing dot;
-- qtype PTR, A, AAAA, MX, ... or TYPEnnn; outcome answered | nodata |
-- nxdomain | servfail | refused | truncated | unanswered | other | no-query;
-- response_ts / last_send_ts: the response, the last retransmission;
-- latency_ms NULL when unanswered or no-query; answers: the answer list,
-- once in names since version 14 (answer), in the row before and for TXT
-- (answers: such a list is mostly one of a kind).
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

-- ident (RFC 1413, TCP 113) probes from the mail host.
CREATE TABLE ident_probes (
	id              INTEGER PRIMARY KEY,
	run_id          INTEGER REFERENCES runs (id),
	ts              REAL,            -- first SYN
	host            TEXT,            -- the prober (mail host)
	host_port       INTEGER,
	peer            TEXT,            -- the probed address (port 113)
	peer_port       INTEGER,
	outcome         TEXT,            -- answered | refused | unanswered
	end_ts          REAL,            -- reply / RST / last SYN
	latency_ms      REAL,            -- NULL when unanswered
	syn_retransmits INTEGER,
	response        TEXT
);
CREATE INDEX ident_probes_ts ON ident_probes (ts, outcome);

-- Per-minute counts (version 7): complete sessions by the minute of
-- coalesce(start, syn), DNS queries by the minute of ts, one row per group
-- and minute, added to in the same transaction as the rows (schema/counts.h).
-- Reports take their totals from here; sessions still open (complete = 0)
-- are counted from their rows (index sessions_open).
CREATE TABLE session_counts (
	minute         INTEGER NOT NULL,
	run_id         INTEGER REFERENCES runs (id),
	host           TEXT,
	protocol       TEXT NOT NULL,
	outbound       INTEGER NOT NULL DEFAULT 0,
	client_is_host INTEGER NOT NULL DEFAULT 0,
	outcome        TEXT NOT NULL,
	n              INTEGER NOT NULL
);
CREATE UNIQUE INDEX session_counts_key ON session_counts (minute, run_id, coalesce(host, ''),
							   protocol, outbound, client_is_host, outcome);
CREATE TABLE dns_counts (
	minute   INTEGER NOT NULL,
	run_id   INTEGER REFERENCES runs (id),
	server   TEXT,
	qtype    TEXT NOT NULL,
	outcome  TEXT NOT NULL,
	n        INTEGER NOT NULL
);
CREATE UNIQUE INDEX dns_counts_key ON dns_counts (minute, run_id, coalesce(server, ''), qtype,
						   outcome);
CREATE INDEX sessions_open ON session_rows (coalesce(start, syn)) WHERE complete = 0;
-- version 8: the few sessions with a message of 1 MB or more, and the
-- bounces, by time (report outbound, incidents)
CREATE INDEX sessions_big ON session_rows (coalesce(start, syn)) WHERE max_message >= 1000000;
CREATE INDEX sessions_bounce ON session_rows (coalesce(start, syn))
	WHERE null_sender = 1 OR bounce_domain IS NOT NULL;

-- Packet anchors (version 9): the duplicate guard by content (DESIGN.md,
-- "Duplicate guard"; capture/anchor.h).  A few packets of each run: the
-- first of every input file and one in 256 on average, chosen by hash.  An
-- offline run that reads a packet with the hash of a stored anchor has read
-- a packet an earlier run stored, and is refused (exit 3).  Pruned by
-- minute like the per-minute tables: a span pruned away no longer guards.
CREATE TABLE anchors (
	hash    INTEGER NOT NULL,  -- anchor_hash() of the packet (64 bits, stored signed)
	run_id  INTEGER REFERENCES runs (id),
	minute  INTEGER NOT NULL   -- epoch seconds of the packet, a multiple of 60
);
CREATE INDEX anchors_minute ON anchors (minute);

-- Why a slow reply was slow: the correlator's links.
CREATE TABLE causes (
	id             INTEGER PRIMARY KEY,
	run_id         INTEGER REFERENCES runs (id),
	transaction_id INTEGER REFERENCES transactions (id),
	kind           TEXT NOT NULL,    -- dns | ident | none | big-message (version 8)
	relation       TEXT,             -- client-ptr, self-ptr, ..., upstream, ident; NULL for none
	dns_query_id   INTEGER REFERENCES dns_queries (id),
	ident_probe_id INTEGER REFERENCES ident_probes (id),
	parent_id      INTEGER REFERENCES causes (id),  -- upstream causes: their dns cause
	overlap_ms     REAL,
	share          REAL,             -- overlap_ms / the wait, 0..1
	query_ms       REAL,             -- how long the query/probe was outstanding as this
	                                 -- wait saw it (latency, or until the wait ended)
	remedy         TEXT,             -- version 6: this cause's own remedy, for the session's
	                                 -- server software (NULL for upstream hops: see their
	                                 -- dns cause); transactions.remedy combines them
	session_ref    INTEGER REFERENCES sessions (id) -- version 8, kind big-message: the
	                                 -- session whose big message overlapped the wait
);
CREATE INDEX causes_transaction ON causes (transaction_id);
CREATE INDEX causes_parent ON causes (parent_id);
CREATE INDEX causes_dns ON causes (dns_query_id);
-- version 8: the slow replies a big message was named the cause of
CREATE INDEX causes_session_ref ON causes (session_ref) WHERE session_ref IS NOT NULL;

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
-- the encoding of version 11, MAIL and RCPT arguments of version 13, the
-- usual reply code left out since version 16: a record without its sixth
-- element, or with 0 there, has its command's usual code in the session's
-- protocol, the table of compact_usual_code() in schema/compact.c; packed
-- heads since version 17, heads with a tail since 18, schema/compact.h).
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

-- Every reply: the rows of transactions and the compact ones (version 5).
CREATE VIEW replies AS
SELECT id, run_id, session_id, command, argument, request_ts, reply_ts, end_ts, latency_ms,
       reply_code, reply_text, outcome, size, diagnosis, remedy, guess
FROM transactions
UNION ALL
SELECT * FROM compact_replies;

-- Replies (or waits for a reply never sent) with their session.
CREATE VIEW slow_replies AS
SELECT t.id AS transaction_id, t.session_id, t.run_id,
       s.protocol, s.client, s.client_port, s.server, s.server_port, s.outbound, s.host,
       t.command, t.argument, t.request_ts, t.reply_ts, t.end_ts, t.latency_ms,
       t.reply_code, t.reply_text, t.outcome, t.diagnosis, t.remedy, t.guess
FROM replies AS t
LEFT JOIN sessions AS s ON s.id = t.session_id
WHERE t.latency_ms IS NOT NULL;

-- PTR lookups that overlapped a reply's wait, with the query, the reply
-- and its session (upstream hops included: parent_id is set on those).
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

PRAGMA user_version = 8;
