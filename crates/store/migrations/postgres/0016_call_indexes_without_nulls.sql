-- Fewer index entries per call. Every call row enters each index of `calls`; three of them
-- held entries that no query can find:
-- * `calls_provider_call_idx` (the provider's call id alone) repeated `calls_provider_call_key`
--   (provider, call id): the one lookup without a provider now names the known providers
--   (`store::calls::PROVIDERS`), which that key answers with one probe each.
-- * the agent index held every call without an agent (campaign, bot and dialer-report calls);
-- * the caller-number index held every call without a caller number (dialer reports).
-- Every query on these columns compares them (`user_id = …`, `from_number >= …`), which
-- implies IS NOT NULL, so both planners use the partial indexes.
DROP INDEX calls_provider_call_idx;
DROP INDEX calls_user_idx;
CREATE INDEX calls_user_idx ON calls (user_id, started_at) WHERE user_id IS NOT NULL;
DROP INDEX calls_client_from_idx;
CREATE INDEX calls_client_from_idx ON calls (client_id, from_number) WHERE deleted_at IS NULL AND from_number IS NOT NULL;
