-- When (Unix seconds, as created_at) the account's email was first proven to reach its
-- holder: a completed password reset (the link reached the mailbox) or a federated sign-up
-- (the provider asserted the email verified). NULL: never proven; a registration proves
-- nothing, so the first reset of such an account removes the passkeys and linked identities
-- added before it (whoever registered the address may not own it: auth/password/first_proof.rs).
-- Accounts from before this column are taken as proven since their creation, so nothing
-- changes for them.
ALTER TABLE users ADD COLUMN email_proven_at BIGINT;
UPDATE users SET email_proven_at = created_at;
