-- iam schema, version 3 (PostgreSQL): what the access queries need
-- (ListObjectIDs, AccessFilter, GroupMembers).

-- Walking down from a parent to its children (covering: the walk reads
-- nothing else).
CREATE INDEX iam_parents_parent ON iam_parents (parent_type, parent_id, obj_type, obj_id);

-- The members of a group (covering: GroupMembers reads nothing else).
CREATE INDEX iam_members_group ON iam_members (group_id, user_id);
