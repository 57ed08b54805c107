-- iam schema, version 1 (PostgreSQL).
-- Principals: holder_kind 1 = user, 2 = group. Refs: (obj_type, obj_id) is an
-- object, (type, '') a whole type, ('', '') global.

CREATE TABLE iam_profiles (
	holder_kind   SMALLINT NOT NULL CHECK (holder_kind IN (1, 2)),
	holder_id     TEXT     NOT NULL CHECK (holder_id <> ''),
	role          TEXT     NOT NULL CHECK (role <> ''),
	active        BOOLEAN  NOT NULL,
	expires_at_us BIGINT,            -- Unix microseconds (UTC); NULL: never
	data          BYTEA,             -- role data, usually JSON
	PRIMARY KEY (holder_kind, holder_id, role)
);

CREATE TABLE iam_members (
	user_id  TEXT NOT NULL CHECK (user_id <> ''),
	group_id TEXT NOT NULL CHECK (group_id <> ''),
	PRIMARY KEY (user_id, group_id)
);

CREATE TABLE iam_grants (
	obj_type    TEXT     NOT NULL,
	obj_id      TEXT     NOT NULL,
	holder_kind SMALLINT NOT NULL CHECK (holder_kind IN (1, 2)),
	holder_id   TEXT     NOT NULL CHECK (holder_id <> ''),
	is_role     BOOLEAN  NOT NULL, -- name is a local role (true) or a permission
	name        TEXT     NOT NULL CHECK (name <> ''),
	CHECK (obj_type <> '' OR obj_id = ''),
	PRIMARY KEY (obj_type, obj_id, holder_kind, holder_id, is_role, name)
);
-- Who holds what (listing a principal's grants; the primary key serves checks).
CREATE INDEX iam_grants_holder ON iam_grants (holder_kind, holder_id);

CREATE TABLE iam_parents (
	obj_type    TEXT    NOT NULL CHECK (obj_type <> ''),
	obj_id      TEXT    NOT NULL CHECK (obj_id <> ''),
	pos         INTEGER NOT NULL,
	parent_type TEXT    NOT NULL CHECK (parent_type <> ''),
	parent_id   TEXT    NOT NULL CHECK (parent_id <> ''),
	PRIMARY KEY (obj_type, obj_id, pos)
);
