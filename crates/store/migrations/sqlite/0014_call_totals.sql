-- PostgreSQL only (calls per client kept as deltas); SQLite counts calls from its index.
SELECT 1;
