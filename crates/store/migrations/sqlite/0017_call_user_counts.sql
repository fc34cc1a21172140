-- Each client's calls (not deleted) counted per person and status, with their talk time, kept
-- as calls change: the people's panels (seed 001) and the bot log's stats read their all-time
-- totals from a few rows instead of counting every call at each request (about 1 s per
-- million calls, BENCHMARKS.md). user_id 0 is nobody. SQLite has one writer at a time: the
-- triggers update the counts in place.
CREATE TABLE call_user_counts (
    client_id INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    status    TEXT NOT NULL,
    n         INTEGER NOT NULL,
    talk      INTEGER NOT NULL,
    PRIMARY KEY (client_id, user_id, status)
) WITHOUT ROWID;

INSERT INTO call_user_counts (client_id, user_id, status, n, talk)
SELECT client_id, COALESCE(user_id, 0), status, COUNT(*), COALESCE(SUM(duration_secs), 0)
FROM calls WHERE deleted_at IS NULL GROUP BY 1, 2, 3;

CREATE TRIGGER calls_user_counts_insert AFTER INSERT ON calls WHEN NEW.deleted_at IS NULL
BEGIN
    INSERT INTO call_user_counts (client_id, user_id, status, n, talk)
    VALUES (NEW.client_id, COALESCE(NEW.user_id, 0), NEW.status, 1, COALESCE(NEW.duration_secs, 0))
    ON CONFLICT (client_id, user_id, status) DO UPDATE SET n = n + 1, talk = talk + excluded.talk;
END;

CREATE TRIGGER calls_user_counts_delete AFTER DELETE ON calls WHEN OLD.deleted_at IS NULL
BEGIN
    UPDATE call_user_counts SET n = n - 1, talk = talk - COALESCE(OLD.duration_secs, 0)
    WHERE client_id = OLD.client_id AND user_id = COALESCE(OLD.user_id, 0) AND status = OLD.status;
END;

-- Only when a counted column changes: most updates (notes, transcripts, recordings) do not.
CREATE TRIGGER calls_user_counts_update
AFTER UPDATE OF client_id, user_id, status, duration_secs, deleted_at ON calls
WHEN OLD.client_id IS NOT NEW.client_id OR OLD.user_id IS NOT NEW.user_id
  OR OLD.status IS NOT NEW.status OR OLD.duration_secs IS NOT NEW.duration_secs
  OR (OLD.deleted_at IS NULL) IS NOT (NEW.deleted_at IS NULL)
BEGIN
    UPDATE call_user_counts SET n = n - 1, talk = talk - COALESCE(OLD.duration_secs, 0)
    WHERE OLD.deleted_at IS NULL AND client_id = OLD.client_id
      AND user_id = COALESCE(OLD.user_id, 0) AND status = OLD.status;
    INSERT INTO call_user_counts (client_id, user_id, status, n, talk)
    SELECT NEW.client_id, COALESCE(NEW.user_id, 0), NEW.status, 1, COALESCE(NEW.duration_secs, 0)
    WHERE NEW.deleted_at IS NULL
    ON CONFLICT (client_id, user_id, status) DO UPDATE SET n = n + 1, talk = talk + excluded.talk;
END;
