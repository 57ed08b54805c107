-- iam schema, version 5 (PostgreSQL): grants that expire.
ALTER TABLE iam_grants ADD COLUMN expires_at_us BIGINT; -- Unix microseconds (UTC); NULL: never
