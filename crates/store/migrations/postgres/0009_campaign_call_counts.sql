-- A campaign's calls counted as they change, so its progress reads one row instead of
-- aggregating every call it placed (which rows change every second while it runs).
-- live: initiated, ringing, answered; connected: completed; failed: every other ending.
-- talk_calls and talk_secs: completed calls with a duration, and the sum of those durations.
CREATE TABLE campaign_call_counts (
    campaign_id BIGINT PRIMARY KEY REFERENCES campaigns(id) ON DELETE CASCADE,
    total       BIGINT NOT NULL DEFAULT 0,
    live        BIGINT NOT NULL DEFAULT 0,
    connected   BIGINT NOT NULL DEFAULT 0,
    failed      BIGINT NOT NULL DEFAULT 0,
    talk_calls  BIGINT NOT NULL DEFAULT 0,
    talk_secs   BIGINT NOT NULL DEFAULT 0
);

-- Changes since the counts were last folded in (`campaigns::fold_call_counts`): writers only
-- ever insert here, so transactions placing calls and applying their events never wait on
-- one another for a shared counts row (and cannot deadlock on it). A campaign's counts are its
-- row in campaign_call_counts plus its rows here.
CREATE TABLE campaign_call_deltas (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id BIGINT NOT NULL,
    total       BIGINT NOT NULL,
    live        BIGINT NOT NULL,
    connected   BIGINT NOT NULL,
    failed      BIGINT NOT NULL,
    talk_calls  BIGINT NOT NULL,
    talk_secs   BIGINT NOT NULL
);
CREATE INDEX campaign_call_deltas_campaign_idx ON campaign_call_deltas (campaign_id);

-- Records signed call images: +1 for a call as it is now, -1 for what it was.
CREATE FUNCTION calls_count_merge(campaign BIGINT[], sign INT[], status TEXT[], duration BIGINT[])
RETURNS void LANGUAGE sql AS $$
    INSERT INTO campaign_call_deltas (campaign_id, total, live, connected, failed, talk_calls, talk_secs)
    SELECT d.campaign_id,
           SUM(d.sign),
           COALESCE(SUM(d.sign) FILTER (WHERE d.status IN ('initiated', 'ringing', 'answered')), 0),
           COALESCE(SUM(d.sign) FILTER (WHERE d.status = 'completed'), 0),
           COALESCE(SUM(d.sign) FILTER (WHERE d.status NOT IN ('initiated', 'ringing', 'answered', 'completed')), 0),
           COALESCE(SUM(d.sign) FILTER (WHERE d.status = 'completed' AND d.duration_secs IS NOT NULL), 0),
           COALESCE(SUM(d.sign * d.duration_secs) FILTER (WHERE d.status = 'completed'), 0)
    FROM unnest(campaign, sign, status, duration) AS d(campaign_id, sign, status, duration_secs)
    GROUP BY d.campaign_id;
$$;

-- A call placed for a campaign: one delta row. Row-level with a WHEN condition, so the many
-- calls that belong to no campaign (an external dialer's reports) never enter PL/pgSQL.
CREATE FUNCTION calls_count_placed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM calls_count_merge(ARRAY[NEW.campaign_id], ARRAY[1], ARRAY[NEW.status], ARRAY[NEW.duration_secs]);
    RETURN NULL;
END $$;

-- Changes and deletes: statement-level, one delta row per statement and campaign (a batch of
-- webhook events updates hundreds of calls in one statement).
CREATE FUNCTION calls_count_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM calls_count_merge(array_agg(campaign_id), array_agg(-1), array_agg(status), array_agg(duration_secs))
        FROM old_rows WHERE campaign_id IS NOT NULL HAVING COUNT(*) > 0;
    ELSE
        PERFORM calls_count_merge(array_agg(d.campaign_id), array_agg(d.sign), array_agg(d.status), array_agg(d.duration_secs))
        FROM (
            SELECT x.campaign_id, x.sign, x.status, x.duration_secs
            FROM new_rows n JOIN old_rows o ON o.id = n.id,
                 LATERAL (VALUES (o.campaign_id, -1, o.status, o.duration_secs),
                                 (n.campaign_id, 1, n.status, n.duration_secs))
                     AS x(campaign_id, sign, status, duration_secs)
            WHERE (o.status IS DISTINCT FROM n.status
                   OR o.duration_secs IS DISTINCT FROM n.duration_secs
                   OR o.campaign_id IS DISTINCT FROM n.campaign_id)
              AND x.campaign_id IS NOT NULL
        ) d HAVING COUNT(*) > 0;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER calls_count_insert AFTER INSERT ON calls
    FOR EACH ROW WHEN (NEW.campaign_id IS NOT NULL) EXECUTE FUNCTION calls_count_placed();
CREATE TRIGGER calls_count_update AFTER UPDATE ON calls REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION calls_count_changes();
CREATE TRIGGER calls_count_delete AFTER DELETE ON calls REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION calls_count_changes();

INSERT INTO campaign_call_counts (campaign_id, total, live, connected, failed, talk_calls, talk_secs)
SELECT campaigns.id,
       COUNT(calls.id),
       COUNT(*) FILTER (WHERE calls.status IN ('initiated', 'ringing', 'answered')),
       COUNT(*) FILTER (WHERE calls.status = 'completed'),
       COUNT(*) FILTER (WHERE calls.status NOT IN ('initiated', 'ringing', 'answered', 'completed')),
       COUNT(*) FILTER (WHERE calls.status = 'completed' AND calls.duration_secs IS NOT NULL),
       COALESCE(SUM(calls.duration_secs) FILTER (WHERE calls.status = 'completed'), 0)
FROM campaigns LEFT JOIN calls ON calls.campaign_id = campaigns.id
GROUP BY campaigns.id;
