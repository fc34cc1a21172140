-- SQLite evaluates a CHECK constraint `col IN ('a', 'b', 'c', ...)` by building a temporary
-- B-tree of the list for every row it writes: opening it, filling it and freeing it cost more
-- than a fifth of a bulk insert into `leads`. The same constraints written as `col = 'a' OR
-- col = 'b' ...` are plain comparisons. They accept exactly the same values, so no stored row
-- changes; SQLite's documented procedure for changing a CHECK constraint edits the table's
-- definition in place (https://sqlite.org/lang_altertable.html#otheralter). `RESET` turns
-- schema writing off again and makes this connection reload the definitions; the index
-- changes below bump the schema cookie so every other connection reloads them too.
PRAGMA writable_schema = ON;

UPDATE sqlite_schema
SET sql = replace(replace(sql,
    'CHECK (priority IN (''urgent'', ''high'', ''medium'', ''low''))',
    'CHECK (priority = ''urgent'' OR priority = ''high'' OR priority = ''medium'' OR priority = ''low'')'),
    'CHECK (status IN (''pending'', ''claimed'', ''calling'', ''answered'', ''transferred'', ''failed''))',
    'CHECK (status = ''pending'' OR status = ''claimed'' OR status = ''calling'' OR status = ''answered'' OR status = ''transferred'' OR status = ''failed'')')
WHERE type = 'table' AND name = 'leads';

UPDATE sqlite_schema
SET sql = replace(replace(sql,
    'CHECK (direction IN (''inbound'', ''outbound''))',
    'CHECK (direction = ''inbound'' OR direction = ''outbound'')'),
    'CHECK (status IN (''initiated'', ''ringing'', ''answered'', ''completed'', ''busy'', ''no-answer'', ''failed'', ''canceled''))',
    'CHECK (status = ''initiated'' OR status = ''ringing'' OR status = ''answered'' OR status = ''completed'' OR status = ''busy'' OR status = ''no-answer'' OR status = ''failed'' OR status = ''canceled'')')
WHERE type = 'table' AND name = 'calls';

UPDATE sqlite_schema
SET sql = replace(sql,
    'CHECK (state IN (''pending'', ''waiting'', ''called'', ''skipped''))',
    'CHECK (state = ''pending'' OR state = ''waiting'' OR state = ''called'' OR state = ''skipped'')')
WHERE type = 'table' AND name = 'campaign_leads';

PRAGMA writable_schema = RESET;

-- Most leads belong to no list and no agent: index only those that do. Lookups on a list or
-- an agent (`list_id = ?`, `assigned_user_id = ?`) imply NOT NULL and use these indexes.
DROP INDEX leads_list_idx;
CREATE INDEX leads_list_idx ON leads (list_id) WHERE list_id IS NOT NULL;
DROP INDEX leads_assigned_idx;
CREATE INDEX leads_assigned_idx ON leads (assigned_user_id) WHERE assigned_user_id IS NOT NULL;
