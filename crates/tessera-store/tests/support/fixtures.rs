//! Builders for the values that cross the trait, with realistic defaults.

use std::time::Duration;

use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::{RefreshKey, RefreshToken, SuccessorSeed, TokenHash};
use tessera_core::time::Timestamp;
use tessera_store::*;

pub const IDLE: Duration = Duration::from_secs(30 * 60);
pub const LIFETIME: Duration = Duration::from_secs(24 * 3600);
pub const ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
pub const GRACE: Duration = Duration::from_secs(10);

/// The attributes every default session is created with.
pub const ATTRS: &str = r#"{"ua":"Firefox / Linux","ip":"127.0.0.1"}"#;

/// A fresh random refresh-token hash.
pub fn hash() -> TokenHash {
    RefreshToken::generate(UserId::new(), SessionId::new(), &RefreshKey::generate()).hash()
}

/// A fresh access grant expiring `ACCESS_TTL` after `now`.
pub fn grant(now: Timestamp) -> AccessGrant {
    AccessGrant {
        jti: Jti::new(),
        expires_at: now.plus(ACCESS_TTL),
    }
}

/// A live session being built: its ids, current refresh hash and first access grant.
#[derive(Clone, Debug)]
pub struct Opened {
    pub user: UserId,
    pub session: SessionId,
    pub refresh: TokenHash,
    pub access: AccessGrant,
    pub token_version: u64,
}

/// A `NewSession` with default limits for `user` at `now`.
pub fn new_session(user: UserId, now: Timestamp) -> NewSession {
    NewSession {
        user,
        session: SessionId::new(),
        refresh: hash(),
        access: grant(now),
        token_version: 0,
        limits: SessionLimits {
            idle_timeout: IDLE,
            absolute_expiry: now.plus(LIFETIME),
        },
        max_sessions: None,
        attributes: ATTRS.to_owned(),
        binding: None,
    }
}

/// Opens `new` and returns what the caller keeps.
pub async fn open(store: &dyn StateStore, new: NewSession, now: Timestamp) -> Opened {
    let created = store
        .create_session(new.clone(), now)
        .await
        .expect("create_session");
    Opened {
        user: new.user,
        session: new.session,
        refresh: new.refresh,
        access: new.access,
        token_version: created.token_version,
    }
}

/// Opens a default session for `user`.
pub async fn open_default(store: &dyn StateStore, user: UserId, now: Timestamp) -> Opened {
    open(store, new_session(user, now), now).await
}

/// A rotation of `presented` for session `o` with a fresh successor, seed and grant. The
/// presented token carries no generation (as a legacy token), so only its hash decides; see
/// [`rotation_of`] for one that does.
pub fn rotation(o: &Opened, presented: TokenHash, now: Timestamp) -> Rotation {
    Rotation {
        user: o.user,
        session: o.session,
        presented,
        generation: None,
        successor: hash(),
        successor_generation: 1,
        seed: SuccessorSeed::random(),
        access: grant(now),
        grace: GRACE,
        idle_timeout: IDLE,
        binding: None,
    }
}

/// A rotation of `presented`, a token of generation `generation` (as the server verified it),
/// into a successor of the next generation.
pub fn rotation_of(o: &Opened, presented: TokenHash, generation: u32, now: Timestamp) -> Rotation {
    Rotation {
        generation: Some(generation),
        successor_generation: generation + 1,
        ..rotation(o, presented, now)
    }
}

/// The revocation-check input of `grant` in session `o` with version `ver`.
pub fn check(o: &Opened, grant: AccessGrant, ver: u64) -> AccessCheck {
    AccessCheck {
        user: o.user,
        session: o.session,
        jti: grant.jti,
        token_version: ver,
    }
}

/// `check_access` in allowlist mode.
pub async fn status(store: &dyn StateStore, c: AccessCheck, now: Timestamp) -> AccessStatus {
    store
        .check_access(c, RevocationMode::Allowlist, now)
        .await
        .expect("check_access")
}

/// `check_access` in both modes, asserting they agree, and returning the status.
pub async fn status_both(store: &dyn StateStore, c: AccessCheck, now: Timestamp) -> AccessStatus {
    let a = status(store, c, now).await;
    let d = store
        .check_access(c, RevocationMode::Denylist, now)
        .await
        .expect("check_access");
    assert_eq!(a, d, "allowlist and denylist disagree on {c:?}");
    a
}

/// Adds `d` to a timestamp (readability).
pub fn at(base: Timestamp, d: Duration) -> Timestamp {
    base.plus(d)
}

/// A fresh random fingerprint hash (a session binding).
pub fn binding() -> TokenHash {
    hash()
}

/// An event of `at` with a recognisable id and payload.
pub fn event(id: &str, at: Timestamp) -> SecurityEventRecord {
    SecurityEventRecord {
        id: id.to_owned(),
        at,
        payload: format!(r#"{{"kind":"login","id":"{id}"}}"#),
    }
}

/// The ids of `events`, in order.
pub fn ids(events: &[SecurityEventRecord]) -> Vec<String> {
    events.iter().map(|e| e.id.clone()).collect()
}
