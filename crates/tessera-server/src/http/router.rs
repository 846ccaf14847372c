//! Routes and layers.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::problem;
use super::forwarded::{self, ClientAddr};
use super::openapi;
use super::plain_errors;
use super::routes::{
    admin, auth, federation, health, jwks, me, metadata, mfa, oauth2, passkeys, password,
    prometheus, sessions,
};
use super::track::track;
use crate::app::AppState;

/// The longest a request body may go without sending anything: a client that stalls its
/// body is answered 400 instead of holding the request open (headers have their own
/// timeout: `header_read_timeout`).
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The whole API. Layers: every error answer a problem ([`plain_errors`]: axum's own
/// `text/plain` rejections), body limit (413), body read timeout ([`BODY_READ_TIMEOUT`]),
/// panic → 500 problem, metrics (request count and
/// duration by matched route template: [`track`]), request tracing (a span with
/// method, matched route and client address; status and latency at debug level) — never
/// headers, query strings or bodies — and, outermost, the client address
/// ([`forwarded::resolve`], so the span and every extractor see the same one).
pub fn router(state: AppState) -> Router {
    let body_limit = state.max_body_bytes;
    let metrics = state.metrics.clone();
    let trusted = Arc::new(state.settings.trusted_proxies.clone());
    let (routes, _) = described_routes().split_for_parts();
    // Serialised now, not by the first request for it.
    openapi::prepare_document();
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::map_response(plain_errors::as_problem))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyTimeoutLayer::new(BODY_READ_TIMEOUT))
        .layer(CatchPanicLayer::custom(|_| {
            // Not the payload: a panic message may quote the data it failed on.
            tracing::error!("a request handler panicked; answered 500");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "an internal error occurred".into(),
            )
        }))
        .layer(axum::middleware::from_fn_with_state(metrics, track))
        .layer(
            TraceLayer::new_for_http()
                // A 5xx is logged once, with its cause, where it is made (`http::error`).
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG))
                .make_span_with(|req: &Request| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str);
                    let client = ClientAddr::of(req.extensions()).map(tracing::field::display);
                    tracing::info_span!("http", method = %req.method(), route, client)
                }),
        )
        .layer(axum::middleware::from_fn_with_state(
            trusted,
            forwarded::resolve,
        ))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
}

/// Every route, each with its description: the router and the OpenAPI document are made from
/// this one list, so neither can have a route the other lacks.
fn described_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::logout_all))
        .routes(routes!(me::me))
        .routes(routes!(sessions::list))
        .routes(routes!(sessions::end))
        .routes(routes!(sessions::revoke_token))
        .routes(routes!(sessions::security_events))
        .routes(routes!(mfa::trusted_devices))
        .routes(routes!(mfa::remove_trusted_device))
        .routes(routes!(mfa::complete))
        .routes(routes!(mfa::enrol, mfa::disable))
        .routes(routes!(mfa::confirm))
        .routes(routes!(password::forgot))
        .routes(routes!(password::reset))
        .routes(routes!(password::change))
        .routes(routes!(passkeys::register_options))
        .routes(routes!(passkeys::register))
        .routes(routes!(passkeys::list))
        .routes(routes!(passkeys::remove))
        .routes(routes!(passkeys::sign_in_options))
        .routes(routes!(passkeys::sign_in))
        .routes(routes!(federation::providers))
        .routes(routes!(federation::exchange))
        .routes(routes!(federation::authorize))
        .routes(routes!(federation::callback))
        .routes(routes!(federation::link))
        .routes(routes!(federation::identities))
        .routes(routes!(federation::unlink))
        .routes(routes!(admin::stats))
        .routes(routes!(admin::user_sessions))
        .routes(routes!(admin::revoke_sessions))
        .routes(routes!(admin::ban, admin::unban))
        .routes(routes!(admin::reset_mfa))
        .routes(routes!(admin::user_identities))
        .routes(routes!(passkeys::admin_remove_all))
        .routes(routes!(jwks::jwks))
        .routes(routes!(metadata::authorization_server))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(oauth2::introspect))
                .routes(routes!(oauth2::revoke))
                .layer(axum::middleware::map_response(oauth2::oauth_error_member)),
        )
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(prometheus::metrics))
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(openapi::docs::page))
        .routes(routes!(openapi::docs::asset))
}

/// The OpenAPI document of this server, as `GET /openapi.json` serves it.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    finish(described_routes().into_openapi())
}

/// What the document gets once every path is in: the problem every operation may answer.
fn finish(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    openapi::problems::CommonProblems.modify(&mut api);
    api
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
