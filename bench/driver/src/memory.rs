//! Redis memory per live session: `INFO memory` `used_memory` before and after creating
//! `n` sessions through `RedisStore::create_session` (realistic device attributes, as the
//! server writes them) and rotating each once (so the refresh family has its current,
//! previous and seed fields, and a second access grant is registered: the first one is
//! still live too). Divides the growth by `n`. Also reports `MEMORY USAGE` and the encoding
//! of one user's keys.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use redis::AsyncCommands;
use serde_json::json;
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::{RefreshKey, RefreshToken, SuccessorSeed, TokenHash};
use tessera_core::time::Timestamp;
use tessera_store::redis::{RedisConfig, RedisStore, UserKeys};
use tessera_store::{
    AccessGrant, NewSession, Rotation, RotationOutcome, SessionLimits, SessionStore,
};

const IDLE: Duration = Duration::from_secs(7 * 86_400);
const ACCESS: Duration = Duration::from_secs(15 * 60 + 30);

async fn used_memory(con: &mut redis::aio::MultiplexedConnection) -> anyhow::Result<u64> {
    let info: String = redis::cmd("INFO").arg("memory").query_async(con).await?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .context("no used_memory in INFO")
}

async fn one_session(
    store: &RedisStore,
    user: UserId,
    attributes: String,
    now: Timestamp,
) -> anyhow::Result<(SessionId, Jti)> {
    let session = SessionId::new();
    // Only hashes reach the store here, so any key does.
    let key = RefreshKey::generate();
    let first = RefreshToken::generate(user, session, &key);
    let jti = Jti::new();
    store
        .create_session(
            NewSession {
                user,
                session,
                refresh: first.hash(),
                access: AccessGrant {
                    jti,
                    expires_at: now.plus(ACCESS),
                },
                token_version: 0,
                limits: SessionLimits {
                    idle_timeout: IDLE,
                    absolute_expiry: now.plus(Duration::from_secs(30 * 86_400)),
                },
                max_sessions: None,
                attributes,
                binding: None,
            },
            now,
        )
        .await?;
    let seed = SuccessorSeed::random();
    let next = first.successor(&key, &seed);
    let successor: TokenHash = next.hash();
    let jti2 = Jti::new();
    let out = store
        .rotate_refresh(
            Rotation {
                user,
                session,
                presented: first.hash(),
                generation: first.generation(),
                successor,
                successor_generation: first.successor_generation(),
                seed,
                access: AccessGrant {
                    jti: jti2,
                    expires_at: now.plus(ACCESS),
                },
                grace: Duration::from_secs(10),
                idle_timeout: IDLE,
                binding: None,
            },
            now,
        )
        .await?;
    if !matches!(out, RotationOutcome::Rotated { .. }) {
        bail!("rotation did not rotate: {out:?}");
    }
    Ok((session, jti2))
}

pub(crate) async fn run(
    url: &str,
    n: usize,
    per_user: usize,
    parallel: usize,
) -> anyhow::Result<serde_json::Value> {
    let store = Arc::new(RedisStore::connect(RedisConfig::standalone(url)).await?);
    let client = redis::Client::open(url)?;
    let mut con = client.get_multiplexed_async_connection().await?;
    let attributes = crate::device_attributes();
    // One session first, so the scripts are loaded and the stats hash exists.
    let now = Timestamp::now();
    one_session(&store, UserId::new(), attributes.clone(), now).await?;
    let keys_before: u64 = redis::cmd("DBSIZE").query_async(&mut con).await?;
    let before = used_memory(&mut con).await?;
    let users = n.div_ceil(per_user.max(1));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..parallel {
        let store = store.clone();
        let attributes = attributes.clone();
        tasks.spawn(async move {
            let mut sample = None;
            for u in (w..users).step_by(parallel) {
                let user = UserId::new();
                for _ in 0..per_user {
                    let (sid, _) =
                        one_session(&store, user, attributes.clone(), Timestamp::now()).await?;
                    sample.get_or_insert((user, sid));
                }
                let _ = u;
            }
            anyhow::Ok(sample)
        });
    }
    let mut sample = None;
    while let Some(r) = tasks.join_next().await {
        if let Some(s) = r?? {
            sample.get_or_insert(s);
        }
    }
    let after = used_memory(&mut con).await?;
    let keys_after: u64 = redis::cmd("DBSIZE").query_async(&mut con).await?;
    let created = users * per_user;
    let (user, sid) = sample.context("no session created")?;
    let user_keys = UserKeys::new(store.key_prefix(), user);
    let mut keys = serde_json::Map::new();
    for (name, key) in [
        ("session", user_keys.session(sid)),
        ("index", user_keys.index()),
        ("version", user_keys.version()),
    ] {
        let usage: Option<u64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(&key)
            .arg("SAMPLES")
            .arg(0)
            .query_async(&mut con)
            .await?;
        let enc: Option<String> = redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(&key)
            .query_async(&mut con)
            .await
            .ok();
        let ty: String = con.key_type(&key).await?;
        keys.insert(
            name.into(),
            json!({"key_len": key.len(), "type": ty, "encoding": enc, "memory_usage": usage}),
        );
    }
    Ok(json!({
        "kind": "memory", "sessions": created, "per_user": per_user,
        "attributes_len": attributes.len(), "attributes": attributes,
        "keys_added": keys_after - keys_before,
        "used_memory_delta": after as i64 - before as i64,
        "bytes_per_session": (after as f64 - before as f64) / created as f64,
        "sample_keys": keys,
    }))
}
