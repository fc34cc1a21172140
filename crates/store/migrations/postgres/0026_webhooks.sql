-- Outbound webhooks: a client's own URLs that hear its events (a call logged, answered or
-- ended; a lead assigned; …), signed with a secret shown once. Deliveries are kept in the
-- database until they are taken (so none is lost at a restart) and retried with backoff; any
-- instance may send one, and one instance sends each.
CREATE TABLE webhooks (
    id          BIGSERIAL PRIMARY KEY,
    client_id   BIGINT NOT NULL REFERENCES clients (id),
    url         TEXT NOT NULL,
    -- The signing secret: kept as it is (a signature needs it), never served after creation.
    secret      TEXT NOT NULL,
    -- The event names it hears, as a JSON array; ["*"] for all.
    events      TEXT NOT NULL,
    description TEXT,
    created_by  BIGINT REFERENCES users (id),
    created_at  TIMESTAMPTZ NOT NULL,
    deleted_at  TIMESTAMPTZ
);
CREATE INDEX webhooks_client_idx ON webhooks (client_id) WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    webhook_id      BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event           TEXT NOT NULL,
    -- The body sent, exactly (its signature covers these bytes).
    body            TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    -- When it is due (again); also a lease while one instance sends it.
    next_attempt_at TIMESTAMPTZ,
    delivered_at    TIMESTAMPTZ,
    -- Given up on after the last attempt.
    failed_at       TIMESTAMPTZ,
    last_status     BIGINT,
    last_error      TEXT
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at, id)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);
