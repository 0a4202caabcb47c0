-- Version 8 -> 9: packet anchors, the duplicate guard by content (issue 13).
--
-- Runs stored before version 9 have no anchors: they stay guarded by their
-- fingerprint only (the same files, in the same order).
CREATE TABLE anchors (
	hash    INTEGER NOT NULL,
	run_id  INTEGER REFERENCES runs (id),
	minute  INTEGER NOT NULL
);
CREATE INDEX anchors_minute ON anchors (minute);
