-- incidents: the slow replies (>= :slow_ms) grouped by what delayed them,
-- worst first.  A reply counts once under each of its causes; the cause's
-- signature makes the incident:
--   dns    relation, resolver, the query's outcome, and the zone the name
--          falls in (mx_zone: reverse names rolled up to their /24 or /48
--          reverse zone, DNSBL names to the list, service labels dropped)
--   ident  the probe's outcome
--   none   (no network cause seen) the monitored host and the direction;
--          for the host's own deliveries the remote server
--   big-message (no lookup, a big message on the same host meanwhile,
--          issue 17) the monitored host; its places are the big messages
--   (a slow reply with no cause rows: "not analyzed", by host; "cut" when
--   the input ended while the client waited and nothing related was seen)
-- The zone is part of the signature for reverse lookups (client-ptr,
-- self-ptr), DNSBL lists and the forward zone of the client's name, whose
-- fix is per zone; for other names (sender and recipient domains, HELO, SPF)
-- one slow resolver gives many zones with one fix: they are counted and the
-- top three listed (places), not split.  For the host's deliveries the
-- places are the remote servers.
-- Per incident: slow replies, sessions, clients, hosts, first and last
-- request, the replies' total and longest wait, the time the cause itself
-- covered (overlap), the commands, names and query types, places, the
-- remedy and up to three example sessions (the longest waits).
-- Parameters: :slow_ms, :since, :until, :limit, :client, :protocol,
-- :compact_slow.
WITH slow AS MATERIALIZED (
	SELECT t.id AS tid, t.session_id, s.client, s.server, s.host,
	       coalesce(s.outbound, 0) AS outbound,
	       t.command || coalesce(' ' || t.guess || '?', '') AS command,
	       t.request_ts, t.latency_ms,
	       -- remedies are carried as row ids: their text is read per incident at the end
	       CASE WHEN t.remedy IS NOT NULL THEN t.id END AS rem_t, t.outcome
	FROM (SELECT * FROM transactions WHERE latency_ms >= :slow_ms
	      UNION ALL
	      SELECT * FROM compact_replies
	      WHERE :compact_slow AND latency_ms >= :slow_ms) AS t
	LEFT JOIN sessions AS s ON s.id = t.session_id
	WHERE t.latency_ms >= :slow_ms
	  AND t.request_ts >= coalesce(:since, -1e18) AND t.request_ts < coalesce(:until, 1e18)
	  AND (:client IS NULL OR s.client = :client OR s.server = :client)
	  AND (:protocol IS NULL OR s.protocol = :protocol)),
