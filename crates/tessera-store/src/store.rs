//! The [`StateStore`] trait.

use std::time::Duration;

use async_trait::async_trait;
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::TokenHash;
use tessera_core::time::Timestamp;

use crate::ephemeral::{Attempts, EphemeralKey, Rate, Throttle};
use crate::error::StoreError;
use crate::model::*;

/// Token and session state. Implemented by [`MemoryStore`](crate::memory::MemoryStore) and
/// [`RedisStore`](crate::redis::RedisStore) with identical semantics; one conformance suite
/// (`tests/conformance.rs`) holds both to it.
///
/// Every method is **one atomic step**: a concurrent caller sees the state before or after
/// it, never a mix (on Redis: one Lua script on one hash slot). A session is *alive* at `now`
/// when it exists, `now < last_seen + idle_timeout`, `now < absolute_expiry`, and the user's
/// token version has not moved past the version the session was opened under (so
/// [`revoke_user`](Self::revoke_user) kills every session even if an index entry was lost; a
/// missing version counts as revoked); a dead session behaves exactly like a missing one
/// everywhere. Everything stored expires by itself
/// (TTL) except the per-user token version and the global statistics counters, intentional
/// durable counters.
///
/// Errors: [`StoreError::Unavailable`] when the backend cannot be reached — nothing can be
/// assumed about whether the step happened; never for "not found" (that is a result).
#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// Opens a session with its first refresh-token hash and its first access token, adds it
    /// to the user's session index, raises the user's token version to
    /// `new.token_version` if lower, and — with `max_sessions` — revokes the oldest sessions
    /// beyond the limit (by `created_at`), all atomically. Creating an id that exists
    /// replaces it (ids are random UUIDv7s: not expected). A session already dead at `now`
    /// (absolute expiry or idle timeout reached) is not stored; the version is still raised.
    async fn create_session(
        &self,
        new: NewSession,
        now: Timestamp,
    ) -> Result<CreatedSession, StoreError>;

    /// Rotates a refresh token; see [`RotationOutcome`] for each case. Concurrent calls with
    /// the same presented token: exactly one gets `Rotated`; the others get `GraceReplay`
    /// (inside the window, with the seed of that one successor) — so the family never forks
    /// and no false theft is reported. A successful rotation moves `last_seen` to `now` and
    /// makes `rotation.successor_generation` the family's current generation; a later
    /// presentation of any older generation (other than the previous token inside the grace
    /// window) is `Reused`. Only the current and previous hash and that one number are kept.
    ///
    /// `Rotated` and `GraceReplay` register `rotation.access`. A session keeps at most
    /// [`MAX_LIVE_GRANTS`] unexpired access grants: beyond, its oldest grants (smallest
    /// `exp`) are revoked in the same step, as by
    /// [`revoke_access_token`](Self::revoke_access_token) in allowlist mode (they stop
    /// working in allowlist mode; on Redis each publishes a `t:UID:JTI` notice), never the
    /// grant being registered.
    async fn rotate_refresh(
        &self,
        rotation: Rotation,
        now: Timestamp,
    ) -> Result<RotationOutcome, StoreError>;

    /// The revocation check of one access token: one round trip, read only. `Active` only
    /// when the session is alive, `check.token_version` ≥ the stored version, and the jti is
    /// registered and unexpired (allowlist) / not denied (denylist).
    async fn check_access(
        &self,
        check: AccessCheck,
        mode: RevocationMode,
        now: Timestamp,
    ) -> Result<AccessStatus, StoreError>;

    /// Revokes one session: its refresh family, its access tokens and its index entry.
    /// Returns whether a live session was there.
    async fn revoke_session(
        &self,
        user: UserId,
        session: SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Revokes one session for the holder of one of its refresh tokens (RFC 7009): only when
    /// the session is alive and `refresh` is the hash of its current or previous refresh
    /// token, as one atomic step; otherwise nothing changes. A fingerprint binding is not
    /// asked for: ending the session is less than the holder could do by refreshing it.
    /// Returns whether the session was revoked.
    async fn revoke_session_by_refresh(
        &self,
        user: UserId,
        session: SessionId,
        refresh: &TokenHash,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Revokes every session of the user and increments the token version (so every access
    /// token issued before stops working in either mode). Returns the new version, which the
    /// caller writes to durable storage — as `max(durable, returned)`: a store that lost its
    /// version restarts the count at 1.
    async fn revoke_user(&self, user: UserId, now: Timestamp) -> Result<u64, StoreError>;

    /// Revokes every session of the user except `keep` (which may be dead or missing), as one
    /// atomic step: their refresh families, access tokens and index entries; on Redis each
    /// publishes an `s:UID:SID` notice. The token version is not changed, so the kept
    /// session's access tokens stay valid (a password change keeps the caller signed in).
    /// Returns how many live sessions were revoked.
    async fn revoke_user_except(
        &self,
        user: UserId,
        keep: SessionId,
        now: Timestamp,
    ) -> Result<u64, StoreError>;

    /// Revokes one access token of a session, leaving the session alive. `expires_at` is the
    /// token's `exp` (how long a denylist entry must live). In both modes the jti leaves the
    /// session's allowlist; in denylist mode it is also denied until `exp`. Returns whether
    /// the token was active before (session alive and: allowlisted / not yet denied and not
    /// expired); nothing is written for a dead session.
    async fn revoke_access_token(
        &self,
        user: UserId,
        session: SessionId,
        grant: AccessGrant,
        mode: RevocationMode,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// The user's live sessions, oldest first. Never lists a dead session.
    async fn list_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError>;

    /// Which live session of `user` holds the live (unexpired) access grant `jti`, and the
    /// grant's expiry. Grants are registered in both revocation modes, so this works in
    /// either. `None` for an unknown or expired jti, a jti of another user, or a dead
    /// session. One round trip, read only; the work is bounded by the user's session count.
    async fn find_access_token(
        &self,
        user: UserId,
        jti: Jti,
        now: Timestamp,
    ) -> Result<Option<(SessionId, Timestamp)>, StoreError>;

    /// Store-wide statistics. Never an O(N) scan over user data: the memory backend counts
    /// its own maps; Redis reads maintained counters plus `INFO`/`DBSIZE` (see
    /// [`StoreStats`]).
    async fn stats(&self, now: Timestamp) -> Result<StoreStats, StoreError>;

    /// Records a recent security event of `user`. Events are kept [`EVENT_RETENTION`] and at
    /// most [`EVENT_MAX_PER_USER`] per user (the oldest are dropped), in one atomic step.
    async fn push_event(
        &self,
        user: UserId,
        event: SecurityEventRecord,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// The user's recent security events, newest first (ties: the later pushed first), at
    /// most `limit`, only those strictly before `before` when given, never older than
    /// [`EVENT_RETENTION`] at `now`.
    async fn recent_events(
        &self,
        user: UserId,
        limit: usize,
        before: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Vec<SecurityEventRecord>, StoreError>;

    // ---- Ephemeral records (account security: see [`crate::ephemeral`]) ----
    //
    // Each method is one atomic step (on Redis one script or one command on one slot). Names
    // are validated first (at most 200 bytes, no `{`/`}` in tags and names): a bad one is a
    // [`StoreError::Protocol`] and nothing is written. Every record expires by itself; a
    // record whose expiry is at or before `now` behaves as missing. Values are binary-safe.
    // The record kinds share one namespace per key: a counter or throttle record read with
    // `get`/`take` shows its internal payload (decimal count / nothing); `count_attempt` on a
    // live record that is not a counter fails with [`StoreError::Protocol`].

    /// Writes `value` under `key` until `now + ttl` unless a live record is there. `true` =
    /// written (the caller claimed the key; of concurrent callers exactly one wins). A zero
    /// `ttl` writes nothing and returns `false`.
    async fn put_if_absent(
        &self,
        key: &EphemeralKey,
        value: &[u8],
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// The live value under `key`. Read only.
    async fn get(&self, key: &EphemeralKey, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError>;

    /// Atomic get + delete: the live value under `key`, which is gone afterwards. Of N
    /// concurrent takers exactly one gets `Some`. A dead record is deleted too (`None`).
    async fn take(&self, key: &EphemeralKey, now: Timestamp)
    -> Result<Option<Vec<u8>>, StoreError>;

    /// Deletes `key`. `true` when a record was stored — without `now` the store cannot tell
    /// whether it was still live, so a dead record not yet reclaimed counts too.
    async fn delete(&self, key: &EphemeralKey) -> Result<bool, StoreError>;

    /// Counts one attempt under `key` and returns the count. The first attempt (no live
    /// counter) opens a window of `ttl` from `now`; later attempts add to it without
    /// extending it (the window does not slide); once the window has passed the count
    /// restarts at 1. `used > max` means exhausted ([`Attempts::exhausted`]); counting goes
    /// on past `max`. Concurrent increments each get a distinct count. A zero `ttl` stores
    /// nothing (every call answers `used: 1`).
    async fn count_attempt(
        &self,
        key: &EphemeralKey,
        max: u32,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<Attempts, StoreError>;

    /// GCRA rate limiting on `key` at `now`: a request of weight `cost` is allowed when the
    /// bucket holds `cost` (see [`Rate`]), and is then counted; a refused request changes
    /// nothing. Cost 0 peeks: it reports what a cost-1 request would see (allowed,
    /// retry_after, remaining) and stores nothing. The record lives until the bucket is full
    /// again. Shared by every process on the same store: that is the point. A `rate` with a
    /// zero burst is a [`StoreError::Protocol`].
    async fn throttle(
        &self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: Timestamp,
    ) -> Result<Throttle, StoreError>;

    /// Gives back `cost` that an allowed [`throttle`](Self::throttle) of `key` took: the
    /// bucket's TAT moves back by `cost` intervals of `rate`, never beyond a full bucket.
    /// `true` when the bucket held something to give back. Atomic like `throttle`, so a
    /// budget can be *reserved* before a slow check (charge first, refund on success) and N
    /// concurrent checks never get more than the burst between them. A refund whose charge
    /// has already refilled by itself gives back nothing more than the bucket lacks.
    async fn refund(
        &self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// A per-user map whose entries expire individually (trusted devices): sets `field` of
    /// `user`'s map `map` to `value` until `expires_at`, replacing any entry, and drops the
    /// map's expired entries. An `expires_at` at or before `now` removes the field instead.
    /// Map names: at most 200 bytes, no `{`/`}`; fields: at most 200 bytes, any characters.
    async fn map_put(
        &self,
        user: UserId,
        map: &str,
        field: &str,
        value: &[u8],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// The live value of `field` in `user`'s map `map`. Read only.
    async fn map_get(
        &self,
        user: UserId,
        map: &str,
        field: &str,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError>;

    /// The live entries of `user`'s map `map` with their expiry, sorted by field (byte
    /// order). Read only.
    async fn map_list(
        &self,
        user: UserId,
        map: &str,
        now: Timestamp,
    ) -> Result<Vec<(String, Vec<u8>, Timestamp)>, StoreError>;

    /// Removes `field`. `true` when it was stored (live, or dead but not yet pruned).
    async fn map_remove(&self, user: UserId, map: &str, field: &str) -> Result<bool, StoreError>;

    /// Removes the whole map; returns how many entries were stored (live, or dead but not
    /// yet pruned).
    async fn map_clear(&self, user: UserId, map: &str) -> Result<u64, StoreError>;

    /// The user's current token version (0 when none is recorded).
    async fn token_version(&self, user: UserId) -> Result<u64, StoreError>;

    /// Cheap liveness probe for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Short name of the backend for health output: `"memory"` or `"redis"`.
    fn backend(&self) -> &'static str;
}
