CREATE TABLE schedules (
    client_id  BIGINT PRIMARY KEY REFERENCES clients(id),
    timezone   TEXT NOT NULL,
    windows    JSONB NOT NULL,
    holidays   JSONB NOT NULL DEFAULT '[]',
    enabled    BOOLEAN NOT NULL DEFAULT TRUE,
    version    BIGINT NOT NULL DEFAULT 1,
    updated_by BIGINT REFERENCES users(id),
    updated_at TIMESTAMPTZ NOT NULL
);
