//! Values that cross the store traits ([`crate::store`]).

use std::collections::BTreeMap;
use std::time::Duration;

use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::{SuccessorSeed, TokenHash};

use crate::stored::StoredHash;
use tessera_core::time::Timestamp;

/// How access tokens are checked for revocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RevocationMode {
    /// A token's `jti` must be registered with its live session. Losing store data signs
    /// people out; it never revives a revoked token. The default.
    #[default]
    Allowlist,
    /// A revoked `jti` is recorded until the token would have expired. Session liveness and
    /// token version are checked too.
    Denylist,
}

/// One access token as the store tracks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessGrant {
    /// The token's `jti`.
    pub jti: Jti,
    /// The token's `exp`; the store forgets the grant after it.
    pub expires_at: Timestamp,
}

/// Lifetimes of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// The session dies when not refreshed for this long.
    pub idle_timeout: Duration,
    /// The session dies at this instant whatever happens (absolute lifetime).
    pub absolute_expiry: Timestamp,
}

/// Everything needed to open a session at sign-in.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// Owner.
    pub user: UserId,
    /// The new session's id.
    pub session: SessionId,
    /// Hash of the first refresh token of the family.
    pub refresh: TokenHash,
    /// The first access token.
    pub access: AccessGrant,
    /// The user's durable token version as SQL knows it. The store's version is raised to it
    /// if lower (or missing, after data loss), never lowered.
    pub token_version: u64,
    /// Lifetimes.
    pub limits: SessionLimits,
    /// `Some(n)`: after this session is added, the user's oldest sessions beyond `n` are
    /// revoked in the same atomic step (oldest by `created_at`, ties by session id). The new
    /// session itself is never evicted, so `Some(0)` acts as `Some(1)`.
    pub max_sessions: Option<u32>,
    /// Opaque description of the device (JSON written by the server); returned as is by
    /// [`SessionRecord::attributes`]. At most a few hundred bytes.
    pub attributes: String,
    /// `Some(h)`: the session is bound to a client fingerprint (OWASP token-sidejacking
    /// defence; `h` is the hash of the fingerprint). Every later rotation must present the
    /// same hash in [`Rotation::binding`], else it is [`RotationOutcome::Invalid`].
    pub binding: Option<TokenHash>,
}

/// Result of [`SessionStore::create_session`](crate::SessionStore::create_session).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedSession {
    /// The token version to put in the access token's `ver` claim.
    pub token_version: u64,
    /// Sessions revoked to honour `max_sessions` (oldest first).
    pub evicted: Vec<SessionId>,
}

/// A refresh request: the presented token's hash and the successor the server prepared.
#[derive(Clone, Debug)]
pub struct Rotation {
    /// Owner (from the token's routing data).
    pub user: UserId,
    /// Session (from the token's routing data).
    pub session: SessionId,
    /// Hash of the presented refresh token.
    pub presented: TokenHash,
    /// Generation of the presented token, as the server *verified* it (the token's MAC
    /// tag, `RefreshToken::parse`): `None` for a legacy token without one. When the hash is
    /// neither the current nor the previous one, `Some(n)` below the family's current
    /// generation is theft ([`RotationOutcome::Reused`]). Never fill it from unverified
    /// input: ids are not secret, so a forged generation would let anyone revoke a victim's
    /// session.
    pub generation: Option<u32>,
    /// Hash of the successor the server derived with `seed`.
    pub successor: TokenHash,
    /// Generation of the successor (`RefreshToken::successor_generation`): becomes the
    /// family's current generation when the rotation happens.
    pub successor_generation: u32,
    /// Seed the successor was derived with; kept so a grace replay can re-derive it.
    pub seed: SuccessorSeed,
    /// The new access token to register (in both the rotated and the grace-replay case).
    pub access: AccessGrant,
    /// How long after a rotation the previous token is still accepted as a benign race.
    /// Zero disables the grace window.
    pub grace: Duration,
    /// Idle timeout to extend the session by.
    pub idle_timeout: Duration,
    /// Hash of the fingerprint the client presented with this refresh. When the session was
    /// created with a [`NewSession::binding`], a missing or different value makes the
    /// rotation [`RotationOutcome::Invalid`] and changes nothing — no
    /// rotation, no access grant, no theft verdict. Ignored for an unbound session.
    pub binding: Option<TokenHash>,
}

/// What a refresh did. Every variant is a result the caller must act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RotationOutcome {
    /// The presented token was the current one: the successor is now current, the presented
    /// one is the previous, the access grant is registered.
    Rotated {
        /// `ver` for the new access token.
        token_version: u64,
        /// When the session (and so the successor) dies if not refreshed again.
        session_expires_at: Timestamp,
        /// The session's [`NewSession::attributes`], as stored.
        attributes: String,
    },
    /// The presented token was the previous one, replayed inside the grace window: nothing
    /// about the family changed; the caller re-derives the successor from `seed` (it is the
    /// current token) and the new access grant is registered.
    GraceReplay {
        /// Seed that the current token was derived with.
        seed: SuccessorSeed,
        /// `ver` for the new access token.
        token_version: u64,
        /// When the session dies if not refreshed again.
        session_expires_at: Timestamp,
        /// The session's [`NewSession::attributes`], as stored.
        attributes: String,
    },
    /// Theft: the previous token replayed after the grace window (or with a zero grace), or
    /// a token of an *older* generation than the family's current one ([`Rotation::generation`]
    /// below the stored generation) replayed at any time. The session and all its access
    /// tokens are revoked. Only the current and previous hash and the current generation are
    /// kept: detecting any older generation needs no growing list.
    Reused,
    /// No live session, a binding that does not match, or a hash that is neither current nor
    /// previous with a generation that is not older than the family's (or unknown: a legacy
    /// token, or a session without a stored generation). Nothing changed.
    Invalid,
}

