-- ident: ident (RFC 1413) probes of the mail hosts grouped by the prober
-- (host), the probed peer and the outcome: how many, and how long each took (answered or
-- refused: to the reply/RST; unanswered: from the first to the last SYN).
-- Parameters: :since, :until (on the probe time), :client (peer), :limit.
WITH
p AS (SELECT *, coalesce(latency_ms, (end_ts - ts) * 1000.0) AS dur_ms
      FROM ident_probes
      WHERE ts >= coalesce(:since, -1e18) AND ts < coalesce(:until, 1e18)
	AND (:client IS NULL OR peer = :client))
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
