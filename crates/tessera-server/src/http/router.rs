//! Routes and layers.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use super::error::problem;
use super::forwarded::{self, ClientAddr};
use super::routes::{
    admin, auth, federation, health, jwks, me, metadata, mfa, oauth2, passkeys, password,
    prometheus, sessions,
};
use super::track::track;
use crate::app::AppState;

/// The whole API. Layers: body limit (413), panic → 500 problem, metrics (request count and
/// duration by matched route template: [`track`]), request tracing (a span with
/// method, matched route and client address; status and latency at debug level) — never
/// headers, query strings or bodies — and, outermost, the client address
/// ([`forwarded::resolve`], so the span and every extractor see the same one).
pub fn router(state: AppState) -> Router {
    let body_limit = state.max_body_bytes;
    let metrics = state.metrics.clone();
    let trusted = Arc::new(state.settings.trusted_proxies.clone());
    Router::new()
        .route("/v1/auth/register", post(auth::register))
        .route("/v1/auth/login", post(auth::login))
        .route("/v1/auth/refresh", post(auth::refresh))
        .route("/v1/auth/logout", post(auth::logout))
        .route("/v1/auth/logout-all", post(auth::logout_all))
        .route("/v1/me", get(me::me))
        .route("/v1/sessions", get(sessions::list))
        .route("/v1/sessions/{id}", delete(sessions::end))
        .route("/v1/tokens/{jti}", delete(sessions::revoke_token))
        .route("/v1/devices/trusted", get(mfa::trusted_devices))
        .route(
            "/v1/devices/trusted/{id}",
            delete(mfa::remove_trusted_device),
        )
        .route("/v1/auth/mfa", post(mfa::complete))
        .route("/v1/mfa/totp", post(mfa::enrol).delete(mfa::disable))
        .route("/v1/mfa/totp/confirm", post(mfa::confirm))
        .route("/v1/security-events", get(sessions::security_events))
        .route("/v1/password/forgot", post(password::forgot))
        .route("/v1/password/reset", post(password::reset))
        .route("/v1/password/change", post(password::change))
        .route("/v1/admin/stats", get(admin::stats))
        .route("/v1/admin/users/{id}/sessions", get(admin::user_sessions))
        .route(
            "/v1/admin/users/{id}/revoke-sessions",
            post(admin::revoke_sessions),
        )
        .route(
            "/v1/admin/users/{id}/ban",
            post(admin::ban).delete(admin::unban),
        )
        .route("/v1/admin/users/{id}/mfa", delete(admin::reset_mfa))
        .route("/.well-known/jwks.json", get(jwks::jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::authorization_server),
        )
        .route(
            "/v1/passkeys/register/options",
            post(passkeys::register_options),
        )
        .route("/v1/passkeys/register", post(passkeys::register))
        .route("/v1/passkeys", get(passkeys::list))
        .route("/v1/passkeys/{id}", delete(passkeys::remove))
        .route("/v1/auth/passkey/options", post(passkeys::sign_in_options))
        .route("/v1/auth/passkey", post(passkeys::sign_in))
        .route(
            "/v1/admin/users/{id}/passkeys",
            delete(passkeys::admin_remove_all),
        )
        .route("/v1/oauth/providers", get(federation::providers))
        .route("/v1/oauth/exchange", post(federation::exchange))
        .route("/v1/oauth/{provider}/authorize", get(federation::authorize))
        .route("/v1/oauth/{provider}/callback", get(federation::callback))
        .route("/v1/oauth/{provider}/link", post(federation::link))
        .route("/v1/identities", get(federation::identities))
        .route("/v1/identities/{provider}", delete(federation::unlink))
        .route(
            "/v1/admin/users/{id}/identities",
            get(admin::user_identities),
        )
        .route("/oauth2/introspect", post(oauth2::introspect))
        .route("/oauth2/revoke", post(oauth2::revoke))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(prometheus::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(|_| {
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "an internal error occurred".into(),
            )
        }))
        .layer(axum::middleware::from_fn_with_state(metrics, track))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", MatchedPath::as_str);
            let client = ClientAddr::of(req.extensions()).map(tracing::field::display);
            tracing::info_span!("http", method = %req.method(), route, client)
        }))
        .layer(axum::middleware::from_fn_with_state(
            trusted,
            forwarded::resolve,
        ))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
}

async fn not_found() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint".into(),
    )
}

async fn method_not_allowed() -> Response {
    problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this endpoint".into(),
    )
    .into_response()
}
