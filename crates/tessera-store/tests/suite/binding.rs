//! Session binding (fingerprint) and the attributes returned by rotation.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_store::*;

use crate::support::fixtures::*;

pub async fn binding_mismatch_or_missing_is_invalid_and_changes_nothing(
    store: Arc<dyn StateStore>,
) {
    let store = &*store;
    let t0 = Timestamp::now();
    let bound = binding();
    let mut n = new_session(UserId::new(), t0);
    n.binding = Some(bound);
    let o = open(store, n, t0).await;

    // Missing and wrong bindings, with the current token: Invalid, nothing registered.
    for presented in [None, Some(binding())] {
        let mut r = rotation(&o, o.refresh, t0);
        r.binding = presented;
        assert_eq!(
            store.rotate_refresh(r.clone(), t0).await.unwrap(),
            RotationOutcome::Invalid,
            "{presented:?}"
        );
        assert_eq!(
            status(store, check(&o, r.access, 0), t0).await,
            AccessStatus::Revoked,
            "no access grant for a refused rotation"
        );
        // The successor was not stored.
        let mut next = rotation(&o, r.successor, t0);
        next.binding = Some(bound);
        assert_eq!(
            store.rotate_refresh(next, t0).await.unwrap(),
            RotationOutcome::Invalid
        );
    }
    assert_eq!(
        status(store, check(&o, o.access, 0), t0).await,
        AccessStatus::Active
    );

    // With the right binding the session still rotates.
    let t1 = at(t0, Duration::from_secs(1));
    let mut r1 = rotation(&o, o.refresh, t1);
    r1.binding = Some(bound);
    assert_eq!(
        store.rotate_refresh(r1.clone(), t1).await.unwrap(),
        RotationOutcome::Rotated {
            token_version: 0,
            session_expires_at: t1.plus(IDLE),
            attributes: ATTRS.to_owned(),
        }
    );

    // Replaying the previous token after the grace window with a wrong binding is not
    // theft: Invalid, and the family survives.
    let late = at(t1, GRACE + Duration::from_secs(1));
    let mut thief = rotation(&o, o.refresh, late);
    thief.binding = Some(binding());
    assert_eq!(
        store.rotate_refresh(thief, late).await.unwrap(),
        RotationOutcome::Invalid
    );
    let mut thief = rotation(&o, o.refresh, late);
    thief.binding = None;
    assert_eq!(
        store.rotate_refresh(thief, late).await.unwrap(),
        RotationOutcome::Invalid
    );
    assert_eq!(store.list_sessions(o.user, late).await.unwrap().len(), 1);
    let mut r2 = rotation(&o, r1.successor, late);
    r2.binding = Some(bound);
    assert!(matches!(
        store.rotate_refresh(r2, late).await.unwrap(),
        RotationOutcome::Rotated { .. }
    ));
    // With the right binding, the previous token after grace is still theft.
    let later = at(late, GRACE + Duration::from_secs(1));
    let mut replay = rotation(&o, r1.successor, later);
    replay.binding = Some(bound);
    assert_eq!(
        store.rotate_refresh(replay, later).await.unwrap(),
        RotationOutcome::Reused
    );
}

pub async fn unbound_session_ignores_the_presented_binding(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let o = open_default(store, UserId::new(), t0).await;
    let mut r = rotation(&o, o.refresh, t0);
    r.binding = Some(binding());
    assert!(matches!(
        store.rotate_refresh(r.clone(), t0).await.unwrap(),
        RotationOutcome::Rotated { .. }
    ));
    let mut r2 = rotation(&o, r.successor, t0);
    r2.binding = None;
    assert!(matches!(
        store.rotate_refresh(r2, t0).await.unwrap(),
        RotationOutcome::Rotated { .. }
    ));
}

pub async fn grace_replay_checks_the_binding_too(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let bound = binding();
    let mut n = new_session(UserId::new(), t0);
    n.binding = Some(bound);
    let o = open(store, n, t0).await;
    let mut r1 = rotation(&o, o.refresh, t0);
    r1.binding = Some(bound);
    store.rotate_refresh(r1.clone(), t0).await.unwrap();
    let mut replay = rotation(&o, o.refresh, t0);
    replay.binding = Some(binding());
    assert_eq!(
        store.rotate_refresh(replay.clone(), t0).await.unwrap(),
        RotationOutcome::Invalid
    );
    assert_eq!(
        status(store, check(&o, replay.access, 0), t0).await,
        AccessStatus::Revoked
    );
    replay.binding = Some(bound);
    assert!(matches!(
        store.rotate_refresh(replay, t0).await.unwrap(),
        RotationOutcome::GraceReplay { seed, .. } if seed == r1.seed
    ));
}

pub async fn rotation_returns_the_session_attributes(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let attrs = r#"{"ua":"Safari / iOS — ünïcödé","ip":"2001:db8::1","name":"phone"}"#;
    let mut n = new_session(UserId::new(), t0);
    n.attributes = attrs.to_owned();
    let o = open(store, n, t0).await;
    let r = rotation(&o, o.refresh, t0);
    match store.rotate_refresh(r, t0).await.unwrap() {
        RotationOutcome::Rotated { attributes, .. } => assert_eq!(attributes, attrs),
        other => panic!("{other:?}"),
    }
    match store
        .rotate_refresh(rotation(&o, o.refresh, t0), t0)
        .await
        .unwrap()
    {
        RotationOutcome::GraceReplay { attributes, .. } => assert_eq!(attributes, attrs),
        other => panic!("{other:?}"),
    }
    // Empty attributes come back empty.
    let mut n = new_session(UserId::new(), t0);
    n.attributes = String::new();
    let e = open(store, n, t0).await;
    match store
        .rotate_refresh(rotation(&e, e.refresh, t0), t0)
        .await
        .unwrap()
    {
        RotationOutcome::Rotated { attributes, .. } => assert_eq!(attributes, ""),
        other => panic!("{other:?}"),
    }
}

/// Attributes of any length (Redis stores them in 64-byte chunks) come back byte for byte
/// from rotation, grace replay and `list_sessions`.
pub async fn long_attributes_round_trip(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let unit = "é{}:ab"; // multi-byte characters may straddle a chunk boundary
    for len in [1usize, 63, 64, 65, 127, 128, 129, 300, 1000] {
        let attrs: String = unit.chars().cycle().take(len).collect();
        let user = UserId::new();
        let mut n = new_session(user, t0);
        n.attributes = attrs.clone();
        let o = open(store, n, t0).await;
        match store
            .rotate_refresh(rotation(&o, o.refresh, t0), t0)
            .await
            .unwrap()
        {
            RotationOutcome::Rotated { attributes, .. } => assert_eq!(attributes, attrs, "{len}"),
            other => panic!("{other:?}"),
        }
        match store
            .rotate_refresh(rotation(&o, o.refresh, t0), t0)
            .await
            .unwrap()
        {
            RotationOutcome::GraceReplay { attributes, .. } => {
                assert_eq!(attributes, attrs, "{len}")
            }
            other => panic!("{other:?}"),
        }
        let list = store.list_sessions(user, t0).await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].attributes, attrs, "{len}");
    }
}
