//! Test support: a token issuer whose JWKS is served over HTTP, private Redis processes,
//! and a guard wired to both.

pub mod forge;
pub mod jwks;
pub mod redis;

use std::time::Duration;

use tessera_core::ids::{SessionId, UserId};
use tessera_core::keys::{KeyRing, SigningAlg, StoredKey, rotate};
use tessera_core::refresh::{RefreshKey, RefreshToken, TokenHash};
use tessera_core::time::Timestamp;
use tessera_core::token::{AccessClaims, TokenIssuer, TokenRequest};
use tessera_guard::{Guard, GuardConfig, GuardError, KeySource};
use tessera_store::redis::RedisStore;
use tessera_store::{AccessGrant, NewSession, SessionLimits, SessionStore};

pub use self::jwks::JwksServer;
pub use self::redis::Target;

pub const ISS: &str = "https://auth.example.test";
pub const AUD: &str = "tessera";
pub const ACCESS_TTL: Duration = Duration::from_secs(900);

/// Signs tokens like the server does: a key ring, a `TokenIssuer`.
pub struct Issuer {
    pub stored: Vec<StoredKey>,
    pub ring: KeyRing,
    pub issuer: TokenIssuer,
}

impl Issuer {
    pub fn new() -> Self {
        let now = Timestamp::now();
        let stored = vec![StoredKey::generate(SigningAlg::EdDSA, now).unwrap()];
        let ring = KeyRing::new(&stored, ACCESS_TTL * 2, now).unwrap();
        Self {
            stored,
            ring,
            issuer: TokenIssuer {
                issuer: ISS.into(),
                audience: AUD.into(),
                client_id: "tessera".into(),
                ttl: ACCESS_TTL,
            },
        }
    }

    /// Rotates to a new EdDSA key; the old one stays in the ring (and the JWKS).
    pub fn rotate(&mut self) -> String {
        let now = Timestamp::now();
        let kid = rotate(&mut self.stored, SigningAlg::EdDSA, ACCESS_TTL * 2, now).unwrap();
        self.ring = KeyRing::new(&self.stored, ACCESS_TTL * 2, now).unwrap();
        kid
    }
}

/// A signed-in session: its token and what the store knows.
#[derive(Clone, Debug)]
pub struct Login {
    pub user: UserId,
    pub session: SessionId,
    pub refresh: TokenHash,
    pub token: String,
    pub claims: AccessClaims,
}

impl Login {
    pub fn grant(&self) -> AccessGrant {
        AccessGrant {
            jti: self.claims.jti,
            expires_at: Timestamp::from_secs(self.claims.exp),
        }
    }
}

/// A guard on `target`'s Redis (own key prefix), its issuer and JWKS server, and a store
/// on the same Redis to revoke through.
pub struct Env {
    pub guard: Guard,
    pub store: RedisStore,
    pub issuer: Issuer,
    pub jwks: JwksServer,
}

impl Env {
    pub async fn new(target: &Target, tweak: impl FnOnce(&mut GuardConfig)) -> Self {
        let issuer = Issuer::new();
        let jwks = JwksServer::serve(issuer.ring.jwks()).await;
        let redis = target.config();
        let mut config = GuardConfig::new(ISS, AUD, KeySource::jwks(jwks.url()), redis.clone());
        tweak(&mut config);
        let guard = Guard::connect(config).await.unwrap();
        let store = RedisStore::connect(redis).await.unwrap();
        let env = Self {
            guard,
            store,
            issuer,
            jwks,
        };
        env.wait_subscribed().await;
        env
    }

    /// Waits (up to 5 s) until the guard's revocation subscription is confirmed.
    pub async fn wait_subscribed(&self) {
        wait_until(Duration::from_secs(5), || self.guard.stats().subscribed).await;
    }

    /// Opens a session for `user` in the store and signs its first access token.
    pub async fn login_with(&self, user: UserId, max_sessions: Option<u32>) -> Login {
        let now = Timestamp::now();
        let session = SessionId::new();
        let refresh = RefreshToken::generate(user, session, &RefreshKey::generate()).hash();
        let (jti, exp) = self.issuer.issuer.grant(now);
        let created = self
            .store
            .create_session(
                NewSession {
                    user,
                    session,
                    refresh,
                    access: AccessGrant {
                        jti,
                        expires_at: exp,
                    },
                    token_version: 0,
                    limits: SessionLimits {
                        idle_timeout: Duration::from_secs(1800),
                        absolute_expiry: now.plus(Duration::from_secs(86_400)),
                    },
                    max_sessions,
                    attributes: "{}".into(),
                    binding: None,
                },
                now,
            )
            .await
            .unwrap();
        let issued = self
            .issuer
            .issuer
            .sign(
                &self.issuer.ring,
                TokenRequest {
                    user,
                    session,
                    token_version: created.token_version,
                    amr: vec!["pwd".into()],
                    fingerprint_hash: None,
                },
                jti,
                exp,
                now,
            )
            .unwrap();
        Login {
            user,
            session,
            refresh,
            token: issued.token,
            claims: issued.claims,
        }
    }

    pub async fn login(&self) -> Login {
        self.login_with(UserId::new(), None).await
    }

    pub async fn auth(&self, token: &str) -> Result<AccessClaims, GuardError> {
        self.guard.authenticate(token, Timestamp::now()).await
    }

    /// Authenticates `login` twice and asserts the second time was a near-cache hit (no
    /// round trip).
    pub async fn cache_as_live(&self, login: &Login) {
        self.auth(&login.token).await.unwrap();
        let before = self.guard.stats();
        self.auth(&login.token).await.unwrap();
        let after = self.guard.stats();
        assert_eq!(
            after.store_checks, before.store_checks,
            "second check hit Redis"
        );
        assert_eq!(after.cache_hits, before.cache_hits + 1);
    }

    /// Polls (up to 1 s) until `login`'s token is refused as revoked.
    pub async fn refused_within_a_second(&self, login: &Login) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        loop {
            match self.auth(&login.token).await {
                Err(GuardError::Revoked) => return,
                Ok(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                other => panic!("revoked token not refused within 1 s: {other:?}"),
            }
        }
    }
}

/// Polls `cond` every 10 ms until it holds, panicking after `limit`.
pub async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
