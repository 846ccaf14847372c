//! Assembling the server from its settings.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::time::Timestamp;
use tessera_core::token::{TokenIssuer, Verifier};
use tessera_store::memory::MemoryStore;
use tessera_store::redis::{ConnectingStore, RedisConfig};
use tessera_store::{StateStore, StoreHealth};

use crate::accounts::password::PasswordHasher;
use crate::accounts::{Database, Users};
use crate::app_metrics::Metrics;
use crate::audit::AuditTrail;
use crate::auth::password::ResetPolicy;
use crate::auth::{
    AccessService, AdminService, AuthCore, AuthServices, Fingerprinting, Passwords,
    SecondFactorService, SessionPolicy, SessionService, SignInService,
};
use crate::config::{Settings, StateStoreSettings};
use crate::durable::rows::Rows;
use crate::durable::{DurableSessions, MirroredStore};
use crate::keys::{LiveKeys, StartedKeys};
use crate::limits::Limits;
use crate::mail::Mailer;
use crate::mfa::MfaRecords;

/// Shared by every handler.
pub type AppState = Arc<App>;

/// The running server's parts.
pub struct App {
    /// Register, sign in (both steps), refresh, sign out.
    pub sign_in: SignInService,
    /// Authenticating access tokens (the `Authenticated` extractor), introspection, CSRF,
    /// the `/v1/me` profile.
    pub access: AccessService,
    /// The caller's sessions and access tokens; RFC 7009 revocation.
    pub sessions: SessionService,
    /// TOTP enrolment and removal, trusted devices.
    pub second_factor: SecondFactorService,
    /// Password reset by mail and password change.
    pub passwords: Passwords,
    /// Operator actions: the admin API and the CLI call the same methods.
    pub admin: AdminService,
    /// The rate limits (the admin-token and client-secret budgets of the extractors).
    pub limits: Limits,
    /// Accounts database.
    pub db: Database,
    /// The state store (readiness and `/metrics` read it; the services hold it too).
    pub store: Arc<dyn StateStore>,
    /// Signing keys.
    pub keys: Arc<LiveKeys>,
    /// Request body limit.
    pub max_body_bytes: usize,
    /// The validated settings the server runs with.
    pub settings: Arc<Settings>,
    /// Outgoing mail (password resets, notices of operator actions).
    pub mailer: Arc<Mailer>,
    /// This server's Prometheus metrics (its own recorder: see [`crate::app_metrics`]).
    pub metrics: Metrics,
    /// The durable SQL copy of the session state (`None` with `durable_sessions = off`):
    /// `tessera serve` flushes it once more when it stops.
    pub durable: Option<Arc<DurableSessions>>,
    /// The introspection clients (`/oauth2/*` client authentication).
    pub clients: crate::http::extract::Clients,
    /// Sign-in through external providers; linked identities.
    pub federated: crate::auth::FederatedSignIn,
    /// Passkeys.
    pub passkeys: crate::auth::PasskeyService,
}

/// How often the Redis statistics counters are recomputed by a bounded background SCAN (they
/// are kept up to date by every write in between; this corrects sessions that expired
/// untouched).
pub const STATS_RECONCILE_EVERY: Duration = Duration::from_secs(300);

/// How often each instance polls the database for a new key ring generation (a rotation
/// reaches every instance within this, plus the time of one reload).
pub const KEY_POLL_EVERY: Duration = Duration::from_secs(2);

/// Leeway the verifier allows for clock skew.
pub const LEEWAY: Duration = Duration::from_secs(30);

/// How long a retired signing key keeps verifying: every token it signed has expired by then.
pub fn key_retention(access_ttl: Duration) -> Duration {
    access_ttl + LEEWAY + Duration::from_secs(60)
}

