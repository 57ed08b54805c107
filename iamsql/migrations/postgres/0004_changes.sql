-- iam schema, version 4 (PostgreSQL): the change log.

-- The store's revision: every transaction that writes through iamsql
-- raises it by one, on its first write, and holds the row's lock until it
-- commits. Revisions are therefore dense and in commit order, so a reader
-- that has applied revision n knows exactly what it has not seen.
CREATE TABLE iam_revision (
	id  SMALLINT PRIMARY KEY CHECK (id = 1),
	rev BIGINT   NOT NULL
);
INSERT INTO iam_revision (id, rev) VALUES (1, 0);

-- One row per write, appended in the writing transaction.
CREATE TABLE iam_changes (
	revision    BIGINT   NOT NULL,
	seq         INTEGER  NOT NULL,
	at_us       BIGINT   NOT NULL, -- Unix microseconds (UTC)
	op          SMALLINT NOT NULL, -- see Op in changes.go
	holder_kind SMALLINT NOT NULL DEFAULT 0,
	holder_id   TEXT     NOT NULL DEFAULT '',
	name        TEXT     NOT NULL DEFAULT '', -- role, permission or group
	is_role     BOOLEAN  NOT NULL DEFAULT FALSE, -- name is a role
	obj_type    TEXT     NOT NULL DEFAULT '',
	obj_id      TEXT     NOT NULL DEFAULT '',
	PRIMARY KEY (revision, seq)
);
-- Pruning by age.
CREATE INDEX iam_changes_at ON iam_changes (at_us);

-- At commit, one more notification ends each transaction's: "<revision> end
-- <rows>", so a listener that has every row's notification knows the
-- revision is whole without reading the log. The Writer names its channel
-- in the transaction setting iam.channel when it takes the revision.
CREATE FUNCTION iam_revision_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	ch TEXT := current_setting('iam.channel', true);
BEGIN
	IF ch IS NOT NULL AND ch <> '' THEN
		PERFORM pg_notify(ch, NEW.rev::text || ' end ' ||
			(SELECT count(*) FROM iam_changes WHERE revision = NEW.rev)::text);
	END IF;
	RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER iam_revision_notify AFTER UPDATE ON iam_revision
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION iam_revision_notify();
