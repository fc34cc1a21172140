-- Who has a connection (a socket or an event stream) open on which instance. Each instance
-- rewrites its own rows every few seconds and at each change, so instances sharing one database
-- count everyone's connections; an instance that died stops counting once its rows go stale.
-- (SQLite serves one instance, which counts its own connections in memory: the table stays
-- empty there, and exists so that both databases have one schema.)
CREATE TABLE presence (
    instance_id TEXT NOT NULL,
    user_id     BIGINT NOT NULL,
    client_id   BIGINT NOT NULL,
    connections BIGINT NOT NULL CHECK (connections > 0),
    seen_at     TEXT NOT NULL,
    PRIMARY KEY (instance_id, user_id)
);
CREATE INDEX presence_client_idx ON presence (client_id, seen_at);
