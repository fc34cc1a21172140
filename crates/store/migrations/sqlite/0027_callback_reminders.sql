-- Call backs still to be announced: one row per lead with a call back set, taken (deleted) by
-- the first instance to find it due, which tells the lead's agent. Apart from `leads` so that
-- finding the due ones reads this small table, and imports and other changes of leads pay
-- nothing for it. A row whose lead no longer waits for that call back is dropped when due.
CREATE TABLE callback_reminders (
    lead_id   INTEGER PRIMARY KEY,
    client_id INTEGER NOT NULL,
    due_at    TEXT NOT NULL
);
CREATE INDEX callback_reminders_due_idx ON callback_reminders (due_at);

-- Call backs set before this table: reminded too (one already due, at once).
INSERT INTO callback_reminders (lead_id, client_id, due_at)
SELECT id, client_id, next_attempt_at FROM leads
WHERE wait_reason = 'callback' AND next_attempt_at IS NOT NULL
  AND status = 'pending' AND deleted_at IS NULL;
