//! `GET /docs`: a page rendering `/openapi.json` with Swagger UI, whose files are compiled
//! into the binary (`utoipa-swagger-ui`'s `vendored` feature: no CDN, no download at build
//! time), served under `/docs/` with a policy that lets the page load nothing from elsewhere.

use std::sync::{Arc, LazyLock};

use axum::extract::Path;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_swagger_ui::Config;

use crate::http::error::problem;

/// The files the page loads, all under `/docs/`; nothing else of the bundle is served.
const ASSETS: [&str; 7] = [
    "swagger-ui.css",
    "index.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "swagger-initializer.js",
    "favicon-32x32.png",
    "favicon-16x16.png",
];

const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Tessera API</title>
    <link rel="stylesheet" type="text/css" href="/docs/swagger-ui.css">
    <link rel="stylesheet" type="text/css" href="/docs/index.css">
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
    <link rel="icon" type="image/png" href="/docs/favicon-16x16.png" sizes="16x16">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="/docs/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="/docs/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
"#;

/// Scripts, styles and images from this server only; requests ("Try it out") to it only.
/// Swagger UI sets inline styles, hence `'unsafe-inline'` for styles (never for scripts).
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                      img-src 'self' data:; connect-src 'self'; font-src 'self'; \
                      base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

static CONFIG: LazyLock<Arc<Config<'static>>> =
    LazyLock::new(|| Arc::new(Config::new(["/openapi.json"]).display_request_duration(true)));

/// `GET /docs`.
#[utoipa::path(
    get, path = "/docs", operation_id = "docs_page", tag = "operations",
    responses((status = 200, description = "The API reference page", content_type = "text/html", body = String)),
)]
pub async fn page() -> Response {
    with_policy((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        PAGE,
    ))
}

/// `GET /docs/{file}`: a file of the page.
#[utoipa::path(
    get, path = "/docs/{file}", operation_id = "docs_asset", tag = "operations",
    params(("file" = String, Path, description = "A file of the page, e.g. `swagger-ui.css`")),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/css"),
            (String = "text/javascript"),
            (Vec<u8> = "image/png"),
        )),
        (status = 404, description = "`not_found`", content_type = "application/problem+json", body = super::Problem),
    ),
)]
pub async fn asset(Path(file): Path<String>) -> Response {
    let not_found = || problem(StatusCode::NOT_FOUND, "not_found", "no such file".into());
    if !ASSETS.contains(&file.as_str()) {
        return not_found();
    }
    match utoipa_swagger_ui::serve(&file, CONFIG.clone()) {
        Ok(Some(f)) => {
            let mut res = with_policy(f.bytes.into_owned());
            let headers = res.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&f.content_type) {
                headers.insert(header::CONTENT_TYPE, v);
            }
            if f.gzpipped {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            res
        }
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(error = %e, file, "a file of the API page could not be served");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "an internal error occurred".into(),
            )
        }
    }
}

fn with_policy(body: impl IntoResponse) -> Response {
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    res
}
