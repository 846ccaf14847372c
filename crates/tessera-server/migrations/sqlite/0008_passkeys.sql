-- Passkeys (WebAuthn credentials). `credential` is webauthn-rs's Passkey as JSON (public
-- key, credential id, signature counter, backup flags): what the library needs to verify an
-- assertion. credential_id is its id in base64url, unique: one credential, one user.
-- sign_count is the newest signature counter seen (0: the authenticator keeps none): a
-- sign-in is recorded only if its counter is higher, decided by the UPDATE itself, so two
-- concurrent sign-ins cannot both pass with one counter.
CREATE TABLE passkeys (
    id             TEXT PRIMARY KEY,          -- UUIDv7, hyphenated
    user_id        TEXT NOT NULL,
    credential_id  TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    credential     TEXT NOT NULL,
    sign_count     BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,           -- Unix seconds
    last_used_at   BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);
