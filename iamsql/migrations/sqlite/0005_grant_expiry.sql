-- iam schema, version 5 (SQLite): grants that expire.
ALTER TABLE iam_grants ADD COLUMN expires_at_us INTEGER; -- Unix microseconds (UTC); NULL: never
