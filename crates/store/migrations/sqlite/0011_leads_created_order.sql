-- PostgreSQL adds id to the leads creation-date index so a page sorted on (created_at, id) is
-- read in order. SQLite's indexes end in the row id already: this migration only keeps the two
-- dialects' migration numbers in step.
SELECT 1;
