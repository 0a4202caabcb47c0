-- Version 6 -> 7: per-minute counts of sessions and DNS queries (issue 16).
--
-- The reports' totals (sessions by host, protocol, direction and outcome;
-- DNS queries by resolver, type and outcome) come from these tables, so a
-- report over a month costs what its minutes cost, not what its millions
-- of rows cost.  The writer adds to them in the same transaction as the
-- rows (schema/counts.h); here they are filled from the rows stored so far.
-- Sessions still open (complete = 0) are not counted until they end:
-- readers count those rows (index sessions_open).
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
CREATE INDEX sessions_open ON sessions (coalesce(start, syn)) WHERE complete = 0;

INSERT INTO session_counts (minute, run_id, host, protocol, outbound, client_is_host, outcome, n)
SELECT CAST(floor(coalesce(start, syn) / 60.0) * 60 AS INTEGER), run_id, host, protocol,
       outbound, client_is_host, outcome, count(*)
FROM sessions
WHERE complete = 1 AND coalesce(start, syn) IS NOT NULL AND protocol IS NOT NULL
  AND outcome IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6, 7;

INSERT INTO dns_counts (minute, run_id, server, qtype, outcome, n)
SELECT CAST(floor(ts / 60.0) * 60 AS INTEGER), run_id, server, qtype, outcome, count(*)
FROM dns_queries
WHERE ts IS NOT NULL AND qtype IS NOT NULL AND outcome IS NOT NULL
GROUP BY 1, 2, 3, 4, 5;
