//! Session lifetimes, revocation of sessions and users, limits, listing.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_store::*;

use crate::support::fixtures::*;

pub async fn revoke_session_kills_its_tokens_and_leaves_others(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let user = UserId::new();
    let a = open_default(store, user, t0).await;
    let b = open_default(store, user, t0).await;
    assert!(store.revoke_session(user, a.session, t0).await.unwrap());
    assert!(
        !store.revoke_session(user, a.session, t0).await.unwrap(),
        "already gone"
    );
    assert_eq!(
        status_both(store, check(&a, a.access, 0), t0).await,
        AccessStatus::Revoked
    );
    assert_eq!(
        store
            .rotate_refresh(rotation(&a, a.refresh, t0), t0)
            .await
            .unwrap(),
        RotationOutcome::Invalid
    );
    assert_eq!(
        status_both(store, check(&b, b.access, 0), t0).await,
        AccessStatus::Active
    );
    let list = store.list_sessions(user, t0).await.unwrap();
    assert_eq!(
        list.iter().map(|s| s.session).collect::<Vec<_>>(),
        vec![b.session]
    );
}

/// RFC 7009 revocation by a refresh token: only its holder (current or previous token) ends
/// the session, a fingerprint binding is not asked for, and anything else changes nothing.
pub async fn revoke_session_by_refresh_needs_a_token_of_that_session(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let user = UserId::new();
    let mut n = new_session(user, t0);
    n.binding = Some(binding());
    let a = open(store, n, t0).await;
    let b = open_default(store, user, t0).await;

    // A token of another session, an unknown one, or the right token under the wrong
    // session or user: refused, both sessions live.
    for (u, s, h) in [
        (user, a.session, b.refresh),
        (user, a.session, hash()),
        (user, b.session, a.refresh),
        (UserId::new(), a.session, a.refresh),
    ] {
        assert!(!store.revoke_session_by_refresh(u, s, &h, t0).await.unwrap());
    }
    for o in [&a, &b] {
        assert_eq!(
            status_both(store, check(o, o.access, 0), t0).await,
            AccessStatus::Active
        );
    }

    // The current token of the bound session revokes it, without the binding.
    assert!(
        store
            .revoke_session_by_refresh(user, a.session, &a.refresh, t0)
            .await
            .unwrap()
    );
    assert_eq!(
        status_both(store, check(&a, a.access, 0), t0).await,
        AccessStatus::Revoked
    );
    assert!(
        !store
            .revoke_session_by_refresh(user, a.session, &a.refresh, t0)
            .await
            .unwrap(),
        "already gone"
    );
    assert_eq!(
        store
            .list_sessions(user, t0)
            .await
            .unwrap()
            .iter()
            .map(|s| s.session)
            .collect::<Vec<_>>(),
        vec![b.session]
    );

    // After a rotation the previous token still proves possession (long after the grace
    // window too); its successor would as well.
    let r = rotation(&b, b.refresh, t0);
    assert!(matches!(
        store.rotate_refresh(r.clone(), t0).await.unwrap(),
        RotationOutcome::Rotated { .. }
    ));
    let late = at(t0, GRACE + Duration::from_secs(60));
    assert!(
        store
            .revoke_session_by_refresh(user, b.session, &b.refresh, late)
            .await
            .unwrap()
    );
    assert_eq!(
        status_both(store, check(&b, r.access, 0), late).await,
        AccessStatus::Revoked
    );
    assert!(store.list_sessions(user, late).await.unwrap().is_empty());

    // A dead session is not revoked again.
    let c = open_default(store, user, t0).await;
    let after_idle = at(t0, IDLE + Duration::from_secs(1));
    assert!(
        !store
            .revoke_session_by_refresh(user, c.session, &c.refresh, after_idle)
            .await
            .unwrap()
    );
}

pub async fn revoke_user_kills_all_sessions_and_bumps_version(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let user = UserId::new();
    let bystander = open_default(store, UserId::new(), t0).await;
    let mut n = new_session(user, t0);
    n.token_version = 2;
    let a = open(store, n, t0).await;
    let b = open_default(store, user, t0).await;
    assert_eq!(b.token_version, 2);
    // The returned version is the stored one: the next sign-in below reports it too.
    assert_eq!(store.revoke_user(user, t0).await.unwrap(), 3);
    for o in [&a, &b] {
        assert_eq!(
            status_both(store, check(o, o.access, 2), t0).await,
            AccessStatus::Revoked
        );
        assert_eq!(
            store
                .rotate_refresh(rotation(o, o.refresh, t0), t0)
                .await
                .unwrap(),
            RotationOutcome::Invalid
        );
    }
    assert!(store.list_sessions(user, t0).await.unwrap().is_empty());
    // A new sign-in afterwards works, with the new version (SQL may still say 2).
    let mut n = new_session(user, t0);
    n.token_version = 2;
    let c = open(store, n, t0).await;
    assert_eq!(c.token_version, 3);
    assert_eq!(
        status_both(store, check(&c, c.access, 3), t0).await,
        AccessStatus::Active
    );
    assert_eq!(
        status_both(store, check(&c, c.access, 2), t0).await,
        AccessStatus::Revoked
    );
    assert_eq!(
        store
            .rotate_refresh(rotation(&c, c.refresh, t0), t0)
            .await
            .unwrap(),
        RotationOutcome::Rotated {
            token_version: 3,
            session_expires_at: t0.plus(IDLE),
            attributes: ATTRS.to_owned(),
        }
    );
    // Other users are untouched.
    assert_eq!(
        status_both(store, check(&bystander, bystander.access, 0), t0).await,
        AccessStatus::Active
    );
    // Revoking a user never seen starts the version at 1.
    assert_eq!(store.revoke_user(UserId::new(), t0).await.unwrap(), 1);
}