/// Startup failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Data directory.
    #[error("data directory {0}: {1}")]
    DataDir(String, #[source] std::io::Error),
    /// Keys: the master key, or the keys stored in the database (see
    /// [`crate::keys::KeyStartError`]; each variant names what failed).
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyStartError),
    /// Database.
    #[error("database: {0}")]
    Database(#[from] crate::accounts::DbError),
    /// Password hasher.
    #[error(transparent)]
    Hasher(#[from] crate::accounts::password::HashError),
    /// Mail transport.
    #[error("mail: {0}")]
    Mail(#[from] crate::mail::MailError),
    /// Enrolled second factors do not open with the data key stored in the database.
    #[error("second factors cannot be opened with the database's data key: {mismatch}")]
    DataKey {
        /// What does not open, and why.
        mismatch: crate::mfa::key_check::KeyMismatch,
    },
    /// The WebAuthn relying party (`webauthn_rp_id`, `webauthn_origins`) is refused.
    #[error("webauthn: {0}")]
    WebAuthn(String),
    /// An identity provider's settings cannot be used.
    #[error("oauth: {0}")]
    Federation(#[from] crate::federation::FederationError),
    /// A state store that can never work (a Redis older than 7.0); an unreachable one is
    /// retried in the background instead.
    #[error(transparent)]
    StateStore(#[from] tessera_store::StoreError),
}

/// What the process is for: serving runs background maintenance, a CLI command does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `tessera serve`.
    Server,
    /// A one-shot operator command.
    Operator,
}

impl App {
    /// Creates the data directory, connects and migrates the database, opens (or creates,
    /// or imports) the keys stored in it, connects the state store.
    pub async fn build(settings: &Settings, role: Role) -> Result<Self, StartError> {
        Self::build_with(
            settings,
            PasswordHasher::new(settings.password_hash_concurrency)?,
            role,
        )
        .await
    }

    /// As [`App::build`] with a given hasher (tests use a cheap one).
    pub async fn build_with(
        settings: &Settings,
        hasher: PasswordHasher,
        role: Role,
    ) -> Result<Self, StartError> {
        Self::build_wrapped(settings, hasher, role, |store| store).await
    }

    /// As [`App::build_with`], the state store passed through `wrap` before anything uses it
    /// (tests wrap it to inject failures between the steps of a flow).
    #[allow(clippy::disallowed_methods)] // start-up: an edge, reads the clock and passes `now` in
    pub async fn build_wrapped(
        settings: &Settings,
        hasher: PasswordHasher,
        role: Role,
        wrap: impl FnOnce(Arc<dyn StateStore>) -> Arc<dyn StateStore>,
    ) -> Result<Self, StartError> {
        let now = Timestamp::now();
        create_private_dir(&settings.data_dir)
            .map_err(|e| StartError::DataDir(settings.data_dir.display().to_string(), e))?;
        let retention = key_retention(settings.access_token_ttl);
        let db = Database::connect(&settings.database_url).await?;
        tracing::info!(engine = db.engine().as_str(), "database ready");
        let StartedKeys {
            live: keys,
            refresh: refresh_key,
            data: data_key,
            origin: _,
        } = crate::keys::startup::open(settings, &db, retention, now).await?;
        let ring = keys.current();
        tracing::info!(kid = %ring.active_kid(), alg = %ring.active_alg(), "signing key loaded");

        let store: Arc<dyn StateStore> = match &settings.state_store {
            StateStoreSettings::Memory => Arc::new(MemoryStore::new()),
            StateStoreSettings::Redis {
                urls,
                cluster,
                ca_file,
                key_prefix,
            } => {
                let mut config = if *cluster {
                    RedisConfig::cluster(urls.iter().cloned())
                } else {
                    RedisConfig::standalone(urls.first().cloned().unwrap_or_default())
                };
                config.tls_ca_file = ca_file.clone();
                config.key_prefix = key_prefix.clone();
                ConnectingStore::connect(
                    config,
                    (role == Role::Server).then_some(STATS_RECONCILE_EVERY),
                )
                .await?
            }
        };
        let store = wrap(store);
        let metrics = Metrics::new();
        let health: Arc<dyn StoreHealth> = store.clone();
        metrics.watch_store(&health);
        let (store, durable) = if settings.durable_sessions {
            let durable = Arc::new(DurableSessions::new(
                Rows::new(db.clone()),
                settings.durable_lag,
                metrics.clone(),
            ));
            if role == Role::Server {
                crate::durable::writer::spawn(&durable);
            }
            if role == Role::Server {
                // Only a serving process says the copy is on: a CLI run with the default
                // must not date sessions opened meanwhile by servers with it off.
                durable.rows().mark_on(now).await?;
            }
            let mirrored = MirroredStore::new(store, Arc::clone(&durable), Users::new(db.clone()));
            if role == Role::Server && matches!(settings.state_store, StateStoreSettings::Memory) {
                // The in-process store died with the last process: fill it from the copy.
                let restored = mirrored.restore_all(now).await?;
                tracing::info!(
                    sessions = restored,
                    "in-process state store restored from the durable copy"
                );
            }
            let mirrored: Arc<dyn StateStore> = Arc::new(mirrored);
            (mirrored, Some(durable))
        } else {
            if role == Role::Server {
                // Nothing deletes rows while off: a copy left from a run with it on would
                // bring back the sessions revoked since, once it is on again.
                let dropped = Rows::new(db.clone()).clear().await?;
                if dropped > 0 {
                    tracing::warn!(
                        sessions = dropped,
                        "durable sessions off: the durable copy left by an earlier run was emptied"
                    );
                }
            }
            (store, None)
        };
        tracing::info!(backend = store.backend(), "state store ready");

        let issuer = TokenIssuer {
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            client_id: settings.audience.clone(),
            ttl: settings.access_token_ttl,
        };
        let verifier =
            Verifier::new(settings.issuer.clone(), settings.audience.clone()).with_leeway(LEEWAY);
        let policy = SessionPolicy {
            absolute_lifetime: settings.refresh_token_ttl,
            idle_timeout: settings.session_idle_timeout,
            reuse_grace: settings.refresh_reuse_grace,
            max_sessions: settings.max_sessions_per_user,
            revocation_mode: settings.revocation_mode,
            fail_mode: settings.fail_mode,
            // Not this server's 30 s: a guard may allow up to the cap, and a denylisted token
            // must stay denied as long as any verifier of it could still accept it.
            clock_leeway: tessera_core::token::verify::MAX_LEEWAY,
            fingerprint: Fingerprinting::new(settings.fingerprint),
            trusted_device_ttl: settings.trusted_device_ttl,
            totp_issuer: "Tessera".to_owned(),
            mfa_challenge_ttl: settings.mfa_challenge_ttl,
        };
        let mfa = MfaRecords::new(db.clone(), data_key);
        if role == Role::Server {
            // Fails closed: never serve second factors this key cannot open (an operator
            // command still runs, so `tessera mfa reset` can clear them).
            let mismatch = mfa.check_key().await?;
            if !mismatch.is_empty() {
                return Err(StartError::DataKey { mismatch });
            }
            tracing::info!(
                key_id = mfa.key_id(),
                "data key opens every enrolled second factor"
            );
        }
        // Each consumer gets only the part of the store it uses (trait upcasting): the audit
        // trail the event log, the limits the ephemeral records; the auth flows the whole.
        let audit = AuditTrail::new(store.clone(), db.clone());
        if role == Role::Server {
            audit.spawn_expiry(settings.security_event_retention);
        }
        let limits = Limits::new(store.clone(), settings.rate_limit);
        let core = AuthCore::new(
            Users::new(db.clone()),
            hasher,
            Arc::clone(&store),
            Arc::clone(&keys),
            issuer,
            verifier,
            refresh_key,
            policy,
            audit,
            mfa,
            limits.clone(),
            metrics.clone(),
        )
        .with_durable_copy(durable.clone());
        let mailer = Arc::new(Mailer::new(
            settings.smtp_url.as_ref(),
            &settings.data_dir,
            &settings.mail_from,
        )?);
        tracing::info!(via = mailer.kind(), "mail ready");
        let AuthServices {
            sign_in,
            access,
            sessions,
            second_factor,
            passwords,
            admin,
            federated,
            passkeys,
        } = AuthServices::new(
            core,
            Arc::clone(&mailer),
            ResetPolicy {
                url: settings.password_reset_url.clone(),
                ttl: settings.password_reset_ttl,
            },
            crate::auth::Federation {
                providers: crate::federation::Providers::new(&settings.oauth, &settings.issuer)?,
                settings: settings.oauth.clone(),
                issuer: settings.issuer.clone(),
                webauthn: relying_party(settings)?.map(Arc::new),
            },
        );
        Ok(App {
            sign_in,
            access,
            sessions,
            second_factor,
            passwords,
            admin,
            limits,
            db,
            store,
            keys,
            max_body_bytes: settings.max_body_bytes,
            settings: Arc::new(settings.clone()),
            mailer,
            metrics,
            durable,
            clients: crate::http::extract::Clients::new(settings.introspection_clients.clone()),
            federated,
            passkeys,
        })
    }
}

/// The WebAuthn relying party of `settings` (`webauthn_rp_id`, `webauthn_origins`), or
/// `None` when passkeys are off.
fn relying_party(settings: &Settings) -> Result<Option<webauthn_rs::Webauthn>, StartError> {
    let Some(rp) = &settings.webauthn else {
        tracing::warn!(
            "passkeys are off: the issuer is neither https nor loopback, and TESSERA_WEBAUTHN_RP_ID / TESSERA_WEBAUTHN_ORIGINS are not set"
        );
        return Ok(None);
    };
    let bad = |e: String| StartError::WebAuthn(e);
    let origins: Vec<webauthn_rs::prelude::Url> = rp
        .origins
        .iter()
        .map(|o| webauthn_rs::prelude::Url::parse(o).map_err(|e| bad(format!("{o}: {e}"))))
        .collect::<Result<_, _>>()?;
    let first = origins.first().ok_or_else(|| bad("no origin".into()))?;
    let mut builder = webauthn_rs::WebauthnBuilder::new(&rp.rp_id, first)
        .map_err(|e| bad(e.to_string()))?
        .rp_name("Tessera");
    for o in &origins[1..] {
        builder = builder.append_allowed_origin(o);
    }
    builder.build().map(Some).map_err(|e| bad(e.to_string()))
}

fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
}
