//! Refresh rotation: rotation, grace replay, reuse (theft) detection, races.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_store::*;

use crate::support::fixtures::*;

pub async fn create_then_access_is_active_and_listed(store: Arc<dyn StateStore>) {
    let store = &*store;
    let now = Timestamp::now();
    let user = UserId::new();
    let o = open_default(store, user, now).await;
    assert_eq!(o.token_version, 0);
    assert_eq!(
        status_both(store, check(&o, o.access, 0), now).await,
        AccessStatus::Active
    );
    let list = store.list_sessions(user, now).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].session, o.session);
    assert_eq!(list[0].created_at, now);
    assert_eq!(list[0].last_seen_at, now);
    assert_eq!(list[0].expires_at, now.plus(IDLE));
    assert_eq!(list[0].absolute_expiry, now.plus(LIFETIME));
    assert_eq!(
        list[0].attributes,
        r#"{"ua":"Firefox / Linux","ip":"127.0.0.1"}"#
    );
    // Nothing raised the version: a second sign-in reports 0 too.
    assert_eq!(open_default(store, user, now).await.token_version, 0);
}

pub async fn rotation_makes_successor_current_and_registers_access(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let o = open_default(store, UserId::new(), t0).await;
    let t1 = at(t0, Duration::from_secs(60));
    let r1 = rotation(&o, o.refresh, t1);
    let out = store.rotate_refresh(r1.clone(), t1).await.unwrap();
    assert_eq!(
        out,
        RotationOutcome::Rotated {
            token_version: 0,
            session_expires_at: t1.plus(IDLE),
            attributes: ATTRS.to_owned(),
        }
    );
    // The new access token is registered; the old one stays valid until its exp.
    assert_eq!(
        status(store, check(&o, r1.access, 0), t1).await,
        AccessStatus::Active
    );
    assert_eq!(
        status(store, check(&o, o.access, 0), t1).await,
        AccessStatus::Active
    );
    // last_seen moved, deadline extended.
    let list = store.list_sessions(o.user, t1).await.unwrap();
    assert_eq!(list[0].last_seen_at, t1);
    assert_eq!(list[0].expires_at, t1.plus(IDLE));
    // The successor rotates in turn (well after grace).
    let t2 = at(t1, Duration::from_secs(600));
    let r2 = rotation(&o, r1.successor, t2);
    assert_eq!(
        store.rotate_refresh(r2, t2).await.unwrap(),
        RotationOutcome::Rotated {
            token_version: 0,
            session_expires_at: t2.plus(IDLE),
            attributes: ATTRS.to_owned(),
        }
    );
}

pub async fn grace_replay_returns_same_seed_and_registers_access(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let o = open_default(store, UserId::new(), t0).await;
    let r1 = rotation(&o, o.refresh, t0);
    assert!(matches!(
        store.rotate_refresh(r1.clone(), t0).await.unwrap(),
        RotationOutcome::Rotated { .. }
    ));
    let t1 = at(t0, GRACE); // exactly at the edge of the window: still inside
    let replay = rotation(&o, o.refresh, t1);
    let out = store.rotate_refresh(replay.clone(), t1).await.unwrap();
    assert_eq!(
        out,
        RotationOutcome::GraceReplay {
            seed: r1.seed,
            token_version: 0,
            session_expires_at: t0.plus(IDLE),
            attributes: ATTRS.to_owned(),
        }
    );
    assert_eq!(
        status(store, check(&o, replay.access, 0), t1).await,
        AccessStatus::Active
    );
    // The family did not fork: the successor of the first rotation is still current.
    let t2 = at(t1, Duration::from_secs(1));
    assert!(matches!(
        store
            .rotate_refresh(rotation(&o, r1.successor, t2), t2)
            .await
            .unwrap(),
        RotationOutcome::Rotated { .. }
    ));
    // The replay's own successor hash was never stored.
    assert_eq!(
        store
            .rotate_refresh(rotation(&o, replay.successor, t2), t2)
            .await
            .unwrap(),
        RotationOutcome::Invalid
    );
}

