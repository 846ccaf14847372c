//! Restoring a session the store lost from its durable copy (`SessionRestore`): only when
//! absent, only when alive, with its family state (so the generation rule still refuses every
//! older token) and its denylist entries. A session the store never saw stands for a lost one.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::ids::{SessionId, UserId};
use tessera_core::refresh::{SuccessorSeed, TokenHash};
use tessera_core::time::Timestamp;
use tessera_store::*;

use crate::support::fixtures::*;

/// A family at generation 3 (`hashes[3]` current, `hashes[2]` previous), last rotated at
/// `last`, as its durable copy holds it, with `ver` as both versions.
fn durable(user: UserId, hashes: &[TokenHash], last: Timestamp, ver: u64) -> RestoredSession {
    RestoredSession {
        user,
        session: SessionId::new(),
        created_at: last.minus(Duration::from_secs(600)),
        last_seen: last,
        idle_timeout: IDLE,
        absolute_expiry: last.plus(LIFETIME),
        opened_under: ver,
        token_version: ver,
        current: StoredHash::of(&hashes[3]),
        previous: Some(StoredHash::of(&hashes[2])),
        seed: Some(SuccessorSeed::random()),
        refresh_generation: Some(3),
        attributes: ATTRS.to_owned(),
        binding: None,
        denied: Vec::new(),
    }
}

fn opened(r: &RestoredSession) -> Opened {
    Opened {
        user: r.user,
        session: r.session,
        refresh: hash(),
        access: grant(r.last_seen),
        token_version: r.token_version,
    }
}

pub async fn a_restored_session_rotates_from_its_current_token_and_lists(
    store: Arc<dyn StateStore>,
) {
    let now = Timestamp::now();
    let hashes: Vec<TokenHash> = (0..4).map(|_| hash()).collect();
    let r = durable(
        UserId::new(),
        &hashes,
        now.minus(Duration::from_secs(60)),
        2,
    );
    let o = opened(&r);
    assert_eq!(
        store.restore_session(r.clone(), now).await.unwrap(),
        RestoreOutcome::Restored
    );
    let listed = store.list_sessions(r.user, now).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].session, r.session);
    assert_eq!(listed[0].created_at, r.created_at);
    assert_eq!(listed[0].attributes, ATTRS);
    // No grant came back: an access token of before the loss is refused in allowlist mode.
    assert_eq!(
        status(&*store, check(&o, o.access, 2), now).await,
        AccessStatus::Revoked
    );
    let rot = rotation_of(&o, hashes[3], 3, now);
    match store.rotate_refresh(rot.clone(), now).await.unwrap() {
        RotationOutcome::Rotated { token_version, .. } => assert_eq!(token_version, 2),
        other => panic!("expected Rotated, got {other:?}"),
    }
    assert_eq!(
        status_both(&*store, check(&o, rot.access, 2), now).await,
        AccessStatus::Active
    );
}

pub async fn a_restored_family_refuses_every_older_generation(store: Arc<dyn StateStore>) {
    let now = Timestamp::now();
    let hashes: Vec<TokenHash> = (0..4).map(|_| hash()).collect();
    // Older than the current generation, never seen by this store: theft, the session dies.
    let r = durable(
        UserId::new(),
        &hashes,
        now.minus(Duration::from_secs(60)),
        0,
    );
    store.restore_session(r.clone(), now).await.unwrap();
    let o = opened(&r);
    assert_eq!(
        store
            .rotate_refresh(rotation_of(&o, hashes[1], 1, now), now)
            .await
            .unwrap(),
        RotationOutcome::Reused
    );
    assert!(store.list_sessions(r.user, now).await.unwrap().is_empty());
    // The previous token after the grace window: theft too.
    let r = durable(
        UserId::new(),
        &hashes,
        now.minus(Duration::from_secs(60)),
        0,
    );
    store.restore_session(r.clone(), now).await.unwrap();
    assert_eq!(
        store
            .rotate_refresh(rotation_of(&opened(&r), hashes[2], 2, now), now)
            .await
            .unwrap(),
        RotationOutcome::Reused
    );
}

pub async fn restore_writes_only_when_the_store_has_no_record(store: Arc<dyn StateStore>) {
    let now = Timestamp::now();
    let o = open_default(&*store, UserId::new(), now).await;
    let hashes: Vec<TokenHash> = (0..4).map(|_| hash()).collect();
    let mut r = durable(o.user, &hashes, now, 0);
    r.session = o.session;
    assert_eq!(
        store.restore_session(r, now).await.unwrap(),
        RestoreOutcome::Present
    );
    // The store's own family wins.
    assert_eq!(
        store
            .rotate_refresh(rotation_of(&o, hashes[3], 3, now), now)
            .await
            .unwrap(),
        RotationOutcome::Invalid
    );
    assert!(matches!(
        store
            .rotate_refresh(rotation_of(&o, o.refresh, 0, now), now)
            .await
            .unwrap(),
        RotationOutcome::Rotated { .. }
    ));
    // Two concurrent restores of one lost session: one writes, the other finds it.
    let r = durable(UserId::new(), &hashes, now, 0);
    let (a, b) = tokio::join!(
        store.restore_session(r.clone(), now),
        store.restore_session(r.clone(), now)
    );
    let mut got = [a.unwrap(), b.unwrap()];
    got.sort_by_key(|o| *o == RestoreOutcome::Present);
    assert_eq!(got, [RestoreOutcome::Restored, RestoreOutcome::Present]);
}

