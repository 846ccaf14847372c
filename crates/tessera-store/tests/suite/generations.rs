//! Theft detection for every older generation of a refresh family: the store keeps only the
//! current and previous hash and the current generation (`Rotation::generation`, verified by
//! the server's MAC), yet a replay of *any* older token is theft.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::ids::UserId;
use tessera_core::refresh::TokenHash;
use tessera_core::time::Timestamp;
use tessera_store::*;

use crate::support::fixtures::*;

/// A family rotated three times, a minute apart: tokens of generations 0..=3 (3 is current,
/// 2 previous) and every access grant it was given.
struct Family {
    o: Opened,
    hashes: Vec<TokenHash>,
    grants: Vec<AccessGrant>,
    /// When the last rotation happened.
    last: Timestamp,
}

async fn rotated_three_times(store: &dyn StateStore, new: NewSession, t0: Timestamp) -> Family {
    let binding = new.binding;
    let o = open(store, new, t0).await;
    let mut hashes = vec![o.refresh];
    let mut grants = vec![o.access];
    let mut last = t0;
    for g in 0..3u32 {
        last = at(t0, Duration::from_secs(60 * u64::from(g + 1)));
        let mut r = rotation_of(&o, hashes[g as usize], g, last);
        r.binding = binding;
        assert!(
            matches!(
                store.rotate_refresh(r.clone(), last).await.unwrap(),
                RotationOutcome::Rotated { .. }
            ),
            "rotation of generation {g}"
        );
        hashes.push(r.successor);
        grants.push(r.access);
    }
    Family {
        o,
        hashes,
        grants,
        last,
    }
}

async fn assert_revoked(store: &dyn StateStore, f: &Family, now: Timestamp) {
    for g in &f.grants {
        assert_eq!(
            status_both(store, check(&f.o, *g, 0), now).await,
            AccessStatus::Revoked
        );
    }
    assert!(store.list_sessions(f.o.user, now).await.unwrap().is_empty());
    // The thief's current token is dead too.
    assert_eq!(
        store
            .rotate_refresh(rotation_of(&f.o, f.hashes[3], 3, now), now)
            .await
            .unwrap(),
        RotationOutcome::Invalid
    );
    assert!(
        !store
            .revoke_session(f.o.user, f.o.session, now)
            .await
            .unwrap()
    );
}

async fn assert_alive(store: &dyn StateStore, f: &Family, now: Timestamp) {
    assert_eq!(store.list_sessions(f.o.user, now).await.unwrap().len(), 1);
    let last = f.grants[3];
    assert_eq!(
        status_both(store, check(&f.o, last, 0), now).await,
        AccessStatus::Active
    );
}

pub async fn replaying_any_older_generation_after_grace_is_reuse_and_revokes_family(
    store: Arc<dyn StateStore>,
) {
    let store = &*store;
    // Generation 0 and 1 are older than the previous token (2), so their hashes are gone.
    for old in [0u32, 1] {
        let t0 = Timestamp::now();
        let f = rotated_three_times(store, new_session(UserId::new(), t0), t0).await;
        let late = at(f.last, GRACE + Duration::from_secs(1));
        let replay = rotation_of(&f.o, f.hashes[old as usize], old, late);
        assert_eq!(
            store.rotate_refresh(replay.clone(), late).await.unwrap(),
            RotationOutcome::Reused,
            "generation {old}"
        );
        assert_revoked(store, &f, late).await;
        assert_eq!(
            status(store, check(&f.o, replay.access, 0), late).await,
            AccessStatus::Revoked,
            "no grant for the replay"
        );
    }
}

pub async fn an_older_generation_is_reuse_even_inside_the_grace_window(store: Arc<dyn StateStore>) {
    // The grace window only excuses the *previous* token (a concurrent-refresh race).
    let store = &*store;
    let t0 = Timestamp::now();
    let f = rotated_three_times(store, new_session(UserId::new(), t0), t0).await;
    let before = store.stats(f.last).await.unwrap();
    let replay = rotation_of(&f.o, f.hashes[1], 1, f.last);
    assert_eq!(
        store.rotate_refresh(replay, f.last).await.unwrap(),
        RotationOutcome::Reused
    );
    // Statistics as for any theft: the session and its 4 live grants go, revoked.
    let after = store.stats(f.last).await.unwrap();
    assert_eq!(after.sessions_active + 1, before.sessions_active);
    assert_eq!(after.access_tokens_active + 4, before.access_tokens_active);
    assert_eq!(after.revoked_tokens, before.revoked_tokens + 4);
    assert_revoked(store, &f, f.last).await;
}

pub async fn an_unknown_hash_of_a_generation_not_older_is_invalid_and_changes_nothing(
    store: Arc<dyn StateStore>,
) {
    let store = &*store;
    let t0 = Timestamp::now();
    let f = rotated_three_times(store, new_session(UserId::new(), t0), t0).await;
    let late = at(f.last, GRACE + Duration::from_secs(1));
    // A hash the family never held, claiming the current, a newer or no generation.
    for g in [Some(3u32), Some(4), Some(u32::MAX), None] {
        let mut r = rotation(&f.o, hash(), late);
        r.generation = g;
        assert_eq!(
            store.rotate_refresh(r.clone(), late).await.unwrap(),
            RotationOutcome::Invalid,
            "{g:?}"
        );
        assert_eq!(
            status(store, check(&f.o, r.access, 0), late).await,
            AccessStatus::Revoked,
            "no grant for a refused rotation"
        );
        assert_alive(store, &f, late).await;
    }
    // An old token presented without its generation (as a legacy token would be): invalid,
    // never theft — only the generation proves age.
    let mut r = rotation(&f.o, f.hashes[0], late);
    r.generation = None;
    assert_eq!(
        store.rotate_refresh(r, late).await.unwrap(),
        RotationOutcome::Invalid
    );
    assert_alive(store, &f, late).await;
    // The current token still rotates.
    assert!(matches!(
        store
            .rotate_refresh(rotation_of(&f.o, f.hashes[3], 3, late), late)
            .await
            .unwrap(),
        RotationOutcome::Rotated { .. }
    ));
}

