//! The production backend: Redis standalone, Sentinel or Cluster, over redis-rs.
//!
//! # Layout
//! - `config`: [`RedisConfig`] (URLs, cluster flag, key prefix, timeouts; `Debug` redacts
//!   passwords).
//! - `conn`: one connection enum over `ConnectionManager` (standalone) and
//!   `ClusterConnection` (Cluster), and what happens when Redis goes away.
//! - `sentinel/`: the `redis+sentinel://` URL (`url.rs`), the master connection that follows
//!   failovers (`conn.rs`) and master lookups for connections of their own (`lookup.rs`).
//!   `tls`: the CA a `rediss://` connection trusts. `acl`: the ACL rules Tessera's Redis user
//!   needs. `version`: the oldest Redis the scripts run on. `eviction`: the
//!   `maxmemory-policy` warning. `connecting`: [`ConnectingStore`], a store that connects in
//!   the background when Redis is unreachable at start.
//! - `keys`: key names, all built there ([`UserKeys`], [`compact`]). `scripts` +
//!   `scripts/*.lua`: one Lua script per atomic change (each header: KEYS, ARGV, reply,
//!   notices).
//! - `store/`: [`RedisStore`], which implements every store trait: `store/mod.rs` (connect),
//!   `store/runner.rs` (circuit breaker, timeouts, `EVALSHA` with `NOSCRIPT` reload, the one
//!   retry of idempotent requests), `store/counters.rs` (statistics changes batched into one
//!   background `HINCRBY`) and `store/reconcile.rs` (the periodic correction), then one file
//!   per trait: `sessions.rs`, `revocation_check.rs`, `ephemeral.rs`, `maps.rs`, `events.rs`,
//!   `health.rs`. Script reply codes are named constants where the replies are decoded.
//! - `breaker`: the circuit breaker in front of standalone and Sentinel Redis: after
//!   [`FAILURES_TO_OPEN`] calls in a row found Redis unreachable, calls fail at once until a
//!   background `PING` (every [`PROBE_EVERY`]) is answered.
//! - `access`: the `check_access` pipeline of reads and its decision (not a script).
//! - `stats`: the global statistics hash and how `stats()` reads it.
//! - [`invalidation`]: the revocation notices every revoking script publishes on
//!   `Prevocations` for guard near-caches ([`Revocation`]).
//! - `reply` and `error`: decoding replies, mapping driver errors onto
//!   [`StoreError`](crate::StoreError) (the driver error kept as the cause).
//!
//! # Key schema
//!
//! `P` is the configured prefix (default `ts:`); `UID`, `SID`, `JTI` in key names and index
//! members are compact ids: the 16 bytes in base64url without padding, 22 characters
//! ([`compact`]; a hyphenated UUID would take 36). Revocation notices carry hyphenated UUIDs.
//! Every key of one user carries the hash tag `{u:UID}`, so every key a script touches is in
//! one slot and the scripts run unchanged on Redis Cluster. Some scripts build further keys
//! of the same user from a prefix argument (e.g. `revoke_user` deletes every session key
//! named by the index): intentional, and safe on Cluster because of that shared tag.
//!
//! | key | type | TTL | content | scripts |
//! |---|---|---|---|---|
//! | `P{u:UID}:ver` | string | none — durable counter (with `Pstats`, the only keys without TTL) | token version | all but `revoke_user`'s reads: `create_session` (raise, never lower), `revoke_user` (INCR), `rotate_refresh`, `check_access`, `revoke_session`, `revoke_access_token`, `list_sessions` (read); `check_access` reads it with a plain `GET` |
//! | `P{u:UID}:sessions` | zset | the latest member score − now | member SID, score = that session's deadline `min(last_seen + idle, absolute)` (ms); members whose score ≤ now are pruned (`ZREMRANGEBYSCORE`) by every script that writes it | `create_session`, `rotate_refresh`, `revoke_session`, `revoke_user`, `list_sessions`, `find_access_token`, `count_sessions` |
//! | `P{u:UID}:s:SID` | hash | deadline − now, renewed on rotation | session record, refresh family and access allowlist (fields below) | `create_session`, `rotate_refresh`, `check_access`, `revoke_session`, `revoke_user`, `revoke_access_token`, `list_sessions`, `find_access_token`, `count_sessions` |
//! | `P{u:UID}:deny:JTI` | string `1` | the token's `exp` − now | denylist-mode revoked access token | `revoke_access_token` (write), `check_access` (read) |
//! | `P{u:UID}:ev` | zset | newest event's `at` + 90 days − now | recent security events: score = `at` (ms), member = `len(id)` `:` id payload; at most 500, none older than 90 days (trimmed by score and rank on every push) | `push_event`; read with one plain `ZRANGE … BYSCORE REV LIMIT` |
//! | `P{u:UID}:e:NAME` | string: exp (ms, 8 bytes big-endian) + payload | exp − now (`PX`) | ephemeral record of the user (see [`crate::ephemeral`]): a value (`put_if_absent`), an attempt counter (payload = decimal count, exp fixed by the first attempt) or a GCRA bucket (exp = TAT, empty payload); `NAME` ≤ 200 bytes without `{`/`}` | `put_if_absent`, `take`, `count_attempt`, `throttle`; plain `GET` (`get`), `DEL` (`delete`) |
//! | `P{t:TAG}:e:NAME` | as above | as above | ephemeral record under a tag of its own (challenge id, IP, email hash), its own slot; `TAG` ≤ 200 bytes without `{`/`}` | as above |
//! | `P{u:UID}:m:MAP` | hash: field → exp (8 bytes big-endian) + value | latest entry's exp − now (`PEXPIRE` on every put) | per-user map with per-entry expiry (trusted devices); expired fields pruned by every `map_put`; `MAP` ≤ 200 bytes without `{`/`}`, fields ≤ 200 bytes | `map_put`, `map_clear`; plain `HGET` (`map_get`), `HGETALL` (`map_list`), `HDEL` (`map_remove`) |
//! | `Pstats` | hash | none — the second intentional durable key | global statistics counters: `s` live sessions, `g` unexpired access grants, `r` revoked tokens (monotonic), `t` last reconciliation (ms) | `HINCRBY` of the changes scripts report, gathered and written every 50 ms (and before `stats()`); `HSET s g t` by the reconciliation; `HMGET` by `stats()` |
//! | `Prevocations` | pub/sub channel (not a key) | — | revocation notices `u:UID`, `s:UID:SID`, `t:UID:JTI` (see [`invalidation`]); plain `PUBLISH`, so cluster-wide | published by `revoke_session`, `revoke_user`, `revoke_access_token`, `rotate_refresh` (theft), `create_session` (eviction, raised version) |
//!
//! Session hash fields (one-letter names keep the hash small; all times are ms since the
//! epoch):
//!
//! | field | value |
//! |---|---|
//! | `c` | created_at |
//! | `l` | last_seen (sign-in or last rotation); also the time of the last rotation, which the grace window is measured from (there is no separate rotated_at: it always equalled `l`) |
//! | `i` | idle timeout (ms) |
//! | `x` | absolute expiry |
//! | `g` | generation: the token version when the session was opened; the session is dead once `ver` > `g` (so `revoke_user` holds even for a session the index lost) |
//! | `h` | current refresh-token hash: its stored form, the first 16 bytes of the SHA-256 (`StoredHash`) |
//! | `p` | previous refresh-token hash (16 raw bytes, as `h`; absent before the first rotation) |
//! | `s` | successor seed of the current token (16 raw bytes; absent before the first rotation) |
//! | `n` | refresh generation of the current token (decimal, written by each rotation; absent before the first one): a presented token whose server-verified generation is below it and whose hash is neither `h` nor `p` is theft |
//! | `a`, `a1`, `a2`, … | attributes (opaque JSON from the server; returned by rotation and `list_sessions`) in chunks of at most 64 bytes: `a` the first, a chunk shorter than 64 bytes or a missing next field ends it |
//! | `b` | binding: hash of the client fingerprint (16 raw bytes, as `h`; absent for an unbound session); a rotation must present it |
//! | *JTI (16 raw bytes)* | an allowlisted access token of this session; value = its `exp`. At most [`MAX_LIVE_GRANTS`](crate::MAX_LIVE_GRANTS) unexpired ones: registering one more revokes the oldest. Expired ones are dropped when a registration finds more than 4 grant fields (`register_access` in `prelude.lua`). |
//!
//! The access allowlist lives inside the session hash rather than in a key of its own: one
//! key per session instead of two saves about 150 bytes per session (key name, expiry entry,
//! object headers), a revoked or expired session takes its tokens with it in one `DEL`/TTL,
//! and `check_access` reads one hash. Attributes are split into 64-byte chunks so that no
//! value exceeds `hash-max-listpack-value` (default 64) and Redis keeps the hash in its compact
//! listpack encoding: one longer value would turn the whole hash into a hashtable.
//!
//! A session is *alive* at `now` when its hash exists, `now < min(l + i, x)`, and `g ≥ ver`
//! (a missing `ver` means revoked). Every script compares against the caller's `now`, not
//! Redis's clock: TTLs only reclaim memory.
//!
//! # Statistics
//!
//! `stats()` never scans user data: it reads the `Pstats` hash (one `HMGET`) and, per
//! primary, `INFO memory` and `DBSIZE` (backend entries `used_memory`, `keys`, `primaries`,
//! `stats_reconciled_at_ms`). Every script that opens or ends sessions or adds or removes
//! unexpired grants returns those changes (sessions opened/ended — evicted, stolen, revoked,
//! dead ones pruned from the index; grants registered/removed; tokens revoked), and the
//! store gathers them for 50 ms and adds them with one background `HINCRBY` pipeline (so
//! write paths stay one round trip; `stats()` and `reconcile_stats()` write what is pending
//! first), not atomic with the script (on Cluster the hash is in another slot), best-effort
//! (a failed write is logged and its changes lost until reconciliation; negative values
//! read as 0). What the counters miss: sessions and grants that expire while nobody touches the
//! user again stay counted. [`RedisStore::spawn_stats_reconciler`] (started by the server,
//! not by `connect`) corrects that: every period it walks `SCAN MATCH P{u:*}:sessions COUNT
//! 200` on every primary, pausing between batches, runs `count_sessions.lua` per user (prunes
//! that user's dead sessions, counts live sessions and their unexpired grants) and
//! overwrites `s` and `g` with the totals. Changes made during a pass may be lost or counted
//! twice until the next pass. `r` is a pure counter, never reconciled.
//!
//! # Memory (measured, Redis 7.0, 64-bit, jemalloc)
//!
//! From `bench/RESULTS.md` (`tessera-bench memory`, 100 000 sessions, each rotated once, so
//! with `h`, `p`, `s`, two live grants and 91 bytes of device attributes): the session hash is
//! a listpack of `MEMORY USAGE` 520 bytes, of which ~190 are per-key overhead (82-byte key
//! name, object header, dict and expiry entries). Growth of `used_memory` per session,
//! everything included: **≈ 656 bytes** with 10 sessions per user, **≈ 927 bytes** with one
//! session per user (then the user's `ver` and `sessions` keys are paid by that one session).
//! Attributes are chunked (64 bytes per field) because one longer value would make the hash a
//! hashtable: ≈ 1 650 bytes per session. The ≤ 300-byte target is not met by this schema;
//! the levers, largest first: fewer keys per user, shorter key names (compact id encoding
//! instead of 36-char UUIDs), truncated stored hashes.
//!
//! # TLS
//! `rediss://` URLs use rustls; the process must have installed its rustls crypto provider
//! (the server does at startup). The trusted CAs are the system's, or those of
//! [`RedisConfig::tls_ca_file`] (see `tls.rs`).

mod access;
mod acl;
mod breaker;
mod config;
mod conn;
mod connecting;
mod error;
mod eviction;
pub mod invalidation;
mod keys;
mod reply;
pub mod scripts;
mod sentinel;
mod stats;
mod store;
mod tls;
mod version;

pub use acl::acl_rules;
pub use breaker::{BreakerOpen, FAILURES_TO_OPEN, PROBE_EVERY};
pub use config::RedisConfig;
pub use connecting::ConnectingStore;
pub use invalidation::{Revocation, revocations_channel};
pub use keys::{UserKeys, compact};
pub use sentinel::{
    MasterWatch, SENTINEL_SCHEME, check_sentinel_url, is_sentinel_url, resolve_master,
};
pub use store::{Reconciled, RedisStore};
pub use tls::{TlsCaError, tls_certificates};
pub use version::TooOld;
