//! `find_access_token`: which live session holds a live grant of the user.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::ids::{Jti, UserId};
use tessera_core::time::Timestamp;
use tessera_store::*;

use crate::support::fixtures::*;

pub async fn find_access_token_finds_only_own_live_grants(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let user = UserId::new();
    let a = open_default(store, user, t0).await;
    let b = open_default(store, user, t0).await;
    let r = rotation(&b, b.refresh, t0);
    store.rotate_refresh(r.clone(), t0).await.unwrap();
    let other = open_default(store, UserId::new(), t0).await;

    assert_eq!(
        store
            .find_access_token(user, a.access.jti, t0)
            .await
            .unwrap(),
        Some((a.session, a.access.expires_at))
    );
    assert_eq!(
        store
            .find_access_token(user, r.access.jti, t0)
            .await
            .unwrap(),
        Some((b.session, r.access.expires_at))
    );
    assert_eq!(
        store
            .find_access_token(user, b.access.jti, t0)
            .await
            .unwrap(),
        Some((b.session, b.access.expires_at))
    );
    // Unknown jti, another user's jti, and our jti asked as another user.
    assert_eq!(
        store.find_access_token(user, Jti::new(), t0).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .find_access_token(user, other.access.jti, t0)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_access_token(other.user, a.access.jti, t0)
            .await
            .unwrap(),
        None
    );
    // Expired grant (at its exp).
    assert_eq!(
        store
            .find_access_token(user, a.access.jti, a.access.expires_at)
            .await
            .unwrap(),
        None
    );
    // A revoked token, a revoked session, a theft-revoked session.
    assert!(
        store
            .revoke_access_token(user, b.session, b.access, RevocationMode::Denylist, t0)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .find_access_token(user, b.access.jti, t0)
            .await
            .unwrap(),
        None
    );
    assert!(store.revoke_session(user, a.session, t0).await.unwrap());
    assert_eq!(
        store
            .find_access_token(user, a.access.jti, t0)
            .await
            .unwrap(),
        None
    );
    let late = at(t0, GRACE + Duration::from_secs(1));
    assert_eq!(
        store
            .rotate_refresh(rotation(&b, b.refresh, late), late)
            .await
            .unwrap(),
        RotationOutcome::Reused
    );
    assert_eq!(
        store
            .find_access_token(user, r.access.jti, late)
            .await
            .unwrap(),
        None
    );
    // A session that died by idle timeout, and every session after revoke_user.
    let c = open_default(store, user, t0).await;
    assert_eq!(
        store
            .find_access_token(user, c.access.jti, at(t0, IDLE))
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .find_access_token(user, c.access.jti, t0)
            .await
            .unwrap()
            .is_some()
    );
    store.revoke_user(user, t0).await.unwrap();
    assert_eq!(
        store
            .find_access_token(user, c.access.jti, t0)
            .await
            .unwrap(),
        None
    );
    // The other user is untouched.
    assert_eq!(
        store
            .find_access_token(other.user, other.access.jti, t0)
            .await
            .unwrap(),
        Some((other.session, other.access.expires_at))
    );
}
