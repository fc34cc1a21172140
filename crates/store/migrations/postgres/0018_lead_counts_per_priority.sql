-- Live leads counted per client, status and priority (before: per client and status), so the
-- admin dashboard's priority breakdown and a total filtered on priority (seed 001's available
-- leads with `priority=high`) read a few rows instead of visiting every lead's heap tuple. The
-- triggers and the fold are those of migrations 0010 and 0013 with the priority added; an
-- update that changes only a lead's priority now moves its count too.
DROP TABLE lead_status_counts;
DROP TABLE lead_status_deltas;
CREATE TABLE lead_status_counts (
    client_id BIGINT NOT NULL,
    status    TEXT NOT NULL,
    priority  TEXT NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (client_id, status, priority)
);
CREATE TABLE lead_status_deltas (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id BIGINT NOT NULL,
    status    TEXT NOT NULL,
    priority  TEXT NOT NULL,
    n         BIGINT NOT NULL
);
CREATE INDEX lead_status_deltas_client_idx ON lead_status_deltas (client_id, status);

CREATE OR REPLACE FUNCTION leads_count_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO lead_status_deltas (client_id, status, priority, n)
        SELECT client_id, status, priority, COUNT(*) FROM new_rows WHERE deleted_at IS NULL
        GROUP BY client_id, status, priority;
    ELSE
        INSERT INTO lead_status_deltas (client_id, status, priority, n)
        SELECT client_id, status, priority, -COUNT(*) FROM old_rows WHERE deleted_at IS NULL
        GROUP BY client_id, status, priority;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION leads_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_status_deltas (client_id, status, priority, n)
    SELECT client_id, status, priority, SUM(n) FROM (
        SELECT client_id, status, priority, -1 AS n FROM old_rows WHERE deleted_at IS NULL
        UNION ALL
        SELECT client_id, status, priority, 1 FROM new_rows WHERE deleted_at IS NULL
    ) AS moved
    GROUP BY client_id, status, priority
    HAVING SUM(n) <> 0;
    RETURN NULL;
END $$;

INSERT INTO lead_status_counts (client_id, status, priority, n)
SELECT client_id, status, priority, COUNT(*) FROM leads WHERE deleted_at IS NULL
GROUP BY client_id, status, priority;
