-- Each client's calls (not deleted), counted as calls are logged, so a call log listing with no
-- filter reads its total from a few rows. Counting the matches instead (up to 10,000, the bot
-- log's cap) read thousands of rows per page while a campaign or a dialer added hundreds a
-- second: the slowest route during a campaign (p99 56 ms, BENCHMARKS.md). As for leads, writers
-- only insert deltas and `counters::fold` folds them in.
CREATE TABLE call_totals (
    client_id BIGINT PRIMARY KEY,
    n         BIGINT NOT NULL
);
CREATE TABLE call_total_deltas (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id BIGINT NOT NULL,
    n         BIGINT NOT NULL
);
CREATE INDEX call_total_deltas_client_idx ON call_total_deltas (client_id);

-- Inserts and deletes: once per statement (a batch of reports or a dialer round inserts many).
CREATE FUNCTION calls_total_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO call_total_deltas (client_id, n)
        SELECT client_id, COUNT(*) FROM new_rows WHERE deleted_at IS NULL GROUP BY client_id;
    ELSE
        INSERT INTO call_total_deltas (client_id, n)
        SELECT client_id, -COUNT(*) FROM old_rows WHERE deleted_at IS NULL GROUP BY client_id;
    END IF;
    RETURN NULL;
END $$;

-- Updates: row by row, and only when a call is deleted, restored or moves to another client
-- (status changes, thousands a second, never enter PL/pgSQL).
CREATE FUNCTION calls_total_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO call_total_deltas (client_id, n)
    SELECT v.client_id, v.n
    FROM (VALUES (OLD.client_id, -1, OLD.deleted_at IS NULL),
                 (NEW.client_id, 1, NEW.deleted_at IS NULL)) AS v(client_id, n, live)
    WHERE v.live;
    RETURN NULL;
END $$;

CREATE TRIGGER calls_total_insert AFTER INSERT ON calls REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION calls_total_changes();
CREATE TRIGGER calls_total_delete AFTER DELETE ON calls REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION calls_total_changes();
CREATE TRIGGER calls_total_update AFTER UPDATE ON calls FOR EACH ROW
    WHEN (OLD.client_id IS DISTINCT FROM NEW.client_id
          OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL))
    EXECUTE FUNCTION calls_total_changed();

INSERT INTO call_totals (client_id, n)
SELECT client_id, COUNT(*) FROM calls WHERE deleted_at IS NULL GROUP BY client_id;
