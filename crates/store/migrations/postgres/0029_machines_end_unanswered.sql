-- A call an answering machine took had no conversation: it ends `no-answer`, not `completed`
-- (core `CallStatus::ended_by`), so that no count of conversations — a campaign's connected
-- calls, the people's panels, the call log's stats, the reports — takes it for one. Calls
-- that ended before this rule are brought in line; the counting triggers follow the change.
UPDATE calls SET status = 'no-answer'
WHERE status = 'completed'
  AND answered_by IS NOT NULL
  AND (LOWER(TRIM(answered_by)) LIKE 'machine%' OR LOWER(TRIM(answered_by)) = 'fax');
