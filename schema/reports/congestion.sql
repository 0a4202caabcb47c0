-- congestion (issue 17): the delivery congestion of the mail hosts, shown
-- after `report outbound`.  A delivery waits for its connection from its
-- first SYN to the answer (the handshake's end), or, never answered or
-- refused, to its last packet.  Per host and minute: the peak number of its
-- outbound connections waiting at once (counted from the waits that begin
-- and end, with the ones still waiting from before the minute), the
-- deliveries that started, how many of them bounce inbound mail
-- (sessions.bounce_domain), and the ordinary ones (not bounces) that started
-- in the minute: their number and the five that waited longest for their
-- connection.
-- Only hosts whose peak reached 5 at once are shown, and of them the minutes
-- with 2 or more waiting (one waiting connection is no congestion); minutes
-- in which no wait began or ended are left out.
-- Parameters: :since, :until (session start), :protocol, :limit.
WITH
o AS MATERIALIZED (
	SELECT s.id, s.client AS host, s.server AS remote, s.outcome, s.bounce_domain, s.syn,
	       coalesce(s.syn, s.start) AS t0,
	       CASE WHEN s.outcome IN ('unanswered', 'refused') THEN coalesce(s."end", s.syn)
		    ELSE coalesce(s.start, s.syn) END AS t1
	FROM sessions AS s
	WHERE (s.outbound = 1 OR s.client_is_host = 1)
	  AND coalesce(s.start, s.syn) >= coalesce(:since, -1e18)
	  AND coalesce(s.start, s.syn) < coalesce(:until, 1e18)
	  AND (:protocol IS NULL OR s.protocol = :protocol)),
-- +1 at a SYN, -1 when its wait ends; ties: ends first
ev AS (
	SELECT host, syn AS t, 1 AS d FROM o WHERE syn IS NOT NULL
	UNION ALL
	SELECT host, max(t1, syn), -1 FROM o WHERE syn IS NOT NULL),
run AS MATERIALIZED (
	SELECT host, t, CAST(floor(t / 60) AS INTEGER) AS m,
	       sum(d) OVER w AS n, row_number() OVER w AS k
	FROM ev
	WINDOW w AS (PARTITION BY host ORDER BY t, d ROWS UNBOUNDED PRECEDING)),
pm AS (
	SELECT host, m, max(n) AS peak_in FROM run GROUP BY host, m),
-- the count after the minute's last event (SQLite: the bare n of the max(k) row)
pl AS (
	SELECT host, m, n AS last_n, max(k) AS last_k FROM run GROUP BY host, m),
pc AS MATERIALIZED (
	SELECT pm.host, pm.m,
	       -- still waiting from before the minute: the count after the previous event
	       max(pm.peak_in, coalesce(lag(pl.last_n) OVER (PARTITION BY pm.host ORDER BY pm.m), 0))
		       AS peak
	FROM pm JOIN pl ON pl.host = pm.host AND pl.m = pm.m),
hot AS (SELECT host FROM pc GROUP BY host HAVING max(peak) >= 5),
-- the deliveries that started, per host and minute
st AS (
	SELECT host, CAST(floor(t0 / 60) AS INTEGER) AS m, count(*) AS started,
	       sum(bounce_domain IS NOT NULL) AS bounces, sum(bounce_domain IS NULL) AS n_ord
	FROM o WHERE host IN (SELECT host FROM hot)
	GROUP BY host, m),
-- of the ordinary ones, the five that waited longest for their connection
ol AS (
	SELECT host, m, json_group_array(json(j)) AS ord
	FROM (SELECT host, m, j FROM (
		SELECT host, CAST(floor(t0 / 60) AS INTEGER) AS m, t1 - t0 AS w, id,
		       json_object('session', id, 'remote', remote, 'start', t0, 'outcome', outcome,
				   'connect_ms', round((t1 - t0) * 1000.0, 3)) AS j,
		       row_number() OVER (PARTITION BY host, CAST(floor(t0 / 60) AS INTEGER)
					  ORDER BY t1 - t0 DESC, id) AS r
		FROM o WHERE bounce_domain IS NULL AND host IN (SELECT host FROM hot))
	      WHERE r <= 5 ORDER BY host, m, r)
	GROUP BY host, m),
rows AS (
	SELECT pc.host, pc.m, pc.peak, coalesce(st.started, 0) AS started,
	       coalesce(st.bounces, 0) AS bounces, coalesce(st.n_ord, 0) AS n_ord,
	       coalesce(ol.ord, '[]') AS ordinary
	FROM pc LEFT JOIN st ON st.host = pc.host AND st.m = pc.m
	LEFT JOIN ol ON ol.host = pc.host AND ol.m = pc.m
	WHERE pc.host IN (SELECT host FROM hot) AND pc.peak >= 2)
SELECT host, strftime('%Y-%m-%d %H:%M', mx_local(m * 60), 'unixepoch') AS minute_utc,
       m * 60 AS minute_ts, peak AS waiting_peak, started, bounces, n_ord AS ordinary,
       CASE WHEN n_ord > 0 THEN
	'ordinary' || CASE WHEN n_ord > 5 THEN ' (the 5 of ' || n_ord || ' that waited longest)'
			   ELSE '' END || ': ' ||
	(SELECT group_concat('session ' || (value ->> 'session') || ' to ' ||
			     (value ->> 'remote') || ' ' || (value ->> 'outcome') || ', connect ' ||
			     printf('%.1f', value ->> 'connect_ms') || ' ms', '; ')
	 FROM json_each(ordinary)) END AS ordinary_text,
       json_object('host', host, 'minute', m * 60, 'waiting_peak', peak, 'started', started,
		   'bounces', bounces, 'ordinary', n_ord,
		   'longest_ordinary', json(ordinary)) AS json
FROM rows
ORDER BY host, m
LIMIT :limit;
