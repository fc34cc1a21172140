-- Whether a person is online anywhere, as last announced. Instances sharing one database each
-- count their own connections; the instance whose change flips this row is the one that tells
-- the admins `user_online` or `user_offline`, so a person on two instances is announced once.
-- (SQLite serves one instance, which announces from its own count: the table stays empty
-- there, and exists so that both databases have one schema.)
CREATE TABLE presence_state (
    user_id    BIGINT PRIMARY KEY,
    client_id  BIGINT NOT NULL,
    online     BOOLEAN NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE INDEX presence_state_online_idx ON presence_state (user_id) WHERE online;
CREATE INDEX presence_user_idx ON presence (user_id, seen_at);
