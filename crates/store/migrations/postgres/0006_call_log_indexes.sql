-- The call log filtered by direction and status (bot log `type` + `status`): counted from the
-- index alone, and one direction with one status is read newest first without sorting.
CREATE INDEX calls_client_direction_status_idx ON calls (client_id, direction, status, started_at) WHERE deleted_at IS NULL;