pub async fn a_dead_session_is_not_restored_but_the_version_is_raised(store: Arc<dyn StateStore>) {
    let now = Timestamp::now();
    let hashes: Vec<TokenHash> = (0..4).map(|_| hash()).collect();
    // Signed out everywhere after it was opened: its version is behind the user's.
    let mut r = durable(UserId::new(), &hashes, now, 1);
    r.token_version = 2;
    assert_eq!(
        store.restore_session(r.clone(), now).await.unwrap(),
        RestoreOutcome::Dead
    );
    assert!(store.list_sessions(r.user, now).await.unwrap().is_empty());
    let created = store
        .create_session(new_session(r.user, now), now)
        .await
        .unwrap();
    assert_eq!(created.token_version, 2);
    // Idle for longer than the idle timeout.
    let r = durable(UserId::new(), &hashes, now.minus(IDLE), 0);
    assert_eq!(
        store.restore_session(r.clone(), now).await.unwrap(),
        RestoreOutcome::Dead
    );
    assert_eq!(
        store
            .rotate_refresh(rotation_of(&opened(&r), hashes[3], 3, now), now)
            .await
            .unwrap(),
        RotationOutcome::Invalid
    );
}

pub async fn restored_denied_tokens_stay_denied(store: Arc<dyn StateStore>) {
    let now = Timestamp::now();
    let hashes: Vec<TokenHash> = (0..4).map(|_| hash()).collect();
    let mut r = durable(UserId::new(), &hashes, now, 1);
    let revoked = grant(now);
    let expired = AccessGrant {
        expires_at: now.minus(Duration::from_secs(1)),
        ..grant(now)
    };
    r.denied = vec![revoked, expired];
    assert_eq!(
        store.restore_session(r.clone(), now).await.unwrap(),
        RestoreOutcome::Restored
    );
    let o = opened(&r);
    let deny = |g: AccessGrant| {
        let store = store.clone();
        let c = check(&o, g, 1);
        async move {
            store
                .check_access(c, RevocationMode::Denylist, now)
                .await
                .unwrap()
        }
    };
    assert_eq!(deny(revoked).await, AccessStatus::Revoked);
    // Any other token of the session under the current version passes in denylist mode.
    assert_eq!(deny(grant(now)).await, AccessStatus::Active);
}

/// A session the store revoked on its own — theft, RFC 7009 by proof, eviction — leaves a
/// tombstone, so its durable copy (whose deletion comes after, and may fail) cannot bring it
/// back, in any process; an unconditional revocation (whose copy is deleted first) and a
/// plain loss leave none.
pub async fn a_session_the_store_revoked_itself_is_never_restored(store: Arc<dyn StateStore>) {
    let now = Timestamp::now();
    let copy_of = |o: &Opened| RestoredSession {
        session: o.session,
        current: StoredHash::of(&o.refresh),
        previous: None,
        seed: None,
        refresh_generation: None,
        last_seen: now,
        ..durable(
            o.user,
            &[hash(), hash(), hash(), hash()],
            now,
            o.token_version,
        )
    };

    // Theft: a generation older than the family's.
    let thief = open_default(&*store, UserId::new(), now).await;
    let first = rotation_of(&thief, thief.refresh, 0, now);
    let second = rotation_of(&thief, first.successor, 1, now);
    for rot in [first, second] {
        assert!(matches!(
            store.rotate_refresh(rot, now).await.unwrap(),
            RotationOutcome::Rotated { .. }
        ));
    }
    assert_eq!(
        store
            .rotate_refresh(rotation_of(&thief, thief.refresh, 0, now), now)
            .await
            .unwrap(),
        RotationOutcome::Reused
    );
    assert_eq!(
        store.restore_session(copy_of(&thief), now).await.unwrap(),
        RestoreOutcome::Present,
        "theft"
    );

    // RFC 7009: revoked by the holder of its refresh token.
    let held = open_default(&*store, UserId::new(), now).await;
    assert!(
        store
            .revoke_session_by_refresh(held.user, held.session, &held.refresh, now)
            .await
            .unwrap()
    );
    assert_eq!(
        store.restore_session(copy_of(&held), now).await.unwrap(),
        RestoreOutcome::Present,
        "RFC 7009"
    );

    // Eviction by a newer sign-in beyond max_sessions.
    let user = UserId::new();
    let old = open_default(&*store, user, now).await;
    let newer = NewSession {
        max_sessions: Some(1),
        ..new_session(user, now.plus(Duration::from_millis(5)))
    };
    let created = store
        .create_session(newer, now.plus(Duration::from_millis(5)))
        .await
        .unwrap();
    assert_eq!(created.evicted, vec![old.session]);
    assert_eq!(
        store.restore_session(copy_of(&old), now).await.unwrap(),
        RestoreOutcome::Present,
        "eviction"
    );

    // A logout (its copy is deleted before the store is asked) and a loss leave no
    // tombstone: a copy, were there one, would be restored.
    let ended = open_default(&*store, UserId::new(), now).await;
    assert!(
        store
            .revoke_session(ended.user, ended.session, now)
            .await
            .unwrap()
    );
    assert_eq!(
        store.restore_session(copy_of(&ended), now).await.unwrap(),
        RestoreOutcome::Restored
    );
}
