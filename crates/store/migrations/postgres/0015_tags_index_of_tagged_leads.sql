-- The tags index holds only leads that have tags. A lead's update that PostgreSQL cannot make
-- in place (a status change, which is every dialer report and claim) inserts into every index
-- of the table, and a GIN index gives an empty array an entry of its own: most leads have no
-- tags, so that entry was written again on each of their updates and found by no query. Tag
-- filters say `tags <> '[]'` besides their `@>` (a lead that has a tag has tags), which lets
-- PostgreSQL use this index.
DROP INDEX leads_tags_idx;
CREATE INDEX leads_tags_idx ON leads USING GIN (tags) WHERE tags <> '[]'::jsonb;
