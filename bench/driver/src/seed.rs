//! Many sessions for the refresh benchmark at a realistic cadence, written straight into the
//! server's Redis through `RedisStore::create_session` (what sign-in runs after the password
//! check), because signing in through the API is Argon2-bound (~22/s here) and a realistic
//! refresh benchmark needs tens of thousands of sessions: a real client refreshes a session
//! once per access-token lifetime, so it never holds more than one or two live grants, while
//! 512 sessions chained in a closed loop are each refreshed ~10 times a second and sit at the
//! cap of 16 live grants (every rotation then revokes one). The users are real accounts (the
//! `--from` file of `setup`), the refresh tokens are genuine (`RefreshToken::generate` with
//! the server's refresh key, read from its database with the generated master key in
//! `--data-dir`, as sign-in makes them),
//! and the rotation itself goes through the HTTP API like any other. With `--durable` each
//! session's durable copy is written too (`Rows::open` into the server's SQLite file, what
//! `MirroredStore::create_session` writes at sign-in), so a server with
//! `TESSERA_DURABLE_SESSIONS=on` rotates sessions that have their row, as real ones do.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::SecretString;
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::RefreshToken;
use tessera_core::time::Timestamp;
use tessera_server::accounts::Database;
use tessera_server::durable::rows::{Rows, SessionRow};
use tessera_server::keys::{KeyVault, MasterKey};
use tessera_store::redis::{RedisConfig, RedisStore};
use tessera_store::{AccessGrant, NewSession, SessionLimits, SessionStore, StoredHash};

use crate::setup::{self, Session};

/// The server's defaults (`TESSERA_SESSION_IDLE_TIMEOUT`, `TESSERA_REFRESH_TOKEN_TTL`,
/// `TESSERA_ACCESS_TOKEN_TTL`).
const IDLE: Duration = Duration::from_secs(7 * 86_400);
const LIFETIME: Duration = Duration::from_secs(30 * 86_400);
const ACCESS: Duration = Duration::from_secs(15 * 60);

pub(crate) async fn run(
    redis: &str,
    from: &Path,
    per_user: usize,
    data_dir: &Path,
    durable: bool,
    out: &Path,
) -> anyhow::Result<()> {
    // The server's default database (`DATABASE_URL` unset: its SQLite file) and its
    // generated master key (`TESSERA_MASTER_KEY` unset), which seals the keys stored there.
    let url = format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("tessera.db").display()
    );
    let db = Database::connect(&SecretString::from(url)).await?;
    let master = MasterKey::read_generated(data_dir)?
        .with_context(|| format!("no generated master key in {}", data_dir.display()))?;
    let key = Arc::new(
        KeyVault::new(db.clone(), master, "the generated master key")
            .load()
            .await?
            .context("no keys in the server's database")?
            .refresh,
    );
    let store = Arc::new(RedisStore::connect(RedisConfig::standalone(redis)).await?);
    let rows = durable.then(|| Arc::new(Rows::new(db)));
    let accounts = setup::load(from)?;
    let mut seen = BTreeSet::new();
    let users: Vec<(UserId, Session)> = accounts
        .into_iter()
        .filter_map(|s| {
            let user = RefreshToken::route(&s.refresh_token).ok()?.0;
            seen.insert(user).then_some((user, s))
        })
        .collect();
    anyhow::ensure!(!users.is_empty(), "no users in {}", from.display());
    let attributes = crate::device_attributes();
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (user, account) in users {
        let store = store.clone();
        let attributes = attributes.clone();
        let key = key.clone();
        let rows = rows.clone();
        tasks.spawn(async move {
            let mut made = Vec::with_capacity(per_user);
            for _ in 0..per_user {
                let now = Timestamp::now();
                let session = SessionId::new();
                let token = RefreshToken::generate(user, session, &key);
                let created = store
                    .create_session(
                        NewSession {
                            user,
                            session,
                            refresh: token.hash(),
                            access: AccessGrant {
                                jti: Jti::new(),
                                expires_at: now.plus(ACCESS),
                            },
                            token_version: 0,
                            limits: SessionLimits {
                                idle_timeout: IDLE,
                                absolute_expiry: now.plus(LIFETIME),
                            },
                            max_sessions: None,
                            attributes: attributes.clone(),
                            binding: None,
                        },
                        now,
                    )
                    .await
                    .context("create_session")?;
                if let Some(rows) = &rows {
                    let row = SessionRow {
                        user,
                        session,
                        created_at: now,
                        idle: IDLE,
                        absolute_expiry: now.plus(LIFETIME),
                        opened_under: created.token_version,
                        current: StoredHash::of(&token.hash()),
                        attributes: attributes.clone(),
                        binding: None,
                    };
                    rows.open(&row, &created.evicted)
                        .await
                        .context("durable row")?;
                }
                made.push(Session {
                    email: account.email.clone(),
                    password: account.password.clone(),
                    access_token: String::new(),
                    refresh_token: token.encode(),
                });
            }
            anyhow::Ok(made)
        });
    }
    let mut all = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r??);
    }
    setup::save(out, &all)?;
    eprintln!(
        "seed: {} sessions of {} users in {:.1} s",
        all.len(),
        seen.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
