-- Federated identities: an account at an external OpenID Connect / OAuth 2.0 provider that
-- signs in to a Tessera user. (provider, subject) is the identity, linked to one user; a
-- user links at most one account per provider. email_verified is 0 or 1.
CREATE TABLE identities (
    provider        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    email           TEXT,
    email_verified  BIGINT NOT NULL,
    linked_at       BIGINT NOT NULL,
    PRIMARY KEY (provider, subject),
    UNIQUE (user_id, provider)
);
