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
-- Bounce storms (issue 17, kind bounce-storm): the host's outbound deliveries
-- (and attempts) that bounce inbound mail (sessions.bounce_domain), one
-- incident per host and inbound origin (bounce_origin) with at least 10 of
-- them in the window, ranked with the others by the time they waited on
-- connects (total_wait_ms; slow_replies 0).  bounce_text (text only) and
-- the JSON key "bounce" tell the attempts, the sender domains, the MX
-- addresses unreachable and refusing, the peak of the host's outbound
-- connections waiting at once (SYN sent, no answer yet) and the origin's
-- inbound recipients refused at RCPT (5xx).
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
-- bounce deliveries (issue 17): the connect wait is to the handshake's end,
-- or to the last packet of an attempt never answered or refused
bd AS MATERIALIZED (
	SELECT s.id, s.client AS host, s.bounce_origin AS origin, s.bounce_domain AS domain, s.server,
	       s.outcome, coalesce(s.syn, s.start) AS t0,
	       max(0, CASE WHEN s.outcome IN ('unanswered', 'refused')
			   THEN coalesce(s."end", s.start, s.syn) ELSE coalesce(s.start, s.syn) END
		      - coalesce(s.syn, s.start)) * 1000.0 AS connect_ms
	FROM sessions AS s
	-- the rows by the partial index sessions_bounce (the view's bounce_domain
	-- is a dictionary lookup, which no index can read)
	WHERE s.id IN (SELECT id FROM session_rows
		       WHERE (null_sender = 1 OR bounce_domain IS NOT NULL)
			 AND bounce_domain IS NOT NULL
			 AND coalesce(start, syn) >= coalesce(:since, -1e18)
			 AND coalesce(start, syn) < coalesce(:until, 1e18))
	  AND (:client IS NULL OR s.bounce_origin = :client OR s.server = :client)
	  AND (:protocol IS NULL OR s.protocol = :protocol)),
bg AS MATERIALIZED (
	SELECT host, origin, json_array('bounce-storm', host, origin) AS sig,
	       count(*) AS attempts, count(DISTINCT domain) AS n_domains,
	       sum(outcome = 'unanswered') AS n_unanswered, sum(outcome = 'refused') AS n_refused,
	       sum(outcome NOT IN ('unanswered', 'refused')) AS n_connected,
	       count(DISTINCT CASE WHEN outcome = 'unanswered' THEN server END) AS unreachable,
	       count(DISTINCT CASE WHEN outcome = 'refused' THEN server END) AS refusing,
	       sum(connect_ms) AS connect_ms, max(connect_ms) AS max_connect_ms,
	       min(t0) AS first_ts, max(t0) AS last_ts, max(t0 + connect_ms / 1000.0) AS end_ts
	FROM bd
	GROUP BY host, origin
	HAVING count(*) >= 10),
