//! JWKS rotation: a token signed with a new key is accepted after one on-demand fetch;
//! unknown `kid`s trigger at most one fetch per interval.

use std::time::Duration;

use serde_json::json;
use tessera_core::token::VerifyError;
use tessera_guard::GuardError;

use crate::support::Env;
use crate::support::forge::forge;
use crate::support::redis::shared_standalone;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_kid_is_fetched_on_demand_and_refetches_are_rate_limited() {
    let Some(target) = shared_standalone().await else {
        return;
    };
    let interval = Duration::from_millis(800);
    let mut env = Env::new(&target, |c| {
        if let tessera_guard::KeySource::Jwks {
            refetch_interval, ..
        } = &mut c.keys
        {
            *refetch_interval = interval;
        }
    })
    .await;
    assert_eq!(env.jwks.hits(), 1, "fetched once at start");
    let old = env.login().await;
    env.auth(&old.token).await.unwrap();
    assert_eq!(env.jwks.hits(), 1);

    // Wait out the interval that started with the initial fetch, then rotate.
    tokio::time::sleep(interval).await;
    let new_kid = env.issuer.rotate();
    env.jwks.publish(env.issuer.ring.jwks());
    let fresh = env.login().await;
    assert_eq!(
        crate::support::forge::parts(&fresh.token).0["kid"],
        json!(new_kid)
    );
    env.auth(&fresh.token).await.unwrap();
    assert_eq!(env.jwks.hits(), 2, "one fetch for the new kid");
    env.auth(&old.token).await.unwrap();

    // A flood of unknown kids within the interval: no further fetch.
    for k in 0..20 {
        let forged = forge(&env.issuer, &fresh.token, |h, _| {
            h["kid"] = json!(format!("bogus-{k}"))
        });
        match env.auth(&forged).await {
            Err(GuardError::InvalidToken(VerifyError::UnknownKey)) => {}
            other => panic!("expected unknown key, got {other:?}"),
        }
    }
    assert_eq!(env.jwks.hits(), 2, "rate-limited");

    // After the interval, the next unknown kid fetches again (once).
    tokio::time::sleep(interval).await;
    let newer = env.issuer.rotate();
    env.jwks.publish(env.issuer.ring.jwks());
    let third = env.login().await;
    assert_eq!(
        crate::support::forge::parts(&third.token).0["kid"],
        json!(newer)
    );
    env.auth(&third.token).await.unwrap();
    assert_eq!(env.jwks.hits(), 3);
    assert_eq!(env.guard.stats().jwks_fetches, 3);
}

/// A token the guard has verified (and so remembers as verified) stops working once its key
/// leaves the JWKS: the next refresh replaces the key set, which forgets every verified
/// token, and the token's `kid` is then unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_token_of_a_removed_key_is_refused_after_the_next_refresh() {
    let Some(target) = shared_standalone().await else {
        return;
    };
    let every = Duration::from_millis(300);
    let mut env = Env::new(&target, |c| {
        if let tessera_guard::KeySource::Jwks { refresh_every, .. } = &mut c.keys {
            *refresh_every = every;
        }
    })
    .await;
    let old = env.login().await;
    env.auth(&old.token).await.unwrap();
    env.auth(&old.token).await.unwrap();

    // The old key is removed: the ring (and so the JWKS) holds only the new one.
    let new_kid = env.issuer.rotate();
    env.issuer.stored.retain(|k| k.kid == new_kid);
    env.issuer.ring = tessera_core::keys::KeyRing::new(
        &env.issuer.stored,
        Duration::from_secs(1800),
        tessera_core::time::Timestamp::now(),
    )
    .unwrap();
    env.jwks.publish(env.issuer.ring.jwks());

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match env.auth(&old.token).await {
            Err(GuardError::InvalidToken(VerifyError::UnknownKey)) => break,
            Ok(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("the removed key's token is still {other:?} after 5 s"),
        }
    }
    let fresh = env.login().await;
    env.auth(&fresh.token).await.unwrap();
}