pub async fn grace_replay_with_generations_returns_the_same_successor_and_keeps_the_family(
    store: Arc<dyn StateStore>,
) {
    let store = &*store;
    let t0 = Timestamp::now();
    let o = open_default(store, UserId::new(), t0).await;
    let r1 = rotation_of(&o, o.refresh, 0, t0);
    store.rotate_refresh(r1.clone(), t0).await.unwrap();
    let t1 = at(t0, Duration::from_secs(60));
    let r2 = rotation_of(&o, r1.successor, 1, t1);
    store.rotate_refresh(r2.clone(), t1).await.unwrap();
    // The previous token (generation 1) inside the window: the seed of the last rotation.
    let t2 = at(t1, GRACE);
    let replay = rotation_of(&o, r1.successor, 1, t2);
    assert_eq!(
        store.rotate_refresh(replay.clone(), t2).await.unwrap(),
        RotationOutcome::GraceReplay {
            seed: r2.seed,
            token_version: 0,
            session_expires_at: t1.plus(IDLE),
            attributes: ATTRS.to_owned(),
        }
    );
    assert_eq!(
        status(store, check(&o, replay.access, 0), t2).await,
        AccessStatus::Active
    );
    // The family's generation did not move: the current token (2) still rotates, and then
    // generation 1 is older than previous and so theft.
    let t3 = at(t2, Duration::from_secs(1));
    let r3 = rotation_of(&o, r2.successor, 2, t3);
    assert!(matches!(
        store.rotate_refresh(r3.clone(), t3).await.unwrap(),
        RotationOutcome::Rotated { .. }
    ));
    assert_eq!(
        store
            .rotate_refresh(rotation_of(&o, r1.successor, 1, t3), t3)
            .await
            .unwrap(),
        RotationOutcome::Reused
    );
    assert_eq!(
        status_both(store, check(&o, r3.access, 0), t3).await,
        AccessStatus::Revoked
    );
}

pub async fn binding_wins_over_generation_theft(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let bound = binding();
    let mut n = new_session(UserId::new(), t0);
    n.binding = Some(bound);
    let f = rotated_three_times(store, n, t0).await;
    let late = at(f.last, GRACE + Duration::from_secs(1));
    // A genuine old token without the fingerprint cookie, or with another one: invalid,
    // nothing changes.
    for presented in [None, Some(binding())] {
        let mut r = rotation_of(&f.o, f.hashes[0], 0, late);
        r.binding = presented;
        assert_eq!(
            store.rotate_refresh(r, late).await.unwrap(),
            RotationOutcome::Invalid,
            "{presented:?}"
        );
        assert_alive(store, &f, late).await;
    }
    // With the session's binding it is theft.
    let mut r = rotation_of(&f.o, f.hashes[0], 0, late);
    r.binding = Some(bound);
    assert_eq!(
        store.rotate_refresh(r, late).await.unwrap(),
        RotationOutcome::Reused
    );
    assert_eq!(store.list_sessions(f.o.user, late).await.unwrap().len(), 0);
}

pub async fn a_session_without_a_generation_rotates_and_detects_from_its_first_rotation(
    store: Arc<dyn StateStore>,
) {
    // A session opened before generations existed: a legacy first token (no generation).
    // The store keeps no generation until a rotation (a sign-in's token is generation 0,
    // which nothing is older than), so the session record is the same either way.
    let store = &*store;
    let t0 = Timestamp::now();
    let o = open_default(store, UserId::new(), t0).await;
    // Before its first rotation a hash it never held is invalid whatever its generation.
    let mut probe = rotation(&o, hash(), t0);
    probe.generation = Some(0);
    assert_eq!(
        store.rotate_refresh(probe, t0).await.unwrap(),
        RotationOutcome::Invalid
    );
    // The legacy token rotates (no mass sign-out on upgrade) into generation 1, then on.
    let r1 = rotation(&o, o.refresh, t0); // generation None → successor 1
    assert!(matches!(
        store.rotate_refresh(r1.clone(), t0).await.unwrap(),
        RotationOutcome::Rotated { .. }
    ));
    let t1 = at(t0, Duration::from_secs(60));
    let r2 = rotation_of(&o, r1.successor, 1, t1);
    assert!(matches!(
        store.rotate_refresh(r2.clone(), t1).await.unwrap(),
        RotationOutcome::Rotated { .. }
    ));
    let t2 = at(t1, Duration::from_secs(60));
    let r3 = rotation_of(&o, r2.successor, 2, t2);
    assert!(matches!(
        store.rotate_refresh(r3.clone(), t2).await.unwrap(),
        RotationOutcome::Rotated { .. }
    ));
    // The legacy token proves no age: invalid, the family survives.
    let late = at(t2, GRACE + Duration::from_secs(1));
    assert_eq!(
        store
            .rotate_refresh(rotation(&o, o.refresh, late), late)
            .await
            .unwrap(),
        RotationOutcome::Invalid
    );
    assert_eq!(store.list_sessions(o.user, late).await.unwrap().len(), 1);
    // Generation 1, older than the previous token, is theft.
    assert_eq!(
        store
            .rotate_refresh(rotation_of(&o, r1.successor, 1, late), late)
            .await
            .unwrap(),
        RotationOutcome::Reused
    );
    assert_eq!(
        status_both(store, check(&o, r3.access, 0), late).await,
        AccessStatus::Revoked
    );
}