-- the host's outbound connections waiting for their answer: +1 at the SYN,
-- -1 at the answer (or the attempt's last packet); the running sum is how
-- many wait at once
bw AS (
	SELECT s.client AS host, s.syn AS a,
	       CASE WHEN s.outcome IN ('unanswered', 'refused') THEN coalesce(s."end", s.syn)
		    ELSE coalesce(s.start, s.syn) END AS b
	FROM sessions AS s
	WHERE (s.outbound = 1 OR s.client_is_host = 1) AND s.syn IS NOT NULL
	  AND s.client IN (SELECT host FROM bg)
	  AND s.syn <= (SELECT max(end_ts) FROM bg)
	  AND coalesce(s."end", s.start, s.syn) >= (SELECT min(first_ts) FROM bg)),
bn AS (
	SELECT host, t, sum(d) OVER (PARTITION BY host ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS n
	FROM (SELECT host, a AS t, 1 AS d FROM bw UNION ALL SELECT host, b, -1 FROM bw)),
bx AS MATERIALIZED (
	SELECT bg.*,
	       (SELECT max(n) FROM bn WHERE bn.host = bg.host
		AND bn.t >= bg.first_ts AND bn.t <= bg.end_ts) AS peak_waiting,
	       (SELECT json_group_array(domain) FROM (
		SELECT domain FROM bd WHERE bd.host = bg.host AND bd.origin = bg.origin
		GROUP BY domain ORDER BY count(*) DESC, domain LIMIT 3)) AS top_domains,
	       (SELECT json_group_array(id) FROM (
		SELECT id FROM bd WHERE bd.host = bg.host AND bd.origin = bg.origin
		ORDER BY connect_ms DESC, id LIMIT 3)) AS examples,
	       -- the origin's inbound sessions to the host in the window
	       (SELECT count(*) FROM sessions AS i
		WHERE i.client = bg.origin AND i.host = bg.host AND i.outbound = 0
		  AND coalesce(i.start, i.syn) >= coalesce(:since, -1e18)
		  AND coalesce(i.start, i.syn) < coalesce(:until, 1e18)) AS inbound_sessions,
	       (SELECT count(*) FROM sessions AS i JOIN replies AS x ON x.session_id = i.id
		WHERE i.client = bg.origin AND i.host = bg.host AND i.outbound = 0
		  AND coalesce(i.start, i.syn) >= coalesce(:since, -1e18)
		  AND coalesce(i.start, i.syn) < coalesce(:until, 1e18)
		  AND x.command = 'RCPT' AND x.reply_code LIKE '5%') AS rcpt_refused,
	       -- the software of the server that accepted the mail
	       (SELECT software FROM sessions AS i
		WHERE i.client = bg.origin AND i.host = bg.host AND i.outbound = 0
		  AND i.software IS NOT NULL
		GROUP BY software ORDER BY count(*) DESC, software LIMIT 1) AS software
	FROM bg),
g AS (
	SELECT sig, 'bounce-storm' AS kind, NULL AS relation, NULL AS resolver, NULL AS c_outcome,
	       NULL AS zone, host AS g_host, 1 AS g_out,
	       0 AS replies, attempts AS sessions, 1 AS clients, 1 AS n_hosts,
	       first_ts, last_ts, connect_ms AS total_wait_ms, max_connect_ms AS max_wait_ms,
	       NULL AS cause_ms
	FROM bx
	UNION ALL
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
	SELECT k.*, coalesce(bx.remedy, d.remedy) AS remedy,
	       CASE WHEN bx.sig IS NULL THEN d.hosts ELSE json_array(k.g_host) END AS hosts,
	       d.commands, coalesce(bx.examples, d.examples) AS examples,
	       coalesce(bx.n_domains, d.names) AS names, d.qtypes,
	       coalesce(bx.unreachable + bx.refusing, d.places) AS places,
	       coalesce(bx.top_domains, d.top_places) AS top_places, bx.bounce_text, bx.bounce_json,
	       CASE k.kind
	       WHEN 'bounce-storm' THEN 'bounce storm: ' || coalesce(k.g_host, 'the host') ||
				 ' bounced the mail of ' || bx.origin || ' to ' ||
				 bx.n_domains || ' sender domain' ||
				 CASE WHEN bx.n_domains = 1 THEN '' ELSE 's' END || ', ' ||
				 bx.attempts || ' deliveries'
	       ELSE CASE k.kind
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
	       END END AS title
	FROM ranked AS k JOIN d ON d.incident = k.incident
	LEFT JOIN (
		SELECT bx.*,
		       attempts || ' bounce deliver' || CASE WHEN attempts = 1 THEN 'y' ELSE 'ies' END ||
		       ' (' || n_unanswered || ' unanswered, ' || n_refused || ' refused, ' ||
		       n_connected || ' connected) to ' || n_domains || ' sender domain' ||
		       CASE WHEN n_domains = 1 THEN '' ELSE 's' END || ' (' ||
		       (SELECT group_concat(value, ' ') FROM json_each(top_domains)) ||
		       CASE WHEN n_domains > 3 THEN ', ...' ELSE '' END || ')' || char(10) ||
		       unreachable || ' MX address' || CASE WHEN unreachable = 1 THEN '' ELSE 'es' END ||
		       ' never answered, ' || refusing || ' refused; ' ||
		       printf('%.1f', connect_ms / 1000.0) || ' s waiting on connects in all (longest ' ||
		       printf('%.1f', max_connect_ms / 1000.0) || ' s); up to ' ||
		       coalesce(peak_waiting, 0) || ' outbound connection' ||
		       CASE WHEN peak_waiting = 1 THEN '' ELSE 's' END ||
		       ' of the host waiting at once' || char(10) ||
		       'the origin ' || origin || ': ' || inbound_sessions || ' inbound session' ||
		       CASE WHEN inbound_sessions = 1 THEN '' ELSE 's' END || ', ' || rcpt_refused ||
		       ' recipient' || CASE WHEN rcpt_refused = 1 THEN '' ELSE 's' END ||
		       ' refused at RCPT (5xx)' AS bounce_text,
		       json_object('origin', origin, 'attempts', attempts, 'unanswered', n_unanswered,
				   'refused', n_refused, 'connected', n_connected,
				   'domains', n_domains, 'top_domains', json(top_domains),
				   'unreachable_mx', unreachable, 'refusing_mx', refusing,
				   'connect_wait_ms', round(connect_ms, 3),
				   'max_connect_wait_ms', round(max_connect_ms, 3),
				   'peak_waiting', coalesce(peak_waiting, 0),
				   'inbound_sessions', inbound_sessions, 'rcpt_refused', rcpt_refused,
				   'software', software) AS bounce_json,
		       CASE software
		       WHEN 'exim' THEN
			'reject unknown recipients at RCPT time (`verify = recipient` in the ACL ' ||
			'acl_smtp_rcpt names), so nothing accepted has to bounce; deliver bounces ' ||
			'apart from ordinary mail (a router for the null sender with a transport ' ||
			'of its own, or `queue_smtp_domains` so they wait for a queue runner) and ' ||
			'give them up sooner (`ignore_bounce_errors_after`); rate-limit by client ' ||
			'address and sender (`ratelimit = N / 1h / per_rcpt / $sender_host_address` ' ||
			'and `... / $sender_address` in acl_smtp_rcpt)'
		       WHEN 'postfix' THEN
			'reject unknown recipients at RCPT time (`smtpd_reject_unlisted_recipient = ' ||
			'yes` with `local_recipient_maps` or `relay_recipient_maps` set), so nothing ' ||
			'accepted has to bounce; keep bounces from holding the delivery slots of ' ||
			'ordinary mail (a transport of their own, `default_destination_concurrency_limit`, ' ||
			'a shorter `smtp_connect_timeout`); rate-limit by client ' ||
			'(`smtpd_client_message_rate_limit`, `smtpd_client_recipient_rate_limit`, ' ||
			'counted by anvil(8))'
		       WHEN 'sendmail' THEN
			'reject unknown recipients at RCPT time (virtusertable `error:nouser` entries, ' ||
			'or a check_rcpt ruleset), so nothing accepted has to bounce; deliver bounces ' ||
			'in a queue group of their own (`QUEUE_GROUP` with ``FEATURE(`queuegroup'')``, ' ||
			'`confMAX_QUEUE_RUN_SIZE`) and wait less on connects (`confTO_CONNECT`); ' ||
			'rate-limit by client (``FEATURE(`ratecontrol'')`` with `ClientRate:` entries ' ||
			'in the access map)'
		       ELSE
			'reject unknown recipients at RCPT time, so nothing accepted has to bounce; ' ||
			'send bounces through a separate queue or MTA, so the unreachable mail ' ||
			'servers of forged senders cannot hold the delivery slots of ordinary mail; ' ||
			'rate-limit messages by client address and envelope sender'
		       END AS remedy
		FROM bx) AS bx ON bx.sig = k.sig)
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
       json_patch(json_object('incident', incident, 'title', title, 'kind', kind, 'relation', relation,
		   'resolver', resolver, 'outcome', c_outcome, 'zone', zone,
		   'host', g_host, 'outbound', json(CASE WHEN g_out THEN 'true' ELSE 'false' END),
		   'slow_replies', replies, 'sessions', sessions, 'clients', clients,
		   'hosts', json(hosts), 'first_ts', first_ts, 'last_ts', last_ts,
		   'total_wait_ms', round(total_wait_ms, 3), 'max_wait_ms', round(max_wait_ms, 3),
		   'cause_ms', round(cause_ms, 3), 'commands', json(commands),
		   'names', names, 'qtypes', json(qtypes), 'places', places,
		   'top_places', json(top_places),
		   'example_sessions', json(examples), 'remedy', remedy),
		  -- a bounce storm's own figures; nothing for the others
		  CASE WHEN bounce_json IS NULL THEN '{}'
		       ELSE json_object('bounce', json(bounce_json)) END) AS json,
       bounce_text
FROM v
ORDER BY incident;
