-- Failed sign-ins, counted in the database so that the throttle holds across instances and
-- restarts. `key` is a hash of what is counted (an address, or an address and the login typed),
-- so a password typed into the login field is never stored.
CREATE TABLE sign_in_failures (
    id        BIGSERIAL PRIMARY KEY,
    key       TEXT NOT NULL,
    failed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sign_in_failures_key_idx ON sign_in_failures (key, failed_at);
CREATE INDEX sign_in_failures_at_idx ON sign_in_failures (failed_at);
