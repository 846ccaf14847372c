-- The keys every instance of a deployment shares (signing key ring, refresh key, data key),
-- each sealed under the master key (XChaCha20-Poly1305, see `keys::master`); the server
-- reads them at start and follows `server_key_ring.generation` to pick up rotations.
-- One row per key: `name` is `signing:<kid>`, `refresh` or `data`; `sealed` holds the whole
-- key (a signing key's JSON with its retirement time); the other columns are public copies
-- for operators (`tessera keys list` reads them) and are never trusted over `sealed`.
CREATE TABLE server_keys (
    name        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    alg         TEXT,
    sealed      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);
-- Exactly one row once keys exist: which master key sealed them, and a counter bumped by
-- every change of `server_keys` (instances poll it; a rotation checks it to serialise).
CREATE TABLE server_key_ring (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    generation     BIGINT NOT NULL,
    master_key_id  TEXT NOT NULL,
    updated_at     BIGINT NOT NULL
);
