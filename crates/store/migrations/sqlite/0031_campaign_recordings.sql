-- A campaign's own choice of recording its calls; NULL: the server's default
-- (`SWITCHBOARD_RECORD_CALLS`).
ALTER TABLE campaigns ADD COLUMN record_calls BOOLEAN;
