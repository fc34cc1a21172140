-- Lead status counts: updates are counted once per statement, like inserts and deletes.
-- Leads now change in batches: `next-batch` claims up to hundreds in one UPDATE, and an external
-- dialer's reports are written several per statement. Row by row, each changed lead ran the
-- PL/pgSQL function and inserted two delta rows (a claim of 100 leads: 100 calls, 200 rows);
-- per statement it is one call inserting one row per client and status whose count moved. A
-- statement that changes no status (an edit of names or notes) inserts nothing.
DROP TRIGGER leads_count_update ON leads;
DROP FUNCTION leads_count_changed();

CREATE FUNCTION leads_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_status_deltas (client_id, status, n)
    SELECT client_id, status, SUM(n) FROM (
        SELECT client_id, status, -1 AS n FROM old_rows WHERE deleted_at IS NULL
        UNION ALL
        SELECT client_id, status, 1 FROM new_rows WHERE deleted_at IS NULL
    ) AS moved
    GROUP BY client_id, status
    HAVING SUM(n) <> 0;
    RETURN NULL;
END $$;

CREATE TRIGGER leads_count_update AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION leads_count_updated();
