-- The audit log is read back (`GET /api/audit`), most often for one thing's history: a lead's,
-- a user's. This finds a thing's entries, newest first, without reading the client's whole log.
CREATE INDEX audit_log_entity_idx ON audit_log (client_id, entity, entity_id, created_at);
