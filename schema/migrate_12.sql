-- Version 11 -> 12: sessions with dictionaries (issue 16).
--
-- Addresses and names of sessions are stored once, in addrs and names (as
-- the DNS queries' since version 10); the rows (session_rows) hold their
-- ids, and protocol, outcome and software as the numbers of their words.
-- sessions becomes a view with the columns and values it had.  A word
-- outside the view's lists (none is written) would read back as NULL.
INSERT INTO addrs (addr, last_minute)
WITH t AS (SELECT CAST(floor(coalesce(start, syn) / 60) * 60 AS INTEGER) AS m, * FROM sessions)
SELECT a, max(m) FROM (SELECT client AS a, m FROM t UNION ALL SELECT server, m FROM t
		       UNION ALL SELECT host, m FROM t UNION ALL SELECT bounce_origin, m FROM t)
WHERE a IS NOT NULL GROUP BY a
ON CONFLICT (addr) DO UPDATE SET last_minute = max(coalesce(last_minute, excluded.last_minute),
						   coalesce(excluded.last_minute, last_minute));
INSERT INTO names (name, last_minute)
WITH t AS (SELECT CAST(floor(coalesce(start, syn) / 60) * 60 AS INTEGER) AS m, * FROM sessions)
SELECT a, max(m) FROM (SELECT app AS a, m FROM t UNION ALL SELECT banner_host, m FROM t
		       UNION ALL SELECT helo, m FROM t UNION ALL SELECT sender_domain, m FROM t
		       UNION ALL SELECT rcpt_domains, m FROM t UNION ALL SELECT bounce_domain, m FROM t)
WHERE a IS NOT NULL GROUP BY a
ON CONFLICT (name) DO UPDATE SET last_minute = max(coalesce(last_minute, excluded.last_minute),
						   coalesce(excluded.last_minute, last_minute));

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

INSERT INTO session_rows (id, run_id, protocol, client, client_port, server, server_port, syn,
			  start, "end", outcome, tls, outbound, app, banner_host, helo,
			  sender_domain, rcpt_domains, bytes, messages, complete, host,
			  client_is_host, replies, software, max_message, null_sender, bounce_domain,
			  bounce_origin, bounce_session_id)
SELECT id, run_id,
       CASE protocol WHEN 'smtp' THEN 1 WHEN 'pop3' THEN 2 WHEN 'unknown' THEN 0 END,
       (SELECT a.id FROM addrs AS a WHERE a.addr = s.client), client_port,
       (SELECT a.id FROM addrs AS a WHERE a.addr = s.server), server_port,
       syn, start, "end",
       CASE outcome WHEN 'ok' THEN 0 WHEN 'client-abort' THEN 1 WHEN 'server-close' THEN 2
		    WHEN 'incomplete' THEN 3 WHEN 'unanswered' THEN 4 WHEN 'refused' THEN 5
		    WHEN 'tls-unanswered' THEN 6 WHEN 'tls-alert' THEN 7 WHEN 'tls-failed' THEN 8
		    WHEN 'client-half-close' THEN 9 WHEN 'cut' THEN 10 END,
       tls, outbound,
       (SELECT n.id FROM names AS n WHERE n.name = s.app),
       (SELECT n.id FROM names AS n WHERE n.name = s.banner_host),
       (SELECT n.id FROM names AS n WHERE n.name = s.helo),
       (SELECT n.id FROM names AS n WHERE n.name = s.sender_domain),
       (SELECT n.id FROM names AS n WHERE n.name = s.rcpt_domains),
       bytes, messages, complete,
       (SELECT a.id FROM addrs AS a WHERE a.addr = s.host), client_is_host, replies,
       CASE software WHEN 'unknown' THEN 1 WHEN 'exim' THEN 2 WHEN 'postfix' THEN 3
		     WHEN 'sendmail' THEN 4 WHEN 'dovecot' THEN 5 WHEN 'exchange' THEN 6 END,
       max_message, null_sender,
       (SELECT n.id FROM names AS n WHERE n.name = s.bounce_domain),
       (SELECT a.id FROM addrs AS a WHERE a.addr = s.bounce_origin), bounce_session_id
FROM sessions AS s ORDER BY id;
DROP TABLE sessions;

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
CREATE INDEX sessions_t0 ON session_rows (coalesce(start, syn), host, protocol, outbound,
					 client_is_host, outcome);
CREATE INDEX sessions_open ON session_rows (coalesce(start, syn)) WHERE complete = 0;
CREATE INDEX sessions_big ON session_rows (coalesce(start, syn)) WHERE max_message >= 1000000;
CREATE INDEX sessions_bounce ON session_rows (coalesce(start, syn))
	WHERE null_sender = 1 OR bounce_domain IS NOT NULL;
