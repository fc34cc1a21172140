-- Most leads belong to no list and no agent: index only those that do. Lookups on a list or an
-- agent (`list_id = $1`, `assigned_user_id = $1`) imply NOT NULL and use these indexes.
-- (SQLite's migration of the same number also rewrites its CHECK constraints; PostgreSQL
-- evaluates `IN` lists without building anything.)
DROP INDEX leads_list_idx;
CREATE INDEX leads_list_idx ON leads (list_id) WHERE list_id IS NOT NULL;
DROP INDEX leads_assigned_idx;
CREATE INDEX leads_assigned_idx ON leads (assigned_user_id) WHERE assigned_user_id IS NOT NULL;
