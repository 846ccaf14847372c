//! Revocation propagation: this process embeds tessera-guard (near-cache on, subscribed to
//! the revocation notices). Per sample: sign in, let the guard accept the token twice (the
//! second time from its near-cache), `POST /v1/auth/logout` on the server, and from the
//! moment that call returns, ask the guard again and again until it refuses.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use tessera_core::time::Timestamp;
use tessera_guard::{Guard, GuardConfig, GuardError, KeySource};
use tessera_store::redis::RedisConfig;

use crate::http::Conn;
use crate::load::histogram;
use crate::setup::{Session, login};

pub(crate) async fn run(
    addr: &str,
    redis: &str,
    issuer: &str,
    audience: &str,
    users: &[Session],
    samples: usize,
) -> anyhow::Result<serde_json::Value> {
    let jwks = format!("http://{addr}/.well-known/jwks.json");
    let guard = Guard::connect(GuardConfig::new(
        issuer,
        audience,
        KeySource::jwks(jwks),
        RedisConfig::standalone(redis),
    ))
    .await?;
    let waited = Instant::now();
    while !guard.stats().subscribed {
        if waited.elapsed() > Duration::from_secs(10) {
            bail!("the guard's revocation subscription did not come up");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut conn = Conn::open(addr).await?;
    let mut hist = histogram()?;
    let mut polls_total = 0u64;
    let mut from_cache = 0u64;
    for i in 0..samples {
        let user = &users[i % users.len()];
        let s = login(&mut conn, &user.email).await?;
        guard
            .authenticate(&s.access_token, Timestamp::now())
            .await
            .context("guard refused a fresh token")?;
        let hits = guard.stats().cache_hits;
        guard
            .authenticate(&s.access_token, Timestamp::now())
            .await?;
        if guard.stats().cache_hits > hits {
            from_cache += 1;
        }
        let (st, body) = conn
            .post_json("/v1/auth/logout", Some(&s.access_token), &json!({}))
            .await?;
        if !st.is_success() {
            bail!("logout: {st} {body}");
        }
        let t0 = Instant::now();
        let mut polls = 0u64;
        loop {
            polls += 1;
            match guard.authenticate(&s.access_token, Timestamp::now()).await {
                Err(GuardError::Revoked) => break,
                Err(e) => bail!("unexpected guard error: {e}"),
                Ok(_) if t0.elapsed() > Duration::from_secs(5) => {
                    bail!("the guard still accepts a logged-out token after 5 s")
                }
                Ok(_) => tokio::task::yield_now().await,
            }
        }
        hist.saturating_record((t0.elapsed().as_micros() as u64).max(1));
        polls_total += polls;
    }
    Ok(json!({
        "kind": "propagation", "samples": samples,
        "near_cache_warm": from_cache,
        "p50_us": hist.value_at_quantile(0.50),
        "p99_us": hist.value_at_quantile(0.99),
        "max_us": hist.max(),
        "mean_polls": polls_total as f64 / samples as f64,
    }))
}