pub async fn replay_after_grace_is_reuse_and_revokes_family(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let o = open_default(store, UserId::new(), t0).await;
    let r1 = rotation(&o, o.refresh, t0);
    store.rotate_refresh(r1.clone(), t0).await.unwrap();
    let late = at(t0, GRACE + Duration::from_millis(1));
    let out = store
        .rotate_refresh(rotation(&o, o.refresh, late), late)
        .await
        .unwrap();
    assert_eq!(out, RotationOutcome::Reused);
    // Every access token of the session is dead, and so is the successor.
    for g in [o.access, r1.access] {
        assert_eq!(
            status_both(store, check(&o, g, 0), late).await,
            AccessStatus::Revoked
        );
    }
    assert_eq!(
        store
            .rotate_refresh(rotation(&o, r1.successor, late), late)
            .await
            .unwrap(),
        RotationOutcome::Invalid
    );
    assert!(store.list_sessions(o.user, late).await.unwrap().is_empty());
    assert!(!store.revoke_session(o.user, o.session, late).await.unwrap());
}

pub async fn zero_grace_disables_replay(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let o = open_default(store, UserId::new(), t0).await;
    let mut r1 = rotation(&o, o.refresh, t0);
    r1.grace = Duration::ZERO;
    store.rotate_refresh(r1.clone(), t0).await.unwrap();
    let mut replay = rotation(&o, o.refresh, t0);
    replay.grace = Duration::ZERO;
    assert_eq!(
        store.rotate_refresh(replay, t0).await.unwrap(),
        RotationOutcome::Reused
    );
    assert_eq!(
        status(store, check(&o, r1.access, 0), t0).await,
        AccessStatus::Revoked
    );
}

pub async fn concurrent_rotations_yield_one_rotated_and_grace_replays(store: Arc<dyn StateStore>) {
    const N: usize = 48;
    let t0 = Timestamp::now();
    let o = open_default(&*store, UserId::new(), t0).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..N {
        let store = store.clone();
        let r = rotation(&o, o.refresh, t0);
        tasks.spawn(async move {
            let out = store.rotate_refresh(r.clone(), t0).await.unwrap();
            (r, out)
        });
    }
    let results = tasks.join_all().await;
    let winners: Vec<_> = results
        .iter()
        .filter(|(_, out)| matches!(out, RotationOutcome::Rotated { .. }))
        .collect();
    assert_eq!(winners.len(), 1, "exactly one rotation wins: {results:?}");
    let seed = winners[0].0.seed;
    // Every outcome registered its grant; the session keeps the latest MAX_LIVE_GRANTS of
    // the N + 1 (all share one exp here, so the last registered).
    let mut active = 0;
    for (r, out) in &results {
        match out {
            RotationOutcome::Rotated { .. } => {}
            RotationOutcome::GraceReplay { seed: s, .. } => assert_eq!(*s, seed),
            other => panic!("unexpected {other:?}"),
        }
        if status(&*store, check(&o, r.access, 0), t0).await == AccessStatus::Active {
            active += 1;
        }
    }
    if status(&*store, check(&o, o.access, 0), t0).await == AccessStatus::Active {
        active += 1;
    }
    assert_eq!(active, MAX_LIVE_GRANTS);
    // The family has one head: the winner's successor.
    let next = rotation(&o, winners[0].0.successor, t0);
    assert!(matches!(
        store.rotate_refresh(next, t0).await.unwrap(),
        RotationOutcome::Rotated { .. }
    ));
}

pub async fn unknown_hash_is_invalid_and_session_survives(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let o = open_default(store, UserId::new(), t0).await;
    let out = store
        .rotate_refresh(rotation(&o, hash(), t0), t0)
        .await
        .unwrap();
    assert_eq!(out, RotationOutcome::Invalid);
    assert_eq!(
        status(store, check(&o, o.access, 0), t0).await,
        AccessStatus::Active
    );
    assert!(matches!(
        store
            .rotate_refresh(rotation(&o, o.refresh, t0), t0)
            .await
            .unwrap(),
        RotationOutcome::Rotated { .. }
    ));
    // A token two generations old is unknown too: Invalid, nothing changes.
    let mut other = o.clone();
    other.session = tessera_core::ids::SessionId::new();
    assert_eq!(
        store
            .rotate_refresh(rotation(&other, o.refresh, t0), t0)
            .await
            .unwrap(),
        RotationOutcome::Invalid,
        "a session that does not exist"
    );
}

pub async fn rotation_of_dead_session_is_invalid(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let o = open_default(store, UserId::new(), t0).await;
    let late = at(t0, IDLE);
    assert_eq!(
        store
            .rotate_refresh(rotation(&o, o.refresh, late), late)
            .await
            .unwrap(),
        RotationOutcome::Invalid
    );
}
