-- A user's sessions (signed tokens) carry the generation they were issued in; a token of an
-- older one is refused. Changing a password, or signing out, starts a new generation, so every
-- token issued before it stops working at once.
ALTER TABLE users ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
