-- TOTP second factor: the secret encrypted at rest (XChaCha20-Poly1305 with the data key of
-- the key file, bound to the user id); pending until confirmed with a first code.
CREATE TABLE mfa_totp (
    user_id       TEXT PRIMARY KEY,
    secret_enc    TEXT NOT NULL,
    confirmed_at  BIGINT,
    created_at    BIGINT NOT NULL
);
-- One-time recovery codes, stored as keyed hashes; a used code is deleted.
CREATE TABLE mfa_recovery_codes (
    user_id    TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);
