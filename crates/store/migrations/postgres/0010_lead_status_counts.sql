-- Live leads per client and status, kept as leads change, so a listing filtered on status alone
-- (or on nothing) reads its total from a few rows. An exact COUNT(*) over a client's leads
-- visits every row's heap tuple while a campaign keeps changing them: tens of milliseconds per
-- page at 100,000 leads. Writers only insert changes into lead_status_deltas (no shared row to
-- wait on); `counters::fold` folds them into lead_status_counts.
CREATE TABLE lead_status_counts (
    client_id BIGINT NOT NULL,
    status    TEXT NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (client_id, status)
);
CREATE TABLE lead_status_deltas (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id BIGINT NOT NULL,
    status    TEXT NOT NULL,
    n         BIGINT NOT NULL
);
CREATE INDEX lead_status_deltas_client_idx ON lead_status_deltas (client_id, status);

-- Inserts and deletes: statement-level, one delta row per statement, client and status (an
-- import inserts thousands of leads in one statement).
CREATE FUNCTION leads_count_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO lead_status_deltas (client_id, status, n)
        SELECT client_id, status, COUNT(*) FROM new_rows WHERE deleted_at IS NULL
        GROUP BY client_id, status;
    ELSE
        INSERT INTO lead_status_deltas (client_id, status, n)
        SELECT client_id, status, -COUNT(*) FROM old_rows WHERE deleted_at IS NULL
        GROUP BY client_id, status;
    END IF;
    RETURN NULL;
END $$;

-- Updates: row-level with a WHEN condition, so only a change of status, client or deletion
-- enters PL/pgSQL, and then with one plain insert (an external dialer's report updates one
-- lead per statement, thousands of times a second).
CREATE FUNCTION leads_count_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_status_deltas (client_id, status, n)
    SELECT v.client_id, v.status, v.n
    FROM (VALUES (OLD.client_id, OLD.status, -1, OLD.deleted_at IS NULL),
                 (NEW.client_id, NEW.status, 1, NEW.deleted_at IS NULL)) AS v(client_id, status, n, live)
    WHERE v.live;
    RETURN NULL;
END $$;

CREATE TRIGGER leads_count_insert AFTER INSERT ON leads REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION leads_count_changes();
CREATE TRIGGER leads_count_update AFTER UPDATE ON leads FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.client_id IS DISTINCT FROM NEW.client_id
          OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL))
    EXECUTE FUNCTION leads_count_changed();
CREATE TRIGGER leads_count_delete AFTER DELETE ON leads REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION leads_count_changes();

INSERT INTO lead_status_counts (client_id, status, n)
SELECT client_id, status, COUNT(*) FROM leads WHERE deleted_at IS NULL GROUP BY client_id, status;
