-- Counts answered from an index alone, without reading rows:
-- a campaign's call statistics (counts per status, average talk time);
DROP INDEX calls_campaign_idx;
CREATE INDEX calls_campaign_idx ON calls (campaign_id, status, duration_secs) WHERE campaign_id IS NOT NULL;
-- and leads per status (every listing leaves soft-deleted leads out, so the index does too).
DROP INDEX leads_client_status_idx;
CREATE INDEX leads_client_status_idx ON leads (client_id, status, priority) WHERE deleted_at IS NULL;
DROP INDEX leads_client_created_idx;
CREATE INDEX leads_client_created_idx ON leads (client_id, created_at) WHERE deleted_at IS NULL;
