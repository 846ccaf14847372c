//! [`SessionStore`]: sessions, their refresh families and their access grants.

use async_trait::async_trait;
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::TokenHash;
use tessera_core::time::Timestamp;

use crate::error::StoreError;
use crate::model::*;

/// Sessions, refresh-token families and access grants: what sign-in, refresh, sign-out and
/// the session pages change. Every method is one atomic step (on Redis one script on the
/// user's slot, see the column "scripts" of the key schema in `redis/mod.rs`); the
/// revocation check of a single access token is the separate, narrower [`RevocationCheck`].
///
/// [`RevocationCheck`]: super::RevocationCheck
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Opens a session with its first refresh-token hash and its first access token, adds it
    /// to the user's session index, raises the user's token version to
    /// `new.token_version` if lower, and — with `max_sessions` — revokes the oldest sessions
    /// beyond the limit (by `created_at`). Creating an id that exists replaces it (ids are
    /// random UUIDv7s: not expected). A session already dead at `now` (absolute expiry or
    /// idle timeout reached) is not stored; the version is still raised.
    ///
    /// Atomic (`create_session.lua`): a concurrent caller sees the new session, the raised
    /// version and the evictions together or none of them. Also removes the user's dead
    /// sessions from the index on the way. Notices: `s:UID:SID` for each evicted session, and
    /// `u:UID` when an existing version is raised (access tokens under the old one die).
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
    /// [`revoke_access_token`](Self::revoke_access_token) in allowlist mode, never the
    /// grant being registered.
    ///
    /// Atomic (`rotate_refresh.lua`). Notices: `t:UID:JTI` for each grant revoked by the cap;
    /// `s:UID:SID` when the outcome is `Reused` (the session is deleted). `Invalid` changes
    /// nothing.
    async fn rotate_refresh(
        &self,
        rotation: Rotation,
        now: Timestamp,
    ) -> Result<RotationOutcome, StoreError>;

    /// Revokes one session: its refresh family, its access tokens and its index entry.
    /// Returns whether a live session was there (a dead one is deleted too, and answers
    /// `false`).
    ///
    /// Atomic (`revoke_session.lua`). Notice: `s:UID:SID`, always (the session may be alive
    /// in a near-cache even when the store already finds it dead).
    async fn revoke_session(
        &self,
        user: UserId,
        session: SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Revokes one session for the holder of one of its refresh tokens (RFC 7009): only when
    /// the session is alive and `refresh` is the hash of its current or previous refresh
    /// token; otherwise nothing changes. A fingerprint binding is not asked for: ending the
    /// session is less than the holder could do by refreshing it. Returns whether the session
    /// was revoked.
    ///
    /// Atomic, check and delete together (`revoke_session.lua` with a proof): a concurrent
    /// rotation either happens before (and the previous token still proves) or after (and
    /// finds the session gone). Notice: `s:UID:SID` when it revokes, none otherwise.
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
    ///
    /// Atomic (`revoke_user.lua`): a concurrent sign-in sees every old session gone and the
    /// new version, or neither. Notice: `u:UID`.
    async fn revoke_user(&self, user: UserId, now: Timestamp) -> Result<u64, StoreError>;

    /// Revokes every session of the user except `keep` (which may be dead or missing): their
    /// refresh families, access tokens and index entries. The token version is not changed,
    /// so the kept session's access tokens stay valid (a password change keeps the caller
    /// signed in). A session whose index entry was lost is not reached (only
    /// [`revoke_user`](Self::revoke_user) reaches those). Returns how many live sessions were
    /// revoked.
    ///
    /// Atomic (`revoke_user_except.lua`): a concurrent sign-in or refresh sees all the other
    /// sessions alive or all of them gone, never a mix. Notice: `s:UID:SID` for every session
    /// it deletes.
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
    ///
    /// Atomic (`revoke_access_token.lua`). Notice: `t:UID:JTI` when the session is alive
    /// (whether or not the token was active), none for a dead session.
    async fn revoke_access_token(
        &self,
        user: UserId,
        session: SessionId,
        grant: AccessGrant,
        mode: RevocationMode,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// The user's live sessions, oldest first. Never lists a dead session.
    ///
    /// Writes although it reads: dead sessions found in the user's index are deleted (with
    /// their index entries) on the way. Atomic (`list_sessions.lua`): the list is the state
    /// of one instant. No notices (a dead session's tokens are refused anyway).
    async fn list_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError>;

    /// Which live session of `user` holds the live (unexpired) access grant `jti`, and the
    /// grant's expiry. Grants are registered in both revocation modes, so this works in
    /// either. `None` for an unknown or expired jti, a jti of another user, or a dead
    /// session.
    ///
    /// Read only and atomic (`find_access_token.lua`, one round trip); the work is bounded by
    /// the user's session count.
    async fn find_access_token(
        &self,
        user: UserId,
        jti: Jti,
        now: Timestamp,
    ) -> Result<Option<(SessionId, Timestamp)>, StoreError>;
}