/// The claims of an access token that the revocation check needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessCheck {
    /// `sub`.
    pub user: UserId,
    /// `sid`.
    pub session: SessionId,
    /// `jti`.
    pub jti: Jti,
    /// `ver`.
    pub token_version: u64,
}

/// Result of a revocation check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessStatus {
    /// Session alive, token version current, and the jti allowed (allowlist) / not denied
    /// (denylist).
    Active,
    /// Anything else.
    Revoked,
}

/// A live session as listed for its user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// Id.
    pub session: SessionId,
    /// When it was opened.
    pub created_at: Timestamp,
    /// Last sign-in or refresh.
    pub last_seen_at: Timestamp,
    /// When it dies if not refreshed again: `min(last_seen_at + idle, absolute expiry)`.
    pub expires_at: Timestamp,
    /// Absolute expiry.
    pub absolute_expiry: Timestamp,
    /// What [`NewSession::attributes`] held.
    pub attributes: String,
}

/// Store-wide statistics (see [`StoreHealth::stats`](crate::StoreHealth::stats)).
///
/// On the memory backend the numbers are exact. On Redis they are maintained counters,
/// best-effort: exact right after the operations that change them, corrected by the
/// background reconciliation for state that expired silently (see
/// [`RedisStore::spawn_stats_reconciler`](crate::redis::RedisStore::spawn_stats_reconciler)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Live sessions.
    pub sessions_active: u64,
    /// Unexpired access grants registered with live sessions (in both revocation modes every
    /// issued access token is registered).
    pub access_tokens_active: u64,
    /// Monotonic count of access tokens revoked: live grants removed by a revocation
    /// (revoke one token, revoke a session, revoke the user, theft, eviction) plus denylist
    /// entries written; one token counts once.
    pub revoked_tokens: u64,
    /// Backend-specific figures, e.g. `used_memory` and `keys` on Redis.
    pub backend: BTreeMap<String, String>,
}

/// At most this many unexpired access grants are kept per session. Registering one more (a
/// rotation or a grace replay) revokes the session's oldest grants (smallest `exp`; among
/// equal `exp`s, which are common since JWT exps are whole seconds, the one registered
/// first) until this many are left; the grant being registered always stays. A revoked
/// grant leaves the allowlist, counts in [`StoreStats::revoked_tokens`] and, on Redis,
/// publishes a `t:UID:JTI` revocation notice. A client refreshing once per access-token
/// lifetime holds one or two grants; only a client refreshing far more often reaches the cap.
pub const MAX_LIVE_GRANTS: usize = 16;

/// How long recent security events are kept in the state store.
pub const EVENT_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

/// At most this many recent security events are kept per user (the oldest are trimmed).
pub const EVENT_MAX_PER_USER: usize = 500;

/// One security event of a user, as kept in the state store
/// ([`EventLog::push_event`](crate::EventLog::push_event)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEventRecord {
    /// Unique id chosen by the writer (e.g. a UUID). Pushing the same id twice keeps both.
    pub id: String,
    /// When it happened.
    pub at: Timestamp,
    /// Opaque JSON written by the server.
    pub payload: String,
}

/// The stored form of an event (a Redis zset member), which also orders events of the same
/// instant, identically on every backend: `len(id) ':' id payload`, so any id and payload
/// round-trip.
pub(crate) fn event_member(e: &SecurityEventRecord) -> Vec<u8> {
    let mut out = format!("{}:{}", e.id.len(), e.id).into_bytes();
    out.extend_from_slice(e.payload.as_bytes());
    out
}

/// A session as its durable copy knows it, to be put back into a state store that lost it
/// ([`SessionRestore::restore_session`](crate::SessionRestore::restore_session)). Every
/// field is what the store held for the session at the durable copy's last write; no access
/// grant is carried (access tokens issued before the loss are not allowlisted again).
#[derive(Clone, Debug)]
pub struct RestoredSession {
    /// Owner.
    pub user: UserId,
    /// Id.
    pub session: SessionId,
    /// When it was opened.
    pub created_at: Timestamp,
    /// Sign-in or last rotation.
    pub last_seen: Timestamp,
    /// Idle timeout.
    pub idle_timeout: Duration,
    /// Absolute expiry.
    pub absolute_expiry: Timestamp,
    /// The token version the session was opened under: it is dead if `token_version` (or the
    /// store's own version) is above it.
    pub opened_under: u64,
    /// The user's durable token version: the store's is raised to it if lower or missing,
    /// never lowered.
    pub token_version: u64,
    /// Stored hash of the current refresh token.
    pub current: StoredHash,
    /// Stored hash of the previous refresh token (`None` before the first rotation).
    pub previous: Option<StoredHash>,
    /// Seed of the current token (`None` before the first rotation).
    pub seed: Option<SuccessorSeed>,
    /// Generation of the current token (`None` before the first rotation).
    pub refresh_generation: Option<u32>,
    /// Opaque device description, as at sign-in.
    pub attributes: String,
    /// The fingerprint binding, as at sign-in.
    pub binding: Option<StoredHash>,
    /// Denylist-mode revoked access tokens of the session (jti and `exp`): written back
    /// with the session so none of them is accepted again.
    pub denied: Vec<AccessGrant>,
}

/// What [`SessionRestore::restore_session`](crate::SessionRestore::restore_session) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreOutcome {
    /// The store had no record of the session: it is back, alive.
    Restored,
    /// The store has a record of the session (alive or dead): nothing changed.
    Present,
    /// The store had no record, and the session is dead at `now` (expired, or its version
    /// is behind the user's): nothing was written but the raised token version.
    Dead,
}