/// A password change: every other session dies in one step, the kept one and its access
/// tokens live on (the version is not bumped), other users are untouched; a dead session is
/// not counted; concurrent sign-ins see all others alive or all gone.
pub async fn revoke_user_except_keeps_exactly_one_session(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let user = UserId::new();
    let bystander = open_default(store, UserId::new(), t0).await;
    let keep = open_default(store, user, t0).await;
    let a = open_default(store, user, t0).await;
    let b = open_default(store, user, t0).await;
    let mut n = new_session(user, t0);
    n.limits.idle_timeout = Duration::from_secs(1);
    let idle = open(store, n, t0).await;
    let later = at(t0, Duration::from_secs(2));
    assert_eq!(
        store
            .revoke_user_except(user, keep.session, later)
            .await
            .unwrap(),
        2,
        "the idle session was dead already"
    );
    for o in [&a, &b, &idle] {
        assert_eq!(
            status_both(store, check(o, o.access, 0), later).await,
            AccessStatus::Revoked
        );
        assert_eq!(
            store
                .rotate_refresh(rotation(o, o.refresh, later), later)
                .await
                .unwrap(),
            RotationOutcome::Invalid
        );
    }
    assert_eq!(
        status_both(store, check(&keep, keep.access, 0), later).await,
        AccessStatus::Active
    );
    // The version was not bumped: a sign-in now reports the kept session's version (it is
    // revoked again below, with the others).
    let probe = open_default(store, user, later).await;
    assert_eq!(probe.token_version, keep.token_version);
    assert!(
        store
            .revoke_session(user, probe.session, later)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .list_sessions(user, later)
            .await
            .unwrap()
            .iter()
            .map(|s| s.session)
            .collect::<Vec<_>>(),
        vec![keep.session]
    );
    assert_eq!(
        status_both(store, check(&bystander, bystander.access, 0), later).await,
        AccessStatus::Active
    );
    // Keeping a session that does not exist revokes every session.
    let c = open_default(store, user, later).await;
    assert_eq!(
        store
            .revoke_user_except(user, a.session, later)
            .await
            .unwrap(),
        2
    );
    assert!(store.list_sessions(user, later).await.unwrap().is_empty());
    assert_eq!(
        status_both(store, check(&c, c.access, 0), later).await,
        AccessStatus::Revoked
    );
    // A user never seen: nothing to do.
    assert_eq!(
        store
            .revoke_user_except(UserId::new(), a.session, later)
            .await
            .unwrap(),
        0
    );
}

pub async fn idle_timeout_kills_session_unless_refreshed(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let user = UserId::new();
    let idle = Duration::from_secs(60);
    let mut n = new_session(user, t0);
    n.limits.idle_timeout = idle;
    n.access.expires_at = t0.plus(Duration::from_secs(3600));
    let o = open(store, n, t0).await;
    // Refreshed just before the idle deadline: lives on, deadline moves.
    let t1 = at(t0, idle - Duration::from_millis(1));
    let mut r = rotation(&o, o.refresh, t1);
    r.idle_timeout = idle;
    assert!(matches!(
        store.rotate_refresh(r.clone(), t1).await.unwrap(),
        RotationOutcome::Rotated { .. }
    ));
    let t2 = at(t1, idle - Duration::from_millis(1));
    assert_eq!(
        status(store, check(&o, o.access, 0), t2).await,
        AccessStatus::Active
    );
    assert_eq!(store.list_sessions(user, t2).await.unwrap().len(), 1);
    // Not refreshed for the idle timeout: dead everywhere.
    let t3 = at(t1, idle);
    assert_eq!(
        status_both(store, check(&o, o.access, 0), t3).await,
        AccessStatus::Revoked
    );
    assert!(store.list_sessions(user, t3).await.unwrap().is_empty());
    assert!(!store.revoke_session(user, o.session, t3).await.unwrap());
    assert_eq!(
        store
            .rotate_refresh(rotation(&o, r.successor, t3), t3)
            .await
            .unwrap(),
        RotationOutcome::Invalid
    );
}

