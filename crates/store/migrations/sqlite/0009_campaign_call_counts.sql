-- A campaign's calls counted as they change, so its progress reads one row instead of
-- aggregating every call it placed (which rows change every second while it runs).
-- live: initiated, ringing, answered; connected: completed; failed: every other ending.
-- talk_calls and talk_secs: completed calls with a duration, and the sum of those durations.
CREATE TABLE campaign_call_counts (
    campaign_id INTEGER PRIMARY KEY REFERENCES campaigns(id) ON DELETE CASCADE,
    total       INTEGER NOT NULL DEFAULT 0,
    live        INTEGER NOT NULL DEFAULT 0,
    connected   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    talk_calls  INTEGER NOT NULL DEFAULT 0,
    talk_secs   INTEGER NOT NULL DEFAULT 0
);

-- On PostgreSQL, writers add changes here and `campaigns::fold_call_counts` folds them in, so
-- concurrent writers never wait on a shared counts row. SQLite has one writer at a time: its
-- triggers update the counts in place and this stays empty (it keeps one read path for both).
CREATE TABLE campaign_call_deltas (
    id          INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL,
    total       INTEGER NOT NULL,
    live        INTEGER NOT NULL,
    connected   INTEGER NOT NULL,
    failed      INTEGER NOT NULL,
    talk_calls  INTEGER NOT NULL,
    talk_secs   INTEGER NOT NULL
);
CREATE INDEX campaign_call_deltas_campaign_idx ON campaign_call_deltas (campaign_id);

INSERT INTO campaign_call_counts (campaign_id, total, live, connected, failed, talk_calls, talk_secs)
SELECT campaigns.id,
       COUNT(calls.id),
       COALESCE(SUM(calls.status IN ('initiated', 'ringing', 'answered')), 0),
       COALESCE(SUM(calls.status = 'completed'), 0),
       COALESCE(SUM(calls.status NOT IN ('initiated', 'ringing', 'answered', 'completed')), 0),
       COALESCE(SUM(calls.status = 'completed' AND calls.duration_secs IS NOT NULL), 0),
       COALESCE(SUM(CASE WHEN calls.status = 'completed' THEN calls.duration_secs END), 0)
FROM campaigns LEFT JOIN calls ON calls.campaign_id = campaigns.id
GROUP BY campaigns.id;

CREATE TRIGGER calls_count_insert AFTER INSERT ON calls WHEN NEW.campaign_id IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO campaign_call_counts (campaign_id) VALUES (NEW.campaign_id);
    UPDATE campaign_call_counts SET
        total = total + 1,
        live = live + (NEW.status IN ('initiated', 'ringing', 'answered')),
        connected = connected + (NEW.status = 'completed'),
        failed = failed + (NEW.status NOT IN ('initiated', 'ringing', 'answered', 'completed')),
        talk_calls = talk_calls + (NEW.status = 'completed' AND NEW.duration_secs IS NOT NULL),
        talk_secs = talk_secs + (CASE WHEN NEW.status = 'completed' THEN COALESCE(NEW.duration_secs, 0) ELSE 0 END)
    WHERE campaign_id = NEW.campaign_id;
END;

CREATE TRIGGER calls_count_update AFTER UPDATE OF status, duration_secs, campaign_id ON calls
WHEN (OLD.campaign_id IS NOT NULL OR NEW.campaign_id IS NOT NULL)
 AND (OLD.status IS NOT NEW.status OR OLD.duration_secs IS NOT NEW.duration_secs
      OR OLD.campaign_id IS NOT NEW.campaign_id)
BEGIN
    UPDATE campaign_call_counts SET
        total = total - 1,
        live = live - (OLD.status IN ('initiated', 'ringing', 'answered')),
        connected = connected - (OLD.status = 'completed'),
        failed = failed - (OLD.status NOT IN ('initiated', 'ringing', 'answered', 'completed')),
        talk_calls = talk_calls - (OLD.status = 'completed' AND OLD.duration_secs IS NOT NULL),
        talk_secs = talk_secs - (CASE WHEN OLD.status = 'completed' THEN COALESCE(OLD.duration_secs, 0) ELSE 0 END)
    WHERE campaign_id = OLD.campaign_id;
    INSERT OR IGNORE INTO campaign_call_counts (campaign_id)
        SELECT NEW.campaign_id WHERE NEW.campaign_id IS NOT NULL;
    UPDATE campaign_call_counts SET
        total = total + 1,
        live = live + (NEW.status IN ('initiated', 'ringing', 'answered')),
        connected = connected + (NEW.status = 'completed'),
        failed = failed + (NEW.status NOT IN ('initiated', 'ringing', 'answered', 'completed')),
        talk_calls = talk_calls + (NEW.status = 'completed' AND NEW.duration_secs IS NOT NULL),
        talk_secs = talk_secs + (CASE WHEN NEW.status = 'completed' THEN COALESCE(NEW.duration_secs, 0) ELSE 0 END)
    WHERE campaign_id = NEW.campaign_id;
END;

CREATE TRIGGER calls_count_delete AFTER DELETE ON calls WHEN OLD.campaign_id IS NOT NULL
BEGIN
    UPDATE campaign_call_counts SET
        total = total - 1,
        live = live - (OLD.status IN ('initiated', 'ringing', 'answered')),
        connected = connected - (OLD.status = 'completed'),
        failed = failed - (OLD.status NOT IN ('initiated', 'ringing', 'answered', 'completed')),
        talk_calls = talk_calls - (OLD.status = 'completed' AND OLD.duration_secs IS NOT NULL),
        talk_secs = talk_secs - (CASE WHEN OLD.status = 'completed' THEN COALESCE(OLD.duration_secs, 0) ELSE 0 END)
    WHERE campaign_id = OLD.campaign_id;
END;
