//! The guard's in-process cost: `Guard::authenticate` answered from its near-cache (full
//! signature and claims verification, then a near-cache hit: no Redis round trip) versus a
//! bare `jsonwebtoken::decode` + validation of the same EdDSA token with the same key.
//!
//! Needs `redis-server` (the near-cache is used only while the guard's revocation
//! subscription is up). Run: `cargo bench -p tessera-bench --bench guard`.
// A program of its own: an edge that reads the clock.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Validation, decode};
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::keys::{KeyRing, SigningAlg, StoredKey, VerificationKeys};
use tessera_core::refresh::{RefreshKey, RefreshToken};
use tessera_core::time::Timestamp;
use tessera_core::token::{AccessClaims, TokenIssuer, TokenRequest};
use tessera_guard::{Guard, GuardConfig, KeySource};
use tessera_store::redis::{RedisConfig, RedisStore};
use tessera_store::{AccessGrant, NewSession, SessionLimits, SessionStore};
use tessera_testkit::{RedisServer, TempDir, free_port};

const ISS: &str = "https://auth.bench.test";
const AUD: &str = "tessera";

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = TempDir::new("bench-guard");
    let redis = RedisServer::start(free_port(), dir.path(), &[]);
    let now = Timestamp::now();
    let stored = StoredKey::generate(SigningAlg::EdDSA, now).unwrap();
    let ring = KeyRing::new(std::slice::from_ref(&stored), Duration::from_secs(900), now).unwrap();
    let issuer = TokenIssuer {
        issuer: ISS.into(),
        audience: AUD.into(),
        client_id: "tessera".into(),
        ttl: Duration::from_secs(900),
    };
    let (user, session) = (UserId::new(), SessionId::new());
    let (jti, exp): (Jti, Timestamp) = issuer.grant(now);
    let (token, guard) = rt.block_on(async {
        let store = RedisStore::connect(RedisConfig::standalone(redis.url()))
            .await
            .unwrap();
        let created = store
            .create_session(
                NewSession {
                    user,
                    session,
                    refresh: RefreshToken::generate(user, session, &RefreshKey::generate()).hash(),
                    access: AccessGrant {
                        jti,
                        expires_at: exp.plus(Duration::from_secs(30)),
                    },
                    token_version: 0,
                    limits: SessionLimits {
                        idle_timeout: Duration::from_secs(3600),
                        absolute_expiry: now.plus(Duration::from_secs(86_400)),
                    },
                    max_sessions: None,
                    attributes: String::new(),
                    binding: None,
                },
                now,
            )
            .await
            .unwrap();
        let req = TokenRequest {
            user,
            session,
            token_version: created.token_version,
            amr: vec!["pwd".into()],
            fingerprint_hash: None,
        };
        let token = issuer.sign(&ring, req, jti, exp, now).unwrap().token;
        let guard = Guard::connect(GuardConfig::new(
            ISS,
            AUD,
            KeySource::fixed(KeyRing::new(&[stored], Duration::from_secs(900), now).unwrap()),
            RedisConfig::standalone(redis.url()),
        ))
        .await
        .unwrap();
        let t = Instant::now();
        while !guard.stats().subscribed {
            assert!(t.elapsed() < Duration::from_secs(10), "no subscription");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        guard.authenticate(&token, Timestamp::now()).await.unwrap();
        let hits = guard.stats().cache_hits;
        guard.authenticate(&token, Timestamp::now()).await.unwrap();
        assert_eq!(
            guard.stats().cache_hits,
            hits + 1,
            "the near-cache must hit"
        );
        (token, guard)
    });

    let (key, alg) = ring.find(ring.active_kid()).unwrap();
    let mut validation = Validation::new(alg.jwt());
    validation.set_issuer(&[ISS]);
    validation.set_audience(&[AUD]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    // The same token must pass the bare decode too.
    decode::<AccessClaims>(&token, key, &validation).unwrap();

    let mut g = c.benchmark_group("eddsa_token");
    g.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| decode::<AccessClaims>(black_box(&token), key, &validation).unwrap())
    });
    g.bench_function("guard_authenticate_near_cache_hit", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    black_box(
                        guard
                            .authenticate(black_box(&token), Timestamp::now())
                            .await
                            .unwrap(),
                    );
                }
                t.elapsed()
            })
        })
    });
    g.finish();
    let stats = guard.stats();
    assert_eq!(
        stats.store_checks, 1,
        "every benchmarked call was a near-cache hit"
    );
    drop(guard);
    drop(redis);
}

criterion_group!(benches, bench);
criterion_main!(benches);
