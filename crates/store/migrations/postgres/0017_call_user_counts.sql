-- Each client's calls (not deleted) counted per person and status, with their talk time, kept
-- as calls change: the people's panels (seed 001) and the bot log's stats read their all-time
-- totals from a few rows instead of counting every call at each request (about 0.2-0.4 s per
-- million calls, BENCHMARKS.md). user_id 0 is nobody. As for the other counts, writers only
-- insert deltas (once per statement) and `counters::fold` folds them in.
CREATE TABLE call_user_counts (
    client_id BIGINT NOT NULL,
    user_id   BIGINT NOT NULL,
    status    TEXT NOT NULL,
    n         BIGINT NOT NULL,
    talk      BIGINT NOT NULL,
    PRIMARY KEY (client_id, user_id, status)
);
CREATE TABLE call_user_deltas (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id BIGINT NOT NULL,
    user_id   BIGINT NOT NULL,
    status    TEXT NOT NULL,
    n         BIGINT NOT NULL,
    talk      BIGINT NOT NULL
);
CREATE INDEX call_user_deltas_client_idx ON call_user_deltas (client_id);

CREATE FUNCTION calls_user_counts_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO call_user_deltas (client_id, user_id, status, n, talk)
        SELECT client_id, COALESCE(user_id, 0), status, COUNT(*), COALESCE(SUM(duration_secs), 0)
        FROM new_rows WHERE deleted_at IS NULL GROUP BY 1, 2, 3;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO call_user_deltas (client_id, user_id, status, n, talk)
        SELECT client_id, COALESCE(user_id, 0), status, -COUNT(*), -COALESCE(SUM(duration_secs), 0)
        FROM old_rows WHERE deleted_at IS NULL GROUP BY 1, 2, 3;
    ELSE
        -- Only the calls whose counted columns changed: -1 for what they were, +1 for what
        -- they are.
        INSERT INTO call_user_deltas (client_id, user_id, status, n, talk)
        SELECT x.client_id, x.user_id, x.status, SUM(x.sign), SUM(x.sign * x.talk)
        FROM new_rows n JOIN old_rows o ON o.id = n.id,
             LATERAL (VALUES
                 (o.client_id, COALESCE(o.user_id, 0), o.status, -1, COALESCE(o.duration_secs, 0), o.deleted_at IS NULL),
                 (n.client_id, COALESCE(n.user_id, 0), n.status, 1, COALESCE(n.duration_secs, 0), n.deleted_at IS NULL))
                 AS x(client_id, user_id, status, sign, talk, live)
        WHERE x.live
          AND (o.client_id, o.user_id, o.status, o.duration_secs, o.deleted_at IS NULL)
              IS DISTINCT FROM (n.client_id, n.user_id, n.status, n.duration_secs, n.deleted_at IS NULL)
        GROUP BY 1, 2, 3
        HAVING SUM(x.sign) <> 0 OR SUM(x.sign * x.talk) <> 0;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER calls_user_counts_insert AFTER INSERT ON calls REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION calls_user_counts_changes();
CREATE TRIGGER calls_user_counts_update AFTER UPDATE ON calls REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION calls_user_counts_changes();
CREATE TRIGGER calls_user_counts_delete AFTER DELETE ON calls REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION calls_user_counts_changes();

INSERT INTO call_user_counts (client_id, user_id, status, n, talk)
SELECT client_id, COALESCE(user_id, 0), status, COUNT(*), COALESCE(SUM(duration_secs), 0)
FROM calls WHERE deleted_at IS NULL GROUP BY 1, 2, 3;
