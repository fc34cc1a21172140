-- The dialer: retry rules and queue state per client, batches for external dialers, campaigns,
-- concurrency slots counted in the database, and the instances that share the work.

CREATE TABLE dialer_settings (
    client_id    INTEGER PRIMARY KEY REFERENCES clients(id),
    -- Retry rules per outcome and the daily cap, as the document admins edit.
    rules        TEXT NOT NULL DEFAULT '{}',
    -- Seed 001's call queue: the server dials this client's pending leads while it runs.
    queue_running INTEGER NOT NULL DEFAULT 0,
    queue_max_concurrent INTEGER NOT NULL DEFAULT 5 CHECK (queue_max_concurrent >= 0),
    updated_at   TEXT NOT NULL
);

-- Seed 002: numbers handed to an external dialer; unreported numbers return to the queue when
-- the lease ends.
CREATE TABLE batches (
    id             TEXT PRIMARY KEY,
    client_id      INTEGER NOT NULL REFERENCES clients(id),
    key_id         INTEGER REFERENCES api_keys(id),
    size_requested INTEGER NOT NULL,
    size_returned  INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL
);
CREATE INDEX batches_client_idx ON batches (client_id, created_at);

ALTER TABLE leads ADD COLUMN batch_id TEXT;
ALTER TABLE leads ADD COLUMN leased_until TEXT;
-- Why next_attempt_at is set: 'retry' (a rule's delay), 'window' (closed where the lead is),
-- 'cap' (the day's attempts are used up).
ALTER TABLE leads ADD COLUMN wait_reason TEXT;
-- The queue's order: by priority, oldest first, over pending leads only.
CREATE INDEX leads_queue_idx ON leads (client_id, priority, id) WHERE status = 'pending' AND deleted_at IS NULL;
CREATE INDEX leads_lease_idx ON leads (leased_until) WHERE batch_id IS NOT NULL;

CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    hostname     TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    stopped_at   TEXT
);

CREATE TABLE campaigns (
    id              INTEGER PRIMARY KEY,
    client_id       INTEGER NOT NULL REFERENCES clients(id),
    name            TEXT NOT NULL,
    list_id         INTEGER REFERENCES lists(id),
    from_number     TEXT NOT NULL,
    wss_url         TEXT,
    status          TEXT NOT NULL CHECK (status IN ('running', 'paused', 'completed', 'cancelled', 'failed')),
    max_concurrent  INTEGER NOT NULL CHECK (max_concurrent >= 0),
    total_contacts  INTEGER NOT NULL DEFAULT 0,
    current_index   INTEGER NOT NULL DEFAULT 0,
    owner_instance  TEXT,
    heartbeat_at    TEXT,
    created_by      INTEGER REFERENCES users(id),
    started_at      TEXT NOT NULL,
    paused_at       TEXT,
    paused_by       TEXT,
    resumed_at      TEXT,
    completed_at    TEXT,
    last_activity_at TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX campaigns_client_idx ON campaigns (client_id, created_at);
CREATE INDEX campaigns_status_idx ON campaigns (status);

-- A campaign's contacts in dialing order: 'pending' (to dial), 'waiting' (outside the lead's
-- window or over its cap until not_before), 'called', 'skipped' (do-not-call, deleted).
CREATE TABLE campaign_leads (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    position    INTEGER NOT NULL,
    lead_id     INTEGER NOT NULL REFERENCES leads(id),
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'waiting', 'called', 'skipped')),
    not_before  TEXT,
    call_id     INTEGER,
    note        TEXT,
    PRIMARY KEY (campaign_id, position)
);
CREATE INDEX campaign_leads_state_idx ON campaign_leads (campaign_id, state, position);

-- Concurrency slots held by live calls: scope 'global' (key 0), 'client' (client id) and
-- 'campaign' (campaign id). A call takes its slots in the transaction that creates it and gives
-- them back in the one that ends it.
CREATE TABLE concurrency (
    scope  TEXT NOT NULL,
    key    INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, key)
);

ALTER TABLE calls ADD COLUMN campaign_id INTEGER REFERENCES campaigns(id);
ALTER TABLE calls ADD COLUMN instance_id TEXT;
-- Which slots this call holds until it ends: 0 none, 1 global + client, 2 also its campaign's.
ALTER TABLE calls ADD COLUMN slots INTEGER NOT NULL DEFAULT 0;
CREATE INDEX calls_campaign_idx ON calls (campaign_id, status) WHERE campaign_id IS NOT NULL;
CREATE INDEX calls_live_idx ON calls (started_at) WHERE status IN ('initiated', 'ringing', 'answered');
