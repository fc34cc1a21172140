-- Numbers no call may reach: per client, or for every client when client_id is NULL.
CREATE TABLE dnc (
    id         INTEGER PRIMARY KEY,
    client_id  INTEGER REFERENCES clients(id),
    phone      TEXT NOT NULL,
    reason     TEXT,
    created_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX dnc_client_phone_key ON dnc (COALESCE(client_id, 0), phone);
CREATE INDEX dnc_phone_idx ON dnc (phone);
