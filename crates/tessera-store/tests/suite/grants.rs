//! The cap on a session's live access grants ([`MAX_LIVE_GRANTS`]): registering one more
//! revokes the oldest (smallest `exp`), never the one being registered.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::ids::UserId;
use tessera_core::refresh::TokenHash;
use tessera_core::time::Timestamp;
use tessera_store::*;

use crate::support::fixtures::*;

/// `(sessions_active, access_tokens_active, revoked_tokens)`.
async fn counts(store: &dyn StateStore, now: Timestamp) -> (u64, u64, u64) {
    let s = store.stats(now).await.unwrap();
    (s.sessions_active, s.access_tokens_active, s.revoked_tokens)
}

/// A session opened at `t0` and rotated `n` times, 1 ms apart.
pub struct Chain {
    pub o: Opened,
    /// Every grant in order, the login's first.
    pub grants: Vec<AccessGrant>,
    /// The current refresh hash.
    pub current: TokenHash,
    /// The instant of the last rotation.
    pub last: Timestamp,
}

pub async fn rotate_n(store: &dyn StateStore, t0: Timestamp, n: u64) -> Chain {
    let o = open_default(store, UserId::new(), t0).await;
    let mut chain = Chain {
        grants: vec![o.access],
        current: o.refresh,
        last: t0,
        o,
    };
    for k in 1..=n {
        let t = at(t0, Duration::from_millis(k));
        let r = rotation(&chain.o, chain.current, t);
        let out = store.rotate_refresh(r.clone(), t).await.unwrap();
        assert!(matches!(out, RotationOutcome::Rotated { .. }), "{out:?}");
        chain.grants.push(r.access);
        chain.current = r.successor;
        chain.last = t;
    }
    chain
}

/// Asserts that exactly the first `revoked` of `grants` are revoked at `now`.
async fn assert_oldest_revoked(
    store: &dyn StateStore,
    o: &Opened,
    grants: &[AccessGrant],
    revoked: usize,
    now: Timestamp,
) {
    for (k, g) in grants.iter().enumerate() {
        let want = if k < revoked {
            AccessStatus::Revoked
        } else {
            AccessStatus::Active
        };
        assert_eq!(status(store, check(o, *g, 0), now).await, want, "grant {k}");
        let found = store.find_access_token(o.user, g.jti, now).await.unwrap();
        assert_eq!(
            found.is_some(),
            k >= revoked,
            "find_access_token, grant {k}"
        );
    }
}

pub async fn live_grants_are_capped_and_the_oldest_revoked(store: Arc<dyn StateStore>) {
    let store = &*store;
    assert_eq!(MAX_LIVE_GRANTS, 16);
    let t0 = Timestamp::now();
    // The login's grant and 19 rotations: 20 grants, the 4 oldest beyond the cap.
    let Chain {
        o,
        mut grants,
        current,
        last,
    } = rotate_n(store, t0, 19).await;
    assert_eq!(grants.len(), 20);
    assert_oldest_revoked(store, &o, &grants, 4, last).await;
    assert_eq!(counts(store, last).await, (1, 16, 4));

    // A rotation and a grace replay of its presented token each register one more grant:
    // the oldest live ones go.
    let t1 = at(last, Duration::from_millis(1));
    let r = rotation(&o, current, t1);
    let out = store.rotate_refresh(r.clone(), t1).await.unwrap();
    assert!(matches!(out, RotationOutcome::Rotated { .. }), "{out:?}");
    let replay = rotation(&o, current, t1);
    let out = store.rotate_refresh(replay.clone(), t1).await.unwrap();
    assert!(
        matches!(out, RotationOutcome::GraceReplay { .. }),
        "{out:?}"
    );
    grants.extend([r.access, replay.access]);
    assert_oldest_revoked(store, &o, &grants, 6, t1).await;
    assert_eq!(counts(store, t1).await, (1, 16, 6));

    // The grant being registered stays even when it expires before every other one.
    let t2 = at(t1, Duration::from_millis(1));
    let mut short = rotation(&o, r.successor, t2);
    short.access.expires_at = t2.plus(Duration::from_secs(1));
    let out = store.rotate_refresh(short.clone(), t2).await.unwrap();
    assert!(matches!(out, RotationOutcome::Rotated { .. }), "{out:?}");
    grants.push(short.access);
    assert_oldest_revoked(store, &o, &grants, 7, t2).await;
    assert_eq!(counts(store, t2).await, (1, 16, 7));

    // Expired grants do not count: once the first 20 (and the short one) have expired, a
    // rotation revokes nothing.
    let t3 = at(t0, ACCESS_TTL + Duration::from_millis(19));
    let next = rotation(&o, short.successor, t3);
    let out = store.rotate_refresh(next.clone(), t3).await.unwrap();
    assert!(matches!(out, RotationOutcome::Rotated { .. }), "{out:?}");
    for g in [r.access, replay.access, next.access] {
        assert_eq!(
            status(store, check(&o, g, 0), t3).await,
            AccessStatus::Active
        );
    }
    assert_eq!(counts(store, t3).await.2, 7, "nothing more revoked");
}

/// JWT exps are whole seconds, so grants often share one `exp`: the cap then revokes the
/// ones registered first (16 concurrent refreshes right after sign-in keep all 16 tokens;
/// the sign-in's goes).
pub async fn among_equal_exps_the_first_registered_grants_go(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let exp = t0.plus(ACCESS_TTL);
    let mut n = new_session(UserId::new(), t0);
    n.access.expires_at = exp;
    let o = open(store, n, t0).await;
    let mut grants = vec![o.access];
    let mut current = o.refresh;
    for k in 1..=18u64 {
        let t = at(t0, Duration::from_millis(k));
        let mut r = rotation(&o, current, t);
        r.access.expires_at = exp;
        let out = store.rotate_refresh(r.clone(), t).await.unwrap();
        assert!(matches!(out, RotationOutcome::Rotated { .. }), "{out:?}");
        grants.push(r.access);
        current = r.successor;
    }
    let t = at(t0, Duration::from_millis(18));
    assert_oldest_revoked(store, &o, &grants, 3, t).await;
    assert_eq!(counts(store, t).await, (1, 16, 3));
}
