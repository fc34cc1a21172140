-- PostgreSQL keeps live leads per client and status in counters (its COUNT(*) visits every
-- row while a campaign keeps changing them). SQLite counts from its covering status index,
-- which needs no visibility checks, so it keeps no counters: this migration only keeps the two
-- dialects' migration numbers in step.
SELECT 1;
