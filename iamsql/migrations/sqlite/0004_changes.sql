-- iam schema, version 4 (SQLite): the change log.

-- The store's revision: every transaction that writes through iamsql
-- raises it by one, on its first write, and holds the row's lock until it
-- commits. Revisions are therefore dense and in commit order, so a reader
-- that has applied revision n knows exactly what it has not seen.
CREATE TABLE iam_revision (
	id  INTEGER  PRIMARY KEY CHECK (id = 1),
	rev INTEGER  NOT NULL
);
INSERT INTO iam_revision (id, rev) VALUES (1, 0);

-- One row per write, appended in the writing transaction.
CREATE TABLE iam_changes (
	revision    INTEGER  NOT NULL,
	seq         INTEGER  NOT NULL,
	at_us       INTEGER  NOT NULL, -- Unix microseconds (UTC)
	op          INTEGER  NOT NULL, -- see Op in changes.go
	holder_kind INTEGER  NOT NULL DEFAULT 0,
	holder_id   TEXT     NOT NULL DEFAULT '',
	name        TEXT     NOT NULL DEFAULT '', -- role, permission or group
	is_role     INTEGER  NOT NULL DEFAULT 0, -- name is a role
	obj_type    TEXT     NOT NULL DEFAULT '',
	obj_id      TEXT     NOT NULL DEFAULT '',
	PRIMARY KEY (revision, seq)
);
-- Pruning by age.
CREATE INDEX iam_changes_at ON iam_changes (at_us);
