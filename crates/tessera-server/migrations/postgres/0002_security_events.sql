-- Durable copy of the security-event audit trail (the state store keeps the recent 90 days
-- for fast reads). `at` is Unix milliseconds.
CREATE TABLE security_events (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    type        TEXT NOT NULL,
    at          BIGINT NOT NULL,
    session_id  TEXT,
    ip          TEXT,
    device      TEXT,
    details     TEXT NOT NULL
);
CREATE INDEX security_events_user_at ON security_events (user_id, at);
CREATE INDEX security_events_session ON security_events (session_id);
