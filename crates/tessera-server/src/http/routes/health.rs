//! `GET /healthz`, `GET /readyz`.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::app::AppState;

/// Alive while the process serves HTTP.
#[utoipa::path(
    get, path = "/healthz", tag = "operations",
    responses(
        (status = 200, description = "The process is alive: `{\"status\":\"ok\"}`", body = Object),
    ),
)]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Ready when both the state store and the database answer within 2 s; 503 otherwise.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready: `{status: \"ready\", state_store: {backend, status}, database: {backend, status}}`", body = Object),
        (status = 503, description = "A dependency is down: the same body with `status: \"unavailable\"`", body = Object),
    ),
)]
pub async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<Value>) {
    let store = &app.store;
    let (s, d) = tokio::join!(
        tokio::time::timeout(PROBE_TIMEOUT, store.ping()),
        tokio::time::timeout(PROBE_TIMEOUT, app.db.ping()),
    );
    let store_up = matches!(s, Ok(Ok(())));
    let db_up = matches!(d, Ok(Ok(())));
    let up = |ok: bool| if ok { "up" } else { "down" };
    let ready = store_up && db_up;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ready { "ready" } else { "unavailable" },
            "state_store": {"backend": store.backend(), "status": up(store_up)},
            "database": {"backend": app.db.engine().as_str(), "status": up(db_up)},
        })),
    )
}
