-- PostgreSQL only (lead status counts kept per statement); SQLite counts leads from its index.
SELECT 1;
