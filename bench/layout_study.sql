-- layout_study.sql - issue 16's 400-bytes-per-session goal: how small can
-- the same facts be in SQLite?  A study, not the schema: it copies a
-- database made by `mxlag analyze` (ATTACHed as o) into a denser layout and
-- leaves the bytes per table to dbstat:
--
--   printf ".param set :src 'bench/out/bench.db'\n.read bench/layout_study.sql\n" |
--       sqlite3 -bail study.db
--   sqlite3 study.db "SELECT name, sum(pgsize) FROM dbstat GROUP BY name"
--
-- What it changes against schema 7/8: every address an integer into
-- addrs, every name (query names, HELO, banner, sender and recipient
-- domains) an integer into names, vocabulary words small integers,
-- start/end as microseconds after the SYN, a DNS query's response and
-- last retransmission as microseconds after its first send, the compact
-- replies without their ids, command names as numbers and EHLO arguments
-- (the session's helo) left out.  Results: bench/README.md ("a layout
-- study").
ATTACH :src AS o;
CREATE TABLE addrs (id INTEGER PRIMARY KEY, a TEXT UNIQUE);
CREATE TABLE names (id INTEGER PRIMARY KEY, n TEXT UNIQUE);
INSERT OR IGNORE INTO addrs (a)
	SELECT client FROM o.sessions UNION SELECT server FROM o.sessions
	UNION SELECT client FROM o.dns_queries UNION SELECT server FROM o.dns_queries;
INSERT OR IGNORE INTO names (n)
	SELECT qname FROM o.dns_queries UNION SELECT helo FROM o.sessions
	UNION SELECT banner_host FROM o.sessions UNION SELECT sender_domain FROM o.sessions
	UNION SELECT rcpt_domains FROM o.sessions;
CREATE TABLE d (id INTEGER PRIMARY KEY, run_id INT, ts REAL, client INT, client_port INT,
		server INT, server_port INT, transport INT, txid INT, qname INT, qtype INT,
		outcome INT, rcode INT, answers TEXT, latency_us INT, resend_us INT,
		retransmits INT);
INSERT INTO d
SELECT q.id, run_id, ts, (SELECT id FROM addrs WHERE a = client), client_port,
       (SELECT id FROM addrs WHERE a = server), server_port, transport = 'tcp', txid,
       (SELECT id FROM names WHERE n = qname),
       CASE qtype WHEN 'A' THEN 1 WHEN 'PTR' THEN 12 WHEN 'AAAA' THEN 28 WHEN 'MX' THEN 15
		  ELSE 0 END,
       CASE outcome WHEN 'answered' THEN 0 WHEN 'nxdomain' THEN 1 WHEN 'unanswered' THEN 2
		    ELSE 3 END,
       rcode, answers, CAST(round(latency_ms * 1000) AS INT),
       CASE WHEN last_send_ts = ts THEN NULL ELSE CAST(round((last_send_ts - ts) * 1e6) AS INT) END,
       nullif(retransmits, 0)
FROM o.dns_queries AS q;
CREATE INDEX d_ts ON d (ts);
CREATE TABLE s (id INTEGER PRIMARY KEY, run_id INT, protocol INT, client INT, client_port INT,
		server INT, server_port INT, syn REAL, start_us INT, end_us INT, outcome INT,
		tls INT, outbound INT, app INT, banner INT, helo INT, sender INT, rcpt INT,
		bytes INT, messages INT, complete INT, host INT, client_is_host INT,
		replies TEXT, software INT);
INSERT INTO s
SELECT id, run_id, protocol = 'pop3', (SELECT id FROM addrs WHERE a = client), client_port,
       (SELECT id FROM addrs WHERE a = server), server_port, syn,
       CAST(round((start - syn) * 1e6) AS INT), CAST(round(("end" - syn) * 1e6) AS INT),
       CASE outcome WHEN 'ok' THEN 0 ELSE 1 END, nullif(tls, 0), nullif(outbound, 0), 0,
       (SELECT id FROM names WHERE n = banner_host), (SELECT id FROM names WHERE n = helo),
       (SELECT id FROM names WHERE n = sender_domain),
       (SELECT id FROM names WHERE n = rcpt_domains), bytes, messages, complete,
       (SELECT id FROM addrs WHERE a = host), nullif(client_is_host, 0),
       (SELECT json_group_array(json_array(
	       CASE r.value ->> '$[1]' WHEN 'GREETING' THEN 1 WHEN 'EHLO' THEN 2 WHEN 'MAIL' THEN 3
		    WHEN 'RCPT' THEN 4 WHEN 'DATA' THEN 5 WHEN 'DATA-END' THEN 6 WHEN 'QUIT' THEN 7
		    ELSE r.value ->> '$[1]' END,
	       CASE WHEN r.value ->> '$[1]' = 'EHLO' THEN NULL ELSE r.value ->> '$[2]' END,
	       r.value ->> '$[3]', r.value ->> '$[4]', CAST(r.value ->> '$[5]' AS INT)))
	FROM json_each(replies) AS r), 1
FROM o.sessions;
CREATE INDEX s_t0 ON s (syn, host, protocol, outbound, client_is_host, outcome);
