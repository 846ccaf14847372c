-- The id of the data key (see `DataKey::id`) that sealed each TOTP secret and keyed each
-- recovery-code hash, so a row under another key is recognised (and refused) rather than
-- read as "no second factor". NULL: written before key ids were recorded; the server
-- checks such rows at start by opening them and fills in the id of the key that opens them.
ALTER TABLE mfa_totp ADD COLUMN key_id TEXT;
ALTER TABLE mfa_recovery_codes ADD COLUMN key_id TEXT;
