-- Facts about the durable copy itself (docs/ARCHITECTURE.md, "Durable state"). One row so
-- far: `on_since`, when the copy was last switched on (ms since the epoch). Sessions opened
-- since then have a row in durable_sessions for as long as they live, so a refresh of one
-- whose row is gone was revoked, whatever a state store that came back with older data
-- says. Deleted with the copy when a server starts with the copy off.
CREATE TABLE durable_meta (
    name   TEXT PRIMARY KEY,
    value  BIGINT NOT NULL
);
