//! `GET /metrics`: the Prometheus text format.
//!
//! Unauthenticated, like `/healthz`: it holds counts only (no user id, email or token in any
//! label), and operators restrict it at the network level (or behind their proxy).

use std::fmt::Write as _;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tessera_core::time::Timestamp;
use tessera_store::StoreStats;

use crate::app::AppState;

/// `Content-Type` of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long a scrape waits for the state store's statistics. Past it the store counts as
/// down for this scrape, so the endpoint answers quickly whatever the store does.
pub const STATS_TIMEOUT: Duration = Duration::from_secs(1);

/// Everything the recorder holds, then the state store's health and statistics read now:
/// `tessera_state_store_up` 1 with `tessera_sessions_active`,
/// `tessera_access_tokens_active` and `tessera_revoked_tokens` (the `/v1/admin/stats`
/// figures), or `tessera_state_store_up 0` and no statistics when the store failed or did not
/// answer within [`STATS_TIMEOUT`]. Always 200.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
    ),
)]
pub async fn metrics(State(app): State<AppState>) -> Response {
    let stats = tokio::time::timeout(STATS_TIMEOUT, app.store.stats(Timestamp::now())).await;
    let stats = match stats {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::debug!(error = %e.chain(), "metrics: state store statistics unavailable");
            None
        }
        Err(_) => {
            tracing::debug!("metrics: state store statistics timed out");
            None
        }
    };
    let mut body = app.metrics.render();
    append_store(&mut body, stats.as_ref());
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    res
}

fn append_store(out: &mut String, stats: Option<&StoreStats>) {
    let mut gauge = |name: &str, help: &str, value: u64| {
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n\n"
        );
    };
    gauge(
        "tessera_state_store_up",
        "1 when the state store answered this scrape's statistics read, else 0.",
        u64::from(stats.is_some()),
    );
    if let Some(s) = stats {
        gauge(
            "tessera_sessions_active",
            "Live sessions (state store counter).",
            s.sessions_active,
        );
        gauge(
            "tessera_access_tokens_active",
            "Unexpired access tokens registered with live sessions.",
            s.access_tokens_active,
        );
        gauge(
            "tessera_revoked_tokens",
            "Access tokens revoked so far (monotonic).",
            s.revoked_tokens,
        );
    }
}