pub async fn absolute_lifetime_kills_session_even_when_refreshed(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let user = UserId::new();
    let mut n = new_session(user, t0);
    n.limits.absolute_expiry = t0.plus(Duration::from_secs(90));
    n.limits.idle_timeout = Duration::from_secs(60);
    let o = open(store, n, t0).await;
    let t1 = at(t0, Duration::from_secs(50));
    let mut r = rotation(&o, o.refresh, t1);
    r.idle_timeout = Duration::from_secs(60);
    store.rotate_refresh(r.clone(), t1).await.unwrap();
    let list = store.list_sessions(user, t1).await.unwrap();
    assert_eq!(
        list[0].expires_at,
        t0.plus(Duration::from_secs(90)),
        "capped by absolute expiry"
    );
    let t2 = at(t0, Duration::from_secs(90));
    assert_eq!(
        status_both(store, check(&o, r.access, 0), t2).await,
        AccessStatus::Revoked
    );
    assert_eq!(
        store
            .rotate_refresh(rotation(&o, r.successor, t2), t2)
            .await
            .unwrap(),
        RotationOutcome::Invalid
    );
    assert!(store.list_sessions(user, t2).await.unwrap().is_empty());
}

pub async fn max_sessions_evicts_oldest_and_their_tokens_die(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let user = UserId::new();
    let mut opened = Vec::new();
    for k in 0..4u64 {
        let t = at(t0, Duration::from_secs(k));
        let mut n = new_session(user, t);
        n.max_sessions = Some(4);
        opened.push(open(store, n, t).await);
    }
    // Refreshing the oldest does not make it younger: eviction is by creation time.
    let t4 = at(t0, Duration::from_secs(4));
    store
        .rotate_refresh(rotation(&opened[0], opened[0].refresh, t4), t4)
        .await
        .unwrap();
    let mut n = new_session(user, t4);
    n.max_sessions = Some(2);
    let created = store.create_session(n.clone(), t4).await.unwrap();
    assert_eq!(
        created.evicted,
        vec![opened[0].session, opened[1].session, opened[2].session],
        "oldest first"
    );
    for o in &opened[..3] {
        assert_eq!(
            status_both(store, check(o, o.access, 0), t4).await,
            AccessStatus::Revoked
        );
    }
    assert_eq!(
        status_both(store, check(&opened[3], opened[3].access, 0), t4).await,
        AccessStatus::Active
    );
    let listed: Vec<_> = store
        .list_sessions(user, t4)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.session)
        .collect();
    assert_eq!(listed, vec![opened[3].session, n.session]);
}

pub async fn list_sessions_is_oldest_first_and_never_lists_dead_sessions(
    store: Arc<dyn StateStore>,
) {
    let store = &*store;
    let t0 = Timestamp::now();
    let user = UserId::new();
    let sec = |k: u64| at(t0, Duration::from_secs(k));
    // Created out of id order vs time order does not matter: created_at orders.
    let mut short = new_session(user, sec(3));
    short.limits.idle_timeout = Duration::from_secs(5);
    let keep_b = open_default(store, user, sec(2)).await;
    let keep_a = open_default(store, user, sec(1)).await;
    let short = open(store, short, sec(3)).await;
    let stolen = open_default(store, user, sec(4)).await;
    let revoked = open_default(store, user, sec(5)).await;
    let evicted = open_default(store, user, sec(0)).await;
    let now = sec(10);
    // theft
    store
        .rotate_refresh(rotation(&stolen, stolen.refresh, now), now)
        .await
        .unwrap();
    let late = sec(30);
    assert_eq!(
        store
            .rotate_refresh(rotation(&stolen, stolen.refresh, late), late)
            .await
            .unwrap(),
        RotationOutcome::Reused
    );
    // revoke
    assert!(
        store
            .revoke_session(user, revoked.session, late)
            .await
            .unwrap()
    );
    // eviction (oldest = `evicted`, created at sec 0)
    let mut n = new_session(user, late);
    n.max_sessions = Some(3);
    let created = store.create_session(n.clone(), late).await.unwrap();
    assert_eq!(
        created.evicted,
        vec![evicted.session],
        "expired `short` is not counted"
    );
    let listed: Vec<_> = store
        .list_sessions(user, late)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.session)
        .collect();
    assert_eq!(listed, vec![keep_a.session, keep_b.session, n.session]);
    let _ = short;
}

pub async fn session_dead_at_birth_is_not_stored(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let user = UserId::new();
    let mut n = new_session(user, t0);
    n.limits.absolute_expiry = t0;
    let o = open(store, n, t0).await;
    assert_eq!(
        status_both(store, check(&o, o.access, 0), t0).await,
        AccessStatus::Revoked
    );
    assert!(store.list_sessions(user, t0).await.unwrap().is_empty());
}
