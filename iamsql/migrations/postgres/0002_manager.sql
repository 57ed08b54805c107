-- iam schema, version 2 (PostgreSQL): what the Manager needs.

-- The holders of a role (the last-holder rule of Protected roles).
CREATE INDEX iam_profiles_role ON iam_profiles (role);

-- The audit trail: one row per attempted change, allowed or refused.
CREATE TABLE iam_audit (
	id           BIGSERIAL PRIMARY KEY,
	at_us        BIGINT   NOT NULL, -- Unix microseconds (UTC)
	actor        TEXT     NOT NULL,
	stage        TEXT     NOT NULL, -- apply, request, approve
	action       TEXT     NOT NULL, -- put_profile, grant, add_member, ...
	target_kind  SMALLINT NOT NULL,
	target_id    TEXT     NOT NULL,
	role         TEXT     NOT NULL DEFAULT '',
	perm         TEXT     NOT NULL DEFAULT '',
	obj_type     TEXT     NOT NULL DEFAULT '',
	obj_id       TEXT     NOT NULL DEFAULT '',
	grp          TEXT     NOT NULL DEFAULT '',
	requested_by TEXT     NOT NULL DEFAULT '',
	result       TEXT     NOT NULL, -- applied, requested, refused, failed
	error        TEXT     NOT NULL DEFAULT ''
);
CREATE INDEX iam_audit_actor ON iam_audit (actor, id);
CREATE INDEX iam_audit_target ON iam_audit (target_kind, target_id, id);
