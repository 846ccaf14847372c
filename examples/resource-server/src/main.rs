//! A resource server protected by `tessera-guard`: every route under the guard layer needs a
//! live Tessera access token; `/healthz` and `/hello` do not (`/hello` is the benchmarks'
//! baseline: the same binary answering without the guard, `bench/README.md`).
//!
//! Settings (environment):
//! - `REDIS_URL` — the Redis `tessera serve` uses (required: the guard checks revocation
//!   there). `REDIS_KEY_PREFIX` if the server uses another prefix than `ts:`.
//! - `TESSERA_URL` — the server's base URL, default `http://127.0.0.1:8080`; the issuer and
//!   `<url>/.well-known/jwks.json` derive from it.
//! - `TESSERA_AUDIENCE` — default `tessera`.
//! - `LISTEN` — default `127.0.0.1:3000`.
// A program of its own: an edge that reads the clock.
#![allow(clippy::disallowed_methods)]

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tessera_guard::{AccessClaims, Authenticated, Guard, GuardConfig, KeySource};
use tessera_store::redis::RedisConfig;

/// The allocator `tessera serve` uses, so that the guard and the server are compared on
/// equal terms (`bench/RESULTS.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Who is calling: the verified claims of a live token.
async fn whoami(Authenticated(c): Authenticated<AccessClaims>) -> Json<Value> {
    Json(json!({ "user": c.sub, "session": c.sid, "amr": c.amr, "expires_at": c.exp }))
}

/// The application: `/api/*` behind the guard, `/healthz` and `/hello` open.
fn app(guard: &Guard) -> Router {
    let api = Router::new()
        .route("/api/whoami", get(whoami))
        .route("/api/orders", get(|| async { Json(json!([])) }))
        .layer(guard.layer());
    let health = guard.clone();
    Router::new()
        .merge(api)
        .route(
            "/healthz",
            get(move || async move {
                let s = health.stats();
                Json(json!({ "revocation_subscription": s.subscribed, "cached_tokens": s.cached }))
            }),
        )
        .route("/hello", get(|| async { "hello" }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(env_or(
            "RUST_LOG", "info",
        )))
        .init();
    // One TLS provider for reqwest and redis (rediss://).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

    let tessera = env_or("TESSERA_URL", "http://127.0.0.1:8080");
    let mut redis = RedisConfig::standalone(std::env::var("REDIS_URL")?);
    redis.key_prefix = env_or("REDIS_KEY_PREFIX", RedisConfig::DEFAULT_KEY_PREFIX);
    let config = GuardConfig::new(
        tessera.clone(),
        env_or("TESSERA_AUDIENCE", "tessera"),
        KeySource::jwks(format!("{tessera}/.well-known/jwks.json")),
        redis,
    );
    let guard = Guard::connect(config).await?;

    let listen = env_or("LISTEN", "127.0.0.1:3000");
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    tracing::info!(%listen, "resource server listening");
    axum::serve(listener, app(&guard)).await?;
    Ok(())
}