-- each slow reply with each of its top-level causes (one row with kind
-- 'unanalyzed' when it has none)
c0 AS MATERIALIZED (
	SELECT slow.*,
	       coalesce(k.kind, CASE WHEN slow.outcome = 'cut' THEN 'cut' ELSE 'unanalyzed' END)
		       AS kind,
	       CASE k.kind WHEN 'dns' THEN k.relation WHEN 'ident' THEN 'ident' END AS relation,
	       q.server AS resolver,
	       CASE k.kind WHEN 'dns' THEN q.outcome WHEN 'ident' THEN i.outcome END AS c_outcome,
	       -- the zone of the name (a remote server for the host's own deliveries)
	       CASE k.kind WHEN 'dns' THEN mx_zone(q.qname, k.relation)
			   WHEN 'none' THEN CASE WHEN slow.outbound THEN slow.server END
			   WHEN 'big-message' THEN
				(SELECT printf('%.1f MB ', b.max_message / 1e6) ||
					CASE WHEN b.outbound OR b.protocol = 'pop3' THEN 'to ' || b.server
					     ELSE 'from ' || b.client END ||
					' (session ' || b.id || ')'
				 FROM sessions AS b WHERE b.id = k.session_ref) END AS place,
	       -- in the signature for reverse zones and lists, whose fix is per zone;
	       -- the names of other lookups (sender domains, ...) are many zones with
	       -- one fix: listed, not split
	       CASE WHEN k.kind = 'dns' AND k.relation IN ('client-ptr', 'self-ptr', 'dnsbl',
							   'client-forward')
		    THEN mx_zone(q.qname, k.relation) END AS zone,
	       CASE WHEN k.kind IS NULL OR k.kind IN ('none', 'big-message') THEN slow.host END
		       AS g_host,
	       CASE WHEN k.kind IS NULL OR k.kind = 'none' THEN slow.outbound ELSE 0 END AS g_out,
	       q.qname, q.qtype, k.overlap_ms,
	       CASE WHEN k.remedy IS NOT NULL THEN k.id END AS rem_c
	FROM slow
	LEFT JOIN causes AS k ON k.transaction_id = slow.tid AND k.parent_id IS NULL
	LEFT JOIN dns_queries AS q ON q.id = k.dns_query_id
	LEFT JOIN ident_probes AS i ON i.id = k.ident_probe_id),
-- each row with its signature (made once per row: the details below select by it)
c AS MATERIALIZED (
	SELECT c0.*, json_array(kind, relation, resolver, c_outcome, zone, g_host, g_out) AS sig
	FROM c0),
-- one row per incident and reply (two causes of one reply can share a
-- signature: two lookups in one zone)
r AS MATERIALIZED (
	SELECT sig,
	       kind, relation, resolver, c_outcome, zone, g_host, g_out, tid,
	       max(session_id) AS session_id, max(client) AS client, max(host) AS host,
	       max(command) AS command, max(request_ts) AS request_ts, max(place) AS place,
	       max(latency_ms) AS latency_ms, max(overlap_ms) AS overlap_ms,
	       -- the cause's own remedy (schema 6), else the reply's
	       max(rem_c) AS rem_c, max(rem_t) AS rem_t
	FROM c
	GROUP BY sig, tid),
g AS (
	SELECT sig, kind, relation, resolver, c_outcome, zone, g_host, g_out,
	       count(*) AS replies, count(DISTINCT session_id) AS sessions,
	       count(DISTINCT client) AS clients, count(DISTINCT host) AS n_hosts,
	       min(request_ts) AS first_ts, max(request_ts) AS last_ts,
	       sum(latency_ms) AS total_wait_ms, max(latency_ms) AS max_wait_ms,
	       sum(overlap_ms) AS cause_ms
	FROM r
	GROUP BY sig),
ranked AS MATERIALIZED (
	SELECT g.*, row_number() OVER (ORDER BY total_wait_ms DESC, replies DESC, sig) AS incident
	FROM g
	ORDER BY incident
	LIMIT :limit),
-- the details listed per incident
d AS (
	SELECT k.incident,
	       -- its remedies (one per server software), most frequent first
	       (SELECT CASE WHEN count(*) = 1 THEN max(rem)
			    ELSE group_concat('(' || k || ') ' || rem, '; ') END
		FROM (SELECT rem, row_number() OVER (ORDER BY count(*) DESC, rem) AS k
		      FROM (SELECT coalesce((SELECT x.remedy FROM causes AS x WHERE x.id = o.rem_c),
					    (SELECT x.remedy FROM transactions AS x
					     WHERE x.id = o.rem_t)) AS rem
			    FROM r AS o WHERE o.sig = k.sig)
		      WHERE rem IS NOT NULL
		      GROUP BY rem)) AS remedy,
	       (SELECT json_group_array(host) FROM (
		SELECT DISTINCT host FROM r
		WHERE r.sig = k.sig AND host IS NOT NULL ORDER BY host)) AS hosts,
	       (SELECT json_group_array(command) FROM (
		SELECT command FROM r WHERE r.sig = k.sig
		GROUP BY command ORDER BY count(*) DESC, command)) AS commands,
	       (SELECT json_group_array(session_id) FROM (
		SELECT session_id FROM r WHERE r.sig = k.sig
		GROUP BY session_id ORDER BY max(latency_ms) DESC, session_id LIMIT 3)) AS examples,
	       (SELECT count(DISTINCT place) FROM r WHERE r.sig = k.sig) AS places,
	       (SELECT json_group_array(place) FROM (
		SELECT place FROM r WHERE r.sig = k.sig AND place IS NOT NULL
		GROUP BY place ORDER BY count(*) DESC, place LIMIT 3)) AS top_places,
	       (SELECT count(DISTINCT qname) FROM c
		WHERE c.sig = k.sig) AS names,
	       (SELECT json_group_array(qtype) FROM (
		SELECT DISTINCT qtype FROM c
		WHERE c.sig = k.sig AND qtype IS NOT NULL ORDER BY qtype)) AS qtypes
	FROM ranked AS k),
v AS (
	SELECT k.*, d.remedy, d.hosts, d.commands, d.examples, d.names, d.qtypes, d.places, d.top_places,
	       CASE k.kind
	       WHEN 'dns' THEN k.relation || ' lookups' || coalesce(' in ' || k.zone, '') ||
			       ' to ' || k.resolver || ': ' || k.c_outcome
	       WHEN 'ident' THEN 'ident probes (TCP 113): ' || k.c_outcome
	       WHEN 'none' THEN CASE WHEN k.g_out
			THEN 'remote servers slow to answer the deliveries of ' ||
			     coalesce(k.g_host, 'the host') || ' (no network cause seen)'
			ELSE 'no network cause seen on ' || coalesce(k.g_host, 'the host') ||
			     ' (local processing)' END
	       WHEN 'big-message' THEN 'big messages on ' || coalesce(k.g_host, 'the host') ||
			       ' while no lookup explains the wait (message size)'
	       WHEN 'cut' THEN 'waits cut by the end of the capture on ' ||
			       coalesce(k.g_host, 'the host') ||
			       ', nothing related seen in the part captured'
	       ELSE 'causes not analyzed on ' || coalesce(k.g_host, 'the host') ||
		    ' (replies below the analysis threshold)'
	       END AS title
	FROM ranked AS k JOIN d ON d.incident = k.incident)
SELECT incident, title, kind, relation, resolver, c_outcome AS outcome, zone,
       replies AS slow_replies, sessions, clients, n_hosts,
       (SELECT group_concat(value, ' ') FROM json_each(hosts)) AS hosts,
       strftime('%Y-%m-%d %H:%M:%S', mx_local(first_ts), 'unixepoch') AS first_utc,
       strftime('%Y-%m-%d %H:%M:%S', mx_local(last_ts), 'unixepoch') AS last_utc,
       first_ts, last_ts,
       round(total_wait_ms, 1) AS total_wait_ms, round(max_wait_ms, 1) AS max_wait_ms,
       round(cause_ms, 1) AS cause_ms,
       (SELECT group_concat(value, ' ') FROM json_each(commands)) AS commands,
       names, (SELECT group_concat(value, ' ') FROM json_each(qtypes)) AS qtypes,
       places, (SELECT group_concat(value, CASE kind WHEN 'big-message' THEN '; ' ELSE ' ' END)
		FROM json_each(top_places)) AS top_places,
       (SELECT group_concat(value, ' ') FROM json_each(examples)) AS example_sessions,
       remedy,
       json_object('incident', incident, 'title', title, 'kind', kind, 'relation', relation,
		   'resolver', resolver, 'outcome', c_outcome, 'zone', zone,
		   'host', g_host, 'outbound', json(CASE WHEN g_out THEN 'true' ELSE 'false' END),
		   'slow_replies', replies, 'sessions', sessions, 'clients', clients,
		   'hosts', json(hosts), 'first_ts', first_ts, 'last_ts', last_ts,
		   'total_wait_ms', round(total_wait_ms, 3), 'max_wait_ms', round(max_wait_ms, 3),
		   'cause_ms', round(cause_ms, 3), 'commands', json(commands),
		   'names', names, 'qtypes', json(qtypes), 'places', places,
		   'top_places', json(top_places),
		   'example_sessions', json(examples), 'remedy', remedy) AS json
FROM v
ORDER BY incident;
