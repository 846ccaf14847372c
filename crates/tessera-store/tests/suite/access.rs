//! Revocation checks and access-token revocation, in both modes.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::time::Timestamp;
use tessera_store::*;

use crate::support::fixtures::*;

pub async fn access_check_refuses_wrong_session_user_and_expired_tokens(
    store: Arc<dyn StateStore>,
) {
    let store = &*store;
    let t0 = Timestamp::now();
    let o = open_default(store, UserId::new(), t0).await;
    let mut wrong_session = check(&o, o.access, 0);
    wrong_session.session = SessionId::new();
    let mut wrong_user = check(&o, o.access, 0);
    wrong_user.user = UserId::new();
    for c in [wrong_session, wrong_user] {
        assert_eq!(status_both(store, c, t0).await, AccessStatus::Revoked);
    }
    let unknown = AccessGrant {
        jti: Jti::new(),
        expires_at: o.access.expires_at,
    };
    assert_eq!(
        status(store, check(&o, unknown, 0), t0).await,
        AccessStatus::Revoked
    );
    // Past its exp, an allowlisted jti is no longer active.
    let after_exp = o.access.expires_at;
    assert_eq!(
        status(store, check(&o, o.access, 0), after_exp).await,
        AccessStatus::Revoked
    );
}

pub async fn denylist_mode_checks_session_version_and_denied_jtis(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let o = open_default(store, UserId::new(), t0).await;
    let deny = |c| store.check_access(c, RevocationMode::Denylist, t0);
    // A jti the store never saw is fine in denylist mode (while the session is alive)…
    let unseen = AccessGrant {
        jti: Jti::new(),
        expires_at: o.access.expires_at,
    };
    assert_eq!(
        deny(check(&o, unseen, 0)).await.unwrap(),
        AccessStatus::Active
    );
    // …but never with a dead session or an old version.
    let mut gone = check(&o, unseen, 0);
    gone.session = SessionId::new();
    assert_eq!(deny(gone).await.unwrap(), AccessStatus::Revoked);
    assert!(
        store
            .revoke_access_token(o.user, o.session, unseen, RevocationMode::Denylist, t0)
            .await
            .unwrap()
    );
    assert_eq!(
        deny(check(&o, unseen, 0)).await.unwrap(),
        AccessStatus::Revoked
    );
    assert_eq!(
        deny(check(&o, o.access, 0)).await.unwrap(),
        AccessStatus::Active
    );
}

pub async fn revoke_access_token_in_allowlist_mode_kills_only_that_jti(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let o = open_default(store, UserId::new(), t0).await;
    let r = rotation(&o, o.refresh, t0);
    store.rotate_refresh(r.clone(), t0).await.unwrap();
    let mode = RevocationMode::Allowlist;
    assert!(
        store
            .revoke_access_token(o.user, o.session, o.access, mode, t0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_access_token(o.user, o.session, o.access, mode, t0)
            .await
            .unwrap(),
        "second time: not active"
    );
    assert_eq!(
        status(store, check(&o, o.access, 0), t0).await,
        AccessStatus::Revoked
    );
    assert_eq!(
        status(store, check(&o, r.access, 0), t0).await,
        AccessStatus::Active
    );
    // The session (and its refresh family) lives on.
    assert!(matches!(
        store
            .rotate_refresh(rotation(&o, r.successor, t0), t0)
            .await
            .unwrap(),
        RotationOutcome::Rotated { .. }
    ));
}

pub async fn revoke_access_token_in_denylist_mode_kills_only_that_jti(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let o = open_default(store, UserId::new(), t0).await;
    let r = rotation(&o, o.refresh, t0);
    store.rotate_refresh(r.clone(), t0).await.unwrap();
    let mode = RevocationMode::Denylist;
    assert!(
        store
            .revoke_access_token(o.user, o.session, o.access, mode, t0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_access_token(o.user, o.session, o.access, mode, t0)
            .await
            .unwrap(),
        "already denied"
    );
    // Revoked in both modes, the other token untouched in both.
    assert_eq!(
        status_both(store, check(&o, o.access, 0), t0).await,
        AccessStatus::Revoked
    );
    assert_eq!(
        status_both(store, check(&o, r.access, 0), t0).await,
        AccessStatus::Active
    );
    // A token of a dead session was not active.
    let other = UserId::new();
    let gone = AccessGrant {
        jti: Jti::new(),
        expires_at: t0.plus(ACCESS_TTL),
    };
    assert!(
        !store
            .revoke_access_token(other, SessionId::new(), gone, mode, t0)
            .await
            .unwrap()
    );
    // An already expired token is not active either.
    let expired = AccessGrant {
        jti: Jti::new(),
        expires_at: t0.minus(Duration::from_secs(1)),
    };
    assert!(
        !store
            .revoke_access_token(o.user, o.session, expired, mode, t0)
            .await
            .unwrap()
    );
}

pub async fn token_version_is_raised_never_lowered_on_create(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let user = UserId::new();
    let mut n = new_session(user, t0);
    n.token_version = 5;
    let a = open(store, n, t0).await;
    assert_eq!(a.token_version, 5);
    let mut n = new_session(user, t0);
    n.token_version = 3;
    let b = open(store, n, t0).await;
    assert_eq!(b.token_version, 5, "never lowered");
    // Tokens must carry at least the stored version.
    assert_eq!(
        status_both(store, check(&b, b.access, 5), t0).await,
        AccessStatus::Active
    );
    assert_eq!(
        status_both(store, check(&b, b.access, 4), t0).await,
        AccessStatus::Revoked
    );
    assert_eq!(
        open_default(store, UserId::new(), t0).await.token_version,
        0,
        "unknown user"
    );
}
