-- The queue in two parts: fresh leads in id order, and leads waiting for a retry or an opening
-- in the order they fall due. Before, leads waiting for a retry stayed at the front of one
-- id-ordered index and every claim stepped over all of them.
DROP INDEX leads_queue_idx;
CREATE INDEX leads_queue_idx ON leads (client_id, priority, id) WHERE status = 'pending' AND deleted_at IS NULL AND next_attempt_at IS NULL;
CREATE INDEX leads_due_idx ON leads (client_id, priority, next_attempt_at) WHERE status = 'pending' AND deleted_at IS NULL AND next_attempt_at IS NOT NULL;
