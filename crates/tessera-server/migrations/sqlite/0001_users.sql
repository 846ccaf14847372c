-- Accounts. Ids are UUID text; times are Unix seconds.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT,
    password_hash  TEXT NOT NULL,
    token_version  BIGINT NOT NULL DEFAULT 0,
    disabled_at    BIGINT,
    disabled_reason TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
