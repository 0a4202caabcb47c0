-- ident: ident (RFC 1413) probes of the mail hosts grouped by the prober
-- (host), the probed peer and the outcome: how many, and how long each took.
-- The one duration of a probe (as in every report): answered or refused, to
-- the reply/RST; unanswered, as long as it was outstanding for the wait it
-- delayed (to the end of that wait: the server gave up on it and went on,
-- the causes' query_ms), else from the first to the last SYN (a lower bound).
-- Parameters: :since, :until (on the probe time), :client (peer), :limit.
WITH
-- how long the unanswered probes were outstanding for the waits they
-- delayed (waits that began up to an hour before the window count)
-- (the rule of the slow report's query_ms)
cq AS MATERIALIZED (SELECT c.ident_probe_id AS id,
	       max(coalesce(c.query_ms, (coalesce(t.reply_ts, t.end_ts,
						  t.request_ts + t.latency_ms / 1000.0) - i.ts)
					* 1000.0)) AS query_ms
	FROM transactions AS t JOIN causes AS c ON c.transaction_id = t.id
	JOIN ident_probes AS i ON i.id = c.ident_probe_id
	WHERE c.kind = 'ident' AND c.parent_id IS NULL
	  AND t.request_ts >= coalesce(:since, -1e18) - 3600
	  AND t.request_ts < coalesce(:until, 1e18)
	GROUP BY 1),
p AS (SELECT i.*, coalesce(i.latency_ms, q.query_ms, (i.end_ts - i.ts) * 1000.0) AS dur_ms
      FROM ident_probes AS i LEFT JOIN cq AS q ON q.id = i.id
      WHERE i.ts >= coalesce(:since, -1e18) AND i.ts < coalesce(:until, 1e18)
	AND (:client IS NULL OR i.peer = :client))
SELECT host, peer, outcome, count(*) AS probes, sum(coalesce(syn_retransmits, 0)) AS syn_retransmits,
       round(min(dur_ms), 1) AS min_ms, round(avg(dur_ms), 1) AS avg_ms,
       round(max(dur_ms), 1) AS max_ms,
       strftime('%Y-%m-%d %H:%M:%S', mx_local(min(ts)), 'unixepoch') AS first_utc,
       strftime('%Y-%m-%d %H:%M:%S', mx_local(max(ts)), 'unixepoch') AS last_utc,
       json_object('host', host, 'peer', peer, 'outcome', outcome, 'probes', count(*),
		   'syn_retransmits', sum(coalesce(syn_retransmits, 0)),
		   'min_ms', round(min(dur_ms), 3), 'avg_ms', round(avg(dur_ms), 3),
		   'max_ms', round(max(dur_ms), 3), 'first', min(ts), 'last', max(ts)) AS json
FROM p
GROUP BY host, peer, outcome
ORDER BY outcome = 'answered', max(dur_ms) DESC, peer, outcome, host
LIMIT :limit;
