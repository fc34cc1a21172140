-- One calling schedule per client; `version` increases on every change (seed 002).
CREATE TABLE schedules (
    client_id  INTEGER PRIMARY KEY REFERENCES clients(id),
    timezone   TEXT NOT NULL,
    windows    TEXT NOT NULL,
    holidays   TEXT NOT NULL DEFAULT '[]',
    enabled    BOOLEAN NOT NULL DEFAULT TRUE,
    version    INTEGER NOT NULL DEFAULT 1,
    updated_by INTEGER REFERENCES users(id),
    updated_at TEXT NOT NULL
);
