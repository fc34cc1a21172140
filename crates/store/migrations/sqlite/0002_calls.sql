CREATE TABLE calls (
    id               INTEGER PRIMARY KEY,
    client_id        INTEGER NOT NULL REFERENCES clients(id),
    provider         TEXT NOT NULL,
    provider_call_id TEXT,
    direction        TEXT NOT NULL DEFAULT 'outbound' CHECK (direction IN ('inbound', 'outbound')),
    from_number      TEXT,
    to_number        TEXT,
    lead_id          INTEGER REFERENCES leads(id),
    user_id          INTEGER REFERENCES users(id),
    status           TEXT NOT NULL
                     CHECK (status IN ('initiated', 'ringing', 'answered', 'completed', 'busy', 'no-answer', 'failed', 'canceled')),
    -- The word a surface wrote (seed 004's bot), read back to that surface.
    surface_status   TEXT,
    started_at       TEXT NOT NULL,
    answered_at      TEXT,
    ended_at         TEXT,
    duration_secs    INTEGER,
    hangup_cause     TEXT,
    recording_url    TEXT,
    transcript       TEXT NOT NULL DEFAULT '',
    notes            TEXT,
    language         TEXT,
    satisfaction     TEXT,
    metadata         TEXT NOT NULL DEFAULT '{}',
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    deleted_at       TEXT
);
CREATE UNIQUE INDEX calls_provider_call_key ON calls (provider, provider_call_id);
CREATE INDEX calls_provider_call_idx ON calls (provider_call_id);
-- Listings: a client's calls that are not deleted, newest first (also by status).
CREATE INDEX calls_client_started_idx ON calls (client_id, started_at) WHERE deleted_at IS NULL;
CREATE INDEX calls_client_status_idx ON calls (client_id, status, started_at) WHERE deleted_at IS NULL;
CREATE INDEX calls_lead_idx ON calls (lead_id);
-- Phone search by prefix.
CREATE INDEX calls_client_to_idx ON calls (client_id, to_number) WHERE deleted_at IS NULL;
CREATE INDEX calls_client_from_idx ON calls (client_id, from_number) WHERE deleted_at IS NULL;
-- A lead is never in two live calls at once, whichever instance places them.
CREATE UNIQUE INDEX calls_one_live_per_lead ON calls (lead_id) WHERE status IN ('initiated', 'ringing', 'answered');
CREATE INDEX calls_user_idx ON calls (user_id, started_at);

-- Every status change and webhook, stored once per (provider, call id, event).
CREATE TABLE call_events (
    id               INTEGER PRIMARY KEY,
    call_id          INTEGER REFERENCES calls(id),
    provider         TEXT NOT NULL,
    provider_call_id TEXT NOT NULL,
    event            TEXT NOT NULL,
    status           TEXT NOT NULL,
    occurred_at      TEXT NOT NULL,
    payload          TEXT NOT NULL DEFAULT '{}',
    created_at       TEXT NOT NULL,
    UNIQUE (provider, provider_call_id, event)
);
CREATE INDEX call_events_call_idx ON call_events (call_id, occurred_at);
