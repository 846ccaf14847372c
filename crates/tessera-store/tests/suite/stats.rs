//! Statistics: live sessions, live access grants, revoked tokens.
//!
//! Every backend under test is private to its test (memory: a new store; Redis: a key prefix
//! of its own), so the numbers move only with what the test does.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::ids::{Jti, UserId};
use tessera_core::time::Timestamp;
use tessera_store::*;

use crate::support::fixtures::*;

/// `(sessions_active, access_tokens_active, revoked_tokens)`.
async fn counts(store: &dyn StateStore, now: Timestamp) -> (u64, u64, u64) {
    let s = store.stats(now).await.unwrap();
    (s.sessions_active, s.access_tokens_active, s.revoked_tokens)
}

pub async fn stats_follow_creates_revocations_evictions_theft_and_logout_all(
    store: Arc<dyn StateStore>,
) {
    let store = &*store;
    let t0 = Timestamp::now();
    assert_eq!(counts(store, t0).await, (0, 0, 0), "a fresh store");

    // Two logins.
    let user = UserId::new();
    let a = open_default(store, user, t0).await;
    let b = open_default(store, user, t0).await;
    assert_eq!(counts(store, t0).await, (2, 2, 0));
    let stats = store.stats(t0).await.unwrap();
    assert!(stats.sessions_active >= 2);
    assert!(!stats.backend.is_empty(), "{stats:?}");

    // A rotation registers one more grant; a grace replay another.
    let r = rotation(&a, a.refresh, t0);
    store.rotate_refresh(r.clone(), t0).await.unwrap();
    store
        .rotate_refresh(rotation(&a, a.refresh, t0), t0)
        .await
        .unwrap();
    assert_eq!(counts(store, t0).await, (2, 4, 0));
    // A refused rotation changes nothing.
    store
        .rotate_refresh(rotation(&a, hash(), t0), t0)
        .await
        .unwrap();
    assert_eq!(counts(store, t0).await, (2, 4, 0));

    // Revoking one token (allowlist), then the same again (no change).
    let mode = RevocationMode::Allowlist;
    assert!(
        store
            .revoke_access_token(user, a.session, a.access, mode, t0)
            .await
            .unwrap()
    );
    store
        .revoke_access_token(user, a.session, a.access, mode, t0)
        .await
        .unwrap();
    assert_eq!(counts(store, t0).await, (2, 3, 1));
    // Denylist: a registered token (grant removed and denied: one token) and an unseen one.
    let deny = RevocationMode::Denylist;
    assert!(
        store
            .revoke_access_token(user, a.session, r.access, deny, t0)
            .await
            .unwrap()
    );
    let unseen = AccessGrant {
        jti: Jti::new(),
        expires_at: t0.plus(ACCESS_TTL),
    };
    assert!(
        store
            .revoke_access_token(user, a.session, unseen, deny, t0)
            .await
            .unwrap()
    );
    assert_eq!(counts(store, t0).await, (2, 2, 3));

    // Revoking a session: its grant goes, revoked.
    assert!(store.revoke_session(user, b.session, t0).await.unwrap());
    assert_eq!(counts(store, t0).await, (1, 1, 4));

    // Eviction: three logins with a limit of two evict the oldest.
    let evictee = UserId::new();
    for k in 0..3u64 {
        let t = at(t0, Duration::from_millis(k));
        let mut n = new_session(evictee, t);
        n.max_sessions = Some(2);
        store.create_session(n, t).await.unwrap();
    }
    assert_eq!(counts(store, t0).await, (3, 3, 5));

    // Theft: the session and both its grants go.
    let victim = open_default(store, UserId::new(), t0).await;
    store
        .rotate_refresh(rotation(&victim, victim.refresh, t0), t0)
        .await
        .unwrap();
    assert_eq!(counts(store, t0).await, (4, 5, 5));
    let late = at(t0, GRACE + Duration::from_millis(10));
    assert_eq!(
        store
            .rotate_refresh(rotation(&victim, victim.refresh, late), late)
            .await
            .unwrap(),
        RotationOutcome::Reused
    );
    assert_eq!(counts(store, late).await, (3, 3, 7));

    // Logout everywhere: both sessions of `evictee`.
    store.revoke_user(evictee, late).await.unwrap();
    assert_eq!(counts(store, late).await, (1, 1, 9));
    store.revoke_user(user, late).await.unwrap();
    assert_eq!(counts(store, late).await, (0, 0, 10));
    // Revoking again revokes nothing more.
    store.revoke_user(user, late).await.unwrap();
    assert_eq!(counts(store, late).await, (0, 0, 10));
}
