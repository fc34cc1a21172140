-- PostgreSQL only (its tags index holds only leads with tags); SQLite has no tags index.
SELECT 1;
