//! The metrics layer: counts every request and times it, by method and matched route.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics::SharedString;

use super::error::StateStoreUnavailable;
use crate::app_metrics::Metrics;

/// Records `tessera_http_requests_total{method,route,status}` and
/// `tessera_http_request_duration_seconds{method,route}` (time to the response head), and
/// counts answers marked [`StateStoreUnavailable`]. `route` is the route template
/// (`/v1/sessions/{id}`, never the path with the id), `unmatched` for the fallback; an
/// unusual method is `other`. So every label comes from a closed set.
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(SharedString::const_str("unmatched"), |p| {
            SharedString::from(p.as_str().to_owned())
        });
    let res = next.run(req).await;
    if res.extensions().get::<StateStoreUnavailable>().is_some() {
        metrics.state_store_unavailable();
    }
    metrics.http_request(
        method,
        route,
        res.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    res
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
