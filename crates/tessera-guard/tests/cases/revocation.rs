//! A token cached as live is refused within a second after each kind of revocation: the
//! revoking script's notice reaches the guard's near-cache (standalone and Cluster).

use std::time::Duration;

use tessera_core::refresh::{RefreshKey, RefreshToken, SuccessorSeed};
use tessera_core::time::Timestamp;
use tessera_store::{AccessGrant, RevocationMode, Rotation, RotationOutcome, SessionStore};

use crate::support::redis::{Target, shared_cluster, shared_standalone};
use crate::support::{Env, Login};

/// Signs in, caches the token as live, revokes it by `path`, and expects it refused.
async fn revoked_by(target: &Target, path: &str) {
    let env = Env::new(target, |_| {}).await;
    let login = env.login().await;
    let bystander = env.login().await;
    env.cache_as_live(&login).await;
    env.cache_as_live(&bystander).await;
    revoke(&env, &login, path).await;
    env.refused_within_a_second(&login).await;
    // Another user's cached token is untouched by the notice.
    assert!(env.auth(&bystander.token).await.is_ok(), "{path}");
}

async fn revoke(env: &Env, login: &Login, path: &str) {
    let now = Timestamp::now();
    let store = &env.store;
    match path {
        // Logout and session delete (DELETE /sessions/{id}) both run revoke_session.
        "logout" | "session delete" => {
            assert!(
                store
                    .revoke_session(login.user, login.session, now)
                    .await
                    .unwrap()
            );
        }
        // Logout-all, ban and admin revoke all run revoke_user.
        "logout-all" | "ban" => {
            store.revoke_user(login.user, now).await.unwrap();
        }
        "single token" => {
            let grant: AccessGrant = login.grant();
            assert!(
                store
                    .revoke_access_token(
                        login.user,
                        login.session,
                        grant,
                        RevocationMode::Allowlist,
                        now
                    )
                    .await
                    .unwrap()
            );
        }
        "theft" => {
            let rotation = |presented| Rotation {
                user: login.user,
                session: login.session,
                presented,
                generation: Some(0),
                successor: RefreshToken::generate(
                    login.user,
                    login.session,
                    &RefreshKey::generate(),
                )
                .hash(),
                successor_generation: 1,
                seed: SuccessorSeed::random(),
                access: AccessGrant {
                    jti: tessera_core::ids::Jti::new(),
                    expires_at: now.plus(Duration::from_secs(900)),
                },
                grace: Duration::ZERO,
                idle_timeout: Duration::from_secs(1800),
                binding: None,
            };
            store
                .rotate_refresh(rotation(login.refresh), now)
                .await
                .unwrap();
            let replay = store
                .rotate_refresh(rotation(login.refresh), now)
                .await
                .unwrap();
            assert_eq!(replay, RotationOutcome::Reused);
        }
        "eviction" => {
            env.login_with(login.user, Some(1)).await;
        }
        other => panic!("unknown path {other}"),
    }
}

const PATHS: [&str; 7] = [
    "logout",
    "logout-all",
    "session delete",
    "ban",
    "theft",
    "single token",
    "eviction",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_by_every_path_is_refused_although_cached_standalone() {
    let Some(target) = shared_standalone().await else {
        return;
    };
    for path in PATHS {
        revoked_by(&target, path).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_by_every_path_is_refused_although_cached_cluster() {
    let Some(target) = shared_cluster().await else {
        return;
    };
    for path in PATHS {
        revoked_by(&target, path).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_token_seen_once_costs_no_round_trip() {
    let Some(target) = shared_standalone().await else {
        return;
    };
    let env = Env::new(&target, |_| {}).await;
    let login = env.login().await;
    for _ in 0..50 {
        env.auth(&login.token).await.unwrap();
    }
    let s = env.guard.stats();
    assert_eq!(s.store_checks, 1);
    assert_eq!(s.cache_hits, 49);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_cache_disabled_asks_redis_every_time() {
    let Some(target) = shared_standalone().await else {
        return;
    };
    let env = Env::new(&target, |_| {}).await;
    let mut config = tessera_guard::GuardConfig::new(
        crate::support::ISS,
        crate::support::AUD,
        tessera_guard::KeySource::jwks(env.jwks.url()),
        target.config(),
    );
    config.near_cache.capacity = 0;
    let uncached = tessera_guard::Guard::connect(config).await.unwrap();
    let login = env.login().await;
    for _ in 0..3 {
        uncached
            .authenticate(&login.token, Timestamp::now())
            .await
            .unwrap();
    }
    let s = uncached.stats();
    assert_eq!((s.store_checks, s.cache_hits, s.subscribed), (3, 0, false));
}
