-- Version 7 -> 8: big messages and bounce storms (issue 17).
--
-- runs.big_bytes: the run's big-message threshold (analyze/capture
-- --big-message; NULL for runs stored before version 8).
-- sessions.max_message: the session's largest message in bytes; filled
-- here from what was stored (a session of one message: its bytes; of
-- several: the largest size among its replies).
-- sessions.null_sender: MAIL FROM:<> was seen; filled here from the MAIL
-- arguments stored (rows and compact replies).
-- sessions.bounce_domain, bounce_origin, bounce_session_id: which inbound
-- mail an outbound delivery bounces (see schema.sql); the analysis tells
-- it, so sessions stored before version 8 keep NULL.
-- causes.session_ref: a big-message cause's session (NULL before).
ALTER TABLE runs ADD COLUMN big_bytes INTEGER;
ALTER TABLE sessions ADD COLUMN max_message INTEGER;
ALTER TABLE sessions ADD COLUMN null_sender INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN bounce_domain TEXT;
ALTER TABLE sessions ADD COLUMN bounce_origin TEXT;
ALTER TABLE sessions ADD COLUMN bounce_session_id INTEGER;
ALTER TABLE causes ADD COLUMN session_ref INTEGER REFERENCES sessions (id);
UPDATE sessions SET max_message = CASE
	WHEN coalesce(messages, 0) <= 1 THEN bytes
	ELSE (SELECT max(r.size) FROM replies AS r WHERE r.session_id = sessions.id) END
WHERE bytes > 0;
UPDATE sessions SET null_sender = 1
WHERE protocol = 'smtp' AND id IN (SELECT session_id FROM replies
				   WHERE command = 'MAIL' AND argument LIKE 'FROM:<>%');
CREATE INDEX sessions_big ON sessions (coalesce(start, syn)) WHERE max_message >= 1000000;
CREATE INDEX sessions_bounce ON sessions (coalesce(start, syn))
	WHERE null_sender = 1 OR bounce_domain IS NOT NULL;
CREATE INDEX causes_session_ref ON causes (session_ref) WHERE session_ref IS NOT NULL;
