-- The durable copy of the session state (docs/ARCHITECTURE.md, "Durable state"): what a
-- session needs to come back after the state store lost it. Times in ms since the epoch;
-- hashes, seeds and bindings are base64url (the store's 16-byte stored forms). A revoked
-- session has no row: rows are deleted before a revocation answers.
CREATE TABLE durable_sessions (
    session_id       TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL,
    created_ms       BIGINT NOT NULL,
    last_seen_ms     BIGINT NOT NULL,
    idle_ms          BIGINT NOT NULL,
    absolute_ms      BIGINT NOT NULL,
    -- min(last_seen + idle, absolute): when the row may be swept.
    expires_ms       BIGINT NOT NULL,
    -- the token version the session was opened under
    opened_under     BIGINT NOT NULL,
    current_hash     TEXT NOT NULL,
    previous_hash    TEXT,
    seed             TEXT,
    -- refresh generation of current_hash (NULL before the first rotation)
    generation       BIGINT,
    attributes       TEXT NOT NULL,
    binding          TEXT
);
CREATE INDEX durable_sessions_user ON durable_sessions (user_id);
CREATE INDEX durable_sessions_expiry ON durable_sessions (expires_ms);
-- Denylist-mode revoked access tokens of live sessions, until their exp.
CREATE TABLE durable_denied_tokens (
    jti          TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    session_id   TEXT NOT NULL,
    expires_ms   BIGINT NOT NULL
);
CREATE INDEX durable_denied_tokens_session ON durable_denied_tokens (session_id);
CREATE INDEX durable_denied_tokens_expiry ON durable_denied_tokens (expires_ms);
