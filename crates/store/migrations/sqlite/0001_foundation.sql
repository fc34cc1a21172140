-- Timestamps are UTC, written by the application in one RFC 3339 form so they sort as text.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE clients (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    max_concurrent_calls INTEGER NOT NULL DEFAULT 10 CHECK (max_concurrent_calls >= 0),
    timezone             TEXT,
    is_active            BOOLEAN NOT NULL DEFAULT TRUE,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    client_id     INTEGER NOT NULL REFERENCES clients(id),
    username      TEXT NOT NULL,
    email         TEXT,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('super_admin', 'admin', 'operator')),
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    phone_number  TEXT,
    agent_id      TEXT,
    is_active     BOOLEAN NOT NULL DEFAULT TRUE,
    is_available  BOOLEAN NOT NULL DEFAULT TRUE,
    last_login_at TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_client_idx ON users (client_id, role);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    client_id    INTEGER NOT NULL REFERENCES clients(id),
    kind         TEXT NOT NULL CHECK (kind IN ('api', 'dialer', 'bot')),
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    created_by   INTEGER REFERENCES users(id),
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX api_keys_client_idx ON api_keys (client_id);

CREATE TABLE lists (
    id          INTEGER PRIMARY KEY,
    client_id   INTEGER NOT NULL REFERENCES clients(id),
    name        TEXT NOT NULL,
    description TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (client_id, name)
);

CREATE TABLE leads (
    id               INTEGER PRIMARY KEY,
    client_id        INTEGER NOT NULL REFERENCES clients(id),
    list_id          INTEGER REFERENCES lists(id) ON DELETE SET NULL,
    phone            TEXT NOT NULL,
    name             TEXT,
    email            TEXT,
    priority         TEXT NOT NULL DEFAULT 'medium' CHECK (priority IN ('urgent', 'high', 'medium', 'low')),
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'claimed', 'calling', 'answered', 'transferred', 'failed')),
    disposition      TEXT,
    tags             TEXT NOT NULL DEFAULT '[]',
    timezone         TEXT,
    assigned_user_id INTEGER REFERENCES users(id),
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_attempt_at  TEXT,
    next_attempt_at  TEXT,
    notes            TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    deleted_at       TEXT
);
-- One live lead per phone per client; a soft-deleted lead frees its number.
CREATE UNIQUE INDEX leads_client_phone_key ON leads (client_id, phone) WHERE deleted_at IS NULL;
CREATE INDEX leads_client_created_idx ON leads (client_id, created_at);
CREATE INDEX leads_client_status_idx ON leads (client_id, status, priority);
CREATE INDEX leads_list_idx ON leads (list_id);
CREATE INDEX leads_assigned_idx ON leads (assigned_user_id);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    client_id  INTEGER REFERENCES clients(id),
    user_id    INTEGER REFERENCES users(id),
    action     TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  INTEGER,
    detail     TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX audit_log_client_idx ON audit_log (client_id, created_at);
